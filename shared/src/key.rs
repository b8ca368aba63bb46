//! The one encoding of composite keys: every key built from several parts (cache scope,
//! coalescing, dedupe, idempotency, rate limit, ledger shard) goes through [`compose`], so no two
//! distinct tuples of parts can give the same key, whatever the parts hold.
//!
//! Each part has `%` written as `%25` and `:` as `%3A`, then the parts are joined with `:`. An
//! escaped part holds no `:`, so splitting a key on `:` gives back exactly the escaped parts, and
//! the escaping is undone one way only: the map from tuples to keys is injective (also across
//! tuples of different lengths). Parts without `%` or `:` are written as they are, so keys of
//! plain values read naturally (`user:acme:alice`).

use alloc::string::String;

/// Joins `parts` into one unambiguous key (see the module docs).
pub fn compose(parts: &[&str]) -> String {
    let len = parts.iter().map(|p| p.len().saturating_add(1)).fold(0usize, usize::saturating_add);
    let mut out = String::with_capacity(len);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        for ch in part.chars() {
            match ch {
                '%' => out.push_str("%25"),
                ':' => out.push_str("%3A"),
                c => out.push(c),
            }
        }
    }
    out
}

/// The parts of a key [`compose`] made (the escaping undone); `compose(&split(k)) == k` for every
/// composed key.
pub fn split(key: &str) -> alloc::vec::Vec<String> {
    // By hand: `str::replace` with a string pattern links a substring searcher (KBs of wasm).
    key.split(':')
        .map(|part| {
            let mut out = String::with_capacity(part.len());
            let mut rest = part;
            while let Some(i) = rest.find('%') {
                out.push_str(rest.get(..i).unwrap_or_default());
                let after = rest.get(i..).unwrap_or_default();
                let (ch, skip) = if after.starts_with("%3A") {
                    (':', 3)
                } else if after.starts_with("%25") {
                    ('%', 3)
                } else {
                    ('%', 1)
                };
                out.push(ch);
                rest = after.get(skip..).unwrap_or_default();
            }
            out.push_str(rest);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    #[test]
    fn split_undoes_compose() {
        for parts in [&["user", "acme", "alice"][..], &["a:b", "%3A", "%", ""], &["x"], &["", "", ":%"]] {
            assert_eq!(split(&compose(parts)), parts.iter().map(|p| p.to_string()).collect::<Vec<_>>(), "{parts:?}");
        }
    }
    use alloc::vec::Vec;

    #[test]
    fn plain_parts_read_naturally() {
        assert_eq!(compose(&["user", "acme", "alice"]), "user:acme:alice");
        assert_eq!(compose(&[]), "");
        assert_eq!(compose(&[""]), "");
        assert_eq!(compose(&["", ""]), ":");
    }

    /// Regression (security issue 3): org `acme` + sub `gh:42` and org `acme:gh` + sub `42` gave
    /// the same cache scope `user:acme:gh:42`.
    #[test]
    fn separators_inside_parts_do_not_collide() {
        assert_ne!(compose(&["user", "acme", "gh:42"]), compose(&["user", "acme:gh", "42"]));
        assert_ne!(compose(&["a%3Ab"]), compose(&["a:b"]));
        assert_ne!(compose(&["a", ""]), compose(&["a:"]));
    }

    /// Property: distinct tuples never give the same key. Every tuple of up to 3 parts over a
    /// small alphabet rich in separators and escape characters (exhaustive up to 3 characters a
    /// part), then random longer ones.
    #[test]
    fn distinct_tuples_never_share_a_key() {
        const ALPHABET: [&str; 5] = ["a", ":", "%", "3", "A"];
        let mut parts: Vec<String> = alloc::vec![String::new()];
        let mut frontier: Vec<String> = alloc::vec![String::new()];
        for _ in 0..3 {
            let next: Vec<String> = frontier.iter().flat_map(|p| ALPHABET.iter().map(move |c| alloc::format!("{p}{c}"))).collect();
            parts.extend(next.iter().cloned());
            frontier = next;
        }
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut check = |tuple: Vec<String>| {
            let refs: Vec<&str> = tuple.iter().map(String::as_str).collect();
            let key = compose(&refs);
            if let Some(prev) = seen.insert(key.clone(), tuple.clone()) {
                assert_eq!(prev, tuple, "two tuples share the key {key:?}");
            }
        };
        for a in &parts {
            check(alloc::vec![a.clone()]);
            for b in &parts {
                check(alloc::vec![a.clone(), b.clone()]);
            }
        }
        // Three parts, sampled with a fixed xorshift so the run is repeatable.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            usize::try_from(x % n as u64).unwrap()
        };
        for _ in 0..200_000 {
            let tuple: Vec<String> = (0..3).map(|_| parts[next(parts.len())].clone()).collect();
            check(tuple);
        }
    }
}
