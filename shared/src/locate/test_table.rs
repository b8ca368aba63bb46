//! A table built in memory with our own writers, for the locator's tests: every expected answer
//! follows from the rows each test commits, never from reading back.

use core::cell::RefCell;
use std::collections::BTreeMap;

use super::deletes::{POSITION_FILE_PATH_ID, POSITION_POS_ID};
use super::*;
use crate::iceberg::manifest::{DataContent, DataFile, FileFormat, ManifestFile, PartitionSpec as ManifestSpec};
use crate::iceberg::table_metadata::{record_schema, Operation, TableMetadata};
use crate::writer::commit::{added, append_with_deletes, data_file, schema_json, AddedDeletes, Append};
use crate::writer::manifest::{summarize, write_manifest, write_manifest_list};
use crate::writer::parquet::{write_parquet, ColumnData, WriteCodec, WriteColumn};
use crate::writer::table::new_record_table;

pub const PREFIX: &str = "s3://warehouse/";

/// Objects in memory; remembers every key read.
#[derive(Default)]
pub struct MemStore {
    pub objects: RefCell<BTreeMap<String, Vec<u8>>>,
    pub reads: RefCell<Vec<String>>,
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

pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(v) => v,
        core::task::Poll::Pending => panic!("the memory store never waits"),
    }
}

/// One artifact row: (ns, type, id, ts, markdown, owner_org).
#[derive(Clone)]
pub struct Row {
    pub ns: &'static str,
    pub ty: &'static str,
    pub id: &'static str,
    pub ts: i64,
    pub markdown: &'static str,
    pub owner_org: Option<&'static str>,
}

pub fn row(id: &'static str, ts: i64, markdown: &'static str) -> Row {
    Row { ns: "docs", ty: "guide", id, ts, markdown, owner_org: Some("acme") }
}

fn utf8(name: &str, values: Vec<Option<String>>) -> WriteColumn {
    let field_id = record_schema().field_id_by_name(name).unwrap_or_else(|| panic!("{name}"));
    WriteColumn { name: name.into(), field_id, required: false, data: ColumnData::Utf8(values), element_field_id: None }
}

/// A table under construction: each `commit` is one snapshot with the next sequence number.
pub struct Builder {
    pub store: MemStore,
    pub meta: TableMetadata,
    /// Location prefix of every file (maps to the bucket root).
    pub prefix: String,
    /// Key of the table's root directory.
    pub root: String,
    manifests: Vec<ManifestFile>,
    files: u32,
}

impl Builder {
    pub fn new() -> Self {
        Self::at(PREFIX, "t")
    }

    /// A table whose files are `{root}/...` keys at locations `{prefix}{root}/...`.
    pub fn at(prefix: &str, root: &str) -> Self {
        let meta = new_record_table("00000000-0000-4000-8000-000000000001".into(), format!("{prefix}{root}"), 1);
        Builder { store: MemStore::default(), meta, prefix: prefix.into(), root: root.into(), manifests: Vec::new(), files: 0 }
    }

    pub fn put(&mut self, name: &str, bytes: Vec<u8>) -> String {
        self.files += 1;
        let dir = if name.ends_with(".parquet") { "data" } else { "metadata" };
        let key = format!("{}/{dir}/{:03}-{name}", self.root, self.files);
        self.store.objects.borrow_mut().insert(key.clone(), bytes);
        key
    }

    pub fn file(&mut self, name: &str, columns: &[WriteColumn], row_group_rows: usize, content: DataContent) -> DataFile {
        let written = write_parquet(columns, WriteCodec::Zstd, row_group_rows).unwrap();
        let mut df = data_file(String::new(), &written, content);
        let key = self.put(name, written.bytes);
        df.file_path = format!("{}{key}", self.prefix);
        df
    }

    /// A data file written by another writer (no bounds in the manifest: nothing prunes it).
    pub fn raw_data(&mut self, bytes: Vec<u8>, record_count: i64) -> DataFile {
        let size = bytes.len() as i64;
        let key = self.put("raw.parquet", bytes);
        DataFile::new(format!("{}{key}", self.prefix), FileFormat::Parquet, record_count, size)
    }

