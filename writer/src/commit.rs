//! One append commit over a table's metadata, as the stand-in, the benchmark tables and the
//! tests commit: a written Parquet file becomes a [`DataFile`] ([`data_file`]), the files of a
//! snapshot become ADDED manifest entries ([`added`]), and [`append`] gives the next metadata
//! (snapshot with totals in its summary, snapshot and metadata logs, `main` moved);
//! [`append_with_deletes`] does the same for a snapshot that also adds delete files. Storing the
//! files and moving the pointer stay with the caller.

use std::collections::BTreeMap;

use serde_json::Value;
use shared::iceberg::manifest::{DataContent, DataFile, EntryStatus, FileFormat, ManifestEntry};
use shared::iceberg::table_metadata::{
    MetadataLogEntry, Operation, RefType, Snapshot, SnapshotLogEntry, SnapshotRef, Summary, TableMetadata, MAIN_BRANCH,
};

use super::parquet::WrittenFile;

/// The `data_file` of a Parquet file written by [`super::parquet::write_parquet`] at `location`:
/// its row count and size, and every metric the writer computed (sizes, counts, bounds, split
/// offsets). Borrows, so the caller can store the bytes afterwards without a copy.
pub fn data_file(location: String, written: &WrittenFile, content: DataContent) -> DataFile {
    let size = i64::try_from(written.bytes.len()).unwrap_or(i64::MAX);
    let mut file = DataFile::new(location, FileFormat::Parquet, written.record_count, size);
    file.content = content;
    file.column_sizes = written.column_sizes.clone();
    file.value_counts = written.value_counts.clone();
    file.null_value_counts = written.null_value_counts.clone();
    file.lower_bounds = written.lower_bounds.clone();
    file.upper_bounds = written.upper_bounds.clone();
    file.split_offsets = written.split_offsets.clone();
    file
}

/// ADDED manifest entries of `snapshot_id` for `files`, their sequence numbers inherited.
pub fn added(snapshot_id: i64, files: Vec<DataFile>) -> Vec<ManifestEntry> {
    files
        .into_iter()
        .map(|data_file| ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id,
            sequence_number: None,
            file_sequence_number: None,
            data_file,
        })
        .collect()
}

/// The table's first schema as JSON: the `schema` header of its manifests.
pub fn schema_json(meta: &TableMetadata) -> String {
    let doc: Value = serde_json::from_str(&meta.to_json()).unwrap_or(Value::Null);
    doc.get("schemas").and_then(|s| s.get(0)).cloned().unwrap_or(Value::Null).to_string()
}

/// What one snapshot adds.
pub struct Append {
    /// New snapshot id.
    pub snapshot_id: i64,
    /// Its manifest list location.
    pub manifest_list: String,
    /// `append` for data only; `overwrite` when delete files come with it.
    pub operation: Operation,
    /// Data files added.
    pub data_files: i64,
    /// Rows added.
    pub records: i64,
    /// Bytes of the data files.
    pub file_size: i64,
    /// Summary properties beyond the counts (the stand-in's buffer marker).
    pub properties: BTreeMap<String, String>,
    /// Commit time.
    pub now_ms: i64,
    /// Location of the metadata file being replaced, for the metadata log (`None`: not logged).
    pub previous_location: Option<String>,
}

fn total(prev: Option<&Snapshot>, key: &str) -> i64 {
    prev.and_then(|s| s.summary.properties.get(key)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The delete files one snapshot adds, for its summary ([`append_with_deletes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddedDeletes {
    /// Delete files, position and equality.
    pub files: i64,
    /// Rows of the position delete files.
    pub position_deletes: i64,
    /// Rows of the equality delete files.
    pub equality_deletes: i64,
    /// Bytes of the delete files.
    pub file_size: i64,
}

impl AddedDeletes {
    /// The delete files among `files` (data files are not counted).
    pub fn of(files: &[DataFile]) -> Self {
        let mut d = AddedDeletes::default();
        for f in files {
            match f.content {
                DataContent::Data => continue,
                DataContent::PositionDeletes => d.position_deletes += f.record_count,
                DataContent::EqualityDeletes => d.equality_deletes += f.record_count,
            }
            d.files += 1;
            d.file_size += f.file_size_in_bytes;
        }
        d
    }
}

/// `prev` plus one snapshot with the next sequence number, made current on `main`.
pub fn append(prev: &TableMetadata, a: Append) -> TableMetadata {
    append_with_deletes(prev, a, AddedDeletes::default())
}

/// [`append`] for a snapshot that also adds delete files: the summary counts them as Iceberg's
/// does (`added-delete-files`, `added-position-deletes`, `added-equality-deletes`, their totals,
/// and their bytes in `added-files-size` / `total-files-size`).
pub fn append_with_deletes(prev: &TableMetadata, a: Append, deletes: AddedDeletes) -> TableMetadata {
    let mut next = prev.clone();
    let parent = prev.current_snapshot();
    let seq = prev.last_sequence_number.saturating_add(1);
    let mut props = a.properties;
    let mut put = |k: &str, v: String| {
        props.insert(k.to_string(), v);
    };
    let file_size = a.file_size + deletes.file_size;
    put("added-data-files", a.data_files.to_string());
    put("added-records", a.records.to_string());
    put("added-files-size", file_size.to_string());
    if deletes.files > 0 {
        put("added-delete-files", deletes.files.to_string());
        put("added-position-deletes", deletes.position_deletes.to_string());
        put("added-equality-deletes", deletes.equality_deletes.to_string());
    }
    put("total-data-files", (total(parent, "total-data-files") + a.data_files).to_string());
    put("total-records", (total(parent, "total-records") + a.records).to_string());
    put("total-files-size", (total(parent, "total-files-size") + file_size).to_string());
    put("total-delete-files", (total(parent, "total-delete-files") + deletes.files).to_string());
    put("total-position-deletes", (total(parent, "total-position-deletes") + deletes.position_deletes).to_string());
    put("total-equality-deletes", (total(parent, "total-equality-deletes") + deletes.equality_deletes).to_string());
    next.snapshots.push(Snapshot {
        snapshot_id: a.snapshot_id,
        parent_snapshot_id: parent.map(|p| p.snapshot_id),
        sequence_number: seq,
        timestamp_ms: a.now_ms,
        manifest_list: a.manifest_list,
        summary: Summary { operation: a.operation, properties: props },
        schema_id: Some(0),
    });
    if let Some(metadata_file) = a.previous_location {
        next.metadata_log.push(MetadataLogEntry { metadata_file, timestamp_ms: prev.last_updated_ms });
    }
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
