//! Serve and the ledger (#17, `docs/design/ledger.md`, "Serve"): a cache miss asks the key's
//! shard once (`lookup`), in parallel with the tables, and the answer is the newest of the pending
//! copy, the serving-table lookup and the tail.
//!
//! - [`Lookup`]: `lookup`'s answer parsed; [`Ledger`]: what a read learned (nothing bound, the
//!   ledger unavailable, or its answer).
//! - [`Reads::answer_with_ledger`]: the read. A confirmed tombstone newer than the tables' row is
//!   the 404 of a deleted artifact; a pending copy answers when it is the key's
//!   confirmed state and its place is greater than the table row's
//!   ([`crate::ledger::pending::copy_wins`], the ledger's ordering rules); it is a whole record
//!   JSON (`crate::record::Record::to_json`), answered through the same [`decide`] (visibility,
//!   scope, `ETag`), retention and representations (the `.json` layout of [`record_json`], the
//!   HTML rewriter) as a table row.
//! - [`deciding_state`]: which state decides whether an answer is current (cacheable): the
//!   ledger's when it holds one. [`hint_key`] and [`newer`]: the colo hint ingest leaves in its
//!   colo's cache, taken with KV's state. [`cached_current`]: whether a cached entry may answer.

use alloc::string::String;
use core::future::Future;
use core::pin::pin;
use core::task::Poll;

use serde_json::{Map, Value};

use super::{decide, not_found, readable, visibility_of, Answer, Got, Reads, Trace, Winner};
use crate::content::{ContentRef, Reader, Representation, RowOrder, Version};
use crate::ledger::state::{KeyState, Place};
use crate::locate::{At, Cell, Cost, Found, ObjectStore};
use crate::problem::Problem;
use crate::record::{Visibility, COLUMNS};
use crate::state::State;

/// A pending copy as `lookup` answers it: its place and the record's JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// `t` and `h`: the write's place.
    pub place: Place,
    /// `r`: the record JSON, as ingest sent it.
    pub record: String,
}

/// `lookup`'s answer: the key's confirmed state (`None`: the ledger holds no write of it) and its
/// pending copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The last confirmed write.
    pub state: Option<KeyState>,
    /// Its pending copy, when it has one.
    pub pending: Option<Copy>,
    /// `sup`: when a successor of the key (a write listing it in `supersedes`) was last confirmed,
    /// ms since the epoch; 0 when none (#18). Held even when the ledger has no write of the key.
    pub successor_at: i64,
}

impl Lookup {
    /// Parses `{"state": {…}|null, "pending": {"t","h","r"}|null, "sup": ms, "rows": n}` (`sup`
    /// absent: 0); `None` when it is not that (the caller treats the ledger as unavailable).
    pub fn parse(text: &str) -> Option<Lookup> {
        let v: Value = serde_json::from_str(text).ok()?;
        let state = match v.get("state")? {
            Value::Null => None,
            s @ Value::Object(_) => Some(KeyState::parse(&s.to_string()).ok()?),
            _ => return None,
        };
        let pending = match v.get("pending")? {
            Value::Null => None,
            p => Some(Copy {
                place: Place { ts: p.get("t")?.as_i64()?, dedupe: p.get("h")?.as_str()?.into() },
                record: p.get("r")?.as_str()?.into(),
            }),
        };
        let successor_at = match v.get("sup") {
            None | Some(Value::Null) => 0,
            Some(n) => n.as_i64()?,
        };
        Some(Lookup { state, pending, successor_at })
    }
}

/// What one read learned from the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Ledger {
    /// No ledger bound (or not asked: a cache hit).
    #[default]
    Off,
    /// Unreachable, failed or slower than `LEDGER_TIMEOUT_MS`: the tables answer, `no-store`.
    Unavailable,
    /// Its answer.
    Answered(Lookup),
}

impl Ledger {
    /// `off`, `unavailable`, `state` (it holds a confirmed write) or `none` (it holds none), for
    /// `Server-Timing`.
    pub fn status(&self) -> &'static str {
        match self {
            Ledger::Off => "off",
            Ledger::Unavailable => "unavailable",
            Ledger::Answered(Lookup { state: Some(_), .. }) => "state",
            Ledger::Answered(Lookup { state: None, .. }) => "none",
        }
    }

    /// The same, without the pending copy's body (what the trace keeps).
    fn without_copy(&self) -> Ledger {
        match self {
            Ledger::Answered(l) => Ledger::Answered(Lookup { state: l.state.clone(), pending: None, successor_at: l.successor_at }),
            other => other.clone(),
        }
    }
}

