//! Placeholder: written by the manifest work.
