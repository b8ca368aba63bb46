//! Table maintenance in the stand-in (#16): what R2 Data Catalog's own maintenance does to a
//! sink's tables, so everything that follows the tables is tested against it. Dev and tests only.
//!
//! - `POST /maintain/compact[?mode=…][&target_bytes=N]`: binpacks each table's small data files
//!   into `compacted-<uuid>.parquet` files under one `replace` snapshot with rewritten manifests
//!   (`iceberg_writer::rewrite`: which files, and why no answer changes).
//! - `POST /maintain/expire[?mode=…][&keep=N][&newer_than=ms]`: drops every snapshot but the
//!   last `keep` (default 1) of the current history, those committed at or after `newer_than`
//!   and every ref's (`iceberg_writer::expire`), then deletes the manifest lists, manifests and
//!   data files only the dropped snapshots reached — after the pointer moved, at once (no grace
//!   period: a reader holding older metadata may miss those files).
//!
//! Both commit as the stand-in commits: new objects create-only, `vN+1.metadata.json`
//! create-only, then the pointer moved with an etag-conditional put. A lost race deletes what
//! this attempt wrote, helps the pointer along and redoes the work from the new version. Without
//! `mode`, every mode's table in turn; the answer is one summary per table (`attempts`: how many
//! tries its commit took). Every other method
//! is 405 with `Allow: POST`.

use std::collections::BTreeMap;

use iceberg_writer::expire::{expire, manifest_lists, unreachable, Reach, Retain};
use iceberg_writer::rewrite::{commit_replace, compacted_location, live_files, plan_binpack, write_bin, Binpack, Compacted, ReplaceInput};
use serde_json::{json, Value};
use shared::iceberg::manifest::{read_manifest, read_manifest_list, Manifest, ManifestFile};
use shared::record::Mode;
use worker::{Bucket, Env, Method, Request, Response};

use crate::commit::{self, create_only, get, help_along, metadata_key, move_hint, put_if, random_snapshot_id};
use crate::{iceberg_error, json as answer, now_ms, uuid, var, ModeConfig};

/// Attempts before a maintenance commit gives up on conflicts.
const MAX_ATTEMPTS: usize = 8;
/// Input bytes one compacted file is filled to unless `target_bytes` or `MAINTAIN_TARGET_BYTES`
/// says otherwise: small, because the stand-in holds a bin's rows in memory in workerd.
const TARGET_BYTES: i64 = 8 * 1024 * 1024;
/// Keys per R2 `delete` call.
const DELETE_BATCH: usize = 1000;

type Res<T> = std::result::Result<T, String>;

/// The bucket key of a location the stand-in wrote.
fn key_of(env: &Env, location: &str) -> Res<String> {
    let prefix = commit::warehouse_location(env);
    location.strip_prefix(&prefix).map(String::from).ok_or_else(|| format!("{location} is outside {prefix}"))
}

async fn read(bucket: &Bucket, env: &Env, location: &str) -> Res<Vec<u8>> {
    let key = key_of(env, location)?;
    get(bucket, &key).await?.map(|(b, _)| b).ok_or_else(|| format!("{key}: missing"))
}

async fn list_of(bucket: &Bucket, env: &Env, location: &str) -> Res<Vec<ManifestFile>> {
    read_manifest_list(&read(bucket, env, location).await?).map_err(|e| format!("{location}: {e:?}"))
}

async fn manifest_of(bucket: &Bucket, env: &Env, mf: &ManifestFile) -> Res<Manifest> {
    read_manifest(&read(bucket, env, &mf.manifest_path).await?, mf).map_err(|e| format!("{}: {e:?}", mf.manifest_path))
}

/// Best-effort delete (what is left is unreferenced, as a crashed commit's files are).
async fn delete(bucket: &Bucket, keys: &[String]) -> Res<()> {
    for batch in keys.chunks(DELETE_BATCH) {
        bucket.delete_multiple(batch.to_vec()).await.map_err(|e| format!("delete: {e}"))?;
    }
    Ok(())
}

/// Puts `bytes` at `key` create-only; a name taken is an error (names are fresh uuids).
async fn create(bucket: &Bucket, key: &str, bytes: Vec<u8>) -> Res<()> {
    if put_if(bucket, key, bytes, create_only()).await? {
        Ok(())
    } else {
        Err(format!("{key} exists already"))
    }
}