    /// A data file of `rows`, `row_group_rows` rows per row group.
    pub fn data(&mut self, rows: &[Row], row_group_rows: usize) -> DataFile {
        let columns = Self::columns(rows);
        self.file("data.parquet", &columns, row_group_rows, DataContent::Data)
    }

    /// [`Builder::data`] with the contract v2 columns `tags` and `expires_at` after the others,
    /// as the sink writes them (one value of each per row).
    pub fn data_v2(&mut self, rows: &[Row], row_group_rows: usize, tags: &[Option<&str>], expires_at: &[Option<i64>]) -> DataFile {
        let mut columns = Self::columns(rows);
        columns.push(utf8("tags", tags.iter().map(|t| t.map(String::from)).collect()));
        columns.push(WriteColumn {
            name: "expires_at".into(),
            field_id: record_schema().field_id_by_name("expires_at").unwrap(),
            required: false,
            data: ColumnData::TimestampNtzMicros(expires_at.to_vec()),
            element_field_id: None,
        });
        self.file("data.parquet", &columns, row_group_rows, DataContent::Data)
    }

    /// [`Builder::data`] with a `supersedes` column (#18): per row a null list or a list of refs.
    pub fn data_superseding(&mut self, rows: &[Row], row_group_rows: usize, supersedes: &[Option<Vec<&str>>]) -> DataFile {
        let mut columns = Self::columns(rows);
        let lists = supersedes.iter().map(|l| l.as_ref().map(|refs| refs.iter().map(|r| Some(String::from(*r))).collect())).collect();
        columns.push(WriteColumn {
            name: "supersedes".into(),
            field_id: record_schema().field_id_by_name("supersedes").unwrap(),
            required: false,
            data: ColumnData::Utf8List(lists),
            element_field_id: Some(24),
        });
        self.file("data.parquet", &columns, row_group_rows, DataContent::Data)
    }

