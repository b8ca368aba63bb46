//! The record contract: one definition of an artifact record for ingest (validation), the local
//! stand-in (the Iceberg schema it writes) and serve (the columns it reads).
//!
//! A client sends `{ns, type, id, …content}`; ingest validates it, stamps `ts`, takes
//! `owner_org`/`owner_user` from the verified token, computes `content_hash` and `size_bytes`, and
//! forwards the complete [`Record`] as one JSON object whose keys are the column names below.
//!
//! Path segments (`ns`, `type`) are path-safe: 1 to [`MAX_NS_BYTES`] / [`MAX_TYPE_BYTES`] bytes
//! of ASCII letters, digits and `-` `_` `.` `@` `+`, never `.` or `..`. An `id` is one or more
//! such segments joined by `/` (a docs tree: `guide/install/linux`), at most [`MAX_ID_BYTES`] in
//! all ([`check_id`]).
//!
//! Contract v2 (fixed before the Pipelines streams exist: a stream's schema cannot change) adds
//! `supersedes` (refs this artifact replaces), `tags` (a small string → string map, carried as
//! JSON text: the stream schema has no map type) and `expires_at`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Longest `ns`, in bytes.
pub const MAX_NS_BYTES: usize = 128;
/// Longest `type`, in bytes.
pub const MAX_TYPE_BYTES: usize = 64;
/// Longest `id`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most entries in `inputs`.
pub const MAX_INPUTS: usize = 256;
/// Most entries in `supersedes`.
pub const MAX_SUPERSEDES: usize = 256;
/// Most `tags`.
pub const MAX_TAGS: usize = 32;
/// Longest tag key, bytes.
pub const MAX_TAG_KEY_BYTES: usize = 64;
/// Longest tag value, bytes.
pub const MAX_TAG_VALUE_BYTES: usize = 256;
/// How far past ingest's clock a client `ts` (bulk mode) may be, in microseconds: room for clock
/// skew, no more. A later `ts` would pin its row as the newest version until that time.
pub const MAX_TS_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;

/// The Iceberg type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 string.
    String,
    /// Iceberg `timestamp` (no zone; what an R2 Data Catalog sink makes of a stream `timestamp`), microseconds since the epoch, UTC by convention.
    TimestampMicros,
    /// 64-bit signed integer.
    Long,
    /// Boolean.
    Boolean,
    /// `list<string>`; the element has its own field id.
    StringList {
        /// Iceberg field id of the list element.
        element_id: i32,
    },
}

/// How a content column is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Not a content column.
    No,
    /// A string field (markdown, html, …).
    Text,
    /// A JSON value, stored as JSON text.
    Json,
    /// Client metadata stored as JSON text (`tags`): not content (no representation, not in
    /// `size_bytes`), but part of the version's identity (`content_hash`).
    JsonMeta,
}

/// One column of the artifacts table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name, snake_case, as in the table and the JSON record.
    pub name: &'static str,
    /// Iceberg field id.
    pub field_id: i32,
    /// Iceberg type.
    pub ty: ColumnType,
    /// Whether every row has a value.
    pub required: bool,
    /// Whether this is a content field and how.
    pub content: Content,
}

const fn col(name: &'static str, field_id: i32, ty: ColumnType, required: bool, content: Content) -> Column {
    Column { name, field_id, ty, required, content }
}

/// The table schema, in order, with Iceberg field ids (schema id 0).
pub const COLUMNS: &[Column] = &[
    col("ns", 1, ColumnType::String, true, Content::No),
    col("type", 2, ColumnType::String, true, Content::No),
    col("id", 3, ColumnType::String, true, Content::No),
    col("ts", 4, ColumnType::TimestampMicros, true, Content::No),
    col("visibility", 5, ColumnType::String, true, Content::No),
    col("owner_org", 6, ColumnType::String, true, Content::No),
    col("owner_user", 7, ColumnType::String, true, Content::No),
    col("markdown", 8, ColumnType::String, false, Content::Text),
    col("mdx", 9, ColumnType::String, false, Content::Text),
    col("html", 10, ColumnType::String, false, Content::Text),
    col("esm", 11, ColumnType::String, false, Content::Text),
    col("dts", 12, ColumnType::String, false, Content::Text),
    col("css", 13, ColumnType::String, false, Content::Text),
    col("mdast", 14, ColumnType::String, false, Content::Json),
    col("hast", 15, ColumnType::String, false, Content::Json),
    col("estree", 16, ColumnType::String, false, Content::Json),
    col("frontmatter", 17, ColumnType::String, false, Content::Json),
    col("inputs", 18, ColumnType::StringList { element_id: 22 }, false, Content::No),
    col("content_hash", 19, ColumnType::String, true, Content::No),
    col("size_bytes", 20, ColumnType::Long, true, Content::No),
    col("deleted", 21, ColumnType::Boolean, true, Content::No),
    // Contract v2.
    col("supersedes", 23, ColumnType::StringList { element_id: 24 }, false, Content::No),
    col("tags", 25, ColumnType::String, false, Content::JsonMeta),
    col("expires_at", 26, ColumnType::TimestampMicros, false, Content::No),
];

