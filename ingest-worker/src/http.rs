//! HTTP glue: the one place core values (problems, JSON) become responses.
//!
//! Responses are built as `web_sys::Response` directly: the `worker` crate's `Response` and its
//! error plumbing cost several KB in the 96 KiB ingest budget and add nothing here.

use shared::problem::{Problem, CONTENT_TYPE};
use wasm_bindgen::JsValue;
use web_sys::{Headers, Response, ResponseInit};

/// What every handler returns.
pub type Result = core::result::Result<Response, JsValue>;

/// A response with a status, content type, body and extra headers.
pub fn respond(status: u16, content_type: &str, body: &str, extra: &[(&str, String)]) -> Result {
    let headers = Headers::new()?;
    headers.set("content-type", content_type)?;
    for (k, v) in extra {
        headers.set(k, v)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(body), &init)
}

/// A JSON response with the given status.
pub fn json(status: u16, body: &str) -> Result {
    respond(status, "application/json", body, &[])
}

/// The one place a [`Problem`] becomes an HTTP response.
pub fn problem(p: &Problem) -> Result {
    respond(p.status, CONTENT_TYPE, &p.to_json(), &[])
}

/// A problem response with extra headers (`Retry-After`, `WWW-Authenticate`, rate-limit headers).
pub fn problem_with(p: &Problem, extra: &[(&str, String)]) -> Result {
    respond(p.status, CONTENT_TYPE, &p.to_json(), extra)
}

/// Bytes of this instance's wasm linear memory (its peak: linear memory never shrinks).
pub fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::JsCast::unchecked_into(wasm_bindgen::memory());
    let buffer = memory.buffer();
    js_sys::Reflect::get(&buffer, &"byteLength".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u64)
}

/// How many times the entry shim reinitialised the wasm instance after a trap
/// (`globalThis.__wasmResets`, maintained by `tools/entry.mjs`).
pub fn instance_resets() -> u32 {
    js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u32)
}
