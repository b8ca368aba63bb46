use super::*;
use crate::answer::tests::{Fixtures as Tables, Marker};
use crate::answer::Policy;
use crate::locate::tests::FsStore;
use crate::record::{Mode, Record, Stamp};
use crate::token::Claims;
use alloc::vec::Vec;
use serde_json::json;
use std::path::PathBuf;

/// The table's newest row of `team@acme.dev/page/home` (public, "Grüße…").
const HOME_TS: i64 = 1_735_689_604_000_000;

fn tables() -> Tables {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iceberg/pyiceberg");
    let expected: Value = serde_json::from_slice(&std::fs::read(root.join("expected.json")).unwrap()).unwrap();
    let prefix = expected["location_prefix"].as_str().unwrap().to_string();
    let location = expected["tables"]["artifacts.pyi_unpartitioned"]["metadata_location"].as_str().unwrap();
    let keys = alloc::vec![crate::locate::key_for(location, &prefix).unwrap()];
    Tables { store: FsStore(root), keys, prefix }
}

fn policy() -> Policy {
    Policy { unowned_visibility: Visibility::Public, trusted_orgs: Vec::new() }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("nothing here waits"),
    }
}

fn claims(org: &str, sub: &str) -> Claims {
    Claims { sub: sub.into(), org: org.into(), scopes: alloc::vec!["read:*".into()], exp: 0, nbf: None, iat: None }
}

/// A preview write of `team@acme.dev/page/home` at `ts`, as ingest completes it.
fn write(ts: i64, fields: Value) -> Record {
    let mut v = json!({ "ns": "team@acme.dev", "type": "page", "id": "home" });
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    let stamp = Stamp { mode: Mode::Preview, now_micros: ts, org: "acme", user: "alice", default_visibility: Visibility::Org };
    Record::from_client(v, &stamp).unwrap()
}

fn copy_of(r: &Record) -> Copy {
    Copy { place: Place { ts: r.ts, dedupe: r.dedupe_key() }, record: r.to_json().to_string() }
}

/// The ledger's answer for a key whose state is `state` and whose copy is `copy`.
fn lookup(state: &Record, copy: Option<&Record>) -> Ledger {
    Ledger::Answered(Lookup { state: Some(KeyState::of_record(state, Mode::Preview)), pending: copy.map(copy_of), successor_at: 0 })
}

fn read(p: &str, reader: Reader<'_>, ledger: Ledger) -> (Result<Answer, Problem>, Trace) {
    let t = tables();
    let reads = Reads { store: &t.store, catalog: &t, policy: &policy(), html: &Marker };
    let c = crate::content::parse(p).unwrap();
    let mut trace = Trace::default();
    let answer = block_on(reads.answer_with_ledger(&c, reader, core::future::ready(ledger), &mut Cost::default(), &mut trace));
    (answer, trace)
}

fn body(a: Result<Answer, Problem>) -> crate::answer::Body {
    match a {
        Ok(Answer::Body(b)) => b,
        other => panic!("not a body: {other:?}"),
    }
}

#[test]
fn a_newer_pending_copy_answers_with_a_table_rows_decisions() {
    let new = write(HOME_TS + 1, json!({ "markdown": "# new", "html": "<p>new</p>", "visibility": "public", "tags": { "k": "v" } }));
    let (a, trace) = read("team@acme.dev/page/home.md", Reader::Anonymous, lookup(&new, Some(&new)));
    let b = body(a);
    assert_eq!((b.body.as_str(), trace.source, b.mode.as_deref()), ("# new", Some("ledger"), Some("preview")));
    // The same decisions a table row of this record gets.
    let row = row_of(&new.to_json().to_string(), &crate::content::parse("team@acme.dev/page/home.md").unwrap()).unwrap();
    let d = decide(&crate::content::parse("team@acme.dev/page/home.md").unwrap(), Reader::Anonymous, &row.found, None, &policy()).unwrap();
    assert_eq!(
        (b.etag.as_str(), b.scope.as_str(), b.private, b.dedupe.as_str()),
        (d.etag.as_str(), "public", false, new.dedupe_key().as_str())
    );
    assert_eq!(b.ts, HOME_TS + 1);
    assert_eq!(
        trace.ledger,
        Ledger::Answered(Lookup { state: Some(KeyState::of_record(&new, Mode::Preview)), pending: None, successor_at: 0 }),
        "the trace keeps no body"
    );
    // HTML goes through the rewriter, sanitised (not a trusted org).
    let (a, _) = read("team@acme.dev/page/home.html", Reader::Anonymous, lookup(&new, Some(&new)));
    let b = body(a);
    assert_eq!((b.body.as_str(), b.csp.as_deref()), ("<p>new</p><!--true-->", Some("csp")));
    // A column it lacks: the table's field-missing 404.
    let (a, _) = read("team@acme.dev/page/home.css", Reader::Anonymous, lookup(&new, Some(&new)));
    let Ok(Answer::Problem(p)) = a else { panic!("css") };
    assert_eq!((p.status, p.slug), (404, "field-missing"));
}

