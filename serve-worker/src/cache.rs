//! The Cache API with stale-while-revalidate done here (the Cache API ignores it), keys from the
//! shared cache-key contract so purge-on-write works: ingest records a per-artifact generation in
//! `ARTIFACT_STATE` when a write is confirmed, and every key folds it in.
//!
//! Private content (visibility `org`/`user`) is stored only under a key scoped to who may read it
//! (`shared::cache_key::scope`: `org:<org>`, `user:<org>:<sub>`, parts escaped so no principal
//! can spell another's): a caller can only ever look up the scopes its own token grants
//! (`shared::cache_key::reader_scopes`), so an anonymous caller can never reach it.

use shared::answer::Body;
use shared::cache_policy::Windows;
use shared::content::ContentRef;
use worker::{Cache, Date, Env, Headers, Response};

/// Fresh and stale windows from `FRESH_SECONDS` / `STALE_SECONDS` (defaults 300 / 60).
pub fn windows(env: &Env) -> Windows {
    let num = |name: &str, default: u64| env.var(name).ok().and_then(|v| v.to_string().trim().parse().ok()).unwrap_or(default);
    Windows { fresh_secs: num("FRESH_SECONDS", 300), stale_secs: num("STALE_SECONDS", 60) }
}

pub use shared::state::State;

/// The artifact's state as ingest recorded it (default when never written through ingest), or
/// `None` when KV cannot be read: the caller then bypasses the cache, since any cached answer
/// might predate a purge it cannot see.
pub async fn state(env: &Env, c: &ContentRef) -> Option<State> {
    let kv = env.kv("ARTIFACT_STATE").ok()?;
    let key = shared::cache_key::state_key(&c.ns, &c.ty, &c.id);
    // 60 s is KV's smallest edge cache TTL; it bounds how long a purge takes to be seen.
    let text = kv.get(&key).cache_ttl(60).text().await.ok()?;
    Some(text.and_then(|t| State::parse(&t)).unwrap_or_default())
}

/// The Cache API key of one representation (and version) in one scope, under the artifact's state
/// (its generation and successor stamp, #18).
pub fn key(c: &ContentRef, state: &State, scope: &str) -> String {
    let ext = match c.version {
        shared::content::Version::Latest => c.ext.to_string(),
        shared::content::Version::Snapshot(id) => format!("{}@s{id}", c.ext),
        shared::content::Version::AsOf(t) => format!("{}@t{t}", c.ext),
    };
    shared::cache_key::cache_key(&c.ns, &c.ty, &c.id, &ext, state.generation, state.successor, scope)
}

/// The windows for one tenant and mode: `FRESH_SECONDS_<MODE>` / `STALE_SECONDS_<MODE>` vars
/// over the defaults, then the tenant's `cache.fresh_seconds` / `cache.stale_seconds` in
/// `tenant:<org>` (ARTIFACT_STATE) over those.
pub async fn windows_for(env: &Env, base: Windows, org: &str, mode: Option<&str>) -> Windows {
    let mut w = base;
    if let Some(m) = mode {
        let num = |name: String| env.var(&name).ok().and_then(|v| v.to_string().trim().parse::<u64>().ok());
        let upper = m.to_ascii_uppercase();
        w.fresh_secs = num(format!("FRESH_SECONDS_{upper}")).unwrap_or(w.fresh_secs);
        w.stale_secs = num(format!("STALE_SECONDS_{upper}")).unwrap_or(w.stale_secs);
    }
    if org.is_empty() {
        return w;
    }
    let Ok(kv) = env.kv("ARTIFACT_STATE") else { return w };
    let Ok(Some(text)) = kv.get(&shared::tenant::key(org)).cache_ttl(60).text().await else { return w };
    let tenant = shared::tenant::Tenant::parse(&text);
    w.fresh_secs = tenant.fresh_seconds.unwrap_or(w.fresh_secs);
    w.stale_secs = tenant.stale_seconds.unwrap_or(w.stale_secs);
    w
}

