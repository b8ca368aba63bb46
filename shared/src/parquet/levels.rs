//! Bit-level decoders: the RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans),
//! ULEB128 varints and DELTA_BINARY_PACKED integers. All bounded by the input and by `count`.

use alloc::vec::Vec;

use super::error::ParquetError;

/// Reads an unsigned LEB128 varint of at most 64 bits from the front of `data`.
pub(super) fn uleb128(data: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let (&b, rest) = data.split_first()?;
        *data = rest;
        if shift >= 64 || (shift == 63 && (b & 0x7f) > 1) {
            return None;
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

/// Zig-zag decoding.
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Little-endian bit reader, least significant bit first (Parquet's bit-packing order).
struct Bits<'a> {
    data: &'a [u8],
    acc: u64,
    nbits: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, acc: 0, nbits: 0 }
    }

    /// Next `width` (≤ 64) bits, or `None` when the data ends first.
    fn take(&mut self, width: u32) -> Option<u64> {
        if width == 0 {
            return Some(0);
        }
        let mut out: u64 = 0;
        let mut got = 0u32;
        while got < width {
            if self.nbits == 0 {
                let (&b, rest) = self.data.split_first()?;
                self.data = rest;
                self.acc = u64::from(b);
                self.nbits = 8;
            }
            let n = (width - got).min(self.nbits);
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            out |= (self.acc & mask) << got;
            self.acc = self.acc.checked_shr(n).unwrap_or(0);
            self.nbits -= n;
            got += n;
        }
        Some(out)
    }
}

/// Decodes `count` values of an RLE / bit-packed hybrid run sequence of `bit_width` (≤ 32) bits
/// from `data` into `out`. Extra values in the last run are ignored; too few is `err`.
pub(super) fn decode_hybrid(
    mut data: &[u8],
    bit_width: u32,
    count: usize,
    out: &mut Vec<u32>,
    err: ParquetError,
) -> Result<(), ParquetError> {
    if bit_width > 32 {
        return Err(err);
    }
    let target = out.len().checked_add(count).ok_or(err)?;
    let value_bytes = bit_width.div_ceil(8) as usize;
    while out.len() < target {
        let header = uleb128(&mut data).ok_or(err)?;
        let want = target - out.len();
        if header & 1 == 1 {
            // Bit-packed: (header >> 1) groups of 8 values, `bit_width` bytes per group.
            let groups = header >> 1;
            let values = usize::try_from(groups.saturating_mul(8)).unwrap_or(usize::MAX);
            let bytes = usize::try_from(groups.saturating_mul(u64::from(bit_width))).unwrap_or(usize::MAX);
            let take_bytes = bytes.min(data.len());
            let (run, rest) = data.split_at(take_bytes);
            data = rest;
            let mut bits = Bits::new(run);
            let n = values.min(want);
            for _ in 0..n {
                let v = bits.take(bit_width).ok_or(err)?;
                out.push(v as u32);
            }
        } else {
            let run = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            if data.len() < value_bytes {
                return Err(err);
            }
            let (raw, rest) = data.split_at(value_bytes);
            data = rest;
            let mut v: u32 = 0;
            for (i, b) in raw.iter().enumerate() {
                v |= u32::from(*b) << (8 * i);
            }
            if bit_width < 32 && v >> bit_width != 0 {
                return Err(err);
            }
            let n = run.min(want);
            out.resize(out.len() + n, v);
        }
    }
    Ok(())
}

/// Number of bits needed for values up to `max`.
pub(super) fn bit_width(max: u32) -> u32 {
    32 - max.leading_zeros()
}

