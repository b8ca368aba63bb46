//! Helpers shared by the fuzz targets: how an input is cut into a chunk plan and a body.
//!
//! Every chunked target reads a small header from the front of its input, so the fuzzer controls
//! limits and chunk boundaries as well as the body, and seeds stay readable: the header is
//! [`HEADER_BYTES`] bytes, the body is everything after it.

/// Bytes at the front of a chunked target's input that are not body.
pub const HEADER_BYTES: usize = 4;

/// Limits and chunk sizes decoded from the input's header.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// A limit byte (each target scales it).
    pub limit: u8,
    /// Chunk sizes, used in turn (each 1..=64).
    pub sizes: [usize; 3],
}

/// Splits `data` into its plan and body; `None` when the header is incomplete.
pub fn plan(data: &[u8]) -> Option<(Plan, &[u8])> {
    let (head, body) = data.split_at_checked(HEADER_BYTES)?;
    let [limit, a, b, c] = <[u8; 4]>::try_from(head).ok()?;
    let size = |x: u8| usize::from(x % 64) + 1;
    Some((Plan { limit, sizes: [size(a), size(b), size(c)] }, body))
}

impl Plan {
    /// `body` cut into chunks of the planned sizes, in turn.
    pub fn chunks<'a>(&self, body: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut turn = 0;
        while !rest.is_empty() {
            let n = self.sizes[turn % 3].min(rest.len());
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
            turn += 1;
        }
        out
    }
}

/// The three ways every chunked target feeds the same body: whole, planned, byte by byte.
pub fn feedings<'a>(plan: &Plan, body: &'a [u8]) -> [Vec<&'a [u8]>; 3] {
    let whole = if body.is_empty() { Vec::new() } else { vec![body] };
    [whole, plan.chunks(body), body.chunks(1).collect()]
}

/// A seed: the header bytes followed by `body`.
pub fn seed(limit: u8, sizes: [u8; 3], body: &[u8]) -> Vec<u8> {
    let mut v = vec![limit, sizes[0], sizes[1], sizes[2]];
    v.extend_from_slice(body);
    v
}

/// A global allocator that counts live bytes, so a target can assert what one call allocated at
/// its peak. Declare it in a target with
/// `#[global_allocator] static METER: shared_fuzz::Meter = shared_fuzz::Meter;`, then wrap the
/// call in [`peak_bytes`]. libFuzzer runs one input at a time on one thread.
pub struct Meter;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn grew(by: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let live = LIVE.fetch_add(by, Relaxed).saturating_add(by);
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl std::alloc::GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded as is.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Both blocks are live while the bytes are copied.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        }
        p
    }
}

/// Runs `f` and returns its result with the most bytes it had allocated at once (beyond what was
/// live before it started). Only meaningful in a target that installs [`Meter`].
pub fn peak_bytes<R>(f: impl FnOnce() -> R) -> (R, usize) {
    use std::sync::atomic::Ordering::Relaxed;
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let r = f();
    (r, PEAK.load(Relaxed).saturating_sub(base))
}

/// A reader of fuzz bytes for structured targets: past the end every read gives zeros.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    /// The next byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    /// The next byte's low bit.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// The next 8 bytes, little-endian.
    pub fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        i64::from_le_bytes(b)
    }
    /// Whether any bytes are left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Avro object containers, re-framed independently of `shared`: the header and blocks are
/// parsed here and every block is recompressed with another codec, so a target can check that
/// the same contents read the same under null, deflate and snappy.
pub mod avro {
    use std::io::Read;

