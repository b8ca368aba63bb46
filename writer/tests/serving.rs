//! The serving table's files and commits against `shared`'s readers: the footer and page index
//! from the index region alone, the `_lookup` page found by binary search over the column index,
//! entries decoded, values copied; serve's lookup over the files; the table's metadata and its
//! commits read back.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use iceberg_writer::serving::{
    commit_serving, new_serving_table, watermark_key, write_serving_file, ServingCommit, ServingRow, LOOKUP, LOOKUP_PAGE_BYTES, PAGE_BYTES,
};
use iceberg_writer::WriteCodec;
use shared::iceberg::manifest::{read_manifest, read_manifest_list, EntryStatus};
use shared::iceberg::table_metadata::{Operation, TableMetadata};
use shared::locate::{Cell, ObjectStore, StoreError};
use shared::parquet::{decode_page_run, page_rows, parse_column_index, parse_footer, parse_offset_index, ColumnValues, DecodeLimits};
use shared::record::COLUMNS;
use shared::serving::entry::{cell_key, Entry};
use shared::serving::key::key;
use shared::serving::order::Order;
use shared::serving::plan::{newest_per_key, Keyed};
use shared::serving::root::{Root, SourceState};

fn row(i: usize, big: bool) -> ServingRow {
    let id = format!("doc-{i:05}-{}", "x".repeat(i % 40));
    let entry = Entry {
        key: key("acme", "doc", &id),
        order: Order { ts: 1_700_000_000_000_000 + i as i64, seq: (i % 7) as i64, source: (i % 3) as u32, pos: (i as u64) << 24 },
        deleted: i.is_multiple_of(11),
        visibility: Some("public".into()),
        owner_org: Some("acme".into()),
        owner_user: Some(format!("user-{i}")),
        content_hash: Some(format!("{i:064x}")),
        size_bytes: Some(i as i64 * 10),
        expires_at: None,
        tags: None,
        tags_too_long: false,
        supersedes: false,
        expired: false,
    };
    let cells = COLUMNS
        .iter()
        .map(|c| match c.name {
            "ns" => Cell::Text("acme".into()),
            "type" => Cell::Text("doc".into()),
            "id" => Cell::Text(id.clone()),
            "ts" => Cell::Long(entry.order.ts),
            "visibility" => Cell::Text("public".into()),
            "owner_org" => Cell::Text("acme".into()),
            "owner_user" => Cell::Text(format!("user-{i}")),
            "markdown" if big => Cell::Text("m".repeat(200_000)),
            "markdown" => Cell::Text(format!("# doc {i}\n\n{}", "text ".repeat(i % 50))),
            "html" if i.is_multiple_of(2) => Cell::Text(format!("<p>{i}</p>")),
            "inputs" => Cell::List(vec![Some(format!("in-{i}")), None]),
            "content_hash" => Cell::Text(format!("{i:064x}")),
            "size_bytes" => Cell::Long(i as i64 * 10),
            "deleted" => Cell::Bool(i.is_multiple_of(11)),
            "expires_at" if i.is_multiple_of(3) => Cell::Long(5),
            _ => Cell::Null,
        })
        .collect();
    ServingRow { entry, cells }
}

fn rows(n: usize) -> Vec<ServingRow> {
    newest_per_key((0..n).map(|i| row(i, i == 17)).collect())
}

