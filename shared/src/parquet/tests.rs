//! Tests: files written natively with arrow-rs's Parquet writer (every codec, data pages v1 and
//! v2, dictionary on and off, several row groups), hand-built pages for the error paths, the
//! pyiceberg fixtures when present, and a mutation sweep that must never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use arrow_parquet::basic::{Compression, Encoding, GzipLevel, ZstdLevel};
use arrow_parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use arrow_parquet::file::metadata::KeyValue;
use arrow_parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use arrow_parquet::file::writer::SerializedFileWriter;
use arrow_parquet::schema::parser::parse_message_type;
use parquet_format_safe as pf;
use parquet_format_safe::thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};

use super::*;

const SCHEMA: &str = "
message artifacts {
  required binary ns (STRING) = 1;
  required binary id (STRING) = 3;
  required int64 ts (TIMESTAMP(MICROS,true)) = 4;
  optional binary markdown (STRING) = 8;
  optional group inputs (LIST) = 18 {
    repeated group list {
      optional binary element (STRING) = 22;
    }
  }
  required int64 size_bytes = 20;
  required boolean deleted = 21;
  optional int32 small = 30;
  optional boolean flag = 31;
}";

#[derive(Debug, Clone, PartialEq)]
struct Row {
    ns: String,
    id: String,
    ts: i64,
    markdown: Option<String>,
    inputs: Option<Vec<Option<String>>>,
    size_bytes: i64,
    deleted: bool,
    small: Option<i32>,
    flag: Option<bool>,
}

fn row(i: usize) -> Row {
    Row {
        ns: if i.is_multiple_of(2) { "docs".into() } else { "blog".into() },
        id: format!("id-{i:05}"),
        ts: 1_700_000_000_000_000 + (i as i64) * 1_000_003,
        // Nulls, empty strings and values, so null and "" must stay apart.
        markdown: match i % 3 {
            0 => None,
            1 => Some(String::new()),
            _ => Some(format!("# Doc {i}\n\n{}", "lorem ipsum ".repeat(i % 11))),
        },
        inputs: match i % 3 {
            0 => None,
            1 => Some(vec![]),
            // Null elements too, and lists long enough to cross pages.
            _ => Some((0..1 + i % 9).map(|k| if k % 4 == 3 { None } else { Some(format!("in-{i}-{k}")) }).collect()),
        },
        size_bytes: (i as i64) * 10 - 30,
        deleted: i.is_multiple_of(5),
        small: if i.is_multiple_of(4) { None } else { Some(i as i32 - 50) },
        flag: if i.is_multiple_of(7) { None } else { Some(i.is_multiple_of(2)) },
    }
}

fn ba(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

/// Writes `groups` (rows per row group, consecutive row numbers) with `props`.
fn write_file(props: WriterProperties, groups: &[usize]) -> (Vec<u8>, Vec<Vec<Row>>) {
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let mut buf = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).unwrap();
    let mut all = Vec::new();
    let mut next = 0;
    for &n in groups {
        let rows: Vec<Row> = (next..next + n).map(row).collect();
        next += n;
        let mut rg = writer.next_row_group().unwrap();
        let mut col_index = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            match col_index {
                0 => {
                    let v: Vec<ByteArray> = rows.iter().map(|r| ba(&r.ns)).collect();
                    col.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
                }
                1 => {
                    let v: Vec<ByteArray> = rows.iter().map(|r| ba(&r.id)).collect();
                    col.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
                }
                2 => {
                    let v: Vec<i64> = rows.iter().map(|r| r.ts).collect();
                    col.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
                3 => {
                    let v: Vec<ByteArray> = rows.iter().filter_map(|r| r.markdown.as_deref().map(ba)).collect();
                    let d: Vec<i16> = rows.iter().map(|r| i16::from(r.markdown.is_some())).collect();
                    col.typed::<ByteArrayType>().write_batch(&v, Some(&d), None).unwrap();
                }
                4 => {
                    let (mut v, mut d, mut r) = (Vec::new(), Vec::new(), Vec::new());
                    for row in &rows {
                        match &row.inputs {
                            None => {
                                d.push(0);
                                r.push(0);
                            }
                            Some(list) if list.is_empty() => {
                                d.push(1);
                                r.push(0);
                            }
                            Some(list) => {
                                for (k, s) in list.iter().enumerate() {
                                    match s {
                                        Some(s) => {
                                            v.push(ba(s));
                                            d.push(3);
                                        }
                                        None => d.push(2),
                                    }
                                    r.push(i16::from(k > 0));
                                }
                            }
                        }
                    }
                    col.typed::<ByteArrayType>().write_batch(&v, Some(&d), Some(&r)).unwrap();
                }
                5 => {
                    let v: Vec<i64> = rows.iter().map(|r| r.size_bytes).collect();
                    col.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
                6 => {
                    let v: Vec<bool> = rows.iter().map(|r| r.deleted).collect();
                    col.typed::<BoolType>().write_batch(&v, None, None).unwrap();
                }
                7 => {
                    let v: Vec<i32> = rows.iter().filter_map(|r| r.small).collect();
                    let d: Vec<i16> = rows.iter().map(|r| i16::from(r.small.is_some())).collect();
                    col.typed::<Int32Type>().write_batch(&v, Some(&d), None).unwrap();
                }
                8 => {
                    let v: Vec<bool> = rows.iter().filter_map(|r| r.flag).collect();
                    let d: Vec<i16> = rows.iter().map(|r| i16::from(r.flag.is_some())).collect();
                    col.typed::<BoolType>().write_batch(&v, Some(&d), None).unwrap();
                }
                _ => unreachable!(),
            }
            col.close().unwrap();
            col_index += 1;
        }
        rg.close().unwrap();
        all.push(rows);
    }
    writer.close().unwrap();
    (buf, all)
}

fn props(codec: Compression, v2: bool, dictionary: bool) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(codec)
        .set_writer_version(if v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_dictionary_enabled(dictionary)
        // Several pages per chunk.
        .set_write_batch_size(7)
        .set_data_page_row_count_limit(7)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .build()
}

/// Parses the footer the way the worker would: the guessed suffix first, then what is missing.
fn footer_of(file: &[u8]) -> Footer {
    let size = file.len() as u64;
    let (off, len) = footer_range(size);
    let tail = &file[off as usize..(off + len) as usize];
    match parse_footer(tail, size) {
        Ok(f) => f,
        Err(FooterNeeds::More { offset, length }) => {
            assert_eq!(offset + length, off);
            parse_footer(&file[offset as usize..], size).unwrap()
        }
        Err(e) => panic!("footer: {e}"),
    }
}

fn chunk_bytes<'a>(file: &'a [u8], footer: &Footer, rg: usize, col: usize) -> &'a [u8] {
    let (off, len) = chunk_range(footer, rg, col).unwrap();
    &file[off as usize..(off + len) as usize]
}

