//! The lookup entry: the `_lookup` cell of a serving-table row, `key 0x00 json` where json is
//! `{"ts","seq","src","pos","del","vis","oo","ou","h","n"}` (ts µs, `_seq`, `_source`, `_pos`,
//! deleted, visibility, owner org, owner user, content hash, size bytes; absent members are
//! null). It carries everything serve needs to pick the winner and decide who may read it, so a
//! lookup reads one page of one column to find and judge a row. Keys never contain a third
//! `0x00` and JSON text never contains a raw `0x00`, so the separator is the key's end; keys are
//! unique in a file and a cell's key is followed by `0x00`, the least byte, so cells sort as
//! their keys do.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::key;
use super::order::Order;

/// One row's lookup entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `ns 0x00 type 0x00 id` ([`key::key`]).
    pub key: Vec<u8>,
    /// Its place in the winner rule.
    pub order: Order,
    /// A tombstone.
    pub deleted: bool,
    /// `visibility`.
    pub visibility: Option<String>,
    /// `owner_org`.
    pub owner_org: Option<String>,
    /// `owner_user`.
    pub owner_user: Option<String>,
    /// `content_hash`.
    pub content_hash: Option<String>,
    /// `size_bytes`.
    pub size_bytes: Option<i64>,
}

/// The JSON half, members in the order written.
#[derive(Serialize, Deserialize)]
struct Wire {
    ts: i64,
    seq: i64,
    src: u32,
    pos: u64,
    del: bool,
    vis: Option<String>,
    oo: Option<String>,
    ou: Option<String>,
    h: Option<String>,
    n: Option<i64>,
}

impl Entry {
    /// The `_lookup` cell: `key 0x00 json`.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            ts: self.order.ts,
            seq: self.order.seq,
            src: self.order.source,
            pos: self.order.pos,
            del: self.deleted,
            vis: self.visibility.clone(),
            oo: self.owner_org.clone(),
            ou: self.owner_user.clone(),
            h: self.content_hash.clone(),
            n: self.size_bytes,
        };
        let mut out = Vec::with_capacity(self.key.len().saturating_add(160));
        out.extend_from_slice(&self.key);
        out.push(0);
        // Serializing this struct to a Vec cannot fail (no maps with non-string keys, no I/O).
        out.extend_from_slice(&serde_json::to_vec(&wire).unwrap_or_default());
        out
    }

    /// The entry of a `_lookup` cell; `None` when the key is not three UTF-8 parts or the JSON
    /// is not an entry.
    pub fn decode(cell: &[u8]) -> Option<Entry> {
        let (k, json) = split_cell(cell)?;
        key::split(k)?;
        let w: Wire = serde_json::from_slice(json).ok()?;
        Some(Entry {
            key: k.to_vec(),
            order: Order { ts: w.ts, seq: w.seq, source: w.src, pos: w.pos },
            deleted: w.del,
            visibility: w.vis,
            owner_org: w.oo,
            owner_user: w.ou,
            content_hash: w.h,
            size_bytes: w.n,
        })
    }
}

/// The key of a `_lookup` cell without decoding its JSON (for binary search over a page).
pub fn cell_key(cell: &[u8]) -> Option<&[u8]> {
    split_cell(cell).map(|(k, _)| k)
}

