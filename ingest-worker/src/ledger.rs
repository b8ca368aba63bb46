//! The ledger (#17, `docs/design/ledger.md`) as ingest calls it: the Durable Object namespace
//! `LEDGER` (one object per shard, `ledger/<i>`, `i = shard_of(key, LEDGER_SHARDS)`), each call a
//! `stub.fetch("https://ledger/<call>", {method: "POST", body})` answered 200 with JSON, and the
//! outbox Queue `LEDGER_OUTBOX` that takes a confirm the ledger could not.
//!
//! Per chunk: [`writes`] once, [`check`] (one call per shard touched, all in flight at once)
//! before `send()`, [`confirm`] (the same shards, only the records sent, plus the shards of the
//! refs they supersede: [`marks`]) after it.

use js_sys::Promise;
use serde_json::{json, Value};
use shared::ledger::shard;
use shared::record::Mode;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::js::{self, Env};

/// Largest outbox message body (a Queue message is at most 128 KB).
const OUTBOX_MAX_BYTES: usize = 120_000;
/// Pause before the second try of a confirm.
const CONFIRM_RETRY_MS: u64 = 200;

#[wasm_bindgen]
extern "C" {
    /// A Durable Object namespace binding.
    #[derive(Clone)]
    pub type Namespace;

    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, id: &JsValue) -> Result<Stub, JsValue>;

    type Stub;

    #[wasm_bindgen(method, catch)]
    fn fetch(this: &Stub, url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    /// `caches.default.put(url, response)`: this colo's cache (the colo hint).
    #[wasm_bindgen(catch, js_namespace = ["caches", "default"], js_name = put)]
    fn cache_put(url: &str, response: &web_sys::Response) -> Result<Promise, JsValue>;

    /// A Queue producer binding (`send(body)`).
    #[derive(Clone)]
    pub type Outbox;

    #[wasm_bindgen(method, catch)]
    fn send(this: &Outbox, body: &str) -> Result<Promise, JsValue>;
}

/// The ledger's bindings and settings.
#[derive(Clone)]
pub struct Ledger {
    ns: Namespace,
    shards: u32,
    outbox: Option<Outbox>,
    /// `LEDGER_PENDING_MAX_BYTES`: the largest record sent with its pending copy.
    pending_max: usize,
}

impl Ledger {
    /// `LEDGER` (required), `LEDGER_SHARDS`, `LEDGER_OUTBOX`, `LEDGER_PENDING_MAX_BYTES`.
    pub fn from_env(env: &Env) -> Option<Ledger> {
        let ns = js::binding(env, "LEDGER")?.unchecked_into();
        let shards = shard::parse_shards(js::var(env, "LEDGER_SHARDS").as_deref());
        let outbox = js::binding(env, "LEDGER_OUTBOX").map(JsCast::unchecked_into);
        let pending_max = js::var(env, "LEDGER_PENDING_MAX_BYTES").and_then(|v| v.trim().parse().ok()).unwrap_or(65_536);
        Some(Ledger { ns, shards, outbox, pending_max })
    }

    /// Starts `call` on `shard` (the request is in flight once this returns).
    fn start(&self, shard: u32, call: &str, body: &str) -> Result<Promise, String> {
        let id = self.ns.id_from_name(&shard::object_name(shard)).map_err(|e| js::describe(&e))?;
        let stub = self.ns.get(&id).map_err(|e| js::describe(&e))?;
        let init = js::object(&[("method", "POST".into()), ("body", body.into())]);
        stub.fetch(&format!("https://ledger/{call}"), &init).map_err(|e| js::describe(&e))
    }

    /// The answer of a started call: its JSON when 200, else an error naming the status.
    async fn finish(started: Result<Promise, String>) -> Result<Value, String> {
        let res: web_sys::Response = js::settle(started.map_err(|e| JsValue::from_str(&e))).await?.unchecked_into();
        let text = js::settle(res.text()).await?.as_string().unwrap_or_default();
        if res.status() != 200 {
            return Err(format!("ledger answered {}: {text}", res.status()));
        }
        serde_json::from_str(&text).map_err(|_| "ledger answer is not JSON".into())
    }

