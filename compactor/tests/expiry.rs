//! The serving table's own expiry (#16, `docs/design/serving-table.md`, "Expiry"): a version stays
//! readable while it is current and for the grace period after; then its snapshot leaves the
//! metadata and its files not referenced by a retained version are deleted — and so are the
//! orphans of crashed runs, once older than the grace period.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use compactor::store::block_on;
use shared::iceberg::manifest::read_manifest_list;
use shared::iceberg::table_metadata::TableMetadata;
use shared::serving::root::Root;
use support::{answers, answers_of, read_serving, read_version, rec, Faulty, Rng, World, LOC};

const ROOTS: [&str; 3] = ["artifacts/preview", "artifacts/build", "artifacts/bulk"];
const MIN: i64 = 60_000;
const GRACE: i64 = compactor::GRACE_MS;

/// Every object version `v` needs to be read: root, metadata, manifest list, manifests, data files.
fn referenced(w: &World, v: u64) -> BTreeSet<String> {
    let rk = format!("serving/artifacts/metadata/v{v}.serving.json");
    let root = Root::parse(&w.store.bytes(&rk).unwrap()).unwrap();
    let meta = TableMetadata::from_json(&w.store.bytes(&root.metadata).unwrap()).unwrap();
    let list_key = meta.current_snapshot().unwrap().manifest_list.strip_prefix(LOC).unwrap().to_string();
    let mut out: BTreeSet<String> = [rk, root.metadata.clone(), list_key.clone()].into();
    for mf in read_manifest_list(&w.store.bytes(&list_key).unwrap()).unwrap() {
        out.insert(mf.manifest_path.strip_prefix(LOC).unwrap().to_string());
    }
    out.extend(root.files.iter().map(|f| f.key.clone()));
    out
}

fn serving_objects(w: &World) -> Vec<String> {
    w.store.keys().into_iter().filter(|k| k.starts_with("serving/artifacts/")).collect()
}

#[test]
fn versions_within_grace_stay_readable_and_older_ones_are_expired_and_deleted() {
    let mut w = World::new(&ROOTS);
    // A version a minute for six minutes.
    for n in 0..6 {
        w.commit(n % 3, &[rec(&format!("k{n}"), n as i64, "x"), rec("same", n as i64, &format!("v{n}"))], 10);
        let r = w.run(&w.config());
        assert_eq!(r.version, Some(n as u64 + 1));
        assert_eq!((r.expired_versions, r.deleted_files), (0, 0), "all within grace: {r:?}");
        w.advance(MIN);
    }
    // Every version is readable: within grace of when it stopped being current.
    let held: Vec<_> = (1..=6).map(|v| (v, read_version(&w.store, "serving/artifacts", v))).collect();
    // Past the grace period of versions 1–5 (5 stopped being current when 6 was committed).
    w.advance(GRACE);
    w.commit(0, &[rec("late", 9, "late")], 10);
    let r = w.run(&w.config());
    assert_eq!(r.version, Some(7));
    assert_eq!(r.expired_versions, 5, "{r:?}");
    assert!(r.deleted_files > 0);
    // Versions 6 (current until now) and 7 remain, whole; 1–5 are gone.
    for v in 1..=5 {
        assert!(w.store.bytes(&format!("serving/artifacts/metadata/v{v}.serving.json")).is_none(), "v{v}'s root");
    }
    let (six, rows6) = read_version(&w.store, "serving/artifacts", 6);
    assert_eq!(answers_of(&six, &rows6), answers_of(&held[5].1 .0, &held[5].1 .1));
    assert_eq!(answers(&w.store), w.expected());
    // Nothing but what versions 6 and 7 reference, and the pointer.
    let mut keep = referenced(&w, 6);
    keep.extend(referenced(&w, 7));
    keep.insert("serving/artifacts/metadata/version-hint.text".into());
    let left: BTreeSet<String> = serving_objects(&w).into_iter().collect();
    assert_eq!(left, keep, "every unreferenced object older than grace is deleted");
    // The metadata keeps the retained versions' snapshots only.
    let (root, _) = read_serving(&w.store).unwrap();
    let meta = TableMetadata::from_json(&w.store.bytes(&root.metadata).unwrap()).unwrap();
    let versions: Vec<&str> = meta.snapshots.iter().map(|s| s.summary.properties["serving.version"].as_str()).collect();
    assert_eq!(versions, ["6", "7"]);
    assert_eq!(meta.snapshot_log.len(), 2);
    assert!(meta.metadata_log.iter().all(|e| e.metadata_file.contains("/v6-")), "{:?}", meta.metadata_log);
}

