//! The read side of the Iceberg REST catalog the stand-in answers: which route a request is and
//! the JSON bodies. Pure (no worker APIs), so it is tested natively; `lib.rs` does the I/O.
//!
//! Served: `GET /v1/config`; `GET /v1/{prefix}/namespaces` (listNamespaces); `GET` and `HEAD
//! /v1/{prefix}/namespaces/{ns}` (loadNamespaceMetadata, namespaceExists); `GET
//! /v1/{prefix}/namespaces/{ns}/tables` (listTables); `GET` and `HEAD
//! /v1/{prefix}/namespaces/{ns}/tables/{table}` (loadTable, tableExists). That is what a reader
//! (serve, pyiceberg's `RestCatalog`) calls; every write route is 405. The catalog holds one
//! namespace (`CATALOG_NAMESPACE`, default `artifacts`) with the three mode tables.

use serde_json::{json, Value};

/// A catalog request, by route. Namespace and table names are percent-decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/config`.
    Config,
    /// `GET /v1/{prefix}/namespaces`; `parent` is the `parent` query parameter.
    ListNamespaces {
        /// The namespace whose children are asked for (`None`: the top level).
        parent: Option<String>,
    },
    /// `GET /v1/{prefix}/namespaces/{ns}` (`head: false`) or `HEAD` (`head: true`).
    Namespace {
        /// The namespace.
        ns: String,
        /// `HEAD`: existence only, no body.
        head: bool,
    },
    /// `GET /v1/{prefix}/namespaces/{ns}/tables`.
    ListTables {
        /// The namespace.
        ns: String,
    },
    /// `GET /v1/{prefix}/namespaces/{ns}/tables/{table}` (`head: false`) or `HEAD` (`head: true`).
    Table {
        /// The namespace.
        ns: String,
        /// The table name.
        table: String,
        /// `HEAD`: existence only, no body.
        head: bool,
    },
    /// A catalog path with a method the stand-in does not serve (every write); `allow` is what
    /// that path answers (the 405's `Allow`).
    MethodNotAllowed {
        /// `GET`, or `GET, HEAD`.
        allow: &'static str,
    },
    /// Under `/v1/` but no route.
    NotFound,
}

