//! The lookup entry: the `_lookup` cell of a serving-table row, `key 0x00 json` where json is
//! `{"ts","seq","src","pos","del","vis","oo","ou","h","n"}` (ts µs, `_seq`, `_source`, `_pos`,
//! deleted, visibility, owner org, owner user, content hash, size bytes; absent members are
//! null), and since format 2 (#18) `"exp"` (`expires_at`, µs), `"tags"` (the row's `tags` JSON
//! text when at most [`MAX_TAGS_BYTES`]), `"tl": true` (the tags were longer: read the row's
//! `tags` column), `"xp": true` (the compactor expired the row: a tombstone whose columns are
//! null) and `"sp": true` (the row lists something in `supersedes`, for the `Link` headers of
//! its answers), each written only when set — an entry of format 1 has none of them and reads as no
//! expiry, no tags. It carries everything serve needs to pick the winner and decide who may read
//! it (and, with format 2, whether it expired and whether a tag filter keeps it), so a lookup
//! reads one page of one column to find and judge a row. Keys never contain a third
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
    /// `expires_at` (µs; format 2, `exp`).
    pub expires_at: Option<i64>,
    /// `tags`, the JSON object text, when at most [`MAX_TAGS_BYTES`] (format 2, `tags`): see
    /// [`Entry::with_tags`].
    pub tags: Option<String>,
    /// The row has tags longer than [`MAX_TAGS_BYTES`], left out of the entry (`tl`): a tag
    /// filter reads the row's `tags` column.
    pub tags_too_long: bool,
    /// The compactor dropped the row's values because it expired more than the retention grace
    /// ago (`xp`): kept as a tombstone (`deleted` is true, `expires_at` kept) so that no older
    /// version of the key shows again.
    pub expired: bool,
    /// The row lists something in `supersedes` (`sp`): its answers read them for their
    /// `Link: rel="predecessor-version"` (#18). Absent in entries written before it: none.
    pub supersedes: bool,
}

/// Most bytes of `tags` text an entry carries (longer tags: [`Entry::tags_too_long`]).
pub const MAX_TAGS_BYTES: usize = 2048;

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
    // Format 2: written only when set, so format 1 entries and entries without them look alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    tl: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    xp: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    sp: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Entry {
    /// The entry with the row's `tags` text: carried when at most [`MAX_TAGS_BYTES`], else left
    /// out and [`Entry::tags_too_long`] set.
    pub fn with_tags(mut self, tags: Option<String>) -> Entry {
        self.tags_too_long = tags.as_ref().is_some_and(|t| t.len() > MAX_TAGS_BYTES);
        self.tags = tags.filter(|t| t.len() <= MAX_TAGS_BYTES);
        self
    }

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
            exp: self.expires_at,
            tags: self.tags.clone(),
            tl: self.tags_too_long,
            xp: self.expired,
            sp: self.supersedes,
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
            expires_at: w.exp,
            tags: w.tags,
            tags_too_long: w.tl,
            expired: w.xp,
            supersedes: w.sp,
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
    use alloc::format;
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
            expires_at: (rng.below(2) == 0).then(|| rng.next() as i64),
            tags: rng.opt(),
            tags_too_long: rng.below(4) == 0,
            expired: rng.below(4) == 0,
            supersedes: rng.below(3) == 0,
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
            expires_at: None,
            tags: None,
            tags_too_long: false,
            expired: false,
            supersedes: false,
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
        // Format 2's members, each only when set.
        let e2 = Entry { expires_at: Some(7), tags: Some("{\"k\":\"v\"}".into()), ..e.clone() };
        let cell = e2.encode();
        assert!(cell.ends_with(b"\"n\":5,\"exp\":7,\"tags\":\"{\\\"k\\\":\\\"v\\\"}\"}"), "{}", String::from_utf8_lossy(&cell));
        let e3 = Entry { deleted: true, expired: true, tags_too_long: true, expires_at: Some(-1), ..e.clone() };
        assert!(e3.encode().ends_with(b"\"n\":5,\"exp\":-1,\"tl\":true,\"xp\":true}"));
        assert_eq!(Entry::decode(&e3.encode()), Some(e3));
        // The row lists predecessors (#18 Link headers): `sp`, only when set.
        let e4 = Entry { supersedes: true, ..e.clone() };
        assert!(e4.encode().ends_with(b"\"n\":5,\"sp\":true}"));
        assert_eq!(Entry::decode(&e4.encode()), Some(e4));
        assert!(!Entry::decode(&e.encode()).unwrap().supersedes);
    }

    #[test]
    fn a_format_1_entry_reads_as_no_expiry_no_tags() {
        // As the compactor wrote them before #18 (every member, nulls included).
        let cell = b"acme\0doc\0x\0{\"ts\":1,\"seq\":2,\"src\":3,\"pos\":4,\"del\":false,\"vis\":\"public\",\"oo\":\"acme\",\"ou\":null,\"h\":\"ab\",\"n\":5}";
        let d = Entry::decode(cell).unwrap();
        assert_eq!((d.expires_at, d.tags, d.tags_too_long, d.expired), (None, None, false, false));
        assert_eq!((d.order.ts, d.visibility.as_deref(), d.size_bytes), (1, Some("public"), Some(5)));
        // Explicit nulls read as absent too.
        let nulls = b"a\0b\0c\0{\"ts\":1,\"seq\":2,\"src\":0,\"pos\":4,\"del\":true,\"exp\":null,\"tags\":null}";
        let d = Entry::decode(nulls).unwrap();
        assert_eq!((d.expires_at, d.tags), (None, None));
    }

    #[test]
    fn tags_longer_than_2_kib_are_left_out_and_flagged() {
        let base = Entry::decode(b"a\0b\0c\0{\"ts\":1,\"seq\":2,\"src\":0,\"pos\":4,\"del\":false}").unwrap();
        let fits = format!("{{\"k\":\"{}\"}}", "v".repeat(MAX_TAGS_BYTES - 8));
        assert_eq!(fits.len(), MAX_TAGS_BYTES);
        let e = base.clone().with_tags(Some(fits.clone()));
        assert_eq!((e.tags.as_deref(), e.tags_too_long), (Some(fits.as_str()), false));
        let long = format!("{{\"k\":\"{}\"}}", "v".repeat(MAX_TAGS_BYTES - 7));
        let e = base.clone().with_tags(Some(long));
        assert_eq!((e.tags.as_deref(), e.tags_too_long), (None, true));
        let d = Entry::decode(&e.encode()).unwrap();
        assert_eq!((d.tags, d.tags_too_long), (None, true));
        let e = base.with_tags(None);
        assert_eq!((e.tags, e.tags_too_long), (None, false));
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
