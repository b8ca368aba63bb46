//! `POST /$.artifacts` and `DELETE /$.artifacts/{ns}/{type}/{id}`: the request side of ingest.
//!
//! The body is read as a stream: raw bytes → (gzip inflate, bounded) → [`Intake`] (split,
//! validate, chunk) → chunk tasks (dedupe, send with retry, record state, purge), at most
//! [`MAX_IN_FLIGHT`] at once. Memory is bounded by one read, one line, one open chunk and the
//! chunks in flight, whatever the body size.

use std::collections::VecDeque;

use crate::js::Env;
use futures_channel::oneshot;
use sha2::{Digest, Sha256};
use shared::chunk::Chunk;
use shared::intake::{BodyFormat, Intake, Report, Stop};
use shared::problem::Problem;
use shared::record::{Mode, Record, Stamp};
use shared::retry::{RetryPolicy, SendOutcome};
use shared::token::Claims;
use web_sys::Request;

use crate::js::{Kv, ReadError, Reader};
use crate::ledger::{self, Ledger};

use crate::http;
use crate::idempotency::{self, Prior};
use crate::pipeline::{self, Pipeline};
use crate::purge::{self, ZonePurge};
use crate::refusal::Refusal;
use crate::settings::{self, Settings};

/// Chunks being sent at once.
pub const MAX_IN_FLIGHT: usize = 3;

use crate::js::header;

fn binding_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Preview => "PIPELINE_PREVIEW",
        Mode::Build => "PIPELINE_BUILD",
        Mode::Bulk => "PIPELINE_BULK",
    }
}

/// What one chunk task reports back.
struct ChunkResult {
    deduped: Vec<u64>,
    unsent: Vec<u64>,
    error: Option<String>,
    /// Records sent whose ledger confirm was deferred to the outbox.
    deferred: u64,
}

/// Everything a chunk task needs, cloned per chunk ('static for `spawn_local`).
#[derive(Clone)]
struct Downstream {
    pipeline: Pipeline,
    ledger: Ledger,
    policy: RetryPolicy,
    zone: Option<ZonePurge>,
    /// `ARTIFACT_EVENTS` (#18), when bound, and the request's mode.
    events: Option<crate::events::Queue>,
    mode: Mode,
    /// The request's writes send pending copies (preview, or a mode in the tenant's `pending_modes`).
    copies: bool,
}

/// One chunk: `check` per shard (duplicates of the confirmed state are not sent), `send()`, then
/// `confirm` per shard for what was sent (docs/design/ledger.md): at most two ledger calls per
/// shard touched and no KV call. The ledger unreachable at check: everything is sent; at
/// confirm: the records are still accepted and the confirm goes to the outbox.
async fn process_chunk(chunk: Chunk, down: Downstream) -> ChunkResult {
    let groups = down.ledger.groups(&chunk.keys);
    let mut writes = ledger::writes(&down.ledger, &chunk.records, &chunk.keys, down.mode, down.copies);
    let deduped = ledger::check(&down.ledger, &groups, &writes).await;
    let is_deduped = |i: usize| deduped.get(i).copied().unwrap_or(false);
    let deduped_lines: Vec<u64> = chunk.lines.iter().enumerate().filter(|(i, _)| is_deduped(*i)).map(|(_, l)| *l).collect();
    let sent_lines: Vec<u64> = chunk.lines.iter().enumerate().filter(|(i, _)| !is_deduped(*i)).map(|(_, l)| *l).collect();
    if sent_lines.is_empty() {
        return ChunkResult { deduped: deduped_lines, unsent: Vec::new(), error: None, deferred: 0 };
    }
    match pipeline::send_with_retry(&down.pipeline, &chunk.json(|i| !is_deduped(i)), &down.policy).await {
        SendOutcome::Confirmed { .. } => {
            // The ledger orders the writes of a key (only forward, any order of confirms gives
            // the same state); a write it calls stale changed nothing a reader sees. The refs the
            // sent records supersede are marked in their own shards' confirms (#18).
            let mut keys = chunk.keys.clone();
            ledger::marks(&chunk.records, |i| !is_deduped(i), &mut keys, &mut writes);
            let deferred = ledger::confirm(&down.ledger, &down.ledger.groups(&keys), &writes, |i| !is_deduped(i)).await;
            if let Some(queue) = &down.events {
                // Every confirmed write of the chunk (a newer state elsewhere changes nothing here).
                let events: Vec<shared::events::Event> = (0..chunk.len())
                    .filter(|i| !is_deduped(*i))
                    .filter_map(|i| {
                        Some(shared::events::Event::of_written(
                            chunk.keys.get(i)?,
                            chunk.dedupe.get(i)?,
                            *chunk.ts.get(i)?,
                            down.mode.as_str(),
                        ))
                    })
                    .collect();
                crate::events::publish(queue, &events).await;
            }
            if let Some(zone) = &down.zone {
                // Every sent key, stale ones too (an equal ts may order differently in the tables),
                // and the refs they supersede (#18).
                let keys: Vec<String> = (0..keys.len()).filter(|i| !is_deduped(*i)).filter_map(|i| keys.get(i).cloned()).collect();
                purge::purge_zone(zone, &keys).await;
            }
            ChunkResult { deduped: deduped_lines, unsent: Vec::new(), error: None, deferred }
        }
        SendOutcome::Failed { attempts, last_error } => ChunkResult {
            deduped: deduped_lines,
            unsent: sent_lines,
            error: Some(format!("{last_error} (after {attempts} attempts)")),
            deferred: 0,
        },
    }
}

