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

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

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
            Self::UnsupportedVersion(1) => {
                "format version 1 is not supported: it has no sequence numbers (upgrade the table to v2)"
            }
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

/// One schema: a struct of fields with ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// `schema-id`.
    pub schema_id: i32,
    /// `identifier-field-ids`: the row identity fields, if any.
    pub identifier_field_ids: Vec<i32>,
    /// `fields`: the top-level fields, in order.
    pub fields: Vec<NestedField>,
}

/// A field of a schema or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedField {
    /// `id`: the field id, unique in its schema.
    pub id: i32,
    /// `name`.
    pub name: String,
    /// `required`: whether every row has a value.
    pub required: bool,
    /// `type`.
    pub field_type: Type,
    /// `doc`.
    pub doc: Option<String>,
}

/// A field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A primitive, written as a string (`"long"`, `"decimal(9, 2)"`).
    Primitive(PrimitiveType),
    /// `{"type": "struct", "fields": [...]}`.
    Struct(StructType),
    /// `{"type": "list", "element-id", "element", "element-required"}`.
    List(ListType),
    /// `{"type": "map", "key-id", "key", "value-id", "value", "value-required"}`.
    Map(MapType),
}

/// The v2 primitive types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimitiveType {
    /// `boolean`.
    Boolean,
    /// `int`: 32-bit signed.
    Int,
    /// `long`: 64-bit signed.
    Long,
    /// `float`: 32-bit IEEE 754.
    Float,
    /// `double`: 64-bit IEEE 754.
    Double,
    /// `decimal(P, S)`: precision 1 to 38, scale at most the precision.
    Decimal {
        /// P.
        precision: u32,
        /// S.
        scale: u32,
    },
    /// `date`: days since the epoch.
    Date,
    /// `time`: microseconds since midnight.
    Time,
    /// `timestamp`: microseconds, no zone.
    Timestamp,
    /// `timestamptz`: microseconds, UTC.
    Timestamptz,
    /// `string`: UTF-8.
    String,
    /// `uuid`.
    Uuid,
    /// `fixed[L]`: L bytes.
    Fixed(u64),
    /// `binary`.
    Binary,
}

/// A struct type's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StructType {
    /// `fields`.
    pub fields: Vec<NestedField>,
}

/// A list type.
#[derive(Debug, Clone, PartialEq)]
pub struct ListType {
    /// `element-id`: the element's field id.
    pub element_id: i32,
    /// `element-required`.
    pub element_required: bool,
    /// `element`: the element type.
    pub element: Box<Type>,
}

/// A map type.
#[derive(Debug, Clone, PartialEq)]
pub struct MapType {
    /// `key-id`: the key's field id.
    pub key_id: i32,
    /// `key`: the key type (keys are always required).
    pub key: Box<Type>,
    /// `value-id`: the value's field id.
    pub value_id: i32,
    /// `value-required`.
    pub value_required: bool,
    /// `value`: the value type.
    pub value: Box<Type>,
}

/// A partition spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    /// `spec-id`.
    pub spec_id: i32,
    /// `fields`: the partition fields, in order (the order of the manifest `partition` struct).
    pub fields: Vec<PartitionField>,
}

/// One partition field.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    /// `source-id`: the schema field it is computed from.
    pub source_id: i32,
    /// `field-id`: its own id (1000 and up), the id of the partition value in manifests.
    pub field_id: i32,
    /// `name`.
    pub name: String,
    /// `transform`.
    pub transform: Transform,
}

/// A partition transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// `identity`.
    Identity,
    /// `bucket[N]`.
    Bucket(u32),
    /// `truncate[W]`.
    Truncate(u32),
    /// `year`.
    Year,
    /// `month`.
    Month,
    /// `day`.
    Day,
    /// `hour`.
    Hour,
    /// `void`: always null.
    Void,
    /// Anything else, kept as written; readers cannot prune on it.
    Unknown(String),
}

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

/// The Iceberg type of a record-contract column (`shared::record::COLUMNS`); list elements are
/// optional when `element_required` is false.
///
/// These are the types an R2 Data Catalog sink creates from the stream schema
/// (`wrangler/stream-schema.json`, generated from the same columns): a stream `timestamp` becomes
/// Iceberg `timestamp` without a zone (the sink's engine maps zone-less SQL timestamps to Arrow
/// `Timestamp(Microsecond, None)`), so [`ColumnType::TimestampMicros`] is `timestamp`, not
/// `timestamptz`. Readers take either (tables written by other tools use `timestamptz`).
///
/// [`ColumnType::TimestampMicros`]: crate::record::ColumnType::TimestampMicros
pub fn record_column_type(ty: crate::record::ColumnType, element_required: bool) -> Type {
    use crate::record::ColumnType;
    match ty {
        ColumnType::String => Type::Primitive(PrimitiveType::String),
        ColumnType::TimestampMicros => Type::Primitive(PrimitiveType::Timestamp),
        ColumnType::Long => Type::Primitive(PrimitiveType::Long),
        ColumnType::Boolean => Type::Primitive(PrimitiveType::Boolean),
        ColumnType::StringList { element_id } => Type::List(ListType {
            element_id,
            element_required,
            element: alloc::boxed::Box::new(Type::Primitive(PrimitiveType::String)),
        }),
    }
}

/// The table schema (id 0) of the record contract: every column with its field id and
/// `required` flag, list elements optional. The stand-in writes it; serve reads by name.
pub fn record_schema() -> Schema {
    let fields = crate::record::COLUMNS
        .iter()
        .map(|c| NestedField { id: c.field_id, name: c.name.into(), required: c.required, field_type: record_column_type(c.ty, false), doc: None })
        .collect();
    Schema { schema_id: 0, identifier_field_ids: Vec::new(), fields }
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
                    Ok(wire::VersionProbe { format_version: Some(v) }) if v != FORMAT_VERSION => {
                        MetadataError::UnsupportedVersion(v)
                    }
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
        m.insert(
            "partition-specs".into(),
            Value::Array(self.partition_specs.iter().map(PartitionSpec::to_value).collect()),
        );
        m.insert("default-spec-id".into(), Value::from(self.default_spec_id));
        m.insert("last-partition-id".into(), Value::from(self.last_partition_id));
        m.insert(
            "properties".into(),
            Value::Object(self.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
        );
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
                        object([
                            ("metadata-file", Value::String(e.metadata_file.clone())),
                            ("timestamp-ms", Value::from(e.timestamp_ms)),
                        ])
                    })
                    .collect(),
            ),
        );
        m.insert("sort-orders".into(), Value::Array(self.sort_orders.clone()));
        m.insert("default-sort-order-id".into(), Value::from(self.default_sort_order_id));
        m.insert(
            "refs".into(),
            Value::Object(self.refs.iter().map(|(name, r)| (name.clone(), r.to_value())).collect()),
        );
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

