//! Key-range split of the serving table (#16): past one compactor's rate the serving table is
//! several tables, each holding the keys of one range, each kept by its own compactor.
//!
//! The setting `SERVING_SPLITS` is a comma-separated list of boundaries in ref form: `ns`,
//! `ns/type` or `ns/type/idprefix`. A boundary becomes key bytes by replacing its first two `/`
//! with `0x00` (the key is `ns 0x00 type 0x00 id`, [`super::key`]), so `acme/doc` is every key
//! from `(acme, doc, "")` on. `k` boundaries, strictly increasing as bytes, give `k + 1` tables:
//! with none, one table at `SERVING_ROOT` itself (the unsplit layout); otherwise table `i` at
//! `{SERVING_ROOT}/range-{i}` holding `[b_{i-1}, b_i)` (the first unbounded below, the last
//! above). Each table's root records its range ([`super::root::Root::range`]) so a reader can
//! check that the table it opened covers its key.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A key range `[lo, hi)`; `None` is unbounded on that side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// The least key in the range (inclusive); `None`: unbounded below.
    pub lo: Option<Vec<u8>>,
    /// The end of the range (exclusive); `None`: unbounded above.
    pub hi: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub const ALL: KeyRange = KeyRange { lo: None, hi: None };

    /// Whether `key` is in `[lo, hi)`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.lo.as_deref().is_none_or(|lo| key >= lo) && self.hi.as_deref().is_none_or(|hi| key < hi)
    }

    /// Whether it is unbounded on both sides.
    pub fn is_all(&self) -> bool {
        self.lo.is_none() && self.hi.is_none()
    }
}

/// One table of a split serving table: where it is and which keys it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The table root (`serving/artifacts` unsplit, `serving/artifacts/range-2` split).
    pub root: String,
    /// The least key it holds (inclusive); `None`: unbounded below.
    pub lo: Option<Vec<u8>>,
    /// The end of its keys (exclusive); `None`: unbounded above.
    pub hi: Option<Vec<u8>>,
}

impl Split {
    /// Whether `key` belongs to this table.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.range().contains(key)
    }

    /// Its key range.
    pub fn range(&self) -> KeyRange {
        KeyRange { lo: self.lo.clone(), hi: self.hi.clone() }
    }
}

