//! Streaming gzip decoder (RFC 1952) with a hard bound on inflated output: the Parquet reader
//! inflates GZIP-compressed pages with it (`parquet::codec`).
//!
//! Request bodies are not inflated here: ingest pipes a `Content-Encoding: gzip` body through the
//! runtime's `DecompressionStream` (miniz_oxide would cost it ~9 KB of gzip; DEVELOPING.md, "What
//! the ingest bytes are spent on") and bounds the inflated bytes it reads itself.
//!
//! Input may come in pieces of any size and must not expand without bound (a decompression
//! bomb in a page whose header lies). [`GzipDecoder`] is a push decoder: it parses the gzip
//! header incrementally across chunk boundaries, inflates through one fixed output buffer
//! allocated up front, checks each member's CRC-32 and length trailer, accepts concatenated
//! members, and stops with [`GzipError::TooLarge`] before handing out more than
//! `max_output_bytes` in total.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// Size of the output buffer each inflate step writes into.
const OUT_BUF_BYTES: usize = 32 * 1024;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xE0;

/// Why a gzip body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GzipError {
    /// Not a gzip member header: wrong magic, a method other than deflate, reserved flag bits
    /// set, or an FHCRC that does not match (also: data after a member that is not a new one).
    BadHeader,
    /// The deflate data is invalid.
    Corrupt,
    /// A member's CRC-32 does not match its inflated data.
    ChecksumMismatch,
    /// A member's ISIZE does not match its inflated length (mod 2^32).
    LengthMismatch,
    /// The body ended inside a header, the deflate data or the trailer (or was empty).
    Truncated,
    /// The inflated output exceeds the decoder's `max_output_bytes`.
    TooLarge,
}

impl GzipError {
    /// Short human explanation, stable across occurrences.
    pub fn description(&self) -> &'static str {
        match self {
            GzipError::BadHeader => "invalid gzip header",
            GzipError::Corrupt => "corrupt deflate data",
            GzipError::ChecksumMismatch => "gzip CRC-32 mismatch",
            GzipError::LengthMismatch => "gzip length mismatch",
            GzipError::Truncated => "gzip data is truncated",
            GzipError::TooLarge => "decompressed body is larger than the limit",
        }
    }
}

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GzipError {}

/// Position inside a member header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// Bytes of the 10-byte fixed part seen so far.
    Fixed(u8),
    /// Bytes of XLEN seen so far, and its low byte.
    ExtraLen(u8, u8),
    /// Bytes of the extra field still to skip (at least one).
    Extra(u16),
    /// Inside the zero-terminated file name.
    Name,
    /// Inside the zero-terminated comment.
    Comment,
    /// Bytes of the header CRC16 seen so far, and its low byte.
    Crc(u8, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header(Header),
    Inflate,
    /// Bytes of the 8-byte trailer seen so far (kept in `GzipDecoder::trailer`).
    Trailer(u8),
    /// A member ended; the body may end here or a new member may follow.
    BetweenMembers,
    Failed(GzipError),
}

/// Push decoder for a gzip body; see the [module docs](self).
///
/// The FTEXT flag, MTIME, XFL and OS are ignored; the optional extra field, name and comment are
/// skipped without buffering; an FHCRC is checked. After an error every call returns that error.
pub struct GzipDecoder {
    max_output_bytes: u64,
    total_out: u64,
    state: State,
    /// FLG of the current member.
    flags: u8,
    /// CRC-32 of the current member's header bytes, for FHCRC.
    header_crc: u32,
    /// CRC-32 of the current member's inflated data.
    crc: u32,
    /// Inflated length of the current member, mod 2^32.
    size: u32,
    trailer: [u8; 8],
    inflater: Box<InflateState>,
    out_buf: Vec<u8>,
}

