//! The worker's vars (wrangler/compact.toml) and the sources they name.
//!
//! The sources are serve's tables in serve's order (`serve-worker/src/tables.rs`,
//! `Tables::source_ids`): the root's `sources` must equal them or serve falls back. Table roots
//! (`TABLE_ROOTS`) by their bucket prefix; with `CATALOG_URL` set, the catalog tables
//! (`TABLE_PREVIEW/BUILD/BULK` in `CATALOG_NAMESPACE`) as `catalog:<table>`, whose metadata the
//! worker resolves with `loadTable` before each run ([`crate::catalog`]).

use shared::serving::split::{self, Split};
use worker::Env;

/// Source rows one run absorbs unless `COMPACT_MAX_ROWS` says otherwise: a run holds them in the
/// isolate's 128 MB (natively 200,000 rows peak at ~560 MB).
pub const MAX_ROWS: u64 = 20_000;
/// Rows per serving file unless `SERVING_FILE_ROWS` says otherwise (a merge step holds up to
/// four files' rows).
pub const FILE_ROWS: usize = 10_000;
/// About this many bytes of values per serving file.
pub const FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The REST catalog (R2 Data Catalog), as serve reads it.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// `CATALOG_URL` without a trailing `/`.
    pub url: String,
    /// `CATALOG_WAREHOUSE`.
    pub warehouse: String,
    /// `CATALOG_NAMESPACE`.
    pub namespace: String,
    /// `TABLE_PREVIEW/BUILD/BULK`, the empty ones left out.
    pub tables: Vec<String>,
    /// Secret `CATALOG_TOKEN` (a var of that name in dev).
    pub token: Option<String>,
}

/// Everything a run needs from the vars.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SERVING_ROOT` (empty or `off`: the worker does nothing).
    pub serving_root: String,
    /// The range tables (`SERVING_SPLITS`), or why the boundaries are refused.
    pub splits: Result<Vec<Split>, String>,
    /// `TABLE_ROOTS`.
    pub roots: Vec<String>,
    /// The catalog, when `CATALOG_URL` is set.
    pub catalog: Option<Catalog>,
    /// `LOCATION_PREFIX` (comma-separated): prefixes of the sources' absolute locations.
    pub location_prefixes: Vec<String>,
    /// Prefix of the serving table's own locations (`WAREHOUSE_LOCATION`, else the first
    /// `LOCATION_PREFIX`, else `s3://artifacts-warehouse/`).
    pub location: String,
    /// `SERVING_FILE_ROWS`.
    pub file_rows: usize,
    /// `COMPACT_MAX_ROWS`.
    pub max_rows: u64,
    /// `SERVING_GRACE_SECONDS`: how long files a run drops stay readable (unset: the compactor's
    /// default).
    pub grace_seconds: Option<u64>,
    /// `RETENTION_GRACE_SECONDS`: how long after its own `expires_at` a row stays in the serving
    /// table (#18; unset: the compactor's default, 7 days).
    pub retention_grace_seconds: Option<u64>,
    /// `RANGE_RUNS_PER_INVOCATION` (default 1): run orders one queue invocation runs at once; the
    /// rest of its batch goes back on the queue for other invocations.
    pub runs_per_invocation: usize,
}

fn var(env: &Env, name: &str) -> String {
    env.var(name).map(|v| v.to_string()).unwrap_or_default().trim().to_string()
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

impl Settings {
    /// From the environment.
    pub fn from_env(env: &Env) -> Settings {
        let serving_root = var(env, "SERVING_ROOT").trim_matches('/').to_string();
        let url = var(env, "CATALOG_URL").trim_end_matches('/').to_string();
        let catalog = (!url.is_empty()).then(|| Catalog {
            url,
            warehouse: var(env, "CATALOG_WAREHOUSE"),
            namespace: var(env, "CATALOG_NAMESPACE"),
            tables: ["TABLE_PREVIEW", "TABLE_BUILD", "TABLE_BULK"].iter().map(|n| var(env, n)).filter(|t| !t.is_empty()).collect(),
            token: env
                .secret("CATALOG_TOKEN")
                .ok()
                .map(|s| s.to_string())
                .or_else(|| env.var("CATALOG_TOKEN").ok().map(|v| v.to_string()))
                .filter(|t| !t.is_empty()),
        });
        let location_prefixes = list(&var(env, "LOCATION_PREFIX"));
        let location = Some(var(env, "WAREHOUSE_LOCATION"))
            .filter(|l| !l.is_empty())
            .or_else(|| location_prefixes.first().cloned())
            .unwrap_or_else(|| "s3://artifacts-warehouse/".to_string());
        Settings {
            splits: split::parse(&serving_root, &var(env, "SERVING_SPLITS")),
            serving_root,
            roots: list(&var(env, "TABLE_ROOTS")).into_iter().map(|r| r.trim_end_matches('/').to_string()).collect(),
            catalog,
            location_prefixes,
            location,
            file_rows: var(env, "SERVING_FILE_ROWS").parse::<usize>().unwrap_or(FILE_ROWS).max(1),
            max_rows: var(env, "COMPACT_MAX_ROWS").parse::<u64>().unwrap_or(MAX_ROWS).max(1),
            grace_seconds: var(env, "SERVING_GRACE_SECONDS").parse::<u64>().ok(),
            retention_grace_seconds: var(env, "RETENTION_GRACE_SECONDS").parse::<u64>().ok(),
            runs_per_invocation: var(env, "RANGE_RUNS_PER_INVOCATION").parse::<usize>().unwrap_or(1).max(1),
        }
    }

    /// Whether the serving table is configured at all.
    pub fn on(&self) -> bool {
        !self.serving_root.is_empty() && self.serving_root != "off"
    }

    /// How many range tables there are (0 when the splits are refused or serving is off).
    pub fn ranges(&self) -> usize {
        match &self.splits {
            Ok(s) if self.on() => s.len(),
            _ => 0,
        }
    }

    /// The source ids in serve's order: table roots, then `catalog:<table>`.
    pub fn source_ids(&self) -> Vec<String> {
        let catalog = self.catalog.iter().flat_map(|c| c.tables.iter().map(|t| format!("catalog:{t}")));
        self.roots.iter().cloned().chain(catalog).collect()
    }

    /// Prefixes that map the sources' locations to keys (the serving table's own first).
    pub fn source_prefixes(&self) -> Vec<String> {
        let mut out = vec![self.location.clone()];
        out.extend(self.location_prefixes.iter().filter(|p| **p != self.location).cloned());
        out
    }
}
