//! `make size`: prints worker, raw bytes, gzip bytes, budget, headroom; exits 1 when any worker
//! is over budget, naming the worker, the size and the budget.
//!
//! Usage: `size [BUILD_DIR]` (default `build`); reads `<BUILD_DIR>/<worker>/index_bg.wasm`.

use artifact_tools::size::{measure, row, violations, BUDGETS, HEADER};
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "build".into());
    println!("{HEADER}");
    let mut failures = Vec::new();
    for b in BUDGETS {
        let path = format!("{dir}/{}/index_bg.wasm", b.worker);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{}: cannot read {path}: {e} (run `make build`)", b.worker));
                continue;
            }
        };
        match measure(&bytes) {
            Ok(m) => {
                println!("{}", row(b, &m));
                failures.extend(violations(b, &m));
            }
            Err(e) => failures.push(format!("{}: cannot gzip: {e}", b.worker)),
        }
    }
    for f in &failures {
        eprintln!("error: {f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
