// OtpEngine (the prepared object of the hot path) against the free functions, and its
// fast verification (fields of a plain record) against its JSON path (a stored
// record's text, which the core reads whole): the same settings, keys, seed and clock
// must give the same objects, key order included. And the input contract of the JSON boundary:
// what JSON cannot carry faithfully is an OtpError 2114, never silently dropped.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  OtpEngine,
  OtpError,
  cancelOtp,
  planOtp,
  renderTemplate,
  validateSettings,
  verifyOtp,
  viewOtp,
} from "otp-sms-verify";
import { KEY, T0, rejectsWithCode } from "./helpers.mjs";

const OLD_KEY = "an-older-key-0123456789abcdef";
const SETTINGS = [
  {},
  { template: "{{pin}}", maxAttempts: 3 },
  { brand: "Zoé & Co", webotpDomain: "example.com", prices: { default: 0.05, countries: { FR: 0.1 + 0.2, DE: 0.0725 } } },
  { pinType: "alphanumeric", pinLength: 10, ttl: 1800, callbackUrl: "https://example.com/cb?a=1", originator: "+447911123456" },
  {
    languageTemplates: [{ language: "de", prefixes: ["49"], template: "Code: {code}\u0000 \\ \" \u{1F600} ж" }],
    prices: { default: 1e-7 },
  },
];
const REQUESTS = [
  { phoneNumber: "+33612424111" },
  { phoneNumber: "06 12 42 41 11", countryIso: "FR", ttl: "120", maxAttempts: 2, pinLength: "8", pinType: "letters" },
  { phoneNumber: "+4915112345678", trackId: "123e4567-e89b-42d3-a456-426614174000", otpCallbackUrl: "https://example.com/x" },
  { phoneNumber: "+79161234567", language: "RU", from: "ACME" },
  { phoneNumber: "+12025550123", template: "{{brand}}: {{pin}} ({{ttl}} min) {{{pin}}} é" },
  { phoneNumber: "+33612424111", unknownKeysInARequest: "are ignored, as by SMS.CX" },
];

/** Same value and same key order (JSON.stringify sees both). */
function same(actual, expected, message) {
  assert.deepStrictEqual(actual, expected, message);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), message);
}

