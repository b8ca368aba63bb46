//! The Parquet page index (`OffsetIndex` and `ColumnIndex`, written by arrow-rs and therefore by
//! Pipelines): reading single pages instead of whole column chunks.
//!
//! 1. [`parse_offset_index`] gives each data page's file range and first row;
//!    [`parse_column_index`] each page's min/max (and whether it holds only nulls).
//! 2. [`pages_may_contain`] keeps the pages whose bounds may hold a value; [`page_rows`] turns
//!    pages into row ranges; [`pages_for_rows`] picks the pages of another column that cover
//!    those rows.
//! 3. [`page_runs`] groups the picked pages into runs of consecutive pages, each one range to
//!    read, plus the dictionary page's range ([`dictionary_range`]) when the chunk has one.
//! 4. [`decode_page_run`] decodes a run (after the dictionary page) into the values of its rows.
//!
//! Every structure is untrusted: page locations must lie inside the column chunk, start at row
//! 0, and increase; a column index must have one entry per page. A page index that fails these
//! checks is an error the caller answers by reading the chunk whole.

use alloc::vec::Vec;

use parquet_format_safe as pf;
use parquet_format_safe::thrift::protocol::TCompactInputProtocol;

use super::decode::{decode_column_chunk, ColumnValues, DecodeLimits};
use super::error::ParquetError;
use super::footer::{read_page_header, ColumnChunkInfo, Statistics};
use super::plan::may_contain;

/// One data page of a column chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLocation {
    /// File offset of the page (its header).
    pub offset: u64,
    /// Bytes of the page, header included.
    pub length: u64,
    /// Index in the row group of the page's first row.
    pub first_row: u64,
}

/// Bounds of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageBounds {
    /// The page holds only nulls (its bounds are meaningless).
    pub null_page: bool,
    /// Lower bound, PLAIN-encoded like chunk statistics.
    pub min: Vec<u8>,
    /// Upper bound.
    pub max: Vec<u8>,
}

fn read_thrift<T>(bytes: &[u8], read: impl FnOnce(&mut TCompactInputProtocol<&mut &[u8]>) -> Result<T, ()>) -> Result<T, ParquetError> {
    let mut cursor = bytes;
    // Lists are charged 8 bytes an item: the structure cannot hold more than its bytes allow.
    let mut prot = TCompactInputProtocol::new(&mut cursor, bytes.len().saturating_mul(8));
    read(&mut prot).map_err(|()| ParquetError::CorruptPageIndex)
}

/// The pages of `chunk` (a chunk of a row group of `row_group_rows` rows) from its offset index
/// bytes.
pub fn parse_offset_index(bytes: &[u8], chunk: &ColumnChunkInfo, row_group_rows: u64) -> Result<Vec<PageLocation>, ParquetError> {
    let index = read_thrift(bytes, |p| pf::OffsetIndex::read_from_in_protocol(p).map_err(|_| ()))?;
    let (chunk_start, chunk_len) = chunk.range();
    let chunk_end = chunk_start.saturating_add(chunk_len);
    let mut out: Vec<PageLocation> = Vec::with_capacity(index.page_locations.len());
    for loc in index.page_locations {
        let offset = u64::try_from(loc.offset).map_err(|_| ParquetError::CorruptPageIndex)?;
        let length = u64::try_from(loc.compressed_page_size).map_err(|_| ParquetError::CorruptPageIndex)?;
        let first_row = u64::try_from(loc.first_row_index).map_err(|_| ParquetError::CorruptPageIndex)?;
        let end = offset.checked_add(length).ok_or(ParquetError::CorruptPageIndex)?;
        let follows = match out.last() {
            None => first_row == 0,
            Some(prev) => first_row > prev.first_row && offset >= prev.offset.saturating_add(prev.length),
        };
        if length == 0 || offset < chunk_start || end > chunk_end || first_row >= row_group_rows.max(1) || !follows {
            return Err(ParquetError::CorruptPageIndex);
        }
        out.push(PageLocation { offset, length, first_row });
    }
    if out.is_empty() {
        return Err(ParquetError::CorruptPageIndex);
    }
    Ok(out)
}

/// The column index with its first field, `null_pages` (`list<bool>`), declaring its element type
/// as 1. The compact protocol lets writers declare boolean elements as 1 or 2 and readers must
/// take both; arrow-rs writes 2, which the thrift reader we use refuses.
fn bool_list_element_type_as_one(bytes: &[u8]) -> alloc::borrow::Cow<'_, [u8]> {
    // 0x19: field 1 (delta 1), type list. Then the list header: size in the high nibble (or 0xF
    // and a varint), element type in the low nibble.
    match bytes {
        [0x19, header, ..] if header & 0x0F == 2 => {
            let mut patched = bytes.to_vec();
            if let Some(h) = patched.get_mut(1) {
                *h = (*h & 0xF0) | 1;
            }
            alloc::borrow::Cow::Owned(patched)
        }
        _ => alloc::borrow::Cow::Borrowed(bytes),
    }
}

/// Per-page bounds from column index bytes; `pages` is the number of pages of the offset index.
pub fn parse_column_index(bytes: &[u8], pages: usize) -> Result<Vec<PageBounds>, ParquetError> {
    let bytes = bool_list_element_type_as_one(bytes);
    let index = read_thrift(&bytes, |p| pf::ColumnIndex::read_from_in_protocol(p).map_err(|_| ()))?;
    if index.null_pages.len() != pages || index.min_values.len() != pages || index.max_values.len() != pages {
        return Err(ParquetError::CorruptPageIndex);
    }
    Ok(index
        .null_pages
        .into_iter()
        .zip(index.min_values.into_iter().zip(index.max_values))
        .map(|(null_page, (min, max))| PageBounds { null_page, min, max })
        .collect())
}