fn decode(file: &[u8], footer: &Footer, rg: usize, col: usize) -> Result<ColumnValues, ParquetError> {
    decode_column_chunk(chunk_bytes(file, footer, rg, col), footer.chunk(rg, col).unwrap(), DecodeLimits::default())
}

fn bytes_col(v: Vec<Option<&str>>) -> ColumnValues {
    ColumnValues::ByteArray(v.into_iter().map(|s| s.map(|s| s.as_bytes().to_vec())).collect())
}

fn check_file(file: &[u8], groups: &[Vec<Row>], label: &str) {
    let footer = footer_of(file);
    assert_eq!(footer.row_groups.len(), groups.len(), "{label}");
    assert_eq!(footer.num_rows, groups.iter().map(Vec::len).sum::<usize>() as u64);
    let names = ["ns", "id", "ts", "markdown", "inputs", "size_bytes", "deleted", "small", "flag"];
    let ids = [1, 3, 4, 8, 22, 20, 21, 30, 31];
    for (i, (name, id)) in names.iter().zip(ids).enumerate() {
        assert_eq!(footer.column_by_field_id(id), Some(i), "{label} {name}");
        assert_eq!(footer.column_by_name(name), Some(i), "{label} {name}");
    }
    assert_eq!(footer.columns[4].path, ["inputs", "list", "element"]);
    assert_eq!(footer.columns[4].top_field_id, Some(18));
    assert_eq!((footer.columns[4].max_def_level, footer.columns[4].max_rep_level), (3, 1));
    assert_eq!((footer.columns[3].max_def_level, footer.columns[0].max_def_level), (1, 0));
    for (g, rows) in groups.iter().enumerate() {
        assert_eq!(footer.row_groups[g].num_rows, rows.len() as u64);
        let got = |c| decode(file, &footer, g, c).unwrap_or_else(|e| panic!("{label} rg {g} col {c}: {e}"));
        assert_eq!(got(0), bytes_col(rows.iter().map(|r| Some(r.ns.as_str())).collect()), "{label}");
        assert_eq!(got(1), bytes_col(rows.iter().map(|r| Some(r.id.as_str())).collect()), "{label}");
        assert_eq!(got(2), ColumnValues::Int64(rows.iter().map(|r| Some(r.ts)).collect()), "{label}");
        assert_eq!(got(3), bytes_col(rows.iter().map(|r| r.markdown.as_deref()).collect()), "{label}");
        let lists: Vec<Option<Vec<Option<Vec<u8>>>>> =
            rows.iter().map(|r| r.inputs.as_ref().map(|l| l.iter().map(|s| s.as_ref().map(|s| s.as_bytes().to_vec())).collect())).collect();
        assert_eq!(got(4), ColumnValues::ByteArrayList(lists), "{label}");
        assert_eq!(got(5), ColumnValues::Int64(rows.iter().map(|r| Some(r.size_bytes)).collect()), "{label}");
        assert_eq!(got(6), ColumnValues::Boolean(rows.iter().map(|r| Some(r.deleted)).collect()), "{label}");
        assert_eq!(got(7), ColumnValues::Int32(rows.iter().map(|r| r.small).collect()), "{label}");
        assert_eq!(got(8), ColumnValues::Boolean(rows.iter().map(|r| r.flag).collect()), "{label}");
    }
}

fn codecs() -> Vec<(Compression, Codec)> {
    vec![
        (Compression::UNCOMPRESSED, Codec::Uncompressed),
        (Compression::SNAPPY, Codec::Snappy),
        (Compression::GZIP(GzipLevel::default()), Codec::Gzip),
        (Compression::LZ4_RAW, Codec::Lz4Raw),
        (Compression::LZ4, Codec::Lz4),
        (Compression::ZSTD(ZstdLevel::default()), Codec::Zstd),
    ]
}

#[test]
fn parquet_roundtrip_every_codec_page_version_and_dictionary() {
    for (codec, ours) in codecs() {
        for v2 in [false, true] {
            for dictionary in [true, false] {
                let label = format!("{codec:?} v2={v2} dict={dictionary}");
                let (file, groups) = write_file(props(codec, v2, dictionary), &[40, 25, 35]);
                let footer = footer_of(&file);
                assert_eq!(footer.chunk(0, 1).unwrap().codec, ours, "{label}");
                // The encodings the writer chose are the ones meant to be covered.
                let thrift = thrift_of(&file);
                let enc = |c: usize| thrift.row_groups[0].columns[c].meta_data.as_ref().unwrap().encodings.clone();
                let expect = match (v2, dictionary) {
                    (_, true) => [pf::Encoding::RLE_DICTIONARY, pf::Encoding::RLE_DICTIONARY, pf::Encoding::RLE_DICTIONARY],
                    (false, false) => [pf::Encoding::PLAIN, pf::Encoding::PLAIN, pf::Encoding::PLAIN],
                    (true, false) => [pf::Encoding::DELTA_BYTE_ARRAY, pf::Encoding::DELTA_BINARY_PACKED, pf::Encoding::RLE],
                };
                for (c, e) in [1, 2, 6].into_iter().zip(expect) {
                    // Booleans are never dictionary-encoded.
                    let e = if c == 6 && dictionary {
                        if v2 {
                            pf::Encoding::RLE
                        } else {
                            pf::Encoding::PLAIN
                        }
                    } else {
                        e
                    };
                    assert!(enc(c).contains(&e), "{label} col {c}: {:?}", enc(c));
                }
                check_file(&file, &groups, &label);
            }
        }
    }
}

#[test]
fn parquet_roundtrip_plain_encoding_v2() {
    // v2 falls back to DELTA_* encodings by default (covered above); PLAIN forced here.
    let p = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::PLAIN)
        .set_compression(Compression::SNAPPY)
        .set_data_page_row_count_limit(5)
        .set_write_batch_size(5)
        .build();
    let (file, groups) = write_file(p, &[33, 1]);
    check_file(&file, &groups, "plain v2");
}

