//! Writing small Parquet files: the local stand-in's data files, and the Iceberg metrics its
//! manifests need.
//!
//! [`write_parquet`] takes whole columns ([`WriteColumn`]) and returns the file bytes with the
//! per-column metrics of an Iceberg `data_file` ([`WrittenFile`]). The file is what arrow-rs and
//! pyiceberg write for the same schema, kept simple:
//!
//! - `PAR1`, then row groups of up to `row_group_rows` rows, then the footer (`FileMetaData`,
//!   thrift compact protocol, parquet-format-safe's writer), its length and `PAR1`.
//! - Data pages v1, values PLAIN, levels in the RLE / bit-packed hybrid (RLE runs only) with
//!   their 4-byte length prefix; one page per column chunk unless its values pass
//!   [`PAGE_VALUE_BYTES`] or its rows [`PAGE_ROWS`], then pages split at row boundaries. No
//!   dictionary, no CRC. [`write_parquet_with`] takes [`WriteOptions`]: per-column page limits
//!   (at most so many value bytes a page) and exact statistics (never left out for length; the
//!   serving table's `_lookup` column), and every [`WrittenFile`] says where its page indexes
//!   start (`page_index_offset`).
//! - A page index, as arrow-rs writes it (so Pipelines): after the last row group, every chunk's
//!   column index (per-page min/max/null pages, for flat columns whose page bounds fit
//!   [`MAX_STATISTICS_BYTES`]), then every chunk's offset index (page offsets, sizes, first rows).
//! - The schema carries every Iceberg field id as the Parquet `field_id`. Strings are
//!   `BYTE_ARRAY` with `STRING` (converted `UTF8`), timestamps `INT64` with
//!   `TIMESTAMP(isAdjustedToUTC=true, MICROS)` for `timestamptz` and
//!   `TIMESTAMP(isAdjustedToUTC=false, MICROS)` for `timestamp` (both converted
//!   `TIMESTAMP_MICROS`, as arrow-rs writes them), lists the standard
//!   3-level `LIST`: `<name> (LIST)` → `repeated group list` → `optional element` (the element
//!   takes [`WriteColumn::element_field_id`]; the middle group has no field id, as pyiceberg
//!   writes it).
//! - Column chunk statistics: `null_count`, and `min_value` / `max_value` (with the deprecated
//!   `min` / `max` for INT64 and BOOLEAN, whose order is signed): bytewise for strings, left out
//!   when either is longer than [`MAX_STATISTICS_BYTES`] (as parquet-mr and arrow C++ drop large
//!   statistics) so 200 KB documents do not end up in the footer. `column_orders` says
//!   TYPE_ORDER for every leaf.
//! - Codecs, pure Rust (the stand-in runs as a wasm worker): snappy (`snap`), gzip (one gzip
//!   member: `miniz_oxide` deflate, `crc32fast`), zstd (`ruzstd`'s encoder at its `Fastest`
//!   level, one frame, 128 KiB window), LZ4_RAW (`lz4_flex`'s safe block encoder: one raw LZ4
//!   block per page, no framing).
//!
//! Iceberg metrics are keyed by the leaf's field id (the element id for a list, as Java and
//! pyiceberg key them): `column_sizes` (compressed bytes, headers included), `value_counts`
//! (level entries: rows for flat columns; elements plus null and empty lists for a list),
//! `null_value_counts` (entries without a value: null rows, null and empty lists, null elements),
//! and bounds in the single-value serialization over every non-null value of the file (strings:
//! UTF-8, truncated to [`STRING_BOUND_CHARS`] characters by [`truncate_lower_bound`] and
//! [`truncate_upper_bound`]; longs and timestamps: 8 bytes little-endian; booleans: 1 byte).
//!
//! Everything happens in memory: the caller holds all values, and the output is built as one
//! `Vec`. Row groups are cut by row count only (`row_group_rows`).

use core::ops::Range;

use parquet_format_safe as pf;
use parquet_format_safe::thrift::protocol::TCompactOutputProtocol;

use shared::parquet::ParquetError;

/// `created_by` of every file written here.
pub const CREATED_BY: &str = "artifact-store standin";

/// Characters (code points) string bounds are truncated to: Iceberg's default metrics mode,
/// `truncate(16)`.
pub const STRING_BOUND_CHARS: usize = 16;

/// Longest string `min_value` / `max_value` written into column chunk statistics; both are left
/// out when either is longer. Covers every key column of the record (`id` is at most 256 bytes).
pub const MAX_STATISTICS_BYTES: usize = 256;

/// Values bytes (PLAIN) after which a column chunk's page is closed and the next row starts a
/// new one, as arrow-rs's default data page size: large documents do not make pages larger than
/// readers accept (ours refuse pages over [`shared::parquet::DEFAULT_MAX_PAGE_BYTES`]). A single value
/// larger than a page still gets a page of its own.
pub const PAGE_VALUE_BYTES: usize = 1024 * 1024;

/// Rows after which a page is closed (arrow-rs's default data page row count limit).
pub const PAGE_ROWS: usize = 20_000;

/// `PAR1`.
const MAGIC: &[u8; 4] = b"PAR1";

/// Compression of every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteCodec {
    /// No compression.
    Uncompressed,
    /// Raw snappy blocks.
    Snappy,
    /// One gzip member per page.
    Gzip,
    /// One zstd frame per page (the default, like Pipelines).
    #[default]
    Zstd,
    /// Parquet's `LZ4_RAW`: one raw LZ4 block per page (no Hadoop framing, no LZ4 frame).
    Lz4Raw,
}

