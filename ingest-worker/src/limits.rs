//! Requests per minute per tenant through the rate-limiting binding.

use crate::js;
use crate::js::Env;
use crate::refusal::Refusal;
use shared::problem::Problem;

/// Asks `RATE_LIMITER` whether `org` may make another request; 429 with `Retry-After` and the
/// `X-RateLimit-*` headers when not. Without the binding (misconfigured), requests are refused.
pub async fn check_rate(env: &Env, org: &str, limit: u64) -> Result<(), Refusal> {
    let limiter = js::RateLimiter::from_env(env, "RATE_LIMITER")
        .ok_or_else(|| Problem::new(500, "misconfigured", "Misconfigured", "the worker has no RATE_LIMITER binding"))?;
    // One counter per org: `org:{org}` through the one composite-key encoding.
    let allowed = limiter
        .allows(&shared::key::compose(&["org", org]))
        .await
        .map_err(|e| Problem::new(503, "rate-limiter-unavailable", "Service Unavailable", format!("rate limiter failed: {e}")))?;
    if allowed {
        return Ok(());
    }
    // The binding's window is a minute; the earliest a slot frees is the next window.
    let now = crate::js::now_ms() / 1000;
    let reset = 60 - (now % 60);
    Err(Refusal(
        Problem::new(429, "rate-limited", "Too Many Requests", format!("more than {limit} requests per minute for org {org}")),
        vec![
            ("retry-after", reset.to_string()),
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
    ))
}
