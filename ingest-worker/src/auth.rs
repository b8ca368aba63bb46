//! Bearer-token check for the ingest routes (token format and verification live in `shared`).
//! `AUTH_SECRET_PREVIOUS`, while set, is accepted too, so `AUTH_SECRET` can rotate without
//! breaking live tokens (their `kid` names the secret that signed them).

use crate::js::Env;
use shared::problem::Problem;
use shared::token::{self, Claims};
use web_sys::Request;

/// The HMAC secret (`AUTH_SECRET`, a secret in production, a plain binding in tests).
pub fn secret(env: &Env) -> Option<String> {
    crate::js::var(env, "AUTH_SECRET")
}

/// Verifies the request's bearer token; a 401 problem when missing or invalid.
pub fn verify(req: &Request, env: &Env, now_secs: u64) -> Result<Claims, Problem> {
    let header = crate::js::header(req, "authorization").unwrap_or_default();
    let Some(raw) = token::bearer(&header) else {
        return Err(Problem::new(401, "unauthorized", "Unauthorized", "an Authorization: Bearer token is required"));
    };
    let secret = secret(env).unwrap_or_default();
    let previous = crate::js::var(env, "AUTH_SECRET_PREVIOUS").unwrap_or_default();
    token::verify_any(raw, &[secret.as_bytes(), previous.as_bytes()], now_secs)
        .map_err(|e| Problem::new(401, "invalid-token", "Unauthorized", e.description()))
}

/// The `WWW-Authenticate` header that goes with a 401.
pub fn challenge(p: &Problem) -> Vec<(&'static str, String)> {
    if p.status == 401 {
        vec![(
            "www-authenticate",
            format!("Bearer realm=\"artifacts\", error=\"invalid_token\", error_description=\"{}\"", p.detail.replace('"', "'")),
        )]
    } else {
        Vec::new()
    }
}
