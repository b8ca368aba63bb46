// Helpers for the specs of ingest's per-key state and of answers to requests that stopped early:
// bodies held open, raw HTTP/1.1 requests that never finish their body, the lines an answer says
// were accepted, and the two write-order scenarios of security issue 12 (items 11 and 12) as
// functions of a harness, so the Durable-Object ledger can run them unchanged on its own stack.
import assert from "node:assert/strict";
import net from "node:net";
import { post, ndjson, fresh } from "./ingest.mjs";
import { fetchContent } from "./content.mjs";
import { mint } from "./token.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A request body that sends `text`, then stays open `holdMs` before it ends (chunked upload). */
export function heldBody(text, holdMs) {
  let step = 0;
  return new ReadableStream({
    async pull(c) {
      if (step++ === 0) return c.enqueue(new TextEncoder().encode(text));
      await sleep(holdMs);
      c.close();
    },
  });
}

/**
 * A raw HTTP/1.1 POST to 127.0.0.1:`port` that announces `contentLength` bytes and sends the
 * `pieces` (strings or Buffers) `gapMs` apart, then keeps the connection open without sending
 * the rest. Resolves to { status, headers (Map, lower-case names), text, body, ms } once an
 * answer arrived; rejects after `timeoutMs` without one.
 */
export function shortBody(port, path, { headers = {}, pieces, contentLength, gapMs = 0, timeoutMs = 20_000 }) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const got = [];
    const s = net.connect(port, "127.0.0.1", async () => {
      const head = [`POST ${path} HTTP/1.1`, "Host: localhost", `Content-Length: ${contentLength}`];
      for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
      s.write(`${head.join("\r\n")}\r\n\r\n`);
      for (const p of pieces) {
        if (got.length || s.destroyed) return;
        s.write(p);
        if (gapMs) await sleep(gapMs);
      }
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      const all = Buffer.concat(got).toString("utf8");
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const [statusLine, ...lines] = all.slice(0, end).split("\r\n");
      const hdrs = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      let text = all.slice(end + 4);
      if (/chunked/i.test(hdrs.get("transfer-encoding") ?? "")) {
        let out = "";
        for (let t = text; ;) {
          const nl = t.indexOf("\r\n");
          const n = parseInt(t.slice(0, nl), 16);
          if (!(n > 0)) break;
          out += t.slice(nl + 2, nl + 2 + n);
          t = t.slice(nl + 2 + n + 2);
        }
        text = out;
      } else if (hdrs.has("content-length") && Buffer.byteLength(text) < Number(hdrs.get("content-length"))) {
        return false;
      }
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        return false; // not all of it yet
      }
      clearTimeout(timer);
      s.destroy();
      resolve({ status: Number(statusLine.split(" ")[1]), headers: hdrs, text, body, ms: Date.now() - t0 });
      return true;
    };
    s.on("data", (c) => {
      got.push(c);
      finish();
    });
    s.on("error", (e) => {
      if (!finish()) {
        clearTimeout(timer);
        reject(e);
      }
    });
  });
}

/**
 * The lines an answer says were accepted (sent or deduped): every line up to
 * `sent_through_line` (all lines for a complete answer: `total`) that is not in
 * `rejected_lines` or `unsent_lines`. `total` is the number of lines of the body; every line is
 * a record in these specs.
 */
export function acceptedLines(body, total) {
  const through = body.sent_through_line ?? total;
  const out = new Set((body.rejected_lines ?? []).map((r) => r.line).concat(body.unsent_lines ?? []));
  const lines = [];
  for (let l = 1; l <= through; l++) if (!out.has(l)) lines.push(l);
  return lines;
}

// ---- The write-order scenarios (security issue 12, items 11 and 12) ----
//
// `h` is a harness whose ingest writes reach tables serve reads (`start({ standin: true })`):
// `h.flush(mode)` commits. Each scenario asserts on what ingest answers and on what serve reads
// back, plain (cache allowed) and `?fresh=true` (the table).

