//! The compactor over tables written as the stand-in writes them: interleaved commits and runs
//! equal a naive newest-per-key; a crash at every put leaves the previous version readable and the
//! next run finishes; from scratch gives the same answers; a bad source is an error for it alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use compactor::store::block_on;
use support::{answers, read_serving, rec, Faulty, Rec, Rng, World};

const ROOTS: [&str; 3] = ["artifacts/preview", "artifacts/build", "artifacts/bulk"];

fn random_batch(rng: &mut Rng, round: usize) -> Vec<Rec> {
    (0..1 + rng.below(12))
        .map(|i| {
            let id = format!("k{:02}", rng.below(30));
            // Few distinct ts values: ties on ts are decided by seq, source and pos.
            let mut r = rec(&id, 1_000 + rng.below(4) as i64, &format!("r{round}-{i}-{id}"));
            r.deleted = rng.below(8) == 0;
            if rng.below(5) == 0 {
                r.ns = "team".into();
            }
            r
        })
        .collect()
}

#[test]
fn interleaved_commits_and_runs_equal_a_naive_newest_per_key() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed * 0x9E37_79B9);
        let mut w = World::new(&ROOTS);
        let mut runs = 0;
        let mut steps = 0;
        for round in 0..14 {
            for _ in 0..1 + rng.below(3) {
                let src = rng.below(3) as usize;
                let batch = random_batch(&mut rng, round);
                w.commit(src, &batch, 1 + rng.below(5) as usize);
            }
            if rng.below(3) != 0 {
                let mut cfg = w.config();
                cfg.full = rng.below(4) == 0;
                let report = w.run(&cfg);
                assert!(report.errors().is_empty(), "{:?}", report.errors());
                runs += 1;
                steps += report.merge_steps;
                assert_eq!(answers(&w.store), w.expected(), "seed {seed} round {round}");
                if cfg.full {
                    let (root, _) = read_serving(&w.store).unwrap();
                    assert!(root.l0().is_empty(), "FULL leaves L0 empty");
                }
            }
        }
        let report = w.run(&w.config());
        assert!(report.errors().is_empty());
        assert_eq!(answers(&w.store), w.expected(), "seed {seed} at the end ({runs} runs)");
        assert!(steps > 0, "seed {seed}: no merge step was taken");
    }
}

#[test]
fn nothing_new_commits_nothing() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    let first = w.run(&w.config());
    assert_eq!(first.version, Some(1));
    assert_eq!(first.rows_absorbed(), 1);
    let again = w.run(&w.config());
    assert_eq!(again.version, None, "{again:?}");
    assert_eq!(again.files_written, 0);
}

#[test]
fn the_row_budget_absorbs_whole_snapshots_and_the_next_run_goes_on() {
    let mut w = World::new(&ROOTS);
    for n in 0..5 {
        w.commit(1, &(0..4).map(|i| rec(&format!("b{i}"), n, &format!("v{n}"))).collect::<Vec<_>>(), 10);
    }
    let mut cfg = w.config();
    cfg.max_rows = 6;
    let r = w.run(&cfg);
    assert_eq!(r.sources[1].snapshots, 1, "4 + 4 > 6: one snapshot");
    assert!(r.sources[1].behind);
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[1].metadata, None, "not caught up: serve reads the tail after the watermark");
    for _ in 0..4 {
        w.run(&cfg);
    }
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[1].metadata.as_deref(), Some("artifacts/build/metadata/v5.metadata.json"));
    assert_eq!(answers(&w.store), w.expected());
}

/// Runs the compactor with the `fail_at`-th put failing; `None` when it got that far without it.
fn crash_at(w: &World, fail_at: usize) -> Option<String> {
    let faulty = Faulty::new(&w.store, Some(fail_at));
    let out = block_on(compactor::run(&faulty, &w.config()));
    if faulty.puts.get() <= fail_at {
        return None;
    }
    Some(match out {
        Err(e) => e.to_string(),
        Ok(r) => format!("finished: {r:?}"),
    })
}

#[test]
fn a_crash_at_every_put_leaves_the_previous_version_and_the_next_run_finishes() {
    // A base: two runs so there is a previous version with L0 and L1 files.
    let mut base = World::new(&ROOTS);
    let mut rng = Rng(42);
    for round in 0..3 {
        let batch = random_batch(&mut rng, round);
        base.commit(round % 3, &batch, 3);
        base.run(&base.config());
    }
    let before = answers(&base.store);
    assert_eq!(before, base.expected());
    for round in 3..6 {
        let batch = random_batch(&mut rng, round);
        base.commit(round % 3, &batch, 3);
    }
    let after = base.expected();
    let mut crashes = 0;
    for fail_at in 0.. {
        let w = World { store: base.store.duplicate(), roots: base.roots.clone(), committed: base.committed.clone(), ..World::default() };
        let mut cfg = w.config();
        cfg.full = fail_at % 2 == 1;
        let Some(what) = crash_at(&w, fail_at) else { break };
        crashes += 1;
        // The pointer still names the previous version (the pointer move is the last put: when
        // it fails the new metadata exists and the next run helps it along), whole and readable.
        assert_eq!(answers(&w.store), before, "after a crash at put {fail_at} ({what})");
        let r = w.run(&cfg);
        assert!(r.errors().is_empty());
        assert_eq!(answers(&w.store), after, "the run after a crash at put {fail_at}");
    }
    assert!(crashes > 6, "only {crashes} puts");
    eprintln!("crashed at each of {crashes} puts");
}