/// A cached entry, its age and the windows it was stored with.
pub async fn lookup(key: &str) -> Option<(Body, u64, Windows)> {
    let mut res = Cache::default().get(key, false).await.ok()??;
    let h = res.headers();
    let produced: u64 = h.get("x-artifact-produced").ok()??.parse().ok()?;
    let num = |name: &str| h.get(name).ok().flatten().and_then(|v| v.parse::<u64>().ok());
    let windows = Windows { fresh_secs: num("x-artifact-fresh")?, stale_secs: num("x-artifact-stale")? };
    let body = Body {
        status: res.status_code(),
        content_type: h.get("content-type").ok()??,
        etag: h.get("etag").ok()??,
        private: h.get("x-artifact-private").ok()?.as_deref() == Some("1"),
        scope: h.get("x-artifact-scope").ok()??,
        csp: h.get("x-artifact-csp").ok()?,
        ts: h.get("x-artifact-ts").ok()??.parse().ok()?,
        dedupe: h.get("x-artifact-dedupe").ok()?.unwrap_or_default(),
        owner_org: h.get("x-artifact-owner-org").ok()?.unwrap_or_default(),
        mode: h.get("x-artifact-mode").ok()?,
        digest: h.get("x-artifact-digest").ok()?.unwrap_or_default(),
        expires: h.get("x-artifact-expires").ok().flatten().and_then(|v| v.parse().ok()),
        // The `Link` values, kept joined as the answer sends them.
        links: h.get("x-artifact-links").ok().flatten().into_iter().collect(),
        body: res.text().await.ok()?,
    };
    // Entries stored before digests were kept: computed once here.
    let body = if body.digest.is_empty() { Body { digest: shared::download::repr_digest(body.body.as_bytes()), ..body } } else { body };
    Some((body, Date::now().as_millis().saturating_sub(produced), windows))
}

/// Stores an entry for both windows, stamped with when it was produced.
pub async fn store(key: &str, b: &Body, w: Windows, tag: &str) {
    let headers = Headers::new();
    // Zone purges by tag reach Cache API entries too.
    let _ = headers.set("cache-tag", tag);
    let _ = headers.set("content-type", &b.content_type);
    let _ = headers.set("etag", &b.etag);
    let _ = headers.set("x-artifact-produced", &Date::now().as_millis().to_string());
    let _ = headers.set("x-artifact-private", if b.private { "1" } else { "0" });
    let _ = headers.set("x-artifact-scope", &b.scope);
    if let Some(csp) = &b.csp {
        let _ = headers.set("x-artifact-csp", csp);
    }
    let _ = headers.set("x-artifact-ts", &b.ts.to_string());
    let _ = headers.set("x-artifact-dedupe", &b.dedupe);
    let _ = headers.set("x-artifact-owner-org", &b.owner_org);
    if let Some(m) = &b.mode {
        let _ = headers.set("x-artifact-mode", m);
    }
    let _ = headers.set("x-artifact-digest", &b.digest);
    if let Some(e) = b.expires {
        let _ = headers.set("x-artifact-expires", &e.to_string());
    }
    if !b.links.is_empty() {
        let _ = headers.set("x-artifact-links", &b.links.join(", "));
    }
    let _ = headers.set("x-artifact-fresh", &w.fresh_secs.to_string());
    let _ = headers.set("x-artifact-stale", &w.stale_secs.to_string());
    // The Cache API keeps only what it may share: the client-facing headers are set on the way
    // out, never from these.
    let _ = headers.set("cache-control", &format!("public, max-age={}", w.storage_secs()));
    let Ok(res) = Response::ok(b.body.clone()) else { return };
    let res = res.with_status(b.status).with_headers(headers);
    if let Err(e) = Cache::default().put(key, res).await {
        worker::console_error!("cache put failed: {e}");
    }
}
