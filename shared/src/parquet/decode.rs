//! Decoding one column chunk (dictionary page, data pages v1 and v2) into values.

use alloc::vec::Vec;

use parquet_format_safe as pf;

use super::codec::decompress;
use super::error::ParquetError;
use super::footer::{read_page_header, ColumnChunkInfo, PhysicalType};
use super::levels::{bit_width, decode_delta_binary_packed, decode_hybrid};

/// Default largest page, compressed or decompressed.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Default largest number of values (rows) in one column chunk, and in one dictionary.
pub const DEFAULT_MAX_VALUES: usize = 4 * 1024 * 1024;

/// Bounds on what decoding may allocate, checked before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest page (compressed and decompressed size, each).
    pub max_page_bytes: usize,
    /// Largest number of values in a chunk (nulls included) and in a dictionary.
    pub max_values: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_page_bytes: DEFAULT_MAX_PAGE_BYTES, max_values: DEFAULT_MAX_VALUES }
    }
}

impl DecodeLimits {
    /// Default limits with `max_page_bytes` pages.
    pub fn with_max_page_bytes(max_page_bytes: usize) -> Self {
        DecodeLimits { max_page_bytes, ..Self::default() }
    }
}

/// The values of one column chunk, one entry per row (`None` for null), by physical type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnValues {
    /// BYTE_ARRAY (strings as UTF-8 bytes, unchecked).
    ByteArray(Vec<Option<Vec<u8>>>),
    /// INT64 (`long`, `timestamptz` micros).
    Int64(Vec<Option<i64>>),
    /// INT32.
    Int32(Vec<Option<i32>>),
    /// BOOLEAN.
    Boolean(Vec<Option<bool>>),
    /// A list of BYTE_ARRAY (`list<string>`, the record's `inputs`): per row a null list or a
    /// list of (nullable) elements.
    ByteArrayList(Vec<Option<Vec<Option<Vec<u8>>>>>),
}

