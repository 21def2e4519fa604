// The demo's routes over HTTP: the page and the files it loads (static assets that
// the worker reads through its ASSETS binding, see worker/src/assets.rs), and the
// development-only session and outbox endpoints (404 1013 otherwise).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { extractPin, startApi, T0 } from "../support/api.mjs";
import { ROOT } from "./harness.mjs";

const PHONE = "+33612424111";

describe("demo routes (development)", () => {
  let worker, api;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  async function session() {
    const res = await api.call("POST", "/demo/session", { now: T0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  test("/ redirects to /demo, which serves the page with a strict CSP", async () => {
    const root = await worker.fetch("/", { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/demo");
    const res = await worker.fetch("/demo");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    const html = await res.text();
    assert.equal(html, readFileSync(path.join(ROOT, "demo", "index.html"), "utf8"));
    assert.equal((await worker.fetch("/demo/")).status, 200);
  });

  test("the package's browser files are served as built, with their types", async () => {
    for (const [url, file, type] of [
      ["/demo/pkg/wasm/otp_core_bg.wasm", "pkg/wasm/otp_core_bg.wasm", "application/wasm"],
      ["/demo/pkg/wasm/otp_core.js", "pkg/wasm/otp_core.js", "text/javascript; charset=utf-8"],
      ["/demo/pkg/dist/index.js", "pkg/dist/index.js", "text/javascript; charset=utf-8"],
      ["/demo/pkg/dist/load-browser.js", "pkg/dist/load-browser.js", "text/javascript; charset=utf-8"],
      ["/demo/pkg/dist/client.js", "pkg/dist/client.js", "text/javascript; charset=utf-8"],
      ["/demo/app.js", "demo/app.js", "text/javascript; charset=utf-8"],
      ["/demo/demo.css", "demo/demo.css", "text/css; charset=utf-8"],
    ]) {
      const res = await worker.fetch(url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get("content-type"), type, url);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(readFileSync(path.join(ROOT, file))), `${url} is ${file}`);
    }
  });

  test("every file the page references is served", async () => {
    const html = readFileSync(path.join(ROOT, "demo", "index.html"), "utf8");
    const refs = [...html.matchAll(/"(\/demo\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(refs.length >= 5, refs.join(" "));
    for (const url of refs) {
      const res = await worker.fetch(url);
      await res.arrayBuffer();
      assert.equal(res.status, 200, url);
    }
  });

  test("files revalidate with their ETag (304), unknown ones are 404, writes 405", async () => {
    const first = await worker.fetch("/demo/pkg/wasm/otp_core_bg.wasm");
    await first.arrayBuffer();
    const etag = first.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal(first.headers.get("cache-control"), "no-cache");
    const again = await worker.fetch("/demo/pkg/wasm/otp_core_bg.wasm", { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    for (const inm of [`"0", W/${etag}`, "*"]) {
      const res = await worker.fetch("/demo/pkg/wasm/otp_core_bg.wasm", { headers: { "if-none-match": inm } });
      await res.arrayBuffer();
      assert.equal(res.status, 304, inm);
    }
    const page = await worker.fetch("/demo");
    await page.text();
    const cached = await worker.fetch("/demo/", { headers: { "if-none-match": page.headers.get("etag") } });
    assert.equal(cached.status, 304);
    assert.match(cached.headers.get("content-security-policy"), /script-src 'self'/);
    for (const url of ["/demo/nope.js", "/demo/pkg/dist/load-node.js", "/demo/pkg/package.json", "/demo/../wrangler.toml", "/demo/index.html", "/demo.html", "/demo/app%2ejs"]) {
      const res = await api.call("GET", url);
      assert.equal(res.status, 404, url);
      assert.equal(res.body.error.code, 404, url);
    }
    assert.equal((await api.call("POST", "/demo")).status, 405);
    assert.equal((await api.call("DELETE", "/demo/app.js")).status, 405);
    assert.equal((await api.call("GET", "/demo/session")).status, 405);
    assert.equal((await api.call("POST", "/demo/outbox")).status, 405);
  });

  test("POST /demo/session gives a bearer token for one demo app with the outbox gateway", async () => {
    const a = await session();
    assert.equal(a.token_type, "Bearer");
    assert.equal(a.scope, "otp:read otp:write");
    assert.equal(a.expires_in, 3600);
    assert.match(a.access_token, /^v1\./);
    const b = await session();
    assert.equal(b.app_id, a.app_id, "the demo app is reused");
    const app = await api.admin("GET", `/admin/apps/${a.app_id}`);
    assert.equal(app.status, 200);
    assert.equal(app.body.name, "Demo");
    assert.deepEqual(app.body.gateway, { type: "outbox" });
    // The token works on the SMS.CX API.
    const headers = { authorization: `Bearer ${a.access_token}` };
    const sent = await api.call("POST", "/otp", { body: { phoneNumber: "+33612424112" }, headers, now: T0 });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    // A deleted demo app is replaced by a new one.
    assert.equal((await api.admin("DELETE", `/admin/apps/${a.app_id}`)).status, 200);
    const c = await session();
    assert.notEqual(c.app_id, a.app_id);
  });

  test("GET /demo/outbox shows the caller's own messages only, by token or API key", async () => {
    const { access_token } = await session();
    const demo = { authorization: `Bearer ${access_token}` };
    const sent = await api.call("POST", "/otp", { body: { phoneNumber: PHONE }, headers: demo, now: T0 });
    const otpId = sent.body.otpId;
    // Another app sends to the same number.
    const other = await api.createApp({ name: "Other" });
    const otherSent = await api.otp(other.apiKey).send({ phoneNumber: PHONE });
    assert.equal(otherSent.status, 201);

    const query = `phoneNumber=${encodeURIComponent(PHONE)}`;
    const mine = await api.call("GET", `/demo/outbox?${query}&otpId=${otpId}`, { headers: demo, now: T0 });
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.data.length, 1);
    const [sms] = mine.body.data;
    assert.equal(sms.otpId, otpId);
    assert.equal(sms.to, PHONE);
    assert.equal(sms.encoding, "GSM-7");
    assert.equal(sms.parts, 1);
    assert.match(extractPin(sms.text), /^\d{6}$/);
    const all = await api.call("GET", `/demo/outbox?${query}`, { headers: demo, now: T0 });
    assert.ok(all.body.data.every((m) => m.otpId !== otherSent.body.otpId), "never another app's SMS");
    const theirs = await api.call("GET", `/demo/outbox?${query}`, { headers: { "x-api-key": other.apiKey } });
    assert.deepEqual(theirs.body.data.map((m) => m.otpId), [otherSent.body.otpId]);

    assert.equal((await api.call("GET", `/demo/outbox?${query}`)).status, 401);
    const noPhone = await api.call("GET", "/demo/outbox", { headers: demo, now: T0 });
    assert.equal(noPhone.body.error.code, 1014);
  });
});

describe("demo routes (production)", () => {
  let worker;

  before(async () => {
    worker = await startApi({ bindings: { ENVIRONMENT: "production" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("the page is served, the session and outbox endpoints do not exist (404 1013)", async () => {
    assert.equal((await worker.fetch("/demo")).status, 200);
    assert.equal((await worker.fetch("/demo/pkg/wasm/otp_core_bg.wasm")).status, 200);
    for (const [method, url] of [
      ["POST", "/demo/session"],
      ["GET", "/demo/session"],
      ["GET", "/demo/outbox?phoneNumber=%2B33612424111"],
    ]) {
      const res = await worker.api.call(method, url);
      assert.equal(res.status, 404, `${method} ${url}`);
      assert.equal(res.body.error.code, 1013, `${method} ${url}`);
    }
    const keys = (await (await worker.kv()).list()).keys.map((k) => k.name);
    assert.ok(!keys.includes("demo:app"), "no demo app in production");
  });
});
