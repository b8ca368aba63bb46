//! `shared::iceberg::table_metadata::TableMetadata::from_json` on arbitrary bytes.
//!
//! Checks: never panics; anything accepted validates, and `to_json` re-parses to an equal value
//! whose own `to_json` is the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::iceberg::table_metadata::TableMetadata;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = TableMetadata::from_json(data) else { return };
    assert_eq!(m.validate(), Ok(()), "accepted metadata does not validate");
    let json = m.to_json();
    let again = TableMetadata::from_json(json.as_bytes());
    assert_eq!(again.as_ref(), Ok(&m), "to_json did not re-parse to an equal value: {json}");
    if let Ok(again) = again {
        assert_eq!(again.to_json(), json, "to_json is not stable");
    }
});
