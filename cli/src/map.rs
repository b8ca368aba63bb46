//! Files → records: which field a file fills (serve's extension table, `shared::content`), which
//! id its relative path names (the record contract's path rules, `shared::record`), `--slugify`,
//! and a directory walk grouped into records (files sharing an id become one record).

use shared::content::{Representation, EXTENSIONS};
use shared::record::{check_id, check_segment, MAX_ID_BYTES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a file's content goes into its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A text column (`markdown`, `html`, …): the file must be UTF-8.
    Text,
    /// A JSON-text column (`mdast`, …): the file must parse as JSON; it is sent as a JSON value.
    Json,
}

/// What one file maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The record id: the relative path without the extension, `/`-separated.
    pub id: String,
    /// The record field the content fills.
    pub field: &'static str,
    /// How the content is carried.
    pub kind: Kind,
}

/// Why a file is not mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmapped {
    /// No known extension (`logo.png`, `.DS_Store`, a bare `x.json`): listed and skipped, or
    /// refused with `--strict`.
    NoField,
    /// The path is not a valid id (a character outside the path-safe set, a `.`/`..` segment, too
    /// long); the reason says which rule. Refused unless `--slugify` can map it.
    NotPathSafe(String),
}

/// The field and kind of a file name, by the longest known suffix (`x.mdast.json` is mdast, not
/// JSON; `x.d.ts` is dts), and the name without it. A bare `.json` is the whole-record
/// representation on the read side, not a field, so it maps to nothing.
pub fn field_of(name: &str) -> Option<(&str, &'static str, Kind)> {
    EXTENSIONS.iter().find_map(|(ext, rep)| {
        let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
        if stem.is_empty() {
            return None;
        }
        match rep {
            Representation::Text { column, .. } => Some((stem, *column, Kind::Text)),
            Representation::Json { column } => Some((stem, *column, Kind::Json)),
            Representation::Record => None,
        }
    })
}

/// Maps a relative path (`/`-separated) to its record id and field. With `slugify`, each
/// segment is made path-safe first ([`slugify_segment`]).
pub fn map_path(rel: &str, slugify: bool) -> Result<Mapped, Unmapped> {
    let (dir, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, rel),
    };
    let Some((stem, field, kind)) = field_of(name) else { return Err(Unmapped::NoField) };
    let mut segments: Vec<String> = dir.map(|d| d.split('/').map(String::from).collect()).unwrap_or_default();
    segments.push(stem.to_string());
    if slugify {
        segments = segments.iter().map(|s| slugify_segment(s)).collect();
    }
    let id = segments.join("/");
    if let Err(reason) = check_id(&id) {
        return Err(Unmapped::NotPathSafe(format!("id `{id}` {reason}")));
    }
    Ok(Mapped { id, field, kind })
}

/// One path segment made path-safe: ASCII letters and digits and `-` `_` `.` `@` `+` are kept,
/// every run of anything else becomes one `-`, `-` is trimmed from both ends; a segment left
/// empty, `.` or `..` becomes `_`. Case is kept (`a.md` and `A.md` stay different ids).
pub fn slugify_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut dash = false;
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+') {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return "_".into();
    }
    let mut s = trimmed.to_string();
    s.truncate(MAX_ID_BYTES);
    s
}

/// One file of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The record field.
    pub field: &'static str,
    /// How the content is carried.
    pub kind: Kind,
    /// The file, as found.
    pub path: PathBuf,
    /// The file relative to the pushed directory, for messages.
    pub rel: String,
    /// Its size in bytes when walked (for progress).
    pub bytes: u64,
}

/// One record to push: an id and the files that fill its fields (in field order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The record id.
    pub id: String,
    /// Its files, one per field.
    pub parts: Vec<Part>,
}

