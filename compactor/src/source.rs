//! Reading one source table: its current metadata, the append snapshots after the watermark and
//! every row they added, with the winner rule's `_seq` and `_pos`.

use std::collections::BTreeMap;

use shared::iceberg::manifest::{read_manifest, read_manifest_list, DataContent, EntryStatus, ManifestContent};
use shared::iceberg::table_metadata::{Operation, Snapshot, TableMetadata};
use shared::locate::{key_for, Cell, StoreError};

use crate::rows;
use crate::store::Store;

/// One source row as absorbed: the record's cells (`COLUMNS` order) and the winner rule's
/// fields beyond `ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    /// One cell per entry of `COLUMNS`.
    pub cells: Vec<Cell>,
    /// Index of the source in the root.
    pub source: u32,
    /// The data file's data sequence number.
    pub seq: i64,
    /// `rank << 40 | entry << 24 | row` (the locator's position, rank among the commit's manifests).
    pub pos: u64,
}

/// The current metadata of a table root: `(key, metadata)`, `None` when the table does not exist.
pub async fn current<S: Store>(store: &S, root: &str) -> Result<Option<(String, TableMetadata)>, String> {
    let hint_key = format!("{root}/metadata/version-hint.text");
    let key = match store.get(&hint_key, None).await {
        Ok(o) => {
            let hint = String::from_utf8_lossy(&o.bytes).trim().to_string();
            if hint.ends_with(".metadata.json") {
                format!("{root}/metadata/{hint}")
            } else if hint.parse::<u64>().is_ok() {
                format!("{root}/metadata/v{hint}.metadata.json")
            } else {
                return Err(format!("{hint_key}: neither a number nor a file name"));
            }
        }
        Err(StoreError::NotFound) => {
            let prefix = format!("{root}/metadata/");
            let keys = store.list(&prefix).await.map_err(|e| err(&prefix, e))?.unwrap_or_default();
            let newest = keys.into_iter().filter_map(|k| Some((metadata_version(k.rsplit('/').next()?)?, k))).max_by_key(|(v, _)| *v);
            match newest {
                Some((_, k)) => k,
                None => return Ok(None),
            }
        }
        Err(e) => return Err(err(&hint_key, e)),
    };
    let bytes = store.get(&key, None).await.map_err(|e| err(&key, e))?.bytes;
    let meta = TableMetadata::from_json(&bytes).map_err(|e| format!("{key}: {}", e.description()))?;
    Ok(Some((key, meta)))
}

/// `v12.metadata.json` → 12, `00005-uuid.metadata.json` → 5.
fn metadata_version(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".metadata.json")?;
    let stem = stem.strip_prefix('v').unwrap_or(stem);
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub(crate) fn err(key: &str, e: StoreError) -> String {
    match e {
        StoreError::NotFound => format!("{key} is missing"),
        StoreError::Failed(m) => format!("{key} could not be read: {m}"),
    }
}

/// The snapshots after `watermark` up to the current one, oldest first. An error when the
/// watermark is not an ancestor of the current snapshot (history rewritten or expired).
pub fn after(meta: &TableMetadata, watermark: Option<i64>) -> Result<Vec<&Snapshot>, String> {
    let mut out = Vec::new();
    let mut at = meta.current_snapshot();
    while let Some(s) = at {
        if Some(s.snapshot_id) == watermark {
            out.reverse();
            return Ok(out);
        }
        out.push(s);
        if out.len() > meta.snapshots.len() {
            return Err("the snapshot chain has a cycle".into());
        }
        at = s.parent_snapshot_id.and_then(|p| meta.snapshot_by_id(p));
    }
    match watermark {
        None => {
            out.reverse();
            Ok(out)
        }
        Some(w) => Err(format!("the watermark snapshot {w} is not an ancestor of the current snapshot (expired or rewritten)")),
    }
}

/// The key of an absolute location: without the first of `prefixes` it starts with.
pub fn key_in(location: &str, prefixes: &[String]) -> Result<String, String> {
    prefixes
        .iter()
        .find_map(|p| key_for(location, p).ok())
        .ok_or_else(|| format!("location {location} is outside every configured prefix ({})", prefixes.join(", ")))
}

/// A data file a snapshot after the watermark added, as the current snapshot's manifests list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFile {
    /// Rank of its manifest among the current list's manifests holding that snapshot's files.
    pub rank: u64,
    /// Its index among its manifest's entries.
    pub entry: u64,
    /// Its data sequence number.
    pub seq: i64,
    /// Bucket key.
    pub key: String,
    /// Rows, as its manifest entry says.
    pub record_count: i64,
}

