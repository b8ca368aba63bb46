//! The Avro object container, as far as reading manifests needs it: header, blocks, the null /
//! deflate / snappy codecs, schemas parsed from the header and a generic datum decoder. The
//! writing side is the writer crate's (`iceberg-writer`).
//!
//! Written here rather than taken from apache-avro because every length in a manifest is
//! untrusted: apache-avro allocates a claimed string or block length up front (up to a process-wide
//! 512 MiB default), which is a trap in a 128 MB worker. Here every length is checked against the
//! bytes that are actually left before anything is allocated, inflated blocks count against one
//! budget per file, and every decoded value costs from a budget proportional to the block size,
//! so neither memory nor time can outgrow the input.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use serde_json::Value;
use std::borrow::Cow;

use super::{ManifestError, ReadLimits};

/// `Obj` followed by the format version 1.
const MAGIC: [u8; 4] = *b"Obj\x01";
/// Length of the sync marker after the header and after every block.
const SYNC_LEN: usize = 16;
/// Deepest nesting of schemas (and so of values) accepted; manifests need 6.
const MAX_DEPTH: usize = 32;

/// The block codecs this reader knows (the writer crate writes the same three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// Blocks stored as they are.
    Null,
    /// Raw deflate (RFC 1951), no zlib wrapper.
    Deflate,
    /// Snappy, followed by the big-endian CRC-32 of the uncompressed block.
    Snappy,
}

/// An Avro schema, reduced to what decoding needs. Named types are shared, never copied, so a
/// schema that references a record many times stays small.
#[derive(Debug, Clone)]
pub(super) enum Schema {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    /// Number of symbols.
    Enum(usize),
    Array(Rc<Schema>),
    Map(Rc<Schema>),
    Union(Rc<[Schema]>),
    Record(Rc<Record>),
}

/// An Avro record schema.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) fields: Vec<Field>,
}

/// One field of a record schema, with the Iceberg attributes manifests carry.
#[derive(Debug)]
pub(super) struct Field {
    /// The Avro name.
    pub(super) name: String,
    /// `iceberg-field-name`: the Iceberg name when it is not a valid Avro name.
    pub(super) iceberg_name: Option<String>,
    /// `field-id`.
    pub(super) id: Option<i32>,
    pub(super) schema: Schema,
}

