//! Manifests: the header metadata and the `manifest_entry` structs, with sequence-number and
//! snapshot-id inheritance from the manifest list entry.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::avro::Container;
use super::data_file::DataFile;
use super::fields::Rec;
use super::manifest_list::{ManifestContent, ManifestFile};
use super::{format_version, ManifestError, ReadLimits};

/// Field 0: whether an entry adds, keeps or removes its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    /// 0: carried over from an earlier snapshot.
    Existing,
    /// 1: added by the snapshot in `snapshot_id`.
    Added,
    /// 2: removed by the snapshot in `snapshot_id`; not part of the table any more.
    Deleted,
}

impl EntryStatus {
    /// The spec's int.
    pub fn as_i32(self) -> i32 {
        match self {
            EntryStatus::Existing => 0,
            EntryStatus::Added => 1,
            EntryStatus::Deleted => 2,
        }
    }

    fn from_i32(v: i32) -> Option<Self> {
        match v {
            0 => Some(EntryStatus::Existing),
            1 => Some(EntryStatus::Added),
            2 => Some(EntryStatus::Deleted),
            _ => None,
        }
    }
}

/// One `manifest_entry`: a file and how the snapshot that wrote the manifest sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    /// Field 0: status.
    pub status: EntryStatus,
    /// Field 1: snapshot_id that added (or deleted) the file; inherited from the manifest list's
    /// `added_snapshot_id` when null in the file.
    pub snapshot_id: i64,
    /// Field 3: sequence_number, the data sequence number. When null in the file it is inherited
    /// from the manifest list entry for ADDED entries (and for every entry of a v1 manifest, whose
    /// sequence number is 0), so it is `None` only for an EXISTING or DELETED entry of a v2 file
    /// that breaks the spec by leaving it out. Written as given: `None` means "inherit".
    pub sequence_number: Option<i64>,
    /// Field 4: file_sequence_number, the sequence number of the snapshot that added the file;
    /// inherited like `sequence_number`.
    pub file_sequence_number: Option<i64>,
    /// Field 2: data_file.
    pub data_file: DataFile,
}

/// The manifest's Avro header metadata (spec "Manifest Metadata").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestMetadata {
    /// `schema`: the table schema as JSON when the manifest was written.
    pub schema: String,
    /// `schema-id` (required in v2, but pyiceberg 0.12 does not write it).
    pub schema_id: Option<i32>,
    /// `partition-spec`: the JSON array of partition fields.
    pub partition_spec: String,
    /// `partition-spec-id`.
    pub partition_spec_id: Option<i32>,
    /// `format-version`: 1 or 2 (1 when absent; 3 and later are refused).
    pub format_version: u8,
    /// `content`: data or deletes (data when absent).
    pub content: ManifestContent,
}

/// A manifest file: header metadata and entries, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The header metadata.
    pub metadata: ManifestMetadata,
    /// The entries, with inheritance applied.
    pub entries: Vec<ManifestEntry>,
}

/// Reads a manifest with the default [`ReadLimits`]; `list_entry` is its entry in the manifest
/// list (for inheritance and the length check).
pub fn read_manifest(bytes: &[u8], list_entry: &ManifestFile) -> Result<Manifest, ManifestError> {
    read_manifest_with(bytes, list_entry, &ReadLimits::default())
}

/// Reads a manifest within `limits`. A file shorter than the list entry's `manifest_length` is
/// [`ManifestError::Truncated`], a longer one [`ManifestError::Corrupt`] (a length of 0 or less is
/// not checked).
pub fn read_manifest_with(bytes: &[u8], list_entry: &ManifestFile, limits: &ReadLimits) -> Result<Manifest, ManifestError> {
    if let Ok(expected) = usize::try_from(list_entry.manifest_length) {
        if expected > 0 && bytes.len() < expected {
            return Err(ManifestError::Truncated);
        }
        if expected > 0 && bytes.len() > expected {
            return Err(ManifestError::Corrupt("the file is longer than its manifest_length"));
        }
    }
    let file = Container::open(bytes, limits)?;
    file.record()?;
    let metadata = metadata(&file)?;
    let mut entries = Vec::new();
    file.for_each(|d| {
        let rec = Rec::of(&d, "manifest_entry")?;
        entries.push(entry(&rec, list_entry)?);
        Ok(())
    })?;
    Ok(Manifest { metadata, entries })
}

fn metadata(file: &Container<'_>) -> Result<ManifestMetadata, ManifestError> {
    let format_version = format_version(file.meta_str("format-version")?)?;
    let id = |key: &'static str| -> Result<Option<i32>, ManifestError> {
        file.meta_str(key)?.map(|v| v.trim().parse::<i32>().map_err(|_| ManifestError::Field(key))).transpose()
    };
    let content = match file.meta_str("content")? {
        None | Some("data") => ManifestContent::Data,
        Some("deletes") => ManifestContent::Deletes,
        Some(_) => return Err(ManifestError::Field("content")),
    };
    Ok(ManifestMetadata {
        schema: file.meta_str("schema")?.ok_or(ManifestError::Field("schema"))?.to_string(),
        schema_id: id("schema-id")?,
        partition_spec: file.meta_str("partition-spec")?.ok_or(ManifestError::Field("partition-spec"))?.to_string(),
        partition_spec_id: id("partition-spec-id")?,
        format_version,
        content,
    })
}

fn entry(rec: &Rec<'_, '_>, list: &ManifestFile) -> Result<ManifestEntry, ManifestError> {
    let status = EntryStatus::from_i32(rec.int("status", 0)?).ok_or(ManifestError::Field("status"))?;
    // Sequence numbers are inherited by ADDED entries, and by every entry of a v1 manifest
    // (whose list entry has sequence number 0): spec "Sequence Number Inheritance".
    let inherits = status == EntryStatus::Added || list.sequence_number == 0;
    let inherit = |v: Option<i64>| v.or(inherits.then_some(list.sequence_number));
    Ok(ManifestEntry {
        status,
        snapshot_id: rec.opt_long("snapshot_id", 1)?.unwrap_or(list.added_snapshot_id),
        sequence_number: inherit(rec.opt_long("sequence_number", 3)?),
        file_sequence_number: inherit(rec.opt_long("file_sequence_number", 4)?),
        data_file: DataFile::from_record(&rec.record("data_file", 2)?)?,
    })
}
