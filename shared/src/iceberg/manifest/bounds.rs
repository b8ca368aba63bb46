//! Column bounds (fields 125 and 128, single-value serialization) for pruning data files.
//!
//! String bounds are UTF-8 bytes, and UTF-8 byte order is code point order, so string and binary
//! bounds compare bytewise. Writers may truncate them: a lower bound to a prefix (still ≤ every
//! value), an upper bound to a prefix whose last code point (byte, for binary) is then
//! incremented (still ≥ every value). pyiceberg 0.12 and Java do both, at 16 characters. A writer
//! that truncates an upper bound without incrementing it would make it smaller than values that
//! extend it, so [`may_contain`] also keeps any value the upper bound is a prefix of.

/// A string bound: `None` when the bytes are not UTF-8 (a binary column, or a bound cut inside a
/// character).
pub fn bound_str(bytes: &[u8]) -> Option<&str> {
    core::str::from_utf8(bytes).ok()
}

/// A `long`, `timestamp` or `timestamptz` bound: 8 bytes, little-endian.
pub fn bound_long(bytes: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(bytes).ok().map(i64::from_le_bytes)
}

/// Whether a file whose column has these bounds may hold `value`, comparing bytewise (for string
/// and binary columns only). A missing bound prunes nothing; when in doubt the answer is `true`,
/// so a file that could hold the value is never skipped.
pub fn may_contain(lower: Option<&[u8]>, upper: Option<&[u8]>, value: &[u8]) -> bool {
    if let Some(lower) = lower {
        if value < lower {
            return false;
        }
    }
    match upper {
        None => true,
        Some(upper) => value <= upper || value.starts_with(upper),
    }
}