impl WriteCodec {
    fn to_thrift(self) -> pf::CompressionCodec {
        match self {
            WriteCodec::Uncompressed => pf::CompressionCodec::UNCOMPRESSED,
            WriteCodec::Snappy => pf::CompressionCodec::SNAPPY,
            WriteCodec::Gzip => pf::CompressionCodec::GZIP,
            WriteCodec::Zstd => pf::CompressionCodec::ZSTD,
            WriteCodec::Lz4Raw => pf::CompressionCodec::LZ4_RAW,
        }
    }
}

/// The values of one column, one entry per row (`None` is null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnData {
    /// `string`: BYTE_ARRAY (STRING).
    Utf8(Vec<Option<String>>),
    /// `long`: INT64.
    Int64(Vec<Option<i64>>),
    /// `boolean`: BOOLEAN.
    Boolean(Vec<Option<bool>>),
    /// `timestamptz`, microseconds since the epoch: INT64 (TIMESTAMP(UTC, MICROS)).
    TimestampMicros(Vec<Option<i64>>),
    /// `timestamp` (no zone), microseconds since the epoch: INT64
    /// (TIMESTAMP(isAdjustedToUTC=false, MICROS)), what arrow-rs writes for Arrow's
    /// `Timestamp(Microsecond, None)` and so what a Pipelines sink writes for a stream `timestamp`.
    TimestampNtzMicros(Vec<Option<i64>>),
    /// `list<string>`: per row a null list or a list of (nullable) strings.
    Utf8List(Vec<Option<Vec<Option<String>>>>),
    /// `binary`: BYTE_ARRAY without annotation.
    Binary(Vec<Option<Vec<u8>>>),
    /// `int`: INT32.
    Int32(Vec<Option<i32>>),
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Utf8(v) => v.len(),
            ColumnData::Int64(v) => v.len(),
            ColumnData::Boolean(v) => v.len(),
            ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => v.len(),
            ColumnData::Utf8List(v) => v.len(),
            ColumnData::Binary(v) => v.len(),
            ColumnData::Int32(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn physical_type(&self) -> pf::Type {
        match self {
            ColumnData::Utf8(_) | ColumnData::Utf8List(_) | ColumnData::Binary(_) => pf::Type::BYTE_ARRAY,
            ColumnData::Int32(_) => pf::Type::INT32,
            ColumnData::Int64(_) | ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => pf::Type::INT64,
            ColumnData::Boolean(_) => pf::Type::BOOLEAN,
        }
    }
}

/// One top-level column to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteColumn {
    /// Column name.
    pub name: String,
    /// Iceberg field id, written as the Parquet `field_id`.
    pub field_id: i32,
    /// REQUIRED (no nulls allowed) or OPTIONAL. For a list, whether the list itself may be null;
    /// its elements are always OPTIONAL.
    pub required: bool,
    /// The values.
    pub data: ColumnData,
    /// Iceberg field id of the list element: required for [`ColumnData::Utf8List`], must be
    /// `None` otherwise.
    pub element_field_id: Option<i32>,
}

/// A written file and the Iceberg metrics of its `data_file` entry. Metric maps are in column
/// order, keyed by leaf field id (the element id for a list); a column without non-null values
/// has no bounds, and a string upper bound that cannot be incremented is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Number of rows.
    pub record_count: i64,
    /// Field id → compressed bytes of its column chunks (page headers included).
    pub column_sizes: Vec<(i32, i64)>,
    /// Field id → values, nulls included (level entries for a list).
    pub value_counts: Vec<(i32, i64)>,
    /// Field id → nulls.
    pub null_value_counts: Vec<(i32, i64)>,
    /// Field id → lower bound, single-value serialization (strings truncated).
    pub lower_bounds: Vec<(i32, Vec<u8>)>,
    /// Field id → upper bound, single-value serialization (strings truncated and incremented).
    pub upper_bounds: Vec<(i32, Vec<u8>)>,
    /// File offsets where row groups start, ascending (the `data_file`'s `split_offsets`).
    pub split_offsets: Vec<i64>,
    /// Where the page indexes start: `[page_index_offset, len)` is every column and offset index
    /// and the footer.
    pub page_index_offset: u64,
}

/// Where to cut a page bound: its length from the value ([`WriteOptions::page_bound_prefix`]).
pub type BoundPrefix = fn(&[u8]) -> usize;

/// How [`write_parquet_with`] writes a file; [`write_parquet`] is [`WriteOptions::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compression of every page.
    pub codec: WriteCodec,
    /// Rows per row group (0 is taken as 1).
    pub row_group_rows: usize,
    /// Per field id: the most value bytes (PLAIN, length prefixes included) a page of that
    /// column holds; a page holds at least one row. Other columns' pages close once their values
    /// reach [`PAGE_VALUE_BYTES`]. Every page closes at [`PAGE_ROWS`] rows.
    pub page_bytes: Vec<(i32, usize)>,
    /// Field ids whose statistics (chunk statistics and column index) are exact: never left out
    /// for their length ([`MAX_STATISTICS_BYTES`]). A string or binary column among them has a
    /// column index that says `ASCENDING` when its pages' bounds are in order.
    pub exact_statistics: Vec<i32>,
    /// Per field id of a binary column: where to cut each page's column-index bounds (a length
    /// from the value), as Parquet allows bounds to be truncated — the min becomes its prefix, the
    /// max its prefix with the last byte incremented (still bounds of every value of the page).
    /// The serving table cuts `_lookup` cells after their key, so its page index holds keys only.
    pub page_bound_prefix: Vec<(i32, BoundPrefix)>,
}

impl WriteOptions {
    /// What [`write_parquet`] writes: no per-column page limits, no exact statistics.
    pub fn new(codec: WriteCodec, row_group_rows: usize) -> Self {
        WriteOptions { codec, row_group_rows, page_bytes: Vec::new(), exact_statistics: Vec::new(), page_bound_prefix: Vec::new() }
    }
}

