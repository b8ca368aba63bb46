//! Round trips, inheritance, every codec, hostile input, apache-avro as an independent
//! encoder/decoder, and pyiceberg's files when the fixtures are there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::avro;
use super::*;
use crate::writer::avro::{Codec, Encoder};
use crate::writer::manifest::{
    data_file_schema, encode_data_file, fields_json, summarize, write_manifest, write_manifest_list,
    write_manifest_list_with as write_manifest_list_codec, write_manifest_with as write_manifest_codec,
};
use apache_avro::types::Value as AV;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const TABLE_SCHEMA: &str = r#"{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"ns","required":true,"type":"string"}]}"#;

fn spec() -> PartitionSpec {
    let f = |field_id, name: &str, ty| PartitionField {
        source_id: field_id - 999,
        field_id,
        name: name.into(),
        transform: Transform::Identity,
        ty,
    };
    PartitionSpec {
        spec_id: 3,
        fields: vec![
            f(1000, "ns", PartitionType::String),
            f(1001, "day", PartitionType::Date),
            f(1002, "flag", PartitionType::Boolean),
            f(1003, "ts", PartitionType::Timestamptz),
            f(1004, "owner-org", PartitionType::Int),
            f(1005, "blob", PartitionType::Binary),
            f(1006, "ratio", PartitionType::Double),
        ],
    }
}

fn tuple(ns: &str, day: i32, ratio: f64) -> Vec<(String, PartitionValue)> {
    vec![
        ("ns".into(), PartitionValue::String(ns.into())),
        ("day".into(), PartitionValue::Int(day)),
        ("flag".into(), PartitionValue::Bool(true)),
        ("ts".into(), PartitionValue::Long(1_700_000_000_000_000)),
        ("owner-org".into(), PartitionValue::Null),
        ("blob".into(), PartitionValue::Bytes(vec![0, 255, 7])),
        ("ratio".into(), PartitionValue::Double(ratio)),
    ]
}

fn full_file(path: &str, ns: &str) -> DataFile {
    DataFile {
        content: DataContent::Data,
        file_path: path.into(),
        file_format: FileFormat::Parquet,
        partition: tuple(ns, 19_000, 0.5),
        record_count: 42,
        file_size_in_bytes: 4096,
        column_sizes: vec![(1, 100), (2, 200)],
        value_counts: vec![(1, 42), (2, 42)],
        null_value_counts: vec![(1, 0), (2, 3)],
        nan_value_counts: vec![(5, 0)],
        lower_bounds: vec![(1, b"alpha".to_vec()), (4, 7i64.to_le_bytes().to_vec())],
        upper_bounds: vec![(1, b"omega".to_vec()), (4, 9i64.to_le_bytes().to_vec())],
        key_metadata: Some(vec![1, 2, 3]),
        split_offsets: vec![4, 1000],
        equality_ids: vec![],
        sort_order_id: Some(0),
        referenced_data_file: None,
    }
}

fn entries() -> Vec<ManifestEntry> {
    vec![
        ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id: 77,
            sequence_number: None,
            file_sequence_number: None,
            data_file: full_file("s3://b/t/data/added.parquet", "acme"),
        },
        ManifestEntry {
            status: EntryStatus::Existing,
            snapshot_id: 55,
            sequence_number: Some(4),
            file_sequence_number: Some(5),
            data_file: full_file("s3://b/t/data/existing.parquet", "zeta"),
        },
        ManifestEntry {
            status: EntryStatus::Deleted,
            snapshot_id: 77,
            sequence_number: Some(2),
            file_sequence_number: Some(2),
            data_file: DataFile { partition: tuple("beta", 18_000, f64::NAN), ..full_file("s3://b/t/data/deleted.parquet", "") },
        },
    ]
}

fn list_entry(len: usize, seq: i64) -> ManifestFile {
    ManifestFile {
        manifest_path: "s3://b/t/metadata/m0.avro".into(),
        manifest_length: len as i64,
        partition_spec_id: 3,
        content: ManifestContent::Data,
        sequence_number: seq,
        min_sequence_number: 2,
        added_snapshot_id: 77,
        added_files_count: Some(1),
        existing_files_count: Some(1),
        deleted_files_count: Some(1),
        added_rows_count: Some(42),
        existing_rows_count: Some(42),
        deleted_rows_count: Some(42),
        partitions: vec![],
        key_metadata: None,
    }
}

fn list_files() -> Vec<ManifestFile> {
    let mut a = list_entry(1234, 6);
    a.partitions = vec![
        FieldSummary {
            contains_null: false,
            contains_nan: Some(false),
            lower_bound: Some(b"a".to_vec()),
            upper_bound: Some(b"z".to_vec()),
        },
        FieldSummary { contains_null: true, contains_nan: None, lower_bound: None, upper_bound: None },
    ];
    a.key_metadata = Some(vec![9]);
    let mut b = list_entry(99, 3);
    b.manifest_path = "s3://b/t/metadata/deletes.avro".into();
    b.content = ManifestContent::Deletes;
    b.min_sequence_number = 1;
    b.added_snapshot_id = -5;
    vec![a, b]
}

/// What reading `entries()` back gives: ADDED entries inherit the list's sequence number.
fn inherited(seq: i64) -> Vec<ManifestEntry> {
    let mut want = entries();
    want[0].sequence_number = Some(seq);
    want[0].file_sequence_number = Some(seq);
    want
}

/// Entries compare with `==`, and NaN != NaN: compare through Debug, which prints NaN as NaN.
fn same<T: core::fmt::Debug>(a: &T, b: &T) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

fn manifest_bytes(codec: Codec) -> Vec<u8> {
    write_manifest_codec(&entries(), &spec(), TABLE_SCHEMA, 0, codec).unwrap()
}

/// An object container built by hand: any codec name, any blocks (count, payload as stored).
fn container(schema: &Value, codec: &str, meta: &[(&str, &str)], blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let sync = [7u8; 16];
    let mut e = Encoder::default();
    e.buf.extend_from_slice(b"Obj\x01");
    let schema = schema.to_string();
    let mut m: Vec<(&str, &[u8])> = vec![("avro.schema", schema.as_bytes()), ("avro.codec", codec.as_bytes())];
    m.extend(meta.iter().map(|(k, v)| (*k, v.as_bytes())));
    e.array(&m, |e, (k, v)| {
        e.string(k);
        e.bytes(v);
    });
    e.buf.extend_from_slice(&sync);
    for (count, payload) in blocks {
        e.long(*count);
        e.bytes(payload);
        e.buf.extend_from_slice(&sync);
    }
    e.buf
}

fn record_schema(fields: Value) -> Value {
    json!({"type": "record", "name": "x", "fields": fields})
}

fn unchecked() -> ManifestFile {
    list_entry(0, 6)
}

#[test]
fn manifest_round_trip_keeps_every_field_and_inherits_sequence_numbers() {
    let bytes = manifest_bytes(Codec::Snappy);
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 6)).unwrap();
    same(&m.entries, &inherited(6));
    assert_eq!(
        m.metadata,
        ManifestMetadata {
            schema: TABLE_SCHEMA.into(),
            schema_id: Some(0),
            partition_spec: fields_json(&spec()),
            partition_spec_id: Some(3),
            format_version: 2,
            content: ManifestContent::Data,
        }
    );
    // The public writer is the snappy one.
    assert_eq!(write_manifest(&entries(), &spec(), TABLE_SCHEMA, 0).unwrap(), bytes);
    let spec_json: Value = serde_json::from_str(&m.metadata.partition_spec).unwrap();
    assert_eq!(spec_json[4], json!({"name": "owner-org", "transform": "identity", "source-id": 5, "field-id": 1004}));
}

#[test]
fn existing_and_deleted_entries_keep_their_sequence_numbers() {
    let bytes = manifest_bytes(Codec::Null);
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 9)).unwrap();
    let seqs: Vec<_> = m.entries.iter().map(|e| (e.status, e.sequence_number, e.file_sequence_number)).collect();
    assert_eq!(
        seqs,
        [(EntryStatus::Added, Some(9), Some(9)), (EntryStatus::Existing, Some(4), Some(5)), (EntryStatus::Deleted, Some(2), Some(2)),]
    );
}

