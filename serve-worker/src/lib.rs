//! The serve worker: `GET /$.content/{ns}/{type}/{id}.{ext}` from Iceberg tables in R2.
//!
//! This file is the entry and the router, nothing else: [`read`] answers content requests,
//! [`cache`] is the Cache API with stale-while-revalidate, [`tables`] finds and caches table metadata, [`store`] is R2 as the locator's object store,
//! [`glue`] turns problems into responses.
mod auth;
mod cache;
mod coalesce;
mod cors;
mod glue;
mod html;
mod ledger;
mod lineage;
mod read;
mod store;
mod tables;
mod tenants;

use shared::problem::Problem;
use worker::{event, Context, Env, Method, Request, Response, Result};

/// Crate version reported by `/$.health`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    // Opt-in CORS (#19): a grant only for an origin the namespace's tenant lists.
    let origin = cors::allowed(&req, &env).await;
    if let Some(res) = cors::preflight(&req, origin.as_deref()) {
        return res;
    }
    cors::grant(route(req, env, ctx).await?, origin.as_deref())
}

/// The router.
async fn route(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let not_allowed = |allow| glue::problem(&Problem::method_not_allowed(allow));
    if path == shared::health::PATH {
        if method != Method::Get {
            return not_allowed("GET");
        }
        let (table_reads, joined, tracked) = coalesce::stats();
        let counters = [("table_reads", table_reads), ("coalesced", joined), ("in_flight", tracked as u64)];
        let mut body = shared::health::body("serve", VERSION, glue::instance_resets(), glue::memory_bytes(), &counters);
        // The serving table's member (an object, so not one of the numeric counters).
        if body.ends_with('}') {
            body.pop();
            body.push_str(",\"serving\":");
            body.push_str(&tables::serving_health(&tables::Config::from_env(&env)).to_string());
            body.push('}');
        }
        return glue::json(200, &body);
    }
    if path == "/$.content/batch" {
        return match method {
            Method::Post => read::batch(req, &env).await,
            _ => not_allowed("POST"),
        };
    }
    if path == "/$.content/sign" {
        return match method {
            Method::Post => read::sign(req, &env).await,
            _ => not_allowed("POST"),
        };
    }
    if let Some(rest) = path.strip_prefix("/$.lineage/") {
        return match method {
            Method::Get => lineage::get(&req, &env, rest).await,
            _ => not_allowed("GET"),
        };
    }
    if let Some(rest) = path.strip_prefix(shared::content::PREFIX) {
        // `{ns}/{type}/`: the listing.
        if let Some(dir) = rest.strip_suffix('/') {
            if let Some((ns, ty)) = dir.split_once('/').filter(|(_, t)| !t.contains('/')) {
                return match method {
                    Method::Get => read::list(&req, &env, ns, ty).await,
                    _ => not_allowed("GET"),
                };
            }
        }
        return match method {
            Method::Get => read::get(&req, &env, &ctx, rest, false).await,
            Method::Head => read::get(&req, &env, &ctx, rest, true).await,
            _ => not_allowed("GET, HEAD"),
        };
    }
    glue::problem(&Problem::route_not_found(&path))
}
