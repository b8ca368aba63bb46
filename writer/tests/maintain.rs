//! Table maintenance (`rewrite`, `expire`) against `shared`'s readers: a table committed as the
//! stand-in commits (one small file per commit, a large one among them, versions of a key tied on
//! `ts` across commits and within one), binpacked, then expired. The compacted rows are the input
//! rows in order, the replace snapshot reads back with the manifest readers, every key's answer
//! through the locator is the same before and after both, and expire lists exactly the files
//! only the expired snapshots reached.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use iceberg_writer::commit::{added, append, data_file, schema_json, Append};
use iceberg_writer::expire::{expire, manifest_lists, unreachable, Reach, Retain};
use iceberg_writer::rewrite::{
    commit_replace, compacted_location, live_files, plan_binpack, read_columns, write_bin, Binpack, Compacted, LiveFile, ReplaceInput,
};
use iceberg_writer::{
    new_record_table, summarize, write_manifest, write_manifest_list, write_parquet, ColumnData, WriteCodec, WriteColumn,
};
use shared::iceberg::manifest::{
    read_manifest, read_manifest_list, DataContent, EntryStatus, Manifest, ManifestFile, PartitionSpec as ManifestSpec,
};
use shared::iceberg::table_metadata::{Operation, PrimitiveType, TableMetadata, Type};
use shared::locate::{locate, read_value, At, Cost, ObjectStore, StoreError, Table, Wanted};

const PREFIX: &str = "mem://w/";
const LOCATION: &str = "mem://w/t";

struct Files(BTreeMap<String, Vec<u8>>);

impl ObjectStore for Files {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let bytes = self.0.get(key).ok_or(StoreError::NotFound)?;
        Ok(match range {
            None => bytes.clone(),
            Some((start, len)) => bytes[start as usize..(start + len) as usize].to_vec(),
        })
    }
}

impl Files {
    fn at(&self, location: &str) -> &[u8] {
        self.0.get(location.strip_prefix(PREFIX).unwrap()).unwrap_or_else(|| panic!("{location} is missing"))
    }

    fn put(&mut self, location: &str, bytes: Vec<u8>) {
        let key = location.strip_prefix(PREFIX).unwrap().to_string();
        assert!(self.0.insert(key, bytes).is_none(), "{location} was created twice");
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// One record: id, ts and the markdown that tells versions apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    id: String,
    ts: i64,
    md: String,
}

fn row(id: &str, ts: i64, md: &str) -> Row {
    Row { id: id.into(), ts, md: md.into() }
}

/// Every column of the record schema for `rows` (required columns filled, the rest null).
fn columns(meta: &TableMetadata, rows: &[Row]) -> Vec<WriteColumn> {
    let schema = meta.current_schema().unwrap();
    schema
        .fields
        .iter()
        .map(|f| {
            let text = |v: &dyn Fn(&Row) -> Option<String>| ColumnData::Utf8(rows.iter().map(v).collect());
            let (data, element_field_id) = match (&f.field_type, f.name.as_str()) {
                (_, "ns") => (text(&|_| Some("docs".into())), None),
                (_, "type") => (text(&|_| Some("guide".into())), None),
                (_, "id") => (text(&|r| Some(r.id.clone())), None),
                (_, "visibility") => (text(&|_| Some("public".into())), None),
                (_, "owner_org") => (text(&|_| Some("acme".into())), None),
                (_, "owner_user") => (text(&|_| Some("alice".into())), None),
                (_, "markdown") => (text(&|r| Some(r.md.clone())), None),
                (_, "content_hash") => (text(&|r| Some(format!("h-{}", r.md))), None),
                (_, "ts") => (ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.ts)).collect()), None),
                (_, "size_bytes") => (ColumnData::Int64(rows.iter().map(|r| Some(r.md.len() as i64)).collect()), None),
                (_, "deleted") => (ColumnData::Boolean(rows.iter().map(|_| Some(false)).collect()), None),
                (_, "inputs") => (ColumnData::Utf8List(rows.iter().map(|r| Some(vec![Some(r.id.clone()), None])).collect()), Some(22)),
                (Type::List(l), _) => (ColumnData::Utf8List(rows.iter().map(|_| None).collect()), Some(l.element_id)),
                (Type::Primitive(PrimitiveType::Timestamp), _) => {
                    (ColumnData::TimestampNtzMicros(rows.iter().map(|_| None).collect()), None)
                }
                _ => (text(&|_| None), None),
            };
            WriteColumn { name: f.name.clone(), field_id: f.id, required: f.required, data, element_field_id }
        })
        .collect()
}

