// Insights on the built worker in workerd (Miniflare, with the D1 database of
// wrangler.toml, migrated by the harness): a scripted mix of sends, resends,
// verifies, failures, cancels, refusals and expiries through both dialects, then
// exact counts from the admin API (stats, verifications, CSV, events) and from the
// database itself; the scheduled job's expiry and retention run by Miniflare's cron
// trigger at chosen times; privacy of what is stored; bad parameters.
//
// Two applications: "S" is driven through the SMS.CX dialect (one SMS per number a
// day, no SMS to DE, 3 attempts, 0.05 per part, 0.04 to GB); "X" through the Dexatel
// dialect (3 failed checks block a number, 30 s between codes, resend_same, 0.01 per
// part), one of its OTPs verified through the SMS.CX dialect.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEV_BINDINGS, dumpKv, startApi, T0 } from "../support/api.mjs";

const DAY = "2027-01-15"; // T0's UTC day
const ADMIN = { authorization: `Bearer ${DEV_BINDINGS.ADMIN_TOKEN}` };

/** Dexatel calls authenticated by `X-Dexatel-Key`. */
function dexatel(api, apiKey) {
  const headers = { "x-dexatel-key": apiKey };
  const query = (params) => new URLSearchParams(params).toString();
  return {
    send: (phone, now = T0) => api.call("POST", "/v1/verifications", { body: { data: { sender: "Verify", phone } }, headers, now }),
    check: (phone, code, now = T0) => api.call("GET", `/v1/verifications?${query({ phone, code })}`, { headers, now }),
  };
}

const wrongOf = (pin) => (pin.startsWith("0") ? "1" : "0").repeat(pin.length);

