//! The Avro object container, write side: the binary encoding of values ([`Encoder`]) and
//! [`write_container`] (header, blocks of about [`BLOCK_TARGET`] bytes, a sync marker derived from
//! the contents so the same input always gives the same file). The read side is `shared`'s.

use sha2::{Digest, Sha256};
use shared::iceberg::manifest::ManifestError;

const MAGIC: [u8; 4] = *b"Obj\x01";
/// Length of the sync marker after the header and after every block.
const SYNC_LEN: usize = 16;
/// Uncompressed bytes per block before the writer starts a new one.
pub const BLOCK_TARGET: usize = 64 * 1024;

/// The block codecs the writer knows (the reader reads the same three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Blocks stored as they are.
    Null,
    /// Raw deflate (RFC 1951), no zlib wrapper.
    Deflate,
    /// Snappy, followed by the big-endian CRC-32 of the uncompressed block.
    Snappy,
}

impl Codec {
    /// The `avro.codec` header value.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate => "deflate",
            Codec::Snappy => "snappy",
        }
    }
}

/// Binary encoding of values, for the writers.
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn long(&mut self, v: i64) {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        while n >= 0x80 {
            self.buf.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        self.buf.push(n as u8);
    }

    pub fn int(&mut self, v: i32) {
        self.long(i64::from(v));
    }

    pub fn boolean(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    pub fn float(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn double(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.long(v.len() as i64);
        self.buf.extend_from_slice(v);
    }

    pub fn string(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// A `["null", T]` union: branch 0 for `None`, branch 1 then the value for `Some`.
    pub fn optional<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.long(0),
            Some(v) => {
                self.long(1);
                f(self, v);
            }
        }
    }

    /// An array in one block (or the empty array).
    pub fn array<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        if !items.is_empty() {
            self.long(items.len() as i64);
            for item in items {
                f(self, item);
            }
        }
        self.long(0);
    }
}

/// Writes an object container: `schema_json` and `meta` in the header, then `records` (each
/// already encoded) in blocks of about [`BLOCK_TARGET`] bytes. The sync marker is derived from the
/// contents, so the same input always gives the same file.
pub fn write_container(schema_json: &str, meta: &[(&str, String)], records: &[Vec<u8>], codec: Codec) -> Result<Vec<u8>, ManifestError> {
    let mut hash = Sha256::new();
    hash.update(schema_json.as_bytes());
    for r in records {
        hash.update(r);
    }
    let digest = hash.finalize();
    let sync = digest.get(..SYNC_LEN).ok_or(ManifestError::Invalid("no sync marker"))?;

    let mut out = Encoder::default();
    out.buf.extend_from_slice(&MAGIC);
    let mut entries: Vec<(&str, &[u8])> = Vec::with_capacity(meta.len() + 2);
    entries.push(("avro.schema", schema_json.as_bytes()));
    entries.push(("avro.codec", codec.name().as_bytes()));
    entries.extend(meta.iter().map(|(k, v)| (*k, v.as_bytes())));
    out.array(&entries, |e, (k, v)| {
        e.string(k);
        e.bytes(v);
    });
    out.buf.extend_from_slice(sync);

    let mut block = Vec::new();
    let mut count: i64 = 0;
    for (i, r) in records.iter().enumerate() {
        block.extend_from_slice(r);
        count += 1;
        if block.len() >= BLOCK_TARGET || i + 1 == records.len() {
            let packed = compress(codec, &block)?;
            out.long(count);
            out.bytes(&packed);
            out.buf.extend_from_slice(sync);
            block.clear();
            count = 0;
        }
    }
    Ok(out.buf)
}

fn compress(codec: Codec, block: &[u8]) -> Result<Vec<u8>, ManifestError> {
    Ok(match codec {
        Codec::Null => block.to_vec(),
        Codec::Deflate => miniz_oxide::deflate::compress_to_vec(block, 6),
        Codec::Snappy => {
            let mut packed =
                snap::raw::Encoder::new().compress_vec(block).map_err(|_| ManifestError::Invalid("a block is too large for snappy"))?;
            packed.extend_from_slice(&crc32fast::hash(block).to_be_bytes());
            packed
        }
    })
}
