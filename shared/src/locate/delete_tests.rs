//! Row-level deletes applied by the locator, on tables built here with our own writers: every
//! expected answer follows from the rows and deletes each test commits, never from reading back.

use super::deletes::{applies, DeleteFile, DeleteKind, RowSite};
use super::test_table::*;
use super::*;
use crate::iceberg::manifest::{ManifestError, PartitionValue};

#[test]
fn a_position_delete_removes_exactly_its_row_and_an_older_version_shows_again() {
    let mut t = Builder::new();
    let a = t.data(&[row("x", 100, "x1"), row("y", 100, "y1")], 1000);
    t.commit(vec![a]);
    // x's second version is row 2 of B, the first row of B's second row group.
    let b = t.data(&[row("p", 150, "p1"), row("q", 150, "q1"), row("x", 200, "x2"), row("r", 150, "r1")], 2);
    let before = t.commit(vec![b.clone()]);
    assert_eq!(t.find("x"), Some((200, "x2".into())));
    let deletes = t.position_deletes(&[(&b, 2)]);
    t.commit(vec![deletes]);
    assert_eq!(t.find("x"), Some((100, "x1".into())), "the deleted newest row gives way to the older one");
    for (id, ts, md) in [("p", 150, "p1"), ("q", 150, "q1"), ("r", 150, "r1"), ("y", 100, "y1")] {
        assert_eq!(t.find(id), Some((ts, md.into())), "{id}: a neighbour of the deleted row stays");
    }
    assert_eq!(t.find_at("x", At::Snapshot(before)), Some((200, "x2".into())), "time travel before the delete");
}

#[test]
fn a_position_delete_applies_to_data_files_of_lower_or_equal_sequence_numbers_only() {
    let mut t = Builder::new();
    // Sequence 1 deletes position 0 of a file that is only added at sequence 2: it must not apply.
    let c = t.data(&[row("z", 100, "z1")], 1000);
    let early = t.position_deletes(&[(&c, 0)]);
    t.commit(vec![early]);
    t.commit(vec![c]);
    assert_eq!(t.find("z"), Some((100, "z1".into())), "data sequence 2 > delete sequence 1");
    // A delete committed with its data file (equal sequence numbers) applies.
    let d = t.data(&[row("w", 100, "w1")], 1000);
    let same = t.position_deletes(&[(&d, 0)]);
    t.commit(vec![d, same]);
    assert_eq!(t.find("w"), None);
}

#[test]
fn an_equality_delete_applies_to_strictly_older_sequence_numbers_only() {
    let mut t = Builder::new();
    let a = t.data(&[row("y", 100, "y1"), row("k", 100, "k1")], 1000);
    t.commit(vec![a]);
    let del = t.equality_deletes(&[("id", vec![Some("y")])]);
    t.commit(vec![del]);
    assert_eq!(t.find("y"), None);
    assert_eq!(t.find("k"), Some((100, "k1".into())));
    // Written again together with an equality delete of the same id: the new row survives (equal
    // sequence numbers), although its ts is older than the deleted one's.
    let e = t.data(&[row("y", 50, "y-again")], 1000);
    let del2 = t.equality_deletes(&[("id", vec![Some("y")])]);
    t.commit(vec![e, del2]);
    assert_eq!(t.find("y"), Some((50, "y-again".into())));
}

#[test]
fn equality_deletes_compare_every_column_and_null_matches_null() {
    let mut t = Builder::new();
    let mut orphan = row("o", 100, "o1");
    orphan.owner_org = None;
    let mut other_type = row("n", 100, "n-ref");
    other_type.ty = "reference";
    let a = t.data(&[row("n", 100, "n1"), other_type, orphan, row("m", 100, "m1")], 1000);
    t.commit(vec![a]);
    // (ns, type, id) = (docs, reference, n) deletes the reference, not the guide.
    let by_key = t.equality_deletes(&[("ns", vec![Some("docs")]), ("type", vec![Some("reference")]), ("id", vec![Some("n")])]);
    // owner_org = null deletes the row without an owner only.
    let by_null = t.equality_deletes(&[("owner_org", vec![None])]);
    t.commit(vec![by_key, by_null]);
    assert_eq!(t.find("n"), Some((100, "n1".into())));
    assert_eq!(t.find("o"), None);
    assert_eq!(t.find("m"), Some((100, "m1".into())));
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let refs = block_on(list(&t.store, &table, "docs", "reference", &At::Current, &mut Cost::default())).unwrap();
    assert!(refs.is_empty(), "{refs:?}");
}

