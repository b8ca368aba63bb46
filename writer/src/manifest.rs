//! Manifests and manifest lists (Iceberg spec v2, "Manifests" and "Manifest Lists"), write side:
//! [`write_manifest`] and [`write_manifest_list`] write v2 files with the spec's Avro schemas
//! (field ids on every field) and snappy blocks; [`summarize`] computes a manifest's list entry.
//! The types are `shared`'s (`shared::iceberg::manifest`), which reads what this writes.

use core::cmp::Ordering;

use serde_json::{json, Value};
use shared::iceberg::manifest::{
    DataContent, DataFile, EntryStatus, FieldSummary, FileFormat, ManifestContent, ManifestEntry, ManifestError, ManifestFile,
    PartitionSpec, PartitionType, PartitionValue, Transform,
};

use super::avro::{write_container, Codec, Encoder};

/// Writes a v2 manifest with snappy blocks: the spec's `manifest_entry` Avro schema for `spec`
/// and the header keys `schema` (`schema_json`, the table schema), `schema-id`, `partition-spec`,
/// `partition-spec-id`, `format-version` = 2 and `content` (data, or deletes when the entries are
/// delete files). ADDED entries may leave their sequence numbers `None` to inherit them; the
/// other statuses need both.
pub fn write_manifest(
    entries: &[ManifestEntry],
    spec: &PartitionSpec,
    schema_json: &str,
    schema_id: i32,
) -> Result<Vec<u8>, ManifestError> {
    write_manifest_with(entries, spec, schema_json, schema_id, Codec::Snappy)
}

/// [`write_manifest`] with another block codec (the reader's tests write all three).
pub fn write_manifest_with(
    entries: &[ManifestEntry],
    spec: &PartitionSpec,
    schema_json: &str,
    schema_id: i32,
    codec: Codec,
) -> Result<Vec<u8>, ManifestError> {
    if !matches!(serde_json::from_str::<Value>(schema_json), Ok(Value::Object(_))) {
        return Err(ManifestError::Invalid("the table schema is not a JSON object"));
    }
    let deletes = entries.iter().filter(|e| e.data_file.content != DataContent::Data).count();
    let content = match deletes {
        0 => ManifestContent::Data,
        n if n == entries.len() => ManifestContent::Deletes,
        _ => return Err(ManifestError::Invalid("a manifest holds either data files or delete files")),
    };
    let schema = json!({
        "type": "record",
        "name": "manifest_entry",
        "fields": [
            {"name": "status", "type": "int", "field-id": 0},
            {"name": "snapshot_id", "type": ["null", "long"], "default": null, "field-id": 1},
            {"name": "sequence_number", "type": ["null", "long"], "default": null, "field-id": 3},
            {"name": "file_sequence_number", "type": ["null", "long"], "default": null, "field-id": 4},
            {"name": "data_file", "type": data_file_schema(spec)?, "field-id": 2},
        ],
    });
    let mut records = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.status != EntryStatus::Added && (entry.sequence_number.is_none() || entry.file_sequence_number.is_none()) {
            return Err(ManifestError::Invalid("existing and deleted entries need both sequence numbers"));
        }
        let mut e = Encoder::default();
        e.int(entry.status.as_i32());
        e.optional(Some(entry.snapshot_id), Encoder::long);
        e.optional(entry.sequence_number, Encoder::long);
        e.optional(entry.file_sequence_number, Encoder::long);
        encode_data_file(&entry.data_file, spec, &mut e)?;
        records.push(e.buf);
    }
    let meta = [
        ("schema", schema_json.to_string()),
        ("schema-id", schema_id.to_string()),
        ("partition-spec", fields_json(spec)),
        ("partition-spec-id", spec.spec_id.to_string()),
        ("format-version", "2".to_string()),
        ("content", content.as_str().to_string()),
    ];
    write_container(&schema.to_string(), &meta, &records, codec)
}

