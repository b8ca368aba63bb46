// The principal matrix (security issue 12, "Also"): every read route × every caller × every
// transition × cache cold and warm, end to end (ingest → the stand-in → serve) on ONE stack. The
// answer of every cell must be what the rules say for the artifact's *current* state:
//
//  1. public/unlisted: anyone; org: a token of the owner's org; user: the owner (org AND sub).
//  2. A refused read is the 404 of a missing artifact: same status, problem, headers.
//  3. Composite keys are unambiguous: acme/gh:42 and acme:gh/42 never read each other's content.
//  4. A signed URL carries its signer: it works only while the signer may read the artifact.
//  5. `@version` needs the current state AND the historic row to be readable; deleted → all 404.
//  6. `.json` shows owner_org/owner_user only to callers in the owner's org.
//  7. Batch: every ref's line follows the GET rules; a repeated ref is answered once, `positions`.
//  8. After a commit every read, cold or warm, reflects the current state, never a cached older one.
//  9. `?fresh=1` needs a token (anonymous → 401 token-required).
//
// How it runs: every artifact is written by its owner through ingest; all artifacts' next states
// are committed together (one stand-in flush per phase, 3 phases). After each commit a *cold*
// round reads everything once — the artifact's owner first (its answers warm the cache, as a
// victim's would), then every other caller — and a *warm* round reads everything again (the
// second read may come from the cache). Reads run concurrently, 20 at a time. The answers are
// kept, and each cell of the table below is one `test()` that checks its answer, so a failure
// names the exact cell: transition › state › caller · route · cold/warm → expected. Expected
// answers come only from the rules above (`mayRead`, `mayReadVersion`, `showsOwner`).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, resets } from "./support/harness.mjs";
import { post, del, read, ndjson, fresh, assertProblem, contentHash } from "./support/ingest.mjs";
import { fetchContent, assertLooksMissing } from "./support/content.mjs";
import { mint } from "./support/token.mjs";

const NS = "mx";
const TYPE = "doc";
const CONCURRENCY = 20;
/** Cache puts run in waitUntil: wait this long before reads that may rely on them. */
const SETTLE_MS = 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Callers. `victim` and `collider` spell the same `org:sub` string (acme + gh:42 vs acme:gh + 42):
// the only two valid splits of "acme:gh:42" (an org or sub may not be empty). Artifacts owned by
// each of them make the other the attacker, so both directions are covered.
const PRINCIPALS = {
  anonymous: null,
  alice: { org: "acme", sub: "alice" },
  bob: { org: "acme", sub: "bob" },
  gary: { org: "globex", sub: "gary" },
  victim: { org: "acme", sub: "gh:42" },
  collider: { org: "acme:gh", sub: "42" },
};
const CALLERS = Object.keys(PRINCIPALS);
/** The callers whose `org:sub` strings are equal. */
const TWINS = new Set(["victim", "collider"]);
const SIGNERS = CALLERS.filter((c) => PRINCIPALS[c]);
const READ_TOKENS = Object.fromEntries(SIGNERS.map((c) => [c, mint({ ...PRINCIPALS[c], scopes: ["read:*"] })]));
const WRITE_TOKENS = Object.fromEntries(SIGNERS.map((c) => [c, mint({ ...PRINCIPALS[c], scopes: [`write:${NS}`, "read:*"] })]));

function role(caller, owner) {
  const c = PRINCIPALS[caller];
  const o = PRINCIPALS[owner];
  if (!c) return "anonymous";
  if (caller === owner) return "owner";
  if (`${c.org}:${c.sub}` === `${o.org}:${o.sub}`) return "collides with the owner's org:sub";
  return c.org === o.org ? "same org" : "other org";
}
const who = (caller, owner) => (PRINCIPALS[caller] ? `${caller} (${PRINCIPALS[caller].org}/${PRINCIPALS[caller].sub}, ${role(caller, owner)})` : "anonymous");

