// The admin API's additions for the operator console: sessions (the admin token
// exchanged for an HttpOnly cookie kept in a Durable Object), the paged list of
// applications, an application's Dexatel templates and senders, and test OTPs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEV_BINDINGS, startApi } from "../support/api.mjs";

const TOKEN = DEV_BINDINGS.ADMIN_TOKEN;

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
}

describe("console sessions", () => {
  let worker, api, origin;

  before(async () => {
    worker = await startApi();
    api = worker.api;
    origin = new URL(worker.url).origin;
  });
  after(async () => {
    await worker?.dispose();
  });

  /** Signs in from `ip`; returns the reply and the cookie pair (`otp_console=…`). */
  async function signIn(token = TOKEN, ip = "192.0.2.10") {
    const res = await api.call("POST", "/admin/session", {
      body: { token },
      headers: { origin, "cf-connecting-ip": ip },
    });
    const setCookie = res.headers.get("set-cookie") ?? "";
    return { res, setCookie, cookie: setCookie.split(";")[0] };
  }

  test("the admin token is exchanged for an HttpOnly, SameSite=Strict cookie with a short life", async () => {
    const { res, setCookie, cookie } = await signIn();
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(cookie, /^otp_console=[A-Za-z0-9_-]{43}$/);
    for (const attribute of ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"]) {
      assert.ok(setCookie.includes(attribute), `${attribute} in ${setCookie}`);
    }
    assert.ok(!setCookie.includes("Secure"), "plain HTTP on 127.0.0.1: no Secure");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.ok(!JSON.stringify(res.body).includes(TOKEN), "the token is not echoed");
    assert.match(res.body.expiresAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const current = await api.call("GET", "/admin/session", { headers: { cookie } });
    assert.equal(current.status, 200);
    assert.equal(current.body.expiresAt, res.body.expiresAt);
  });

  test("the cookie is Secure on any host but localhost", async () => {
    const res = await worker.fetch(new URL("/admin/session", "https://otp.example.com"), {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://otp.example.com" },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(res.status, 201);
    assert.match(res.headers.get("set-cookie"), /; Secure/);
  });

  test("a session cookie opens every admin route; changes need the request's own Origin", async () => {
    const { cookie } = await signIn();
    const created = await api.call("POST", "/admin/apps", {
      body: { name: "By cookie" },
      headers: { cookie, origin },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.appId;
    const got = await api.call("GET", `/admin/apps/${id}`, { headers: { cookie } });
    assert.equal(got.status, 200);
    assert.equal(got.body.name, "By cookie");
    // No Origin, or another one: refused before anything changes.
    for (const headers of [{ cookie }, { cookie, origin: "https://evil.example" }, { cookie, origin: "null" }]) {
      assertError(await api.call("PATCH", `/admin/apps/${id}`, { body: { name: "Hijacked" }, headers }), 403, 1060);
      assertError(await api.call("DELETE", `/admin/apps/${id}`, { headers }), 403, 1060);
    }
    assert.equal((await api.admin("GET", `/admin/apps/${id}`)).body.name, "By cookie");
    // The bearer token needs no Origin (servers and terminals send none).
    assert.equal((await api.admin("PATCH", `/admin/apps/${id}`, { name: "By token" })).status, 200);
  });

  test("signing out takes effect at once and clears the cookie", async () => {
    const { cookie } = await signIn();
    assert.equal((await api.call("GET", "/admin/stats", { headers: { cookie } })).status, 200);
    assertError(await api.call("DELETE", "/admin/session", { headers: { cookie } }), 403, 1060);
    const out = await api.call("DELETE", "/admin/session", { headers: { cookie, origin } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie"), /^otp_console=; .*Max-Age=0/);
    assertError(await api.call("GET", "/admin/stats", { headers: { cookie } }), 401, 1012);
    assertError(await api.call("GET", "/admin/session", { headers: { cookie } }), 401, 1012);
  });

  test("made-up cookies and wrong bodies are refused", async () => {
    const fake = `otp_console=${"A".repeat(43)}`;
    assertError(await api.call("GET", "/admin/stats", { headers: { cookie: fake, "cf-connecting-ip": "192.0.2.20" } }), 401, 1012);
    assertError(await api.call("GET", "/admin/session", { headers: { cookie: "otp_console=short" } }), 401, 1012);
    for (const body of [{}, { token: 5 }, { token: TOKEN, extra: 1 }]) {
      const res = await api.call("POST", "/admin/session", { body, headers: { "cf-connecting-ip": "192.0.2.21" } });
      assert.ok([400, 401].includes(res.status), JSON.stringify(res.body));
    }
    assertError(await api.call("POST", "/admin/session", { body: "[]", headers: { "cf-connecting-ip": "192.0.2.21" } }), 400, 1000);
    assertError(
      await api.call("POST", "/admin/session", { body: { token: TOKEN }, headers: { origin: "https://evil.example" } }),
      403,
      1060,
    );
    assertError(await api.call("PUT", "/admin/session", { body: {} }), 405, 405);
  });

  test("wrong tokens at sign-in are throttled like wrong bearer tokens", async () => {
    const ip = "198.51.100.77";
    for (let i = 0; i < 10; i++) assertError((await signIn(`wrong-${i}`, ip)).res, 401, 1012);
    const refused = (await signIn(TOKEN, ip)).res;
    assertError(refused, 429, 1050);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal((await signIn(TOKEN, "198.51.100.78")).res.status, 201, "another address signs in");
  });
});

describe("console endpoints of the admin API", () => {
  let worker, api;

  before(async () => {
    worker = await startApi();
    api = worker.api;
  });
  after(async () => {
    await worker?.dispose();
  });

  test("GET /admin/apps pages through the applications and searches them", async () => {
    const names = ["Alpha shop", "Beta bank", "Gamma games", "alphabet soup", "Delta"];
    const ids = [];
    for (const name of names) ids.push((await api.createApp({ name })).appId);
    const seen = [];
    let token;
    let pages = 0;
    do {
      const query = new URLSearchParams({ pageSize: "2", ...(token ? { pageToken: token } : {}) });
      const res = await api.admin("GET", `/admin/apps?${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.data.length <= 2);
      for (const app of res.body.data) {
        assert.equal(app.apiKey, undefined);
        assert.equal(app.secretHash, undefined);
        seen.push(app.appId);
      }
      token = res.body.nextPageToken;
      pages++;
    } while (token && pages < 10);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.ok(pages >= 3);
    const found = await api.admin("GET", "/admin/apps?search=ALPHA&pageSize=100");
    assert.deepEqual(found.body.data.map((a) => a.name).sort(), ["Alpha shop", "alphabet soup"]);
    const byId = await api.admin("GET", `/admin/apps?search=${ids[2].slice(0, 8)}`);
    assert.deepEqual(byId.body.data.map((a) => a.appId), [ids[2]]);
    for (const query of ["pageSize=0", "pageSize=101", "pageSize=x", `search=${"x".repeat(65)}`, "pageToken=%00"]) {
      assertError(await api.admin("GET", `/admin/apps?${query}`), 400, 1062);
    }
    assertError(await api.call("GET", "/admin/apps"), 401, 1012);
  });

  test("an application's Dexatel templates and senders, without its API key", async () => {
    const app = await api.createApp({ name: "Templates" });
    const base = `/admin/apps/${app.appId}`;
    const created = await api.admin("POST", `${base}/templates`, {
      data: { name: "login", text: "Your code is {code}", channel: "SMS" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.data.id;
    const list = await api.admin("GET", `${base}/templates`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.map((t) => t.id), [id]);
    // The same list as the Dexatel dialect's, with the app's key.
    const viaKey = await api.call("GET", "/v1/templates", { headers: { "x-dexatel-key": app.apiKey } });
    assert.deepEqual(viaKey.body.data, list.body.data);
    assert.equal((await api.admin("GET", `${base}/templates/${id}`)).body.data.text, "Your code is {code}");
    const bad = await api.admin("POST", `${base}/templates`, { data: { name: "x", text: "no code" } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal((await api.admin("DELETE", `${base}/templates/${id}`)).status < 300, true);

    const sender = await api.admin("POST", `${base}/senders`, { data: { name: "Shop", channel: "SMS" } });
    assert.equal(sender.status, 201, JSON.stringify(sender.body));
    const senders = await api.admin("GET", `${base}/senders`);
    assert.deepEqual(senders.body.data.map((s) => s.name), ["Shop"]);
    assert.equal((await api.admin("DELETE", `${base}/senders`)).status, 405);
    assertError(await api.admin("GET", "/admin/apps/123e4567-e89b-42d3-a456-426614174000/templates"), 404, 1010);
    assertError(await api.call("GET", `${base}/templates`), 401, 1012);
  });

  test("POST /admin/apps/{id}/test-otp sends an OTP through the application", async () => {
    const app = await api.createApp({ name: "Tester" });
    const res = await api.admin("POST", `/admin/apps/${app.appId}/test-otp`, { phoneNumber: "+33612345678" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.phoneNumber, "+33612345678");
    assert.equal(res.body.status, "PENDING");
    const { pin } = await api.pinOf("+33612345678", res.body.otpId);
    assert.match(pin, /^\d{4,10}$/);
    // A wrong number gets the SMS.CX API's own error.
    const bad = await api.admin("POST", `/admin/apps/${app.appId}/test-otp`, { phoneNumber: "+3312" });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.ok(bad.body.error.code >= 2000);
    assertError(await api.admin("POST", "/admin/apps/123e4567-e89b-42d3-a456-426614174000/test-otp", { phoneNumber: "+33612345678" }), 404, 1010);
  });
});
