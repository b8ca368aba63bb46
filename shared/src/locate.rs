//! Finding the newest version of one artifact in one Iceberg table: the scan locator.
//!
//! Everything here is logic over bytes; the caller supplies an [`ObjectStore`] (R2 in the serve
//! worker, the filesystem in native tests). The path is the one the design fixes: metadata →
//! manifest list → manifests (pruned by `ns`/`type`/`id` bounds, which may be truncated) →
//! Parquet footer (one suffix read using `file_size_in_bytes`) → row groups pruned by statistics
//! → the `ns`/`type`/`id`/`ts`/`deleted` chunks → the winning row → on request, one value column.
//! Large chunks in files with a page index are read page by page instead ([`pages`]).
//!
//! Columns are resolved by name in the table's current schema to their Iceberg field id, then to
//! the Parquet column by field id (name as a fallback); a column the table lacks reads as null.
//! Position and equality delete files (v2) are applied with the spec's sequence-number rules
//! ([`deletes`]); a deletion vector (v3) is refused with [`LocateError::Unsupported`] (a clear
//! 502), never answered wrongly.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::future::Future;

use crate::content::RowOrder;
use crate::iceberg::manifest::{self, DataContent, EntryStatus, ManifestContent};
use crate::iceberg::table_metadata::{Snapshot, TableMetadata};
use crate::parquet::{self, ColumnValues, DecodeLimits, Footer, FooterNeeds};

pub mod deletes;
pub mod pages;

use pages::FooterRead;

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The key does not exist.
    NotFound,
    /// Anything else (network, truncated body, …).
    Failed(String),
}

/// Ranged reads of objects by key.
#[allow(async_fn_in_trait)] // single-threaded callers (wasm, tests): no Send bound wanted
pub trait ObjectStore {
    /// The bytes of `key` in `[start, start + len)`, or the whole object for `None`.
    fn get(&self, key: &str, range: Option<(u64, u64)>) -> impl Future<Output = Result<Vec<u8>, StoreError>>;

    /// Reads that reached the backing storage so far, when the store counts them (the caching
    /// store does; caches and memos answer the others): lets a caller split one request's reads
    /// by purpose (serve's `serving-reads` and `tail-reads`).
    fn reads_made(&self) -> Option<u32> {
        None
    }
}

/// Why a lookup failed (the serve worker answers 502 naming `key` for the object errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocateError {
    /// An object could not be read.
    Store {
        /// Bucket key.
        key: String,
        /// What happened.
        error: StoreError,
    },
    /// An object is not a valid file of its kind.
    Corrupt {
        /// Bucket key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A location does not start with the configured prefix.
    OutsideWarehouse(String),
    /// A table feature this reader cannot apply yet.
    Unsupported(&'static str),
}

impl core::fmt::Display for LocateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LocateError::Store { key, error: StoreError::NotFound } => write!(f, "object {key} is missing"),
            LocateError::Store { key, error: StoreError::Failed(e) } => write!(f, "object {key} could not be read: {e}"),
            LocateError::Corrupt { key, reason } => write!(f, "object {key} is corrupt: {reason}"),
            LocateError::OutsideWarehouse(l) => write!(f, "location {l} is outside the configured warehouse prefix"),
            LocateError::Unsupported(what) => write!(f, "unsupported table feature: {what}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LocateError {}

/// The bucket key for an absolute location: the location without `prefix`, bytes kept as written
/// (a `%40` in a path is part of the key).
pub fn key_for(location: &str, prefix: &str) -> Result<String, LocateError> {
    location.strip_prefix(prefix).map(ToString::to_string).ok_or_else(|| LocateError::OutsideWarehouse(location.into()))
}

/// What to find.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// Namespace.
    pub ns: &'a str,
    /// Artifact type.
    pub ty: &'a str,
    /// Artifact id.
    pub id: &'a str,
}

/// The columns read to locate and authorise a row.
pub const LOCATE_COLUMNS: &[&str] =
    &["ns", "type", "id", "ts", "deleted", "visibility", "owner_org", "owner_user", "content_hash", "size_bytes", "expires_at", "tags"];

/// The winning row of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its place in the newest-version order.
    pub order: RowOrder,
    /// Data file key.
    pub file_key: String,
    /// Data file size.
    pub file_size: u64,
    /// Row group index.
    pub row_group: usize,
    /// Row index within the row group.
    pub row: usize,
    /// `ts` (µs).
    pub ts: i64,
    /// Tombstone.
    pub deleted: bool,
    /// `visibility` (absent column → `None`).
    pub visibility: Option<String>,
    /// `owner_org`.
    pub owner_org: Option<String>,
    /// `owner_user`.
    pub owner_user: Option<String>,
    /// `content_hash`.
    pub content_hash: Option<String>,
    /// `size_bytes`.
    pub size_bytes: Option<i64>,
    /// `expires_at` (µs; `None`: no expiry, or a table without the column).
    pub expires_at: Option<i64>,
    /// `tags`, the JSON object text (`None`: no tags, a table without the column, or
    /// [`Found::tags_too_long`]).
    pub tags: Option<String>,
    /// Only from the serving table: the row has tags, too long for its `_lookup` entry
    /// (`shared::serving::entry::MAX_TAGS_BYTES`), so `tags` is `None`; read the row's `tags`
    /// column (`read_value_in`) to filter by them.
    pub tags_too_long: bool,
    /// Whether the row lists anything in `supersedes` (#18, the `Link: rel="predecessor-version"`
    /// of its answers): known from a serving-table entry (`sp`) or a pending copy; `None` for a
    /// source table's row (read its `supersedes` cells).
    pub lists_supersedes: Option<bool>,
}

/// What a lookup cost (for `Server-Timing`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Object reads.
    pub reads: u32,
    /// Bytes read.
    pub bytes: u64,
    /// Data files considered (after manifest pruning).
    pub files: u32,
    /// Data files pruned by bounds.
    pub pruned: u32,
    /// Manifests pruned by their partition summaries.
    pub pruned_manifests: u32,
}