// ---------------------------------------------------------------------------------------------
// Transitions: one artifact per (transition, starting visibility, owner). `states[p]` is what the
// artifact is after commit p; an artifact takes part in the phases it has states for.
const st = (vis, n = 1) => ({ vis, n });
const DELETED = { deleted: true };
const ARTIFACTS = [
  { name: "public → org → user", owner: "alice", states: [st("public"), st("org"), st("user")] },
  { name: "public → deleted", owner: "alice", states: [st("public"), DELETED] },
  { name: "org → deleted", owner: "alice", states: [st("org"), DELETED] },
  { name: "user → deleted", owner: "alice", states: [st("user"), DELETED] },
  { name: "rewrite public v1 → v2", owner: "alice", states: [st("public"), st("public", 2)] },
  { name: "rewrite unlisted v1 → v2", owner: "alice", states: [st("unlisted"), st("unlisted", 2)] },
  { name: "rewrite org v1 → v2", owner: "alice", states: [st("org"), st("org", 2)] },
  { name: "rewrite user v1 → v2", owner: "alice", states: [st("user"), st("user", 2)] },
  { name: "user → public", owner: "alice", states: [st("user"), st("public")] },
  { name: "public → org → user, owner acme/gh:42 (collider acme:gh/42)", owner: "victim", states: [st("public"), st("org"), st("user")] },
  { name: "rewrite user v1 → v2, owner acme/gh:42 (collider acme:gh/42)", owner: "victim", states: [st("user"), st("user", 2)] },
  { name: "rewrite user v1 → v2, owner acme:gh/42 (collider acme/gh:42)", owner: "collider", states: [st("user"), st("user", 2)] },
].map((a, i) => ({ ...a, id: fresh(`m${i}`) }));
const PHASES = Math.max(...ARTIFACTS.map((a) => a.states.length));
const active = (p) => ARTIFACTS.filter((a) => p < a.states.length);
const keyOf = (id) => `${NS}/${TYPE}/${id}`;
const MISSING_ID = fresh("never");
const MISSING_KEY = keyOf(MISSING_ID);
/** The markdown of version `n`: the same text across visibility changes, new text on a rewrite. */
const markdown = (a, s) => `# ${a.id} v${s.n}\n\nthe text of version ${s.n}\n`;
const label = (s) => (s.deleted ? "deleted" : s.n > 1 ? `${s.vis} v${s.n}` : s.vis);

// ---------------------------------------------------------------------------------------------
// The rules (the oracle).
/** Rule 1 (with tombstones): may `caller` read an artifact of `owner` in state `s`? */
function mayRead(caller, owner, s) {
  if (!s || s.deleted) return false;
  if (s.vis === "public" || s.vis === "unlisted") return true;
  const c = PRINCIPALS[caller];
  const o = PRINCIPALS[owner];
  if (!c) return false;
  if (s.vis === "org") return c.org === o.org;
  return c.org === o.org && c.sub === o.sub;
}
/** Rule 5: a historic row needs the current state and that row to be readable. */
const mayReadVersion = (caller, owner, cur, hist) => mayRead(caller, owner, cur) && mayRead(caller, owner, hist);
/** Listing: what the caller may read, never unlisted or deleted. */
const listed = (caller, owner, s) => mayRead(caller, owner, s) && s.vis !== "unlisted";
/** Rule 6: owner_org/owner_user are shown to callers of the owner's org only. */
const showsOwner = (caller, owner) => PRINCIPALS[caller]?.org === PRINCIPALS[owner].org;

// ---------------------------------------------------------------------------------------------
// The stack and the answers.
let s;
const run = {
  times: [], // RFC 3339 time just after commit p
  snapshots: [], // the build table's current snapshot id after commit p
  results: new Map(), // request key → answer (or { error })
};
const rk = (p, round, ...rest) => [p, round, ...rest].join("|");

function answerOf(key) {
  const a = run.results.get(key);
  if (!a) throw new Error(`no answer recorded for ${key} (the run stopped before it)`);
  if (a.error) throw a.error;
  return a;
}
const tryAnswer = (key) => {
  const a = run.results.get(key);
  return a && !a.error ? a : undefined;
};

/** The ETag the artifact's owner saw on its cold GET .md after commit p (undefined if none). */
function ownerEtag(a, p) {
  const r = tryAnswer(rk(p, "cold", a.id, a.owner, "get"));
  return r?.status === 200 ? r.headers.get("etag") ?? undefined : undefined;
}

/** Version strings: the time just after commit k, or its snapshot id. */
const versionString = (k, form) => (form === "time" ? run.times[k] : run.snapshots[k]);
const versionLabel = (k, form, a) => `@${form === "time" ? "time" : "snapshot"} of commit ${k + 1} (${label(a.states[k])})`;

/** The content routes read per (artifact, caller) after commit p. `warms`: the owner reads it first. */
function routesFor(a, p) {
  const cur = a.states[p];
  const rs = [
    { id: "get", kind: "get", label: "GET .md", warms: true },
    { id: "head", kind: "head", label: "HEAD .md", warms: true },
    { id: "json", kind: "json", label: "GET .json", warms: true },
    { id: "fresh", kind: "fresh", label: "GET .md?fresh=1" },
  ];
  if (!cur.deleted) rs.push({ id: "cond", kind: "cond", label: "GET .md If-None-Match: the current ETag" });
  if (p > 0) rs.push({ id: "condprev", kind: "condprev", label: "GET .md If-None-Match: the previous version's ETag" });
  for (let k = 0; k <= p; k++) {
    for (const form of ["time", "snapshot"]) {
      rs.push({ id: `at-${form}-${k}`, kind: "version", k, form, label: `GET ${versionLabel(k, form, a)}.md`, warms: true });
    }
  }
  rs.push({ id: "sign", kind: "sign", label: "POST /$.content/sign" });
  return rs;
}

