//! serve's answer to a content read, decided here and tested natively; the worker routes, binds,
//! caches (Cache API) and does the I/O.
//!
//! One read is: the newest row across the configured tables ([`Reads::newest`]), who may read it
//! and who the answer may be shared with ([`decide`]: visibility, the current-row rule for
//! `@version`, the cache scope, `.json` owner hiding, the `ETag`, the dedupe key), then the
//! representation ([`Reads::answer`]; the `.json` record layout is [`record_json`]). The object
//! store, the tables ([`Catalog`]) and the HTML rewriter ([`Html`]) are the caller's.
//!
//! With a serving table (`docs/design/serving-table.md`), a latest read is the newest of the
//! serving-table lookup and the tail (each source's snapshots after the root's watermark); any
//! serving error falls back to reading the source tables whole, as without it ([`Trace`] says
//! which path answered and why).

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Future;

use serde_json::{Map, Value};

use crate::content::{self, ContentRef, Reader, Representation, Version};
use crate::iceberg::table_metadata::TableMetadata;
use crate::locate::{self, At, Cell, Cost, Found, Layout, LocateError, ObjectStore, Table, Wanted, Watermark};
use crate::problem::Problem;
use crate::record::{Content, Mode, Visibility, COLUMNS};
use crate::retention::Retention;
use crate::serving::lookup::{self, Hit};
use crate::serving::order::Order;
use crate::serving::root::Root;
use crate::serving::split::KeyRange;
use lineage::EdgeTables;

/// What the cache stores and the client gets, before headers are chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// The representation.
    pub body: String,
    /// `ETag` (strong, quoted).
    pub etag: String,
    /// Answered `private` (not shared by clients and CDNs).
    pub private: bool,
    /// Cache scope: `public`, `org:<org>` or `user:<org>:<sub>` (see `crate::cache_key`).
    pub scope: String,
    /// `Content-Security-Policy` (HTML only).
    pub csp: Option<String>,
    /// `ts` of the row it was made from (µs).
    pub ts: i64,
    /// Dedupe key of the row it was made from (`crate::record::dedupe_key_of`).
    pub dedupe: String,
    /// The owner's org (tenant cache settings).
    pub owner_org: String,
    /// The mode of the table the row came from (`preview`, `build`, `bulk`), when known.
    pub mode: Option<String>,
    /// `Repr-Digest` of `body` (`crate::download::repr_digest`).
    pub digest: String,
    /// When the artifact expires (µs; retention or its `expires_at`): cache windows end there.
    pub expires: Option<i64>,
    /// `Link` header values (#18, [`link`]): its successors and predecessors the answer may name.
    pub links: Vec<String>,
}

/// The result of reading the tables for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A representation.
    Body(Body),
    /// A problem that is not an upstream failure (404s).
    Problem(Problem),
}

/// Upstream failures: 502 naming the object, location or feature at fault.
impl From<LocateError> for Problem {
    fn from(e: LocateError) -> Problem {
        let p = Problem::new(502, "bad-upstream-object", "Bad Gateway", e.to_string());
        match e {
            LocateError::Store { key, .. } | LocateError::Corrupt { key, .. } => p.with("key", key),
            LocateError::OutsideWarehouse(l) => p.with("location", l),
            LocateError::Unsupported(what) => p.with("feature", what),
        }
    }
}

/// The one answer for "missing", "tombstoned" and "not yours": nothing may tell them apart.
pub fn not_found(c: &ContentRef) -> Problem {
    Problem::new(404, "not-found", "Not Found", alloc::format!("no artifact {}/{}/{}", c.ns, c.ty, c.id))
}

/// Operator settings the decisions depend on.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Visibility of rows that have none (tables written by other tools).
    pub unowned_visibility: Visibility,
    /// Orgs whose *public* HTML runs unsanitised.
    pub trusted_orgs: Vec<String>,
}

/// The configured tables: their current metadata keys, their parsed metadata (cached as the
/// caller likes) and the location prefix that maps their absolute locations to keys.
#[allow(async_fn_in_trait)] // single-threaded callers (wasm, tests): no Send bound wanted
pub trait Catalog {
    /// The current metadata key of every configured table, in the order they are read.
    fn metadata_keys(&self) -> impl Future<Output = Result<Vec<String>, LocateError>>;
    /// The parsed metadata at `key`.
    fn metadata(&self, key: &str) -> impl Future<Output = Result<Rc<TableMetadata>, LocateError>>;
    /// The configured prefix of `location`.
    fn prefix_for(&self, location: &str) -> &str;
    /// The current root of the serving table that holds `key` and the key range the
    /// configuration gives that table (`SERVING_SPLITS`, [`crate::serving::split`]; every key
    /// when unsplit); `None`: no serving table configured. The pointer is trusted for the
    /// metadata TTL, the root (create-only) for as long as the caller likes.
    fn serving_root(&self, key: &[u8]) -> impl Future<Output = Result<Option<(Rc<Root>, KeyRange)>, LocateError>> {
        let _ = key;
        async { Ok(None) }
    }
    /// The id of every configured table as a serving root names its sources (the table root),
    /// in [`Catalog::metadata_keys`] order.
    fn source_ids(&self) -> Vec<String> {
        Vec::new()
    }
    /// The retention policy `org`'s artifacts are read under (its tenant settings,
    /// [`crate::retention`]); default: everything is kept.
    fn retention(&self, org: &str) -> impl Future<Output = Retention> {
        let _ = org;
        async { Retention::default() }
    }
    /// Now, µs since the epoch: retention is decided at read time. Default: the beginning of
    /// time (nothing has expired).
    fn now_us(&self) -> i64 {
        i64::MIN
    }
}