/// Page bounds cut by `prefix` (see [`WriteOptions::page_bound_prefix`]): `(min[..n], max[..m] + 1)`;
/// the max stays whole when its prefix cannot be incremented (all 0xFF).
fn cut_bounds((min, max): (Vec<u8>, Vec<u8>), prefix: BoundPrefix) -> (Vec<u8>, Vec<u8>) {
    let low = min.get(..prefix(&min)).map_or_else(|| min.clone(), <[u8]>::to_vec);
    let mut high = max.get(..prefix(&max)).map_or_else(|| max.clone(), <[u8]>::to_vec);
    while let Some(last) = high.pop() {
        if last < 0xFF {
            high.push(last.saturating_add(1));
            return (low, high);
        }
    }
    (low, max)
}

/// Writes `columns` as one Parquet file with row groups of up to `row_group_rows` rows (0 is
/// taken as 1). Zero rows give a valid file without row groups.
///
/// Errors: [`ParquetError::InvalidSchema`] when there are no columns, columns differ in length,
/// a list has no `element_field_id` or another column has one;
/// [`ParquetError::CorruptValues`] when a required column holds a null;
/// [`ParquetError::PageTooLarge`] when a page, a value or a count does not fit Parquet's 32-bit
/// fields.
pub fn write_parquet(columns: &[WriteColumn], codec: WriteCodec, row_group_rows: usize) -> Result<WrittenFile, ParquetError> {
    write_parquet_with(columns, &WriteOptions::new(codec, row_group_rows))
}

/// [`write_parquet`] with per-column page limits and exact statistics ([`WriteOptions`]).
pub fn write_parquet_with(columns: &[WriteColumn], options: &WriteOptions) -> Result<WrittenFile, ParquetError> {
    let rows = check_columns(columns)?;
    let codec = options.codec;
    let group = options.row_group_rows.max(1);
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(MAGIC);
    let mut metrics: Vec<Metrics> = columns.iter().map(|_| Metrics::default()).collect();
    let mut row_groups = Vec::new();
    let mut page_indexes: Vec<Vec<PageIndex>> = Vec::new();
    let mut split_offsets = Vec::new();
    let mut start = 0usize;
    while start < rows {
        let end = start.saturating_add(group).min(rows);
        let rg_offset = to_i64(out.len())?;
        split_offsets.push(rg_offset);
        let mut chunks = Vec::with_capacity(columns.len());
        let mut indexes = Vec::with_capacity(columns.len());
        let mut uncompressed_total = 0i64;
        let mut compressed_total = 0i64;
        for (col, m) in columns.iter().zip(metrics.iter_mut()) {
            let page_bytes = options.page_bytes.iter().find(|(id, _)| *id == col.field_id).map(|(_, b)| *b);
            let exact = options.exact_statistics.contains(&col.field_id);
            let cut = options.page_bound_prefix.iter().find(|(id, _)| *id == col.field_id).map(|(_, f)| *f);
            let (chunk, index) = write_chunk(&mut out, col, start..end, ChunkOptions { codec, page_bytes, exact, cut }, m)?;
            indexes.push(index);
            if let Some(meta) = &chunk.meta_data {
                uncompressed_total = uncompressed_total.saturating_add(meta.total_uncompressed_size);
                compressed_total = compressed_total.saturating_add(meta.total_compressed_size);
            }
            chunks.push(chunk);
        }
        row_groups.push(pf::RowGroup {
            columns: chunks,
            total_byte_size: uncompressed_total,
            num_rows: to_i64(end - start)?,
            sorting_columns: None,
            file_offset: Some(rg_offset),
            total_compressed_size: Some(compressed_total),
            ordinal: i16::try_from(row_groups.len()).ok(),
        });
        page_indexes.push(indexes);
        start = end;
    }
    let page_index_offset = out.len() as u64;
    write_page_indexes(&mut out, &mut row_groups, &page_indexes)?;
    let leaves = columns.len();
    let meta = pf::FileMetaData {
        version: 1,
        schema: schema(columns),
        num_rows: to_i64(rows)?,
        row_groups,
        key_value_metadata: None,
        created_by: Some(String::from(CREATED_BY)),
        column_orders: Some((0..leaves).map(|_| pf::ColumnOrder::TYPEORDER(pf::TypeDefinedOrder {})).collect()),
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    };
    let mut footer = Vec::new();
    meta.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut footer)).map_err(|_| ParquetError::CorruptFooter)?;
    let footer_len = u32::try_from(footer.len()).map_err(|_| ParquetError::FooterTooLarge)?;
    out.extend_from_slice(&footer);
    out.extend_from_slice(&footer_len.to_le_bytes());
    out.extend_from_slice(MAGIC);

    let mut file = WrittenFile {
        bytes: out,
        record_count: to_i64(rows)?,
        column_sizes: Vec::new(),
        value_counts: Vec::new(),
        null_value_counts: Vec::new(),
        lower_bounds: Vec::new(),
        upper_bounds: Vec::new(),
        split_offsets,
        page_index_offset,
    };
    for (col, m) in columns.iter().zip(metrics) {
        let id = col.element_field_id.unwrap_or(col.field_id);
        file.column_sizes.push((id, m.size));
        file.value_counts.push((id, m.values));
        file.null_value_counts.push((id, m.nulls));
        if let Some(range) = m.range {
            let (lower, upper) = range.bounds();
            file.lower_bounds.push((id, lower));
            if let Some(upper) = upper {
                file.upper_bounds.push((id, upper));
            }
        }
    }
    Ok(file)
}

/// Lower bound of a string truncated to `chars` characters (code points): its prefix.
pub fn truncate_lower_bound(value: &str, chars: usize) -> &str {
    match value.char_indices().nth(chars) {
        Some((cut, _)) => value.get(..cut).unwrap_or(value),
        None => value,
    }
}

