//! Several compactors at once (#16): two runs over one serving table interleaved at every store
//! call — one wins each version, the loser starts over from the winner's root and loses no row,
//! every root names its own run's metadata, no version is skipped; and a serving table split by
//! key range, one run per range at once, equals one unsplit table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use compactor::store::{block_on, Listed, MemStore, Object, StoreError};
use compactor::{CompactError, Config, Report, Store};
use shared::serving::split;
use support::{answers, answers_at, read_serving, read_serving_at, read_version, rec, Rec, Rng, World};

const ROOTS: [&str; 3] = ["artifacts/preview", "artifacts/build", "artifacts/bulk"];

/// Answers `Pending` a few times (waking itself), then `Ready`.
struct Pause(u64);

impl Future for Pause {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A store whose every call is `Pending` at least once (1–3 times, as its seed says) before it
/// answers: two runs driven together interleave at every call.
struct Yielding<'a> {
    inner: &'a MemStore,
    rng: RefCell<Rng>,
    calls: Cell<u64>,
}

impl<'a> Yielding<'a> {
    fn new(inner: &'a MemStore, seed: u64) -> Yielding<'a> {
        Yielding { inner, rng: RefCell::new(Rng(seed | 1)), calls: Cell::new(0) }
    }
    fn pause(&self) -> Pause {
        self.calls.set(self.calls.get() + 1);
        Pause(1 + self.rng.borrow_mut().below(3))
    }
}

impl Store for Yielding<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
        self.pause().await;
        self.inner.get(key, range).await
    }
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        self.pause().await;
        self.inner.put_new(key, bytes).await
    }
    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
        self.pause().await;
        self.inner.put_if(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
        self.pause().await;
        self.inner.list(prefix).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        self.pause().await;
        self.inner.delete(keys).await
    }
}

type Run = Result<Report, CompactError>;

