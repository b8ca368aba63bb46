//! The serve worker: `GET /$.content/{ns}/{type}/{id}.{ext}` from Iceberg tables in R2.
//!
//! This file is the entry and the router, nothing else; platform glue lives in [`glue`].
mod glue;

use shared::problem::Problem;
use worker::{event, Context, Env, Method, Request, Response, Result};

/// Crate version reported by `/$.health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[event(fetch)]
async fn fetch(req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Get, shared::health::PATH) => glue::json(
            200,
            &shared::health::body("serve", VERSION, glue::instance_resets(), glue::memory_bytes()),
        ),
        _ => glue::problem(&Problem::route_not_found(&path)),
    }
}