/// Upper bound of a string truncated to `chars` characters, as Iceberg (Java
/// `UnicodeUtil.truncateStringMax`) computes it: the value itself when it is short enough;
/// otherwise its prefix with the last character incremented, or, when that character is
/// U+10FFFF, the prefix shortened before it with the character before incremented, and so on.
/// `None` when no character can be incremented (no upper bound). Incrementing U+D7FF gives
/// U+E000 (surrogates are not characters), still greater in UTF-8 byte order.
pub fn truncate_upper_bound(value: &str, chars: usize) -> Option<String> {
    let Some((cut, _)) = value.char_indices().nth(chars) else {
        return Some(String::from(value));
    };
    let mut prefix: Vec<char> = value.get(..cut)?.chars().collect();
    while let Some(last) = prefix.pop() {
        if let Some(next) = next_char(last) {
            prefix.push(next);
            return Some(prefix.into_iter().collect());
        }
    }
    None
}

fn next_char(c: char) -> Option<char> {
    let n = u32::from(c).checked_add(1)?;
    char::from_u32(if n == 0xD800 { 0xE000 } else { n })
}

fn to_i64(n: usize) -> Result<i64, ParquetError> {
    i64::try_from(n).map_err(|_| ParquetError::PageTooLarge)
}

fn to_i32(n: usize) -> Result<i32, ParquetError> {
    i32::try_from(n).map_err(|_| ParquetError::PageTooLarge)
}

/// Checks the shape of the input; returns the number of rows.
fn check_columns(columns: &[WriteColumn]) -> Result<usize, ParquetError> {
    let first = columns.first().ok_or(ParquetError::InvalidSchema)?;
    let rows = first.data.len();
    for col in columns {
        if col.data.len() != rows {
            return Err(ParquetError::InvalidSchema);
        }
        let is_list = matches!(col.data, ColumnData::Utf8List(_));
        if is_list != col.element_field_id.is_some() {
            return Err(ParquetError::InvalidSchema);
        }
    }
    Ok(rows)
}

/// The schema: the root, then per column its element (or the three of a list).
fn schema(columns: &[WriteColumn]) -> Vec<pf::SchemaElement> {
    let mut out = Vec::with_capacity(columns.len().saturating_add(3));
    out.push(element("schema", None, None, None));
    if let Some(root) = out.first_mut() {
        root.num_children = i32::try_from(columns.len()).ok();
    }
    for col in columns {
        let repetition = if col.required { pf::FieldRepetitionType::REQUIRED } else { pf::FieldRepetitionType::OPTIONAL };
        let mut el = element(&col.name, Some(repetition), Some(col.field_id), None);
        match &col.data {
            ColumnData::Utf8(_) => string_leaf(&mut el),
            ColumnData::Int64(_) => el.type_ = Some(pf::Type::INT64),
            ColumnData::Int32(_) => el.type_ = Some(pf::Type::INT32),
            ColumnData::Binary(_) => el.type_ = Some(pf::Type::BYTE_ARRAY),
            ColumnData::Boolean(_) => el.type_ = Some(pf::Type::BOOLEAN),
            ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => {
                el.type_ = Some(pf::Type::INT64);
                // arrow-rs writes the converted type for both (parquet-format reserves it for
                // UTC-adjusted values; readers go by the logical type).
                el.converted_type = Some(pf::ConvertedType::TIMESTAMP_MICROS);
                el.logical_type = Some(pf::LogicalType::TIMESTAMP(pf::TimestampType {
                    is_adjusted_to_u_t_c: matches!(col.data, ColumnData::TimestampMicros(_)),
                    unit: pf::TimeUnit::MICROS(pf::MicroSeconds {}),
                }));
            }
            ColumnData::Utf8List(_) => {
                el.num_children = Some(1);
                el.converted_type = Some(pf::ConvertedType::LIST);
                el.logical_type = Some(pf::LogicalType::LIST(pf::ListType {}));
                out.push(el);
                out.push(element("list", Some(pf::FieldRepetitionType::REPEATED), None, Some(1)));
                let mut item = element("element", Some(pf::FieldRepetitionType::OPTIONAL), col.element_field_id, None);
                string_leaf(&mut item);
                out.push(item);
                continue;
            }
        }
        out.push(el);
    }
    out
}

fn element(name: &str, repetition: Option<pf::FieldRepetitionType>, field_id: Option<i32>, num_children: Option<i32>) -> pf::SchemaElement {
    pf::SchemaElement {
        type_: None,
        type_length: None,
        repetition_type: repetition,
        name: String::from(name),
        num_children,
        converted_type: None,
        scale: None,
        precision: None,
        field_id,
        logical_type: None,
    }
}

fn string_leaf(el: &mut pf::SchemaElement) {
    el.type_ = Some(pf::Type::BYTE_ARRAY);
    el.converted_type = Some(pf::ConvertedType::UTF8);
    el.logical_type = Some(pf::LogicalType::STRING(pf::StringType {}));
}

/// Smallest and largest non-null value seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MinMax<T> {
    min: T,
    max: T,
}

impl<T: Ord + Copy> MinMax<T> {
    fn add(slot: &mut Option<Self>, v: T) {
        match slot {
            None => *slot = Some(MinMax { min: v, max: v }),
            Some(m) => {
                if v < m.min {
                    m.min = v;
                }
                if v > m.max {
                    m.max = v;
                }
            }
        }
    }
}

/// The value range of a chunk or a file, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ValueRange {
    Str(MinMax<String>),
    Bytes(MinMax<Vec<u8>>),
    Long(MinMax<i64>),
    Int(MinMax<i32>),
    Bool(MinMax<bool>),
}