/// Writes a v2 manifest list with snappy blocks: the spec's `manifest_file` Avro schema and the
/// header keys `snapshot-id`, `parent-snapshot-id` (`null` when there is none, as Java and
/// pyiceberg write it), `sequence-number` and `format-version` = 2. v2 needs every count, so a
/// `None` count is [`ManifestError::Invalid`].
pub fn write_manifest_list(
    files: &[ManifestFile],
    snapshot_id: i64,
    parent_id: Option<i64>,
    sequence_number: i64,
) -> Result<Vec<u8>, ManifestError> {
    write_manifest_list_with(files, snapshot_id, parent_id, sequence_number, Codec::Snappy)
}

/// [`write_manifest_list`] with another block codec (the reader's tests write all three).
pub fn write_manifest_list_with(
    files: &[ManifestFile],
    snapshot_id: i64,
    parent_id: Option<i64>,
    sequence_number: i64,
    codec: Codec,
) -> Result<Vec<u8>, ManifestError> {
    let opt = |name: &str, ty: &str, id: i32| json!({"name": name, "type": ["null", ty], "default": null, "field-id": id});
    let schema = json!({
        "type": "record",
        "name": "manifest_file",
        "fields": [
            {"name": "manifest_path", "type": "string", "field-id": 500},
            {"name": "manifest_length", "type": "long", "field-id": 501},
            {"name": "partition_spec_id", "type": "int", "field-id": 502},
            {"name": "content", "type": "int", "field-id": 517},
            {"name": "sequence_number", "type": "long", "field-id": 515},
            {"name": "min_sequence_number", "type": "long", "field-id": 516},
            {"name": "added_snapshot_id", "type": "long", "field-id": 503},
            {"name": "added_files_count", "type": "int", "field-id": 504},
            {"name": "existing_files_count", "type": "int", "field-id": 505},
            {"name": "deleted_files_count", "type": "int", "field-id": 506},
            {"name": "added_rows_count", "type": "long", "field-id": 512},
            {"name": "existing_rows_count", "type": "long", "field-id": 513},
            {"name": "deleted_rows_count", "type": "long", "field-id": 514},
            {"name": "partitions", "type": ["null", {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "r508",
                    "fields": [
                        {"name": "contains_null", "type": "boolean", "field-id": 509},
                        opt("contains_nan", "boolean", 518),
                        opt("lower_bound", "bytes", 510),
                        opt("upper_bound", "bytes", 511),
                    ],
                },
                "element-id": 508,
            }], "default": null, "field-id": 507},
            opt("key_metadata", "bytes", 519),
        ],
    });
    let missing = ManifestError::Invalid("a v2 manifest list needs every file and row count");
    let mut records = Vec::with_capacity(files.len());
    for f in files {
        let mut e = Encoder::default();
        e.string(&f.manifest_path);
        e.long(f.manifest_length);
        e.int(f.partition_spec_id);
        e.int(f.content.as_i32());
        e.long(f.sequence_number);
        e.long(f.min_sequence_number);
        e.long(f.added_snapshot_id);
        for count in [f.added_files_count, f.existing_files_count, f.deleted_files_count] {
            e.int(count.ok_or(missing)?);
        }
        for rows in [f.added_rows_count, f.existing_rows_count, f.deleted_rows_count] {
            e.long(rows.ok_or(missing)?);
        }
        e.optional((!f.partitions.is_empty()).then_some(&f.partitions), |e, p| {
            e.array(p, |e, s| {
                e.boolean(s.contains_null);
                e.optional(s.contains_nan, Encoder::boolean);
                e.optional(s.lower_bound.as_deref(), Encoder::bytes);
                e.optional(s.upper_bound.as_deref(), Encoder::bytes);
            });
        });
        e.optional(f.key_metadata.as_deref(), Encoder::bytes);
        records.push(e.buf);
    }
    let meta = [
        ("snapshot-id", snapshot_id.to_string()),
        ("parent-snapshot-id", parent_id.map_or_else(|| "null".to_string(), |p| p.to_string())),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_string()),
    ];
    write_container(&schema.to_string(), &meta, &records, codec)
}