const writer = () => mint({ org: "acme", sub: "alice", scopes: ["write:*"] });
const reader = () => mint({ org: "acme", sub: "alice", scopes: ["read:*"] });

async function readBoth(h, key) {
  const plain = await fetchContent(h, `/$.content/${key}.md`, { token: reader() });
  const fresh = await fetchContent(h, `/$.content/${key}.json?fresh=true`, { token: reader() });
  assert.equal(plain.status, 200, plain.text);
  assert.equal(fresh.status, 200, fresh.text);
  return { plain: plain.text, source: plain.headers.get("x-artifact-source"), fresh: fresh.body.markdown };
}

/**
 * Item 11: an acknowledged write never became visible. Request 1 sends A as a chunked body held
 * open `holdMs` (its ts is stamped when it starts); request 2 sends B and is answered; request 1
 * then finishes. B is newest (by ts) and is read. Request 3 sends A again: it is the last
 * acknowledged write, so it must be sent (not deduped against the stale state request 1 left)
 * and read.
 */
export async function slowOlderWriteFinishesLast(h, { holdMs = 3_000 } = {}) {
  const id = fresh("order");
  const key = `docs/guide/${id}`;
  const line = (markdown) => ndjson([{ ns: "docs", type: "guide", id, markdown }]);
  const first = post(h, heldBody(line("A"), holdMs), { token: writer(), init: { duplex: "half" } });
  await sleep(300); // request 1 has started (and stamped its ts)
  const second = await post(h, line("B"), { token: writer() });
  assert.equal(second.status, 200, second.text);
  assert.equal(second.body.accepted, 1);
  const done = await first;
  assert.equal(done.status, 200, done.text);
  assert.deepEqual([done.body.accepted, done.body.deduped], [1, 0], "request 1's A was sent");
  await h.flush("build");
  const afterTwo = await readBoth(h, key);
  assert.deepEqual([afterTwo.plain, afterTwo.fresh], ["B", "B"], "B carries the newer ts");

  const third = await post(h, line("A"), { token: writer() });
  assert.equal(third.status, 200, third.text);
  assert.deepEqual([third.body.accepted, third.body.deduped], [1, 0], "A is not deduped against the older write's state");
  await h.flush("build");
  const last = await readBoth(h, key);
  assert.deepEqual([last.plain, last.fresh], ["A", "A"], "the last acknowledged write is what is read");
}

/**
 * Item 12: a cached read served an older version. Bulk A at ts 2020, read twice (the second
 * from the cache); bulk B at ts 2021; bulk A at ts 2020 again. The state must stay at B's
 * generation, so the cache entry made for A is never reachable again: plain and fresh reads
 * both answer B.
 */
export async function olderBulkRewriteAfterNewer(h) {
  const id = fresh("bulk");
  const key = `docs/guide/${id}`;
  const bulk = async (markdown, ts) => {
    const r = await post(h, ndjson([{ ns: "docs", type: "guide", id, markdown, ts }]), { token: writer(), mode: "bulk" });
    assert.equal(r.status, 200, r.text);
    await h.flush("bulk");
    return r;
  };
  await bulk("A", "2020-01-01T00:00:00Z");
  await readBoth(h, key);
  await sleep(100);
  const cached = await readBoth(h, key);
  assert.equal(cached.plain, "A");
  assert.equal(cached.source, "cache", "A is cached");
  await bulk("B", "2021-01-01T00:00:00Z");
  assert.deepEqual(Object.values(await readBoth(h, key)).slice(0, 1), ["B"]);
  const again = await bulk("A", "2020-01-01T00:00:00Z");
  assert.equal(again.body.accepted, 1);
  for (let i = 0; i < 2; i++) {
    const r = await readBoth(h, key);
    assert.deepEqual([r.plain, r.fresh], ["B", "B"], `read ${i + 1}: the older rewrite never brings back A's cache entry`);
    await sleep(100);
  }
}