/// A table committed in memory, as the stand-in commits.
struct Tbl {
    files: Files,
    meta: TableMetadata,
    location: String,
    version: usize,
    /// Every row committed, in commit order.
    rows: Vec<Row>,
}

impl Tbl {
    fn new() -> Self {
        let meta = new_record_table("u".into(), LOCATION.into(), 1);
        Tbl { files: Files(BTreeMap::new()), meta, location: format!("{LOCATION}/metadata/v1.metadata.json"), version: 1, rows: Vec::new() }
    }

    fn list(&self) -> Vec<ManifestFile> {
        match self.meta.current_snapshot() {
            None => Vec::new(),
            Some(s) => read_manifest_list(self.files.at(&s.manifest_list)).unwrap(),
        }
    }

    fn manifests(&self, list: &[ManifestFile]) -> Vec<Manifest> {
        list.iter().map(|mf| read_manifest(self.files.at(&mf.manifest_path), mf).unwrap()).collect()
    }

    fn set(&mut self, meta: TableMetadata) {
        meta.validate().unwrap();
        let meta = TableMetadata::from_json(meta.to_json().as_bytes()).unwrap();
        self.version += 1;
        self.location = format!("{LOCATION}/metadata/v{}.metadata.json", self.version);
        self.files.put(&self.location.clone(), meta.to_json().into_bytes());
        self.meta = meta;
    }

    /// One append of `rows` as one data file (row groups of `rg` rows).
    fn commit(&mut self, rows: &[Row], rg: usize) {
        let n = self.version;
        let snapshot_id = 1000 + n as i64;
        let seq = self.meta.last_sequence_number + 1;
        let written = write_parquet(&columns(&self.meta, rows), WriteCodec::Snappy, rg).unwrap();
        let loc = format!("{LOCATION}/data/{n:04}.parquet");
        let df = data_file(loc.clone(), &written, DataContent::Data);
        let size = written.bytes.len() as i64;
        self.files.put(&loc, written.bytes);
        let entries = added(snapshot_id, vec![df]);
        let spec = ManifestSpec::unpartitioned();
        let manifest = write_manifest(&entries, &spec, &schema_json(&self.meta), 0).unwrap();
        let mloc = format!("{LOCATION}/metadata/{n:04}-m0.avro");
        let mlen = manifest.len() as i64;
        self.files.put(&mloc, manifest);
        let mut list = self.list();
        list.push(summarize(mloc, mlen, &spec, snapshot_id, seq, &entries).unwrap());
        let parent = self.meta.current_snapshot().map(|s| s.snapshot_id);
        let lloc = format!("{LOCATION}/metadata/snap-{snapshot_id}.avro");
        self.files.put(&lloc, write_manifest_list(&list, snapshot_id, parent, seq).unwrap());
        let next = append(
            &self.meta,
            Append {
                snapshot_id,
                manifest_list: lloc,
                operation: Operation::Append,
                data_files: 1,
                records: rows.len() as i64,
                file_size: size,
                properties: BTreeMap::new(),
                now_ms: 1000 * n as i64,
                previous_location: Some(self.location.clone()),
            },
        );
        self.set(next);
        self.rows.extend(rows.iter().cloned());
    }

    /// The live files of the current snapshot, in the locator's order (sequence number, manifest
    /// slot, entry).
    fn live(&self) -> Vec<LiveFile> {
        let list = self.list();
        let mut live = live_files(&list, &self.manifests(&list));
        live.sort_by_key(|f| (f.sequence_number, f.manifest, f.entry));
        live
    }

