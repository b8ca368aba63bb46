//! The key of a row: `ns 0x00 type 0x00 id`. Path segments and ids never contain `0x00` and
//! every byte they may hold is greater, so the byte order of keys is the order of
//! `(ns, type, id)` tuples.

use alloc::vec::Vec;

/// The key of `(ns, ty, id)`. The parts must not contain `0x00` (no valid path segment or id
/// does); [`split`] refuses a key built from parts that did.
pub fn key(ns: &str, ty: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len().saturating_add(ty.len()).saturating_add(id.len()).saturating_add(2));
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(ty.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// `(ns, type, id)` of a key: `None` unless it has exactly two `0x00` separators and three
/// UTF-8 parts.
pub fn split(k: &[u8]) -> Option<(&str, &str, &str)> {
    let mut parts = k.split(|b| *b == 0);
    let ns = core::str::from_utf8(parts.next()?).ok()?;
    let ty = core::str::from_utf8(parts.next()?).ok()?;
    let id = core::str::from_utf8(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((ns, ty, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = key("acme", "doc", "a/b.c");
        assert_eq!(k, b"acme\0doc\0a/b.c");
        assert_eq!(split(&k), Some(("acme", "doc", "a/b.c")));
        assert_eq!(split(b"a\0b"), None);
        assert_eq!(split(b"a\0b\0c\0d"), None);
        assert_eq!(split(b"a\0b\0\xff"), None);
    }

    #[test]
    fn byte_order_is_tuple_order() {
        let tuples =
            [("a", "b", "c"), ("a", "b", "cd"), ("a", "bc", "a"), ("ab", "a", "a"), ("a", "b", "b"), ("a-", "x", "y"), ("a", "b-", "c")];
        for x in tuples {
            for y in tuples {
                assert_eq!(key(x.0, x.1, x.2).cmp(&key(y.0, y.1, y.2)), x.cmp(&y), "{x:?} {y:?}");
            }
        }
    }
}
