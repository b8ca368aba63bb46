// A schema-v1 ledger database (#17) written without a v1 build, for the v1 → v2 migration test
// (#18): Miniflare keys a Durable Object's SQLite file under the persist directory by the
// namespace's unique key, `<worker name>-<class name>` (`ledger-Ledger`), and derives object ids
// from that key and the name, so a worker named `ledger` exporting a class `Ledger` started on the
// same `persist` directory opens the very files the real ledger worker (tests/support/ledger.mjs)
// opens later. Its class runs, in its constructor (inside `blockConcurrencyWhile`, one
// transaction, as the ledger's `ledger_init` does), exactly v1's statements: `MIGRATIONS[0]` and
// the `meta` table with `schema` = 1, read from ledger-worker/src/schema.rs's text, so this cannot
// drift from the real v1. Its fetch inserts `state` rows with v1's columns, as a v1 build's
// confirm and lookup wrote them, and answers what the database then holds.
import { Miniflare } from "miniflare";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { COMPATIBILITY_DATE } from "./ledger.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The string literals of Rust source `text` (comments dropped), unescaped as rustc does. */
function rustStrings(text) {
  const out = [];
  const re = /"((?:[^"\\]|\\[\s\S])*)"/g;
  const code = text.replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(re)) {
    out.push(
      m[1].replace(/\\(\r?\n\s*|n|t|r|0|\\|"|')/g, (_, e) => {
        if (e.startsWith("\n") || e.startsWith("\r")) return ""; // a line continuation
        return { n: "\n", t: "\t", r: "\r", 0: "\0", "\\": "\\", '"': '"', "'": "'" }[e];
      }),
    );
  }
  return out;
}

/**
 * v1 of the ledger's schema from ledger-worker/src/schema.rs: `{ steps }` (the statements of
 * `MIGRATIONS[0]`, in order), `meta` (migrate's `CREATE TABLE IF NOT EXISTS meta …`),
 * `setVersion` (migrate's `INSERT INTO meta … 'schema', ?`, bound to 1), `versions` (how many
 * migrations the file has).
 */
export async function v1Schema() {
  const text = await readFile(path.join(root, "ledger-worker/src/schema.rs"), "utf8");
  const start = text.indexOf("const MIGRATIONS");
  if (start < 0) throw new Error("schema.rs: no `const MIGRATIONS`");
  // The list's body: from `= &[` to its matching `];`, split into its `&[ … ]` entries.
  const open = text.indexOf("= &[", start) + 3;
  let depth = 0;
  let i = open;
  let inString = false;
  const entries = [];
  let entryStart = -1;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "[") {
      depth++;
      if (depth === 2) entryStart = i;
    } else if (ch === "]") {
      if (depth === 2) entries.push(text.slice(entryStart + 1, i));
      depth--;
      if (depth === 0) break;
    }
  }
  if (entries.length < 2) throw new Error(`schema.rs: MIGRATIONS has ${entries.length} entries, expected v1 and later ones`);
  const steps = rustStrings(entries[0]);
  const rest = rustStrings(text.slice(i));
  const meta = rest.find((s) => /^CREATE TABLE IF NOT EXISTS meta\b/.test(s));
  const setVersion = rest.find((s) => /^INSERT INTO meta\b/.test(s) && s.includes("'schema'"));
  if (!steps.length || !meta || !setVersion) throw new Error("schema.rs: v1's statements or migrate's meta statements not found");
  return { steps, meta, setVersion, versions: entries.length };
}

const V1_COLUMNS = ["key", "ts", "hash", "vis", "org", "usr", "mode", "del", "read_at", "kv_at"];

// Named `ledger`, class `Ledger`: the unique key `ledger-Ledger`, as the real ledger worker's.
const V1_WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Ledger extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    const { steps, meta, setVersion } = JSON.parse(env.V1_SCHEMA);
    ctx.blockConcurrencyWhile(async () =>
      ctx.storage.transactionSync(() => {
        const sql = ctx.storage.sql;
        sql.exec(meta);
        const at = sql.exec("SELECT v FROM meta WHERE k = 'schema'").toArray()[0]?.v ?? 0;
        if (at !== 0) throw new Error("the v1 writer found a database at schema " + at);
        for (const step of steps) sql.exec(step);
        sql.exec(setVersion, 1);
      }),
    );
  }
  async fetch(req) {
    const rows = await req.json();
    const cols = ${JSON.stringify(V1_COLUMNS)};
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const r of rows) sql.exec("INSERT INTO state (" + cols.join(", ") + ") VALUES (" + cols.map(() => "?").join(", ") + ")", ...cols.map((c) => r[c]));
    });
    return Response.json({
      meta: sql.exec("SELECT k, v FROM meta").toArray(),
      tables: sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((t) => t.name).filter((n) => !n.startsWith("_cf_") && !n.startsWith("sqlite_")),
      stateColumns: sql.exec("SELECT name FROM pragma_table_info('state')").toArray().map((c) => c.name),
      state: sql.exec("SELECT * FROM state").toArray(),
    });
  }
}
export default {
  async fetch(req, env) {
    const name = decodeURIComponent(new URL(req.url).pathname.slice(1));
    return env.LEDGER.get(env.LEDGER.idFromName(name)).fetch("https://ledger/seed", { method: "POST", body: await req.text() });
  },
};
`;

/**
 * Writes a v1 database for the ledger object `object` under `persist`: v1's schema, then `rows`
 * (objects with v1's `state` columns) in `state`. Returns what the database then holds: `{ meta,
 * tables, stateColumns, state }`. The Miniflare it starts is disposed before it returns.
 */
export async function writeV1Ledger({ persist, object, rows }) {
  const schema = await v1Schema();
  const mf = new Miniflare({
    durableObjectsPersist: persist,
    workers: [
      {
        name: "ledger",
        modules: [{ type: "ESModule", path: "ledger-v1.mjs", contents: V1_WORKER }],
        compatibilityDate: COMPATIBILITY_DATE,
        durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
        bindings: { V1_SCHEMA: JSON.stringify(schema) },
      },
    ],
  });
  try {
    await mf.ready;
    const r = await mf.dispatchFetch(`http://ledger/${encodeURIComponent(object)}`, { method: "POST", body: JSON.stringify(rows) });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`the v1 writer answered ${r.status}: ${text}`);
    return JSON.parse(text);
  } finally {
    await mf.dispose();
  }
}
