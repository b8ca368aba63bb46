//! Binpack compaction, as R2 Data Catalog's own compaction does it: small data files rewritten
//! into `compacted-<id>.parquet` files under one `replace` snapshot, the manifests that named
//! them rewritten. Pure: the caller reads the manifests and data files and stores what comes out.
//!
//! 1. [`live_files`]: every live file of the current snapshot, with where it sits (manifest
//!    slot, entry index) and its sequence numbers.
//! 2. [`plan_binpack`]: which small files go together ([`Bin`]s), chosen so that no answer of
//!    the table can change (see [`plan_binpack`] for the rule and why).
//! 3. [`read_columns`] + [`write_bin`]: every column of each file of a bin (by the table schema),
//!    concatenated oldest file first in file order, written as one Parquet file of one row group.
//! 4. [`commit_replace`]: the rewritten manifests, the new manifest, the manifest list and the
//!    next metadata (a `replace` snapshot) — every object as (location, bytes) to put create-only
//!    before the metadata.
//!
//! A table with delete files is refused: applying position or equality deletes while rewriting is
//! not what the stand-in's tables need (they are append-only), and carrying them over unapplied
//! would change which rows they delete.

use std::collections::BTreeMap;

use shared::iceberg::manifest::{
    DataContent, DataFile, EntryStatus, FileFormat, Manifest, ManifestEntry, ManifestFile, PartitionField as ManifestField,
    PartitionSpec as ManifestSpec, PartitionType,
};
use shared::iceberg::table_metadata::{
    ListType, MetadataLogEntry, Operation, PrimitiveType, RefType, Schema, Snapshot, SnapshotLogEntry, SnapshotRef, Summary, TableMetadata,
    Transform, Type, MAIN_BRANCH,
};
use shared::parquet::{self, ColumnValues, DecodeLimits, Footer, FooterNeeds};

use super::commit::{data_file, schema_json};
use super::manifest::{summarize, write_manifest, write_manifest_list};
use super::parquet::{write_parquet, ColumnData, WriteCodec, WriteColumn, WrittenFile};

/// Most rows one compacted file takes: the locator orders rows of a file by their index in 24
/// bits (`shared::locate`), so a file must not hold more.
pub const MAX_FILE_ROWS: i64 = 0xFF_FFFF;

/// Prefix of the files [`write_bin`] output is stored as (R2 Data Catalog names its own so).
pub const COMPACTED_PREFIX: &str = "compacted-";

/// One live file of the current snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFile {
    /// Index of its manifest in the manifest list.
    pub manifest: usize,
    /// Index of its entry in that manifest.
    pub entry: usize,
    /// Its data sequence number (what orders rows across commits).
    pub sequence_number: i64,
    /// The sequence number of the snapshot that added it.
    pub file_sequence_number: i64,
    /// The snapshot that added it.
    pub snapshot_id: i64,
    /// Its manifest's partition spec id.
    pub spec_id: i32,
    /// The file.
    pub data_file: DataFile,
}

/// Every live (ADDED or EXISTING) entry of `manifests` (parsed in the order of `list`, one per
/// entry), in list and entry order. An entry without sequence numbers (a v2 file breaking the
/// spec) takes its manifest's.
pub fn live_files(list: &[ManifestFile], manifests: &[Manifest]) -> Vec<LiveFile> {
    let mut out = Vec::new();
    for (m, (mf, manifest)) in list.iter().zip(manifests).enumerate() {
        for (e, entry) in manifest.entries.iter().enumerate() {
            if entry.status == EntryStatus::Deleted {
                continue;
            }
            out.push(LiveFile {
                manifest: m,
                entry: e,
                sequence_number: entry.sequence_number.unwrap_or(mf.sequence_number),
                file_sequence_number: entry.file_sequence_number.or(entry.sequence_number).unwrap_or(mf.sequence_number),
                snapshot_id: entry.snapshot_id,
                spec_id: mf.partition_spec_id,
                data_file: entry.data_file.clone(),
            });
        }
    }
    out
}

/// What [`plan_binpack`] takes as small and how much goes into one output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binpack {
    /// Input bytes (files' `file_size_in_bytes`) one output file is filled to.
    pub target_bytes: i64,
    /// Files smaller than this are rewritten (Iceberg's `min-file-size-bytes`).
    pub small_bytes: i64,
}