    /// One call to the shard of `key` (idempotency).
    pub async fn call_key(&self, key: &str, call: &str, body: &Value) -> Result<Value, String> {
        Ledger::finish(self.start(shard::shard_of(key, self.shards), call, &body.to_string())).await
    }

    /// The chunk's records grouped by shard: what `shared::ledger::batch::by_shard` gives (shards
    /// ascending, record order kept), by one pass per shard instead of its stable sort, whose
    /// merge sort costs ingest's budget more than the loop costs a chunk.
    pub fn groups(&self, keys: &[String]) -> Vec<(u32, Vec<usize>)> {
        groups(keys, self.shards)
    }
}

fn groups(keys: &[String], shards: u32) -> Vec<(u32, Vec<usize>)> {
    let tags: Vec<u32> = keys.iter().map(|k| shard::shard_of(k, shards)).collect();
    (0..shards)
        .map(|s| (s, tags.iter().enumerate().filter(|(_, t)| **t == s).map(|(i, _)| i).collect::<Vec<usize>>()))
        .filter(|(_, idx)| !idx.is_empty())
        .collect()
}

/// Each record's write on the wire (`{"k","t","c","v","o","u","m","d"}`), `None` for a record
/// whose JSON lacks a field (never, for records the intake made); with its pending copy `r` (the
/// record JSON as a string) when the request keeps copies (`copies`: preview, or a mode in the
/// tenant's `pending_modes`) and it fits `LEDGER_PENDING_MAX_BYTES`.
pub fn writes(ledger: &Ledger, records: &[String], keys: &[String], mode: Mode, copies: bool) -> Vec<Option<Value>> {
    records
        .iter()
        .zip(keys)
        .map(|(rec, key)| {
            let v: Value = serde_json::from_str(rec).ok()?;
            let s = |f: &str| v.get(f).and_then(Value::as_str).map(String::from);
            let mut w = json!({
                "k": key, "t": v.get("ts")?.as_i64()?, "c": s("content_hash")?, "v": s("visibility")?,
                "o": s("owner_org")?, "u": s("owner_user")?, "m": mode.as_str(), "d": v.get("deleted")?.as_bool()?,
            });
            if copies && rec.len() <= ledger.pending_max {
                if let Some(o) = w.as_object_mut() {
                    o.insert("r".into(), Value::String(rec.clone()));
                }
            }
            Some(w)
        })
        .collect()
}

/// Appends the marks (#18) of the records `sent` says were sent: `{"k": ref, "succ": true}` per
/// ref in a record's `supersedes`, with the ref in `keys`, so [`Ledger::groups`] puts each in the
/// confirm of its ref's shard (a shard with only marks gets one too) and the outbox carries them.
pub fn marks(records: &[String], sent: impl Fn(usize) -> bool, keys: &mut Vec<String>, writes: &mut Vec<Option<Value>>) {
    for (_, rec) in records.iter().enumerate().filter(|(i, _)| sent(*i)) {
        // Parsed again only when it may list any (a scan is much cheaper than a parse; a byte
        // window, not `str::contains`, whose substring searcher costs ingest ~1.1 KB of gzip).
        if !rec.as_bytes().windows(12).any(|w| w == b"\"supersedes\"") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(rec) else { continue };
        for r in v.get("supersedes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            keys.push(r.into());
            writes.push(Some(json!({ "k": r, "succ": true })));
        }
    }
}

/// The body of `idx`'s writes; `copies` false leaves the pending copies out (check).
fn body(writes: &[Option<Value>], idx: &[usize], copies: bool) -> Value {
    Value::Array(
        idx.iter()
            .filter_map(|i| writes.get(*i)?.as_ref())
            .map(|w| {
                let mut w = w.clone();
                if !copies {
                    if let Some(o) = w.as_object_mut() {
                        o.remove("r");
                    }
                }
                w
            })
            .collect(),
    )
}

