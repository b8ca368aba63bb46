//! Writes the committed seed corpora under `fuzz/seeds/<target>/` (small, real inputs).
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (idempotent; overwrites the files it
//! makes). The Iceberg metadata seeds are copied from `tests/fixtures/iceberg`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use iceberg_writer::{summarize, write_manifest, write_manifest_list, write_parquet, ColumnData, WriteCodec, WriteColumn};
use shared::iceberg::manifest::{
    read_manifest_list, DataContent, DataFile, EntryStatus, FileFormat, ManifestEntry, PartitionField, PartitionSpec, PartitionType,
    PartitionValue, Transform,
};
use shared::parquet::parse_footer;
use shared::token::{sign, Claims};
use shared_fuzz::avro::{reframe, Codec};
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
    let mut named =
        GzBuilder::new().filename("body.ndjson").comment("seed").extra(b"xx\x02\x00ab".to_vec()).write(Vec::new(), Compression::best());
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

    avro_seeds(&out, &fixtures.join("pyiceberg/artifacts"));
    parquet_seeds(&out, &fixtures.join("pyiceberg/artifacts"));
    html_seeds(&out);
}

/// Files under `dir` (recursively) whose name passes `keep`, sorted.
fn files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p, keep));
        } else if keep(&p.file_name().unwrap().to_string_lossy()) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn table_of(p: &Path) -> String {
    // …/artifacts/<table>/{metadata,data}/…
    let parts: Vec<_> = p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let i = parts.iter().position(|c| c == "artifacts").unwrap();
    parts[i + 1].trim_start_matches("pyi_").to_string()
}

/// Entries like the stand-in writes: partitioned by `ns`, one with every metric.
fn our_entries() -> (PartitionSpec, Vec<ManifestEntry>) {
    let spec = PartitionSpec {
        spec_id: 1,
        fields: vec![
            PartitionField { source_id: 1, field_id: 1000, name: "ns".into(), transform: Transform::Identity, ty: PartitionType::String },
            PartitionField { source_id: 9, field_id: 1001, name: "day-x".into(), transform: Transform::Identity, ty: PartitionType::Date },
        ],
    };
    let mut full = DataFile::new("s3://b/t/data/ns=docs/a.parquet", FileFormat::Parquet, 3, 2048);
    full.partition = vec![("ns".into(), PartitionValue::String("docs".into())), ("day-x".into(), PartitionValue::Int(20_000))];
    full.column_sizes = vec![(1, 100), (2, 50)];
    full.value_counts = vec![(1, 3), (2, 3)];
    full.null_value_counts = vec![(1, 0), (2, 1)];
    full.lower_bounds = vec![(1, b"docs".to_vec()), (4, 7i64.to_le_bytes().to_vec())];
    full.upper_bounds = vec![(1, b"docs".to_vec()), (4, 9i64.to_le_bytes().to_vec())];
    full.split_offsets = vec![4];
    full.sort_order_id = Some(0);
    let mut other = DataFile::new("s3://b/t/data/ns=x/b.parquet", FileFormat::Parquet, 1, 900);
    other.partition = vec![("ns".into(), PartitionValue::Null), ("day-x".into(), PartitionValue::Int(-1))];
    let entries = vec![
        ManifestEntry { status: EntryStatus::Added, snapshot_id: 7, sequence_number: None, file_sequence_number: None, data_file: full },
        ManifestEntry {
            status: EntryStatus::Existing,
            snapshot_id: 5,
            sequence_number: Some(2),
            file_sequence_number: Some(2),
            data_file: other,
        },
    ];
    (spec, entries)
}

