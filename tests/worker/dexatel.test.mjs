// The Dexatel-compatible Verify API on the built worker in workerd (Miniflare):
// verifications, templates, senders, blocking after failed checks and the resend
// policy, with the dev outbox as the SMS gateway and the X-Dev-Now clock.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dumpKv, startApi, T0 } from "../support/api.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const ERROR_KEYS = ["code", "message", "method", "path", "status", "timestamp"];

/** Dexatel calls authenticated by `X-Dexatel-Key`. */
function dexatel(api, apiKey) {
  const headers = { "x-dexatel-key": apiKey };
  const call = (method, path, body, now = T0) => api.call(method, path, { body, headers, now });
  const query = (params) => new URLSearchParams(params).toString();
  return {
    call,
    send: (data, now = T0) => call("POST", "/v1/verifications", { data }, now),
    check: (phone, code, now = T0, extra = {}) => call("GET", `/v1/verifications?${query({ phone, code, ...extra })}`, undefined, now),
    list: (phone, extra = {}, now = T0) => call("GET", `/v1/verifications?${query({ phone, ...extra })}`, undefined, now),
    templates: {
      create: (data) => call("POST", "/v1/templates", { data }),
      list: (params = {}) => call("GET", `/v1/templates?${query(params)}`),
      get: (id) => call("GET", `/v1/templates/${id}`),
      update: (id, data) => call("PUT", `/v1/templates/${id}`, { data }),
      delete: (id) => call("DELETE", `/v1/templates/${id}`),
    },
    senders: {
      create: (data) => call("POST", "/v1/senders", { data }),
      list: (params = {}) => call("GET", `/v1/senders?${query(params)}`),
      get: (id) => call("GET", `/v1/senders/${id}`),
    },
  };
}

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.errors?.[0]?.code, code, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body), ["errors"]);
  assert.deepEqual(Object.keys(res.body.errors[0]).sort(), ERROR_KEYS);
  assert.equal(res.body.errors[0].status, status);
}