#[test]
fn the_json_record_of_a_copy_has_the_tables_layout_and_owner_rules() {
    let new = write(HOME_TS + 1, json!({ "markdown": "m", "visibility": "public", "tags": { "k": "v" }, "inputs": ["a/b/c"] }));
    let (a, _) = read("team@acme.dev/page/home.json", Reader::Anonymous, lookup(&new, Some(&new)));
    let b = body(a);
    let v: Value = serde_json::from_str(&b.body).unwrap();
    let names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = crate::answer::record_columns(false);
    expected.sort_unstable();
    assert_eq!(names, expected, "every column but the owners");
    assert_eq!(v["ts"], crate::time::format_micros(HOME_TS + 1));
    assert_eq!((v["tags"].clone(), v["inputs"].clone(), v["html"].clone()), (json!({ "k": "v" }), json!(["a/b/c"]), Value::Null));
    assert_eq!(v["markdown"], "m");
    // Its owner's org sees the owners, in an org-scoped variant with an ETag of its own.
    let alice = claims("acme", "bob");
    let (a, _) = read("team@acme.dev/page/home.json", Reader::Token(&alice), lookup(&new, Some(&new)));
    let b2 = body(a);
    let v: Value = serde_json::from_str(&b2.body).unwrap();
    assert_eq!((v["owner_org"].as_str(), b2.private), (Some("acme"), true));
    assert!(b2.etag.ends_with("-public-o.json\"") && b.etag.ends_with("-public.json\""), "{} {}", b.etag, b2.etag);
}

#[test]
fn a_copy_keeps_its_visibility() {
    let new = write(HOME_TS + 1, json!({ "markdown": "secret", "visibility": "user" }));
    // The table's public row is older, but the newest write is alice's own: nobody else reads it
    // (and nobody else gets the table's older row either).
    let (a, _) = read("team@acme.dev/page/home.md", Reader::Anonymous, lookup(&new, Some(&new)));
    let Ok(Answer::Problem(p)) = a else { panic!("anonymous") };
    assert_eq!(p.status, 404);
    let alice = claims("acme", "alice");
    let b = body(read("team@acme.dev/page/home.md", Reader::Token(&alice), lookup(&new, Some(&new))).0);
    assert_eq!((b.body.as_str(), b.scope.as_str()), ("secret", crate::cache_key::scope(Visibility::User, "acme", "alice").as_str()));
}

#[test]
fn the_tables_answer_when_the_copy_is_not_the_newest() {
    let home = |a: Result<Answer, Problem>| body(a).body;
    // Older than the table's row.
    let old = write(HOME_TS - 1, json!({ "markdown": "old", "visibility": "public" }));
    let (a, trace) = read("team@acme.dev/page/home.md", Reader::Anonymous, lookup(&old, Some(&old)));
    assert!(home(a).starts_with("Grüße"));
    assert_eq!(trace.source, Some("tail"));
    // Not the key's state (a newer write without a copy was confirmed).
    let copy = write(HOME_TS + 1, json!({ "markdown": "copy", "visibility": "public" }));
    let state = write(HOME_TS + 2, json!({ "markdown": "build", "visibility": "public" }));
    assert!(home(read("team@acme.dev/page/home.md", Reader::Anonymous, lookup(&state, Some(&copy))).0).starts_with("Grüße"));
    // A copy whose record is another key's, or not the write the ledger names.
    let mut other = write(HOME_TS + 1, json!({ "markdown": "other", "visibility": "public" }));
    other.id = "elsewhere".into();
    let l = Ledger::Answered(Lookup {
        state: Some(KeyState::of_record(&copy, Mode::Preview)),
        pending: Some(Copy { place: copy_of(&copy).place, record: other.to_json().to_string() }),
        successor_at: 0,
    });
    assert!(home(read("team@acme.dev/page/home.md", Reader::Anonymous, l).0).starts_with("Grüße"));
    // Unavailable, off, or no write of the key: the tables.
    for l in [Ledger::Unavailable, Ledger::Off, Ledger::Answered(Lookup { state: None, pending: None, successor_at: 0 })] {
        let (a, trace) = read("team@acme.dev/page/home.md", Reader::Anonymous, l.clone());
        assert!(home(a).starts_with("Grüße"));
        assert_eq!(trace.ledger, l);
    }
    // A version read never answers from a copy.
    let new = write(HOME_TS + 1, json!({ "markdown": "new", "visibility": "public" }));
    let (a, trace) = read("team@acme.dev/page/home@1311625791730053213.md", Reader::Anonymous, lookup(&new, Some(&new)));
    assert!(home(a).starts_with("Grüße"));
    assert_eq!(trace.ledger.status(), "state");
}

