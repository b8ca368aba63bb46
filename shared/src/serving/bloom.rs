//! Parquet's split-block bloom filter (SBBF, `BloomFilter.md` of parquet-format) over xxHash64
//! (seed 0) of the key bytes: blocks of 256 bits (eight 32-bit words), the block chosen by the
//! hash's upper 32 bits (`(hash >> 32) * blocks >> 32`), one bit per word set from the lower 32
//! bits multiplied by the spec's salts. The root carries one per L0 file, sized ~10 bits per key
//! (about 1 % false positives), so a lookup skips the L0 runs that cannot hold its key.

use alloc::vec::Vec;

/// The spec's salts.
const SALT: [u32; 8] = [0x47b6_137b, 0x4497_4d91, 0x8824_ad5b, 0xa2b7_289d, 0x7054_95c7, 0x2df1_424b, 0x9efc_4947, 0x5c6b_fb31];

/// Bits per key the filters are sized for.
pub const BITS_PER_KEY: usize = 10;

/// Bytes of one block.
pub const BLOCK_BYTES: usize = 32;

/// A split-block bloom filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    blocks: Vec<[u32; 8]>,
}

impl Bloom {
    /// An empty filter sized for `keys` keys at [`BITS_PER_KEY`] (at least one block).
    pub fn with_keys(keys: usize) -> Bloom {
        let bits = keys.saturating_mul(BITS_PER_KEY);
        let blocks = bits.div_ceil(BLOCK_BYTES * 8).max(1);
        Bloom { blocks: alloc::vec![[0; 8]; blocks] }
    }

