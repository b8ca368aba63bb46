// README.md, run as a new user runs it (issue 13): its ```sh blocks, verbatim and in order, in a
// fresh clone of this working tree, with none of the project's variables set, on the README's own
// ports. `make dev` lines start `make dev` in the background (the one before is stopped first with
// Ctrl-C, SIGINT to its process group, as a user would) and wait for /$.health; every other line
// runs in one bash session (TOKEN carries over), and what the README shows as a command's output
// (the comment after it) must be exactly what it printed. `make test` is not run: it runs this.
// Then: while make dev loads WAREHOUSE_DIR, its ports answer 503 and health says what is loading.
//
// The clone reuses this checkout's build (tests/support/readme.mjs: target/ with timestamps kept,
// node_modules, .tools-stamp), so its `make dev` builds only what this checkout would; `make build`
// still packages the workers each time (about 40 s of wasm-opt per `make dev` on 2 cores).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bashSession, cloneWorkingTree, portTaken, processes, processesIn, shellBlocks, userEnv } from "./support/readme.mjs";
import { FIXTURE_ROOT, LOCATION_PREFIX, expectedTable } from "./support/warehouse.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const README = readFileSync(path.join(root, "README.md"), "utf8");
const commands = shellBlocks(README).flat();
// The ports the README's commands talk to (8787 ingest, 8788 serve).
const PORTS = [...new Set(commands.flatMap((c) => [...c.text.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))))].sort();
const HEALTH = "/$.health";
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const tail = (file, lines = 60) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "(no log)");

const { env, removed } = userEnv(root);
let clone;
let shell;
let dev = null; // the running `make dev`: { text, child, pgid, log, exited }
let devRuns = 0;