async function signRequest(token, path) {
  const res = await s.serve("/$.content/sign", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ path, expires_in: 600 }),
  });
  return read(res);
}

/** Performs one content route for artifact `id` as `caller`; `etag` for the conditional routes. */
function fetchRoute(route, id, caller, etag) {
  const token = READ_TOKENS[caller];
  const base = `/$.content/${keyOf(id)}`;
  switch (route.kind) {
    case "get":
      return fetchContent(s, `${base}.md`, { token });
    case "head":
      return fetchContent(s, `${base}.md`, { token, method: "HEAD" });
    case "json":
      return fetchContent(s, `${base}.json`, { token });
    case "fresh":
      return fetchContent(s, `${base}.md?fresh=1`, { token });
    case "cond":
    case "condprev":
      if (!etag) throw new Error("no ETag to send: the owner's cold GET .md of that version did not answer 200");
      return fetchContent(s, `${base}.md`, { token, headers: { "if-none-match": etag } });
    case "version":
      return fetchContent(s, `/$.content/${keyOf(id)}@${versionString(route.k, route.form)}.md`, { token });
    case "sign":
      return signRequest(token, `${base}.md`);
    default:
      throw new Error(`unknown route ${route.kind}`);
  }
}

/** The missing artifact's answer for the same caller, route (and version) in the same round. */
const missingKey = (p, round, caller, route) => rk(p, round, "missing", caller, route.kind, route.kind === "version" ? `${route.form}-${route.k}` : "");

/** The refs of one caller's batch after commit p, and where the repeated ones sit. */
function batchPlan(p) {
  const refs = [];
  const entries = []; // { a, ref, kind, k, form }
  const add = (id, suffix) => `${keyOf(id)}${suffix}`;
  for (const a of active(p)) {
    refs.push(add(a.id, ".md"));
    entries.push({ a, ref: refs.at(-1), kind: "md" });
    refs.push(add(a.id, ".json"));
    entries.push({ a, ref: refs.at(-1), kind: "json" });
    for (let k = 0; k <= p; k++) {
      for (const form of ["time", "snapshot"]) {
        refs.push(add(a.id, `@${versionString(k, form)}.md`));
        entries.push({ a, ref: refs.at(-1), kind: "version", k, form });
      }
    }
  }
  const missing = { md: add(MISSING_ID, ".md"), json: add(MISSING_ID, ".json") };
  refs.push(missing.md, missing.json);
  for (let k = 0; k <= p; k++) {
    for (const form of ["time", "snapshot"]) {
      missing[`${form}-${k}`] = add(MISSING_ID, `@${versionString(k, form)}.md`);
      refs.push(missing[`${form}-${k}`]);
    }
  }
  // Repeats: the first artifact's .md (readable by some) twice more, a user artifact's .json once more.
  const n = refs.length;
  const refA = refs[0];
  const userJson = entries.find((c) => c.kind === "json" && c.a.name === "rewrite user v1 → v2" && p < c.a.states.length)?.ref ?? refs[1];
  const list = [...refs, refA, userJson, refA];
  const positions = {
    [refA]: [refs.indexOf(refA), n, n + 2],
    [userJson]: [refs.indexOf(userJson), n + 1],
  };
  return { list, unique: refs.length, entries, missing, positions };
}

async function batchRequest(caller, list) {
  const token = READ_TOKENS[caller];
  const res = await s.serve("/$.content/batch", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(list),
  });
  const text = await res.text();
  const lines = res.status === 200 && text.trim() ? text.trim().split("\n").map((l) => JSON.parse(l)) : [];
  return { status: res.status, headers: res.headers, text, lines };
}

/** URL signed by `signer` while the artifact was in the state of commit `src` (cold round). */
function signedUrl(a, signer, src) {
  const r = tryAnswer(rk(src, "cold", a.id, signer, "sign"));
  if (r?.status !== 200 || typeof r.body?.url !== "string") {
    throw new Error(`no signed URL: ${signer} signing at state ${label(a.states[src])} answered ${r?.status} ${r?.text ?? ""}`);
  }
  return r.body.url;
}
/** Signed URLs read after commit p were made after commit p-1 (after commit 0: right then). */
const signedSource = (p) => (p === 0 ? 0 : p - 1);

