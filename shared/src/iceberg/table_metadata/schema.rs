//! Schemas: fields with ids, the record contract's schema, field-id bookkeeping, JSON both ways.

use super::*;

/// One schema: a struct of fields with ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// `schema-id`.
    pub schema_id: i32,
    /// `identifier-field-ids`: the row identity fields, if any.
    pub identifier_field_ids: Vec<i32>,
    /// `fields`: the top-level fields, in order.
    pub fields: Vec<NestedField>,
}

/// A field of a schema or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedField {
    /// `id`: the field id, unique in its schema.
    pub id: i32,
    /// `name`.
    pub name: String,
    /// `required`: whether every row has a value.
    pub required: bool,
    /// `type`.
    pub field_type: Type,
    /// `doc`.
    pub doc: Option<String>,
}

/// The Iceberg type of a record-contract column (`shared::record::COLUMNS`); list elements are
/// optional when `element_required` is false.
///
/// These are the types an R2 Data Catalog sink creates from the stream schema
/// (`wrangler/stream-schema.json`, generated from the same columns): a stream `timestamp` becomes
/// Iceberg `timestamp` without a zone (the sink's engine maps zone-less SQL timestamps to Arrow
/// `Timestamp(Microsecond, None)`), so [`ColumnType::TimestampMicros`] is `timestamp`, not
/// `timestamptz`. Readers take either (tables written by other tools use `timestamptz`).
///
/// [`ColumnType::TimestampMicros`]: crate::record::ColumnType::TimestampMicros
pub fn record_column_type(ty: crate::record::ColumnType, element_required: bool) -> Type {
    use crate::record::ColumnType;
    match ty {
        ColumnType::String => Type::Primitive(PrimitiveType::String),
        ColumnType::TimestampMicros => Type::Primitive(PrimitiveType::Timestamp),
        ColumnType::Long => Type::Primitive(PrimitiveType::Long),
        ColumnType::Boolean => Type::Primitive(PrimitiveType::Boolean),
        ColumnType::StringList { element_id } => {
            Type::List(ListType { element_id, element_required, element: alloc::boxed::Box::new(Type::Primitive(PrimitiveType::String)) })
        }
    }
}

/// The table schema (id 0) of the record contract: every column with its field id and
/// `required` flag, list elements optional. The stand-in writes it; serve reads by name.
pub fn record_schema() -> Schema {
    let fields = crate::record::COLUMNS
        .iter()
        .map(|c| NestedField {
            id: c.field_id,
            name: c.name.into(),
            required: c.required,
            field_type: record_column_type(c.ty, false),
            doc: None,
        })
        .collect();
    Schema { schema_id: 0, identifier_field_ids: Vec::new(), fields }
}

impl Schema {
    /// The top-level field with this name (exact, case-sensitive).
    pub fn field_by_name(&self, name: &str) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field id of the top-level field with this name.
    pub fn field_id_by_name(&self, name: &str) -> Option<i32> {
        self.field_by_name(name).map(|f| f.id)
    }

    /// The top-level field with this id.
    pub fn field_by_id(&self, id: i32) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// Field ids unique at every depth, names unique in every struct.
    pub(super) fn validate(&self) -> Result<(), MetadataError> {
        let mut ids = Vec::new();
        collect_ids(&self.fields, &mut ids)?;
        if has_duplicates(ids.into_iter()) {
            return Err(MetadataError::DuplicateFieldId);
        }
        Ok(())
    }

    pub(super) fn to_value(&self) -> Value {
        object([
            ("type", Value::String("struct".into())),
            ("schema-id", Value::from(self.schema_id)),
            ("identifier-field-ids", Value::Array(self.identifier_field_ids.iter().map(|&i| Value::from(i)).collect())),
            ("fields", fields_to_value(&self.fields)),
        ])
    }
}

/// Pushes every field id (fields, list elements, map keys and values) under `fields`, and checks
/// names are unique in each struct. Recursion is bounded by the parse depth limit.
pub(super) fn collect_ids(fields: &[NestedField], ids: &mut Vec<i32>) -> Result<(), MetadataError> {
    if has_duplicates(fields.iter().map(|f| f.name.as_str())) {
        return Err(MetadataError::DuplicateFieldName);
    }
    for field in fields {
        ids.push(field.id);
        collect_type_ids(&field.field_type, ids)?;
    }
    Ok(())
}

pub(super) fn collect_type_ids(ty: &Type, ids: &mut Vec<i32>) -> Result<(), MetadataError> {
    match ty {
        Type::Primitive(_) => Ok(()),
        Type::Struct(s) => collect_ids(&s.fields, ids),
        Type::List(l) => {
            ids.push(l.element_id);
            collect_type_ids(&l.element, ids)
        }
        Type::Map(m) => {
            ids.push(m.key_id);
            ids.push(m.value_id);
            collect_type_ids(&m.key, ids)?;
            collect_type_ids(&m.value, ids)
        }
    }
}

pub(super) fn fields_to_value(fields: &[NestedField]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("id".into(), Value::from(f.id));
                m.insert("name".into(), Value::String(f.name.clone()));
                m.insert("required".into(), Value::Bool(f.required));
                m.insert("type".into(), type_to_value(&f.field_type));
                if let Some(doc) = &f.doc {
                    m.insert("doc".into(), Value::String(doc.clone()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

pub(super) fn schema_from_value(v: &Value) -> Result<Schema, MetadataError> {
    let obj = v.as_object().ok_or(MetadataError::Malformed)?;
    match obj.get("type") {
        None => {}
        Some(Value::String(t)) if t == "struct" => {}
        Some(_) => return Err(MetadataError::InvalidType),
    }
    let identifier_field_ids = match obj.get("identifier-field-ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids.iter().map(int).collect::<Result<_, _>>()?,
        Some(_) => return Err(MetadataError::Malformed),
    };
    Ok(Schema { schema_id: int(member(obj, "schema-id")?)?, identifier_field_ids, fields: fields_from_value(member(obj, "fields")?, 1)? })
}

pub(super) fn fields_from_value(v: &Value, depth: usize) -> Result<Vec<NestedField>, MetadataError> {
    let items = v.as_array().ok_or(MetadataError::Malformed)?;
    items
        .iter()
        .map(|item| {
            let obj = item.as_object().ok_or(MetadataError::Malformed)?;
            let doc = match obj.get("doc") {
                None | Some(Value::Null) => None,
                Some(d) => Some(string(d)?),
            };
            Ok(NestedField {
                id: int(member(obj, "id")?)?,
                name: string(member(obj, "name")?)?,
                required: boolean(member(obj, "required")?)?,
                field_type: type_from_value(member(obj, "type")?, depth)?,
                doc,
            })
        })
        .collect()
}
