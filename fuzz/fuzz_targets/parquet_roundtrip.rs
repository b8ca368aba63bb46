//! `iceberg_writer::write_parquet` → `shared`'s reader, on columns built from the input.
//!
//! The input drives a small builder (`shared_fuzz::Bytes`): codec, rows per row group (at most
//! three row groups), up to 48 rows, one or two columns, then per column its kind (string, long, boolean, timestamp, list of strings), whether it is required,
//! and its values (strings from a small alphabet with multi-byte characters). Checks: the write
//! succeeds; reading the footer from the worker's suffix (`footer_range`, then what `More` asks
//! for) gives the schema, row count and row groups written; every column decodes, row group by
//! row group, to exactly the values written; `prune_row_groups` never drops the row group that
//! holds a value (strings and longs); the Iceberg metrics count rows and nulls, and every
//! non-null value lies within the written bounds (`may_contain` for strings, signed for longs).
#![no_main]

use iceberg_writer::{ColumnData, WriteCodec, WriteColumn};
use libfuzzer_sys::fuzz_target;
use shared::iceberg::manifest::{bound_long, may_contain};
use shared::parquet::{decode_column_chunk, footer_range, parse_footer, prune_row_groups, ColumnValues, DecodeLimits, Footer, FooterNeeds};
use shared_fuzz::Bytes;

const ALPHABET: [&str; 8] = ["a", "b", "z", "é", "€", "😀", "\u{7f}", "\u{10FFFF}"];
const MAX_ROWS: usize = 48;
const MAX_GROUPS: usize = 3;

fn string(b: &mut Bytes<'_>) -> String {
    let n = usize::from(b.u8() % 24);
    (0..n).map(|_| ALPHABET[usize::from(b.u8() % 8)]).collect()
}

fn opt<T>(b: &mut Bytes<'_>, required: bool, f: impl FnOnce(&mut Bytes<'_>) -> T) -> Option<T> {
    if !required && b.u8() % 4 == 0 {
        None
    } else {
        Some(f(b))
    }
}

fn long(b: &mut Bytes<'_>) -> i64 {
    // Mostly small, sometimes extreme.
    match b.u8() % 4 {
        0 => b.i64(),
        1 => i64::from(b.u8()) - 128,
        2 => [i64::MIN, i64::MAX, 0, -1][usize::from(b.u8() % 4)],
        _ => i64::from(b.u8()) * 1_000_000,
    }
}

fn column(b: &mut Bytes<'_>, i: usize, rows: usize) -> WriteColumn {
    let kind = b.u8() % 5;
    let required = b.bool();
    let data = match kind {
        0 => ColumnData::Utf8((0..rows).map(|_| opt(b, required, string)).collect()),
        1 => ColumnData::Int64((0..rows).map(|_| opt(b, required, long)).collect()),
        2 => ColumnData::Boolean((0..rows).map(|_| opt(b, required, |b| b.bool())).collect()),
        3 => ColumnData::TimestampMicros((0..rows).map(|_| opt(b, required, long)).collect()),
        _ => ColumnData::Utf8List(
            (0..rows)
                .map(|_| {
                    opt(b, required, |b| {
                        let n = usize::from(b.u8() % 4);
                        (0..n).map(|_| opt(b, false, string)).collect()
                    })
                })
                .collect(),
        ),
    };
    let id = i32::try_from(i).unwrap_or(0) + 1;
    let element_field_id = matches!(data, ColumnData::Utf8List(_)).then_some(100 + id);
    WriteColumn { name: format!("c{i}"), field_id: id, required, data, element_field_id }
}

fn read_footer(file: &[u8]) -> Footer {
    let size = file.len() as u64;
    let (mut start, _) = footer_range(size);
    for _ in 0..2 {
        match parse_footer(&file[start as usize..], size) {
            Ok(f) => return f,
            Err(FooterNeeds::More { offset, .. }) => start = offset,
            Err(e) => panic!("the written footer does not parse: {e}"),
        }
    }
    panic!("More asked twice");
}

