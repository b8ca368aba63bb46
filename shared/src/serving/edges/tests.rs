use super::*;
use crate::serving::key::key;
use crate::serving::root::{FileEntry, SourceState};
use crate::test_rng::Rng;

/// Bytes from an alphabet that holds the escapes' bytes and the extremes.
fn bytes(rng: &mut Rng, max: u64) -> Vec<u8> {
    let alphabet = [0u8, 1, 2, 3, b'/', b'a', b'z', 0x7f, 0xc3, 0xff];
    (0..rng.below(max + 1)).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect()
}

fn kind(rng: &mut Rng) -> Kind {
    Kind::ALL[rng.below(2) as usize]
}

#[test]
fn keys_round_trip_and_sort_as_kind_target_source() {
    let mut rng = Rng(17);
    let edges: Vec<(Kind, Vec<u8>, Vec<u8>)> = (0..400).map(|_| (kind(&mut rng), bytes(&mut rng, 5), bytes(&mut rng, 5))).collect();
    for (k, t, s) in &edges {
        let key = edge_key(*k, t, s);
        assert_eq!(key.iter().filter(|b| **b == 0).count(), 2, "a serving key of three parts");
        assert_eq!(split_edge_key(&key), Some((*k, t.clone(), s.clone())));
    }
    for a in &edges {
        for b in edges.iter().take(60) {
            assert_eq!(edge_key(a.0, &a.1, &a.2).cmp(&edge_key(b.0, &b.1, &b.2)), a.cmp(b), "{a:?} {b:?}");
        }
    }
}

#[test]
fn keys_of_serving_keys_are_serving_keys() {
    let target = key("docs", "guide", "install/linux");
    let source = key("build", "site", "v2");
    let k = edge_key(Kind::Supersedes, &target, &source);
    assert_eq!(k, b"s\0docs\x01\x01guide\x01\x01install/linux\0build\x01\x01site\x01\x01v2");
    assert_eq!(
        crate::serving::key::split(&k),
        Some(("s", "docs\u{1}\u{1}guide\u{1}\u{1}install/linux", "build\u{1}\u{1}site\u{1}\u{1}v2"))
    );
}

#[test]
fn split_refuses_what_edge_key_never_writes() {
    for bad in [&b"x\0a\0b"[..], b"ii\0a\0b", b"\0a\0b", b"i\0a", b"i\0a\0b\0c", b"i\0a\x01\x03\0b", b"i\0a\0b\x01"] {
        assert_eq!(split_edge_key(bad), None, "{bad:?}");
    }
}

#[test]
fn refs_are_ns_type_and_the_rest_as_id() {
    assert_eq!(ref_key("docs/guide/a/b.md"), Some(key("docs", "guide", "a/b.md")));
    assert_eq!(ref_key("docs/guide"), None);
    assert_eq!(ref_key("docs//a"), None);
    assert_eq!(ref_key("/guide/a"), None);
    assert_eq!(ref_key("docs/guide/"), None);
    assert_eq!(ref_key("docs/gu\0ide/a"), None);
}

#[test]
fn the_range_into_a_target_holds_exactly_its_edges() {
    let mut rng = Rng(23);
    let edges: Vec<(Kind, Vec<u8>, Vec<u8>)> = (0..300).map(|_| (kind(&mut rng), bytes(&mut rng, 3), bytes(&mut rng, 3))).collect();
    for (k, t, _) in edges.iter().take(80) {
        let (start, end) = into_target(*k, t);
        for (k2, t2, s2) in &edges {
            let key = edge_key(*k2, t2, s2);
            let inside = start <= key && key < end;
            assert_eq!(inside, k == k2 && t == t2, "{k:?} {t:?} against {k2:?} {t2:?} {s2:?}");
        }
    }
}

