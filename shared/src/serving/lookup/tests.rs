use super::*;
use crate::locate::test_table::{block_on, MemStore};
use crate::locate::{read_value_in, Cell, Cost, StoreError};
use crate::record::COLUMNS;
use crate::serving::key::key;
use crate::serving::root::SourceState;
use crate::writer::parquet::WriteCodec;
use crate::writer::serving::{write_serving_file, ServingRow};

/// One row of a serving file (what the compactor copies from a source row).
#[derive(Debug, Clone)]
pub(crate) struct SRow {
    pub ns: String,
    pub ty: String,
    pub id: String,
    pub order: Order,
    pub deleted: bool,
    pub visibility: Option<String>,
    pub owner_org: Option<String>,
    pub owner_user: Option<String>,
    pub content_hash: Option<String>,
    pub size_bytes: Option<i64>,
    pub markdown: Option<String>,
    pub expires_at: Option<i64>,
    pub tags: Option<String>,
}

pub(crate) fn srow(id: &str, ts: i64, seq: i64, source: u32, markdown: &str) -> SRow {
    SRow {
        ns: "docs".into(),
        ty: "guide".into(),
        id: id.into(),
        order: Order { ts, seq, source, pos: 0 },
        deleted: false,
        visibility: Some("public".into()),
        owner_org: Some("acme".into()),
        owner_user: Some("alice".into()),
        content_hash: Some(markdown.into()),
        size_bytes: Some(markdown.len() as i64),
        markdown: Some(markdown.into()),
        expires_at: None,
        tags: None,
    }
}

impl SRow {
    fn key(&self) -> Vec<u8> {
        key(&self.ns, &self.ty, &self.id)
    }

    fn entry(&self) -> Entry {
        Entry {
            key: self.key(),
            order: self.order,
            deleted: self.deleted,
            visibility: self.visibility.clone(),
            owner_org: self.owner_org.clone(),
            owner_user: self.owner_user.clone(),
            content_hash: self.content_hash.clone(),
            size_bytes: self.size_bytes,
            expires_at: self.expires_at,
            tags: None,
            tags_too_long: false,
            supersedes: false,
            expired: false,
        }
        .with_tags(self.tags.clone())
    }
}

/// A serving data file of `rows` (sorted by key here, one row per key) written by the
/// compactor's writer, as the root lists it: the bytes and its [`FileEntry`] under `file_key`.
pub(crate) fn serving_file(file_key: &str, rows: &[SRow]) -> (Vec<u8>, FileEntry) {
    serving_file_at(file_key, rows, 1)
}

/// [`serving_file`] at `level` (an L0 file's entry carries its keys' bloom filter).
pub(crate) fn serving_file_at(file_key: &str, rows: &[SRow], level: u8) -> (Vec<u8>, FileEntry) {
    let mut rows = rows.to_vec();
    rows.sort_by_key(SRow::key);
    rows.dedup_by_key(|r| r.key());
    let text = |v: &Option<String>| v.clone().map_or(Cell::Null, Cell::Text);
    let serving: Vec<ServingRow> = rows
        .iter()
        .map(|r| ServingRow {
            entry: r.entry(),
            cells: COLUMNS
                .iter()
                .map(|c| match c.name {
                    "ns" => Cell::Text(r.ns.clone()),
                    "type" => Cell::Text(r.ty.clone()),
                    "id" => Cell::Text(r.id.clone()),
                    "ts" => Cell::Long(r.order.ts),
                    "deleted" => Cell::Bool(r.deleted),
                    "visibility" => text(&r.visibility),
                    "owner_org" => text(&r.owner_org),
                    "owner_user" => text(&r.owner_user),
                    "content_hash" => text(&r.content_hash),
                    "size_bytes" => r.size_bytes.map_or(Cell::Null, Cell::Long),
                    "markdown" => text(&r.markdown),
                    "expires_at" => r.expires_at.map_or(Cell::Null, Cell::Long),
                    "tags" => text(&r.tags),
                    _ => Cell::Null,
                })
                .collect(),
        })
        .collect();
    let file = write_serving_file(&serving, WriteCodec::Snappy).unwrap();
    let entry = file.file_entry(file_key.into(), level);
    (file.written.bytes, entry)
}

