//! The edge table (#18, `docs/design/artifact-operations.md`, "Edges"): for each row of the
//! serving table, one edge per ref of its `inputs` (kind [`Kind::Input`], `i`) and of its
//! `supersedes` (kind [`Kind::Supersedes`], `s`), sorted by target, so `down` (who used X) and
//! `status` / `Link` (who supersedes X) read one key range instead of every row.
//!
//! The table is serving-shaped: its files are serving files ([`super::root::FileEntry`], L0 and
//! L1, a `_lookup` column), so [`super::range::range`] reads it unchanged. An edge row's `_lookup`
//! key is a serving key of three parts, `kind 0x00 esc(target) 0x00 esc(source)` ([`edge_key`]),
//! where target and source are serving keys (`ns 0x00 type 0x00 id`) with `0x00` written as
//! `0x01 0x01` and `0x01` as `0x01 0x02`: the `_lookup` cell's key ends at its third `0x00`, so
//! the keys inside may hold none; the escape keeps byte order, so edges sort by
//! `(kind, target, source)`. Its entry is the source row's [`Order`] (a tombstone has no edges).
//!
//! The edge table's files are listed in the serving root it was committed with, as the member
//! `edges` (an embedded root: `files`, `merge_cursor`; [`root_json`], [`edge_root`]), written only
//! when the table has files, so roots without edges keep their shape and readers that do not know
//! the member ignore it. One root commits both tables atomically.
//!
//! An edge is **valid** when the source's current row has exactly the edge's order ([`valid`]): a
//! source rewritten without the ref, deleted or expired leaves a stale edge behind, which a reader
//! ignores. Reads (feature `reader`): [`sources_of`] (every source with an edge of a kind into one
//! target), [`superseded_in`] (every `s` edge whose target is in a key range: a listing page),
//! [`scan`] under both.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use super::entry::Entry;
use super::key;
use super::order::Order;
use super::root::Root;

/// What a source says of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `i`: the source lists the target in `inputs`.
    Input,
    /// `s`: the source lists the target in `supersedes`.
    Supersedes,
}

impl Kind {
    /// Both kinds.
    pub const ALL: [Kind; 2] = [Kind::Input, Kind::Supersedes];

    /// The key's first byte: `i` or `s`.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Input => b'i',
            Kind::Supersedes => b's',
        }
    }

    /// The kind of a key's first byte.
    pub fn from_byte(b: u8) -> Option<Kind> {
        match b {
            b'i' => Some(Kind::Input),
            b's' => Some(Kind::Supersedes),
            _ => None,
        }
    }

    /// The record column whose refs make edges of this kind.
    pub fn column(self) -> &'static str {
        match self {
            Kind::Input => "inputs",
            Kind::Supersedes => "supersedes",
        }
    }
}

/// `part` with `0x00` as `0x01 0x01` and `0x01` as `0x01 0x02`: no `0x00` left, byte order kept
/// (both escapes sort below every other byte, in the same order as the bytes they stand for).
fn escape_into(out: &mut Vec<u8>, part: &[u8]) {
    for &b in part {
        match b {
            0 => out.extend_from_slice(&[1, 1]),
            1 => out.extend_from_slice(&[1, 2]),
            b => out.push(b),
        }
    }
}

/// The inverse of [`escape_into`]; `None` for a byte sequence it cannot have written.
fn unescape(part: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(part.len());
    let mut bytes = part.iter();
    while let Some(&b) = bytes.next() {
        match b {
            0 => return None,
            1 => match bytes.next() {
                Some(1) => out.push(0),
                Some(2) => out.push(1),
                _ => return None,
            },
            b => out.push(b),
        }
    }
    Some(out)
}

/// The `_lookup` key of the edge `kind` from `source` to `target` (both serving keys):
/// `kind 0x00 esc(target) 0x00 esc(source)`.
pub fn edge_key(kind: Kind, target: &[u8], source: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(target.len().saturating_add(source.len()).saturating_add(8));
    k.push(kind.byte());
    k.push(0);
    escape_into(&mut k, target);
    k.push(0);
    escape_into(&mut k, source);
    k
}

