//! `make stream-schema`: writes the record contract as a Cloudflare Pipelines stream schema (see
//! `artifact_tools::stream_schema`).
//!
//! Usage: `stream_schema [--out PATH | --check PATH]`. Without arguments the schema goes to stdout;
//! `--out` writes it; `--check` exits 1 naming every difference between PATH and the contract.

use artifact_tools::stream_schema::{disagreements, render, stream_schema};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let schema = match stream_schema() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stream_schema: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = render(&schema);
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        ["--out", path] => match std::fs::write(path, &text) {
            Ok(()) => {
                eprintln!("wrote {path} ({} fields)", schema.get("fields").and_then(|f| f.as_array()).map_or(0, Vec::len));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("stream_schema: {path}: {e}");
                ExitCode::FAILURE
            }
        },
        ["--check", path] => {
            let file = std::fs::read_to_string(path).unwrap_or_default();
            let problems = disagreements(&file);
            for p in &problems {
                eprintln!("{p}");
            }
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: stream_schema [--out PATH | --check PATH]");
            ExitCode::from(2)
        }
    }
}
