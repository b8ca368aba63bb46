//! `shared::iceberg::manifest::read_manifest_with` on arbitrary bytes (an Avro object container),
//! with a small inflate limit and a manifest list entry chosen by the input.
//!
//! Header: 1 byte. Bits 0..6: (n + 1) × 512 = `max_inflated_bytes` (512..=65536). Bit 6: the list
//! entry's sequence number is 7 (else 0, a v1 list). Bit 7: the list entry's `manifest_length`
//! is the file's length (else 0, unchecked). The rest is the file.
//!
//! Checks: never panics; the read allocates at most 64 × (file + inflate limit) + 1 MiB at its
//! peak; accepted entries honour inheritance (snapshot ids and, for ADDED entries and v1 lists,
//! sequence numbers); the same file with its blocks recompressed as null, deflate and snappy reads
//! the same; when the entries are writable (one partition type per field, unique names,
//! sequence numbers where v2 needs them, data or deletes but not both) `write_manifest` accepts
//! them, the result reads back to the same entries and table schema, and writing again gives the
//! same bytes.
#![no_main]

use iceberg_writer::write_manifest;
use libfuzzer_sys::fuzz_target;
use shared::iceberg::manifest::{
    read_manifest_with, DataContent, EntryStatus, Manifest, ManifestContent, ManifestEntry, ManifestFile, PartitionField, PartitionSpec,
    PartitionType, PartitionValue, ReadLimits, Transform,
};
use shared_fuzz::avro::{reframe, Codec};

#[global_allocator]
static METER: shared_fuzz::Meter = shared_fuzz::Meter;

const ADDED_SNAPSHOT: i64 = 4_242;

fn list_entry(sequence_number: i64, manifest_length: i64) -> ManifestFile {
    ManifestFile {
        manifest_path: "s3://b/m.avro".into(),
        manifest_length,
        partition_spec_id: 0,
        content: ManifestContent::Data,
        sequence_number,
        min_sequence_number: sequence_number,
        added_snapshot_id: ADDED_SNAPSHOT,
        added_files_count: Some(1),
        existing_files_count: Some(0),
        deleted_files_count: Some(0),
        added_rows_count: Some(1),
        existing_rows_count: Some(0),
        deleted_rows_count: Some(0),
        partitions: Vec::new(),
        key_metadata: None,
    }
}

fn ty_of(v: &PartitionValue) -> Option<PartitionType> {
    Some(match v {
        PartitionValue::Null => return None,
        PartitionValue::Bool(_) => PartitionType::Boolean,
        PartitionValue::Int(_) => PartitionType::Int,
        PartitionValue::Long(_) => PartitionType::Long,
        PartitionValue::Float(_) => PartitionType::Float,
        PartitionValue::Double(_) => PartitionType::Double,
        PartitionValue::String(_) => PartitionType::String,
        PartitionValue::Bytes(_) => PartitionType::Binary,
    })
}

/// The identity spec the entries' partition tuples fit, when there is exactly one.
fn spec_for(entries: &[ManifestEntry]) -> Option<PartitionSpec> {
    let first = entries.first().map_or(&[][..], |e| &e.data_file.partition[..]);
    let mut fields = Vec::new();
    for (i, (name, _)) in first.iter().enumerate() {
        if name.is_empty() || first[..i].iter().any(|(n, _)| n == name) {
            return None;
        }
        let mut ty = None;
        for e in entries {
            let (n, v) = e.data_file.partition.get(i)?;
            if n != name {
                return None;
            }
            match (ty, ty_of(v)) {
                (_, None) => {}
                (None, t) => ty = t,
                (Some(a), Some(b)) if a == b => {}
                _ => return None,
            }
        }
        let i = i32::try_from(i).ok()?;
        fields.push(PartitionField {
            source_id: i + 1,
            field_id: 1000 + i,
            name: name.clone(),
            transform: Transform::Identity,
            ty: ty.unwrap_or(PartitionType::String),
        });
    }
    if entries.iter().any(|e| e.data_file.partition.len() != fields.len()) {
        return None;
    }
    Some(PartitionSpec { spec_id: 3, fields })
}

fn writable(m: &Manifest) -> bool {
    let deletes = m.entries.iter().filter(|e| e.data_file.content != DataContent::Data).count();
    let one_content = deletes == 0 || deletes == m.entries.len();
    let numbered =
        m.entries.iter().all(|e| e.status == EntryStatus::Added || (e.sequence_number.is_some() && e.file_sequence_number.is_some()));
    let schema_ok = matches!(serde_json::from_str(&m.metadata.schema), Ok(serde_json::Value::Object(_)));
    one_content && numbered && schema_ok
}

fn same(a: &[ManifestEntry], b: &[ManifestEntry]) -> bool {
    // Debug, not PartialEq: a NaN partition value must still equal itself.
    format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, file)) = data.split_first() else { return };
    let limits = ReadLimits { max_file_bytes: 1 << 20, max_inflated_bytes: (usize::from(head & 0x3f) + 1) * 512 };
    let seq = if head & 0x40 != 0 { 7 } else { 0 };
    let length = if head & 0x80 != 0 { file.len() as i64 } else { 0 };
    let list = list_entry(seq, length);
    let (read, peak) = shared_fuzz::peak_bytes(|| read_manifest_with(file, &list, &limits));
    let bound = 64 * (file.len() + limits.max_inflated_bytes) + (1 << 20);
    assert!(peak <= bound, "reading {} bytes allocated {peak} at once (bound {bound})", file.len());
    let Ok(m) = read else { return };

    assert!(matches!(m.metadata.format_version, 1 | 2));
    for e in &m.entries {
        if e.status == EntryStatus::Added || seq == 0 {
            assert!(e.sequence_number.is_some() && e.file_sequence_number.is_some(), "not inherited: {e:?}");
        }
    }

    for codec in [Codec::Null, Codec::Deflate, Codec::Snappy] {
        let again = reframe(file, codec, limits.max_inflated_bytes).expect("an accepted file re-frames");
        // A re-framed file has another length: check it against none.
        let r = read_manifest_with(&again, &list_entry(seq, 0), &limits);
        let r = r.unwrap_or_else(|e| panic!("as {codec:?}: {e}"));
        assert_eq!(r.metadata, m.metadata, "metadata differs as {codec:?}");
        assert!(same(&r.entries, &m.entries), "entries differ as {codec:?}");
    }

    let Some(spec) = spec_for(&m.entries) else { return };
    if !writable(&m) {
        return;
    }
    let schema_id = m.metadata.schema_id.unwrap_or(0);
    let written = write_manifest(&m.entries, &spec, &m.metadata.schema, schema_id).expect("what was read is writable");
    let back = read_manifest_with(&written, &list_entry(seq, 0), &ReadLimits::default());
    let back = back.unwrap_or_else(|e| panic!("what was written does not read: {e}"));
    assert!(same(&back.entries, &m.entries), "write → read does not round-trip");
    assert_eq!(back.metadata.schema, m.metadata.schema);
    assert_eq!(back.metadata.format_version, 2);
    assert_eq!(back.metadata.partition_spec_id, Some(3));
    let deletes = m.entries.iter().any(|e| e.data_file.content != DataContent::Data);
    let content = if deletes { ManifestContent::Deletes } else { ManifestContent::Data };
    assert_eq!(back.metadata.content, content);
    let again = write_manifest(&back.entries, &spec, &back.metadata.schema, schema_id);
    assert_eq!(again.as_ref(), Ok(&written), "writing is not stable");
});
