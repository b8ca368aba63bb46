// The `artifacts` CLI (cli/, #19) against the Miniflare stack: ingest → stand-in → serve on real
// ports, the CLI as a child process (stdout/stderr are pipes: not a terminal). One stack for the
// file; each test pushes as its own org, so the per-org rate limit (RATE a minute) is its own.
// The rate-limited push starts first and runs while the other tests do: its wait for the next
// minute (Retry-After) overlaps them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { start } from "./support/harness.mjs";
import { freePort, fetchContent } from "./support/content.mjs";
import { post, ndjson, fresh } from "./support/ingest.mjs";
import { LONG_ROLLS } from "./support/standin.mjs";
import { mint } from "./support/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const targetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? "target");
const BIN = path.join(targetDir, "debug", "artifacts");
/** Requests a minute per org (the stack's RATE_LIMITER). */
const RATE = 30;
/** Pages of the first test's directory: a few hundred in `make test`, thousands in `make soak`. */
const PAGES = Number(process.env.CLI_TEST_PAGES || 300);
/** Records a request there: about a dozen requests whatever the size, well under RATE. */
const PER_REQUEST = Math.max(25, Math.ceil((PAGES * 1.3) / 12));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let h, ingestPort, servePort, work;
const writer = (org) => mint({ org, sub: "ci", scopes: ["write:*", "read:*"] });

/** Runs the CLI; resolves to { code, signal, stdout, stderr }. `onStart(child)` sees the process. */
function cli(args, { token, url = `http://127.0.0.1:${ingestPort}`, onStart, input } = {}) {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ARTIFACTS_URL: url, ARTIFACTS_READ_URL: `http://127.0.0.1:${servePort}` };
    if (token) env.ARTIFACTS_TOKEN = token;
    const child = spawn(BIN, args, { cwd: work, env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (input !== undefined) {
      // A CLI that exits before reading stdin closes the pipe: not the test's failure.
      child.stdin.on("error", () => {});
      child.stdin.end(input);
    }
    onStart?.(child);
  });
}

/** Plain output: no escape sequences, carriage returns or other control characters. */
function assertPlain(text, what) {
  const bad = [...text].find((c) => c !== "\n" && /[\u0000-\u001f\u007f-\u009f]/.test(c));
  assert.equal(bad, undefined, `${what} holds control character ${JSON.stringify(bad)}: ${JSON.stringify(text.slice(0, 400))}`);
}

/**
 * A nested directory of `count` pages: markdown everywhere, an html sibling every 3rd (one
 * record, two fields), a .d.ts + .mjs pair and an .mdast.json every 10th, and one file that maps
 * to nothing. Returns { dir, files: {rel: text}, records: {id: {field: text}} }.
 */
function generate(name, count, salt = "") {
  const dir = path.join(work, name);
  const files = {};
  for (let i = 0; i < count; i++) {
    const base = `guide/part-${i % 7}/sec-${i % 3}/page-${i}`;
    files[`${base}.md`] = `# Page ${i}${salt}\n\nGrüße ✓ ${"lorem ipsum ".repeat(i % 40)}\n`;
    if (i % 3 === 0) files[`${base}.html`] = `<p>page ${i}${salt}</p>`;
    if (i % 10 === 0) {
      files[`api/mod-${i}.d.ts`] = `export declare const v${i}: number;\n`;
      files[`api/mod-${i}.mjs`] = `export const v${i} = ${i};\n`;
      files[`ast/page-${i}.mdast.json`] = JSON.stringify({ type: "root", children: [{ type: "text", value: `p${i}${salt}` }] });
    }
  }
  files["assets/logo.png"] = "not a field";
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return { dir, files };
}

const FIELD = [[".mdast.json", "mdast"], [".d.ts", "dts"], [".html", "html"], [".mjs", "esm"], [".md", "markdown"]];
function recordsOf(files) {
  const out = {};
  for (const [rel, text] of Object.entries(files)) {
    const hit = FIELD.find(([ext]) => rel.endsWith(ext));
    if (!hit) continue;
    const id = rel.slice(0, -hit[0].length);
    (out[id] ??= {})[hit[1]] = hit[1] === "mdast" ? JSON.parse(text) : text;
  }
  return out;
}

