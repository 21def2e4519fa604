// OtpClient (the package's HTTP client) against the real worker in workerd (Miniflare on
// a real 127.0.0.1 port): the API-key and token flows (cache, refresh after the worker
// refuses an expired or revoked token), the SMS.CX verify/cancel errors as typed
// OtpApiError, the Dexatel namespace, rate limits with retryAfter, and
// examples/drive-worker.mjs run as written with env overrides.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { OtpApiError, OtpClient } from "otp-sms-verify";
import { DEV_BINDINGS, startApi, T0 } from "../support/api.mjs";
import { ROOT } from "./helpers.mjs";

const TOKEN_TTL = 600;
let worker, api, app, baseUrl;
let nextNumber = 612400000;
/** A fresh French mobile number per use, so that no per-number state is shared. */
const newPhone = () => `+33${nextNumber++}`;
const wrongOf = (pin) => (pin === "000000" ? "111111" : "000000").slice(0, pin.length);

before(async () => {
  worker = await startApi({ bindings: { TOKEN_TTL_SECONDS: String(TOKEN_TTL) } });
  api = worker.api;
  app = await api.createApp({ name: "Client" });
  baseUrl = worker.url.href; // e.g. http://127.0.0.1:41234/ (the trailing slash is dropped)
});
after(async () => {
  await worker?.dispose();
});

/**
 * A `fetch` that records every request (method, path, headers, reply status) and
 * adds `X-Dev-Now` while `clock.now` is set (the worker's development clock). Each
 * request goes on a connection of its own (`Connection: close`, as Miniflare's own
 * dispatchFetch does): workerd closes idle kept-alive connections, and a request
 * sent on one at that instant fails with no reply (cloudflare/workers-sdk#14641).
 * A request that still fails with no reply at all (undici's "fetch failed": seen
 * once in a full CI run, on a fresh connection, while the other test files loaded
 * the machine) is sent once more; only requests that got a reply are recorded, so
 * the counts below are the worker's.
 */
function recordingFetch() {
  const calls = [];
  const clock = { now: undefined };
  const wrapped = async (url, init) => {
    const headers = { ...init.headers };
    if (clock.now !== undefined) headers["x-dev-now"] = String(clock.now);
    const send = () => fetch(url, { ...init, headers: { ...headers, connection: "close" } });
    const res = await send().catch((e) => {
      if (e?.name !== "TypeError" || init.signal?.aborted) throw e;
      console.log(`# no reply to ${init.method} ${new URL(url).pathname} (${e.cause?.code ?? e.cause ?? e.message}): sent again`);
      return send();
    });
    calls.push({ method: init.method, path: new URL(url).pathname, headers, status: res.status });
    return res;
  };
  return { fetch: wrapped, calls, clock, count: (p) => calls.filter((c) => c.path === p).length };
}

/** Expects `promise` to reject with an OtpApiError; returns it. */
async function apiError(promise, httpStatus, code) {
  const error = await promise.then(
    (value) => assert.fail(`expected OtpApiError ${code}, got ${JSON.stringify(value)}`),
    (e) => e,
  );
  assert.ok(error instanceof OtpApiError, `expected OtpApiError ${code}, got ${error?.stack ?? error}`);
  assert.equal(error.name, "OtpApiError");
  assert.equal(error.code, code, `${error.code} ${error.message}`);
  assert.equal(error.httpStatus, httpStatus);
  return error;
}

