//! `shared::gzip::GzipDecoder`: arbitrary compressed body, small output limit, any chunking.
//!
//! Header (see `shared_fuzz::plan`): limit byte × 16 = `max_output_bytes` (0..=4080), then chunk
//! sizes. Checks: the sink never receives more than the limit, `total_out` equals what the sink
//! received; one chunk, the planned chunks and byte-by-byte give the same result, and the same
//! output when it succeeds or stops at the limit (otherwise one output is a prefix of the
//! other); a successful decode equals flate2's `MultiGzDecoder` output.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use shared::gzip::{GzipDecoder, GzipError};

fn run(limit: u64, chunks: &[&[u8]]) -> (Result<(), GzipError>, Vec<u8>) {
    let mut d = GzipDecoder::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        let r = d.feed(c, |piece| {
            out.extend_from_slice(piece);
            assert!(out.len() as u64 <= limit, "sink got {} bytes, limit {limit}", out.len());
        });
        assert_eq!(d.total_out(), out.len() as u64, "total_out disagrees with the sink");
        if r.is_err() {
            let again = d.feed(b"\x1f\x8b", |_| panic!("output after an error"));
            assert_eq!(again, r, "a failed decoder must keep returning its error");
            return (r, out);
        }
    }
    (d.finish(), out)
}

fuzz_target!(|data: &[u8]| {
    let Some((plan, body)) = shared_fuzz::plan(data) else { return };
    let limit = u64::from(plan.limit) * 16;
    let [whole, planned, bytes] = shared_fuzz::feedings(&plan, body);
    let (res, out) = run(limit, &whole);
    for (name, chunks) in [("planned", planned), ("byte by byte", bytes)] {
        let (r, o) = run(limit, &chunks);
        assert_eq!(r, res, "{name}: result differs from one chunk");
        if matches!(res, Ok(()) | Err(GzipError::TooLarge)) {
            assert_eq!(o, out, "{name}: output differs from one chunk");
        } else {
            let n = o.len().min(out.len());
            assert_eq!(o[..n], out[..n], "{name}: output is not a prefix of one chunk's");
        }
    }
    if res == Err(GzipError::TooLarge) {
        assert_eq!(out.len() as u64, limit, "TooLarge before the limit was reached");
    }
    if res.is_ok() {
        let mut reference = Vec::new();
        let r = flate2::read::MultiGzDecoder::new(body).read_to_end(&mut reference);
        assert!(r.is_ok(), "accepted a body flate2 rejects: {r:?}");
        assert_eq!(reference, out, "output differs from flate2");
    }
});
