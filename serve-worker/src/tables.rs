//! Which tables to read and their current metadata, cached in isolate memory.
//!
//! Table roots (`TABLE_ROOTS`, comma-separated bucket prefixes): the current metadata is named by
//! `metadata/version-hint.text` when present, else it is the highest-numbered
//! `metadata/*.metadata.json` (`v3.metadata.json`, `00005-<uuid>.metadata.json`). The REST
//! catalog (`CATALOG_URL`): `loadTable` names the current `metadata-location`. Parsed metadata is
//! kept for `METADATA_TTL_SECONDS`, keyed by its location.
//!
//! The serving table (`SERVING_ROOT`, empty: off): its pointer `metadata/version-hint.text` is
//! trusted for `METADATA_TTL_SECONDS` like the tables' pointers; the root it names
//! (`vN.serving.json`, create-only) is kept parsed for the isolate's life. The last root and
//! serving state a read saw are kept for `/$.health`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use shared::answer::{Catalog, Policy, Serving, Trace};
use shared::iceberg::table_metadata::TableMetadata;
use shared::locate::{key_for, LocateError, ObjectStore, StoreError};
use shared::serving::root::{root_key, Root};
use shared::serving::split::{self, KeyRange, Split};
use worker::{Date, Env};

use crate::store::R2;

/// Where the tables are and how long metadata is trusted.
pub struct Config {
    /// Table roots in the bucket.
    pub roots: Vec<String>,
    /// Location prefixes that map absolute locations to keys (`LOCATION_PREFIX`, comma-separated:
    /// tables written by different writers may use different URIs for the same bucket).
    pub location_prefixes: Vec<String>,
    /// Catalog base URL (empty: no catalog).
    pub catalog_url: String,
    /// Catalog warehouse, namespace and the three mode tables.
    pub catalog_warehouse: String,
    /// Catalog namespace.
    pub catalog_namespace: String,
    /// Table names in the catalog.
    pub catalog_tables: Vec<String>,
    /// Bearer token for the catalog.
    pub catalog_token: Option<String>,
    /// Cache lifetime of pointers and metadata, ms.
    pub ttl_ms: f64,
    /// The serving table's root in the bucket (`SERVING_ROOT`; empty: no serving table).
    pub serving_root: String,
    /// Its tables by key range (`SERVING_SPLITS`, `shared::serving::split`): one at
    /// `SERVING_ROOT` unless split; `Err`: the setting does not parse (every read falls back).
    pub serving_splits: Result<Vec<Split>, String>,
    /// `UNOWNED_VISIBILITY` (visibility of rows that have none: tables written by other tools)
    /// and `TRUSTED_ORGS` (comma-separated orgs whose *public* HTML runs unsanitised; default none:
    /// every tenant's HTML is sanitised, since all tenants share one origin).
    pub policy: Policy,
}

impl Config {
    /// The configured prefix `location` starts with (the first one when none does, so the error
    /// names the location).
    pub fn prefix_for(&self, location: &str) -> &str {
        self.location_prefixes
            .iter()
            .find(|p| location.starts_with(p.as_str()))
            .or(self.location_prefixes.first())
            .map_or("", String::as_str)
    }
}

fn var(env: &Env, name: &str) -> String {
    env.var(name).map(|v| v.to_string()).unwrap_or_default()
}

impl Config {
    /// From wrangler vars.
    pub fn from_env(env: &Env) -> Config {
        let list = |s: String| s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
        Config {
            roots: list(var(env, "TABLE_ROOTS")).into_iter().map(|r| r.trim_end_matches('/').to_string()).collect(),
            location_prefixes: list(var(env, "LOCATION_PREFIX")),
            catalog_url: var(env, "CATALOG_URL").trim_end_matches('/').to_string(),
            catalog_warehouse: var(env, "CATALOG_WAREHOUSE"),
            catalog_namespace: var(env, "CATALOG_NAMESPACE"),
            catalog_tables: ["TABLE_PREVIEW", "TABLE_BUILD", "TABLE_BULK"].iter().map(|n| var(env, n)).filter(|t| !t.is_empty()).collect(),
            catalog_token: env
                .secret("CATALOG_TOKEN")
                .ok()
                .map(|s| s.to_string())
                .or_else(|| env.var("CATALOG_TOKEN").ok().map(|v| v.to_string())),
            ttl_ms: var(env, "METADATA_TTL_SECONDS").trim().parse::<f64>().unwrap_or(5.0) * 1000.0,
            serving_root: var(env, "SERVING_ROOT").trim().trim_end_matches('/').to_string(),
            serving_splits: split::parse(var(env, "SERVING_ROOT").trim().trim_end_matches('/'), &var(env, "SERVING_SPLITS")),
            policy: Policy {
                unowned_visibility: shared::record::Visibility::parse(var(env, "UNOWNED_VISIBILITY").trim())
                    .unwrap_or(shared::record::Visibility::Public),
                trusted_orgs: list(var(env, "TRUSTED_ORGS")),
            },
        }
    }
}

