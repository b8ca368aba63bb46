//! Iceberg table metadata: the `NNNNN-<uuid>.metadata.json` (or `vN.metadata.json`) document that
//! names a table's schemas, partition specs, snapshots and refs. Format version 2 only.
//!
//! [`TableMetadata::from_json`] parses and validates it (the serve worker reads what pyiceberg or
//! the local stand-in wrote); [`TableMetadata::to_json`] writes it (the stand-in), with the spec's
//! key names, so pyiceberg and Java read it back. The JSON is decoded into private wire structs
//! whose every member is optional, so a missing member is reported by name
//! ([`MetadataError::MissingField`]) rather than as a generic shape error; they convert into the
//! domain types here, and [`TableMetadata::validate`] checks the cross-references once.
//!
//! Versions: v1 is rejected (it has no sequence numbers, which the record winner rule needs, and
//! no table of ours is v1); v3 is rejected (row lineage, deletion vectors, default values and new
//! types are not implemented). Sort orders and statistics are kept as raw JSON; members this
//! model does not name are not kept.
//!
//! Bounds: input is at most [`MAX_METADATA_BYTES`]; serde_json caps JSON nesting at 128 levels
//! and types nest at most [`MAX_TYPE_DEPTH`] deep. Nothing here panics on any input.
//!
//! One concept per file, as iceberg-rust's `spec/` does: `types` (types and their JSON), `schema`
//! (schemas, fields, the record contract's schema), `partition` (specs, fields, transforms),
//! `snapshot` (snapshots, summaries, logs, refs) and the private `wire` (what serde decodes); this
//! file holds the document itself, its errors and the helpers they share. Everything public is
//! re-exported here, so paths stay `table_metadata::…`.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

mod partition;
mod schema;
mod snapshot;
#[cfg(test)]
mod tests;
mod types;
mod wire;

pub use partition::*;
pub use schema::*;
pub use snapshot::*;
pub use types::*;

/// Largest metadata document accepted, in bytes (16 MiB).
pub const MAX_METADATA_BYTES: usize = 16 * 1024 * 1024;

/// Deepest type nesting accepted in a schema (a top-level primitive field is depth 1).
pub const MAX_TYPE_DEPTH: usize = 32;

/// The only format version this model reads and writes.
pub const FORMAT_VERSION: i64 = 2;

/// Why table metadata was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataError {
    /// The document is larger than [`MAX_METADATA_BYTES`].
    TooLarge,
    /// The bytes are not JSON (syntax error, truncated, trailing data).
    NotJson,
    /// A member has the wrong JSON type or an impossible value, or the document is not an object.
    Malformed,
    /// A member the v2 spec requires is absent (or null); the member's JSON name.
    MissingField(&'static str),
    /// `format-version` is not 2; the version found.
    UnsupportedVersion(i64),
    /// A schema field's type is unknown or malformed.
    InvalidType,
    /// A schema nests types deeper than [`MAX_TYPE_DEPTH`].
    TypeTooDeep,
    /// Two fields of one schema (at any depth) share a field id.
    DuplicateFieldId,
    /// Two fields of one struct share a name.
    DuplicateFieldName,
    /// Two schemas share a `schema-id`.
    DuplicateSchemaId,
    /// Two partition specs share a `spec-id`.
    DuplicateSpecId,
    /// Two snapshots share a `snapshot-id`.
    DuplicateSnapshotId,
    /// `current-schema-id` names no schema.
    CurrentSchemaMissing,
    /// `default-spec-id` names no partition spec.
    DefaultSpecMissing,
    /// `current-snapshot-id` names no snapshot.
    CurrentSnapshotMissing,
    /// A ref in `refs` names no snapshot.
    RefSnapshotMissing,
    /// `refs.main` and `current-snapshot-id` disagree.
    MainBranchMismatch,
    /// `last-sequence-number` or a snapshot's `sequence-number` is negative.
    NegativeSequenceNumber,
    /// A snapshot's `sequence-number` is greater than `last-sequence-number`.
    SequenceNumberAhead,
    /// A snapshot summary's `operation` is not append, replace, overwrite or delete.
    UnknownOperation,
}

