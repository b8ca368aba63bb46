//! Opt-in CORS for reads (#19): browsers may read a namespace's content and listings from the
//! origins its tenant lists, and from no other.
//!
//! A read has no token to name a tenant, so the namespace does: the operator maps namespaces to
//! tenants in `NAMESPACE_TENANTS` (`docs=acme,blog=acme`), and the origins come from that
//! tenant's `cors_origins` in `tenant:<org>` (`ARTIFACT_STATE`). A tenant's setting therefore opens
//! only the namespaces the operator gave it, never one another tenant writes to. Nothing is read
//! unless the request carries an `Origin` for a mapped namespace, so other reads cost nothing.

use worker::{Env, Headers, Method, Request, Response, Result};

/// Methods the content and listing routes take.
const METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a cross-origin read may send: a token, and revalidation.
const ALLOW_HEADERS: &str = "authorization, if-none-match";
/// Response headers a cross-origin caller may read besides the CORS-safelisted ones.
const EXPOSE_HEADERS: &str = "etag, content-disposition, repr-digest, link, x-artifact-source, x-artifact-age";

/// The path after `/$.content/` when it is a content or listing route (not batch or sign).
fn read_route(path: &str) -> Option<&str> {
    path.strip_prefix(shared::content::PREFIX).filter(|rest| !matches!(*rest, "batch" | "sign"))
}

/// The tenant `map` (`ns=org,…`) gives namespace `ns`.
fn tenant_of<'a>(map: &'a str, ns: &str) -> Option<&'a str> {
    map.split(',').filter_map(|e| e.split_once('=')).find(|(n, _)| n.trim() == ns).map(|(_, org)| org.trim()).filter(|o| !o.is_empty())
}

/// The request's `Origin` when the tenant of the namespace it reads lists it; `None` for every
/// other request (no `Origin`, not a read route, an unmapped namespace, KV failing).
pub async fn allowed(req: &Request, env: &Env) -> Option<String> {
    let origin = req.headers().get("origin").ok()??;
    let path = req.path();
    let ns = shared::route::percent_decode(read_route(&path)?.split('/').next()?)?;
    let map = env.var("NAMESPACE_TENANTS").ok()?.to_string();
    let org = tenant_of(&map, &ns)?;
    let text = env.kv("ARTIFACT_STATE").ok()?.get(&shared::tenant::key(org)).cache_ttl(60).text().await.ok()??;
    shared::tenant::cors_origins(&text).contains(&origin).then_some(origin)
}

/// The answer to `OPTIONS` on a read route: 204 with `Allow`, and the CORS grant when `origin`
/// is allowed. `None` for every other request.
pub fn preflight(req: &Request, origin: Option<&str>) -> Option<Result<Response>> {
    if req.method() != Method::Options || read_route(&req.path()).is_none() {
        return None;
    }
    let answer = || {
        let h = Headers::new();
        h.set("allow", METHODS)?;
        if let Some(origin) = origin {
            h.set("access-control-allow-origin", origin)?;
            h.set("access-control-allow-methods", METHODS)?;
            h.set("access-control-allow-headers", ALLOW_HEADERS)?;
            h.set("access-control-max-age", "600")?;
            h.set("vary", "origin")?;
        }
        Ok(Response::empty()?.with_status(204).with_headers(h))
    };
    Some(answer())
}

/// `res` with the CORS grant for `origin` (unchanged when `None`). The headers are copied: an
/// answer from the Cache API has immutable ones.
pub fn grant(res: Response, origin: Option<&str>) -> Result<Response> {
    let Some(origin) = origin else { return Ok(res) };
    let h = Headers::new();
    for (name, value) in res.headers().entries() {
        h.append(&name, &value)?;
    }
    h.set("access-control-allow-origin", origin)?;
    h.set("access-control-expose-headers", EXPOSE_HEADERS)?;
    h.append("vary", "origin")?;
    Ok(res.with_headers(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_map_to_one_tenant() {
        let map = "docs=acme, blog = beta,empty=";
        assert_eq!(tenant_of(map, "docs"), Some("acme"));
        assert_eq!(tenant_of(map, "blog"), Some("beta"));
        assert_eq!(tenant_of(map, "empty"), None);
        assert_eq!(tenant_of(map, "doc"), None);
        assert_eq!(tenant_of("", "docs"), None);
    }

    #[test]
    fn batch_and_sign_are_not_read_routes() {
        assert_eq!(read_route("/$.content/docs/guide/a.md"), Some("docs/guide/a.md"));
        assert_eq!(read_route("/$.content/docs/guide/"), Some("docs/guide/"));
        assert_eq!(read_route("/$.content/batch"), None);
        assert_eq!(read_route("/$.content/sign"), None);
        assert_eq!(read_route("/$.health"), None);
    }
}
