// The admin API: applications and their OTP defaults, guarded by ADMIN_TOKEN.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi } from "../support/api.mjs";

describe("admin API", () => {
  let worker, api;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  function assertError(res, status, code) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  }

  test("every admin route needs the admin token (401 1012)", async () => {
    for (const [method, path] of [
      ["POST", "/admin/apps"],
      ["GET", "/admin/apps/123e4567-e89b-42d3-a456-426614174000"],
      ["GET", "/admin/outbox?phoneNumber=%2B33612424111"],
    ]) {
      assertError(await api.call(method, path), 401, 1012);
      assertError(await api.call(method, path, { headers: { authorization: "Bearer wrong" } }), 401, 1012);
    }
  });

  test("POST /admin/apps returns the credentials once and the defaults", async () => {
    const res = await api.admin("POST", "/admin/apps", { name: "Shop", otp: { pinLength: 8, ttl: 300 } });
    assert.equal(res.status, 201);
    const app = res.body;
    assert.match(app.appId, /^[0-9a-f-]{36}$/);
    assert.ok(app.appSecret.length >= 43);
    assert.match(app.apiKey, /^otpk_/);
    assert.match(app.webhookSecret, /^whsec_/);
    assert.equal(app.otp.pinLength, 8);
    assert.equal(app.otp.ttl, 300);
    assert.equal(app.otp.brand, "Shop");
    assert.deepEqual(app.gateway, { type: "outbox" });
    const got = await api.admin("GET", `/admin/apps/${app.appId}`);
    assert.equal(got.status, 200);
    for (const secret of ["appSecret", "apiKey", "webhookSecret", "secretHash", "apiKeyHash"]) {
      assert.equal(got.body[secret], undefined, `${secret} is never shown again`);
    }
    const stored = await (await worker.kv()).get(`app:${app.appId}`);
    assert.ok(!stored.includes(app.appSecret) && !stored.includes(app.apiKey), "secrets are stored hashed");
  });

  test("PATCH merges OTP defaults and checks them with the core's codes", async () => {
    const app = await api.createApp({ name: "Patchy" });
    const res = await api.admin("PATCH", `/admin/apps/${app.appId}`, {
      name: "Patched",
      otp: { maxAttempts: 7, callbackUrl: "https://example.com/cb", prices: { countries: { FR: 0.04 } } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, "Patched");
    assert.equal(res.body.otp.maxAttempts, 7);
    assert.equal(res.body.otp.prices.countries.FR, 0.04);
    assert.equal(res.body.otp.pinLength, 6, "untouched fields keep their values");
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { ttl: 10 } }), 400, 2008);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { template: "no pin" } }), 400, 2006);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { pinLenght: 5 } }), 400, 1015);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { prices: { default: -1 } } }), 400, 2110);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { name: "" }), 400, 1011);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { gateway: { type: "carrier-pigeon" } }), 400, 1016);
    assertError(await api.admin("PATCH", `/admin/apps/${app.appId}`, { colour: "red" }), 400, 1000);
    const after = await api.admin("GET", `/admin/apps/${app.appId}`);
    assert.equal(after.body.otp.ttl, 600, "a refused patch changes nothing");
  });

  test("unknown apps are 404 1010; DELETE removes an app", async () => {
    assertError(await api.admin("GET", "/admin/apps/123e4567-e89b-42d3-a456-426614174000"), 404, 1010);
    assertError(await api.admin("GET", "/admin/apps/..%2F..%2Fetc"), 404, 1010);
    const app = await api.createApp({ name: "Gone" });
    const res = await api.admin("DELETE", `/admin/apps/${app.appId}`);
    assert.deepEqual(res.body, { info: { id: app.appId } });
    assertError(await api.admin("GET", `/admin/apps/${app.appId}`), 404, 1010);
  });

  test("rotating the webhook secret shows the new one once", async () => {
    const app = await api.createApp({ name: "Hooks" });
    const res = await api.admin("POST", `/admin/apps/${app.appId}/rotate-webhook-secret`);
    assert.match(res.body.webhookSecret, /^whsec_/);
    assert.notEqual(res.body.webhookSecret, app.webhookSecret);
    assert.equal(res.body.appSecret, undefined);
  });

  test("the outbox needs a valid phone number", async () => {
    assertError(await api.admin("GET", "/admin/outbox"), 400, 1014);
    assertError(await api.admin("GET", "/admin/outbox?phoneNumber=abc"), 400, 2020);
    const ok = await api.admin("GET", "/admin/outbox?phoneNumber=%2B33699999999");
    assert.deepEqual(ok.body, { data: [] });
  });
});

describe("admin API outside development", () => {
  let worker;
  before(async () => {
    const { startApi: start } = await import("../support/api.mjs");
    worker = await start({ bindings: { ENVIRONMENT: "production" } });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("the outbox endpoint does not exist (404 1013) and outbox apps are refused", async () => {
    const res = await worker.api.admin("GET", "/admin/outbox?phoneNumber=%2B33612424111");
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 1013);
    const app = await worker.api.admin("POST", "/admin/apps", { name: "Prod", gateway: { type: "outbox" } });
    assert.equal(app.status, 400);
  });

  test("X-Dev-Now is ignored: the real clock rules", async () => {
    const app = await worker.api.admin("POST", "/admin/apps", { name: "Prod", gateway: { type: "webhook", url: "https://example.com/sms" } });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    // A token request whose dev clock is far in the past would give a token that is
    // already expired by the real clock; ignored in production, so it works.
    const basic = `Basic ${Buffer.from(`${app.body.appId}:${app.body.appSecret}`).toString("base64")}`;
    const t = await worker.api.call("POST", "/oauth/token", {
      body: "grant_type=client_credentials",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      now: 1000,
    });
    const got = await worker.api.call("GET", "/otp/123e4567-e89b-42d3-a456-426614174000", { headers: { authorization: `Bearer ${t.body.access_token}` } });
    assert.equal(got.body.error.code, 2021, "authenticated (not 1603 expired)");
  });
});