/// Whether the serving table took part in a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Serving {
    /// No serving table configured (or an `@version` read: history reads the source tables).
    #[default]
    Off,
    /// The serving table and the tail answered.
    On,
    /// The serving table could not be used: the source tables answered whole, as without it.
    Fallback(String),
}

impl Serving {
    /// `on`, `off` or `fallback`.
    pub fn status(&self) -> &'static str {
        match self {
            Serving::Off => "off",
            Serving::On => "on",
            Serving::Fallback(_) => "fallback",
        }
    }
}

/// How one read was answered, for `Server-Timing` and `/$.health`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The serving table's part.
    pub serving: Serving,
    /// Where the answer's row came from: `serving` or `tail` (`None`: no row).
    pub source: Option<&'static str>,
    /// Reads of the serving table (pointer, root, index regions, pages, the value page).
    pub serving_reads: u32,
    /// Reads of the source tables (pointers, metadata, manifests, data files).
    pub tail_reads: u32,
    /// The tail's length: source snapshots committed after the serving table's watermarks (what
    /// the compactor has yet to absorb; 0 when it has caught up).
    pub tail_snapshots: u32,
    /// The serving root the read used, when it got one.
    pub root: Option<Rc<Root>>,
    /// What the ledger said (#17; [`Reads::answer_with_ledger`]), without the copy.
    pub ledger: pending::Ledger,
    /// Set by the caller: the links a latest read looks for (#18, [`link::Wanted`]; none by
    /// default). [`Reads::answer_with_ledger`] drops the successors when the ledger holds no
    /// successor stamp for the key.
    pub links: link::Wanted,
}

/// Where the winning row is and how to read its columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A source table, by its metadata.
    Table(Rc<TableMetadata>),
    /// A serving-table file; `mode` is its source's.
    Serving {
        /// Where the file's index region starts.
        index_offset: u64,
        /// The source table's mode.
        mode: Option<String>,
    },
}

/// The newest row for a read and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Winner {
    /// The row.
    pub found: Found,
    /// Where it is.
    pub origin: Origin,
}

/// Why the serving path did not answer: the serving table failed (fall back), or the read failed
/// as it would have without a serving table.
enum Fail {
    Serving(String),
    Problem(Problem),
}

impl From<Problem> for Fail {
    fn from(p: Problem) -> Fail {
        Fail::Problem(p)
    }
}

impl From<LocateError> for Fail {
    fn from(e: LocateError) -> Fail {
        Fail::Problem(e.into())
    }
}

/// A source table the tail reads: its index in the serving root, its current metadata and the
/// data sequence number the tail reads after (its watermark's).
struct TailSource {
    index: u32,
    metadata: Rc<TableMetadata>,
    after: i64,
}

/// The mode of the table a row came from.
fn origin_mode(origin: &Origin) -> Option<String> {
    match origin {
        Origin::Table(metadata) => mode_of(&metadata.location),
        Origin::Serving { mode, .. } => mode.clone(),
    }
}

