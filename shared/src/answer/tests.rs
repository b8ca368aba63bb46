use super::*;
use crate::locate::StoreError;
use crate::record::Visibility;
use crate::token::Claims;
use std::path::PathBuf;

fn found(ts: i64, visibility: Option<&str>, org: &str, user: &str) -> Found {
    Found {
        order: crate::content::RowOrder { ts, sequence_number: 1, position: 0 },
        file_key: "f.parquet".into(),
        file_size: 1,
        row_group: 0,
        row: 0,
        ts,
        deleted: false,
        visibility: visibility.map(String::from),
        owner_org: Some(org.into()),
        owner_user: Some(user.into()),
        content_hash: Some("h".into()),
        size_bytes: Some(1),
        expires_at: None,
        tags: None,
        tags_too_long: false,
        lists_supersedes: None,
    }
}

fn claims(org: &str, sub: &str, scopes: &[&str]) -> Claims {
    Claims { sub: sub.into(), org: org.into(), scopes: scopes.iter().map(|s| String::from(*s)).collect(), exp: 0, nbf: None, iat: None }
}

fn policy() -> Policy {
    Policy { unowned_visibility: Visibility::Public, trusted_orgs: alloc::vec!["trusted".into()] }
}

fn path(p: &str) -> ContentRef {
    crate::content::parse(p).unwrap()
}

#[test]
fn latest_answers_carry_the_rows_scope_etag_and_dedupe_key() {
    let alice = claims("acme", "alice", &["read:*"]);
    let public = found(7, Some("public"), "acme", "alice");
    let d = decide(&path("docs/guide/x.md"), Reader::Anonymous, &public, None, &policy()).unwrap();
    assert_eq!((d.scope.as_str(), d.private, d.show_owner, d.sanitize), ("public", false, false, true));
    assert_eq!(d.etag, "\"h-7-public.md\"");
    assert_eq!(d.dedupe, crate::record::dedupe_key_of("h", "public", false, "acme", "alice"));
    let org = found(7, Some("org"), "acme", "alice");
    assert_eq!(decide(&path("docs/guide/x.md"), Reader::Anonymous, &org, None, &policy()), None, "org content: anonymous gets the 404");
    let d = decide(&path("docs/guide/x.md"), Reader::Token(&alice), &org, None, &policy()).unwrap();
    assert_eq!((d.scope, d.private), (crate::cache_key::scope(Visibility::Org, "acme", ""), true));
    let user = found(7, Some("user"), "acme", "alice");
    let d = decide(&path("docs/guide/x.md"), Reader::Token(&alice), &user, None, &policy()).unwrap();
    assert_eq!(d.scope, crate::cache_key::scope(Visibility::User, "acme", "alice"));
    let mut gone = public.clone();
    gone.deleted = true;
    assert_eq!(
        decide(&path("docs/guide/x.md"), Reader::Token(&alice), &gone, None, &policy()),
        None,
        "a tombstone is missing, owners included"
    );
}

#[test]
fn unknown_and_absent_visibility() {
    let alice = claims("acme", "alice", &["read:*"]);
    let bob = claims("acme", "bob", &["read:*"]);
    let odd = found(1, Some("friends"), "acme", "alice");
    assert!(decide(&path("docs/guide/x.md"), Reader::Token(&bob), &odd, None, &policy()).is_none(), "unknown counts as user");
    assert_eq!(decide(&path("docs/guide/x.md"), Reader::Token(&alice), &odd, None, &policy()).unwrap().visibility, Visibility::User);
    let unowned = found(1, None, "", "");
    assert!(decide(&path("docs/guide/x.md"), Reader::Anonymous, &unowned, None, &policy()).is_some());
    let locked = Policy { unowned_visibility: Visibility::Org, ..policy() };
    assert!(decide(&path("docs/guide/x.md"), Reader::Token(&alice), &unowned, None, &locked).is_none(), "locked with no owner: nobody");
}

