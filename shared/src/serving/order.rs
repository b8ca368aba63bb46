//! The winner rule of the serving table: one total order over every row of every source.

use core::cmp::Ordering;

/// Where a row stands among the versions of its key. The greatest is the winner: greater `ts`,
/// then greater `seq`, then the *lower* `source` (the first configured table wins an exact
/// `(ts, seq)` tie across tables, as serve decides without the serving table), then greater
/// `pos`. Within one table this is `content::newer`; across tables `content::newer_across_tables`
/// plus table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Order {
    /// The record's `ts` (µs).
    pub ts: i64,
    /// The source row's data sequence number (`_seq`).
    pub seq: i64,
    /// Index of the source table in the root's `sources` (`_source`).
    pub source: u32,
    /// The row's position within its commit (`_pos`): the locator's position.
    pub pos: u64,
}

impl Ord for Order {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ts.cmp(&other.ts).then(self.seq.cmp(&other.seq)).then(other.source.cmp(&self.source)).then(self.pos.cmp(&other.pos))
    }
}

impl PartialOrd for Order {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Order {
    /// Whether `self` beats `other` (strictly greater).
    pub fn newer(self, other: Order) -> bool {
        self > other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{newer, newer_across_tables, RowOrder};

    use crate::test_rng::Rng;

    #[test]
    fn agrees_with_newer_within_a_table() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let (a, b) = (rng_row(&mut rng), rng_row(&mut rng));
            let source = rng.below(3) as u32;
            let oa = Order { ts: a.ts, seq: a.sequence_number, source, pos: a.position };
            let ob = Order { ts: b.ts, seq: b.sequence_number, source, pos: b.position };
            assert_eq!(oa.newer(ob), newer(a, b), "{a:?} {b:?}");
        }
    }

    fn rng_row(rng: &mut Rng) -> RowOrder {
        RowOrder { ts: rng.below(4) as i64, sequence_number: rng.below(4) as i64, position: rng.below(4) }
    }

    /// serve's loop over tables: a later table replaces the best only when strictly newer across
    /// tables; within a table the newest row by `newer`.
    #[test]
    fn agrees_with_newer_across_tables_and_first_table_wins() {
        let mut rng = Rng(11);
        for _ in 0..5_000 {
            let tables = 1 + rng.below(3) as usize;
            let rows: alloc::vec::Vec<(usize, RowOrder)> =
                (0..1 + rng.below(6)).map(|_| (rng.below(tables as u64) as usize, rng_row(&mut rng))).collect();
            // serve today.
            let mut best: Option<(usize, RowOrder)> = None;
            for t in 0..tables {
                let mut table_best: Option<RowOrder> = None;
                for (_, r) in rows.iter().filter(|(s, _)| *s == t) {
                    if table_best.is_none_or(|b| newer(*r, b)) {
                        table_best = Some(*r);
                    }
                }
                if let Some(f) = table_best {
                    if best.is_none_or(|(_, b)| newer_across_tables(f, b)) {
                        best = Some((t, f));
                    }
                }
            }
            // The serving table's order.
            let max = rows
                .iter()
                .map(|(s, r)| Order { ts: r.ts, seq: r.sequence_number, source: *s as u32, pos: r.position })
                .max()
                .map(|o| (o.source as usize, RowOrder { ts: o.ts, sequence_number: o.seq, position: o.pos }));
            assert_eq!(max, best, "{rows:?}");
        }
    }

    #[test]
    fn lower_source_wins_a_tie() {
        let a = Order { ts: 5, seq: 2, source: 0, pos: 0 };
        let b = Order { ts: 5, seq: 2, source: 1, pos: 99 };
        assert!(a.newer(b));
        assert!(!b.newer(a));
        assert!(Order { ts: 6, ..b }.newer(a));
        assert!(Order { seq: 3, ..b }.newer(a));
        assert!(Order { pos: 1, ..a }.newer(a));
    }
}