impl TailSource {
    /// Snapshots it committed after the watermark.
    fn snapshots(&self) -> u32 {
        let n = self.metadata.snapshots.iter().filter(|s| s.sequence_number > self.after).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

fn serving_failed(e: LocateError) -> Fail {
    Fail::Serving(e.to_string())
}

/// Where an HTML page sits, for rewriting its links, and whether to sanitise it.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// Namespace.
    pub ns: &'a str,
    /// Type.
    pub ty: &'a str,
    /// The id's directory (`guide` for `guide/intro`; empty for a flat id).
    pub dir: &'a str,
    /// Sanitise (unless the owner's org is trusted and the page public).
    pub sanitize: bool,
}

/// The HTML rewriter (links, sanitising): the worker's.
pub trait Html {
    /// The rewritten page and its `Content-Security-Policy`, or why it could not be rewritten.
    fn rewrite(&self, html: &str, page: &Page<'_>) -> Result<(String, &'static str), String>;
}

/// A row's visibility. Our tables always carry one (a required column); a row without one comes
/// from a table another tool wrote and the operator listed, and gets `unowned`. A value that is
/// present but unknown is treated as the strictest, `user`.
pub fn visibility_of(found: &Found, unowned: Visibility) -> Visibility {
    match found.visibility.as_deref() {
        None => unowned,
        Some(v) => Visibility::parse(v).unwrap_or(Visibility::User),
    }
}

/// Whether `reader` may read `found` of namespace `ns` (live, and visible to it: read scopes
/// included, see `content::may_read`).
pub fn readable(found: &Found, visibility: Visibility, ns: &str, reader: Reader<'_>) -> bool {
    !found.deleted
        && content::may_read(visibility, ns, found.owner_org.as_deref().unwrap_or(""), found.owner_user.as_deref().unwrap_or(""), reader)
}

/// How many callers a visibility admits, fewest first (the cache scope of a versioned answer is
/// the narrower of the historic and the current row's).
pub fn breadth(v: Visibility) -> u8 {
    match v {
        Visibility::User => 0,
        Visibility::Org => 1,
        Visibility::Public | Visibility::Unlisted => 2,
    }
}

/// The mode a table serves: its location's last segment when it names one (`…/artifacts/build`).
pub fn mode_of(location: &str) -> Option<String> {
    let last = location.trim_end_matches('/').rsplit('/').next()?;
    Mode::ALL.into_iter().map(Mode::as_str).find(|m| *m == last).map(String::from)
}

/// Everything about an answer that does not depend on its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The row's visibility.
    pub visibility: Visibility,
    /// Who the answer may be shared with (`crate::cache_key::scope`).
    pub scope: String,
    /// The scope's breadth ([`Visibility::Public`] for `public`) and org: who may see its links.
    pub scope_visibility: Visibility,
    /// The scope's org (empty for `public`).
    pub scope_org: String,
    /// Answered `private`.
    pub private: bool,
    /// The `.json` record shows `owner_org`/`owner_user` (callers of the owner's org only).
    pub show_owner: bool,
    /// `"{content_hash}-{ts}-{visibility}[-o].{ext}"`.
    pub etag: String,
    /// The row's dedupe key (compared with the confirmed state before caching).
    pub dedupe: String,
    /// The owner's org.
    pub owner_org: String,
    /// HTML is sanitised (unless the owner's org is trusted and the page public).
    pub sanitize: bool,
}

/// Decides whether `reader` gets `found` (the newest row at the requested version) and how the
/// answer may be shared. `current` is the newest row now, needed for a `@version` request
/// (history is readable only by callers who may read the current state too: a version of an
/// artifact now deleted or hidden from the caller is missing, owners included, security issue 5)
/// and ignored otherwise. `None`: the 404 of a missing artifact.
pub fn decide(c: &ContentRef, reader: Reader<'_>, found: &Found, current: Option<&Found>, policy: &Policy) -> Option<Decision> {
    let visibility = visibility_of(found, policy.unowned_visibility);
    if !readable(found, visibility, &c.ns, reader) {
        return None;
    }
    let owner_org = found.owner_org.clone().unwrap_or_default();
    let owner_user = found.owner_user.clone().unwrap_or_default();
    // Who the answer may be shared with: the row's readers, narrowed below.
    let (mut scope_vis, mut scope_org, mut scope_user) = (visibility, owner_org.clone(), owner_user.clone());
    if c.version != Version::Latest {
        let current = current?;
        let now_visible = visibility_of(current, policy.unowned_visibility);
        if !readable(current, now_visible, &c.ns, reader) {
            return None;
        }
        if breadth(now_visible) < breadth(visibility) {
            scope_vis = now_visible;
            scope_org = current.owner_org.clone().unwrap_or_default();
            scope_user = current.owner_user.clone().unwrap_or_default();
        }
    }
    // Owners are shown only to callers in the owner's org with read scope for the namespace
    // (security issue 10); that variant of a public record is private to the org.
    let show_owner = reader.in_org(&c.ns, &owner_org);
    let record = c.representation == Representation::Record;
    if record && show_owner && breadth(scope_vis) == breadth(Visibility::Public) {
        scope_vis = Visibility::Org;
        scope_org = owner_org.clone();
    }
    let private = breadth(scope_vis) < breadth(Visibility::Public);
    let scope = crate::cache_key::scope(scope_vis, &scope_org, &scope_user);
    // The body of `.json` also carries ts and visibility, so the tag covers the version, not
    // only the content; the `.json` that shows owners has a tag of its own.
    let hash = found.content_hash.as_deref().unwrap_or("none");
    let variant = if record && show_owner { "-o" } else { "" };
    let etag = alloc::format!("\"{hash}-{}-{}{variant}.{}\"", found.ts, visibility.as_str(), c.ext);
    let dedupe = crate::record::dedupe_key_of(hash, visibility.as_str(), found.deleted, &owner_org, &owner_user);
    // Sanitised unless the owner's org is trusted and the page public (security issue 8: every
    // tenant's public HTML shares one origin).
    let sanitize = visibility != Visibility::Public || !policy.trusted_orgs.contains(&owner_org);
    let scope_org = if private { scope_org } else { String::new() };
    Some(Decision { visibility, scope, scope_visibility: scope_vis, scope_org, private, show_owner, etag, dedupe, owner_org, sanitize })
}

