//! Listing `GET /$.content/{ns}/{type}/` (`?prefix=`, `?delimiter=`, `?limit=`, `?cursor=`):
//! the artifacts (and, with a delimiter, the common prefixes) the caller may see, in id order.
//!
//! With a serving table the page is read by key range ([`crate::serving::range`]) merged with
//! the tail (each source's rows after the root's watermark, read whole: in steady state one
//! commit or none), with bounded work: at most [`Query::max_pages`] `_lookup` pages a request,
//! so a page may come back short, or empty, with a cursor when most rows of its range are hidden
//! from the caller. Without one (or when it fails) every table is scanned ([`Reads::list`]) and
//! the same items, prefixes and cursors come out.
//!
//! A cursor is a position in the key space: the least id the next page may show (just after the
//! last item returned, or after the rows judged when the work ran out). Positions stay correct
//! while commits land: an id committed after the position appears on a later page, and no id is
//! repeated or skipped. The position may be a hidden id's, so it goes out **sealed** (`~` then
//! base64url of a synthetic IV and the position encrypted under `AUTH_SECRET` with HMAC-SHA256 as
//! the PRF: [`seal`]), bound to the listing's ns, type, prefix and delimiter: a cursor of another
//! listing, or tampered, does not open ([`open`]). A cursor without the `~` is an id (older
//! clients): the page starts after it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::filter::{Filter, Status};
use super::lineage::EdgeTables;
use super::{listed, Catalog, Fail, Html, Reads, Serving, Trace};
use crate::content::Reader;
use crate::locate::{self, Cost, Found, ObjectStore, Table};
use crate::problem::Problem;
use crate::record::Visibility;
use crate::serving::order::Order;

type HmacSha256 = Hmac<Sha256>;

/// One listing request.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// Namespace.
    pub ns: &'a str,
    /// Type.
    pub ty: &'a str,
    /// Only ids that start with it.
    pub prefix: &'a str,
    /// Ids holding it after the prefix are rolled up into one common prefix (up to and including
    /// its first occurrence); `None`: every id is an item.
    pub delimiter: Option<&'a str>,
    /// Most items and prefixes a page holds.
    pub limit: usize,
    /// The least id the page may show (the opened cursor); empty: from the prefix.
    pub start: Vec<u8>,
    /// Most `_lookup` pages read with a serving table.
    pub max_pages: usize,
    /// Status, tag and time filters (#18).
    pub filter: &'a Filter,
}

/// One entry of a page (an artifact carries its row: a page holds at most 1,000).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Item {
    /// An artifact: its id, its newest row and the visibility the caller sees.
    Artifact {
        /// The id.
        id: String,
        /// Its newest row.
        found: Found,
        /// Its visibility.
        visibility: Visibility,
        /// Its status.
        status: Status,
    },
    /// A common prefix holding at least one artifact the caller may see.
    Prefix(String),
}

/// One page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// Items and prefixes, in id order.
    pub items: Vec<Item>,
    /// Where the next page starts (to be [`seal`]ed); `None`: this was the last page.
    pub next: Option<Vec<u8>>,
}

/// What a cursor is bound to: the listing and its filters (a listing without filters keeps the
/// context cursors had before filters existed).
pub fn context(ns: &str, ty: &str, prefix: &str, delimiter: Option<&str>, filter: &Filter) -> String {
    let base = crate::key::compose(&["list-cursor-v1", ns, ty, prefix, delimiter.unwrap_or("")]);
    if filter.is_default() {
        return base;
    }
    crate::key::compose(&[&base, "filter", &filter.canonical()])
}

fn prf(secret: &[u8], parts: &[&[u8]]) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    Some(m)
}

/// `position` XOR the key stream of `iv`.
fn stream(secret: &[u8], iv: &[u8], position: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(position.len());
    for (n, chunk) in position.chunks(32).enumerate() {
        let block = prf(secret, &[b"stream", iv, &(n as u64).to_be_bytes()])?.finalize().into_bytes();
        out.extend(chunk.iter().zip(block.iter()).map(|(a, b)| a ^ b));
    }
    Some(out)
}

/// The synthetic IV of `position` in `context` (16 bytes).
fn iv_of(secret: &[u8], context: &str, position: &[u8]) -> Option<HmacSha256> {
    prf(secret, &[b"iv", context.as_bytes(), position])
}

/// The cursor of `position` in the listing `context`, sealed under `secret`.
pub fn seal(secret: &[u8], context: &str, position: &[u8]) -> String {
    let iv = iv_of(secret, context, position).map(|m| m.finalize().into_bytes()).unwrap_or_default();
    let iv = iv.get(..16).unwrap_or_default();
    let mut raw = iv.to_vec();
    raw.extend(stream(secret, iv, position).unwrap_or_default());
    let mut out = String::from("~");
    crate::token::b64_encode_into(&raw, &mut out);
    out
}