#[test]
fn the_range_of_targets_holds_exactly_the_edges_whose_target_is_in_it() {
    let mut rng = Rng(29);
    let edges: Vec<(Kind, Vec<u8>, Vec<u8>)> = (0..300).map(|_| (kind(&mut rng), bytes(&mut rng, 3), bytes(&mut rng, 3))).collect();
    for _ in 0..200 {
        let (lo, hi) = (bytes(&mut rng, 3), bytes(&mut rng, 3));
        let hi = (rng.below(4) > 0).then_some(hi);
        let k = kind(&mut rng);
        let (start, end) = targets_between(k, &lo, hi.as_deref());
        for (k2, t2, s2) in &edges {
            let key = edge_key(*k2, t2, s2);
            let inside = start <= key && key < end;
            let want = *k2 == k && *t2 >= lo && hi.as_ref().is_none_or(|h| t2 < h);
            assert_eq!(inside, want, "{k:?} [{lo:?}, {hi:?}) against {k2:?} {t2:?} {s2:?}");
        }
    }
}

#[test]
fn an_edge_is_a_serving_entry_with_the_source_rows_order() {
    let order = Order { ts: -5, seq: 9, source: 2, pos: 1 << 41 };
    let e = Edge { kind: Kind::Input, target: key("a", "b", "c"), source: key("d", "e", "f/g"), order };
    let entry = e.entry().unwrap();
    assert_eq!(entry.key, e.key());
    assert_eq!(entry.order, order);
    assert!(!entry.deleted && entry.visibility.is_none() && entry.owner_org.is_none());
    assert_eq!(Edge::of_entry(&entry), Some(e.clone()));
    // What the serving writer stores decodes to the same edge.
    assert_eq!(Entry::decode(&entry.encode()).and_then(|d| Edge::of_entry(&d)), Some(e));
}

#[test]
fn an_edge_is_valid_only_while_its_source_row_is_current() {
    let o = Order { ts: 5, seq: 2, source: 0, pos: 3 };
    assert!(valid(o, Some(o)));
    assert!(!valid(o, None), "the source is gone");
    assert!(!valid(o, Some(Order { ts: 6, ..o })), "rewritten since");
    assert!(!valid(o, Some(Order { source: 1, ..o })), "another table's row");
    assert!(!valid(Order { pos: 4, ..o }, Some(o)), "an edge newer than what the reader sees is not vouched for");
}

fn sample_root() -> Root {
    let mut r = Root::empty("serving/metadata/v3-ab.metadata.json".into(), Vec::new());
    r.version = 3;
    r.sources = ["artifacts/preview", "artifacts/build"]
        .iter()
        .map(|id| SourceState {
            id: (*id).into(),
            metadata: None,
            snapshot_id: Some(7),
            sequence_number: Some(7),
            mode: None,
            error: None,
            gap: None,
        })
        .collect();
    r.files.push(file("serving/data/L1-3-ab-0.parquet", 1, &key("a", "b", "c"), &key("a", "b", "d")));
    r
}

fn file(k: &str, level: u8, min: &[u8], max: &[u8]) -> FileEntry {
    FileEntry {
        key: k.into(),
        size: 100,
        level,
        rows: 2,
        min: min.to_vec(),
        max: max.to_vec(),
        index_offset: 50,
        merged_through: None,
        bloom: None,
    }
}

#[test]
fn the_edge_table_rides_in_the_serving_root_and_older_readers_ignore_it() {
    let serving = sample_root();
    // No edges: the root's JSON is what it was.
    assert_eq!(root_json(&serving, &empty(&serving)), serving.to_json());
    assert_eq!(edge_root(serving.to_json().as_bytes(), &serving).unwrap(), empty(&serving));

    let mut edges = empty(&serving);
    let (t, s) = (key("a", "b", "x"), key("a", "b", "y"));
    edges.files.push(file("serving/data/L1-3-ab-1.parquet", 1, &edge_key(Kind::Input, &t, &s), &edge_key(Kind::Supersedes, &t, &s)));
    let mut l0 = file("serving/data/L0-3-ab-2.parquet", 0, &edge_key(Kind::Input, &t, &t), &edge_key(Kind::Input, &s, &t));
    l0.merged_through = Some(edge_key(Kind::Input, &t, &s));
    edges.files.push(l0);
    edges.merge_cursor = Some(edge_key(Kind::Input, &s, &s));
    let json = root_json(&serving, &edges);
    assert!(json.contains(",\"edges\":{\"format\":1,\"version\":3,\"metadata\":\"\",\"sources\":[],\"files\":["), "{json}");
    // Readers of the serving root see the same root.
    assert_eq!(Root::parse(json.as_bytes()).unwrap(), serving);
    assert_eq!(edge_root(json.as_bytes(), &serving).unwrap(), edges);
}

