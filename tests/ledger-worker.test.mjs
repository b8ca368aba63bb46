// The ledger worker (#17, docs/design/ledger.md) on its own Miniflare (tests/support/ledger.mjs):
// the Durable Object `Ledger` over SQLite called through its stub as the other workers will
// (POST https://ledger/<call>); ordering (older never replaces newer, any order, repeats no-op),
// pending copies (admitted, looked up, trimmed by covered and by age), idempotency, the alarm's
// KV generations (the exact State JSON serve reads, at most one put per key per second under a KV
// double that refuses a second put within a second, as production does), the outbox consumer,
// rows written per call; the worker's own routes; wrangler's dry run of wrangler/ledger.toml.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startLedger, shardOf, dedupeKey } from "./support/ledger.mjs";
import { writeV1Ledger } from "./support/ledger-v1.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PROBLEM = "application/problem+json";

/** A write on the wire (shared::ledger::state::Write), with an optional pending copy `r`. */
const w = (k, t, c, { m = "build", v = "public", d = false, r } = {}) => ({ k, t, c, v, o: "acme", u: "alice", m, d, ...(r ? { r } : {}) });
/** The KV value serve reads (shared::state::State::to_json) for a write. */
const kvValue = (x) => JSON.stringify({ g: x.t, h: dedupeKey(x.c, x.v, x.d, x.o, x.u) });