describe("SMS.CX dialect with an API key", () => {
  let client, rec;
  before(() => {
    rec = recordingFetch();
    client = new OtpClient({ baseUrl, apiKey: app.apiKey, fetch: rec.fetch });
  });

  test("send, status, a wrong PIN (2029), the right PIN → VERIFIED, then 2023", async () => {
    const phoneNumber = newPhone();
    const trackId = randomUUID();
    const sent = await client.send({ phoneNumber, trackId });
    assert.equal(sent.status, "PENDING");
    assert.equal(sent.phoneNumber, phoneNumber, "the create reply shows the full number");
    assert.equal(sent.trackId, trackId);
    assert.equal(sent.attempts, 0);
    const { pin } = await api.pinOf(phoneNumber, sent.otpId);

    const wrong = await apiError(client.verify(sent.otpId, wrongOf(pin)), 400, 2029);
    assert.equal(wrong.type, "invalid_pin");
    assert.equal(wrong.uri, `/otp/${sent.otpId}`);
    assert.equal(wrong.retryAfter, null);
    assert.ok(wrong.requestId, "X-Request-Id is kept");
    assert.deepEqual(Object.keys(wrong.toJSON()).sort(), ["code", "httpStatus", "message", "requestId", "retryAfter", "type", "uri"]);

    assert.deepEqual(await client.verify(sent.otpId, pin), { status: "VERIFIED" });
    const now = await client.status(sent.otpId);
    assert.equal(now.status, "VERIFIED");
    assert.equal(now.attempts, 1);
    assert.equal(now.phoneNumber, phoneNumber.slice(0, -4) + "****", "later reads are masked");
    await apiError(client.verify(sent.otpId, pin), 400, 2023);

    const first = rec.calls.find((c) => c.path === "/otp");
    assert.equal(first.headers["x-api-key"], app.apiKey);
    assert.equal(first.headers.authorization, undefined);
    assert.equal(first.headers["content-type"], "application/json");
    assert.equal(rec.count("/oauth/token"), 0, "an API key needs no token");
  });

  test("the last attempt wrong is 2027 (FAILED), then even the right PIN is 2026", async () => {
    const phoneNumber = newPhone();
    const sent = await client.send({ phoneNumber, maxAttempts: 2 });
    const { pin } = await api.pinOf(phoneNumber, sent.otpId);
    await apiError(client.verify(sent.otpId, wrongOf(pin)), 400, 2029);
    const last = await apiError(client.verify(sent.otpId, wrongOf(pin)), 400, 2027);
    assert.equal(last.type, "otp_failed");
    await apiError(client.verify(sent.otpId, pin), 400, 2026);
    assert.equal((await client.status(sent.otpId)).status, "FAILED");
  });

  test("cancel → CANCELLED; cancelling again is 2030 (403); verifying is 2024", async () => {
    const phoneNumber = newPhone();
    const sent = await client.send({ phoneNumber });
    const { pin } = await api.pinOf(phoneNumber, sent.otpId);
    assert.deepEqual(await client.cancel(sent.otpId), { info: { id: sent.otpId } });
    assert.equal((await client.status(sent.otpId)).status, "CANCELLED");
    await apiError(client.cancel(sent.otpId), 403, 2030);
    await apiError(client.verify(sent.otpId, pin), 400, 2024);
  });

  test("an unknown OTP is 2021 (404) for status, verify and cancel", async () => {
    const id = randomUUID();
    const e = await apiError(client.status(id), 404, 2021);
    assert.equal(e.type, "not_found");
    await apiError(client.verify(id, "123456"), 404, 2021);
    await apiError(client.cancel(id), 404, 2021);
  });

  test("invalid requests carry the core's codes; a wrong API key is 1602", async () => {
    await apiError(client.send({ phoneNumber: "not a phone" }), 400, 2020);
    await apiError(client.send({ phoneNumber: newPhone(), ttl: 10 }), 400, 2008);
    const stranger = new OtpClient({ baseUrl, apiKey: "otpk_nope" });
    await apiError(stranger.send({ phoneNumber: newPhone() }), 401, 1602);
  });
});