#[test]
fn null_snapshot_ids_inherit_and_existing_entries_without_numbers_stay_unknown() {
    // A hand-built v2 manifest: snapshot_id and both sequence numbers null on every entry.
    let data_file = data_file_schema(&PartitionSpec::unpartitioned()).unwrap();
    let schema = json!({"type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int", "field-id": 0},
        {"name": "snapshot_id", "type": ["null", "long"], "field-id": 1},
        {"name": "sequence_number", "type": ["null", "long"], "field-id": 3},
        {"name": "file_sequence_number", "type": ["null", "long"], "field-id": 4},
        {"name": "data_file", "type": data_file, "field-id": 2},
    ]});
    let mut block = Vec::new();
    for status in [1, 0] {
        let mut e = Encoder::default();
        e.int(status);
        e.long(0);
        e.long(0);
        e.long(0);
        encode_data_file(&DataFile::new("f.parquet", FileFormat::Parquet, 1, 2), &PartitionSpec::unpartitioned(), &mut e).unwrap();
        block.extend(e.buf);
    }
    let meta = [("schema", "{}"), ("partition-spec", "[]"), ("format-version", "2"), ("content", "data")];
    let bytes = container(&schema, "null", &meta, &[(2, block)]);
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 8)).unwrap();
    assert_eq!((m.entries[0].snapshot_id, m.entries[0].sequence_number, m.entries[0].file_sequence_number), (77, Some(8), Some(8)));
    assert_eq!((m.entries[1].snapshot_id, m.entries[1].sequence_number, m.entries[1].file_sequence_number), (77, None, None));
    // A v1 list entry has sequence number 0, which every entry inherits.
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 0)).unwrap();
    assert_eq!(m.entries[1].sequence_number, Some(0));
    assert_eq!(m.metadata.schema_id, None);
}

#[test]
fn manifest_list_round_trip_and_header() {
    let files = list_files();
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = write_manifest_list_codec(&files, 77, Some(76), 6, codec).unwrap();
        assert_eq!(read_manifest_list(&bytes).unwrap(), files, "{codec:?}");
    }
    let bytes = write_manifest_list(&files, 77, None, 6).unwrap();
    assert_eq!(read_manifest_list(&bytes).unwrap(), files);
    let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
    let meta = reader.user_metadata();
    let get = |k: &str| String::from_utf8(meta[k].clone()).unwrap();
    assert_eq!(get("snapshot-id"), "77");
    assert_eq!(get("parent-snapshot-id"), "null");
    assert_eq!(get("sequence-number"), "6");
    assert_eq!(get("format-version"), "2");
    let bytes = write_manifest_list(&files, 77, Some(76), 6).unwrap();
    let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
    assert_eq!(reader.user_metadata()["parent-snapshot-id"], b"76");
}

/// Every record field has a `field-id`, every list an `element-id`, every map is an array of
/// `k{key}_v{value}` records with `logicalType: map`.
fn check_ids(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Array(branches) => branches.iter().for_each(|b| check_ids(b, names)),
        Value::Object(o) => {
            if let Some(Value::String(n)) = o.get("name") {
                if o.contains_key("type") && !o.contains_key("field-id") {
                    names.push(n.clone());
                }
            }
            match o.get("type").and_then(Value::as_str) {
                Some("record") => {
                    for f in o["fields"].as_array().unwrap() {
                        assert!(f["field-id"].is_i64(), "{f}");
                        check_ids(&f["type"], names);
                    }
                }
                Some("array") => {
                    let items = &o["items"];
                    if o.get("logicalType") == Some(&json!("map")) {
                        let fields = items["fields"].as_array().unwrap();
                        let (k, v) = (&fields[0], &fields[1]);
                        assert_eq!((&k["name"], &v["name"]), (&json!("key"), &json!("value")));
                        assert_eq!(items["name"], json!(format!("k{}_v{}", k["field-id"], v["field-id"])));
                    } else {
                        assert!(o["element-id"].is_i64(), "{schema}");
                    }
                    check_ids(items, names);
                }
                _ => {}
            }
        }
        _ => {}
    }
}

