// The JS client (clients/js, #19) against the Miniflare stack: ingest → stand-in → serve on real
// ports, one stack for the file. In Node (its fetch streams request bodies: `duplex: "half"`), and
// inside a Worker of a second Miniflare (defined here) calling ingest and serve by fetch. Also
// serve's opt-in CORS: a namespace mapped to a tenant that lists an origin (docs/serve.md).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { start, COMPATIBILITY_DATE } from "./support/harness.mjs";
import { freePort } from "./support/content.mjs";
import { LONG_ROLLS } from "./support/standin.mjs";
import { mint } from "./support/token.mjs";
import { ArtifactsClient, ProblemError, supportsRequestStreams } from "../clients/js/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ALLOWED = "https://app.example";
/** Namespaces the operator maps to tenants (serve's NAMESPACE_TENANTS). */
const WEB_NS = "jsc-web";
const PLAIN_NS = "jsc-plain";

let h, ingestUrl, serveUrl;
const token = (org) => mint({ org, sub: "dev", scopes: ["write:*", "read:*"] });

before(async () => {
  const [ingestPort, servePort] = [await freePort(), await freePort()];
  h = await start({
    standin: true,
    ports: { ingest: ingestPort, serve: servePort },
    serveVars: { METADATA_TTL_SECONDS: "0", NAMESPACE_TENANTS: `${WEB_NS}=webco,${PLAIN_NS}=plainco` },
    standinVars: LONG_ROLLS,
  });
  [ingestUrl, serveUrl] = [`http://127.0.0.1:${ingestPort}`, `http://127.0.0.1:${servePort}`];
  const kv = await h.mf.getKVNamespace("ARTIFACT_STATE", "serve");
  await kv.put("tenant:webco", JSON.stringify({ cors_origins: [ALLOWED, "http://localhost:5173"] }));
  await kv.put("tenant:plainco", JSON.stringify({ cache: { fresh_seconds: 60 } }));
});
after(async () => {
  await h?.dispose();
});

const pad = (i) => String(i).padStart(3, "0");

// `make soak` runs this file with JS_CLIENT_SOAK_RECORDS=3000: that many records through putMany,
// every one read back (skipped in `make test`, which has the 300-record test below).
const SOAK = Number(process.env.JS_CLIENT_SOAK_RECORDS || 0);
test(`soak: putMany of ${SOAK} records, every one read back with its body`, { skip: SOAK === 0 && "JS_CLIENT_SOAK_RECORDS unset" }, async () => {
  const ns = "jsc-soak";
  const client = new ArtifactsClient({ ingestUrl, serveUrl, token: token("soakco") });
  const body = (i) => `# Soak ${i}\n${"x".repeat(i % 997)}\n`;
  async function* records() {
    for (let i = 0; i < SOAK; i++) yield { ns, type: "doc", id: `s/${String(i).padStart(6, "0")}`, markdown: body(i) };
  }
  const results = [];
  const summary = await client.putMany(records(), { mode: "build", maxRecords: 500, onResult: (r) => results.push(r) });
  assert.equal(summary.lines, SOAK);
  assert.equal(summary.accepted, SOAK, JSON.stringify(summary.rejected_lines?.slice(0, 3)));
  assert.deepEqual(results.map((r) => r.line), Array.from({ length: SOAK }, (_, i) => i + 1));
  await h.flush();
  let read = 0;
  for (let i = 0; i < SOAK; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(SOAK, i + 50); j++) batch.push(client.get(`${ns}/doc/s/${String(j).padStart(6, "0")}`, "md", { fresh: true }).then((r) => [j, r.body]));
    for (const [j, got] of await Promise.all(batch)) {
      assert.equal(got, body(j), `record ${j}`);
      read++;
    }
  }
  assert.equal(read, SOAK);
  const listed = [];
  for await (const item of client.listAll(ns, "doc", { prefix: "s/", limit: 1000 })) listed.push(item.id);
  assert.equal(listed.length, SOAK, "every record listed once");
});

