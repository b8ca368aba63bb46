//! An R2 bucket as the compactor's [`Store`] (feature `r2`): the stand-in and the compact worker
//! both run the compactor over their `WAREHOUSE` binding through [`R2`].
//!
//! Create-only puts are R2's `onlyIf: {etagDoesNotMatch: "*"}`, conditional ones
//! `onlyIf: {etagMatches}`; a failed condition is R2's `null` answer (`Ok(false)`).

use worker::{Bucket, Conditional, Range};

use crate::store::{Listed, Object, Store, StoreError};

/// Keys per R2 `delete` call (R2's limit).
const DELETE_BATCH: usize = 1000;

/// A bucket as the compactor's store.
pub struct R2(pub Bucket);

fn failed(key: &str, e: worker::Error) -> StoreError {
    StoreError::Failed(format!("{key}: {e}"))
}

impl Store for R2 {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
        let mut req = self.0.get(key);
        if let Some((offset, length)) = range {
            req = req.range(Range::OffsetWithLength { offset, length });
        }
        let obj = req.execute().await.map_err(|e| failed(key, e))?.ok_or(StoreError::NotFound)?;
        let etag = obj.etag();
        let body = obj.body().ok_or_else(|| StoreError::Failed(format!("{key}: no body")))?;
        Ok(Object { bytes: body.bytes().await.map_err(|e| failed(key, e))?, etag })
    }

    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        let cond = Conditional { etag_does_not_match: Some("*".into()), ..Conditional::default() };
        Ok(self.0.put(key, bytes).only_if(cond).execute().await.map_err(|e| failed(key, e))?.is_some())
    }

    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
        let Some(etag) = etag else { return self.put_new(key, bytes).await };
        let cond = Conditional { etag_matches: Some(etag.to_string()), ..Conditional::default() };
        Ok(self.0.put(key, bytes).only_if(cond).execute().await.map_err(|e| failed(key, e))?.is_some())
    }

    async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut req = self.0.list().prefix(prefix.to_string());
            if let Some(c) = cursor.take() {
                req = req.cursor(c);
            }
            let page = req.execute().await.map_err(|e| failed(prefix, e))?;
            out.extend(
                page.objects()
                    .iter()
                    .map(|o| Listed { key: o.key(), uploaded_ms: i64::try_from(o.uploaded().as_millis()).unwrap_or(i64::MAX) }),
            );
            match page.cursor() {
                Some(c) if page.truncated() => cursor = Some(c),
                _ => break,
            }
        }
        Ok(Some(out))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(DELETE_BATCH) {
            let first = chunk.first().map_or("", String::as_str);
            self.0.delete_multiple(chunk.iter().map(String::as_str).collect()).await.map_err(|e| failed(first, e))?;
        }
        Ok(())
    }
}
