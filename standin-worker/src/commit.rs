//! One commit of a mode's buffer into its Iceberg table.
//!
//! 1. Read the pointer `{root}/metadata/version-hint.text` (`N`, and its etag) and `vN.metadata.json`.
//! 2. List `_standin/buffer/{mode}/`; keys at or before the current snapshot's
//!    `standin.buffer-through` marker were committed already (a crash between commit and cleanup)
//!    and are only deleted; keys at or after the smallest put still in flight in this isolate wait.
//! 3. Write one Parquet data file, one manifest, a manifest list (the previous snapshot's manifests
//!    plus the new one) and `v{N+1}.metadata.json` — the last with a create-only conditional put:
//!    whoever creates it owns version N+1. On conflict, help the pointer along to the existing
//!    version and start again from 1 (bounded).
//! 4. Move the pointer to N+1 with an etag-conditional put (create-only for the first version),
//!    then delete the buffer objects included.
//!
//! With no buffer and no table yet, the commit creates an empty `v1` so readers find every table.

use iceberg_writer::commit::{self as writer, Append};
use iceberg_writer::{summarize, write_manifest, write_manifest_list, write_parquet, WriteCodec};
use serde_json::{json, Map, Value};
use shared::iceberg::manifest::{read_manifest_list, DataContent, ManifestFile, PartitionValue};
use shared::iceberg::table_metadata::{Operation, TableMetadata};
use worker::{Bucket, Conditional, Env};

use crate::{in_flight_floor, now_ms, random_hex, rows, table, uuid, var, ModeConfig};

/// Attempts before a commit gives up on conflicts.
const MAX_ATTEMPTS: usize = 16;
/// Rows per Parquet row group unless `ROW_GROUP_ROWS` says otherwise.
const ROW_GROUP_ROWS: usize = 10_000;
/// Most buffer objects one commit includes.
const COMMIT_MAX_OBJECTS: usize = 10_000;
/// Keys per R2 `delete` call.
const DELETE_BATCH: usize = 1000;
/// Most commits one flush runs back to back.
const MAX_COMMITS_PER_FLUSH: usize = 64;

type Res<T> = std::result::Result<T, String>;
/// Buffer keys with their sizes.
type Keys = Vec<(String, u64)>;
/// Records, as JSON objects.
type Rows = Vec<Map<String, Value>>;

fn e(what: &str) -> impl Fn(worker::Error) -> String + '_ {
    move |err| format!("{what}: {err}")
}

/// The current version of a table.
pub struct Current {
    /// `N` of `vN.metadata.json`.
    pub version: u64,
    /// Etag of the pointer object.
    pub hint_etag: String,
    /// Absolute location of the metadata file.
    pub location: String,
    /// The metadata.
    pub metadata: TableMetadata,
}

pub(crate) fn warehouse_location(env: &Env) -> String {
    var(env, "WAREHOUSE_LOCATION", "s3://artifacts-warehouse/")
}

