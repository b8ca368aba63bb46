//! `GET`/`HEAD /$.content/{ns}/{type}/{id}[@version].{ext}`: locate the newest version across the
//! configured tables, check visibility, and answer with the representation asked for.

use serde_json::Value;
use shared::answer::pending::{self, Ledger};
use shared::answer::{listing, Answer, Body, Reads, Serving, Trace};
use shared::content::{self, ContentRef, Reader, Representation};

use shared::cache_policy::{client_cache_control, freshness, Freshness, Windows};
use shared::locate::Cost;
use shared::problem::Problem;
use worker::{Context, Date, Env, Request, Response, Result};

use crate::cache;

use crate::glue;
use crate::store::R2;
use crate::tables::{self, Config};
use crate::tenants::Tenants;

/// Where an answer came from, for `X-Artifact-Source`.
#[derive(Clone, Copy)]
enum Source {
    Cache,
    /// The serving table.
    Serving,
    /// The source tables (the tail after the serving watermark, or every table).
    Tail,
    /// The ledger's pending copy (#17).
    Ledger,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Serving => "serving",
            Source::Tail => "tail",
            Source::Ledger => "ledger",
        }
    }
}

/// A reason as a `Server-Timing` `desc` (a quoted string): printable ASCII, no quotes or
/// backslashes, at most 200 bytes.
fn timing_text(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).take(200).collect()
}

/// `Server-Timing` members that say how the serving table took part.
fn serving_timing(trace: &Trace) -> String {
    let serving = match &trace.serving {
        Serving::Fallback(reason) => format!("fallback: {}", timing_text(reason)),
        s => s.status().to_string(),
    };
    format!(
        "source;desc=\"{}\", serving-reads;desc=\"{}\", tail-reads;desc=\"{}\", tail;desc=\"{}\", serving;desc=\"{serving}\", ledger;desc={}",
        trace.source.unwrap_or("tail"),
        trace.serving_reads,
        trace.tail_reads,
        trace.tail_snapshots,
        trace.ledger.status()
    )
}

