//! The std-free core shared by the ingest and serve workers.
//!
//! Everything here is plain Rust over bytes and values, so native `cargo test` exercises it and
//! both workers agree by construction. Module map:
//!
//! - [`problem`]: RFC 9457 problem details, the one error body both workers send.
//! - [`health`]: the `/$.health` answer.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod health;
pub mod problem;