fn avro_seeds(out: &Out, artifacts: &Path) {
    // manifest_list: header byte 255 = 64 KiB inflate limit.
    for f in files(artifacts, &|n| n.starts_with("snap-") && n.ends_with(".avro")).iter().take(4) {
        let name = format!("pyiceberg-{}-{}", table_of(f), &f.file_name().unwrap().to_string_lossy()[5..12]);
        out.put("manifest_list", &name, &seed1(255, &fs::read(f).unwrap()));
    }
    let (spec, entries) = our_entries();
    let manifest = write_manifest(&entries, &spec, r#"{"type":"struct","schema-id":0,"fields":[]}"#, 0).unwrap();
    let listed = summarize("s3://b/t/metadata/m0.avro", manifest.len() as i64, &spec, 7, 3, &entries).unwrap();
    let mut deletes = listed.clone();
    deletes.content = shared::iceberg::manifest::ManifestContent::Deletes;
    deletes.partitions.clear();
    deletes.key_metadata = Some(vec![1, 2]);
    let list = write_manifest_list(&[listed.clone(), deletes], 7, Some(6), 3).unwrap();
    assert_eq!(read_manifest_list(&list).unwrap().len(), 2);
    out.put("manifest_list", "ours-snappy", &seed1(255, &list));
    out.put("manifest_list", "ours-null", &seed1(255, &reframe(&list, Codec::Null, 1 << 20).unwrap()));
    out.put("manifest_list", "ours-deflate", &seed1(255, &reframe(&list, Codec::Deflate, 1 << 20).unwrap()));
    out.put("manifest_list", "ours-over-limit", &seed1(0, &reframe(&list, Codec::Null, 1 << 20).unwrap()));

    // manifest: header 0x7f = 64 KiB, sequence number 7; | 0x80 = length checked.
    for f in files(artifacts, &|n| n.contains("-m") && n.ends_with(".avro") && !n.starts_with("snap-")).iter().take(5) {
        let name = format!("pyiceberg-{}-{}", table_of(f), &f.file_name().unwrap().to_string_lossy()[..8]);
        out.put("manifest", &name, &seed1(0xff, &fs::read(f).unwrap()));
    }
    out.put("manifest", "ours-snappy", &seed1(0xff, &manifest));
    out.put("manifest", "ours-v1-inherit", &seed1(0x3f, &manifest));
    out.put("manifest", "ours-null", &seed1(0x7f, &reframe(&manifest, Codec::Null, 1 << 20).unwrap()));
    out.put("manifest", "ours-deflate", &seed1(0x7f, &reframe(&manifest, Codec::Deflate, 1 << 20).unwrap()));
    let mut del = DataFile::new("s3://b/t/data/d.parquet", FileFormat::Parquet, 2, 300);
    del.content = DataContent::PositionDeletes;
    del.referenced_data_file = Some("s3://b/t/data/a.parquet".into());
    let del_entry =
        ManifestEntry { status: EntryStatus::Added, snapshot_id: 8, sequence_number: None, file_sequence_number: None, data_file: del };
    let del_manifest = write_manifest(&[del_entry], &PartitionSpec::unpartitioned(), "{}", 0).unwrap();
    out.put("manifest", "ours-deletes", &seed1(0x7f, &del_manifest));
}

fn seed1(head: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![head];
    v.extend_from_slice(body);
    v
}

/// Columns like the record's: strings, a timestamp, a long, a boolean, a list of strings.
fn our_columns() -> Vec<WriteColumn> {
    let s = |v: &[Option<&str>]| v.iter().map(|x| x.map(String::from)).collect::<Vec<_>>();
    vec![
        WriteColumn {
            name: "ns".into(),
            field_id: 1,
            required: true,
            data: ColumnData::Utf8(s(&[Some("docs"), Some("docs"), Some("blog")])),
            element_field_id: None,
        },
        WriteColumn {
            name: "id".into(),
            field_id: 2,
            required: false,
            data: ColumnData::Utf8(s(&[Some("getting-started"), None, Some("é€😀")])),
            element_field_id: None,
        },
        WriteColumn {
            name: "ts".into(),
            field_id: 3,
            required: false,
            data: ColumnData::TimestampMicros(vec![Some(1_767_225_600_000_000), None, Some(-1)]),
            element_field_id: None,
        },
        WriteColumn {
            name: "size".into(),
            field_id: 4,
            required: true,
            data: ColumnData::Int64(vec![Some(1), Some(i64::MAX), Some(i64::MIN)]),
            element_field_id: None,
        },
        WriteColumn {
            name: "deleted".into(),
            field_id: 5,
            required: false,
            data: ColumnData::Boolean(vec![Some(true), None, Some(false)]),
            element_field_id: None,
        },
        WriteColumn {
            name: "inputs".into(),
            field_id: 6,
            required: false,
            data: ColumnData::Utf8List(vec![Some(vec![Some("a.md".into()), None]), None, Some(vec![])]),
            element_field_id: Some(7),
        },
    ]
}

/// The pages target's 5-byte header for a chunk of the footer.
fn pages_header(c: &shared::parquet::ColumnChunkInfo) -> [u8; 5] {
    use shared::parquet::{Codec as C, PhysicalType as T};
    let shape = match (c.physical_type, c.max_rep_level) {
        (T::ByteArray, 1) => 4,
        (T::ByteArray, _) => 0,
        (T::Int64, _) => 1,
        (T::Int32, _) => 2,
        (T::Boolean, _) => 3,
        _ => 6,
    };
    let def = if c.max_rep_level == 1 {
        if c.list_def_level == 1 {
            4
        } else {
            0
        }
    } else {
        c.max_def_level as u8
    };
    let codec = match c.codec {
        C::Uncompressed => 0,
        C::Snappy => 1,
        C::Gzip => 2,
        C::Lz4 => 3,
        C::Zstd => 4,
        C::Lz4Raw => 5,
        _ => 0,
    };
    let n = (c.num_values as u16).to_le_bytes();
    [shape, def, codec, n[0], n[1]]
}

fn parquet_seeds(out: &Out, artifacts: &Path) {
    let mut parquet_files: Vec<(String, Vec<u8>)> = Vec::new();
    // One pyiceberg data file per table (pyarrow: dictionary pages, zstd) …
    let mut seen = Vec::new();
    for f in files(artifacts, &|n| n.ends_with(".parquet")) {
        let t = table_of(&f);
        if !seen.contains(&t) {
            seen.push(t.clone());
            parquet_files.push((format!("pyiceberg-{t}"), fs::read(&f).unwrap()));
        }
    }
    // … and ours, in every codec, with small row groups.
    for (codec, name) in
        [(WriteCodec::Uncompressed, "plain"), (WriteCodec::Snappy, "snappy"), (WriteCodec::Gzip, "gzip"), (WriteCodec::Zstd, "zstd")]
    {
        let w = write_parquet(&our_columns(), codec, 2).unwrap();
        parquet_files.push((format!("ours-{name}"), w.bytes));
    }
    for (name, bytes) in &parquet_files {
        out.put("parquet_footer", name, &seed1(255, bytes));
        out.put("parquet_footer", &format!("{name}-short-tail"), &seed1(16, bytes));
        let footer = parse_footer(bytes, bytes.len() as u64).unwrap();
        for (i, c) in footer.row_groups[0].columns.iter().enumerate() {
            let (start, len) = c.range();
            let mut s = pages_header(c).to_vec();
            s.extend_from_slice(&bytes[start as usize..(start + len) as usize]);
            out.put("parquet_pages", &format!("{name}-{i}"), &s);
        }
    }

    // parquet_roundtrip: builder bytes (codec: 0 plain, 3 snappy, 6 gzip, 7 zstd; rows per group;
    // rows; columns - 1; then values).
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for (i, (codec, group, rows, cols)) in
        [(0u8, 0u8, 3u8, 0u8), (3, 2, 10, 1), (6, 5, 40, 1), (7, 7, 48, 1), (7, 1, 0, 0)].into_iter().enumerate()
    {
        let mut s = vec![codec, group, rows, cols];
        for _ in 0..600 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            s.push(rng as u8);
        }
        out.put("parquet_roundtrip", &format!("random-{i}"), &s);
    }
}

