//! Push splitter for NDJSON (`application/x-ndjson`) request bodies.
//!
//! A worker receives a body as a stream of chunks of arbitrary size and must not hold the whole
//! body in memory. [`LineSplitter`] turns those chunks into numbered lines: a line wholly inside
//! one chunk is handed out as a borrowed slice of that chunk, and only a line that straddles a
//! chunk boundary is copied into a carry buffer that never exceeds the line limit. Memory is
//! bounded by `max_line_bytes`, whatever the body size.

use alloc::vec::Vec;
use core::fmt;

/// Why a line was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The line is longer than the splitter's `max_line_bytes`.
    TooLong,
    /// The line is not valid UTF-8.
    InvalidUtf8,
}

impl LineError {
    /// Short human explanation, stable across occurrences.
    pub fn description(&self) -> &'static str {
        match self {
            LineError::TooLong => "line is longer than the limit",
            LineError::InvalidUtf8 => "line is not valid UTF-8",
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LineError {}

/// One non-blank line, or the reason it was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based physical line number in the body; blank lines count too.
    pub number: u64,
    /// The line without its `\n` or `\r\n` terminator (valid UTF-8), or why it was rejected.
    pub content: Result<&'a [u8], LineError>,
}

/// Splits a chunked body into lines; see the [module docs](self).
///
/// Rules:
/// - `\n` ends a line and one trailing `\r` is stripped, so CRLF bodies work.
/// - Blank lines (empty or only ASCII whitespace) are skipped but still counted in
///   [`Line::number`].
/// - A line longer than `max_line_bytes` yields [`LineError::TooLong`] once, as soon as the
///   overflow is seen; the rest of that line is discarded, unbuffered, up to the next `\n`. The
///   limit counts the line's bytes before the `\r` of a CRLF is stripped, and applies before the
///   blank check.
/// - A line that is not valid UTF-8 yields [`LineError::InvalidUtf8`]. The check runs on the
///   complete line, so a character split across chunks is fine.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    max_line_bytes: usize,
    /// Start of a line that began in an earlier chunk; at most `max_line_bytes` long.
    carry: Vec<u8>,
    /// The current line was already reported as too long; drop bytes until the next `\n`.
    skipping: bool,
    /// Number of the line currently being read.
    number: u64,
}

impl LineSplitter {
    /// A splitter that rejects lines longer than `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        LineSplitter { max_line_bytes, carry: Vec::new(), skipping: false, number: 1 }
    }

    /// Feeds the next chunk and calls `on_line` for every line it completes, in order. An
    /// incomplete trailing line waits for the next chunk or [`finish`](Self::finish).
    pub fn feed<F: FnMut(Line<'_>)>(&mut self, chunk: &[u8], mut on_line: F) {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let Some((line, tail)) = rest.split_at_checked(pos) else {
                return;
            };
            rest = tail.get(1..).unwrap_or_default();
            let number = self.number;
            self.number = self.number.saturating_add(1);
            if self.skipping {
                // Already reported as too long when the overflow was seen.
                self.skipping = false;
                self.carry.clear();
            } else if self.carry.is_empty() {
                if line.len() > self.max_line_bytes {
                    on_line(Line { number, content: Err(LineError::TooLong) });
                } else {
                    emit(number, line, &mut on_line);
                }
            } else {
                if self.carry.len().saturating_add(line.len()) > self.max_line_bytes {
                    on_line(Line { number, content: Err(LineError::TooLong) });
                } else {
                    append_bounded(&mut self.carry, line, self.max_line_bytes);
                    emit(number, &self.carry, &mut on_line);
                }
                self.carry.clear();
            }
        }
        if self.skipping || rest.is_empty() {
            return;
        }
        let wanted = self.carry.len().saturating_add(rest.len());
        if wanted > self.max_line_bytes {
            on_line(Line { number: self.number, content: Err(LineError::TooLong) });
            self.skipping = true;
            self.carry = Vec::new();
        } else {
            append_bounded(&mut self.carry, rest, self.max_line_bytes);
        }
    }

    /// Ends the body: reports a final line that has no trailing `\n`.
    pub fn finish<F: FnMut(Line<'_>)>(self, mut on_line: F) {
        if !self.skipping && !self.carry.is_empty() {
            emit(self.number, &self.carry, &mut on_line);
        }
    }

    /// Bytes currently held in the carry buffer (never more than `max_line_bytes`).
    pub fn bytes_buffered(&self) -> usize {
        self.carry.len()
    }
}

/// Appends `part` to `carry`, growing geometrically but never past a capacity of `limit`
/// (callers only append while the total stays within it).
fn append_bounded(carry: &mut Vec<u8>, part: &[u8], limit: usize) {
    let wanted = carry.len().saturating_add(part.len());
    if carry.capacity() < wanted {
        let target = carry.capacity().saturating_mul(2).min(limit).max(wanted);
        carry.reserve_exact(target.saturating_sub(carry.len()));
    }
    carry.extend_from_slice(part);
}

