//! The planner against a naive newest-per-key map: random commit sequences driven through an
//! in-memory model of the files (absorb runs, merge steps, full merges), every key looked up
//! through `Root::candidates` after every step.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::serving::bloom::Bloom;
use crate::serving::key::key;

use crate::test_rng::Rng;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    key: Vec<u8>,
    order: Order,
    deleted: bool,
}

impl Keyed for Row {
    fn key(&self) -> &[u8] {
        &self.key
    }
    fn order(&self) -> Order {
        self.order
    }
}

/// The serving table's files in memory, and the root naming them.
struct Model {
    root: Root,
    files: BTreeMap<String, Vec<Row>>,
    limits: Limits,
}

const TABLE: &str = "serving/artifacts";

impl Model {
    fn entry(&self, key: String, level: u8, rows: &[Row]) -> FileEntry {
        FileEntry {
            key,
            size: 100,
            level,
            rows: rows.len() as u64,
            min: rows.first().unwrap().key.clone(),
            max: rows.last().unwrap().key.clone(),
            index_offset: 50,
            merged_through: None,
            bloom: (level == 0).then(|| Bloom::from_keys(rows.iter().map(|r| r.key.as_slice())).to_bytes()),
        }
    }

    /// One compactor run: absorb `rows` as an L0 run, then merge as the compactor would.
    fn run(&mut self, rows: Vec<Row>, full: bool, check: &dyn Fn(&Model)) {
        let version = self.root.version + 1;
        let mut n = 0;
        let mut l0 = Vec::new();
        for file in split_files(newest_per_key(rows), &self.limits, |_| 10) {
            let name = file_key(TABLE, 0, version, n);
            n += 1;
            l0.push(self.entry(name.clone(), 0, &file));
            self.files.insert(name, file);
        }
        let metadata = format!("{TABLE}/metadata/v{version}.metadata.json");
        self.root = apply_run(&self.root, l0, self.root.sources.clone(), version, metadata);
        check(self);
        let mut steps = 0;
        while keep_merging(&self.root, &self.limits, steps, full) {
            let step = next_merge(&self.root, &self.limits, full).expect("a step while merging");
            assert!(step.l1_inputs.len() <= self.limits.merge_files, "{step:?}");
            let mut input = Vec::new();
            for k in &step.l1_inputs {
                input.extend(self.files.get(k).unwrap().iter().cloned());
            }
            for k in &step.l0_inputs {
                input.extend(self.files.get(k).unwrap().iter().filter(|r| step.contains(&r.key)).cloned());
            }
            assert!(input.iter().all(|r| step.contains(&r.key)), "an L1 input outside the step's range: {step:?}");
            let mut outputs = Vec::new();
            for file in split_files(newest_per_key(input), &self.limits, |_| 10) {
                let name = file_key(TABLE, 1, version, n);
                n += 1;
                outputs.push(self.entry(name.clone(), 1, &file));
                self.files.insert(name, file);
            }
            self.root = apply_merge(&self.root, &step, outputs);
            steps += 1;
            assert!(steps < 10_000, "merging does not end");
            check(self);
        }
        // The root is what the compactor writes and serve parses.
        assert_eq!(Root::parse(self.root.to_json().as_bytes()).as_ref(), Ok(&self.root));
    }

    /// The newest row of `k` as serve finds it: candidates from the root, the max order.
    fn lookup(&self, k: &[u8]) -> Option<Row> {
        self.root
            .candidates(k)
            .iter()
            .filter_map(|f| self.files.get(&f.key).unwrap().iter().find(|r| r.key == k).cloned())
            .max_by_key(|r| r.order)
    }
}

fn keys(space: u64) -> Vec<Vec<u8>> {
    (0..space).map(|i| key(["a", "b"][(i % 2) as usize], ["doc", "x"][(i / 2 % 2) as usize], &format!("id{}", i / 4))).collect()
}

