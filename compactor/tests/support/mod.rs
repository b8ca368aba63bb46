//! Source tables written as the stand-in writes them, a store that fails on request, and the
//! serving table read back with shared's readers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::cell::Cell as StdCell;
use std::collections::BTreeMap;

use compactor::store::{block_on, Listed, MemStore, Object, StoreError};
use compactor::{Config, Store};
use iceberg_writer::commit::{added, append, data_file, schema_json, Append};
use iceberg_writer::{
    new_record_table, summarize, write_manifest, write_manifest_list, write_parquet, ColumnData, WriteCodec, WriteColumn,
};
use shared::iceberg::manifest::{read_manifest_list, DataContent, PartitionSpec};
use shared::iceberg::table_metadata::{Operation, TableMetadata};
use shared::locate::Cell;
use shared::record::{ColumnType, COLUMNS};
use shared::serving::entry::Entry;
use shared::serving::key::key;
use shared::serving::order::Order;
use shared::serving::root::Root;

pub const LOC: &str = "s3://w/";

/// The clock of a [`World`] at its start (ms): its store's and its runs' `now_ms`.
pub const T0: i64 = 1_700_000_000_000;

/// One record a test commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub ns: String,
    pub ty: String,
    pub id: String,
    pub ts: i64,
    pub deleted: bool,
    pub body: String,
    /// `expires_at` (µs).
    pub expires_at: Option<i64>,
}

pub fn rec(id: &str, ts: i64, body: &str) -> Rec {
    Rec { ns: "docs".into(), ty: "guide".into(), id: id.into(), ts, deleted: false, body: body.into(), expires_at: None }
}

/// What the serving table must answer for a key: the winner's order and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub order: Order,
    pub deleted: bool,
    pub body: Option<String>,
}

fn columns(rows: &[Rec]) -> Vec<WriteColumn> {
    COLUMNS
        .iter()
        .map(|c| {
            let s = |f: &dyn Fn(&Rec) -> Option<String>| ColumnData::Utf8(rows.iter().map(f).collect());
            let data = match (c.name, c.ty) {
                ("ns", _) => s(&|r| Some(r.ns.clone())),
                ("type", _) => s(&|r| Some(r.ty.clone())),
                ("id", _) => s(&|r| Some(r.id.clone())),
                ("ts", _) => ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.ts)).collect()),
                ("visibility", _) => s(&|_| Some("public".into())),
                ("owner_org", _) => s(&|_| Some("acme".into())),
                ("owner_user", _) => s(&|_| Some("alice".into())),
                ("markdown", _) => s(&|r| (!r.deleted).then(|| r.body.clone())),
                ("content_hash", _) => s(&|r| Some(format!("h-{}", r.body))),
                ("size_bytes", _) => ColumnData::Int64(rows.iter().map(|r| Some(r.body.len() as i64)).collect()),
                ("deleted", _) => ColumnData::Boolean(rows.iter().map(|r| Some(r.deleted)).collect()),
                ("expires_at", _) => ColumnData::TimestampNtzMicros(rows.iter().map(|r| r.expires_at).collect()),
                ("inputs", _) => ColumnData::Utf8List(rows.iter().map(|r| Some(vec![Some(format!("in-{}", r.id)), None])).collect()),
                (_, ColumnType::String) => ColumnData::Utf8(vec![None; rows.len()]),
                (_, ColumnType::TimestampMicros) => ColumnData::TimestampNtzMicros(vec![None; rows.len()]),
                (_, ColumnType::Long) => ColumnData::Int64(vec![None; rows.len()]),
                (_, ColumnType::Boolean) => ColumnData::Boolean(vec![None; rows.len()]),
                (_, ColumnType::StringList { .. }) => ColumnData::Utf8List(vec![None; rows.len()]),
            };
            let element_field_id = match c.ty {
                ColumnType::StringList { element_id } => Some(element_id),
                _ => None,
            };
            WriteColumn { name: c.name.into(), field_id: c.field_id, required: c.required, data, element_field_id }
        })
        .collect()
}

/// The sources and every row committed to them, for the naive answer.
#[derive(Default)]
pub struct World {
    pub store: MemStore,
    /// Source roots, in order.
    pub roots: Vec<String>,
    /// Every committed row: (source, seq, pos, rec).
    pub committed: Vec<(u32, i64, u64, Rec)>,
    pub next_id: StdCell<i64>,
}

