import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./support/harness.mjs";

let h;
before(async () => { h = await start(); });
after(() => h?.dispose());

for (const worker of ["ingest", "serve"]) {
  test(`${worker}: GET /$.health names the worker and its version`, async () => {
    const res = await h[worker]("/$.health");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    const body = await res.json();
    assert.equal(body.worker, worker);
    assert.equal(body.version, "0.1.0");
    assert.equal(body.resets, 0);
  });

  test(`${worker}: an unknown route is a 404 problem+json`, async () => {
    const res = await h[worker]("/nope/here");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = await res.json();
    assert.equal(body.status, 404);
    assert.equal(body.title, "Not Found");
    assert.match(body.type, /not-found$/);
    assert.match(body.detail, /\/nope\/here/);
  });
}
