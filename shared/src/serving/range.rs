//! The rows of a key range of the serving table, newest per key, read page by page (listing).
//!
//! [`range`] reads `[start, end)` across the root's files that may hold part of it — the L1
//! files whose ranges overlap it, and each L0 file's unmerged part (`[merged_through, max]`) —
//! through the `_lookup` column index of each: the pages whose bounds overlap the range, one
//! read each, taken in key order across files (always the page with the least bound next). A key
//! is final once every file's next unread page starts after it; the newest entry of a final key
//! by the winner rule ([`super::order::Order`]) is its row. Work is bounded: after `max_pages`
//! page reads (or `max_rows` final keys) it stops and says where to resume; every key of
//! `[start, resume)` was judged across every file. Tombstones and rows hidden from a caller are
//! rows like any other here: the caller filters.
//!
//! Nothing is trusted: pages out of order or a page whose cells leave its bounds is
//! [`LocateError::Corrupt`], as in [`super::lookup`].

use alloc::string::ToString;
use alloc::vec::Vec;

use super::entry::cell_key;
use super::lookup::{hit_of, pages_of, Hit, Page};
use super::root::{FileEntry, Root};
use crate::locate::pages::{self, FooterRead};
use crate::locate::{Cost, LocateError, ObjectStore};
use crate::parquet::ColumnValues;

/// What one [`range`] call read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The newest entry of every key of `[start, resume)` (or `[start, end)` when done), in key
    /// order.
    pub rows: Vec<(Vec<u8>, Hit)>,
    /// Where the next call starts (inclusive); `None`: the range is done.
    pub resume: Option<Vec<u8>>,
    /// `_lookup` pages read.
    pub pages: usize,
}

fn corrupt(key: &str, reason: impl ToString) -> LocateError {
    LocateError::Corrupt { key: key.into(), reason: reason.to_string() }
}

/// The key part of a page bound (cells are `key 0x00 json`; the writer cuts bounds after the key):
/// up to its third `0x00`, or all of it. Every key of a page is at least its min's key part.
fn bound_key(bound: &[u8]) -> &[u8] {
    cell_key(bound).unwrap_or(bound)
}

/// An opened file: its index region, its `_lookup` column, its pages in the range.
type Opened = (FooterRead, usize, Vec<(usize, Page)>);

/// One file of the range: its pages once its index region is read (files are opened only when
/// the range reaches their least key, so a page of a table of many files reads the few it needs).
struct Open<'r> {
    file: &'r FileEntry,
    /// The index region, the `_lookup` column and its pages in the range `(row group, page)` in
    /// key order; `None`: not opened yet.
    read: Option<Opened>,
    next: usize,
    /// Keys of this file below it are not its to answer (an L0 file's merged part).
    from: Vec<u8>,
}

impl Open<'_> {
    /// The least key the file's unread pages may hold (`None`: nothing left).
    fn lower(&self) -> Option<&[u8]> {
        match &self.read {
            None => Some(if self.file.min > self.from { self.file.min.as_slice() } else { self.from.as_slice() }),
            Some((_, _, pages)) => pages.get(self.next).map(|(_, p)| bound_key(&p.min)),
        }
    }
}

/// The index region of `file` and the `_lookup` pages whose bounds may hold a key of
/// `[from, end)`.
async fn open_file<S: ObjectStore>(store: &S, file: &FileEntry, from: &[u8], end: &[u8], cost: &mut Cost) -> Result<Opened, LocateError> {
    let fkey = file.key.as_str();
    cost.files = cost.files.saturating_add(1);
    let (fr, col) = super::lookup::open_file(store, file, cost).await?;
    let mut wanted = Vec::new();
    for rg in 0..fr.footer.row_groups.len() {
        for p in pages_of(&fr, fkey, rg, col)? {
            // Conservative: a page is read when its bounds may hold a key of the range.
            if p.max.as_slice() >= from && p.min.as_slice() < end {
                wanted.push((rg, p));
            }
        }
    }
    if wanted.windows(2).any(|w| matches!(w, [(_, a), (_, b)] if a.max >= b.min)) {
        return Err(corrupt(fkey, "the _lookup pages are not in key order"));
    }
    Ok((fr, col, wanted))
}