impl World {
    pub fn new(roots: &[&str]) -> World {
        let w = World { roots: roots.iter().map(|r| r.to_string()).collect(), ..World::default() };
        w.store.set_now(T0);
        w
    }

    /// Moves the clock (the store's upload times and the runs' `now_ms`) on by `ms`.
    pub fn advance(&self, ms: i64) {
        self.store.set_now(self.store.now() + ms);
    }

    fn fresh(&self) -> i64 {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        n
    }

    /// The current metadata of source `i` and its version.
    pub fn current(&self, i: usize) -> Option<(u64, TableMetadata)> {
        let root = &self.roots[i];
        let hint = self.store.bytes(&format!("{root}/metadata/version-hint.text"))?;
        let n: u64 = String::from_utf8(hint).unwrap().trim().parse().unwrap();
        let meta = TableMetadata::from_json(&self.store.bytes(&format!("{root}/metadata/v{n}.metadata.json")).unwrap()).unwrap();
        Some((n, meta))
    }

    /// Commits `rows` to source `i` as one append snapshot (one data file, row groups of
    /// `row_group_rows`), as the stand-in does.
    pub fn commit(&mut self, i: usize, rows: &[Rec], row_group_rows: usize) {
        let root = self.roots[i].clone();
        let (n, prev) = self.current(i).unwrap_or_else(|| (0, new_record_table(format!("uuid-{i}"), format!("{LOC}{root}"), 1)));
        let written = write_parquet(&columns(rows), WriteCodec::Snappy, row_group_rows).unwrap();
        let id = self.fresh();
        let data_key = format!("{root}/data/{id}.parquet");
        let df = data_file(format!("{LOC}{data_key}"), &written, DataContent::Data);
        self.store.set(&data_key, written.bytes.clone());
        let snapshot_id = 1000 + id;
        let seq = prev.last_sequence_number + 1;
        let entries = added(snapshot_id, vec![df]);
        let spec = PartitionSpec::unpartitioned();
        let manifest = write_manifest(&entries, &spec, &schema_json(&prev), 0).unwrap();
        let manifest_key = format!("{root}/metadata/{id}-m0.avro");
        let len = manifest.len() as i64;
        self.store.set(&manifest_key, manifest);
        let mut files = match prev.current_snapshot() {
            Some(p) => read_manifest_list(&self.store.bytes(p.manifest_list.strip_prefix(LOC).unwrap()).unwrap()).unwrap(),
            None => Vec::new(),
        };
        files.push(summarize(format!("{LOC}{manifest_key}"), len, &spec, snapshot_id, seq, &entries).unwrap());
        let list = write_manifest_list(&files, snapshot_id, prev.current_snapshot().map(|p| p.snapshot_id), seq).unwrap();
        let list_key = format!("{root}/metadata/snap-{snapshot_id}.avro");
        self.store.set(&list_key, list);
        let next = append(
            &prev,
            Append {
                snapshot_id,
                manifest_list: format!("{LOC}{list_key}"),
                operation: Operation::Append,
                data_files: 1,
                records: rows.len() as i64,
                file_size: written.bytes.len() as i64,
                properties: BTreeMap::new(),
                now_ms: 2 + id,
                previous_location: None,
            },
        );
        self.store.set(&format!("{root}/metadata/v{}.metadata.json", n + 1), next.to_json().into_bytes());
        self.store.set(&format!("{root}/metadata/version-hint.text"), (n + 1).to_string().into_bytes());
        // The position is the row's index in its file, whatever the row groups.
        for (r, rec) in rows.iter().enumerate() {
            self.committed.push((i as u32, seq, r as u64, rec.clone()));
        }
    }

    /// The naive answer: the newest committed row per key by the winner rule.
    pub fn expected(&self) -> BTreeMap<Vec<u8>, Want> {
        self.expected_of(&self.committed)
    }

    pub fn expected_of(&self, rows: &[(u32, i64, u64, Rec)]) -> BTreeMap<Vec<u8>, Want> {
        let mut out: BTreeMap<Vec<u8>, Want> = BTreeMap::new();
        for (source, seq, pos, r) in rows {
            let order = Order { ts: r.ts, seq: *seq, source: *source, pos: *pos };
            let k = key(&r.ns, &r.ty, &r.id);
            if out.get(&k).is_some_and(|w| w.order >= order) {
                continue;
            }
            out.insert(k, Want { order, deleted: r.deleted, body: (!r.deleted).then(|| r.body.clone()) });
        }
        out
    }

