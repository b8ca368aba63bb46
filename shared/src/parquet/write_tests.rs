#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use crate::parquet::ParquetError;
    use crate::parquet::{decode_column_chunk, parse_footer, prune_row_groups, Codec, ColumnValues, DecodeLimits, PhysicalType};
    use crate::record::{ColumnType, COLUMNS};
    use crate::writer::parquet::*;
    use core::ops::Range;

    use arrow_parquet::basic::{ConvertedType, LogicalType, TimeUnit, TimestampType};
    use arrow_parquet::file::reader::{FileReader, SerializedFileReader};
    use arrow_parquet::record::Field;

    const BIG: usize = 200 * 1024;

    fn string_cell(name: &str, required: bool, i: usize) -> Option<String> {
        match name {
            "ns" => Some(["docs", "blog", "ünïcode-ns"][i % 3].into()),
            // Long ids (truncated bounds), multi-byte ones, one starting at the top of the range.
            "id" => Some(match i % 4 {
                0 => format!("id-{i:04}-a-very-long-identifier"),
                1 => format!("é{i:02}-ééééééééééééééééééé"),
                2 => format!("short-{i}"),
                _ => format!("z{i:03}"),
            }),
            "visibility" => Some(["public", "org", "user", "unlisted"][i % 4].into()),
            _ if required => match i % 5 {
                // Empty strings are values, even in required columns.
                2 => Some(String::new()),
                1 => Some(format!("{name}-{i:03}-日本語🎉")),
                _ => Some(format!("{name}-{i:03}")),
            },
            // 200 KB values in a couple of rows.
            "markdown" if i == 7 => Some("ä".repeat(BIG / 2)),
            "html" if i == 20 => Some("<p>x</p>".repeat(BIG / 8)),
            _ => match i % 3 {
                0 => None,
                1 => Some(String::new()),
                _ => Some(format!("{name} {i} — ünïcödé ✓ {}", "lorem ".repeat(i % 7))),
            },
        }
    }

    fn list_cell(i: usize) -> Option<Vec<Option<String>>> {
        match i % 4 {
            0 => None,
            1 => Some(Vec::new()),
            2 => Some(vec![Some("docs/guide/intro".into()), None, Some("ü/ß/🎉".into()), Some(String::new())]),
            _ => Some((0..1 + i % 7).map(|k| Some(format!("ns/t/in-{i}-{k}"))).collect()),
        }
    }

    fn long_cell(i: usize) -> i64 {
        match i {
            4 => i64::MIN,
            9 => i64::MAX,
            _ => (i as i64 - 5) * 1000,
        }
    }

    fn ts_cell(i: usize) -> i64 {
        if i == 3 {
            -1
        } else {
            1_700_000_000_000_000 + (i as i64) * 1_000_003
        }
    }

    /// The full record schema (all of `COLUMNS`) with `rows` rows.
    fn record_columns(rows: usize) -> Vec<WriteColumn> {
        COLUMNS
            .iter()
            .map(|c| {
                let data = match c.ty {
                    ColumnType::String => ColumnData::Utf8((0..rows).map(|i| string_cell(c.name, c.required, i)).collect()),
                    // The record contract's timestamps are Iceberg `timestamp` (no zone).
                    ColumnType::TimestampMicros => ColumnData::TimestampNtzMicros((0..rows).map(|i| Some(ts_cell(i))).collect()),
                    ColumnType::Long => ColumnData::Int64((0..rows).map(|i| Some(long_cell(i))).collect()),
                    ColumnType::Boolean => ColumnData::Boolean((0..rows).map(|i| Some(i % 4 == 0)).collect()),
                    ColumnType::StringList { .. } => ColumnData::Utf8List((0..rows).map(list_cell).collect()),
                };
                WriteColumn {
                    name: c.name.into(),
                    field_id: c.field_id,
                    required: c.required,
                    data,
                    element_field_id: match c.ty {
                        ColumnType::StringList { element_id } => Some(element_id),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    fn bytes_of(v: &Option<String>) -> Option<Vec<u8>> {
        v.as_ref().map(|s| s.as_bytes().to_vec())
    }

    /// What our reader should decode for rows `r` of `data`.
    fn expected(data: &ColumnData, r: Range<usize>) -> ColumnValues {
        match data {
            ColumnData::Utf8(v) => ColumnValues::ByteArray(v[r].iter().map(bytes_of).collect()),
            ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => ColumnValues::Int64(v[r].to_vec()),
            ColumnData::Boolean(v) => ColumnValues::Boolean(v[r].to_vec()),
            ColumnData::Binary(v) => ColumnValues::ByteArray(v[r].to_vec()),
            ColumnData::Int32(v) => ColumnValues::Int32(v[r].to_vec()),
            ColumnData::Utf8List(v) => {
                ColumnValues::ByteArrayList(v[r].iter().map(|l| l.as_ref().map(|l| l.iter().map(bytes_of).collect())).collect())
            }
        }
    }

    const CODECS: [(WriteCodec, Codec); 5] = [
        (WriteCodec::Uncompressed, Codec::Uncompressed),
        (WriteCodec::Snappy, Codec::Snappy),
        (WriteCodec::Gzip, Codec::Gzip),
        (WriteCodec::Zstd, Codec::Zstd),
        (WriteCodec::Lz4Raw, Codec::Lz4Raw),
    ];

    fn check_with_our_reader(columns: &[WriteColumn], written: &WrittenFile, codec: Codec, per: usize) {
        let file = &written.bytes;
        let rows = columns[0].data.len();
        assert_eq!(&file[..4], b"PAR1");
        let footer = parse_footer(file, file.len() as u64).unwrap();
        assert_eq!(footer.num_rows, rows as u64);
        assert_eq!(written.record_count, rows as i64);
        assert_eq!(footer.created_by.as_deref(), Some(CREATED_BY));
        assert_eq!(footer.row_groups.len(), rows.div_ceil(per));
        assert_eq!(footer.columns.len(), columns.len());
        let mut sizes = vec![0i64; columns.len()];
        for (g, rg) in footer.row_groups.iter().enumerate() {
            let r = g * per..((g + 1) * per).min(rows);
            assert_eq!(rg.num_rows, r.len() as u64);
            assert_eq!(written.split_offsets[g], rg.columns[0].data_page_offset as i64);
            for (k, col) in columns.iter().enumerate() {
                let leaf_id = col.element_field_id.unwrap_or(col.field_id);
                let index = footer.column_by_field_id(leaf_id).unwrap();
                assert_eq!(index, k);
                let leaf = &footer.columns[index];
                assert_eq!(leaf.top_field_id, Some(col.field_id));
                assert_eq!(leaf.path[0], col.name);
                let chunk = footer.chunk(g, index).unwrap();
                assert_eq!(chunk.codec, codec);
                let (start, len) = chunk.range();
                sizes[k] += len as i64;
                let bytes = &file[start as usize..(start + len) as usize];
                let got = decode_column_chunk(bytes, chunk, DecodeLimits::default()).unwrap();
                assert_eq!(got, expected(&col.data, r.clone()), "{} row group {g}", col.name);
                // Statistics: null counts always, bounds for the key columns.
                let stats = chunk.statistics.as_ref().unwrap();
                if let ColumnData::Utf8(v) = &col.data {
                    let part = &v[r.clone()];
                    let nulls = part.iter().filter(|s| s.is_none()).count() as i64;
                    assert_eq!(stats.null_count, Some(nulls));
                    let present = part.iter().flatten();
                    let min = present.clone().min().map(|s| s.as_bytes().to_vec());
                    let max = present.clone().max().map(|s| s.as_bytes().to_vec());
                    let small = |v: &Option<Vec<u8>>| v.as_ref().is_none_or(|v| v.len() <= MAX_STATISTICS_BYTES);
                    if small(&min) && small(&max) {
                        assert_eq!(stats.min_value, min, "{}", col.name);
                        assert_eq!(stats.max_value, max, "{}", col.name);
                    } else {
                        assert_eq!(stats.min_value, None);
                        assert_eq!(stats.max_value, None);
                    }
                }
                if let ColumnData::Int64(v) = &col.data {
                    let part = v[r.clone()].iter().flatten();
                    let min = part.clone().min().map(|x| x.to_le_bytes().to_vec());
                    let max = part.max().map(|x| x.to_le_bytes().to_vec());
                    assert_eq!(stats.min_value, min);
                    assert_eq!(stats.max_value, max);
                    assert_eq!(stats.min, min);
                }
            }
        }
        let size_ids: Vec<i32> = written.column_sizes.iter().map(|(id, _)| *id).collect();
        let want_ids: Vec<i32> = columns.iter().map(|c| c.element_field_id.unwrap_or(c.field_id)).collect();
        assert_eq!(size_ids, want_ids);
        let size_values: Vec<i64> = written.column_sizes.iter().map(|(_, s)| *s).collect();
        assert_eq!(size_values, sizes);

        // Pruning by the id statistics finds the row group of every id.
        let Some(id_col) = footer.column_by_field_id(3) else {
            return;
        };
        if let ColumnData::Utf8(ids) = &columns[id_col].data {
            for (i, id) in ids.iter().enumerate() {
                let groups = prune_row_groups(&footer, id_col, id.as_ref().unwrap().as_bytes());
                assert!(groups.contains(&(i / per)), "id {i}");
            }
            if rows > per {
                let first = prune_row_groups(&footer, id_col, ids[0].as_ref().unwrap().as_bytes());
                assert!(first.len() < footer.row_groups.len());
            }
        }
    }

    fn arrow_reader(bytes: &[u8], label: &str) -> SerializedFileReader<std::fs::File> {
        let path = std::env::temp_dir().join(format!("shared-parquet-write-{}-{label}.parquet", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        SerializedFileReader::new(file).unwrap()
    }

    fn field_of(data: &ColumnData, i: usize) -> Field {
        let s = |v: &Option<String>| v.clone().map_or(Field::Null, Field::Str);
        match data {
            ColumnData::Utf8(v) => s(&v[i]),
            ColumnData::Int64(v) => v[i].map_or(Field::Null, Field::Long),
            ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => v[i].map_or(Field::Null, Field::TimestampMicros),
            ColumnData::Boolean(v) => v[i].map_or(Field::Null, Field::Bool),
            ColumnData::Int32(v) => v[i].map_or(Field::Null, Field::Int),
            ColumnData::Utf8List(_) | ColumnData::Binary(_) => unreachable!(),
        }
    }

    fn check_with_arrow(columns: &[WriteColumn], written: &WrittenFile, label: &str) {
        let reader = arrow_reader(&written.bytes, label);
        let meta = reader.metadata();
        let rows = columns[0].data.len();
        assert_eq!(meta.file_metadata().num_rows(), rows as i64);
        assert_eq!(meta.file_metadata().created_by(), Some(CREATED_BY));
        // Field ids and logical types as arrow-rs sees them.
        let fields = meta.file_metadata().schema_descr().root_schema().get_fields();
        assert_eq!(fields.len(), columns.len());
        for (f, col) in fields.iter().zip(columns) {
            let info = f.get_basic_info();
            assert_eq!(info.name(), col.name);
            assert!(info.has_id());
            assert_eq!(info.id(), col.field_id);
            match &col.data {
                ColumnData::Utf8(_) => {
                    assert_eq!(info.logical_type_ref(), Some(&LogicalType::String));
                    assert_eq!(info.converted_type(), ConvertedType::UTF8);
                }
                ColumnData::TimestampMicros(_) | ColumnData::TimestampNtzMicros(_) => {
                    assert_eq!(
                        info.logical_type_ref(),
                        Some(&LogicalType::Timestamp(TimestampType {
                            is_adjusted_to_u_t_c: matches!(col.data, ColumnData::TimestampMicros(_)),
                            unit: TimeUnit::MICROS,
                        }))
                    );
                    assert_eq!(info.converted_type(), ConvertedType::TIMESTAMP_MICROS);
                }
                ColumnData::Utf8List(_) => {
                    assert_eq!(info.logical_type_ref(), Some(&LogicalType::List));
                    let list = &f.get_fields()[0];
                    let element = &list.get_fields()[0];
                    assert_eq!(list.name(), "list");
                    assert_eq!(element.name(), "element");
                    assert_eq!(element.get_basic_info().id(), col.element_field_id.unwrap());
                }
                _ => {}
            }
        }
        // Statistics as arrow-rs decodes them.
        for rg in meta.row_groups() {
            for (k, col) in columns.iter().enumerate() {
                let stats = rg.column(k).statistics().unwrap();
                assert!(stats.null_count_opt().is_some());
                if col.name == "ns" {
                    assert!(stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some());
                }
            }
        }
        // Every row through the record API.
        let mut n = 0;
        for (i, row) in reader.get_row_iter(None).unwrap().enumerate() {
            let row = row.unwrap();
            for ((name, field), col) in row.get_column_iter().zip(columns) {
                assert_eq!(name, &col.name);
                if let ColumnData::Utf8List(v) = &col.data {
                    match (&v[i], field) {
                        (None, Field::Null) => {}
                        (Some(want), Field::ListInternal(list)) => {
                            let got: Vec<Option<String>> = list
                                .elements()
                                .iter()
                                .map(|e| match e {
                                    Field::Str(s) => Some(s.clone()),
                                    Field::Null => None,
                                    other => panic!("element {other:?}"),
                                })
                                .collect();
                            assert_eq!(&got, want, "row {i}");
                        }
                        (want, got) => panic!("row {i} inputs: {want:?} vs {got:?}"),
                    }
                } else {
                    assert_eq!(field, &field_of(&col.data, i), "row {i} {}", col.name);
                }
            }
            n += 1;
        }
        assert_eq!(n, rows);
    }

    #[test]
    fn record_schema_round_trips_every_codec() {
        let columns = record_columns(23);
        assert_eq!(columns.len(), COLUMNS.len());
        for (codec, read_codec) in CODECS {
            let written = write_parquet(&columns, codec, 5).unwrap();
            check_with_our_reader(&columns, &written, read_codec, 5);
            check_with_arrow(&columns, &written, &format!("{codec:?}"));
            check_bounds(&columns, &written);
        }
    }

    #[test]
    fn compression_shrinks_the_big_values() {
        let columns = record_columns(23);
        let plain = write_parquet(&columns, WriteCodec::Uncompressed, 23).unwrap();
        for codec in [WriteCodec::Snappy, WriteCodec::Gzip, WriteCodec::Zstd, WriteCodec::Lz4Raw] {
            let small = write_parquet(&columns, codec, 23).unwrap();
            assert!(small.bytes.len() * 4 < plain.bytes.len(), "{codec:?}: {} vs {}", small.bytes.len(), plain.bytes.len());
            check_with_our_reader(&columns, &small, CODECS.iter().find(|c| c.0 == codec).unwrap().1, 23);
        }
    }

    #[test]
    fn one_row_group_per_row_and_one_for_all() {
        let columns = record_columns(6);
        for per in [1, 6, 100, 0] {
            let written = write_parquet(&columns, WriteCodec::Zstd, per).unwrap();
            let per = per.clamp(1, 6);
            check_with_our_reader(&columns, &written, Codec::Zstd, per);
            check_with_arrow(&columns, &written, &format!("per{per}"));
        }
    }

    #[test]
    fn zero_rows() {
        let columns = record_columns(0);
        let written = write_parquet(&columns, WriteCodec::Zstd, 5).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        assert_eq!(footer.num_rows, 0);
        assert!(footer.row_groups.is_empty());
        assert_eq!(footer.columns.len(), COLUMNS.len());
        assert!(written.lower_bounds.is_empty() && written.upper_bounds.is_empty());
        assert!(written.column_sizes.iter().all(|(_, s)| *s == 0));
        check_with_arrow(&columns, &written, "empty");
    }

    #[test]
    fn leaf_columns_and_levels() {
        let written = write_parquet(&record_columns(4), WriteCodec::Uncompressed, 4).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        let ns = &footer.columns[footer.column_by_field_id(1).unwrap()];
        assert_eq!((ns.max_def_level, ns.max_rep_level), (0, 0));
        assert_eq!(ns.physical_type, PhysicalType::ByteArray);
        let md = &footer.columns[footer.column_by_field_id(8).unwrap()];
        assert_eq!((md.max_def_level, md.max_rep_level), (1, 0));
        let inputs = &footer.columns[footer.column_by_field_id(22).unwrap()];
        assert_eq!(inputs.path, ["inputs", "list", "element"]);
        assert_eq!((inputs.max_def_level, inputs.max_rep_level), (3, 1));
        assert_eq!((inputs.list_def_level, inputs.repeated_def_level), (1, 2));
        assert_eq!(footer.column_by_name("inputs.list.element"), footer.column_by_field_id(22));
        let ts = &footer.columns[footer.column_by_field_id(4).unwrap()];
        assert_eq!(ts.physical_type, PhysicalType::Int64);
        let deleted = &footer.columns[footer.column_by_field_id(21).unwrap()];
        assert_eq!(deleted.physical_type, PhysicalType::Boolean);
    }

    fn one(name: &str, id: i32, required: bool, data: ColumnData) -> WriteColumn {
        WriteColumn {
            name: name.into(),
            field_id: id,
            required,
            element_field_id: matches!(data, ColumnData::Utf8List(_)).then_some(id + 100),
            data,
        }
    }

    fn strs(v: &[Option<&str>]) -> ColumnData {
        ColumnData::Utf8(v.iter().map(|s| s.map(String::from)).collect())
    }

    fn bound(map: &[(i32, Vec<u8>)], id: i32) -> Option<&[u8]> {
        map.iter().find(|(k, _)| *k == id).map(|(_, v)| v.as_slice())
    }

    #[test]
    fn string_truncation() {
        assert_eq!(truncate_lower_bound("short", 16), "short");
        assert_eq!(truncate_upper_bound("short", 16).as_deref(), Some("short"));
        let exact = "abcdefghijklmnop";
        assert_eq!(truncate_lower_bound(exact, 16), exact);
        assert_eq!(truncate_upper_bound(exact, 16).as_deref(), Some(exact));
        let long = "abcdefghijklmnopq";
        assert_eq!(truncate_lower_bound(long, 16), exact);
        assert_eq!(truncate_upper_bound(long, 16).as_deref(), Some("abcdefghijklmnoq"));
        // Multi-byte characters count once.
        let e = "é".repeat(20);
        assert_eq!(truncate_lower_bound(&e, 16), "é".repeat(16));
        assert_eq!(truncate_upper_bound(&e, 16), Some(format!("{}ê", "é".repeat(15))));
        let emoji = "🎉".repeat(17);
        assert_eq!(truncate_lower_bound(&emoji, 16).len(), 64);
        assert_eq!(truncate_upper_bound(&emoji, 16), Some(format!("{}🎊", "🎉".repeat(15))));
        // U+10FFFF cannot be incremented: the character before it is.
        let top = format!("ab{}", "\u{10FFFF}".repeat(20));
        assert_eq!(truncate_upper_bound(&top, 16).as_deref(), Some("ac"));
        assert_eq!(truncate_upper_bound(&"\u{10FFFF}".repeat(17), 16), None);
        // Surrogates are skipped.
        let before = format!("{}x", "\u{D7FF}".repeat(16));
        assert_eq!(truncate_upper_bound(&before, 16), Some(format!("{}\u{E000}", "\u{D7FF}".repeat(15))));
        // Every upper bound is ≥ the value it bounds, bytewise.
        for v in [long, e.as_str(), emoji.as_str(), top.as_str(), before.as_str()] {
            let upper = truncate_upper_bound(v, 16).unwrap();
            assert!(upper.as_bytes() >= v.as_bytes(), "{v}");
            assert!(truncate_lower_bound(v, 16).as_bytes() <= v.as_bytes());
        }
    }

    #[test]
    fn iceberg_metrics() {
        let long_id = "docs-guide-getting-started-with-the-store";
        let columns = vec![
            one("id", 3, true, strs(&[Some(long_id), Some("b-short"), Some("éééééééééééééééééé"), Some("a")])),
            one("md", 8, false, strs(&[None, Some(""), None, Some("x")])),
            one("nothing", 9, false, strs(&[None, None, None, None])),
            one("top", 10, true, strs(&[Some("a"), Some(&"\u{10FFFF}".repeat(17)), Some("b"), Some("c")])),
            one("ts", 4, true, ColumnData::TimestampMicros(vec![Some(5), Some(-7), Some(9), Some(0)])),
            one("size", 20, false, ColumnData::Int64(vec![None, Some(3), Some(i64::MAX), None])),
            one("deleted", 21, true, ColumnData::Boolean(vec![Some(false); 4])),
            one("flag", 30, false, ColumnData::Boolean(vec![None, Some(true), Some(false), None])),
            one(
                "inputs",
                18,
                false,
                ColumnData::Utf8List(vec![
                    None,
                    Some(vec![]),
                    Some(vec![Some("b/c/d".into()), None]),
                    Some(vec![Some("a/b/c-very-long-reference-id".into())]),
                ]),
            ),
        ];
        let written = write_parquet(&columns, WriteCodec::Zstd, 3).unwrap();
        assert_eq!(written.record_count, 4);
        assert_eq!(written.split_offsets.len(), 2);
        assert_eq!(written.split_offsets[0], 4);
        let ids: Vec<i32> = written.value_counts.iter().map(|(k, _)| *k).collect();
        assert_eq!(ids, [3, 8, 9, 10, 4, 20, 21, 30, 118]);
        let counts: Vec<i64> = written.value_counts.iter().map(|(_, v)| *v).collect();
        // The list: null list, empty list, two elements, one element.
        assert_eq!(counts, [4, 4, 4, 4, 4, 4, 4, 4, 5]);
        let nulls: Vec<i64> = written.null_value_counts.iter().map(|(_, v)| *v).collect();
        assert_eq!(nulls, [0, 2, 4, 0, 0, 2, 0, 2, 3]);
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        for (k, (id, size)) in written.column_sizes.iter().enumerate() {
            let total: u64 = footer.row_groups.iter().map(|rg| rg.columns[k].total_compressed_size).sum();
            assert_eq!(*size, total as i64, "{id}");
        }

        let lower = &written.lower_bounds;
        let upper = &written.upper_bounds;
        // Strings: the minimum's prefix, the maximum's prefix incremented.
        assert_eq!(bound(lower, 3), Some(&b"a"[..]));
        assert_eq!(bound(upper, 3), Some("éééééééééééééééê".as_bytes()));
        assert_eq!(bound(lower, 8), Some(&b""[..]));
        assert_eq!(bound(upper, 8), Some(&b"x"[..]));
        // All nulls: no bounds.
        assert_eq!(bound(lower, 9), None);
        assert_eq!(bound(upper, 9), None);
        // The maximum cannot be incremented: no upper bound, the lower bound stays.
        assert_eq!(bound(lower, 10), Some(&b"a"[..]));
        assert_eq!(bound(upper, 10), None);
        // Longs and timestamps: 8 bytes little-endian; booleans one byte.
        assert_eq!(bound(lower, 4), Some(&(-7i64).to_le_bytes()[..]));
        assert_eq!(bound(upper, 4), Some(&9i64.to_le_bytes()[..]));
        assert_eq!(bound(lower, 20), Some(&3i64.to_le_bytes()[..]));
        assert_eq!(bound(upper, 20), Some(&i64::MAX.to_le_bytes()[..]));
        assert_eq!(bound(lower, 21), Some(&[0u8][..]));
        assert_eq!(bound(upper, 21), Some(&[0u8][..]));
        assert_eq!(bound(lower, 30), Some(&[0u8][..]));
        assert_eq!(bound(upper, 30), Some(&[1u8][..]));
        // The list element, over its non-null elements.
        assert_eq!(bound(lower, 118), Some("a/b/c-very-long-".as_bytes()));
        assert_eq!(bound(upper, 118), Some(&b"b/c/d"[..]));
        // The bounds admit every value, bytewise.
        for v in [long_id, "b-short", "éééééééééééééééééé", "a"] {
            assert!(bound(lower, 3).unwrap() <= v.as_bytes());
            assert!(bound(upper, 3).unwrap() >= v.as_bytes());
        }
        check_with_arrow(&columns, &written, "metrics");
    }

    #[test]
    fn chunk_statistics_leave_out_large_strings() {
        let big = "x".repeat(MAX_STATISTICS_BYTES + 1);
        let columns = vec![one("a", 1, true, strs(&[Some("m"), Some(&big)])), one("b", 2, true, strs(&[Some("m"), Some("n")]))];
        let written = write_parquet(&columns, WriteCodec::Uncompressed, 10).unwrap();
        let footer = parse_footer(&written.bytes, written.bytes.len() as u64).unwrap();
        let a = footer.chunk(0, 0).unwrap().statistics.clone().unwrap();
        assert_eq!((a.min_value, a.max_value, a.null_count), (None, None, Some(0)));
        let b = footer.chunk(0, 1).unwrap().statistics.clone().unwrap();
        assert_eq!(b.min_value.as_deref(), Some(&b"m"[..]));
        assert_eq!(b.max_value.as_deref(), Some(&b"n"[..]));
        // The file bounds still come from the whole values.
        assert_eq!(bound(&written.lower_bounds, 1), Some(&b"m"[..]));
        assert_eq!(bound(&written.upper_bounds, 1), Some("xxxxxxxxxxxxxxxy".as_bytes()));
    }

    #[test]
    fn gzip_members_are_standard() {
        use std::io::Read;
        let data = "hello gzip ".repeat(1000);
        let gz = gzip(data.as_bytes());
        let mut out = String::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(gzip(b"").len(), 10 + 2 + 8);
    }

    #[test]
    fn shape_errors() {
        let ok = || one("a", 1, false, strs(&[Some("x"), None]));
        assert_eq!(write_parquet(&[], WriteCodec::Zstd, 5), Err(ParquetError::InvalidSchema));
        let short = one("b", 2, false, strs(&[Some("x")]));
        assert_eq!(write_parquet(&[ok(), short], WriteCodec::Zstd, 5), Err(ParquetError::InvalidSchema));
        let mut list = one("l", 3, false, ColumnData::Utf8List(vec![None, None]));
        list.element_field_id = None;
        assert_eq!(write_parquet(&[ok(), list], WriteCodec::Zstd, 5), Err(ParquetError::InvalidSchema));
        let mut flat = ok();
        flat.element_field_id = Some(9);
        assert_eq!(write_parquet(&[flat], WriteCodec::Zstd, 5), Err(ParquetError::InvalidSchema));
        let required = one("r", 4, true, strs(&[Some("x"), None]));
        assert_eq!(write_parquet(&[ok(), required], WriteCodec::Zstd, 5), Err(ParquetError::CorruptValues));
        let required_list = one("rl", 5, true, ColumnData::Utf8List(vec![Some(vec![]), None]));
        assert_eq!(write_parquet(&[ok(), required_list], WriteCodec::Zstd, 5), Err(ParquetError::CorruptValues));
    }

    #[test]
    fn required_list_round_trips() {
        let columns =
            vec![one("l", 3, true, ColumnData::Utf8List(vec![Some(vec![]), Some(vec![Some("a".into()), None]), Some(vec![None])]))];
        for (codec, read) in CODECS {
            let written = write_parquet(&columns, codec, 2).unwrap();
            check_with_our_reader(&columns, &written, read, 2);
            check_with_arrow(&columns, &written, &format!("rl-{codec:?}"));
        }
    }

    use crate::test_rng::Rng;

    /// Random strings for columns.
    trait Strings {
        fn string(&mut self, len: usize) -> String;
    }

    impl Strings for Rng {
        /// A string of `len` characters, from a small alphabet (compressible) or any character.
        fn string(&mut self, len: usize) -> String {
            let wide = self.index(2) == 0;
            (0..len)
                .map(|_| {
                    if wide {
                        char::from_u32(self.index(0x11_0000) as u32).unwrap_or('\u{FFFD}')
                    } else {
                        ['a', 'b', 'é', '🎉', ' ', '\n'][self.index(6)]
                    }
                })
                .collect()
        }
    }

    /// Every non-null value lies within the file's bounds (bytewise for strings, signed for
    /// longs); a missing bound only when there are no values, or an upper one for U+10FFFF.
    fn check_bounds(columns: &[WriteColumn], written: &WrittenFile) {
        for col in columns {
            let id = col.element_field_id.unwrap_or(col.field_id);
            let (lower, upper) = (bound(&written.lower_bounds, id), bound(&written.upper_bounds, id));
            let strings: Vec<&str> = match &col.data {
                ColumnData::Utf8(v) => v.iter().flatten().map(String::as_str).collect(),
                ColumnData::Utf8List(v) => v.iter().flatten().flatten().flatten().map(String::as_str).collect(),
                ColumnData::Int64(v) | ColumnData::TimestampMicros(v) | ColumnData::TimestampNtzMicros(v) => {
                    for x in v.iter().flatten() {
                        assert!(i64::from_le_bytes(lower.unwrap().try_into().unwrap()) <= *x);
                        assert!(i64::from_le_bytes(upper.unwrap().try_into().unwrap()) >= *x);
                    }
                    continue;
                }
                ColumnData::Int32(v) => {
                    for x in v.iter().flatten() {
                        assert!(i32::from_le_bytes(lower.unwrap().try_into().unwrap()) <= *x);
                        assert!(i32::from_le_bytes(upper.unwrap().try_into().unwrap()) >= *x);
                    }
                    continue;
                }
                ColumnData::Binary(v) => {
                    for b in v.iter().flatten() {
                        assert!(lower.unwrap() <= b.as_slice());
                        assert!(upper.is_none_or(|u| b.as_slice() <= u));
                    }
                    continue;
                }
                ColumnData::Boolean(_) => continue,
            };
            assert_eq!(lower.is_some(), !strings.is_empty());
            for s in &strings {
                assert!(lower.unwrap() <= s.as_bytes());
                assert!(core::str::from_utf8(lower.unwrap()).unwrap().chars().count() <= 16);
                match upper {
                    Some(u) => {
                        assert!(u >= s.as_bytes());
                        assert!(core::str::from_utf8(u).unwrap().chars().count() <= 16);
                    }
                    None => assert!(strings.iter().any(|s| s.chars().count() > 16)),
                }
            }
        }
    }

    #[test]
    fn random_columns_round_trip() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..12 {
            let rows = rng.index(60);
            let sizes = [0, 1, 15, 16, 17, 300, 5000, 70_000];
            let strings: Vec<Option<String>> = (0..rows)
                .map(|_| {
                    (rng.index(4) != 0).then(|| {
                        let len = sizes[rng.index(sizes.len())];
                        rng.string(len)
                    })
                })
                .collect();
            let lists = (0..rows)
                .map(|_| {
                    (rng.index(3) != 0).then(|| {
                        (0..rng.index(5))
                            .map(|_| {
                                (rng.index(5) != 0).then(|| {
                                    let len = rng.index(40);
                                    rng.string(len)
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            let longs = (0..rows).map(|_| (rng.index(5) != 0).then(|| rng.next() as i64)).collect();
            let bools = (0..rows).map(|_| (rng.index(5) != 0).then(|| rng.index(2) == 0)).collect();
            let columns = vec![
                one("s", 1, false, ColumnData::Utf8(strings)),
                one("l", 2, false, ColumnData::Utf8List(lists)),
                one("n", 3, false, ColumnData::Int64(longs)),
                one("t", 4, false, ColumnData::TimestampMicros(vec![Some(7); rows])),
                one("b", 5, false, ColumnData::Boolean(bools)),
            ];
            let per = 1 + rng.index(20);
            for (codec, read) in CODECS {
                let written = write_parquet(&columns, codec, per).unwrap();
                if rows > 0 {
                    check_with_our_reader(&columns, &written, read, per);
                }
                check_with_arrow(&columns, &written, &format!("random-{round}-{codec:?}"));
                check_bounds(&columns, &written);
            }
        }
    }

    /// Data pages of one column chunk: (rows in each page).
    fn page_counts(file: &[u8], chunk: &crate::parquet::ColumnChunkInfo) -> Vec<i32> {
        let (start, len) = chunk.range();
        let mut rest = &file[start as usize..(start + len) as usize];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (h, used) = super::super::footer::read_page_header(rest, 1 << 20).unwrap();
            out.push(h.data_page_header.unwrap().num_values);
            rest = &rest[used + h.compressed_page_size as usize..];
        }
        out
    }

    #[test]
    fn large_values_split_pages_at_rows() {
        let big = |i: usize| Some(format!("{i}-{}", "ab".repeat(BIG / 2)));
        let columns = vec![
            one("s", 1, false, ColumnData::Utf8((0..12).map(big).collect())),
            one("l", 2, false, ColumnData::Utf8List((0..12).map(|i| Some(vec![big(i), None, big(i + 100)])).collect())),
            one("n", 3, true, ColumnData::Int64((0..12).map(Some).collect())),
            // One value larger than a page gets a page of its own.
            one("huge", 4, true, ColumnData::Utf8((0..12).map(|i| Some(if i == 5 { "h".repeat(3 << 20) } else { "x".into() })).collect())),
        ];
        for (codec, read) in CODECS {
            let written = write_parquet(&columns, codec, 10).unwrap();
            let file = &written.bytes;
            let footer = parse_footer(file, file.len() as u64).unwrap();
            let pages: Vec<Vec<i32>> = (0..4).map(|k| page_counts(file, footer.chunk(0, k).unwrap())).collect();
            // ~200 KiB per row: a page closes at the row that reaches 1 MiB.
            assert_eq!(pages[0], [6, 4]);
            // ~400 KiB per list: three rows, three entries each.
            assert_eq!(pages[1], [9, 9, 9, 3]);
            assert_eq!(pages[2], [10]);
            assert_eq!(pages[3], [6, 4]);
            let small = DecodeLimits::with_max_page_bytes(2 << 20);
            for k in 0..3 {
                let chunk = footer.chunk(0, k).unwrap();
                let (start, len) = chunk.range();
                decode_column_chunk(&file[start as usize..(start + len) as usize], chunk, small).unwrap();
            }
            check_with_our_reader(&columns, &written, read, 10);
            check_with_arrow(&columns, &written, &format!("pages-{codec:?}"));
            check_bounds(&columns, &written);
        }
    }

    #[test]
    fn the_page_index_describes_the_pages() {
        use crate::parquet::{decode_page_run, page_runs, pages_may_contain, parse_column_index, parse_offset_index};
        let big = |i: usize| Some(format!("{i}-{}", "ab".repeat(BIG / 2)));
        let rows = 2 * PAGE_ROWS + 7;
        let columns = vec![
            one("s", 1, false, ColumnData::Utf8((0..rows).map(|i| if i % 5000 == 1 { big(i) } else { Some(format!("v{i}")) }).collect())),
            one("id", 3, true, ColumnData::Utf8((0..rows).map(|i| Some(format!("id-{i:06}"))).collect())),
            one("n", 4, false, ColumnData::Int64((0..rows).map(|i| (i % 3 != 0).then_some(i as i64)).collect())),
            one("z", 5, false, ColumnData::Utf8((0..rows).map(|_| None).collect())),
            one("l", 6, false, ColumnData::Utf8List((0..rows).map(|i| Some(vec![Some(format!("e{i}"))])).collect())),
        ];
        let written = write_parquet(&columns, WriteCodec::Snappy, rows).unwrap();
        let file = &written.bytes;
        let footer = parse_footer(file, file.len() as u64).unwrap();
        let slice = |(o, l): (u64, u64)| &file[o as usize..(o + l) as usize];
        let rg_rows = rows as u64;
        for col in 0..5 {
            let chunk = footer.chunk(0, col).unwrap();
            let pages = parse_offset_index(slice(chunk.offset_index.unwrap()), chunk, rg_rows).unwrap();
            assert!(pages.len() >= 3, "col {col}: {} pages (20,000 rows a page)", pages.len());
            if col == 4 {
                assert_eq!(chunk.column_index, None, "no column index for lists");
                continue;
            }
            let (start, len) = chunk.range();
            let whole = decode_column_chunk(&file[start as usize..(start + len) as usize], chunk, DecodeLimits::default()).unwrap();
            for p in 0..pages.len() {
                let run = page_runs(&pages, &[p], rg_rows)[0];
                let got = decode_page_run(None, slice(run.range), chunk, run.end_row - run.first_row, DecodeLimits::default()).unwrap();
                let (a, b) = (run.first_row as usize, run.end_row as usize);
                let want = match &whole {
                    ColumnValues::ByteArray(v) => ColumnValues::ByteArray(v[a..b].to_vec()),
                    ColumnValues::Int64(v) => ColumnValues::Int64(v[a..b].to_vec()),
                    _ => unreachable!(),
                };
                assert_eq!(got, want, "col {col} page {p}");
            }
            match col {
                // A 200 KB value has no bounds: no column index for that chunk.
                0 => assert_eq!(chunk.column_index, None),
                1 => {
                    let bounds = parse_column_index(slice(chunk.column_index.unwrap()), pages.len()).unwrap();
                    for i in [0, 19_999, 20_000, rows - 1] {
                        let keep = pages_may_contain(chunk, &bounds, format!("id-{i:06}").as_bytes());
                        assert_eq!(keep, [i / PAGE_ROWS], "id-{i:06}");
                    }
                }
                3 => {
                    let bounds = parse_column_index(slice(chunk.column_index.unwrap()), pages.len()).unwrap();
                    assert!(bounds.iter().all(|b| b.null_page), "only nulls");
                }
                _ => assert!(chunk.column_index.is_some()),
            }
        }
        // arrow-rs reads the same page index.
        use arrow_parquet::file::reader::FileReader;
        let options = arrow_parquet::file::serialized_reader::ReadOptionsBuilder::new().with_page_index().build();
        let path = std::env::temp_dir().join(format!("shared-parquet-page-index-{}.parquet", std::process::id()));
        std::fs::write(&path, file).unwrap();
        let reader = SerializedFileReader::new_with_options(std::fs::File::open(&path).unwrap(), options).unwrap();
        let _ = std::fs::remove_file(&path);
        let index = reader.metadata().page_index_for_row_group(0);
        let ours =
            parse_offset_index(slice(footer.chunk(0, 1).unwrap().offset_index.unwrap()), footer.chunk(0, 1).unwrap(), rg_rows).unwrap();
        let theirs = index.offset_index(1).expect("offset index").page_locations();
        assert_eq!(theirs.len(), ours.len());
        for (t, o) in theirs.iter().zip(&ours) {
            assert_eq!((t.offset as u64, t.compressed_page_size as u64, t.first_row_index as u64), (o.offset, o.length, o.first_row));
        }
        assert!(index.column_index(1).is_some(), "arrow-rs reads the id column index");
    }
}