/// The position a cursor of the listing `context` holds, under any of `secrets` (the current and
/// the previous during a rotation); `None`: not a cursor of this listing.
pub fn open(secrets: &[&[u8]], context: &str, cursor: &str) -> Option<Vec<u8>> {
    let raw = crate::token::b64_decode(cursor.strip_prefix('~')?)?;
    let (iv, sealed) = (raw.get(..16)?, raw.get(16..)?);
    secrets.iter().find_map(|secret| {
        let position = stream(secret, iv, sealed)?;
        iv_of(secret, context, &position)?.verify_truncated_left(iv).ok()?;
        Some(position)
    })
}

/// The least id of the listing and the least id past it (ids are UTF-8: no `0xFF` byte).
fn bounds(q: &Query<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut end = q.prefix.as_bytes().to_vec();
    end.push(0xFF);
    let start = if q.start.as_slice() > q.prefix.as_bytes() { q.start.clone() } else { q.prefix.as_bytes().to_vec() };
    (start, end)
}

/// The page being filled, id by id in order.
struct Walk<'q, 'r> {
    q: &'q Query<'q>,
    reader: Reader<'r>,
    policy: &'q super::Policy,
    items: Vec<Item>,
    /// Just after the last item.
    after_last: Option<Vec<u8>>,
    /// Ids below it lie under the last common prefix given.
    skip: Option<Vec<u8>>,
    /// One more item than the page holds exists: the page is done.
    full: bool,
}

impl Walk<'_, '_> {
    fn feed(&mut self, id: &str, found: &Found, status: Status) {
        if self.full || self.skip.as_deref().is_some_and(|s| id.as_bytes() < s) {
            return;
        }
        let Some(rest) = id.strip_prefix(self.q.prefix) else { return };
        let shown = match status {
            // A tombstone only to callers of its owner's org who read the namespace.
            Status::Tombstoned => self.reader.in_org(self.q.ns, found.owner_org.as_deref().unwrap_or_default()).then_some(Visibility::Org),
            _ => listed(found, self.q.ns, self.reader, self.policy),
        };
        let Some(visibility) = shown.filter(|_| self.q.filter.shows(found, status)) else { return };
        if self.items.len() >= self.q.limit {
            self.full = true;
            return;
        }
        let cut = self.q.delimiter.filter(|d| !d.is_empty()).and_then(|d| rest.find(d).map(|i| i.saturating_add(d.len())));
        match cut.and_then(|c| id.get(..self.q.prefix.len().saturating_add(c))) {
            Some(common) => {
                let mut past = common.as_bytes().to_vec();
                past.push(0xFF);
                self.items.push(Item::Prefix(common.into()));
                self.after_last = Some(past.clone());
                self.skip = Some(past);
            }
            None => {
                let mut past = id.as_bytes().to_vec();
                past.push(0);
                self.items.push(Item::Artifact { id: id.into(), found: found.clone(), visibility, status });
                self.after_last = Some(past);
            }
        }
    }
}

/// The serving table a listing is reading: its root, the key range it holds and its tail.
struct ServingPart {
    root: alloc::rc::Rc<crate::serving::root::Root>,
    range: crate::serving::split::KeyRange,
    tails: Vec<(u32, BTreeMap<String, Found>)>,
}

/// The `s` edges (supersedes) of the keys a listing walks, read a window at a time: the walk goes
/// in key order, so one range read of the edge tables (up to [`EDGE_WINDOW_PAGES`] `_lookup`
/// pages from the first key that needs it) answers for every following key it covers, instead of
/// one range read per row. Only keys with an edge are then judged (`status_of`: validity, the
/// successor's visibility and retention).
#[derive(Default)]
struct EdgeWindows {
    /// The edge tables, read at the first row that needs them.
    roots: Option<Vec<alloc::rc::Rc<crate::serving::root::Root>>>,
    /// Per edge table: what its last read covered.
    windows: Vec<Option<EdgeWindow>>,
}

/// The edge keys `[start, resume)` (`resume` `None`: to the last `s` edge) of one edge table, and
/// the targets with an edge among them.
struct EdgeWindow {
    start: Vec<u8>,
    resume: Option<Vec<u8>>,
    targets: Vec<Vec<u8>>,
}

/// `_lookup` pages of an edge table one window reads.
const EDGE_WINDOW_PAGES: usize = 2;

