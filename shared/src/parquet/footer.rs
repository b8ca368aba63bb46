//! The footer: locating it from a file suffix, parsing `FileMetaData`, flattening the schema.

use alloc::string::String;
use alloc::vec::Vec;

use parquet_format_safe as pf;
use parquet_format_safe::thrift::protocol::TCompactInputProtocol;

use super::error::{FooterNeeds, ParquetError};

/// How many bytes at the end of a file to read first: most footers fit, so one read usually
/// suffices.
pub const FOOTER_GUESS: u64 = 64 * 1024;

/// Longest footer (`FileMetaData` thrift) [`parse_footer`] accepts.
pub const DEFAULT_MAX_FOOTER_BYTES: u64 = 16 * 1024 * 1024;

/// `PAR1`.
const MAGIC: &[u8; 4] = b"PAR1";

/// Deepest schema nesting accepted (the record schema has depth 3).
const MAX_SCHEMA_DEPTH: usize = 64;

/// The range to read first: `(offset, length)` of the file's last [`FOOTER_GUESS`] bytes (the
/// whole file when it is smaller).
pub fn footer_range(file_size: u64) -> (u64, u64) {
    let length = file_size.min(FOOTER_GUESS);
    (file_size.saturating_sub(length), length)
}

/// Physical (storage) type of a leaf column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalType {
    /// BOOLEAN.
    Boolean,
    /// INT32.
    Int32,
    /// INT64 (also `timestamptz` micros).
    Int64,
    /// INT96 (legacy timestamps).
    Int96,
    /// FLOAT.
    Float,
    /// DOUBLE.
    Double,
    /// BYTE_ARRAY (strings, binary).
    ByteArray,
    /// FIXED_LEN_BYTE_ARRAY.
    FixedLenByteArray,
}

impl PhysicalType {
    fn from_thrift(t: pf::Type) -> Option<Self> {
        Some(match t {
            pf::Type::BOOLEAN => Self::Boolean,
            pf::Type::INT32 => Self::Int32,
            pf::Type::INT64 => Self::Int64,
            pf::Type::INT96 => Self::Int96,
            pf::Type::FLOAT => Self::Float,
            pf::Type::DOUBLE => Self::Double,
            pf::Type::BYTE_ARRAY => Self::ByteArray,
            pf::Type::FIXED_LEN_BYTE_ARRAY => Self::FixedLenByteArray,
            _ => return None,
        })
    }
}

/// Compression codec of a column chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// UNCOMPRESSED.
    Uncompressed,
    /// SNAPPY (raw snappy blocks).
    Snappy,
    /// GZIP (gzip members).
    Gzip,
    /// LZO (not decoded).
    Lzo,
    /// BROTLI (not decoded).
    Brotli,
    /// LZ4 (deprecated; Hadoop framing, or a raw block from some writers).
    Lz4,
    /// ZSTD.
    Zstd,
    /// LZ4_RAW (one raw LZ4 block).
    Lz4Raw,
    /// A codec number this reader does not know.
    Other(i32),
}

impl Codec {
    fn from_thrift(c: pf::CompressionCodec) -> Self {
        match c {
            pf::CompressionCodec::UNCOMPRESSED => Self::Uncompressed,
            pf::CompressionCodec::SNAPPY => Self::Snappy,
            pf::CompressionCodec::GZIP => Self::Gzip,
            pf::CompressionCodec::LZO => Self::Lzo,
            pf::CompressionCodec::BROTLI => Self::Brotli,
            pf::CompressionCodec::LZ4 => Self::Lz4,
            pf::CompressionCodec::ZSTD => Self::Zstd,
            pf::CompressionCodec::LZ4_RAW => Self::Lz4Raw,
            other => Self::Other(other.0),
        }
    }
}