    /// The current manifest list of source `i` and its manifests, parsed.
    fn manifests(&self, meta: &TableMetadata) -> (Vec<shared::iceberg::manifest::ManifestFile>, Vec<shared::iceberg::manifest::Manifest>) {
        let snap = meta.current_snapshot().unwrap();
        let list = read_manifest_list(&self.store.bytes(snap.manifest_list.strip_prefix(LOC).unwrap()).unwrap()).unwrap();
        let manifests = list
            .iter()
            .map(|mf| {
                shared::iceberg::manifest::read_manifest(&self.store.bytes(mf.manifest_path.strip_prefix(LOC).unwrap()).unwrap(), mf)
                    .unwrap()
            })
            .collect();
        (list, manifests)
    }

    fn set_metadata(&self, i: usize, n: u64, meta: &TableMetadata) {
        let root = &self.roots[i];
        self.store.set(&format!("{root}/metadata/v{}.metadata.json", n + 1), meta.to_json().into_bytes());
        self.store.set(&format!("{root}/metadata/version-hint.text"), (n + 1).to_string().into_bytes());
    }

    /// R2 Data Catalog's compaction on source `i`, as the stand-in's `/maintain/compact` does it
    /// (`iceberg_writer::rewrite`): small files binpacked into `compacted-*` files under one
    /// `replace` snapshot. The compacted files' keys.
    pub fn compact(&mut self, i: usize, target_bytes: i64) -> Vec<String> {
        use iceberg_writer::rewrite::{
            commit_replace, compacted_location, live_files, plan_binpack, write_bin, Binpack, Compacted, ReplaceInput,
        };
        let (n, meta) = self.current(i).unwrap();
        let (list, manifests) = self.manifests(&meta);
        let live = live_files(&list, &manifests);
        let bins = plan_binpack(&live, &Binpack::new(target_bytes)).unwrap();
        let schema = meta.current_schema().unwrap().clone();
        let mut compacted = Vec::new();
        let mut keys = Vec::new();
        for bin in bins {
            let inputs: Vec<Vec<u8>> =
                bin.files.iter().map(|&f| self.store.bytes(live[f].data_file.file_path.strip_prefix(LOC).unwrap()).unwrap()).collect();
            let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            let written = write_bin(&refs, &schema, WriteCodec::Snappy).unwrap();
            let loc = compacted_location(&live[bin.files[0]].data_file.file_path, &format!("c{}", self.fresh()));
            self.store.set(loc.strip_prefix(LOC).unwrap(), written.bytes.clone());
            keys.push(loc.strip_prefix(LOC).unwrap().to_string());
            compacted.push(Compacted::new(bin, loc, &written, &live));
        }
        assert!(!compacted.is_empty(), "nothing to compact");
        let root = self.roots[i].clone();
        let location = format!("{LOC}{root}/metadata/v{n}.metadata.json");
        let nonce = format!("r{}", self.fresh());
        let input = ReplaceInput {
            metadata: &meta,
            metadata_location: &location,
            list: &list,
            manifests: &manifests,
            snapshot_id: 5000 + self.fresh(),
            nonce: &nonce,
            now_ms: 1_000_000 + self.fresh(),
        };
        let commit = commit_replace(&input, &live, &compacted).unwrap();
        for (loc, bytes) in commit.objects {
            self.store.set(loc.strip_prefix(LOC).unwrap(), bytes);
        }
        self.set_metadata(i, n, &commit.metadata);
        keys
    }

