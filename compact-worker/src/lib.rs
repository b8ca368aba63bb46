//! The compact worker (#16): keeps the serving table (`docs/design/serving-table.md`) by running
//! `compactor::run` over the `WAREHOUSE` bucket, so a sink commit is absorbed within seconds.
//!
//! - `scheduled` (Cron Trigger, every minute): a trigger; it also catches up whatever a lost
//!   notification would have started.
//! - `queue` (consumer of the queue that R2 event notifications of the source tables' metadata
//!   prefix feed): a batch naming a source metadata object is a trigger; see [`messages`].
//! - A trigger runs the one table directly when the serving table is not split; with
//!   `SERVING_SPLITS` it sends one run order `{"run": i}` per range table to its own queue
//!   (`COMPACT_QUEUE`, the same queue), and each run order runs that range: an invocation runs
//!   `RANGE_RUNS_PER_INVOCATION` (1) of its batch's orders and hands the rest back as fresh
//!   orders, so ranges run in parallel invocations (the consumer's `max_concurrency`).
//! - A failed run is logged and its messages handed back with `retry()` (bounded by the
//!   consumer's `max_retries`); malformed messages are acked and counted, never retried.
//! - `GET /health`: each range's last run in this isolate and the message counts; `POST /run`
//!   (`?range=i`, `?full=1`, `?from_scratch=1`) runs now, every range in this invocation.
//!
//! Modules: [`settings`] (vars, sources in serve's order), [`catalog`] (`loadTable`),
//! [`messages`] (what a message asks for, pure), [`runs`] (one run, turns, health), [`js`] (the
//! Queues API as typed externs), [`http`] (problem → response).
mod catalog;
mod http;
mod js;
mod ledger;
mod messages;
mod runs;
mod settings;

use std::cell::RefCell;

use serde_json::{json, Value};
use shared::problem::Problem;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{event, Context, Env, Method, Request, Response, Result};

use runs::{count, Options, Trigger};
use settings::Settings;

/// The producer binding of the worker's own queue (the one the notifications arrive on).
const QUEUE_BINDING: &str = "COMPACT_QUEUE";
/// How long the catalog tables' metadata directories are trusted for sorting notifications.
const CATALOG_DIRS_TTL_MS: f64 = 60_000.0;

/// Now, ms since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Random hex of `n` bytes (the run's nonce).
pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", (js_sys::Math::random() * 256.0) as u8)).collect()
}

fn resets() -> u64 {
    js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u64)
}

thread_local! {
    /// (fetched at, metadata directories of the catalog tables).
    static CATALOG_DIRS: RefCell<(f64, Vec<String>)> = const { RefCell::new((f64::NEG_INFINITY, Vec::new())) };
}

/// The metadata directories of every source; `None` when a catalog table could not be resolved
/// (then any `…/metadata/…` key outside the serving table counts, a run being cheap when nothing
/// is new).
async fn source_dirs(settings: &Settings) -> Option<Vec<String>> {
    let mut dirs: Vec<String> = settings.roots.iter().map(|r| messages::metadata_dir_of_root(r)).collect();
    if settings.catalog.is_some() {
        let cached = CATALOG_DIRS.with(|c| {
            let c = c.borrow();
            (now_ms() - c.0 < CATALOG_DIRS_TTL_MS).then(|| c.1.clone())
        });
        let catalog = match cached {
            Some(d) => d,
            None => {
                let resolved = catalog::resolve(settings).await;
                let d: Vec<String> = match resolved {
                    Ok(keys) => keys.iter().map(|(_, k)| messages::dir_of(k)).collect(),
                    Err(e) => {
                        worker::console_error!("sorting notifications without the catalog's tables: {e}");
                        return None;
                    }
                };
                CATALOG_DIRS.with(|c| *c.borrow_mut() = (now_ms(), d.clone()));
                d
            }
        };
        dirs.extend(catalog);
    }
    Some(dirs)
}

