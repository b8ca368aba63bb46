//! The `Link` headers of a read (#18, docs/design/artifact-operations.md "`Link` headers"):
//! `rel="successor-version"` on a superseded artifact's answers, `rel="predecessor-version"` on
//! its successor's, and who may see one. A cached answer is shared by every caller its cache
//! scope admits, so a link names only an artifact each of them may read (and the caller too,
//! which the reader checks before asking here): [`may_link`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::record::Visibility;

/// Most successors an answer links (and looks up).
pub const MAX_SUCCESSORS: usize = 8;
/// Most refs of an answer's own `supersedes` looked up for its predecessor links.
pub const MAX_PREDECESSORS: usize = 16;

/// Which links a latest read looks for. Both off (the default): batch refs, signing and history
/// carry none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Read the row's `supersedes` and link the live ones.
    pub predecessors: bool,
    /// Look for successors in the edge tables (only when the key has a successor stamp, or the
    /// ledger did not answer).
    pub successors: bool,
}

impl Wanted {
    /// Both.
    pub const ALL: Wanted = Wanted { predecessors: true, successors: true };

    /// Whether anything is wanted.
    pub fn any(self) -> bool {
        self.predecessors || self.successors
    }
}

/// Who an answer is shared with: its cache scope's visibility (`public` for public and unlisted
/// rows, `org`, `user`), the scope's org, and the answer's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience<'a> {
    /// The scope's breadth as a visibility ([`Visibility::Public`] for the `public` scope).
    pub scope: Visibility,
    /// The scope's org (`org:O`, `user:O:U`); ignored for `public`.
    pub org: &'a str,
    /// The answer's namespace (private entries are served to callers with read scope for it).
    pub ns: &'a str,
}

/// A link target as the reader judged it: readable by the caller, live, not expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Its visibility.
    pub visibility: Visibility,
    /// Its owner's org.
    pub owner_org: &'a str,
    /// Its namespace.
    pub ns: &'a str,
}

/// Whether an answer shared with `audience` may name `target` (which the caller may read):
/// everyone the entry is served to may read it too.
///
/// - `public` scope: only a `public` target (an `unlisted` one's URL is its secret).
/// - `org:O`: a `public` target, or one of the answer's namespace, `org` or `unlisted`, owned by `O`.
/// - `user:O:U` (one caller): a `public` target, or one of the answer's namespace.
pub fn may_link(audience: Audience<'_>, target: Target<'_>) -> bool {
    if target.visibility == Visibility::Public {
        return true;
    }
    match audience.scope {
        Visibility::Public | Visibility::Unlisted => false,
        Visibility::Org => {
            target.ns == audience.ns
                && matches!(target.visibility, Visibility::Org | Visibility::Unlisted)
                && target.owner_org == audience.org
        }
        Visibility::User => target.ns == audience.ns,
    }
}

/// One `Link` header value: `</$.content/{reference}.{ext}>; rel="{rel}"`. `reference` must have
/// passed `crate::record::check_reference` (letters, digits and `- _ . @ + /` only: nothing to
/// escape inside `<>`).
pub fn value(reference: &str, ext: &str, rel: &str) -> String {
    alloc::format!("<{}{reference}.{ext}>; rel=\"{rel}\"", crate::content::PREFIX)
}

/// The links of an answer: successors first, then predecessors, each list in the order found.
pub fn values(successors: &[String], predecessors: &[String], ext: &str) -> Vec<String> {
    let succ = successors.iter().map(|r| value(r, ext, "successor-version"));
    let pred = predecessors.iter().map(|r| value(r, ext, "predecessor-version"));
    succ.chain(pred).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const VIS: [Visibility; 4] = [Visibility::Public, Visibility::Unlisted, Visibility::Org, Visibility::User];

    fn target(visibility: Visibility, owner_org: &'static str, ns: &'static str) -> Target<'static> {
        Target { visibility, owner_org, ns }
    }

    #[test]
    fn a_public_answer_links_public_targets_only() {
        for scope in [Visibility::Public, Visibility::Unlisted] {
            let a = Audience { scope, org: "acme", ns: "docs" };
            assert!(may_link(a, target(Visibility::Public, "other", "elsewhere")));
            for v in [Visibility::Unlisted, Visibility::Org, Visibility::User] {
                assert!(!may_link(a, target(v, "acme", "docs")), "{v:?} in a public answer");
            }
        }
    }

    #[test]
    fn an_org_answer_links_what_every_member_with_the_namespace_may_read() {
        let a = Audience { scope: Visibility::Org, org: "acme", ns: "docs" };
        assert!(may_link(a, target(Visibility::Public, "other", "elsewhere")));
        assert!(may_link(a, target(Visibility::Org, "acme", "docs")));
        assert!(may_link(a, target(Visibility::Unlisted, "acme", "docs")));
        assert!(!may_link(a, target(Visibility::Org, "acme", "private-ns")), "another namespace: some members lack its scope");
        assert!(!may_link(a, target(Visibility::Org, "other", "docs")), "another org's");
        assert!(!may_link(a, target(Visibility::Unlisted, "other", "docs")));
        assert!(!may_link(a, target(Visibility::User, "acme", "docs")), "one user's: not every member's");
    }

    #[test]
    fn a_user_answer_links_what_its_one_reader_may_read_in_the_namespace() {
        let a = Audience { scope: Visibility::User, org: "acme", ns: "docs" };
        for v in VIS {
            assert!(may_link(a, target(v, "acme", "docs")), "{v:?}");
        }
        assert!(may_link(a, target(Visibility::Public, "x", "other")));
        assert!(!may_link(a, target(Visibility::Org, "acme", "other")));
    }

    #[test]
    fn header_values() {
        assert_eq!(value("a/b/c/d", "md", "successor-version"), "</$.content/a/b/c/d.md>; rel=\"successor-version\"");
        assert_eq!(
            values(&[String::from("a/b/n")], &[String::from("a/b/o"), String::from("a/b/p")], "json"),
            vec![
                String::from("</$.content/a/b/n.json>; rel=\"successor-version\""),
                String::from("</$.content/a/b/o.json>; rel=\"predecessor-version\""),
                String::from("</$.content/a/b/p.json>; rel=\"predecessor-version\""),
            ]
        );
        assert!(!Wanted::default().any() && Wanted::ALL.any());
    }
}
