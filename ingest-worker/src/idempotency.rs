//! `X-Idempotency-Key`: per tenant, 24 h. A replay returns the stored answer; the same key while
//! the first request is in flight is 409; the same key with another body is 422.
//!
//! KV is eventually consistent and has no compare-and-set, so two requests racing within the
//! same second in different locations can both proceed; dedupe keeps that from duplicating data.

use serde_json::{json, Value};
use crate::js::Kv;

/// How long a completed answer is kept.
pub const REPLAY_TTL_SECS: u64 = 86_400;
/// How long an in-flight marker lives if the request never completes (KV's minimum is 60 s).
pub const PENDING_TTL_SECS: u64 = 120;
/// Longest accepted key.
pub const MAX_KEY_BYTES: usize = 256;

/// What KV says about a key.
pub enum Prior {
    /// Never seen: go ahead (a pending marker is now stored).
    New,
    /// Another request with this key is still running.
    InFlight,
    /// Completed before: its body hash and stored answer.
    Done { body_sha256: String, status: u16, content_type: String, body: String },
}

fn kv_key(org: &str, key: &str) -> String {
    format!("idem:{org}:{key}")
}

/// Looks the key up and, when new, marks it in flight.
pub async fn begin(kv: &Kv, org: &str, key: &str) -> Result<Prior, String> {
    let k = kv_key(org, key);
    if let Some(text) = kv.get(&k).await? {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let field = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        if field("state") == "done" {
            return Ok(Prior::Done {
                body_sha256: field("body_sha256"),
                status: v.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                content_type: field("content_type"),
                body: field("body"),
            });
        }
        return Ok(Prior::InFlight);
    }
    kv.put(&k, &json!({ "state": "pending" }).to_string(), Some(PENDING_TTL_SECS)).await?;
    Ok(Prior::New)
}

/// Stores the final answer for replays.
pub async fn complete(kv: &Kv, org: &str, key: &str, body_sha256: &str, status: u16, content_type: &str, body: &str) -> Result<(), String> {
    let v = json!({ "state": "done", "body_sha256": body_sha256, "status": status, "content_type": content_type, "body": body });
    kv.put(&kv_key(org, key), &v.to_string(), Some(REPLAY_TTL_SECS)).await
}

/// Forgets the key (the request failed in a way a retry should redo).
pub async fn abandon(kv: &Kv, org: &str, key: &str) {
    let _ = kv.delete(&kv_key(org, key)).await;
}
