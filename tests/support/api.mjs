// Helpers for tests of the HTTP API: a built worker in Miniflare with development
// secrets, an admin client, and small SMS.CX-dialect calls.

import { startWorker } from "../worker/harness.mjs";

/** Secrets and vars of a development worker under test. */
export const DEV_BINDINGS = {
  ENVIRONMENT: "development",
  // At least 32 bytes: outside development a shorter one keeps the worker from serving.
  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
  PIN_KEYS: "test-pin-key-0123456789abcdef",
  TOKEN_KEY: "test-token-key-0123456789abcdef",
  HASH_KEY: "test-hash-key-0123456789abcdef",
};

/**
 * A send policy with every cap off, for test apps that send many PINs to one
 * number (the rate-limit tests set their own).
 */
export const NO_LIMITS = {
  phoneCooldownSeconds: 0,
  phonePerHour: 0,
  phonePerDay: 0,
  appPerMinute: 0,
  ipSendsPerHour: 0,
  ipChecksPerHour: 0,
  countryPartsPerDay: { default: 0 },
};

/**
 * The fraud guard off, for test apps that send many PINs into a few number ranges
 * without verifying them (the guard's own tests, the load tests and the bench keep
 * it on and send to numbers spread over ranges: see `spreadMobile`).
 */
export const NO_GUARD = { enabled: false };

/** The two-digit starts of French mobiles (+33 6…, +33 7…) by libphonenumber's plan. */
const FR_MOBILE_STARTS = ["60", "61", "62", "64", "65", "66", "67", "68", "73", "74", "75", "76", "77", "78", "79"];

/**
 * The i-th of 15,000 valid French mobiles, each in a number range of its own (the
 * number without its last 4 digits): realistic traffic for the fraud guard, which
 * watches ranges. `seed` varies the last digits between runs of one test.
 */
export function spreadMobile(i, seed = 0) {
  const start = FR_MOBILE_STARTS[i % FR_MOBILE_STARTS.length];
  const range = String(Math.floor(i / FR_MOBILE_STARTS.length) % 1000).padStart(3, "0");
  const line = String((i * 7919 + seed) % 10_000).padStart(4, "0");
  return `+33${start}${range}${line}`;
}

/** A fixed, recent instant for X-Dev-Now (Unix seconds). */
export const T0 = 1_800_000_000;

/**
 * Starts the built worker with development bindings (plus `bindings`); `insights:
 * false` leaves out the insights database; `kvNamespaces` and `workers` as in
 * `startWorker`.
 */
export async function startApi({ bindings = {}, miniflare = {}, insights, kvNamespaces = ["OTP_KV", "OUTBOX_KV"], workers } = {}) {
  const worker = await startWorker({
    bindings: { ...DEV_BINDINGS, ...bindings },
    kvNamespaces,
    miniflare,
    workers,
    ...(insights === undefined ? {} : { insights }),
  });
  return Object.assign(worker, { api: apiClient(worker, bindings.ADMIN_TOKEN ?? DEV_BINDINGS.ADMIN_TOKEN) });
}

