//! `shared::intake::Intake`: arbitrary bytes as an NDJSON body and as a JSON-array body, with
//! small limits and any chunking.
//!
//! Header (see `shared_fuzz::plan`): limit byte → `max_record_bytes` (bits 0..5, × 8: 0..=248)
//! and `max_records` (bits 5..8: 0..=7); chunk sizes. The first chunk-size byte also picks the
//! mode (bit 0: bulk), the scopes (bit 1: `write:*`) and `chunk_bytes` (64 + 32 × bits 2..8). Records seen = what the bare splitter
//! reports (lines, elements, `TooLong`, `EmptyElement`). Checks: reported lines (valid +
//! rejected) never exceed records seen, and equal them when the body was read to the end; a
//! stop is `TooManyRecords` only past `max_records`, `Malformed` only for a broken array; every
//! reported line number is one the splitter reported; chunks hold exactly the valid lines, in
//! order, within `chunk_bytes`, each a JSON object; one chunk, the planned chunks and byte by
//! byte give the same report and chunks; and the outcome renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::chunk::Chunk;
use shared::intake::{BodyFormat, Intake, Limits, Report, Stop};
use shared::json_array::{ArrayError, ArraySplitter};
use shared::ndjson::LineSplitter;
use shared::record::{Mode, Stamp, Visibility};
use shared::token::Claims;

const NOW_MICROS: i64 = 1_800_000_000_000_000;

/// Line numbers of the records the splitter reports, and whether the array framing broke.
fn seen(format: BodyFormat, max: usize, body: &[u8]) -> (Vec<u64>, bool) {
    let mut lines = Vec::new();
    let mut broken = false;
    match format {
        BodyFormat::Ndjson => {
            let mut s = LineSplitter::new(max);
            s.feed(body, |l| lines.push(l.number));
            s.finish(|l| lines.push(l.number));
        }
        BodyFormat::JsonArray => {
            let mut s = ArraySplitter::new(max);
            let mut on = |e: shared::json_array::Element<'_>| match e.content {
                Ok(_) | Err(ArrayError::TooLong | ArrayError::EmptyElement) => {
                    if !broken {
                        lines.push(e.index)
                    }
                }
                Err(_) => broken = true,
            };
            s.feed(body, &mut on);
            s.finish(on);
        }
    }
    (lines, broken)
}

type Outcome = (Result<Report, Stop>, u64, Vec<(Vec<u64>, Vec<String>, usize)>);

fn run(format: BodyFormat, limits: Limits, stamp: &Stamp<'_>, claims: &Claims, chunks: &[&[u8]]) -> Outcome {
    let mut intake = Intake::new(format, limits, stamp.clone(), claims);
    let mut out: Vec<Chunk> = Vec::new();
    let mut result = None;
    for c in chunks {
        if let Err(stop) = intake.feed(c, &mut out) {
            result = Some((Err(stop), intake.valid_so_far()));
            break;
        }
    }
    let (result, valid) = match result {
        Some(r) => r,
        None => {
            let before = intake.valid_so_far();
            let r = intake.finish(&mut out);
            // `finish` may still add the last NDJSON line.
            let valid = match &r {
                Ok(report) => {
                    assert!(before <= report.valid, "valid went down in finish");
                    report.valid
                }
                Err(_) => before,
            };
            (r, valid)
        }
    };
    let chunks = out.into_iter().map(|c| (c.lines, c.records, c.bytes)).collect();
    (result, valid, chunks)
}

fuzz_target!(|data: &[u8]| {
    let Some((plan, body)) = shared_fuzz::plan(data) else { return };
    let sel = data[1];
    let limits = Limits {
        max_record_bytes: usize::from(plan.limit & 0x1f) * 8,
        max_records: u64::from(plan.limit >> 5),
        chunk_bytes: 64 + usize::from(sel >> 2) * 32,
    };
    let mode = if sel & 1 == 1 { Mode::Bulk } else { Mode::Build };
    let stamp = Stamp { mode, now_micros: NOW_MICROS, org: "acme", user: "alice", default_visibility: Visibility::Org };
    let scopes = if sel & 2 == 2 { vec!["write:*".to_string()] } else { vec!["write:docs".to_string(), "read:*".to_string()] };
    let claims = Claims { sub: "alice".into(), org: "acme".into(), scopes, exp: u64::MAX, nbf: None, iat: None };
    let [whole, planned, bytes] = shared_fuzz::feedings(&plan, body);

    for format in [BodyFormat::Ndjson, BodyFormat::JsonArray] {
        let (seen_lines, broken) = seen(format, limits.max_record_bytes, body);
        let seen_n = seen_lines.len() as u64;
        let got = run(format, limits, &stamp, &claims, &whole);
        let (result, valid_so_far, chunks) = &got;

        let chunk_lines: Vec<u64> = chunks.iter().flat_map(|(l, _, _)| l.iter().copied()).collect();
        assert!(chunk_lines.windows(2).all(|w| w[0] < w[1]), "chunk lines out of order: {chunk_lines:?}");
        for (lines, records, bytes) in chunks {
            assert_eq!(lines.len(), records.len());
            assert!(!lines.is_empty(), "empty chunk");
            assert!(*bytes <= limits.chunk_bytes, "chunk of {bytes} bytes > {}", limits.chunk_bytes);
            for (l, rec) in lines.iter().zip(records) {
                assert!(seen_lines.contains(l), "chunk line {l} was never a record");
                let v: serde_json::Value = serde_json::from_str(rec).expect("chunk record is not JSON");
                assert!(v.is_object(), "chunk record is not an object");
            }
        }
        match result {
            Ok(report) => {
                let reported = report.valid + report.rejected_total;
                assert!(!broken, "{format:?}: broken array framing accepted");
                assert!(seen_n <= limits.max_records, "{seen_n} records > max {}", limits.max_records);
                assert_eq!(reported, seen_n, "{format:?}: reported lines != records seen");
                assert_eq!(report.valid, *valid_so_far);
                assert_eq!(report.valid, chunk_lines.len() as u64, "valid lines != lines in chunks");
                for r in &report.rejected {
                    assert!(seen_lines.contains(&r.line), "rejected line {} was never a record", r.line);
                    assert!(!chunk_lines.contains(&r.line), "line {} both rejected and chunked", r.line);
                }
                match report.outcome(mode) {
                    Ok(text) => assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok()),
                    Err(p) => assert!(matches!(p.status, 400 | 403 | 503), "status {}", p.status),
                }
            }
            Err(Stop::TooManyRecords) => {
                assert!(seen_n > limits.max_records, "TooManyRecords with {seen_n} <= {}", limits.max_records);
                assert!(*valid_so_far <= seen_n);
            }
            Err(Stop::Malformed(_)) => {
                assert_eq!(format, BodyFormat::JsonArray, "Malformed for NDJSON");
                assert!(broken, "Malformed but the splitter saw no framing error");
                assert!(*valid_so_far <= seen_n);
            }
        }
        for (name, chunks) in [("planned", &planned), ("byte by byte", &bytes)] {
            let other = run(format, limits, &stamp, &claims, chunks);
            // Where a stop is noticed depends on chunking, so compare full reads only.
            if result.is_ok() || other.0.is_ok() {
                assert_eq!(&other, &got, "{format:?} {name}: differs from one chunk");
            } else {
                assert_eq!(
                    std::mem::discriminant(other.0.as_ref().unwrap_err()),
                    std::mem::discriminant(result.as_ref().unwrap_err()),
                    "{format:?} {name}: stops differ"
                );
            }
        }
    }
});