pub(crate) fn root_of(files: Vec<FileEntry>, sources: &[&str]) -> Root {
    let sources = sources
        .iter()
        .map(|id| SourceState {
            id: (*id).into(),
            metadata: None,
            snapshot_id: None,
            sequence_number: None,
            mode: None,
            error: None,
            gap: None,
        })
        .collect();
    Root { format: 1, version: 1, metadata: "serving/metadata/v1.metadata.json".into(), sources, files, merge_cursor: None, range: None }
}

/// A borrowed store under the caching store.
pub(crate) struct Shared<'a>(pub(crate) &'a MemStore);

impl ObjectStore for Shared<'_> {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        self.0.get(key, range).await
    }
}

fn put(store: &MemStore, (bytes, entry): (Vec<u8>, FileEntry)) -> FileEntry {
    store.objects.borrow_mut().insert(entry.key.clone(), bytes);
    entry
}

fn find(store: &MemStore, root: &Root, id: &str) -> Result<Option<Hit>, LocateError> {
    block_on(lookup(store, root, &key("docs", "guide", id), &mut Cost::default()))
}

fn value(store: &MemStore, hit: &Hit) -> Option<String> {
    block_on(read_value_in(store, hit.layout(), &hit.found, "markdown", &mut Cost::default())).unwrap()
}

#[test]
fn the_cells_of_a_key_lie_between_its_bounds_and_no_other_keys_do() {
    let k = key("docs", "guide", "a");
    let (low, high) = bounds(&k);
    let cell = |k: &[u8]| {
        let mut c = k.to_vec();
        c.extend_from_slice(b"\0{\"ts\":1}");
        c
    };
    assert!(low.as_slice() <= cell(&k).as_slice() && cell(&k).as_slice() < high.as_slice());
    for other in [key("docs", "guide", "ab"), key("docs", "guide", "a "), key("docs", "guide", ""), key("docs", "guidf", "a")] {
        let c = cell(&other);
        assert!(!(low.as_slice() <= c.as_slice() && c.as_slice() < high.as_slice()), "{other:?}");
    }
}

#[test]
fn finds_every_key_of_a_file_and_reads_its_value() {
    let store = MemStore::default();
    let rows: Vec<SRow> = (0..50).map(|i| srow(&format!("k{i:03}"), 100 + i, 2, (i % 2) as u32, &format!("# {i}"))).collect();
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let root = root_of(vec![file], &["t/a", "t/b"]);
    for (i, r) in rows.iter().enumerate() {
        let hit = find(&store, &root, &r.id).unwrap().unwrap();
        assert_eq!(hit.order, r.order, "{}", r.id);
        assert_eq!((hit.found.ts, hit.found.row, hit.found.row_group), (r.order.ts, i, 0));
        assert_eq!((hit.found.visibility.as_deref(), hit.found.content_hash.as_deref()), (Some("public"), r.content_hash.as_deref()));
        assert_eq!(value(&store, &hit), r.markdown, "{}", r.id);
    }
    for missing in ["k", "k0", "k000 ", "k0000", "k049x", "a", "z"] {
        assert_eq!(find(&store, &root, missing).unwrap(), None, "{missing}");
    }
}

/// The writer's pages: `_lookup` pages of at most 16 KiB (about a hundred entries here), value
/// pages of at most 64 KiB (about six hundred of these values): a lookup reads one page of each.
#[test]
fn a_warm_lookup_reads_two_pages_and_a_cold_one_adds_the_index_region() {
    use crate::caching::{Caching, Immutable};
    use std::cell::RefCell;
    use std::rc::Rc;
    let store = MemStore::default();
    let pad = "x".repeat(100);
    let rows: Vec<SRow> = (0..3000).map(|i| srow(&format!("k{i:05}"), i, 1, 0, &format!("v{i}{pad}"))).collect();
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let root = root_of(vec![file], &["t/a"]);
    let isolate = Rc::new(RefCell::new(Immutable::new()));
    let read = |id: &str| {
        let s = Caching::new(Shared(&store), isolate.clone());
        let mut cost = Cost::default();
        let hit = block_on(lookup(&s, &root, &key("docs", "guide", id), &mut cost)).unwrap().unwrap();
        let v = block_on(read_value_in(&s, hit.layout(), &hit.found, "markdown", &mut cost)).unwrap();
        s.keep_reads();
        (v, s.reads())
    };
    assert_eq!(read("k00007"), (Some(format!("v7{pad}")), 3), "cold: index region, _lookup page, value page");
    assert_eq!(read("k02900"), (Some(format!("v2900{pad}")), 2), "warm: the two pages only");
    assert_eq!(read("k01500"), (Some(format!("v1500{pad}")), 2));
}