/// Handles a content request; `rest` is the path after `/$.content/`.
pub async fn get(req: &Request, env: &Env, ctx: &Context, rest: &str, head: bool) -> Result<Response> {
    let c = match content::parse(rest) {
        Ok(c) => c,
        Err(e) => return glue::problem(&Problem::from(e)),
    };
    let claims = match crate::auth::reader(req, env) {
        Ok(c) => c,
        Err(p) => return glue::problem(&p),
    };
    let url = req.inner().url();
    let query = |name: &str| shared::query::param(&url, name);
    // A signed URL stands in for its signer, for this one artifact; it never touches shared
    // cache keys, and reads only what the signer may read now.
    let signed = ["sig", "exp", "by_org", "by_sub", "kid"].iter().any(|n| query(n).is_some());
    let signer = if signed {
        let [current, previous] = crate::auth::secrets(env);
        let path = format!("{}{rest}", content::PREFIX);
        let now = Date::now().as_millis() / 1000;
        let (exp, by_org, by_sub, kid, sig) = (query("exp"), query("by_org"), query("by_sub"), query("kid"), query("sig"));
        let params = shared::signed::Params {
            exp: exp.as_deref(),
            by_org: by_org.as_deref(),
            by_sub: by_sub.as_deref(),
            kid: kid.as_deref(),
            sig: sig.as_deref(),
        };
        match shared::signed::verify(&[current.as_bytes(), previous.as_bytes()], &path, params, now) {
            Ok(s) => Some(s),
            Err(e) => return glue::problem(&Problem::new(403, "bad-signature", "Forbidden", e.description())),
        }
    } else {
        None
    };
    let reader = match (&signer, &claims) {
        (Some(s), _) => Reader::Signed(s),
        (None, Some(c)) => Reader::Token(c),
        (None, None) => Reader::Anonymous,
    };
    let fresh = query("fresh").is_some_and(|v| v == "true" || v == "1");
    // Skipping the cache costs table reads: only callers with a token may ask for it.
    if fresh && reader.principal().is_none() {
        return glue::problem(&Problem::new(401, "token-required", "Unauthorized", "?fresh needs an Authorization: Bearer token"));
    }
    let download = query("download").is_some_and(|v| v == "1" || v == "true");
    let asked_bypass = signed || fresh;
    // KV unreadable (no generation): the table still answers, but no cache entry is used or
    // stored, since any of them might predate a purge this request cannot see.
    // The colo hint (ingest's, in this colo's cache) is taken with KV's state: the newer one.
    let state = if asked_bypass {
        None
    } else {
        let (kv, hint) = futures_util::future::join(cache::state(env, &c), crate::ledger::hint(&c)).await;
        kv.map(|kv| hint.map_or_else(|| kv.clone(), |h| pending::newer(kv.clone(), h)))
    };
    let bypass = state.is_none();
    let state = state.unwrap_or_default();
    let generation = state.generation;
    // Cache keys hold the state's successor stamp too (#18): a confirmed successor moves readers
    // off the predecessor's entries.
    // `?max_age` shortens this answer's window only; entries are stored with the configured ones.
    let max_age = query("max_age");
    let tag = shared::cache_key::cache_tag(&c.ns, &c.ty, &c.id);
    let if_none_match = req.headers().get("if-none-match").ok().flatten();
    // A nested id's file name is its last segment (a file name holds no `/`).
    let file_name = c.id.rsplit('/').next().unwrap_or(&c.id);
    let disposition = download.then(|| shared::download::content_disposition(&format!("{file_name}.{}", c.ext)));
    let finish_with = |mut b: Body, source: Source, age_ms: u64, windows: Windows, timing: Option<String>, no_store: bool| {
        if signed {
            b.private = true;
        }
        let res = respond(b, source, age_ms, windows, bypass || no_store, head, if_none_match.as_deref(), timing, &tag)?;
        if let Some(d) = &disposition {
            res.headers().set("content-disposition", d)?;
        }
        Ok(res)
    };

    if !bypass {
        // Private scopes only with read scope for the namespace: without it the caller reads `ns`
        // as an anonymous one does, from the cache too.
        let principal = claims.as_ref().and_then(|t| Reader::Token(t).principal_for(&c.ns));
        let mut scopes = shared::cache_key::reader_scopes(principal);
        // A record (`.json`) shows owners inside their org: that variant, stored under the org's
        // scope, is looked up before the public one.
        if c.representation == Representation::Record {
            scopes.reverse();
        }
        for scope in scopes {
            let key = cache::key(&c, &state, &scope);
            let Some((body, age_ms, stored)) = cache::lookup(&key).await else { continue };
            // Expired meanwhile (its windows were cut to the expiry; this is the edge case of a
            // clock at the boundary): the tables answer.
            if shared::retention::expired(now_us(), body.expires) {
                break;
            }
            // An entry made before a confirmed rewrite that kept the same `ts` is outdated.
            if !pending::cached_current(&state, body.ts, &body.dedupe) {
                continue;
            }
            // The public record hides owners; a caller of the owner's org gets the variant that
            // shows them, which this entry is not: read the table (it stores that variant).
            if c.representation == Representation::Record && scope == "public" && principal.is_some_and(|(org, _)| org == body.owner_org) {
                break;
            }
            // The entry's own windows decide whether it is fresh (the configured ones, of its
            // tenant and mode); ?max_age only shortens what this answer tells the client, so it
            // cannot send a caller to the tables (security issue 6).
            let windows = stored.with_max_age(max_age.as_deref());
            match freshness(age_ms, stored) {
                Freshness::Fresh => return finish_with(body, Source::Cache, age_ms, windows, None, false),
                Freshness::Stale => {
                    // Answer now; refresh the entry in the background, with its own windows.
                    let (env, c, claims, state, tag) = (env.clone(), c.clone(), claims.clone(), state.clone(), tag.clone());
                    ctx.wait_until(async move {
                        let cfg = Config::from_env(&env);
                        let Ok(bucket) = env.bucket("WAREHOUSE") else { return };
                        let r2 = crate::store::r2(bucket);
                        let reader = claims.as_ref().map_or(Reader::Anonymous, Reader::Token);
                        let mut trace = Trace::default();
                        let tenants = Tenants::new(&env);
                        let ledger = crate::ledger::lookup(&env, &c);
                        let outcome = answer(&c, reader, &cfg, &r2, &tenants, ledger, &mut Cost::default(), &mut trace).await;
                        crate::tables::note_serving(&trace);
                        if let Ok(Answer::Body(fresh)) = outcome {
                            r2.keep_reads();
                            let Some(deciding) = storable(&state, &trace.ledger, fresh.ts, &fresh.dedupe) else { return };
                            let left = shared::retention::seconds_left(now_us(), fresh.expires);
                            let key = cache::key(&c, &state, &fresh.scope);
                            cache::store(&key, &fresh, stored.within(left).within(settle_cap(&env, deciding.successor)), &tag).await;
                        }
                    });
                    return finish_with(body, Source::Cache, age_ms, windows, None, false);
                }
                Freshness::Expired => break,
            }
        }
    }

    let cfg = Config::from_env(env);
    let r2 = crate::store::r2(env.bucket("WAREHOUSE")?);
    let tenants = Tenants::new(env);
    let started = Date::now().as_millis();
    // Concurrent misses for the same answer (artifact, version, confirmed write and caller) share
    // one table read. The dedupe key is part of it: a bulk rewrite may keep the generation.
    let (kind, org, sub) = match reader {
        Reader::Anonymous => ("anonymous", "", ""),
        Reader::Token(c) => ("token", c.org.as_str(), c.sub.as_str()),
        Reader::Signed(s) => ("signed", s.org.as_str(), s.sub.as_str()),
    };
    let generation_text = format!("{generation}u{}", state.successor);
    // Two tokens of one principal with different scopes get different answers.
    let reads_ns = if reader.principal_for(&c.ns).is_some() { "1" } else { "0" };
    let coalesce_key = shared::key::compose(&[
        rest,
        &generation_text,
        state.dedupe.as_deref().unwrap_or(""),
        kind,
        org,
        sub,
        reads_ns,
        if bypass { "1" } else { "0" },
    ]);
    let (outcome, cost, trace) = crate::coalesce::run(coalesce_key, !bypass, async {
        let mut cost = Cost::default();
        let mut trace = Trace::default();
        // The ledger's lookup runs in parallel with the tables (a hit never gets here).
        let outcome = answer(&c, reader, &cfg, &r2, &tenants, crate::ledger::lookup(env, &c), &mut cost, &mut trace).await;
        if outcome.is_ok() {
            r2.keep_reads();
        }
        crate::tables::note_serving(&trace);
        (outcome, cost, trace)
    })
    .await;
    // The first read of a root in this isolate fetches its files' index regions in the
    // background, so a later lookup in any file reads its two pages only.
    if let Some(root) = trace.root.clone().filter(|r| trace.serving == Serving::On && tables::first_use(r)) {
        let bucket = env.bucket("WAREHOUSE")?;
        ctx.wait_until(async move {
            let r2 = crate::store::r2(bucket);
            shared::serving::lookup::prefetch(&r2, &root, shared::serving::lookup::PREFETCH_BYTES, &mut Cost::default()).await;
            r2.keep_reads();
        });
    }
    match outcome {
        Ok(Answer::Body(b)) => {
            let source = match trace.source {
                Some("serving") => Source::Serving,
                Some("ledger") => Source::Ledger,
                _ => Source::Tail,
            };
            let timing = format!(
                "{}, r2-reads;desc=\"{}\", r2-bytes;desc=\"{}\", fetches;desc=\"{} ({} bytes, isolate cache included)\", files;desc=\"considered {}, pruned {}, manifests pruned {}\", total;dur={}",
                serving_timing(&trace),
                r2.reads(),
                r2.bytes(),
                cost.reads,
                cost.bytes,
                cost.files,
                cost.pruned,
                cost.pruned_manifests,
                Date::now().as_millis().saturating_sub(started)
            );
            // The generation is the `ts` of the newest write ingest confirmed. Until the table has
            // committed it, the row found is older (or, for a bulk rewrite with the same `ts`,
            // another row): answer with it, but do not cache it under the new generation, or the
            // purge would be undone for a whole fresh window.
            // Retention: no window outlives the artifact's expiry.
            // The ledger's state decides what is current when it holds one (KV may lag it); when it
            // is unavailable nothing is stored and the client gets no-store: a pending write may be
            // newer than what the tables show.
            // Within the settle window after a successor's stamp, windows are capped (#18).
            let left = shared::retention::seconds_left(now_us(), b.expires);
            let deciding = storable(&state, &trace.ledger, b.ts, &b.dedupe);
            let cap = settle_cap(env, deciding.as_ref().map_or(state.successor, |d| d.successor));
            let stored = cache::windows_for(env, cache::windows(env), &b.owner_org, b.mode.as_deref()).await.within(left).within(cap);
            let unavailable = trace.ledger == Ledger::Unavailable;
            if !bypass && deciding.is_some() && stored.storage_secs() > 0 {
                let key = cache::key(&c, &state, &b.scope);
                let entry = b.clone();
                let tag = tag.clone();
                ctx.wait_until(async move { cache::store(&key, &entry, stored, &tag).await });
            }
            finish_with(b, source, 0, stored.with_max_age(max_age.as_deref()), Some(timing), unavailable)
        }
        Ok(Answer::Problem(p)) | Err(p) => glue::problem(&p),
    }
}

