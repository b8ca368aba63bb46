//! Platform glue: turning core values into `worker` responses.

use shared::problem::{Problem, CONTENT_TYPE};
use worker::{Headers, Response, Result};

/// A JSON response with the given status.
pub fn json(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(headers))
}

/// The one place a [`Problem`] becomes an HTTP response.
pub fn problem(p: &Problem) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", CONTENT_TYPE)?;
    Ok(Response::ok(p.to_json())?.with_status(p.status).with_headers(headers))
}

/// Bytes of this instance's wasm linear memory (its peak: linear memory never shrinks).
pub fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::JsCast::unchecked_into(wasm_bindgen::memory());
    let buffer = memory.buffer();
    js_sys::Reflect::get(&buffer, &"byteLength".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u64)
}

/// How many times the entry shim reinitialised the wasm instance after a trap
/// (`globalThis.__wasmResets`, maintained by `build/entry.mjs`).
pub fn instance_resets() -> u32 {
    js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into())
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(0, |f| f as u32)
}