impl Binpack {
    /// `target_bytes`, small below three quarters of it (Iceberg's default ratio).
    pub fn new(target_bytes: i64) -> Self {
        let target_bytes = target_bytes.max(1);
        Binpack { target_bytes, small_bytes: (target_bytes / 4).saturating_mul(3).max(1) }
    }
}

/// Files rewritten into one output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bin {
    /// Indexes into the [`live_files`] the plan was made from, oldest first: by data sequence
    /// number, then manifest slot, then entry (the locator's order of rows across files).
    pub files: Vec<usize>,
    /// The output file's data sequence number: the greatest of its inputs'.
    pub sequence_number: i64,
}

/// A partition: spec id and the tuple (its debug form: values have no `Ord`).
type PartitionKey = (i32, String);

/// The bins of one binpack over `live`, in output order.
///
/// Which files: data files (Parquet) below `small_bytes`, in runs of whole commits. Readers order
/// versions of a key by `ts`, then the data sequence number, then the position of the row
/// (manifest slot, entry, row). Every output file gets the greatest data sequence number of its
/// inputs (written explicitly in its ADDED entry; its file sequence number is the replace
/// snapshot's) and holds its inputs' rows oldest file first, rows in file order, in one row
/// group; the bins of a run are consecutive and written in order into one manifest. So, for
/// rows of one run, the new order (sequence number, then file, then row) is the old one. A run is
/// taken only when every live file whose data sequence number lies within the run's range is in
/// it (all of each commit, one partition), so every other file's sequence number is below or
/// above every rewritten row's old *and* new number: no comparison with an outside row changes.
/// Hence no answer can change. (Iceberg Java's RewriteDataFiles gives the starting snapshot's
/// number instead; that would lift old rows above newer outside files, which is why not here.)
///
/// The readers count a row by its index in its file (the locator's position, the serving table's
/// `_pos`), never in its row group, so writing the rows into other row groups changes no order.
///
/// A run of fewer than two files is left alone; a bin is closed once it reaches `target_bytes`
/// or [`MAX_FILE_ROWS`], and a last bin of one file joins the one before it.
pub fn plan_binpack(live: &[LiveFile], opts: &Binpack) -> Result<Vec<Bin>, String> {
    if live.iter().any(|f| f.data_file.content != DataContent::Data) {
        return Err("the table has delete files; binpack does not apply them".into());
    }
    let mut order: Vec<usize> = (0..live.len()).collect();
    order.sort_by_key(|&i| live.get(i).map(|f| (f.sequence_number, f.manifest, f.entry)));
    let small = |f: &LiveFile| f.data_file.file_format == FileFormat::Parquet && f.data_file.file_size_in_bytes < opts.small_bytes;
    let partition = |f: &LiveFile| (f.spec_id, format!("{:?}", f.data_file.partition));
    // Whole commits (one data sequence number each), in order: (files, their common partition
    // when every file is small and in one partition).
    let mut commits: Vec<(Vec<usize>, Option<PartitionKey>)> = Vec::new();
    for i in order {
        let Some(f) = live.get(i) else { continue };
        let same = commits
            .last()
            .and_then(|(files, _)| files.first())
            .and_then(|&j| live.get(j))
            .is_some_and(|g| g.sequence_number == f.sequence_number);
        if !same {
            commits.push((Vec::new(), small(f).then(|| partition(f))));
        }
        if let Some((files, part)) = commits.last_mut() {
            if part.as_ref().is_some_and(|p| !small(f) || *p != partition(f)) {
                *part = None;
            }
            files.push(i);
        }
    }
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<PartitionKey> = None;
    for (files, part) in commits {
        match part {
            None => last = None,
            Some(p) => {
                if last.as_ref() != Some(&p) {
                    runs.push(Vec::new());
                }
                if let Some(run) = runs.last_mut() {
                    run.extend(files);
                }
                last = Some(p);
            }
        }
    }
    let mut bins = Vec::new();
    for run in runs.into_iter().filter(|r| r.len() >= 2) {
        let mut run_bins: Vec<Vec<usize>> = Vec::new();
        let (mut bytes, mut rows) = (0i64, 0i64);
        for i in run {
            let Some(f) = live.get(i) else { continue };
            let full = bytes >= opts.target_bytes || rows.saturating_add(f.data_file.record_count) > MAX_FILE_ROWS;
            if run_bins.is_empty() || full {
                run_bins.push(Vec::new());
                (bytes, rows) = (0, 0);
            }
            if let Some(bin) = run_bins.last_mut() {
                bin.push(i);
            }
            bytes = bytes.saturating_add(f.data_file.file_size_in_bytes);
            rows = rows.saturating_add(f.data_file.record_count);
        }
        if run_bins.len() >= 2 && run_bins.last().is_some_and(|b| b.len() == 1) {
            if let Some(lone) = run_bins.pop() {
                if let Some(prev) = run_bins.last_mut() {
                    prev.extend(lone);
                }
            }
        }
        for files in run_bins {
            let sequence_number = files.iter().filter_map(|&i| live.get(i)).map(|f| f.sequence_number).max().unwrap_or(0);
            bins.push(Bin { files, sequence_number });
        }
    }
    Ok(bins)
}