/** Starts `text` (a `make dev` line of the README, or any command) in its own process group. */
function startDev(text, extraEnv = {}) {
  const log = path.join(clone.base, `dev-${++devRuns}.log`);
  const fd = openSync(log, "w");
  const child = spawn("bash", ["--noprofile", "--norc", "-c", text], {
    cwd: clone.dir,
    env: { ...env, ...extraEnv },
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  dev = { text, child, pgid: child.pid, log, exited };
  return dev;
}

const devDied = () => dev.child.exitCode !== null || dev.child.signalCode !== null;

/**
 * Polls /$.health on every port until each answers 200; resolves to every other answer seen on
 * the way (a refused connection is not an answer: the port is not open yet).
 */
async function waitHealthy(timeoutMs) {
  const started = Date.now();
  const early = [];
  const healthy = new Set();
  while (healthy.size < PORTS.length) {
    if (devDied()) assert.fail(`\`${dev.text}\` exited (${dev.child.exitCode ?? dev.child.signalCode}) before /$.health answered 200 on ${PORTS.join(", ")}:\n${tail(dev.log)}`);
    if (Date.now() - started > timeoutMs) assert.fail(`/$.health did not answer 200 on ${PORTS.join(", ")} within ${timeoutMs / 1000} s of \`${dev.text}\`:\n${tail(dev.log)}`);
    for (const port of PORTS) {
      if (healthy.has(port)) continue;
      try {
        const res = await fetch(`http://127.0.0.1:${port}${HEALTH}`, { signal: AbortSignal.timeout(10_000) });
        const body = await res.text();
        if (res.status === 200) healthy.add(port);
        else early.push({ port, status: res.status, body });
      } catch {}
    }
    await sleep(100);
  }
  return { early, seconds: (Date.now() - started) / 1000 };
}

/** Every answer before the 200 is the dev front's 503 saying what is loading. */
function assertLoadingAnswers(early, what) {
  assert.ok(early.length > 0, `${what}: the ports never answered before the stack was ready (expected 503 loading answers first)`);
  for (const a of early) {
    assert.equal(a.status, 503, `${what}: :${a.port}${HEALTH} answered ${a.status} before 200: ${a.body}`);
    const body = JSON.parse(a.body);
    assert.equal(body.status, "loading", a.body);
    assert.equal(typeof body.loading, "string", a.body);
  }
}

/** Ctrl-C for the running `make dev`: SIGINT to its process group; nothing of it may be left. */
async function stopDev() {
  if (!dev) return;
  const { pgid, exited, text } = dev;
  dev = null;
  try {
    process.kill(-pgid, "SIGINT");
  } catch {}
  const until = Date.now() + 30_000;
  while (processes().some((p) => p.pgid === pgid) && Date.now() < until) await sleep(100);
  const left = processes().filter((p) => p.pgid === pgid);
  if (left.length) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {}
  }
  await exited;
  assert.deepEqual(left.map((p) => `${p.pid} ${p.cmd}`), [], `Ctrl-C on \`${text}\` left processes running after 30 s`);
  const stray = processesIn(clone.dir).filter((p) => p.pid !== shell?.pid);
  assert.deepEqual(stray.map((p) => `${p.pid} ${p.cmd}`), [], `processes left in the clone after stopping \`${text}\``);
  for (const port of PORTS) assert.equal(await portTaken(port), null, `port ${port} is still taken after stopping \`${text}\``);
}

describe("README.md, as a new user runs it", { timeout: 420_000 }, () => {
  before(async () => {
    assert.ok(PORTS.length > 0, "README.md's commands name no 127.0.0.1 port");
    for (const port of PORTS) {
      const taken = await portTaken(port);
      if (taken) assert.fail(`port ${port}, which README.md's commands use, is already in use on 127.0.0.1 (${taken}): stop what listens there (another \`make dev\`?) and run this test again`);
    }
    for (const w of ["ingest", "serve", "standin"]) {
      const wasm = path.join(root, `target/wasm32-unknown-unknown/release/${w}_worker.wasm`);
      assert.ok(existsSync(wasm), `${wasm} is missing: run \`make build\` first (make test does)`);
    }
    const lock = path.join(root, "node_modules/.package-lock.json");
    assert.ok(
      existsSync(lock) && statSync(lock).mtimeMs >= statSync(path.join(root, "package-lock.json")).mtimeMs,
      "node_modules is older than package-lock.json: run `make tools` first (the clone shares node_modules and must not reinstall it)",
    );
    const t0 = Date.now();
    clone = cloneWorkingTree(root);
    console.log(
      `# clone ${clone.dir}: ${clone.files} files; target/ reused (${clone.linked} hard links, ${clone.copied} copies) in ${(Date.now() - t0) / 1000} s; ` +
        `variables removed: ${removed.join(", ") || "(none were set)"}`,
    );
    shell = bashSession(clone.dir, env);
  });

  after(async () => {
    if (dev) {
      try {
        process.kill(-dev.pgid, "SIGKILL");
      } catch {}
      await dev.exited;
      dev = null;
    }
    shell?.close();
    if (clone && !process.env.README_TEST_KEEP) rmSync(clone.base, { recursive: true, force: true });
  });

  test("every command of its sh blocks, verbatim: make dev, the token, publish, read, the WAREHOUSE_DIR example", async (t) => {
    let started = 0;
    let checked = 0;
    for (const cmd of commands) {
      if (/^make\s+test(\s|$)/.test(cmd.text)) {
        t.diagnostic(`not run (it is what runs this test): ${cmd.text}`);
        continue;
      }
      if (/^make\s+dev(\s|$)/.test(cmd.text)) {
        await stopDev(); // the README's ports belong to one make dev at a time: Ctrl-C the last one
        startDev(cmd.text);
        const { early, seconds } = await waitHealthy(180_000);
        t.diagnostic(`${cmd.text.split("\n")[0]} → healthy after ${seconds} s; before: ${[...new Set(early.map((a) => `${a.status} ${a.body}`))].join(" | ")}`);
        assertLoadingAnswers(early, cmd.text);
        started++;
        continue;
      }
      assert.ok(dev, `README.md runs \`${cmd.text}\` before any \`make dev\``);
      const r = await shell.run(cmd.text);
      const context = `\n--- stderr:\n${r.err}\n--- make dev's log:\n${tail(dev.log, 30)}`;
      assert.equal(r.rc, 0, `\`${cmd.text}\` exited ${r.rc}${context}`);
      if (cmd.expect !== undefined) {
        assert.equal(r.out.replace(/\n$/, ""), cmd.expect, `\`${cmd.text}\` printed what README.md does not show${context}`);
        checked++;
      }
      t.diagnostic(`ran: ${cmd.text.split("\n")[0]}${cmd.expect !== undefined ? "  ✓ " + cmd.expect : ""}`);
    }
    assert.ok(started > 0 && checked > 0, `README.md should start make dev and show some output (make dev lines: ${started}, outputs checked: ${checked})`);
    await stopDev();
    shell.close();
    const until = Date.now() + 5_000;
    while (processesIn(clone.dir).length && Date.now() < until) await sleep(100);
    assert.deepEqual(processesIn(clone.dir).map((p) => `${p.pid} ${p.cmd}`), [], "processes left in the clone");
  });

  test("while make dev loads WAREHOUSE_DIR its ports answer 503 (health says what is loading), then the first read is the table's", async (t) => {
    // The pyiceberg tables plus padding, so loading takes long enough to be watched. Empty
    // INGEST_PORT / SERVE_PORT / AUTH_SECRET mean unset: the README's ports and the dev secret.
    const warehouse = path.join(clone.base, "warehouse");
    cpSync(FIXTURE_ROOT, warehouse, { recursive: true });
    mkdirSync(path.join(warehouse, "padding"));
    const PADDING = 300;
    for (let i = 0; i < PADDING; i++) writeFileSync(path.join(warehouse, "padding", `${i}.bin`), randomBytes(32 * 1024));
    const table = "artifacts/pyi_unpartitioned";
    const row = expectedTable(table).winners["team@acme.dev/page/home"].row;
    assert.equal(row.visibility, "public");
    startDev("node tools/dev.mjs", {
      WAREHOUSE_DIR: warehouse,
      TABLES: table,
      WAREHOUSE_LOCATION: LOCATION_PREFIX,
      INGEST_PORT: "",
      SERVE_PORT: "",
      AUTH_SECRET: "",
    });
    const [ingestPort, servePort] = PORTS;
    const read = `http://127.0.0.1:${servePort}/$.content/team%40acme.dev/page/home.md`;
    const health = [];
    const reads = [];
    const started = Date.now();
    for (;;) {
      if (devDied()) assert.fail(`tools/dev.mjs exited (${dev.child.exitCode}):\n${tail(dev.log)}`);
      if (Date.now() - started > 120_000) assert.fail(`no 200 from ${HEALTH} within 120 s:\n${tail(dev.log)}`);
      const [h, r] = await Promise.all(
        [`http://127.0.0.1:${servePort}${HEALTH}`, read].map((url) =>
          fetch(url, { signal: AbortSignal.timeout(10_000) }).then(async (res) => ({ status: res.status, body: await res.text() }), () => null),
        ),
      );
      if (r) reads.push(r);
      if (h) health.push(h);
      if (h?.status === 200) break;
      await sleep(20);
    }
    // A script that waits for health and then reads:
    const after = await fetch(read);
    assert.equal(after.status, 200, await after.clone().text());
    assert.equal(await after.text(), row.markdown);
    const ingest = await fetch(`http://127.0.0.1:${ingestPort}${HEALTH}`);
    assert.equal(ingest.status, 200, "INGEST_PORT= means the README's ingest port");

    const loading = health.filter((a) => a.status !== 200).map((a) => JSON.parse(a.body));
    t.diagnostic(`loading answers: ${[...new Set(loading.map((b) => b.loading))].slice(0, 3).join(" | ")} … (${loading.length} in all)`);
    assertLoadingAnswers(health.filter((a) => a.status !== 200).map((a) => ({ ...a, port: servePort })), "tools/dev.mjs");
    assert.ok(
      loading.some((b) => /^warehouse: \d+ of \d+ files$/.test(b.loading)),
      `health never said how far WAREHOUSE_DIR's loading was: ${JSON.stringify([...new Set(loading.map((b) => b.loading))])}`,
    );
    for (const r of reads) {
      assert.ok(r.status === 503 || r.status === 200, `a read while loading answered ${r.status}: ${r.body}`);
      if (r.status === 200) assert.equal(r.body, row.markdown);
    }
    assert.ok(reads.some((r) => r.status === 503), "no read was made while loading");
    await stopDev();
  });
});
