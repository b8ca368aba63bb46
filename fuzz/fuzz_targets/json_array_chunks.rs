//! `shared::json_array::ArraySplitter`: arbitrary body, limit and chunking.
//!
//! Header (see `shared_fuzz::plan`): limit byte = `max_element_bytes` (0..=255, 255 = no limit
//! in practice), then chunk sizes. Checks: indexes never decrease and per-element results
//! (`Ok`, `TooLong`, `EmptyElement`) have strictly increasing indexes; a body-level error
//! (`NotAnArray`, `Unterminated`, `TrailingData`) is reported at most once and last; every `Ok`
//! element is non-empty, trimmed and within the limit; the carry never exceeds the limit; one
//! chunk, the planned chunks and byte-by-byte agree; and, with no limit in the way, the
//! elements equal serde_json's raw array elements (and vice versa).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use shared::json_array::{ArrayError, ArraySplitter};

type Owned = (u64, Result<Vec<u8>, ArrayError>);

fn run(max: usize, chunks: &[&[u8]]) -> Vec<Owned> {
    let mut s = ArraySplitter::new(max);
    let mut out = Vec::new();
    for c in chunks {
        s.feed(c, |e| out.push((e.index, e.content.map(<[u8]>::to_vec))));
        assert!(s.bytes_buffered() <= max, "carry {} > limit {max}", s.bytes_buffered());
    }
    s.finish(|e| out.push((e.index, e.content.map(<[u8]>::to_vec))));
    out
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn body_level(e: &Result<Vec<u8>, ArrayError>) -> bool {
    matches!(e, Err(ArrayError::NotAnArray | ArrayError::Unterminated | ArrayError::TrailingData))
}

fuzz_target!(|data: &[u8]| {
    let Some((plan, body)) = shared_fuzz::plan(data) else { return };
    let max = if plan.limit == 255 { usize::MAX } else { usize::from(plan.limit) };
    let [whole, planned, bytes] = shared_fuzz::feedings(&plan, body);
    let got = run(max, &whole);

    let mut prev_any = 0u64;
    let mut prev_elem = 0u64;
    for (i, (index, content)) in got.iter().enumerate() {
        assert!(*index >= 1 && *index >= prev_any, "index went backwards: {prev_any} then {index}");
        prev_any = *index;
        if body_level(content) {
            assert_eq!(i, got.len() - 1, "body-level error {content:?} is not the last report");
        } else {
            assert!(*index > prev_elem, "element index repeated: {prev_elem} then {index}");
            prev_elem = *index;
        }
        if let Ok(el) = content {
            assert!(!el.is_empty(), "empty Ok element");
            assert!(!is_ws(el[0]) && !is_ws(el[el.len() - 1]), "Ok element is not trimmed");
            assert!(el.len() <= max, "Ok element longer than the limit");
        }
    }
    assert_eq!(got, run(max, &planned), "planned chunks differ from one chunk");
    assert_eq!(got, run(max, &bytes), "byte by byte differs from one chunk");

    if max == usize::MAX {
        // A well-formed array splits exactly as serde_json sees it ...
        if let Ok(elems) = serde_json::from_slice::<Vec<&RawValue>>(body) {
            let want: Vec<Owned> = elems.iter().enumerate().map(|(i, r)| (i as u64 + 1, Ok(r.get().as_bytes().to_vec()))).collect();
            assert_eq!(got, want, "differs from serde_json's elements");
        }
        // ... and a clean split of valid elements is a well-formed array.
        let clean = got.iter().all(|(_, c)| c.as_ref().is_ok_and(|el| serde_json::from_slice::<serde_json::Value>(el).is_ok()));
        if clean {
            let parsed = serde_json::from_slice::<Vec<serde_json::Value>>(body);
            assert!(parsed.as_ref().is_ok_and(|v| v.len() == got.len()), "splitter accepted what serde_json rejects: {parsed:?}");
        }
    }
});
