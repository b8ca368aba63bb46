//! Which shard of the ledger holds a key. `shard_of(key, n)` is Lamping and Veach's jump
//! consistent hash of the key's xxHash64 (seed 0; the serving table's bloom hash): stable across
//! versions and languages, and growing `n` to `n + 1` moves only about `1 / (n + 1)` of the keys,
//! all of them to the new shard.

use crate::serving::bloom::xxh64;
use alloc::string::String;

/// Shards when `LEDGER_SHARDS` is not set.
pub const DEFAULT_SHARDS: u32 = 16;

/// The most shards a deployment may configure (one Durable Object each).
pub const MAX_SHARDS: u32 = 1024;

/// The shard (`0..shards`) of an `ns/type/id` key, or of any other ledger key (idempotency keys
/// are [`crate::key::compose`]d first). `shards` is clamped to `1..=MAX_SHARDS`.
pub fn shard_of(key: &str, shards: u32) -> u32 {
    jump(xxh64(key.as_bytes(), 0), shards.clamp(1, MAX_SHARDS))
}

/// The Durable Object name of a shard (`idFromName`): `ledger/<shard>`.
pub fn object_name(shard: u32) -> String {
    alloc::format!("ledger/{shard}")
}

/// The shard count from the `LEDGER_SHARDS` var: a number in `1..=MAX_SHARDS`, else the default.
pub fn parse_shards(var: Option<&str>) -> u32 {
    var.and_then(|v| v.trim().parse::<u32>().ok()).filter(|n| (1..=MAX_SHARDS).contains(n)).unwrap_or(DEFAULT_SHARDS)
}

/// Jump consistent hash (Lamping and Veach, 2014): a bucket in `0..buckets` (0 when `buckets` is
/// 0), with the paper's 64-bit linear congruential generator and double division, as Guava's
/// `Hashing.consistentHash` does.
pub fn jump(mut key: u64, buckets: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    u32::try_from(b.max(0)).unwrap_or(0)
}