/// Column statistics as stored (raw PLAIN-encoded bytes, no interpretation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Deprecated `min` (signed comparison; unreliable for byte arrays from old writers).
    pub min: Option<Vec<u8>>,
    /// Deprecated `max`.
    pub max: Option<Vec<u8>>,
    /// `min_value`, ordered by the column's sort order (bytewise for BYTE_ARRAY).
    pub min_value: Option<Vec<u8>>,
    /// `max_value`.
    pub max_value: Option<Vec<u8>>,
    /// Number of nulls, when written.
    pub null_count: Option<i64>,
}

impl Statistics {
    fn from_thrift(s: pf::Statistics) -> Self {
        Statistics { min: s.min, max: s.max, min_value: s.min_value, max_value: s.max_value, null_count: s.null_count }
    }
}

/// A leaf column of the schema, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafColumn {
    /// Names from the top-level field down to the leaf (`["inputs", "list", "element"]`).
    pub path: Vec<String>,
    /// The leaf's `field_id` (Iceberg field id), when written.
    pub field_id: Option<i32>,
    /// `field_id` of the top-level field this leaf belongs to (equal to `field_id` for flat
    /// columns; the list's id for a list element).
    pub top_field_id: Option<i32>,
    /// Physical type.
    pub physical_type: PhysicalType,
    /// Maximum definition level (0 for a required top-level column, 1 for an optional one).
    pub max_def_level: u16,
    /// Maximum repetition level (0 unless inside a repeated field).
    pub max_rep_level: u16,
    /// Definition level of the innermost repeated field's parent (the list itself): a row whose
    /// level is below it is a null list (0 when not repeated).
    pub list_def_level: u16,
    /// Definition level of the innermost repeated field: entries at or above it are elements,
    /// below it (and at least `list_def_level`) an empty list (0 when not repeated).
    pub repeated_def_level: u16,
}

/// One column chunk of one row group: where its bytes are and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChunkInfo {
    /// Index of the leaf in [`Footer::columns`].
    pub column: usize,
    /// Names from the top-level field down to the leaf.
    pub path: Vec<String>,
    /// The leaf's Parquet `field_id`, when written.
    pub field_id: Option<i32>,
    /// Physical type.
    pub physical_type: PhysicalType,
    /// Maximum definition level.
    pub max_def_level: u16,
    /// Maximum repetition level.
    pub max_rep_level: u16,
    /// See [`LeafColumn::list_def_level`].
    pub list_def_level: u16,
    /// See [`LeafColumn::repeated_def_level`].
    pub repeated_def_level: u16,
    /// Compression codec of every page.
    pub codec: Codec,
    /// File offset of the first data page.
    pub data_page_offset: u64,
    /// File offset of the dictionary page, when the writer set one (0 is treated as absent).
    pub dictionary_page_offset: Option<u64>,
    /// Compressed size of all pages, headers included.
    pub total_compressed_size: u64,
    /// Number of values (rows, for non-repeated columns; nulls included).
    pub num_values: u64,
    /// Chunk statistics, when written.
    pub statistics: Option<Statistics>,
    /// `(offset, length)` of the chunk's offset index (where each page starts, its first row),
    /// when written and within the file's data.
    pub offset_index: Option<(u64, u64)>,
    /// `(offset, length)` of the chunk's column index (per-page min/max), when written and
    /// within the file's data.
    pub column_index: Option<(u64, u64)>,
}

impl ColumnChunkInfo {
    /// `(offset, length)` of the chunk's bytes: from the dictionary page (when there is one)
    /// through the last data page.
    pub fn range(&self) -> (u64, u64) {
        (self.start(), self.total_compressed_size)
    }

    /// File offset of the chunk's first page (the dictionary page, when there is one).
    pub fn start(&self) -> u64 {
        match self.dictionary_page_offset {
            Some(d) if d < self.data_page_offset => d,
            _ => self.data_page_offset,
        }
    }
}

/// One row group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowGroupInfo {
    /// Number of rows.
    pub num_rows: u64,
    /// One chunk per leaf column, in [`Footer::columns`] order.
    pub columns: Vec<ColumnChunkInfo>,
}

