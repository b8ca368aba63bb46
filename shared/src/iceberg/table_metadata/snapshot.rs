//! Snapshots, their summaries and operations, the snapshot and metadata logs, and refs.

use super::*;

/// One snapshot: the table's state after one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `snapshot-id`.
    pub snapshot_id: i64,
    /// `parent-snapshot-id`: absent for the first snapshot.
    pub parent_snapshot_id: Option<i64>,
    /// `sequence-number`: the data sequence number of the files this commit added.
    pub sequence_number: i64,
    /// `timestamp-ms`: when it was committed.
    pub timestamp_ms: i64,
    /// `manifest-list`: location of the manifest list (Avro).
    pub manifest_list: String,
    /// `summary`.
    pub summary: Summary,
    /// `schema-id`: the current schema when it was written, if recorded.
    pub schema_id: Option<i32>,
}

/// A snapshot summary: the operation plus free-form string properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `operation`.
    pub operation: Operation,
    /// Every other summary member (`added-records`, `total-records`, …).
    pub properties: BTreeMap<String, String>,
}

/// What a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `append`: only added data files.
    Append,
    /// `replace`: rewrote files without changing the data (compaction).
    Replace,
    /// `overwrite`: added and removed files.
    Overwrite,
    /// `delete`: only removed files (or added delete files).
    Delete,
}

/// One `snapshot-log` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotLogEntry {
    /// `snapshot-id`.
    pub snapshot_id: i64,
    /// `timestamp-ms`: when it became current.
    pub timestamp_ms: i64,
}

/// One `metadata-log` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataLogEntry {
    /// `metadata-file`: location of an earlier metadata file.
    pub metadata_file: String,
    /// `timestamp-ms`: its `last-updated-ms`.
    pub timestamp_ms: i64,
}

/// A named ref (branch or tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotRef {
    /// `snapshot-id`.
    pub snapshot_id: i64,
    /// `type`.
    pub ref_type: RefType,
    /// `min-snapshots-to-keep` (branches).
    pub min_snapshots_to_keep: Option<i32>,
    /// `max-snapshot-age-ms` (branches).
    pub max_snapshot_age_ms: Option<i64>,
    /// `max-ref-age-ms`.
    pub max_ref_age_ms: Option<i64>,
}

/// The kind of a ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    /// `branch`.
    Branch,
    /// `tag`.
    Tag,
}

/// The name of the main branch.
pub const MAIN_BRANCH: &str = "main";

impl Operation {
    /// Parses a summary `operation`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "append" => Some(Self::Append),
            "replace" => Some(Self::Replace),
            "overwrite" => Some(Self::Overwrite),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    /// The summary `operation` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Replace => "replace",
            Self::Overwrite => "overwrite",
            Self::Delete => "delete",
        }
    }
}

impl Snapshot {
    pub(super) fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("snapshot-id".into(), Value::from(self.snapshot_id));
        if let Some(parent) = self.parent_snapshot_id {
            m.insert("parent-snapshot-id".into(), Value::from(parent));
        }
        m.insert("sequence-number".into(), Value::from(self.sequence_number));
        m.insert("timestamp-ms".into(), Value::from(self.timestamp_ms));
        m.insert("manifest-list".into(), Value::String(self.manifest_list.clone()));
        let mut summary: Map<String, Value> = self.summary.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        summary.insert("operation".into(), Value::String(self.summary.operation.as_str().into()));
        m.insert("summary".into(), Value::Object(summary));
        if let Some(schema_id) = self.schema_id {
            m.insert("schema-id".into(), Value::from(schema_id));
        }
        Value::Object(m)
    }
}

impl SnapshotRef {
    pub(super) fn to_value(self) -> Value {
        let mut m = Map::new();
        m.insert("snapshot-id".into(), Value::from(self.snapshot_id));
        let ty = match self.ref_type {
            RefType::Branch => "branch",
            RefType::Tag => "tag",
        };
        m.insert("type".into(), Value::String(ty.into()));
        if let Some(n) = self.min_snapshots_to_keep {
            m.insert("min-snapshots-to-keep".into(), Value::from(n));
        }
        if let Some(ms) = self.max_snapshot_age_ms {
            m.insert("max-snapshot-age-ms".into(), Value::from(ms));
        }
        if let Some(ms) = self.max_ref_age_ms {
            m.insert("max-ref-age-ms".into(), Value::from(ms));
        }
        Value::Object(m)
    }
}

impl TryFrom<wire::Snapshot> for Snapshot {
    type Error = MetadataError;

    fn try_from(w: wire::Snapshot) -> Result<Self, MetadataError> {
        let mut properties = required(w.summary, "summary")?;
        let operation = properties.remove("operation").ok_or(MetadataError::MissingField("operation"))?;
        let operation = Operation::parse(&operation).ok_or(MetadataError::UnknownOperation)?;
        Ok(Snapshot {
            snapshot_id: required(w.snapshot_id, "snapshot-id")?,
            parent_snapshot_id: w.parent_snapshot_id,
            sequence_number: required(w.sequence_number, "sequence-number")?,
            timestamp_ms: required(w.timestamp_ms, "timestamp-ms")?,
            manifest_list: required(w.manifest_list, "manifest-list")?,
            summary: Summary { operation, properties },
            schema_id: w.schema_id,
        })
    }
}

impl TryFrom<wire::SnapshotRef> for SnapshotRef {
    type Error = MetadataError;

    fn try_from(w: wire::SnapshotRef) -> Result<Self, MetadataError> {
        let ref_type = match required(w.ref_type, "type")?.as_str() {
            "branch" => RefType::Branch,
            "tag" => RefType::Tag,
            _ => return Err(MetadataError::Malformed),
        };
        Ok(SnapshotRef {
            snapshot_id: required(w.snapshot_id, "snapshot-id")?,
            ref_type,
            min_snapshots_to_keep: w.min_snapshots_to_keep,
            max_snapshot_age_ms: w.max_snapshot_age_ms,
            max_ref_age_ms: w.max_ref_age_ms,
        })
    }
}
