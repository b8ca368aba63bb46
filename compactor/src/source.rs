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

/// The prefix of a source id that names an R2 Data Catalog table (`catalog:<table>`, as serve
/// names it): its metadata is not found by a pointer in the bucket but resolved by the caller
/// from the catalog (`loadTable`'s `metadata-location`) into [`crate::Config::catalog`].
pub const CATALOG_PREFIX: &str = "catalog:";

/// The current metadata of a source: `(key, metadata)`, `None` when the table does not exist.
/// `resolved` is the caller's answer for it (a bucket key, or an absolute location mapped by
/// `prefixes`): used when present. Otherwise a table root's `version-hint.text`, else its newest
/// `*.metadata.json`; a `catalog:` source without a resolved location is an error.
pub async fn current<S: Store>(
    store: &S,
    root: &str,
    resolved: Option<&str>,
    prefixes: &[String],
) -> Result<Option<(String, TableMetadata)>, String> {
    let key = match resolved.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.contains("://") => key_in(r, prefixes)?,
        Some(r) => r.to_string(),
        None if root.starts_with(CATALOG_PREFIX) => {
            return Err(format!("{root}: a catalog table needs its current metadata location (none was resolved for this run)"))
        }
        None => match pointed(store, root).await? {
            Some(k) => k,
            None => return Ok(None),
        },
    };
    let bytes = store.get(&key, None).await.map_err(|e| err(&key, e))?.bytes;
    let meta = TableMetadata::from_json(&bytes).map_err(|e| format!("{key}: {}", e.description()))?;
    Ok(Some((key, meta)))
}

/// The metadata key a table root's pointer names (`version-hint.text`: a number or a file name),
/// else its newest `*.metadata.json`; `None` when it has none.
async fn pointed<S: Store>(store: &S, root: &str) -> Result<Option<String>, String> {
    let hint_key = format!("{root}/metadata/version-hint.text");
    match store.get(&hint_key, None).await {
        Ok(o) => {
            let hint = String::from_utf8_lossy(&o.bytes).trim().to_string();
            if hint.ends_with(".metadata.json") {
                Ok(Some(format!("{root}/metadata/{hint}")))
            } else if hint.parse::<u64>().is_ok() {
                Ok(Some(format!("{root}/metadata/v{hint}.metadata.json")))
            } else {
                Err(format!("{hint_key}: neither a number nor a file name"))
            }
        }
        Err(StoreError::NotFound) => {
            let prefix = format!("{root}/metadata/");
            let keys = crate::store::keys_of(store.list(&prefix).await.map_err(|e| err(&prefix, e))?.unwrap_or_default());
            let newest = keys.into_iter().filter_map(|k| Some((metadata_version(k.rsplit('/').next()?)?, k))).max_by_key(|(v, _)| *v);
            Ok(newest.map(|(_, k)| k))
        }
        Err(e) => Err(err(&hint_key, e)),
    }
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

/// The snapshots after a watermark up to the current one, oldest first.
#[derive(Debug)]
pub struct Follow<'m> {
    /// The snapshots after the watermark (when it was expired: from the oldest one still there).
    pub snaps: Vec<&'m Snapshot>,
    /// Why history may have been missed: the watermark snapshot is no longer in the metadata
    /// (expired), so the snapshots between it and the oldest one left are unknown.
    pub gap: Option<String>,
}

/// The snapshots after `watermark` up to the current one, oldest first. When the watermark
/// snapshot has been expired the chain is followed back to the oldest snapshot still there and
/// [`Follow::gap`] says so; an error when the watermark is still in the metadata but not an
/// ancestor of the current snapshot (rolled back or branched).
pub fn follow(meta: &TableMetadata, watermark: Option<i64>) -> Result<Follow<'_>, String> {
    let mut out = Vec::new();
    let mut at = meta.current_snapshot();
    while let Some(s) = at {
        if Some(s.snapshot_id) == watermark {
            out.reverse();
            return Ok(Follow { snaps: out, gap: None });
        }
        out.push(s);
        if out.len() > meta.snapshots.len() {
            return Err("the snapshot chain has a cycle".into());
        }
        // The watermark's child names it as its parent even when the watermark itself was
        // expired (the catalog compacted and expired right after a run): nothing was missed.
        if watermark.is_some() && s.parent_snapshot_id == watermark {
            out.reverse();
            return Ok(Follow { snaps: out, gap: None });
        }
        at = s.parent_snapshot_id.and_then(|p| meta.snapshot_by_id(p));
    }
    out.reverse();
    match watermark {
        None => Ok(Follow { snaps: out, gap: None }),
        Some(w) if meta.snapshot_by_id(w).is_none() => {
            let oldest = out.first().map_or_else(|| "none".to_string(), |s| s.snapshot_id.to_string());
            Ok(Follow {
                snaps: out,
                gap: Some(format!(
                    "the watermark snapshot {w} was expired before it was followed; resumed from the oldest snapshot still there ({oldest}): changes in between other than added files may have been missed"
                )),
            })
        }
        Some(w) => Err(format!("the watermark snapshot {w} is not an ancestor of the current snapshot (rolled back or branched)")),
    }
}

