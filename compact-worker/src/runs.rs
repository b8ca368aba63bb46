//! One compactor run of one range table, and what this isolate remembers of its runs for
//! `GET /health`.
//!
//! Runs of the same range take turns within an isolate (two would race for the same version and
//! one would restart); across isolates and workers they race, and the compactor's create-only
//! metadata and conditional pointer decide (the loser starts over from the new version).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use compactor::r2::R2;
use compactor::Config;
use serde_json::{json, Value};
use worker::Env;

use crate::settings::{self, Settings};
use crate::{catalog, now_ms, random_hex};

/// What started a run (reported by `/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The Cron Trigger.
    Cron,
    /// A batch of R2 event notifications (unsplit: run directly).
    Notification,
    /// A run order `{"run": i}` from the queue.
    RunOrder,
    /// `POST /run`.
    Http,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Cron => "cron",
            Trigger::Notification => "notification",
            Trigger::RunOrder => "run-order",
            Trigger::Http => "http",
        }
    }
}

/// Options of `POST /run` (the stand-in's `/compact` takes the same).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Merge until L0 is empty.
    pub full: bool,
    /// Rebuild every source into the next version.
    pub from_scratch: bool,
}

/// The last run of one range, as `/health` shows it.
struct Last {
    at_ms: f64,
    took_ms: f64,
    trigger: Trigger,
    outcome: Result<Value, String>,
}

/// Messages seen by this isolate's consumer, by what became of them.
#[derive(Default)]
pub struct Counts {
    /// Notifications naming a source metadata object.
    pub notifications: u64,
    /// Run orders received.
    pub run_orders: u64,
    /// Run orders sent (fan-out).
    pub run_orders_sent: u64,
    /// Acked and ignored (outside every source's metadata, deletions).
    pub ignored: u64,
    /// Acked and counted: not a message this worker understands.
    pub malformed: u64,
    /// Handed back with `retry()` after a failed run or send.
    pub retried: u64,
    /// Cron ticks.
    pub ticks: u64,
}

thread_local! {
    static LAST: RefCell<BTreeMap<usize, Last>> = const { RefCell::new(BTreeMap::new()) };
    static BUSY: RefCell<BTreeSet<usize>> = const { RefCell::new(BTreeSet::new()) };
    static COUNTS: RefCell<Counts> = RefCell::new(Counts::default());
}

/// Updates this isolate's message counts.
pub fn count(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| f(&mut c.borrow_mut()));
}

/// Gives the range's turn back when the run ends, however it ends.
struct Turn(usize);

impl Drop for Turn {
    fn drop(&mut self) {
        BUSY.with(|b| b.borrow_mut().remove(&self.0));
    }
}

/// Waits (at most 30 s) for this isolate's other run of range `i` to end, then takes the turn.
async fn turn(i: usize) -> Option<Turn> {
    for _ in 0..1200 {
        if BUSY.with(|b| b.borrow_mut().insert(i)) {
            return Some(Turn(i));
        }
        worker::Delay::from(std::time::Duration::from_millis(25)).await;
    }
    None
}