/// Whether a manifest may hold the wanted row, from its partition summaries: for each identity
/// partition field on `ns`, `type` or `id`, the value must be within the field's summary bounds
/// (bytewise, truncation-safe). Other transforms and missing summaries prune nothing.
fn manifest_may_contain(table: &Table<'_>, mf: &manifest::ManifestFile, ids: &[(Option<i32>, &[u8])]) -> bool {
    use crate::iceberg::table_metadata::Transform;
    let Some(spec) = table.metadata.partition_spec_by_id(mf.partition_spec_id) else { return true };
    spec.fields.iter().zip(&mf.partitions).all(|(field, summary)| {
        if field.transform != Transform::Identity {
            return true;
        }
        match ids.iter().find(|(fid, _)| *fid == Some(field.source_id)) {
            Some((_, value)) => manifest::may_contain(summary.lower_bound.as_deref(), summary.upper_bound.as_deref(), value),
            None => true,
        }
    })
}

/// Reads `key` (whole or a range), counting the cost.
async fn fetch<S: ObjectStore>(store: &S, cost: &mut Cost, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, LocateError> {
    let bytes = store.get(key, range).await.map_err(|error| LocateError::Store { key: key.into(), error })?;
    cost.reads = cost.reads.saturating_add(1);
    cost.bytes = cost.bytes.saturating_add(bytes.len() as u64);
    if let Some((_, len)) = range {
        if bytes.len() as u64 != len {
            return Err(LocateError::Corrupt { key: key.into(), reason: alloc::format!("asked for {len} bytes, got {}", bytes.len()) });
        }
    }
    Ok(bytes)
}

fn corrupt(key: &str, reason: impl ToString) -> LocateError {
    LocateError::Corrupt { key: key.into(), reason: reason.to_string() }
}

/// A manifest or manifest list that cannot be read: a feature we refuse (v3, deletion vectors)
/// is [`LocateError::Unsupported`], anything else corrupt.
fn manifest_error(key: &str, e: manifest::ManifestError) -> LocateError {
    match e {
        manifest::ManifestError::Unsupported(what) => LocateError::Unsupported(what),
        e => corrupt(key, e.description()),
    }
}

/// Reads `ranges` of `key`, merging those at most 64 KiB apart: `(offset, bytes)` per read.
async fn fetch_merged<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    ranges: Vec<(u64, u64)>,
) -> Result<Vec<(u64, Vec<u8>)>, LocateError> {
    let merged = parquet::merge_ranges(ranges, pages::MERGE_GAP);
    let mut buffers = Vec::with_capacity(merged.len());
    for (start, len) in merged {
        buffers.push((start, fetch(store, cost, key, Some((start, len))).await?));
    }
    Ok(buffers)
}

/// A table to search: its parsed metadata and the prefix that maps its locations to keys.
pub struct Table<'a> {
    /// Current metadata.
    pub metadata: &'a TableMetadata,
    /// Location prefix (e.g. `s3://bucket/`).
    pub location_prefix: &'a str,
}

/// Per-column: Iceberg field id in the table's current schema, if the table has the column.
fn field_id(table: &Table<'_>, name: &str) -> Option<i32> {
    table.metadata.current_schema().and_then(|s| s.field_id_by_name(name))
}

/// The Parquet column of `name`: by field id, then by name.
fn parquet_column(footer: &Footer, table: &Table<'_>, name: &str) -> Option<usize> {
    let id = field_id(table, name);
    id.and_then(|id| footer.column_by_field_id(id))
        // A list's leaf carries the element's id; its top-level field carries the column's.
        .or_else(|| id.and_then(|id| footer.columns.iter().position(|c| c.top_field_id == Some(id))))
        .or_else(|| footer.column_by_name(name))
}

/// Reads the footer: one suffix read, a second only when the footer is larger than the guess.
/// The bytes read are kept with it (the page index usually lies among them).
async fn read_footer<S: ObjectStore>(store: &S, cost: &mut Cost, key: &str, size: u64) -> Result<FooterRead, LocateError> {
    let (start, len) = parquet::footer_range(size);
    let tail = fetch(store, cost, key, Some((start, len))).await?;
    match parquet::parse_footer(&tail, size) {
        Ok(footer) => Ok(FooterRead { footer, tail_start: start, tail }),
        Err(FooterNeeds::More { offset, length }) => {
            let mut head = fetch(store, cost, key, Some((offset, length))).await?;
            head.extend_from_slice(&tail);
            match parquet::parse_footer(&head, size) {
                Ok(footer) => Ok(FooterRead { footer, tail_start: offset, tail: head }),
                Err(FooterNeeds::Invalid(e)) => Err(corrupt(key, e.description())),
                Err(FooterNeeds::More { .. }) => Err(corrupt(key, "footer length changed between reads")),
            }
        }
        Err(FooterNeeds::Invalid(e)) => Err(corrupt(key, e.description())),
    }
}

/// Rows of row group `rg` whose leaf `col` equals `value`, as ranges `[start, end)`: from the
/// pages holding `within` (row ranges from the page index) when given and readable, else from the
/// whole chunk.
#[allow(clippy::too_many_arguments)] // one row group of one file: every argument is needed
async fn matching_rows<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    fr: &FooterRead,
    rg: usize,
    col: usize,
    value: &[u8],
    within: Option<&[(u64, u64)]>,
) -> Result<Vec<(u64, u64)>, LocateError> {
    let one = [Some(col)];
    let mut windows = None;
    if let Some(within) = within {
        windows = pages::read_windows(store, cost, key, fr, rg, &one, within).await?;
    }
    let windows = match windows {
        Some(w) => w,
        None => vec![(0, read_chunks(store, cost, key, &fr.footer, rg, &one).await?)],
    };
    let mut hits: Vec<(u64, u64)> = Vec::new();
    for (start, values) in &windows {
        let values: &Option<ColumnValues> = values.first().unwrap_or(&None);
        for i in 0..values.as_ref().map_or(0, ColumnValues::len) {
            if bytes_at(values, i) == Some(value) {
                let row = start.saturating_add(i as u64);
                match hits.last_mut() {
                    Some((_, end)) if *end == row => *end = row.saturating_add(1),
                    _ => hits.push((row, row.saturating_add(1))),
                }
            }
        }
    }
    Ok(hits)
}