describe("OtpEngine gives what the free functions give, on both of its paths", () => {
  test("plan: every settings × request × seed", () => {
    for (const [i, settings] of SETTINGS.entries()) {
      const engine = new OtpEngine(settings, [KEY, OLD_KEY]);
      for (const [j, request] of REQUESTS.entries()) {
        for (const seed of [1, 2, 3]) {
          const expected = planOtp(settings, request, T0 + 0.7, [KEY, OLD_KEY], { seed });
          same(engine.plan(request, T0 + 0.7, { seed }), expected, `settings ${i}, request ${j}, seed ${seed}`);
        }
        const type = request.pinType ?? settings.pinType ?? "numbers";
        const custom = { seed: 9, customPin: { numbers: "4321", letters: "ABCD", alphanumeric: "AB12CD" }[type] };
        same(engine.plan(request, T0, custom), planOtp(settings, request, T0, [KEY, OLD_KEY], custom), `custom PIN ${i} ${j}`);
      }
      engine.free();
    }
  });

  test("plan: the same errors", async () => {
    const engine = new OtpEngine({}, [KEY]);
    for (const [request, code] of [
      [{ phoneNumber: "" }, 2001],
      [{ phoneNumber: "+33612424111", ttl: "soon" }, 2007],
      [{ phoneNumber: "+33612424111", ttl: 1e400 }, 2114],
      [{ phoneNumber: 33612424111 }, 2020],
      [{ phoneNumber: "+33abc" }, 2020],
      [null, 2114],
      ["+33612424111", 2114],
    ]) {
      await rejectsWithCode(assert, () => engine.plan(request, T0), code);
      await rejectsWithCode(assert, () => planOtp({}, request, T0, [KEY]), code);
    }
    await rejectsWithCode(assert, () => engine.plan({ phoneNumber: "+33612424111" }, T0, { customPin: "12" }), 2115);
    assert.throws(() => engine.plan({ phoneNumber: "+33612424111" }, Number.NaN), TypeError);
  });

  test("callback URLs to private hosts only with allowPrivateHosts, settings and requests alike", async () => {
    const local = "http://localhost:3000/x";
    const request = { phoneNumber: "+33612424111", otpCallbackUrl: local };
    for (const url of [local, "http://127.0.0.1/cb", "https://[::1]/cb", "https://10.0.0.1/cb"]) {
      await rejectsWithCode(assert, () => validateSettings({ callbackUrl: url }), 2019);
      await rejectsWithCode(assert, () => new OtpEngine({ callbackUrl: url }, [KEY]), 2019);
      assert.equal(validateSettings({ callbackUrl: url }, { allowPrivateHosts: true }).callbackUrl, url);
      new OtpEngine({ callbackUrl: url }, [KEY], { allowPrivateHosts: true }).free();
    }
    const strict = new OtpEngine({}, [KEY]);
    await rejectsWithCode(assert, () => strict.plan(request, T0), 2019);
    await rejectsWithCode(assert, () => planOtp({}, request, T0, [KEY]), 2019);
    strict.free();
    const allowing = new OtpEngine({}, [KEY], { allowPrivateHosts: true });
    same(
      allowing.plan(request, T0, { seed: 1 }),
      planOtp({}, request, T0, [KEY], { seed: 1, allowPrivateHosts: true }),
      "allowed the same way",
    );
    assert.equal(allowing.plan(request, T0).record.otpCallbackUrl, local);
    allowing.free();
  });

  test("plan without a seed: random ids and PINs, each OTP its own", () => {
    const engine = new OtpEngine({ template: "{{pin}}" }, [KEY]);
    const planned = Array.from({ length: 300 }, () => engine.plan({ phoneNumber: "+33612424111" }, T0));
    assert.equal(new Set(planned.map((p) => p.record.otpId)).size, 300);
    for (const p of planned) {
      assert.match(p.message.text, /^\d{6}$/);
      assert.ok(verifyOtp(p.record, p.message.text, [KEY], T0 + 1).verified, "the free function verifies it");
    }
  });

  test("verify: every status, PIN and key list, as an object and as stored JSON", () => {
    const settings = { template: "{{pin}}", maxAttempts: 3, ttl: 60 };
    const engine = new OtpEngine(settings, [KEY]);
    const rotated = new OtpEngine(settings, ["a-newer-key-0123456789", KEY]);
    const { record, message } = planOtp(settings, { phoneNumber: "+33612424111" }, T0, [KEY], { seed: 4 });
    const pin = message.text;
    const wrong = pin === "000000" ? "111111" : "000000";
    const records = [record];
    for (const next of [
      (r) => verifyOtp(r, wrong, [KEY], T0 + 1).record,
      (r) => verifyOtp(r, wrong, [KEY], T0 + 2).record,
      (r) => verifyOtp(r, wrong, [KEY], T0 + 3).record,
    ]) {
      records.push(next(records.at(-1)));
    }
    records.push(verifyOtp(record, pin, [KEY], T0 + 1).record, cancelOtp(record, T0 + 1));
    records.push({ ...record, status: "EXPIRED" }, { ...record, trackId: undefined, otpCallbackUrl: undefined });
    records.push({ ...record, attempts: -0, cost: -0 }, { ...record, extra: "dropped" });
    const { trackId: _, ...withoutTrackId } = record;
    records.push(Object.assign(Object.create({ trackId: "inherited, not written" }), withoutTrackId));
    records.push({ ...record, expiresAt: 2 ** 53 - 1, createdAt: -(2 ** 60) }, { ...record, maxAttempts: 0, attempts: 9 });
    for (const [i, r] of records.entries()) {
      for (const p of [pin, ` ${pin.toLowerCase()} `, wrong, "", null, undefined]) {
        for (const now of [T0 + 5, T0 + 60, T0 - 10]) {
          // The JSON path (a stored record's text) is the reference for the fast one.
          const expected = engine.verify(JSON.stringify(r), p, now);
          same(engine.verify(r, p, now), expected, `record ${i}, pin ${p}, now ${now}`);
          same(verifyOtp(r, p, [KEY], now), expected, `verifyOtp: record ${i}, pin ${p}, now ${now}`);
          same(rotated.verify(r, p, now), rotated.verify(JSON.stringify(r), p, now), `rotated ${i}`);
        }
      }
    }
  });

  test("verify: records the JSON path refuses are refused the same way", async () => {
    const engine = new OtpEngine({}, [KEY]);
    const { record } = planOtp({}, { phoneNumber: "+33612424111" }, T0, [KEY], { seed: 5 });
    for (const bad of [
      { ...record, attempts: 256 },
      { ...record, attempts: 1.5 },
      { ...record, parts: -1 },
      { ...record, status: "DONE" },
      { ...record, cost: "0.05" },
      { ...record, otpId: 5 },
      { ...record, pinDigest: "\ud800" },
      { ...record, phoneMasked: "x\udc00" },
      { ...record, createdAt: 1e20 },
      { ...record, expiresAt: Number.NaN },
      { ...record, trackId: 7n },
      { ...record, extra: new Map() },
      new Map(Object.entries(record)),
      Object.assign(Object.create({ otpId: record.otpId }), { ...record, otpId: undefined, extra: 1n }),
      Object.assign(Object.create({ trackId: "inherited" }), { ...record, pinDigest: 7 }),
      [record],
      "not json",
      "{}",
    ]) {
      const expected = await rejectsWithCode(assert, () => verifyOtp(bad, "123456", [KEY], T0), 2114);
      const actual = await rejectsWithCode(assert, () => engine.verify(bad, "123456", T0), 2114);
      assert.deepEqual(actual.toJSON(), expected.toJSON());
    }
    // An own toJSON method is a function value: refused on both paths too.
    const custom = { ...record, toJSON: () => ({ ...record, attempts: 2 }) };
    await rejectsWithCode(assert, () => engine.verify(custom, "x", T0), 2114);
    await rejectsWithCode(assert, () => verifyOtp(custom, "x", [KEY], T0), 2114);
  });

  test("bad settings and keys fail as in planOtp", async () => {
    await rejectsWithCode(assert, () => new OtpEngine({ ttl: 10 }, [KEY]), 2008);
    await rejectsWithCode(assert, () => new OtpEngine({ colour: "blue" }, [KEY]), 2114);
    assert.throws(() => new OtpEngine({}, []), TypeError);
    assert.throws(() => new OtpEngine({}, ["short"]), TypeError);
  });

  test("free(): idempotent, and any later call is a TypeError", () => {
    const engine = new OtpEngine({}, [KEY]);
    const { record } = engine.plan({ phoneNumber: "+33612424111" }, T0);
    engine.free();
    engine.free();
    assert.throws(() => engine.plan({ phoneNumber: "+33612424111" }, T0), /freed/);
    assert.throws(() => engine.verify(record, "123456", T0), TypeError);
    assert.throws(() => engine.settings(), TypeError);
  });
});

