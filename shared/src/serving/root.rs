//! The sidecar root of the serving table, `metadata/vN.serving.json`: the sources and their
//! watermarks, every live data file with its level, key range, page-index offset and (L0) bloom
//! filter, the merge cursor, and (split tables) the key range it holds. Written create-only before
//! `vN.metadata.json`; the pointer (`version-hint.text`) names N for both. A lookup reads it to know which files may hold a key
//! ([`Root::candidates`]) without reading the Iceberg metadata or manifests.
//!
//! Keys (`min`, `max`, `merged_through`, `merge_cursor`) are JSON strings: they contain `\u0000`
//! and are UTF-8 since `ns`, `type` and `id` are. Bloom filters are unpadded base64url of
//! [`Bloom::to_bytes`]. Parsing is strict: a malformed root is an error, never a default.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::bloom::Bloom;
use super::split::KeyRange;

/// The root's `format`.
pub const FORMAT: u32 = 1;

/// How a root is named, relative to the table root: `metadata/v{N}.serving.json` ([`root_name`]).
pub const ROOT_NAME: &str = "metadata/v{N}.serving.json";

/// The suffix of a root's file name.
pub const ROOT_SUFFIX: &str = ".serving.json";

/// `metadata/v{version}.serving.json`.
pub fn root_name(version: u64) -> String {
    format!("metadata/v{version}{ROOT_SUFFIX}")
}

/// The bucket key of version `version`'s root under the table root `table` (`serving/artifacts`).
pub fn root_key(table: &str, version: u64) -> String {
    format!("{}/{}", table.trim_end_matches('/'), root_name(version))
}

/// The version a root's key or name names (`…/metadata/v7.serving.json` → 7).
pub fn root_version(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    let digits = name.strip_prefix('v')?.strip_suffix(ROOT_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One source table and its watermark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// The table root as serve configures it (`artifacts/preview`).
    pub id: String,
    /// The source's metadata file the watermark was read from.
    pub metadata: Option<String>,
    /// The last source snapshot absorbed (null: none yet).
    pub snapshot_id: Option<i64>,
    /// Its sequence number.
    pub sequence_number: Option<i64>,
    /// The mode the table serves (`preview`, `build`, `bulk`), when it is one of the stand-in's.
    pub mode: Option<String>,
    /// Why the compactor stopped for this source (the watermark stays where it was).
    pub error: Option<String>,
    /// Set when the compactor may have missed part of this source's history (its watermark
    /// snapshot was expired before it was followed: it resumed from the oldest snapshot still
    /// there): why. Kept until a rebuild reads the source whole again. Absent in older roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
}

/// One live data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Bucket key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// 0 (a sorted run of one compactor run) or 1 (non-overlapping ranges).
    pub level: u8,
    /// Rows.
    pub rows: u64,
    /// Least key.
    pub min: Vec<u8>,
    /// Greatest key.
    pub max: Vec<u8>,
    /// Where the page indexes start: `[index_offset, size)` is the page index and the footer.
    pub index_offset: u64,
    /// L0: the exclusive end of the range already merged into L1 (every key below it is in
    /// L1); the file's unmerged range is `[merged_through, max]`. `None`: nothing merged.
    pub merged_through: Option<Vec<u8>>,
    /// L0: the bloom filter of its keys ([`Bloom::to_bytes`]).
    pub bloom: Option<Vec<u8>>,
}

impl FileEntry {
    /// Whether `[min, max]` holds `key`.
    pub fn holds(&self, key: &[u8]) -> bool {
        self.min.as_slice() <= key && key <= self.max.as_slice()
    }

    /// Whether `key` is in the file's unmerged range (always, for an L1 file).
    pub fn unmerged(&self, key: &[u8]) -> bool {
        self.holds(key) && self.merged_through.as_deref().is_none_or(|m| key >= m)
    }

    /// Whether the bloom filter admits `key` (no filter: yes).
    pub fn admits(&self, key: &[u8]) -> bool {
        self.bloom.as_deref().is_none_or(|b| super::bloom::bytes_may_contain(b, key))
    }
}