/// Chunks in flight, each a spawned task reporting through a channel.
struct InFlight {
    down: Downstream,
    pending: VecDeque<oneshot::Receiver<ChunkResult>>,
    lines: VecDeque<Vec<u64>>,
    errors: Vec<String>,
    /// Records whose ledger confirm was deferred.
    deferred: u64,
    /// Records handed to the stream so far, and the last line of the last chunk handed out
    /// (chunks are cut in line order).
    dispatched: u64,
    sent_through: u64,
}

impl InFlight {
    async fn dispatch(&mut self, chunk: Chunk, report: &mut Report) {
        while self.pending.len() >= MAX_IN_FLIGHT {
            self.collect_one(report).await;
        }
        let (tx, rx) = oneshot::channel();
        let down = self.down.clone();
        self.dispatched += chunk.len() as u64;
        self.sent_through = chunk.lines.last().copied().unwrap_or(self.sent_through);
        self.lines.push_back(chunk.lines.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let _ = tx.send(process_chunk(chunk, down).await);
        });
        self.pending.push_back(rx);
    }

    async fn collect_one(&mut self, report: &mut Report) {
        let (Some(rx), lines) = (self.pending.pop_front(), self.lines.pop_front().unwrap_or_default()) else {
            return;
        };
        match rx.await {
            Ok(r) => {
                for l in r.deduped {
                    report.dedupe(l);
                }
                if r.unsent.is_empty() {
                    report.chunks += 1;
                }
                report.unsent.extend(r.unsent);
                self.errors.extend(r.error);
                self.deferred += r.deferred;
            }
            // The task vanished: nothing about this chunk is confirmed.
            Err(_) => report.unsent.extend(lines),
        }
    }

    async fn drain(&mut self, report: &mut Report) {
        while !self.pending.is_empty() {
            self.collect_one(report).await;
        }
    }
}

/// Why the intake stopped; [`Report::stopped`] adds what was sent before.
fn stopped(stop: Stop, settings: &Settings) -> Problem {
    match stop {
        Stop::TooManyRecords => Problem::new(
            413,
            "too-many-artifacts",
            "Too many artifacts",
            format!("a request may carry at most {} artifacts", settings.limits.max_records),
        )
        .with("limit", settings.limits.max_records),
        Stop::Malformed(why) => Problem::new(400, "malformed-body", "Malformed body", why),
    }
}

fn too_large(what: &str, limit: u64) -> Problem {
    Problem::new(413, "body-too-large", "Payload Too Large", format!("the {what} body is larger than {limit} bytes")).with("limit", limit)
}

