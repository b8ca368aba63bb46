// `make provision` (tools/provision.mjs), offline: the printed wrangler commands (order, names,
// schema file, roll intervals, SQL, the compact worker's queue and notification rule, the ledger's
// outbox and dead-letter queues), the config edits on copies of the wrangler configs, APPLY=1
// against a fake wrangler that keeps state (create, then skip what exists, then write the ids it
// read back), and `wrangler deploy --dry-run` of the configs it wrote. Needs `make build` (the
// dry runs bundle build/*/entry.mjs).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_ROLL_S, MIN_ROLL_S, SCHEMA_FILE, options, parseCatalog, placeholders, plan, setKey, writeIds } from "../tools/provision.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SCRIPT = path.join(root, "tools", "provision.mjs");
const WRANGLER = path.join(root, "node_modules", ".bin", "wrangler");
const MODES = ["preview", "build", "bulk"];
// None of the script's settings leak in from the caller's environment.
const SETTINGS = ["BUCKET", "CATALOG_NAMESPACE", "STREAM_PREFIX", "KV_TITLE", "TABLE_PREVIEW", "TABLE_BUILD", "TABLE_BULK", "ROLL_PREVIEW_S", "ROLL_BUILD_S", "ROLL_BULK_S", "SINK_CATALOG_TOKEN", "CONFIG_DIR", "WRANGLER", "COMPACT_QUEUE", "NOTIFY_PREFIXES", "NOTIFY_SUFFIX", "LEDGER_QUEUE", "LEDGER_DLQ"];
const cleanEnv = (extra = {}) => {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  for (const k of SETTINGS) delete env[k];
  return { ...env, ...extra };
};
const provision = (args = [], env = {}) => run("node", [SCRIPT, ...args], { cwd: root, env: cleanEnv(env), maxBuffer: 1 << 24 });
const commandsOf = (stdout) => stdout.split("\n").filter((l) => l.startsWith("npx wrangler "));

/** A config directory next to a `build` link, so the configs' `main = "../build/…"` resolves. */
function configCopy(tag) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `provision-${tag}-`));
  mkdirSync(path.join(dir, "wrangler"));
  for (const f of ["ingest.toml", "serve.toml", "compact.toml", "ledger.toml"]) cpSync(path.join(root, "wrangler", f), path.join(dir, "wrangler", f));
  symlinkSync(path.join(root, "build"), path.join(dir, "build"));
  return dir;
}

async function dryRun(config, out) {
  try {
    const { stdout } = await run(WRANGLER, ["deploy", "--dry-run", "--outdir", out, "-c", config], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      maxBuffer: 1 << 24,
    });
    return { ok: true, stdout };
  } catch (e) {
    return { ok: false, stdout: `${e.stdout}\n${e.stderr}` };
  }
}

