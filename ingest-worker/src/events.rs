//! Events on publish (#18): after a chunk's writes are confirmed, what changed goes to the
//! optional Queue binding `ARTIFACT_EVENTS` (`shared::events`: message bodies and batches). Off
//! when unbound. A send never fails the ingest: each batch is tried [`ATTEMPTS`] times with
//! backoff, then counted as failed (`/$.health`'s `events_failed`) and logged.

use std::cell::Cell;

use js_sys::{Array, Promise};
use shared::events::{batches, messages, Event};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::js::{self, Env};

/// Tries per `sendBatch`.
const ATTEMPTS: u32 = 3;
/// Backoff before the second try, ms (doubled each time).
const BACKOFF_MS: u64 = 50;

#[wasm_bindgen]
extern "C" {
    /// A Queue producer binding.
    #[derive(Clone)]
    pub type Queue;

    /// `sendBatch([{body}])`.
    #[wasm_bindgen(method, catch, js_name = sendBatch)]
    fn send_batch(this: &Queue, messages: &Array) -> Result<Promise, JsValue>;
}

thread_local! {
    /// Messages sent and batches given up on in this isolate (`/$.health`).
    static SENT: Cell<u64> = const { Cell::new(0) };
    static FAILED: Cell<u64> = const { Cell::new(0) };
}

/// `(events_sent, events_failed)` of this isolate.
pub fn counts() -> (u64, u64) {
    (SENT.with(Cell::get), FAILED.with(Cell::get))
}

/// The `ARTIFACT_EVENTS` binding, when bound.
pub fn binding(env: &Env) -> Option<Queue> {
    js::binding(env, "ARTIFACT_EVENTS").map(JsCast::unchecked_into)
}

async fn send(queue: &Queue, bodies: &[String]) -> Result<(), String> {
    let array = Array::new();
    for b in bodies {
        // The body as a JSON value (consumers get an object), not a string.
        let body = js_sys::JSON::parse(b).map_err(|e| js::describe(&e))?;
        array.push(&js::object(&[("body", body)]));
    }
    let promise = queue.send_batch(&array).map_err(|e| js::describe(&e))?;
    JsFuture::from(promise).await.map(|_| ()).map_err(|e| js::describe(&e))
}

/// Sends `events` (every confirmed, not deduped write of a chunk) in as few batches as the
/// limits allow; never fails.
pub async fn publish(queue: &Queue, events: &[Event]) {
    for batch in batches(messages(events)) {
        let mut wait = BACKOFF_MS;
        let mut sent = false;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                js::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            match send(queue, &batch).await {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(e) if attempt.saturating_add(1) == ATTEMPTS => {
                    js::console_error(&format!("ARTIFACT_EVENTS: {} messages not sent after {ATTEMPTS} tries: {e}", batch.len()))
                }
                Err(_) => {}
            }
        }
        let counter = if sent { &SENT } else { &FAILED };
        let n = if sent { batch.len() as u64 } else { 1 };
        counter.with(|c| c.set(c.get().saturating_add(n)));
    }
}
