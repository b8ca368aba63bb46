//! HTML bodies through lol_html (bounded memory): relative links and asset references to sibling
//! artifacts become canonical `/$.content/{ns}/{type}/…` URLs, and — for content that is not
//! public, or from a tenant marked untrusted — scripts, event-handler attributes and script URLs
//! are removed. Attribute values are entity-decoded before their scheme is judged, so
//! `jav&#x61;script:` and `JaVaScRiPt&colon;` are caught like `javascript:`.

use lol_html::html_content::Element;
use lol_html::{element, HtmlRewriter, MemorySettings, Settings};

/// Most memory lol_html may use for one document.
pub const MAX_MEMORY: usize = 4 * 1024 * 1024;

/// `Content-Security-Policy` for sanitized HTML: nothing runs, nothing posts, no framing.
pub const CSP_SANITIZED: &str =
    "default-src 'none'; img-src * data:; media-src *; style-src * 'unsafe-inline'; font-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// `Content-Security-Policy` for trusted public HTML: scripts from the page and HTTPS only.
pub const CSP_TRUSTED: &str =
    "default-src 'self' https: data:; script-src 'self' https: 'unsafe-inline'; style-src 'self' https: 'unsafe-inline'; frame-ancestors 'self'; base-uri 'self'";

/// Where the document lives and whether to sanitize it.
pub struct Options<'a> {
    /// Namespace of the document.
    pub ns: &'a str,
    /// Type of the document.
    pub ty: &'a str,
    /// Remove scripts, `on*` attributes and script URLs.
    pub sanitize: bool,
}

/// Attributes that hold a URL.
const URL_ATTRS: &[&str] = &["href", "src", "action", "formaction", "poster", "data", "cite", "background", "xlink:href"];

