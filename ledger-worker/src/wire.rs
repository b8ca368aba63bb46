//! The calls' bodies and answers, and the decisions around SQL that `shared::ledger` leaves to the
//! host (which copy a batch leaves per key, read markers, when the alarm runs next). No SQL and
//! no JS here: native `cargo test -p ledger-worker` covers it. The contract is the Calls table of
//! `docs/design/ledger.md`.

use serde_json::{Map, Value};
use shared::ledger::confirm::Applied;
use shared::ledger::pending::{self, CopyAction, Policy};
use shared::ledger::state::{parse_writes, KeyState, Place, Write};
use shared::record::Mode;

/// Why a call's body was refused (answered 400 `bad-ledger-call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCall(pub String);

fn bad(what: &str) -> BadCall {
    BadCall(what.into())
}

/// Settings from the vars (`LEDGER_PENDING_*`), with the design's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Largest pending copy kept, in bytes.
    pub pending_max_bytes: usize,
    /// `LEDGER_PENDING_GRACE_SECS`, in ms.
    pub pending_grace_ms: i64,
    /// `LEDGER_PENDING_MAX_AGE_SECS`, in ms.
    pub pending_max_age_ms: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            pending_max_bytes: pending::DEFAULT_MAX_BYTES,
            pending_grace_ms: pending::DEFAULT_GRACE_MS,
            pending_max_age_ms: pending::DEFAULT_MAX_AGE_MS,
        }
    }
}

impl Settings {
    /// From the vars' text (`None`, empty or not a number: the default).
    pub fn parse(max_bytes: Option<&str>, grace_secs: Option<&str>, max_age_secs: Option<&str>) -> Settings {
        let num = |v: Option<&str>| v.and_then(|s| s.trim().parse::<i64>().ok()).filter(|n| *n >= 0);
        let d = Settings::default();
        Settings {
            pending_max_bytes: num(max_bytes).and_then(|n| usize::try_from(n).ok()).unwrap_or(d.pending_max_bytes),
            pending_grace_ms: num(grace_secs).map_or(d.pending_grace_ms, |s| s.saturating_mul(1000)),
            pending_max_age_ms: num(max_age_secs).map_or(d.pending_max_age_ms, |s| s.saturating_mul(1000)),
        }
    }
}

/// How long a read marker (a looked-up key the ledger has no write of) is kept: longer than any
/// answer serve may keep cached, so a first confirm after the lookup still purges it.
pub const MARKER_TTL_MS: i64 = 86_400_000;
/// The alarm runs at least this far apart (the KV pacing is per key in `plan_kv_writes`).
pub const ALARM_GAP_MS: i64 = 1_000;
/// At most this many KV writes per alarm (the rest in the next one).
pub const MAX_KV_WRITES: usize = 500;
/// How long a completed idempotency answer is kept (24 h).
pub const IDEM_DONE_MS: i64 = 86_400_000;
/// How long an in-flight idempotency key is held when `idem_begin` names no `pending_ms`.
pub const IDEM_PENDING_MS: i64 = 120_000;

/// A mode by name.
pub fn mode_of(s: &str) -> Option<Mode> {
    Mode::ALL.into_iter().find(|m| m.as_str() == s)
}

/// `confirm`'s body: the writes, each with its pending copy (`r`: the record's JSON text, as a
/// string so it is kept byte for byte), and the marks (#18) mixed in: `{"k": key, "succ": true}`
/// names a key a confirmed record supersedes (a mark needs nothing else).
pub struct ConfirmBody {
    pub writes: Vec<Write>,
    pub copies: Vec<Option<String>>,
    pub marks: Vec<String>,
}

