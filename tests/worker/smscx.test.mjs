// The SMS.CX-compatible OTP API on the built worker in workerd (Miniflare), with the
// dev outbox as the SMS gateway and the X-Dev-Now clock for expiry.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dumpKv, extractPin, startApi, T0, waitFor } from "../support/api.mjs";

const PHONE = "+33612424111";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("SMS.CX OTP API", () => {
  let worker, api, app, otp;
  const pinsSeen = new Set();

  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Acme" });
    otp = api.otp(app.apiKey);
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Sends an OTP and returns its object and PIN (read from the outbox). */
  async function sendOne(body = {}, client = otp, now = T0) {
    const res = await client.send({ phoneNumber: PHONE, ...body }, now);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin, message } = await api.pinOf(res.body.phoneNumber, res.body.otpId);
    pinsSeen.add(pin);
    return { otp: res.body, pin, message };
  }

  /** SMS.CX's error object, plus `reason` (the precise cause) for the core's refusals. */
  function assertError(res, status, code, reason) {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code, JSON.stringify(res.body));
    const keys = Object.keys(res.body.error).sort();
    assert.deepEqual(keys.filter((k) => k !== "reason"), ["code", "message", "type", "uri"]);
    if (keys.includes("reason")) assert.match(res.body.error.reason, /^[a-z0-9_]+$/);
    if (reason) assert.equal(res.body.error.reason, reason, JSON.stringify(res.body));
  }

  test("POST /otp answers 201 with the SMS.CX OTP object", async () => {
    const res = await otp.send({ phoneNumber: PHONE, ttl: 120, maxAttempts: 4, trackId: "123e4567-e89b-42d3-a456-426614174000" });
    assert.equal(res.status, 201);
    const o = res.body;
    assert.match(o.otpId, UUID);
    assert.deepEqual(
      { ...o, otpId: undefined },
      {
        otpId: undefined,
        trackId: "123e4567-e89b-42d3-a456-426614174000",
        phoneNumber: PHONE,
        countryIso: "FR",
        status: "PENDING",
        cost: 0,
        parts: 1,
        maxAttempts: 4,
        attempts: 0,
        ttl: 120,
        otpCallbackUrl: null,
        dateCreated: "2027-01-15 08:00:00",
        dateExpires: "2027-01-15 08:02:00",
      },
    );
    assert.ok(res.headers.get("x-request-id"));
    assert.match(res.headers.get("x-response-time"), /^\d+ms$/);
  });

  test("full flow to VERIFIED, then 2023 for any further check", async () => {
    const { otp: o, pin, message } = await sendOne();
    assert.equal(message.from, "Verify");
    assert.equal(message.text, `Your Acme code is [${pin}]`);
    assert.match(pin, /^\d{6}$/);
    const ok = await otp.verify(o.otpId, pin, T0 + 5);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { status: "VERIFIED" });
    const got = await otp.get(o.otpId, T0 + 6);
    assert.equal(got.body.status, "VERIFIED");
    assert.equal(got.body.attempts, 0);
    assert.equal(got.body.phoneNumber, "+3361242****", "GET shows the number masked: KV never holds it whole");
    assertError(await otp.verify(o.otpId, pin, T0 + 7), 400, 2023);
    assertError(await otp.cancel(o.otpId, T0 + 8), 403, 2031);
  });

  test("wrong PINs count up to maxAttempts: 2029, 2029, 2027, then 2026", async () => {
    const { otp: o, pin } = await sendOne({ maxAttempts: 3 });
    const wrong = pin === "000000" ? "111111" : "000000";
    const r1 = await otp.verify(o.otpId, wrong);
    assertError(r1, 400, 2029);
    assert.equal(r1.body.error.type, "invalid_pin");
    assertError(await otp.verify(o.otpId, wrong), 400, 2029);
    const r3 = await otp.verify(o.otpId, wrong);
    assertError(r3, 400, 2027);
    assert.equal(r3.body.error.type, "otp_failed");
    assertError(await otp.verify(o.otpId, pin), 400, 2026);
    const got = await otp.get(o.otpId);
    assert.equal(got.body.status, "FAILED");
    assert.equal(got.body.attempts, 3);
  });

  test("EXPIRED once the TTL has passed: derived from the clock, no rewrite", async () => {
    const { otp: o, pin } = await sendOne({ ttl: 60 });
    assert.equal((await otp.get(o.otpId, T0 + 59)).body.status, "PENDING");
    assert.equal((await otp.get(o.otpId, T0 + 60)).body.status, "EXPIRED");
    assertError(await otp.verify(o.otpId, pin, T0 + 61), 400, 2025);
    assertError(await otp.cancel(o.otpId, T0 + 62), 403, 2031);
    assert.equal((await otp.get(o.otpId, T0 + 3600)).body.status, "EXPIRED", "still readable in the retention window");
  });

  test("CANCELLED by DELETE; 2030 when cancelled again; 2024 on verify", async () => {
    const { otp: o, pin } = await sendOne();
    const res = await otp.cancel(o.otpId);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { info: { id: o.otpId } });
    assert.equal((await otp.get(o.otpId)).body.status, "CANCELLED");
    assertError(await otp.cancel(o.otpId), 403, 2030);
    assertError(await otp.verify(o.otpId, pin), 400, 2024);
  });

  test("unknown, malformed and traversal ids are 2021 not found", async () => {
    for (const id of ["123e4567-e89b-42d3-a456-426614174000", "nope", "..%2F..%2Fapp", "%00"]) {
      assertError(await otp.get(id), 404, 2021);
      assertError(await otp.verify(id, "123456"), 404, 2021);
      assertError(await otp.cancel(id), 404, 2021);
    }
  });

  test("a missing or empty pin is 2022 and changes nothing", async () => {
    const { otp: o } = await sendOne({ maxAttempts: 1 });
    for (const body of [{}, { pin: "" }, { pin: null }, { pin: "   " }]) {
      const res = await api.call("POST", `/otp/${o.otpId}`, { body, headers: { "x-api-key": app.apiKey }, now: T0 });
      assertError(res, 400, 2022);
    }
    assert.equal((await otp.get(o.otpId)).body.attempts, 0);
    assert.equal((await otp.get(o.otpId)).body.status, "PENDING");
  });

  test("every create violation has its SMS.CX code (or ours) and sends nothing", async () => {
    const cases = [
      [{}, 2001],
      [{ phoneNumber: "0612424111" }, 2002],
      [{ phoneNumber: "0612424111", countryIso: "ZZ" }, 2003],
      [{ phoneNumber: PHONE, from: "" }, 2004],
      [{ phoneNumber: PHONE, from: "Ac<me" }, 2005],
      [{ phoneNumber: PHONE, template: "no placeholder" }, 2006],
      [{ phoneNumber: PHONE, ttl: "soon" }, 2007],
      [{ phoneNumber: PHONE, ttl: 59 }, 2008],
      [{ phoneNumber: PHONE, ttl: 1801 }, 2009],
      [{ phoneNumber: PHONE, maxAttempts: "many" }, 2010],
      [{ phoneNumber: PHONE, maxAttempts: 0 }, 2011],
      [{ phoneNumber: PHONE, maxAttempts: 11 }, 2012],
      [{ phoneNumber: PHONE, pinType: "" }, 2013],
      [{ phoneNumber: PHONE, pinType: "hex" }, 2014],
      [{ phoneNumber: PHONE, pinLength: "long" }, 2015],
      [{ phoneNumber: PHONE, pinLength: 3 }, 2016],
      [{ phoneNumber: PHONE, pinLength: 11 }, 2017],
      [{ phoneNumber: PHONE, trackId: "not-a-uuid" }, 2018],
      [{ phoneNumber: PHONE, otpCallbackUrl: "not a url" }, 2019],
      [{ phoneNumber: "+33 6 12 AB 41 11" }, 2020],
      // SMS.CX's code for the violation it documents, with our precise reason.
      [{ phoneNumber: "+331234" }, 2020, "phone_number_too_short"],
      [{ phoneNumber: "+3361242411112345" }, 2020, "phone_number_too_long"],
      [{ phoneNumber: "+999612424111" }, 2020, "phone_country_code_unknown"],
      [{ phoneNumber: PHONE, from: "AB" }, 2005, "from_too_short"],
      [{ phoneNumber: PHONE, from: "1234567890123456" }, 2005, "from_too_long"],
      [{ phoneNumber: PHONE, from: "Acme Company" }, 2005, "from_alphanumeric_too_long"],
      [{ phoneNumber: PHONE, template: "{{pin}}" + "x".repeat(1000) }, 2107],
      [{ phoneNumber: PHONE, language: "french" }, 2108],
      [{ phoneNumber: PHONE, otpCallbackUrl: "http://example.com/cb" }, 2019, "callback_url_not_https"],
      // A field of the wrong JSON type gets its own SMS.CX code too.
      [{ phoneNumber: 33612424111 }, 2020, "phone_number_invalid"],
      [{ phoneNumber: PHONE, from: 42 }, 2005, "from_invalid"],
      [{ phoneNumber: PHONE, ttl: [60] }, 2007, "ttl_not_number"],
      [{ phoneNumber: PHONE, maxAttempts: {} }, 2010, "max_attempts_not_number"],
      [{ phoneNumber: PHONE, pinLength: true }, 2015, "pin_length_not_number"],
    ];
    const before = (await api.outbox(PHONE)).length;
    for (const [body, code, reason] of cases) {
      const res = await otp.send(body);
      assertError(res, 400, code, reason);
      assert.equal(res.body.error.type, "invalid_param", `${code}`);
    }
    assert.equal((await api.outbox(PHONE)).length, before, "no SMS was sent for bad input");
  });

  test("bad bodies: malformed JSON 400/1000, not an object 400/1000, wrong type 415/1003, too large 413/1002", async () => {
    const headers = { "x-api-key": app.apiKey };
    assertError(await api.call("POST", "/otp", { body: "{not json", headers }), 400, 1000);
    assertError(await api.call("POST", "/otp", { body: "[1,2]", headers }), 400, 1000);
    assertError(await api.call("POST", "/otp", { body: '"text"', headers }), 400, 1000);
    assertError(await api.call("POST", "/otp", { body: "phoneNumber=1", headers: { ...headers, "content-type": "text/plain" } }), 415, 1003);
    assertError(await api.call("POST", "/otp", { body: JSON.stringify({ phoneNumber: PHONE, pad: "x".repeat(20_000) }), headers }), 413, 1002);
  });

  test("language templates are chosen by phone prefix or by the request's language", async () => {
    const polyglot = await api.createApp({
      name: "Poly",
      otp: {
        template: "Code [{{pin}}]",
        languageTemplates: [
          { language: "fr", prefixes: ["33", "32"], template: "Votre code [{{pin}}]" },
          { language: "es", prefixes: ["34"], template: "Su clave [{{pin}}]" },
        ],
      },
    });
    const client = api.otp(polyglot.apiKey);
    const fr = await sendOne({}, client);
    assert.match(fr.message.text, /^Votre code \[\d{6}\]$/);
    assert.equal(fr.message.language, "fr");
    const es = await sendOne({ phoneNumber: "+34612345678" }, client);
    assert.match(es.message.text, /^Su clave \[/);
    const de = await sendOne({ phoneNumber: "+4915112345678" }, client);
    assert.match(de.message.text, /^Code \[/, "no prefix matches: the app default");
    const asked = await sendOne({ language: "es" }, client);
    assert.match(asked.message.text, /^Su clave \[/, "explicit language wins over the prefix");
    const builtin = await api.createApp({ name: "Builtin", otp: { template: null } });
    const b = await sendOne({ phoneNumber: "+4915112345678" }, api.otp(builtin.apiKey));
    assert.equal(b.message.language, "de");
    assert.match(b.message.text, /Builtin/);
  });

  test("cost is parts times the application's price for the country", async () => {
    const priced = await api.createApp({
      name: "Priced",
      otp: { prices: { default: 0.01, countries: { FR: 0.05 } } },
    });
    const client = api.otp(priced.apiKey);
    const one = await client.send({ phoneNumber: PHONE });
    assert.equal(one.body.parts, 1);
    assert.equal(one.body.cost, 0.05);
    const long = await client.send({ phoneNumber: PHONE, template: "Ваш код [{{pin}}] " + "ж".repeat(70) });
    assert.equal(long.body.parts, 2);
    assert.equal(long.body.cost, 0.1);
    const de = await client.send({ phoneNumber: "+4915112345678" });
    assert.equal(de.body.cost, 0.01);
  });

  test("an OTP of one application is invisible to every other (404 2021)", async () => {
    const other = await api.createApp({ name: "Other" });
    const intruder = api.otp(other.apiKey);
    const { otp: o, pin } = await sendOne();
    assertError(await intruder.get(o.otpId), 404, 2021);
    assertError(await intruder.verify(o.otpId, pin), 404, 2021);
    assertError(await intruder.cancel(o.otpId), 404, 2021);
    assert.equal((await otp.get(o.otpId)).body.status, "PENDING", "untouched by the other app");
    assert.deepEqual((await otp.verify(o.otpId, pin)).body, { status: "VERIFIED" });
  });

  test("letters and alphanumeric PINs of the requested length", async () => {
    const letters = await sendOne({ pinType: "letters", pinLength: 8 });
    assert.match(letters.pin, /^[A-Z]{8}$/);
    const alnum = await sendOne({ pinType: "alphanumeric", pinLength: 10 });
    assert.match(alnum.pin, /^[A-Z0-9]{10}$/);
    assert.equal((await otp.verify(letters.otp.otpId, letters.pin.toLowerCase())).status, 200, "case-insensitive");
  });

  test("no PIN and no full phone number is stored in OTP_KV", async () => {
    const { otp: sent } = await sendOne();
    // A status read makes the shard write the record's KV copy after its reply.
    assert.equal((await otp.get(sent.otpId)).status, 200);
    const copyKey = `otp:${app.appId}:${sent.otpId}`;
    await waitFor(async () => (await dumpKv(worker, "OTP_KV")).some(([k]) => k === copyKey), { what: "the record's copy" });
    const entries = await dumpKv(worker, "OTP_KV");
    assert.ok(entries.some(([k]) => k === copyKey), "the record's copy");
    const digits = PHONE.slice(1);
    for (const [key, value] of entries) {
      assert.ok(!value.includes(digits) && !key.includes(digits), `full phone number in ${key}`);
      if (!key.startsWith("otp:")) continue;
      const { pinDigest, otpId, ...rest } = JSON.parse(value);
      assert.match(pinDigest, /^[0-9a-f]{64}$/, "an HMAC-SHA256 digest");
      // String fields only: a PIN may by chance be digits of a timestamp.
      const text = Object.values(rest).filter((v) => typeof v === "string").join(" ");
      for (const pin of pinsSeen) assert.ok(!text.includes(pin), `PIN ${pin} stored in ${key}: ${text}`);
    }
  });
});
