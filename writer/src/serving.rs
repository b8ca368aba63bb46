//! The serving table's files and commits (issue #15, `docs/design/serving-table.md`).
//!
//! - [`write_serving_file`]: one data file from rows sorted by key: one row group, the record
//!   columns ([`shared::record::COLUMNS`], values copied) plus `_lookup` (100, binary),
//!   `_source` (101, int), `_seq` (102, long) and `_pos` (103, long); `_lookup` pages of at most
//!   [`LOOKUP_PAGE_BYTES`] with exact statistics, other pages of at most [`PAGE_BYTES`], the page
//!   index always, and where it starts ([`ServingFile::index_offset`]).
//! - [`new_serving_table`]: the metadata of a new serving table (schema, sort order 1 on `ns`,
//!   `type`, `id`).
//! - [`commit_serving`]: the next metadata, one manifest listing every live file, and its
//!   manifest list.

use std::collections::BTreeMap;

use serde_json::json;
use shared::iceberg::manifest::{DataContent, DataFile, EntryStatus, ManifestEntry, ManifestError, PartitionSpec};
use shared::iceberg::table_metadata::{
    record_column_type, NestedField, Operation, PartitionSpec as TablePartitionSpec, PrimitiveType, Schema, TableMetadata, Type,
    FORMAT_VERSION,
};
use shared::locate::Cell;
use shared::parquet::ParquetError;
use shared::record::{ColumnType, COLUMNS};
use shared::serving::bloom::Bloom;
use shared::serving::entry::Entry;
use shared::serving::order::Order;
use shared::serving::plan::Keyed;
use shared::serving::root::{FileEntry, SourceState};

use super::commit::{append, data_file, schema_json, Append};
use super::manifest::{summarize, write_manifest, write_manifest_list};
use super::parquet::{write_parquet_with, ColumnData, WriteCodec, WriteColumn, WriteOptions, WrittenFile};

/// `_lookup`: the lookup entry ([`Entry::encode`]).
pub const LOOKUP: &str = "_lookup";
/// Field id of `_lookup`.
pub const LOOKUP_ID: i32 = 100;
/// `_source`: index of the source table in the root's `sources`.
pub const SOURCE: &str = "_source";
/// Field id of `_source`.
pub const SOURCE_ID: i32 = 101;
/// `_seq`: the source row's data sequence number.
pub const SEQ: &str = "_seq";
/// Field id of `_seq`.
pub const SEQ_ID: i32 = 102;
/// `_pos`: the source row's position within its commit.
pub const POS: &str = "_pos";
/// Field id of `_pos`.
pub const POS_ID: i32 = 103;
/// The highest field id of the serving schema.
pub const LAST_SERVING_FIELD_ID: i32 = POS_ID;

/// Most value bytes of a `_lookup` page (about 64–100 rows).
pub const LOOKUP_PAGE_BYTES: usize = 16 * 1024;
/// Most value bytes of any other page (a page holds at least one value).
pub const PAGE_BYTES: usize = 64 * 1024;
/// The declared sort order: `ns`, `type`, `id` ascending.
pub const SORT_ORDER_ID: i32 = 1;

/// The record columns that are required in the serving table: the key and `ts`. The others are
/// optional, because the serving table copies rows of source tables written by other tools and
/// never refuses a value its sources accepted.
const REQUIRED: &[&str] = &["ns", "type", "id", "ts"];

/// One row of a serving file: its lookup entry and the record's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingRow {
    /// The lookup entry (key and order included).
    pub entry: Entry,
    /// The record's values in [`COLUMNS`] order (`Text` for strings, `Long` for longs and
    /// timestamps, `Bool`, `List`; `Null` for none).
    pub cells: Vec<Cell>,
}

impl Keyed for ServingRow {
    fn key(&self) -> &[u8] {
        &self.entry.key
    }
    fn order(&self) -> Order {
        self.entry.order
    }
}

impl ServingRow {
    /// Bytes of its values (what [`shared::serving::plan::split_files`] sizes files by).
    pub fn size(&self) -> u64 {
        let cell = |c: &Cell| match c {
            Cell::Null => 0,
            Cell::Text(s) => s.len(),
            Cell::Long(_) => 8,
            Cell::Bool(_) => 1,
            Cell::List(items) => items.iter().map(|i| i.as_ref().map_or(0, String::len)).sum(),
        };
        let values: usize = self.cells.iter().map(cell).sum();
        (values + self.entry.key.len() + 200) as u64
    }
}