/// The deciding state (`pending::deciding_state`) when an answer of a row at `ts` with `dedupe`
/// may be stored under `state`'s cache key (KV and the colo hint): the deciding state finds it
/// current. Its successor stamp may be newer than the key's (#18): the answer was made after the
/// stamp, and within the settle window it is stored for the recheck seconds only ([`settle_cap`]).
/// Refusing it instead would leave a key superseded before its first read uncached for good: no
/// KV write is due for a key nobody read, so KV never learns the stamp.
fn storable(state: &cache::State, ledger: &Ledger, ts: i64, dedupe: &str) -> Option<cache::State> {
    pending::deciding_state(state, ledger).filter(|d| d.current(ts, dedupe))
}

/// The windows' cap within the settle window after a successor's stamp (#18):
/// `SUPERSEDE_RECHECK_SECONDS` (10) until `SUPERSEDE_SETTLE_SECONDS` (300) after the stamp, so the
/// predecessor's answer shows its successor once the compactor absorbed the edge.
fn settle_cap(env: &Env, successor_at_ms: i64) -> Option<u64> {
    let num = |name: &str, default: u64| env.var(name).ok().and_then(|v| v.to_string().trim().parse().ok()).unwrap_or(default);
    let now_ms = i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX);
    pending::settle_cap_secs(successor_at_ms, now_ms, num("SUPERSEDE_SETTLE_SECONDS", 300), num("SUPERSEDE_RECHECK_SECONDS", 10))
}

