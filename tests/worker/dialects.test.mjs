// One verification service under both dialects: the drifts measured before the
// service existed, pinned down. Rate-limit replies carry the same headers in both
// dialects; wrong guesses on a Dexatel verification reach its number's guard
// through either path, and leave the same record state; the SMS.CX dialect
// answers with the codes SMS.CX documents (the precise cause as `reason`).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NO_LIMITS, startApi, T0 } from "../support/api.mjs";

const HOUR = Math.ceil(T0 / 86_400) * 86_400 + 3_600;

describe("one service under both dialects", () => {
  let worker, api;
  // Valid French mobiles, one per test (guards and buckets do not mix).
  let next = 612_500_100;
  const phone = () => `33${next++}`;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  const dexatel = (apiKey) => {
    const headers = { "x-dexatel-key": apiKey };
    return {
      send: (number, now) =>
        api.call("POST", "/v1/verifications", { body: { data: { sender: "Verify", phone: number } }, headers, now }),
      check: (number, code, now) =>
        api.call("GET", `/v1/verifications?phone=${number}&code=${code}`, { headers, now }),
    };
  };

  function assertRateLimited(res, code) {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(code(res.body), 1007);
    for (const header of ["retry-after", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"]) {
      assert.ok(res.headers.get(header), `${header} in ${JSON.stringify([...res.headers])}`);
    }
    assert.equal(res.headers.get("x-rate-limit-remaining"), "0");
  }

  test("a rate-limit 429 carries Retry-After and X-Rate-Limit-* in both dialects", async () => {
    const app = await api.createApp({ name: "Capped", limits: { ...NO_LIMITS, appPerMinute: 1 } });
    const dx = dexatel(app.apiKey);
    assert.equal((await dx.send(phone(), HOUR)).status, 201);
    const viaDexatel = await dx.send(phone(), HOUR + 1);
    assertRateLimited(viaDexatel, (b) => b.errors?.[0]?.code);
    assert.equal(viaDexatel.headers.get("retry-after"), "59");
    const viaSmscx = await api.otp(app.apiKey).send({ phoneNumber: `+${phone()}` }, HOUR + 1);
    assertRateLimited(viaSmscx, (b) => b.error?.code);
    for (const header of ["retry-after", "x-rate-limit-limit", "x-rate-limit-reset"]) {
      assert.equal(viaDexatel.headers.get(header), viaSmscx.headers.get(header), header);
    }
  });

  test("wrong PINs through POST /otp/{id} count toward the Dexatel number's guard", async () => {
    const app = await api.createApp({
      name: "Guarded",
      otp: { maxAttempts: 5 },
      dexatel: { maxFailedChecks: 3, blockSeconds: 900 },
    });
    const dx = dexatel(app.apiKey);
    const number = phone();
    const sent = await dx.send(number, T0);
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const id = sent.body.data.id;
    const { pin } = await api.pinOf(`+${number}`, id);
    const wrong = pin === "000000" ? "111111" : "000000";
    const otp = api.otp(app.apiKey);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await otp.verify(id, wrong, T0 + 1 + i)).body.error.code);
    // The third wrong guess blocks the number, which cancels its code: SMS.CX then says so.
    assert.deepEqual(codes, [2029, 2029, 2029, 2024, 2024]);
    const blocked = await dx.check(number, pin, T0 + 10);
    assert.equal(blocked.status, 429, JSON.stringify(blocked.body));
    assert.equal(blocked.body.errors[0].code, 1530);
    assert.equal(blocked.headers.get("retry-after"), String(900 - 7));
    const refused = await dx.send(number, T0 + 11);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.errors[0].code, 1530, "no new Dexatel code while blocked");
    const after = await otp.get(id, T0 + 12);
    assert.equal(after.body.status, "CANCELLED");
    assert.equal(after.body.attempts, 3);
  });

  test("the same guesses leave the same record state through either path", async () => {
    const app = await api.createApp({ name: "Same", otp: { maxAttempts: 5 }, dexatel: { maxFailedChecks: 3 } });
    const dx = dexatel(app.apiKey);
    const otp = api.otp(app.apiKey);
    const states = [];
    for (const path of ["smscx", "dexatel"]) {
      const number = phone();
      const sent = await dx.send(number, T0);
      const id = sent.body.data.id;
      const { pin } = await api.pinOf(`+${number}`, id);
      const wrong = pin === "000000" ? "111111" : "000000";
      for (let i = 0; i < 5; i++) {
        if (path === "smscx") await otp.verify(id, wrong, T0 + 1 + i);
        else await dx.check(number, wrong, T0 + 1 + i);
      }
      const { status, attempts, maxAttempts } = (await otp.get(id, T0 + 20)).body;
      states.push({ status, attempts, maxAttempts, blocked: (await dx.check(number, pin, T0 + 21)).status });
    }
    assert.deepEqual(states[0], states[1]);
    assert.deepEqual(states[0], { status: "CANCELLED", attempts: 3, maxAttempts: 5, blocked: 429 });
  });

  test("an SMS.CX check of a verification follows its own maxAttempts", async () => {
    const app = await api.createApp({ name: "Short", otp: { maxAttempts: 2 }, dexatel: { maxFailedChecks: 3 } });
    const dx = dexatel(app.apiKey);
    const number = phone();
    const id = (await dx.send(number, T0)).body.data.id;
    const { pin } = await api.pinOf(`+${number}`, id);
    const wrong = pin === "000000" ? "111111" : "000000";
    const otp = api.otp(app.apiKey);
    assert.equal((await otp.verify(id, wrong, T0 + 1)).body.error.code, 2029);
    assert.equal((await otp.verify(id, wrong, T0 + 2)).body.error.code, 2027);
    assert.equal((await otp.verify(id, pin, T0 + 3)).body.error.code, 2026);
    // Two failures: the number is not blocked, a new code can be sent and checked.
    const again = await dx.send(number, T0 + 60);
    assert.equal(again.status, 201, JSON.stringify(again.body));
  });

  test("create errors carry SMS.CX's documented code with the precise reason", async () => {
    const app = await api.createApp({ name: "Codes" });
    const otp = api.otp(app.apiKey);
    for (const [body, code, reason] of [
      [{ phoneNumber: "+12" }, 2020, "phone_number_too_short"],
      [{ phoneNumber: `+${phone()}`, from: "V" }, 2005, "from_too_short"],
      [{ phoneNumber: `+${phone()}`, otpCallbackUrl: "http://example.com/x" }, 2019, "callback_url_not_https"],
    ]) {
      const res = await otp.send(body);
      assert.equal(res.status, 400);
      assert.deepEqual([res.body.error.code, res.body.error.reason], [code, reason], JSON.stringify(res.body));
    }
  });
});