/** The requests of one round after commit p: A (owners, cache-warming), B (everyone else), C (signed). */
function requests(p, round) {
  const A = [];
  const B = [];
  const C = [];
  const task = (list, key, fn) => list.push({ key, fn });
  const missingDone = new Set();
  for (const a of active(p)) {
    for (const route of routesFor(a, p)) {
      for (const caller of CALLERS) {
        // The ETag is looked up when the read runs (the owner's cold GET runs in step A).
        const etag = () => (route.kind === "cond" ? ownerEtag(a, p) : route.kind === "condprev" ? ownerEtag(a, p - 1) : undefined);
        const list = route.warms && caller === a.owner ? A : B;
        task(list, rk(p, round, a.id, caller, route.id), () => fetchRoute(route, a.id, caller, etag()));
        const mk = missingKey(p, round, caller, route);
        if (!missingDone.has(mk)) {
          missingDone.add(mk);
          task(B, mk, () => fetchRoute(route, MISSING_ID, caller, '"not-a-real-etag"'));
        }
      }
    }
    const src = signedSource(p);
    for (const signer of SIGNERS) {
      if (!mayRead(signer, a.owner, a.states[src])) continue;
      task(C, rk(p, round, a.id, "signed", signer), () => fetchContent(s, signedUrl(a, signer, src)));
    }
  }
  const plan = batchPlan(p);
  for (const caller of CALLERS) {
    task(B, rk(p, round, "batch", caller), () => batchRequest(caller, plan.list));
    task(B, rk(p, round, "list", caller), () => fetchContent(s, `/$.content/${NS}/${TYPE}/?limit=1000`, { token: READ_TOKENS[caller] }));
  }
  // The baseline of a refused signed read: an anonymous GET of the missing artifact.
  const mk = missingKey(p, round, "anonymous", { kind: "get" });
  if (!missingDone.has(mk)) task(B, mk, () => fetchRoute({ kind: "get" }, MISSING_ID, "anonymous"));
  return { A, B, C };
}

async function pool(tasks) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const t = tasks[next++];
      try {
        run.results.set(t.key, await t.fn());
      } catch (error) {
        run.results.set(t.key, { error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, tasks.length) }, worker));
}

/** Writes every artifact's state p through ingest (each by its owner) and commits it. */
async function commit(p) {
  const arts = active(p);
  const byOwner = new Map();
  for (const a of arts) {
    const s2 = a.states[p];
    if (s2.deleted) {
      const r = await del(s, keyOf(a.id), { token: WRITE_TOKENS[a.owner] });
      assert.equal(r.status, 200, `DELETE ${a.id}: ${r.text}`);
      assert.equal(r.body.deduped, false);
    } else {
      if (!byOwner.has(a.owner)) byOwner.set(a.owner, []);
      byOwner.get(a.owner).push({ ns: NS, type: TYPE, id: a.id, markdown: markdown(a, s2), visibility: s2.vis });
    }
  }
  for (const [owner, records] of byOwner) {
    const r = await post(s, ndjson(records), { token: WRITE_TOKENS[owner] });
    assert.equal(r.status, 200, `ingest for ${owner}: ${r.text}`);
    assert.equal(r.body.accepted, records.length, r.text);
    assert.equal(r.body.deduped, 0, r.text);
  }
  const flushed = await s.flush("build");
  assert.equal(flushed[0].committed, arts.length, JSON.stringify(flushed));
  const meta = await (await s.standin("/v1/artifacts-warehouse/namespaces/artifacts/tables/build")).text();
  const snap = /"current-snapshot-id"\s*:\s*(\d+)/.exec(meta)?.[1];
  assert.ok(snap, `no current snapshot in ${meta.slice(0, 200)}`);
  run.snapshots[p] = snap;
  await sleep(5);
  run.times[p] = new Date().toISOString();
}

let stats;
before(async () => {
  const t0 = Date.now();
  s = await start({
    standin: true,
    serveVars: { METADATA_TTL_SECONDS: "0" },
    standinVars: { ROLL_MS_PREVIEW: "600000", ROLL_MS_BUILD: "600000", ROLL_MS_BULK: "600000" },
  });
  for (let p = 0; p < PHASES; p++) {
    await commit(p);
    // Cold: the owners first (their answers warm the cache), then everyone else, then signed URLs.
    const cold = requests(p, "cold");
    await pool(cold.A);
    await sleep(SETTLE_MS);
    await pool(cold.B);
    await pool(cold.C);
    await sleep(SETTLE_MS);
    // Warm: everything again; the second read may come from the cache.
    const warm = requests(p, "warm");
    await pool([...warm.A, ...warm.B, ...warm.C]);
    await sleep(SETTLE_MS);
  }
  stats = { requests: run.results.size, ms: Date.now() - t0 };
});
after(async () => {
  await s?.dispose();
});