/// Decodes the character references a browser would decode in an attribute value, enough to
/// judge its scheme: numeric references and the named ones that spell separators.
fn decode_entities(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i + 1..).unwrap_or("");
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '#')).unwrap_or(tail.len());
        let name = tail.get(..end).unwrap_or("");
        let decoded = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
            u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
        } else if let Some(num) = name.strip_prefix('#') {
            num.parse::<u32>().ok().and_then(char::from_u32)
        } else {
            match name.to_ascii_lowercase().as_str() {
                "colon" => Some(':'),
                "tab" => Some('\t'),
                "newline" => Some('\n'),
                "sol" => Some('/'),
                "amp" => Some('&'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                let skip = end + usize::from(tail.get(end..).is_some_and(|t| t.starts_with(';')));
                rest = tail.get(skip..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The scheme of a URL after decoding and dropping whitespace and controls (as browsers do),
/// lower-cased; `None` for a relative reference.
fn scheme(value: &str) -> Option<String> {
    let cleaned: String = decode_entities(value).chars().filter(|c| !c.is_ascii_whitespace() && !c.is_control()).collect();
    let colon = cleaned.find(':')?;
    let before = cleaned.get(..colon)?;
    if before.contains(['/', '?', '#']) {
        return None;
    }
    Some(before.to_ascii_lowercase())
}

/// A relative reference resolved against `/$.content/{ns}/{type}/`; `None` when it is not
/// relative (has a scheme, is absolute, a fragment or a query) or climbs above the content root.
pub fn resolve(ns: &str, ty: &str, value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || scheme(v).is_some() || v.starts_with(['/', '#', '?', '\\']) {
        return None;
    }
    let (path, suffix) = match v.find(['?', '#']) {
        Some(i) => (v.get(..i)?, v.get(i..)?),
        None => (v, ""),
    };
    let mut segs: Vec<&str> = vec![ns, ty];
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len().saturating_sub(1);
    for (i, p) in parts.iter().enumerate() {
        match *p {
            "." | "" if i != last => {}
            "." | "" => segs.push(""),
            ".." => {
                segs.pop()?;
            }
            p => segs.push(p),
        }
    }
    if segs.len() < 3 {
        return None;
    }
    Some(format!("{}{}{suffix}", shared::content::PREFIX, segs.join("/")))
}

fn is_event_handler(name: &str) -> bool {
    name.starts_with("on")
}

fn fix_element(el: &mut Element<'_, '_>, o: &Options<'_>) {
    let names: Vec<String> = el.attributes().iter().map(|a| a.name()).collect();
    for name in names {
        let Some(value) = el.get_attribute(&name) else { continue };
        if o.sanitize {
            if is_event_handler(&name) || name == "srcdoc" {
                el.remove_attribute(&name);
                continue;
            }
            if name == "style" && { let d = decode_entities(&value).to_ascii_lowercase(); d.contains("expression(") || d.contains("javascript:") || d.contains("url(") && d.contains("script") } {
                el.remove_attribute(&name);
                continue;
            }
        }
        if !URL_ATTRS.contains(&name.as_str()) {
            continue;
        }
        if o.sanitize {
            if let Some(s) = scheme(&value) {
                if !matches!(s.as_str(), "http" | "https" | "mailto" | "tel") {
                    el.remove_attribute(&name);
                    continue;
                }
            }
        }
        if let Some(canonical) = resolve(o.ns, o.ty, &value) {
            let _ = el.set_attribute(&name, &canonical);
        }
    }
}

/// Rewrites one HTML document.
pub fn rewrite(html: &str, o: &Options<'_>) -> Result<String, String> {
    let memory = MemorySettings::new().with_max_allowed_memory_usage(MAX_MEMORY);
    let mut settings = Settings::new().with_memory_settings(memory);
    if o.sanitize {
        settings = settings.append_element_content_handler(element!("script, object, embed, applet, base, frame, frameset", |el| {
            el.remove();
            Ok(())
        }));
        settings = settings.append_element_content_handler(element!("meta[http-equiv]", |el| {
            el.remove();
            Ok(())
        }));
    }
    settings = settings.append_element_content_handler(element!("*", |el| {
        fix_element(el, o);
        Ok(())
    }));
    let mut out = Vec::with_capacity(html.len());
    let mut rewriter = HtmlRewriter::new(settings, |chunk: &[u8]| out.extend_from_slice(chunk));
    rewriter.write(html.as_bytes()).map_err(|e| e.to_string())?;
    rewriter.end().map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFE: Options<'static> = Options { ns: "docs", ty: "guide", sanitize: true };
    const TRUSTED: Options<'static> = Options { ns: "docs", ty: "guide", sanitize: false };

    fn s(html: &str) -> String {
        rewrite(html, &SAFE).unwrap()
    }

    #[test]
    fn relative_links_become_canonical() {
        assert_eq!(resolve("docs", "guide", "setup.html").as_deref(), Some("/$.content/docs/guide/setup.html"));
        assert_eq!(resolve("docs", "guide", "./setup.md#part").as_deref(), Some("/$.content/docs/guide/setup.md#part"));
        assert_eq!(resolve("docs", "guide", "../api/x.d.ts").as_deref(), Some("/$.content/docs/api/x.d.ts"));
        assert_eq!(resolve("docs", "guide", "../../blog/post/y.html").as_deref(), Some("/$.content/blog/post/y.html"));
        assert_eq!(resolve("docs", "guide", "../../../etc/passwd"), None);
        for keep in ["https://x.dev/a", "//cdn.x/a.js", "/abs/path", "#frag", "?q=1", "mailto:a@b.c"] {
            assert_eq!(resolve("docs", "guide", keep), None, "{keep}");
        }
        let out = rewrite(r#"<a href="setup.html">s</a><img src="../img/logo.css"><a href="https://x.dev">x</a>"#, &TRUSTED).unwrap();
        assert_eq!(out, r#"<a href="/$.content/docs/guide/setup.html">s</a><img src="/$.content/docs/img/logo.css"><a href="https://x.dev">x</a>"#);
    }

    #[test]
    fn trusted_content_keeps_scripts() {
        let html = r#"<script>go()</script><a onclick="x()" href="javascript:y()">a</a>"#;
        assert_eq!(rewrite(html, &TRUSTED).unwrap(), html);
    }

    #[test]
    fn sanitizing_removes_scripts_handlers_and_script_urls() {
        assert_eq!(s("<p>a<script>alert(1)</script>b</p>"), "<p>ab</p>");
        assert_eq!(s(r#"<img src="x.png" onerror="alert(1)">"#), r#"<img src="/$.content/docs/guide/x.png">"#);
        assert_eq!(s(r#"<a href="javascript:alert(1)">x</a>"#), "<a>x</a>");
        assert_eq!(s(r#"<a href="https://ok.dev/">x</a>"#), r#"<a href="https://ok.dev/">x</a>"#);
    }

    #[test]
    fn bypass_attempts() {
        for html in [
            r#"<SCRIPT>alert(1)</SCRIPT>"#,
            r#"<ScRiPt src="https://evil/x.js"></ScRiPt>"#,
            r#"<script/x>alert(1)</script>"#,
        ] {
            assert!(!s(html).to_ascii_lowercase().contains("script"), "{html} → {}", s(html));
        }
        for html in [
            r#"<a HREF="JaVaScRiPt:alert(1)">x</a>"#,
            r#"<a href="jav&#x61;script:alert(1)">x</a>"#,
            r#"<a href="jav&#97;script:alert(1)">x</a>"#,
            r#"<a href="javascript&colon;alert(1)">x</a>"#,
            "<a href=\"java\tscript:alert(1)\">x</a>",
            r#"<a href="  javascript:alert(1)">x</a>"#,
            r#"<a href="java&Tab;script:alert(1)">x</a>"#,
            r#"<iframe src="data:text/html,<script>alert(1)</script>"></iframe>"#,
            r#"<a href="vbscript:msgbox(1)">x</a>"#,
            r#"<form action="javascript:alert(1)"><button formaction="javascript:x()">b</button></form>"#,
        ] {
            let out = s(html).to_ascii_lowercase();
            assert!(!out.contains("href") || out.contains("https:"), "{html} → {out}");
            assert!(!out.contains("script:") && !out.contains("data:"), "{html} → {out}");
        }
        for html in [r#"<img src=x OnErRoR=alert(1)>"#, r#"<body onload="x()">"#, r#"<svg><g onmouseover="x()"></g></svg>"#, r#"<div style="background:url(javascript:alert(1))">"#, r#"<iframe srcdoc="<script>x</script>">"#] {
            let out = s(html).to_ascii_lowercase();
            assert!(!out.contains("onerror") && !out.contains("onload") && !out.contains("onmouseover") && !out.contains("javascript") && !out.contains("srcdoc"), "{html} → {out}");
        }
        // Broken markup never panics and, parsed again as a browser would, holds no script
        // element and no event handler.
        for html in ["<scr<script>ipt>alert(1)</script>", "<a href='javascript:alert(1)'", "<<img src=x onerror=alert(1)//>", "<p <script>", "<script", "<img src=\"x\" onerror=\"a()\""] {
            let out = s(html);
            assert_eq!(dangerous(&out), 0, "{html} → {out}");
        }
        assert_eq!(s(r#"<meta http-equiv="refresh" content="0;url=javascript:x()"><base href="https://evil/">ok"#), "ok");
    }

    /// Script elements plus `on*` attributes plus script URLs, as lol_html parses `html`.
    fn dangerous(html: &str) -> usize {
        let count = std::cell::Cell::new(0);
        let settings = Settings::new().append_element_content_handler(element!("*", |el| {
            if el.tag_name() == "script" {
                count.set(count.get() + 1);
            }
            for a in el.attributes() {
                if a.name().starts_with("on") || scheme(&a.value()).is_some_and(|s| s.contains("script")) {
                    count.set(count.get() + 1);
                }
            }
            Ok(())
        }));
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        rewriter.write(html.as_bytes()).unwrap();
        rewriter.end().unwrap();
        count.get()
    }

    #[test]
    fn entities_decode() {
        assert_eq!(decode_entities("a&#x3A;b&#58;c&colon;d&amp;e&unknown;f"), "a:b:c:d&e&unknown;f");
        assert_eq!(scheme("HTTPS://x"), Some("https".into()));
        assert_eq!(scheme("a/b:c"), None);
    }
}