impl<S: ObjectStore, C: Catalog + EdgeTables, H: Html> Reads<'_, S, C, H> {
    /// Whether any edge table holds an `s` edge into `key` (valid or not), reading windows as
    /// needed.
    async fn has_successor_edge(&self, w: &mut EdgeWindows, key: &[u8], cost: &mut Cost) -> Result<bool, Problem> {
        use crate::serving::edges::{self, Kind};
        if w.roots.is_none() {
            let roots = self.catalog.edge_roots().await.map_err(Problem::from)?;
            w.windows = roots.iter().map(|_| None).collect();
            w.roots = Some(roots);
        }
        let Some(roots) = w.roots.as_ref() else { return Ok(false) };
        let (start, end) = edges::into_target(Kind::Supersedes, key);
        for (root, slot) in roots.iter().zip(w.windows.iter_mut()) {
            let covered = slot.as_ref().is_some_and(|s| s.start <= start && s.resume.as_ref().is_none_or(|r| *r >= end));
            if !covered {
                let (_, last) = edges::targets_between(Kind::Supersedes, key, None);
                let scan =
                    edges::scan(self.store, root, &start, &last, EDGE_WINDOW_PAGES, usize::MAX, cost).await.map_err(Problem::from)?;
                let mut targets: Vec<Vec<u8>> = scan.edges.into_iter().map(|e| e.target).collect();
                targets.dedup();
                *slot = Some(EdgeWindow { start: start.clone(), resume: scan.resume, targets });
            }
            if slot.as_ref().is_some_and(|s| s.targets.iter().any(|t| t.as_slice() == key)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A listed row's status for `reader`: tombstoned, superseded (a live successor it may read
    /// lists it: the edge tables, `super::lineage`) or active. The edges are read only for rows
    /// the caller may see that the filters could still show, a window at a time (`edges`).
    async fn listing_status(
        &self,
        q: &Query<'_>,
        reader: Reader<'_>,
        id: &str,
        found: &Found,
        edges: &mut EdgeWindows,
        cost: &mut Cost,
    ) -> Result<Status, Problem> {
        if found.deleted {
            return Ok(Status::Tombstoned);
        }
        let shows_either = q.filter.shows(found, Status::Active) || q.filter.shows(found, Status::Superseded);
        if !shows_either || listed(found, q.ns, reader, self.policy).is_none() {
            return Ok(Status::Active);
        }
        if !self.has_successor_edge(edges, &crate::serving::key::key(q.ns, q.ty, id), cost).await? {
            return Ok(Status::Active);
        }
        self.status_of(&alloc::format!("{}/{}/{id}", q.ns, q.ty), reader, cost).await
    }
}

/// The id part of a key of `ns/ty` (`None`: another type's key).
fn id_part<'k>(key: &'k [u8], head: &[u8]) -> Option<&'k [u8]> {
    key.strip_prefix(head)
}

