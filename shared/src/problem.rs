//! RFC 9457 problem details (`application/problem+json`).
//!
//! Both workers map every error to one [`Problem`] in exactly one place, so clients always get the
//! same shape: `type`, `title`, `status`, `detail`, plus extension members such as the line number
//! or object key at fault.

use alloc::string::{String, ToString};
use serde_json::{Map, Value};

/// The media type of a problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Base URI for this product's problem types; `type` is `{BASE}{slug}`.
pub const TYPE_BASE: &str = "https://artifacts.dev/problems/";

/// One problem-details document.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status code, repeated in the body as `status`.
    pub status: u16,
    /// Short machine-friendly slug, e.g. `not-found`; becomes the `type` URI.
    pub slug: &'static str,
    /// Human summary that does not change between occurrences.
    pub title: &'static str,
    /// Human explanation specific to this occurrence.
    pub detail: String,
    /// Extension members (e.g. `line`, `key`, `rejected`).
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem with no extension members.
    pub fn new(status: u16, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { status, slug, title, detail: detail.into(), extensions: Map::new() }
    }

    /// 404 for a route that does not exist.
    pub fn route_not_found(path: &str) -> Self {
        Problem::new(404, "not-found", "Not Found", alloc::format!("no route for {path}"))
    }

    /// 405 for a route that exists but does not take this method; `allow` (`"GET, HEAD"`) is the
    /// `allow` member, and each worker sends it as the `Allow` header too (RFC 9110 §15.5.6).
    pub fn method_not_allowed(allow: &str) -> Self {
        Problem::new(405, "method-not-allowed", "Method Not Allowed", alloc::format!("this route accepts {allow}")).with("allow", allow)
    }

    /// Adds an extension member.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_string(), value.into());
        self
    }

    /// The JSON body. `type`, `title`, `status` and `detail` come first; extensions cannot
    /// overwrite them.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(alloc::format!("{TYPE_BASE}{}", self.slug)));
        map.insert("title".into(), Value::String(self.title.into()));
        map.insert("status".into(), Value::from(self.status));
        map.insert("detail".into(), Value::String(self.detail.clone()));
        for (k, v) in &self.extensions {
            if !map.contains_key(k) {
                map.insert(k.clone(), v.clone());
            }
        }
        Value::Object(map).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc9457_members_and_extensions() {
        let p = Problem::new(400, "invalid-record", "Invalid record", "bad id").with("line", 3);
        let v: Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["type"], "https://artifacts.dev/problems/invalid-record");
        assert_eq!(v["title"], "Invalid record");
        assert_eq!(v["status"], 400);
        assert_eq!(v["detail"], "bad id");
        assert_eq!(v["line"], 3);
    }

    #[test]
    fn a_405_names_the_methods_it_allows() {
        let v: Value = serde_json::from_str(&Problem::method_not_allowed("GET, HEAD").to_json()).unwrap();
        assert_eq!(v["status"], 405);
        assert_eq!(v["type"], "https://artifacts.dev/problems/method-not-allowed");
        assert_eq!(v["allow"], "GET, HEAD");
        assert_eq!(v["detail"], "this route accepts GET, HEAD");
    }

    #[test]
    fn extensions_cannot_overwrite_standard_members() {
        let p = Problem::new(404, "not-found", "Not Found", "x").with("status", 200);
        let v: Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["status"], 404);
    }
}
