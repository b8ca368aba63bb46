//! Records (the JSON objects ingest sends) → Parquet columns, and the table schema, both from
//! `shared::record::COLUMNS`. Pure: no worker APIs, so it runs natively in tests.

use iceberg_writer::{ColumnData, WriteColumn};
use serde_json::{Map, Value};
use shared::iceberg::table_metadata::{record_column_type, PrimitiveType, Type};
use shared::record::{ColumnType, COLUMNS};

use crate::table::INGEST_TS;

/// Checks one `send(records)` payload: an array of objects whose required columns are present
/// with the right JSON type (so a commit can never fail on a record already acknowledged).
pub fn validate(records: &Value) -> Result<&[Value], String> {
    let Value::Array(items) = records else {
        return Err("records must be an array".into());
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(format!("record {i} is not an object"));
        };
        for c in COLUMNS {
            let v = map.get(c.name).unwrap_or(&Value::Null);
            let ok = match (c.ty, v) {
                (_, Value::Null) => !c.required,
                (ColumnType::String, Value::String(_)) => true,
                // Non-string JSON in a text column is kept as its JSON text.
                (ColumnType::String, _) => !c.required,
                (ColumnType::TimestampMicros | ColumnType::Long, v) => v.as_i64().is_some(),
                (ColumnType::Boolean, Value::Bool(_)) => true,
                (ColumnType::StringList { .. }, Value::Array(a)) => a.iter().all(|e| e.is_string() || e.is_null()),
                _ => false,
            };
            if !ok {
                return Err(format!("record {i}: column `{}` is missing or has the wrong type", c.name));
            }
        }
    }
    Ok(items)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// A timestamp column with the Parquet logical type of its Iceberg type in `record_schema`
/// (`timestamp`: not UTC-adjusted; `timestamptz`: UTC-adjusted).
fn timestamps(ty: ColumnType, values: Vec<Option<i64>>) -> ColumnData {
    match record_column_type(ty, false) {
        Type::Primitive(PrimitiveType::Timestamptz) => ColumnData::TimestampMicros(values),
        _ => ColumnData::TimestampNtzMicros(values),
    }
}

/// One column per entry of `COLUMNS`, nulls where a record has no value; then, when the table has
/// it (`ingest_ts_id`), the sink's `__ingest_ts` from each row's `__ingest_ts` (µs, set by the
/// commit from the buffer object the row came in).
pub fn columns(rows: &[Map<String, Value>], ingest_ts_id: Option<i32>) -> Vec<WriteColumn> {
    let mut out: Vec<WriteColumn> = COLUMNS
        .iter()
        .map(|c| {
            let get = |r: &Map<String, Value>| r.get(c.name).cloned();
            let (data, element_field_id) = match c.ty {
                ColumnType::String => (ColumnData::Utf8(rows.iter().map(|r| text(get(r).as_ref())).collect()), None),
                ColumnType::TimestampMicros => (timestamps(c.ty, rows.iter().map(|r| get(r).and_then(|v| v.as_i64())).collect()), None),
                ColumnType::Long => (ColumnData::Int64(rows.iter().map(|r| get(r).and_then(|v| v.as_i64())).collect()), None),
                ColumnType::Boolean => (ColumnData::Boolean(rows.iter().map(|r| get(r).and_then(|v| v.as_bool())).collect()), None),
                ColumnType::StringList { element_id } => (
                    ColumnData::Utf8List(
                        rows.iter()
                            .map(|r| match get(r) {
                                Some(Value::Array(items)) => Some(items.iter().map(|e| text(Some(e))).collect()),
                                _ => None,
                            })
                            .collect(),
                    ),
                    Some(element_id),
                ),
            };
            WriteColumn { name: c.name.into(), field_id: c.field_id, required: c.required, data, element_field_id }
        })
        .collect();
    if let Some(field_id) = ingest_ts_id {
        out.push(WriteColumn {
            name: INGEST_TS.into(),
            field_id,
            required: true,
            data: ColumnData::TimestampNtzMicros(rows.iter().map(|r| r.get(INGEST_TS).and_then(Value::as_i64)).collect()),
            element_field_id: None,
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> Value {
        json!({"ns":"docs","type":"guide","id":"a","ts":1,"visibility":"org","owner_org":"acme","owner_user":"alice",
               "markdown":"# a","inputs":["x",null],"content_hash":"h","size_bytes":3,"deleted":false})
    }

    #[test]
    fn validates_required_columns() {
        assert!(validate(&json!([full()])).is_ok());
        assert!(validate(&json!({})).is_err());
        assert!(validate(&json!([1])).is_err());
        let mut r = full();
        r.as_object_mut().unwrap().remove("ts");
        assert!(validate(&json!([r])).is_err());
    }

    #[test]
    fn builds_every_column_with_nulls() {
        let rows = vec![full().as_object().unwrap().clone()];
        let cols = columns(&rows, None);
        assert_eq!(cols.len(), COLUMNS.len());
        let file = iceberg_writer::write_parquet(&cols, iceberg_writer::WriteCodec::Zstd, 1000).unwrap();
        assert_eq!(file.record_count, 1);
        assert_eq!(shared::iceberg::table_metadata::record_schema().fields.len(), COLUMNS.len());
    }

    #[test]
    fn timestamps_follow_the_table_schema_and_ingest_ts_comes_last() {
        let mut row = full().as_object().unwrap().clone();
        row.insert(INGEST_TS.into(), json!(1_700_000_000_000_000i64));
        let cols = columns(&[row], Some(99));
        let schema = shared::iceberg::table_metadata::record_schema();
        for col in &cols[..COLUMNS.len()] {
            let ty = &schema.field_by_name(&col.name).unwrap().field_type;
            match &col.data {
                ColumnData::TimestampNtzMicros(_) => assert_eq!(*ty, Type::Primitive(PrimitiveType::Timestamp), "{}", col.name),
                ColumnData::TimestampMicros(_) => assert_eq!(*ty, Type::Primitive(PrimitiveType::Timestamptz), "{}", col.name),
                _ => {}
            }
        }
        let last = cols.last().unwrap();
        assert_eq!((last.name.as_str(), last.field_id, last.required), (INGEST_TS, 99, true));
        assert_eq!(last.data, ColumnData::TimestampNtzMicros(vec![Some(1_700_000_000_000_000)]));
    }
}
