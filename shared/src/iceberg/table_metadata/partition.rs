//! Partition specs, partition fields and transforms.

use super::*;

/// A partition spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    /// `spec-id`.
    pub spec_id: i32,
    /// `fields`: the partition fields, in order (the order of the manifest `partition` struct).
    pub fields: Vec<PartitionField>,
}

/// One partition field.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    /// `source-id`: the schema field it is computed from.
    pub source_id: i32,
    /// `field-id`: its own id (1000 and up), the id of the partition value in manifests.
    pub field_id: i32,
    /// `name`.
    pub name: String,
    /// `transform`.
    pub transform: Transform,
}

/// A partition transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// `identity`.
    Identity,
    /// `bucket[N]`.
    Bucket(u32),
    /// `truncate[W]`.
    Truncate(u32),
    /// `year`.
    Year,
    /// `month`.
    Month,
    /// `day`.
    Day,
    /// `hour`.
    Hour,
    /// `void`: always null.
    Void,
    /// Anything else, kept as written; readers cannot prune on it.
    Unknown(String),
}

impl PartitionSpec {
    /// Whether no field partitions anything (no fields, or only `void` ones).
    pub fn is_unpartitioned(&self) -> bool {
        self.fields.iter().all(|f| f.transform == Transform::Void)
    }

    pub(super) fn to_value(&self) -> Value {
        let fields = self
            .fields
            .iter()
            .map(|f| {
                object([
                    ("source-id", Value::from(f.source_id)),
                    ("field-id", Value::from(f.field_id)),
                    ("name", Value::String(f.name.clone())),
                    ("transform", Value::String(f.transform.to_string())),
                ])
            })
            .collect();
        object([("spec-id", Value::from(self.spec_id)), ("fields", Value::Array(fields))])
    }
}

impl Transform {
    /// Parses a `transform` string; anything unrecognised is [`Transform::Unknown`].
    pub fn parse(s: &str) -> Self {
        let arg = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(']')).and_then(|n| n.trim().parse().ok());
        match s {
            "identity" => Self::Identity,
            "year" => Self::Year,
            "month" => Self::Month,
            "day" => Self::Day,
            "hour" => Self::Hour,
            "void" => Self::Void,
            _ => {
                if let Some(n) = arg("bucket[") {
                    Self::Bucket(n)
                } else if let Some(w) = arg("truncate[") {
                    Self::Truncate(w)
                } else {
                    Self::Unknown(s.to_string())
                }
            }
        }
    }
}

impl core::fmt::Display for Transform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Identity => f.write_str("identity"),
            Self::Bucket(n) => write!(f, "bucket[{n}]"),
            Self::Truncate(w) => write!(f, "truncate[{w}]"),
            Self::Year => f.write_str("year"),
            Self::Month => f.write_str("month"),
            Self::Day => f.write_str("day"),
            Self::Hour => f.write_str("hour"),
            Self::Void => f.write_str("void"),
            Self::Unknown(s) => f.write_str(s),
        }
    }
}

impl TryFrom<wire::PartitionSpec> for PartitionSpec {
    type Error = MetadataError;

    fn try_from(w: wire::PartitionSpec) -> Result<Self, MetadataError> {
        let fields = required(w.fields, "fields")?
            .into_iter()
            .map(|f| {
                Ok(PartitionField {
                    source_id: required(f.source_id, "source-id")?,
                    field_id: required(f.field_id, "field-id")?,
                    name: required(f.name, "name")?,
                    transform: Transform::parse(&required(f.transform, "transform")?),
                })
            })
            .collect::<Result<_, MetadataError>>()?;
        Ok(PartitionSpec { spec_id: required(w.spec_id, "spec-id")?, fields })
    }
}