#[test]
fn a_version_needs_the_current_row_readable_and_takes_the_narrower_scope() {
    let alice = claims("acme", "alice", &["read:*"]);
    let globex = claims("globex", "gary", &["read:*"]);
    let c = path("docs/guide/x@5.md");
    let old_public = found(5, Some("public"), "acme", "alice");
    let now_org = found(9, Some("org"), "acme", "alice");
    // Regression (security issue 5): history of an artifact now hidden from the caller.
    assert_eq!(decide(&c, Reader::Token(&globex), &old_public, Some(&now_org), &policy()), None);
    assert_eq!(decide(&c, Reader::Anonymous, &old_public, Some(&now_org), &policy()), None);
    let d = decide(&c, Reader::Token(&alice), &old_public, Some(&now_org), &policy()).unwrap();
    assert_eq!((d.scope, d.private), (crate::cache_key::scope(Visibility::Org, "acme", ""), true), "cached only for the org now");
    assert_eq!(d.etag, "\"h-5-public.md\"", "the tag is the historic row's");
    let mut now_deleted = now_org.clone();
    now_deleted.deleted = true;
    assert_eq!(decide(&c, Reader::Token(&alice), &old_public, Some(&now_deleted), &policy()), None, "deleted now: every version is gone");
    assert_eq!(decide(&c, Reader::Token(&alice), &old_public, None, &policy()), None, "no current row");
    // The current row wider than the historic one keeps the historic scope.
    let d = decide(&c, Reader::Token(&alice), &now_org, Some(&old_public), &policy()).unwrap();
    assert_eq!(d.scope, crate::cache_key::scope(Visibility::Org, "acme", ""));
    // Latest requests ignore `current`.
    assert!(decide(&path("docs/guide/x.md"), Reader::Anonymous, &old_public, Some(&now_deleted), &policy()).is_some());
}

#[test]
fn the_record_shows_owners_only_inside_their_org_in_an_org_scoped_variant() {
    let alice = claims("acme", "alice", &["read:*"]);
    let globex = claims("globex", "gary", &["read:*"]);
    let public = found(7, Some("public"), "acme", "alice");
    let c = path("docs/guide/x.json");
    let inside = decide(&c, Reader::Token(&alice), &public, None, &policy()).unwrap();
    assert_eq!((inside.show_owner, inside.private), (true, true));
    assert_eq!(inside.scope, crate::cache_key::scope(Visibility::Org, "acme", ""));
    assert_eq!(inside.etag, "\"h-7-public-o.json\"");
    let outside = decide(&c, Reader::Token(&globex), &public, None, &policy()).unwrap();
    assert_eq!(
        (outside.show_owner, outside.private, outside.scope.as_str(), outside.etag.as_str()),
        (false, false, "public", "\"h-7-public.json\"")
    );
    // Other representations keep the public scope for the org too.
    let md = decide(&path("docs/guide/x.md"), Reader::Token(&alice), &public, None, &policy()).unwrap();
    assert_eq!((md.scope.as_str(), md.private), ("public", false));
    assert_eq!(record_columns(false).iter().filter(|n| n.starts_with("owner_")).count(), 0);
    assert_eq!(record_columns(true).iter().filter(|n| n.starts_with("owner_")).count(), 2);
}

#[test]
fn html_is_sanitised_unless_public_and_trusted() {
    let alice = claims("trusted", "alice", &["read:*"]);
    let c = path("docs/guide/x.html");
    assert!(!decide(&c, Reader::Anonymous, &found(1, Some("public"), "trusted", "a"), None, &policy()).unwrap().sanitize);
    assert!(decide(&c, Reader::Anonymous, &found(1, Some("unlisted"), "trusted", "a"), None, &policy()).unwrap().sanitize);
    assert!(decide(&c, Reader::Token(&alice), &found(1, Some("org"), "trusted", "a"), None, &policy()).unwrap().sanitize);
    assert!(decide(&c, Reader::Anonymous, &found(1, Some("public"), "acme", "a"), None, &policy()).unwrap().sanitize);
}

#[test]
fn listings_hide_unlisted_deleted_and_unreadable_rows() {
    let alice = claims("acme", "alice", &["read:*"]);
    assert_eq!(listed(&found(1, Some("public"), "acme", "a"), "docs", Reader::Anonymous, &policy()), Some(Visibility::Public));
    assert_eq!(listed(&found(1, Some("unlisted"), "acme", "a"), "docs", Reader::Token(&alice), &policy()), None);
    assert_eq!(listed(&found(1, Some("org"), "acme", "a"), "docs", Reader::Anonymous, &policy()), None);
    assert_eq!(listed(&found(1, Some("org"), "acme", "a"), "docs", Reader::Token(&alice), &policy()), Some(Visibility::Org));
    let mut gone = found(1, Some("public"), "acme", "a");
    gone.deleted = true;
    assert_eq!(listed(&gone, "docs", Reader::Anonymous, &policy()), None);
}

