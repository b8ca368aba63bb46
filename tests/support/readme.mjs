// What tests/readme.test.mjs needs to run README.md as a new user would: the README's shell
// commands and the outputs it shows, a clone of the working tree that reuses this checkout's build
// outputs, an environment without the project's variables, a bash session that keeps its state
// between commands, and the process checks that prove `make dev` left nothing behind.
import { execFileSync, spawn } from "node:child_process";
import {
  copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  symlinkSync, utimesSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";

// ---- README.md -----------------------------------------------------------------------------------

/**
 * The ```sh blocks of a markdown text, each a list of commands `{ text, expect }`.
 *
 * A command is one line, or several joined by a trailing `\`, `|`, `&&` or `||`; `text` is exactly
 * what the README shows (comments included), for bash. A comment after a command (at the end of
 * its last line, or on the lines right below it) is what the README says it prints: `expect`
 * (lines joined with "\n"); after `make dev` and `make test` it is a description instead.
 */
export function shellBlocks(markdown) {
  const blocks = [];
  for (const m of markdown.matchAll(/^```sh\n([\s\S]*?)^```[ \t]*$/gm)) {
    const commands = [];
    let cur = null;
    let open = false;
    for (const line of m[1].replace(/\n$/, "").split("\n")) {
      if (open) {
        cur.lines.push(line);
      } else if (line.trim() === "") {
        cur = null;
        continue;
      } else if (/^\s*#/.test(line)) {
        if (!cur) throw new Error(`README.md: a comment with no command above it: ${line}`);
        cur.below.push(line.replace(/^\s*# ?/, ""));
        continue;
      } else {
        cur = { lines: [line], below: [], trailing: undefined };
        commands.push(cur);
      }
      const { code, comment } = splitComment(line);
      open = /(\\|\||&&)\s*$/.test(code);
      if (comment !== undefined) cur.trailing = comment;
    }
    if (open) throw new Error(`README.md: a command continues past the end of its block: ${cur.lines.join("\n")}`);
    blocks.push(
      commands.map((c) => {
        const expect = c.below.length ? c.below.join("\n") : c.trailing;
        return { text: c.lines.join("\n"), expect };
      }),
    );
  }
  return blocks;
}

/** A shell line split at its comment: a `#` that starts a word outside quotes. */
export function splitComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
    } else if (quote === '"') {
      if (c === "\\") i++;
      else if (c === '"') quote = null;
    } else if (c === "\\") {
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return { code: line.slice(0, i).trimEnd(), comment: line.slice(i + 1).replace(/^ /, "") };
    }
  }
  return { code: line, comment: undefined };
}

// ---- the environment of a new user ---------------------------------------------------------------

// Never removed: what any shell has, and the cargo the Makefile runs (the build being reused was
// made with it).
const KEEP = new Set(["PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TMPDIR", "TZ", "CARGO"]);

/**
 * `env` without the project's variables: the documented ones, every variable the Makefile assigns
 * and every setting tools/dev.mjs reads (so a new one is scrubbed without editing this list), the
 * bench/soak/fuzz knobs, make's own (a parent make's MAKEFLAGS would reach the README's make),
 * and the test runner's. Returns { env, removed }.
 */
