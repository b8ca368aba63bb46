//! The Durable Object `Ledger`: one per shard (`ledger/<i>`). Each call reads the rows it needs,
//! asks `shared::ledger` what to do and writes that, all in one `transactionSync` (no await
//! inside, so no other call interleaves); only the alarm awaits between its two transactions (the
//! KV writes). Nothing is kept in wasm memory between calls but the debug counters, so the entry
//! shim may reset the instance after a trap without losing state.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use shared::ledger::confirm::{self, Entry};
use shared::ledger::pending::{self, Copy};
use shared::ledger::state::KeyState;
use shared::problem::{Problem, CONTENT_TYPE};
use shared::record::{Mode, Visibility};
use web_sys::{Request, Response};

use crate::js::{self, Arg, Db, ObjectState, Row};
use crate::wire::{self, BadCall, CopyBody, Done, Settings};

/// The calls `POST https://ledger/<call>` reaches; `GET /stats` is the debug counters.
pub const CALLS: [&str; 7] = ["check", "confirm", "lookup", "covered", "idem_begin", "idem_complete", "idem_abandon"];

/// What a call's transaction leaves: its answer and, when work was queued, the time by which the
/// alarm must run.
struct Answer {
    body: String,
    alarm_by: Option<i64>,
}

type Outcome = Result<Answer, BadCall>;

fn answer(body: String, alarm_by: Option<i64>) -> Result<Outcome, String> {
    Ok(Ok(Answer { body, alarm_by }))
}

/// Per object (by id) in this isolate: calls by name, rows written, KV writes. Lost when the
/// isolate goes or the instance is reset; a debug aid for the harness, never a decision.
#[derive(Default, Clone)]
struct Stats {
    calls: BTreeMap<&'static str, u64>,
    rows_written: u64,
    kv_puts: u64,
    kv_put_failures: u64,
}

std::thread_local! {
    static STATS: std::cell::RefCell<BTreeMap<String, Stats>> = Default::default();
}

fn count(id: &str, call: &'static str, rows: u64, kv: (u64, u64)) {
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        let st = s.entry(id.to_string()).or_default();
        *st.calls.entry(call).or_default() += 1;
        st.rows_written += rows;
        st.kv_puts += kv.0;
        st.kv_put_failures += kv.1;
    });
}

fn stats_json(id: &str) -> String {
    let st = STATS.with(|s| s.borrow().get(id).cloned()).unwrap_or_default();
    let mut calls = Map::new();
    for (k, v) in &st.calls {
        calls.insert((*k).into(), (*v).into());
    }
    let mut m = Map::new();
    m.insert("calls".into(), Value::Object(calls));
    m.insert("rows_written".into(), st.rows_written.into());
    m.insert("kv_puts".into(), st.kv_puts.into());
    m.insert("kv_put_failures".into(), st.kv_put_failures.into());
    Value::Object(m).to_string()
}

fn settings(env: &wasm_bindgen::JsValue) -> Settings {
    let v = |name| js::var(env, name);
    Settings::parse(
        v("LEDGER_PENDING_MAX_BYTES").as_deref(),
        v("LEDGER_PENDING_GRACE_SECS").as_deref(),
        v("LEDGER_PENDING_MAX_AGE_SECS").as_deref(),
    )
}

fn problem(p: &Problem) -> Result<Response, wasm_bindgen::JsValue> {
    js::respond(p.status, CONTENT_TYPE, &p.to_json(), &[])
}

/// Runs the migrations (the class's constructor, inside `blockConcurrencyWhile`).
pub fn init(state: &ObjectState) -> Result<(), String> {
    let storage = state.storage();
    let db = Db::of(&storage);
    js::transaction(&storage, move || crate::schema::migrate(&db)).map(|_| ())
}

