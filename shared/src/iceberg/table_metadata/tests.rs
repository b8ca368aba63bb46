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
    assert_eq!(spec.fields, [PartitionField { source_id: 1, field_id: 1000, name: "ns".into(), transform: Transform::Identity }]);
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
    let field = |id, name: &str, required, field_type| NestedField { id, name: name.into(), required, field_type, doc: None };
    let mut props = BTreeMap::new();
    props.insert("write.format.default".to_string(), "parquet".to_string());
    let mut summary = BTreeMap::new();
    summary.insert("added-records".to_string(), "3".to_string());
    let mut refs = BTreeMap::new();
    refs.insert(
        MAIN_BRANCH.to_string(),
        SnapshotRef {
            snapshot_id: 7,
            ref_type: RefType::Branch,
            min_snapshots_to_keep: Some(3),
            max_snapshot_age_ms: Some(86_400_000),
            max_ref_age_ms: None,
        },
    );
    refs.insert(
        "release".to_string(),
        SnapshotRef {
            snapshot_id: 6,
            ref_type: RefType::Tag,
            min_snapshots_to_keep: None,
            max_snapshot_age_ms: None,
            max_ref_age_ms: Some(1),
        },
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
        (
            "no table-uuid",
            |v| {
                v.as_object_mut().unwrap().remove("table-uuid");
            },
            E::MissingField("table-uuid"),
        ),
        ("null location", |v| v["location"] = Value::Null, E::MissingField("location")),
        (
            "no sort-orders",
            |v| {
                v.as_object_mut().unwrap().remove("sort-orders");
            },
            E::MissingField("sort-orders"),
        ),
        (
            "no format-version",
            |v| {
                v.as_object_mut().unwrap().remove("format-version");
            },
            E::MissingField("format-version"),
        ),
        ("location is a number", |v| v["location"] = json!(5), E::Malformed),
        ("version as a string", |v| v["format-version"] = json!("2"), E::Malformed),
        ("column id beyond i32", |v| v["last-column-id"] = json!(1u64 << 40), E::Malformed),
        ("not an object", |v| *v = json!([1, 2]), E::Malformed),
        ("version 1", |v| v["format-version"] = json!(1), E::UnsupportedVersion(1)),
        (
            "version 3 with a v3 shape",
            |v| {
                v["format-version"] = json!(3);
                v["snapshots"] = json!({"not": "a list"});
            },
            E::UnsupportedVersion(3),
        ),
        ("version 7", |v| v["format-version"] = json!(7), E::UnsupportedVersion(7)),
        ("unknown type", |v| v["schemas"][0]["fields"][0]["type"] = json!("varchar"), E::InvalidType),
        ("v3 type", |v| v["schemas"][0]["fields"][0]["type"] = json!("timestamp_ns"), E::InvalidType),
        ("decimal too wide", |v| v["schemas"][0]["fields"][0]["type"] = json!("decimal(39, 2)"), E::InvalidType),
        ("unknown nested type", |v| v["schemas"][0]["fields"][0]["type"] = json!({"type": "set"}), E::InvalidType),
        (
            "list without element-id",
            |v| {
                v["schemas"][0]["fields"][2]["type"].as_object_mut().unwrap().remove("element-id");
            },
            E::MissingField("element-id"),
        ),
        (
            "field without required",
            |v| {
                v["schemas"][0]["fields"][1].as_object_mut().unwrap().remove("required");
            },
            E::MissingField("required"),
        ),
        (
            "schema without schema-id",
            |v| {
                v["schemas"][0].as_object_mut().unwrap().remove("schema-id");
            },
            E::MissingField("schema-id"),
        ),
        ("schema of another type", |v| v["schemas"][0]["type"] = json!("list"), E::InvalidType),
        ("duplicate field id", |v| v["schemas"][0]["fields"][1]["id"] = json!(1), E::DuplicateFieldId),
        ("element id reused", |v| v["schemas"][0]["fields"][2]["type"]["element-id"] = json!(2), E::DuplicateFieldId),
        ("duplicate field name", |v| v["schemas"][0]["fields"][1]["name"] = json!("ns"), E::DuplicateFieldName),
        (
            "duplicate schema id",
            |v| {
                let s = v["schemas"][0].clone();
                v["schemas"].as_array_mut().unwrap().push(s);
            },
            E::DuplicateSchemaId,
        ),
        ("current schema missing", |v| v["current-schema-id"] = json!(5), E::CurrentSchemaMissing),
        (
            "duplicate spec id",
            |v| {
                let s = v["partition-specs"][0].clone();
                v["partition-specs"].as_array_mut().unwrap().push(s);
            },
            E::DuplicateSpecId,
        ),
        ("default spec missing", |v| v["default-spec-id"] = json!(3), E::DefaultSpecMissing),
        (
            "partition field without field-id",
            |v| {
                v["partition-specs"][0]["fields"][0].as_object_mut().unwrap().remove("field-id");
            },
            E::MissingField("field-id"),
        ),
        ("negative last sequence number", |v| v["last-sequence-number"] = json!(-1), E::NegativeSequenceNumber),
        ("negative snapshot sequence number", |v| v["snapshots"][0]["sequence-number"] = json!(-1), E::NegativeSequenceNumber),
        ("snapshot ahead of table", |v| v["snapshots"][1]["sequence-number"] = json!(3), E::SequenceNumberAhead),
        (
            "snapshot without sequence number",
            |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("sequence-number");
            },
            E::MissingField("sequence-number"),
        ),
        (
            "snapshot without manifest list",
            |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("manifest-list");
            },
            E::MissingField("manifest-list"),
        ),
        (
            "snapshot without summary",
            |v| {
                v["snapshots"][0].as_object_mut().unwrap().remove("summary");
            },
            E::MissingField("summary"),
        ),
        ("summary without operation", |v| v["snapshots"][0]["summary"] = json!({"added-records": "1"}), E::MissingField("operation")),
        ("unknown operation", |v| v["snapshots"][0]["summary"]["operation"] = json!("merge"), E::UnknownOperation),
        ("summary value not a string", |v| v["snapshots"][0]["summary"]["added-records"] = json!(1), E::Malformed),
        ("duplicate snapshot id", |v| v["snapshots"][1]["snapshot-id"] = json!(1), E::DuplicateSnapshotId),
        (
            "current snapshot missing",
            |v| {
                v["current-snapshot-id"] = json!(9);
                v["refs"] = json!({});
            },
            E::CurrentSnapshotMissing,
        ),
        ("ref to no snapshot", |v| v["refs"]["old"] = json!({"snapshot-id": 9, "type": "tag"}), E::RefSnapshotMissing),
        ("main elsewhere", |v| v["refs"]["main"]["snapshot-id"] = json!(1), E::MainBranchMismatch),
        (
            "main without current",
            |v| {
                v.as_object_mut().unwrap().remove("current-snapshot-id");
            },
            E::MainBranchMismatch,
        ),
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
    for name in [
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "string",
        "uuid",
        "binary",
        "fixed[16]",
        "decimal(38, 0)",
    ] {
        assert_eq!(PrimitiveType::parse(name).unwrap().to_string(), name);
    }
    assert_eq!(PrimitiveType::parse("decimal(9,2)"), Some(PrimitiveType::Decimal { precision: 9, scale: 2 }));
    assert_eq!(PrimitiveType::parse("fixed[ 4 ]"), Some(PrimitiveType::Fixed(4)));
    for bad in [
        "decimal(9, 10)",
        "decimal(0, 0)",
        "decimal(+9, 2)",
        "decimal(9)",
        "fixed[-1]",
        "fixed[]",
        "Long",
        "",
        "fixed[99999999999999999999]",
    ] {
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
        MetadataError::TooLarge,
        MetadataError::NotJson,
        MetadataError::Malformed,
        MetadataError::MissingField("schemas"),
        MetadataError::UnsupportedVersion(1),
        MetadataError::UnsupportedVersion(3),
        MetadataError::UnsupportedVersion(9),
        MetadataError::InvalidType,
        MetadataError::TypeTooDeep,
        MetadataError::DuplicateFieldId,
        MetadataError::DuplicateFieldName,
        MetadataError::DuplicateSchemaId,
        MetadataError::DuplicateSpecId,
        MetadataError::DuplicateSnapshotId,
        MetadataError::CurrentSchemaMissing,
        MetadataError::DefaultSpecMissing,
        MetadataError::CurrentSnapshotMissing,
        MetadataError::RefSnapshotMissing,
        MetadataError::MainBranchMismatch,
        MetadataError::NegativeSequenceNumber,
        MetadataError::SequenceNumberAhead,
        MetadataError::UnknownOperation,
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

use crate::test_rng::Rng;

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
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"-1",
        b"1e999",
        b"null",
        b"true",
        b"\"type\"",
        b"\"list\"",
        b"\"element\"",
        b"9223372036854775808",
        b"\\u0000",
    ];
    for round in 0..3000 {
        let mut doc = if round % 2 == 0 { small.clone() } else { big.clone() };
        for _ in 0..1 + rng.index(4) {
            let at = rng.index(doc.len());
            match rng.index(4) {
                0 => doc[at] = rng.next() as u8,
                1 => {
                    doc.remove(at);
                }
                2 => {
                    let t = tokens[rng.index(tokens.len())];
                    doc.splice(at..at, t.iter().copied());
                }
                _ => {
                    let len = rng.index(64).min(doc.len() - at);
                    doc.drain(at..at + len);
                }
            }
        }
        let _ = TableMetadata::from_json(&doc);
    }
    for _ in 0..500 {
        let len = rng.index(256);
        let doc: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(TableMetadata::from_json(&doc).is_err());
    }
    // Nesting at serde_json's limit and beyond.
    for depth in [127, 128, 129, 5000] {
        let doc = alloc::format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(TableMetadata::from_json(doc.as_bytes()).is_err());
    }
}