    fn columns(rows: &[Row]) -> Vec<WriteColumn> {
        let s = |f: fn(&Row) -> Option<&'static str>| rows.iter().map(|r| f(r).map(String::from)).collect::<Vec<_>>();
        let ts_id = record_schema().field_id_by_name("ts").unwrap();
        vec![
            utf8("ns", s(|r| Some(r.ns))),
            utf8("type", s(|r| Some(r.ty))),
            utf8("id", s(|r| Some(r.id))),
            WriteColumn {
                name: "ts".into(),
                field_id: ts_id,
                required: false,
                data: ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.ts)).collect()),
                element_field_id: None,
            },
            utf8("visibility", s(|_| Some("public"))),
            utf8("owner_org", s(|r| r.owner_org)),
            utf8("owner_user", s(|_| Some("alice"))),
            utf8("markdown", s(|r| Some(r.markdown))),
            utf8("content_hash", s(|r| Some(r.markdown))),
            WriteColumn {
                name: "size_bytes".into(),
                field_id: record_schema().field_id_by_name("size_bytes").unwrap(),
                required: false,
                data: ColumnData::Int64(rows.iter().map(|r| Some(r.markdown.len() as i64)).collect()),
                element_field_id: None,
            },
            WriteColumn {
                name: "deleted".into(),
                field_id: record_schema().field_id_by_name("deleted").unwrap(),
                required: false,
                data: ColumnData::Boolean(rows.iter().map(|_| Some(false)).collect()),
                element_field_id: None,
            },
        ]
    }

    /// A position delete file of (data file, pos) pairs, sorted as the spec asks.
    pub fn position_deletes(&mut self, deletes: &[(&DataFile, i64)]) -> DataFile {
        let mut pairs: Vec<(String, i64)> = deletes.iter().map(|(f, p)| (f.file_path.clone(), *p)).collect();
        pairs.sort();
        let columns = vec![
            WriteColumn {
                name: "file_path".into(),
                field_id: POSITION_FILE_PATH_ID,
                required: true,
                data: ColumnData::Utf8(pairs.iter().map(|(f, _)| Some(f.clone())).collect()),
                element_field_id: None,
            },
            WriteColumn {
                name: "pos".into(),
                field_id: POSITION_POS_ID,
                required: true,
                data: ColumnData::Int64(pairs.iter().map(|(_, p)| Some(*p)).collect()),
                element_field_id: None,
            },
        ];
        self.file("pos-deletes.parquet", &columns, 1000, DataContent::PositionDeletes)
    }

    /// An equality delete file over the named string columns.
    pub fn equality_deletes(&mut self, columns: &[(&str, Vec<Option<&str>>)]) -> DataFile {
        let cols: Vec<WriteColumn> = columns.iter().map(|(n, v)| utf8(n, v.iter().map(|s| s.map(String::from)).collect())).collect();
        let mut df = self.file("eq-deletes.parquet", &cols, 1000, DataContent::EqualityDeletes);
        df.equality_ids = cols.iter().map(|c| c.field_id).collect();
        df
    }

    /// Commits `files` as one snapshot (a data manifest and/or a delete manifest) with the
    /// writer's [`append_with_deletes`]; returns its id. Every snapshot is an `overwrite` (the
    /// locator reads any operation; `tail_tests` rely on a plain commit not being an `append`),
    /// at `sequence number × 1000` ms, with no metadata log (the table has one metadata file).
    pub fn commit(&mut self, files: Vec<DataFile>) -> i64 {
        let seq = self.meta.last_sequence_number + 1;
        let snapshot_id = 1000 + seq;
        let schema_json = schema_json(&self.meta);
        let spec = ManifestSpec::unpartitioned();
        let deletes = AddedDeletes::of(&files);
        let (data, delete_files): (Vec<DataFile>, Vec<DataFile>) = files.into_iter().partition(|f| f.content == DataContent::Data);
        let (data_files, records, file_size) =
            (data.len() as i64, data.iter().map(|f| f.record_count).sum(), data.iter().map(|f| f.file_size_in_bytes).sum());
        for group in [data, delete_files] {
            if group.is_empty() {
                continue;
            }
            let entries = added(snapshot_id, group);
            let bytes = write_manifest(&entries, &spec, &schema_json, 0).unwrap();
            let len = bytes.len() as i64;
            let key = self.put("m.avro", bytes);
            self.manifests.push(summarize(format!("{}{key}", self.prefix), len, &spec, snapshot_id, seq, &entries).unwrap());
        }
        let list = write_manifest_list(&self.manifests, snapshot_id, self.meta.current_snapshot_id, seq).unwrap();
        let list_key = self.put("snap.avro", list);
        let append = Append {
            snapshot_id,
            manifest_list: format!("{}{list_key}", self.prefix),
            operation: Operation::Overwrite,
            data_files,
            records,
            file_size,
            properties: BTreeMap::new(),
            now_ms: seq * 1000,
            previous_location: None,
        };
        self.meta = append_with_deletes(&self.meta, append, deletes);
        snapshot_id
    }

    /// The winner for `id` as (ts, markdown), at the current snapshot or `at`.
    pub fn find_at(&self, id: &str, at: At) -> Option<(i64, String)> {
        let table = Table { metadata: &self.meta, location_prefix: &self.prefix };
        let mut cost = Cost::default();
        let found = block_on(locate(&self.store, &table, Wanted { ns: "docs", ty: "guide", id }, &at, &mut cost)).unwrap()?;
        let markdown = block_on(read_value(&self.store, &table, &found, "markdown", &mut cost)).unwrap().unwrap_or_default();
        Some((found.ts, markdown))
    }

    pub fn find(&self, id: &str) -> Option<(i64, String)> {
        self.find_at(id, At::Current)
    }

    pub fn reads_of(&self, key_part: &str) -> usize {
        self.store.reads.borrow().iter().filter(|k| k.contains(key_part)).count()
    }
}