impl ValueRange {
    fn merge(slot: &mut Option<Self>, other: &Self) {
        match (slot.as_mut(), other) {
            (None, _) => *slot = Some(other.clone()),
            (Some(ValueRange::Str(a)), ValueRange::Str(b)) => {
                if b.min < a.min {
                    a.min.clone_from(&b.min);
                }
                if b.max > a.max {
                    a.max.clone_from(&b.max);
                }
            }
            (Some(ValueRange::Bytes(a)), ValueRange::Bytes(b)) => {
                if b.min < a.min {
                    a.min.clone_from(&b.min);
                }
                if b.max > a.max {
                    a.max.clone_from(&b.max);
                }
            }
            (Some(ValueRange::Long(a)), ValueRange::Long(b)) => {
                a.min = a.min.min(b.min);
                a.max = a.max.max(b.max);
            }
            (Some(ValueRange::Int(a)), ValueRange::Int(b)) => {
                a.min = a.min.min(b.min);
                a.max = a.max.max(b.max);
            }
            (Some(ValueRange::Bool(a)), ValueRange::Bool(b)) => {
                a.min = a.min.min(b.min);
                a.max = a.max.max(b.max);
            }
            // One column has one type; nothing else can happen.
            _ => {}
        }
    }

    /// Column chunk statistics: PLAIN-encoded min and max, `None` when too large (unless
    /// `exact`: then never left out).
    fn statistics(&self, exact: bool) -> Option<(Vec<u8>, Vec<u8>)> {
        let fits = |min: usize, max: usize| exact || (min <= MAX_STATISTICS_BYTES && max <= MAX_STATISTICS_BYTES);
        match self {
            ValueRange::Str(m) => fits(m.min.len(), m.max.len()).then(|| (m.min.as_bytes().to_vec(), m.max.as_bytes().to_vec())),
            ValueRange::Bytes(m) => fits(m.min.len(), m.max.len()).then(|| (m.min.clone(), m.max.clone())),
            ValueRange::Long(m) => Some((m.min.to_le_bytes().to_vec(), m.max.to_le_bytes().to_vec())),
            ValueRange::Int(m) => Some((m.min.to_le_bytes().to_vec(), m.max.to_le_bytes().to_vec())),
            ValueRange::Bool(m) => Some((vec![u8::from(m.min)], vec![u8::from(m.max)])),
        }
    }

    /// Iceberg bounds (single-value serialization, strings truncated); the upper bound is
    /// `None` when it cannot be computed.
    fn bounds(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            ValueRange::Str(m) => (
                truncate_lower_bound(&m.min, STRING_BOUND_CHARS).as_bytes().to_vec(),
                truncate_upper_bound(&m.max, STRING_BOUND_CHARS).map(String::into_bytes),
            ),
            ValueRange::Bytes(m) => {
                (m.min.get(..STRING_BOUND_CHARS).unwrap_or(&m.min).to_vec(), truncate_binary_upper_bound(&m.max, STRING_BOUND_CHARS))
            }
            ValueRange::Long(m) => (m.min.to_le_bytes().to_vec(), Some(m.max.to_le_bytes().to_vec())),
            ValueRange::Int(m) => (m.min.to_le_bytes().to_vec(), Some(m.max.to_le_bytes().to_vec())),
            ValueRange::Bool(m) => (vec![u8::from(m.min)], Some(vec![u8::from(m.max)])),
        }
    }
}

/// Upper bound of a binary value truncated to `len` bytes, as Iceberg (Java
/// `BinaryUtil.truncateBinaryMax`) computes it: the value when short enough; otherwise its prefix
/// with the last byte that is not 0xFF incremented and the bytes after it dropped; `None` when
/// every byte of the prefix is 0xFF.
pub fn truncate_binary_upper_bound(value: &[u8], len: usize) -> Option<Vec<u8>> {
    if value.len() <= len {
        return Some(value.to_vec());
    }
    let mut prefix = value.get(..len)?.to_vec();
    while let Some(last) = prefix.pop() {
        if let Some(next) = last.checked_add(1) {
            prefix.push(next);
            return Some(prefix);
        }
    }
    None
}

/// File-level metrics of one column.
#[derive(Debug, Default)]
struct Metrics {
    size: i64,
    values: i64,
    nulls: i64,
    range: Option<ValueRange>,
}

/// One column chunk, encoded but not compressed.
struct Encoded {
    /// Repetition levels (lists only).
    reps: Option<Vec<u8>>,
    /// Definition levels (optional columns and lists).
    defs: Option<Vec<u8>>,
    /// Largest definition level (bit width of `defs`).
    max_def: u8,
    /// PLAIN values.
    values: Vec<u8>,
    /// Level entries (rows, for flat columns).
    entries: usize,
    /// Entries without a value.
    nulls: usize,
    range: Option<ValueRange>,
}

