//! Writes the committed seed corpora under `fuzz/seeds/<target>/` (small, real inputs).
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (idempotent; overwrites the files it
//! makes). The Iceberg metadata seeds are copied from `tests/fixtures/iceberg`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use shared::token::{sign, Claims};
use shared_fuzz::seed;

/// Must match `SECRET` and `NOW` in `fuzz_targets/token_verify.rs`.
const SECRET: &[u8] = b"fuzz-secret-0123456789";
const NOW: u64 = 1_800_000_000;

/// Records like `rec(id, extra)` in `tests/support/ingest.mjs`.
fn rec(id: &str, extra: &str) -> String {
    format!(r##"{{"ns":"docs","type":"guide","id":"{id}","markdown":"# {id}"{extra}}}"##)
}

fn ndjson(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

struct Out {
    dir: PathBuf,
}

impl Out {
    fn target(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        fs::create_dir_all(&d).unwrap();
        d
    }
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        fs::write(self.target(target).join(name), bytes).unwrap();
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Out { dir: root.join("seeds") };

    let basic = ndjson(&[rec("getting-started", ""), rec("api", r#","visibility":"public""#)]);
    let mixed = format!(
        "{}\n\n{{oops\r\n{}\n{}\n   \n{}",
        rec("a", ""),
        r##"{"ns":"blog","type":"guide","id":"b","markdown":"# b"}"##,
        rec("", ""),
        rec("c", r#","html":"<p>é€😀</p>","ts":"2026-01-01T00:00:00Z""#),
    );
    let bulk = ndjson(&[
        rec("t1", r#","ts":1767225600000000"#),
        rec("t2", r#","mdx":"x","css":"a{}","frontmatter":"{\"title\":\"T\"}""#),
        rec("big", &format!(r#","markdown":"{}""#, "y".repeat(300))),
    ]);
    let invalid_utf8 = b"{\"ns\":\"docs\"}\n\xff\xfe\n\xe2\x82\nok\n".to_vec();
    let array = format!("[{}, {} ,\n{}]", rec("a", ""), rec("b", r#","mdast":"{\"type\":\"root\",\"children\":[]}""#), rec("c", ""));
    let tricky_array = br#" [ {"a":"x,]}\"["}, [1,[2,3]], "s\\", 1e5, null , true ]  "#.to_vec();
    let broken_arrays: [&[u8]; 5] = [b"[1,,2,]", b"[1] x", b"{\"a\":1}", b"[\"unterminated", b"[}]"];

    // ndjson_chunks: limit byte = max_line_bytes.
    out.put("ndjson_chunks", "basic", &seed(200, [7, 13, 1], basic.as_bytes()));
    out.put("ndjson_chunks", "mixed", &seed(120, [3, 64, 5], mixed.as_bytes()));
    out.put("ndjson_chunks", "too-long", &seed(40, [10, 20, 30], bulk.as_bytes()));
    out.put("ndjson_chunks", "invalid-utf8", &seed(16, [1, 2, 3], &invalid_utf8));

    // json_array_chunks: limit byte = max_element_bytes, 255 = no limit.
    out.put("json_array_chunks", "records", &seed(255, [7, 13, 1], array.as_bytes()));
    out.put("json_array_chunks", "records-limited", &seed(60, [5, 9, 63], array.as_bytes()));
    out.put("json_array_chunks", "tricky", &seed(255, [2, 3, 4], &tricky_array));
    for (i, b) in broken_arrays.iter().enumerate() {
        out.put("json_array_chunks", &format!("broken-{i}"), &seed(255, [1, 1, 2], b));
    }

    // gzip_stream: limit byte × 16 = max_output_bytes.
    let gz = gzip(basic.as_bytes());
    out.put("gzip_stream", "basic", &seed(255, [7, 13, 1], &gz));
    out.put("gzip_stream", "basic-over-limit", &seed(4, [7, 13, 1], &gz));
    let mut two = gzip(b"first member\n");
    two.extend(gzip(mixed.as_bytes()));
    out.put("gzip_stream", "two-members", &seed(255, [5, 30, 63], &two));
    let mut named = GzBuilder::new()
        .filename("body.ndjson")
        .comment("seed")
        .extra(b"xx\x02\x00ab".to_vec())
        .write(Vec::new(), Compression::best());
    named.write_all(bulk.as_bytes()).unwrap();
    out.put("gzip_stream", "header-fields", &seed(255, [1, 2, 3], &named.finish().unwrap()));
    let stored = {
        let mut e = GzEncoder::new(Vec::new(), Compression::none());
        e.write_all(&invalid_utf8).unwrap();
        e.finish().unwrap()
    };
    out.put("gzip_stream", "stored", &seed(255, [9, 9, 9], &stored));
    out.put("gzip_stream", "empty-member", &seed(0, [1, 1, 1], &gzip(b"")));

    // token_verify: mode byte 0 = raw token, 1 = claims to sign and mutate.
    let claims = Claims {
        sub: "alice".into(),
        org: "acme".into(),
        scopes: vec!["write:*".into(), "read:*".into()],
        exp: NOW + 86_400,
        nbf: Some(NOW - 10),
        iat: Some(NOW - 10),
    };
    let t = sign(&claims, SECRET);
    out.put("token_verify", "signed", format!("\0{t}").as_bytes());
    let minimal = Claims { scopes: vec!["write:docs".into()], nbf: None, iat: None, ..claims.clone() };
    out.put("token_verify", "signed-minimal", format!("\0{}", sign(&minimal, SECRET)).as_bytes());
    let expired = Claims { exp: NOW - 1, ..claims.clone() };
    out.put("token_verify", "expired", format!("\0{}", sign(&expired, SECRET)).as_bytes());
    let future = Claims { nbf: Some(NOW + 1), ..claims.clone() };
    out.put("token_verify", "not-yet-valid", format!("\0{}", sign(&future, SECRET)).as_bytes());
    out.put("token_verify", "wrong-secret", format!("\0{}", sign(&claims, b"other")).as_bytes());
    let payload = t.split('.').nth(1).unwrap();
    // alg none (`{"alg":"none","typ":"JWT"}`), same payload, empty signature.
    out.put("token_verify", "alg-none", format!("\0eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.").as_bytes());
    out.put("token_verify", "garbage", b"\0a.b.c.d");
    // mode 1: 2 scopes, strings, times around NOW, then mutations.
    out.put(
        "token_verify",
        "sign-and-mutate",
        b"\x01\x02\x07write:*\x06read:*\x05alice\x04acme\x00\x01\x00\x01\x00\x00\x00\x01\x00\x00\x03\x00\x00\x10A\x01\x00\x20.\x02\x00\x30x",
    );

    // content_route: the path after `/$.content/`.
    for (name, path) in [
        ("md", "docs/guide/getting-started.md"),
        ("dts", "docs/api/index.d.ts"),
        ("mdast", "docs/guide/intro.v1.mdast.json"),
        ("snapshot", "docs/guide/intro@8744736658442914487.html"),
        ("as-of", "docs/guide/intro@2026-01-01T00:00:00Z.json"),
        ("as-of-offset", "docs/guide/intro@2026-01-01T01:30:00.123456789+01:30.mjs"),
        ("at-in-id", "team%40acme/guide/a@b.css"),
        ("percent", "docs/gu%69de/%E2%82%AC.md"),
        ("bad-slash", "docs/a%2Fb/x.md"),
    ] {
        out.put("content_route", name, path.as_bytes());
    }

    // record_intake: limit byte = max_record_bytes (bits 0..5, × 8) and max_records (bits 5..8);
    // the first size byte also picks mode, scopes and chunk_bytes.
    let lim = |bytes8: u8, records: u8| (records << 5) | (bytes8 & 0x1f);
    out.put("record_intake", "ndjson", &seed(lim(31, 7), [0x40 | 7, 13, 1], basic.as_bytes()));
    out.put("record_intake", "mixed", &seed(lim(31, 7), [0x80 | 3, 64, 5], mixed.as_bytes()));
    out.put("record_intake", "bulk", &seed(lim(31, 7), [0x41, 11, 17], bulk.as_bytes()));
    out.put("record_intake", "array", &seed(lim(20, 7), [0x22, 9, 63], array.as_bytes()));
    out.put("record_intake", "too-many", &seed(lim(31, 1), [0x10, 5, 5], basic.as_bytes()));

    // table_metadata: the pyiceberg fixtures and the invalid ones.
    let fixtures = root.join("../tests/fixtures/iceberg");
    let mut n = 0;
    for table in fs::read_dir(fixtures.join("pyiceberg/artifacts")).unwrap() {
        let table = table.unwrap().path();
        let tname = table.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = fs::read_dir(table.join("metadata"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".metadata.json"))
            .collect();
        files.sort();
        for (i, f) in files.iter().enumerate() {
            out.put("table_metadata", &format!("{tname}-{i}"), &fs::read(f).unwrap());
            n += 1;
        }
    }
    for f in fs::read_dir(fixtures.join("invalid")).unwrap() {
        let f = f.unwrap().path();
        let name = format!("invalid-{}", f.file_stem().unwrap().to_string_lossy());
        out.put("table_metadata", &name, &fs::read(&f).unwrap());
        n += 1;
    }
    eprintln!("wrote seeds; {n} metadata documents");
}
