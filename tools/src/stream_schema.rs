//! The record contract as a Cloudflare Pipelines stream schema: what
//! `wrangler pipelines streams create <stream> --schema-file wrangler/stream-schema.json` takes,
//! derived from [`record_schema`] (itself built from `shared::record::COLUMNS`), so a column added
//! to the contract reaches the streams by running `make stream-schema`.
//!
//! The file is `{"fields": [...]}`, one field per column in table order: `name`, `type`,
//! `required`, plus `unit` for a `timestamp` and `items` (the element's type) for a `list`, and
//! `fields` for a `struct` (the stream types: bool, int32, int64, float32, float64, string,
//! timestamp, binary, json, list, struct). Iceberg → stream:
//!
//! | Iceberg (record_schema) | stream |
//! | --- | --- |
//! | `string` | `string`, the JSON-text columns too (`mdast`, `hast`, `estree`, `frontmatter`, `tags`): see below |
//! | `long` / `int` | `int64` / `int32` |
//! | `boolean` | `bool` |
//! | `float` / `double` | `float32` / `float64` |
//! | `timestamp`, `timestamptz` | `timestamp` with `unit: microsecond` (ingest sends integer µs) |
//! | `binary` | `binary` |
//! | `list<T>` | `list` with `items` |
//! | `struct` | `struct` with `fields` |
//!
//! JSON-text columns stay `string`, never `json`: ingest sends them as JSON *text* (the exact bytes
//! it hashed into `content_hash` and counted in `size_bytes`), serve answers those bytes, and a
//! `string` field is stored as it came. A `json` field would take a JSON value, leave its text to
//! the sink's serializer (key order, whitespace, number formatting) and its Iceberg type to the
//! sink's mapping, none of which can be checked offline.
//!
//! [`sink_iceberg_type`] is the other direction, what the R2 Data Catalog sink creates from a
//! stream field; the tests check that it gives back `record_schema`'s types (field ids aside: the
//! sink numbers fields itself, and serve resolves columns by name).

use serde_json::{json, Value};
use shared::iceberg::table_metadata::{record_schema, ListType, NestedField, PrimitiveType, StructType, Type};

/// Where the committed schema lives, relative to the repository root.
pub const PATH: &str = "wrangler/stream-schema.json";

/// The unit of every stream timestamp: ingest sends `ts` (and every other timestamp) as integer
/// microseconds since the epoch.
pub const TIMESTAMP_UNIT: &str = "microsecond";

/// The stream type of an Iceberg type, as a JSON object without `name` / `required`; an error
/// names a type a stream cannot carry.
pub fn stream_type(ty: &Type) -> Result<Value, String> {
    Ok(match ty {
        Type::Primitive(p) => match p {
            PrimitiveType::String => json!({"type": "string"}),
            PrimitiveType::Long => json!({"type": "int64"}),
            PrimitiveType::Int => json!({"type": "int32"}),
            PrimitiveType::Boolean => json!({"type": "bool"}),
            PrimitiveType::Float => json!({"type": "float32"}),
            PrimitiveType::Double => json!({"type": "float64"}),
            PrimitiveType::Binary => json!({"type": "binary"}),
            PrimitiveType::Timestamp | PrimitiveType::Timestamptz => {
                json!({"type": "timestamp", "unit": TIMESTAMP_UNIT})
            }
            other => return Err(format!("Iceberg type {other} has no Pipelines stream type")),
        },
        Type::List(l) => json!({"type": "list", "items": stream_type(&l.element)?}),
        Type::Struct(s) => json!({"type": "struct", "fields": fields(&s.fields)?}),
        Type::Map(_) => return Err("Pipelines streams have no map type".into()),
    })
}

fn fields(fields: &[NestedField]) -> Result<Vec<Value>, String> {
    fields
        .iter()
        .map(|f| {
            let mut v = stream_type(&f.field_type).map_err(|e| format!("{}: {e}", f.name))?;
            if let Value::Object(o) = &mut v {
                o.insert("name".into(), Value::String(f.name.clone()));
                o.insert("required".into(), Value::Bool(f.required));
            }
            Ok(v)
        })
        .collect()
}

/// The stream schema of the record contract, as a JSON value.
pub fn stream_schema() -> Result<Value, String> {
    Ok(json!({"fields": fields(&record_schema().fields)?}))
}

