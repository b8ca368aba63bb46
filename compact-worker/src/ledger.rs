//! The ledger's `covered` (#17, `docs/design/ledger.md`, "Pending copies" 3–4): after a run that
//! committed a version, the keys it absorbed from pending-enabled sources (`LEDGER_PENDING_MODES`,
//! default `preview`) with their winning `(ts, dedupe)` go to their shards (`LEDGER_SHARDS`), once
//! per shard touched, each call with every source's watermark. The ledger deletes the copies at
//! or below what was absorbed. A failed call is logged and counted, never fails the run: the
//! ledger's alarm ages copies out anyway.

use std::collections::BTreeMap;

use compactor::Report;
use serde_json::{json, Value};
use shared::ledger::shard;
use wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit};

/// The modes whose sources' keys are reported (`LEDGER_PENDING_MODES`, comma-separated).
pub fn pending_modes(env: &Env) -> Vec<String> {
    let v = env.var("LEDGER_PENDING_MODES").map(|v| v.to_string()).unwrap_or_default();
    let modes: Vec<String> = v.split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect();
    if modes.is_empty() {
        vec!["preview".into()]
    } else {
        modes
    }
}

/// The `covered` bodies of a run, by shard (ascending): the absorbed keys of sources whose mode is
/// in `modes`, grouped by `shard_of(key, shards)`, each with the watermarks of the sources that
/// have a mode (`committed_at_ms`: `now_ms`, the run's clock — the snapshot was committed by then).
/// Empty when no key of such a source was absorbed.
pub fn bodies(report: &Report, modes: &[String], shards: u32, now_ms: i64) -> Vec<(u32, String)> {
    let mut by_shard: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    for a in &report.absorbed {
        if a.mode.as_deref().is_some_and(|m| modes.iter().any(|x| x == m)) {
            by_shard.entry(shard::shard_of(&a.key, shards)).or_default().push(json!({ "k": a.key, "t": a.ts, "h": a.dedupe }));
        }
    }
    let marks: Vec<Value> = report
        .watermarks
        .iter()
        .filter_map(|m| {
            Some(json!({
                "source": m.source,
                "mode": m.mode.as_deref()?,
                "snapshot_id": m.snapshot_id.to_string(),
                "seq": m.seq,
                "committed_at_ms": now_ms,
            }))
        })
        .collect();
    by_shard.into_iter().map(|(i, entries)| (i, json!({ "entries": entries, "watermarks": marks }).to_string())).collect()
}

/// Sends a run's `covered` calls (in parallel) and sums their answers:
/// `{"calls", "failed", "trimmed"}`; `None` when no ledger is bound or nothing was to be sent.
pub async fn covered(env: &Env, report: &Report, now_ms: i64) -> Option<Value> {
    let namespace = env.durable_object("LEDGER").ok()?;
    let shards = shard::parse_shards(env.var("LEDGER_SHARDS").ok().map(|v| v.to_string()).as_deref());
    let calls = bodies(report, &pending_modes(env), shards, now_ms);
    if calls.is_empty() {
        return None;
    }
    let one = |i: u32, body: String| {
        let namespace = namespace.clone();
        async move {
            let stub = namespace.id_from_name(&shard::object_name(i))?.get_stub()?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
            let mut res = stub.fetch_with_request(Request::new_with_init("https://ledger/covered", &init)?).await?;
            let text = res.text().await?;
            if res.status_code() != 200 {
                return Err(worker::Error::RustError(format!("covered on shard {i}: {} {text}", res.status_code())));
            }
            let v: Value = serde_json::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))?;
            Ok(v.get("trimmed").and_then(Value::as_u64).unwrap_or(0))
        }
    };
    let n = calls.len();
    let results = futures_util::future::join_all(calls.into_iter().map(|(i, body)| one(i, body))).await;
    let (mut trimmed, mut failed) = (0u64, 0u64);
    for r in results {
        match r {
            Ok(t) => trimmed = trimmed.saturating_add(t),
            Err(e) => {
                failed = failed.saturating_add(1);
                worker::console_error!("ledger covered failed: {e}");
            }
        }
    }
    Some(json!({ "calls": n, "failed": failed, "trimmed": trimmed }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use compactor::covered::{Absorbed, Mark};

    #[test]
    fn one_body_per_shard_touched_with_the_pending_sources_keys_and_every_watermark() {
        let mark =
            |source: &str, mode: Option<&str>| Mark { source: source.into(), mode: mode.map(String::from), snapshot_id: i64::MAX, seq: 3 };
        let report = Report {
            absorbed: (0..40)
                .map(|i| Absorbed {
                    source: i % 3,
                    mode: ["preview", "build", "bulk"].get(usize::try_from(i % 3).unwrap()).map(|m| m.to_string()),
                    key: format!("a/t/{i}"),
                    ts: i64::from(i),
                    dedupe: format!("d{i}"),
                })
                .collect(),
            watermarks: vec![mark("artifacts/preview", Some("preview")), mark("artifacts/build", Some("build")), mark("other", None)],
            ..Report::default()
        };
        let out = bodies(&report, &["preview".into()], 4, 1_000);
        let shards: Vec<u32> = out.iter().map(|(i, _)| *i).collect();
        assert!(shards.windows(2).all(|w| w[0] < w[1]), "once per shard, ascending: {shards:?}");
        let mut keys = Vec::new();
        for (i, body) in &out {
            let v: Value = serde_json::from_str(body).unwrap();
            for e in v["entries"].as_array().unwrap() {
                let k = e["k"].as_str().unwrap().to_string();
                assert_eq!(shard::shard_of(&k, 4), *i);
                let n: i64 = k.rsplit('/').next().unwrap().parse().unwrap();
                assert_eq!((e["t"].as_i64(), e["h"].as_str()), (Some(n), Some(format!("d{n}").as_str())));
                keys.push(n);
            }
            assert_eq!(
                v["watermarks"],
                json!([
                    {"source": "artifacts/preview", "mode": "preview", "snapshot_id": "9223372036854775807", "seq": 3, "committed_at_ms": 1000},
                    {"source": "artifacts/build", "mode": "build", "snapshot_id": "9223372036854775807", "seq": 3, "committed_at_ms": 1000},
                ])
            );
        }
        keys.sort_unstable();
        assert_eq!(keys, (0..40).filter(|i| i % 3 == 0).collect::<Vec<i64>>(), "only the preview source's keys");
        assert!(bodies(&report, &["nope".into()], 4, 1_000).is_empty(), "no key of a pending-enabled source: no call");
    }
}