impl ColumnValues {
    /// Number of values (rows).
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::ByteArray(v) => v.len(),
            ColumnValues::Int64(v) => v.len(),
            ColumnValues::Int32(v) => v.len(),
            ColumnValues::Boolean(v) => v.len(),
            ColumnValues::ByteArrayList(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes a whole column chunk: `bytes` are exactly the chunk's range
/// ([`ColumnChunkInfo::range`], dictionary page included) and `meta` its footer entry.
///
/// Lists of BYTE_ARRAY (one repetition level) come back as [`ColumnValues::ByteArrayList`], one
/// entry per row. Deeper nesting, lists of other types and physical types other than
/// BYTE_ARRAY, INT64, INT32 and BOOLEAN are [`ParquetError::Unsupported`].
pub fn decode_column_chunk(bytes: &[u8], meta: &ColumnChunkInfo, limits: DecodeLimits) -> Result<ColumnValues, ParquetError> {
    if meta.max_rep_level > 1 {
        return Err(ParquetError::Unsupported("nested lists (repetition depth above 1)"));
    }
    if meta.max_rep_level == 1 {
        if meta.physical_type != PhysicalType::ByteArray {
            return Err(ParquetError::Unsupported("lists of values other than BYTE_ARRAY"));
        }
        let entries = decode_entries::<Vec<u8>>(bytes, meta, limits)?;
        return Ok(ColumnValues::ByteArrayList(assemble_lists(
            entries,
            u32::from(meta.list_def_level),
            u32::from(meta.repeated_def_level),
        )?));
    }
    Ok(match meta.physical_type {
        PhysicalType::ByteArray => ColumnValues::ByteArray(decode_typed::<Vec<u8>>(bytes, meta, limits)?),
        PhysicalType::Int64 => ColumnValues::Int64(decode_typed::<i64>(bytes, meta, limits)?),
        PhysicalType::Int32 => ColumnValues::Int32(decode_typed::<i32>(bytes, meta, limits)?),
        PhysicalType::Boolean => ColumnValues::Boolean(decode_typed::<bool>(bytes, meta, limits)?),
        PhysicalType::Int96 => return Err(ParquetError::Unsupported("INT96 columns")),
        PhysicalType::Float => return Err(ParquetError::Unsupported("FLOAT columns")),
        PhysicalType::Double => return Err(ParquetError::Unsupported("DOUBLE columns")),
        PhysicalType::FixedLenByteArray => return Err(ParquetError::Unsupported("FIXED_LEN_BYTE_ARRAY columns")),
    })
}

/// A physical type's value decoders.
trait Value: Clone + Sized {
    /// `n` PLAIN values from the front of `data`.
    fn plain(data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError>;
    /// `n` values of another (non-dictionary) encoding.
    fn other(encoding: pf::Encoding, data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        let _ = (data, n);
        Err(unsupported_encoding(encoding))
    }
}

fn unsupported_encoding(e: pf::Encoding) -> ParquetError {
    ParquetError::Unsupported(match e {
        pf::Encoding::DELTA_BINARY_PACKED => "DELTA_BINARY_PACKED encoding for this type",
        pf::Encoding::DELTA_LENGTH_BYTE_ARRAY => "DELTA_LENGTH_BYTE_ARRAY encoding",
        pf::Encoding::DELTA_BYTE_ARRAY => "DELTA_BYTE_ARRAY encoding",
        pf::Encoding::BYTE_STREAM_SPLIT => "BYTE_STREAM_SPLIT encoding",
        pf::Encoding::RLE => "RLE encoding for this type",
        pf::Encoding::BIT_PACKED => "BIT_PACKED encoding",
        _ => "unknown encoding",
    })
}

fn fixed_plain<const N: usize, T>(data: &[u8], n: usize, f: fn([u8; N]) -> T) -> Result<Vec<T>, ParquetError> {
    let need = n.checked_mul(N).ok_or(ParquetError::CorruptValues)?;
    let bytes = data.get(..need).ok_or(ParquetError::CorruptValues)?;
    let mut out = Vec::with_capacity(n);
    for c in bytes.chunks_exact(N) {
        let a = <[u8; N]>::try_from(c).map_err(|_| ParquetError::CorruptValues)?;
        out.push(f(a));
    }
    Ok(out)
}

impl Value for i32 {
    fn plain(data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        fixed_plain::<4, i32>(data, n, i32::from_le_bytes)
    }
    fn other(encoding: pf::Encoding, data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        if encoding != pf::Encoding::DELTA_BINARY_PACKED {
            return Err(unsupported_encoding(encoding));
        }
        // Writers compute INT32 deltas in 32-bit wrapping arithmetic; truncation recovers them.
        let (v, _) = decode_delta_binary_packed(data, n)?;
        Ok(v.into_iter().map(|x| x as i32).collect())
    }
}

impl Value for i64 {
    fn plain(data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        fixed_plain::<8, i64>(data, n, i64::from_le_bytes)
    }
    fn other(encoding: pf::Encoding, data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        if encoding != pf::Encoding::DELTA_BINARY_PACKED {
            return Err(unsupported_encoding(encoding));
        }
        Ok(decode_delta_binary_packed(data, n)?.0)
    }
}

impl Value for bool {
    fn plain(data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        let need = n.div_ceil(8);
        let bytes = data.get(..need).ok_or(ParquetError::CorruptValues)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let byte = bytes.get(i / 8).ok_or(ParquetError::CorruptValues)?;
            out.push((byte >> (i % 8)) & 1 == 1);
        }
        Ok(out)
    }
    fn other(encoding: pf::Encoding, data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        if encoding != pf::Encoding::RLE {
            return Err(unsupported_encoding(encoding));
        }
        // 4-byte little-endian length, then the hybrid runs with bit width 1.
        let (len, rest) = data.split_at_checked(4).ok_or(ParquetError::CorruptValues)?;
        let len = u32::from_le_bytes(<[u8; 4]>::try_from(len).map_err(|_| ParquetError::CorruptValues)?) as usize;
        let runs = rest.get(..len).ok_or(ParquetError::CorruptValues)?;
        let mut v = Vec::new();
        decode_hybrid(runs, 1, n, &mut v, ParquetError::CorruptValues)?;
        Ok(v.into_iter().map(|b| b == 1).collect())
    }
}

impl Value for Vec<u8> {
    fn plain(mut data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        // Each value takes at least its 4-byte length: bound `n` before allocating.
        if n > data.len() / 4 {
            return Err(ParquetError::CorruptValues);
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (len, rest) = data.split_at_checked(4).ok_or(ParquetError::CorruptValues)?;
            let len = u32::from_le_bytes(<[u8; 4]>::try_from(len).map_err(|_| ParquetError::CorruptValues)?) as usize;
            let (value, rest) = rest.split_at_checked(len).ok_or(ParquetError::CorruptValues)?;
            out.push(value.to_vec());
            data = rest;
        }
        Ok(out)
    }
    fn other(encoding: pf::Encoding, data: &[u8], n: usize) -> Result<Vec<Self>, ParquetError> {
        match encoding {
            pf::Encoding::DELTA_LENGTH_BYTE_ARRAY => Ok(delta_length_byte_array(data, n)?.0),
            pf::Encoding::DELTA_BYTE_ARRAY => {
                // Prefix lengths (shared with the previous value), then the suffixes.
                let (prefixes, used) = decode_delta_binary_packed(data, n)?;
                if prefixes.len() != n {
                    return Err(ParquetError::CorruptValues);
                }
                let rest = data.get(used..).ok_or(ParquetError::CorruptValues)?;
                let (suffixes, _) = delta_length_byte_array(rest, n)?;
                let mut out: Vec<Vec<u8>> = Vec::with_capacity(n);
                let mut prev: &[u8] = &[];
                for (prefix, suffix) in prefixes.into_iter().zip(suffixes) {
                    let prefix = usize::try_from(prefix).map_err(|_| ParquetError::CorruptValues)?;
                    let mut value = prev.get(..prefix).ok_or(ParquetError::CorruptValues)?.to_vec();
                    value.extend_from_slice(&suffix);
                    out.push(value);
                    prev = out.last().map(Vec::as_slice).unwrap_or(&[]);
                }
                Ok(out)
            }
            other => Err(unsupported_encoding(other)),
        }
    }
}

/// DELTA_LENGTH_BYTE_ARRAY: `n` lengths (DELTA_BINARY_PACKED), then the bytes back to back.
/// Returns the values and the bytes consumed.
fn delta_length_byte_array(data: &[u8], n: usize) -> Result<(Vec<Vec<u8>>, usize), ParquetError> {
    let (lengths, used) = decode_delta_binary_packed(data, n)?;
    if lengths.len() != n {
        return Err(ParquetError::CorruptValues);
    }
    let mut rest = data.get(used..).ok_or(ParquetError::CorruptValues)?;
    let mut out = Vec::with_capacity(n);
    for len in lengths {
        let len = usize::try_from(len).map_err(|_| ParquetError::CorruptValues)?;
        let (value, tail) = rest.split_at_checked(len).ok_or(ParquetError::CorruptValues)?;
        out.push(value.to_vec());
        rest = tail;
    }
    Ok((out, data.len() - rest.len()))
}

fn size(v: i32, limit: usize) -> Result<usize, ParquetError> {
    let v = usize::try_from(v).map_err(|_| ParquetError::PageSizeMismatch)?;
    if v > limit {
        return Err(ParquetError::PageTooLarge);
    }
    Ok(v)
}

fn count(v: i32, limit: usize) -> Result<usize, ParquetError> {
    let v = usize::try_from(v).map_err(|_| ParquetError::CorruptPageHeader)?;
    if v > limit {
        return Err(ParquetError::TooManyValues);
    }
    Ok(v)
}

/// One entry per level of the chunk: the value (or null) and, for repeated columns only, the
/// repetition and definition levels to assemble lists from.
struct Entries<T> {
    values: Vec<Option<T>>,
    reps: Vec<u32>,
    defs: Vec<u32>,
}

fn decode_typed<T: Value>(bytes: &[u8], meta: &ColumnChunkInfo, limits: DecodeLimits) -> Result<Vec<Option<T>>, ParquetError> {
    Ok(decode_entries(bytes, meta, limits)?.values)
}

/// Decodes the chunk page by page until it holds the entries its footer promises.
fn decode_entries<T: Value>(bytes: &[u8], meta: &ColumnChunkInfo, limits: DecodeLimits) -> Result<Entries<T>, ParquetError> {
    let mut chunk = ChunkDecoder::new(meta, limits)?;
    let mut rest = bytes;
    while !chunk.is_complete() {
        let page = next_page(&mut rest, limits)?;
        chunk.take(page)?;
    }
    Ok(chunk.entries)
}

/// One page cut from the front of a chunk: its header, its body as stored, and the size the
/// header says that body decompresses to.
struct Page<'a> {
    header: pf::PageHeader,
    body: &'a [u8],
    uncompressed: usize,
}

/// Cuts the next page off the front of `rest`, both its sizes bounded by `limits` before anything
/// is allocated for it.
fn next_page<'a>(rest: &mut &'a [u8], limits: DecodeLimits) -> Result<Page<'a>, ParquetError> {
    if rest.is_empty() {
        return Err(ParquetError::TruncatedChunk);
    }
    // Thrift budget: the header cannot hold more than its bytes, lists are charged 8 per item.
    let budget = rest.len().min(limits.max_page_bytes).saturating_mul(8).saturating_add(1024);
    let (header, used) = read_page_header(rest, budget)?;
    let after_header = rest.get(used..).ok_or(ParquetError::CorruptPageHeader)?;
    let compressed = size(header.compressed_page_size, limits.max_page_bytes)?;
    let uncompressed = size(header.uncompressed_page_size, limits.max_page_bytes)?;
    let (body, after) = after_header.split_at_checked(compressed).ok_or(ParquetError::TruncatedPage)?;
    *rest = after;
    Ok(Page { header, body, uncompressed })
}

