// The pyiceberg fixture tables (tests/fixtures/iceberg/pyiceberg) in the serve worker's R2
// bucket `WAREHOUSE`: uploading them (keys relative to the pyiceberg/ directory, e.g.
// `artifacts/pyi_unpartitioned/metadata/00005-….metadata.json`), breaking objects on purpose,
// and reading the expected answers the generator computed.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { start } from "./harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The directory bucket keys are relative to. */
export const FIXTURE_ROOT = path.join(root, "tests/fixtures/iceberg/pyiceberg");

/** tests/fixtures/iceberg/pyiceberg/expected.json. */
export const EXPECTED = JSON.parse(readFileSync(path.join(FIXTURE_ROOT, "expected.json"), "utf8"));

/** What every metadata location starts with. */
export const LOCATION_PREFIX = EXPECTED.location_prefix;

/** The expected.json entry of a table root such as `artifacts/pyi_unpartitioned`. */
export const expectedTable = (tableRoot) => EXPECTED.tables[tableRoot.replaceAll("/", ".")];

/** Every bucket key below `dir` (relative to FIXTURE_ROOT), sorted. */
export function fixtureKeys(dir) {
  const out = [];
  const walk = (rel) => {
    for (const name of readdirSync(path.join(FIXTURE_ROOT, rel))) {
      const child = `${rel}/${name}`;
      if (statSync(path.join(FIXTURE_ROOT, child)).isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

/** The fixture bytes of one key. */
export const fixtureBytes = (key) => readFileSync(path.join(FIXTURE_ROOT, key));

/** The serve worker's `WAREHOUSE` bucket (a Miniflare proxy; never used while a request runs). */
export const bucket = (h) => h.mf.getR2Bucket("WAREHOUSE", "serve");

/** Uploads every file of each fixture directory (e.g. `artifacts/pyi_unpartitioned`). */
export async function upload(h, ...dirs) {
  const r2 = await bucket(h);
  const keys = [];
  for (const dir of dirs) {
    for (const key of fixtureKeys(dir)) {
      await r2.put(key, new Uint8Array(fixtureBytes(key)));
      keys.push(key);
    }
  }
  return keys;
}

/** Replaces the object at `key` with `bytes` (Uint8Array/Buffer/string). */
export async function overwrite(h, key, bytes) {
  const r2 = await bucket(h);
  await r2.put(key, typeof bytes === "string" ? bytes : new Uint8Array(bytes));
}

/** Deletes the object at `key`. */
export async function remove(h, key) {
  const r2 = await bucket(h);
  await r2.delete(key);
}

/** Puts the fixture's own bytes back at `key`. */
export const restore = (h, key) => overwrite(h, key, fixtureBytes(key));

/** Whether `key` exists in the bucket. */
export async function exists(h, key) {
  const r2 = await bucket(h);
  return (await r2.head(key)) !== null;
}

/**
 * `size` bytes of deterministic garbage (xorshift), containing none of the magic numbers the
 * reader checks (`PAR1`, Avro's `Obj\x01`, a leading `{`).
 */
export function garbage(size, seed = 0x9e3779b9) {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  out[0] = 0x00; // never `{`, `P` or `O`
  if (size >= 4) out.write("JUNK", size - 4, "latin1"); // never a `PAR1` footer
  return out;
}

/**
 * Starts Miniflare with serve reading `tables` (one root or an array), the fixture prefix and no
 * catalog, and uploads the fixture directories of those tables. `serveVars` add or override.
 */
export async function startWarehouse(tables, { serveVars = {}, upload: dirs, ...opts } = {}) {
  const roots = Array.isArray(tables) ? tables : [tables];
  const h = await start({
    ...opts,
    serveVars: { TABLE_ROOTS: roots.join(","), LOCATION_PREFIX, CATALOG_URL: "", ...serveVars },
  });
  try {
    await upload(h, ...(dirs ?? roots));
  } catch (e) {
    await h.dispose();
    throw e;
  }
  return h;
}
