//! `shared::parquet::parse_footer` on an arbitrary file read from a suffix, as the serve worker's
//! locator reads it, then every column chunk of the footer through `decode_column_chunk`.
//!
//! Header: 1 byte, the first tail's length (255: `footer_range`, the worker's guess); the rest
//! is the file. Checks: never panics; `FooterNeeds::More` always asks for a non-empty range
//! ending exactly where the tail starts, and at most twice; the footer read from a suffix equals
//! the footer read from the whole file; parsing allocates at most 64 × file + 1 MiB; an accepted
//! footer has one chunk per leaf in every row group, each inside the data, and `chunk_range`,
//! `prune_row_groups`, `merge_ranges` and `slice_within` agree with it; each chunk decodes within
//! small limits (see `shared_fuzz::parquet::decode_checked`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::parquet::{chunk_range, footer_range, merge_ranges, parse_footer, prune_row_groups, slice_within, Footer, FooterNeeds};

#[global_allocator]
static METER: shared_fuzz::Meter = shared_fuzz::Meter;

/// Reads the footer as the locator does: a suffix, then what `More` asks for, in front.
fn read_from_suffix(file: &[u8], first: u64) -> Result<Footer, FooterNeeds> {
    let size = file.len() as u64;
    let mut start = size - first;
    for _ in 0..3 {
        match parse_footer(&file[start as usize..], size) {
            Err(FooterNeeds::More { offset, length }) => {
                assert!(length > 0, "More asks for nothing");
                assert_eq!(offset + length, start, "More does not end where the tail starts");
                start = offset;
            }
            other => return other,
        }
    }
    panic!("More asked three times");
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, file)) = data.split_first() else { return };
    let size = file.len() as u64;
    let first = if head == 255 { footer_range(size).1 } else { u64::from(head).min(size) };
    let (whole, peak) = shared_fuzz::peak_bytes(|| parse_footer(file, size));
    let bound = 64 * file.len() + (1 << 20);
    assert!(peak <= bound, "parsing a {size}-byte footer allocated {peak} at once");
    assert!(!matches!(whole, Err(FooterNeeds::More { .. })), "More with the whole file at hand");
    let suffix = read_from_suffix(file, first);
    assert_eq!(suffix, whole, "a suffix read differs from the whole-file read");
    let Ok(footer) = whole else { return };

    assert_eq!(footer.file_size, size);
    let mut ranges = Vec::new();
    let mut decoded = 0;
    for (g, rg) in footer.row_groups.iter().enumerate() {
        assert_eq!(rg.columns.len(), footer.columns.len(), "a row group without one chunk per leaf");
        for (c, chunk) in rg.columns.iter().enumerate() {
            assert_eq!(chunk.column, c);
            let (start, len) = chunk.range();
            assert_eq!(chunk_range(&footer, g, c), Some((start, len)));
            assert!(start >= 4 && start + len <= size - 8, "chunk {g}/{c} outside the data");
            ranges.push((start, len));
            // Decoding every chunk of a big footer would make one input slow: the first 32.
            if decoded < 32 {
                decoded += 1;
                let bytes = &file[start as usize..(start + len) as usize];
                let _ = shared_fuzz::parquet::decode_checked(bytes, chunk);
            }
        }
    }
    assert_eq!(chunk_range(&footer, footer.row_groups.len(), 0), None);
    for c in 0..footer.columns.len().min(8) {
        let probe = footer
            .chunk(0, c)
            .and_then(|ch| ch.statistics.as_ref())
            .and_then(|s| s.min_value.clone().or(s.min.clone()))
            .unwrap_or_default();
        let kept = prune_row_groups(&footer, c, &probe);
        assert!(kept.windows(2).all(|w| w[0] < w[1]) && kept.iter().all(|&g| g < footer.row_groups.len()));
    }
    let merged = merge_ranges(ranges.clone(), 1024);
    assert!(merged.windows(2).all(|w| w[0].0 + w[0].1 + 1024 < w[1].0), "merged ranges overlap or touch");
    for want in ranges.iter().filter(|r| r.1 > 0) {
        let m = merged.iter().find(|m| m.0 <= want.0 && want.0 + want.1 <= m.0 + m.1);
        let m = m.expect("a range is not covered by the merge");
        let buf = &file[m.0 as usize..(m.0 + m.1) as usize];
        let got = slice_within(m.0, buf, *want).expect("slice_within misses a covered range");
        assert_eq!(got, &file[want.0 as usize..(want.0 + want.1) as usize]);
    }
});