#[test]
fn written_schemas_carry_the_spec_ids_and_names_and_apache_avro_reads_them() {
    let manifest = manifest_bytes(Codec::Deflate);
    let list = write_manifest_list(&list_files(), 1, None, 1).unwrap();
    for (bytes, top, named) in [
        (&manifest, "manifest_entry", &["manifest_entry", "r2", "r102", "k117_v118", "k126_v127", "k129_v130", "k138_v139"][..]),
        (&list, "manifest_file", &["manifest_file", "r508"][..]),
    ] {
        let file = avro::Container::open(bytes, &ReadLimits::default()).unwrap();
        let schema: Value = serde_json::from_str(file.meta_str("avro.schema").unwrap().unwrap()).unwrap();
        assert_eq!(schema["name"], top);
        let mut names = vec![];
        check_ids(&schema, &mut names);
        for n in named {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        // apache-avro, an independent implementation, decodes every record.
        let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
        let values: Vec<AV> = reader.map(|r| r.unwrap()).collect();
        assert_eq!(values.len(), if top == "manifest_entry" { 3 } else { 2 });
    }
    // The partition field whose name is not a valid Avro name keeps its Iceberg name.
    let file = avro::Container::open(&manifest, &ReadLimits::default()).unwrap();
    let schema: Value = serde_json::from_str(file.meta_str("avro.schema").unwrap().unwrap()).unwrap();
    let r102 = &schema["fields"][4]["type"]["fields"][3]["type"];
    assert_eq!(r102["fields"][4]["name"], "owner_x2Dorg");
    assert_eq!(r102["fields"][4]["iceberg-field-name"], "owner-org");
    assert_eq!(r102["fields"][4]["field-id"], 1004);
    assert_eq!(r102["fields"][1]["type"], json!(["null", {"type": "int", "logicalType": "date"}]));
    let reader = apache_avro::Reader::new(&manifest[..]).unwrap();
    let first = reader.into_iter().next().unwrap().unwrap();
    let AV::Record(fields) = first else { panic!() };
    assert_eq!(fields[0], ("status".into(), AV::Int(1)));
    assert_eq!(fields[2], ("sequence_number".into(), AV::Union(0, Box::new(AV::Null))));
}

/// The spec's v2 manifest list schema, for apache-avro.
fn list_schema_json() -> Value {
    let bytes = write_manifest_list(&[], 1, None, 1).unwrap();
    let file = avro::Container::open(&bytes, &ReadLimits::default()).unwrap();
    serde_json::from_str(file.meta_str("avro.schema").unwrap().unwrap()).unwrap()
}

fn av_opt(v: Option<AV>) -> AV {
    match v {
        None => AV::Union(0, Box::new(AV::Null)),
        Some(v) => AV::Union(1, Box::new(v)),
    }
}

fn av_list_entry(path: &str, seq: i64) -> AV {
    let summary = AV::Record(vec![
        ("contains_null".into(), AV::Boolean(true)),
        ("contains_nan".into(), av_opt(Some(AV::Boolean(false)))),
        ("lower_bound".into(), av_opt(Some(AV::Bytes(b"a".to_vec())))),
        ("upper_bound".into(), av_opt(None)),
    ]);
    AV::Record(vec![
        ("manifest_path".into(), AV::String(path.into())),
        ("manifest_length".into(), AV::Long(10)),
        ("partition_spec_id".into(), AV::Int(0)),
        ("content".into(), AV::Int(1)),
        ("sequence_number".into(), AV::Long(seq)),
        ("min_sequence_number".into(), AV::Long(seq - 1)),
        ("added_snapshot_id".into(), AV::Long(5)),
        ("added_files_count".into(), AV::Int(1)),
        ("existing_files_count".into(), AV::Int(2)),
        ("deleted_files_count".into(), AV::Int(3)),
        ("added_rows_count".into(), AV::Long(10)),
        ("existing_rows_count".into(), AV::Long(20)),
        ("deleted_rows_count".into(), AV::Long(30)),
        ("partitions".into(), av_opt(Some(AV::Array(vec![summary])))),
        ("key_metadata".into(), av_opt(None)),
    ])
}

fn apache_write(schema: &Value, codec: apache_avro::Codec, meta: &[(&str, &str)], values: Vec<AV>) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(&schema.to_string()).unwrap();
    let mut w = apache_avro::Writer::with_codec(&schema, Vec::new(), codec).unwrap();
    for (k, v) in meta {
        w.add_user_metadata((*k).to_string(), v).unwrap();
    }
    for v in values {
        w.append_value(v).unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn reads_every_codec_from_apache_avro() {
    use apache_avro::{Codec as AC, DeflateSettings};
    for codec in [AC::Null, AC::Deflate(DeflateSettings::default()), AC::Snappy] {
        // Over one block's worth, so apache-avro writes several blocks.
        let values: Vec<AV> = (0..3000).map(|i| av_list_entry(&format!("m{i}.avro"), 7)).collect();
        let bytes = apache_write(&list_schema_json(), codec, &[("format-version", "2")], values);
        let files = read_manifest_list(&bytes).unwrap();
        assert_eq!(files.len(), 3000, "{codec:?}");
        let f = &files[2999];
        assert_eq!(f.manifest_path, "m2999.avro");
        assert_eq!((f.content, f.sequence_number, f.min_sequence_number), (ManifestContent::Deletes, 7, 6));
        assert_eq!((f.added_files_count, f.existing_files_count, f.deleted_files_count), (Some(1), Some(2), Some(3)));
        assert_eq!((f.added_rows_count, f.existing_rows_count, f.deleted_rows_count), (Some(10), Some(20), Some(30)));
        assert_eq!(
            f.partitions,
            [FieldSummary { contains_null: true, contains_nan: Some(false), lower_bound: Some(b"a".to_vec()), upper_bound: None }]
        );
    }
}

/// `bytes` (written by our writer with [`Codec::Null`]) without its `avro.codec` header entry: what
/// apache-avro, and so iceberg-rust, writes for uncompressed files.
fn without_codec_key(bytes: &[u8]) -> Vec<u8> {
    // The header map is one block: its count (zigzag, one byte for fewer than 64 entries) right
    // after the magic, then the entries; `avro.codec` → `null` is one string and one bytes value.
    let mut entry = vec![2 * b"avro.codec".len() as u8];
    entry.extend_from_slice(b"avro.codec");
    entry.push(2 * 4);
    entry.extend_from_slice(b"null");
    let at = bytes.windows(entry.len()).position(|w| w == entry).expect("a null codec entry");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&bytes[at + entry.len()..]);
    assert!(out[4] >= 2 && out[4] < 128, "one-byte header count");
    out[4] -= 2;
    out
}

#[test]
fn manifests_and_lists_without_a_codec_key_read_like_snappy_ones() {
    // iceberg-rust writes manifests and manifest lists through apache-avro with the null codec,
    // which leaves the `avro.codec` key out of the header altogether (the spec's default).
    let snappy = manifest_bytes(Codec::Snappy);
    let null = manifest_bytes(Codec::Null);
    let bare = without_codec_key(&null);
    let has_key = |b: &[u8]| b.windows(10).any(|w| w == b"avro.codec");
    assert!(has_key(&snappy) && has_key(&null) && !has_key(&bare));
    // A valid container to the reference implementation too, read as uncompressed.
    assert_eq!(apache_avro::Reader::new(&bare[..]).unwrap().count(), entries().len());
    let want = read_manifest(&snappy, &list_entry(snappy.len(), 6)).unwrap();
    for bytes in [&null, &bare] {
        let m = read_manifest(bytes, &list_entry(bytes.len(), 6)).unwrap();
        same(&m.entries, &want.entries);
        assert_eq!(m.metadata, want.metadata);
    }
    same(&want.entries, &inherited(6));

    let files = list_files();
    let snappy = write_manifest_list_codec(&files, 77, Some(76), 6, Codec::Snappy).unwrap();
    let bare = without_codec_key(&write_manifest_list_codec(&files, 77, Some(76), 6, Codec::Null).unwrap());
    assert!(!has_key(&bare));
    assert_eq!(read_manifest_list(&bare).unwrap(), read_manifest_list(&snappy).unwrap());
    assert_eq!(read_manifest_list(&bare).unwrap(), files);
    // A header that names no codec and then holds compressed blocks is corrupt, not misread.
    let snappy_bare = {
        let mut entry = vec![2 * 10u8];
        entry.extend_from_slice(b"avro.codec");
        entry.push(2 * 6);
        entry.extend_from_slice(b"snappy");
        let at = snappy.windows(entry.len()).position(|w| w == entry).unwrap();
        let mut out = snappy[..at].to_vec();
        out.extend_from_slice(&snappy[at + entry.len()..]);
        out[4] -= 2;
        out
    };
    assert!(read_manifest_list(&snappy_bare).is_err());
}

#[test]
fn reads_every_codec_from_our_writer() {
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = manifest_bytes(codec);
        let m = read_manifest(&bytes, &list_entry(bytes.len(), 6)).unwrap();
        same(&m.entries, &inherited(6));
    }
    // Many entries: several blocks.
    let many: Vec<ManifestEntry> = (0..2000)
        .map(|i| ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id: 1,
            sequence_number: None,
            file_sequence_number: None,
            data_file: full_file(&format!("s3://b/t/data/{i}.parquet"), "acme"),
        })
        .collect();
    let bytes = write_manifest(&many, &spec(), TABLE_SCHEMA, 0).unwrap();
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 1)).unwrap();
    assert_eq!(m.entries.len(), 2000);
    assert_eq!(m.entries[1999].data_file.file_path, "s3://b/t/data/1999.parquet");
}

#[test]
fn deflate_blocks_with_a_leftover_zlib_trailer_read() {
    // pyiceberg writes deflate blocks as zlib output minus the 2-byte header and only the last
    // byte of the 4-byte Adler-32 trailer: 3 stray bytes after the raw deflate stream.
    let mut e = Encoder::default();
    e.long(7);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&e.buf, 6);
    let pyiceberg_style = zlib[2..zlib.len() - 1].to_vec();
    let schema = record_schema(json!([{"name": "status", "type": "int"}]));
    let bytes = container(&schema, "deflate", &[], &[(1, pyiceberg_style)]);
    let file = avro::Container::open(&bytes, &ReadLimits::default()).unwrap();
    let mut n = 0;
    file.for_each(|_| {
        n += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn v1_lists_and_manifests_default_what_they_lack() {
    // The v1 manifest_file schema: no content or sequence numbers, v1 count names, null counts.
    let v1_list = json!({"type": "record", "name": "manifest_file", "fields": [
        {"name": "manifest_path", "type": "string", "field-id": 500},
        {"name": "manifest_length", "type": "long", "field-id": 501},
        {"name": "partition_spec_id", "type": "int", "field-id": 502},
        {"name": "added_snapshot_id", "type": "long", "field-id": 503},
        {"name": "added_data_files_count", "type": ["null", "int"], "field-id": 504},
        {"name": "existing_data_files_count", "type": ["null", "int"], "field-id": 505},
        {"name": "deleted_data_files_count", "type": ["null", "int"], "field-id": 506},
        {"name": "added_rows_count", "type": ["null", "long"], "field-id": 512},
    ]});
    let value = AV::Record(vec![
        ("manifest_path".into(), AV::String("m.avro".into())),
        ("manifest_length".into(), AV::Long(0)),
        ("partition_spec_id".into(), AV::Int(0)),
        ("added_snapshot_id".into(), AV::Long(11)),
        ("added_data_files_count".into(), av_opt(Some(AV::Int(2)))),
        ("existing_data_files_count".into(), av_opt(None)),
        ("deleted_data_files_count".into(), av_opt(Some(AV::Int(0)))),
        ("added_rows_count".into(), av_opt(Some(AV::Long(5)))),
    ]);
    let bytes = apache_write(&v1_list, apache_avro::Codec::Deflate(Default::default()), &[("format-version", "1")], vec![value]);
    let list = read_manifest_list(&bytes).unwrap();
    let f = &list[0];
    assert_eq!((f.content, f.sequence_number, f.min_sequence_number), (ManifestContent::Data, 0, 0));
    assert_eq!((f.added_files_count, f.existing_files_count, f.deleted_files_count), (Some(2), None, Some(0)));
    assert_eq!((f.added_rows_count, f.existing_rows_count, f.partitions.len()), (Some(5), None, 0));

    // A v1 manifest: required snapshot_id, no sequence numbers, no content, block_size_in_bytes.
    let v1_manifest = json!({"type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int", "field-id": 0},
        {"name": "snapshot_id", "type": "long", "field-id": 1},
        {"name": "data_file", "field-id": 2, "type": {"type": "record", "name": "r2", "fields": [
            {"name": "file_path", "type": "string", "field-id": 100},
            {"name": "file_format", "type": "string", "field-id": 101},
            {"name": "partition", "type": {"type": "record", "name": "r102", "fields": []}, "field-id": 102},
            {"name": "record_count", "type": "long", "field-id": 103},
            {"name": "file_size_in_bytes", "type": "long", "field-id": 104},
            {"name": "block_size_in_bytes", "type": "long", "field-id": 105},
        ]}},
    ]});
    let entry = |status| {
        AV::Record(vec![
            ("status".into(), AV::Int(status)),
            ("snapshot_id".into(), AV::Long(11)),
            (
                "data_file".into(),
                AV::Record(vec![
                    ("file_path".into(), AV::String("d.parquet".into())),
                    ("file_format".into(), AV::String("parquet".into())),
                    ("partition".into(), AV::Record(vec![])),
                    ("record_count".into(), AV::Long(5)),
                    ("file_size_in_bytes".into(), AV::Long(50)),
                    ("block_size_in_bytes".into(), AV::Long(67_108_864)),
                ]),
            ),
        ])
    };
    let meta = [("schema", "{}"), ("partition-spec", "[]"), ("format-version", "1")];
    let bytes = apache_write(&v1_manifest, apache_avro::Codec::Null, &meta, vec![entry(1), entry(0)]);
    let m = read_manifest(&bytes, f).unwrap();
    assert_eq!(m.metadata.format_version, 1);
    assert_eq!(m.metadata.content, ManifestContent::Data);
    for e in &m.entries {
        assert_eq!((e.snapshot_id, e.sequence_number, e.file_sequence_number), (11, Some(0), Some(0)));
        assert_eq!(e.data_file, DataFile::new("d.parquet", FileFormat::Parquet, 5, 50));
    }
}

