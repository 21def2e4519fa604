// The admin API's webhook endpoints for the operator console: a test event signed
// like a status callback (under the same URL policy), the log of the last
// deliveries (status callbacks, EXPIRED callbacks and test events, with their
// results), and the blocks in force across every application (the overview).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { closedPort, startFakeProvider, verifyStandardWebhook } from "../support/fake-provider.mjs";
import { DEV_BINDINGS, startApi } from "../support/api.mjs";

const PHONE = "+33612424111";
/** The fields of SMS.CX's OTP object: a test event carries one of exactly these. */
const OTP_FIELDS = [
  "attempts", "cost", "countryIso", "dateCreated", "dateExpires", "maxAttempts", "otpCallbackUrl",
  "otpId", "parts", "phoneNumber", "status", "trackId", "ttl",
];

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
}

describe("webhook test events and the delivery log", () => {
  let worker, api, receiver, deadPort;

  before(async () => {
    receiver = await startFakeProvider();
    deadPort = await closedPort();
    worker = await startApi({ bindings: { CALLBACK_RETRY_BASE_MS: "50", CALLBACK_TIMEOUT_MS: "1000" } });
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
    await receiver?.close();
  });

  const deliveries = async (appId) => {
    const res = await api.admin("GET", `/admin/apps/${appId}/webhooks/deliveries`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data;
  };

  /** Waits until `appId`'s log holds an entry matching `pred`. */
  async function waitForDelivery(appId, pred, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await deliveries(appId)).find(pred);
      if (found) return found;
      if (Date.now() > deadline) assert.fail(`no matching delivery: ${JSON.stringify(await deliveries(appId))}`);
      await sleep(100);
    }
  }

  test("a test event is signed like a status callback, sent once, answered and logged with the host only", async () => {
    const app = await api.createApp({ name: "Hooks" });
    const url = `${receiver.url}/test-event?token=receiver-secret-123`;
    const res = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const entry = res.body;
    assert.equal(entry.outcome, "delivered");
    assert.equal(entry.httpStatus, 200);
    assert.equal(entry.attempts, 1);
    assert.equal(entry.kind, "test");
    assert.equal(entry.event, "test");
    assert.equal(entry.host, new URL(receiver.url).host);
    assert.ok(Number.isInteger(entry.latencyMs) && entry.latencyMs >= 0);
    assert.match(entry.date, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.match(entry.webhookId, /^msg_/);
    assert.ok(!JSON.stringify(entry).includes("receiver-secret-123"), "no query kept");
    assert.ok(!JSON.stringify(entry).includes("/test-event"), "no path kept");

    const [hook] = receiver.requestsTo("/test-event");
    assert.ok(hook, "the receiver got it");
    assert.equal(hook.headers["webhook-id"], entry.webhookId);
    assert.equal(hook.headers["content-type"], "application/json");
    assert.ok(verifyStandardWebhook(app.webhookSecret, hook.headers, hook.body), "signed with the webhook secret");
    const body = JSON.parse(hook.body);
    assert.equal(body.event, "test");
    assert.equal(body.data.length, 1);
    assert.deepEqual(Object.keys(body.data[0]).sort(), OTP_FIELDS, "an OTP object of SMS.CX's shape");
    assert.match(body.data[0].phoneNumber, /\*{4}$/, "a masked example number");

    const log = await deliveries(app.appId);
    assert.equal(log.length, 1);
    assert.deepEqual(log[0], entry, "the log holds what the reply said");
  });

  test("without a URL the test goes to the app's callback URL, after a secret rotation with the new secret", async () => {
    const app = await api.createApp({ name: "Configured", otp: { callbackUrl: `${receiver.url}/configured` } });
    const rotated = await api.admin("POST", `/admin/apps/${app.appId}/rotate-webhook-secret`);
    assert.equal(rotated.status, 200);
    const res = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, {});
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.outcome, "delivered");
    const [hook] = receiver.requestsTo("/configured");
    assert.ok(verifyStandardWebhook(rotated.body.webhookSecret, hook.headers, hook.body), "the new secret signs");
    assert.ok(!verifyStandardWebhook(app.webhookSecret, hook.headers, hook.body), "the old one no longer does");
  });

  test("a failing or unreachable receiver is answered and logged as failed, in one attempt", async () => {
    const app = await api.createApp({ name: "Failing" });
    receiver.setPlan({ mode: "status", status: 503 }, "/down");
    const failed = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url: `${receiver.url}/down` });
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    assert.equal(failed.body.outcome, "failed");
    assert.equal(failed.body.httpStatus, 503);
    assert.equal(failed.body.attempts, 1, "a test is not retried");
    assert.equal(receiver.requestsTo("/down").length, 1);
    const gone = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url: `http://127.0.0.1:${deadPort}/cb` });
    assert.equal(gone.body.outcome, "failed");
    assert.equal(gone.body.error, "unreachable");
    assert.equal(gone.body.httpStatus, undefined);
    const log = await deliveries(app.appId);
    assert.deepEqual(
      log.map((e) => [e.outcome, e.httpStatus ?? e.error]),
      [["failed", "unreachable"], ["failed", 503]],
      "newest first",
    );
  });

  test("bad requests get a clear 400 and change nothing", async () => {
    const app = await api.createApp({ name: "Bad input" });
    assertError(await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, {}), 400, 1064);
    for (const body of [{ url: 5 }, { url: "" }, { url: `${receiver.url}/x`, extra: true }]) {
      assertError(await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, body), 400, 1063);
    }
    assertError(await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, "[]"), 400, 1000);
    for (const [url, reason] of [
      ["ftp://hooks.example.com/x", null],
      ["https://2130706433/cb", "callback_url_numeric_host"],
      ["not a url", null],
    ]) {
      const res = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url });
      assertError(res, 400, 2019);
      if (reason) assert.equal(res.body.error.reason, reason);
    }
    assertError(await api.admin("POST", "/admin/apps/00000000-0000-4000-8000-000000000000/webhooks/test", {}), 404, 1010);
    assertError(await api.admin("GET", "/admin/apps/00000000-0000-4000-8000-000000000000/webhooks/deliveries"), 404, 1010);
    assertError(await api.admin("GET", `/admin/apps/${app.appId}/webhooks/test`), 405, 405);
    assertError(await api.admin("POST", `/admin/apps/${app.appId}/webhooks/deliveries`, {}), 405, 405);
    assert.deepEqual(await deliveries(app.appId), [], "nothing was sent or logged");
    // A console session must send its own Origin to send a test event.
    const origin = new URL(worker.url).origin;
    const session = await api.call("POST", "/admin/session", {
      body: { token: DEV_BINDINGS.ADMIN_TOKEN },
      headers: { origin, "cf-connecting-ip": "192.0.2.98" },
    });
    const cookie = (session.headers.get("set-cookie") ?? "").split(";")[0];
    const byCookie = (headers) =>
      api.call("POST", `/admin/apps/${app.appId}/webhooks/test`, { body: { url: `${receiver.url}/cookie` }, headers: { cookie, ...headers } });
    assertError(await byCookie({}), 403, 1060);
    assertError(await byCookie({ origin: "https://evil.example" }), 403, 1060);
    assert.equal(receiver.requestsTo("/cookie").length, 0);
    const unauthenticated = await api.call("GET", `/admin/apps/${app.appId}/webhooks/deliveries`, {
      headers: { "cf-connecting-ip": "192.0.2.99" },
    });
    assertError(unauthenticated, 401, 1012);
  });

  test("status callbacks and their retries are logged with the OTP they report", async () => {
    const app = await api.createApp({ name: "Real callbacks" });
    const otp = api.otp(app.apiKey);
    let failed = 0;
    receiver.setPlan(() => (failed++ < 1 ? { mode: "status", status: 503 } : { mode: "ok" }), "/real");
    const sent = await otp.send({ phoneNumber: PHONE, otpCallbackUrl: `${receiver.url}/real?k=v` });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const { pin } = await api.pinOf(PHONE, sent.body.otpId);
    assert.equal((await otp.verify(sent.body.otpId, pin)).status, 200);
    const entry = await waitForDelivery(app.appId, (e) => e.otpId === sent.body.otpId);
    assert.equal(entry.kind, "status");
    assert.equal(entry.event, "otp_update");
    assert.equal(entry.otpStatus, "VERIFIED");
    assert.equal(entry.outcome, "delivered");
    assert.equal(entry.httpStatus, 200);
    assert.equal(entry.attempts, 2, "the 503 was retried");
    assert.equal(entry.host, new URL(receiver.url).host);
    const hooks = receiver.requestsTo("/real");
    assert.equal(hooks.length, 2);
    assert.equal(hooks[0].headers["webhook-id"], entry.webhookId);
  });

  test("a status callback the policy refuses is logged as not sent, with the reason", async () => {
    const app = await api.createApp({ name: "Bad secret" });
    // A secret the core refuses (stored before the rule, say): nothing may be signed with it.
    const kv = await worker.kv();
    const record = JSON.parse(await kv.get(`app:${app.appId}`));
    await kv.put(`app:${app.appId}`, JSON.stringify({ ...record, webhookSecret: "raw-secret" }));
    const otp = api.otp(app.apiKey);
    const sent = await otp.send({ phoneNumber: PHONE, otpCallbackUrl: `${receiver.url}/refused` });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const { pin } = await api.pinOf(PHONE, sent.body.otpId);
    assert.equal((await otp.verify(sent.body.otpId, pin)).status, 200);
    const entry = await waitForDelivery(app.appId, (e) => e.otpId === sent.body.otpId);
    assert.equal(entry.outcome, "not_sent");
    assert.equal(entry.error, "webhook secret must start with whsec_");
    assert.equal(entry.attempts, 0);
    assert.equal(entry.otpStatus, "VERIFIED");
    assert.equal(entry.httpStatus, undefined);
    assert.equal(receiver.requestsTo("/refused").length, 0, "nothing was sent");
  });

  test("EXPIRED callbacks from the record's alarm are logged", async () => {
    const app = await api.createApp({ name: "Expiring" });
    // X-Dev-Now a second less than the TTL before real time: the alarm rings a second from now.
    const now = Math.floor(Date.now() / 1000) - 59;
    const sent = await api.otp(app.apiKey).send({ phoneNumber: PHONE, ttl: 60, otpCallbackUrl: `${receiver.url}/expired` }, now);
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const entry = await waitForDelivery(app.appId, (e) => e.otpId === sent.body.otpId);
    assert.equal(entry.kind, "expired");
    assert.equal(entry.otpStatus, "EXPIRED");
    assert.equal(entry.outcome, "delivered");
    assert.equal(entry.attempts, 1);
  });

  test("the log keeps the newest 50", async () => {
    const app = await api.createApp({ name: "Busy" });
    const url = `${receiver.url}/busy`;
    for (let i = 0; i < 52; i++) {
      const res = await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url });
      assert.equal(res.status, 200);
    }
    const log = await deliveries(app.appId);
    assert.equal(log.length, 50);
    const ids = receiver.requestsTo("/busy").map((r) => r.headers["webhook-id"]);
    assert.deepEqual(log.map((e) => e.webhookId), ids.slice(2).reverse(), "the 50 newest, newest first");
  });

  test("deleting the application deletes its log", async () => {
    const app = await api.createApp({ name: "Short-lived" });
    await api.admin("POST", `/admin/apps/${app.appId}/webhooks/test`, { url: `${receiver.url}/short` });
    assert.equal((await deliveries(app.appId)).length, 1);
    assert.equal((await api.admin("DELETE", `/admin/apps/${app.appId}`)).status, 200);
    assertError(await api.admin("GET", `/admin/apps/${app.appId}/webhooks/deliveries`), 404, 1010);
  });
});