export function userEnv(root, env = process.env) {
  const names = new Set([
    "WAREHOUSE_DIR", "WAREHOUSE_LOCATION", "TABLES", "INGEST_PORT", "SERVE_PORT",
    "AUTH_SECRET", "AUTH_SECRET_PREVIOUS", "ORG", "SUB", "SCOPES", "TTL", "TOKEN",
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKEFILES", "GNUMAKEFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR",
    "NODE_TEST_CONTEXT", "NODE_OPTIONS", "NODE_CHANNEL_FD",
  ]);
  for (const m of readFileSync(path.join(root, "Makefile"), "utf8").matchAll(/^([A-Z][A-Z0-9_]*)\s*[?:+]?=/gm)) names.add(m[1]);
  for (const m of readFileSync(path.join(root, "tools/dev.mjs"), "utf8").matchAll(/(?:setting|portSetting)\("([A-Z][A-Z0-9_]*)"|process\.env\.([A-Z][A-Z0-9_]*)/g)) {
    names.add(m[1] ?? m[2]);
  }
  const prefixes = /^(BENCH_|SOAK_|FUZZ_|MATRIX_|HYPARQUET_|PEER_)/;
  const out = {};
  const removed = [];
  for (const [k, v] of Object.entries(env)) {
    if (!KEEP.has(k) && (names.has(k) || prefixes.test(k))) removed.push(k);
    else out[k] = v;
  }
  return { env: out, removed };
}

// ---- the clone -----------------------------------------------------------------------------------

const git = (cwd, args) => execFileSync("git", args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });

function copyKeepingTimes(from, to) {
  const st = lstatSync(from);
  mkdirSync(path.dirname(to), { recursive: true });
  if (st.isSymbolicLink()) return symlinkSync(readlinkSync(from), to);
  copyFileSync(from, to);
  utimesSync(to, st.atimeMs / 1000, st.mtimeMs / 1000);
}

// Written only by rustc and the linker, which replace such a file (new file, rename) rather than
// write into it: safe to share with this checkout as a hard link.
const SHAREABLE = /\.(rlib|rmeta|so|a|wasm)$/;

/**
 * A copy of cargo's outputs for the builds `make dev` and `make token` run (the wasm release
 * profile, the host release profile of its build scripts and proc macros, the debug profile of the
 * native tools), with every timestamp kept so cargo finds the clone exactly as fresh as this
 * checkout. Big outputs (libraries, executables, wasm) are hard links, anything cargo may rewrite
 * in place (fingerprints, dep-info, build-script output) is a copy; incremental caches are left out.
 */
function reuseTarget(from, to) {
  let linked = 0;
  let copied = 0;
  const walk = (rel) => {
    for (const name of readdirSync(path.join(from, rel))) {
      const child = path.join(rel, name);
      const src = path.join(from, child);
      const st = lstatSync(src);
      if (st.isDirectory()) {
        if (name !== "incremental") walk(child);
        continue;
      }
      const dst = path.join(to, child);
      mkdirSync(path.dirname(dst), { recursive: true });
      if (st.isFile() && (SHAREABLE.test(name) || st.mode & 0o100)) {
        try {
          linkSync(src, dst);
          linked++;
          continue;
        } catch {}
      }
      copyKeepingTimes(src, dst);
      copied++;
    }
  };
  for (const name of readdirSync(from)) {
    const st = lstatSync(path.join(from, name));
    if (st.isFile()) copyKeepingTimes(path.join(from, name), path.join(to, name));
  }
  for (const dir of ["debug", "release", "wasm32-unknown-unknown/release"]) {
    if (existsSync(path.join(from, dir))) walk(dir);
  }
  return { linked, copied };
}

/**
 * A fresh clone of this checkout as a new user would have it: `git clone` of the repository, its
 * files as they are in the working tree (tracked ones with their uncommitted changes, new ones that
 * are not ignored; so the test checks what is about to be committed, and in CI exactly HEAD), and
 * none of the ignored files (.dev/, wrangler/.dev.vars, .venv, ...) — except the build outputs,
 * reused so there is no second build: target/ (see reuseTarget), node_modules (a link: only read)
 * and .tools-stamp. build/ is not reused: `make build` packages it again every time anyway.
 *
 * It lives under target/ (ignored, removed by `make clean`, and on the filesystem of the outputs it
 * hard-links). Returns { dir, base, files, linked, copied }.
 */