#[test]
fn fields_are_read_by_name_in_any_order_with_extra_fields() {
    let mut schema = list_schema_json();
    let fields = schema["fields"].as_array_mut().unwrap();
    fields.reverse();
    fields.push(json!({"name": "first_row_id", "type": ["null", "long"], "field-id": 520}));
    fields.push(json!({"name": "something_else", "type": {"type": "map", "values": "string"}}));
    let AV::Record(mut values) = av_list_entry("m.avro", 3) else { panic!() };
    values.reverse();
    values.push(("first_row_id".into(), av_opt(Some(AV::Long(100)))));
    values.push(("something_else".into(), AV::Map([("k".to_string(), AV::String("v".into()))].into())));
    let bytes = apache_write(&schema, apache_avro::Codec::Snappy, &[], vec![AV::Record(values)]);
    let files = read_manifest_list(&bytes).unwrap();
    assert_eq!(files[0].manifest_path, "m.avro");
    assert_eq!(files[0].sequence_number, 3);
    assert_eq!(files[0].partitions[0].lower_bound.as_deref(), Some(&b"a"[..]));
}

#[test]
fn named_types_are_shared_and_namespaces_resolve() {
    let schema = json!({"type": "record", "name": "x", "namespace": "n", "fields": [
        {"name": "a", "type": {"type": "record", "name": "kv", "fields": [{"name": "key", "type": "int"}]}},
        {"name": "b", "type": "kv"},
        {"name": "c", "type": ["null", "n.kv"]},
        {"name": "d", "type": {"type": "fixed", "name": "f4", "size": 4}},
        {"name": "e", "type": "f4"},
        {"name": "g", "type": {"type": "enum", "name": "color", "symbols": ["r", "g"]}},
    ]});
    let mut e = Encoder::default();
    e.int(1);
    e.int(2);
    e.long(1);
    e.int(3);
    e.buf.extend_from_slice(b"abcdwxyz");
    e.long(1);
    let bytes = container(&json!({"type": "record", "name": "y", "fields": [{"name": "x", "type": schema}]}), "null", &[], &[(1, e.buf)]);
    let file = avro::Container::open(&bytes, &ReadLimits::default()).unwrap();
    let mut seen = 0;
    file.for_each(|d| {
        let rec = super::fields::Rec::of(&d, "y")?;
        let x = rec.record("x", 0)?;
        assert_eq!(x.record("c", 0)?.int("key", 0)?, 3);
        assert_eq!(x.opt_bytes("e", 0)?, Some(b"wxyz".to_vec()));
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 1);
    // An enum index outside the symbols is corrupt.
    let mut e = Encoder::default();
    e.int(1);
    e.int(2);
    e.long(0);
    e.buf.extend_from_slice(b"abcdwxyz");
    e.long(2);
    let bytes = container(&json!({"type": "record", "name": "y", "fields": [{"name": "x", "type": schema}]}), "null", &[], &[(1, e.buf)]);
    let file = avro::Container::open(&bytes, &ReadLimits::default()).unwrap();
    assert_eq!(file.for_each(|_| Ok(())), Err(ManifestError::Corrupt("an enum index is out of range")));
}

#[test]
fn every_truncation_of_a_manifest_list_is_an_error_except_at_the_header() {
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = write_manifest_list_codec(&list_files(), 77, None, 6, codec).unwrap();
        let header = write_manifest_list_codec(&[], 77, None, 6, codec).unwrap().len();
        for cut in 0..bytes.len() {
            let got = read_manifest_list(&bytes[..cut]);
            if cut == header {
                // A valid file with no blocks: nothing in a manifest list can tell.
                assert_eq!(got, Ok(vec![]));
            } else {
                assert_eq!(got, Err(ManifestError::Truncated), "{codec:?} cut at {cut}");
            }
        }
    }
}

#[test]
fn every_truncation_of_a_manifest_is_an_error() {
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let bytes = manifest_bytes(codec);
        let header = write_manifest_codec(&[], &spec(), TABLE_SCHEMA, 0, codec).unwrap().len();
        for cut in 0..bytes.len() {
            // The manifest list's length catches every cut, header-only included.
            assert_eq!(read_manifest(&bytes[..cut], &list_entry(bytes.len(), 6)), Err(ManifestError::Truncated));
            // Without it, the container itself does, except at the end of the header.
            let got = read_manifest(&bytes[..cut], &unchecked());
            if cut == header {
                assert_eq!(got.unwrap().entries, vec![]);
            } else {
                assert_eq!(got, Err(ManifestError::Truncated), "{codec:?} cut at {cut}");
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            read_manifest(&longer, &list_entry(bytes.len(), 6)),
            Err(ManifestError::Corrupt("the file is longer than its manifest_length"))
        );
    }
}

#[test]
fn flipped_bits_never_panic() {
    // Every byte of the blocks, every fourth byte of the header (mostly schema JSON).
    let flips = |bytes: &[u8], header: usize| {
        let mut out = vec![];
        for i in (0..bytes.len()).filter(|i| *i >= header || i % 4 == 0) {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.to_vec();
                b[i] ^= mask;
                out.push(b);
            }
        }
        out
    };
    let mut errors = 0;
    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let list = write_manifest_list_codec(&list_files(), 1, None, 1, codec).unwrap();
        let header = write_manifest_list_codec(&[], 1, None, 1, codec).unwrap().len();
        for b in flips(&list, header) {
            errors += usize::from(read_manifest_list(&b).is_err());
        }
        let manifest = manifest_bytes(codec);
        let header = write_manifest_codec(&[], &spec(), TABLE_SCHEMA, 0, codec).unwrap().len();
        for b in flips(&manifest, header) {
            errors += usize::from(read_manifest(&b, &unchecked()).is_err());
        }
    }
    assert!(errors > 0);
}