/// Parses `confirm`'s body strictly: every element a write (as `check` reads it, plus `r`) or a
/// mark (`succ` true and a string `k`); anything else fails the batch.
pub fn parse_confirm(text: &str) -> Result<ConfirmBody, BadCall> {
    let v: Value = serde_json::from_str(text).map_err(|_| bad("the body is not JSON"))?;
    let list = v.as_array().ok_or_else(|| bad("the body is not a list of writes"))?;
    let mut body = ConfirmBody { writes: Vec::with_capacity(list.len()), copies: Vec::with_capacity(list.len()), marks: Vec::new() };
    for item in list {
        match item.get("succ") {
            None => {}
            Some(Value::Bool(true)) => {
                body.marks.push(item.get("k").and_then(Value::as_str).ok_or_else(|| bad("a mark's k is missing"))?.into());
                continue;
            }
            Some(_) => return Err(bad("succ is not true")),
        }
        body.writes.push(Write::from_value(item).map_err(|e| BadCall(e.to_string()))?);
        body.copies.push(match item.get("r") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("a pending copy (r) is not a string")),
        });
    }
    Ok(body)
}

/// `check`'s body: the writes.
pub fn parse_check(text: &str) -> Result<Vec<Write>, BadCall> {
    parse_writes(text).map_err(|e| BadCall(e.to_string()))
}

/// The final copy action per key of a confirmed batch, applied in batch order: `Some(i)` stores
/// write `i`'s copy, `None` deletes the key's copy; keys left as they were are absent. In order of
/// first appearance (a linear search: a shard's part of a chunk is tens of keys, and a map would
/// link another B-tree into the module).
pub fn copy_actions(writes: &[Write], copies: &[Option<String>], applied: &[Applied], max_bytes: usize) -> Vec<(String, Option<usize>)> {
    let mut out: Vec<(String, Option<usize>)> = Vec::new();
    for (i, (w, a)) in writes.iter().zip(applied).enumerate() {
        let copy = copies.get(i).and_then(Option::as_ref);
        // Ingest sends a copy only for the modes the tenant keeps (preview by default): a write
        // with one is of a kept mode; the ledger checks the size and whether the write changed.
        let policy = Policy { max_bytes, modes: if copy.is_some() { vec![w.state.mode] } else { vec![] } };
        let action = match pending::on_confirm(&policy, w.state.mode, copy.map_or(0, String::len), *a) {
            CopyAction::Put => Some(i),
            CopyAction::Delete => None,
            CopyAction::Keep => continue,
        };
        match out.iter_mut().find(|(k, _)| *k == w.key) {
            Some(slot) => slot.1 = action,
            None => out.push((w.key.clone(), action)),
        }
    }
    out
}

fn object(text: &str) -> Result<Map<String, Value>, BadCall> {
    match serde_json::from_str(text) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(bad("the body is not a JSON object")),
    }
}

fn text_field(o: &Map<String, Value>, name: &str) -> Result<String, BadCall> {
    o.get(name).and_then(Value::as_str).map(String::from).ok_or_else(|| BadCall(format!("{name} is missing or not a string")))
}

/// The key of `lookup` and `idem_abandon`: `{"k": …}`.
pub fn parse_key(text: &str) -> Result<String, BadCall> {
    text_field(&object(text)?, "k")
}

/// What the compactor reports it absorbed from a source: the source table, its mode, the
/// snapshot it followed up to (id as text: Iceberg ids use all 64 bits), its sequence number and
/// commit time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    pub source: String,
    pub mode: Mode,
    pub snapshot_id: String,
    pub seq: i64,
    pub committed_at_ms: i64,
}

/// What `covered` names: the absorbed place per key, and the watermarks.
pub type Covered = (Vec<(String, Place)>, Vec<Watermark>);

