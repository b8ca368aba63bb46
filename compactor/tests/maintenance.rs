//! The compactor follows the sink's own table maintenance (#16, `docs/design/serving-table.md`,
//! "Following the sink's maintenance"): a `replace` (the catalog's compaction) is passed without
//! reading its rows, an append compacted before it was absorbed is still found, deletes and
//! overwrites are applied as the locator applies them, and an expired watermark resumes from the
//! oldest snapshot left with the gap said in the root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;

use compactor::store::{block_on, Listed, MemStore, Object, StoreError};
use compactor::Store;
use support::{answers, read_serving, rec, Rec, Want, World, LOC};

const ROOTS: [&str; 3] = ["artifacts/preview", "artifacts/build", "artifacts/bulk"];

/// A store that records every key read.
struct Counting<'a> {
    inner: &'a MemStore,
    reads: RefCell<Vec<String>>,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a MemStore) -> Counting<'a> {
        Counting { inner, reads: RefCell::new(Vec::new()) }
    }
    fn data_reads(&self, under: &str) -> Vec<String> {
        self.reads.borrow().iter().filter(|k| k.starts_with(under) && k.ends_with(".parquet")).cloned().collect()
    }
}

impl Store for Counting<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
        self.reads.borrow_mut().push(key.to_string());
        self.inner.get(key, range).await
    }
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        self.inner.put_new(key, bytes).await
    }
    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
        self.inner.put_if(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        self.inner.delete(keys).await
    }
}

/// The naive map's answers without the winner's order: what each key serves (a compacted row
/// carries its file's data sequence number and its place in that file, not its first one; the
/// winner is the same, as the stand-in's compaction keeps the order).
fn served(m: &BTreeMap<Vec<u8>, Want>) -> BTreeMap<Vec<u8>, (bool, Option<String>)> {
    m.iter().map(|(k, w)| (k.clone(), (w.deleted, w.body.clone()))).collect()
}

fn batch(round: usize, ids: &[&str], ts: i64) -> Vec<Rec> {
    ids.iter().map(|id| rec(id, ts, &format!("{id}-r{round}"))).collect()
}

#[test]
fn a_replace_after_the_watermark_is_passed_without_reading_its_rows() {
    let mut w = World::new(&ROOTS);
    for round in 0..4 {
        w.commit(0, &batch(round, &["a", "b", "c"], 10 + round as i64), 10);
    }
    w.commit(1, &[rec("z", 1, "z1")], 10);
    w.run(&w.config());
    assert_eq!(answers(&w.store), w.expected());
    let compacted = w.compact(0, 1 << 30);
    assert_eq!(compacted.len(), 1, "the four small files in one compacted file");
    let (_, meta) = w.current(0).unwrap();
    let replace = meta.current_snapshot().unwrap().snapshot_id;

    let counting = Counting::new(&w.store);
    let r = block_on(compactor::run(&counting, &w.config())).unwrap();
    assert!(r.errors().is_empty(), "{r:?}");
    assert_eq!(counting.data_reads("artifacts/"), Vec::<String>::new(), "no source data file is read for a replace");
    assert_eq!((r.sources[0].rows, r.sources[0].snapshots), (0, 1), "{:?}", r.sources[0]);
    assert_eq!(r.sources[0].watermark, Some(replace), "the watermark moves past the replace");
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[0].snapshot_id, Some(replace));
    assert!(root.sources[0].error.is_none() && root.sources[0].gap.is_none());
    assert_eq!(answers(&w.store), w.expected(), "nothing changed");

    // Later appends are found, the compacted file is not read again.
    w.commit(0, &batch(9, &["a", "d"], 5), 10);
    let counting = Counting::new(&w.store);
    let r = block_on(compactor::run(&counting, &w.config())).unwrap();
    assert!(r.errors().is_empty(), "{r:?}");
    let reads = counting.data_reads("artifacts/");
    assert_eq!(reads.len(), 1, "only the new append's file: {reads:?}");
    assert!(!reads[0].contains("compacted-"), "{reads:?}");
    assert_eq!(answers(&w.store), w.expected());
    assert_eq!(w.run(&w.config()).version, None, "caught up");
}

