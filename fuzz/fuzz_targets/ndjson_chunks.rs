//! `shared::ndjson::LineSplitter`: arbitrary body, limit and chunking.
//!
//! Header (see `shared_fuzz::plan`): limit byte = `max_line_bytes` (0..=255), then chunk sizes.
//! Checks: line numbers strictly increase; every `Ok` line is valid UTF-8, has no `\n`, is not
//! blank and is within the limit; the carry never exceeds the limit; one chunk, the planned
//! chunks and byte-by-byte give identical lines; and all of them equal a naive whole-body model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ndjson::{LineError, LineSplitter};

type Owned = (u64, Result<Vec<u8>, LineError>);

fn run(max: usize, chunks: &[&[u8]]) -> Vec<Owned> {
    let mut s = LineSplitter::new(max);
    let mut out = Vec::new();
    for c in chunks {
        s.feed(c, |l| out.push((l.number, l.content.map(<[u8]>::to_vec))));
        assert!(s.bytes_buffered() <= max, "carry {} > limit {max}", s.bytes_buffered());
    }
    s.finish(|l| out.push((l.number, l.content.map(<[u8]>::to_vec))));
    out
}

/// The rules of `LineSplitter` applied to the whole body at once.
fn model(max: usize, body: &[u8]) -> Vec<Owned> {
    let mut out = Vec::new();
    let parts: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let last = parts.len() - 1;
    for (i, line) in parts.into_iter().enumerate() {
        if i == last && line.is_empty() {
            break;
        }
        let number = i as u64 + 1;
        if line.len() > max {
            out.push((number, Err(LineError::TooLong)));
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(line) {
            Ok(_) => out.push((number, Ok(line.to_vec()))),
            Err(_) => out.push((number, Err(LineError::InvalidUtf8))),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((plan, body)) = shared_fuzz::plan(data) else { return };
    let max = usize::from(plan.limit);
    let [whole, planned, bytes] = shared_fuzz::feedings(&plan, body);
    let got = run(max, &whole);

    let mut prev = 0u64;
    for (number, content) in &got {
        assert!(*number > prev, "line numbers must strictly increase: {prev} then {number}");
        prev = *number;
        if let Ok(line) = content {
            assert!(std::str::from_utf8(line).is_ok(), "Ok line is not UTF-8");
            assert!(!line.contains(&b'\n'), "Ok line contains a newline");
            assert!(line.len() <= max, "Ok line longer than the limit");
            assert!(!line.iter().all(u8::is_ascii_whitespace), "blank line was emitted");
        }
    }
    assert_eq!(got, run(max, &planned), "planned chunks differ from one chunk");
    assert_eq!(got, run(max, &bytes), "byte by byte differs from one chunk");
    assert_eq!(got, model(max, body), "differs from the whole-body model");
});
