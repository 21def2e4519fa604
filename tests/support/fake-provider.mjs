// A fake SMS provider and callback receiver: a real HTTP server on 127.0.0.1 (a
// random free port) that records every request and answers per a plan.
//
//   const provider = await startFakeProvider();
//   provider.url                          // "http://127.0.0.1:41234" (no trailing slash)
//   provider.setPlan({ mode: "status", status: 500 });
//   provider.setPlan({ mode: "ok", failFirst: 2 }, "/cb");   // per path prefix
//   await provider.waitForRequests(1, { path: "/cb" });
//   provider.requests                     // [{ method, path, headers, body, at }]
//   await provider.close();
//
// Plans (an object, or a function `(request, index) => plan`):
//   { mode: "ok" }           the provider's success reply, chosen by the path:
//                            Twilio Messages.json 201 {sid}, Vonage /sms/json 200
//                            {messages:[{status:"0"}]}, SMS.CX /sms 201, Dexatel
//                            /v1/messages 200, anything else 200 {"ok":true}
//   { mode: "status", status: 500, body }   that status (default 500) and body
//   { mode: "reply", status, body, headers } any reply, verbatim
//   { mode: "malformed" }    the success status of the path with a body that is not JSON
//   { mode: "slow", delayMs: 5000 }  the "ok" reply after delayMs
//   { mode: "hang" }         never answers (until close)
//   { mode: "destroy" }      reads the request, then destroys the connection (reset)
//   { mode: "vonage-rejected", vonageStatus: "2" } Vonage's HTTP 200 with an error status
// and, on any plan, `failFirst: N` (with `failStatus`, default 500): the first N
// requests matching the plan's path answer failStatus, the next ones follow the plan.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import net from "node:net";

const SUCCESS_STATUS = { twilio: 201, vonage: 200, smscx: 201, dexatel: 200, other: 200 };

/** Which provider API a path belongs to. */
export function providerOf(path) {
  const pathname = path.split("?")[0];
  if (/^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(pathname)) return "twilio";
  if (pathname === "/sms/json") return "vonage";
  if (pathname === "/sms") return "smscx";
  if (pathname === "/v1/messages") return "dexatel";
  return "other";
}

const hex = (bytes) => randomBytes(bytes).toString("hex");

/** The success reply a real provider would send for `path`. */
export function okReply(path) {
  const provider = providerOf(path);
  const status = SUCCESS_STATUS[provider];
  switch (provider) {
    case "twilio":
      return { status, body: { sid: `SM${hex(16)}`, status: "queued", num_segments: "1" } };
    case "vonage":
      return {
        status,
        body: { "message-count": "1", messages: [{ "message-id": hex(8).toUpperCase(), status: "0" }] },
      };
    case "smscx":
      return { status, body: { info: { totalParts: 1 }, data: [{ msgId: hex(16), status: "ACCEPTED" }] } };
    case "dexatel":
      return { status, body: { data: [{ id: hex(16), status: "queued" }] } };
    default:
      return { status, body: { ok: true } };
  }
}

/** A port on 127.0.0.1 that nothing listens on (connections are refused). */
export async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Verifies Standard Webhooks headers with node:crypto, independently of the worker's
 * Rust code: `v1,base64(HMAC-SHA256(base64decode(secret without "whsec_"), "id.ts.body"))`.
 * `headers` is a plain object with lowercase names (as recorded here).
 */
export function verifyStandardWebhook(secret, headers, body) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = Buffer.from(
    `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`,
  );
  return signatures.split(" ").some((candidate) => {
    const got = Buffer.from(candidate);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/**
 * Starts the fake provider.
 * @param {object} [options]
 * @param {object|Function} [options.plan] default plan, `{ mode: "ok" }` unless given
 */
export async function startFakeProvider({ plan = { mode: "ok" } } = {}) {
  /** Recorded requests, oldest first. */
  const requests = [];
  /** Path prefix -> plan; "" is the default. Longest prefix wins. */
  const plans = new Map([["", plan]]);
  /** Path prefix -> requests answered under the current plan (for failFirst). */
  const counts = new Map();
  const sockets = new Set();
  const timers = new Set();

  function planFor(path) {
    let best = "";
    for (const prefix of plans.keys()) {
      if (path.startsWith(prefix) && prefix.length > best.length) best = prefix;
    }
    return best;
  }

  function send(res, status, body, headers = {}) {
    if (res.destroyed || res.writableEnded) return;
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(text);
  }

  function answer(req, res, record) {
    const prefix = planFor(record.path);
    const index = counts.get(prefix) ?? 0;
    counts.set(prefix, index + 1);
    let current = plans.get(prefix);
    if (typeof current === "function") current = current(record, index) ?? { mode: "ok" };
    if (current.failFirst && index < current.failFirst) {
      return send(res, current.failStatus ?? 500, { error: "planned failure", attempt: index + 1 });
    }
    switch (current.mode ?? "ok") {
      case "ok": {
        const ok = okReply(record.path);
        return send(res, ok.status, ok.body);
      }
      case "status":
        return send(res, current.status ?? 500, current.body ?? { error: { code: 9999, message: "planned" } });
      case "reply":
        return send(res, current.status ?? 200, current.body ?? "", current.headers);
      case "malformed":
        return send(res, SUCCESS_STATUS[providerOf(record.path)], "{not json", current.headers);
      case "vonage-rejected":
        return send(res, 200, {
          "message-count": "1",
          messages: [{ status: current.vonageStatus ?? "2", "error-text": "Missing to param" }],
        });
      case "slow": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          const ok = okReply(record.path);
          send(res, ok.status, ok.body);
        }, current.delayMs ?? 5000);
        timers.add(timer);
        return;
      }
      case "hang":
        return;
      case "destroy":
        req.socket.destroy();
        return;
      default:
        return send(res, 500, { error: `unknown plan mode ${current.mode}` });
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const record = {
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      requests.push(record);
      answer(req, res, record);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();

  const matching = (path) => (r) =>
    path === undefined || (path instanceof RegExp ? path.test(r.path) : r.path.startsWith(path));

  return {
    /** Base URL, without a trailing slash. */
    url: `http://127.0.0.1:${port}`,
    port,
    /** Every request so far, oldest first. */
    requests,
    /** Sets the plan for paths starting with `prefix` (default: every path) and resets its failFirst count. */
    setPlan(newPlan, prefix = "") {
      plans.set(prefix, newPlan);
      counts.delete(prefix);
    },
    /** Requests whose path starts with `path` (a string) or matches it (a RegExp). */
    requestsTo(path) {
      return requests.filter(matching(path));
    },
    /** Waits until at least `count` requests (to `path`, if given) arrived; returns them. */
    async waitForRequests(count, { path, timeoutMs = 5000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = requests.filter(matching(path));
        if (got.length >= count) return got;
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} request(s)${path ? ` to ${path}` : ""}, got ${got.length}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    /** Forgets recorded requests and failFirst counts (plans stay). */
    clear() {
      requests.length = 0;
      counts.clear();
    },
    /** Stops the server, dropping open connections and pending slow replies. */
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
