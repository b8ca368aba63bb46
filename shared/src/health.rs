//! The `GET /$.health` answer both workers give.

use alloc::string::{String, ToString};
use serde_json::json;

/// Path of the health route.
pub const PATH: &str = "/$.health";

/// JSON body `{ "worker", "version", "resets", "memory_bytes" }`: `resets` counts how often the
/// wasm instance was reinitialised after a trap (it must stay 0); `memory_bytes` is the size of
/// the instance's linear memory (it only grows, so it shows the peak).
pub fn body(worker: &str, version: &str, resets: u32, memory_bytes: u64) -> String {
    json!({ "worker": worker, "version": version, "resets": resets, "memory_bytes": memory_bytes }).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn health_names_worker_and_version() {
        let v: serde_json::Value = serde_json::from_str(&super::body("ingest", "0.1.0", 0, 65536)).unwrap();
        assert_eq!(v["worker"], "ingest");
        assert_eq!(v["version"], "0.1.0");
        assert_eq!(v["resets"], 0);
        assert_eq!(v["memory_bytes"], 65536);
    }
}