#[test]
fn parquet_roundtrip_delta_length_byte_array() {
    let p = WriterProperties::builder().set_dictionary_enabled(false).set_encoding(Encoding::DELTA_LENGTH_BYTE_ARRAY).build();
    // DELTA_LENGTH_BYTE_ARRAY only applies to byte arrays: write a string-only schema.
    let schema = Arc::new(parse_message_type("message m { optional binary s (STRING) = 1; }").unwrap());
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(&mut buf, schema, Arc::new(p)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let values: Vec<Option<String>> = (0..300).map(|i| if i % 9 == 0 { None } else { Some("x".repeat(i % 13)) }).collect();
    let v: Vec<ByteArray> = values.iter().flatten().map(|s| ba(s)).collect();
    let d: Vec<i16> = values.iter().map(|s| i16::from(s.is_some())).collect();
    col.typed::<ByteArrayType>().write_batch(&v, Some(&d), None).unwrap();
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
    let footer = footer_of(&buf);
    let got = decode(&buf, &footer, 0, 0).unwrap();
    assert_eq!(got, bytes_col(values.iter().map(|s| s.as_deref()).collect()));
}

#[test]
fn parquet_footer_larger_than_guess() {
    let big = "k".repeat(100 * 1024);
    let p = WriterProperties::builder().set_key_value_metadata(Some(vec![KeyValue::new("big".to_string(), big)])).build();
    let (file, groups) = write_file(p, &[10]);
    let size = file.len() as u64;
    let (off, len) = footer_range(size);
    assert_eq!(len, FOOTER_GUESS);
    let tail = &file[off as usize..];
    let Err(FooterNeeds::More { offset, length }) = parse_footer(tail, size) else { panic!("expected More") };
    assert_eq!(offset + length, off);
    let footer_len = u32::from_le_bytes(file[file.len() - 8..file.len() - 4].try_into().unwrap()) as u64;
    assert_eq!(offset, size - 8 - footer_len);
    let mut joined = file[offset as usize..off as usize].to_vec();
    joined.extend_from_slice(tail);
    let footer = parse_footer(&joined, size).unwrap();
    assert_eq!(footer.num_rows, 10);
    check_file(&file, &groups, "big footer");
    // The limit applies before anything is read.
    assert_eq!(parse_footer_with_limit(tail, size, 1024), Err(FooterNeeds::Invalid(ParquetError::FooterTooLarge)));
    assert_eq!(FooterNeeds::More { offset: 1, length: 2 }.to_string(), "need 2 more bytes of the Parquet footer from offset 1");
}

#[test]
fn parquet_footer_errors_are_exact() {
    let (file, _) = write_file(props(Compression::SNAPPY, false, true), &[5]);
    let size = file.len() as u64;
    let n = file.len();
    let invalid = |e| Err(FooterNeeds::Invalid(e));
    // Fewer than 8 bytes of tail: ask for the rest of the last 8.
    assert_eq!(parse_footer(&file[n - 3..], size), Err(FooterNeeds::More { offset: size - 8, length: 5 }));
    assert_eq!(parse_footer(&[], size), Err(FooterNeeds::More { offset: size - 8, length: 8 }));
    assert_eq!(parse_footer(b"PAR1PAR1", 8), invalid(ParquetError::FileTooSmall));
    assert_eq!(parse_footer(&file, size - 1), invalid(ParquetError::TailLongerThanFile));
    let mut bad = file.clone();
    bad[n - 1] = b'E';
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::BadMagic));
    // Footer length larger than the file, and negative.
    let mut bad = file.clone();
    bad[n - 8..n - 4].copy_from_slice(&(n as u32 - 11).to_le_bytes());
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::FooterLength));
    let mut bad = file.clone();
    bad[n - 8..n - 4].copy_from_slice(&(-5i32).to_le_bytes());
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::FooterLength));
    // Corrupt thrift: the footer bytes overwritten.
    let footer_len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut bad = file.clone();
    for b in &mut bad[n - 8 - footer_len..n - 8] {
        *b = 0xff;
    }
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::CorruptFooter));
    // A shorter length than the real footer: thrift does not fill it exactly.
    let mut bad = file.clone();
    bad[n - 8..n - 4].copy_from_slice(&(footer_len as u32 + 1).to_le_bytes());
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::CorruptFooter));
    // Truncated footer thrift (length says fewer bytes than written).
    let mut bad = file.clone();
    bad[n - 8..n - 4].copy_from_slice(&(footer_len as u32 - 10).to_le_bytes());
    assert_eq!(parse_footer(&bad, size), invalid(ParquetError::CorruptFooter));
    assert_eq!(ParquetError::BadMagic.to_string(), "file does not end with the Parquet magic PAR1");
    assert_eq!(ParquetError::Unsupported("BROTLI codec").to_string(), "unsupported Parquet feature: BROTLI codec");
}

/// A footer whose thrift we build: chunk offsets that lie about the file.
#[test]
fn parquet_footer_lying_column_ranges() {
    let (file, _) = write_file(props(Compression::UNCOMPRESSED, false, false), &[5]);
    let mut thrift = thrift_of(&file);
    thrift.row_groups[0].columns[1].meta_data.as_mut().unwrap().total_compressed_size = file.len() as i64;
    let file2 = rebuild(&file, &thrift);
    assert_eq!(footer_of_err(&file2), FooterNeeds::Invalid(ParquetError::InvalidColumnMeta));
    let mut thrift2 = thrift_of(&file);
    thrift2.row_groups[0].columns.pop();
    assert_eq!(footer_of_err(&rebuild(&file, &thrift2)), FooterNeeds::Invalid(ParquetError::InvalidSchema));
    let mut thrift3 = thrift_of(&file);
    thrift3.schema[0].num_children = Some(100);
    assert_eq!(footer_of_err(&rebuild(&file, &thrift3)), FooterNeeds::Invalid(ParquetError::InvalidSchema));
}

/// The thrift `FileMetaData` of `file`, read directly.
fn thrift_of(file: &[u8]) -> pf::FileMetaData {
    let n = file.len();
    let footer_len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut bytes = &file[n - 8 - footer_len..n - 8];
    pf::FileMetaData::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut bytes, 1 << 24)).unwrap()
}

fn footer_of_err(file: &[u8]) -> FooterNeeds {
    parse_footer(file, file.len() as u64).unwrap_err()
}