#[test]
fn the_newest_entry_across_candidate_files_wins_tombstones_included() {
    let store = MemStore::default();
    let l1 = put(
        &store,
        serving_file("serving/data/L1-1-0.parquet", &[srow("a", 1, 1, 0, "a1"), srow("b", 1, 1, 0, "b1"), srow("c", 5, 1, 1, "c1")]),
    );
    let mut gone = srow("b", 2, 2, 0, "");
    gone.deleted = true;
    gone.markdown = None;
    let mut l0 = put(&store, serving_file("serving/data/L0-2-0.parquet", &[srow("a", 2, 2, 1, "a2"), gone, srow("c", 5, 1, 0, "c0")]));
    l0.level = 0;
    let root = root_of(vec![l1, l0], &["t/a", "t/b"]);
    let a = find(&store, &root, "a").unwrap().unwrap();
    assert_eq!((a.order.ts, a.found.file_key.as_str(), value(&store, &a).as_deref()), (2, "serving/data/L0-2-0.parquet", Some("a2")));
    let b = find(&store, &root, "b").unwrap().unwrap();
    assert!(b.found.deleted, "the newer tombstone wins over the older live row");
    // An exact (ts, seq) tie: the lower source wins.
    let c = find(&store, &root, "c").unwrap().unwrap();
    assert_eq!((c.order.source, value(&store, &c).as_deref()), (0, Some("c0")));
}

#[test]
fn a_corrupt_or_missing_serving_file_is_an_error_never_absent() {
    let store = MemStore::default();
    let rows: Vec<SRow> = (0..20).map(|i| srow(&format!("k{i:02}"), i, 1, 0, "x")).collect();
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let root = root_of(vec![file.clone()], &["t/a"]);
    assert!(find(&store, &root, "k05").unwrap().is_some());
    // The `_lookup` column index overwritten.
    let good = store.objects.borrow()[&file.key].clone();
    let footer = parquet::parse_footer(&good, good.len() as u64).ok().unwrap();
    let (at, len) = footer.chunk(0, footer.column_by_name(LOOKUP_COLUMN).unwrap()).unwrap().column_index.unwrap();
    let mut bad = good.clone();
    for b in bad.iter_mut().skip(at as usize).take(len as usize) {
        *b = 0xFF;
    }
    store.objects.borrow_mut().insert(file.key.clone(), bad);
    assert!(matches!(find(&store, &root, "k05"), Err(LocateError::Corrupt { .. })));
    // Missing.
    store.objects.borrow_mut().remove(&file.key);
    assert!(matches!(find(&store, &root, "k05"), Err(LocateError::Store { error: StoreError::NotFound, .. })));
    // A root whose index offset is wrong.
    store.objects.borrow_mut().insert(file.key.clone(), good);
    let mut wrong = root.clone();
    wrong.files[0].index_offset = file.size - 20;
    assert!(find(&store, &wrong, "k05").is_err());
    // An entry naming a source the root does not list.
    let one = root_of(vec![file.clone()], &[]);
    assert!(find(&store, &one, "k05").unwrap_err().to_string().contains("source the root does not list"));
}