/// `(kind, target, source)` of an edge key; `None` when it is not one [`edge_key`] writes.
pub fn split_edge_key(k: &[u8]) -> Option<(Kind, Vec<u8>, Vec<u8>)> {
    let mut parts = k.split(|b| *b == 0);
    let kind = match parts.next()? {
        [b] => Kind::from_byte(*b)?,
        _ => return None,
    };
    let target = unescape(parts.next()?)?;
    let source = unescape(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some((kind, target, source))
}

/// The serving key of an `ns/type/id` ref (the id may hold `/`); `None` unless it has three
/// non-empty parts and no `0x00`.
pub fn ref_key(reference: &str) -> Option<Vec<u8>> {
    let mut parts = reference.splitn(3, '/');
    let (ns, ty, id) = (parts.next()?, parts.next()?, parts.next()?);
    if ns.is_empty() || ty.is_empty() || id.is_empty() || reference.contains('\0') {
        return None;
    }
    Some(key::key(ns, ty, id))
}

/// `[start, end)` of the edge keys of `kind` into `target`: `kind 0x00 esc(target) 0x00` up to
/// `kind 0x00 esc(target) 0x01` (an escaped key holds no `0x00`, so only `target`'s edges have the
/// first as a prefix, and every other key is outside).
pub fn into_target(kind: Kind, target: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut start = Vec::with_capacity(target.len().saturating_add(3));
    start.push(kind.byte());
    start.push(0);
    escape_into(&mut start, target);
    let mut end = start.clone();
    start.push(0);
    end.push(1);
    (start, end)
}

/// `[start, end)` of the edge keys of `kind` whose target is in `[lo, hi)` (`hi` `None`: no upper
/// bound). `lo` and `hi` are any bytes (a listing's `… prefix 0xFF` too).
pub fn targets_between(kind: Kind, lo: &[u8], hi: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let mut start = Vec::with_capacity(lo.len().saturating_add(2));
    start.push(kind.byte());
    start.push(0);
    escape_into(&mut start, lo);
    let end = match hi {
        Some(hi) => {
            let mut end = Vec::with_capacity(hi.len().saturating_add(2));
            end.push(kind.byte());
            end.push(0);
            escape_into(&mut end, hi);
            end
        }
        None => alloc::vec![kind.byte(), 1],
    };
    (start, end)
}

/// One edge: `source` lists `target` (kind `kind`), as the source's row of order `order` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// `i` or `s`.
    pub kind: Kind,
    /// The target's serving key.
    pub target: Vec<u8>,
    /// The source's serving key.
    pub source: Vec<u8>,
    /// The order of the source row that lists the target.
    pub order: Order,
}

impl Edge {
    /// The `_lookup` key ([`edge_key`]).
    pub fn key(&self) -> Vec<u8> {
        edge_key(self.kind, &self.target, &self.source)
    }

    /// The `_lookup` cell: `key 0x00 {"ts","seq","src","pos","del":false}` (an entry of format 1,
    /// the other members absent: null).
    pub fn cell(&self) -> Vec<u8> {
        let mut cell = self.key();
        cell.push(0);
        let o = self.order;
        cell.extend_from_slice(
            format!("{{\"ts\":{},\"seq\":{},\"src\":{},\"pos\":{},\"del\":false}}", o.ts, o.seq, o.source, o.pos).as_bytes(),
        );
        cell
    }

    /// The serving-table entry of the edge's row (`None` only if the target or source held a
    /// byte sequence that is not UTF-8, which no serving key does).
    pub fn entry(&self) -> Option<Entry> {
        Entry::decode(&self.cell())
    }

    /// The edge of a serving-table entry of the edge table; `None` when its key is not an edge key.
    pub fn of_entry(entry: &Entry) -> Option<Edge> {
        Edge::of_key(&entry.key, entry.order)
    }

    /// The edge of an edge key and its order.
    pub fn of_key(k: &[u8], order: Order) -> Option<Edge> {
        let (kind, target, source) = split_edge_key(k)?;
        Some(Edge { kind, target, source, order })
    }

    /// Whether the edge is valid given its source's current order ([`valid`]).
    pub fn is_valid(&self, current: Option<Order>) -> bool {
        valid(self.order, current)
    }
}

/// Whether an edge of order `edge` is valid: its source's current row (`None`: no row) has
/// exactly that order — the newest version of the source is the one that lists the target. A
/// source rewritten since (without the ref, or with it: its own newer edge says so), deleted or
/// expired, makes the edge stale. The caller gets `current` from a serving lookup (`Hit::order`)
/// or the tail ([`order_of_found`] with the table's index). Valid is not live: a row the compactor
/// turned into a retention tombstone keeps its order, and a valid edge's source may be expired by
/// the policy, so the caller still judges the source's row (deleted, expired) as for any read.
pub fn valid(edge: Order, current: Option<Order>) -> bool {
    current == Some(edge)
}

/// The empty edge table of a serving root (its version, metadata and sources).
pub fn empty(serving: &Root) -> Root {
    let mut root = Root::empty(serving.metadata.clone(), serving.sources.clone());
    root.version = serving.version;
    root
}

/// The root member that holds the edge table.
pub const MEMBER: &str = "edges";

/// The serving root's JSON with the edge table as its `edges` member (left out when the edge
/// table has no files and no merge cursor). The member is a root of its own (`format`, `version`,
/// `files`, `merge_cursor`) without sources or metadata: those are the serving root's.
pub fn root_json(serving: &Root, edges: &Root) -> String {
    let mut json = serving.to_json();
    if edges.files.is_empty() && edges.merge_cursor.is_none() {
        return json;
    }
    let member = Root { metadata: String::new(), sources: Vec::new(), range: None, version: serving.version, ..edges.clone() };
    if json.ends_with('}') {
        json.pop();
        json.push_str(",\"");
        json.push_str(MEMBER);
        json.push_str("\":");
        json.push_str(&member.to_json());
        json.push('}');
    }
    json
}

