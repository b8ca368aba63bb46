//! Records → requests: each record is one NDJSON line labelled with the file(s) it came from;
//! lines are packed, in order, into requests under a record count and a byte size, and each
//! request's idempotency key is derived from exactly what it sends.

use crate::map::{Kind, Planned};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One NDJSON line and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line, without its newline.
    pub text: String,
    /// The file(s) it came from, for messages (`guide/a.md, guide/a.html`, or `in.ndjson:12`).
    pub source: String,
    /// How many files it stands for (progress).
    pub files: u64,
    /// Bytes of those files (progress).
    pub bytes: u64,
}

/// Limits a request is packed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most records a request carries.
    pub max_records: usize,
    /// Most bytes of NDJSON (before gzip) a request carries; a single longer line goes alone.
    pub max_bytes: usize,
}

/// The default limits: well under ingest's defaults (100 MB body, 100,000 records) and the
/// tighter tenant limits the docs show (1 MiB gzip body, 1,000 records), small enough that a
/// retry re-sends little.
pub const DEFAULT_LIMITS: Limits = Limits { max_records: 1000, max_bytes: 4 << 20 };

/// What one push sends in a request: the mode and visibility are not in the lines' text only
/// (the mode is a header), so they are part of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its lines, in order (line `i` of the body is `lines[i - 1]`).
    pub lines: Vec<Line>,
}

