//! Retention in the serving table (#18): rows whose `expires_at` passed more than the retention
//! grace ago leave when a run absorbs or merges them, and no older version of their key ever shows
//! again — through `Root::candidates` (the support's answers) and through shared's own `lookup`
//! and `range`, as serve reads them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use compactor::store::{block_on, MemStore};
use compactor::Store;
use shared::locate::{Cost, ObjectStore, StoreError};
use shared::serving::key::key;
use shared::serving::{lookup, range};
use support::{answers, read_serving, rec, Rec, Rng, World, T0};

const ROOTS: [&str; 2] = ["artifacts/preview", "artifacts/build"];
const HOUR_MS: i64 = 3_600_000;

/// The compactor's store as shared's readers take it.
struct Reader<'a>(&'a MemStore);

impl ObjectStore for Reader<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        Store::get(self.0, key, range).await.map(|o| o.bytes)
    }
}

fn expiring(id: &str, ts: i64, body: &str, expires_at_ms: i64) -> Rec {
    Rec { expires_at: Some(expires_at_ms * 1000), ..rec(id, ts, body) }
}

/// What serve's lookup finds for `id`: (deleted, expired, markdown-less) or nothing.
fn looked_up(w: &World, id: &str) -> Option<(i64, bool, bool)> {
    let (root, _) = read_serving(&w.store)?;
    let hit = block_on(lookup::lookup(&Reader(&w.store), &root, &key("docs", "guide", id), &mut Cost::default())).unwrap()?;
    Some((hit.order.ts, hit.found.deleted, hit.found.expires_at.is_some()))
}

/// The ids a range read over the whole table returns, with their ts.
fn ranged(w: &World) -> Vec<(String, i64)> {
    let Some((root, _)) = read_serving(&w.store) else { return Vec::new() };
    let rows = block_on(range::range(&Reader(&w.store), &root, b"", b"\xff", usize::MAX, usize::MAX, &mut Cost::default())).unwrap();
    assert_eq!(rows.resume, None);
    rows.rows.into_iter().map(|(k, h)| (String::from_utf8_lossy(&k).rsplit('\0').next().unwrap().to_string(), h.order.ts)).collect()
}

fn config(w: &World, grace_ms: i64) -> compactor::Config {
    let mut cfg = w.config();
    cfg.retention_grace_ms = grace_ms;
    cfg
}

#[test]
fn a_key_whose_newest_version_expired_past_the_grace_leaves_and_its_older_versions_never_come_back() {
    let mut w = World::new(&ROOTS);
    // v1 (no expiry) of every key, merged into L1.
    w.commit(0, &[rec("a", 1, "a1"), rec("b", 1, "b1"), rec("c", 1, "c1")], 10);
    let mut cfg = config(&w, HOUR_MS);
    cfg.full = true;
    w.run(&cfg);
    // v2 of "a" expires in a minute; of "b" never; "c" gets a v2 that expired long ago.
    w.commit(1, &[expiring("a", 2, "a2", T0 + 60_000), rec("b", 2, "b2"), expiring("c", 2, "c2", T0 - 2 * HOUR_MS)], 10);
    let report = w.run(&config(&w, HOUR_MS));
    // "c" is absorbed as a retention tombstone (v1 is in L1, which the absorb does not read).
    assert_eq!((report.retention_dropped, report.retention_tombstones), (0, 1), "{report:?}");
    assert_eq!(looked_up(&w, "a"), Some((2, false, true)));
    assert_eq!(looked_up(&w, "c"), Some((2, true, true)), "the tombstone, not c1");
    let rows = read_serving(&w.store).unwrap().1;
    let c2 = rows.iter().find(|(_, e, _)| e.key == key("docs", "guide", "c") && e.order.ts == 2).unwrap();
    assert!(c2.1.expired && c2.1.deleted, "{:?}", c2.1);
    // Within the grace nothing else leaves, however often the table is merged.
    w.advance(60_000 + HOUR_MS / 2);
    let mut cfg = config(&w, HOUR_MS);
    cfg.full = true;
    let report = w.run(&cfg);
    // The full merge reads c's tombstone and c1 together: nothing else may hold "c", so it goes.
    assert_eq!((report.retention_dropped, report.retention_tombstones), (1, 0), "{report:?}");
    assert_eq!(looked_up(&w, "c"), None, "no row of c at all");
    assert_eq!(looked_up(&w, "a"), Some((2, false, true)), "a expired 30 min ago: within the grace");
    // Past the grace, the next merge drops "a" (v2), and a1 never comes back.
    w.advance(HOUR_MS);
    w.commit(0, &[rec("d", 1, "d1")], 10);
    let mut cfg = config(&w, HOUR_MS);
    cfg.full = true;
    let report = w.run(&cfg);
    assert_eq!(report.retention_dropped, 1, "{report:?}");
    assert_eq!(looked_up(&w, "a"), None);
    assert_eq!(ranged(&w), vec![("b".to_string(), 2), ("d".to_string(), 1)]);
    let keys: Vec<Vec<u8>> = answers(&w.store).into_keys().collect();
    assert_eq!(keys, vec![key("docs", "guide", "b"), key("docs", "guide", "d")]);
    // A rebuild from every source snapshot agrees: the expired versions are the newest there too.
    let mut cfg = config(&w, HOUR_MS);
    cfg.from_scratch = true;
    let report = w.run(&cfg);
    assert!(report.rebuilt);
    assert_eq!((report.retention_dropped, report.retention_tombstones), (2, 0), "{report:?}");
    assert_eq!(ranged(&w), vec![("b".to_string(), 2), ("d".to_string(), 1)]);
}

