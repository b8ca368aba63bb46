//! Retention (#18, docs/serve.md "Retention"): how long an artifact lives, evaluated at read time.
//!
//! A tenant's settings (`tenant:<org>`, [`crate::tenant`]) may hold
//!
//! ```json
//! {"retention": {"preview": "7d", "build": "90d", "bulk": null,
//!                "docs/guide": {"preview": "1d"}}}
//! ```
//!
//! — a keep duration per mode (`"7d"`, `"12h"`, `"30m"`, `"45s"` or a number of seconds; `null` or
//! absent: kept), overridden per `ns/type` (modes it does not name fall back to the tenant's). A
//! record's own `expires_at` overrides the policy either way. An artifact whose current version
//! is expired answers as a deleted one; extending the policy brings it back while its rows exist.

use alloc::string::String;
use alloc::vec::Vec;
use serde_json::Value;

use crate::record::Mode;

/// µs in a second.
const SECOND_US: i64 = 1_000_000;

/// A keep duration per mode: `Some(µs)` or `None` (kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerMode {
    /// `[preview, build, bulk]`; the outer `None`: not named here (fall back), `Some(None)`: kept.
    keep: [Option<Option<i64>>; 3],
}

fn index(mode: Mode) -> usize {
    match mode {
        Mode::Preview => 0,
        Mode::Build => 1,
        Mode::Bulk => 2,
    }
}

/// A tenant's retention policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Per mode, the tenant's default.
    modes: PerMode,
    /// `(ns/type, per mode)` overrides.
    types: Vec<(String, PerMode)>,
}

/// `"7d"`, `"12h"`, `"30m"`, `"45s"` or seconds as a number → µs; anything else `None`.
pub fn duration_us(v: &Value) -> Option<i64> {
    let secs = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => {
            let s = s.trim();
            let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = digits.parse().ok()?;
            let mult: u64 = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return None,
            };
            n.checked_mul(mult)?
        }
        _ => return None,
    };
    i64::try_from(secs).ok()?.checked_mul(SECOND_US)
}

fn per_mode(v: &Value) -> PerMode {
    let mut out = PerMode::default();
    let Value::Object(map) = v else { return out };
    for mode in Mode::ALL {
        let keep = match map.get(mode.as_str()) {
            None => None,
            Some(Value::Null) => Some(None),
            // A value that is not a duration keeps (never deletes by mistake).
            Some(d) => Some(duration_us(d)),
        };
        if let Some(slot) = out.keep.get_mut(index(mode)) {
            *slot = keep;
        }
    }
    out
}

impl Retention {
    /// From the tenant settings' JSON text (no `retention` member, or not an object: keep all).
    pub fn parse(tenant_json: &str) -> Retention {
        let Ok(Value::Object(t)) = serde_json::from_str::<Value>(tenant_json) else { return Retention::default() };
        let Some(r @ Value::Object(map)) = t.get("retention") else { return Retention::default() };
        let types = map.iter().filter(|(k, v)| k.contains('/') && v.is_object()).map(|(k, v)| (k.clone(), per_mode(v))).collect();
        Retention { modes: per_mode(r), types }
    }

    /// How long a `mode` artifact of `ns/ty` is kept (µs; `None`: kept).
    pub fn keep_us(&self, ns: &str, ty: &str, mode: Option<Mode>) -> Option<i64> {
        let mode = mode?;
        let i = index(mode);
        let by_type = self
            .types
            .iter()
            .find(|(k, _)| k.split_once('/').is_some_and(|(n, t)| n == ns && t == ty))
            .and_then(|(_, p)| p.keep.get(i).copied().flatten());
        by_type.or_else(|| self.modes.keep.get(i).copied().flatten()).flatten()
    }

    /// Whether it keeps everything.
    pub fn is_empty(&self) -> bool {
        self.modes == PerMode::default() && self.types.is_empty()
    }
}