/// Decodes `%XX` escapes (the REST spec encodes namespace parts; multi-level namespaces join
/// their parts with `%1F`). Invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The route of `method` `path` (`parent`: the `parent` query parameter), `None` when the path is
/// not under `/v1/`.
pub fn route(method: &str, path: &str, parent: Option<String>) -> Option<Route> {
    let rest = path.strip_prefix("/v1/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let (get, head) = (method == "GET", method == "HEAD");
    let route = match segs.as_slice() {
        ["config"] if get => Route::Config,
        ["config"] => Route::MethodNotAllowed { allow: "GET" },
        [_prefix, "namespaces"] if get => Route::ListNamespaces { parent },
        [_prefix, "namespaces", ns] if get || head => Route::Namespace { ns: percent_decode(ns), head },
        [_prefix, "namespaces", ns, "tables"] if get => Route::ListTables { ns: percent_decode(ns) },
        [_prefix, "namespaces", ns, "tables", table] if get || head => {
            Route::Table { ns: percent_decode(ns), table: percent_decode(table), head }
        }
        [_prefix, "namespaces"] | [_prefix, "namespaces", _, "tables"] => Route::MethodNotAllowed { allow: "GET" },
        [_prefix, "namespaces", _] | [_prefix, "namespaces", _, "tables", _] => Route::MethodNotAllowed { allow: "GET, HEAD" },
        _ => Route::NotFound,
    };
    Some(route)
}

/// `GET /v1/config`: the warehouse is the path prefix of every other route.
pub fn config(warehouse: &str) -> Value {
    json!({"defaults": {}, "overrides": {"prefix": warehouse}})
}

/// listNamespaces: the one namespace at the top level; it has no children.
pub fn namespaces(ns: &str, parent: Option<&str>) -> Value {
    let list: Vec<Value> = match parent {
        None => vec![json!([ns])],
        Some(_) => Vec::new(),
    };
    json!({"namespaces": list})
}

/// loadNamespaceMetadata.
pub fn namespace(ns: &str) -> Value {
    json!({"namespace": [ns], "properties": {}})
}

/// listTables: `tables` in `ns`.
pub fn tables(ns: &str, tables: &[String]) -> Value {
    let ids: Vec<Value> = tables.iter().map(|t| json!({"namespace": [ns], "name": t})).collect();
    json!({"identifiers": ids})
}

/// An Iceberg REST error body (`ErrorModel`).
pub fn error(status: u16, kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "code": status}})
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> Option<Route> {
        route(method, path, None)
    }

    #[test]
    fn routes_the_read_side() {
        assert_eq!(r("GET", "/v1/config"), Some(Route::Config));
        assert_eq!(r("GET", "/v1/wh/namespaces"), Some(Route::ListNamespaces { parent: None }));
        assert_eq!(route("GET", "/v1/wh/namespaces", Some("a".into())), Some(Route::ListNamespaces { parent: Some("a".into()) }));
        assert_eq!(r("GET", "/v1/wh/namespaces/artifacts"), Some(Route::Namespace { ns: "artifacts".into(), head: false }));
        assert_eq!(r("HEAD", "/v1/wh/namespaces/artifacts"), Some(Route::Namespace { ns: "artifacts".into(), head: true }));
        assert_eq!(r("GET", "/v1/wh/namespaces/artifacts/tables"), Some(Route::ListTables { ns: "artifacts".into() }));
        assert_eq!(
            r("GET", "/v1/wh/namespaces/artifacts/tables/build"),
            Some(Route::Table { ns: "artifacts".into(), table: "build".into(), head: false })
        );
        assert_eq!(
            r("HEAD", "/v1/wh/namespaces/artifacts/tables/build"),
            Some(Route::Table { ns: "artifacts".into(), table: "build".into(), head: true })
        );
    }

    #[test]
    fn writes_are_405_and_unknown_paths_404() {
        let not_allowed = |allow| Some(Route::MethodNotAllowed { allow });
        assert_eq!(r("POST", "/v1/wh/namespaces"), not_allowed("GET"));
        assert_eq!(r("DELETE", "/v1/wh/namespaces/artifacts"), not_allowed("GET, HEAD"));
        assert_eq!(r("POST", "/v1/wh/namespaces/artifacts/tables"), not_allowed("GET"));
        assert_eq!(r("POST", "/v1/wh/namespaces/artifacts/tables/build"), not_allowed("GET, HEAD"));
        assert_eq!(r("PUT", "/v1/config"), not_allowed("GET"));
        assert_eq!(r("GET", "/v1/wh/tables/rename"), Some(Route::NotFound));
        assert_eq!(r("GET", "/v1/wh/namespaces/a/views/v"), Some(Route::NotFound));
        assert_eq!(r("GET", "/flush"), None);
        assert_eq!(r("GET", "/v1"), None);
    }

    #[test]
    fn names_are_percent_decoded() {
        assert_eq!(percent_decode("a%1Fb"), "a\u{1f}b");
        assert_eq!(percent_decode("team%40acme"), "team@acme");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
        assert_eq!(
            r("GET", "/v1/wh/namespaces/arti%66acts/tables/b%75ild"),
            Some(Route::Table { ns: "artifacts".into(), table: "build".into(), head: false })
        );
    }

    #[test]
    fn bodies_follow_the_rest_spec() {
        assert_eq!(config("wh"), json!({"defaults": {}, "overrides": {"prefix": "wh"}}));
        assert_eq!(namespaces("artifacts", None), json!({"namespaces": [["artifacts"]]}));
        assert_eq!(namespaces("artifacts", Some("artifacts")), json!({"namespaces": []}));
        assert_eq!(namespace("artifacts"), json!({"namespace": ["artifacts"], "properties": {}}));
        assert_eq!(
            tables("artifacts", &["preview".into(), "build".into()]),
            json!({"identifiers": [{"namespace": ["artifacts"], "name": "preview"}, {"namespace": ["artifacts"], "name": "build"}]})
        );
        assert_eq!(error(404, "NoSuchTableException", "m")["error"]["code"], 404);
    }
}
