//! Optional bearer tokens on reads: none → anonymous; present but invalid → 401.

use shared::problem::Problem;
use shared::token::{self, Claims};
use worker::{Date, Env, Request};

/// The verified claims of the request's token, if it carries one.
pub fn reader(req: &Request, env: &Env) -> Result<Option<Claims>, Problem> {
    let Some(header) = req.headers().get("authorization").ok().flatten() else { return Ok(None) };
    let Some(raw) = token::bearer(&header) else {
        return Err(Problem::new(401, "invalid-token", "Unauthorized", "the Authorization header is not a Bearer token"));
    };
    let secret = secret(env);
    token::verify(raw, secret.as_bytes(), Date::now().as_millis() / 1000)
        .map(Some)
        .map_err(|e| Problem::new(401, "invalid-token", "Unauthorized", e.description()))
}

/// The HMAC secret shared with ingest (`AUTH_SECRET`); empty when unset (then nothing verifies).
pub fn secret(env: &Env) -> String {
    env.secret("AUTH_SECRET").map(|s| s.to_string()).or_else(|_| env.var("AUTH_SECRET").map(|v| v.to_string())).unwrap_or_default()
}