    /// A block codec.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Codec {
        /// Stored.
        Null,
        /// Raw deflate.
        Deflate,
        /// Snappy plus the big-endian CRC-32 of the uncompressed block.
        Snappy,
    }

    impl Codec {
        /// The `avro.codec` value.
        pub fn name(self) -> &'static [u8] {
            match self {
                Codec::Null => b"null",
                Codec::Deflate => b"deflate",
                Codec::Snappy => b"snappy",
            }
        }
    }

    struct Cur<'a>(&'a [u8]);

    impl<'a> Cur<'a> {
        fn long(&mut self) -> Option<i64> {
            let mut n: u64 = 0;
            for shift in (0..64).step_by(7) {
                let (&b, rest) = self.0.split_first()?;
                self.0 = rest;
                n |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return Some(((n >> 1) as i64) ^ -((n & 1) as i64));
                }
            }
            None
        }
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (a, b) = self.0.split_at_checked(n)?;
            self.0 = b;
            Some(a)
        }
        fn bytes(&mut self) -> Option<&'a [u8]> {
            let n = usize::try_from(self.long()?).ok()?;
            self.take(n)
        }
    }

    fn put_long(out: &mut Vec<u8>, v: i64) {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
        put_long(out, b.len() as i64);
        out.extend_from_slice(b);
    }

    fn inflate(codec: Codec, data: &[u8], limit: usize) -> Option<Vec<u8>> {
        match codec {
            Codec::Null => Some(data.to_vec()),
            Codec::Deflate => {
                let mut out = Vec::new();
                let mut d = flate2::read::DeflateDecoder::new(data).take(limit as u64 + 1);
                d.read_to_end(&mut out).ok()?;
                Some(out)
            }
            Codec::Snappy => {
                let (packed, crc) = data.split_at_checked(data.len().checked_sub(4)?)?;
                let out = snap::raw::Decoder::new().decompress_vec(packed).ok()?;
                (crc32fast::hash(&out).to_be_bytes() == crc).then_some(out)
            }
        }
    }

    fn deflate(codec: Codec, block: &[u8]) -> Vec<u8> {
        match codec {
            Codec::Null => block.to_vec(),
            Codec::Deflate => {
                use std::io::Write;
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(block).expect("writing to a Vec");
                e.finish().expect("writing to a Vec")
            }
            Codec::Snappy => {
                let mut v = snap::raw::Encoder::new().compress_vec(block).expect("a small block");
                v.extend_from_slice(&crc32fast::hash(block).to_be_bytes());
                v
            }
        }
    }

    /// `file` with every block recompressed with `to` (and `avro.codec` set to it); `None` when
    /// the file is not a container this parser understands or a block does not inflate within
    /// `limit` bytes.
    pub fn reframe(file: &[u8], to: Codec, limit: usize) -> Option<Vec<u8>> {
        let mut cur = Cur(file.strip_prefix(b"Obj\x01")?);
        let mut meta: Vec<(&[u8], &[u8])> = Vec::new();
        loop {
            let n = cur.long()?;
            if n == 0 {
                break;
            }
            if n < 0 {
                cur.long()?;
            }
            for _ in 0..n.unsigned_abs() {
                let k = cur.bytes()?;
                let v = cur.bytes()?;
                meta.push((k, v));
            }
        }
        let sync = cur.take(16)?;
        let from = match meta.iter().find(|(k, _)| *k == b"avro.codec").map(|(_, v)| *v) {
            None | Some(b"null") => Codec::Null,
            Some(b"deflate") => Codec::Deflate,
            Some(b"snappy") => Codec::Snappy,
            Some(_) => return None,
        };
        let mut out = b"Obj\x01".to_vec();
        let kept: Vec<_> = meta.iter().filter(|(k, _)| *k != b"avro.codec").collect();
        put_long(&mut out, kept.len() as i64 + 1);
        put_bytes(&mut out, b"avro.codec");
        put_bytes(&mut out, to.name());
        for (k, v) in kept {
            put_bytes(&mut out, k);
            put_bytes(&mut out, v);
        }
        put_long(&mut out, 0);
        out.extend_from_slice(sync);
        let mut left = limit;
        while !cur.0.is_empty() {
            let count = cur.long()?;
            let data = cur.bytes()?;
            if cur.take(16)? != sync {
                return None;
            }
            let block = inflate(from, data, left)?;
            left = left.checked_sub(block.len())?;
            put_long(&mut out, count);
            put_bytes(&mut out, &deflate(to, &block));
            out.extend_from_slice(sync);
        }
        Some(out)
    }
}

/// Checks shared by the Parquet targets.
pub mod parquet {
    use shared::parquet::{decode_column_chunk, ColumnChunkInfo, ColumnValues, DecodeLimits, ParquetError};

    /// Small decode limits, so a lying size is refused quickly and what decoding may hold stays
    /// small: 64 KiB pages, 4096 values.
    pub const LIMITS: DecodeLimits = DecodeLimits { max_page_bytes: 64 * 1024, max_values: 4096 };

    /// What decoding one chunk of `input` bytes within [`LIMITS`] may hold at its peak: a page
    /// and its dictionary compressed and decompressed, the values (each at most a page), and
    /// slack.
    pub fn decode_bound(input: usize) -> usize {
        8 * LIMITS.max_page_bytes + LIMITS.max_values * 96 + 64 * input + (1 << 20)
    }

    /// Decodes `bytes` as the chunk `meta` describes within [`LIMITS`], asserting: no more than
    /// [`decode_bound`] allocated at once; a flat column gives exactly `num_values` values, a list
    /// column at most that many rows; decoding is deterministic.
    pub fn decode_checked(bytes: &[u8], meta: &ColumnChunkInfo) -> Result<ColumnValues, ParquetError> {
        let (r, peak) = crate::peak_bytes(|| decode_column_chunk(bytes, meta, LIMITS));
        let bound = decode_bound(bytes.len());
        assert!(peak <= bound, "decoding {} bytes allocated {peak} at once (bound {bound})", bytes.len());
        if let Ok(v) = &r {
            let n = meta.num_values as usize;
            if meta.max_rep_level == 0 {
                assert_eq!(v.len(), n, "a flat chunk decoded to another count than num_values");
            } else {
                assert!(v.len() <= n, "a list chunk has more rows than entries");
                assert!(matches!(v, ColumnValues::ByteArrayList(_)));
            }
        }
        assert_eq!(decode_column_chunk(bytes, meta, LIMITS), r, "decoding is not deterministic");
        r
    }
}