impl fmt::Debug for GzipDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipDecoder")
            .field("max_output_bytes", &self.max_output_bytes)
            .field("total_out", &self.total_out)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl GzipDecoder {
    /// A decoder that fails with [`GzipError::TooLarge`] once the inflated output would exceed
    /// `max_output_bytes`. Allocates its inflate state and output buffer (about 75 KiB) once.
    pub fn new(max_output_bytes: u64) -> Self {
        GzipDecoder {
            max_output_bytes,
            total_out: 0,
            state: State::Header(Header::Fixed(0)),
            flags: 0,
            header_crc: 0,
            crc: 0,
            size: 0,
            trailer: [0; 8],
            inflater: InflateState::new_boxed(DataFormat::Raw),
            out_buf: vec![0; OUT_BUF_BYTES],
        }
    }

    /// Feeds the next chunk of the compressed body, passing each piece of inflated output to
    /// `out` in order. `out` never receives more than `max_output_bytes` in total: output up to
    /// the limit is passed, then [`GzipError::TooLarge`] is returned.
    pub fn feed<F: FnMut(&[u8])>(&mut self, input: &[u8], mut out: F) -> Result<(), GzipError> {
        let result = self.feed_inner(input, &mut out);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// Ends the body: [`GzipError::Truncated`] unless it ended right after a member's trailer
    /// (an empty body is truncated too), or the error already returned by [`feed`](Self::feed).
    pub fn finish(self) -> Result<(), GzipError> {
        match self.state {
            State::BetweenMembers => Ok(()),
            State::Failed(e) => Err(e),
            State::Header(_) | State::Inflate | State::Trailer(_) => Err(GzipError::Truncated),
        }
    }

    /// Inflated bytes passed to `out` so far, over all members.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    fn feed_inner<F: FnMut(&[u8])>(&mut self, mut input: &[u8], out: &mut F) -> Result<(), GzipError> {
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Inflate => {
                    self.inflate_some(&mut input, out)?;
                    if self.state == State::Inflate {
                        // Everything was consumed; the deflate stream wants more input.
                        return Ok(());
                    }
                }
                State::BetweenMembers => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    self.state = State::Header(Header::Fixed(0));
                }
                State::Header(at) => {
                    let Some((&b, rest)) = input.split_first() else {
                        return Ok(());
                    };
                    input = rest;
                    self.state = self.header_byte(at, b)?;
                }
                State::Trailer(seen) => {
                    let Some((&b, rest)) = input.split_first() else {
                        return Ok(());
                    };
                    input = rest;
                    if let Some(slot) = self.trailer.get_mut(usize::from(seen)) {
                        *slot = b;
                    }
                    if seen < 7 {
                        self.state = State::Trailer(seen.saturating_add(1));
                    } else {
                        self.end_member()?;
                    }
                }
            }
        }
    }

    /// Consumes one header byte at `at` and returns the next state.
    fn header_byte(&mut self, at: Header, b: u8) -> Result<State, GzipError> {
        if !matches!(at, Header::Crc(..)) {
            self.header_crc = crc32(self.header_crc, &[b]);
        }
        Ok(match at {
            Header::Fixed(seen) => {
                match (seen, b) {
                    (0, 0x1f) | (1, 0x8b) | (2, 8) => {}
                    (0..=2, _) => return Err(GzipError::BadHeader),
                    (3, flags) if flags & FRESERVED != 0 => return Err(GzipError::BadHeader),
                    (3, flags) => self.flags = flags,
                    _ => {}
                }
                if seen < 9 {
                    State::Header(Header::Fixed(seen.saturating_add(1)))
                } else {
                    self.next_field(0)
                }
            }
            Header::ExtraLen(0, _) => State::Header(Header::ExtraLen(1, b)),
            Header::ExtraLen(_, low) => match u16::from_le_bytes([low, b]) {
                0 => self.next_field(1),
                len => State::Header(Header::Extra(len)),
            },
            Header::Extra(left) if left > 1 => State::Header(Header::Extra(left.saturating_sub(1))),
            Header::Extra(_) => self.next_field(1),
            Header::Name if b == 0 => self.next_field(2),
            Header::Comment if b == 0 => self.next_field(3),
            Header::Name | Header::Comment => State::Header(at),
            Header::Crc(0, _) => State::Header(Header::Crc(1, b)),
            Header::Crc(_, low) => {
                if u32::from(u16::from_le_bytes([low, b])) != self.header_crc & 0xFFFF {
                    return Err(GzipError::BadHeader);
                }
                State::Inflate
            }
        })
    }

    /// The first optional header field at or after `rank` (extra, name, comment, CRC16) that the
    /// flags announce, or the deflate data.
    fn next_field(&self, rank: usize) -> State {
        const ORDER: [u8; 4] = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        for (r, flag) in ORDER.iter().enumerate().skip(rank) {
            if self.flags & flag != 0 {
                return State::Header(match r {
                    0 => Header::ExtraLen(0, 0),
                    1 => Header::Name,
                    2 => Header::Comment,
                    _ => Header::Crc(0, 0),
                });
            }
        }
        State::Inflate
    }

    /// Inflates from `input` until the deflate stream ends (state becomes `Trailer`) or all of
    /// `input` is consumed and no output is pending (state stays `Inflate`).
    fn inflate_some<F: FnMut(&[u8])>(&mut self, input: &mut &[u8], out: &mut F) -> Result<(), GzipError> {
        loop {
            let remaining = self.max_output_bytes.saturating_sub(self.total_out);
            // One byte of room past the limit is enough to see an overflow.
            let room = usize::try_from(remaining.saturating_add(1)).map_or(OUT_BUF_BYTES, |r| r.min(OUT_BUF_BYTES));
            let buf = self.out_buf.get_mut(..room).unwrap_or_default();
            let res = inflate(&mut self.inflater, input, buf, MZFlush::None);
            *input = input.get(res.bytes_consumed..).unwrap_or_default();
            let produced = buf.get(..res.bytes_written).unwrap_or_default();
            let produced_len = u64::try_from(produced.len()).unwrap_or(u64::MAX);
            if produced_len > remaining {
                let allowed = usize::try_from(remaining).unwrap_or(0);
                if let Some(head) = produced.get(..allowed).filter(|h| !h.is_empty()) {
                    out(head);
                }
                self.total_out = self.max_output_bytes;
                return Err(GzipError::TooLarge);
            }
            if !produced.is_empty() {
                self.crc = crc32(self.crc, produced);
                // ISIZE is the length mod 2^32: truncation is intended.
                self.size = self.size.wrapping_add(produced.len() as u32);
                self.total_out = self.total_out.saturating_add(produced_len);
                out(produced);
            }
            let progress = res.bytes_consumed > 0 || res.bytes_written > 0;
            match res.status {
                Ok(MZStatus::StreamEnd) => {
                    self.state = State::Trailer(0);
                    return Ok(());
                }
                // `Buf` means "no progress possible without more input".
                Ok(_) | Err(MZError::Buf) if progress => {}
                Ok(_) | Err(MZError::Buf) if input.is_empty() => return Ok(()),
                _ => return Err(GzipError::Corrupt),
            }
        }
    }

    /// Checks the trailer just read and gets ready for another member.
    fn end_member(&mut self) -> Result<(), GzipError> {
        let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer;
        if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc {
            return Err(GzipError::ChecksumMismatch);
        }
        if u32::from_le_bytes([s0, s1, s2, s3]) != self.size {
            return Err(GzipError::LengthMismatch);
        }
        self.flags = 0;
        self.header_crc = 0;
        self.crc = 0;
        self.size = 0;
        self.inflater.reset(DataFormat::Raw);
        self.state = State::BetweenMembers;
        Ok(())
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) lookup table.
const CRC_TABLE: [u32; 256] = crc_table();

