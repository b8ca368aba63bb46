//! `shared::content::parse` on arbitrary text (the path after `/$.content/`).
//!
//! Checks: any `Ok` has `ns`, `type` and `id` that pass `check_segment` with their limits, an
//! extension from `EXTENSIONS` with its representation, and survives a round trip: the path
//! rebuilt from the parsed parts (`{ns}/{type}/{id}[@{version}].{ext}`) parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::content::{parse, Version, EXTENSIONS};
use shared::record::{check_segment, MAX_ID_BYTES, MAX_NS_BYTES, MAX_TYPE_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(rest) = std::str::from_utf8(data) else { return };
    let Ok(r) = parse(rest) else { return };
    assert_eq!(check_segment(&r.ns, MAX_NS_BYTES), Ok(()), "ns {:?}", r.ns);
    assert_eq!(check_segment(&r.ty, MAX_TYPE_BYTES), Ok(()), "type {:?}", r.ty);
    assert_eq!(check_segment(&r.id, MAX_ID_BYTES), Ok(()), "id {:?}", r.id);
    assert!(
        EXTENSIONS.iter().any(|(ext, rep)| *ext == r.ext && *rep == r.representation),
        "extension {:?} / {:?} is not a known pair",
        r.ext,
        r.representation
    );
    let version = match r.version {
        Version::Latest => String::new(),
        Version::Snapshot(s) => {
            assert!(s >= 0, "negative snapshot id {s}");
            format!("@{s}")
        }
        Version::AsOf(t) => format!("@{}", shared::time::format_micros(t)),
    };
    let rebuilt = format!("{}/{}/{}{}.{}", r.ns, r.ty, r.id, version, r.ext);
    assert_eq!(parse(&rebuilt).as_ref(), Ok(&r), "round trip through {rebuilt:?}");
});
