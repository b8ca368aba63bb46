//! An object store that remembers: serve's read caching over any inner [`ObjectStore`] (R2 in the
//! worker, files in `bench_tables`), so the benchmark measures exactly the rules serve runs.
//!
//! Two layers. The request memo: every read of one request, so a request never reads the same
//! bytes twice (a batch reads each data-file range once for all refs that need it), up to
//! [`MEMO_BYTES`]. The isolate cache ([`Immutable`], shared by the requests of one isolate):
//! manifest lists and manifests (`*.avro`), serving-table roots (`*.serving.json`) and Parquet
//! ranges up to [`FOOTER_BYTES`] (footers, page indexes, pages) never change once written (a new
//! snapshot writes new files), so reads of them are kept, keyed by object key and range, up to
//! [`CACHE_BYTES`] (cleared whole when full). Both layers answer a range that lies inside a read
//! they hold without reading (the footer inside a serving file's index region). A request's immutable reads reach it only when the
//! caller says the request succeeded ([`Caching::keep_reads`]): a corrupt or short object must not
//! stay cached. Metadata JSON is not cached here (the worker keeps it with its TTL).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::vec::Vec;

use crate::locate::{ObjectStore, StoreError};

/// Bytes of immutable objects kept per isolate.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Bytes one request may keep in its read memo (a hostile request must not grow the isolate by
/// more than 16 MiB: SECURITY.md, resource limits).
pub const MEMO_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of immutable reads one request may hold for the isolate cache until it succeeds.
pub const PENDING_BYTES: usize = CACHE_BYTES / 4;
/// Largest Parquet range that counts as a footer read (the tail ranges the locator asks first).
pub const FOOTER_BYTES: u64 = 1024 * 1024;

/// An object key and the range read (`None`: whole object).
pub type ReadKey = (String, Option<(u64, u64)>);

/// Reads and their bytes, in the order made.
type Reads = Vec<(ReadKey, Vec<u8>)>;

/// Whether a read of `key` may be cached for the isolate's life: Avro manifests, serving-table
/// roots (`vN.serving.json`, create-only), and Parquet ranges of at most [`FOOTER_BYTES`]
/// (footers, page indexes, single pages: data files are create-only too).
pub fn immutable(key: &str, range: Option<(u64, u64)>) -> bool {
    match range {
        None => key.ends_with(".avro") || key.ends_with(".serving.json"),
        Some((_, len)) => key.ends_with(".parquet") && len <= FOOTER_BYTES,
    }
}

/// Whether `want` lies inside a read of `have` (a whole object holds every range of it that
/// it has bytes for); `Some(offset into have's bytes)`.
fn within(have: Option<(u64, u64)>, have_len: usize, want: Option<(u64, u64)>) -> Option<usize> {
    let (start, len) = want?;
    let (h_start, h_len) = have.unwrap_or((0, have_len as u64));
    let end = start.checked_add(len)?;
    (start >= h_start && end <= h_start.saturating_add(h_len) && end.saturating_sub(h_start) <= have_len as u64)
        .then(|| usize::try_from(start - h_start).ok())
        .flatten()
}

/// One read held: its range (`None`: the whole object) and bytes.
type Range = (Option<(u64, u64)>, Vec<u8>);

/// Reads by object key, answering a range inside a read already held without a new read (the
/// footer read after a serving lookup read the whole index region of the file).
#[derive(Debug, Clone, Default)]
struct Held {
    bytes: usize,
    reads: usize,
    by_key: HashMap<String, Vec<Range>>,
}

impl Held {
    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Option<Vec<u8>> {
        let held = self.by_key.get(key)?;
        if let Some((_, bytes)) = held.iter().find(|(r, _)| *r == range) {
            return Some(bytes.clone());
        }
        let (_, len) = range?;
        held.iter().find_map(|(r, bytes)| {
            let at = within(*r, bytes.len(), range)?;
            bytes.get(at..at.saturating_add(usize::try_from(len).ok()?)).map(<[u8]>::to_vec)
        })
    }

    fn insert(&mut self, (key, range): ReadKey, bytes: Vec<u8>) {
        let held = self.by_key.entry(key).or_default();
        if held.iter().any(|(r, _)| *r == range) {
            return;
        }
        self.bytes = self.bytes.saturating_add(bytes.len());
        self.reads = self.reads.saturating_add(1);
        held.push((range, bytes));
    }
}

/// The isolate cache: immutable reads and the bytes they hold.
#[derive(Debug, Clone, Default)]
pub struct Immutable(Held);

impl Immutable {
    /// An empty cache.
    pub fn new() -> Immutable {
        Immutable::default()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.bytes
    }

    /// Reads held.
    pub fn len(&self) -> usize {
        self.0.reads
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.0.reads == 0
    }

    /// Keeps only the reads `keep` says yes to (the benchmark's "metadata warm" isolate).
    pub fn retain(&mut self, mut keep: impl FnMut(&ReadKey) -> bool) {
        let mut kept = Held::default();
        for (key, held) in std::mem::take(&mut self.0.by_key) {
            for (range, bytes) in held {
                let read_key = (key.clone(), range);
                if keep(&read_key) {
                    kept.insert(read_key, bytes);
                }
            }
        }
        self.0 = kept;
    }

    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Option<Vec<u8>> {
        self.0.get(key, range)
    }