describe("webhook test events outside development", () => {
  let worker, receiver;

  before(async () => {
    receiver = await startFakeProvider();
    worker = await startApi({ bindings: { ENVIRONMENT: "production" } });
  });
  after(async () => {
    await worker?.dispose();
    await receiver?.close();
  });

  test("private, loopback and link-local hosts are refused (400 2019) and nothing is sent", async () => {
    const created = await worker.api.admin("POST", "/admin/apps", {
      name: "Prod hooks",
      gateway: { type: "webhook", url: "https://sms.example.com/send" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.appId;
    for (const url of [`${receiver.url}/ssrf`, "https://10.0.0.1/cb", "https://169.254.169.254/latest/meta-data/", "https://[::1]/cb", "http://localhost:8080/cb"]) {
      const res = await worker.api.admin("POST", `/admin/apps/${id}/webhooks/test`, { url });
      assertError(res, 400, 2019);
      assert.equal(res.body.error.reason, "callback_url_private_host", url);
    }
    assert.equal(receiver.requests.length, 0, "nothing reached the receiver");
    const log = await worker.api.admin("GET", `/admin/apps/${id}/webhooks/deliveries`);
    assert.deepEqual(log.body.data, []);
  });
});

describe("blocks across applications", () => {
  let worker, api;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Every page of `GET /admin/blocks` with `pageSize`; returns the blocks and the applications read. */
  async function allBlocks(pageSize) {
    const blocks = [];
    let applications = 0;
    let pages = 0;
    let token;
    do {
      const q = new URLSearchParams({ pageSize: String(pageSize), ...(token ? { pageToken: token } : {}) });
      const res = await api.admin("GET", `/admin/blocks?${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.applications <= pageSize);
      blocks.push(...res.body.data);
      applications += res.body.applications;
      token = res.body.nextPageToken;
      pages++;
    } while (token);
    return { blocks, applications, pages };
  }

  test("pages through every application and lists each block in force with its application", async () => {
    const apps = [];
    for (let i = 0; i < 5; i++) apps.push(await api.createApp({ name: `Blocks ${i}` }));
    const block = (app, scope, key) =>
      api.admin("POST", `/admin/apps/${app.appId}/fraud/blocks`, { scope, key, seconds: 3600 });
    assert.equal((await block(apps[1], "range", "3361242")).status, 204);
    assert.equal((await block(apps[4], "country", "BE")).status, 204);
    assert.equal((await block(apps[4], "range", "3361243")).status, 204);

    const { blocks, applications, pages } = await allBlocks(2);
    assert.equal(applications, 5);
    assert.ok(pages >= 3, `${pages} pages`);
    const seen = blocks.map((b) => [b.name, b.scope, b.key]).sort();
    assert.deepEqual(seen, [
      ["Blocks 1", "range", "3361242"],
      ["Blocks 4", "country", "BE"],
      ["Blocks 4", "range", "3361243"],
    ]);
    for (const b of blocks) {
      assert.ok(apps.some((a) => a.appId === b.appId));
      assert.equal(b.reason, "manual_block");
      assert.equal(b.enforced, true);
      assert.ok(b.until > b.since);
    }
    assert.deepEqual((await allBlocks(100)).blocks.length, 3, "one page reads them all too");

    const unblock = await api.admin("DELETE", `/admin/apps/${apps[4].appId}/fraud/blocks?scope=country&key=BE`);
    assert.equal(unblock.status, 204);
    assert.deepEqual((await allBlocks(100)).blocks.map((b) => b.key).sort(), ["3361242", "3361243"]);
  });

  test("bad paging parameters are 400 1062", async () => {
    for (const q of ["pageSize=0", "pageSize=101", "pageSize=two", "pageToken=not%20a%20cursor!"]) {
      assertError(await api.admin("GET", `/admin/blocks?${q}`), 400, 1062);
    }
    assertError(await api.admin("POST", "/admin/blocks", {}), 405, 405);
  });
});

describe("the overview across applications", () => {
  let worker, api;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  const DAY = 86_400;
  /** 2027-01-15 12:00 UTC: the overview's "today" under X-Dev-Now. */
  const NOW = 1_800_000_000 - (1_800_000_000 % DAY) + DAY / 2;

  test("today's and this month's figures and top countries count every application, and the first page of blocks goes on in GET /admin/blocks", async () => {
    const fr = await api.createApp({ name: "France shop" });
    const be = await api.createApp({ name: "Belgium shop" });
    const quiet = await api.createApp({ name: "Quiet shop" });
    const send = async (app, phoneNumber, now) => {
      const res = await api.otp(app.apiKey).send({ phoneNumber }, now);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.otpId;
    };
    // Today: 2 in France (one verified), 1 in Belgium; earlier this month: 1 in France;
    // last month: 1 in Belgium (not counted).
    const verified = await send(fr, "+33612424111", NOW);
    const { pin } = await api.pinOf("+33612424111", verified);
    assert.equal((await api.otp(fr.apiKey).verify(verified, pin, NOW)).status, 200);
    await send(fr, "+33612424112", NOW);
    await send(be, "+32470123456", NOW);
    await send(fr, "+33612424113", NOW - 10 * DAY);
    await send(be, "+32470123457", NOW - 20 * DAY);
    for (const app of [fr, be]) await api.sweep({ appId: app.appId, now: NOW });
    const admin = { authorization: `Bearer ${DEV_BINDINGS.ADMIN_TOKEN}` };
    // Blocks for an hour from the same (development) clock.
    const block = (app, scope, key) =>
      api.call("POST", `/admin/apps/${app.appId}/fraud/blocks`, { body: { scope, key, seconds: 3600 }, headers: admin, now: NOW });
    assert.equal((await block(quiet, "country", "BE")).status, 204);
    assert.equal((await block(fr, "range", "3361242")).status, 204);
    const res = await api.call("GET", "/admin/overview", { headers: admin, now: NOW });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const o = res.body;
    assert.equal(o.date, "2027-01-15");
    assert.equal(o.today.sent, 3);
    assert.equal(o.today.verified, 1);
    assert.equal(o.today.conversionRate, 0.3333);
    assert.equal(o.today.key, undefined);
    assert.equal(o.month.sent, 4);
    assert.equal(o.month.verified, 1);
    assert.deepEqual(o.topCountries.map((c) => [c.key, c.sent]), [["FR", 3], ["BE", 1]]);
    assert.equal(o.applications, 3);
    assert.equal(o.nextPageToken, undefined);
    assert.deepEqual(o.blocks.map((b) => [b.name, b.scope, b.key]).sort(), [["France shop", "range", "3361242"], ["Quiet shop", "country", "BE"]]);

    // A small page: the rest of the blocks through GET /admin/blocks.
    const first = await api.call("GET", "/admin/overview?pageSize=1", { headers: admin, now: NOW });
    assert.equal(first.body.applications, 1);
    assert.ok(first.body.nextPageToken);
    assert.equal(first.body.today.sent, 3, "the figures do not depend on the page");
    const blocks = [...first.body.blocks];
    let token = first.body.nextPageToken;
    while (token) {
      const page = await api.admin("GET", `/admin/blocks?pageSize=1&pageToken=${encodeURIComponent(token)}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      blocks.push(...page.body.data);
      token = page.body.nextPageToken;
    }
    assert.equal(blocks.length, 2);
    assertError(await api.admin("GET", "/admin/overview?pageSize=0"), 400, 1062);
    assertError(await api.admin("POST", "/admin/overview", {}), 405, 405);
  });

  test("without insights the figures are null and the blocks are there", async () => {
    const bare = await startApi({ insights: false });
    try {
      const app = await bare.api.createApp({ name: "No insights" });
      await bare.api.admin("POST", `/admin/apps/${app.appId}/fraud/blocks`, { scope: "country", key: "FR", seconds: 600 });
      const res = await bare.api.admin("GET", "/admin/overview");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.today, null);
      assert.equal(res.body.month, null);
      assert.equal(res.body.topCountries, null);
      assert.equal(res.body.applications, 1);
      assert.deepEqual(res.body.blocks.map((b) => b.key), ["FR"]);
    } finally {
      await bare.dispose();
    }
  });
});