/// The parsed footer of a Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Size of the file the footer was read from.
    pub file_size: u64,
    /// Total number of rows.
    pub num_rows: u64,
    /// Leaf columns in file order.
    pub columns: Vec<LeafColumn>,
    /// Row groups in file order.
    pub row_groups: Vec<RowGroupInfo>,
    /// The writer (`created_by`), when written.
    pub created_by: Option<String>,
}

impl Footer {
    /// Index of the leaf column whose Parquet `field_id` is `id` (see [`LeafColumn::field_id`]).
    pub fn column_by_field_id(&self, id: i32) -> Option<usize> {
        self.columns.iter().position(|c| c.field_id == Some(id))
    }

    /// Index of the leaf column named `name`: its dotted path (`inputs.list.element`), else the
    /// first leaf under a top-level field of that name. For files written without field ids.
    pub fn column_by_name(&self, name: &str) -> Option<usize> {
        let dotted = |c: &LeafColumn| {
            let mut parts = name.split('.');
            c.path.iter().all(|p| parts.next() == Some(p.as_str())) && parts.next().is_none()
        };
        self.columns.iter().position(dotted).or_else(|| self.columns.iter().position(|c| c.path.first().map(String::as_str) == Some(name)))
    }

    /// The chunk of leaf `column` in row group `row_group`.
    pub fn chunk(&self, row_group: usize, column: usize) -> Option<&ColumnChunkInfo> {
        self.row_groups.get(row_group)?.columns.get(column)
    }
}

/// [`parse_footer_with_limit`] with [`DEFAULT_MAX_FOOTER_BYTES`].
pub fn parse_footer(tail: &[u8], file_size: u64) -> Result<Footer, FooterNeeds> {
    parse_footer_with_limit(tail, file_size, DEFAULT_MAX_FOOTER_BYTES)
}

/// Parses the footer from `tail`, the last `tail.len()` bytes of a file of `file_size` bytes
/// (start with [`footer_range`]). When the footer starts before `tail`, returns
/// [`FooterNeeds::More`] with the missing range: fetch it, prepend it to `tail`, call again.
pub fn parse_footer_with_limit(tail: &[u8], file_size: u64, max_footer_bytes: u64) -> Result<Footer, FooterNeeds> {
    let tail_len = tail.len() as u64;
    if tail_len > file_size {
        return Err(ParquetError::TailLongerThanFile.into());
    }
    // PAR1 + footer length + PAR1.
    if file_size < 12 {
        return Err(ParquetError::FileTooSmall.into());
    }
    if tail_len < 8 {
        return Err(FooterNeeds::More { offset: file_size - 8, length: 8 - tail_len });
    }
    let n = tail.len();
    let (rest, magic) = tail.split_at(n - 4);
    if magic != MAGIC {
        return Err(ParquetError::BadMagic.into());
    }
    let (rest, len_bytes) = rest.split_at(n - 8);
    let len = i32::from_le_bytes(array4(len_bytes)?);
    let len = u64::try_from(len).map_err(|_| ParquetError::FooterLength)?;
    // The footer, its length and both magics must fit in the file.
    if len.checked_add(12).is_none_or(|need| need > file_size) {
        return Err(ParquetError::FooterLength.into());
    }
    if len > max_footer_bytes {
        return Err(ParquetError::FooterTooLarge.into());
    }
    let have = tail_len - 8;
    if len > have {
        let footer_start = file_size - 8 - len;
        return Err(FooterNeeds::More { offset: footer_start, length: len - have });
    }
    let len_usize = usize::try_from(len).map_err(|_| ParquetError::FooterTooLarge)?;
    let start = rest.len() - len_usize;
    let bytes = rest.get(start..).ok_or(ParquetError::FooterLength)?;
    let meta = read_file_metadata(bytes)?;
    let footer_start = file_size - 8 - len;
    Ok(build_footer(meta, file_size, footer_start)?)
}

fn array4(b: &[u8]) -> Result<[u8; 4], ParquetError> {
    <[u8; 4]>::try_from(b).map_err(|_| ParquetError::FooterLength)
}

