//! The serving table: the pointer and root, absorbing the sources, the plan's L0 run and merge
//! steps, the files, the commit (`docs/design/serving-table.md`, "Commit protocol"), and the
//! expiry of its own old versions and files ("Expiry").

use std::collections::{BTreeMap, BTreeSet};

use iceberg_writer::serving::{commit_serving, new_serving_table, write_serving_file, ServingCommit, ServingRow};
use shared::iceberg::manifest::{read_manifest, read_manifest_list, DataFile, EntryStatus, ManifestEntry};
use shared::iceberg::table_metadata::TableMetadata;
use shared::locate::{Cell, StoreError};
use shared::record::COLUMNS;
use shared::serving::entry::Entry;
use shared::serving::key::key;
use shared::serving::order::Order;
use shared::serving::plan;
use shared::serving::root::{root_key, root_version, FileEntry, Root, SourceState};

use crate::edges;
use crate::retention;
use crate::source::{self, err, SourceRow};
use crate::store::Listed;
use crate::{rows, CompactError, Config, Report, SourceReport, Store};

/// Versions a run helps along at most before it gives up on the pointer.
const HELP_MAX: usize = 64;

/// Objects one run deletes at most (bounded work; the next run goes on).
pub const GC_MAX_DELETES: usize = 1000;

/// The serving table's object keys.
struct Paths<'a> {
    root: &'a str,
    location: &'a str,
}

impl Paths<'_> {
    fn hint(&self) -> String {
        format!("{}/metadata/version-hint.text", self.root)
    }
    /// A run's metadata for `version`: named by the run, so racing runs never write the same key;
    /// the root that commits the version names it.
    fn metadata(&self, version: u64, nonce: &str) -> String {
        format!("{}/metadata/v{version}-{nonce}.metadata.json", self.root)
    }
    /// Where versions were committed before the root became the commit point (the pointer named
    /// `vN.metadata.json` directly).
    fn legacy_metadata(&self, version: u64) -> String {
        format!("{}/metadata/v{version}.metadata.json", self.root)
    }
    fn serving_root(&self, version: u64) -> String {
        root_key(self.root, version)
    }
    fn absolute(&self, key: &str) -> String {
        format!("{}{key}", self.location)
    }
    fn key_of<'k>(&self, location: &'k str) -> &'k str {
        location.strip_prefix(self.location).unwrap_or(location)
    }
}

fn store_err(key: &str) -> impl Fn(StoreError) -> CompactError + '_ {
    move |e| CompactError::Store(err(key, e))
}

/// The pointer: `(version, etag)`, `None` before the first commit.
async fn pointer<S: Store>(store: &S, p: &Paths<'_>) -> Result<Option<(u64, String)>, CompactError> {
    let key = p.hint();
    match store.get(&key, None).await {
        Ok(o) => {
            let n = String::from_utf8_lossy(&o.bytes)
                .trim()
                .parse::<u64>()
                .map_err(|_| CompactError::Corrupt(format!("{key}: not a number")))?;
            Ok(Some((n, o.etag)))
        }
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(store_err(&key)(e)),
    }
}

/// Whether `key` exists.
async fn exists<S: Store>(store: &S, key: &str) -> Result<bool, CompactError> {
    match store.get(key, Some((0, 1))).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound) => Ok(false),
        // An empty object has no byte 0; it exists all the same.
        Err(StoreError::Failed(_)) => match store.get(key, None).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(store_err(key)(e)),
        },
    }
}

/// Whether version `version` is committed: its root exists (the root is the commit point) and is
/// not the orphan of a run from before that (a root naming `vN.metadata.json` that was never
/// written: those runs wrote the root first).
async fn committed<S: Store>(store: &S, p: &Paths<'_>, version: u64) -> Result<bool, CompactError> {
    let rk = p.serving_root(version);
    if !exists(store, &rk).await? {
        return Ok(false);
    }
    Ok(legacy_orphan(store, p, version).await?.is_none())
}

/// The etag of root `version` when it is a legacy orphan (see [`committed`]), which a run may
/// replace (conditionally: one racing run wins); `None` when it is a committed root.
async fn legacy_orphan<S: Store>(store: &S, p: &Paths<'_>, version: u64) -> Result<Option<String>, CompactError> {
    let rk = p.serving_root(version);
    let o = match store.get(&rk, None).await {
        Ok(o) => o,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(store_err(&rk)(e)),
    };
    let root = Root::parse(&o.bytes).map_err(|e| CompactError::Corrupt(format!("{rk}: {e}")))?;
    if root.metadata == p.legacy_metadata(version) && !exists(store, &root.metadata).await? {
        return Ok(Some(o.etag));
    }
    Ok(None)
}

/// Moves the pointer over every version committed past it (a run that crashed after its root,
/// or a racing run that has not moved it yet); the pointer after, and the last version helped
/// along.
async fn help_along<S: Store>(store: &S, p: &Paths<'_>) -> Result<(Option<(u64, String)>, Option<u64>), CompactError> {
    let mut helped = None;
    let mut ptr = pointer(store, p).await?;
    for _ in 0..HELP_MAX {
        let next = ptr.as_ref().map_or(1, |(n, _)| n.saturating_add(1));
        if !committed(store, p, next).await? {
            return Ok((ptr, helped));
        }
        let etag = ptr.as_ref().map(|(_, t)| t.as_str());
        if store.put_if(&p.hint(), next.to_string().into_bytes(), etag).await.map_err(store_err(&p.hint()))? {
            helped = Some(next);
        }
        ptr = pointer(store, p).await?;
    }
    Ok((ptr, helped))
}

/// A version as read: its root and metadata.
struct Version {
    root: Root,
    metadata: TableMetadata,
}