impl Planned {
    /// The files of this record, for messages: `a.md, a.html`.
    pub fn files(&self) -> String {
        self.parts.iter().map(|p| p.rel.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// The outcome of walking a directory.
#[derive(Debug, Default)]
pub struct Walk {
    /// Records in id order.
    pub records: Vec<Planned>,
    /// Files with no field, relative paths (skipped, or refused with `--strict`).
    pub skipped: Vec<String>,
    /// Files refused: relative path and reason (not path-safe, two files for one field).
    pub refused: Vec<(String, String)>,
}

/// Groups mapped files (relative path, mapping, path, size) into records: files sharing an id
/// become one record; two files for the same field of one id are both refused.
pub fn group(files: Vec<(String, Mapped, PathBuf, u64)>) -> (Vec<Planned>, Vec<(String, String)>) {
    let mut by_id: BTreeMap<String, Vec<Part>> = BTreeMap::new();
    for (rel, m, path, bytes) in files {
        by_id.entry(m.id).or_default().push(Part { field: m.field, kind: m.kind, path, rel, bytes });
    }
    let mut records = Vec::new();
    let mut refused = Vec::new();
    for (id, mut parts) in by_id {
        parts.sort_by(|a, b| field_rank(a.field).cmp(&field_rank(b.field)).then_with(|| a.rel.cmp(&b.rel)));
        let mut clash = false;
        for pair in parts.windows(2) {
            if let [a, b] = pair {
                if a.field == b.field {
                    clash = true;
                    refused.push((b.rel.clone(), format!("fills field `{}` of id `{id}` as `{}` does", b.field, a.rel)));
                }
            }
        }
        if !clash {
            records.push(Planned { id, parts });
        }
    }
    (records, refused)
}

/// The field's place in the record contract (field-id order), for a stable record layout.
fn field_rank(field: &str) -> usize {
    shared::record::COLUMNS.iter().position(|c| c.name == field).unwrap_or(usize::MAX)
}

/// Walks `root` (sorted by name, symbolic links not followed) and maps every file.
/// `exclude` (the checkpoint file) is never pushed.
pub fn walk(root: &Path, slugify: bool, exclude: Option<&Path>) -> std::io::Result<Walk> {
    let mut out = Walk::default();
    let mut files = Vec::new();
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        if exclude.is_some() && path.canonicalize().ok() == exclude {
            continue;
        }
        let rel_path = path.strip_prefix(root).unwrap_or(path);
        let rel = rel_path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
        // A name that is not UTF-8 cannot be an id; with --slugify the lossy name is slugified.
        let not_utf8 = rel_path.to_str().is_none();
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        match map_path(&rel, slugify) {
            Ok(m) if not_utf8 && !slugify => out.refused.push((rel, format!("name is not UTF-8 (id `{}`)", m.id))),
            Ok(m) => files.push((rel, m, path.to_path_buf(), bytes)),
            Err(Unmapped::NoField) => out.skipped.push(rel),
            Err(Unmapped::NotPathSafe(reason)) => out.refused.push((rel, reason)),
        }
    }
    let (records, clashes) = group(files);
    out.records = records;
    out.refused.extend(clashes);
    Ok(out)
}

/// Checks `--ns` / `--type` against the contract.
pub fn check_target(ns: &str, ty: &str) -> Result<(), String> {
    check_segment(ns, shared::record::MAX_NS_BYTES).map_err(|e| format!("--ns `{ns}` {e}"))?;
    check_segment(ty, shared::record::MAX_TYPE_BYTES).map_err(|e| format!("--type `{ty}` {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(rel: &str) -> (String, &'static str) {
        let m = map_path(rel, false).unwrap();
        (m.id, m.field)
    }

    #[test]
    fn fields_from_extensions() {
        assert_eq!(mapped("guide/install/linux.md"), ("guide/install/linux".into(), "markdown"));
        assert_eq!(mapped("a.mdx"), ("a".into(), "mdx"));
        assert_eq!(mapped("a.html"), ("a".into(), "html"));
        assert_eq!(mapped("lib/x.js"), ("lib/x".into(), "esm"));
        assert_eq!(mapped("lib/x.mjs"), ("lib/x".into(), "esm"));
        assert_eq!(mapped("lib/x.d.ts"), ("lib/x".into(), "dts"));
        assert_eq!(mapped("s.css"), ("s".into(), "css"));
        assert_eq!(mapped("p.mdast.json"), ("p".into(), "mdast"));
        assert_eq!(mapped("p.hast.json"), ("p".into(), "hast"));
        assert_eq!(mapped("p.estree.json"), ("p".into(), "estree"));
        assert_eq!(mapped("p.frontmatter.json"), ("p".into(), "frontmatter"));
        assert_eq!(map_path("p.mdast.json", false).unwrap().kind, Kind::Json);
        assert_eq!(map_path("p.md", false).unwrap().kind, Kind::Text);
        // Dots stay in the id: the longest known suffix is the extension.
        assert_eq!(mapped("getting-started_v1.2.md"), ("getting-started_v1.2".into(), "markdown"));
    }

    #[test]
    fn files_without_a_field() {
        for rel in ["logo.png", "x.json", ".DS_Store", "README", "a/.md", "x.ts", "x.htm"] {
            assert_eq!(map_path(rel, false), Err(Unmapped::NoField), "{rel}");
        }
    }

    #[test]
    fn names_that_are_not_path_safe() {
        for rel in ["my file.md", "a/b c/x.md", "ü.md", "a/../b.md", "./x.md", "q?.md"] {
            assert!(matches!(map_path(rel, false), Err(Unmapped::NotPathSafe(_))), "{rel}");
        }
        let Err(Unmapped::NotPathSafe(reason)) = map_path("my file.md", false) else { panic!() };
        assert_eq!(reason, "id `my file` may only contain letters, digits and - _ . @ +");
        let long = format!("{}.md", "a".repeat(257));
        assert!(matches!(map_path(&long, false), Err(Unmapped::NotPathSafe(_))));
    }

    #[test]
    fn slugify_maps_what_it_can() {
        assert_eq!(slugify_segment("my file"), "my-file");
        assert_eq!(slugify_segment("Grüße & more!"), "Gr-e-more");
        assert_eq!(slugify_segment("  spaced  "), "spaced");
        assert_eq!(slugify_segment("ok-name_1.2@x+y"), "ok-name_1.2@x+y");
        assert_eq!(slugify_segment("日本語"), "_");
        assert_eq!(slugify_segment(".."), "..".replace("..", "_"));
        assert_eq!(map_path("a b/c d.md", true).unwrap().id, "a-b/c-d");
        assert_eq!(map_path("ü.md", true).unwrap().id, "_");
        // Already path-safe names are unchanged.
        assert_eq!(map_path("guide/x.md", true).unwrap().id, "guide/x");
    }

    #[test]
    fn files_sharing_an_id_are_one_record() {
        let f = |rel: &str| {
            let m = map_path(rel, true).unwrap();
            (rel.to_string(), m, PathBuf::from(rel), 1)
        };
        let (records, refused) = group(vec![f("a.md"), f("a.html"), f("b.md"), f("c.js"), f("c.mjs"), f("x y.md"), f("x-y.md")]);
        let shape: Vec<(String, Vec<&str>)> = records.iter().map(|r| (r.id.clone(), r.parts.iter().map(|p| p.field).collect())).collect();
        assert_eq!(shape, vec![("a".into(), vec!["markdown", "html"]), ("b".into(), vec!["markdown"])]);
        assert_eq!(records.first().unwrap().files(), "a.md, a.html");
        let refused: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(refused, vec!["c.mjs", "x-y.md"]);
    }

    #[test]
    fn targets_follow_the_contract() {
        assert!(check_target("docs", "guide").is_ok());
        assert_eq!(check_target("my docs", "guide"), Err("--ns `my docs` may only contain letters, digits and - _ . @ +".into()));
        assert!(check_target("docs", "").is_err());
    }
}
