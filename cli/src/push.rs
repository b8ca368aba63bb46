//! `artifacts push`: plan (walk or NDJSON) → requests → a few threads sending them → progress,
//! checkpoint and the summary. Every request is settled line by line (docs/ingest.md), so a file
//! is never lost (what was not written is sent again) nor forked (what is sent again is the same
//! bytes under the same key, or only the lines ingest names as unsent).

use crate::checkpoint::{Checkpoint, Finished};
use crate::map::{self, Planned};
use crate::plan::{self, Limits, Line, Packer, Request};
use crate::progress::{clean, Progress};
use crate::retry::{self, Action};
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// What is pushed.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory: walked, one record per id.
    Dir(PathBuf),
    /// NDJSON (`.ndjson`, `.jsonl`): sent as is.
    Ndjson(PathBuf),
    /// One file: one record, id from its name.
    File(PathBuf),
    /// NDJSON on stdin.
    Stdin,
}

/// Everything `push` needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub token: Option<String>,
    pub ns: Option<String>,
    pub ty: Option<String>,
    pub mode: String,
    pub visibility: Option<String>,
    pub source: Source,
    pub slugify: bool,
    pub strict: bool,
    pub dry_run: bool,
    pub quiet: bool,
    pub json: bool,
    pub concurrency: usize,
    pub limits: Limits,
    pub retries: u32,
    pub checkpoint: PathBuf,
    pub progress_every: Duration,
    pub timeout: Duration,
    pub max_wait: Duration,
    /// How long after its start a resumed push waits before sending requests the last run had
    /// sent without an answer (their first copy may still reach ingest).
    pub resume_grace: Duration,
}

/// Exit codes (the issue's contract).
pub const EXIT_OK: u8 = 0;
/// Some lines were rejected (each named with its file and reason).
pub const EXIT_REJECTED: u8 = 1;
/// The push could not finish (or was refused before sending): the checkpoint says where.
pub const EXIT_UNFINISHED: u8 = 2;

/// The records of a source, before they are read: for progress totals and the plan.
struct Input {
    /// Planned records of a walk (read lazily), or lines already in memory.
    records: Vec<Planned>,
    lines: Vec<Line>,
    files: u64,
    bytes: u64,
    skipped: Vec<String>,
}

fn refuse(msg: &str) -> u8 {
    eprintln!("artifacts push: {}", clean(msg));
    EXIT_UNFINISHED
}

fn need_target(o: &Options) -> Result<(String, String), String> {
    let (Some(ns), Some(ty)) = (o.ns.clone(), o.ty.clone()) else {
        return Err("--ns and --type are needed to push files (NDJSON input names them in each line)".into());
    };
    map::check_target(&ns, &ty)?;
    Ok((ns, ty))
}