/// Runs `a` and `b` together on this thread, polling them in an order `rng` picks each time.
fn join(a: impl Future<Output = Run>, b: impl Future<Output = Run>, rng: &mut Rng) -> (Run, Run) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut ra, mut rb) = (None, None);
    block_on(std::future::poll_fn(|cx| {
        let a_first = rng.below(2) == 0;
        for turn in 0..2 {
            if (turn == 0) == a_first {
                if ra.is_none() {
                    if let Poll::Ready(v) = a.as_mut().poll(cx) {
                        ra = Some(v);
                    }
                }
            } else if rb.is_none() {
                if let Poll::Ready(v) = b.as_mut().poll(cx) {
                    rb = Some(v);
                }
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    (ra.unwrap(), rb.unwrap())
}

fn random_batch(rng: &mut Rng, round: usize) -> Vec<Rec> {
    (0..1 + rng.below(10))
        .map(|i| {
            let id = format!("k{:02}", rng.below(30));
            let mut r = rec(&id, 1_000 + rng.below(4) as i64, &format!("r{round}-{i}-{id}"));
            r.deleted = rng.below(8) == 0;
            if rng.below(4) == 0 {
                r.ns = "team".into();
            }
            r
        })
        .collect()
}

/// A run's settings, varied by the seed: a small row budget (so a winner may leave rows for the
/// loser), FULL now and then.
fn varied(w: &World, rng: &mut Rng) -> Config {
    let mut cfg = w.config();
    if rng.below(2) == 0 {
        cfg.max_rows = 1 + rng.below(8);
    }
    cfg.full = rng.below(4) == 0;
    cfg
}

#[test]
fn two_racing_compactors_lose_nothing_and_every_root_names_its_own_runs_metadata() {
    let (mut restarts, mut both_committed, mut races) = (0, 0, 0);
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut w = World::new(&ROOTS);
        let mut version = 0;
        for round in 0..4 {
            for _ in 0..1 + rng.below(3) {
                let src = rng.below(3) as usize;
                let batch = random_batch(&mut rng, round);
                w.commit(src, &batch, 1 + rng.below(4) as usize);
            }
            let (ca, cb) = (varied(&w, &mut rng), varied(&w, &mut rng));
            let (sa, sb) = (Yielding::new(&w.store, rng.next()), Yielding::new(&w.store, rng.next()));
            let (ra, rb) = join(compactor::run(&sa, &ca), compactor::run(&sb, &cb), &mut rng);
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            races += 1;
            restarts += ra.restarts + rb.restarts;
            assert!(ra.errors().is_empty() && rb.errors().is_empty(), "seed {seed}: {ra:?} {rb:?}");
            let committed: Vec<u64> = [ra.version, rb.version].into_iter().flatten().collect();
            if committed.len() == 2 {
                both_committed += 1;
                assert_ne!(committed[0], committed[1], "seed {seed}: two runs committed one version");
            }
            // No version lost: the pointer names the last one, every version up to it is there and
            // is its own run's (root, metadata, list and new files of one nonce).
            let (root, _) = read_serving(&w.store).unwrap();
            assert_eq!(Some(root.version), committed.iter().max().copied().or(Some(version)).filter(|v| *v > 0));
            for v in version + 1..=root.version {
                read_version(&w.store, "serving/artifacts", v);
            }
            // Behind on budget: runs go on; then the table is the newest per key of every row.
            while w.run(&w.config()).sources.iter().any(|s| s.behind) {}
            assert_eq!(answers(&w.store), w.expected(), "seed {seed} round {round}");
            version = read_serving(&w.store).unwrap().0.version;
        }
    }
    eprintln!("{races} races: {restarts} restarts, {both_committed} with both runs committing");
    assert!(restarts > 10, "the runs rarely raced ({restarts} restarts)");
    assert!(both_committed > 10, "the loser rarely committed after the winner ({both_committed})");
}

#[test]
fn a_loser_with_its_rows_unabsorbed_absorbs_them_after_the_winner() {
    // The winner has a row budget of one snapshot; the loser none: after both, every row is in.
    for seed in 1..=12u64 {
        let mut rng = Rng(seed * 7919);
        let mut w = World::new(&ROOTS);
        for round in 0..5 {
            let batch = random_batch(&mut rng, round);
            w.commit(round % 3, &batch, 2);
        }
        let mut small = w.config();
        small.max_rows = 1;
        let big = w.config();
        let (sa, sb) = (Yielding::new(&w.store, rng.next()), Yielding::new(&w.store, rng.next()));
        let (ra, rb) = join(compactor::run(&sa, &small), compactor::run(&sb, &big), &mut rng);
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(ra.version.is_some() || rb.version.is_some());
        // Unless the small one committed last, everything is absorbed already.
        if rb.version > ra.version {
            assert_eq!(answers(&w.store), w.expected(), "seed {seed}");
        }
        w.run(&w.config());
        assert_eq!(answers(&w.store), w.expected(), "seed {seed}");
    }
}

#[test]
fn key_ranges_compacted_at_once_equal_one_unsplit_table() {
    let splits = split::parse("serving/artifacts", "docs/guide/k15, team").unwrap();
    assert_eq!(splits.len(), 3);
    for seed in 1..=8u64 {
        let mut rng = Rng(seed * 104_729);
        let mut w = World::new(&ROOTS);
        let unsplit = World::new(&ROOTS);
        for round in 0..6 {
            for _ in 0..1 + rng.below(3) {
                let src = rng.below(3) as usize;
                let batch = random_batch(&mut rng, round);
                w.commit(src, &batch, 3);
            }
            // Ranges 0 and 1 at once, interleaved; range 2 (team) after them.
            let cfgs: Vec<Config> = splits
                .iter()
                .map(|s| {
                    let mut c = varied(&w, &mut rng);
                    c.max_rows = compactor::MAX_ROWS;
                    c.serving_root = s.root.clone();
                    c.range = s.range();
                    c
                })
                .collect();
            let (s0, s1) = (Yielding::new(&w.store, rng.next()), Yielding::new(&w.store, rng.next()));
            let (r0, r1) = join(compactor::run(&s0, &cfgs[0]), compactor::run(&s1, &cfgs[1]), &mut rng);
            assert_eq!(r0.unwrap().restarts + r1.unwrap().restarts, 0, "different tables never conflict");
            block_on(compactor::run(&w.store, &cfgs[2])).unwrap();
        }
        // The same sources compacted into one table.
        for k in w.store.keys().into_iter().filter(|k| k.starts_with("artifacts/")) {
            unsplit.store.set(&k, w.store.bytes(&k).unwrap());
        }
        unsplit.run(&unsplit.config());
        let whole = answers(&unsplit.store);
        assert_eq!(whole, w.expected());
        let mut union = std::collections::BTreeMap::new();
        for (i, s) in splits.iter().enumerate() {
            let (root, rows) = read_serving_at(&w.store, &s.root).unwrap();
            assert_eq!(root.range.as_ref(), Some(&s.range()), "the root records its range");
            for (_, e, _) in &rows {
                assert!(s.contains(&e.key), "range {i} holds {:?}", String::from_utf8_lossy(&e.key));
                assert_eq!(split::index_of(&splits, &e.key), i);
            }
            union.extend(answers_at(&w.store, &s.root));
        }
        assert_eq!(union, whole, "seed {seed}: the ranges together are the unsplit table");
        assert!(w.store.bytes("serving/artifacts/metadata/version-hint.text").is_none(), "no table at the split root itself");
    }
}

#[test]
fn an_unsplit_root_keeps_its_shape_and_a_changed_range_rebuilds() {
    let mut w = World::new(&ROOTS);
    w.commit(0, &[rec("a", 1, "a1"), rec("m", 1, "m1")], 10);
    w.run(&w.config());
    let (root, _) = read_serving(&w.store).unwrap();
    let text = String::from_utf8(w.store.bytes("serving/artifacts/metadata/v1.serving.json").unwrap()).unwrap();
    assert!(root.range.is_none() && !text.contains("\"range\""), "{text}");
    // The same table given a range (a setting changed): rebuilt to hold that range only.
    let mut cfg = w.config();
    cfg.range = split::parse("serving/artifacts", "docs/guide/h").unwrap()[0].range();
    let r = w.run(&cfg);
    assert!(r.rebuilt, "{r:?}");
    let (root, rows) = read_serving(&w.store).unwrap();
    assert!(root.range.is_some());
    let ids: Vec<String> = rows.iter().map(|(_, e, _)| String::from_utf8_lossy(&e.key).into_owned()).collect();
    assert_eq!(ids, vec!["docs\0guide\0a".to_string()]);
    let again = w.run(&cfg);
    assert_eq!(again.version, None, "nothing new: {again:?}");
}