/// Highest field id in [`COLUMNS`] (including list elements).
pub const LAST_FIELD_ID: i32 = 26;

/// The client fields besides content that make a version (hashed into `content_hash` after the
/// content fields, in field-id order), so a change to any of them is never deduped away.
pub const METADATA: &[&str] = &["inputs", "supersedes", "tags", "expires_at"];

/// Who may read an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone, listed.
    Public,
    /// Anyone with the URL.
    Unlisted,
    /// Members of `owner_org`.
    Org,
    /// Only `owner_user`.
    User,
}

impl Visibility {
    /// Parses the column value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "unlisted" => Some(Self::Unlisted),
            "org" => Some(Self::Org),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Org => "org",
            Self::User => "user",
        }
    }
}

/// Ingest mode, one Pipelines stream and one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Short-lived previews (fast roll).
    Preview,
    /// CI builds (the default).
    Build,
    /// Bulk imports; the only mode that accepts a client `ts`.
    Bulk,
}

impl Mode {
    /// Parses `X-Artifact-Mode` (absent → build).
    pub fn parse(header: Option<&str>) -> Option<Self> {
        match header.map(str::trim) {
            None | Some("") | Some("build") => Some(Self::Build),
            Some("preview") => Some(Self::Preview),
            Some("bulk") => Some(Self::Bulk),
            _ => None,
        }
    }

    /// Lower-case name (`preview`, `build`, `bulk`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Build => "build",
            Self::Bulk => "bulk",
        }
    }

    /// All modes.
    pub const ALL: [Mode; 3] = [Mode::Preview, Mode::Build, Mode::Bulk];
}

/// Why a record was rejected: the field at fault (if one) and a fixed reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Field name, when one field is at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: &'static str,
}

impl RecordError {
    fn at(field: &str, reason: &'static str) -> Self {
        RecordError { field: Some(field.to_string()), reason }
    }
    fn whole(reason: &'static str) -> Self {
        RecordError { field: None, reason }
    }
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.reason),
            None => f.write_str(self.reason),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordError {}

/// Checks one path segment (`ns`, `type`, `id`) against the documented rules.
pub fn check_segment(value: &str, max: usize) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("must not be empty");
    }
    if value.len() > max {
        return Err("is too long");
    }
    if value == "." || value == ".." {
        return Err("must not be . or ..");
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+')) {
        return Err("may only contain letters, digits and - _ . @ +");
    }
    Ok(())
}

/// Checks an `id`: one or more path-safe segments joined by `/` (no empty, `.` or `..` segment),
/// at most [`MAX_ID_BYTES`] in all.
pub fn check_id(value: &str) -> Result<(), &'static str> {
    if value.len() > MAX_ID_BYTES {
        return Err("is too long");
    }
    for seg in value.split('/') {
        check_segment(seg, MAX_ID_BYTES)?;
    }
    Ok(())
}

/// Checks an `ns/type/id` reference (as in `inputs` and `supersedes`); the id may be nested.
pub fn check_reference(value: &str) -> Result<(), &'static str> {
    let mut parts = value.splitn(3, '/');
    let (Some(ns), Some(ty), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("must be ns/type/id");
    };
    check_segment(ns, MAX_NS_BYTES)?;
    check_segment(ty, MAX_TYPE_BYTES)?;
    check_id(id)
}

