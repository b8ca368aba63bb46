//! `make compact`: runs the serving table's compactor (#15) once over a warehouse directory and
//! prints its report as JSON.
//!
//! Usage: `compact --warehouse DIR [--tables a/b,c/d] [--full] [--from-scratch]
//! [--serving-root serving/artifacts] [--splits B1,B2] [--range I] [--location-prefix P,Q]
//! [--file-rows N] [--max-rows N] [--grace-seconds S]`
//!
//! `--splits` is `SERVING_SPLITS` (`shared::serving::split`): the serving table split by key range
//! at those boundaries, each range a table at `{serving-root}/range-{i}` compacted in turn, or
//! range `I` only with `--range`. `--grace-seconds`: the serving table's expiry grace period
//! (default 900).
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
use compactor::{Config, Report};
use shared::serving::split::{self, Split};

const USAGE: &str = "usage: compact --warehouse DIR [--tables a/b,c/d] [--full] [--from-scratch] [--serving-root ROOT] \
                     [--splits B1,B2] [--range I] [--location-prefix P,Q] [--file-rows N] [--max-rows N] [--grace-seconds S]";
const STANDIN_TABLES: &str = "artifacts/preview,artifacts/build,artifacts/bulk";
const STANDIN_LOCATION: &str = "s3://artifacts-warehouse/";

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|p| p.trim().trim_end_matches('/')).filter(|p| !p.is_empty()).map(String::from).collect()
}

/// What to run: the directory, the settings, the tables of the split (one, unsplit) to compact.
#[derive(Debug)]
struct Args {
    dir: PathBuf,
    cfg: Config,
    tables: Vec<Split>,
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut warehouse = None;
    let mut tables = String::new();
    let mut serving_root = String::new();
    let (mut splits, mut range, mut grace) = (String::new(), None, None);
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
            "--splits" => splits = value()?,
            // make passes RANGE= through empty: no range given.
            "--range" => range = Some(value()?).filter(|v| !v.trim().is_empty()),
            "--grace-seconds" => grace = Some(value()?).filter(|v| !v.trim().is_empty()),
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
    if let Some(g) = grace {
        let secs = g.trim().parse::<i64>().map_err(|_| "--grace-seconds is a number")?;
        cfg.grace_ms = secs.max(0).saturating_mul(1000);
    }
    let mut tables = split::parse(&root, &splits)?;
    if let Some(r) = range {
        let i = r.trim().parse::<usize>().map_err(|_| "--range is a number")?;
        if i >= tables.len() {
            return Err(format!("--range {i}: the split has {} ranges (0 to {})", tables.len(), tables.len().saturating_sub(1)));
        }
        tables = tables.into_iter().skip(i).take(1).collect();
    }
    Ok(Args { dir, cfg, tables })
}

/// Runs the compactor over one table until no source is behind; its runs' reports.
fn compact(store: &FsStore, cfg: &Config) -> Result<Vec<Report>, String> {
    // Without a cap on absorbed rows per run, one `make compact` catches every source up.
    let mut cfg = cfg.clone();
    let mut runs = Vec::new();
    loop {
        let report = block_on(compactor::run(store, &cfg)).map_err(|e| e.to_string())?;
        let behind = report.sources.iter().any(|s| s.behind && s.error.is_none()) && report.version.is_some();
        runs.push(report);
        if !behind || runs.len() >= 1000 {
            return Ok(runs);
        }
        cfg.from_scratch = false;
    }
}

/// One table's summary: runs, rows absorbed, bytes written, the last report.
fn summary(root: &str, runs: &[Report]) -> serde_json::Value {
    let last = runs.last().cloned().unwrap_or_default();
    serde_json::json!({
        "serving_root": root,
        "runs": runs.len(),
        "rows_absorbed": runs.iter().map(Report::rows_absorbed).sum::<u64>(),
        "bytes_written": runs.iter().map(|r| r.bytes_written).sum::<u64>(),
        "last": last.to_json(),
    })
}

fn main() -> ExitCode {
    let Args { dir, cfg, tables } = match parse(std::env::args().skip(1).collect()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("compact: {e}");
            return ExitCode::from(2);
        }
    };
    let store = FsStore(dir.clone());
    let split = tables.len() > 1 || tables.iter().any(|t| t.lo.is_some() || t.hi.is_some());
    let mut out = Vec::new();
    let mut ok = true;
    for table in &tables {
        let mut cfg = cfg.clone();
        cfg.serving_root = table.root.clone();
        cfg.range = table.range();
        match compact(&store, &cfg) {
            Ok(runs) => {
                ok &= runs.last().is_none_or(|r| r.errors().is_empty());
                out.push(summary(&table.root, &runs));
            }
            Err(e) => {
                eprintln!("compact: {}: {e}", table.root);
                return ExitCode::FAILURE;
            }
        }
    }
    let mut report =
        if split { serde_json::json!({ "serving_root": cfg.serving_root, "ranges": out }) } else { out.pop().unwrap_or_default() };
    if let Some(obj) = report.as_object_mut() {
        obj.insert("warehouse".into(), dir.display().to_string().into());
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_make_style_flags() {
        let dir = std::env::temp_dir();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = parse(args(&["--warehouse", dir.to_str().unwrap(), "--full=", "--from-scratch=1", "--tables", "a/b, c/d/"])).unwrap();
        assert!(!a.cfg.full && a.cfg.from_scratch);
        assert_eq!(a.cfg.sources, vec!["a/b".to_string(), "c/d".to_string()]);
        assert_eq!(a.tables.len(), 1);
        assert_eq!(a.tables[0].root, "serving/artifacts");
        let a = parse(args(&["--warehouse", dir.to_str().unwrap(), "--full", "--splits=", "--range=", "--grace-seconds="])).unwrap();
        assert!(a.cfg.full);
        assert_eq!(a.cfg.sources.len(), 3);
        assert_eq!(a.cfg.grace_ms, compactor::GRACE_MS);
        assert_eq!(a.tables.len(), 1, "empty SPLITS and RANGE: one table");
        assert!(parse(args(&["--nope"])).is_err());
        let w = dir.to_str().unwrap();
        let a = parse(args(&["--warehouse", w, "--splits", "acme,acme/doc/m", "--grace-seconds", "60"])).unwrap();
        let roots: Vec<&str> = a.tables.iter().map(|t| t.root.as_str()).collect();
        assert_eq!(roots, ["serving/artifacts/range-0", "serving/artifacts/range-1", "serving/artifacts/range-2"]);
        assert_eq!(a.cfg.grace_ms, 60_000);
        let a = parse(args(&["--warehouse", w, "--splits", "acme,acme/doc/m", "--range", "1"])).unwrap();
        assert_eq!(a.tables.len(), 1);
        assert_eq!(a.tables[0].lo.as_deref(), Some(&b"acme"[..]));
        assert!(parse(args(&["--warehouse", w, "--splits", "b,a"])).unwrap_err().contains("increase strictly"));
        assert!(parse(args(&["--warehouse", w, "--splits", "b", "--range", "2"])).unwrap_err().contains("2 ranges"));
    }
}
