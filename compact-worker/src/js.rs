//! The Queues API as typed externs: the consumer's batch and messages, and the producer binding
//! the worker sends its run orders with. Declared here (as ingest does for its bindings) rather
//! than through `worker`'s `queue` feature: features unify across the one cargo run that builds
//! every worker, and that one would reach ingest and serve too.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

#[wasm_bindgen]
extern "C" {
    /// The consumer's batch (`queue(batch, env, ctx)`).
    pub type MessageBatch;
    /// Its messages.
    #[wasm_bindgen(method, getter)]
    pub fn messages(this: &MessageBatch) -> js_sys::Array;
    /// The queue's name.
    #[wasm_bindgen(method, getter)]
    pub fn queue(this: &MessageBatch) -> String;

    /// One message of a batch.
    pub type Message;
    /// Its id.
    #[wasm_bindgen(method, getter)]
    pub fn id(this: &Message) -> String;
    /// Its body: an object for JSON messages (R2's notifications, our run orders).
    #[wasm_bindgen(method, getter)]
    pub fn body(this: &Message) -> JsValue;
    /// How many times it was delivered, this one included.
    #[wasm_bindgen(method, getter)]
    pub fn attempts(this: &Message) -> f64;
    /// Done with it.
    #[wasm_bindgen(method)]
    pub fn ack(this: &Message);
    /// Deliver it again later (up to the consumer's `max_retries`).
    #[wasm_bindgen(method)]
    pub fn retry(this: &Message);

    /// A queue producer binding.
    pub type Queue;
    #[wasm_bindgen(method, catch, js_name = sendBatch)]
    fn send_batch(this: &Queue, messages: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;
}

/// The producer binding `name`, when the environment has one.
pub fn queue(env: &Env, name: &str) -> Option<Queue> {
    let value = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    (!value.is_undefined() && !value.is_null()).then(|| value.unchecked_into::<Queue>())
}

/// A message body as JSON (a text body is parsed; `None` when it is neither).
pub fn body_json(message: &Message) -> Option<serde_json::Value> {
    let body = message.body();
    let text = match body.as_string() {
        Some(s) => s,
        None => js_sys::JSON::stringify(&body).ok()?.as_string()?,
    };
    serde_json::from_str(&text).ok()
}

/// Sends JSON bodies in one `sendBatch` (JSON content type).
pub async fn send_all(queue: &Queue, bodies: &[serde_json::Value]) -> Result<(), String> {
    let batch = js_sys::Array::new();
    for b in bodies {
        let body = js_sys::JSON::parse(&b.to_string()).map_err(|e| format!("{e:?}"))?;
        let msg = js_sys::Object::new();
        js_sys::Reflect::set(&msg, &"body".into(), &body).map_err(|e| format!("{e:?}"))?;
        js_sys::Reflect::set(&msg, &"contentType".into(), &"json".into()).map_err(|e| format!("{e:?}"))?;
        batch.push(&msg);
    }
    let promise = queue.send_batch(&batch).map_err(|e| format!("sendBatch: {e:?}"))?;
    wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| format!("sendBatch: {e:?}"))?;
    Ok(())
}
