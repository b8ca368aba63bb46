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
//!   dictionary, no CRC.
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
//!   level, one frame, 128 KiB window).
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

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use parquet_format_safe as pf;
use parquet_format_safe::thrift::protocol::TCompactOutputProtocol;

use super::error::ParquetError;

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
/// readers accept (ours refuse pages over [`super::DEFAULT_MAX_PAGE_BYTES`]). A single value
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
}

impl WriteCodec {
    fn to_thrift(self) -> pf::CompressionCodec {
        match self {
            WriteCodec::Uncompressed => pf::CompressionCodec::UNCOMPRESSED,
            WriteCodec::Snappy => pf::CompressionCodec::SNAPPY,
            WriteCodec::Gzip => pf::CompressionCodec::GZIP,
            WriteCodec::Zstd => pf::CompressionCodec::ZSTD,
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
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn physical_type(&self) -> pf::Type {
        match self {
            ColumnData::Utf8(_) | ColumnData::Utf8List(_) => pf::Type::BYTE_ARRAY,
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
}

/// Writes `columns` as one Parquet file with row groups of up to `row_group_rows` rows (0 is
/// taken as 1). Zero rows give a valid file without row groups.
///
/// Errors: [`ParquetError::InvalidSchema`] when there are no columns, columns differ in length,
/// a list has no `element_field_id` or another column has one;
/// [`ParquetError::CorruptValues`] when a required column holds a null;
/// [`ParquetError::PageTooLarge`] when a page, a value or a count does not fit Parquet's 32-bit
/// fields.
pub fn write_parquet(
    columns: &[WriteColumn],
    codec: WriteCodec,
    row_group_rows: usize,
) -> Result<WrittenFile, ParquetError> {
    let rows = check_columns(columns)?;
    let group = row_group_rows.max(1);
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
            let (chunk, index) = write_chunk(&mut out, col, start..end, codec, m)?;
            indexes.push(index);
            if let Some(meta) = &chunk.meta_data {
                uncompressed_total =
                    uncompressed_total.saturating_add(meta.total_uncompressed_size);
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
    write_page_indexes(&mut out, &mut row_groups, &page_indexes)?;
    let leaves = columns.len();
    let meta = pf::FileMetaData {
        version: 1,
        schema: schema(columns),
        num_rows: to_i64(rows)?,
        row_groups,
        key_value_metadata: None,
        created_by: Some(String::from(CREATED_BY)),
        column_orders: Some(
            (0..leaves)
                .map(|_| pf::ColumnOrder::TYPEORDER(pf::TypeDefinedOrder {}))
                .collect(),
        ),
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    };
    let mut footer = Vec::new();
    meta.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut footer))
        .map_err(|_| ParquetError::CorruptFooter)?;
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
        let repetition = if col.required {
            pf::FieldRepetitionType::REQUIRED
        } else {
            pf::FieldRepetitionType::OPTIONAL
        };
        let mut el = element(&col.name, Some(repetition), Some(col.field_id), None);
        match &col.data {
            ColumnData::Utf8(_) => string_leaf(&mut el),
            ColumnData::Int64(_) => el.type_ = Some(pf::Type::INT64),
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
                out.push(element(
                    "list",
                    Some(pf::FieldRepetitionType::REPEATED),
                    None,
                    Some(1),
                ));
                let mut item = element(
                    "element",
                    Some(pf::FieldRepetitionType::OPTIONAL),
                    col.element_field_id,
                    None,
                );
                string_leaf(&mut item);
                out.push(item);
                continue;
            }
        }
        out.push(el);
    }
    out
}

fn element(
    name: &str,
    repetition: Option<pf::FieldRepetitionType>,
    field_id: Option<i32>,
    num_children: Option<i32>,
) -> pf::SchemaElement {
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
    Long(MinMax<i64>),
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
            (Some(ValueRange::Long(a)), ValueRange::Long(b)) => {
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

    /// Column chunk statistics: PLAIN-encoded min and max, `None` when too large.
    fn statistics(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        match self {
            ValueRange::Str(m) => {
                if m.min.len() > MAX_STATISTICS_BYTES || m.max.len() > MAX_STATISTICS_BYTES {
                    None
                } else {
                    Some((m.min.as_bytes().to_vec(), m.max.as_bytes().to_vec()))
                }
            }
            ValueRange::Long(m) => {
                Some((m.min.to_le_bytes().to_vec(), m.max.to_le_bytes().to_vec()))
            }
            ValueRange::Bool(m) => {
                Some((alloc::vec![u8::from(m.min)], alloc::vec![u8::from(m.max)]))
            }
        }
    }

    /// Iceberg bounds (single-value serialization, strings truncated); the upper bound is
    /// `None` when it cannot be computed.
    fn bounds(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            ValueRange::Str(m) => (
                truncate_lower_bound(&m.min, STRING_BOUND_CHARS)
                    .as_bytes()
                    .to_vec(),
                truncate_upper_bound(&m.max, STRING_BOUND_CHARS).map(String::into_bytes),
            ),
            ValueRange::Long(m) => (
                m.min.to_le_bytes().to_vec(),
                Some(m.max.to_le_bytes().to_vec()),
            ),
            ValueRange::Bool(m) => (
                alloc::vec![u8::from(m.min)],
                Some(alloc::vec![u8::from(m.max)]),
            ),
        }
    }
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
    ValueRange::Str(MinMax {
        min: String::from(m.min),
        max: String::from(m.max),
    })
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
        WriteCodec::Snappy => snap::raw::Encoder::new()
            .compress_vec(data)
            .map_err(|_| ParquetError::PageTooLarge)?,
        WriteCodec::Gzip => gzip(data),
        WriteCodec::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
    })
}

/// One gzip member (RFC 1952): a header without name or time, raw deflate, CRC-32 and the
/// length modulo 2^32.
fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL = 0, OS = unknown.
    let mut out = alloc::vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Rows per page: consecutive ranges of `rows`, each closed once its values reach