/// Common checks before reading a body: auth, mode, tenant settings, rate limit.
async fn admit(req: &Request, env: &Env) -> std::result::Result<(Claims, Mode, Settings, Ledger), Refusal> {
    let now_secs = crate::js::now_ms() / 1000;
    let claims = crate::auth::verify(req, env, now_secs).map_err(|p| {
        let h = crate::auth::challenge(&p);
        Refusal(p, h)
    })?;
    let mode = Mode::parse(header(req, "x-artifact-mode").as_deref())
        .ok_or_else(|| Problem::new(400, "unknown-mode", "Unknown mode", "X-Artifact-Mode must be preview, build or bulk"))?;
    let kv = Kv::from_env(env, "ARTIFACT_STATE").ok_or_else(|| misconfigured("ARTIFACT_STATE"))?;
    let settings =
        settings::for_tenant(settings::from_env(env), &kv, &claims.org).await.map_err(state_unavailable("reading tenant settings"))?;
    crate::limits::check_rate(env, &claims.org, settings.rate_limit_per_minute).await?;
    let ledger = Ledger::from_env(env).ok_or_else(|| misconfigured("LEDGER"))?;
    Ok((claims, mode, settings, ledger))
}

/// 503 `state-unavailable`: `ARTIFACT_STATE` failed while reading `what`; nothing was sent.
fn state_unavailable(what: &'static str) -> impl Fn(String) -> Problem {
    move |e| Problem::new(503, "state-unavailable", "Service Unavailable", format!("{what} failed: {e}"))
}

fn misconfigured(binding: &str) -> Problem {
    Problem::new(500, "misconfigured", "Misconfigured", format!("the worker has no {binding} binding"))
}

/// `POST /$.artifacts`.
pub async fn post(req: Request, env: Env) -> http::Result {
    match post_inner(&req, &env).await {
        Ok(res) => Ok(res),
        Err(Refusal(p, headers)) => http::problem_with(&p, &headers),
    }
}

async fn post_inner(req: &Request, env: &Env) -> std::result::Result<web_sys::Response, Refusal> {
    let (claims, mode, settings, ledger) = admit(req, env).await?;
    let format = BodyFormat::from_content_type(header(req, "content-type").as_deref()).ok_or_else(|| {
        Problem::new(415, "unsupported-media-type", "Unsupported Media Type", "send application/x-ndjson or application/json")
    })?;
    let gzip = match header(req, "content-encoding").as_deref().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("identity") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(other) => {
            return Err(Problem::new(
                415,
                "unsupported-encoding",
                "Unsupported Media Type",
                format!("Content-Encoding {other} is not supported; use gzip"),
            )
            .into())
        }
    };
    if let Some(len) = header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok()) {
        if len > settings.max_body_bytes {
            return Err(too_large("request", settings.max_body_bytes).into());
        }
    }
    let pipeline = pipeline::binding(env, binding_name(mode)).ok_or_else(|| misconfigured(binding_name(mode)))?;

    // The ledger key of X-Idempotency-Key while it applies to this request.
    let mut idem: Option<String> = None;
    if let Some(key) = header(req, "x-idempotency-key").as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        if key.len() > idempotency::MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Problem::new(
                400,
                "bad-idempotency-key",
                "Bad idempotency key",
                "X-Idempotency-Key must be 1-256 visible ASCII characters",
            )
            .into());
        }
        let k = idempotency::key_of(&claims.org, &claims.sub, key);
        // The pending marker outlives the longest this request can run (plus a minute).
        let pending_ms = shared::intake::request_bound_ms(settings.body_deadline_ms, &settings.retry) + 60_000;
        match idempotency::begin(&ledger, &k, pending_ms.max(idempotency::PENDING_MS)).await {
            Ok(Prior::New) => idem = Some(k),
            Ok(Prior::InFlight) => {
                return Err(Problem::new(
                    409,
                    "idempotency-in-flight",
                    "Conflict",
                    "a request with this X-Idempotency-Key is still being processed",
                )
                .into())
            }
            // A token that may not write every namespace the first request wrote could not have
            // made it: it is answered as if it had sent no key (the key shows it nothing).
            Ok(Prior::Done { namespaces, .. }) if !namespaces.iter().all(|ns| claims.can_write(ns)) => {}
            Ok(Prior::Done { body_sha256, status, content_type, body, .. }) => {
                let hash = hash_body(req, gzip, &settings).await?;
                if hash != body_sha256 {
                    return Err(Problem::new(
                        422,
                        "idempotency-mismatch",
                        "Unprocessable Content",
                        "this X-Idempotency-Key was used with a different body",
                    )
                    .into());
                }
                return http::respond(status, &content_type, &body, &[("x-idempotency-replayed", "true".into())]).map_err(internal);
            }
            Err(e) => return Err(state_unavailable("idempotency store")(e).into()),
        }
    }

    let result = ingest_body(
        req,
        &claims,
        mode,
        format,
        gzip,
        &settings,
        Downstream {
            pipeline,
            ledger: ledger.clone(),
            policy: settings.retry,
            zone: purge::zone(env),
            events: crate::events::binding(env),
            mode,
            copies: mode == Mode::Preview || settings.pending_modes.contains(mode),
        },
    )
    .await;
    match result {
        Ok(done) => {
            if let Some(k) = &idem {
                // An answer that cannot be stored forgets the key: a retry is then processed
                // again (dedupe keeps it from duplicating) instead of meeting a pending 409.
                let stored = done.status < 500
                    && idempotency::complete(&ledger, k, &done.sha256, done.status, done.content_type, &done.body, &done.namespaces)
                        .await
                        .is_ok();
                if !stored {
                    idempotency::abandon(&ledger, k).await;
                }
            }
            http::respond(done.status, done.content_type, &done.body, &done.headers).map_err(internal)
        }
        Err(refusal) => {
            if let Some(k) = &idem {
                idempotency::abandon(&ledger, k).await;
            }
            Err(refusal)
        }
    }
}

