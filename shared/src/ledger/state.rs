//! The per-key state the ledger keeps for the last confirmed write of a key, its wire codec, and
//! the order of writes.
//!
//! The codec is compact JSON with one-letter names (`t` ts, `c` content hash, `v` visibility, `o`
//! owner org, `u` owner user, `m` mode, `d` tombstone; a [`Write`] adds `k`, the key). Parsing is
//! strict: a missing or mistyped field is an error, never a default, so a state that passed
//! [`KeyState::parse`] is valid. What KV holds for serve is not a second codec: it is
//! [`KeyState::kv_state`], the existing [`crate::state::State`] (`{"g","h"}`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::record::{Mode, Record, Visibility};

/// The last confirmed write of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// `t`: the record's `ts` (µs); also the KV generation `g`.
    pub ts: i64,
    /// `c`: the record's `content_hash`.
    pub content_hash: String,
    /// `v`: who may read it.
    pub visibility: Visibility,
    /// `o`: the owner's org.
    pub owner_org: String,
    /// `u`: the owner's user.
    pub owner_user: String,
    /// `m`: the mode (stream) it was sent to.
    pub mode: Mode,
    /// `d`: a tombstone.
    pub deleted: bool,
}

/// Where a write stands among the writes of its key: its `ts`, and which version it is (the
/// dedupe key). A greater `ts` is newer; at an equal `ts` another version is newer when it was
/// confirmed later ([`Place::replaces`]), as the tables take the later commit (rule 1 of the
/// design). The derived order (ts, then dedupe key) only sorts; it does not decide ties.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The record's `ts` (µs).
    pub ts: i64,
    /// The record's dedupe key ([`crate::record::dedupe_key_of`]).
    pub dedupe: String,
}

impl Place {
    /// Whether a write at this place, confirmed after one at `earlier`, is the newer: a greater
    /// `ts`, or the same `ts` and another version (a bulk rewrite keeping its `ts`: the tables
    /// answer the later commit, so the ledger takes the later confirm, and the cache of the
    /// version before is purged).
    pub fn replaces(&self, earlier: &Place) -> bool {
        self.ts > earlier.ts || (self.ts == earlier.ts && self.dedupe != earlier.dedupe)
    }
}

/// One confirmed write: a key and the state it confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `k`: `ns/type/id`.
    pub key: String,
    /// The rest of the fields.
    pub state: KeyState,
}

/// Why a state or write could not be decoded: the field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError {
    /// The field (`t`, `c`, …), or `json` when the text is not a JSON object (or list of them).
    pub field: &'static str,
}

impl CodecError {
    /// A fixed description.
    pub fn description(&self) -> &'static str {
        "a ledger state is malformed"
    }
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (field {})", self.description(), self.field)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CodecError {}

fn mode_of(s: &str) -> Option<Mode> {
    Mode::ALL.into_iter().find(|m| m.as_str() == s)
}

impl KeyState {
    /// The state a confirmed `record` sent to `mode` leaves.
    pub fn of_record(record: &Record, mode: Mode) -> KeyState {
        KeyState {
            ts: record.ts,
            content_hash: record.content_hash.clone(),
            visibility: record.visibility,
            owner_org: record.owner_org.clone(),
            owner_user: record.owner_user.clone(),
            mode,
            deleted: record.deleted,
        }
    }

    /// What dedupe compares and `h` holds: [`crate::record::dedupe_key_of`] over the content hash,
    /// visibility, tombstone flag and owner, exactly as [`Record::dedupe_key`].
    pub fn dedupe_key(&self) -> String {
        crate::record::dedupe_key_of(&self.content_hash, self.visibility.as_str(), self.deleted, &self.owner_org, &self.owner_user)
    }

    /// This write's place in the order of its key's writes.
    pub fn place(&self) -> Place {
        Place { ts: self.ts, dedupe: self.dedupe_key() }
    }

    /// What KV holds for serve (`art:{key}`): generation = `ts`, `h` = the dedupe key (no
    /// successor stamp: that is the entry's, [`super::confirm::Entry::kv_state`]).
    pub fn kv_state(&self) -> crate::state::State {
        crate::state::State::confirmed(&self.dedupe_key(), self.ts)
    }

