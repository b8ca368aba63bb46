//! `X-Idempotency-Key`: per token principal (`org` and `sub`), 24 h. A replay returns the stored
//! answer; the same key while the first request is in flight is 409; the same key with another
//! body is 422.
//!
//! A replay goes only to a token that could have made the request: the stored answer keeps the
//! namespaces the request wrote, and a token that may not write every one of them is answered as
//! if it had sent no key (the caller checks [`Prior::Done`]'s `namespaces`).
//!
//! KV is eventually consistent and has no compare-and-set, so two requests racing within the
//! same second in different locations can both proceed; dedupe keeps that from duplicating data.

use crate::js::Kv;
use serde_json::{json, Value};

/// How long a completed answer is kept.
pub const REPLAY_TTL_SECS: u64 = 86_400;
/// Shortest life of an in-flight marker (KV's minimum TTL is 60 s); the worker lengthens it to
/// outlive the longest its request can run (`shared::intake::request_bound_ms`).
pub const PENDING_TTL_SECS: u64 = 120;
/// Longest accepted key.
pub const MAX_KEY_BYTES: usize = 256;

/// What KV says about a key.
pub enum Prior {
    /// Never seen: go ahead (a pending marker is now stored).
    New,
    /// Another request with this key is still running.
    InFlight,
    /// Completed before: its body hash, stored answer and the namespaces it wrote.
    Done { body_sha256: String, status: u16, content_type: String, body: String, namespaces: Vec<String> },
}

/// The KV key of `key` for this principal: `idem:{org}:{sub}:{key}` through
/// [`shared::key::compose`], so no other (org, sub, key) shares it whatever they hold.
pub fn kv_key(org: &str, sub: &str, key: &str) -> String {
    shared::key::compose(&["idem", org, sub, key])
}

/// Looks `k` (a [`kv_key`]) up and, when new, marks it in flight for `pending_ttl_secs`.
pub async fn begin(kv: &Kv, k: &str, pending_ttl_secs: u64) -> Result<Prior, String> {
    if let Some(text) = kv.get(k).await? {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let field = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        if field("state") == "done" {
            return Ok(Prior::Done {
                body_sha256: field("body_sha256"),
                status: v.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                content_type: field("content_type"),
                body: field("body"),
                // Absent (an answer stored before namespaces were kept): only `write:*` replays.
                namespaces: match v.get("ns").and_then(Value::as_array) {
                    Some(list) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
                    None => vec!["*".into()],
                },
            });
        }
        return Ok(Prior::InFlight);
    }
    kv.put(k, &json!({ "state": "pending" }).to_string(), Some(pending_ttl_secs)).await?;
    Ok(Prior::New)
}

/// Stores the final answer for replays, with the namespaces the request wrote.
pub async fn complete(
    kv: &Kv,
    k: &str,
    body_sha256: &str,
    status: u16,
    content_type: &str,
    body: &str,
    namespaces: &[String],
) -> Result<(), String> {
    let v = json!({ "state": "done", "body_sha256": body_sha256, "status": status, "content_type": content_type, "body": body, "ns": namespaces });
    kv.put(k, &v.to_string(), Some(REPLAY_TTL_SECS)).await
}

/// Forgets the key (the request failed in a way a retry should redo).
pub async fn abandon(kv: &Kv, k: &str) {
    let _ = kv.delete(k).await;
}