/// The answer after the whole body was read.
struct Finished {
    status: u16,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
    /// sha256 hex of the raw request body (for idempotency).
    sha256: String,
    /// The namespaces the request wrote (for idempotency: who may be given a replay).
    namespaces: Vec<String>,
}

/// The body limit and what the 413 calls it: plain bodies `MAX_BODY_BYTES`; gzip bodies count
/// inflated bytes against both `MAX_BODY_BYTES` (the tenant's bytes per request count records,
/// not wire bytes) and `MAX_INFLATED_BYTES`; the wire bytes are smaller still.
fn body_limit(settings: &Settings, gzip: bool) -> (u64, &'static str) {
    if gzip {
        (settings.max_body_bytes.min(settings.max_inflated_bytes), "inflated")
    } else {
        (settings.max_body_bytes, "request")
    }
}

/// Reads the body only to hash it (an idempotent replay), bounded by the body limit and in time.
async fn hash_body(req: &Request, gzip: bool, settings: &Settings) -> std::result::Result<String, Refusal> {
    let mut hasher = Sha256::new();
    let (limit, what) = body_limit(settings, gzip);
    let started = crate::js::now_ms();
    let stream = body_stream(req, gzip, settings, started)?;
    let mut total = 0u64;
    while let Some(piece) = next_piece(&stream, gzip, settings, started).await? {
        total = total.saturating_add(piece.len() as u64);
        if total > limit {
            return Err(too_large(what, limit).into());
        }
        hasher.update(&piece);
    }
    Ok(shared::record::hex(&hasher.finalize()))
}

fn read_failed(gzip: bool) -> Problem {
    if gzip {
        Problem::new(400, "bad-gzip", "Bad Request", "the gzip body is invalid or truncated")
    } else {
        Problem::new(400, "body-unreadable", "Bad Request", "the request body could not be read to the end")
    }
}

/// The next piece of the body (`None` at its end); a body shorter than its `Content-Length` on
/// a connection kept open ends in a 408 (`BODY_IDLE_MS`, `BODY_DEADLINE_MS`) instead of hanging.
async fn next_piece(
    stream: &Option<Reader>,
    gzip: bool,
    settings: &Settings,
    started: u64,
) -> std::result::Result<Option<Vec<u8>>, Problem> {
    let Some(s) = stream else { return Ok(None) };
    match s.read().await {
        Ok(piece) => Ok(piece),
        Err(ReadError::Failed) => Err(read_failed(gzip)),
        Err(ReadError::Timeout) => {
            let (why, ms) = if crate::js::now_ms() >= started.saturating_add(settings.body_deadline_ms) {
                ("the body did not arrive within BODY_DEADLINE_MS", settings.body_deadline_ms)
            } else {
                ("no more of the body arrived within BODY_IDLE_MS", settings.body_idle_ms)
            };
            Err(Problem::new(408, "body-timeout", "Request Timeout", format!("{why} ({ms} ms)")).with("limit_ms", ms))
        }
    }
}