/// `(key, json)`: the cell split at its third `0x00`.
fn split_cell(cell: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = cell.iter().enumerate().filter(|(_, b)| **b == 0).nth(2).map(|(i, _)| i)?;
    Some((cell.get(..at)?, cell.get(at.checked_add(1)?..)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    use crate::test_rng::Rng;

    /// Random text and optional text for entries.
    trait Texts {
        fn text(&mut self, max: u64) -> String;
        fn opt(&mut self) -> Option<String>;
    }

    impl Texts for Rng {
        fn text(&mut self, max: u64) -> String {
            let alphabet = ['a', 'b', '-', '.', '/', '"', '\\', 'é', '\u{1}', '😀', 'z', '~'];
            (0..self.below(max + 1)).map(|_| alphabet[self.below(alphabet.len() as u64) as usize]).collect()
        }
        fn opt(&mut self) -> Option<String> {
            (self.below(3) > 0).then(|| self.text(8))
        }
    }

    fn random_entry(rng: &mut Rng) -> Entry {
        let (ns, ty, id) = (rng.text(3), rng.text(2), rng.text(6));
        Entry {
            key: key::key(&ns, &ty, &id),
            order: Order { ts: rng.next() as i64, seq: rng.next() as i64, source: rng.next() as u32, pos: rng.next() },
            deleted: rng.below(2) == 0,
            visibility: rng.opt(),
            owner_org: rng.opt(),
            owner_user: rng.opt(),
            content_hash: rng.opt(),
            size_bytes: (rng.below(3) > 0).then(|| rng.next() as i64),
        }
    }

    #[test]
    fn round_trips() {
        let mut rng = Rng(3);
        for _ in 0..5_000 {
            let e = random_entry(&mut rng);
            let cell = e.encode();
            assert_eq!(Entry::decode(&cell).as_ref(), Some(&e));
            assert_eq!(cell_key(&cell), Some(e.key.as_slice()));
        }
    }

    #[test]
    fn the_wire_format() {
        let e = Entry {
            key: key::key("acme", "doc", "x"),
            order: Order { ts: 1, seq: 2, source: 3, pos: 4 },
            deleted: false,
            visibility: Some("public".into()),
            owner_org: Some("acme".into()),
            owner_user: None,
            content_hash: Some("ab".into()),
            size_bytes: Some(5),
        };
        let cell = e.encode();
        assert_eq!(
            cell,
            b"acme\0doc\0x\0{\"ts\":1,\"seq\":2,\"src\":3,\"pos\":4,\"del\":false,\"vis\":\"public\",\"oo\":\"acme\",\"ou\":null,\"h\":\"ab\",\"n\":5}"
        );
        // Absent members are null.
        let short = b"a\0b\0c\0{\"ts\":1,\"seq\":2,\"src\":0,\"pos\":4,\"del\":true}";
        let d = Entry::decode(short).unwrap();
        assert!(d.deleted && d.visibility.is_none() && d.size_bytes.is_none());
    }

    #[test]
    fn refuses_what_is_not_an_entry() {
        for bad in [
            &b""[..],
            b"a\0b\0c",
            b"a\0b\0c\0",
            b"a\0b\0c\0{}",
            b"a\0b\0c\0{\"ts\":\"1\",\"seq\":2,\"src\":0,\"pos\":4,\"del\":true}",
            b"a\0\xff\0c\0{\"ts\":1,\"seq\":2,\"src\":0,\"pos\":4,\"del\":true}",
        ] {
            assert_eq!(Entry::decode(bad), None, "{:?}", String::from_utf8_lossy(bad).to_string());
        }
    }

    #[test]
    fn cells_sort_as_keys_do() {
        let mut rng = Rng(5);
        for _ in 0..200 {
            let mut entries: Vec<Entry> = (0..20).map(|_| random_entry(&mut rng)).collect();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            entries.dedup_by(|a, b| a.key == b.key);
            let mut cells: Vec<Vec<u8>> = entries.iter().map(Entry::encode).collect();
            cells.reverse();
            cells.sort();
            let keys: Vec<Vec<u8>> = cells.iter().map(|c| cell_key(c).unwrap().to_vec()).collect();
            assert_eq!(keys, entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>());
        }
        // A key that is a prefix of another.
        let short = Entry { key: key::key("a", "b", "c"), ..random_entry(&mut rng) };
        let long = Entry { key: key::key("a", "b", "c "), ..random_entry(&mut rng) };
        assert!(short.encode() < long.encode());
    }
}