/// The object's `fetch`: `POST /<call>` with a JSON body, `GET /stats`.
pub async fn fetch(req: Request, state: ObjectState, env: wasm_bindgen::JsValue) -> Result<Response, wasm_bindgen::JsValue> {
    let url = req.url();
    let path = js::path(&url);
    let method = req.method();
    let id = js::object_id(&state);
    if path == "/stats" {
        return match method.as_str() {
            "GET" => js::respond(200, "application/json", &stats_json(&id), &[]),
            _ => problem(&Problem::method_not_allowed("GET")),
        };
    }
    let Some(call) = CALLS.iter().copied().find(|c| path.strip_prefix('/') == Some(c)) else {
        return problem(&Problem::route_not_found(path));
    };
    if method != "POST" {
        return problem(&Problem::method_not_allowed("POST"));
    }
    let body = match js::body_text(&req).await {
        Ok(b) => b,
        Err(e) => return problem(&Problem::new(400, "bad-ledger-call", "Bad Request", e)),
    };
    let now = js::now_ms();
    let storage = state.storage();
    let db = Db::of(&storage);
    let counted = db.clone();
    let s = settings(&env);
    let ran = js::transaction(&storage, move || match call {
        "check" => check(&db, &body),
        "confirm" => confirm(&db, &body, now, &s),
        "lookup" => lookup(&db, &body, now),
        "covered" => covered(&db, &body, now),
        "idem_begin" => idem_begin(&db, &body, now),
        "idem_complete" => idem_complete(&db, &body, now),
        _ => idem_abandon(&db, &body),
    });
    count(&id, call, counted.rows_written(), (0, 0));
    match ran {
        Ok(Ok(a)) => {
            if let Some(at) = a.alarm_by {
                if let Err(e) = js::alarm_by(&storage, at).await {
                    js::console_error(&format!("ledger {call}: setAlarm failed: {e}"));
                }
            }
            js::respond(200, "application/json", &a.body, &[])
        }
        Ok(Err(BadCall(detail))) => problem(&Problem::new(400, "bad-ledger-call", "Bad Request", detail)),
        Err(e) => {
            js::console_error(&format!("ledger {call}: {e}"));
            problem(&Problem::new(500, "ledger-failed", "Internal Server Error", e))
        }
    }
}

const STATE_COLUMNS: &str = "key, ts, hash, vis, org, usr, mode, del, read_at, kv_at";

/// A `state` row (in [`STATE_COLUMNS`] order from `from`) as a key and its entry.
fn entry_of(row: &Row, from: u32) -> Option<(String, Entry)> {
    let key = row.text(from)?;
    let state = match row.int(from + 1) {
        None => wire::marker(),
        Some(ts) => KeyState {
            ts,
            content_hash: row.text(from + 2)?,
            visibility: Visibility::parse(&row.text(from + 3)?)?,
            owner_org: row.text(from + 4)?,
            owner_user: row.text(from + 5)?,
            mode: wire::mode_of(&row.text(from + 6)?)?,
            deleted: row.int(from + 7)? != 0,
        },
    };
    Some((key, Entry { state, read_at: row.int(from + 8).unwrap_or(0), kv_at: row.int(from + 9).unwrap_or(0) }))
}

/// The entries of `keys` (absent keys have no row).
fn entries<'a>(db: &Db, keys: impl Iterator<Item = &'a str>) -> Result<BTreeMap<String, Entry>, String> {
    let list = Value::Array(keys.map(|k| Value::String(k.into())).collect()).to_string();
    let rows = db.run(&format!("SELECT {STATE_COLUMNS} FROM state WHERE key IN (SELECT value FROM json_each(?))"), &[Arg::Text(&list)])?;
    Ok(rows.iter().filter_map(|r| entry_of(r, 0)).collect())
}

fn check(db: &Db, body: &str) -> Result<Outcome, String> {
    let writes = match wire::parse_check(body) {
        Ok(w) => w,
        Err(e) => return Ok(Err(e)),
    };
    let current = entries(db, writes.iter().map(|w| w.key.as_str()))?;
    answer(wire::check_answer(&confirm::check(&current, &writes)), None)
}