/// The colo hint's Cache API key: ingest puts the key's `{"g","h"}` there (max-age 60) when a
/// confirm queued its KV write, so a reader in the writer's colo sees the write before KV does.
pub fn hint_key(ns: &str, ty: &str, id: &str) -> String {
    alloc::format!("https://artifact-cache.internal/gen/{ns}/{ty}/{id}")
}

/// The newer of two states (the colo hint and KV): the greater generation. At the same
/// generation with another version (a bulk rewrite keeping its `ts`: the ledger takes the later
/// confirm, which neither state says it is), no cached answer is current: a state no entry
/// matches, so the read goes to the tables and nothing is cached until the two agree.
///
/// The successor stamp is the greater of the two (#18): it only moves forward, whichever state
/// carries the newer generation.
pub fn newer(a: State, b: State) -> State {
    let successor = a.successor.max(b.successor);
    let state = match b.generation.cmp(&a.generation) {
        core::cmp::Ordering::Greater => b,
        core::cmp::Ordering::Less => a,
        core::cmp::Ordering::Equal if a.dedupe == b.dedupe || b.dedupe.is_none() => a,
        core::cmp::Ordering::Equal if a.dedupe.is_none() => b,
        core::cmp::Ordering::Equal => State { dedupe: Some(String::from("\u{0}undecided")), ..a },
    };
    State { successor, ..state }
}

/// The state that decides whether an answer is current (and may be cached): the ledger's when it
/// holds a confirmed write of the key; `kv` (KV and the colo hint) when it holds none or is not
/// bound; `None` when it was unavailable (nothing may be cached: a pending write may be newer
/// than what the tables show). Its successor stamp is the greater of KV's and the ledger's `sup`
/// (#18), also when the ledger holds no write of the key.
pub fn deciding_state(kv: &State, ledger: &Ledger) -> Option<State> {
    match ledger {
        Ledger::Unavailable => None,
        Ledger::Answered(l) => {
            let base = l.state.as_ref().map_or_else(|| kv.clone(), KeyState::kv_state);
            Some(State { successor: kv.successor.max(l.successor_at), ..base })
        }
        Ledger::Off => Some(kv.clone()),
    }
}

/// The settle window after a successor's stamp (#18, `SUPERSEDE_SETTLE_SECONDS`): until
/// `successor_at_ms + settle_secs` an answer of the predecessor is stored for at most
/// `recheck_secs` (`SUPERSEDE_RECHECK_SECONDS`), since the edge the successor wrote may not be
/// absorbed yet; `None` outside it (or without a stamp): the configured windows.
pub fn settle_cap_secs(successor_at_ms: i64, now_ms: i64, settle_secs: u64, recheck_secs: u64) -> Option<u64> {
    let settle_ms = i64::try_from(settle_secs).unwrap_or(i64::MAX).saturating_mul(1_000);
    (successor_at_ms > 0 && now_ms < successor_at_ms.saturating_add(settle_ms)).then_some(recheck_secs)
}

/// Whether a cached entry (from a row with `ts` and `dedupe`) may answer under `state` (KV and the
/// colo hint). As [`State::current`], and also an entry newer than the state: only a lookup that
/// found it the ledger's state stores one (KV is written only for keys read since their last KV
/// write, so it may lag a write nobody read), and any later write purges it (that lookup marked
/// the key read, so its confirm writes KV: a new generation, another cache key).
pub fn cached_current(state: &State, ts: i64, dedupe: &str) -> bool {
    state.current(ts, dedupe) || ts > state.generation
}

/// A table row's place in the ledger's order (its dedupe key as [`decide`] computes it).
pub fn place_of(found: &Found, unowned: Visibility) -> Place {
    let visibility = visibility_of(found, unowned);
    let dedupe = crate::record::dedupe_key_of(
        found.content_hash.as_deref().unwrap_or("none"),
        visibility.as_str(),
        found.deleted,
        found.owner_org.as_deref().unwrap_or(""),
        found.owner_user.as_deref().unwrap_or(""),
    );
    Place { ts: found.ts, dedupe }
}