#[test]
fn a_crash_after_the_metadata_is_helped_along() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.run(&w.config());
    w.commit(2, &[rec("a", 2, "a2"), rec("b", 1, "b1")], 10);
    // Count the puts of a clean run on a copy; the last one is the pointer.
    let copy = w.store.duplicate();
    let counting = Faulty::new(&copy, None);
    block_on(compactor::run(&counting, &w.config())).unwrap();
    let last = counting.puts.get() - 1;
    assert!(crash_at(&w, last).is_some());
    assert!(w.store.bytes("serving/artifacts/metadata/v2.serving.json").is_some(), "the root commits the version");
    assert_eq!(w.store.bytes("serving/artifacts/metadata/version-hint.text").unwrap(), b"1");
    let r = w.run(&w.config());
    assert_eq!(r.helped_along, Some(2));
    assert_eq!(answers(&w.store), w.expected());
}

#[test]
fn from_scratch_gives_the_same_answers() {
    let mut w = World::new(&ROOTS);
    let mut rng = Rng(7);
    for round in 0..8 {
        let batch = random_batch(&mut rng, round);
        w.commit(rng.below(3) as usize, &batch, 2);
        w.run(&w.config());
    }
    let incremental = answers(&w.store);
    assert_eq!(incremental, w.expected());
    let mut cfg = w.config();
    cfg.from_scratch = true;
    let r = w.run(&cfg);
    assert!(r.rebuilt);
    assert_eq!(r.rows_absorbed() as usize, w.committed.len());
    assert_eq!(answers(&w.store), incremental);
    // And it is the next version of the same table, not a new table.
    assert_eq!(r.version, Some(r.previous + 1));
}

#[test]
fn a_corrupt_manifest_or_a_missing_file_stops_that_source_only() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.commit(1, &[rec("b", 1, "b1")], 10);
    w.run(&w.config());
    let good = w.committed.clone();
    // Source 1's next commit has a corrupt manifest; source 0 goes on.
    w.commit(1, &[rec("b", 2, "b2"), rec("c", 1, "c1")], 10);
    w.commit(0, &[rec("a", 2, "a2")], 10);
    let manifest =
        w.store.keys().into_iter().filter(|k| k.starts_with("artifacts/build/metadata/") && k.ends_with("-m0.avro")).max().unwrap();
    let saved = w.store.bytes(&manifest).unwrap();
    w.store.set(&manifest, b"Obj\x01 not avro".to_vec());
    let r = w.run(&w.config());
    let err = r.sources[1].error.clone().expect("build has an error");
    assert!(err.contains(&manifest) && err.contains("corrupt"), "{err}");
    assert!(r.sources[0].error.is_none());
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[1].error.as_deref(), Some(err.as_str()), "the root says why");
    // Nothing lost: b1 still served, and a2 absorbed.
    let mut expected_rows: Vec<_> = good.clone();
    expected_rows.extend(w.committed.iter().filter(|(s, ..)| *s == 0).cloned());
    assert_eq!(answers(&w.store), w.expected_of(&expected_rows));
    // Repaired: the next run absorbs it and clears the error.
    w.store.set(&manifest, saved);
    let r = w.run(&w.config());
    assert!(r.errors().is_empty());
    assert_eq!(answers(&w.store), w.expected());

    // A missing data file: the same.
    w.commit(2, &[rec("d", 1, "d1")], 10);
    let data = w.store.keys().into_iter().filter(|k| k.starts_with("artifacts/bulk/data/")).max().unwrap();
    let saved = w.store.bytes(&data).unwrap();
    w.store.remove(&data);
    w.commit(0, &[rec("e", 1, "e1")], 10);
    let r = w.run(&w.config());
    assert!(r.sources[2].error.as_deref().unwrap().contains("missing"), "{:?}", r.sources[2]);
    assert!(answers(&w.store).contains_key(&shared::serving::key::key("docs", "guide", "e")));
    assert!(!answers(&w.store).contains_key(&shared::serving::key::key("docs", "guide", "d")));
    w.store.set(&data, saved);
    w.run(&w.config());
    assert_eq!(answers(&w.store), w.expected());
}

