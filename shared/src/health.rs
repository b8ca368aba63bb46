//! The `GET /$.health` answer both workers give.

use alloc::string::{String, ToString};
use serde_json::{json, Value};

/// Path of the health route.
pub const PATH: &str = "/$.health";

/// JSON body `{ "worker", "version", "resets", "memory_bytes" }` plus the worker's own counters
/// (`extra`, e.g. serve's coalescing stats): `resets` counts how often the wasm instance was
/// reinitialised after a trap (it must stay 0); `memory_bytes` is the size of the instance's
/// linear memory (it only grows, so it shows the peak). A counter named like a common member
/// replaces it.
pub fn body(worker: &str, version: &str, resets: u32, memory_bytes: u64, extra: &[(&str, u64)]) -> String {
    let mut v = json!({ "worker": worker, "version": version, "resets": resets, "memory_bytes": memory_bytes });
    if let Value::Object(members) = &mut v {
        for (name, n) in extra {
            members.insert((*name).to_string(), (*n).into());
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn health_names_worker_and_version() {
        let v: serde_json::Value = serde_json::from_str(&super::body("ingest", "0.1.0", 0, 65536, &[])).unwrap();
        assert_eq!(v["worker"], "ingest");
        assert_eq!(v["version"], "0.1.0");
        assert_eq!(v["resets"], 0);
        assert_eq!(v["memory_bytes"], 65536);
        assert_eq!(v.as_object().unwrap().len(), 4);
    }

    #[test]
    fn health_carries_a_workers_own_counters() {
        let v: serde_json::Value =
            serde_json::from_str(&super::body("serve", "0.1.0", 1, 65536, &[("table_reads", 3), ("coalesced", 49)])).unwrap();
        assert_eq!(v["worker"], "serve");
        assert_eq!(v["resets"], 1);
        assert_eq!(v["table_reads"], 3);
        assert_eq!(v["coalesced"], 49);
        assert_eq!(v.as_object().unwrap().len(), 6);
    }
}