/// Parses the footer of a whole Parquet file.
fn footer(bytes: &[u8]) -> Result<Footer, String> {
    match parquet::parse_footer(bytes, bytes.len() as u64) {
        Ok(f) => Ok(f),
        Err(FooterNeeds::Invalid(e)) => Err(e.description().to_string()),
        Err(FooterNeeds::More { .. }) => Err("the footer lies outside the file".into()),
    }
}

/// The Parquet leaf of top-level field `field`: by its field id (a list's leaf by its top-level
/// id), then by name.
fn leaf(footer: &Footer, field: &shared::iceberg::table_metadata::NestedField) -> Option<usize> {
    footer
        .column_by_field_id(field.id)
        .or_else(|| footer.columns.iter().position(|c| c.top_field_id == Some(field.id)))
        .or_else(|| footer.column_by_name(&field.name))
}

/// An empty column of the writer's type for an Iceberg type; `Err` for types the writer does not
/// write.
fn empty_data(ty: &Type, name: &str) -> Result<(ColumnData, Option<i32>), String> {
    Ok(match ty {
        Type::Primitive(PrimitiveType::String) => (ColumnData::Utf8(Vec::new()), None),
        Type::Primitive(PrimitiveType::Binary) => (ColumnData::Binary(Vec::new()), None),
        Type::Primitive(PrimitiveType::Long) => (ColumnData::Int64(Vec::new()), None),
        Type::Primitive(PrimitiveType::Int) => (ColumnData::Int32(Vec::new()), None),
        Type::Primitive(PrimitiveType::Boolean) => (ColumnData::Boolean(Vec::new()), None),
        Type::Primitive(PrimitiveType::Timestamp) => (ColumnData::TimestampNtzMicros(Vec::new()), None),
        Type::Primitive(PrimitiveType::Timestamptz) => (ColumnData::TimestampMicros(Vec::new()), None),
        Type::List(ListType { element_id, element, .. }) if **element == Type::Primitive(PrimitiveType::String) => {
            (ColumnData::Utf8List(Vec::new()), Some(*element_id))
        }
        _ => return Err(format!("column {name}: its type is not one the stand-in's writer writes")),
    })
}

fn utf8(b: Vec<u8>, name: &str) -> Result<String, String> {
    String::from_utf8(b).map_err(|_| format!("column {name}: a string value is not UTF-8"))
}

