//! The warehouse bucket (R2) as the locator's object store.
//!
//! Manifest lists and manifests (`*.avro`) and Parquet footers never change once written (a new
//! snapshot writes new files), so reads of them are kept in isolate memory, keyed by object key
//! and range, up to [`CACHE_BYTES`]; metadata JSON is cached by `tables` with its TTL instead.

use std::cell::RefCell;
use std::collections::HashMap;

use shared::locate::{ObjectStore, StoreError};
use worker::{Bucket, Range};

/// Bytes of immutable objects kept per isolate.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// An object key and the range read (`None`: whole object).
type ReadKey = (String, Option<(u64, u64)>);

/// Read → bytes, with the total size held.
type Cache = (usize, HashMap<ReadKey, Vec<u8>>);

thread_local! {
    static IMMUTABLE: RefCell<Cache> = RefCell::new((0, HashMap::new()));
}

/// Whether a read of `key` may be cached forever: Avro manifests, and Parquet footers (the
/// tail ranges the locator asks for first, at most 1 MiB).
fn immutable(key: &str, range: Option<(u64, u64)>) -> bool {
    match range {
        None => key.ends_with(".avro"),
        Some((_, len)) => key.ends_with(".parquet") && len <= 1024 * 1024,
    }
}

/// R2 ranged reads. Cacheable reads wait in `pending` until the caller says the request
/// succeeded ([`R2::keep_reads`]): a corrupt or short object must not stay cached.
pub struct R2 {
    bucket: Bucket,
    pending: RefCell<Vec<(ReadKey, Vec<u8>)>>,
    /// Every read of this request, so one request never reads the same bytes twice (a batch
    /// reads each data-file range once for all refs that need it); bounded by [`MEMO_BYTES`].
    memo: RefCell<(usize, HashMap<ReadKey, Vec<u8>>)>,
    /// Reads that reached R2.
    reads: std::cell::Cell<u32>,
    /// Bytes those reads returned.
    bytes: std::cell::Cell<u64>,
}

/// Bytes one request may keep in its read memo.
pub const MEMO_BYTES: usize = 32 * 1024 * 1024;

impl ObjectStore for R2 {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let cacheable = immutable(key, range);
        let cache_key = (key.to_string(), range);
        if let Some(hit) = self.memo.borrow().1.get(&cache_key) {
            return Ok(hit.clone());
        }
        if cacheable {
            if let Some(hit) = IMMUTABLE.with(|c| c.borrow().1.get(&cache_key).cloned()) {
                return Ok(hit);
            }
        }
        let bytes = self.fetch(key, range).await?;
        self.reads.set(self.reads.get().saturating_add(1));
        self.bytes.set(self.bytes.get().saturating_add(bytes.len() as u64));
        {
            let mut memo = self.memo.borrow_mut();
            if memo.0.saturating_add(bytes.len()) <= MEMO_BYTES {
                memo.0 += bytes.len();
                memo.1.insert(cache_key.clone(), bytes.clone());
            }
        }
        if cacheable && bytes.len() <= CACHE_BYTES / 8 {
            self.pending.borrow_mut().push((cache_key, bytes.clone()));
        }
        Ok(bytes)
    }
}

impl R2 {
    /// Wraps the warehouse bucket.
    pub fn new(bucket: Bucket) -> R2 {
        R2 { bucket, pending: RefCell::new(Vec::new()), memo: RefCell::new((0, HashMap::new())), reads: std::cell::Cell::new(0), bytes: std::cell::Cell::new(0) }
    }

    /// Reads of this request that reached R2 (not the isolate cache or the request memo).
    pub fn r2_reads(&self) -> u32 {
        self.reads.get()
    }

    /// Bytes of this request's reads that reached R2.
    pub fn r2_bytes(&self) -> u64 {
        self.bytes.get()
    }

    /// Keeps this request's immutable reads for later requests (call once it succeeded).
    pub fn keep_reads(&self) {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        IMMUTABLE.with(|c| {
            let mut c = c.borrow_mut();
            for (key, bytes) in pending {
                if c.0 + bytes.len() > CACHE_BYTES {
                    *c = (0, HashMap::new());
                }
                c.0 += bytes.len();
                c.1.insert(key, bytes);
            }
        });
    }

    /// One read, tried twice when R2 fails or answers short (a transient error should not fail
    /// the request); a missing object is final.
    async fn fetch(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        match self.fetch_once(key, range).await {
            Err(StoreError::Failed(_)) => self.fetch_once(key, range).await,
            done => done,
        }
    }

    async fn fetch_once(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let mut req = self.bucket.get(key);
        if let Some((offset, length)) = range {
            req = req.range(Range::OffsetWithLength { offset, length });
        }
        let object = req.execute().await.map_err(|e| StoreError::Failed(e.to_string()))?.ok_or(StoreError::NotFound)?;
        let size = object.size();
        let body = object.body().ok_or(StoreError::NotFound)?;
        let bytes = body.bytes().await.map_err(|e| StoreError::Failed(e.to_string()))?;
        // A body that ends before the length R2 announced (a dropped stream) is a failed read: it
        // must never pass for the object, nor reach the immutable cache.
        let expected = match range {
            None => size,
            Some((offset, length)) => length.min(size.saturating_sub(offset)),
        };
        if u64::try_from(bytes.len()).ok() != Some(expected) {
            return Err(StoreError::Failed(format!("the body ended after {} of {expected} bytes", bytes.len())));
        }
        Ok(bytes)
    }

    /// Keys under `prefix` (all pages).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let list = || {
                let req = self.bucket.list().prefix(prefix.to_string());
                match &cursor {
                    Some(c) => req.cursor(c.clone()),
                    None => req,
                }
            };
            // Tried twice, as reads are.
            let page = match list().execute().await {
                Ok(page) => page,
                Err(_) => list().execute().await.map_err(|e| StoreError::Failed(e.to_string()))?,
            };
            keys.extend(page.objects().iter().map(|o| o.key()));
            match page.cursor() {
                Some(c) if page.truncated() => cursor = Some(c),
                _ => return Ok(keys),
            }
        }
    }
}