// ---------------------------------------------------------------------------------------------
// Checks. Each takes the cell and the answer (so the self-test can feed it a wrong one).
const COMPARED_HEADERS = ["x-artifact-source", "x-artifact-age", "vary", "etag", "cache-control", "content-type", "server-timing", "content-security-policy"];
const LEAKS = /visib|forbidden|permission|denied|unauthori|owner|private|tombstone|deleted/i;

/** Rule 2: `r` is exactly the answer of the missing artifact `m` (headers included). */
function assertMissingLike(r, m, key, head) {
  if (head) {
    assert.equal(m.status, 404, `HEAD of a missing artifact answered ${m.status}`);
    assert.equal(r.status, 404, `expected the 404 of a missing artifact, got ${r.status}`);
    assert.equal(r.bytes.length, 0);
  } else {
    assertLooksMissing(r, m, key, MISSING_KEY);
  }
  for (const name of COMPARED_HEADERS) {
    assert.equal(r.headers.get(name), m.headers.get(name), `${name} of the refused answer differs from a missing artifact's`);
  }
}

/** Rule 6 and the record: a `.json` body for state `cur`. */
function assertRecord(body, a, cur, caller) {
  assert.ok(body && typeof body === "object", `not a JSON record: ${JSON.stringify(body)}`);
  assert.equal(body.id, a.id);
  assert.equal(body.markdown, markdown(a, cur), "markdown of the current version");
  assert.equal(body.visibility, cur.vis, "visibility of the current version");
  assert.equal(body.deleted, false);
  const o = PRINCIPALS[a.owner];
  if (showsOwner(caller, a.owner)) {
    assert.equal(body.owner_org, o.org, "owner_org for a caller of the owner's org");
    assert.equal(body.owner_user, o.sub, "owner_user for a caller of the owner's org");
  } else {
    assert.ok(!("owner_org" in body) && !("owner_user" in body), `owner shown to a caller outside ${o.org}: owner_org=${JSON.stringify(body.owner_org)} owner_user=${JSON.stringify(body.owner_user)}`);
  }
}

function assertMarkdown200(r, text) {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  assert.equal(r.text, text, "body of the expected version");
  assert.equal(r.headers.get("content-type"), "text/markdown; charset=utf-8");
}

// ---------------------------------------------------------------------------------------------
// The table: every cell, with its expectation, then one test per cell.
const cells = [];
const rulesOf = (list) => `[rule ${[...new Set(list)].sort((x, y) => x - y).join(",")}]`;

