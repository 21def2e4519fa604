// Security hardening (issue 19) on the built worker in workerd (Miniflare): no serving
// with example or short secrets outside development, wrong admin tokens throttled per
// client address, made-up credentials remembered per isolate, callback URLs to private
// hosts refused where they are configured outside development, invisible characters
// refused in names and brands and kept in templates only where a script needs them,
// and an application's data removed with it.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { apiClient, DEV_BINDINGS, dumpKv, startApi, T0 } from "../support/api.mjs";
import { ROOT, startWorker } from "./harness.mjs";

/** The secrets of `.dev.vars.example`, as a careless deployment would copy them. */
function exampleSecrets() {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  const secrets = {};
  for (const name of ["ADMIN_TOKEN", "PIN_KEYS", "TOKEN_KEY", "HASH_KEY"]) {
    secrets[name] = text.match(new RegExp(`^${name}=(.*)$`, "m"))[1].trim();
  }
  return secrets;
}

/** Secrets of a production deployment done right (32+ byte admin token). */
const GOOD_SECRETS = {
  ADMIN_TOKEN: "a-production-admin-token-0123456789abcdef",
  PIN_KEYS: "a-production-pin-key-0123456789",
  TOKEN_KEY: "a-production-token-key-0123456789",
  HASH_KEY: "a-production-hash-key-0123456789",
};

/** Every API area, one route each, with what it needs to get past routing. */
const API_ROUTES = [
  ["POST", "/otp", { "content-type": "application/json", "x-api-key": "otpk_x" }, '{"phoneNumber":"+33612425001"}'],
  ["GET", "/otp/123e4567-e89b-42d3-a456-426614174000", { "x-api-key": "otpk_x" }],
  ["POST", "/oauth/token", { "content-type": "application/x-www-form-urlencoded" }, "grant_type=client_credentials"],
  ["GET", "/v1/verifications?phone=33612425001&code=123456", { "x-dexatel-key": "otpk_x" }],
  ["GET", "/v1/templates", { "x-dexatel-key": "otpk_x" }],
  ["POST", "/admin/apps", { "content-type": "application/json" }, '{"name":"x"}'],
  ["GET", "/admin/apps/123e4567-e89b-42d3-a456-426614174000", {}],
];

function assertCode(res, status, code, reason) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
  if (reason !== undefined) assert.equal(res.body.error.reason, reason, JSON.stringify(res.body));
}

function assertDxCode(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.errors?.[0]?.code, code, JSON.stringify(res.body));
}

/** Starts a worker that keeps what workerd writes to stdout and stderr. */
async function startCapturing(bindings) {
  const captured = { text: "" };
  const worker = await startWorker({
    bindings,
    kvNamespaces: ["OTP_KV", "OUTBOX_KV"],
    miniflare: {
      handleRuntimeStdio(stdout, stderr) {
        for (const stream of [stdout, stderr]) stream.setEncoding("utf8").on("data", (c) => (captured.text += c));
      },
    },
  });
  return { worker, captured };
}