fn flag(env: &Env, name: &str) -> bool {
    matches!(var(env, name, "0").trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// What new tables look like (`INGEST_TS_COLUMN`, `PARTITION_BY_INGEST_DAY`).
fn shape(env: &Env) -> table::Shape {
    table::Shape { ingest_ts: flag(env, "INGEST_TS_COLUMN"), partition_by_ingest_day: flag(env, "PARTITION_BY_INGEST_DAY") }
}

/// A new, empty table for `cfg`.
fn new_table(env: &Env, cfg: &ModeConfig) -> TableMetadata {
    table::empty(uuid(), format!("{}{}", warehouse_location(env), cfg.root), now_ms() as i64, shape(env))
}

fn hint_key(cfg: &ModeConfig) -> String {
    format!("{}/metadata/version-hint.text", cfg.root)
}

pub(crate) fn metadata_key(cfg: &ModeConfig, n: u64) -> String {
    format!("{}/metadata/v{n}.metadata.json", cfg.root)
}

pub(crate) async fn get(bucket: &Bucket, key: &str) -> Res<Option<(Vec<u8>, String)>> {
    let Some(obj) = bucket.get(key).execute().await.map_err(e(key))? else {
        return Ok(None);
    };
    let etag = obj.etag();
    let body = obj.body().ok_or_else(|| format!("{key}: no body"))?;
    Ok(Some((body.bytes().await.map_err(e(key))?, etag)))
}

/// A put; a metadata object written is announced as R2 would ([`crate::events`]).
async fn put(bucket: &Bucket, key: &str, bytes: Vec<u8>) -> Res<()> {
    if let Some(obj) = bucket.put(key, bytes).execute().await.map_err(e(key))? {
        crate::events::written(key, &obj).await;
    }
    Ok(())
}

/// Conditional put; `Ok(false)` when the condition failed. A metadata object written is announced
/// as R2 would ([`crate::events`]).
pub(crate) async fn put_if(bucket: &Bucket, key: &str, bytes: Vec<u8>, cond: Conditional) -> Res<bool> {
    match bucket.put(key, bytes).only_if(cond).execute().await.map_err(e(key))? {
        Some(obj) => {
            crate::events::written(key, &obj).await;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub(crate) fn create_only() -> Conditional {
    Conditional { etag_does_not_match: Some("*".into()), ..Conditional::default() }
}

fn matches(etag: Option<String>) -> Conditional {
    match etag {
        Some(t) => Conditional { etag_matches: Some(t), ..Conditional::default() },
        None => create_only(),
    }
}

async fn read_hint(bucket: &Bucket, cfg: &ModeConfig) -> Res<Option<(u64, String)>> {
    let key = hint_key(cfg);
    match get(bucket, &key).await? {
        None => Ok(None),
        Some((bytes, etag)) => {
            let n = String::from_utf8_lossy(&bytes).trim().parse::<u64>().map_err(|_| format!("{key}: not a number"))?;
            Ok(Some((n, etag)))
        }
    }
}

/// The current table version, `None` when the table does not exist yet.
pub async fn current(env: &Env, cfg: &ModeConfig) -> Res<Option<Current>> {
    let bucket = env.bucket("WAREHOUSE").map_err(e("WAREHOUSE"))?;
    current_in(&bucket, env, cfg).await
}

pub(crate) async fn current_in(bucket: &Bucket, env: &Env, cfg: &ModeConfig) -> Res<Option<Current>> {
    let Some((version, hint_etag)) = read_hint(bucket, cfg).await? else {
        return Ok(None);
    };
    let key = metadata_key(cfg, version);
    let (bytes, _) = get(bucket, &key).await?.ok_or_else(|| format!("{key}: missing"))?;
    let metadata = TableMetadata::from_json(&bytes).map_err(|err| format!("{key}: {}", err.description()))?;
    Ok(Some(Current { version, hint_etag, location: format!("{}{key}", warehouse_location(env)), metadata }))
}

/// Buffer keys of a mode with their sizes, in key order (all pages).
async fn list(bucket: &Bucket, prefix: &str, max_pages: usize) -> Res<(Keys, bool)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let mut req = bucket.list().prefix(prefix.to_string());
        if let Some(c) = cursor.take() {
            req = req.cursor(c);
        }
        let page = req.execute().await.map_err(e(prefix))?;
        out.extend(page.objects().iter().map(|o| (o.key(), o.size())));
        match page.cursor() {
            Some(c) if page.truncated() => cursor = Some(c),
            _ => return Ok((out, false)),
        }
    }
    Ok((out, true))
}

/// Whether a mode's buffer is older than its roll interval or larger than its roll size.
pub async fn due(env: &Env, cfg: &ModeConfig) -> Res<bool> {
    let bucket = env.bucket("WAREHOUSE").map_err(e("WAREHOUSE"))?;
    let prefix = cfg.buffer_prefix();
    let (keys, more) = list(&bucket, &prefix, 1).await?;
    let Some((oldest, _)) = keys.first() else {
        return Ok(false);
    };
    let ms: f64 = oldest.get(prefix.len()..prefix.len() + 13).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let bytes: u64 = keys.iter().map(|(_, s)| *s).sum();
    Ok(more || bytes >= cfg.roll_bytes || now_ms() - ms >= cfg.roll_ms)
}

pub(crate) fn codec(env: &Env) -> Res<WriteCodec> {
    match var(env, "PARQUET_CODEC", "zstd").trim().to_ascii_lowercase().as_str() {
        "zstd" => Ok(WriteCodec::Zstd),
        "snappy" => Ok(WriteCodec::Snappy),
        "gzip" => Ok(WriteCodec::Gzip),
        "none" | "uncompressed" => Ok(WriteCodec::Uncompressed),
        other => Err(format!("PARQUET_CODEC {other} is not zstd, snappy, gzip or none")),
    }
}

pub(crate) fn random_snapshot_id() -> i64 {
    // 53 random bits, positive.
    let hi = (js_sys::Math::random() * 2f64.powi(26)) as i64;
    let lo = (js_sys::Math::random() * 2f64.powi(27)) as i64;
    ((hi << 27) | lo).max(1)
}

/// Reads the records of the buffer objects `keys` (under `prefix`), each stamped with
/// `__ingest_ts`: when its `send` was accepted, in µs (the time in its buffer key).
async fn read_records(bucket: &Bucket, prefix: &str, keys: &[String]) -> Res<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    for key in keys {
        let sent_ms: i64 = key.get(prefix.len()..prefix.len() + 13).and_then(|s| s.parse().ok()).unwrap_or(now_ms() as i64);
        let ingest_ts = Value::from(sent_ms.saturating_mul(1000));
        let Some((bytes, _)) = get(bucket, key).await? else {
            // Deleted by a concurrent commit that included it; the conditional put decides.
            continue;
        };
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|err| format!("{key}: {err}"))?;
        if let Value::Array(items) = parsed {
            rows.extend(items.into_iter().filter_map(|v| match v {
                Value::Object(mut m) => {
                    m.insert(table::INGEST_TS.into(), ingest_ts.clone());
                    Some(m)
                }
                _ => None,
            }));
        }
    }
    Ok(rows)
}

/// The rows of one commit by partition: one group for an unpartitioned table; by the day of
/// `__ingest_ts` (days since 1970-01-01) for a `day(__ingest_ts)` table.
fn partitions(layout: &table::Layout, rows_in: &[Map<String, Value>]) -> Vec<(Option<i32>, Rows)> {
    if layout.spec.fields.is_empty() {
        return vec![(None, rows_in.to_vec())];
    }
    let mut groups: std::collections::BTreeMap<i32, Rows> = std::collections::BTreeMap::new();
    for row in rows_in {
        let micros = row.get(table::INGEST_TS).and_then(Value::as_i64).unwrap_or(0);
        let day = i32::try_from(micros.div_euclid(86_400_000_000)).unwrap_or(0);
        groups.entry(day).or_default().push(row.clone());
    }
    groups.into_iter().map(|(day, rows)| (Some(day), rows)).collect()
}

/// Writes the data files (one per partition), the manifest and the manifest list of one append;
/// returns the next metadata.
async fn write_append(
    bucket: &Bucket,
    env: &Env,
    cfg: &ModeConfig,
    prev: &Current,
    rows_in: &[Map<String, Value>],
    buffer_through: String,
) -> Res<TableMetadata> {
    let loc = warehouse_location(env);
    let row_group_rows = var(env, "ROW_GROUP_ROWS", "").trim().parse::<usize>().ok().filter(|n| *n > 0).unwrap_or(ROW_GROUP_ROWS);
    let layout = table::layout(&prev.metadata)?;
    let snapshot_id = random_snapshot_id();
    let seq = prev.metadata.last_sequence_number.saturating_add(1);
    let (mut record_count, mut file_size) = (0i64, 0i64);
    let mut files_added = Vec::new();
    for (day, group) in partitions(&layout, rows_in) {
        let written =
            write_parquet(&rows::columns(&group, layout.ingest_ts_id), codec(env)?, row_group_rows).map_err(|err| err.to_string())?;
        let (dir, partition) = match (day, layout.spec.fields.first()) {
            (Some(day), Some(field)) => {
                let date = shared::time::format_micros(i64::from(day) * 86_400_000_000);
                (format!("{}={}/", field.name, date.get(..10).unwrap_or(&date)), vec![(field.name.clone(), PartitionValue::Int(day))])
            }
            _ => (String::new(), Vec::new()),
        };
        let data_key = format!("{}/data/{dir}{}.parquet", cfg.root, uuid());
        let size = i64::try_from(written.bytes.len()).map_err(|_| "data file too large".to_string())?;
        record_count += written.record_count;
        file_size += size;
        let mut data_file = writer::data_file(format!("{loc}{data_key}"), &written, DataContent::Data);
        data_file.partition = partition;
        put(bucket, &data_key, written.bytes).await?;
        files_added.push(data_file);
    }
    let entries = writer::added(snapshot_id, files_added);
    let data_files = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let spec = layout.spec;
    let manifest = write_manifest(&entries, &spec, &writer::schema_json(&prev.metadata), 0).map_err(|err| err.to_string())?;
    let manifest_key = format!("{}/metadata/{}-m0.avro", cfg.root, uuid());
    let manifest_len = i64::try_from(manifest.len()).map_err(|_| "manifest too large".to_string())?;
    put(bucket, &manifest_key, manifest).await?;
    let mut files: Vec<ManifestFile> = Vec::new();
    let parent = prev.metadata.current_snapshot();
    if let Some(p) = parent {
        let list_key = p.manifest_list.strip_prefix(&loc).ok_or_else(|| format!("{} is outside {loc}", p.manifest_list))?;
        let (bytes, _) = get(bucket, list_key).await?.ok_or_else(|| format!("{list_key}: missing"))?;
        files = read_manifest_list(&bytes).map_err(|err| format!("{list_key}: {err}"))?;
    }
    files.push(summarize(format!("{loc}{manifest_key}"), manifest_len, &spec, snapshot_id, seq, &entries).map_err(|err| err.to_string())?);
    let list = write_manifest_list(&files, snapshot_id, parent.map(|p| p.snapshot_id), seq).map_err(|err| err.to_string())?;
    let list_key = format!("{}/metadata/snap-{snapshot_id}-{}.avro", cfg.root, uuid());
    put(bucket, &list_key, list).await?;
    Ok(writer::append(
        &prev.metadata,
        Append {
            snapshot_id,
            manifest_list: format!("{loc}{list_key}"),
            operation: Operation::Append,
            data_files,
            records: record_count,
            file_size,
            properties: [(table::BUFFER_THROUGH.to_string(), buffer_through)].into(),
            now_ms: now_ms() as i64,
            previous_location: Some(prev.location.clone()),
        },
    ))
}

/// Moves the pointer from `from` (its etag, `None`: absent) to `to`; `false` when it moved meanwhile.
pub(crate) async fn move_hint(bucket: &Bucket, cfg: &ModeConfig, etag: Option<String>, to: u64) -> Res<bool> {
    put_if(bucket, &hint_key(cfg), to.to_string().into_bytes(), matches(etag)).await
}

/// Commits what is buffered for `cfg.mode`; resolves to `{mode, committed, version}`.
pub async fn commit(env: &Env, cfg: &ModeConfig) -> Res<Value> {
    let bucket = env.bucket("WAREHOUSE").map_err(e("WAREHOUSE"))?;
    let prefix = cfg.buffer_prefix();
    for _ in 0..MAX_ATTEMPTS {
        let cur = current_in(&bucket, env, cfg).await?;
        let marker = cur.as_ref().and_then(|c| table::buffer_through(&c.metadata));
        let floor = in_flight_floor(&prefix);
        let (keys, _) = list(&bucket, &prefix, 100).await?;
        let (stale, waiting): (Keys, Keys) = keys.into_iter().partition(|(k, _)| marker.as_ref().is_some_and(|m| k <= m));
        delete(&bucket, stale.into_iter().map(|(k, _)| k).collect()).await;
        let waiting: Keys = waiting.into_iter().filter(|(k, _)| floor.as_ref().is_none_or(|f| k < f)).collect();
        let mut fresh = Vec::new();
        let mut bytes = 0u64;
        for (k, size) in &waiting {
            if !fresh.is_empty() && (bytes.saturating_add(*size) > cfg.commit_max_bytes || fresh.len() >= COMMIT_MAX_OBJECTS) {
                break;
            }
            bytes = bytes.saturating_add(*size);
            fresh.push(k.clone());
        }
        let more = fresh.len() < waiting.len();
        let (next, from_etag, version, records) = match cur {
            Some(c) if fresh.is_empty() => {
                return Ok(json!({"mode": cfg.mode, "committed": 0, "version": c.version, "more": false}));
            }
            None if fresh.is_empty() => (new_table(env, cfg), None, 1u64, 0usize),
            cur => {
                let base = match cur {
                    Some(c) => c,
                    None => {
                        // The first commit also creates the table: v1 empty, v2 the append.
                        let meta = new_table(env, cfg);
                        let key = metadata_key(cfg, 1);
                        if !put_if(&bucket, &key, meta.to_json().into_bytes(), create_only()).await? {
                            help_along(&bucket, cfg).await?;
                            continue;
                        }
                        let _ = move_hint(&bucket, cfg, None, 1).await?;
                        continue;
                    }
                };
                let rows_in = read_records(&bucket, &prefix, &fresh).await?;
                let through = fresh.last().cloned().unwrap_or_default();
                let next = write_append(&bucket, env, cfg, &base, &rows_in, through).await?;
                (next, Some(base.hint_etag), base.version + 1, rows_in.len())
            }
        };
        next.validate().map_err(|err| format!("metadata for {}: {}", cfg.mode, err.description()))?;
        let key = metadata_key(cfg, version);
        if !put_if(&bucket, &key, next.to_json().into_bytes(), create_only()).await? {
            // Someone else owns this version: help the pointer along and start over.
            help_along(&bucket, cfg).await?;
            continue;
        }
        // If this fails, a helper already moved the pointer to our version.
        let _ = move_hint(&bucket, cfg, from_etag, version).await?;
        delete(&bucket, fresh).await;
        return Ok(json!({"mode": cfg.mode, "committed": records, "version": version, "more": more}));
    }
    Err(format!("{}: gave up after {MAX_ATTEMPTS} conflicting attempts ({})", cfg.mode, random_hex(2)))
}

/// Commits until the buffer (as it was when the flush started, give or take) is empty; resolves to
/// `{mode, committed, version}` summed over the commits.
pub async fn commit_all(env: &Env, cfg: &ModeConfig) -> Res<Value> {
    let mut committed = 0u64;
    let mut last = json!({});
    for _ in 0..MAX_COMMITS_PER_FLUSH {
        last = commit(env, cfg).await?;
        committed += last.get("committed").and_then(Value::as_u64).unwrap_or(0);
        if last.get("more").and_then(Value::as_bool) != Some(true) {
            break;
        }
    }
    Ok(json!({"mode": cfg.mode, "committed": committed, "version": last.get("version").cloned().unwrap_or(Value::Null)}))
}

/// Creates the table (an empty `v1`) when it does not exist yet, so readers find every table.
pub async fn ensure(env: &Env, cfg: &ModeConfig) -> Res<u64> {
    let bucket = env.bucket("WAREHOUSE").map_err(e("WAREHOUSE"))?;
    if let Some((n, _)) = read_hint(&bucket, cfg).await? {
        return Ok(n);
    }
    let meta = new_table(env, cfg);
    if put_if(&bucket, &metadata_key(cfg, 1), meta.to_json().into_bytes(), create_only()).await? {
        let _ = move_hint(&bucket, cfg, None, 1).await?;
    } else {
        help_along(&bucket, cfg).await?;
    }
    Ok(read_hint(&bucket, cfg).await?.map_or(0, |(n, _)| n))
}

/// Best-effort delete of buffer objects (leftovers are skipped by the marker and retried later).
async fn delete(bucket: &Bucket, keys: Vec<String>) {
    for batch in keys.chunks(DELETE_BATCH) {
        let _ = bucket.delete_multiple(batch.to_vec()).await;
    }
}

/// Moves the pointer forward over every metadata version that exists past it.
pub(crate) async fn help_along(bucket: &Bucket, cfg: &ModeConfig) -> Res<()> {
    for _ in 0..MAX_ATTEMPTS {
        let hint = read_hint(bucket, cfg).await?;
        let n = hint.as_ref().map_or(0, |(n, _)| *n);
        let next = metadata_key(cfg, n + 1);
        if bucket.head(&next).await.map_err(e(&next))?.is_none() {
            return Ok(());
        }
        let _ = move_hint(bucket, cfg, hint.map(|(_, t)| t), n + 1).await?;
    }
    Ok(())
}