/// The levels a column's data pages carry: each maximum (0: none of that kind) and its bit width.
#[derive(Debug, Clone, Copy)]
struct LevelShape {
    max_rep: u32,
    rep_width: u32,
    max_def: u32,
    def_width: u32,
}

/// One data page's levels; `None` where the column has none of that kind.
struct PageLevels {
    reps: Option<Vec<u32>>,
    defs: Option<Vec<u32>>,
}

impl LevelShape {
    fn of(meta: &ColumnChunkInfo) -> Self {
        let max_rep = u32::from(meta.max_rep_level);
        let max_def = u32::from(meta.max_def_level);
        LevelShape { max_rep, rep_width: bit_width(max_rep), max_def, def_width: bit_width(max_def) }
    }

    /// Data page v1: repetition levels come first, then definition levels, each with its length
    /// prefix, at the front of the decompressed `page`, which is left at the values.
    fn read_v1(&self, page: &mut &[u8], header: &pf::DataPageHeader, n: usize) -> Result<PageLevels, ParquetError> {
        let reps =
            if self.max_rep > 0 { Some(levels_v1(page, header.repetition_level_encoding, self.rep_width, n, self.max_rep)?) } else { None };
        let defs =
            if self.max_def > 0 { Some(levels_v1(page, header.definition_level_encoding, self.def_width, n, self.max_def)?) } else { None };
        Ok(PageLevels { reps, defs })
    }

