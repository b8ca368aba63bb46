//! The newest-version order inside one data file: of two rows with equal `ts`, the later row in
//! the file wins, however the file is cut into row groups.

use super::test_table::{row, Builder};

#[test]
fn a_ts_tie_inside_one_file_goes_to_the_later_row_across_row_groups() {
    for rows_per_group in [1, 2, 3, 100] {
        let mut t = Builder::new();
        // Row groups of two rows: `a` first in the first group, again (same ts) in the second.
        let df = t.data(&[row("a", 5, "first"), row("b", 1, "pad"), row("a", 5, "second")], rows_per_group);
        t.commit(vec![df]);
        assert_eq!(t.find("a"), Some((5, "second".to_string())), "{rows_per_group} rows per row group");
    }
}