/// A `.json` record reads every column of the row: one page of each flat column, the repeated
/// `inputs` chunk whole — never the whole file.
#[test]
fn a_whole_record_reads_pages_not_the_file() {
    let store = MemStore::default();
    // Documents that do not compress, so the value column is most of the file, as it is.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = || {
        (0..25)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{:08x}", x as u32)
            })
            .collect::<String>()
    };
    let docs: Vec<String> = (0..3000).map(|_| noise()).collect();
    let rows: Vec<SRow> = (0..3000).map(|i| srow(&format!("k{i:05}"), i, 1, 0, &docs[i as usize])).collect();
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let size = file.size;
    let root = root_of(vec![file], &["t/a"]);
    let mut cost = Cost::default();
    let hit = block_on(lookup(&store, &root, &key("docs", "guide", "k01234"), &mut cost)).unwrap().unwrap();
    let names = crate::answer::record_columns(true);
    let cells = block_on(crate::locate::read_row_in(&store, hit.layout(), &hit.found, &names, &mut cost)).unwrap();
    let at = |n: &str| cells[names.iter().position(|c| *c == n).unwrap()].clone();
    assert_eq!(at("markdown"), Cell::Text(docs[1234].clone()));
    assert_eq!((at("id"), at("ts"), at("deleted")), (Cell::Text("k01234".into()), Cell::Long(1234), Cell::Bool(false)));
    assert_eq!(at("inputs"), Cell::Null);
    assert!(cost.bytes < size / 3, "read {} of {size} bytes", cost.bytes);
}

/// What the root's bloom filters on L0 files save, counted: a key held only by L1, with four L0
/// runs whose key ranges span it, costs the L1 file's reads alone with the filters, and two more
/// reads (index region, `_lookup` page) per L0 run without them — the reason the root carries a
/// filter per L0 file and none per L1 file (exactly one L1 file is ever a candidate).
#[test]
fn l0_bloom_filters_spare_two_reads_per_l0_run_that_lacks_the_key() {
    let store = MemStore::default();
    let all: Vec<SRow> = (0..400).map(|i| srow(&format!("k{i:03}"), 1, 1, 0, &format!("v{i}"))).collect();
    let l1 = put(&store, serving_file("serving/data/L1-1-0.parquet", &all));
    // Four L0 runs of newer versions of other keys, each spanning the whole key range.
    let mut files = vec![l1];
    for run in 0..4u32 {
        let rows: Vec<SRow> = (0..400)
            .filter(|i| i % 8 == run as usize * 2 + 1 || *i == 0 || *i == 399)
            .map(|i| srow(&format!("k{i:03}"), 2 + i64::from(run), 2, 0, "newer"))
            .collect();
        files.push(put(&store, serving_file_at(&format!("serving/data/L0-{}-0.parquet", run + 2), &rows, 0)));
    }
    let with = root_of(files.clone(), &["t/a"]);
    let without = root_of(files.into_iter().map(|f| FileEntry { bloom: None, ..f }).collect(), &["t/a"]);
    let cold_reads = |root: &Root, id: &str| {
        let mut cost = Cost::default();
        let hit = block_on(lookup(&store, root, &key("docs", "guide", id), &mut cost)).unwrap().unwrap();
        (hit.found.file_key, cost.reads)
    };
    // k004 is held by L1 alone (4 % 8 is even): the filters rule every L0 run out.
    let (file, reads) = cold_reads(&with, "k004");
    assert_eq!((file.as_str(), reads), ("serving/data/L1-1-0.parquet", 2), "with filters: L1's index region and page");
    let (file, reads) = cold_reads(&without, "k004");
    assert_eq!((file.as_str(), reads), ("serving/data/L1-1-0.parquet", 2 + 4 * 2), "without: two more reads per L0 run");
    // A key an L0 run holds is found there either way.
    let (file, _) = cold_reads(&with, "k001");
    assert_eq!(file, "serving/data/L0-2-0.parquet");
}