/// Now, µs since the epoch.
pub fn now_us() -> i64 {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX).saturating_mul(1_000)
}

/// Largest `/$.content/sign` body, bytes (a path and a number).
const MAX_SIGN_BODY_BYTES: usize = 8 * 1024;

/// `POST /$.content/sign` with `{"path": "/$.content/…", "expires_in": seconds}` (authenticated):
/// a URL that serves that one artifact without a token until it expires. The caller must hold read
/// scope for the namespace (403 otherwise) and be able to read the artifact now (otherwise the
/// answer is the same 404 as for a missing one).
pub async fn sign(mut req: Request, env: &Env) -> Result<Response> {
    let claims = match crate::auth::reader(&req, env) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return glue::problem(&Problem::new(401, "unauthorized", "Unauthorized", "signing needs an Authorization: Bearer token"))
        }
        Err(p) => return glue::problem(&p),
    };
    let bad = |d: &str| glue::problem(&Problem::new(400, "bad-sign-request", "Bad Request", d));
    let bytes = match glue::bounded_body(&mut req, MAX_SIGN_BODY_BYTES).await? {
        Ok(b) => b,
        Err(p) => return glue::problem(&p),
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return bad("the body must be JSON: {\"path\": \"/$.content/…\", \"expires_in\": seconds}");
    };
    let Some(path) = body.get("path").and_then(Value::as_str) else { return bad("path is required") };
    let Some(rest) = path.strip_prefix(content::PREFIX) else { return bad("path must start with /$.content/") };
    if rest.contains(['?', '#']) {
        return bad("path must not carry a query");
    }
    let c = match content::parse(rest) {
        Ok(c) => c,
        Err(e) => return bad(e.description()),
    };
    // A signed URL is judged by its signer's org and sub only (its scopes are not in the URL), so
    // signing needs read scope for the namespace now, whatever the artifact's visibility.
    if !claims.can_read(&c.ns) {
        return glue::problem(&Problem::new(403, "forbidden", "Forbidden", format!("the token has no read scope for namespace {}", c.ns)));
    }
    let ttl = body.get("expires_in").and_then(Value::as_u64).unwrap_or(3600).clamp(1, shared::signed::MAX_TTL_SECS);
    let cfg = Config::from_env(env);
    let r2 = crate::store::r2(env.bucket("WAREHOUSE")?);
    // A write the ledger confirmed but the tables do not hold yet (a preview's pending copy) can
    // be signed at once, as it can be read.
    let ledger = crate::ledger::lookup(env, &c).await;
    match ledger_answer(&c, Reader::Token(&claims), &cfg, &r2, &Tenants::new(env), ledger, &mut Cost::default()).await {
        Ok(Answer::Body(_)) => {}
        Ok(Answer::Problem(p)) | Err(p) => return glue::problem(&p),
    }
    let exp = Date::now().as_millis() / 1000 + ttl;
    let [secret, _] = crate::auth::secrets(env);
    let signer = shared::signed::Signer { org: claims.org.clone(), sub: claims.sub.clone() };
    let Some(query) = shared::signed::sign(secret.as_bytes(), path, exp, &signer) else {
        return glue::problem(&Problem::new(500, "misconfigured", "Misconfigured", "AUTH_SECRET is not set"));
    };
    let out = serde_json::json!({ "url": format!("{path}?{query}"), "expires": exp });
    glue::json(200, &out.to_string())
}