/// Thrift allocation budget for `len` bytes of thrift: lists are charged 8 bytes per element,
/// so small-integer lists cost more than their encoding; 4× plus slack covers real footers.
fn thrift_budget(len: usize) -> usize {
    len.saturating_mul(4).saturating_add(4096)
}

fn read_file_metadata(bytes: &[u8]) -> Result<pf::FileMetaData, ParquetError> {
    let mut cursor = bytes;
    let mut prot = TCompactInputProtocol::new(&mut cursor, thrift_budget(bytes.len()));
    let meta = pf::FileMetaData::read_from_in_protocol(&mut prot).map_err(|_| ParquetError::CorruptFooter)?;
    if !cursor.is_empty() {
        return Err(ParquetError::CorruptFooter);
    }
    Ok(meta)
}

/// Reads one page header from the start of `bytes`; returns it and its encoded length.
pub(super) fn read_page_header(bytes: &[u8], budget: usize) -> Result<(pf::PageHeader, usize), ParquetError> {
    let mut cursor = bytes;
    let mut prot = TCompactInputProtocol::new(&mut cursor, budget);
    let header = pf::PageHeader::read_from_in_protocol(&mut prot).map_err(|_| ParquetError::CorruptPageHeader)?;
    let used = bytes.len() - cursor.len();
    Ok((header, used))
}

struct Frame {
    remaining: usize,
    def: u16,
    rep: u16,
    /// (definition level of the innermost repeated node's parent, of the repeated node).
    list: (u16, u16),
}

/// Flattens the schema (depth-first, as column chunks are ordered) into leaves, without
/// recursion.
fn leaves(schema: &[pf::SchemaElement]) -> Result<Vec<LeafColumn>, ParquetError> {
    let (root, rest) = schema.split_first().ok_or(ParquetError::InvalidSchema)?;
    let root_children = usize::try_from(root.num_children.unwrap_or(0)).map_err(|_| ParquetError::InvalidSchema)?;
    if root_children == 0 || root_children > rest.len() {
        return Err(ParquetError::InvalidSchema);
    }
    let mut stack = alloc::vec![Frame { remaining: root_children, def: 0, rep: 0, list: (0, 0) }];
    let mut path: Vec<String> = Vec::new();
    let mut top_ids: Vec<Option<i32>> = Vec::new();
    let mut out = Vec::new();
    let mut elements = rest.iter();
    while let Some(parent) = stack.last_mut() {
        if parent.remaining == 0 {
            stack.pop();
            path.pop();
            top_ids.pop();
            continue;
        }
        parent.remaining -= 1;
        let (pdef, prep, plist) = (parent.def, parent.rep, parent.list);
        let el = elements.next().ok_or(ParquetError::InvalidSchema)?;
        let rep_type = el.repetition_type.ok_or(ParquetError::InvalidSchema)?;
        let (def, rep) = match rep_type {
            pf::FieldRepetitionType::REQUIRED => (pdef, prep),
            pf::FieldRepetitionType::OPTIONAL => (pdef.checked_add(1).ok_or(ParquetError::InvalidSchema)?, prep),
            pf::FieldRepetitionType::REPEATED => {
                (pdef.checked_add(1).ok_or(ParquetError::InvalidSchema)?, prep.checked_add(1).ok_or(ParquetError::InvalidSchema)?)
            }
            _ => return Err(ParquetError::InvalidSchema),
        };
        let list = if rep_type == pf::FieldRepetitionType::REPEATED { (pdef, def) } else { plist };
        let children = usize::try_from(el.num_children.unwrap_or(0)).map_err(|_| ParquetError::InvalidSchema)?;
        if children > 0 {
            if stack.len() >= MAX_SCHEMA_DEPTH {
                return Err(ParquetError::InvalidSchema);
            }
            path.push(el.name.clone());
            let top = top_ids.first().copied().unwrap_or(el.field_id);
            top_ids.push(top);
            stack.push(Frame { remaining: children, def, rep, list });
        } else {
            let ty = el.type_.and_then(PhysicalType::from_thrift).ok_or(ParquetError::InvalidSchema)?;
            let mut leaf_path = path.clone();
            leaf_path.push(el.name.clone());
            out.push(LeafColumn {
                path: leaf_path,
                field_id: el.field_id,
                top_field_id: top_ids.first().copied().unwrap_or(el.field_id),
                physical_type: ty,
                max_def_level: def,
                max_rep_level: rep,
                list_def_level: list.0,
                repeated_def_level: list.1,
            });
        }
    }
    if elements.next().is_some() {
        return Err(ParquetError::InvalidSchema);
    }
    Ok(out)
}

