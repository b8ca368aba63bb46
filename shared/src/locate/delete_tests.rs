//! Row-level deletes applied by the locator, on tables built here with our own writers: every
//! expected answer follows from the rows and deletes each test commits, never from reading back.

use core::cell::RefCell;
use std::collections::BTreeMap;

use super::deletes::{applies, DeleteFile, DeleteKind, RowSite, POSITION_FILE_PATH_ID, POSITION_POS_ID};
use super::*;
use crate::iceberg::manifest::{
    write_manifest, write_manifest_list, DataContent, DataFile, FileFormat, ManifestEntry, ManifestError, ManifestFile,
    PartitionSpec as ManifestSpec, PartitionValue,
};
use crate::iceberg::table_metadata::{
    record_schema, Operation, PartitionSpec, Snapshot, SnapshotLogEntry, Summary, TableMetadata, FORMAT_VERSION,
};
use crate::parquet::write::{write_parquet, ColumnData, WriteCodec, WriteColumn};

const PREFIX: &str = "s3://warehouse/";

/// Objects in memory; remembers every key read.
#[derive(Default)]
struct MemStore {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
    reads: RefCell<Vec<String>>,
}

impl ObjectStore for MemStore {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        self.reads.borrow_mut().push(key.to_string());
        let objects = self.objects.borrow();
        let bytes = objects.get(key).ok_or(StoreError::NotFound)?;
        Ok(match range {
            None => bytes.clone(),
            Some((start, len)) => bytes.get(start as usize..(start + len) as usize).ok_or(StoreError::Failed("range".into()))?.to_vec(),
        })
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(v) => v,
        core::task::Poll::Pending => panic!("the memory store never waits"),
    }
}

/// One artifact row: (ns, type, id, ts, markdown, owner_org).
#[derive(Clone)]
struct Row {
    ns: &'static str,
    ty: &'static str,
    id: &'static str,
    ts: i64,
    markdown: &'static str,
    owner_org: Option<&'static str>,
}

fn row(id: &'static str, ts: i64, markdown: &'static str) -> Row {
    Row { ns: "docs", ty: "guide", id, ts, markdown, owner_org: Some("acme") }
}

fn utf8(name: &str, values: Vec<Option<String>>) -> WriteColumn {
    let field_id = record_schema().field_id_by_name(name).unwrap_or_else(|| panic!("{name}"));
    WriteColumn { name: name.into(), field_id, required: false, data: ColumnData::Utf8(values), element_field_id: None }
}

/// A table under construction: each `commit` is one snapshot with the next sequence number.
struct Builder {
    store: MemStore,
    meta: TableMetadata,
    manifests: Vec<ManifestFile>,
    files: u32,
}

impl Builder {
    fn new() -> Self {
        let meta = TableMetadata {
            format_version: FORMAT_VERSION,
            table_uuid: "00000000-0000-4000-8000-000000000001".into(),
            location: format!("{PREFIX}t"),
            last_sequence_number: 0,
            last_updated_ms: 1,
            last_column_id: crate::record::LAST_FIELD_ID,
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
        };
        Builder { store: MemStore::default(), meta, manifests: Vec::new(), files: 0 }
    }

    fn put(&mut self, name: &str, bytes: Vec<u8>) -> String {
        self.files += 1;
        let key = format!("t/{}-{name}", self.files);
        self.store.objects.borrow_mut().insert(key.clone(), bytes);
        key
    }

    fn file(&mut self, name: &str, columns: &[WriteColumn], row_group_rows: usize, content: DataContent) -> DataFile {
        let written = write_parquet(columns, WriteCodec::Zstd, row_group_rows).unwrap();
        let size = written.bytes.len() as i64;
        let key = self.put(name, written.bytes);
        let mut df = DataFile::new(format!("{PREFIX}{key}"), FileFormat::Parquet, written.record_count, size);
        df.content = content;
        df.lower_bounds = written.lower_bounds;
        df.upper_bounds = written.upper_bounds;
        df.value_counts = written.value_counts;
        df.null_value_counts = written.null_value_counts;
        df
    }