/// `file` with its footer replaced by `meta`.
fn rebuild(file: &[u8], meta: &pf::FileMetaData) -> Vec<u8> {
    let n = file.len();
    let footer_len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
    let mut out = file[..n - 8 - footer_len].to_vec();
    let mut thrift = Vec::new();
    meta.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut thrift)).unwrap();
    out.extend_from_slice(&thrift);
    out.extend_from_slice(&(thrift.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    out
}

#[test]
fn parquet_footer_matches_parquet2() {
    let (file, _) = write_file(props(Compression::ZSTD(ZstdLevel::default()), true, true), &[12, 9]);
    let ours = footer_of(&file);
    let theirs = parquet2::read::read_metadata(&mut std::io::Cursor::new(&file)).unwrap();
    assert_eq!(ours.num_rows, theirs.num_rows as u64);
    assert_eq!(ours.row_groups.len(), theirs.row_groups.len());
    for (a, b) in ours.row_groups.iter().zip(&theirs.row_groups) {
        assert_eq!(a.num_rows, b.num_rows() as u64);
        for (ca, cb) in a.columns.iter().zip(b.columns()) {
            assert_eq!(ca.path, cb.descriptor().path_in_schema);
            assert_eq!(ca.field_id, cb.descriptor().descriptor.primitive_type.field_info.id);
            assert_eq!(ca.range(), cb.byte_range());
            assert_eq!(ca.num_values, cb.num_values() as u64);
            assert_eq!(ca.max_def_level, cb.descriptor().descriptor.max_def_level as u16);
        }
    }
}

#[test]
fn parquet_prune_by_statistics() {
    let (file, groups) = write_file(props(Compression::SNAPPY, false, true), &[40, 25, 35]);
    let footer = footer_of(&file);
    let id = footer.column_by_field_id(3).unwrap();
    assert_eq!(prune_row_groups(&footer, id, groups[1][3].id.as_bytes()), vec![1]);
    assert_eq!(prune_row_groups(&footer, id, groups[2][34].id.as_bytes()), vec![2]);
    assert_eq!(prune_row_groups(&footer, id, b"id-99999"), Vec::<usize>::new());
    assert_eq!(prune_row_groups(&footer, id, b"a"), Vec::<usize>::new());
    let ts = footer.column_by_field_id(4).unwrap();
    assert_eq!(prune_row_groups(&footer, ts, &groups[0][0].ts.to_le_bytes()), vec![0]);
    assert_eq!(prune_row_groups(&footer, ts, &0i64.to_le_bytes()), Vec::<usize>::new());
    // Wrong width or unknown column: nothing pruned.
    assert_eq!(prune_row_groups(&footer, ts, b"xyz"), vec![0, 1, 2]);
    assert_eq!(prune_row_groups(&footer, 99, b"xyz"), vec![0, 1, 2]);
    let small = footer.column_by_name("small").unwrap();
    assert_eq!(prune_row_groups(&footer, small, &(-49i32).to_le_bytes()), vec![0]);
    // No statistics: every row group is kept.
    let p = WriterProperties::builder().set_statistics_enabled(EnabledStatistics::None).build();
    let (file, _) = write_file(p, &[4, 4]);
    let footer = footer_of(&file);
    assert!(footer.chunk(0, 1).unwrap().statistics.as_ref().is_none_or(|s| s.min_value.is_none()));
    assert_eq!(prune_row_groups(&footer, 1, b"nope"), vec![0, 1]);
}

#[test]
fn parquet_ranges_merge_and_slice() {
    let (file, _) = write_file(props(Compression::SNAPPY, false, true), &[10, 10]);
    let footer = footer_of(&file);
    let ranges: Vec<(u64, u64)> = (0..2).map(|g| chunk_range(&footer, g, 1).unwrap()).collect();
    let c = footer.chunk(0, 1).unwrap();
    assert_eq!(ranges[0].0, c.dictionary_page_offset.unwrap());
    assert!(c.dictionary_page_offset.unwrap() < c.data_page_offset);
    assert_eq!(chunk_range(&footer, 2, 0), None);
    assert_eq!(chunk_range(&footer, 0, 9), None);
    // One read covering both chunks, then each chunk cut back out of it.
    let merged = merge_ranges(ranges.clone(), u64::MAX);
    assert_eq!(merged.len(), 1);
    let (start, len) = merged[0];
    let buf = &file[start as usize..(start + len) as usize];
    for (g, r) in ranges.iter().enumerate() {
        let bytes = slice_within(start, buf, *r).unwrap();
        let v = decode_column_chunk(bytes, footer.chunk(g, 1).unwrap(), DecodeLimits::default()).unwrap();
        assert_eq!(v.len(), 10);
    }
    assert_eq!(slice_within(10, &[0; 5], (9, 1)), None);
    assert_eq!(slice_within(10, &[0; 5], (12, 4)), None);
    assert_eq!(slice_within(10, &[1, 2, 3, 4, 5], (12, 3)), Some(&[3, 4, 5][..]));
    assert_eq!(merge_ranges(vec![(100, 10), (0, 10), (15, 5), (50, 0), (112, 3)], 5), vec![(0, 20), (100, 15)]);
    assert_eq!(merge_ranges(vec![(0, 10), (2, 3)], 0), vec![(0, 10)]);
    assert_eq!(merge_ranges(vec![(0, 10), (11, 1)], 0), vec![(0, 10), (11, 1)]);
    assert_eq!(merge_ranges(vec![(u64::MAX - 1, 5), (0, 1)], 0), vec![(0, 1), (u64::MAX - 1, 5)]);
}

// ---- hand-built pages -------------------------------------------------------------------------

fn meta(ty: PhysicalType, codec: Codec, max_def: u16, num_values: u64) -> ColumnChunkInfo {
    ColumnChunkInfo {
        column: 0,
        path: vec!["c".into()],
        field_id: Some(1),
        physical_type: ty,
        max_def_level: max_def,
        max_rep_level: 0,
        list_def_level: 0,
        repeated_def_level: 0,
        codec,
        data_page_offset: 4,
        dictionary_page_offset: None,
        total_compressed_size: 0,
        num_values,
        statistics: None,
        offset_index: None,
        column_index: None,
    }
}

fn header(type_: pf::PageType, uncompressed: i32, compressed: i32) -> pf::PageHeader {
    pf::PageHeader {
        type_,
        uncompressed_page_size: uncompressed,
        compressed_page_size: compressed,
        crc: None,
        data_page_header: None,
        index_page_header: None,
        dictionary_page_header: None,
        data_page_header_v2: None,
    }
}

fn v1(num_values: i32, encoding: pf::Encoding, body: &[u8]) -> pf::PageHeader {
    let mut h = header(pf::PageType::DATA_PAGE, body.len() as i32, body.len() as i32);
    h.data_page_header = Some(pf::DataPageHeader {
        num_values,
        encoding,
        definition_level_encoding: pf::Encoding::RLE,
        repetition_level_encoding: pf::Encoding::RLE,
        statistics: None,
    });
    h
}

fn dict(num_values: i32, body: &[u8]) -> pf::PageHeader {
    let mut h = header(pf::PageType::DICTIONARY_PAGE, body.len() as i32, body.len() as i32);
    h.dictionary_page_header = Some(pf::DictionaryPageHeader { num_values, encoding: pf::Encoding::PLAIN, is_sorted: None });
    h
}

fn page(h: &pf::PageHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    h.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut out)).unwrap();
    out.extend_from_slice(body);
    out
}