for (const a of ARTIFACTS) {
  for (let p = 0; p < a.states.length; p++) {
    const cur = a.states[p];
    const prev = p > 0 ? a.states[p - 1] : undefined;
    const stateLabel = `after commit ${p + 1}: ${label(cur)}${prev ? ` (was ${label(prev)})` : ""}`;
    const base = { a, p, cur, group: a.name, stateLabel };
    const after = p > 0 ? [8] : [];
    for (const round of ["cold", "warm"]) {
      for (const caller of CALLERS) {
        // Rule 3 is at stake when the caller collides with the owner, and in every read of the
        // victim or the collider: the other one reads the same artifacts concurrently, so an
        // ambiguous coalescing key hands one of them the other's answer.
        const collide = role(caller, a.owner).startsWith("collides") || TWINS.has(caller) ? [3] : [];
        const allowed = mayRead(caller, a.owner, cur);
        for (const route of routesFor(a, p)) {
          const key = rk(p, round, a.id, caller, route.id);
          const missing = () => answerOf(missingKey(p, round, caller, route));
          const cell = { ...base, round, caller, route: route.label, kind: route.kind, key };
          const refusedCheck = (r) => assertMissingLike(r, missing(), keyOf(a.id), route.kind === "head");
          switch (route.kind) {
            case "get":
            case "head":
            case "json":
            case "cond":
            case "condprev": {
              const rules = [1, ...after, ...collide];
              if (!allowed) rules.push(2);
              if (route.kind === "json" && (cur.vis === "public" || cur.vis === "unlisted") && allowed) rules.push(6);
              const expect = !allowed ? "404 like missing" : route.kind === "cond" ? "304" : route.kind === "head" ? "200, no body" : `200 ${label(cur)}`;
              cells.push({
                ...cell,
                rules,
                expect,
                allowed,
                check: (r) => {
                  if (!allowed) return refusedCheck(r);
                  const etag = ownerEtag(a, p);
                  if (route.kind === "get" || route.kind === "condprev") {
                    assertMarkdown200(r, markdown(a, cur));
                    if (etag && route.kind === "get") assert.equal(r.headers.get("etag"), etag, "the same ETag the owner saw");
                  } else if (route.kind === "head") {
                    assert.equal(r.status, 200, `expected 200, got ${r.status}`);
                    assert.equal(r.bytes.length, 0);
                    if (etag) assert.equal(r.headers.get("etag"), etag, "the same ETag the owner's GET saw");
                  } else if (route.kind === "json") {
                    assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
                    assert.equal(r.headers.get("content-type"), "application/json");
                    assertRecord(r.body, a, cur, caller);
                  } else {
                    assert.equal(r.status, 304, `expected 304, got ${r.status}: ${r.text}`);
                    assert.equal(r.bytes.length, 0);
                    assert.equal(r.headers.get("etag"), etag);
                  }
                },
              });
              break;
            }
            case "fresh": {
              const anon = !PRINCIPALS[caller];
              cells.push({
                ...cell,
                rules: anon ? [9] : [1, ...after, ...(allowed ? [] : [2])],
                expect: anon ? "401 token-required" : allowed ? `200 ${label(cur)}, no-store` : "404 like missing",
                allowed: !anon && allowed,
                check: (r) => {
                  if (anon) return void assertProblem(r, 401, "token-required");
                  if (!allowed) return refusedCheck(r);
                  assertMarkdown200(r, markdown(a, cur));
                  assert.equal(r.headers.get("cache-control"), "no-store");
                },
              });
              break;
            }
            case "version": {
              const hist = a.states[route.k];
              const ok = mayReadVersion(caller, a.owner, cur, hist);
              cells.push({
                ...cell,
                rules: [5, ...after, ...collide, ...(ok ? [] : [2])],
                expect: ok ? `200 ${label(hist)}` : "404 like missing",
                allowed: ok,
                check: (r) => (ok ? assertMarkdown200(r, markdown(a, hist)) : refusedCheck(r)),
              });
              break;
            }
            case "sign": {
              // Signing needs a token: anonymous gets the 401 it gets for a missing artifact.
              const anon = !PRINCIPALS[caller];
              const ok = !anon && allowed;
              cells.push({
                ...cell,
                rules: [4, ...after, ...collide, ...(ok ? [] : [2])],
                expect: ok ? "200 {url, expires}" : anon ? "401 unauthorized, as for a missing artifact" : "404 like missing",
                allowed: ok,
                check: (r) => {
                  if (ok) {
                    assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
                    assert.equal(typeof r.body?.url, "string");
                    assert.ok(r.body.url.startsWith(`/$.content/${keyOf(a.id)}.md?`), `url ${r.body.url}`);
                    assert.equal(typeof r.body.expires, "number");
                    assert.ok(r.body.expires > Date.now() / 1000 + 500, `expires ${r.body.expires}`);
                    return;
                  }
                  const m = missing();
                  if (anon) assertProblem(m, 401, "unauthorized");
                  else assertProblem(m, 404, "not-found");
                  assert.equal(r.status, m.status, `expected ${m.status} like a missing artifact, got ${r.status}: ${r.text}`);
                  assert.deepEqual(r.body, JSON.parse(m.text.split(MISSING_KEY).join(keyOf(a.id))), "the answer differs from a missing artifact's");
                  assert.equal(r.headers.get("content-type"), m.headers.get("content-type"));
                  if (!anon) assert.doesNotMatch(r.text, LEAKS);
                },
              });
              break;
            }
          }
        }
        // Batch lines for this artifact (rule 7: each line follows the GET rules).
        const bkey = rk(p, round, "batch", caller);
        const lineCells = [{ kind: "md", label: ".md" }, { kind: "json", label: ".json" }];
        for (let k = 0; k <= p; k++) for (const form of ["time", "snapshot"]) lineCells.push({ kind: "version", k, form, label: versionLabel(k, form, a) + ".md" });
        for (const lc of lineCells) {
          const hist = lc.kind === "version" ? a.states[lc.k] : cur;
          const ok = lc.kind === "version" ? mayReadVersion(caller, a.owner, cur, hist) : allowed;
          const rules = [7, 1, ...after, ...collide, ...(ok ? [] : [2])];
          if (lc.kind === "version") rules.push(5);
          if (lc.kind === "json" && ok && (cur.vis === "public" || cur.vis === "unlisted")) rules.push(6);
          cells.push({
            ...base,
            round,
            caller,
            route: `POST /$.content/batch, the ${lc.label} line`,
            kind: `batch-${lc.kind}`,
            key: bkey,
            rules,
            expect: ok ? `200 ${label(hist)}` : "404 like missing",
            allowed: ok,
            check: (r) => {
              assert.equal(r.status, 200, `batch answered ${r.status}: ${r.text}`);
              const plan = batchPlan(p);
              const ref = plan.entries.find((c) => c.a === a && c.kind === lc.kind && c.k === lc.k && c.form === lc.form).ref;
              const mine = r.lines.filter((l) => l.ref === ref);
              assert.ok(mine.length >= 1, `no line for ${ref}`);
              const missingRef = lc.kind === "version" ? plan.missing[`${lc.form}-${lc.k}`] : plan.missing[lc.kind];
              for (const line of mine) {
                if (ok) {
                  assert.equal(line.status, 200, `line ${JSON.stringify(line).slice(0, 300)}`);
                  if (lc.kind === "json") assertRecord(line.body, a, cur, caller);
                  else assert.equal(line.body, markdown(a, hist), "body of the expected version");
                } else {
                  const m = r.lines.find((l) => l.ref === missingRef);
                  assert.ok(m, `no line for the missing ref ${missingRef}`);
                  const strip = ({ positions, ...rest }) => rest;
                  assert.equal(line.status, 404, `expected 404 like missing, got ${JSON.stringify(line).slice(0, 300)}`);
                  assert.deepEqual(strip(line), strip(JSON.parse(JSON.stringify(m).split(MISSING_KEY).join(keyOf(a.id)))), "a refused line differs from a missing one");
                  assert.doesNotMatch(JSON.stringify(line), LEAKS);
                }
              }
            },
          });
        }
        // Listing (rule 1; unlisted and deleted never listed).
        const shown = listed(caller, a.owner, cur);
        cells.push({
          ...base,
          round,
          caller,
          route: `GET /$.content/${NS}/${TYPE}/ (listing)`,
          kind: "list",
          key: rk(p, round, "list", caller),
          rules: [1, ...after, ...collide],
          expect: shown ? `listed as ${cur.vis}` : "not listed",
          allowed: shown,
          check: (r) => {
            assert.equal(r.status, 200, `listing answered ${r.status}: ${r.text}`);
            const item = r.body.items.find((i) => i.id === a.id);
            if (!shown) return void assert.equal(item, undefined, `listed: ${JSON.stringify(item)}`);
            assert.ok(item, "not listed");
            assert.equal(item.visibility, cur.vis);
            assert.equal(item.content_hash, contentHash({ markdown: markdown(a, cur) }), "content_hash of the current version");
          },
        });
      }
      // Signed URLs (rule 4): made by each signer who could read the artifact when it signed.
      const src = signedSource(p);
      for (const signer of SIGNERS) {
        if (!mayRead(signer, a.owner, a.states[src])) continue;
        const ok = mayRead(signer, a.owner, cur);
        cells.push({
          ...base,
          round,
          caller: `signed URL by ${who(signer, a.owner)}, signed at ${label(a.states[src])}`,
          signer,
          route: "GET the signed URL (no token)",
          kind: "signed",
          key: rk(p, round, a.id, "signed", signer),
          rules: [4, ...after, ...(ok ? [] : [2])],
          expect: ok ? `200 ${label(cur)}, no-store` : "404 like missing",
          allowed: ok,
          check: (r) => {
            if (!ok) return assertMissingLike(r, answerOf(missingKey(p, round, "anonymous", { kind: "get" })), keyOf(a.id), false);
            assertMarkdown200(r, markdown(a, cur));
            assert.equal(r.headers.get("cache-control"), "no-store");
          },
        });
      }
    }
  }
}