    /// A data file of `rows`, `row_group_rows` rows per row group.
    fn data(&mut self, rows: &[Row], row_group_rows: usize) -> DataFile {
        let s = |f: fn(&Row) -> Option<&'static str>| rows.iter().map(|r| f(r).map(String::from)).collect::<Vec<_>>();
        let ts_id = record_schema().field_id_by_name("ts").unwrap();
        let columns = vec![
            utf8("ns", s(|r| Some(r.ns))),
            utf8("type", s(|r| Some(r.ty))),
            utf8("id", s(|r| Some(r.id))),
            WriteColumn { name: "ts".into(), field_id: ts_id, required: false, data: ColumnData::TimestampMicros(rows.iter().map(|r| Some(r.ts)).collect()), element_field_id: None },
            utf8("visibility", s(|_| Some("public"))),
            utf8("owner_org", s(|r| r.owner_org)),
            utf8("markdown", s(|r| Some(r.markdown))),
            utf8("content_hash", s(|r| Some(r.markdown))),
        ];
        self.file("data.parquet", &columns, row_group_rows, DataContent::Data)
    }

    /// A position delete file of (data file, pos) pairs, sorted as the spec asks.
    fn position_deletes(&mut self, deletes: &[(&DataFile, i64)]) -> DataFile {
        let mut pairs: Vec<(String, i64)> = deletes.iter().map(|(f, p)| (f.file_path.clone(), *p)).collect();
        pairs.sort();
        let columns = vec![
            WriteColumn { name: "file_path".into(), field_id: POSITION_FILE_PATH_ID, required: true, data: ColumnData::Utf8(pairs.iter().map(|(f, _)| Some(f.clone())).collect()), element_field_id: None },
            WriteColumn { name: "pos".into(), field_id: POSITION_POS_ID, required: true, data: ColumnData::Int64(pairs.iter().map(|(_, p)| Some(*p)).collect()), element_field_id: None },
        ];
        self.file("pos-deletes.parquet", &columns, 1000, DataContent::PositionDeletes)
    }

    /// An equality delete file over the named string columns.
    fn equality_deletes(&mut self, columns: &[(&str, Vec<Option<&str>>)]) -> DataFile {
        let cols: Vec<WriteColumn> = columns.iter().map(|(n, v)| utf8(n, v.iter().map(|s| s.map(String::from)).collect())).collect();
        let mut df = self.file("eq-deletes.parquet", &cols, 1000, DataContent::EqualityDeletes);
        df.equality_ids = cols.iter().map(|c| c.field_id).collect();
        df
    }

    /// Commits `files` as one snapshot (a data manifest and/or a delete manifest); returns its id.
    fn commit(&mut self, files: Vec<DataFile>) -> i64 {
        let seq = self.meta.last_sequence_number + 1;
        let snapshot_id = 1000 + seq;
        let schema_json = serde_json::from_str::<serde_json::Value>(&self.meta.to_json()).unwrap()["schemas"][0].to_string();
        let spec = ManifestSpec::unpartitioned();
        let (data, deletes): (Vec<DataFile>, Vec<DataFile>) = files.into_iter().partition(|f| f.content == DataContent::Data);
        for group in [data, deletes] {
            if group.is_empty() {
                continue;
            }
            let entries: Vec<ManifestEntry> = group
                .into_iter()
                .map(|data_file| ManifestEntry { status: EntryStatus::Added, snapshot_id, sequence_number: None, file_sequence_number: None, data_file })
                .collect();
            let bytes = write_manifest(&entries, &spec, &schema_json, 0).unwrap();
            let len = bytes.len() as i64;
            let key = self.put("m.avro", bytes);
            self.manifests.push(ManifestFile::summarize(format!("{PREFIX}{key}"), len, &spec, snapshot_id, seq, &entries).unwrap());
        }
        let parent = self.meta.current_snapshot_id;
        let list = write_manifest_list(&self.manifests, snapshot_id, parent, seq).unwrap();
        let list_key = self.put("snap.avro", list);
        self.meta.snapshots.push(Snapshot {
            snapshot_id,
            parent_snapshot_id: parent,
            sequence_number: seq,
            timestamp_ms: seq * 1000,
            manifest_list: format!("{PREFIX}{list_key}"),
            summary: Summary { operation: Operation::Overwrite, properties: BTreeMap::new() },
            schema_id: Some(0),
        });
        self.meta.snapshot_log.push(SnapshotLogEntry { snapshot_id, timestamp_ms: seq * 1000 });
        self.meta.current_snapshot_id = Some(snapshot_id);
        self.meta.last_sequence_number = seq;
        snapshot_id
    }

    /// The winner for `id` as (ts, markdown), at the current snapshot or `at`.
    fn find_at(&self, id: &str, at: At) -> Option<(i64, String)> {
        let table = Table { metadata: &self.meta, location_prefix: PREFIX };
        let mut cost = Cost::default();
        let found = block_on(locate(&self.store, &table, Wanted { ns: "docs", ty: "guide", id }, &at, &mut cost)).unwrap()?;
        let markdown = block_on(read_value(&self.store, &table, &found, "markdown", &mut cost)).unwrap().unwrap_or_default();
        Some((found.ts, markdown))
    }

