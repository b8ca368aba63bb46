//! Retention in the serving table (#18, `docs/design/artifact-operations.md`, "Retention"):
//! rows whose own `expires_at` passed more than [`crate::Config::retention_grace_ms`] ago leave
//! the serving table when a run absorbs or merges them. Only `expires_at` counts (a tenant's
//! policy can change; a record's own expiry cannot), and serve already answers such a row as
//! expired, so nothing a reader sees changes.
//!
//! Leaving must not let an older version of the key show again. The rows here are the newest per
//! key of what the run read (`plan::newest_per_key`), so every older version the run read is gone
//! with them; an older version can survive only in a serving file the run did not read (an L0
//! file a merge step does not take, the files before an absorb). So an expired row is
//!
//! - **dropped** when no such file may hold its key (`held_elsewhere` false: the step's range
//!   is the only place the key can be, or a rebuild read every version), else
//! - **kept as a tombstone**: its entry keeps the key, the order and `expires_at`, says
//!   `deleted` and `expired` (`xp`), its tags and values go (cells null but the key and `ts`). It
//!   wins over every older version by the winner rule, as the row did, and serve answers it as
//!   the expired row it stands for; a later merge that meets it drops it by the same rule.

use shared::locate::Cell;
use shared::record::COLUMNS;
use shared::serving::plan::MergeStep;
use shared::serving::root::Root;

use iceberg_writer::serving::ServingRow;

/// What [`expire`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Rows dropped (no row of the key is left).
    pub dropped: u64,
    /// Rows kept as retention tombstones.
    pub tombstoned: u64,
}

/// The `expires_at` (µs) before which a row leaves: `now - grace`.
pub fn cutoff_us(now_ms: i64, grace_ms: i64) -> i64 {
    now_ms.saturating_sub(grace_ms.max(0)).saturating_mul(1000)
}

/// Whether a row expired before `cutoff` (µs).
pub fn is_expired(row: &ServingRow, cutoff: i64) -> bool {
    row.entry.expires_at.is_some_and(|e| e < cutoff)
}

/// `rows` (newest per key, sorted) without the rows expired before `cutoff`: dropped when
/// `held_elsewhere(key)` is false, else turned into retention tombstones (see the module doc).
pub fn expire(rows: Vec<ServingRow>, cutoff: i64, held_elsewhere: impl Fn(&[u8]) -> bool) -> (Vec<ServingRow>, Expired) {
    let mut done = Expired::default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if !is_expired(&row, cutoff) {
            out.push(row);
        } else if held_elsewhere(&row.entry.key) {
            done.tombstoned = done.tombstoned.saturating_add(1);
            out.push(tombstone(row));
        } else {
            done.dropped = done.dropped.saturating_add(1);
        }
    }
    (out, done)
}

/// Whether a serving file of `root` that merge `step` does not read may hold `key` (an L0 file
/// the step does not take whose unmerged range and bloom filter admit it; the step reads every
/// L1 file its range overlaps).
pub fn held_outside(root: &Root, step: &MergeStep, key: &[u8]) -> bool {
    root.candidates(key).iter().any(|f| !step.l1_inputs.contains(&f.key) && !step.l0_inputs.contains(&f.key))
}

