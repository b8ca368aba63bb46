//! Query parameters of a request URL, decoded as `application/x-www-form-urlencoded` (what a
//! WHATWG URL's `searchParams` gives): `+` is a space, `%XX` a byte, the bytes read as UTF-8
//! (invalid sequences replaced). serve reads its few parameters with this instead of parsing the
//! whole URL (the `url` crate and its IDNA tables cost the worker ~30 KB of wasm for this).

use alloc::string::String;
use alloc::vec::Vec;

/// The first value of parameter `name` in `url`'s query (after `?`, before `#`), decoded;
/// `None` when absent. A parameter without `=` has the empty value.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q.split_once('#').map_or(q, |(q, _)| q))?;
    query.split('&').filter(|p| !p.is_empty()).find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

/// Every parameter of `url`'s query, decoded, in order (repeats kept).
pub fn pairs(url: &str) -> Vec<(String, String)> {
    let Some(query) = url.split_once('?').map(|(_, q)| q.split_once('#').map_or(q, |(q, _)| q)) else { return Vec::new() };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Form-urlencoded decoding of one key or value.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(|h| hex(*h)), bytes.get(i + 2).and_then(|l| hex(*l))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_as_url_search_params_do() {
        let u = "https://x/$.content/a/b/c.md?fresh=1&by_org=ac%2Bme&q=a+b&e=&flag&cursor=k%3A%2F1&x=%zz%4&u=%E2%9C%93#frag=no";
        assert_eq!(param(u, "fresh").as_deref(), Some("1"));
        assert_eq!(param(u, "by_org").as_deref(), Some("ac+me"));
        assert_eq!(param(u, "q").as_deref(), Some("a b"));
        assert_eq!(param(u, "e").as_deref(), Some(""));
        assert_eq!(param(u, "flag").as_deref(), Some(""));
        assert_eq!(param(u, "cursor").as_deref(), Some("k:/1"));
        assert_eq!(param(u, "x").as_deref(), Some("%zz%4"), "a broken escape is kept as written");
        assert_eq!(param(u, "u").as_deref(), Some("✓"));
        assert_eq!(param(u, "frag"), None, "the fragment is not the query");
        assert_eq!(param(u, "missing"), None);
        assert_eq!(param("https://x/p", "fresh"), None);
        assert_eq!(param("https://x/p?a=1&a=2", "a").as_deref(), Some("1"), "the first value");
        assert_eq!(param("https://x/p?a%3D=1", "a=").as_deref(), Some("1"), "keys decode too");
        assert_eq!(param("https://x/p?a=%FF", "a").as_deref(), Some("\u{FFFD}"), "invalid UTF-8 replaced");
    }
}
