//! Stale-while-revalidate on top of the Cache API, which ignores `stale-while-revalidate`
//! itself: the worker stores when a response was produced and decides here what an age means.

use alloc::string::String;

/// Fresh and stale windows, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Answer from cache without asking the table.
    pub fresh_secs: u64,
    /// After `fresh_secs`: answer from cache and revalidate in the background.
    pub stale_secs: u64,
}

/// Smallest `?max_age=` honoured, seconds.
pub const MIN_MAX_AGE_SECS: u64 = 10;

impl Windows {
    /// Applies a caller's `?max_age=N` to the fresh window of *its own* answer: it may only
    /// shorten the configured window (at least [`MIN_MAX_AGE_SECS`]), never lengthen it, and the
    /// result is never stored with a cache entry (regression, security issue 6: a stored
    /// `max_age=31536000` told every later reader's browser to keep the copy for a year).
    pub fn with_max_age(self, max_age: Option<&str>) -> Windows {
        match max_age.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) => Windows { fresh_secs: n.max(MIN_MAX_AGE_SECS).min(self.fresh_secs), ..self },
            None => self,
        }
    }

    /// How long the Cache API must keep an entry: both windows.
    pub fn storage_secs(&self) -> u64 {
        self.fresh_secs.saturating_add(self.stale_secs)
    }

    /// The windows of an answer that may be cached `left` more seconds at most (retention: no
    /// window outlives the artifact's expiry, #18); `None`: unchanged.
    pub fn within(self, left: Option<u64>) -> Windows {
        let Some(left) = left else { return self };
        let fresh_secs = self.fresh_secs.min(left);
        Windows { fresh_secs, stale_secs: self.stale_secs.min(left.saturating_sub(fresh_secs)) }
    }
}

/// What a cached entry of a given age is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it.
    Fresh,
    /// Serve it and refresh it in the background.
    Stale,
    /// Read the table.
    Expired,
}

/// Classifies an entry produced `age_ms` ago.
pub fn freshness(age_ms: u64, w: Windows) -> Freshness {
    let fresh_ms = w.fresh_secs.saturating_mul(1_000);
    if age_ms < fresh_ms {
        Freshness::Fresh
    } else if age_ms < fresh_ms.saturating_add(w.stale_secs.saturating_mul(1_000)) {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// `Cache-Control` for clients and CDNs: private content is never shared; public content may be
/// reused for what is left of the fresh window, then served stale while revalidating.
pub fn client_cache_control(private: bool, age_ms: u64, w: Windows) -> String {
    if private {
        return "private, no-cache".into();
    }
    let left = w.fresh_secs.saturating_sub(age_ms / 1_000);
    alloc::format!("public, max-age={left}, stale-while-revalidate={}", w.stale_secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows_never_outlive_an_expiry() {
        let w = Windows { fresh_secs: 300, stale_secs: 60 };
        assert_eq!(w.within(None), w);
        assert_eq!(w.within(Some(1000)), w);
        assert_eq!(w.within(Some(320)), Windows { fresh_secs: 300, stale_secs: 20 });
        assert_eq!(w.within(Some(100)), Windows { fresh_secs: 100, stale_secs: 0 });
        assert_eq!(w.within(Some(0)).storage_secs(), 0);
    }

    use super::*;

    const W: Windows = Windows { fresh_secs: 300, stale_secs: 60 };

    #[test]
    fn windows() {
        assert_eq!(freshness(0, W), Freshness::Fresh);
        assert_eq!(freshness(299_999, W), Freshness::Fresh);
        assert_eq!(freshness(300_000, W), Freshness::Stale);
        assert_eq!(freshness(359_999, W), Freshness::Stale);
        assert_eq!(freshness(360_000, W), Freshness::Expired);
        assert_eq!(W.storage_secs(), 360);
    }

    #[test]
    fn max_age_override_has_a_floor_and_a_ceiling() {
        assert_eq!(W.with_max_age(Some("30")).fresh_secs, 30);
        assert_eq!(W.with_max_age(Some("31536000")).fresh_secs, 300, "capped at the configured window");
        assert_eq!(Windows { fresh_secs: 5, stale_secs: 1 }.with_max_age(Some("1")).fresh_secs, 5, "never above the window");
        assert_eq!(W.with_max_age(Some("1")).fresh_secs, MIN_MAX_AGE_SECS);
        assert_eq!(W.with_max_age(Some("x")).fresh_secs, 300);
        assert_eq!(W.with_max_age(None), W);
    }

    #[test]
    fn client_headers() {
        assert_eq!(client_cache_control(true, 0, W), "private, no-cache");
        assert_eq!(client_cache_control(false, 100_000, W), "public, max-age=200, stale-while-revalidate=60");
        assert_eq!(client_cache_control(false, 400_000, W), "public, max-age=0, stale-while-revalidate=60");
    }
}