fn one_int_file(codec: &str, blocks: &[(i64, Vec<u8>)]) -> Vec<u8> {
    container(&record_schema(json!([{"name": "status", "type": "int"}])), codec, &[], blocks)
}

fn read_all(bytes: &[u8], limits: &ReadLimits) -> Result<usize, ManifestError> {
    let file = avro::Container::open(bytes, limits)?;
    let mut n = 0;
    file.for_each(|_| {
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

#[test]
fn lying_block_headers_are_errors() {
    let limits = ReadLimits::default();
    // Two ints, 2 bytes: honest.
    assert_eq!(read_all(&one_int_file("null", &[(2, vec![2, 4])]), &limits), Ok(2));
    // A block size past the end of the file: indistinguishable from a cut.
    let mut bytes = one_int_file("null", &[(2, vec![2, 4])]);
    let at = bytes.len() - 16 - 2 - 1;
    assert_eq!(bytes[at], 4);
    bytes[at] = 40;
    assert_eq!(read_all(&bytes, &limits), Err(ManifestError::Truncated));
    // A block size a byte short: the sync marker is not where it should be.
    let mut bytes = one_int_file("null", &[(2, vec![2, 4])]);
    bytes[at] = 2;
    assert_eq!(read_all(&bytes, &limits), Err(ManifestError::Corrupt("a block is not followed by the sync marker")));
    // Counts that lie either way.
    assert_eq!(
        read_all(&one_int_file("null", &[(3, vec![2, 4])]), &limits),
        Err(ManifestError::Corrupt("a value runs past the end of its block"))
    );
    assert_eq!(
        read_all(&one_int_file("null", &[(1, vec![2, 4])]), &limits),
        Err(ManifestError::Corrupt("a block has bytes after its last value"))
    );
    assert_eq!(read_all(&one_int_file("null", &[(-1, vec![2])]), &limits), Err(ManifestError::Corrupt("a negative block count")));
    assert_eq!(
        read_all(&one_int_file("null", &[(i64::MAX, vec![2])]), &limits),
        Err(ManifestError::Corrupt("a value runs past the end of its block"))
    );
    // A huge string length inside a block is refused before any allocation.
    let s = container(
        &record_schema(json!([{"name": "s", "type": "string"}])),
        "null",
        &[],
        &[(1, {
            let mut e = Encoder::default();
            e.long(i64::MAX / 2);
            e.buf
        })],
    );
    assert_eq!(read_all(&s, &limits), Err(ManifestError::Corrupt("a value runs past the end of its block")));
    // Arrays of zero-width items claiming 2^63 of them stop at the value budget.
    for count in [i64::MAX, i64::MIN] {
        let mut e = Encoder::default();
        e.long(count);
        e.long(0);
        let a = container(&record_schema(json!([{"name": "a", "type": {"type": "array", "items": "null"}}])), "null", &[], &[(1, e.buf)]);
        assert_eq!(read_all(&a, &limits), Err(ManifestError::Corrupt("a block holds more values than its size allows")));
    }
    // Varints longer than 64 bits, bad booleans, union branches and UTF-8.
    assert_eq!(read_all(&one_int_file("null", &[(1, vec![0xff; 11])]), &limits), Err(ManifestError::Corrupt("a varint overflows 64 bits")));
    assert_eq!(
        read_all(&one_int_file("null", &[(1, vec![0x80, 0x80, 0x80, 0x80, 0x10])]), &limits),
        Err(ManifestError::Corrupt("an int is out of range"))
    );
    let b = container(&record_schema(json!([{"name": "b", "type": "boolean"}])), "null", &[], &[(1, vec![2])]);
    assert_eq!(read_all(&b, &limits), Err(ManifestError::Corrupt("a boolean is neither 0 nor 1")));
    let u = container(&record_schema(json!([{"name": "u", "type": ["null", "int"]}])), "null", &[], &[(1, vec![4])]);
    assert_eq!(read_all(&u, &limits), Err(ManifestError::Corrupt("a union index is out of range")));
    let u = container(&record_schema(json!([{"name": "s", "type": "string"}])), "null", &[], &[(1, vec![2, 0xff])]);
    assert_eq!(read_all(&u, &limits), Err(ManifestError::Corrupt("a string is not UTF-8")));
}

#[test]
fn sizes_are_bounded_before_anything_is_allocated() {
    let small = ReadLimits { max_file_bytes: 1024, max_inflated_bytes: 1 << 20 };
    let bytes = manifest_bytes(Codec::Null);
    assert!(bytes.len() > 1024);
    assert_eq!(read_manifest_with(&bytes, &unchecked(), &small), Err(ManifestError::TooLarge));
    assert_eq!(read_manifest_list_with(&bytes, &small), Err(ManifestError::TooLarge));
    // A snappy block claiming to inflate to 100 MiB (its header is an unsigned LEB128 length).
    let mut bomb = vec![0x80, 0x80, 0x80, 0x32, 0x00];
    bomb.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(read_all(&one_int_file("snappy", &[(1, bomb)]), &ReadLimits::default()), Err(ManifestError::TooLarge));
    // A deflate block of 2 MiB of zeros against a 1 MiB budget.
    let packed = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 2 << 20], 6);
    assert!(packed.len() < 4096);
    let mib = ReadLimits { max_file_bytes: 1 << 20, max_inflated_bytes: 1 << 20 };
    assert_eq!(read_all(&one_int_file("deflate", &[(1, packed)]), &mib), Err(ManifestError::TooLarge));
    // The budget is for the whole file, not per block.
    let block = vec![0u8; 600 * 1024];
    let two = one_int_file("null", &[(600 * 1024, block.clone()), (600 * 1024, block)]);
    let limits = ReadLimits { max_file_bytes: 2 << 20, max_inflated_bytes: 1 << 20 };
    assert_eq!(read_all(&two, &limits), Err(ManifestError::TooLarge));
    // Snappy and deflate garbage, and a snappy checksum that does not match.
    assert_eq!(
        read_all(&one_int_file("snappy", &[(1, vec![1, 2])]), &small),
        Err(ManifestError::Corrupt("a snappy block has no checksum"))
    );
    assert_eq!(
        read_all(&one_int_file("snappy", &[(1, vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]), &small),
        Err(ManifestError::Corrupt("a snappy block does not inflate"))
    );
    let mut crc = snap::raw::Encoder::new().compress_vec(&[2]).unwrap();
    crc.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(read_all(&one_int_file("snappy", &[(1, crc)]), &small), Err(ManifestError::Corrupt("a snappy block fails its checksum")));
    assert_eq!(
        read_all(&one_int_file("deflate", &[(1, vec![0xff, 0xff])]), &small),
        Err(ManifestError::Corrupt("a deflate block does not inflate"))
    );
}

#[test]
fn headers_and_schemas_that_are_not_manifests_are_refused() {
    let limits = ReadLimits::default();
    assert_eq!(read_manifest_list(b""), Err(ManifestError::Truncated));
    assert_eq!(read_manifest_list(b"Obj"), Err(ManifestError::Truncated));
    assert_eq!(read_manifest_list(b"PAR1...."), Err(ManifestError::NotAvro));
    assert_eq!(read_manifest_list(b"{\"format-version\": 2}"), Err(ManifestError::NotAvro));
    assert_eq!(
        read_all(&one_int_file("zstandard", &[]), &limits).err(),
        Some(ManifestError::Unsupported("Avro codec other than null, deflate or snappy"))
    );
    let mut e = Encoder::default();
    e.buf.extend_from_slice(b"Obj\x01");
    e.long(0);
    e.buf.extend_from_slice(&[0; 16]);
    assert_eq!(read_manifest_list(&e.buf), Err(ManifestError::Schema("the header has no avro.schema")));
    assert_eq!(
        read_manifest_list(&container(&json!("long"), "null", &[], &[])),
        Err(ManifestError::Schema("the file's schema is not a record"))
    );
    let mut not_json = container(&json!("long"), "null", &[], &[]);
    let at = not_json.windows(6).position(|w| w == b"\"long\"").unwrap();
    not_json[at] = b'{';
    assert_eq!(read_manifest_list(&not_json), Err(ManifestError::Schema("avro.schema is not JSON")));
    for (schema, why) in [
        (json!("nope"), "a type name is not defined before its use"),
        (json!([]), "a union has no branches"),
        (json!({"type": "record", "name": "r", "fields": [{"name": "a", "type": "r"}]}), "a type name is not defined before its use"),
        (json!({"type": "record", "name": "r"}), "a record has no fields array"),
        (json!({"type": "record", "name": "r", "fields": [{"name": "a"}]}), "a record field has no type"),
        (json!({"type": "record", "name": "r", "fields": [{"name": "a", "type": "int", "field-id": "1"}]}), "a field-id is not an int"),
        (json!({"type": "fixed", "name": "f", "size": -1}), "a fixed has no valid size"),
        (json!(7), "a schema must be a string, an object or an array"),
    ] {
        assert_eq!(read_manifest_list(&container(&schema, "null", &[], &[])), Err(ManifestError::Schema(why)), "{schema}");
    }
    let mut deep = json!("int");
    for _ in 0..40 {
        deep = json!({"type": "array", "items": deep});
    }
    assert_eq!(read_manifest_list(&container(&deep, "null", &[], &[])), Err(ManifestError::Schema("the schema nests too deeply")));

    // A manifest list read as a manifest and the other way round.
    let list = write_manifest_list(&list_files(), 1, None, 1).unwrap();
    assert_eq!(read_manifest(&list, &unchecked()), Err(ManifestError::Field("schema")));
    let meta = [("schema", "{}"), ("partition-spec", "[]")];
    let list_with_meta = apache_write(&list_schema_json(), apache_avro::Codec::Null, &meta, vec![av_list_entry("m", 1)]);
    assert_eq!(read_manifest(&list_with_meta, &unchecked()), Err(ManifestError::Field("status")));
    assert_eq!(read_manifest_list(&manifest_bytes(Codec::Snappy)), Err(ManifestError::Field("manifest_path")));
    // Values the spec does not allow.
    let bad_status = container(&record_schema(json!([{"name": "status", "type": "int"}])), "null", &meta, &[(1, vec![6])]);
    assert_eq!(read_manifest(&bad_status, &unchecked()), Err(ManifestError::Field("status")));
    let mut wrong_type = list_schema_json();
    wrong_type["fields"][1]["type"] = json!("string");
    let AV::Record(mut v) = av_list_entry("m", 1) else { panic!() };
    v[1].1 = AV::String("long?".into());
    let bytes = apache_write(&wrong_type, apache_avro::Codec::Null, &[], vec![AV::Record(v)]);
    assert_eq!(read_manifest_list(&bytes), Err(ManifestError::Field("manifest_length")));
}

#[test]
fn format_version_3_and_deletion_vectors_are_unsupported() {
    let v3 = ManifestError::Unsupported("format-version 3 or later");
    let list = apache_write(&list_schema_json(), apache_avro::Codec::Null, &[("format-version", "3")], vec![]);
    assert_eq!(read_manifest_list(&list), Err(v3));
    let meta = [("schema", "{}"), ("partition-spec", "[]"), ("format-version", "3")];
    let manifest = container(&record_schema(json!([{"name": "status", "type": "int"}])), "null", &meta, &[]);
    assert_eq!(read_manifest(&manifest, &unchecked()), Err(v3));
    let meta = [("schema", "{}"), ("partition-spec", "[]"), ("format-version", "two")];
    let manifest = container(&record_schema(json!([{"name": "status", "type": "int"}])), "null", &meta, &[]);
    assert_eq!(read_manifest(&manifest, &unchecked()), Err(ManifestError::Field("format-version")));

    // A v3-style delete manifest entry: a puffin deletion vector with content_offset.
    let mut data_file = data_file_schema(&PartitionSpec::unpartitioned()).unwrap();
    let fields = data_file["fields"].as_array_mut().unwrap();
    fields.push(json!({"name": "content_offset", "type": ["null", "long"], "field-id": 144}));
    fields.push(json!({"name": "content_size_in_bytes", "type": ["null", "long"], "field-id": 145}));
    let schema = json!({"type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int", "field-id": 0},
        {"name": "data_file", "type": data_file, "field-id": 2},
    ]});
    let dv = |format: FileFormat, offset: Option<i64>| {
        let mut e = Encoder::default();
        e.int(1);
        let mut f = DataFile::new("dv.puffin", FileFormat::Parquet, 3, 100);
        f.content = DataContent::PositionDeletes;
        f.referenced_data_file = Some("d.parquet".into());
        encode_data_file(&f, &PartitionSpec::unpartitioned(), &mut e).unwrap();
        // Patch the format: `PARQUET` is the third string of the struct.
        let at = e.buf.windows(7).position(|w| w == b"PARQUET").unwrap();
        let mut buf = e.buf[..at - 1].to_vec();
        let mut s = Encoder::default();
        s.string(format.as_str());
        buf.extend(s.buf);
        buf.extend_from_slice(&e.buf[at + 7..]);
        let mut tail = Encoder::default();
        tail.optional(offset, Encoder::long);
        tail.optional(offset, Encoder::long);
        buf.extend(tail.buf);
        let meta = [("schema", "{}"), ("partition-spec", "[]"), ("format-version", "2"), ("content", "deletes")];
        container(&schema, "null", &meta, &[(1, buf)])
    };
    let unsupported = Err(ManifestError::Unsupported("deletion vectors"));
    assert_eq!(read_manifest(&dv(FileFormat::Puffin, Some(4)), &unchecked()), unsupported);
    assert_eq!(read_manifest(&dv(FileFormat::Puffin, None), &unchecked()), unsupported);
    assert_eq!(read_manifest(&dv(FileFormat::Parquet, Some(4)), &unchecked()), unsupported);
    // A v2 position delete file naming its one data file is fine.
    let m = read_manifest(&dv(FileFormat::Parquet, None), &unchecked()).unwrap();
    assert_eq!(m.metadata.content, ManifestContent::Deletes);
    assert_eq!(m.entries[0].data_file.content, DataContent::PositionDeletes);
    assert_eq!(m.entries[0].data_file.referenced_data_file.as_deref(), Some("d.parquet"));
}