    /// Data page v2: the runs of each kind, stored uncompressed ahead of the values.
    fn read_v2(&self, rep_runs: &[u8], def_runs: &[u8], n: usize) -> Result<PageLevels, ParquetError> {
        let reps = if self.max_rep > 0 { Some(levels(rep_runs, self.rep_width, n, self.max_rep)?) } else { None };
        let defs = if self.max_def > 0 { Some(levels(def_runs, self.def_width, n, self.max_def)?) } else { None };
        Ok(PageLevels { reps, defs })
    }
}

/// A column chunk being decoded: the dictionary once its page is read, and the entries so far.
struct ChunkDecoder<'m, T> {
    meta: &'m ColumnChunkInfo,
    limits: DecodeLimits,
    shape: LevelShape,
    /// Entries the footer promises (`num_values`, nulls included).
    expected: usize,
    dict: Option<Vec<T>>,
    entries: Entries<T>,
}

impl<'m, T: Value> ChunkDecoder<'m, T> {
    fn new(meta: &'m ColumnChunkInfo, limits: DecodeLimits) -> Result<Self, ParquetError> {
        let expected = usize::try_from(meta.num_values).map_err(|_| ParquetError::TooManyValues)?;
        if expected > limits.max_values {
            return Err(ParquetError::TooManyValues);
        }
        // `expected` comes from the footer: grow as pages prove their values instead of reserving it.
        let entries = Entries { values: Vec::with_capacity(expected.min(1 << 12)), reps: Vec::new(), defs: Vec::new() };
        Ok(ChunkDecoder { meta, limits, shape: LevelShape::of(meta), expected, dict: None, entries })
    }