describe("SMS.CX dialect with app credentials (bearer tokens)", () => {
  const credentials = () => ({ baseUrl, appId: app.appId, appSecret: app.appSecret });

  test("one POST /oauth/token (HTTP Basic, form body), then the cached token for every call", async () => {
    const rec = recordingFetch();
    const client = new OtpClient({ ...credentials(), fetch: rec.fetch });
    const phoneNumber = newPhone();
    const [a, b] = await Promise.all([client.send({ phoneNumber }), client.send({ phoneNumber: newPhone() })]);
    assert.equal(rec.count("/oauth/token"), 1, "parallel first calls share one token request");
    const { pin } = await api.pinOf(phoneNumber, a.otpId);
    assert.equal((await client.status(b.otpId)).status, "PENDING");
    assert.deepEqual(await client.verify(a.otpId, pin), { status: "VERIFIED" });
    assert.equal(rec.count("/oauth/token"), 1);

    const tokenCall = rec.calls.find((c) => c.path === "/oauth/token");
    assert.equal(tokenCall.method, "POST");
    assert.equal(tokenCall.headers.authorization, `Basic ${Buffer.from(`${app.appId}:${app.appSecret}`).toString("base64")}`);
    assert.equal(tokenCall.headers["content-type"], "application/x-www-form-urlencoded");
    const token = await client.token();
    assert.match(token, /^v1\./);
    for (const c of rec.calls.filter((x) => x.path.startsWith("/otp"))) {
      assert.equal(c.headers.authorization, `Bearer ${token}`);
      assert.equal(c.headers["x-api-key"], undefined);
    }
    assert.equal(rec.count("/oauth/token"), 1, "token() returns the cached token");
  });

  test("the token is renewed shortly before expires_in, by the client's clock", async () => {
    const rec = recordingFetch();
    let seconds = 1_000_000; // Unix seconds, as OtpService's clock
    const client = new OtpClient({ ...credentials(), fetch: rec.fetch, now: () => seconds });
    const id = (await client.send({ phoneNumber: newPhone() })).otpId;
    seconds += TOKEN_TTL - 61;
    await client.status(id);
    assert.equal(rec.count("/oauth/token"), 1, "still fresh a minute before expiry");
    seconds += 2;
    await client.status(id);
    assert.equal(rec.count("/oauth/token"), 2, "renewed within the last minute");
    assert.equal(rec.calls.filter((c) => c.status === 401).length, 0, "before the worker refused it");
  });

  test("a token the worker finds expired (401 1603) is replaced once and the call retried", async () => {
    const rec = recordingFetch();
    const client = new OtpClient({ ...credentials(), fetch: rec.fetch });
    rec.clock.now = T0;
    const sent = await client.send({ phoneNumber: newPhone() });
    const old = await client.token();
    // The worker's clock jumps past the token's expiry; the client's own clock does not.
    rec.clock.now = T0 + TOKEN_TTL;
    const view = await client.status(sent.otpId);
    assert.equal(view.otpId, sent.otpId);
    assert.deepEqual(
      rec.calls.slice(-3).map((c) => [c.method, c.path, c.status]),
      [["GET", `/otp/${sent.otpId}`, 401], ["POST", "/oauth/token", 200], ["GET", `/otp/${sent.otpId}`, 200]],
    );
    assert.notEqual(await client.token(), old, "the new token is cached");
    assert.equal(rec.count("/oauth/token"), 2);

    // A worker that keeps refusing is reported, not retried forever.
    const refusing = async (url, init) =>
      new URL(url).pathname === "/oauth/token"
        ? rec.fetch(url, init)
        : new Response(JSON.stringify({ error: { type: "unauthorized", message: "Token expired.", uri: "/otp", code: 1603 } }), { status: 401 });
    const stubborn = new OtpClient({ ...credentials(), fetch: refusing });
    const before = rec.count("/oauth/token");
    await apiError(stubborn.send({ phoneNumber: newPhone() }), 401, 1603);
    assert.equal(rec.count("/oauth/token") - before, 2, "one token, one refresh, no more");
  });

  test("after a secret rotation: the old token is refused, re-authentication fails clearly (401 1600)", async () => {
    const own = await api.createApp({ name: "Rotating" });
    const rec = recordingFetch();
    const client = new OtpClient({ baseUrl, appId: own.appId, appSecret: own.appSecret, fetch: rec.fetch });
    const sent = await client.send({ phoneNumber: newPhone() });
    const rotated = await api.admin("POST", `/admin/apps/${own.appId}/rotate-secret`);
    assert.equal(rotated.status, 200);
    const e = await apiError(client.status(sent.otpId), 401, 1600);
    assert.equal(e.type, "invalid_client");
    assert.equal(e.uri, "/oauth/token");
    assert.deepEqual(rec.calls.slice(-2).map((c) => [c.path, c.status]), [[`/otp/${sent.otpId}`, 401], ["/oauth/token", 401]]);

    const renewed = new OtpClient({ baseUrl, appId: own.appId, appSecret: rotated.body.appSecret });
    assert.equal((await renewed.status(sent.otpId)).status, "PENDING");
  });

  test("scopes: a read-only client reads, and sending is 403 1604 (no retry)", async () => {
    const rec = recordingFetch();
    const reader = new OtpClient({ ...credentials(), scope: "otp:read", fetch: rec.fetch });
    const writer = new OtpClient({ ...credentials(), scope: ["otp:read", "otp:write"] });
    const sent = await writer.send({ phoneNumber: newPhone() });
    assert.equal((await reader.status(sent.otpId)).status, "PENDING");
    await apiError(reader.send({ phoneNumber: newPhone() }), 403, 1604);
    assert.equal(rec.count("/oauth/token"), 1);
    await apiError(new OtpClient({ ...credentials(), appSecret: "wrong" }).status(sent.otpId), 401, 1600);
  });

  test("the Dexatel namespace needs an API key", async () => {
    const client = new OtpClient(credentials());
    await assert.rejects(client.dexatel.checkCode("33612424111", "1234"), TypeError);
    await assert.rejects(new OtpClient({ baseUrl, apiKey: app.apiKey }).token(), TypeError);
  });
});