/// The snapshots after `watermark` up to the current one, oldest first. An error when the
/// watermark is not an ancestor of the current snapshot (history rewritten or expired).
pub fn after(meta: &TableMetadata, watermark: Option<i64>) -> Result<Vec<&Snapshot>, String> {
    let f = follow(meta, watermark)?;
    match (f.gap, watermark) {
        (Some(_), Some(w)) => Err(format!("the watermark snapshot {w} is not an ancestor of the current snapshot (expired or rewritten)")),
        _ => Ok(f.snaps),
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

/// One live data file of the current snapshot, where the locator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFile {
    /// Index of its manifest in the current manifest list.
    pub manifest: u64,
    /// Rank of its manifest among the list's manifests holding files of its adding snapshot.
    pub rank: u64,
    /// Its index among its manifest's entries.
    pub entry: u64,
    /// Its data sequence number.
    pub seq: i64,
    /// The snapshot that added it (`added_snapshot_id`).
    pub snapshot_id: i64,
    /// Bucket key.
    pub key: String,
    /// `file_path` as the manifest has it (position deletes name it).
    pub file_path: String,
    /// Rows, as its manifest entry says.
    pub record_count: i64,
    /// Its manifest's partition spec id.
    pub spec_id: i32,
    /// Its partition tuple.
    pub partition: Vec<(String, shared::iceberg::manifest::PartitionValue)>,
}

/// The current snapshot's live files of data sequence number greater than `after` (every live
/// file for `None`), from the **current** manifest list only: one list read however many
/// snapshots are new, and the lists of older snapshots may be gone (the sink expires them).
/// Manifests added at or before `after` hold nothing newer and are skipped unread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// Data files, in manifest and entry order.
    pub data: Vec<LiveFile>,
    /// Live delete files (position or equality) of data sequence number greater than `after`.
    pub deletes: u64,
}

/// See [`Live`].
pub async fn live_files<S: Store>(store: &S, meta: &TableMetadata, after: Option<i64>, prefixes: &[String]) -> Result<Live, String> {
    let mut out = Live::default();
    let Some(current) = meta.current_snapshot() else { return Ok(out) };
    let after = after.unwrap_or(i64::MIN);
    let list_key = key_in(&current.manifest_list, prefixes)?;
    let list = store.get(&list_key, None).await.map_err(|e| err(&list_key, e))?.bytes;
    let manifests = read_manifest_list(&list).map_err(|e| format!("{list_key} is corrupt: {}", e.description()))?;
    // Per snapshot, the manifests seen so far holding its files (the rank of the next one).
    let mut ranks: BTreeMap<i64, u64> = BTreeMap::new();
    for (m_index, mf) in manifests.iter().enumerate() {
        if mf.sequence_number <= after {
            continue;
        }
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
                out.deletes = out.deletes.saturating_add(1);
                continue;
            }
            if !seen.contains(&entry.snapshot_id) {
                seen.push(entry.snapshot_id);
            }
            out.data.push(LiveFile {
                manifest: m_index as u64,
                rank: ranks.get(&entry.snapshot_id).copied().unwrap_or(0),
                entry: e_index as u64,
                seq,
                snapshot_id: entry.snapshot_id,
                key: key_in(&entry.data_file.file_path, prefixes)?,
                file_path: entry.data_file.file_path.clone(),
                record_count: entry.data_file.record_count,
                spec_id: mf.partition_spec_id,
                partition: entry.data_file.partition.clone(),
            });
        }
        for id in seen {
            *ranks.entry(id).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// The data files the snapshots after the watermark (data sequence number `after`) added, per
/// snapshot id, in manifest and entry order ([`live_files`]). Any delete file after the
/// watermark is an error here (the compactor rebuilds instead: `docs/design/serving-table.md`,
/// "Following the sink's maintenance").
pub async fn added_files<S: Store>(
    store: &S,
    meta: &TableMetadata,
    after: Option<i64>,
    prefixes: &[String],
) -> Result<BTreeMap<i64, Vec<AddedFile>>, String> {
    let live = live_files(store, meta, after, prefixes).await?;
    if live.deletes > 0 {
        return Err(format!("{} delete files after the watermark", live.deletes));
    }
    let mut out: BTreeMap<i64, Vec<AddedFile>> = BTreeMap::new();
    for f in live.data {
        out.entry(f.snapshot_id).or_default().push(AddedFile {
            rank: f.rank,
            entry: f.entry,
            seq: f.seq,
            key: f.key,
            record_count: f.record_count,
        });
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
    if !matches!(snap.summary.operation, Operation::Append | Operation::Replace) {
        return Err(format!(
            "snapshot {} is a {} (absorbed by a rebuild, not row by row)",
            snap.snapshot_id,
            snap.summary.operation.as_str()
        ));
    }
    file_rows(store, meta, files, source).await
}

/// Every row of `files` (whole files), in order, with `_seq` and `_pos`; and the bytes read.
pub async fn file_rows<S: Store>(
    store: &S,
    meta: &TableMetadata,
    files: &[AddedFile],
    source: u32,
) -> Result<(Vec<SourceRow>, u64), String> {
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

/// The compactor's store as the locator's (the delete rules are the locator's own code).
struct Objects<'a, S>(&'a S);

impl<S: Store> shared::locate::ObjectStore for Objects<'_, S> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        self.0.get(key, range).await.map(|o| o.bytes)
    }
}