/// The client's response: status (304 on a matching `If-None-Match`), `ETag`, `Cache-Control`
/// (`no-store` when the cache was bypassed), `X-Artifact-Source`, `X-Artifact-Age`.
#[allow(clippy::too_many_arguments)]
fn respond(
    b: Body,
    source: Source,
    age_ms: u64,
    windows: Windows,
    bypass: bool,
    head: bool,
    if_none_match: Option<&str>,
    timing: Option<String>,
    tag: &str,
) -> Result<Response> {
    let matches = if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == b.etag || t.trim() == "*"));
    let status = if matches { 304 } else { b.status };
    let mut res = if head || status == 304 { Response::empty()? } else { Response::ok(b.body)? }.with_status(status);
    let h = res.headers_mut();
    if status != 304 {
        h.set("content-type", &b.content_type)?;
    }
    h.set("etag", &b.etag)?;
    // RFC 9530: the digest of the bytes of this representation (HEAD and 304 describe the same).
    h.set("repr-digest", &b.digest)?;
    // Ingest's zone purge is by this tag (Cloudflare strips it before the client sees it).
    h.set("cache-tag", tag)?;
    let cache_control = if bypass { "no-store".to_string() } else { client_cache_control(b.private, age_ms, windows) };
    h.set("cache-control", &cache_control)?;
    h.set("x-artifact-source", source.as_str())?;
    h.set("x-artifact-age", &(age_ms / 1_000).to_string())?;
    if b.private {
        h.set("vary", "authorization")?;
    }
    if let Some(csp) = &b.csp {
        h.set("content-security-policy", csp)?;
        h.set("x-content-type-options", "nosniff")?;
    }
    // #18: successor-version / predecessor-version (on HEAD and 304 too: they describe the
    // artifact, not the bytes).
    if !b.links.is_empty() {
        h.set("link", &b.links.join(", "))?;
    }
    let timing = timing.unwrap_or_else(|| "source;desc=\"cache\", cache;desc=\"hit\", r2-reads;desc=\"0\", r2-bytes;desc=\"0\"".into());
    h.set("server-timing", &timing)?;
    Ok(res)
}

/// The core's answer (`shared::answer`) over this request's R2 reads and the configured tables
/// (and the serving table when `SERVING_ROOT` is set), counted as one table read for `/$.health`.
#[allow(clippy::too_many_arguments)]
async fn answer(
    c: &ContentRef,
    reader: Reader<'_>,
    cfg: &Config,
    r2: &R2,
    tenants: &Tenants,
    ledger: impl std::future::Future<Output = Ledger>,
    cost: &mut Cost,
    trace: &mut Trace,
) -> std::result::Result<Answer, Problem> {
    crate::coalesce::count_table_read();
    let catalog = tables::Tables { cfg, r2, tenants };
    let reads = Reads { store: r2, catalog: &catalog, policy: &cfg.policy, html: &crate::html::Rewriter };
    // A single read carries its `Link` headers (#18); batch refs and signing do not.
    trace.links = shared::answer::link::Wanted::ALL;
    reads.answer_with_ledger(c, reader, ledger, cost, trace).await
}

/// The answer of batch refs and signing: the tables and the ledger's lookup (`ledger`, already
/// made: a pending copy newer than the tables answers, as for a single read), without links or
/// caching.
async fn ledger_answer(
    c: &ContentRef,
    reader: Reader<'_>,
    cfg: &Config,
    r2: &R2,
    tenants: &Tenants,
    ledger: Ledger,
    cost: &mut Cost,
) -> std::result::Result<Answer, Problem> {
    crate::coalesce::count_table_read();
    let catalog = tables::Tables { cfg, r2, tenants };
    let reads = Reads { store: r2, catalog: &catalog, policy: &cfg.policy, html: &crate::html::Rewriter };
    reads.answer_with_ledger(c, reader, core::future::ready(ledger), cost, &mut Trace::default()).await
}

/// Most items a listing page holds.
const MAX_PAGE: usize = 1_000;
/// Longest `?delimiter=`, bytes.
const MAX_DELIMITER_BYTES: usize = 16;

/// `_lookup` pages one listing page may read with a serving table (16 KiB pages of about 64–100
/// rows): enough for `limit` rows across a few files, bounded whatever is hidden.
fn list_pages(limit: usize) -> usize {
    8usize.saturating_add(limit / 16)
}