/// Reads the `_lookup` page that may hold `k` using only the index region and one page: the
/// offset and column indexes from `[index_offset, size)`, a binary search over the pages' key
/// bounds, the page decoded. Returns the page's cells.
fn lookup_page(bytes: &[u8], index_offset: u64, k: &[u8]) -> Option<Vec<Vec<u8>>> {
    let size = bytes.len() as u64;
    let region = &bytes[index_offset as usize..];
    let footer = parse_footer(region, size).expect("the index region holds the footer");
    let col = footer.column_by_name(LOOKUP).unwrap();
    let chunk = footer.chunk(0, col).unwrap();
    let at = |(off, len): (u64, u64)| {
        assert!(off >= index_offset, "page indexes start at index_offset");
        &region[(off - index_offset) as usize..(off - index_offset + len) as usize]
    };
    let num_rows = footer.row_groups[0].num_rows;
    let locations = parse_offset_index(at(chunk.offset_index.unwrap()), chunk, num_rows).unwrap();
    let bounds = parse_column_index(at(chunk.column_index.unwrap()), locations.len()).unwrap();
    // Cells are `key 0x00 json`: the page holding k's cell is the first whose max ≥ `k 0x00`.
    let mut low = k.to_vec();
    low.push(0);
    let p = bounds.partition_point(|b| b.max.as_slice() < low.as_slice());
    let b = bounds.get(p)?;
    if b.min.as_slice() > [low.as_slice(), b"\x7f"].concat().as_slice() {
        return None;
    }
    let loc = &locations[p];
    let page = &bytes[loc.offset as usize..(loc.offset + loc.length) as usize];
    let (first, end) = page_rows(&locations, p, num_rows).unwrap();
    let values = decode_page_run(None, page, chunk, end - first, DecodeLimits::default()).unwrap();
    let ColumnValues::ByteArray(cells) = values else { panic!("_lookup is a byte array column") };
    let cells: Vec<Vec<u8>> = cells.into_iter().map(Option::unwrap).collect();
    // The page's bounds are its first and last keys, cut after them: `first 0x00`, `last 0x01`.
    let key_of = |c: &[u8]| shared::serving::entry::cell_key(c).unwrap().to_vec();
    assert_eq!(b.min, [key_of(&cells[0]), vec![0]].concat());
    assert_eq!(b.max, [key_of(cells.last().unwrap()), vec![1]].concat());
    Some(cells)
}

#[test]
fn a_serving_file_reads_back_from_its_index_region_and_one_lookup_page() {
    let rows = rows(1_500);
    for codec in [WriteCodec::Snappy, WriteCodec::Zstd, WriteCodec::Lz4Raw, WriteCodec::Uncompressed] {
        let f = write_serving_file(&rows, codec).unwrap();
        assert_eq!(f.min, rows[0].entry.key);
        assert_eq!(f.max, rows.last().unwrap().entry.key);
        assert!(f.index_offset < f.written.bytes.len() as u64);
        assert_eq!(f.written.record_count, rows.len() as i64);
        for r in rows.iter().step_by(7) {
            let cells = lookup_page(&f.written.bytes, f.index_offset, &r.entry.key).expect("a page for a present key");
            let cell = cells.iter().find(|c| cell_key(c) == Some(r.entry.key.as_slice())).expect("the key's cell in its page");
            assert_eq!(Entry::decode(cell).as_ref(), Some(&r.entry));
            // ~64–100 entries a page.
            let value_bytes: usize = cells.iter().map(|c| c.len() + 4).sum();
            assert!(value_bytes <= LOOKUP_PAGE_BYTES, "{value_bytes}");
        }
        let absent = key("acme", "doc", "doc-00003-xxx-absent");
        if let Some(cells) = lookup_page(&f.written.bytes, f.index_offset, &absent) {
            assert!(cells.iter().all(|c| cell_key(c) != Some(absent.as_slice())));
        }
    }
}