    fn is_complete(&self) -> bool {
        self.entries.values.len() >= self.expected
    }

    /// Takes one page: the dictionary, a data page (v1 or v2), or a page without values.
    fn take(&mut self, page: Page<'_>) -> Result<(), ParquetError> {
        let Page { header, body, uncompressed } = page;
        match header.type_ {
            pf::PageType::DICTIONARY_PAGE => {
                self.dictionary(header.dictionary_page_header.ok_or(ParquetError::CorruptPageHeader)?, body, uncompressed)
            }
            pf::PageType::DATA_PAGE => self.data_v1(header.data_page_header.ok_or(ParquetError::CorruptPageHeader)?, body, uncompressed),
            pf::PageType::DATA_PAGE_V2 => {
                self.data_v2(header.data_page_header_v2.ok_or(ParquetError::CorruptPageHeader)?, body, uncompressed)
            }
            // Index pages carry no values; unknown page types are skipped as the spec allows.
            _ => Ok(()),
        }
    }

    /// The dictionary: PLAIN values, at most one, and only before the first data page.
    fn dictionary(&mut self, header: pf::DictionaryPageHeader, body: &[u8], uncompressed: usize) -> Result<(), ParquetError> {
        if self.dict.is_some() || !self.entries.values.is_empty() {
            return Err(ParquetError::UnexpectedDictionary);
        }
        if header.encoding != pf::Encoding::PLAIN && header.encoding != pf::Encoding::PLAIN_DICTIONARY {
            return Err(unsupported_encoding(header.encoding));
        }
        let n = count(header.num_values, self.limits.max_values)?;
        let data = decompress(self.meta.codec, body, uncompressed)?;
        self.dict = Some(T::plain(&data, n)?);
        Ok(())
    }

    /// The entries a data page declares, refused when more than the chunk has left.
    fn page_count(&self, num_values: i32) -> Result<usize, ParquetError> {
        let n = count(num_values, self.limits.max_values)?;
        check_room(self.entries.values.len(), n, self.expected)?;
        Ok(n)
    }

