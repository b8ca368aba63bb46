//! Types (spec "Schemas and Data Types"): primitive, struct, list and map types, their JSON
//! form and its parsing (bounded by [`MAX_TYPE_DEPTH`]).

use super::*;

/// A field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A primitive, written as a string (`"long"`, `"decimal(9, 2)"`).
    Primitive(PrimitiveType),
    /// `{"type": "struct", "fields": [...]}`.
    Struct(StructType),
    /// `{"type": "list", "element-id", "element", "element-required"}`.
    List(ListType),
    /// `{"type": "map", "key-id", "key", "value-id", "value", "value-required"}`.
    Map(MapType),
}

/// The v2 primitive types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimitiveType {
    /// `boolean`.
    Boolean,
    /// `int`: 32-bit signed.
    Int,
    /// `long`: 64-bit signed.
    Long,
    /// `float`: 32-bit IEEE 754.
    Float,
    /// `double`: 64-bit IEEE 754.
    Double,
    /// `decimal(P, S)`: precision 1 to 38, scale at most the precision.
    Decimal {
        /// P.
        precision: u32,
        /// S.
        scale: u32,
    },
    /// `date`: days since the epoch.
    Date,
    /// `time`: microseconds since midnight.
    Time,
    /// `timestamp`: microseconds, no zone.
    Timestamp,
    /// `timestamptz`: microseconds, UTC.
    Timestamptz,
    /// `string`: UTF-8.
    String,
    /// `uuid`.
    Uuid,
    /// `fixed[L]`: L bytes.
    Fixed(u64),
    /// `binary`.
    Binary,
}

/// A struct type's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StructType {
    /// `fields`.
    pub fields: Vec<NestedField>,
}

/// A list type.
#[derive(Debug, Clone, PartialEq)]
pub struct ListType {
    /// `element-id`: the element's field id.
    pub element_id: i32,
    /// `element-required`.
    pub element_required: bool,
    /// `element`: the element type.
    pub element: Box<Type>,
}

/// A map type.
#[derive(Debug, Clone, PartialEq)]
pub struct MapType {
    /// `key-id`: the key's field id.
    pub key_id: i32,
    /// `key`: the key type (keys are always required).
    pub key: Box<Type>,
    /// `value-id`: the value's field id.
    pub value_id: i32,
    /// `value-required`.
    pub value_required: bool,
    /// `value`: the value type.
    pub value: Box<Type>,
}

impl PrimitiveType {
    /// Parses a primitive type name (`long`, `decimal(9, 2)`, `fixed[16]`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "boolean" => Self::Boolean,
            "int" => Self::Int,
            "long" => Self::Long,
            "float" => Self::Float,
            "double" => Self::Double,
            "date" => Self::Date,
            "time" => Self::Time,
            "timestamp" => Self::Timestamp,
            "timestamptz" => Self::Timestamptz,
            "string" => Self::String,
            "uuid" => Self::Uuid,
            "binary" => Self::Binary,
            _ => {
                if let Some(len) = s.strip_prefix("fixed[").and_then(|r| r.strip_suffix(']')) {
                    Self::Fixed(number(len)?)
                } else {
                    let inner = s.strip_prefix("decimal(")?.strip_suffix(')')?;
                    let (p, sc) = inner.split_once(',')?;
                    let (precision, scale) = (number(p)?, number(sc)?);
                    if precision == 0 || precision > 38 || scale > precision {
                        return None;
                    }
                    Self::Decimal { precision, scale }
                }
            }
        })
    }
}

/// Digits only (no sign), surrounding spaces allowed.
pub(super) fn number<T: core::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl core::fmt::Display for PrimitiveType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::Int => f.write_str("int"),
            Self::Long => f.write_str("long"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision}, {scale})"),
            Self::Date => f.write_str("date"),
            Self::Time => f.write_str("time"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Timestamptz => f.write_str("timestamptz"),
            Self::String => f.write_str("string"),
            Self::Uuid => f.write_str("uuid"),
            Self::Fixed(len) => write!(f, "fixed[{len}]"),
            Self::Binary => f.write_str("binary"),
        }
    }
}

pub(super) fn type_to_value(ty: &Type) -> Value {
    match ty {
        Type::Primitive(p) => Value::String(p.to_string()),
        Type::Struct(s) => object([("type", Value::String("struct".into())), ("fields", fields_to_value(&s.fields))]),
        Type::List(l) => object([
            ("type", Value::String("list".into())),
            ("element-id", Value::from(l.element_id)),
            ("element", type_to_value(&l.element)),
            ("element-required", Value::Bool(l.element_required)),
        ]),
        Type::Map(m) => object([
            ("type", Value::String("map".into())),
            ("key-id", Value::from(m.key_id)),
            ("key", type_to_value(&m.key)),
            ("value-id", Value::from(m.value_id)),
            ("value", type_to_value(&m.value)),
            ("value-required", Value::Bool(m.value_required)),
        ]),
    }
}

pub(super) fn type_from_value(v: &Value, depth: usize) -> Result<Type, MetadataError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(MetadataError::TypeTooDeep);
    }
    let obj = match v {
        Value::String(name) => return PrimitiveType::parse(name).map(Type::Primitive).ok_or(MetadataError::InvalidType),
        Value::Object(obj) => obj,
        _ => return Err(MetadataError::InvalidType),
    };
    let inner = |key: &'static str| -> Result<Box<Type>, MetadataError> { Ok(Box::new(type_from_value(member(obj, key)?, depth + 1)?)) };
    match obj.get("type").and_then(Value::as_str) {
        Some("struct") => Ok(Type::Struct(StructType { fields: fields_from_value(member(obj, "fields")?, depth + 1)? })),
        Some("list") => Ok(Type::List(ListType {
            element_id: int(member(obj, "element-id")?)?,
            element_required: boolean(member(obj, "element-required")?)?,
            element: inner("element")?,
        })),
        Some("map") => Ok(Type::Map(MapType {
            key_id: int(member(obj, "key-id")?)?,
            key: inner("key")?,
            value_id: int(member(obj, "value-id")?)?,
            value_required: boolean(member(obj, "value-required")?)?,
            value: inner("value")?,
        })),
        _ => Err(MetadataError::InvalidType),
    }
}