/// Strips one trailing `\r`, skips blank lines and checks UTF-8 on a complete line.
fn emit<F: FnMut(Line<'_>)>(number: u64, line: &[u8], on_line: &mut F) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let content = match core::str::from_utf8(line) {
        Ok(_) => Ok(line),
        Err(_) => Err(LineError::InvalidUtf8),
    };
    on_line(Line { number, content });
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    type Owned = (u64, Result<Vec<u8>, LineError>);

    fn collect(splitter: &mut LineSplitter, chunk: &[u8], out: &mut Vec<Owned>) {
        splitter.feed(chunk, |l| out.push((l.number, l.content.map(<[u8]>::to_vec))));
    }

    fn run(max: usize, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            collect(&mut s, c, &mut out);
            assert!(s.bytes_buffered() <= max);
            assert!(s.carry.capacity() <= max);
        }
        s.finish(|l| out.push((l.number, l.content.map(<[u8]>::to_vec))));
        out
    }

    fn ok(n: u64, s: &str) -> Owned {
        (n, Ok(s.as_bytes().to_vec()))
    }

    fn input() -> Vec<u8> {
        let mut v = "{\"a\":1}\n\r\n  \n{\"b\":\"é€😀\"}\r\n\n".as_bytes().to_vec();
        v.extend_from_slice(b"01234567890123456789\n012345678901234567890\n");
        v.extend_from_slice(b"\xff\xfe\n\tx \nlast");
        v
    }

    fn expected() -> Vec<Owned> {
        vec![
            ok(1, "{\"a\":1}"),
            ok(4, "{\"b\":\"é€😀\"}"),
            ok(6, "01234567890123456789"),
            (7, Err(LineError::TooLong)),
            (8, Err(LineError::InvalidUtf8)),
            ok(9, "\tx "),
            ok(10, "last"),
        ]
    }

    #[test]
    fn whole_input_in_one_chunk() {
        assert_eq!(run(20, &[&input()]), expected());
    }

    #[test]
    fn every_two_chunk_split_gives_the_same_lines() {
        let input = input();
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run(20, &[a, b]), expected(), "split at {at}");
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_lines() {
        let input = input();
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(20, &chunks), expected());
    }

    #[test]
    fn crlf_is_stripped() {
        assert_eq!(run(100, &[b"a\r\nb\r\n"]), vec![ok(1, "a"), ok(2, "b")]);
        // Only one trailing CR goes; an inner CR stays.
        assert_eq!(run(100, &[b"a\rb\r\r\n"]), vec![ok(1, "a\rb\r")]);
    }

    #[test]
    fn blank_lines_are_skipped_but_counted() {
        let out = run(100, &[b"\n\n \t\r\nx\n\n\ny\n"]);
        assert_eq!(out, vec![ok(4, "x"), ok(7, "y")]);
    }

    #[test]
    fn final_line_without_newline_is_flushed() {
        assert_eq!(run(100, &[b"a\nb"]), vec![ok(1, "a"), ok(2, "b")]);
        assert_eq!(run(100, &[b"a\n", b"b", b"c"]), vec![ok(1, "a"), ok(2, "bc")]);
        assert_eq!(run(100, &[b"a\n   "]), vec![ok(1, "a")]);
        assert_eq!(run(100, &[]), vec![]);
    }

    #[test]
    fn limit_is_inclusive_and_later_lines_survive_an_overflow() {
        let input = b"12345\n123456\nok\n";
        let want = vec![ok(1, "12345"), (2, Err(LineError::TooLong)), ok(3, "ok")];
        assert_eq!(run(5, &[input]), want);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run(5, &[a, b]), want, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(5, &bytes), want);
    }

    #[test]
    fn too_long_is_reported_once_when_the_overflow_is_seen() {
        let mut s = LineSplitter::new(4);
        let mut out = Vec::new();
        collect(&mut s, b"ab", &mut out);
        assert!(out.is_empty());
        collect(&mut s, b"cde", &mut out);
        assert_eq!(out, vec![(1, Err(LineError::TooLong))]);
        assert_eq!(s.bytes_buffered(), 0);
        collect(&mut s, b"fgh", &mut out);
        collect(&mut s, b"ij\nkl", &mut out);
        s.finish(|l| out.push((l.number, l.content.map(<[u8]>::to_vec))));
        assert_eq!(out, vec![(1, Err(LineError::TooLong)), ok(2, "kl")]);
    }

    #[test]
    fn a_line_that_overflows_at_end_of_input_is_reported_once() {
        assert_eq!(run(3, &[b"ab", b"cdef"]), vec![(1, Err(LineError::TooLong))]);
    }

    #[test]
    fn utf8_split_across_chunks_is_fine() {
        let input = "😀€\n".as_bytes();
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run(100, &[a, b]), vec![ok(1, "😀€")], "split at {at}");
        }
    }

    #[test]
    fn invalid_utf8_is_reported() {
        let out = run(100, &[b"ok\n\xc3\x28\n\xed\xa0\x80\nfine\n\xe2\x82"]);
        assert_eq!(
            out,
            vec![
                ok(1, "ok"),
                (2, Err(LineError::InvalidUtf8)),
                (3, Err(LineError::InvalidUtf8)),
                ok(4, "fine"),
                (5, Err(LineError::InvalidUtf8)),
            ]
        );
    }

    #[test]
    fn buffer_stays_bounded_for_a_huge_line() {
        const LIMIT: usize = 64 * 1024;
        let chunk = vec![b'x'; 1024];
        let mut s = LineSplitter::new(LIMIT);
        let mut out = Vec::new();
        for _ in 0..(10 * 1024) {
            collect(&mut s, &chunk, &mut out);
            assert!(s.bytes_buffered() <= LIMIT);
            assert!(s.carry.capacity() <= LIMIT);
        }
        collect(&mut s, b"\n{\"after\":true}\n", &mut out);
        assert_eq!(out, vec![(1, Err(LineError::TooLong)), ok(2, "{\"after\":true}")]);
    }

    #[test]
    fn zero_limit_rejects_every_non_empty_line() {
        assert_eq!(run(0, &[b"\nx\n"]), vec![(2, Err(LineError::TooLong))]);
    }

    #[test]
    fn errors_display_their_description() {
        assert_eq!(alloc::format!("{}", LineError::TooLong), LineError::TooLong.description());
    }
}