/// When an artifact expires (µs): its own `expires_at`, else `ts` plus the policy's keep, else
/// never (`None`).
pub fn expiry(ts: i64, expires_at: Option<i64>, keep_us: Option<i64>) -> Option<i64> {
    expires_at.or_else(|| keep_us.map(|k| ts.saturating_add(k)))
}

/// Whether an artifact expiring at `expiry` is expired at `now_us`.
pub fn expired(now_us: i64, expiry: Option<i64>) -> bool {
    expiry.is_some_and(|e| now_us >= e)
}

/// Seconds an answer may still be cached before `expiry` (`None`: no limit), rounded down.
pub fn seconds_left(now_us: i64, expiry: Option<i64>) -> Option<u64> {
    expiry.map(|e| u64::try_from(e.saturating_sub(now_us).max(0) / SECOND_US).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: i64 = 86_400 * SECOND_US;

    #[test]
    fn durations() {
        assert_eq!(duration_us(&json!("7d")), Some(7 * DAY));
        assert_eq!(duration_us(&json!("12h")), Some(12 * 3600 * SECOND_US));
        assert_eq!(duration_us(&json!("30m")), Some(1800 * SECOND_US));
        assert_eq!(duration_us(&json!("45s")), Some(45 * SECOND_US));
        assert_eq!(duration_us(&json!("45")), Some(45 * SECOND_US));
        assert_eq!(duration_us(&json!(60)), Some(60 * SECOND_US));
        for bad in [json!("7w"), json!("-1d"), json!("d"), json!(""), json!(-5), json!(1.5), json!(true), json!("99999999999999999999d")] {
            assert_eq!(duration_us(&bad), None, "{bad}");
        }
    }

    #[test]
    fn policy_per_mode_overridden_per_type() {
        let r = Retention::parse(
            r#"{"retention": {"preview": "7d", "build": "90d", "bulk": null, "docs/guide": {"preview": "1d", "bulk": "2d"}, "x/y": {"build": null}}}"#,
        );
        assert_eq!(r.keep_us("a", "b", Some(Mode::Preview)), Some(7 * DAY));
        assert_eq!(r.keep_us("a", "b", Some(Mode::Build)), Some(90 * DAY));
        assert_eq!(r.keep_us("a", "b", Some(Mode::Bulk)), None);
        assert_eq!(r.keep_us("docs", "guide", Some(Mode::Preview)), Some(DAY));
        assert_eq!(r.keep_us("docs", "guide", Some(Mode::Build)), Some(90 * DAY), "not named for the type: the tenant's");
        assert_eq!(r.keep_us("docs", "guide", Some(Mode::Bulk)), Some(2 * DAY));
        assert_eq!(r.keep_us("x", "y", Some(Mode::Build)), None, "null for the type: kept");
        assert_eq!(r.keep_us("a", "b", None), None, "a table of no mode: kept");
        assert!(!r.is_empty());
        for none in ["", "[]", "{}", r#"{"retention": 5}"#, r#"{"retention": {"preview": "soon"}}"#] {
            let r = Retention::parse(none);
            assert_eq!(r.keep_us("a", "b", Some(Mode::Preview)), None, "{none}");
        }
    }

    #[test]
    fn expires_at_overrides_the_policy_either_way() {
        assert_eq!(expiry(100, None, Some(50)), Some(150));
        assert_eq!(expiry(100, Some(120), Some(50)), Some(120), "earlier");
        assert_eq!(expiry(100, Some(1_000), Some(50)), Some(1_000), "later");
        assert_eq!(expiry(100, None, None), None);
        assert!(expired(150, Some(150)));
        assert!(!expired(149, Some(150)));
        assert!(!expired(i64::MAX, None));
        assert_eq!(seconds_left(0, Some(2_500_000)), Some(2));
        assert_eq!(seconds_left(3_000_000, Some(2_500_000)), Some(0));
        assert_eq!(seconds_left(0, None), None);
    }
}