    /// Data page v1: the whole body compressed, levels included.
    fn data_v1(&mut self, header: pf::DataPageHeader, body: &[u8], uncompressed: usize) -> Result<(), ParquetError> {
        let n = self.page_count(header.num_values)?;
        let data = decompress(self.meta.codec, body, uncompressed)?;
        let mut page = data.as_slice();
        let levels = self.shape.read_v1(&mut page, &header, n)?;
        self.push(levels, n, header.encoding, page)
    }

    /// Data page v2: repetition runs, definition runs (their lengths in the header, never
    /// compressed), then the values, compressed unless the header says otherwise.
    fn data_v2(&mut self, header: pf::DataPageHeaderV2, body: &[u8], uncompressed: usize) -> Result<(), ParquetError> {
        let n = self.page_count(header.num_values)?;
        let rep_len = usize::try_from(header.repetition_levels_byte_length).map_err(|_| ParquetError::CorruptPageHeader)?;
        let def_len = usize::try_from(header.definition_levels_byte_length).map_err(|_| ParquetError::CorruptPageHeader)?;
        if self.shape.max_rep == 0 && rep_len != 0 {
            return Err(ParquetError::CorruptLevels);
        }
        let (rep_runs, body) = body.split_at_checked(rep_len).ok_or(ParquetError::PageSizeMismatch)?;
        let (def_runs, values) = body.split_at_checked(def_len).ok_or(ParquetError::PageSizeMismatch)?;
        let values_uncomp = uncompressed.checked_sub(def_len).and_then(|u| u.checked_sub(rep_len)).ok_or(ParquetError::PageSizeMismatch)?;
        let data = if header.is_compressed.unwrap_or(true) {
            decompress(self.meta.codec, values, values_uncomp)?
        } else {
            if values.len() != values_uncomp {
                return Err(ParquetError::PageSizeMismatch);
            }
            values.to_vec()
        };
        let levels = self.shape.read_v2(rep_runs, def_runs, n)?;
        self.push(levels, n, header.encoding, &data)
    }

    /// Appends one data page's `n` entries, keeping its levels where lists are assembled from them.
    fn push(&mut self, levels: PageLevels, n: usize, encoding: pf::Encoding, values: &[u8]) -> Result<(), ParquetError> {
        let PageLevels { reps, defs } = levels;
        let entries = &mut self.entries;
        keep_levels(&mut entries.reps, &mut entries.defs, reps, defs.as_deref(), self.shape.max_rep, n);
        push_page(&mut entries.values, defs.as_deref(), self.shape.max_def, n, encoding, values, self.dict.as_deref())
    }
}

/// Levels with a 4-byte little-endian length prefix (data page v1), from the front of `page`.
fn levels_v1(page: &mut &[u8], encoding: pf::Encoding, width: u32, n: usize, max: u32) -> Result<Vec<u32>, ParquetError> {
    if encoding != pf::Encoding::RLE {
        return Err(ParquetError::Unsupported("levels not RLE-encoded (BIT_PACKED)"));
    }
    let (len, after) = page.split_at_checked(4).ok_or(ParquetError::CorruptLevels)?;
    let len = u32::from_le_bytes(<[u8; 4]>::try_from(len).map_err(|_| ParquetError::CorruptLevels)?);
    let (runs, after) = after.split_at_checked(len as usize).ok_or(ParquetError::CorruptLevels)?;
    *page = after;
    levels(runs, width, n, max)
}

/// Keeps a page's levels for list assembly (repeated columns only).
fn keep_levels(reps: &mut Vec<u32>, defs: &mut Vec<u32>, page_reps: Option<Vec<u32>>, page_defs: Option<&[u32]>, max_rep: u32, n: usize) {
    if max_rep == 0 {
        return;
    }
    match page_reps {
        Some(r) => reps.extend(r),
        None => reps.resize(reps.len().saturating_add(n), 0),
    }
    match page_defs {
        Some(d) => defs.extend_from_slice(d),
        None => defs.resize(defs.len().saturating_add(n), 0),
    }
}

