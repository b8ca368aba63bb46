//! The serving table (issue #15, `docs/design/serving-table.md`): a derived Iceberg table that a
//! compactor keeps sorted by key, so a lookup reads a bounded number of small objects whatever
//! the source tables look like. Everything here is logic over bytes and values, no I/O, `no_std`:
//!
//! - [`key`]: the key of a row, `ns 0x00 type 0x00 id`, whose byte order is the tuple order.
//! - [`order`]: [`order::Order`], the one total order that picks the winning version.
//! - [`entry`]: the `_lookup` cell (key, order, tombstone, visibility, owners, hash, size).
//! - [`root`]: the sidecar root `metadata/vN.serving.json` (sources and their watermarks, live
//!   files and their key ranges, the merge cursor) and which files may hold a key.
//! - [`bloom`]: Parquet's split-block bloom filter over xxHash64, kept in the root for L0 files.
//! - [`edges`]: the edge table (#18): who lists a key in `inputs` or `supersedes`, by target, its
//!   files in the serving root's `edges` member; reads (feature `reader`) over `range`.
//! - [`plan`]: the compactor's pure planner (newest per key, file splitting, merge steps, the
//!   next root).
//! - [`split`]: the key-range split (`SERVING_SPLITS`): which table of a split serving table
//!   holds a key.
//! - `lookup` (feature `reader`): serve's lookup in the serving table.
//! - `range` (feature `reader`): the rows of a key range, newest per key, page by page (listing).

pub mod bloom;
pub mod edges;
pub mod entry;
pub mod key;
#[cfg(feature = "reader")]
pub mod lookup;
pub mod order;
pub mod plan;
#[cfg(feature = "reader")]
pub mod range;
pub mod root;
pub mod split;