#[test]
fn a_copy_answers_a_key_the_tables_do_not_hold_and_retention_applies() {
    let mut new = write(HOME_TS, json!({ "markdown": "fresh", "visibility": "public" }));
    new.id = "brand-new".into();
    let b = body(read("team@acme.dev/page/brand-new.md", Reader::Anonymous, lookup(&new, Some(&new))).0);
    assert_eq!(b.body, "fresh");
    // Without the ledger: the 404 of a missing artifact.
    let Ok(Answer::Problem(p)) = read("team@acme.dev/page/brand-new.md", Reader::Anonymous, Ledger::Off).0 else { panic!() };
    assert_eq!(p.status, 404);
    // Its own expires_at is honoured (the tables' clock default never expires; a past expiry with
    // a real clock is covered by the retention module).
    let mut exp = write(HOME_TS, json!({ "markdown": "e", "visibility": "public", "expires_at": HOME_TS + 5 }));
    exp.id = "brand-new".into();
    let b = body(read("team@acme.dev/page/brand-new.md", Reader::Anonymous, lookup(&exp, Some(&exp))).0);
    assert_eq!(b.expires, Some(HOME_TS + 5));
}

#[test]
fn a_confirmed_delete_newer_than_the_tables_row_is_the_404() {
    let stamp = Stamp { mode: Mode::Preview, now_micros: HOME_TS + 1, org: "acme", user: "alice", default_visibility: Visibility::Org };
    let gone = Record::tombstone("team@acme.dev", "page", "home", &stamp).unwrap();
    let l = Ledger::Answered(Lookup { state: Some(KeyState::of_record(&gone, Mode::Preview)), pending: None, successor_at: 0 });
    let Ok(Answer::Problem(p)) = read("team@acme.dev/page/home.md", Reader::Anonymous, l).0 else { panic!("deleted") };
    assert_eq!((p.status, p.slug), (404, "not-found"));
    // Older than the tables' row (a newer write not confirmed yet): the row answers.
    let stamp = Stamp { now_micros: HOME_TS - 1, ..stamp };
    let old = Record::tombstone("team@acme.dev", "page", "home", &stamp).unwrap();
    let l = Ledger::Answered(Lookup { state: Some(KeyState::of_record(&old, Mode::Preview)), pending: None, successor_at: 0 });
    assert!(body(read("team@acme.dev/page/home.md", Reader::Anonymous, l).0).body.starts_with("Grüße"));
}

