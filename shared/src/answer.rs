//! serve's answer to a content read, decided here and tested natively; the worker routes, binds,
//! caches (Cache API) and does the I/O.
//!
//! One read is: the newest row across the configured tables ([`Reads::newest`]), who may read it
//! and who the answer may be shared with ([`decide`]: visibility, the current-row rule for
//! `@version`, the cache scope, `.json` owner hiding, the `ETag`, the dedupe key), then the
//! representation ([`Reads::answer`]; the `.json` record layout is [`record_json`]). The object
//! store, the tables ([`Catalog`]) and the HTML rewriter ([`Html`]) are the caller's.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Future;

use serde_json::{Map, Value};

use crate::content::{self, ContentRef, Reader, Representation, Version};
use crate::iceberg::table_metadata::TableMetadata;
use crate::locate::{self, At, Cell, Cost, Found, LocateError, ObjectStore, Table, Wanted};
use crate::problem::Problem;
use crate::record::{Content, Mode, Visibility, COLUMNS};

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
    Some(Decision { visibility, scope, private, show_owner, etag, dedupe, owner_org, sanitize })
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

impl<S: ObjectStore, C: Catalog, H: Html> Reads<'_, S, C, H> {
    /// The newest row for `c` at `at` across the configured tables, and its table's metadata.
    pub async fn newest(&self, c: &ContentRef, at: &At, cost: &mut Cost) -> Result<Option<(Found, Rc<TableMetadata>)>, Problem> {
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
        Ok(best)
    }

    /// The live rows of `ns`/`ty` across the configured tables, newest per id, in id order.
    pub async fn list(&self, ns: &str, ty: &str, cost: &mut Cost) -> Result<BTreeMap<String, Found>, Problem> {
        let keys = self.catalog.metadata_keys().await?;
        let mut merged: BTreeMap<String, Found> = BTreeMap::new();
        for key in keys {
            let metadata = self.catalog.metadata(&key).await?;
            let table = Table { metadata: &metadata, location_prefix: self.catalog.prefix_for(&metadata.location) };
            for (id, f) in locate::list(self.store, &table, ns, ty, &At::Current, cost).await? {
                if merged.get(&id).is_none_or(|b| content::newer_across_tables(f.order, b.order)) {
                    merged.insert(id, f);
                }
            }
        }
        Ok(merged)
    }

    /// The answer to `reader` for `c`: a body, a 404 problem, or an upstream failure.
    pub async fn answer(&self, c: &ContentRef, reader: Reader<'_>, cost: &mut Cost) -> Result<Answer, Problem> {
        let Some((found, metadata)) = self.newest(c, &at(c.version), cost).await? else { return Ok(Answer::Problem(not_found(c))) };
        // Refused before the current row is read (a `@version` needs both).
        if !readable(&found, visibility_of(&found, self.policy.unowned_visibility), &c.ns, reader) {
            return Ok(Answer::Problem(not_found(c)));
        }
        let current = match c.version {
            Version::Latest => None,
            _ => match self.newest(c, &At::Current, cost).await? {
                Some((current, _)) => Some(current),
                None => return Ok(Answer::Problem(not_found(c))),
            },
        };
        let Some(d) = decide(c, reader, &found, current.as_ref(), self.policy) else { return Ok(Answer::Problem(not_found(c))) };
        let table = Table { metadata: &metadata, location_prefix: self.catalog.prefix_for(&metadata.location) };
        let mode = mode_of(&metadata.location);
        let body = |content_type: &str, body: String, csp: Option<&str>| {
            Answer::Body(Body {
                status: 200,
                content_type: content_type.into(),
                body,
                etag: d.etag.clone(),
                private: d.private,
                scope: d.scope.clone(),
                csp: csp.map(String::from),
                ts: found.ts,
                dedupe: d.dedupe.clone(),
                owner_org: d.owner_org.clone(),
                mode: mode.clone(),
            })
        };
        let single = match c.representation {
            Representation::Text { column, content_type } => Some((column, content_type)),
            Representation::Json { column } => Some((column, "application/json")),
            Representation::Record => None,
        };
        let Some((column, content_type)) = single else {
            let names = record_columns(d.show_owner);
            let cells = locate::read_row(self.store, &table, &found, &names, cost).await?;
            return Ok(body("application/json", record_json(&names, cells), None));
        };
        match locate::read_value(self.store, &table, &found, column, cost).await? {
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

#[cfg(test)]
mod tests;