fn confirm(db: &Db, body: &str, now: i64, s: &Settings) -> Result<Outcome, String> {
    let (writes, copies) = match wire::parse_confirm(body) {
        Ok(w) => w,
        Err(e) => return Ok(Err(e)),
    };
    let current = entries(db, writes.iter().map(|w| w.key.as_str()))?;
    let outcome = confirm::confirm(&current, &writes);
    for (key, e) in &outcome.upserts {
        let st = &e.state;
        db.run(
            &format!(
                "INSERT INTO state ({STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET \
                 ts = excluded.ts, hash = excluded.hash, vis = excluded.vis, org = excluded.org, usr = excluded.usr, \
                 mode = excluded.mode, del = excluded.del, read_at = excluded.read_at, kv_at = excluded.kv_at"
            ),
            &[
                Arg::Text(key),
                Arg::Int(st.ts),
                Arg::Text(&st.content_hash),
                Arg::Text(st.visibility.as_str()),
                Arg::Text(&st.owner_org),
                Arg::Text(&st.owner_user),
                Arg::Text(st.mode.as_str()),
                Arg::Int(i64::from(st.deleted)),
                Arg::Int(e.read_at),
                Arg::Int(e.kv_at),
            ],
        )?;
    }
    for key in &outcome.kv_due {
        db.run("INSERT INTO kv_due (key) VALUES (?) ON CONFLICT(key) DO NOTHING", &[Arg::Text(key)])?;
    }
    let (mut stored, mut deleted) = (0, 0);
    for (key, action) in wire::copy_actions(&writes, &copies, &outcome.applied, s.pending_max_bytes) {
        match action.and_then(|i| Some((writes.get(i)?, copies.get(i)?.as_deref()?))) {
            Some((w, copy)) => {
                db.run(
                    "INSERT INTO pending (key, ts, dedupe, mode, confirmed_at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE \
                     SET ts = excluded.ts, dedupe = excluded.dedupe, mode = excluded.mode, confirmed_at = excluded.confirmed_at, body = excluded.body",
                    &[
                        Arg::Text(&key),
                        Arg::Int(w.state.ts),
                        Arg::Text(&w.state.dedupe_key()),
                        Arg::Text(w.state.mode.as_str()),
                        Arg::Int(now),
                        Arg::Text(copy),
                    ],
                )?;
                stored += 1;
            }
            None => deleted += db.run("DELETE FROM pending WHERE key = ? RETURNING key", &[Arg::Text(&key)])?.len(),
        }
    }
    let due_now = (!outcome.kv_due.is_empty()).then_some(now);
    let copy_age = (stored > 0).then_some(now.saturating_add(s.pending_max_age_ms).saturating_add(1));
    let alarm = due_now.into_iter().chain(copy_age).min();
    answer(wire::confirm_answer(&outcome.applied, &outcome.kv_due, (stored, deleted), db.rows_written()), alarm)
}

fn lookup(db: &Db, body: &str, now: i64) -> Result<Outcome, String> {
    let key = match wire::parse_key(body) {
        Ok(k) => k,
        Err(e) => return Ok(Err(e)),
    };
    let entry = entries(db, core::iter::once(key.as_str()))?.remove(&key);
    let mut alarm = None;
    match &entry {
        // Serve may now cache an answer under whatever generation KV gives: a read marker makes
        // the first confirm of this key write KV (see wire::marker).
        None => {
            db.run("INSERT INTO state (key, read_at, kv_at) VALUES (?, ?, 0)", &[Arg::Text(&key), Arg::Int(now.max(1))])?;
            alarm = Some(now.saturating_add(wire::MARKER_TTL_MS).saturating_add(1));
        }
        Some(e) => {
            if let Some(read_at) = e.mark_read(now) {
                db.run("UPDATE state SET read_at = ? WHERE key = ?", &[Arg::Int(read_at), Arg::Text(&key)])?;
            }
        }
    }
    let copy = db.run("SELECT ts, dedupe, body FROM pending WHERE key = ?", &[Arg::Text(&key)])?;
    let copy = copy.first().and_then(|r| Some(CopyBody { ts: r.int(0)?, dedupe: r.text(1)?, body: r.text(2)? }));
    answer(wire::lookup_answer(entry.as_ref().map(|e| &e.state), copy.as_ref(), db.rows_written()), alarm)
}

/// The pending copies of `keys`, or of every key when `None`.
fn copies(db: &Db, keys: Option<&str>) -> Result<Vec<Copy>, String> {
    let rows = match keys {
        Some(list) => db.run(
            "SELECT key, ts, dedupe, mode, confirmed_at FROM pending WHERE key IN (SELECT value FROM json_each(?))",
            &[Arg::Text(list)],
        )?,
        None => db.run("SELECT key, ts, dedupe, mode, confirmed_at FROM pending", &[])?,
    };
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Copy {
                key: r.text(0)?,
                place: shared::ledger::state::Place { ts: r.int(1)?, dedupe: r.text(2)? },
                mode: wire::mode_of(&r.text(3)?)?,
                confirmed_at_ms: r.int(4)?,
            })
        })
        .collect())
}

fn covered(db: &Db, body: &str, now: i64) -> Result<Outcome, String> {
    let (entries, marks) = match wire::parse_covered(body) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let keys = Value::Array(entries.iter().map(|(k, _)| Value::String(k.clone())).collect()).to_string();
    let held = copies(db, Some(&keys))?;
    let trimmed = pending::trim_covered(&held, &entries);
    for key in &trimmed {
        db.run("DELETE FROM pending WHERE key = ?", &[Arg::Text(key)])?;
    }
    let mut moved = 0;
    for w in &marks {
        moved += db
            .run(
                "INSERT INTO watermark (source, mode, snapshot_id, seq, committed_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(source) DO UPDATE \
                 SET mode = excluded.mode, snapshot_id = excluded.snapshot_id, seq = excluded.seq, committed_at_ms = excluded.committed_at_ms \
                 WHERE excluded.seq > watermark.seq RETURNING source",
                &[Arg::Text(&w.source), Arg::Text(w.mode.as_str()), Arg::Text(&w.snapshot_id), Arg::Int(w.seq), Arg::Int(w.committed_at_ms)],
            )?
            .len();
    }
    // A newer watermark may age copies out: let the alarm look.
    let left = !db.run("SELECT 1 FROM pending LIMIT 1", &[])?.is_empty();
    let alarm = (moved > 0 && left).then_some(now);
    let mut m = Map::new();
    m.insert("trimmed".into(), trimmed.len().into());
    m.insert("watermarks".into(), moved.into());
    m.insert("rows".into(), db.rows_written().into());
    answer(Value::Object(m).to_string(), alarm)
}