/// The compactor's configuration for range `i`; catalog sources resolved with `loadTable`.
async fn config(settings: &Settings, i: usize, opts: Options) -> Result<Config, String> {
    let splits = settings.splits.as_ref().map_err(Clone::clone)?;
    let split = splits.get(i).ok_or_else(|| format!("no range {i} ({} ranges)", splits.len()))?;
    let mut cfg = Config::new(&split.root, &settings.location, settings.source_ids(), now_ms() as i64, random_hex(4));
    cfg.source_prefixes = settings.source_prefixes();
    cfg.limits.file_rows = settings.file_rows;
    cfg.limits.file_bytes = settings::FILE_BYTES;
    cfg.max_rows = settings.max_rows;
    cfg.full = opts.full;
    cfg.from_scratch = opts.from_scratch;
    cfg.range = split.range();
    if let Some(secs) = settings.grace_seconds {
        cfg.grace_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    if let Some(secs) = settings.retention_grace_seconds {
        cfg.retention_grace_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    // Catalog sources are followed from the metadata `loadTable` names now.
    cfg.catalog = catalog::resolve(settings).await?.into_iter().collect();
    Ok(cfg)
}

/// Each range table's current version as its pointer names it (`null`: none yet, or unreadable).
pub async fn versions(env: &Env, settings: &Settings) -> Vec<Value> {
    let Ok(bucket) = env.bucket("WAREHOUSE") else { return Vec::new() };
    let mut out = Vec::new();
    for s in settings.splits.as_ref().map(Vec::as_slice).unwrap_or_default() {
        let key = format!("{}/metadata/version-hint.text", s.root);
        let text = match bucket.get(&key).execute().await {
            Ok(Some(obj)) => match obj.body() {
                Some(body) => body.text().await.ok(),
                None => None,
            },
            _ => None,
        };
        out.push(text.and_then(|t| t.trim().parse::<u64>().ok()).map_or(Value::Null, Value::from));
    }
    out
}

/// Runs the compactor once for range `i`: its report as JSON, or why it failed (remembered for
/// `/health` either way).
pub async fn run(env: &Env, settings: &Settings, i: usize, trigger: Trigger, opts: Options) -> Result<Value, String> {
    let started = now_ms();
    let outcome = match turn(i).await {
        None => Err(format!("range {i}: another run in this isolate did not finish within 30 s")),
        Some(_turn) => attempt(env, settings, i, opts).await,
    };
    let took_ms = now_ms() - started;
    match &outcome {
        Ok(report) => worker::console_log!(
            "compact range {i} ({}, {} ms): version {}, {} rows absorbed, errors {}",
            trigger.as_str(),
            took_ms as u64,
            report.get("version").unwrap_or(&Value::Null),
            report.get("rows_absorbed").unwrap_or(&Value::Null),
            report.get("errors").unwrap_or(&Value::Null)
        ),
        Err(e) => worker::console_error!("compact range {i} ({}) failed: {e}", trigger.as_str()),
    }
    LAST.with(|l| l.borrow_mut().insert(i, Last { at_ms: started, took_ms, trigger, outcome: outcome.clone() }));
    outcome
}

async fn attempt(env: &Env, settings: &Settings, i: usize, opts: Options) -> Result<Value, String> {
    let cfg = config(settings, i, opts).await?;
    let bucket = env.bucket("WAREHOUSE").map_err(|e| format!("WAREHOUSE: {e}"))?;
    let report = compactor::run(&R2(bucket), &cfg).await.map_err(|e| e.to_string())?;
    let mut json = report.to_json();
    // A committed version: the ledger may trim the pending copies it covers (#17).
    if report.version.is_some() {
        if let Some(ledger) = crate::ledger::covered(env, &report, now_ms() as i64).await {
            if let Some(o) = json.as_object_mut() {
                o.insert("ledger".into(), ledger);
            }
        }
    }
    Ok(json)
}

/// `/health`: the settings' shape, each range's current version (its pointer, `versions[i]`; any
/// isolate's runs), its last run in this isolate, the message counts.
/// The wasm instance's linear memory (it only grows: the high-water mark of the runs so far).
fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::JsCast::unchecked_into(wasm_bindgen::memory());
    js_sys::Reflect::get(&memory.buffer(), &"byteLength".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u64)
}

pub fn health(settings: &Settings, resets: u64, versions: &[Value]) -> Value {
    let splits = settings.splits.as_ref().map(Vec::as_slice).unwrap_or_default();
    let ranges: Vec<Value> = LAST.with(|l| {
        let l = l.borrow();
        splits
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let last = l.get(&i).map(|r| {
                    let (report, error) = match &r.outcome {
                        Ok(report) => (report.clone(), Value::Null),
                        Err(e) => (Value::Null, Value::from(e.as_str())),
                    };
                    json!({"at_ms": r.at_ms as u64, "took_ms": r.took_ms as u64, "trigger": r.trigger.as_str(), "report": report, "error": error})
                });
                json!({"range": i, "root": s.root, "version": versions.get(i).cloned().unwrap_or(Value::Null), "last": last})
            })
            .collect()
    });
    let messages = COUNTS.with(|c| {
        let c = c.borrow();
        json!({"notifications": c.notifications, "run_orders": c.run_orders, "run_orders_sent": c.run_orders_sent,
               "ignored": c.ignored, "malformed": c.malformed, "retried": c.retried, "ticks": c.ticks})
    });
    let status = match (&settings.splits, settings.on()) {
        (_, false) => "off",
        (Err(_), true) => "misconfigured",
        (Ok(_), true) => "ok",
    };
    json!({
        "worker": "compact",
        "status": status,
        "resets": resets,
        "memory_bytes": memory_bytes(),
        "serving_root": settings.serving_root,
        "splits_error": settings.splits.as_ref().err(),
        "sources": settings.source_ids(),
        "ranges": ranges,
        "messages": messages,
    })
}