/// Rows of a list column from its entries: a repetition level of 0 starts a row; below
/// `list_def` the row is a null list, below `repeated_def` an empty one; otherwise the entry is an
/// element (null when its definition level is below the maximum, already `None` in `values`).
#[allow(clippy::type_complexity)]
fn assemble_lists<T>(entries: Entries<T>, list_def: u32, repeated_def: u32) -> Result<Vec<Option<Vec<Option<T>>>>, ParquetError> {
    let Entries { values, reps, defs } = entries;
    if reps.len() != values.len() || defs.len() != values.len() {
        return Err(ParquetError::CorruptLevels);
    }
    let mut rows: Vec<Option<Vec<Option<T>>>> = Vec::new();
    for ((value, rep), def) in values.into_iter().zip(reps).zip(defs) {
        if rep == 0 {
            if def < list_def {
                rows.push(None);
                continue;
            }
            rows.push(Some(Vec::new()));
        }
        if def < repeated_def {
            // An empty list only exists at the start of a row.
            if rep != 0 {
                return Err(ParquetError::CorruptLevels);
            }
            continue;
        }
        match rows.last_mut() {
            Some(Some(list)) => list.push(value),
            _ => return Err(ParquetError::CorruptLevels),
        }
    }
    Ok(rows)
}

fn check_room(have: usize, n: usize, expected: usize) -> Result<(), ParquetError> {
    if have.checked_add(n).is_none_or(|total| total > expected) {
        return Err(ParquetError::ValueCountMismatch);
    }
    Ok(())
}

/// `n` levels (repetition or definition) from their hybrid runs, none above `max`.
fn levels(runs: &[u8], width: u32, n: usize, max: u32) -> Result<Vec<u32>, ParquetError> {
    let mut out = Vec::with_capacity(n);
    decode_hybrid(runs, width, n, &mut out, ParquetError::CorruptLevels)?;
    if out.iter().any(|&l| l > max) {
        return Err(ParquetError::CorruptLevels);
    }
    Ok(out)
}

/// Decodes one data page's values and appends `n` entries: with definition levels, a value is
/// present where its level equals the column's maximum `max_def`, null below it.
fn push_page<T: Value>(
    out: &mut Vec<Option<T>>,
    levels: Option<&[u32]>,
    max_def: u32,
    n: usize,
    encoding: pf::Encoding,
    data: &[u8],
    dict: Option<&[T]>,
) -> Result<(), ParquetError> {
    let is_present = |i: usize| -> bool {
        match levels {
            None => true,
            Some(l) => l.get(i).copied() == Some(max_def),
        }
    };
    let non_null = (0..n).filter(|&i| is_present(i)).count();
    let values: Vec<T> = match encoding {
        // Nothing to decode (a page of nulls; some writers leave the values section empty).
        _ if non_null == 0 => Vec::new(),
        pf::Encoding::PLAIN => T::plain(data, non_null)?,
        pf::Encoding::PLAIN_DICTIONARY | pf::Encoding::RLE_DICTIONARY => {
            let dict = dict.ok_or(ParquetError::MissingDictionary)?;
            let (&width, runs) = data.split_first().ok_or(ParquetError::CorruptValues)?;
            let mut idx = Vec::with_capacity(non_null);
            decode_hybrid(runs, u32::from(width), non_null, &mut idx, ParquetError::CorruptValues)?;
            let mut v = Vec::with_capacity(non_null);
            for i in idx {
                v.push(dict.get(i as usize).ok_or(ParquetError::DictionaryIndex)?.clone());
            }
            v
        }
        other => T::other(other, data, non_null)?,
    };
    if values.len() != non_null {
        return Err(ParquetError::CorruptValues);
    }
    let mut values = values.into_iter();
    for i in 0..n {
        if is_present(i) {
            out.push(Some(values.next().ok_or(ParquetError::CorruptValues)?));
        } else {
            out.push(None);
        }
    }
    Ok(())
}