#[test]
fn writers_refuse_what_they_cannot_write() {
    let unpart = PartitionSpec::unpartitioned();
    let mut e = entries();
    e[1].sequence_number = None;
    assert_eq!(
        write_manifest(&e, &spec(), TABLE_SCHEMA, 0),
        Err(ManifestError::Invalid("existing and deleted entries need both sequence numbers"))
    );
    let mismatch = Err(ManifestError::Invalid("a partition tuple does not match the partition spec"));
    assert_eq!(write_manifest(&entries(), &unpart, TABLE_SCHEMA, 0), mismatch);
    let mut e = entries();
    e[0].data_file.partition[0].1 = PartitionValue::Long(1);
    assert_eq!(write_manifest(&e, &spec(), TABLE_SCHEMA, 0), mismatch);
    let mut e = entries();
    e[0].data_file.partition[0].0 = "other".into();
    assert_eq!(write_manifest(&e, &spec(), TABLE_SCHEMA, 0), mismatch);
    let mut e = entries();
    e[0].data_file.content = DataContent::EqualityDeletes;
    assert_eq!(
        write_manifest(&e, &spec(), TABLE_SCHEMA, 0),
        Err(ManifestError::Invalid("a manifest holds either data files or delete files"))
    );
    assert_eq!(write_manifest(&entries(), &spec(), "[]", 0), Err(ManifestError::Invalid("the table schema is not a JSON object")));
    let mut e = entries();
    e[0].data_file.file_format = FileFormat::Puffin;
    assert_eq!(
        write_manifest(&e, &spec(), TABLE_SCHEMA, 0),
        Err(ManifestError::Invalid("deletion vectors (puffin) need format version 3"))
    );
    let mut dup = spec();
    dup.fields[1].name = "ns".into();
    assert_eq!(write_manifest(&[], &dup, TABLE_SCHEMA, 0), Err(ManifestError::Invalid("partition field names must be unique")));
    let mut files = list_files();
    files[1].deleted_rows_count = None;
    assert_eq!(write_manifest_list(&files, 1, None, 1), Err(ManifestError::Invalid("a v2 manifest list needs every file and row count")));
}

