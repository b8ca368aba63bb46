//! Placeholder: written by the table-metadata work.
