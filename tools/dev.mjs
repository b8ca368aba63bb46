// `make dev`: both workers in real workerd through Miniflare, on 127.0.0.1:8787 (ingest) and
// :8788 (serve) unless INGEST_PORT / SERVE_PORT say otherwise. State (KV, R2, Cache) persists
// under .dev/ (gitignored). Ctrl-C stops everything this started.
import { start, STANDIN_ROOTS, STANDIN_LOCATION } from "../tests/support/harness.mjs";
import { mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const persistRoot = path.join(root, ".dev", "state");
mkdirSync(persistRoot, { recursive: true });
const ports = { ingest: Number(process.env.INGEST_PORT ?? 8787), serve: Number(process.env.SERVE_PORT ?? 8788) };

// The same secret `make token` signs with: $AUTH_SECRET, else wrangler/.dev.vars, else the default.
function devSecret() {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  try {
    const line = readFileSync(path.join(root, "wrangler/.dev.vars"), "utf8").split("\n").find((l) => l.startsWith("AUTH_SECRET="));
    if (line) return line.slice("AUTH_SECRET=".length).trim().replace(/^"(.*)"$/, "$1");
  } catch {}
  return "dev-secret-change-me";
}

// Tables written by other tools: WAREHOUSE_DIR is loaded into the bucket (keys relative to it),
// WAREHOUSE_LOCATION (default file://<WAREHOUSE_DIR>/) is the prefix their metadata uses, and
// TABLES lists the table roots serve reads.
const warehouseDir = process.env.WAREHOUSE_DIR ? path.resolve(process.env.WAREHOUSE_DIR) : null;
// Serve reads the stand-in's three tables plus TABLES; both location prefixes map to the bucket.
const serveVars = {
  TABLE_ROOTS: [STANDIN_ROOTS, process.env.TABLES ?? ""].filter(Boolean).join(","),
  LOCATION_PREFIX: [STANDIN_LOCATION, process.env.WAREHOUSE_LOCATION ?? (warehouseDir ? `file://${warehouseDir}/` : "")].filter(Boolean).join(","),
  CATALOG_URL: "",
};

// The local Pipelines → Iceberg stand-in takes ingest's sends and commits every roll interval.
const h = await start({ persistRoot, ports, authSecret: devSecret(), serveVars, standin: true, flushEveryMs: 1000 });
if (warehouseDir) {
  const r2 = await h.mf.getR2Bucket("WAREHOUSE", "serve");
  let count = 0;
  const walk = async (rel) => {
    for (const name of readdirSync(path.join(warehouseDir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(warehouseDir, child)).isDirectory()) await walk(child);
      else {
        const b = readFileSync(path.join(warehouseDir, child));
        await r2.put(child, b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        count += 1;
      }
    }
  };
  await walk("");
  console.log(`loaded ${count} objects from ${warehouseDir}; serve reads TABLES=${serveVars.TABLE_ROOTS || "(none)"}`);
}
for (const [name, port] of Object.entries(ports)) {
  const res = await fetch(`http://127.0.0.1:${port}/$.health`);
  console.log(`${name.padEnd(6)} http://127.0.0.1:${port}  ${res.status} ${await res.text()}`);
}
console.log(`
state: ${persistRoot}
try:
  TOKEN=$(make -s token ORG=acme SUB=alice SCOPES='write:*' | tail -n 1)
  printf '%s\\n' '{"ns":"docs","type":"guide","id":"intro","markdown":"# Hello"}' |
    curl -s -X POST http://127.0.0.1:${ports.ingest}/$.artifacts \\
      -H "authorization: Bearer $TOKEN" -H 'content-type: application/x-ndjson' --data-binary @-
then, after the roll interval (1 s / 2 s / 5 s for preview / build / bulk), read it back:
  curl -s -H "authorization: Bearer $TOKEN" http://127.0.0.1:${ports.serve}/\$.content/docs/guide/intro.md
Ctrl-C stops everything.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await h.dispose();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
