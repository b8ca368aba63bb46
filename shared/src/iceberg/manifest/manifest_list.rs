//! Manifest lists: one `manifest_file` struct per manifest of a snapshot.

use alloc::string::String;
use alloc::vec::Vec;

use super::avro::Container;
use super::fields::Rec;
use super::{format_version, ManifestError, ReadLimits};

/// Field 517: what a manifest tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestContent {
    /// 0: data files (and every v1 manifest).
    Data,
    /// 1: delete files.
    Deletes,
}

impl ManifestContent {
    /// The spec's int.
    pub fn as_i32(self) -> i32 {
        match self {
            ManifestContent::Data => 0,
            ManifestContent::Deletes => 1,
        }
    }

    /// The manifest header's `content` value: `data` or `deletes`.
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestContent::Data => "data",
            ManifestContent::Deletes => "deletes",
        }
    }
}

/// Field 508: the summary of one partition field over a manifest (`field_summary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSummary {
    /// Field 509: contains_null, whether any partition value is null.
    pub contains_null: bool,
    /// Field 518: contains_nan, whether any partition value is NaN (unknown when `None`).
    pub contains_nan: Option<bool>,
    /// Field 510: lower_bound over non-null, non-NaN values (single-value serialization).
    pub lower_bound: Option<Vec<u8>>,
    /// Field 511: upper_bound over non-null, non-NaN values (single-value serialization).
    pub upper_bound: Option<Vec<u8>>,
}

/// One `manifest_file` struct of a manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Field 500: manifest_path, the manifest's location.
    pub manifest_path: String,
    /// Field 501: manifest_length, the manifest's size in bytes.
    pub manifest_length: i64,
    /// Field 502: partition_spec_id the manifest was written with.
    pub partition_spec_id: i32,
    /// Field 517: content; data for v1 lists.
    pub content: ManifestContent,
    /// Field 515: sequence_number when the manifest was added; 0 for v1 lists.
    pub sequence_number: i64,
    /// Field 516: min_sequence_number of the live files in the manifest; 0 for v1 lists.
    pub min_sequence_number: i64,
    /// Field 503: added_snapshot_id, the snapshot that added the manifest.
    pub added_snapshot_id: i64,
    /// Field 504: added_files_count (v1: `added_data_files_count`); `None` in v1 means "not
    /// known, assume non-zero".
    pub added_files_count: Option<i32>,
    /// Field 505: existing_files_count; `None` as for `added_files_count`.
    pub existing_files_count: Option<i32>,
    /// Field 506: deleted_files_count; `None` as for `added_files_count`.
    pub deleted_files_count: Option<i32>,
    /// Field 512: added_rows_count; `None` as for `added_files_count`.
    pub added_rows_count: Option<i64>,
    /// Field 513: existing_rows_count; `None` as for `added_files_count`.
    pub existing_rows_count: Option<i64>,
    /// Field 514: deleted_rows_count; `None` as for `added_files_count`.
    pub deleted_rows_count: Option<i64>,
    /// Field 507: partitions, one summary per partition field; empty when absent.
    pub partitions: Vec<FieldSummary>,
    /// Field 519: key_metadata, for encryption.
    pub key_metadata: Option<Vec<u8>>,
}

impl ManifestFile {
    fn from_record(rec: &Rec<'_, '_>) -> Result<Self, ManifestError> {
        let content = match rec.opt_int("content", 517)? {
            None | Some(0) => ManifestContent::Data,
            Some(1) => ManifestContent::Deletes,
            Some(_) => return Err(ManifestError::Field("content")),
        };
        let mut partitions = Vec::new();
        for d in rec.list("partitions", 507)? {
            let s = Rec::of(d, "partitions")?;
            partitions.push(FieldSummary {
                contains_null: s.boolean("contains_null", 509)?,
                contains_nan: s.opt_bool("contains_nan", 518)?,
                lower_bound: s.opt_bytes("lower_bound", 510)?,
                upper_bound: s.opt_bytes("upper_bound", 511)?,
            });
        }
        Ok(ManifestFile {
            manifest_path: rec.string("manifest_path", 500)?,
            manifest_length: rec.long("manifest_length", 501)?,
            partition_spec_id: rec.int("partition_spec_id", 502)?,
            content,
            sequence_number: rec.opt_long("sequence_number", 515)?.unwrap_or(0),
            min_sequence_number: rec.opt_long("min_sequence_number", 516)?.unwrap_or(0),
            added_snapshot_id: rec.long("added_snapshot_id", 503)?,
            added_files_count: rec.opt_int("added_files_count", 504)?,
            existing_files_count: rec.opt_int("existing_files_count", 505)?,
            deleted_files_count: rec.opt_int("deleted_files_count", 506)?,
            added_rows_count: rec.opt_long("added_rows_count", 512)?,
            existing_rows_count: rec.opt_long("existing_rows_count", 513)?,
            deleted_rows_count: rec.opt_long("deleted_rows_count", 514)?,
            partitions,
            key_metadata: rec.opt_bytes("key_metadata", 519)?,
        })
    }
}

/// Reads a manifest list with the default [`ReadLimits`].
///
/// A file cut right after its header (or between blocks) is a valid Avro file with fewer
/// entries; nothing in a manifest list can tell, so callers should check the length they fetched.
pub fn read_manifest_list(bytes: &[u8]) -> Result<Vec<ManifestFile>, ManifestError> {
    read_manifest_list_with(bytes, &ReadLimits::default())
}

/// Reads a manifest list within `limits`.
pub fn read_manifest_list_with(bytes: &[u8], limits: &ReadLimits) -> Result<Vec<ManifestFile>, ManifestError> {
    let file = Container::open(bytes, limits)?;
    file.record()?;
    format_version(file.meta_str("format-version")?)?;
    let mut out = Vec::new();
    file.for_each(|d| {
        out.push(ManifestFile::from_record(&Rec::of(&d, "manifest_file")?)?);
        Ok(())
    })?;
    Ok(out)
}
