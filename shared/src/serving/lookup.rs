//! Serve's lookup in the serving table: candidates from the root, each file's index region, the
//! `_lookup` page holding the key, the winner by [`super::order::Order`], then the value page.
//!
//! Per candidate file ([`Root::candidates`]): one read of `[index_offset, size)` (the page index
//! and the footer, cached per isolate: data files are create-only), a binary search of the
//! `_lookup` column index (per page: first key 0x00 and last key 0x01, pages in key order) for the one page whose
//! range may hold the key's cells (`key 0x00 …`), one read of that page, and the key's cell
//! decoded ([`Entry::decode`]). The best entry by the winner rule is the [`Hit`]; its value is
//! read with `locate::read_value_in` and [`Layout::Serving`] (the footer comes from the same
//! cached index region, so only the value page is read).
//!
//! Nothing here trusts the file: a page index that is missing, unsorted, or disagrees with the
//! page it describes, a cell that does not decode, an entry whose source the root does not list,
//! is [`LocateError::Corrupt`] — the caller falls back to the source tables, never answers from
//! a serving file it cannot vouch for.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::entry::{cell_key, Entry};
use super::order::Order;
use super::root::{FileEntry, Root};
use crate::content::RowOrder;
use crate::locate::pages::{self, FooterRead};
use crate::locate::{read_index_region, Cost, Found, Layout, LocateError, ObjectStore};
use crate::parquet::{self, ColumnValues};

/// Name of the lookup column (field id 100).
pub const LOOKUP_COLUMN: &str = "_lookup";
/// Field id of the lookup column.
pub const LOOKUP_FIELD_ID: i32 = 100;
/// Largest index region read (page index and footer of one file): the serving writer's are a few
/// KiB; more is a corrupt root.
pub const MAX_INDEX_REGION: u64 = 1024 * 1024;

/// The newest entry of a key in the serving table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The row, for `locate::read_value_in` / `read_row_in` (its `order` carries `ts`, `_seq` and
    /// `_pos`; the source is [`Hit::order`]'s).
    pub found: Found,
    /// Its place in the winner rule (`source` indexes the root's `sources`).
    pub order: Order,
    /// Where its file's index region starts ([`Layout::Serving`]).
    pub index_offset: u64,
}

impl Hit {
    /// How to read the row's columns.
    pub fn layout(&self) -> Layout<'static> {
        Layout::Serving { index_offset: self.index_offset }
    }
}

fn corrupt(key: &str, reason: impl ToString) -> LocateError {
    LocateError::Corrupt { key: key.into(), reason: reason.to_string() }
}

/// The newest entry for `key` (`shared::serving::key::key`) among the root's candidate files;
/// `Ok(None)` when no file holds it. Tombstones are entries like any other.
pub async fn lookup<S: ObjectStore>(store: &S, root: &Root, key: &[u8], cost: &mut Cost) -> Result<Option<Hit>, LocateError> {
    let mut best: Option<Hit> = None;
    for file in root.candidates(key) {
        cost.files = cost.files.saturating_add(1);
        let Some(hit) = lookup_file(store, file, key, cost).await? else { continue };
        if usize::try_from(hit.order.source).ok().is_none_or(|s| s >= root.sources.len()) {
            return Err(corrupt(&file.key, "an entry names a source the root does not list"));
        }
        if best.as_ref().is_none_or(|b| hit.order > b.order) {
            best = Some(hit);
        }
    }
    Ok(best)
}

/// Most bytes of index regions [`prefetch`] reads for one root (the isolate's immutable cache
/// holds 32 MiB).
pub const PREFETCH_BYTES: u64 = 8 * 1024 * 1024;

