//! The locator on a file written by arrow-rs (the production writer) with its page index: large
//! chunks are read page by page, and every answer is the one the rows written say.

use std::sync::Arc;

use arrow_parquet::basic::{Compression, ZstdLevel};
use arrow_parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use arrow_parquet::file::properties::{EnabledStatistics, WriterProperties};
use arrow_parquet::file::writer::SerializedFileWriter;
use arrow_parquet::schema::parser::parse_message_type;

use super::test_table::*;
use super::*;

const SCHEMA: &str = "
message artifacts {
  required binary ns (STRING) = 1;
  required binary type (STRING) = 2;
  required binary id (STRING) = 3;
  required int64 ts (TIMESTAMP(MICROS,true)) = 4;
  optional binary visibility (STRING) = 5;
  optional binary markdown (STRING) = 8;
  optional binary content_hash (STRING) = 19;
}";

const ROWS: usize = 3000;

/// Even numbers only: with 100 rows a page, `doc-00199` falls between two pages' bounds.
fn id(i: usize) -> String {
    format!("doc-{:05}", i * 2)
}

/// About 2 KB of text per row that compresses poorly (so chunks stay large).
fn markdown(i: usize) -> String {
    noise(i, 600)
}

fn noise(i: usize, words: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..words)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:x}", x & 0xff)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row group of ROWS rows, pages of 100 rows, page-level statistics (the page index).
fn arrow_file(page_index: bool, hash: fn(usize) -> String) -> Vec<u8> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_data_page_row_count_limit(100)
        .set_write_batch_size(100)
        .set_statistics_enabled(if page_index { EnabledStatistics::Page } else { EnabledStatistics::Chunk })
        .set_offset_index_disabled(!page_index)
        .build();
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let mut buf = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).unwrap();
    let mut rg = writer.next_row_group().unwrap();
    let strings: [Box<dyn Fn(usize) -> String>; 6] = [
        Box::new(|_| "docs".into()),
        Box::new(|_| "guide".into()),
        Box::new(id),
        Box::new(|_| unreachable!()),
        Box::new(|_| "public".into()),
        Box::new(markdown),
    ];
    let mut col = 0;
    while let Some(mut c) = rg.next_column().unwrap() {
        if col == 3 {
            let v: Vec<i64> = (0..ROWS).map(|i| 1_000 + i as i64).collect();
            c.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
        } else {
            let f: &dyn Fn(usize) -> String = if col == 6 { &hash } else { &strings[col] };
            let v: Vec<ByteArray> = (0..ROWS).map(|i| ByteArray::from(f(i).into_bytes())).collect();
            let defs: Vec<i16> = vec![1; ROWS];
            let defs = if col >= 4 { Some(defs.as_slice()) } else { None };
            c.typed::<ByteArrayType>().write_batch(&v, defs, None).unwrap();
        }
        c.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    writer.close().unwrap();
    buf
}

fn short_hash(i: usize) -> String {
    format!("h{i}")
}

/// A content hash large enough to make the locate columns' chunks large too.
fn long_hash(i: usize) -> String {
    format!("h{i}-{}", noise(i + 7, 400))
}

fn lookups(page_index: bool, hash: fn(usize) -> String) -> (Builder, u64, u32) {
    let mut t = Builder::new();
    let file = arrow_file(page_index, hash);
    let df = t.raw_data(file, ROWS as i64);
    t.commit(vec![df]);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let mut cost = Cost::default();
    for i in (0..ROWS).step_by(97).chain([0, ROWS - 1]) {
        let wanted = Wanted { ns: "docs", ty: "guide", id: &id(i) };
        let found = block_on(locate(&t.store, &table, wanted, &At::Current, &mut cost)).unwrap().unwrap_or_else(|| panic!("{}", id(i)));
        assert_eq!((found.ts, found.row), (1_000 + i as i64, i), "{}", id(i));
        assert_eq!(found.content_hash, Some(hash(i)));
        let md = block_on(read_value(&t.store, &table, &found, "markdown", &mut cost)).unwrap();
        assert_eq!(md, Some(markdown(i)), "{}", id(i));
    }
    for missing in ["doc-", "doc-99999", "a", "zzz", "doc-00010x", "doc-00199", "doc-00201"] {
        let wanted = Wanted { ns: "docs", ty: "guide", id: missing };
        assert_eq!(block_on(locate(&t.store, &table, wanted, &At::Current, &mut cost)).unwrap(), None, "{missing}");
    }
    let listed = block_on(list(&t.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
    assert_eq!(listed.len(), ROWS, "a listing reads every row");
    (t, cost.bytes, cost.reads)
}

#[test]
fn large_chunks_are_read_page_by_page_with_the_same_answers() {
    let file_size = arrow_file(true, short_hash).len() as u64;
    assert!(file_size > 2 * pages::PAGE_READS_FROM_BYTES, "the markdown chunk is large: {file_size}");
    let (_, paged_bytes, paged_reads) = lookups(true, short_hash);
    let (_, whole_bytes, whole_reads) = lookups(false, short_hash);
    // 33 lookups and 5 misses; without a page index each lookup reads the locate chunks and
    // the markdown chunk whole. With it, a lookup reads one markdown page, plus the ~1 MB
    // dictionary page for the first rows (arrow-rs falls back to PLAIN once it is full).
    assert!(paged_bytes * 5 < whole_bytes, "page reads {paged_bytes} B vs whole chunks {whole_bytes} B");
    assert!(paged_reads < whole_reads * 3, "requests: {paged_reads} vs {whole_reads}");
}

#[test]
fn a_corrupt_page_index_falls_back_to_whole_chunks() {
    let mut file = arrow_file(true, long_hash);
    let footer = crate::parquet::parse_footer(&file, file.len() as u64).unwrap();
    // Garble every offset index: parsing fails, so chunks are read whole, with the same answers.
    for rg in &footer.row_groups {
        for c in &rg.columns {
            let (off, len) = c.offset_index.unwrap();
            file[off as usize..(off + len) as usize].fill(0xff);
        }
    }
    let mut t = Builder::new();
    let df = t.raw_data(file, ROWS as i64);
    t.commit(vec![df]);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let mut cost = Cost::default();
    let found =
        block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id: &id(1234) }, &At::Current, &mut cost)).unwrap().unwrap();
    assert_eq!(found.row, 1234);
    assert_eq!(block_on(read_value(&t.store, &table, &found, "markdown", &mut cost)).unwrap(), Some(markdown(1234)));
}

