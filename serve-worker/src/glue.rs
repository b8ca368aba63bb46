//! Platform glue: turning core values into `worker` responses.

use futures_util::StreamExt;
use shared::problem::{Problem, CONTENT_TYPE};
use worker::{Headers, Request, Response, Result};

/// The request body, read only while it stays within `max` bytes: a declared `Content-Length`
/// over the bound is refused before anything is read, and the read stops at the first chunk past
/// it, so no body can grow the isolate's memory by more than `max` (security issue 1: parsing
/// first and counting after took 355 MB for a 15 MB body). A 413 problem otherwise.
pub async fn bounded_body(req: &mut Request, max: usize) -> Result<std::result::Result<Vec<u8>, Problem>> {
    let too_large =
        || Problem::new(413, "body-too-large", "Payload Too Large", format!("the body is larger than {max} bytes")).with("limit", max);
    let declared = req.headers().get("content-length")?.and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Ok(Err(too_large()));
    }
    let mut out = Vec::new();
    // No body at all reads as empty.
    let Ok(mut stream) = req.stream() else { return Ok(Ok(out)) };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len().saturating_add(chunk.len()) > max {
            return Ok(Err(too_large()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Ok(out))
}

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
    // A 405 names the methods the route takes in its `allow` member and in `Allow`.
    if let Some(allow) = p.extensions.get("allow").and_then(|a| a.as_str()).filter(|_| p.status == 405) {
        headers.set("allow", allow)?;
    }
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
    js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into()).ok().and_then(|v| v.as_f64()).map_or(0, |f| f as u32)
}
