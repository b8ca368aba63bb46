//! The tail after a serving table's watermark: only newer data is read, and only when the table
//! only appended since.

use super::test_table::{block_on, row, Builder};
use super::*;
use crate::iceberg::table_metadata::Operation;

/// Commits `rows` as one `append` snapshot; its watermark.
fn append(t: &mut Builder, rows: &[super::test_table::Row]) -> Watermark {
    let df = t.data(rows, 100);
    let snapshot_id = t.commit(vec![df]);
    let snap = t.meta.snapshots.last_mut().unwrap();
    snap.summary.operation = Operation::Append;
    Watermark { snapshot_id, sequence_number: snap.sequence_number }
}

fn tail(t: &Builder, id: &str, after: i64) -> (Option<Found>, Cost) {
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    let mut cost = Cost::default();
    let found = block_on(locate_after(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, after, &mut cost)).unwrap();
    (found, cost)
}

#[test]
fn the_tail_reads_only_data_newer_than_the_watermark() {
    let mut t = Builder::new();
    let first = append(&mut t, &[row("x", 1, "x1"), row("old", 1, "old")]);
    let second = append(&mut t, &[row("x", 2, "x2"), row("y", 2, "y2")]);
    t.store.reads.borrow_mut().clear();
    let (found, cost) = tail(&t, "x", first.sequence_number);
    let found = found.unwrap();
    assert_eq!((found.ts, found.order.sequence_number), (2, second.sequence_number));
    assert_eq!(cost.pruned_manifests, 1, "the first commit's manifest is skipped unread");
    assert_eq!(t.reads_of("m.avro"), 1, "only the second commit's manifest is read");
    // A row absorbed already is not in the tail, even when nothing newer exists.
    assert_eq!(tail(&t, "old", first.sequence_number).0, None);
    assert_eq!(tail(&t, "old", 0).0.map(|f| f.ts), Some(1), "after 0: every commit");
    // At the newest watermark the tail is empty: the manifest list only.
    t.store.reads.borrow_mut().clear();
    assert_eq!(tail(&t, "x", second.sequence_number).0, None);
    assert_eq!((t.reads_of("m.avro"), t.reads_of("snap.avro")), (0, 1));
    // The tail's winner is the full scan's whenever the newest row is after the watermark.
    let full = block_on(locate(
        &t.store,
        &Table { metadata: &t.meta, location_prefix: &t.prefix },
        Wanted { ns: "docs", ty: "guide", id: "x" },
        &At::Current,
        &mut Cost::default(),
    ))
    .unwrap()
    .unwrap();
    assert_eq!(tail(&t, "x", first.sequence_number).0.unwrap(), full);
}

#[test]
fn only_appends_after_the_watermark_may_be_read_as_a_tail() {
    let mut t = Builder::new();
    assert_eq!(appends_only_after(&t.meta, None), Ok(()), "an empty table");
    let first = append(&mut t, &[row("x", 1, "x1")]);
    let second = append(&mut t, &[row("x", 2, "x2")]);
    assert_eq!(appends_only_after(&t.meta, None), Ok(()));
    assert_eq!(appends_only_after(&t.meta, Some(first)), Ok(()));
    assert_eq!(appends_only_after(&t.meta, Some(second)), Ok(()));
    // Not this table's history: another snapshot at the watermark's sequence number.
    let other = Watermark { snapshot_id: 77, sequence_number: first.sequence_number };
    assert!(appends_only_after(&t.meta, Some(other)).unwrap_err().contains("not the watermark snapshot"));
    // A history expired past the watermark cannot be checked.
    let mut expired = t.meta.clone();
    expired.snapshots.retain(|s| s.snapshot_id != first.snapshot_id);
    assert!(appends_only_after(&expired, Some(Watermark { snapshot_id: 1, sequence_number: 0 }))
        .unwrap_err()
        .contains("no longer in the metadata"));
    // A replace after the watermark (the catalog's compaction: no row changes) keeps the tail.
    let mut replaced = t.meta.clone();
    let mut r = replaced.current_snapshot().unwrap().clone();
    r.summary.operation = crate::iceberg::table_metadata::Operation::Replace;
    r.parent_snapshot_id = Some(r.snapshot_id);
    r.snapshot_id = 4242;
    r.sequence_number += 1;
    replaced.snapshots.push(r);
    replaced.current_snapshot_id = Some(4242);
    assert_eq!(appends_only_after(&replaced, Some(first)), Ok(()), "a replace after the watermark is read by number");
    // A delete or overwrite after the watermark: no tail (the serving table may hold rows it
    // removed); before or at the watermark it does not matter.
    let df = t.data(&[row("z", 3, "z")], 100);
    t.commit(vec![df]);
    let err = appends_only_after(&t.meta, Some(second)).unwrap_err();
    assert!(err.ends_with("neither an append nor a replace (overwrite)"), "{err}");
    assert!(appends_only_after(&t.meta, None).is_err());
    let third = t.meta.current_snapshot().map(|s| Watermark { snapshot_id: s.snapshot_id, sequence_number: s.sequence_number }).unwrap();
    assert_eq!(appends_only_after(&t.meta, Some(third)), Ok(()));
}
