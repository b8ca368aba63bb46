//! Listing with the serving table equals listing by scanning the tables: every reader, prefix,
//! delimiter and page size; cursors across pages while commits land; bounded work.

use super::*;
use crate::answer::{Policy, Reads};
use crate::iceberg::manifest::DataContent;
use crate::iceberg::table_metadata::{record_schema, Operation, TableMetadata};
use crate::locate::test_table::{block_on, Builder, MemStore, PREFIX};
use crate::locate::{At, LocateError};
use crate::serving::lookup::tests::{root_of, serving_file, srow, SRow};
use crate::serving::root::Root;
use crate::serving::split::KeyRange;
use crate::token::Claims;
use crate::writer::parquet::{ColumnData, WriteColumn};
use alloc::rc::Rc;
use alloc::string::ToString;

/// One source row: id, ts, tombstone, visibility, owner user (org `acme`).
type R = (String, i64, bool, &'static str, &'static str);

fn r(id: &str, ts: i64, deleted: bool, vis: &'static str, user: &'static str) -> R {
    (id.to_string(), ts, deleted, vis, user)
}

fn column(name: &str, data: ColumnData) -> WriteColumn {
    WriteColumn {
        name: name.into(),
        field_id: record_schema().field_id_by_name(name).unwrap(),
        required: false,
        data,
        element_field_id: None,
    }
}

/// The filters of a listing that asks for none.
static DEFAULT_FILTER: std::sync::LazyLock<Filter> = std::sync::LazyLock::new(Filter::default);

struct World {
    tables: Vec<Builder>,
    /// The metadata key of each table's commits.
    commits: Vec<Vec<String>>,
    store: MemStore,
    /// The serving tables: each one's key range and current root key (one, holding every key,
    /// unless `splits` is set).
    serving: Option<Vec<(KeyRange, String)>>,
    /// `SERVING_SPLITS`: the boundaries of the serving tables' key ranges.
    splits: Vec<Vec<u8>>,
    version: u64,
}

impl World {
    fn new(n: usize) -> World {
        let tables = (0..n).map(|i| Builder::at(PREFIX, &format!("t/{}", ["a", "b"][i]))).collect();
        World { tables, commits: vec![Vec::new(); n], store: MemStore::default(), serving: None, splits: Vec::new(), version: 0 }
    }