describe("inputs that JSON would change are refused (OtpError 2114)", () => {
  const request = { phoneNumber: "+33612424111" };
  const cases = {
    "a bigint": { ttl: 300n },
    NaN: { ttl: Number.NaN },
    Infinity: { ttl: Number.POSITIVE_INFINITY },
    "-Infinity in a nested object": { prices: { countries: { FR: Number.NEGATIVE_INFINITY } } },
    "a Map for an object": { prices: new Map([["default", 1]]) },
    "a Set for an array": { languageTemplates: new Set() },
    "a function": { brand: () => "Acme" },
    "a symbol": { brand: Symbol("Acme") },
  };
  for (const [what, settings] of Object.entries(cases)) {
    test(`${what} in settings`, async () => {
      await rejectsWithCode(assert, () => validateSettings(settings), 2114);
      await rejectsWithCode(assert, () => new OtpEngine(settings, [KEY]), 2114);
      await rejectsWithCode(assert, () => planOtp(settings, request, T0, [KEY]), 2114);
    });
  }

  test("in requests, records and template values too", async () => {
    const engine = new OtpEngine({}, [KEY]);
    for (const bad of [{ ...request, ttl: Number.NaN }, { ...request, pinLength: 6n }, new Map(Object.entries(request))]) {
      await rejectsWithCode(assert, () => engine.plan(bad, T0), 2114);
      await rejectsWithCode(assert, () => planOtp({}, bad, T0, [KEY]), 2114);
    }
    const { record } = engine.plan(request, T0);
    await rejectsWithCode(assert, () => viewOtp({ ...record, cost: Number.NaN }, T0), 2114);
    await rejectsWithCode(assert, () => viewOtp({ ...record, createdAt: BigInt(T0) }, T0), 2114);
    await rejectsWithCode(assert, () => renderTemplate("{{pin}}", { pin: "1", ttlSeconds: Infinity, brand: "A" }), 2114);
  });

  test("template values have the core's types: whole seconds, strings, well-formed", async () => {
    const ok = { pin: "012345", ttlSeconds: 60, brand: "A" };
    assert.equal(renderTemplate("{{pin}} {{ttl}}", { ...ok, unknown: "ignored" }), "012345 1");
    assert.equal(renderTemplate("{{pin}}", { ...ok, webotpDomain: null }), "012345");
    for (const bad of [
      { ...ok, ttlSeconds: 60.5 },
      { ...ok, ttlSeconds: -1 },
      { ...ok, ttlSeconds: 2 ** 32 },
      { ...ok, ttlSeconds: "60" },
      { ...ok, brand: undefined },
      { ...ok, pin: "\ud800" },
      { ...ok, webotpDomain: 5 },
      { ...ok, extra: Number.NaN },
      null,
      [],
    ]) {
      await rejectsWithCode(assert, () => renderTemplate("{{pin}}", bad), 2114);
    }
  });

  test("unknown settings keys are refused, as the worker refuses them", async () => {
    await rejectsWithCode(assert, () => validateSettings({ ttl: 300, tll: 600 }), 2114);
    await rejectsWithCode(assert, () => planOtp({ colour: "blue" }, request, T0, [KEY]), 2114);
  });

  test("an enum value is its name; the one-key object form is refused", async () => {
    assert.equal(validateSettings({ pinType: "letters" }).pinType, "letters");
    await rejectsWithCode(assert, () => validateSettings({ pinType: { letters: null } }), 2114);
  });

  test("a cyclic input is a TypeError, not a stack overflow", () => {
    const settings = { prices: {} };
    settings.prices.self = settings;
    assert.throws(() => validateSettings(settings), TypeError);
  });

  test("undefined values are absent, as JSON.stringify leaves them out", () => {
    assert.equal(validateSettings({ ttl: undefined }).ttl, 600);
    const planned = planOtp({}, { ...request, trackId: undefined }, T0, [KEY]);
    assert.equal(planned.record.trackId, null);
  });

  test("errors are OtpError instances with the catalogue entry", () => {
    try {
      validateSettings({ ttl: 1n });
      assert.fail("no error");
    } catch (e) {
      assert.ok(e instanceof OtpError);
      assert.equal(e.reason, "field_type_invalid");
    }
  });
});
