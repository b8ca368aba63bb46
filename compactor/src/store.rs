//! The object store the compactor runs over: whole and ranged reads with an etag, create-only and
//! etag-conditional puts, listing with upload times (optional) and deletes. R2 in the workers
//! (`compactor::r2::R2`, feature `r2`), the filesystem natively ([`FsStore`]), memory in tests
//! ([`MemStore`], with a clock tests set).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;

pub use shared::locate::StoreError;

/// An object read: its bytes (the range asked for) and its etag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The etag of the whole object (what a conditional put compares).
    pub etag: String,
}

/// One key of a listing and when its object was uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key.
    pub key: String,
    /// Upload time, ms since the epoch (R2's `uploaded`, a file's mtime).
    pub uploaded_ms: i64,
}

/// What the compactor needs of a bucket.
#[allow(async_fn_in_trait)] // single-threaded callers (wasm, native block_on): no Send bound wanted
pub trait Store {
    /// `key` whole (`None`) or `[start, start + len)`.
    fn get(&self, key: &str, range: Option<(u64, u64)>) -> impl Future<Output = Result<Object, StoreError>>;
    /// Creates `key`; `Ok(false)` when it exists already.
    fn put_new(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<bool, StoreError>>;
    /// Replaces `key` when its etag is `etag` (`None`: creates it when absent); `Ok(false)` when
    /// the condition failed.
    fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> impl Future<Output = Result<bool, StoreError>>;
    /// Every key under `prefix` with its upload time, `None` when the store cannot list (then
    /// tables need a `version-hint.text`, and the serving table's old files are not collected).
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Option<Vec<Listed>>, StoreError>>;
    /// Deletes `keys` (absent ones are no error).
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>>;
}

/// The keys of a listing.
pub fn keys_of(listed: Vec<Listed>) -> Vec<String> {
    listed.into_iter().map(|l| l.key).collect()
}

/// A [`MemStore`] object: bytes, etag counter, upload time (ms).
type MemObject = (Vec<u8>, u64, i64);

/// An in-memory store (tests). Etags are a counter, as any opaque etag would do; upload times
/// are its clock ([`MemStore::set_now`], 0 until set).
#[derive(Debug, Default)]
pub struct MemStore {
    objects: RefCell<BTreeMap<String, MemObject>>,
    next: RefCell<u64>,
    now: Cell<i64>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A copy of every object (tests: the same state, run two ways).
    pub fn duplicate(&self) -> MemStore {
        MemStore { objects: RefCell::new(self.objects.borrow().clone()), next: RefCell::new(*self.next.borrow()), now: self.now.clone() }
    }

    /// Sets the clock: objects put from now on were uploaded at `ms`.
    pub fn set_now(&self, ms: i64) {
        self.now.set(ms);
    }

    /// The clock.
    pub fn now(&self) -> i64 {
        self.now.get()
    }

    /// When `key` was uploaded.
    pub fn uploaded(&self, key: &str) -> Option<i64> {
        self.objects.borrow().get(key).map(|o| o.2)
    }

    /// Every key.
    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }

    /// Puts `key` unconditionally (tests: tables written by the writer, broken objects).
    pub fn set(&self, key: &str, bytes: Vec<u8>) {
        let n = self.bump();
        self.objects.borrow_mut().insert(key.to_string(), (bytes, n, self.now.get()));
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        self.objects.borrow_mut().remove(key);
    }

    /// The whole object, if any.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.borrow().get(key).map(|o| o.0.clone())
    }

    fn bump(&self) -> u64 {
        let mut n = self.next.borrow_mut();
        *n = n.saturating_add(1);
        *n
    }
}

/// `[start, start + len)` of `bytes`.
pub fn slice(bytes: &[u8], range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
    match range {
        None => Ok(bytes.to_vec()),
        Some((start, len)) => {
            let start = usize::try_from(start).map_err(|_| StoreError::Failed("range".into()))?;
            let end = start.saturating_add(usize::try_from(len).map_err(|_| StoreError::Failed("range".into()))?);
            bytes.get(start..end.min(bytes.len())).map(<[u8]>::to_vec).ok_or_else(|| StoreError::Failed("range outside the object".into()))
        }
    }
}