/// Reads the index region of each file of `root` (L1 files first, then L0; each at most
/// [`MAX_INDEX_REGION`], together at most `max_bytes`) with the lookup's own read, so a caching
/// store holds them: what serve does in the background the first time an isolate uses a root,
/// after which a lookup in any of those files reads its two pages only (the isolate-warm cost
/// no longer depends on which file the isolate happened to read first). Best effort: a file that
/// cannot be read is skipped (a lookup that needs it reports it). The regions read or held.
pub async fn prefetch<S: ObjectStore>(store: &S, root: &Root, max_bytes: u64, cost: &mut Cost) -> u32 {
    let mut spent = 0u64;
    let mut held = 0u32;
    for file in root.l1().into_iter().chain(root.l0()) {
        let len = file.size.saturating_sub(file.index_offset);
        if len > MAX_INDEX_REGION || spent.saturating_add(len) > max_bytes {
            continue;
        }
        spent = spent.saturating_add(len);
        if read_index_region(store, cost, &file.key, file.size, file.index_offset).await.is_ok() {
            held = held.saturating_add(1);
        }
    }
    held
}

/// The cells of `key` lie in `[key 0x00, key 0x01)`: every other key either differs before its
/// end or continues with a byte greater than 0x00.
fn bounds(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut low = key.to_vec();
    low.push(0);
    let mut high = key.to_vec();
    high.push(1);
    (low, high)
}

/// A serving file's index region (footer and page index; bounded) and its `_lookup` column.
pub(super) async fn open_file<S: ObjectStore>(store: &S, file: &FileEntry, cost: &mut Cost) -> Result<(FooterRead, usize), LocateError> {
    let fkey = file.key.as_str();
    if file.size.saturating_sub(file.index_offset) > MAX_INDEX_REGION {
        return Err(corrupt(fkey, "the index region is larger than a serving file's"));
    }
    let fr = read_index_region(store, cost, fkey, file.size, file.index_offset).await?;
    let col = fr
        .footer
        .column_by_field_id(LOOKUP_FIELD_ID)
        .or_else(|| fr.footer.column_by_name(LOOKUP_COLUMN))
        .ok_or_else(|| corrupt(fkey, "no _lookup column"))?;
    Ok((fr, col))
}

/// One file: its index region, the page that may hold `key`, the entry.
async fn lookup_file<S: ObjectStore>(store: &S, file: &FileEntry, key: &[u8], cost: &mut Cost) -> Result<Option<Hit>, LocateError> {
    let fkey = file.key.as_str();
    let (fr, col) = open_file(store, file, cost).await?;
    let (low, high) = bounds(key);
    for rg in 0..fr.footer.row_groups.len() {
        let Some(page) = page_for(&fr, fkey, rg, col, &low, &high)? else { continue };
        let windows = pages::read_windows(store, cost, fkey, &fr, rg, &[Some(col)], &[(page.first, page.end)])
            .await?
            .ok_or_else(|| corrupt(fkey, "the _lookup page cannot be read through its offset index"))?;
        let Some((start, values)) = windows.into_iter().next() else { return Err(corrupt(fkey, "no window for the _lookup page")) };
        let Some(Some(ColumnValues::ByteArray(cells))) = values.into_iter().next() else {
            return Err(corrupt(fkey, "the _lookup column is not binary"));
        };
        // The bounds (each page's first key 0x00 and last key 0x01, as the writer cuts them)
        // hold every cell of the page: a page outside them is not the page they describe.
        let ends = (cells.first().and_then(Option::as_deref), cells.last().and_then(Option::as_deref));
        let within = matches!(ends, (Some(first), Some(last)) if page.min.as_slice() <= first && last <= page.max.as_slice());
        if !within {
            return Err(corrupt(fkey, "the _lookup page disagrees with its column index"));
        }
        let mut found = None;
        for (i, cell) in cells.iter().enumerate() {
            let Some(cell) = cell else { return Err(corrupt(fkey, "a null _lookup cell")) };
            if cell_key(cell) == Some(key) {
                found = Some((i, cell));
                break;
            }
        }
        let Some((i, cell)) = found else { continue };
        return hit_of(file, cell, rg, start.saturating_add(i as u64)).map(Some);
    }
    Ok(None)
}