/// Whether a listing shows `found` to `reader`, and with which visibility: live, `public`, `org`
/// or `user` (unlisted artifacts are readable by URL but never listed), and readable by it.
pub fn listed(found: &Found, ns: &str, reader: Reader<'_>, policy: &Policy) -> Option<Visibility> {
    let visibility = visibility_of(found, policy.unowned_visibility);
    let listable = matches!(visibility, Visibility::Public | Visibility::Org | Visibility::User);
    (listable && readable(found, visibility, ns, reader)).then_some(visibility)
}

/// The columns of the `.json` record, in contract order (without the owners unless shown).
pub fn record_columns(show_owner: bool) -> Vec<&'static str> {
    COLUMNS.iter().map(|col| col.name).filter(|n| show_owner || !matches!(*n, "owner_org" | "owner_user")).collect()
}

/// The `.json` record: one member per column of `names` (as [`record_columns`] gives them) with
/// its cell: timestamps as RFC 3339, JSON columns as JSON values (kept as text when they do not
/// parse), lists as arrays, null as null.
pub fn record_json(names: &[&str], cells: Vec<Cell>) -> String {
    record_json_with(names, cells, None)
}

/// [`record_json`] with the artifact's `status` (#18) after the columns, when known (latest reads).
pub fn record_json_with(names: &[&str], cells: Vec<Cell>, status: Option<filter::Status>) -> String {
    let mut obj = Map::new();
    let columns = COLUMNS.iter().filter(|col| names.contains(&col.name));
    for (col, cell) in columns.zip(cells) {
        let v = match (col.name, col.content, cell) {
            (_, _, Cell::Null) => Value::Null,
            ("ts" | "expires_at", _, Cell::Long(us)) => Value::String(crate::time::format_micros(us)),
            (_, Content::Json | Content::JsonMeta, Cell::Text(t)) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
            (_, _, Cell::Text(t)) => Value::String(t),
            (_, _, Cell::Long(n)) => Value::from(n),
            (_, _, Cell::Bool(b)) => Value::Bool(b),
            (_, _, Cell::List(items)) => Value::Array(items.into_iter().map(|i| i.map_or(Value::Null, Value::String)).collect()),
        };
        obj.insert(col.name.into(), v);
    }
    if let Some(s) = status {
        obj.insert("status".into(), Value::String(s.as_str().into()));
    }
    Value::Object(obj).to_string()
}

fn at(version: Version) -> At {
    match version {
        Version::Latest => At::Current,
        Version::Snapshot(id) => At::Snapshot(id),
        Version::AsOf(us) => At::Time(us),
    }
}

/// What one request reads with: the object store, the tables, the policy and the HTML rewriter.
pub struct Reads<'a, S, C, H> {
    /// The warehouse.
    pub store: &'a S,
    /// The configured tables.
    pub catalog: &'a C,
    /// Operator settings.
    pub policy: &'a Policy,
    /// The HTML rewriter.
    pub html: &'a H,
}