async fn load<S: Store>(store: &S, p: &Paths<'_>, version: u64) -> Result<Version, CompactError> {
    let rk = p.serving_root(version);
    let bytes = store.get(&rk, None).await.map_err(store_err(&rk))?.bytes;
    let root = Root::parse(&bytes).map_err(|e| CompactError::Corrupt(format!("{rk}: {e}")))?;
    // The metadata the root names: the version's own (whoever created the root owns it).
    let mk = root.metadata.clone();
    let bytes = store.get(&mk, None).await.map_err(store_err(&mk))?.bytes;
    let metadata = TableMetadata::from_json(&bytes).map_err(|e| CompactError::Corrupt(format!("{mk}: {}", e.description())))?;
    Ok(Version { root, metadata })
}

/// The live data files of a version's snapshot, by key, with their manifest entries.
async fn live_entries<S: Store>(store: &S, p: &Paths<'_>, meta: &TableMetadata) -> Result<BTreeMap<String, ManifestEntry>, CompactError> {
    let mut out = BTreeMap::new();
    let Some(snap) = meta.current_snapshot() else { return Ok(out) };
    let lk = p.key_of(&snap.manifest_list).to_string();
    let bytes = store.get(&lk, None).await.map_err(store_err(&lk))?.bytes;
    let list = read_manifest_list(&bytes).map_err(|e| CompactError::Corrupt(format!("{lk}: {}", e.description())))?;
    for mf in &list {
        let mk = p.key_of(&mf.manifest_path).to_string();
        let bytes = store.get(&mk, None).await.map_err(store_err(&mk))?.bytes;
        let m = read_manifest(&bytes, mf).map_err(|e| CompactError::Corrupt(format!("{mk}: {}", e.description())))?;
        for mut e in m.entries.into_iter().filter(|e| e.status != EntryStatus::Deleted) {
            // Inherited numbers made explicit: the entry is rewritten as EXISTING.
            e.sequence_number = Some(e.sequence_number.unwrap_or(mf.sequence_number));
            e.file_sequence_number = Some(e.file_sequence_number.unwrap_or(mf.sequence_number));
            out.insert(p.key_of(&e.data_file.file_path).to_string(), e);
        }
    }
    Ok(out)
}

/// The mode of a stand-in table root or catalog table (`artifacts/build` → `build`,
/// `catalog:preview` → `preview`, `catalog:artifacts.bulk` → `bulk`).
fn mode_of(id: &str) -> Option<String> {
    let last = match id.strip_prefix(source::CATALOG_PREFIX) {
        Some(table) => table.rsplit(['/', '.']).next()?,
        None => id.rsplit('/').next()?,
    };
    shared::record::Mode::ALL.iter().map(|m| m.as_str()).find(|m| *m == last).map(String::from)
}

fn fresh_state(id: &str) -> SourceState {
    SourceState { id: id.to_string(), metadata: None, snapshot_id: None, sequence_number: None, mode: mode_of(id), error: None, gap: None }
}