/// `GET /$.content/{ns}/{type}/`: the live artifacts of that type the caller may see, in id order,
/// `?prefix=` (ids that start with it), `?delimiter=` (ids holding it after the prefix rolled up
/// into `prefixes`, shown only when they hold an id the caller may see), `?limit=` (default 100,
/// at most 1,000 items and prefixes) per page, `?cursor=` the previous page's (sealed, bound to
/// this listing: another listing's is a 400). With a serving table it is read by key range with
/// bounded work (a page may come back short or empty with a cursor), else answered from
/// manifests and the locating columns of every table.
pub async fn list(req: &Request, env: &Env, ns: &str, ty: &str) -> Result<Response> {
    let bad = |d: &str| glue::problem(&Problem::new(400, "bad-path", "Bad Request", d));
    let (Some(ns), Some(ty)) = (shared::route::percent_decode(ns), shared::route::percent_decode(ty)) else {
        return bad(content::RouteError::BadEncoding.description());
    };
    for (seg, max) in [(ns.as_str(), shared::record::MAX_NS_BYTES), (ty.as_str(), shared::record::MAX_TYPE_BYTES)] {
        if let Err(e) = shared::record::check_segment(seg, max) {
            return bad(e);
        }
    }
    let claims = match crate::auth::reader(req, env) {
        Ok(c) => c,
        Err(p) => return glue::problem(&p),
    };
    let reader = claims.as_ref().map_or(Reader::Anonymous, Reader::Token);
    let url = req.inner().url();
    let query = |name: &str| shared::query::param(&url, name);
    let bad_query = |d: &str| glue::problem(&Problem::new(400, "bad-query", "Bad Request", d));
    let limit = query("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).clamp(1, MAX_PAGE);
    let prefix = query("prefix").unwrap_or_default();
    if prefix.len() > shared::record::MAX_ID_BYTES || prefix.contains('\0') {
        return bad_query("prefix is too long or holds a NUL");
    }
    let delimiter = query("delimiter").filter(|d| !d.is_empty());
    if delimiter.as_ref().is_some_and(|d| d.len() > MAX_DELIMITER_BYTES || d.contains('\0')) {
        return bad_query("delimiter is longer than 16 bytes or holds a NUL");
    }
    // Status, tag and time filters (#18); any other parameter is a 400 naming it.
    let filter = match shared::answer::filter::Filter::parse(&shared::query::pairs(&url)) {
        Ok(f) => f,
        Err(p) => return glue::problem(&p),
    };
    let ctx = listing::context(&ns, &ty, &prefix, delimiter.as_deref(), &filter);
    let [secret, previous] = crate::auth::secrets(env);
    let start = match query("cursor").filter(|c| !c.is_empty()) {
        None => Vec::new(),
        Some(c) if c.starts_with('~') => match listing::open(&[secret.as_bytes(), previous.as_bytes()], &ctx, &c) {
            Some(position) => position,
            None => {
                return glue::problem(&Problem::new(
                    400,
                    "bad-cursor",
                    "Bad Request",
                    "the cursor is not one of this listing's (ns, type, prefix and delimiter must be the same)",
                ))
            }
        },
        // An id (older clients): the page starts after it.
        Some(id) => {
            let mut position = id.into_bytes();
            position.push(0);
            position
        }
    };
    let q = listing::Query {
        ns: &ns,
        ty: &ty,
        prefix: &prefix,
        delimiter: delimiter.as_deref(),
        limit,
        start,
        max_pages: list_pages(limit),
        filter: &filter,
    };
    let cfg = Config::from_env(env);
    let r2 = crate::store::r2(env.bucket("WAREHOUSE")?);
    let mut cost = Cost::default();
    let mut trace = Trace::default();
    let tenants = Tenants::new(env);
    let catalog = tables::Tables { cfg: &cfg, r2: &r2, tenants: &tenants };
    let reads = Reads { store: &r2, catalog: &catalog, policy: &cfg.policy, html: &crate::html::Rewriter };
    let page = reads.listing(&q, reader, &mut cost, &mut trace).await;
    crate::tables::note_serving(&trace);
    let page = match page {
        Ok(p) => p,
        Err(p) => return glue::problem(&p),
    };
    r2.keep_reads();
    let mut items = Vec::new();
    let mut prefixes = Vec::new();
    for item in page.items {
        match item {
            listing::Item::Artifact { id, found: f, visibility, status } => items.push(serde_json::json!({
                "id": id,
                "ts": shared::time::format_micros(f.ts),
                "size_bytes": f.size_bytes,
                "visibility": visibility.as_str(),
                "content_hash": f.content_hash,
                "status": status.as_str(),
            })),
            listing::Item::Prefix(p) => prefixes.push(Value::String(p)),
        }
    }
    let next = page.next.map(|p| listing::seal(secret.as_bytes(), &ctx, &p));
    let body = serde_json::json!({ "ns": ns, "type": ty, "items": items, "prefixes": prefixes, "cursor": next });
    let serving = match &trace.serving {
        Serving::Fallback(reason) => format!("fallback: {}", timing_text(reason)),
        s => s.status().to_string(),
    };
    let timing = format!("serving;desc=\"{serving}\", r2-reads;desc=\"{}\", r2-bytes;desc=\"{}\"", r2.reads(), r2.bytes());
    let mut res = glue::json(200, &body.to_string())?;
    res.headers_mut().set("cache-control", "private, no-cache")?;
    res.headers_mut().set("vary", "authorization")?;
    res.headers_mut().set("server-timing", &timing)?;
    Ok(res)
}

/// Most refs in one batch.
const MAX_BATCH: usize = 100;
/// Largest batch request body, bytes: 100 refs of the longest path, percent-encoded.
const MAX_BATCH_BODY_BYTES: usize = 128 * 1024;
/// Most bytes of ref lines in one batch answer. A ref whose line would pass it gets a 413 line
/// instead (read it on its own): 100 refs of a large artifact must not become one huge answer
/// (security issue 2: 100 × 990 KB took the isolate from 6 MB to 258 MB).
pub const MAX_BATCH_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The refs of a batch body: a JSON list of at most [`MAX_BATCH`] elements, refused at the
/// first element past the limit (never parsed whole first).
struct Refs(Vec<Value>);

impl<'de> serde::Deserialize<'de> for Refs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Refs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON list of refs")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Refs, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    if out.len() == MAX_BATCH {
                        return Err(serde::de::Error::custom("too many refs"));
                    }
                    out.push(v);
                }
                Ok(Refs(out))
            }
        }
        d.deserialize_seq(Visit)
    }
}

