//! HTTP glue: the one place core values (problems, JSON) become `worker` responses.

use shared::problem::{Problem, CONTENT_TYPE};
use worker::{Headers, Response, Result};

/// A response body with a content type and status.
pub fn respond(status: u16, content_type: &str, body: String) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    Ok(Response::ok(body)?.with_status(status).with_headers(headers))
}

/// A JSON response with the given status.
pub fn json(status: u16, body: String) -> Result<Response> {
    respond(status, "application/json", body)
}

/// The one place a [`Problem`] becomes an HTTP response.
pub fn problem(p: &Problem) -> Result<Response> {
    respond(p.status, CONTENT_TYPE, p.to_json())
}

/// A problem response with extra headers (`Retry-After`, `WWW-Authenticate`, rate-limit headers).
pub fn problem_with(p: &Problem, extra: &[(&str, String)]) -> Result<Response> {
    let res = problem(p)?;
    for (k, v) in extra {
        res.headers().set(k, v)?;
    }
    Ok(res)
}

/// How many times the entry shim reinitialised the wasm instance after a trap
/// (`globalThis.__wasmResets`, maintained by `tools/entry.mjs`).
pub fn instance_resets() -> u32 {
    js_sys::Reflect::get(&js_sys::global(), &"__wasmResets".into())
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(0, |f| f as u32)
}