/// What the reader gives back for `rows` of a written column.
fn expected(data: &ColumnData, rows: std::ops::Range<usize>) -> ColumnValues {
    let s = |v: &Option<String>| v.as_ref().map(|s| s.as_bytes().to_vec());
    match data {
        ColumnData::Utf8(v) => ColumnValues::ByteArray(v[rows].iter().map(s).collect()),
        ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => ColumnValues::Int64(v[rows].to_vec()),
        ColumnData::Boolean(v) => ColumnValues::Boolean(v[rows].to_vec()),
        ColumnData::Binary(v) => ColumnValues::ByteArray(v[rows].to_vec()),
        ColumnData::Int32(v) => ColumnValues::Int32(v[rows].to_vec()),
        ColumnData::Utf8List(v) => {
            ColumnValues::ByteArrayList(v[rows].iter().map(|l| l.as_ref().map(|l| l.iter().map(s).collect())).collect())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    // Gzip and zstd pages cost the most to write (a compressor per page): one input in eight each.
    let codec = match b.u8() % 8 {
        0..=2 => WriteCodec::Uncompressed,
        3..=5 => WriteCodec::Snappy,
        6 => WriteCodec::Gzip,
        _ => WriteCodec::Zstd,
    };
    let group = usize::from(b.u8() % 16);
    let rows = usize::from(b.u8()) % (MAX_ROWS + 1);
    // At most three row groups and two columns: every input writes and parses a footer and every
    // chunk costs a compressed page and a decode (about a millisecond each under ASan).
    let group = group.max(rows.div_ceil(MAX_GROUPS));
    let ncols = usize::from(b.u8() % 2) + 1;
    let columns: Vec<WriteColumn> = (0..ncols).map(|i| column(&mut b, i, rows)).collect();

    let written = iceberg_writer::write_parquet(&columns, codec, group).expect("valid columns are written");
    let file = &written.bytes;
    let footer = read_footer(file);
    let group = group.max(1);
    assert_eq!(footer.num_rows, rows as u64);
    assert_eq!(footer.columns.len(), ncols);
    assert_eq!(footer.row_groups.len(), rows.div_ceil(group));
    assert_eq!(written.record_count, rows as i64);
    assert_eq!(written.split_offsets.len(), footer.row_groups.len());

    for (c, col) in columns.iter().enumerate() {
        let leaf = footer.column_by_field_id(col.element_field_id.unwrap_or(col.field_id));
        assert_eq!(leaf, Some(c), "field id of {} not found", col.name);
        for (g, rg) in footer.row_groups.iter().enumerate() {
            let range = g * group..((g + 1) * group).min(rows);
            assert_eq!(rg.num_rows, range.len() as u64);
            let chunk = &rg.columns[c];
            let (start, len) = chunk.range();
            let bytes = &file[start as usize..(start + len) as usize];
            let values = decode_column_chunk(bytes, chunk, DecodeLimits::default());
            assert_eq!(values, Ok(expected(&col.data, range.clone())), "{} row group {g}", col.name);
            // Pruning keeps every row group that holds a value.
            let probes: Vec<Vec<u8>> = match &col.data {
                ColumnData::Utf8(v) => v[range.clone()].iter().flatten().map(|s| s.as_bytes().to_vec()).collect(),
                ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                    v[range.clone()].iter().flatten().map(|x| x.to_le_bytes().to_vec()).collect()
                }
                _ => Vec::new(),
            };
            for p in probes.iter().take(2) {
                assert!(prune_row_groups(&footer, c, p).contains(&g), "{} row group {g} pruned for {p:?}", col.name);
            }
        }
        // Iceberg metrics, keyed by the leaf's field id.
        let id = col.element_field_id.unwrap_or(col.field_id);
        let get = |m: &[(i32, i64)]| m.iter().find(|(k, _)| *k == id).map(|(_, v)| *v);
        let lower = written.lower_bounds.iter().find(|(k, _)| *k == id).map(|(_, v)| v.as_slice());
        let upper = written.upper_bounds.iter().find(|(k, _)| *k == id).map(|(_, v)| v.as_slice());
        match &col.data {
            ColumnData::Utf8List(_) => {}
            d => {
                assert_eq!(get(&written.value_counts), Some(rows as i64));
                let nulls = match d {
                    ColumnData::Utf8(v) => v.iter().filter(|x| x.is_none()).count(),
                    ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                        v.iter().filter(|x| x.is_none()).count()
                    }
                    ColumnData::Boolean(v) => v.iter().filter(|x| x.is_none()).count(),
                    ColumnData::Binary(v) => v.iter().filter(|x| x.is_none()).count(),
                    ColumnData::Int32(v) => v.iter().filter(|x| x.is_none()).count(),
                    ColumnData::Utf8List(_) => 0,
                };
                assert_eq!(get(&written.null_value_counts), Some(nulls as i64));
            }
        }
        match &col.data {
            ColumnData::Utf8(v) => {
                for s in v.iter().flatten() {
                    assert!(may_contain(lower, upper, s.as_bytes()), "{s:?} outside [{lower:?}, {upper:?}]");
                }
            }
            ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                for x in v.iter().flatten() {
                    let lo = lower.and_then(bound_long).expect("a long column with values has a lower bound");
                    let hi = upper.and_then(bound_long).expect("a long column with values has an upper bound");
                    assert!(lo <= *x && *x <= hi, "{x} outside [{lo}, {hi}]");
                }
            }
            _ => {}
        }
    }
});
