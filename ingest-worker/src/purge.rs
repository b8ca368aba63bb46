//! Purge-on-write: once a chunk is confirmed, and when `ZONE_ID` and the secret
//! `PURGE_API_TOKEN` are set, purge the zone cache by tag for the keys whose state changed and
//! the refs their records supersede (#18: a successor changes its predecessor's answers). The
//! per-key state (dedupe key, cache generation) is the ledger's (#17): its alarm writes the KV
//! generation serve folds into every cache key, only for keys a reader may have cached.

use crate::js::{self, Env};
use serde_json::json;

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
    let zone = js::var(env, "ZONE_ID")?;
    let token = js::var(env, "PURGE_API_TOKEN")?;
    if zone.trim().is_empty() || token.trim().is_empty() {
        return None;
    }
    let base = js::var(env, "PURGE_API_BASE").unwrap_or_else(|| "https://api.cloudflare.com/client/v4".into());
    Some(ZonePurge { url: format!("{}/zones/{}/purge_cache", base.trim_end_matches('/'), zone.trim()), token })
}

/// Purges the zone cache for these artifacts (`ns/type/id` keys) by cache tag.
pub async fn purge_zone(zone: &ZonePurge, keys: &[String]) {
    for batch in keys.chunks(TAGS_PER_CALL) {
        let tags: Vec<String> = batch.iter().map(|k| shared::cache_key::cache_tag_of(k)).collect();
        let auth = format!("Bearer {}", zone.token);
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        match js::post(&zone.url, &headers, &json!({ "tags": tags }).to_string()).await {
            Ok(s) if (200..300).contains(&s) => {}
            Ok(s) => js::console_error(&format!("zone purge answered {s}")),
            Err(e) => js::console_error(&format!("zone purge failed: {e}")),
        }
    }
}
