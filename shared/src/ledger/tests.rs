//! The ledger core's tests: shard vectors and properties, the codec, check/confirm rules, the
//! order-independence property, KV write pacing, pending copies, batching.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::batch::by_shard;
use super::confirm::{apply, check, confirm, plan_kv_writes, Applied, Entry, KV_WRITE_INTERVAL_MS};
use super::pending::{self, CopyAction, Policy};
use super::shard::{jump, object_name, parse_shards, shard_of, DEFAULT_SHARDS};
use super::state::{parse_writes, writes_to_json, CodecError, KeyState, Place, Write};
use crate::record::{Mode, Visibility};
use crate::test_rng::Rng;

fn st(ts: i64, hash: &str) -> KeyState {
    KeyState {
        ts,
        content_hash: hash.into(),
        visibility: Visibility::Org,
        owner_org: "acme".into(),
        owner_user: "alice".into(),
        mode: Mode::Build,
        deleted: false,
    }
}

fn w(key: &str, state: KeyState) -> Write {
    Write { key: key.into(), state }
}

// ---- shard ----

/// Pinned: a change here moves keys between shards, which loses their state in production.
#[test]
fn shard_vectors_are_stable() {
    let cases: [(&str, u32, u32); 8] = [
        ("docs/guide/intro", 16, SHARD_VECTORS[0]),
        ("docs/guide/intro", 1, 0),
        ("acme/build/linux-x64", 16, SHARD_VECTORS[1]),
        ("a/b/c", 16, SHARD_VECTORS[2]),
        ("a/b/c", 1024, SHARD_VECTORS[3]),
        ("", 16, SHARD_VECTORS[4]),
        ("idem:acme:alice:k-1", 16, SHARD_VECTORS[5]),
        ("ns/type/id/with/nested/parts", 7, SHARD_VECTORS[6]),
    ];
    for (key, n, want) in cases {
        assert_eq!(shard_of(key, n), want, "{key:?} over {n}");
    }
    // The jump hash itself, on raw 64-bit keys.
    assert_eq!([jump(0, 16), jump(1, 16), jump(u64::MAX, 16), jump(0xDEAD_BEEF, 1000)], JUMP_VECTORS);
    assert_eq!(jump(12345, 0), 0);
    // Reference values of the published algorithm (the vectors Microsoft's implementations test).
    assert_eq!(jump(10_863_919_174_838_991, 11), 6);
    assert_eq!(jump(2_016_238_256_797_177_309, 11), 3);
    assert_eq!(jump(1_673_758_223_894_951_030, 11), 5);
    assert_eq!(object_name(3), "ledger/3");
}

const SHARD_VECTORS: [u32; 7] = [7, 7, 3, 239, 7, 5, 5];
const JUMP_VECTORS: [u32; 4] = [0, 6, 10, 285];

#[test]
fn shard_count_comes_from_the_var_within_bounds() {
    assert_eq!(parse_shards(None), DEFAULT_SHARDS);
    assert_eq!(parse_shards(Some(" 32 ")), 32);
    assert_eq!(parse_shards(Some("0")), DEFAULT_SHARDS);
    assert_eq!(parse_shards(Some("5000")), DEFAULT_SHARDS);
    assert_eq!(parse_shards(Some("x")), DEFAULT_SHARDS);
    assert_eq!(shard_of("k", 0), 0, "0 shards is clamped to 1");
}

/// Growing the shard count from n to n + 1 moves a key only to the new shard, about 1/(n+1) of
/// them; and the keys spread evenly.
#[test]
fn growing_the_shard_count_moves_few_keys_and_spreads_evenly() {
    let keys: Vec<String> = (0..20_000).map(|i| alloc::format!("ns{}/type/id-{i}", i % 7)).collect();
    for n in [1u32, 4, 15, 16, 63] {
        let mut moved = 0usize;
        for k in &keys {
            let (a, b) = (shard_of(k, n), shard_of(k, n + 1));
            assert!(a < n && b <= n);
            if a != b {
                assert_eq!(b, n, "a key moved to an old shard");
                moved += 1;
            }
        }
        let expected = keys.len() as f64 / f64::from(n + 1);
        assert!((moved as f64 - expected).abs() < expected * 0.1 + 50.0, "n={n}: moved {moved}, expected ~{expected}");
    }
    let mut counts = [0usize; 16];
    for k in &keys {
        counts[shard_of(k, 16) as usize] += 1;
    }
    let mean = keys.len() / 16;
    assert!(counts.iter().all(|c| c.abs_diff(mean) < mean / 10), "{counts:?}");
}

