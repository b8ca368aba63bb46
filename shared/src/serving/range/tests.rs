use super::*;
use crate::locate::test_table::{block_on, MemStore};
use crate::serving::key::key;
use crate::serving::lookup::tests::{root_of, serving_file, serving_file_at, srow, SRow};
use crate::serving::order::Order;
use alloc::collections::BTreeMap;

fn put(store: &MemStore, (bytes, entry): (Vec<u8>, FileEntry)) -> FileEntry {
    store.objects.borrow_mut().insert(entry.key.clone(), bytes);
    entry
}

/// Every row of `[start, end)`, `max_pages` a call; the calls made.
fn all(store: &MemStore, root: &Root, start: &[u8], end: &[u8], max_pages: usize, max_rows: usize) -> (Vec<(Vec<u8>, Order)>, usize) {
    let mut out = Vec::new();
    let mut at = start.to_vec();
    let mut calls = 0;
    loop {
        calls += 1;
        let r = block_on(range(store, root, &at, end, max_pages, max_rows, &mut Cost::default())).unwrap();
        assert!(r.pages <= max_pages.max(root.files.len() + 1), "{} pages", r.pages);
        for (k, hit) in r.rows {
            assert!(k.as_slice() >= at.as_slice() && k.as_slice() < end, "in range");
            assert!(out.last().is_none_or(|(l, _): &(Vec<u8>, Order)| *l < k), "in key order, once");
            if let Some(resume) = &r.resume {
                assert!(k < *resume);
            }
            out.push((k, hit.order));
        }
        match r.resume {
            Some(next) => {
                assert!(next > at, "every call moves");
                at = next;
            }
            None => return (out, calls),
        }
    }
}

#[test]
fn a_range_is_the_newest_row_per_key_across_l1_and_the_unmerged_part_of_l0() {
    let store = MemStore::default();
    let id = |i: usize| format!("k{i:04}");
    // L1: two files with non-overlapping ranges, 600 keys each (several pages each).
    let l1a: Vec<SRow> = (0..600).map(|i| srow(&id(i), 1, 1, 0, "old")).collect();
    let l1b: Vec<SRow> = (600..1200).map(|i| srow(&id(i), 1, 1, 0, "old")).collect();
    // L0: newer versions of every 7th key, merged below k0300 (its rows there are in L1 already:
    // here, stale rows that must not count), and keys L1 lacks.
    let mut l0: Vec<SRow> = (0..1200).filter(|i| i % 7 == 0).map(|i| srow(&id(i), if i < 300 { 9 } else { 5 }, 1, 0, "new")).collect();
    l0.extend((1200..1250).map(|i| srow(&id(i), 2, 1, 0, "l0 only")));
    // A second L0 run: an exact (ts, seq) tie that the lower source wins, and a later position.
    let l0b: Vec<SRow> = (0..1250)
        .filter(|i| i % 11 == 0)
        .map(|i| {
            let mut r = srow(&id(i), 5, 1, 1, "tie");
            if i % 2 == 0 {
                r.order = Order { ts: 5, seq: 1, source: 0, pos: 9 };
            }
            r
        })
        .collect();
    let files = vec![
        put(&store, serving_file("serving/data/L1-1-0.parquet", &l1a)),
        put(&store, serving_file("serving/data/L1-1-1.parquet", &l1b)),
        FileEntry {
            merged_through: Some(key("docs", "guide", &id(300))),
            ..put(&store, serving_file_at("serving/data/L0-2-0.parquet", &l0, 0))
        },
        put(&store, serving_file_at("serving/data/L0-3-0.parquet", &l0b, 0)),
    ];
    let root = root_of(files, &["t/a", "t/b"]);
    // The naive answer: the newest row per key, an L0 file's merged part left out.
    let mut naive: BTreeMap<Vec<u8>, Order> = BTreeMap::new();
    let merged = key("docs", "guide", &id(300));
    for (rows, skip_below) in [(&l1a, None), (&l1b, None), (&l0, Some(&merged)), (&l0b, None)] {
        for r in rows.iter() {
            let k = key(&r.ns, &r.ty, &r.id);
            if skip_below.is_some_and(|m| k < *m) {
                continue;
            }
            if naive.get(&k).is_none_or(|o| r.order > *o) {
                naive.insert(k, r.order);
            }
        }
    }
    let whole: Vec<(Vec<u8>, Order)> = naive.clone().into_iter().collect();
    let (start, end) = (key("docs", "guide", ""), key("docs", "guide\u{1}", ""));
    // Whatever the bound on work, the calls together give the same rows.
    for (max_pages, max_rows) in [(1000, usize::MAX), (1, usize::MAX), (3, 50), (8, 1)] {
        let (rows, calls) = all(&store, &root, &start, &end, max_pages, max_rows);
        assert_eq!(rows, whole, "max_pages {max_pages}, max_rows {max_rows}");
        if max_pages == 1 {
            assert!(calls > 10, "one page a call: {calls} calls");
        }
    }
    // A sub-range, starting inside a page and ending inside another.
    let (a, b) = (key("docs", "guide", &id(290)), key("docs", "guide", &id(777)));
    let (rows, _) = all(&store, &root, &a, &b, 2, usize::MAX);
    let want: Vec<(Vec<u8>, Order)> = naive.range(a.clone()..b.clone()).map(|(k, o)| (k.clone(), *o)).collect();
    assert_eq!(rows, want);
    // A position just after a key (`key 0x00`) starts at the next key.
    let mut after = key("docs", "guide", &id(5));
    after.push(0);
    let (rows, _) = all(&store, &root, &after, &end, 4, usize::MAX);
    assert_eq!(rows.first().map(|(k, _)| k.clone()), Some(key("docs", "guide", &id(6))));
    // Another type: nothing.
    let (rows, _) = all(&store, &root, &key("docs", "guidf", ""), &key("docs", "guidg", ""), 4, usize::MAX);
    assert!(rows.is_empty());
}