/// `covered`'s body: `{"entries":[{"k","t","h"}…],"watermarks":[{"source","mode","snapshot_id","seq","committed_at_ms"}…]}`.
pub fn parse_covered(text: &str) -> Result<Covered, BadCall> {
    let o = object(text)?;
    let mut entries = Vec::new();
    for e in o.get("entries").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        let e = e.as_object().ok_or_else(|| bad("an entry is not an object"))?;
        let ts = e.get("t").and_then(Value::as_i64).ok_or_else(|| bad("an entry's t is missing"))?;
        entries.push((text_field(e, "k")?, Place { ts, dedupe: text_field(e, "h")? }));
    }
    let mut marks = Vec::new();
    for w in o.get("watermarks").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        let w = w.as_object().ok_or_else(|| bad("a watermark is not an object"))?;
        let int = |name: &str| w.get(name).and_then(Value::as_i64).ok_or_else(|| BadCall(format!("a watermark's {name} is missing")));
        let snapshot_id = match w.get("snapshot_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("a watermark's snapshot_id is missing")),
        };
        let mode = w.get("mode").and_then(Value::as_str).and_then(mode_of).ok_or_else(|| bad("a watermark's mode is not a mode"))?;
        marks.push(Watermark {
            source: text_field(w, "source")?,
            mode,
            snapshot_id,
            seq: int("seq")?,
            committed_at_ms: int("committed_at_ms")?,
        });
    }
    Ok((entries, marks))
}

/// `idem_begin`'s body: `{"k": …, "pending_ms": …}` (how long the key is held in flight).
pub fn parse_idem_begin(text: &str) -> Result<(String, i64), BadCall> {
    let o = object(text)?;
    let pending_ms = o.get("pending_ms").and_then(Value::as_i64).filter(|n| *n > 0).unwrap_or(IDEM_PENDING_MS);
    Ok((text_field(&o, "k")?, pending_ms))
}

/// A completed request's answer, kept for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub body_sha256: String,
    pub status: i64,
    pub content_type: String,
    pub body: String,
    /// The namespaces the request wrote (a JSON array of strings, as text).
    pub ns: String,
}

/// `idem_complete`'s body: `{"k","body_sha256","status","content_type","body","ns":[…],"ttl_ms"?}`.
pub fn parse_idem_complete(text: &str) -> Result<(String, Done, i64), BadCall> {
    let o = object(text)?;
    let ns = match o.get("ns") {
        Some(v @ Value::Array(list)) if list.iter().all(Value::is_string) => v.to_string(),
        _ => return Err(bad("ns is missing or not a list of strings")),
    };
    let done = Done {
        body_sha256: text_field(&o, "body_sha256")?,
        status: o.get("status").and_then(Value::as_i64).ok_or_else(|| bad("status is missing"))?,
        content_type: text_field(&o, "content_type")?,
        body: text_field(&o, "body")?,
        ns,
    };
    let ttl = o.get("ttl_ms").and_then(Value::as_i64).filter(|n| *n > 0).unwrap_or(IDEM_DONE_MS);
    Ok((text_field(&o, "k")?, done, ttl))
}

/// `idem_begin`'s answer.
pub fn idem_answer(prior: Option<&Done>, in_flight: bool, rows: u64) -> String {
    let mut m = Map::new();
    match prior {
        Some(d) => {
            m.insert("prior".into(), "done".into());
            m.insert("body_sha256".into(), d.body_sha256.clone().into());
            m.insert("status".into(), d.status.into());
            m.insert("content_type".into(), d.content_type.clone().into());
            m.insert("body".into(), d.body.clone().into());
            m.insert("ns".into(), serde_json::from_str::<Value>(&d.ns).unwrap_or(Value::Array(vec![])));
        }
        None => {
            m.insert("prior".into(), if in_flight { "in_flight" } else { "new" }.into());
        }
    }
    m.insert("rows".into(), rows.into());
    Value::Object(m).to_string()
}

/// `check`'s answer: `{"dup":[…],"rows":0}`.
pub fn check_answer(dup: &[bool]) -> String {
    let mut m = Map::new();
    m.insert("dup".into(), Value::Array(dup.iter().map(|d| Value::Bool(*d)).collect()));
    m.insert("rows".into(), 0.into());
    Value::Object(m).to_string()
}

