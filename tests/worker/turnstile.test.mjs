// Cloudflare Turnstile per application: a send must carry a token that siteverify
// accepts, checked before anything is stored or sent, in both dialects. Siteverify
// is a local fake on 127.0.0.1 (its URL is a setting); never the real service.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { startApi } from "../support/api.mjs";

describe("Turnstile", () => {
  let worker, api, siteverify, url;
  const seen = [];

  before(async () => {
    siteverify = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        seen.push(Object.fromEntries(form));
        const ok = form.get("secret") === "ts-secret" && form.get("response") === "good-token";
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: ok, "error-codes": ok ? [] : ["invalid-input-response"] }));
      });
    });
    await new Promise((resolve) => siteverify.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${siteverify.address().port}/siteverify`;
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
    await new Promise((resolve) => siteverify?.close(resolve));
  });

  test("a send needs a token siteverify accepts; the secret never shows", async () => {
    const app = await api.createApp({ name: "Browser", turnstile: { secret: "ts-secret", siteverifyUrl: url } });
    const shown = await api.admin("GET", `/admin/apps/${app.appId}`);
    assert.deepEqual(shown.body.turnstile, { enabled: true, siteverifyUrl: url });
    assert.ok(!JSON.stringify(shown.body).includes("ts-secret"));
    const send = (token, number) =>
      api.call("POST", "/otp", {
        body: { phoneNumber: number },
        headers: { "x-api-key": app.apiKey, ...(token === undefined ? {} : { "x-turnstile-token": token }) },
      });
    const missing = await send(undefined, "+33612500001");
    assert.deepEqual([missing.status, missing.body.error.code], [400, 1033]);
    const malformed = await send("bad token with spaces", "+33612500002");
    assert.deepEqual([malformed.status, malformed.body.error.code], [400, 1033]);
    const refused = await send("forged", "+33612500003");
    assert.deepEqual([refused.status, refused.body.error.code], [403, 1034]);
    for (const n of ["+33612500001", "+33612500002", "+33612500003"]) {
      assert.equal((await api.outbox(n)).length, 0, `nothing sent to ${n}`);
    }
    const ok = await send("good-token", "+33612500004");
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(seen.at(-1).secret, "ts-secret");
    const dx = await api.call("POST", "/v1/verifications", {
      body: { data: { sender: "Verify", phone: "33612500005" } },
      headers: { "x-dexatel-key": app.apiKey, "x-turnstile-token": "forged" },
    });
    assert.deepEqual([dx.status, dx.body.errors[0].code], [403, 1034]);
  });

  test("siteverify down is 503 and nothing is sent; bad settings are 400", async () => {
    const app = await api.createApp({ name: "Down", turnstile: { secret: "ts-secret", siteverifyUrl: "http://127.0.0.1:9/siteverify" } });
    const res = await api.call("POST", "/otp", {
      body: { phoneNumber: "+33612500006" },
      headers: { "x-api-key": app.apiKey, "x-turnstile-token": "good-token" },
    });
    assert.deepEqual([res.status, res.body.error.code], [503, 1035]);
    assert.equal((await api.outbox("+33612500006")).length, 0);
    const bad = await api.admin("POST", "/admin/apps", { name: "Bad", turnstile: { secret: "", siteverifyUrl: url } });
    assert.deepEqual([bad.status, bad.body.error.code], [400, 1036]);
    const off = await api.admin("PATCH", `/admin/apps/${app.appId}`, { turnstile: null });
    assert.equal(off.status, 200);
    assert.equal(off.body.turnstile, undefined);
  });
});