/// Appends decoded `values` (or `rows` nulls when the file lacks the column) to `into`.
fn append(into: &mut ColumnData, values: Option<ColumnValues>, rows: usize, name: &str) -> Result<(), String> {
    let mismatch = || format!("column {name}: the file's physical type does not match the table's type");
    match (into, values) {
        (ColumnData::Utf8(v), None) => v.extend((0..rows).map(|_| None)),
        (ColumnData::Binary(v), None) => v.extend((0..rows).map(|_| None)),
        (ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v), None) => {
            v.extend((0..rows).map(|_| None))
        }
        (ColumnData::Int32(v), None) => v.extend((0..rows).map(|_| None)),
        (ColumnData::Boolean(v), None) => v.extend((0..rows).map(|_| None)),
        (ColumnData::Utf8List(v), None) => v.extend((0..rows).map(|_| None)),
        (ColumnData::Utf8(v), Some(ColumnValues::ByteArray(x))) => {
            for b in x {
                v.push(b.map(|b| utf8(b, name)).transpose()?);
            }
        }
        (ColumnData::Binary(v), Some(ColumnValues::ByteArray(x))) => v.extend(x),
        (ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v), Some(ColumnValues::Int64(x))) => {
            v.extend(x)
        }
        // A column promoted from int to long keeps its INT32 files.
        (ColumnData::Int64(v), Some(ColumnValues::Int32(x))) => v.extend(x.into_iter().map(|n| n.map(i64::from))),
        (ColumnData::Int32(v), Some(ColumnValues::Int32(x))) => v.extend(x),
        (ColumnData::Boolean(v), Some(ColumnValues::Boolean(x))) => v.extend(x),
        (ColumnData::Utf8List(v), Some(ColumnValues::ByteArrayList(x))) => {
            for list in x {
                v.push(match list {
                    None => None,
                    Some(items) => Some(items.into_iter().map(|i| i.map(|b| utf8(b, name)).transpose()).collect::<Result<Vec<_>, _>>()?),
                });
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// Every column of the table schema `schema` from one whole Parquet data file, rows in file
/// order (row groups in order): columns found by field id, then by name; a column the file lacks
/// (added to the schema later) reads as nulls. Types: string, binary, int, long, boolean,
/// timestamp, timestamptz and list<string> — what the writer writes.
pub fn read_columns(bytes: &[u8], schema: &Schema) -> Result<Vec<WriteColumn>, String> {
    let footer = footer(bytes)?;
    let mut out = Vec::with_capacity(schema.fields.len());
    for field in &schema.fields {
        let (mut data, element_field_id) = empty_data(&field.field_type, &field.name)?;
        let at = leaf(&footer, field);
        for (rg, info) in footer.row_groups.iter().enumerate() {
            let rows = usize::try_from(info.num_rows).map_err(|_| "a row count does not fit".to_string())?;
            let values = match at {
                None => None,
                Some(l) => {
                    let meta = footer.chunk(rg, l).ok_or_else(|| format!("column {}: a chunk is missing", field.name))?;
                    let chunk =
                        parquet::slice_within(0, bytes, meta.range()).ok_or_else(|| format!("column {}: outside the file", field.name))?;
                    let v = parquet::decode_column_chunk(chunk, meta, DecodeLimits::default())
                        .map_err(|e| format!("column {}: {}", field.name, e.description()))?;
                    if v.len() != rows {
                        return Err(format!("column {}: {} values in a row group of {rows} rows", field.name, v.len()));
                    }
                    Some(v)
                }
            };
            if values.is_none() && field.required {
                return Err(format!("column {}: required but missing from the file", field.name));
            }
            append(&mut data, values, rows, &field.name)?;
        }
        out.push(WriteColumn { name: field.name.clone(), field_id: field.id, required: field.required, data, element_field_id });
    }
    Ok(out)
}

/// Appends `more`'s rows to `into` (same columns, in the same order).
fn concat(into: &mut [WriteColumn], more: Vec<WriteColumn>) -> Result<(), String> {
    if into.len() != more.len() {
        return Err("files of one bin have different columns".into());
    }
    for (a, b) in into.iter_mut().zip(more) {
        match (&mut a.data, b.data) {
            (ColumnData::Utf8(x), ColumnData::Utf8(y)) => x.extend(y),
            (ColumnData::Binary(x), ColumnData::Binary(y)) => x.extend(y),
            (ColumnData::Int64(x), ColumnData::Int64(y)) => x.extend(y),
            (ColumnData::Int32(x), ColumnData::Int32(y)) => x.extend(y),
            (ColumnData::Boolean(x), ColumnData::Boolean(y)) => x.extend(y),
            (ColumnData::TimestampMicros(x), ColumnData::TimestampMicros(y)) => x.extend(y),
            (ColumnData::TimestampNtzMicros(x), ColumnData::TimestampNtzMicros(y)) => x.extend(y),
            (ColumnData::Utf8List(x), ColumnData::Utf8List(y)) => x.extend(y),
            _ => return Err(format!("column {}: files of one bin disagree on its type", a.name)),
        }
    }
    Ok(())
}

/// The compacted file of one bin: `files` (each input's whole bytes, in the bin's order) read by
/// the table schema and written as one Parquet file of one row group, so the locator's row index
/// is the row's place in the file (see [`plan_binpack`]).
pub fn write_bin(files: &[&[u8]], schema: &Schema, codec: WriteCodec) -> Result<WrittenFile, String> {
    let mut columns: Option<Vec<WriteColumn>> = None;
    for bytes in files {
        let cols = read_columns(bytes, schema)?;
        match columns.as_mut() {
            None => columns = Some(cols),
            Some(c) => concat(c, cols)?,
        }
    }
    let columns = columns.ok_or("a bin without files")?;
    let rows = columns.first().map_or(0, |c| c.data.len());
    if i64::try_from(rows).unwrap_or(i64::MAX) > MAX_FILE_ROWS {
        return Err(format!("a bin of {rows} rows is over {MAX_FILE_ROWS}"));
    }
    write_parquet(&columns, codec, rows.max(1)).map_err(|e| e.to_string())
}

/// The manifest partition spec of the table's spec `spec_id` (identity and time transforms).
pub fn manifest_spec(meta: &TableMetadata, spec_id: i32) -> Result<ManifestSpec, String> {
    let spec = meta.partition_spec_by_id(spec_id).ok_or_else(|| format!("partition spec {spec_id} is not in the table"))?;
    let schema = meta.current_schema().ok_or("the table has no current schema")?;
    let mut fields = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        let source = schema.field_by_id(f.source_id).map(|s| &s.field_type);
        let ty = match (&f.transform, source) {
            (Transform::Day, _) => PartitionType::Date,
            (Transform::Year | Transform::Month | Transform::Hour, _) => PartitionType::Int,
            (Transform::Identity | Transform::Void, Some(Type::Primitive(p))) => match p {
                PrimitiveType::Boolean => PartitionType::Boolean,
                PrimitiveType::Int => PartitionType::Int,
                PrimitiveType::Long => PartitionType::Long,
                PrimitiveType::Float => PartitionType::Float,
                PrimitiveType::Double => PartitionType::Double,
                PrimitiveType::Date => PartitionType::Date,
                PrimitiveType::Timestamp => PartitionType::Timestamp,
                PrimitiveType::Timestamptz => PartitionType::Timestamptz,
                PrimitiveType::String => PartitionType::String,
                PrimitiveType::Binary => PartitionType::Binary,
                _ => return Err(format!("partition field {}: source type not supported", f.name)),
            },
            _ => return Err(format!("partition field {}: transform not supported", f.name)),
        };
        fields.push(ManifestField {
            source_id: f.source_id,
            field_id: f.field_id,
            name: f.name.clone(),
            transform: f.transform.clone(),
            ty,
        });
    }
    Ok(ManifestSpec { spec_id, fields })
}

/// A written compacted file of one bin, to commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    /// The bin it was written from.
    pub bin: Bin,
    /// Its `data_file`: location, size, metrics; the partition is the inputs'.
    pub data_file: DataFile,
}