/// A written serving file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingFile {
    /// The file and its Iceberg metrics.
    pub written: WrittenFile,
    /// Where the page indexes start: `[index_offset, size)` is the page index and the footer.
    pub index_offset: u64,
    /// Least key.
    pub min: Vec<u8>,
    /// Greatest key.
    pub max: Vec<u8>,
    /// The bloom filter of its keys ([`Bloom::to_bytes`]), for an L0 file's root entry.
    pub bloom: Vec<u8>,
}

impl ServingFile {
    /// Its `data_file` at `location` (sort order 1).
    pub fn data_file(&self, location: String) -> DataFile {
        let mut f = data_file(location, &self.written, DataContent::Data);
        f.sort_order_id = Some(SORT_ORDER_ID);
        f
    }

    /// Its root entry as bucket key `key` at `level` (L0 files carry the bloom filter).
    pub fn file_entry(&self, key: String, level: u8) -> FileEntry {
        FileEntry {
            key,
            size: self.written.bytes.len() as u64,
            level,
            rows: u64::try_from(self.written.record_count).unwrap_or(0),
            min: self.min.clone(),
            max: self.max.clone(),
            index_offset: self.index_offset,
            merged_through: None,
            bloom: (level == 0).then(|| self.bloom.clone()),
        }
    }
}