/// The request body as a byte stream, inflated by the runtime's `DecompressionStream` when it is
/// gzip (a pure-Rust inflater would cost ~9 KB of gzip in the 96 KiB ingest budget); `None`
/// when there is no body. The caller bounds the bytes it reads, so a bomb stops at the limit.
fn body_stream(req: &Request, gzip: bool, settings: &Settings, started: u64) -> std::result::Result<Option<Reader>, Refusal> {
    let Some(body) = req.body() else { return Ok(None) };
    let fail = || Refusal::from(Problem::new(500, "internal", "Internal Server Error", "the body stream could not be read"));
    let stream = if gzip { crate::js::gunzip(&body).map_err(|_| fail())? } else { body };
    Reader::new(&stream, settings.body_idle_ms, started.saturating_add(settings.body_deadline_ms)).map(Some).map_err(|_| fail())
}

#[allow(clippy::too_many_arguments)]
async fn ingest_body(
    req: &Request,
    claims: &Claims,
    mode: Mode,
    format: BodyFormat,
    gzip: bool,
    settings: &Settings,
    down: Downstream,
) -> std::result::Result<Finished, Refusal> {
    let started = crate::js::now_ms();
    let now_micros = i64::try_from(started).unwrap_or(0).saturating_mul(1_000);
    let stamp = Stamp { mode, now_micros, org: &claims.org, user: &claims.sub, default_visibility: settings.default_visibility };
    let mut intake = Intake::new(format, settings.limits, stamp, claims);
    let mut flight = InFlight {
        down,
        pending: VecDeque::new(),
        lines: VecDeque::new(),
        errors: Vec::new(),
        deferred: 0,
        dispatched: 0,
        sent_through: 0,
    };
    // Send results, in the order the chunks were handed out.
    let mut sent = Report::default();
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut ready: Vec<Chunk> = Vec::new();
    let (limit, what) = body_limit(settings, gzip);
    let stream = body_stream(req, gzip, settings, started)?;

    let stop: Option<Problem> = loop {
        let piece = match next_piece(&stream, gzip, settings, started).await {
            Ok(Some(piece)) => piece,
            Ok(None) => break None,
            Err(p) => break Some(p),
        };
        total = total.saturating_add(piece.len() as u64);
        if total > limit {
            break Some(too_large(what, limit));
        }
        hasher.update(&piece);
        if let Err(stop) = intake.feed(&piece, &mut ready) {
            break Some(stopped(stop, settings));
        }
        for chunk in ready.drain(..) {
            flight.dispatch(chunk, &mut sent).await;
        }
    };
    let (mut report, stop) = match stop {
        Some(p) => (intake.into_report(), Some(p)),
        None => {
            let (report, stop) = intake.end(&mut ready);
            (report, stop.map(|s| stopped(s, settings)))
        }
    };
    // After a stop nothing more is sent; chunks already handed out are waited for, so the
    // answer says exactly what was sent, whatever its status.
    if stop.is_none() {
        for chunk in ready.drain(..) {
            flight.dispatch(chunk, &mut sent).await;
        }
    }
    flight.drain(&mut sent).await;
    report.absorb_earlier(sent);
    if let Some(p) = stop {
        return Err(report.stopped(p, mode, flight.dispatched, flight.sent_through).into());
    }
    let sha256 = shared::record::hex(&hasher.finalize());
    let mut done = finished(report, mode, sha256, &flight.errors);
    if flight.deferred > 0 {
        // Accepted (the records are in the sink); the ledger learns them from the outbox.
        if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_str::<serde_json::Value>(&done.body) {
            o.insert("ledger".into(), "deferred".into());
            o.insert("deferred".into(), flight.deferred.into());
            done.body = serde_json::Value::Object(o).to_string();
        }
        done.headers.push(("x-ledger", "deferred".into()));
    }
    Ok(done)
}