fn text(c: Option<&Cell>) -> Option<String> {
    match c {
        Some(Cell::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

fn long(c: Option<&Cell>) -> Option<i64> {
    match c {
        Some(Cell::Long(n)) => Some(*n),
        _ => None,
    }
}

/// Index of a record column.
fn at(name: &str) -> usize {
    COLUMNS.iter().position(|c| c.name == name).unwrap_or(usize::MAX)
}

/// A source row as a serving row (`None` without its key columns: it can never be served).
fn serving_row(mut r: SourceRow) -> Option<ServingRow> {
    normalize(&mut r.cells);
    let get = |n: &str| r.cells.get(at(n));
    let (ns, ty, id) = (text(get("ns"))?, text(get("type"))?, text(get("id"))?);
    let entry = Entry {
        key: key(&ns, &ty, &id),
        order: Order { ts: long(get("ts")).unwrap_or(i64::MIN), seq: r.seq, source: r.source, pos: r.pos },
        deleted: matches!(get("deleted"), Some(Cell::Bool(true))),
        visibility: text(get("visibility")),
        owner_org: text(get("owner_org")),
        owner_user: text(get("owner_user")),
        content_hash: text(get("content_hash")),
        size_bytes: long(get("size_bytes")),
        expires_at: long(get("expires_at")),
        tags: None,
        tags_too_long: false,
        expired: false,
        supersedes: matches!(get("supersedes"), Some(Cell::List(refs)) if !refs.is_empty()),
    }
    .with_tags(text(get("tags")));
    Some(ServingRow { entry, cells: r.cells })
}

/// Cells as the serving file's types take them, read as the locator reads them: a value of another
/// physical type than its column's is null (the locator's `string_at`/`long_at`/`bool_at` see
/// none), and a null `ts` (required in the serving table) is the locator's `i64::MIN`.
fn normalize(cells: &mut [Cell]) {
    use shared::record::ColumnType;
    for (cell, col) in cells.iter_mut().zip(COLUMNS) {
        let fits = matches!(
            (col.ty, &*cell),
            (_, Cell::Null)
                | (ColumnType::String, Cell::Text(_))
                | (ColumnType::TimestampMicros | ColumnType::Long, Cell::Long(_))
                | (ColumnType::Boolean, Cell::Bool(_))
                | (ColumnType::StringList { .. }, Cell::List(_))
        );
        if !fits {
            *cell = Cell::Null;
        }
        if col.name == "ts" && *cell == Cell::Null {
            *cell = Cell::Long(i64::MIN);
        }
    }
}

/// Every row of a serving file (`within`: only those whose key is in the step's range).
async fn read_serving<S: Store>(store: &S, key: &str, within: Option<&plan::MergeStep>) -> Result<Vec<ServingRow>, CompactError> {
    let bytes = store.get(key, None).await.map_err(store_err(key))?.bytes;
    let decoded = rows::read_all(&bytes, None, &["_lookup"]).map_err(|e| CompactError::Corrupt(format!("{key}: {e}")))?;
    let mut out = Vec::with_capacity(decoded.len());
    for mut r in decoded {
        let lookup = match r.cells.pop() {
            Some(Cell::Text(s)) => s,
            _ => return Err(CompactError::Corrupt(format!("{key}: a row without _lookup"))),
        };
        let entry =
            Entry::decode(lookup.as_bytes()).ok_or_else(|| CompactError::Corrupt(format!("{key}: a _lookup cell does not decode")))?;
        if within.is_some_and(|s| !s.contains(&entry.key)) {
            continue;
        }
        out.push(ServingRow { entry, cells: r.cells });
    }
    Ok(out)
}

/// What a run writes: data files in order, counted.
pub(crate) struct Writer<'a, S: Store> {
    store: &'a S,
    p: &'a Paths<'a>,
    cfg: &'a Config,
    /// The attempt's nonce.
    nonce: &'a str,
    version: u64,
    n: usize,
    /// Files written this run: key → data_file (for the manifest).
    written: BTreeMap<String, DataFile>,
    bytes: u64,
    rows: u64,
}

impl<S: Store> Writer<'_, S> {
    /// Writes sorted unique rows as files of `level`; their root entries.
    pub(crate) async fn files(&mut self, rows: Vec<ServingRow>, level: u8) -> Result<Vec<FileEntry>, CompactError> {
        let mut out = Vec::new();
        for file_rows in plan::split_files(rows, &self.cfg.limits, ServingRow::size) {
            // The run's nonce keeps names fresh across a crashed run's orphans of the same version.
            let key = format!("{}/data/L{level}-{}-{}-{}.parquet", self.p.root, self.version, self.nonce, self.n);
            self.n = self.n.saturating_add(1);
            let file = write_serving_file(&file_rows, self.cfg.codec).map_err(|e| CompactError::Write(format!("{key}: {e}")))?;
            let size = file.written.bytes.len() as u64;
            let df = file.data_file(self.p.absolute(&key));
            let entry = file.file_entry(key.clone(), level);
            if !self.store.put_new(&key, file.written.bytes).await.map_err(store_err(&key))? {
                return Err(CompactError::Conflict(format!("{key} exists already")));
            }
            self.bytes = self.bytes.saturating_add(size);
            self.rows = self.rows.saturating_add(file_rows.len() as u64);
            self.written.insert(key, df);
            out.push(entry);
        }
        Ok(out)
    }
}

/// What following one source found.
enum Followed {
    /// Absorbed (all of it, or up to the row budget: `caught_up` false).
    Absorbed { caught_up: bool },
    /// A delete or overwrite after the watermark (or a delete file): the run rebuilds.
    Rebuild,
}

/// Reads every source after its watermark into `rows`; the sources' next states and reports, and
/// whether a source needs the run to rebuild (deletes, overwrites). `rebuild`: read every source
/// whole, deletes applied (`docs/design/serving-table.md`, "Following the sink's maintenance").
async fn absorb<S: Store>(
    store: &S,
    cfg: &Config,
    states: &mut [SourceState],
    rows: &mut Vec<SourceRow>,
    rebuild: bool,
) -> (Vec<SourceReport>, bool) {
    let mut reports = Vec::new();
    let mut absorbed = 0u64;
    let mut needs_rebuild = false;
    for (i, state) in states.iter_mut().enumerate() {
        let mut report = SourceReport { id: state.id.clone(), ..SourceReport::default() };
        let source = u32::try_from(i).unwrap_or(u32::MAX);
        let mut error = None;
        let resolved = cfg.catalog.get(&state.id).map(String::as_str);
        match source::current(store, &state.id, resolved, &cfg.source_prefixes).await {
            Err(e) => error = Some(e),
            Ok(None) => {}
            Ok(Some((meta_key, meta))) if rebuild => {
                match source::live_rows(store, &meta, None, &cfg.source_prefixes, source, true).await {
                    Ok((r, bytes)) => {
                        report.rows = r.len() as u64;
                        report.bytes = bytes;
                        report.snapshots = meta.snapshots.len() as u64;
                        rows.extend(r);
                        let current = meta.current_snapshot();
                        state.snapshot_id = current.map(|s| s.snapshot_id);
                        state.sequence_number = current.map(|s| s.sequence_number);
                        state.metadata = Some(meta_key);
                        state.gap = None;
                    }
                    Err(e) => {
                        error = Some(e);
                        report.behind = true;
                    }
                }
            }
            Ok(Some((meta_key, meta))) => {
                match follow(store, cfg, &meta, state, source, &mut absorbed, rows, &mut report).await {
                    Ok(Followed::Absorbed { caught_up }) => {
                        // The tail is empty for serve only when the root names the source's current metadata.
                        if caught_up {
                            state.metadata = Some(meta_key);
                        } else {
                            report.behind = true;
                        }
                    }
                    Ok(Followed::Rebuild) => {
                        needs_rebuild = true;
                        report.behind = true;
                    }
                    Err(e) => {
                        error = Some(e);
                        report.behind = true;
                    }
                }
            }
        }
        state.error = error.clone();
        report.error = error;
        report.watermark = state.snapshot_id;
        reports.push(report);
    }
    (reports, needs_rebuild)
}

/// Follows one source from its watermark (see the design's "Following the sink's maintenance"):
/// - a `delete`/`overwrite` snapshot or a live delete file after the watermark: [`Followed::Rebuild`];
/// - the watermark snapshot expired: every live data file above the watermark's sequence number
///   is read whole, the watermark moves to the current snapshot and `gap` says so;
/// - else snapshot by snapshot: `replace` snapshots directly after the watermark are passed
///   without a read (their files hold rows absorbed already, whatever number they carry); an
///   `append`'s files are read; a `replace` after an append not yet absorbed may hold that
///   append's rows (its files replaced the append's), so its files above the watermark's number
///   are read, and the run absorbs through it (no row-budget cut before it).
#[allow(clippy::too_many_arguments)] // one source's inputs and the run's accumulators
async fn follow<S: Store>(
    store: &S,
    cfg: &Config,
    meta: &TableMetadata,
    state: &mut SourceState,
    source: u32,
    absorbed: &mut u64,
    rows: &mut Vec<SourceRow>,
    report: &mut SourceReport,
) -> Result<Followed, String> {
    use shared::iceberg::table_metadata::Operation;
    let followed = source::follow(meta, state.snapshot_id)?;
    if followed.snaps.is_empty() {
        return Ok(Followed::Absorbed { caught_up: true });
    }
    if followed.snaps.iter().any(|s| !matches!(s.summary.operation, Operation::Append | Operation::Replace)) {
        return Ok(Followed::Rebuild);
    }
    let live = source::live_files(store, meta, state.sequence_number, &cfg.source_prefixes).await?;
    if live.deletes > 0 {
        return Ok(Followed::Rebuild);
    }
    if let Some(gap) = followed.gap {
        let (r, bytes) = source::rows_of(store, meta, &live, &cfg.source_prefixes, source, false).await?;
        *absorbed = absorbed.saturating_add(r.len() as u64);
        report.rows = report.rows.saturating_add(r.len() as u64);
        report.bytes = report.bytes.saturating_add(bytes);
        report.snapshots = followed.snaps.len() as u64;
        rows.extend(r);
        if let Some(current) = meta.current_snapshot() {
            state.snapshot_id = Some(current.snapshot_id);
            state.sequence_number = Some(current.sequence_number);
        }
        state.gap = Some(gap);
        return Ok(Followed::Absorbed { caught_up: true });
    }
    let leading = followed.snaps.iter().take_while(|s| s.summary.operation == Operation::Replace).count();
    let must_finish = followed.snaps.iter().skip(leading).any(|s| s.summary.operation == Operation::Replace);
    let mut files: BTreeMap<i64, Vec<source::AddedFile>> = BTreeMap::new();
    for f in live.data {
        files.entry(f.snapshot_id).or_default().push(source::AddedFile {
            rank: f.rank,
            entry: f.entry,
            seq: f.seq,
            key: f.key,
            record_count: f.record_count,
        });
    }
    for (n, snap) in followed.snaps.iter().enumerate() {
        if n < leading {
            // Files rewritten, no row changed: nothing to read.
            report.snapshots = report.snapshots.saturating_add(1);
            state.snapshot_id = Some(snap.snapshot_id);
            state.sequence_number = Some(snap.sequence_number);
            continue;
        }
        if !must_finish && *absorbed > 0 && absorbed.saturating_add(source::added_records(snap)) > cfg.max_rows {
            return Ok(Followed::Absorbed { caught_up: false });
        }
        let added = files.get(&snap.snapshot_id).map_or(&[][..], Vec::as_slice);
        let (snap_rows, bytes) = source::snapshot_rows(store, meta, snap, added, source).await?;
        *absorbed = absorbed.saturating_add(snap_rows.len() as u64);
        report.rows = report.rows.saturating_add(snap_rows.len() as u64);
        report.bytes = report.bytes.saturating_add(bytes);
        report.snapshots = report.snapshots.saturating_add(1);
        rows.extend(snap_rows);
        state.snapshot_id = Some(snap.snapshot_id);
        state.sequence_number = Some(snap.sequence_number);
    }
    Ok(Followed::Absorbed { caught_up: true })
}

/// The nonce of attempt `n` of a run: the run's (only `[0-9A-Za-z_]` kept, so names split on
/// `-` unambiguously), then `r{n}` after a lost race, so no two attempts name a file alike.
fn nonce_of(cfg: &Config, n: u32) -> String {
    let mut nonce: String = cfg.nonce.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if n > 0 {
        nonce.push_str(&format!("r{n}"));
    }
    nonce
}

/// One attempt of a run: `Err(Conflict)` when another run committed the version it aimed at
/// (attempt `n` of the run: its names carry [`nonce_of`]).
pub async fn attempt<S: Store>(store: &S, cfg: &Config, n: u32) -> Result<Report, CompactError> {
    let nonce = nonce_of(cfg, n);
    let p = Paths { root: &cfg.serving_root, location: &cfg.location_prefix };
    let (ptr, helped) = help_along(store, &p).await?;
    let mut report = Report { helped_along: helped, ..Report::default() };
    let (version, etag) = match &ptr {
        Some((v, t)) => (*v, Some(t.clone())),
        None => (0, None),
    };
    report.previous = version;
    let prev = if version > 0 { Some(load(store, &p, version).await?) } else { None };
    let prev_edges = edges::load(store, p.root, prev.as_ref().map(|v| &v.root)).await?;
    let range = (!cfg.range.is_all()).then(|| cfg.range.clone());
    let same_table = |r: &Root| {
        r.range == range && r.sources.len() <= cfg.sources.len() && r.sources.iter().zip(&cfg.sources).all(|(s, id)| s.id == *id)
    };
    let mut base = match &prev {
        Some(v) if !cfg.from_scratch && same_table(&v.root) => v.root.clone(),
        Some(v) => {
            report.rebuilt = true;
            Root { version: v.root.version, merge_cursor: None, ..Root::empty(v.root.metadata.clone(), Vec::new()) }
        }
        None => Root::empty(String::new(), Vec::new()),
    };
    for id in cfg.sources.iter().skip(base.sources.len()) {
        base.sources.push(fresh_state(id));
    }
    let mut sources = base.sources.clone();
    let mut source_rows = Vec::new();
    let (reports, needs_rebuild) = absorb(store, cfg, &mut sources, &mut source_rows, report.rebuilt).await;
    report.sources = reports;
    if needs_rebuild {
        // A delete or overwrite in a source: every source read whole, deletes applied, into a
        // table of its own (what the locator answers, key for key).
        report.rebuilt = true;
        let previous_metadata = prev.as_ref().map(|v| v.root.metadata.clone()).unwrap_or_default();
        base = Root { version: base.version, merge_cursor: None, ..Root::empty(previous_metadata, Vec::new()) };
        base.sources = cfg.sources.iter().map(|id| fresh_state(id)).collect();
        sources = base.sources.clone();
        source_rows.clear();
        let (reports, _) = absorb(store, cfg, &mut sources, &mut source_rows, true).await;
        report.sources = reports;
    }

    let next = version.saturating_add(1);
    let meta_key = p.metadata(next, &nonce);
    let mut w = Writer { store, p: &p, cfg, nonce: &nonce, version: next, n: 0, written: BTreeMap::new(), bytes: 0, rows: 0 };
    // A split table keeps the rows of its key range only (`Config::range`).
    let rows: Vec<ServingRow> = source_rows.into_iter().filter_map(serving_row).filter(|r| cfg.range.contains(&r.entry.key)).collect();
    let newest = plan::newest_per_key(rows);
    report.absorbed = crate::covered::absorbed(&newest, &sources);
    report.watermarks = crate::covered::marks(&sources);
    // Retention (#18): a row expired past the grace leaves; an older version of its key can only
    // be in a file from before this run (a rebuild starts from none: it read every version).
    let cutoff = retention::cutoff_us(cfg.now_ms, cfg.retention_grace_ms);
    let (newest, expired) = retention::expire(newest, cutoff, |k| !base.candidates(k).is_empty());
    report.retention_dropped = expired.dropped;
    report.retention_tombstones = expired.tombstoned;
    let new_edges = edges::rows_of(&newest);
    let l0 = w.files(newest, 0).await?;
    let mut root = plan::apply_run(&base, l0, sources, next, meta_key.clone());
    let mut steps = 0usize;
    while plan::keep_merging(&root, &cfg.limits, steps, cfg.full) {
        let Some(step) = plan::next_merge(&root, &cfg.limits, cfg.full) else { break };
        let mut inputs = Vec::new();
        for k in &step.l1_inputs {
            inputs.extend(read_serving(store, k, None).await?);
        }
        for k in &step.l0_inputs {
            inputs.extend(read_serving(store, k, Some(&step)).await?);
        }
        // Retention (#18): an older version can only be in a file the step does not read.
        let (merged, expired) = retention::expire(plan::newest_per_key(inputs), cutoff, |k| retention::held_outside(&root, &step, k));
        report.retention_dropped = report.retention_dropped.saturating_add(expired.dropped);
        report.retention_tombstones = report.retention_tombstones.saturating_add(expired.tombstoned);
        let outputs = w.files(merged, 1).await?;
        root = plan::apply_merge(&root, &step, outputs);
        steps = steps.saturating_add(1);
        // Two full passes empty L0 (the design's bound); more means the plan is not moving.
        if steps > 100_000 {
            return Err(CompactError::Write("merge steps do not converge".into()));
        }
    }
    let edge_root = edges::next(store, cfg, &mut w, (!report.rebuilt).then_some(&prev_edges), new_edges, &root).await?;
    root.range = range;

    let before: Vec<&str> =
        prev.as_ref().filter(|_| !report.rebuilt).map(|v| v.root.files.iter().map(|f| f.key.as_str()).collect()).unwrap_or_default();
    let after: Vec<&str> = root.files.iter().map(|f| f.key.as_str()).collect();
    report.files_written = w.written.len() as u64;
    report.files_removed = prev.as_ref().map_or(0, |v| v.root.files.iter().filter(|f| !after.contains(&f.key.as_str())).count() as u64);
    report.bytes_written = w.bytes;
    report.rows_written = w.rows;
    report.merge_steps = steps as u64;
    report.l0_runs = plan::l0_runs(&root) as u64;
    report.l1_files = root.l1().len() as u64;
    let unchanged = prev.as_ref().is_some_and(|v| v.root.sources == root.sources && before == after && !report.rebuilt);
    if unchanged && w.written.is_empty() {
        return Ok(report);
    }

    // Which versions stay readable: the table's metadata keeps their snapshots only.
    // (A listing that fails expires nothing this run: the commit does not depend on it.)
    let listed_metadata = store.list(&format!("{}/metadata/", p.root)).await.ok().flatten();
    let lo = oldest_retained(&p, listed_metadata.as_deref(), version, cfg);

    // The commit: the manifest of every live file, the list, the metadata, the root (create-only:
    // the commit point), the pointer.
    let previous: Vec<ManifestEntry> = match &prev {
        Some(v) => live_entries(store, &p, &v.metadata).await?.into_values().collect(),
        None => Vec::new(),
    };
    let removed: Vec<String> =
        previous.iter().map(|e| e.data_file.file_path.clone()).filter(|path| !after.contains(&p.key_of(path))).collect();
    let base_meta = match &prev {
        Some(v) => {
            let (trimmed, expired) = expire_snapshots(v.metadata.clone(), lo);
            report.expired_versions = expired;
            trimmed
        }
        None => new_serving_table(uuid(cfg), p.absolute(cfg.serving_root.as_str()), cfg.now_ms),
    };
    let snapshot_id = snapshot_id(cfg, &nonce, next);
    let manifest_key = format!("{}/metadata/{next}-{nonce}-m0.avro", cfg.serving_root);
    let list_key = format!("{}/metadata/snap-{snapshot_id}-{next}-{nonce}.avro", cfg.serving_root);
    // Files written and merged away within this run are not live: not in the manifest.
    let added: Vec<DataFile> = root.files.iter().filter_map(|f| w.written.remove(&f.key)).collect();
    let committed = commit_serving(
        &base_meta,
        ServingCommit {
            snapshot_id,
            previous,
            added,
            removed,
            sources: root.sources.clone(),
            manifest_location: p.absolute(&manifest_key),
            manifest_list_location: p.absolute(&list_key),
            now_ms: cfg.now_ms,
            previous_location: prev.as_ref().map(|v| p.absolute(&v.root.metadata)),
            properties: [("serving.version".to_string(), next.to_string())].into(),
        },
    )
    .map_err(|e| CompactError::Write(e.to_string()))?;
    let meta = committed.metadata;
    put_new(store, &manifest_key, committed.manifest).await?;
    put_new(store, &list_key, committed.manifest_list).await?;
    meta.validate().map_err(|e| CompactError::Write(format!("metadata v{next}: {}", e.description())))?;
    put_new(store, &meta_key, meta.to_json().into_bytes()).await?;

    // The root names everything above, all written: creating it commits version `next`. A root
    // a run from before this protocol left without its metadata is replaced (conditionally).
    let rk = p.serving_root(next);
    let root_bytes = edges::root_bytes(&root, &edge_root);
    if !store.put_new(&rk, root_bytes.clone()).await.map_err(store_err(&rk))? {
        let replaced = match legacy_orphan(store, &p, next).await? {
            Some(orphan) => store.put_if(&rk, root_bytes, Some(&orphan)).await.map_err(store_err(&rk))?,
            None => false,
        };
        if !replaced {
            return Err(CompactError::Conflict(format!("v{next} was committed by another run")));
        }
    }
    report.version = Some(next);
    // The pointer, a hint: failing means another run moved it (to this version or past it).
    let moved = store.put_if(&p.hint(), next.to_string().into_bytes(), etag.as_deref()).await.map_err(store_err(&p.hint()))?;
    let current = if moved { Some(next) } else { pointer(store, &p).await?.map(|(v, _)| v) };
    // Expiry: only the run whose version is current collects (a run that is behind leaves it to
    // the one ahead, which knows more).
    if current == Some(next) {
        let winners = winners(&meta, next, &nonce);
        // The data files of the versions whose roots are at hand: the new one, the previous one
        // and the oldest retained (read), which hold every file a retained version references
        // that was written before them.
        let mut known: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        known.insert(next, edges::keys(&root, &edge_root));
        if let Some(v) = prev.as_ref().filter(|_| version >= lo) {
            known.insert(version, edges::keys(&v.root, &prev_edges));
        }
        if let std::collections::btree_map::Entry::Vacant(e) = known.entry(lo) {
            if let Some(files) = files_of(store, &p, lo).await {
                e.insert(files.into_iter().collect());
            }
        }
        // Without the oldest retained version's files, data files are left for a later run.
        let data = known.contains_key(&lo);
        // The version is committed whatever happens here: a failed collection is said, not fatal
        // (the next commit collects again).
        match collect(store, &p, cfg, Retained { lo, next, winners: &winners, known: &known }, data).await {
            Ok(n) => report.deleted_files = n,
            Err(e) => report.expiry_error = Some(e.to_string()),
        }
    }
    Ok(report)
}

/// The data files root `version` lists (`None` when it cannot be read).
async fn files_of<S: Store>(store: &S, p: &Paths<'_>, version: u64) -> Option<Vec<String>> {
    let bytes = store.get(&p.serving_root(version), None).await.ok()?.bytes;
    edges::keys_in(&bytes)
}

/// The oldest version still retained when `version` is current and the run commits the next:
/// `version` is (it was current when the run started), and so is every version that stopped
/// being current less than `grace` ago. When version `v` stopped being current is bounded from
/// above by the pointer's upload time for `version - 1` (the pointer has not moved since it moved
/// past it) and by the upload time of root `v + 2` for older ones (whoever created root `v + 2`
/// had read a pointer past `v`). A root no longer listed was expired already. Without a listing
/// nothing expires.
fn oldest_retained(p: &Paths<'_>, listed: Option<&[Listed]>, version: u64, cfg: &Config) -> u64 {
    let next = version.saturating_add(1);
    if version == 0 {
        return next;
    }
    let Some(listed) = listed else { return 1 };
    let dir = format!("{}/metadata/", p.root);
    let mut roots: BTreeMap<u64, i64> = BTreeMap::new();
    let mut pointer_ms = None;
    for l in listed {
        let Some(name) = l.key.strip_prefix(&dir) else { continue };
        if name == "version-hint.text" {
            pointer_ms = Some(l.uploaded_ms);
        } else if let Some(v) = root_version(name).filter(|_| !name.contains('/')) {
            roots.insert(v, l.uploaded_ms);
        }
    }
    let mut lo = version;
    while lo > 1 {
        let older = lo.saturating_sub(1);
        if !roots.contains_key(&older) {
            break;
        }
        let until = if older.saturating_add(1) == version { pointer_ms } else { roots.get(&older.saturating_add(2)).copied() };
        // Unknown: kept. Known and older than the grace period: expired, and so is every older one.
        if until.is_some_and(|t| t.saturating_add(cfg.grace_ms) <= cfg.now_ms) {
            break;
        }
        lo = older;
    }
    lo
}

/// `serving.version` of a serving snapshot.
fn version_of(s: &shared::iceberg::table_metadata::Snapshot) -> Option<u64> {
    s.summary.properties.get("serving.version").and_then(|v| v.parse().ok())
}

/// The metadata without the snapshots of versions below `lo` (their snapshot-log and
/// metadata-log entries go too); the number of versions expired.
fn expire_snapshots(mut meta: TableMetadata, lo: u64) -> (TableMetadata, u64) {
    let before = meta.snapshots.len();
    meta.snapshots.retain(|s| version_of(s).is_none_or(|v| v >= lo));
    let kept: BTreeSet<i64> = meta.snapshots.iter().map(|s| s.snapshot_id).collect();
    meta.snapshot_log.retain(|e| kept.contains(&e.snapshot_id));
    meta.metadata_log.retain(|e| {
        let name = e.metadata_file.rsplit('/').next().unwrap_or_default();
        match name_of(name, true) {
            Name::Metadata(v, _) => v >= lo,
            _ => true,
        }
    });
    let expired = before.saturating_sub(meta.snapshots.len()) as u64;
    (meta, expired)
}

/// The run that committed each version of `meta`'s snapshots (by its manifest list's name),
/// and `next` by this run.
fn winners(meta: &TableMetadata, next: u64, nonce: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for s in &meta.snapshots {
        if let Name::List(v, n) = name_of(s.manifest_list.rsplit('/').next().unwrap_or_default(), true) {
            out.insert(v, n);
        }
    }
    out.insert(next, nonce.to_string());
    out
}

/// What an object of the serving table is, by its name.
#[derive(Debug, PartialEq, Eq)]
enum Name {
    /// `metadata/version-hint.text`.
    Pointer,
    /// `metadata/vN.serving.json`.
    Root(u64),
    /// `metadata/vN-<nonce>.metadata.json` (`vN.metadata.json` before the root was the commit
    /// point: no nonce).
    Metadata(u64, Option<String>),
    /// `metadata/snap-<id>-N-<nonce>.avro`.
    List(u64, String),
    /// `metadata/N-<nonce>-m0.avro`.
    Manifest(u64, String),
    /// `data/L<level>-N-<nonce>-<n>.parquet`.
    Data(u64, String),
    /// Not the compactor's.
    Other,
}

/// What `name` (a file name under `metadata/` when `metadata`, else under `data/`) is.
fn name_of(name: &str, metadata: bool) -> Name {
    let num = |s: &str| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    let parsed = if !metadata {
        name.strip_prefix('L').and_then(|r| r.strip_suffix(".parquet")).and_then(|r| {
            let parts: Vec<&str> = r.split('-').collect();
            match parts.as_slice() {
                [level, v, nonce, n] if num(level).is_some() && num(n).is_some() => Some(Name::Data(num(v)?, (*nonce).to_string())),
                _ => None,
            }
        })
    } else if name == "version-hint.text" {
        Some(Name::Pointer)
    } else if let Some(v) = root_version(name) {
        Some(Name::Root(v))
    } else if let Some(r) = name.strip_prefix('v').and_then(|r| r.strip_suffix(".metadata.json")) {
        match r.split_once('-') {
            Some((v, nonce)) if !nonce.contains('-') => num(v).map(|v| Name::Metadata(v, Some(nonce.to_string()))),
            Some(_) => None,
            None => num(r).map(|v| Name::Metadata(v, None)),
        }
    } else if let Some(r) = name.strip_prefix("snap-").and_then(|r| r.strip_suffix(".avro")) {
        match r.split('-').collect::<Vec<_>>().as_slice() {
            [id, v, nonce] if num(id).is_some() => num(v).map(|v| Name::List(v, (*nonce).to_string())),
            _ => None,
        }
    } else if let Some(r) = name.strip_suffix("-m0.avro") {
        match r.split_once('-') {
            Some((v, nonce)) if !nonce.contains('-') => num(v).map(|v| Name::Manifest(v, nonce.to_string())),
            _ => None,
        }
    } else {
        None
    };
    parsed.unwrap_or(Name::Other)
}

/// What a collection keeps: the versions `lo..=next`, the run that committed each (by its
/// nonce), and the data files of those whose roots are at hand.
struct Retained<'a> {
    lo: u64,
    next: u64,
    winners: &'a BTreeMap<u64, String>,
    known: &'a BTreeMap<u64, BTreeSet<String>>,
}