#[test]
fn lookup_answers_parse_as_the_ledger_writes_them() {
    let r = write(5, json!({ "markdown": "x" }));
    let state = KeyState::of_record(&r, Mode::Preview);
    let text = alloc::format!(
        "{{\"state\":{},\"pending\":{},\"rows\":1}}",
        state.to_json(),
        json!({ "t": r.ts, "h": r.dedupe_key(), "r": r.to_json().to_string() })
    );
    assert_eq!(Lookup::parse(&text), Some(Lookup { state: Some(state), pending: Some(copy_of(&r)), successor_at: 0 }));
    assert_eq!(Lookup::parse(r#"{"state":null,"pending":null,"rows":0}"#), Some(Lookup { state: None, pending: None, successor_at: 0 }));
    for bad in ["", "[]", r#"{"pending":null}"#, r#"{"state":{"t":1},"pending":null}"#, r#"{"state":null,"pending":{"t":1}}"#] {
        assert_eq!(Lookup::parse(bad), None, "{bad}");
    }
}

#[test]
fn which_state_decides_current_and_the_colo_hint() {
    let kv = State::confirmed("h1", 10);
    let r = write(20, json!({ "markdown": "x" }));
    let s = KeyState::of_record(&r, Mode::Preview);
    assert_eq!(
        deciding_state(&kv, &Ledger::Answered(Lookup { state: Some(s.clone()), pending: None, successor_at: 0 })),
        Some(s.kv_state())
    );
    assert_eq!(
        deciding_state(&kv, &Ledger::Answered(Lookup { state: None, pending: None, successor_at: 0 })),
        Some(kv.clone()),
        "a key the ledger never confirmed"
    );
    assert_eq!(deciding_state(&kv, &Ledger::Off), Some(kv.clone()));
    assert_eq!(deciding_state(&kv, &Ledger::Unavailable), None, "nothing cached");
    // The hint and KV: the greater generation wins; the same generation with another version (a
    // same-ts bulk rewrite: which was confirmed later is not known here) makes no entry current.
    assert_eq!(newer(kv.clone(), State::confirmed("h0", 11)), State::confirmed("h0", 11));
    let undecided = newer(State::confirmed("h2", 10), kv.clone());
    assert_eq!(undecided.generation, 10);
    assert!(!undecided.current(10, "h1") && !undecided.current(10, "h2"), "neither version's cached answer is used");
    assert_eq!(newer(kv.clone(), kv.clone()), kv);
    assert_eq!(newer(kv.clone(), State::default()), kv);
    assert_eq!(hint_key("team@acme.dev", "page", "guide/intro"), "https://artifact-cache.internal/gen/team@acme.dev/page/guide/intro");
    // A cached entry: the state's own write, or one newer than KV knows (stored current by the ledger).
    assert!(cached_current(&kv, 10, "h1"));
    assert!(cached_current(&kv, 11, "other"));
    assert!(!cached_current(&kv, 10, "other"), "a same-ts rewrite");
    assert!(!cached_current(&kv, 9, "h1"));
}

/// #18: the successor stamp. The ledger's `sup` rides on the deciding state (with or without a
/// write of the key in the ledger), KV's and the hint's are merged forward, and the settle window
/// caps what is stored.
#[test]
fn the_successor_stamp_reaches_the_deciding_state_and_the_settle_window() {
    let kv = State { successor: 500, ..State::confirmed("h1", 10) };
    let r = write(20, json!({ "markdown": "x" }));
    let s = KeyState::of_record(&r, Mode::Preview);
    let answered = |state: Option<KeyState>, successor_at| Ledger::Answered(Lookup { state, pending: None, successor_at });
    assert_eq!(deciding_state(&kv, &answered(Some(s.clone()), 900)), Some(State { successor: 900, ..s.kv_state() }));
    assert_eq!(deciding_state(&kv, &answered(Some(s.clone()), 0)), Some(State { successor: 500, ..s.kv_state() }), "KV's stamp kept");
    assert_eq!(deciding_state(&kv, &answered(None, 900)), Some(State { successor: 900, ..kv.clone() }), "no write in the ledger");
    assert_eq!(deciding_state(&State::default(), &answered(None, 0)), Some(State::default()));
    assert_eq!(deciding_state(&kv, &Ledger::Off), Some(kv.clone()));
    // KV and the hint: the greater stamp, whichever generation wins.
    let hint = State::confirmed("h0", 11);
    assert_eq!(newer(kv.clone(), hint.clone()), State { successor: 500, ..hint.clone() });
    assert_eq!(newer(hint.clone(), kv.clone()).successor, 500);
    assert_eq!(newer(State { successor: 700, ..State::default() }, kv.clone()), State { successor: 700, ..kv.clone() });
    // The window: from the stamp for `settle` seconds, the recheck cap; then none.
    assert_eq!(settle_cap_secs(1_000_000, 1_000_000, 300, 10), Some(10));
    assert_eq!(settle_cap_secs(1_000_000, 1_299_999, 300, 10), Some(10));
    assert_eq!(settle_cap_secs(1_000_000, 1_300_000, 300, 10), None);
    assert_eq!(settle_cap_secs(0, 5, 300, 10), None, "no stamp");
    assert_eq!(settle_cap_secs(i64::MAX - 1, 0, u64::MAX, 10), Some(10), "no overflow");
}

#[test]
fn join_runs_both_futures_to_the_end() {
    let mut polls = 0;
    let slow = core::future::poll_fn(|cx| {
        polls += 1;
        if polls < 3 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(7)
        }
    });
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    let mut j = core::pin::pin!(join(slow, core::future::ready("now")));
    assert!(j.as_mut().poll(&mut cx).is_pending());
    assert!(j.as_mut().poll(&mut cx).is_pending());
    assert_eq!(j.as_mut().poll(&mut cx), Poll::Ready((7, "now")));
}

/// A future ready after `n` polls (each pending poll wakes itself again).
struct After(u32, u32);

impl Future for After {
    type Output = u32;
    fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<u32> {
        if self.0 == 0 {
            return Poll::Ready(self.1);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `f` until it is ready; how many polls that took.
fn run<F: Future>(f: F) -> (F::Output, u32) {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    for polls in 1..100 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, polls);
        }
    }
    panic!("never ready");
}

#[test]
fn join_all_gives_every_output_in_order_whatever_finishes_first() {
    let (outs, polls) = run(join_all(alloc::vec![After(3, 0), After(0, 1), After(5, 2), After(1, 3)]));
    assert_eq!(outs, [0, 1, 2, 3]);
    assert_eq!(polls, 6, "together: as many polls as the slowest needs");
    assert!(run(join_all(Vec::<After>::new())).0.is_empty());
}
