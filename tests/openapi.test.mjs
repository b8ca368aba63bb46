// docs/openapi.json (the OpenAPI 3.1 description of both workers, kept by hand; JSON, so no
// YAML parser is needed) against the code: every documented problem type is one the code makes,
// with that status, and every type the code makes is documented; every route of the two routers
// is documented and every documented route is in a router; and the running workers answer each
// documented operation (never "no route", never 405) and refuse other methods with an `Allow`
// naming exactly the documented ones.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { start } from "./support/harness.mjs";
import { mint } from "./support/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const spec = JSON.parse(readFileSync(path.join(root, "docs/openapi.json"), "utf8"));
const METHODS = ["get", "head", "post", "put", "patch", "delete", "options"];
const PROBLEM_BASE = "https://artifacts.dev/problems/";

/** Every documented operation: { worker, method, path, op }. */
const operations = Object.entries(spec.paths).flatMap(([p, item]) =>
  METHODS.filter((m) => item[m]).flatMap((m) => [item[m]["x-worker"]].flat().map((worker) => ({ worker, method: m.toUpperCase(), path: p, op: item[m] }))),
);

/**
 * The routers, as their sources spell each route (`marker`), and the methods each takes.
 * `OPTIONS` on the read routes is answered by serve-worker/src/cors.rs before the router.
 */
const ROUTES = [
  { worker: "ingest", path: "/$.health", methods: ["GET"], marker: "path == shared::health::PATH" },
  { worker: "ingest", path: "/$.artifacts", methods: ["POST"], marker: 'path == "/$.artifacts"' },
  { worker: "ingest", path: "/$.artifacts/{ns}/{type}/{id}", methods: ["DELETE"], marker: 'path.strip_prefix("/$.artifacts/")' },
  { worker: "serve", path: "/$.health", methods: ["GET"], marker: "path == shared::health::PATH" },
  { worker: "serve", path: "/$.content/batch", methods: ["POST"], marker: 'path == "/$.content/batch"' },
  { worker: "serve", path: "/$.content/sign", methods: ["POST"], marker: 'path == "/$.content/sign"' },
  { worker: "serve", path: "/$.content/{ns}/{type}/", methods: ["GET", "OPTIONS"], marker: "rest.strip_suffix('/')" },
  { worker: "serve", path: "/$.lineage/{ns}/{type}/{id}", methods: ["GET"], marker: 'path.strip_prefix("/$.lineage/")' },
  { worker: "serve", path: "/$.content/{ns}/{type}/{id}.{ext}", methods: ["GET", "HEAD", "OPTIONS"], marker: "path.strip_prefix(shared::content::PREFIX)" },
];
const ROUTER = { ingest: "ingest-worker/src/lib.rs", serve: "serve-worker/src/lib.rs" };
const source = (rel) => readFileSync(path.join(root, rel), "utf8");

test("the description is OpenAPI 3.1 and every operation names its worker, statuses and problem media type", () => {
  assert.equal(spec.openapi, "3.1.0");
  assert.ok(operations.length >= 10);
  for (const { worker, method, path: p, op } of operations) {
    const where = `${method} ${p}`;
    assert.ok(["ingest", "serve"].includes(worker), `${where}: x-worker`);
    assert.ok(op.operationId, `${where}: operationId`);
    const statuses = Object.keys(op.responses);
    assert.ok(statuses.length > 0, where);
    for (const [status, res] of Object.entries(op.responses)) {
      assert.match(status, /^[1-5]\d\d$/, `${where}: ${status}`);
      assert.equal(typeof res.description, "string", `${where} ${status}: description`);
      if (Number(status) >= 400) {
        assert.ok(res["x-problem-types"]?.length > 0, `${where} ${status}: x-problem-types`);
        assert.ok(res.content?.["application/problem+json"], `${where} ${status}: application/problem+json`);
      }
    }
    for (const param of op.parameters ?? []) {
      if (param.in === "path") assert.ok(p.includes(`{${param.name}}`), `${where}: path parameter ${param.name} not in the path`);
    }
    for (const name of p.match(/\{(\w+)\}/g) ?? []) {
      assert.ok((op.parameters ?? []).some((q) => q.in === "path" && `{${q.name}}` === name), `${where}: ${name} is not a parameter`);
    }
  }
  // Every $ref resolves.
  const refs = JSON.stringify(spec).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const r of refs) {
    const target = r.slice(8, -1).replace(/^#\//, "").split("/").reduce((o, k) => o?.[k], spec);
    assert.ok(target, `${r} does not resolve`);
  }
});

/** slug → statuses the code gives it: `(status, "slug", "Title"` in the workers and `shared` (tests left out). */
function problemTypesInCode() {
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) {
        if (f !== "tests") walk(p);
      } else if (p.endsWith(".rs") && !/(^|_)tests?\.rs$/.test(f)) files.push(p);
    }
  };
  for (const d of ["shared/src", "ingest-worker/src", "serve-worker/src"]) walk(path.join(root, d));
  const found = new Map();
  for (const f of files) {
    let src = readFileSync(f, "utf8");
    const t = src.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/);
    if (t >= 0) src = src.slice(0, t);
    for (const m of src.matchAll(/\(\s*(\d{3}|[A-Za-z_][A-Za-z0-9_:.]*),\s*"([a-z][a-z0-9-]*)",\s*"[A-Z]/g)) {
      if (!found.has(m[2])) found.set(m[2], new Set());
      found.get(m[2]).add(/^\d{3}$/.test(m[1]) ? Number(m[1]) : m[1]);
    }
  }
  return found;
}