#[derive(Deserialize)]
struct WithEdges {
    #[serde(default)]
    edges: Option<serde_json::Value>,
}

/// The edge table committed with `serving` (parsed from the same bytes): its files and merge
/// cursor, with the serving root's version, metadata and sources (`_source` indexes them). No
/// `edges` member: an empty edge table. A member that is not a valid root is an error, as a
/// malformed root is.
pub fn edge_root(root_bytes: &[u8], serving: &Root) -> Result<Root, String> {
    let w: WithEdges = serde_json::from_slice(root_bytes).map_err(|e| format!("not a serving root: {e}"))?;
    let Some(member) = w.edges else { return Ok(empty(serving)) };
    let bytes = serde_json::to_vec(&member).map_err(|e| format!("edges: {e}"))?;
    let mut root = Root::parse(&bytes).map_err(|e| format!("edges: {e}"))?;
    if root.version != serving.version {
        return Err(format!("edges: version {} in the root of version {}", root.version, serving.version));
    }
    root.metadata = serving.metadata.clone();
    root.sources = serving.sources.clone();
    Ok(root)
}

#[cfg(feature = "reader")]
pub use read::{order_of_found, scan, sources_of, superseded_in, Scan};

#[cfg(feature = "reader")]
mod read {
    use alloc::string::ToString;
    use alloc::vec::Vec;

    use super::{into_target, targets_between, Edge, Kind};
    use crate::locate::{Cost, Found, LocateError, ObjectStore};
    use crate::serving::order::Order;
    use crate::serving::range::range;
    use crate::serving::root::Root;

    /// What one [`scan`] read.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Scan {
        /// The edges of `[start, resume)` (or `[start, end)` when done), newest per edge key, in
        /// key order: by kind, target, source. Stale ones included: see [`super::valid`].
        pub edges: Vec<Edge>,
        /// Where the next call starts (an edge key, inclusive); `None`: done.
        pub resume: Option<Vec<u8>>,
        /// `_lookup` pages read.
        pub pages: usize,
    }

    /// The edges with keys in `[start, end)` of the edge table `edges` ([`super::edge_root`]),
    /// read with the serving table's range reader: at most `max_pages` `_lookup` pages (more only
    /// to move past `start`) and about `max_edges` edges a call.
    pub async fn scan<S: ObjectStore>(
        store: &S,
        edges: &Root,
        start: &[u8],
        end: &[u8],
        max_pages: usize,
        max_edges: usize,
        cost: &mut Cost,
    ) -> Result<Scan, LocateError> {
        let rows = range(store, edges, start, end, max_pages, max_edges.max(1), cost).await?;
        let mut out = Vec::with_capacity(rows.rows.len());
        for (k, hit) in rows.rows {
            let edge = Edge::of_key(&k, hit.order).ok_or_else(|| LocateError::Corrupt {
                key: hit.found.file_key.clone(),
                reason: "an edge table row whose key is not an edge key".to_string(),
            })?;
            out.push(edge);
        }
        Ok(Scan { edges: out, resume: rows.resume, pages: rows.pages })
    }

    /// The sources with an edge of `kind` into `target` (a serving key), by source key, at most
    /// `limit` (ask for one more to know whether there are more), each with the order of the row
    /// that made the edge: valid only if the source's current row has that order
    /// ([`super::valid`]). Cost: the edge table's `_lookup` pages of the range (one, or two when
    /// it straddles a page) plus one per L0 run of the edge table that overlaps it.
    pub async fn sources_of<S: ObjectStore>(
        store: &S,
        edges: &Root,
        kind: Kind,
        target: &[u8],
        limit: usize,
        cost: &mut Cost,
    ) -> Result<Vec<(Vec<u8>, Order)>, LocateError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (start, end) = into_target(kind, target);
        let found = scan(store, edges, &start, &end, usize::MAX, limit, cost).await?;
        Ok(found.edges.into_iter().take(limit).map(|e| (e.source, e.order)).collect())
    }

    /// Every `s` edge whose target is in `[lo, hi)` (serving keys; `hi` `None`: unbounded): what
    /// a listing page's status filter needs (a target with a valid edge from a live source is
    /// superseded). Bounded by `max_pages` `_lookup` pages: when [`Scan::resume`] is set, the
    /// edges of targets from there on were not read (call [`scan`] from it).
    pub async fn superseded_in<S: ObjectStore>(
        store: &S,
        edges: &Root,
        lo: &[u8],
        hi: Option<&[u8]>,
        max_pages: usize,
        cost: &mut Cost,
    ) -> Result<Scan, LocateError> {
        let (start, end) = targets_between(Kind::Supersedes, lo, hi);
        scan(store, edges, &start, &end, max_pages, usize::MAX, cost).await
    }

    /// The order of a row the locator found in source table `source` (its index in the root's
    /// `sources`): the serving table's `_pos` is the locator's position and `_seq` its data
    /// sequence number, so a tail row and its serving row have the same order.
    pub fn order_of_found(found: &Found, source: u32) -> Order {
        Order { ts: found.order.ts, seq: found.order.sequence_number, source, pos: found.order.position }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