#[test]
fn a_malformed_edges_member_is_an_error() {
    let serving = sample_root();
    let json = serving.to_json();
    let with = |member: &str| format!("{},\"edges\":{member}}}", json.strip_suffix('}').unwrap());
    assert!(edge_root(with("{\"format\":1}").as_bytes(), &serving).unwrap_err().starts_with("edges: not a serving root"));
    let other_version = with("{\"format\":1,\"version\":2,\"metadata\":\"\",\"sources\":[],\"files\":[],\"merge_cursor\":null}");
    assert_eq!(edge_root(other_version.as_bytes(), &serving).unwrap_err(), "edges: version 2 in the root of version 3");
    assert!(edge_root(b"not json", &serving).is_err());
}

#[cfg(feature = "reader")]
mod read {
    use super::*;
    use crate::locate::test_table::{block_on, MemStore};
    use crate::locate::{Cell, Cost};
    use crate::record::COLUMNS;
    use crate::writer::parquet::WriteCodec;
    use crate::writer::serving::{write_serving_file, ServingRow};

    /// An edge file as the compactor writes it (newest per edge key, sorted), stored.
    fn put(store: &MemStore, name: &str, level: u8, edges: &[Edge]) -> FileEntry {
        let mut rows: Vec<ServingRow> = edges
            .iter()
            .map(|e| {
                let entry = e.entry().unwrap();
                let (ns, ty, id) = crate::serving::key::split(&entry.key).unwrap();
                let cells = COLUMNS
                    .iter()
                    .map(|c| match c.name {
                        "ns" => Cell::Text(ns.into()),
                        "type" => Cell::Text(ty.into()),
                        "id" => Cell::Text(id.into()),
                        "ts" => Cell::Long(e.order.ts),
                        _ => Cell::Null,
                    })
                    .collect();
                ServingRow { entry, cells }
            })
            .collect();
        rows.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
        let file = write_serving_file(&rows, WriteCodec::Snappy).unwrap();
        let k = format!("serving/data/{name}.parquet");
        store.objects.borrow_mut().insert(k.clone(), file.written.bytes.clone());
        file.file_entry(k, level)
    }

    fn edge(kind: Kind, target: &str, source: &str, ts: i64) -> Edge {
        Edge { kind, target: key("d", "t", target), source: key("d", "t", source), order: Order { ts, seq: 1, source: 0, pos: 0 } }
    }

    #[test]
    fn sources_of_a_target_newest_per_edge_across_l1_and_l0() {
        let store = MemStore::default();
        let serving = sample_root();
        let mut l1_edges = Vec::new();
        // Many targets, so the table spans pages; `lib` is used by 300 sources.
        for i in 0..300 {
            l1_edges.push(edge(Kind::Input, "lib", &format!("app{i:03}"), 10));
            l1_edges.push(edge(Kind::Input, &format!("other{i:03}"), &format!("app{i:03}"), 10));
        }
        l1_edges.push(edge(Kind::Supersedes, "lib", "lib2", 10));
        let mut edges = empty(&serving);
        edges.files.push(put(&store, "L1-3-ab-0", 1, &l1_edges));
        // A later run rewrote app005 (still using lib) and added app999.
        edges.files.push(put(&store, "L0-3-ab-1", 0, &[edge(Kind::Input, "lib", "app005", 20), edge(Kind::Input, "lib", "app999", 20)]));

        let mut cost = Cost::default();
        let all = block_on(sources_of(&store, &edges, Kind::Input, &key("d", "t", "lib"), 1000, &mut cost)).unwrap();
        assert_eq!(all.len(), 301);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "by source key");
        assert_eq!(all[5], (key("d", "t", "app005"), Order { ts: 20, seq: 1, source: 0, pos: 0 }), "the newest edge");
        assert_eq!(all[0].1.ts, 10);
        assert_eq!(all[300].0, key("d", "t", "app999"));

