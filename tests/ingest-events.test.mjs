// Events on publish (#18, docs/ingest.md "Events"): after a chunk's writes are confirmed, ingest
// sends what changed to the optional ARTIFACT_EVENTS queue — {v: 1, events: [{ref, ts, mode,
// content_hash, deleted}]} — deduped records left out, split under the queue's 128 KB message
// limit. Consumed here by a real Miniflare queue consumer. A queue that refuses every send never
// fails the ingest (the batch is counted in /$.health); unbound, nothing is sent.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";
import { post, del, ndjson, rec, fresh } from "./support/ingest.mjs";
import { mint } from "./support/token.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `h.published` holds at least `n` events; the events. */
async function eventsAfter(h, from, n) {
  for (let i = 0; i < 200; i++) {
    const events = h.published.slice(from).flatMap((m) => m.events);
    if (events.length >= n) return events;
    await sleep(25);
  }
  return h.published.slice(from).flatMap((m) => m.events);
}

const health = async (h) => (await (await h.ingest("/$.health")).json());

describe("events on publish", () => {
  let h;
  before(async () => {
    h = await start({ publishEvents: true });
  });
  after(async () => {
    await h?.dispose();
  });

  test("a confirmed write is an event with its ref, ts, mode and content hash; a dedupe is not; a delete is", async () => {
    const token = mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
    const ids = [fresh("ev"), fresh("ev")];
    const from = h.published.length;
    h.recorder.reset();
    const r = await post(h, ndjson(ids.map((id) => rec(id))), { token, mode: "preview" });
    assert.equal(r.status, 200, r.text);
    const events = await eventsAfter(h, from, 2);
    const sent = h.recorder.accepted("preview");
    assert.equal(sent.length, 2);
    assert.deepEqual(
      events,
      sent.map((s) => ({ ref: `docs/guide/${s.id}`, ts: s.ts, mode: "preview", content_hash: s.content_hash, deleted: false })),
    );
    // The same body again: deduped, no event.
    const again = await post(h, ndjson(ids.map((id) => rec(id))), { token, mode: "preview" });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.deduped, 2, again.text);
    // A delete: an event with deleted true.
    const d = await del(h, `docs/guide/${ids[0]}`, { token, mode: "build" });
    assert.equal(d.status, 200, d.text);
    const after = await eventsAfter(h, from, 3);
    assert.equal(after.length, 3, JSON.stringify(after));
    assert.equal(after[2].ref, `docs/guide/${ids[0]}`);
    assert.equal(after[2].deleted, true);
    assert.equal(after[2].mode, "build");
    assert.match(after[2].content_hash, /^[0-9a-f]{64}$/);
    assert.equal((await health(h)).events_failed, 0);
    assert.ok((await health(h)).events_sent >= 2);
  });

  test("a large body's events are split under the 128 KB message limit, every one delivered once", async () => {
    const token = mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
    const base = fresh("big");
    // Ids of ~200 bytes: 1,500 events ≈ 400 KB of events.
    const ids = Array.from({ length: 1500 }, (_, i) => `${base}-${String(i).padStart(4, "0")}-${"x".repeat(160)}`);
    const from = h.published.length;
    const r = await post(h, ndjson(ids.map((id) => rec(id, { markdown: "m" }))), { token, mode: "bulk" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, 1500, r.text);
    const events = await eventsAfter(h, from, 1500);
    assert.equal(events.length, 1500);
    assert.deepEqual(new Set(events.map((e) => e.ref)), new Set(ids.map((id) => `docs/guide/${id}`)));
    const messages = h.published.slice(from);
    assert.ok(messages.length >= 4, `${messages.length} messages`);
    for (const m of messages) {
      assert.equal(m.v, 1);
      assert.ok(Buffer.byteLength(JSON.stringify(m)) <= 128 * 1024, `a message of ${Buffer.byteLength(JSON.stringify(m))} bytes`);
    }
  });
});

test("a full queue never fails the ingest: the write is accepted and the failure counted", async () => {
  const h = await start({ publishEvents: "full" });
  try {
    const r = await post(h, ndjson([rec(fresh("full"))]), { token: mint({ org: "acme", sub: "alice", scopes: ["write:*"] }), mode: "build" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.accepted, 1, r.text);
    assert.equal(h.recorder.accepted("build").length, 1, "the record reached the stream");
    const hl = await health(h);
    assert.equal(hl.events_failed, 1, JSON.stringify(hl));
    assert.equal(hl.events_sent, 0);
  } finally {
    await h.dispose();
  }
});

test("unbound: nothing is sent", async () => {
  const h = await start();
  try {
    const r = await post(h, ndjson([rec(fresh("off"))]), { token: mint({ org: "acme", sub: "alice", scopes: ["write:*"] }) });
    assert.equal(r.status, 200, r.text);
    const hl = await health(h);
    assert.equal(hl.events_sent, 0);
    assert.equal(hl.events_failed, 0);
    assert.equal(h.published.length, 0);
  } finally {
    await h.dispose();
  }
});