fn put_bytes(out: &mut Vec<u8>, s: &str) -> Result<(), ParquetError> {
    let len = u32::try_from(s.len()).map_err(|_| ParquetError::PageTooLarge)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Encodes rows `rows` of `col`.
fn encode_chunk(col: &WriteColumn, rows: Range<usize>) -> Result<Encoded, ParquetError> {
    let optional = !col.required;
    let mut enc = Encoded {
        reps: None,
        defs: optional.then(Vec::new),
        max_def: u8::from(optional),
        values: Vec::new(),
        entries: 0,
        nulls: 0,
        range: None,
    };
    match &col.data {
        ColumnData::Utf8(v) => {
            let mut range: Option<MinMax<&str>> = None;
            for value in v.get(rows).unwrap_or(&[]) {
                enc.flat(value.is_some())?;
                if let Some(s) = value {
                    put_bytes(&mut enc.values, s)?;
                    MinMax::add(&mut range, s.as_str());
                }
            }
            enc.range = range.map(owned_str);
        }
        ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
            let mut range = None;
            for value in v.get(rows).unwrap_or(&[]) {
                enc.flat(value.is_some())?;
                if let Some(x) = value {
                    enc.values.extend_from_slice(&x.to_le_bytes());
                    MinMax::add(&mut range, *x);
                }
            }
            enc.range = range.map(ValueRange::Long);
        }
        ColumnData::Binary(v) => {
            let mut range: Option<MinMax<&[u8]>> = None;
            for value in v.get(rows).unwrap_or(&[]) {
                enc.flat(value.is_some())?;
                if let Some(b) = value {
                    let len = u32::try_from(b.len()).map_err(|_| ParquetError::PageTooLarge)?;
                    enc.values.extend_from_slice(&len.to_le_bytes());
                    enc.values.extend_from_slice(b);
                    MinMax::add(&mut range, b.as_slice());
                }
            }
            enc.range = range.map(|m| ValueRange::Bytes(MinMax { min: m.min.to_vec(), max: m.max.to_vec() }));
        }
        ColumnData::Int32(v) => {
            let mut range = None;
            for value in v.get(rows).unwrap_or(&[]) {
                enc.flat(value.is_some())?;
                if let Some(x) = value {
                    enc.values.extend_from_slice(&x.to_le_bytes());
                    MinMax::add(&mut range, *x);
                }
            }
            enc.range = range.map(ValueRange::Int);
        }
        ColumnData::Boolean(v) => {
            let mut range = None;
            let mut bits = BitWriter::default();
            for value in v.get(rows).unwrap_or(&[]) {
                enc.flat(value.is_some())?;
                if let Some(b) = value {
                    bits.push(*b);
                    MinMax::add(&mut range, *b);
                }
            }
            enc.values = bits.finish();
            enc.range = range.map(ValueRange::Bool);
        }
        ColumnData::Utf8List(v) => {
            // Levels: below `list_def` a null list, `list_def` an empty one, `item_def` a null
            // element, `item_def + 1` a value.
            let list_def = u8::from(optional);
            let item_def = list_def + 1;
            enc.max_def = item_def + 1;
            let mut reps = Vec::new();
            let mut defs = Vec::new();
            let mut range: Option<MinMax<&str>> = None;
            for value in v.get(rows).unwrap_or(&[]) {
                match value {
                    None => {
                        if !optional {
                            return Err(ParquetError::CorruptValues);
                        }
                        reps.push(0);
                        defs.push(0);
                        enc.nulls += 1;
                    }
                    Some(list) if list.is_empty() => {
                        reps.push(0);
                        defs.push(list_def);
                        enc.nulls += 1;
                    }
                    Some(list) => {
                        for (i, item) in list.iter().enumerate() {
                            reps.push(u8::from(i > 0));
                            match item {
                                None => {
                                    defs.push(item_def);
                                    enc.nulls += 1;
                                }
                                Some(s) => {
                                    defs.push(item_def + 1);
                                    put_bytes(&mut enc.values, s)?;
                                    MinMax::add(&mut range, s.as_str());
                                }
                            }
                        }
                    }
                }
            }
            enc.entries = reps.len();
            enc.reps = Some(reps);
            enc.defs = Some(defs);
            enc.range = range.map(owned_str);
        }
    }
    Ok(enc)
}

fn owned_str(m: MinMax<&str>) -> ValueRange {
    ValueRange::Str(MinMax { min: String::from(m.min), max: String::from(m.max) })
}

impl Encoded {
    /// Records one row of a flat column.
    fn flat(&mut self, present: bool) -> Result<(), ParquetError> {
        self.entries += 1;
        match &mut self.defs {
            Some(defs) => {
                defs.push(u8::from(present));
                if !present {
                    self.nulls += 1;
                }
                Ok(())
            }
            None if present => Ok(()),
            None => Err(ParquetError::CorruptValues),
        }
    }

    /// The page body: repetition levels, definition levels, values.
    fn page(&self) -> Result<Vec<u8>, ParquetError> {
        let mut body = Vec::with_capacity(self.values.len().saturating_add(64));
        if let Some(reps) = &self.reps {
            levels_v1(&mut body, reps, 1)?;
        }
        if let Some(defs) = &self.defs {
            levels_v1(&mut body, defs, self.max_def)?;
        }
        body.extend_from_slice(&self.values);
        Ok(body)
    }
}

/// Levels of a data page v1: 4-byte little-endian length, then RLE runs of the hybrid encoding.
fn levels_v1(out: &mut Vec<u8>, levels: &[u8], max: u8) -> Result<(), ParquetError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    // Bit width of `max`; each RLE run stores its value in ceil(width / 8) bytes (one here).
    let width = 8 - max.leading_zeros();
    for run in levels.chunk_by(|a, b| a == b) {
        uleb128(out, (run.len() as u64) << 1);
        if width > 0 {
            out.push(run.first().copied().unwrap_or(0));
        }
    }
    let len = u32::try_from(out.len() - start - 4).map_err(|_| ParquetError::PageTooLarge)?;
    if let Some(slot) = out.get_mut(start..start + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}

fn uleb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// PLAIN booleans: bit-packed, least significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    n: usize,
}

impl BitWriter {
    fn push(&mut self, b: bool) {
        if self.n.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if b {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << (self.n % 8);
            }
        }
        self.n += 1;
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Compresses one page body.
fn compress(codec: WriteCodec, data: &[u8]) -> Result<Vec<u8>, ParquetError> {
    Ok(match codec {
        WriteCodec::Uncompressed => data.to_vec(),
        WriteCodec::Snappy => snap::raw::Encoder::new().compress_vec(data).map_err(|_| ParquetError::PageTooLarge)?,
        WriteCodec::Gzip => gzip(data),
        WriteCodec::Zstd => ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest),
        WriteCodec::Lz4Raw => lz4_flex::block::compress(data),
    })
}

