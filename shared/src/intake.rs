//! One ingest request's body, from raw bytes to ready-to-send chunks, and its report.
//!
//! The worker feeds body bytes (already inflated) as they arrive; [`Intake`] splits them into
//! lines (NDJSON) or elements (a JSON array), validates each against the record contract and the
//! token's scopes, and packs valid records into [`Chunk`]s. Memory is bounded by the line limit
//! plus one open chunk, whatever the body size. The worker then sends chunks and tells the
//! [`Report`] which lines were deduped or could not be sent; the report decides the answer.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{json, Value};

use crate::chunk::{Chunk, Chunker, Item};
use crate::json_array::{ArraySplitter, Element};
use crate::ndjson::{Line, LineSplitter};
use crate::problem::Problem;
use crate::record::{Mode, Record, Stamp};
use crate::retry::RetryPolicy;
use crate::token::Claims;

/// At most this many rejected (or deduped, or unsent) lines are listed one by one in a response;
/// the totals are always exact.
pub const MAX_LISTED: usize = 1_000;

/// At most this many namespaces are kept in [`Report::namespaces`]; past it the list is `["*"]`.
pub const MAX_NAMESPACES: usize = 64;

/// Longest an ingest request runs once its body read started, in ms (KV and purge calls aside):
/// the read ends by `body_deadline_ms`; a chunk handed out just before it may wait for a free send
/// slot (the oldest chunk in flight: one send, at most the retry budget plus one attempt) and is
/// then sent (the same again). An idempotency key's pending marker must outlive it.
pub fn request_bound_ms(body_deadline_ms: u64, retry: &RetryPolicy) -> u64 {
    let send = retry.budget_ms.saturating_add(retry.attempt_timeout_ms);
    body_deadline_ms.saturating_add(send.saturating_mul(2))
}

/// How the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/x-ndjson` (also `application/ndjson`, `application/jsonl`): one record a line.
    Ndjson,
    /// `application/json`: one array of records.
    JsonArray,
}

impl BodyFormat {
    /// From a `Content-Type` value (parameters ignored, case-insensitive).
    pub fn from_content_type(ct: Option<&str>) -> Option<Self> {
        let essence = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => Some(Self::Ndjson),
            "application/json" => Some(Self::JsonArray),
            _ => None,
        }
    }
}

/// Per-request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line / array element, in bytes.
    pub max_record_bytes: usize,
    /// Most records (non-blank lines) per request.
    pub max_records: u64,
    /// Largest `send()` batch, in bytes of JSON.
    pub chunk_bytes: usize,
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based line number (element number for JSON arrays).
    pub line: u64,
    /// The field at fault, if one.
    pub field: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether it was refused for lack of a write scope (rather than being invalid).
    pub forbidden: bool,
}

/// Why the intake stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// More records than [`Limits::max_records`].
    TooManyRecords,
    /// The framing is broken beyond one line (e.g. not a JSON array, unterminated array).
    Malformed(&'static str),
}

/// What happened to every line of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records that were valid (sent or deduped, unless listed in `unsent`).
    pub valid: u64,
    /// Rejected lines, at most [`MAX_LISTED`].
    pub rejected: Vec<Rejection>,
    /// All rejected lines.
    pub rejected_total: u64,
    /// Lines not sent because ingest already had the same content, at most [`MAX_LISTED`].
    pub deduped: Vec<u64>,
    /// All deduped lines.
    pub deduped_total: u64,
    /// Valid lines whose chunk could not be confirmed downstream, in line order (callers add
    /// them chunk by chunk, in the order the chunks were cut).
    pub unsent: Vec<u64>,
    /// Chunks confirmed.
    pub chunks: u64,
    /// The namespaces of the valid records, each once, in first-seen order; `["*"]` when there
    /// were more than [`MAX_NAMESPACES`] (`*` is no namespace, and only `write:*` grants it). An
    /// idempotent replay is given only to a token that may write every one of them.
    pub namespaces: Vec<String>,
}

fn push_capped<T>(v: &mut Vec<T>, item: T) {
    if v.len() < MAX_LISTED {
        v.push(item);
    }
}

impl Report {
    /// Records one rejected line.
    pub fn reject(&mut self, r: Rejection) {
        self.rejected_total += 1;
        push_capped(&mut self.rejected, r);
    }

    /// Records a deduped line.
    pub fn dedupe(&mut self, line: u64) {
        self.deduped_total += 1;
        push_capped(&mut self.deduped, line);
    }