#[test]
fn pages_are_small_and_the_footer_is_whole() {
    let rows = rows(600);
    let f = write_serving_file(&rows, WriteCodec::Snappy).unwrap();
    let bytes = &f.written.bytes;
    let footer = parse_footer(&bytes[f.index_offset as usize..], bytes.len() as u64).unwrap();
    let num_rows = footer.row_groups[0].num_rows;
    assert_eq!(footer.row_groups.len(), 1, "one row group");
    assert_eq!(num_rows, rows.len() as u64);
    for (c, chunk) in footer.row_groups[0].columns.iter().enumerate() {
        let region = &bytes[..];
        let (off, len) = chunk.offset_index.expect("every column has an offset index");
        assert!(off >= f.index_offset);
        let locations = parse_offset_index(&region[off as usize..(off + len) as usize], chunk, num_rows).unwrap();
        let limit = if footer.columns[c].path[0] == LOOKUP { LOOKUP_PAGE_BYTES } else { PAGE_BYTES };
        if chunk.max_rep_level > 0 {
            // Lists are not read page by page (shared reads them whole); their pages are cut
            // by the same rule.
            continue;
        }
        for (p, loc) in locations.iter().enumerate() {
            let (first, end) = page_rows(&locations, p, num_rows).unwrap();
            let page = &bytes[loc.offset as usize..(loc.offset + loc.length) as usize];
            let values = decode_page_run(None, page, chunk, end - first, DecodeLimits::default()).unwrap();
            let value_bytes: usize = match &values {
                ColumnValues::ByteArray(v) => v.iter().flatten().map(|b| b.len() + 4).sum(),
                ColumnValues::ByteArrayList(v) => v.iter().flatten().flatten().flatten().map(|b| b.len() + 4).sum(),
                ColumnValues::Int64(v) => v.len() * 8,
                ColumnValues::Int32(v) => v.len() * 4,
                ColumnValues::Boolean(v) => v.len(),
                #[allow(unreachable_patterns)]
                _ => 0,
            };
            // A page holds at least one value; only a single value may pass the limit.
            assert!(value_bytes <= limit || end - first == 1, "column {c} page {p}: {value_bytes} bytes, {} rows", end - first);
        }
        // The whole chunk decodes to the values written.
        if footer.columns[c].path[0] == "id" {
            let mut ids = Vec::new();
            for (p, loc) in locations.iter().enumerate() {
                let (first, end) = page_rows(&locations, p, num_rows).unwrap();
                let page = &bytes[loc.offset as usize..(loc.offset + loc.length) as usize];
                let ColumnValues::ByteArray(v) = decode_page_run(None, page, chunk, end - first, DecodeLimits::default()).unwrap() else {
                    panic!()
                };
                ids.extend(v.into_iter().map(|b| String::from_utf8(b.unwrap()).unwrap()));
            }
            let want: Vec<String> = rows
                .iter()
                .map(|r| match &r.cells[2] {
                    Cell::Text(s) => s.clone(),
                    _ => unreachable!(),
                })
                .collect();
            assert_eq!(ids, want);
        }
    }
    // Every column of the record plus the four serving columns, by field id.
    for (name, id) in [("ns", 1), ("expires_at", 26), ("_lookup", 100), ("_source", 101), ("_seq", 102), ("_pos", 103)] {
        let c = footer.column_by_name(name).unwrap();
        assert_eq!(footer.columns[c].field_id, Some(id), "{name}");
    }
}

#[test]
fn write_serving_file_refuses_what_it_cannot_write() {
    let mut rs = rows(3);
    assert!(write_serving_file(&[], WriteCodec::Snappy).is_err(), "no rows");
    rs.swap(0, 1);
    assert!(write_serving_file(&rs, WriteCodec::Snappy).is_err(), "keys out of order");
    let mut rs = rows(3);
    rs[1].cells.pop();
    assert!(write_serving_file(&rs, WriteCodec::Snappy).is_err(), "a cell missing");
    let mut rs = rows(3);
    rs[1].cells[0] = Cell::Long(1);
    assert!(write_serving_file(&rs, WriteCodec::Snappy).is_err(), "a cell of the wrong type");
    let mut rs = rows(3);
    rs[1].cells[0] = Cell::Null;
    assert!(write_serving_file(&rs, WriteCodec::Snappy).is_err(), "a null key column");
    let mut rs = rows(3);
    rs[1].cells[4] = Cell::Null;
    assert!(write_serving_file(&rs, WriteCodec::Snappy).is_ok(), "a null visibility is copied, not refused");
}

#[test]
fn serving_rows_order_by_the_winner_rule() {
    let a = row(1, false);
    let mut b = row(1, false);
    b.entry.order.source = 0;
    b.entry.order.ts += 1;
    assert_eq!(a.key(), b.key());
    let out = newest_per_key(vec![a, b.clone()]);
    assert_eq!(out, vec![b]);
}

struct Files(BTreeMap<String, Vec<u8>>);

