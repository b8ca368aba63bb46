//! The warehouse bucket (R2) as the locator's object store.

use shared::locate::{ObjectStore, StoreError};
use worker::{Bucket, Range};

/// R2 ranged reads.
pub struct R2(pub Bucket);

impl ObjectStore for R2 {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let mut req = self.0.get(key);
        if let Some((offset, length)) = range {
            req = req.range(Range::OffsetWithLength { offset, length });
        }
        let object = req.execute().await.map_err(|e| StoreError::Failed(e.to_string()))?.ok_or(StoreError::NotFound)?;
        let body = object.body().ok_or(StoreError::NotFound)?;
        body.bytes().await.map_err(|e| StoreError::Failed(e.to_string()))
    }
}

impl R2 {
    /// Keys under `prefix` (all pages).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut req = self.0.list().prefix(prefix.to_string());
            if let Some(c) = cursor.take() {
                req = req.cursor(c);
            }
            let page = req.execute().await.map_err(|e| StoreError::Failed(e.to_string()))?;
            keys.extend(page.objects().iter().map(|o| o.key()));
            match page.cursor() {
                Some(c) if page.truncated() => cursor = Some(c),
                _ => return Ok(keys),
            }
        }
    }
}