#[test]
fn record_layout() {
    let names = ["id", "ts", "deleted", "tags", "hast", "size_bytes", "supersedes"];
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).filter(|n| names.contains(n)).collect();
    let cell = |n: &str| match n {
        "id" => Cell::Text("x".into()),
        "ts" => Cell::Long(1_767_225_600_000_000),
        "deleted" => Cell::Bool(false),
        "tags" => Cell::Text("{\"a\":1}".into()),
        "hast" => Cell::Text("not json".into()),
        "size_bytes" => Cell::Long(3),
        _ => Cell::List(alloc::vec![Some("a".into()), None]),
    };
    let cells = names.iter().map(|n| cell(n)).collect();
    let v: Value = serde_json::from_str(&record_json(&names, cells)).unwrap();
    assert_eq!(v["id"], "x");
    assert_eq!(v["ts"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(v["deleted"], false);
    assert_eq!(v["tags"], serde_json::json!({"a": 1}), "JSON columns are values");
    assert_eq!(v["hast"], "not json", "kept as text when it does not parse");
    assert_eq!(v["size_bytes"], 3);
    assert_eq!(v["supersedes"], serde_json::json!(["a", null]));
}

#[test]
fn modes_and_upstream_problems() {
    assert_eq!(mode_of("s3://b/artifacts/build/").as_deref(), Some("build"));
    assert_eq!(mode_of("s3://b/artifacts/other"), None);
    let p = Problem::from(LocateError::Store { key: "k".into(), error: StoreError::NotFound });
    assert_eq!((p.status, p.slug, p.extensions["key"].as_str()), (502, "bad-upstream-object", Some("k")));
    assert_eq!(Problem::from(LocateError::OutsideWarehouse("l".into())).extensions["location"], "l");
    assert_eq!(Problem::from(LocateError::Unsupported("dv")).extensions["feature"], "dv");
}

// End to end over the pyiceberg fixtures: two tables that both hold `team@acme.dev/page/home`.

use crate::locate::tests::FsStore;

/// The configured tables over a directory of fixtures (also `answer::pending`'s tests').
pub(crate) struct Fixtures {
    pub(crate) store: FsStore,
    pub(crate) keys: Vec<String>,
    pub(crate) prefix: String,
}

/// The fixtures have no serving table, so no edges.
impl lineage::EdgeTables for Fixtures {
    async fn edge_roots(&self) -> Result<Vec<Rc<Root>>, LocateError> {
        Ok(Vec::new())
    }
}

impl Catalog for Fixtures {
    async fn metadata_keys(&self) -> Result<Vec<String>, LocateError> {
        Ok(self.keys.clone())
    }
    async fn metadata(&self, key: &str) -> Result<Rc<TableMetadata>, LocateError> {
        let bytes = self.store.get(key, None).await.map_err(|error| LocateError::Store { key: key.into(), error })?;
        TableMetadata::from_json(&bytes).map(Rc::new).map_err(|e| LocateError::Corrupt { key: key.into(), reason: e.description().into() })
    }
    fn prefix_for(&self, _: &str) -> &str {
        &self.prefix
    }
}

/// An HTML "rewriter" that marks what it was asked (`<!--sanitize-->`), answering CSP `csp`.
pub(crate) struct Marker;

impl Html for Marker {
    fn rewrite(&self, html: &str, page: &Page<'_>) -> Result<(String, &'static str), String> {
        Ok((alloc::format!("{html}<!--{}-->", page.sanitize), "csp"))
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(v) => v,
        core::task::Poll::Pending => panic!("the fs store never waits"),
    }
}

fn fixtures(tables: &[&str]) -> Fixtures {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg");
    let expected: Value = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let prefix = expected["location_prefix"].as_str().unwrap().to_string();
    let keys =
        tables.iter().map(|t| locate::key_for(expected["tables"][*t]["metadata_location"].as_str().unwrap(), &prefix).unwrap()).collect();
    Fixtures { store: FsStore(root), keys, prefix }
}

fn read(f: &Fixtures, p: &str, reader: Reader<'_>) -> Result<Answer, Problem> {
    let reads = Reads { store: &f.store, catalog: f, policy: &policy(), html: &Marker };
    block_on(reads.answer(&path(p), reader, &mut Cost::default(), &mut Trace::default()))
}

/// #18: a read that looks for links costs no more when its row can list no predecessor (a table
/// without a `supersedes` column; a row group whose statistics say none is listed gives the same
/// `lists_supersedes`, `locate::supersedes_tests`) and there are no edge tables: the same reads,
/// no `Link`.
#[test]
fn links_cost_nothing_for_a_row_that_can_list_none() {
    let f = fixtures(&["artifacts.pyi_partitioned", "artifacts.pyi_unpartitioned"]);
    let reads = Reads { store: &f.store, catalog: &f, policy: &policy(), html: &Marker };
    let run = |wanted: link::Wanted| {
        let mut cost = Cost::default();
        let mut trace = Trace { links: wanted, ..Trace::default() };
        let a = block_on(reads.answer(&path("team@acme.dev/page/home.md"), Reader::Anonymous, &mut cost, &mut trace));
        let Ok(Answer::Body(b)) = a else { panic!("home") };
        (b.links, cost.reads, cost.bytes)
    };
    let (links, reads_with, bytes_with) = run(link::Wanted::ALL);
    let (_, reads_without, bytes_without) = run(link::Wanted::default());
    assert!(links.is_empty());
    assert_eq!((reads_with, bytes_with), (reads_without, bytes_without));
}

#[test]
fn the_newest_row_across_tables_is_answered() {
    let f = fixtures(&["artifacts.pyi_partitioned", "artifacts.pyi_unpartitioned"]);
    // The unpartitioned table's public row (greater ts) beats the partitioned table's org row.
    let Ok(Answer::Body(b)) = read(&f, "team@acme.dev/page/home.md", Reader::Anonymous) else { panic!("home") };
    assert_eq!((b.scope.as_str(), b.private, b.ts, b.mode), ("public", false, 1_735_689_604_000_000, None));
    assert!(b.body.starts_with("Grüße"), "{}", b.body);
    let alice = claims("acme", "alice", &["read:*"]);
    let Ok(Answer::Body(b)) = read(&f, "docs/guide/intro.json", Reader::Token(&alice)) else { panic!("intro") };
    let v: Value = serde_json::from_str(&b.body).unwrap();
    assert_eq!((v["id"].as_str(), v["owner_org"].as_str(), v["visibility"].as_str()), (Some("intro"), Some("acme"), Some("org")));
    assert!(b.etag.ends_with("-org-o.json\""), "{}", b.etag);
    // Org content to nobody, a tombstone to its owner: the one 404.
    let Ok(Answer::Problem(p)) = read(&f, "docs/guide/intro.md", Reader::Anonymous) else { panic!("anonymous") };
    assert_eq!((p.status, p.slug), (404, "not-found"));
    let Ok(Answer::Problem(p)) = read(&f, "docs/guide/0123456789abcdef-alpha.md", Reader::Token(&alice)) else { panic!("alpha") };
    assert_eq!((p.status, p.slug), (404, "not-found"));
    let Ok(Answer::Problem(p)) = read(&f, "docs/guide/0123456789abcdef-gamma.html", Reader::Token(&alice)) else { panic!("gamma") };
    assert_eq!((p.status, p.slug, p.extensions["field"].as_str()), (404, "field-missing", Some("html")));
}

#[test]
fn a_missing_table_is_a_502_naming_its_key() {
    let mut f = fixtures(&["artifacts.pyi_unpartitioned"]);
    f.keys.push("artifacts/none/metadata/v1.metadata.json".into());
    let p = read(&f, "docs/guide/beta.md", Reader::Anonymous).unwrap_err();
    assert_eq!((p.status, p.extensions["key"].as_str()), (502, Some("artifacts/none/metadata/v1.metadata.json")));
}

#[test]
fn read_scopes_decide_org_and_user_reads_and_owner_names() {
    let c = path("docs/guide/x.json");
    let org = found(7, Some("org"), "acme", "alice");
    let public = found(7, Some("public"), "acme", "alice");
    for scopes in [&["read:docs"][..], &["read:*"], &["write:docs"]] {
        let t = claims("acme", "alice", scopes);
        assert!(decide(&c, Reader::Token(&t), &org, None, &policy()).is_some(), "{scopes:?}");
        assert!(decide(&c, Reader::Token(&t), &public, None, &policy()).unwrap().show_owner, "{scopes:?}");
    }
    let other = claims("acme", "alice", &["read:other-ns"]);
    assert_eq!(decide(&c, Reader::Token(&other), &org, None, &policy()), None, "org content of another namespace's reader: 404");
    assert_eq!(decide(&c, Reader::Token(&other), &found(7, Some("user"), "acme", "alice"), None, &policy()), None, "the owner too");
    let d = decide(&c, Reader::Token(&other), &public, None, &policy()).unwrap();
    assert_eq!((d.show_owner, d.scope.as_str(), d.private), (false, "public", false), "public needs nothing, and shows no owners");
    assert_eq!(listed(&org, "docs", Reader::Token(&other), &policy()), None, "listings apply it per item");
    assert_eq!(listed(&org, "other-ns", Reader::Token(&other), &policy()), Some(Visibility::Org));
}

// The serving table: every answer is the same with it on and off, over the same source tables.

mod serving {
    use super::*;
    use crate::iceberg::manifest::DataContent;
    use crate::iceberg::table_metadata::{record_schema, Operation};
    use crate::locate::test_table::{Builder, MemStore, PREFIX};
    use crate::serving::lookup::tests::{root_of, serving_file, srow, SRow, Shared};
    use crate::serving::order::Order;
    use crate::writer::parquet::{ColumnData, WriteColumn};

    /// One source row: id, ts, markdown, tombstone, visibility.
    type R = (&'static str, i64, &'static str, bool, &'static str);

    fn column(name: &str, data: ColumnData) -> WriteColumn {
        WriteColumn {
            name: name.into(),
            field_id: record_schema().field_id_by_name(name).unwrap(),
            required: false,
            data,
            element_field_id: None,
        }
    }

    /// Commits `rows` to `t` as one `append`; returns the key of the metadata written for it.
    fn append(t: &mut Builder, rows: &[R]) -> String {
        let text = |f: &dyn Fn(&R) -> Option<String>| ColumnData::Utf8(rows.iter().map(f).collect());
        let columns = vec![
            column("ns", text(&|_| Some("docs".into()))),
            column("type", text(&|_| Some("guide".into()))),
            column("id", text(&|r| Some(r.0.into()))),
            column("ts", ColumnData::TimestampNtzMicros(rows.iter().map(|r| Some(r.1)).collect())),
            column("deleted", ColumnData::Boolean(rows.iter().map(|r| Some(r.3)).collect())),
            column("visibility", text(&|r| Some(r.4.into()))),
            column("owner_org", text(&|_| Some("acme".into()))),
            column("owner_user", text(&|_| Some("alice".into()))),
            column("content_hash", text(&|r| Some(format!("h-{}", r.2)))),
            column("size_bytes", ColumnData::Int64(rows.iter().map(|r| Some(r.2.len() as i64)).collect())),
            column("markdown", text(&|r| (!r.3).then(|| r.2.to_string()))),
        ];
        let df = t.file("data.parquet", &columns, 100, DataContent::Data);
        t.commit(vec![df]);
        t.meta.snapshots.last_mut().unwrap().summary.operation = Operation::Append;
        let key = format!("{}/metadata/v{}.metadata.json", t.root, t.meta.last_sequence_number);
        t.store.objects.borrow_mut().insert(key.clone(), t.meta.to_json().into_bytes());
        key
    }

    /// Source tables, the metadata key of each of their commits, and a store holding it all.
    struct World {
        tables: Vec<Builder>,
        commits: Vec<Vec<String>>,
        store: MemStore,
        serving: Option<String>,
    }

    /// No edge files in these serving tables.
    impl lineage::EdgeTables for World {
        async fn edge_roots(&self) -> Result<Vec<Rc<Root>>, LocateError> {
            Ok(Vec::new())
        }
    }

    impl Catalog for World {
        async fn metadata_keys(&self) -> Result<Vec<String>, LocateError> {
            Ok(self.commits.iter().map(|c| c.last().cloned().unwrap()).collect())
        }
        async fn metadata(&self, key: &str) -> Result<Rc<TableMetadata>, LocateError> {
            let bytes = self.store.get(key, None).await.map_err(|error| LocateError::Store { key: key.into(), error })?;
            TableMetadata::from_json(&bytes)
                .map(Rc::new)
                .map_err(|e| LocateError::Corrupt { key: key.into(), reason: e.description().into() })
        }
        fn prefix_for(&self, _: &str) -> &str {
            PREFIX
        }
        async fn serving_root(&self, _: &[u8]) -> Result<Option<(Rc<Root>, KeyRange)>, LocateError> {
            let Some(key) = &self.serving else { return Ok(None) };
            let bytes = self.store.get(key, None).await.map_err(|error| LocateError::Store { key: key.clone(), error })?;
            Root::parse(&bytes)
                .map(|r| Some((Rc::new(r), KeyRange::ALL)))
                .map_err(|reason| LocateError::Corrupt { key: key.clone(), reason })
        }
        fn source_ids(&self) -> Vec<String> {
            self.tables.iter().map(|t| t.root.clone()).collect()
        }
    }

    const IDS: &[&str] = &["x", "tie", "tie2", "gone", "back", "only-tail", "only-serving", "org", "missing"];
    const ROOT_KEY: &str = "serving/metadata/v1.serving.json";

    /// Two tables: what the compactor absorbed (commits up to `absorbed[i]` of table i) and what
    /// came after (the tail).
    fn world(history: &[Vec<Vec<R>>]) -> World {
        let mut tables = Vec::new();
        let mut commits = Vec::new();
        for (i, table_commits) in history.iter().enumerate() {
            let mut t = Builder::at(PREFIX, &format!("t/{}", ["a", "b", "c"][i]));
            commits.push(table_commits.iter().map(|rows| append(&mut t, rows)).collect());
            tables.push(t);
        }
        let store = MemStore::default();
        for t in &tables {
            store.objects.borrow_mut().extend(t.store.objects.borrow().clone());
        }
        World { tables, commits, store, serving: None }
    }

    /// What the compactor would write having absorbed the first `absorbed[i]` commits of table i:
    /// the newest row per key by the winner rule, one L1 file, and the root naming it.
    fn compact(w: &mut World, absorbed: &[usize]) -> Root {
        let mut best: BTreeMap<&str, SRow> = BTreeMap::new();
        let mut root = root_of(Vec::new(), &w.tables.iter().map(|t| t.root.as_str()).collect::<Vec<_>>());
        for (i, (t, &n)) in w.tables.iter().zip(absorbed).enumerate() {
            let source = &mut root.sources[i];
            if n == 0 {
                continue;
            }
            let snap = &t.meta.snapshots[n - 1];
            source.metadata = Some(w.commits[i][n - 1].clone());
            source.snapshot_id = Some(snap.snapshot_id);
            source.sequence_number = Some(snap.sequence_number);
            let table = Table { metadata: &t.meta, location_prefix: PREFIX };
            for id in IDS {
                let wanted = Wanted { ns: "docs", ty: "guide", id };
                let Some(f) =
                    block_on(locate::locate(&w.store, &table, wanted, &At::Snapshot(snap.snapshot_id), &mut Cost::default())).unwrap()
                else {
                    continue;
                };
                let md = block_on(locate::read_value(&w.store, &table, &f, "markdown", &mut Cost::default())).unwrap();
                let order = Order { ts: f.ts, seq: f.order.sequence_number, source: i as u32, pos: f.order.position };
                let mut row = srow(id, f.ts, f.order.sequence_number, i as u32, "");
                row.order = order;
                row.deleted = f.deleted;
                row.visibility = f.visibility.clone();
                row.content_hash = f.content_hash.clone();
                row.size_bytes = f.size_bytes;
                row.markdown = md;
                if best.get(id).is_none_or(|b| order > b.order) {
                    best.insert(id, row);
                }
            }
        }
        let rows: Vec<SRow> = best.into_values().collect();
        if !rows.is_empty() {
            let (bytes, entry) = serving_file("serving/data/L1-1-0.parquet", &rows);
            w.store.objects.borrow_mut().insert(entry.key.clone(), bytes);
            root.files = vec![entry];
        }
        w.store.objects.borrow_mut().insert(ROOT_KEY.into(), root.to_json().into_bytes());
        w.serving = Some(ROOT_KEY.into());
        root
    }

    fn read(w: &World, p: &str, reader: Reader<'_>) -> (Result<Answer, Problem>, Trace) {
        let reads = Reads { store: &w.store, catalog: w, policy: &policy(), html: &Marker };
        let mut trace = Trace::default();
        let a = block_on(reads.answer(&path(p), reader, &mut Cost::default(), &mut trace));
        (a, trace)
    }

    /// Every id, representation and reader: the same answer with serving on as with it off;
    /// returns the traces of the `.md` reads by id.
    fn same_answers(w: &mut World) -> BTreeMap<&'static str, Trace> {
        let alice = claims("acme", "alice", &["read:*"]);
        let serving = w.serving.take();
        let mut off = Vec::new();
        for id in IDS {
            for ext in ["md", "json"] {
                for reader in [Reader::Anonymous, Reader::Token(&alice)] {
                    let (a, t) = read(w, &format!("docs/guide/{id}.{ext}"), reader);
                    assert_eq!(t.serving, Serving::Off);
                    off.push(a);
                }
            }
        }
        w.serving = serving;
        let mut traces = BTreeMap::new();
        let mut off = off.into_iter();
        for id in IDS {
            for ext in ["md", "json"] {
                for reader in [Reader::Anonymous, Reader::Token(&alice)] {
                    let (a, t) = read(w, &format!("docs/guide/{id}.{ext}"), reader);
                    assert_eq!(a, off.next().unwrap(), "{id}.{ext} with serving {:?}", t.serving);
                    if ext == "md" {
                        traces.insert(*id, t);
                    }
                }
            }
        }
        traces
    }

    fn history() -> Vec<Vec<Vec<R>>> {
        vec![
            // t/a
            vec![
                vec![("x", 1, "x-a1", false, "public"), ("tie", 5, "tie-a", false, "public"), ("gone", 1, "gone-1", false, "public")],
                vec![("gone", 2, "", true, "public"), ("back", 1, "back-1", false, "public"), ("org", 1, "org-1", false, "org")],
                vec![("back", 2, "", true, "public"), ("only-serving", 1, "s", false, "public")],
                // After the watermark: the tail.
                vec![
                    ("back", 3, "back-3", false, "public"),
                    ("tie2", 9, "tie2-a", false, "public"),
                    ("only-tail", 1, "t", false, "public"),
                ],
            ],
            // t/b
            vec![
                vec![("tie", 5, "tie-b", false, "public"), ("x", 2, "x-b2", false, "public")],
                vec![("tie2", 9, "tie2-b", false, "public"), ("org", 2, "org-2", false, "org")],
                // After the watermark.
                vec![("x", 3, "x-b3", false, "public")],
            ],
        ]
    }

    #[test]
    fn the_same_answers_with_the_serving_table_on_and_off() {
        let mut w = world(&history());
        compact(&mut w, &[3, 2]);
        let traces = same_answers(&mut w);
        for (id, t) in &traces {
            assert_eq!(t.serving, Serving::On, "{id}");
        }
        let source = |id: &str| traces[id].source;
        // The tail is newer than the serving table.
        assert_eq!(source("x"), Some("tail"));
        assert_eq!(source("back"), Some("tail"), "a live row in the tail over a tombstone in the serving table");
        assert_eq!(source("only-tail"), Some("tail"));
        // An exact (ts, seq) tie of the tail (t/a, seq 4) and the serving table (t/b, seq 2) is
        // not one: the sequence numbers differ; the tie of `tie` (ts 5, seq 1 in both) goes to t/a.
        assert_eq!(source("tie"), Some("serving"));
        assert_eq!(source("only-serving"), Some("serving"));
        assert_eq!(source("gone"), Some("serving"), "the tombstone comes from the serving table");
        assert_eq!(source("missing"), None);
        let Ok(Answer::Body(b)) = read(&w, "docs/guide/tie.md", Reader::Anonymous).0 else { panic!("tie") };
        assert_eq!(b.body, "tie-a", "the first configured table wins an exact tie");
        // Everything absorbed: the tail reads no metadata and the serving table answers all.
        let mut w = world(&history());
        compact(&mut w, &[4, 3]);
        let traces = same_answers(&mut w);
        assert!(traces.iter().all(|(id, t)| t.source == if *id == "missing" { None } else { Some("serving") }), "{traces:?}");
        w.store.reads.borrow_mut().clear();
        let isolate = Rc::new(core::cell::RefCell::new(crate::caching::Immutable::new()));
        let s = crate::caching::Caching::new(Shared(&w.store), isolate);
        let reads = Reads { store: &s, catalog: &w, policy: &policy(), html: &Marker };
        let mut trace = Trace::default();
        let Ok(Answer::Body(b)) = block_on(reads.answer(&path("docs/guide/x.md"), Reader::Anonymous, &mut Cost::default(), &mut trace))
        else {
            panic!("x")
        };
        assert_eq!((b.body.as_str(), trace.source), ("x-b3", Some("serving")));
        let keys = w.store.reads.borrow().clone();
        assert!(keys.iter().all(|k| !k.ends_with(".metadata.json") && !k.ends_with(".avro")), "no table is read: {keys:?}");
        // Cold (the pointers and the root are the catalog's reads here): the file's index
        // region, the `_lookup` page, the value page (its footer is inside the index region).
        assert_eq!((s.reads(), trace.serving_reads, trace.tail_reads), (3, 3, 0), "{keys:?}");
        // Nothing absorbed yet: the tail is every commit.
        let mut w = world(&history());
        compact(&mut w, &[0, 0]);
        same_answers(&mut w);
    }

    #[test]
    fn serving_failures_fall_back_to_the_tables_with_the_same_answers() {
        let fallback = |w: &mut World, why: &str| {
            let traces = same_answers(w);
            for (id, t) in traces {
                match &t.serving {
                    Serving::Fallback(reason) => assert!(reason.contains(why), "{id}: {reason} (wanted {why})"),
                    other => panic!("{id}: {other:?}, wanted a fallback for {why}"),
                }
                if id != "missing" {
                    assert_eq!(t.source, Some("tail"), "{id}");
                }
            }
        };
        // The root is missing, or not a root.
        let mut w = world(&history());
        compact(&mut w, &[3, 2]);
        w.store.objects.borrow_mut().remove(ROOT_KEY);
        fallback(&mut w, "is missing");
        w.store.objects.borrow_mut().insert(ROOT_KEY.into(), b"{\"format\":1".to_vec());
        fallback(&mut w, "not a serving root");
        // The root's sources are not the configured tables.
        let mut root = compact(&mut w, &[3, 2]);
        root.sources.reverse();
        w.store.objects.borrow_mut().insert(ROOT_KEY.into(), root.to_json().into_bytes());
        fallback(&mut w, "are not the configured tables");
        // The data file is missing, or garbage.
        compact(&mut w, &[3, 2]);
        let size = w.store.objects.borrow()["serving/data/L1-1-0.parquet"].len();
        w.store.objects.borrow_mut().remove("serving/data/L1-1-0.parquet");
        fallback(&mut w, "serving/data/L1-1-0.parquet is missing");
        w.store.objects.borrow_mut().insert("serving/data/L1-1-0.parquet".into(), vec![7; size]);
        fallback(&mut w, "serving/data/L1-1-0.parquet is corrupt");
        // A snapshot after the watermark that is neither an append nor a replace.
        let mut w = world(&history());
        compact(&mut w, &[3, 2]);
        let t = &mut w.tables[1];
        t.meta.snapshots.last_mut().unwrap().summary.operation = Operation::Overwrite;
        let key = w.commits[1].last().unwrap().clone();
        w.store.objects.borrow_mut().insert(key, t.meta.to_json().into_bytes());
        fallback(&mut w, "is neither an append nor a replace (overwrite)");
    }

    #[test]
    fn a_value_page_that_fails_falls_back_too() {
        let mut w = world(&history());
        compact(&mut w, &[4, 3]);
        // Break the markdown column's pages; the index region and the `_lookup` page stay good.
        let file = "serving/data/L1-1-0.parquet";
        let mut bytes = w.store.objects.borrow()[file].clone();
        let footer = crate::parquet::parse_footer(&bytes, bytes.len() as u64).ok().unwrap();
        let (start, len) = footer.chunk(0, footer.column_by_name("markdown").unwrap()).unwrap().range();
        for b in bytes.iter_mut().skip(start as usize).take(len as usize) {
            *b = 0xFF;
        }
        w.store.objects.borrow_mut().insert(file.into(), bytes);
        let (a, t) = read(&w, "docs/guide/only-serving.md", Reader::Anonymous);
        let Ok(Answer::Body(b)) = a else { panic!("{a:?}") };
        assert_eq!(b.body, "s");
        assert!(matches!(t.serving, Serving::Fallback(_)), "{t:?}");
        assert_eq!(t.source, Some("tail"));
    }
}