impl Request {
    /// The body: every line followed by `\n`.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.text.len() + 1).sum());
        for l in &self.lines {
            out.extend_from_slice(l.text.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The idempotency key: `cli1-` and the SHA-256 of the mode and the body. The same lines in
    /// the same mode always get the same key (a retry, a resumed push), so ingest answers a resend
    /// from what it stored; anything else gets another key.
    pub fn key(&self, mode: &str) -> String {
        let mut h = Sha256::new();
        h.update(mode.as_bytes());
        h.update([0]);
        h.update(self.body());
        format!("cli1-{}", shared::record::hex(&h.finalize()))
    }

    /// Files and bytes this request stands for.
    pub fn weight(&self) -> (u64, u64) {
        self.lines.iter().fold((0, 0), |(f, b), l| (f + l.files, b + l.bytes))
    }
}

/// Packs lines into requests under `limits`, in order.
#[derive(Debug)]
pub struct Packer {
    limits: Limits,
    current: Vec<Line>,
    bytes: usize,
}

impl Packer {
    /// An empty packer.
    pub fn new(limits: Limits) -> Self {
        Packer {
            limits: Limits { max_records: limits.max_records.max(1), max_bytes: limits.max_bytes.max(1) },
            current: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a line; returns the request it closed, if adding it would pass a limit.
    pub fn push(&mut self, line: Line) -> Option<Request> {
        let len = line.text.len() + 1;
        let full = !self.current.is_empty() && (self.current.len() >= self.limits.max_records || self.bytes + len > self.limits.max_bytes);
        let closed = if full { self.take() } else { None };
        self.bytes += len;
        self.current.push(line);
        closed
    }

    /// The last, partly filled request.
    pub fn take(&mut self) -> Option<Request> {
        self.bytes = 0;
        (!self.current.is_empty()).then(|| Request { lines: std::mem::take(&mut self.current) })
    }
}

/// Splits lines into requests under `limits` (what [`Packer`] does, all at once).
pub fn split(lines: Vec<Line>, limits: Limits) -> Vec<Request> {
    let mut p = Packer::new(limits);
    let mut out: Vec<Request> = lines.into_iter().filter_map(|l| p.push(l)).collect();
    out.extend(p.take());
    out
}

/// The record line of a planned record: `ns`, `type`, `id`, `visibility` when given, then each
/// file's field. Reads the files; an error names the file.
pub fn record_line(ns: &str, ty: &str, visibility: Option<&str>, rec: &Planned) -> Result<Line, (String, String)> {
    let mut obj = Map::new();
    obj.insert("ns".into(), Value::String(ns.into()));
    obj.insert("type".into(), Value::String(ty.into()));
    obj.insert("id".into(), Value::String(rec.id.clone()));
    if let Some(v) = visibility {
        obj.insert("visibility".into(), Value::String(v.into()));
    }
    let mut bytes = 0;
    for part in &rec.parts {
        let raw = std::fs::read(&part.path).map_err(|e| (part.rel.clone(), format!("cannot read: {e}")))?;
        bytes += raw.len() as u64;
        let text = String::from_utf8(raw).map_err(|_| (part.rel.clone(), "is not UTF-8 text".to_string()))?;
        let value = match part.kind {
            Kind::Text => Value::String(text),
            Kind::Json => serde_json::from_str(&text).map_err(|e| (part.rel.clone(), format!("is not JSON: {e}")))?,
        };
        obj.insert(part.field.into(), value);
    }
    Ok(Line { text: Value::Object(obj).to_string(), source: rec.files(), files: rec.parts.len() as u64, bytes })
}

/// The lines of NDJSON input, sent as they are: blank lines are dropped (they carry nothing), a
/// `\r` before the newline is kept out. `name` labels them (`name:LINE`, 1-based physical lines).
pub fn ndjson_lines(text: &str, name: &str) -> Vec<Line> {
    text.split('\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            (!line.trim().is_empty()).then(|| Line {
                text: line.to_string(),
                source: format!("{name}:{}", i + 1),
                files: 1,
                bytes: raw.len() as u64 + 1,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{map_path, Part};
    use std::path::PathBuf;

    fn line(n: usize, len: usize) -> Line {
        Line { text: "x".repeat(len), source: format!("f{n}"), files: 1, bytes: len as u64 }
    }

    #[test]
    fn splits_under_the_record_and_byte_limits() {
        let lines: Vec<Line> = (0..10).map(|i| line(i, 9)).collect();
        let sizes = |rs: &[Request]| rs.iter().map(|r| r.lines.len()).collect::<Vec<_>>();
        assert_eq!(sizes(&split(lines.clone(), Limits { max_records: 4, max_bytes: 1000 })), vec![4, 4, 2]);
        // 10 bytes a line with its newline: 30 bytes hold three.
        assert_eq!(sizes(&split(lines.clone(), Limits { max_records: 100, max_bytes: 30 })), vec![3, 3, 3, 1]);
        for r in split(lines.clone(), Limits { max_records: 100, max_bytes: 30 }) {
            assert!(r.body().len() <= 30);
        }
        // A line longer than the byte limit goes alone; order is kept.
        let mut mixed = lines.clone();
        mixed.insert(1, line(99, 100));
        let rs = split(mixed, Limits { max_records: 100, max_bytes: 30 });
        assert_eq!(sizes(&rs), vec![1, 1, 3, 3, 3]);
        let order: Vec<&str> = rs.iter().flat_map(|r| r.lines.iter().map(|l| l.source.as_str())).collect();
        assert_eq!(order.first().copied(), Some("f0"));
        assert_eq!(order.get(1).copied(), Some("f99"));
        assert!(split(Vec::new(), DEFAULT_LIMITS).is_empty());
    }

    #[test]
    fn keys_follow_the_content_and_the_mode() {
        let a = Request { lines: vec![line(1, 5), line(2, 6)] };
        let same = Request { lines: vec![line(7, 5), line(8, 6)] };
        let other = Request { lines: vec![line(1, 5)] };
        assert_eq!(a.key("build"), same.key("build"), "sources are labels, not content");
        assert_ne!(a.key("build"), other.key("build"));
        assert_ne!(a.key("build"), a.key("preview"));
        assert!(a.key("build").starts_with("cli1-") && a.key("build").len() == 69);
        assert_eq!(a.body(), b"xxxxx\nxxxxxx\n");
    }

    #[test]
    fn ndjson_is_sent_as_is() {
        let lines = ndjson_lines("{\"a\":1}\n\n {\"b\": 2}\r\n", "in.ndjson");
        let got: Vec<(&str, &str)> = lines.iter().map(|l| (l.text.as_str(), l.source.as_str())).collect();
        assert_eq!(got, vec![("{\"a\":1}", "in.ndjson:1"), (" {\"b\": 2}", "in.ndjson:3")]);
    }

    #[test]
    fn record_lines_carry_every_file() {
        let dir = std::env::temp_dir().join(format!("artifacts-cli-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            let m = map_path(name, false).unwrap();
            Part { field: m.field, kind: m.kind, path: p, rel: name.into(), bytes: text.len() as u64 }
        };
        let rec = Planned { id: "a".into(), parts: vec![write("a.md", "# A\n"), write("a.mdast.json", "{\"type\":\"root\"}")] };
        let l = record_line("docs", "guide", Some("public"), &rec).unwrap();
        let v: Value = serde_json::from_str(&l.text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ns":"docs","type":"guide","id":"a","visibility":"public","markdown":"# A\n","mdast":{"type":"root"}})
        );
        assert_eq!((l.source.as_str(), l.files, l.bytes), ("a.md, a.mdast.json", 2, 19));
        let bad = Planned { id: "b".into(), parts: vec![write("b.mdast.json", "{nope")] };
        let (file, reason) = record_line("docs", "guide", None, &bad).unwrap_err();
        assert_eq!(file, "b.mdast.json");
        assert!(reason.starts_with("is not JSON"), "{reason}");
        let missing = Planned { id: "c".into(), parts: vec![Part { path: PathBuf::from("/nonexistent/c.md"), ..write("c.md", "") }] };
        assert!(record_line("docs", "guide", None, &missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
