// Bad input against every write endpoint of both dialects and the admin API, on
// the built worker in workerd (Miniflare), over real HTTP on 127.0.0.1: bodies
// over 16 KiB (with and without Content-Length), wrong content types, malformed
// JSON, JSON that is not an object, wrong field types, huge and odd Unicode
// strings, path traversal and junk in ids. Every answer must be a 4xx with a
// numeric code in the dialect's error shape (never a 5xx), carry X-Request-Id and
// X-Response-Time, and leave both KV namespaces byte for byte as they were.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { DEV_BINDINGS, dumpKv, startApi, T0 } from "../support/api.mjs";

const PHONE = "+33612424111";
const KIB = 1024;
const LIMIT = 16 * KIB;
const SMSCX_ERROR_KEYS = ["code", "message", "type", "uri"];
const DEXATEL_ERROR_KEYS = ["code", "message", "method", "path", "status", "timestamp"];

/**
 * One HTTP request with node:http, so that bodies, headers and paths go out
 * exactly as written: `body` a string or Buffer (sent with Content-Length), or
 * `chunks` (sent chunked, without Content-Length); `path` is not normalised.
 * A server may answer before it has read the body (413) and close the
 * connection while the rest is still being written: the answer counts, the
 * write error does not. Resolves `{status: 0, error}` when no answer came.
 */
function rawRequest(base, method, path, { headers = {}, body, chunks } = {}) {
  const url = new URL(base);
  assert.equal(url.hostname, "127.0.0.1");
  return new Promise((resolve) => {
    let answered = false;
    const req = http.request(
      // A connection per request: a server may close one after refusing a body it did not read.
      { agent: false, host: url.hostname, port: url.port, method, path, headers: { "x-dev-now": String(T0), ...headers } },
      (res) => {
        answered = true;
        const parts = [];
        const done = () => {
          const text = Buffer.concat(parts).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, body: json });
        };
        res.on("data", (c) => parts.push(c));
        res.on("end", done);
        res.on("error", done);
        res.on("aborted", done);
      },
    );
    req.on("error", (error) => {
      // Give an answer already on its way a moment to be read.
      setTimeout(() => answered || resolve({ status: 0, headers: {}, text: String(error), body: undefined, error }), 200);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    if (chunks) {
      for (const chunk of chunks) req.write(chunk);
      req.end();
    } else if (body !== undefined) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
      req.setHeader("content-length", buf.length);
      req.end(buf);
    } else {
      req.end();
    }
  });
}

/** `size` bytes of JSON: `object` with a padding field. */
function padded(object, size) {
  const base = JSON.stringify({ ...object, pad: "" });
  return JSON.stringify({ ...object, pad: "x".repeat(Math.max(0, size - Buffer.byteLength(base))) });
}

/** `object` as JSON with its first string value (depth first) replaced by the JSON text `raw`. */
function withFirstString(object, raw) {
  const marker = "\u0001first\u0001";
  let done = false;
  const text = JSON.stringify(object, (key, value) => {
    if (!done && typeof value === "string") {
      done = true;
      return marker;
    }
    return value;
  });
  assert.ok(done, "a string field to replace");
  return text.replace(JSON.stringify(marker), raw);
}