impl Compacted {
    /// The `data_file` of `written` stored at `location` for `bin` of `live`.
    pub fn new(bin: Bin, location: String, written: &WrittenFile, live: &[LiveFile]) -> Self {
        let mut file = data_file(location, written, DataContent::Data);
        file.partition = bin.files.first().and_then(|&i| live.get(i)).map(|f| f.data_file.partition.clone()).unwrap_or_default();
        Compacted { bin, data_file: file }
    }
}

/// Where a compacted file of the input `first` goes: its directory (so its partition's) and
/// `compacted-<nonce>.parquet`.
pub fn compacted_location(first: &str, nonce: &str) -> String {
    let dir = first.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/{COMPACTED_PREFIX}{nonce}.parquet")
}

/// What a replace commit reads.
pub struct ReplaceInput<'a> {
    /// The current metadata.
    pub metadata: &'a TableMetadata,
    /// Its location, for the metadata log.
    pub metadata_location: &'a str,
    /// The current snapshot's manifest list.
    pub list: &'a [ManifestFile],
    /// Its manifests, parsed, in list order.
    pub manifests: &'a [Manifest],
    /// New snapshot id.
    pub snapshot_id: i64,
    /// Unique within the table: names the new manifests and manifest list.
    pub nonce: &'a str,
    /// Commit time.
    pub now_ms: i64,
}

