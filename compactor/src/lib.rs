//! The serving table's compactor (issue #15, `docs/design/serving-table.md`): one [`run`] reads
//! the serving table's pointer and root, absorbs every append snapshot of each source table after
//! its watermark, and commits the next version — a new L0 run of the newest row per key, bounded
//! merge steps into L1, one manifest listing every live file, the run's own metadata, then the
//! root (create-only: the commit point, so one writer wins each version and a loser starts over),
//! and the pointer moved last with a conditional put. After a commit it expires its own versions
//! older than [`Config::grace_ms`] and deletes the files none of the retained ones references.
//! A split serving table ([`shared::serving::split`]) is one run per key range
//! ([`Config::range`]).
//!
//! The decisions (newest per key, file splits, merge steps, the next root) are
//! `shared::serving::plan`'s, pure; the files are `iceberg_writer::serving`'s. This crate is the
//! I/O between them over a [`store::Store`]: R2 in the stand-in, the filesystem in `make compact`,
//! memory in tests.
//!
//! - [`store`]: the [`store::Store`] trait, [`store::MemStore`], `store::FsStore` (native).
//! - [`source`]: a source table's current metadata, the snapshots after a watermark, their rows.
//! - [`rows`]: every column of a data file, decoded.
//! - [`retention`]: rows expired past [`Config::retention_grace_ms`] leave (#18).
//! - `r2` (feature `r2`): an R2 bucket binding as the store.
//! - `table` (private): the serving table: read, plan, write, commit.
//! - `edges` (private): the edge table (#18), written and merged in the same run and version.

pub mod covered;
mod edges;
#[cfg(feature = "r2")]
pub mod r2;
pub mod retention;
pub mod rows;
pub mod source;
pub mod store;
mod table;

use std::collections::BTreeMap;

use serde_json::{json, Value};

pub use shared::serving::plan::Limits;
pub use shared::serving::split::KeyRange;
pub use store::Store;

/// What one run does.
#[derive(Debug, Clone)]
pub struct Config {
    /// The serving table's root in the bucket (`serving/artifacts`).
    pub serving_root: String,
    /// Prefix of the serving table's absolute locations (`s3://artifacts-warehouse/`,
    /// `file:///abs/dir/`): locations are this plus the key.
    pub location_prefix: String,
    /// Source table roots, in order: index `i` is `_source = i` and `sources[i]` of the root.
    pub sources: Vec<String>,
    /// Prefixes mapping the sources' absolute locations to keys (the first one a location
    /// starts with).
    pub source_prefixes: Vec<String>,
    /// File sizes and merge pacing.
    pub limits: Limits,
    /// Most source rows absorbed per run (whole snapshots: at least one snapshot is absorbed).
    pub max_rows: u64,
    /// Merge until L0 is empty (`make compact FULL=1`).
    pub full: bool,
    /// Ignore the current root: absorb every source snapshot into the next version.
    pub from_scratch: bool,
    /// Now, ms since the epoch (commit times).
    pub now_ms: i64,
    /// A fresh string per run (hex): names of the files it writes and its snapshot id, so a
    /// rerun after a crash never collides with the orphans of the crashed one.
    pub nonce: String,
    /// Parquet codec of the serving files.
    pub codec: iceberg_writer::WriteCodec,
    /// The keys this table holds (a split serving table: `shared::serving::split`); rows of
    /// other keys are not written. Default every key.
    pub range: KeyRange,
    /// How long a version stays readable after it stopped being current, and how old an
    /// unreferenced object must be before it is deleted: longer than any reader's metadata TTL
    /// (`SERVING_GRACE_SECONDS`; default [`GRACE_MS`]).
    pub grace_ms: i64,
    /// How long after its own `expires_at` a row stays in the serving table
    /// (`RETENTION_GRACE_SECONDS`; default [`RETENTION_GRACE_MS`]): a run that absorbs or merges
    /// a row expired longer ago drops it ([`retention`]).
    pub retention_grace_ms: i64,
    /// Catalog sources (`catalog:<table>`): source id → its current metadata, resolved by the
    /// caller before the run (the REST catalog's `loadTable` `metadata-location`; a bucket key,
    /// or an absolute location mapped by `source_prefixes`).
    pub catalog: BTreeMap<String, String>,
}