/// A decoded value. A union decodes to the value of its branch.
#[derive(Debug)]
pub(super) enum Datum<'s> {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
    String(String),
    Fixed(Vec<u8>),
    /// An enum symbol (Iceberg has no enums; only checked, never used).
    Enum,
    Array(Vec<Datum<'s>>),
    Map(Vec<(String, Datum<'s>)>),
    Record(&'s Record, Vec<Datum<'s>>),
}

/// A read position in a byte slice. Running out of bytes is `short`: the container uses
/// `Truncated`, a block's contents `Corrupt` (the block itself was complete).
struct Cursor<'a> {
    buf: &'a [u8],
    short: ManifestError,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], short: ManifestError) -> Self {
        Cursor { buf, short }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ManifestError> {
        if n > self.buf.len() {
            return Err(self.short);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, ManifestError> {
        let (&b, tail) = self.buf.split_first().ok_or(self.short)?;
        self.buf = tail;
        Ok(b)
    }

    /// A zig-zag varint long.
    fn long(&mut self) -> Result<i64, ManifestError> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(ManifestError::Corrupt("a varint overflows 64 bits"));
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        Err(ManifestError::Corrupt("a varint overflows 64 bits"))
    }

    fn int(&mut self) -> Result<i32, ManifestError> {
        i32::try_from(self.long()?).map_err(|_| ManifestError::Corrupt("an int is out of range"))
    }

    /// A length prefix: non-negative and no longer than what is left.
    fn len(&mut self) -> Result<usize, ManifestError> {
        let n = self.long()?;
        let n = usize::try_from(n).map_err(|_| ManifestError::Corrupt("a negative length"))?;
        if n > self.buf.len() {
            return Err(self.short);
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ManifestError> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, ManifestError> {
        let b = self.bytes()?;
        core::str::from_utf8(b).map(String::from).map_err(|_| ManifestError::Corrupt("a string is not UTF-8"))
    }

    /// The item count that starts an array or map block; a negative count is followed by the
    /// block's byte size, which is skipped.
    fn block_count(&mut self) -> Result<u64, ManifestError> {
        let n = self.long()?;
        if n < 0 {
            self.long()?;
        }
        Ok(n.unsigned_abs())
    }
}

/// A parsed container header and the blocks after it.
pub(super) struct Container<'a> {
    meta: Vec<(String, Vec<u8>)>,
    schema: Schema,
    codec: Codec,
    sync: &'a [u8],
    body: &'a [u8],
    max_inflated: usize,
}

impl<'a> Container<'a> {
    /// Checks the size, the magic, the metadata, the codec and the schema.
    pub(super) fn open(bytes: &'a [u8], limits: &ReadLimits) -> Result<Self, ManifestError> {
        if bytes.len() > limits.max_file_bytes {
            return Err(ManifestError::TooLarge);
        }
        let Some(rest) = bytes.strip_prefix(&MAGIC) else {
            return Err(if MAGIC.starts_with(bytes) { ManifestError::Truncated } else { ManifestError::NotAvro });
        };
        let mut cur = Cursor::new(rest, ManifestError::Truncated);
        let mut meta = Vec::new();
        loop {
            let n = cur.block_count()?;
            if n == 0 {
                break;
            }
            for _ in 0..n {
                // Each entry takes at least two bytes, so a lying count runs out of input.
                let key = cur.string()?;
                let value = cur.bytes()?.to_vec();
                meta.push((key, value));
            }
        }
        let sync = cur.take(SYNC_LEN)?;
        let find = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_slice());
        let codec = match find("avro.codec") {
            None | Some(b"null") => Codec::Null,
            Some(b"deflate") => Codec::Deflate,
            Some(b"snappy") => Codec::Snappy,
            Some(_) => return Err(ManifestError::Unsupported("Avro codec other than null, deflate or snappy")),
        };
        let schema_json = find("avro.schema").ok_or(ManifestError::Schema("the header has no avro.schema"))?;
        let json: Value = serde_json::from_slice(schema_json).map_err(|_| ManifestError::Schema("avro.schema is not JSON"))?;
        let schema = parse_schema(&json, &mut BTreeMap::new(), 0)?;
        Ok(Container { meta, schema, codec, sync, body: cur.buf, max_inflated: limits.max_inflated_bytes })
    }

    /// A metadata value from the header (`avro.*` included), as UTF-8.
    pub(super) fn meta_str(&self, key: &str) -> Result<Option<&str>, ManifestError> {
        match self.meta.iter().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, v)) => core::str::from_utf8(v).map(Some).map_err(|_| ManifestError::Corrupt("a header value is not UTF-8")),
        }
    }

    /// The top-level record schema.
    pub(super) fn record(&self) -> Result<&Record, ManifestError> {
        match &self.schema {
            Schema::Record(r) => Ok(r),
            _ => Err(ManifestError::Schema("the file's schema is not a record")),
        }
    }

    /// Decodes every datum of every block, in order, and hands each to `f`.
    pub(super) fn for_each<'s>(&'s self, mut f: impl FnMut(Datum<'s>) -> Result<(), ManifestError>) -> Result<(), ManifestError> {
        let mut cur = Cursor::new(self.body, ManifestError::Truncated);
        let mut inflated_left = self.max_inflated;
        while !cur.is_empty() {
            let count = u64::try_from(cur.long()?).map_err(|_| ManifestError::Corrupt("a negative block count"))?;
            let data = cur.bytes()?;
            if cur.take(SYNC_LEN)? != self.sync {
                return Err(ManifestError::Corrupt("a block is not followed by the sync marker"));
            }
            let block = decompress(self.codec, data, inflated_left)?;
            inflated_left = inflated_left.saturating_sub(block.len());
            let mut dec = Decoder::new(&block);
            for _ in 0..count {
                f(dec.value(&self.schema, 0)?)?;
            }
            if !dec.cur.is_empty() {
                return Err(ManifestError::Corrupt("a block has bytes after its last value"));
            }
        }
        Ok(())
    }
}

