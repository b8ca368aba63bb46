//! Iceberg manifest lists and manifests (spec v2, "Manifests" and "Manifest Lists"): Avro object
//! container files that the serve worker reads (the `iceberg-writer` crate writes them).
//!
//! - [`read_manifest_list`] → [`ManifestFile`]s, one per manifest of a snapshot.
//! - [`read_manifest`] → a [`Manifest`]: its header [`ManifestMetadata`] and [`ManifestEntry`]s,
//!   with snapshot ids and sequence numbers inherited from the manifest list entry.
//! - [`bound_str`], [`bound_long`] and [`may_contain`]: column bounds for pruning.
//!
//! Fields are read by name from the writer schema in the file (falling back to the field id), so
//! extra fields, other field orders and v1 files are read; v1 defaults apply (content data,
//! sequence numbers 0). Format version 3 and deletion vectors are refused as
//! [`ManifestError::Unsupported`].
//!
//! Every input is untrusted: the file size and the inflated size are bounded ([`ReadLimits`]),
//! every length is checked against the bytes left before anything is allocated, and every path
//! out of a malformed file is an `Err`.
//!
//! Private submodules: `avro` (the container, read side: header, blocks, codecs, schema, datums),
//! `fields` (typed field access by name, then id), `manifest_list`, `data_file`, `entries`,
//! `bounds`; everything public is re-exported here.

mod avro;
mod bounds;
mod data_file;
mod entries;
mod fields;
mod manifest_list;
#[cfg(test)]
mod tests;

pub use bounds::{bound_long, bound_str, may_contain};
pub use data_file::{DataContent, DataFile, FileFormat, PartitionField, PartitionSpec, PartitionType, PartitionValue, Transform};
pub use entries::{read_manifest, read_manifest_with, EntryStatus, Manifest, ManifestEntry, ManifestMetadata};
pub use manifest_list::{read_manifest_list, read_manifest_list_with, FieldSummary, ManifestContent, ManifestFile};

/// Default for [`ReadLimits::max_file_bytes`]: 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// Default for [`ReadLimits::max_inflated_bytes`]: 64 MiB.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Bounds on what one read may take in. Decoded values are bounded by the inflated size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: usize,
    /// Most bytes all blocks of one file may inflate to, together.
    pub max_inflated_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_file_bytes: DEFAULT_MAX_FILE_BYTES, max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES }
    }
}

/// Why a manifest or manifest list could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestError {
    /// The file, or what its blocks inflate to, is over the [`ReadLimits`].
    TooLarge,
    /// Not an Avro object container file (no `Obj\x01` magic).
    NotAvro,
    /// The input ends inside the header, a block or a sync marker, or is shorter than the
    /// manifest list says.
    Truncated,
    /// Bytes that cannot be a valid Avro file (a sync marker mismatch, a bad varint, a failed
    /// checksum, …); the payload says which.
    Corrupt(&'static str),
    /// The Avro schema in the header is invalid, or its top level is not a record; the payload
    /// says how.
    Schema(&'static str),
    /// A field the spec requires is missing, or a field (or header key) holds a type or value the
    /// spec does not allow; the payload names it.
    Field(&'static str),
    /// A feature this implementation refuses: format version 3, deletion vectors, other codecs;
    /// the payload names it.
    Unsupported(&'static str),
    /// The writer was given something it cannot write; the payload says what.
    Invalid(&'static str),
}

impl ManifestError {
    /// A fixed summary of the variant (the payload is in `Display`).
    pub fn description(&self) -> &'static str {
        match self {
            ManifestError::TooLarge => "the file is over the size limit",
            ManifestError::NotAvro => "not an Avro object container file",
            ManifestError::Truncated => "the file ends early",
            ManifestError::Corrupt(_) => "corrupt Avro",
            ManifestError::Schema(_) => "unusable Avro schema",
            ManifestError::Field(_) => "a field is missing or has a type or value the spec does not allow",
            ManifestError::Unsupported(_) => "unsupported",
            ManifestError::Invalid(_) => "cannot write",
        }
    }
}

impl core::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ManifestError::TooLarge | ManifestError::NotAvro | ManifestError::Truncated => f.write_str(self.description()),
            ManifestError::Corrupt(why) | ManifestError::Schema(why) | ManifestError::Unsupported(why) | ManifestError::Invalid(why) => {
                write!(f, "{}: {why}", self.description())
            }
            ManifestError::Field(name) => write!(f, "{name}: {}", self.description()),
        }
    }
}

impl std::error::Error for ManifestError {}

/// Checks a `format-version` header value: absent or 1 or 2 are read; 3 and later are refused.
fn format_version(value: Option<&str>) -> Result<u8, ManifestError> {
    match value.map(str::trim) {
        None => Ok(1),
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n >= 3 => Err(ManifestError::Unsupported("format-version 3 or later")),
            _ => Err(ManifestError::Field("format-version")),
        },
    }
}