fn plain_i64(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn run(bytes: &[u8], m: &ColumnChunkInfo) -> Result<ColumnValues, ParquetError> {
    decode_column_chunk(bytes, m, DecodeLimits::default())
}

#[test]
fn parquet_hand_built_pages_decode() {
    let m = meta(PhysicalType::Int64, Codec::Uncompressed, 0, 3);
    let body = plain_i64(&[1, -2, 3]);
    assert_eq!(run(&page(&v1(3, pf::Encoding::PLAIN, &body), &body), &m), Ok(ColumnValues::Int64(vec![Some(1), Some(-2), Some(3)])));
    // Optional column: 4-byte length, RLE run of 2 × level 1, bit-packed group [1,0,1,…].
    let m = meta(PhysicalType::Int64, Codec::Uncompressed, 1, 5);
    let mut body = vec![4, 0, 0, 0, 0x04, 0x01, 0x03, 0b0000_0101];
    body.extend(plain_i64(&[10, 20, 30, 40]));
    assert_eq!(
        run(&page(&v1(5, pf::Encoding::PLAIN, &body), &body), &m),
        Ok(ColumnValues::Int64(vec![Some(10), Some(20), Some(30), None, Some(40)]))
    );
    // Dictionary page, then RLE_DICTIONARY indices (bit width 1: bit-packed 0,1,1).
    let m = meta(PhysicalType::ByteArray, Codec::Snappy, 0, 3);
    let d = [&2u32.to_le_bytes()[..], b"ab", &0u32.to_le_bytes()].concat();
    let dz = snap::raw::Encoder::new().compress_vec(&d).unwrap();
    let mut dh = dict(2, &dz);
    dh.uncompressed_page_size = d.len() as i32;
    let idx = [1u8, 0x03, 0b110];
    let iz = snap::raw::Encoder::new().compress_vec(&idx).unwrap();
    let mut ph = v1(3, pf::Encoding::RLE_DICTIONARY, &iz);
    ph.uncompressed_page_size = idx.len() as i32;
    let bytes = [page(&dh, &dz), page(&ph, &iz)].concat();
    assert_eq!(run(&bytes, &m), Ok(bytes_col(vec![Some("ab"), Some(""), Some("")])));
    // LZ4 (deprecated codec): Hadoop framing, and a raw block as some writers put there.
    let m = meta(PhysicalType::Int64, Codec::Lz4, 0, 3);
    let body = plain_i64(&[7, 8, 9]);
    let raw = lz4_flex::block::compress(&body);
    let mut framed = (body.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    framed.extend_from_slice(&raw);
    for z in [raw, framed] {
        let mut h = v1(3, pf::Encoding::PLAIN, &z);
        h.uncompressed_page_size = body.len() as i32;
        assert_eq!(run(&page(&h, &z), &m), Ok(ColumnValues::Int64(vec![Some(7), Some(8), Some(9)])));
        let mut h = v1(3, pf::Encoding::PLAIN, &z[..z.len() - 1]);
        h.uncompressed_page_size = body.len() as i32;
        assert_eq!(run(&page(&h, &z[..z.len() - 1]), &m), Err(ParquetError::Decompress));
    }
    // Gzip and zstd: corrupt data, and data inflating past the header's size.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &body).unwrap();
    let gz = gz.finish().unwrap();
    let zs = ruzstd::encoding::compress_to_vec(&body[..], ruzstd::encoding::CompressionLevel::Fastest);
    for (codec, z) in [(Codec::Gzip, gz), (Codec::Zstd, zs)] {
        let m = meta(PhysicalType::Int64, codec, 0, 3);
        let mut h = v1(3, pf::Encoding::PLAIN, &z);
        h.uncompressed_page_size = body.len() as i32;
        assert_eq!(run(&page(&h, &z), &m), Ok(ColumnValues::Int64(vec![Some(7), Some(8), Some(9)])), "{codec:?}");
        h.uncompressed_page_size = body.len() as i32 - 1;
        assert_eq!(run(&page(&h, &z), &m), Err(ParquetError::PageSizeMismatch), "{codec:?}");
        let mut bad = z.clone();
        bad.truncate(z.len() / 2);
        let mut h = v1(3, pf::Encoding::PLAIN, &bad);
        h.uncompressed_page_size = body.len() as i32;
        assert_eq!(run(&page(&h, &bad), &m), Err(ParquetError::Decompress), "{codec:?}");
    }
    // A page of nulls only, with no values section at all.
    let m = meta(PhysicalType::ByteArray, Codec::Uncompressed, 1, 3);
    let body = [2u8, 0, 0, 0, 0x06, 0x00];
    assert_eq!(run(&page(&v1(3, pf::Encoding::RLE_DICTIONARY, &body), &body), &m), Ok(bytes_col(vec![None, None, None])));
    // Data page v2, values not compressed (levels never are), after an index page to skip.
    let m = meta(PhysicalType::Int32, Codec::Snappy, 1, 3);
    let levels = [0x04u8, 0x01, 0x02, 0x00];
    let values: Vec<u8> = [5i32, -6].iter().flat_map(|x| x.to_le_bytes()).collect();
    let body = [&levels[..], &values].concat();
    let mut h = header(pf::PageType::DATA_PAGE_V2, body.len() as i32, body.len() as i32);
    h.data_page_header_v2 = Some(pf::DataPageHeaderV2 {
        num_values: 3,
        num_nulls: 1,
        num_rows: 3,
        encoding: pf::Encoding::PLAIN,
        definition_levels_byte_length: levels.len() as i32,
        repetition_levels_byte_length: 0,
        is_compressed: Some(false),
        statistics: None,
    });
    let mut index = header(pf::PageType::INDEX_PAGE, 2, 2);
    index.index_page_header = Some(pf::IndexPageHeader {});
    let bytes = [page(&index, &[0, 0]), page(&h, &body)].concat();
    assert_eq!(run(&bytes, &m), Ok(ColumnValues::Int32(vec![Some(5), Some(-6), None])));
    // The same page claiming repetition levels, or more level bytes than it has.
    let mut hr = h.clone();
    hr.data_page_header_v2.as_mut().unwrap().repetition_levels_byte_length = 1;
    assert_eq!(run(&page(&hr, &body), &m), Err(ParquetError::CorruptLevels));
    let mut hl = h.clone();
    hl.data_page_header_v2.as_mut().unwrap().definition_levels_byte_length = 100;
    assert_eq!(run(&page(&hl, &body), &m), Err(ParquetError::PageSizeMismatch));
    // Empty chunk.
    assert_eq!(run(&[], &meta(PhysicalType::Boolean, Codec::Uncompressed, 0, 0)), Ok(ColumnValues::Boolean(vec![])));
}

#[test]
fn parquet_page_errors_are_exact() {
    let m = meta(PhysicalType::Int64, Codec::Uncompressed, 0, 3);
    let body = plain_i64(&[1, 2, 3]);
    let good = page(&v1(3, pf::Encoding::PLAIN, &body), &body);
    // Chunk cut inside the page body, and cut between pages.
    assert_eq!(run(&good[..good.len() - 1], &m), Err(ParquetError::TruncatedPage));
    assert_eq!(run(&[], &m), Err(ParquetError::TruncatedChunk));
    assert_eq!(run(&good, &meta(PhysicalType::Int64, Codec::Uncompressed, 0, 4)), Err(ParquetError::TruncatedChunk));
    // Header cut short / garbage.
    assert_eq!(run(&good[..3], &m), Err(ParquetError::CorruptPageHeader));
    assert_eq!(run(&[0xff; 32], &m), Err(ParquetError::CorruptPageHeader));
    // Header lying about sizes.
    let mut h = v1(3, pf::Encoding::PLAIN, &body);
    h.compressed_page_size = 1000;
    assert_eq!(run(&page(&h, &body), &m), Err(ParquetError::TruncatedPage));
    h.compressed_page_size = -1;
    assert_eq!(run(&page(&h, &body), &m), Err(ParquetError::PageSizeMismatch));
    let mut h = v1(3, pf::Encoding::PLAIN, &body);
    h.uncompressed_page_size = 23;
    assert_eq!(run(&page(&h, &body), &m), Err(ParquetError::PageSizeMismatch));
    h.uncompressed_page_size = i32::MAX;
    assert_eq!(run(&page(&h, &body), &m), Err(ParquetError::PageTooLarge));
    assert_eq!(decode_column_chunk(&good, &m, DecodeLimits::with_max_page_bytes(16)), Err(ParquetError::PageTooLarge));
    // Snappy data that inflates to another size than the header says.
    let mz = meta(PhysicalType::Int64, Codec::Snappy, 0, 3);
    let z = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    let mut h = v1(3, pf::Encoding::PLAIN, &z);
    h.uncompressed_page_size = 16;
    assert_eq!(run(&page(&h, &z), &mz), Err(ParquetError::PageSizeMismatch));
    h.uncompressed_page_size = 24;
    let mut zbad = z.clone();
    let last = zbad.len() - 1;
    zbad.truncate(last);
    let mut hb = h.clone();
    hb.compressed_page_size = zbad.len() as i32;
    assert_eq!(run(&page(&hb, &zbad), &mz), Err(ParquetError::Decompress));
    // Too few values for the page, and more values than the chunk.
    assert_eq!(run(&page(&v1(3, pf::Encoding::PLAIN, &body[..16]), &body[..16]), &m), Err(ParquetError::CorruptValues));
    assert_eq!(run(&page(&v1(4, pf::Encoding::PLAIN, &body), &body), &m), Err(ParquetError::ValueCountMismatch));
    assert_eq!(run(&page(&v1(-1, pf::Encoding::PLAIN, &body), &body), &m), Err(ParquetError::CorruptPageHeader));
    assert_eq!(
        run(&good, &meta(PhysicalType::Int64, Codec::Uncompressed, 0, DEFAULT_MAX_VALUES as u64 + 1)),
        Err(ParquetError::TooManyValues)
    );
    // Dictionary problems.
    let mb = meta(PhysicalType::ByteArray, Codec::Uncompressed, 0, 2);
    let idx = [1u8, 0x04, 0x01];
    let dict_page = page(&dict(1, &[1, 0, 0, 0, b'a']), &[1, 0, 0, 0, b'a']);
    assert_eq!(run(&page(&v1(2, pf::Encoding::RLE_DICTIONARY, &idx), &idx), &mb), Err(ParquetError::MissingDictionary));
    let bytes = [dict_page.clone(), page(&v1(2, pf::Encoding::RLE_DICTIONARY, &idx), &idx)].concat();
    assert_eq!(run(&bytes, &mb), Err(ParquetError::DictionaryIndex));
    let bytes = [dict_page.clone(), dict_page.clone()].concat();
    assert_eq!(run(&bytes, &mb), Err(ParquetError::UnexpectedDictionary));
    let lying_dict = page(&dict(5, &[1, 0, 0, 0, b'a']), &[1, 0, 0, 0, b'a']);
    assert_eq!(run(&lying_dict, &mb), Err(ParquetError::CorruptValues));
    // Byte array whose length runs past the page.
    let body = [200u8, 0, 0, 0, b'x'];
    assert_eq!(
        run(&page(&v1(1, pf::Encoding::PLAIN, &body), &body), &meta(PhysicalType::ByteArray, Codec::Uncompressed, 0, 1)),
        Err(ParquetError::CorruptValues)
    );
    // Definition levels: short, and above the maximum.
    let mo = meta(PhysicalType::Int64, Codec::Uncompressed, 1, 2);
    let body = [9u8, 0, 0, 0, 0x04];
    assert_eq!(run(&page(&v1(2, pf::Encoding::PLAIN, &body), &body), &mo), Err(ParquetError::CorruptLevels));
    let body = [2u8, 0, 0, 0, 0x04, 0x02];
    assert_eq!(run(&page(&v1(2, pf::Encoding::PLAIN, &body), &body), &mo), Err(ParquetError::CorruptLevels));
    // A data page header without its data_page_header.
    let h = header(pf::PageType::DATA_PAGE, 24, 24);
    assert_eq!(run(&page(&h, &plain_i64(&[1, 2, 3])), &m), Err(ParquetError::CorruptPageHeader));
    // Unsupported things say what they are.
    let body = plain_i64(&[1, 2, 3]);
    assert_eq!(
        run(&page(&v1(3, pf::Encoding::BYTE_STREAM_SPLIT, &body), &body), &m),
        Err(ParquetError::Unsupported("BYTE_STREAM_SPLIT encoding"))
    );
    assert_eq!(run(&good, &meta(PhysicalType::Int64, Codec::Brotli, 0, 3)), Err(ParquetError::Unsupported("BROTLI codec")));
    assert_eq!(run(&good, &meta(PhysicalType::Double, Codec::Uncompressed, 0, 3)), Err(ParquetError::Unsupported("DOUBLE columns")));
    let mut rep = meta(PhysicalType::ByteArray, Codec::Uncompressed, 5, 3);
    rep.max_rep_level = 2;
    assert_eq!(run(&good, &rep), Err(ParquetError::Unsupported("nested lists (repetition depth above 1)")));
    let mut rep = meta(PhysicalType::Int64, Codec::Uncompressed, 3, 3);
    rep.max_rep_level = 1;
    assert_eq!(run(&good, &rep), Err(ParquetError::Unsupported("lists of values other than BYTE_ARRAY")));
}

/// A standard 3-level `list<string>` (levels: list 1, repeated 2, element 3), hand-built.
#[test]
fn parquet_hand_built_list_pages() {
    let mut m = meta(PhysicalType::ByteArray, Codec::Uncompressed, 3, 6);
    m.max_rep_level = 1;
    m.list_def_level = 1;
    m.repeated_def_level = 2;
    // Rows: ["a", null], null, [], ["b"] → entries (rep, def): (0,3) (1,2) (0,0) (0,1) (0,3).
    // Rep levels, width 1: bit-packed group 0,1,0,0,0. Def levels, width 2: 3,2,0,1,3.
    let reps = [2u8, 0, 0, 0, 0x03, 0b0000_0010];
    let defs = [3u8, 0, 0, 0, 0x03, 0b0100_1011, 0b0000_0011];
    let values = [&1u32.to_le_bytes()[..], b"a", &1u32.to_le_bytes(), b"b"].concat();
    let body = [&reps[..], &defs, &values].concat();
    let mut m5 = m.clone();
    m5.num_values = 5;
    let rows = run(&page(&v1(5, pf::Encoding::PLAIN, &body), &body), &m5);
    assert_eq!(
        rows,
        Ok(ColumnValues::ByteArrayList(vec![Some(vec![Some(b"a".to_vec()), None]), None, Some(vec![]), Some(vec![Some(b"b".to_vec())]),]))
    );
    // The first entry continuing a row that never started, and an empty list inside a row.
    let reps = [2u8, 0, 0, 0, 0x03, 0b0000_0011];
    let body = [&reps[..], &defs, &values].concat();
    assert_eq!(run(&page(&v1(5, pf::Encoding::PLAIN, &body), &body), &m5), Err(ParquetError::CorruptLevels));
    let reps = [2u8, 0, 0, 0, 0x03, 0b0000_1000];
    let body = [&reps[..], &defs, &values].concat();
    assert_eq!(run(&page(&v1(5, pf::Encoding::PLAIN, &body), &body), &m5), Err(ParquetError::CorruptLevels));
    // Repetition levels above the maximum.
    let reps = [2u8, 0, 0, 0, 0x0a, 0x02];
    let body = [&reps[..], &defs, &values].concat();
    assert_eq!(run(&page(&v1(5, pf::Encoding::PLAIN, &body), &body), &m5), Err(ParquetError::CorruptLevels));
}

/// Deterministic xorshift for the mutation sweep.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random byte flips and truncations of real files, through footer parsing and every chunk
/// decode: errors are fine, panics are not (a panic fails the test).
#[test]
fn parquet_mutations_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (codec, _) in codecs() {
        for v2 in [false, true] {
            let (file, _) = write_file(props(codec, v2, true), &[9, 6]);
            let footer = footer_of(&file);
            for _ in 0..150 {
                let mut bad = file.clone();
                for _ in 0..1 + rng.next() % 4 {
                    let i = (rng.next() % bad.len() as u64) as usize;
                    bad[i] ^= 1 << (rng.next() % 8);
                }
                let _ = parse_footer(&bad, bad.len() as u64);
                for g in 0..footer.row_groups.len() {
                    for c in 0..footer.columns.len() {
                        let _ = decode(&bad, &footer, g, c);
                        let bytes = chunk_bytes(&bad, &footer, g, c);
                        let cut = (rng.next() % (bytes.len() as u64 + 1)) as usize;
                        let _ = decode_column_chunk(&bytes[..cut], footer.chunk(g, c).unwrap(), DecodeLimits::default());
                    }
                }
            }
            for cut in 0..file.len().min(4096) {
                let _ = parse_footer(&file[file.len() - cut..], file.len() as u64);
            }
        }
    }
}

/// pyarrow-written files of the pyiceberg fixtures (generated by another tool; skipped when the
/// directory is absent).
#[test]
fn parquet_pyiceberg_fixtures() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        eprintln!("note: no pyiceberg Parquet fixtures under {}, skipped", root.display());
        return;
    }
    for path in files {
        let file = std::fs::read(&path).unwrap();
        let footer = footer_of(&file);
        let id = footer.column_by_name("id").unwrap_or_else(|| panic!("{}: no id column", path.display()));
        assert!(footer.columns[id].field_id.is_some(), "{}", path.display());
        for (g, rg) in footer.row_groups.iter().enumerate() {
            for c in 0..footer.columns.len() {
                match decode(&file, &footer, g, c) {
                    Ok(v) => assert_eq!(v.len() as u64, rg.num_rows, "{} rg {g} col {c}", path.display()),
                    Err(e) => panic!("{} rg {g} col {c} {:?}: {e}", path.display(), footer.columns[c].path),
                }
            }
            // The id of each row prunes to a row group that holds it.
            if let Ok(ColumnValues::ByteArray(ids)) = decode(&file, &footer, g, id) {
                for v in ids.iter().flatten() {
                    assert!(prune_row_groups(&footer, id, v).contains(&g));
                }
            }
        }
    }
}