#[test]
fn bounded_work_reads_at_most_max_pages_and_moves() {
    let store = MemStore::default();
    let rows: Vec<SRow> = (0..2000).map(|i| srow(&format!("k{i:05}"), 1, 1, 0, "v")).collect();
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let root = root_of(vec![file], &["t/a"]);
    let (start, end) = (key("docs", "guide", ""), key("docs", "guide\u{1}", ""));
    let mut cost = Cost::default();
    let r = block_on(range(&store, &root, &start, &end, 2, usize::MAX, &mut cost)).unwrap();
    assert_eq!(r.pages, 2);
    // The index region and two pages.
    assert_eq!(cost.reads, 3);
    let resume = r.resume.unwrap();
    assert_eq!(r.rows.last().map(|(k, _)| k < &resume), Some(true));
    assert!(r.rows.len() > 50, "{} rows in two pages", r.rows.len());
    // A corrupt file is an error, never a short range.
    store.objects.borrow_mut().insert("serving/data/L1-1-0.parquet".into(), vec![7; 4096]);
    let mut broken = root.clone();
    broken.files[0].size = 4096;
    broken.files[0].index_offset = 1024;
    assert!(block_on(range(&store, &broken, &start, &end, 2, usize::MAX, &mut Cost::default())).is_err());
}

#[test]
fn files_are_opened_only_when_the_range_reaches_them() {
    let store = MemStore::default();
    let files: Vec<FileEntry> = (0..6)
        .map(|f| {
            let rows: Vec<SRow> = (0..200).map(|i| srow(&format!("k{f}-{i:03}"), 1, 1, 0, "v")).collect();
            put(&store, serving_file(&format!("serving/data/L1-1-{f}.parquet"), &rows))
        })
        .collect();
    let root = root_of(files, &["t/a"]);
    let (start, end) = (key("docs", "guide", ""), key("docs", "guide\u{1}", ""));
    let mut cost = Cost::default();
    let r = block_on(range(&store, &root, &start, &end, 100, 50, &mut cost)).unwrap();
    assert!(r.rows.len() >= 50);
    // One file's index region and its first page: the five other files are not read.
    assert_eq!((cost.files, cost.reads), (1, 2));
    // All of it, one call: every file once.
    let mut cost = Cost::default();
    let r = block_on(range(&store, &root, &start, &end, 1000, usize::MAX, &mut cost)).unwrap();
    assert_eq!((r.rows.len(), r.resume, cost.files), (1200, None, 6));
}
