//! Push splitter for an `application/json` body that is one top-level array of values.
//!
//! A worker receives a body as a stream of chunks of arbitrary size and must not hold the whole
//! body in memory. [`ArraySplitter`] finds the top-level elements of `[v1, v2, ...]` without
//! parsing them: it tracks `[`/`{` depth, strings and backslash escapes, so commas and brackets
//! inside strings or nested values do not split. Each element is handed out as raw bytes
//! (trimmed of surrounding whitespace) for the caller to parse; an element wholly inside one chunk
//! is borrowed from it, and only an element that straddles a chunk boundary is copied into a carry
//! buffer that never exceeds the element limit.

use alloc::vec::Vec;
use core::fmt;

/// Why an element, or the array as a whole, was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayError {
    /// The first non-whitespace byte of the body is not `[` (or the body is empty).
    NotAnArray,
    /// The element is longer than the splitter's `max_element_bytes`; it was skipped.
    TooLong,
    /// The body ended before the closing `]`, possibly inside a string.
    Unterminated,
    /// Something other than whitespace follows the closing `]`.
    TrailingData,
    /// Nothing between two commas, after `[` or before `]` (e.g. `[1,,2]` or `[1,]`).
    EmptyElement,
}

impl ArrayError {
    /// Short human explanation, stable across occurrences.
    pub fn description(&self) -> &'static str {
        match self {
            ArrayError::NotAnArray => "body is not a JSON array",
            ArrayError::TooLong => "array element is longer than the limit",
            ArrayError::Unterminated => "JSON array is not terminated",
            ArrayError::TrailingData => "data after the end of the JSON array",
            ArrayError::EmptyElement => "empty array element",
        }
    }
}

impl fmt::Display for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ArrayError {}

/// One top-level element, or an error at that position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// 1-based position of the element in the array (empty elements count). For errors that
    /// belong to no element (`NotAnArray`, `Unterminated`, `TrailingData`) it is the position
    /// being read or the next one.
    pub index: u64,
    /// The element's raw bytes without surrounding whitespace (not validated as JSON), or the
    /// error.
    pub content: Result<&'a [u8], ArrayError>,
}

/// Where the splitter is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// Inside the array, before an element; `after_comma` once a `,` was seen.
    BeforeElement { after_comma: bool },
    /// Inside an element.
    InElement,
    /// After the closing `]`; only whitespace may follow.
    Closed,
    /// A body-level error was reported; the rest of the input is ignored.
    Failed,
}

/// Splits a chunked JSON-array body into its top-level elements; see the [module docs](self).
///
/// Rules:
/// - `[]` (with any whitespace) yields nothing and is fine.
/// - An element longer than `max_element_bytes` yields [`ArrayError::TooLong`] once, as soon as
///   the overflow is seen, and is skipped (unbuffered) up to the next top-level `,` or `]`. The
///   limit counts the element's bytes from its first non-whitespace byte up to that delimiter,
///   so whitespace before a `,` counts.
/// - [`ArrayError::EmptyElement`] is reported per empty position and splitting goes on.
/// - [`ArrayError::NotAnArray`] and [`ArrayError::TrailingData`] end the splitting: later input
///   is ignored. [`finish`](Self::finish) reports [`ArrayError::Unterminated`] (or `NotAnArray`
///   for an empty body).
#[derive(Debug, Clone)]
pub struct ArraySplitter {
    max_element_bytes: usize,
    /// Start of an element that began in an earlier chunk; at most `max_element_bytes` long.
    carry: Vec<u8>,
    state: State,
    /// Nesting depth of `[`/`{` inside the current element.
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
    /// Bytes of the current element seen so far.
    element_len: usize,
    /// The current element was reported as too long; drop bytes until its delimiter.
    skipping: bool,
    /// Index of the element being read, or the next one.
    index: u64,
}

impl ArraySplitter {
    /// A splitter that rejects elements longer than `max_element_bytes`.
    pub fn new(max_element_bytes: usize) -> Self {
        ArraySplitter {
            max_element_bytes,
            carry: Vec::new(),
            state: State::Start,
            depth: 0,
            in_string: false,
            escaped: false,
            element_len: 0,
            skipping: false,
            index: 1,
        }
    }