// ---- page index (arrow-rs writes it with EnabledStatistics::Page) ------------------------------

fn page_props(codec: Compression, v2: bool, dictionary: bool) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(codec)
        .set_writer_version(if v2 { WriterVersion::PARQUET_2_0 } else { WriterVersion::PARQUET_1_0 })
        .set_dictionary_enabled(dictionary)
        .set_write_batch_size(7)
        .set_data_page_row_count_limit(7)
        .set_statistics_enabled(EnabledStatistics::Page)
        .build()
}

fn slice(file: &[u8], (off, len): (u64, u64)) -> &[u8] {
    &file[off as usize..(off + len) as usize]
}

/// Every value of every non-repeated column, decoded page run by page run through the page index,
/// equals the same rows decoded from the whole chunk; pruning by the `id` column index keeps the
/// page holding each id and (ids ascending) only that page.
#[test]
fn page_index_reads_single_pages_of_arrow_rs_files() {
    let configs = [
        (Compression::UNCOMPRESSED, false, false),
        (Compression::SNAPPY, false, true),
        (Compression::ZSTD(ZstdLevel::default()), true, true),
        (Compression::GZIP(GzipLevel::default()), true, false),
    ];
    for (codec, v2, dict) in configs {
        let label = format!("{codec:?} v2={v2} dict={dict}");
        let (file, groups) = write_file(page_props(codec, v2, dict), &[40, 23]);
        let footer = footer_of(&file);
        let mut runs_checked = 0;
        for (g, rows) in groups.iter().enumerate() {
            let rg_rows = rows.len() as u64;
            for col in [0usize, 1, 2, 3, 5, 6, 7, 8] {
                let chunk = footer.chunk(g, col).unwrap();
                let pages = parse_offset_index(slice(&file, chunk.offset_index.expect("offset index")), chunk, rg_rows).unwrap();
                assert!(pages.len() >= 3, "{label}: several pages per chunk");
                let whole = decode(&file, &footer, g, col).unwrap();
                let dictionary = dictionary_range(chunk, &pages).map(|r| slice(&file, r));
                assert_eq!(dictionary.is_some(), dict && col != 6 && col != 8, "{label} col {col}: dictionary page (none for booleans)");
                // Every page alone, then every pair of adjacent pages as one run.
                for picked in (0..pages.len()).map(|p| vec![p]).chain((1..pages.len()).map(|p| vec![p - 1, p])) {
                    for run in page_runs(&pages, &picked, rg_rows) {
                        let got = decode_page_run(
                            dictionary,
                            slice(&file, run.range),
                            chunk,
                            run.end_row - run.first_row,
                            DecodeLimits::default(),
                        )
                        .unwrap_or_else(|e| panic!("{label} rg {g} col {col} {run:?}: {e}"));
                        let (a, b) = (run.first_row as usize, run.end_row as usize);
                        let want = match &whole {
                            ColumnValues::ByteArray(v) => ColumnValues::ByteArray(v[a..b].to_vec()),
                            ColumnValues::Int64(v) => ColumnValues::Int64(v[a..b].to_vec()),
                            ColumnValues::Int32(v) => ColumnValues::Int32(v[a..b].to_vec()),
                            ColumnValues::Boolean(v) => ColumnValues::Boolean(v[a..b].to_vec()),
                            ColumnValues::ByteArrayList(_) => unreachable!(),
                        };
                        assert_eq!(got, want, "{label} rg {g} col {col} {run:?}");
                        runs_checked += 1;
                    }
                }
            }
            // The id column index: ids ascend, so exactly one page may hold each id.
            let id_chunk = footer.chunk(g, 1).unwrap();
            let pages = parse_offset_index(slice(&file, id_chunk.offset_index.unwrap()), id_chunk, rg_rows).unwrap();
            let bounds = parse_column_index(slice(&file, id_chunk.column_index.expect("column index")), pages.len()).unwrap();
            for (r, row) in rows.iter().enumerate() {
                let keep = pages_may_contain(id_chunk, &bounds, row.id.as_bytes());
                assert_eq!(keep.len(), 1, "{label}: {}", row.id);
                let (s, e) = page_rows(&pages, keep[0], rg_rows).unwrap();
                assert!((s..e).contains(&(r as u64)), "{label}: {} in page rows {s}..{e}", row.id);
                assert_eq!(pages_for_rows(&pages, &[(s, e)], rg_rows), keep);
            }
            assert!(pages_may_contain(id_chunk, &bounds, b"zzz").is_empty());
            // Only-null pages are never kept.
            let md = footer.chunk(g, 3).unwrap();
            let md_pages = parse_offset_index(slice(&file, md.offset_index.unwrap()), md, rg_rows).unwrap();
            let md_bounds = parse_column_index(slice(&file, md.column_index.unwrap()), md_pages.len()).unwrap();
            assert_eq!(md_bounds.len(), md_pages.len());
        }
        assert!(runs_checked > 50, "{label}: {runs_checked}");
    }
}

