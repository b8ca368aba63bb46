// Serve's refusals and failures: malformed content paths (400 bad-path), unknown extensions,
// and broken warehouse objects (a corrupt or missing data file, manifest, manifest list or
// metadata file → 502 naming the bucket key), each in its own Miniflare so no cache hides it;
// and every route of both workers refusing a method with a 405 that carries `Allow`.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWarehouse, expectedTable, fixtureBytes, fixtureKeys, overwrite, remove, garbage, restore } from "./support/warehouse.mjs";
import {
  readToken, fetchContent as get, assertBytes, assertProblem, assertBadObject, assertServeHealthy, freePort, rawGet,
} from "./support/content.mjs";

const UNPARTITIONED = "artifacts/pyi_unpartitioned";
const PARTITIONED = "artifacts/pyi_partitioned";
const U = `${UNPARTITIONED}/metadata`;
const MD = "text/markdown; charset=utf-8";

// The objects of the current snapshot (S6) of the unpartitioned table. The S6 append wrote one
// data file, 00000-0-455c3fb2…, holding docs/guide/v1.2.3 (losing, older ts) and
// docs/guide/0123456789abcdef-gamma, so its bounds are ns docs, type guide, id
// [0123456789abcdef, v1.2.3]: lookups of another type or namespace can prune it unread.
const KEYS = {
  metadata: `${U}/00005-a54897e8-c779-48b1-93cd-b86041068f6a.metadata.json`,
  manifestList: `${U}/snap-1311625791730053213-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.avro`,
  manifest: `${U}/455c3fb2-012c-42d2-bfe0-d7e5b3556ce4-m0.avro`,
  dataFile: `${UNPARTITIONED}/data/00000-0-455c3fb2-012c-42d2-bfe0-d7e5b3556ce4.parquet`,
};
const acme = () => readToken("acme", "alice");
const HOME = "/$.content/team@acme.dev/page/home.md"; // public
const HOME_MD = expectedTable(UNPARTITIONED).winners["team@acme.dev/page/home"].row.markdown;

// Every route of both workers × a method it does not take → 405 whose `Allow` header names the
// methods it does (RFC 9110 §15.5.6), the same list as the problem's `allow` member.
describe("every 405 carries Allow (both workers)", () => {
  let h;
  before(async () => {
    h = await startWarehouse(UNPARTITIONED);
  });
  after(() => h?.dispose());

  const rows = [
    ["ingest", "/$.health", ["POST", "DELETE"], "GET"],
    ["ingest", "/$.artifacts", ["GET", "PUT", "DELETE"], "POST"],
    ["ingest", "/$.artifacts/docs/guide/intro", ["GET", "POST", "PUT"], "DELETE"],
    ["serve", "/$.health", ["POST", "DELETE"], "GET"],
    ["serve", "/$.content/batch", ["GET", "PUT", "DELETE"], "POST"],
    ["serve", "/$.content/sign", ["GET", "DELETE"], "POST"],
    ["serve", "/$.content/docs/guide/", ["POST", "DELETE"], "GET"],
    ["serve", HOME, ["POST", "PUT", "DELETE", "PATCH"], "GET, HEAD"],
  ];
  for (const [worker, path, methods, allow] of rows) {
    for (const method of methods) {
      test(`[${worker}] ${method} ${path} → 405, Allow: ${allow}`, async () => {
        const r = await h[worker](path, { method, headers: { authorization: `Bearer ${acme()}` } });
        const body = await r.json();
        assert.equal(r.status, 405);
        assert.equal(r.headers.get("allow"), allow);
        assert.equal(r.headers.get("content-type"), "application/problem+json");
        assert.equal(body.type, "https://artifacts.dev/problems/method-not-allowed");
        assert.equal(body.allow, allow);
      });
    }
  }

  test("no wasm trap while refusing methods", async () => {
    await assertServeHealthy(h);
    assert.equal((await (await h.ingest("/$.health")).json()).resets, 0);
  });
});

test("the fixture keys these specs break exist", () => {
  const all = new Set(fixtureKeys(UNPARTITIONED));
  for (const k of Object.values(KEYS)) assert.ok(all.has(k), k);
  assert.ok(expectedTable(UNPARTITIONED).metadata_location.endsWith(KEYS.metadata));
  const s6 = expectedTable(UNPARTITIONED).snapshots.at(-1);
  assert.ok(s6.manifest_list.endsWith(KEYS.manifestList));
});

