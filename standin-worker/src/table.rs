//! Table metadata the stand-in writes: the first (empty) version, its shape (Pipelines sink
//! columns and partitioning) and the buffer marker; the append itself is
//! `iceberg_writer::commit::append`. Pure, no worker APIs.

use iceberg_writer::new_record_table;
use shared::iceberg::manifest::{PartitionField as ManifestField, PartitionSpec as ManifestSpec, PartitionType};
use shared::iceberg::table_metadata::{NestedField, PartitionField, PartitionSpec, PrimitiveType, TableMetadata, Transform, Type};

/// Snapshot summary key naming the last buffer object a snapshot includes.
pub const BUFFER_THROUGH: &str = "standin.buffer-through";

/// The column a Pipelines sink adds to every table it creates: when the stream accepted the row.
pub const INGEST_TS: &str = "__ingest_ts";

/// The partition field of `day(__ingest_ts)` (Iceberg's default name for a day transform).
pub const INGEST_DAY: &str = "__ingest_ts_day";

/// The shape of the tables the stand-in creates, beyond the record contract: what reports say a
/// Pipelines R2 Data Catalog sink adds (worker vars `INGEST_TS_COLUMN=1`,
/// `PARTITION_BY_INGEST_DAY=1`; the second implies the first). Only table creation reads it;
/// commits follow the table's own metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// A required `__ingest_ts` column (`timestamp`), after the record's columns.
    pub ingest_ts: bool,
    /// Partitioned by `day(__ingest_ts)`.
    pub partition_by_ingest_day: bool,
}

/// A new, empty table (no snapshot): the record contract, plus what `shape` adds.
pub fn empty(table_uuid: String, location: String, now_ms: i64, shape: Shape) -> TableMetadata {
    let mut meta = new_record_table(table_uuid, location, now_ms);
    if !(shape.ingest_ts || shape.partition_by_ingest_day) {
        return meta;
    }
    let id = meta.last_column_id.saturating_add(1);
    if let Some(schema) = meta.schemas.first_mut() {
        schema.fields.push(NestedField {
            id,
            name: INGEST_TS.into(),
            required: true,
            field_type: Type::Primitive(PrimitiveType::Timestamp),
            doc: None,
        });
    }
    meta.last_column_id = id;
    if shape.partition_by_ingest_day {
        meta.partition_specs = vec![PartitionSpec {
            spec_id: 0,
            fields: vec![PartitionField { source_id: id, field_id: 1000, name: INGEST_DAY.into(), transform: Transform::Day }],
        }];
        meta.last_partition_id = 1000;
    }
    meta
}

/// How a commit writes into a table, read from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Field id of `__ingest_ts` when the table has it.
    pub ingest_ts_id: Option<i32>,
    /// The manifest partition spec: unpartitioned, or one `day(__ingest_ts)` field.
    pub spec: ManifestSpec,
}

/// The layout of `meta`; an error for partition specs the stand-in does not write.
pub fn layout(meta: &TableMetadata) -> Result<Layout, String> {
    let ingest_ts_id = meta.current_schema().and_then(|s| s.field_id_by_name(INGEST_TS));
    let spec = meta.default_partition_spec().ok_or("the table has no default partition spec")?;
    let fields = match (spec.fields.as_slice(), ingest_ts_id) {
        ([], _) => Vec::new(),
        ([f], Some(id)) if f.transform == Transform::Day && f.source_id == id => vec![ManifestField {
            source_id: f.source_id,
            field_id: f.field_id,
            name: f.name.clone(),
            transform: Transform::Day,
            ty: PartitionType::Date,
        }],
        _ => return Err("the stand-in writes unpartitioned tables or tables partitioned by day(__ingest_ts) only".into()),
    };
    Ok(Layout { ingest_ts_id, spec: ManifestSpec { spec_id: spec.spec_id, fields } })
}

/// The marker of the current snapshot: the last buffer key committed.
pub fn buffer_through(meta: &TableMetadata) -> Option<String> {
    meta.current_snapshot().and_then(|s| s.summary.properties.get(BUFFER_THROUGH).cloned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use iceberg_writer::commit::{append, schema_json, Append};
    use shared::iceberg::table_metadata::Operation;

    #[test]
    fn empty_then_append_round_trips() {
        let m = empty("u".into(), "s3://w/t".into(), 1, Shape::default());
        m.validate().unwrap();
        let n = append(
            &m,
            Append {
                snapshot_id: 7,
                manifest_list: "s3://w/t/metadata/snap.avro".into(),
                operation: Operation::Append,
                data_files: 1,
                records: 2,
                file_size: 10,
                properties: [(BUFFER_THROUGH.to_string(), "k".to_string())].into(),
                now_ms: 2,
                previous_location: Some("s3://w/t/metadata/v1.metadata.json".into()),
            },
        );
        n.validate().unwrap();
        let back = TableMetadata::from_json(n.to_json().as_bytes()).unwrap();
        assert_eq!(buffer_through(&back).as_deref(), Some("k"));
        assert_eq!(back.last_sequence_number, 1);
        assert!(schema_json(&back).contains("\"element-id\":22"));
        assert_eq!(layout(&back).unwrap(), Layout { ingest_ts_id: None, spec: ManifestSpec::unpartitioned() });
    }

    #[test]
    fn sink_shapes_add_ingest_ts_and_the_day_partition() {
        let plain = empty("u".into(), "s3://w/t".into(), 1, Shape::default());
        let last = plain.last_column_id;
        let with_ts = empty("u".into(), "s3://w/t".into(), 1, Shape { ingest_ts: true, partition_by_ingest_day: false });
        with_ts.validate().unwrap();
        let f = with_ts.current_schema().unwrap().field_by_name(INGEST_TS).unwrap().clone();
        assert_eq!((f.id, f.required, f.field_type), (last + 1, true, Type::Primitive(PrimitiveType::Timestamp)));
        assert_eq!(with_ts.last_column_id, last + 1);
        assert_eq!(layout(&with_ts).unwrap(), Layout { ingest_ts_id: Some(last + 1), spec: ManifestSpec::unpartitioned() });

        let by_day = empty("u".into(), "s3://w/t".into(), 1, Shape { ingest_ts: false, partition_by_ingest_day: true });
        let back = TableMetadata::from_json(by_day.to_json().as_bytes()).unwrap();
        back.validate().unwrap();
        assert_eq!(back.last_partition_id, 1000);
        let l = layout(&back).unwrap();
        assert_eq!(l.ingest_ts_id, Some(last + 1));
        assert_eq!(l.spec.fields.len(), 1);
        assert_eq!(
            (l.spec.fields[0].source_id, l.spec.fields[0].field_id, l.spec.fields[0].transform.clone()),
            (last + 1, 1000, Transform::Day)
        );
        assert_eq!(l.spec.fields[0].name, INGEST_DAY);

        let mut other = back.clone();
        other.partition_specs[0].fields[0].transform = Transform::Identity;
        assert!(layout(&other).is_err());
    }
}