/// Checks `tags`: a JSON object of at most [`MAX_TAGS`] string values, keys 1 to
/// [`MAX_TAG_KEY_BYTES`] bytes of ASCII letters, digits and `-` `_` `.` `:` `/`, values at most
/// [`MAX_TAG_VALUE_BYTES`] bytes of UTF-8 without control characters.
pub fn check_tags(value: &Value) -> Result<(), &'static str> {
    let Value::Object(map) = value else { return Err("must be an object of string values") };
    if map.len() > MAX_TAGS {
        return Err("has more than 32 tags");
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > MAX_TAG_KEY_BYTES || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b)) {
            return Err("keys must be 1 to 64 letters, digits or - _ . : /");
        }
        match v {
            Value::String(v) if v.len() <= MAX_TAG_VALUE_BYTES && !v.chars().any(char::is_control) => {}
            _ => return Err("values must be strings of at most 256 bytes, no control characters"),
        }
    }
    Ok(())
}

/// What ingest knows about the request a record arrived in.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    /// The stream it goes to.
    pub mode: Mode,
    /// Microseconds since the epoch, now.
    pub now_micros: i64,
    /// Verified token `org`.
    pub org: &'a str,
    /// Verified token `sub`.
    pub user: &'a str,
    /// Visibility when the record names none (tenant setting, else `org`).
    pub default_visibility: Visibility,
}

/// A validated, complete record, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Namespace.
    pub ns: String,
    /// Artifact type.
    pub ty: String,
    /// Artifact id.
    pub id: String,
    /// Microseconds UTC.
    pub ts: i64,
    /// Who may read it.
    pub visibility: Visibility,
    /// From the token.
    pub owner_org: String,
    /// From the token.
    pub owner_user: String,
    /// Content fields in [`COLUMNS`] order (name, stored text); absent ones omitted.
    pub content: Vec<(&'static str, String)>,
    /// Lineage references.
    pub inputs: Option<Vec<String>>,
    /// Refs this artifact replaces.
    pub supersedes: Option<Vec<String>>,
    /// Tags as canonical JSON text (keys sorted), when sent.
    pub tags: Option<String>,
    /// When the artifact expires (µs UTC), when sent.
    pub expires_at: Option<i64>,
    /// sha256 hex over the content fields and the metadata sent ([`content_hash`]).
    pub content_hash: String,
    /// Bytes of stored content.
    pub size_bytes: i64,
    /// Tombstone.
    pub deleted: bool,
}

/// Fields a client may not set, because ingest derives them.
const DERIVED: &[&str] = &["owner_org", "owner_user", "content_hash", "size_bytes"];

fn string_field(map: &Map<String, Value>, name: &str) -> Result<Option<String>, RecordError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RecordError::at(name, "must be a string")),
    }
}

fn segment(map: &Map<String, Value>, name: &str, check: &dyn Fn(&str) -> Result<(), &'static str>) -> Result<String, RecordError> {
    let v = string_field(map, name)?.ok_or_else(|| RecordError::at(name, "is required"))?;
    check(&v).map_err(|r| RecordError::at(name, r))?;
    Ok(v)
}

/// A list of `ns/type/id` references (`inputs`, `supersedes`), at most `max`.
fn references(map: &Map<String, Value>, name: &str, max: usize) -> Result<Option<Vec<String>>, RecordError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > max {
                return Err(RecordError::at(name, "has too many entries"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(s) = item else {
                    return Err(RecordError::at(name, "entries must be strings"));
                };
                check_reference(s).map_err(|r| RecordError::at(name, r))?;
                out.push(s.clone());
            }
            Ok(Some(out))
        }
        Some(_) => Err(RecordError::at(name, "must be a list of ns/type/id strings")),
    }
}

/// A time field: RFC 3339 or integer microseconds.
fn time_field(v: &Value, name: &str) -> Result<i64, RecordError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| RecordError::at(name, "must be integer microseconds")),
        Value::String(s) => crate::time::parse_rfc3339(s).ok_or_else(|| RecordError::at(name, "must be RFC 3339 or integer microseconds")),
        _ => Err(RecordError::at(name, "must be RFC 3339 or integer microseconds")),
    }
}