/// One gzip member (RFC 1952): a header without name or time, raw deflate, CRC-32 and the
/// length modulo 2^32.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL = 0, OS = unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Rows per page: consecutive ranges of `rows`, each closed once its values reach
/// [`PAGE_VALUE_BYTES`] (so a page holds at least one row, and lists never straddle pages).
fn page_ranges(data: &ColumnData, rows: Range<usize>, page_bytes: Option<usize>) -> Vec<Range<usize>> {
    let str_bytes = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len().saturating_add(4));
    let row_bytes = |i: usize| -> usize {
        match data {
            ColumnData::Utf8(v) => v.get(i).map_or(0, str_bytes),
            ColumnData::Int64(_) | ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => 8,
            ColumnData::Boolean(_) => 1,
            ColumnData::Binary(v) => v.get(i).map_or(0, |b| b.as_ref().map_or(0, |b| b.len().saturating_add(4))),
            ColumnData::Int32(_) => 4,
            ColumnData::Utf8List(v) => match v.get(i) {
                Some(Some(list)) => list.iter().map(str_bytes).fold(1, usize::saturating_add),
                _ => 1,
            },
        }
    };
    let mut out = Vec::new();
    let mut page_start = rows.start;
    let mut bytes = 0usize;
    for i in rows.clone() {
        if let Some(max) = page_bytes {
            // At most `max` bytes: close the page before a row that would pass it.
            if i > page_start && bytes.saturating_add(row_bytes(i)) > max {
                out.push(page_start..i);
                page_start = i;
                bytes = 0;
            }
            bytes = bytes.saturating_add(row_bytes(i));
            if i + 1 - page_start >= PAGE_ROWS {
                out.push(page_start..i + 1);
                page_start = i + 1;
                bytes = 0;
            }
            continue;
        }
        bytes = bytes.saturating_add(row_bytes(i));
        if bytes >= PAGE_VALUE_BYTES || i + 1 - page_start >= PAGE_ROWS {
            out.push(page_start..i + 1);
            page_start = i + 1;
            bytes = 0;
        }
    }
    if page_start < rows.end || out.is_empty() {
        out.push(page_start..rows.end);
    }
    out
}

/// Writes one data page at the end of `out`; returns its (uncompressed, compressed) size,
/// header included.
fn write_page(out: &mut Vec<u8>, encoded: &Encoded, codec: WriteCodec) -> Result<(i64, i64), ParquetError> {
    let body = encoded.page()?;
    let compressed = compress(codec, &body)?;
    let header = pf::PageHeader {
        type_: pf::PageType::DATA_PAGE,
        uncompressed_page_size: to_i32(body.len())?,
        compressed_page_size: to_i32(compressed.len())?,
        crc: None,
        data_page_header: Some(pf::DataPageHeader {
            num_values: to_i32(encoded.entries)?,
            encoding: pf::Encoding::PLAIN,
            definition_level_encoding: pf::Encoding::RLE,
            repetition_level_encoding: pf::Encoding::RLE,
            statistics: None,
        }),
        index_page_header: None,
        dictionary_page_header: None,
        data_page_header_v2: None,
    };
    let mut header_bytes = Vec::new();
    header.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut header_bytes)).map_err(|_| ParquetError::CorruptPageHeader)?;
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&compressed);
    Ok((to_i64(header_bytes.len().saturating_add(body.len()))?, to_i64(header_bytes.len().saturating_add(compressed.len()))?))
}

/// Writes the column chunk of rows `rows` of `col` at the end of `out` (one page, or more when
/// its values pass [`PAGE_VALUE_BYTES`]), adds it to the column's file metrics and returns its
/// footer entry.
/// The page index of one column chunk, written after all row groups: the offset index always,
/// the column index when every page has usable bounds (lists have none).
struct PageIndex {
    offsets: pf::OffsetIndex,
    columns: Option<pf::ColumnIndex>,
}

/// How one column's chunks are written.
#[derive(Clone, Copy)]
struct ChunkOptions {
    codec: WriteCodec,
    /// The most value bytes of a page (`None`: [`PAGE_VALUE_BYTES`], closed once reached).
    page_bytes: Option<usize>,
    /// Statistics never left out for length.
    exact: bool,
    /// Where to cut the column index's page bounds.
    cut: Option<BoundPrefix>,
}