/// The root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// [`FORMAT`].
    pub format: u32,
    /// N of `vN.serving.json` and `vN.metadata.json`.
    pub version: u64,
    /// The serving table's `vN.metadata.json` (bucket key).
    pub metadata: String,
    /// The sources, in serve's configured order (`_source` indexes them).
    pub sources: Vec<SourceState>,
    /// Every live data file.
    pub files: Vec<FileEntry>,
    /// Where the next merge step starts (`None`: at the beginning).
    pub merge_cursor: Option<Vec<u8>>,
    /// The key range this table holds when the serving table is split (`SERVING_SPLITS`,
    /// [`super::split`]); `None`: unsplit, every key. Written only when set, so an unsplit root
    /// has the same shape as before splitting existed.
    pub range: Option<KeyRange>,
}

#[derive(Serialize, Deserialize)]
struct WireRoot {
    format: u32,
    version: u64,
    metadata: String,
    sources: Vec<SourceState>,
    files: Vec<WireFile>,
    merge_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<WireRange>,
}

/// `{"lo": key or null, "hi": key or null}`: `[lo, hi)`.
#[derive(Serialize, Deserialize)]
struct WireRange {
    lo: Option<String>,
    hi: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireFile {
    key: String,
    size: u64,
    level: u8,
    rows: u64,
    min: String,
    max: String,
    index_offset: u64,
    merged_through: Option<String>,
    bloom: Option<String>,
}

/// A key as JSON text (keys are built from `&str` parts, so this is lossless for them).
fn key_text(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

fn b64(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(4) / 3 + 3);
    crate::token::b64_encode_into(bytes, &mut s);
    s
}

impl Root {
    /// Version 0 of a table with these sources: no files, no watermarks.
    pub fn empty(metadata: String, sources: Vec<SourceState>) -> Root {
        Root { format: FORMAT, version: 0, metadata, sources, files: Vec::new(), merge_cursor: None, range: None }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        let wire = WireRoot {
            format: self.format,
            version: self.version,
            metadata: self.metadata.clone(),
            sources: self.sources.clone(),
            files: self
                .files
                .iter()
                .map(|f| WireFile {
                    key: f.key.clone(),
                    size: f.size,
                    level: f.level,
                    rows: f.rows,
                    min: key_text(&f.min),
                    max: key_text(&f.max),
                    index_offset: f.index_offset,
                    merged_through: f.merged_through.as_deref().map(key_text),
                    bloom: f.bloom.as_deref().map(b64),
                })
                .collect(),
            merge_cursor: self.merge_cursor.as_deref().map(key_text),
            range: self.range.as_ref().map(|r| WireRange { lo: r.lo.as_deref().map(key_text), hi: r.hi.as_deref().map(key_text) }),
        };
        // Serializing these structs to a string cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses and checks a root: the JSON shape, `format` 1, levels 0 or 1, `min <= max <
    /// size`-consistent entries, L1 ranges that do not overlap, blooms that decode, unique keys.
    pub fn parse(bytes: &[u8]) -> Result<Root, String> {
        let w: WireRoot = serde_json::from_slice(bytes).map_err(|e| format!("not a serving root: {e}"))?;
        if w.format != FORMAT {
            return Err(format!("unsupported serving root format {}", w.format));
        }
        let mut files = Vec::with_capacity(w.files.len());
        for f in w.files {
            let bloom = match f.bloom {
                None => None,
                Some(text) => {
                    let bytes = crate::token::b64_decode(&text).ok_or_else(|| format!("file {}: bloom is not base64url", f.key))?;
                    Bloom::from_bytes(&bytes).ok_or_else(|| format!("file {}: bloom is not whole blocks", f.key))?;
                    Some(bytes)
                }
            };
            if f.level > 1 {
                return Err(format!("file {}: level {} (0 or 1)", f.key, f.level));
            }
            if f.min > f.max {
                return Err(format!("file {}: min > max", f.key));
            }
            if f.index_offset > f.size {
                return Err(format!("file {}: index_offset past its size", f.key));
            }
            if f.level == 1 && (f.merged_through.is_some() || bloom.is_some()) {
                return Err(format!("file {}: an L1 file has no merged_through or bloom", f.key));
            }
            files.push(FileEntry {
                key: f.key,
                size: f.size,
                level: f.level,
                rows: f.rows,
                min: f.min.into_bytes(),
                max: f.max.into_bytes(),
                index_offset: f.index_offset,
                merged_through: f.merged_through.map(String::into_bytes),
                bloom,
            });
        }
        let mut keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(String::from("a file is listed twice"));
        }
        let mut l1: Vec<&FileEntry> = files.iter().filter(|f| f.level == 1).collect();
        l1.sort_by(|a, b| a.min.cmp(&b.min));
        if l1.windows(2).any(|w| matches!(w, [a, b] if a.max >= b.min)) {
            return Err(String::from("L1 files overlap"));
        }
        let range = w.range.map(|r| KeyRange { lo: r.lo.map(String::into_bytes), hi: r.hi.map(String::into_bytes) });
        if let Some(KeyRange { lo: Some(lo), hi: Some(hi) }) = &range {
            if lo >= hi {
                return Err(String::from("range: lo is not below hi"));
            }
        }
        Ok(Root {
            format: w.format,
            version: w.version,
            metadata: w.metadata,
            sources: w.sources,
            files,
            merge_cursor: w.merge_cursor.map(String::into_bytes),
            range,
        })
    }

