//! `expires_at` and `tags` (#18) ride along with the locating columns: every way of finding rows
//! fills them, a table without the columns leaves them `None`, and a lookup reads no more
//! objects for them (their chunks lie next to `deleted`'s, inside the same merged read).

use super::test_table::{block_on, row, Builder, Row};
use super::*;
use crate::iceberg::table_metadata::Operation;

const TAGS: [Option<&str>; 3] = [Some(r#"{"env":"prod"}"#), None, Some(r#"{"a":"1","b":"2"}"#)];
const EXPIRES: [Option<i64>; 3] = [None, Some(1_900_000_000_000_000), Some(5)];

fn rows() -> Vec<Row> {
    vec![row("a", 1, "# a"), row("b", 2, "# b"), row("c", 3, "# c")]
}

/// A table of one append of `rows()`, with the v2 columns or without them.
fn table(v2: bool) -> Builder {
    let mut t = Builder::new();
    let df = if v2 { t.data_v2(&rows(), 2, &TAGS, &EXPIRES) } else { t.data(&rows(), 2) };
    t.commit(vec![df]);
    t.meta.snapshots.last_mut().unwrap().summary.operation = Operation::Append;
    t
}

fn find(t: &Builder, id: &str, cost: &mut Cost) -> Option<Found> {
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    block_on(locate(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, &At::Current, cost)).unwrap()
}

#[test]
fn lookups_and_listings_carry_expires_at_and_tags() {
    let t = table(true);
    let table = Table { metadata: &t.meta, location_prefix: &t.prefix };
    let listed = block_on(list(&t.store, &table, "docs", "guide", &At::Current, &mut Cost::default())).unwrap();
    let tail = block_on(list_after(&t.store, &table, "docs", "guide", 0, &mut Cost::default())).unwrap();
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        let want = (EXPIRES[i], TAGS[i].map(String::from), false);
        let f = find(&t, id, &mut Cost::default()).unwrap();
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "locate {id}");
        let f = block_on(locate_after(&t.store, &table, Wanted { ns: "docs", ty: "guide", id }, 0, &mut Cost::default())).unwrap().unwrap();
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "locate_after {id}");
        let f = &listed[id];
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "list {id}");
        let f = &tail[id];
        assert_eq!((f.expires_at, f.tags.clone(), f.tags_too_long), want, "list_after {id}");
    }
}

#[test]
fn a_table_without_the_columns_reads_as_no_expiry_and_no_tags() {
    let t = table(false);
    for id in ["a", "b", "c"] {
        let f = find(&t, id, &mut Cost::default()).unwrap();
        assert_eq!((f.expires_at, f.tags, f.tags_too_long), (None, None, false), "{id}");
    }
}

/// The cost the brief fixes: reading the two columns adds no object read to a lookup (they are
/// read with the row group's other locating columns, in the same merged range).
#[test]
fn the_two_columns_cost_a_lookup_no_read() {
    let (v1, v2) = (table(false), table(true));
    for id in ["a", "b", "c", "zz"] {
        let (mut c1, mut c2) = (Cost::default(), Cost::default());
        find(&v1, id, &mut c1);
        find(&v2, id, &mut c2);
        assert_eq!(c1.reads, c2.reads, "{id}: {c1:?} vs {c2:?}");
    }
}