/// [`PAGE_VALUE_BYTES`] (so a page holds at least one row, and lists never straddle pages).
fn page_ranges(data: &ColumnData, rows: Range<usize>) -> Vec<Range<usize>> {
    let str_bytes = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len().saturating_add(4));
    let row_bytes = |i: usize| -> usize {
        match data {
            ColumnData::Utf8(v) => v.get(i).map_or(0, str_bytes),
            ColumnData::Int64(_) | ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => 8,
            ColumnData::Boolean(_) => 1,
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
fn write_page(
    out: &mut Vec<u8>,
    encoded: &Encoded,
    codec: WriteCodec,
) -> Result<(i64, i64), ParquetError> {
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
    header
        .write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut header_bytes))
        .map_err(|_| ParquetError::CorruptPageHeader)?;
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&compressed);
    Ok((
        to_i64(header_bytes.len().saturating_add(body.len()))?,
        to_i64(header_bytes.len().saturating_add(compressed.len()))?,
    ))
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

fn write_chunk(
    out: &mut Vec<u8>,
    col: &WriteColumn,
    rows: Range<usize>,
    codec: WriteCodec,
    metrics: &mut Metrics,
) -> Result<(pf::ColumnChunk, PageIndex), ParquetError> {
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
    for page_rows in page_ranges(&col.data, rows) {
        let page_offset = to_i64(out.len())?;
        let first_row_index = to_i64(page_rows.start.saturating_sub(first))?;
        let encoded = encode_chunk(col, page_rows)?;
        let (u, c) = write_page(out, &encoded, codec)?;
        index.offsets.page_locations.push(pf::PageLocation {
            offset: page_offset,
            compressed_page_size: i32::try_from(to_i64(out.len())?.saturating_sub(page_offset)).map_err(|_| ParquetError::PageTooLarge)?,
            first_row_index,
        });
        let bounds = encoded.range.as_ref().and_then(ValueRange::statistics);
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

    let num_values = to_i64(entries)?;
    let null_count = to_i64(nulls)?;
    let mut statistics = pf::Statistics {
        max: None,
        min: None,
        null_count: Some(null_count),
        distinct_count: None,
        max_value: None,
        min_value: None,
    };
    if let Some(range) = &chunk_range {
        if let Some((min, max)) = range.statistics() {
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

    let mut encodings = alloc::vec![pf::Encoding::PLAIN];
    if levels {
        encodings.push(pf::Encoding::RLE);
    }
    let path_in_schema = match &col.data {
        ColumnData::Utf8List(_) => alloc::vec![
            col.name.clone(),
            String::from("list"),
            String::from("element"),
        ],
        _ => alloc::vec![col.name.clone()],
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
fn write_thrift(out: &mut Vec<u8>, write: impl FnOnce(&mut TCompactOutputProtocol<&mut Vec<u8>>) -> Result<usize, ()>) -> Result<(i64, i32), ParquetError> {
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::parquet::{
        decode_column_chunk, parse_footer, prune_row_groups, Codec, ColumnValues, DecodeLimits,
        PhysicalType,
    };
    use crate::record::{ColumnType, COLUMNS};

    use arrow_parquet::basic::{ConvertedType, LogicalType, TimeUnit, TimestampType};
    use arrow_parquet::file::reader::{FileReader, SerializedFileReader};
    use arrow_parquet::record::Field;

    const BIG: usize = 200 * 1024;

    fn string_cell(name: &str, required: bool, i: usize) -> Option<String> {
        match name {
            "ns" => Some(["docs", "blog", "ünïcode-ns"][i % 3].into()),
            // Long ids (truncated bounds), multi-byte ones, one starting at the top of the range.
            "id" => Some(match i % 4 {
                0 => format!("id-{i:04}-a-very-long-identifier"),
                1 => format!("é{i:02}-ééééééééééééééééééé"),
                2 => format!("short-{i}"),
                _ => format!("z{i:03}"),
            }),
            "visibility" => Some(["public", "org", "user", "unlisted"][i % 4].into()),
            _ if required => match i % 5 {
                // Empty strings are values, even in required columns.
                2 => Some(String::new()),
                1 => Some(format!("{name}-{i:03}-日本語🎉")),
                _ => Some(format!("{name}-{i:03}")),
            },
            // 200 KB values in a couple of rows.
            "markdown" if i == 7 => Some("ä".repeat(BIG / 2)),
            "html" if i == 20 => Some("<p>x</p>".repeat(BIG / 8)),
            _ => match i % 3 {
                0 => None,
                1 => Some(String::new()),
                _ => Some(format!("{name} {i} — ünïcödé ✓ {}", "lorem ".repeat(i % 7))),
            },
        }
    }

    fn list_cell(i: usize) -> Option<Vec<Option<String>>> {
        match i % 4 {
            0 => None,
            1 => Some(Vec::new()),
            2 => Some(vec![
                Some("docs/guide/intro".into()),
                None,
                Some("ü/ß/🎉".into()),
                Some(String::new()),
            ]),
            _ => Some(
                (0..1 + i % 7)
                    .map(|k| Some(format!("ns/t/in-{i}-{k}")))
                    .collect(),
            ),
        }
    }

    fn long_cell(i: usize) -> i64 {
        match i {
            4 => i64::MIN,
            9 => i64::MAX,
            _ => (i as i64 - 5) * 1000,
        }
    }

    fn ts_cell(i: usize) -> i64 {
        if i == 3 {
            -1
        } else {
            1_700_000_000_000_000 + (i as i64) * 1_000_003
        }
    }

    /// The full record schema (all of `COLUMNS`) with `rows` rows.
    fn record_columns(rows: usize) -> Vec<WriteColumn> {
        COLUMNS
            .iter()
            .map(|c| {
                let data = match c.ty {
                    ColumnType::String => ColumnData::Utf8(
                        (0..rows)
                            .map(|i| string_cell(c.name, c.required, i))
                            .collect(),
                    ),
                    // The record contract's timestamps are Iceberg `timestamp` (no zone).
                    ColumnType::TimestampMicros => {
                        ColumnData::TimestampNtzMicros((0..rows).map(|i| Some(ts_cell(i))).collect())
                    }
                    ColumnType::Long => {
                        ColumnData::Int64((0..rows).map(|i| Some(long_cell(i))).collect())
                    }
                    ColumnType::Boolean => {
                        ColumnData::Boolean((0..rows).map(|i| Some(i % 4 == 0)).collect())
                    }
                    ColumnType::StringList { .. } => {
                        ColumnData::Utf8List((0..rows).map(list_cell).collect())
                    }
                };
                WriteColumn {
                    name: c.name.into(),
                    field_id: c.field_id,
                    required: c.required,
                    data,
                    element_field_id: match c.ty {
                        ColumnType::StringList { element_id } => Some(element_id),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    fn bytes_of(v: &Option<String>) -> Option<Vec<u8>> {
        v.as_ref().map(|s| s.as_bytes().to_vec())
    }

    /// What our reader should decode for rows `r` of `data`.
    fn expected(data: &ColumnData, r: Range<usize>) -> ColumnValues {
        match data {
            ColumnData::Utf8(v) => ColumnValues::ByteArray(v[r].iter().map(bytes_of).collect()),
            ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                ColumnValues::Int64(v[r].to_vec())
            }
            ColumnData::Boolean(v) => ColumnValues::Boolean(v[r].to_vec()),
            ColumnData::Utf8List(v) => ColumnValues::ByteArrayList(
                v[r].iter()
                    .map(|l| l.as_ref().map(|l| l.iter().map(bytes_of).collect()))
                    .collect(),
            ),
        }
    }

    const CODECS: [(WriteCodec, Codec); 4] = [
        (WriteCodec::Uncompressed, Codec::Uncompressed),
        (WriteCodec::Snappy, Codec::Snappy),
        (WriteCodec::Gzip, Codec::Gzip),
        (WriteCodec::Zstd, Codec::Zstd),
    ];

    fn check_with_our_reader(
        columns: &[WriteColumn],
        written: &WrittenFile,
        codec: Codec,
        per: usize,
    ) {
        let file = &written.bytes;
        let rows = columns[0].data.len();
        assert_eq!(&file[..4], b"PAR1");
        let footer = parse_footer(file, file.len() as u64).unwrap();
        assert_eq!(footer.num_rows, rows as u64);
        assert_eq!(written.record_count, rows as i64);
        assert_eq!(footer.created_by.as_deref(), Some(CREATED_BY));
        assert_eq!(footer.row_groups.len(), rows.div_ceil(per));
        assert_eq!(footer.columns.len(), columns.len());
        let mut sizes = vec![0i64; columns.len()];
        for (g, rg) in footer.row_groups.iter().enumerate() {
            let r = g * per..((g + 1) * per).min(rows);
            assert_eq!(rg.num_rows, r.len() as u64);
            assert_eq!(
                written.split_offsets[g],
                rg.columns[0].data_page_offset as i64
            );
            for (k, col) in columns.iter().enumerate() {
                let leaf_id = col.element_field_id.unwrap_or(col.field_id);
                let index = footer.column_by_field_id(leaf_id).unwrap();
                assert_eq!(index, k);
                let leaf = &footer.columns[index];
                assert_eq!(leaf.top_field_id, Some(col.field_id));
                assert_eq!(leaf.path[0], col.name);
                let chunk = footer.chunk(g, index).unwrap();
                assert_eq!(chunk.codec, codec);
                let (start, len) = chunk.range();
                sizes[k] += len as i64;
                let bytes = &file[start as usize..(start + len) as usize];
                let got = decode_column_chunk(bytes, chunk, DecodeLimits::default()).unwrap();
                assert_eq!(
                    got,
                    expected(&col.data, r.clone()),
                    "{} row group {g}",
                    col.name
                );
                // Statistics: null counts always, bounds for the key columns.
                let stats = chunk.statistics.as_ref().unwrap();
                if let ColumnData::Utf8(v) = &col.data {
                    let part = &v[r.clone()];
                    let nulls = part.iter().filter(|s| s.is_none()).count() as i64;
                    assert_eq!(stats.null_count, Some(nulls));
                    let present = part.iter().flatten();
                    let min = present.clone().min().map(|s| s.as_bytes().to_vec());
                    let max = present.clone().max().map(|s| s.as_bytes().to_vec());
                    let small = |v: &Option<Vec<u8>>| {
                        v.as_ref().is_none_or(|v| v.len() <= MAX_STATISTICS_BYTES)
                    };
                    if small(&min) && small(&max) {
                        assert_eq!(stats.min_value, min, "{}", col.name);
                        assert_eq!(stats.max_value, max, "{}", col.name);
                    } else {
                        assert_eq!(stats.min_value, None);
                        assert_eq!(stats.max_value, None);
                    }
                }
                if let ColumnData::Int64(v) = &col.data {
                    let part = v[r.clone()].iter().flatten();
                    let min = part.clone().min().map(|x| x.to_le_bytes().to_vec());
                    let max = part.max().map(|x| x.to_le_bytes().to_vec());
                    assert_eq!(stats.min_value, min);
                    assert_eq!(stats.max_value, max);
                    assert_eq!(stats.min, min);
                }
            }
        }
        let size_ids: Vec<i32> = written.column_sizes.iter().map(|(id, _)| *id).collect();
        let want_ids: Vec<i32> = columns
            .iter()
            .map(|c| c.element_field_id.unwrap_or(c.field_id))
            .collect();
        assert_eq!(size_ids, want_ids);
        let size_values: Vec<i64> = written.column_sizes.iter().map(|(_, s)| *s).collect();
        assert_eq!(size_values, sizes);

        // Pruning by the id statistics finds the row group of every id.
        let Some(id_col) = footer.column_by_field_id(3) else {
            return;
        };
        if let ColumnData::Utf8(ids) = &columns[id_col].data {
            for (i, id) in ids.iter().enumerate() {
                let groups = prune_row_groups(&footer, id_col, id.as_ref().unwrap().as_bytes());
                assert!(groups.contains(&(i / per)), "id {i}");
            }
            if rows > per {
                let first = prune_row_groups(&footer, id_col, ids[0].as_ref().unwrap().as_bytes());
                assert!(first.len() < footer.row_groups.len());
            }
        }
    }

    fn arrow_reader(bytes: &[u8], label: &str) -> SerializedFileReader<std::fs::File> {
        let path = std::env::temp_dir().join(format!(
            "shared-parquet-write-{}-{label}.parquet",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        SerializedFileReader::new(file).unwrap()
    }

    fn field_of(data: &ColumnData, i: usize) -> Field {
        let s = |v: &Option<String>| v.clone().map_or(Field::Null, Field::Str);
        match data {
            ColumnData::Utf8(v) => s(&v[i]),
            ColumnData::Int64(v) => v[i].map_or(Field::Null, Field::Long),
            ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                v[i].map_or(Field::Null, Field::TimestampMicros)
            }
            ColumnData::Boolean(v) => v[i].map_or(Field::Null, Field::Bool),
            ColumnData::Utf8List(_) => unreachable!(),
        }
    }

    fn check_with_arrow(columns: &[WriteColumn], written: &WrittenFile, label: &str) {
        let reader = arrow_reader(&written.bytes, label);
        let meta = reader.metadata();
        let rows = columns[0].data.len();
        assert_eq!(meta.file_metadata().num_rows(), rows as i64);
        assert_eq!(meta.file_metadata().created_by(), Some(CREATED_BY));
        // Field ids and logical types as arrow-rs sees them.
        let fields = meta
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields();
        assert_eq!(fields.len(), columns.len());
        for (f, col) in fields.iter().zip(columns) {
            let info = f.get_basic_info();
            assert_eq!(info.name(), col.name);
            assert!(info.has_id());
            assert_eq!(info.id(), col.field_id);
            match &col.data {
                ColumnData::Utf8(_) => {
                    assert_eq!(info.logical_type_ref(), Some(&LogicalType::String));
                    assert_eq!(info.converted_type(), ConvertedType::UTF8);
                }
                ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => {
                    assert_eq!(
                        info.logical_type_ref(),
                        Some(&LogicalType::Timestamp(TimestampType {
                            is_adjusted_to_u_t_c: matches!(col.data, ColumnData::TimestampMicros(_)),
                            unit: TimeUnit::MICROS,
                        }))
                    );
                    assert_eq!(info.converted_type(), ConvertedType::TIMESTAMP_MICROS);
                }
                ColumnData::Utf8List(_) => {
                    assert_eq!(info.logical_type_ref(), Some(&LogicalType::List));
                    let list = &f.get_fields()[0];
                    let element = &list.get_fields()[0];
                    assert_eq!(list.name(), "list");
                    assert_eq!(element.name(), "element");
                    assert_eq!(element.get_basic_info().id(), col.element_field_id.unwrap());
                }
                _ => {}
            }
        }
        // Statistics as arrow-rs decodes them.
        for rg in meta.row_groups() {
            for (k, col) in columns.iter().enumerate() {
                let stats = rg.column(k).statistics().unwrap();
                assert!(stats.null_count_opt().is_some());
                if col.name == "ns" {
                    assert!(stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some());
                }
            }
        }
        // Every row through the record API.
        let mut n = 0;
        for (i, row) in reader.get_row_iter(None).unwrap().enumerate() {
            let row = row.unwrap();
            for ((name, field), col) in row.get_column_iter().zip(columns) {
                assert_eq!(name, &col.name);
                if let ColumnData::Utf8List(v) = &col.data {
                    match (&v[i], field) {
                        (None, Field::Null) => {}
                        (Some(want), Field::ListInternal(list)) => {
                            let got: Vec<Option<String>> = list
                                .elements()
                                .iter()
                                .map(|e| match e {
                                    Field::Str(s) => Some(s.clone()),
                                    Field::Null => None,
                                    other => panic!("element {other:?}"),
                                })
                                .collect();
                            assert_eq!(&got, want, "row {i}");
                        }
                        (want, got) => panic!("row {i} inputs: {want:?} vs {got:?}"),
                    }
                } else {
                    assert_eq!(field, &field_of(&col.data, i), "row {i} {}", col.name);
                }
            }
            n += 1;
        }
        assert_eq!(n, rows);
    }

    #[test]
    fn record_schema_round_trips_every_codec() {
        let columns = record_columns(23);
        assert_eq!(columns.len(), COLUMNS.len());
        for (codec, read_codec) in CODECS {
            let written = write_parquet(&columns, codec, 5).unwrap();
            check_with_our_reader(&columns, &written, read_codec, 5);
            check_with_arrow(&columns, &written, &format!("{codec:?}"));
            check_bounds(&columns, &written);
        }
    }

    #[test]
    fn compression_shrinks_the_big_values() {
        let columns = record_columns(23);
        let plain = write_parquet(&columns, WriteCodec::Uncompressed, 23).unwrap();
        for codec in [WriteCodec::Snappy, WriteCodec::Gzip, WriteCodec::Zstd] {
            let small = write_parquet(&columns, codec, 23).unwrap();
            assert!(
                small.bytes.len() * 4 < plain.bytes.len(),
                "{codec:?}: {} vs {}",
                small.bytes.len(),
                plain.bytes.len()
            );
            check_with_our_reader(
                &columns,
                &small,
                CODECS.iter().find(|c| c.0 == codec).unwrap().1,
                23,
            );
        }
    }

    #[test]
    fn one_row_group_per_row_and_one_for_all() {
        let columns = record_columns(6);
        for per in [1, 6, 100, 0] {
            let written = write_parquet(&columns, WriteCodec::Zstd, per).unwrap();
            let per = per.clamp(1, 6);
            check_with_our_reader(&columns, &written, Codec::Zstd, per);
            check_with_arrow(&columns, &written, &format!("per{per}"));
        }
    }

    #[test]
    fn zero_rows() {
        let columns = record_columns(0);
        let written = write_parquet(&columns, WriteCodec::Zstd, 5).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        assert_eq!(footer.num_rows, 0);
        assert!(footer.row_groups.is_empty());
        assert_eq!(footer.columns.len(), COLUMNS.len());
        assert!(written.lower_bounds.is_empty() && written.upper_bounds.is_empty());
        assert!(written.column_sizes.iter().all(|(_, s)| *s == 0));
        check_with_arrow(&columns, &written, "empty");
    }

    #[test]
    fn leaf_columns_and_levels() {
        let written = write_parquet(&record_columns(4), WriteCodec::Uncompressed, 4).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        let ns = &footer.columns[footer.column_by_field_id(1).unwrap()];
        assert_eq!((ns.max_def_level, ns.max_rep_level), (0, 0));
        assert_eq!(ns.physical_type, PhysicalType::ByteArray);
        let md = &footer.columns[footer.column_by_field_id(8).unwrap()];
        assert_eq!((md.max_def_level, md.max_rep_level), (1, 0));
        let inputs = &footer.columns[footer.column_by_field_id(22).unwrap()];
        assert_eq!(inputs.path, ["inputs", "list", "element"]);
        assert_eq!((inputs.max_def_level, inputs.max_rep_level), (3, 1));
        assert_eq!((inputs.list_def_level, inputs.repeated_def_level), (1, 2));
        assert_eq!(
            footer.column_by_name("inputs.list.element"),
            footer.column_by_field_id(22)
        );
        let ts = &footer.columns[footer.column_by_field_id(4).unwrap()];
        assert_eq!(ts.physical_type, PhysicalType::Int64);
        let deleted = &footer.columns[footer.column_by_field_id(21).unwrap()];
        assert_eq!(deleted.physical_type, PhysicalType::Boolean);
    }

    fn one(name: &str, id: i32, required: bool, data: ColumnData) -> WriteColumn {
        WriteColumn {
            name: name.into(),
            field_id: id,
            required,
            element_field_id: matches!(data, ColumnData::Utf8List(_)).then_some(id + 100),
            data,
        }
    }

    fn strs(v: &[Option<&str>]) -> ColumnData {
        ColumnData::Utf8(v.iter().map(|s| s.map(String::from)).collect())
    }

    fn bound(map: &[(i32, Vec<u8>)], id: i32) -> Option<&[u8]> {
        map.iter()
            .find(|(k, _)| *k == id)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn string_truncation() {
        assert_eq!(truncate_lower_bound("short", 16), "short");
        assert_eq!(truncate_upper_bound("short", 16).as_deref(), Some("short"));
        let exact = "abcdefghijklmnop";
        assert_eq!(truncate_lower_bound(exact, 16), exact);
        assert_eq!(truncate_upper_bound(exact, 16).as_deref(), Some(exact));
        let long = "abcdefghijklmnopq";
        assert_eq!(truncate_lower_bound(long, 16), exact);
        assert_eq!(
            truncate_upper_bound(long, 16).as_deref(),
            Some("abcdefghijklmnoq")
        );
        // Multi-byte characters count once.
        let e = "é".repeat(20);
        assert_eq!(truncate_lower_bound(&e, 16), "é".repeat(16));
        assert_eq!(
            truncate_upper_bound(&e, 16),
            Some(format!("{}ê", "é".repeat(15)))
        );
        let emoji = "🎉".repeat(17);
        assert_eq!(truncate_lower_bound(&emoji, 16).len(), 64);
        assert_eq!(
            truncate_upper_bound(&emoji, 16),
            Some(format!("{}🎊", "🎉".repeat(15)))
        );
        // U+10FFFF cannot be incremented: the character before it is.
        let top = format!("ab{}", "\u{10FFFF}".repeat(20));
        assert_eq!(truncate_upper_bound(&top, 16).as_deref(), Some("ac"));
        assert_eq!(truncate_upper_bound(&"\u{10FFFF}".repeat(17), 16), None);
        // Surrogates are skipped.
        let before = format!("{}x", "\u{D7FF}".repeat(16));
        assert_eq!(
            truncate_upper_bound(&before, 16),
            Some(format!("{}\u{E000}", "\u{D7FF}".repeat(15)))
        );
        // Every upper bound is ≥ the value it bounds, bytewise.
        for v in [
            long,
            e.as_str(),
            emoji.as_str(),
            top.as_str(),
            before.as_str(),
        ] {
            let upper = truncate_upper_bound(v, 16).unwrap();
            assert!(upper.as_bytes() >= v.as_bytes(), "{v}");
            assert!(truncate_lower_bound(v, 16).as_bytes() <= v.as_bytes());
        }
    }

    #[test]
    fn iceberg_metrics() {
        let long_id = "docs-guide-getting-started-with-the-store";
        let columns = vec![
            one(
                "id",
                3,
                true,
                strs(&[
                    Some(long_id),
                    Some("b-short"),
                    Some("éééééééééééééééééé"),
                    Some("a"),
                ]),
            ),
            one("md", 8, false, strs(&[None, Some(""), None, Some("x")])),
            one("nothing", 9, false, strs(&[None, None, None, None])),
            one(
                "top",
                10,
                true,
                strs(&[
                    Some("a"),
                    Some(&"\u{10FFFF}".repeat(17)),
                    Some("b"),
                    Some("c"),
                ]),
            ),
            one(
                "ts",
                4,
                true,
                ColumnData::TimestampMicros(vec![Some(5), Some(-7), Some(9), Some(0)]),
            ),
            one(
                "size",
                20,
                false,
                ColumnData::Int64(vec![None, Some(3), Some(i64::MAX), None]),
            ),
            one(
                "deleted",
                21,
                true,
                ColumnData::Boolean(vec![Some(false); 4]),
            ),
            one(
                "flag",
                30,
                false,
                ColumnData::Boolean(vec![None, Some(true), Some(false), None]),
            ),
            one(
                "inputs",
                18,
                false,
                ColumnData::Utf8List(vec![
                    None,
                    Some(vec![]),
                    Some(vec![Some("b/c/d".into()), None]),
                    Some(vec![Some("a/b/c-very-long-reference-id".into())]),
                ]),
            ),
        ];
        let written = write_parquet(&columns, WriteCodec::Zstd, 3).unwrap();
        assert_eq!(written.record_count, 4);
        assert_eq!(written.split_offsets.len(), 2);
        assert_eq!(written.split_offsets[0], 4);
        let ids: Vec<i32> = written.value_counts.iter().map(|(k, _)| *k).collect();
        assert_eq!(ids, [3, 8, 9, 10, 4, 20, 21, 30, 118]);
        let counts: Vec<i64> = written.value_counts.iter().map(|(_, v)| *v).collect();
        // The list: null list, empty list, two elements, one element.
        assert_eq!(counts, [4, 4, 4, 4, 4, 4, 4, 4, 5]);
        let nulls: Vec<i64> = written.null_value_counts.iter().map(|(_, v)| *v).collect();
        assert_eq!(nulls, [0, 2, 4, 0, 0, 2, 0, 2, 3]);
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        for (k, (id, size)) in written.column_sizes.iter().enumerate() {
            let total: u64 = footer
                .row_groups
                .iter()
                .map(|rg| rg.columns[k].total_compressed_size)
                .sum();
            assert_eq!(*size, total as i64, "{id}");
        }

        let lower = &written.lower_bounds;
        let upper = &written.upper_bounds;
        // Strings: the minimum's prefix, the maximum's prefix incremented.
        assert_eq!(bound(lower, 3), Some(&b"a"[..]));
        assert_eq!(bound(upper, 3), Some("éééééééééééééééê".as_bytes()));
        assert_eq!(bound(lower, 8), Some(&b""[..]));
        assert_eq!(bound(upper, 8), Some(&b"x"[..]));
        // All nulls: no bounds.
        assert_eq!(bound(lower, 9), None);
        assert_eq!(bound(upper, 9), None);
        // The maximum cannot be incremented: no upper bound, the lower bound stays.
        assert_eq!(bound(lower, 10), Some(&b"a"[..]));
        assert_eq!(bound(upper, 10), None);
        // Longs and timestamps: 8 bytes little-endian; booleans one byte.
        assert_eq!(bound(lower, 4), Some(&(-7i64).to_le_bytes()[..]));
        assert_eq!(bound(upper, 4), Some(&9i64.to_le_bytes()[..]));
        assert_eq!(bound(lower, 20), Some(&3i64.to_le_bytes()[..]));
        assert_eq!(bound(upper, 20), Some(&i64::MAX.to_le_bytes()[..]));
        assert_eq!(bound(lower, 21), Some(&[0u8][..]));
        assert_eq!(bound(upper, 21), Some(&[0u8][..]));
        assert_eq!(bound(lower, 30), Some(&[0u8][..]));
        assert_eq!(bound(upper, 30), Some(&[1u8][..]));
        // The list element, over its non-null elements.
        assert_eq!(bound(lower, 118), Some("a/b/c-very-long-".as_bytes()));
        assert_eq!(bound(upper, 118), Some(&b"b/c/d"[..]));
        // The bounds admit every value, bytewise.
        for v in [long_id, "b-short", "éééééééééééééééééé", "a"] {
            assert!(bound(lower, 3).unwrap() <= v.as_bytes());
            assert!(bound(upper, 3).unwrap() >= v.as_bytes());
        }
        check_with_arrow(&columns, &written, "metrics");
    }

    #[test]
    fn chunk_statistics_leave_out_large_strings() {
        let big = "x".repeat(MAX_STATISTICS_BYTES + 1);
        let columns = vec![
            one("a", 1, true, strs(&[Some("m"), Some(&big)])),
            one("b", 2, true, strs(&[Some("m"), Some("n")])),
        ];
        let written = write_parquet(&columns, WriteCodec::Uncompressed, 10).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        let a = footer.chunk(0, 0).unwrap().statistics.clone().unwrap();
        assert_eq!(
            (a.min_value, a.max_value, a.null_count),
            (None, None, Some(0))
        );
        let b = footer.chunk(0, 1).unwrap().statistics.clone().unwrap();
        assert_eq!(b.min_value.as_deref(), Some(&b"m"[..]));
        assert_eq!(b.max_value.as_deref(), Some(&b"n"[..]));
        // The file bounds still come from the whole values.
        assert_eq!(bound(&written.lower_bounds, 1), Some(&b"m"[..]));
        assert_eq!(
            bound(&written.upper_bounds, 1),
            Some("xxxxxxxxxxxxxxxy".as_bytes())
        );
    }

    #[test]
    fn gzip_members_are_standard() {
        use std::io::Read;
        let data = "hello gzip ".repeat(1000);
        let gz = gzip(data.as_bytes());
        let mut out = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(gzip(b"").len(), 10 + 2 + 8);
    }

    #[test]
    fn shape_errors() {
        let ok = || one("a", 1, false, strs(&[Some("x"), None]));
        assert_eq!(
            write_parquet(&[], WriteCodec::Zstd, 5),
            Err(ParquetError::InvalidSchema)
        );
        let short = one("b", 2, false, strs(&[Some("x")]));
        assert_eq!(
            write_parquet(&[ok(), short], WriteCodec::Zstd, 5),
            Err(ParquetError::InvalidSchema)
        );
        let mut list = one("l", 3, false, ColumnData::Utf8List(vec![None, None]));
        list.element_field_id = None;
        assert_eq!(
            write_parquet(&[ok(), list], WriteCodec::Zstd, 5),
            Err(ParquetError::InvalidSchema)
        );
        let mut flat = ok();
        flat.element_field_id = Some(9);
        assert_eq!(
            write_parquet(&[flat], WriteCodec::Zstd, 5),
            Err(ParquetError::InvalidSchema)
        );
        let required = one("r", 4, true, strs(&[Some("x"), None]));
        assert_eq!(
            write_parquet(&[ok(), required], WriteCodec::Zstd, 5),
            Err(ParquetError::CorruptValues)
        );
        let required_list = one(
            "rl",
            5,
            true,
            ColumnData::Utf8List(vec![Some(vec![]), None]),
        );
        assert_eq!(
            write_parquet(&[ok(), required_list], WriteCodec::Zstd, 5),
            Err(ParquetError::CorruptValues)
        );
    }

    #[test]
    fn required_list_round_trips() {
        let columns = vec![one(
            "l",
            3,
            true,
            ColumnData::Utf8List(vec![
                Some(vec![]),
                Some(vec![Some("a".into()), None]),
                Some(vec![None]),
            ]),
        )];
        for (codec, read) in CODECS {
            let written = write_parquet(&columns, codec, 2).unwrap();
            check_with_our_reader(&columns, &written, read, 2);
            check_with_arrow(&columns, &written, &format!("rl-{codec:?}"));
        }
    }

    /// xorshift64*: deterministic pseudo-random input.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }

        /// A string of `len` characters, from a small alphabet (compressible) or any character.
        fn string(&mut self, len: usize) -> String {
            let wide = self.below(2) == 0;
            (0..len)
                .map(|_| {
                    if wide {
                        char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{FFFD}')
                    } else {
                        ['a', 'b', 'é', '🎉', ' ', '\n'][self.below(6)]
                    }
                })
                .collect()
        }
    }

    /// Every non-null value lies within the file's bounds (bytewise for strings, signed for
    /// longs); a missing bound only when there are no values, or an upper one for U+10FFFF.
    fn check_bounds(columns: &[WriteColumn], written: &WrittenFile) {
        for col in columns {
            let id = col.element_field_id.unwrap_or(col.field_id);
            let (lower, upper) = (
                bound(&written.lower_bounds, id),
                bound(&written.upper_bounds, id),
            );
            let strings: Vec<&str> = match &col.data {
                ColumnData::Utf8(v) => v.iter().flatten().map(String::as_str).collect(),
                ColumnData::Utf8List(v) => v
                    .iter()
                    .flatten()
                    .flatten()
                    .flatten()
                    .map(String::as_str)
                    .collect(),
                ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                    for x in v.iter().flatten() {
                        assert!(i64::from_le_bytes(lower.unwrap().try_into().unwrap()) <= *x);
                        assert!(i64::from_le_bytes(upper.unwrap().try_into().unwrap()) >= *x);
                    }
                    continue;
                }
                ColumnData::Boolean(_) => continue,
            };
            assert_eq!(lower.is_some(), !strings.is_empty());
            for s in &strings {
                assert!(lower.unwrap() <= s.as_bytes());
                assert!(
                    core::str::from_utf8(lower.unwrap())
                        .unwrap()
                        .chars()
                        .count()
                        <= 16
                );
                match upper {
                    Some(u) => {
                        assert!(u >= s.as_bytes());
                        assert!(core::str::from_utf8(u).unwrap().chars().count() <= 16);
                    }
                    None => assert!(strings.iter().any(|s| s.chars().count() > 16)),
                }
            }
        }
    }

    #[test]
    fn random_columns_round_trip() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..12 {
            let rows = rng.below(60);
            let sizes = [0, 1, 15, 16, 17, 300, 5000, 70_000];
            let strings: Vec<Option<String>> = (0..rows)
                .map(|_| {
                    (rng.below(4) != 0).then(|| {
                        let len = sizes[rng.below(sizes.len() as u64)];
                        rng.string(len)
                    })
                })
                .collect();
            let lists = (0..rows)
                .map(|_| {
                    (rng.below(3) != 0).then(|| {
                        (0..rng.below(5))
                            .map(|_| {
                                (rng.below(5) != 0).then(|| {
                                    let len = rng.below(40);
                                    rng.string(len)
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            let longs = (0..rows)
                .map(|_| (rng.below(5) != 0).then(|| rng.next() as i64))
                .collect();
            let bools = (0..rows)
                .map(|_| (rng.below(5) != 0).then(|| rng.below(2) == 0))
                .collect();
            let columns = vec![
                one("s", 1, false, ColumnData::Utf8(strings)),
                one("l", 2, false, ColumnData::Utf8List(lists)),
                one("n", 3, false, ColumnData::Int64(longs)),
                one(
                    "t",
                    4,
                    false,
                    ColumnData::TimestampMicros(vec![Some(7); rows]),
                ),
                one("b", 5, false, ColumnData::Boolean(bools)),
            ];
            let per = 1 + rng.below(20);
            for (codec, read) in CODECS {
                let written = write_parquet(&columns, codec, per).unwrap();
                if rows > 0 {
                    check_with_our_reader(&columns, &written, read, per);
                }
                check_with_arrow(&columns, &written, &format!("random-{round}-{codec:?}"));
                check_bounds(&columns, &written);
            }
        }
    }

    /// Data pages of one column chunk: (rows in each page).
    fn page_counts(file: &[u8], chunk: &crate::parquet::ColumnChunkInfo) -> Vec<i32> {
        let (start, len) = chunk.range();
        let mut rest = &file[start as usize..(start + len) as usize];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (h, used) = super::super::footer::read_page_header(rest, 1 << 20).unwrap();
            out.push(h.data_page_header.unwrap().num_values);
            rest = &rest[used + h.compressed_page_size as usize..];
        }
        out
    }

    #[test]
    fn large_values_split_pages_at_rows() {
        let big = |i: usize| Some(format!("{i}-{}", "ab".repeat(BIG / 2)));
        let columns = vec![
            one("s", 1, false, ColumnData::Utf8((0..12).map(big).collect())),
            one(
                "l",
                2,
                false,
                ColumnData::Utf8List(
                    (0..12)
                        .map(|i| Some(vec![big(i), None, big(i + 100)]))
                        .collect(),
                ),
            ),
            one("n", 3, true, ColumnData::Int64((0..12).map(Some).collect())),
            // One value larger than a page gets a page of its own.
            one(
                "huge",
                4,
                true,
                ColumnData::Utf8(
                    (0..12)
                        .map(|i| {
                            Some(if i == 5 {
                                "h".repeat(3 << 20)
                            } else {
                                "x".into()
                            })
                        })
                        .collect(),
                ),
            ),
        ];
        for (codec, read) in CODECS {
            let written = write_parquet(&columns, codec, 10).unwrap();
            let file = &written.bytes;
            let footer = parse_footer(file, file.len() as u64).unwrap();
            let pages: Vec<Vec<i32>> = (0..4)
                .map(|k| page_counts(file, footer.chunk(0, k).unwrap()))
                .collect();
            // ~200 KiB per row: a page closes at the row that reaches 1 MiB.
            assert_eq!(pages[0], [6, 4]);
            // ~400 KiB per list: three rows, three entries each.
            assert_eq!(pages[1], [9, 9, 9, 3]);
            assert_eq!(pages[2], [10]);
            assert_eq!(pages[3], [6, 4]);
            let small = DecodeLimits::with_max_page_bytes(2 << 20);
            for k in 0..3 {
                let chunk = footer.chunk(0, k).unwrap();
                let (start, len) = chunk.range();
                decode_column_chunk(&file[start as usize..(start + len) as usize], chunk, small)
                    .unwrap();
            }
            check_with_our_reader(&columns, &written, read, 10);
            check_with_arrow(&columns, &written, &format!("pages-{codec:?}"));
            check_bounds(&columns, &written);
        }
    }

    #[test]
    fn the_page_index_describes_the_pages() {
        use crate::parquet::{decode_page_run, page_runs, pages_may_contain, parse_column_index, parse_offset_index};
        let big = |i: usize| Some(format!("{i}-{}", "ab".repeat(BIG / 2)));
        let rows = 2 * PAGE_ROWS + 7;
        let columns = vec![
            one("s", 1, false, ColumnData::Utf8((0..rows).map(|i| if i % 5000 == 1 { big(i) } else { Some(format!("v{i}")) }).collect())),
            one("id", 3, true, ColumnData::Utf8((0..rows).map(|i| Some(format!("id-{i:06}"))).collect())),
            one("n", 4, false, ColumnData::Int64((0..rows).map(|i| (i % 3 != 0).then_some(i as i64)).collect())),
            one("z", 5, false, ColumnData::Utf8((0..rows).map(|_| None).collect())),
            one("l", 6, false, ColumnData::Utf8List((0..rows).map(|i| Some(vec![Some(format!("e{i}"))])).collect())),
        ];
        let written = write_parquet(&columns, WriteCodec::Snappy, rows).unwrap();
        let file = &written.bytes;
        let footer = parse_footer(file, file.len() as u64).unwrap();
        let slice = |(o, l): (u64, u64)| &file[o as usize..(o + l) as usize];
        let rg_rows = rows as u64;
        for col in 0..5 {
            let chunk = footer.chunk(0, col).unwrap();
            let pages = parse_offset_index(slice(chunk.offset_index.unwrap()), chunk, rg_rows).unwrap();
            assert!(pages.len() >= 3, "col {col}: {} pages (20,000 rows a page)", pages.len());
            if col == 4 {
                assert_eq!(chunk.column_index, None, "no column index for lists");
                continue;
            }
            let (start, len) = chunk.range();
            let whole = decode_column_chunk(&file[start as usize..(start + len) as usize], chunk, DecodeLimits::default()).unwrap();
            for p in 0..pages.len() {
                let run = page_runs(&pages, &[p], rg_rows)[0];
                let got = decode_page_run(None, slice(run.range), chunk, run.end_row - run.first_row, DecodeLimits::default()).unwrap();
                let (a, b) = (run.first_row as usize, run.end_row as usize);
                let want = match &whole {
                    ColumnValues::ByteArray(v) => ColumnValues::ByteArray(v[a..b].to_vec()),
                    ColumnValues::Int64(v) => ColumnValues::Int64(v[a..b].to_vec()),
                    _ => unreachable!(),
                };
                assert_eq!(got, want, "col {col} page {p}");
            }
            match col {
                // A 200 KB value has no bounds: no column index for that chunk.
                0 => assert_eq!(chunk.column_index, None),
                1 => {
                    let bounds = parse_column_index(slice(chunk.column_index.unwrap()), pages.len()).unwrap();
                    for i in [0, 19_999, 20_000, rows - 1] {
                        let keep = pages_may_contain(chunk, &bounds, format!("id-{i:06}").as_bytes());
                        assert_eq!(keep, [i / PAGE_ROWS], "id-{i:06}");
                    }
                }
                3 => {
                    let bounds = parse_column_index(slice(chunk.column_index.unwrap()), pages.len()).unwrap();
                    assert!(bounds.iter().all(|b| b.null_page), "only nulls");
                }
                _ => assert!(chunk.column_index.is_some()),
            }
        }
        // arrow-rs reads the same page index.
        use arrow_parquet::file::reader::FileReader;
        let options = arrow_parquet::file::serialized_reader::ReadOptionsBuilder::new().with_page_index().build();
        let path = std::env::temp_dir().join(format!("shared-parquet-page-index-{}.parquet", std::process::id()));
        std::fs::write(&path, file).unwrap();
        let reader = SerializedFileReader::new_with_options(std::fs::File::open(&path).unwrap(), options).unwrap();
        let _ = std::fs::remove_file(&path);
        let index = reader.metadata().page_index_for_row_group(0);
        let ours = parse_offset_index(slice(footer.chunk(0, 1).unwrap().offset_index.unwrap()), footer.chunk(0, 1).unwrap(), rg_rows).unwrap();
        let theirs = index.offset_index(1).expect("offset index").page_locations();
        assert_eq!(theirs.len(), ours.len());
        for (t, o) in theirs.iter().zip(&ours) {
            assert_eq!((t.offset as u64, t.compressed_page_size as u64, t.first_row_index as u64), (o.offset, o.length, o.first_row));
        }
        assert!(index.column_index(1).is_some(), "arrow-rs reads the id column index");
    }
}
