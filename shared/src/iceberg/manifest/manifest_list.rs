//! Manifest lists: one `manifest_file` struct per manifest of a snapshot.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::json;

use super::avro::{self, Codec, Container, Encoder};
use super::data_file::{DataContent, PartitionSpec, PartitionValue};
use super::entries::{EntryStatus, ManifestEntry};
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
    /// The list entry for a manifest the stand-in has just written: counts, rows,
    /// `min_sequence_number` (over live entries, inherited numbers counting as
    /// `sequence_number`), content, and partition summaries over every entry.
    pub fn summarize(
        manifest_path: impl Into<String>,
        manifest_length: i64,
        spec: &PartitionSpec,
        added_snapshot_id: i64,
        sequence_number: i64,
        entries: &[ManifestEntry],
    ) -> Result<ManifestFile, ManifestError> {
        let too_many = ManifestError::Invalid("counts overflow");
        let mut files = [0i32; 3];
        let mut rows = [0i64; 3];
        let mut min_seq: Option<i64> = None;
        let mut deletes = 0usize;
        for e in entries {
            let i = match e.status {
                EntryStatus::Existing => 0,
                EntryStatus::Added => 1,
                EntryStatus::Deleted => 2,
            };
            if let (Some(f), Some(r)) = (files.get_mut(i), rows.get_mut(i)) {
                *f = f.checked_add(1).ok_or(too_many)?;
                *r = r.checked_add(e.data_file.record_count).ok_or(too_many)?;
            }
            if e.status != EntryStatus::Deleted {
                let seq = e.sequence_number.unwrap_or(sequence_number);
                min_seq = Some(min_seq.map_or(seq, |m| m.min(seq)));
            }
            if e.data_file.content != DataContent::Data {
                deletes += 1;
            }
        }
        let content = match deletes {
            0 => ManifestContent::Data,
            n if n == entries.len() => ManifestContent::Deletes,
            _ => return Err(ManifestError::Invalid("a manifest holds either data files or delete files")),
        };
        let mut partitions = Vec::with_capacity(spec.fields.len());
        for i in 0..spec.fields.len() {
            let mut s =
                FieldSummary { contains_null: false, contains_nan: Some(false), lower_bound: None, upper_bound: None };
            let mut lower: Option<&PartitionValue> = None;
            let mut upper: Option<&PartitionValue> = None;
            for e in entries {
                let (_, v) = e
                    .data_file
                    .partition
                    .get(i)
                    .ok_or(ManifestError::Invalid("a partition tuple does not match the partition spec"))?;
                if *v == PartitionValue::Null {
                    s.contains_null = true;
                } else if v.is_nan() {
                    s.contains_nan = Some(true);
                } else {
                    if lower.is_none_or(|l| v.order(l) == Some(core::cmp::Ordering::Less)) {
                        lower = Some(v);
                    }
                    if upper.is_none_or(|u| v.order(u) == Some(core::cmp::Ordering::Greater)) {
                        upper = Some(v);
                    }
                }
            }
            s.lower_bound = lower.and_then(PartitionValue::single_value_bytes);
            s.upper_bound = upper.and_then(PartitionValue::single_value_bytes);
            partitions.push(s);
        }
        let [existing, added, deleted] = files;
        let [existing_rows, added_rows, deleted_rows] = rows;
        Ok(ManifestFile {
            manifest_path: manifest_path.into(),
            manifest_length,
            partition_spec_id: spec.spec_id,
            content,
            sequence_number,
            min_sequence_number: min_seq.unwrap_or(sequence_number),
            added_snapshot_id,
            added_files_count: Some(added),
            existing_files_count: Some(existing),
            deleted_files_count: Some(deleted),
            added_rows_count: Some(added_rows),
            existing_rows_count: Some(existing_rows),
            deleted_rows_count: Some(deleted_rows),
            partitions,
            key_metadata: None,
        })
    }

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