    /// Commits `rows` to table `t` as one `append`.
    fn append(&mut self, t: usize, rows: &[R]) {
        let b = &mut self.tables[t];
        let text = |f: &dyn Fn(&R) -> Option<String>| ColumnData::Utf8(rows.iter().map(f).collect());
        let columns = vec![
            column("ns", text(&|_| Some("docs".into()))),
            column("type", text(&|_| Some("guide".into()))),
            column("id", text(&|r| Some(r.0.clone()))),
            column("ts", ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.1)).collect())),
            column("deleted", ColumnData::Boolean(rows.iter().map(|r| Some(r.2)).collect())),
            column("visibility", text(&|r| Some(r.3.into()))),
            column("owner_org", text(&|_| Some("acme".into()))),
            column("owner_user", text(&|r| Some(r.4.into()))),
            column("content_hash", text(&|r| Some(format!("h-{}-{}", r.0, r.1)))),
            column("size_bytes", ColumnData::Int64(rows.iter().map(|r| Some(r.1)).collect())),
            column("markdown", text(&|r| (!r.2).then(|| r.0.clone()))),
        ];
        let df = b.file("data.parquet", &columns, 100, DataContent::Data);
        b.commit(vec![df]);
        b.meta.snapshots.last_mut().unwrap().summary.operation = Operation::Append;
        let key = format!("{}/metadata/v{}.metadata.json", b.root, b.meta.last_sequence_number);
        b.store.objects.borrow_mut().insert(key.clone(), b.meta.to_json().into_bytes());
        self.commits[t].push(key);
        let objects = b.store.objects.borrow().clone();
        self.store.objects.borrow_mut().extend(objects);
    }

    /// The key ranges of the serving tables.
    fn ranges(&self) -> Vec<KeyRange> {
        let mut out = Vec::new();
        let mut lo = None;
        for b in &self.splits {
            out.push(KeyRange { lo: lo.clone(), hi: Some(b.clone()) });
            lo = Some(b.clone());
        }
        out.push(KeyRange { lo, hi: None });
        out
    }

    /// What the compactors write having absorbed every commit so far, every serving table.
    fn compact(&mut self) {
        for i in 0..self.ranges().len() {
            self.compact_range(i);
        }
    }

    /// What the compactor of serving table `i` writes having absorbed every commit so far: the
    /// newest row per key of its range across the tables in one L1 file, and the root naming it.
    fn compact_range(&mut self, i: usize) {
        let ranges = self.ranges();
        let range = ranges[i].clone();
        let dir = if self.splits.is_empty() { "serving".to_string() } else { format!("serving/range-{i}") };
        let mut best: BTreeMap<String, SRow> = BTreeMap::new();
        let mut root = root_of(Vec::new(), &self.tables.iter().map(|t| t.root.as_str()).collect::<Vec<_>>());
        for (i, t) in self.tables.iter().enumerate() {
            let Some(snap) = t.meta.snapshots.last() else { continue };
            let source = &mut root.sources[i];
            source.metadata = self.commits[i].last().cloned();
            source.snapshot_id = Some(snap.snapshot_id);
            source.sequence_number = Some(snap.sequence_number);
            let table = Table { metadata: &t.meta, location_prefix: PREFIX };
            let rows = block_on(locate::list(&self.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
            for (id, f) in rows {
                let mut row = srow(&id, f.ts, f.order.sequence_number, i as u32, &id);
                row.order = Order { ts: f.ts, seq: f.order.sequence_number, source: i as u32, pos: f.order.position };
                row.deleted = f.deleted;
                row.visibility = f.visibility.clone();
                row.owner_user = f.owner_user.clone();
                row.content_hash = f.content_hash.clone();
                row.size_bytes = f.size_bytes;
                if !range.contains(&crate::serving::key::key("docs", "guide", &id)) {
                    continue;
                }
                if best.get(&id).is_none_or(|b| row.order > b.order) {
                    best.insert(id, row);
                }
            }
        }
        self.version += 1;
        let rows: Vec<SRow> = best.into_values().collect();
        if !rows.is_empty() {
            let (bytes, entry) = serving_file(&format!("{dir}/data/L1-{}-0.parquet", self.version), &rows);
            self.store.objects.borrow_mut().insert(entry.key.clone(), bytes);
            root.files = vec![entry];
        }
        if !self.splits.is_empty() {
            root.range = Some(range);
        }
        let key = format!("{dir}/metadata/v{}.serving.json", self.version);
        self.store.objects.borrow_mut().insert(key.clone(), root.to_json().into_bytes());
        let mut tables = self.serving.take().unwrap_or_else(|| ranges.iter().map(|r| (r.clone(), String::new())).collect());
        tables[i].1 = key;
        self.serving = Some(tables);
    }
}

impl Catalog for World {
    async fn metadata_keys(&self) -> Result<Vec<String>, LocateError> {
        Ok(self.commits.iter().map(|c| c.last().cloned().unwrap()).collect())
    }
    async fn metadata(&self, key: &str) -> Result<Rc<TableMetadata>, LocateError> {
        let bytes = self.store.get(key, None).await.map_err(|error| LocateError::Store { key: key.into(), error })?;
        TableMetadata::from_json(&bytes).map(Rc::new).map_err(|e| LocateError::Corrupt { key: key.into(), reason: e.description().into() })
    }
    fn prefix_for(&self, _: &str) -> &str {
        PREFIX
    }
    async fn serving_root(&self, k: &[u8]) -> Result<Option<(Rc<Root>, KeyRange)>, LocateError> {
        let Some(tables) = &self.serving else { return Ok(None) };
        let (range, key) = tables.iter().find(|(r, _)| r.contains(k)).unwrap();
        let range = if self.splits.is_empty() { KeyRange::ALL } else { range.clone() };
        let bytes = self.store.get(key, None).await.map_err(|error| LocateError::Store { key: key.clone(), error })?;
        Root::parse(&bytes).map(|r| Some((Rc::new(r), range))).map_err(|reason| LocateError::Corrupt { key: key.clone(), reason })
    }
    fn source_ids(&self) -> Vec<String> {
        self.tables.iter().map(|t| t.root.clone()).collect()
    }
}

impl crate::answer::lineage::EdgeTables for World {
    async fn edge_roots(&self) -> Result<Vec<Rc<Root>>, LocateError> {
        Ok(Vec::new())
    }
}

struct NoHtml;

impl Html for NoHtml {
    fn rewrite(&self, html: &str, _: &super::super::Page<'_>) -> Result<(String, &'static str), String> {
        Ok((html.into(), ""))
    }
}

fn policy() -> Policy {
    Policy { unowned_visibility: Visibility::Public, trusted_orgs: Vec::new() }
}

fn claims(org: &str, sub: &str) -> Claims {
    Claims { sub: sub.into(), org: org.into(), scopes: alloc::vec!["read:*".into()], exp: 0, nbf: None, iat: None }
}

fn query<'a>(prefix: &'a str, delimiter: Option<&'a str>, limit: usize, start: Vec<u8>, max_pages: usize) -> Query<'a> {
    Query { ns: "docs", ty: "guide", prefix, delimiter, limit, start, max_pages, filter: &DEFAULT_FILTER }
}

fn page(w: &World, q: &Query<'_>, reader: Reader<'_>) -> (Listing, Trace) {
    let reads = Reads { store: &w.store, catalog: w, policy: &policy(), html: &NoHtml };
    let mut trace = Trace::default();
    let l = block_on(reads.listing(q, reader, &mut Cost::default(), &mut trace)).unwrap();
    (l, trace)
}

/// What an item shows: an id with its ts and visibility, or a prefix.
fn shown(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Item::Artifact { id, found, visibility, .. } => format!("{id}@{}:{}", found.ts, visibility.as_str()),
            Item::Prefix(p) => format!("{p}*"),
        })
        .collect()
}

