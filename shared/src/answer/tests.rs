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

struct Fixtures {
    store: FsStore,
    keys: Vec<String>,
    prefix: String,
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

struct Marker;

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