    /// The state of a read marker: the ledger holds no confirmed write of the key, but serve
    /// looked it up (a key written before the ledger, or never) or a successor named it (#18).
    /// Stored with `ts` NULL; below every write, so the first confirm replaces it, keeps its
    /// `read_at` (and successor stamp) and so queues the KV write that moves readers off whatever
    /// they cached. Its dedupe key matches no real write (empty content hash).
    pub fn marker() -> KeyState {
        KeyState {
            ts: i64::MIN,
            content_hash: String::new(),
            visibility: Visibility::User,
            owner_org: String::new(),
            owner_user: String::new(),
            mode: Mode::Build,
            deleted: true,
        }
    }

    /// Whether this is [`KeyState::marker`]'s state.
    pub fn is_marker(&self) -> bool {
        self.ts == i64::MIN && self.content_hash.is_empty()
    }

    fn fields(&self, map: &mut Map<String, Value>) {
        map.insert("t".into(), Value::from(self.ts));
        map.insert("c".into(), Value::String(self.content_hash.clone()));
        map.insert("v".into(), Value::String(self.visibility.as_str().into()));
        map.insert("o".into(), Value::String(self.owner_org.clone()));
        map.insert("u".into(), Value::String(self.owner_user.clone()));
        map.insert("m".into(), Value::String(self.mode.as_str().into()));
        map.insert("d".into(), Value::Bool(self.deleted));
    }

    /// The wire form: `{"c":…,"d":…,"m":…,"o":…,"t":…,"u":…,"v":…}`.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        self.fields(&mut map);
        Value::Object(map).to_string()
    }

    fn from_value(v: &Value) -> Result<KeyState, CodecError> {
        let text = |field: &'static str| v.get(field).and_then(Value::as_str).map(String::from).ok_or(CodecError { field });
        Ok(KeyState {
            ts: v.get("t").and_then(Value::as_i64).ok_or(CodecError { field: "t" })?,
            content_hash: text("c")?,
            visibility: v.get("v").and_then(Value::as_str).and_then(Visibility::parse).ok_or(CodecError { field: "v" })?,
            owner_org: text("o")?,
            owner_user: text("u")?,
            mode: v.get("m").and_then(Value::as_str).and_then(mode_of).ok_or(CodecError { field: "m" })?,
            deleted: v.get("d").and_then(Value::as_bool).ok_or(CodecError { field: "d" })?,
        })
    }

    /// Parses [`KeyState::to_json`]'s form.
    pub fn parse(text: &str) -> Result<KeyState, CodecError> {
        let v: Value = serde_json::from_str(text).map_err(|_| CodecError { field: "json" })?;
        if !v.is_object() {
            return Err(CodecError { field: "json" });
        }
        KeyState::from_value(&v)
    }
}

impl Write {
    /// The write of a confirmed `record` sent to `mode`.
    pub fn of_record(record: &Record, mode: Mode) -> Write {
        Write { key: record.key(), state: KeyState::of_record(record, mode) }
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("k".into(), Value::String(self.key.clone()));
        self.state.fields(&mut map);
        Value::Object(map)
    }

    /// One write of a batch, from its JSON object (strict, as [`parse_writes`]).
    pub fn from_value(v: &Value) -> Result<Write, CodecError> {
        let key = v.get("k").and_then(Value::as_str).map(String::from).ok_or(CodecError { field: "k" })?;
        Ok(Write { key, state: KeyState::from_value(v)? })
    }
}

/// A batch of writes on the wire (the body of `check` and `confirm`): a JSON array of objects.
pub fn writes_to_json(writes: &[Write]) -> String {
    Value::Array(writes.iter().map(Write::to_value).collect()).to_string()
}

/// Parses [`writes_to_json`]'s form; the first malformed element fails the batch.
pub fn parse_writes(text: &str) -> Result<Vec<Write>, CodecError> {
    let v: Value = serde_json::from_str(text).map_err(|_| CodecError { field: "json" })?;
    let list = v.as_array().ok_or(CodecError { field: "json" })?;
    list.iter().map(|w| if w.is_object() { Write::from_value(w) } else { Err(CodecError { field: "json" }) }).collect()
}
