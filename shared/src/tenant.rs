//! Per-tenant settings: the JSON value at `tenant:<org>` (KV `ARTIFACT_STATE`, key [`key`]), read by
//! ingest (limits, default visibility) and serve (cache windows, CORS origins). One codec for both.
//!
//! ```json
//! {"max_body_bytes": 1048576, "max_artifacts_per_request": 1000, "default_visibility": "org",
//!  "cache": {"fresh_seconds": 60, "stale_seconds": 30}, "cors_origins": ["https://app.example"]}
//! ```
//! Every member is optional; a member of the wrong type counts as absent.

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::Value;

use crate::record::{Mode, Visibility};

/// The KV key of `org`'s settings, through the one composite-key encoding.
pub fn key(org: &str) -> String {
    crate::key::compose(&["tenant", org])
}

/// A tenant's overrides; `None` keeps the worker's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tenant {
    /// `max_body_bytes` (ingest; may only tighten the default).
    pub max_body_bytes: Option<u64>,
    /// `max_artifacts_per_request` (ingest; may only tighten the default).
    pub max_artifacts_per_request: Option<u64>,
    /// `default_visibility` for records that name none (ingest).
    pub default_visibility: Option<Visibility>,
    /// `cache.fresh_seconds` (serve).
    pub fresh_seconds: Option<u64>,
    /// `cache.stale_seconds` (serve).
    pub stale_seconds: Option<u64>,
    /// `pending_modes` (ingest, #17): modes besides `preview` whose writes the ledger keeps a
    /// pending copy of, so they are readable before the sink commits (`["build"]`; unknown names
    /// are ignored), as a set: [`Tenant::keeps_copies`].
    pub pending_modes: PendingModes,
}

/// A set of modes, a bit each (preview 1, build 2, bulk 4): ingest's per-request check is a mask
/// test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingModes(pub u8);

impl PendingModes {
    /// The bit of a mode's name (0: not a mode).
    fn bit(name: Option<&str>) -> u8 {
        match name {
            Some("preview") => 1,
            Some("build") => 2,
            Some("bulk") => 4,
            _ => 0,
        }
    }

    /// Whether `mode` is in the set.
    pub fn contains(self, mode: Mode) -> bool {
        self.0 & PendingModes::bit(Some(mode.as_str())) != 0
    }
}

impl Tenant {
    /// Parses the KV value; anything that is not a JSON object is no overrides.
    pub fn parse(text: &str) -> Tenant {
        let Ok(Value::Object(t)) = serde_json::from_str::<Value>(text) else { return Tenant::default() };
        let cache = t.get("cache");
        let cache_u64 = |name: &str| cache.and_then(|c| c.get(name)).and_then(Value::as_u64);
        Tenant {
            max_body_bytes: t.get("max_body_bytes").and_then(Value::as_u64),
            max_artifacts_per_request: t.get("max_artifacts_per_request").and_then(Value::as_u64),
            default_visibility: t.get("default_visibility").and_then(Value::as_str).and_then(Visibility::parse),
            fresh_seconds: cache_u64("fresh_seconds"),
            stale_seconds: cache_u64("stale_seconds"),
            pending_modes: PendingModes(
                t.get("pending_modes")
                    .and_then(Value::as_array)
                    .map_or(0, |l| l.iter().fold(0, |set, m| set | PendingModes::bit(m.as_str()))),
            ),
        }
    }
}

/// `cors_origins` (serve): the origins browsers may read the tenant's namespaces from, each
/// compared exactly with a request's `Origin` (`https://app.example`, no path). Absent, not a list,
/// or members that are not strings: none.
pub fn cors_origins(text: &str) -> Vec<String> {
    let Ok(Value::Object(t)) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    let Some(Value::Array(list)) = t.get("cors_origins") else { return Vec::new() };
    list.iter().filter_map(Value::as_str).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_member_and_ignores_the_rest() {
        let t = Tenant::parse(
            r#"{"max_body_bytes":10,"max_artifacts_per_request":2,"default_visibility":"user","cache":{"fresh_seconds":7,"stale_seconds":3},"pending_modes":["build","nope",null,"","bulk"],"x":1}"#,
        );
        let want = Tenant {
            max_body_bytes: Some(10),
            max_artifacts_per_request: Some(2),
            default_visibility: Some(Visibility::User),
            fresh_seconds: Some(7),
            stale_seconds: Some(3),
            pending_modes: PendingModes(2 | 4),
        };
        assert_eq!(t, want);
        assert!(t.pending_modes.contains(Mode::Build) && t.pending_modes.contains(Mode::Bulk));
        assert!(!t.pending_modes.contains(Mode::Preview), "not listed (preview keeps copies anyway, in ingest)");
        assert_eq!(Tenant::parse(r#"{"max_body_bytes":-1,"default_visibility":"nope","cache":{"fresh_seconds":"7"}}"#), Tenant::default());
        assert_eq!(Tenant::parse("[1]"), Tenant::default());
        assert_eq!(Tenant::parse("not json"), Tenant::default());
    }

    #[test]
    fn cors_origins_are_a_list_of_strings() {
        assert_eq!(cors_origins(r#"{"cors_origins":["https://a.example",7,"http://b:8080"]}"#), ["https://a.example", "http://b:8080"]);
        assert!(cors_origins(r#"{"cors_origins":"https://a.example"}"#).is_empty());
        assert!(cors_origins(r#"{"cache":{}}"#).is_empty());
        assert!(cors_origins("nope").is_empty());
    }

    #[test]
    fn the_key_is_composed() {
        assert_eq!(key("acme"), crate::key::compose(&["tenant", "acme"]));
        assert_ne!(key("a:b"), crate::key::compose(&["tenant", "a", "b"]));
    }
}
