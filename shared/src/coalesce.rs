//! The bookkeeping of in-flight coalescing, free of I/O and clocks so it is tested natively: one
//! leader per key reads; followers wait for its outcome or take one finished moments ago. Running
//! entries expire after `ttl_ms` (a stuck read holds nobody longer), finished ones after
//! `done_ms`, and at most `max` keys are tracked (past that, requests read on their own).

use alloc::collections::BTreeMap;
use alloc::string::String;

enum Flight<T> {
    Running { started: u64 },
    Done { at: u64, outcome: T },
}

/// What a request should do on arrival.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival<T> {
    /// Read, and report with [`Flights::finish`] (`tracked`: others may wait for it).
    Lead {
        /// Whether the key is tracked (false when the map is full).
        tracked: bool,
    },
    /// Another request is reading: poll with [`Flights::check`].
    Wait,
    /// A read finished moments ago: use its outcome.
    Take(T),
}

/// What a waiting request finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Check<T> {
    /// Still running.
    Waiting,
    /// Finished: the outcome.
    Done(T),
    /// Gone (failed, expired or evicted): read on your own.
    ReadYourself,
}

/// The in-flight table.
pub struct Flights<T> {
    map: BTreeMap<String, Flight<T>>,
    ttl_ms: u64,
    done_ms: u64,
    max: usize,
}

impl<T: Clone> Flights<T> {
    /// A table with the given limits.
    pub fn new(ttl_ms: u64, done_ms: u64, max: usize) -> Self {
        Flights { map: BTreeMap::new(), ttl_ms, done_ms, max }
    }

    fn prune(&mut self, now: u64) {
        let (ttl, done) = (self.ttl_ms, self.done_ms);
        self.map.retain(|_, f| match f {
            Flight::Running { started } => now.saturating_sub(*started) < ttl,
            Flight::Done { at, .. } => now.saturating_sub(*at) < done,
        });
    }

    /// A request for `key` arrives at `now`.
    pub fn arrive(&mut self, key: &str, now: u64) -> Arrival<T> {
        self.prune(now);
        match self.map.get(key) {
            Some(Flight::Running { .. }) => Arrival::Wait,
            Some(Flight::Done { outcome, .. }) => Arrival::Take(outcome.clone()),
            None if self.map.len() >= self.max => Arrival::Lead { tracked: false },
            None => {
                self.map.insert(key.into(), Flight::Running { started: now });
                Arrival::Lead { tracked: true }
            }
        }
    }

    /// A waiting request looks again at `now`.
    pub fn check(&mut self, key: &str, now: u64) -> Check<T> {
        self.prune(now);
        match self.map.get(key) {
            Some(Flight::Running { .. }) => Check::Waiting,
            Some(Flight::Done { outcome, .. }) => Check::Done(outcome.clone()),
            None => Check::ReadYourself,
        }
    }

    /// The leader's read finished at `now`: `Some` outcome is shared, `None` (a failure) is not.
    pub fn finish(&mut self, key: &str, now: u64, outcome: Option<T>) {
        match outcome {
            Some(outcome) => {
                self.map.insert(key.into(), Flight::Done { at: now, outcome });
            }
            None => {
                self.map.remove(key);
            }
        }
    }

    /// Keys tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn flights() -> Flights<u32> {
        Flights::new(30_000, 1_000, 10_000)
    }

    #[test]
    fn one_leader_followers_wait_then_take() {
        let mut f = flights();
        assert_eq!(f.arrive("k", 0), Arrival::Lead { tracked: true });
        assert_eq!(f.arrive("k", 5), Arrival::Wait);
        assert_eq!(f.check("k", 10), Check::Waiting);
        f.finish("k", 20, Some(7));
        assert_eq!(f.check("k", 25), Check::Done(7));
        assert_eq!(f.arrive("k", 900), Arrival::Take(7), "within done_ms of the finish");
        assert_eq!(f.arrive("k", 1_020), Arrival::Lead { tracked: true }, "after done_ms a new read");
    }

    #[test]
    fn running_entries_expire_after_30_s() {
        let mut f = flights();
        assert_eq!(f.arrive("k", 0), Arrival::Lead { tracked: true });
        assert_eq!(f.arrive("k", 29_999), Arrival::Wait);
        assert_eq!(f.check("k", 30_000), Check::ReadYourself, "a stuck read is abandoned");
        assert_eq!(f.arrive("k", 30_001), Arrival::Lead { tracked: true });
    }

    #[test]
    fn the_map_holds_at_most_10_000_keys() {
        let mut f = flights();
        for i in 0..10_000 {
            assert_eq!(f.arrive(&format!("k{i}"), 0), Arrival::Lead { tracked: true });
        }
        assert_eq!(f.len(), 10_000);
        assert_eq!(f.arrive("one-more", 1), Arrival::Lead { tracked: false }, "past the cap, read alone");
        assert_eq!(f.len(), 10_000);
        assert_eq!(f.arrive("one-more", 30_000), Arrival::Lead { tracked: true }, "expired entries make room");
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn failures_are_not_shared() {
        let mut f = flights();
        assert_eq!(f.arrive("k", 0), Arrival::Lead { tracked: true });
        assert_eq!(f.arrive("k", 1), Arrival::Wait);
        f.finish("k", 2, None);
        assert_eq!(f.check("k", 3), Check::ReadYourself);
        assert!(f.is_empty());
    }
}