impl Schema {
    /// The top-level field with this name (exact, case-sensitive).
    pub fn field_by_name(&self, name: &str) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field id of the top-level field with this name.
    pub fn field_id_by_name(&self, name: &str) -> Option<i32> {
        self.field_by_name(name).map(|f| f.id)
    }

    /// The top-level field with this id.
    pub fn field_by_id(&self, id: i32) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// Field ids unique at every depth, names unique in every struct.
    fn validate(&self) -> Result<(), MetadataError> {
        let mut ids = Vec::new();
        collect_ids(&self.fields, &mut ids)?;
        if has_duplicates(ids.into_iter()) {
            return Err(MetadataError::DuplicateFieldId);
        }
        Ok(())
    }

    fn to_value(&self) -> Value {
        object([
            ("type", Value::String("struct".into())),
            ("schema-id", Value::from(self.schema_id)),
            ("identifier-field-ids", Value::Array(self.identifier_field_ids.iter().map(|&i| Value::from(i)).collect())),
            ("fields", fields_to_value(&self.fields)),
        ])
    }
}

impl PartitionSpec {
    /// Whether no field partitions anything (no fields, or only `void` ones).
    pub fn is_unpartitioned(&self) -> bool {
        self.fields.iter().all(|f| f.transform == Transform::Void)
    }

    fn to_value(&self) -> Value {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                object([
                    ("source-id", Value::from(f.source_id)),
                    ("field-id", Value::from(f.field_id)),
                    ("name", Value::String(f.name.clone())),
                    ("transform", Value::String(f.transform.to_string())),
                ])
            })
            .collect();
        object([("spec-id", Value::from(self.spec_id)), ("fields", Value::Array(fields))])
    }
}

impl Transform {
    /// Parses a `transform` string; anything unrecognised is [`Transform::Unknown`].
    pub fn parse(s: &str) -> Self {
        let arg = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(']')).and_then(|n| n.trim().parse().ok());
        match s {
            "identity" => Self::Identity,
            "year" => Self::Year,
            "month" => Self::Month,
            "day" => Self::Day,
            "hour" => Self::Hour,
            "void" => Self::Void,
            _ => {
                if let Some(n) = arg("bucket[") {
                    Self::Bucket(n)
                } else if let Some(w) = arg("truncate[") {
                    Self::Truncate(w)
                } else {
                    Self::Unknown(s.to_string())
                }
            }
        }
    }
}

impl core::fmt::Display for Transform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Identity => f.write_str("identity"),
            Self::Bucket(n) => write!(f, "bucket[{n}]"),
            Self::Truncate(w) => write!(f, "truncate[{w}]"),
            Self::Year => f.write_str("year"),
            Self::Month => f.write_str("month"),
            Self::Day => f.write_str("day"),
            Self::Hour => f.write_str("hour"),
            Self::Void => f.write_str("void"),
            Self::Unknown(s) => f.write_str(s),
        }
    }
}

impl PrimitiveType {
    /// Parses a primitive type name (`long`, `decimal(9, 2)`, `fixed[16]`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "boolean" => Self::Boolean,
            "int" => Self::Int,
            "long" => Self::Long,
            "float" => Self::Float,
            "double" => Self::Double,
            "date" => Self::Date,
            "time" => Self::Time,
            "timestamp" => Self::Timestamp,
            "timestamptz" => Self::Timestamptz,
            "string" => Self::String,
            "uuid" => Self::Uuid,
            "binary" => Self::Binary,
            _ => {
                if let Some(len) = s.strip_prefix("fixed[").and_then(|r| r.strip_suffix(']')) {
                    Self::Fixed(number(len)?)
                } else {
                    let inner = s.strip_prefix("decimal(")?.strip_suffix(')')?;
                    let (p, sc) = inner.split_once(',')?;
                    let (precision, scale) = (number(p)?, number(sc)?);
                    if precision == 0 || precision > 38 || scale > precision {
                        return None;
                    }
                    Self::Decimal { precision, scale }
                }
            }
        })
    }
}

/// Digits only (no sign), surrounding spaces allowed.
fn number<T: core::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl core::fmt::Display for PrimitiveType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::Int => f.write_str("int"),
            Self::Long => f.write_str("long"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision}, {scale})"),
            Self::Date => f.write_str("date"),
            Self::Time => f.write_str("time"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Timestamptz => f.write_str("timestamptz"),
            Self::String => f.write_str("string"),
            Self::Uuid => f.write_str("uuid"),
            Self::Fixed(len) => write!(f, "fixed[{len}]"),
            Self::Binary => f.write_str("binary"),
        }
    }
}

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
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("snapshot-id".into(), Value::from(self.snapshot_id));
        if let Some(parent) = self.parent_snapshot_id {
            m.insert("parent-snapshot-id".into(), Value::from(parent));
        }
        m.insert("sequence-number".into(), Value::from(self.sequence_number));
        m.insert("timestamp-ms".into(), Value::from(self.timestamp_ms));
        m.insert("manifest-list".into(), Value::String(self.manifest_list.clone()));
        let mut summary: Map<String, Value> =
            self.summary.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        summary.insert("operation".into(), Value::String(self.summary.operation.as_str().into()));
        m.insert("summary".into(), Value::Object(summary));
        if let Some(schema_id) = self.schema_id {
            m.insert("schema-id".into(), Value::from(schema_id));
        }
        Value::Object(m)
    }
}