/// Writes one serving file from `rows`, sorted by key, one row per key (what
/// [`shared::serving::plan::newest_per_key`] gives), each with one cell per record column.
///
/// Errors: [`ParquetError::InvalidSchema`] for no rows or a row whose cells are not one per
/// column; [`ParquetError::CorruptValues`] for keys out of order or repeated, a cell of the wrong
/// type, a null in a required column, a position past `i64`.
pub fn write_serving_file(rows: &[ServingRow], codec: WriteCodec) -> Result<ServingFile, ParquetError> {
    let (first, last) = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(ParquetError::InvalidSchema),
    };
    if rows.windows(2).any(|w| matches!(w, [a, b] if a.entry.key >= b.entry.key)) {
        return Err(ParquetError::CorruptValues);
    }
    if rows.iter().any(|r| r.cells.len() != COLUMNS.len()) {
        return Err(ParquetError::InvalidSchema);
    }
    let mut columns = Vec::with_capacity(COLUMNS.len() + 4);
    for (i, c) in COLUMNS.iter().enumerate() {
        let cells = rows.iter().map(|r| r.cells.get(i).unwrap_or(&Cell::Null));
        let bad = || ParquetError::CorruptValues;
        let data = match c.ty {
            ColumnType::String => ColumnData::Utf8(
                cells
                    .map(|v| match v {
                        Cell::Null => Ok(None),
                        Cell::Text(s) => Ok(Some(s.clone())),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            ColumnType::TimestampMicros | ColumnType::Long => {
                let values = cells
                    .map(|v| match v {
                        Cell::Null => Ok(None),
                        Cell::Long(x) => Ok(Some(*x)),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?;
                match c.ty {
                    ColumnType::Long => ColumnData::Int64(values),
                    _ => timestamps(c.ty, values),
                }
            }
            ColumnType::Boolean => ColumnData::Boolean(
                cells
                    .map(|v| match v {
                        Cell::Null => Ok(None),
                        Cell::Bool(b) => Ok(Some(*b)),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            ColumnType::StringList { .. } => ColumnData::Utf8List(
                cells
                    .map(|v| match v {
                        Cell::Null => Ok(None),
                        Cell::List(items) => Ok(Some(items.clone())),
                        _ => Err(bad()),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let element_field_id = match c.ty {
            ColumnType::StringList { element_id } => Some(element_id),
            _ => None,
        };
        columns.push(WriteColumn {
            name: c.name.into(),
            field_id: c.field_id,
            required: REQUIRED.contains(&c.name),
            data,
            element_field_id,
        });
    }
    let extra = |name: &str, field_id: i32, data: ColumnData| WriteColumn {
        name: name.into(),
        field_id,
        required: true,
        data,
        element_field_id: None,
    };
    columns.push(extra(LOOKUP, LOOKUP_ID, ColumnData::Binary(rows.iter().map(|r| Some(r.entry.encode())).collect())));
    let sources: Vec<Option<i32>> = rows
        .iter()
        .map(|r| i32::try_from(r.entry.order.source).map(Some).map_err(|_| ParquetError::CorruptValues))
        .collect::<Result<_, _>>()?;
    columns.push(extra(SOURCE, SOURCE_ID, ColumnData::Int32(sources)));
    columns.push(extra(SEQ, SEQ_ID, ColumnData::Int64(rows.iter().map(|r| Some(r.entry.order.seq)).collect())));
    let positions: Vec<Option<i64>> = rows
        .iter()
        .map(|r| i64::try_from(r.entry.order.pos).map(Some).map_err(|_| ParquetError::CorruptValues))
        .collect::<Result<_, _>>()?;
    columns.push(extra(POS, POS_ID, ColumnData::Int64(positions)));

    let options = WriteOptions {
        codec,
        row_group_rows: rows.len(),
        page_bytes: columns.iter().map(|c| (c.field_id, if c.field_id == LOOKUP_ID { LOOKUP_PAGE_BYTES } else { PAGE_BYTES })).collect(),
        exact_statistics: vec![LOOKUP_ID],
        // The page index holds each page's first and last key, not whole cells: a lookup needs
        // only the keys, and the JSON after them would be most of the index region's bytes.
        page_bound_prefix: vec![(LOOKUP_ID, key_prefix)],
    };
    let written = write_parquet_with(&columns, &options)?;
    let bloom = Bloom::from_keys(rows.iter().map(|r| r.entry.key.as_slice())).to_bytes();
    Ok(ServingFile { index_offset: written.page_index_offset, written, min: first.entry.key.clone(), max: last.entry.key.clone(), bloom })
}

/// A `_lookup` cell's key with its terminating 0x00 (the whole cell when it has none).
fn key_prefix(cell: &[u8]) -> usize {
    shared::serving::entry::cell_key(cell).map_or(cell.len(), |k| k.len().saturating_add(1))
}

/// A timestamp column with the Parquet logical type of its Iceberg type in the record schema.
fn timestamps(ty: ColumnType, values: Vec<Option<i64>>) -> ColumnData {
    match record_column_type(ty, false) {
        Type::Primitive(PrimitiveType::Timestamptz) => ColumnData::TimestampMicros(values),
        _ => ColumnData::TimestampNtzMicros(values),
    }
}

/// The serving table's schema (id 0): every record column (ids 1–26; the key and `ts`
/// required, the rest optional), then `_lookup`, `_source`, `_seq`, `_pos`.
pub fn serving_schema() -> Schema {
    let mut fields: Vec<NestedField> = COLUMNS
        .iter()
        .map(|c| NestedField {
            id: c.field_id,
            name: c.name.into(),
            required: REQUIRED.contains(&c.name),
            field_type: record_column_type(c.ty, false),
            doc: None,
        })
        .collect();
    let extra = |id: i32, name: &str, t: PrimitiveType| NestedField {
        id,
        name: name.into(),
        required: true,
        field_type: Type::Primitive(t),
        doc: None,
    };
    fields.push(extra(LOOKUP_ID, LOOKUP, PrimitiveType::Binary));
    fields.push(extra(SOURCE_ID, SOURCE, PrimitiveType::Int));
    fields.push(extra(SEQ_ID, SEQ, PrimitiveType::Long));
    fields.push(extra(POS_ID, POS, PrimitiveType::Long));
    Schema { schema_id: 0, identifier_field_ids: Vec::new(), fields }
}

/// A new, empty serving table at `location`: [`serving_schema`], unpartitioned, sort order 1
/// (`ns`, `type`, `id` ascending) the default, no snapshots.
pub fn new_serving_table(table_uuid: String, location: String, now_ms: i64) -> TableMetadata {
    let sort_field = |id: i32| json!({"transform": "identity", "source-id": id, "direction": "asc", "null-order": "nulls-first"});
    TableMetadata {
        format_version: FORMAT_VERSION,
        table_uuid,
        location,
        last_sequence_number: 0,
        last_updated_ms: now_ms,
        last_column_id: LAST_SERVING_FIELD_ID,
        schemas: vec![serving_schema()],
        current_schema_id: 0,
        partition_specs: vec![TablePartitionSpec { spec_id: 0, fields: Vec::new() }],
        default_spec_id: 0,
        last_partition_id: 999,
        properties: BTreeMap::new(),
        current_snapshot_id: None,
        snapshots: Vec::new(),
        snapshot_log: Vec::new(),
        metadata_log: Vec::new(),
        sort_orders: vec![
            json!({"order-id": 0, "fields": []}),
            json!({"order-id": SORT_ORDER_ID, "fields": [sort_field(1), sort_field(2), sort_field(3)]}),
        ],
        default_sort_order_id: SORT_ORDER_ID,
        refs: BTreeMap::new(),
        statistics: Vec::new(),
        partition_statistics: Vec::new(),
    }
}

/// One commit of the serving table.
#[derive(Debug, Clone)]
pub struct ServingCommit {
    /// The new snapshot's id.
    pub snapshot_id: i64,
    /// The entries of the current snapshot's manifest as read (ADDED or EXISTING, sequence
    /// numbers inherited; DELETED entries are ignored); empty for the first commit.
    pub previous: Vec<ManifestEntry>,
    /// Files this commit adds.
    pub added: Vec<DataFile>,
    /// Paths (`file_path`) of previous files that are no longer live.
    pub removed: Vec<String>,
    /// The sources and their watermarks (the root's `sources`), into the summary.
    pub sources: Vec<SourceState>,
    /// Where the manifest goes.
    pub manifest_location: String,
    /// Where the manifest list goes.
    pub manifest_list_location: String,
    /// Commit time.
    pub now_ms: i64,
    /// Location of the metadata file being replaced, for the metadata log.
    pub previous_location: Option<String>,
    /// More summary properties (`serving.version`, …); the counts and watermarks are set here.
    pub properties: BTreeMap<String, String>,
}

/// What a serving commit writes: the next metadata, the manifest and the manifest list (the
/// caller stores them create-only, then the metadata, then moves the pointer).
#[derive(Debug, Clone)]
pub struct ServingCommitted {
    /// The next `vN.metadata.json`.
    pub metadata: TableMetadata,
    /// The one manifest: every live file (previous ones EXISTING, new ones ADDED).
    pub manifest: Vec<u8>,
    /// The manifest list naming it.
    pub manifest_list: Vec<u8>,
}

/// The summary key of source `i`'s watermark (its last absorbed snapshot id; empty: none yet).
pub fn watermark_key(i: usize) -> String {
    format!("serving.watermark.{i}")
}

/// The next metadata of the serving table `prev`: one snapshot whose one manifest lists every
/// live file (the previous snapshot's minus `removed`, plus `added`); operation `append` when
/// nothing was removed, `overwrite` otherwise; the summary's totals are the live files', and it
/// carries `serving.watermark.<i>` (the snapshot id, empty when none) and `serving.source.<i>`
/// (the source table) for every source.
pub fn commit_serving(prev: &TableMetadata, c: ServingCommit) -> Result<ServingCommitted, ManifestError> {
    let seq = prev.last_sequence_number.saturating_add(1);
    let mut entries: Vec<ManifestEntry> = c
        .previous
        .into_iter()
        .filter(|e| e.status != EntryStatus::Deleted && !c.removed.contains(&e.data_file.file_path))
        .map(|e| ManifestEntry {
            status: EntryStatus::Existing,
            sequence_number: e.sequence_number.or(Some(0)),
            file_sequence_number: e.file_sequence_number.or(e.sequence_number).or(Some(0)),
            ..e
        })
        .collect();
    let removed_files = c.removed.len() as i64;
    let (added_files, added_rows, added_bytes) =
        c.added.iter().fold((0i64, 0i64, 0i64), |(n, r, b), f| (n + 1, r + f.record_count, b + f.file_size_in_bytes));
    entries.extend(c.added.into_iter().map(|data_file| ManifestEntry {
        status: EntryStatus::Added,
        snapshot_id: c.snapshot_id,
        sequence_number: None,
        file_sequence_number: None,
        data_file,
    }));
    let spec = PartitionSpec::unpartitioned();
    let manifest = write_manifest(&entries, &spec, &schema_json(prev), 0)?;
    let list_entry = summarize(c.manifest_location, manifest.len() as i64, &spec, c.snapshot_id, seq, &entries)?;
    let parent = prev.current_snapshot().map(|s| s.snapshot_id);
    let manifest_list = write_manifest_list(&[list_entry], c.snapshot_id, parent, seq)?;

    let mut properties = c.properties;
    for (i, s) in c.sources.iter().enumerate() {
        properties.insert(watermark_key(i), s.snapshot_id.map_or_else(String::new, |id| id.to_string()));
        properties.insert(format!("serving.source.{i}"), s.id.clone());
    }
    if removed_files > 0 {
        properties.insert("deleted-data-files".into(), removed_files.to_string());
    }
    let operation = if removed_files > 0 { Operation::Overwrite } else { Operation::Append };
    let mut metadata = append(
        prev,
        Append {
            snapshot_id: c.snapshot_id,
            manifest_list: c.manifest_list_location,
            operation,
            data_files: added_files,
            records: added_rows,
            file_size: added_bytes,
            properties,
            now_ms: c.now_ms,
            previous_location: c.previous_location,
        },
    );
    // The totals are the live files' (append adds to the parent's, which a rewrite overcounts).
    let live = |f: fn(&DataFile) -> i64| entries.iter().map(|e| f(&e.data_file)).sum::<i64>().to_string();
    if let Some(s) = metadata.snapshots.last_mut() {
        s.summary.properties.insert("total-data-files".into(), entries.len().to_string());
        s.summary.properties.insert("total-records".into(), live(|f| f.record_count));
        s.summary.properties.insert("total-files-size".into(), live(|f| f.file_size_in_bytes));
    }
    Ok(ServingCommitted { metadata, manifest, manifest_list })
}