#[test]
fn the_id_column_index_finds_the_page_of_a_row_and_rules_out_missing_ids() {
    let (t, _, _) = lookups(true, long_hash);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    // The locate chunks are large now: an id within the row group's bounds but between two
    // pages' bounds reads no data page.
    let mut cost = Cost::default();
    let wanted = Wanted { ns: "docs", ty: "guide", id: "doc-00199" };
    assert_eq!(block_on(locate(&t.store, &table, wanted, &At::Current, &mut cost)).unwrap(), None);
    // manifest list + manifest + footer suffix (holding the page index) and nothing else.
    assert_eq!(cost.reads, 3, "{cost:?}");
    // Within a page's bounds but absent: that page is read, nothing found.
    let wanted = Wanted { ns: "docs", ty: "guide", id: "doc-00201" };
    assert_eq!(block_on(locate(&t.store, &table, wanted, &At::Current, &mut cost)).unwrap(), None);
    let mut hit = Cost::default();
    let wanted = Wanted { ns: "docs", ty: "guide", id: "doc-03000" };
    let found = block_on(locate(&t.store, &table, wanted, &At::Current, &mut hit)).unwrap().unwrap();
    assert_eq!(found.row, 1500);
    let file_size = t.store.objects.borrow().values().map(Vec::len).max().unwrap() as u64;
    assert!(hit.bytes * 10 < file_size, "a hit reads {} of {file_size} bytes", hit.bytes);
}

/// Ids in every row group span the alphabet (as in an unsorted Pipelines table), so statistics
/// prune nothing: a lookup reads the `id` chunk of each row group and the other locating columns
/// only where the id is.
#[test]
fn a_lookup_reads_the_other_columns_only_where_the_id_is() {
    let mut t = Builder::new();
    let ids = ["a", "z", "b", "y", "c", "x", "m", "w"];
    let rows: Vec<Row> = ids.iter().map(|id| row(id, 1, "body")).collect();
    let df = t.data(&rows, 2);
    t.commit(vec![df.clone()]);
    let table = Table { metadata: &t.meta, location_prefix: PREFIX };
    let key = df.file_path.strip_prefix(PREFIX).unwrap().to_string();
    let file = t.store.objects.borrow()[&key].clone();
    let footer = crate::parquet::parse_footer(&file, file.len() as u64).unwrap();
    let id_col = footer.column_by_name("id").unwrap();
    let id_chunks: u64 = footer.row_groups.iter().map(|rg| rg.columns[id_col].total_compressed_size).sum();
    let footer_read = crate::parquet::footer_range(file.len() as u64).1;
    let metadata_reads = |c: &Cost| c.bytes - footer_read - id_chunks;

    // "n" lies within every row group's bounds but is in none: only id chunks are read.
    let mut miss = Cost::default();
    assert_eq!(block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id: "n" }, &At::Current, &mut miss)).unwrap(), None);
    assert_eq!(miss.reads, 2 + 1 + 4, "list, manifest, footer, one id chunk per row group: {miss:?}");
    // "m" is in the fourth row group: that one also reads its locating columns.
    let mut hit = Cost::default();
    let found = block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id: "m" }, &At::Current, &mut hit)).unwrap().unwrap();
    assert_eq!((found.row_group, found.row), (3, 0));
    assert_eq!(hit.reads, miss.reads + 1);
    assert!(metadata_reads(&hit) > metadata_reads(&miss), "the hit row group's other columns");
}
