//! The `data_file` struct (field 2 of a manifest entry), its partition tuple, and the partition
//! spec the writer needs to type that tuple.

use alloc::string::String;
use alloc::vec::Vec;

pub use crate::iceberg::table_metadata::Transform;

use super::avro::Datum;
use super::fields::{as_bytes, as_long, Rec};
use super::ManifestError;

/// Field 134: what a data file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataContent {
    /// 0: rows of the table.
    Data,
    /// 1: position deletes.
    PositionDeletes,
    /// 2: equality deletes.
    EqualityDeletes,
}

impl DataContent {
    /// The spec's int.
    pub fn as_i32(self) -> i32 {
        match self {
            DataContent::Data => 0,
            DataContent::PositionDeletes => 1,
            DataContent::EqualityDeletes => 2,
        }
    }

    fn from_i32(v: i32) -> Option<Self> {
        match v {
            0 => Some(DataContent::Data),
            1 => Some(DataContent::PositionDeletes),
            2 => Some(DataContent::EqualityDeletes),
            _ => None,
        }
    }
}

/// Field 101: the file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Avro.
    Avro,
    /// ORC.
    Orc,
    /// Parquet.
    Parquet,
    /// Puffin (deletion vectors; refused when read, see [`ManifestError::Unsupported`]).
    Puffin,
}

impl FileFormat {
    /// Parses the field, ignoring case (Java and pyiceberg write `PARQUET`, the spec `parquet`).
    pub fn parse(s: &str) -> Option<Self> {
        [FileFormat::Avro, FileFormat::Orc, FileFormat::Parquet, FileFormat::Puffin]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
    }

    /// The value written: upper case, as the reference implementations write it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Avro => "AVRO",
            FileFormat::Orc => "ORC",
            FileFormat::Parquet => "PARQUET",
            FileFormat::Puffin => "PUFFIN",
        }
    }
}

/// One value of a partition tuple (field 102), by its Avro type.
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionValue {
    /// No value.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `int`, and `date` (days since 1970-01-01).
    Int(i32),
    /// `long`, and `time`, `timestamp`, `timestamptz` (microseconds).
    Long(i64),
    /// `float`.
    Float(f32),
    /// `double`.
    Double(f64),
    /// `string`.
    String(String),
    /// `binary`, `fixed`, `uuid`, `decimal` (as stored).
    Bytes(Vec<u8>),
}

impl PartitionValue {
    /// The spec's single-value binary serialization (Appendix D): little-endian numbers, a
    /// boolean as one byte, strings as UTF-8, binary as is; `None` for `Null`.
    pub fn single_value_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            PartitionValue::Null => return None,
            PartitionValue::Bool(b) => alloc::vec![u8::from(*b)],
            PartitionValue::Int(v) => v.to_le_bytes().to_vec(),
            PartitionValue::Long(v) => v.to_le_bytes().to_vec(),
            PartitionValue::Float(v) => v.to_le_bytes().to_vec(),
            PartitionValue::Double(v) => v.to_le_bytes().to_vec(),
            PartitionValue::String(s) => s.as_bytes().to_vec(),
            PartitionValue::Bytes(b) => b.clone(),
        })
    }

    fn from_datum(d: &Datum<'_>) -> Option<Self> {
        Some(match d {
            Datum::Null => PartitionValue::Null,
            Datum::Boolean(b) => PartitionValue::Bool(*b),
            Datum::Int(v) => PartitionValue::Int(*v),
            Datum::Long(v) => PartitionValue::Long(*v),
            Datum::Float(v) => PartitionValue::Float(*v),
            Datum::Double(v) => PartitionValue::Double(*v),
            Datum::String(s) => PartitionValue::String(s.clone()),
            Datum::Bytes(b) | Datum::Fixed(b) => PartitionValue::Bytes(b.clone()),
            _ => return None,
        })
    }
}

/// The Iceberg type of a partition value, which the writer needs for the `r102` Avro schema: the
/// source column's type for an identity field, `date` for a `day` field, `int` for `year`,
/// `month` and `hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionType {
    /// `boolean` → [`PartitionValue::Bool`].
    Boolean,
    /// `int` → [`PartitionValue::Int`].
    Int,
    /// `long` → [`PartitionValue::Long`].
    Long,
    /// `float` → [`PartitionValue::Float`].
    Float,
    /// `double` → [`PartitionValue::Double`].
    Double,
    /// `date` → [`PartitionValue::Int`].
    Date,
    /// `timestamp` (no zone) → [`PartitionValue::Long`].
    Timestamp,
    /// `timestamptz` → [`PartitionValue::Long`].
    Timestamptz,
    /// `string` → [`PartitionValue::String`].
    String,
    /// `binary` → [`PartitionValue::Bytes`].
    Binary,
}

/// One partition field: identity, or a time transform (`year`, `month`, `day`, `hour`; the
/// caller computes the values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionField {
    /// Field id of the source column in the table schema.
    pub source_id: i32,
    /// The partition field id (1000 and up by convention); the `r102` field's `field-id`.
    pub field_id: i32,
    /// The partition field name.
    pub name: String,
    /// The transform, written into the `partition-spec` header.
    pub transform: Transform,
    /// The partition value's type (see [`PartitionType`]).
    pub ty: PartitionType,
}

/// The partition spec a manifest is written with. [`Default`] is unpartitioned (spec id 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionSpec {
    /// The spec id, written as `partition-spec-id`.
    pub spec_id: i32,
    /// The fields, in order; empty when unpartitioned.
    pub fields: Vec<PartitionField>,
}

