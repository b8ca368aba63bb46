//! Reading rows of a row group page by page through the Parquet page index, when the file has one
//! (arrow-rs, so Pipelines, writes it) and the column chunks are large enough for it to pay: the
//! `id` column index names the pages that may hold the id, the offset indexes where the pages of
//! every wanted column for those rows lie, and only those pages (and dictionary pages) are read.
//!
//! The page index structures usually sit just before the footer, inside the suffix already read
//! for it ([`FooterRead::tail`]); otherwise they cost one merged read. A page index that does not
//! fit its chunk is ignored and the chunk is read whole.

use alloc::vec;
use alloc::vec::Vec;

use super::{corrupt, fetch_merged, Cost, LocateError, ObjectStore};
use crate::parquet::{self, ColumnValues, DecodeLimits, Footer, PageRun};

/// Column chunks (together, for one row group) smaller than this are read whole: one request
/// beats several page reads.
pub const PAGE_READS_FROM_BYTES: u64 = 1024 * 1024;

/// Ranges at most this far apart are read as one ([`fetch_merged`]).
pub(crate) const MERGE_GAP: u64 = 64 * 1024;

/// Largest dictionary page read along with the pages before it is known to be used (a fallen-back
/// chunk's dictionary is not, and may be large).
const RIDE_ALONG_BYTES: u64 = 64 * 1024;

/// A parsed footer and the suffix of the file it was parsed from.
pub struct FooterRead {
    /// The footer.
    pub footer: Footer,
    /// File offset of `tail`.
    pub tail_start: u64,
    /// The bytes read for the footer (the page index is often among them).
    pub tail: Vec<u8>,
}

/// Whether to read `cols` of row group `rg` page by page: they are large together and every one
/// has an offset index and no repetition.
pub fn worth_it(footer: &Footer, rg: usize, cols: &[Option<usize>]) -> bool {
    let chunks: Vec<_> = cols.iter().flatten().filter_map(|c| footer.chunk(rg, *c)).collect();
    let total = chunks.iter().fold(0u64, |t, c| t.saturating_add(c.total_compressed_size));
    total >= PAGE_READS_FROM_BYTES && chunks.iter().all(|c| c.offset_index.is_some() && c.max_rep_level == 0)
}

/// The bytes of `ranges` (page index structures): from the footer's suffix when inside it, else
/// read (merged).
async fn index_bytes<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    fr: &FooterRead,
    ranges: &[(u64, u64)],
) -> Result<Vec<Vec<u8>>, LocateError> {
    let missing: Vec<(u64, u64)> =
        ranges.iter().copied().filter(|r| parquet::slice_within(fr.tail_start, &fr.tail, *r).is_none()).collect();
    let buffers = fetch_merged(store, cost, key, missing).await?;
    ranges
        .iter()
        .map(|r| {
            parquet::slice_within(fr.tail_start, &fr.tail, *r)
                .or_else(|| buffers.iter().find_map(|(s, b)| parquet::slice_within(*s, b, *r)))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| corrupt(key, "page index outside the bytes read"))
        })
        .collect()
}

/// Row ranges of row group `rg` (ascending, disjoint) whose pages of leaf `col` may hold `value`
/// by the column index; `None` when the chunk has no usable page index.
pub async fn candidate_rows<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    fr: &FooterRead,
    rg: usize,
    col: usize,
    value: &[u8],
) -> Result<Option<Vec<(u64, u64)>>, LocateError> {
    let (Some(chunk), Some(group)) = (fr.footer.chunk(rg, col), fr.footer.row_groups.get(rg)) else { return Ok(None) };
    let (Some(oi), Some(ci)) = (chunk.offset_index, chunk.column_index) else { return Ok(None) };
    let bytes = index_bytes(store, cost, key, fr, &[oi, ci]).await?;
    let [oi, ci] = bytes.as_slice() else { return Ok(None) };
    let Ok(pages) = parquet::parse_offset_index(oi, chunk, group.num_rows) else { return Ok(None) };
    let Ok(bounds) = parquet::parse_column_index(ci, pages.len()) else { return Ok(None) };
    let keep = parquet::pages_may_contain(chunk, &bounds, value);
    Ok(Some(parquet::page_runs(&pages, &keep, group.num_rows).iter().map(|r| (r.first_row, r.end_row)).collect()))
}

/// Rows `[from, to)` of decoded values (`None` when out of range or repeated).
fn rows_of(values: &ColumnValues, from: usize, to: usize) -> Option<ColumnValues> {
    Some(match values {
        ColumnValues::ByteArray(v) => ColumnValues::ByteArray(v.get(from..to)?.to_vec()),
        ColumnValues::Int64(v) => ColumnValues::Int64(v.get(from..to)?.to_vec()),
        ColumnValues::Int32(v) => ColumnValues::Int32(v.get(from..to)?.to_vec()),
        ColumnValues::Boolean(v) => ColumnValues::Boolean(v.get(from..to)?.to_vec()),
        ColumnValues::ByteArrayList(_) => return None,
    })
}

/// What to read of one column: its dictionary page's range, if any, and its runs of pages.
type ColumnPlan = (Option<(u64, u64)>, Vec<PageRun>);

/// One window of rows: its first row in the row group and, per wanted column, the decoded
/// values of its rows (`None`: the column is absent).
pub type Window = (u64, Vec<Option<ColumnValues>>);