    /// Every row of the current snapshot, files in the locator's order, rows in file order.
    fn scan(&self) -> Vec<Row> {
        let schema = self.meta.current_schema().unwrap();
        let mut out = Vec::new();
        for f in self.live() {
            let cols = read_columns(self.files.at(&f.data_file.file_path), schema).unwrap();
            let get = |name: &str| cols.iter().find(|c| c.name == name).unwrap().data.clone();
            let (ColumnData::Utf8(ids), ColumnData::TimestampNtzMicros(ts), ColumnData::Utf8(md)) = (get("id"), get("ts"), get("markdown"))
            else {
                panic!("column types")
            };
            for i in 0..ids.len() {
                out.push(Row { id: ids[i].clone().unwrap(), ts: ts[i].unwrap(), md: md[i].clone().unwrap() });
            }
        }
        out
    }

    /// The locator's answer for every id: (ts, markdown).
    fn answers(&self) -> BTreeMap<String, (i64, String)> {
        let ids: BTreeSet<&str> = self.rows.iter().map(|r| r.id.as_str()).collect();
        let table = Table { metadata: &self.meta, location_prefix: PREFIX };
        ids.into_iter()
            .map(|id| {
                let mut cost = Cost::default();
                let found = block_on(locate(&self.files, &table, Wanted { ns: "docs", ty: "guide", id }, &At::Current, &mut cost))
                    .unwrap()
                    .unwrap_or_else(|| panic!("{id} not found"));
                let md = block_on(read_value(&self.files, &table, &found, "markdown", &mut cost)).unwrap().unwrap();
                (id.to_string(), (found.ts, md))
            })
            .collect()
    }

    /// Binpacks with `target` bytes; returns the compacted files' locations.
    fn compact(&mut self, target: i64) -> Vec<String> {
        let list = self.list();
        let manifests = self.manifests(&list);
        let live = live_files(&list, &manifests);
        let bins = plan_binpack(&live, &Binpack::new(target)).unwrap();
        let schema = self.meta.current_schema().unwrap().clone();
        let mut compacted = Vec::new();
        for (n, bin) in bins.into_iter().enumerate() {
            let inputs: Vec<&[u8]> = bin.files.iter().map(|&i| self.files.at(&live[i].data_file.file_path)).collect();
            let written = write_bin(&inputs, &schema, WriteCodec::Zstd).unwrap();
            let loc = compacted_location(&live[bin.files[0]].data_file.file_path, &format!("c{n}"));
            compacted.push(Compacted::new(bin, loc.clone(), &written, &live));
            self.files.put(&loc, written.bytes);
        }
        let locations = compacted.iter().map(|c| c.data_file.file_path.clone()).collect();
        let input = ReplaceInput {
            metadata: &self.meta,
            metadata_location: &self.location,
            list: &list,
            manifests: &manifests,
            snapshot_id: 9000 + self.version as i64,
            nonce: &format!("r{}", self.version),
            now_ms: 1000 * self.version as i64,
        };
        let commit = commit_replace(&input, &live, &compacted).unwrap();
        for (loc, bytes) in commit.objects {
            self.files.put(&loc, bytes);
        }
        self.set(commit.metadata);
        locations
    }
}

