// Every export of the built package in Node (ESM and CommonJS), the core's error codes
// and the typed error class.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as pkg from "otp-sms-verify";
import { KEY, PKG, T0, rejectsWithCode } from "./helpers.mjs";

const {
  OtpError,
  cancelOtp,
  countSmsParts,
  errorCatalog,
  formatUtc,
  generatePin,
  init,
  newOtpId,
  parsePhone,
  planOtp,
  renderTemplate,
  storageTtl,
  validateSettings,
  validateTemplate,
  verifyOtp,
  viewOtp,
} = pkg;

const EXPORTS = [
  "CallbackSender",
  "DurableObjectStore",
  "KvStore",
  "MemoryStore",
  "OtpApiError",
  "OtpClient",
  "OtpEngine",
  "OtpError",
  "OtpService",
  "RedisStore",
  "cancelOtp",
  "countSmsParts",
  "errorCatalog",
  "formatUtc",
  "generatePin",
  "init",
  "newOtpId",
  "parsePhone",
  "planOtp",
  "renderTemplate",
  "storageTtl",
  "validateSettings",
  "validateTemplate",
  "verifyOtp",
  "viewOtp",
];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A planned OTP whose SMS text is exactly its PIN. */
function plan(request = {}, settings = {}) {
  const planned = planOtp({ template: "{{pin}}", ...settings }, { phoneNumber: "+33612424111", ...request }, T0, [KEY]);
  return { ...planned, pin: planned.message.text };
}