#[test]
fn a_reader_holding_an_old_root_reads_all_its_files_until_grace_has_passed() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed * 31_337);
        let mut w = World::new(&ROOTS);
        // When each version stopped being current (the next one's commit).
        let mut until: BTreeMap<u64, i64> = BTreeMap::new();
        let mut current = 0;
        for round in 0..40 {
            w.advance(rng.below(4 * MIN as u64) as i64);
            for _ in 0..rng.below(3) {
                let id = format!("k{:02}", rng.below(20));
                w.commit(rng.below(3) as usize, &[rec(&id, rng.below(5) as i64, &format!("r{round}"))], 2);
            }
            let mut cfg = w.config();
            cfg.full = rng.below(5) == 0;
            let r = w.run(&cfg);
            if let Some(v) = r.version {
                if current > 0 {
                    until.insert(current, w.store.now());
                }
                current = v;
            }
            assert_eq!(answers(&w.store), w.expected(), "seed {seed} round {round}");
            // A reader that read the pointer while v was current may hold v for less than the
            // grace period after: every object of v is still there.
            for (&v, &t) in &until {
                if t + GRACE > w.store.now() {
                    read_version(&w.store, "serving/artifacts", v);
                }
            }
            // After a commit, what is left is referenced by a version still there, or younger
            // than grace, or a data file its own retained version's run wrote and merged away at
            // once (kept while that version is: only the oldest, previous and new roots are read).
            if r.version.is_none() {
                continue;
            }
            let mut keep: BTreeSet<String> = ["serving/artifacts/metadata/version-hint.text".to_string()].into();
            let mut retained = BTreeSet::new();
            for v in 1..=current {
                if w.store.bytes(&format!("serving/artifacts/metadata/v{v}.serving.json")).is_some() {
                    keep.extend(referenced(&w, v));
                    retained.insert(v.to_string());
                }
            }
            for k in serving_objects(&w) {
                let age = w.store.now() - w.store.uploaded(&k).unwrap();
                let own_version =
                    k.strip_prefix("serving/artifacts/data/L").is_some_and(|r| retained.contains(r.split('-').nth(1).unwrap()));
                assert!(keep.contains(&k) || age < GRACE || own_version, "seed {seed} round {round}: {k} is {age} ms old and unreferenced");
            }
        }
        // Expiry keeps the table bounded: a version per commit within grace (plus two).
        let roots = serving_objects(&w).into_iter().filter(|k| k.ends_with(".serving.json")).count();
        assert!(roots <= 2 + (GRACE / MIN) as usize * 2, "seed {seed}: {roots} roots left");
    }
}

