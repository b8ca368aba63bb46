//! Reading single rows out of Parquet data files with small ranged reads, I/O-free.
//!
//! The serve worker finds one artifact row in the data files of an Iceberg table. Everything here
//! takes byte ranges in and gives decisions out; the caller fetches the ranges (from R2):
//!
//! 1. [`footer_range`] names the suffix to read first ([`FOOTER_GUESS`] bytes);
//!    [`parse_footer`] either returns the [`Footer`] or says, through [`FooterNeeds::More`], which
//!    bytes before that suffix are missing.
//! 2. [`Footer::column_by_field_id`] (Iceberg writes field ids into the Parquet schema) or
//!    [`Footer::column_by_name`] finds the column; [`prune_row_groups`] keeps the row groups whose
//!    statistics may contain a value.
//! 3. [`chunk_range`] gives a column chunk's bytes (dictionary page included) and
//!    [`merge_ranges`] coalesces nearby ranges into fewer reads; [`slice_within`] cuts a chunk
//!    back out of a merged read.
//! 4. [`decode_column_chunk`] decodes a chunk into [`ColumnValues`] (one `Option` per row).
//!
//! Thrift structures (the footer's `FileMetaData`, each `PageHeader`) are read with the
//! `parquet-format-safe` types, which bound what they allocate; every length read from the file is
//! checked against the bytes at hand and a configurable limit ([`DecodeLimits`],
//! [`DEFAULT_MAX_FOOTER_BYTES`]) before anything is allocated for it. Codecs are pure Rust, so
//! this builds for wasm32 without a C compiler: snappy (`snap`), gzip ([`crate::gzip`]), LZ4 raw
//! and Hadoop-framed LZ4 (`lz4_flex`), zstd (`ruzstd`). Brotli and LZO are
//! [`ParquetError::Unsupported`].
//!
//! Supported column shapes: leaves of physical type BYTE_ARRAY, INT64, INT32 and BOOLEAN at any
//! definition depth, and lists of BYTE_ARRAY with one repetition level (the record's `inputs`,
//! [`ColumnValues::ByteArrayList`]), in data pages v1 and v2, encoded PLAIN,
//! PLAIN_DICTIONARY / RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED (integers),
//! DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (byte arrays; arrow-rs's v2 fallbacks). Other
//! physical types, nested lists and other encodings are [`ParquetError::Unsupported`] with a
//! message naming what is missing.

mod codec;
mod decode;
mod error;
mod footer;
mod levels;
mod page_index;
mod plan;

#[cfg(test)]
mod tests;
// The writer crate's Parquet writer, checked against this reader.
#[cfg(test)]
mod write_tests;

pub use decode::{decode_column_chunk, ColumnValues, DecodeLimits, DEFAULT_MAX_PAGE_BYTES, DEFAULT_MAX_VALUES};
pub use error::{FooterNeeds, ParquetError};
pub use footer::{
    footer_range, parse_footer, parse_footer_with_limit, Codec, ColumnChunkInfo, Footer, LeafColumn, PhysicalType, RowGroupInfo,
    Statistics, DEFAULT_MAX_FOOTER_BYTES, FOOTER_GUESS,
};
pub use page_index::{
    decode_page_run, dictionary_range, page_rows, page_runs, pages_for_rows, pages_may_contain, parse_column_index, parse_offset_index,
    run_uses_dictionary, PageBounds, PageLocation, PageRun,
};
pub use plan::{chunk_range, merge_ranges, prune_row_groups, slice_within};
