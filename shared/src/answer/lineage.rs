//! Lineage and status (#18, docs/serve.md "Lineage"): which artifacts an artifact was built from
//! (`up`: its current row's `inputs`) and which were built from it (`down`: the edge table's `i`
//! edges into it, `shared::serving::edges`), and whether a live artifact supersedes it (`s`
//! edges). Every node is judged as a read is: a node the caller may not read, deleted or expired
//! is left out with its edges, and the walk does not pass through it, so a hidden node and a
//! missing one look the same.
//!
//! An edge is valid only while its source's newest row is the row that made it (the edge's order
//! equals the row's `(ts, data sequence number, position)`): a source rewritten without the ref,
//! or deleted, leaves a stale edge that is skipped. A source row still in the tail (committed,
//! not yet absorbed by the compactor) has no edges yet: `down` and `status` see it once the
//! compactor has run; `up` reads the current row, tail included.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use super::filter::Status;
use super::link;
use super::{readable, visibility_of, Catalog, Html, Origin, Reads, Trace, Winner};
use crate::content::{self, ContentRef, Reader, Version};
use crate::locate::{self, At, Cell, Cost, Layout, LocateError, ObjectStore, Table};
use crate::problem::Problem;
use crate::record::Visibility;
use crate::serving::edges::{self, Kind};
use crate::serving::order::Order;
use crate::serving::root::Root;

/// Deepest walk a request may ask for.
pub const MAX_DEPTH: u32 = 8;
/// Most nodes an answer holds (the start included): past it, `truncated`.
pub const MAX_NODES: usize = 200;

/// The edge tables of every serving table (one per key-range split), each as
/// `shared::serving::edges::edge_root` gives it (no edge files: an empty root).
#[allow(async_fn_in_trait)] // single-threaded callers (wasm, tests): no Send bound wanted
pub trait EdgeTables {
    /// The current edge tables (none: no serving table, so no `down` edges and no supersedes).
    fn edge_roots(&self) -> impl Future<Output = Result<Vec<Rc<Root>>, LocateError>>;
}

/// Which way the walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the artifacts it was built from (`inputs`).
    Up,
    /// To the artifacts built from it.
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

/// A node of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `ns/type/id`.
    pub reference: String,
    /// Its newest version's `ts` (µs).
    pub ts: i64,
    /// Its status.
    pub status: Status,
    /// Its visibility.
    pub visibility: Visibility,
}

/// A lineage answer: nodes in walk order (the start first), edges from input to output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// `(from, to)`: `from` is an input of `to`.
    pub edges: Vec<(String, String)>,
    /// The node cap was hit.
    pub truncated: bool,
}

/// `ns/type/id` of a serving key.
fn ref_of_key(key: &[u8]) -> Option<String> {
    let (ns, ty, id) = crate::serving::key::split(key)?;
    Some(format!("{ns}/{ty}/{id}"))
}

/// The order an edge compares with: the newest row's, whatever its source index (an edge made
/// from it carries its own source; two tables giving one key the same ts, sequence number and
/// position do not happen).
fn same_row(edge: Order, found: &locate::Found) -> bool {
    edge.ts == found.order.ts && edge.seq == found.order.sequence_number && edge.pos == found.order.position
}

