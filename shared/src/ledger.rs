//! The ledger's decisions (#17, `docs/design/ledger.md`): a strongly consistent record of confirmed
//! writes, kept by SQLite-backed Durable Objects, one per shard of the key space. Everything here
//! is pure: the Durable Object reads the rows a call needs, asks these functions what to do, and
//! writes what they return; ingest and serve use the same functions to address shards and batch.
//!
//! - [`shard`]: which shard holds a key (jump consistent hash over xxHash64), object names.
//! - [`state`]: the per-key state ([`state::KeyState`]), its wire codec and its KV projection
//!   (the existing [`crate::state::State`] `{"g","h"}`), and [`state::Place`], the one order of
//!   writes of a key.
//! - [`confirm`]: `check` (which writes of a batch are duplicates) and `confirm` (apply a batch:
//!   only forward, any order gives the same state), and when a key's KV generation is due.
//! - [`pending`]: pending copies of records (admission by mode and size; trimming by what the
//!   compactor absorbed and by the watermark).
//! - [`batch`]: a chunk's records grouped into one call per shard.

pub mod batch;
pub mod confirm;
pub mod pending;
pub mod shard;
pub mod state;

#[cfg(test)]
mod tests;