impl<S: ObjectStore, C: Catalog + EdgeTables, H: Html> Reads<'_, S, C, H> {
    /// The newest row for `c` at `at` across the configured tables, and its table's metadata,
    /// reading every table (the path without a serving table, and every `@version` read).
    pub async fn newest_in_tables(&self, c: &ContentRef, at: &At, cost: &mut Cost) -> Result<Option<Winner>, Problem> {
        let keys = self.catalog.metadata_keys().await?;
        let wanted = Wanted { ns: &c.ns, ty: &c.ty, id: &c.id };
        let mut best: Option<(Found, Rc<TableMetadata>)> = None;
        for key in keys {
            let metadata = self.catalog.metadata(&key).await?;
            let table = Table { metadata: &metadata, location_prefix: self.catalog.prefix_for(&metadata.location) };
            let found = locate::locate(self.store, &table, wanted, at, cost).await?;
            if let Some(f) = found {
                if best.as_ref().is_none_or(|(b, _)| content::newer_across_tables(f.order, b.order)) {
                    best = Some((f, metadata.clone()));
                }
            }
        }
        Ok(best.map(|(found, metadata)| Winner { found, origin: Origin::Table(metadata) }))
    }

    /// When the artifact `found` (the newest row of `ns/ty/…`, from a table of `mode`) expires: its
    /// `expires_at`, else its `ts` plus its owner's retention for `(ns, type, mode)`.
    pub async fn expiry_of(&self, ns: &str, ty: &str, found: &Found, mode: Option<&str>) -> Option<i64> {
        let org = found.owner_org.as_deref().unwrap_or_default();
        let keep = match (org.is_empty(), mode.and_then(|m| Mode::parse(Some(m)))) {
            (false, Some(mode)) => self.catalog.retention(org).await.keep_us(ns, ty, Some(mode)),
            _ => None,
        };
        crate::retention::expiry(found.ts, found.expires_at, keep)
    }

    /// The store's reads so far (the locator's fetches when the store does not count them).
    fn reads(&self, cost: &Cost) -> u32 {
        self.store.reads_made().unwrap_or(cost.reads)
    }

    /// The newest row for `c` at `at`: from the serving table and the tail for a latest read
    /// when a serving table is configured (falling back to every table whole when it fails),
    /// else from every table. `trace` says which.
    pub async fn newest(&self, c: &ContentRef, at: &At, cost: &mut Cost, trace: &mut Trace) -> Result<Option<Winner>, Problem> {
        if matches!(at, At::Current) {
            let before = self.reads(cost);
            match self.newest_with_serving(c, cost, trace).await {
                Ok(Some(w)) => return Ok(w),
                Ok(None) => {}
                Err(Fail::Problem(p)) => return Err(p),
                Err(Fail::Serving(reason)) => {
                    trace.serving = Serving::Fallback(reason);
                    // What was read for the serving path is the serving path's cost.
                    trace.serving_reads = self.reads(cost).saturating_sub(before).saturating_sub(trace.tail_reads);
                }
            }
        }
        let before = self.reads(cost);
        let w = self.newest_in_tables(c, at, cost).await;
        trace.tail_reads = trace.tail_reads.saturating_add(self.reads(cost).saturating_sub(before));
        if let Ok(Some(_)) = &w {
            trace.source = Some("tail");
        }
        w
    }

    /// The root of the serving table that holds `key` (`Ok(None)`: no serving table) and its
    /// key range. The root must have been built from the configured tables in their order (a
    /// source's index is its place in the winner rule) and hold the range the configuration
    /// gives its table (a root of another split would answer for keys it never absorbed); kept
    /// in `trace`.
    async fn checked_root(&self, key: &[u8], trace: &mut Trace) -> Result<Option<(Rc<Root>, KeyRange)>, Fail> {
        let (root, range) = match self.catalog.serving_root(key).await {
            Ok(None) => return Ok(None),
            Ok(Some(r)) => r,
            Err(e) => return Err(serving_failed(e)),
        };
        trace.root = Some(root.clone());
        let ids = self.catalog.source_ids();
        if root.sources.len() != ids.len() || root.sources.iter().zip(&ids).any(|(s, id)| s.id != *id) {
            return Err(Fail::Serving(alloc::format!(
                "the serving root's sources ({}) are not the configured tables ({})",
                root.sources.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(","),
                ids.join(",")
            )));
        }
        if root.range.clone().unwrap_or(KeyRange::ALL) != range || !range.contains(key) {
            return Err(Fail::Serving(String::from("the serving root's key range is not the one SERVING_SPLITS gives its table")));
        }
        Ok(Some((root, range)))
    }

    /// The sources with something after `root`'s watermark (their current metadata is not the one
    /// the root absorbed last), each checked to hold nothing after it that the tail cannot read
    /// over the serving table (a delete or overwrite falls back).
    async fn tail_sources(&self, root: &Root) -> Result<Vec<TailSource>, Fail> {
        let keys = self.catalog.metadata_keys().await?;
        let mut out = Vec::new();
        for (i, (key, source)) in keys.iter().zip(&root.sources).enumerate() {
            if source.metadata.as_deref() == Some(key.as_str()) {
                continue;
            }
            let metadata = self.catalog.metadata(key).await?;
            let watermark = match (source.snapshot_id, source.sequence_number) {
                (Some(snapshot_id), Some(sequence_number)) => Some(Watermark { snapshot_id, sequence_number }),
                _ => None,
            };
            locate::appends_only_after(&metadata, watermark).map_err(|why| Fail::Serving(alloc::format!("{}: {why}", source.id)))?;
            let after = watermark.map_or(i64::MIN, |w| w.sequence_number);
            out.push(TailSource { index: u32::try_from(i).unwrap_or(u32::MAX), metadata, after });
        }
        Ok(out)
    }

    /// The serving path: `Ok(None)` when there is no serving table, `Ok(Some(winner))` when it
    /// answered, `Err(Fail::Serving)` to fall back.
    async fn newest_with_serving(&self, c: &ContentRef, cost: &mut Cost, trace: &mut Trace) -> Result<Option<Option<Winner>>, Fail> {
        let start = self.reads(cost);
        let key = crate::serving::key::key(&c.ns, &c.ty, &c.id);
        let Some((root, _)) = self.checked_root(&key, trace).await? else { return Ok(None) };
        let mut serving_reads = self.reads(cost).saturating_sub(start);
        // The tail: per source, what it committed after the watermark.
        let before = self.reads(cost);
        let wanted = Wanted { ns: &c.ns, ty: &c.ty, id: &c.id };
        let mut best: Option<(Order, Winner)> = None;
        let tails = self.tail_sources(&root).await?;
        trace.tail_snapshots = tails.iter().map(TailSource::snapshots).fold(0u32, u32::saturating_add);
        for tail in tails {
            let table = Table { metadata: &tail.metadata, location_prefix: self.catalog.prefix_for(&tail.metadata.location) };
            if let Some(f) = locate::locate_after(self.store, &table, wanted, tail.after, cost).await? {
                let order = Order { ts: f.order.ts, seq: f.order.sequence_number, source: tail.index, pos: f.order.position };
                if best.as_ref().is_none_or(|(b, _)| order > *b) {
                    best = Some((order, Winner { found: f, origin: Origin::Table(tail.metadata.clone()) }));
                }
            }
        }
        trace.tail_reads = self.reads(cost).saturating_sub(before);
        // The serving table.
        let before = self.reads(cost);
        let hit = lookup::lookup(self.store, &root, &key, cost).await.map_err(serving_failed)?;
        serving_reads = serving_reads.saturating_add(self.reads(cost).saturating_sub(before));
        trace.serving_reads = serving_reads;
        trace.serving = Serving::On;
        let mut source = "tail";
        if let Some(Hit { found, order, index_offset }) = hit {
            if best.as_ref().is_none_or(|(b, _)| order > *b) {
                let mode = usize::try_from(order.source).ok().and_then(|s| root.sources.get(s)).and_then(|s| s.mode.clone());
                best = Some((order, Winner { found, origin: Origin::Serving { index_offset, mode } }));
                source = "serving";
            }
        }
        if best.is_some() {
            trace.source = Some(source);
        }
        Ok(Some(best.map(|(_, w)| w)))
    }

    /// The rows of `ns`/`ty` across the configured tables, newest per id, in id order, each with
    /// the mode of its table.
    pub async fn list(&self, ns: &str, ty: &str, cost: &mut Cost) -> Result<BTreeMap<String, (Found, Option<String>)>, Problem> {
        let keys = self.catalog.metadata_keys().await?;
        let mut merged: BTreeMap<String, (Found, Option<String>)> = BTreeMap::new();
        for key in keys {
            let metadata = self.catalog.metadata(&key).await?;
            let mode = mode_of(&metadata.location);
            let table = Table { metadata: &metadata, location_prefix: self.catalog.prefix_for(&metadata.location) };
            for (id, f) in locate::list(self.store, &table, ns, ty, &At::Current, cost).await? {
                if merged.get(&id).is_none_or(|(b, _)| content::newer_across_tables(f.order, b.order)) {
                    merged.insert(id, (f, mode.clone()));
                }
            }
        }
        Ok(merged)
    }

    /// Whether the newest row `found` of `ns/ty` (from a table of `mode`) has expired: retention
    /// (#18) at read time, as for a read.
    pub async fn expired(&self, ns: &str, ty: &str, found: &Found, mode: Option<&str>) -> bool {
        crate::retention::expired(self.catalog.now_us(), self.expiry_of(ns, ty, found, mode).await)
    }

    /// The answer to `reader` for `c`: a body, a 404 problem, or an upstream failure; `trace`
    /// says how it was read. A serving-table file that fails while its value is read sends the
    /// read back to the source tables (as any other serving failure does).
    pub async fn answer(&self, c: &ContentRef, reader: Reader<'_>, cost: &mut Cost, trace: &mut Trace) -> Result<Answer, Problem> {
        let first = self.answer_once(c, reader, cost, trace).await;
        self.settle(c, reader, first, cost, trace).await
    }

    /// `first` as the answer, or, when a serving-table file failed while its value was read, the
    /// source tables' answer (as any other serving failure does).
    async fn settle(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        first: Result<Answer, Fail>,
        cost: &mut Cost,
        trace: &mut Trace,
    ) -> Result<Answer, Problem> {
        match first {
            Ok(a) => Ok(a),
            Err(Fail::Problem(p)) => Err(p),
            Err(Fail::Serving(reason)) => {
                let before = self.reads(cost);
                trace.serving = Serving::Fallback(reason);
                trace.source = None;
                let result = match self.newest_in_tables(c, &at(c.version), cost).await {
                    Ok(Some(w)) => {
                        trace.source = Some("tail");
                        let expires = self.expiry_of(&c.ns, &c.ty, &w.found, origin_mode(&w.origin).as_deref()).await;
                        if crate::retention::expired(self.catalog.now_us(), expires) {
                            return Ok(Answer::Problem(not_found(c)));
                        }
                        match self.answer_from(c, reader, w, None, expires, trace.links, cost).await {
                            Ok(a) => Ok(a),
                            Err(Fail::Problem(p)) => Err(p),
                            // Not reached: the source tables' rows are not serving reads.
                            Err(Fail::Serving(reason)) => Err(Problem::new(502, "bad-upstream-object", "Bad Gateway", reason)),
                        }
                    }
                    Ok(None) => Ok(Answer::Problem(not_found(c))),
                    Err(p) => Err(p),
                };
                trace.tail_reads = trace.tail_reads.saturating_add(self.reads(cost).saturating_sub(before));
                result
            }
        }
    }

    async fn answer_once(&self, c: &ContentRef, reader: Reader<'_>, cost: &mut Cost, trace: &mut Trace) -> Result<Answer, Fail> {
        let winner = self.newest(c, &at(c.version), cost, trace).await?;
        self.answer_winner(c, reader, winner, cost, trace).await
    }

    /// The answer from `winner`, the newest row at the version asked for (`None`: the 404).
    async fn answer_winner(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        winner: Option<Winner>,
        cost: &mut Cost,
        trace: &mut Trace,
    ) -> Result<Answer, Fail> {
        let Some(winner) = winner else { return Ok(Answer::Problem(not_found(c))) };
        // Refused before the current row is read (a `@version` needs both).
        if !readable(&winner.found, visibility_of(&winner.found, self.policy.unowned_visibility), &c.ns, reader) {
            return Ok(Answer::Problem(not_found(c)));
        }
        let current = match c.version {
            Version::Latest => None,
            _ => match self.newest_in_tables(c, &At::Current, cost).await? {
                Some(current) => Some(current),
                None => return Ok(Answer::Problem(not_found(c))),
            },
        };
        // Retention, at read time: an artifact whose current version has expired answers as a
        // deleted one, its history included.
        let now = current.as_ref().unwrap_or(&winner);
        let expires = self.expiry_of(&c.ns, &c.ty, &now.found, origin_mode(&now.origin).as_deref()).await;
        if crate::retention::expired(self.catalog.now_us(), expires) {
            return Ok(Answer::Problem(not_found(c)));
        }
        let current = current.map(|w| w.found);
        let before = self.reads(cost);
        let from_serving = matches!(winner.origin, Origin::Serving { .. });
        let answer = self.answer_from(c, reader, winner, current.as_ref(), expires, trace.links, cost).await;
        let spent = self.reads(cost).saturating_sub(before);
        if from_serving {
            trace.serving_reads = trace.serving_reads.saturating_add(spent);
        } else {
            trace.tail_reads = trace.tail_reads.saturating_add(spent);
        }
        answer
    }

    /// The representation of `winner` for `reader` (`current`: the newest row now, for a
    /// `@version` read) with the links `wanted` (#18; latest reads only). A read of a
    /// serving-table file that fails is [`Fail::Serving`].
    #[allow(clippy::too_many_arguments)]
    async fn answer_from(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        winner: Winner,
        current: Option<&Found>,
        expires: Option<i64>,
        wanted: link::Wanted,
        cost: &mut Cost,
    ) -> Result<Answer, Fail> {
        let Winner { found, origin } = winner;
        let Some(d) = decide(c, reader, &found, current, self.policy) else { return Ok(Answer::Problem(not_found(c))) };
        let (mode, metadata, serving) = match &origin {
            Origin::Table(metadata) => (mode_of(&metadata.location), Some(metadata.clone()), None),
            Origin::Serving { index_offset, mode } => (mode.clone(), None, Some(*index_offset)),
        };
        let table = metadata.as_ref().map(|m| Table { metadata: m, location_prefix: self.catalog.prefix_for(&m.location) });
        let layout = match &table {
            Some(t) => Layout::Table(t),
            None => Layout::Serving { index_offset: serving.unwrap_or_default() },
        };
        let failed = |e: LocateError| if serving.is_some() { serving_failed(e) } else { Fail::from(e) };
        let wanted = if c.version == Version::Latest { wanted } else { link::Wanted::default() };
        // The row's `supersedes` (for its predecessor links): in the record's cells, else read
        // with the value when the row may list any (a serving entry says whether it does).
        let with_supersedes = wanted.predecessors && found.lists_supersedes != Some(false);
        let (got, supersedes) = match c.representation {
            Representation::Text { column, .. } | Representation::Json { column } => {
                let columns: &[&str] = if with_supersedes { &[column, "supersedes"] } else { &[column] };
                let mut cells = locate::read_row_in(self.store, layout, &found, columns, cost).await.map_err(failed)?.into_iter();
                let value = match cells.next() {
                    Some(Cell::Text(s)) => Some(s),
                    _ => None,
                };
                (Got::Value(value), refs_of(cells.next()))
            }
            Representation::Record => {
                let names = record_columns(d.show_owner);
                let cells = locate::read_row_in(self.store, layout, &found, &names, cost).await.map_err(failed)?;
                let at = names.iter().position(|n| *n == "supersedes");
                let supersedes = if with_supersedes { refs_of(at.and_then(|i| cells.get(i)).cloned()) } else { Vec::new() };
                (Got::Record(cells), supersedes)
            }
        };
        let linked = self.linked(c, reader, &d, wanted, &supersedes, cost).await?;
        Ok(self.represent(c, &d, &found, mode, expires, got, linked)?)
    }

    /// The links of an answer decided as `d` (`supersedes`: its row's), when any are wanted.
    async fn linked(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        d: &Decision,
        wanted: link::Wanted,
        supersedes: &[String],
        cost: &mut Cost,
    ) -> Result<Option<Linked>, Problem> {
        if !wanted.any() {
            return Ok(None);
        }
        let reference = alloc::format!("{}/{}/{}", c.ns, c.ty, c.id);
        let audience = link::Audience { scope: d.scope_visibility, org: &d.scope_org, ns: &c.ns };
        let (successors, predecessors) = self.links_of(&reference, reader, audience, wanted, supersedes, cost).await?;
        Ok(Some(Linked { superseded: !successors.is_empty(), links: link::values(&successors, &predecessors, c.ext) }))
    }

    /// The representation `c` asks for, of the row `found` decided as `d`, from its cells `got`
    /// (read from a table, or taken from a pending copy's record JSON).
    #[allow(clippy::too_many_arguments)]
    fn represent(
        &self,
        c: &ContentRef,
        d: &Decision,
        found: &Found,
        mode: Option<String>,
        expires: Option<i64>,
        got: Got,
        linked: Option<Linked>,
    ) -> Result<Answer, Problem> {
        let (links, superseded) = linked.map_or((Vec::new(), None), |l| (l.links, Some(l.superseded)));
        // The `.json` of a superseded artifact says so: another ETag than its active one.
        let etag = match (c.representation, superseded) {
            (Representation::Record, Some(true)) => d.etag.replacen(".json\"", "-s.json\"", 1),
            _ => d.etag.clone(),
        };
        let body = |content_type: &str, body: String, csp: Option<&str>| {
            let digest = crate::download::repr_digest(body.as_bytes());
            Answer::Body(Body {
                status: 200,
                content_type: content_type.into(),
                body,
                etag: etag.clone(),
                private: d.private,
                scope: d.scope.clone(),
                csp: csp.map(String::from),
                ts: found.ts,
                dedupe: d.dedupe.clone(),
                owner_org: d.owner_org.clone(),
                mode: mode.clone(),
                digest,
                expires,
                links: links.clone(),
            })
        };
        let (column, content_type, value) = match (c.representation, got) {
            (Representation::Text { column, content_type }, Got::Value(v)) => (column, content_type, v),
            (Representation::Json { column }, Got::Value(v)) => (column, "application/json", v),
            (_, Got::Record(cells)) => {
                let status = superseded.map(|s| if s { filter::Status::Superseded } else { filter::Status::Active });
                return Ok(body("application/json", record_json_with(&record_columns(d.show_owner), cells, status), None));
            }
            (Representation::Record, Got::Value(_)) => return Ok(Answer::Problem(not_found(c))),
        };
        match value {
            Some(html) if column == "html" => {
                let page = Page { ns: &c.ns, ty: &c.ty, dir: c.id.rsplit_once('/').map_or("", |(d, _)| d), sanitize: d.sanitize };
                let (html, csp) = self.html.rewrite(&html, &page).map_err(|e| {
                    Problem::new(
                        500,
                        "html-rewrite-failed",
                        "Internal Server Error",
                        alloc::format!("the HTML could not be rewritten: {e}"),
                    )
                })?;
                Ok(body(content_type, html, Some(csp)))
            }
            Some(text) => Ok(body(content_type, text, None)),
            None => Ok(Answer::Problem(
                Problem::new(404, "field-missing", "Not Found", alloc::format!("{}/{}/{} has no {column}", c.ns, c.ty, c.id))
                    .with("field", column),
            )),
        }
    }
}

/// The links of an answer (#18) and whether it is superseded (a successor is linked).
struct Linked {
    links: Vec<String>,
    superseded: bool,
}

/// The refs of a `supersedes` cell (none when it is not a list).
fn refs_of(cell: Option<Cell>) -> Vec<String> {
    match cell {
        Some(Cell::List(items)) => items.into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}

/// A row's cells as [`Reads::represent`] takes them: one column's value, or the `.json` record's
/// columns ([`record_columns`] order).
enum Got {
    Value(Option<String>),
    Record(Vec<Cell>),
}

pub mod filter;
pub mod lineage;
pub mod link;
pub mod listing;
pub mod pending;

#[cfg(test)]
mod tests;
