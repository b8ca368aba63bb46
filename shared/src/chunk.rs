//! Grouping validated records into `send()` batches of at most N bytes of JSON.
//!
//! Each record travels with the line (or array element) number it came from, so a failed chunk
//! can be reported line by line and a client can resend exactly those lines.

use alloc::string::String;
use alloc::vec::Vec;

/// One batch for a Pipelines `send`: the records' JSON texts and the source line of each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    /// Each record's JSON object text.
    pub records: Vec<String>,
    /// Bytes of `[rec,rec,…]` for all records.
    pub bytes: usize,
    /// Source line numbers, in record order.
    pub lines: Vec<u64>,
    /// `ns/type/id` of each record, in order.
    pub keys: Vec<String>,
    /// Dedupe key of each record (what to record once the chunk is confirmed).
    pub dedupe: Vec<String>,
    /// `ts` of each record (the cache generation it bumps).
    pub ts: Vec<i64>,
}

impl Chunk {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// `[rec,rec,…]` of the records whose index `keep` accepts (dedupe drops some), ready for
    /// `JSON.parse`.
    pub fn json(&self, keep: impl Fn(usize) -> bool) -> String {
        let mut s = String::with_capacity(self.bytes);
        s.push('[');
        for (_, r) in self.records.iter().enumerate().filter(|(i, _)| keep(*i)) {
            if s.len() > 1 {
                s.push(',');
            }
            s.push_str(r);
        }
        s.push(']');
        s
    }
}

/// One record to add to a chunk.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// Source line number.
    pub line: u64,
    /// The record's JSON object text.
    pub json: &'a str,
    /// `ns/type/id`.
    pub key: String,
    /// Dedupe key.
    pub dedupe: String,
    /// Record timestamp.
    pub ts: i64,
}

/// Packs records into chunks whose JSON text is at most `max_bytes`.
#[derive(Debug)]
pub struct Chunker {
    max_bytes: usize,
    current: Chunk,
}

/// A record whose JSON alone does not fit in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl Chunker {
    /// A chunker for chunks of at most `max_bytes` (≥ 2).
    pub fn new(max_bytes: usize) -> Self {
        Chunker { max_bytes: max_bytes.max(2), current: Chunk::default() }
    }

    /// Adds a record. Returns the full chunk it closed, if adding it would have overflowed.
    pub fn push(&mut self, item: Item<'_>) -> Result<Option<Chunk>, TooLarge> {
        // `[` + json + `]` must fit on its own.
        if item.json.len().saturating_add(2) > self.max_bytes {
            return Err(TooLarge);
        }
        // The open chunk's bytes already count `[` and `]`; one more record adds itself and a comma.
        let closed = if !self.current.is_empty() && self.current.bytes.saturating_add(item.json.len()).saturating_add(1) > self.max_bytes {
            self.take()
        } else {
            None
        };
        let c = &mut self.current;
        c.bytes = if c.is_empty() { item.json.len() + 2 } else { c.bytes + item.json.len() + 1 };
        c.records.push(item.json.into());
        c.lines.push(item.line);
        c.keys.push(item.key);
        c.dedupe.push(item.dedupe);
        c.ts.push(item.ts);
        Ok(closed)
    }

    /// The chunk being built, closed, if it has records.
    pub fn take(&mut self) -> Option<Chunk> {
        if self.current.is_empty() {
            return None;
        }
        Some(core::mem::take(&mut self.current))
    }

    /// Bytes of JSON buffered in the open chunk.
    pub fn buffered(&self) -> usize {
        self.current.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(line: u64, json: &str) -> Item<'_> {
        Item { line, json, key: alloc::format!("k{line}"), dedupe: String::new(), ts: line as i64 }
    }

    #[test]
    fn chunks_never_exceed_the_limit_and_keep_every_record() {
        let recs: Vec<String> = (0..100).map(|i| alloc::format!("{{\"i\":\"{}\"}}", "x".repeat(i % 17))).collect();
        let mut ch = Chunker::new(64);
        let mut out = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            if let Some(c) = ch.push(item(i as u64 + 1, r)).unwrap() {
                out.push(c);
            }
        }
        out.extend(ch.take());
        let mut lines = Vec::new();
        for c in &out {
            let json = c.json(|_| true);
            assert_eq!(json.len(), c.bytes);
            assert!(json.len() <= 64, "{}", json.len());
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v.as_array().unwrap().len(), c.len());
            lines.extend(c.lines.iter().copied());
        }
        assert_eq!(lines, (1..=100).collect::<Vec<u64>>());
    }

    #[test]
    fn exact_fit_and_too_large() {
        let mut ch = Chunker::new(9);
        assert_eq!(ch.push(item(1, "{\"a\":1}")).unwrap(), None); // [{"a":1}] = 9 bytes
        let closed = ch.push(item(2, "{}")).unwrap().unwrap();
        assert_eq!(closed.json(|_| true), "[{\"a\":1}]");
        assert_eq!(ch.push(item(3, "{\"abcd\":1}")), Err(TooLarge));
        assert_eq!(ch.push(item(4, "{}")).unwrap(), None);
        let last = ch.take().unwrap();
        assert_eq!(last.json(|_| true), "[{},{}]");
        assert_eq!(last.json(|i| i == 1), "[{}]");
        assert_eq!(last.json(|_| false), "[]");
        assert_eq!(ch.take(), None);
    }
}