/// A trigger (cron tick, notifications): the one table directly, or one run order per range.
async fn trigger(env: &Env, settings: &Settings, why: Trigger) -> std::result::Result<(), String> {
    match settings.ranges() {
        0 => Ok(()),
        1 => runs::run(env, settings, 0, why, Options::default()).await.map(|_| ()),
        n => match js::queue(env, QUEUE_BINDING) {
            Some(q) => {
                let orders: Vec<Value> = (0..n).map(|i| json!({"run": i})).collect();
                js::send_all(&q, &orders).await?;
                count(|c| c.run_orders_sent += n as u64);
                Ok(())
            }
            None => {
                // No queue to fan out through: every range here, one after the other.
                let mut errors = Vec::new();
                for i in 0..n {
                    if let Err(e) = runs::run(env, settings, i, why, Options::default()).await {
                        errors.push(format!("range {i}: {e}"));
                    }
                }
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors.join("; "))
                }
            }
        },
    }
}

/// The Cron Trigger.
#[wasm_bindgen]
pub async fn scheduled(cron: String, env: Env) -> std::result::Result<(), JsValue> {
    count(|c| c.ticks += 1);
    let settings = Settings::from_env(&env);
    trigger(&env, &settings, Trigger::Cron).await.map_err(|e| {
        worker::console_error!("cron {cron}: {e}");
        JsValue::from(js_sys::Error::new(&e))
    })
}

/// The queue consumer: R2 event notifications and run orders (see [`messages`]).
#[wasm_bindgen]
pub async fn queue(batch: js::MessageBatch, env: Env) -> std::result::Result<(), JsValue> {
    let settings = Settings::from_env(&env);
    let msgs: Vec<js::Message> = batch.messages().iter().map(JsCast::unchecked_into).collect();
    let bodies: Vec<Value> = msgs.iter().map(|m| js::body_json(m).unwrap_or(Value::Null)).collect();
    let dirs = source_dirs(&settings).await;
    let serving_dir = format!("{}/", settings.serving_root);
    let is_source = |key: &str| match &dirs {
        Some(d) => messages::names_source(key, d),
        None => key.contains("/metadata/") && !key.starts_with(&serving_dir),
    };
    let sorted = messages::sort(&bodies, settings.ranges(), is_source);
    let at = |i: usize| msgs.get(i);
    for (i, why) in &sorted.malformed {
        worker::console_warn!("malformed message {} acked: {why}", at(*i).map(js::Message::id).unwrap_or_default());
        at(*i).inspect(|m| m.ack());
    }
    sorted.ignored.iter().filter_map(|i| at(*i)).for_each(js::Message::ack);
    count(|c| {
        c.malformed += sorted.malformed.len() as u64;
        c.ignored += sorted.ignored.len() as u64;
        c.notifications += sorted.trigger.len() as u64;
        c.run_orders += sorted.runs.values().map(|v| v.len() as u64).sum::<u64>();
    });
    let settle = |ids: &[usize], ok: bool| {
        for m in ids.iter().filter_map(|i| at(*i)) {
            if ok {
                m.ack();
            } else {
                m.retry();
            }
        }
        if !ok {
            count(|c| c.retried += ids.len() as u64);
        }
    };
    if !sorted.trigger.is_empty() {
        let outcome = trigger(&env, &settings, Trigger::Notification).await;
        if let Err(e) = &outcome {
            worker::console_error!("notification trigger failed, {} messages retried: {e}", sorted.trigger.len());
        }
        settle(&sorted.trigger, outcome.is_ok());
    }
    // A fan-out's run orders arrive together. This invocation runs at most RANGE_RUNS_PER_INVOCATION
    // of them (concurrently: each holds up to COMPACT_MAX_ROWS rows in this isolate's 128 MB) and
    // sends the others back as fresh orders, which the queue hands to other invocations (up to the
    // consumer's max_concurrency) while these run: the ranges run in parallel invocations. (A fresh
    // order, not retry(): waiting for a turn is no failure and must not use up max_retries.)
    let (here, later): (Vec<_>, Vec<_>) = sorted.runs.iter().enumerate().partition(|(n, _)| *n < settings.runs_per_invocation);
    if !later.is_empty() {
        let orders: Vec<Value> = later.iter().map(|(_, (range, _))| json!({"run": range})).collect();
        let ids: Vec<usize> = later.iter().flat_map(|(_, (_, ids))| ids.iter().copied()).collect();
        let sent = match js::queue(&env, QUEUE_BINDING) {
            Some(q) => js::send_all(&q, &orders).await,
            None => Err(format!("no {QUEUE_BINDING} binding to hand run orders on")),
        };
        if let Err(e) = &sent {
            worker::console_error!("run orders not handed on, retried: {e}");
        } else {
            count(|c| c.run_orders_sent += orders.len() as u64);
        }
        settle(&ids, sent.is_ok());
    }
    let runs = here.iter().map(|(_, (range, _))| runs::run(&env, &settings, **range, Trigger::RunOrder, Options::default()));
    let outcomes = futures_util::future::join_all(runs).await;
    for ((_, (_, ids)), outcome) in here.iter().zip(outcomes) {
        settle(ids, outcome.is_ok());
    }
    Ok(())
}