/// Every page of a listing, following the cursors.
fn pages(w: &World, prefix: &str, delimiter: Option<&str>, limit: usize, max_pages: usize, reader: Reader<'_>) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut start = Vec::new();
    for _ in 0..10_000 {
        let (l, _) = page(w, &query(prefix, delimiter, limit, start.clone(), max_pages), reader);
        assert!(l.items.len() <= limit);
        out.push((shown(&l.items), l.next.is_some()));
        match l.next {
            Some(n) => {
                assert!(n > start, "a cursor moves");
                start = n;
            }
            None => return out,
        }
    }
    panic!("the listing does not end")
}

fn flat(p: &[(Vec<String>, bool)]) -> Vec<String> {
    p.iter().flat_map(|(items, _)| items.clone()).collect()
}

/// Nested ids, tombstones, hidden and unlisted rows over two tables; some absorbed, some in
/// the tail.
fn world() -> World {
    let mut w = World::new(2);
    w.append(
        0,
        &[
            r("a/x", 1, false, "public", "alice"),
            r("a/y", 1, false, "user", "alice"),
            r("b/z/1", 1, false, "org", "alice"),
            r("c", 1, false, "public", "alice"),
            r("gone", 1, false, "public", "alice"),
            r("h/only-alice", 1, false, "user", "alice"),
            r("u", 1, false, "unlisted", "alice"),
        ],
    );
    w.append(1, &[r("a/x", 2, false, "public", "bob"), r("d/e", 1, false, "public", "bob"), r("tie", 3, false, "public", "bob")]);
    w.append(0, &[r("gone", 2, true, "public", "alice"), r("tie", 3, false, "org", "alice")]);
    w.compact();
    // The tail.
    w.append(0, &[r("c", 5, true, "public", "alice"), r("a/new", 5, false, "public", "alice"), r("h/x/deep", 5, false, "user", "alice")]);
    w.append(1, &[r("back", 5, false, "public", "bob"), r("d/e", 6, false, "org", "bob"), r("gone", 6, false, "public", "bob")]);
    w
}