/// A pending copy's record JSON as a row: its locating fields as a [`Found`] (no file) and its
/// columns. `None` when it is not a record of `c`'s key.
pub struct PendingRow {
    /// The locating fields.
    pub found: Found,
    /// The record's members.
    pub values: Map<String, Value>,
}

fn time_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => crate::time::parse_rfc3339(s),
        _ => None,
    }
}

/// Parses a pending copy's record JSON (`Record::to_json`: `ts` and `expires_at` as µs, content
/// and `tags` as text) for `c`'s key.
pub fn row_of(record: &str, c: &ContentRef) -> Option<PendingRow> {
    let Value::Object(values) = serde_json::from_str::<Value>(record).ok()? else { return None };
    let text = |name: &str| values.get(name).and_then(Value::as_str).map(String::from);
    if text("ns")? != c.ns || text("type")? != c.ty || text("id")? != c.id {
        return None;
    }
    let ts = time_of(values.get("ts"))?;
    let found = Found {
        order: RowOrder { ts, sequence_number: i64::MAX, position: 0 },
        file_key: String::new(),
        file_size: 0,
        row_group: 0,
        row: 0,
        ts,
        deleted: values.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        visibility: text("visibility"),
        owner_org: text("owner_org"),
        owner_user: text("owner_user"),
        content_hash: text("content_hash"),
        size_bytes: values.get("size_bytes").and_then(Value::as_i64),
        expires_at: time_of(values.get("expires_at")),
        tags: text("tags"),
        tags_too_long: false,
        lists_supersedes: Some(values.get("supersedes").and_then(Value::as_array).is_some_and(|l| !l.is_empty())),
    };
    Some(PendingRow { found, values })
}

/// A record member as the cell a table would hold.
fn cell_of(name: &str, v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::Null,
        Some(Value::String(s)) if matches!(name, "ts" | "expires_at") => crate::time::parse_rfc3339(s).map_or(Cell::Null, Cell::Long),
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Number(n)) => n.as_i64().map_or(Cell::Null, Cell::Long),
        Some(Value::Bool(b)) => Cell::Bool(*b),
        Some(Value::Array(items)) => Cell::List(items.iter().map(|i| i.as_str().map(String::from)).collect()),
        // A JSON column sent as a value rather than text.
        Some(v @ Value::Object(_)) => Cell::Text(v.to_string()),
    }
}

/// What [`Reads::represent`] takes from a pending row for `c`'s representation.
fn got_of(row: &PendingRow, c: &ContentRef, show_owner: bool) -> Got {
    match c.representation {
        Representation::Text { column, .. } | Representation::Json { column } => Got::Value(match row.values.get(column) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
        }),
        Representation::Record => {
            let names = super::record_columns(show_owner);
            Got::Record(
                COLUMNS.iter().filter(|col| names.contains(&col.name)).map(|col| cell_of(col.name, row.values.get(col.name))).collect(),
            )
        }
    }
}

/// Runs two futures together (the ledger's lookup and the tables' read); no executor of its own.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    core::future::poll_fn(move |cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                ra = x;
                rb = y;
                Poll::Pending
            }
        }
    })
    .await
}