export function cloneWorkingTree(root) {
  mkdirSync(path.join(root, "target"), { recursive: true });
  const base = mkdtempSync(path.join(root, "target", "readme-"));
  const dir = path.join(base, "repo");
  git(root, ["clone", "--quiet", "--local", "--no-checkout", root, dir]);
  const files = git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).split("\0").filter(Boolean);
  let n = 0;
  for (const rel of new Set(files)) {
    if (!existsSync(path.join(root, rel))) continue; // deleted in the working tree
    copyKeepingTimes(path.join(root, rel), path.join(dir, rel));
    n++;
  }
  git(dir, ["reset", "--quiet"]);
  const { linked, copied } = reuseTarget(path.join(root, "target"), path.join(dir, "target"));
  symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  if (existsSync(path.join(root, ".tools-stamp"))) copyKeepingTimes(path.join(root, ".tools-stamp"), path.join(dir, ".tools-stamp"));
  return { dir, base, files: n, linked, copied };
}

// ---- ports and processes -------------------------------------------------------------------------

/** Resolves to an error message when something already listens on 127.0.0.1:port, else null. */
export function portTaken(port) {
  return new Promise((ok) => {
    const s = net.createServer();
    s.once("error", (e) => ok(`${e.code ?? e.message}`));
    s.listen(port, "127.0.0.1", () => s.close(() => ok(null)));
  });
}

/** Every process as { pid, pgid, cwd, cmd } (cwd and cmd empty where /proc does not tell). */
export function processes() {
  const out = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      let cwd = "";
      let cmd = "";
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {}
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      } catch {}
      out.push({ pid: Number(pid), pgid: Number(fields[2]), state: fields[0], cwd, cmd });
    } catch {}
  }
  return out.filter((p) => p.state !== "Z");
}

/** Processes running in `dir` (their working directory is in it, or their command names it). */
export function processesIn(dir) {
  return processes().filter((p) => p.pid !== process.pid && (p.cwd === dir || p.cwd.startsWith(dir + path.sep) || p.cmd.includes(dir)));
}

// ---- a bash session ------------------------------------------------------------------------------

const LOOP = String.raw`while IFS= read -r -d '' __readme_cmd <&3; do
  eval "$__readme_cmd"
  printf '\n\036%s\036\n' "$?"
  printf '\036\n' >&2
done`;

/**
 * One bash process that runs commands one after the other, as typed into one terminal (variables
 * such as TOKEN carry over; stdin is empty). `run(text)` resolves to { out, err, rc }: what the
 * command printed (without the one newline the session adds) and its exit status.
 */
export function bashSession(cwd, env) {
  const child = spawn("bash", ["--noprofile", "--norc", "-c", LOOP], { cwd, env, stdio: ["ignore", "pipe", "pipe", "pipe"], detached: true });
  let out = "";
  let err = "";
  let waiting = null;
  const settle = () => {
    if (!waiting) return;
    const m = /\n\x1e(\d+)\x1e\n/.exec(out);
    const e = err.indexOf("\x1e\n");
    if (!m || e < 0) return;
    const result = { out: out.slice(0, m.index), err: err.slice(0, e), rc: Number(m[1]) };
    out = out.slice(m.index + m[0].length);
    err = err.slice(e + 2);
    const { ok } = waiting;
    waiting = null;
    ok(result);
  };
  child.stdout.setEncoding("utf8").on("data", (d) => ((out += d), settle()));
  child.stderr.setEncoding("utf8").on("data", (d) => ((err += d), settle()));
  child.on("exit", (code) => waiting?.fail(new Error(`the bash session exited (${code}) while running a command:\n${err}`)));
  return {
    pid: child.pid,
    run(text, timeoutMs = 120_000) {
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms: ${text}\nstdout so far: ${out}\nstderr so far: ${err}`)), timeoutMs);
        waiting = { ok: (r) => (clearTimeout(timer), ok(r)), fail: (e) => (clearTimeout(timer), fail(e)) };
        child.stdio[3].write(text + "\0");
      });
    },
    close() {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    },
  };
}