thread_local! {
    /// Table root or catalog table → (fetched at, metadata key).
    static POINTERS: RefCell<HashMap<String, (f64, String)>> = RefCell::new(HashMap::new());
    /// Metadata key → (fetched at, parsed metadata).
    static METADATA: RefCell<HashMap<String, (f64, Rc<TableMetadata>)>> = RefCell::new(HashMap::new());
    /// Serving root key → parsed root (create-only: kept until replaced by a newer one).
    static ROOTS: RefCell<HashMap<String, Rc<Root>>> = RefCell::new(HashMap::new());
    /// The serving state of the last read that used the tables, and the last root seen.
    static LAST_SERVING: RefCell<(Serving, Option<Rc<Root>>)> = const { RefCell::new((Serving::Off, None)) };
    /// Roots (by their metadata location) whose files' index regions this isolate has fetched.
    static PREFETCHED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Whether this is the first time the isolate uses `root` (then the caller prefetches its index
/// regions, once); remembers the last few roots.
pub fn first_use(root: &Root) -> bool {
    PREFETCHED.with(|p| {
        let mut p = p.borrow_mut();
        if p.contains(&root.metadata) {
            return false;
        }
        if p.len() >= MAX_ROOTS {
            p.remove(0);
        }
        p.push(root.metadata.clone());
        true
    })
}

/// Roots kept parsed: the current one of each serving table (several with `SERVING_SPLITS`)
/// and a few a slow request may still use.
const MAX_ROOTS: usize = 16;

const MAX_CACHED: usize = 256;

fn fresh<T: Clone>(map: &'static std::thread::LocalKey<RefCell<HashMap<String, (f64, T)>>>, key: &str, ttl: f64) -> Option<T> {
    let now = Date::now().as_millis() as f64;
    map.with(|m| m.borrow().get(key).filter(|(at, _)| now - at < ttl).map(|(_, v)| v.clone()))
}

fn remember<T>(map: &'static std::thread::LocalKey<RefCell<HashMap<String, (f64, T)>>>, key: &str, value: T) {
    let now = Date::now().as_millis() as f64;
    map.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED {
            m.clear();
        }
        m.insert(key.to_string(), (now, value));
    });
}

/// The number in a metadata file name: `v12.metadata.json` → 12, `00005-uuid.metadata.json` → 5.
fn metadata_version(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".metadata.json")?;
    let stem = stem.strip_prefix('v').unwrap_or(stem);
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn store_err(key: &str) -> impl Fn(StoreError) -> LocateError + '_ {
    move |error| LocateError::Store { key: key.to_string(), error }
}