impl<S: ObjectStore, C: Catalog + EdgeTables, H: Html> Reads<'_, S, C, H> {
    /// The newest row of `reference` if `reader` may read it now (live, visible, not expired),
    /// with its visibility; `None` otherwise (or not a valid ref).
    async fn node(&self, reference: &str, reader: Reader<'_>, cost: &mut Cost) -> Result<Option<(Winner, Visibility)>, Problem> {
        let Ok(c) = content::parse(&format!("{reference}.json")) else { return Ok(None) };
        if c.version != Version::Latest {
            return Ok(None);
        }
        let Some(winner) = self.newest(&c, &At::Current, cost, &mut Trace::default()).await? else { return Ok(None) };
        let visibility = visibility_of(&winner.found, self.policy.unowned_visibility);
        if !readable(&winner.found, visibility, &c.ns, reader) {
            return Ok(None);
        }
        let mode = super::origin_mode(&winner.origin);
        if self.expired(&c.ns, &c.ty, &winner.found, mode.as_deref()).await {
            return Ok(None);
        }
        Ok(Some((winner, visibility)))
    }

    /// The `inputs` of a node's newest row.
    async fn inputs_of(&self, winner: &Winner, cost: &mut Cost) -> Result<Vec<String>, Problem> {
        let cells = match &winner.origin {
            Origin::Table(metadata) => {
                let table = Table { metadata, location_prefix: self.catalog.prefix_for(&metadata.location) };
                locate::read_row_in(self.store, Layout::Table(&table), &winner.found, &["inputs"], cost).await?
            }
            Origin::Serving { index_offset, .. } => {
                locate::read_row_in(self.store, Layout::Serving { index_offset: *index_offset }, &winner.found, &["inputs"], cost).await?
            }
        };
        Ok(match cells.into_iter().next() {
            Some(Cell::List(items)) => items.into_iter().flatten().collect(),
            _ => Vec::new(),
        })
    }

    /// The sources of `kind` edges into `target` across every edge table, with their orders (at
    /// most `limit` a table), not yet validated.
    async fn edge_sources(&self, kind: Kind, target: &str, limit: usize, cost: &mut Cost) -> Result<Vec<(String, Order)>, Problem> {
        let Some(key) = edges::ref_key(target) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for root in self.catalog.edge_roots().await.map_err(Problem::from)? {
            for (source, order) in edges::sources_of(self.store, &root, kind, &key, limit, cost).await.map_err(Problem::from)? {
                if let Some(r) = ref_of_key(&source) {
                    out.push((r, order));
                }
            }
        }
        Ok(out)
    }

    /// The live artifacts `reader` may read that list `reference` in `supersedes` now: its
    /// successors, at most `limit`.
    pub async fn successors(&self, reference: &str, reader: Reader<'_>, limit: usize, cost: &mut Cost) -> Result<Vec<String>, Problem> {
        let mut out = Vec::new();
        for (source, order) in self.edge_sources(Kind::Supersedes, reference, limit, cost).await? {
            if out.len() >= limit {
                break;
            }
            if let Some((w, _)) = self.node(&source, reader, cost).await? {
                if same_row(order, &w.found) {
                    out.push(source);
                }
            }
        }
        Ok(out)
    }

    /// The links of an answer to `reader` shared with `audience` (#18, [`super::link`]): the live
    /// successors of `reference` whose `s` edge is valid (when `wanted.successors`, at most
    /// [`link::MAX_SUCCESSORS`]) and the live refs of the row's own `supersedes` (at most
    /// [`link::MAX_PREDECESSORS`] looked up), each one the caller may read and that
    /// [`link::may_link`] lets the answer name.
    pub(super) async fn links_of(
        &self,
        reference: &str,
        reader: Reader<'_>,
        audience: link::Audience<'_>,
        wanted: link::Wanted,
        supersedes: &[String],
        cost: &mut Cost,
    ) -> Result<(Vec<String>, Vec<String>), Problem> {
        let linkable = |r: &str, w: &Winner, visibility: Visibility| {
            let ns = r.split('/').next().unwrap_or_default();
            let owner_org = w.found.owner_org.as_deref().unwrap_or_default();
            link::may_link(audience, link::Target { visibility, owner_org, ns })
        };
        let mut successors: Vec<String> = Vec::new();
        if wanted.successors {
            let limit = link::MAX_SUCCESSORS.saturating_mul(2);
            for (source, order) in self.edge_sources(Kind::Supersedes, reference, limit, cost).await? {
                if successors.len() >= link::MAX_SUCCESSORS {
                    break;
                }
                // A row another tool wrote may hold any id: only refs the contract allows go into
                // a header (nothing to escape between `<` and `>`).
                if successors.contains(&source) || source == reference || crate::record::check_reference(&source).is_err() {
                    continue;
                }
                if let Some((w, vis)) = self.node(&source, reader, cost).await? {
                    if same_row(order, &w.found) && linkable(&source, &w, vis) {
                        successors.push(source);
                    }
                }
            }
        }
        let mut predecessors: Vec<String> = Vec::new();
        if wanted.predecessors {
            for r in supersedes.iter().take(link::MAX_PREDECESSORS) {
                if crate::record::check_reference(r).is_err() || r == reference || predecessors.contains(r) {
                    continue;
                }
                if let Some((w, vis)) = self.node(r, reader, cost).await? {
                    if linkable(r, &w, vis) {
                        predecessors.push(r.clone());
                    }
                }
            }
        }
        Ok((successors, predecessors))
    }

    /// The status of a readable artifact as `reader` sees it: superseded when a successor it may
    /// read is live (a hidden successor reveals nothing), else active.
    pub async fn status_of(&self, reference: &str, reader: Reader<'_>, cost: &mut Cost) -> Result<Status, Problem> {
        Ok(if self.successors(reference, reader, 1, cost).await?.is_empty() { Status::Active } else { Status::Superseded })
    }

    /// The lineage of `c` (a latest read) for `reader`; `None` when the start is not readable (the
    /// 404 of a missing artifact).
    pub async fn lineage(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        direction: Direction,
        depth: u32,
        max_nodes: usize,
        cost: &mut Cost,
    ) -> Result<Option<Lineage>, Problem> {
        let start = format!("{}/{}/{}", c.ns, c.ty, c.id);
        let Some((winner, visibility)) = self.node(&start, reader, cost).await? else { return Ok(None) };
        let mut out = Lineage { nodes: Vec::new(), edges: Vec::new(), truncated: false };
        let status = self.status_of(&start, reader, cost).await?;
        out.nodes.push(Node { reference: start.clone(), ts: winner.found.ts, status, visibility });
        // Every ref judged so far, and whether it is a node of the answer.
        let mut judged: Vec<(String, bool)> = alloc::vec![(start.clone(), true)];
        let mut queue: VecDeque<(String, Winner, u32)> = VecDeque::from([(start, winner, 0)]);
        while let Some((reference, winner, d)) = queue.pop_front() {
            if d >= depth {
                continue;
            }
            let neighbours: Vec<(String, Option<Order>)> = match direction {
                Direction::Up => self.inputs_of(&winner, cost).await?.into_iter().map(|r| (r, None)).collect(),
                Direction::Down => {
                    let limit = max_nodes.saturating_add(1);
                    self.edge_sources(Kind::Input, &reference, limit, cost).await?.into_iter().map(|(r, o)| (r, Some(o))).collect()
                }
            };
            for (next, edge_order) in neighbours {
                let known = judged.iter().find(|(r, _)| *r == next).map(|(_, shown)| *shown);
                let shown = match known {
                    Some(shown) => shown,
                    None => {
                        if out.nodes.len() >= max_nodes {
                            out.truncated = true;
                            break;
                        }
                        let node = self.node(&next, reader, cost).await?;
                        let node = node.filter(|(w, _)| edge_order.is_none_or(|o| same_row(o, &w.found)));
                        let shown = match node {
                            Some((w, vis)) => {
                                let status = self.status_of(&next, reader, cost).await?;
                                out.nodes.push(Node { reference: next.clone(), ts: w.found.ts, status, visibility: vis });
                                queue.push_back((next.clone(), w, d.saturating_add(1)));
                                true
                            }
                            None => false,
                        };
                        // A stale edge says nothing of the node: judge it again if another edge leads there.
                        if edge_order.is_none() || shown {
                            judged.push((next.clone(), shown));
                        }
                        shown
                    }
                };
                if shown {
                    let edge = match direction {
                        Direction::Up => (next.clone(), reference.clone()),
                        Direction::Down => (reference.clone(), next.clone()),
                    };
                    if !out.edges.contains(&edge) {
                        out.edges.push(edge);
                    }
                }
            }
            if out.truncated {
                break;
            }
        }
        Ok(Some(out))
    }
}
