//! New tables: `vN.metadata.json` content the writers start from.

use std::collections::BTreeMap;

use shared::iceberg::table_metadata::{record_schema, PartitionSpec, TableMetadata, FORMAT_VERSION};

/// A new, empty v2 table of the record contract ([`record_schema`]), unpartitioned and
/// unsorted, without snapshots: what the stand-in creates (and the tests and benchmarks that
/// build tables the same way).
pub fn new_record_table(table_uuid: String, location: String, now_ms: i64) -> TableMetadata {
    TableMetadata {
        format_version: FORMAT_VERSION,
        table_uuid,
        location,
        last_sequence_number: 0,
        last_updated_ms: now_ms,
        last_column_id: shared::record::LAST_FIELD_ID,
        schemas: vec![record_schema()],
        current_schema_id: 0,
        partition_specs: vec![PartitionSpec { spec_id: 0, fields: Vec::new() }],
        default_spec_id: 0,
        last_partition_id: 999,
        properties: BTreeMap::new(),
        current_snapshot_id: None,
        snapshots: Vec::new(),
        snapshot_log: Vec::new(),
        metadata_log: Vec::new(),
        sort_orders: vec![serde_json::json!({"order-id": 0, "fields": []})],
        default_sort_order_id: 0,
        refs: BTreeMap::new(),
        statistics: Vec::new(),
        partition_statistics: Vec::new(),
    }
}
