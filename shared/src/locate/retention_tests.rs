//! `expires_at` and `tags` (#18) ride along with the locating columns: every way of finding rows
//! fills them, a table without the columns leaves them `None`, and a lookup reads no more
//! objects for them (their chunks lie next to `deleted`'s, inside the same merged read).

use super::test_table::{block_on, row, Builder, Row};
use super::*;
use crate::iceberg::table_metadata::Operation;

const TAGS: [Option<&str>; 3] = [Some(r#"{"env":"prod"}"#), None, Some(r#"{"a":"1","b":"2"}"#)];
const EXPIRES: [Option<i64>; 3] = [None, Some(1_900_000_000_000_000), Some(5)];

fn rows() -> Vec<Row> {
    vec![row("a", 1, "# a"), row("b", 2, "# b"), row("c", 3, "# c")]
}

/// A table of one append of `rows()`, with the v2 columns or without them.
fn table(v2: bool) -> Builder {
    let mut t = Builder::new();
    let df = if v2 { t.data_v2(&rows(), 2, &TAGS, &EXPIRES) } else { t.data(&rows(), 2) };
    t.commit(vec![df]);
    t.meta.snapshots.last_mut().unwrap().summary.operation = Operation::Append;
    t
}

fn find(t: &Builder, id: &str, cost: &mut Cost) -> Option<Found> {
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, &At::Current, cost)).unwrap()
}

#[test]
fn lookups_and_listings_carry_expires_at_and_tags() {
    let t = table(true);
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    let listed = block_on(list(&t.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
    let tail = block_on(list_after(&t.store, &table, "docs", "guide", 0, &mut Cost::default())).unwrap();
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        let want = (EXPIRES[i], TAGS[i].map(String::from), false);
        let f = find(&t, id, &mut Cost::default()).unwrap();
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "locate {id}");
        let f = block_on(locate_after(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, 0, &mut Cost::default())).unwrap().unwrap();
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "locate_after {id}");
        let f = &listed[id];
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "list {id}");
        let f = &tail[id];
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "list_after {id}");
    }
}

#[test]
fn a_table_without_the_columns_reads_as_no_expiry_and_no_tags() {
    let t = table(false);
    for id in ["a", "b", "c"] {
        let f = find(&t, id, &mut Cost::default()).unwrap();
        assert_eq!((f.expires_at, f.tags, f.tags_too_long), (None, None, false), "{id}");
    }
}

/// The cost the brief fixes: reading the two columns adds no object read to a lookup (they are
/// read with the row group's other locating columns, in the same merged range).
#[test]
fn the_two_columns_cost_a_lookup_no_read() {
    let (v1, v2) = (table(false), table(true));
    for id in ["a", "b", "c", "zz"] {
        let (mut c1, mut c2) = (Cost::default(), Cost::default());
        find(&v1, id, &mut c1);
        find(&v2, id, &mut c2);
        assert_eq!(c1.reads, c2.reads, "{id}: {c1:?} vs {c2:?}");
    }
}