/// One random history: several sources commit batches (colliding keys, tied and out-of-order
/// `ts`, tombstones); compactor runs absorb what was committed so far, sometimes with `full`.
fn history(seed: u64, limits: Limits) {
    let mut rng = Rng(seed);
    let space = 4 + rng.below(60);
    let all_keys = keys(space);
    let sources = 1 + rng.below(3) as u32;
    let mut seqs = vec![0i64; sources as usize];
    let mut model = Model { root: Root::empty(String::from("m"), Vec::new()), files: BTreeMap::new(), limits };
    let mut naive: BTreeMap<Vec<u8>, Row> = BTreeMap::new();
    let check = |m: &Model, naive: &BTreeMap<Vec<u8>, Row>| {
        for k in &all_keys {
            assert_eq!(m.lookup(k).as_ref(), naive.get(k), "seed {seed}: key {:?}, root {:#?}", String::from_utf8_lossy(k), m.root);
        }
    };
    for _ in 0..1 + rng.below(25) {
        // Commits since the last run.
        let mut pending = Vec::new();
        for _ in 0..rng.below(4) {
            let source = rng.below(u64::from(sources)) as u32;
            let seq = &mut seqs[source as usize];
            *seq += 1;
            for pos in 0..1 + rng.below(12) {
                let k = all_keys[rng.below(space) as usize].clone();
                let row = Row { key: k, order: Order { ts: rng.below(6) as i64, seq: *seq, source, pos }, deleted: rng.chance(20) };
                pending.push(row);
            }
        }
        for r in &pending {
            if naive.get(&r.key).is_none_or(|b| r.order > b.order) {
                naive.insert(r.key.clone(), r.clone());
            }
        }
        let full = rng.chance(10);
        let snapshot = naive.clone();
        model.run(pending, full, &|m| check(m, &snapshot));
        let l0 = l0_runs(&model.root);
        assert!(l0 < model.limits.l0_max.max(model.limits.l0_trigger), "seed {seed}: {l0} L0 runs after a run");
        for k in &all_keys {
            assert!(model.root.candidates(k).len() <= 1 + model.limits.l0_max, "seed {seed}");
        }
        if full {
            assert_eq!(l0, 0, "seed {seed}: FULL leaves no L0");
            let l1_rows: usize = model.root.files.iter().map(|f| model.files[&f.key].len()).sum();
            assert_eq!(l1_rows, naive.len(), "seed {seed}: FULL leaves one row per key");
        }
    }
}

#[test]
fn random_histories_equal_a_naive_newest_per_key_map() {
    for seed in 1..400 {
        let mut rng = Rng(seed * 7919);
        let limits = Limits {
            file_rows: 1 + rng.below(6) as usize,
            file_bytes: if rng.chance(30) { 25 } else { u64::MAX },
            l0_trigger: 1 + rng.below(3) as usize,
            l0_max: 2 + rng.below(4) as usize,
            merge_files: 1 + rng.below(3) as usize,
            merge_steps: 1 + rng.below(4) as usize,
        };
        history(seed, limits);
    }
}

#[test]
fn default_limits_are_the_designs() {
    assert_eq!(
        Limits::default(),
        Limits { file_rows: 100_000, file_bytes: 32 << 20, l0_trigger: 2, l0_max: 8, merge_files: 4, merge_steps: 8 }
    );
    history(12345, Limits::default());
}

fn row(k: &str, ts: i64, pos: u64) -> Row {
    Row { key: key("n", "t", k), order: Order { ts, seq: 1, source: 0, pos }, deleted: false }
}

#[test]
fn newest_per_key_keeps_the_max_order_per_key_sorted() {
    let rows = vec![row("b", 1, 0), row("a", 1, 1), row("b", 2, 2), row("a", 1, 3), row("c", 0, 4)];
    let out = newest_per_key(rows);
    assert_eq!(out, vec![row("a", 1, 3), row("b", 2, 2), row("c", 0, 4)]);
}

#[test]
fn split_files_by_rows_and_bytes() {
    let rows: Vec<u64> = (0..10).collect();
    let limits = Limits { file_rows: 4, file_bytes: u64::MAX, ..Limits::default() };
    assert_eq!(split_files(rows.clone(), &limits, |_| 1), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    let limits = Limits { file_rows: 100, file_bytes: 10, ..Limits::default() };
    assert_eq!(split_files(rows.clone(), &limits, |r| if *r == 2 { 50 } else { 3 }), vec![vec![0, 1, 2], vec![3, 4, 5, 6], vec![7, 8, 9]]);
    assert!(split_files(Vec::<u64>::new(), &limits, |_| 1).is_empty());
}

#[test]
fn names_and_runs() {
    assert_eq!(file_key("serving/artifacts/", 0, 7, 2), "serving/artifacts/data/L0-7-2.parquet");
    assert_eq!(run_of("serving/artifacts/data/L0-7-2.parquet"), "L0-7");
    assert_eq!(run_of("serving/artifacts/data/L0-7-12.parquet"), "L0-7");
    assert_eq!(run_of("serving/artifacts/data/L0-7-3fa9c1-12.parquet"), "L0-7-3fa9c1", "a run nonce in the name");
    assert_eq!(run_of("other.parquet"), "other.parquet");
}

#[test]
fn a_step_never_takes_more_than_merge_files_l1_files_and_always_moves() {
    let limits = Limits { file_rows: 2, merge_files: 2, l0_trigger: 1, ..Limits::default() };
    let mut model = Model { root: Root::empty(String::from("m"), Vec::new()), files: BTreeMap::new(), limits };
    let rows: Vec<Row> = (0..20).map(|i| row(&format!("k{i:02}"), 1, i)).collect();
    model.run(rows, true, &|_| {});
    assert_eq!(model.root.l1().len(), 10);
    model.run(vec![row("k05", 2, 0), row("k15", 2, 1)], false, &|_| {});
    let step = next_merge(&model.root, &limits, true);
    assert!(step.is_none_or(|s| s.l1_inputs.len() <= 2));
}
