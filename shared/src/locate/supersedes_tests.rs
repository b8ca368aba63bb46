//! Whether a found row lists anything in `supersedes` (#18, the predecessor links of its answers):
//! a row group whose chunk statistics say every value is null needs no read of the column
//! (`Some(false)`); one with a listed ref is unknown (`None`: the answer reads the row's cells),
//! and so is a table whose files carry no statistics.

use super::test_table::{block_on, row, Builder, Row};
use super::*;

fn rows() -> Vec<Row> {
    vec![row("a", 1, "# a"), row("b", 2, "# b"), row("c", 3, "# c"), row("d", 4, "# d")]
}

fn find(t: &Builder, id: &str) -> Found {
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, &At::Current, &mut Cost::default())).unwrap().unwrap()
}

#[test]
fn a_row_group_listing_nothing_is_known_to_list_nothing() {
    let mut t = Builder::new();
    // Row groups of two: [a, b] list nothing (null and empty), [c, d] has one ref.
    let df = t.data_superseding(&rows(), 2, &[None, Some(vec![]), None, Some(vec!["docs/guide/old"])]);
    t.commit(vec![df]);
    assert_eq!(find(&t, "a").lists_supersedes, Some(false));
    assert_eq!(find(&t, "b").lists_supersedes, Some(false));
    assert_eq!(find(&t, "c").lists_supersedes, None, "its row group lists a ref: read the row");
    assert_eq!(find(&t, "d").lists_supersedes, None);
}

#[test]
fn a_file_without_the_column_lists_nothing() {
    let mut t = Builder::new();
    let df = t.data(&rows(), 2);
    t.commit(vec![df]);
    assert_eq!(find(&t, "a").lists_supersedes, Some(false));
}