#[test]
fn listing_with_the_serving_table_equals_the_scan_for_every_reader() {
    let mut w = world();
    let alice = claims("acme", "alice");
    let bob = claims("acme", "bob");
    let globex = claims("globex", "carol");
    let readers = [Reader::Anonymous, Reader::Token(&alice), Reader::Token(&bob), Reader::Token(&globex)];
    let serving = w.serving.clone();
    for prefix in ["", "a", "a/", "h/", "zz"] {
        for delimiter in [None, Some("/")] {
            for limit in [1, 2, 3, 100] {
                for (r, reader) in readers.iter().enumerate() {
                    w.serving = None;
                    let off = pages(&w, prefix, delimiter, limit, 64, *reader);
                    w.serving = serving.clone();
                    let on = pages(&w, prefix, delimiter, limit, 64, *reader);
                    assert_eq!(on, off, "prefix {prefix:?} delimiter {delimiter:?} limit {limit} reader {r}");
                }
            }
        }
    }
    w.serving = serving;
    let (_, trace) = page(&w, &query("", None, 10, Vec::new(), 64), Reader::Anonymous);
    assert_eq!(trace.serving, Serving::On);
    // What each reader sees (the tail's tombstone of `c` and its newer `gone` included).
    let all = |reader, delimiter| flat(&pages(&w, "", delimiter, 100, 64, reader));
    assert_eq!(all(Reader::Anonymous, None), ["a/new@5:public", "a/x@2:public", "back@5:public", "gone@6:public"]);
    assert_eq!(
        all(Reader::Token(&alice), None),
        [
            "a/new@5:public",
            "a/x@2:public",
            "a/y@1:user",
            "b/z/1@1:org",
            "back@5:public",
            "d/e@6:org",
            "gone@6:public",
            "h/only-alice@1:user",
            "h/x/deep@5:user",
            "tie@3:org"
        ]
    );
    // Prefixes: shown only when they hold an id the caller may see.
    assert_eq!(all(Reader::Anonymous, Some("/")), ["a/*", "back@5:public", "gone@6:public"]);
    assert_eq!(all(Reader::Token(&bob), Some("/")), ["a/*", "b/*", "back@5:public", "d/*", "gone@6:public", "tie@3:org"]);
    assert_eq!(all(Reader::Token(&alice), Some("/")), ["a/*", "b/*", "back@5:public", "d/*", "gone@6:public", "h/*", "tie@3:org"]);
    assert_eq!(flat(&pages(&w, "h/", Some("/"), 100, 64, Reader::Token(&alice))), ["h/only-alice@1:user", "h/x/*"]);
    assert!(flat(&pages(&w, "h/", Some("/"), 100, 64, Reader::Token(&bob))).is_empty(), "h/ holds only alice's ids");
    // A prefix that is not a folder.
    assert_eq!(flat(&pages(&w, "a/", None, 100, 64, Reader::Anonymous)), ["a/new@5:public", "a/x@2:public"]);
    assert_eq!(flat(&pages(&w, "g", None, 100, 64, Reader::Anonymous)), ["gone@6:public"]);
}

/// `SERVING_SPLITS` boundaries: outside the listing's type, inside its ids, between the
/// prefixes of a delimiter, and past it.
fn split_points() -> Vec<Vec<u8>> {
    ["docs/aaa", "docs/guide/a/y", "docs/guide/b", "docs/guide/h/x", "docs/guide/tie", "docs/zz"]
        .iter()
        .map(|b| crate::serving::split::boundary_key(b).unwrap())
        .collect()
}