/// `(offset, length)` of a page index structure when both are set and it lies in `4..data_end`.
fn index_range(offset: Option<i64>, length: Option<i32>, data_end: u64) -> Option<(u64, u64)> {
    let offset = u64::try_from(offset?).ok()?;
    let length = u64::try_from(length?).ok()?;
    (offset >= 4 && length > 0 && offset.checked_add(length)? <= data_end).then_some((offset, length))
}

fn non_negative(v: i64) -> Result<u64, ParquetError> {
    u64::try_from(v).map_err(|_| ParquetError::InvalidColumnMeta)
}

fn build_footer(meta: pf::FileMetaData, file_size: u64, data_end: u64) -> Result<Footer, ParquetError> {
    let columns = leaves(&meta.schema)?;
    let num_rows = u64::try_from(meta.num_rows).map_err(|_| ParquetError::InvalidColumnMeta)?;
    let mut row_groups = Vec::new();
    for rg in meta.row_groups {
        if rg.columns.len() != columns.len() {
            return Err(ParquetError::InvalidSchema);
        }
        let rg_rows = non_negative(rg.num_rows)?;
        let mut chunks = Vec::new();
        for (index, (cc, leaf)) in rg.columns.into_iter().zip(columns.iter()).enumerate() {
            if cc.file_path.is_some() {
                return Err(ParquetError::Unsupported("column chunks stored in another file"));
            }
            let Some(cm) = cc.meta_data else {
                return Err(ParquetError::Unsupported("encrypted column metadata"));
            };
            if PhysicalType::from_thrift(cm.type_) != Some(leaf.physical_type) {
                return Err(ParquetError::InvalidColumnMeta);
            }
            let data_page_offset = non_negative(cm.data_page_offset)?;
            let dictionary_page_offset = match cm.dictionary_page_offset {
                // Some writers put 0 for "no dictionary"; no page can start inside the magic.
                Some(d) if d >= 4 => Some(non_negative(d)?),
                _ => None,
            };
            let chunk = ColumnChunkInfo {
                column: index,
                path: leaf.path.clone(),
                field_id: leaf.field_id,
                physical_type: leaf.physical_type,
                max_def_level: leaf.max_def_level,
                max_rep_level: leaf.max_rep_level,
                list_def_level: leaf.list_def_level,
                repeated_def_level: leaf.repeated_def_level,
                codec: Codec::from_thrift(cm.codec),
                data_page_offset,
                dictionary_page_offset,
                total_compressed_size: non_negative(cm.total_compressed_size)?,
                num_values: non_negative(cm.num_values)?,
                statistics: cm.statistics.map(Statistics::from_thrift),
                // A page index outside the data is ignored (the chunk is then read whole).
                offset_index: index_range(cc.offset_index_offset, cc.offset_index_length, data_end),
                column_index: index_range(cc.column_index_offset, cc.column_index_length, data_end),
            };
            let (start, len) = chunk.range();
            let end = start.checked_add(len).ok_or(ParquetError::InvalidColumnMeta)?;
            if start < 4 || end > data_end || data_page_offset >= end {
                return Err(ParquetError::InvalidColumnMeta);
            }
            chunks.push(chunk);
        }
        row_groups.push(RowGroupInfo { num_rows: rg_rows, columns: chunks });
    }
    Ok(Footer { file_size, num_rows, columns, row_groups, created_by: meta.created_by })
}