/// Pages (indices, ascending) whose bounds may hold `value` (PLAIN-encoded, compared as chunk
/// statistics are). Pages with only nulls are dropped.
pub fn pages_may_contain(chunk: &ColumnChunkInfo, bounds: &[PageBounds], value: &[u8]) -> Vec<usize> {
    bounds
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            if b.null_page {
                return false;
            }
            let stats =
                Statistics { min: None, max: None, min_value: Some(b.min.clone()), max_value: Some(b.max.clone()), null_count: None };
            may_contain(chunk.physical_type, &stats, value)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Row range `[start, end)` of page `page`.
pub fn page_rows(pages: &[PageLocation], page: usize, row_group_rows: u64) -> Option<(u64, u64)> {
    let start = pages.get(page)?.first_row;
    let end = pages.get(page.saturating_add(1)).map_or(row_group_rows, |p| p.first_row);
    (start < end).then_some((start, end))
}

/// Pages (indices, ascending) holding any row of `rows` (ranges `[start, end)`).
pub fn pages_for_rows(pages: &[PageLocation], rows: &[(u64, u64)], row_group_rows: u64) -> Vec<usize> {
    (0..pages.len())
        .filter(|&p| page_rows(pages, p, row_group_rows).is_some_and(|(s, e)| rows.iter().any(|&(a, b)| a < e && s < b)))
        .collect()
}

/// A run of consecutive pages: one range to read, decoding to rows `[first_row, end_row)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    /// `(offset, length)` of the pages' bytes.
    pub range: (u64, u64),
    /// First row.
    pub first_row: u64,
    /// One past the last row.
    pub end_row: u64,
}

/// Groups `picked` pages (ascending indices into `pages`) into runs of adjacent pages.
pub fn page_runs(pages: &[PageLocation], picked: &[usize], row_group_rows: u64) -> Vec<PageRun> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &p in picked {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(p) => *last = p,
            _ => runs.push((p, p)),
        }
    }
    runs.into_iter()
        .filter_map(|(a, b)| {
            let (first, last) = (pages.get(a)?, pages.get(b)?);
            let end = last.offset.checked_add(last.length)?;
            let (first_row, _) = page_rows(pages, a, row_group_rows)?;
            let (_, end_row) = page_rows(pages, b, row_group_rows)?;
            Some(PageRun { range: (first.offset, end.checked_sub(first.offset)?), first_row, end_row })
        })
        .collect()
}

/// `(offset, length)` of what precedes the first data page in the chunk (the dictionary page),
/// or `None` when the first data page starts the chunk.
pub fn dictionary_range(chunk: &ColumnChunkInfo, pages: &[PageLocation]) -> Option<(u64, u64)> {
    let first = pages.first()?.offset;
    let start = chunk.start();
    (first > start).then(|| (start, first - start))
}

/// Whether any data page in `run` (the bytes of whole pages) is dictionary-encoded, from the page
/// headers alone: a run of PLAIN pages (what writers fall back to once a dictionary grows too
/// large, typical of large unique values) needs no dictionary page.
pub fn run_uses_dictionary(run: &[u8]) -> Result<bool, ParquetError> {
    let mut rest = run;
    while !rest.is_empty() {
        let (header, used) = read_page_header(rest, rest.len().saturating_mul(8))?;
        let encoding = match (&header.data_page_header, &header.data_page_header_v2) {
            (Some(h), _) => Some(h.encoding),
            (None, Some(h)) => Some(h.encoding),
            (None, None) => None,
        };
        if matches!(encoding, Some(pf::Encoding::PLAIN_DICTIONARY | pf::Encoding::RLE_DICTIONARY)) {
            return Ok(true);
        }
        let size = usize::try_from(header.compressed_page_size).map_err(|_| ParquetError::PageSizeMismatch)?;
        rest = rest.get(used.saturating_add(size)..).ok_or(ParquetError::TruncatedPage)?;
    }
    Ok(false)
}

/// Decodes `run` (the bytes of consecutive data pages of `chunk` covering `rows` rows), after the
/// `dictionary` page's bytes when the chunk has one. Only for columns without repetition, where
/// rows and values coincide.
pub fn decode_page_run(
    dictionary: Option<&[u8]>,
    run: &[u8],
    chunk: &ColumnChunkInfo,
    rows: u64,
    limits: DecodeLimits,
) -> Result<ColumnValues, ParquetError> {
    if chunk.max_rep_level > 0 {
        return Err(ParquetError::Unsupported("page-level reads of repeated columns"));
    }
    let mut meta = chunk.clone();
    meta.num_values = rows;
    match dictionary {
        None => decode_column_chunk(run, &meta, limits),
        Some(dict) => {
            // Both parts were read already (bounded by the chunk's size); each page is checked
            // against `limits` as it is decoded.
            let total = dict.len().saturating_add(run.len());
            let mut bytes = Vec::with_capacity(total);
            bytes.extend_from_slice(dict);
            bytes.extend_from_slice(run);
            decode_column_chunk(&bytes, &meta, limits)
        }
    }
}
