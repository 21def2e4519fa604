// The fraud guard end to end: SMS pumping into one number range is cut off (burst
// and conversion rules), in both dialects, with nothing stored or sent for a refused
// send; an operator sees and lifts blocks; shadow mode decides but sends; spend caps
// count parts (maxParts); lockdown; test numbers get no SMS and cost nothing.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startApi, T0 } from "../support/api.mjs";

describe("fraud guard", () => {
  let worker, api;
  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Distinct GB mobiles of one range (+44 7400 12xxxx: the number without its last 4 digits). */
  const inRange = (prefix, i) => `${prefix}${String(i).padStart(4, "0")}`;
  const wrongOf = (pin) => (pin === "000000" ? "111111" : "000000");

  test("scenario (a): a pumped range is cut off after a burst; other ranges and Dexatel too", async () => {
    const app = await api.createApp({ name: "Pumped", fraudGuard: { enabled: true } });
    const otp = api.otp(app.apiKey);
    const statuses = [];
    let refused;
    for (let i = 0; i < 30; i++) {
      const res = await otp.send({ phoneNumber: inRange("+44740012", i) }, T0 + i);
      statuses.push(res.status);
      if (res.status !== 201) refused ??= res;
    }
    const sent = statuses.filter((s) => s === 201).length;
    assert.ok(sent <= 12, `at most a burst's worth leaked: ${sent}`);
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.deepEqual([refused.body.error.code, refused.body.error.reason], [2125, "range_burst"]);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    // Nothing was sent to a refused number.
    assert.equal((await api.outbox(inRange("+44740012", 29))).length, 0);
    // Another range of the same country is not held back.
    assert.equal((await otp.send({ phoneNumber: "+447400991234" }, T0 + 40)).status, 201);
    // The Dexatel dialect answers the same refusal in its own shape.
    const dx = await api.call("POST", "/v1/verifications", {
      body: { data: { sender: "Verify", phone: inRange("44740012", 31) } },
      headers: { "x-dexatel-key": app.apiKey },
      now: T0 + 41,
    });
    assert.equal(dx.status, 429, JSON.stringify(dx.body));
    assert.equal(dx.body.errors[0].code, 2125);
    assert.ok(dx.headers.get("retry-after"));

    // The operator sees the block and lifts it.
    const snapshot = await api.admin("GET", `/admin/apps/${app.appId}/fraud`);
    assert.equal(snapshot.status, 200, JSON.stringify(snapshot.body));
    const block = snapshot.body.blocks.find((b) => b.key === "44740012");
    assert.ok(block, JSON.stringify(snapshot.body.blocks));
    const lifted = await api.admin("DELETE", `/admin/apps/${app.appId}/fraud/blocks?scope=range&key=44740012`);
    assert.equal(lifted.status, 204, JSON.stringify(lifted.body));
    assert.equal((await otp.send({ phoneNumber: inRange("+44740012", 40) }, T0 + 42)).status, 201, "unblocked");
  });

  test("a range whose codes are never verified is blocked by its conversion", async () => {
    const app = await api.createApp({
      name: "Converting",
      otp: { maxAttempts: 1 },
      fraudGuard: { enabled: true, burstNumbers: 1000, minDecided: 20, minConversionPercent: 25 },
    });
    const otp = api.otp(app.apiKey);
    for (let i = 0; i < 20; i++) {
      const number = inRange("+44740013", i);
      const res = await otp.send({ phoneNumber: number }, T0 + i);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const { pin } = await api.pinOf(number, res.body.otpId);
      // One wrong PIN fails it (maxAttempts 1): an unverified outcome, reported after the reply.
      assert.equal((await otp.verify(res.body.otpId, wrongOf(pin), T0 + i)).body.error.code, 2027);
    }
    let res;
    for (let tries = 0; tries < 50; tries++) {
      res = await otp.send({ phoneNumber: inRange("+44740013", 100 + tries) }, T0 + 60);
      if (res.status === 429) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.reason, "range_low_conversion");
  });

  test("shadow mode decides and records but still sends", async () => {
    const app = await api.createApp({ name: "Shadow", fraudGuard: { enabled: true, shadow: true } });
    const otp = api.otp(app.apiKey);
    for (let i = 0; i < 15; i++) {
      assert.equal((await otp.send({ phoneNumber: inRange("+44740014", i) }, T0 + i)).status, 201);
    }
    const snapshot = await api.admin("GET", `/admin/apps/${app.appId}/fraud`);
    assert.equal(snapshot.body.shadow, true);
    assert.ok(snapshot.body.refusals.length > 0, JSON.stringify(snapshot.body));
  });

  test("spend caps count parts: a message over maxParts is refused and nothing is sent", async () => {
    const app = await api.createApp({ name: "Parts", limits: { maxParts: 3 } });
    const long = `{{pin}} ${"Ваш код подтверждения. ".repeat(40)}`;
    const res = await api.otp(app.apiKey).send({ phoneNumber: "+447400150001", template: long });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual([res.body.error.code, res.body.error.reason], [2128, "sms_too_many_parts"]);
    assert.equal((await api.outbox("+447400150001")).length, 0);
  });

  test("lockdown restricts from and forbids per-request templates", async () => {
    const app = await api.createApp({
      name: "Locked",
      otp: { originator: "Acme" },
      policy: { lockdown: { allowedSenders: ["AcmeSec"], forbidTemplates: true } },
    });
    const otp = api.otp(app.apiKey);
    assert.equal((await otp.send({ phoneNumber: "+447400160001", from: "AcmeSec" })).status, 201);
    const from = await otp.send({ phoneNumber: "+447400160002", from: "PayPal" });
    assert.deepEqual([from.status, from.body.error.code], [403, 2133]);
    const tpl = await otp.send({ phoneNumber: "+447400160003", template: "Your code {{pin}}" });
    assert.deepEqual([tpl.status, tpl.body.error.code], [403, 2134]);
  });

  test("test numbers: a fixed code, no SMS, no cost, no guard", async () => {
    const app = await api.createApp({
      name: "Testing",
      otp: { prices: { default: 0.05 } },
      policy: { testNumbers: [{ number: "+447400170001", code: "424242" }] },
      fraudGuard: { enabled: true },
    });
    const otp = api.otp(app.apiKey);
    for (let i = 0; i < 15; i++) {
      const res = await otp.send({ phoneNumber: "+447400170001" }, T0 + i);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.cost, 0);
      if (i === 14) assert.equal((await otp.verify(res.body.otpId, "424242", T0 + i)).body.status, "VERIFIED");
    }
    assert.equal((await api.outbox("+447400170001")).length, 0, "no SMS to a test number");
    const dx = await api.call("POST", "/v1/verifications", {
      body: { data: { sender: "Verify", phone: "447400170001" } },
      headers: { "x-dexatel-key": app.apiKey },
      now: T0 + 100,
    });
    assert.equal(dx.status, 201, JSON.stringify(dx.body));
    const check = await api.call("GET", "/v1/verifications?phone=447400170001&code=424242", {
      headers: { "x-dexatel-key": app.apiKey },
      now: T0 + 101,
    });
    assert.equal(check.body.data.length, 1);
  });

  test("bad guard settings and blocks are 400 with a code", async () => {
    const bad = await api.admin("POST", "/admin/apps", { name: "Bad", fraudGuard: { minConversionPercent: 500 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 2120);
    const typo = await api.admin("POST", "/admin/apps", { name: "Bad", fraudGuard: { minConversion: 5 } });
    assert.equal(typo.body.error.code, 1031);
    const app = await api.createApp({ name: "Blocks" });
    const block = await api.admin("POST", `/admin/apps/${app.appId}/fraud/blocks`, { scope: "range", key: "x", seconds: 60 });
    assert.equal(block.status, 400);
    assert.equal(block.body.error.code, 2123);
    const budget = await api.admin("POST", "/admin/apps", { name: "Budget", limits: { dailyBudget: 10 } });
    assert.equal(budget.body.error.code, 2130, "a budget needs prices");
  });
});
