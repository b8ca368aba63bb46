//! The serving table: the pointer and root, absorbing the sources, the plan's L0 run and merge
//! steps, the files, and the commit (`docs/design/serving-table.md`, "Commit protocol").

use std::collections::BTreeMap;

use iceberg_writer::serving::{commit_serving, new_serving_table, write_serving_file, ServingCommit, ServingRow};
use shared::iceberg::manifest::{read_manifest, read_manifest_list, DataFile, EntryStatus, ManifestEntry};
use shared::iceberg::table_metadata::TableMetadata;
use shared::locate::{Cell, StoreError};
use shared::record::COLUMNS;
use shared::serving::entry::Entry;
use shared::serving::key::key;
use shared::serving::order::Order;
use shared::serving::plan;
use shared::serving::root::{root_key, FileEntry, Root, SourceState};

use crate::source::{self, err, SourceRow};
use crate::{rows, CompactError, Config, Report, SourceReport, Store};

/// Versions a run helps along at most before it gives up on the pointer.
const HELP_MAX: usize = 64;

/// The serving table's object keys.
struct Paths<'a> {
    root: &'a str,
    location: &'a str,
}

impl Paths<'_> {
    fn hint(&self) -> String {
        format!("{}/metadata/version-hint.text", self.root)
    }
    fn metadata(&self, version: u64) -> String {
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

/// Moves the pointer over every version a crashed (or concurrent) commit left past it; the
/// pointer after, and the last version helped along.
async fn help_along<S: Store>(store: &S, p: &Paths<'_>) -> Result<(Option<(u64, String)>, Option<u64>), CompactError> {
    let mut helped = None;
    let mut ptr = pointer(store, p).await?;
    for _ in 0..HELP_MAX {
        let next = ptr.as_ref().map_or(1, |(n, _)| n.saturating_add(1));
        if !exists(store, &p.metadata(next)).await? {
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
    let mk = p.metadata(version);
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

/// The mode of a stand-in table root (`artifacts/build` → `build`).
fn mode_of(id: &str) -> Option<String> {
    let last = id.rsplit('/').next()?;
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
    };
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
struct Writer<'a, S: Store> {
    store: &'a S,
    p: &'a Paths<'a>,
    cfg: &'a Config,
    version: u64,
    n: usize,
    /// Files written this run: key → data_file (for the manifest).
    written: BTreeMap<String, DataFile>,
    bytes: u64,
    rows: u64,
}

impl<S: Store> Writer<'_, S> {
    /// Writes sorted unique rows as files of `level`; their root entries.
    async fn files(&mut self, rows: Vec<ServingRow>, level: u8) -> Result<Vec<FileEntry>, CompactError> {
        let mut out = Vec::new();
        for file_rows in plan::split_files(rows, &self.cfg.limits, ServingRow::size) {
            // The run's nonce keeps names fresh across a crashed run's orphans of the same version.
            let key = format!("{}/data/L{level}-{}-{}-{}.parquet", self.p.root, self.version, self.cfg.nonce, self.n);
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
        match source::current(store, &state.id).await {
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

/// One attempt of a run: `Err(Conflict)` when another commit took the next version.
pub async fn attempt<S: Store>(store: &S, cfg: &Config, _n: u32) -> Result<Report, CompactError> {
    let p = Paths { root: &cfg.serving_root, location: &cfg.location_prefix };
    let (ptr, helped) = help_along(store, &p).await?;
    let mut report = Report { helped_along: helped, ..Report::default() };
    let (version, etag) = match &ptr {
        Some((v, t)) => (*v, Some(t.clone())),
        None => (0, None),
    };
    report.previous = version;
    let prev = if version > 0 { Some(load(store, &p, version).await?) } else { None };
    let same_sources = |r: &Root| r.sources.len() <= cfg.sources.len() && r.sources.iter().zip(&cfg.sources).all(|(s, id)| s.id == *id);
    let mut base = match &prev {
        Some(v) if !cfg.from_scratch && same_sources(&v.root) => v.root.clone(),
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
    let meta_key = p.metadata(next);
    let mut w = Writer { store, p: &p, cfg, version: next, n: 0, written: BTreeMap::new(), bytes: 0, rows: 0 };
    let newest = plan::newest_per_key(source_rows.into_iter().filter_map(serving_row).collect());
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
        let outputs = w.files(plan::newest_per_key(inputs), 1).await?;
        root = plan::apply_merge(&root, &step, outputs);
        steps = steps.saturating_add(1);
        // Two full passes empty L0 (the design's bound); more means the plan is not moving.
        if steps > 100_000 {
            return Err(CompactError::Write("merge steps do not converge".into()));
        }
    }

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

    // The commit: the manifest of every live file, the list, the root, the metadata, the pointer.
    let previous: Vec<ManifestEntry> = match &prev {
        Some(v) => live_entries(store, &p, &v.metadata).await?.into_values().collect(),
        None => Vec::new(),
    };
    let removed: Vec<String> =
        previous.iter().map(|e| e.data_file.file_path.clone()).filter(|path| !after.contains(&p.key_of(path))).collect();
    let base_meta = match &prev {
        Some(v) => v.metadata.clone(),
        None => new_serving_table(uuid(cfg), p.absolute(cfg.serving_root.as_str()), cfg.now_ms),
    };
    let snapshot_id = snapshot_id(cfg, next);
    let manifest_key = format!("{}/metadata/{next}-{}-m0.avro", cfg.serving_root, cfg.nonce);
    let list_key = format!("{}/metadata/snap-{snapshot_id}-{next}-{}.avro", cfg.serving_root, cfg.nonce);
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
            previous_location: prev.as_ref().map(|_| p.absolute(&p.metadata(version))),
            properties: [("serving.version".to_string(), next.to_string())].into(),
        },
    )
    .map_err(|e| CompactError::Write(e.to_string()))?;
    let meta = committed.metadata;
    put_new(store, &manifest_key, committed.manifest).await?;
    put_new(store, &list_key, committed.manifest_list).await?;
    meta.validate().map_err(|e| CompactError::Write(format!("metadata v{next}: {}", e.description())))?;
    root.metadata = meta_key.clone();

    // The root first (create-only; a root without its metadata is a crashed run's orphan and is
    // replaced), then the metadata (create-only: whoever creates it owns the version), then the
    // pointer (conditional; failing means a helper moved it to this version already).
    let rk = p.serving_root(next);
    let root_bytes = root.to_json().into_bytes();
    if !store.put_new(&rk, root_bytes.clone()).await.map_err(store_err(&rk))? {
        if exists(store, &meta_key).await? {
            return Err(CompactError::Conflict(format!("v{next} was committed meanwhile")));
        }
        let orphan = store.get(&rk, None).await.map_err(store_err(&rk))?;
        if !store.put_if(&rk, root_bytes, Some(&orphan.etag)).await.map_err(store_err(&rk))? {
            return Err(CompactError::Conflict(format!("{rk} changed meanwhile")));
        }
    }
    if !store.put_new(&meta_key, meta.to_json().into_bytes()).await.map_err(store_err(&meta_key))? {
        return Err(CompactError::Conflict(format!("v{next} was committed meanwhile")));
    }
    let _moved = store.put_if(&p.hint(), next.to_string().into_bytes(), etag.as_deref()).await.map_err(store_err(&p.hint()))?;
    report.version = Some(next);
    Ok(report)
}

async fn put_new<S: Store>(store: &S, key: &str, bytes: Vec<u8>) -> Result<(), CompactError> {
    if store.put_new(key, bytes).await.map_err(store_err(key))? {
        Ok(())
    } else {
        Err(CompactError::Conflict(format!("{key} exists already")))
    }
}

/// A positive snapshot id from the run's nonce and version.
fn snapshot_id(cfg: &Config, version: u64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cfg.nonce.bytes().chain(version.to_le_bytes()).chain(cfg.now_ms.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(h >> 11).unwrap_or(1).max(1)
}

/// The serving table's uuid, from the run's nonce.
fn uuid(cfg: &Config) -> String {
    let h = format!("{:016x}{:016x}", snapshot_id(cfg, 0), snapshot_id(cfg, u64::MAX));
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
    fn modes_of_stand_in_roots() {
        assert_eq!(mode_of("artifacts/build").as_deref(), Some("build"));
        assert_eq!(mode_of("warehouse/other"), None);
    }
}
