//! The warehouse bucket (R2) as the locator's object store: [`Warehouse`] reads (retried once,
//! short bodies refused) under `shared::caching` (the per-request memo and the isolate cache of
//! immutable reads, kept only after success; metadata JSON is cached by `tables` with its TTL).

use std::cell::RefCell;
use std::rc::Rc;

use shared::caching::{Caching, Immutable};
use shared::locate::{ObjectStore, StoreError};
use worker::{Bucket, Range};

thread_local! {
    /// This isolate's cache of immutable reads.
    static IMMUTABLE: Rc<RefCell<Immutable>> = Rc::new(RefCell::new(Immutable::new()));
}

/// The largest object read whole (table metadata, manifests, manifest lists, serving roots).
pub const MAX_WHOLE_READ: u64 = 32 * 1024 * 1024;

/// One request's reads of the warehouse.
pub type R2 = Caching<Warehouse>;

/// A request's store over the warehouse bucket, sharing this isolate's cache.
pub fn r2(bucket: Bucket) -> R2 {
    Caching::new(Warehouse(bucket), IMMUTABLE.with(Rc::clone))
}

/// The bucket itself.
pub struct Warehouse(Bucket);

impl ObjectStore for Warehouse {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        self.fetch(key, range).await
    }
}

impl Warehouse {
    /// One read, tried twice when R2 fails or answers short (a transient error should not fail
    /// the request); a missing object is final.
    async fn fetch(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        match self.fetch_once(key, range).await {
            Err(StoreError::Failed(_)) => self.fetch_once(key, range).await,
            done => done,
        }
    }

    async fn fetch_once(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let mut req = self.0.get(key);
        if let Some((offset, length)) = range {
            req = req.range(Range::OffsetWithLength { offset, length });
        }
        let object = req.execute().await.map_err(|e| StoreError::Failed(e.to_string()))?.ok_or(StoreError::NotFound)?;
        let size = object.size();
        // Whole reads are metadata, manifests and roots: one larger than this is not one of
        // ours, and reading it would take the isolate's memory (128 MB) with it.
        if range.is_none() && size > MAX_WHOLE_READ {
            return Err(StoreError::Failed(format!("{size} bytes, more than the {MAX_WHOLE_READ} a whole read takes")));
        }
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
                let req = self.0.list().prefix(prefix.to_string());
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