    /// R2 Data Catalog's snapshot expiration on source `i`, as the stand-in's `/maintain/expire`
    /// does it (`iceberg_writer::expire`): keeps the last `keep` snapshots and deletes what only
    /// the expired ones reached. The expired snapshot ids.
    pub fn expire(&mut self, i: usize, keep: usize) -> Vec<i64> {
        use iceberg_writer::expire::{expire, manifest_lists, unreachable, Reach, Retain};
        let (n, meta) = self.current(i).unwrap();
        let root = self.roots[i].clone();
        let location = format!("{LOC}{root}/metadata/v{n}.metadata.json");
        let expiry = expire(&meta, Retain { last: keep, newer_than_ms: None }, &location, 2_000_000).expect("something to expire");
        let (kept, expired) = manifest_lists(&meta, &expiry);
        let reach = |lists: &BTreeMap<i64, String>, live_only: bool| {
            let mut r = Reach::default();
            for loc in lists.values() {
                let list = read_manifest_list(&self.store.bytes(loc.strip_prefix(LOC).unwrap()).unwrap()).unwrap();
                r.add_list(loc, &list);
                for mf in &list {
                    let m = shared::iceberg::manifest::read_manifest(
                        &self.store.bytes(mf.manifest_path.strip_prefix(LOC).unwrap()).unwrap(),
                        mf,
                    )
                    .unwrap();
                    r.add_manifest(&m, live_only);
                }
            }
            r
        };
        let gone = unreachable(&reach(&kept, true), &reach(&expired, false));
        self.set_metadata(i, n, &expiry.metadata);
        for loc in gone {
            self.store.remove(loc.strip_prefix(LOC).unwrap());
        }
        expiry.expired
    }

    pub fn config(&self) -> Config {
        let mut cfg = Config::new("serving/artifacts", LOC, self.roots.clone(), self.store.now(), format!("{:04x}", self.fresh()));
        cfg.limits.file_rows = 7;
        cfg.limits.merge_files = 2;
        cfg
    }

    pub fn run(&self, cfg: &Config) -> compactor::Report {
        block_on(compactor::run(&self.store, cfg)).unwrap()
    }
}

/// Every row of every live file: (file key, entry, cells).
pub type Rows = Vec<(String, Entry, Vec<Cell>)>;

/// The serving table at its pointer: root and every row of every live file.
pub fn read_serving(store: &MemStore) -> Option<(Root, Rows)> {
    read_serving_at(store, "serving/artifacts")
}

/// The serving table under `table` at its pointer (see [`read_version`]).
pub fn read_serving_at(store: &MemStore, table: &str) -> Option<(Root, Rows)> {
    let hint = store.bytes(&format!("{table}/metadata/version-hint.text"))?;
    let n: u64 = String::from_utf8(hint).unwrap().trim().parse().unwrap();
    Some(read_version(store, table, n))
}

/// Version `n` of the serving table under `table`: its root and every row of every file it
/// lists. Checks that the root and the metadata it names are one run's (the metadata's name, its
/// snapshot's manifest list and the root's new files carry one nonce; the snapshot's version and
/// watermarks are the root's) and that the manifest lists exactly the root's files.
pub fn read_version(store: &MemStore, table: &str, n: u64) -> (Root, Rows) {
    let rk = format!("{table}/metadata/v{n}.serving.json");
    let root = Root::parse(&store.bytes(&rk).unwrap_or_else(|| panic!("{rk} is missing"))).unwrap();
    assert_eq!(root.version, n);
    let nonce = root
        .metadata
        .strip_prefix(&format!("{table}/metadata/v{n}-"))
        .and_then(|r| r.strip_suffix(".metadata.json"))
        .unwrap_or_else(|| panic!("{}: not the version's own metadata name", root.metadata));
    let meta = TableMetadata::from_json(&store.bytes(&root.metadata).unwrap_or_else(|| panic!("{} is missing", root.metadata))).unwrap();
    meta.validate().unwrap();
    let snap = meta.current_snapshot().unwrap();
    assert_eq!(snap.summary.properties.get("serving.version"), Some(&n.to_string()), "the metadata is version {n}'s");
    assert!(snap.manifest_list.ends_with(&format!("-{n}-{nonce}.avro")), "{}: another run's list", snap.manifest_list);
    for (i, src) in root.sources.iter().enumerate() {
        let w = src.snapshot_id.map_or_else(String::new, |id| id.to_string());
        assert_eq!(snap.summary.properties.get(&format!("serving.watermark.{i}")), Some(&w), "root and metadata agree on watermark {i}");
    }
    for f in &root.files {
        let name = f.key.rsplit('/').next().unwrap();
        let parts: Vec<&str> = name.split('-').collect();
        if parts[1] == n.to_string() {
            assert_eq!(parts[2], nonce, "{name}: written in version {n} by another run");
        }
    }
    let mut rows = Vec::new();
    for f in &root.files {
        let bytes = store.bytes(&f.key).unwrap_or_else(|| panic!("{} is missing", f.key));
        assert_eq!(bytes.len() as u64, f.size);
        for mut r in compactor::rows::read_all(&bytes, None, &["_lookup"]).unwrap() {
            let Some(Cell::Text(l)) = r.cells.pop() else { panic!("no _lookup") };
            rows.push((f.key.clone(), Entry::decode(l.as_bytes()).unwrap(), r.cells));
        }
    }
    // The manifest lists exactly the root's files.
    let list = read_manifest_list(&store.bytes(snap.manifest_list.strip_prefix(LOC).unwrap()).unwrap()).unwrap();
    let mut listed = Vec::new();
    for mf in &list {
        let m = shared::iceberg::manifest::read_manifest(&store.bytes(mf.manifest_path.strip_prefix(LOC).unwrap()).unwrap(), mf).unwrap();
        listed.extend(m.entries.into_iter().map(|e| e.data_file.file_path.strip_prefix(LOC).unwrap().to_string()));
    }
    listed.sort();
    let mut in_root: Vec<String> = root.files.iter().map(|f| f.key.clone()).collect();
    in_root.sort();
    assert_eq!(listed, in_root, "the manifest lists the root's files");
    (root, rows)
}