fn idem_begin(db: &Db, body: &str, now: i64) -> Result<Outcome, String> {
    let (k, pending_ms) = match wire::parse_idem_begin(body) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let rows = db.run("SELECT state, body_sha256, status, content_type, body, ns, expires_at FROM idem WHERE k = ?", &[Arg::Text(&k)])?;
    if let Some(r) = rows.first().filter(|r| r.int(6).is_some_and(|at| at > now)) {
        if r.text(0).as_deref() == Some("done") {
            let done = Done {
                body_sha256: r.text(1).unwrap_or_default(),
                status: r.int(2).unwrap_or(200),
                content_type: r.text(3).unwrap_or_default(),
                body: r.text(4).unwrap_or_default(),
                ns: r.text(5).unwrap_or_else(|| "[\"*\"]".into()),
            };
            return answer(wire::idem_answer(Some(&done), false, 0), None);
        }
        return answer(wire::idem_answer(None, true, 0), None);
    }
    // New, or a row past its expiry (a crashed request's, or an expired answer): take it over.
    let expires = now.saturating_add(pending_ms);
    db.run(
        "INSERT INTO idem (k, state, expires_at) VALUES (?, 'pending', ?) ON CONFLICT(k) DO UPDATE SET state = 'pending', \
         body_sha256 = NULL, status = NULL, content_type = NULL, body = NULL, ns = NULL, expires_at = excluded.expires_at",
        &[Arg::Text(&k), Arg::Int(expires)],
    )?;
    answer(wire::idem_answer(None, false, db.rows_written()), Some(expires))
}

fn idem_complete(db: &Db, body: &str, now: i64) -> Result<Outcome, String> {
    let (k, d, ttl) = match wire::parse_idem_complete(body) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let expires = now.saturating_add(ttl);
    db.run(
        "INSERT INTO idem (k, state, body_sha256, status, content_type, body, ns, expires_at) VALUES (?, 'done', ?, ?, ?, ?, ?, ?) \
         ON CONFLICT(k) DO UPDATE SET state = 'done', body_sha256 = excluded.body_sha256, status = excluded.status, \
         content_type = excluded.content_type, body = excluded.body, ns = excluded.ns, expires_at = excluded.expires_at",
        &[
            Arg::Text(&k),
            Arg::Text(&d.body_sha256),
            Arg::Int(d.status),
            Arg::Text(&d.content_type),
            Arg::Text(&d.body),
            Arg::Text(&d.ns),
            Arg::Int(expires),
        ],
    )?;
    answer(format!("{{\"ok\":true,\"rows\":{}}}", db.rows_written()), Some(expires))
}

fn idem_abandon(db: &Db, body: &str) -> Result<Outcome, String> {
    let k = match wire::parse_key(body) {
        Ok(k) => k,
        Err(e) => return Ok(Err(e)),
    };
    db.run("DELETE FROM idem WHERE k = ?", &[Arg::Text(&k)])?;
    answer(format!("{{\"ok\":true,\"rows\":{}}}", db.rows_written()), None)
}

/// The alarm's first transaction: the KV writes to make now (their `kv_at` stored and `kv_due`
/// rows deleted first), the copies aged out, expired idempotency rows and read markers deleted;
/// and when to run next.
/// KV writes to make now (`art:{key}`, value) and the next alarm.
type AlarmPlan = (Vec<(String, String)>, Option<i64>);

