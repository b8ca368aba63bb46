//! The writer crate against `shared`'s readers through the public API only: what the stand-in,
//! the tools and the compactor rely on. The byte-level cross-checks (every codec, page index,
//! bounds, the Avro schemas) are `shared`'s own tests, which compile this crate in by path.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use iceberg_writer::commit::{added, append, append_with_deletes, data_file, schema_json, AddedDeletes, Append};
use iceberg_writer::{new_record_table, summarize, write_manifest, write_manifest_list, write_parquet};
use iceberg_writer::{ColumnData, WriteCodec, WriteColumn};
use shared::iceberg::manifest::{read_manifest, read_manifest_list, DataContent, DataFile, PartitionSpec};
use shared::iceberg::table_metadata::{Operation, TableMetadata};
use shared::parquet::parse_footer;

fn columns() -> Vec<WriteColumn> {
    let ids: Vec<Option<String>> = ["b", "a", "c"].iter().map(|s| Some(s.to_string())).collect();
    vec![
        WriteColumn { name: "id".into(), field_id: 3, required: true, data: ColumnData::Utf8(ids), element_field_id: None },
        WriteColumn {
            name: "ts".into(),
            field_id: 4,
            required: false,
            data: ColumnData::TimestampMicros(vec![Some(2), None, Some(1)]),
            element_field_id: None,
        },
    ]
}

#[test]
fn a_table_written_with_the_writers_reads_back_with_the_readers() {
    let written = write_parquet(&columns(), WriteCodec::Zstd, 2).unwrap();
    let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
    assert_eq!(footer.column_by_name("id"), Some(0));
    assert_eq!(footer.num_rows, 3);
    assert_eq!(written.record_count, 3);

    let file = data_file("s3://w/t/data/0.parquet".into(), &written, DataContent::Data);
    assert_eq!(file.file_size_in_bytes, written.bytes.len() as i64);
    assert_eq!(file.lower_bound(3), Some(&b"a"[..]));
    assert_eq!(file.upper_bound(3), Some(&b"c"[..]));

    let meta = new_record_table("00000000-0000-4000-8000-000000000001".into(), "s3://w/t".into(), 1);
    meta.validate().unwrap();
    let spec = PartitionSpec::unpartitioned();
    let entries = added(7, vec![file]);
    let manifest = write_manifest(&entries, &spec, &schema_json(&meta), 0).unwrap();
    let listed = summarize("s3://w/t/metadata/m.avro", manifest.len() as i64, &spec, 7, 1, &entries).unwrap();
    assert_eq!((listed.added_files_count, listed.added_rows_count), (Some(1), Some(3)));
    let list = write_manifest_list(std::slice::from_ref(&listed), 7, None, 1).unwrap();
    let back = read_manifest_list(&list).unwrap();
    assert_eq!(back, vec![listed]);
    let read = read_manifest(&manifest, &back[0]).unwrap();
    assert_eq!(read.entries.len(), 1);
    assert_eq!(read.entries[0].sequence_number, Some(1));
    assert_eq!(read.entries[0].data_file.record_count, 3);

    let next = append(
        &meta,
        Append {
            snapshot_id: 7,
            manifest_list: "s3://w/t/metadata/snap-7.avro".into(),
            operation: Operation::Append,
            data_files: 1,
            records: 3,
            file_size: written.bytes.len() as i64,
            properties: BTreeMap::from([("k".to_string(), "v".to_string())]),
            now_ms: 2,
            previous_location: Some("s3://w/t/metadata/v1.metadata.json".into()),
        },
    );
    next.validate().unwrap();
    let again = TableMetadata::from_json(next.to_json().as_bytes()).unwrap();
    let snapshot = again.current_snapshot().unwrap();
    assert_eq!((snapshot.snapshot_id, snapshot.sequence_number), (7, 1));
    assert_eq!(snapshot.summary.properties.get("total-records").map(String::as_str), Some("3"));
    assert_eq!(snapshot.summary.properties.get("k").map(String::as_str), Some("v"));
    assert_eq!(again.metadata_log.len(), 1);
}

/// One snapshot over `prev` adding `data_files` copies of `data` (for its counts) and `deletes`.
fn commit(prev: &TableMetadata, snapshot_id: i64, data: &DataFile, data_files: i64, deletes: AddedDeletes) -> TableMetadata {
    let a = Append {
        snapshot_id,
        manifest_list: format!("s3://w/t/metadata/snap-{snapshot_id}.avro"),
        operation: if deletes.files == 0 { Operation::Append } else { Operation::Overwrite },
        data_files,
        records: data_files * data.record_count,
        file_size: data_files * data.file_size_in_bytes,
        properties: BTreeMap::new(),
        now_ms: snapshot_id,
        previous_location: None,
    };
    append_with_deletes(prev, a, deletes)
}

#[test]
fn a_snapshot_adding_delete_files_counts_them_in_its_summary() {
    let meta = new_record_table("00000000-0000-4000-8000-000000000001".into(), "s3://w/t".into(), 1);
    let written = write_parquet(&columns(), WriteCodec::Zstd, 2).unwrap();
    let data = data_file("s3://w/t/data/d.parquet".into(), &written, DataContent::Data);
    let mut position = data_file("s3://w/t/data/p.parquet".into(), &written, DataContent::PositionDeletes);
    position.record_count = 2;
    let mut equality = data_file("s3://w/t/data/e.parquet".into(), &written, DataContent::EqualityDeletes);
    equality.record_count = 1;
    let size = written.bytes.len() as i64;

    let deletes = AddedDeletes::of(&[data.clone(), position.clone(), equality]);
    assert_eq!(deletes, AddedDeletes { files: 2, position_deletes: 2, equality_deletes: 1, file_size: 2 * size });
    let first = commit(&meta, 2, &data, 1, deletes);
    let second = commit(&first, 3, &data, 0, AddedDeletes::of(&[position]));
    let third = commit(&second, 4, &data, 1, AddedDeletes::default());
    for m in [&first, &second, &third] {
        m.validate().unwrap();
    }
    let summary = |m: &TableMetadata, key: &str| m.current_snapshot().unwrap().summary.properties.get(key).cloned();
    let n = |v: i64| Some(v.to_string());
    assert_eq!(summary(&first, "added-delete-files"), n(2));
    assert_eq!(summary(&first, "added-position-deletes"), n(2));
    assert_eq!(summary(&first, "added-equality-deletes"), n(1));
    assert_eq!(summary(&first, "added-files-size"), n(3 * size), "data and delete files");
    assert_eq!(summary(&second, "added-data-files"), n(0));
    assert_eq!(summary(&second, "total-delete-files"), n(3));
    assert_eq!(summary(&second, "total-position-deletes"), n(4));
    assert_eq!(summary(&second, "total-equality-deletes"), n(1));
    assert_eq!(summary(&second, "total-files-size"), n(4 * size));
    // A data-only append writes no added-delete keys; the delete totals carry over.
    assert_eq!(summary(&third, "added-delete-files"), None);
    assert_eq!(summary(&third, "total-delete-files"), n(3));
    assert_eq!(summary(&third, "total-data-files"), n(2));
    assert_eq!(summary(&third, "total-files-size"), n(5 * size));
}
