//! The size-budget check: raw and gzip (-9) bytes of each final worker `.wasm` against
//! `size-budget.toml` (baked in by build.rs).

use std::io::Write as _;

/// One worker's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Worker name, as in `build/<worker>/`.
    pub worker: &'static str,
    /// Maximum raw bytes.
    pub max_raw: u64,
    /// Maximum gzip -9 bytes.
    pub max_gzip: u64,
}

include!(concat!(env!("OUT_DIR"), "/budgets.rs"));

/// Measured size of one wasm file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// Raw bytes.
    pub raw: u64,
    /// Bytes after gzip at level 9.
    pub gzip: u64,
}

/// Measures `bytes` as the edge would ship them.
pub fn measure(bytes: &[u8]) -> std::io::Result<Measured> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    let gz = enc.finish()?;
    Ok(Measured { raw: bytes.len() as u64, gzip: gz.len() as u64 })
}

/// The over-budget complaints for one worker (empty when within budget).
pub fn violations(b: &Budget, m: &Measured) -> Vec<String> {
    let mut out = Vec::new();
    if m.gzip > b.max_gzip {
        out.push(format!("{} worker is over its gzip budget: {} bytes > {} bytes", b.worker, m.gzip, b.max_gzip));
    }
    if m.raw > b.max_raw {
        out.push(format!("{} worker is over its raw budget: {} bytes > {} bytes", b.worker, m.raw, b.max_raw));
    }
    out
}

/// One row of the `make size` table.
pub fn row(b: &Budget, m: &Measured) -> String {
    let headroom = b.max_gzip as i64 - m.gzip as i64;
    format!("{:<8} {:>10} {:>10} {:>12} {:>10}", b.worker, m.raw, m.gzip, b.max_gzip, headroom)
}

/// Header of the `make size` table.
pub const HEADER: &str = "worker          raw       gzip  gzip budget   headroom";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_come_from_the_file() {
        let names: Vec<_> = BUDGETS.iter().map(|b| b.worker).collect();
        assert_eq!(names, ["ingest", "serve", "compact", "ledger"]);
        assert_eq!(BUDGETS[0].max_gzip, 96 * 1024);
        assert_eq!(BUDGETS[1].max_gzip, 640 * 1024);
        assert_eq!(BUDGETS[2].max_gzip, 512 * 1024);
        assert_eq!(BUDGETS[3].max_gzip, 64 * 1024);
    }

    #[test]
    fn over_budget_names_worker_size_and_budget() {
        let b = Budget { worker: "ingest", max_raw: 100, max_gzip: 10 };
        let v = violations(&b, &Measured { raw: 50, gzip: 11 });
        assert_eq!(v, ["ingest worker is over its gzip budget: 11 bytes > 10 bytes"]);
        assert!(violations(&b, &Measured { raw: 100, gzip: 10 }).is_empty());
        assert_eq!(violations(&b, &Measured { raw: 101, gzip: 1 }).len(), 1);
    }

    #[test]
    fn measure_gzips() {
        let m = measure(&[0u8; 10_000]).unwrap();
        assert_eq!(m.raw, 10_000);
        assert!(m.gzip < 100);
    }
}