    /// Folds in the send results of chunks that were collected into `earlier` (chunks cut
    /// before this report's own), keeping line order and exact totals.
    pub fn absorb_earlier(&mut self, earlier: Report) {
        let mut deduped = earlier.deduped;
        deduped.extend(core::mem::take(&mut self.deduped));
        deduped.truncate(MAX_LISTED);
        self.deduped = deduped;
        self.deduped_total += earlier.deduped_total;
        let mut unsent = earlier.unsent;
        unsent.append(&mut self.unsent);
        self.unsent = unsent;
        self.chunks += earlier.chunks;
    }

    /// Lines confirmed downstream or deduped.
    pub fn accepted(&self) -> u64 {
        self.valid.saturating_sub(self.unsent.len() as u64)
    }

    fn note_namespace(&mut self, ns: &str) {
        let list = &mut self.namespaces;
        if list.iter().any(|n| n == ns || n == "*") {
            return;
        }
        if list.len() < MAX_NAMESPACES {
            list.push(ns.into());
        } else {
            *list = alloc::vec!["*".into()];
        }
    }

    fn rejected_json(&self) -> Value {
        Value::Array(
            self.rejected
                .iter()
                .map(|r| {
                    let mut o = json!({ "line": r.line, "reason": r.reason });
                    if let (Some(f), Some(map)) = (&r.field, o.as_object_mut()) {
                        map.insert("field".into(), Value::String(f.clone()));
                    }
                    o
                })
                .collect(),
        )
    }

    fn summary(&self, mode: Mode) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("mode".into(), mode.as_str().into());
        m.insert("accepted".into(), self.accepted().into());
        m.insert("deduped".into(), self.deduped_total.into());
        m.insert("deduped_lines".into(), self.deduped.clone().into());
        m.insert("rejected".into(), self.rejected_total.into());
        m.insert("rejected_lines".into(), self.rejected_json());
        if self.rejected_total > self.rejected.len() as u64 || self.deduped_total > self.deduped.len() as u64 {
            m.insert("truncated".into(), true.into());
        }
        m
    }

    /// `p` with the summary members (as a 200 answer has them) and, when a chunk was not
    /// confirmed, `unsent` and `unsent_lines`.
    fn described(&self, mut p: Problem, mode: Mode) -> Problem {
        p.extensions.extend(self.summary(mode));
        if self.unsent.is_empty() {
            return p;
        }
        p.with("unsent", self.unsent.len() as u64).with("unsent_lines", self.unsent.clone())
    }

    /// The answer for a request that stopped before its body was read to the end (`p` says
    /// why), once the chunks already handed to the stream are settled. Records were sent before
    /// the stop, so the answer says exactly which, as a complete one does: `sent_through_line` is
    /// the last line of the last chunk handed to the stream (0: none), `dispatched` the valid
    /// records in those chunks. Every valid line up to `sent_through_line` was accepted (sent or
    /// deduped) unless it is in `unsent_lines`; no line after it was sent. `valid_before_stop`
    /// counts the valid records read before the stop, sent or not.
    pub fn stopped(mut self, p: Problem, mode: Mode, dispatched: u64, sent_through: u64) -> Problem {
        let p = p.with("valid_before_stop", self.valid).with("sent_through_line", sent_through);
        self.valid = dispatched;
        self.described(p, mode)
    }

    /// The answer when the whole body was read: 200 all accepted, 207 some rejected, 400 none
    /// accepted (403 when every rejection was for scope), 503 when a chunk was not confirmed.
    pub fn outcome(&self, mode: Mode) -> Result<String, Problem> {
        if !self.unsent.is_empty() {
            let p = Problem::new(
                503,
                "pipeline-unavailable",
                "Records not accepted",
                alloc::format!(
                    "{} of {} valid records could not be confirmed by the {} stream after retries; resend the lines in `unsent_lines`",
                    self.unsent.len(),
                    self.valid,
                    mode.as_str()
                ),
            );
            return Err(self.described(p, mode));
        }
        if self.valid == 0 {
            let (status, slug, title, detail) = if self.rejected_total == 0 {
                (400, "empty-body", "No records", "the body holds no records".to_string())
            } else if self.rejected.iter().all(|r| r.forbidden) {
                (403, "forbidden", "Forbidden", "the token may not write any of these namespaces".to_string())
            } else {
                (400, "invalid-records", "No record was valid", alloc::format!("all {} records were rejected", self.rejected_total))
            };
            return Err(self.described(Problem::new(status, slug, title, detail), mode));
        }
        Ok(Value::Object(self.summary(mode)).to_string())
    }

    /// 200 or 207 for a successful [`Report::outcome`].
    pub fn success_status(&self) -> u16 {
        if self.rejected_total == 0 {
            200
        } else {
            207
        }
    }
}