/// A replace commit: objects to put (create-only) before the metadata, then the metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// (location, bytes) of each new manifest and the manifest list.
    pub objects: Vec<(String, Vec<u8>)>,
    /// The next metadata: a `replace` snapshot made current on `main`.
    pub metadata: TableMetadata,
}

fn size_of(files: &[&DataFile]) -> (i64, i64, i64) {
    let n = i64::try_from(files.len()).unwrap_or(i64::MAX);
    (n, files.iter().map(|f| f.record_count).sum(), files.iter().map(|f| f.file_size_in_bytes).sum())
}

/// The replace snapshot of `compacted` over `input` (`live` is [`live_files`] of it).
///
/// Manifests: one that names no rewritten file is kept as it is (same slot); one that does is
/// rewritten in its slot with its other live entries as EXISTING (sequence numbers and snapshot
/// ids kept), or dropped when none are left; one new manifest at the end holds the compacted
/// files ADDED (explicit data sequence numbers, see [`plan_binpack`]) and every rewritten file
/// DELETED. Slots and entries keep their relative order, so positions of untouched files keep
/// theirs. Summary: added/deleted files, records and bytes; totals carried over.
pub fn commit_replace(input: &ReplaceInput<'_>, live: &[LiveFile], compacted: &[Compacted]) -> Result<Commit, String> {
    let meta = input.metadata;
    let parent = meta.current_snapshot().ok_or("the table has no snapshot")?;
    let seq = meta.last_sequence_number.saturating_add(1);
    let schema = schema_json(meta);
    let location = meta.location.trim_end_matches('/');
    let rewritten: BTreeMap<(usize, usize), &LiveFile> =
        compacted.iter().flat_map(|c| c.bin.files.iter()).filter_map(|&i| live.get(i)).map(|f| ((f.manifest, f.entry), f)).collect();
    if rewritten.is_empty() {
        return Err("nothing to rewrite".into());
    }
    let mut objects = Vec::new();
    let mut files: Vec<ManifestFile> = Vec::new();
    let write = |entries: &[ManifestEntry], spec_id: i32, n: usize, objects: &mut Vec<(String, Vec<u8>)>| -> Result<ManifestFile, String> {
        let spec = manifest_spec(meta, spec_id)?;
        let bytes = write_manifest(entries, &spec, &schema, meta.current_schema_id).map_err(|e| format!("manifest: {e:?}"))?;
        let path = format!("{location}/metadata/{}-m{n}.avro", input.nonce);
        let len = i64::try_from(bytes.len()).map_err(|_| "manifest too large".to_string())?;
        let mf = summarize(path.clone(), len, &spec, input.snapshot_id, seq, entries).map_err(|e| format!("manifest: {e:?}"))?;
        objects.push((path, bytes));
        Ok(mf)
    };
    let mut n = 0usize;
    for (m, (mf, manifest)) in input.list.iter().zip(input.manifests).enumerate() {
        if !rewritten.keys().any(|(mm, _)| *mm == m) {
            files.push(mf.clone());
            continue;
        }
        let kept: Vec<ManifestEntry> = live
            .iter()
            .filter(|f| f.manifest == m && !rewritten.contains_key(&(f.manifest, f.entry)))
            .filter_map(|f| manifest.entries.get(f.entry).map(|e| (f, e)))
            .map(|(f, e)| ManifestEntry {
                status: EntryStatus::Existing,
                snapshot_id: f.snapshot_id,
                sequence_number: Some(f.sequence_number),
                file_sequence_number: Some(f.file_sequence_number),
                data_file: e.data_file.clone(),
            })
            .collect();
        if !kept.is_empty() {
            files.push(write(&kept, mf.partition_spec_id, n, &mut objects)?);
            n += 1;
        }
    }
    // The new manifest: ADDED compacted files, then the rewritten ones DELETED. Every entry of a
    // manifest shares its spec; bins never mix partitions, and specs are checked here.
    let spec_id = rewritten.values().next().map_or(meta.default_spec_id, |f| f.spec_id);
    if rewritten.values().any(|f| f.spec_id != spec_id) {
        return Err("rewritten files of more than one partition spec".into());
    }
    let mut entries: Vec<ManifestEntry> = compacted
        .iter()
        .map(|c| ManifestEntry {
            status: EntryStatus::Added,
            snapshot_id: input.snapshot_id,
            // The greatest data sequence number of its inputs: see `plan_binpack`.
            sequence_number: Some(c.bin.sequence_number),
            file_sequence_number: Some(seq),
            data_file: c.data_file.clone(),
        })
        .collect();
    entries.extend(rewritten.values().map(|f| ManifestEntry {
        status: EntryStatus::Deleted,
        snapshot_id: input.snapshot_id,
        sequence_number: Some(f.sequence_number),
        file_sequence_number: Some(f.file_sequence_number),
        data_file: f.data_file.clone(),
    }));
    files.push(write(&entries, spec_id, n, &mut objects)?);
    let list =
        write_manifest_list(&files, input.snapshot_id, Some(parent.snapshot_id), seq).map_err(|e| format!("manifest list: {e:?}"))?;
    let list_path = format!("{location}/metadata/snap-{}-{}.avro", input.snapshot_id, input.nonce);
    objects.push((list_path.clone(), list));

    let added: Vec<&DataFile> = compacted.iter().map(|c| &c.data_file).collect();
    let deleted: Vec<&DataFile> = rewritten.values().map(|f| &f.data_file).collect();
    let (added_files, added_records, added_size) = size_of(&added);
    let (deleted_files, deleted_records, deleted_size) = size_of(&deleted);
    let total = |key: &str| parent.summary.properties.get(key).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let mut props: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: i64| {
        props.insert(k.to_string(), v.to_string());
    };
    put("added-data-files", added_files);
    put("deleted-data-files", deleted_files);
    put("added-records", added_records);
    put("deleted-records", deleted_records);
    put("added-files-size", added_size);
    put("removed-files-size", deleted_size);
    put("changed-partition-count", 1);
    put("total-data-files", total("total-data-files") - deleted_files + added_files);
    put("total-records", total("total-records") - deleted_records + added_records);
    put("total-files-size", total("total-files-size") - deleted_size + added_size);
    for key in ["total-delete-files", "total-position-deletes", "total-equality-deletes"] {
        put(key, total(key));
    }
    let mut next = meta.clone();
    next.snapshots.push(Snapshot {
        snapshot_id: input.snapshot_id,
        parent_snapshot_id: Some(parent.snapshot_id),
        sequence_number: seq,
        timestamp_ms: input.now_ms,
        manifest_list: list_path,
        summary: Summary { operation: Operation::Replace, properties: props },
        schema_id: Some(meta.current_schema_id),
    });
    next.metadata_log.push(MetadataLogEntry { metadata_file: input.metadata_location.to_string(), timestamp_ms: meta.last_updated_ms });
    next.snapshot_log.push(SnapshotLogEntry { snapshot_id: input.snapshot_id, timestamp_ms: input.now_ms });
    next.current_snapshot_id = Some(input.snapshot_id);
    let main = next.refs.get(MAIN_BRANCH).cloned();
    next.refs.insert(
        MAIN_BRANCH.into(),
        SnapshotRef {
            snapshot_id: input.snapshot_id,
            ref_type: RefType::Branch,
            min_snapshots_to_keep: main.as_ref().and_then(|r| r.min_snapshots_to_keep),
            max_snapshot_age_ms: main.as_ref().and_then(|r| r.max_snapshot_age_ms),
            max_ref_age_ms: main.as_ref().and_then(|r| r.max_ref_age_ms),
        },
    );
    next.last_sequence_number = seq;
    next.last_updated_ms = input.now_ms.max(meta.last_updated_ms);
    next.validate().map_err(|e| e.description().to_string())?;
    Ok(Commit { objects, metadata: next })
}