describe("Dexatel dialect", () => {
  let client, owner, rec;
  before(async () => {
    owner = await api.createApp({ name: "Dexatel" });
    rec = recordingFetch();
    client = new OtpClient({ baseUrl, apiKey: owner.apiKey, fetch: rec.fetch });
  });

  test("createVerification, a wrong code → null, the right one → VERIFIED, then used up", async () => {
    const phone = newPhone().slice(1);
    const v = await client.dexatel.createVerification({ sender: "Verify", phone, channel: "SMS" });
    assert.equal(v.status, "PENDING");
    assert.equal(v.phone, phone);
    assert.equal(v.account_id, owner.appId);
    const { pin } = await api.pinOf(`+${phone}`, v.id);
    assert.equal(await client.dexatel.checkCode(phone, wrongOf(pin)), null);
    const matched = await client.dexatel.checkCode(phone, pin);
    assert.deepEqual(matched, { ...v, status: "VERIFIED" });
    assert.equal(await client.dexatel.checkCode(phone, pin), null, "a code is used once");
    const listed = await client.dexatel.listVerifications(phone);
    assert.deepEqual(listed.data.map((x) => [x.id, x.status]), [[v.id, "VERIFIED"]]);
    assert.equal(listed.pagination.total, 1);
    assert.equal(listed.nextPageToken, null);
    assert.ok(rec.calls.every((c) => c.headers["x-dexatel-key"] === owner.apiKey && !c.headers["x-api-key"]));
  });

  test("errors in Dexatel's shape become OtpApiError with Dexatel's codes", async () => {
    const bad = await apiError(client.dexatel.createVerification({ sender: "Verify", phone: "331234" }), 400, 1523);
    assert.equal(bad.type, null, "Dexatel's shape has no type");
    assert.equal(bad.uri, "/v1/verifications");
    await apiError(client.dexatel.createVerification({ sender: "Nobody", phone: newPhone().slice(1) }), 400, 1505);
    await apiError(client.dexatel.getSender(randomUUID()), 404, 1402);
    await apiError(new OtpClient({ baseUrl, apiKey: "otpk_nope" }).dexatel.listTemplates(), 401, 1602);
  });

  test("templates: create, get, list page by page, update, use, delete", async () => {
    const tpl = await client.dexatel.createTemplate({ name: "login", text: "Login code: {code}", channel: "SMS" });
    assert.equal(tpl.name, "login");
    assert.equal(tpl.status, "ACTIVE");
    assert.deepEqual(await client.dexatel.getTemplate(tpl.id), tpl);
    const unnamed = await client.dexatel.createTemplate({ text: "{code} is your code", channel: "SMS" });
    assert.equal(unnamed.name, null);

    const page1 = await client.dexatel.listTemplates({ pageSize: 1 });
    assert.deepEqual(page1.data.map((t) => t.id), [tpl.id]);
    assert.equal(page1.pagination.total, 2);
    assert.ok(page1.nextPageToken);
    const page2 = await client.dexatel.listTemplates({ pageSize: 1, pageToken: page1.nextPageToken });
    assert.deepEqual(page2.data.map((t) => t.id), [unnamed.id]);
    assert.equal(page2.nextPageToken, null);

    const updated = await client.dexatel.updateTemplate(tpl.id, { text: "Sign-in code {code}" });
    assert.equal(updated.text, "Sign-in code {code}");
    assert.equal(updated.name, "login");
    const phone = newPhone().slice(1);
    const v = await client.dexatel.createVerification({ sender: "Verify", phone, template: tpl.id });
    const { pin, message } = await api.pinOf(`+${phone}`, v.id);
    assert.equal(message.text, `Sign-in code ${pin}`);

    assert.equal(await client.dexatel.deleteTemplate(tpl.id), undefined);
    await apiError(client.dexatel.getTemplate(tpl.id), 404, 1251);
    await apiError(client.dexatel.createTemplate({ text: "no placeholder", channel: "SMS" }), 400, 1624);
  });

  test("senders: create, get, list, and send with one", async () => {
    const alpha = await client.dexatel.createSender({ name: "Acme" });
    assert.equal(alpha.type, "alphanumeric");
    assert.equal(alpha.code, "Acme");
    const long = await client.dexatel.createSender({ name: "Line", code: "447911123456", type: "did" });
    assert.equal(long.type, "long_code");
    assert.deepEqual(await client.dexatel.getSender(long.id), long);
    const listed = await client.dexatel.listSenders();
    assert.deepEqual(listed.data.map((s) => s.name), ["Acme", "Line"]);
    const phone = newPhone().slice(1);
    const v = await client.dexatel.createVerification({ sender: "Line", phone });
    assert.equal((await api.pinOf(`+${phone}`, v.id)).message.from, "447911123456");
    await apiError(client.dexatel.createSender({ name: "Acme" }), 400, 1441);
  });
});

