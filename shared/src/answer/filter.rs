//! Listing filters (#18, docs/serve.md "Listing"): `?status=`, `?tag.<key>=<value>`, `?since=`,
//! `?until=` on `GET /$.content/{ns}/{type}/`, judged per row on what the listing reads anyway
//! (`ts`, the tombstone, `tags` from the `_lookup` entry or the locating columns) and the row's
//! status. Every other parameter the route does not take is a 400 `bad-query` naming it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::locate::Found;
use crate::problem::Problem;
use crate::record::{MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES};

/// Parameters the listing route takes besides the filters.
pub const LISTING_PARAMS: &[&str] = &["prefix", "delimiter", "limit", "cursor"];
/// Most `tag.<key>` filters a request may carry.
pub const MAX_TAG_FILTERS: usize = 8;

/// An artifact's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Live, and no live artifact supersedes it.
    Active,
    /// A live artifact lists it in `supersedes`.
    Superseded,
    /// Deleted.
    Tombstoned,
}

impl Status {
    /// `active`, `superseded` or `tombstoned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Superseded => "superseded",
            Status::Tombstoned => "tombstoned",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        [Status::Active, Status::Superseded, Status::Tombstoned].into_iter().find(|x| x.as_str() == s)
    }
}

/// What a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Statuses shown (default: active and superseded).
    pub status: Vec<Status>,
    /// `tag.<key>=<value>`: all must match.
    pub tags: Vec<(String, String)>,
    /// Only rows with `ts ≥ since` (µs).
    pub since: Option<i64>,
    /// Only rows with `ts < until` (µs).
    pub until: Option<i64>,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter { status: alloc::vec![Status::Active, Status::Superseded], tags: Vec::new(), since: None, until: None }
    }
}

fn bad(detail: String) -> Problem {
    Problem::new(400, "bad-query", "Bad Request", detail)
}

/// `since`/`until`: RFC 3339 or µs since the epoch.
fn time(name: &str, v: &str) -> Result<i64, Problem> {
    v.trim()
        .parse::<i64>()
        .ok()
        .or_else(|| crate::time::parse_rfc3339(v.trim()))
        .ok_or_else(|| bad(format!("{name} must be an RFC 3339 time or microseconds since the epoch")))
}

impl Filter {
    /// The filters of a listing's query `pairs`; a parameter neither a filter nor one of
    /// [`LISTING_PARAMS`], a repeated one, or a bad value is a 400 `bad-query` naming it.
    pub fn parse(pairs: &[(String, String)]) -> Result<Filter, Problem> {
        let mut f = Filter::default();
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in pairs {
            if seen.contains(&k.as_str()) {
                return Err(bad(format!("{k} is given twice")));
            }
            seen.push(k);
            match k.as_str() {
                k if LISTING_PARAMS.contains(&k) => {}
                "status" => {
                    let mut status = Vec::new();
                    for s in v.split(',') {
                        status.push(
                            Status::parse(s.trim()).ok_or_else(|| bad(format!("status {s:?} is not active, superseded or tombstoned")))?,
                        );
                    }
                    f.status = status;
                }
                "since" => f.since = Some(time("since", v)?),
                "until" => f.until = Some(time("until", v)?),
                k => match k.strip_prefix("tag.") {
                    Some(key) => {
                        if key.is_empty()
                            || key.len() > MAX_TAG_KEY_BYTES
                            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
                        {
                            return Err(bad(format!("tag key {key:?}: 1 to 64 letters, digits or - _ . : /")));
                        }
                        if v.len() > MAX_TAG_VALUE_BYTES {
                            return Err(bad(format!("tag.{key}: values are at most 256 bytes")));
                        }
                        if f.tags.len() >= MAX_TAG_FILTERS {
                            return Err(bad(format!("at most {MAX_TAG_FILTERS} tag filters")));
                        }
                        f.tags.push((key.to_string(), v.clone()));
                    }
                    None => {
                        return Err(bad(format!(
                            "unknown parameter {k:?}: a listing takes prefix, delimiter, limit, cursor, status, since, until and tag.<key>"
                        )))
                    }
                },
            }
        }
        f.tags.sort();
        Ok(f)
    }

    /// Whether it shows everything a listing without filters shows (and nothing else).
    pub fn is_default(&self) -> bool {
        *self == Filter::default()
    }

    /// The canonical text of the filters (bound into the listing's cursors).
    pub fn canonical(&self) -> String {
        let mut parts: Vec<String> = self.status.iter().map(|s| s.as_str().to_string()).collect();
        parts.sort();
        let mut out = crate::key::compose(&parts.iter().map(String::as_str).collect::<Vec<_>>());
        for (k, v) in &self.tags {
            out.push('|');
            out.push_str(&crate::key::compose(&[k, v]));
        }
        out.push('|');
        out.push_str(&self.since.map(|s| s.to_string()).unwrap_or_default());
        out.push('|');
        out.push_str(&self.until.map(|s| s.to_string()).unwrap_or_default());
        out
    }