impl SnapshotRef {
    fn to_value(self) -> Value {
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

fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn has_duplicates<T: Ord>(items: impl Iterator<Item = T>) -> bool {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v.windows(2).any(|w| matches!(w, [a, b] if a == b))
}

/// Pushes every field id (fields, list elements, map keys and values) under `fields`, and checks
/// names are unique in each struct. Recursion is bounded by the parse depth limit.
fn collect_ids(fields: &[NestedField], ids: &mut Vec<i32>) -> Result<(), MetadataError> {
    if has_duplicates(fields.iter().map(|f| f.name.as_str())) {
        return Err(MetadataError::DuplicateFieldName);
    }
    for field in fields {
        ids.push(field.id);
        collect_type_ids(&field.field_type, ids)?;
    }
    Ok(())
}

fn collect_type_ids(ty: &Type, ids: &mut Vec<i32>) -> Result<(), MetadataError> {
    match ty {
        Type::Primitive(_) => Ok(()),
        Type::Struct(s) => collect_ids(&s.fields, ids),
        Type::List(l) => {
            ids.push(l.element_id);
            collect_type_ids(&l.element, ids)
        }
        Type::Map(m) => {
            ids.push(m.key_id);
            ids.push(m.value_id);
            collect_type_ids(&m.key, ids)?;
            collect_type_ids(&m.value, ids)
        }
    }
}

fn fields_to_value(fields: &[NestedField]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("id".into(), Value::from(f.id));
                m.insert("name".into(), Value::String(f.name.clone()));
                m.insert("required".into(), Value::Bool(f.required));
                m.insert("type".into(), type_to_value(&f.field_type));
                if let Some(doc) = &f.doc {
                    m.insert("doc".into(), Value::String(doc.clone()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

fn type_to_value(ty: &Type) -> Value {
    match ty {
        Type::Primitive(p) => Value::String(p.to_string()),
        Type::Struct(s) => object([("type", Value::String("struct".into())), ("fields", fields_to_value(&s.fields))]),
        Type::List(l) => object([
            ("type", Value::String("list".into())),
            ("element-id", Value::from(l.element_id)),
            ("element", type_to_value(&l.element)),
            ("element-required", Value::Bool(l.element_required)),
        ]),
        Type::Map(m) => object([
            ("type", Value::String("map".into())),
            ("key-id", Value::from(m.key_id)),
            ("key", type_to_value(&m.key)),
            ("value-id", Value::from(m.value_id)),
            ("value", type_to_value(&m.value)),
            ("value-required", Value::Bool(m.value_required)),
        ]),
    }
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

fn schema_from_value(v: &Value) -> Result<Schema, MetadataError> {
    let obj = v.as_object().ok_or(MetadataError::Malformed)?;
    match obj.get("type") {
        None => {}
        Some(Value::String(t)) if t == "struct" => {}
        Some(_) => return Err(MetadataError::InvalidType),
    }
    let identifier_field_ids = match obj.get("identifier-field-ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids.iter().map(int).collect::<Result<_, _>>()?,
        Some(_) => return Err(MetadataError::Malformed),
    };
    Ok(Schema {
        schema_id: int(member(obj, "schema-id")?)?,
        identifier_field_ids,
        fields: fields_from_value(member(obj, "fields")?, 1)?,
    })
}

fn fields_from_value(v: &Value, depth: usize) -> Result<Vec<NestedField>, MetadataError> {
    let items = v.as_array().ok_or(MetadataError::Malformed)?;
    items
        .iter()
        .map(|item| {
            let obj = item.as_object().ok_or(MetadataError::Malformed)?;
            let doc = match obj.get("doc") {
                None | Some(Value::Null) => None,
                Some(d) => Some(string(d)?),
            };
            Ok(NestedField {
                id: int(member(obj, "id")?)?,
                name: string(member(obj, "name")?)?,
                required: boolean(member(obj, "required")?)?,
                field_type: type_from_value(member(obj, "type")?, depth)?,
                doc,
            })
        })
        .collect()
}

fn type_from_value(v: &Value, depth: usize) -> Result<Type, MetadataError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(MetadataError::TypeTooDeep);
    }
    let obj = match v {
        Value::String(name) => return PrimitiveType::parse(name).map(Type::Primitive).ok_or(MetadataError::InvalidType),
        Value::Object(obj) => obj,
        _ => return Err(MetadataError::InvalidType),
    };
    let inner = |key: &'static str| -> Result<Box<Type>, MetadataError> {
        Ok(Box::new(type_from_value(member(obj, key)?, depth + 1)?))
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("struct") => Ok(Type::Struct(StructType { fields: fields_from_value(member(obj, "fields")?, depth + 1)? })),
        Some("list") => Ok(Type::List(ListType {
            element_id: int(member(obj, "element-id")?)?,
            element_required: boolean(member(obj, "element-required")?)?,
            element: inner("element")?,
        })),
        Some("map") => Ok(Type::Map(MapType {
            key_id: int(member(obj, "key-id")?)?,
            key: inner("key")?,
            value_id: int(member(obj, "value-id")?)?,
            value_required: boolean(member(obj, "value-required")?)?,
            value: inner("value")?,
        })),
        _ => Err(MetadataError::InvalidType),
    }
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
        let partition_specs = required(w.partition_specs, "partition-specs")?
            .into_iter()
            .map(PartitionSpec::try_from)
            .collect::<Result<_, _>>()?;
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

impl TryFrom<wire::PartitionSpec> for PartitionSpec {
    type Error = MetadataError;

    fn try_from(w: wire::PartitionSpec) -> Result<Self, MetadataError> {
        let fields = required(w.fields, "fields")?
            .into_iter()
            .map(|f| {
                Ok(PartitionField {
                    source_id: required(f.source_id, "source-id")?,
                    field_id: required(f.field_id, "field-id")?,
                    name: required(f.name, "name")?,
                    transform: Transform::parse(&required(f.transform, "transform")?),
                })
            })
            .collect::<Result<_, MetadataError>>()?;
        Ok(PartitionSpec { spec_id: required(w.spec_id, "spec-id")?, fields })
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

/// What serde decodes: every member optional, so absence is reported by name.
mod wire {
    use alloc::collections::BTreeMap;
    use alloc::string::String;
    use alloc::vec::Vec;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct TableMetadata {
        pub format_version: Option<i64>,
        pub table_uuid: Option<String>,
        pub location: Option<String>,
        pub last_sequence_number: Option<i64>,
        pub last_updated_ms: Option<i64>,
        pub last_column_id: Option<i32>,
        pub schemas: Option<Vec<Value>>,
        pub current_schema_id: Option<i32>,
        pub partition_specs: Option<Vec<PartitionSpec>>,
        pub default_spec_id: Option<i32>,
        pub last_partition_id: Option<i32>,
        pub properties: Option<BTreeMap<String, String>>,
        pub current_snapshot_id: Option<i64>,
        pub snapshots: Option<Vec<Snapshot>>,
        pub snapshot_log: Option<Vec<SnapshotLogEntry>>,
        pub metadata_log: Option<Vec<MetadataLogEntry>>,
        pub sort_orders: Option<Vec<Value>>,
        pub default_sort_order_id: Option<i32>,
        pub refs: Option<BTreeMap<String, SnapshotRef>>,
        pub statistics: Option<Vec<Value>>,
        pub partition_statistics: Option<Vec<Value>>,
    }

    /// Read after a shape error, to report another format version instead.
    #[derive(Deserialize)]
    pub(super) struct VersionProbe {
        #[serde(rename = "format-version")]
        pub format_version: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct PartitionSpec {
        pub spec_id: Option<i32>,
        pub fields: Option<Vec<PartitionField>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct PartitionField {
        pub source_id: Option<i32>,
        pub field_id: Option<i32>,
        pub name: Option<String>,
        pub transform: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct Snapshot {
        pub snapshot_id: Option<i64>,
        pub parent_snapshot_id: Option<i64>,
        pub sequence_number: Option<i64>,
        pub timestamp_ms: Option<i64>,
        pub manifest_list: Option<String>,
        pub summary: Option<BTreeMap<String, String>>,
        pub schema_id: Option<i32>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct SnapshotLogEntry {
        pub snapshot_id: Option<i64>,
        pub timestamp_ms: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct MetadataLogEntry {
        pub metadata_file: Option<String>,
        pub timestamp_ms: Option<i64>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "kebab-case")]
    pub(super) struct SnapshotRef {
        pub snapshot_id: Option<i64>,
        #[serde(rename = "type")]
        pub ref_type: Option<String>,
        pub min_snapshots_to_keep: Option<i32>,
        pub max_snapshot_age_ms: Option<i64>,
        pub max_ref_age_ms: Option<i64>,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::record::COLUMNS;
    use alloc::vec;
    use serde_json::json;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg")
    }

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn expected() -> Value {
        serde_json::from_slice(&read("pyiceberg/expected.json")).unwrap()
    }

    fn parse_fixture(rel: &str) -> TableMetadata {
        TableMetadata::from_json(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Every metadata file of every generated table, as paths under `pyiceberg/`, per table.
    fn metadata_files(table: &Value) -> Vec<String> {
        table["metadata_files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    }

    fn final_metadata(e: &Value, table: &str) -> TableMetadata {
        let files = metadata_files(&e["tables"][table]);
        parse_fixture(&alloc::format!("pyiceberg/{}", files.last().unwrap()))
    }

    #[test]
    fn parses_every_pyiceberg_metadata_version() {
        let e = expected();
        let prefix = e["location_prefix"].as_str().unwrap();
        let tables = e["tables"].as_object().unwrap();
        assert_eq!(tables.len(), 3);
        let mut parsed = 0;
        for (name, table) in tables {
            let files = metadata_files(table);
            // The directory holds exactly the files expected.json lists.
            let dir = fixtures().join("pyiceberg").join(files[0].rsplit_once('/').unwrap().0);
            let on_disk = std::fs::read_dir(&dir)
                .unwrap()
                .filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().ends_with(".metadata.json"))
                .count();
            assert_eq!(on_disk, files.len(), "{name}");
            let mut last_count = 0;
            for (i, file) in files.iter().enumerate() {
                let m = parse_fixture(&alloc::format!("pyiceberg/{file}"));
                assert_eq!(m.format_version, 2);
                assert!(m.location.starts_with(prefix), "{file}");
                assert_eq!(m.metadata_log.len(), i, "{file}");
                assert!(m.snapshots.len() >= last_count, "{file}");
                assert_eq!(m.snapshot_log.len(), m.snapshots.len(), "{file}: pyiceberg expires nothing");
                assert_eq!(m.current_snapshot().map(|s| s.snapshot_id), m.snapshot_log.last().map(|l| l.snapshot_id));
                assert!(m.current_schema().is_some());
                if i == 0 {
                    assert_eq!(m.current_snapshot_id, None, "{file}: a new table has no snapshot");
                    assert_eq!(m.last_sequence_number, 0);
                }
                last_count = m.snapshots.len();
                parsed += 1;
            }
            assert_eq!(last_count, table["snapshots"].as_array().unwrap().len(), "{name}");
        }
        assert_eq!(parsed, 6 + 3 + 4);
    }

    #[test]
    fn final_metadata_matches_expected() {
        let e = expected();
        let prefix = e["location_prefix"].as_str().unwrap();
        for (name, table) in e["tables"].as_object().unwrap() {
            let m = final_metadata(&e, name);
            let current_path = table["metadata_location"].as_str().unwrap().strip_prefix(prefix).unwrap();
            assert_eq!(current_path, metadata_files(table).last().unwrap().as_str(), "{name}");
            assert_eq!(i64::from(m.current_schema_id), table["current_schema_id"].as_i64().unwrap());
            assert_eq!(m.last_sequence_number, table["last_sequence_number"].as_i64().unwrap());
            assert_eq!(m.current_snapshot_id, table["current_snapshot_id"].as_i64());
            let schema = m.current_schema().unwrap();
            let ids = table["field_ids"].as_object().unwrap();
            assert_eq!(schema.fields.len(), ids.len(), "{name}");
            for (field, id) in ids {
                assert_eq!(schema.field_id_by_name(field).map(i64::from), id.as_i64(), "{name}.{field}");
            }
            let spec = m.default_partition_spec().unwrap();
            let want_spec = table["partition_fields"].as_array().unwrap();
            assert_eq!(spec.fields.len(), want_spec.len());
            for (got, want) in spec.fields.iter().zip(want_spec) {
                assert_eq!(i64::from(got.source_id), want["source_id"].as_i64().unwrap());
                assert_eq!(i64::from(got.field_id), want["field_id"].as_i64().unwrap());
                assert_eq!(got.name, want["name"].as_str().unwrap());
                assert_eq!(got.transform.to_string(), want["transform"].as_str().unwrap());
            }
            let want = table["snapshots"].as_array().unwrap();
            assert_eq!(m.snapshots.len(), want.len(), "{name}");
            for (s, w) in m.snapshots.iter().zip(want) {
                assert_eq!(s.snapshot_id, w["snapshot_id"].as_i64().unwrap());
                assert_eq!(s.parent_snapshot_id, w["parent_snapshot_id"].as_i64());
                assert_eq!(s.sequence_number, w["sequence_number"].as_i64().unwrap());
                assert_eq!(s.timestamp_ms, w["timestamp_ms"].as_i64().unwrap());
                assert_eq!(s.summary.operation.as_str(), w["operation"].as_str().unwrap());
                assert_eq!(s.manifest_list, w["manifest_list"].as_str().unwrap());
                assert_eq!(s.schema_id, Some(m.current_schema_id));
                // The manifest list is where the location prefix maps it.
                let local = s.manifest_list.strip_prefix(prefix).unwrap();
                assert!(fixtures().join("pyiceberg").join(local).is_file(), "{local}");
            }
            let current = m.current_snapshot().unwrap();
            assert_eq!(Some(current.snapshot_id), m.refs.get(MAIN_BRANCH).map(|r| r.snapshot_id));
            assert!(current.manifest_list.starts_with(&alloc::format!("{}/metadata/snap-{}-", m.location, current.snapshot_id)));
        }
    }

    #[test]
    fn unpartitioned_table_history_and_manifest_list() {
        let m = final_metadata(&expected(), "artifacts.pyi_unpartitioned");
        let ops: Vec<Operation> = m.snapshots.iter().map(|s| s.summary.operation).collect();
        use Operation::*;
        assert_eq!(ops, [Append, Append, Append, Delete, Overwrite, Append]);
        assert_eq!(m.snapshots.iter().map(|s| s.sequence_number).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        let current = m.current_snapshot().unwrap();
        assert_eq!(
            current.manifest_list,
            "file:///tmp/artifacts-fixtures-warehouse/artifacts/pyi_unpartitioned/metadata/\
             snap-1311625791730053213-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.avro"
        );
        assert_eq!(current.summary.properties.get("total-records").map(String::as_str), Some("15"));
        assert_eq!(m.snapshots[3].summary.properties.get("deleted-data-files").map(String::as_str), Some("1"));
        assert_eq!(m.last_partition_id, 999);
        assert!(m.default_partition_spec().unwrap().is_unpartitioned());
        assert_eq!(m.sort_orders, vec![json!({"order-id": 0, "fields": []})]);
    }

    #[test]
    fn record_tables_carry_the_contract_field_ids() {
        let e = expected();
        for name in ["artifacts.pyi_unpartitioned", "artifacts.pyi_partitioned"] {
            let m = final_metadata(&e, name);
            let schema = m.current_schema().unwrap();
            // These tables were written with contract v1 (field ids up to 22) and stay that way:
            // old tables must keep reading; the v2 columns are simply absent from them.
            let v1: Vec<_> = COLUMNS.iter().filter(|c| c.field_id <= 22).collect();
            assert_eq!(schema.fields.len(), v1.len());
            assert_eq!(m.last_column_id, 22);
            for c in v1 {
                let f = schema.field_by_name(c.name).unwrap();
                assert_eq!((f.id, f.required), (c.field_id, c.required), "{name}.{}", c.name);
                // pyiceberg declares list elements required; generate.py declares the record's
                // timestamps `timestamptz` (the contract's type before the stream schema fixed it
                // to the sink's zone-less `timestamp`): serve reads both.
                let want = match record_column_type(c.ty, true) {
                    Type::Primitive(PrimitiveType::Timestamp) => Type::Primitive(PrimitiveType::Timestamptz),
                    t => t,
                };
                assert_eq!(f.field_type, want, "{name}.{}", c.name);
                assert_eq!(schema.field_by_id(c.field_id).map(|f| f.name.as_str()), Some(c.name));
            }
        }
        let spec = final_metadata(&e, "artifacts.pyi_partitioned").default_partition_spec().unwrap().clone();
        assert!(!spec.is_unpartitioned());
        assert_eq!(
            spec.fields,
            [PartitionField { source_id: 1, field_id: 1000, name: "ns".into(), transform: Transform::Identity }]
        );
    }

    #[test]
    fn renumbered_table_reads_ids_from_its_current_schema() {
        let m = final_metadata(&expected(), "artifacts.pyi_renumbered");
        assert_eq!(m.schemas.len(), 2);
        assert_eq!(m.current_schema_id, 1);
        assert_eq!(m.last_column_id, 15);
        let current = m.current_schema().unwrap();
        let ids: Vec<(&str, i32)> = current.fields.iter().map(|f| (f.name.as_str(), f.id)).collect();
        assert_eq!(ids, [("ns", 10), ("type", 11), ("id", 12), ("ts", 13), ("markdown", 14), ("extra_col", 15)]);
        assert_eq!(current.field_by_name("extra_col").unwrap().field_type, Type::Primitive(PrimitiveType::Int));
        assert_eq!(current.field_id_by_name("visibility"), None);
        assert_eq!(current.field_id_by_name("NS"), None);
        let old = m.schema_by_id(0).unwrap();
        assert_eq!(old.field_id_by_name("legacy_1"), Some(1));
        assert_eq!(old.field_id_by_name("ns"), None);
    }

    #[test]
    fn invalid_fixtures_fail_with_exact_errors() {
        let cases = [
            ("MissingSchemas.json", MetadataError::MissingField("schemas")),
            ("UnsupportedVersion.json", MetadataError::UnsupportedVersion(3)),
            ("NotJson.json", MetadataError::NotJson),
            ("CurrentSnapshotMissing.json", MetadataError::CurrentSnapshotMissing),
        ];
        for (file, want) in cases {
            assert_eq!(TableMetadata::from_json(&read(&alloc::format!("invalid/{file}"))), Err(want), "{file}");
        }
    }

    #[test]
    fn invalid_fixtures_have_exactly_one_defect() {
        let load = |file: &str| -> Value { serde_json::from_slice(&read(&alloc::format!("invalid/{file}"))).unwrap() };
        let mut v = load("MissingSchemas.json");
        let schema = v.as_object_mut().unwrap().remove("schema").unwrap();
        v["schemas"] = json!([schema]);
        assert!(TableMetadata::from_json(v.to_string().as_bytes()).is_ok());
        let mut v = load("UnsupportedVersion.json");
        v["format-version"] = json!(2);
        assert!(TableMetadata::from_json(v.to_string().as_bytes()).is_ok());
        let mut v = load("CurrentSnapshotMissing.json");
        v["current-snapshot-id"] = v["snapshots"][0]["snapshot-id"].clone();
        assert!(TableMetadata::from_json(v.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn to_json_round_trips_every_fixture_to_the_same_json() {
        let e = expected();
        for table in e["tables"].as_object().unwrap().values() {
            for file in metadata_files(table) {
                let bytes = read(&alloc::format!("pyiceberg/{file}"));
                let m = TableMetadata::from_json(&bytes).unwrap();
                let written = m.to_json();
                assert_eq!(TableMetadata::from_json(written.as_bytes()).unwrap(), m, "{file}");
                // Member for member what pyiceberg wrote: same names, same values.
                let ours: Value = serde_json::from_str(&written).unwrap();
                let theirs: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(ours, theirs, "{file}");
            }
        }
    }

    fn built() -> TableMetadata {
        let string = || Box::new(Type::Primitive(PrimitiveType::String));
        let field = |id, name: &str, required, field_type| NestedField {
            id,
            name: name.into(),
            required,
            field_type,
            doc: None,
        };
        let mut props = BTreeMap::new();
        props.insert("write.format.default".to_string(), "parquet".to_string());
        let mut summary = BTreeMap::new();
        summary.insert("added-records".to_string(), "3".to_string());
        let mut refs = BTreeMap::new();
        refs.insert(
            MAIN_BRANCH.to_string(),
            SnapshotRef { snapshot_id: 7, ref_type: RefType::Branch, min_snapshots_to_keep: Some(3), max_snapshot_age_ms: Some(86_400_000), max_ref_age_ms: None },
        );
        refs.insert(
            "release".to_string(),
            SnapshotRef { snapshot_id: 6, ref_type: RefType::Tag, min_snapshots_to_keep: None, max_snapshot_age_ms: None, max_ref_age_ms: Some(1) },
        );
        let snapshot = |id: i64, parent, seq, operation| Snapshot {
            snapshot_id: id,
            parent_snapshot_id: parent,
            sequence_number: seq,
            timestamp_ms: 1_000 * id,
            manifest_list: alloc::format!("s3://b/t/metadata/snap-{id}.avro"),
            summary: Summary { operation, properties: summary.clone() },
            schema_id: Some(0),
        };
        TableMetadata {
            format_version: 2,
            table_uuid: "2c5e7b2a-0d0a-4b8e-9d65-6f0c8c1b5a10".into(),
            location: "s3://b/t".into(),
            last_sequence_number: 2,
            last_updated_ms: 7_000,
            last_column_id: 12,
            schemas: vec![Schema {
                schema_id: 0,
                identifier_field_ids: vec![1],
                fields: vec![
                    NestedField { doc: Some("namespace".into()), ..field(1, "ns", true, Type::Primitive(PrimitiveType::String)) },
                    field(2, "price", false, Type::Primitive(PrimitiveType::Decimal { precision: 9, scale: 2 })),
                    field(3, "digest", false, Type::Primitive(PrimitiveType::Fixed(32))),
                    field(
                        4,
                        "attrs",
                        false,
                        Type::Map(MapType { key_id: 5, key: string(), value_id: 6, value_required: false, value: string() }),
                    ),
                    field(
                        7,
                        "loc",
                        false,
                        Type::Struct(StructType {
                            fields: vec![
                                field(8, "lat", true, Type::Primitive(PrimitiveType::Double)),
                                field(9, "tags", false, Type::List(ListType { element_id: 10, element_required: false, element: string() })),
                            ],
                        }),
                    ),
                    field(11, "day", false, Type::Primitive(PrimitiveType::Date)),
                    field(12, "raw", false, Type::Primitive(PrimitiveType::Binary)),
                ],
            }],
            current_schema_id: 0,
            partition_specs: vec![
                PartitionSpec { spec_id: 0, fields: vec![] },
                PartitionSpec {
                    spec_id: 1,
                    fields: vec![
                        PartitionField { source_id: 1, field_id: 1000, name: "ns_bucket".into(), transform: Transform::Bucket(16) },
                        PartitionField { source_id: 1, field_id: 1001, name: "ns_trunc".into(), transform: Transform::Truncate(4) },
                        PartitionField { source_id: 11, field_id: 1002, name: "day_month".into(), transform: Transform::Month },
                        PartitionField { source_id: 11, field_id: 1003, name: "z".into(), transform: Transform::Unknown("zorder".into()) },
                    ],
                },
            ],
            default_spec_id: 1,
            last_partition_id: 1003,
            properties: props,
            current_snapshot_id: Some(7),
            snapshots: vec![snapshot(6, None, 1, Operation::Append), snapshot(7, Some(6), 2, Operation::Replace)],
            snapshot_log: vec![
                SnapshotLogEntry { snapshot_id: 6, timestamp_ms: 6_000 },
                SnapshotLogEntry { snapshot_id: 7, timestamp_ms: 7_000 },
            ],
            metadata_log: vec![MetadataLogEntry { metadata_file: "s3://b/t/metadata/v1.metadata.json".into(), timestamp_ms: 6_000 }],
            sort_orders: vec![json!({"order-id": 0, "fields": []})],
            default_sort_order_id: 0,
            refs,
            statistics: vec![],
            partition_statistics: vec![],
        }
    }

    #[test]
    fn to_json_round_trips_metadata_built_in_code() {
        let m = built();
        assert_eq!(m.validate(), Ok(()));
        let written = m.to_json();
        assert_eq!(TableMetadata::from_json(written.as_bytes()), Ok(m.clone()));
        let v: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(v["format-version"], 2);
        assert_eq!(v["last-sequence-number"], 2);
        assert_eq!(v["schemas"][0]["type"], "struct");
        assert_eq!(v["schemas"][0]["fields"][1]["type"], "decimal(9, 2)");
        assert_eq!(v["schemas"][0]["fields"][2]["type"], "fixed[32]");
        assert_eq!(v["schemas"][0]["fields"][3]["type"]["value-id"], 6);
        assert_eq!(v["schemas"][0]["fields"][4]["type"]["fields"][1]["type"]["element-id"], 10);
        assert_eq!(v["partition-specs"][1]["fields"][0]["transform"], "bucket[16]");
        assert_eq!(v["snapshots"][1]["summary"]["operation"], "replace");
        assert_eq!(v["snapshots"][0].get("parent-snapshot-id"), None);
        assert_eq!(v["refs"]["release"], json!({"snapshot-id": 6, "type": "tag", "max-ref-age-ms": 1}));
        let unpartitioned = m.partition_spec_by_id(0).unwrap();
        assert!(unpartitioned.is_unpartitioned());
        // Without a snapshot the member is left out, as pyiceberg does.
        let mut empty = m;
        empty.current_snapshot_id = None;
        empty.refs.clear();
        let v: Value = serde_json::from_str(&empty.to_json()).unwrap();
        assert_eq!(v.get("current-snapshot-id"), None);
        assert_eq!(TableMetadata::from_json(empty.to_json().as_bytes()), Ok(empty));
    }

    #[test]
    fn snapshot_as_of_walks_the_snapshot_log() {
        let m = final_metadata(&expected(), "artifacts.pyi_unpartitioned");
        let ids: Vec<i64> = m.snapshots.iter().map(|s| s.snapshot_id).collect();
        let ts: Vec<i64> = m.snapshot_log.iter().map(|e| e.timestamp_ms).collect();
        let as_of = |t: i64| m.snapshot_as_of(t).map(|s| s.snapshot_id);
        assert_eq!(as_of(i64::MIN), None);
        assert_eq!(as_of(ts[0] - 1), None);
        assert_eq!(as_of(ts[0]), Some(ids[0]));
        assert_eq!(as_of(ts[1] - 1), Some(ids[0]));
        assert_eq!(as_of(ts[1]), Some(ids[1]));
        // The delete and the overwrite of one table.delete share a timestamp: the later one wins.
        assert_eq!(ts[3], ts[4]);
        assert_eq!(as_of(ts[3]), Some(ids[4]));
        assert_eq!(as_of(ts[5] - 1), Some(ids[4]));
        assert_eq!(as_of(ts[5]), Some(ids[5]));
        assert_eq!(as_of(i64::MAX), m.current_snapshot_id);
        // A log entry whose snapshot has expired cannot be read.
        let mut expired = m.clone();
        expired.snapshots.retain(|s| s.snapshot_id != ids[1]);
        assert_eq!(expired.snapshot_as_of(ts[1]).map(|s| s.snapshot_id), None);
        assert_eq!(expired.snapshot_as_of(ts[2]).map(|s| s.snapshot_id), Some(ids[2]));
        // No log, no time travel.
        let empty = final_metadata(&expected(), "artifacts.pyi_partitioned");
        let mut empty = empty;
        empty.snapshot_log.clear();
        assert_eq!(empty.snapshot_as_of(i64::MAX), None);
    }

    /// A small valid document the invariant tests mutate one member at a time.
    fn base() -> Value {
        json!({
            "format-version": 2,
            "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
            "location": "s3://bucket/t",
            "last-sequence-number": 2,
            "last-updated-ms": 2000,
            "last-column-id": 4,
            "current-schema-id": 0,
            "schemas": [{"type": "struct", "schema-id": 0, "fields": [
                {"id": 1, "name": "ns", "required": true, "type": "string"},
                {"id": 2, "name": "id", "required": true, "type": "string"},
                {"id": 3, "name": "inputs", "required": false,
                 "type": {"type": "list", "element-id": 4, "element": "string", "element-required": true}}
            ]}],
            "default-spec-id": 0,
            "partition-specs": [{"spec-id": 0, "fields": [
                {"source-id": 1, "field-id": 1000, "name": "ns", "transform": "identity"}
            ]}],
            "last-partition-id": 1000,
            "default-sort-order-id": 0,
            "sort-orders": [{"order-id": 0, "fields": []}],
            "properties": {"owner": "tests"},
            "current-snapshot-id": 2,
            "snapshots": [
                {"snapshot-id": 1, "sequence-number": 1, "timestamp-ms": 1000,
                 "manifest-list": "s3://bucket/t/metadata/snap-1.avro", "summary": {"operation": "append"}},
                {"snapshot-id": 2, "parent-snapshot-id": 1, "sequence-number": 2, "timestamp-ms": 2000,
                 "manifest-list": "s3://bucket/t/metadata/snap-2.avro", "summary": {"operation": "overwrite"},
                 "schema-id": 0}
            ],
            "snapshot-log": [{"snapshot-id": 1, "timestamp-ms": 1000}, {"snapshot-id": 2, "timestamp-ms": 2000}],
            "metadata-log": [],
            "refs": {"main": {"snapshot-id": 2, "type": "branch"}}
        })
    }

    fn parse_value(v: &Value) -> Result<TableMetadata, MetadataError> {
        TableMetadata::from_json(v.to_string().as_bytes())
    }

    #[test]
    fn each_invariant_has_its_own_error() {
        use MetadataError as E;
        assert!(parse_value(&base()).is_ok());
        let deep = {
            let mut t = json!("string");
            for i in 0..MAX_TYPE_DEPTH {
                t = json!({"type": "list", "element-id": 100 + i, "element": t, "element-required": true});
            }
            t
        };
        type Mutation = fn(&mut Value);
        let cases: Vec<(&str, Mutation, MetadataError)> = vec![
            ("no table-uuid", |v| { v.as_object_mut().unwrap().remove("table-uuid"); }, E::MissingField("table-uuid")),
            ("null location", |v| v["location"] = Value::Null, E::MissingField("location")),
            ("no sort-orders", |v| { v.as_object_mut().unwrap().remove("sort-orders"); }, E::MissingField("sort-orders")),
            ("no format-version", |v| { v.as_object_mut().unwrap().remove("format-version"); }, E::MissingField("format-version")),
            ("location is a number", |v| v["location"] = json!(5), E::Malformed),
            ("version as a string", |v| v["format-version"] = json!("2"), E::Malformed),
            ("column id beyond i32", |v| v["last-column-id"] = json!(1u64 << 40), E::Malformed),
            ("not an object", |v| *v = json!([1, 2]), E::Malformed),
            ("version 1", |v| v["format-version"] = json!(1), E::UnsupportedVersion(1)),
            ("version 3 with a v3 shape", |v| {
                v["format-version"] = json!(3);
                v["snapshots"] = json!({"not": "a list"});
            }, E::UnsupportedVersion(3)),
            ("version 7", |v| v["format-version"] = json!(7), E::UnsupportedVersion(7)),
            ("unknown type", |v| v["schemas"][0]["fields"][0]["type"] = json!("varchar"), E::InvalidType),
            ("v3 type", |v| v["schemas"][0]["fields"][0]["type"] = json!("timestamp_ns"), E::InvalidType),
            ("decimal too wide", |v| v["schemas"][0]["fields"][0]["type"] = json!("decimal(39, 2)"), E::InvalidType),
            ("unknown nested type", |v| v["schemas"][0]["fields"][0]["type"] = json!({"type": "set"}), E::InvalidType),
            ("list without element-id", |v| {
                v["schemas"][0]["fields"][2]["type"].as_object_mut().unwrap().remove("element-id");
            }, E::MissingField("element-id")),
            ("field without required", |v| {
                v["schemas"][0]["fields"][1].as_object_mut().unwrap().remove("required");
            }, E::MissingField("required")),
            ("schema without schema-id", |v| {
                v["schemas"][0].as_object_mut().unwrap().remove("schema-id");
            }, E::MissingField("schema-id")),
            ("schema of another type", |v| v["schemas"][0]["type"] = json!("list"), E::InvalidType),
            ("duplicate field id", |v| v["schemas"][0]["fields"][1]["id"] = json!(1), E::DuplicateFieldId),
            ("element id reused", |v| v["schemas"][0]["fields"][2]["type"]["element-id"] = json!(2), E::DuplicateFieldId),
            ("duplicate field name", |v| v["schemas"][0]["fields"][1]["name"] = json!("ns"), E::DuplicateFieldName),
            ("duplicate schema id", |v| {
                let s = v["schemas"][0].clone();
                v["schemas"].as_array_mut().unwrap().push(s);
            }, E::DuplicateSchemaId),
            ("current schema missing", |v| v["current-schema-id"] = json!(5), E::CurrentSchemaMissing),
            ("duplicate spec id", |v| {
                let s = v["partition-specs"][0].clone();
                v["partition-specs"].as_array_mut().unwrap().push(s);
            }, E::DuplicateSpecId),
            ("default spec missing", |v| v["default-spec-id"] = json!(3), E::DefaultSpecMissing),
            ("partition field without field-id", |v| {
                v["partition-specs"][0]["fields"][0].as_object_mut().unwrap().remove("field-id");
            }, E::MissingField("field-id")),
            ("negative last sequence number", |v| v["last-sequence-number"] = json!(-1), E::NegativeSequenceNumber),
            ("negative snapshot sequence number", |v| v["snapshots"][0]["sequence-number"] = json!(-1), E::NegativeSequenceNumber),
            ("snapshot ahead of table", |v| v["snapshots"][1]["sequence-number"] = json!(3), E::SequenceNumberAhead),
            ("snapshot without sequence number", |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("sequence-number");
            }, E::MissingField("sequence-number")),
            ("snapshot without manifest list", |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("manifest-list");
            }, E::MissingField("manifest-list")),
            ("snapshot without summary", |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("summary");
            }, E::MissingField("summary")),
            ("summary without operation", |v| v["snapshots"][0]["summary"] = json!({"added-records": "1"}), E::MissingField("operation")),
            ("unknown operation", |v| v["snapshots"][0]["summary"]["operation"] = json!("merge"), E::UnknownOperation),
            ("summary value not a string", |v| v["snapshots"][0]["summary"]["added-records"] = json!(1), E::Malformed),
            ("duplicate snapshot id", |v| v["snapshots"][1]["snapshot-id"] = json!(1), E::DuplicateSnapshotId),
            ("current snapshot missing", |v| {
                v["current-snapshot-id"] = json!(9);
                v["refs"] = json!({});
            }, E::CurrentSnapshotMissing),
            ("ref to no snapshot", |v| v["refs"]["old"] = json!({"snapshot-id": 9, "type": "tag"}), E::RefSnapshotMissing),
            ("main elsewhere", |v| v["refs"]["main"]["snapshot-id"] = json!(1), E::MainBranchMismatch),
            ("main without current", |v| { v.as_object_mut().unwrap().remove("current-snapshot-id"); }, E::MainBranchMismatch),
            ("ref of unknown type", |v| v["refs"]["main"]["type"] = json!("leaf"), E::Malformed),
            ("log entry without timestamp", |v| v["snapshot-log"] = json!([{"snapshot-id": 1}]), E::MissingField("timestamp-ms")),
        ];
        for (what, mutate, want) in cases {
            let mut v = base();
            mutate(&mut v);
            assert_eq!(parse_value(&v), Err(want), "{what}");
        }
        let mut v = base();
        v["schemas"][0]["fields"][2]["type"] = deep.clone();
        assert_eq!(parse_value(&v), Err(E::TypeTooDeep), "deep list");
        // One level less is fine.
        v["schemas"][0]["fields"][2]["type"] = deep["element"].clone();
        assert!(parse_value(&v).is_ok());
    }

    #[test]
    fn lenient_where_writers_differ() {
        // Java wrote current-snapshot-id -1 for "none"; members this model does not name are ignored.
        let mut v = base();
        v["current-snapshot-id"] = json!(-1);
        v["refs"] = json!({});
        v["snapshots"][0]["added-rows"] = json!(3);
        v["future-member"] = json!({"x": 1});
        let m = parse_value(&v).unwrap();
        assert_eq!(m.current_snapshot_id, None);
        assert_eq!(m.current_snapshot(), None);
        // Optional members may be absent.
        let mut v = base();
        for key in ["properties", "snapshots", "snapshot-log", "metadata-log", "refs", "current-snapshot-id"] {
            v.as_object_mut().unwrap().remove(key);
        }
        let m = parse_value(&v).unwrap();
        assert!(m.snapshots.is_empty() && m.refs.is_empty() && m.properties.is_empty());
    }

    #[test]
    fn rejects_non_json_and_oversized_input() {
        for bad in [&b""[..], b"{", b"{} x", b"\xff\xfe", b"nul", b"{\"format-version\": 2,}"] {
            assert_eq!(TableMetadata::from_json(bad), Err(MetadataError::NotJson), "{bad:?}");
        }
        let mut big = base().to_string().into_bytes();
        big.resize(MAX_METADATA_BYTES, b' ');
        assert!(TableMetadata::from_json(&big).is_ok(), "exactly the limit is accepted");
        big.push(b' ');
        assert_eq!(TableMetadata::from_json(&big), Err(MetadataError::TooLarge));
    }

    #[test]
    fn primitive_and_transform_names() {
        for name in ["boolean", "int", "long", "float", "double", "date", "time", "timestamp", "timestamptz", "string", "uuid", "binary", "fixed[16]", "decimal(38, 0)"] {
            assert_eq!(PrimitiveType::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(PrimitiveType::parse("decimal(9,2)"), Some(PrimitiveType::Decimal { precision: 9, scale: 2 }));
        assert_eq!(PrimitiveType::parse("fixed[ 4 ]"), Some(PrimitiveType::Fixed(4)));
        for bad in ["decimal(9, 10)", "decimal(0, 0)", "decimal(+9, 2)", "decimal(9)", "fixed[-1]", "fixed[]", "Long", "", "fixed[99999999999999999999]"] {
            assert_eq!(PrimitiveType::parse(bad), None, "{bad}");
        }
        for name in ["identity", "bucket[16]", "truncate[4]", "year", "month", "day", "hour", "void", "zorder"] {
            assert_eq!(Transform::parse(name).to_string(), name);
        }
        assert_eq!(Transform::parse("bucket[x]"), Transform::Unknown("bucket[x]".into()));
        let void = PartitionSpec {
            spec_id: 1,
            fields: vec![PartitionField { source_id: 1, field_id: 1000, name: "ns".into(), transform: Transform::Void }],
        };
        assert!(void.is_unpartitioned());
    }

    #[test]
    fn errors_describe_themselves() {
        let all = [
            MetadataError::TooLarge, MetadataError::NotJson, MetadataError::Malformed, MetadataError::MissingField("schemas"),
            MetadataError::UnsupportedVersion(1), MetadataError::UnsupportedVersion(3), MetadataError::UnsupportedVersion(9),
            MetadataError::InvalidType, MetadataError::TypeTooDeep, MetadataError::DuplicateFieldId, MetadataError::DuplicateFieldName,
            MetadataError::DuplicateSchemaId, MetadataError::DuplicateSpecId, MetadataError::DuplicateSnapshotId,
            MetadataError::CurrentSchemaMissing, MetadataError::DefaultSpecMissing, MetadataError::CurrentSnapshotMissing,
            MetadataError::RefSnapshotMissing, MetadataError::MainBranchMismatch, MetadataError::NegativeSequenceNumber,
            MetadataError::SequenceNumberAhead, MetadataError::UnknownOperation,
        ];
        let mut descriptions: Vec<&str> = all.iter().map(MetadataError::description).collect();
        descriptions.sort_unstable();
        descriptions.dedup();
        assert_eq!(descriptions.len(), all.len());
        assert!(MetadataError::MissingField("schemas").to_string().ends_with("`schemas`"));
        assert!(MetadataError::UnsupportedVersion(3).to_string().contains("format version 3"));
        assert!(MetadataError::UnsupportedVersion(1).description().contains("sequence numbers"));
        let _: &dyn std::error::Error = &MetadataError::NotJson;
    }

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics() {
        let small = read("invalid/CurrentSnapshotMissing.json");
        let e = expected();
        let big = read(&alloc::format!("pyiceberg/{}", metadata_files(&e["tables"]["artifacts.pyi_unpartitioned"]).last().unwrap()));
        // Every prefix of the small document, every 7th of the big one.
        for cut in 0..small.len() {
            assert!(TableMetadata::from_json(&small[..cut]).is_err());
        }
        for cut in (0..big.len()).step_by(7) {
            assert!(TableMetadata::from_json(&big[..cut]).is_err());
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let tokens: [&[u8]; 16] = [
            b"{", b"}", b"[", b"]", b",", b":", b"\"", b"-1", b"1e999", b"null", b"true", b"\"type\"", b"\"list\"",
            b"\"element\"", b"9223372036854775808", b"\\u0000",
        ];
        for round in 0..3000 {
            let mut doc = if round % 2 == 0 { small.clone() } else { big.clone() };
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(doc.len());
                match rng.below(4) {
                    0 => doc[at] = rng.next() as u8,
                    1 => {
                        doc.remove(at);
                    }
                    2 => {
                        let t = tokens[rng.below(tokens.len())];
                        doc.splice(at..at, t.iter().copied());
                    }
                    _ => {
                        let len = rng.below(64).min(doc.len() - at);
                        doc.drain(at..at + len);
                    }
                }
            }
            let _ = TableMetadata::from_json(&doc);
        }
        for _ in 0..500 {
            let len = rng.below(256);
            let doc: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(TableMetadata::from_json(&doc).is_err());
        }
        // Nesting at serde_json's limit and beyond.
        for depth in [127, 128, 129, 5000] {
            let doc = alloc::format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert!(TableMetadata::from_json(doc.as_bytes()).is_err());
        }
    }
}