describe("rate limits: 429 with retryAfter", () => {
  test("SMS.CX: a second SMS to one number within phoneCooldownSeconds is 1007", async () => {
    const limited = await api.createApp({ name: "Cooldown", limits: { phoneCooldownSeconds: 30 } });
    const rec = recordingFetch();
    const client = new OtpClient({ baseUrl, apiKey: limited.apiKey, fetch: rec.fetch });
    const phoneNumber = newPhone();
    rec.clock.now = T0;
    await client.send({ phoneNumber });
    rec.clock.now = T0 + 5;
    const e = await apiError(client.send({ phoneNumber }), 429, 1007);
    assert.equal(e.type, "rate_limited");
    assert.equal(e.retryAfter, 25);
    rec.clock.now = T0 + 30;
    assert.equal((await client.send({ phoneNumber })).status, "PENDING", "allowed again after retryAfter");
  });

  test("Dexatel: a new code within the resend cooldown is 1690", async () => {
    const rec = recordingFetch();
    const client = new OtpClient({ baseUrl, apiKey: app.apiKey, fetch: rec.fetch });
    const phone = newPhone().slice(1);
    rec.clock.now = T0;
    await client.dexatel.createVerification({ sender: "Verify", phone });
    rec.clock.now = T0 + 29;
    const e = await apiError(client.dexatel.createVerification({ sender: "Verify", phone }), 429, 1690);
    assert.equal(e.retryAfter, 1);
  });
});