// Rule 7's second half: a repeated ref is answered once, its line listing every position.
const dupCells = [];
for (let p = 0; p < PHASES; p++) {
  for (const round of ["cold", "warm"]) {
    for (const caller of CALLERS) {
      dupCells.push({
        p,
        round,
        caller,
        key: rk(p, round, "batch", caller),
        check: (r) => {
          assert.equal(r.status, 200, `batch answered ${r.status}: ${r.text}`);
          const plan = batchPlan(p);
          // Lines that answer a ref (a trailer such as {"end": true, …} answers none).
          const refLines = r.lines.filter((l) => "ref" in l);
          assert.equal(refLines.length, plan.unique, `${plan.list.length} refs, ${plan.unique} distinct: expected ${plan.unique} ref lines, got ${refLines.length}`);
          assert.deepEqual(refLines.map((l) => l.ref), [...new Set(plan.list)], "one line per distinct ref, in order of first appearance");
          for (const [ref, where] of Object.entries(plan.positions)) {
            const mine = refLines.filter((l) => l.ref === ref);
            assert.equal(mine.length, 1, `${ref} answered ${mine.length} times`);
            assert.deepEqual(mine[0].positions, where, `positions of ${ref}`);
          }
          for (const line of refLines) {
            if (line.positions === undefined || plan.positions[line.ref]) continue;
            assert.deepEqual(line.positions, [plan.list.indexOf(line.ref)], `positions of ${line.ref}`);
          }
        },
      });
    }
  }
}

