//! The local stand-in for Cloudflare Pipelines → R2 Data Catalog (dev and tests only; never
//! deployed, not size-budgeted). See docs/standin.md and docs/decisions.md, "Local stand-in".
//!
//! - [`send`] (called by the `Preview`/`Build`/`Bulk` entrypoints of `entry.mjs`): validates the
//!   records and writes them as one buffer object `_standin/buffer/{mode}/{key}.json`; the call
//!   resolves only after the put, so an acknowledged record is durable. It answers whether the
//!   buffer is due for a commit (older than the roll interval or larger than `ROLL_BYTES`); the
//!   entry then commits in `waitUntil`.
//! - [`flush`] / `POST /flush[?mode=][&due=1]`: commits a mode (see [`commit`]); `due=1` only
//!   modes past their roll interval or size. `POST /init` creates missing tables (empty `v1`).
//! - `POST /compact`: runs the serving table's compactor once ([`compact`]; `SERVING_ROOT` set),
//!   as every commit does after it lands (unless the compact worker does: [`events`]); answers
//!   its report.
//! - `GET /events`, `POST /events?drop=N&delay=S&reset=1`: the double for R2 event
//!   notifications (the optional `R2_EVENTS` queue binding; see [`events`]).
//! - `POST /maintain/compact` and `POST /maintain/expire`: the catalog's own maintenance on the
//!   stand-in's tables (see [`maintain`]).
//! - `GET /v1/config`, `GET /v1/{prefix}/namespaces/{ns}/tables/{table}` and the other read
//!   routes of the REST catalog (see [`catalog`]): what serve and pyiceberg's `RestCatalog` call.
mod catalog;
mod commit;
mod compact;
mod events;
mod maintain;
mod rows;
mod table;

use shared::record::Mode;
use std::cell::RefCell;
use std::collections::BTreeSet;

use wasm_bindgen::prelude::*;
use worker::{event, Context, Env, Method, Request, Response, Result};

thread_local! {
    /// Buffer keys whose put is in flight in this isolate: a commit never includes a key at or
    /// after the smallest of them, so its `buffer-through` marker never passes a record that is
    /// not yet listed.
    static IN_FLIGHT: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
    /// Per-isolate (last key ms, sequence): keys made later in this isolate always sort later,
    /// even within one millisecond or if the clock steps back.
    static SEQ: RefCell<(u64, u64)> = const { RefCell::new((0, 0)) };
}

/// A string var with a default.
pub fn var(env: &Env, name: &str, default: &str) -> String {
    env.var(name).map(|v| v.to_string()).ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| default.to_string())
}

/// Per-mode settings.
pub struct ModeConfig {
    /// `preview`, `build` or `bulk`.
    pub mode: &'static str,
    /// Table root in the bucket (no trailing slash).
    pub root: String,
    /// Roll interval, ms.
    pub roll_ms: f64,
    /// Roll size, bytes.
    pub roll_bytes: u64,
    /// Most buffer bytes one commit reads (`COMMIT_MAX_BYTES`, default 64 MiB); the rest waits
    /// for the next commit.
    pub commit_max_bytes: u64,
}

impl ModeConfig {
    /// The mode named `mode` (one table each), `None` for no mode.
    fn new(env: &Env, mode: &str) -> Option<ModeConfig> {
        let mode = Mode::ALL.into_iter().find(|m| m.as_str() == mode)?;
        let default_roll = match mode {
            Mode::Preview => "1000",
            Mode::Build => "2000",
            Mode::Bulk => "5000",
        };
        let mode = mode.as_str();
        let upper = mode.to_ascii_uppercase();
        Some(ModeConfig {
            mode,
            root: var(env, &format!("TABLE_ROOT_{upper}"), &format!("artifacts/{mode}")).trim_end_matches('/').to_string(),
            roll_ms: var(env, &format!("ROLL_MS_{upper}"), default_roll).trim().parse().unwrap_or(1000.0),
            roll_bytes: var(env, "ROLL_BYTES", "1048576").trim().parse().unwrap_or(1024 * 1024),
            commit_max_bytes: var(env, "COMMIT_MAX_BYTES", "67108864").trim().parse().unwrap_or(64 * 1024 * 1024),
        })
    }

    /// The buffer prefix of this mode.
    pub fn buffer_prefix(&self) -> String {
        format!("_standin/buffer/{}/", self.mode)
    }
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from(js_sys::Error::new(&e.to_string()))
}

/// Random hex of `n` bytes.
pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", (js_sys::Math::random() * 256.0) as u8)).collect()
}

/// A random (v4-shaped) UUID.
pub fn uuid() -> String {
    let h = random_hex(16);
    let part = |a: usize, b: usize| h.get(a..b).unwrap_or("0").to_string();
    format!("{}-{}-4{}-a{}-{}", part(0, 8), part(8, 12), part(13, 16), part(17, 20), part(20, 32))
}