describe("Dexatel Verify API", () => {
  let worker, api, app, dx;
  const pinsSeen = new Set();
  // Each test uses its own numbers so that guard states do not mix.
  let nextNumber = 612424100;
  const newPhone = () => `33${nextNumber++}`;

  before(async () => {
    worker = await startApi();
    api = worker.api;
    app = await api.createApp({ name: "Acme" });
    dx = dexatel(api, app.apiKey);
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Sends a code and returns the verification and its SMS (read from the outbox). */
  async function sendOne(phone, data = {}, client = dx, now = T0) {
    const res = await client.send({ sender: "Verify", phone, ...data }, now);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { pin, message } = await api.pinOf(`+${phone}`, res.body.data.id);
    pinsSeen.add(pin);
    return { v: res.body.data, pin, message };
  }

  const wrongOf = (pin) => (pin === "000000" ? "111111" : "000000").slice(0, pin.length);

  test("POST /v1/verifications answers 201 with Dexatel's verification object", async () => {
    const phone = newPhone();
    const res = await dx.send({ sender: "Verify", phone, channel: "SMS" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const v = res.body.data;
    assert.deepEqual(Object.keys(res.body), ["data"]);
    assert.match(v.id, UUID);
    assert.match(v.message_id, UUID, "the outbox gives no id: a fresh one");
    assert.deepEqual(
      { ...v, id: undefined, message_id: undefined },
      {
        id: undefined,
        account_id: app.appId,
        message_id: undefined,
        phone,
        channel: "SMS",
        status: "PENDING",
        create_date: "2027-01-15 08:00:00",
        expire_date: "2027-01-15 08:10:00",
      },
    );
    const { pin, message } = await api.pinOf(`+${phone}`, v.id);
    assert.match(pin, /^\d{6}$/, "the application's pinLength, numeric");
    assert.equal(message.text, `Your Acme code is [${pin}]`, "no template: the application's");
    assert.equal(message.from, "Verify", "the application's originator is one of its senders");
    assert.ok(res.headers.get("x-request-id"));
  });

  test("full flow: a wrong code is data [], the right one matches once and is VERIFIED", async () => {
    const phone = newPhone();
    const { v, pin } = await sendOne(phone);
    const wrong = await dx.check(phone, wrongOf(pin), T0 + 5);
    assert.equal(wrong.status, 200);
    assert.deepEqual(wrong.body.data, []);
    const ok = await dx.check(phone, pin, T0 + 6);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.data.length, 1);
    assert.deepEqual(
      { ...ok.body.data[0] },
      { ...v, status: "VERIFIED" },
      "the same verification, now VERIFIED",
    );
    assert.equal(ok.body.pagination.total, 1);
    assert.deepEqual((await dx.check(phone, pin, T0 + 7)).body.data, [], "a code is used once");
    // One state machine: the SMS.CX API sees the same record.
    const smscx = await api.otp(app.apiKey).get(v.id, T0 + 8);
    assert.equal(smscx.body.status, "VERIFIED");
    assert.equal(smscx.body.attempts, 1, "the wrong code was counted by the core");
  });

  test("parallel checks: the right code matches exactly once", async () => {
    const phone = newPhone();
    const { v, pin } = await sendOne(phone);
    const codes = [pin, pin, pin, pin, pin, wrongOf(pin), pin, pin];
    const replies = await Promise.all(codes.map((code, i) => dx.check(phone, code, T0 + 1 + (i % 2))));
    assert.ok(replies.every((r) => r.status === 200), JSON.stringify(replies.map((r) => r.body)));
    const matches = replies.filter((r) => r.body.data.length === 1);
    assert.equal(matches.length, 1, "one state machine per record: a code is consumed once");
    assert.equal(matches[0].body.data[0].id, v.id);
  });

  test("code_length 4-8 and a custom numeric code", async () => {
    for (const length of [4, 8, "5"]) {
      const { pin } = await sendOne(newPhone(), { code_length: length });
      assert.match(pin, new RegExp(`^\\d{${Number(length)}}$`));
    }
    const phone = newPhone();
    const { pin } = await sendOne(phone, { code: "0042" });
    assert.equal(pin, "0042", "leading zeros kept");
    assert.equal((await dx.check(phone, "0042")).body.data.length, 1);
  });

  test("every verification error has its Dexatel code and sends nothing", async () => {
    const phone = newPhone();
    const viber = await dx.templates.create({ text: "Code {code}", channel: "VIBER" });
    const cases = [
      [{}, 400, 1696, true],
      [{ phone }, 400, 1620],
      [{ sender: "", phone }, 400, 1620],
      [{ sender: "Verify" }, 400, 1621],
      [{ sender: "Verify", phone: "" }, 400, 1621],
      [{ sender: "Verify", phone: "3361242abc" }, 400, 1523],
      [{ sender: "Verify", phone: "331234" }, 400, 1523],
      [{ sender: "Verify", phone: "999612424111" }, 400, 1523],
      [{ sender: "Verify", phone, channel: "VIBER" }, 400, 1515],
      [{ sender: "Verify", phone, channel: "VOICE" }, 400, 1515],
      [{ sender: "Verify", phone, code: "1234", code_length: 4 }, 400, 1629],
      [{ sender: "Verify", phone, code: "12a4" }, 400, 1632],
      [{ sender: "Verify", phone, code: "123" }, 400, 1631],
      [{ sender: "Verify", phone, code: "123456789" }, 400, 1631],
      [{ sender: "Verify", phone, code_length: 3 }, 400, 1623],
      [{ sender: "Verify", phone, code_length: 9 }, 400, 1623],
      [{ sender: "Verify", phone, code_length: "six" }, 400, 1623],
      [{ sender: "Verify", phone, template: "" }, 400, 1622],
      [{ sender: "Verify", phone, template: "login" }, 400, 1512],
      [{ sender: "Verify", phone, template: "123e4567-e89b-42d3-a456-426614174000" }, 400, 1513],
      [{ sender: "Verify", phone, template: viber.body.data.id }, 400, 1628],
      [{ sender: "Nobody", phone }, 400, 1505],
    ];
    for (const [data, status, code, bare] of cases) {
      const res = await dx.call("POST", "/v1/verifications", bare ? data : { data });
      assertError(res, status, code);
      assert.equal(res.body.errors[0].path, "/v1/verifications");
      assert.equal(res.body.errors[0].method, "POST");
      assert.match(res.body.errors[0].timestamp, DATE);
    }
    assert.equal((await api.outbox(`+${phone}`)).length, 0, "no SMS for bad input");
    assert.deepEqual((await dx.list(phone)).body.data, [], "and no verification");
  });

  test("auth, routes, methods and bodies fail in Dexatel's shape", async () => {
    const path = "/v1/verifications";
    assertError(await api.call("POST", path, { body: { data: {} } }), 401, 1601);
    assertError(await api.call("GET", "/v1/templates", { headers: { "x-api-key": app.apiKey } }), 401, 1601);
    assertError(await api.call("GET", "/v1/templates", { headers: { "x-dexatel-key": "otpk_nope" } }), 401, 1602);
    assertError(await dx.call("DELETE", path), 405, 405);
    assertError(await dx.call("POST", "/v1/senders/123e4567-e89b-42d3-a456-426614174000"), 405, 405);
    // Paths outside the dialect are unknown to the worker: its usual 404.
    for (const other of ["/v1/contacts", "/v1/templates/a/b"]) {
      const res = await dx.call("GET", other);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 404);
    }
    const headers = { "x-dexatel-key": app.apiKey };
    assertError(await api.call("POST", path, { body: "{not json", headers }), 400, 1000);
    assertError(await api.call("POST", path, { body: "[1]", headers }), 400, 1000);
    assertError(await api.call("POST", path, { body: "x", headers: { ...headers, "content-type": "text/plain" } }), 415, 1003);
    assertError(await api.call("POST", path, { body: JSON.stringify({ data: { pad: "x".repeat(20_000) } }), headers }), 413, 1002);
    assertError(await dx.call("GET", "/v1/verifications?code=1234"), 400, 1621);
    assertError(await dx.call("GET", "/v1/verifications?phone=33abc&code=1234"), 400, 1523);
    assertError(await dx.call("GET", "/v1/verifications?phone=33612424111&page_size=0"), 400, 1693);
    assertError(await dx.call("GET", "/v1/verifications?phone=33612424111&page_token=zzz"), 400, 1694);
  });

  test("templates: create, read, list with paging, update, delete", async () => {
    const owner = await api.createApp({ name: "Templated" });
    const t = dexatel(api, owner.apiKey).templates;
    const created = await t.create({ name: "login", text: "Login code: {code}", channel: "SMS" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const tpl = created.body.data;
    assert.match(tpl.id, UUID);
    assert.deepEqual(
      { ...tpl, id: undefined },
      {
        id: undefined,
        account_id: owner.appId,
        name: "login",
        text: "Login code: {code}",
        channel: "SMS",
        status: "ACTIVE",
        create_date: "2027-01-15 08:00:00",
        update_date: "2027-01-15 08:00:00",
      },
    );
    assert.deepEqual((await t.get(tpl.id)).body, { data: tpl });
    for (const name of ["b", "c"]) assert.equal((await t.create({ name, text: `${name} {code}`, channel: "sms" })).status, 201);

    const page1 = await t.list({ page_size: 2 });
    assert.equal(page1.status, 200);
    assert.deepEqual(page1.body.data.map((x) => x.name), ["login", "b"]);
    assert.deepEqual({ ...page1.body.pagination, links: undefined }, { number: 1, size: 2, total: 3, links: undefined });
    assert.equal(page1.body.pagination.links.previous, null);
    const next = page1.body.pagination.links.next;
    assert.match(next, /^\/v1\/templates\?page_size=2&page_token=/);
    const page2 = await dexatel(api, owner.apiKey).call("GET", next);
    assert.deepEqual(page2.body.data.map((x) => x.name), ["c"]);
    assert.equal(page2.body.pagination.number, 2);
    assert.equal(page2.body.pagination.links.next, null);
    assert.equal((await t.list()).body.pagination.size, 20, "default page size");

    const updated = await dexatel(api, owner.apiKey).call("PUT", `/v1/templates/${tpl.id}`, { data: { name: "signin", text: "Sign-in code {code}" } }, T0 + 60);
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.data.name, "signin");
    assert.equal(updated.body.data.text, "Sign-in code {code}");
    assert.equal(updated.body.data.create_date, "2027-01-15 08:00:00");
    assert.equal(updated.body.data.update_date, "2027-01-15 08:01:00");

    // The template is rendered with {code} into the SMS.
    const phone = newPhone();
    const { pin, message } = await sendOne(phone, { template: tpl.id }, dexatel(api, owner.apiKey));
    assert.equal(message.text, `Sign-in code ${pin}`);

    const deleted = await t.delete(tpl.id);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, undefined);
    assertError(await t.get(tpl.id), 404, 1251);
    assertError(await t.delete(tpl.id), 404, 1251);
    assertError(await t.update(tpl.id, { name: "x" }), 404, 1251);
    assertError(await dexatel(api, owner.apiKey).send({ sender: "Verify", phone, template: tpl.id }), 400, 1513);
    assert.equal((await t.list()).body.pagination.total, 2);
  });

  test("every template error has its Dexatel code", async () => {
    const t = dx.templates;
    const existing = await t.create({ name: "taken", text: "{code}", channel: "SMS" });
    const cases = [
      [undefined, 1253],
      [{ channel: "SMS" }, 1254],
      [{ text: "   ", channel: "SMS" }, 1254],
      [{ text: 42, channel: "SMS" }, 1255],
      [{ text: "Code {code}" }, 1256],
      [{ text: "Code {code}", channel: "TELEGRAM" }, 1257],
      [{ name: "taken", text: "Code {code}", channel: "SMS" }, 1258],
      [{ name: "", text: "Code {code}", channel: "SMS" }, 1259],
      [{ name: "x".repeat(46), text: "Code {code}", channel: "SMS" }, 1263],
      [{ text: "{code}" + "x".repeat(995), channel: "SMS" }, 1260],
      [{ text: "Your code is ready", channel: "SMS" }, 1624],
    ];
    for (const [data, code] of cases) {
      const res = await dx.call("POST", "/v1/templates", data === undefined ? {} : { data });
      assertError(res, 400, code);
    }
    const other = await t.create({ name: "other", text: "{code}", channel: "SMS" });
    assertError(await t.update(other.body.data.id, { name: "taken" }), 400, 1258);
    assertError(await t.update(other.body.data.id, { text: "no keyword" }), 400, 1624);
    assertError(await dx.call("PUT", `/v1/templates/${other.body.data.id}`, {}), 400, 1253);
    assert.equal((await t.update(existing.body.data.id, { name: "taken" })).status, 200, "a template keeps its own name");
    assertError(await t.get("not-a-uuid"), 404, 1251);
    assertError(await t.list({ page_size: 101 }), 400, 1693);
    assertError(await t.list({ page_token: "cGFnZTow" }), 400, 1694);
  });

  test("senders: create (three types, four channels), read, list, and use in a verification", async () => {
    const owner = await api.createApp({ name: "Senders" });
    const s = dexatel(api, owner.apiKey).senders;
    const alpha = await s.create({ name: "Acme" });
    assert.equal(alpha.status, 201, JSON.stringify(alpha.body));
    assert.match(alpha.body.data.id, UUID);
    assert.deepEqual(
      { ...alpha.body.data, id: undefined },
      {
        id: undefined,
        account_id: owner.appId,
        name: "Acme",
        code: "Acme",
        channel: "SMS",
        type: "alphanumeric",
        status: "ACTIVE",
        create_date: "2027-01-15 08:00:00",
      },
    );
    const long = await s.create({ name: "Line", code: "447911123456", type: "did" });
    assert.equal(long.body.data.type, "long_code");
    const short = await s.create({ name: "Short", code: "12345" });
    assert.equal(short.body.data.type, "short_code");
    const viber = await s.create({ name: "Acme", channel: "VIBER" });
    assert.equal(viber.status, 201, "a name is unique per channel");
    assert.deepEqual((await s.get(long.body.data.id)).body.data, long.body.data);
    const listed = await s.list({ page_size: 3 });
    assert.deepEqual(listed.body.data.map((x) => x.name), ["Acme", "Line", "Short"]);
    assert.equal(listed.body.pagination.total, 4);
    assert.ok(listed.body.pagination.links.next);

    const client = dexatel(api, owner.apiKey);
    const byName = await sendOne(newPhone(), { sender: "Line" }, client);
    assert.equal(byName.message.from, "447911123456", "the sender's code is the SMS sender id");
    const byCode = await sendOne(newPhone(), { sender: "12345" }, client);
    assert.equal(byCode.message.from, "12345");
    const other = await api.createApp({ name: "Stranger" });
    assertError(await dexatel(api, other.apiKey).send({ sender: "Line", phone: newPhone() }), 400, 1505);
  });

  test("every sender error has its Dexatel code", async () => {
    const s = dx.senders;
    assert.equal((await s.create({ name: "Taken" })).status, 201);
    const cases = [
      [undefined, 400, 1403],
      [{}, 400, 1404],
      [{ name: "  " }, 400, 1404],
      [{ name: 7 }, 400, 1405],
      [{ name: "x".repeat(46), code: "Acme" }, 400, 1406],
      [{ name: "Bad<code>" }, 400, 1407],
      [{ name: "AB" }, 400, 1407],
      [{ name: "Short", code: "1234", type: "short_code" }, 400, 1407],
      [{ name: "Long name 12" }, 400, 1408],
      [{ name: "Long", code: "1234567890123456" }, 400, 1408],
      [{ name: "Short", code: "1234567", type: "short_code" }, 400, 1408],
      [{ name: "Pigeon", channel: "PIGEON" }, 400, 1414],
      [{ name: "Taken" }, 400, 1441],
      [{ name: "Vanity", type: "vanity" }, 400, 1695],
    ];
    for (const [data, status, code] of cases) {
      assertError(await dx.call("POST", "/v1/senders", data === undefined ? {} : { data }), status, code);
    }
    assertError(await s.get("123e4567-e89b-42d3-a456-426614174000"), 404, 1402);
    // A VIBER sender cannot send an SMS verification.
    await s.create({ name: "ViberOnly", channel: "VIBER" });
    assertError(await dx.send({ sender: "ViberOnly", phone: newPhone() }), 400, 1505);
  });

  describe("blocking after failed checks", () => {
    let guarded, client;
    before(async () => {
      guarded = await api.createApp({ name: "Guarded", dexatel: { blockSeconds: 120, resendCooldownSeconds: 0 } });
      client = dexatel(api, guarded.apiKey);
    });

    test("the third wrong code blocks checks and new codes until the block ends", async () => {
      const phone = newPhone();
      const { v, pin } = await sendOne(phone, {}, client);
      for (const t of [1, 2, 3]) {
        const res = await client.check(phone, wrongOf(pin), T0 + t);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.data, [], `failure ${t}`);
      }
      const blockedCheck = await client.check(phone, pin, T0 + 4);
      assertError(blockedCheck, 429, 1530);
      assert.equal(blockedCheck.headers.get("retry-after"), String(3 + 120 - 4));
      const blockedSend = await client.send({ sender: "Verify", phone }, T0 + 10);
      assertError(blockedSend, 429, 1530);
      assert.equal(blockedSend.headers.get("retry-after"), String(3 + 120 - 10));
      assertError(await client.check(phone, pin, T0 + 122), 429, 1530);
      // The block cancelled the pending code: it does not work after the block either.
      assert.equal((await api.otp(guarded.apiKey).get(v.id, T0 + 5)).body.status, "CANCELLED");
      assert.deepEqual((await client.check(phone, pin, T0 + 123)).body.data, [], "unblocked at exactly T0+3+120");
      // A new code after the block works, and the count starts again.
      const fresh = await sendOne(phone, {}, client, T0 + 124);
      assert.notEqual(fresh.v.id, v.id);
      assert.deepEqual((await client.check(phone, wrongOf(fresh.pin), T0 + 125)).body.data, []);
      assert.equal((await client.check(phone, fresh.pin, T0 + 126)).body.data.length, 1);
    });

    test("a new code does not reset the count; a right code does", async () => {
      const phone = newPhone();
      const first = await sendOne(phone, {}, client);
      await client.check(phone, wrongOf(first.pin), T0 + 1);
      await client.check(phone, wrongOf(first.pin), T0 + 2);
      const second = await sendOne(phone, {}, client, T0 + 3);
      await client.check(phone, wrongOf(second.pin), T0 + 4);
      assertError(await client.check(phone, second.pin, T0 + 5), 429, 1530);

      const other = newPhone();
      const a = await sendOne(other, {}, client);
      await client.check(other, wrongOf(a.pin), T0 + 1);
      await client.check(other, wrongOf(a.pin), T0 + 2);
      assert.equal((await client.check(other, a.pin, T0 + 3)).body.data.length, 1);
      const b = await sendOne(other, {}, client, T0 + 4);
      await client.check(other, wrongOf(b.pin), T0 + 5);
      await client.check(other, wrongOf(b.pin), T0 + 6);
      assert.equal((await client.check(other, b.pin, T0 + 7)).body.data.length, 1, "two failures after a success: not blocked");
    });

    test("checks with no pending code are not counted", async () => {
      const phone = newPhone();
      for (const t of [1, 2, 3, 4]) assert.deepEqual((await client.check(phone, "123456", T0 + t)).body.data, []);
      const { pin } = await sendOne(phone, {}, client, T0 + 5);
      assert.equal((await client.check(phone, pin, T0 + 6)).body.data.length, 1);
    });

    test("the limit and the period are application settings; the default is 3", async () => {
      const strict = await api.createApp({ name: "Strict", dexatel: { maxFailedChecks: 1 } });
      const c = dexatel(api, strict.apiKey);
      const phone = newPhone();
      const { pin } = await sendOne(phone, {}, c);
      await c.check(phone, wrongOf(pin), T0 + 1);
      const res = await c.check(phone, pin, T0 + 2);
      assertError(res, 429, 1530);
      assert.equal(res.headers.get("retry-after"), String(1 + 900 - 2), "default block: 15 minutes");
      const shown = await api.admin("GET", `/admin/apps/${strict.appId}`);
      assert.deepEqual(shown.body.dexatel, { maxFailedChecks: 1, blockSeconds: 900, resendCooldownSeconds: 30, resendPolicy: "resend_same" });
    });
  });

  test("an expired code is replaced by a new POST at once", async () => {
    const phone = newPhone();
    const first = await sendOne(phone);
    const expired = T0 + 600;
    assert.deepEqual((await dx.check(phone, first.pin, expired)).body.data, []);
    const second = await sendOne(phone, {}, dx, expired);
    assert.notEqual(second.v.id, first.v.id);
    assert.equal(second.v.expire_date, "2027-01-15 08:20:00");
    assert.equal((await dx.check(phone, second.pin, expired + 1)).body.data.length, 1);
  });

  test("resend_same (default): cooldown, then the same verification with a new code", async () => {
    const phone = newPhone();
    const first = await sendOne(phone);
    const early = await dx.send({ sender: "Verify", phone }, T0 + 29);
    assertError(early, 429, 1690);
    assert.equal(early.headers.get("retry-after"), "1");
    const again = await sendOne(phone, {}, dx, T0 + 30);
    assert.equal(again.v.id, first.v.id, "same verification");
    assert.equal(again.v.expire_date, first.v.expire_date, "same expiry: a resend does not extend it");
    assert.equal(again.v.create_date, first.v.create_date);
    assert.notEqual(again.v.message_id, first.v.message_id);
    assert.equal((await api.outbox(`+${phone}`)).filter((m) => m.otpId === first.v.id).length, 2);
    if (again.pin !== first.pin) {
      assert.deepEqual((await dx.check(phone, first.pin, T0 + 31)).body.data, [], "the old code stopped working");
    }
    const ok = await dx.check(phone, again.pin, T0 + 32);
    assert.equal(ok.body.data[0].id, first.v.id);
    assert.equal(ok.body.data[0].message_id, again.v.message_id);
    // Verified: nothing is pending, so the next POST is a new verification without cooldown.
    const third = await sendOne(phone, {}, dx, T0 + 33);
    assert.notEqual(third.v.id, first.v.id);
  });

  test("resend_same keeps the attempts already used", async () => {
    const limited = await api.createApp({ name: "Limited", otp: { maxAttempts: 2 }, dexatel: { maxFailedChecks: 5 } });
    const c = dexatel(api, limited.apiKey);
    const phone = newPhone();
    const first = await sendOne(phone, {}, c);
    await c.check(phone, wrongOf(first.pin), T0 + 1);
    const again = await sendOne(phone, {}, c, T0 + 40);
    assert.equal(again.v.id, first.v.id);
    await c.check(phone, wrongOf(again.pin), T0 + 41);
    assert.equal((await api.otp(limited.apiKey).get(first.v.id, T0 + 42)).body.status, "FAILED", "2 attempts in all");
    assert.deepEqual((await c.check(phone, again.pin, T0 + 43)).body.data, []);
  });

  test("replace: the pending verification is cancelled and a new one starts", async () => {
    const replacing = await api.createApp({ name: "Replacing", dexatel: { resendPolicy: "replace", resendCooldownSeconds: 10 } });
    const c = dexatel(api, replacing.apiKey);
    const phone = newPhone();
    const first = await sendOne(phone, {}, c);
    assertError(await c.send({ sender: "Verify", phone }, T0 + 9), 429, 1690);
    const second = await sendOne(phone, {}, c, T0 + 10);
    assert.notEqual(second.v.id, first.v.id);
    assert.equal(second.v.expire_date, "2027-01-15 08:10:10", "a fresh expiry");
    assert.equal((await api.otp(replacing.apiKey).get(first.v.id, T0 + 11)).body.status, "CANCELLED");
    assert.deepEqual((await c.check(phone, first.pin, T0 + 12)).body.data.filter((x) => x.id === first.v.id), []);
    const ok = await c.check(phone, second.pin, T0 + 13);
    assert.equal(ok.body.data[0]?.id, second.v.id);
  });

  test("without code, GET lists the number's verifications newest first, with paging", async () => {
    const phone = newPhone();
    const lister = await api.createApp({ name: "Lister", dexatel: { resendPolicy: "replace", resendCooldownSeconds: 0 } });
    const c = dexatel(api, lister.apiKey);
    const ids = [];
    for (const t of [0, 1, 2]) ids.push((await sendOne(phone, {}, c, T0 + t)).v.id);
    const page1 = await c.list(phone, { page_size: 2 }, T0 + 3);
    assert.equal(page1.status, 200);
    assert.deepEqual(page1.body.data.map((v) => v.id), [ids[2], ids[1]]);
    assert.deepEqual(page1.body.data.map((v) => v.status), ["PENDING", "CANCELLED"]);
    assert.equal(page1.body.pagination.total, 3);
    assert.match(page1.body.pagination.links.next, new RegExp(`^/v1/verifications\\?phone=${phone}&page_size=2&page_token=`));
    const page2 = await c.call("GET", page1.body.pagination.links.next, undefined, T0 + 3);
    assert.deepEqual(page2.body.data.map((v) => v.id), [ids[0]]);
    assert.deepEqual((await c.list(newPhone())).body.data, [], "an unknown number has none");
  });

  test("applications are isolated: templates, senders, verifications and blocks", async () => {
    const a = await api.createApp({ name: "Alpha" });
    const b = await api.createApp({ name: "Beta" });
    const ca = dexatel(api, a.apiKey);
    const cb = dexatel(api, b.apiKey);
    const tpl = (await ca.templates.create({ text: "A {code}", channel: "SMS" })).body.data;
    const snd = (await ca.senders.create({ name: "AlphaCo" })).body.data;
    assertError(await cb.templates.get(tpl.id), 404, 1251);
    assertError(await cb.templates.update(tpl.id, { text: "B {code}" }), 404, 1251);
    assertError(await cb.templates.delete(tpl.id), 404, 1251);
    assertError(await cb.senders.get(snd.id), 404, 1402);
    assert.equal((await cb.templates.list()).body.pagination.total, 0);
    assertError(await cb.send({ sender: "Verify", phone: newPhone(), template: tpl.id }), 400, 1513);

    const phone = newPhone();
    const { v, pin } = await sendOne(phone, { template: tpl.id, sender: "AlphaCo" }, ca);
    for (const t of [1, 2, 3, 4]) assert.deepEqual((await cb.check(phone, wrongOf(pin), T0 + t)).body.data, []);
    assert.deepEqual((await cb.check(phone, pin, T0 + 5)).body.data, [], "B cannot use A's code");
    assert.deepEqual((await cb.list(phone)).body.data, []);
    const ok = await ca.check(phone, pin, T0 + 6);
    assert.equal(ok.body.data[0]?.id, v.id, "A's code still works: B's checks did not count for A");
  });

  test("a gateway failure answers in Dexatel's shape and leaves nothing pending", async () => {
    const broken = await api.createApp({ name: "Broken", gateway: { type: "webhook", url: "http://127.0.0.1:9/sms" } });
    const c = dexatel(api, broken.apiKey);
    const phone = newPhone();
    const res = await c.send({ sender: "Verify", phone });
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(res.body.errors[0].code, 3003);
    assert.deepEqual((await c.list(phone)).body.data, []);
  });

  test("admin: the Dexatel settings are validated (400 1017) and merged", async () => {
    const created = await api.createApp({ name: "Settings" });
    assert.deepEqual(created.dexatel, { maxFailedChecks: 3, blockSeconds: 900, resendCooldownSeconds: 30, resendPolicy: "resend_same" });
    const path = `/admin/apps/${created.appId}`;
    for (const bad of [{ maxFailedChecks: 0 }, { maxFailedChecks: 11 }, { blockSeconds: 59 }, { resendCooldownSeconds: 3601 }, { resendPolicy: "twice" }, { blockSecs: 60 }, { blockSeconds: "long" }]) {
      const res = await api.admin("PATCH", path, { dexatel: bad });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.error.code, 1017);
    }
    const patched = await api.admin("PATCH", path, { dexatel: { resendPolicy: "replace", blockSeconds: 3600 } });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.dexatel, { maxFailedChecks: 3, blockSeconds: 3600, resendCooldownSeconds: 30, resendPolicy: "replace" });
    const bad = await api.admin("POST", "/admin/apps", { name: "Bad", dexatel: { maxFailedChecks: 99 } });
    assert.equal(bad.body.error.code, 1017);
  });

  test("no full phone number and no code is stored in OTP_KV", async () => {
    const phone = newPhone();
    const { pin } = await sendOne(phone);
    await dx.check(phone, wrongOf(pin), T0 + 1);
    const entries = await dumpKv(worker, "OTP_KV");
    assert.ok(!entries.some(([k]) => k.startsWith("dxphone:")), "the number's state lives in its shard object only");
    const numbers = [phone, ...Array.from({ length: nextNumber - 612424100 }, (_, i) => `33${612424100 + i}`)];
    for (const [key, value] of entries) {
      for (const n of numbers) {
        assert.ok(!key.includes(n.slice(2)) && !value.includes(n.slice(2)), `number ${n} in ${key}`);
      }
      if (!key.startsWith("otp:") && !key.startsWith("dxphone:")) continue;
      // String fields only: a code may by chance be digits of a timestamp or id.
      const strings = [];
      JSON.stringify(JSON.parse(value), (k, v) => {
        if (typeof v === "string" && !["pinDigest", "otpId", "id", "messageId"].includes(k)) strings.push(v);
        return v;
      });
      const text = strings.join(" ");
      for (const p of pinsSeen) assert.ok(!text.includes(p), `code ${p} stored in ${key}: ${text}`);
    }
  });
});