/// The current metadata key of a table root.
async fn root_pointer(r2: &R2, root: &str) -> Result<String, LocateError> {
    let hint_key = format!("{root}/metadata/version-hint.text");
    match r2.get(&hint_key, None).await {
        Ok(bytes) => {
            let hint = String::from_utf8_lossy(&bytes).trim().to_string();
            if hint.ends_with(".metadata.json") {
                return Ok(format!("{root}/metadata/{hint}"));
            }
            if hint.parse::<u64>().is_ok() {
                return Ok(format!("{root}/metadata/v{hint}.metadata.json"));
            }
            return Err(LocateError::Corrupt { key: hint_key, reason: "version hint is neither a number nor a file name".into() });
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(store_err(&hint_key)(e)),
    }
    let prefix = format!("{root}/metadata/");
    let keys = r2.inner().list(&prefix).await.map_err(store_err(&prefix))?;
    keys.into_iter()
        .filter_map(|k| Some((metadata_version(k.rsplit('/').next()?)?, k)))
        .max_by_key(|(v, _)| *v)
        .map(|(_, k)| k)
        .ok_or(LocateError::Store { key: prefix, error: StoreError::NotFound })
}

/// The current metadata key of a catalog table (REST `loadTable`).
async fn catalog_pointer(cfg: &Config, table: &str) -> Result<String, LocateError> {
    let url = format!("{}/v1/{}/namespaces/{}/tables/{table}", cfg.catalog_url, cfg.catalog_warehouse, cfg.catalog_namespace);
    let fail = |reason: String| LocateError::Corrupt { key: url.clone(), reason };
    let mut init = worker::RequestInit::new();
    let headers = worker::Headers::new();
    if let Some(token) = &cfg.catalog_token {
        let _ = headers.set("authorization", &format!("Bearer {token}"));
    }
    init.with_headers(headers);
    let req = worker::Request::new_with_init(&url, &init).map_err(|e| fail(e.to_string()))?;
    let mut res = worker::Fetch::Request(req).send().await.map_err(|e| fail(e.to_string()))?;
    if res.status_code() != 200 {
        return Err(fail(format!("catalog answered {}", res.status_code())));
    }
    let body: serde_json::Value = res.json().await.map_err(|e| fail(e.to_string()))?;
    let location = body.get("metadata-location").and_then(|v| v.as_str()).ok_or_else(|| fail("no metadata-location".into()))?;
    key_for(location, cfg.prefix_for(location))
}

/// Metadata keys of every configured table.
pub async fn current_metadata_keys(cfg: &Config, r2: &R2) -> Result<Vec<String>, LocateError> {
    let mut out = Vec::new();
    for root in &cfg.roots {
        let key = match fresh(&POINTERS, root, cfg.ttl_ms) {
            Some(k) => k,
            None => {
                let k = root_pointer(r2, root).await?;
                remember(&POINTERS, root, k.clone());
                k
            }
        };
        out.push(key);
    }
    if !cfg.catalog_url.is_empty() {
        for table in &cfg.catalog_tables {
            let id = format!("catalog:{table}");
            let key = match fresh(&POINTERS, &id, cfg.ttl_ms) {
                Some(k) => k,
                None => {
                    let k = catalog_pointer(cfg, table).await?;
                    remember(&POINTERS, &id, k.clone());
                    k
                }
            };
            out.push(key);
        }
    }
    Ok(out)
}

/// Parsed metadata for a key, from the isolate cache when fresh.
pub async fn metadata(cfg: &Config, r2: &R2, key: &str) -> Result<Rc<TableMetadata>, LocateError> {
    if let Some(m) = fresh(&METADATA, key, cfg.ttl_ms) {
        return Ok(m);
    }
    let bytes = r2.get(key, None).await.map_err(store_err(key))?;
    let parsed =
        TableMetadata::from_json(&bytes).map_err(|e| LocateError::Corrupt { key: key.to_string(), reason: e.description().into() })?;
    let parsed = Rc::new(parsed);
    remember(&METADATA, key, parsed.clone());
    Ok(parsed)
}

/// The serving table's current root key, from its pointer (a number `N` → `vN.serving.json`).
async fn serving_pointer(r2: &R2, root: &str) -> Result<String, LocateError> {
    let hint_key = format!("{root}/metadata/version-hint.text");
    let bytes = r2.get(&hint_key, None).await.map_err(store_err(&hint_key))?;
    let hint = String::from_utf8_lossy(&bytes).trim().to_string();
    match hint.parse::<u64>() {
        Ok(n) => Ok(root_key(root, n)),
        Err(_) => Err(LocateError::Corrupt { key: hint_key, reason: "the serving version hint is not a number".into() }),
    }
}

/// The current root of the serving table holding `key`, parsed, and the key range the
/// configuration gives that table (`None`: `SERVING_ROOT` is empty).
pub async fn serving_root(cfg: &Config, r2: &R2, key: &[u8]) -> Result<Option<(Rc<Root>, KeyRange)>, LocateError> {
    if cfg.serving_root.is_empty() {
        return Ok(None);
    }
    let splits =
        cfg.serving_splits.as_ref().map_err(|reason| LocateError::Corrupt { key: "SERVING_SPLITS".into(), reason: reason.clone() })?;
    let table = splits
        .get(split::index_of(splits, key))
        .ok_or_else(|| LocateError::Corrupt { key: "SERVING_SPLITS".into(), reason: "no table holds the key".into() })?;
    let range = if splits.len() == 1 { KeyRange::ALL } else { table.range() };
    let root = table_root(cfg, r2, &table.root).await?;
    Ok(Some((root, range)))
}

/// The current root of the serving table at `table` (a split's root).
async fn table_root(cfg: &Config, r2: &R2, table: &str) -> Result<Rc<Root>, LocateError> {
    let id = format!("serving:{table}");
    let missing = || {
        let key = format!("{table}/metadata/version-hint.text");
        LocateError::Store { key, error: StoreError::NotFound }
    };
    let key = match fresh(&POINTERS, &id, cfg.ttl_ms) {
        // No serving table yet (the compactor has not run): remembered for the TTL too, so the
        // fallback does not cost every read a pointer read.
        Some(k) if k.is_empty() => return Err(missing()),
        Some(k) => k,
        None => match serving_pointer(r2, table).await {
            Ok(k) => {
                remember(&POINTERS, &id, k.clone());
                k
            }
            Err(LocateError::Store { error: StoreError::NotFound, .. }) => {
                remember(&POINTERS, &id, String::new());
                return Err(missing());
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(root) = ROOTS.with(|r| r.borrow().get(&key).cloned()) {
        return Ok(root);
    }
    let bytes = r2.get(&key, None).await.map_err(store_err(&key))?;
    let root = Rc::new(Root::parse(&bytes).map_err(|reason| LocateError::Corrupt { key: key.clone(), reason })?);
    ROOTS.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= MAX_ROOTS {
            r.clear();
        }
        r.insert(key, root.clone());
    });
    Ok(root)
}

/// Remembers how a read used the serving table, for `/$.health` (reads that did not use it,
/// `@version` ones, change nothing).
pub fn note_serving(trace: &Trace) {
    if trace.serving == Serving::Off {
        return;
    }
    LAST_SERVING.with(|l| {
        let mut l = l.borrow_mut();
        l.0 = trace.serving.clone();
        if trace.root.is_some() {
            l.1 = trace.root.clone();
        }
    });
}

/// `/$.health`'s `serving` member: the last read's state (`off` when `SERVING_ROOT` is empty)
/// and the last root this isolate saw (version, sources and their watermarks and errors).
pub fn serving_health(cfg: &Config) -> serde_json::Value {
    if cfg.serving_root.is_empty() {
        return serde_json::json!({ "status": "off", "reason": null, "version": null, "sources": [] });
    }
    LAST_SERVING.with(|l| {
        let l = l.borrow();
        let reason = match &l.0 {
            Serving::Fallback(r) => Some(r.clone()),
            _ => None,
        };
        // Before any read: on (nothing has failed yet).
        let status = match l.0 {
            Serving::Off => "on",
            ref s => s.status(),
        };
        let sources: Vec<serde_json::Value> = l.1.as_ref().map_or_else(Vec::new, |root| {
            root.sources
                .iter()
                .map(|s| {
                    let watermark = s.snapshot_id.map(|id| serde_json::json!({ "snapshot_id": id, "sequence_number": s.sequence_number }));
                    serde_json::json!({ "id": s.id, "watermark": watermark, "error": s.error, "gap": s.gap })
                })
                .collect()
        });
        let tables = cfg.serving_splits.as_ref().map_or(0, Vec::len);
        serde_json::json!({ "status": status, "reason": reason, "version": l.1.as_ref().map(|r| r.version), "tables": tables, "sources": sources })
    })
}

/// The configured tables as the core's [`Catalog`], over this request's reads.
pub struct Tables<'a> {
    /// Where the tables are.
    pub cfg: &'a Config,
    /// The warehouse.
    pub r2: &'a R2,
    /// The tenants' settings (retention).
    pub tenants: &'a crate::tenants::Tenants,
}

impl Catalog for Tables<'_> {
    async fn metadata_keys(&self) -> Result<Vec<String>, LocateError> {
        current_metadata_keys(self.cfg, self.r2).await
    }

    async fn metadata(&self, key: &str) -> Result<Rc<TableMetadata>, LocateError> {
        metadata(self.cfg, self.r2, key).await
    }

    fn prefix_for(&self, location: &str) -> &str {
        self.cfg.prefix_for(location)
    }

    async fn serving_root(&self, key: &[u8]) -> Result<Option<(Rc<Root>, KeyRange)>, LocateError> {
        serving_root(self.cfg, self.r2, key).await
    }

    async fn retention(&self, org: &str) -> shared::retention::Retention {
        self.tenants.retention(org).await
    }

    fn now_us(&self) -> i64 {
        crate::read::now_us()
    }

    /// Table roots by their bucket prefix; catalog tables as `catalog:<table>` (the compactor
    /// names its sources by table root, so a catalog configuration falls back).
    fn source_ids(&self) -> Vec<String> {
        let catalog = self.cfg.catalog_tables.iter().filter(|_| !self.cfg.catalog_url.is_empty()).map(|t| format!("catalog:{t}"));
        self.cfg.roots.iter().cloned().chain(catalog).collect()
    }
}