/// Now, ms since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// `send(records)` of a mode: one durable buffer object. Resolves to whether a commit is due.
#[wasm_bindgen]
pub async fn send(mode: String, records: String, env: Env) -> std::result::Result<bool, JsValue> {
    events::bind(&env);
    let cfg = ModeConfig::new(&env, &mode).ok_or_else(|| js_err(format!("unknown mode {mode}")))?;
    let parsed: serde_json::Value = serde_json::from_str(&records).map_err(|e| js_err(format!("records are not JSON: {e}")))?;
    let items = rows::validate(&parsed).map_err(js_err)?;
    if items.is_empty() {
        return Ok(false);
    }
    let (ms, seq) = SEQ.with(|s| {
        let mut s = s.borrow_mut();
        let ms = (now_ms() as u64).max(s.0);
        *s = (ms, s.1.wrapping_add(1));
        *s
    });
    let key = format!("{}{ms:013}-{seq:010}-{}.json", cfg.buffer_prefix(), random_hex(4));
    IN_FLIGHT.with(|f| f.borrow_mut().insert(key.clone()));
    let bucket = env.bucket("WAREHOUSE").map_err(js_err);
    let result = match bucket {
        Ok(b) => b.put(&key, records.into_bytes()).execute().await.map_err(js_err),
        Err(e) => Err(e),
    };
    IN_FLIGHT.with(|f| f.borrow_mut().remove(&key));
    result?;
    // The records are durable now: failing here would make ingest send them twice.
    Ok(commit::due(&env, &cfg).await.unwrap_or(false))
}

/// The smallest in-flight buffer key of a mode, if any.
pub fn in_flight_floor(prefix: &str) -> Option<String> {
    IN_FLIGHT.with(|f| f.borrow().iter().find(|k| k.starts_with(prefix)).cloned())
}

/// Commits a mode now; resolves to a JSON summary.
#[wasm_bindgen]
pub async fn flush(mode: String, env: Env) -> std::result::Result<String, JsValue> {
    events::bind(&env);
    let cfg = ModeConfig::new(&env, &mode).ok_or_else(|| js_err(format!("unknown mode {mode}")))?;
    let mut out = commit::commit_all(&env, &cfg).await.map_err(js_err)?;
    if committed(&out) && !events::enabled(&env) {
        with_compactor(&mut out, compact::run(&env).await);
    }
    Ok(out.to_string())
}

/// Whether a commit summary committed rows.
fn committed(summary: &serde_json::Value) -> bool {
    summary.get("committed").and_then(serde_json::Value::as_u64).unwrap_or(0) > 0
}

/// Adds what the compactor did after a commit (its report or error) to the commit's summary.
fn with_compactor(summary: &mut serde_json::Value, report: serde_json::Value) {
    if let (Some(m), false) = (summary.as_object_mut(), report.is_null()) {
        m.insert("compactor".into(), report);
    }
}

fn json(status: u16, body: &serde_json::Value) -> Result<Response> {
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body.to_string())?.with_status(status).with_headers(headers))
}

fn iceberg_error(status: u16, kind: &str, message: &str) -> Result<Response> {
    json(status, &catalog::error(status, kind, message))
}

/// An empty answer with `status` (the catalog's `HEAD` routes).
fn empty(status: u16) -> Result<Response> {
    Ok(Response::empty()?.with_status(status))
}

/// The mode whose table is named `table` (`TABLE_PREVIEW/_BUILD/_BULK`, default the mode).
fn mode_of_table(env: &Env, table: &str) -> Option<ModeConfig> {
    let mode = Mode::ALL.into_iter().map(Mode::as_str).find(|m| var(env, &format!("TABLE_{}", m.to_ascii_uppercase()), m) == table)?;
    ModeConfig::new(env, mode)
}