/// Every row of the current snapshot's live data files of data sequence number greater than
/// `after` (all of them for `None`), whole files, with `_seq` and `_pos` as [`file_rows`] counts
/// them; with `apply_deletes`, the rows
/// the live delete files delete (position and equality, by the spec's sequence-number rules —
/// `shared::locate::deletes`, the locator's code) are left out. The bytes of data files read.
/// All or nothing.
pub async fn live_rows<S: Store>(
    store: &S,
    meta: &TableMetadata,
    after: Option<i64>,
    prefixes: &[String],
    source: u32,
    apply_deletes: bool,
) -> Result<(Vec<SourceRow>, u64), String> {
    let live = live_files(store, meta, after, prefixes).await?;
    rows_of(store, meta, &live, prefixes, source, apply_deletes).await
}

/// [`live_rows`] of files already listed.
pub async fn rows_of<S: Store>(
    store: &S,
    meta: &TableMetadata,
    live: &Live,
    prefixes: &[String],
    source: u32,
    apply_deletes: bool,
) -> Result<(Vec<SourceRow>, u64), String> {
    use shared::locate::deletes::{self, RowSite};
    use shared::locate::{Cost, Table};
    let Some(current) = meta.current_snapshot() else { return Ok((Vec::new(), 0)) };
    let prefix = prefixes
        .iter()
        .find(|p| meta.location.starts_with(p.as_str()))
        .or_else(|| prefixes.first())
        .ok_or_else(|| "no location prefix configured".to_string())?;
    let table = Table { metadata: meta, location_prefix: prefix };
    let objects = Objects(store);
    let mut cost = Cost::default();
    let delete_files = if apply_deletes {
        let list_key = key_in(&current.manifest_list, prefixes)?;
        let list = store.get(&list_key, None).await.map_err(|e| err(&list_key, e))?.bytes;
        let manifests = read_manifest_list(&list).map_err(|e| format!("{list_key} is corrupt: {}", e.description()))?;
        deletes::live_delete_files(&objects, &table, &manifests, &[], current.sequence_number, &mut cost)
            .await
            .map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    let equality = deletes::equality_columns(&table, &delete_files).map_err(|e| e.to_string())?;
    let columns: Vec<&str> = shared::record::COLUMNS.iter().map(|c| c.name).collect();
    let extra: Vec<&str> = equality.iter().map(|(_, n)| *n).filter(|n| !columns.contains(n)).collect();
    let at_of = |name: &str| columns.iter().chain(extra.iter()).position(|n| *n == name);
    let schema = meta.current_schema();
    let mut out = Vec::new();
    let mut sites = Vec::new();
    let mut bytes_read = 0u64;
    for file in &live.data {
        let data = store.get(&file.key, None).await.map_err(|e| err(&file.key, e))?.bytes;
        bytes_read = bytes_read.saturating_add(data.len() as u64);
        let rows = rows::read_all(&data, schema, &extra).map_err(|e| format!("{} is corrupt: {e}", file.key))?;
        if i64::try_from(rows.len()).ok() != Some(file.record_count) {
            return Err(format!("{} holds {} rows, its manifest says {}", file.key, rows.len(), file.record_count));
        }
        for (i, mut r) in rows.into_iter().enumerate() {
            if !delete_files.is_empty() {
                let values = equality
                    .iter()
                    .map(|(fid, name)| (*fid, at_of(name).and_then(|a| r.cells.get(a).cloned()).unwrap_or(Cell::Null)))
                    .collect();
                sites.push(RowSite {
                    file_path: file.file_path.clone(),
                    sequence_number: file.seq,
                    spec_id: file.spec_id,
                    partition: file.partition.clone(),
                    pos: i64::try_from(i).unwrap_or(i64::MAX),
                    values,
                });
            }
            r.cells.truncate(columns.len());
            // As `file_rows` counts it (the rank among the manifests of the file's commit keeps
            // the locator's order within one data sequence number, which is all `_pos` decides).
            let pos = (file.rank << 40) | ((file.entry & 0xFFFF) << 24) | (i as u64 & 0xFF_FFFF);
            out.push(SourceRow { cells: r.cells, source, seq: file.seq, pos });
        }
    }
    if delete_files.is_empty() {
        return Ok((out, bytes_read));
    }
    let gone = deletes::deleted(&objects, &table, &delete_files, &sites, &mut cost).await.map_err(|e| e.to_string())?;
    bytes_read = bytes_read.saturating_add(cost.bytes);
    let kept = out.into_iter().zip(gone).filter_map(|(r, g)| (!g).then_some(r)).collect();
    Ok((kept, bytes_read))
}