fn flag(url: &worker::Url, name: &str) -> bool {
    url.query_pairs().any(|(k, v)| k == name && matches!(v.as_ref(), "" | "1" | "true" | "yes"))
}

/// `POST /run`: every range (or `?range=i`) now, in this invocation.
async fn run_now(env: &Env, url: &worker::Url) -> Result<Response> {
    let settings = Settings::from_env(env);
    if let Err(e) = &settings.splits {
        return http::problem(&Problem::new(500, "misconfigured", "Misconfigured", e.clone()));
    }
    let opts = Options { full: flag(url, "full"), from_scratch: flag(url, "from_scratch") };
    let n = settings.ranges();
    let wanted: Vec<usize> = match url.query_pairs().find(|(k, _)| k == "range") {
        Some((_, v)) => match v.parse::<usize>() {
            Ok(i) if i < n => vec![i],
            _ => return http::problem(&Problem::new(400, "bad-range", "Bad range", format!("range={v}: there are {n} ranges"))),
        },
        None => (0..n).collect(),
    };
    let roots: Vec<String> = settings.splits.as_ref().map(|s| s.iter().map(|s| s.root.clone()).collect()).unwrap_or_default();
    let mut out = Vec::new();
    let mut failed = false;
    for i in wanted {
        let root = roots.get(i).cloned().unwrap_or_default();
        match runs::run(env, &settings, i, Trigger::Http, opts).await {
            Ok(report) => out.push(json!({"range": i, "root": root, "report": report})),
            Err(e) => {
                failed = true;
                out.push(json!({"range": i, "root": root, "error": e}));
            }
        }
    }
    if failed {
        let p = Problem::new(500, "compaction-failed", "Compaction failed", "a range's run failed; see ranges")
            .with("ranges", Value::Array(out));
        return http::problem(&p);
    }
    http::json(200, &json!({"serving": settings.on(), "ranges": out}))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let not_allowed = |allow| http::problem(&Problem::method_not_allowed(allow));
    match path.as_str() {
        "/health" | "/$.health" => match method {
            Method::Get | Method::Head => {
                let settings = Settings::from_env(&env);
                let versions = runs::versions(&env, &settings).await;
                http::json(200, &runs::health(&settings, resets(), &versions))
            }
            _ => not_allowed("GET, HEAD"),
        },
        "/run" => match method {
            Method::Post => run_now(&env, &req.url()?).await,
            _ => not_allowed("POST"),
        },
        _ => http::problem(&Problem::route_not_found(&path)),
    }
}