/// One line of the answer per distinct ref, in order of first appearance.
struct Entry {
    item: Value,
    /// The ref parsed (refs that spell one artifact and representation differently —
    /// `/$.content/` or not, percent-encoding — are one entry).
    parsed: Option<content::ContentRef>,
    positions: Vec<usize>,
    /// The ledger's lookup of a latest ref (made for every entry at once before the first line).
    ledger: Ledger,
}

/// What the streamed batch answer carries from line to line.
struct Batch {
    entries: std::vec::IntoIter<Entry>,
    claims: Option<shared::token::Claims>,
    cfg: Config,
    r2: R2,
    tenants: Tenants,
    cost: Cost,
    refs: usize,
    lines: usize,
    bytes: usize,
    all_ok: bool,
    /// A ref's line did not fit the cap: later refs are not read.
    full: bool,
    done: bool,
}

fn problem_value(p: &Problem) -> Value {
    serde_json::from_str::<Value>(&p.to_json()).unwrap_or(Value::Null)
}

impl Batch {
    /// The line of one distinct ref (without its newline).
    async fn line(&mut self, e: Entry) -> String {
        let reader = self.claims.as_ref().map_or(Reader::Anonymous, Reader::Token);
        let positions = Value::from(e.positions);
        let Some(r) = e.item.as_str() else {
            let p = Problem::new(400, "bad-ref", "Bad Request", "a ref is a string");
            return serde_json::json!({ "ref": e.item, "positions": positions.clone(), "status": 400, "problem": problem_value(&p) })
                .to_string();
        };
        let too_large = |positions: Value| {
            let p = Problem::new(
                413,
                "batch-answer-too-large",
                "Payload Too Large",
                format!("this ref would take the answer past {MAX_BATCH_ANSWER_BYTES} bytes; read it on its own"),
            )
            .with("limit", MAX_BATCH_ANSWER_BYTES);
            serde_json::json!({ "ref": r, "positions": positions, "status": 413, "problem": problem_value(&p) }).to_string()
        };
        // From the first ref that did not fit, nothing more is read: the remaining refs cost no
        // table reads, no memory and no rewriting.
        if self.full {
            return too_large(positions);
        }
        let result = match e.parsed {
            Some(c) => {
                ledger_answer(&c, reader, &self.cfg, &self.r2, &self.tenants, e.ledger, &mut self.cost).await.map(|a| (a, c.representation))
            }
            None => Err(match content::parse(r.strip_prefix(content::PREFIX).unwrap_or(r)) {
                Err(e) => Problem::from(e),
                Ok(_) => Problem::new(400, "bad-ref", "Bad Request", "a ref is ns/type/id.ext"),
            }),
        };
        let line = match result {
            Ok((Answer::Body(b), rep)) => {
                let body = match rep {
                    Representation::Text { .. } => Value::String(b.body),
                    _ => serde_json::from_str(&b.body).unwrap_or(Value::String(b.body)),
                };
                serde_json::json!({ "ref": r, "positions": positions.clone(), "status": b.status, "content_type": b.content_type, "etag": b.etag, "body": body }).to_string()
            }
            Ok((Answer::Problem(p), _)) | Err(p) => {
                self.all_ok &= p.status < 500;
                serde_json::json!({ "ref": r, "positions": positions.clone(), "status": p.status, "problem": problem_value(&p) })
                    .to_string()
            }
        };
        if self.bytes.saturating_add(line.len()) <= MAX_BATCH_ANSWER_BYTES {
            return line;
        }
        self.full = true;
        too_large(positions)
    }
}