test("Node: put, putMany with per-line results, get fresh, list with a prefix and cursors, typed problems", async () => {
  const ns = "jsc-node";
  const client = new ArtifactsClient({ ingestUrl, serveUrl, token: token("nodeco") });
  assert.equal(supportsRequestStreams(), true, "Node's fetch streams request bodies");
  assert.equal(client.streaming, true);

  const one = await client.put({ ns, type: "doc", id: "intro", markdown: "# Hello", visibility: "public" }, { mode: "build" });
  assert.equal(one.accepted, 1);
  assert.equal(one.rejected, 0);

  // 300 records from an async iterable, 120 a request; line 151 is not path-safe.
  const BAD = 151;
  async function* records() {
    for (let i = 0; i < 300; i++) {
      await null;
      yield i + 1 === BAD ? { ns, type: "doc", id: "bad id", markdown: "x" } : { ns, type: "doc", id: `page-${pad(i)}`, markdown: `# Page ${i}\n` };
    }
  }
  const results = [];
  const summary = await client.putMany(records(), { mode: "build", maxRecords: 120, onResult: (r) => results.push(r) });
  assert.equal(summary.requests, 3);
  assert.equal(summary.lines, 300);
  assert.equal(summary.accepted, 299);
  assert.equal(summary.rejected, 1);
  assert.equal(results.length, 300);
  assert.deepEqual(results.map((r) => r.line), Array.from({ length: 300 }, (_, i) => i + 1));
  const rejected = results.filter((r) => r.status === "rejected");
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].line, BAD);
  assert.equal(rejected[0].field, "id");
  assert.match(rejected[0].reason, /./);
  assert.deepEqual(summary.rejected_lines.map((r) => r.line), [BAD]);

  // Without request streaming: the same in batches (each request's body whole).
  const batched = new ArtifactsClient({ ingestUrl, serveUrl, token: token("nodeco"), streaming: false });
  const b = await batched.putMany(Array.from({ length: 50 }, (_, i) => ({ ns, type: "batch", id: `b-${pad(i)}`, markdown: `b${i}` })), { maxRecords: 20 });
  assert.equal(b.requests, 3);
  assert.equal(b.accepted, 50);

  // The same records again: every line deduped, reported as such.
  const again = [];
  const second = await client.putMany((function* () {
    for (let i = 0; i < 10; i++) yield { ns, type: "doc", id: `page-${pad(i)}`, markdown: `# Page ${i}\n` };
  })(), { onResult: (r) => again.push(r.status) });
  assert.equal(second.deduped, 10);
  assert.deepEqual(again, Array(10).fill("deduped"));

  await h.flush();
  const md = await client.get(`${ns}/doc/page-007`, "md", { fresh: true });
  assert.equal(md.body, "# Page 7\n");
  assert.match(md.contentType, /^text\/markdown/);
  assert.ok(md.etag);
  const json = await client.get({ ns, type: "doc", id: "page-042" }, "json");
  assert.equal(json.body.markdown, "# Page 42\n");
  assert.equal(json.body.owner_org, "nodeco");

  // A prefix, followed over pages of 7: page-100 … page-199 without the rejected page-150.
  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.list(ns, "doc", { prefix: "page-1", limit: 7, cursor });
    for (const item of page.items) seen.push(item.id);
    cursor = page.cursor;
    pages++;
  } while (cursor);
  const want = Array.from({ length: 100 }, (_, i) => `page-${100 + i}`).filter((id) => id !== "page-150");
  assert.deepEqual(seen, want);
  assert.ok(pages >= 14, `${pages} pages`);
  const all = [];
  for await (const item of client.listAll(ns, "doc", { limit: 1000 })) all.push(item.id);
  assert.equal(all.length, 300); // intro + 299 pages

  // Problems come back typed.
  const missing = await client.get(`${ns}/doc/nope`, "md").catch((e) => e);
  assert.ok(missing instanceof ProblemError, String(missing));
  assert.equal(missing.status, 404);
  assert.equal(missing.slug, "not-found");
  assert.match(missing.type, /\/not-found$/);
  assert.equal(typeof missing.title, "string");
  const anon = new ArtifactsClient({ ingestUrl, serveUrl });
  const refused = await anon.put({ ns, type: "doc", id: "x", markdown: "x" }).catch((e) => e);
  assert.ok(refused instanceof ProblemError);
  assert.equal(refused.status, 401);
  assert.equal(refused.members.status, 401);
  const noToken = await anon.get(`${ns}/doc/intro`, "md", { fresh: true }).catch((e) => e);
  assert.equal(noToken.slug, "token-required");
  const invalid = await client.put({ ns, type: "doc", id: "bad id", markdown: "x" }).catch((e) => e);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.slug, "invalid-records");
  assert.equal(invalid.members.rejected_lines[0].field, "id");
});