describe("bad paths", () => {
  let h;
  let port;
  before(async () => {
    port = await freePort();
    h = await startWarehouse(UNPARTITIONED, { ports: { serve: port } });
  });
  after(() => h?.dispose());

  const badPath = [
    ["malformed percent-encoding in the id", "/$.content/docs/guide/x%zz.md"],
    ["malformed percent-encoding in the ns", "/$.content/d%zzocs/guide/x.md"],
    ["a truncated escape", "/$.content/docs/guide/x%4.md"],
    ["a lone %", "/$.content/docs/guide/x%.md"],
    ["an escape that is not UTF-8", "/$.content/docs/guide/x%FF.md"],
    ["an encoded slash in the ns", "/$.content/docs%2Fguide/x/y.md"],
    ["an encoded slash in the id", "/$.content/docs/guide/a%2fb.md"],
    ["id .. (traversal)", "/$.content/docs/guide/...md"],
    ["id .", "/$.content/docs/guide/..md"],
    ["an empty id", "/$.content/docs/guide/.md"],
    ["an empty type", "/$.content/docs//x.md"],
    ["a character outside the segment alphabet", "/$.content/docs/guide/a%20b.md"],
    ["too few segments", "/$.content/a/b"],
    ["too few segments, with an extension", "/$.content/a/b.md"],
    // Nested ids (contract v2) make a/b/c/d.md valid; an empty segment is not.
    ["an empty segment in a nested id", "/$.content/a/b/c//d.md"],
    ["a bad @version date", "/$.content/docs/guide/getting-started@2026-13-01T00:00:00Z.md"],
    ["an @version snapshot id out of range", "/$.content/docs/guide/getting-started@99999999999999999999.md"],
  ];
  for (const [what, p] of badPath) {
    test(`${what} → 400 bad-path`, async () => {
      assertProblem(await get(h, p, { token: acme() }), 400, "bad-path");
    });
  }

  test("traversal that fetch would normalise away (%2e%2e sent raw) → 400 bad-path", async () => {
    for (const p of ["/$.content/docs/%2e%2e/x.md", "/$.content/%2E%2E/guide/x.md", "/$.content/docs/guide/%2e%2e.md"]) {
      const r = await rawGet(port, p);
      assertProblem(r, 400, "bad-path");
    }
  });

  test("bad paths are refused before any token or lookup (anonymous too)", async () => {
    assertProblem(await get(h, "/$.content/docs/guide/x%zz.md"), 400, "bad-path");
    assertProblem(await get(h, "/$.content/a/b"), 400, "bad-path");
  });

  test("an unknown extension → 404 unknown-extension", async () => {
    for (const p of ["/$.content/docs/guide/getting-started.txt", "/$.content/docs/guide/getting-started.ts", "/$.content/docs/guide/md", "/$.content/docs/guide/getting-started.MD"]) {
      assertProblem(await get(h, p, { token: acme() }), 404, "unknown-extension");
    }
  });

  test("an id containing @ that is not a version stays an id (404 not-found, not bad-path)", async () => {
    assertProblem(await get(h, "/$.content/docs/guide/team@acme.md", { token: acme() }), 404, "not-found");
  });

  test("serve never trapped (resets 0)", async () => { await assertServeHealthy(h); });
});

/**
 * One Miniflare per broken object: the table is uploaded, `breakIt(h)` runs before any read,
 * then `check(h)`; the spec ends by asserting serve never trapped.
 */
function broken(name, breakIt, check, table = UNPARTITIONED) {
  test(name, async () => {
    const h = await startWarehouse(table);
    try {
      await breakIt(h);
      await check(h);
      await assertServeHealthy(h);
    } finally {
      await h.dispose();
    }
  });
}

