//! `artifacts get` and `artifacts ls`: reads through serve (docs/serve.md).

use crate::progress::clean;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// What reading needs.
pub struct Reader {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

/// A path segment as serve decodes it: path-safe bytes as they are, everything else
/// percent-encoded (so a bad name reaches serve as itself and is refused there, not mangled).
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A `/`-separated path with each segment encoded.
pub fn encode_path(p: &str) -> String {
    p.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// A query value: everything but unreserved characters percent-encoded (`+` too: a query
/// decodes it as a space; `/` too).
pub fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `ns/type/` (the trailing `/` optional) as its two segments.
pub fn parse_listing(arg: &str) -> Result<(String, String), String> {
    let trimmed = arg.strip_prefix("/$.content/").unwrap_or(arg).trim_end_matches('/');
    match trimmed.split_once('/') {
        Some((ns, ty)) if !ns.is_empty() && !ty.is_empty() && !ty.contains('/') => Ok((ns.into(), ty.into())),
        _ => Err(format!("`{arg}` is not ns/type/")),
    }
}

/// The cursor to start a listing with for ids starting with `prefix`: every such id sorts after
/// the prefix without its last character, so the pages before it are skipped.
pub fn start_cursor(prefix: &str) -> Option<String> {
    let mut p = prefix.to_string();
    p.pop()?;
    (!p.is_empty()).then_some(p)
}

/// What one listing page holds: matching ids' items, the next cursor, and whether the ids went
/// past the prefix (so no later page can match).
pub fn page_items(page: &Value, prefix: &str) -> (Vec<Value>, Option<String>, bool) {
    let mut out = Vec::new();
    let mut past = false;
    for item in page.get("items").and_then(Value::as_array).into_iter().flatten() {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        if id.starts_with(prefix) {
            out.push(item.clone());
        } else if id > prefix {
            past = true;
            break;
        }
    }
    let cursor = page.get("cursor").and_then(Value::as_str).map(String::from);
    (out, cursor, past)
}

fn problem_text(status: u16, text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let d = v.get("detail").and_then(Value::as_str).or_else(|| v.get("title").and_then(Value::as_str));
    clean(&format!("{status}: {}", d.map_or_else(|| text.chars().take(200).collect::<String>(), String::from)))
}

impl Reader {
    /// A reader of `base` (serve's URL) with an optional token.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Reader {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("artifacts-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Reader { agent, base: base.trim_end_matches('/').to_string(), token }
    }

    fn get(&self, path_and_query: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut req = self.agent.get(format!("{}{path_and_query}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.call().map_err(|e| clean(&format!("cannot reach {}: {e}", self.base)))
    }

    /// `artifacts get`: the representation to `out` (a file) or stdout. Exit 0, 1 for an error
    /// answer (404 …), 2 when serve cannot be reached.
    pub fn get_content(&self, reference: &str, out: Option<&Path>, fresh: bool) -> u8 {
        let reference = reference.strip_prefix("/$.content/").unwrap_or(reference);
        let query = if fresh { "?fresh=true" } else { "" };
        let mut res = match self.get(&format!("/$.content/{}{query}", encode_path(reference))) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("artifacts get: {e}");
                return 2;
            }
        };
        let status = res.status().as_u16();
        if status != 200 {
            let text = res.body_mut().read_to_string().unwrap_or_default();
            eprintln!("artifacts get: {}: {}", clean(reference), problem_text(status, &text));
            return 1;
        }
        let mut body = res.body_mut().with_config().limit(u64::MAX).reader();
        let written = match out {
            Some(path) => {
                // Written next to the target and renamed, so a failed read leaves no half file.
                let tmp = path.with_extension("artifacts-partial");
                let r = std::fs::File::create(&tmp).and_then(|mut f| std::io::copy(&mut body, &mut f).and_then(|_| f.sync_all()));
                r.and_then(|()| std::fs::rename(&tmp, path)).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                std::io::copy(&mut body, &mut stdout).and_then(|_| stdout.flush())
            }
        };
        match written {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("artifacts get: {}: {e}", clean(reference));
                2
            }
        }
    }

    /// `artifacts ls`: every id of `ns/type` the caller may see (following cursors), one a line,
    /// or one JSON item a line with `--json`.
    pub fn list(&self, ns: &str, ty: &str, prefix: &str, json: bool, page_size: u64) -> u8 {
        let mut cursor = start_cursor(prefix);
        let mut stdout = std::io::stdout().lock();
        loop {
            let mut q = format!("?limit={page_size}");
            if let Some(c) = &cursor {
                q.push_str("&cursor=");
                q.push_str(&encode_query(c));
            }
            let mut res = match self.get(&format!("/$.content/{}/{}/{q}", encode_segment(ns), encode_segment(ty))) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("artifacts ls: {e}");
                    return 2;
                }
            };
            let status = res.status().as_u16();
            let text = res.body_mut().read_to_string().unwrap_or_default();
            if status != 200 {
                eprintln!("artifacts ls: {ns}/{ty}/: {}", problem_text(status, &text));
                return 1;
            }
            let Ok(page) = serde_json::from_str::<Value>(&text) else {
                eprintln!("artifacts ls: the listing is not JSON");
                return 2;
            };
            let (items, next, past) = page_items(&page, prefix);
            for item in items {
                let line = if json { item.to_string() } else { item.get("id").and_then(Value::as_str).unwrap_or_default().to_string() };
                if writeln!(stdout, "{line}").is_err() {
                    return 2;
                }
            }
            match next {
                Some(n) if !past && Some(&n) != cursor.as_ref() => cursor = Some(n),
                _ => return 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("docs/guide/install/linux.md"), "docs/guide/install/linux.md");
        assert_eq!(encode_path("team@acme.dev/page/home.md"), "team@acme.dev/page/home.md");
        assert_eq!(encode_path("docs/guide/a b?.md"), "docs/guide/a%20b%3F.md");
        // A cursor holding `+` must not reach serve as a space.
        assert_eq!(encode_query("a+b/c@d.e"), "a%2Bb%2Fc%40d.e");
    }

    #[test]
    fn listings_parse_and_follow_the_prefix() {
        assert_eq!(parse_listing("docs/guide/"), Ok(("docs".into(), "guide".into())));
        assert_eq!(parse_listing("docs/guide"), Ok(("docs".into(), "guide".into())));
        assert!(parse_listing("docs/").is_err());
        assert!(parse_listing("docs/guide/x").is_err());
        assert_eq!(start_cursor("api/v"), Some("api/".into()));
        assert_eq!(start_cursor("a"), None);
        assert_eq!(start_cursor(""), None);
        let page = json!({"items": [{"id": "api/"}, {"id": "api/v1"}, {"id": "api/v2/x"}, {"id": "api/w"}], "cursor": "api/w"});
        let (items, cursor, past) = page_items(&page, "api/v");
        assert_eq!(items.iter().map(|i| i.get("id").unwrap().as_str().unwrap()).collect::<Vec<_>>(), vec!["api/v1", "api/v2/x"]);
        assert_eq!((cursor.as_deref(), past), (Some("api/w"), true));
        let (items, cursor, past) = page_items(&json!({"items": [{"id": "a"}], "cursor": null}), "");
        assert_eq!((items.len(), cursor, past), (1, None, false));
    }
}