#[test]
fn listing_across_split_serving_tables_equals_the_scan() {
    let mut w = world();
    w.splits = split_points();
    w.serving = None;
    w.compact();
    // The tables' watermarks differ: the second and fourth absorb one more commit than the rest.
    w.append(1, &[r("a/z", 7, false, "public", "bob"), r("h/x/new", 7, false, "org", "bob"), r("c", 8, false, "public", "bob")]);
    w.compact_range(1);
    w.compact_range(3);
    let alice = claims("acme", "alice");
    let bob = claims("acme", "bob");
    let readers = [Reader::Anonymous, Reader::Token(&alice), Reader::Token(&bob)];
    let serving = w.serving.clone();
    for prefix in ["", "a", "a/", "h/", "b/z", "zz"] {
        for delimiter in [None, Some("/")] {
            for limit in [1, 2, 3, 100] {
                for max_pages in [1, 64] {
                    for (r, reader) in readers.iter().enumerate() {
                        w.serving = None;
                        let off = pages(&w, prefix, delimiter, limit, max_pages, *reader);
                        w.serving = serving.clone();
                        let on = pages(&w, prefix, delimiter, limit, max_pages, *reader);
                        assert_eq!(
                            flat(&on),
                            flat(&off),
                            "prefix {prefix:?} delimiter {delimiter:?} limit {limit} pages {max_pages} reader {r}"
                        );
                        if max_pages == 64 {
                            assert_eq!(on, off, "whole pages: prefix {prefix:?} delimiter {delimiter:?} limit {limit} reader {r}");
                        }
                    }
                }
            }
        }
    }
    w.serving = serving;
    let (_, trace) = page(&w, &query("", None, 100, Vec::new(), 64), Reader::Anonymous);
    assert_eq!(trace.serving, Serving::On);
    // A root holding another range than its table's is not used: the scan answers.
    let want = pages(&w, "", None, 100, 64, Reader::Token(&alice));
    let tables = w.serving.clone().unwrap();
    let mut swapped = tables.clone();
    swapped[2].1 = tables[3].1.clone();
    w.serving = Some(swapped);
    assert_eq!(pages(&w, "", None, 100, 64, Reader::Token(&alice)), want);
    let (_, trace) = page(&w, &query("", None, 100, Vec::new(), 64), Reader::Token(&alice));
    assert!(matches!(&trace.serving, Serving::Fallback(why) if why.contains("key range")), "{trace:?}");
}

