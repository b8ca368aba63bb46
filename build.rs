//! Build script of the root `artifact-tools` package.
//!
//! Its job: read `size-budget.toml`, reject it when malformed (a budget must be a positive byte
//! count for a known worker), and bake it into the `size` tool as a constant table, so the check
//! that gates every build can never drift from the file. Building the wasm workers themselves is
//! the Makefile's job (see DEVELOPING.md for why not here).

use std::{env, fmt::Write as _, fs, path::Path};

const WORKERS: &[&str] = &["ingest", "serve", "compact", "ledger"];

fn main() {
    println!("cargo:rerun-if-changed=size-budget.toml");
    let text = fs::read_to_string("size-budget.toml").unwrap_or_else(|e| fail(&format!("cannot read size-budget.toml: {e}")));
    let table: toml::Table = text.parse().unwrap_or_else(|e| fail(&format!("size-budget.toml is not TOML: {e}")));
    let mut out = String::from("/// Budgets baked from size-budget.toml by build.rs.\npub const BUDGETS: &[Budget] = &[\n");
    for name in WORKERS {
        let entry = table.get(*name).and_then(|v| v.as_table()).unwrap_or_else(|| fail(&format!("size-budget.toml: missing [{name}]")));
        let get = |key: &str| -> u64 {
            match entry.get(key).and_then(|v| v.as_integer()) {
                Some(n) if n > 0 => n as u64,
                _ => fail(&format!("size-budget.toml: [{name}].{key} must be a positive integer")),
            }
        };
        let _ = writeln!(out, "    Budget {{ worker: {name:?}, max_raw: {}, max_gzip: {} }},", get("max_raw"), get("max_gzip"));
    }
    for key in table.keys() {
        if !WORKERS.contains(&key.as_str()) {
            fail(&format!("size-budget.toml: unknown worker [{key}]"));
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR unset"))).join("budgets.rs");
    fs::write(dest, out).unwrap_or_else(|e| fail(&format!("cannot write budgets.rs: {e}")));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}