/// Runs futures together and gives their outputs in order (batch refs' ledger lookups); no
/// executor of its own, and none of `futures_util::join_all`'s machinery (kilobytes of wasm).
pub async fn join_all<F: Future>(futures: alloc::vec::Vec<F>) -> alloc::vec::Vec<F::Output> {
    let mut futures: alloc::vec::Vec<core::pin::Pin<alloc::boxed::Box<F>>> = futures.into_iter().map(alloc::boxed::Box::pin).collect();
    let mut out: alloc::vec::Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    core::future::poll_fn(|cx| {
        let mut waiting = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

impl<S: ObjectStore, C: super::Catalog + super::lineage::EdgeTables, H: super::Html> Reads<'_, S, C, H> {
    /// [`Reads::answer`] with the ledger: `ledger` (the key's `lookup`, bounded by the caller's
    /// timeout) runs in parallel with the tables; a pending copy newer than the tables' row
    /// answers a latest read (`trace.source` is `ledger`). What the ledger said is kept in
    /// `trace.ledger` (without the copy's body).
    pub async fn answer_with_ledger<L: Future<Output = Ledger>>(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        ledger: L,
        cost: &mut Cost,
        trace: &mut Trace,
    ) -> Result<Answer, Problem> {
        if c.version != Version::Latest {
            // History reads the source tables: a pending copy is never a version of the past.
            let (ledger, answer) = join(ledger, self.answer(c, reader, cost, trace)).await;
            trace.ledger = ledger.without_copy();
            return answer;
        }
        let (ledger, winner) = join(ledger, self.newest(c, &At::Current, cost, trace)).await;
        trace.ledger = ledger.without_copy();
        // Successors are looked for only when a successor was confirmed (the key's stamp) or the
        // ledger cannot say (#18): a key never superseded costs no edge read.
        if let Ledger::Answered(l) = &ledger {
            trace.links.successors &= l.successor_at > 0;
        }
        let winner = match winner {
            Ok(w) => w,
            Err(p) => return Err(p),
        };
        if let Some(answer) = self.pending_answer(c, reader, &ledger, winner.as_ref(), trace.links).await {
            trace.source = Some("ledger");
            return answer;
        }
        let first = self.answer_winner(c, reader, winner, cost, trace).await;
        self.settle(c, reader, first, cost, trace).await
    }

    /// The answer from the pending copy, when it wins over `winner` (the tables' newest row).
    async fn pending_answer(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        ledger: &Ledger,
        winner: Option<&Winner>,
        wanted: super::link::Wanted,
    ) -> Option<Result<Answer, Problem>> {
        let Ledger::Answered(Lookup { state: Some(state), pending, .. }) = ledger else { return None };
        let row_place = winner.map(|w| place_of(&w.found, self.policy.unowned_visibility));
        // A confirmed delete newer than the tables' row: the 404 of a deleted artifact, before the
        // sink commits the tombstone (a delete is read-your-writes too).
        if state.deleted && row_place.as_ref().is_none_or(|row| state.place().replaces(row)) {
            return Some(Ok(Answer::Problem(not_found(c))));
        }
        let copy = pending.as_ref()?;
        if !crate::ledger::pending::copy_wins(&copy.place, &state.place(), row_place.as_ref()) {
            return None;
        }
        let row = row_of(&copy.record, c)?;
        // The copy must be the write the ledger names (a record that says otherwise is not used).
        if place_of(&row.found, self.policy.unowned_visibility) != copy.place {
            return None;
        }
        Some(self.answer_pending(c, reader, &row, Some(String::from(state.mode.as_str())), wanted).await)
    }

    /// The answer to `reader` for `c` from a pending row (the `mode` it was written in): the same
    /// visibility, scope, `ETag`, retention, representations and links (`wanted`) as a table row.
    pub async fn answer_pending(
        &self,
        c: &ContentRef,
        reader: Reader<'_>,
        row: &PendingRow,
        mode: Option<String>,
        wanted: super::link::Wanted,
    ) -> Result<Answer, Problem> {
        let found = &row.found;
        if !readable(found, visibility_of(found, self.policy.unowned_visibility), &c.ns, reader) {
            return Ok(Answer::Problem(not_found(c)));
        }
        let expires = self.expiry_of(&c.ns, &c.ty, found, mode.as_deref()).await;
        if crate::retention::expired(self.catalog.now_us(), expires) {
            return Ok(Answer::Problem(not_found(c)));
        }
        let Some(d) = decide(c, reader, found, None, self.policy) else { return Ok(Answer::Problem(not_found(c))) };
        let got = got_of(row, c, d.show_owner);
        let supersedes: alloc::vec::Vec<String> = match row.values.get("supersedes") {
            Some(Value::Array(refs)) if wanted.predecessors => refs.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => alloc::vec::Vec::new(),
        };
        let linked = self.linked(c, reader, &d, wanted, &supersedes, &mut Cost::default()).await?;
        self.represent(c, &d, found, mode, expires, got, linked)
    }
}

#[cfg(test)]
mod tests;
