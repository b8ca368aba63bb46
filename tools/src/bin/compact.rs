//! `make compact`: runs the serving table's compactor (#15) once over a warehouse directory and
//! prints its report as JSON.
//!
//! Usage: `compact --warehouse DIR [--tables a/b,c/d] [--full] [--from-scratch]
//! [--serving-root serving/artifacts] [--location-prefix P,Q] [--file-rows N] [--max-rows N]`
//!
//! The directory is the bucket: keys are paths below it. Sources default to the stand-in's three
//! tables (`artifacts/preview`, `artifacts/build`, `artifacts/bulk`); their locations map to keys
//! through `s3://artifacts-warehouse/` (the stand-in's), `file://<DIR>/` and any `--location-prefix`.
//! The serving table's own locations are `file://<DIR>/…`, so pyiceberg reads it in place.
//! Exit code 1 when the run failed or a source has an error, 2 for bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use compactor::store::{block_on, FsStore};
use compactor::Config;

const USAGE: &str = "usage: compact --warehouse DIR [--tables a/b,c/d] [--full] [--from-scratch] [--serving-root ROOT] \
                     [--location-prefix P,Q] [--file-rows N] [--max-rows N]";
const STANDIN_TABLES: &str = "artifacts/preview,artifacts/build,artifacts/bulk";
const STANDIN_LOCATION: &str = "s3://artifacts-warehouse/";

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|p| p.trim().trim_end_matches('/')).filter(|p| !p.is_empty()).map(String::from).collect()
}

fn parse(args: Vec<String>) -> Result<(PathBuf, Config), String> {
    let mut warehouse = None;
    let mut tables = String::new();
    let mut serving_root = String::new();
    let mut prefixes = Vec::new();
    let (mut full, mut scratch) = (false, false);
    let (mut file_rows, mut max_rows) = (None, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--warehouse" => warehouse = Some(PathBuf::from(value()?)),
            "--tables" => tables = value()?,
            "--serving-root" => serving_root = value()?,
            "--location-prefix" => prefixes.extend(value()?.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from)),
            "--file-rows" => file_rows = Some(value()?.parse::<usize>().map_err(|_| "--file-rows is a number")?),
            "--max-rows" => max_rows = Some(value()?.parse::<u64>().map_err(|_| "--max-rows is a number")?),
            // make passes FULL=/FROM_SCRATCH= through as the flag's value: 1/true/yes turn it on.
            "--full" => full = inline.as_deref().is_none_or(|v| matches!(v, "1" | "true" | "yes")),
            "--from-scratch" => scratch = inline.as_deref().is_none_or(|v| matches!(v, "1" | "true" | "yes")),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let dir = warehouse.ok_or(format!("--warehouse DIR is required\n{USAGE}"))?;
    let dir = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let location = format!("file://{}/", dir.display());
    let sources = match list(&tables) {
        t if t.is_empty() => list(STANDIN_TABLES),
        t => t,
    };
    let root = if serving_root.trim().is_empty() { "serving/artifacts".to_string() } else { serving_root.trim().to_string() };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?;
    let nonce = format!("{:08x}", (now.subsec_nanos() ^ std::process::id().rotate_left(16)));
    let mut cfg = Config::new(&root, &location, sources, i64::try_from(now.as_millis()).unwrap_or(i64::MAX), nonce);
    cfg.source_prefixes = [vec![STANDIN_LOCATION.to_string(), location], prefixes].concat();
    cfg.full = full;
    cfg.from_scratch = scratch;
    if let Some(n) = file_rows {
        cfg.limits.file_rows = n.max(1);
    }
    if let Some(n) = max_rows {
        cfg.max_rows = n.max(1);
    }
    Ok((dir, cfg))
}

fn main() -> ExitCode {
    let (dir, cfg) = match parse(std::env::args().skip(1).collect()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("compact: {e}");
            return ExitCode::from(2);
        }
    };
    let store = FsStore(dir.clone());
    // Without a cap on absorbed rows per run, one `make compact` catches every source up.
    let mut cfg = cfg;
    let mut runs = Vec::new();
    loop {
        match block_on(compactor::run(&store, &cfg)) {
            Ok(report) => {
                let behind = report.sources.iter().any(|s| s.behind && s.error.is_none()) && report.version.is_some();
                runs.push(report);
                if !behind || runs.len() >= 1000 {
                    break;
                }
                cfg.from_scratch = false;
            }
            Err(e) => {
                eprintln!("compact: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let last = runs.last().cloned().unwrap_or_default();
    let out = serde_json::json!({
        "warehouse": dir.display().to_string(),
        "serving_root": cfg.serving_root,
        "runs": runs.len(),
        "rows_absorbed": runs.iter().map(compactor::Report::rows_absorbed).sum::<u64>(),
        "bytes_written": runs.iter().map(|r| r.bytes_written).sum::<u64>(),
        "last": last.to_json(),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if last.errors().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_make_style_flags() {
        let dir = std::env::temp_dir();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_, c) = parse(args(&["--warehouse", dir.to_str().unwrap(), "--full=", "--from-scratch=1", "--tables", "a/b, c/d/"])).unwrap();
        assert!(!c.full && c.from_scratch);
        assert_eq!(c.sources, vec!["a/b".to_string(), "c/d".to_string()]);
        let (_, c) = parse(args(&["--warehouse", dir.to_str().unwrap(), "--full"])).unwrap();
        assert!(c.full);
        assert_eq!(c.sources.len(), 3);
        assert!(parse(args(&["--nope"])).is_err());
    }
}
