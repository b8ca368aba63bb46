//! What the serve worker answers: `/$.content/{ns}/{type}/{id}[@{version}].{ext}` parsed into
//! an artifact reference and a representation, who may read a row, and which row wins.

use alloc::string::String;

use crate::record::{check_id, check_segment, Visibility, MAX_NS_BYTES, MAX_TYPE_BYTES};
use crate::route::percent_decode;
use crate::token::Claims;

/// Route prefix of content reads.
pub const PREFIX: &str = "/$.content/";

/// What a representation is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// One text column, served as is.
    Text {
        /// Column name.
        column: &'static str,
        /// `Content-Type` value.
        content_type: &'static str,
    },
    /// One JSON-text column, served as JSON.
    Json {
        /// Column name.
        column: &'static str,
    },
    /// The whole record as one JSON object.
    Record,
}

/// Known extensions, longest first so the longest suffix wins (`x.mdast.json` is mdast, not json).
pub const EXTENSIONS: &[(&str, Representation)] = &[
    ("frontmatter.json", Representation::Json { column: "frontmatter" }),
    ("estree.json", Representation::Json { column: "estree" }),
    ("mdast.json", Representation::Json { column: "mdast" }),
    ("hast.json", Representation::Json { column: "hast" }),
    ("d.ts", Representation::Text { column: "dts", content_type: "application/typescript; charset=utf-8" }),
    ("html", Representation::Text { column: "html", content_type: "text/html; charset=utf-8" }),
    ("json", Representation::Record),
    ("mdx", Representation::Text { column: "mdx", content_type: "text/mdx; charset=utf-8" }),
    ("mjs", Representation::Text { column: "esm", content_type: "text/javascript; charset=utf-8" }),
    ("css", Representation::Text { column: "css", content_type: "text/css; charset=utf-8" }),
    ("md", Representation::Text { column: "markdown", content_type: "text/markdown; charset=utf-8" }),
    ("js", Representation::Text { column: "esm", content_type: "text/javascript; charset=utf-8" }),
];

/// A version selector: `{id}@{version}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The newest version.
    Latest,
    /// As of an Iceberg snapshot id.
    Snapshot(i64),
    /// As of a time (microseconds since the epoch).
    AsOf(i64),
}

/// A parsed content request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    /// Namespace (percent-decoded).
    pub ns: String,
    /// Artifact type.
    pub ty: String,
    /// Artifact id (may contain dots, and `/` between segments: `guide/install/linux`).
    pub id: String,
    /// The extension as requested (`md`, `d.ts`, …).
    pub ext: &'static str,
    /// What to serve.
    pub representation: Representation,
    /// Which version.
    pub version: Version,
}

/// Why a content path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// Not `{ns}/{type}/{file}`.
    Shape,
    /// A `%` escape is malformed, encodes `/`, or is not UTF-8.
    BadEncoding,
    /// No known extension.
    UnknownExtension,
    /// A segment breaks the path-safe rules.
    BadSegment(&'static str),
    /// `@version` is neither a snapshot id nor an RFC 3339 time.
    BadVersion,
}

impl RouteError {
    /// Human description.
    pub fn description(&self) -> &'static str {
        match self {
            RouteError::Shape => "a content path is /$.content/{ns}/{type}/{id}.{ext}",
            RouteError::BadEncoding => "a path segment has a malformed percent-encoding",
            RouteError::UnknownExtension => {
                "unknown extension: use md, mdx, html, js, mjs, d.ts, css, mdast.json, hast.json, estree.json, frontmatter.json or json"
            }
            RouteError::BadSegment(why) => why,
            RouteError::BadVersion => "a version is a snapshot id or an RFC 3339 time",
        }
    }
}

impl core::fmt::Display for RouteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RouteError {}

