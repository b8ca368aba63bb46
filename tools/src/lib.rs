//! Native developer tools for the edge artifact store (not deployed).
//!
//! - [`size`]: the size-budget check behind `make size`.

pub mod size;