impl Store for MemStore {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
        let objects = self.objects.borrow();
        let (bytes, n, _) = objects.get(key).ok_or(StoreError::NotFound)?;
        Ok(Object { bytes: slice(bytes, range)?, etag: n.to_string() })
    }

    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        if self.objects.borrow().contains_key(key) {
            return Ok(false);
        }
        self.set(key, bytes);
        Ok(true)
    }

    async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
        let current = self.objects.borrow().get(key).map(|o| o.1.to_string());
        if current.as_deref() != etag {
            return Ok(false);
        }
        self.set(key, bytes);
        Ok(true)
    }

    async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
        let objects = self.objects.borrow();
        Ok(Some(objects.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, o)| Listed { key: k.clone(), uploaded_ms: o.2 }).collect()))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut objects = self.objects.borrow_mut();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }
}

/// Runs a future whose store never waits (the filesystem and memory stores answer at once) to
/// completion on this thread: `make compact` and the native tests need no executor.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use fs::FsStore;

#[cfg(not(target_arch = "wasm32"))]
mod fs {
    use super::{slice, Listed, Object, Store, StoreError};
    use std::hash::{Hash, Hasher};
    use std::io::Write;
    use std::path::{Path, PathBuf};

    /// A directory as a bucket: keys are paths below it. Create-only puts use `create_new`
    /// (atomic); an etag is a hash of the object's length, mtime and content, and a conditional
    /// put compares it, then replaces the file by rename (a lock-free compare: good enough for
    /// one `make compact` at a time, which is what it is for).
    pub struct FsStore(pub PathBuf);

    fn failed(key: &str, e: std::io::Error) -> StoreError {
        StoreError::Failed(format!("{key}: {e}"))
    }

    fn etag_of(path: &Path, bytes: &[u8]) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        if let Ok(m) = std::fs::metadata(path).and_then(|m| m.modified()) {
            m.hash(&mut h);
        }
        format!("{:016x}", h.finish())
    }

    impl FsStore {
        fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
            if key.split('/').any(|s| s == ".." || s.is_empty()) {
                return Err(StoreError::Failed(format!("{key}: not a key")));
            }
            Ok(self.0.join(key))
        }

        fn read(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
            let path = self.path(key)?;
            match std::fs::read(&path) {
                Ok(b) => {
                    let etag = etag_of(&path, &b);
                    Ok(Some((b, etag)))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(failed(key, e)),
            }
        }
    }

    impl Store for FsStore {
        async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Object, StoreError> {
            let (bytes, etag) = self.read(key)?.ok_or(StoreError::NotFound)?;
            Ok(Object { bytes: slice(&bytes, range)?, etag })
        }

        async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| failed(key, e))?;
            }
            // Written aside, then linked in: create-only and never seen half written.
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            let mut f = std::fs::File::create(&tmp).map_err(|e| failed(key, e))?;
            f.write_all(&bytes).and_then(|()| f.sync_all()).map_err(|e| failed(key, e))?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(failed(key, e)),
            }
        }

        async fn put_if(&self, key: &str, bytes: Vec<u8>, etag: Option<&str>) -> Result<bool, StoreError> {
            let Some(etag) = etag else { return self.put_new(key, bytes).await };
            match self.read(key)? {
                Some((_, current)) if current == etag => {}
                _ => return Ok(false),
            }
            let path = self.path(key)?;
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&tmp, &bytes).map_err(|e| failed(key, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| failed(key, e))?;
            Ok(true)
        }

        async fn list(&self, prefix: &str) -> Result<Option<Vec<Listed>>, StoreError> {
            let (dir, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
            let base = if dir.is_empty() { self.0.clone() } else { self.path(dir)? };
            let mut out = Vec::new();
            let mut stack = vec![(base, dir.to_string())];
            while let Some((path, rel)) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&path) else { continue };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push((entry.path(), child));
                    } else if child.starts_with(prefix) {
                        let uploaded_ms = entry
                            .metadata()
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                        out.push(Listed { key: child, uploaded_ms });
                    }
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(Some(out))
        }

        async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
            for k in keys {
                match std::fs::remove_file(self.path(k)?) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(failed(k, e)),
                }
            }
            Ok(())
        }
    }
}
