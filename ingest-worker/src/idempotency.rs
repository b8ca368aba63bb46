//! `X-Idempotency-Key`: per token principal (`org` and `sub`), 24 h, kept by the ledger (#17,
//! docs/design/ledger.md "Idempotency: into the ledger"): `idem_begin` / `idem_complete` /
//! `idem_abandon` on the shard of the key, strongly consistent, so two racing requests cannot
//! both own a key and a retry right after the answer sees it. No KV write: production's
//! one-write-per-second limit refused the second of KV's two puts of one key.
//!
//! A replay returns the stored answer; the same key while the first request is in flight is 409;
//! the same key with another body is 422. A replay goes only to a token that could have made the
//! request: the stored answer keeps the namespaces the request wrote, and a token that may not
//! write every one of them is answered as if it had sent no key (the caller checks
//! [`Prior::Done`]'s `namespaces`).

use crate::ledger::Ledger;
use serde_json::{json, Value};

/// Shortest life of an in-flight marker; the worker lengthens it to outlive the longest its
/// request can run (`shared::intake::request_bound_ms`). A completed answer is kept 24 h (the
/// ledger's default).
pub const PENDING_MS: u64 = 120_000;
/// Longest accepted key.
pub const MAX_KEY_BYTES: usize = 256;

/// What the ledger says about a key.
pub enum Prior {
    /// Never seen (or expired): go ahead (a pending marker is now stored).
    New,
    /// Another request with this key is still running.
    InFlight,
    /// Completed before: its body hash, stored answer and the namespaces it wrote.
    Done { body_sha256: String, status: u16, content_type: String, body: String, namespaces: Vec<String> },
}

/// The ledger key of `key` for this principal: `idem:{org}:{sub}:{key}` through
/// [`shared::key::compose`], so no other (org, sub, key) shares it whatever they hold.
pub fn key_of(org: &str, sub: &str, key: &str) -> String {
    shared::key::compose(&["idem", org, sub, key])
}

/// Looks `k` (a [`key_of`]) up and, when new, marks it in flight for `pending_ms`.
pub async fn begin(ledger: &Ledger, k: &str, pending_ms: u64) -> Result<Prior, String> {
    let v = ledger.call_key(k, "idem_begin", &json!({ "k": k, "pending_ms": pending_ms })).await?;
    let field = |name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    match field("prior").as_str() {
        "new" => Ok(Prior::New),
        "in_flight" => Ok(Prior::InFlight),
        "done" => Ok(Prior::Done {
            body_sha256: field("body_sha256"),
            status: v.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
            content_type: field("content_type"),
            body: field("body"),
            namespaces: v
                .get("ns")
                .and_then(Value::as_array)
                .map_or_else(|| vec!["*".into()], |list| list.iter().filter_map(Value::as_str).map(String::from).collect()),
        }),
        // Display, not Debug: `{:?}` of a str links the escaping formatter into the module.
        other => Err(format!("idem_begin answered prior \"{other}\"")),
    }
}

/// Stores the final answer for replays, with the namespaces the request wrote.
pub async fn complete(
    ledger: &Ledger,
    k: &str,
    body_sha256: &str,
    status: u16,
    content_type: &str,
    body: &str,
    namespaces: &[String],
) -> Result<(), String> {
    let v = json!({ "k": k, "body_sha256": body_sha256, "status": status, "content_type": content_type, "body": body, "ns": namespaces });
    ledger.call_key(k, "idem_complete", &v).await.map(|_| ())
}

/// Forgets the key (the request failed in a way a retry should redo).
pub async fn abandon(ledger: &Ledger, k: &str) {
    if let Err(e) = ledger.call_key(k, "idem_abandon", &json!({ "k": k })).await {
        crate::js::console_error(&format!("idem_abandon failed: {e}"));
    }
}