enum Splitter {
    Lines(LineSplitter),
    Array(ArraySplitter),
}

struct Sink<'s> {
    claims: &'s Claims,
    stamp: Stamp<'s>,
    limits: Limits,
    chunker: Chunker,
    report: Report,
    records: u64,
    stop: Option<Stop>,
}

impl Sink<'_> {
    fn record(&mut self, line: u64, content: Result<&[u8], &'static str>, out: &mut Vec<Chunk>) {
        if self.stop.is_some() {
            return;
        }
        self.records += 1;
        if self.records > self.limits.max_records {
            self.stop = Some(Stop::TooManyRecords);
            return;
        }
        let reject = |field: Option<String>, reason: String, forbidden: bool| Rejection { line, field, reason, forbidden };
        let bytes = match content {
            Ok(b) => b,
            Err(reason) => return self.report.reject(reject(None, reason.to_string(), false)),
        };
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => return self.report.reject(reject(None, alloc::format!("invalid JSON: {e}"), false)),
        };
        let rec = match Record::from_client(value, &self.stamp) {
            Ok(r) => r,
            Err(e) => return self.report.reject(reject(e.field, e.reason.to_string(), false)),
        };
        if !self.claims.can_write(&rec.ns) {
            let reason = alloc::format!("the token has no write scope for namespace {}", rec.ns);
            return self.report.reject(reject(Some("ns".into()), reason, true));
        }
        // Only a writer of the predecessor's namespace may supersede it (#18).
        let foreign =
            rec.supersedes.iter().flatten().map(|r| r.split('/').next().unwrap_or_default()).find(|ns| !self.claims.can_write(ns));
        if let Some(ns) = foreign {
            let reason = alloc::format!("supersedes an artifact of namespace {ns}, for which the token has no write scope");
            return self.report.reject(reject(Some("supersedes".into()), reason, true));
        }
        let json = rec.to_json().to_string();
        let item = Item { line, json: &json, key: rec.key(), dedupe: rec.dedupe_key(), ts: rec.ts };
        match self.chunker.push(item) {
            Ok(Some(full)) => out.push(full),
            Ok(None) => {}
            Err(_) => return self.report.reject(reject(None, "record is larger than a send chunk".into(), false)),
        }
        self.report.valid += 1;
        self.report.note_namespace(&rec.ns);
    }
}

/// The push state machine for one request body.
pub struct Intake<'s> {
    splitter: Splitter,
    sink: Sink<'s>,
}

impl<'s> Intake<'s> {
    /// Starts reading a body of `format` for the holder of `claims`.
    pub fn new(format: BodyFormat, limits: Limits, stamp: Stamp<'s>, claims: &'s Claims) -> Self {
        let splitter = match format {
            BodyFormat::Ndjson => Splitter::Lines(LineSplitter::new(limits.max_record_bytes)),
            BodyFormat::JsonArray => Splitter::Array(ArraySplitter::new(limits.max_record_bytes)),
        };
        let chunker = Chunker::new(limits.chunk_bytes);
        Intake { splitter, sink: Sink { claims, stamp, limits, chunker, report: Report::default(), records: 0, stop: None } }
    }

