//! In-flight coalescing: concurrent misses for one key share one table read.
//!
//! The first request runs the read and leaves its outcome in isolate memory; requests that arrive
//! while it runs wait on their own timer and pick the outcome up, and requests arriving within
//! [`DONE_MS`] after it finished take it as it is. (Sharing one future between
//! requests does not work in workerd: I/O belongs to the request that started it, and the others
//! are cancelled as hung.) Entries expire after [`TTL_MS`] — a stuck read holds nobody longer —
//! and the map holds at most [`MAX_ENTRIES`] keys (past that, requests read on their own).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use shared::locate::Cost;
use shared::problem::Problem;
use worker::{Date, Delay};

use crate::read::Answer;

/// How long a running read may be waited for, ms.
pub const TTL_MS: u64 = 30_000;
/// How long a finished outcome stays for late joiners, ms.
pub const DONE_MS: u64 = 1_000;
/// Most keys tracked at once.
pub const MAX_ENTRIES: usize = 10_000;
/// How often a waiting request looks again, ms.
const POLL_MS: u64 = 5;

/// What a read yields.
pub type Outcome = (Result<Answer, Problem>, Cost);

enum Flight {
    Running { started: u64 },
    Done { at: u64, outcome: Outcome },
}

thread_local! {
    static FLIGHTS: RefCell<HashMap<String, Flight>> = RefCell::new(HashMap::new());
    static TABLE_READS: Cell<u64> = const { Cell::new(0) };
    static JOINED: Cell<u64> = const { Cell::new(0) };
}

/// Counts one table read (for `/$.health`).
pub fn count_table_read() {
    TABLE_READS.with(|c| c.set(c.get().saturating_add(1)));
}

/// `(table reads, requests that joined another's read, keys tracked)` of this isolate.
pub fn stats() -> (u64, u64, usize) {
    (TABLE_READS.with(Cell::get), JOINED.with(Cell::get), FLIGHTS.with(|f| f.borrow().len()))
}

fn prune(now: u64) {
    FLIGHTS.with(|f| {
        f.borrow_mut().retain(|_, flight| match flight {
            Flight::Running { started } => now.saturating_sub(*started) < TTL_MS,
            Flight::Done { at, .. } => now.saturating_sub(*at) < DONE_MS,
        })
    });
}

/// Runs `read` for `key`, or waits for the read already running for it (or finished less than
/// [`DONE_MS`] ago). With `share` false (`?fresh=true`) the read runs on its own.
pub async fn run(key: String, share: bool, read: impl Future<Output = Outcome>) -> Outcome {
    if !share {
        return read.await;
    }
    let now = Date::now().as_millis();
    prune(now);
    let (running, done) = FLIGHTS.with(|f| match f.borrow().get(&key) {
        Some(Flight::Running { .. }) => (true, None),
        Some(Flight::Done { outcome, .. }) => (false, Some(outcome.clone())),
        None => (false, None),
    });
    if let Some(outcome) = done {
        // Finished less than DONE_MS ago: that read answers this request too.
        JOINED.with(|c| c.set(c.get().saturating_add(1)));
        return outcome;
    }
    if running {
        loop {
            Delay::from(std::time::Duration::from_millis(POLL_MS)).await;
            let state = FLIGHTS.with(|f| match f.borrow().get(&key) {
                Some(Flight::Done { outcome, .. }) => Some(Some(outcome.clone())),
                Some(Flight::Running { started }) if Date::now().as_millis().saturating_sub(*started) < TTL_MS => None,
                _ => Some(None),
            });
            match state {
                None => continue,
                Some(Some(outcome)) => {
                    JOINED.with(|c| c.set(c.get().saturating_add(1)));
                    return outcome;
                }
                Some(None) => break,
            }
        }
    }
    let tracked = FLIGHTS.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() >= MAX_ENTRIES {
            return false;
        }
        f.insert(key.clone(), Flight::Running { started: now });
        true
    });
    let outcome = read.await;
    if tracked {
        FLIGHTS.with(|f| {
            let mut f = f.borrow_mut();
            if outcome.0.is_ok() {
                f.insert(key, Flight::Done { at: Date::now().as_millis(), outcome: outcome.clone() });
            } else {
                // A failed read (an upstream object missing or corrupt) is not shared: whoever
                // was waiting reads again, and the next request sees the repaired object.
                f.remove(&key);
            }
        });
    }
    outcome
}