describe("broken objects → 502 naming the bucket key", () => {
  broken("a corrupt data file (same size, garbage bytes)", (h) => overwrite(h, KEYS.dataFile, garbage(fixtureBytes(KEYS.dataFile).length)), async (h) => {
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.dataFile);
    // not cached as a success, not turned into a 404
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.json", { token: acme() }), KEYS.dataFile);
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.dataFile);
    // lookups whose bounds exclude that file still work
    assertBytes(await get(h, HOME), HOME_MD, MD);
    assertBytes(await get(h, "/$.content/docs/tie/in-file.md", { token: acme() }), "later row", MD);
    // the health route answers
    assert.equal((await h.serve("/$.health")).status, 200);
  });

  broken("a truncated data file (shorter than file_size_in_bytes)", (h) => overwrite(h, KEYS.dataFile, garbage(32)), async (h) => {
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.dataFile);
    assertBytes(await get(h, HOME), HOME_MD, MD);
  });

  broken("a data file whose footer is intact but whose pages are garbage", async (h) => {
    const bytes = Buffer.from(fixtureBytes(KEYS.dataFile));
    // keep the leading magic and the footer (its length is the 4 bytes before the trailing PAR1)
    const footerLen = bytes.readUInt32LE(bytes.length - 8);
    const junk = garbage(bytes.length - footerLen - 8 - 4, 7);
    junk.copy(bytes, 4);
    await overwrite(h, KEYS.dataFile, bytes);
  }, async (h) => {
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.dataFile);
    assertBytes(await get(h, HOME), HOME_MD, MD);
  });

  broken("a missing data file", (h) => remove(h, KEYS.dataFile), async (h) => {
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.dataFile);
    assertBytes(await get(h, HOME), HOME_MD, MD);
    assertBytes(await get(h, "/$.content/docs/tie/cross-snapshot.md", { token: acme() }), "second, higher sequence number", MD);
  });

  broken("a corrupt manifest", (h) => overwrite(h, KEYS.manifest, garbage(fixtureBytes(KEYS.manifest).length, 11)), async (h) => {
    // unpartitioned: every lookup needs every live manifest
    assertBadObject(await get(h, HOME), KEYS.manifest);
    assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), KEYS.manifest);
  });

  broken("a missing manifest", (h) => remove(h, KEYS.manifest), async (h) => {
    assertBadObject(await get(h, HOME), KEYS.manifest);
  });

  broken("a corrupt manifest list", (h) => overwrite(h, KEYS.manifestList, garbage(fixtureBytes(KEYS.manifestList).length, 13)), async (h) => {
    assertBadObject(await get(h, HOME), KEYS.manifestList);
    assertBadObject(await get(h, "/$.content/docs/guide/getting-started.json", { token: acme() }), KEYS.manifestList);
  });

  broken("a missing manifest list", (h) => remove(h, KEYS.manifestList), async (h) => {
    assertBadObject(await get(h, HOME), KEYS.manifestList);
  });

  broken("corrupt current metadata (not JSON)", (h) => overwrite(h, KEYS.metadata, garbage(fixtureBytes(KEYS.metadata).length, 17)), async (h) => {
    assertBadObject(await get(h, HOME), KEYS.metadata);
    assertBadObject(await get(h, "/$.content/docs/guide/nope.md", { token: acme() }), KEYS.metadata);
  });

  broken("current metadata that is JSON but not table metadata", (h) => overwrite(h, KEYS.metadata, '{"format-version": 2}'), async (h) => {
    assertBadObject(await get(h, HOME), KEYS.metadata);
  });

  // A read that turned out corrupt must not be kept (isolate caches of "immutable" objects would
  // otherwise pin a bad read until the isolate dies).
  for (const [what, key] of [["data file", KEYS.dataFile], ["manifest", KEYS.manifest]]) {
    broken(`a corrupt ${what} is not cached: once restored, reads recover`, async (h) => {
      await overwrite(h, key, garbage(fixtureBytes(key).length, 19));
      assertBadObject(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), key);
      await restore(h, key);
    }, async (h) => {
      assertBytes(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), "gamma", MD);
    });
  }

  // Partitioned: the key keeps the partition directory as written (`ns=x%2By`), and partition
  // pruning keeps the other namespaces readable.
  const xy = fixtureKeys(`${PARTITIONED}/data/ns=x%2By`);
  broken("a corrupt data file in the ns=x%2By partition", (h) => overwrite(h, xy[0], garbage(fixtureBytes(xy[0]).length, 23)), async (h) => {
    assert.equal(xy.length, 1);
    assertBadObject(await get(h, "/$.content/x+y/note/plus.md", { token: acme() }), xy[0]);
    assertBytes(await get(h, "/$.content/docs/guide/intro.md", { token: acme() }), "# Intro v2", MD);
    assertBytes(await get(h, "/$.content/team%40acme.dev/page/home.md", { token: acme() }), "home v2, same ts, higher sequence number", MD);
  }, PARTITIONED);
});

describe("table roots", () => {
  broken("the highest-numbered metadata file is current, not the newest upload", async (h) => {
    // re-put an older metadata file after the rest: it must not become current
    const older = `${U}/00004-136776ba-b0aa-4150-9136-8edbb71703a0.metadata.json`;
    await overwrite(h, older, fixtureBytes(older));
  }, async (h) => {
    // gamma only exists from S6 on (metadata 00005)
    assertBytes(await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() }), "gamma", MD);
  });

  broken("metadata/version-hint.text, when present, names the current metadata", async (h) => {
    // point the hint at version 4 (before S6): gamma does not exist there, v1.2.3 does
    await overwrite(h, `${U}/version-hint.text`, "4");
  }, async (h) => {
    const hint = await get(h, "/$.content/docs/guide/0123456789abcdef-gamma.md", { token: acme() });
    assert.ok(hint.status === 404 || hint.status === 502, `hint "4" does not select 00005: ${hint.status} ${hint.text}`);
    assert.notEqual(hint.status, 200);
  });
});