    /// Feeds body bytes; chunks that filled up are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Chunk>) -> Result<(), Stop> {
        let sink = &mut self.sink;
        match &mut self.splitter {
            Splitter::Lines(s) => s.feed(bytes, |l: Line<'_>| sink.record(l.number, l.content.map_err(|e| e.description()), out)),
            Splitter::Array(s) => s.feed(bytes, |e: Element<'_>| on_element(sink, e, out)),
        }
        match sink.stop {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Ends the body: the last chunk (if any) goes to `out`; returns the report to complete.
    pub fn finish(self, out: &mut Vec<Chunk>) -> Result<Report, Stop> {
        match self.end(out) {
            (report, None) => Ok(report),
            (_, Some(stop)) => Err(stop),
        }
    }

    /// [`Intake::finish`], but a stop found at the end (an array cut short) comes with the report
    /// so far, so the answer can say what was already sent; after a stop the caller sends
    /// nothing more (not even chunks this put in `out`).
    pub fn end(mut self, out: &mut Vec<Chunk>) -> (Report, Option<Stop>) {
        let sink = &mut self.sink;
        match self.splitter {
            Splitter::Lines(s) => s.finish(|l: Line<'_>| sink.record(l.number, l.content.map_err(|e| e.description()), out)),
            Splitter::Array(s) => s.finish(|e: Element<'_>| on_element(sink, e, out)),
        }
        if sink.stop.is_none() {
            out.extend(sink.chunker.take());
        }
        (core::mem::take(&mut sink.report), sink.stop)
    }

    /// The report so far, for a body that stopped while it was read (records in the open chunk
    /// were never handed out, so they are not sent).
    pub fn into_report(self) -> Report {
        self.sink.report
    }

    /// Valid records so far (for the 413 answer).
    pub fn valid_so_far(&self) -> u64 {
        self.sink.report.valid
    }
}

fn on_element(sink: &mut Sink<'_>, e: Element<'_>, out: &mut Vec<Chunk>) {
    use crate::json_array::ArrayError;
    match e.content {
        Ok(b) => sink.record(e.index, Ok(b), out),
        Err(ArrayError::TooLong) => sink.record(e.index, Err(ArrayError::TooLong.description()), out),
        Err(ArrayError::EmptyElement) => sink.record(e.index, Err(ArrayError::EmptyElement.description()), out),
        Err(other) => {
            if sink.stop.is_none() {
                sink.stop = Some(Stop::Malformed(other.description()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Visibility;

    fn claims(scopes: &[&str]) -> Claims {
        Claims {
            sub: "alice".into(),
            org: "acme".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            exp: u64::MAX,
            nbf: None,
            iat: None,
        }
    }

    fn stamp() -> Stamp<'static> {
        Stamp { mode: Mode::Build, now_micros: 7, org: "acme", user: "alice", default_visibility: Visibility::Org }
    }

    const LIMITS: Limits = Limits { max_record_bytes: 1024, max_records: 100, chunk_bytes: 4096 };

    fn run(format: BodyFormat, body: &str, c: &Claims, pieces: usize) -> (Result<Report, Stop>, Vec<Chunk>) {
        let mut intake = Intake::new(format, LIMITS, stamp(), c);
        let mut out = Vec::new();
        let bytes = body.as_bytes();
        let step = (bytes.len() / pieces).max(1);
        for piece in bytes.chunks(step) {
            if let Err(e) = intake.feed(piece, &mut out) {
                return (Err(e), out);
            }
        }
        (intake.finish(&mut out), out)
    }

    #[test]
    fn mixed_body_reports_every_line() {
        let c = claims(&["write:docs"]);
        let body = "{\"ns\":\"docs\",\"type\":\"g\",\"id\":\"a\",\"markdown\":\"x\"}\n\n{oops\n{\"ns\":\"other\",\"type\":\"g\",\"id\":\"b\",\"markdown\":\"y\"}\r\n{\"ns\":\"docs\",\"type\":\"g\",\"id\":\"\",\"markdown\":\"z\"}\n{\"ns\":\"docs\",\"type\":\"g\",\"id\":\"c\",\"html\":\"<p>\"}";
        for pieces in [1, 3, 17, body.len()] {
            let (r, chunks) = run(BodyFormat::Ndjson, body, &c, pieces);
            let r = r.unwrap();
            assert_eq!(r.valid, 2);
            let lines: Vec<_> = r.rejected.iter().map(|x| (x.line, x.field.clone(), x.forbidden)).collect();
            assert_eq!(lines, vec![(3, None, false), (4, Some("ns".into()), true), (5, Some("id".into()), false)]);
            assert!(r.rejected[0].reason.starts_with("invalid JSON"));
            assert_eq!(chunks.iter().flat_map(|c| c.lines.clone()).collect::<Vec<_>>(), vec![1, 6]);
            assert_eq!(r.success_status(), 207);
            let body: Value = serde_json::from_str(&r.outcome(Mode::Build).unwrap()).unwrap();
            assert_eq!(body["accepted"], 2);
            assert_eq!(body["rejected"], 3);
            assert_eq!(body["rejected_lines"][2]["field"], "id");
        }
    }

    /// #18: a `supersedes` ref into a namespace the token may not write is that line's error;
    /// into one it may, or its own, is fine.
    #[test]
    fn superseding_needs_write_scope_for_the_predecessors_namespace() {
        let c = claims(&["write:docs", "write:blog"]);
        let body = concat!(
            "{\"ns\":\"docs\",\"type\":\"g\",\"id\":\"a2\",\"markdown\":\"x\",\"supersedes\":[\"docs/g/a1\",\"blog/p/b\"]}\n",
            "{\"ns\":\"docs\",\"type\":\"g\",\"id\":\"c2\",\"markdown\":\"x\",\"supersedes\":[\"docs/g/c1\",\"other/g/c0\"]}\n",
        );
        let (r, chunks) = run(BodyFormat::Ndjson, body, &c, 1);
        let r = r.unwrap();
        assert_eq!(r.valid, 1);
        let lines: Vec<_> = r.rejected.iter().map(|x| (x.line, x.field.clone(), x.forbidden)).collect();
        assert_eq!(lines, vec![(2, Some("supersedes".into()), true)]);
        assert!(r.rejected[0].reason.contains("namespace other"), "{}", r.rejected[0].reason);
        assert_eq!(chunks.iter().flat_map(|c| c.lines.clone()).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn json_array_bodies_number_elements() {
        let c = claims(&["write:*"]);
        let body = r#"[{"ns":"a","type":"b","id":"1","css":"x"}, 5, {"ns":"a","type":"b","id":"2","css":"y"}]"#;
        let (r, chunks) = run(BodyFormat::JsonArray, body, &c, 4);
        let r = r.unwrap();
        assert_eq!(r.valid, 2);
        assert_eq!(r.rejected[0].line, 2);
        assert_eq!(chunks[0].lines, vec![1, 3]);
        let (r, _) = run(BodyFormat::JsonArray, "{\"ns\":1}", &c, 1);
        assert!(matches!(r, Err(Stop::Malformed(_))));
    }

    #[test]
    fn outcomes_by_status() {
        let c = claims(&["write:docs"]);
        let (r, _) = run(BodyFormat::Ndjson, "{\"ns\":\"x\",\"type\":\"g\",\"id\":\"a\",\"markdown\":\"x\"}\n", &c, 1);
        assert_eq!(r.unwrap().outcome(Mode::Build).unwrap_err().status, 403);
        let (r, _) = run(BodyFormat::Ndjson, "nope\n", &c, 1);
        assert_eq!(r.unwrap().outcome(Mode::Build).unwrap_err().status, 400);
        let (r, _) = run(BodyFormat::Ndjson, "\n\n", &c, 1);
        let p = r.unwrap().outcome(Mode::Build).unwrap_err();
        assert_eq!((p.status, p.slug), (400, "empty-body"));
        let mut ok = Report { valid: 3, ..Report::default() };
        assert_eq!(ok.success_status(), 200);
        ok.unsent = vec![1, 3];
        let p = ok.outcome(Mode::Bulk).unwrap_err();
        assert_eq!(p.status, 503);
        assert_eq!(p.extensions["unsent_lines"], json!([1, 3]));
        assert_eq!(p.extensions["accepted"], 1);
    }

    #[test]
    fn absorbing_earlier_results_keeps_order_and_totals() {
        let mut early = Report::default();
        for l in [1, 2] {
            early.dedupe(l);
        }
        early.unsent = vec![3, 4];
        early.chunks = 1;
        let mut late = Report { valid: 8, unsent: vec![7], chunks: 2, ..Report::default() };
        late.dedupe(6);
        late.absorb_earlier(early);
        assert_eq!(late.deduped, vec![1, 2, 6]);
        assert_eq!(late.deduped_total, 3);
        assert_eq!(late.unsent, vec![3, 4, 7]);
        assert_eq!(late.chunks, 3);
        assert_eq!(late.accepted(), 5);
    }

    #[test]
    fn too_many_records_stops() {
        let c = claims(&["write:*"]);
        let line = "{\"ns\":\"a\",\"type\":\"b\",\"id\":\"c\",\"css\":\"x\"}\n";
        let (r, _) = run(BodyFormat::Ndjson, &line.repeat(101), &c, 5);
        assert_eq!(r.unwrap_err(), Stop::TooManyRecords);
    }

    #[test]
    fn namespaces_of_valid_records_are_kept_once_and_capped() {
        let c = claims(&["write:docs", "write:blog"]);
        let line = |ns: &str| alloc::format!("{{\"ns\":\"{ns}\",\"type\":\"g\",\"id\":\"a\",\"markdown\":\"x\"}}\n");
        let body: String = ["docs", "blog", "docs", "other", "bad ns"].iter().map(|ns| line(ns)).collect();
        let (r, _) = run(BodyFormat::Ndjson, &body, &c, 3);
        // Refused (scope) and invalid lines wrote nothing, so they name no namespace.
        assert_eq!(r.unwrap().namespaces, vec!["docs".to_string(), "blog".to_string()]);
        let c = claims(&["write:*"]);
        let many: String = (0..=MAX_NAMESPACES).map(|i| line(&alloc::format!("n{i}"))).collect();
        let limits = Limits { max_records: 1_000, chunk_bytes: 1 << 20, ..LIMITS };
        let mut intake = Intake::new(BodyFormat::Ndjson, limits, stamp(), &c);
        let mut out = Vec::new();
        intake.feed(many.as_bytes(), &mut out).unwrap();
        intake.feed(line("more").as_bytes(), &mut out).unwrap();
        assert_eq!(intake.finish(&mut out).unwrap().namespaces, vec!["*".to_string()], "past the cap only write:* may replay");
        assert!(!c.can_write("*") || c.scopes.iter().any(|s| s == "write:*"));
        assert!(!claims(&["write:docs"]).can_write("*"));
    }

    /// Regression (security issue 12, item 13): a stop after records were sent answered with
    /// `valid_before_stop` alone, as if nothing had been written.
    #[test]
    fn a_stopped_answer_says_what_was_sent() {
        let c = claims(&["write:*"]);
        let line = "{\"ns\":\"a\",\"type\":\"b\",\"id\":\"c\",\"css\":\"x\"}";
        // An array cut short: the stop is found at the end, with the report so far.
        let body = alloc::format!("[{line},{line},5,{line},");
        let mut intake = Intake::new(BodyFormat::JsonArray, LIMITS, stamp(), &c);
        let mut out = Vec::new();
        intake.feed(body.as_bytes(), &mut out).unwrap();
        let (mut report, stop) = intake.end(&mut out);
        assert_eq!(stop, Some(Stop::Malformed("JSON array is not terminated")));
        assert!(out.is_empty(), "nothing more is handed out after a stop");
        assert_eq!((report.valid, report.rejected_total), (3, 1));
        // Suppose the worker had sent lines 1-2 in one chunk (line 2 deduped) and failed nothing.
        report.dedupe(2);
        let p = report.clone().stopped(Problem::new(400, "malformed-body", "Malformed body", "cut"), Mode::Build, 2, 2);
        let x = &p.extensions;
        assert_eq!((x["valid_before_stop"].clone(), x["sent_through_line"].clone(), x["accepted"].clone()), (json!(3), json!(2), json!(2)));
        assert_eq!((x["deduped_lines"].clone(), x["rejected_lines"][0]["line"].clone()), (json!([2]), json!(3)));
        assert!(!x.contains_key("unsent_lines"));
        // A chunk that failed: its lines are named, and are not counted accepted.
        report.unsent = vec![1];
        let p = report.stopped(Problem::new(413, "body-too-large", "Payload Too Large", "big"), Mode::Build, 2, 2);
        assert_eq!((p.status, p.extensions["accepted"].clone(), p.extensions["unsent_lines"].clone()), (413, json!(1), json!([1])));
        // Stopped while reading: the report so far, records of the open chunk never sent.
        let mut intake = Intake::new(BodyFormat::Ndjson, LIMITS, stamp(), &c);
        intake.feed(alloc::format!("{line}\n{line}\n").as_bytes(), &mut out).unwrap();
        assert_eq!(intake.into_report().valid, 2);
        assert!(out.is_empty());
    }

    #[test]
    fn request_bound_covers_the_body_deadline_and_two_sends() {
        let retry = RetryPolicy { budget_ms: 20_000, attempt_timeout_ms: 10_000, ..RetryPolicy::default() };
        assert_eq!(request_bound_ms(300_000, &retry), 360_000);
        assert_eq!(request_bound_ms(u64::MAX, &retry), u64::MAX);
    }

    #[test]
    fn content_types() {
        assert_eq!(BodyFormat::from_content_type(Some("application/x-ndjson; charset=utf-8")), Some(BodyFormat::Ndjson));
        assert_eq!(BodyFormat::from_content_type(Some("Application/JSON")), Some(BodyFormat::JsonArray));
        assert_eq!(BodyFormat::from_content_type(Some("text/plain")), None);
        assert_eq!(BodyFormat::from_content_type(None), None);
    }
}