fn alarm_plan(db: &Db, now: i64, s: &Settings) -> Result<AlarmPlan, String> {
    let due = db.run(&format!("SELECT {STATE_COLUMNS} FROM kv_due JOIN state USING (key) WHERE state.ts IS NOT NULL"), &[])?;
    let due: BTreeMap<String, Entry> = due.iter().filter_map(|r| entry_of(r, 0)).collect();
    let list: Vec<(String, i64)> = due.iter().map(|(k, e)| (k.clone(), e.kv_at)).collect();
    let plan = confirm::plan_kv_writes(&list, now, wire::MAX_KV_WRITES);
    let mut puts = Vec::with_capacity(plan.write_now.len());
    for key in &plan.write_now {
        db.run("UPDATE state SET kv_at = ? WHERE key = ?", &[Arg::Int(now), Arg::Text(key)])?;
        db.run("DELETE FROM kv_due WHERE key = ?", &[Arg::Text(key)])?;
        if let Some(e) = due.get(key) {
            puts.push((shared::cache_key::state_key_of(key), e.state.kv_state().to_json()));
        }
    }
    // kv_due rows of keys without a confirmed state cannot be written: drop them.
    db.run("DELETE FROM kv_due WHERE key NOT IN (SELECT key FROM state WHERE ts IS NOT NULL)", &[])?;
    let held = copies(db, None)?;
    let marks = db.run("SELECT mode, MAX(committed_at_ms) FROM watermark GROUP BY mode", &[])?;
    let marks: Vec<(Mode, i64)> = marks.iter().filter_map(|r| Some((wire::mode_of(&r.text(0)?)?, r.int(1)?))).collect();
    let aged = pending::trim_aged(&held, &marks, now, s.pending_grace_ms, s.pending_max_age_ms);
    for key in &aged {
        db.run("DELETE FROM pending WHERE key = ?", &[Arg::Text(key)])?;
    }
    db.run("DELETE FROM idem WHERE expires_at <= ?", &[Arg::Int(now)])?;
    db.run("DELETE FROM state WHERE ts IS NULL AND read_at < ?", &[Arg::Int(now.saturating_sub(wire::MARKER_TTL_MS))])?;
    let left: Vec<(Mode, i64)> = held.iter().filter(|c| !aged.contains(&c.key)).map(|c| (c.mode, c.confirmed_at_ms)).collect();
    let watermarked: Vec<Mode> = marks.iter().map(|(m, _)| *m).collect();
    let first = |q: &str| -> Result<Option<i64>, String> { Ok(db.run(q, &[])?.first().and_then(|r| r.int(0))) };
    let idem_first = first("SELECT MIN(expires_at) FROM idem")?;
    let marker_first = first("SELECT MIN(read_at) FROM state WHERE ts IS NULL")?;
    let next = wire::next_alarm(now, plan.next_alarm_ms, &left, &watermarked, s.pending_max_age_ms, idem_first, marker_first);
    Ok((puts, next))
}

/// The object's `alarm`: KV generations of due keys (≤ 1 write per key per second), pending
/// copies aged out, idempotency and marker expiry; then the next alarm, if anything is left.
pub async fn alarm(state: ObjectState, env: wasm_bindgen::JsValue) -> Result<(), String> {
    let id = js::object_id(&state);
    let now = js::now_ms();
    let storage = state.storage();
    let db = Db::of(&storage);
    let planner = db.clone();
    let s = settings(&env);
    let (puts, mut next) = js::transaction(&storage, move || alarm_plan(&planner, now, &s))?;
    let mut failed = Vec::new();
    if !puts.is_empty() {
        let kv = js::KvNamespace::from_env(&env, "ARTIFACT_STATE");
        let started: Vec<_> = puts.iter().map(|(k, v)| kv.as_ref().map(|kv| kv.put_started(k, v))).collect();
        for ((kv_key, _), put) in puts.iter().zip(started) {
            let ok = match put {
                Some(p) => p.await.map_err(|e| js::describe(&e)),
                None => Err("no ARTIFACT_STATE binding".into()),
            };
            if let Err(e) = ok {
                js::console_error(&format!("ledger alarm: KV put {kv_key}: {e}"));
                failed.push(kv_key.strip_prefix("art:").unwrap_or(kv_key).to_string());
            }
        }
    }
    let failures = failed.len() as u64;
    if !failed.is_empty() {
        // The write did not happen: due again, after the one-second pace.
        let requeue = db.clone();
        js::transaction(&storage, move || {
            for key in &failed {
                requeue.run("INSERT INTO kv_due (key) VALUES (?) ON CONFLICT(key) DO NOTHING", &[Arg::Text(key)])?;
            }
            Ok(())
        })?;
        let retry = now.saturating_add(wire::ALARM_GAP_MS);
        next = Some(next.map_or(retry, |n| n.min(retry)));
    }
    count(&id, "alarm", db.rows_written(), (puts.len() as u64 - failures, failures));
    // `alarm_by`, not a plain set: a call during the KV writes may have asked for an earlier one.
    if let Some(at) = next {
        js::alarm_by(&storage, at).await?;
    }
    Ok(())
}