/// sha256 hex over `(name, stored text)` pairs — the content fields, then the [`METADATA`] that
/// was sent (lists as JSON arrays, `tags` as its canonical JSON text, `expires_at` as decimal µs),
/// each in field-id order: its name, a 0 byte, its length as u64 little-endian, and its bytes. A
/// record without metadata hashes as in contract v1.
pub fn content_hash(content: &[(&'static str, String)]) -> String {
    let mut h = Sha256::new();
    for (name, value) in content {
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update((value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
    }
    hex(&h.finalize())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 15] {
            s.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    s
}

impl Record {
    /// Validates one client record (a parsed JSON value) and completes it with `stamp`.
    pub fn from_client(value: Value, stamp: &Stamp<'_>) -> Result<Record, RecordError> {
        let Value::Object(map) = value else {
            return Err(RecordError::whole("a record must be a JSON object"));
        };
        for key in map.keys() {
            if DERIVED.contains(&key.as_str()) {
                return Err(RecordError::at(key, "is set by ingest and may not be sent"));
            }
            if !COLUMNS.iter().any(|c| c.name == key) {
                return Err(RecordError::at(key, "is not a field of the record"));
            }
        }
        let ns = segment(&map, "ns", &|v| check_segment(v, MAX_NS_BYTES))?;
        let ty = segment(&map, "type", &|v| check_segment(v, MAX_TYPE_BYTES))?;
        let id = segment(&map, "id", &check_id)?;
        let ts = match map.get("ts") {
            None | Some(Value::Null) => stamp.now_micros,
            Some(_) if stamp.mode != Mode::Bulk => return Err(RecordError::at("ts", "is stamped by ingest; only bulk mode accepts it")),
            Some(v) => time_field(v, "ts")?,
        };
        if ts > stamp.now_micros.saturating_add(MAX_TS_SKEW_MICROS) {
            return Err(RecordError::at("ts", "is more than 5 minutes ahead of ingest's clock"));
        }
        let visibility = match string_field(&map, "visibility")? {
            None => stamp.default_visibility,
            Some(v) => Visibility::parse(&v).ok_or_else(|| RecordError::at("visibility", "must be public, unlisted, org or user"))?,
        };
        let deleted = match map.get("deleted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(RecordError::at("deleted", "must be a boolean")),
        };
        let inputs = references(&map, "inputs", MAX_INPUTS)?;
        let supersedes = references(&map, "supersedes", MAX_SUPERSEDES)?;
        let tags = match map.get("tags") {
            None | Some(Value::Null) => None,
            // serde_json's map is ordered by key, so the text is canonical.
            Some(v) => Some(check_tags(v).map(|()| v.to_string()).map_err(|r| RecordError::at("tags", r))?),
        };
        let expires_at = match map.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let t = time_field(v, "expires_at")?;
                if t <= ts {
                    return Err(RecordError::at("expires_at", "must be after ts"));
                }
                Some(t)
            }
        };
        let mut content = Vec::new();
        for c in COLUMNS {
            match (c.content, map.get(c.name)) {
                (Content::No | Content::JsonMeta, _) | (_, None) | (_, Some(Value::Null)) => {}
                (Content::Text, Some(Value::String(s))) => content.push((c.name, s.clone())),
                (Content::Text, Some(_)) => return Err(RecordError::at(c.name, "must be a string")),
                (Content::Json, Some(v)) => content.push((c.name, v.to_string())),
            }
        }
        if content.is_empty() && !deleted {
            return Err(RecordError::whole("a record needs at least one content field (or deleted: true)"));
        }
        let size_bytes = content.iter().map(|(_, v)| v.len() as i64).sum();
        // The version's identity: content, then the metadata that was sent (field-id order).
        let mut hashed = content.clone();
        for (name, v) in [
            ("inputs", map.get("inputs")),
            ("supersedes", map.get("supersedes")),
            ("tags", map.get("tags")),
            ("expires_at", expires_at.map(Value::from).as_ref()),
        ] {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                hashed.push((name, v.to_string()));
            }
        }
        let content_hash = content_hash(&hashed);
        Ok(Record {
            ns,
            ty,
            id,
            ts,
            visibility,
            owner_org: stamp.org.to_string(),
            owner_user: stamp.user.to_string(),
            content,
            inputs,
            supersedes,
            tags,
            expires_at,
            content_hash,
            size_bytes,
            deleted,
        })
    }

    /// A tombstone for `ns/type/id` (the DELETE route).
    pub fn tombstone(ns: &str, ty: &str, id: &str, stamp: &Stamp<'_>) -> Result<Record, RecordError> {
        let mut map = Map::new();
        map.insert("ns".into(), Value::String(ns.into()));
        map.insert("type".into(), Value::String(ty.into()));
        map.insert("id".into(), Value::String(id.into()));
        map.insert("deleted".into(), Value::Bool(true));
        Record::from_client(Value::Object(map), stamp)
    }

    /// `ns/type/id`.
    pub fn key(&self) -> String {
        alloc::format!("{}/{}/{}", self.ns, self.ty, self.id)
    }

    /// What dedupe compares: the content hash plus the fields that change what readers see
    /// without changing content (visibility, tombstone, owner), so a visibility change is never
    /// dropped, and neither is another owner's write of the same content (it would keep the
    /// first owner's row, and `deduped` would tell the second writer what the first one stored).
    /// Built with [`crate::key::compose`], so it is unambiguous (orgs and subs may hold `:`).
    pub fn dedupe_key(&self) -> String {
        dedupe_key_of(&self.content_hash, self.visibility.as_str(), self.deleted, &self.owner_org, &self.owner_user)
    }

    /// The complete record as one JSON object, every column present (null when absent).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ns".into(), Value::String(self.ns.clone()));
        m.insert("type".into(), Value::String(self.ty.clone()));
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("ts".into(), Value::from(self.ts));
        m.insert("visibility".into(), Value::String(self.visibility.as_str().into()));
        m.insert("owner_org".into(), Value::String(self.owner_org.clone()));
        m.insert("owner_user".into(), Value::String(self.owner_user.clone()));
        for c in COLUMNS.iter().filter(|c| matches!(c.content, Content::Text | Content::Json)) {
            let v = self.content.iter().find(|(n, _)| *n == c.name).map(|(_, v)| Value::String(v.clone()));
            m.insert(c.name.into(), v.unwrap_or(Value::Null));
        }
        m.insert(
            "inputs".into(),
            self.inputs.as_ref().map_or(Value::Null, |i| Value::Array(i.iter().cloned().map(Value::String).collect())),
        );
        m.insert("content_hash".into(), Value::String(self.content_hash.clone()));
        m.insert("size_bytes".into(), Value::from(self.size_bytes));
        m.insert("deleted".into(), Value::Bool(self.deleted));
        m.insert(
            "supersedes".into(),
            self.supersedes.as_ref().map_or(Value::Null, |i| Value::Array(i.iter().cloned().map(Value::String).collect())),
        );
        m.insert("tags".into(), self.tags.clone().map_or(Value::Null, Value::String));
        m.insert("expires_at".into(), self.expires_at.map_or(Value::Null, Value::from));
        Value::Object(m)
    }
}