/// `check` per shard, all in flight at once: whether each record duplicates its key's confirmed
/// state. A shard that fails answers "not a duplicate" for its records (send everything).
pub async fn check(ledger: &Ledger, groups: &[(u32, Vec<usize>)], writes: &[Option<Value>]) -> Vec<bool> {
    let mut dup = vec![false; writes.len()];
    let started: Vec<_> = groups.iter().map(|(s, idx)| ledger.start(*s, "check", &body(writes, idx, false).to_string())).collect();
    for ((_, idx), call) in groups.iter().zip(started) {
        match Ledger::finish(call).await {
            Ok(answer) => {
                let flags = answer.get("dup").and_then(Value::as_array).cloned().unwrap_or_default();
                // Only records that have a write are in the body, in order.
                let sent = idx.iter().filter(|i| writes.get(**i).is_some_and(Option::is_some));
                for (i, f) in sent.zip(flags) {
                    if let Some(d) = dup.get_mut(*i) {
                        *d = f.as_bool().unwrap_or(false);
                    }
                }
            }
            Err(e) => js::console_error(&format!("ledger check failed (dedupe skipped): {e}")),
        }
    }
    dup
}

/// `confirm` per shard for the records `sent` says were sent, all in flight at once; a shard that
/// fails twice has its body put on the outbox. Answers how many records were deferred so.
pub async fn confirm(ledger: &Ledger, groups: &[(u32, Vec<usize>)], writes: &[Option<Value>], sent: impl Fn(usize) -> bool) -> u64 {
    let mut deferred = 0;
    let calls: Vec<(u32, Vec<usize>, String)> = groups
        .iter()
        .map(|(s, idx)| {
            let idx: Vec<usize> = idx.iter().copied().filter(|i| sent(*i) && writes.get(*i).is_some_and(Option::is_some)).collect();
            let text = body(writes, &idx, true).to_string();
            (*s, idx, text)
        })
        .filter(|(_, idx, _)| !idx.is_empty())
        .collect();
    let started: Vec<_> = calls.iter().map(|(s, _, text)| ledger.start(*s, "confirm", text)).collect();
    for ((s, idx, text), call) in calls.iter().zip(started) {
        let mut answer = Ledger::finish(call).await;
        if answer.is_err() {
            js::sleep(CONFIRM_RETRY_MS).await;
            answer = Ledger::finish(ledger.start(*s, "confirm", text)).await;
        }
        match answer {
            Ok(a) => {
                for key in a.get("hinted").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                    hint(writes, idx, key).await;
                }
            }
            Err(e) => {
                js::console_error(&format!("ledger confirm failed, deferred to the outbox: {e}"));
                // Records only: a mark (no `t`) is no record of the request.
                deferred += idx.iter().filter(|i| writes.get(**i).and_then(|w| w.as_ref()?.get("t")).is_some()).count() as u64;
                defer(ledger, writes, idx).await;
            }
        }
    }
    deferred
}