fn write_chunk(
    out: &mut Vec<u8>,
    col: &WriteColumn,
    rows: Range<usize>,
    options: ChunkOptions,
    metrics: &mut Metrics,
) -> Result<(pf::ColumnChunk, PageIndex), ParquetError> {
    let ChunkOptions { codec, page_bytes, exact, cut } = options;
    let offset = to_i64(out.len())?;
    let (mut uncompressed_size, mut compressed_size) = (0i64, 0i64);
    let (mut entries, mut nulls) = (0usize, 0usize);
    let mut levels = false;
    let mut chunk_range: Option<ValueRange> = None;
    let first = rows.start;
    let mut index = PageIndex {
        offsets: pf::OffsetIndex { page_locations: Vec::new() },
        columns: (!matches!(col.data, ColumnData::Utf8List(_))).then(|| pf::ColumnIndex {
            null_pages: Vec::new(),
            min_values: Vec::new(),
            max_values: Vec::new(),
            boundary_order: pf::BoundaryOrder::UNORDERED,
            null_counts: Some(Vec::new()),
        }),
    };
    for page_rows in page_ranges(&col.data, rows, page_bytes) {
        let page_offset = to_i64(out.len())?;
        let first_row_index = to_i64(page_rows.start.saturating_sub(first))?;
        let encoded = encode_chunk(col, page_rows)?;
        let (u, c) = write_page(out, &encoded, codec)?;
        index.offsets.page_locations.push(pf::PageLocation {
            offset: page_offset,
            compressed_page_size: i32::try_from(to_i64(out.len())?.saturating_sub(page_offset)).map_err(|_| ParquetError::PageTooLarge)?,
            first_row_index,
        });
        let bounds = encoded.range.as_ref().and_then(|r| r.statistics(exact));
        let bounds = match (bounds, cut, &encoded.range) {
            (Some(b), Some(f), Some(ValueRange::Bytes(_))) => Some(cut_bounds(b, f)),
            (b, _, _) => b,
        };
        let all_null = encoded.nulls == encoded.entries;
        index.columns = index.columns.take().and_then(|mut ci| {
            match (all_null, bounds) {
                (true, _) => {
                    ci.null_pages.push(true);
                    ci.min_values.push(Vec::new());
                    ci.max_values.push(Vec::new());
                }
                (false, Some((min, max))) => {
                    ci.null_pages.push(false);
                    ci.min_values.push(min);
                    ci.max_values.push(max);
                }
                // A value too long for statistics: no column index for this chunk.
                (false, None) => return None,
            }
            if let Some(counts) = ci.null_counts.as_mut() {
                counts.push(i64::try_from(encoded.nulls).unwrap_or(i64::MAX));
            }
            Some(ci)
        });
        uncompressed_size = uncompressed_size.saturating_add(u);
        compressed_size = compressed_size.saturating_add(c);
        entries = entries.saturating_add(encoded.entries);
        nulls = nulls.saturating_add(encoded.nulls);
        levels |= encoded.defs.is_some() || encoded.reps.is_some();
        if let Some(range) = &encoded.range {
            ValueRange::merge(&mut chunk_range, range);
        }
    }

    // Pages in key order (the serving table's `_lookup`): say so, so readers may binary-search.
    if exact && matches!(col.data, ColumnData::Utf8(_) | ColumnData::Binary(_)) {
        if let Some(ci) = index.columns.as_mut() {
            let ascending = |v: &[Vec<u8>]| v.windows(2).all(|w| w.first() <= w.get(1));
            if !ci.null_pages.contains(&true) && ascending(&ci.min_values) && ascending(&ci.max_values) {
                ci.boundary_order = pf::BoundaryOrder::ASCENDING;
            }
        }
    }
    let num_values = to_i64(entries)?;
    let null_count = to_i64(nulls)?;
    let mut statistics =
        pf::Statistics { max: None, min: None, null_count: Some(null_count), distinct_count: None, max_value: None, min_value: None };
    if let Some(range) = &chunk_range {
        if let Some((min, max)) = range.statistics(exact) {
            // The deprecated fields are ordered signed: right for INT64 and BOOLEAN only.
            if !matches!(range, ValueRange::Str(_)) {
                statistics.min = Some(min.clone());
                statistics.max = Some(max.clone());
            }
            statistics.min_value = Some(min);
            statistics.max_value = Some(max);
        }
        ValueRange::merge(&mut metrics.range, range);
    }
    metrics.size = metrics.size.saturating_add(compressed_size);
    metrics.values = metrics.values.saturating_add(num_values);
    metrics.nulls = metrics.nulls.saturating_add(null_count);

    let mut encodings = vec![pf::Encoding::PLAIN];
    if levels {
        encodings.push(pf::Encoding::RLE);
    }
    let path_in_schema = match &col.data {
        ColumnData::Utf8List(_) => vec![col.name.clone(), String::from("list"), String::from("element")],
        _ => vec![col.name.clone()],
    };
    let meta = pf::ColumnMetaData {
        type_: col.data.physical_type(),
        encodings,
        path_in_schema,
        codec: codec.to_thrift(),
        num_values,
        total_uncompressed_size: uncompressed_size,
        total_compressed_size: compressed_size,
        key_value_metadata: None,
        data_page_offset: offset,
        index_page_offset: None,
        dictionary_page_offset: None,
        statistics: Some(statistics),
        encoding_stats: None,
        bloom_filter_offset: None,
    };
    let chunk = pf::ColumnChunk {
        file_path: None,
        file_offset: offset,
        meta_data: Some(meta),
        offset_index_offset: None,
        offset_index_length: None,
        column_index_offset: None,
        column_index_length: None,
        crypto_metadata: None,
        encrypted_column_metadata: None,
    };
    Ok((chunk, index))
}

/// Writes `value` (a thrift struct) at the end of `out`; returns its `(offset, length)`.
fn write_thrift(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut TCompactOutputProtocol<&mut Vec<u8>>) -> Result<usize, ()>,
) -> Result<(i64, i32), ParquetError> {
    let start = to_i64(out.len())?;
    write(&mut TCompactOutputProtocol::new(out)).map_err(|()| ParquetError::CorruptPageIndex)?;
    let len = i32::try_from(to_i64(out.len())?.saturating_sub(start)).map_err(|_| ParquetError::PageTooLarge)?;
    Ok((start, len))
}

/// Writes every chunk's column index, then every chunk's offset index (as arrow-rs lays them
/// out, just before the footer), and points the chunks at them.
fn write_page_indexes(out: &mut Vec<u8>, row_groups: &mut [pf::RowGroup], indexes: &[Vec<PageIndex>]) -> Result<(), ParquetError> {
    for (rg, idx) in row_groups.iter_mut().zip(indexes) {
        for (chunk, index) in rg.columns.iter_mut().zip(idx) {
            if let Some(ci) = &index.columns {
                let (offset, length) = write_thrift(out, |p| ci.write_to_out_protocol(p).map_err(|_| ()))?;
                chunk.column_index_offset = Some(offset);
                chunk.column_index_length = Some(length);
            }
        }
    }
    for (rg, idx) in row_groups.iter_mut().zip(indexes) {
        for (chunk, index) in rg.columns.iter_mut().zip(idx) {
            let (offset, length) = write_thrift(out, |p| index.offsets.write_to_out_protocol(p).map_err(|_| ()))?;
            chunk.offset_index_offset = Some(offset);
            chunk.offset_index_length = Some(length);
        }
    }
    Ok(())
}