/// Parses the part of a path after [`PREFIX`] (still percent-encoded): `{ns}/{type}/` and then
/// everything up to the extension is the id, nested ids included (`docs/guide/install/linux.md`
/// is id `install/linux`). Each segment is percent-decoded on its own (an encoded `/` is refused),
/// so `a/b.md` (id `a/b`) and `a.b.md` (id `a.b`) never meet.
pub fn parse(rest: &str) -> Result<ContentRef, RouteError> {
    let mut parts = rest.splitn(3, '/');
    let (Some(ns), Some(ty), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(RouteError::Shape);
    };
    let ns = percent_decode(ns).ok_or(RouteError::BadEncoding)?;
    let ty = percent_decode(ty).ok_or(RouteError::BadEncoding)?;
    let mut decoded = String::with_capacity(file.len());
    for (i, seg) in file.split('/').enumerate() {
        if i > 0 {
            decoded.push('/');
        }
        decoded.push_str(&percent_decode(seg).ok_or(RouteError::BadEncoding)?);
    }
    let file = decoded;
    let (stem, ext, representation) = EXTENSIONS
        .iter()
        .find_map(|(ext, rep)| {
            let stem = file.strip_suffix(ext)?.strip_suffix('.')?;
            Some((stem, *ext, *rep))
        })
        .ok_or(RouteError::UnknownExtension)?;
    let (id, version) = split_version(stem)?;
    check_segment(&ns, MAX_NS_BYTES).map_err(RouteError::BadSegment)?;
    check_segment(&ty, MAX_TYPE_BYTES).map_err(RouteError::BadSegment)?;
    check_id(id).map_err(RouteError::BadSegment)?;
    Ok(ContentRef { ns, ty, id: id.into(), ext, representation, version })
}

/// `id@version` → (id, version). An `@` whose suffix is not a version stays part of the id
/// (ids may contain `@`), so `team@acme` is an id and `intro@2026-01-01T00:00:00Z` a version.
fn split_version(stem: &str) -> Result<(&str, Version), RouteError> {
    // Only the last segment of a nested id can carry the version.
    let Some((id, v)) = stem.rsplit_once('@').filter(|(_, v)| !v.contains('/')) else { return Ok((stem, Version::Latest)) };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse().map(|s| (id, Version::Snapshot(s))).map_err(|_| RouteError::BadVersion);
    }
    if v.len() >= 10 && v.as_bytes().get(4) == Some(&b'-') && v.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return crate::time::parse_rfc3339(v).map(|t| (id, Version::AsOf(t))).ok_or(RouteError::BadVersion);
    }
    Ok((stem, Version::Latest))
}

/// Who is asking: nobody, or the holder of verified claims.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// No (valid) token.
    Anonymous,
    /// A verified token.
    Token(&'a Claims),
    /// A valid signed URL for exactly this artifact, made by this signer: it reads what the
    /// signer may read *now* (a URL does not outlive the signer's access).
    Signed(&'a crate::signed::Signer),
}

impl<'a> Reader<'a> {
    /// The caller's (org, sub), or the signer's for a signed URL; `None` when anonymous.
    pub fn principal(&self) -> Option<(&'a str, &'a str)> {
        match *self {
            Reader::Anonymous => None,
            Reader::Token(c) => Some((&c.org, &c.sub)),
            Reader::Signed(s) => Some((&s.org, &s.sub)),
        }
    }

    /// The principal that counts for reading namespace `ns`: a token's only when it holds read
    /// scope for `ns` (`read:<ns>`, `read:*`, or a write scope for it: [`Claims::can_read`]);
    /// otherwise the caller reads `ns` as an anonymous one does. A signed URL's signer always
    /// counts: signing needs read scope for the namespace, checked when the URL is made (the
    /// signer's scopes are not in the URL).
    pub fn principal_for(&self, ns: &str) -> Option<(&'a str, &'a str)> {
        match *self {
            Reader::Token(c) if !c.can_read(ns) => None,
            _ => self.principal(),
        }
    }

    /// Whether the caller reads `ns` as a member of `org` (owners' names are shown only inside
    /// their org).
    pub fn in_org(&self, ns: &str, org: &str) -> bool {
        self.principal_for(ns).is_some_and(|(o, _)| o == org)
    }
}

/// Whether `reader` may see a row of namespace `ns`. `public`/`unlisted` need nothing; `org`
/// needs the token's `org` to equal `owner_org`; `user` needs `sub` to equal `owner_user` (and the
/// same org); both need read scope for `ns` ([`Reader::principal_for`]). A signed URL reads what
/// its signer may read now. A refused read must look exactly like a missing artifact.
pub fn may_read(visibility: Visibility, ns: &str, owner_org: &str, owner_user: &str, reader: Reader<'_>) -> bool {
    match (visibility, reader.principal_for(ns)) {
        (Visibility::Public | Visibility::Unlisted, _) => true,
        (_, None) => false,
        (Visibility::Org, Some((org, _))) => org == owner_org,
        (Visibility::User, Some((org, sub))) => org == owner_org && sub == owner_user,
    }
}

/// Where a candidate row came from, for choosing the newest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowOrder {
    /// The record's `ts`.
    pub ts: i64,
    /// The data file's data sequence number.
    pub sequence_number: i64,
    /// Position of the row within its file (and of the file within the commit), later wins.
    pub position: u64,
}