#[test]
fn cursors_stay_correct_while_commits_land() {
    for (serving, split) in [(true, false), (true, true), (false, false)] {
        let mut w = World::new(2);
        if split {
            w.splits = ["docs/guide/k1", "docs/guide/k25", "docs/guide/k3"]
                .iter()
                .map(|b| crate::serving::split::boundary_key(b).unwrap())
                .collect();
        }
        let ids: Vec<String> = (0..40).map(|i| format!("k{:03}", i * 10)).collect();
        w.append(0, &ids.iter().map(|id| r(id, 1, false, "public", "alice")).collect::<Vec<_>>());
        w.append(1, &[r("zz", 1, false, "public", "bob")]);
        w.compact();
        if !serving {
            w.serving = None;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut start = Vec::new();
        let mut round = 0;
        loop {
            let (l, _) = page(&w, &query("", None, 7, start.clone(), 64), Reader::Anonymous);
            for item in &l.items {
                let Item::Artifact { id, .. } = item else { panic!("no delimiter") };
                assert!(seen.last().is_none_or(|s| s < id), "{id} after {seen:?}: no repeat, in order");
                seen.push(id.clone());
            }
            let Some(next) = l.next else { break };
            start = next;
            round += 1;
            // Commits land between pages: a key after the cursor, one behind it, a tombstone
            // of a key ahead, and (every other round) the compactor absorbs them.
            let last = seen.last().unwrap().clone();
            let (ahead, behind) = (format!("{last}5"), format!("a{round:02}"));
            w.append(round % 2, &[r(&ahead, 9, false, "public", "bob"), r(&behind, 9, false, "public", "bob")]);
            if round == 2 {
                w.append(0, &[r("k390", 9, true, "public", "alice")]);
            }
            if round % 2 == 0 && serving {
                if split {
                    // One table at a time: their watermarks differ.
                    w.compact_range(round / 2 % 4);
                } else {
                    w.compact();
                }
            }
        }
        let added_ahead = seen.iter().filter(|s| s.len() == 5 && s.starts_with('k')).count();
        assert_eq!(added_ahead, round, "every key committed after the cursor shows on a later page (serving {serving}): {seen:?}");
        assert!(seen.iter().all(|s| !s.starts_with('a')), "keys committed behind the cursor do not");
        assert!(!seen.contains(&"k390".to_string()), "a key deleted before its page is not listed");
        for id in &ids[..39] {
            assert!(seen.contains(id), "{id} is not skipped");
        }
        assert_eq!(seen.last().map(String::as_str), Some("zz"));
    }
}

#[test]
fn a_page_of_only_hidden_rows_comes_back_empty_with_a_cursor() {
    let mut w = World::new(1);
    let mut rows: Vec<R> = (0..1500).map(|i| r(&format!("h{i:05}"), 1, false, "user", "alice")).collect();
    rows.push(r("p1", 1, false, "public", "alice"));
    rows.push(r("p2", 1, false, "public", "alice"));
    w.append(0, &rows);
    w.compact();
    let on = pages(&w, "", None, 10, 2, Reader::Anonymous);
    assert!(on.len() > 2, "{} pages", on.len());
    assert_eq!(on[0], (Vec::<String>::new(), true), "two pages of hidden rows: an empty page with a cursor");
    assert_eq!(flat(&on), ["p1@1:public", "p2@1:public"]);
    // The same with a delimiter, and for the owner every row shows.
    assert_eq!(flat(&pages(&w, "", Some("/"), 10, 2, Reader::Anonymous)), ["p1@1:public", "p2@1:public"]);
    let alice = claims("acme", "alice");
    assert_eq!(flat(&pages(&w, "", None, 1000, 2, Reader::Token(&alice))).len(), 1502);
    // Without the serving table the scan answers whole pages.
    w.serving = None;
    assert_eq!(pages(&w, "", None, 10, 2, Reader::Anonymous), [(alloc::vec!["p1@1:public".to_string(), "p2@1:public".into()], false)]);
}

#[test]
fn a_broken_serving_table_falls_back_with_the_same_pages() {
    let w = world();
    let want = pages(&w, "", Some("/"), 2, 64, Reader::Anonymous);
    let file = format!("serving/data/L1-{}-0.parquet", w.version);
    w.store.objects.borrow_mut().insert(file, alloc::vec![7; 1000]);
    assert_eq!(pages(&w, "", Some("/"), 2, 64, Reader::Anonymous), want);
    let (_, trace) = page(&w, &query("", None, 2, Vec::new(), 64), Reader::Anonymous);
    assert!(matches!(trace.serving, Serving::Fallback(_)), "{trace:?}");
}

#[test]
fn cursors_are_sealed_and_bound_to_their_listing() {
    let none = Filter::default();
    let ctx = context("docs", "guide", "a/", Some("/"), &none);
    let position = b"a/b\0".to_vec();
    let cursor = seal(b"s1", &ctx, &position);
    assert!(cursor.starts_with('~'));
    assert!(!cursor.contains("a/b"), "the position does not show");
    assert_eq!(open(&[b"s1"], &ctx, &cursor), Some(position.clone()));
    assert_eq!(open(&[b"s2", b"s1"], &ctx, &cursor), Some(position.clone()), "the previous secret during a rotation");
    assert_eq!(open(&[b"s2"], &ctx, &cursor), None);
    let tagged = Filter::parse(&[("tag.team".into(), "docs".into())]).unwrap();
    for other in [
        context("docs", "guide", "a/", None, &none),
        context("docs", "guide", "", Some("/"), &none),
        context("docs", "guidf", "a/", Some("/"), &none),
        context("docs", "guide", "a/", Some("/"), &tagged),
    ] {
        assert_eq!(open(&[b"s1"], &other, &cursor), None, "another listing's cursor");
    }
    let mut tampered = cursor.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(open(&[b"s1"], &ctx, core::str::from_utf8(&tampered).unwrap()), None);
    assert_eq!(open(&[b"s1"], &ctx, "a/b"), None, "not sealed");
    // Long positions (past one block of key stream).
    let long: Vec<u8> = (0..200u8).collect();
    assert_eq!(open(&[b"s1"], &ctx, &seal(b"s1", &ctx, &long)), Some(long));
}
