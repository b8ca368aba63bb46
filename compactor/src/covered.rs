//! What the ledger learns from a run (#17, `docs/design/ledger.md`, "Pending copies" 3–4): per key
//! the run absorbed, the winning row's place `(ts, dedupe key)` — the ledger's `covered` deletes
//! pending copies at or below it — and the sources' watermarks after the run. The compact worker
//! sends them; the compactor only reports them (kept apart from `table.rs`: two lines there).

use iceberg_writer::serving::ServingRow;
use shared::serving::root::SourceState;

/// The newest row a run absorbed for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absorbed {
    /// The source it came from (its index in the configuration, as the serving root's `sources`).
    pub source: u32,
    /// That source's mode, when it has one.
    pub mode: Option<String>,
    /// `ns/type/id`.
    pub key: String,
    /// Its `ts` (µs).
    pub ts: i64,
    /// Its dedupe key (`shared::record::dedupe_key_of`), as the ledger orders writes.
    pub dedupe: String,
}

/// A source's watermark after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The source's id (its table root).
    pub source: String,
    /// Its mode, when it is one of the stand-in's or the sink's mode tables.
    pub mode: Option<String>,
    /// The last snapshot absorbed.
    pub snapshot_id: i64,
    /// Its sequence number.
    pub seq: i64,
}

/// Per key of `newest` (the run's newest row per key, before retention), its place and source.
pub(crate) fn absorbed(newest: &[ServingRow], sources: &[SourceState]) -> Vec<Absorbed> {
    newest
        .iter()
        .filter_map(|r| {
            let e = &r.entry;
            let (ns, ty, id) = shared::serving::key::split(&e.key)?;
            let dedupe = shared::record::dedupe_key_of(
                e.content_hash.as_deref().unwrap_or_default(),
                e.visibility.as_deref().unwrap_or_default(),
                e.deleted,
                e.owner_org.as_deref().unwrap_or_default(),
                e.owner_user.as_deref().unwrap_or_default(),
            );
            let mode = usize::try_from(e.order.source).ok().and_then(|i| sources.get(i)).and_then(|s| s.mode.clone());
            Some(Absorbed { source: e.order.source, mode, key: format!("{ns}/{ty}/{id}"), ts: e.order.ts, dedupe })
        })
        .collect()
}

/// The watermark of every source that has absorbed a snapshot.
pub(crate) fn marks(sources: &[SourceState]) -> Vec<Mark> {
    sources
        .iter()
        .filter_map(|s| Some(Mark { source: s.id.clone(), mode: s.mode.clone(), snapshot_id: s.snapshot_id?, seq: s.sequence_number? }))
        .collect()
}