        let first = block_on(sources_of(&store, &edges, Kind::Input, &key("d", "t", "lib"), 3, &mut Cost::default())).unwrap();
        assert_eq!(first, all[..3].to_vec());
        let s = block_on(sources_of(&store, &edges, Kind::Supersedes, &key("d", "t", "lib"), 10, &mut Cost::default())).unwrap();
        assert_eq!(s.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), [key("d", "t", "lib2")]);
        let none = block_on(sources_of(&store, &edges, Kind::Supersedes, &key("d", "t", "li"), 10, &mut Cost::default())).unwrap();
        assert!(none.is_empty(), "a prefix of a target is another target");

        // One target among many costs its own pages only.
        let mut cost = Cost::default();
        let one = block_on(sources_of(&store, &edges, Kind::Input, &key("d", "t", "other150"), 10, &mut cost)).unwrap();
        assert_eq!(one, [(key("d", "t", "app150"), Order { ts: 10, seq: 1, source: 0, pos: 0 })]);
        assert!(cost.reads <= 3, "index region and one or two pages of the L1 file: {cost:?}");
    }

    #[test]
    fn superseded_in_reads_the_s_edges_of_a_key_range() {
        let store = MemStore::default();
        let serving = sample_root();
        let l1 = [
            edge(Kind::Supersedes, "a1", "b1", 1),
            edge(Kind::Supersedes, "a2", "b2", 1),
            edge(Kind::Supersedes, "a2", "b3", 1),
            edge(Kind::Supersedes, "c1", "b4", 1),
            edge(Kind::Input, "a2", "z", 1),
        ];
        let mut edges = empty(&serving);
        edges.files.push(put(&store, "L1-3-ab-0", 1, &l1));
        let lo = key("d", "t", "a");
        let mut hi = key("d", "t", "a");
        hi.push(0xff);
        let got = block_on(superseded_in(&store, &edges, &lo, Some(&hi), 8, &mut Cost::default())).unwrap();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = got.edges.iter().map(|e| (e.target.clone(), e.source.clone())).collect();
        assert_eq!(
            pairs,
            [
                (key("d", "t", "a1"), key("d", "t", "b1")),
                (key("d", "t", "a2"), key("d", "t", "b2")),
                (key("d", "t", "a2"), key("d", "t", "b3")),
            ]
        );
        assert!(got.edges.iter().all(|e| e.kind == Kind::Supersedes));
        assert_eq!(got.resume, None);
        let everything = block_on(superseded_in(&store, &edges, &[], None, 8, &mut Cost::default())).unwrap();
        assert_eq!(everything.edges.len(), 4);
    }

    #[test]
    fn a_tail_rows_order_is_its_serving_rows() {
        let found = crate::locate::Found { order: crate::content::RowOrder { ts: 4, sequence_number: 7, position: 9 }, ..found_sample() };
        assert_eq!(order_of_found(&found, 2), Order { ts: 4, seq: 7, source: 2, pos: 9 });
    }

    fn found_sample() -> crate::locate::Found {
        // Through the serving lookup's own conversion, so new members of `Found` need no change here.
        let store = MemStore::default();
        let serving = sample_root();
        let mut edges = empty(&serving);
        edges.files.push(put(&store, "L1-3-ab-0", 1, &[edge(Kind::Input, "x", "y", 1)]));
        let k = edge_key(Kind::Input, &key("d", "t", "x"), &key("d", "t", "y"));
        block_on(crate::serving::lookup::lookup(&store, &edges, &k, &mut Cost::default())).unwrap().unwrap().found
    }
}