#[test]
fn listing_applies_deletes() {
    let mut t = Builder::new();
    let a = t.data(&[row("a", 100, "a1"), row("b", 100, "b1"), row("c", 100, "c1")], 1000);
    t.commit(vec![a.clone()]);
    let b2 = t.data(&[row("b", 200, "b2")], 1000);
    t.commit(vec![b2.clone()]);
    let pos = t.position_deletes(&[(&a, 0), (&b2, 0)]);
    let eq = t.equality_deletes(&[("id", vec![Some("c")])]);
    t.commit(vec![pos, eq]);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let listed = block_on(list(&t.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
    let got: Vec<(&str, i64)> = listed.iter().map(|(id, f)| (id.as_str(), f.ts)).collect();
    assert_eq!(got, vec![("b", 100)], "a deleted by position, b's newest by position (older b shows), c by equality");
}

#[test]
fn delete_files_are_read_only_when_a_candidate_row_could_be_affected() {
    let mut t = Builder::new();
    let a = t.data(&[row("x", 100, "x1")], 1000);
    t.commit(vec![a.clone()]);
    let pos = t.position_deletes(&[(&a, 5)]);
    let eq = t.equality_deletes(&[("id", vec![Some("zzz")])]);
    t.commit(vec![pos, eq]);
    assert_eq!(t.find("nothing-here"), None);
    assert_eq!(t.reads_of("deletes.parquet"), 0, "no candidate row, no delete file read");
    // The equality delete's id bounds ("zzz") rule it out for x; the position delete is read once.
    assert_eq!(t.find("x"), Some((100, "x1".into())));
    assert_eq!(t.reads_of("eq-deletes.parquet"), 0, "pruned by its bounds on id");
    assert!(t.reads_of("pos-deletes.parquet") >= 1);
}

fn site(seq: i64, spec_id: i32, partition: Vec<(String, PartitionValue)>) -> RowSite {
    RowSite { file_path: "s3://w/a.parquet".into(), sequence_number: seq, spec_id, partition, pos: 0, values: Vec::new() }
}

fn delete(kind: DeleteKind, seq: i64, spec_id: i32, unpartitioned: bool, partition: Vec<(String, PartitionValue)>) -> DeleteFile {
    DeleteFile { key: "d".into(), size: 1, sequence_number: seq, spec_id, unpartitioned, partition, kind }
}

#[test]
fn the_spec_rules_for_which_delete_applies() {
    let part = |ns: &str| vec![("ns".to_string(), PartitionValue::String(ns.into()))];
    let eq = DeleteKind::Equality(vec![3]);
    // Equality: strictly older data, same partition or a global (unpartitioned) delete.
    assert!(applies(&delete(eq.clone(), 5, 1, false, part("docs")), &site(4, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 1, false, part("docs")), &site(5, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 1, false, part("blog")), &site(4, 1, part("docs"))));
    assert!(!applies(&delete(eq.clone(), 5, 2, false, part("docs")), &site(4, 1, part("docs"))));
    assert!(applies(&delete(eq, 5, 0, true, Vec::new()), &site(4, 1, part("docs"))));
    // Position: data at or below the delete's sequence number, the file it refers to.
    let pos = |referenced: Option<&str>, lower: Option<&str>, upper: Option<&str>| DeleteKind::Position {
        referenced: referenced.map(String::from),
        path_lower: lower.map(|s| s.as_bytes().to_vec()),
        path_upper: upper.map(|s| s.as_bytes().to_vec()),
    };
    assert!(applies(&delete(pos(None, None, None), 5, 0, true, Vec::new()), &site(5, 0, Vec::new())));
    assert!(!applies(&delete(pos(None, None, None), 5, 0, true, Vec::new()), &site(6, 0, Vec::new())));
    assert!(!applies(&delete(pos(Some("s3://w/b.parquet"), None, None), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())));
    assert!(!applies(&delete(pos(None, Some("s3://w/b"), Some("s3://w/c")), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())));
    assert!(
        applies(&delete(pos(None, Some("s3://w/a"), Some("s3://w/a")), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())),
        "a truncated upper bound"
    );
}

#[test]
fn deletion_vectors_and_v3_are_a_clear_unsupported_feature() {
    assert_eq!(manifest_error("k", ManifestError::Unsupported("deletion vectors")), LocateError::Unsupported("deletion vectors"));
    assert!(matches!(manifest_error("k", ManifestError::Truncated), LocateError::Corrupt { key, .. } if key == "k"));
}

// ---- the committed fixture: served by tests/serve-deletes.test.mjs, read by pyiceberg too ------

const FIXTURE_PREFIX: &str = "file:///tmp/artifacts-deletes-fixture/";

fn fixture_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/deletes")
}

/// Two tables: `pos` with position deletes only (pyiceberg reads those), and `eq` with equality
/// deletes (and a position delete older than its data file); plus what they must answer, from the
/// scenario itself.
fn fixture() -> (Vec<Builder>, serde_json::Value) {
    let mut pos = Builder::at(FIXTURE_PREFIX, "pos");
    let a = pos.data(&[row("x", 100, "x1"), row("y", 100, "y1"), row("k", 100, "k1")], 1000);
    pos.commit(vec![a.clone()]);
    let b = pos.data(&[row("x", 200, "x2"), row("p", 150, "p1")], 1000);
    pos.commit(vec![b.clone()]);
    let del = pos.position_deletes(&[(&b, 0), (&a, 2)]);
    pos.commit(vec![del]);
    let c = pos.data(&[row("z", 100, "z1")], 1000);
    let del_c = pos.position_deletes(&[(&c, 0)]);
    pos.commit(vec![c, del_c]);

    let mut eq = Builder::at(FIXTURE_PREFIX, "eq");
    let e = eq.data(&[row("e-y", 100, "ey1"), row("e-m", 100, "em1"), row("e-k", 100, "ek1")], 1000);
    eq.commit(vec![e]);
    let del_y = eq.equality_deletes(&[("id", vec![Some("e-y")])]);
    eq.commit(vec![del_y]);
    let again = eq.data(&[row("e-y", 50, "ey-again")], 1000);
    let del_y2 = eq.equality_deletes(&[("id", vec![Some("e-y")])]);
    eq.commit(vec![again, del_y2]);
    let del_m = eq.equality_deletes(&[("ns", vec![Some("docs")]), ("type", vec![Some("guide")]), ("id", vec![Some("e-m")])]);
    eq.commit(vec![del_m]);
    // A position delete naming a file that is only added later (a higher sequence number) does
    // not apply. (pyiceberg 0.12 plans this right but then applies every delete file's positions
    // by path, so it would drop `w`: this case lives in the table pyiceberg does not read.)
    let d = eq.data(&[row("w", 100, "w1")], 1000);
    let early = eq.position_deletes(&[(&d, 0)]);
    eq.commit(vec![early]);
    eq.commit(vec![d]);

    let expected = serde_json::json!({
        "location_prefix": FIXTURE_PREFIX,
        "tables": {
            "pos": "pos/metadata/v1.metadata.json",
            "eq": "eq/metadata/v1.metadata.json",
        },
        // ns docs, type guide: id → the winner (ts, markdown), null when every version is deleted.
        "winners": {
            "x": {"ts": 100, "markdown": "x1"},
            "y": {"ts": 100, "markdown": "y1"},
            "k": null,
            "p": {"ts": 150, "markdown": "p1"},
            "z": null,
            "w": {"ts": 100, "markdown": "w1"},
            "e-y": {"ts": 50, "markdown": "ey-again"},
            "e-m": null,
            "e-k": {"ts": 100, "markdown": "ek1"},
        },
        // Every row a full scan of pos must return (what pyiceberg must see).
        "pos_rows": [
            {"id": "x", "ts": 100, "markdown": "x1"},
            {"id": "y", "ts": 100, "markdown": "y1"},
            {"id": "p", "ts": 150, "markdown": "p1"},
        ],
    });
    (vec![pos, eq], expected)
}

/// Every file of the fixture, by key below the fixture directory.
fn fixture_files(tables: &[Builder], expected: &serde_json::Value) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for t in tables {
        files.extend(t.store.objects.borrow().iter().map(|(k, v)| (k.clone(), v.clone())));
        files.insert(format!("{}/metadata/v1.metadata.json", t.root), t.meta.to_json().into_bytes());
    }
    files.insert("expected.json".into(), serde_json::to_vec_pretty(expected).unwrap());
    files
}