/// One field object with its keys in a fixed, readable order: name, type, required, unit, items,
/// fields.
fn render_field(v: &Value, out: &mut String) {
    let order = ["name", "type", "required", "unit", "items", "fields"];
    let Value::Object(o) = v else {
        out.push_str(&v.to_string());
        return;
    };
    out.push_str("{ ");
    let mut first = true;
    for key in order.iter().filter(|k| o.contains_key(**k)) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(&Value::String((*key).into()).to_string());
        out.push_str(": ");
        match (key, o.get(*key)) {
            (&"items", Some(item)) => render_field(item, out),
            (&"fields", Some(Value::Array(items))) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    render_field(item, out);
                }
                out.push(']');
            }
            (_, Some(value)) => out.push_str(&value.to_string()),
            (_, None) => {}
        }
    }
    out.push_str(" }");
}

/// The file's text: `{"fields": [...]}` with one field per line.
pub fn render(schema: &Value) -> String {
    let mut out = String::from("{\n  \"fields\": [\n");
    let items = schema.get("fields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for (i, f) in items.iter().enumerate() {
        out.push_str("    ");
        render_field(f, &mut out);
        out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ]\n}\n");
    out
}

/// The Iceberg type an R2 Data Catalog sink creates for a stream field (ids left 0: the sink
/// assigns its own). `timestamp` is the zone-less `timestamp` (the sink's engine maps SQL
/// `TIMESTAMP` to Arrow `Timestamp(Microsecond, None)`); `json` is assumed to become `string`.
pub fn sink_iceberg_type(field: &Value) -> Result<Type, String> {
    let ty = field.get("type").and_then(Value::as_str).ok_or("a field has no type")?;
    let prim = |p| Ok(Type::Primitive(p));
    match ty {
        "string" | "json" => prim(PrimitiveType::String),
        "int64" => prim(PrimitiveType::Long),
        "int32" => prim(PrimitiveType::Int),
        "bool" => prim(PrimitiveType::Boolean),
        "float32" => prim(PrimitiveType::Float),
        "float64" => prim(PrimitiveType::Double),
        "binary" => prim(PrimitiveType::Binary),
        "timestamp" => prim(PrimitiveType::Timestamp),
        "list" => {
            let items = field.get("items").ok_or("a list has no items")?;
            Ok(Type::List(ListType { element_id: 0, element_required: false, element: Box::new(sink_iceberg_type(items)?) }))
        }
        "struct" => {
            let members = field.get("fields").and_then(Value::as_array).ok_or("a struct has no fields")?;
            let fields = members
                .iter()
                .map(|m| {
                    Ok(NestedField {
                        id: 0,
                        name: m.get("name").and_then(Value::as_str).ok_or("a struct field has no name")?.to_string(),
                        required: m.get("required").and_then(Value::as_bool).unwrap_or(false),
                        field_type: sink_iceberg_type(m)?,
                        doc: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Type::Struct(StructType { fields }))
        }
        other => Err(format!("unknown stream type {other}")),
    }
}

/// `ty` with every field id and list element requirement zeroed, to compare types as the sink
/// would create them.
pub fn without_ids(ty: &Type) -> Type {
    match ty {
        Type::Primitive(p) => Type::Primitive(*p),
        Type::List(l) => Type::List(ListType { element_id: 0, element_required: false, element: Box::new(without_ids(&l.element)) }),
        Type::Struct(s) => Type::Struct(StructType {
            fields: s
                .fields
                .iter()
                .map(|f| NestedField {
                    id: 0,
                    name: f.name.clone(),
                    required: f.required,
                    field_type: without_ids(&f.field_type),
                    doc: None,
                })
                .collect(),
        }),
        Type::Map(m) => Type::Map(m.clone()),
    }
}

/// Every way `file` (the committed schema's text) disagrees with the record contract; empty when
/// it matches both the generator's output and `record_schema`.
pub fn disagreements(file: &str) -> Vec<String> {
    let mut out = Vec::new();
    match stream_schema() {
        Ok(schema) if render(&schema) != file => {
            out.push(format!("{PATH} is not what the generator writes: run `make stream-schema`"));
        }
        Ok(_) => {}
        Err(e) => out.push(e),
    }
    let parsed: Value = match serde_json::from_str(file) {
        Ok(v) => v,
        Err(e) => {
            out.push(format!("{PATH} is not JSON: {e}"));
            return out;
        }
    };
    let Some(fields) = parsed.get("fields").and_then(Value::as_array) else {
        out.push(format!("{PATH} has no fields array"));
        return out;
    };
    let schema = record_schema();
    if fields.len() != schema.fields.len() {
        out.push(format!("{PATH} has {} fields, record_schema {}", fields.len(), schema.fields.len()));
    }
    for (i, column) in schema.fields.iter().enumerate() {
        let Some(f) = fields.get(i) else {
            out.push(format!("{}: missing from {PATH}", column.name));
            continue;
        };
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        if name != column.name {
            out.push(format!("field {i}: {PATH} says {name:?}, record_schema {:?}", column.name));
        }
        if f.get("required").and_then(Value::as_bool) != Some(column.required) {
            out.push(format!("{}: required differs", column.name));
        }
        match sink_iceberg_type(f) {
            Ok(t) if t == without_ids(&column.field_type) => {}
            Ok(t) => out.push(format!("{}: the sink would create {t:?}, record_schema has {:?}", column.name, column.field_type)),
            Err(e) => out.push(format!("{}: {e}", column.name)),
        }
        if f.get("type").and_then(Value::as_str) == Some("timestamp") && f.get("unit").and_then(Value::as_str) != Some(TIMESTAMP_UNIT) {
            out.push(format!("{}: timestamps are integer {TIMESTAMP_UNIT}s", column.name));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use shared::record::{Content, COLUMNS};

    fn committed() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}: run `make stream-schema`", path.display()))
    }

    #[test]
    fn the_committed_stream_schema_matches_the_record_contract() {
        let problems = disagreements(&committed());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_column_is_a_field_in_order_with_its_requiredness() {
        let parsed: Value = serde_json::from_str(&committed()).unwrap();
        let fields = parsed["fields"].as_array().unwrap();
        assert_eq!(fields.len(), COLUMNS.len());
        for (f, c) in fields.iter().zip(COLUMNS) {
            assert_eq!(f["name"], c.name);
            assert_eq!(f["required"], c.required, "{}", c.name);
            // JSON-text columns are strings, never `json` (docs/deploy.md says why).
            if !matches!(c.content, Content::No | Content::Text) {
                assert_eq!(f["type"], "string", "{}", c.name);
            }
            assert_ne!(f["type"], "json", "{}", c.name);
        }
        assert_eq!(fields.iter().find(|f| f["name"] == "ts").unwrap()["type"], "timestamp");
        assert_eq!(fields.iter().find(|f| f["name"] == "ts").unwrap()["unit"], TIMESTAMP_UNIT);
        let inputs = fields.iter().find(|f| f["name"] == "inputs").unwrap();
        assert_eq!((&inputs["type"], &inputs["items"]), (&json!("list"), &json!({"type": "string"})));
        assert_eq!(parsed.as_object().unwrap().len(), 1, "only `fields`: wrangler sends the whole object as the schema");
    }

    #[test]
    fn disagreements_are_named() {
        let good = committed();
        let renamed = good.replacen("\"ns\"", "\"namespace\"", 1);
        assert!(disagreements(&renamed).iter().any(|p| p.contains("\"namespace\"")), "{:?}", disagreements(&renamed));
        let optional = good.replacen("\"required\": true", "\"required\": false", 1);
        assert!(disagreements(&optional).iter().any(|p| p.contains("required differs")));
        let zoned = good.replacen("\"microsecond\"", "\"millisecond\"", 1);
        assert!(disagreements(&zoned).iter().any(|p| p.contains("microseconds")));
        let json_typed = good.replacen("\"name\": \"mdast\", \"type\": \"string\"", "\"name\": \"mdast\", \"type\": \"json\"", 1);
        assert_ne!(json_typed, good);
        assert!(disagreements(&json_typed).iter().any(|p| p.contains("run `make stream-schema`")));
        let short = json!({"fields": []}).to_string();
        assert!(disagreements(&short).iter().any(|p| p.contains("has 0 fields")));
    }

    #[test]
    fn types_without_a_stream_type_are_refused() {
        assert!(stream_type(&Type::Primitive(PrimitiveType::Date)).is_err());
        let round = |t: Type| sink_iceberg_type(&stream_type(&t).unwrap()).unwrap();
        assert_eq!(round(Type::Primitive(PrimitiveType::Double)), Type::Primitive(PrimitiveType::Double));
        assert_eq!(round(Type::Primitive(PrimitiveType::Timestamptz)), Type::Primitive(PrimitiveType::Timestamp));
    }
}
