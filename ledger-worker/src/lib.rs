//! The ledger worker (#17, `docs/design/ledger.md`): hosts the SQLite-backed Durable Object class
//! `Ledger` (one object per shard of the key space) and consumes `LEDGER_OUTBOX`, ingest's
//! deferred confirms. Its own `fetch` answers `/$.health` only; the ledger's calls reach an object
//! through the `LEDGER` binding's stub (`POST https://ledger/<call>`, see [`object::CALLS`]).
//!
//! This file is the entry and the router. The class itself is a JS class in `entry.mjs` over the
//! exports below (state lives only in SQLite, so the shim may reset the wasm instance after a
//! trap): [`object`] the calls and the alarm, [`schema`] the migrations, [`wire`] bodies, answers
//! and the decisions around SQL, [`outbox`] the queue consumer's plan, [`js`] the platform.
mod js;
mod object;
mod outbox;
mod schema;
mod wire;

use shared::problem::{Problem, CONTENT_TYPE};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response};

/// Crate version reported by `/$.health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The outbox consumer's counters in this isolate (reported by `/$.health`).
#[derive(Default, Clone, Copy)]
struct Outbox {
    messages: u64,
    confirms: u64,
    malformed: u64,
    retried: u64,
}

std::thread_local! {
    static OUTBOX: core::cell::Cell<Outbox> = Default::default();
}

fn outbox_count(f: impl FnOnce(&mut Outbox)) {
    OUTBOX.with(|c| {
        let mut o = c.get();
        f(&mut o);
        c.set(o);
    });
}

/// Runs once per instance: a panic (a trap, after which the entry shim resets the instance) is
/// logged with its message.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| js::console_error(&format!("Rust panic: {info}"))));
}

/// The worker's fetch: `GET /$.health`; anything else 404/405 problem+json.
#[wasm_bindgen]
pub async fn fetch(req: Request, _env: JsValue, _ctx: JsValue) -> Result<Response, JsValue> {
    let url = req.url();
    let path = js::path(&url);
    if path == shared::health::PATH {
        if req.method() != "GET" {
            let p = Problem::method_not_allowed("GET");
            return js::respond(p.status, CONTENT_TYPE, &p.to_json(), &[("allow", "GET")]);
        }
        let o = OUTBOX.with(|c| c.get());
        let extra = [
            ("outbox_messages", o.messages),
            ("outbox_confirms", o.confirms),
            ("outbox_malformed", o.malformed),
            ("outbox_retried", o.retried),
        ];
        let body = shared::health::body("ledger", VERSION, js::instance_resets(), js::memory_bytes(), &extra);
        return js::respond(200, "application/json", &body, &[]);
    }
    let p = Problem::route_not_found(path);
    js::respond(p.status, CONTENT_TYPE, &p.to_json(), &[])
}

/// The queue consumer of `LEDGER_OUTBOX`: each message's writes confirmed in their shards; a
/// message whose calls all answered 200 is acked, one that failed is retried (then the
/// dead-letter queue), a malformed one acked and counted.
#[wasm_bindgen]
pub async fn queue(batch: js::MessageBatch, env: JsValue) -> Result<(), JsValue> {
    let shards = shared::ledger::shard::parse_shards(js::var(&env, "LEDGER_SHARDS").as_deref());
    for m in batch.messages().iter() {
        let m: js::Message = m.unchecked_into();
        outbox_count(|o| o.messages += 1);
        let calls = match m.text().map(|t| outbox::plan(&t, shards)) {
            Some(Ok(c)) => c,
            _ => {
                outbox_count(|o| o.malformed += 1);
                js::console_error("ledger outbox: a message is not a confirm body; acked");
                m.ack();
                continue;
            }
        };
        let mut ok = true;
        for (shard, body) in &calls {
            let name = shared::ledger::shard::object_name(*shard);
            match js::call_object(&env, "LEDGER", &name, "confirm", body).await {
                Ok((200, _)) => outbox_count(|o| o.confirms += 1),
                Ok((status, text)) => {
                    js::console_error(&format!("ledger outbox: {name} confirm answered {status}: {text}"));
                    ok = false;
                }
                Err(e) => {
                    js::console_error(&format!("ledger outbox: {name} confirm failed: {e}"));
                    ok = false;
                }
            }
        }
        if ok {
            m.ack();
        } else {
            outbox_count(|o| o.retried += 1);
            m.retry();
        }
    }
    Ok(())
}

/// The class's constructor (inside `blockConcurrencyWhile`): schema migrations.
#[wasm_bindgen]
pub fn ledger_init(state: js::ObjectState) -> Result<(), JsValue> {
    object::init(&state).map_err(|e| JsValue::from_str(&e))
}

/// The class's `fetch`: the ledger's calls.
#[wasm_bindgen]
pub async fn ledger_fetch(req: Request, state: js::ObjectState, env: JsValue) -> Result<Response, JsValue> {
    object::fetch(req, state, env).await
}

/// The class's `alarm`.
#[wasm_bindgen]
pub async fn ledger_alarm(state: js::ObjectState, env: JsValue) -> Result<(), JsValue> {
    object::alarm(state, env).await.map_err(|e| JsValue::from_str(&e))
}