/** The body cases every JSON endpoint must refuse: [label, request options, status, code]. */
function bodyCases(valid) {
  const json = { "content-type": "application/json" };
  const oneMiB = Buffer.alloc(KIB * KIB, 0x20);
  return [
    ["body of 16 KiB + 1 with Content-Length", { headers: json, body: padded(valid, LIMIT + 1) }, 413, 1002],
    ["body of 100 KB with Content-Length", { headers: json, body: padded(valid, 100_000) }, 413, 1002],
    ["a 100 KB string field", { headers: json, body: JSON.stringify({ ...valid, x: "é".repeat(50_000) }) }, 413, 1002],
    [
      "body of 17 KiB chunked, no Content-Length",
      { headers: json, chunks: [padded(valid, 17 * KIB).slice(0, 9000), padded(valid, 17 * KIB).slice(9000)] },
      413,
      1002,
    ],
    ["body of 1 MiB chunked, no Content-Length", { headers: json, chunks: [Buffer.from("{\"a\":\""), oneMiB, oneMiB.subarray(0, 10), Buffer.from("\"}")] }, 413, 1002],
    ["text/plain", { headers: { "content-type": "text/plain" }, body: JSON.stringify(valid) }, 415, 1003],
    ["text/plain; charset=utf-8", { headers: { "content-type": "text/plain; charset=utf-8" }, body: JSON.stringify(valid) }, 415, 1003],
    ["application/xml", { headers: { "content-type": "application/xml" }, body: "<otp><phoneNumber>+33612424111</phoneNumber></otp>" }, 415, 1003],
    ["form-urlencoded", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "phoneNumber=%2B33612424111" }, 415, 1003],
    ["multipart/form-data", { headers: { "content-type": "multipart/form-data; boundary=x" }, body: "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n" }, 415, 1003],
    ["application/jsonp", { headers: { "content-type": "application/jsonp" }, body: JSON.stringify(valid) }, 415, 1003],
    ["truncated JSON", { headers: json, body: JSON.stringify(valid).slice(0, -3) }, 400, 1000],
    ["an unclosed string", { headers: json, body: '{"a": "abc' }, 400, 1000],
    ["trailing garbage", { headers: json, body: `${JSON.stringify(valid)} x` }, 400, 1000],
    ["two objects", { headers: json, body: `${JSON.stringify(valid)}${JSON.stringify(valid)}` }, 400, 1000],
    ["single quotes", { headers: json, body: "{'a': 1}" }, 400, 1000],
    ["a comment", { headers: json, body: `/* x */ ${JSON.stringify(valid)}` }, 400, 1000],
    ["NaN", { headers: json, body: '{"a": NaN}' }, 400, 1000],
    ["an empty body", { headers: json, body: "" }, 400, 1000],
    ["whitespace only", { headers: json, body: " \n\t " }, 400, 1000],
    ["a JSON array", { headers: json, body: JSON.stringify([valid]) }, 400, 1000],
    ["an empty array", { headers: json, body: "[]" }, 400, 1000],
    ["a JSON string", { headers: json, body: JSON.stringify(JSON.stringify(valid)) }, 400, 1000],
    ["a JSON number", { headers: json, body: "42" }, 400, 1000],
    ["JSON null", { headers: json, body: "null" }, 400, 1000],
    ["JSON true", { headers: json, body: "true" }, 400, 1000],
    ["invalid UTF-8", { headers: json, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]) }, 400, 1000],
    ["a UTF-16 body", { headers: { "content-type": "application/json; charset=utf-16le" }, body: Buffer.from(JSON.stringify(valid), "utf16le") }, 400, 1000],
    ["a byte-order mark", { headers: json, body: `\ufeff${JSON.stringify(valid)}` }, 400, 1000],
    ["a NUL byte outside strings", { headers: json, body: `${JSON.stringify(valid).slice(0, -1)}\u0000}` }, 400, 1000],
    ["8000 nested arrays", { headers: json, body: `{"a":${"[".repeat(8000)}${"]".repeat(8000)}}` }, 400, 1000],
    ["2000 nested objects", { headers: json, body: `${'{"a":'.repeat(2000)}1${"}".repeat(2000)}` }, 400, 1000],
    ["a lone surrogate escape", { headers: json, body: withFirstString(valid, '"\\ud800"') }, 400, 1000],
    ["a lone low surrogate escape", { headers: json, body: withFirstString(valid, '"x\\udfff"') }, 400, 1000],
    ["a surrogate pair reversed", { headers: json, body: withFirstString(valid, '"\\udc00\\ud800"') }, 400, 1000],
    ["a bad escape", { headers: json, body: `{"a":"\\x41"}` }, 400, 1000],
    ["a raw control character in a string", { headers: json, body: `{"a":"\u0001"}` }, 400, 1000],
    ["a number too large", { headers: json, body: `{"a":1e400}` }, 400, 1000],
  ];
}

const emojis = "📱😀👨‍👩‍👧";
const rtl = "\u202e";
const zeroWidth = "\u200b";