describe("insights: exact counts after a scripted mix through both dialects", () => {
  let worker, api, s, x;
  /** The OTPs of the script, by letter. */
  const ids = {};
  const numbers = {
    A: "+33612000001",
    B: "+33612000002",
    C: "+447400123001",
    D: "+447400123002",
    E: "+4915123456789",
    G: "+33612000003",
    P: "+33612000011",
    Q: "+33612000012",
    R: "+33612000013",
    S1: "+447400123011",
    T: "+447400123012",
  };
  const statuses = {};
  /** Every PIN sent. */
  const pins = [];

  before(async () => {
    worker = await startApi();
    api = worker.api;
    s = await api.createApp({
      name: "S",
      otp: { maxAttempts: 3, prices: { default: 0.05, countries: { GB: 0.04 } } },
      limits: { phonePerDay: 1, deniedCountries: ["DE"] },
    });
    x = await api.createApp({
      name: "X",
      otp: { prices: { default: 0.01 } },
      dexatel: { maxFailedChecks: 3, blockSeconds: 900, resendCooldownSeconds: 30, resendPolicy: "resend_same" },
    });
    const otp = api.otp(s.apiKey);
    const expect = (res, status, what) => {
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const sendS = async (letter, now = T0, extra = {}) => {
      const body = expect(await otp.send({ phoneNumber: numbers[letter], ...extra }, now), 201, letter);
      ids[letter] = body.otpId;
      const { pin } = await api.pinOf(numbers[letter], body.otpId);
      pins.push(pin);
      return pin;
    };

    // SMS.CX dialect, app S.
    const a = await sendS("A");
    expect(await otp.verify(ids.A, a), 200, "A verified");
    const b = await sendS("B");
    expect(await otp.verify(ids.B, wrongOf(b)), 400, "B wrong 1");
    expect(await otp.verify(ids.B, wrongOf(b)), 400, "B wrong 2");
    assert.equal(expect(await otp.verify(ids.B, wrongOf(b)), 400, "B wrong 3").error.code, 2027);
    await sendS("C");
    expect(await otp.cancel(ids.C), 200, "C cancelled");
    await sendS("D"); // expires at T0 + 600
    assert.equal(expect(await otp.send({ phoneNumber: numbers.E }), 403, "E").error.code, 2116);
    assert.equal(expect(await otp.send({ phoneNumber: numbers.A }), 429, "A again").error.code, 1007);
    await sendS("G", T0 + 650, { trackId: "0b6e6b43-6f0f-4a5e-9a3c-2f1e5d7c9b11" }); // pending at the sweep

    // Dexatel dialect, app X.
    const dx = dexatel(api, x.apiKey);
    const digits = (letter) => numbers[letter].slice(1);
    const sendX = async (letter, now = T0) => {
      const body = expect(await dx.send(digits(letter), now), 201, letter);
      ids[letter] = body.data.id;
      const { pin } = await api.pinOf(numbers[letter], body.data.id);
      pins.push(pin);
      return pin;
    };
    const p = await sendX("P");
    assert.equal(expect(await dx.check(digits("P"), p), 200, "P checked").data.length, 1);
    await sendX("Q");
    const q2 = await sendX("Q", T0 + 40); // resend_same: the same verification, a new code
    assert.equal(expect(await dx.check(digits("Q"), q2, T0 + 41), 200, "Q checked").data.length, 1);
    const r = await sendX("R");
    assert.equal(expect(await dx.send(digits("R"), T0 + 10), 429, "R cooldown").errors[0].code, 1690);
    for (const [i, now] of [T0 + 20, T0 + 21, T0 + 22].entries()) {
      const res = await dx.check(digits("R"), wrongOf(r), now);
      assert.ok(res.status === 200 || (i === 2 && res.status === 429), `R wrong ${i}: ${JSON.stringify(res.body)}`);
    }
    assert.equal(expect(await dx.check(digits("R"), r, T0 + 23), 429, "R blocked check").errors[0].code, 1530);
    assert.equal(expect(await dx.send(digits("R"), T0 + 24), 429, "R blocked send").errors[0].code, 1530);
    await sendX("S1"); // expires at T0 + 600
    const t = await sendX("T");
    // Through the other dialect: the OTP stays a Dexatel one.
    expect(await api.otp(x.apiKey).verify(ids.T, t), 200, "T verified through SMS.CX");

    // Everything in D1, then the scheduled job as at T0 + 700 (Miniflare's cron trigger).
    await api.sweep({ appId: s.appId });
    await api.sweep({ appId: x.appId });
    await scheduled(T0 + 700);
    for (const row of await rows("SELECT otp_id, status FROM otps")) statuses[row.otp_id] = row.status;
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Runs the worker's scheduled handler as at `now` (Unix seconds). */
  async function scheduled(now) {
    const w = await worker.mf.getWorker();
    const result = await w.scheduled({ cron: "* * * * *", scheduledTime: new Date(now * 1000) });
    assert.equal(result.outcome, "ok", JSON.stringify(result));
  }

  async function rows(sql, ...params) {
    const db = await worker.d1();
    return (await db.prepare(sql).bind(...params).all()).results;
  }

  const admin = (path) => api.admin("GET", path);
  const zero = { sent: 0, verified: 0, failed: 0, expired: 0, cancelled: 0, refused: 0, parts: 0, cost: 0, conversionRate: null };

  test("every OTP has its outcome in the database", () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(ids).map(([letter, id]) => [letter, statuses[id]])),
      { A: "VERIFIED", B: "FAILED", C: "CANCELLED", D: "EXPIRED", G: "PENDING", P: "VERIFIED", Q: "VERIFIED", R: "CANCELLED", S1: "EXPIRED", T: "VERIFIED" },
    );
    const refused = Object.entries(statuses).filter(([, st]) => st === "REFUSED");
    assert.equal(refused.length, 4, "E, A again, R during its cooldown, R blocked");
  });

  test("stats of the SMS.CX app by day: exact counts, cost and conversion", async () => {
    const res = await admin(`/admin/apps/${s.appId}/stats?from=2027-01-14&to=2027-01-16&groupBy=day`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const day = { sent: 5, verified: 1, failed: 1, expired: 1, cancelled: 1, refused: 2, parts: 5, cost: 0.23, conversionRate: 0.2 };
    assert.deepEqual(res.body, {
      data: [
        { key: "2027-01-14", ...zero },
        { key: DAY, ...day },
        { key: "2027-01-16", ...zero },
      ],
      totals: day,
    });
  });

  test("stats of the SMS.CX app by country, range and gateway", async () => {
    const byCountry = await admin(`/admin/apps/${s.appId}/stats?from=${DAY}&to=${DAY}&groupBy=country`);
    assert.deepEqual(byCountry.body.data, [
      { key: "FR", sent: 3, verified: 1, failed: 1, expired: 0, cancelled: 0, refused: 1, parts: 3, cost: 0.15, conversionRate: 0.3333 },
      { key: "GB", sent: 2, verified: 0, failed: 0, expired: 1, cancelled: 1, refused: 0, parts: 2, cost: 0.08, conversionRate: 0 },
      { key: "DE", ...zero, refused: 1 },
    ]);
    const byRange = await admin(`/admin/apps/${s.appId}/stats?from=${DAY}&to=${DAY}&groupBy=range`);
    assert.deepEqual(
      byRange.body.data.map((g) => [g.key, g.sent, g.refused]),
      [
        ["+3361200", 3, 1],
        ["+44740012", 2, 0],
        ["+491512345", 0, 1],
      ],
    );
    const byGateway = await admin(`/admin/apps/${s.appId}/stats?from=${DAY}&to=${DAY}&groupBy=gateway`);
    assert.deepEqual(byGateway.body.data.map((g) => [g.key, g.sent, g.refused]), [["outbox", 5, 2]]);
  });

  test("stats of the Dexatel app: resends counted as SMS of one OTP, refusals by the guard", async () => {
    const res = await admin(`/admin/apps/${x.appId}/stats?from=${DAY}&to=${DAY}&groupBy=country`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      data: [
        { key: "FR", sent: 3, verified: 2, failed: 0, expired: 0, cancelled: 1, refused: 2, parts: 4, cost: 0.04, conversionRate: 0.6667 },
        { key: "GB", sent: 2, verified: 1, failed: 0, expired: 1, cancelled: 0, refused: 0, parts: 2, cost: 0.02, conversionRate: 0.5 },
      ],
      totals: { sent: 5, verified: 3, failed: 0, expired: 1, cancelled: 1, refused: 2, parts: 6, cost: 0.06, conversionRate: 0.6 },
    });
  });

  test("stats across applications, grouped by app", async () => {
    const res = await admin(`/admin/stats?from=${DAY}&to=${DAY}&groupBy=app`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byApp = Object.fromEntries(res.body.data.map(({ key, ...g }) => [key, g]));
    assert.deepEqual(Object.keys(byApp).sort(), [s.appId, x.appId].sort());
    assert.deepEqual([byApp[s.appId].sent, byApp[x.appId].sent], [5, 5]);
    assert.deepEqual(res.body.totals, {
      sent: 10, verified: 4, failed: 1, expired: 2, cancelled: 2, refused: 4, parts: 11, cost: 0.29, conversionRate: 0.4,
    });
    const byDay = await admin(`/admin/stats?from=${DAY}&to=${DAY}`);
    assert.deepEqual(byDay.body.data, [{ key: DAY, ...res.body.totals }]);
  });

  test("verifications: dialect, SMS with resends, search by number and trackId, pages", async () => {
    const all = await admin(`/admin/apps/${x.appId}/verifications?from=${DAY}&to=${DAY}`);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.data.length, 7, "5 sent and 2 refused");
    assert.equal(all.body.nextPageToken, null);
    const byId = Object.fromEntries(all.body.data.map((v) => [v.otpId, v]));
    assert.deepEqual(
      [byId[ids.Q].sms, byId[ids.Q].parts, byId[ids.Q].cost, byId[ids.Q].dialect, byId[ids.Q].status],
      [2, 2, 0.02, "dexatel", "VERIFIED"],
    );
    assert.equal(byId[ids.T].dialect, "dexatel", "verified through SMS.CX, created through Dexatel");
    assert.deepEqual([byId[ids.R].attempts, byId[ids.R].status], [3, "CANCELLED"]);
    assert.equal(byId[ids.R].phoneNumber, "+3361200****");

    const number = await admin(`/admin/apps/${s.appId}/verifications?from=${DAY}&to=${DAY}&phoneNumber=${encodeURIComponent(numbers.A)}`);
    assert.deepEqual(number.body.data.map((v) => v.status).sort(), ["REFUSED", "VERIFIED"]);
    const unescaped = await admin(`/admin/apps/${s.appId}/verifications?from=${DAY}&to=${DAY}&phoneNumber=${numbers.A}`);
    assert.equal(unescaped.body.data.length, 2, "a + left unescaped is read as one");
    const track = await admin(`/admin/apps/${s.appId}/verifications?from=${DAY}&to=${DAY}&trackId=0b6e6b43-6f0f-4a5e-9a3c-2f1e5d7c9b11`);
    assert.deepEqual(track.body.data.map((v) => v.otpId), [ids.G]);
    const failed = await admin(`/admin/apps/${s.appId}/verifications?from=${DAY}&to=${DAY}&status=FAILED`);
    assert.deepEqual(failed.body.data.map((v) => [v.otpId, v.attempts]), [[ids.B, 3]]);

    const seen = [];
    let token = "";
    do {
      const page = await admin(`/admin/apps/${s.appId}/verifications?from=${DAY}&to=${DAY}&pageSize=2&pageToken=${token}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.data.length <= 2);
      seen.push(...page.body.data.map((v) => v.otpId));
      token = page.body.nextPageToken ?? "";
    } while (token);
    assert.equal(seen.length, 7, "5 sent and 2 refused, each once");
    assert.equal(new Set(seen).size, 7);
  });

  test("verifications.csv streams the same rows as CSV", async () => {
    const res = await worker.fetch(`/admin/apps/${s.appId}/verifications.csv?from=${DAY}&to=${DAY}`, { headers: ADMIN });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    const lines = (await res.text()).trimEnd().split("\r\n");
    assert.equal(lines[0], "otpId,trackId,dialect,countryIso,phoneNumber,range,status,statusAt,attempts,maxAttempts,sms,parts,cost,gateway,test,dateCreated,dateExpires");
    assert.equal(lines.length, 1 + 7);
    const b = lines.find((l) => l.startsWith(ids.B));
    assert.equal(b, `${ids.B},,smscx,FR,+3361200****,+3361200,FAILED,2027-01-15 08:00:00,3,3,1,1,0.05,outbox,false,2027-01-15 08:00:00,2027-01-15 08:10:00`);
  });

  test("events: sends, checks and refusals with their reason, range and until", async () => {
    const kinds = async (app) => {
      const res = await admin(`/admin/apps/${app.appId}/events?from=${DAY}&to=${DAY}&pageSize=500`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const count = {};
      for (const e of res.body.data) count[e.kind] = (count[e.kind] ?? 0) + 1;
      return count;
    };
    assert.deepEqual(await kinds(s), { send: 5, check: 4, refused: 2 });
    assert.deepEqual(await kinds(x), { send: 6, check: 6, refused: 3 });

    const refused = await admin(`/admin/apps/${x.appId}/events?from=${DAY}&to=${DAY}&kind=refused`);
    assert.deepEqual(
      refused.body.data.map((e) => [e.op, e.reason, e.code, e.range, e.until]),
      [
        ["send", "number_blocked", 1530, "+3361200", "2027-01-15 08:15:22"],
        ["check", "number_blocked", 1530, "+3361200", "2027-01-15 08:15:22"],
        ["send", "number_cooldown", 1690, "+3361200", "2027-01-15 08:00:30"],
      ],
    );
    const s_refused = await admin(`/admin/apps/${s.appId}/events?from=${DAY}&to=${DAY}&kind=refused`);
    assert.deepEqual(
      s_refused.body.data.map((e) => [e.reason, e.code, e.countryIso, e.range]).sort(),
      [
        ["country_not_allowed", 2116, "DE", "+491512345"],
        ["rate_limited", 1007, "FR", "+3361200"],
      ],
    );
    const checks = await admin(`/admin/apps/${s.appId}/events?from=${DAY}&to=${DAY}&kind=check`);
    assert.deepEqual(checks.body.data.map((e) => e.result).sort(), ["invalid_pin", "invalid_pin", "otp_failed_last_attempt", "verified"]);
  });

  test("test numbers are left out of the counts unless includeTest=true", async () => {
    const t = await api.createApp({ name: "Tests", policy: { testNumbers: [{ number: "+33698765432", code: "424242" }] } });
    const otp = api.otp(t.apiKey);
    const sent = await otp.send({ phoneNumber: "+33698765432" });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal((await otp.verify(sent.body.otpId, "424242")).status, 200);
    await api.sweep({ appId: t.appId });
    const without = await admin(`/admin/apps/${t.appId}/stats?from=${DAY}&to=${DAY}`);
    const withTest = await admin(`/admin/apps/${t.appId}/stats?from=${DAY}&to=${DAY}&includeTest=true`);
    assert.deepEqual(without.body.totals, zero);
    assert.deepEqual(
      [withTest.body.totals.sent, withTest.body.totals.verified, withTest.body.totals.cost, withTest.body.totals.conversionRate],
      [1, 1, 0, 1],
    );
    const across = await admin(`/admin/stats?from=${DAY}&to=${DAY}&groupBy=app`);
    assert.ok(!across.body.data.some((g) => g.key === t.appId), "left out across applications too");
    const list = await admin(`/admin/apps/${t.appId}/verifications?from=${DAY}&to=${DAY}`);
    assert.deepEqual(list.body.data.map((v) => [v.status, v.test]), [["VERIFIED", true]]);
  });

  test("no store keeps more of a number than its range: the last 4 digits stay unknown", async () => {
    const d1 = JSON.stringify([...(await rows("SELECT * FROM otps")), ...(await rows("SELECT * FROM events"))]);
    const kv = JSON.stringify(await dumpKv(worker));
    for (const phone of Object.values(numbers)) {
      const digits = phone.slice(1);
      const range = phone.slice(0, -4);
      for (const [name, text] of [["D1", d1], ["KV", kv]]) {
        // The range and one or more of the hidden digits, the whole number included.
        for (let hidden = 1; hidden <= 4; hidden++) {
          const more = digits.slice(0, digits.length - 4 + hidden);
          assert.ok(!text.includes(more), `${name} holds ${more} of ${phone}`);
        }
      }
      assert.ok(d1.includes(range), `D1 holds the range of ${phone}`);
    }
    for (const table of ["otps", "events"]) {
      const columns = (await rows(`PRAGMA table_info(${table})`)).map((c) => c.name);
      assert.ok(!columns.some((c) => /pin|digest|text|e164|phone/.test(c)), `${table}: ${columns}`);
    }
    assert.equal(pins.length, 11);
    for (const pin of pins) assert.ok(!d1.includes(`"${pin}"`) && !d1.includes(`:${pin},`), `D1 holds the PIN ${pin}`);
  });

  test("the scheduled job deletes rows older than the retention (90 days)", async () => {
    const count = async () => (await rows("SELECT (SELECT count(*) FROM otps) AS otps, (SELECT count(*) FROM events) AS events"))[0];
    const before = await count();
    assert.ok(before.otps > 0 && before.events > 0);
    await scheduled(T0 + 89 * 86_400);
    assert.deepEqual(await count(), before, "89 days on: nothing deleted");
    await scheduled(T0 + 91 * 86_400);
    assert.deepEqual(await count(), { otps: 0, events: 0 });
  });
});

describe("insights: bad parameters, unknown apps, development only", () => {
  let worker, api, app;
  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Params" });
  });
  after(async () => {
    await worker?.dispose();
  });

  const code = async (path, status, expected, method = "GET") => {
    const res = await api.admin(method, path);
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, expected, path);
  };

  test("dates, groupBy, page tokens, filters and page sizes get a 400 with their code", async () => {
    const base = `/admin/apps/${app.appId}`;
    for (const q of ["from=2027-13-01", "to=2027-02-30", "from=2027-01-16&to=2027-01-15", "from=2026-01-01&to=2027-01-15", "from=yesterday"]) {
      await code(`${base}/stats?${q}`, 400, 1019);
    }
    await code(`${base}/stats?groupBy=week`, 400, 1020);
    await code(`${base}/stats?groupBy=app`, 400, 1020);
    await code(`/admin/stats?groupBy=hour`, 400, 1020);
    await code(`${base}/verifications?pageToken=nope`, 400, 1021);
    await code(`${base}/events?pageToken=bm9wZQ`, 400, 1021);
    await code(`${base}/verifications?status=DONE`, 400, 1022);
    await code(`${base}/events?kind=sms`, 400, 1023);
    await code(`${base}/verifications?pageSize=0`, 400, 1025);
    await code(`${base}/events?pageSize=501`, 400, 1025);
    await code(`${base}/stats?includeTest=yes`, 400, 1026);
    await code(`${base}/verifications?phoneNumber=%2B12`, 400, 2020);
    await code(`/admin/dev/sweep?now=soon`, 400, 1014, "POST");
  });

  test("an unknown application is 404 (1010); without the admin token, 401", async () => {
    for (const what of ["stats", "verifications", "verifications.csv", "events"]) {
      await code(`/admin/apps/00000000-0000-4000-8000-000000000000/${what}`, 404, 1010);
    }
    const res = await api.call("GET", `/admin/apps/${app.appId}/stats`);
    assert.equal(res.status, 401);
  });

  test("defaults: the 30 days to today, by day", async () => {
    const res = await api.call("GET", `/admin/apps/${app.appId}/stats`, { headers: ADMIN, now: T0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.length, 30);
    assert.equal(res.body.data.at(-1).key, DAY);
    assert.equal(res.body.totals.conversionRate, null);
  });
});

describe("insights outside development", () => {
  test("the dev sweep is 404 (1013); without a database the reads are 503 (1024)", async () => {
    const worker = await startApi({ bindings: { ENVIRONMENT: "production" }, insights: false });
    try {
      const sweep = await worker.api.admin("POST", "/admin/dev/sweep");
      assert.equal(sweep.status, 404);
      assert.equal(sweep.body.error.code, 1013);
      const stats = await worker.api.admin("GET", "/admin/stats");
      assert.equal(stats.status, 503);
      assert.equal(stats.body.error.code, 1024);
    } finally {
      await worker.dispose();
    }
  });
});

describe("insights of a deleted application", () => {
  test("deleting an application sends what its shards still hold to D1 first", async () => {
    const worker = await startApi();
    try {
      const { api } = worker;
      const app = await api.createApp({ name: "Deleted" });
      const sent = await api.otp(app.apiKey).send({ phoneNumber: "+33612000021" });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      // At once: the shard's outbox waits up to 5 s before it flushes on its own.
      const deleted = await api.admin("DELETE", `/admin/apps/${app.appId}`);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      const db = await worker.d1();
      const { results } = await db.prepare("SELECT otp_id, status FROM otps WHERE app_id = ?").bind(app.appId).all();
      assert.deepEqual(results, [{ otp_id: sent.body.otpId, status: "PENDING" }]);
    } finally {
      await worker.dispose();
    }
  });
});