/// Writes a v2 manifest list with snappy blocks: the spec's `manifest_file` Avro schema and the
/// header keys `snapshot-id`, `parent-snapshot-id` (`null` when there is none, as Java and
/// pyiceberg write it), `sequence-number` and `format-version` = 2. v2 needs every count, so a
/// `None` count is [`ManifestError::Invalid`].
pub fn write_manifest_list(
    files: &[ManifestFile],
    snapshot_id: i64,
    parent_id: Option<i64>,
    sequence_number: i64,
) -> Result<Vec<u8>, ManifestError> {
    write_manifest_list_codec(files, snapshot_id, parent_id, sequence_number, Codec::Snappy)
}

pub(super) fn write_manifest_list_codec(
    files: &[ManifestFile],
    snapshot_id: i64,
    parent_id: Option<i64>,
    sequence_number: i64,
    codec: Codec,
) -> Result<Vec<u8>, ManifestError> {
    let opt =
        |name: &str, ty: &str, id: i32| json!({"name": name, "type": ["null", ty], "default": null, "field-id": id});
    let schema = json!({
        "type": "record",
        "name": "manifest_file",
        "fields": [
            {"name": "manifest_path", "type": "string", "field-id": 500},
            {"name": "manifest_length", "type": "long", "field-id": 501},
            {"name": "partition_spec_id", "type": "int", "field-id": 502},
            {"name": "content", "type": "int", "field-id": 517},
            {"name": "sequence_number", "type": "long", "field-id": 515},
            {"name": "min_sequence_number", "type": "long", "field-id": 516},
            {"name": "added_snapshot_id", "type": "long", "field-id": 503},
            {"name": "added_files_count", "type": "int", "field-id": 504},
            {"name": "existing_files_count", "type": "int", "field-id": 505},
            {"name": "deleted_files_count", "type": "int", "field-id": 506},
            {"name": "added_rows_count", "type": "long", "field-id": 512},
            {"name": "existing_rows_count", "type": "long", "field-id": 513},
            {"name": "deleted_rows_count", "type": "long", "field-id": 514},
            {"name": "partitions", "type": ["null", {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "r508",
                    "fields": [
                        {"name": "contains_null", "type": "boolean", "field-id": 509},
                        opt("contains_nan", "boolean", 518),
                        opt("lower_bound", "bytes", 510),
                        opt("upper_bound", "bytes", 511),
                    ],
                },
                "element-id": 508,
            }], "default": null, "field-id": 507},
            opt("key_metadata", "bytes", 519),
        ],
    });
    let missing = ManifestError::Invalid("a v2 manifest list needs every file and row count");
    let mut records = Vec::with_capacity(files.len());
    for f in files {
        let mut e = Encoder::default();
        e.string(&f.manifest_path);
        e.long(f.manifest_length);
        e.int(f.partition_spec_id);
        e.int(f.content.as_i32());
        e.long(f.sequence_number);
        e.long(f.min_sequence_number);
        e.long(f.added_snapshot_id);
        for count in [f.added_files_count, f.existing_files_count, f.deleted_files_count] {
            e.int(count.ok_or(missing)?);
        }
        for rows in [f.added_rows_count, f.existing_rows_count, f.deleted_rows_count] {
            e.long(rows.ok_or(missing)?);
        }
        e.optional((!f.partitions.is_empty()).then_some(&f.partitions), |e, p| {
            e.array(p, |e, s| {
                e.boolean(s.contains_null);
                e.optional(s.contains_nan, Encoder::boolean);
                e.optional(s.lower_bound.as_deref(), Encoder::bytes);
                e.optional(s.upper_bound.as_deref(), Encoder::bytes);
            });
        });
        e.optional(f.key_metadata.as_deref(), Encoder::bytes);
        records.push(e.buf);
    }
    let meta = [
        ("snapshot-id", snapshot_id.to_string()),
        ("parent-snapshot-id", parent_id.map_or_else(|| "null".to_string(), |p| p.to_string())),
        ("sequence-number", sequence_number.to_string()),
        ("format-version", "2".to_string()),
    ];
    avro::write_container(&schema.to_string(), &meta, &records, codec)
}
