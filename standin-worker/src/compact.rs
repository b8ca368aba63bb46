//! The serving table's compactor in the stand-in (#15): [`run`] over the `WAREHOUSE` bucket
//! ([`compactor::r2::R2`]), called after each commit (`/flush`, the commits `send`
//! triggers) and by `POST /compact` (which `make dev` calls on a timer when `TABLES` is set).
//!
//! Vars: `SERVING_ROOT` (empty or unset: no compaction), `TABLE_ROOTS` (the sources, in serve's
//! order; default the three mode tables), `LOCATION_PREFIX` (comma-separated prefixes of the
//! sources' locations; default `WAREHOUSE_LOCATION`), `SERVING_FILE_ROWS` (default 10,000, files of
//! about 8 MiB) and `COMPACT_MAX_ROWS` (default 20,000): a run's rows are in the isolate's memory.
//! `SERVING_GRACE_SECONDS` (default 900): the serving table's expiry grace period.
//! `RETENTION_GRACE_SECONDS` (default 7 days): how long after its own `expires_at` a row stays in
//! the serving table (#18).
//! `SERVING_SPLITS` (empty: one table): the serving table split by key range
//! (`shared::serving::split`), each range's table compacted in turn.

use std::cell::Cell;

use compactor::r2::R2;
use compactor::Config;
use serde_json::{json, Value};
use shared::record::Mode;
use shared::serving::split;
use worker::Env;

use crate::{now_ms, random_hex, var, ModeConfig};

/// Source rows one run absorbs unless `COMPACT_MAX_ROWS` says otherwise.
const STANDIN_MAX_ROWS: u64 = 20_000;
/// Rows per serving file unless `SERVING_FILE_ROWS` says otherwise.
const STANDIN_FILE_ROWS: usize = 10_000;
/// About this many bytes of values per serving file.
const STANDIN_FILE_BYTES: u64 = 8 * 1024 * 1024;

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|p| p.trim().trim_end_matches('/')).filter(|p| !p.is_empty()).map(String::from).collect()
}

/// The compactor's settings from the stand-in's vars; `None` when serving is off.
pub fn config(env: &Env) -> Option<Config> {
    let root = var(env, "SERVING_ROOT", "");
    let root = root.trim().trim_matches('/');
    if root.is_empty() || root == "off" {
        return None;
    }
    let location = var(env, "WAREHOUSE_LOCATION", "s3://artifacts-warehouse/");
    let modes: Vec<String> = Mode::ALL.iter().filter_map(|m| ModeConfig::new(env, m.as_str())).map(|c| c.root).collect();
    let sources = match list(&var(env, "TABLE_ROOTS", "")) {
        s if s.is_empty() => modes,
        s => s,
    };
    let mut cfg = Config::new(root, &location, sources, now_ms() as i64, random_hex(4));
    let prefixes: Vec<String> =
        var(env, "LOCATION_PREFIX", "").split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect();
    if !prefixes.is_empty() {
        cfg.source_prefixes = prefixes;
        if !cfg.source_prefixes.contains(&location) {
            cfg.source_prefixes.push(location);
        }
    }
    // A merge step holds its inputs (up to MERGE_FILES files) in memory too: smaller files than
    // natively keep a step within the isolate's 128 MB (natively 100,000 rows take ~280 MB).
    cfg.limits.file_rows = var(env, "SERVING_FILE_ROWS", "").trim().parse::<usize>().unwrap_or(STANDIN_FILE_ROWS).max(1);
    cfg.limits.file_bytes = STANDIN_FILE_BYTES;
    // One run holds every row it absorbs in the isolate's memory (128 MB in workerd): fewer rows
    // per run than natively; a source that is behind goes on at the next commit or tick.
    cfg.max_rows = var(env, "COMPACT_MAX_ROWS", "").trim().parse::<u64>().unwrap_or(STANDIN_MAX_ROWS).max(1);
    if let Ok(secs) = var(env, "SERVING_GRACE_SECONDS", "").trim().parse::<i64>() {
        cfg.grace_ms = secs.max(0).saturating_mul(1000);
    }
    if let Ok(secs) = var(env, "RETENTION_GRACE_SECONDS", "").trim().parse::<i64>() {
        cfg.retention_grace_ms = secs.max(0).saturating_mul(1000);
    }
    Some(cfg)
}

/// Runs the compactor once; the report (or `{"error": …}`) as JSON, `Value::Null` when serving is
/// off. Never fails: a commit's answer carries this without failing the commit.
pub async fn run(env: &Env) -> Value {
    run_with(env, false, false).await
}

thread_local! {
    /// Whether a run is in progress in this isolate: runs take turns (the commits' runs, the
    /// timer's and `POST /compact` would otherwise race for the same version and restart).
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`BUSY`] when the run ends, however it ends.
struct Turn;

impl Drop for Turn {
    fn drop(&mut self) {
        BUSY.with(|b| b.set(false));
    }
}

/// Waits for this isolate's other run to finish (bounded), then takes the turn.
async fn turn() -> Option<Turn> {
    for _ in 0..1200 {
        if !BUSY.with(|b| b.replace(true)) {
            return Some(Turn);
        }
        worker::Delay::from(std::time::Duration::from_millis(25)).await;
    }
    None
}

/// [`run`] with `full` (merge until L0 is empty) and `from_scratch` (rebuild into the next version).
pub async fn run_with(env: &Env, full: bool, from_scratch: bool) -> Value {
    let Some(mut cfg) = config(env) else { return Value::Null };
    let Some(_turn) = turn().await else { return json!({"error": "another compactor run did not finish within 30 s"}) };
    cfg.full = full;
    cfg.from_scratch = from_scratch;
    let bucket = match env.bucket("WAREHOUSE") {
        Ok(b) => b,
        Err(e) => return json!({"error": format!("WAREHOUSE: {e}")}),
    };
    let store = R2(bucket);
    let tables = match split::parse(&cfg.serving_root, &var(env, "SERVING_SPLITS", "")) {
        Ok(t) => t,
        Err(e) => return json!({"error": e}),
    };
    let mut out = Vec::new();
    for table in &tables {
        let mut cfg = cfg.clone();
        cfg.serving_root = table.root.clone();
        cfg.range = table.range();
        out.push(match compactor::run(&store, &cfg).await {
            Ok(report) => report.to_json(),
            Err(e) => json!({"error": e.to_string()}),
        });
    }
    // Unsplit: the one table's report, as before splitting existed.
    match (tables.len(), out.pop()) {
        (1, Some(report)) => report,
        (_, last) => json!({"ranges": out.into_iter().chain(last).collect::<Vec<_>>()}),
    }
}
