//! Writes Iceberg v2 tables: the stand-in's commits, the benchmark tables, the fuzz seeds and the
//! tests' tables — and the compactor's, next. Never part of a production worker: `shared` reads
//! what this writes, and the read path (serve, ingest) carries no writer code.
//!
//! - [`parquet`]: [`write_parquet`] — whole columns in, a Parquet file (page index, field ids,
//!   snappy / gzip / zstd) and the Iceberg metrics of its `data_file` out.
//! - [`avro`]: the Avro object container, write side ([`avro::Encoder`], [`avro::write_container`]).
//! - [`manifest`]: [`write_manifest`], [`write_manifest_list`] (v2, snappy) and [`summarize`]
//!   (a manifest's list entry).
//! - [`table`]: [`new_record_table`], the metadata of a new table of the record contract.
//! - [`commit`]: [`append`], one append snapshot over a table's metadata, as the stand-in, the
//!   benchmarks and the tests commit.
//! - [`rewrite`] and [`expire`]: table maintenance as R2 Data Catalog does it — binpack small
//!   files into `compacted-*` files under a `replace` snapshot, expire old snapshots and list the
//!   files only they reached (the stand-in's `/maintain` routes).
//! - [`serving`]: the serving table's data files ([`serving::write_serving_file`]), its new
//!   metadata and its commits (#15).
//!
//! The types are `shared`'s. `shared`'s own tests compile this crate's source in by path (see
//! `shared/src/lib.rs`), so they check reader against writer with one set of types. Hence two
//! rules for this source: the core is always named `shared::…`, and a module reaches another
//! module of this crate through `super::…`, never `crate::…` (which would be `shared` there).

pub mod avro;
pub mod commit;
pub mod expire;
pub mod manifest;
pub mod parquet;
pub mod rewrite;
pub mod serving;
pub mod table;

pub use commit::append;
pub use manifest::{summarize, write_manifest, write_manifest_list};
pub use parquet::{write_parquet, write_parquet_with, ColumnData, WriteCodec, WriteColumn, WriteOptions, WrittenFile};
pub use table::new_record_table;