/// The manifest list entry for a manifest just written: counts, rows,
/// `min_sequence_number` (over live entries, inherited numbers counting as
/// `sequence_number`), content, and partition summaries over every entry.
pub fn summarize(
    manifest_path: impl Into<String>,
    manifest_length: i64,
    spec: &PartitionSpec,
    added_snapshot_id: i64,
    sequence_number: i64,
    entries: &[ManifestEntry],
) -> Result<ManifestFile, ManifestError> {
    let too_many = ManifestError::Invalid("counts overflow");
    let mut files = [0i32; 3];
    let mut rows = [0i64; 3];
    let mut min_seq: Option<i64> = None;
    let mut deletes = 0usize;
    for e in entries {
        let i = match e.status {
            EntryStatus::Existing => 0,
            EntryStatus::Added => 1,
            EntryStatus::Deleted => 2,
        };
        if let (Some(f), Some(r)) = (files.get_mut(i), rows.get_mut(i)) {
            *f = f.checked_add(1).ok_or(too_many)?;
            *r = r.checked_add(e.data_file.record_count).ok_or(too_many)?;
        }
        if e.status != EntryStatus::Deleted {
            let seq = e.sequence_number.unwrap_or(sequence_number);
            min_seq = Some(min_seq.map_or(seq, |m| m.min(seq)));
        }
        if e.data_file.content != DataContent::Data {
            deletes += 1;
        }
    }
    let content = match deletes {
        0 => ManifestContent::Data,
        n if n == entries.len() => ManifestContent::Deletes,
        _ => return Err(ManifestError::Invalid("a manifest holds either data files or delete files")),
    };
    let mut partitions = Vec::with_capacity(spec.fields.len());
    for i in 0..spec.fields.len() {
        let mut s = FieldSummary { contains_null: false, contains_nan: Some(false), lower_bound: None, upper_bound: None };
        let mut lower: Option<&PartitionValue> = None;
        let mut upper: Option<&PartitionValue> = None;
        for e in entries {
            let (_, v) =
                e.data_file.partition.get(i).ok_or(ManifestError::Invalid("a partition tuple does not match the partition spec"))?;
            if *v == PartitionValue::Null {
                s.contains_null = true;
            } else if is_nan(v) {
                s.contains_nan = Some(true);
            } else {
                if lower.is_none_or(|l| order(v, l) == Some(core::cmp::Ordering::Less)) {
                    lower = Some(v);
                }
                if upper.is_none_or(|u| order(v, u) == Some(core::cmp::Ordering::Greater)) {
                    upper = Some(v);
                }
            }
        }
        s.lower_bound = lower.and_then(PartitionValue::single_value_bytes);
        s.upper_bound = upper.and_then(PartitionValue::single_value_bytes);
        partitions.push(s);
    }
    let [existing, added, deleted] = files;
    let [existing_rows, added_rows, deleted_rows] = rows;
    Ok(ManifestFile {
        manifest_path: manifest_path.into(),
        manifest_length,
        partition_spec_id: spec.spec_id,
        content,
        sequence_number,
        min_sequence_number: min_seq.unwrap_or(sequence_number),
        added_snapshot_id,
        added_files_count: Some(added),
        existing_files_count: Some(existing),
        deleted_files_count: Some(deleted),
        added_rows_count: Some(added_rows),
        existing_rows_count: Some(existing_rows),
        deleted_rows_count: Some(deleted_rows),
        partitions,
        key_metadata: None,
    })
}

/// The `partition-spec` header value: the JSON array of partition fields.
pub(crate) fn fields_json(spec: &PartitionSpec) -> String {
    let fields: Vec<Value> = spec
        .fields
        .iter()
        .map(|f| json!({"name": f.name, "transform": f.transform.to_string(), "source-id": f.source_id, "field-id": f.field_id}))
        .collect();
    Value::Array(fields).to_string()
}

