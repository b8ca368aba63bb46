//! The Durable Object `Ledger`: one per shard (`ledger/<i>`). Each call reads the rows it needs,
//! asks `shared::ledger` what to do and writes that. Every function here is synchronous and runs
//! inside one `transactionSync` the entry opens (an `Err` throws, so its writes roll back); the
//! entry does the awaiting (the request body, `setAlarm`, the alarm's KV puts) and keeps the debug
//! counters. Nothing is kept in wasm memory between calls, so the entry may reset the instance
//! after a trap without losing state.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use shared::ledger::confirm::{self, Entry};
use shared::ledger::pending::{self, Copy};
use shared::ledger::state::KeyState;
use shared::problem::Problem;
use shared::record::{Mode, Visibility};
use wasm_bindgen::JsValue;

use crate::js::{self, Arg, Db, ObjectState, Row};
use crate::wire::{self, BadCall, CopyBody, Done, Settings};

/// The calls `POST https://ledger/<call>` reaches (`GET /stats`, the debug counters, is the entry's).
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

fn settings(env: &JsValue) -> Settings {
    let v = |name| js::var(env, name);
    Settings::parse(
        v("LEDGER_PENDING_MAX_BYTES").as_deref(),
        v("LEDGER_PENDING_GRACE_SECS").as_deref(),
        v("LEDGER_PENDING_MAX_AGE_SECS").as_deref(),
    )
}