// The worker: the client module next to a tiny entry that runs one call per request.
const WORKER = `
import { ArtifactsClient, supportsRequestStreams } from "./client.js";
export default {
  async fetch(req, env) {
    const client = new ArtifactsClient({ ingestUrl: env.INGEST_URL, serveUrl: env.SERVE_URL, token: env.TOKEN });
    const url = new URL(req.url);
    try {
      if (url.pathname === "/put") {
        const records = await req.json();
        const results = [];
        const summary = await client.putMany((async function* () { yield* records; })(), { onResult: (r) => results.push(r) });
        return Response.json({ summary, results, streaming: client.streaming, detected: supportsRequestStreams() });
      }
      if (url.pathname === "/get") {
        const got = await client.get(url.searchParams.get("ref"), url.searchParams.get("ext"), { fresh: true });
        return Response.json({ body: got.body, etag: got.etag });
      }
      if (url.pathname === "/list") return Response.json(await client.list(url.searchParams.get("ns"), "doc", { prefix: url.searchParams.get("prefix") ?? "" }));
      if (url.pathname === "/missing") {
        try {
          await client.get(url.searchParams.get("ref"), "md");
          return Response.json({ thrown: false });
        } catch (e) {
          return Response.json({ thrown: e.name, status: e.status, slug: e.slug });
        }
      }
      return new Response("no such test route", { status: 404 });
    } catch (e) {
      return Response.json({ error: String(e && e.stack || e) }, { status: 500 });
    }
  },
};`;

test("Worker: the client inside a Worker publishes through ingest and reads through serve", async () => {
  const ns = "jsc-worker";
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: path.join(root, "jsc-test-worker.mjs"), contents: WORKER },
      { type: "ESModule", path: path.join(root, "client.js"), contents: readFileSync(path.join(root, "clients/js/index.js"), "utf8") },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { INGEST_URL: ingestUrl, SERVE_URL: serveUrl, TOKEN: token("workerco") },
  });
  try {
    const call = async (p, init) => {
      const res = await mf.dispatchFetch(`http://worker${p}`, init);
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    };
    const records = Array.from({ length: 40 }, (_, i) => ({ ns, type: "doc", id: `w/${pad(i)}`, markdown: `worker ${i}`, visibility: "public" }));
    records.push({ ns, type: "doc", id: "w/bad", markdown: "x", owner_org: "someone-else" });
    const put = await call("/put", { method: "POST", body: JSON.stringify(records) });
    assert.equal(put.streaming, true, "workerd streams request bodies");
    assert.equal(put.summary.accepted, 40, JSON.stringify(put.summary));
    assert.equal(put.results.length, 41);
    assert.deepEqual(put.results.filter((r) => r.status === "rejected").map((r) => [r.line, r.field]), [[41, "owner_org"]]);
    await h.flush();
    const got = await call(`/get?ref=${encodeURIComponent(`${ns}/doc/w/007`)}&ext=md`);
    assert.equal(got.body, "worker 7");
    const listed = await call(`/list?ns=${ns}&prefix=w/01`);
    assert.deepEqual(listed.items.map((i) => i.id), Array.from({ length: 10 }, (_, i) => `w/01${i}`));
    assert.equal(listed.cursor, null);
    const missing = await call(`/missing?ref=${ns}/doc/w/none`);
    assert.deepEqual(missing, { thrown: "ProblemError", status: 404, slug: "not-found" });
  } finally {
    await mf.dispose();
  }
});

