//! `check` and `confirm`: the ledger's two calls per shard per chunk, as decisions over the rows a
//! shard holds for the batch's keys. The Durable Object selects those rows into a map, calls these,
//! and writes what [`Outcome`] says in one transaction; ingest never sees a row.
//!
//! Rules (the design's ordering rules):
//! 1. A write replaces a key's state only when its [`Place`] is strictly greater (equal places:
//!    the greater mode name, see `rank`).
//! 2. An equal rank is the same write confirmed again (a retry, the outbox): nothing changes.
//! 3. A smaller place (a confirm arriving after a newer one) changes nothing and is reported stale.
//!
//! So the state of a key only moves forward, its generation (`ts`) never goes back, and any order
//! or interleaving of the same confirms ends in the same states.
//!
//! A confirm also carries **marks** (#18): the keys named in a confirmed record's `supersedes`.
//! A mark stamps its key's `successor_at` with the confirm's time, only forward (the greatest
//! stamp stays); a key the shard holds nothing of gets a read marker holding the stamp.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::state::{KeyState, Place, Write};

/// Shortest time between two KV writes of one key (production refuses a second write of a key
/// within a second).
pub const KV_WRITE_INTERVAL_MS: i64 = 1_000;

/// What a shard holds for a key: the state and two timestamps (ms since the epoch, 0 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The last confirmed write.
    pub state: KeyState,
    /// When serve last looked the key up on a miss (it may then have cached an answer).
    pub read_at: i64,
    /// When the last KV write of this key's generation started.
    pub kv_at: i64,
    /// When a successor of the key (a write listing it in `supersedes`) was last confirmed
    /// (`sup`, #18); 0 none.
    pub successor_at: i64,
}

impl Entry {
    /// The entry of a key's first confirmed write.
    pub fn new(state: KeyState) -> Entry {
        Entry { state, read_at: 0, kv_at: 0, successor_at: 0 }
    }

    /// What KV holds for serve (`art:{key}`): `{"g": ts, "h": dedupe key, "s": successor_at}`;
    /// for a read marker (no confirmed write) `{"g": 0, "s": successor_at}`, under which every
    /// table row is current.
    pub fn kv_state(&self) -> crate::state::State {
        let base = if self.state.is_marker() { crate::state::State::default() } else { self.state.kv_state() };
        crate::state::State { successor: self.successor_at, ..base }
    }

    /// Whether a reader may hold a cached answer under the key's current KV generation: it was
    /// looked up since its last KV write started. Only then does a change need a KV write.
    pub fn read_since_kv(&self) -> bool {
        self.read_at > 0 && self.read_at >= self.kv_at
    }

    /// Serve's lookup at `now_ms`: the new `read_at` when the row must be written, `None` when the
    /// entry already counts as read (a lookup costs a row write at most once per KV write).
    ///
    /// The alarm stores `kv_at` before it starts a KV write, so a lookup during the write sees
    /// `read_at < kv_at` and marks the key again: no lookup is lost to a write in flight.
    pub fn mark_read(&self, now_ms: i64) -> Option<i64> {
        (!self.read_since_kv()).then_some(now_ms.max(self.kv_at).max(1))
    }
}

/// What happened to one write of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It is now the key's state.
    Changed,
    /// The key's state already is this write (same place): a repeated confirm.
    Same,
    /// The key's state is newer: nothing changed.
    Stale,
}

/// What a `confirm` decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Per write of the batch, in order.
    pub applied: Vec<Applied>,
    /// The rows to write: the final entry of every key the batch changed, in key order.
    pub upserts: Vec<(String, Entry)>,
    /// Keys whose KV generation must be written (changed and read since their last KV write), in
    /// key order. The alarm writes them; ingest's colo hint names them too.
    pub kv_due: Vec<String>,
    /// How many marks moved their key's successor stamp.
    pub marked: usize,
}

/// Which writes of a batch are duplicates: the key's confirmed state has the same dedupe key (the
/// same content hash, visibility, tombstone flag and owner). Those are not sent.
pub fn check(current: &BTreeMap<String, Entry>, writes: &[Write]) -> Vec<bool> {
    writes.iter().map(|w| current.get(&w.key).is_some_and(|e| e.state.dedupe_key() == w.state.dedupe_key())).collect()
}