impl Retained<'_> {
    /// Whether an object a run named for version `v` is garbage: the version expired, or another
    /// run won it.
    fn garbage(&self, v: u64, nonce: &str) -> bool {
        v <= self.next && (v < self.lo || self.winners.get(&v).is_some_and(|w| w != nonce))
    }

    /// Whether data file `key`, written for version `v` by run `nonce`, is garbage. A file is live
    /// from the version that wrote it until one drops it, so every file a retained version
    /// references is in the oldest retained root or in the root of the version that wrote it:
    /// when that root is at hand and does not list it, it was merged away in its own run.
    fn garbage_data(&self, key: &str, v: u64, nonce: &str) -> bool {
        if self.known.values().any(|files| files.contains(key)) || v > self.next {
            return false;
        }
        self.garbage(v, nonce) || self.known.contains_key(&v)
    }
}

/// Deletes the serving table's objects that no retained version references and that were
/// uploaded more than `grace` ago: roots and metadata of expired versions, the metadata,
/// manifests and lists of runs that lost a version or crashed, data files no retained version
/// lists (`data` false: data files are left alone). Objects named with a version past `next`
/// belong to runs still going and are never touched; neither is anything not named as the
/// compactor names its objects. At most [`GC_MAX_DELETES`]; the number deleted.
async fn collect<S: Store>(store: &S, p: &Paths<'_>, cfg: &Config, keep: Retained<'_>, data: bool) -> Result<u64, CompactError> {
    let mut doomed = Vec::new();
    for (dir, metadata) in [("metadata", true), ("data", false)] {
        if !metadata && !data {
            continue;
        }
        let prefix = format!("{}/{dir}/", p.root);
        let Some(listed) = store.list(&prefix).await.map_err(store_err(&prefix))? else { return Ok(0) };
        for l in listed {
            if l.uploaded_ms.saturating_add(cfg.grace_ms) > cfg.now_ms || doomed.len() >= GC_MAX_DELETES {
                continue;
            }
            let Some(name) = l.key.strip_prefix(&prefix).filter(|n| !n.contains('/')) else { continue };
            let delete = match name_of(name, metadata) {
                Name::Pointer | Name::Other => false,
                Name::Root(v) | Name::Metadata(v, None) => v < keep.lo,
                Name::Metadata(v, Some(n)) | Name::List(v, n) | Name::Manifest(v, n) => keep.garbage(v, &n),
                Name::Data(v, n) => keep.garbage_data(&l.key, v, &n),
            };
            if delete {
                doomed.push(l.key);
            }
        }
    }
    if !doomed.is_empty() {
        store.delete(&doomed).await.map_err(store_err(p.root))?;
    }
    Ok(doomed.len() as u64)
}