/// The Avro fields of the `r102` partition record.
fn avro_fields(spec: &PartitionSpec) -> Result<Vec<Value>, ManifestError> {
    let mut out: Vec<Value> = Vec::with_capacity(spec.fields.len());
    let mut names: Vec<&str> = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        if f.name.is_empty() {
            return Err(ManifestError::Invalid("a partition field has no name"));
        }
        if names.contains(&f.name.as_str()) {
            return Err(ManifestError::Invalid("partition field names must be unique"));
        }
        let typed = match f.transform {
            Transform::Identity | Transform::Void => true,
            Transform::Day => f.ty == PartitionType::Date,
            Transform::Year | Transform::Month | Transform::Hour => f.ty == PartitionType::Int,
            Transform::Bucket(_) | Transform::Truncate(_) | Transform::Unknown(_) => false,
        };
        if !typed {
            return Err(ManifestError::Invalid("a partition field's transform is not identity, void or a time transform of its type"));
        }
        names.push(&f.name);
        let avro = avro_name(&f.name);
        let mut field = json!({
            "name": avro,
            "type": ["null", partition_avro(f.ty)],
            "default": null,
            "field-id": f.field_id,
        });
        if avro != f.name {
            if let Value::Object(o) = &mut field {
                o.insert("iceberg-field-name".into(), Value::String(f.name.clone()));
            }
        }
        out.push(field);
    }
    Ok(out)
}

/// The Avro schema of `data_file` (`r2`) for this spec.
pub fn data_file_schema(spec: &PartitionSpec) -> Result<Value, ManifestError> {
    let map = |name: &str, id: i32, key: i32, value: i32, ty: &str| {
        json!({
            "name": name,
            "type": ["null", {
                "type": "array",
                "logicalType": "map",
                "items": {
                    "type": "record",
                    "name": format!("k{key}_v{value}"),
                    "fields": [
                        {"name": "key", "type": "int", "field-id": key},
                        {"name": "value", "type": ty, "field-id": value},
                    ],
                },
            }],
            "default": null,
            "field-id": id,
        })
    };
    Ok(json!({
        "type": "record",
        "name": "r2",
        "fields": [
            {"name": "content", "type": "int", "field-id": 134},
            {"name": "file_path", "type": "string", "field-id": 100},
            {"name": "file_format", "type": "string", "field-id": 101},
            {"name": "partition", "type": {"type": "record", "name": "r102", "fields": avro_fields(spec)?}, "field-id": 102},
            {"name": "record_count", "type": "long", "field-id": 103},
            {"name": "file_size_in_bytes", "type": "long", "field-id": 104},
            map("column_sizes", 108, 117, 118, "long"),
            map("value_counts", 109, 119, 120, "long"),
            map("null_value_counts", 110, 121, 122, "long"),
            map("nan_value_counts", 137, 138, 139, "long"),
            map("lower_bounds", 125, 126, 127, "bytes"),
            map("upper_bounds", 128, 129, 130, "bytes"),
            {"name": "key_metadata", "type": ["null", "bytes"], "default": null, "field-id": 131},
            {"name": "split_offsets", "type": ["null", {"type": "array", "items": "long", "element-id": 133}], "default": null, "field-id": 132},
            {"name": "equality_ids", "type": ["null", {"type": "array", "items": "int", "element-id": 136}], "default": null, "field-id": 135},
            {"name": "sort_order_id", "type": ["null", "int"], "default": null, "field-id": 140},
            {"name": "referenced_data_file", "type": ["null", "string"], "default": null, "field-id": 143},
        ],
    }))
}

/// An Avro-compatible name: letters, digits and `_`, not starting with a digit. Other characters
/// become `_x` and their code point in upper-case hex; a leading digit gets a `_` before it (the
/// convention of the reference implementations, which also record the original name).
fn avro_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()) {
            out.push(c);
        } else if c.is_ascii_digit() {
            out.push('_');
            out.push(c);
        } else {
            out.push_str(&format!("_x{:X}", u32::from(c)));
        }
    }
    out
}

/// The Avro type of a partition value.
fn partition_avro(ty: PartitionType) -> Value {
    match ty {
        PartitionType::Boolean => json!("boolean"),
        PartitionType::Int => json!("int"),
        PartitionType::Long => json!("long"),
        PartitionType::Float => json!("float"),
        PartitionType::Double => json!("double"),
        PartitionType::Date => json!({"type": "int", "logicalType": "date"}),
        PartitionType::Timestamp => {
            json!({"type": "long", "logicalType": "timestamp-micros", "adjust-to-utc": false})
        }
        PartitionType::Timestamptz => {
            json!({"type": "long", "logicalType": "timestamp-micros", "adjust-to-utc": true})
        }
        PartitionType::String => json!("string"),
        PartitionType::Binary => json!("bytes"),
    }
}