    fn find(&self, id: &str) -> Option<(i64, String)> {
        self.find_at(id, At::Current)
    }

    fn reads_of(&self, key_part: &str) -> usize {
        self.store.reads.borrow().iter().filter(|k| k.contains(key_part)).count()
    }
}

#[test]
fn a_position_delete_removes_exactly_its_row_and_an_older_version_shows_again() {
    let mut t = Builder::new();
    let a = t.data(&[row("x", 100, "x1"), row("y", 100, "y1")], 1000);
    t.commit(vec![a]);
    // x's second version is row 2 of B, the first row of B's second row group.
    let b = t.data(&[row("p", 150, "p1"), row("q", 150, "q1"), row("x", 200, "x2"), row("r", 150, "r1")], 2);
    let before = t.commit(vec![b.clone()]);
    assert_eq!(t.find("x"), Some((200, "x2".into())));
    let deletes = t.position_deletes(&[(&b, 2)]);
    t.commit(vec![deletes]);
    assert_eq!(t.find("x"), Some((100, "x1".into())), "the deleted newest row gives way to the older one");
    for (id, ts, md) in [("p", 150, "p1"), ("q", 150, "q1"), ("r", 150, "r1"), ("y", 100, "y1")] {
        assert_eq!(t.find(id), Some((ts, md.into())), "{id}: a neighbour of the deleted row stays");
    }
    assert_eq!(t.find_at("x", At::Snapshot(before)), Some((200, "x2".into())), "time travel before the delete");
}

#[test]
fn a_position_delete_applies_to_data_files_of_lower_or_equal_sequence_numbers_only() {
    let mut t = Builder::new();
    // Sequence 1 deletes position 0 of a file that is only added at sequence 2: it must not apply.
    let c = t.data(&[row("z", 100, "z1")], 1000);
    let early = t.position_deletes(&[(&c, 0)]);
    t.commit(vec![early]);
    t.commit(vec![c]);
    assert_eq!(t.find("z"), Some((100, "z1".into())), "data sequence 2 > delete sequence 1");
    // A delete committed with its data file (equal sequence numbers) applies.
    let d = t.data(&[row("w", 100, "w1")], 1000);
    let same = t.position_deletes(&[(&d, 0)]);
    t.commit(vec![d, same]);
    assert_eq!(t.find("w"), None);
}

#[test]
fn an_equality_delete_applies_to_strictly_older_sequence_numbers_only() {
    let mut t = Builder::new();
    let a = t.data(&[row("y", 100, "y1"), row("k", 100, "k1")], 1000);
    t.commit(vec![a]);
    let del = t.equality_deletes(&[("id", vec![Some("y")])]);
    t.commit(vec![del]);
    assert_eq!(t.find("y"), None);
    assert_eq!(t.find("k"), Some((100, "k1".into())));
    // Written again together with an equality delete of the same id: the new row survives (equal
    // sequence numbers), although its ts is older than the deleted one's.
    let e = t.data(&[row("y", 50, "y-again")], 1000);
    let del2 = t.equality_deletes(&[("id", vec![Some("y")])]);
    t.commit(vec![e, del2]);
    assert_eq!(t.find("y"), Some((50, "y-again".into())));
}

#[test]
fn equality_deletes_compare_every_column_and_null_matches_null() {
    let mut t = Builder::new();
    let mut orphan = row("o", 100, "o1");
    orphan.owner_org = None;
    let mut other_type = row("n", 100, "n-ref");
    other_type.ty = "reference";
    let a = t.data(&[row("n", 100, "n1"), other_type, orphan, row("m", 100, "m1")], 1000);
    t.commit(vec![a]);
    // (ns, type, id) = (docs, reference, n) deletes the reference, not the guide.
    let by_key = t.equality_deletes(&[("ns", vec![Some("docs")]), ("type", vec![Some("reference")]), ("id", vec![Some("n")])]);
    // owner_org = null deletes the row without an owner only.
    let by_null = t.equality_deletes(&[("owner_org", vec![None])]);
    t.commit(vec![by_key, by_null]);
    assert_eq!(t.find("n"), Some((100, "n1".into())));
    assert_eq!(t.find("o"), None);
    assert_eq!(t.find("m"), Some((100, "m1".into())));
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let refs = block_on(list(&t.store, &table, "docs", "reference", &At::Current, &mut Cost::default())).unwrap();
    assert!(refs.is_empty(), "{refs:?}");
}

