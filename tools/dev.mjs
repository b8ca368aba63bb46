// `make dev`: the workers and the Pipelines → Iceberg stand-in in real workerd through Miniflare;
// ingest on 127.0.0.1:8787 and serve on :8788 unless INGEST_PORT / SERVE_PORT say otherwise. The
// compact worker (#16) keeps the serving table as deployed: the stand-in's commits reach it as R2
// event notifications through its queue, and a timer fires its Cron Trigger.
// State (KV, R2, Cache) persists under .dev/state (gitignored). Ctrl-C stops everything this started.
//
// Every setting comes from the environment (make passes the command line's on), and an empty one
// means unset: `make` and shells hand an unset variable on as "" in places.
//
// The two public ports are this script's own Node servers in front of the workers, which listen on
// free internal ports. Until the stack is ready (workerd started, WAREHOUSE_DIR loaded into the
// bucket) the fronts answer every request 503 — `/$.health` with
// {"worker":…,"status":"loading","loading":"warehouse: 12 of 40 files"} — so a script that waits
// for a 200 from /$.health never reads a half-loaded bucket. Once ready they pass every request
// and answer through unchanged (Host included). Dev only: deployed workers have no front.
import { start, STANDIN_ROOTS, STANDIN_LOCATION } from "../tests/support/harness.mjs";
import { mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const persistRoot = path.join(root, ".dev", "state");
const HEALTH = "/$.health";

function die(message) {
  console.error(`make dev: ${message}`);
  process.exit(1);
}

/** The variable's value, or undefined when it is unset, empty or only blanks. */
function setting(name) {
  const v = process.env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function portSetting(name, fallback) {
  const raw = setting(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) die(`${name}=${raw} is not a TCP port (1-65535); leave it unset for ${fallback}`);
  return n;
}

const ports = { ingest: portSetting("INGEST_PORT", 8787), serve: portSetting("SERVE_PORT", 8788) };
if (ports.ingest === ports.serve) die(`INGEST_PORT and SERVE_PORT are both ${ports.ingest}; they need two ports`);
const portVar = { ingest: "INGEST_PORT", serve: "SERVE_PORT" };
// The stand-in itself on a port of its own, only when STANDIN_PORT is set (no front: it is not part of
// the product): its table maintenance (POST /maintain/compact, /maintain/expire), /flush, /compact
// and the REST catalog, for trying what R2 Data Catalog does to a sink's tables.
const standinPort = portSetting("STANDIN_PORT", undefined);
if (standinPort !== undefined && Object.values(ports).includes(standinPort)) die(`STANDIN_PORT ${standinPort} is taken by INGEST_PORT or SERVE_PORT`);
// The compact worker on a port of its own, only when COMPACT_PORT is set: GET /health (each range's
// last run), POST /run (now).
const compactPort = portSetting("COMPACT_PORT", undefined);
if (compactPort !== undefined && [...Object.values(ports), standinPort].includes(compactPort)) die(`COMPACT_PORT ${compactPort} is taken by another port setting`);

// The same secret `make token` signs with (tools/src/bin/token.rs): a non-empty $AUTH_SECRET, else
// the last `AUTH_SECRET=` line of wrangler/.dev.vars (blanks and one pair of quotes stripped; an
// empty value does not count), else the documented default. The file is optional.
function devSecret() {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  let text = "";
  try {
    text = readFileSync(path.join(root, "wrangler/.dev.vars"), "utf8");
  } catch {}
  for (const line of text.split("\n").reverse()) {
    const m = /^AUTH_SECRET\s*=(.*)$/.exec(line.trim());
    if (!m) continue;
    const v = m[1].trim();
    const unquoted = /^"(.*)"$/.exec(v)?.[1] ?? /^'(.*)'$/.exec(v)?.[1] ?? v;
    if (unquoted) return unquoted;
  }
  return "dev-secret-change-me";
}

// Tables written by other tools: WAREHOUSE_DIR is loaded into the bucket (keys relative to it),
// WAREHOUSE_LOCATION (default file://<WAREHOUSE_DIR>/) is the prefix their metadata uses, and
// TABLES lists the table roots serve reads.
const warehouseDir = setting("WAREHOUSE_DIR") ? path.resolve(setting("WAREHOUSE_DIR")) : null;
const warehouseFiles = [];
if (warehouseDir) {
  let isDir = false;
  try {
    isDir = statSync(warehouseDir).isDirectory();
  } catch {}
  if (!isDir) die(`WAREHOUSE_DIR=${warehouseDir} is not a directory`);
  const walk = (rel) => {
    for (const name of readdirSync(path.join(warehouseDir, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(warehouseDir, child)).isDirectory()) walk(child);
      else warehouseFiles.push(child);
    }
  };
  walk("");
}
// Serve reads the stand-in's three tables plus TABLES; both location prefixes map to the bucket.
const serveVars = {
  TABLE_ROOTS: [STANDIN_ROOTS, setting("TABLES")].filter(Boolean).join(","),
  LOCATION_PREFIX: [STANDIN_LOCATION, setting("WAREHOUSE_LOCATION") ?? (warehouseDir ? `file://${warehouseDir}/` : "")].filter(Boolean).join(","),
  CATALOG_URL: "",
};

// ---- the fronts on the public ports --------------------------------------------------------------
let loading = "workers: starting workerd";
let ready = false;
const upstream = {}; // worker name → internal port, once Miniflare listens
const agent = new http.Agent({ keepAlive: true });
// Hop-by-hop headers are the front's own; everything else passes both ways as received.
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "upgrade", "expect", "te"]);
function headersOf(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

function loadingAnswer(name, req, res) {
  const pathname = new URL(req.url ?? "/", "http://front").pathname;
  const headers = { "retry-after": "1", "cache-control": "no-store" };
  if (pathname === HEALTH) {
    res.writeHead(503, { ...headers, "content-type": "application/json" });
    res.end(JSON.stringify({ worker: name, status: "loading", loading }));
  } else {
    res.writeHead(503, { ...headers, "content-type": "application/problem+json" });
    res.end(JSON.stringify({ type: "about:blank", title: "Service Unavailable", status: 503, detail: `make dev is still loading (${loading}); GET ${HEALTH} answers 200 when it is ready` }));
  }
  req.resume();
}

function pass(name, req, res) {
  const up = http.request(
    { host: "127.0.0.1", port: upstream[name], method: req.method, path: req.url, headers: headersOf(req.rawHeaders), agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headersOf(answer.rawHeaders));
      answer.pipe(res);
      answer.on("error", () => res.destroy());
    },
  );
  up.on("error", (e) => {
    if (res.headersSent) return res.destroy();
    res.writeHead(502, { "content-type": "application/problem+json" });
    res.end(JSON.stringify({ type: "about:blank", title: "Bad Gateway", status: 502, detail: `make dev: the ${name} worker did not answer: ${e.message}` }));
  });
  res.on("close", () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

const fronts = [];
async function listenFront(name, port) {
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => (ready ? pass(name, req, res) : loadingAnswer(name, req, res)));
  fronts.push(server);
  await new Promise((ok) => {
    server.once("error", (e) => {
      if (e.code === "EADDRINUSE") die(`port ${port} (${name}, ${portVar[name]}) is already in use on 127.0.0.1 — is another \`make dev\` running? Stop it, or set ${portVar[name]} to a free port`);
      die(`cannot listen on 127.0.0.1:${port} (${name}, ${portVar[name]}): ${e.message}`);
    });
    server.listen(port, "127.0.0.1", ok);
  });
}

/** A port nothing listens on right now, for a worker behind its front. */
async function freePort() {
  const s = net.createServer();
  await new Promise((ok, fail) => s.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

// ---- stopping ------------------------------------------------------------------------------------
let h;
let starting;
let cron;
let stopping = false;
async function stop() {
  if (stopping) process.exit(130);
  stopping = true;
  for (const s of fronts) {
    s.close();
    s.closeAllConnections();
  }
  agent.destroy();
  if (cron) clearInterval(cron);
  try {
    await (h ?? (await starting?.catch(() => undefined)))?.dispose();
  } finally {
    process.exit(0);
  }
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

// ---- start ---------------------------------------------------------------------------------------
for (const [name, port] of Object.entries(ports)) await listenFront(name, port);
mkdirSync(persistRoot, { recursive: true });
const inner = { ingest: await freePort(), serve: await freePort() };
// The local Pipelines → Iceberg stand-in takes ingest's sends and commits every roll interval: a
// poll every 250 ms commits a mode at most 250 ms after its roll is due (the README's `sleep 3`
// after a build-mode publish, 2 s roll, relies on it).
// The serving table (#15, off with SERVING=off) is the compact worker's (#16): each commit's
// metadata objects reach it as R2 event notifications through its queue (the stand-in's double),
// and a timer fires its Cron Trigger — every CRON_MS (default a minute, as deployed; 2 s when TABLES
// names tables other tools write: their commits do not pass the stand-in, so nothing notifies).
const cronMs = Number(setting("CRON_MS") ?? (setting("TABLES") ? 2000 : 60_000));
if (!(cronMs >= 100)) die(`CRON_MS=${setting("CRON_MS")} is not a period in ms (at least 100)`);
starting = start({
  persistRoot,
  ports: { ...inner, ...(standinPort ? { standin: standinPort } : {}), ...(compactPort ? { compact: compactPort } : {}) },
  authSecret: devSecret(),
  serveVars,
  standin: true,
  flushEveryMs: 250,
  notify: true,
});
try {
  h = await starting;
} catch (e) {
  console.error(e);
  die("the workers did not start (see above)");
}
Object.assign(upstream, inner);
if (warehouseDir) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "serve");
  console.log(`loading ${warehouseFiles.length} files from ${warehouseDir} into the bucket`);
  for (const [i, rel] of warehouseFiles.entries()) {
    if (stopping) break;
    loading = `warehouse: ${i} of ${warehouseFiles.length} files`;
    const b = readFileSync(path.join(warehouseDir, rel));
    await r2.put(rel, b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  console.log(`loaded ${warehouseFiles.length} objects from ${warehouseDir}; serve reads TABLES=${serveVars.TABLE_ROOTS || "(none)"}`);
}
// The emulated Cron Trigger: once now (the loaded tables), then every CRON_MS, one tick at a time.
if (h.serving && !stopping) {
  let busy = false;
  const tick = async () => {
    if (busy || stopping) return;
    busy = true;
    try {
      await h.scheduled();
    } catch (e) {
      console.error("compact worker cron tick failed", e);
    } finally {
      busy = false;
    }
  };
  await tick();
  cron = setInterval(tick, cronMs);
}
if (!stopping) {
  loading = "ready";
  ready = true;
  for (const [name, port] of Object.entries(ports)) {
    const res = await fetch(`http://127.0.0.1:${port}${HEALTH}`);
    console.log(`${name.padEnd(6)} http://127.0.0.1:${port}  ${res.status} ${await res.text()}`);
  }
  if (standinPort) console.log(`standin http://127.0.0.1:${standinPort}  POST /maintain/compact, /maintain/expire?keep=N`);
  if (compactPort) console.log(`compact http://127.0.0.1:${compactPort}  GET /health, POST /run (cron every ${cronMs} ms, and on each commit's notifications)`);
  console.log(`
state: ${persistRoot}
try:
  TOKEN=$(make -s token ORG=acme SUB=alice SCOPES='write:*' | tail -n 1)
  printf '%s\\n' '{"ns":"docs","type":"guide","id":"intro","markdown":"# Hello"}' |
    curl -s -X POST http://127.0.0.1:${ports.ingest}/$.artifacts \\
      -H "authorization: Bearer $TOKEN" -H 'content-type: application/x-ndjson' --data-binary @-
then, after the roll interval (1 s / 2 s / 5 s for preview / build / bulk), read it back:
  curl -s -H "authorization: Bearer $TOKEN" http://127.0.0.1:${ports.serve}/\\$.content/docs/guide/intro.md
Ctrl-C stops everything.`);
}