/// `confirm`'s answer: counts, the stale writes' indices, the keys whose KV generation is due
/// (ingest's colo hint: written keys only, a mark leaves none), marks that moved a stamp, copies
/// stored and deleted, rows written.
pub fn confirm_answer(applied: &[Applied], hinted: &[String], marked: usize, copies: (usize, usize), rows: u64) -> String {
    let count = |want: Applied| applied.iter().filter(|a| **a == want).count();
    let stale: Vec<Value> = applied.iter().enumerate().filter(|(_, a)| **a == Applied::Stale).map(|(i, _)| i.into()).collect();
    let mut m = Map::new();
    m.insert("changed".into(), count(Applied::Changed).into());
    m.insert("same".into(), count(Applied::Same).into());
    m.insert("stale".into(), Value::Array(stale));
    m.insert("hinted".into(), Value::Array(hinted.iter().map(|k| Value::String(k.clone())).collect()));
    m.insert("marked".into(), marked.into());
    m.insert("copies".into(), copies.0.into());
    m.insert("copies_deleted".into(), copies.1.into());
    m.insert("rows".into(), rows.into());
    Value::Object(m).to_string()
}

/// A pending copy as `lookup` answers it: its place and the record's JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyBody {
    pub ts: i64,
    pub dedupe: String,
    pub body: String,
}

/// `lookup`'s answer: `{"state": {…}|null, "pending": {"t","h","r"}|null, "sup": ms, "rows": n}`
/// (the state in [`KeyState::to_json`]'s form, put in as text; `sup` the key's successor stamp,
/// 0 none, #18).
pub fn lookup_answer(state: Option<&KeyState>, copy: Option<&CopyBody>, sup: i64, rows: u64) -> String {
    let state = state.filter(|s| !s.is_marker()).map_or_else(|| "null".to_string(), KeyState::to_json);
    let copy = copy.map_or(Value::Null, |c| {
        let mut o = Map::new();
        o.insert("t".into(), c.ts.into());
        o.insert("h".into(), c.dedupe.clone().into());
        o.insert("r".into(), c.body.clone().into());
        Value::Object(o)
    });
    format!("{{\"state\":{state},\"pending\":{copy},\"sup\":{sup},\"rows\":{rows}}}")
}