#[test]
fn a_page_index_that_does_not_fit_its_chunk_is_refused() {
    let (file, groups) = write_file(page_props(Compression::SNAPPY, false, true), &[30]);
    let footer = footer_of(&file);
    let chunk = footer.chunk(0, 1).unwrap().clone();
    let bytes = slice(&file, chunk.offset_index.unwrap()).to_vec();
    let rows = groups[0].len() as u64;
    assert!(parse_offset_index(&bytes, &chunk, rows).is_ok());
    // Pages outside the chunk, rows past the row group, garbage and truncation: all refused.
    let mut moved = chunk.clone();
    moved.data_page_offset += 1_000_000;
    moved.dictionary_page_offset = None;
    assert_eq!(parse_offset_index(&bytes, &moved, rows), Err(ParquetError::CorruptPageIndex));
    assert_eq!(parse_offset_index(&bytes, &chunk, 3), Err(ParquetError::CorruptPageIndex));
    assert_eq!(parse_offset_index(&[0xff; 16], &chunk, rows), Err(ParquetError::CorruptPageIndex));
    assert_eq!(parse_offset_index(&bytes[..bytes.len() / 2], &chunk, rows), Err(ParquetError::CorruptPageIndex));
    let ci = slice(&file, chunk.column_index.unwrap());
    assert_eq!(parse_column_index(ci, 99), Err(ParquetError::CorruptPageIndex), "entries per page");
    assert_eq!(parse_column_index(&ci[..ci.len() / 2], 5), Err(ParquetError::CorruptPageIndex));
}
