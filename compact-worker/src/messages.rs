//! What a queue message asks for, decided without I/O (native tests below).
//!
//! The queue carries two kinds of message:
//! - R2 event notifications (`{"account", "bucket", "object": {"key", "size", "eTag"}, "action",
//!   "eventTime"}`) for objects under the source tables' metadata prefixes: a sink commit. A
//!   batch that names a source metadata object created is one trigger, however many it names.
//! - Run orders `{"run": i}`, which this worker sends itself when the serving table is split: one
//!   per range, so the ranges run in parallel invocations.
//!
//! Anything else is malformed: acked and counted, never retried (a retry could not make it
//! well-formed). A notification for a key outside every source's `metadata/` prefix (the
//! serving table's own commits, data files) or for a deletion is acked and ignored.

use std::collections::BTreeMap;

use serde_json::Value;

/// One message, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Run the compactor for range `i`.
    Run(usize),
    /// An object was created at this key (`PutObject`, `CopyObject`, `CompleteMultipartUpload`).
    Created(String),
    /// A notification that never triggers a run (a deletion).
    Other(String),
    /// Not a message this worker understands; why.
    Malformed(String),
}

/// R2's actions that create an object.
const CREATES: [&str; 3] = ["PutObject", "CopyObject", "CompleteMultipartUpload"];

/// Classifies one message body (as JSON; a text body is parsed first by the caller).
pub fn classify(body: &Value) -> Kind {
    let Some(obj) = body.as_object() else { return Kind::Malformed("the body is not a JSON object".into()) };
    if let Some(run) = obj.get("run") {
        return match run.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(i) => Kind::Run(i),
            None => Kind::Malformed(format!("run order {run} is not a range index")),
        };
    }
    let key = obj.get("object").and_then(|o| o.get("key")).and_then(Value::as_str);
    let action = obj.get("action").and_then(Value::as_str);
    match (key, action) {
        (Some(key), Some(action)) if !key.is_empty() => {
            if CREATES.contains(&action) {
                Kind::Created(key.to_string())
            } else {
                Kind::Other(format!("{action} {key}"))
            }
        }
        _ => Kind::Malformed("neither a run order nor an R2 event notification (object.key, action)".into()),
    }
}

/// Whether `key` is a metadata object of one of the sources whose metadata directories (keys
/// ending in `/`) are `dirs`.
pub fn names_source(key: &str, dirs: &[String]) -> bool {
    dirs.iter().any(|d| key.len() > d.len() && key.starts_with(d.as_str()))
}

/// The metadata directory of a table root (`artifacts/preview` → `artifacts/preview/metadata/`).
pub fn metadata_dir_of_root(root: &str) -> String {
    format!("{}/metadata/", root.trim_end_matches('/'))
}

/// The directory of a metadata key (`a/b/metadata/v3.metadata.json` → `a/b/metadata/`).
pub fn dir_of(key: &str) -> String {
    key.rfind('/').and_then(|i| key.get(..=i)).unwrap_or("").to_string()
}

/// What a batch asks for: message indices by what becomes of them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Notifications naming a source metadata object: together one trigger.
    pub trigger: Vec<usize>,
    /// Run orders by range (several orders for one range run it once).
    pub runs: BTreeMap<usize, Vec<usize>>,
    /// Acked and ignored: keys outside every source's metadata, deletions.
    pub ignored: Vec<usize>,
    /// Acked and counted: why each is malformed.
    pub malformed: Vec<(usize, String)>,
}

/// Sorts a batch's bodies; `ranges` is how many range tables there are, `is_source` whether a
/// created key is a source metadata object.
pub fn sort(bodies: &[Value], ranges: usize, is_source: impl Fn(&str) -> bool) -> Sorted {
    let mut out = Sorted::default();
    for (i, body) in bodies.iter().enumerate() {
        match classify(body) {
            Kind::Run(r) if r < ranges => out.runs.entry(r).or_default().push(i),
            Kind::Run(r) => out.malformed.push((i, format!("run order for range {r}, but there are {ranges} ranges"))),
            Kind::Created(key) if is_source(&key) => out.trigger.push(i),
            Kind::Created(_) | Kind::Other(_) => out.ignored.push(i),
            Kind::Malformed(why) => out.malformed.push((i, why)),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(key: &str, action: &str) -> Value {
        json!({"account": "a", "bucket": "artifacts-warehouse", "object": {"key": key, "size": 3, "eTag": "e"}, "action": action, "eventTime": "2026-12-05T10:00:00Z"})
    }

    #[test]
    fn run_orders_notifications_and_the_rest() {
        assert_eq!(classify(&json!({"run": 2})), Kind::Run(2));
        assert_eq!(classify(&note("t/metadata/v2.metadata.json", "PutObject")), Kind::Created("t/metadata/v2.metadata.json".into()));
        assert_eq!(classify(&note("t/metadata/x", "CompleteMultipartUpload")), Kind::Created("t/metadata/x".into()));
        assert!(matches!(classify(&note("t/metadata/x", "DeleteObject")), Kind::Other(_)));
        for bad in [
            json!("text"),
            json!(null),
            json!([1]),
            json!({"run": -1}),
            json!({"run": "1"}),
            json!({"object": {}}),
            json!({"object": {"key": ""}, "action": "PutObject"}),
        ] {
            assert!(matches!(classify(&bad), Kind::Malformed(_)), "{bad}");
        }
    }

    #[test]
    fn source_metadata_is_under_a_metadata_dir() {
        let dirs = vec![metadata_dir_of_root("artifacts/preview/"), dir_of("__r2_data_catalog/w/t/metadata/00001-u.metadata.json")];
        assert_eq!(dirs, vec!["artifacts/preview/metadata/".to_string(), "__r2_data_catalog/w/t/metadata/".to_string()]);
        assert!(names_source("artifacts/preview/metadata/v3.metadata.json", &dirs));
        assert!(names_source("__r2_data_catalog/w/t/metadata/snap-1.avro", &dirs));
        assert!(!names_source("artifacts/preview/data/x.parquet", &dirs));
        assert!(!names_source("artifacts/preview/metadata/", &dirs));
        assert!(!names_source("serving/artifacts/metadata/v9.metadata.json", &dirs));
    }

    #[test]
    fn a_batch_is_one_trigger_and_runs_each_range_once() {
        let dirs = vec!["s/metadata/".to_string()];
        let bodies = vec![
            note("s/metadata/a.avro", "PutObject"),
            json!({"run": 1}),
            note("serving/artifacts/metadata/v2.metadata.json", "PutObject"),
            json!({"run": 1}),
            json!({"run": 7}),
            json!("garbage"),
            note("s/metadata/v2.metadata.json", "PutObject"),
            note("s/metadata/v1.metadata.json", "DeleteObject"),
        ];
        let s = sort(&bodies, 2, |k| names_source(k, &dirs));
        assert_eq!(s.trigger, vec![0, 6]);
        assert_eq!(s.runs.into_iter().collect::<Vec<_>>(), vec![(1, vec![1, 3])]);
        assert_eq!(s.ignored, vec![2, 7]);
        assert_eq!(s.malformed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![4, 5]);
    }
}