/// Stores `next` as version `version` and moves the pointer from `etag`; `false` when another
/// commit took the version (the pointer is helped along).
async fn publish(
    bucket: &Bucket,
    cfg: &ModeConfig,
    version: u64,
    etag: String,
    next: &shared::iceberg::table_metadata::TableMetadata,
) -> Res<bool> {
    next.validate().map_err(|e| format!("metadata for {}: {}", cfg.mode, e.description()))?;
    if !put_if(bucket, &metadata_key(cfg, version), next.to_json().into_bytes(), create_only()).await? {
        help_along(bucket, cfg).await?;
        return Ok(false);
    }
    // If this fails, a helper already moved the pointer to our version.
    let _ = move_hint(bucket, cfg, Some(etag), version).await?;
    Ok(true)
}

/// Binpacks one table once; its summary.
pub async fn compact(env: &Env, cfg: &ModeConfig, target_bytes: i64) -> Res<Value> {
    let bucket = env.bucket("WAREHOUSE").map_err(|e| format!("WAREHOUSE: {e}"))?;
    let codec = commit::codec(env)?;
    for attempt in 1..=MAX_ATTEMPTS {
        let Some(cur) = commit::current_in(&bucket, env, cfg).await? else {
            return Ok(json!({"mode": cfg.mode, "rewritten": 0, "version": null}));
        };
        let Some(snapshot) = cur.metadata.current_snapshot() else {
            return Ok(json!({"mode": cfg.mode, "rewritten": 0, "version": cur.version}));
        };
        let list = list_of(&bucket, env, &snapshot.manifest_list).await?;
        let mut manifests = Vec::with_capacity(list.len());
        for mf in &list {
            manifests.push(manifest_of(&bucket, env, mf).await?);
        }
        let live = live_files(&list, &manifests);
        let bins = plan_binpack(&live, &Binpack::new(target_bytes)).map_err(|e| format!("{}: {e}", cfg.mode))?;
        if bins.is_empty() {
            return Ok(json!({"mode": cfg.mode, "rewritten": 0, "version": cur.version}));
        }
        let schema = cur.metadata.current_schema().ok_or("the table has no current schema")?.clone();
        let mut written_keys = Vec::new();
        let mut compacted = Vec::new();
        for bin in bins {
            let mut inputs = Vec::with_capacity(bin.files.len());
            for i in &bin.files {
                let f = live.get(*i).ok_or("a bin names no live file")?;
                inputs.push(read(&bucket, env, &f.data_file.file_path).await?);
            }
            let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
            let written = write_bin(&refs, &schema, codec).map_err(|e| format!("{}: {e}", cfg.mode))?;
            drop(inputs);
            let first = bin.files.first().and_then(|i| live.get(*i)).ok_or("an empty bin")?;
            let location = compacted_location(&first.data_file.file_path, &uuid());
            let c = Compacted::new(bin, location.clone(), &written, &live);
            let key = key_of(env, &location)?;
            create(&bucket, &key, written.bytes).await?;
            written_keys.push(key);
            compacted.push(c);
        }
        let snapshot_id = random_snapshot_id();
        let nonce = uuid();
        let input = ReplaceInput {
            metadata: &cur.metadata,
            metadata_location: &cur.location,
            list: &list,
            manifests: &manifests,
            snapshot_id,
            nonce: &nonce,
            now_ms: now_ms() as i64,
        };
        let out = commit_replace(&input, &live, &compacted).map_err(|e| format!("{}: {e}", cfg.mode))?;
        for (location, bytes) in out.objects {
            let key = key_of(env, &location)?;
            create(&bucket, &key, bytes).await?;
            written_keys.push(key);
        }
        let version = cur.version + 1;
        if !publish(&bucket, cfg, version, cur.hint_etag.clone(), &out.metadata).await? {
            // Nothing names what this attempt wrote: remove it and start over from the new version.
            delete(&bucket, &written_keys).await?;
            continue;
        }
        let rewritten: usize = compacted.iter().map(|c| c.bin.files.len()).sum();
        let files: Vec<&str> = compacted.iter().map(|c| c.data_file.file_path.as_str()).collect();
        return Ok(json!({
            "mode": cfg.mode, "version": version, "snapshot_id": snapshot_id, "rewritten": rewritten, "compacted": files, "attempts": attempt,
            "records": compacted.iter().map(|c| c.data_file.record_count).sum::<i64>(),
        }));
    }
    Err(format!("{}: gave up after {MAX_ATTEMPTS} conflicting attempts", cfg.mode))
}