/// Decoded chunks of one row group, by Parquet leaf column (`None` in, `None` out), read with
/// merged ranged reads.
async fn read_chunks<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    footer: &Footer,
    row_group: usize,
    cols: &[Option<usize>],
) -> Result<Vec<Option<ColumnValues>>, LocateError> {
    let ranges: Vec<(u64, u64)> = cols.iter().flatten().filter_map(|c| parquet::chunk_range(footer, row_group, *c)).collect();
    let buffers = fetch_merged(store, cost, key, ranges).await?;
    let mut out = Vec::with_capacity(cols.len());
    for col in cols {
        let Some(col) = *col else {
            out.push(None);
            continue;
        };
        let (Some(meta), Some(range)) = (footer.chunk(row_group, col), parquet::chunk_range(footer, row_group, col)) else {
            return Err(corrupt(key, "column chunk missing from its row group"));
        };
        let bytes = buffers
            .iter()
            .find_map(|(start, buf)| parquet::slice_within(*start, buf, range))
            .ok_or_else(|| corrupt(key, "column chunk outside the bytes read"))?;
        let values = parquet::decode_column_chunk(bytes, meta, DecodeLimits::default()).map_err(|e| corrupt(key, e.description()))?;
        out.push(Some(values));
    }
    Ok(out)
}

fn bytes_at(values: &Option<ColumnValues>, row: usize) -> Option<&[u8]> {
    match values {
        Some(ColumnValues::ByteArray(v)) => v.get(row)?.as_deref(),
        _ => None,
    }
}

fn string_at(values: &Option<ColumnValues>, row: usize) -> Option<String> {
    bytes_at(values, row).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn long_at(values: &Option<ColumnValues>, row: usize) -> Option<i64> {
    match values {
        Some(ColumnValues::Int64(v)) => *v.get(row)?,
        Some(ColumnValues::Int32(v)) => v.get(row)?.map(i64::from),
        _ => None,
    }
}

fn bool_at(values: &Option<ColumnValues>, row: usize) -> Option<bool> {
    match values {
        Some(ColumnValues::Boolean(v)) => *v.get(row)?,
        _ => None,
    }
}

/// The snapshot to read: the current one, or one chosen for time travel.
pub enum At {
    /// Current snapshot.
    Current,
    /// A snapshot id.
    Snapshot(i64),
    /// As of a time, µs since the epoch.
    Time(i64),
}

fn snapshot<'m>(metadata: &'m TableMetadata, at: &At) -> Option<&'m Snapshot> {
    match at {
        At::Current => metadata.current_snapshot(),
        At::Snapshot(id) => metadata.snapshot_by_id(*id),
        At::Time(us) => metadata.snapshot_as_of(us.div_euclid(1_000)),
    }
}

/// Finds the newest row for `wanted` in `table` at `at`; `Ok(None)` when no row matches.
pub async fn locate<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    wanted: Wanted<'_>,
    at: &At,
    cost: &mut Cost,
) -> Result<Option<Found>, LocateError> {
    let mut rows = scan(store, table, wanted.ns, wanted.ty, Some(wanted.id), at, None, cost).await?;
    Ok(rows.remove(wanted.id))
}

/// A serving table's watermark of one source table: the last snapshot it absorbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// The snapshot's id.
    pub snapshot_id: i64,
    /// Its sequence number: every data file of sequence number at most this one is absorbed.
    pub sequence_number: i64,
}

/// Whether the current snapshot of `metadata` only appended (or rewrote files: `replace`) after
/// `watermark` (`None`: nothing absorbed yet, so since the table began): the tail may then be read
/// with [`locate_after`]. `Err` says why not — a snapshot after the watermark that is neither an
/// `append` nor a `replace` (`overwrite`, `delete`: it may delete rows the serving table holds),
/// or a history that does not lead back to the watermark (rolled back, branched, or expired past
/// it).
pub fn appends_only_after(metadata: &TableMetadata, watermark: Option<Watermark>) -> Result<(), String> {
    use crate::iceberg::table_metadata::Operation;
    let mut at = metadata.current_snapshot();
    // Bounded by the snapshots the metadata holds (a parent cycle must not loop).
    for _ in 0..=metadata.snapshots.len() {
        let Some(snap) = at else {
            return match watermark {
                None => Ok(()),
                Some(w) => Err(alloc::format!("the table's history does not reach the watermark snapshot {}", w.snapshot_id)),
            };
        };
        if let Some(w) = watermark {
            if snap.sequence_number <= w.sequence_number {
                return if snap.snapshot_id == w.snapshot_id {
                    Ok(())
                } else {
                    Err(alloc::format!(
                        "snapshot {} is not the watermark snapshot {} (rolled back or branched)",
                        snap.snapshot_id,
                        w.snapshot_id
                    ))
                };
            }
        }
        // A `replace` (the catalog's compaction) rewrites files without changing a row: its
        // files carry their inputs' greatest data sequence number, so the tail reads the rows
        // after the watermark it holds by number and no row changes (#16).
        if !matches!(snap.summary.operation, Operation::Append | Operation::Replace) {
            return Err(alloc::format!(
                "snapshot {} after the watermark is neither an append nor a replace ({})",
                snap.snapshot_id,
                snap.summary.operation.as_str()
            ));
        }
        at = match snap.parent_snapshot_id {
            None => None,
            // The watermark's child: the history reaches it even when it was expired since.
            Some(parent) if watermark.is_some_and(|w| w.snapshot_id == parent) => return Ok(()),
            Some(parent) => match metadata.snapshot_by_id(parent) {
                Some(p) => Some(p),
                None => return Err(alloc::format!("snapshot {parent} (a parent after the watermark) is no longer in the metadata")),
            },
        };
    }
    Err("the snapshot history loops".into())
}

/// [`locate`] over the current snapshot, reading only data committed after the data sequence
/// number `after` (the tail after a serving table's watermark): manifests added at or before it
/// and entries whose data sequence number is at most it are skipped without a read, and delete
/// files are not read (call [`appends_only_after`] first: after the watermark there are only
/// appends, and older delete files never apply to newer data files).
pub async fn locate_after<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    wanted: Wanted<'_>,
    after: i64,
    cost: &mut Cost,
) -> Result<Option<Found>, LocateError> {
    let mut rows = scan(store, table, wanted.ns, wanted.ty, Some(wanted.id), &At::Current, Some(after), cost).await?;
    Ok(rows.remove(wanted.id))
}