/// Inflates one block into at most `limit` bytes.
fn decompress(codec: Codec, data: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, ManifestError> {
    match codec {
        Codec::Null => {
            if data.len() > limit {
                return Err(ManifestError::TooLarge);
            }
            Ok(Cow::Borrowed(data))
        }
        Codec::Deflate => match miniz_oxide::inflate::decompress_to_vec_with_limit(data, limit) {
            Ok(v) => Ok(Cow::Owned(v)),
            Err(e) if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => Err(ManifestError::TooLarge),
            Err(_) => Err(ManifestError::Corrupt("a deflate block does not inflate")),
        },
        Codec::Snappy => {
            let split = data.len().checked_sub(4).ok_or(ManifestError::Corrupt("a snappy block has no checksum"))?;
            let (packed, crc) = data.split_at(split);
            let len = snap::raw::decompress_len(packed).map_err(|_| ManifestError::Corrupt("a snappy block does not inflate"))?;
            if len > limit {
                return Err(ManifestError::TooLarge);
            }
            let mut out = alloc::vec![0u8; len];
            let n = snap::raw::Decoder::new()
                .decompress(packed, &mut out)
                .map_err(|_| ManifestError::Corrupt("a snappy block does not inflate"))?;
            out.truncate(n);
            let expected =
                <[u8; 4]>::try_from(crc).map(u32::from_be_bytes).map_err(|_| ManifestError::Corrupt("a snappy block has no checksum"))?;
            if crc32fast::hash(&out) != expected {
                return Err(ManifestError::Corrupt("a snappy block fails its checksum"));
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// Decodes values from one inflated block. Every value costs one unit of `budget`, which is a
/// multiple of the block size: zero-width values (nulls, empty records) cannot loop forever.
struct Decoder<'b> {
    cur: Cursor<'b>,
    budget: usize,
}

impl<'b> Decoder<'b> {
    fn new(block: &'b [u8]) -> Self {
        Decoder {
            cur: Cursor::new(block, ManifestError::Corrupt("a value runs past the end of its block")),
            budget: block.len().saturating_mul(4).saturating_add(1024),
        }
    }

    fn value<'s>(&mut self, schema: &'s Schema, depth: usize) -> Result<Datum<'s>, ManifestError> {
        if depth > MAX_DEPTH {
            return Err(ManifestError::Schema("the schema nests too deeply"));
        }
        self.budget = self.budget.checked_sub(1).ok_or(ManifestError::Corrupt("a block holds more values than its size allows"))?;
        Ok(match schema {
            Schema::Null => Datum::Null,
            Schema::Boolean => match self.cur.byte()? {
                0 => Datum::Boolean(false),
                1 => Datum::Boolean(true),
                _ => return Err(ManifestError::Corrupt("a boolean is neither 0 nor 1")),
            },
            Schema::Int => Datum::Int(self.cur.int()?),
            Schema::Long => Datum::Long(self.cur.long()?),
            Schema::Float => {
                let b = <[u8; 4]>::try_from(self.cur.take(4)?).map_err(|_| self.cur.short)?;
                Datum::Float(f32::from_le_bytes(b))
            }
            Schema::Double => {
                let b = <[u8; 8]>::try_from(self.cur.take(8)?).map_err(|_| self.cur.short)?;
                Datum::Double(f64::from_le_bytes(b))
            }
            Schema::Bytes => Datum::Bytes(self.cur.bytes()?.to_vec()),
            Schema::String => Datum::String(self.cur.string()?),
            Schema::Fixed(n) => Datum::Fixed(self.cur.take(*n)?.to_vec()),
            Schema::Enum(symbols) => {
                let i = usize::try_from(self.cur.long()?).ok().filter(|i| i < symbols);
                i.ok_or(ManifestError::Corrupt("an enum index is out of range"))?;
                Datum::Enum
            }
            Schema::Array(items) => {
                let mut out = Vec::new();
                loop {
                    let n = self.cur.block_count()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        out.push(self.value(items, depth + 1)?);
                    }
                }
                Datum::Array(out)
            }
            Schema::Map(values) => {
                let mut out = Vec::new();
                loop {
                    let n = self.cur.block_count()?;
                    if n == 0 {
                        break;
                    }
                    for _ in 0..n {
                        let key = self.cur.string()?;
                        out.push((key, self.value(values, depth + 1)?));
                    }
                }
                Datum::Map(out)
            }
            Schema::Union(branches) => {
                let i = usize::try_from(self.cur.long()?).ok();
                let branch = i.and_then(|i| branches.get(i)).ok_or(ManifestError::Corrupt("a union index is out of range"))?;
                self.value(branch, depth + 1)?
            }
            Schema::Record(record) => {
                let mut out = Vec::with_capacity(record.fields.len());
                for field in &record.fields {
                    out.push(self.value(&field.schema, depth + 1)?);
                }
                Datum::Record(record, out)
            }
        })
    }
}

/// Parses a schema from its JSON form. Named types (records, enums, fixed) may be referenced by
/// name after their definition; recursive types are refused (manifests have none).
fn parse_schema(json: &Value, names: &mut BTreeMap<String, Schema>, depth: usize) -> Result<Schema, ManifestError> {
    if depth > MAX_DEPTH {
        return Err(ManifestError::Schema("the schema nests too deeply"));
    }
    match json {
        Value::String(name) => named_or_primitive(name, names),
        Value::Array(branches) => {
            if branches.is_empty() {
                return Err(ManifestError::Schema("a union has no branches"));
            }
            let branches: Result<Vec<Schema>, ManifestError> = branches.iter().map(|b| parse_schema(b, names, depth + 1)).collect();
            Ok(Schema::Union(branches?.into()))
        }
        Value::Object(obj) => {
            let ty = match obj.get("type") {
                Some(Value::String(ty)) => ty.as_str(),
                // Lenient: `{"type": {...}}` or `{"type": [...]}` wraps a schema.
                Some(inner) => return parse_schema(inner, names, depth + 1),
                None => return Err(ManifestError::Schema("a schema object has no type")),
            };
            let schema = match ty {
                "record" | "error" => {
                    let Some(Value::Array(fields)) = obj.get("fields") else {
                        return Err(ManifestError::Schema("a record has no fields array"));
                    };
                    let mut out = Vec::with_capacity(fields.len());
                    for f in fields {
                        out.push(parse_field(f, names, depth + 1)?);
                    }
                    Schema::Record(Rc::new(Record { fields: out }))
                }
                "enum" => match obj.get("symbols") {
                    Some(Value::Array(symbols)) => Schema::Enum(symbols.len()),
                    _ => return Err(ManifestError::Schema("an enum has no symbols")),
                },
                "fixed" => {
                    let size = obj.get("size").and_then(Value::as_u64).and_then(|s| usize::try_from(s).ok());
                    Schema::Fixed(size.ok_or(ManifestError::Schema("a fixed has no valid size"))?)
                }
                "array" => match obj.get("items") {
                    Some(items) => Schema::Array(Rc::new(parse_schema(items, names, depth + 1)?)),
                    None => return Err(ManifestError::Schema("an array has no items")),
                },
                "map" => match obj.get("values") {
                    Some(values) => Schema::Map(Rc::new(parse_schema(values, names, depth + 1)?)),
                    None => return Err(ManifestError::Schema("a map has no values")),
                },
                // A primitive with attributes (logicalType and the like), or a named reference.
                other => return named_or_primitive(other, names),
            };
            if let Some(Value::String(name)) = obj.get("name") {
                if let Some(Value::String(ns)) = obj.get("namespace") {
                    names.insert(alloc::format!("{ns}.{name}"), schema.clone());
                }
                names.insert(name.clone(), schema.clone());
            }
            Ok(schema)
        }
        _ => Err(ManifestError::Schema("a schema must be a string, an object or an array")),
    }
}

fn named_or_primitive(name: &str, names: &BTreeMap<String, Schema>) -> Result<Schema, ManifestError> {
    Ok(match name {
        "null" => Schema::Null,
        "boolean" => Schema::Boolean,
        "int" => Schema::Int,
        "long" => Schema::Long,
        "float" => Schema::Float,
        "double" => Schema::Double,
        "bytes" => Schema::Bytes,
        "string" => Schema::String,
        // A full name, or (leniently, for namespaces inherited from an enclosing type) its last
        // segment.
        _ => names
            .get(name)
            .or_else(|| name.rsplit('.').next().and_then(|simple| names.get(simple)))
            .cloned()
            .ok_or(ManifestError::Schema("a type name is not defined before its use"))?,
    })
}

fn parse_field(json: &Value, names: &mut BTreeMap<String, Schema>, depth: usize) -> Result<Field, ManifestError> {
    let Value::Object(obj) = json else {
        return Err(ManifestError::Schema("a record field is not an object"));
    };
    let Some(Value::String(name)) = obj.get("name") else {
        return Err(ManifestError::Schema("a record field has no name"));
    };
    let ty = obj.get("type").ok_or(ManifestError::Schema("a record field has no type"))?;
    let id = match obj.get("field-id") {
        None => None,
        Some(v) => Some(v.as_i64().and_then(|v| i32::try_from(v).ok()).ok_or(ManifestError::Schema("a field-id is not an int"))?),
    };
    let iceberg_name = match obj.get("iceberg-field-name") {
        Some(Value::String(n)) => Some(n.clone()),
        _ => None,
    };
    Ok(Field { name: name.clone(), iceberg_name, id, schema: parse_schema(ty, names, depth + 1)? })
}