/// The REST catalog (see [`catalog`]): one namespace, `CATALOG_NAMESPACE` (default `artifacts`),
/// holding the mode tables that exist.
async fn serve_catalog(route: catalog::Route, env: &Env) -> Result<Response> {
    use catalog::Route;
    let warehouse = var(env, "CATALOG_WAREHOUSE", "artifacts-warehouse");
    let namespace = var(env, "CATALOG_NAMESPACE", "artifacts");
    let no_namespace = |ns: &str| iceberg_error(404, "NoSuchNamespaceException", &format!("Namespace does not exist: {ns}"));
    match route {
        Route::Config => json(200, &catalog::config(&warehouse)),
        Route::ListNamespaces { parent } => json(200, &catalog::namespaces(&namespace, parent.as_deref())),
        Route::Namespace { ns, head } if ns == namespace => {
            if head {
                empty(204)
            } else {
                json(200, &catalog::namespace(&namespace))
            }
        }
        Route::Namespace { head: true, .. } => empty(404),
        Route::Namespace { ns, head: false } => no_namespace(&ns),
        Route::ListTables { ns } if ns == namespace => {
            let mut names = Vec::new();
            for m in Mode::ALL.map(Mode::as_str) {
                let Some(cfg) = ModeConfig::new(env, m) else { continue };
                match commit::current(env, &cfg).await {
                    Ok(Some(_)) => names.push(var(env, &format!("TABLE_{}", m.to_ascii_uppercase()), m)),
                    Ok(None) => {}
                    Err(e) => return iceberg_error(500, "ServiceFailureException", &e),
                }
            }
            json(200, &catalog::tables(&namespace, &names))
        }
        Route::ListTables { ns } => no_namespace(&ns),
        Route::Table { ns, table, head } => {
            let cfg = if ns == namespace { mode_of_table(env, &table) } else { None };
            let found = match &cfg {
                Some(cfg) => commit::current(env, cfg).await,
                None => Ok(None),
            };
            match (found, head) {
                (Ok(Some(_)), true) => empty(204),
                (Ok(None), true) => empty(404),
                (Ok(Some(cur)), false) => json(
                    200,
                    &serde_json::json!({
                        "metadata-location": cur.location,
                        "metadata": serde_json::from_str::<serde_json::Value>(&cur.metadata.to_json()).unwrap_or_default(),
                        "config": {},
                    }),
                ),
                (Ok(None), false) => iceberg_error(404, "NoSuchTableException", &format!("Table does not exist: {ns}.{table}")),
                (Err(_), true) => empty(500),
                (Err(e), false) => iceberg_error(500, "ServiceFailureException", &e),
            }
        }
        Route::MethodNotAllowed { allow } => iceberg_error(405, "MethodNotAllowed", "the stand-in serves the catalog's read routes only")
            .and_then(|r| r.headers().set("Allow", allow).map(|()| r)),
        Route::NotFound => iceberg_error(404, "NotFoundException", "no such catalog route"),
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let url = req.url()?;
    let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string());
    events::bind(&env);
    if path == "/$.health" {
        let resets = js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
        return json(200, &serde_json::json!({"status": "ok", "worker": "standin", "resets": resets as u64}));
    }
    if path == "/flush" {
        if method != Method::Post {
            return iceberg_error(405, "MethodNotAllowed", "POST /flush").and_then(|r| r.headers().set("Allow", "POST").map(|()| r));
        }
        let modes: Vec<String> = match query("mode") {
            Some(m) => vec![m],
            None => Mode::ALL.map(|m| m.as_str().to_string()).into(),
        };
        let due_only = query("due").is_some();
        let mut out = Vec::new();
        for m in modes {
            let Some(cfg) = ModeConfig::new(&env, &m) else {
                return iceberg_error(400, "BadRequestException", &format!("unknown mode {m}"));
            };
            if due_only && !commit::due(&env, &cfg).await.map_err(|e| worker::Error::RustError(e.to_string()))? {
                continue;
            }
            match commit::commit_all(&env, &cfg).await {
                Ok(v) => out.push(v),
                Err(e) => return iceberg_error(500, "CommitFailedException", &format!("{m}: {e}")),
            }
        }
        // The compactor runs once after the commits of this flush; its report rides on each. With
        // R2_EVENTS bound the compact worker runs it instead, on the notifications.
        if out.iter().any(committed) && !events::enabled(&env) {
            let report = compact::run(&env).await;
            for summary in out.iter_mut().filter(|s| committed(s)) {
                with_compactor(summary, report.clone());
            }
        }
        return json(200, &serde_json::Value::Array(out));
    }
    if path == "/compact" {
        if method != Method::Post {
            return iceberg_error(405, "MethodNotAllowed", "POST /compact").and_then(|r| r.headers().set("Allow", "POST").map(|()| r));
        }
        let on = |name: &str| query(name).is_some_and(|v| matches!(v.as_str(), "" | "1" | "true" | "yes"));
        return json(200, &compact::run_with(&env, on("full"), on("from_scratch")).await);
    }
    if path == "/events" {
        return match events::route(&method, query) {
            Some(v) => json(200, &v),
            None => iceberg_error(405, "MethodNotAllowed", "GET or POST /events")
                .and_then(|r| r.headers().set("Allow", "GET, POST").map(|()| r)),
        };
    }
    // Table maintenance as R2 Data Catalog runs it (#16): dev and tests only.
    if let Some(op) = path.strip_prefix("/maintain/") {
        return maintain::route(op, &req, &env).await;
    }
    if path == "/init" && method == Method::Post {
        let mut out = Vec::new();
        for m in Mode::ALL.map(Mode::as_str) {
            let Some(cfg) = ModeConfig::new(&env, m) else { continue };
            match commit::ensure(&env, &cfg).await {
                Ok(v) => out.push(serde_json::json!({"mode": m, "version": v})),
                Err(e) => return iceberg_error(500, "ServiceFailureException", &format!("{m}: {e}")),
            }
        }
        return json(200, &serde_json::Value::Array(out));
    }
    if let Some(route) = catalog::route(method.as_ref(), &path, query("parent")) {
        return serve_catalog(route, &env).await;
    }
    iceberg_error(404, "NotFoundException", &format!("no route {path}"))
}