#[test]
fn an_overwrite_after_the_watermark_rebuilds_to_the_same_answers() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1")], 10);
    w.commit(1, &[rec("b", 1, "b1")], 10);
    w.run(&w.config());
    w.commit(0, &[rec("a", 2, "a2")], 10);
    // The current snapshot's operation rewritten as an overwrite (a table written by another
    // tool): the run rebuilds from every source, whole.
    let (n, meta) = w.current(0).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&meta.to_json()).unwrap();
    let snaps = doc["snapshots"].as_array_mut().unwrap();
    snaps.last_mut().unwrap()["summary"]["operation"] = "overwrite".into();
    w.store.set(&format!("artifacts/preview/metadata/v{n}.metadata.json"), doc.to_string().into_bytes());
    let r = w.run(&w.config());
    assert!(r.rebuilt && r.errors().is_empty(), "{r:?}");
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[0].snapshot_id, meta.current_snapshot().map(|s| s.snapshot_id), "the watermark is the current snapshot");
    assert_eq!(answers(&w.store), w.expected());
    assert_eq!(w.run(&w.config()).version, None, "nothing after the new watermark");
}

#[test]
fn the_filesystem_store_is_create_only_and_conditional_and_runs_the_compactor() {
    use compactor::store::{FsStore, MemStore};
    use compactor::Store;
    let dir = std::env::temp_dir().join(format!("compactor-fs-{}-{}", std::process::id(), line!()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fs = FsStore(dir.clone());
    assert!(block_on(fs.put_new("a/b.txt", b"1".to_vec())).unwrap());
    assert!(!block_on(fs.put_new("a/b.txt", b"2".to_vec())).unwrap(), "create-only");
    let got = block_on(fs.get("a/b.txt", None)).unwrap();
    assert_eq!(got.bytes, b"1");
    assert!(!block_on(fs.put_if("a/b.txt", b"3".to_vec(), Some("not-the-etag"))).unwrap());
    assert!(block_on(fs.put_if("a/b.txt", b"3".to_vec(), Some(&got.etag))).unwrap());
    assert!(!block_on(fs.put_if("a/b.txt", b"4".to_vec(), Some(&got.etag))).unwrap(), "the etag moved with the content");
    assert_eq!(block_on(fs.get("a/b.txt", Some((0, 1)))).unwrap().bytes, b"3");
    assert!(matches!(block_on(fs.get("a/none", None)), Err(compactor::store::StoreError::NotFound)));
    assert_eq!(compactor::store::keys_of(block_on(fs.list("a/")).unwrap().unwrap()), vec!["a/b.txt".to_string()]);
    assert!(block_on(fs.get("../x", None)).is_err(), "no key leaves the directory");

    // Sources written to the directory, compacted there (as `make compact` does), read back.
    let mut w = World::new(&ROOTS);
    let mut rng = Rng(99);
    for round in 0..6 {
        let batch = random_batch(&mut rng, round);
        w.commit(round % 3, &batch, 4);
    }
    for k in w.store.keys() {
        let path = dir.join(&k);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, w.store.bytes(&k).unwrap()).unwrap();
    }
    let mut cfg = w.config();
    let r = block_on(compactor::run(&fs, &cfg)).unwrap();
    assert_eq!(r.version, Some(1));
    cfg.full = true;
    cfg.nonce = "f".into();
    block_on(compactor::run(&fs, &cfg)).unwrap();
    let back = MemStore::new();
    for k in compactor::store::keys_of(block_on(fs.list("")).unwrap().unwrap()) {
        back.set(&k, std::fs::read(dir.join(&k)).unwrap());
    }
    assert_eq!(answers(&back), w.expected());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store on which another compactor commits first: just before this run's first metadata put.
struct Racing<'a> {
    inner: &'a compactor::store::MemStore,
    rival: compactor::Config,
    raced: std::cell::Cell<bool>,
}

impl compactor::Store for Racing<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<compactor::store::Object, compactor::store::StoreError> {
        self.inner.get(key, range).await
    }
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, compactor::store::StoreError> {
        if key.starts_with("serving/") && key.ends_with(".metadata.json") && !self.raced.replace(true) {
            let report = block_on(compactor::run(self.inner, &self.rival)).unwrap();
            assert!(report.version.is_some(), "the rival commits");
        }
        self.inner.put_new(key, bytes).await
    }
    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, compactor::store::StoreError> {
        self.inner.put_if(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str) -> Result<Option<Vec<compactor::store::Listed>>, compactor::store::StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), compactor::store::StoreError> {
        self.inner.delete(keys).await
    }
}