/// [`list`] over the current snapshot, reading only data committed after the data sequence
/// number `after` (the tail of a listing with a serving table; see [`locate_after`]).
pub async fn list_after<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    ns: &str,
    ty: &str,
    after: i64,
    cost: &mut Cost,
) -> Result<BTreeMap<String, Found>, LocateError> {
    scan(store, table, ns, ty, None, &At::Current, Some(after), cost).await
}

/// The newest row of every artifact of one `ns/type` (tombstones included, in id order): the
/// listing. Data files and row groups are pruned by the `ns`/`type` bounds only.
pub async fn list<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    ns: &str,
    ty: &str,
    at: &At,
    cost: &mut Cost,
) -> Result<BTreeMap<String, Found>, LocateError> {
    scan(store, table, ns, ty, None, at, None, cost).await
}

/// Keeps `found` for `id` when it is newer than what `best` holds.
fn keep_newest(best: &mut BTreeMap<String, Found>, id: String, found: Found) {
    if best.get(&id).is_some_and(|b| !crate::content::newer(found.order, b.order)) {
        return;
    }
    best.insert(id, found);
}

/// What one scan looks for and which columns it reads, fixed before any data file is opened.
struct ScanPlan<'a> {
    table: &'a Table<'a>,
    want_ns: &'a str,
    want_ty: &'a str,
    want_id: Option<&'a str>,
    /// `(field id, value)` pairs that prune manifests and data files by their bounds.
    ids: Vec<(Option<i32>, &'a [u8])>,
    /// Columns read per row group: the locate columns, then those equality deletes compare.
    names: Vec<&'a str>,
    /// For each equality-delete field id, its index in `names`.
    equality_at: Vec<(i32, usize)>,
    /// Whether delete files apply (then every matching row is kept as a candidate).
    has_deletes: bool,
    /// The snapshot's sequence number (inherited by entries without one).
    snapshot_sequence: i64,
}

/// What a scan has found so far: the newest row per id, or — with delete files — every
/// matching row with its site, to be judged once the deletes are read.
#[derive(Default)]
struct Hits {
    best: BTreeMap<String, Found>,
    candidates: Vec<(String, Found, deletes::RowSite)>,
}

/// One data file's place in the table, for ordering and for delete files.
struct FileAt<'a> {
    manifest: &'a manifest::ManifestFile,
    m_index: usize,
    e_index: usize,
    data_file: &'a manifest::DataFile,
    sequence_number: i64,
}

/// The columns a scan reads: [`LOCATE_COLUMNS`], then any column equality deletes compare, with
/// each equality field id's index among them.
fn scan_columns<'a>(equality: &[(i32, &'a str)]) -> (Vec<&'a str>, Vec<(i32, usize)>) {
    let mut names: Vec<&str> = LOCATE_COLUMNS.to_vec();
    let mut equality_at: Vec<(i32, usize)> = Vec::with_capacity(equality.len());
    for (fid, name) in equality {
        let index = match names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        equality_at.push((*fid, index));
    }
    (names, equality_at)
}

/// The newest row per id of `ns/type` (only `id` when given).
///
/// Without delete files only the newest row per id is kept while scanning. With delete files
/// every matching row is kept with its [`deletes::RowSite`], the deletes are applied, and the
/// newest surviving row wins (a deleted newer row lets an older one show again).
///
/// `after`: only data files of a greater data sequence number, no delete files ([`locate_after`]).
#[allow(clippy::too_many_arguments)] // the scan's inputs, each needed
async fn scan<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    want_ns: &str,
    want_ty: &str,
    want_id: Option<&str>,
    at: &At,
    after: Option<i64>,
    cost: &mut Cost,
) -> Result<BTreeMap<String, Found>, LocateError> {
    let Some(snap) = snapshot(table.metadata, at) else { return Ok(BTreeMap::new()) };
    let list_key = key_for(&snap.manifest_list, table.location_prefix)?;
    let list_bytes = fetch(store, cost, &list_key, None).await?;
    let manifests = manifest::read_manifest_list(&list_bytes).map_err(|e| manifest_error(&list_key, e))?;
    let mut ids: Vec<(Option<i32>, &[u8])> =
        vec![(field_id(table, "ns"), want_ns.as_bytes()), (field_id(table, "type"), want_ty.as_bytes())];
    if let Some(id) = want_id {
        ids.push((field_id(table, "id"), id.as_bytes()));
    }
    let delete_files = match after {
        Some(_) => Vec::new(),
        None => deletes::live_delete_files(store, table, &manifests, &ids, snap.sequence_number, cost).await?,
    };
    let equality = deletes::equality_columns(table, &delete_files)?;
    let (names, equality_at) = scan_columns(&equality);
    let plan = ScanPlan {
        table,
        want_ns,
        want_ty,
        want_id,
        ids,
        names,
        equality_at,
        has_deletes: !delete_files.is_empty(),
        snapshot_sequence: snap.sequence_number,
    };
    let mut hits = Hits::default();
    for (m_index, mf) in manifests.iter().enumerate() {
        if mf.content == ManifestContent::Deletes {
            continue;
        }
        // A manifest added at or before `after` holds only data files of that age or older.
        if after.is_some_and(|w| mf.sequence_number <= w) || !manifest_may_contain(table, mf, &plan.ids) {
            cost.pruned_manifests = cost.pruned_manifests.saturating_add(1);
            continue;
        }
        let key = key_for(&mf.manifest_path, table.location_prefix)?;
        let bytes = fetch(store, cost, &key, None).await?;
        let parsed = manifest::read_manifest(&bytes, mf).map_err(|e| manifest_error(&key, e))?;
        for (e_index, entry) in parsed.entries.iter().enumerate() {
            if entry.status == EntryStatus::Deleted || entry.data_file.content != DataContent::Data {
                continue;
            }
            let df = &entry.data_file;
            let in_bounds = plan.ids.iter().all(|(fid, v)| match fid {
                Some(fid) => manifest::may_contain(df.lower_bound(*fid), df.upper_bound(*fid), v),
                None => true,
            });
            if !in_bounds {
                cost.pruned = cost.pruned.saturating_add(1);
                continue;
            }
            let sequence_number = entry.sequence_number.unwrap_or(plan.snapshot_sequence);
            if after.is_some_and(|w| sequence_number <= w) {
                cost.pruned = cost.pruned.saturating_add(1);
                continue;
            }
            cost.files = cost.files.saturating_add(1);
            let file = FileAt { manifest: mf, m_index, e_index, data_file: df, sequence_number };
            scan_data_file(store, &plan, &file, &key, cost, &mut hits).await?;
        }
    }
    let Hits { mut best, candidates } = hits;
    if !candidates.is_empty() {
        let sites: Vec<deletes::RowSite> = candidates.iter().map(|(_, _, s)| s.clone()).collect();
        let gone = deletes::deleted(store, table, &delete_files, &sites, cost).await?;
        for ((row_id, found, _), gone) in candidates.into_iter().zip(gone) {
            if !gone {
                keep_newest(&mut best, row_id, found);
            }
        }
    }
    Ok(best)
}

