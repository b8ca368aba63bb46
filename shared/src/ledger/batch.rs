//! A chunk's records grouped into one ledger call per shard: both of a chunk's calls (check before
//! `send()`, confirm after) go to the same shards with the same records.

use alloc::vec::Vec;

/// The record indices of each shard a batch touches: shards ascending, indices in record order.
/// `keys` are the records' `ns/type/id` keys; every index appears exactly once.
pub fn by_shard<S: AsRef<str>>(keys: &[S], shards: u32) -> Vec<(u32, Vec<usize>)> {
    let mut tagged: Vec<(u32, usize)> = keys.iter().enumerate().map(|(i, k)| (super::shard::shard_of(k.as_ref(), shards), i)).collect();
    // Stable by shard, so indices stay in record order within a shard.
    tagged.sort_by_key(|(s, _)| *s);
    let mut out: Vec<(u32, Vec<usize>)> = Vec::new();
    for (shard, i) in tagged {
        match out.last_mut() {
            Some((s, list)) if *s == shard => list.push(i),
            _ => out.push((shard, alloc::vec![i])),
        }
    }
    out
}