/** slug → statuses the description gives it (responses and batch lines). */
function problemTypesDocumented() {
  const out = new Map();
  const visit = (node) => {
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (/^[1-5]\d\d$/.test(k) && v?.["x-problem-types"]) {
        for (const slug of v["x-problem-types"]) {
          if (!out.has(slug)) out.set(slug, new Set());
          out.get(slug).add(Number(k));
        }
      }
      visit(v);
    }
  };
  visit(spec.paths);
  return out;
}

test("every problem type the code makes is documented, and every documented one is made by the code with that status", () => {
  const code = problemTypesInCode();
  const documented = problemTypesDocumented();
  assert.ok(code.size >= 30, `only ${code.size} problem types found in the code: the pattern no longer matches`);
  const undocumented = [...code.keys()].filter((s) => !documented.has(s));
  assert.deepEqual(undocumented, [], `problem types the code makes that docs/openapi.json does not list: ${undocumented.join(", ")}`);
  for (const [slug, statuses] of documented) {
    assert.ok(code.has(slug), `docs/openapi.json lists ${slug}, which no code makes`);
    const made = code.get(slug);
    // A status passed as a variable (`status`) is not checked; every literal one is.
    if ([...made].every((s) => typeof s === "number")) {
      for (const s of statuses) assert.ok(made.has(s), `docs/openapi.json lists ${slug} as ${s}; the code makes it as ${[...made].join(", ")}`);
    }
  }
});

test("every route of both routers is documented, and every documented route is in a router", () => {
  for (const w of Object.keys(ROUTER)) {
    const src = source(ROUTER[w]);
    // Every route the router spells is in ROUTES …
    const spelled = [...src.matchAll(/path == ([\w:]+|"[^"]+")|path\.strip_prefix\(([\w:]+|"[^"]+")\)|rest\.strip_suffix\('\/'\)/g)].map((m) => m[0]);
    const markers = ROUTES.filter((r) => r.worker === w).map((r) => r.marker);
    for (const s of spelled) assert.ok(markers.some((m) => m.includes(s)), `${ROUTER[w]} routes ${s}, which the test's ROUTES (and so docs/openapi.json) lack`);
    // … and every route of ROUTES is in the router, with its methods.
    for (const r of ROUTES.filter((x) => x.worker === w)) {
      assert.ok(src.includes(r.marker), `${ROUTER[w]} no longer holds ${r.marker}`);
      for (const m of r.methods) {
        const spelledMethod = m === "OPTIONS" ? source("serve-worker/src/cors.rs").includes("Method::Options") : src.includes(`"${m}" =>`) || src.includes(`Method::${m[0] + m.slice(1).toLowerCase()} =>`);
        assert.ok(spelledMethod, `${ROUTER[w]}: ${m} for ${r.path}`);
      }
    }
  }
  const documented = operations.map((o) => `${o.worker} ${o.method} ${o.path}`).sort();
  const routed = ROUTES.flatMap((r) => r.methods.map((m) => `${r.worker} ${m} ${r.path}`)).sort();
  assert.deepEqual(documented, routed);
});

let h;
before(async () => {
  h = await start();
});
after(async () => {
  await h?.dispose();
});

const SAMPLE = { ns: "docs", type: "guide", id: "intro", ext: "md" };
const concrete = (p) => p.replace(/\{(\w+)\}/g, (_, k) => SAMPLE[k]);

test("the running workers answer every documented operation, and refuse other methods with exactly the documented Allow", async () => {
  const token = mint({ scopes: ["write:*", "read:*"] });
  for (const { worker, method, path: p } of operations) {
    const res = await h[worker](concrete(p), {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: method === "POST" ? (p === "/$.content/sign" ? JSON.stringify({ path: "/$.content/docs/guide/intro.md" }) : "[]") : undefined,
    });
    const text = await res.text();
    assert.notEqual(res.status, 405, `${worker} ${method} ${p}: ${text}`);
    assert.ok(!text.includes("no route for"), `${worker} ${method} ${p}: ${text}`);
    const documented = Object.keys(spec.paths[p][method.toLowerCase()].responses).map(Number);
    assert.ok(documented.includes(res.status), `${worker} ${method} ${p} answered ${res.status}, which the description does not list (${documented}): ${text.slice(0, 200)}`);
    if (res.status >= 400 && method !== "HEAD") {
      const type = JSON.parse(text).type;
      assert.ok(type.startsWith(PROBLEM_BASE));
      assert.ok(spec.paths[p][method.toLowerCase()].responses[res.status]["x-problem-types"].includes(type.slice(PROBLEM_BASE.length)), `${method} ${p}: ${type}`);
    }
  }
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const worker of new Set(METHODS.filter((m) => item[m]).flatMap((m) => [item[m]["x-worker"]].flat()))) {
      const res = await h[worker](concrete(p), { method: "PUT" });
      const body = await res.json();
      assert.equal(res.status, 405, `${worker} PUT ${p}`);
      const allowed = METHODS.filter((m) => item[m] && m !== "options").map((m) => m.toUpperCase());
      assert.deepEqual(res.headers.get("allow").split(", ").sort(), allowed.sort(), `${worker} ${p}: Allow`);
      assert.equal(body.type, `${PROBLEM_BASE}method-not-allowed`);
    }
  }
  // And a path no router knows is the documented catch-all.
  for (const worker of ["ingest", "serve"]) {
    const res = await h[worker]("/elsewhere");
    assert.equal(res.status, 404);
    assert.equal((await res.json()).type, `${PROBLEM_BASE}not-found`);
  }
});