impl PartitionSpec {
    /// The unpartitioned spec, id 0.
    pub fn unpartitioned() -> Self {
        PartitionSpec::default()
    }
}

/// The `data_file` struct of a manifest entry (field 2).
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Field 134: content; v1 files are data.
    pub content: DataContent,
    /// Field 100: file_path, a full URI.
    pub file_path: String,
    /// Field 101: file_format.
    pub file_format: FileFormat,
    /// Field 102: partition, the tuple as (Iceberg field name, value) in spec order; empty when
    /// unpartitioned.
    pub partition: Vec<(String, PartitionValue)>,
    /// Field 103: record_count.
    pub record_count: i64,
    /// Field 104: file_size_in_bytes.
    pub file_size_in_bytes: i64,
    /// Field 108: column_sizes, column id → bytes on disk.
    pub column_sizes: Vec<(i32, i64)>,
    /// Field 109: value_counts, column id → values including nulls and NaNs.
    pub value_counts: Vec<(i32, i64)>,
    /// Field 110: null_value_counts, column id → nulls.
    pub null_value_counts: Vec<(i32, i64)>,
    /// Field 137: nan_value_counts, column id → NaNs.
    pub nan_value_counts: Vec<(i32, i64)>,
    /// Field 125: lower_bounds, column id → single-value serialization (maybe truncated).
    pub lower_bounds: Vec<(i32, Vec<u8>)>,
    /// Field 128: upper_bounds, column id → single-value serialization (maybe truncated, see
    /// [`super::may_contain`]).
    pub upper_bounds: Vec<(i32, Vec<u8>)>,
    /// Field 131: key_metadata, for encryption.
    pub key_metadata: Option<Vec<u8>>,
    /// Field 132: split_offsets, ascending.
    pub split_offsets: Vec<i64>,
    /// Field 135: equality_ids, for equality delete files.
    pub equality_ids: Vec<i32>,
    /// Field 140: sort_order_id.
    pub sort_order_id: Option<i32>,
    /// Field 143: referenced_data_file, the data file all position deletes in this file refer to.
    pub referenced_data_file: Option<String>,
}

impl DataFile {
    /// A data file with no metrics, unpartitioned.
    pub fn new(file_path: impl Into<String>, file_format: FileFormat, record_count: i64, file_size_in_bytes: i64) -> Self {
        DataFile {
            content: DataContent::Data,
            file_path: file_path.into(),
            file_format,
            partition: Vec::new(),
            record_count,
            file_size_in_bytes,
            column_sizes: Vec::new(),
            value_counts: Vec::new(),
            null_value_counts: Vec::new(),
            nan_value_counts: Vec::new(),
            lower_bounds: Vec::new(),
            upper_bounds: Vec::new(),
            key_metadata: None,
            split_offsets: Vec::new(),
            equality_ids: Vec::new(),
            sort_order_id: None,
            referenced_data_file: None,
        }
    }

    /// The lower bound of column `field_id`, if recorded.
    pub fn lower_bound(&self, field_id: i32) -> Option<&[u8]> {
        self.lower_bounds.iter().find(|(id, _)| *id == field_id).map(|(_, b)| b.as_slice())
    }

    /// The upper bound of column `field_id`, if recorded.
    pub fn upper_bound(&self, field_id: i32) -> Option<&[u8]> {
        self.upper_bounds.iter().find(|(id, _)| *id == field_id).map(|(_, b)| b.as_slice())
    }

    /// Reads the struct; deletion vectors are refused.
    pub(super) fn from_record(rec: &Rec<'_, '_>) -> Result<Self, ManifestError> {
        let content = match rec.opt_int("content", 134)? {
            None => DataContent::Data,
            Some(v) => DataContent::from_i32(v).ok_or(ManifestError::Field("content"))?,
        };
        let file_format = FileFormat::parse(&rec.string("file_format", 101)?).ok_or(ManifestError::Field("file_format"))?;
        if file_format == FileFormat::Puffin || rec.has("content_offset", 144) || rec.has("content_size_in_bytes", 145) {
            return Err(ManifestError::Unsupported("deletion vectors"));
        }
        let partition = if rec.has("partition", 102) {
            let tuple = rec.record("partition", 102)?;
            let mut out = Vec::new();
            for (field, value) in tuple.iter() {
                let name = field.iceberg_name.as_ref().unwrap_or(&field.name).clone();
                out.push((name, PartitionValue::from_datum(value).ok_or(ManifestError::Field("partition"))?));
            }
            out
        } else {
            Vec::new()
        };
        let long = |d: &Datum<'_>| as_long(d);
        Ok(DataFile {
            content,
            file_path: rec.string("file_path", 100)?,
            file_format,
            partition,
            record_count: rec.long("record_count", 103)?,
            file_size_in_bytes: rec.long("file_size_in_bytes", 104)?,
            column_sizes: rec.id_map("column_sizes", 108, long)?,
            value_counts: rec.id_map("value_counts", 109, long)?,
            null_value_counts: rec.id_map("null_value_counts", 110, long)?,
            nan_value_counts: rec.id_map("nan_value_counts", 137, long)?,
            lower_bounds: rec.id_map("lower_bounds", 125, as_bytes)?,
            upper_bounds: rec.id_map("upper_bounds", 128, as_bytes)?,
            key_metadata: rec.opt_bytes("key_metadata", 131)?,
            split_offsets: rec.long_list("split_offsets", 132)?,
            equality_ids: rec.int_list("equality_ids", 135)?,
            sort_order_id: rec.opt_int("sort_order_id", 140)?,
            referenced_data_file: rec.opt_string("referenced_data_file", 143)?,
        })
    }
}