/// The dedupe key of a row (see [`Record::dedupe_key`]); ingest records it in the artifact's
/// state, and serve compares it with the row it found, so a cached answer is used only while it is
/// the latest confirmed write.
pub fn dedupe_key_of(content_hash: &str, visibility: &str, deleted: bool, owner_org: &str, owner_user: &str) -> String {
    crate::key::compose(&[content_hash, visibility, if deleted { "1" } else { "0" }, owner_org, owner_user])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stamp(mode: Mode) -> Stamp<'static> {
        Stamp { mode, now_micros: 1_000_000, org: "acme", user: "alice", default_visibility: Visibility::Org }
    }

    fn ok(v: Value) -> Record {
        Record::from_client(v, &stamp(Mode::Build)).unwrap()
    }

    fn err(v: Value, mode: Mode) -> RecordError {
        Record::from_client(v, &stamp(mode)).unwrap_err()
    }

    #[test]
    fn completes_a_minimal_record() {
        let r = ok(json!({"ns": "docs", "type": "guide", "id": "getting-started_v1.2", "markdown": "# Hi"}));
        assert_eq!(r.ts, 1_000_000);
        assert_eq!(r.visibility, Visibility::Org);
        assert_eq!((r.owner_org.as_str(), r.owner_user.as_str()), ("acme", "alice"));
        assert_eq!(r.size_bytes, 4);
        assert_eq!(r.content_hash.len(), 64);
        let j = r.to_json();
        assert_eq!(j["markdown"], "# Hi");
        assert_eq!(j["html"], Value::Null);
        assert_eq!(j["deleted"], false);
        assert_eq!(j.as_object().unwrap().len(), COLUMNS.len());
    }

    #[test]
    fn json_fields_are_stored_as_json_text() {
        let r = ok(json!({"ns": "a", "type": "b", "id": "c", "mdast": {"type": "root", "children": []}}));
        assert_eq!(r.to_json()["mdast"], r#"{"children":[],"type":"root"}"#);
    }

    #[test]
    fn empty_string_is_content_but_null_is_absent() {
        let r = ok(json!({"ns": "a", "type": "b", "id": "c", "markdown": "", "html": null}));
        assert_eq!(r.content, vec![("markdown", String::new())]);
        assert_ne!(r.content_hash, content_hash(&[]));
    }

    #[test]
    fn hash_depends_on_field_names_and_boundaries() {
        let a = content_hash(&[("markdown", "ab".into()), ("html", "c".into())]);
        let b = content_hash(&[("markdown", "a".into()), ("html", "bc".into())]);
        let c = content_hash(&[("mdx", "ab".into()), ("html", "c".into())]);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rejects_each_bad_field_with_its_name() {
        let base = || json!({"ns": "a", "type": "b", "id": "c", "markdown": "x"});
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!([1]), "", "a record must be a JSON object"),
            (json!({"type": "b", "id": "c", "markdown": "x"}), "ns", "is required"),
            (json!({"ns": "", "type": "b", "id": "c", "markdown": "x"}), "ns", "must not be empty"),
            (json!({"ns": "..", "type": "b", "id": "c", "markdown": "x"}), "ns", "must not be . or .."),
            (json!({"ns": "a/b", "type": "b", "id": "c", "markdown": "x"}), "ns", "may only contain letters, digits and - _ . @ +"),
            (json!({"ns": "a", "type": "b", "id": "x".repeat(257), "markdown": "x"}), "id", "is too long"),
            (json!({"ns": "a", "type": 7, "id": "c", "markdown": "x"}), "type", "must be a string"),
            (json!({"ns": "a", "type": "b", "id": "c"}), "", "a record needs at least one content field (or deleted: true)"),
            (json!({"ns": "a", "type": "b", "id": "c", "markdown": 1}), "markdown", "must be a string"),
            (json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "colour": 1}), "colour", "is not a field of the record"),
            (
                json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "owner_org": "evil"}),
                "owner_org",
                "is set by ingest and may not be sent",
            ),
            (
                json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "content_hash": "0"}),
                "content_hash",
                "is set by ingest and may not be sent",
            ),
            (
                json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "visibility": "world"}),
                "visibility",
                "must be public, unlisted, org or user",
            ),
            (json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "ts": 5}), "ts", "is stamped by ingest; only bulk mode accepts it"),
            (json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "deleted": "yes"}), "deleted", "must be a boolean"),
            (json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "inputs": ["a/b"]}), "inputs", "must be ns/type/id"),
            (
                json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "inputs": "a/b/c"}),
                "inputs",
                "must be a list of ns/type/id strings",
            ),
        ];
        assert!(!ok(base()).deleted);
        for (v, field, reason) in cases {
            let e = err(v.clone(), Mode::Build);
            assert_eq!(e.reason, reason, "{v}");
            assert_eq!(e.field.as_deref().unwrap_or(""), field, "{v}");
        }
    }

    #[test]
    fn bulk_accepts_client_ts() {
        // Now is 2026: a client ts must not be ahead of it (see the next test).
        let s = Stamp { now_micros: 1_780_000_000_000_000, ..stamp(Mode::Bulk) };
        let r = Record::from_client(json!({"ns": "a", "type": "b", "id": "c", "css": "x", "ts": "2020-01-01T00:00:00Z"}), &s).unwrap();
        assert_eq!(r.ts, 1_577_836_800_000_000);
        let r = Record::from_client(json!({"ns": "a", "type": "b", "id": "c", "css": "x", "ts": 42}), &s).unwrap();
        assert_eq!(r.ts, 42);
        assert_eq!(
            err(json!({"ns": "a", "type": "b", "id": "c", "css": "x", "ts": "yesterday"}), Mode::Bulk).reason,
            "must be RFC 3339 or integer microseconds"
        );
    }

    /// Regression (security issue 12, item 10): bulk accepted `ts: "9999-12-31…"`, which pinned
    /// the row as the newest version of its key for ever.
    #[test]
    fn bulk_ts_past_clock_skew_is_rejected() {
        let s = stamp(Mode::Bulk);
        let at = |ts: Value| Record::from_client(json!({"ns": "a", "type": "b", "id": "c", "css": "x", "ts": ts}), &s);
        let edge = s.now_micros + MAX_TS_SKEW_MICROS;
        assert_eq!(at(json!(edge)).unwrap().ts, edge, "exactly the skew is allowed");
        for late in [json!(edge + 1), json!("9999-12-31T23:59:59Z"), json!(i64::MAX)] {
            let e = at(late.clone()).unwrap_err();
            assert_eq!((e.field.as_deref(), e.reason), (Some("ts"), "is more than 5 minutes ahead of ingest's clock"), "{late}");
        }
        assert_eq!(MAX_TS_SKEW_MICROS, 300_000_000, "the reason text says 5 minutes");
        // The past stays open (imports of history), and the bound follows the stamp's clock.
        assert_eq!(at(json!("1970-01-01T00:00:00Z")).unwrap().ts, 0);
        let later = Stamp { now_micros: i64::MAX, ..s.clone() };
        assert!(Record::from_client(json!({"ns": "a", "type": "b", "id": "c", "css": "x", "ts": i64::MAX}), &later).is_ok());
    }

    /// Contract v2: nested ids, `supersedes`, `tags`, `expires_at`, each refused with its field.
    #[test]
    fn contract_v2_fields() {
        let base = || json!({"ns": "docs", "type": "guide", "id": "install/linux", "markdown": "x"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let r = ok(base());
        assert_eq!(r.key(), "docs/guide/install/linux");
        assert_eq!(r.content_hash, content_hash(&r.content), "no metadata: hashed as in contract v1");
        for (id, reason) in [
            ("a//b", "must not be empty"),
            ("a/", "must not be empty"),
            ("/a", "must not be empty"),
            ("a/../b", "must not be . or .."),
            ("a/./b", "must not be . or .."),
            ("a/b c", "may only contain letters, digits and - _ . @ +"),
        ] {
            assert_eq!(err(with("id", json!(id)), Mode::Build), RecordError::at("id", reason), "{id}");
        }
        assert_eq!(err(with("id", json!("a/".repeat(128) + "b")), Mode::Build), RecordError::at("id", "is too long"));
        assert!(Record::from_client(with("id", json!("a/".repeat(127) + "bc")), &stamp(Mode::Build)).is_ok(), "256 bytes fit");

        let r = ok(with("supersedes", json!(["docs/guide/install/old", "docs/guide/intro"])));
        assert_eq!(r.to_json()["supersedes"], json!(["docs/guide/install/old", "docs/guide/intro"]));
        assert_eq!(err(with("supersedes", json!(["docs/guide"])), Mode::Build), RecordError::at("supersedes", "must be ns/type/id"));
        assert_eq!(err(with("supersedes", json!(["d/g/a/../b"])), Mode::Build), RecordError::at("supersedes", "must not be . or .."));
        assert_eq!(
            err(with("supersedes", json!("d/g/a")), Mode::Build),
            RecordError::at("supersedes", "must be a list of ns/type/id strings")
        );
        assert_eq!(
            err(with("supersedes", Value::from(vec!["d/g/a"; 257])), Mode::Build),
            RecordError::at("supersedes", "has too many entries")
        );
        assert!(ok(with("inputs", json!(["d/g/a/b/c"]))).inputs.is_some(), "inputs take nested ids too");

        let r = ok(with("tags", json!({"team": "docs", "env:stage": "prod"})));
        assert_eq!(r.tags.as_deref(), Some(r#"{"env:stage":"prod","team":"docs"}"#), "canonical: keys sorted");
        assert_eq!(r.to_json()["tags"], r#"{"env:stage":"prod","team":"docs"}"#);
        let tag_cases: Vec<(Value, &str)> = vec![
            (json!(["a"]), "must be an object of string values"),
            (json!({"": "x"}), "keys must be 1 to 64 letters, digits or - _ . : /"),
            (json!({"k".repeat(65): "x"}), "keys must be 1 to 64 letters, digits or - _ . : /"),
            (json!({"a b": "x"}), "keys must be 1 to 64 letters, digits or - _ . : /"),
            (json!({"a": 1}), "values must be strings of at most 256 bytes, no control characters"),
            (json!({"a": "v".repeat(257)}), "values must be strings of at most 256 bytes, no control characters"),
            (json!({"a": "line\nbreak"}), "values must be strings of at most 256 bytes, no control characters"),
            (Value::Object((0..33).map(|i| (alloc::format!("k{i}"), json!("v"))).collect()), "has more than 32 tags"),
        ];
        for (tags, reason) in tag_cases {
            assert_eq!(err(with("tags", tags.clone()), Mode::Build), RecordError::at("tags", reason), "{tags}");
        }

        let r = ok(with("expires_at", json!("2030-01-01T00:00:00Z")));
        assert_eq!(r.expires_at, Some(1_893_456_000_000_000));
        assert_eq!(r.to_json()["expires_at"], json!(1_893_456_000_000_000i64));
        assert_eq!(err(with("expires_at", json!(1_000_000)), Mode::Build), RecordError::at("expires_at", "must be after ts"));
        assert_eq!(
            err(with("expires_at", json!("soon")), Mode::Build),
            RecordError::at("expires_at", "must be RFC 3339 or integer microseconds")
        );

        // Metadata is part of the version: a change to it alone is never deduped away.
        let plain = ok(base());
        let keys: Vec<String> = [
            with("tags", json!({"a": "1"})),
            with("tags", json!({"a": "2"})),
            with("supersedes", json!(["d/g/x"])),
            with("inputs", json!(["d/g/x"])),
            with("expires_at", json!("2030-01-01T00:00:00Z")),
        ]
        .into_iter()
        .map(|v| ok(v).dedupe_key())
        .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_ne!(*k, plain.dedupe_key());
            assert!(keys.iter().skip(i + 1).all(|o| o != k));
        }
        assert_eq!(plain.size_bytes, ok(with("tags", json!({"a": "1"}))).size_bytes, "metadata is not content");
    }

    #[test]
    fn tombstone_and_dedupe_key() {
        let t = Record::tombstone("a", "b", "c", &stamp(Mode::Build)).unwrap();
        assert!(t.deleted);
        assert!(t.content.is_empty());
        let r = ok(json!({"ns": "a", "type": "b", "id": "c", "markdown": "x"}));
        let p = ok(json!({"ns": "a", "type": "b", "id": "c", "markdown": "x", "visibility": "public"}));
        assert_eq!(r.content_hash, p.content_hash);
        assert_ne!(r.dedupe_key(), p.dedupe_key());
        // Regression: the same content written by another user or org was deduped, keeping the
        // first owner's row and telling the second writer what the first one had stored.
        let v = json!({"ns": "a", "type": "b", "id": "c", "markdown": "x"});
        let owned = |org: &'static str, user: &'static str| {
            Record::from_client(v.clone(), &Stamp { org, user, ..stamp(Mode::Build) }).unwrap().dedupe_key()
        };
        assert_eq!(owned("acme", "alice"), r.dedupe_key());
        assert_ne!(owned("acme", "bob"), r.dedupe_key());
        assert_ne!(owned("globex", "alice"), r.dedupe_key());
        assert_ne!(owned("a:b", "c"), owned("a", "b:c"), "the owner part is unambiguous");
    }

    #[test]
    fn field_ids_are_unique_and_segments_allow_documented_charset() {
        let mut ids: Vec<i32> = COLUMNS.iter().map(|c| c.field_id).collect();
        ids.push(22);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), COLUMNS.len() + 1);
        assert_eq!(*ids.last().unwrap(), LAST_FIELD_ID);
        assert!(check_segment("team@acme.dev+x_y-Z9", MAX_NS_BYTES).is_ok());
        assert!(check_segment("héllo", MAX_NS_BYTES).is_err());
        assert!(check_segment("a b", MAX_NS_BYTES).is_err());
    }

    #[test]
    fn mode_parsing() {
        assert_eq!(Mode::parse(None), Some(Mode::Build));
        assert_eq!(Mode::parse(Some("bulk")), Some(Mode::Bulk));
        assert_eq!(Mode::parse(Some("BULK")), None);
    }
}