describe("production refuses example and short secrets", () => {
  let refused, short, good, dev;
  const examples = exampleSecrets();
  before(async () => {
    refused = await startCapturing({ ...examples, ENVIRONMENT: "production" });
    short = await startCapturing({ ...GOOD_SECRETS, ADMIN_TOKEN: "x".repeat(31), ENVIRONMENT: "production" });
    good = await startWorker({ bindings: { ...GOOD_SECRETS, ENVIRONMENT: "production" } });
    dev = await startWorker({ bindings: { ...examples, ENVIRONMENT: "development" } });
  });
  after(async () => {
    await Promise.all([refused?.worker.dispose(), short?.worker.dispose(), good?.dispose(), dev?.dispose()]);
  });

  test("with the example secrets every API route answers 1006, with one log line naming the secrets", async () => {
    for (const [method, url, headers, body] of API_ROUTES) {
      for (const authorization of [undefined, `Bearer ${examples.ADMIN_TOKEN}`]) {
        const res = await refused.worker.fetch(url, {
          method,
          headers: { ...headers, ...(authorization ? { authorization } : {}) },
          body,
        });
        const json = await res.json();
        assert.equal(res.status, 500, `${method} ${url}`);
        assert.equal(json.error?.code ?? json.errors?.[0]?.code, 1006, `${method} ${url}: ${JSON.stringify(json)}`);
      }
    }
    // workerd's output arrives on its own time.
    const refusals = () => refused.captured.text.split("\n").filter((l) => l.includes("configuration: refusing to serve"));
    for (let i = 0; i < 50 && refusals().length === 0; i++) await sleep(20);
    await sleep(100);
    const lines = refusals();
    assert.equal(lines.length, 1, refused.captured.text);
    for (const name of ["ADMIN_TOKEN", "PIN_KEYS", "TOKEN_KEY", "HASH_KEY"]) assert.match(lines[0], new RegExp(name));
    assert.match(lines[0], /ADMIN_TOKEN is shorter than 32 bytes/);
    for (const value of Object.values(examples)) assert.ok(!refused.captured.text.includes(value), "no secret value in the log");
  });

  test("GET /health says why: 503 misconfigured, naming each secret and never its value", async () => {
    const res = await refused.worker.fetch("/health");
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.status, "misconfigured");
    assert.equal(body.service, "otp-sms-verify");
    assert.deepEqual(
      body.problems.map((p) => p.split(" ")[0]),
      ["ADMIN_TOKEN", "PIN_KEYS", "TOKEN_KEY", "HASH_KEY", "ADMIN_TOKEN"],
    );
    assert.match(body.problems.join("\n"), /example value of \.dev\.vars\.example/);
    const text = JSON.stringify(body);
    for (const value of Object.values(examples)) assert.ok(!text.includes(value));
  });

  test("an admin token under 32 bytes is refused the same way, the rest being sound", async () => {
    const res = await short.worker.fetch("/admin/apps", {
      method: "POST",
      headers: { authorization: `Bearer ${"x".repeat(31)}`, "content-type": "application/json" },
      body: '{"name":"x"}',
    });
    assert.equal(res.status, 500);
    assert.equal((await res.json()).error.code, 1006);
    const health = await (await short.worker.fetch("/health")).json();
    assert.deepEqual(health.problems, ["ADMIN_TOKEN is shorter than 32 bytes (e.g. the output of: openssl rand -base64 33)"]);
  });

  test("each of the PIN keys counts: an example key kept after a rotation is refused", async () => {
    const rotated = await startWorker({
      bindings: { ...GOOD_SECRETS, PIN_KEYS: `${GOOD_SECRETS.PIN_KEYS},${examples.PIN_KEYS}`, ENVIRONMENT: "production" },
    });
    try {
      const health = await (await rotated.fetch("/health")).json();
      assert.equal(health.status, "misconfigured");
      assert.equal(health.problems.length, 1);
      assert.match(health.problems[0], /^PIN_KEYS holds an example value/);
    } finally {
      await rotated.dispose();
    }
  });

  test("real secrets serve; development keeps the example ones", async () => {
    for (const worker of [good, dev]) {
      const health = await worker.fetch("/health");
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
    }
    const created = await apiClient(good, GOOD_SECRETS.ADMIN_TOKEN).admin("POST", "/admin/apps", {
      name: "Prod",
      gateway: { type: "webhook", url: "https://example.com/sms" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const devCreated = await apiClient(dev, examples.ADMIN_TOKEN).admin("POST", "/admin/apps", { name: "Dev" });
    assert.equal(devCreated.status, 201, JSON.stringify(devCreated.body));
  });
});

describe("wrong admin tokens are throttled per client address", () => {
  let worker, api;
  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  /** An admin request from `ip` at `now` (development clock) with `token`. */
  const adminFrom = (ip, token, now = T0) =>
    api.call("GET", "/admin/apps/123e4567-e89b-42d3-a456-426614174000", {
      headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": ip },
      now,
    });

  test("after 10 wrong tokens an address is refused, the right token too, until the window ends", async () => {
    const ip = "203.0.113.7";
    // T0 is 2027-01-15 08:00:00 UTC, on a 15-minute boundary: the window ends at T0 + 900.
    assert.equal(T0 % 900, 0);
    for (let i = 0; i < 10; i++) assertCode(await adminFrom(ip, `wrong-${i}`, T0 + i), 401, 1012);
    for (const token of ["wrong-again", DEV_BINDINGS.ADMIN_TOKEN]) {
      const res = await adminFrom(ip, token, T0 + 100);
      assertCode(res, 429, 1050);
      assert.equal(res.headers.get("retry-after"), "800");
    }
    // Other addresses are not affected, nor another /64.
    assertCode(await adminFrom("198.51.100.9", DEV_BINDINGS.ADMIN_TOKEN, T0 + 100), 404, 1010);
    assertCode(await adminFrom("2001:db8:1:2::1", DEV_BINDINGS.ADMIN_TOKEN, T0 + 100), 404, 1010);
    // The window ends: the address may try again.
    assertCode(await adminFrom(ip, DEV_BINDINGS.ADMIN_TOKEN, T0 + 900), 404, 1010);
  });

  test("an IPv6 address is counted by its /64", async () => {
    for (let i = 0; i < 10; i++) assertCode(await adminFrom(`2001:db8:aa:bb::${i + 1}`, "nope", T0 + 2000 + i), 401, 1012);
    assertCode(await adminFrom("2001:db8:aa:bb:ffff::1", DEV_BINDINGS.ADMIN_TOKEN, T0 + 2000 + 20), 429, 1050);
  });

  test("the right token is never counted", async () => {
    for (let i = 0; i < 15; i++) assertCode(await adminFrom("192.0.2.44", DEV_BINDINGS.ADMIN_TOKEN, T0 + 3600 + i), 404, 1010);
  });
});

describe("made-up credentials cost one KV read per isolate, not one per request", () => {
  let worker, api;
  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  const kvReads = (res) => Number(/kv-reads=(\d+)/.exec(res.headers.get("x-storage-ops") ?? "")?.[1]);

  test("an unknown API key, in either dialect", async () => {
    const key = `otpk_${"A".repeat(32)}`;
    const first = await api.call("GET", "/otp/123e4567-e89b-42d3-a456-426614174000", { headers: { "x-api-key": key } });
    assertCode(first, 401, 1602);
    assert.equal(kvReads(first), 1);
    const again = await api.call("GET", "/otp/123e4567-e89b-42d3-a456-426614174000", { headers: { "x-api-key": key } });
    assertCode(again, 401, 1602);
    assert.equal(kvReads(again), 0, "remembered");
    const dexatel = await api.call("GET", "/v1/templates", { headers: { "x-dexatel-key": key } });
    assertDxCode(dexatel, 401, 1602);
    assert.equal(kvReads(dexatel), 0, "the same memory for the Dexatel dialect");
  });

  test("an unknown application id in HTTP Basic", async () => {
    const basic = `Basic ${Buffer.from("123e4567-e89b-42d3-a456-426614174999:secret").toString("base64")}`;
    const token = () =>
      api.call("POST", "/oauth/token", {
        body: "grant_type=client_credentials",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      });
    const first = await token();
    assertCode(first, 401, 1600);
    assert.equal(kvReads(first), 1);
    const again = await token();
    assertCode(again, 401, 1600);
    assert.equal(kvReads(again), 0);
  });

  test("real keys and new applications are not affected", async () => {
    const app = await api.createApp({ name: "Known" });
    const res = await api.otp(app.apiKey).send({ phoneNumber: "+33612425010" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
});

describe("callback URLs to private hosts are refused where they are configured, outside development", () => {
  let prod, dev;
  before(async () => {
    prod = await startApi({ bindings: { ...GOOD_SECRETS, ENVIRONMENT: "production" } });
    dev = await startApi();
  });
  after(async () => {
    await Promise.all([prod?.dispose(), dev?.dispose()]);
  });

  test("settings and requests refuse localhost, 127.0.0.1 and [::1] in production", async () => {
    const gateway = { type: "webhook", url: "https://example.com/sms" };
    for (const url of ["http://localhost:3000/cb", "http://127.0.0.1/cb", "https://[::1]/cb", "https://10.0.0.1/cb"]) {
      assertCode(
        await prod.api.admin("POST", "/admin/apps", { name: "P", gateway, otp: { callbackUrl: url } }),
        400,
        2019,
        "callback_url_private_host",
      );
    }
    const created = await prod.api.admin("POST", "/admin/apps", { name: "P", gateway });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assertCode(
      await prod.api.admin("PATCH", `/admin/apps/${created.body.appId}`, { otp: { callbackUrl: "http://127.0.0.1:9/cb" } }),
      400,
      2019,
      "callback_url_private_host",
    );
    const send = await prod.api.call("POST", "/otp", {
      body: { phoneNumber: "+33612425020", otpCallbackUrl: "http://localhost:3000/cb" },
      headers: { "x-api-key": created.body.apiKey },
    });
    assertCode(send, 400, 2019, "callback_url_private_host");
  });

  test("development allows them (a receiver on the same machine)", async () => {
    const app = await dev.api.createApp({ name: "D", otp: { callbackUrl: "http://127.0.0.1:9/cb" } });
    const res = await dev.api.otp(app.apiKey).send({ phoneNumber: "+33612425021", otpCallbackUrl: "http://localhost:9/x" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.otpCallbackUrl, "http://localhost:9/x");
  });
});

describe("invisible characters", () => {
  let worker, api, app;
  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Acme" });
  });
  after(async () => {
    await worker?.dispose();
  });

  test("names and brands refuse bidi overrides and zero-width characters", async () => {
    for (const name of ["Acme\u202Egnp.exe", "Ac\u200Bme", "\u2066Acme\u2069", "Acme\uFEFF"]) {
      assertCode(await api.admin("POST", "/admin/apps", { name }), 400, 1011);
      assertCode(await api.admin("PATCH", `/admin/apps/${app.appId}`, { name }), 400, 1011);
      assertCode(
        await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { brand: name } }),
        400,
        2140,
        "brand_invisible_character",
      );
    }
    const otp = api.otp(app.apiKey);
    assertCode(await otp.send({ phoneNumber: "+33612425030", from: "ACME\u202E" }), 400, 2005, "from_invalid");
  });

  test("templates keep only what a script needs", async () => {
    const otp = api.otp(app.apiKey);
    assertCode(
      await otp.send({ phoneNumber: "+33612425031", template: "Code [{{pin}}] \u202Egnp" }),
      400,
      2006,
      "template_invisible_character",
    );
    assertCode(
      await api.admin("PATCH", `/admin/apps/${app.appId}`, { otp: { template: "Co\u200Bde [{{pin}}]" } }),
      400,
      2006,
      "template_invisible_character",
    );
    const persian = "کد شما [{{pin}}] است. می\u200Cخواهم";
    const sent = await otp.send({ phoneNumber: "+33612425032", template: persian });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const [message] = await api.outbox("+33612425032");
    assert.ok(message.text.includes("می\u200Cخواهم"), "the ZWNJ reaches the SMS");
  });

  test("Dexatel senders and templates", async () => {
    const headers = { "x-dexatel-key": app.apiKey };
    const post = (url, data) => api.call("POST", url, { body: { data }, headers });
    assertDxCode(await post("/v1/senders", { name: "Acme\u200B", code: "Acme" }), 400, 1405);
    assertDxCode(await post("/v1/senders", { name: "Acme", code: "Ac\u202Eme" }), 400, 1407);
    assertDxCode(await post("/v1/templates", { text: "Code {code}\u202E", channel: "SMS" }), 400, 1255);
    assertDxCode(await post("/v1/templates", { name: "Log\u2066in", text: "Code {code}", channel: "SMS" }), 400, 1259);
    const ok = await post("/v1/templates", { text: "رمز {code}\u200F Acme", channel: "SMS" });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });
});

describe("deleting an application removes its data", () => {
  let worker, api;
  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  const hmacHex = (data) => createHmac("sha256", DEV_BINDINGS.HASH_KEY).update(data).digest("hex");

  /** Asks an object directly, in the worker's own protocol (worker/src/durable.rs). */
  async function ask(binding, name, request) {
    const ns = await worker.mf.getDurableObjectNamespace(binding);
    const [reply] = await ns.get(ns.idFromName(name)).call(JSON.stringify(request));
    return JSON.parse(reply);
  }

  test("templates, senders, records, number states and rate-limit buckets go with it", async () => {
    const app = await api.createApp({ name: "Doomed", limits: { phonePerHour: 1 } });
    const dexatel = { "x-dexatel-key": app.apiKey };
    const post = (url, data) => api.call("POST", url, { body: { data }, headers: dexatel, now: T0 });
    assert.equal((await post("/v1/templates", { text: "Code {code}", channel: "SMS" })).status, 201);
    assert.equal((await post("/v1/senders", { name: "Doomed", code: "Doomed" })).status, 201);
    const smscx = await api.otp(app.apiKey).send({ phoneNumber: "+33612425040" });
    assert.equal(smscx.status, 201, JSON.stringify(smscx.body));
    const verification = await post("/v1/verifications", { sender: "Doomed", phone: "33612425041", channel: "SMS" });
    assert.equal(verification.status, 201, JSON.stringify(verification.body));

    const otpId = smscx.body.otpId;
    const shardRequest = (op) => ({ appId: app.appId, now: T0, retention: 86400, guard: {}, op });
    const numberHash = hmacHex(`number.${app.appId}.+33612425041`);
    const probes = async () => ({
      stored: await ask("OTP_SHARD", `${app.appId}:${otpId[0]}`, shardRequest({ read: { otp_id: otpId } })),
      number: await ask("OTP_SHARD", `${app.appId}:${numberHash[0]}`, shardRequest({ listNumber: { number: numberHash } })),
      bucket: await ask("RATE_LIMITER", `limits:${app.appId}`, {
        check: {
          take: {
            bucket: `b:phone:${hmacHex("phone.+33612425040")}`,
            limits: { cooldownSeconds: 0, windows: [{ windowSeconds: 3600, max: 1 }] },
            units: 1,
          },
          now: T0,
        },
      }),
    });
    const before = await probes();
    assert.equal(before.stored.record?.record?.otpId, otpId, JSON.stringify(before.stored));
    assert.equal(before.number.listed?.items.length, 1, JSON.stringify(before.number));
    assert.ok(before.bucket.Err, `the number's hourly bucket is spent: ${JSON.stringify(before.bucket)}`);
    const keys = (await dumpKv(worker)).map(([k]) => k);
    assert.ok(keys.includes(`dxtemplates:${app.appId}`) && keys.includes(`dxsenders:${app.appId}`));

    const deleted = await api.admin("DELETE", `/admin/apps/${app.appId}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));

    const afterwards = await probes();
    assert.equal(afterwards.stored, "notFound");
    assert.deepEqual(afterwards.number, { listed: { items: [] } });
    assert.deepEqual(afterwards.bucket, { Ok: null }, "the bucket is gone");
    const left = (await dumpKv(worker)).map(([k]) => k).filter((k) => k.includes(app.appId) || k.startsWith("apikey:"));
    // Only the KV copies of its records, which expire on their own.
    assert.deepEqual(left.filter((k) => !k.startsWith(`otp:${app.appId}:`)), []);
    assertCode(await api.admin("GET", `/admin/apps/${app.appId}`), 404, 1010);
    assertCode(await api.otp(app.apiKey).get(otpId), 401, 1602);
  });
});