/// The page-by-page path (arrow-rs files, as Pipelines writes them, dictionaries on, with large
/// locating chunks): null or short tags cost a lookup no read (the small dictionary pages of
/// `tags` and `expires_at` ride along with the pages next to them, `pages::read_windows`); many
/// long tags put the tags and `expires_at` pages more than 64 KiB past `deleted`'s, and a lookup
/// pays up to two reads for them (the documented limit; measured 73 → 93 reads for 10 lookups).
#[test]
fn page_by_page_the_two_columns_cost_a_read_only_when_tags_are_large() {
    use std::sync::Arc;

    use arrow_parquet::basic::{Compression, ZstdLevel};
    use arrow_parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
    use arrow_parquet::file::properties::{EnabledStatistics, WriterProperties};
    use arrow_parquet::file::writer::SerializedFileWriter;
    use arrow_parquet::schema::parser::parse_message_type;

    const ROWS: usize = 3000;
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
    let id = |i: usize| format!("doc-{i:05}");
    // `v2`: with `tags` and `expires_at`; `tag_words`: words of noise per row's tags (0: null).
    let file = |v2: bool, tag_words: usize| -> Vec<u8> {
        let extra = if v2 { "optional binary tags (STRING) = 25; optional int64 expires_at (TIMESTAMP(MICROS,true)) = 26;" } else { "" };
        let schema = format!(
            "message artifacts {{ required binary ns (STRING) = 1; required binary type (STRING) = 2; \
             required binary id (STRING) = 3; required int64 ts (TIMESTAMP(MICROS,true)) = 4; \
             optional binary markdown (STRING) = 8; optional binary content_hash (STRING) = 19; \
             optional boolean deleted = 21; {extra} }}"
        );
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let mut buf = Vec::new();
        let mut w = SerializedFileWriter::new(&mut buf, Arc::new(parse_message_type(&schema).unwrap()), Arc::new(props)).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut col = 0;
        while let Some(mut c) = rg.next_column().unwrap() {
            let all = vec![1i16; ROWS];
            match col {
                3 => {
                    c.typed::<Int64Type>().write_batch(&(0..ROWS as i64).collect::<Vec<_>>(), None, None).unwrap();
                }
                6 => {
                    c.typed::<BoolType>().write_batch(&vec![false; ROWS], Some(&all), None).unwrap();
                }
                7 if tag_words == 0 => {
                    c.typed::<ByteArrayType>().write_batch(&[], Some(&vec![0i16; ROWS]), None).unwrap();
                }
                8 => {
                    c.typed::<Int64Type>().write_batch(&vec![9i64; ROWS], Some(&all), None).unwrap();
                }
                _ => {
                    let f = |i: usize| match col {
                        0 => "docs".to_string(),
                        1 => "guide".to_string(),
                        2 => id(i),
                        4 => noise(i, 300),
                        5 => format!("h{i}-{}", noise(i + 7, 400)),
                        _ => format!("{{\"k\":\"{}\"}}", noise(i + 3, tag_words)),
                    };
                    let v: Vec<ByteArray> = (0..ROWS).map(|i| ByteArray::from(f(i).into_bytes())).collect();
                    c.typed::<ByteArrayType>().write_batch(&v, (col >= 4).then_some(all.as_slice()), None).unwrap();
                }
            }
            c.close().unwrap();
            col += 1;
        }
        rg.close().unwrap();
        w.close().unwrap();
        buf
    };
    let reads = |bytes: Vec<u8>| -> (u32, Option<String>, Option<i64>) {
        let mut t = Builder::new();
        let df = t.raw_data(bytes, ROWS as i64);
        t.commit(vec![df]);
        let mut cost = Cost::default();
        let mut last = (None, None);
        for i in (0..ROWS).step_by(301) {
            let f = find(&t, &id(i), &mut cost).unwrap();
            last = (f.tags, f.expires_at);
        }
        (cost.reads, last.0, last.1)
    };
    let lookups = ROWS.div_ceil(301) as u32;
    let (without, _, _) = reads(file(false, 0));
    let (null_tags, tags, expires) = reads(file(true, 0));
    assert_eq!((tags, expires), (None, Some(9)));
    let (short_tags, tags, _) = reads(file(true, 4));
    assert!(tags.is_some_and(|t| t.starts_with("{\"k\":")));
    let (long_tags, _, _) = reads(file(true, 60));
    assert_eq!(null_tags, without, "null tags: no read more");
    assert_eq!(short_tags, without, "short tags (their chunk under 64 KiB): no read more");
    assert!(long_tags > without && long_tags <= without + lookups * 2, "long tags: {long_tags} vs {without} for {lookups} lookups");
}
