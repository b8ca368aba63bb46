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
    assert!(applies(&delete(pos(None, Some("s3://w/a"), Some("s3://w/a")), 5, 0, true, Vec::new()), &site(1, 0, Vec::new())), "a truncated upper bound");
}

#[test]
fn deletion_vectors_and_v3_are_a_clear_unsupported_feature() {
    assert_eq!(manifest_error("k", ManifestError::Unsupported("deletion vectors")), LocateError::Unsupported("deletion vectors"));
    assert!(matches!(manifest_error("k", ManifestError::Truncated), LocateError::Corrupt { key, .. } if key == "k"));
}