/// How a confirm compares with the key's state: [`Place::replaces`] (a greater `ts`, or the same
/// `ts` and another version: the later confirm wins, as the later commit does in the tables);
/// the same place is the same write (in another stream at most: the mode's name breaks that tie
/// so arrival order does not matter); else stale.
fn compare(new: &KeyState, now: &KeyState) -> core::cmp::Ordering {
    let (a, b) = (new.place(), now.place());
    if a.replaces(&b) {
        core::cmp::Ordering::Greater
    } else if a == b {
        new.mode.as_str().cmp(now.mode.as_str())
    } else {
        core::cmp::Ordering::Less
    }
}

/// Applies a batch of confirmed writes and marks to `current` (the shard's rows for the batch's
/// keys and marked keys; keys without a row are absent). A key may appear several times in a
/// batch. Each mark (a key named in a confirmed record's `supersedes`) sets its key's
/// `successor_at` to `now_ms` when that is later (a key without an entry gets a read marker
/// holding it). A changed key's KV value is due when a reader may hold a cached answer
/// ([`Entry::read_since_kv`]) and its place or its successor stamp changed.
pub fn confirm(current: &BTreeMap<String, Entry>, writes: &[Write], marks: &[String], now_ms: i64) -> Outcome {
    let mut changed: BTreeMap<&str, Entry> = BTreeMap::new();
    let mut applied = Vec::with_capacity(writes.len());
    for w in writes {
        let now = changed.get(w.key.as_str()).or_else(|| current.get(&w.key));
        let (result, next) = match now {
            None => (Applied::Changed, Some(Entry::new(w.state.clone()))),
            Some(e) => match compare(&w.state, &e.state) {
                core::cmp::Ordering::Greater => (Applied::Changed, Some(Entry { state: w.state.clone(), ..e.clone() })),
                core::cmp::Ordering::Equal => (Applied::Same, None),
                core::cmp::Ordering::Less => (Applied::Stale, None),
            },
        };
        if let Some(entry) = next {
            changed.insert(w.key.as_str(), entry);
        }
        applied.push(result);
    }
    let mut marked = 0;
    for key in marks {
        let now = changed.get(key.as_str()).or_else(|| current.get(key));
        if now.is_none_or(|e| e.successor_at < now_ms) {
            let e = now.cloned().unwrap_or_else(|| Entry::new(KeyState::marker()));
            changed.insert(key.as_str(), Entry { successor_at: now_ms, ..e });
            marked += 1;
        }
    }
    // A change of mode alone leaves the KV value as it was: no write for it.
    let kv_due = changed
        .iter()
        .filter(|(k, e)| {
            e.read_since_kv() && current.get(**k).is_none_or(|c| c.state.place() != e.state.place() || c.successor_at != e.successor_at)
        })
        .map(|(k, _)| String::from(*k))
        .collect();
    let upserts = changed.into_iter().map(|(k, e)| (String::from(k), e)).collect();
    Outcome { applied, upserts, kv_due, marked }
}

/// Applies [`confirm`]'s outcome to an in-memory shard (what the Durable Object does with SQL).
pub fn apply(shard: &mut BTreeMap<String, Entry>, writes: &[Write], marks: &[String], now_ms: i64) -> Outcome {
    let outcome = confirm(shard, writes, marks, now_ms);
    for (k, e) in &outcome.upserts {
        shard.insert(k.clone(), e.clone());
    }
    outcome
}

/// What one alarm does with the keys whose KV generation is due.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvPlan {
    /// Keys to write now (the alarm stores `kv_at = now` for them first, then writes KV).
    pub write_now: Vec<String>,
    /// When to run again, if any key is left (not yet a second past its last write, or over
    /// `max_writes`).
    pub next_alarm_ms: Option<i64>,
}

/// Plans an alarm's KV writes: `due` is each due key with its entry's `kv_at`. A key whose last
/// write started less than [`KV_WRITE_INTERVAL_MS`] ago waits, so no key is written twice within
/// a second; at most `max_writes` keys now (the rest at once after).
pub fn plan_kv_writes(due: &[(String, i64)], now_ms: i64, max_writes: usize) -> KvPlan {
    let mut plan = KvPlan::default();
    let mut next: Option<i64> = None;
    for (key, kv_at) in due {
        let at = if *kv_at > 0 { kv_at.saturating_add(KV_WRITE_INTERVAL_MS) } else { now_ms };
        if at <= now_ms && plan.write_now.len() < max_writes {
            plan.write_now.push(key.clone());
        } else {
            let when = at.max(now_ms);
            next = Some(next.map_or(when, |n| n.min(when)));
        }
    }
    plan.next_alarm_ms = next;
    plan
}

/// The place of a table row, to compare with a pending copy or a state.
pub fn place_of_row(ts: i64, dedupe: &str) -> Place {
    Place { ts, dedupe: dedupe.into() }
}