describe("bad input: 4xx with a code, never 5xx, nothing written", () => {
  let worker, api, app, otpId, pin, templateId;
  const replies = [];

  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Bad Input" });
    const sent = await api.otp(app.apiKey).send({ phoneNumber: PHONE, maxAttempts: 10 });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    otpId = sent.body.otpId;
    pin = (await api.pinOf(PHONE, otpId)).pin;
    const dx = (method, path, body) => api.call(method, path, { body, headers: { "x-dexatel-key": app.apiKey }, now: T0 });
    const tpl = await dx("POST", "/v1/templates", { data: { name: "login", text: "Login code: {code}", channel: "SMS" } });
    assert.equal(tpl.status, 201, JSON.stringify(tpl.body));
    templateId = tpl.body.data.id;
    const snd = await dx("POST", "/v1/senders", { data: { name: "AcmeCo" } });
    assert.equal(snd.status, 201, JSON.stringify(snd.body));
  });
  after(async () => {
    await worker?.dispose();
  });

  const smscxKey = () => ({ "x-api-key": app.apiKey });
  const adminKey = () => ({ authorization: `Bearer ${DEV_BINDINGS.ADMIN_TOKEN}` });
  const dexatelKey = () => ({ "x-dexatel-key": app.apiKey });

  /** Both KV namespaces, every key and value. */
  async function snapshot() {
    return { OTP_KV: await dumpKv(worker, "OTP_KV"), OUTBOX_KV: await dumpKv(worker, "OUTBOX_KV") };
  }

  /** What went wrong, collected so that one run shows every problem at once. */
  let problems = [];
  const check = (ok, message) => {
    if (!ok) problems.push(message);
    return ok;
  };
  function assertNoProblems(what) {
    const found = problems;
    problems = [];
    assert.deepEqual(found, [], `${what}: ${found.length} problem(s)`);
  }

  /** Sends one bad request and checks the reply: 4xx, the dialect's error shape, a numeric code. */
  async function refused(label, dialect, method, path, options, status, code) {
    const res = await rawRequest(worker.url, method, path, options);
    const shown = path.length > 80 ? `${path.slice(0, 80)}…` : path;
    const what = `${label}: ${method} ${shown} -> ${res.status} ${res.text.slice(0, 300)}`;
    replies.push({ label, method, path, status: res.status });
    if (!check(res.status >= 400 && res.status < 500, `not a 4xx: ${what}`)) return res;
    check(res.headers["x-request-id"], `no X-Request-Id: ${what}`);
    check(/^\d+ms$/.test(res.headers["x-response-time"] ?? ""), `no X-Response-Time: ${what}`);
    check(/^application\/json/.test(res.headers["content-type"] ?? ""), `not a JSON reply: ${what}`);
    let got;
    if (dialect === "dexatel") {
      const error = res.body?.errors?.[0];
      const shape =
        JSON.stringify(Object.keys(res.body ?? {})) === '["errors"]' &&
        res.body.errors.length === 1 &&
        JSON.stringify(Object.keys(error).sort()) === JSON.stringify(DEXATEL_ERROR_KEYS) &&
        error.status === res.status;
      if (!check(shape, `not Dexatel's error shape: ${what}`)) return res;
      got = error.code;
    } else {
      const shape =
        JSON.stringify(Object.keys(res.body ?? {})) === '["error"]' &&
        JSON.stringify(Object.keys(res.body.error).filter((k) => k !== "reason").sort()) === JSON.stringify(SMSCX_ERROR_KEYS);
      if (!check(shape, `not SMS.CX's error shape: ${what}`)) return res;
      got = res.body.error.code;
    }
    check(Number.isInteger(got) && got > 0, `no numeric code: ${what}`);
    if (status !== undefined) check(res.status === status, `status ${res.status}, expected ${status}: ${what}`);
    if (code !== undefined) check(got === code, `code ${got}, expected ${code}: ${what}`);
    return res;
  }

  /** The JSON write endpoints, each with a valid body (to pad) and its bad field values. */
  function endpoints() {
    const otpFields = (fields) => fields.map((f) => ({ phoneNumber: PHONE, ...f }));
    return [
      {
        name: "POST /otp",
        dialect: "smscx",
        method: "POST",
        path: "/otp",
        headers: smscxKey(),
        valid: { phoneNumber: PHONE },
        bad: [
          { phoneNumber: 33612424111 },
          { phoneNumber: { e164: PHONE } },
          { phoneNumber: [PHONE] },
          { phoneNumber: true },
          { phoneNumber: null },
          { phoneNumber: "1".repeat(15_000) },
          { phoneNumber: emojis.repeat(50) },
          { phoneNumber: `${rtl}11142421633+` },
          { phoneNumber: `${PHONE}\u0000` },
          // Not here, because they are numbers the parser takes on purpose, as
          // libphonenumber does: fullwidth and Arabic-Indic digits, and invisible
          // marks between digits (zero-width space, bidi marks from copy-paste).
          // Dexatel's phone, code and code_length may also come as JSON numbers.
          { phoneNumber: `+33612424111${emojis}` },
          { phoneNumber: "+33612424111\n+33612424112" },
          { phoneNumber: "0612424111", countryIso: 33 },
          { phoneNumber: "0612424111", countryIso: `F${zeroWidth}R` },
          { phoneNumber: "0612424111", countryIso: "fr".repeat(5000) },
          ...otpFields([
            { ttl: {} },
            { ttl: [600] },
            { ttl: "10 minutes" },
            { ttl: 1e300 },
            { ttl: -60 },
            { ttl: 600.5 },
            { maxAttempts: { n: 3 } },
            { maxAttempts: 3.5 },
            { maxAttempts: -1 },
            { pinLength: [6] },
            { pinLength: 1e20 },
            { pinType: 1 },
            { pinType: `numbers${zeroWidth}` },
            { pinType: "NUMBERS\u0000" },
            { from: 12345 },
            { from: `${rtl}Acme` },
            { from: "A".repeat(15_000) },
            { from: emojis },
            { template: 42 },
            { template: { text: "{{pin}}" } },
            { template: "x".repeat(15_000) },
            { template: `${emojis} no placeholder` },
            { trackId: {} },
            { trackId: "../../etc/passwd" },
            { trackId: `${emojis}` },
            { otpCallbackUrl: 1 },
            { otpCallbackUrl: "javascript:alert(1)" },
            { otpCallbackUrl: "http://evil.example/cb" },
            { otpCallbackUrl: `https://${"a".repeat(15_000)}.example` },
            { language: ["fr"] },
            { language: `${rtl}fr` },
            { language: "français" },
          ]),
        ],
      },
      {
        name: "POST /otp/{id}",
        dialect: "smscx",
        method: "POST",
        path: `/otp/${otpId}`,
        headers: smscxKey(),
        valid: { pin: "000000" },
        // Only values that are not a PIN: a string, however odd, is a guess and
        // is counted (see the next test).
        bad: [{}, { pin: null }, { pin: {} }, { pin: [pin] }, { pin: true }, { pin: "" }, { pin: " \t\n " }, { PIN: pin }],
      },
      {
        name: "POST /admin/apps",
        dialect: "smscx",
        method: "POST",
        path: "/admin/apps",
        headers: adminKey(),
        valid: { name: "Valid" },
        bad: [
          {},
          { name: 42 },
          { name: ["x"] },
          { name: "" },
          { name: "   " },
          { name: "x".repeat(65) },
          { name: emojis.repeat(30) },
          { name: "n".repeat(15_000) },
          { name: "Acme\u0000" },
          { name: "Acme\u001b[31m" },
          { name: "Acme\nInc" },
          { name: "Valid", unknown: 1 },
          { name: "Valid", gateway: "outbox" },
          { name: "Valid", gateway: { type: "carrier-pigeon" } },
          { name: "Valid", gateway: { type: "webhook", url: "ftp://x" } },
          { name: "Valid", gateway: { type: "webhook", url: 42 } },
          { name: "Valid", otp: [] },
          { name: "Valid", otp: ["Hi {{pin}}", [], "Acme"] },
          { name: "Valid", otp: "x" },
          { name: "Valid", otp: { pinLength: "6" } },
          { name: "Valid", otp: { pinLength: 99 } },
          { name: "Valid", otp: { template: "no placeholder" } },
          { name: "Valid", otp: { template: { "{{pin}}": 1 } } },
          { name: "Valid", otp: { prices: { default: "free" } } },
          { name: "Valid", otp: { unknownSetting: true } },
          { name: "Valid", dexatel: [] },
          { name: "Valid", dexatel: [1, 60] },
          { name: "Valid", limits: [] },
          { name: "Valid", limits: 5 },
          { name: "Valid", dexatel: { maxFailedChecks: "3" } },
          { name: "Valid", limits: { phonePerHour: -1 } },
          { name: "Valid", limits: { phonePerHour: 1.5 } },
          { name: "Valid", limits: { allowedCountries: "FR" } },
          { name: "Valid", limits: { deniedCountries: [`F${zeroWidth}R`] } },
        ],
      },
      {
        name: "PATCH /admin/apps/{id}",
        dialect: "smscx",
        method: "PATCH",
        path: `/admin/apps/${app.appId}`,
        headers: adminKey(),
        valid: { name: "Renamed" },
        bad: [
          { name: 42 },
          { name: "" },
          { name: "x".repeat(65) },
          { name: "Acme\u0000" },
          { appId: "other" },
          { gateway: null, name: 7 },
          { gateway: { type: "carrier-pigeon" } },
          { otp: { pinLength: "6" } },
          { otp: [] },
          { otp: "reset" },
          { dexatel: [] },
          { limits: [0, 0, 0] },
          { otp: { ttl: 5 } },
          { otp: { maxAttempts: { n: 1 } } },
          { dexatel: { blockSeconds: "long" } },
          { limits: { ipSendsPerHour: "many" } },
        ],
      },
      {
        name: "POST /v1/verifications",
        dialect: "dexatel",
        method: "POST",
        path: "/v1/verifications",
        headers: dexatelKey(),
        valid: { data: { sender: "Verify", phone: "33612424199", channel: "SMS" } },
        bad: [
          {},
          { data: null },
          { data: [] },
          { data: "33612424199" },
          { data: {} },
          ...[
            { phone: ["33612424199"] },
            { phone: "3".repeat(15_000) },
            { phone: emojis },
            { phone: `${rtl}99142421633` },
            { phone: `336${zeroWidth}12424199` },
            { phone: "33612424199\u0000" },
            { sender: 42 },
            { sender: `${rtl}Verify` },
            { sender: "V".repeat(15_000) },
            { sender: "Unknown" },
            { channel: "SMS\u0000" },
            { channel: "PIGEON" },
            { channel: 1 },
            { code: "12a4" },
            { code: "١٢٣٤" },
            { code: `12${zeroWidth}34` },
            { code: "1".repeat(15_000) },
            { code_length: 6.5 },
            { code_length: 99 },
            { template: 1 },
            { template: "../../templates" },
            { template: "00000000-0000-4000-8000-000000000000" },
          ].map((f) => ({ data: { sender: "Verify", phone: "33612424199", channel: "SMS", ...f } })),
        ],
      },
      {
        name: "POST /v1/templates",
        dialect: "dexatel",
        method: "POST",
        path: "/v1/templates",
        headers: dexatelKey(),
        valid: { data: { name: "t", text: "Code {code}", channel: "SMS" } },
        bad: [
          {},
          { data: [] },
          { data: { text: 42, channel: "SMS" } },
          { data: { text: "no placeholder", channel: "SMS" } },
          { data: { text: "x".repeat(15_000) + "{code}", channel: "SMS" } },
          { data: { text: "Code {code}", channel: "PIGEON" } },
          { data: { text: "Code {code}", channel: ["SMS"] } },
          { data: { name: 42, text: "Code {code}", channel: "SMS" } },
          { data: { name: "n\u0000", text: "Code {code}", channel: "SMS" } },
          { data: { name: "n".repeat(15_000), text: "Code {code}", channel: "SMS" } },
          { data: { text: "Code {code}\ud83d", channel: "SMS" } },
        ],
      },
      {
        name: "PUT /v1/templates/{id}",
        dialect: "dexatel",
        method: "PUT",
        path: `/v1/templates/${templateId}`,
        headers: dexatelKey(),
        valid: { data: { name: "t", text: "Code {code}", channel: "SMS" } },
        bad: [
          {},
          { data: "x" },
          { data: { text: 42 } },
          { data: { text: "no placeholder" } },
          { data: { text: "x".repeat(15_000) + "{code}" } },
          { data: { channel: "PIGEON" } },
          { data: { name: "n\u0000" } },
        ],
      },
      {
        name: "POST /v1/senders",
        dialect: "dexatel",
        method: "POST",
        path: "/v1/senders",
        headers: dexatelKey(),
        valid: { data: { name: "Sender" } },
        bad: [
          {},
          { data: [] },
          { data: { name: 42 } },
          { data: { name: "" } },
          { data: { name: "x".repeat(46) } },
          { data: { name: "n\u0000" } },
          { data: { name: "Sender", code: 42 } },
          { data: { name: "Sender", code: `${rtl}Acme` } },
          { data: { name: "Sender", code: emojis } },
          { data: { name: "Sender", code: "A".repeat(12) } },
          { data: { name: "Sender", code: "1234", type: "short_code" } },
          { data: { name: "Sender", code: "1".repeat(16) } },
          { data: { name: "Sender", type: "pigeon" } },
          { data: { name: "Sender", channel: "PIGEON" } },
        ],
      },
    ];
  }

  /** Ids that name nothing: traversal, junk, encodings, lengths. */
  const BAD_IDS = [
    "..%2F..%2Fadmin%2Fapps",
    "..%2F..",
    "%2e%2e%2f%2e%2e%2f",
    "..%252F..%252F",
    "%2E%2E%5C%2E%2E%5Capps",
    "..%5c..%5c",
    "%00",
    "abc%00def",
    "%0d%0aX-Injected:%201",
    "%ff%fe",
    "%C0%AE%C0%AE%C0%AF",
    "%E2%80%AE",
    "%F0%9F%93%B1",
    "a".repeat(1000),
    "1".repeat(1000),
    "%2F".repeat(300),
    "123e4567-e89b-42d3-a456-426614174000", // a well-formed UUID of nothing
    "123E4567-E89B-42D3-A456-426614174000",
    "123e4567-e89b-42d3-a456-4266141740000",
    "%20123e4567-e89b-42d3-a456-426614174000",
    "{id}",
    "null",
    "*",
    "%",
    "%zz",
  ];

  test("every JSON write endpoint refuses every bad body and every bad field, and nothing is written", { timeout: 600_000 }, async () => {
    const before = await snapshot();
    let count = 0;
    for (const ep of endpoints()) {
      for (const [label, options, status, code] of bodyCases(ep.valid)) {
        await refused(`${ep.name}, ${label}`, ep.dialect, ep.method, ep.path, { ...options, headers: { ...ep.headers, ...options.headers } }, status, code);
        count++;
      }
      for (const body of ep.bad) {
        const text = JSON.stringify(body);
        const res = await refused(
          `${ep.name}, ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`,
          ep.dialect,
          ep.method,
          ep.path,
          { headers: { ...ep.headers, "content-type": "application/json" }, body: text },
        );
        check([400, 404, 413].includes(res.status), `${ep.name} ${text.slice(0, 120)}: ${res.status}, expected 400, 404 or 413`);
        count++;
      }
    }
    assertNoProblems("bad bodies and fields");
    assert.deepEqual(await snapshot(), before, "KV unchanged by the refused requests");
    console.log(`bad bodies and fields: ${count} requests, all 4xx with a code, KV unchanged`);
  });

  test("the token endpoint refuses bad bodies with 1600 or 1002, and writes nothing", async () => {
    const before = await snapshot();
    const basic = { authorization: `Basic ${Buffer.from(`${app.appId}:${app.appSecret}`).toString("base64")}` };
    const form = { ...basic, "content-type": "application/x-www-form-urlencoded" };
    const cases = [
      ["body of 16 KiB + 1", { headers: form, body: `grant_type=client_credentials&pad=${"x".repeat(LIMIT)}` }, 413, 1002],
      ["body of 17 KiB chunked", { headers: form, chunks: ["grant_type=client_credentials&pad=", "x".repeat(17 * KIB)] }, 413, 1002],
      ["JSON", { headers: { ...basic, "content-type": "application/json" }, body: '{"grant_type":"client_credentials"}' }, 400, 1600],
      ["text/plain", { headers: { ...basic, "content-type": "text/plain" }, body: "grant_type=client_credentials" }, 400, 1600],
      ["no content type", { headers: basic, body: "grant_type=client_credentials" }, 400, 1600],
      ["an empty form", { headers: form, body: "" }, 400, 1600],
      ["another grant", { headers: form, body: "grant_type=password&username=a&password=b" }, 400, 1600],
      ["a grant with a NUL", { headers: form, body: "grant_type=client_credentials%00" }, 400, 1600],
      ["a grant with a lone surrogate", { headers: form, body: "grant_type=client_credentials%ED%A0%80" }, 400, 1600],
      ["a huge grant", { headers: form, body: `grant_type=${"g".repeat(15_000)}` }, 400, 1600],
      ["an unknown scope", { headers: form, body: "grant_type=client_credentials&scope=admin" }, 400, 1600],
      ["a scope of emoji", { headers: form, body: `grant_type=client_credentials&scope=${encodeURIComponent(emojis)}` }, 400, 1600],
      ["invalid UTF-8", { headers: form, body: Buffer.from([0x67, 0x3d, 0xff, 0xfe]) }, 400, 1600],
      ["bad escapes", { headers: form, body: "grant_type=%zz%4&scope=%" }, 400, 1600],
      ["no credentials", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" }, 401, 1600],
      ["Basic junk", { headers: { ...form, authorization: "Basic %%%" }, body: "grant_type=client_credentials" }, 401, 1600],
      ["Basic without colon", { headers: { ...form, authorization: `Basic ${Buffer.from("nocolon").toString("base64")}` }, body: "grant_type=client_credentials" }, 401, 1600],
      ["Basic with a traversal id", { headers: { ...form, authorization: `Basic ${Buffer.from(`../../${app.appId}:${app.appSecret}`).toString("base64")}` }, body: "grant_type=client_credentials" }, 401, 1600],
      ["Basic with a 10 KB id", { headers: { ...form, authorization: `Basic ${Buffer.from(`${"a".repeat(10_000)}:x`).toString("base64")}` }, body: "grant_type=client_credentials" }, 401, 1600],
      ["Basic with invalid UTF-8", { headers: { ...form, authorization: `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString("base64")}` }, body: "grant_type=client_credentials" }, 401, 1600],
    ];
    for (const [label, options, status, code] of cases) {
      await refused(`POST /oauth/token, ${label}`, "smscx", "POST", "/oauth/token", options, status, code);
    }
    assertNoProblems("token endpoint");
    assert.deepEqual(await snapshot(), before, "KV unchanged");
  });

  test("ids with traversal, junk and odd lengths are 404 on every id route, and nothing is written", { timeout: 300_000 }, async () => {
    const before = await snapshot();
    const json = { "content-type": "application/json" };
    const routes = [
      ["smscx", "GET", (id) => `/otp/${id}`, smscxKey(), undefined, 2021],
      ["smscx", "POST", (id) => `/otp/${id}`, { ...smscxKey(), ...json }, JSON.stringify({ pin }), 2021],
      ["smscx", "DELETE", (id) => `/otp/${id}`, smscxKey(), undefined, 2021],
      ["smscx", "GET", (id) => `/admin/apps/${id}`, adminKey(), undefined, 1010],
      ["smscx", "PATCH", (id) => `/admin/apps/${id}`, { ...adminKey(), ...json }, JSON.stringify({ name: "Renamed" }), 1010],
      ["smscx", "DELETE", (id) => `/admin/apps/${id}`, adminKey(), undefined, 1010],
      ["smscx", "POST", (id) => `/admin/apps/${id}/rotate-secret`, adminKey(), undefined, 1010],
      ["smscx", "POST", (id) => `/admin/apps/${id}/rotate-api-key`, adminKey(), undefined, 1010],
      ["smscx", "POST", (id) => `/admin/apps/${id}/rotate-webhook-secret`, adminKey(), undefined, 1010],
      ["dexatel", "GET", (id) => `/v1/templates/${id}`, dexatelKey(), undefined],
      ["dexatel", "PUT", (id) => `/v1/templates/${id}`, { ...dexatelKey(), ...json }, JSON.stringify({ data: { text: "New {code}" } })],
      ["dexatel", "DELETE", (id) => `/v1/templates/${id}`, dexatelKey(), undefined],
      ["dexatel", "GET", (id) => `/v1/senders/${id}`, dexatelKey(), undefined],
    ];
    let count = 0;
    for (const [dialect, method, path, headers, body, code] of routes) {
      for (const id of BAD_IDS) {
        await refused("a bad id", dialect, method, path(id), { headers, body }, 404, code);
        count++;
      }
    }
    // Raw paths that a client library would normalise: whatever workerd makes of
    // them, the answer is a 4xx and nothing moves. (A trailing slash is no
    // bad input: `/otp/{id}/` is the route `/otp/{id}`.)
    const rawPaths = [
      ["POST", `/otp/../admin/apps`, smscxKey()],
      ["POST", `/otp/%2e%2e/admin/apps`, smscxKey()],
      ["DELETE", `/otp/./${otpId}/..`, smscxKey()],
      ["DELETE", `/admin/apps/../apps/${app.appId}/x`, adminKey()],
      ["PUT", `/v1/templates/../senders`, dexatelKey()],
      ["POST", `//otp`, smscxKey()],
      ["POST", `/otp/`, smscxKey()],
      ["POST", `/otp//${otpId}`, smscxKey()],
      ["DELETE", `/otp/${otpId}/x`, smscxKey()],
      ["POST", `/v1/verifications/${otpId}`, dexatelKey()],
    ];
    for (const [method, path, headers] of rawPaths) {
      const res = await rawRequest(worker.url, method, path, { headers: { ...headers, ...json }, body: JSON.stringify({ pin, name: "x", data: {} }) });
      replies.push({ label: "raw path", method, path, status: res.status });
      check(res.status >= 400 && res.status < 500, `raw path: ${method} ${path} -> ${res.status} ${res.text.slice(0, 200)}`);
      check(res.headers["x-request-id"] && res.headers["x-response-time"], `raw path: ${method} ${path}: no X-Request-Id or X-Response-Time`);
      count++;
    }
    assertNoProblems("bad ids and raw paths");
    assert.deepEqual(await snapshot(), before, "KV unchanged");
    console.log(`bad ids and raw paths: ${count} requests, all 4xx, KV unchanged`);
  });

  test("a 100 MiB chunked body is refused after its first 16 KiB, never held in memory", { skip: !existsSync("/proc/self/status") && "needs /proc" }, async () => {
    // workerd is this process' child: its peak memory must not grow with the body.
    const children = readdirSync("/proc").filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1] === String(process.pid);
      } catch {
        return false;
      }
    });
    const peakKiB = () =>
      children.reduce((sum, pid) => sum + Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+)/)?.[1] ?? 0), 0);
    assert.ok(children.length > 0, "workerd found");
    const before = peakKiB();
    const MiB = Buffer.alloc(KIB * KIB, 0x20);
    const started = Date.now();
    const res = await rawRequest(worker.url, "POST", "/otp", {
      headers: { ...smscxKey(), "content-type": "application/json" },
      chunks: [Buffer.from('{"phoneNumber":"'), ...Array.from({ length: 100 }, () => MiB), Buffer.from('"}')],
    });
    // The worker answers 413 and closes the connection while the client still writes:
    // the client sees the answer, or, when the close wins the race, a reset. Either
    // way the body was refused unread; what matters is the memory figure below.
    if (res.status === 0) {
      assert.match(String(res.error?.code), /^(ECONNRESET|EPIPE)$/, res.text);
    } else {
      assert.equal(res.status, 413, res.text);
      assert.equal(res.body.error.code, 1002);
    }
    const grownMiB = (peakKiB() - before) / KIB;
    console.log(`100 MiB chunked body: ${res.status || res.error.code} in ${Date.now() - started} ms, workerd peak memory +${grownMiB.toFixed(1)} MiB`);
    assert.ok(grownMiB < 32, `workerd's peak memory grew by ${grownMiB.toFixed(1)} MiB: the body was buffered`);
  });

  test("odd PIN strings are wrong guesses, counted once each, never a 5xx", async () => {
    const client = api.otp(app.apiKey);
    const sent = await client.send({ phoneNumber: "+33612424112", maxAttempts: 10 });
    assert.equal(sent.status, 201);
    const guesses = ["x".repeat(15_000), emojis, `${rtl}123456`, `12${zeroWidth}3456`, "\u0000\u0000\u0000\u0000", "١٢٣٤٥٦", "' OR 1=1 --"];
    for (const [i, guess] of guesses.entries()) {
      const res = await api.call("POST", `/otp/${sent.body.otpId}`, { body: { pin: guess }, headers: smscxKey(), now: T0 });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 2029, `guess ${i}`);
      assert.ok(res.headers.get("x-request-id"));
    }
    assert.equal((await client.get(sent.body.otpId)).body.attempts, guesses.length);
  });

  test("after all of it, the pending OTP is untouched and its PIN still works", async () => {
    const client = api.otp(app.apiKey);
    const state = await client.get(otpId);
    assert.equal(state.body.status, "PENDING");
    assert.equal(state.body.attempts, 0, "no refused request counted an attempt");
    assert.equal((await client.verify(otpId, pin)).status, 200);
    assert.equal((await api.admin("GET", `/admin/apps/${app.appId}`)).body.name, "Bad Input");
    const statuses = {};
    for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    console.log(`bad input: ${replies.length} refused requests in all, by status ${JSON.stringify(statuses)}`);
    assert.ok(!replies.some((r) => r.status >= 500));
  });
});
