//! The ledger worker (#17, `docs/design/ledger.md`): hosts the SQLite-backed Durable Object class
//! `Ledger` (one object per shard of the key space) and consumes `LEDGER_OUTBOX`, ingest's
//! deferred confirms. Its own `fetch` answers `/$.health` only; the ledger's calls reach an object
//! through the `LEDGER` binding's stub (`POST https://ledger/<call>`, see [`object::CALLS`]).
//!
//! This file is the entry and the router. The class is a JS class in `entry.mjs`: it does every
//! await (request bodies, `setAlarm`, KV puts, the outbox's stub calls) and calls the synchronous
//! exports below, each inside one SQLite transaction; every decision and every SQL statement is
//! here. No async Rust means no futures runtime, closures or web-sys in the module (their last
//! step alone was 74,707 → 65,358 B gzip against a 64 KiB budget; docs/design/ledger.md has the
//! whole 89,193 → 62,404), and state lives only in SQLite, so the entry may reset the instance
//! after a trap without losing anything.
//! Modules: [`object`] the calls and the alarm, [`schema`] the migrations, [`wire`] bodies,
//! answers and the decisions around SQL, [`outbox`] the consumer's plan, [`js`] the platform.
mod js;
mod object;
mod outbox;
mod schema;
mod wire;

use shared::problem::Problem;
use wasm_bindgen::prelude::*;

/// Crate version reported by `/$.health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs once per instance: a panic (a trap, after which the entry resets the instance) is logged
/// with its message.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| js::console_error(&format!("Rust panic: {info}"))));
}

/// The worker's own routes: `GET /$.health`; anything else a 404/405 problem. `[status, body,
/// allow]` (the entry makes the response: JSON for a 200, problem+json otherwise). `outbox`: the
/// entry's counts of the outbox consumer in this isolate — messages, confirms answered 200,
/// malformed messages (acked), messages retried.
#[wasm_bindgen]
pub fn worker_fetch(path: &str, method: &str, outbox: Vec<f64>) -> js_sys::Array {
    let out = js_sys::Array::new();
    let p = if path != shared::health::PATH {
        Problem::route_not_found(path)
    } else if method != "GET" {
        Problem::method_not_allowed("GET")
    } else {
        let n = |i: usize| outbox.get(i).map_or(0, |f| *f as u64);
        let extra = [("outbox_messages", n(0)), ("outbox_confirms", n(1)), ("outbox_malformed", n(2)), ("outbox_retried", n(3))];
        out.push(&JsValue::from(200));
        out.push(&JsValue::from_str(&shared::health::body("ledger", VERSION, js::instance_resets(), js::memory_bytes(), &extra)));
        out.push(&JsValue::NULL);
        return out;
    };
    out.push(&JsValue::from(p.status));
    out.push(&JsValue::from_str(&p.to_json()));
    out.push(&p.extensions.get("allow").and_then(|a| a.as_str()).map_or(JsValue::NULL, JsValue::from_str));
    out
}

/// The outbox consumer's plan for one message: `[[object name, confirm body]…]`, one per shard
/// its writes fall in, or null when the message is not a confirm body (acked, never retried).
#[wasm_bindgen]
pub fn outbox_plan(text: &str, env: JsValue) -> JsValue {
    let shards = shared::ledger::shard::parse_shards(js::var(&env, "LEDGER_SHARDS").as_deref());
    let Ok(calls) = outbox::plan(text, shards) else { return JsValue::NULL };
    let out = js_sys::Array::new();
    for (shard, body) in calls {
        let pair = js_sys::Array::new();
        pair.push(&JsValue::from_str(&shared::ledger::shard::object_name(shard)));
        pair.push(&JsValue::from_str(&body));
        out.push(&pair);
    }
    out.into()
}

/// The class's constructor (inside `blockConcurrencyWhile` and a transaction): migrations.
#[wasm_bindgen]
pub fn ledger_init(state: js::ObjectState) -> Result<(), JsValue> {
    object::init(&state).map_err(|e| JsValue::from_str(&e))
}

/// The class's `fetch` once the entry has read the body, inside a transaction: `[status, body,
/// alarm_by, allow]` (see `object::call`); throws on a storage failure (the transaction rolls back).
#[wasm_bindgen]
pub fn ledger_call(state: js::ObjectState, env: JsValue, path: &str, method: &str, body: &str) -> Result<js_sys::Array, JsValue> {
    object::call(&state, &env, path, method, body).map_err(|e| JsValue::from_str(&e))
}

/// The class's `alarm`, inside a transaction: `[[[kv key, value]…], next alarm or null, rows]`.
#[wasm_bindgen]
pub fn ledger_alarm(state: js::ObjectState, env: JsValue) -> Result<js_sys::Array, JsValue> {
    object::alarm(&state, &env).map_err(|e| JsValue::from_str(&e))
}

/// After the alarm's KV puts (`failed`: the KV keys refused), inside a transaction: the failed
/// keys are due again. `[time of the retry alarm or null, rows written]`.
#[wasm_bindgen]
pub fn ledger_alarm_done(state: js::ObjectState, failed: Vec<String>) -> Result<js_sys::Array, JsValue> {
    object::alarm_done(&state, &failed).map_err(|e| JsValue::from_str(&e))
}