    /// Whether `found`, of `status`, passes the time and tag filters and the status filter.
    pub fn shows(&self, found: &Found, status: Status) -> bool {
        if !self.status.contains(&status) {
            return false;
        }
        if self.since.is_some_and(|s| found.ts < s) || self.until.is_some_and(|u| found.ts >= u) {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        let Some(text) = found.tags.as_deref() else { return false };
        let Ok(serde_json::Value::Object(tags)) = serde_json::from_str::<serde_json::Value>(text) else { return false };
        self.tags.iter().all(|(k, v)| tags.get(k).and_then(serde_json::Value::as_str) == Some(v.as_str()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_every_filter_and_refuses_the_rest_by_name() {
        let f = Filter::parse(&pairs(&[
            ("limit", "5"),
            ("status", "superseded,tombstoned"),
            ("tag.team", "docs"),
            ("tag.a:b", "x y"),
            ("since", "2026-01-01T00:00:00Z"),
            ("until", "1800000000000000"),
        ]))
        .unwrap();
        assert_eq!(f.status, [Status::Superseded, Status::Tombstoned]);
        assert_eq!(f.tags, [("a:b".to_string(), "x y".to_string()), ("team".to_string(), "docs".to_string())]);
        assert_eq!(f.since, Some(1_767_225_600_000_000));
        assert_eq!(f.until, Some(1_800_000_000_000_000));
        assert!(Filter::parse(&[]).unwrap().is_default());
        for (q, names) in [
            (pairs(&[("colour", "red")]), "colour"),
            (pairs(&[("status", "gone")]), "gone"),
            (pairs(&[("since", "yesterday")]), "since"),
            (pairs(&[("tag.", "x")]), "tag key"),
            (pairs(&[("tag.a b", "x")]), "tag key"),
            (pairs(&[("tag.a", &"v".repeat(257))]), "256"),
            (pairs(&[("limit", "1"), ("limit", "2")]), "twice"),
        ] {
            let p = Filter::parse(&q).unwrap_err();
            assert_eq!(p.status, 400);
            assert!(p.detail.contains(names), "{names}: {}", p.detail);
        }
        let many: Vec<(String, String)> = (0..9).map(|i| (format!("tag.k{i}"), "v".to_string())).collect();
        assert!(Filter::parse(&many).unwrap_err().detail.contains("at most 8"));
    }

    fn row(ts: i64, tags: Option<&str>) -> Found {
        Found {
            order: crate::content::RowOrder { ts, sequence_number: 1, position: 0 },
            file_key: "f".into(),
            file_size: 1,
            row_group: 0,
            row: 0,
            ts,
            deleted: false,
            visibility: Some("public".into()),
            owner_org: Some("acme".into()),
            owner_user: Some("alice".into()),
            content_hash: Some("h".into()),
            size_bytes: Some(1),
            expires_at: None,
            tags: tags.map(String::from),
            tags_too_long: false,
            lists_supersedes: None,
        }
    }

    #[test]
    fn rows_pass_the_time_tag_and_status_filters() {
        let none = Filter::default();
        assert!(none.shows(&row(5, None), Status::Active));
        assert!(none.shows(&row(5, None), Status::Superseded));
        assert!(!none.shows(&row(5, None), Status::Tombstoned), "tombstones only when asked for");
        let f = Filter::parse(&pairs(&[("tag.team", "docs"), ("tag.tier", "1"), ("since", "10"), ("until", "20"), ("status", "active")]))
            .unwrap();
        let tagged = Some(r#"{"team":"docs","tier":"1","x":"y"}"#);
        assert!(f.shows(&row(10, tagged), Status::Active));
        assert!(!f.shows(&row(20, tagged), Status::Active), "until is exclusive");
        assert!(!f.shows(&row(9, tagged), Status::Active));
        assert!(!f.shows(&row(15, tagged), Status::Superseded));
        assert!(!f.shows(&row(15, Some(r#"{"team":"docs"}"#)), Status::Active), "every tag must match");
        assert!(!f.shows(&row(15, Some(r#"{"team":"docs","tier":1}"#)), Status::Active), "values are strings");
        assert!(!f.shows(&row(15, None), Status::Active));
        assert!(!f.shows(&row(15, Some("not json")), Status::Active));
    }

    #[test]
    fn canonical_forms_differ_when_filters_do() {
        let a = Filter::parse(&pairs(&[("tag.x", "1")])).unwrap();
        let b = Filter::parse(&pairs(&[("tag.x", "2")])).unwrap();
        let c = Filter::parse(&pairs(&[("tag.x", "1"), ("status", "active")])).unwrap();
        assert_ne!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), c.canonical());
        assert_eq!(a.canonical(), Filter::parse(&pairs(&[("tag.x", "1"), ("limit", "3")])).unwrap().canonical());
    }
}