    fn insert(&mut self, key: ReadKey, bytes: Vec<u8>) {
        if self.0.bytes.saturating_add(bytes.len()) > CACHE_BYTES {
            *self = Immutable::default();
        }
        self.0.insert(key, bytes);
    }
}

/// One request's reads over `inner`, with the request memo and the isolate cache.
pub struct Caching<S> {
    inner: S,
    isolate: Rc<RefCell<Immutable>>,
    /// Immutable reads of this request (and their bytes, at most [`PENDING_BYTES`]), waiting for
    /// [`Caching::keep_reads`]; past the bound they are simply not kept.
    pending: RefCell<(usize, Reads)>,
    memo: RefCell<Held>,
    /// Reads that reached `inner`.
    reads: Cell<u32>,
    /// Bytes those reads returned.
    bytes: Cell<u64>,
}

impl<S: ObjectStore> ObjectStore for Caching<S> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let cacheable = immutable(key, range);
        let read_key = (key.to_string(), range);
        if let Some(hit) = self.memo.borrow().get(key, range) {
            return Ok(hit);
        }
        if cacheable {
            if let Some(hit) = self.isolate.borrow().get(key, range) {
                return Ok(hit);
            }
        }
        let bytes = self.inner.get(key, range).await?;
        self.reads.set(self.reads.get().saturating_add(1));
        self.bytes.set(self.bytes.get().saturating_add(bytes.len() as u64));
        {
            let mut memo = self.memo.borrow_mut();
            if memo.bytes.saturating_add(bytes.len()) <= MEMO_BYTES {
                memo.insert(read_key.clone(), bytes.clone());
            }
        }
        if cacheable && bytes.len() <= CACHE_BYTES / 8 {
            let mut pending = self.pending.borrow_mut();
            if pending.0.saturating_add(bytes.len()) <= PENDING_BYTES {
                pending.0 += bytes.len();
                pending.1.push((read_key, bytes.clone()));
            }
        }
        Ok(bytes)
    }

    fn reads_made(&self) -> Option<u32> {
        Some(self.reads.get())
    }
}