// ---- batch ----

#[test]
fn a_chunk_is_grouped_into_one_call_per_shard_in_record_order() {
    let keys: Vec<String> = (0..500).map(|i| alloc::format!("docs/page/{}", i % 97)).collect();
    let groups = by_shard(&keys, 16);
    assert!(groups.windows(2).all(|g| g[0].0 < g[1].0), "shards ascending, each once");
    let mut seen = alloc::vec![false; keys.len()];
    for (shard, idx) in &groups {
        assert!(idx.windows(2).all(|p| p[0] < p[1]), "record order kept");
        for &i in idx {
            assert_eq!(shard_of(&keys[i], 16), *shard);
            assert!(!seen[i]);
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|s| *s));
    assert_eq!(groups.len(), 16, "500 keys touch every one of 16 shards");
    assert!(by_shard::<&str>(&[], 16).is_empty());
    assert_eq!(by_shard(&["a/b/c"], 1), alloc::vec![(0, alloc::vec![0])]);
}

// ---- state codec ----

#[test]
fn the_state_codec_round_trips_in_its_compact_layout() {
    let s = KeyState { visibility: Visibility::User, owner_user: "gh:42".into(), mode: Mode::Preview, deleted: true, ..st(7, "abc") };
    assert_eq!(s.to_json(), r#"{"c":"abc","d":true,"m":"preview","o":"acme","t":7,"u":"gh:42","v":"user"}"#);
    assert_eq!(KeyState::parse(&s.to_json()), Ok(s.clone()));
    let writes = alloc::vec![w("a/b/c", s.clone()), w("a/b/d", st(-1, ""))];
    let text = writes_to_json(&writes);
    assert!(text.starts_with(r#"[{"c":"abc","d":true,"k":"a/b/c","#), "{text}");
    assert_eq!(parse_writes(&text), Ok(writes));
    assert_eq!(parse_writes("[]"), Ok(Vec::new()));
}

#[test]
fn a_malformed_state_names_its_field() {
    let good: serde_json::Value = serde_json::from_str(&st(1, "h").to_json()).unwrap();
    for field in ["t", "c", "v", "o", "u", "m", "d"] {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(field);
        assert_eq!(KeyState::parse(&v.to_string()), Err(CodecError { field }), "without {field}");
        let mut v = good.clone();
        v[field] = serde_json::json!([1]);
        assert_eq!(KeyState::parse(&v.to_string()), Err(CodecError { field }), "{field} mistyped");
    }
    let mut v = good.clone();
    v["v"] = "secret".into();
    assert_eq!(KeyState::parse(&v.to_string()), Err(CodecError { field: "v" }));
    v["v"] = "org".into();
    v["m"] = "Build".into();
    assert_eq!(KeyState::parse(&v.to_string()), Err(CodecError { field: "m" }));
    v["m"] = "build".into();
    v["t"] = serde_json::json!(1.5);
    assert_eq!(KeyState::parse(&v.to_string()), Err(CodecError { field: "t" }));
    assert_eq!(KeyState::parse("[]"), Err(CodecError { field: "json" }));
    assert_eq!(KeyState::parse("{"), Err(CodecError { field: "json" }));
    assert_eq!(parse_writes(&alloc::format!("[{}]", st(1, "h").to_json())), Err(CodecError { field: "k" }));
    assert_eq!(parse_writes("[1]"), Err(CodecError { field: "json" }));
    assert_eq!(parse_writes("{}"), Err(CodecError { field: "json" }));
    assert_eq!(CodecError { field: "t" }.to_string(), "a ledger state is malformed (field t)");
}

/// The KV value is the existing `{"g","h"}` codec: serve's `State::parse`/`current` and the cache
/// keys do not change.
#[test]
fn the_kv_projection_is_the_state_ingest_writes_today() {
    let stamp = crate::record::Stamp {
        mode: Mode::Bulk,
        now_micros: 1_700_000_000_000_000,
        org: "acme",
        user: "alice",
        default_visibility: Visibility::Public,
    };
    let record = crate::record::Record::tombstone("docs", "guide", "intro", &stamp).unwrap();
    let write = Write::of_record(&record, Mode::Bulk);
    assert_eq!(write.key, "docs/guide/intro");
    assert_eq!(write.state.dedupe_key(), record.dedupe_key());
    let kv = write.state.kv_state();
    assert_eq!(kv.to_json(), crate::state::State::confirmed(&record.dedupe_key(), record.ts).to_json());
    assert!(kv.current(record.ts, &record.dedupe_key()));
    assert_eq!(write.state.place(), Place { ts: record.ts, dedupe: record.dedupe_key() });
}

// ---- check ----

#[test]
fn a_duplicate_is_the_confirmed_content_for_the_same_owner_visibility_and_tombstone() {
    let mut shard = BTreeMap::new();
    apply(&mut shard, &[w("a/b/c", st(10, "h1"))], &[], 0);
    let batch = [
        w("a/b/c", st(20, "h1")),                                                // same content, newer ts: duplicate
        w("a/b/c", st(5, "h1")),                                                 // same content, older ts: duplicate
        w("a/b/c", st(20, "h2")),                                                // new content
        w("a/b/c", KeyState { visibility: Visibility::Public, ..st(20, "h1") }), // visibility change
        w("a/b/c", KeyState { owner_org: "other".into(), ..st(20, "h1") }),      // another owner
        w("a/b/c", KeyState { owner_user: "bob".into(), ..st(20, "h1") }),       // another user
        w("a/b/c", KeyState { deleted: true, ..st(20, "h1") }),                  // a tombstone
        w("a/b/c", KeyState { mode: Mode::Preview, ..st(20, "h1") }),            // mode alone: duplicate
        w("a/b/d", st(10, "h1")),                                                // never confirmed
    ];
    assert_eq!(check(&shard, &batch), [true, true, false, false, false, false, false, true, false]);
}

// ---- confirm ----

#[test]
fn confirm_only_moves_forward() {
    let mut shard = BTreeMap::new();
    let out = apply(&mut shard, &[w("k/t/i", st(10, "a"))], &[], 0);
    assert_eq!(out.applied, [Applied::Changed]);
    // Regression (lost acknowledged write): B stamped after A confirms first; A must not replace B.
    let out = apply(&mut shard, &[w("k/t/i", st(30, "b"))], &[], 0);
    assert_eq!(out.applied, [Applied::Changed]);
    let out = apply(&mut shard, &[w("k/t/i", st(20, "c"))], &[], 0);
    assert_eq!(out.applied, [Applied::Stale]);
    assert!(out.upserts.is_empty());
    assert_eq!(shard["k/t/i"].state, st(30, "b"));
    // The same write again (a retry, the outbox): nothing to write.
    let out = apply(&mut shard, &[w("k/t/i", st(30, "b"))], &[], 0);
    assert_eq!(out, super::confirm::Outcome { applied: alloc::vec![Applied::Same], ..Default::default() });
    // Equal ts, another version (a bulk rewrite keeping its ts): the later confirm wins, as the
    // later commit does in the tables, whichever version it is; the generation stays.
    let (x, y) = (st(40, "x"), KeyState { visibility: Visibility::Public, ..st(40, "x") });
    for order in [[x.clone(), y.clone()], [y.clone(), x.clone()]] {
        let mut s = shard.clone();
        apply(&mut s, &[w("k/t/i", order[0].clone())], &[], 0);
        let out = apply(&mut s, &[w("k/t/i", order[1].clone())], &[], 0);
        assert_eq!(out.applied, [Applied::Changed]);
        assert_eq!(s["k/t/i"].state, order[1]);
        assert_eq!(s["k/t/i"].state.ts, 40);
    }
}

#[test]
fn a_batch_may_name_a_key_several_times() {
    let shard = BTreeMap::new();
    let out =
        confirm(&shard, &[w("k/t/i", st(10, "a")), w("k/t/i", st(30, "b")), w("k/t/i", st(20, "c")), w("k/t/i", st(30, "b"))], &[], 0);
    assert_eq!(out.applied, [Applied::Changed, Applied::Changed, Applied::Stale, Applied::Same]);
    assert_eq!(out.upserts, alloc::vec![("k/t/i".to_string(), Entry::new(st(30, "b")))]);
    assert!(out.kv_due.is_empty(), "never read: no KV write");
}

#[test]
fn only_a_key_read_since_its_last_kv_write_needs_one() {
    let mut shard = BTreeMap::new();
    apply(&mut shard, &[w("r/t/i", st(1, "a")), w("u/t/i", st(1, "a"))], &[], 0);
    // Serve looked `r` up on a miss at t=100 ms.
    let e = shard.get_mut("r/t/i").unwrap();
    e.read_at = e.mark_read(100).unwrap();
    assert_eq!(e.mark_read(150), None, "already read since the last KV write: no row write");
    let out = apply(&mut shard, &[w("r/t/i", st(2, "b")), w("u/t/i", st(2, "b"))], &[], 0);
    assert_eq!(out.kv_due, ["r/t/i"]);
    assert_eq!(shard["r/t/i"].read_at, 100, "bookkeeping carried to the new state");
    // A duplicate or stale confirm changes nothing, so no KV write either.
    assert!(apply(&mut shard, &[w("r/t/i", st(2, "b")), w("r/t/i", st(1, "z"))], &[], 0).kv_due.is_empty());
    // The alarm starts the KV write at 200 (kv_at first): the key is no longer "read"...
    shard.get_mut("r/t/i").unwrap().kv_at = 200;
    assert!(apply(&mut shard, &[w("r/t/i", st(3, "c"))], &[], 0).kv_due.is_empty());
    // ...until a lookup during or after the write marks it again.
    let e = shard.get_mut("r/t/i").unwrap();
    assert_eq!(e.mark_read(150), Some(200), "a lookup at the same ms as the write counts as after it");
    e.read_at = e.mark_read(250).unwrap();
    assert_eq!(apply(&mut shard, &[w("r/t/i", st(4, "d"))], &[], 0).kv_due, ["r/t/i"]);
    // The same write sent to another stream: the state takes one mode (a fixed choice, so the
    // order does not matter) but the KV value is the same, so no KV write.
    let other_mode = KeyState { mode: Mode::Preview, ..st(4, "d") };
    let out = apply(&mut shard, &[w("r/t/i", other_mode.clone())], &[], 0);
    assert_eq!(out.applied, [Applied::Changed], "\"preview\" > \"build\" by name");
    assert!(out.kv_due.is_empty());
    assert_eq!(apply(&mut shard, &[w("r/t/i", st(4, "d"))], &[], 0).applied, [Applied::Stale]);
}

#[test]
fn kv_writes_are_paced_to_one_per_key_per_second() {
    let due = alloc::vec![("a".to_string(), 0), ("b".to_string(), 9_500), ("c".to_string(), 8_000), ("d".to_string(), 9_000)];
    let plan = plan_kv_writes(&due, 10_000, 10);
    assert_eq!(plan.write_now, ["a", "c", "d"]);
    assert_eq!(plan.next_alarm_ms, Some(9_500 + KV_WRITE_INTERVAL_MS));
    let plan = plan_kv_writes(&due, 10_000, 1);
    assert_eq!(plan.write_now, ["a"]);
    assert_eq!(plan.next_alarm_ms, Some(10_000), "over the cap: again at once");
    assert_eq!(plan_kv_writes(&[], 1, 10), Default::default());
}

/// Property: any order and any batching of the same confirms — each possibly repeated, as a retry
/// or the outbox does — ends in the same state per key: the write of the greatest `ts`. On the
/// way no key's generation goes back. (Two versions of one key with the same `ts` are ordered by
/// when they are confirmed, as the tables order them by commit: `confirm_only_moves_forward`.)
#[test]
fn confirm_order_does_not_matter() {
    let mut rng = Rng(0x1ED6_E417);
    for _ in 0..400 {
        let n = 1 + rng.index(30);
        let mut writes: Vec<Write> = (0..n)
            .map(|_| {
                let key = alloc::format!("ns/t/{}", rng.index(4));
                let state = KeyState {
                    ts: rng.below(4) as i64,
                    content_hash: ["h1", "h2", "h3"][rng.index(3)].into(),
                    visibility: [Visibility::Public, Visibility::Org, Visibility::User][rng.index(3)],
                    owner_org: ["acme", "acme:gh"][rng.index(2)].into(),
                    owner_user: ["alice", "bob"][rng.index(2)].into(),
                    mode: Mode::ALL[rng.index(3)],
                    deleted: rng.chance(20),
                };
                w(&key, state)
            })
            .collect();
        // One version per (key, ts), the same write possibly sent to several streams: ties of
        // versions are the confirm order's, tested apart.
        let mut first: BTreeMap<(String, i64), KeyState> = BTreeMap::new();
        for wr in &mut writes {
            let v = first.entry((wr.key.clone(), wr.state.ts)).or_insert_with(|| wr.state.clone());
            wr.state = KeyState { mode: wr.state.mode, ..v.clone() };
        }
        let mut naive: BTreeMap<String, KeyState> = BTreeMap::new();
        for wr in &writes {
            let keep = naive.get(&wr.key).is_some_and(|s| (s.ts, s.mode.as_str()) >= (wr.state.ts, wr.state.mode.as_str()));
            if !keep {
                naive.insert(wr.key.clone(), wr.state.clone());
            }
        }
        for _ in 0..8 {
            let mut order = writes.clone();
            for _ in 0..rng.index(4) {
                let again = order[rng.index(order.len())].clone();
                order.push(again);
            }
            for i in (1..order.len()).rev() {
                order.swap(i, rng.index(i + 1));
            }
            let mut shard: BTreeMap<String, Entry> = BTreeMap::new();
            let mut rest = order.as_slice();
            while !rest.is_empty() {
                let take = 1 + rng.index(rest.len());
                let (batch, tail) = rest.split_at(take);
                let before = shard.clone();
                apply(&mut shard, batch, &[], 0);
                for (k, e) in &before {
                    let now = &shard[k].state;
                    assert!(now.ts >= e.state.ts, "{k}: generation went back");
                }
                rest = tail;
            }
            let got: BTreeMap<String, KeyState> = shard.into_iter().map(|(k, e)| (k, e.state)).collect();
            assert_eq!(got, naive);
        }
    }
}

// ---- successor marks (#18) ----

fn marks(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[test]
fn a_mark_stamps_its_key_only_forward() {
    let mut shard = BTreeMap::new();
    apply(&mut shard, &[w("p/t/i", st(10, "a"))], &[], 0);
    let out = apply(&mut shard, &[], &marks(&["p/t/i"]), 5_000);
    assert_eq!((out.marked, out.applied.len()), (1, 0), "a mark is no write");
    assert_eq!(shard["p/t/i"].successor_at, 5_000);
    assert_eq!(shard["p/t/i"].state, st(10, "a"), "the state stays");
    // An older stamp (a deferred confirm replayed later) or the same one: nothing to write.
    for at in [4_000, 5_000] {
        let out = apply(&mut shard, &[], &marks(&["p/t/i"]), at);
        assert_eq!((out.marked, out.upserts.len()), (0, 0), "{at}");
    }
    assert_eq!(shard["p/t/i"].successor_at, 5_000);
    // A newer write keeps the stamp (and the bookkeeping); a write and a mark in one batch both land.
    apply(&mut shard, &[w("p/t/i", st(20, "b"))], &marks(&["p/t/i"]), 6_000);
    assert_eq!((shard["p/t/i"].state.ts, shard["p/t/i"].successor_at), (20, 6_000));
    apply(&mut shard, &[w("p/t/i", st(30, "c"))], &[], 0);
    assert_eq!(shard["p/t/i"].successor_at, 6_000);
}

#[test]
fn a_mark_on_a_key_without_a_write_holds_a_marker() {
    let mut shard = BTreeMap::new();
    let out = apply(&mut shard, &[], &marks(&["old/t/i", "old/t/i"]), 7_000);
    assert_eq!(out.marked, 1, "the same key twice in a batch: one stamp");
    let e = &shard["old/t/i"];
    assert!(e.state.is_marker());
    assert_eq!((e.read_at, e.kv_at, e.successor_at), (0, 0, 7_000));
    assert!(out.kv_due.is_empty(), "never read: nothing cached to purge");
    assert_eq!(e.kv_state(), crate::state::State { generation: 0, dedupe: None, successor: 7_000 });
    assert_eq!(e.kv_state().to_json(), r#"{"g":0,"s":7000}"#);
    // Its first write replaces the marker and keeps the stamp.
    apply(&mut shard, &[w("old/t/i", st(10, "a"))], &[], 0);
    assert_eq!((shard["old/t/i"].state.clone(), shard["old/t/i"].successor_at), (st(10, "a"), 7_000));
    assert!(KeyState::marker().is_marker() && !st(1, "a").is_marker());
}

#[test]
fn a_mark_is_due_in_kv_only_when_read_since_the_last_kv_write() {
    let mut shard = BTreeMap::new();
    apply(&mut shard, &[w("r/t/i", st(1, "a")), w("u/t/i", st(1, "a"))], &[], 0);
    shard.get_mut("r/t/i").unwrap().read_at = 100;
    let out = apply(&mut shard, &[], &marks(&["r/t/i", "u/t/i"]), 1_000);
    assert_eq!(out.kv_due, ["r/t/i"], "the read key only");
    assert_eq!(out.marked, 2);
    // Already stamped later: no change, no KV write.
    assert!(apply(&mut shard, &[], &marks(&["r/t/i"]), 900).kv_due.is_empty());
    // The alarm wrote KV at 1 100: a newer mark is not due until a reader looks again.
    shard.get_mut("r/t/i").unwrap().kv_at = 1_100;
    assert!(apply(&mut shard, &[], &marks(&["r/t/i"]), 2_000).kv_due.is_empty());
    shard.get_mut("r/t/i").unwrap().read_at = 2_500;
    assert_eq!(apply(&mut shard, &[], &marks(&["r/t/i"]), 3_000).kv_due, ["r/t/i"]);
    // A looked-up marker (serve read a key the ledger never confirmed) is due too.
    let mut m = BTreeMap::new();
    m.insert("m/t/i".to_string(), Entry { read_at: 50, ..Entry::new(KeyState::marker()) });
    assert_eq!(apply(&mut m, &[], &marks(&["m/t/i"]), 60).kv_due, ["m/t/i"]);
    assert_eq!(m["m/t/i"].kv_state().to_json(), r#"{"g":0,"s":60}"#);
}

#[test]
fn the_kv_value_holds_generation_version_and_stamp() {
    let e = Entry { successor_at: 1_234, ..Entry::new(st(10, "a")) };
    let kv = e.kv_state();
    assert_eq!(kv, crate::state::State { generation: 10, dedupe: Some(st(10, "a").dedupe_key()), successor: 1_234 });
    assert_eq!(crate::state::State::parse(&kv.to_json()), Some(kv.clone()));
    assert!(kv.to_json().ends_with(r#","s":1234}"#));
    assert_eq!(Entry::new(st(10, "a")).kv_state().to_json(), st(10, "a").kv_state().to_json(), "no stamp: today's value");
}

/// Property: any order and batching of the same writes and marks (each mark stamped with its own
/// confirm's time) ends in the same states and the same stamp per key: the latest.
#[test]
fn marks_in_any_order_give_the_same_state() {
    let mut rng = Rng(0x5C_CE55);
    for _ in 0..200 {
        let n = 1 + rng.index(12);
        let items: Vec<(bool, String, i64)> =
            (0..n).map(|_| (rng.chance(50), alloc::format!("ns/t/{}", rng.index(3)), 1 + rng.below(50) as i64)).collect();
        let mut want: BTreeMap<String, (Option<i64>, i64)> = BTreeMap::new();
        for (is_mark, k, t) in &items {
            let slot = want.entry(k.clone()).or_insert((None, 0));
            if *is_mark {
                slot.1 = slot.1.max(*t);
            } else {
                slot.0 = Some(slot.0.map_or(*t, |x: i64| x.max(*t)));
            }
        }
        for _ in 0..6 {
            let mut order = items.clone();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.index(i + 1));
            }
            let mut shard: BTreeMap<String, Entry> = BTreeMap::new();
            let mut rest = order.as_slice();
            while !rest.is_empty() {
                let (batch, tail) = rest.split_at(1 + rng.index(rest.len()));
                // A confirm of the batch's writes; each mark at its own time.
                let writes: Vec<Write> = batch.iter().filter(|i| !i.0).map(|(_, k, t)| w(k, st(*t, "h"))).collect();
                for (_, k, t) in batch.iter().filter(|i| i.0) {
                    apply(&mut shard, &[], core::slice::from_ref(k), *t);
                }
                apply(&mut shard, &writes, &[], 0);
                rest = tail;
            }
            let got: BTreeMap<String, (Option<i64>, i64)> =
                shard.into_iter().map(|(k, e)| (k, ((!e.state.is_marker()).then_some(e.state.ts), e.successor_at))).collect();
            assert_eq!(got, want);
        }
    }
}

// ---- pending copies ----

#[test]
fn pending_copies_are_admitted_by_mode_size_and_change() {
    let p = Policy::default();
    assert!(pending::admit(&p, Mode::Preview, 64 * 1024, Applied::Changed));
    assert!(!pending::admit(&p, Mode::Preview, 64 * 1024 + 1, Applied::Changed));
    assert!(!pending::admit(&p, Mode::Build, 10, Applied::Changed));
    assert!(!pending::admit(&p, Mode::Preview, 10, Applied::Same));
    let tenant = Policy { modes: alloc::vec![Mode::Preview, Mode::Build], ..Policy::default() };
    assert!(pending::admit(&tenant, Mode::Build, 10, Applied::Changed));
    assert_eq!(pending::on_confirm(&p, Mode::Preview, 10, Applied::Changed), CopyAction::Put);
    assert_eq!(pending::on_confirm(&p, Mode::Preview, 1 << 20, Applied::Changed), CopyAction::Delete, "a newer write without a copy");
    assert_eq!(pending::on_confirm(&p, Mode::Build, 10, Applied::Changed), CopyAction::Delete);
    assert_eq!(pending::on_confirm(&p, Mode::Preview, 10, Applied::Stale), CopyAction::Keep);
    assert_eq!(pending::on_confirm(&p, Mode::Preview, 10, Applied::Same), CopyAction::Keep);
}

#[test]
fn serve_answers_from_a_copy_only_when_it_is_the_state_and_newer_than_the_tables() {
    let copy = st(20, "new").place();
    assert!(pending::copy_wins(&copy, &copy, None), "not in the tables yet");
    assert!(pending::copy_wins(&copy, &copy, Some(&st(10, "old").place())));
    assert!(!pending::copy_wins(&copy, &copy, Some(&copy)), "the table has it: answer from the table");
    assert!(!pending::copy_wins(&copy, &copy, Some(&st(30, "newer").place())));
    assert!(!pending::copy_wins(&copy, &st(30, "newer").place(), None), "a newer state without a copy");
}

#[test]
fn copies_are_trimmed_when_covered_or_old() {
    let copy =
        |key: &str, ts: i64, mode: Mode, at: i64| pending::Copy { key: key.into(), place: st(ts, "h").place(), mode, confirmed_at_ms: at };
    let copies = [copy("a", 10, Mode::Preview, 1_000), copy("b", 10, Mode::Preview, 2_000), copy("c", 10, Mode::Build, 3_000)];
    let covered = alloc::vec![
        ("a".to_string(), st(10, "h").place()), // the same write
        ("b".to_string(), st(9, "h").place()),  // an older one only
        ("b".to_string(), st(5, "h").place()),
        ("c".to_string(), st(11, "h").place()), // a newer one
    ];
    assert_eq!(pending::trim_covered(&copies, &covered), ["a", "c"]);
    assert!(pending::trim_covered(&copies, &[]).is_empty());
    // Watermark of preview committed at 700,000 ms, grace 600,000: copies confirmed before 100,000.
    let aged = pending::trim_aged(&copies, &[(Mode::Preview, 601_500)], 1_000_000, 600_000, 3_600_000);
    assert_eq!(aged, ["a"]);
    // Build has no watermark: only the max age applies.
    assert!(pending::trim_aged(&copies, &[], 3_600_999, 600_000, 3_600_000).is_empty());
    assert_eq!(pending::trim_aged(&copies, &[], 3_603_001, 600_000, 3_600_000), ["a", "b", "c"]);
}
