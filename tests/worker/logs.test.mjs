// The worker's log output holds no PIN and no full phone number.
//
// Everything workerd writes (the worker's and its Durable Objects' console output,
// on stdout and stderr) is captured through Miniflare's `handleRuntimeStdio`
// while flows of both dialects run: SMS.CX create, wrong and right PINs, cancel,
// tokens; gateway failures (connection refused, error statuses, unreadable and
// late replies, a receiver that echoes the number and the PIN back); status
// callbacks delivered and failing; Dexatel create, checks, resend, block, custom
// codes. Then the capture is searched for every PIN (read from the outbox or from
// what the fake gateway received) and every number (E.164 with and without `+`,
// national), and must hold the lines that name the OTPs by id instead.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { closedPort, startFakeProvider } from "../support/fake-provider.mjs";
import { DEV_BINDINGS, extractPin, startApi, T0 } from "../support/api.mjs";

const CALLBACK_RETRY_BASE_MS = 20;
const CALLBACK_TIMEOUT_MS = 300;
const GATEWAY_TIMEOUT_MS = 400;
/** Long enough for every callback delivery still running (4 attempts) to end. */
const SETTLE_MS = 4 * CALLBACK_TIMEOUT_MS + 7 * CALLBACK_RETRY_BASE_MS + 700;