describe("exports", () => {
  test("ESM and CommonJS export the same names, all of them", () => {
    assert.deepEqual(Object.keys(pkg).sort(), EXPORTS);
    const cjs = createRequire(import.meta.url)("otp-sms-verify");
    assert.deepEqual(Object.keys(cjs).sort(), EXPORTS);
    assert.match(cjs.generatePin(), /^\d{6}$/);
    assert.equal(cjs.parsePhone("+33612424111").countryIso, "FR");
  });

  test("init() does nothing in Node and always returns the same kind of settled promise", async () => {
    assert.equal(await init(), undefined);
    assert.equal(await init(new URL("https://example.invalid/x.wasm")), undefined);
  });

  test("the .wasm is a subpath export holding a valid module", () => {
    const file = fileURLToPath(import.meta.resolve("otp-sms-verify/otp_core_bg.wasm"));
    assert.equal(file, path.join(PKG, "wasm", "otp_core_bg.wasm"));
    assert.ok(WebAssembly.validate(readFileSync(file)));
  });

  test("the public .d.ts files (ours and the core's types) never use `any`", () => {
    const files = ["dist", "cjs"].flatMap((dir) =>
      readdirSync(path.join(PKG, dir))
        .filter((f) => f.endsWith(".d.ts"))
        .map((f) => path.join(dir, f)),
    );
    for (const file of [...files, "wasm/otp_core.d.cts"]) {
      const code = readFileSync(path.join(PKG, file), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      assert.doesNotMatch(code, /\bany\b/, file);
    }
  });

  test("the browser loader (default condition) needs init(), shares one promise, then works", async () => {
    const loader = await import(path.join(PKG, "dist", "load-browser.js"));
    assert.throws(() => loader.core(), /call `await init\(\)` once/);
    const bytes = readFileSync(path.join(PKG, "wasm", "otp_core_bg.wasm"));
    const first = loader.init(bytes);
    assert.equal(loader.init(bytes), first, "init() is idempotent");
    await first;
    assert.match(loader.core().generatePin("numbers", 6), /^\d{6}$/);
  });
});

describe("OtpError", () => {
  test("is an Error carrying code, reason, type and httpStatus", () => {
    const error = captured(() => parsePhone("not a phone"));
    assert.ok(error instanceof OtpError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "OtpError");
    assert.deepEqual(error.toJSON(), {
      code: 2020,
      reason: "phone_number_invalid",
      type: "invalid_param",
      httpStatus: 400,
      message: "phoneNumber is invalid",
    });
    assert.match(error.stack, /OtpError: phoneNumber is invalid/);
    assert.equal(JSON.stringify(error), JSON.stringify(error.toJSON()));
  });

  test("can be built from a catalogue entry", () => {
    const info = errorCatalog().find((e) => e.code === 2021);
    const error = new OtpError(info, { cause: "lookup" });
    assert.equal(error.httpStatus, 404);
    assert.equal(error.reason, "otp_not_found");
    assert.equal(error.cause, "lookup");
  });
});

/** assert.throws returns undefined; this returns what `f` throws. */
function captured(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("nothing thrown");
}

describe("errorCatalog", () => {
  test("lists every error once by reason; only SMS.CX's documented codes are shared", () => {
    const catalog = errorCatalog();
    const codes = catalog.map((e) => e.code);
    assert.equal(new Set(catalog.map((e) => e.reason)).size, codes.length);
    const ours = codes.filter((c) => c > 2100);
    assert.equal(new Set(ours).size, ours.length, "our own codes are unique");
    const byReason = new Map(catalog.map((e) => [e.reason, e.code]));
    assert.equal(byReason.get("phone_number_too_short"), 2020);
    assert.equal(byReason.get("from_alphanumeric_too_long"), 2005);
    assert.equal(byReason.get("callback_url_not_https"), 2019);
    for (const e of catalog) {
      assert.deepEqual(Object.keys(e).sort(), ["code", "httpStatus", "message", "reason", "type"]);
      assert.ok(e.httpStatus >= 400 && e.httpStatus < 500);
    }
    const byCode = new Map(catalog.map((e) => [e.code, e]));
    assert.equal(byCode.get(2021).httpStatus, 404);
    assert.equal(byCode.get(2029).type, "invalid_pin");
    assert.equal(byCode.get(2030).httpStatus, 403);
  });

  test("returns copies: changing one does not change the next", () => {
    errorCatalog()[0].code = 1;
    assert.equal(errorCatalog()[0].code, 2001);
  });
});

describe("generatePin", () => {
  test("defaults to 6 digits and follows type and length", () => {
    assert.match(generatePin(), /^\d{6}$/);
    assert.match(generatePin({ type: "letters", length: 4 }), /^[A-Z]{4}$/);
    assert.match(generatePin({ type: "alphanumeric", length: 10 }), /^[A-Z0-9]{10}$/);
  });

  test("a seed repeats the PIN (as a number or a bigint), PINs are strings with leading zeros", () => {
    assert.equal(generatePin({ seed: 7 }), "000443");
    assert.equal(generatePin({ seed: 7n }), "000443");
    assert.notEqual(generatePin({ seed: 8 }), "000443");
  });

  test("rejects bad types and lengths with their codes", async () => {
    await rejectsWithCode(assert, () => generatePin({ type: "emoji" }), 2014);
    await rejectsWithCode(assert, () => generatePin({ length: 4.5 }), 2015);
    await rejectsWithCode(assert, () => generatePin({ length: 3 }), 2016);
    await rejectsWithCode(assert, () => generatePin({ length: -1 }), 2016);
    await rejectsWithCode(assert, () => generatePin({ length: 11 }), 2017);
    await rejectsWithCode(assert, () => generatePin({ length: 300 }), 2017);
  });
});

describe("templates", () => {
  test("renderTemplate fills every placeholder and appends the WebOTP line", () => {
    const text = renderTemplate("{{brand}}: {{pin}} or {code}, {{ttl}} min", {
      pin: "012345",
      ttlSeconds: 300,
      brand: "Acme",
      webotpDomain: "example.com",
    });
    assert.equal(text, "Acme: 012345 or 012345, 5 min\n\n@example.com #012345");
  });

  test("validateTemplate accepts either placeholder and rejects the rest", async () => {
    validateTemplate("Code {{pin}}");
    validateTemplate("Code {code}");
    await rejectsWithCode(assert, () => validateTemplate("no placeholder"), 2006);
    await rejectsWithCode(assert, () => validateTemplate(""), 2006);
    await rejectsWithCode(assert, () => validateTemplate(`{{pin}} ${"x".repeat(5000)}`), 2107);
  });

  test("a wrong field type is 2114", async () => {
    await rejectsWithCode(assert, () => renderTemplate("{{pin}}", { pin: 5, ttlSeconds: 60, brand: "A" }), 2114);
  });
});

describe("countSmsParts", () => {
  test("counts GSM-7 and UCS-2 units and parts", () => {
    assert.deepEqual(countSmsParts("a".repeat(160)), { encoding: "GSM-7", units: 160, parts: 1 });
    assert.deepEqual(countSmsParts("a".repeat(161)), { encoding: "GSM-7", units: 161, parts: 2 });
    assert.deepEqual(countSmsParts("€"), { encoding: "GSM-7", units: 2, parts: 1 });
    assert.deepEqual(countSmsParts("ж".repeat(70)), { encoding: "UCS-2", units: 70, parts: 1 });
    assert.deepEqual(countSmsParts("ж".repeat(71)), { encoding: "UCS-2", units: 71, parts: 2 });
  });
});

describe("parsePhone", () => {
  test("parses E.164 and national numbers", () => {
    const expected = {
      e164: "+33612424111",
      digits: "33612424111",
      callingCode: 33,
      countryIso: "FR",
      masked: "+3361242****",
      type: "mobile",
      valid: true,
    };
    assert.deepEqual(parsePhone(" +33 6 12 42 41 11 "), expected);
    assert.deepEqual(parsePhone("06 12 42 41 11", "FR"), expected);
  });

  test("says what the numbering plan has a number as", () => {
    const kind = (input, countryIso) => {
      const { type, valid, countryIso: country } = parsePhone(input, countryIso);
      return { type, valid, country };
    };
    assert.deepEqual(kind("+12015550123"), { type: "fixedLineOrMobile", valid: true, country: "US" });
    assert.deepEqual(kind("+442079460958"), { type: "fixedLine", valid: true, country: "GB" });
    assert.deepEqual(kind("+449012345678"), { type: "premiumRate", valid: true, country: "GB" });
    assert.deepEqual(kind("+881612345678"), { type: "mobile", valid: true, country: "001" });
    // libphonenumber's invalid example for the UAE, and Ofcom's drama range: they parse, not valid.
    assert.deepEqual(kind("+9712234567"), { type: "unknown", valid: false, country: "AE" });
    assert.deepEqual(kind("+447700900123"), { type: "unknown", valid: false, country: "GB" });
  });

  test("takes the country from the digits, never from the given country", () => {
    assert.equal(parsePhone("+447781123456", "GB").countryIso, "GG");
    assert.equal(parsePhone("+447400123456", "GG").countryIso, "GB");
    assert.equal(parsePhone("07781 123456", "GB").countryIso, "GG");
    assert.equal(parsePhone("0639 01 23 45", "RE").countryIso, "YT");
    assert.equal(parsePhone("+262692123456", "YT").countryIso, "RE");
    assert.equal(parsePhone("416 555 0123", "US").countryIso, "CA");
    assert.equal(parsePhone("8 771 000 99 98", "RU").countryIso, "KZ");
  });

  test("rejects bad numbers with their codes and reasons", async () => {
    await rejectsWithCode(assert, () => parsePhone(""), 2001);
    await rejectsWithCode(assert, () => parsePhone("0612424111"), 2002);
    await rejectsWithCode(assert, () => parsePhone("0612424111", "XX"), 2003);
    for (const [input, reason] of [
      ["call me", "phone_number_invalid"],
      ["+331", "phone_number_too_short"],
      ["+3361242411112345", "phone_number_too_long"],
      ["+999123456789", "phone_country_code_unknown"],
    ]) {
      const error = await rejectsWithCode(assert, () => parsePhone(input), 2020);
      assert.equal(error.reason, reason, input);
    }
  });
});

describe("validateSettings", () => {
  test("fills in every default", () => {
    assert.deepEqual(validateSettings(), {
      template: null,
      languageTemplates: [],
      originator: "Verify",
      pinType: "numbers",
      pinLength: 6,
      ttl: 600,
      maxAttempts: 5,
      callbackUrl: null,
      prices: { default: 0, countries: {} },
      brand: "Verify",
      webotpDomain: null,
      allowedNumberTypes: ["mobile", "fixedLineOrMobile", "voip", "personalNumber"],
    });
    assert.equal(validateSettings({ ttl: 120, brand: "Acme" }).ttl, 120);
  });

  test("rejects each bad field with its code", async () => {
    await rejectsWithCode(assert, () => validateSettings({ template: "x" }), 2006);
    await rejectsWithCode(assert, () => validateSettings({ ttl: 10 }), 2008);
    await rejectsWithCode(assert, () => validateSettings({ ttl: 3600 }), 2009);
    await rejectsWithCode(assert, () => validateSettings({ maxAttempts: 11 }), 2012);
    await rejectsWithCode(assert, () => validateSettings({ callbackUrl: "http://example.com/cb" }), 2019);
    await rejectsWithCode(assert, () => validateSettings({ brand: "" }), 2113);
  });
});

describe("the state machine: planOtp, verifyOtp, cancelOtp, viewOtp, storageTtl", () => {
  test("planOtp returns a record without the PIN or the full phone, and the SMS to send", () => {
    const { record, message, phone, pin } = plan({ ttl: 120, trackId: "123e4567-e89b-42d3-a456-426614174000" });
    assert.match(record.otpId, UUID_V4);
    assert.equal(record.status, "PENDING");
    assert.equal(record.expiresAt, T0 + 120);
    assert.equal(record.trackId, "123e4567-e89b-42d3-a456-426614174000");
    assert.equal(record.phoneMasked, "+3361242****");
    assert.match(record.pinDigest, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(record).includes(pin), "the record holds the PIN");
    assert.ok(!JSON.stringify(record).includes("612424111"), "the record holds the full phone");
    assert.deepEqual(
      { to: message.to, encoding: message.encoding, parts: message.parts, language: message.language },
      { to: "+33612424111", encoding: "GSM-7", parts: 1, language: "fr" },
    );
    assert.equal(phone.e164, "+33612424111");
  });

  test("planOtp reports request errors with SMS.CX codes, and short keys as TypeError", async () => {
    await rejectsWithCode(assert, () => plan({ phoneNumber: "" }), 2001);
    await rejectsWithCode(assert, () => plan({ ttl: "soon" }), 2007);
    await rejectsWithCode(assert, () => plan({ maxAttempts: 0 }), 2011);
    await rejectsWithCode(assert, () => plan({ trackId: "nope" }), 2018);
    await rejectsWithCode(assert, () => plan({ phoneNumber: "+33abc" }), 2020);
    assert.throws(() => planOtp({}, { phoneNumber: "+33612424111" }, T0, ["short"]), TypeError);
    assert.throws(() => planOtp({}, { phoneNumber: "+33612424111" }, Number.NaN, [KEY]), TypeError);
  });

  test("verifyOtp counts wrong PINs (2029), fails on the last (2027), then reports 2026", () => {
    let { record, pin } = plan({}, { maxAttempts: 3 });
    const wrong = pin === "000000" ? "111111" : "000000";
    const codes = [];
    for (let i = 0; i < 4; i++) {
      const v = verifyOtp(record, wrong, [KEY], T0 + i);
      assert.equal(v.verified, false);
      assert.ok(v.error instanceof OtpError);
      codes.push(v.error.code);
      if (v.recordChanged) record = v.record;
    }
    assert.deepEqual(codes, [2029, 2029, 2027, 2026]);
    assert.equal(record.status, "FAILED");
    assert.equal(record.attempts, 3);
    assert.equal(verifyOtp(record, pin, [KEY], T0 + 5).error.code, 2026, "the right PIN is too late");
  });

  test("verifyOtp: a missing PIN is 2022 and changes nothing; the right PIN verifies with rotated keys", () => {
    const { record, pin } = plan();
    for (const missing of [undefined, null, "", "   "]) {
      const v = verifyOtp(record, missing, [KEY], T0);
      assert.equal(v.error.code, 2022);
      assert.equal(v.recordChanged, false);
    }
    const v = verifyOtp(record, ` ${pin} `, ["a-newer-key-0123456789", KEY], T0 + 1);
    assert.deepEqual([v.verified, v.error, v.recordChanged, v.statusChanged], [true, null, true, true]);
    assert.equal(v.record.status, "VERIFIED");
    assert.equal(verifyOtp(v.record, pin, [KEY], T0 + 2).error.code, 2023);
  });

  test("cancelOtp cancels PENDING only: 2030 when already cancelled, 2031 otherwise", async () => {
    const { record, pin } = plan();
    const cancelled = cancelOtp(record, T0 + 1);
    assert.equal(cancelled.status, "CANCELLED");
    assert.equal(cancelled.updatedAt, T0 + 1);
    assert.equal(verifyOtp(cancelled, pin, [KEY], T0 + 2).error.code, 2024);
    await rejectsWithCode(assert, () => cancelOtp(cancelled, T0 + 2), 2030);
    const verified = verifyOtp(record, pin, [KEY], T0).record;
    await rejectsWithCode(assert, () => cancelOtp(verified, T0 + 2), 2031);
    await rejectsWithCode(assert, () => cancelOtp(record, T0 + 600), 2031);
  });

  test("viewOtp derives EXPIRED from now and shows the masked or the given phone", () => {
    const { record, pin } = plan({ ttl: 60 });
    const view = viewOtp(record, T0 + 59);
    assert.equal(view.status, "PENDING");
    assert.equal(view.phoneNumber, "+3361242****");
    assert.equal(view.dateCreated, "2023-11-14 22:13:20");
    assert.equal(view.dateExpires, "2023-11-14 22:14:20");
    assert.equal(viewOtp(record, T0 + 60).status, "EXPIRED");
    assert.equal(viewOtp(record, T0, "+33612424111").phoneNumber, "+33612424111");
    assert.equal(verifyOtp(record, pin, [KEY], T0 + 60).error.code, 2025);
  });

  test("storageTtl is remaining life plus retention, at least 60", () => {
    const { record } = plan({ ttl: 300 });
    assert.equal(storageTtl(record, T0, 86_400), 300 + 86_400);
    assert.equal(storageTtl(record, T0 + 1000, 86_400), 86_400);
    assert.equal(storageTtl(record, T0 + 1000, 0), 60);
    assert.throws(() => storageTtl(record, T0, -1), TypeError);
  });

  test("newOtpId and formatUtc", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newOtpId()));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, UUID_V4);
    assert.equal(formatUtc(T0), "2023-11-14 22:13:20");
    assert.equal(formatUtc(T0 + 0.9), "2023-11-14 22:13:20");
    assert.equal(formatUtc(0), "1970-01-01 00:00:00");
  });
});