impl<S> Caching<S> {
    /// A request's store over `inner`, sharing the isolate cache `isolate`.
    pub fn new(inner: S, isolate: Rc<RefCell<Immutable>>) -> Caching<S> {
        Caching {
            inner,
            isolate,
            pending: RefCell::new((0, Vec::new())),
            memo: RefCell::new(Held::default()),
            reads: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// The inner store (for what the locator does not need, such as listing).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Reads of this request that reached the inner store (not the isolate cache or the memo).
    pub fn reads(&self) -> u32 {
        self.reads.get()
    }

    /// Bytes of this request's reads that reached the inner store.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// Keeps this request's immutable reads for later requests (call once it succeeded).
    pub fn keep_reads(&self) {
        let (_, pending) = std::mem::take(&mut *self.pending.borrow_mut());
        let mut isolate = self.isolate.borrow_mut();
        for (key, bytes) in pending {
            isolate.insert(key, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts reads; `.parquet` objects are `len` bytes of their first byte, others fixed.
    #[derive(Default)]
    struct Counting {
        reads: Cell<u32>,
        fail: Cell<bool>,
    }

    impl ObjectStore for Counting {
        async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
            self.reads.set(self.reads.get() + 1);
            if self.fail.get() {
                return Err(StoreError::Failed("down".into()));
            }
            if key.starts_with("missing") {
                return Err(StoreError::NotFound);
            }
            Ok(vec![1; range.map_or(10, |(_, len)| len as usize)])
        }
    }

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(v) => v,
            core::task::Poll::Pending => panic!("never waits"),
        }
    }

    #[test]
    fn what_is_immutable() {
        assert!(immutable("t/metadata/snap-1.avro", None));
        assert!(immutable("serving/artifacts/metadata/v3.serving.json", None));
        assert!(!immutable("serving/artifacts/metadata/version-hint.text", None));
        assert!(!immutable("t/metadata/v1.metadata.json", None));
        assert!(immutable("t/data/a.parquet", Some((100, FOOTER_BYTES))));
        assert!(!immutable("t/data/a.parquet", Some((100, FOOTER_BYTES + 1))), "data pages are not footers");
        assert!(!immutable("t/data/a.parquet", None));
    }

    #[test]
    fn a_request_never_reads_twice_and_later_requests_reuse_only_kept_immutable_reads() {
        let isolate = Rc::new(RefCell::new(Immutable::new()));
        let first = Caching::new(Counting::default(), isolate.clone());
        for _ in 0..2 {
            block_on(first.get("m.avro", None)).unwrap();
            block_on(first.get("d.parquet", Some((0, 8)))).unwrap();
            block_on(first.get("d.parquet", Some((0, 2 * FOOTER_BYTES)))).unwrap();
            block_on(first.get("v1.metadata.json", None)).unwrap();
        }
        assert_eq!((first.inner().reads.get(), first.reads()), (4, 4), "the memo answers the repeats");
        assert_eq!(first.bytes(), 10 + 8 + 2 * FOOTER_BYTES + 10);
        // Not kept yet: a failed request leaves nothing behind.
        let second = Caching::new(Counting::default(), isolate.clone());
        block_on(second.get("m.avro", None)).unwrap();
        assert_eq!(second.reads(), 1);
        first.keep_reads();
        assert_eq!((isolate.borrow().len(), isolate.borrow().bytes()), (2, 18), "the manifest and the footer");
        let third = Caching::new(Counting::default(), isolate.clone());
        block_on(third.get("m.avro", None)).unwrap();
        block_on(third.get("d.parquet", Some((0, 8)))).unwrap();
        block_on(third.get("v1.metadata.json", None)).unwrap();
        assert_eq!(third.reads(), 1, "only the metadata reaches the store");
    }

    /// A request holds at most MEMO_BYTES in its memo and PENDING_BYTES of reads for the
    /// isolate, however many footers it reads (security issue 12: bounded memory per request).
    #[test]
    fn one_request_holds_bounded_bytes() {
        let isolate = Rc::new(RefCell::new(Immutable::new()));
        let s = Caching::new(Counting::default(), isolate.clone());
        let n = (MEMO_BYTES.max(PENDING_BYTES) / FOOTER_BYTES as usize) + 4;
        for i in 0..n {
            block_on(s.get(&alloc::format!("f{i}.parquet"), Some((0, FOOTER_BYTES)))).unwrap();
        }
        assert!(s.memo.borrow().bytes <= MEMO_BYTES);
        assert!(s.pending.borrow().0 <= PENDING_BYTES);
        s.keep_reads();
        assert!(isolate.borrow().bytes() <= PENDING_BYTES);
        // What did not fit the memo is read again, not wrong.
        block_on(s.get(&alloc::format!("f{}.parquet", n - 1), Some((0, FOOTER_BYTES)))).unwrap();
    }

    #[test]
    fn failures_are_never_cached() {
        let isolate = Rc::new(RefCell::new(Immutable::new()));
        let s = Caching::new(Counting::default(), isolate.clone());
        s.inner().fail.set(true);
        assert!(block_on(s.get("m.avro", None)).is_err());
        assert_eq!(block_on(s.get("missing.avro", None)), Err(StoreError::Failed("down".into())));
        s.inner().fail.set(false);
        assert_eq!(block_on(s.get("missing.avro", None)), Err(StoreError::NotFound));
        assert!(block_on(s.get("m.avro", None)).is_ok());
        assert_eq!(s.inner().reads.get(), 4);
        s.keep_reads();
        assert_eq!(isolate.borrow().len(), 1);
    }

    /// A serving lookup reads a file's index region `[index_offset, size)`; reading the value
    /// then asks for the footer, a range inside it: answered from what is held (memo or isolate),
    /// so a warm lookup costs the `_lookup` page and the value page only.
    #[test]
    fn a_range_inside_a_held_read_costs_no_read() {
        let isolate = Rc::new(RefCell::new(Immutable::new()));
        let first = Caching::new(Counting::default(), isolate.clone());
        let whole = block_on(first.get("d.parquet", Some((1000, 500)))).unwrap();
        assert_eq!(block_on(first.get("d.parquet", Some((1200, 300)))).unwrap(), whole[200..].to_vec());
        assert_eq!(first.reads(), 1, "the memo answers a contained range");
        assert!(block_on(first.get("d.parquet", Some((1200, 301)))).is_ok());
        assert_eq!(first.reads(), 2, "a range past the held one is read");
        first.keep_reads();
        let second = Caching::new(Counting::default(), isolate.clone());
        block_on(second.get("d.parquet", Some((1000, 10)))).unwrap();
        block_on(second.get("d.parquet", Some((1499, 1)))).unwrap();
        assert_eq!(second.reads(), 0, "the isolate cache answers contained ranges");
        block_on(second.get("other.parquet", Some((1000, 10)))).unwrap();
        assert_eq!(second.reads(), 1, "only for the same key");
        // A whole object held answers its ranges.
        block_on(second.get("r.serving.json", None)).unwrap();
        assert_eq!(block_on(second.get("r.serving.json", Some((2, 3)))).unwrap().len(), 3);
        assert!(block_on(second.get("r.serving.json", Some((8, 3)))).is_ok());
        assert_eq!(second.reads(), 3, "a range past a whole object's bytes is read");
    }

    #[test]
    fn the_isolate_cache_is_bounded() {
        let mut c = Immutable::new();
        let big = CACHE_BYTES / 8;
        for i in 0..8 {
            c.insert((alloc::format!("{i}.avro"), None), vec![0; big]);
        }
        assert_eq!((c.len(), c.bytes()), (8, CACHE_BYTES));
        c.insert(("9.avro".into(), None), vec![0; 1]);
        assert_eq!((c.len(), c.bytes()), (1, 1), "cleared whole when full");
        c.retain(|(k, _)| k != "9.avro");
        assert_eq!(c.bytes(), 0);
        assert!(c.is_empty());
    }
}