/// Rows absorbed per run unless configured (one run's memory holds them all).
pub const MAX_ROWS: u64 = 200_000;

/// [`Config::grace_ms`] unless configured: 15 minutes.
pub const GRACE_MS: i64 = 15 * 60 * 1000;

/// [`Config::retention_grace_ms`] unless configured: 7 days.
pub const RETENTION_GRACE_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Attempts of one run: a run that loses the race for a version starts over from the new one.
pub const MAX_ATTEMPTS: u32 = 8;

impl Config {
    /// Defaults for `sources` under `serving_root`.
    pub fn new(serving_root: &str, location_prefix: &str, sources: Vec<String>, now_ms: i64, nonce: String) -> Config {
        Config {
            serving_root: serving_root.trim_end_matches('/').to_string(),
            location_prefix: location_prefix.to_string(),
            sources,
            source_prefixes: vec![location_prefix.to_string()],
            limits: Limits::default(),
            max_rows: MAX_ROWS,
            full: false,
            from_scratch: false,
            now_ms,
            nonce,
            codec: iceberg_writer::WriteCodec::Snappy,
            range: KeyRange::ALL,
            grace_ms: GRACE_MS,
            retention_grace_ms: RETENTION_GRACE_MS,
            catalog: BTreeMap::new(),
        }
    }
}

/// What happened to one source in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// The source's root.
    pub id: String,
    /// Snapshots absorbed.
    pub snapshots: u64,
    /// Rows absorbed.
    pub rows: u64,
    /// Bytes of the source data files read.
    pub bytes: u64,
    /// Its watermark after the run (snapshot id).
    pub watermark: Option<i64>,
    /// Whether snapshots after the watermark are left (row budget or error).
    pub behind: bool,
    /// Why the compactor stopped for it (its watermark stays).
    pub error: Option<String>,
}

/// What one run did (`make compact` prints it, the stand-in's commit answer carries it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The version committed (`None`: nothing to do).
    pub version: Option<u64>,
    /// The version it started from (0: none).
    pub previous: u64,
    /// A version a crashed commit left behind that this run moved the pointer to.
    pub helped_along: Option<u64>,
    /// Whether it lost a race and started over.
    pub restarted: bool,
    /// How many times it lost a race and started over.
    pub restarts: u32,
    /// Whether it rebuilt from every source snapshot (`from_scratch`, or the sources changed).
    pub rebuilt: bool,
    /// Per source, in order.
    pub sources: Vec<SourceReport>,
    /// Rows written to serving files.
    pub rows_written: u64,
    /// Serving data files written.
    pub files_written: u64,
    /// Serving data files no longer live after the run.
    pub files_removed: u64,
    /// Bytes of serving data files written.
    pub bytes_written: u64,
    /// Merge steps done.
    pub merge_steps: u64,
    /// L0 runs and L1 files live after the run.
    pub l0_runs: u64,
    /// L1 files live after the run.
    pub l1_files: u64,
    /// Versions whose snapshots left the table's metadata (expired: not current for longer than
    /// the grace period).
    pub expired_versions: u64,
    /// Objects deleted (expired versions' and lost or crashed runs' files older than the grace
    /// period).
    pub deleted_files: u64,
    /// Expired rows dropped ([`retention`]: no row of their key is left).
    pub retention_dropped: u64,
    /// Expired rows kept as retention tombstones (an older version may be in a file the run did
    /// not read).
    pub retention_tombstones: u64,
    /// Why deleting unreferenced files failed (the version is committed all the same; the next
    /// commit collects again).
    pub expiry_error: Option<String>,
    /// Per key absorbed, the winning row's place (the ledger's `covered`, #17).
    pub absorbed: Vec<covered::Absorbed>,
    /// The sources' watermarks after the run (the ledger's `covered`).
    pub watermarks: Vec<covered::Mark>,
}