fn gather(o: &Options) -> Result<Input, String> {
    match &o.source {
        Source::Dir(dir) => {
            need_target(o)?;
            let walk = map::walk(dir, o.slugify, Some(&o.checkpoint)).map_err(|e| format!("cannot walk {}: {e}", dir.display()))?;
            if !walk.refused.is_empty() {
                let list: Vec<String> = walk.refused.iter().map(|(f, r)| format!("  {}: {}", clean(f), clean(r))).collect();
                let hint = if o.slugify { "" } else { " (--slugify maps names that are not path-safe)" };
                return Err(format!("refused {} file(s), nothing sent{hint}:\n{}", walk.refused.len(), list.join("\n")));
            }
            if o.strict && !walk.skipped.is_empty() {
                let list: Vec<String> = walk.skipped.iter().map(|f| format!("  {}", clean(f))).collect();
                return Err(format!("--strict: {} file(s) map to no field, nothing sent:\n{}", walk.skipped.len(), list.join("\n")));
            }
            let files = walk.records.iter().map(|r| r.parts.len() as u64).sum();
            let bytes = walk.records.iter().flat_map(|r| r.parts.iter().map(|p| p.bytes)).sum();
            Ok(Input { records: walk.records, lines: Vec::new(), files, bytes, skipped: walk.skipped })
        }
        Source::File(path) => {
            need_target(o)?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let m = map::map_path(&name, o.slugify).map_err(|e| match e {
                map::Unmapped::NoField => format!("{name}: no field for this extension (.md, .mdx, .html, .js, .mjs, .d.ts, .css, .mdast.json, …; NDJSON as .ndjson or .jsonl)"),
                map::Unmapped::NotPathSafe(r) => format!("{name}: {r} (--slugify maps it)"),
            })?;
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let part = map::Part { field: m.field, kind: m.kind, path: path.clone(), rel: name, bytes };
            Ok(Input { records: vec![Planned { id: m.id, parts: vec![part] }], lines: Vec::new(), files: 1, bytes, skipped: Vec::new() })
        }
        Source::Ndjson(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let lines = plan::ndjson_lines(&text, &name);
            Ok(Input { files: lines.len() as u64, bytes: text.len() as u64, records: Vec::new(), lines, skipped: Vec::new() })
        }
        Source::Stdin => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
            let lines = plan::ndjson_lines(&text, "stdin");
            Ok(Input { files: lines.len() as u64, bytes: text.len() as u64, records: Vec::new(), lines, skipped: Vec::new() })
        }
    }
}

/// What identifies a push for its checkpoint.
fn target(o: &Options) -> String {
    let source = match &o.source {
        Source::Dir(p) | Source::Ndjson(p) | Source::File(p) => p.canonicalize().unwrap_or_else(|_| p.clone()).display().to_string(),
        Source::Stdin => "-".into(),
    };
    let v = json!({
        "url": o.url, "ns": o.ns, "type": o.ty, "mode": o.mode, "visibility": o.visibility, "source": source,
        "max_records": o.limits.max_records, "max_bytes": o.limits.max_bytes,
    });
    v.to_string()
}

/// A line built from a record, or the file that could not be read, why, and its weight.
type Built = Result<Line, (String, String, (u64, u64))>;

/// One unit of work for the senders.
enum Work {
    /// Its index, the request, and whether an earlier run sent it without an answer.
    Send(usize, Request, bool),
    /// Finished in an earlier run (checkpoint): its recorded outcome and its weight.
    Resumed(Finished, (u64, u64)),
    /// A line that could not be built (unreadable file, not UTF-8, not JSON): rejected here.
    Local(String, String, (u64, u64)),
}

/// What the senders report.
enum Event {
    Note(String),
    Finished {
        key: String,
        outcome: Finished,
        weight: (u64, u64),
        interrupted: bool,
        replayed: bool,
    },
    Failed {
        why: String,
    },
    Resumed {
        outcome: Finished,
        weight: (u64, u64),
    },
    Local {
        source: String,
        reason: String,
        weight: (u64, u64),
    },
    /// The producer is done: how many requests it made.
    Planned(usize),
}

/// The HTTP side of one push.
struct Sender {
    agent: ureq::Agent,
    url: String,
    token: Option<String>,
    mode: String,
    retries: u32,
    max_wait: Duration,
    abort: Arc<AtomicBool>,
    events: mpsc::Sender<Event>,
    checkpoint: Arc<Mutex<Checkpoint>>,
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), flate2::Compression::default());
    enc.write_all(body)?;
    enc.finish()
}

