//! The one place a [`Problem`] (and a JSON body) becomes an HTTP response.

use serde_json::Value;
use shared::problem::{Problem, CONTENT_TYPE};
use worker::{Headers, Response, Result};

/// A JSON response with `status`.
pub fn json(status: u16, body: &Value) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body.to_string())?.with_status(status).with_headers(headers))
}

/// A problem+json response; a 405 names the route's methods in `Allow` too.
pub fn problem(p: &Problem) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", CONTENT_TYPE)?;
    if let Some(allow) = p.extensions.get("allow").and_then(Value::as_str).filter(|_| p.status == 405) {
        headers.set("allow", allow)?;
    }
    Ok(Response::ok(p.to_json())?.with_status(p.status).with_headers(headers))
}