describe("log output holds no PIN and no full phone number", () => {
  let worker, api, receiver, deadPort;
  /** Everything workerd wrote, per stream (kept apart, so no line is cut by the other). */
  const captured = { stdout: "", stderr: "" };
  /** Secrets that must never reach the log. */
  const pins = new Set();
  const phones = new Set();
  /** Lines the log must hold (so the capture demonstrably works). */
  const expected = [];
  let nextNumber = 612424300;
  /** A fresh French mobile number in E.164, remembered as a secret. */
  const newPhone = () => {
    const phone = `+33${nextNumber++}`;
    phones.add(phone);
    return phone;
  };

  before(async () => {
    receiver = await startFakeProvider();
    deadPort = await closedPort();
    worker = await startApi({
      bindings: {
        CALLBACK_RETRY_BASE_MS: String(CALLBACK_RETRY_BASE_MS),
        CALLBACK_TIMEOUT_MS: String(CALLBACK_TIMEOUT_MS),
        GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS),
        SMSCX_API_BASE: receiver.url,
        SMSCX_API_KEY: "smscx-api-key-value",
        VONAGE_API_BASE: receiver.url,
        VONAGE_API_KEY: "vonage-key",
        VONAGE_API_SECRET: "vonage-secret-value",
      },
      miniflare: {
        handleRuntimeStdio(stdout, stderr) {
          stdout.setEncoding("utf8").on("data", (chunk) => (captured.stdout += chunk));
          stderr.setEncoding("utf8").on("data", (chunk) => (captured.stderr += chunk));
        },
      },
    });
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
    await receiver?.close();
  });

  /** Sends an OTP through `client`, reads its PIN from the outbox, remembers both. */
  async function sendOne(client, body) {
    const res = await client.send(body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin } = await api.pinOf(res.body.phoneNumber, res.body.otpId);
    pins.add(pin);
    return { id: res.body.otpId, pin };
  }

  const wrongOf = (pin) => (pin.startsWith("0") ? "1" : "0").repeat(pin.length);

  test("SMS.CX: create, wrong and right PINs, cancel, callbacks delivered and failing", async () => {
    const app = await api.createApp({ name: "Logs" });
    const otp = api.otp(app.apiKey);
    // VERIFIED after a wrong PIN, callback delivered.
    const a = await sendOne(otp, { phoneNumber: newPhone(), otpCallbackUrl: `${receiver.url}/cb/verified` });
    assert.equal((await otp.verify(a.id, wrongOf(a.pin))).body.error.code, 2029);
    assert.equal((await otp.verify(a.id, a.pin)).status, 200);
    assert.equal((await otp.get(a.id)).body.status, "VERIFIED");
    expected.push(`gateway outbox: otp ${a.id} sent`, `callback otp=${a.id} attempt=1/4`);
    // CANCELLED, the callback receiver is down: retried, then given up.
    const b = await sendOne(otp, { phoneNumber: newPhone(), otpCallbackUrl: `http://127.0.0.1:${deadPort}/cb` });
    assert.equal((await otp.cancel(b.id)).status, 200);
    expected.push(`callback otp=${b.id} attempt=4/4`, `callback otp=${b.id}: gave up`);
    // FAILED on the last attempt, callback answered 500 then 200.
    let failedOnce = false;
    receiver.setPlan(() => (failedOnce ? { mode: "ok" } : ((failedOnce = true), { mode: "status", status: 500 })), "/cb/failed");
    const c = await sendOne(otp, { phoneNumber: newPhone(), maxAttempts: 1, otpCallbackUrl: `${receiver.url}/cb/failed` });
    assert.equal((await otp.verify(c.id, wrongOf(c.pin))).body.error.code, 2027);
    expected.push(`callback otp=${c.id} attempt=2/4`);
    // National format with countryIso; letters; the longest PIN.
    const national = newPhone();
    const d = await sendOne(otp, {
      phoneNumber: `0${national.slice(3)}`,
      countryIso: "FR",
      pinType: "alphanumeric",
      pinLength: 10,
    });
    assert.equal((await otp.verify(d.id, d.pin)).status, 200);
    // Other countries.
    for (const phone of ["+447911123456", "+4915112345678", "+12025550143"]) {
      phones.add(phone);
      const e = await sendOne(otp, { phoneNumber: phone });
      assert.equal((await otp.verify(e.id, e.pin)).status, 200);
    }
    await receiver.waitForRequests(1, { path: "/cb/verified" });
    await receiver.waitForRequests(2, { path: "/cb/failed" });
  });

  test("SMS.CX with a bearer token from /oauth/token", async () => {
    const app = await api.createApp({ name: "Tokens" });
    const res = await worker.fetch("/oauth/token", {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${app.appId}:${app.appSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        "x-dev-now": String(T0),
      },
      body: "grant_type=client_credentials",
    });
    assert.equal(res.status, 200);
    const { access_token: token } = await res.json();
    const headers = { authorization: `Bearer ${token}` };
    const phone = newPhone();
    const sent = await api.call("POST", "/otp", { body: { phoneNumber: phone }, headers, now: T0 });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const { pin } = await api.pinOf(phone, sent.body.otpId);
    pins.add(pin);
    const ok = await api.call("POST", `/otp/${sent.body.otpId}`, { body: { pin }, headers, now: T0 });
    assert.equal(ok.status, 200);
  });

  test("gateway failures: refused, error statuses, unreadable and late replies, echoed number and PIN", async () => {
    // Connection refused.
    const dead = await api.createApp({ name: "Dead", gateway: { type: "webhook", url: `http://127.0.0.1:${deadPort}/sms` } });
    const refused = await api.otp(dead.apiKey).send({ phoneNumber: newPhone() });
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 3003);
    expected.push("not sent: unreachable", "/otp: 502 3003");

    // A gateway that answers with the number and the PIN in every field a log
    // might quote (the PIN is read from the request the fake gateway received):
    // the worker logs a provider's error code, and must leave such a code out.
    // The webhook gateway sends {data: {to, text}}, SMS.CX {to, text}, Vonage
    // {to (digits), text}.
    const sent = (req) => {
      const body = JSON.parse(req.body);
      const { to, text } = body.data ?? body;
      return { to: to.startsWith("+") ? to : `+${to}`, text };
    };
    const echo = (status, field) => (req) => {
      const { to, text } = sent(req);
      const value = { to: to.replace(/^\+/, ""), plus: to, pin: extractPin(text) }[field];
      return {
        mode: "reply",
        status,
        body: { code: value, error: { code: value, message: text }, errors: [{ code: value }], error_code: value, to, text },
      };
    };
    // [gateway, path, plan, status, code]: the webhook gateway takes any 2xx. A
    // 500, a late reply and an unreadable success may have sent the SMS: the OTP
    // is kept (201, code null) with its delivery unknown.
    const cases = [
      ["webhook", "/echo-to-400", echo(400, "to"), 502, 3001],
      ["webhook", "/echo-plus-422", echo(422, "plus"), 502, 3001],
      ["webhook", "/echo-pin-403", echo(403, "pin"), 502, 3001],
      ["webhook", "/echo-pin-500", echo(500, "pin"), 201, null],
      ["webhook", "/late", { mode: "slow", delayMs: GATEWAY_TIMEOUT_MS + 600 }, 201, null],
      ["webhook", "/reset", { mode: "destroy" }, 502, 3003],
      // A provider code that quotes nothing is still logged.
      ["webhook", "/benign-401", { mode: "reply", status: 401, body: { error: { code: "invalid_key" } } }, 502, 3001],
      ["smscx", "/sms", echo(400, "to"), 502, 3001],
      ["smscx", "/sms", echo(429, "pin"), 503, 3008],
      ["vonage", "/sms/json", echo(401, "to"), 502, 3001],
      ["vonage", "/sms/json", (req) => ({ mode: "vonage-rejected", vonageStatus: extractPin(sent(req).text) }), 502, 3001],
      ["vonage", "/sms/json", (req) => ({ mode: "vonage-rejected", vonageStatus: sent(req).to.slice(1) }), 502, 3001],
      ["vonage", "/sms/json", { mode: "malformed" }, 201, null],
    ];
    for (const [type, path, plan, status, code] of cases) {
      receiver.setPlan(plan, path);
      receiver.clear();
      const gateway = type === "webhook" ? { type, url: `${receiver.url}${path}` } : { type };
      const app = await api.createApp({ name: `GW ${type} ${status}`, gateway });
      const phone = newPhone();
      const res = await api.otp(app.apiKey).send({ phoneNumber: phone });
      assert.equal(res.status, status, `${type} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code ?? null, code, path);
      const [req] = await receiver.waitForRequests(1, { path });
      const { to, text } = sent(req);
      assert.equal(to, phone);
      pins.add(extractPin(text));
    }
    expected.push("gateway smscx: otp", "rejected (HTTP 401, provider code invalid_key)", "not sent: rejected (HTTP 400", "not sent: rejected (HTTP 403", "not sent: busy (HTTP 429)", "delivery unknown (HTTP 500): not sent again", "delivery unknown (unreadable success reply)", "delivery unknown (no reply before the deadline)");
  });

  test("Dexatel: create, wrong and right checks, list, resend, custom code, block, gateway failure", async () => {
    const app = await api.createApp({ name: "Dx Logs", dexatel: { resendCooldownSeconds: 0, maxFailedChecks: 2, blockSeconds: 120 } });
    const headers = { "x-dexatel-key": app.apiKey };
    const dx = (method, path, body) => api.call(method, path, { body, headers, now: T0 });
    const send = async (phone, extra = {}) => {
      const res = await dx("POST", "/v1/verifications", { data: { sender: "Verify", phone: phone.slice(1), channel: "SMS", ...extra } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const { pin } = await api.pinOf(phone, res.body.data.id);
      pins.add(pin);
      return { id: res.body.data.id, pin };
    };
    const check = (phone, code) => dx("GET", `/v1/verifications?phone=${phone.slice(1)}&code=${code}`);

    const p1 = newPhone();
    const first = await send(p1);
    assert.deepEqual((await check(p1, wrongOf(first.pin))).body.data, []);
    // resend_same with no cooldown: the same verification, a fresh code.
    const again = await send(p1);
    assert.equal(again.id, first.id);
    assert.equal((await check(p1, again.pin)).body.data.length, 1);
    assert.equal((await dx("GET", `/v1/verifications?phone=${p1.slice(1)}`)).status, 200);
    expected.push(`gateway outbox: otp ${first.id} sent`);

    // A custom code chosen by the client.
    const p2 = newPhone();
    const custom = "73519";
    pins.add(custom);
    const own = await send(p2, { code: custom });
    assert.equal(own.pin, custom);
    assert.equal((await check(p2, custom)).body.data.length, 1);

    // Blocked after two wrong codes.
    const p3 = newPhone();
    const blocked = await send(p3);
    await check(p3, wrongOf(blocked.pin));
    await check(p3, wrongOf(blocked.pin));
    const refused = await check(p3, blocked.pin);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.errors[0].code, 1530);

    // Templates and senders (no numbers), then a code sent with a template.
    const tpl = await dx("POST", "/v1/templates", { data: { name: "login", text: "Login: [{code}]", channel: "SMS" } });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    assert.equal((await dx("POST", "/v1/senders", { data: { name: "AcmeLogs" } })).status, 201);
    const p4 = newPhone();
    const templated = await send(p4, { template: tpl.body.data.id });
    assert.equal((await check(p4, templated.pin)).body.data.length, 1);

    // A gateway failure in this dialect.
    const dead = await api.createApp({ name: "Dx Dead", gateway: { type: "webhook", url: `http://127.0.0.1:${deadPort}/sms` } });
    const p5 = newPhone();
    const failed = await api.call("POST", "/v1/verifications", {
      body: { data: { sender: "Verify", phone: p5.slice(1), channel: "SMS" } },
      headers: { "x-dexatel-key": dead.apiKey },
      now: T0,
    });
    assert.equal(failed.status, 502, JSON.stringify(failed.body));
    expected.push("dexatel POST /v1/verifications: 502 3003");
  });

  test("admin: outbox reads and refused requests carrying numbers", async () => {
    const phone = [...phones][0];
    await api.admin("GET", `/admin/outbox?phoneNumber=${encodeURIComponent(phone)}`);
    const app = await api.createApp({ name: "Refusals" });
    const otp = api.otp(app.apiKey);
    // Invalid numbers and a wrong key: client errors, not logged, but checked all the same.
    for (const phoneNumber of [`${newPhone()}9999999`, `+999${nextNumber++}`]) {
      phones.add(phoneNumber);
      assert.equal((await otp.send({ phoneNumber })).status, 400);
    }
    const stranger = api.otp("sk_live_wrongwrongwrong");
    assert.equal((await stranger.send({ phoneNumber: newPhone() })).status, 401);
    // Test SMS from the console: through the outbox, through a refusing gateway
    // (whose reply quotes the number), and refused numbers.
    const sent = await api.admin("POST", `/admin/apps/${app.appId}/test-sms`, { phoneNumber: newPhone(), text: "Log scan test" });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const failing = await api.createApp({ name: "Test SMS refused", gateway: { type: "smscx" } });
    const echoed = newPhone();
    receiver.setPlan({ mode: "status", status: 400, body: { code: echoed.slice(1), message: `bad number ${echoed}` } }, "/sms");
    const refused = await api.admin("POST", `/admin/apps/${failing.appId}/test-sms`, { phoneNumber: echoed });
    receiver.setPlan({ mode: "ok" }, "/sms");
    assert.deepEqual([refused.status, refused.body.outcome], [200, "not_sent"], JSON.stringify(refused.body));
    assert.ok(!JSON.stringify(refused.body.attempts).includes(echoed.slice(3)), "the provider's echo is left out of the reply");
    for (const phoneNumber of [`${newPhone()}9999999`, newPhone().replace("+336", "+331")]) {
      phones.add(phoneNumber);
      assert.equal((await api.admin("POST", `/admin/apps/${app.appId}/test-sms`, { phoneNumber })).status, 400);
    }
    expected.push("not sent: rejected (HTTP 400)");
  });

  test("the capture holds the expected lines and neither a PIN nor a full number", async () => {
    await sleep(SETTLE_MS);
    const log = `${captured.stdout}\n${captured.stderr}`;
    assert.ok(captured.stdout.length > 0 && captured.stderr.length > 0, "both streams were captured");
    for (const line of expected) assert.ok(log.includes(line), `the log holds ${JSON.stringify(line)}`);

    assert.ok(pins.size >= 20, `enough PINs to look for: ${pins.size}`);
    const linesWith = (found) => log.split("\n").filter((line) => found.some((f) => line.includes(f)));
    const leakedPins = [...pins].filter((pin) => new RegExp(`(?<![0-9A-Za-z])${pin}(?![0-9A-Za-z])`).test(log) || (pin.length >= 8 && log.includes(pin)));
    assert.deepEqual(leakedPins, [], `no PIN in the log; found in:\n${linesWith(leakedPins).join("\n")}`);

    const forms = new Set();
    for (const phone of phones) {
      forms.add(phone);
      forms.add(phone.slice(1));
      forms.add(encodeURIComponent(phone));
      if (phone.startsWith("+33")) forms.add(`0${phone.slice(3)}`);
    }
    const leakedPhones = [...forms].filter((form) => log.includes(form));
    assert.deepEqual(leakedPhones, [], `no full phone number in the log; found in:\n${linesWith(leakedPhones).join("\n")}`);
    assert.ok(!log.includes(DEV_BINDINGS.PIN_KEYS) && !log.includes(DEV_BINDINGS.TOKEN_KEY), "no secret key either");
    const lines = log.split("\n").filter(Boolean);
    console.log(`logs: ${lines.length} lines captured, searched for ${pins.size} PINs and ${forms.size} number forms: none found`);
  });
});
