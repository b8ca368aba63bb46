//! Optional bearer tokens on reads: none → anonymous; present but invalid → 401.
//!
//! Secrets rotate: `AUTH_SECRET` signs, and verification also accepts `AUTH_SECRET_PREVIOUS`
//! while it is set, so live tokens and signed URLs survive a rotation (their `kid` says which).

use shared::problem::Problem;
use shared::token::{self, Claims};
use worker::{Date, Env, Request};

/// The verified claims of the request's token, if it carries one.
pub fn reader(req: &Request, env: &Env) -> Result<Option<Claims>, Problem> {
    let Some(header) = req.headers().get("authorization").ok().flatten() else { return Ok(None) };
    let Some(raw) = token::bearer(&header) else {
        return Err(Problem::new(401, "invalid-token", "Unauthorized", "the Authorization header is not a Bearer token"));
    };
    let [current, previous] = secrets(env);
    token::verify_any(raw, &[current.as_bytes(), previous.as_bytes()], Date::now().as_millis() / 1000)
        .map(Some)
        .map_err(|e| Problem::new(401, "invalid-token", "Unauthorized", e.description()))
}

fn named(env: &Env, name: &str) -> String {
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).unwrap_or_default()
}

/// `[AUTH_SECRET, AUTH_SECRET_PREVIOUS]`, shared with ingest; empty when unset (an empty secret
/// verifies nothing). The first signs.
pub fn secrets(env: &Env) -> [String; 2] {
    [named(env, "AUTH_SECRET"), named(env, "AUTH_SECRET_PREVIOUS")]
}
