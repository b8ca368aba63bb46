//! `shared::iceberg::manifest::read_manifest_list_with` on arbitrary bytes (an Avro object
//! container), with a small inflate limit.
//!
//! Header: 1 byte, (byte + 1) × 256 = `max_inflated_bytes` (256..=65536); the rest is the file.
//! Checks: never panics; the read allocates at most 64 × (file + inflate limit) + 1 MiB at its
//! peak; an accepted list reads the same after its blocks are recompressed as null, deflate and
//! snappy (`shared_fuzz::avro::reframe`, an independent container parser); when every count is
//! present it round-trips through `write_manifest_list` to equal entries, and writing those again
//! gives the same bytes.
#![no_main]

use iceberg_writer::write_manifest_list;
use libfuzzer_sys::fuzz_target;
use shared::iceberg::manifest::{read_manifest_list_with, ReadLimits};
use shared_fuzz::avro::{reframe, Codec};

#[global_allocator]
static METER: shared_fuzz::Meter = shared_fuzz::Meter;

fuzz_target!(|data: &[u8]| {
    let Some((&head, file)) = data.split_first() else { return };
    let limits = ReadLimits { max_file_bytes: 1 << 20, max_inflated_bytes: (usize::from(head) + 1) * 256 };
    let (read, peak) = shared_fuzz::peak_bytes(|| read_manifest_list_with(file, &limits));
    let bound = 64 * (file.len() + limits.max_inflated_bytes) + (1 << 20);
    assert!(peak <= bound, "reading {} bytes allocated {peak} at once (bound {bound})", file.len());
    let Ok(files) = read else { return };

    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let again = reframe(file, codec, limits.max_inflated_bytes).expect("an accepted file re-frames");
        assert_eq!(read_manifest_list_with(&again, &limits).as_ref(), Ok(&files), "differs as {codec:?}");
    }

    let complete = files.iter().all(|f| {
        f.added_files_count.is_some()
            && f.existing_files_count.is_some()
            && f.deleted_files_count.is_some()
            && f.added_rows_count.is_some()
            && f.existing_rows_count.is_some()
            && f.deleted_rows_count.is_some()
    });
    if !complete {
        assert!(write_manifest_list(&files, 1, None, 1).is_err(), "a v2 list was written without its counts");
        return;
    }
    let written = write_manifest_list(&files, 1, Some(0), 1).expect("what was read is writable");
    let reread = read_manifest_list_with(&written, &ReadLimits::default()).expect("what was written reads");
    // v1 lists have no `content` (data) and no sequence numbers (0): written as such.
    assert_eq!(reread, files, "write → read does not round-trip");
    assert_eq!(write_manifest_list(&reread, 1, Some(0), 1).as_ref(), Ok(&written), "writing is not stable");
});