/// Whether `candidate` beats `current`: the greater `ts`, then the greater data sequence
/// number, then the later row.
pub fn newer(candidate: RowOrder, current: RowOrder) -> bool {
    candidate > current
}

/// Across tables: the greater `ts`, then the greater data sequence number (row positions are
/// per table and do not order across tables).
pub fn newer_across_tables(candidate: RowOrder, current: RowOrder) -> bool {
    (candidate.ts, candidate.sequence_number) > (current.ts, current.sequence_number)
}

/// How serve answers a path it cannot parse: 404 for an unknown extension (nothing could be
/// served there), 400 `bad-path` otherwise.
impl From<RouteError> for crate::problem::Problem {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::UnknownExtension => crate::problem::Problem::new(404, "unknown-extension", "Not Found", e.description()),
            _ => crate::problem::Problem::new(400, "bad-path", "Bad Request", e.description()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn rep(path: &str) -> Result<(String, String, String, &'static str, Version), RouteError> {
        parse(path).map(|c| (c.ns, c.ty, c.id, c.ext, c.version))
    }

    #[test]
    fn longest_extension_wins_and_ids_keep_dots() {
        assert_eq!(rep("docs/guide/getting-started_v1.2.md").unwrap().2, "getting-started_v1.2");
        let (_, _, id, ext, _) = rep("docs/api/index.d.ts").unwrap();
        assert_eq!((id.as_str(), ext), ("index", "d.ts"));
        let (_, _, id, ext, _) = rep("docs/guide/intro.mdast.json").unwrap();
        assert_eq!((id.as_str(), ext), ("intro", "mdast.json"));
        let (_, _, id, ext, _) = rep("docs/guide/intro.json").unwrap();
        assert_eq!((id.as_str(), ext), ("intro", "json"));
        assert_eq!(parse("docs/lib/x.mjs").unwrap().representation, parse("docs/lib/x.js").unwrap().representation);
    }

    #[test]
    fn percent_decoding_and_validation() {
        assert_eq!(rep("team%40acme/guide/intro.md").unwrap().0, "team@acme");
        assert_eq!(parse("a/b/c.txt"), Err(RouteError::UnknownExtension));
        assert_eq!(parse("a/b/.md"), Err(RouteError::BadSegment("must not be empty")));
        assert_eq!(parse("../b/c.md"), Err(RouteError::BadSegment("must not be . or ..")));
        assert_eq!(parse("a%2Fb/c/d.md"), Err(RouteError::BadEncoding));
        assert_eq!(parse("a/b/c%zz.md"), Err(RouteError::BadEncoding));
        assert_eq!(parse("a/b"), Err(RouteError::Shape));
        assert_eq!(parse("a/b/c//d.md"), Err(RouteError::BadSegment("must not be empty")));
        assert_eq!(parse("a/b/c/../d.md"), Err(RouteError::BadSegment("must not be . or ..")));
        assert_eq!(parse("a/b/c/./d.md"), Err(RouteError::BadSegment("must not be . or ..")));
        assert_eq!(parse("a/b/c/"), Err(RouteError::UnknownExtension));
        assert_eq!(parse("a/b/c%2Fd.md"), Err(RouteError::BadEncoding));
        assert_eq!(parse("a/b/md"), Err(RouteError::UnknownExtension));
    }

    /// Contract v2: ids may be nested (`guide/install/linux`).
    #[test]
    fn nested_ids() {
        let (ns, ty, id, ext, v) = rep("docs/guide/install/linux.md").unwrap();
        assert_eq!((ns.as_str(), ty.as_str(), id.as_str(), ext, v), ("docs", "guide", "install/linux", "md", Version::Latest));
        // `a/b.md` and `a.b.md` are different ids.
        assert_eq!(rep("d/g/a/b.md").unwrap().2, "a/b");
        assert_eq!(rep("d/g/a.b.md").unwrap().2, "a.b");
        // Extensions are judged on the last segment only; dots in earlier segments stay in the id.
        let (_, _, id, ext, _) = rep("d/g/v1.2/index.d.ts").unwrap();
        assert_eq!((id.as_str(), ext), ("v1.2/index", "d.ts"));
        // A version follows the whole id.
        assert_eq!(rep("d/g/install/linux@123.md").unwrap().2, "install/linux");
        assert_eq!(rep("d/g/install/linux@123.md").unwrap().4, Version::Snapshot(123));
        assert_eq!(rep("d/g/team@acme/linux@7.md").unwrap().2, "team@acme/linux", "an @ in an earlier segment is part of the id");
        assert_eq!(
            parse("d/g/install@2026-01-01T00:00:00Z/linux.md"),
            Err(RouteError::BadSegment("may only contain letters, digits and - _ . @ +"))
        );
        // Each segment decoded on its own.
        assert_eq!(rep("d/g/team%40acme/home.md").unwrap().2, "team@acme/home");
        // The total is bounded like a single id.
        let long = alloc::format!("d/g/{}/{}.md", "a".repeat(200), "b".repeat(56));
        assert_eq!(parse(&long), Err(RouteError::BadSegment("is too long")));
        let fits = alloc::format!("d/g/{}/{}.md", "a".repeat(200), "b".repeat(55));
        assert!(parse(&fits).is_ok());
    }

    #[test]
    fn versions() {
        assert_eq!(rep("a/b/intro@123.md").unwrap().4, Version::Snapshot(123));
        assert_eq!(rep("a/b/intro@2026-01-01T00:00:00Z.md").unwrap().4, Version::AsOf(1_767_225_600_000_000));
        let (_, _, id, _, v) = rep("a/b/team@acme.md").unwrap();
        assert_eq!((id.as_str(), v), ("team@acme", Version::Latest));
        assert_eq!(parse("a/b/intro@2026-13-01T00:00:00Z.md"), Err(RouteError::BadVersion));
        assert_eq!(parse("a/b/intro@99999999999999999999.md"), Err(RouteError::BadVersion));
    }

    #[test]
    fn visibility_rules() {
        let acme_alice =
            Claims { sub: "alice".into(), org: "acme".into(), scopes: alloc::vec!["read:*".into()], exp: 0, nbf: None, iat: None };
        let acme_bob = Claims { sub: "bob".into(), ..acme_alice.clone() };
        let globex_alice = Claims { org: "globex".into(), ..acme_alice.clone() };
        let t = Reader::Token;
        for v in [Visibility::Public, Visibility::Unlisted] {
            assert!(may_read(v, "docs", "acme", "alice", Reader::Anonymous));
        }
        assert!(!may_read(Visibility::Org, "docs", "acme", "alice", Reader::Anonymous));
        assert!(may_read(Visibility::Org, "docs", "acme", "alice", t(&acme_bob)));
        assert!(!may_read(Visibility::Org, "docs", "acme", "alice", t(&globex_alice)));
        assert!(may_read(Visibility::User, "docs", "acme", "alice", t(&acme_alice)));
        assert!(!may_read(Visibility::User, "docs", "acme", "alice", t(&acme_bob)));
        assert!(!may_read(Visibility::User, "docs", "acme", "alice", t(&globex_alice)));
        // Regression (security issue 4): a signed URL passed every check; now it is its signer.
        let globex = crate::signed::Signer { org: "globex".into(), sub: "gary".into() };
        assert!(may_read(Visibility::Public, "docs", "acme", "alice", Reader::Signed(&globex)));
        assert!(!may_read(Visibility::Org, "docs", "acme", "alice", Reader::Signed(&globex)));
        let owner = crate::signed::Signer { org: "acme".into(), sub: "alice".into() };
        assert!(may_read(Visibility::User, "docs", "acme", "alice", Reader::Signed(&owner)));
        assert_eq!(RouteError::Shape.to_string(), RouteError::Shape.description());
    }

    /// Issue 14: `org`/`user` reads need `read:<ns>` or `read:*` (or `write:<ns>`, which implies
    /// read); public and unlisted need nothing. A token without read scope reads the namespace as
    /// an anonymous caller does.
    #[test]
    fn read_scopes() {
        let with = |scopes: &[&str]| Claims {
            sub: "alice".into(),
            org: "acme".into(),
            scopes: scopes.iter().map(|s| String::from(*s)).collect(),
            exp: 0,
            nbf: None,
            iat: None,
        };
        for scopes in [&["read:docs"][..], &["read:*"], &["write:docs"], &["write:*"], &["read:other", "write:docs"]] {
            let c = with(scopes);
            for v in [Visibility::Org, Visibility::User] {
                assert!(may_read(v, "docs", "acme", "alice", Reader::Token(&c)), "{scopes:?} {v:?}");
            }
            assert!(Reader::Token(&c).in_org("docs", "acme"));
        }
        for scopes in [&["read:other"][..], &["write:other"], &[], &["read:doc"], &["read:docs2"], &["read"]] {
            let c = with(scopes);
            for v in [Visibility::Org, Visibility::User] {
                assert!(!may_read(v, "docs", "acme", "alice", Reader::Token(&c)), "{scopes:?} {v:?}");
            }
            for v in [Visibility::Public, Visibility::Unlisted] {
                assert!(may_read(v, "docs", "acme", "alice", Reader::Token(&c)), "{scopes:?} {v:?}");
            }
            assert!(!Reader::Token(&c).in_org("docs", "acme"), "no owners shown without read scope");
            assert_eq!(Reader::Token(&c).principal_for("docs"), None);
            assert_eq!(Reader::Token(&c).principal(), Some(("acme", "alice")), "still a caller with a token (?fresh)");
        }
        let signer = crate::signed::Signer { org: "acme".into(), sub: "alice".into() };
        assert!(may_read(Visibility::Org, "docs", "acme", "x", Reader::Signed(&signer)), "a signer's scope was checked when signing");
    }

    #[test]
    fn newest_version_rules() {
        let r = |ts, sequence_number, position| RowOrder { ts, sequence_number, position };
        assert!(newer(r(2, 0, 0), r(1, 9, 9)), "greater ts wins");
        assert!(newer(r(1, 2, 0), r(1, 1, 9)), "tie on ts: greater sequence number");
        assert!(newer(r(1, 1, 5), r(1, 1, 4)), "then the later row");
        assert!(!newer(r(1, 1, 4), r(1, 1, 4)));
        // Across tables positions do not count: a tie on (ts, sequence number) keeps the first.
        assert!(newer_across_tables(r(2, 0, 0), r(1, 9, 9)));
        assert!(newer_across_tables(r(1, 2, 0), r(1, 1, 9)));
        assert!(!newer_across_tables(r(1, 1, 9), r(1, 1, 0)), "a later position in another table does not win");
    }

    #[test]
    fn route_errors_become_problems() {
        use crate::problem::Problem;
        let p = Problem::from(RouteError::UnknownExtension);
        assert_eq!((p.status, p.slug), (404, "unknown-extension"));
        for e in [RouteError::Shape, RouteError::BadEncoding, RouteError::BadVersion, RouteError::BadSegment("x")] {
            let p = Problem::from(e);
            assert_eq!((p.status, p.slug, p.detail.as_str()), (400, "bad-path", e.description()));
        }
    }
}