// Evaluated at compile time: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Continues the CRC-32 `crc` (0 for none yet) over `data`, like zlib's `crc32()`.
fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        let slot = CRC_TABLE.get(usize::from(c as u8 ^ b)).copied().unwrap_or(0);
        c = slot ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder};
    use flate2::Compression;
    use std::io::Write;

    /// Deterministic data with both literals and repeats.
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(3) && v.len() > 300 {
                let back = (x >> 8) as usize % 300 + 1;
                for _ in 0..((x >> 24) as usize % 40 + 3) {
                    v.push(v[v.len() - back]);
                }
            } else {
                v.push((x >> 40) as u8 % 64 + b' ');
            }
        }
        v.truncate(len);
        v
    }

    fn gzip(data: &[u8], level: Compression) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), level);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A member with every optional header field (FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT).
    fn member_with_all_fields(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0x1f, 0x8b, 8, 0x1f, 1, 2, 3, 4, 0, 255];
        let extra = b"AB\x03\x00xyz";
        m.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        m.extend_from_slice(extra);
        m.extend_from_slice(b"records.ndjson\0");
        m.extend_from_slice(b"a comment\0");
        let hcrc = crc32(0, &m) as u16;
        m.extend_from_slice(&hcrc.to_le_bytes());
        m.extend_from_slice(&raw_deflate(data));
        m.extend_from_slice(&crc32(0, data).to_le_bytes());
        m.extend_from_slice(&(data.len() as u32).to_le_bytes());
        m
    }

    fn decode_chunks(max: u64, chunks: &[&[u8]]) -> Result<Vec<u8>, GzipError> {
        let mut d = GzipDecoder::new(max);
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, |s| out.extend_from_slice(s))?;
        }
        assert_eq!(d.total_out(), out.len() as u64);
        d.finish()?;
        Ok(out)
    }

    fn decode(max: u64, input: &[u8], chunk: usize) -> Result<Vec<u8>, GzipError> {
        let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
        decode_chunks(max, &chunks)
    }

    #[test]
    fn crc32_matches_the_check_value_and_flate2() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        let data = sample(10_000);
        let mut c = flate2::Crc::new();
        c.update(&data);
        assert_eq!(crc32(0, &data), c.sum());
        let (a, b) = data.split_at(1234);
        assert_eq!(crc32(crc32(0, a), b), c.sum());
    }

    #[test]
    fn round_trip_in_chunks_of_1_7_and_4096() {
        let mut data = sample(150_000);
        data.extend(core::iter::repeat_n(0u8, 300_000));
        data.extend(sample(50_000));
        for level in [Compression::fast(), Compression::best()] {
            let gz = gzip(&data, level);
            for chunk in [1, 7, 4096, gz.len()] {
                assert_eq!(decode(u64::MAX, &gz, chunk).unwrap(), data, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn header_fields_split_across_chunks() {
        let data = sample(3000);
        let gz = member_with_all_fields(&data);
        for at in 0..=gz.len() {
            let (a, b) = gz.split_at(at);
            assert_eq!(decode_chunks(u64::MAX, &[a, b]).unwrap(), data, "split at {at}");
        }
        assert_eq!(decode(u64::MAX, &gz, 1).unwrap(), data);
    }

    #[test]
    fn wrong_header_crc_is_a_bad_header() {
        let mut gz = member_with_all_fields(b"x");
        let at = 10 + 2 + 7 + 15 + 10;
        gz[at] ^= 1;
        assert_eq!(decode(u64::MAX, &gz, 4096), Err(GzipError::BadHeader));
    }

    #[test]
    fn concatenated_members() {
        let mut gz = gzip(b"hello ", Compression::default());
        gz.extend(member_with_all_fields(b"world"));
        gz.extend(gzip(b"", Compression::default()));
        for at in 0..=gz.len() {
            let (a, b) = gz.split_at(at);
            assert_eq!(decode_chunks(u64::MAX, &[a, b]).unwrap(), b"hello world", "split at {at}");
        }
        let big_a = sample(70_000);
        let big_b = sample(90_000);
        let mut gz = gzip(&big_a, Compression::default());
        gz.extend(gzip(&big_b, Compression::default()));
        let want = [big_a, big_b].concat();
        for chunk in [1, 7, 4096] {
            assert_eq!(decode(u64::MAX, &gz, chunk).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        const LIMIT: u64 = 1024 * 1024;
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..50 {
            e.write_all(&zeros).unwrap();
        }
        let gz = e.finish().unwrap();
        assert!(gz.len() < 100 * 1024);
        for chunk in [7, 4096, gz.len()] {
            let mut d = GzipDecoder::new(LIMIT);
            let mut passed = 0u64;
            let mut result = Ok(());
            for c in gz.chunks(chunk) {
                result = d.feed(c, |s| passed += s.len() as u64);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(GzipError::TooLarge), "chunk {chunk}");
            assert!(passed <= LIMIT);
            assert_eq!(d.total_out(), passed);
            assert_eq!(d.feed(b"", |_| passed += 1), Err(GzipError::TooLarge));
            assert_eq!(d.finish(), Err(GzipError::TooLarge));
        }
    }

    #[test]
    fn output_exactly_at_the_limit_is_fine() {
        let data = sample(100_000);
        let gz = gzip(&data, Compression::default());
        assert_eq!(decode(100_000, &gz, 4096).unwrap(), data);
        let mut d = GzipDecoder::new(99_999);
        let mut passed = 0;
        assert_eq!(d.feed(&gz, |s| passed += s.len()), Err(GzipError::TooLarge));
        assert_eq!(passed, 99_999);
    }

    #[test]
    fn every_truncation_is_reported() {
        let gz = member_with_all_fields(&sample(2000));
        for cut in 0..gz.len() {
            assert_eq!(decode(u64::MAX, &gz[..cut], 4096), Err(GzipError::Truncated), "cut {cut}");
        }
        let mut two = gzip(b"a", Compression::default());
        two.extend(gzip(b"b", Compression::default()));
        assert_eq!(decode(u64::MAX, &two[..two.len() - 1], 7), Err(GzipError::Truncated));
    }

    #[test]
    fn empty_input_is_truncated() {
        assert_eq!(decode_chunks(u64::MAX, &[]), Err(GzipError::Truncated));
        assert_eq!(decode_chunks(u64::MAX, &[b""]), Err(GzipError::Truncated));
    }

    #[test]
    fn flipped_crc_and_length_are_reported() {
        let gz = gzip(&sample(5000), Compression::default());
        let mut bad_crc = gz.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 0x40;
        assert_eq!(decode(u64::MAX, &bad_crc, 7), Err(GzipError::ChecksumMismatch));
        let mut bad_len = gz;
        bad_len[n - 1] ^= 0x01;
        assert_eq!(decode(u64::MAX, &bad_len, 7), Err(GzipError::LengthMismatch));
    }

    #[test]
    fn garbage_is_a_bad_header() {
        assert_eq!(decode(u64::MAX, b"{\"not\":\"gzip\"}", 3), Err(GzipError::BadHeader));
        assert_eq!(decode(u64::MAX, &[0x1f, 0x8b, 7, 0], 1), Err(GzipError::BadHeader));
        assert_eq!(decode(u64::MAX, &[0x1f, 0x8b, 8, 0x20], 1), Err(GzipError::BadHeader));
        let mut trailing = gzip(b"ok", Compression::default());
        trailing.extend_from_slice(b"\0\0");
        assert_eq!(decode(u64::MAX, &trailing, 4096), Err(GzipError::BadHeader));
    }

    #[test]
    fn invalid_deflate_data_is_corrupt_and_errors_stick() {
        // BFINAL=1, BTYPE=11 (reserved).
        let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 0x07, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut d = GzipDecoder::new(u64::MAX);
        assert_eq!(d.feed(&gz, |_| {}), Err(GzipError::Corrupt));
        assert_eq!(d.feed(b"more", |_| {}), Err(GzipError::Corrupt));
        assert_eq!(d.finish(), Err(GzipError::Corrupt));
    }

    #[test]
    fn errors_display_their_description() {
        let e = GzipError::TooLarge;
        assert_eq!(alloc::format!("{e}"), e.description());
    }
}