describe("make provision prints the wrangler commands", () => {
  let stdout;
  before(async () => {
    ({ stdout } = await provision());
  });

  test("in order: bucket, catalog, three streams, three sinks, three pipelines, KV, the compact worker's queue and notification rule, the ledger's outbox and dead-letter queues", () => {
    const verbs = commandsOf(stdout).map((l) => l.split(" ").slice(2, 5).join(" "));
    assert.deepEqual(verbs, [
      "r2 bucket create",
      "r2 bucket catalog",
      "pipelines streams create",
      "pipelines streams create",
      "pipelines streams create",
      "pipelines sinks create",
      "pipelines sinks create",
      "pipelines sinks create",
      "pipelines create artifacts_preview_pipeline",
      "pipelines create artifacts_build_pipeline",
      "pipelines create artifacts_bulk_pipeline",
      "kv namespace create",
      "queues create artifacts-compact",
      "r2 bucket notification",
      "queues create artifacts-ledger-outbox",
      "queues create artifacts-ledger-outbox-dlq",
    ]);
    const c = commandsOf(stdout);
    assert.equal(c[0], "npx wrangler r2 bucket create artifacts-warehouse");
    assert.equal(c[1], "npx wrangler r2 bucket catalog enable artifacts-warehouse");
    assert.equal(c[11], "npx wrangler kv namespace create artifact_state");
    assert.equal(c[12], "npx wrangler queues create artifacts-compact");
    assert.equal(c[13], "npx wrangler r2 bucket notification create artifacts-warehouse --event-type object-create --prefix __r2_data_catalog/ --suffix .metadata.json --queue artifacts-compact");
    assert.match(stdout, /# the compact worker: `make deploy` runs `npx wrangler deploy -c wrangler\/compact\.toml`/);
    assert.equal(c[14], "npx wrangler queues create artifacts-ledger-outbox");
    assert.equal(c[15], "npx wrangler queues create artifacts-ledger-outbox-dlq");
    assert.match(stdout, /# the ledger worker: `make deploy` runs `npx wrangler deploy -c wrangler\/ledger\.toml` first/);
  });

  test("the ledger's queues are the ones the configs name: ingest produces to the outbox, the ledger consumes it, with the dead-letter queue", () => {
    const ingest = readFileSync(path.join(root, "wrangler", "ingest.toml"), "utf8");
    const ledger = readFileSync(path.join(root, "wrangler", "ledger.toml"), "utf8");
    assert.match(ingest, /binding = "LEDGER_OUTBOX"\nqueue = "artifacts-ledger-outbox"/);
    assert.match(ledger, /\[\[queues\.consumers\]\]\nqueue = "artifacts-ledger-outbox"/);
    assert.match(ledger, /^dead_letter_queue = "artifacts-ledger-outbox-dlq"$/m);
  });

  test("the ledger's queue names are settings; bad or clashing ones are refused", async () => {
    const { stdout: out } = await provision([], { LEDGER_QUEUE: "outbox-2" });
    assert.deepEqual(commandsOf(out).slice(-2), ["npx wrangler queues create outbox-2", "npx wrangler queues create outbox-2-dlq"]);
    assert.equal(options({ LEDGER_QUEUE: "a", LEDGER_DLQ: "b" }).ledgerDlq, "b");
    for (const [env, message] of [[{ LEDGER_QUEUE: "Outbox" }, /LEDGER_QUEUE=Outbox/], [{ LEDGER_DLQ: "artifacts-ledger-outbox" }, /three different queues/], [{ LEDGER_QUEUE: "artifacts-compact" }, /three different queues/]]) {
      await assert.rejects(provision([], env), (e) => e.code === 2 && message.test(e.stderr));
    }
  });

  test("the notification rules: one per prefix, the suffix optional, bad settings refused", async () => {
    const { stdout: out } = await provision([], { NOTIFY_PREFIXES: "__r2_data_catalog/,tables/a/metadata/", NOTIFY_SUFFIX: "none", COMPACT_QUEUE: "q-1" });
    const rules = commandsOf(out).filter((l) => l.includes("notification create"));
    assert.deepEqual(rules, [
      "npx wrangler r2 bucket notification create artifacts-warehouse --event-type object-create --prefix __r2_data_catalog/ --queue q-1",
      "npx wrangler r2 bucket notification create artifacts-warehouse --event-type object-create --prefix tables/a/metadata/ --queue q-1",
    ]);
    assert.ok(commandsOf(out).includes("npx wrangler queues create q-1"));
    for (const [env, message] of [[{ COMPACT_QUEUE: "Bad_Queue" }, /COMPACT_QUEUE=Bad_Queue/], [{ NOTIFY_PREFIXES: "tables/a" }, /not a directory prefix/]]) {
      await assert.rejects(provision([], env), (e) => e.code === 2 && message.test(e.stderr));
    }
  });

  test("streams take the committed stream schema, workers only", () => {
    const streams = commandsOf(stdout).filter((l) => l.includes("streams create"));
    assert.deepEqual(streams, MODES.map((m) => `npx wrangler pipelines streams create artifacts_${m} --schema-file ${SCHEMA_FILE} --http-enabled=false`));
    const schema = JSON.parse(readFileSync(path.join(root, SCHEMA_FILE), "utf8"));
    assert.deepEqual(Object.keys(schema), ["fields"]);
    assert.equal(schema.fields.find((f) => f.name === "ts").type, "timestamp");
  });

  test("sinks: R2 Data Catalog, zstd, one table per mode, a roll interval per mode of at least 60 s, the token as a variable", () => {
    const sinks = commandsOf(stdout).filter((l) => l.includes("sinks create"));
    MODES.forEach((m, i) => {
      assert.equal(
        sinks[i],
        `npx wrangler pipelines sinks create artifacts_${m}_sink --type r2-data-catalog --bucket artifacts-warehouse --namespace artifacts --table ${m} --catalog-token "$SINK_CATALOG_TOKEN" --compression zstd --roll-interval ${DEFAULT_ROLL_S[m]}`,
      );
      assert.ok(DEFAULT_ROLL_S[m] >= MIN_ROLL_S);
    });
    assert.deepEqual(DEFAULT_ROLL_S, { preview: 60, build: 120, bulk: 300 });
  });

  test("pipelines: INSERT INTO the sink SELECT * FROM the stream", () => {
    const pipes = commandsOf(stdout).filter((l) => / pipelines create /.test(l));
    assert.deepEqual(pipes, MODES.map((m) => `npx wrangler pipelines create artifacts_${m}_pipeline --sql 'INSERT INTO artifacts_${m}_sink SELECT * FROM artifacts_${m}'`));
  });

  test("the rate limiter is named as a config binding, not a command", () => {
    assert.match(stdout, /# rate limiter: no command — the \[\[ratelimits\]\] binding RATE_LIMITER in wrangler\/ingest\.toml \(namespace_id 1001, 600 requests per 60 s/);
    assert.ok(!commandsOf(stdout).some((l) => /ratelimit/i.test(l)));
  });

  test("settings change names and intervals; a roll under 60 s or a bad name is refused", async () => {
    const { stdout: out } = await provision([], { BUCKET: "my-bucket", STREAM_PREFIX: "docs", ROLL_PREVIEW_S: "90", TABLE_BUILD: "ci" });
    const c = commandsOf(out);
    assert.equal(c[0], "npx wrangler r2 bucket create my-bucket");
    assert.ok(c.includes("npx wrangler pipelines streams create docs_preview --schema-file wrangler/stream-schema.json --http-enabled=false"));
    assert.ok(c.some((l) => l.includes("docs_preview_sink") && l.endsWith("--roll-interval 90")));
    assert.ok(c.some((l) => l.includes("docs_build_sink") && l.includes("--table ci ")));
    for (const [env, message] of [[{ ROLL_BUILD_S: "30" }, /ROLL_BUILD_S=30: .*at least 60/], [{ STREAM_PREFIX: "my-streams" }, /letters, digits and underscores/], [{ BUCKET: "Bad_Bucket" }, /not an R2 bucket name/]]) {
      await assert.rejects(provision([], env), (e) => e.code === 2 && message.test(e.stderr));
    }
    // Empty means unset, as for make dev.
    assert.equal(options({ ROLL_BULK_S: "", BUCKET: " " }).roll.bulk, 300);
  });
});

test("config edits replace one line in the right block and keep every comment", () => {
  const ingest = readFileSync(path.join(root, "wrangler", "ingest.toml"), "utf8");
  const serve = readFileSync(path.join(root, "wrangler", "serve.toml"), "utf8");
  const o = options({});
  const ids = { streams: { preview: "s-pre", build: "s-bld", bulk: "s-blk" }, kv: "k".repeat(32), catalogUri: "https://catalog.cloudflarestorage.com/acct/artifacts-warehouse", warehouse: "acct_artifacts-warehouse" };
  const next = writeIds({ ingest, serve }, ids, o);
  assert.equal(next.ingest.split("\n").length, ingest.split("\n").length);
  assert.equal(next.serve.split("\n").length, serve.split("\n").length);
  const comments = (t) => t.split("\n").filter((l) => l.trim().startsWith("#"));
  assert.deepEqual(comments(next.ingest), comments(ingest));
  assert.deepEqual(comments(next.serve), comments(serve));
  assert.match(next.ingest, /binding = "PIPELINE_PREVIEW"\npipeline = "s-pre"/);
  assert.match(next.ingest, /binding = "PIPELINE_BUILD"\npipeline = "s-bld"/);
  assert.match(next.ingest, /binding = "PIPELINE_BULK"\npipeline = "s-blk"/);
  assert.match(next.ingest, new RegExp(`binding = "ARTIFACT_STATE"\nid = "${ids.kv}"`));
  assert.match(next.serve, new RegExp(`binding = "ARTIFACT_STATE"\nid = "${ids.kv}"`));
  assert.match(next.serve, /^CATALOG_URL = "https:\/\/catalog\.cloudflarestorage\.com\/acct\/artifacts-warehouse"$/m);
  assert.match(next.serve, /^CATALOG_WAREHOUSE = "acct_artifacts-warehouse"$/m);
  assert.match(next.serve, /^LOCATION_PREFIX = "s3:\/\/artifacts-warehouse\/"$/m);
  // Nothing else moved.
  const diff = (a, b) => a.split("\n").filter((l, i) => l !== b.split("\n")[i]);
  assert.equal(diff(next.ingest, ingest).length, 4);
  assert.equal(diff(next.serve, serve).length, 3);
  // The ledger's config: the KV id, and its queues (the committed names: only the id line moves).
  const ledger = readFileSync(path.join(root, "wrangler", "ledger.toml"), "utf8");
  const withLedger = writeIds({ ingest, serve, ledger }, ids, o);
  assert.match(withLedger.ledger, new RegExp(`binding = "ARTIFACT_STATE"\nid = "${ids.kv}"`));
  assert.deepEqual(comments(withLedger.ledger), comments(ledger));
  assert.equal(diff(withLedger.ledger, ledger).length, 1);
  const renamed = writeIds({ ingest, serve, ledger }, ids, options({ LEDGER_QUEUE: "outbox-2" }));
  assert.match(renamed.ingest, /binding = "LEDGER_OUTBOX"\nqueue = "outbox-2"/);
  assert.match(renamed.ledger, /\[\[queues\.consumers\]\]\nqueue = "outbox-2"/);
  assert.match(renamed.ledger, /^dead_letter_queue = "outbox-2-dlq"$/m);
  // A block that is not there is an error, never a silent no-op.
  assert.throws(() => setKey(ingest, { header: "[[pipelines]]", where: { key: "binding", value: "PIPELINE_NOPE" }, key: "pipeline", value: "x" }), /no \[\[pipelines\]\] with binding = "PIPELINE_NOPE"/);
  // A missing key is added to its block.
  const added = setKey("[vars]\nA = \"1\"\n\n[other]\nB = \"2\"\n", { header: "[vars]", key: "C", value: "3" });
  assert.equal(added, "[vars]\nA = \"1\"\nC = \"3\"\n\n[other]\nB = \"2\"\n");
});

test("the catalog URI and warehouse are read from wrangler's output, colours and quotes included", () => {
  const enable = "✨ Successfully enabled data catalog on bucket 'b'.\n\nCatalog URI: 'https://catalog.cloudflarestorage.com/acct/b'\nWarehouse: 'acct_b'\n\nUse this Catalog URI…";
  assert.deepEqual(parseCatalog(enable), { catalogUri: "https://catalog.cloudflarestorage.com/acct/b", warehouse: "acct_b" });
  const get = "Getting data catalog status for 'b'...\n\n\u001b[37mCatalog URI:\u001b[39m  \u001b[90mhttps://catalog.cloudflarestorage.com/acct/b\u001b[39m\n\u001b[37mWarehouse:\u001b[39m    \u001b[90macct_b\u001b[39m\n\u001b[37mStatus:\u001b[39m       \u001b[90mactive\u001b[39m";
  assert.deepEqual(parseCatalog(get), { catalogUri: "https://catalog.cloudflarestorage.com/acct/b", warehouse: "acct_b" });
  assert.equal(parseCatalog("Data catalog is not enabled for bucket 'b'."), undefined);
});

// A stand-in for wrangler: records every call, keeps streams, sinks, pipelines, KV namespaces and
// buckets in a state file, answers the list commands as JSON the way wrangler 4.86 does.
const FAKE_WRANGLER = `#!/usr/bin/env node
const fs = require("node:fs");
const dir = __dirname;
const statePath = dir + "/state.json";
const state = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : { buckets: [], catalogs: [], streams: [], sinks: [], pipelines: [], kv: [] };
const a = process.argv.slice(2);
fs.appendFileSync(dir + "/calls.jsonl", JSON.stringify(a) + "\\n");
const save = () => fs.writeFileSync(statePath, JSON.stringify(state));
const id = (p, n) => p + "-" + String(n).padStart(4, "0");
const key = a.slice(0, 3).join(" ");
const fail = (m) => { process.stderr.write(m + "\\n"); process.exit(1); };
if (key === "r2 bucket create") { if (state.buckets.includes(a[3])) fail("The bucket you tried to create already exists, and you own it. [code: 10004]"); state.buckets.push(a[3]); save(); console.log("Created bucket '" + a[3] + "'"); }
else if (a.slice(0, 4).join(" ") === "r2 bucket catalog enable") { if (!state.buckets.includes(a[4])) fail("no bucket"); if (state.catalogs.includes(a[4])) fail("✘ [ERROR] A request to the Cloudflare API failed. [code: 40901]"); state.catalogs.push(a[4]); save(); console.log("✨ Successfully enabled data catalog on bucket '" + a[4] + "'.\\n\\nCatalog URI: 'https://catalog.cloudflarestorage.com/fakeacct/" + a[4] + "'\\nWarehouse: 'fakeacct_" + a[4] + "'\\n"); }
else if (a.slice(0, 4).join(" ") === "r2 bucket catalog get") { console.log("\\u001b[37mCatalog URI:\\u001b[39m  https://catalog.cloudflarestorage.com/fakeacct/" + a[4] + "\\n\\u001b[37mWarehouse:\\u001b[39m    fakeacct_" + a[4] + "\\nStatus:       active"); }
else if (key === "pipelines streams create") { if (!fs.existsSync(a[a.indexOf("--schema-file") + 1])) fail("no schema file"); const s = { id: id("stream", state.streams.length + 1), name: a[3] }; state.streams.push(s); save(); console.log("✨ Successfully created stream '" + s.name + "' with id '" + s.id + "'."); }
else if (key === "pipelines sinks create") { if (a[a.indexOf("--catalog-token") + 1] !== "tok-secret") fail("bad token"); state.sinks.push({ id: id("sink", state.sinks.length + 1), name: a[3] }); save(); }
else if (a[0] === "pipelines" && a[1] === "create") { state.pipelines.push({ id: id("pipe", state.pipelines.length + 1), name: a[2], sql: a[a.indexOf("--sql") + 1] }); save(); }
else if (key === "pipelines streams list") { console.log(JSON.stringify(state.streams)); }
else if (key === "pipelines sinks list") { console.log(JSON.stringify(state.sinks)); }
else if (a[0] === "pipelines" && a[1] === "list") { console.log(JSON.stringify(state.pipelines)); }
else if (key === "kv namespace create") { state.kv.push({ id: "f".repeat(28) + String(state.kv.length + 1).padStart(4, "0"), title: a[3] }); save(); console.log("✨ Success!"); }
else if (key === "kv namespace list") { console.log(JSON.stringify(state.kv, null, 2)); }
else if (a.slice(0, 2).join(" ") === "queues create") { state.queues ??= []; if (state.queues.includes(a[2])) fail("✘ [ERROR] A queue with this name already exists. [code: 11009]"); state.queues.push(a[2]); save(); console.log("✨ Created queue " + a[2]); }
else if (a.slice(0, 4).join(" ") === "r2 bucket notification create") { state.rules ??= []; if (!(state.queues ?? []).includes(a[a.indexOf("--queue") + 1])) fail("no such queue"); const rule = a.slice(4).join(" "); if (state.rules.includes(rule)) fail("✘ [ERROR] A rule with this prefix/suffix already exists (overlap) [code: 10063]"); state.rules.push(rule); save(); console.log("✨ Created notification rule"); }
else fail("fake wrangler: unexpected " + a.join(" "));
`;

describe("make provision APPLY=1 (against a fake wrangler)", () => {
  let dir;
  let fake;
  const calls = () => readFileSync(path.join(fake, "calls.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const creates = (list) => list.filter((a) => a.includes("create") || a[3] === "enable");
  before(() => {
    dir = configCopy("apply");
    fake = path.join(dir, "fake");
    mkdirSync(fake);
    writeFileSync(path.join(fake, "wrangler"), FAKE_WRANGLER);
    chmodSync(path.join(fake, "wrangler"), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = () => ({ WRANGLER: path.join(fake, "wrangler"), CONFIG_DIR: path.join(dir, "wrangler"), SINK_CATALOG_TOKEN: "tok-secret" });

  test("refuses without the sinks' catalog token", async () => {
    await assert.rejects(provision(["--apply"], { ...env(), SINK_CATALOG_TOKEN: "" }), (e) => e.code === 1 && /needs SINK_CATALOG_TOKEN/.test(e.stderr));
    assert.ok(!existsSync(path.join(fake, "calls.jsonl")), "nothing ran");
  });

  test("runs the printed commands in order, then writes the ids it read back", async () => {
    const { stdout } = await provision(["--apply"], env());
    const printed = commandsOf((await provision()).stdout).map((l) => l.replace('"$SINK_CATALOG_TOKEN"', "tok-secret").replace(/'([^']*)'/g, "$1"));
    assert.deepEqual(creates(calls()).map((a) => ["npx", "wrangler", ...a].join(" ")), printed);
    assert.ok(!stdout.includes("tok-secret"), "the token is never printed");
    const ingest = readFileSync(path.join(dir, "wrangler", "ingest.toml"), "utf8");
    const serve = readFileSync(path.join(dir, "wrangler", "serve.toml"), "utf8");
    const kv = "f".repeat(28) + "0001";
    assert.match(ingest, /binding = "PIPELINE_PREVIEW"\npipeline = "stream-0001"/);
    assert.match(ingest, /binding = "PIPELINE_BUILD"\npipeline = "stream-0002"/);
    assert.match(ingest, /binding = "PIPELINE_BULK"\npipeline = "stream-0003"/);
    assert.match(ingest, new RegExp(`id = "${kv}"`));
    assert.match(serve, new RegExp(`id = "${kv}"`));
    assert.match(serve, /^CATALOG_URL = "https:\/\/catalog\.cloudflarestorage\.com\/fakeacct\/artifacts-warehouse"$/m);
    assert.match(serve, /^CATALOG_WAREHOUSE = "fakeacct_artifacts-warehouse"$/m);
    const compact = readFileSync(path.join(dir, "wrangler", "compact.toml"), "utf8");
    assert.match(compact, /^CATALOG_URL = "https:\/\/catalog\.cloudflarestorage\.com\/fakeacct\/artifacts-warehouse"$/m);
    assert.match(compact, /^CATALOG_WAREHOUSE = "fakeacct_artifacts-warehouse"$/m);
    assert.match(compact, /binding = "COMPACT_QUEUE"\nqueue = "artifacts-compact"/);
    assert.match(stdout, /wrote wrangler|wrote .*ingest\.toml/);
    assert.match(stdout, /wrote .*compact\.toml: .*queue artifacts-compact/);
    const state = JSON.parse(readFileSync(path.join(fake, "state.json"), "utf8"));
    assert.deepEqual(state.queues, ["artifacts-compact", "artifacts-ledger-outbox", "artifacts-ledger-outbox-dlq"]);
    const ledger = readFileSync(path.join(dir, "wrangler", "ledger.toml"), "utf8");
    assert.match(ledger, new RegExp(`binding = "ARTIFACT_STATE"\nid = "${kv}"`));
    assert.match(ledger, /\[\[queues\.consumers\]\]\nqueue = "artifacts-ledger-outbox"/);
    assert.match(ledger, /^dead_letter_queue = "artifacts-ledger-outbox-dlq"$/m);
    assert.match(stdout, /wrote .*ledger\.toml: KV f+0001; queue artifacts-ledger-outbox; dead-letter queue artifacts-ledger-outbox-dlq/);
    assert.deepEqual(state.rules, ["artifacts-warehouse --event-type object-create --prefix __r2_data_catalog/ --suffix .metadata.json --queue artifacts-compact"]);
  });

  test("a second run creates nothing and writes the same ids", async () => {
    const before = calls().length;
    const ingest = readFileSync(path.join(dir, "wrangler", "ingest.toml"), "utf8");
    const ledger = readFileSync(path.join(dir, "wrangler", "ledger.toml"), "utf8");
    const { stdout } = await provision(["--apply"], env());
    const again = calls().slice(before);
    // The bucket create and catalog enable are tried and fail (the bucket "already exists", the
    // catalog answers `catalog get`); everything else is found by its list; nothing new is made.
    assert.deepEqual(creates(again).map((a) => a.slice(0, 3).join(" ")), ["r2 bucket create", "r2 bucket catalog", "queues create artifacts-compact", "r2 bucket notification", "queues create artifacts-ledger-outbox", "queues create artifacts-ledger-outbox-dlq"]);
    assert.ok(again.some((a) => a.join(" ") === "r2 bucket catalog get artifacts-warehouse"));
    assert.equal((stdout.match(/exists, skipped/g) ?? []).length, 16);
    assert.equal(readFileSync(path.join(dir, "wrangler", "ingest.toml"), "utf8"), ingest);
    assert.equal(readFileSync(path.join(dir, "wrangler", "ledger.toml"), "utf8"), ledger);
  });

  test("make deploy's check: the committed configs hold placeholders, the written ones none", async () => {
    assert.deepEqual(placeholders(path.join(root, "wrangler")), [
      "ingest.toml: the KV namespace id is the placeholder",
      "serve.toml: the KV namespace id is the placeholder",
      "ledger.toml: the KV namespace id is the placeholder",
      "ingest.toml: PIPELINE_PREVIEW names no stream id",
      "ingest.toml: PIPELINE_BUILD names no stream id",
      "ingest.toml: PIPELINE_BULK names no stream id",
      "serve.toml: CATALOG_URL / CATALOG_WAREHOUSE still say ACCOUNT_ID",
      "compact.toml: CATALOG_URL / CATALOG_WAREHOUSE still say ACCOUNT_ID",
    ]);
    assert.deepEqual(placeholders(path.join(dir, "wrangler")), []);
    await assert.rejects(provision(["--check"]), (e) => e.code === 1 && /make provision APPLY=1/.test(e.stderr));
    await provision(["--check"], { CONFIG_DIR: path.join(dir, "wrangler") });
  });

  test("make deploy's check: a placeholder KV id in ledger.toml alone, or LEDGER_SHARDS differing, is refused", async () => {
    const bad = configCopy("check-ledger");
    try {
      for (const f of ["ingest.toml", "serve.toml", "compact.toml", "ledger.toml"]) cpSync(path.join(dir, "wrangler", f), path.join(bad, "wrangler", f));
      const file = path.join(bad, "wrangler", "ledger.toml");
      const written = readFileSync(file, "utf8");
      writeFileSync(file, written.replace(/^id = "f+0001"$/m, 'id = "00000000000000000000000000000001"'));
      assert.deepEqual(placeholders(path.join(bad, "wrangler")), ["ledger.toml: the KV namespace id is the placeholder"]);
      await assert.rejects(provision(["--check"], { CONFIG_DIR: path.join(bad, "wrangler") }), (e) => e.code === 1 && /ledger\.toml: the KV namespace id is the placeholder/.test(e.stderr));
      writeFileSync(file, written.replace(/^LEDGER_SHARDS = "16"$/m, 'LEDGER_SHARDS = "32"'));
      assert.deepEqual(placeholders(path.join(bad, "wrangler")), ["LEDGER_SHARDS differs: ledger.toml 32, ingest.toml 16, serve.toml 16, compact.toml 16 (must be equal in every config)"]);
      await assert.rejects(provision(["--check"], { CONFIG_DIR: path.join(bad, "wrangler") }), (e) => e.code === 1 && /LEDGER_SHARDS differs/.test(e.stderr));
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  for (const worker of ["ledger", "ingest", "serve", "compact"]) {
    test(`wrangler deploy --dry-run accepts the ${worker} config provision wrote`, async () => {
      const r = await dryRun(path.join(dir, "wrangler", `${worker}.toml`), path.join(dir, `out-${worker}`));
      assert.ok(r.ok, r.stdout);
      assert.match(r.stdout, /--dry-run: exiting now/);
      if (worker === "ledger") {
        assert.match(r.stdout, /env\.LEDGER \(Ledger\)\s+Durable Object/);
        assert.match(r.stdout, /env\.LEDGER_SHARDS \("16"\)/);
      } else if (worker === "ingest") {
        for (const [m, n] of [["PREVIEW", 1], ["BUILD", 2], ["BULK", 3]]) assert.match(r.stdout, new RegExp(`env\\.PIPELINE_${m} \\(stream-000${n}\\)\\s+Pipeline`));
      } else {
        // (wrangler shortens long values in this table; the file itself is checked above)
        assert.match(r.stdout, /env\.CATALOG_WAREHOUSE \("fakeacct_artifacts-warehouse"\)/);
        assert.match(r.stdout, /env\.WAREHOUSE \(artifacts-warehouse\)\s+R2 Bucket/);
      }
      if (worker === "compact") assert.match(r.stdout, /env\.COMPACT_QUEUE \(artifacts-compact\)\s+Queue/);
      else assert.match(r.stdout, new RegExp(`env\\.ARTIFACT_STATE \\(${"f".repeat(28)}0001\\)\\s+KV Namespace`));
    });
  }
});

test("the pinned wrangler takes `pipeline = <stream id>` only: `stream =` fails its dry run (docs/deploy.md)", async () => {
  const dir = configCopy("stream-key");
  try {
    const file = path.join(dir, "wrangler", "ingest.toml");
    writeFileSync(file, readFileSync(file, "utf8").replace(/^pipeline = /gm, "stream = "));
    const r = await dryRun(file, path.join(dir, "out"));
    assert.equal(r.ok, false, "if this passes, wrangler took `stream =`: switch the configs to it (docs/deploy.md)");
    assert.match(r.stdout, /bindings must have a string "pipeline" field/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("plan() is what render() prints", () => {
  const steps = plan(options({})).filter((s) => s.kind === "command");
  assert.equal(steps.length, 16);
  assert.ok(steps.every((s) => s.exists), "every command says how APPLY recognises what exists");
});