/// The colo hint (design "Purge" 5): a key the ledger queued a KV generation write for (a reader
/// may hold a cached answer) gets `{"g","h"}` of its newest write in this batch in this colo's
/// `caches.default` at `https://artifact-cache.internal/gen/{key}` for 60 s, so a reader here
/// sees the write before the ledger's alarm reaches KV. Best effort: a failed put is logged.
async fn hint(writes: &[Option<Value>], idx: &[usize], key: &str) {
    let text = |w: &Value, f: &str| w.get(f).and_then(Value::as_str).unwrap_or_default().to_string();
    let newest = idx
        .iter()
        .filter_map(|i| writes.get(*i)?.as_ref())
        .filter(|w| w.get("k").and_then(Value::as_str) == Some(key))
        .map(|w| {
            let deleted = w.get("d").and_then(Value::as_bool).unwrap_or(false);
            let dedupe = shared::record::dedupe_key_of(&text(w, "c"), &text(w, "v"), deleted, &text(w, "o"), &text(w, "u"));
            (w.get("t").and_then(Value::as_i64).unwrap_or(0), dedupe)
        })
        .max();
    let Some((ts, dedupe)) = newest else { return };
    let body = shared::state::State::confirmed(&dedupe, ts).to_json();
    let put = crate::http::respond(200, "application/json", &body, &[("cache-control", "max-age=60".into())])
        .and_then(|res| cache_put(&format!("https://artifact-cache.internal/gen/{key}"), &res));
    if let Err(e) = js::settle(put).await {
        js::console_error(&format!("colo hint for {key} failed: {e}"));
    }
}

/// Puts the confirm of `idx` on the outbox in messages ≤ [`OUTBOX_MAX_BYTES`] (pending copies
/// left out of a write too large alone); a failed send is logged, and the state catches up at the
/// keys' next write.
async fn defer(ledger: &Ledger, writes: &[Option<Value>], idx: &[usize]) {
    let Some(outbox) = &ledger.outbox else {
        js::console_error("no LEDGER_OUTBOX binding: a deferred confirm is lost");
        return;
    };
    let mut messages: Vec<String> = Vec::new();
    let mut part: Vec<String> = Vec::new();
    let mut size = 2;
    for i in idx {
        let Some(Some(w)) = writes.get(*i) else { continue };
        let mut text = w.to_string();
        if text.len() + 2 > OUTBOX_MAX_BYTES {
            text = body(writes, &[*i], false).get(0).map(Value::to_string).unwrap_or_default();
        }
        if size + text.len() + 1 > OUTBOX_MAX_BYTES && !part.is_empty() {
            messages.push(format!("[{}]", part.join(",")));
            part.clear();
            size = 2;
        }
        size += text.len() + 1;
        part.push(text);
    }
    if !part.is_empty() {
        messages.push(format!("[{}]", part.join(",")));
    }
    for m in messages {
        if let Err(e) = js::settle(outbox.send(&m)).await {
            js::console_error(&format!("LEDGER_OUTBOX send failed: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_are_by_shard() {
        for shards in [1, 2, 16, 64] {
            let keys: Vec<String> = (0..500).map(|i| format!("ns/t/{}", i % 37)).collect();
            assert_eq!(super::groups(&keys, shards), shared::ledger::batch::by_shard(&keys, shards));
        }
    }

    /// #18: a sent record's `supersedes` become marks after the chunk's writes, each under its
    /// ref's key (so grouping by key puts it in the ref's shard); a deduped record marks nothing.
    #[test]
    fn marks_follow_the_sent_records_supersedes() {
        use serde_json::{json, Value};
        let rec = |id: &str, sup: Value| json!({ "id": id, "supersedes": sup }).to_string();
        let records = vec![rec("a", json!(["n/t/p1", "n/t/p2"])), rec("b", json!(["n/t/p3"])), rec("c", Value::Null)];
        let mut keys: Vec<String> = vec!["n/t/a".into(), "n/t/b".into(), "n/t/c".into()];
        let mut writes = vec![Some(json!({ "k": "n/t/a" })), None, None];
        super::marks(&records, |i| i != 1, &mut keys, &mut writes);
        assert_eq!(keys[3..], ["n/t/p1".to_string(), "n/t/p2".to_string()]);
        assert_eq!(writes[3..], [Some(json!({ "k": "n/t/p1", "succ": true })), Some(json!({ "k": "n/t/p2", "succ": true }))]);
        let groups = super::groups(&keys, 16);
        let shard_of_p2 = shared::ledger::shard::shard_of("n/t/p2", 16);
        assert!(groups.iter().any(|(s, idx)| *s == shard_of_p2 && idx.contains(&4)));
    }
}
