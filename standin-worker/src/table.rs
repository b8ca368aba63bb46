//! Table metadata the stand-in writes: the first (empty) version and the next version after an
//! append. Pure, no worker APIs.

use std::collections::BTreeMap;

use serde_json::Value;
use shared::iceberg::table_metadata::{
    MetadataLogEntry, Operation, RefType, Snapshot, SnapshotLogEntry, SnapshotRef, Summary, TableMetadata, MAIN_BRANCH,
};


/// Snapshot summary key naming the last buffer object a snapshot includes.
pub const BUFFER_THROUGH: &str = "standin.buffer-through";

/// A new, empty table (no snapshot).
pub fn empty(table_uuid: String, location: String, now_ms: i64) -> TableMetadata {
    TableMetadata::new_record_table(table_uuid, location, now_ms)
}

/// The JSON of the current schema (the manifest header's `schema`).
pub fn schema_json(meta: &TableMetadata) -> String {
    let doc: Value = serde_json::from_str(&meta.to_json()).unwrap_or(Value::Null);
    doc.get("schemas").and_then(|s| s.get(0)).cloned().unwrap_or(Value::Null).to_string()
}

/// The marker of the current snapshot: the last buffer key committed.
pub fn buffer_through(meta: &TableMetadata) -> Option<String> {
    meta.current_snapshot().and_then(|s| s.summary.properties.get(BUFFER_THROUGH).cloned())
}

fn total(prev: Option<&Snapshot>, key: &str) -> i64 {
    prev.and_then(|s| s.summary.properties.get(key)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// What one append adds.
pub struct Append {
    /// New snapshot id.
    pub snapshot_id: i64,
    /// Its manifest list location.
    pub manifest_list: String,
    /// Rows added.
    pub records: i64,
    /// Bytes of the data file.
    pub file_size: i64,
    /// Last buffer key included.
    pub buffer_through: String,
    /// Commit time.
    pub now_ms: i64,
    /// Location of the metadata file being replaced.
    pub previous_location: String,
}

/// `prev` plus one append snapshot.
pub fn append(prev: &TableMetadata, a: Append) -> TableMetadata {
    let mut next = prev.clone();
    let parent = prev.current_snapshot();
    let seq = prev.last_sequence_number.saturating_add(1);
    let mut props = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        props.insert(k.to_string(), v);
    };
    put("added-data-files", "1".into());
    put("added-records", a.records.to_string());
    put("added-files-size", a.file_size.to_string());
    put("total-data-files", (total(parent, "total-data-files") + 1).to_string());
    put("total-records", (total(parent, "total-records") + a.records).to_string());
    put("total-files-size", (total(parent, "total-files-size") + a.file_size).to_string());
    put("total-delete-files", "0".into());
    put("total-position-deletes", "0".into());
    put("total-equality-deletes", "0".into());
    put(BUFFER_THROUGH, a.buffer_through);
    next.snapshots.push(Snapshot {
        snapshot_id: a.snapshot_id,
        parent_snapshot_id: parent.map(|p| p.snapshot_id),
        sequence_number: seq,
        timestamp_ms: a.now_ms,
        manifest_list: a.manifest_list,
        summary: Summary { operation: Operation::Append, properties: props },
        schema_id: Some(0),
    });
    next.metadata_log.push(MetadataLogEntry { metadata_file: a.previous_location, timestamp_ms: prev.last_updated_ms });
    next.snapshot_log.push(SnapshotLogEntry { snapshot_id: a.snapshot_id, timestamp_ms: a.now_ms });
    next.current_snapshot_id = Some(a.snapshot_id);
    next.refs.insert(
        MAIN_BRANCH.into(),
        SnapshotRef {
            snapshot_id: a.snapshot_id,
            ref_type: RefType::Branch,
            min_snapshots_to_keep: None,
            max_snapshot_age_ms: None,
            max_ref_age_ms: None,
        },
    );
    next.last_sequence_number = seq;
    next.last_updated_ms = a.now_ms.max(prev.last_updated_ms);
    next
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_then_append_round_trips() {
        let m = empty("u".into(), "s3://w/t".into(), 1);
        m.validate().unwrap();
        let n = append(
            &m,
            Append {
                snapshot_id: 7,
                manifest_list: "s3://w/t/metadata/snap.avro".into(),
                records: 2,
                file_size: 10,
                buffer_through: "k".into(),
                now_ms: 2,
                previous_location: "s3://w/t/metadata/v1.metadata.json".into(),
            },
        );
        n.validate().unwrap();
        let back = TableMetadata::from_json(n.to_json().as_bytes()).unwrap();
        assert_eq!(buffer_through(&back).as_deref(), Some("k"));
        assert_eq!(back.last_sequence_number, 1);
        assert!(schema_json(&back).contains("\"element-id\":22"));
    }
}