async fn put_new<S: Store>(store: &S, key: &str, bytes: Vec<u8>) -> Result<(), CompactError> {
    if store.put_new(key, bytes).await.map_err(store_err(key))? {
        Ok(())
    } else {
        Err(CompactError::Conflict(format!("{key} exists already")))
    }
}

/// A positive snapshot id from the attempt's nonce and version.
fn snapshot_id(cfg: &Config, nonce: &str, version: u64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in nonce.bytes().chain(version.to_le_bytes()).chain(cfg.now_ms.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(h >> 11).unwrap_or(1).max(1)
}

/// The serving table's uuid, from the run's nonce.
fn uuid(cfg: &Config) -> String {
    let h = format!("{:016x}{:016x}", snapshot_id(cfg, &cfg.nonce, 0), snapshot_id(cfg, &cfg.nonce, u64::MAX));
    let part = |a: usize, b: usize| h.get(a..b).unwrap_or("0").to_string();
    format!("{}-{}-4{}-a{}-{}", part(0, 8), part(8, 12), part(13, 16), part(17, 20), part(20, 32))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_another_type_read_as_null_and_a_null_ts_as_the_locators_minimum() {
        let mut cells = vec![Cell::Null; COLUMNS.len()];
        cells[at("ns")] = Cell::Text("docs".into());
        cells[at("type")] = Cell::Text("guide".into());
        cells[at("id")] = Cell::Text("a".into());
        cells[at("visibility")] = Cell::Long(3);
        cells[at("deleted")] = Cell::Text("true".into());
        cells[at("size_bytes")] = Cell::Long(7);
        let row = serving_row(SourceRow { cells, source: 1, seq: 2, pos: 3 }).unwrap();
        assert_eq!(row.cells[at("visibility")], Cell::Null);
        assert_eq!(row.cells[at("deleted")], Cell::Null);
        assert_eq!(row.cells[at("size_bytes")], Cell::Long(7));
        assert_eq!(row.cells[at("ts")], Cell::Long(i64::MIN));
        assert_eq!(row.entry.order, Order { ts: i64::MIN, seq: 2, source: 1, pos: 3 });
        assert!(!row.entry.deleted);
        assert!(write_serving_file(&[row], iceberg_writer::WriteCodec::Snappy).is_ok());
        let no_id = vec![Cell::Null; COLUMNS.len()];
        assert!(serving_row(SourceRow { cells: no_id, source: 0, seq: 1, pos: 0 }).is_none(), "a row without its key is never served");
    }

    #[test]
    fn the_entry_carries_expires_at_and_tags_up_to_2_kib() {
        let cells = |tags: &str| {
            let mut cells = vec![Cell::Null; COLUMNS.len()];
            cells[at("ns")] = Cell::Text("docs".into());
            cells[at("type")] = Cell::Text("guide".into());
            cells[at("id")] = Cell::Text("a".into());
            cells[at("ts")] = Cell::Long(1);
            cells[at("tags")] = Cell::Text(tags.into());
            cells[at("expires_at")] = Cell::Long(99);
            cells
        };
        let row = serving_row(SourceRow { cells: cells(r#"{"env":"prod"}"#), source: 0, seq: 1, pos: 0 }).unwrap();
        assert_eq!(
            (row.entry.expires_at, row.entry.tags.as_deref(), row.entry.tags_too_long),
            (Some(99), Some(r#"{"env":"prod"}"#), false)
        );
        let long = format!("{{\"k\":\"{}\"}}", "v".repeat(shared::serving::entry::MAX_TAGS_BYTES));
        let row = serving_row(SourceRow { cells: cells(&long), source: 0, seq: 1, pos: 0 }).unwrap();
        assert_eq!((row.entry.tags.as_deref(), row.entry.tags_too_long), (None, true));
        assert_eq!(row.cells[at("tags")], Cell::Text(long), "the row keeps its tags");
    }

    #[test]
    fn modes_of_stand_in_roots() {
        assert_eq!(mode_of("artifacts/build").as_deref(), Some("build"));
        assert_eq!(mode_of("warehouse/other"), None);
        assert_eq!(mode_of("catalog:preview").as_deref(), Some("preview"));
        assert_eq!(mode_of("catalog:artifacts.bulk").as_deref(), Some("bulk"));
        assert_eq!(mode_of("catalog:other"), None);
    }
}
