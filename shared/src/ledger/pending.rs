//! Pending copies: the record JSON of a preview write (or of a mode a tenant turns on), kept by
//! the ledger from its confirm until the serving table has absorbed it, so serve can answer a
//! read right after the write instead of a 404 until the sink commits (≥ 60 s in production).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::confirm::Applied;
use super::state::Place;
use crate::record::Mode;

/// Largest record JSON kept when `LEDGER_PENDING_MAX_BYTES` is not set (SQLite allows 2 MB a row).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// How long before the watermark's commit a copy may have been confirmed and still be kept
/// (`LEDGER_PENDING_GRACE_SECS`), in ms.
pub const DEFAULT_GRACE_MS: i64 = 600_000;
/// Oldest copy kept while the ledger knows no watermark (`LEDGER_PENDING_MAX_AGE_SECS`), in ms.
pub const DEFAULT_MAX_AGE_MS: i64 = 3_600_000;

/// Which writes get a pending copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Largest record JSON kept, in bytes.
    pub max_bytes: usize,
    /// Modes whose writes are kept (`preview`, plus what the tenant's `pending_modes` adds).
    pub modes: Vec<Mode>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { max_bytes: DEFAULT_MAX_BYTES, modes: alloc::vec![Mode::Preview] }
    }
}

/// Whether a confirmed write gets a pending copy: it changed the key's state, its mode is kept,
/// and its record JSON fits.
pub fn admit(policy: &Policy, mode: Mode, record_bytes: usize, applied: Applied) -> bool {
    applied == Applied::Changed && policy.modes.contains(&mode) && record_bytes <= policy.max_bytes
}

/// What a confirm does to a key's pending copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyAction {
    /// Nothing (the write did not change the state).
    Keep,
    /// Store this write's record as the key's copy (replacing an older one).
    Put,
    /// Delete the key's copy: the state moved to a write without one, so the old copy is no
    /// longer the latest version and must not be answered.
    Delete,
}

/// The copy action for one write of a confirm, applied in batch order.
pub fn on_confirm(policy: &Policy, mode: Mode, record_bytes: usize, applied: Applied) -> CopyAction {
    match applied {
        Applied::Changed if admit(policy, mode, record_bytes, applied) => CopyAction::Put,
        Applied::Changed => CopyAction::Delete,
        Applied::Same | Applied::Stale => CopyAction::Keep,
    }
}

/// What a shard keeps about a copy besides its body (one copy per key: a newer write's replaces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// `ns/type/id`.
    pub key: String,
    /// The write's place.
    pub place: Place,
    /// Its mode (which source table will hold it).
    pub mode: Mode,
    /// When the ledger confirmed it (ms since the epoch).
    pub confirmed_at_ms: i64,
}

/// Serve's choice: the pending copy answers when it is the key's confirmed state (a copy of an
/// older write is never answered) and newer than what the tables give (no row, or a row of
/// smaller place).
pub fn copy_wins(copy: &Place, state: &Place, table_row: Option<&Place>) -> bool {
    copy == state && table_row.is_none_or(|row| copy.replaces(row))
}

/// Keys whose copy the compactor's report covers: it absorbed, for that key, the copy's own write
/// or one of a greater `ts`. `covered` may name a key several times.
pub fn trim_covered(copies: &[Copy], covered: &[(String, Place)]) -> Vec<String> {
    let mut by_key: BTreeMap<&str, Vec<&Place>> = BTreeMap::new();
    for (key, place) in covered {
        by_key.entry(key.as_str()).or_default().push(place);
    }
    // Covered: the same write absorbed, or one of a greater `ts` (an absorbed row of the same `ts`
    // and another version was confirmed before the copy's: the copy is still the newer).
    let covers = |c: &Copy| by_key.get(c.key.as_str()).is_some_and(|ps| ps.iter().any(|p| **p == c.place || p.ts > c.place.ts));
    copies.iter().filter(|c| covers(c)).map(|c| c.key.clone()).collect()
}

/// Keys whose copy is old enough to drop without a report: confirmed more than `grace_ms` before
/// the last commit the compactor saw of its mode's source table (`watermarks`: mode → commit ms),
/// or, for a mode without a watermark, more than `max_age_ms` before `now_ms`. This bounds what a
/// record the sink dropped (a schema mismatch is dropped silently) leaves behind.
pub fn trim_aged(copies: &[Copy], watermarks: &[(Mode, i64)], now_ms: i64, grace_ms: i64, max_age_ms: i64) -> Vec<String> {
    copies
        .iter()
        .filter(|c| match watermarks.iter().find(|(m, _)| *m == c.mode) {
            Some((_, committed)) => c.confirmed_at_ms < committed.saturating_sub(grace_ms),
            None => c.confirmed_at_ms < now_ms.saturating_sub(max_age_ms),
        })
        .map(|c| c.key.clone())
        .collect()
}