fn want_of(e: &Entry, cells: &[Cell]) -> Want {
    let md = COLUMNS.iter().position(|c| c.name == "markdown").unwrap();
    Want {
        order: e.order,
        deleted: e.deleted,
        body: match &cells[md] {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        },
    }
}

/// The serving table's answer per key, twice: from a full scan (newest per key of every live
/// file) and through `Root::candidates` (what serve reads); they must agree.
pub fn answers(store: &MemStore) -> BTreeMap<Vec<u8>, Want> {
    answers_at(store, "serving/artifacts")
}

/// [`answers`] of the serving table under `table`.
pub fn answers_at(store: &MemStore, table: &str) -> BTreeMap<Vec<u8>, Want> {
    let Some((root, rows)) = read_serving_at(store, table) else { return BTreeMap::new() };
    answers_of(&root, &rows)
}

/// The answers of one version (see [`answers`]).
pub fn answers_of(root: &Root, rows: &Rows) -> BTreeMap<Vec<u8>, Want> {
    let mut full: BTreeMap<Vec<u8>, Want> = BTreeMap::new();
    for (_, e, cells) in rows {
        if full.get(&e.key).is_some_and(|w| w.order >= e.order) {
            continue;
        }
        full.insert(e.key.clone(), want_of(e, cells));
    }
    for (k, w) in &full {
        let candidates: Vec<String> = root.candidates(k).into_iter().map(|f| f.key.clone()).collect();
        let best = rows
            .iter()
            .filter(|(f, e, _)| candidates.contains(f) && e.key == *k)
            .map(|(_, e, c)| want_of(e, c))
            .max_by(|a, b| a.order.cmp(&b.order))
            .unwrap_or_else(|| panic!("no candidate holds {}", String::from_utf8_lossy(k)));
        assert_eq!(&best, w, "candidates of {}", String::from_utf8_lossy(k));
    }
    full
}

/// A store that fails the `fail_at`-th put (0-based; create-only and conditional puts count).
pub struct Faulty<'a> {
    pub inner: &'a MemStore,
    pub fail_at: Option<usize>,
    pub puts: StdCell<usize>,
}

impl<'a> Faulty<'a> {
    pub fn new(inner: &'a MemStore, fail_at: Option<usize>) -> Faulty<'a> {
        Faulty { inner, fail_at, puts: StdCell::new(0) }
    }
    fn tick(&self) -> Result<(), StoreError> {
        let n = self.puts.get();
        self.puts.set(n + 1);
        if Some(n) == self.fail_at {
            return Err(StoreError::Failed(format!("injected failure at put {n}")));
        }
        Ok(())
    }
}

impl Store for Faulty<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
        self.inner.get(key, range).await
    }
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        self.tick()?;
        self.inner.put_new(key, bytes).await
    }
    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
        self.tick()?;
        self.inner.put_if(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        self.inner.delete(keys).await
    }
}

/// A small deterministic generator.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