/// The rows of `[start, end)` (keys, `shared::serving::key`), newest per key across the root's
/// files; at most `max_pages` `_lookup` page reads (more only when needed to move past `start`)
/// and about `max_rows` rows a call.
pub async fn range<S: ObjectStore>(
    store: &S,
    root: &Root,
    start: &[u8],
    end: &[u8],
    max_pages: usize,
    max_rows: usize,
    cost: &mut Cost,
) -> Result<Rows, LocateError> {
    let mut open: Vec<Open<'_>> = Vec::new();
    for file in &root.files {
        let from = match &file.merged_through {
            Some(m) if file.level == 0 && m.as_slice() > start => m.clone(),
            _ => start.to_vec(),
        };
        if file.max.as_slice() >= from.as_slice() && file.min.as_slice() < end {
            open.push(Open { file, read: None, next: 0, from });
        }
    }
    // Rows read but not yet final, by key (a sorted vector: no map code in the worker).
    let mut pending: Vec<(Vec<u8>, Hit)> = Vec::new();
    let mut rows: Vec<(Vec<u8>, Hit)> = Vec::new();
    let mut read = 0usize;
    loop {
        // Keys below every file's next page are final.
        let (at, lower) = match open.iter().enumerate().filter_map(|(i, o)| o.lower().map(|l| (i, l))).min_by(|a, b| a.1.cmp(b.1)) {
            Some((i, l)) => (Some(i), Some(l.to_vec())),
            None => (None, None),
        };
        let done = pending.partition_point(|(k, _)| lower.as_deref().is_none_or(|l| k.as_slice() < l));
        rows.extend(pending.drain(..done));
        let (Some(at), Some(lower)) = (at, lower) else {
            return Ok(Rows { rows, resume: None, pages: read });
        };
        if (read >= max_pages || rows.len() >= max_rows) && lower.as_slice() > start {
            return Ok(Rows { rows, resume: Some(lower), pages: read });
        }
        let Some(o) = open.get_mut(at) else { return Ok(Rows { rows, resume: None, pages: read }) };
        let Some((fr, col, pages)) = &o.read else {
            o.read = Some(open_file(store, o.file, &o.from, end, cost).await?);
            continue;
        };
        let Some((rg, page)) = pages.get(o.next) else { return Ok(Rows { rows, resume: None, pages: read }) };
        let rg = *rg;
        let fkey = o.file.key.as_str();
        let windows = pages::read_windows(store, cost, fkey, fr, rg, &[Some(*col)], &[(page.first, page.end)])
            .await?
            .ok_or_else(|| corrupt(fkey, "the _lookup page cannot be read through its offset index"))?;
        read = read.saturating_add(1);
        let Some((window_start, values)) = windows.into_iter().next() else { return Err(corrupt(fkey, "no window for the _lookup page")) };
        let Some(Some(ColumnValues::ByteArray(cells))) = values.into_iter().next() else {
            return Err(corrupt(fkey, "the _lookup column is not binary"));
        };
        for (i, cell) in cells.iter().enumerate() {
            let Some(cell) = cell else { return Err(corrupt(fkey, "a null _lookup cell")) };
            if cell.as_slice() < page.min.as_slice() || cell.as_slice() > page.max.as_slice() {
                return Err(corrupt(fkey, "the _lookup page disagrees with its column index"));
            }
            let key = cell_key(cell).ok_or_else(|| corrupt(fkey, "a _lookup cell does not decode"))?;
            if key < o.from.as_slice() || key >= end {
                continue;
            }
            let hit = hit_of(o.file, cell, rg, window_start.saturating_add(i as u64))?;
            if usize::try_from(hit.order.source).ok().is_none_or(|s| s >= root.sources.len()) {
                return Err(corrupt(fkey, "an entry names a source the root does not list"));
            }
            match pending.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
                Ok(i) => {
                    if let Some((_, b)) = pending.get_mut(i) {
                        if hit.order > b.order {
                            *b = hit;
                        }
                    }
                }
                Err(i) => pending.insert(i, (key.to_vec(), hit)),
            }
        }
        o.next = o.next.saturating_add(1);
    }
}

#[cfg(test)]
mod tests;