/// The data files the snapshots after the watermark (data sequence number `after`) added, per
/// snapshot id, in manifest and entry order — read from the **current** snapshot's manifest list
/// only: one list read however many snapshots are new, and the lists of older snapshots may be
/// gone (the sink expires them; the benchmark tables keep only the current one). Manifests added
/// at or before the watermark hold nothing newer and are skipped unread. Any delete file after
/// the watermark is an error (part 1 absorbs appends only).
pub async fn added_files<S: Store>(
    store: &S,
    meta: &TableMetadata,
    after: Option<i64>,
    prefixes: &[String],
) -> Result<BTreeMap<i64, Vec<AddedFile>>, String> {
    let mut out: BTreeMap<i64, Vec<AddedFile>> = BTreeMap::new();
    let Some(current) = meta.current_snapshot() else { return Ok(out) };
    let after = after.unwrap_or(i64::MIN);
    let list_key = key_in(&current.manifest_list, prefixes)?;
    let list = store.get(&list_key, None).await.map_err(|e| err(&list_key, e))?.bytes;
    let manifests = read_manifest_list(&list).map_err(|e| format!("{list_key} is corrupt: {}", e.description()))?;
    // Per snapshot, the manifests seen so far holding its files (the rank of the next one).
    let mut ranks: BTreeMap<i64, u64> = BTreeMap::new();
    for mf in manifests.iter().filter(|m| m.sequence_number > after) {
        let key = key_in(&mf.manifest_path, prefixes)?;
        let bytes = store.get(&key, None).await.map_err(|e| err(&key, e))?.bytes;
        let manifest = read_manifest(&bytes, mf).map_err(|e| format!("{key} is corrupt: {}", e.description()))?;
        let mut seen: Vec<i64> = Vec::new();
        for (e_index, entry) in manifest.entries.iter().enumerate() {
            let seq = entry.sequence_number.unwrap_or(mf.sequence_number);
            if entry.status == EntryStatus::Deleted || seq <= after {
                continue;
            }
            if mf.content == ManifestContent::Deletes || entry.data_file.content != DataContent::Data {
                return Err(format!("snapshot {} adds delete files (not absorbed in part 1)", entry.snapshot_id));
            }
            if !seen.contains(&entry.snapshot_id) {
                seen.push(entry.snapshot_id);
            }
            let rank = ranks.get(&entry.snapshot_id).copied().unwrap_or(0);
            out.entry(entry.snapshot_id).or_default().push(AddedFile {
                rank,
                entry: e_index as u64,
                seq,
                key: key_in(&entry.data_file.file_path, prefixes)?,
                record_count: entry.data_file.record_count,
            });
        }
        for id in seen {
            *ranks.entry(id).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// Every row one append snapshot added (its `files`, from [`added_files`]), in commit order, and
/// the bytes of the data files read; all or nothing (any error: nothing).
pub async fn snapshot_rows<S: Store>(
    store: &S,
    meta: &TableMetadata,
    snap: &Snapshot,
    files: &[AddedFile],
    source: u32,
) -> Result<(Vec<SourceRow>, u64), String> {
    if snap.summary.operation != Operation::Append {
        return Err(format!(
            "snapshot {} is a {} (part 1 absorbs appends only; #16 follows the sink's maintenance)",
            snap.snapshot_id,
            snap.summary.operation.as_str()
        ));
    }
    let schema = meta.current_schema();
    let mut out = Vec::new();
    let mut bytes_read = 0u64;
    for file in files {
        let data = store.get(&file.key, None).await.map_err(|e| err(&file.key, e))?.bytes;
        bytes_read = bytes_read.saturating_add(data.len() as u64);
        let rows = rows::read_all(&data, schema, &[]).map_err(|e| format!("{} is corrupt: {e}", file.key))?;
        if i64::try_from(rows.len()).ok() != Some(file.record_count) {
            return Err(format!("{} holds {} rows, its manifest says {}", file.key, rows.len(), file.record_count));
        }
        // `read_all` gives the rows in file order: `i` is the row's index in its file, as the
        // locator counts it.
        for (i, r) in rows.into_iter().enumerate() {
            let pos = (file.rank << 40) | ((file.entry & 0xFFFF) << 24) | (i as u64 & 0xFF_FFFF);
            out.push(SourceRow { cells: r.cells, source, seq: file.seq, pos });
        }
    }
    Ok((out, bytes_read))
}

/// Rows the snapshot says it added (`added-records`), for the per-run budget before reading.
pub fn added_records(snap: &Snapshot) -> u64 {
    snap.summary.properties.get("added-records").and_then(|v| v.parse().ok()).unwrap_or(0)
}