impl MetadataError {
    /// A fixed human description.
    pub fn description(&self) -> &'static str {
        match self {
            Self::TooLarge => "table metadata is larger than the 16 MiB limit",
            Self::NotJson => "table metadata is not JSON",
            Self::Malformed => "a table metadata member has the wrong JSON type or value",
            Self::MissingField(_) => "a member required by format version 2 is missing",
            Self::UnsupportedVersion(1) => "format version 1 is not supported: it has no sequence numbers (upgrade the table to v2)",
            Self::UnsupportedVersion(3) => {
                "format version 3 is not supported: row lineage, deletion vectors, default values and v3 types are not implemented"
            }
            Self::UnsupportedVersion(_) => "unknown table metadata format version",
            Self::InvalidType => "a schema field has an unknown or malformed type",
            Self::TypeTooDeep => "a schema nests types too deeply",
            Self::DuplicateFieldId => "two schema fields share a field id",
            Self::DuplicateFieldName => "two fields of one struct share a name",
            Self::DuplicateSchemaId => "two schemas share a schema-id",
            Self::DuplicateSpecId => "two partition specs share a spec-id",
            Self::DuplicateSnapshotId => "two snapshots share a snapshot-id",
            Self::CurrentSchemaMissing => "current-schema-id names no schema",
            Self::DefaultSpecMissing => "default-spec-id names no partition spec",
            Self::CurrentSnapshotMissing => "current-snapshot-id names no snapshot",
            Self::RefSnapshotMissing => "a ref names no snapshot",
            Self::MainBranchMismatch => "the main branch and current-snapshot-id disagree",
            Self::NegativeSequenceNumber => "a sequence number is negative",
            Self::SequenceNumberAhead => "a snapshot's sequence number is greater than last-sequence-number",
            Self::UnknownOperation => "a snapshot summary has an unknown operation",
        }
    }
}

impl core::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::MissingField(name) => write!(f, "{}: `{name}`", self.description()),
            Self::UnsupportedVersion(v) => write!(f, "{} (format-version {v})", self.description()),
            _ => f.write_str(self.description()),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MetadataError {}

/// A parsed, validated table metadata document (format version 2).
#[derive(Debug, Clone, PartialEq)]
pub struct TableMetadata {
    /// `format-version`: always 2 here.
    pub format_version: i64,
    /// `table-uuid`: the table's identity, kept as written.
    pub table_uuid: String,
    /// `location`: the table's base location (absolute URI).
    pub location: String,
    /// `last-sequence-number`: the highest sequence number assigned so far.
    pub last_sequence_number: i64,
    /// `last-updated-ms`: when this metadata was written, ms since the epoch.
    pub last_updated_ms: i64,
    /// `last-column-id`: the highest field id assigned in any schema.
    pub last_column_id: i32,
    /// `schemas`: every schema the table has had.
    pub schemas: Vec<Schema>,
    /// `current-schema-id`: the schema new data is written with.
    pub current_schema_id: i32,
    /// `partition-specs`: every partition spec the table has had.
    pub partition_specs: Vec<PartitionSpec>,
    /// `default-spec-id`: the spec new data is written with.
    pub default_spec_id: i32,
    /// `last-partition-id`: the highest partition field id assigned (999 when none).
    pub last_partition_id: i32,
    /// `properties`: table properties.
    pub properties: BTreeMap<String, String>,
    /// `current-snapshot-id`: the main branch's snapshot; `None` when absent, null or -1.
    pub current_snapshot_id: Option<i64>,
    /// `snapshots`: the snapshots still tracked (expired ones are gone).
    pub snapshots: Vec<Snapshot>,
    /// `snapshot-log`: the main branch's history, oldest first.
    pub snapshot_log: Vec<SnapshotLogEntry>,
    /// `metadata-log`: earlier metadata files, oldest first.
    pub metadata_log: Vec<MetadataLogEntry>,
    /// `sort-orders`: kept as raw JSON objects.
    pub sort_orders: Vec<Value>,
    /// `default-sort-order-id`.
    pub default_sort_order_id: i32,
    /// `refs`: named branches and tags.
    pub refs: BTreeMap<String, SnapshotRef>,
    /// `statistics`: table statistics files, kept as raw JSON objects.
    pub statistics: Vec<Value>,
    /// `partition-statistics`: partition statistics files, kept as raw JSON objects.
    pub partition_statistics: Vec<Value>,
}