impl Report {
    /// Rows absorbed over every source.
    pub fn rows_absorbed(&self) -> u64 {
        self.sources.iter().map(|s| s.rows).sum()
    }

    /// Serving bytes written per source byte absorbed (`None` when nothing was absorbed).
    pub fn write_amplification(&self) -> Option<f64> {
        let read: u64 = self.sources.iter().map(|s| s.bytes).sum();
        (read > 0).then(|| self.bytes_written as f64 / read as f64)
    }

    /// Errors by source.
    pub fn errors(&self) -> Vec<(&str, &str)> {
        self.sources.iter().filter_map(|s| Some((s.id.as_str(), s.error.as_deref()?))).collect()
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version,
            "previous": self.previous,
            "helped_along": self.helped_along,
            "restarted": self.restarted,
            "restarts": self.restarts,
            "rebuilt": self.rebuilt,
            "rows_absorbed": self.rows_absorbed(),
            "rows_written": self.rows_written,
            "files_written": self.files_written,
            "files_removed": self.files_removed,
            "bytes_written": self.bytes_written,
            "write_amplification": self.write_amplification(),
            "merge_steps": self.merge_steps,
            "l0_runs": self.l0_runs,
            "l1_files": self.l1_files,
            "expired_versions": self.expired_versions,
            "deleted_files": self.deleted_files,
            "expiry_error": self.expiry_error,
            "retention_dropped": self.retention_dropped,
            "retention_tombstones": self.retention_tombstones,
            "sources": self.sources.iter().map(|s| json!({
                "id": s.id, "snapshots": s.snapshots, "rows": s.rows, "bytes": s.bytes,
                "watermark": s.watermark, "behind": s.behind, "error": s.error,
            })).collect::<Vec<_>>(),
            "errors": self.errors().into_iter().map(|(id, e)| json!({"source": id, "error": e})).collect::<Vec<_>>(),
        })
    }
}

/// Why a run failed as a whole (a source's own trouble is its `error`, not this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactError {
    /// A serving-table object could not be read or written.
    Store(String),
    /// A serving-table object is not what it should be (pointer, root, metadata).
    Corrupt(String),
    /// Lost the race for the next version [`MAX_ATTEMPTS`] times in a row.
    Conflict(String),
    /// Writing a file failed (the writer refused the rows).
    Write(String),
}

impl core::fmt::Display for CompactError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CompactError::Store(m) => write!(f, "serving table storage: {m}"),
            CompactError::Corrupt(m) => write!(f, "serving table corrupt: {m}"),
            CompactError::Conflict(m) => write!(f, "lost the commit race {MAX_ATTEMPTS} times: {m}"),
            CompactError::Write(m) => write!(f, "writing the serving table: {m}"),
        }
    }
}

impl std::error::Error for CompactError {}

/// One compactor run (see the crate doc). A lost race restarts it from the new version (at most
/// [`MAX_ATTEMPTS`] attempts): the winner's root holds the watermarks, so the loser's source rows
/// are read again after them and nothing is lost.
pub async fn run<S: Store>(store: &S, cfg: &Config) -> Result<Report, CompactError> {
    let mut n = 0;
    loop {
        match table::attempt(store, cfg, n).await {
            Err(CompactError::Conflict(_)) if n.saturating_add(1) < MAX_ATTEMPTS => n = n.saturating_add(1),
            Ok(mut report) => {
                report.restarts = n;
                report.restarted = n > 0;
                return Ok(report);
            }
            Err(e) => return Err(e),
        }
    }
}
