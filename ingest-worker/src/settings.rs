//! Limits and defaults: wrangler vars, overridden per tenant by `tenant:<org>` in KV.

use crate::js::Env;
use crate::js::Kv;
use shared::intake::Limits;
use shared::record::Visibility;
use shared::retry::RetryPolicy;

/// Everything one request needs to know about its tenant's limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Raw body bytes (before inflating).
    pub max_body_bytes: u64,
    /// Inflated body bytes (gzip bombs stop here).
    pub max_inflated_bytes: u64,
    /// Record, chunk and count limits.
    pub limits: Limits,
    /// Visibility for records that name none.
    pub default_visibility: Visibility,
    /// Send retries.
    pub retry: RetryPolicy,
    /// What `X-RateLimit-Limit` reports (the rate-limit binding's configured limit).
    pub rate_limit_per_minute: u64,
    /// Longest wait for the next piece of the body, in ms (a body shorter than its
    /// `Content-Length` on a connection kept open would otherwise hang for ever).
    pub body_idle_ms: u64,
    /// Longest the body may take to arrive in all, in ms from the start of the request.
    pub body_deadline_ms: u64,
    /// Modes besides `preview` whose writes send the ledger a pending copy (the tenant's
    /// `pending_modes`, #17).
    pub pending_modes: shared::tenant::PendingModes,
}

fn var_u64(env: &Env, name: &str, default: u64) -> u64 {
    crate::js::var(env, name).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// Defaults from wrangler vars.
pub fn from_env(env: &Env) -> Settings {
    let chunk_bytes = var_u64(env, "CHUNK_BYTES", 1_000_000).clamp(1_024, 1_000_000);
    Settings {
        max_body_bytes: var_u64(env, "MAX_BODY_BYTES", 100 * 1024 * 1024),
        max_inflated_bytes: var_u64(env, "MAX_INFLATED_BYTES", 200 * 1024 * 1024),
        limits: Limits {
            // A record must fit in a chunk with room for the fields ingest adds.
            max_record_bytes: usize::try_from(var_u64(env, "MAX_RECORD_BYTES", 1_048_576).min(chunk_bytes.saturating_sub(1_024)))
                .unwrap_or(1_048_576),
            max_records: var_u64(env, "MAX_ARTIFACTS_PER_REQUEST", 100_000),
            chunk_bytes: usize::try_from(chunk_bytes).unwrap_or(1_000_000),
        },
        default_visibility: crate::js::var(env, "DEFAULT_VISIBILITY").and_then(|v| Visibility::parse(v.trim())).unwrap_or(Visibility::Org),
        retry: RetryPolicy {
            max_attempts: u32::try_from(var_u64(env, "SEND_ATTEMPTS", 5).clamp(1, 20)).unwrap_or(5),
            base_delay_ms: var_u64(env, "SEND_BASE_DELAY_MS", 100),
            max_delay_ms: var_u64(env, "SEND_MAX_DELAY_MS", 2_000),
            budget_ms: var_u64(env, "SEND_BUDGET_MS", 20_000),
            attempt_timeout_ms: var_u64(env, "SEND_TIMEOUT_MS", 10_000),
        },
        rate_limit_per_minute: var_u64(env, "RATE_LIMIT_PER_MINUTE", 600),
        body_idle_ms: var_u64(env, "BODY_IDLE_MS", 30_000),
        body_deadline_ms: var_u64(env, "BODY_DEADLINE_MS", 300_000),
        pending_modes: shared::tenant::PendingModes(0),
    }
}

/// Applies a tenant's overrides (`tenant:<org>` JSON: `max_body_bytes`, `max_artifacts_per_request`,
/// `default_visibility`, `pending_modes`) on top of the defaults. Tenants may only tighten byte and count limits.
/// A KV failure is an error, not the defaults: they could be looser than the tenant's limits or
/// stamp a wider default visibility on its records.
pub async fn for_tenant(base: Settings, kv: &Kv, org: &str) -> Result<Settings, String> {
    // `tenant:{org}`, the key and the codec serve reads too.
    let Some(text) = kv.get(&shared::tenant::key(org)).await? else {
        return Ok(base);
    };
    let t = shared::tenant::Tenant::parse(&text);
    let mut s = base;
    if let Some(n) = t.max_body_bytes {
        s.max_body_bytes = s.max_body_bytes.min(n);
    }
    if let Some(n) = t.max_artifacts_per_request {
        s.limits.max_records = s.limits.max_records.min(n);
    }
    if let Some(v) = t.default_visibility {
        s.default_visibility = v;
    }
    s.pending_modes = t.pending_modes;
    Ok(s)
}
