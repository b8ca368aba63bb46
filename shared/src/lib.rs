//! The std-free core shared by the ingest and serve workers.
//!
//! Everything here is plain Rust over bytes and values, so native `cargo test` exercises it and
//! both workers agree by construction. Module map:
//!
//! - [`problem`]: RFC 9457 problem details, the one error body both workers send.
//! - [`health`]: the `/$.health` answer.
//! - [`record`]: the record contract (columns, field ids, validation, content hash).
//! - [`time`]: microsecond timestamps and RFC 3339.
//! - [`content`]: serve's content paths and extensions, visibility, and which version wins.
//! - [`coalesce`]: in-flight coalescing bookkeeping (one leader per key, expiry, cap).
//! - [`chunk`]: packing records into `send()` batches of bounded size.
//! - [`retry`]: backoff with jitter, bounded in attempts and time; the typed send outcome.
//! - [`intake`]: one request body from bytes to chunks, and the report that decides the answer.
//! - [`iceberg`]: the Iceberg table model (metadata JSON; Avro manifests with feature `avro`).
//! - `locate` (feature `reader` = `avro` + `parquet`): the scan locator over an object store.
//! - `answer` (feature `reader`): serve's answer to a content read: the newest row across tables,
//!   visibility, cache scope, `ETag`, the `.json` record, generic over the object store.
//! - `caching` (feature `reader`): an object store with serve's per-request memo and isolate cache.
//! - [`state`]: the per-artifact state ingest records and serve reads (`{"g","h"}`).
//! - [`tenant`]: per-tenant settings (`tenant:<org>`), read by both workers.
//! - [`signed`]: signed URLs (HMAC over path and expiry).
//! - [`route`]: percent-decoding of path segments.
//! - [`cache_policy`]: fresh/stale windows (stale-while-revalidate done by the worker).
//! - [`cache_key`]: the cache-key and generation contract between ingest and serve.
//! - [`key`]: the one unambiguous encoding of composite keys (scopes, coalescing, dedupe, idempotency).
//! - [`token`]: HMAC-signed (HS256) bearer tokens: signing, verification, scopes.
//! - [`ndjson`]: push splitter for NDJSON bodies into numbered lines, memory bounded per line.
//! - [`json_array`]: push splitter for a JSON-array body into raw top-level elements.
//! - [`gzip`]: streaming gzip decoding with a hard bound on inflated output.
//! - `parquet` (feature `parquet`): Parquet footers, row-group pruning and column-chunk decoding.
//! - [`serving`]: the serving table (#15): key, winner order, lookup entry, root, bloom filter,
//!   and the compactor's planner.
//!
//! Nothing here writes Parquet or Avro: the writers are the `iceberg-writer` crate (`writer/`).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

// The tests check every reader against the writer crate. A dev-dependency on it would link a
// second copy of this crate (the writer's `shared`), whose types are not the ones under test; so
// the tests compile the writer's source in by path, and `shared::…` (how the writer names the
// core) resolves to this crate.
#[cfg(test)]
extern crate self as shared;
#[cfg(all(test, feature = "reader"))]
#[allow(unused_imports, dead_code)]
#[path = "../../writer/src/lib.rs"]
mod writer;

#[cfg(feature = "reader")]
pub mod answer;
pub mod cache_key;
pub mod cache_policy;
#[cfg(feature = "reader")]
pub mod caching;
pub mod chunk;
pub mod coalesce;
pub mod content;
pub mod download;
pub mod events;
pub mod gzip;
pub mod health;
pub mod iceberg;
pub mod intake;
pub mod json_array;
pub mod key;
pub mod ledger;
#[cfg(feature = "reader")]
pub mod locate;
pub mod ndjson;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod problem;
pub mod query;
pub mod record;
pub mod retention;
pub mod retry;
pub mod route;
pub mod serving;
pub mod signed;
pub mod state;
pub mod tenant;
#[cfg(test)]
mod test_rng;
pub mod time;
pub mod token;