/** JSON requests against `worker`; each returns `{status, body, headers}`. */
export function apiClient(worker, adminToken) {
  async function call(method, path, { body, headers = {}, now } = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      init.headers["content-type"] ??= "application/json";
    }
    if (now !== undefined) init.headers["x-dev-now"] = String(now);
    const res = await worker.fetch(path, init);
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  }
  const admin = (method, path, body) => call(method, path, { body, headers: { authorization: `Bearer ${adminToken}` } });
  return {
    call,
    admin,
    /** Creates an app (outbox gateway unless given) and returns its credentials. */
    async createApp(body = {}) {
      const res = await admin("POST", "/admin/apps", {
        name: "Test App",
        ...body,
        otp: { template: TEST_TEMPLATE, ...body.otp },
        limits: { ...NO_LIMITS, ...body.limits },
        fraudGuard: { ...NO_GUARD, ...body.fraudGuard },
      });
      if (res.status !== 201) throw new Error(`createApp: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    /** SMS.CX calls authenticated by API key. */
    otp(apiKey) {
      const headers = { "x-api-key": apiKey };
      return {
        send: (body, now = T0) => call("POST", "/otp", { body, headers, now }),
        get: (id, now = T0) => call("GET", `/otp/${id}`, { headers, now }),
        verify: (id, pin, now = T0) => call("POST", `/otp/${id}`, { body: { pin }, headers, now }),
        cancel: (id, now = T0) => call("DELETE", `/otp/${id}`, { headers, now }),
      };
    },
    /**
     * Development: sends the insights outboxes of app `appId`'s shards to D1, then
     * runs the scheduled job (expiry, retention) as if at `now` (Unix seconds).
     */
    async sweep({ appId, now } = {}) {
      const query = new URLSearchParams();
      if (appId) query.set("appId", appId);
      if (now !== undefined) query.set("now", String(now));
      const res = await admin("POST", `/admin/dev/sweep?${query}`);
      if (res.status !== 200) throw new Error(`sweep: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    /** The newest outbox messages for `phoneNumber`. */
    async outbox(phoneNumber) {
      const res = await admin("GET", `/admin/outbox?phoneNumber=${encodeURIComponent(phoneNumber)}`);
      if (res.status !== 200) throw new Error(`outbox: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.data;
    },
    /** The PIN of the newest SMS for `otpId` (found in the outbox text). */
    async pinOf(phoneNumber, otpId) {
      const messages = await this.outbox(phoneNumber);
      const message = messages.find((m) => m.otpId === otpId);
      if (!message) throw new Error(`no outbox message for ${otpId}`);
      return { pin: extractPin(message.text), message };
    },
  };
}

/** Template of test apps: the PIN in brackets is easy to find again. */
export const TEST_TEMPLATE = "Your {{brand}} code is [{{pin}}]";

/** The PIN in an SMS text rendered from TEST_TEMPLATE (or the first 4-10 symbol word). */
export function extractPin(text) {
  const m = text.match(/\[([A-Z0-9]{4,10})\]/) ?? text.match(/\b([A-Z0-9]*[0-9][A-Z0-9]*)\b/);
  if (!m) throw new Error(`no PIN in ${JSON.stringify(text)}`);
  return m[1];
}

/**
 * The status of every OTP of app `appId` (`otpId -> status`) as the insights database
 * has it: how a test sees which records the shards kept (a record removed before its
 * SMS went out is UNSENT). In development the dev sweep sends the shards' outboxes to
 * D1 first; outside it (`until`), this waits for the shards' own flush, about 5 s
 * after a change, until `until(statuses)` holds (failing after 10 s).
 */
export async function insightStatuses(worker, appId, { until, adminToken = DEV_BINDINGS.ADMIN_TOKEN } = {}) {
  const read = async () => {
    const db = await worker.d1();
    const sql = "SELECT otp_id, status FROM otps WHERE app_id = ?1 ORDER BY created_at, otp_id";
    const { results } = await db.prepare(sql).bind(appId).all();
    return Object.fromEntries(results.map((row) => [row.otp_id, row.status]));
  };
  if (until) {
    let statuses;
    await waitFor(async () => until((statuses = await read())), { ms: 10_000, what: `the insights of app ${appId}` });
    return statuses;
  }
  const res = await worker.fetch(`/admin/dev/sweep?appId=${encodeURIComponent(appId)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (res.status !== 200) throw new Error(`sweep: ${res.status} ${await res.text()}`);
  return read();
}

/** Polls `condition` (sync or async) every 100 ms until it is true; fails after `ms`, naming `what`. */
export async function waitFor(condition, { ms = 5_000, what = "a condition" } = {}) {
  for (const deadline = Date.now() + ms; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every key and value in a KV namespace of the worker. */
export async function dumpKv(worker, binding = "OTP_KV") {
  const kv = await worker.kv(binding);
  const entries = [];
  let cursor;
  do {
    const page = await kv.list({ cursor });
    for (const { name } of page.keys) entries.push([name, await kv.get(name)]);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return entries;
}
