//! Snapshot expiration, as R2 Data Catalog's own does it: old snapshots dropped from the metadata
//! and the files only they reached listed for deletion. Pure: the caller reads the manifest lists
//! and manifests, stores the metadata (create-only, pointer moved last) and deletes the files only
//! after the pointer moved.
//!
//! 1. [`expire`]: which snapshots go ([`Retain`]), and the next metadata without them.
//! 2. [`Reach`]: what a set of snapshots reaches — manifest lists, manifests, files — filled from
//!    their manifest lists and manifests; [`unreachable`] is what the expired snapshots reach and
//!    the kept ones do not.

use std::collections::{BTreeMap, BTreeSet};

use shared::iceberg::manifest::{EntryStatus, Manifest, ManifestFile};
use shared::iceberg::table_metadata::{MetadataLogEntry, SnapshotLogEntry, TableMetadata};

/// Which snapshots stay. A snapshot stays when it is one of the `last` newest of the current
/// snapshot's history (itself and its ancestors), or was committed at or after `newer_than_ms`,
/// or a ref (branch or tag) names it. Everything else is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retain {
    /// How many of the current history to keep (at least 1: the current snapshot always stays).
    pub last: usize,
    /// Keep every snapshot committed at or after this time (ms since the epoch).
    pub newer_than_ms: Option<i64>,
}

/// The outcome of [`expire`].
#[derive(Debug, Clone, PartialEq)]
pub struct Expiry {
    /// The next metadata: the kept snapshots, the snapshot log without the expired ones (and the
    /// history before the last of them, as Iceberg does, so no entry names a missing snapshot),
    /// refs unchanged, statistics of expired snapshots dropped, the previous file logged.
    pub metadata: TableMetadata,
    /// Ids of the expired snapshots, oldest first.
    pub expired: Vec<i64>,
    /// Ids of the kept snapshots, oldest first.
    pub kept: Vec<i64>,
}

/// Expires the snapshots `retain` does not keep; `None` when every snapshot stays.
pub fn expire(prev: &TableMetadata, retain: Retain, previous_location: &str, now_ms: i64) -> Option<Expiry> {
    let mut keep: BTreeSet<i64> = BTreeSet::new();
    let mut at = prev.current_snapshot_id;
    for _ in 0..retain.last.max(1) {
        let Some(s) = at.and_then(|id| prev.snapshot_by_id(id)) else { break };
        // A history that loops (a corrupt table) stops here rather than forever.
        if !keep.insert(s.snapshot_id) {
            break;
        }
        at = s.parent_snapshot_id;
    }
    keep.extend(prev.refs.values().map(|r| r.snapshot_id));
    if let Some(t) = retain.newer_than_ms {
        keep.extend(prev.snapshots.iter().filter(|s| s.timestamp_ms >= t).map(|s| s.snapshot_id));
    }
    let mut snapshots = prev.snapshots.clone();
    snapshots.sort_by_key(|s| (s.sequence_number, s.timestamp_ms));
    let (kept, expired): (Vec<_>, Vec<_>) = snapshots.iter().map(|s| s.snapshot_id).partition(|id| keep.contains(id));
    if expired.is_empty() {
        return None;
    }
    let mut next = prev.clone();
    next.snapshots.retain(|s| keep.contains(&s.snapshot_id));
    let mut log: Vec<SnapshotLogEntry> = Vec::new();
    for e in &prev.snapshot_log {
        if keep.contains(&e.snapshot_id) {
            log.push(*e);
        } else {
            // Iceberg drops the history before a removed entry too: no gaps in the log.
            log.clear();
        }
    }
    next.snapshot_log = log;
    next.statistics.retain(|s| s.get("snapshot-id").and_then(serde_json::Value::as_i64).is_none_or(|id| keep.contains(&id)));
    next.partition_statistics.retain(|s| s.get("snapshot-id").and_then(serde_json::Value::as_i64).is_none_or(|id| keep.contains(&id)));
    next.metadata_log.push(MetadataLogEntry { metadata_file: previous_location.to_string(), timestamp_ms: prev.last_updated_ms });
    next.last_updated_ms = now_ms.max(prev.last_updated_ms);
    Some(Expiry { metadata: next, expired, kept })
}

/// What some snapshots reach: their manifest lists, the manifests those list, and the files of
/// the manifests' entries (all locations, as written in the metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Manifest list locations.
    pub manifest_lists: BTreeSet<String>,
    /// Manifest locations.
    pub manifests: BTreeSet<String>,
    /// Data and delete file locations.
    pub files: BTreeSet<String>,
}

impl Reach {
    /// A snapshot's manifest list at `location` and its entries.
    pub fn add_list(&mut self, location: &str, list: &[ManifestFile]) {
        self.manifest_lists.insert(location.to_string());
        self.manifests.extend(list.iter().map(|m| m.manifest_path.clone()));
    }

    /// A manifest of one of the snapshots: its live entries' files when `live_only` (what a kept
    /// snapshot reads), every entry's otherwise (an expired snapshot's DELETED entries name files
    /// only it and its ancestors held).
    pub fn add_manifest(&mut self, manifest: &Manifest, live_only: bool) {
        let entries = manifest.entries.iter().filter(|e| !live_only || e.status != EntryStatus::Deleted);
        self.files.extend(entries.map(|e| e.data_file.file_path.clone()));
    }
}

/// What `expired` reaches and `kept` does not: every location to delete (manifest lists, then
/// manifests, then files, each sorted).
pub fn unreachable(kept: &Reach, expired: &Reach) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(expired.manifest_lists.difference(&kept.manifest_lists).cloned());
    out.extend(expired.manifests.difference(&kept.manifests).cloned());
    out.extend(expired.files.difference(&kept.files).cloned());
    out
}

/// The manifest lists of `expiry`'s kept and expired snapshots in `prev`: (kept, expired), each
/// as (snapshot id → manifest list location), for the caller to read.
pub fn manifest_lists(prev: &TableMetadata, expiry: &Expiry) -> (BTreeMap<i64, String>, BTreeMap<i64, String>) {
    let of = |ids: &[i64]| -> BTreeMap<i64, String> {
        ids.iter().filter_map(|id| prev.snapshot_by_id(*id)).map(|s| (s.snapshot_id, s.manifest_list.clone())).collect()
    };
    (of(&expiry.kept), of(&expiry.expired))
}