    /// A filter over `keys`.
    pub fn from_keys<'a>(keys: impl ExactSizeIterator<Item = &'a [u8]>) -> Bloom {
        let mut b = Bloom::with_keys(keys.len());
        for k in keys {
            b.insert(k);
        }
        b
    }

    /// Adds a key.
    pub fn insert(&mut self, key: &[u8]) {
        let h = xxh64(key, 0);
        let i = self.block_index(h);
        if let Some(block) = self.blocks.get_mut(i) {
            for (word, m) in block.iter_mut().zip(mask(h as u32)) {
                *word |= m;
            }
        }
    }

    /// Whether the key may have been added (`false`: certainly not).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let h = xxh64(key, 0);
        self.blocks.get(self.block_index(h)).is_none_or(|block| block.iter().zip(mask(h as u32)).all(|(w, m)| w & m != 0))
    }

    fn block_index(&self, h: u64) -> usize {
        (((h >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    /// The bitset as Parquet stores it: the words little-endian, block after block.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.blocks.iter().flatten().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A filter from [`Bloom::to_bytes`]; `None` unless a non-empty whole number of blocks.
    pub fn from_bytes(bytes: &[u8]) -> Option<Bloom> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(BLOCK_BYTES) {
            return None;
        }
        let blocks = bytes
            .chunks_exact(BLOCK_BYTES)
            .map(|b| {
                let mut block = [0u32; 8];
                for (w, c) in block.iter_mut().zip(b.chunks_exact(4)) {
                    *w = le_word(c);
                }
                block
            })
            .collect();
        Some(Bloom { blocks })
    }
}

/// [`Bloom::may_contain`] over a bitset as [`Bloom::to_bytes`] gives it, without copying it (a
/// lookup probes each L0 file's filter in the root once). `true` when the bytes are not whole
/// blocks (no usable filter: the file may hold the key).
pub fn bytes_may_contain(bitset: &[u8], key: &[u8]) -> bool {
    let blocks = bitset.len() / BLOCK_BYTES;
    if blocks == 0 || !bitset.len().is_multiple_of(BLOCK_BYTES) {
        return true;
    }
    let h = xxh64(key, 0);
    let i = (((h >> 32) * blocks as u64) >> 32) as usize;
    let Some(block) = bitset.get(i * BLOCK_BYTES..(i + 1) * BLOCK_BYTES) else { return true };
    block.chunks_exact(4).map(le_word).zip(mask(h as u32)).all(|(w, m)| w & m != 0)
}

/// A little-endian word of four bytes (fewer read as zeros).
fn le_word(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

/// One bit per word: the top five bits of `x * salt`.
fn mask(x: u32) -> [u32; 8] {
    SALT.map(|s| 1u32 << (x.wrapping_mul(s) >> 27))
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u64::from_le_bytes(a)
}

fn read_u32(b: &[u8]) -> u64 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u64::from(u32::from_le_bytes(a))
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

fn merge_round(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

/// xxHash64 (the reference algorithm, `XXH64`) of `data` with `seed`.
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let len = data.len() as u64;
    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        let mut stripes = data.chunks_exact(32);
        for stripe in &mut stripes {
            for (acc, lane) in v.iter_mut().zip(stripe.chunks_exact(8)) {
                *acc = round(*acc, read_u64(lane));
            }
        }
        rest = stripes.remainder();
        let [v1, v2, v3, v4] = v;
        let mut h = v1.rotate_left(1).wrapping_add(v2.rotate_left(7)).wrapping_add(v3.rotate_left(12)).wrapping_add(v4.rotate_left(18));
        for acc in v {
            h = merge_round(h, acc);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len);
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        h ^= round(0, read_u64(w));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        h ^= read_u32(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = rest.get(4..).unwrap_or(&[]);
    }
    for b in rest {
        h ^= u64::from(*b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    #[test]
    fn xxh64_test_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        // Reference values (xxhsum / the twox-hash crate), covering every path: the 32-byte stripes,
        // 8-byte words, a 4-byte word, single bytes, and a seed.
        let long: Vec<u8> = (0..100u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(xxh64(b"abcd", 0), 0xDE03_27B0_D25D_92CC);
        assert_eq!(xxh64(b"abcdefgh", 0), 0x3AD3_5177_5B46_34B7);
        assert_eq!(xxh64(b"message digest", 0), 0x066E_D728_FCEE_B3BE);
        assert_eq!(xxh64(b"abcdefghijklmnopqrstuvwxyz", 0), 0xCFE1_F278_FA89_835C);
        assert_eq!(xxh64(b"Nobody inspects the spammish repetition", 0), 0xFBCE_A83C_8A37_8BF1);
        assert_eq!(xxh64(&long, 0), 0xA61F_8D4C_170F_E531);
        assert_eq!(xxh64(&long[..32], 0), 0x23C3_C17E_F790_FD97);
        assert_eq!(xxh64(&long[..63], 0), 0x5E3E_54B4_31C7_493C);
        assert_eq!(xxh64(b"abc", 0x9E37_79B1_85EB_CA87), 0xA7CB_2AAC_405E_36C7);
    }

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        let keys: Vec<Vec<u8>> = (0..20_000).map(|i| format!("ns\0type\0id-{i}").into_bytes()).collect();
        let bloom = Bloom::from_keys(keys.iter().map(Vec::as_slice));
        assert_eq!(bloom.to_bytes().len(), (20_000usize * 10).div_ceil(256) * 32, "whole blocks, ~10 bits a key");
        assert!(keys.iter().all(|k| bloom.may_contain(k)));
        let fp = (0..100_000).filter(|i| bloom.may_contain(format!("ns\0type\0other-{i}").as_bytes())).count();
        assert!(fp < 2_000, "{fp} false positives in 100,000");
    }

    #[test]
    fn probing_the_bytes_agrees_with_the_filter() {
        let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("k{i}").into_bytes()).collect();
        let bloom = Bloom::from_keys(keys.iter().map(Vec::as_slice));
        let bytes = bloom.to_bytes();
        for i in 0..5_000 {
            let probe = format!("k{i}");
            assert_eq!(bytes_may_contain(&bytes, probe.as_bytes()), bloom.may_contain(probe.as_bytes()), "{probe}");
        }
        assert!(bytes_may_contain(&[], b"x") && bytes_may_contain(&[0; 31], b"x"), "no usable filter admits every key");
    }

    #[test]
    fn bytes_round_trip() {
        let bloom = Bloom::from_keys([&b"a"[..], b"b", b"c"].into_iter());
        let bytes = bloom.to_bytes();
        assert_eq!(bytes.len(), 32);
        assert_eq!(Bloom::from_bytes(&bytes), Some(bloom));
        assert_eq!(Bloom::from_bytes(&[]), None);
        assert_eq!(Bloom::from_bytes(&[0; 33]), None);
    }

    /// arrow-rs's `Sbbf` (what its Parquet writer writes) over the same bitset sets the same bits.
    #[cfg(feature = "parquet")]
    #[test]
    fn same_bits_as_arrow_rs() {
        let keys: Vec<Vec<u8>> = (0..3_000).map(|i| format!("acme\0doc\0{i}").into_bytes()).collect();
        let mine = Bloom::from_keys(keys.iter().map(Vec::as_slice));
        let mut theirs = arrow_parquet::bloom_filter::Sbbf::new(&alloc::vec![0u8; mine.to_bytes().len()]);
        for k in &keys {
            theirs.insert(k.as_slice());
        }
        let mut bits = Vec::new();
        theirs.write_bitset(&mut bits).unwrap();
        assert_eq!(bits, mine.to_bytes());
        for i in 0..5_000 {
            let probe = format!("acme\0doc\0x{i}");
            assert_eq!(theirs.check(probe.as_bytes()), mine.may_contain(probe.as_bytes()));
        }
    }
}