describe("transport", () => {
  test("timeoutMs aborts a request through AbortSignal.timeout", async () => {
    const hanging = (_url, init) =>
      new Promise((_resolve, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
    const client = new OtpClient({ baseUrl, apiKey: "k", fetch: hanging, timeoutMs: 50 });
    await assert.rejects(client.status(randomUUID()), { name: "TimeoutError" });
  });

  test("replies without an API error body, and success replies that are not JSON", async () => {
    const reply = (status, body, headers = {}) => async () => new Response(body, { status, headers });
    const html = new OtpClient({ baseUrl, apiKey: "k", fetch: reply(502, "<html>Bad gateway</html>", { "retry-after": "7" }) });
    const e = await apiError(html.status(randomUUID()), 502, 502);
    assert.equal(e.type, null);
    assert.equal(e.retryAfter, 7);
    const garbled = new OtpClient({ baseUrl, apiKey: "k", fetch: reply(200, "not json") });
    assert.equal((await apiError(garbled.status(randomUUID()), 200, 200)).type, "invalid_response");
    const date = new Date(Date.now() + 10_000).toUTCString();
    const later = new OtpClient({ baseUrl, apiKey: "k", fetch: reply(503, "", { "retry-after": date }) });
    const retry = (await apiError(later.send({ phoneNumber: "+33612424111" }), 503, 503)).retryAfter;
    assert.ok(retry >= 9 && retry <= 11, String(retry));
  });

  test("the base URL keeps a path prefix; ids are URL-encoded; bad options are TypeErrors", async () => {
    const seen = [];
    const client = new OtpClient({
      baseUrl: "https://otp.example.com/api/",
      apiKey: "k",
      fetch: async (url) => (seen.push(url), new Response(JSON.stringify({ status: "VERIFIED" }), { status: 200 })),
    });
    await client.verify("a/b?c", "1234");
    assert.deepEqual(seen, ["https://otp.example.com/api/otp/a%2Fb%3Fc"]);
    assert.throws(() => new OtpClient({ baseUrl: "otp.example.com", apiKey: "k" }), TypeError);
    assert.throws(() => new OtpClient({ baseUrl }), TypeError);
    assert.throws(() => new OtpClient({ baseUrl, appId: "a" }), TypeError);
    await assert.rejects(client.status(""), TypeError, "a rejection, not a synchronous throw");
  });
});

describe("examples/drive-worker.mjs", () => {
  const run = (env) =>
    promisify(execFile)(process.execPath, [path.join(ROOT, "examples", "drive-worker.mjs")], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });

  test("runs as written against a worker: send, SMS, wrong PIN, VERIFIED, in both dialects", async () => {
    // The app that scripts/seed-dev-app.mjs creates for ./scripts/dev.sh: default
    // template (built-in text), default send policy (30 s cooldown per number).
    const seeded = await api.admin("POST", "/admin/apps", { name: "Dev App", gateway: { type: "outbox" } });
    assert.equal(seeded.status, 201);
    const env = {
      OTP_BASE_URL: baseUrl,
      OTP_APP_ID: seeded.body.appId,
      OTP_APP_SECRET: seeded.body.appSecret,
      OTP_API_KEY: seeded.body.apiKey,
      OTP_ADMIN_TOKEN: DEV_BINDINGS.ADMIN_TOKEN,
    };
    const { stdout } = await run(env);
    assert.match(stdout, /bearer token from POST \/oauth\/token/);
    assert.match(stdout, /^otp: \{"otpId":"[0-9a-f-]{36}","status":"PENDING","phoneNumber":"\+336\d{8}"/m);
    const [, pin] = stdout.match(/^SMS: from Verify: Dev App : votre code de vérification est (\d{6})\. /m) ?? [];
    assert.ok(pin, stdout);
    assert.match(stdout, new RegExp(`^PIN: ${pin}$`, "m"));
    assert.match(stdout, /^refused: \{"httpStatus":400,"code":2029,"type":"invalid_pin"/m);
    assert.match(stdout, /^verified: \{"status":"VERIFIED"\}$/m);
    assert.match(stdout, /^otp: \{"status":"VERIFIED","attempts":1,"phoneNumber":"\+33\d+\*{4}"\}$/m);
    assert.match(stdout, /^matched: null$/m);
    assert.match(stdout, /^matched: \{"id":"[0-9a-f-]{36}","status":"VERIFIED"\}$/m);
    assert.match(stdout, /done: both verifications VERIFIED/);
    // Each run picks fresh numbers: running it again at once is not refused by the cooldown.
    assert.match((await run(env)).stdout, /done: both verifications VERIFIED/);
  });

  test("reports a missing worker and API errors clearly (exit 1)", async () => {
    const port = await new Promise((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = s.address();
        s.close(() => resolve(free));
      });
    });
    const down = await run({ OTP_BASE_URL: `http://127.0.0.1:${port}`, OTP_API_KEY: "k", OTP_ADMIN_TOKEN: "x" }).then(
      () => assert.fail("exit 0 without a worker"),
      (e) => e,
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /no worker at http:\/\/127\.0\.0\.1:\d+: start \.\/scripts\/dev\.sh first/);

    const refused = await run({ OTP_BASE_URL: baseUrl, OTP_API_KEY: "otpk_nope", OTP_ADMIN_TOKEN: "x" }).then(
      () => assert.fail("exit 0 with a wrong key"),
      (e) => e,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /API error 1602 \(HTTP 401\)/);
  });
});