const cellName = (c) => `${c.signer ? c.caller : who(c.caller, c.a.owner)} · ${c.route} · ${c.round} → ${c.expect} ${rulesOf(c.rules)}`;

for (const a of ARTIFACTS) {
  describe(`${a.name} (owner ${who(a.owner, a.owner).replace(", owner)", ")")})`, () => {
    for (let p = 0; p < a.states.length; p++) {
      const mine = cells.filter((c) => c.a === a && c.p === p);
      describe(mine[0].stateLabel, () => {
        for (const c of mine) test(cellName(c), () => c.check(answerOf(c.key)));
        if (!mayRead(a.owner, a.owner, a.states[p])) return; // deleted: nothing to cache
        test("sanity: the warm column exercises the cache (the owner's warm GET .md comes from it)", () => {
          const r = answerOf(rk(p, "warm", a.id, a.owner, "get"));
          assert.equal(r.status, 200);
          assert.equal(r.headers.get("x-artifact-source"), "cache");
        });
      });
    }
  });
}

describe("batch: a repeated ref is answered once, its line carrying every position [rule 7]", () => {
  for (const c of dupCells) {
    const caller = PRINCIPALS[c.caller] ? `${c.caller} (${PRINCIPALS[c.caller].org}/${PRINCIPALS[c.caller].sub})` : "anonymous";
    test(`after commit ${c.p + 1} · ${caller} · ${c.round} → one line per distinct ref, repeats carry positions`, () => c.check(answerOf(c.key)));
  }
});

describe("the matrix itself", () => {
  test("every route has cells that must answer and cells that must refuse", () => {
    const kinds = new Map();
    for (const c of cells) {
      const k = kinds.get(c.kind) ?? { allowed: 0, refused: 0 };
      k[c.allowed ? "allowed" : "refused"] += 1;
      kinds.set(c.kind, k);
    }
    for (const [kind, n] of kinds) {
      if (kind === "fresh") continue; // anonymous is refused with 401, counted apart
      assert.ok(n.allowed > 0 && n.refused > 0, `${kind}: ${JSON.stringify(n)}`);
    }
  });

  test("every check rejects the opposite answer (a refused cell fed an allowed answer fails, and back)", (t) => {
    // For each route kind, one passing allowed cell and one passing refused cell of the same
    // artifact, state and round: each must reject the other's answer.
    const passes = (c, r) => {
      try {
        c.check(r);
        return true;
      } catch {
        return false;
      }
    };
    const checked = [];
    for (const kind of new Set(cells.map((c) => c.kind))) {
      const of = cells.filter((c) => c.kind === kind && tryAnswer(c.key));
      let pair;
      for (const yes of of.filter((c) => c.allowed && passes(c, answerOf(c.key)))) {
        const no = of.find((c) => !c.allowed && c.a === yes.a && c.p === yes.p && c.round === yes.round && c.route === yes.route && c.key !== yes.key && passes(c, answerOf(c.key)));
        if (no) {
          pair = [yes, no];
          break;
        }
      }
      if (!pair) continue;
      const [yes, no] = pair;
      assert.equal(passes(yes, answerOf(no.key)), false, `${kind}: the allowed cell accepted a refused answer`);
      assert.equal(passes(no, answerOf(yes.key)), false, `${kind}: the refused cell accepted an allowed answer`);
      checked.push(kind);
    }
    assert.ok(checked.length >= 8, `only ${checked.join(", ")} could be cross-checked`);
    t.diagnostic(`cross-checked: ${checked.join(", ")}`);
  });

  test(`size: ${cells.length + dupCells.length} cells`, (t) => {
    assert.ok(stats, "the matrix did not run");
    t.diagnostic(`principal matrix: ${cells.length + dupCells.length} cells from ${stats.requests} requests in ${(stats.ms / 1000).toFixed(1)} s`);
  });

  test("no wasm instance was reset", async () => {
    assert.equal(await resets(s.ingest), 0);
    assert.equal(await resets(s.serve), 0);
    assert.equal(await resets(s.standin), 0);
  });
});