/// Decodes a DELTA_BINARY_PACKED stream of exactly `count` integers from the front of `data`;
/// returns them and the number of bytes consumed (DELTA_LENGTH_BYTE_ARRAY needs to know where the lengths end).
pub(super) fn decode_delta_binary_packed(data: &[u8], count: usize) -> Result<(Vec<i64>, usize), ParquetError> {
    let err = ParquetError::CorruptValues;
    let mut cur = data;
    let block_size = uleb128(&mut cur).ok_or(err)?;
    let miniblocks = uleb128(&mut cur).ok_or(err)?;
    let total = uleb128(&mut cur).ok_or(err)?;
    let first = unzigzag(uleb128(&mut cur).ok_or(err)?);
    if block_size == 0 || block_size % 128 != 0 || miniblocks == 0 || block_size % miniblocks != 0 {
        return Err(err);
    }
    let per_mini = block_size / miniblocks;
    if per_mini % 32 != 0 || miniblocks > 1024 {
        return Err(err);
    }
    // The stream encodes exactly the values asked for (non-null values, or one length per
    // value); this also bounds the work below by `count`.
    let total = usize::try_from(total).map_err(|_| err)?;
    if total != count {
        return Err(err);
    }
    let per_mini = usize::try_from(per_mini).map_err(|_| err)?;
    let miniblocks = usize::try_from(miniblocks).map_err(|_| err)?;
    let mut out = Vec::with_capacity(count.min(data.len().saturating_mul(8)).saturating_add(1));
    if total == 0 {
        return Ok((out, data.len() - cur.len()));
    }
    let mut last = first;
    out.push(first);
    // Values still to read from the stream (the writer's total), and to keep (ours).
    let mut left = total - 1;
    while left > 0 {
        let min_delta = unzigzag(uleb128(&mut cur).ok_or(err)?);
        if cur.len() < miniblocks {
            return Err(err);
        }
        let (widths, rest) = cur.split_at(miniblocks);
        cur = rest;
        for &w in widths {
            if left == 0 {
                break;
            }
            let w = u32::from(w);
            if w > 64 {
                return Err(err);
            }
            let bytes = per_mini.checked_mul(w as usize).ok_or(err)? / 8;
            // The last miniblock may be cut short by writers; take what is there.
            let take = bytes.min(cur.len());
            let (mini, rest) = cur.split_at(take);
            cur = rest;
            let mut bits = Bits::new(mini);
            let n = per_mini.min(left);
            for _ in 0..n {
                let d = bits.take(w).ok_or(err)?;
                last = last.wrapping_add(min_delta).wrapping_add(d as i64);
                out.push(last);
            }
            left -= n;
        }
    }
    Ok((out, data.len() - cur.len()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parquet_hybrid_rle_and_bitpacked() {
        // RLE run of 5 × 3 (width 2), then one bit-packed group of 8 values 0..7 (width 3).
        let mut out = Vec::new();
        decode_hybrid(&[0x0a, 0x03], 2, 5, &mut out, ParquetError::CorruptLevels).unwrap();
        assert_eq!(out, [3, 3, 3, 3, 3]);
        let mut out = Vec::new();
        // 0..7 in 3 bits: 0b10001000, 0b11000110, 0b11111010
        decode_hybrid(&[0x03, 0x88, 0xc6, 0xfa], 3, 8, &mut out, ParquetError::CorruptLevels).unwrap();
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6, 7]);
        let mut out = Vec::new();
        assert_eq!(decode_hybrid(&[0x03, 0x88], 3, 8, &mut out, ParquetError::CorruptLevels), Err(ParquetError::CorruptLevels));
        assert_eq!(decode_hybrid(&[], 1, 1, &mut out, ParquetError::CorruptLevels), Err(ParquetError::CorruptLevels));
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(7), 3);
        assert_eq!(bit_width(8), 4);
    }

    #[test]
    fn parquet_delta_binary_packed() {
        // Block 128, 4 miniblocks, 5 values, first 7 (zigzag 14); min delta 1 (zigzag 2), widths
        // [1,0,0,0], miniblock of 32 one-bit deltas: 0,1,0,1 → values 7, 8, 10, 11, 13.
        let mut data = vec![0x80, 0x01, 4, 5, 14, 2, 1, 0, 0, 0, 0b1010, 0, 0, 0];
        let (v, used) = decode_delta_binary_packed(&data, 5).unwrap();
        assert_eq!((v, used), (vec![7, 8, 10, 11, 13], 14));
        // A stream that claims other counts than asked, or cut short, is corrupt.
        assert_eq!(decode_delta_binary_packed(&data, 6), Err(ParquetError::CorruptValues));
        data[3] = 0x7f;
        assert_eq!(decode_delta_binary_packed(&data, 5), Err(ParquetError::CorruptValues));
        assert_eq!(decode_delta_binary_packed(&data[..6], 5), Err(ParquetError::CorruptValues));
        // Huge declared block sizes cost nothing: the work is bounded by the count.
        let big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 2, 0, 0, 0];
        assert_eq!(decode_delta_binary_packed(&big, 2).map(|x| x.0), Ok(vec![0, 0]));
        assert_eq!(decode_delta_binary_packed(&[], 0), Err(ParquetError::CorruptValues));
    }

    #[test]
    fn parquet_uleb128_bounds() {
        assert_eq!(uleb128(&mut &[0x7f][..]), Some(127));
        assert_eq!(uleb128(&mut &[0x80, 0x01][..]), Some(128));
        assert_eq!(uleb128(&mut &[0x80][..]), None);
        assert_eq!(uleb128(&mut &[0xff; 11][..]), None);
    }
}
