//! The test double for R2 event notifications (#16; Miniflare has none): when the optional Queue
//! producer binding `R2_EVENTS` is present, every object the stand-in writes under a table's
//! `metadata/` (manifests, manifest lists, `vN.metadata.json`, the pointer — its commits and its
//! maintenance alike) is announced on it with the message R2 sends for an object-create rule:
//! `{"account", "bucket", "object": {"key", "size", "eTag"}, "action": "PutObject", "eventTime"}`.
//! The compact worker consumes that queue, so with the binding present the stand-in's own
//! compactor runs after commits are off ([`enabled`]); `POST /compact` still runs it on request.
//!
//! As a double it records what it sent and injects failures: `GET /events` answers the record,
//! `POST /events?drop=N` drops the next N notifications (a lost notification), `?delay=S` sends
//! the following ones with `delaySeconds: S`, `?reset=1` clears the record and both settings.
//! The state is this isolate's (the stand-in has one in Miniflare).

use std::cell::RefCell;

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

/// The producer binding the notifications go to.
pub const BINDING: &str = "R2_EVENTS";
/// Most notifications kept in the record.
const RECORD: usize = 2000;

#[wasm_bindgen]
extern "C" {
    type Queue;
    #[wasm_bindgen(method, catch)]
    fn send(this: &Queue, body: &JsValue, options: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

#[derive(Default)]
struct State {
    /// The binding, when the environment has one (set at each entry point).
    queue: Option<JsValue>,
    /// Bucket name and account the messages carry.
    bucket: String,
    /// Drop this many of the next notifications.
    drop_next: u64,
    /// Send with this delay, s.
    delay_seconds: u32,
    /// What was sent (or dropped), oldest first.
    record: Vec<Value>,
    sent: u64,
    dropped: u64,
    failed: u64,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn binding(env: &Env) -> Option<JsValue> {
    js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(BINDING)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Whether notifications go out (the binding is present): then the compact worker absorbs
/// commits and the stand-in does not run its compactor after them.
pub fn enabled(env: &Env) -> bool {
    binding(env).is_some()
}

/// Remembers this environment's binding for the writes of this invocation (called at every
/// entry point: `fetch`, `send`, `flush`).
pub fn bind(env: &Env) {
    let queue = binding(env);
    let bucket = crate::var(env, "R2_EVENTS_BUCKET", "artifacts-warehouse");
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.queue = queue;
        s.bucket = bucket;
    });
}

fn remember(s: &mut State, entry: Value) {
    if s.record.len() >= RECORD {
        s.record.remove(0);
    }
    s.record.push(entry);
}

/// Announces an object the stand-in wrote (only keys under a `metadata/` directory, as the
/// notification rule on the sources' metadata prefix would). Never fails the write: a failed send
/// is counted (R2's notifications are not part of the put either).
pub async fn written(key: &str, obj: &worker::Object) {
    if !key.contains("/metadata/") {
        return;
    }
    let now = crate::now_ms();
    let (queue, body, delay, dropped) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let body = json!({
            "account": "standin",
            "bucket": s.bucket,
            "object": {"key": key, "size": obj.size(), "eTag": obj.etag()},
            "action": "PutObject",
            "eventTime": shared::time::format_micros((now as i64).saturating_mul(1000)),
        });
        let Some(queue) = s.queue.clone() else { return (None, body, 0, false) };
        let dropped = s.drop_next > 0;
        if dropped {
            s.drop_next -= 1;
            s.dropped += 1;
        }
        let delay = s.delay_seconds;
        remember(&mut s, json!({"key": key, "dropped": dropped, "delay_seconds": delay, "at_ms": now as u64}));
        (Some(queue), body, delay, dropped)
    });
    let Some(queue) = queue.filter(|_| !dropped) else { return };
    let sent = async {
        let body = js_sys::JSON::parse(&body.to_string()).map_err(|e| format!("{e:?}"))?;
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"contentType".into(), &"json".into()).map_err(|e| format!("{e:?}"))?;
        if delay > 0 {
            js_sys::Reflect::set(&options, &"delaySeconds".into(), &JsValue::from(delay)).map_err(|e| format!("{e:?}"))?;
        }
        let promise = queue.unchecked_ref::<Queue>().send(&body, &options).map_err(|e| format!("{e:?}"))?;
        wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?;
        Ok::<(), String>(())
    }
    .await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match sent {
            Ok(()) => s.sent += 1,
            Err(e) => {
                s.failed += 1;
                worker::console_error!("R2_EVENTS send for {key} failed: {e}");
            }
        }
    });
}

/// `GET /events`: the record; `POST /events?drop=N&delay=S&reset=1`: failure injection.
pub fn route(method: &worker::Method, query: impl Fn(&str) -> Option<String>) -> Option<Value> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match method {
            worker::Method::Get => {}
            worker::Method::Post => {
                if query("reset").is_some() {
                    let (queue, bucket) = (s.queue.take(), std::mem::take(&mut s.bucket));
                    *s = State { queue, bucket, ..State::default() };
                }
                if let Some(n) = query("drop").and_then(|v| v.parse::<u64>().ok()) {
                    s.drop_next = n;
                }
                if let Some(d) = query("delay").and_then(|v| v.parse::<u32>().ok()) {
                    s.delay_seconds = d;
                }
            }
            _ => return None,
        }
        Some(json!({
            "enabled": s.queue.is_some(),
            "sent": s.sent,
            "dropped": s.dropped,
            "failed": s.failed,
            "drop_next": s.drop_next,
            "delay_seconds": s.delay_seconds,
            "record": s.record,
        }))
    })
}