impl<S: ObjectStore, C: Catalog + EdgeTables, H: Html> Reads<'_, S, C, H> {
    /// One page of the listing `q` for `reader`: from the serving table and the tail when one is
    /// configured (falling back to every table whole when it fails), else from every table.
    pub async fn listing(&self, q: &Query<'_>, reader: Reader<'_>, cost: &mut Cost, trace: &mut Trace) -> Result<Listing, Problem> {
        match self.listing_with_serving(q, reader, cost, trace).await {
            Ok(Some(l)) => return Ok(l),
            Ok(None) => {}
            Err(Fail::Problem(p)) => return Err(p),
            Err(Fail::Serving(reason)) => trace.serving = Serving::Fallback(reason),
        }
        let merged = self.list(q.ns, q.ty, cost).await?;
        let (start, end) = bounds(q);
        let mut walk = Walk { q, reader, policy: self.policy, items: Vec::new(), after_last: None, skip: None, full: false };
        let mut edges = EdgeWindows::default();
        for (id, (found, mode)) in &merged {
            let b = id.as_bytes();
            if b < start.as_slice() {
                continue;
            }
            if b >= end.as_slice() || walk.full {
                break;
            }
            if !self.expired(q.ns, q.ty, found, mode.as_deref()).await {
                let status = self.listing_status(q, reader, id, found, &mut edges, cost).await?;
                walk.feed(id, found, status);
            }
        }
        let next = if walk.full { walk.after_last } else { None };
        Ok(Listing { items: walk.items, next })
    }

    /// The serving path: `Ok(None)` without a serving table.
    async fn listing_with_serving(
        &self,
        q: &Query<'_>,
        reader: Reader<'_>,
        cost: &mut Cost,
        trace: &mut Trace,
    ) -> Result<Option<Listing>, Fail> {
        let head = crate::serving::key::key(q.ns, q.ty, "");
        let with_head = |id: &[u8]| {
            let mut k = head.clone();
            k.extend_from_slice(id);
            k
        };
        let (mut at, end) = bounds(q);
        let end_key = with_head(&end);
        let mut walk = Walk { q, reader, policy: self.policy, items: Vec::new(), after_last: None, skip: None, full: false };
        let mut pages = 0usize;
        let mut edges = EdgeWindows::default();
        // The serving table holding `at` (one unless SERVING_SPLITS splits the key space: then
        // the walk goes on in the next table where one ends), with its tail.
        let mut table: Option<ServingPart> = None;
        loop {
            let at_key = with_head(&at);
            if table.as_ref().is_none_or(|t| !t.range.contains(&at_key)) {
                let Some((root, range)) = self.checked_root(&at_key, trace).await? else {
                    return match table {
                        None => Ok(None),
                        Some(_) => Err(Fail::Serving("a split of the serving table is not configured".into())),
                    };
                };
                // The tail, whole: per source, the newest row per id after this table's watermark.
                let mut tails: Vec<(u32, BTreeMap<String, Found>)> = Vec::new();
                for tail in self.tail_sources(&root).await? {
                    let t = Table { metadata: &tail.metadata, location_prefix: self.catalog.prefix_for(&tail.metadata.location) };
                    let rows = locate::list_after(self.store, &t, q.ns, q.ty, tail.after, cost).await?;
                    tails.push((tail.index, rows));
                }
                trace.serving = Serving::On;
                table = Some(ServingPart { root, range, tails });
            }
            let Some(ServingPart { root, range: held, tails }) = table.as_ref() else { return Ok(None) };
            // This table's part of the listing's range.
            let stop = match &held.hi {
                Some(hi) if *hi < end_key => hi.clone(),
                _ => end_key.clone(),
            };
            let want = q.limit.saturating_add(1).saturating_sub(walk.items.len()).max(1);
            let left = q.max_pages.saturating_sub(pages);
            let rows =
                crate::serving::range::range(self.store, root, &at_key, &stop, left, want, cost).await.map_err(super::serving_failed)?;
            pages = pages.saturating_add(rows.pages);
            let upto = match rows.resume.as_ref().unwrap_or(&stop) {
                s if *s == end_key => end.clone(),
                s => id_part(s, &head).ok_or_else(|| Fail::Serving("a range resumed outside its type".into()))?.to_vec(),
            };
            // Serving rows and tail rows of `[at, upto)`, newest per id, in id order (a sorted
            // vector: no map code in the worker).
            // (id, order, row, where its serving file's index region starts).
            let mut window: Vec<(String, Order, Found, Option<u64>)> = Vec::new();
            for (k, hit) in rows.rows {
                let id = id_part(&k, &head).and_then(|id| core::str::from_utf8(id).ok());
                let id = id.ok_or_else(|| Fail::Serving("a serving key is not one of this type's".into()))?;
                window.push((id.into(), hit.order, hit.found, Some(hit.index_offset)));
            }
            for (source, rows) in tails {
                for (id, f) in rows {
                    if id.as_bytes() >= at.as_slice() && id.as_bytes() < upto.as_slice() {
                        let order = Order { ts: f.order.ts, seq: f.order.sequence_number, source: *source, pos: f.order.position };
                        window.push((id.clone(), order, f.clone(), None));
                    }
                }
            }
            window.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let mut last: Option<String> = None;
            for (id, order, mut found, index_offset) in window {
                if last.as_ref() == Some(&id) {
                    continue;
                }
                // Tags too long for the `_lookup` entry: the row's own `tags` cell, when filtering by them.
                if let (false, true, Some(index_offset)) = (q.filter.tags.is_empty(), found.tags_too_long, index_offset) {
                    let layout = locate::Layout::Serving { index_offset };
                    found.tags = locate::read_value_in(self.store, layout, &found, "tags", cost).await.map_err(super::serving_failed)?;
                }
                // Retention: an expired newest version hides the id (older versions do not show).
                let mode = usize::try_from(order.source).ok().and_then(|i| root.sources.get(i)).and_then(|s| s.mode.as_deref());
                if !self.expired(q.ns, q.ty, &found, mode).await {
                    let status = self.listing_status(q, reader, &id, &found, &mut edges, cost).await?;
                    walk.feed(&id, &found, status);
                }
                if walk.full {
                    break;
                }
                last = Some(id);
            }
            if walk.full {
                return Ok(Some(Listing { items: walk.items, next: walk.after_last }));
            }
            if rows.resume.is_none() && stop == end_key {
                return Ok(Some(Listing { items: walk.items, next: None }));
            }
            at = match walk.skip.as_ref() {
                Some(s) if *s > upto => s.clone(),
                _ => upto,
            };
            if at >= end {
                return Ok(Some(Listing { items: walk.items, next: None }));
            }
            if pages >= q.max_pages {
                // The work ran out: the page may be short (rows hidden from the caller).
                return Ok(Some(Listing { items: walk.items, next: Some(at) }));
            }
        }
    }
}

#[cfg(test)]
mod tests;
