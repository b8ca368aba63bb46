//! The ingest worker: `POST /$.artifacts` → validated NDJSON → Pipelines streams.
//!
//! This file is the entry and the router, nothing else. [`artifacts`] handles the routes,
//! [`pipeline`] is the Pipelines binding, [`http`] turns problems into responses.
mod artifacts;
mod auth;
mod events;
mod http;
mod idempotency;
mod js;
mod ledger;
mod limits;
mod pipeline;
mod purge;
mod refusal;
mod settings;

use crate::js::Env;
use shared::problem::Problem;
use shared::route::percent_decode;
use wasm_bindgen::prelude::*;
use web_sys::Request;

/// Crate version reported by `/$.health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs once per instance: a panic (a trap with `panic = "abort"`, after which the entry shim
/// resets the instance) is logged with its message, as the `worker` crate's start hook did.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| js::console_error(&format!("Rust panic: {info}"))));
}

/// The fetch handler the entry shim calls (no `#[event]` macro: its error plumbing costs bytes).
#[wasm_bindgen]
pub async fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> http::Result {
    route(req, env).await
}

async fn route(req: Request, env: Env) -> http::Result {
    let url = req.url();
    let path = js::path(&url);
    let method = req.method();
    if path == shared::health::PATH {
        return match method.as_str() {
            "GET" => {
                let (sent, failed) = events::counts();
                let extra = [("events_sent", sent), ("events_failed", failed)];
                http::json(200, &shared::health::body("ingest", VERSION, http::instance_resets(), http::memory_bytes(), &extra))
            }
            _ => method_not_allowed("GET"),
        };
    }
    if path == "/$.artifacts" {
        return match method.as_str() {
            "POST" => artifacts::post(req, env).await,
            _ => method_not_allowed("POST"),
        };
    }
    if let Some(rest) = path.strip_prefix("/$.artifacts/") {
        // `{ns}/{type}/{id}`, the id possibly nested (`install/linux`), each segment decoded alone.
        let parts: Vec<&str> = rest.splitn(3, '/').collect();
        if let [ns, ty, id] = parts.as_slice() {
            let id = id.split('/').enumerate().try_fold(String::new(), |mut out, (i, seg)| {
                if i > 0 {
                    out.push('/');
                }
                out.push_str(&percent_decode(seg)?);
                Some(out)
            });
            let decoded = (percent_decode(ns), percent_decode(ty), id);
            let (Some(ns), Some(ty), Some(id)) = decoded else {
                return http::problem(&Problem::new(400, "bad-path", "Bad Request", "a path segment has a malformed percent-encoding"));
            };
            return match method.as_str() {
                "DELETE" => artifacts::delete(req, env, &ns, &ty, &id).await,
                _ => method_not_allowed("DELETE"),
            };
        }
    }
    http::problem(&Problem::route_not_found(path))
}

/// 405 naming the methods the route takes, in the problem and in `Allow`.
fn method_not_allowed(allow: &str) -> http::Result {
    http::problem_with(&Problem::method_not_allowed(allow), &[("allow", allow.into())])
}