/// An isolate warmed by a lookup in one file still pays the index region of another (3 reads);
/// after [`prefetch`] (what serve runs in the background the first time it uses a root) a lookup
/// in any file reads its two pages only.
#[test]
fn after_prefetch_a_lookup_in_any_file_reads_two_pages() {
    use crate::caching::{Caching, Immutable};
    use std::cell::RefCell;
    use std::rc::Rc;
    let store = MemStore::default();
    let pad = "x".repeat(1000);
    let files: Vec<FileEntry> = (0..4)
        .map(|f| {
            let rows: Vec<SRow> = (0..500).map(|i| srow(&format!("f{f}-k{i:04}"), 1, 1, 0, &format!("v{i}{pad}"))).collect();
            put(&store, serving_file(&format!("serving/data/L1-1-{f}.parquet"), &rows))
        })
        .collect();
    let root = root_of(files, &["t/a"]);
    let isolate = Rc::new(RefCell::new(Immutable::new()));
    let read = |id: &str| {
        let s = Caching::new(Shared(&store), isolate.clone());
        let mut cost = Cost::default();
        let hit = block_on(lookup(&s, &root, &key("docs", "guide", id), &mut cost)).unwrap().unwrap();
        block_on(read_value_in(&s, hit.layout(), &hit.found, "markdown", &mut cost)).unwrap().unwrap();
        s.keep_reads();
        s.reads()
    };
    assert_eq!(read("f0-k0001"), 3, "cold");
    assert_eq!(read("f0-k0400"), 2, "warm, same file");
    assert_eq!(read("f1-k0007"), 3, "warm, another file: its index region first");
    let s = Caching::new(Shared(&store), isolate.clone());
    assert_eq!(block_on(prefetch(&s, &root, PREFETCH_BYTES, &mut Cost::default())), 4);
    s.keep_reads();
    assert_eq!(s.reads(), 2, "the two regions not held yet");
    assert_eq!(read("f2-k0300"), 2, "after the prefetch");
    assert_eq!(read("f3-k0499"), 2);
    // The budget is kept: nothing beyond it is read.
    let fresh = Caching::new(Shared(&store), Rc::new(RefCell::new(Immutable::new())));
    assert_eq!(block_on(prefetch(&fresh, &root, 1, &mut Cost::default())), 0);
    assert_eq!(fresh.reads(), 0);
}

/// #18: a hit carries the entry's `expires_at` and `tags`; tags over 2 KiB are left out of the
/// entry and flagged (the row's `tags` column still holds them); format 1 entries (none of it)
/// read as no expiry, no tags.
#[test]
fn a_hit_carries_expires_at_and_tags_from_the_entry() {
    use crate::serving::entry::MAX_TAGS_BYTES;
    let store = MemStore::default();
    let long = format!("{{\"k\":\"{}\"}}", "v".repeat(MAX_TAGS_BYTES));
    let mut rows: Vec<SRow> = (0..3).map(|i| srow(&format!("k{i}"), 10 + i, 1, 0, "# x")).collect();
    rows[0].expires_at = Some(1_900_000_000_000_000);
    rows[0].tags = Some(r#"{"env":"prod"}"#.into());
    rows[1].tags = Some(long.clone());
    let file = put(&store, serving_file("serving/data/L1-1-0.parquet", &rows));
    let root = root_of(vec![file], &["t/a"]);
    let f = find(&store, &root, "k0").unwrap().unwrap().found;
    assert_eq!((f.expires_at, f.tags.as_deref(), f.tags_too_long), (Some(1_900_000_000_000_000), Some(r#"{"env":"prod"}"#), false));
    let hit = find(&store, &root, "k1").unwrap().unwrap();
    assert_eq!((hit.found.expires_at, hit.found.tags.as_deref(), hit.found.tags_too_long), (None, None, true));
    let tags = block_on(read_value_in(&store, hit.layout(), &hit.found, "tags", &mut Cost::default())).unwrap();
    assert_eq!(tags.as_deref(), Some(long.as_str()), "the long tags are in the row's column");
    let f = find(&store, &root, "k2").unwrap().unwrap().found;
    assert_eq!((f.expires_at, f.tags, f.tags_too_long), (None, None, false));
    // The range read fills the same fields.
    let rows = block_on(crate::serving::range::range(&store, &root, b"", b"\xff", 10, 100, &mut Cost::default())).unwrap().rows;
    let got: Vec<(Option<i64>, Option<String>, bool)> =
        rows.into_iter().map(|(_, h)| (h.found.expires_at, h.found.tags, h.found.tags_too_long)).collect();
    assert_eq!(got, vec![(Some(1_900_000_000_000_000), Some(r#"{"env":"prod"}"#.into()), false), (None, None, true), (None, None, false)]);
}