/// When the alarm must run next, or `None` when nothing is left: the earliest of the KV plan's
/// next write, the first copy to age out without a watermark of its mode (`copies`: mode and
/// confirm time; copies of a mode with a watermark wait for the next `covered`, which schedules
/// the alarm), the first idempotency row to expire and the first marker to expire (`marker_first_read`:
/// the least of markers' latest read or successor stamp); never sooner
/// than [`ALARM_GAP_MS`] after `now_ms`.
pub fn next_alarm(
    now_ms: i64,
    kv_next: Option<i64>,
    copies: &[(Mode, i64)],
    watermarked: &[Mode],
    max_age_ms: i64,
    idem_first_expiry: Option<i64>,
    marker_first_read: Option<i64>,
) -> Option<i64> {
    let aged = copies.iter().filter(|(m, _)| !watermarked.contains(m)).map(|(_, at)| at.saturating_add(max_age_ms).saturating_add(1)).min();
    let marker = marker_first_read.map(|r| r.saturating_add(MARKER_TTL_MS).saturating_add(1));
    [kv_next, aged, idem_first_expiry, marker].into_iter().flatten().min().map(|at| at.max(now_ms.saturating_add(ALARM_GAP_MS)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ledger::confirm::{self, Entry};
    use shared::ledger::state::writes_to_json;
    use shared::record::Visibility;
    use std::collections::BTreeMap;

    fn write(key: &str, ts: i64, hash: &str, mode: Mode) -> Write {
        Write {
            key: key.into(),
            state: KeyState {
                ts,
                content_hash: hash.into(),
                visibility: Visibility::Public,
                owner_org: "acme".into(),
                owner_user: "alice".into(),
                mode,
                deleted: false,
            },
        }
    }

    #[test]
    fn confirm_bodies_carry_copies_as_text_beside_the_writes() {
        let ws = vec![write("a/t/1", 10, "h1", Mode::Preview), write("a/t/2", 11, "h2", Mode::Build)];
        let mut v: Value = serde_json::from_str(&writes_to_json(&ws)).unwrap();
        v[0]["r"] = Value::String(r#"{"id":"1", "b":2}"#.into());
        let body = parse_confirm(&v.to_string()).unwrap();
        assert_eq!(body.writes, ws);
        assert_eq!(body.copies, vec![Some(r#"{"id":"1", "b":2}"#.to_string()), None], "kept byte for byte");
        assert!(body.marks.is_empty());
        v[1]["r"] = serde_json::json!({"id": 2});
        assert!(parse_confirm(&v.to_string()).is_err(), "a copy must be text");
        assert!(parse_confirm("{}").is_err());
        assert!(parse_confirm(r#"[{"k":"a/t/1"}]"#).is_err());
        assert_eq!(parse_check(&writes_to_json(&ws)).unwrap(), ws);
    }

    #[test]
    fn the_last_change_of_a_key_decides_its_copy() {
        let ws = vec![
            write("a/t/1", 10, "h1", Mode::Preview),
            write("a/t/1", 12, "h2", Mode::Build),
            write("a/t/2", 10, "h1", Mode::Preview),
            write("a/t/2", 9, "h0", Mode::Preview),
            write("a/t/3", 10, "h1", Mode::Preview),
        ];
        let copies = vec![Some("r1".into()), None, Some("r2".into()), Some("r0".into()), Some("x".repeat(100))];
        let applied = confirm::confirm(&BTreeMap::new(), &ws, &[], 0).applied;
        assert_eq!(applied, vec![Applied::Changed, Applied::Changed, Applied::Changed, Applied::Stale, Applied::Changed]);
        let actions = copy_actions(&ws, &copies, &applied, 64);
        let get = |k: &str| actions.iter().find(|(key, _)| key == k).map(|(_, a)| *a);
        assert_eq!(actions.len(), 3);
        assert_eq!(get("a/t/1"), Some(None), "a newer write without a copy deletes it");
        assert_eq!(get("a/t/2"), Some(Some(2)), "a stale write keeps the copy of the newer one");
        assert_eq!(get("a/t/3"), Some(None), "too large: no copy, and an older one goes");
    }

    #[test]
    fn a_marker_is_below_every_write_and_keeps_the_read() {
        let mut shard = BTreeMap::new();
        shard.insert("a/t/1".to_string(), Entry { read_at: 5, ..Entry::new(KeyState::marker()) });
        let w = write("a/t/1", 1, "h", Mode::Build);
        assert_eq!(confirm::check(&shard, std::slice::from_ref(&w)), vec![false]);
        let out = confirm::confirm(&shard, &[w], &[], 0);
        assert_eq!(out.applied, vec![Applied::Changed]);
        assert_eq!(out.kv_due, vec!["a/t/1".to_string()], "the looked-up key gets its generation written");
        assert_eq!(out.upserts.first().map(|(_, e)| e.read_at), Some(5));
        assert_eq!(lookup_answer(Some(&KeyState::marker()), None, 0, 1), r#"{"state":null,"pending":null,"sup":0,"rows":1}"#);
    }

    /// #18: marks ride in `confirm`'s body among the writes, strictly parsed; `lookup` answers
    /// the stamp; `confirm`'s answer counts the marks apart from the writes.
    #[test]
    fn marks_mix_with_writes_and_lookup_answers_the_stamp() {
        let ws = vec![write("a/t/1", 10, "h1", Mode::Preview), write("a/t/2", 11, "h2", Mode::Build)];
        let mut v: Value = serde_json::from_str(&writes_to_json(&ws)).unwrap();
        v[0]["r"] = "copy".into();
        let list = v.as_array_mut().unwrap();
        list.insert(1, serde_json::json!({"k": "old/t/1", "succ": true}));
        list.push(serde_json::json!({"k": "old/t/2", "succ": true}));
        let body = parse_confirm(&v.to_string()).unwrap();
        assert_eq!(body.writes, ws);
        assert_eq!(body.copies, vec![Some("copy".to_string()), None], "copies stay aligned with the writes");
        assert_eq!(body.marks, vec!["old/t/1".to_string(), "old/t/2".to_string()]);
        let only_marks = parse_confirm(r#"[{"k":"p/t/i","succ":true}]"#).unwrap();
        assert_eq!((only_marks.writes.len(), only_marks.marks.len()), (0, 1));
        for bad in
            [r#"[{"succ":true}]"#, r#"[{"k":1,"succ":true}]"#, r#"[{"k":"p/t/i","succ":false}]"#, r#"[{"k":"p/t/i","succ":"yes"}]"#, "[1]"]
        {
            assert!(parse_confirm(bad).is_err(), "{bad}");
        }
        let answer: Value = serde_json::from_str(&confirm_answer(&[Applied::Changed], &[], 2, (0, 0), 3)).unwrap();
        assert_eq!((answer["changed"].as_u64(), answer["marked"].as_u64()), (Some(1), Some(2)));
        let st = write("a/t/1", 10, "h1", Mode::Preview).state;
        let answer: Value = serde_json::from_str(&lookup_answer(Some(&st), None, 1_234, 0)).unwrap();
        assert_eq!((answer["sup"].as_i64(), answer["state"]["t"].as_i64()), (Some(1_234), Some(10)));
        assert_eq!(
            lookup_answer(Some(&KeyState::marker()), None, 77, 0),
            r#"{"state":null,"pending":null,"sup":77,"rows":0}"#,
            "a marker's stamp"
        );
    }

    #[test]
    fn covered_and_idempotency_bodies() {
        let (entries, marks) = parse_covered(
            r#"{"entries":[{"k":"a/t/1","t":5,"h":"d"}],"watermarks":[{"source":"artifacts/preview","mode":"preview","snapshot_id":9223372036854775807,"seq":3,"committed_at_ms":1000}]}"#,
        )
        .unwrap();
        assert_eq!(entries, vec![("a/t/1".to_string(), Place { ts: 5, dedupe: "d".into() })]);
        assert_eq!(marks[0].snapshot_id, "9223372036854775807", "all 64 bits kept");
        assert_eq!(marks[0].mode, Mode::Preview);
        assert!(parse_covered(r#"{"watermarks":[{"source":"s","mode":"nope","snapshot_id":1,"seq":1,"committed_at_ms":1}]}"#).is_err());
        assert_eq!(parse_idem_begin(r#"{"k":"x"}"#).unwrap(), ("x".to_string(), IDEM_PENDING_MS));
        let (k, done, ttl) =
            parse_idem_complete(r#"{"k":"x","body_sha256":"s","status":200,"content_type":"application/json","body":"{}","ns":["acme"]}"#)
                .unwrap();
        assert_eq!((k.as_str(), ttl, done.ns.as_str()), ("x", IDEM_DONE_MS, r#"["acme"]"#));
        let replay: Value = serde_json::from_str(&idem_answer(Some(&done), false, 0)).unwrap();
        assert_eq!(replay["prior"], "done");
        assert_eq!(replay["ns"][0], "acme");
        assert!(parse_idem_complete(r#"{"k":"x","body_sha256":"s","status":200,"content_type":"c","body":"b","ns":[1]}"#).is_err());
        assert!(parse_key("[]").is_err());
    }

    #[test]
    fn the_alarm_runs_only_while_something_is_due_and_never_within_a_second() {
        assert_eq!(next_alarm(1_000, None, &[], &[], 10, None, None), None);
        assert_eq!(next_alarm(1_000, Some(1_200), &[], &[], 10, None, None), Some(2_000));
        assert_eq!(next_alarm(1_000, Some(9_000), &[(Mode::Preview, 3_000)], &[], 1_000, None, None), Some(4_001));
        assert_eq!(next_alarm(1_000, None, &[(Mode::Preview, 3_000)], &[Mode::Preview], 1_000, None, None), None);
        assert_eq!(next_alarm(1_000, None, &[], &[], 10, Some(50_000), Some(7)), Some(50_000));
    }

    #[test]
    fn settings_default_when_unset_or_malformed() {
        assert_eq!(Settings::parse(None, Some(""), Some("x")), Settings::default());
        let s = Settings::parse(Some("10"), Some("2"), Some("3"));
        assert_eq!((s.pending_max_bytes, s.pending_grace_ms, s.pending_max_age_ms), (10, 2_000, 3_000));
    }
}