    /// The files that may hold `key`: the L1 file whose `[min, max]` holds it, and each L0 file
    /// whose unmerged range `[merged_through, max]` holds it and whose bloom filter admits it.
    /// L1 first, then L0 in root order.
    pub fn candidates(&self, key: &[u8]) -> Vec<&FileEntry> {
        let l1 = self.files.iter().filter(|f| f.level == 1 && f.holds(key));
        let l0 = self.files.iter().filter(|f| f.level == 0 && f.unmerged(key) && f.admits(key));
        l1.chain(l0).collect()
    }

    /// The L1 files, by key range.
    pub fn l1(&self) -> Vec<&FileEntry> {
        let mut l1: Vec<&FileEntry> = self.files.iter().filter(|f| f.level == 1).collect();
        l1.sort_by(|a, b| a.min.cmp(&b.min));
        l1
    }

    /// The L0 files, in root order (oldest run first).
    pub fn l0(&self) -> Vec<&FileEntry> {
        self.files.iter().filter(|f| f.level == 0).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::serving::key::key;
    use alloc::string::ToString;
    use alloc::vec;

    fn file(name: &str, level: u8, min: &str, max: &str) -> FileEntry {
        FileEntry {
            key: name.to_string(),
            size: 1000,
            level,
            rows: 10,
            min: key("n", "t", min),
            max: key("n", "t", max),
            index_offset: 900,
            merged_through: None,
            bloom: None,
        }
    }

    fn sample() -> Root {
        let mut l0 = file("serving/artifacts/data/L0-2-0.parquet", 0, "b", "y");
        l0.bloom = Some(Bloom::from_keys([key("n", "t", "b"), key("n", "t", "y")].iter().map(Vec::as_slice)).to_bytes());
        l0.merged_through = Some(key("n", "t", "c"));
        Root {
            format: 1,
            version: 7,
            metadata: "serving/artifacts/metadata/v7.metadata.json".into(),
            sources: vec![SourceState {
                id: "artifacts/preview".into(),
                metadata: Some("artifacts/preview/metadata/v12.metadata.json".into()),
                snapshot_id: Some(123),
                sequence_number: Some(12),
                mode: Some("preview".into()),
                error: None,
                gap: None,
            }],
            files: vec![
                file("serving/artifacts/data/L1-1-0.parquet", 1, "a", "m"),
                file("serving/artifacts/data/L1-1-1.parquet", 1, "n", "z"),
                l0,
            ],
            merge_cursor: Some(key("n", "t", "n")),
            range: None,
        }
    }

    #[test]
    fn round_trips_and_keys_are_json_strings() {
        let r = sample();
        let json = r.to_json();
        assert!(json.contains(r#""min":"n\u0000t\u0000a""#), "{json}");
        assert_eq!(Root::parse(json.as_bytes()), Ok(r));
        let e = Root::empty("m".into(), vec![]);
        assert_eq!(Root::parse(e.to_json().as_bytes()), Ok(e));
    }

    #[test]
    fn a_range_is_written_only_when_set() {
        let r = sample();
        assert!(!r.to_json().contains("range"), "unsplit roots keep their shape");
        for range in [
            KeyRange { lo: None, hi: Some(key("n", "t", "m")) },
            KeyRange { lo: Some(b"n".to_vec()), hi: None },
            KeyRange { lo: Some(b"a".to_vec()), hi: Some(b"n\0t".to_vec()) },
        ] {
            let split = Root { range: Some(range), ..sample() };
            let json = split.to_json();
            assert!(json.contains(r#""range":{"lo":"#), "{json}");
            assert_eq!(Root::parse(json.as_bytes()), Ok(split));
        }
        let bad = Root { range: Some(KeyRange { lo: Some(b"b".to_vec()), hi: Some(b"a".to_vec()) }), ..sample() };
        assert!(Root::parse(bad.to_json().as_bytes()).unwrap_err().contains("lo is not below hi"));
    }

    #[test]
    fn the_design_example_parses() {
        let text = r#"{
          "format": 1, "version": 7, "metadata": "serving/artifacts/metadata/v7.metadata.json",
          "sources": [{ "id": "artifacts/preview", "metadata": "artifacts/preview/metadata/v12.metadata.json",
            "snapshot_id": 123, "sequence_number": 12, "mode": "preview", "error": null }],
          "files": [{ "key": "serving/artifacts/data/L1-7-0.parquet", "size": 123456, "level": 1, "rows": 1000,
            "min": "a\u0000b\u0000c", "max": "a\u0000b\u0000d", "index_offset": 120000, "merged_through": null, "bloom": null }],
          "merge_cursor": null
        }"#;
        let r = Root::parse(text.as_bytes()).unwrap();
        assert_eq!(r.files[0].min, b"a\0b\0c");
    }

    #[test]
    fn malformed_roots_are_errors() {
        let good = sample().to_json();
        let cases: Vec<(String, &str)> = vec![
            (String::from("{}"), "not a serving root"),
            (String::from("[]"), "not a serving root"),
            (good.replace(r#""format":1"#, r#""format":2"#), "unsupported serving root format 2"),
            (good.replace(r#""level":1"#, r#""level":3"#), "level 3"),
            (good.replace(r#""rows":10"#, r#""rows":-1"#), "not a serving root"),
            (good.replace(r#""size":1000"#, r#""size":"1000""#), "not a serving root"),
            (good.replace(r#""index_offset":900"#, r#""index_offset":2000"#), "index_offset past its size"),
            (good.replace("L1-1-1", "L1-1-0"), "a file is listed twice"),
            (good.replace(r#""min":"n\u0000t\u0000n""#, r#""min":"n\u0000t\u0000k""#), "L1 files overlap"),
            (good.replace(r#""min":"n\u0000t\u0000a""#, r#""min":"n\u0000t\u0000zz""#), "min > max"),
        ];
        for (text, want) in cases {
            assert_ne!(text, good, "{want}: the replacement did not apply");
            let err = Root::parse(text.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
        let mut r = sample();
        r.files[2].bloom = Some(vec![0; 31]);
        assert!(Root::parse(r.to_json().as_bytes()).unwrap_err().contains("not whole blocks"));
        assert!(Root::parse(b"{\"format\":1").is_err());
    }

    #[test]
    fn candidates() {
        let r = sample();
        let names = |k: &str| -> Vec<String> {
            r.candidates(&key("n", "t", k)).iter().map(|f| f.key.rsplit('/').next().unwrap().to_string()).collect()
        };
        assert_eq!(names("a"), vec!["L1-1-0.parquet"]);
        // In the L0 file's merged range: L1 only.
        assert_eq!(names("b"), vec!["L1-1-0.parquet"]);
        // The L0 file's bloom admits y, not x (for these two keys and this filter size).
        assert_eq!(names("y"), vec!["L1-1-1.parquet", "L0-2-0.parquet"]);
        assert!(!r.files[2].admits(&key("n", "t", "x")) || names("x").len() == 2);
        assert_eq!(names("zz"), Vec::<String>::new());
        assert_eq!(names("m "), Vec::<String>::new(), "between L1 files");
    }

    #[test]
    fn names() {
        assert_eq!(root_name(7), "metadata/v7.serving.json");
        assert_eq!(root_key("serving/artifacts/", 7), "serving/artifacts/metadata/v7.serving.json");
        assert_eq!(root_version("serving/artifacts/metadata/v12.serving.json"), Some(12));
        assert_eq!(root_version("v12.metadata.json"), None);
        assert_eq!(root_version("v.serving.json"), None);
        assert_eq!(root_version("v+1.serving.json"), None);
    }
}
