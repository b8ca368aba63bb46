//! The consumer of `LEDGER_OUTBOX`: ingest's deferred confirms. A message is the body of one
//! `confirm` (writes, with pending copies, and successor marks) that ingest could not deliver; the consumer regroups
//! its writes by shard (so a message addressed to the wrong shard, or to a shard count that
//! changed, still reaches the right objects) and calls each shard's `confirm`. Confirms are
//! idempotent and order-free (rules 1–2 of the design), so a redelivery or a message overtaken by
//! newer confirms changes nothing wrong.

use serde_json::Value;
use shared::ledger::shard::shard_of;

/// The confirm body for each shard a message's writes fall in (shards in order of first
/// appearance, writes in message order). `Err` when the message is not a confirm body: it is acknowledged and counted, never
/// retried (a retry cannot make it valid).
pub fn plan(text: &str, shards: u32) -> Result<Vec<(u32, String)>, crate::wire::BadCall> {
    // Parsed first only to refuse what is not a confirm body (writes and marks, #18).
    crate::wire::parse_confirm(text)?;
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
        return Err(crate::wire::BadCall("the body is not an array of writes".into()));
    };
    // Not `batch::by_shard`: it sorts (a stable sort is ~1.8 KB of gzip in a 64 KiB module), and
    // a message is one shard's body, so its writes form one group in the common case. Groups in
    // order of first appearance; every item (a write or a mark: each has its key in `k`) moves
    // into exactly one group.
    let mut groups: Vec<(u32, Vec<Value>)> = Vec::new();
    for item in items {
        let shard = shard_of(item.get("k").and_then(Value::as_str).unwrap_or_default(), shards);
        match groups.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, list)) => list.push(item),
            None => groups.push((shard, vec![item])),
        }
    }
    Ok(groups.into_iter().map(|(shard, list)| (shard, Value::Array(list).to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::plan;
    use shared::ledger::shard::shard_of;

    #[test]
    fn a_message_becomes_one_confirm_per_shard_with_copies_kept() {
        let w = |k: &str, r: Option<&str>| {
            let mut v = serde_json::json!({"k": k, "t": 5, "c": "h", "v": "public", "o": "acme", "u": "alice", "m": "preview", "d": false});
            if let Some(r) = r {
                v["r"] = r.into();
            }
            v
        };
        let keys: Vec<String> = (0..20).map(|i| format!("acme/page/{i}")).collect();
        let body = serde_json::Value::Array(keys.iter().map(|k| w(k, Some("{\"x\": 1}"))).collect()).to_string();
        let calls = plan(&body, 4).unwrap();
        let mut seen = 0;
        for (shard, text) in &calls {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            for item in v.as_array().unwrap() {
                assert_eq!(shard_of(item["k"].as_str().unwrap(), 4), *shard);
                assert_eq!(item["r"], "{\"x\": 1}", "the copy rides along");
                seen += 1;
            }
        }
        assert_eq!(seen, 20);
        let shards: Vec<u32> = calls.iter().map(|(s, _)| *s).collect();
        assert_eq!(shards.len(), shards.iter().collect::<std::collections::BTreeSet<_>>().len(), "one call per shard");
        // Marks ride along to their own key's shard (#18).
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_array_mut().unwrap().push(serde_json::json!({"k": "old/page/9", "succ": true}));
        let calls = plan(&v.to_string(), 4).unwrap();
        let (shard, text) = calls.iter().find(|(_, t)| t.contains("\"succ\"")).unwrap();
        assert_eq!(*shard, shard_of("old/page/9", 4));
        assert_eq!(crate::wire::parse_confirm(text).unwrap().marks, vec!["old/page/9".to_string()]);
        assert!(plan("[{\"k\":\"a/b/c\",\"succ\":1}]", 4).is_err());
        assert!(plan("{\"run\":1}", 4).is_err());
        assert!(plan("[{\"k\":\"a/b/c\"}]", 4).is_err());
        assert_eq!(plan("[]", 4).unwrap(), vec![]);
    }
}