/// The [`Hit`] of the `_lookup` cell of row `row` (of the file) in row group `rg` of `file`.
pub(super) fn hit_of(file: &FileEntry, cell: &[u8], rg: usize, row: u64) -> Result<Hit, LocateError> {
    let fkey = file.key.as_str();
    let entry = Entry::decode(cell).ok_or_else(|| corrupt(fkey, "a _lookup cell does not decode"))?;
    let row = usize::try_from(row).map_err(|_| corrupt(fkey, "row out of range"))?;
    let o = entry.order;
    let found = Found {
        order: RowOrder { ts: o.ts, sequence_number: o.seq, position: o.pos },
        file_key: file.key.clone(),
        file_size: file.size,
        row_group: rg,
        row,
        ts: o.ts,
        deleted: entry.deleted,
        visibility: entry.visibility,
        owner_org: entry.owner_org,
        owner_user: entry.owner_user,
        content_hash: entry.content_hash,
        size_bytes: entry.size_bytes,
        expires_at: entry.expires_at,
        tags: entry.tags,
        tags_too_long: entry.tags_too_long,
        lists_supersedes: Some(entry.supersedes),
    };
    Ok(Hit { found, order: o, index_offset: file.index_offset })
}

/// One `_lookup` page: its rows `[first, end)` of the row group and its bounds.
pub(super) struct Page {
    pub(super) first: u64,
    pub(super) end: u64,
    pub(super) min: Vec<u8>,
    pub(super) max: Vec<u8>,
}

/// The `_lookup` pages of row group `rg` from its column index, checked sorted (a search over
/// unsorted bounds could miss a key and answer "absent").
pub(super) fn pages_of(fr: &FooterRead, fkey: &str, rg: usize, col: usize) -> Result<Vec<Page>, LocateError> {
    let (Some(chunk), Some(group)) = (fr.footer.chunk(rg, col), fr.footer.row_groups.get(rg)) else {
        return Err(corrupt(fkey, "the _lookup chunk is missing"));
    };
    let (Some(oi), Some(ci)) = (chunk.offset_index, chunk.column_index) else {
        return Err(corrupt(fkey, "the _lookup column has no page index"));
    };
    let slice = |r: (u64, u64)| {
        parquet::slice_within(fr.tail_start, &fr.tail, r).ok_or_else(|| corrupt(fkey, "page index outside the index region"))
    };
    let locations = parquet::parse_offset_index(slice(oi)?, chunk, group.num_rows).map_err(|e| corrupt(fkey, e.description()))?;
    let bounds = parquet::parse_column_index(slice(ci)?, locations.len()).map_err(|e| corrupt(fkey, e.description()))?;
    let sorted = bounds.iter().all(|b| !b.null_page && b.min <= b.max) && bounds.windows(2).all(|w| matches!(w, [a, b] if a.max < b.min));
    if !sorted {
        return Err(corrupt(fkey, "the _lookup pages are not in key order"));
    }
    let mut out = Vec::with_capacity(bounds.len());
    for (at, b) in bounds.into_iter().enumerate() {
        let (first, end) = parquet::page_rows(&locations, at, group.num_rows).ok_or_else(|| corrupt(fkey, "an empty _lookup page"))?;
        out.push(Page { first, end, min: b.min, max: b.max });
    }
    Ok(out)
}

/// The one page of row group `rg` whose `_lookup` bounds may hold a cell in `[low, high)`, by
/// binary search of the column index.
fn page_for(fr: &FooterRead, fkey: &str, rg: usize, col: usize, low: &[u8], high: &[u8]) -> Result<Option<Page>, LocateError> {
    let pages = pages_of(fr, fkey, rg, col)?;
    // The first page whose max reaches `low`; it holds the key only if its min is below `high`.
    let at = pages.partition_point(|p| p.max.as_slice() < low);
    Ok(pages.into_iter().nth(at).filter(|p| p.min.as_slice() < high))
}

#[cfg(test)]
pub(crate) mod tests;