test("CORS: a preflight and a read from an allowed origin get the grant; other origins and tenants get none", async () => {
  const write = new ArtifactsClient({ ingestUrl, serveUrl, token: token("webco") });
  await write.put({ ns: WEB_NS, type: "doc", id: "page", markdown: "# web", visibility: "public" });
  const plain = new ArtifactsClient({ ingestUrl, serveUrl, token: token("plainco") });
  await plain.put({ ns: PLAIN_NS, type: "doc", id: "page", markdown: "# plain", visibility: "public" });
  await plain.put({ ns: "jsc-unmapped", type: "doc", id: "page", markdown: "# unmapped", visibility: "public" });
  await h.flush();

  const preflight = (p, origin) =>
    fetch(`${serveUrl}${p}`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
  const get = (p, origin) => fetch(`${serveUrl}${p}`, { headers: { origin } });
  const acao = (res) => res.headers.get("access-control-allow-origin");

  for (const p of [`/$.content/${WEB_NS}/doc/page.md`, `/$.content/${WEB_NS}/doc/`]) {
    const pre = await preflight(p, ALLOWED);
    assert.equal(pre.status, 204, p);
    assert.equal(acao(pre), ALLOWED, p);
    assert.match(pre.headers.get("access-control-allow-methods"), /GET/);
    assert.match(pre.headers.get("access-control-allow-headers"), /authorization/);
    assert.match(pre.headers.get("vary") ?? "", /origin/i);
    const res = await get(p, ALLOWED);
    assert.equal(res.status, 200, p);
    assert.equal(acao(res), ALLOWED, p);
    assert.match(res.headers.get("vary") ?? "", /origin/i, p);
    assert.match(res.headers.get("access-control-expose-headers") ?? "", /etag/);
    if (p.endsWith(".md")) assert.equal(await res.text(), "# web");
    else assert.deepEqual((await res.json()).items.map((i) => i.id), ["page"]);
    // The second listed origin of the tenant works too; a cached answer gets the grant as well.
    assert.equal(acao(await get(p, "http://localhost:5173")), "http://localhost:5173");

    // Another origin: the same answer, no grant.
    const otherPre = await preflight(p, "https://evil.example");
    assert.equal(otherPre.status, 204);
    assert.equal(acao(otherPre), null);
    const other = await get(p, "https://evil.example");
    assert.equal(other.status, 200);
    assert.equal(acao(other), null);
    assert.doesNotMatch(other.headers.get("vary") ?? "", /origin/i);
    await other.arrayBuffer();
  }
  // A tenant without the setting, and a namespace no tenant is mapped to: no grant for anyone.
  for (const ns of [PLAIN_NS, "jsc-unmapped"]) {
    for (const p of [`/$.content/${ns}/doc/page.md`, `/$.content/${ns}/doc/`]) {
      const pre = await preflight(p, ALLOWED);
      assert.equal(pre.status, 204, p);
      assert.equal(acao(pre), null, p);
      const res = await get(p, ALLOWED);
      assert.equal(res.status, 200, p);
      assert.equal(acao(res), null, p);
      await res.arrayBuffer();
    }
  }
  // Batch and sign are not opened: OPTIONS there is still a 405.
  assert.equal((await preflight("/$.content/batch", ALLOWED)).status, 405);
});

test("putMany waits out a 429 and resends only a 503's unsent lines, numbering results over the input", async () => {
  // A scripted ingest: the first request is a 429, the next a 503 naming lines 2 and 4 unsent,
  // then every request is accepted (line 1 of the resend rejected).
  const calls = [];
  const answers = [
    () => new Response(JSON.stringify({ type: "https://artifacts.dev/problems/rate-limited", title: "Too Many Requests", status: 429, detail: "slow down" }), { status: 429, headers: { "content-type": "application/problem+json", "retry-after": "0" } }),
    () => new Response(JSON.stringify({ type: "https://artifacts.dev/problems/pipeline-unavailable", title: "Service Unavailable", status: 503, detail: "x", accepted: 2, deduped: 0, deduped_lines: [], rejected: 0, rejected_lines: [], unsent: 2, unsent_lines: [2, 4] }), { status: 503, headers: { "content-type": "application/problem+json", "retry-after": "0" } }),
    () => Response.json({ mode: "build", accepted: 1, deduped: 0, deduped_lines: [], rejected: 1, rejected_lines: [{ line: 1, field: "id", reason: "bad" }] }, { status: 207 }),
  ];
  const fetch = async (url, init) => {
    let body = init.body;
    if (typeof body !== "string") body = await new Response(body).text();
    calls.push({ url, body, key: init.headers["x-idempotency-key"] });
    return answers[Math.min(calls.length - 1, answers.length - 1)]();
  };
  const client = new ArtifactsClient({ ingestUrl: "http://ingest.test", token: "t", fetch });
  const results = [];
  const recs = [1, 2, 3, 4].map((i) => ({ ns: "n", type: "t", id: `r${i}`, markdown: `${i}` }));
  const summary = await client.putMany(recs, { onResult: (r) => results.push(r) });
  assert.equal(calls.length, 3);
  assert.equal(calls[0].body, calls[1].body, "the 429 is resent as it was");
  assert.equal(calls[0].key, calls[1].key, "under the same idempotency key");
  assert.deepEqual(calls[2].body.trim().split("\n").map((l) => JSON.parse(l).id), ["r2", "r4"]);
  assert.deepEqual(results, [
    { line: 1, status: "accepted" },
    { line: 2, status: "rejected", field: "id", reason: "bad" },
    { line: 3, status: "accepted" },
    { line: 4, status: "accepted" },
  ]);
  assert.equal(summary.accepted, 3);
  assert.equal(summary.rejected, 1);
  // A problem the client does not retry comes back typed, with its members.
  const refusing = new ArtifactsClient({ ingestUrl: "http://ingest.test", fetch: async () => new Response(JSON.stringify({ type: "https://artifacts.dev/problems/too-many-artifacts", title: "Payload Too Large", status: 413, detail: "d", limit: 2 }), { status: 413, headers: { "content-type": "application/problem+json" } }) });
  const e = await refusing.putMany(recs).catch((x) => x);
  assert.ok(e instanceof ProblemError);
  assert.deepEqual([e.status, e.slug, e.title, e.detail, e.members.limit], [413, "too-many-artifacts", "Payload Too Large", "d", 2]);
});