/// One data file: its footer, the row groups (and pages) that may hold the value, and the rows
/// of those that match (`manifest_key` names the manifest listing it, for errors).
async fn scan_data_file<S: ObjectStore>(
    store: &S,
    plan: &ScanPlan<'_>,
    file: &FileAt<'_>,
    manifest_key: &str,
    cost: &mut Cost,
    hits: &mut Hits,
) -> Result<(), LocateError> {
    let table = plan.table;
    let file_key = key_for(&file.data_file.file_path, table.location_prefix)?;
    let size = u64::try_from(file.data_file.file_size_in_bytes).map_err(|_| corrupt(manifest_key, "negative file size"))?;
    let fr = read_footer(store, cost, &file_key, size).await?;
    let footer = &fr.footer;
    // The column and value that prune row groups (and pages): `id`, or `ns` for listings.
    let prune = match plan.want_id {
        Some(id) => parquet_column(footer, table, "id").map(|c| (c, id.as_bytes())),
        None => parquet_column(footer, table, "ns").map(|c| (c, plan.want_ns.as_bytes())),
    };
    let Some((prune_col, prune_value)) = prune else { return Ok(()) };
    let cols: Vec<Option<usize>> = plan.names.iter().map(|n| parquet_column(footer, table, n)).collect();
    let supersedes_col = parquet_column(footer, table, "supersedes");
    for rg in parquet::prune_row_groups(footer, prune_col, prune_value) {
        let paged = pages::worth_it(footer, rg, &cols);
        // Large chunks with a page index: only the pages that may hold the value.
        let mut rows = None;
        if paged {
            match pages::candidate_rows(store, cost, &file_key, &fr, rg, prune_col, prune_value).await? {
                Some(r) if r.is_empty() => continue,
                Some(r) => rows = Some(r),
                None => {}
            }
        }
        // A lookup by id reads the id column first and the other columns only for the rows
        // that hold the id (most row groups of an unsorted table hold none of them).
        if plan.want_id.is_some() {
            let hits_in_rg = matching_rows(store, cost, &file_key, &fr, rg, prune_col, prune_value, rows.as_deref()).await?;
            if hits_in_rg.is_empty() {
                continue;
            }
            rows = Some(hits_in_rg);
        }
        let mut windows = None;
        if let (true, Some(rows)) = (paged, rows.as_deref()) {
            windows = pages::read_windows(store, cost, &file_key, &fr, rg, &cols, rows).await?;
        }
        let windows = match windows {
            Some(w) => w,
            None => vec![(0, read_chunks(store, cost, &file_key, footer, rg, &cols).await?)],
        };
        // Position of the row group's first row in the file (for position deletes).
        let first_row = footer.row_groups.get(..rg).map_or(0, |g| g.iter().map(|g| g.num_rows).sum::<u64>());
        let lists_supersedes = none_listed(footer, rg, supersedes_col).then_some(false);
        for (window_start, window) in windows {
            let place = WindowAt { file_key: &file_key, file_size: size, row_group: rg, window_start, first_row, lists_supersedes };
            scan_window(plan, file, &place, &window, hits)?;
        }
    }
    Ok(())
}

/// Where a window of decoded rows sits: its file, row group, first row within the row group, and
/// the row group's first row within the file.
struct WindowAt<'a> {
    file_key: &'a str,
    file_size: u64,
    row_group: usize,
    window_start: u64,
    first_row: u64,
    /// `Some(false)` when no row of the row group lists anything in `supersedes`
    /// ([`none_listed`]); `None`: unknown.
    lists_supersedes: Option<bool>,
}

/// Whether the chunk statistics say no row of row group `rg` lists anything in `supersedes`
/// (`column`, `None` when the file has no such column): every leaf value null, no max. Then a
/// read's predecessor links need no read of the column (#18); otherwise they read it.
fn none_listed(footer: &parquet::Footer, rg: usize, column: Option<usize>) -> bool {
    let Some(column) = column else { return true };
    let Some(chunk) = footer.chunk(rg, column) else { return true };
    chunk.statistics.as_ref().is_some_and(|s| {
        s.max_value.is_none() && s.max.is_none() && s.null_count.and_then(|n| u64::try_from(n).ok()) == Some(chunk.num_values)
    })
}