/// `POST /$.content/batch` with a JSON list of at most 100 `ns/type/id.ext` refs (optionally
/// prefixed with `/$.content/`): one NDJSON line per distinct ref, streamed in order of first
/// appearance, each with the `positions` it answers (0-based), its own `status` and either the
/// `body` (text, or a JSON value for JSON representations) or the `problem`; then a last line
/// `{"end": true, …}` so a client can tell a complete answer from a cut one. All refs share one
/// request's reads, so a data-file range needed by several refs is read once.
pub async fn batch(mut req: Request, env: &Env) -> Result<Response> {
    let claims = match crate::auth::reader(&req, env) {
        Ok(c) => c,
        Err(p) => return glue::problem(&p),
    };
    let bad = |d: &str| glue::problem(&Problem::new(400, "bad-batch", "Bad Request", d));
    let bytes = match glue::bounded_body(&mut req, MAX_BATCH_BODY_BYTES).await? {
        Ok(b) => b,
        Err(p) => return glue::problem(&p),
    };
    let refs = match serde_json::from_slice::<Refs>(&bytes) {
        Ok(Refs(refs)) => refs,
        Err(e) if e.to_string().starts_with("too many refs") => return bad("a batch holds at most 100 refs"),
        Err(_) => return bad("the body must be a JSON list of ns/type/id.ext refs"),
    };
    drop(bytes);
    let count = refs.len();
    let mut entries: Vec<Entry> = Vec::new();
    for (i, item) in refs.into_iter().enumerate() {
        let parsed = item.as_str().and_then(|r| content::parse(r.strip_prefix(content::PREFIX).unwrap_or(r)).ok());
        let same = |e: &&mut Entry| match (&parsed, &e.parsed) {
            (Some(p), Some(q)) => p == q,
            _ => item.is_string() && e.item == item,
        };
        match entries.iter_mut().find(same) {
            Some(e) => e.positions.push(i),
            None => entries.push(Entry { item, parsed, positions: vec![i], ledger: Ledger::Off }),
        }
    }
    // One ledger lookup per distinct latest ref, all in flight at once (each bounded by
    // LEDGER_TIMEOUT_MS): batch refs see a pending copy as a single read does (#17).
    let lookups = pending::join_all(
        entries
            .iter()
            .map(|e| async move {
                match &e.parsed {
                    Some(c) if c.version == content::Version::Latest => crate::ledger::lookup(env, c).await,
                    _ => Ledger::Off,
                }
            })
            .collect(),
    )
    .await;
    for (e, l) in entries.iter_mut().zip(lookups) {
        e.ledger = l;
    }
    let state = Batch {
        entries: entries.into_iter(),
        claims,
        cfg: Config::from_env(env),
        r2: crate::store::r2(env.bucket("WAREHOUSE")?),
        tenants: Tenants::new(env),
        cost: Cost::default(),
        refs: count,
        lines: 0,
        bytes: 0,
        all_ok: true,
        full: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut b| async move {
        if b.done {
            return None;
        }
        let mut line = match b.entries.next() {
            Some(e) => {
                let line = b.line(e).await;
                b.lines += 1;
                b.bytes = b.bytes.saturating_add(line.len() + 1);
                line
            }
            None => {
                b.done = true;
                if b.all_ok {
                    b.r2.keep_reads();
                }
                serde_json::json!({ "end": true, "refs": b.refs, "lines": b.lines, "r2_reads": b.r2.reads(), "r2_bytes": b.r2.bytes() })
                    .to_string()
            }
        };
        line.push('\n');
        Some((Ok::<Vec<u8>, worker::Error>(line.into_bytes()), b))
    });
    let mut res = Response::from_stream(stream)?;
    let h = res.headers_mut();
    h.set("content-type", "application/x-ndjson")?;
    h.set("cache-control", "private, no-store")?;
    h.set("server-timing", &format!("refs;desc=\"{count}\""))?;
    Ok(res)
}