async function waitFor(what, cond, ms = 5_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await cond();
    if (last) return last;
    await sleep(50);
  }
  assert.fail(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

describe("ledger worker", () => {
  let s;
  before(async () => {
    // Small limits so the spec can see copies refused by size and aged out without a watermark.
    s = await startLedger({ vars: { LEDGER_PENDING_MAX_BYTES: "200", LEDGER_PENDING_MAX_AGE_SECS: "2", LEDGER_PENDING_GRACE_SECS: "1" } });
  });
  after(async () => {
    await s?.dispose();
  });

  test("the worker answers /$.health and problem+json 404/405; the object refuses unknown calls and bad bodies", async () => {
    const h = await s.ledger("/$.health");
    assert.equal(h.status, 200);
    const body = await h.json();
    assert.equal(body.worker, "ledger");
    assert.equal(body.resets, 0);
    const post = await s.ledger("/$.health", { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
    assert.equal(post.headers.get("content-type"), PROBLEM);
    await post.text();
    const nope = await s.ledger("/nope");
    assert.equal(nope.status, 404);
    assert.equal(nope.headers.get("content-type"), PROBLEM);
    await nope.text();

    const o = "ledger/routes";
    assert.equal((await s.call(o, "nope", {})).status, 404);
    const get = await s.call(o, "confirm");
    assert.equal(get.status, 405);
    assert.equal(get.type, PROBLEM);
    for (const [call, bad] of [
      ["check", "not json"],
      ["confirm", { k: "a/t/1" }],
      ["confirm", [{ k: "a/t/1", t: 1 }]],
      ["confirm", [{ ...w("a/t/1", 1, "h"), r: { not: "text" } }]],
      ["lookup", []],
      ["covered", { watermarks: [{ source: "s", mode: "nope", snapshot_id: 1, seq: 1, committed_at_ms: 1 }] }],
      ["idem_complete", { k: "x" }],
    ]) {
      const r = await s.call(o, call, bad);
      assert.equal(r.status, 400, `${call} ${JSON.stringify(bad)}: ${r.text}`);
      assert.equal(r.json.type, "https://artifacts.dev/problems/bad-ledger-call");
    }
    const stats = await s.stats(o);
    assert.equal(stats.rows_written, 0, "refused calls write nothing");
  });

  test("check and confirm: an older write never replaces a newer one, any order gives the same state, a repeat is a no-op", async () => {
    const o = "ledger/order";
    const a1 = w("acme/page/a", 1_000, "h1");
    const a2 = w("acme/page/a", 2_000, "h2");
    const a3 = w("acme/page/a", 3_000, "h3");
    assert.deepEqual((await s.call(o, "check", [a1])).json, { dup: [false], rows: 0 });
    let r = await s.call(o, "confirm", [a1]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { changed: 1, same: 0, stale: [], hinted: [], marked: 0, copies: 0, copies_deleted: 0, rows: 1 });
    assert.deepEqual((await s.call(o, "check", [a1, { ...a1, c: "other" }, { ...a1, v: "org" }])).json.dup, [true, false, false]);

    // Request B (ts 3000) confirmed before A (ts 2000): A is stale, B stays.
    r = await s.call(o, "confirm", [a3]);
    assert.equal(r.json.changed, 1);
    r = await s.call(o, "confirm", [a2]);
    assert.deepEqual([r.json.changed, r.json.stale, r.json.rows], [0, [0], 0]);
    r = await s.call(o, "confirm", [a3]);
    assert.deepEqual([r.json.changed, r.json.same, r.json.rows], [0, 1, 0], "a repeated confirm writes nothing");
    let look = await s.call(o, "lookup", { k: a1.k });
    assert.equal(look.json.state.t, 3_000);
    assert.equal(look.json.state.c, "h3");

    // One batch, one key several times, in every order: the same final state.
    for (const batch of [[a1, a2, a3], [a3, a1, a2], [a2, a3, a1]]) {
      const key = `acme/batch/${batch.map((x) => x.t).join("-")}`;
      r = await s.call(o, "confirm", batch.map((x) => ({ ...x, k: key })));
      assert.equal(r.json.changed + r.json.stale.length, 3, r.text);
      look = await s.call(o, "lookup", { k: key });
      assert.equal(look.json.state.c, "h3", `order ${key}`);
    }
    // Equal ts, another version (a bulk rewrite keeping its ts): the later confirm wins, as the
    // later commit does in the tables (rule 1); the same write again changes nothing.
    const tieA = w("acme/tie/x", 5_000, "aaa");
    const tieB = w("acme/tie/x", 5_000, "bbb");
    await s.call(o, "confirm", [tieB]);
    assert.equal((await s.call(o, "confirm", [tieA])).json.changed, 1);
    assert.equal((await s.call(o, "confirm", [tieA])).json.changed, 0, "a repeat");
    await s.call(o, "confirm", [{ ...tieA, k: "acme/tie/y" }]);
    assert.equal((await s.call(o, "confirm", [{ ...tieB, k: "acme/tie/y" }])).json.changed, 1);
    assert.equal((await s.call(o, "lookup", { k: "acme/tie/x" })).json.state.c, "aaa");
    assert.equal((await s.call(o, "lookup", { k: "acme/tie/y" })).json.state.c, "bbb");
    // A tombstone is a write like any other.
    r = await s.call(o, "confirm", [w(a1.k, 4_000, "h3", { d: true })]);
    assert.equal(r.json.changed, 1);
    assert.equal((await s.call(o, "lookup", { k: a1.k })).json.state.d, true);
  });

  test("concurrent confirms of one key in random batches end at the newest write, whatever arrives first", async () => {
    const o = "ledger/concurrent";
    const key = "acme/page/race";
    const writes = Array.from({ length: 40 }, (_, i) => w(key, 1_000 + i * 7, `c${i}`));
    const shuffled = writes.map((x) => [Math.random(), x]).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
    const batches = [];
    for (let i = 0; i < shuffled.length; i += 3) batches.push(shuffled.slice(i, i + 3));
    const answers = await Promise.all(batches.map((b) => s.call(o, "confirm", b)));
    assert.ok(answers.every((a) => a.status === 200), answers.map((a) => a.text).join("\n"));
    const changed = answers.reduce((n, a) => n + a.json.changed, 0);
    const stale = answers.reduce((n, a) => n + a.json.stale.length, 0);
    assert.equal(changed + stale, writes.length);
    const newest = writes.at(-1);
    const look = await s.call(o, "lookup", { k: key });
    assert.deepEqual([look.json.state.t, look.json.state.c], [newest.t, newest.c]);
  });

  test("pending copies: admitted on a changing confirm, returned by lookup byte for byte, trimmed by covered at or above their place", async () => {
    const o = "ledger/pending";
    const rec = '{"ns":"acme","type":"page","id":"p",  "markdown":"# hi"}';
    const p1 = w("acme/page/p", 10_000, "c1", { m: "preview", r: rec });
    let r = await s.call(o, "confirm", [p1]);
    assert.deepEqual([r.json.copies, r.json.rows], [1, 2], "state + copy");
    let look = await s.call(o, "lookup", { k: p1.k });
    assert.deepEqual(look.json.pending, { t: 10_000, h: dedupeKey("c1", "public", false, "acme", "alice"), r: rec });
    // A repeat and a stale write leave the copy; an oversized copy is not kept.
    assert.equal((await s.call(o, "confirm", [p1])).json.copies, 0);
    const big = w("acme/page/big", 1, "c", { m: "preview", r: "x".repeat(201) });
    assert.equal((await s.call(o, "confirm", [big])).json.copies, 0);
    assert.equal((await s.call(o, "lookup", { k: big.k })).json.pending, null);

    // covered: a row below the copy's place trims nothing; the same place trims it.
    const h1 = dedupeKey("c1", "public", false, "acme", "alice");
    r = await s.call(o, "covered", { entries: [{ k: p1.k, t: 9_000, h: h1 }] });
    assert.deepEqual([r.json.trimmed, r.json.rows], [0, 0]);
    r = await s.call(o, "covered", { entries: [{ k: p1.k, t: 10_000, h: h1 }] });
    assert.deepEqual([r.json.trimmed, r.json.rows], [1, 1]);
    assert.equal((await s.call(o, "lookup", { k: p1.k })).json.pending, null);

    // A newer write without a copy deletes the older copy (it is no longer the latest version).
    const q1 = w("acme/page/q", 1_000, "c1", { m: "preview", r: rec });
    await s.call(o, "confirm", [q1]);
    r = await s.call(o, "confirm", [w(q1.k, 2_000, "c2")]);
    assert.deepEqual([r.json.copies, r.json.copies_deleted], [0, 1]);
    assert.equal((await s.call(o, "lookup", { k: q1.k })).json.pending, null);

    // Watermarks are stored forward only (a repeat of the same sequence writes nothing).
    const mark = { source: "artifacts/preview", mode: "preview", snapshot_id: "9223372036854775807", seq: 4, committed_at_ms: Date.now() };
    assert.deepEqual((await s.call(o, "covered", { entries: [], watermarks: [mark] })).json, { trimmed: 0, watermarks: 1, rows: 1 });
    assert.deepEqual((await s.call(o, "covered", { entries: [], watermarks: [mark] })).json, { trimmed: 0, watermarks: 0, rows: 0 });
  });

  test("the alarm drops copies older than LEDGER_PENDING_MAX_AGE_SECS when no watermark covers their mode", async () => {
    const o = "ledger/aging";
    const c = w("acme/page/old", 1_000, "c1", { m: "preview", r: "{}" });
    assert.equal((await s.call(o, "confirm", [c])).json.copies, 1);
    assert.notEqual((await s.call(o, "lookup", { k: c.k })).json.pending, null);
    await waitFor("the aged copy trimmed", async () => (await s.call(o, "lookup", { k: c.k })).json.pending === null, 8_000);
    assert.equal((await s.call(o, "lookup", { k: c.k })).json.state.c, "c1", "the state stays");
  });

  test("a watermark ages out copies of its mode confirmed more than the grace before its commit; other modes keep theirs", async () => {
    const o = "ledger/watermark";
    const preview = w("acme/page/wm", 1_000, "c1", { m: "preview", r: "{}" });
    const build = w("acme/page/wm-build", 1_000, "c1", { m: "build", r: "{}" });
    assert.equal((await s.call(o, "confirm", [preview, build])).json.copies, 2);
    // The sink committed 5 s from now (grace 1 s): the preview copy is older than that by more
    // than the grace, yet `covered` never named it (a record the sink dropped).
    const mark = { source: "artifacts/preview", mode: "preview", snapshot_id: 7, seq: 1, committed_at_ms: Date.now() + 5_000 };
    assert.equal((await s.call(o, "covered", { entries: [], watermarks: [mark] })).json.watermarks, 1);
    await waitFor("the preview copy aged out", async () => (await s.call(o, "lookup", { k: preview.k })).json.pending === null, 3_000);
    assert.notEqual((await s.call(o, "lookup", { k: build.k })).json.pending, null, "no watermark of build: only its max age applies");
  });

  test("idempotency: begin, in flight, complete and replay, abandon, expiry", async () => {
    const o = "ledger/idem";
    const k = "idem:acme:alice:k-1";
    assert.deepEqual((await s.call(o, "idem_begin", { k })).json, { prior: "new", rows: 1 });
    assert.deepEqual((await s.call(o, "idem_begin", { k })).json, { prior: "in_flight", rows: 0 });
    const done = { body_sha256: "abc", status: 200, content_type: "application/json", body: '{"accepted":1}', ns: ["acme"] };
    assert.deepEqual((await s.call(o, "idem_complete", { k, ...done })).json, { ok: true, rows: 1 });
    assert.deepEqual((await s.call(o, "idem_begin", { k })).json, { prior: "done", ...done, rows: 0 });
    assert.deepEqual((await s.call(o, "idem_abandon", { k })).json, { ok: true, rows: 1 });
    assert.equal((await s.call(o, "idem_begin", { k })).json.prior, "new", "abandoned: a retry runs again");

    // An in-flight key past its bound is taken over; a stored answer past its ttl is gone.
    const k2 = "idem:acme:alice:k-2";
    assert.equal((await s.call(o, "idem_begin", { k: k2, pending_ms: 100 })).json.prior, "new");
    assert.equal((await s.call(o, "idem_begin", { k: k2, pending_ms: 100 })).json.prior, "in_flight");
    await sleep(150);
    assert.equal((await s.call(o, "idem_begin", { k: k2 })).json.prior, "new", "taken over after pending_ms");
    await s.call(o, "idem_complete", { k: k2, ...done, ttl_ms: 300 });
    assert.equal((await s.call(o, "idem_begin", { k: k2 })).json.prior, "done");
    await sleep(400);
    assert.equal((await s.call(o, "idem_begin", { k: k2 })).json.prior, "new", "expired answers are not replayed");
  });

  test("the alarm writes art:{key} = the State JSON serve reads, only for keys read since their last KV write, at most once per key per second", async () => {
    const o = "ledger/kv";
    const key = "acme/page/kv";
    const unread = w("acme/page/unread", 1_000, "u1");
    // Never looked up: no reader can hold a cached answer, so no KV write.
    assert.deepEqual((await s.call(o, "confirm", [unread])).json.hinted, []);

    // Looked up before its first write (a read marker), then written: the generation goes to KV.
    assert.equal((await s.call(o, "lookup", { k: key })).json.state, null);
    const v1 = w(key, 1_000, "c1");
    assert.deepEqual((await s.call(o, "confirm", [v1])).json.hinted, [key]);
    await waitFor("v1 in KV", async () => (await s.kv(`art:${key}`)) === kvValue(v1));

    // Read again, then three writes within a second: KV ends at the last, never two puts of the
    // key within a second (the double would refuse the second), and fewer puts than writes.
    const writes = [2_000, 3_000, 4_000].map((t, i) => w(key, t, `c${i + 2}`));
    for (const x of writes) {
      await s.call(o, "lookup", { k: key });
      await s.call(o, "confirm", [x]);
    }
    await waitFor("the last write in KV", async () => (await s.kv(`art:${key}`)) === kvValue(writes[2]));
    await sleep(1_200);
    const puts = (await s.puts()).filter((p) => p.key === `art:${key}`);
    assert.ok(puts.every((p) => p.ok), `a put was refused: ${JSON.stringify(puts)}`);
    for (let i = 1; i < puts.length; i++) assert.ok(puts[i].at - puts[i - 1].at >= 1_000, `puts ${i - 1} and ${i} within a second`);
    assert.ok(puts.length <= 3, `${puts.length} puts for 4 writes`);
    assert.equal(puts.at(-1).value, kvValue(writes[2]));
    assert.equal(await s.kv(`art:${unread.k}`), null);
    assert.equal((await s.puts()).filter((p) => p.key === `art:${unread.k}`).length, 0);
    // A lookup right after the KV write marks the key again (1 row); a second one does not.
    const looks = [await s.call(o, "lookup", { k: key }), await s.call(o, "lookup", { k: key })];
    assert.deepEqual(looks.map((l) => l.json.rows), [1, 0]);
    const st = await s.stats(o);
    assert.equal(st.kv_puts, puts.length);
    assert.ok(st.calls.alarm >= 2, JSON.stringify(st));
  });

  test("successor marks (#18): a mark stamps sup (lookup answers it), a looked-up key's KV value gets s, an absent key gets a marker holding it", async () => {
    const o = "ledger/marks";
    const pred = w("acme/page/pred", 1_000, "p1");
    await s.call(o, "confirm", [pred]);
    // Read on a miss (a reader may hold a cached answer under {"g","h"}), not yet superseded.
    assert.equal((await s.call(o, "lookup", { k: pred.k })).json.sup, 0);
    const before = Date.now();
    // Marks mixed with a write, as ingest sends them; a key the shard never saw is marked too.
    const c = await s.call(o, "confirm", [w("acme/page/succ", 2_000, "s1"), { k: pred.k, succ: true }, { k: "acme/page/never", succ: true }]);
    assert.equal(c.status, 200, c.text);
    assert.deepEqual([c.json.changed, c.json.marked, c.json.stale], [1, 2, []]);
    assert.deepEqual(c.json.hinted, [], "no colo hint for a mark");
    const look = (await s.call(o, "lookup", { k: pred.k })).json;
    assert.equal(look.state.t, 1_000, "a mark changes no state");
    assert.ok(look.sup >= before && look.sup <= Date.now(), JSON.stringify(look));
    // The alarm writes KV {"g","h","s"}: serve's cache keys move off the predecessor's entries.
    const withS = JSON.stringify({ g: 1_000, h: dedupeKey("p1", "public", false, "acme", "alice"), s: look.sup });
    await waitFor("the stamp in KV", async () => (await s.kv(`art:${pred.k}`)) === withS);
    // Never read before its mark: a marker row holds the stamp, nothing is written to KV...
    const never = (await s.call(o, "lookup", { k: "acme/page/never" })).json;
    assert.equal(never.state, null);
    assert.ok(never.sup >= before, JSON.stringify(never));
    assert.equal(await s.kv("art:acme/page/never"), null);
    // ...until a mark after a read: {"g":0,"s"} (every table row is current under g 0).
    await sleep(5);
    assert.equal((await s.call(o, "confirm", [{ k: "acme/page/never", succ: true }])).json.marked, 1);
    const sup2 = (await s.call(o, "lookup", { k: "acme/page/never" })).json.sup;
    assert.ok(sup2 > never.sup);
    await waitFor("the marker's stamp in KV", async () => (await s.kv("art:acme/page/never")) === JSON.stringify({ g: 0, s: sup2 }));
    // Its first write replaces the marker and keeps the stamp.
    await s.call(o, "confirm", [w("acme/page/never", 3_000, "n1")]);
    const first = (await s.call(o, "lookup", { k: "acme/page/never" })).json;
    assert.deepEqual([first.state.t, first.sup], [3_000, sup2]);
    // Marks are parsed strictly.
    for (const bad of [[{ succ: true }], [{ k: pred.k, succ: false }], [{ k: 7, succ: true }], [{ k: pred.k, succ: "yes" }]]) {
      const r = await s.call(o, "confirm", bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
    }
    // The outbox carries marks to their key's shard.
    const k = "acme/outbox/marked";
    await s.outbox([{ k, succ: true }]);
    await waitFor("the deferred mark", async () => (await s.call(`ledger/${shardOf(k)}`, "lookup", { k })).json.sup > 0);
  });

  test("a KV put refused by the one-write-per-second limit is retried by the next alarm, and lands", async () => {
    const o = "ledger/kv-retry";
    const key = "acme/page/refused";
    await s.call(o, "lookup", { k: key });
    // Someone else wrote the key just now: the ledger's put is refused with production's 429.
    await s.touch(`art:${key}`);
    const v = w(key, 1_000, "r1");
    assert.deepEqual((await s.call(o, "confirm", [v])).json.hinted, [key]);
    await waitFor("the retried put in KV", async () => (await s.kv(`art:${key}`)) === kvValue(v));
    const puts = (await s.puts()).filter((p) => p.key === `art:${key}`);
    assert.deepEqual(puts.map((p) => p.ok), [false, true], JSON.stringify(puts));
    assert.ok(puts[1].at - puts[0].at >= 1_000, "the retry waits out the second");
    const st = await s.stats(o);
    assert.deepEqual([st.kv_puts, st.kv_put_failures], [1, 1]);
  });

  test("the outbox consumer confirms a deferred body in each key's shard; replays and stale messages change nothing; malformed ones are acked", async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `acme/outbox/${i}`);
    const batch = keys.map((k, i) => w(k, 7_000 + i, `o${i}`, { m: "preview", r: `{"i":${i}}` }));
    assert.ok(new Set(keys.map((k) => shardOf(k))).size > 1, "the keys span shards");
    await s.outbox(batch);
    for (const [i, k] of keys.entries()) {
      const o = `ledger/${shardOf(k)}`;
      const look = await waitFor(`${k} confirmed`, async () => {
        const r = await s.call(o, "lookup", { k });
        return r.json.state ? r : null;
      });
      assert.equal(look.json.state.t, 7_000 + i);
      assert.equal(look.json.pending.r, `{"i":${i}}`, "the pending copy rode along");
    }
    // Newer confirms, then the old message again: the state stays newest.
    const k0 = keys[0];
    const o0 = `ledger/${shardOf(k0)}`;
    await s.call(o0, "confirm", [w(k0, 9_000, "newer")]);
    await s.outbox([batch[0]]);
    await s.outbox("not a confirm body");
    await waitFor("both messages consumed", async () => {
      const h = await (await s.ledger("/$.health")).json();
      return h.outbox_messages >= 3 && h.outbox_malformed >= 1 ? h : null;
    });
    const h = await (await s.ledger("/$.health")).json();
    assert.equal(h.outbox_retried, 0);
    assert.equal(h.resets, 0);
    assert.equal((await s.call(o0, "lookup", { k: k0 })).json.state.c, "newer");
  });

  test("rows written and calls are counted per object", async () => {
    const o = "ledger/stats";
    await s.call(o, "check", [w("acme/s/1", 1, "a")]);
    await s.call(o, "confirm", [w("acme/s/1", 1, "a"), w("acme/s/2", 1, "a")]);
    await s.call(o, "confirm", [w("acme/s/1", 1, "a")]);
    await s.call(o, "lookup", { k: "acme/s/1" });
    await s.call(o, "lookup", { k: "acme/s/1" });
    const st = await s.stats(o);
    assert.deepEqual(st.calls, { check: 1, confirm: 2, lookup: 2 });
    assert.equal(st.rows_written, 3, "2 states + 1 read mark");
    assert.deepEqual([st.kv_puts, st.kv_put_failures], [0, 0]);
  });
});

// Schema v2 (#18) on a database as a v1 build left it, written without a v1 build: a JS class on
// the ledger's Durable Object identity (tests/support/ledger-v1.mjs) runs v1's statements, read
// from ledger-worker/src/schema.rs, and holds the row a v1 build's confirm of `x` and a lookup of
// it wrote (v1's confirm of a key never read writes read_at 0, kv_at 0 and no kv_due row; the
// lookup then sets read_at); the current build then starts on the same files.
test("a v1 database migrates to v2: rows and reads kept, marks work", async () => {
  const persist = await mkdtemp(path.join(os.tmpdir(), "ledger-v1-"));
  const o = "ledger/migrate";
  const x = w("acme/page/old", 1_000, "o1");
  const readAt = Date.now();
  const row = { key: x.k, ts: x.t, hash: x.c, vis: x.v, org: x.o, usr: x.u, mode: x.m, del: x.d ? 1 : 0, read_at: readAt, kv_at: 0 };
  const v1 = await writeV1Ledger({ persist, object: o, rows: [row] });
  assert.deepEqual(v1.meta, [{ k: "schema", v: 1 }]);
  assert.deepEqual(v1.tables, ["idem", "kv_due", "meta", "pending", "state", "watermark"]);
  assert.deepEqual(v1.stateColumns, ["key", "ts", "hash", "vis", "org", "usr", "mode", "del", "read_at", "kv_at"], "v1's state has no sup");
  assert.deepEqual(v1.state, [row]);
  const v2 = await startLedger({ persist });
  try {
    const look = (await v2.call(o, "lookup", { k: x.k })).json;
    assert.deepEqual([look.state.t, look.state.c, look.sup], [1_000, "o1", 0]);
    // Read under v1 (read_at kept): a mark queues the KV write.
    const c = await v2.call(o, "confirm", [{ k: x.k, succ: true }]);
    assert.equal(c.json.marked, 1);
    const sup = (await v2.call(o, "lookup", { k: x.k })).json.sup;
    assert.ok(sup > 0, `sup after the mark: ${sup}`);
    const want = JSON.stringify({ g: 1_000, h: dedupeKey("o1", "public", false, "acme", "alice"), s: sup });
    await waitFor("the migrated key's stamp in KV", async () => (await v2.kv(`art:${x.k}`)) === want);
  } finally {
    await v2.dispose();
    await rm(persist, { recursive: true, force: true });
  }
});

test("wrangler deploy --dry-run accepts wrangler/ledger.toml", async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), "dry-ledger-"));
  const { stdout } = await promisify(execFile)("node_modules/.bin/wrangler", ["deploy", "--dry-run", "--outdir", out, "-c", "wrangler/ledger.toml"], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    maxBuffer: 1 << 24,
  });
  assert.match(stdout, /--dry-run: exiting now/);
  for (const b of ["env.LEDGER (Ledger)", "Durable Object", "ARTIFACT_STATE", "LEDGER_SHARDS"]) assert.ok(stdout.includes(b), `${b} missing from the dry run`);
  assert.ok((await readdir(out)).some((f) => f.endsWith(".wasm")), "no wasm in the bundle");
});