#[test]
fn a_lost_race_for_the_next_version_restarts_from_it() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1"), rec("b", 1, "b1")], 10);
    w.run(&w.config());
    w.commit(1, &[rec("a", 2, "a2")], 10);
    w.commit(2, &[rec("c", 1, "c1")], 10);
    let racing = Racing { inner: &w.store, rival: w.config(), raced: std::cell::Cell::new(false) };
    let report = block_on(compactor::run(&racing, &w.config())).unwrap();
    assert!(report.restarted, "{report:?}");
    assert_eq!(report.previous, 2, "the restart starts from the rival's version");
    assert_eq!(report.version, None, "the rival absorbed everything: nothing left to commit");
    assert_eq!(answers(&w.store), w.expected());
}

#[test]
fn catalog_sources_follow_the_metadata_the_caller_resolved() {
    let mut w = World::new(&["artifacts/preview", "artifacts/build"]);
    w.commit(0, &[rec("a", 1, "a1"), rec("b", 1, "b1")], 10);
    w.commit(1, &[rec("a", 2, "a2")], 10);
    let ids = vec!["catalog:preview".to_string(), "catalog:artifacts.build".to_string()];
    let resolve = |w: &World, cfg: &mut compactor::Config| {
        // As the compact worker fills it from the REST catalog: an absolute location, or a key.
        let (n0, _) = w.current(0).unwrap();
        let (n1, _) = w.current(1).unwrap();
        cfg.catalog.insert(ids[0].clone(), format!("{}artifacts/preview/metadata/v{n0}.metadata.json", support::LOC));
        cfg.catalog.insert(ids[1].clone(), format!("artifacts/build/metadata/v{n1}.metadata.json"));
    };
    // Unresolved: an error for that source, the other goes on.
    let mut cfg = w.config();
    cfg.sources = ids.clone();
    cfg.catalog.insert(ids[1].clone(), "artifacts/build/metadata/v1.metadata.json".into());
    let r = w.run(&cfg);
    assert!(r.sources[0].error.as_deref().unwrap().contains("catalog table needs its current metadata location"), "{r:?}");
    assert!(r.sources[1].error.is_none());
    let mut cfg = w.config();
    cfg.sources = ids.clone();
    resolve(&w, &mut cfg);
    let r = w.run(&cfg);
    assert!(r.errors().is_empty(), "{r:?}");
    let (root, _) = read_serving(&w.store).unwrap();
    assert_eq!(root.sources[0].id, "catalog:preview");
    assert_eq!(root.sources[0].mode.as_deref(), Some("preview"));
    assert_eq!(root.sources[1].mode.as_deref(), Some("build"));
    assert_eq!(
        root.sources[0].metadata.as_deref(),
        Some("artifacts/preview/metadata/v1.metadata.json"),
        "the bucket key, as serve compares it"
    );
    assert_eq!(answers(&w.store), w.expected());
    // The catalog moves on: the next run follows the newly resolved metadata.
    w.commit(0, &[rec("b", 3, "b3")], 10);
    let mut cfg = w.config();
    cfg.sources = ids.clone();
    resolve(&w, &mut cfg);
    let r = w.run(&cfg);
    assert_eq!(r.sources[0].rows, 1);
    assert_eq!(answers(&w.store), w.expected());
}

/// The ledger's `covered` (#17) needs, per key a run absorbed, the winning row's place, and the
/// sources' watermarks (a pending copy at or below that place is trimmed).
#[test]
fn the_report_names_each_absorbed_keys_winning_place_and_the_watermarks() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 5, "a5"), rec("a", 7, "a7"), rec("b", 1, "b1")], 10);
    w.commit(1, &[rec("a", 6, "a6")], 10);
    let r = w.run(&w.config());
    let mut got: Vec<(u32, String, i64)> = r.absorbed.iter().map(|a| (a.source, a.key.clone(), a.ts)).collect();
    got.sort();
    let key = |id: &str| format!("{}/{}/{id}", rec(id, 0, "").ns, rec(id, 0, "").ty);
    assert_eq!(got, vec![(0, key("a"), 7), (0, key("b"), 1)], "the newest row per key, its source");
    // The ledger's order of writes: the dedupe key of the row's hash, visibility, tombstone, owner.
    let a = r.absorbed.iter().find(|x| x.ts == 7).unwrap();
    assert_eq!(a.dedupe, shared::record::dedupe_key_of("h-a7", "public", false, "acme", "alice"));
    let marks: Vec<(&str, Option<&str>, i64)> = r.watermarks.iter().map(|m| (m.source.as_str(), m.mode.as_deref(), m.seq)).collect();
    assert_eq!(marks, vec![("artifacts/preview", Some("preview"), 1), ("artifacts/build", Some("build"), 1)], "sources with a snapshot");
    // Nothing new: nothing absorbed.
    assert!(w.run(&w.config()).absorbed.is_empty());
}