#[test]
fn day_partitioned_manifest_names_its_transform_and_round_trips() {
    // What a Pipelines sink may write: partitioned by day(__ingest_ts), a `date` partition value.
    let spec = PartitionSpec {
        spec_id: 0,
        fields: vec![PartitionField {
            source_id: 27,
            field_id: 1000,
            name: "__ingest_ts_day".into(),
            transform: Transform::Day,
            ty: PartitionType::Date,
        }],
    };
    let entry = |path: &str, day: i32| {
        let mut f = DataFile::new(path, FileFormat::Parquet, 2, 20);
        f.partition = vec![("__ingest_ts_day".into(), PartitionValue::Int(day))];
        ManifestEntry { status: EntryStatus::Added, snapshot_id: 5, sequence_number: None, file_sequence_number: None, data_file: f }
    };
    let e = vec![entry("s3://b/t/data/a.parquet", 20_000), entry("s3://b/t/data/b.parquet", 20_001)];
    let bytes = write_manifest(&e, &spec, TABLE_SCHEMA, 0).unwrap();
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 1)).unwrap();
    let header: Value = serde_json::from_str(&m.metadata.partition_spec).unwrap();
    assert_eq!(header, json!([{"name": "__ingest_ts_day", "transform": "day", "source-id": 27, "field-id": 1000}]));
    assert_eq!(m.entries[1].data_file.partition, e[1].data_file.partition);
    let summary = summarize("s3://b/t/metadata/m.avro", bytes.len() as i64, &spec, 5, 1, &e).unwrap();
    assert_eq!(summary.partitions[0].lower_bound, Some(20_000i32.to_le_bytes().to_vec()));
    assert_eq!(summary.partitions[0].upper_bound, Some(20_001i32.to_le_bytes().to_vec()));
    // A transform whose value type does not fit is refused.
    let mut wrong = spec.clone();
    wrong.fields[0].ty = PartitionType::Timestamp;
    assert!(matches!(write_manifest(&e, &wrong, TABLE_SCHEMA, 0), Err(ManifestError::Invalid(_))));
    wrong.fields[0].transform = Transform::Bucket(4);
    wrong.fields[0].ty = PartitionType::Int;
    assert!(matches!(write_manifest(&e, &wrong, TABLE_SCHEMA, 0), Err(ManifestError::Invalid(_))));
}

#[test]
fn unpartitioned_delete_manifest_round_trips() {
    let mut f = DataFile::new("s3://b/eq.parquet", FileFormat::Parquet, 3, 30);
    f.content = DataContent::EqualityDeletes;
    f.equality_ids = vec![1, 3];
    let e = vec![ManifestEntry {
        status: EntryStatus::Added,
        snapshot_id: 1,
        sequence_number: Some(3),
        file_sequence_number: None,
        data_file: f,
    }];
    let bytes = write_manifest(&e, &PartitionSpec::unpartitioned(), TABLE_SCHEMA, 2).unwrap();
    let m = read_manifest(&bytes, &list_entry(bytes.len(), 4)).unwrap();
    assert_eq!(m.metadata.content, ManifestContent::Deletes);
    assert_eq!((m.metadata.schema_id, m.metadata.partition_spec_id, m.metadata.partition_spec.as_str()), (Some(2), Some(0), "[]"));
    // An explicit data sequence number is kept; the null file sequence number is inherited.
    assert_eq!((m.entries[0].sequence_number, m.entries[0].file_sequence_number), (Some(3), Some(4)));
    assert_eq!(m.entries[0].data_file, e[0].data_file);
}

#[test]
fn summarize_counts_rows_and_partition_bounds() {
    let e = entries();
    let f = summarize("s3://m.avro", 1000, &spec(), 77, 6, &e).unwrap();
    assert_eq!((f.added_files_count, f.existing_files_count, f.deleted_files_count), (Some(1), Some(1), Some(1)));
    assert_eq!((f.added_rows_count, f.existing_rows_count, f.deleted_rows_count), (Some(42), Some(42), Some(42)));
    // Live entries: the added one inherits 6, the existing one has 4; the deleted 2 is not live.
    assert_eq!((f.sequence_number, f.min_sequence_number, f.partition_spec_id), (6, 4, 3));
    assert_eq!(f.content, ManifestContent::Data);
    let s = &f.partitions;
    assert_eq!(s.len(), 7);
    assert_eq!((s[0].lower_bound.as_deref(), s[0].upper_bound.as_deref()), (Some(&b"acme"[..]), Some(&b"zeta"[..])));
    assert_eq!(s[1].lower_bound, Some(18_000i32.to_le_bytes().to_vec()));
    assert_eq!(s[1].upper_bound, Some(19_000i32.to_le_bytes().to_vec()));
    assert_eq!((s[2].lower_bound.clone(), s[2].contains_null), (Some(vec![1]), false));
    assert_eq!(s[3].lower_bound, Some(1_700_000_000_000_000i64.to_le_bytes().to_vec()));
    assert_eq!((s[4].contains_null, s[4].lower_bound.clone()), (true, None));
    assert_eq!(s[5].upper_bound, Some(vec![0, 255, 7]));
    assert_eq!((s[6].contains_nan, s[6].upper_bound.clone()), (Some(true), Some(0.5f64.to_le_bytes().to_vec())));
    // It round-trips through a list.
    let bytes = write_manifest_list(std::slice::from_ref(&f), 77, Some(1), 6).unwrap();
    assert_eq!(read_manifest_list(&bytes).unwrap(), vec![f]);
    let empty = summarize("m", 1, &PartitionSpec::unpartitioned(), 1, 5, &[]).unwrap();
    assert_eq!((empty.min_sequence_number, empty.added_files_count, empty.partitions.len()), (5, Some(0), 0));
}

#[test]
fn bounds_compare_bytewise_and_survive_truncation() {
    assert_eq!(bound_str(b"alpha"), Some("alpha"));
    assert_eq!(bound_str(&[0x61, 0xc3]), None, "cut inside a character");
    assert_eq!(bound_long(&42i64.to_le_bytes()), Some(42));
    assert_eq!(bound_long(&[1, 2, 3]), None);

    // Exact bounds.
    let (lo, hi) = (Some(&b"beta"[..]), Some(&b"delta"[..]));
    assert!(may_contain(lo, hi, b"beta"));
    assert!(may_contain(lo, hi, b"charlie"));
    assert!(may_contain(lo, hi, b"delta"));
    assert!(!may_contain(lo, hi, b"alpha"));
    assert!(!may_contain(lo, hi, b"bet"));
    assert!(!may_contain(lo, hi, b"echo"));
    assert!(may_contain(None, None, b"anything"));
    assert!(may_contain(None, hi, b""));
    assert!(!may_contain(lo, None, b""));

    // pyiceberg: values longer than 16 characters; the lower bound is the 16-character prefix,
    // the upper bound the prefix with its last character incremented.
    let min = "acme/build/aaaaaaaaaaaa-first";
    let max = "acme/build/zzzzzzzzzzzz-last";
    let lower = &min.as_bytes()[..16];
    let upper = b"acme/build/zzzz{";
    assert!(may_contain(Some(lower), Some(upper), min.as_bytes()));
    assert!(may_contain(Some(lower), Some(upper), max.as_bytes()));
    assert!(may_contain(Some(lower), Some(upper), b"acme/build/m"));
    assert!(!may_contain(Some(lower), Some(upper), b"acme/build/aaaa"), "shorter than the truncated lower bound");
    assert!(!may_contain(Some(lower), Some(upper), b"acme/build/zzzz|"));
    // Values that extend the (incremented) upper bound are past the maximum, but kept: the
    // prefix rule below cannot tell an incremented bound from a plain cut.
    assert!(may_contain(Some(lower), Some(upper), b"acme/build/zzzz{a"));
    assert!(!may_contain(Some(lower), Some(upper), b"acme/docs"));
    // Multi-byte: "é" (U+00E9) incremented is "ê" (U+00EA); UTF-8 keeps code point order.
    let upper = format!("acme/{}ê", "é".repeat(10));
    assert!(may_contain(None, Some(upper.as_bytes()), format!("acme/{}-and-more", "é".repeat(11)).as_bytes()));
    assert!(!may_contain(None, Some(upper.as_bytes()), format!("acme/{}ë", "é".repeat(10)).as_bytes()));
    assert!(!may_contain(None, Some("acme/ê".as_bytes()), "acme/ë".as_bytes()));
    // A writer that truncates the upper bound without incrementing it: values it is a prefix of
    // are kept, never pruned.
    let upper = b"acme/build/zzzzz";
    assert!(may_contain(None, Some(upper), b"acme/build/zzzzzzzzzzzz-last"));
    assert!(!may_contain(None, Some(upper), b"acme/build/zzzz{"));
    // Bounds read from a manifest are looked up by column id.
    let f = full_file("p", "n");
    assert_eq!(f.lower_bound(1).and_then(bound_str), Some("alpha"));
    assert_eq!(f.upper_bound(4).and_then(bound_long), Some(9));
    assert_eq!(f.upper_bound(99), None);
}