fn num(n: Option<i64>) -> JsValue {
    n.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

/// What the entry turns into the object's response and counts: `[status, body, alarm_by, allow,
/// call, rows]` (`alarm_by`: the time by which the alarm must run, or null; `allow`: the `Allow`
/// header of a 405, or null; `call`: the call's name when one ran, or null; `rows`: rows written).
fn reply(status: u16, body: &str, alarm_by: Option<i64>, allow: Option<&str>, call: Option<&str>, rows: u64) -> js_sys::Array {
    let out = js_sys::Array::new();
    out.push(&JsValue::from(status));
    out.push(&JsValue::from_str(body));
    out.push(&num(alarm_by));
    out.push(&allow.map_or(JsValue::NULL, JsValue::from_str));
    out.push(&call.map_or(JsValue::NULL, JsValue::from_str));
    out.push(&JsValue::from_f64(rows as f64));
    out
}

fn problem(p: &Problem, call: Option<&str>) -> js_sys::Array {
    reply(p.status, &p.to_json(), None, p.extensions.get("allow").and_then(Value::as_str), call, 0)
}

/// Runs the migrations (the class's constructor, inside `blockConcurrencyWhile`).
pub fn init(state: &ObjectState) -> Result<(), String> {
    crate::schema::migrate(&Db::of(&state.storage())).map(|_| ())
}

/// The object's `fetch` after the entry read the body: `POST /<call>` with a JSON body (the entry
/// answers `GET /stats` itself from what it counted). `Err` (a storage failure) throws inside the
/// entry's transaction, rolling it back.
pub fn call(state: &ObjectState, env: &JsValue, path: &str, method: &str, body: &str) -> Result<js_sys::Array, String> {
    let Some(call) = CALLS.iter().copied().find(|c| path.strip_prefix('/') == Some(c)) else {
        return Ok(problem(&Problem::route_not_found(path), None));
    };
    if method != "POST" {
        return Ok(problem(&Problem::method_not_allowed("POST"), None));
    }
    let now = js::now_ms();
    let db = Db::of(&state.storage());
    let ran = match call {
        "check" => check(&db, body),
        "confirm" => confirm(&db, body, now, &settings(env)),
        "lookup" => lookup(&db, body, now),
        "covered" => covered(&db, body, now),
        "idem_begin" => idem_begin(&db, body, now),
        "idem_complete" => idem_complete(&db, body, now),
        _ => idem_abandon(&db, body),
    };
    Ok(match ran? {
        Ok(a) => reply(200, &a.body, a.alarm_by, None, Some(call), db.rows_written()),
        Err(BadCall(detail)) => problem(&Problem::new(400, "bad-ledger-call", "Bad Request", detail), Some(call)),
    })
}

/// The `state` columns in the order [`entry_of`] reads them (a macro so queries are `concat!`ed
/// at compile time, not formatted per call).
macro_rules! state_columns {
    () => {
        "key, ts, hash, vis, org, usr, mode, del, read_at, kv_at, sup"
    };
}

/// A `state` row (in `state_columns!` order from `from`) as a key and its entry.
fn entry_of(row: &Row, from: u32) -> Option<(String, Entry)> {
    let key = row.text(from)?;
    let state = match row.int(from + 1) {
        None => KeyState::marker(),
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
    let int = |i: u32| row.int(from + i).unwrap_or(0);
    Some((key, Entry { state, read_at: int(8), kv_at: int(9), successor_at: int(10) }))
}

/// The entries of `keys` (absent keys have no row).
fn entries<'a>(db: &Db, keys: impl Iterator<Item = &'a str>) -> Result<BTreeMap<String, Entry>, String> {
    let list = Value::Array(keys.map(|k| Value::String(k.into())).collect()).to_string();
    let rows =
        db.run(concat!("SELECT ", state_columns!(), " FROM state WHERE key IN (SELECT value FROM json_each(?))"), &[Arg::Text(&list)])?;
    // Inserted one by one: `collect` into a map sorts first, linking a sort into the module.
    let mut out = BTreeMap::new();
    for (k, e) in rows.iter().filter_map(|r| entry_of(r, 0)) {
        out.insert(k, e);
    }
    Ok(out)
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
    let wire::ConfirmBody { writes, copies, marks } = match wire::parse_confirm(body) {
        Ok(w) => w,
        Err(e) => return Ok(Err(e)),
    };
    let current = entries(db, writes.iter().map(|w| w.key.as_str()).chain(marks.iter().map(String::as_str)))?;
    let outcome = confirm::confirm(&current, &writes, &marks, now);
    let mut marker_alarm = None;
    for (key, e) in &outcome.upserts {
        let st = &e.state;
        if st.is_marker() {
            // A mark on a key without a confirmed write: a marker row holding the stamp (its
            // other columns stay NULL; read_at and kv_at as they were).
            db.run(
                "INSERT INTO state (key, sup) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET sup = excluded.sup",
                &[Arg::Text(key), Arg::Int(e.successor_at)],
            )?;
            marker_alarm = Some(now.saturating_add(wire::MARKER_TTL_MS).saturating_add(1));
            continue;
        }
        db.run(
            concat!(
                "INSERT INTO state (",
                state_columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET \
                 ts = excluded.ts, hash = excluded.hash, vis = excluded.vis, org = excluded.org, usr = excluded.usr, \
                 mode = excluded.mode, del = excluded.del, read_at = excluded.read_at, kv_at = excluded.kv_at, sup = excluded.sup"
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
                Arg::Int(e.successor_at),
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
    let alarm = due_now.into_iter().chain(copy_age).chain(marker_alarm).min();
    // The colo hint names written keys only: ingest knows no state of a key it only marked.
    let hinted: Vec<String> = outcome.kv_due.iter().filter(|k| writes.iter().any(|w| w.key == **k)).cloned().collect();
    answer(wire::confirm_answer(&outcome.applied, &hinted, outcome.marked, (stored, deleted), db.rows_written()), alarm)
}

fn lookup(db: &Db, body: &str, now: i64) -> Result<Outcome, String> {
    let key = match wire::parse_key(body) {
        Ok(k) => k,
        Err(e) => return Ok(Err(e)),
    };
    let rows = db.run(concat!("SELECT ", state_columns!(), " FROM state WHERE key = ?"), &[Arg::Text(&key)])?;
    let entry = rows.first().and_then(|r| entry_of(r, 0)).map(|(_, e)| e);
    let mut alarm = None;
    match &entry {
        // Serve may now cache an answer under whatever generation KV gives: a read marker makes
        // the first confirm of this key write KV (see KeyState::marker).
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
    let sup = entry.as_ref().map_or(0, |e| e.successor_at);
    answer(wire::lookup_answer(entry.as_ref().map(|e| &e.state), copy.as_ref(), sup, db.rows_written()), alarm)
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
    // Due keys with a confirmed write, or a marker holding a successor stamp (#18: `{"g":0,"s"}`).
    let due = db.run(
        concat!("SELECT ", state_columns!(), " FROM kv_due JOIN state USING (key) WHERE state.ts IS NOT NULL OR state.sup > 0"),
        &[],
    )?;
    let mut due_map = BTreeMap::new();
    for (k, e) in due.iter().filter_map(|r| entry_of(r, 0)) {
        due_map.insert(k, e);
    }
    let due = due_map;
    let list: Vec<(String, i64)> = due.iter().map(|(k, e)| (k.clone(), e.kv_at)).collect();
    let plan = confirm::plan_kv_writes(&list, now, wire::MAX_KV_WRITES);
    let mut puts = Vec::with_capacity(plan.write_now.len());
    for key in &plan.write_now {
        db.run("UPDATE state SET kv_at = ? WHERE key = ?", &[Arg::Int(now), Arg::Text(key)])?;
        db.run("DELETE FROM kv_due WHERE key = ?", &[Arg::Text(key)])?;
        if let Some(e) = due.get(key) {
            puts.push((shared::cache_key::state_key_of(key), e.kv_state().to_json()));
        }
    }
    // kv_due rows of keys without a confirmed state or a stamp cannot be written: drop them.
    db.run("DELETE FROM kv_due WHERE key NOT IN (SELECT key FROM state WHERE ts IS NOT NULL OR sup > 0)", &[])?;
    let held = copies(db, None)?;
    let marks = db.run("SELECT mode, MAX(committed_at_ms) FROM watermark GROUP BY mode", &[])?;
    let marks: Vec<(Mode, i64)> = marks.iter().filter_map(|r| Some((wire::mode_of(&r.text(0)?)?, r.int(1)?))).collect();
    let aged = pending::trim_aged(&held, &marks, now, s.pending_grace_ms, s.pending_max_age_ms);
    for key in &aged {
        db.run("DELETE FROM pending WHERE key = ?", &[Arg::Text(key)])?;
    }
    db.run("DELETE FROM idem WHERE expires_at <= ?", &[Arg::Int(now)])?;
    // A marker goes a TTL after its last read and its successor stamp, whichever is later.
    let ttl_ago = now.saturating_sub(wire::MARKER_TTL_MS);
    db.run("DELETE FROM state WHERE ts IS NULL AND read_at < ? AND sup < ?", &[Arg::Int(ttl_ago), Arg::Int(ttl_ago)])?;
    let left: Vec<(Mode, i64)> = held.iter().filter(|c| !aged.contains(&c.key)).map(|c| (c.mode, c.confirmed_at_ms)).collect();
    let watermarked: Vec<Mode> = marks.iter().map(|(m, _)| *m).collect();
    let first = |q: &str| -> Result<Option<i64>, String> { Ok(db.run(q, &[])?.first().and_then(|r| r.int(0))) };
    let idem_first = first("SELECT MIN(expires_at) FROM idem")?;
    let marker_first = first("SELECT MIN(MAX(read_at, sup)) FROM state WHERE ts IS NULL")?;
    let next = wire::next_alarm(now, plan.next_alarm_ms, &left, &watermarked, s.pending_max_age_ms, idem_first, marker_first);
    Ok((puts, next))
}

/// The object's `alarm`, before the KV writes: `[[[kv key, value]…], next alarm or null, rows
/// written]` (see [`alarm_plan`]). The entry then puts the values and calls [`alarm_done`].
pub fn alarm(state: &ObjectState, env: &JsValue) -> Result<js_sys::Array, String> {
    let db = Db::of(&state.storage());
    let (puts, next) = alarm_plan(&db, js::now_ms(), &settings(env))?;
    let list = js_sys::Array::new();
    for (k, v) in &puts {
        let pair = js_sys::Array::new();
        pair.push(&JsValue::from_str(k));
        pair.push(&JsValue::from_str(v));
        list.push(&pair);
    }
    let out = js_sys::Array::new();
    out.push(&list);
    out.push(&num(next));
    out.push(&JsValue::from_f64(db.rows_written() as f64));
    Ok(out)
}

/// After the alarm's KV writes: the keys whose put failed (`art:{key}`) are due again. `[time of
/// the retry alarm (after the one-second pace) or null, rows written]`.
pub fn alarm_done(state: &ObjectState, failed: &[String]) -> Result<js_sys::Array, String> {
    let db = Db::of(&state.storage());
    for kv_key in failed {
        let key = kv_key.strip_prefix("art:").unwrap_or(kv_key);
        db.run("INSERT INTO kv_due (key) VALUES (?) ON CONFLICT(key) DO NOTHING", &[Arg::Text(key)])?;
    }
    let out = js_sys::Array::new();
    out.push(&num((!failed.is_empty()).then(|| js::now_ms().saturating_add(wire::ALARM_GAP_MS))));
    out.push(&JsValue::from_f64(db.rows_written() as f64));
    Ok(out)
}
