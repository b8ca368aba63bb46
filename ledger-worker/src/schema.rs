//! The object's SQLite schema: numbered migrations, forward only, run once per object start (the
//! class's constructor, inside `blockConcurrencyWhile`). `meta.schema` holds the last one applied.
//!
//! Every keyed table is `WITHOUT ROWID` with the key as primary key, so an upsert writes one row
//! (a rowid table plus the primary key's index bills two).

use crate::js::{Arg, Db};

/// The migrations, in order; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&[&str]] = &[
    // v1 (docs/design/ledger.md, "Per-key state" and "Other tables").
    &[
        // The last confirmed write per key; `ts` NULL is a read marker (a looked-up key without a
        // confirmed write, see wire::marker). read_at/kv_at: ms, 0 = never.
        "CREATE TABLE state (key TEXT PRIMARY KEY, ts INTEGER, hash TEXT, vis TEXT, org TEXT, usr TEXT, mode TEXT, \
         del INTEGER, read_at INTEGER NOT NULL DEFAULT 0, kv_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
        // Pending copies: the record JSON of a write the serving table has not absorbed yet.
        "CREATE TABLE pending (key TEXT PRIMARY KEY, ts INTEGER NOT NULL, dedupe TEXT NOT NULL, mode TEXT NOT NULL, \
         confirmed_at INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID",
        // X-Idempotency-Key: in flight ('pending') or the stored answer ('done'); ns = JSON list.
        "CREATE TABLE idem (k TEXT PRIMARY KEY, state TEXT NOT NULL, body_sha256 TEXT, status INTEGER, content_type TEXT, \
         body TEXT, ns TEXT, expires_at INTEGER NOT NULL) WITHOUT ROWID",
        // What the compactor absorbed per source table (snapshot id as text: all 64 bits).
        "CREATE TABLE watermark (source TEXT PRIMARY KEY, mode TEXT NOT NULL, snapshot_id TEXT NOT NULL, seq INTEGER NOT NULL, \
         committed_at_ms INTEGER NOT NULL) WITHOUT ROWID",
        // Keys whose KV generation the alarm must write.
        "CREATE TABLE kv_due (key TEXT PRIMARY KEY) WITHOUT ROWID",
    ],
    // v2 (#18): the successor stamp, ms of the last confirmed write that lists the key in its
    // `supersedes` (0 none); a marker row (ts NULL) may hold one.
    &["ALTER TABLE state ADD COLUMN sup INTEGER NOT NULL DEFAULT 0"],
];

/// The schema version this build runs.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the migrations the database has not had; returns the version it is at. Call inside
/// one transaction: a failed migration leaves the previous version whole.
pub fn migrate(db: &Db) -> Result<i64, String> {
    db.run("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID", &[])?;
    let at = db.run("SELECT v FROM meta WHERE k = 'schema'", &[])?.first().and_then(|r| r.int(0)).unwrap_or(0);
    if at > VERSION {
        return Err(format!("the database is at schema {at}, newer than this build's {VERSION}"));
    }
    for (i, steps) in MIGRATIONS.iter().enumerate().skip(usize::try_from(at).unwrap_or(0)) {
        for step in *steps {
            db.run(step, &[])?;
        }
        let v = i as i64 + 1;
        db.run("INSERT INTO meta (k, v) VALUES ('schema', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", &[Arg::Int(v)])?;
    }
    Ok(VERSION)
}