/// Six small commits and a large one among them; `a` has versions tied on `ts` across commits
/// (inside a run, and between the run and the large file), `b` twice within one commit, `c` has a
/// newer `ts` in an older commit.
fn table() -> Tbl {
    let mut t = Tbl::new();
    t.commit(&[row("a", 10, "a1"), row("b", 5, "b1"), row("c", 99, "c-old-commit-newer-ts")], 10_000);
    t.commit(&[row("a", 10, "a2"), row("b", 6, "b2"), row("b", 6, "b3")], 10_000);
    let big: Vec<Row> = (0..400).map(|i| row(&format!("big-{i:03}"), i, &format!("{}{i}", "x".repeat(300)))).collect();
    t.commit(&[big, vec![row("a", 10, "a3-big")]].concat(), 10_000);
    t.commit(&[row("a", 10, "a4"), row("c", 50, "c-newer-commit-older-ts")], 10_000);
    // Two row groups of two rows: d2 is the later row in file order and in its row group.
    t.commit(&[row("d", 1, "d1"), row("e", 1, "e1"), row("e", 2, "e2"), row("d", 1, "d2")], 2);
    t.commit(&[row("a", 10, "a6"), row("f", 7, "f1")], 10_000);
    t
}

#[test]
fn binpack_keeps_every_row_in_order_and_every_answer() {
    let mut t = table();
    let before_rows = t.scan();
    assert_eq!(before_rows, t.rows, "the test table scans in commit order");
    let before = t.answers();
    assert_eq!(before["a"].1, "a6");
    assert_eq!(before["b"].1, "b3");
    assert_eq!(before["c"].1, "c-old-commit-newer-ts");
    assert_eq!(before["d"].1, "d2");
    assert_eq!(before["e"].1, "e2");
    let sizes: Vec<i64> = t.live().iter().map(|f| f.data_file.file_size_in_bytes).collect();
    let big = sizes[2];
    assert!(sizes.iter().enumerate().all(|(i, s)| i == 2 || *s * 3 < big), "{sizes:?}");
    let total_before = t.meta.current_snapshot().unwrap().summary.properties["total-records"].clone();

    // Target: the small files are small, the large one is not; room for two small files a bin.
    let small = sizes.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, s)| *s).max().unwrap();
    let compacted = t.compact(small * 2 + 1);
    // Runs: commits 1–2 (before the large file) and 4–6 (after it): 4–5 fill one bin, 6 alone
    // joins it.
    assert_eq!(compacted.len(), 2, "{compacted:?}");
    assert!(compacted.iter().all(|l| l.starts_with(&format!("{LOCATION}/data/compacted-"))), "{compacted:?}");

    // The rows, file after file in the locator's order, are the rows committed, in order.
    assert_eq!(t.scan(), before_rows);
    // Every answer is the same.
    assert_eq!(t.answers(), before);

    // The replace snapshot, read back with the readers.
    let snap = t.meta.current_snapshot().unwrap().clone();
    assert_eq!(snap.summary.operation, Operation::Replace);
    let p = &snap.summary.properties;
    assert_eq!(p["total-records"], total_before);
    assert_eq!((p["added-data-files"].as_str(), p["deleted-data-files"].as_str(), p["total-data-files"].as_str()), ("2", "5", "3"));
    assert_eq!(p["added-records"], p["deleted-records"]);
    let live = t.live();
    assert_eq!(live.len(), 3);
    let seqs: Vec<(i64, i64)> = live.iter().map(|f| (f.sequence_number, f.file_sequence_number)).collect();
    // Compacted files carry their inputs' greatest data sequence number, the replace snapshot's
    // file sequence number; the large file keeps its own.
    assert_eq!(seqs, vec![(2, 7), (3, 3), (6, 7)]);
    let list = t.list();
    let manifests = t.manifests(&list);
    // The large file's manifest is kept as it was; the others are gone; the new one is last.
    assert_eq!(list.len(), 2);
    assert!(list[0].manifest_path.ends_with("/0003-m0.avro"));
    let last = &manifests[1];
    let statuses: Vec<EntryStatus> = last.entries.iter().map(|e| e.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == EntryStatus::Added).count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == EntryStatus::Deleted).count(), 5);
    assert!(last.entries.iter().all(|e| e.snapshot_id == snap.snapshot_id));
    assert_eq!(list[1].min_sequence_number, 2);
    assert_eq!((list[1].added_files_count, list[1].deleted_files_count), (Some(2), Some(5)));

    // A second binpack finds nothing new to pack: the compacted files are separated by the large one.
    let live = live_files(&list, &manifests);
    let bins = plan_binpack(&live, &Binpack::new(small * 2 + 1)).unwrap();
    assert!(bins.is_empty(), "{bins:?}");
}