    /// Feeds the next chunk and calls `on_element` for every element (or error) it completes, in
    /// order. An incomplete trailing element waits for the next chunk or [`finish`](Self::finish).
    pub fn feed<F: FnMut(Element<'_>)>(&mut self, chunk: &[u8], mut on_element: F) {
        // Where the current element starts in `chunk`; 0 when it began in an earlier chunk.
        let mut start = 0;
        for (pos, &b) in chunk.iter().enumerate() {
            match self.state {
                State::Failed => return,
                State::Start => {
                    if b == b'[' {
                        self.state = State::BeforeElement { after_comma: false };
                    } else if !is_ws(b) {
                        self.fail(ArrayError::NotAnArray, &mut on_element);
                        return;
                    }
                }
                State::Closed => {
                    if !is_ws(b) {
                        self.fail(ArrayError::TrailingData, &mut on_element);
                        return;
                    }
                }
                State::BeforeElement { after_comma } => match b {
                    _ if is_ws(b) => {}
                    b']' => {
                        if after_comma {
                            self.report(ArrayError::EmptyElement, &mut on_element);
                        }
                        self.state = State::Closed;
                    }
                    b',' => {
                        self.report(ArrayError::EmptyElement, &mut on_element);
                        self.index = self.index.saturating_add(1);
                        self.state = State::BeforeElement { after_comma: true };
                    }
                    _ => {
                        self.state = State::InElement;
                        start = pos;
                        self.depth = 0;
                        self.in_string = false;
                        self.escaped = false;
                        self.element_len = 0;
                        self.skipping = false;
                        self.carry.clear();
                        // The first byte never ends an element, but it may open a string or
                        // a nesting level.
                        let _ = self.ends_element(b);
                        self.element_byte(&mut on_element);
                    }
                },
                State::InElement => {
                    if self.ends_element(b) {
                        if !self.skipping {
                            let part = chunk.get(start..pos).unwrap_or_default();
                            if self.carry.is_empty() {
                                emit(self.index, part, &mut on_element);
                            } else {
                                append_bounded(&mut self.carry, part, self.max_element_bytes);
                                emit(self.index, &self.carry, &mut on_element);
                            }
                        }
                        self.carry.clear();
                        self.skipping = false;
                        self.index = self.index.saturating_add(1);
                        self.state = if b == b',' { State::BeforeElement { after_comma: true } } else { State::Closed };
                    } else {
                        self.element_byte(&mut on_element);
                    }
                }
            }
        }
        if self.state == State::InElement && !self.skipping {
            let part = chunk.get(start..).unwrap_or_default();
            append_bounded(&mut self.carry, part, self.max_element_bytes);
        }
    }

    /// Ends the body: reports [`ArrayError::Unterminated`] if the array never closed (an element
    /// still open is not emitted), or [`ArrayError::NotAnArray`] if the body was empty.
    pub fn finish<F: FnMut(Element<'_>)>(self, mut on_element: F) {
        let error = match self.state {
            State::Start => ArrayError::NotAnArray,
            State::BeforeElement { .. } | State::InElement => ArrayError::Unterminated,
            State::Closed | State::Failed => return,
        };
        on_element(Element { index: self.index, content: Err(error) });
    }

    /// Bytes currently held in the carry buffer (never more than `max_element_bytes`).
    pub fn bytes_buffered(&self) -> usize {
        self.carry.len()
    }