/// Regenerates the fixture: `cargo test -p shared --features reader -- --ignored write_delete_fixture`.
#[test]
#[ignore]
fn write_delete_fixture() {
    let (tables, expected) = fixture();
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    for (key, bytes) in fixture_files(&tables, &expected) {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn the_delete_fixture_is_current_and_answers_as_its_scenario_says() {
    let (tables, expected) = fixture();
    for (key, bytes) in fixture_files(&tables, &expected) {
        let committed = std::fs::read(fixture_dir().join(&key)).unwrap_or_else(|_| panic!("{key} missing: run write_delete_fixture"));
        assert!(committed == bytes, "{key} differs from what the scenario writes: run write_delete_fixture");
    }
    for (id, want) in expected["winners"].as_object().unwrap() {
        let got = tables.iter().filter_map(|t| t.find(id)).max_by_key(|(ts, _)| *ts);
        let want = want.as_object().map(|w| (w["ts"].as_i64().unwrap(), w["markdown"].as_str().unwrap().to_string()));
        assert_eq!(got, want, "{id}");
    }
}

#[test]
fn the_delete_fixture_snapshots_count_their_data_and_delete_files() {
    let (tables, _) = fixture();
    // (root, data files, records, delete files, position deletes, equality deletes) at the end:
    // pos has two position delete files (3 positions); eq three equality delete files (a row
    // each) and one position delete file (1 position).
    let want = [("pos", 3, 6, 2, 3, 0), ("eq", 3, 5, 4, 1, 3)];
    for (t, (root, data_files, records, delete_files, positions, equalities)) in tables.iter().zip(want) {
        assert_eq!(t.root, root);
        let summary = &t.meta.current_snapshot().unwrap().summary.properties;
        let n = |key: &str| summary.get(key).and_then(|v| v.parse::<i64>().ok()).unwrap_or_else(|| panic!("{root}: {key}"));
        assert_eq!(
            [n("total-data-files"), n("total-records"), n("total-delete-files"), n("total-position-deletes"), n("total-equality-deletes")],
            [data_files, records, delete_files, positions, equalities],
            "{root}"
        );
    }
}