impl ObjectStore for Files {
    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<Vec<u8>, StoreError> {
        let bytes = self.0.get(key).ok_or(StoreError::NotFound)?;
        Ok(match range {
            None => bytes.clone(),
            Some((start, len)) => bytes[start as usize..(start + len) as usize].to_vec(),
        })
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Serve's lookup (`shared::serving::lookup`) over an L1 file and an L0 file that holds newer
/// versions of some keys.
#[test]
fn serves_lookup_reads_the_files_written_here() {
    let l1_rows = rows(400);
    let l0_rows: Vec<ServingRow> = l1_rows
        .iter()
        .step_by(5)
        .map(|r| {
            let mut r = r.clone();
            r.entry.order.ts += 1;
            r
        })
        .collect();
    let l1 = write_serving_file(&l1_rows, WriteCodec::Snappy).unwrap();
    let l0 = write_serving_file(&l0_rows, WriteCodec::Snappy).unwrap();
    let (k1, k0) = ("serving/artifacts/data/L1-1-0.parquet".to_string(), "serving/artifacts/data/L0-2-0.parquet".to_string());
    let mut root = Root::empty("serving/artifacts/metadata/v2.metadata.json".into(), vec![source(0), source(1), source(2)]);
    root.files = vec![l1.file_entry(k1.clone(), 1), l0.file_entry(k0.clone(), 0)];
    let root = Root::parse(root.to_json().as_bytes()).unwrap();
    let store = Files(BTreeMap::from([(k1.clone(), l1.written.bytes.clone()), (k0.clone(), l0.written.bytes.clone())]));
    for (i, r) in l1_rows.iter().enumerate() {
        let mut cost = Default::default();
        let hit = block_on(shared::serving::lookup::lookup(&store, &root, &r.entry.key, &mut cost)).unwrap().expect("a hit");
        let newer = i % 5 == 0;
        assert_eq!(hit.order.ts, r.entry.order.ts + i64::from(newer), "row {i}");
        assert_eq!(&hit.found.file_key, if newer { &k0 } else { &k1 });
        assert_eq!(hit.index_offset, if newer { l0.index_offset } else { l1.index_offset });
    }
    let mut cost = Default::default();
    assert_eq!(block_on(shared::serving::lookup::lookup(&store, &root, &key("acme", "doc", "nope"), &mut cost)).unwrap(), None);
}

fn source(i: usize) -> SourceState {
    SourceState {
        id: format!("artifacts/t{i}"),
        metadata: Some(format!("artifacts/t{i}/metadata/v3.metadata.json")),
        snapshot_id: (i != 2).then_some(100 + i as i64),
        sequence_number: Some(3),
        mode: None,
        error: None,
        gap: None,
    }
}

#[test]
fn the_serving_table_and_its_commits_read_back() {
    let meta = new_serving_table("00000000-0000-4000-8000-000000000015".into(), "s3://w/serving/artifacts".into(), 1);
    meta.validate().unwrap();
    let parsed = TableMetadata::from_json(meta.to_json().as_bytes()).unwrap();
    assert_eq!(parsed.default_sort_order_id, 1);
    let json: serde_json::Value = serde_json::from_str(&meta.to_json()).unwrap();
    let order = json["sort-orders"].as_array().unwrap().iter().find(|o| o["order-id"] == 1).unwrap();
    let ids: Vec<i64> = order["fields"].as_array().unwrap().iter().map(|f| f["source-id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let schema = &json["schemas"][0]["fields"];
    let field = |id: i64| schema.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap().clone();
    assert_eq!(
        (field(100)["name"].as_str(), field(100)["type"].as_str(), field(100)["required"].as_bool()),
        (Some("_lookup"), Some("binary"), Some(true))
    );
    assert_eq!(field(101)["type"].as_str(), Some("int"));
    assert_eq!(field(102)["type"].as_str(), Some("long"));
    assert_eq!(field(103)["type"].as_str(), Some("long"));
    assert_eq!(field(3)["name"].as_str(), Some("id"));

    let a = write_serving_file(&rows(10), WriteCodec::Snappy).unwrap();
    let b = write_serving_file(&rows(20), WriteCodec::Snappy).unwrap();
    let c = write_serving_file(&rows(5), WriteCodec::Snappy).unwrap();
    let loc = |n: &str| format!("s3://w/serving/artifacts/data/{n}.parquet");
    let (fa, fb, fc) = (a.data_file(loc("L0-1-0")), b.data_file(loc("L0-1-1")), c.data_file(loc("L1-2-0")));
    assert_eq!(fa.sort_order_id, Some(1));
    let first = commit_serving(
        &meta,
        ServingCommit {
            snapshot_id: 11,
            previous: Vec::new(),
            added: vec![fa.clone(), fb.clone()],
            removed: Vec::new(),
            sources: vec![source(0), source(2)],
            manifest_location: "s3://w/serving/artifacts/metadata/m1-m0.avro".into(),
            manifest_list_location: "s3://w/serving/artifacts/metadata/snap-11.avro".into(),
            now_ms: 2,
            previous_location: Some("s3://w/serving/artifacts/metadata/v0.metadata.json".into()),
            properties: BTreeMap::from([("serving.version".to_string(), "1".to_string())]),
        },
    )
    .unwrap();
    first.metadata.validate().unwrap();
    let snap = first.metadata.current_snapshot().unwrap();
    assert_eq!(snap.summary.operation, Operation::Append);
    let prop = |m: &TableMetadata, k: &str| m.current_snapshot().unwrap().summary.properties.get(k).cloned();
    assert_eq!(prop(&first.metadata, &watermark_key(0)), Some("100".into()));
    assert_eq!(prop(&first.metadata, &watermark_key(1)), Some(String::new()), "no watermark yet");
    assert_eq!(prop(&first.metadata, "total-records"), Some("30".into()));
    assert_eq!(prop(&first.metadata, "serving.version"), Some("1".into()));
    let list = read_manifest_list(&first.manifest_list).unwrap();
    assert_eq!(list.len(), 1);
    let manifest = read_manifest(&first.manifest, &list[0]).unwrap();
    assert_eq!(manifest.entries.len(), 2);

    // A merge: the two L0 files replaced by one L1 file... the first kept, the second removed.
    let second = commit_serving(
        &first.metadata,
        ServingCommit {
            snapshot_id: 12,
            previous: manifest.entries.clone(),
            added: vec![fc.clone()],
            removed: vec![fb.file_path.clone()],
            sources: vec![source(0), source(2)],
            manifest_location: "s3://w/serving/artifacts/metadata/m2-m0.avro".into(),
            manifest_list_location: "s3://w/serving/artifacts/metadata/snap-12.avro".into(),
            now_ms: 3,
            previous_location: Some("s3://w/serving/artifacts/metadata/v1.metadata.json".into()),
            properties: BTreeMap::new(),
        },
    )
    .unwrap();
    second.metadata.validate().unwrap();
    let again = TableMetadata::from_json(second.metadata.to_json().as_bytes()).unwrap();
    let snap = again.current_snapshot().unwrap();
    assert_eq!(snap.summary.operation, Operation::Overwrite);
    assert_eq!(snap.parent_snapshot_id, Some(11));
    assert_eq!(prop(&again, "total-data-files"), Some("2".into()));
    assert_eq!(prop(&again, "total-records"), Some("15".into()));
    assert_eq!(prop(&again, "deleted-data-files"), Some("1".into()));
    let list = read_manifest_list(&second.manifest_list).unwrap();
    assert_eq!(list.len(), 1, "one manifest per snapshot");
    let entries = read_manifest(&second.manifest, &list[0]).unwrap().entries;
    let got: Vec<(EntryStatus, &str, Option<i64>)> =
        entries.iter().map(|e| (e.status, e.data_file.file_path.as_str(), e.sequence_number)).collect();
    assert_eq!(got, vec![(EntryStatus::Existing, fa.file_path.as_str(), Some(1)), (EntryStatus::Added, fc.file_path.as_str(), Some(2))]);
}