/// The answer of a body read to its end.
fn finished(report: Report, mode: Mode, sha256: String, errors: &[String]) -> Finished {
    match report.outcome(mode) {
        Ok(body) => Finished {
            status: report.success_status(),
            content_type: "application/json",
            body,
            headers: Vec::new(),
            sha256,
            namespaces: report.namespaces,
        },
        Err(mut p) => {
            let mut headers = Vec::new();
            if p.status == 503 {
                headers.push(("retry-after", "5".to_string()));
                if let Some(e) = errors.first() {
                    p = p.with("last_error", e.as_str());
                }
            }
            Finished {
                status: p.status,
                content_type: shared::problem::CONTENT_TYPE,
                body: p.to_json(),
                headers,
                sha256,
                namespaces: report.namespaces,
            }
        }
    }
}

/// `DELETE /$.artifacts/{ns}/{type}/{id}`: a tombstone record through the same path.
pub async fn delete(req: Request, env: Env, ns: &str, ty: &str, id: &str) -> http::Result {
    match delete_inner(&req, &env, ns, ty, id).await {
        Ok(res) => Ok(res),
        Err(Refusal(p, headers)) => http::problem_with(&p, &headers),
    }
}

async fn delete_inner(req: &Request, env: &Env, ns: &str, ty: &str, id: &str) -> std::result::Result<web_sys::Response, Refusal> {
    let (claims, mode, settings, ledger) = admit(req, env).await?;
    let now_micros = i64::try_from(crate::js::now_ms()).unwrap_or(0).saturating_mul(1_000);
    let stamp = Stamp { mode, now_micros, org: &claims.org, user: &claims.sub, default_visibility: settings.default_visibility };
    let record = Record::tombstone(ns, ty, id, &stamp)
        .map_err(|e| Problem::new(400, "invalid-path", "Bad Request", e.to_string()).with("field", e.field.unwrap_or_default()))?;
    if !claims.can_write(ns) {
        return Err(Problem::new(403, "forbidden", "Forbidden", format!("the token has no write scope for namespace {ns}")).into());
    }
    let pipeline = pipeline::binding(env, binding_name(mode)).ok_or_else(|| misconfigured(binding_name(mode)))?;
    let mut chunker = shared::chunk::Chunker::new(settings.limits.chunk_bytes);
    let json = record.to_json().to_string();
    let item = shared::chunk::Item { line: 1, json: &json, key: record.key(), dedupe: record.dedupe_key(), ts: record.ts };
    let _ = chunker.push(item);
    let Some(chunk) = chunker.take() else {
        return Err(Problem::new(500, "internal", "Internal Server Error", "tombstone did not fit a chunk").into());
    };
    let down = Downstream {
        pipeline,
        ledger,
        policy: settings.retry,
        zone: purge::zone(env),
        events: crate::events::binding(env),
        mode,
        copies: mode == Mode::Preview,
    };
    let result = process_chunk(chunk, down).await;
    if let Some(err) = result.error {
        return Err(Refusal(
            Problem::new(503, "pipeline-unavailable", "Tombstone not accepted", "the stream did not confirm the tombstone after retries")
                .with("last_error", err),
            vec![("retry-after", "5".into())],
        ));
    }
    let mut body = serde_json::json!({ "mode": mode.as_str(), "deleted": record.key(), "deduped": !result.deduped.is_empty() });
    if result.deferred > 0 {
        if let Some(o) = body.as_object_mut() {
            o.insert("ledger".into(), "deferred".into());
            o.insert("deferred".into(), result.deferred.into());
        }
        return http::respond(200, "application/json", &body.to_string(), &[("x-ledger", "deferred".into())]).map_err(internal);
    }
    http::json(200, &body.to_string()).map_err(internal)
}

fn internal(e: wasm_bindgen::JsValue) -> Refusal {
    Problem::new(500, "internal", "Internal Server Error", crate::js::describe(&e)).into()
}
