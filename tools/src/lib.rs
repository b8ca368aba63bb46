//! Native developer tools for the edge artifact store (not deployed).
//!
//! - [`size`]: the size-budget check behind `make size`.
//! - [`stream_schema`]: the record contract as a Pipelines stream schema (`make stream-schema`).

pub mod size;
pub mod stream_schema;