/// The values of `cols` in row group `rg` for `rows` (ascending, disjoint ranges), one
/// [`Window`] per range, reading only the pages that hold them; `None` when a column has no
/// usable offset index (the caller reads the chunks whole).
pub async fn read_windows<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    fr: &FooterRead,
    rg: usize,
    cols: &[Option<usize>],
    rows: &[(u64, u64)],
) -> Result<Option<Vec<Window>>, LocateError> {
    let Some(group) = fr.footer.row_groups.get(rg) else { return Ok(None) };
    let rg_rows = group.num_rows;
    let mut chunks = Vec::with_capacity(cols.len());
    for col in cols {
        chunks.push(match col {
            None => None,
            Some(c) => match fr.footer.chunk(rg, *c) {
                Some(chunk) if chunk.max_rep_level == 0 && chunk.offset_index.is_some() => Some(chunk),
                _ => return Ok(None),
            },
        });
    }
    let index_ranges: Vec<(u64, u64)> = chunks.iter().flatten().filter_map(|c| c.offset_index).collect();
    let index = index_bytes(store, cost, key, fr, &index_ranges).await?;
    // Per present column: its dictionary page range and the runs of pages holding `rows`.
    let mut plans: Vec<Option<ColumnPlan>> = Vec::with_capacity(chunks.len());
    let mut index_iter = index.iter();
    for chunk in &chunks {
        let Some(chunk) = chunk else {
            plans.push(None);
            continue;
        };
        let Some(bytes) = index_iter.next() else { return Ok(None) };
        let Ok(pages) = parquet::parse_offset_index(bytes, chunk, rg_rows) else { return Ok(None) };
        let picked = parquet::pages_for_rows(&pages, rows, rg_rows);
        plans.push(Some((parquet::dictionary_range(chunk, &pages), parquet::page_runs(&pages, &picked, rg_rows))));
    }
    // The pages first; a dictionary page only for columns whose pages use it (a second read) —
    // unless it rides along: a small one whose range joins the pages' merged reads without adding
    // a request is read with them (bytes, no request), so a second read is needed only for
    // dictionaries far from every page read (the chunks of small columns such as `deleted`,
    // `tags`, `expires_at` lie side by side: their dictionaries ride along with their pages).
    let mut ranges: Vec<(u64, u64)> = plans.iter().flatten().flat_map(|(_, runs)| runs.iter().map(|r| r.range)).collect();
    let mut requests = parquet::merge_ranges(ranges.clone(), MERGE_GAP).len();
    for dict in plans.iter().flatten().filter_map(|(d, _)| *d).filter(|d| d.1 <= RIDE_ALONG_BYTES) {
        let mut with = ranges.clone();
        with.push(dict);
        let n = parquet::merge_ranges(with.clone(), MERGE_GAP).len();
        if n <= requests {
            ranges = with;
            requests = n;
        }
    }
    let mut buffers = fetch_merged(store, cost, key, ranges).await?;
    let within = |buffers: &[(u64, Vec<u8>)], r: (u64, u64)| -> Result<Vec<u8>, LocateError> {
        buffers
            .iter()
            .find_map(|(s, b)| parquet::slice_within(*s, b, r))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| corrupt(key, "page outside the bytes read"))
    };
    let mut dictionaries = Vec::new();
    for (dict, runs) in plans.iter().flatten() {
        let Some(dict) = dict else { continue };
        for run in runs {
            let uses = parquet::run_uses_dictionary(&within(&buffers, run.range)?).map_err(|e| corrupt(key, e.description()))?;
            if uses {
                dictionaries.push(*dict);
                break;
            }
        }
    }
    let missing: Vec<(u64, u64)> = dictionaries.iter().copied().filter(|d| within(&buffers, *d).is_err()).collect();
    buffers.extend(fetch_merged(store, cost, key, missing).await?);
    // Decode every run of every column.
    let mut decoded: Vec<Vec<(PageRun, ColumnValues)>> = Vec::with_capacity(plans.len());
    for (plan, chunk) in plans.iter().zip(&chunks) {
        let (Some((dict, runs)), Some(chunk)) = (plan, chunk) else {
            decoded.push(Vec::new());
            continue;
        };
        let dictionary = match dict {
            Some(d) if dictionaries.contains(d) => Some(within(&buffers, *d)?),
            _ => None,
        };
        let mut out = Vec::with_capacity(runs.len());
        for run in runs {
            let values = parquet::decode_page_run(
                dictionary.as_deref(),
                &within(&buffers, run.range)?,
                chunk,
                run.end_row.saturating_sub(run.first_row),
                DecodeLimits::default(),
            )
            .map_err(|e| corrupt(key, e.description()))?;
            out.push((*run, values));
        }
        decoded.push(out);
    }
    let mut windows = Vec::with_capacity(rows.len());
    for &(a, b) in rows {
        let mut values = vec![];
        for (runs, chunk) in decoded.iter().zip(&chunks) {
            if chunk.is_none() {
                values.push(None);
                continue;
            }
            let slice = runs
                .iter()
                .find(|(r, _)| r.first_row <= a && b <= r.end_row)
                .and_then(|(r, v)| rows_of(v, usize::try_from(a - r.first_row).ok()?, usize::try_from(b - r.first_row).ok()?))
                .ok_or_else(|| corrupt(key, "the page index does not cover the rows"))?;
            values.push(Some(slice));
        }
        windows.push((a, values));
    }
    Ok(Some(windows))
}
