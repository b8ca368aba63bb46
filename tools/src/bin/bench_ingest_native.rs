//! `make bench-ingest`, native half: the same NDJSON bytes the ingest worker is timed on, parsed
//! natively on the same machine, at three depths, so the worker's throughput has a peer.
//!
//! - `value`: split lines, `serde_json::from_slice::<serde_json::Value>` each one (plain serde_json).
//! - `record`: `value`, then `shared::record::Record::from_client` (the record struct: contract
//!   checks, `ts`/owner stamp, content sha256), which is the work ingest does per line.
//! - `intake`: `shared::intake::Intake` fed 1 MiB pieces: the worker's own CPU path (split,
//!   parse, validate, scope check, re-serialise, pack 1 MB chunks) with no I/O (no KV, no send).
//!
//! Usage: `bench_ingest_native FILE... [--runs N]`; prints one JSON object per file on stdout:
//! `{file, bytes, records, runs, value: [seconds…], record: [seconds…], intake: [seconds…]}`.

// A bench binary, not worker code: a malformed input or a wrong count should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use shared::intake::{BodyFormat, Intake, Limits};
use shared::record::{Mode, Record, Stamp, Visibility};
use shared::token::Claims;
use std::hint::black_box;
use std::time::Instant;

const PIECE: usize = 1024 * 1024;

fn stamp() -> Stamp<'static> {
    Stamp { mode: Mode::Build, now_micros: 1_780_000_000_000_000, org: "acme", user: "alice", default_visibility: Visibility::Org }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace))
}

fn parse_values(bytes: &[u8]) -> u64 {
    let mut n = 0;
    for line in lines(bytes) {
        let v: Value = serde_json::from_slice(line).unwrap();
        black_box(&v);
        n += 1;
    }
    n
}

fn parse_records(bytes: &[u8]) -> u64 {
    let stamp = stamp();
    let mut n = 0;
    for line in lines(bytes) {
        let v: Value = serde_json::from_slice(line).unwrap();
        let r = Record::from_client(v, &stamp).unwrap();
        black_box(&r);
        n += 1;
    }
    n
}

fn run_intake(bytes: &[u8]) -> u64 {
    // The worker's defaults (wrangler/ingest.toml, ingest-worker/src/settings.rs).
    let limits = Limits { max_record_bytes: 1_000_000 - 1_024, max_records: 100_000, chunk_bytes: 1_000_000 };
    let claims = Claims { sub: "alice".into(), org: "acme".into(), scopes: vec!["write:*".into()], exp: u64::MAX, nbf: None, iat: None };
    let mut intake = Intake::new(BodyFormat::Ndjson, limits, stamp(), &claims);
    let mut out = Vec::new();
    let mut sent = 0;
    for piece in bytes.chunks(PIECE) {
        intake.feed(piece, &mut out).unwrap();
        // What the worker does with a full chunk: `[rec,…]` for send, then it is dropped.
        for c in out.drain(..) {
            black_box(c.json(|_| true));
            sent += c.len() as u64;
        }
    }
    let report = intake.finish(&mut out).unwrap();
    for c in out.drain(..) {
        black_box(c.json(|_| true));
        sent += c.len() as u64;
    }
    assert_eq!(report.rejected_total, 0, "the bench body has invalid lines: {:?}", report.rejected.first());
    assert_eq!(sent, report.valid);
    sent
}

fn time(f: impl Fn(&[u8]) -> u64, bytes: &[u8], expect: u64) -> f64 {
    let t0 = Instant::now();
    let n = f(bytes);
    let s = t0.elapsed().as_secs_f64();
    assert_eq!(n, expect, "record count");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5usize;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--runs" {
            runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N");
        } else {
            files.push(a.clone());
        }
    }
    assert!(!files.is_empty(), "usage: bench_ingest_native FILE... [--runs N]");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let records = lines(&bytes).count() as u64;
        // One untimed pass of each warms the page cache and the allocator.
        parse_values(&bytes);
        let (mut value, mut record, mut intake) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            value.push(time(parse_values, &bytes, records));
            record.push(time(parse_records, &bytes, records));
            intake.push(time(run_intake, &bytes, records));
        }
        let out = serde_json::json!({
            "file": file, "bytes": bytes.len(), "records": records, "runs": runs,
            "value": value, "record": record, "intake": intake,
        });
        println!("{out}");
    }
}