#[test]
fn a_large_target_packs_every_file_into_one() {
    let mut t = table();
    let live = t.live();
    let target = live.iter().map(|f| f.data_file.file_size_in_bytes).max().unwrap() * 100;
    // Everything is small under a huge target: one run, one bin.
    let bins = plan_binpack(&live, &Binpack::new(target)).unwrap();
    assert_eq!(bins.len(), 1);
    assert_eq!(bins[0].files.len(), 6);
    assert_eq!(bins[0].sequence_number, 6);
    let before = t.answers();
    let rows = t.rows.clone();
    t.compact(target);
    assert_eq!(t.scan(), rows);
    assert_eq!(t.answers(), before);
    assert_eq!(t.live().len(), 1);
}

#[test]
fn expire_lists_exactly_the_files_only_expired_snapshots_reached() {
    let mut t = table();
    let before = t.answers();
    let sizes: Vec<i64> = t.live().iter().map(|f| f.data_file.file_size_in_bytes).collect();
    let small = sizes.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, s)| *s).max().unwrap();
    let replaced: BTreeSet<String> =
        t.live().iter().filter(|f| f.data_file.file_size_in_bytes <= small).map(|f| f.data_file.file_path.clone()).collect();
    assert_eq!(replaced.len(), 5);
    t.compact(small * 2 + 1);
    t.commit(&[row("a", 10, "a8"), row("g", 1, "g1")], 10_000);
    let prev = t.meta.clone();
    let all_lists: Vec<String> = prev.snapshots.iter().map(|s| s.manifest_list.clone()).collect();
    assert_eq!(all_lists.len(), 8);

    // Keep the last two: the replace snapshot and the append after it.
    let expiry = expire(&prev, Retain { last: 2, newer_than_ms: None }, &t.location, 99_000).unwrap();
    assert_eq!(expiry.expired.len(), 6);
    assert_eq!(expiry.kept.len(), 2);
    let m = &expiry.metadata;
    m.validate().unwrap();
    assert_eq!(m.snapshots.len(), 2);
    assert_eq!(m.current_snapshot_id, prev.current_snapshot_id);
    assert_eq!(m.refs, prev.refs);
    assert_eq!(m.last_sequence_number, prev.last_sequence_number);
    assert_eq!(m.snapshot_log.iter().map(|e| e.snapshot_id).collect::<Vec<_>>(), expiry.kept);
    assert_eq!(m.metadata_log.last().unwrap().metadata_file, t.location);

    // What each side reaches, read with the readers.
    let (kept_lists, expired_lists) = manifest_lists(&prev, &expiry);
    let reach = |lists: &BTreeMap<i64, String>, live_only: bool| {
        let mut r = Reach::default();
        for loc in lists.values() {
            let list = read_manifest_list(t.files.at(loc)).unwrap();
            r.add_list(loc, &list);
            for mf in &list {
                r.add_manifest(&read_manifest(t.files.at(&mf.manifest_path), mf).unwrap(), live_only);
            }
        }
        r
    };
    let kept = reach(&kept_lists, true);
    let gone: BTreeSet<String> = unreachable(&kept, &reach(&expired_lists, false)).into_iter().collect();

    // Exactly: the six expired manifest lists, the five rewritten files' manifests (the large
    // file's stays: the kept snapshots still list it), the five rewritten files.
    let mut want: BTreeSet<String> = replaced.clone();
    want.extend(expired_lists.values().cloned());
    for n in [1, 2, 4, 5, 6] {
        want.insert(format!("{LOCATION}/metadata/{n:04}-m0.avro"));
    }
    assert_eq!(gone, want);

    // Delete them and store the new metadata: every answer is the same, and every object the
    // kept snapshots reach is still there.
    for loc in &gone {
        t.files.0.remove(loc.strip_prefix(PREFIX).unwrap()).unwrap();
    }
    t.set(expiry.metadata);
    let mut want_answers = before;
    want_answers.insert("a".into(), (10, "a8".into()));
    want_answers.insert("g".into(), (1, "g1".into()));
    assert_eq!(t.answers(), want_answers);
    for loc in kept.manifest_lists.iter().chain(&kept.manifests).chain(&kept.files) {
        t.files.at(loc);
    }

    // Nothing more to expire with the same rule.
    assert!(expire(&t.meta, Retain { last: 2, newer_than_ms: None }, &t.location, 99_001).is_none());
    // Keeping by time keeps what is new enough.
    let by_time = expire(&t.meta, Retain { last: 1, newer_than_ms: Some(0) }, &t.location, 99_002);
    assert!(by_time.is_none());
    let latest = expire(&t.meta, Retain { last: 1, newer_than_ms: None }, &t.location, 99_003).unwrap();
    assert_eq!(latest.kept, vec![t.meta.current_snapshot_id.unwrap()]);
}

