//! Deciding what to read: row-group pruning by statistics, chunk ranges, range merging.

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::footer::{Footer, PhysicalType, Statistics};

/// Row groups (indices, ascending) whose statistics for leaf `column` may contain `value`.
///
/// `value` is PLAIN-encoded like the statistics: the bytes of a BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY
/// (compared bytewise, which is UTF-8 order for strings), 4 or 8 little-endian bytes for INT32 /
/// INT64 (compared signed). Row groups without usable statistics are kept; so are all row groups
/// when `column` does not exist or `value` has the wrong width for the column's type.
pub fn prune_row_groups(footer: &Footer, column: usize, value: &[u8]) -> Vec<usize> {
    footer
        .row_groups
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.columns.get(column) {
            Some(chunk) => match &chunk.statistics {
                Some(stats) => may_contain(chunk.physical_type, stats, value),
                None => true,
            },
            None => true,
        })
        .map(|(i, _)| i)
        .collect()
}

pub(super) fn may_contain(ty: PhysicalType, stats: &Statistics, value: &[u8]) -> bool {
    let (min, max) = match ty {
        // The deprecated min/max of byte arrays used signed byte order in old writers: only the
        // new fields are trusted for them.
        PhysicalType::ByteArray | PhysicalType::FixedLenByteArray => (stats.min_value.as_deref(), stats.max_value.as_deref()),
        PhysicalType::Int32 | PhysicalType::Int64 => {
            (stats.min_value.as_deref().or(stats.min.as_deref()), stats.max_value.as_deref().or(stats.max.as_deref()))
        }
        _ => return true,
    };
    let cmp = |a: &[u8], b: &[u8]| -> Option<Ordering> {
        match ty {
            PhysicalType::Int32 => Some(le_i32(a)?.cmp(&le_i32(b)?)),
            PhysicalType::Int64 => Some(le_i64(a)?.cmp(&le_i64(b)?)),
            _ => Some(a.cmp(b)),
        }
    };
    if let Some(min) = min {
        if cmp(value, min) == Some(Ordering::Less) {
            return false;
        }
    }
    if let Some(max) = max {
        if cmp(value, max) == Some(Ordering::Greater) {
            return false;
        }
    }
    true
}

fn le_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(<[u8; 4]>::try_from(b).ok()?))
}

fn le_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(<[u8; 8]>::try_from(b).ok()?))
}

/// `(offset, length)` of the bytes of leaf `column` in `row_group` (dictionary page included),
/// within the file (checked when the footer was parsed); `None` when either index is out of range.
pub fn chunk_range(footer: &Footer, row_group: usize, column: usize) -> Option<(u64, u64)> {
    footer.chunk(row_group, column).map(|c| c.range())
}

/// Sorts `(offset, length)` ranges and merges those that overlap or lie at most `gap` bytes
/// apart (reading a small gap is cheaper than another request). Empty ranges are dropped.
pub fn merge_ranges(mut ranges: Vec<(u64, u64)>, gap: u64) -> Vec<(u64, u64)> {
    ranges.retain(|&(_, len)| len > 0);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, len) in ranges {
        let end = start.saturating_add(len);
        if let Some((cur_start, cur_len)) = out.last_mut() {
            let cur_end = cur_start.saturating_add(*cur_len);
            if start <= cur_end.saturating_add(gap) {
                *cur_len = end.max(cur_end) - *cur_start;
                continue;
            }
        }
        out.push((start, len));
    }
    out
}

/// The bytes of `want` (`(offset, length)`) inside `buf`, which holds the file's bytes from
/// offset `buf_start` (a read of a merged range). `None` when `want` is not wholly inside.
pub fn slice_within(buf_start: u64, buf: &[u8], want: (u64, u64)) -> Option<&[u8]> {
    let from = usize::try_from(want.0.checked_sub(buf_start)?).ok()?;
    let len = usize::try_from(want.1).ok()?;
    buf.get(from..from.checked_add(len)?)
}
