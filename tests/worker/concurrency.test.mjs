// Exact verification under concurrency: each OTP's Durable Object runs its checks
// one at a time, so a burst of parallel guesses is counted exactly and a right PIN
// is consumed once. Also: the EXPIRED callback fired by the object's alarm.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startFakeProvider, verifyStandardWebhook } from "../support/fake-provider.mjs";
import { startApi, T0 } from "../support/api.mjs";

const PHONE = "+33612424111";

describe("exact verification under concurrency", () => {
  let worker, api, app, otp, receiver;

  before(async () => {
    receiver = await startFakeProvider();
    worker = await startApi({ bindings: { CALLBACK_RETRY_BASE_MS: "50", CALLBACK_TIMEOUT_MS: "1000" } });
    api = worker.api;
    app = await api.createApp({ name: "Burst" });
    otp = api.otp(app.apiKey);
  });
  after(async () => {
    await worker?.dispose();
    await receiver?.close();
  });

  async function sendOne(body = {}) {
    const res = await otp.send({ phoneNumber: PHONE, ...body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin } = await api.pinOf(PHONE, res.body.otpId);
    return { id: res.body.otpId, pin };
  }

  test("200 parallel wrong guesses with maxAttempts 3 count exactly 3; the right PIN after them is refused", async () => {
    const { id, pin } = await sendOne({ maxAttempts: 3 });
    const wrong = pin === "000000" ? "111111" : "000000";
    const replies = await Promise.all(Array.from({ length: 200 }, () => otp.verify(id, wrong)));
    const codes = replies.map((r) => r.body.error?.code ?? r.status);
    const count = (c) => codes.filter((x) => x === c).length;
    assert.equal(count(2029), 2, "two plain wrong-PIN answers");
    assert.equal(count(2027), 1, "exactly one answer used up the last attempt");
    assert.equal(count(2026), 197, "every other guess found the OTP already failed");
    assert.ok(!replies.some((r) => r.status === 200), "none verified");
    const state = await otp.get(id);
    assert.equal(state.body.status, "FAILED");
    assert.equal(state.body.attempts, 3);
    const late = await otp.verify(id, pin);
    assert.equal(late.body.error.code, 2026, "the right PIN after the burst is refused");
  });

  test("two parallel right PINs give exactly one VERIFIED", async () => {
    const { id, pin } = await sendOne({ maxAttempts: 5 });
    const replies = await Promise.all([otp.verify(id, pin), otp.verify(id, pin)]);
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400]);
    const refused = replies.find((r) => r.status === 400);
    assert.equal(refused.body.error.code, 2023, "the second sees it already verified");
  });

  test("a burst of mixed right and wrong PINs verifies at most once and never passes maxAttempts", async () => {
    const { id, pin } = await sendOne({ maxAttempts: 2 });
    const guesses = Array.from({ length: 60 }, (_, i) => (i % 10 === 9 ? pin : "999999" === pin ? "888888" : "999999"));
    const replies = await Promise.all(guesses.map((g) => otp.verify(id, g)));
    const verified = replies.filter((r) => r.status === 200).length;
    assert.ok(verified <= 1);
    const state = (await otp.get(id)).body;
    assert.ok(state.attempts <= 2, `attempts ${state.attempts}`);
    assert.equal(state.status, verified ? "VERIFIED" : "FAILED");
  });

  test("the object's alarm fires the EXPIRED callback, signed", async () => {
    // X-Dev-Now one second less than the TTL before real time: the OTP expires
    // (and the alarm rings) a second from now.
    const now = Math.floor(Date.now() / 1000) - 59;
    const res = await otp.send({ phoneNumber: PHONE, ttl: 60, otpCallbackUrl: `${receiver.url}/expired` }, now);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const [hook] = await receiver.waitForRequests(1, { path: "/expired", timeoutMs: 15_000 });
    const body = JSON.parse(hook.body);
    assert.equal(body.event, "otp_update");
    assert.equal(body.data[0].otpId, res.body.otpId);
    assert.equal(body.data[0].status, "EXPIRED");
    assert.ok(verifyStandardWebhook(app.webhookSecret, hook.headers, hook.body), "valid signature");
  });

  test("OTPs that are verified before expiry get no EXPIRED callback", async () => {
    const now = Math.floor(Date.now() / 1000) - 58;
    const res = await otp.send({ phoneNumber: PHONE, ttl: 60, otpCallbackUrl: `${receiver.url}/done` }, now);
    const { pin } = await api.pinOf(PHONE, res.body.otpId);
    assert.equal((await otp.verify(res.body.otpId, pin, now)).status, 200);
    await receiver.waitForRequests(1, { path: "/done" }); // the VERIFIED callback
    await new Promise((r) => setTimeout(r, 3500));
    const hooks = receiver.requestsTo("/done").map((r) => JSON.parse(r.body).data[0].status);
    assert.deepEqual(hooks, ["VERIFIED"]);
  });
});
