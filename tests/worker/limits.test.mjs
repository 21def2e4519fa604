// Rate limits against SMS pumping and brute force, enforced exactly by one Durable
// Object per application holding its buckets: per phone (cooldown, per hour, per
// day), per application (per minute), per client IP (sends and checks),
// allowed/denied countries and a daily budget. A refusal is 429 with Retry-After and
// X-Rate-Limit-*, and changes nothing: a send takes from all its buckets or none.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NO_LIMITS, startApi, T0 } from "../support/api.mjs";

const HOUR_START = Math.ceil(T0 / 86_400) * 86_400; // a day (and hour) boundary

describe("rate limits and send policy", () => {
  let worker, api;
  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  function assert429(res, { limit, retryAfter, reset }) {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 1007);
    assert.equal(res.body.error.type, "rate_limited");
    assert.equal(res.headers.get("retry-after"), String(retryAfter));
    assert.equal(res.headers.get("x-rate-limit-limit"), String(limit));
    assert.equal(res.headers.get("x-rate-limit-remaining"), "0");
    assert.equal(res.headers.get("x-rate-limit-reset"), String(reset));
  }

  const appWith = (limits, otp = {}) => api.createApp({ name: "Limited", limits: { ...NO_LIMITS, ...limits }, otp });

  test("a phone's cooldown spaces SMS; per-hour and per-day caps hold", async () => {
    const app = await appWith({ phoneCooldownSeconds: 30, phonePerHour: 3, phonePerDay: 4 });
    const otp = api.otp(app.apiKey);
    const t = HOUR_START;
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t)).status, 201);
    assert429(await otp.send({ phoneNumber: "+33612424111" }, t + 10), { limit: 1, retryAfter: 20, reset: t + 30 });
    assert.equal((await otp.send({ phoneNumber: "+33699999999" }, t + 10)).status, 201, "another number is not held back");
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t + 30)).status, 201);
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t + 60)).status, 201);
    assert429(await otp.send({ phoneNumber: "+33612424111" }, t + 90), { limit: 3, retryAfter: 3600 - 90, reset: t + 3600 });
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t + 3600)).status, 201, "next hour");
    assert429(await otp.send({ phoneNumber: "+33612424111" }, t + 7200), { limit: 4, retryAfter: 86_400 - 7200, reset: t + 86_400 });
  });

  test("the application's per-minute cap holds exactly under a burst of 40 parallel sends", async () => {
    const app = await appWith({ appPerMinute: 10 });
    const otp = api.otp(app.apiKey);
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => otp.send({ phoneNumber: `+336124241${String(i).padStart(2, "0")}` }, HOUR_START + 5)),
    );
    const statuses = replies.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 10);
    assert.equal(statuses.filter((s) => s === 429).length, 30);
    const sent = await Promise.all(replies.filter((r) => r.status === 201).map((r) => otp.get(r.body.otpId, HOUR_START + 5)));
    assert.ok(sent.every((r) => r.status === 200));
  });

  test("a refused send uses up none of its buckets (all or nothing)", async () => {
    const app = await appWith({ appPerMinute: 1, phonePerHour: 1 });
    const otp = api.otp(app.apiKey);
    const t = HOUR_START + 120;
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t)).status, 201);
    // The phone bucket of +33612424120 allows this send, the app's minute does not.
    assert429(await otp.send({ phoneNumber: "+33612424120" }, t + 1), { limit: 1, retryAfter: 59, reset: t + 60 });
    // Next minute: that number's hourly unit was not spent by the refused send.
    assert.equal((await otp.send({ phoneNumber: "+33612424120" }, t + 60)).status, 201);
    assert429(await otp.send({ phoneNumber: "+33612424120" }, t + 120), { limit: 1, retryAfter: 3600 - 240, reset: HOUR_START + 3600 });
  });

  test("per end-user IP: a server states it in X-End-User-Ip; sends and checks are capped", async () => {
    const app = await appWith({ ipSendsPerHour: 2, ipChecksPerHour: 3 });
    const headers = { "x-api-key": app.apiKey, "x-end-user-ip": "203.0.113.7" };
    const send = (n, now) => api.call("POST", "/otp", { body: { phoneNumber: `+3361242411${n}` }, headers, now });
    const first = await send(1, HOUR_START);
    assert.equal(first.status, 201);
    assert.equal((await send(2, HOUR_START)).status, 201);
    assert.equal((await send(3, HOUR_START)).status, 429);
    const other = await api.call("POST", "/otp", { body: { phoneNumber: "+33612424114" }, headers: { ...headers, "x-end-user-ip": "203.0.113.8" }, now: HOUR_START });
    assert.equal(other.status, 201, "another end user has its own cap");
    const check = () => api.call("POST", `/otp/${first.body.otpId}`, { body: { pin: "000000" }, headers, now: HOUR_START });
    const checks = await Promise.all([check(), check(), check(), check(), check()]);
    assert.equal(checks.filter((r) => r.status === 429).length, 2, "exactly 3 checks pass the IP cap");
    // IPv6: one /64 is one end user.
    const v6 = (ip, n) =>
      api.call("POST", "/otp", { body: { phoneNumber: `+3361242412${n}` }, headers: { ...headers, "x-end-user-ip": ip }, now: HOUR_START });
    assert.equal((await v6("2001:db8:1:2::1", 1)).status, 201);
    assert.equal((await v6("2001:db8:1:2:ffff::9", 2)).status, 201);
    assert.equal((await v6("2001:db8:1:2::abcd", 3)).status, 429, "the same /64");
    assert.equal((await v6("2001:db8:1:3::1", 4)).status, 201, "another /64");
  });

  test("the caller's own address is no cap key for a server: one backend serves every user", async () => {
    const app = await appWith({ ipSendsPerHour: 1, ipChecksPerHour: 1 });
    const headers = { "x-api-key": app.apiKey, "cf-connecting-ip": "198.51.100.1" };
    const sends = await Promise.all(
      [1, 2, 3, 4].map((n) => api.call("POST", "/otp", { body: { phoneNumber: `+3361242413${n}` }, headers, now: HOUR_START })),
    );
    assert.deepEqual(sends.map((r) => r.status), [201, 201, 201, 201]);
    const checks = await Promise.all(
      sends.map((r) => api.call("POST", `/otp/${r.body.otpId}`, { body: { pin: "000000" }, headers, now: HOUR_START })),
    );
    assert.ok(checks.every((r) => r.status !== 429), "no per-IP cap without X-End-User-Ip");
  });

  test("a malformed X-End-User-Ip is 400 1030 in both dialects, and nothing is sent", async () => {
    const app = await appWith({});
    for (const bad of ["1.2.3", "not an ip", "1.2.3.4, 5.6.7.8"]) {
      const smscx = await api.call("POST", "/otp", {
        body: { phoneNumber: "+33612424140" },
        headers: { "x-api-key": app.apiKey, "x-end-user-ip": bad },
      });
      assert.equal(smscx.status, 400, bad);
      assert.equal(smscx.body.error.code, 1030);
      const dx = await api.call("POST", "/v1/verifications", {
        body: { data: { sender: "Verify", phone: "33612424140" } },
        headers: { "x-dexatel-key": app.apiKey, "x-end-user-ip": bad },
      });
      assert.equal(dx.status, 400, bad);
      assert.equal(dx.body.errors[0].code, 1030);
    }
    assert.equal((await api.outbox("+33612424140")).length, 0);
  });

  test("allowed and denied destination countries (403 2116)", async () => {
    const only = await appWith({ allowedCountries: ["FR", "BE"] });
    assert.equal((await api.otp(only.apiKey).send({ phoneNumber: "+32471123456" })).status, 201);
    const de = await api.otp(only.apiKey).send({ phoneNumber: "+4915112345678" });
    assert.equal(de.status, 403);
    assert.equal(de.body.error.code, 2116);
    const deny = await appWith({ deniedCountries: ["NG"] });
    assert.equal((await api.otp(deny.apiKey).send({ phoneNumber: "+2348031234567" })).body.error.code, 2116);
    assert.equal((await api.otp(deny.apiKey).send({ phoneNumber: "+33612424111" })).status, 201);
  });

  test("a daily budget stops sending once spent; failed sends cost nothing", async () => {
    const app = await appWith({ dailyBudget: 0.25 }, { prices: { default: 0.1 } });
    const otp = api.otp(app.apiKey);
    const t = HOUR_START + 100;
    assert.equal((await otp.send({ phoneNumber: "+33612424111" }, t)).status, 201);
    assert.equal((await otp.send({ phoneNumber: "+33612424112" }, t)).status, 201);
    const over = await otp.send({ phoneNumber: "+33612424113" }, t);
    assert429(over, { limit: 250_000, retryAfter: 86_400 - 100, reset: HOUR_START + 86_400 });
    assert.equal((await otp.send({ phoneNumber: "+33612424113" }, t + 86_400)).status, 201, "a new day, a new budget");
  });

  test("settings are checked: unknown countries and fields are refused", async () => {
    const bad = await api.admin("POST", "/admin/apps", { name: "Bad", limits: { allowedCountries: ["XX"] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 2117);
    const typo = await api.admin("POST", "/admin/apps", { name: "Bad", limits: { phonePerHours: 3 } });
    assert.equal(typo.body.error.code, 1018);
    const app = await api.admin("POST", "/admin/apps", { name: "Defaults" });
    assert.deepEqual(
      { cooldown: app.body.limits.phoneCooldownSeconds, hour: app.body.limits.phonePerHour, day: app.body.limits.phonePerDay },
      { cooldown: 30, hour: 5, day: 10 },
      "sane defaults",
    );
  });
});
