// The OpenAPI document matches the worker: it is served at /openapi.json as kept in
// the repo (and as api/openapi.mjs generates it), every documented operation is
// routed (never the router's 404/405), and every routed path is documented.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { openapi } from "../../api/openapi.mjs";
import { startApi } from "../support/api.mjs";
import { ROOT } from "../worker/harness.mjs";

const METHODS = ["get", "post", "put", "patch", "delete"];
const SAMPLE_ID = "123e4567-e89b-42d3-a456-426614174000";

/** Router answers: a 404 with code 404 (no route) or a 405 (wrong method). */
const isRouterMiss = (res, body) => (res.status === 404 && body?.error?.code === 404) || res.status === 405;

describe("OpenAPI document", () => {
  let worker;
  before(async () => {
    worker = await startApi();
  });
  after(async () => {
    await worker?.dispose();
  });

  test("api/openapi.json is what api/openapi.mjs generates, and what the worker serves", async () => {
    const kept = JSON.parse(readFileSync(path.join(ROOT, "api", "openapi.json"), "utf8"));
    assert.deepEqual(kept, JSON.parse(JSON.stringify(openapi)), "run `node api/openapi.mjs` after editing it");
    const res = await worker.fetch("/openapi.json");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /application\/json/);
    assert.deepEqual(await res.json(), kept);
    assert.equal(kept.openapi, "3.1.0");
  });

  // Each unauthenticated admin call from an address of its own: wrong admin tokens
  // are throttled per client address, and this walks every operation.
  let caller = 0;
  const from = () => ({ "cf-connecting-ip": `198.51.${(caller >> 8) & 255}.${caller++ & 255}` });

  test("every documented operation is routed", async () => {
    for (const [template, item] of Object.entries(openapi.paths)) {
      const url = template.replace(/\{[^}]+\}/g, SAMPLE_ID);
      for (const method of METHODS.filter((m) => item[m])) {
        const res = await worker.fetch(url, { method: method.toUpperCase(), headers: from() });
        const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
        assert.ok(!isRouterMiss(res, body), `${method.toUpperCase()} ${template} is not routed: ${res.status} ${JSON.stringify(body)}`);
        const documented = Object.keys(item[method].responses).map(Number);
        assert.ok(documented.includes(res.status), `${method.toUpperCase()} ${template}: ${res.status} is not documented (${documented})`);
      }
    }
  });

  test("undocumented methods on documented paths are 405, unknown paths 404", async () => {
    for (const [template, item] of Object.entries(openapi.paths)) {
      if (template === "/" || template.startsWith("/demo")) continue;
      const url = template.replace(/\{[^}]+\}/g, SAMPLE_ID);
      for (const method of METHODS.filter((m) => !item[m])) {
        const res = await worker.fetch(url, { method: method.toUpperCase(), headers: from() });
        const body = await res.json();
        assert.ok(res.status === 405 || (res.status === 401 && template.startsWith("/admin")), `${method.toUpperCase()} ${template}: ${res.status} ${JSON.stringify(body)}`);
      }
    }
    for (const url of ["/nope", "/otp/a/b", "/admin/apps/x/y", "/v2/otp"]) {
      const res = await worker.fetch(url);
      assert.equal(res.status, 404, url);
    }
  });
});