/** Every record reads back through serve with every field it was pushed with. */
async function assertReadsBack(ns, type, files, token) {
  const records = recordsOf(files);
  const ids = Object.keys(records);
  for (let i = 0; i < ids.length; i += 16) {
    await Promise.all(ids.slice(i, i + 16).map(async (id) => {
      const r = await fetchContent(h, `/$.content/${ns}/${type}/${id}.json`, { token });
      assert.equal(r.status, 200, `${id}.json: ${r.text.slice(0, 200)}`);
      for (const [field, value] of Object.entries(records[id])) assert.deepEqual(r.body[field], value, `${id} ${field}`);
    }));
  }
  return ids.length;
}

/** Rows of `ns` in the build table: id → content hashes of its rows. */
async function rowsOf(ns) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "standin");
  const listed = await r2.list({ prefix: "artifacts/build/data/" });
  const byId = new Map();
  for (const o of listed.objects) {
    const file = await (await r2.get(o.key)).arrayBuffer();
    for (const row of await parquetReadObjects({ file, columns: ["ns", "id", "content_hash"], compressors })) {
      if (row.ns !== ns) continue;
      if (!byId.has(row.id)) byId.set(row.id, []);
      byId.get(row.id).push(row.content_hash);
    }
  }
  return byId;
}

