//! Purge-on-write: once a chunk is confirmed, bump each artifact's state in KV (its dedupe key and
//! its cache generation, which serve folds into every cache key through `shared::cache_key`),
//! and, when `ZONE_ID` and the secret `PURGE_API_TOKEN` are set, purge the zone cache by tag.

use futures_util::future::join_all;
use serde_json::json;
use worker::{kv::KvStore, Env, Fetch, Headers, Method, Request, RequestInit};

/// Tags per purge call (the API's limit per request).
const TAGS_PER_CALL: usize = 30;

/// Zone purge settings, present only when configured.
#[derive(Clone)]
pub struct ZonePurge {
    url: String,
    token: String,
}

/// Reads `ZONE_ID`, `PURGE_API_BASE` and `PURGE_API_TOKEN`.
pub fn zone(env: &Env) -> Option<ZonePurge> {
    let zone = env.var("ZONE_ID").ok()?.to_string();
    let token = env.secret("PURGE_API_TOKEN").ok().or_else(|| env.var("PURGE_API_TOKEN").ok())?.to_string();
    if zone.trim().is_empty() || token.trim().is_empty() {
        return None;
    }
    let base = env.var("PURGE_API_BASE").map(|v| v.to_string()).unwrap_or_else(|_| "https://api.cloudflare.com/client/v4".into());
    Some(ZonePurge { url: format!("{}/zones/{}/purge_cache", base.trim_end_matches('/'), zone.trim()), token })
}

/// Records the confirmed state of each artifact: `(ns/type/id, dedupe key, generation)`.
pub async fn record_state(kv: &KvStore, written: &[(String, String, i64)]) {
    let puts = written.iter().map(|(key, dedupe, generation)| async move {
        let value = json!({ "h": dedupe, "g": generation }).to_string();
        match kv.put(&shared::cache_key::state_key_of(key), value) {
            Ok(p) => {
                if let Err(e) = p.execute().await {
                    worker::console_error!("state write for {key} failed: {e}");
                }
            }
            Err(e) => worker::console_error!("state write for {key} failed: {e}"),
        }
    });
    join_all(puts).await;
}

/// Purges the zone cache for these artifacts (`ns/type/id` keys) by cache tag.
pub async fn purge_zone(zone: &ZonePurge, keys: &[String]) {
    for batch in keys.chunks(TAGS_PER_CALL) {
        let tags: Vec<String> = batch.iter().map(|k| format!("art:{k}")).collect();
        let headers = Headers::new();
        let _ = headers.set("authorization", &format!("Bearer {}", zone.token));
        let _ = headers.set("content-type", "application/json");
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(json!({ "tags": tags }).to_string().into()));
        let result = match Request::new_with_init(&zone.url, &init) {
            Ok(req) => Fetch::Request(req).send().await.map(|r| r.status_code()),
            Err(e) => Err(e),
        };
        match result {
            Ok(s) if (200..300).contains(&s) => {}
            Ok(s) => worker::console_error!("zone purge answered {s}"),
            Err(e) => worker::console_error!("zone purge failed: {e}"),
        }
    }
}