    /// Whether `b` is the top-level `,` or `]` that ends the current element. Otherwise updates
    /// the string, escape and depth tracking for `b`.
    fn ends_element(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return false;
        }
        match b {
            b'"' => self.in_string = true,
            b'[' | b'{' => self.depth = self.depth.saturating_add(1),
            // A stray `}` at depth 0 stays in the element; the caller's parse rejects it.
            b']' | b'}' if self.depth > 0 => self.depth = self.depth.saturating_sub(1),
            b',' | b']' if self.depth == 0 => return true,
            _ => {}
        }
        false
    }

    /// Counts one byte of the current element and reports the overflow once.
    fn element_byte<F: FnMut(Element<'_>)>(&mut self, on_element: &mut F) {
        self.element_len = self.element_len.saturating_add(1);
        if !self.skipping && self.element_len > self.max_element_bytes {
            self.report(ArrayError::TooLong, on_element);
            self.skipping = true;
            self.carry = Vec::new();
        }
    }

    fn report<F: FnMut(Element<'_>)>(&self, error: ArrayError, on_element: &mut F) {
        on_element(Element { index: self.index, content: Err(error) });
    }

    fn fail<F: FnMut(Element<'_>)>(&mut self, error: ArrayError, on_element: &mut F) {
        self.report(error, on_element);
        self.state = State::Failed;
        self.carry = Vec::new();
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

/// JSON insignificant whitespace (RFC 8259).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn emit<F: FnMut(Element<'_>)>(index: u64, raw: &[u8], on_element: &mut F) {
    let end = raw.iter().rposition(|&b| !is_ws(b)).map_or(0, |p| p.saturating_add(1));
    let content = raw.get(..end).unwrap_or_default();
    on_element(Element { index, content: Ok(content) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    type Owned = (u64, Result<Vec<u8>, ArrayError>);

    fn push(out: &mut Vec<Owned>) -> impl FnMut(Element<'_>) + '_ {
        |e| out.push((e.index, e.content.map(<[u8]>::to_vec)))
    }

    fn run(max: usize, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut s = ArraySplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, push(&mut out));
            assert!(s.bytes_buffered() <= max);
            assert!(s.carry.capacity() <= max);
        }
        s.finish(push(&mut out));
        out
    }

    /// One chunk, every two-chunk split and byte by byte all give `want`.
    fn check(max: usize, input: &[u8], want: &[Owned]) {
        assert_eq!(run(max, &[input]), want, "one chunk");
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(run(max, &[a, b]), want, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(max, &bytes), want, "byte by byte");
    }

    fn ok(i: u64, s: &str) -> Owned {
        (i, Ok(s.as_bytes().to_vec()))
    }

    fn err(i: u64, e: ArrayError) -> Owned {
        (i, Err(e))
    }

    #[test]
    fn splits_nested_values_and_tricky_strings() {
        let input = br#"  [ 1 , "a]b,c\"d\\" ,{"x":[1,{"y":"}"}],"z":"\\\""} ,
            [[],[ ]] ,null,  true ,-1.5e3,"[{" ]  
"#;
        check(
            1000,
            input,
            &[
                ok(1, "1"),
                ok(2, r#""a]b,c\"d\\""#),
                ok(3, r#"{"x":[1,{"y":"}"}],"z":"\\\""}"#),
                ok(4, "[[],[ ]]"),
                ok(5, "null"),
                ok(6, "true"),
                ok(7, "-1.5e3"),
                ok(8, r#""[{""#),
            ],
        );
    }

    #[test]
    fn empty_array_yields_nothing() {
        check(10, b"[]", &[]);
        check(10, b" \n[ \t ]\r\n", &[]);
    }

    #[test]
    fn elements_are_borrowed_when_inside_one_chunk() {
        let mut s = ArraySplitter::new(100);
        let input = b"[12, 34]";
        let mut seen = Vec::new();
        s.feed(input, |e| seen.push(e.content.unwrap().as_ptr() as usize));
        let base = input.as_ptr() as usize;
        assert_eq!(seen, vec![base + 1, base + 5]);
        assert_eq!(s.bytes_buffered(), 0);
    }

    #[test]
    fn not_an_array() {
        check(10, br#"{"a":[1]}"#, &[err(1, ArrayError::NotAnArray)]);
        check(10, b"  1", &[err(1, ArrayError::NotAnArray)]);
        check(10, b"", &[err(1, ArrayError::NotAnArray)]);
        check(10, b" \n ", &[err(1, ArrayError::NotAnArray)]);
    }

    #[test]
    fn too_long_is_reported_once_and_skipped_to_the_next_top_level_comma() {
        check(
            5,
            br#"[1,123456,"abc",[1,2,3,4,5,6],"a,b]c,d",12345,2]"#,
            &[
                ok(1, "1"),
                err(2, ArrayError::TooLong),
                ok(3, r#""abc""#),
                err(4, ArrayError::TooLong),
                err(5, ArrayError::TooLong),
                ok(6, "12345"),
                ok(7, "2"),
            ],
        );
        check(3, b"[1234]", &[err(1, ArrayError::TooLong)]);
    }

    #[test]
    fn buffer_stays_bounded_for_a_huge_element() {
        const LIMIT: usize = 4096;
        let mut s = ArraySplitter::new(LIMIT);
        let mut out = Vec::new();
        s.feed(b"[\"", push(&mut out));
        let chunk = vec![b'x'; 1024];
        for _ in 0..1024 {
            s.feed(&chunk, push(&mut out));
            assert!(s.bytes_buffered() <= LIMIT);
        }
        s.feed(b"\",2]", push(&mut out));
        s.finish(push(&mut out));
        assert_eq!(out, vec![err(1, ArrayError::TooLong), ok(2, "2")]);
    }

    #[test]
    fn unterminated() {
        check(10, b"[", &[err(1, ArrayError::Unterminated)]);
        check(10, b"[1,2", &[ok(1, "1"), err(2, ArrayError::Unterminated)]);
        check(10, b"[1,", &[ok(1, "1"), err(2, ArrayError::Unterminated)]);
        check(10, br#"[1,"ab]"#, &[ok(1, "1"), err(2, ArrayError::Unterminated)]);
        check(10, br#"["a\"]"#, &[err(1, ArrayError::Unterminated)]);
        check(10, b"[[1,2]", &[err(1, ArrayError::Unterminated)]);
    }

    #[test]
    fn trailing_data_is_reported_once() {
        check(10, b"[1] x y", &[ok(1, "1"), err(2, ArrayError::TrailingData)]);
        check(10, b"[1][2]", &[ok(1, "1"), err(2, ArrayError::TrailingData)]);
        check(10, b"[] ,", &[err(1, ArrayError::TrailingData)]);
    }

    #[test]
    fn empty_elements() {
        check(10, b"[1,,2]", &[ok(1, "1"), err(2, ArrayError::EmptyElement), ok(3, "2")]);
        check(10, b"[1, ]", &[ok(1, "1"), err(2, ArrayError::EmptyElement)]);
        check(10, b"[ ,1]", &[err(1, ArrayError::EmptyElement), ok(2, "1")]);
        check(10, b"[,]", &[err(1, ArrayError::EmptyElement), err(2, ArrayError::EmptyElement)]);
    }

    #[test]
    fn stray_closing_brace_stays_in_the_element() {
        check(10, b"[1}, 2]", &[ok(1, "1}"), ok(2, "2")]);
    }

    #[test]
    fn errors_display_their_description() {
        let e = ArrayError::TrailingData;
        assert_eq!(alloc::format!("{e}"), e.description());
    }
}