/// The retention tombstone of an expired row (idempotent: a tombstone stays itself).
pub fn tombstone(mut row: ServingRow) -> ServingRow {
    let e = &mut row.entry;
    e.deleted = true;
    e.expired = true;
    e.tags = None;
    e.tags_too_long = false;
    e.content_hash = None;
    e.size_bytes = None;
    for (cell, col) in row.cells.iter_mut().zip(COLUMNS) {
        match col.name {
            "ns" | "type" | "id" | "ts" | "visibility" | "owner_org" | "owner_user" | "expires_at" => {}
            "deleted" => *cell = Cell::Bool(true),
            _ => *cell = Cell::Null,
        }
    }
    row
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use shared::serving::entry::Entry;
    use shared::serving::key::key;
    use shared::serving::order::Order;

    fn at(name: &str) -> usize {
        COLUMNS.iter().position(|c| c.name == name).unwrap()
    }

    fn row(id: &str, expires_at: Option<i64>) -> ServingRow {
        let mut cells = vec![Cell::Null; COLUMNS.len()];
        cells[at("ns")] = Cell::Text("docs".into());
        cells[at("type")] = Cell::Text("guide".into());
        cells[at("id")] = Cell::Text(id.into());
        cells[at("ts")] = Cell::Long(5);
        cells[at("markdown")] = Cell::Text("# body".into());
        cells[at("tags")] = Cell::Text(r#"{"a":"b"}"#.into());
        cells[at("deleted")] = Cell::Bool(false);
        cells[at("expires_at")] = expires_at.map_or(Cell::Null, Cell::Long);
        let entry = Entry {
            key: key("docs", "guide", id),
            order: Order { ts: 5, seq: 1, source: 0, pos: 0 },
            deleted: false,
            visibility: Some("public".into()),
            owner_org: Some("acme".into()),
            owner_user: None,
            content_hash: Some("h".into()),
            size_bytes: Some(6),
            expires_at,
            tags: None,
            tags_too_long: false,
            supersedes: false,
            expired: false,
        }
        .with_tags(Some(r#"{"a":"b"}"#.into()));
        ServingRow { entry, cells }
    }

    #[test]
    fn the_cutoff_is_now_minus_the_grace_in_micros() {
        assert_eq!(cutoff_us(10_000, 3_000), 7_000_000);
        assert_eq!(cutoff_us(10_000, -5), 10_000_000, "a negative grace is none");
        assert!(!is_expired(&row("a", Some(7_000_000)), 7_000_000), "expired at the cutoff itself is kept");
        assert!(is_expired(&row("a", Some(6_999_999)), 7_000_000));
        assert!(!is_expired(&row("a", None), i64::MAX), "no expires_at: never");
    }

    #[test]
    fn expired_rows_are_dropped_or_kept_as_tombstones() {
        let rows = vec![row("a", Some(1)), row("b", None), row("c", Some(1)), row("d", Some(100))];
        let (out, done) = expire(rows, 50, |k| k == key("docs", "guide", "c").as_slice());
        assert_eq!(done, Expired { dropped: 1, tombstoned: 1 });
        let ids: Vec<&[u8]> = out.iter().map(|r| r.entry.key.as_slice()).collect();
        assert_eq!(
            ids,
            vec![key("docs", "guide", "b").as_slice(), key("docs", "guide", "c").as_slice(), key("docs", "guide", "d").as_slice()]
        );
        let t = &out[1];
        assert!(t.entry.deleted && t.entry.expired);
        assert_eq!((t.entry.expires_at, t.entry.order, t.entry.tags.as_deref()), (Some(1), row("c", None).entry.order, None));
        assert_eq!((t.cells[at("markdown")].clone(), t.cells[at("tags")].clone()), (Cell::Null, Cell::Null));
        assert_eq!((t.cells[at("deleted")].clone(), t.cells[at("expires_at")].clone()), (Cell::Bool(true), Cell::Long(1)));
        assert_eq!(t.cells[at("id")], Cell::Text("c".into()));
        // A tombstone met again is the same tombstone (or dropped once nothing else holds the key).
        assert_eq!(tombstone(t.clone()), *t);
        let (again, done) = expire(vec![t.clone()], 50, |_| true);
        assert_eq!((again, done.tombstoned), (vec![t.clone()], 1));
        let (gone, done) = expire(vec![t.clone()], 50, |_| false);
        assert_eq!((gone.len(), done.dropped), (0, 1));
        // Its file is a valid serving file.
        assert!(iceberg_writer::serving::write_serving_file(&out, iceberg_writer::WriteCodec::Snappy).is_ok());
    }
}