fn jitter() -> f64 {
    // Time-seeded jitter is enough to spread concurrent retries; no RNG crate needed.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

impl Sender {
    fn note(&self, msg: String) {
        let _ = self.events.send(Event::Note(msg));
    }

    /// One POST: status, Retry-After, whether ingest replayed a stored answer, and the body
    /// text, or a network error.
    fn post(&self, key: &str, body: &[u8]) -> Result<(u16, Option<String>, bool, String), String> {
        let mut req = self
            .agent
            .post(format!("{}/$.artifacts", self.url.trim_end_matches('/')))
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", "gzip")
            .header("x-artifact-mode", &self.mode)
            .header("x-idempotency-key", key);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut res = req.send(body).map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let ra = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
        let replayed = res.headers().get("x-idempotency-replayed").is_some_and(|v| v.as_bytes() == b"true");
        let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok((status, ra, replayed, text))
    }

    fn sleep(&self, d: Duration) {
        // Sleep in slices so an abort is seen.
        let mut left = d;
        while !left.is_zero() && !self.abort.load(Ordering::Relaxed) {
            let step = left.min(Duration::from_millis(200));
            std::thread::sleep(step);
            left -= step;
        }
    }

    /// Settles every line of `request`: sends it, and whatever an answer leaves unsent, until each
    /// line is accepted, deduped or rejected, and whether ingest answered the whole request from
    /// its stored answer (a replay). `Err` when it cannot finish.
    fn settle(&self, index: usize, request: Request) -> Result<(Finished, bool), String> {
        let mut out = Finished::default();
        let mut replayed_whole = false;
        // Durable before the first byte leaves: a kill from here on leaves the request marked
        // as interrupted, so the next run sends it last.
        let first_key = request.key(&self.mode);
        match self.checkpoint.lock() {
            Ok(mut c) => c.sending(&first_key).map_err(|e| format!("cannot write the checkpoint: {e}"))?,
            Err(_) => return Err("the checkpoint lock is poisoned".into()),
        }
        let mut pending = VecDeque::from([request]);
        while let Some(r) = pending.pop_front() {
            let key = r.key(&self.mode);
            let body = gzip(&r.body()).map_err(|e| format!("gzip: {e}"))?;
            let (mut attempts, mut waits) = (0u32, 0u32);
            loop {
                if self.abort.load(Ordering::Relaxed) {
                    return Err("stopped".into());
                }
                let action = match self.post(&key, &body) {
                    Ok((status, ra, replayed, text)) => {
                        replayed_whole = replayed && key == first_key;
                        retry::decide(status, &text, r.lines.len(), retry::retry_after(ra.as_deref(), self.max_wait))
                    }
                    Err(e) => Action::Again { wait: None, why: format!("network: {e}"), counts_as_attempt: true },
                };
                match action {
                    Action::Done { accepted, deduped, rejected, rejected_count } => {
                        out.accepted += accepted;
                        out.deduped += deduped;
                        add_rejected(&mut out, &r, &rejected, rejected_count);
                        break;
                    }
                    Action::Again { wait, why, counts_as_attempt } => {
                        if counts_as_attempt {
                            attempts += 1;
                            if attempts > self.retries {
                                return Err(format!("request {} gave up after {} attempts: {why}", index + 1, attempts));
                            }
                        } else {
                            waits += 1;
                            if waits > 1000 {
                                return Err(format!("request {} waited {waits} times: {why}", index + 1));
                            }
                        }
                        let wait = wait.unwrap_or_else(|| {
                            retry::backoff(attempts.max(1), Duration::from_millis(500), Duration::from_secs(30), jitter())
                        });
                        self.note(format!("request {}: {why}; again in {:.1} s", index + 1, wait.as_secs_f64()));
                        self.sleep(wait);
                    }
                    Action::Resend { accepted, deduped, rejected, rejected_count, resend, wait, smaller, why } => {
                        out.accepted += accepted;
                        out.deduped += deduped;
                        add_rejected(&mut out, &r, &rejected, rejected_count);
                        let lines: Vec<Line> = resend.iter().filter_map(|l| r.lines.get(l.wrapping_sub(1)).cloned()).collect();
                        self.note(format!("request {}: {why}; sending the {} unsent line(s) again", index + 1, lines.len()));
                        if smaller && lines.len() > 1 {
                            let half = lines.len().div_ceil(2);
                            let limits = Limits { max_records: half, max_bytes: usize::MAX };
                            for (i, sub) in plan::split(lines, limits).into_iter().enumerate() {
                                pending.insert(i, sub);
                            }
                        } else if !lines.is_empty() {
                            pending.push_front(Request { lines });
                        }
                        if let Some(w) = wait {
                            self.sleep(w);
                        }
                        break;
                    }
                    Action::Halve { why } => {
                        if r.lines.len() <= 1 {
                            for l in &r.lines {
                                out.rejected.push((l.source.clone(), why.clone()));
                            }
                        } else {
                            let half = r.lines.len().div_ceil(2);
                            let mut it = r.lines.clone();
                            let rest = it.split_off(half);
                            pending.push_front(Request { lines: rest });
                            pending.push_front(Request { lines: it });
                        }
                        break;
                    }
                    Action::Fatal { why } => return Err(why),
                }
            }
        }
        Ok((out, replayed_whole))
    }
}

/// Maps rejected line numbers of `r` to the files they came from.
fn add_rejected(out: &mut Finished, r: &Request, rejected: &[retry::Rejected], count: u64) {
    for rej in rejected {
        let source = r.lines.get(rej.line.wrapping_sub(1)).map_or_else(|| format!("line {}", rej.line), |l| l.source.clone());
        out.rejected.push((source, rej.reason.clone()));
    }
    let unnamed = count.saturating_sub(rejected.len() as u64);
    if unnamed > 0 {
        out.rejected
            .push((format!("{unnamed} more line(s) of one request"), "rejected; ingest names at most 1,000 lines an answer".into()));
    }
}

/// The totals of a push.
#[derive(Debug, Default)]
struct Totals {
    requests: usize,
    resumed: usize,
    finished: usize,
    /// Requests an earlier run had sent without an answer, sent again in this one.
    interrupted: usize,
    /// Of those, answered from ingest's stored answer (the first copy had been written).
    interrupted_replayed: usize,
    /// Lines of interrupted requests written anew (not deduped, not a replay): repeated rows
    /// (identical content) if the interrupted copy reached ingest too.
    maybe_repeated: u64,
    accepted: u64,
    deduped: u64,
    rejected: Vec<(String, String)>,
    failures: Vec<String>,
}

impl Totals {
    fn add(&mut self, f: &Finished) {
        self.accepted += f.accepted;
        self.deduped += f.deduped;
        self.rejected.extend(f.rejected.iter().cloned());
    }
}

/// Runs `artifacts push`; returns the exit code.
pub fn run(o: &Options) -> u8 {
    let input = match gather(o) {
        Ok(i) => i,
        Err(e) => return refuse(&e),
    };
    let (ns, ty) = (o.ns.clone().unwrap_or_default(), o.ty.clone().unwrap_or_default());
    if o.dry_run {
        return dry_run(o, &input, &ns, &ty);
    }
    let tgt = target(o);
    let mut checkpoint = match Checkpoint::open(&o.checkpoint, &tgt) {
        Ok(c) => c,
        Err(e) => return refuse(&format!("cannot write the checkpoint {}: {e}", o.checkpoint.display())),
    };
    let resumed_before = checkpoint.done.len();
    let tty = std::io::stderr().is_terminal();
    let mut progress = Progress::new(input.files, input.bytes, tty, o.quiet, o.progress_every);
    if resumed_before > 0 {
        progress.note(&format!("resuming from {} ({} request(s) finished before)", o.checkpoint.display(), resumed_before));
    }
    let abort = Arc::new(AtomicBool::new(false));
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    let (work_tx, work_rx) = mpsc::sync_channel::<Work>(o.concurrency.max(1) * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let done = Arc::new(std::mem::take(&mut checkpoint.done));
    let interrupted = std::mem::take(&mut checkpoint.interrupted);
    let checkpoint = Arc::new(Mutex::new(checkpoint));
    let started = std::time::Instant::now();

    // The producer: builds the lines in order, packs them, and hands out requests.
    let producer = {
        let (ev_tx, abort, done) = (ev_tx.clone(), abort.clone(), done.clone());
        let (mode, visibility, limits, grace) = (o.mode.clone(), o.visibility.clone(), o.limits, o.resume_grace);
        let Input { records, lines, .. } = input;
        std::thread::spawn(move || {
            let mut packer = Packer::new(limits);
            let mut count = 0usize;
            // Requests the last run sent without an answer go last: by then their first copy,
            // if it is still on its way, has reached ingest, and the resend is answered from
            // its stored answer (or waits on its 409) instead of racing it.
            let mut deferred = Vec::new();
            let mut hand_out = |r: Request, deferred: &mut Vec<(usize, Request)>| -> bool {
                let key = r.key(&mode);
                let work = match done.get(&key) {
                    Some(f) => Work::Resumed(f.clone(), r.weight()),
                    None if interrupted.contains(&key) => {
                        deferred.push((count, r));
                        count += 1;
                        return true;
                    }
                    None => Work::Send(count, r, false),
                };
                let sent = !abort.load(Ordering::Relaxed) && work_tx.send(work).is_ok();
                count += usize::from(sent);
                sent
            };
            let mut go = true;
            let line_iter: Box<dyn Iterator<Item = Built>> = if records.is_empty() {
                Box::new(lines.into_iter().map(Ok))
            } else {
                Box::new(records.into_iter().map(|rec| {
                    let weight = (rec.parts.len() as u64, rec.parts.iter().map(|p| p.bytes).sum());
                    plan::record_line(&ns, &ty, visibility.as_deref(), &rec).map_err(|(f, r)| (f, r, weight))
                }))
            };
            for item in line_iter {
                match item {
                    Ok(line) => {
                        if let Some(r) = packer.push(line) {
                            go = hand_out(r, &mut deferred);
                        }
                    }
                    Err((file, reason, weight)) => go = work_tx.send(Work::Local(file, reason, weight)).is_ok(),
                }
                if !go {
                    break;
                }
            }
            if go {
                if let Some(r) = packer.take() {
                    go = hand_out(r, &mut deferred);
                }
            }
            if go && !deferred.is_empty() {
                let wait = grace.saturating_sub(started.elapsed());
                let _ = ev_tx.send(Event::Note(format!(
                    "{} request(s) the last run sent without an answer go last, in {:.1} s",
                    deferred.len(),
                    wait.as_secs_f64()
                )));
                std::thread::sleep(wait);
            }
            for (i, r) in deferred {
                if !go || abort.load(Ordering::Relaxed) || work_tx.send(Work::Send(i, r, true)).is_err() {
                    count -= 1;
                    go = false;
                }
            }
            let _ = ev_tx.send(Event::Planned(count));
        })
    };

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(o.timeout))
        .user_agent(concat!("artifacts-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut senders = Vec::new();
    for _ in 0..o.concurrency.max(1) {
        let s = Sender {
            agent: agent.clone(),
            url: o.url.clone(),
            token: o.token.clone(),
            mode: o.mode.clone(),
            retries: o.retries,
            max_wait: o.max_wait,
            abort: abort.clone(),
            events: ev_tx.clone(),
            checkpoint: checkpoint.clone(),
        };
        let rx = work_rx.clone();
        senders.push(std::thread::spawn(move || loop {
            let next = match rx.lock() {
                Ok(guard) => guard.recv(),
                Err(_) => return,
            };
            let Ok(work) = next else { return };
            let ev = match work {
                Work::Resumed(outcome, weight) => Event::Resumed { outcome, weight },
                Work::Local(source, reason, weight) => Event::Local { source, reason, weight },
                Work::Send(i, r, interrupted) => {
                    let (key, weight) = (r.key(&s.mode), r.weight());
                    match s.settle(i, r) {
                        Ok((outcome, replayed)) => Event::Finished { key, outcome, weight, interrupted, replayed },
                        Err(why) => {
                            s.abort.store(true, Ordering::Relaxed);
                            Event::Failed { why }
                        }
                    }
                }
            };
            if s.events.send(ev).is_err() {
                return;
            }
        }));
    }
    drop(ev_tx);

    let mut t = Totals::default();
    let mut planned: Option<usize> = None;
    let mut checkpoint_error = None;
    for ev in ev_rx.iter() {
        match ev {
            Event::Note(m) => progress.note(&m),
            Event::Planned(n) => planned = Some(n),
            Event::Finished { key, outcome, weight, interrupted, replayed } => {
                let recorded = checkpoint
                    .lock()
                    .map_err(|_| "the checkpoint lock is poisoned".to_string())
                    .and_then(|mut c| c.record(&key, &outcome).map_err(|e| e.to_string()));
                if let Err(e) = recorded {
                    checkpoint_error = Some(e);
                    abort.store(true, Ordering::Relaxed);
                }
                if interrupted {
                    t.interrupted += 1;
                    t.interrupted_replayed += usize::from(replayed);
                    if !replayed {
                        t.maybe_repeated += outcome.accepted.saturating_sub(outcome.deduped);
                    }
                }
                t.finished += 1;
                t.add(&outcome);
                progress.advance(weight.0, weight.1);
            }
            Event::Resumed { outcome, weight } => {
                t.resumed += 1;
                t.add(&outcome);
                progress.advance(weight.0, weight.1);
            }
            Event::Local { source, reason, weight } => {
                t.rejected.push((source, reason));
                progress.advance(weight.0, weight.1);
            }
            Event::Failed { why } => {
                if why != "stopped" {
                    t.failures.push(why);
                }
            }
        }
    }
    // Every sender has ended (the channel closed): the producer handed out everything, or a
    // failure stopped it.
    let _ = producer.join();
    for s in senders {
        let _ = s.join();
    }
    progress.finish();
    t.requests = planned.unwrap_or(t.finished + t.resumed);
    if let Some(e) = checkpoint_error {
        t.failures.push(format!("cannot write the checkpoint: {e}"));
    }
    let unfinished = !t.failures.is_empty() || t.finished + t.resumed < t.requests;
    let checkpoint_path = o.checkpoint.clone();
    if !unfinished {
        // Every sender has ended, so this is the last holder.
        if let Ok(Ok(c)) = Arc::try_unwrap(checkpoint).map(Mutex::into_inner) {
            let _ = c.remove();
        }
    }
    summary(o, &t, input.files, &input.skipped, unfinished, &checkpoint_path);
    if unfinished {
        EXIT_UNFINISHED
    } else if t.rejected.is_empty() {
        EXIT_OK
    } else {
        EXIT_REJECTED
    }
}

fn summary(o: &Options, t: &Totals, files: u64, skipped: &[String], unfinished: bool, checkpoint: &Path) {
    let written = t.accepted.saturating_sub(t.deduped);
    if o.json {
        let rejected: Vec<Value> = t.rejected.iter().map(|(s, r)| json!({ "source": s, "reason": r })).collect();
        let v = json!({
            "finished": !unfinished, "files": files, "requests": t.requests, "resumed_requests": t.resumed,
            "accepted": t.accepted, "written": written, "deduped": t.deduped, "rejected": rejected,
            "skipped": skipped, "errors": t.failures,
            "interrupted_requests": t.interrupted, "interrupted_replayed": t.interrupted_replayed, "maybe_repeated_rows": t.maybe_repeated,
            "checkpoint": if unfinished { Some(checkpoint.display().to_string()) } else { None },
        });
        println!("{v}");
        return;
    }
    let target = match (&o.ns, &o.ty) {
        (Some(ns), Some(ty)) => format!("{ns}/{ty}"),
        _ => "NDJSON".into(),
    };
    let resumed = if t.resumed > 0 { format!(" ({} finished before, from the checkpoint)", t.resumed) } else { String::new() };
    let verb = if unfinished { "pushing" } else { "pushed" };
    println!("{verb} {files} file(s) to {target} (mode {}) in {} request(s){resumed}", o.mode, t.requests);
    println!("accepted {} (written {written}, deduped {}), rejected {}", t.accepted, t.deduped, t.rejected.len());
    for (source, reason) in &t.rejected {
        println!("rejected {}: {}", clean(source), clean(reason));
    }
    if !skipped.is_empty() {
        let shown: Vec<String> = skipped.iter().take(20).map(|s| clean(s)).collect();
        let more = if skipped.len() > 20 { format!(", … and {} more", skipped.len() - 20) } else { String::new() };
        println!("skipped {} file(s) with no field: {}{more}", skipped.len(), shown.join(", "));
    }
    if t.interrupted > 0 {
        println!(
            "sent again: {} request(s) the last run sent without an answer ({} answered from ingest's stored answer); {} line(s) of them written anew, which repeat identical rows if the interrupted copy was written too",
            t.interrupted, t.interrupted_replayed, t.maybe_repeated
        );
    }
    for f in &t.failures {
        eprintln!("error: {}", clean(f));
    }
    if unfinished {
        eprintln!(
            "could not finish: {} of {} request(s) done; the checkpoint {} says which; run the same command again to resume",
            t.finished + t.resumed,
            t.requests,
            checkpoint.display()
        );
    }
}

fn dry_run(o: &Options, input: &Input, ns: &str, ty: &str) -> u8 {
    let mut lines = Vec::new();
    let mut rejected = Vec::new();
    if input.records.is_empty() {
        lines.extend(input.lines.iter().cloned());
    } else {
        for rec in &input.records {
            if !o.quiet {
                let fields: Vec<String> = rec.parts.iter().map(|p| format!("{}={}", p.field, clean(&p.rel))).collect();
                println!("{ns}/{ty}/{} {}", rec.id, fields.join(" "));
            }
            match plan::record_line(ns, ty, o.visibility.as_deref(), rec) {
                Ok(l) => lines.push(l),
                Err(e) => rejected.push(e),
            }
        }
    }
    let records = lines.len();
    let requests = plan::split(lines, o.limits);
    let bytes: usize = requests.iter().map(|r| r.body().len()).sum();
    println!(
        "dry run: {} file(s), {records} record(s) in {} request(s), {} of NDJSON before gzip; nothing sent",
        input.files,
        requests.len(),
        crate::progress::human(bytes as u64)
    );
    for (f, r) in &rejected {
        println!("rejected {}: {}", clean(f), clean(r));
    }
    if !input.skipped.is_empty() {
        println!(
            "skipped {} file(s) with no field: {}",
            input.skipped.len(),
            input.skipped.iter().map(|s| clean(s)).collect::<Vec<_>>().join(", ")
        );
    }
    if rejected.is_empty() {
        EXIT_OK
    } else {
        EXIT_REJECTED
    }
}

/// The keys of every request a push of `lines` makes, in order (for tests and `--dry-run`).
#[cfg(test)]
pub fn keys(lines: Vec<Line>, limits: Limits, mode: &str) -> Vec<String> {
    plan::split(lines, limits).iter().map(|r| r.key(mode)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_input_makes_the_same_requests() {
        let lines = plan::ndjson_lines(&(0..25).map(|i| format!("{{\"i\":{i}}}\n")).collect::<String>(), "x");
        let limits = Limits { max_records: 10, max_bytes: 1 << 20 };
        let a = keys(lines.clone(), limits, "build");
        assert_eq!(a.len(), 3);
        assert_eq!(a, keys(lines.clone(), limits, "build"));
        let mut changed = lines;
        if let Some(l) = changed.get_mut(12) {
            l.text = "{\"i\":\"changed\"}".into();
        }
        let b = keys(changed, limits, "build");
        assert_eq!(
            (a.first(), a.get(1) == b.get(1), a.get(2)),
            (b.first(), false, b.get(2)),
            "only the request holding the change gets a new key"
        );
    }

    #[test]
    fn rejected_lines_name_their_files() {
        let lines = vec![
            Line { text: "a".into(), source: "guide/a.md".into(), files: 1, bytes: 1 },
            Line { text: "b".into(), source: "guide/b.md, guide/b.html".into(), files: 2, bytes: 1 },
        ];
        let r = Request { lines };
        let mut out = Finished::default();
        add_rejected(&mut out, &r, &[retry::Rejected { line: 2, reason: "html: bad".into() }], 1);
        assert_eq!(out.rejected, vec![("guide/b.md, guide/b.html".to_string(), "html: bad".to_string())]);
        add_rejected(&mut out, &r, &[], 3);
        assert_eq!(out.rejected.len(), 2);
    }

    /// A scripted ingest: answers each request with the next (status, headers, body) and hands
    /// back what it received (idempotency key, inflated body).
    fn fake_ingest(answers: Vec<(u16, &'static str, String)>) -> (String, std::thread::JoinHandle<Vec<(String, String)>>) {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, headers, body) in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut len, mut key) = (0usize, String::new());
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if let Some(v) = line.strip_prefix("x-idempotency-key:") {
                        key = v.trim().to_string();
                    }
                }
                let mut gz = vec![0; len];
                reader.read_exact(&mut gz).unwrap();
                let mut text = String::new();
                flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
                seen.push((key, text));
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body.as_bytes()).unwrap();
            }
            seen
        });
        (url, handle)
    }

    fn sender(url: String, dir: &Path) -> (Sender, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let checkpoint = Checkpoint::open(&dir.join("ckpt"), "T").unwrap();
        let s = Sender {
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(),
            url,
            token: Some("t".into()),
            mode: "build".into(),
            retries: 2,
            max_wait: Duration::from_secs(1),
            abort: Arc::new(AtomicBool::new(false)),
            events: tx,
            checkpoint: Arc::new(Mutex::new(checkpoint)),
        };
        (s, rx)
    }

    #[test]
    fn a_503_resends_exactly_the_unsent_lines_and_a_429_waits() {
        let dir = std::env::temp_dir().join(format!("artifacts-cli-push-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let unsent = r#"{"type":"https://artifacts.dev/problems/pipeline-unavailable","accepted":2,"deduped":0,"rejected":1,"rejected_lines":[{"line":3,"field":"id","reason":"bad"}],"unsent":1,"unsent_lines":[2]}"#;
        let (url, server) = fake_ingest(vec![
            (429, "retry-after: 1\r\n", r#"{"type":"https://artifacts.dev/problems/rate-limited","detail":"slow down"}"#.into()),
            (503, "retry-after: 0\r\n", unsent.into()),
            (200, "", r#"{"accepted":1,"deduped":1,"rejected":0,"rejected_lines":[]}"#.into()),
        ]);
        let (s, _events) = sender(url, &dir);
        let lines = plan::ndjson_lines("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n", "in.ndjson");
        let request = Request { lines };
        let key = request.key("build");
        let (out, replayed) = s.settle(0, request).unwrap();
        assert_eq!((out.accepted, out.deduped, replayed), (3, 1, false));
        assert_eq!(out.rejected, vec![("in.ndjson:3".to_string(), "id: bad".to_string())]);
        let seen = server.join().unwrap();
        let bodies: Vec<&str> = seen.iter().map(|(_, b)| b.as_str()).collect();
        assert_eq!(
            bodies,
            vec!["{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n", "{\"n\":2}\n"]
        );
        let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.first(), Some(&key.as_str()), "the 429's retry is the same request under the same key");
        assert_eq!(keys.get(1), Some(&key.as_str()));
        assert_ne!(keys.get(2), Some(&key.as_str()), "the unsent line goes in a request of its own");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gzip_round_trips() {
        let body = b"{\"a\":1}\n".repeat(100);
        let z = gzip(&body).unwrap();
        let mut d = flate2::read::GzDecoder::new(&z[..]);
        let mut back = Vec::new();
        d.read_to_end(&mut back).unwrap();
        assert_eq!(back, body);
    }
}