impl TableMetadata {
    /// Parses and validates one metadata document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        if bytes.len() > MAX_METADATA_BYTES {
            return Err(MetadataError::TooLarge);
        }
        let wire: wire::TableMetadata = match serde_json::from_slice(bytes) {
            Ok(w) => w,
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                // The shape is wrong; if it is another version, say that instead.
                return Err(match serde_json::from_slice::<wire::VersionProbe>(bytes) {
                    Ok(wire::VersionProbe { format_version: Some(v) }) if v != FORMAT_VERSION => MetadataError::UnsupportedVersion(v),
                    _ => MetadataError::Malformed,
                });
            }
            Err(_) => return Err(MetadataError::NotJson),
        };
        let metadata = Self::try_from(wire)?;
        metadata.validate()?;
        Ok(metadata)
    }

    /// The document as JSON, with the spec's member names. `current-snapshot-id` is omitted when
    /// `None` (as pyiceberg writes it); [`Self::from_json`] reads the result back unchanged.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("format-version".into(), Value::from(self.format_version));
        m.insert("table-uuid".into(), Value::String(self.table_uuid.clone()));
        m.insert("location".into(), Value::String(self.location.clone()));
        m.insert("last-sequence-number".into(), Value::from(self.last_sequence_number));
        m.insert("last-updated-ms".into(), Value::from(self.last_updated_ms));
        m.insert("last-column-id".into(), Value::from(self.last_column_id));
        m.insert("schemas".into(), Value::Array(self.schemas.iter().map(Schema::to_value).collect()));
        m.insert("current-schema-id".into(), Value::from(self.current_schema_id));
        m.insert("partition-specs".into(), Value::Array(self.partition_specs.iter().map(PartitionSpec::to_value).collect()));
        m.insert("default-spec-id".into(), Value::from(self.default_spec_id));
        m.insert("last-partition-id".into(), Value::from(self.last_partition_id));
        m.insert("properties".into(), Value::Object(self.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()));
        if let Some(id) = self.current_snapshot_id {
            m.insert("current-snapshot-id".into(), Value::from(id));
        }
        m.insert("snapshots".into(), Value::Array(self.snapshots.iter().map(Snapshot::to_value).collect()));
        m.insert(
            "snapshot-log".into(),
            Value::Array(
                self.snapshot_log
                    .iter()
                    .map(|e| object([("snapshot-id", Value::from(e.snapshot_id)), ("timestamp-ms", Value::from(e.timestamp_ms))]))
                    .collect(),
            ),
        );
        m.insert(
            "metadata-log".into(),
            Value::Array(
                self.metadata_log
                    .iter()
                    .map(|e| {
                        object([("metadata-file", Value::String(e.metadata_file.clone())), ("timestamp-ms", Value::from(e.timestamp_ms))])
                    })
                    .collect(),
            ),
        );
        m.insert("sort-orders".into(), Value::Array(self.sort_orders.clone()));
        m.insert("default-sort-order-id".into(), Value::from(self.default_sort_order_id));
        m.insert("refs".into(), Value::Object(self.refs.iter().map(|(name, r)| (name.clone(), r.to_value())).collect()));
        m.insert("statistics".into(), Value::Array(self.statistics.clone()));
        m.insert("partition-statistics".into(), Value::Array(self.partition_statistics.clone()));
        Value::Object(m).to_string()
    }

    /// Checks the invariants [`Self::from_json`] guarantees: version 2, unique ids, every
    /// reference resolves, sequence numbers in range. For metadata built in code before writing.
    pub fn validate(&self) -> Result<(), MetadataError> {
        if self.format_version != FORMAT_VERSION {
            return Err(MetadataError::UnsupportedVersion(self.format_version));
        }
        if self.last_sequence_number < 0 {
            return Err(MetadataError::NegativeSequenceNumber);
        }
        for schema in &self.schemas {
            schema.validate()?;
        }
        if has_duplicates(self.schemas.iter().map(|s| s.schema_id)) {
            return Err(MetadataError::DuplicateSchemaId);
        }
        if self.current_schema().is_none() {
            return Err(MetadataError::CurrentSchemaMissing);
        }
        if has_duplicates(self.partition_specs.iter().map(|s| s.spec_id)) {
            return Err(MetadataError::DuplicateSpecId);
        }
        if self.default_partition_spec().is_none() {
            return Err(MetadataError::DefaultSpecMissing);
        }
        for snapshot in &self.snapshots {
            if snapshot.sequence_number < 0 {
                return Err(MetadataError::NegativeSequenceNumber);
            }
            if snapshot.sequence_number > self.last_sequence_number {
                return Err(MetadataError::SequenceNumberAhead);
            }
        }
        if has_duplicates(self.snapshots.iter().map(|s| s.snapshot_id)) {
            return Err(MetadataError::DuplicateSnapshotId);
        }
        if let Some(id) = self.current_snapshot_id {
            if self.snapshot_by_id(id).is_none() {
                return Err(MetadataError::CurrentSnapshotMissing);
            }
        }
        if self.refs.values().any(|r| self.snapshot_by_id(r.snapshot_id).is_none()) {
            return Err(MetadataError::RefSnapshotMissing);
        }
        if let Some(main) = self.refs.get(MAIN_BRANCH) {
            if self.current_snapshot_id != Some(main.snapshot_id) {
                return Err(MetadataError::MainBranchMismatch);
            }
        }
        Ok(())
    }

    /// The schema named by `current-schema-id`.
    pub fn current_schema(&self) -> Option<&Schema> {
        self.schema_by_id(self.current_schema_id)
    }

    /// The schema with this `schema-id`.
    pub fn schema_by_id(&self, schema_id: i32) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.schema_id == schema_id)
    }

    /// The partition spec named by `default-spec-id`.
    pub fn default_partition_spec(&self) -> Option<&PartitionSpec> {
        self.partition_spec_by_id(self.default_spec_id)
    }

    /// The partition spec with this `spec-id` (manifests name theirs).
    pub fn partition_spec_by_id(&self, spec_id: i32) -> Option<&PartitionSpec> {
        self.partition_specs.iter().find(|s| s.spec_id == spec_id)
    }

    /// The main branch's current snapshot; `None` for a table without one.
    pub fn current_snapshot(&self) -> Option<&Snapshot> {
        self.current_snapshot_id.and_then(|id| self.snapshot_by_id(id))
    }

    /// The snapshot with this `snapshot-id`.
    pub fn snapshot_by_id(&self, snapshot_id: i64) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.snapshot_id == snapshot_id)
    }

    /// Time travel: the snapshot that was current at `timestamp_ms`, from `snapshot-log` — the
    /// last entry, in log order, whose timestamp is at most `timestamp_ms` (as Java's
    /// `SnapshotUtil.snapshotIdAsOfTime`). `None` before the first entry, or when that snapshot
    /// has been expired.
    pub fn snapshot_as_of(&self, timestamp_ms: i64) -> Option<&Snapshot> {
        let entry = self.snapshot_log.iter().rev().find(|e| e.timestamp_ms <= timestamp_ms)?;
        self.snapshot_by_id(entry.snapshot_id)
    }
}

fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn has_duplicates<T: Ord>(items: impl Iterator<Item = T>) -> bool {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v.windows(2).any(|w| matches!(w, [a, b] if a == b))
}

// --- JSON values → domain (schemas are read from `Value`: types nest) ---------------------------

fn member<'a>(obj: &'a Map<String, Value>, key: &'static str) -> Result<&'a Value, MetadataError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(MetadataError::MissingField(key)),
        Some(v) => Ok(v),
    }
}

fn int<T: TryFrom<i64>>(v: &Value) -> Result<T, MetadataError> {
    v.as_i64().and_then(|n| T::try_from(n).ok()).ok_or(MetadataError::Malformed)
}

fn boolean(v: &Value) -> Result<bool, MetadataError> {
    v.as_bool().ok_or(MetadataError::Malformed)
}

fn string(v: &Value) -> Result<String, MetadataError> {
    v.as_str().map(str::to_string).ok_or(MetadataError::Malformed)
}

fn required<T>(value: Option<T>, key: &'static str) -> Result<T, MetadataError> {
    value.ok_or(MetadataError::MissingField(key))
}

impl TryFrom<wire::TableMetadata> for TableMetadata {
    type Error = MetadataError;

    fn try_from(w: wire::TableMetadata) -> Result<Self, MetadataError> {
        let format_version = required(w.format_version, "format-version")?;
        if format_version != FORMAT_VERSION {
            return Err(MetadataError::UnsupportedVersion(format_version));
        }
        let schemas = required(w.schemas, "schemas")?.iter().map(schema_from_value).collect::<Result<_, _>>()?;
        let partition_specs =
            required(w.partition_specs, "partition-specs")?.into_iter().map(PartitionSpec::try_from).collect::<Result<_, _>>()?;
        let snapshots = w.snapshots.unwrap_or_default().into_iter().map(Snapshot::try_from).collect::<Result<_, _>>()?;
        let snapshot_log = w
            .snapshot_log
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                Ok(SnapshotLogEntry {
                    snapshot_id: required(e.snapshot_id, "snapshot-id")?,
                    timestamp_ms: required(e.timestamp_ms, "timestamp-ms")?,
                })
            })
            .collect::<Result<_, MetadataError>>()?;
        let metadata_log = w
            .metadata_log
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                Ok(MetadataLogEntry {
                    metadata_file: required(e.metadata_file, "metadata-file")?,
                    timestamp_ms: required(e.timestamp_ms, "timestamp-ms")?,
                })
            })
            .collect::<Result<_, MetadataError>>()?;
        let refs = w
            .refs
            .unwrap_or_default()
            .into_iter()
            .map(|(name, r)| Ok((name, SnapshotRef::try_from(r)?)))
            .collect::<Result<_, MetadataError>>()?;
        Ok(TableMetadata {
            format_version,
            table_uuid: required(w.table_uuid, "table-uuid")?,
            location: required(w.location, "location")?,
            last_sequence_number: required(w.last_sequence_number, "last-sequence-number")?,
            last_updated_ms: required(w.last_updated_ms, "last-updated-ms")?,
            last_column_id: required(w.last_column_id, "last-column-id")?,
            schemas,
            current_schema_id: required(w.current_schema_id, "current-schema-id")?,
            partition_specs,
            default_spec_id: required(w.default_spec_id, "default-spec-id")?,
            last_partition_id: required(w.last_partition_id, "last-partition-id")?,
            properties: w.properties.unwrap_or_default(),
            // Java wrote -1 for "no snapshot" before it wrote nothing.
            current_snapshot_id: w.current_snapshot_id.filter(|&id| id != -1),
            snapshots,
            snapshot_log,
            metadata_log,
            sort_orders: required(w.sort_orders, "sort-orders")?,
            default_sort_order_id: required(w.default_sort_order_id, "default-sort-order-id")?,
            refs,
            statistics: w.statistics.unwrap_or_default(),
            partition_statistics: w.partition_statistics.unwrap_or_default(),
        })
    }
}