#[test]
fn appends_compacted_before_they_were_absorbed_are_found_in_the_compacted_files() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &batch(0, &["a", "b"], 10), 10);
    w.run(&w.config());
    // Two appends the compactor has not seen, then the catalog compacts them (with the absorbed
    // file: the compacted file carries the greatest input number, above the watermark).
    w.commit(0, &batch(1, &["a", "c"], 10), 10);
    w.commit(0, &batch(2, &["b", "c"], 9), 10);
    w.commit(2, &[rec("a", 10, "a-bulk")], 10);
    w.compact(0, 1 << 30);
    let mut cfg = w.config();
    cfg.max_rows = 1; // the budget does not cut between the appends and the replace holding their rows
    let counting = Counting::new(&w.store);
    let r = block_on(compactor::run(&counting, &cfg)).unwrap();
    assert!(r.errors().is_empty(), "{r:?}");
    let reads = counting.data_reads("artifacts/preview/");
    assert!(reads.len() == 1 && reads[0].contains("compacted-"), "the compacted file holds the appends' rows: {reads:?}");
    assert_eq!(r.sources[0].snapshots, 3, "both appends and the replace: {:?}", r.sources[0]);
    assert_eq!(served(&answers(&w.store)), served(&w.expected()));
    // Ties on ts across the rounds and tables: the naive winners are the compacted ones.
    assert_eq!(answers(&w.store)[&shared::serving::key::key("docs", "guide", "a")].body.as_deref(), Some("a-r1"));
    w.run(&w.config());
    assert_eq!(w.run(&w.config()).version, None, "caught up");
    w.commit(0, &batch(3, &["c"], 11), 10);
    w.run(&w.config());
    assert_eq!(served(&answers(&w.store)), served(&w.expected()));
}

#[test]
fn an_expired_watermark_resumes_from_the_oldest_snapshot_left_and_says_so() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &batch(0, &["a", "b"], 10), 10);
    w.commit(0, &batch(1, &["a"], 11), 10);
    w.commit(1, &[rec("z", 1, "z1")], 10);
    w.run(&w.config());
    let (root, _) = read_serving(&w.store).unwrap();
    let watermark = root.sources[0].snapshot_id.unwrap();
    w.commit(0, &batch(2, &["b", "c"], 12), 10);
    w.commit(0, &batch(3, &["c", "d"], 13), 10);
    let expired = w.expire(0, 1);
    assert!(expired.contains(&watermark), "{expired:?}");
    let (_, meta) = w.current(0).unwrap();
    assert!(meta.snapshot_by_id(watermark).is_none());

    let counting = Counting::new(&w.store);
    let r = block_on(compactor::run(&counting, &w.config())).unwrap();
    assert!(r.errors().is_empty(), "not stalled: {r:?}");
    assert_eq!(r.sources[0].watermark, meta.current_snapshot().map(|s| s.snapshot_id));
    assert_eq!(r.sources[0].rows, 4, "the two files above the watermark's number");
    assert_eq!(counting.data_reads("artifacts/preview/").len(), 2, "files at or below the watermark are not read again");
    let (root, _) = read_serving(&w.store).unwrap();
    let gap = root.sources[0].gap.clone().expect("the root says history may have been missed");
    assert!(gap.contains(&watermark.to_string()) && gap.contains("expired"), "{gap}");
    assert!(root.sources[1].gap.is_none());
    assert_eq!(answers(&w.store), w.expected());
    // It stays said; the next commits are followed as usual.
    w.commit(0, &batch(4, &["a"], 14), 10);
    let r = w.run(&w.config());
    assert!(r.errors().is_empty(), "{r:?}");
    let (root, _) = read_serving(&w.store).unwrap();
    assert!(root.sources[0].gap.is_some());
    assert_eq!(answers(&w.store), w.expected());
    // A rebuild reads the source whole again: the gap is closed.
    let mut cfg = w.config();
    cfg.from_scratch = true;
    w.run(&cfg);
    let (root, _) = read_serving(&w.store).unwrap();
    assert!(root.sources[0].gap.is_none());
    assert_eq!(answers(&w.store), w.expected());
}

const FIXTURE_PREFIX: &str = "file:///tmp/artifacts-deletes-fixture/";