/// The matching rows of one decoded window of a row group, into `hits`.
fn scan_window(
    plan: &ScanPlan<'_>,
    file: &FileAt<'_>,
    place: &WindowAt<'_>,
    cols: &[Option<ColumnValues>],
    hits: &mut Hits,
) -> Result<(), LocateError> {
    let Some([ns, ty, id, ts, deleted, visibility, owner_org, owner_user, content_hash, size_bytes, expires_at, tags]) =
        cols.get(..LOCATE_COLUMNS.len())
    else {
        return Err(corrupt(place.file_key, "column count"));
    };
    let rows = id.as_ref().map_or(0, ColumnValues::len);
    for i in 0..rows {
        // `i` indexes the window, `row` the row group.
        let row = usize::try_from(place.window_start).unwrap_or(usize::MAX).saturating_add(i);
        let Some(row_id) = bytes_at(id, i) else { continue };
        if plan.want_id.is_some_and(|w| w.as_bytes() != row_id)
            || bytes_at(ty, i) != Some(plan.want_ty.as_bytes())
            || bytes_at(ns, i) != Some(plan.want_ns.as_bytes())
        {
            continue;
        }
        let row_ts = long_at(ts, i).unwrap_or(i64::MIN);
        // Later manifests, entries and rows come later in the table's history.
        // The row's index in its file (not in its row group): of two rows of one file with equal
        // `ts`, the later one wins, however the file is cut into row groups.
        let in_file = place.first_row.saturating_add(row as u64);
        let position = ((file.m_index as u64) << 40) | ((file.e_index as u64 & 0xFFFF) << 24) | (in_file & 0xFF_FFFF);
        let order = RowOrder { ts: row_ts, sequence_number: file.sequence_number, position };
        let row_id = String::from_utf8_lossy(row_id).into_owned();
        if !plan.has_deletes && hits.best.get(&row_id).is_some_and(|b| !crate::content::newer(order, b.order)) {
            continue;
        }
        let found = Found {
            order,
            file_key: place.file_key.to_string(),
            file_size: place.file_size,
            row_group: place.row_group,
            row,
            ts: row_ts,
            deleted: bool_at(deleted, i).unwrap_or(false),
            visibility: string_at(visibility, i),
            owner_org: string_at(owner_org, i),
            owner_user: string_at(owner_user, i),
            content_hash: string_at(content_hash, i),
            size_bytes: long_at(size_bytes, i),
            expires_at: long_at(expires_at, i),
            tags: string_at(tags, i),
            tags_too_long: false,
            lists_supersedes: place.lists_supersedes,
        };
        if !plan.has_deletes {
            hits.best.insert(row_id, found);
            continue;
        }
        let site = deletes::RowSite {
            file_path: file.data_file.file_path.clone(),
            sequence_number: file.sequence_number,
            spec_id: file.manifest.partition_spec_id,
            partition: file.data_file.partition.clone(),
            pos: i64::try_from(place.first_row.saturating_add(row as u64)).unwrap_or(i64::MAX),
            values: plan.equality_at.iter().map(|(fid, at)| (*fid, cols.get(*at).map_or(Cell::Null, |c| cell_at(c, i)))).collect(),
        };
        hits.candidates.push((row_id, found, site));
    }
    Ok(())
}

/// Reads one string column of a found row (`None`: null, or the table lacks the column).
pub async fn read_value<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    found: &Found,
    column: &str,
    cost: &mut Cost,
) -> Result<Option<String>, LocateError> {
    read_value_in(store, Layout::Table(table), found, column, cost).await
}

/// One value of a row, by physical kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Null, or a column the table lacks.
    Null,
    /// A string (BYTE_ARRAY read as UTF-8, invalid sequences replaced).
    Text(String),
    /// A 64- or 32-bit integer.
    Long(i64),
    /// A boolean.
    Bool(bool),
    /// A list of strings (`list<string>`), elements possibly null.
    List(Vec<Option<String>>),
}

/// Where a found row's columns are and how they are named.
#[derive(Clone, Copy)]
pub enum Layout<'a> {
    /// A file of a source table: columns by name in the table's current schema, then by field id.
    Table(&'a Table<'a>),
    /// A serving-table file: columns by name; its page index and footer are the bytes
    /// `[index_offset, file size)`, read by the lookup already (so cached), and its pages are
    /// always read one by one.
    Serving {
        /// Where the file's page index starts.
        index_offset: u64,
    },
}

/// Reads several columns of a found row in one pass over its row group (merged ranged reads).
pub async fn read_row<S: ObjectStore>(
    store: &S,
    table: &Table<'_>,
    found: &Found,
    columns: &[&str],
    cost: &mut Cost,
) -> Result<Vec<Cell>, LocateError> {
    read_row_in(store, Layout::Table(table), found, columns, cost).await
}

/// [`read_value`] in a file of either [`Layout`].
pub async fn read_value_in<S: ObjectStore>(
    store: &S,
    layout: Layout<'_>,
    found: &Found,
    column: &str,
    cost: &mut Cost,
) -> Result<Option<String>, LocateError> {
    let values = read_row_in(store, layout, found, &[column], cost).await?;
    Ok(values.into_iter().next().and_then(|v| match v {
        Cell::Text(s) => Some(s),
        _ => None,
    }))
}

/// The footer of a serving-table file from its index region `[index_offset, size)`.
pub async fn read_index_region<S: ObjectStore>(
    store: &S,
    cost: &mut Cost,
    key: &str,
    size: u64,
    index_offset: u64,
) -> Result<FooterRead, LocateError> {
    if index_offset >= size {
        return Err(corrupt(key, "the index offset is past the end of the file"));
    }
    let tail = fetch(store, cost, key, Some((index_offset, size - index_offset))).await?;
    match parquet::parse_footer(&tail, size) {
        Ok(footer) => Ok(FooterRead { footer, tail_start: index_offset, tail }),
        Err(FooterNeeds::More { .. }) => Err(corrupt(key, "the footer starts before the index offset")),
        Err(FooterNeeds::Invalid(e)) => Err(corrupt(key, e.description())),
    }
}

/// [`read_row`] in a file of either [`Layout`].
pub async fn read_row_in<S: ObjectStore>(
    store: &S,
    layout: Layout<'_>,
    found: &Found,
    columns: &[&str],
    cost: &mut Cost,
) -> Result<Vec<Cell>, LocateError> {
    let (fr, cols, paged) = match layout {
        Layout::Table(table) => {
            let fr = read_footer(store, cost, &found.file_key, found.file_size).await?;
            let cols: Vec<Option<usize>> = columns.iter().map(|n| parquet_column(&fr.footer, table, n)).collect();
            let paged = pages::worth_it(&fr.footer, found.row_group, &cols);
            (fr, cols, paged)
        }
        Layout::Serving { index_offset } => {
            let fr = read_index_region(store, cost, &found.file_key, found.file_size, index_offset).await?;
            let cols: Vec<Option<usize>> = columns.iter().map(|n| fr.footer.column_by_name(n)).collect();
            (fr, cols, true)
        }
    };
    if paged {
        // Repeated columns (`inputs`) have no page-by-page reading: their chunks are read whole,
        // the others one page each (a serving file's `.json` must not read the whole file).
        let repeated = |c: &Option<usize>| c.and_then(|c| fr.footer.chunk(found.row_group, c)).is_some_and(|k| k.max_rep_level > 0);
        let flat: Vec<Option<usize>> = cols.iter().map(|c| if repeated(c) { None } else { *c }).collect();
        let row = found.row as u64;
        let rows = [(row, row.saturating_add(1))];
        if let Some(mut windows) = pages::read_windows(store, cost, &found.file_key, &fr, found.row_group, &flat, &rows).await? {
            let (_, values) = windows.pop().ok_or_else(|| corrupt(&found.file_key, "no window for the row"))?;
            let mut cells: Vec<Cell> = values.iter().map(|c| cell_at(c, 0)).collect();
            let nested: Vec<Option<usize>> = cols.iter().map(|c| if repeated(c) { *c } else { None }).collect();
            if nested.iter().any(Option::is_some) {
                let chunks = read_chunks(store, cost, &found.file_key, &fr.footer, found.row_group, &nested).await?;
                for ((cell, chunk), c) in cells.iter_mut().zip(&chunks).zip(&nested) {
                    if c.is_some() {
                        *cell = cell_at(chunk, found.row);
                    }
                }
            }
            return Ok(cells);
        }
    }
    let values = read_chunks(store, cost, &found.file_key, &fr.footer, found.row_group, &cols).await?;
    Ok(values.iter().map(|c| cell_at(c, found.row)).collect())
}

