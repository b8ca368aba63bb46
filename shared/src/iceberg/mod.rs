//! The Iceberg model: what the local stand-in writes and the serve worker reads.
//!
//! One concept per file, after apache/iceberg-rust's `spec/`: wire structs (what serde or Avro
//! decode) are private and convert with `TryFrom` into validated domain types, so invariants are
//! checked once, while parsing. Field ids from the spec are named in doc comments.
//!
//! - [`table_metadata`]: `vN.metadata.json` (no_std: serde_json).
//! - `manifest` (feature `avro`, needs std): manifest lists, manifests and data files (Avro).

pub mod table_metadata;

#[cfg(feature = "avro")]
pub mod manifest;