#[test]
fn errors_describe_themselves() {
    assert_eq!(ManifestError::Truncated.to_string(), "the file ends early");
    assert_eq!(ManifestError::Corrupt("x").to_string(), "corrupt Avro: x");
    assert_eq!(ManifestError::Field("status").to_string(), "status: a field is missing or has a type or value the spec does not allow");
    assert_eq!(ManifestError::Unsupported("deletion vectors").description(), "unsupported");
    let e: Box<dyn std::error::Error> = Box::new(ManifestError::NotAvro);
    assert_eq!(e.to_string(), "not an Avro object container file");
    assert_eq!(FileFormat::parse("parquet"), Some(FileFormat::Parquet));
    assert_eq!(FileFormat::parse("PARQUET"), Some(FileFormat::Parquet));
    assert_eq!(FileFormat::parse("csv"), None);
}

fn avro_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            avro_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "avro") {
            out.push(path);
        }
    }
}

/// pyiceberg 0.12's manifest lists (`snap-*.avro`) and manifests (`*-m*.avro`), from
/// `tests/fixtures/iceberg/pyiceberg/` (or `$PYICEBERG_FIXTURES`).
#[test]
fn reads_pyiceberg_files() {
    let dir = std::env::var_os("PYICEBERG_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg"));
    let mut files = Vec::new();
    avro_files(&dir, &mut files);
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let lists: Vec<&PathBuf> = files.iter().filter(|p| name(p).starts_with("snap-")).collect();
    if lists.is_empty() {
        println!("note: no pyiceberg manifest lists under {}; skipped", dir.display());
        return;
    }
    let (mut manifests, mut entries) = (0, 0);
    for list_path in lists {
        let list = read_manifest_list(&std::fs::read(list_path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", list_path.display()));
        for mf in &list {
            let base = mf.manifest_path.rsplit('/').next().unwrap();
            // The same table first: manifest names are UUIDs, but fixtures may be copied.
            let same_table = |p: &&PathBuf| p.parent() == list_path.parent() && name(p) == base;
            let Some(path) = files.iter().find(same_table).or_else(|| files.iter().find(|p| name(p) == base)) else {
                panic!("{} lists {} which is not in the fixtures", list_path.display(), mf.manifest_path);
            };
            let bytes = std::fs::read(path).unwrap();
            let m = read_manifest(&bytes, mf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            manifests += 1;
            entries += m.entries.len();
            assert_eq!(m.metadata.format_version, 2);
            assert_eq!(m.metadata.partition_spec_id, Some(mf.partition_spec_id));
            // Bounds order bytewise for string columns only (numbers are little-endian).
            let table: Value = serde_json::from_str(&m.metadata.schema).unwrap();
            let strings: Vec<i32> = table["fields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["type"] == "string")
                .map(|f| f["id"].as_i64().unwrap() as i32)
                .collect();
            assert!(mf.sequence_number >= mf.min_sequence_number);
            let count = |s: EntryStatus| m.entries.iter().filter(|e| e.status == s).count() as i32;
            let rows = |s: EntryStatus| m.entries.iter().filter(|e| e.status == s).map(|e| e.data_file.record_count).sum::<i64>();
            assert_eq!(mf.added_files_count, Some(count(EntryStatus::Added)));
            assert_eq!(mf.existing_files_count, Some(count(EntryStatus::Existing)));
            assert_eq!(mf.deleted_files_count, Some(count(EntryStatus::Deleted)));
            assert_eq!(mf.added_rows_count, Some(rows(EntryStatus::Added)));
            assert_eq!(mf.existing_rows_count, Some(rows(EntryStatus::Existing)));
            assert_eq!(mf.deleted_rows_count, Some(rows(EntryStatus::Deleted)));
            for e in &m.entries {
                assert!(e.sequence_number.is_some() && e.file_sequence_number.is_some(), "{e:?}");
                if e.status == EntryStatus::Added {
                    assert_eq!(e.file_sequence_number, Some(mf.sequence_number));
                }
                let df = &e.data_file;
                assert_eq!(df.file_format, FileFormat::Parquet);
                assert_eq!(df.partition.len(), mf.partitions.len());
                for (id, lower) in df.lower_bounds.iter().filter(|(id, _)| strings.contains(id)) {
                    assert!(bound_str(lower).is_some());
                    if let Some(upper) = df.upper_bound(*id) {
                        assert!(lower.as_slice() <= upper, "column {id}: {lower:?} > {upper:?}");
                        assert!(may_contain(Some(lower), Some(upper), lower));
                    }
                }
            }
        }
    }
    println!("read {manifests} pyiceberg manifests with {entries} entries from {}", dir.display());
    assert!(manifests > 0);
}

/// Against `expected.json` of the pyiceberg fixtures: the live files of each current snapshot
/// hold exactly the live rows, with their data sequence numbers, and the bounds of some live file
/// of that sequence number keep each row's `ns`, `type` and `id` (through truncated bounds).
#[test]
fn pyiceberg_live_files_hold_the_expected_rows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg");
    let Ok(expected) = std::fs::read(dir.join("expected.json")) else {
        println!("note: no {}; skipped", dir.join("expected.json").display());
        return;
    };
    let expected: Value = serde_json::from_slice(&expected).unwrap();
    let prefix = expected["location_prefix"].as_str().unwrap();
    let local = |uri: &str| dir.join(uri.strip_prefix(prefix).unwrap());
    for (table, t) in expected["tables"].as_object().unwrap() {
        let snapshots = t["snapshots"].as_array().unwrap();
        let mut live: Vec<(i64, DataFile)> = vec![];
        for s in snapshots {
            let list = read_manifest_list(&std::fs::read(local(s["manifest_list"].as_str().unwrap())).unwrap()).unwrap();
            for mf in list.iter().filter(|mf| mf.added_snapshot_id == s["snapshot_id"].as_i64().unwrap()) {
                assert_eq!(mf.sequence_number, s["sequence_number"].as_i64().unwrap(), "{table}");
            }
            if s["snapshot_id"] != t["current_snapshot_id"] {
                continue;
            }
            for mf in &list {
                let m = read_manifest(&std::fs::read(local(&mf.manifest_path)).unwrap(), mf).unwrap();
                for e in m.entries.into_iter().filter(|e| e.status != EntryStatus::Deleted) {
                    live.push((e.sequence_number.unwrap(), e.data_file));
                }
            }
        }
        let rows = t["live_rows"].as_array().unwrap();
        assert_eq!(live.iter().map(|(_, f)| f.record_count).sum::<i64>(), rows.len() as i64, "{table}");
        let ids = &t["field_ids"];
        for r in rows {
            let seq = r["sequence_number"].as_i64().unwrap();
            let kept = live.iter().filter(|(s, _)| *s == seq).any(|(_, f)| {
                ["ns", "type", "id"].iter().all(|col| {
                    let id = ids[col].as_i64().unwrap() as i32;
                    let value = r["row"][col].as_str().unwrap().as_bytes();
                    may_contain(f.lower_bound(id), f.upper_bound(id), value)
                })
            });
            assert!(kept, "{table}: no live file of sequence number {seq} may contain {}", r["row"]["id"]);
        }
        println!("{table}: {} live files, {} rows", live.len(), rows.len());
    }
}
