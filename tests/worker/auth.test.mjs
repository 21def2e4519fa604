// Authentication: POST /oauth/token (client credentials), bearer tokens and API keys,
// and every failure: missing, wrong, tampered, expired, revoked, out of scope.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi, T0 } from "../support/api.mjs";

const FORM = "application/x-www-form-urlencoded";

describe("authentication", () => {
  let worker, api, app;

  before(async () => {
    worker = await startApi({ bindings: { TOKEN_TTL_SECONDS: "600" } });
    api = worker.api;
    app = await api.createApp({ name: "Auth" });
  });
  after(async () => {
    await worker?.dispose();
  });

  const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

  function token(body = "grant_type=client_credentials", { id = app.appId, secret = app.appSecret, now = T0, type = FORM } = {}) {
    const headers = { "content-type": type };
    if (id !== null) headers.authorization = basic(id, secret);
    return api.call("POST", "/oauth/token", { body, headers, now });
  }

  function assertError(res, status, code, type) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    if (type) assert.equal(res.body.error.type, type);
  }

  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  const send = (headers, now = T0) => api.call("POST", "/otp", { body: { phoneNumber: "+33612424111" }, headers, now });

  test("client credentials give a bearer token that authenticates POST /otp", async () => {
    const res = await token();
    assert.equal(res.status, 200);
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(res.body.expires_in, 600);
    assert.equal(res.body.scope, "otp:read otp:write");
    assert.equal(res.headers.get("cache-control"), "no-store");
    const sent = await send(bearer(res.body.access_token));
    assert.equal(sent.status, 201);
  });

  test("token request errors carry code 1600 with the OAuth error type", async () => {
    assertError(await token(""), 400, 1600, "invalid_request");
    assertError(await token("grant_type=client_credentials", { type: "application/json" }), 400, 1600, "invalid_request");
    assertError(await token("grant_type=password"), 400, 1600, "unsupported_grant_type");
    assertError(await token("grant_type=client_credentials&scope=admin"), 400, 1600, "invalid_scope");
    assertError(await token(undefined, { secret: "wrong" }), 401, 1600, "invalid_client");
    assertError(await token(undefined, { id: "123e4567-e89b-42d3-a456-426614174000" }), 401, 1600, "invalid_client");
    assertError(await token(undefined, { id: null }), 401, 1600, "invalid_client");
  });

  test("a read-only token reads but cannot send (403 1604)", async () => {
    const t = (await token("grant_type=client_credentials&scope=otp%3Aread")).body;
    assert.equal(t.scope, "otp:read");
    assertError(await send(bearer(t.access_token)), 403, 1604);
    const created = await send({ "x-api-key": app.apiKey });
    const got = await api.call("GET", `/otp/${created.body.otpId}`, { headers: bearer(t.access_token), now: T0 });
    assert.equal(got.status, 200);
  });

  test("expired tokens are refused (401 1603)", async () => {
    const t = (await token()).body.access_token;
    assert.equal((await send(bearer(t), T0 + 599)).status, 201);
    assertError(await send(bearer(t), T0 + 600), 401, 1603);
  });

  test("tampered and foreign tokens are refused (401 1602)", async () => {
    const t = (await token()).body.access_token;
    const [v, payload, sig] = t.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url"));
    const forged = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 1e6 })).toString("base64url");
    assertError(await send(bearer(`${v}.${forged}.${sig}`)), 401, 1602);
    assertError(await send(bearer(`${v}.${payload}.${sig.slice(0, -2)}AA`)), 401, 1602);
    assertError(await send(bearer("not-a-token")), 401, 1602);
  });

  test("one application's token never reaches another's OTPs", async () => {
    const other = await api.createApp({ name: "Other" });
    const mine = await send({ "x-api-key": app.apiKey });
    const res = await api.call("POST", "/oauth/token", {
      body: "grant_type=client_credentials",
      headers: { "content-type": FORM, authorization: basic(other.appId, other.appSecret) },
      now: T0,
    });
    const got = await api.call("GET", `/otp/${mine.body.otpId}`, { headers: bearer(res.body.access_token), now: T0 });
    assertError(got, 404, 2021);
    // and its secret does not mint tokens for the first app
    assertError(await token(undefined, { secret: other.appSecret }), 401, 1600, "invalid_client");
  });

  test("rotating the secret revokes earlier tokens; rotating the key revokes the old key", async () => {
    const own = await api.createApp({ name: "Rotating" });
    const t = (await token(undefined, { id: own.appId, secret: own.appSecret })).body.access_token;
    assert.equal((await send(bearer(t))).status, 201);
    const rotated = await api.admin("POST", `/admin/apps/${own.appId}/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.ok(rotated.body.appSecret && rotated.body.appSecret !== own.appSecret);
    assertError(await send(bearer(t)), 401, 1602);
    assertError(await token(undefined, { id: own.appId, secret: own.appSecret }), 401, 1600);
    assert.equal((await token(undefined, { id: own.appId, secret: rotated.body.appSecret })).status, 200);

    const rekeyed = await api.admin("POST", `/admin/apps/${own.appId}/rotate-api-key`);
    assert.match(rekeyed.body.apiKey, /^otpk_/);
    assertError(await send({ "x-api-key": own.apiKey }), 401, 1602);
    assert.equal((await send({ "x-api-key": rekeyed.body.apiKey })).status, 201);
  });

  test("no credentials is 401 1601; an unknown API key is 401 1602", async () => {
    assertError(await send({}), 401, 1601);
    assertError(await send({ authorization: "Basic abc" }), 401, 1601);
    assertError(await send({ "x-api-key": "otpk_unknown" }), 401, 1602);
    assertError(await send({ "x-api-key": "whatever" }), 401, 1602);
  });

  test("a deleted application's key and tokens stop working", async () => {
    const doomed = await api.createApp({ name: "Doomed" });
    const t = (await token(undefined, { id: doomed.appId, secret: doomed.appSecret })).body.access_token;
    assert.equal((await api.admin("DELETE", `/admin/apps/${doomed.appId}`)).status, 200);
    assertError(await send({ "x-api-key": doomed.apiKey }), 401, 1602);
    assertError(await send(bearer(t)), 401, 1602);
  });
});
