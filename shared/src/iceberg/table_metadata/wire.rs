//! What serde decodes: every member optional, so absence is reported by name.

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
