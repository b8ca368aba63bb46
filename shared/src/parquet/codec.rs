//! Page decompression, pure Rust, bounded by the size the page header states.

use alloc::vec;
use alloc::vec::Vec;

use super::error::ParquetError;
use super::footer::Codec;
use crate::gzip::{GzipDecoder, GzipError};

/// Decompresses one page body that must inflate to exactly `expected` bytes (already checked
/// against the page limit by the caller). Never produces more than `expected` bytes.
pub(super) fn decompress(codec: Codec, input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let out = match codec {
        Codec::Uncompressed => input.to_vec(),
        Codec::Snappy => snappy(input, expected)?,
        Codec::Gzip => gzip(input, expected)?,
        Codec::Lz4Raw => lz4_raw(input, expected)?,
        Codec::Lz4 => match lz4_hadoop(input, expected) {
            Ok(v) => v,
            // Older writers put a raw LZ4 block under the LZ4 codec (arrow-rs falls back too).
            Err(_) => lz4_raw(input, expected)?,
        },
        Codec::Zstd => zstd(input, expected)?,
        Codec::Brotli => return Err(ParquetError::Unsupported("BROTLI codec")),
        Codec::Lzo => return Err(ParquetError::Unsupported("LZO codec")),
        Codec::Other(_) => return Err(ParquetError::Unsupported("unknown compression codec")),
    };
    if out.len() != expected {
        return Err(ParquetError::PageSizeMismatch);
    }
    Ok(out)
}

fn snappy(input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let len = snap::raw::decompress_len(input).map_err(|_| ParquetError::Decompress)?;
    if len != expected {
        return Err(ParquetError::PageSizeMismatch);
    }
    let mut out = vec![0u8; expected];
    let n = snap::raw::Decoder::new().decompress(input, &mut out).map_err(|_| ParquetError::Decompress)?;
    out.truncate(n);
    Ok(out)
}

fn gzip(input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let mut out = Vec::new();
    out.try_reserve_exact(expected).map_err(|_| ParquetError::PageTooLarge)?;
    let mut dec = GzipDecoder::new(expected as u64);
    let fed = dec.feed(input, |chunk| out.extend_from_slice(chunk));
    let result = fed.and_then(|()| dec.finish());
    match result {
        Ok(()) => Ok(out),
        Err(GzipError::TooLarge) => Err(ParquetError::PageSizeMismatch),
        Err(_) => Err(ParquetError::Decompress),
    }
}

fn lz4_raw(input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let mut out = vec![0u8; expected];
    let n = lz4_flex::block::decompress_into(input, &mut out).map_err(|_| ParquetError::Decompress)?;
    out.truncate(n);
    Ok(out)
}

/// Hadoop's LZ4 framing: blocks of (big-endian u32 decompressed size, big-endian u32 compressed
/// size, raw LZ4 block).
fn lz4_hadoop(mut input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let err = ParquetError::Decompress;
    let mut out = vec![0u8; expected];
    let mut filled = 0usize;
    if input.is_empty() {
        return Err(err);
    }
    while !input.is_empty() {
        let (head, rest) = input.split_at_checked(8).ok_or(err)?;
        let (a, b) = head.split_at(4);
        let raw_len = u32::from_be_bytes(<[u8; 4]>::try_from(a).map_err(|_| err)?) as usize;
        let comp_len = u32::from_be_bytes(<[u8; 4]>::try_from(b).map_err(|_| err)?) as usize;
        let (block, rest) = rest.split_at_checked(comp_len).ok_or(err)?;
        input = rest;
        let end = filled.checked_add(raw_len).ok_or(err)?;
        let target = out.get_mut(filled..end).ok_or(err)?;
        let n = lz4_flex::block::decompress_into(block, target).map_err(|_| err)?;
        if n != raw_len {
            return Err(err);
        }
        filled = end;
    }
    if filled != expected {
        return Err(err);
    }
    Ok(out)
}

fn zstd(input: &[u8], expected: usize) -> Result<Vec<u8>, ParquetError> {
    let mut dec = ruzstd::decoding::FrameDecoder::new();
    // A zstd window never needs to exceed the content much; refuse frames that would allocate
    // more than twice the page (at least 1 MiB).
    dec.set_max_window_size((expected as u64).saturating_mul(2).max(1 << 20));
    let mut out = Vec::new();
    out.try_reserve_exact(expected).map_err(|_| ParquetError::PageTooLarge)?;
    match dec.decode_all_to_vec(input, &mut out) {
        Ok(()) => Ok(out),
        Err(ruzstd::decoding::errors::FrameDecoderError::TargetTooSmall) => Err(ParquetError::PageSizeMismatch),
        Err(_) => Err(ParquetError::Decompress),
    }
}
