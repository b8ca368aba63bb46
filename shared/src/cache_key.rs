//! The cache-key contract between ingest (which bumps a per-artifact generation when a write is
//! confirmed) and serve (which folds that generation into every Cache API key). Purge-on-write
//! works only because both call these functions.

use alloc::string::String;

/// KV key holding an artifact's state: `{"h": dedupe key, "g": generation}`.
pub fn state_key(ns: &str, ty: &str, id: &str) -> String {
    alloc::format!("art:{ns}/{ty}/{id}")
}

/// [`state_key`] for an `ns/type/id` key.
pub fn state_key_of(key: &str) -> String {
    alloc::format!("art:{key}")
}

/// Cache tag for zone purges of every representation of one artifact.
pub fn cache_tag(ns: &str, ty: &str, id: &str) -> String {
    alloc::format!("art:{ns}/{ty}/{id}")
}

/// [`cache_tag`] for an `ns/type/id` key.
pub fn cache_tag_of(key: &str) -> String {
    alloc::format!("art:{key}")
}

/// The cache scope an answer for a row of `visibility` is stored under: `public` for
/// public/unlisted rows, else the principal who may read it (`org:<org>`, `user:<org>:<sub>`),
/// built with [`crate::key::compose`] so an org or sub holding `:` cannot reach another's scope.
pub fn scope(visibility: crate::record::Visibility, owner_org: &str, owner_user: &str) -> String {
    use crate::record::Visibility;
    match visibility {
        Visibility::Public | Visibility::Unlisted => "public".into(),
        Visibility::Org => crate::key::compose(&["org", owner_org]),
        Visibility::User => crate::key::compose(&["user", owner_org, owner_user]),
    }
}

/// The scopes a caller (org, sub) may look up, most shared first; anonymous: `public` only.
pub fn reader_scopes(principal: Option<(&str, &str)>) -> alloc::vec::Vec<String> {
    let mut out = alloc::vec![String::from("public")];
    if let Some((org, sub)) = principal {
        out.push(crate::key::compose(&["org", org]));
        out.push(crate::key::compose(&["user", org, sub]));
    }
    out
}

/// The Cache API key (a URL) for one representation of one artifact.
///
/// `generation` is the artifact's generation from [`state_key`] (0 when none is recorded);
/// `successor` the state's `s` (ms of the last confirmed successor, #18): when not 0 the key
/// holds `&u={successor}`, so a successor moves readers off the predecessor's entries (0: the key
/// as before the stamp existed); `scope` is `public` for public/unlisted content and the caller's
/// principal (e.g. `org:acme`) otherwise, so private content is never reachable under another
/// caller's key.
pub fn cache_key(ns: &str, ty: &str, id: &str, ext: &str, generation: i64, successor: i64, scope: &str) -> String {
    let mut s = alloc::format!("https://artifact-cache.internal/{ns}/{ty}/{id}.{ext}?g={generation}&");
    if successor != 0 {
        s.push_str(&alloc::format!("u={successor}&"));
    }
    s.push_str("s=");
    for b in scope.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@') {
            s.push(char::from(b));
        } else {
            s.push_str(&alloc::format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_and_scope_change_the_key() {
        let a = cache_key("docs", "guide", "intro", "md", 1, 0, "public");
        assert_eq!(a, "https://artifact-cache.internal/docs/guide/intro.md?g=1&s=public");
        assert_ne!(a, cache_key("docs", "guide", "intro", "md", 2, 0, "public"));
        assert_ne!(a, cache_key("docs", "guide", "intro", "md", 1, 0, "org:acme"));
        assert_eq!(
            cache_key("a", "b", "c", "md", 0, 0, "user:x&s=public"),
            "https://artifact-cache.internal/a/b/c.md?g=0&s=user:x%26s%3Dpublic"
        );
        assert_eq!(state_key("a", "b", "c"), "art:a/b/c");
    }

    /// #18: a confirmed successor's stamp changes every key of its predecessor; none (0) keeps the
    /// key exactly as it was before the stamp existed, so no entry is lost to the change.
    #[test]
    fn a_successor_stamp_changes_the_key_and_none_keeps_it() {
        let before = cache_key("docs", "guide", "intro", "md", 1, 0, "public");
        assert_eq!(before, "https://artifact-cache.internal/docs/guide/intro.md?g=1&s=public");
        let after = cache_key("docs", "guide", "intro", "md", 1, 1_700_000_000_123, "public");
        assert_eq!(after, "https://artifact-cache.internal/docs/guide/intro.md?g=1&u=1700000000123&s=public");
        assert_ne!(after, cache_key("docs", "guide", "intro", "md", 1, 1_700_000_000_124, "public"));
        assert_ne!(after, cache_key("docs", "guide", "intro", "md", 1, 1_700_000_000_123, "org:acme"));
    }

    /// Regression (security issue 3): victim org `acme` sub `gh:42` and attacker org `acme:gh`
    /// sub `42` had the same scope `user:acme:gh:42`, so the attacker read the victim's cache.
    #[test]
    fn scopes_of_colliding_principals_differ() {
        use crate::record::Visibility;
        let victim = scope(Visibility::User, "acme", "gh:42");
        assert_ne!(victim, scope(Visibility::User, "acme:gh", "42"));
        assert!(reader_scopes(Some(("acme", "gh:42"))).contains(&victim));
        assert!(!reader_scopes(Some(("acme:gh", "42"))).contains(&victim));
        assert!(!reader_scopes(Some(("acme:gh", "42"))).contains(&scope(Visibility::Org, "acme", "")));
        assert_eq!(reader_scopes(None), alloc::vec![String::from("public")]);
        assert_eq!(scope(Visibility::Unlisted, "acme", "alice"), "public");
        assert_eq!(scope(Visibility::Org, "acme", "alice"), "org:acme");
        assert_eq!(scope(Visibility::User, "acme", "alice"), "user:acme:alice");
    }
}