fn html_seeds(out: &Out) {
    // Header byte: bits 0..2 ≠ 0 sanitize; bits 2..4 the place. From html.rs's tests and
    // tests/security.test.mjs, plus ordinary documents.
    let docs: &[&str] = &[
        "<!doctype html><html><head><title>Guide</title><link rel=stylesheet href=style.css></head><body><h1>Intro</h1><p>See <a href=\"setup.html#part\">setup</a> and <img src=\"../img/logo.png\" alt=\"logo\"></p><pre><code>let x = 1 &lt; 2;</code></pre></body></html>",
        "<p>a<script>alert(1)</script>b</p>",
        r#"<img src="x.png" onerror="alert(1)">"#,
        r#"<a href="jav&#x61;script:alert(1)">x</a><a href="&#106avascript:alert(1)">y</a><a href="java&Tab;scr&NewLine;ipt:x">z</a>"#,
        "<a href=\" \u{1}javascript:alert(1)\">x</a>",
        r#"<iframe src="data:text/html,<script>alert(1)</script>"></iframe><iframe srcdoc="<script>x</script>"></iframe>"#,
        r#"<form action="javascript:alert(1)"><button formaction="javascript:x()">b</button></form>"#,
        r#"<object data="javascript:alert(1)"></object><embed src="https://evil.example/x.swf"><base href="https://evil/">"#,
        r#"<meta http-equiv="refresh" content="0;url=javascript:x()"><META HTTP-EQUIV="Refresh" CONTENT="0">ok"#,
        r#"<div style="background:url(javascript:alert(1))">x</div><div style="width:expression(alert(1))">y</div>"#,
        r#"<svg><a xlink:href="javascript:alert(1)"><text>x</text></a><g onmouseover="x()"></g><script>x</script></svg>"#,
        "<scr<script>ipt>alert(1)</script><<img src=x onerror=alert(1)//><p <script><img/src=x/onerror=alert(1)>",
        "<textarea></textarea><img src=x onerror=alert(1)></textarea><!-- --!><img src=x onerror=alert(1)> --><template><script>1</script></template>",
        r#"<a href="../../../etc/passwd">up</a><a href="//cdn.x/a.js">cdn</a><a href="?q=1">q</a><a href="mailto:a@b.c">m</a><a href="tel:1">t</a><a href="./a/./b/../c.md">rel</a>"#,
    ];
    for (i, d) in docs.iter().enumerate() {
        out.put("html_rewrite", &format!("doc-{i}-sanitized"), &seed1(1 | ((i as u8 % 4) << 2), d.as_bytes()));
    }
    // The rest of tests/security.test.mjs's vectors, parser differentials (mXSS) included.
    let vectors: &[&str] = &[
        r#"<SCRIPT SRC="https://evil.example/x.js"></SCRIPT><script>alert(1)"#,
        "<body onload=alert(1)><svg onload=alert(1)></svg><details open ontoggle=alert(1)><summary>s</summary></details>",
        r#"<svg><script href="data:,alert(1)"/></svg><math href="javascript:alert(1)"><mi>x</mi></math>"#,
        r#"<svg><a><animate attributeName="href" values="javascript:alert(1)"/><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a></svg>"#,
        r#"<a href="javascript:alert(1)" href="https://ok.example/">x</a><iframe src="javascript:alert(1)"></iframe>"#,
        r#"<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>"#,
        "<svg><style><img src=x onerror=alert(1)></style></svg><math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<![CDATA[><img src=x onerror=alert(1)>]]><xmp><script>x</script></xmp><plaintext><script>",
    ];
    for (i, d) in vectors.iter().enumerate() {
        out.put("html_rewrite", &format!("vector-{i}"), &seed1(2 | ((i as u8 % 4) << 2), d.as_bytes()));
    }
    out.put("html_rewrite", "doc-0-trusted", &seed1(0, docs[0].as_bytes()));
    out.put("html_rewrite", "doc-1-trusted", &seed1(0x04, docs[1].as_bytes()));
}