/** A forwarding proxy to ingest that holds each request `delayMs` (settable) and records idempotency keys. */
async function slowProxy(delayMs) {
  const keys = [];
  const proxy = { delayMs, keys };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      keys.push(req.headers["x-idempotency-key"]);
      await sleep(proxy.delayMs);
      const up = http.request({ host: "127.0.0.1", port: ingestPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on("error", () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(proxy, { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) });
}

let rateLimited; // the background push of the rate-limit test

before(async () => {
  execFileSync("cargo", ["build", "-q", "-p", "artifacts-cli"], { cwd: root, stdio: "inherit" });
  work = mkdtempSync(path.join(tmpdir(), "artifacts-cli-"));
  [ingestPort, servePort] = [await freePort(), await freePort()];
  h = await start({
    standin: true,
    rateLimit: RATE,
    ports: { ingest: ingestPort, serve: servePort },
    serveVars: { METADATA_TTL_SECONDS: "0" },
    standinVars: LONG_ROLLS,
  });
  rateLimited = startRateLimited();
  rateLimited.catch(() => {}); // seen by its test; never an unhandled rejection
});
after(async () => {
  // The background push must be over before the stack goes (a filtered run waits for it here).
  await rateLimited?.catch(() => {});
  await h?.dispose();
  if (work && !process.env.CLI_TEST_KEEP) rmSync(work, { recursive: true, force: true });
});

// The tenant's minute is used up before the push starts, so its first request is a 429 for sure.
async function startRateLimited() {
  const org = fresh("rl").slice(0, 60);
  const ns = `cli-${org}`.slice(0, 100);
  const token = writer(org);
  const left = () => 60_000 - (Date.now() % 60_000);
  // The limiter's windows are wall-clock minutes: use up this one with time to spare, so the
  // push starts inside it (again in the next window if the minute ran out meanwhile).
  for (let round = 0; ; round++) {
    if (left() < 5_000) await sleep(left() + 200);
    for (let i = 0; i < RATE; i++) await post(h, ndjson([{ ns: "spent", type: "t", id: `x${round}-${i}`, markdown: "x" }]), { token });
    const refused = await post(h, ndjson([{ ns: "spent", type: "t", id: "y", markdown: "y" }]), { token });
    if (refused.status === 429 && left() > 2_000) break;
    assert.ok(round < 3, `could not use up the minute: ${refused.status} ${refused.text}`);
  }
  const g = generate(`rl-${org}`, 60);
  const started = Date.now();
  const run = await cli(["push", g.dir, "--ns", ns, "--type", "docs", "--max-records", "10", "--progress-every", "0", "--checkpoint", path.join(work, `rl.ckpt`)], { token });
  return { run, g, ns, token, seconds: (Date.now() - started) / 1000 };
}

let pushed; // the first test's push: { ns, g, token, run }

test("push a generated nested directory; every file reads back through serve; get and ls", async () => {
  const org = fresh("push").slice(0, 60);
  const ns = `cli-${org}`.slice(0, 100);
  const token = writer(org);
  const g = generate(`push-${org}`, PAGES);
  const run = await cli(["push", g.dir, "--ns", ns, "--type", "docs", "--visibility", "public", "--max-records", String(PER_REQUEST), "--json", "--checkpoint", path.join(work, "push.ckpt")], { token });
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const summary = JSON.parse(run.stdout);
  const records = Object.keys(recordsOf(g.files)).length;
  const mapped = Object.keys(g.files).length - 1;
  assert.equal(summary.finished, true);
  assert.equal(summary.files, mapped);
  assert.equal(summary.accepted, records);
  assert.equal(summary.written, records);
  assert.deepEqual(summary.rejected, []);
  assert.deepEqual(summary.skipped, ["assets/logo.png"]);
  assert.equal(summary.requests, Math.ceil(records / PER_REQUEST));
  assert.equal(existsSync(path.join(work, "push.ckpt")), false, "a finished push removes its checkpoint");
  await h.flush("build");
  assert.equal(await assertReadsBack(ns, "docs", g.files, token), records);
  pushed = { ns, g, token, run };

  // get: a nested id's markdown to stdout, an html to a file, --fresh with the token.
  const md = await cli(["get", `${ns}/docs/guide/part-3/sec-1/page-10.md`, "--fresh"], { token });
  assert.equal(md.code, 0, md.stderr);
  assert.equal(md.stdout, g.files["guide/part-3/sec-1/page-10.md"]);
  const out = path.join(work, "page-0.d.ts");
  const dts = await cli(["get", `${ns}/docs/api/mod-0.d.ts`, "-o", out]);
  assert.equal(dts.code, 0, dts.stderr);
  assert.equal(readFileSync(out, "utf8"), g.files["api/mod-0.d.ts"]);
  const missing = await cli(["get", `${ns}/docs/nope.md`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404/);
});

test("ls follows cursors: every id, in order, with --prefix and --json", async () => {
  const { ns, g, token } = pushed;
  const ids = Object.keys(recordsOf(g.files)).sort();
  // Many pages at any size (7 items a page at make test's).
  const all = await cli(["ls", `${ns}/docs/`, "--page-size", String(Math.max(7, Math.ceil(ids.length / 40)))], { token });
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(all.stdout.trim().split("\n"), ids);
  const some = await cli(["ls", `${ns}/docs`, "--prefix", "guide/part-2/", "--page-size", "5", "--json"], { token });
  assert.equal(some.code, 0, some.stderr);
  const items = some.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(items.map((i) => i.id), ids.filter((id) => id.startsWith("guide/part-2/")));
  assert.ok(items.every((i) => i.visibility === "public" && typeof i.content_hash === "string"));
});

test("kill -9 in the middle, run again: finishes, every file reads back, no file has two versions", async (t) => {
  const org = fresh("kill").slice(0, 60);
  const ns = `cli-${org}`.slice(0, 100);
  const token = writer(org);
  const g = generate(`kill-${org}`, 200);
  const ckpt = path.join(work, "kill.ckpt");
  const args = ["push", g.dir, "--ns", ns, "--type", "docs", "--max-records", "10", "--concurrency", "2", "--progress-every", "0", "--resume-grace", "2", "--checkpoint", ckpt];
  const slow = await slowProxy(250);
  t.after(() => slow.close());
  let killedAfter = 0;
  const first = await cli(args, {
    token,
    url: slow.url,
    onStart: (child) => {
      const poll = setInterval(() => {
        // Requests settled so far (`{"sent":…}` lines mark requests only sent).
        const lines = existsSync(ckpt) ? readFileSync(ckpt, "utf8").split("\n").filter((l) => l.startsWith('{"accepted"')).length : 0;
        if (lines >= 3) {
          killedAfter = lines;
          clearInterval(poll);
          child.kill("SIGKILL");
        }
      }, 10);
      child.on("close", () => clearInterval(poll));
    },
  });
  assert.equal(first.signal, "SIGKILL", `the push ended before it was killed: ${first.stdout}`);
  const requests = Math.ceil(Object.keys(recordsOf(g.files)).length / 10);
  const done = readFileSync(ckpt, "utf8").split("\n").slice(1).filter(Boolean).map((l) => { try { return JSON.parse(l).key; } catch { return undefined; } }).filter(Boolean);
  assert.ok(killedAfter >= 3 && done.length < requests, `killed after ${done.length} of ${requests} requests`);
  assertPlain(first.stderr, "stderr of the killed push");
  assert.match(first.stderr, /^push: \d+\/\d+ files/m, "plain progress lines");

  // The same command again (the checkpoint is for this URL, target and source).
  slow.delayMs = 0;
  slow.keys.length = 0;
  const second = await cli(args, { token, url: slow.url });
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, new RegExp(`in ${requests} request\\(s\\) \\(${done.length} finished before, from the checkpoint\\)`));
  for (const k of done) assert.ok(!slow.keys.includes(k), "a request finished before the kill is not sent again");
  assert.equal(existsSync(ckpt), false);
  assertPlain(second.stdout + second.stderr, "output of the resumed push");

  await h.flush("build");
  await assertReadsBack(ns, "docs", g.files, token);
  const rows = await rowsOf(ns);
  assert.equal(rows.size, Object.keys(recordsOf(g.files)).length);
  for (const [id, hashes] of rows) assert.equal(new Set(hashes).size, 1, `${id} has ${new Set(hashes).size} different versions`);
  // What the kill left in flight was sent last (after --resume-grace), so it met its first copy's
  // stored answer or 409 instead of racing it: no row was written twice. The CLI reports those
  // requests and how many of their lines were written anew (a copy the kill cut off never
  // reached ingest; one that did is a replay), an upper bound of the rows that could repeat.
  const extra = [...rows.values()].reduce((n, hs) => n + hs.length - 1, 0);
  assert.equal(extra, 0, "identical rows written twice");
  const again = second.stdout.match(/^sent again: (\d+) request\(s\) the last run sent without an answer \((\d+) answered from ingest's stored answer\); (\d+) line\(s\) of them written anew/m);
  if (again) assert.ok(Number(again[1]) >= 1 && Number(again[3]) >= extra, second.stdout);
});

test("a rejected line is reported with its file name and the reason; exit 1", async () => {
  const org = fresh("rej").slice(0, 60);
  const ns = `cli-${org}`.slice(0, 100);
  const token = writer(org);
  const dir = path.join(work, `rej-${org}`);
  mkdirSync(path.join(dir, "big"), { recursive: true });
  writeFileSync(path.join(dir, "ok.md"), "# ok\n");
  writeFileSync(path.join(dir, "big/huge.md"), "x".repeat(1_100_000));
  const run = await cli(["push", dir, "--ns", ns, "--type", "docs", "--checkpoint", path.join(work, "rej.ckpt")], { token });
  assert.equal(run.code, 1, run.stderr + run.stdout);
  assert.match(run.stdout, /^accepted 1 \(written 1, deduped 0\), rejected 1$/m);
  assert.match(run.stdout, /^rejected big\/huge\.md: .*longer than the limit/m);
  assertPlain(run.stdout + run.stderr, "output");

  // NDJSON is sent as is; a bad line is named by file and line.
  writeFileSync(path.join(work, "in.ndjson"), ndjson([{ ns, type: "docs", id: "n1", markdown: "1" }, { ns, type: "docs", id: "bad id", markdown: "2" }]));
  const nd = await cli(["push", "in.ndjson", "--json", "--checkpoint", path.join(work, "nd.ckpt")], { token });
  assert.equal(nd.code, 1, nd.stderr + nd.stdout);
  const s = JSON.parse(nd.stdout);
  assert.equal(s.accepted, 1);
  assert.equal(s.rejected.length, 1);
  assert.equal(s.rejected[0].source, "in.ndjson:2");
  assert.match(s.rejected[0].reason, /^id: /);
  // `-`: NDJSON on stdin.
  const piped = await cli(["push", "-", "--json", "--checkpoint", path.join(work, "stdin.ckpt")], { token, input: ndjson([{ ns, type: "docs", id: "s1", markdown: "s" }]) });
  assert.equal(piped.code, 0, piped.stderr + piped.stdout);
  assert.equal(JSON.parse(piped.stdout).accepted, 1);
});

test("names that are not path-safe are refused with the file name, or mapped with --slugify", async () => {
  const org = fresh("slug").slice(0, 60);
  const ns = `cli-${org}`.slice(0, 100);
  const token = writer(org);
  const dir = path.join(work, `slug-${org}`);
  mkdirSync(path.join(dir, "My Guide"), { recursive: true });
  writeFileSync(path.join(dir, "My Guide/Install Linux.md"), "# linux\n");
  writeFileSync(path.join(dir, "notes.txt"), "no field");
  const refused = await cli(["push", dir, "--ns", ns, "--type", "docs", "--checkpoint", path.join(work, "slug.ckpt")], { token });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /My Guide\/Install Linux\.md: id `My Guide\/Install Linux` may only contain/);
  const strict = await cli(["push", dir, "--ns", ns, "--type", "docs", "--slugify", "--strict", "--checkpoint", path.join(work, "slug.ckpt")], { token });
  assert.equal(strict.code, 2);
  assert.match(strict.stderr, /notes\.txt/);
  const dry = await cli(["push", dir, "--ns", ns, "--type", "docs", "--slugify", "--dry-run"], { token });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`^${ns}/docs/My-Guide/Install-Linux markdown=My Guide/Install Linux\\.md$`, "m"));
  const ok = await cli(["push", dir, "--ns", ns, "--type", "docs", "--slugify", "--checkpoint", path.join(work, "slug.ckpt")], { token });
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /skipped 1 file\(s\) with no field: notes\.txt/);
  await h.flush("build");
  const r = await fetchContent(h, `/$.content/${ns}/docs/My-Guide/Install-Linux.md`, { token });
  assert.equal(r.text, "# linux\n");

  // `+` is path-safe; a cursor holding it must reach serve as `+`, not as a space.
  writeFileSync(path.join(dir, "c++.md"), "c");
  writeFileSync(path.join(dir, "c++x.md"), "x");
  const plus = await cli(["push", dir, "--ns", ns, "--type", "docs", "--slugify", "--checkpoint", path.join(work, "slug.ckpt")], { token });
  assert.equal(plus.code, 0, plus.stderr + plus.stdout);
  await h.flush("build");
  const ls = await cli(["ls", `${ns}/docs/`, "--page-size", "1"], { token });
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(ls.stdout.trim().split("\n"), ["My-Guide/Install-Linux", "c++", "c++x"]);
});

test("token prints a dev token as make token does", async () => {
  const r = await cli(["token", "--org", "acme", "--sub", "bob", "--scopes", "read:docs", "--ttl", "60"]);
  assert.equal(r.code, 0, r.stderr);
  const claims = JSON.parse(Buffer.from(r.stdout.trim().split(".")[1], "base64url").toString());
  assert.deepEqual([claims.org, claims.sub, claims.scopes], ["acme", "bob", ["read:docs"]]);
  assert.ok(claims.exp - claims.iat === 60);
});

test("a rate-limited tenant (429 with Retry-After) still completes", async () => {
  const { run, g, ns, token, seconds } = await rateLimited;
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stderr, /429 rate-limited: more than 30 requests per minute for org .*; again in \d+(\.\d)? s/);
  assert.match(run.stdout, /^accepted \d+ \(written \d+, deduped 0\), rejected 0$/m);
  assertPlain(run.stdout + run.stderr, "output of the rate-limited push");
  await h.flush("build");
  await assertReadsBack(ns, "docs", g.files, token);
  console.log(`rate-limited push finished in ${seconds} s`);
});