/// The merge's newest-per-key meets an expired row while an L0 file the step does not take may
/// still hold an older version: the row stays as a tombstone until a step reads both.
#[test]
fn random_histories_with_expiry_never_show_an_older_version() {
    for seed in 1..=10u64 {
        let mut rng = Rng(seed * 0x5851_F42D);
        let mut w = World::new(&ROOTS);
        let grace = 10 * 60_000;
        for round in 0..30 {
            let cutoff = (w.store.now() - grace) * 1000;
            let mut batch: Vec<Rec> = Vec::new();
            for i in 0..1 + rng.below(10) {
                let id = format!("k{:02}", rng.below(24));
                // Late rows too (a ts below an earlier commit's): an older version can then arrive
                // in a newer L0 run than the newest version's. Not once the newest version expired
                // past the grace: it may be gone then, and a late row is the key's newest row (the
                // documented limit of dropping; only a client `ts`, bulk mode, writes such rows).
                let gone = w
                    .committed
                    .iter()
                    .map(|(_, _, _, r)| r)
                    .chain(batch.iter())
                    .filter(|r| r.id == id)
                    .max_by_key(|r| r.ts)
                    .is_some_and(|r| r.expires_at.is_some_and(|e| e < cutoff));
                let late = if gone { 0 } else { rng.below(6) as i64 };
                let mut r = rec(&id, 1_000 + round - late, &format!("r{round}-{i}"));
                // Expiries from long past to the future, relative to the clock now.
                if rng.below(3) == 0 {
                    r.expires_at = Some((w.store.now() + (rng.below(5) as i64 - 3) * grace) * 1000);
                }
                batch.push(r);
            }
            w.commit(rng.below(2) as usize, &batch, 1 + rng.below(4) as usize);
            if rng.below(3) != 0 {
                let mut cfg = config(&w, grace);
                // One merge step a run, so that L0 runs the cursor has passed wait for the next
                // round while steps past them merge newer ones (the case a tombstone is for).
                cfg.limits.merge_steps = 1;
                cfg.limits.l0_max = 64;
                cfg.full = rng.below(6) == 0;
                let report = w.run(&cfg);
                assert!(report.errors().is_empty(), "{:?}", report.errors());
                check(&w, grace, seed, round);
            }
            w.advance(rng.below(3) as i64 * grace / 2);
        }
        let mut cfg = config(&w, grace);
        cfg.full = true;
        w.run(&cfg);
        check(&w, grace, seed, 99);
    }
}

/// Every key's answer (shared's lookup, and the range read over the whole table) is the naive
/// newest version, or nothing / a retention tombstone when that version's `expires_at` is past
/// the grace as of the last run, and never an older version. (Not the support's `answers`: its
/// full scan also sees rows in the merged part of L0 files, which no reader reads — an older
/// version of a dropped key may lie there until its file goes.)
fn check(w: &World, grace: i64, seed: u64, round: i64) {
    let now_us = w.store.now() * 1000;
    let cutoff = now_us - grace * 1000;
    let mut newest: std::collections::BTreeMap<Vec<u8>, (shared::serving::order::Order, Option<i64>)> = Default::default();
    for (source, seq, pos, r) in &w.committed {
        let order = shared::serving::order::Order { ts: r.ts, seq: *seq, source: *source, pos: *pos };
        let k = key(&r.ns, &r.ty, &r.id);
        if newest.get(&k).is_none_or(|(o, _)| order > *o) {
            newest.insert(k, (order, r.expires_at));
        }
    }
    let (root, _) = read_serving(&w.store).unwrap();
    let ranged = block_on(range::range(&Reader(&w.store), &root, b"", b"\xff", usize::MAX, usize::MAX, &mut Cost::default())).unwrap();
    let mut ranged: std::collections::BTreeMap<Vec<u8>, lookup::Hit> = ranged.rows.into_iter().collect();
    for (k, (order, expires)) in &newest {
        let id = String::from_utf8_lossy(k).to_string();
        let hit = block_on(lookup::lookup(&Reader(&w.store), &root, k, &mut Cost::default())).unwrap();
        assert_eq!(ranged.remove(k), hit, "seed {seed} round {round} {id}: range and lookup disagree");
        match hit {
            Some(hit) => {
                if hit.order != *order {
                    let hist: Vec<_> = w
                        .committed
                        .iter()
                        .filter(|(_, _, _, r)| key(&r.ns, &r.ty, &r.id) == *k)
                        .map(|(s, q, p, r)| (s, q, p, r.ts, r.expires_at))
                        .collect();
                    panic!("seed {seed} round {round} {id}: an older version shows: {:?} vs newest {order:?} exp {expires:?} cutoff {cutoff}; history {hist:?}", hit.order);
                }
                if hit.found.deleted && hit.found.content_hash.is_none() && expires.is_some() {
                    // A retention tombstone (or a tombstone the test wrote: it writes none).
                    assert!(expires.is_some_and(|e| e < cutoff), "seed {seed} round {round} {id}: tombstoned too early");
                }
            }
            None => assert!(expires.is_some_and(|e| e < cutoff), "seed {seed} round {round} {id}: gone though not expired past the grace"),
        }
    }
    assert!(ranged.is_empty(), "seed {seed} round {round}: keys never committed");
}