/// The key bytes of a boundary in ref form (`ns`, `ns/type`, `ns/type/idprefix`): its first two
/// `/` become `0x00`.
pub fn boundary_key(boundary: &str) -> Result<Vec<u8>, String> {
    if boundary.is_empty() {
        return Err(String::from("SERVING_SPLITS: an empty boundary"));
    }
    if boundary.bytes().any(|b| b == 0) {
        return Err(format!("SERVING_SPLITS: boundary {boundary:?} holds a NUL byte"));
    }
    let mut out = Vec::with_capacity(boundary.len());
    let mut slashes = 0u8;
    for b in boundary.bytes() {
        if b == b'/' && slashes < 2 {
            slashes = slashes.saturating_add(1);
            out.push(0);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// The tables of `serving_root` split at `splits` (`SERVING_SPLITS`; empty or blank: one table
/// at `serving_root`). Errors: an empty boundary (`a,,b`), a NUL byte, boundaries not strictly
/// increasing as key bytes.
pub fn parse(serving_root: &str, splits: &str) -> Result<Vec<Split>, String> {
    let root = serving_root.trim().trim_end_matches('/');
    let splits = splits.trim();
    if splits.is_empty() {
        return Ok(alloc::vec![Split { root: String::from(root), lo: None, hi: None }]);
    }
    let mut bounds: Vec<Vec<u8>> = Vec::new();
    for b in splits.split(',') {
        let key = boundary_key(b.trim())?;
        if let Some(prev) = bounds.last() {
            if *prev >= key {
                return Err(format!("SERVING_SPLITS: boundaries must increase strictly ({:?} after the one before it)", b.trim()));
            }
        }
        bounds.push(key);
    }
    let mut out = Vec::with_capacity(bounds.len().saturating_add(1));
    let mut lo: Option<Vec<u8>> = None;
    for (i, hi) in bounds.into_iter().map(Some).chain(core::iter::once(None)).enumerate() {
        out.push(Split { root: format!("{root}/range-{i}"), lo: lo.clone(), hi: hi.clone() });
        lo = hi;
    }
    Ok(out)
}

/// The index of the table of `splits` (as [`parse`] returns them: in key order, covering every
/// key) that holds `key`: the number of boundaries at or below it.
pub fn index_of(splits: &[Split], key: &[u8]) -> usize {
    splits.iter().skip(1).take_while(|s| s.lo.as_deref().is_some_and(|lo| lo <= key)).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::serving::key::key;
    use alloc::vec;

    #[test]
    fn no_boundaries_is_one_table_at_the_root_itself() {
        for s in ["", "  "] {
            let t = parse("serving/artifacts/", s).unwrap();
            assert_eq!(t, vec![Split { root: "serving/artifacts".into(), lo: None, hi: None }]);
            assert!(t[0].contains(b"anything"));
            assert_eq!(index_of(&t, b"x"), 0);
        }
    }

    #[test]
    fn boundaries_become_keys_at_their_first_two_slashes() {
        assert_eq!(boundary_key("acme").unwrap(), b"acme");
        assert_eq!(boundary_key("acme/doc").unwrap(), b"acme\0doc");
        assert_eq!(boundary_key("acme/doc/a/b").unwrap(), b"acme\0doc\0a/b");
        assert!(boundary_key("").is_err());
        assert!(boundary_key("a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn ranges_cover_every_key_once() {
        let t = parse("serving/artifacts", "b, c/doc ,c/doc/m").unwrap();
        assert_eq!(t.len(), 4);
        let roots: Vec<&str> = t.iter().map(|s| s.root.as_str()).collect();
        assert_eq!(
            roots,
            ["serving/artifacts/range-0", "serving/artifacts/range-1", "serving/artifacts/range-2", "serving/artifacts/range-3"]
        );
        assert_eq!(t[0].lo, None);
        assert_eq!(t[0].hi.as_deref(), Some(&b"b"[..]));
        assert_eq!(t[2].lo.as_deref(), Some(&b"c\0doc"[..]));
        assert_eq!(t[3].hi, None);
        let cases = [
            (key("a", "x", "1"), 0),
            (key("az", "zz", "zz"), 0),
            (key("b", "a", ""), 1),
            (key("c", "a", "z"), 1),
            (key("c", "do", "z"), 1),
            (key("c", "doc", ""), 2),
            (key("c", "doc", "l/zz"), 2),
            (key("c", "doc", "m"), 3),
            (key("c", "doc", "ma"), 3),
            (key("c", "docs", "a"), 3),
            (key("d", "a", "a"), 3),
        ];
        for (k, want) in cases {
            assert_eq!(index_of(&t, &k), want, "{k:?}");
            for (i, s) in t.iter().enumerate() {
                assert_eq!(s.contains(&k), i == want, "{k:?} in {i}");
            }
        }
    }

    #[test]
    fn boundaries_must_increase_strictly() {
        assert!(parse("r", "b,a").unwrap_err().contains("increase strictly"));
        assert!(parse("r", "a,a").unwrap_err().contains("increase strictly"));
        // `a/b` is `a 0x00 b`, below `a-` (0x2d) though it reads after it.
        assert!(parse("r", "a-,a/b").is_err());
        assert!(parse("r", "a/b,a-").is_ok());
        assert!(parse("r", "a,,b").unwrap_err().contains("empty boundary"));
        assert!(parse("r", "a,").is_err());
    }

    #[test]
    fn key_range() {
        let r = KeyRange { lo: Some(b"b".to_vec()), hi: Some(b"c".to_vec()) };
        assert!(r.contains(b"b") && r.contains(b"bz") && !r.contains(b"c") && !r.contains(b"a"));
        assert!(KeyRange::ALL.contains(b"") && KeyRange::ALL.is_all() && !r.is_all());
    }
}
