//! In-flight coalescing in this isolate: concurrent misses for one key share one table read.
//!
//! The bookkeeping (one leader per key, 30 s expiry, 10,000-key cap, 1 s reuse of a finished
//! outcome, failures never shared) is `shared::coalesce::Flights`, tested natively. Here: the
//! clock, and waiting on each request's own timer — sharing one future between requests does not
//! work in workerd (I/O belongs to the request that started it; the others are cancelled as hung).

use std::cell::{Cell, RefCell};
use std::future::Future;

use shared::answer::Answer;
use shared::coalesce::{Arrival, Check, Flights};
use shared::locate::Cost;
use shared::problem::Problem;
use worker::{Date, Delay};

/// How long a running read may be waited for, ms.
pub const TTL_MS: u64 = 30_000;
/// How long a finished outcome answers late arrivals, ms.
pub const DONE_MS: u64 = 1_000;
/// Most keys tracked at once.
pub const MAX_ENTRIES: usize = 10_000;
/// How often a waiting request looks again, ms.
const POLL_MS: u64 = 5;

/// What a read yields.
pub type Outcome = (Result<Answer, Problem>, Cost, shared::answer::Trace);

thread_local! {
    static FLIGHTS: RefCell<Flights<Outcome>> = RefCell::new(Flights::new(TTL_MS, DONE_MS, MAX_ENTRIES));
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

fn joined(outcome: Outcome) -> Outcome {
    JOINED.with(|c| c.set(c.get().saturating_add(1)));
    outcome
}

/// Runs `read` for `key`, or waits for the read already running for it (or finished less than
/// [`DONE_MS`] ago). With `share` false (`?fresh=true`) the read runs on its own.
pub async fn run(key: String, share: bool, read: impl Future<Output = Outcome>) -> Outcome {
    if !share {
        return read.await;
    }
    let tracked = match FLIGHTS.with(|f| f.borrow_mut().arrive(&key, Date::now().as_millis())) {
        Arrival::Take(outcome) => return joined(outcome),
        Arrival::Lead { tracked } => tracked,
        Arrival::Wait => loop {
            Delay::from(std::time::Duration::from_millis(POLL_MS)).await;
            match FLIGHTS.with(|f| f.borrow_mut().check(&key, Date::now().as_millis())) {
                Check::Waiting => continue,
                Check::Done(outcome) => return joined(outcome),
                // Failed, expired or evicted: read on our own, untracked.
                Check::ReadYourself => break false,
            }
        },
    };
    let outcome = read.await;
    if tracked {
        // Not shared when the ledger was unavailable: that answer is no-store (a pending write
        // may be newer than what the tables showed).
        let shared = (outcome.0.is_ok() && outcome.2.ledger != shared::answer::pending::Ledger::Unavailable).then(|| outcome.clone());
        FLIGHTS.with(|f| f.borrow_mut().finish(&key, Date::now().as_millis(), shared));
    }
    outcome
}