/// The locator's delete fixture (`tests/fixtures/iceberg/deletes`: position and equality deletes,
/// every snapshot an `overwrite`) in a store.
fn delete_fixture() -> (MemStore, serde_json::Value) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/deletes");
    let store = MemStore::new();
    fn walk(dir: &std::path::Path, base: &std::path::Path, store: &MemStore) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, store);
            } else {
                store.set(p.strip_prefix(base).unwrap().to_str().unwrap(), std::fs::read(&p).unwrap());
            }
        }
    }
    walk(&dir, &dir, &store);
    let expected: serde_json::Value = serde_json::from_slice(&store.bytes("expected.json").unwrap()).unwrap();
    (store, expected)
}

fn fixture_config(nonce: &str) -> compactor::Config {
    let mut cfg = compactor::Config::new("serving/artifacts", LOC, vec!["pos".into(), "eq".into()], 1_700_000_000_000, nonce.into());
    cfg.source_prefixes = vec![FIXTURE_PREFIX.into()];
    cfg.limits.file_rows = 3;
    cfg
}

/// The fixture's winners (the locator's answers, checked by shared's delete tests) as served.
fn fixture_winners(expected: &serde_json::Value) -> BTreeMap<Vec<u8>, (bool, Option<String>)> {
    expected["winners"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(id, w)| {
            let md = w.as_object()?["markdown"].as_str()?.to_string();
            Some((shared::serving::key::key("docs", "guide", id), (false, Some(md))))
        })
        .collect()
}

#[test]
fn deletes_and_overwrites_are_applied_as_the_locator_applies_them() {
    let (store, expected) = delete_fixture();
    // First only each table's first snapshot (every row still there), then the whole history:
    // position deletes, equality deletes, a position delete older than its data file.
    let mut full = BTreeMap::new();
    for t in ["pos", "eq"] {
        let key = format!("{t}/metadata/v1.metadata.json");
        let bytes = store.bytes(&key).unwrap();
        full.insert(t, bytes.clone());
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let first = doc["snapshots"].as_array().unwrap().iter().min_by_key(|s| s["sequence-number"].as_i64().unwrap()).unwrap().clone();
        doc["current-snapshot-id"] = first["snapshot-id"].clone();
        doc["refs"]["main"]["snapshot-id"] = first["snapshot-id"].clone();
        store.set(&key, doc.to_string().into_bytes());
        store.set(&format!("{t}/metadata/version-hint.text"), b"1".to_vec());
    }
    let r = block_on(compactor::run(&store, &fixture_config("a"))).unwrap();
    assert!(r.errors().is_empty(), "{r:?}");
    let early = served(&answers(&store));
    for id in ["x", "y", "k", "e-y", "e-m", "e-k"] {
        assert!(early.contains_key(&shared::serving::key::key("docs", "guide", id)), "{id} served before its delete");
    }
    for t in ["pos", "eq"] {
        store.set(&format!("{t}/metadata/v2.metadata.json"), full[t].clone());
        store.set(&format!("{t}/metadata/version-hint.text"), b"2".to_vec());
    }
    let r = block_on(compactor::run(&store, &fixture_config("b"))).unwrap();
    assert!(r.errors().is_empty(), "{r:?}");
    assert!(r.rebuilt, "deletes after the watermark: the run rebuilds");
    assert_eq!(served(&answers(&store)), fixture_winners(&expected), "exactly the locator's answers: deleted rows gone");
    let again = block_on(compactor::run(&store, &fixture_config("c"))).unwrap();
    assert_eq!(again.version, None, "the deletes are behind the watermark now");
    let (root, _) = read_serving(&store).unwrap();
    assert!(root.sources.iter().all(|s| s.error.is_none() && s.gap.is_none()));
}

#[test]
fn a_watermark_expired_right_after_a_run_leaves_no_gap() {
    let mut w = World::new(&ROOTS);
    for round in 0..3 {
        w.commit(0, &batch(round, &["a", "b"], 10 + round as i64), 10);
    }
    w.run(&w.config());
    // The catalog compacts and then expires every snapshot but the replace: the watermark is
    // gone, but the replace names it as its parent.
    w.compact(0, 1 << 30);
    w.expire(0, 1);
    let r = w.run(&w.config());
    assert!(r.errors().is_empty(), "{r:?}");
    let (root, _) = read_serving(&w.store).unwrap();
    assert!(root.sources[0].gap.is_none(), "{:?}", root.sources[0]);
    assert_eq!(r.sources[0].rows, 0, "nothing to read");
    assert_eq!(answers(&w.store), w.expected());
}
