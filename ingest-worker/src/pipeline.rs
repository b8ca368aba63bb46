//! The Pipelines binding, in miniature as workers-rs does it: raw `extern` declarations for the
//! JS object, and one safe async function that sends a chunk with timeout and retries.
//!
//! The `worker` crate has no Pipeline type; the binding is a JS object with
//! `send(records: object[]): Promise<void>` (a service binding with the same method locally).

use crate::js::Env;
use futures_util::future::{select, Either};
use shared::retry::{Next, RetryPolicy, SendOutcome};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// A Pipelines stream binding.
    #[derive(Clone)]
    pub type Pipeline;

    #[wasm_bindgen(method, catch)]
    fn send(this: &Pipeline, records: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

/// The binding for `name` (`PIPELINE_BUILD`, …), if the environment has one with a `send`.
pub fn binding(env: &Env, name: &str) -> Option<Pipeline> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    Some(value.unchecked_into::<Pipeline>())
}

use crate::js::describe;

/// One attempt: `send(records)` raced against the attempt timeout.
async fn attempt(pipeline: &Pipeline, records: &JsValue, timeout_ms: u64) -> Result<(), String> {
    let promise = pipeline.send(records).map_err(|e| describe(&e))?;
    let send = JsFuture::from(promise);
    let timer = crate::js::sleep(timeout_ms);
    match select(send, timer).await {
        Either::Left((Ok(_), _)) => Ok(()),
        Either::Left((Err(e), _)) => Err(describe(&e)),
        Either::Right(_) => Err(format!("send did not answer within {timeout_ms} ms")),
    }
}

/// Sends one chunk (a JSON array text) until the stream confirms it or the policy gives up.
pub async fn send_with_retry(pipeline: &Pipeline, json: &str, policy: &RetryPolicy) -> SendOutcome<String> {
    let records = match js_sys::JSON::parse(json) {
        Ok(v) => v,
        Err(e) => return SendOutcome::Failed { attempts: 0, last_error: describe(&e) },
    };
    let started = crate::js::now_ms();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last_error = match attempt(pipeline, &records, policy.attempt_timeout_ms).await {
            Ok(()) => return SendOutcome::Confirmed { attempts },
            Err(e) => e,
        };
        let elapsed = crate::js::now_ms().saturating_sub(started);
        let random = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
        match policy.after_failure(attempts, elapsed, random) {
            Next::RetryAfter(ms) => crate::js::sleep(ms).await,
            Next::GiveUp => return SendOutcome::Failed { attempts, last_error },
        }
    }
}
