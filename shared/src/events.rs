//! Events on publish (#18): what ingest tells the optional `ARTIFACT_EVENTS` queue after a chunk's
//! writes are confirmed, so workflows react to new artifacts.
//!
//! A message body is `{"v":1,"events":[{"ref","ts","mode","content_hash","deleted"}…]}` (JSON;
//! `ts` in µs), at most [`MAX_MESSAGE_BYTES`]: a Queue message may hold 128 KB. Messages go out in
//! `sendBatch` calls of at most [`MAX_BATCH_MESSAGES`] messages and [`MAX_BATCH_BYTES`] in all
//! (the Queues limits are 100 messages and 256 KB a batch). Deduped records are not events (they
//! changed nothing); a tombstone is one with `deleted: true` and the tombstone's hash.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{json, Value};

/// Most bytes of one message body (128 KB a message, less a margin for the envelope).
pub const MAX_MESSAGE_BYTES: usize = 120 * 1024;
/// Most messages one `sendBatch` takes.
pub const MAX_BATCH_MESSAGES: usize = 100;
/// Most bytes of the message bodies of one `sendBatch` (256 KB a batch, less a margin).
pub const MAX_BATCH_BYTES: usize = 240 * 1024;

/// One confirmed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `ns/type/id`.
    pub reference: String,
    /// The `ts` ingest stamped (µs).
    pub ts: i64,
    /// `preview`, `build` or `bulk`.
    pub mode: String,
    /// The record's `content_hash`.
    pub content_hash: String,
    /// A tombstone.
    pub deleted: bool,
}

impl Event {
    /// The event of a written record from what a chunk keeps of it: its key, its dedupe key
    /// (`crate::record::dedupe_key_of`: content hash, visibility, deleted, owners) and `ts`.
    pub fn of_written(key: &str, dedupe: &str, ts: i64, mode: &str) -> Event {
        let parts = crate::key::split(dedupe);
        Event {
            reference: key.into(),
            ts,
            mode: mode.into(),
            content_hash: parts.first().cloned().unwrap_or_default(),
            deleted: parts.get(2).is_some_and(|d| d == "1"),
        }
    }
}

impl Event {
    /// As JSON (`serde_json::Value`, as the record is: no second serializer in ingest's wasm).
    fn to_json(&self) -> Value {
        json!({"ref": self.reference, "ts": self.ts, "mode": self.mode, "content_hash": self.content_hash, "deleted": self.deleted})
    }
}

fn body(events: &[Value]) -> String {
    json!({"v": 1, "events": events}).to_string()
}

/// The message bodies for `events`, in order, each at most [`MAX_MESSAGE_BYTES`] (an event is a
/// few hundred bytes at most: refs and hashes are bounded).
pub fn messages(events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    // `{"v":1,"events":[]}` plus each event and its comma.
    let mut size = body(&[]).len();
    for e in events {
        let v = e.to_json();
        let len = v.to_string().len().saturating_add(1);
        if !current.is_empty() && size.saturating_add(len) > MAX_MESSAGE_BYTES {
            out.push(body(&current));
            current.clear();
            size = body(&[]).len();
        }
        size = size.saturating_add(len);
        current.push(v);
    }
    if !current.is_empty() {
        out.push(body(&current));
    }
    out
}

/// Messages grouped into `sendBatch` calls within the batch limits, in order.
pub fn batches(messages: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0usize;
    for m in messages {
        let fits = out.last().is_some_and(|b| b.len() < MAX_BATCH_MESSAGES && bytes.saturating_add(m.len()) <= MAX_BATCH_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes = bytes.saturating_add(m.len());
        if let Some(b) = out.last_mut() {
            b.push(m);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::format;

    fn ev(i: usize) -> Event {
        Event {
            reference: format!("docs/guide/{i:0>200}"),
            ts: i as i64,
            mode: "build".into(),
            content_hash: format!("{i:064x}"),
            deleted: i.is_multiple_of(7),
        }
    }

    #[test]
    fn an_event_from_what_a_chunk_keeps() {
        let dedupe = crate::record::dedupe_key_of("abc123", "org", true, "acme:x", "alice");
        let e = Event::of_written("docs/guide/a", &dedupe, 42, "preview");
        assert_eq!(
            e,
            Event { reference: "docs/guide/a".into(), ts: 42, mode: "preview".into(), content_hash: "abc123".into(), deleted: true }
        );
        let json: serde_json::Value = serde_json::from_str(&messages(&[e])[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"v": 1, "events": [{"ref": "docs/guide/a", "ts": 42, "mode": "preview", "content_hash": "abc123", "deleted": true}]})
        );
    }

    #[test]
    fn messages_stay_under_the_limit_and_keep_every_event_in_order() {
        let events: Vec<Event> = (0..3000).map(ev).collect();
        let msgs = messages(&events);
        assert!(msgs.len() > 1);
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= MAX_MESSAGE_BYTES, "{}", m.len());
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            back.extend(v["events"].as_array().unwrap().iter().map(|e| e["ts"].as_i64().unwrap()));
        }
        assert_eq!(back, (0..3000).collect::<Vec<i64>>());
        // Full messages: the next event would not have fit.
        assert!(msgs[0].len() > MAX_MESSAGE_BYTES - 400);
        let groups = batches(msgs.clone());
        for g in &groups {
            assert!(g.len() <= MAX_BATCH_MESSAGES);
            assert!(g.iter().map(String::len).sum::<usize>() <= MAX_BATCH_BYTES);
        }
        assert_eq!(groups.concat(), msgs);
        assert!(messages(&[]).is_empty());
        assert!(batches(Vec::new()).is_empty());
        // Many small messages: 100 a batch.
        let small: Vec<String> = (0..250).map(|i| format!("{i}")).collect();
        assert_eq!(batches(small).iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    }
}