#[test]
fn listing_applies_deletes() {
    let mut t = Builder::new();
    let a = t.data(&[row("a", 100, "a1"), row("b", 100, "b1"), row("c", 100, "c1")], 1000);
    t.commit(vec![a.clone()]);
    let b2 = t.data(&[row("b", 200, "b2")], 1000);
    t.commit(vec![b2.clone()]);
    let pos = t.position_deletes(&[(&a, 0), (&b2, 0)]);
    let eq = t.equality_deletes(&[("id", vec![Some("c")])]);
    t.commit(vec![pos, eq]);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let listed = block_on(list(&t.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
    let got: Vec<(&str, i64)> = listed.iter().map(|(id, f)| (id.as_str(), f.ts)).collect();
    assert_eq!(got, vec![("b", 100)], "a deleted by position, b's newest by position (older b shows), c by equality");
}

#[test]
fn delete_files_are_read_only_when_a_candidate_row_could_be_affected() {
    let mut t = Builder::new();
    let a = t.data(&[row("x", 100, "x1")], 1000);
    t.commit(vec![a.clone()]);
    let pos = t.position_deletes(&[(&a, 5)]);
    let eq = t.equality_deletes(&[("id", vec![Some("zzz")])]);
    t.commit(vec![pos, eq]);
    assert_eq!(t.find("nothing-here"), None);
    assert_eq!(t.reads_of("deletes.parquet"), 0, "no candidate row, no delete file read");
    // The equality delete's id bounds ("zzz") rule it out for x; the position delete is read once.
    assert_eq!(t.find("x"), Some((100, "x1".into())));
    assert_eq!(t.reads_of("eq-deletes.parquet"), 0, "pruned by its bounds on id");
    assert!(t.reads_of("pos-deletes.parquet") >= 1);
}

fn site(seq: i64, spec_id: i32, partition: Vec<(String, PartitionValue)>) -> RowSite {
    RowSite { file_path: "s3://w/a.parquet".into(), sequence_number: seq, spec_id, partition, pos: 0, values: Vec::new() }
}

fn delete(kind: DeleteKind, seq: i64, spec_id: i32, unpartitioned: bool, partition: Vec<(String, PartitionValue)>) -> DeleteFile {
    DeleteFile { key: "d".into(), size: 1, sequence_number: seq, spec_id, unpartitioned, partition, kind }
}

#[test]
fn the_spec_rules_for_which_delete_applies() {
    let part = |ns: &str| vec![("ns".to_string(), PartitionValue::String(ns.into()))];
    let eq = DeleteKind::Equality(vec![3]);
    // Equality: strictly older data, same partition or a global (unpartitioned) delete.
    assert!(applies(&delete(eq.clone(), 5, 1, false, part("docs")), &site(4, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 1, false, part("docs")), &site(5, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 1, false, part("blog")), &site(4, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 2, false, part("docs")), &site(4, 1, part("docs"))));
    assert!(applies(&delete(eq, 5, 0, true, Vec::new()), &site(4, 1, part("docs"))));
    // Position: data at or below the delete's sequence number, the file it refers to.
    let pos = |referenced: Option<&str>, lower: Option<&str>, upper: Option<&str>| DeleteKind::Position {
        referenced: referenced.map(String::from),
        path_lower: lower.map(|s| s.as_bytes().to_vec()),
        path_upper: upper.map(|s| s.as_bytes().to_vec()),
    };
    assert!(applies(&delete(pos(None, None, None), 5, 0, true, Vec::new()), &site(5, 0, Vec::new())));
    assert!(!applies(&delete(pos(None, None, None), 5, 0, true, Vec::new()), &site(6, 0, Vec::new())));
    assert!(!applies(&delete(pos(Some("s3://w/b.parquet"), None, None), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())));
    assert!(!applies(&delete(pos(None, Some("s3://w/b"), Some("s3://w/c")), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())));
    assert!(applies(&delete(pos(None, Some("s3://w/a"), Some("s3://w/a")), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())), "a truncated upper bound");
}

#[test]
fn deletion_vectors_and_v3_are_a_clear_unsupported_feature() {
    assert_eq!(manifest_error("k", ManifestError::Unsupported("deletion vectors")), LocateError::Unsupported("deletion vectors"));
    assert!(matches!(manifest_error("k", ManifestError::Truncated), LocateError::Corrupt { key, .. } if key == "k"));
}
