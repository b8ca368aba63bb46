//! `shared::parquet::decode_column_chunk` on arbitrary page bytes (page headers, dictionary and
//! data pages v1/v2, every codec) under column metadata chosen by the input.
//!
//! Header (5 bytes): column shape (`shape % 8`: BYTE_ARRAY, INT64, INT32, BOOLEAN, list of
//! BYTE_ARRAY, INT96, DOUBLE, FIXED_LEN_BYTE_ARRAY), definition levels (`def % 4`; for the list:
//! bit 2 = optional list), codec (`codec % 9`: uncompressed, snappy, gzip, LZ4, zstd, LZ4 raw,
//! brotli, LZO, unknown), then `num_values` as u16 little-endian; the rest is the chunk.
//! Checks (`shared_fuzz::parquet::decode_checked`): never panics; at most
//! `decode_bound(chunk)` bytes allocated at once within 64 KiB pages and 4096 values; a flat
//! column decodes to exactly `num_values` values, a list to at most that many rows; unsupported
//! shapes are `Unsupported`; decoding is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::parquet::{Codec, ColumnChunkInfo, ParquetError, PhysicalType};

#[global_allocator]
static METER: shared_fuzz::Meter = shared_fuzz::Meter;

fuzz_target!(|data: &[u8]| {
    let Some((head, chunk)) = data.split_at_checked(5) else { return };
    let (ty, list) = match head[0] % 8 {
        0 => (PhysicalType::ByteArray, false),
        1 => (PhysicalType::Int64, false),
        2 => (PhysicalType::Int32, false),
        3 => (PhysicalType::Boolean, false),
        4 => (PhysicalType::ByteArray, true),
        5 => (PhysicalType::Int96, false),
        6 => (PhysicalType::Double, false),
        _ => (PhysicalType::FixedLenByteArray, false),
    };
    // A list is `<name> (LIST)` → `repeated group list` → `optional element`, as written.
    let (max_def, max_rep, list_def, repeated_def) = match (list, head[1] & 4 != 0) {
        (false, _) => (u16::from(head[1] % 4), 0, 0, 0),
        (true, true) => (3, 1, 1, 2),
        (true, false) => (2, 1, 0, 1),
    };
    let codec = match head[2] % 9 {
        0 => Codec::Uncompressed,
        1 => Codec::Snappy,
        2 => Codec::Gzip,
        3 => Codec::Lz4,
        4 => Codec::Zstd,
        5 => Codec::Lz4Raw,
        6 => Codec::Brotli,
        7 => Codec::Lzo,
        _ => Codec::Other(99),
    };
    let num_values = u64::from(u16::from_le_bytes([head[3], head[4]]));
    let meta = ColumnChunkInfo {
        column: 0,
        path: vec!["c".into()],
        field_id: Some(1),
        physical_type: ty,
        max_def_level: max_def,
        max_rep_level: max_rep,
        list_def_level: list_def,
        repeated_def_level: repeated_def,
        codec,
        data_page_offset: 4,
        dictionary_page_offset: None,
        total_compressed_size: chunk.len() as u64,
        num_values,
        statistics: None,
        offset_index: None,
        column_index: None,
    };
    let r = shared_fuzz::parquet::decode_checked(chunk, &meta);
    if matches!(ty, PhysicalType::Int96 | PhysicalType::Double | PhysicalType::FixedLenByteArray) {
        assert!(matches!(r, Err(ParquetError::Unsupported(_))), "{ty:?} decoded: {r:?}");
    }
});