#[test]
fn delete_files_are_refused() {
    let t = table();
    let mut live = t.live();
    live[0].data_file.content = DataContent::PositionDeletes;
    assert!(plan_binpack(&live, &Binpack::new(1 << 30)).is_err());
}

/// A live file for the planner alone: `seq`, manifest slot `m`, `bytes`, day partition `day`.
fn planned(seq: i64, m: usize, bytes: i64, day: i32) -> LiveFile {
    let mut f = shared::iceberg::manifest::DataFile::new(
        format!("{LOCATION}/data/day={day}/{seq}-{m}.parquet"),
        shared::iceberg::manifest::FileFormat::Parquet,
        10,
        bytes,
    );
    f.partition = vec![("day".into(), shared::iceberg::manifest::PartitionValue::Int(day))];
    LiveFile { manifest: m, entry: 0, sequence_number: seq, file_sequence_number: seq, snapshot_id: seq, spec_id: 0, data_file: f }
}

#[test]
fn runs_stop_at_a_large_file_another_partition_or_a_commit_that_spans_two() {
    let opts = Binpack::new(1000); // small: below 750
    let files = |bins: &[iceberg_writer::rewrite::Bin], live: &[LiveFile]| -> Vec<Vec<i64>> {
        bins.iter().map(|b| b.files.iter().map(|&i| live[i].sequence_number).collect()).collect()
    };
    // Day 1: commits 1–3; commit 4 writes day 1 and day 2 (one commit, two files); day 2: 5–6;
    // commit 7 large; day 2: 8–9.
    let live = vec![
        planned(1, 0, 100, 1),
        planned(2, 1, 100, 1),
        planned(3, 2, 100, 1),
        planned(4, 3, 100, 1),
        planned(4, 3, 100, 2),
        planned(5, 4, 100, 2),
        planned(6, 5, 100, 2),
        planned(7, 6, 5000, 2),
        planned(8, 7, 100, 2),
        planned(9, 8, 100, 2),
    ];
    let bins = plan_binpack(&live, &opts).unwrap();
    assert_eq!(files(&bins, &live), vec![vec![1, 2, 3], vec![5, 6], vec![8, 9]]);
    assert_eq!(bins.iter().map(|b| b.sequence_number).collect::<Vec<_>>(), vec![3, 6, 9]);

    // Bins close at the target; a last bin of one file joins the one before it.
    let live: Vec<LiveFile> = (1..=7).map(|s| planned(s, s as usize, 400, 1)).collect();
    let bins = plan_binpack(&live, &opts).unwrap();
    assert_eq!(files(&bins, &live), vec![vec![1, 2, 3], vec![4, 5, 6, 7]]);
    assert_eq!(bins.iter().map(|b| b.sequence_number).collect::<Vec<_>>(), vec![3, 7]);

    // A lone small file is left alone.
    assert!(plan_binpack(&[planned(1, 0, 100, 1), planned(2, 1, 5000, 1)], &opts).unwrap().is_empty());
}