/// Whether `v` may stand in a partition field of type `ty`.
fn accepts(ty: PartitionType, v: &PartitionValue) -> bool {
    use PartitionType as T;
    use PartitionValue as V;
    matches!(
        (ty, v),
        (_, V::Null)
            | (T::Boolean, V::Bool(_))
            | (T::Int | T::Date, V::Int(_))
            | (T::Long | T::Timestamp | T::Timestamptz, V::Long(_))
            | (T::Float, V::Float(_))
            | (T::Double, V::Double(_))
            | (T::String, V::String(_))
            | (T::Binary, V::Bytes(_))
    )
}

/// Encodes a `data_file` struct in the field order of [`data_file_schema`].
pub(crate) fn encode_data_file(file: &DataFile, spec: &PartitionSpec, e: &mut Encoder) -> Result<(), ManifestError> {
    if file.file_format == FileFormat::Puffin {
        return Err(ManifestError::Invalid("deletion vectors (puffin) need format version 3"));
    }
    if file.partition.len() != spec.fields.len() {
        return Err(ManifestError::Invalid("a partition tuple does not match the partition spec"));
    }
    e.int(file.content.as_i32());
    e.string(&file.file_path);
    e.string(file.file_format.as_str());
    for ((name, value), field) in file.partition.iter().zip(&spec.fields) {
        if *name != field.name || !accepts(field.ty, value) {
            return Err(ManifestError::Invalid("a partition tuple does not match the partition spec"));
        }
        match value {
            PartitionValue::Null => e.long(0),
            v => {
                e.long(1);
                match v {
                    PartitionValue::Null => {}
                    PartitionValue::Bool(b) => e.boolean(*b),
                    PartitionValue::Int(i) => e.int(*i),
                    PartitionValue::Long(l) => e.long(*l),
                    PartitionValue::Float(f) => e.float(*f),
                    PartitionValue::Double(d) => e.double(*d),
                    PartitionValue::String(s) => e.string(s),
                    PartitionValue::Bytes(b) => e.bytes(b),
                }
            }
        }
    }
    e.long(file.record_count);
    e.long(file.file_size_in_bytes);
    for counts in [&file.column_sizes, &file.value_counts, &file.null_value_counts, &file.nan_value_counts] {
        e.optional((!counts.is_empty()).then_some(counts), |e, m| {
            e.array(m, |e, (k, v)| {
                e.int(*k);
                e.long(*v);
            });
        });
    }
    for bounds in [&file.lower_bounds, &file.upper_bounds] {
        e.optional((!bounds.is_empty()).then_some(bounds), |e, m| {
            e.array(m, |e, (k, v)| {
                e.int(*k);
                e.bytes(v);
            });
        });
    }
    e.optional(file.key_metadata.as_deref(), Encoder::bytes);
    e.optional((!file.split_offsets.is_empty()).then_some(&file.split_offsets), |e, l| e.array(l, |e, v| e.long(*v)));
    e.optional((!file.equality_ids.is_empty()).then_some(&file.equality_ids), |e, l| e.array(l, |e, v| e.int(*v)));
    e.optional(file.sort_order_id, Encoder::int);
    e.optional(file.referenced_data_file.as_deref(), Encoder::string);
    Ok(())
}

/// Whether this is a floating-point NaN.
fn is_nan(v: &PartitionValue) -> bool {
    match v {
        PartitionValue::Float(v) => v.is_nan(),
        PartitionValue::Double(v) => v.is_nan(),
        _ => false,
    }
}

/// The order of two non-null values of the same type; `None` across types.
fn order(a: &PartitionValue, b: &PartitionValue) -> Option<Ordering> {
    use PartitionValue as V;
    Some(match (a, b) {
        (V::Bool(a), V::Bool(b)) => a.cmp(b),
        (V::Int(a), V::Int(b)) => a.cmp(b),
        (V::Long(a), V::Long(b)) => a.cmp(b),
        (V::Float(a), V::Float(b)) => a.total_cmp(b),
        (V::Double(a), V::Double(b)) => a.total_cmp(b),
        (V::String(a), V::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (V::Bytes(a), V::Bytes(b)) => a.cmp(b),
        _ => return None,
    })
}
