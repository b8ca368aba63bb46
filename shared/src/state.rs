//! The artifact state ingest records in KV when a write is confirmed, and serve reads to purge:
//! `{"g": generation, "h": dedupe key}` under [`crate::cache_key::state_key`]. One codec, so the
//! writer and both readers agree on the value by construction.

use alloc::string::{String, ToString};
use serde_json::Value;

/// What ingest recorded for an artifact when a write was confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// `g`: the generation (the confirmed record's `ts`; 0 when never written through ingest).
    pub generation: i64,
    /// `h`: the confirmed record's dedupe key (`crate::record::dedupe_key_of`), when recorded.
    pub dedupe: Option<String>,
    /// `s`: when a successor of the artifact (a write listing it in `supersedes`) was last
    /// confirmed, ms since the epoch; 0 when none (written only when set). Part of the cache key,
    /// so a confirmed successor purges the artifact's cached answers (#18).
    pub successor: i64,
}

impl State {
    /// The state of a confirmed write.
    pub fn confirmed(dedupe: &str, generation: i64) -> State {
        State { generation, dedupe: Some(dedupe.into()), successor: 0 }
    }

    /// Parses a KV value. `None` when it is not JSON; a JSON value without `g` has generation 0,
    /// one without a string `h` no dedupe key.
    pub fn parse(text: &str) -> Option<State> {
        let v = serde_json::from_str::<Value>(text).ok()?;
        Some(State {
            generation: v.get("g").and_then(Value::as_i64).unwrap_or(0),
            dedupe: v.get("h").and_then(Value::as_str).map(String::from),
            successor: v.get("s").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// The KV value: `{"g":…,"h":…,"s":…}` (`h` only when known, `s` only when set).
    pub fn to_json(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("g".into(), Value::from(self.generation));
        if let Some(h) = &self.dedupe {
            map.insert("h".into(), Value::String(h.clone()));
        }
        if self.successor != 0 {
            map.insert("s".into(), Value::from(self.successor));
        }
        Value::Object(map).to_string()
    }

    /// Whether an answer made from a row with `ts` and dedupe key `dedupe` is the latest
    /// confirmed write, so it may be cached (and a cached one used). The generation alone is not
    /// enough: a bulk rewrite may carry the same `ts` as the version cached before it.
    pub fn current(&self, ts: i64, dedupe: &str) -> bool {
        ts >= self.generation && self.dedupe.as_deref().is_none_or(|h| h == dedupe)
    }
}

#[cfg(test)]
mod tests {
    use super::State;

    #[test]
    fn an_entry_is_current_only_for_the_last_confirmed_write() {
        let key = |vis: &str| crate::record::dedupe_key_of("abc", vis, false, "acme", "alice");
        let state = State { generation: 10, dedupe: Some(key("org")), successor: 0 };
        assert!(state.current(10, &key("org")));
        assert!(state.current(11, &key("org")), "a newer row with the same dedupe key");
        assert!(!state.current(9, &key("org")), "older than the generation");
        // Regression: a bulk rewrite with the same ts (here public → org) kept the generation,
        // and the public answer stayed cached.
        assert!(!state.current(10, &key("public")));
        assert!(
            State { generation: 10, dedupe: None, successor: 0 }.current(10, &key("public")),
            "no recorded key: the generation decides"
        );
        assert!(!state.current(10, ""), "entries stored without a dedupe key");
    }

    #[test]
    fn the_kv_value_round_trips_in_the_layout_ingest_always_wrote() {
        let s = State::confirmed("k\"1", 1_700_000_000_000_000);
        // The bytes `json!({"h": …, "g": …})` wrote before this codec (keys sorted).
        assert_eq!(s.to_json(), r#"{"g":1700000000000000,"h":"k\"1"}"#);
        assert_eq!(State::parse(&s.to_json()), Some(s.clone()));
        assert_eq!(State::parse(r#"{"h":"x"}"#), Some(State { generation: 0, dedupe: Some("x".into()), successor: 0 }));
        assert_eq!(State::parse(r#"{"g":5,"h":7}"#), Some(State { generation: 5, dedupe: None, successor: 0 }), "a non-string h is no key");
        assert_eq!(State::parse("[1]"), Some(State::default()));
        assert_eq!(State::parse("not json"), None);
        let s = State { successor: 1_700_000_000_123, ..s };
        assert_eq!(s.to_json(), r#"{"g":1700000000000000,"h":"k\"1","s":1700000000123}"#);
        assert_eq!(State::parse(&s.to_json()), Some(s));
    }
}