#[test]
fn orphans_of_a_crashed_run_are_deleted_only_after_grace() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.run(&w.config());
    w.commit(1, &[rec("b", 1, "b1")], 10);
    // A run crashes at its root put (its data files, manifest, list and metadata are written).
    let copy = w.store.duplicate();
    let counting = Faulty::new(&copy, None);
    block_on(compactor::run(&counting, &w.config())).unwrap();
    let root_put = counting.puts.get() - 2;
    let before: BTreeSet<String> = serving_objects(&w).into_iter().collect();
    let faulty = Faulty::new(&w.store, Some(root_put));
    assert!(block_on(compactor::run(&faulty, &w.config())).is_err());
    let orphans: BTreeSet<String> = serving_objects(&w).into_iter().filter(|k| !before.contains(k)).collect();
    assert!(orphans.len() >= 4, "{orphans:?}");
    assert!(orphans.iter().all(|k| !k.ends_with(".serving.json")), "no root: the crashed run committed nothing");
    // The next run commits; the orphans are young: kept.
    w.advance(MIN);
    let r = w.run(&w.config());
    assert_eq!(r.version, Some(2));
    assert!(orphans.iter().all(|k| w.store.bytes(k).is_some()), "orphans within grace are kept");
    assert_eq!(answers(&w.store), w.expected());
    // After grace, the next commit deletes them (and version 1, expired).
    w.advance(GRACE);
    w.commit(2, &[rec("c", 1, "c1")], 10);
    let r = w.run(&w.config());
    assert_eq!(r.version, Some(3));
    assert!(orphans.iter().all(|k| w.store.bytes(k).is_none()), "orphans past grace are deleted: {r:?}");
    assert_eq!(answers(&w.store), w.expected());
    read_version(&w.store, "serving/artifacts", 2);
}

#[test]
fn files_of_a_run_still_going_are_never_deleted() {
    // Version 2's run is slow: it wrote its files long ago, before grace, and commits after
    // another run (which committed version 2 and collected). Its files name version 3 or more
    // than the collector's version? No: a run still going aims past the collector's version, so
    // names carry a greater version and are left alone. Simulated: files named for version 9.
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.run(&w.config());
    let ahead = ["serving/artifacts/data/L0-9-abc-0.parquet", "serving/artifacts/metadata/v9-abc.metadata.json"];
    for k in ahead {
        w.store.set(k, b"x".to_vec());
    }
    let foreign = "serving/artifacts/metadata/notes.txt";
    w.store.set(foreign, b"x".to_vec());
    w.advance(2 * GRACE);
    w.commit(0, &[rec("b", 1, "b1")], 10);
    let r = w.run(&w.config());
    assert_eq!(r.version, Some(2));
    for k in ahead.iter().chain([&foreign]) {
        assert!(w.store.bytes(k).is_some(), "{k} was deleted");
    }
}

/// A store whose deletes fail.
struct NoDelete<'a>(&'a compactor::store::MemStore);

impl compactor::Store for NoDelete<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<compactor::store::Object, compactor::store::StoreError> {
        self.0.get(key, range).await
    }
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, compactor::store::StoreError> {
        self.0.put_new(key, bytes).await
    }
    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, compactor::store::StoreError> {
        self.0.put_if(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str) -> Result<Option<Vec<compactor::store::Listed>>, compactor::store::StoreError> {
        self.0.list(prefix).await
    }
    async fn delete(&self, _: &[String]) -> Result<(), compactor::store::StoreError> {
        Err(compactor::store::StoreError::Failed("injected delete failure".into()))
    }
}

#[test]
fn a_failed_delete_does_not_fail_the_committed_run() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.run(&w.config());
    for n in 0..3 {
        w.advance(GRACE);
        w.commit(1, &[rec("b", n, "b")], 10);
        w.run(&w.config());
    }
    w.advance(GRACE);
    w.commit(2, &[rec("c", 1, "c1")], 10);
    let r = block_on(compactor::run(&NoDelete(&w.store), &w.config())).unwrap();
    assert_eq!(r.version, Some(5));
    assert!(r.expiry_error.as_deref().unwrap().contains("injected"), "{r:?}");
    assert_eq!(answers(&w.store), w.expected());
    // The next commit collects.
    w.advance(GRACE);
    w.commit(2, &[rec("d", 1, "d1")], 10);
    let r = w.run(&w.config());
    assert!(r.deleted_files > 0 && r.expiry_error.is_none(), "{r:?}");
}