/// The value of `row` in decoded chunk `c`, by physical kind (`None`: the column is absent).
fn cell_at(c: &Option<ColumnValues>, row: usize) -> Cell {
    match c {
        Some(ColumnValues::ByteArray(_)) => string_at(c, row).map_or(Cell::Null, Cell::Text),
        Some(ColumnValues::Int64(_)) | Some(ColumnValues::Int32(_)) => long_at(c, row).map_or(Cell::Null, Cell::Long),
        Some(ColumnValues::Boolean(_)) => bool_at(c, row).map_or(Cell::Null, Cell::Bool),
        Some(ColumnValues::ByteArrayList(rows)) => match rows.get(row) {
            Some(Some(items)) => Cell::List(items.iter().map(|i| i.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())).collect()),
            _ => Cell::Null,
        },
        None => Cell::Null,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The pyiceberg fixtures as an object store: keys are paths below the fixture warehouse
    /// (also `answer`'s tests).
    pub(crate) struct FsStore(pub(crate) PathBuf);

    impl ObjectStore for FsStore {
        async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
            let bytes = std::fs::read(self.0.join(key)).map_err(|_| StoreError::NotFound)?;
            Ok(match range {
                None => bytes,
                Some((start, len)) => bytes.get(start as usize..(start + len) as usize).ok_or(StoreError::Failed("range".into()))?.to_vec(),
            })
        }
    }

    /// Polls a future that never waits (the filesystem store answers at once).
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(v) => v,
            core::task::Poll::Pending => panic!("the fs store never waits"),
        }
    }

    fn fixtures() -> (PathBuf, serde_json::Value) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg");
        let expected = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
        (root, expected)
    }

    #[test]
    fn finds_every_expected_winner_in_pyiceberg_tables() {
        let (root, expected) = fixtures();
        let prefix = expected["location_prefix"].as_str().unwrap();
        let store = FsStore(root);
        let mut checked = 0;
        for (name, t) in expected["tables"].as_object().unwrap() {
            let meta_key = key_for(t["metadata_location"].as_str().unwrap(), prefix).unwrap();
            let metadata = TableMetadata::from_json(&block_on(store.get(&meta_key, None)).unwrap()).unwrap();
            let table = Table { metadata: &metadata, location_prefix: prefix };
            for (key, w) in t["winners"].as_object().unwrap() {
                let mut parts = key.splitn(3, '/');
                let wanted = Wanted { ns: parts.next().unwrap(), ty: parts.next().unwrap(), id: parts.next().unwrap() };
                let mut cost = Cost::default();
                let found = block_on(locate(&store, &table, wanted, &At::Current, &mut cost))
                    .unwrap()
                    .unwrap_or_else(|| panic!("{name}: {key} not found"));
                let row = &w["row"];
                assert_eq!(found.ts, row["ts"].as_i64().unwrap(), "{name}: {key} ts");
                assert_eq!(found.deleted, row["deleted"].as_bool().unwrap_or(false), "{name}: {key} deleted");
                assert_eq!(found.order.sequence_number, w["sequence_number"].as_i64().unwrap(), "{name}: {key} sequence number");
                assert_eq!(found.content_hash.as_deref(), row["content_hash"].as_str(), "{name}: {key} content_hash");
                assert_eq!(found.visibility.as_deref(), row["visibility"].as_str(), "{name}: {key} visibility");
                // Tables written before contract v2 (no `tags`, no `expires_at` column): none.
                assert_eq!((found.expires_at, found.tags.as_deref()), (row["expires_at"].as_i64(), row["tags"].as_str()), "{name}: {key}");
                let markdown = block_on(read_value(&store, &table, &found, "markdown", &mut cost)).unwrap();
                assert_eq!(markdown.as_deref(), row["markdown"].as_str(), "{name}: {key} markdown");
                assert!(cost.reads >= 3, "metadata is the caller's; list + manifest + footer + chunks at least");

                checked += 1;
            }
            let mut cost = Cost::default();
            let missing = Wanted { ns: "docs", ty: "guide", id: "no-such-artifact" };
            assert_eq!(block_on(locate(&store, &table, missing, &At::Current, &mut cost)).unwrap(), None, "{name}");
        }
        assert!(checked >= 15, "checked {checked} winners");
    }

    #[test]
    fn partition_summaries_prune_manifests_by_identity_ns() {
        let (root, expected) = fixtures();
        let prefix = expected["location_prefix"].as_str().unwrap();
        let t = &expected["tables"]["artifacts.pyi_partitioned"];
        let store = FsStore(root);
        let meta_key = key_for(t["metadata_location"].as_str().unwrap(), prefix).unwrap();
        let metadata = TableMetadata::from_json(&block_on(store.get(&meta_key, None)).unwrap()).unwrap();
        let table = Table { metadata: &metadata, location_prefix: prefix };
        let snap = metadata.current_snapshot().unwrap();
        let list = block_on(store.get(&key_for(&snap.manifest_list, prefix).unwrap(), None)).unwrap();
        let mut mf = manifest::read_manifest_list(&list).unwrap().remove(0);
        let ns_id = metadata.current_schema().unwrap().field_id_by_name("ns");
        let ids = |ns: &'static str| vec![(ns_id, ns.as_bytes())];
        // The real summary of a manifest covers the namespaces its files hold.
        assert!(manifest_may_contain(&table, &mf, &ids("docs")) || manifest_may_contain(&table, &mf, &ids("team@acme.dev")));
        // A summary that covers only "m".."n" rules out "docs" and "x+y" but not "mm".
        mf.partitions[0].lower_bound = Some(b"m".to_vec());
        mf.partitions[0].upper_bound = Some(b"n".to_vec());
        assert!(!manifest_may_contain(&table, &mf, &ids("docs")));
        assert!(!manifest_may_contain(&table, &mf, &ids("x+y")));
        assert!(manifest_may_contain(&table, &mf, &ids("mm")));
    }

    #[test]
    fn time_travel_reads_older_snapshots() {
        let (root, expected) = fixtures();
        let prefix = expected["location_prefix"].as_str().unwrap();
        let t = &expected["tables"]["artifacts.pyi_unpartitioned"];
        let store = FsStore(root);
        let meta_key = key_for(t["metadata_location"].as_str().unwrap(), prefix).unwrap();
        let metadata = TableMetadata::from_json(&block_on(store.get(&meta_key, None)).unwrap()).unwrap();
        let table = Table { metadata: &metadata, location_prefix: prefix };
        let snaps = t["snapshots"].as_array().unwrap();
        let first = &snaps[0];
        let first_ms = first["timestamp_ms"].as_i64().unwrap();
        let find = |key: &str, at: At| {
            let mut parts = key.splitn(3, '/');
            let w = Wanted { ns: parts.next().unwrap(), ty: parts.next().unwrap(), id: parts.next().unwrap() };
            block_on(locate(&store, &table, w, &at, &mut Cost::default())).unwrap()
        };
        let mut checked = 0;
        for (key, w) in t["winners"].as_object().unwrap() {
            let seq = w["sequence_number"].as_i64().unwrap();
            let ts = w["row"]["ts"].as_i64().unwrap();
            // From the commit that wrote the winning row on, every snapshot shows that row.
            for snap in snaps.iter().filter(|s| s["sequence_number"].as_i64().unwrap() >= seq) {
                let id = snap["snapshot_id"].as_i64().unwrap();
                let f = find(key, At::Snapshot(id)).unwrap_or_else(|| panic!("{key} missing at snapshot {id}"));
                assert_eq!((f.ts, f.order.sequence_number), (ts, seq), "{key} at snapshot {id}");
                checked += 1;
            }
            // Before any commit there is nothing; an unknown snapshot shows nothing.
            assert_eq!(find(key, At::Time(first_ms * 1_000 - 1)), None, "{key} before the first commit");
            assert_eq!(find(key, At::Snapshot(42)), None, "{key} at an unknown snapshot");
            // As of the first commit's time, only rows of the first commit can show.
            if let Some(f) = find(key, At::Time(first_ms * 1_000)) {
                assert_eq!(f.order.sequence_number, 1, "{key}");
            }
        }
        assert!(checked > 10, "checked {checked}");
    }

    #[test]
    fn lists_the_newest_row_of_every_artifact_of_a_type() {
        let (root, expected) = fixtures();
        let prefix = expected["location_prefix"].as_str().unwrap();
        for (name, t) in expected["tables"].as_object().unwrap() {
            let store = FsStore(root.clone());
            let meta_key = key_for(t["metadata_location"].as_str().unwrap(), prefix).unwrap();
            let metadata = TableMetadata::from_json(&block_on(store.get(&meta_key, None)).unwrap()).unwrap();
            let table = Table { metadata: &metadata, location_prefix: prefix };
            let winners = t["winners"].as_object().unwrap();
            let mut types: Vec<(&str, &str)> = winners
                .keys()
                .map(|k| {
                    let mut p = k.splitn(3, '/');
                    (p.next().unwrap(), p.next().unwrap())
                })
                .collect();
            types.sort_unstable();
            types.dedup();
            for (ns, ty) in types {
                let listed = block_on(list(&store, &table, ns, ty, &At::Current, &mut Cost::default())).unwrap();
                let expected_ids: Vec<&str> = winners.keys().filter_map(|k| k.strip_prefix(&format!("{ns}/{ty}/"))).collect();
                let got: Vec<&str> = listed.keys().map(String::as_str).collect();
                let mut want = expected_ids.clone();
                want.sort_unstable();
                assert_eq!(got, want, "{name}: {ns}/{ty}");
                for (id, f) in &listed {
                    let w = &winners[&format!("{ns}/{ty}/{id}")];
                    assert_eq!(f.ts, w["row"]["ts"].as_i64().unwrap(), "{name}: {id}");
                    assert_eq!(f.deleted, w["row"]["deleted"].as_bool().unwrap_or(false), "{name}: {id}");
                }
            }
        }
    }

    #[test]
    fn object_errors_name_the_key() {
        let (root, expected) = fixtures();
        let prefix = expected["location_prefix"].as_str().unwrap();
        let t = &expected["tables"]["artifacts.pyi_unpartitioned"];
        let store = FsStore(root);
        let meta_key = key_for(t["metadata_location"].as_str().unwrap(), prefix).unwrap();
        let metadata = TableMetadata::from_json(&block_on(store.get(&meta_key, None)).unwrap()).unwrap();
        // A prefix that maps every location to a missing key.
        let table = Table { metadata: &metadata, location_prefix: "file:///tmp/" };
        let wanted = Wanted { ns: "docs", ty: "guide", id: "x" };
        let err = block_on(locate(&store, &table, wanted, &At::Current, &mut Cost::default())).unwrap_err();
        assert!(
            matches!(&err, LocateError::Store { key, error: StoreError::NotFound } if key.starts_with("artifacts-fixtures-warehouse/")),
            "{err}"
        );
        let table = Table { metadata: &metadata, location_prefix: "s3://elsewhere/" };
        assert!(matches!(
            block_on(locate(&store, &table, wanted, &At::Current, &mut Cost::default())),
            Err(LocateError::OutsideWarehouse(_))
        ));
    }
}

#[cfg(test)]
mod delete_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod page_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod supersedes_tests;
#[cfg(test)]
mod tail_tests;
#[cfg(test)]
pub(crate) mod test_table;