/// What a set of snapshots reaches (`live_only`: a kept snapshot's view), manifests read once.
async fn reach(
    bucket: &Bucket,
    env: &Env,
    lists: &BTreeMap<i64, String>,
    live_only: bool,
    cache: &mut BTreeMap<String, Manifest>,
) -> Res<Reach> {
    let mut r = Reach::default();
    for location in lists.values() {
        let list = list_of(bucket, env, location).await?;
        r.add_list(location, &list);
        for mf in &list {
            if !cache.contains_key(&mf.manifest_path) {
                let m = manifest_of(bucket, env, mf).await?;
                cache.insert(mf.manifest_path.clone(), m);
            }
            if let Some(m) = cache.get(&mf.manifest_path) {
                r.add_manifest(m, live_only);
            }
        }
    }
    Ok(r)
}

/// Expires one table's old snapshots and deletes what only they reached; its summary.
pub async fn expire_table(env: &Env, cfg: &ModeConfig, retain: Retain) -> Res<Value> {
    let bucket = env.bucket("WAREHOUSE").map_err(|e| format!("WAREHOUSE: {e}"))?;
    for attempt in 1..=MAX_ATTEMPTS {
        let Some(cur) = commit::current_in(&bucket, env, cfg).await? else {
            return Ok(json!({"mode": cfg.mode, "expired": 0, "version": null, "deleted": []}));
        };
        let Some(expiry) = expire(&cur.metadata, retain, &cur.location, now_ms() as i64) else {
            return Ok(json!({"mode": cfg.mode, "expired": 0, "version": cur.version, "deleted": []}));
        };
        let (kept_lists, expired_lists) = manifest_lists(&cur.metadata, &expiry);
        let mut cache = BTreeMap::new();
        let kept = reach(&bucket, env, &kept_lists, true, &mut cache).await?;
        let gone = reach(&bucket, env, &expired_lists, false, &mut cache).await?;
        let locations = unreachable(&kept, &gone);
        let keys = locations.iter().map(|l| key_of(env, l)).collect::<Res<Vec<String>>>()?;
        let version = cur.version + 1;
        if !publish(&bucket, cfg, version, cur.hint_etag.clone(), &expiry.metadata).await? {
            continue;
        }
        // Only now, with the pointer past every snapshot that reached them.
        delete(&bucket, &keys).await?;
        return Ok(json!({
            "mode": cfg.mode, "version": version, "expired": expiry.expired.len(), "kept": expiry.kept.len(), "deleted": keys, "attempts": attempt,
        }));
    }
    Err(format!("{}: gave up after {MAX_ATTEMPTS} conflicting attempts", cfg.mode))
}

/// `POST /maintain/{compact|expire}`: runs the operation on `?mode=` (default every mode).
pub async fn route(op: &str, req: &Request, env: &Env) -> worker::Result<Response> {
    if op != "compact" && op != "expire" {
        return iceberg_error(404, "NotFoundException", &format!("no maintenance operation {op}"));
    }
    if req.method() != Method::Post {
        return iceberg_error(405, "MethodNotAllowed", &format!("POST /maintain/{op}"))
            .and_then(|r| r.headers().set("Allow", "POST").map(|()| r));
    }
    let url = req.url()?;
    let query = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string());
    let number = |name: &str| -> std::result::Result<Option<i64>, String> {
        query(name).map(|v| v.trim().parse::<i64>().map_err(|_| format!("{name}={v} is not a whole number"))).transpose()
    };
    let (target, keep, newer_than) = match (number("target_bytes"), number("keep"), number("newer_than")) {
        (Ok(t), Ok(k), Ok(n)) => (t, k, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return iceberg_error(400, "BadRequestException", &e),
    };
    let target = target.or_else(|| var(env, "MAINTAIN_TARGET_BYTES", "").trim().parse().ok()).unwrap_or(TARGET_BYTES).max(1);
    let retain = Retain { last: usize::try_from(keep.unwrap_or(1)).unwrap_or(1).max(1), newer_than_ms: newer_than };
    let modes: Vec<String> = match query("mode") {
        Some(m) => vec![m],
        None => Mode::ALL.map(|m| m.as_str().to_string()).into(),
    };
    let mut out = Vec::new();
    for m in modes {
        let Some(cfg) = ModeConfig::new(env, &m) else {
            return iceberg_error(400, "BadRequestException", &format!("unknown mode {m}"));
        };
        let done = if op == "compact" { compact(env, &cfg, target).await } else { expire_table(env, &cfg, retain).await };
        match done {
            Ok(v) => out.push(v),
            Err(e) => return iceberg_error(500, "CommitFailedException", &e),
        }
    }
    answer(200, &Value::Array(out))
}
