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
//                            /v1/messages 200, Plivo Message/ 202 {message_uuid},
//                            Sinch batches 201 {id}, Infobip /sms/3/messages 200
//                            {messages:[{messageId}]}, anything else 200 {"ok":true};
//                            the request's record keeps it as `reply`
//   { mode: "status", status: 500, body, delayMs }   that status (default 500) and
//                            body, after delayMs (default 0)
//   { mode: "reply", status, body, headers } any reply, verbatim
//   { mode: "malformed" }    the success status of the path with a body that is not JSON
//   { mode: "slow", delayMs: 5000 }  the "ok" reply after delayMs
//   { mode: "hang" }         never answers (until close)
//   { mode: "destroy" }      reads the request, then destroys the connection (reset)
//   { mode: "vonage-rejected", vonageStatus: "2" } Vonage's HTTP 200 with an error status
//   { mode: "stream", status, totalBytes, chunkBytes } a success status, then a body
//                            streamed in chunks until totalBytes or the client goes
//                            away; the record's `streamed` counts the bytes written
// and, on any plan, `failFirst: N` (with `failStatus`, default 500): the first N
// requests matching the plan's path answer failStatus, the next ones follow the plan.

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import http from "node:http";
import net from "node:net";

const SUCCESS_STATUS = {
  twilio: 201,
  vonage: 200,
  smscx: 201,
  dexatel: 200,
  plivo: 202,
  sinch: 201,
  infobip: 200,
  other: 200,
};

/** Which provider API a path belongs to. */
export function providerOf(path) {
  const pathname = path.split("?")[0];
  if (/^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(pathname)) return "twilio";
  if (pathname === "/sms/json") return "vonage";
  if (pathname === "/sms") return "smscx";
  if (pathname === "/v1/messages") return "dexatel";
  if (/^\/v1\/Account\/[^/]+\/Message\/$/.test(pathname)) return "plivo";
  if (/^\/xms\/v1\/[^/]+\/batches$/.test(pathname)) return "sinch";
  if (pathname === "/sms/3/messages") return "infobip";
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
    case "plivo":
      return { status, body: { api_id: randomUUID(), message: "message(s) queued", message_uuid: [randomUUID()] } };
    case "sinch":
      return { status, body: { id: `01${hex(12).toUpperCase()}`, type: "mt_text", canceled: false } };
    case "infobip":
      return {
        status,
        body: {
          bulkId: randomUUID(),
          messages: [
            {
              messageId: randomUUID(),
              status: { groupId: 1, groupName: "PENDING", id: 26, name: "PENDING_ACCEPTED" },
            },
          ],
        },
      };
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

/** Twilio's `X-Twilio-Signature` of a POST of `params` (an object) to `url`. */
export function twilioSignature(token, url, params) {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac("sha1", token).update(data).digest("base64");
}

/**
 * Plivo's `X-Plivo-Signature-V3` of a POST of `params` to `url` under `nonce`, built
 * as Plivo's SDKs check it: `base?sortedQuery.` + sorted name-value pairs + `.nonce`.
 */
export function plivoSignatureV3(token, url, params, nonce) {
  const parsed = new URL(url);
  const query = [...parsed.searchParams.entries()]
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const hasParams = Object.keys(params).length > 0;
  let data = `${parsed.origin}${parsed.pathname}`;
  if (query || hasParams) data += `?${query}`;
  if (query && hasParams) data += ".";
  for (const key of Object.keys(params).sort()) data += key + params[key];
  return createHmac("sha256", token).update(`${data}.${nonce}`).digest("base64");
}

/** Vonage's `sig` of `params` (HMAC hex of `&name=value` sorted, `&`/`=` in values as `_`). */
export function vonageSignature(secret, params, method = "sha256") {
  const data = Object.keys(params)
    .filter((k) => k !== "sig")
    .sort()
    .map((k) => `&${k}=${String(params[k]).replace(/[&=]/g, "_")}`)
    .join("");
  return createHmac(method, secret).update(data).digest("hex");
}

/** `X-Dexatel-Signature`: hex HMAC-SHA256 of the body. */
export function dexatelSignature(secret, body) {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Standard Webhooks headers for `body` under a `whsec_` secret. */
export function standardWebhookHeaders(secret, body, timestamp = Math.floor(Date.now() / 1000)) {
  const id = `msg_${hex(8)}`;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${signature}` };
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
        record.reply = ok.body;
        return send(res, ok.status, ok.body);
      }
      case "status": {
        const reply = () =>
          send(res, current.status ?? 500, current.body ?? { error: { code: 9999, message: "planned" } });
        if (!current.delayMs) return reply();
        const timer = setTimeout(() => {
          timers.delete(timer);
          reply();
        }, current.delayMs);
        timers.add(timer);
        return;
      }
      case "stream": {
        record.streamed = 0;
        res.writeHead(current.status ?? 200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(current.chunkBytes ?? 16 * 1024, 0x20);
        const total = current.totalBytes ?? 8 * 1024 * 1024;
        const timer = setInterval(() => {
          if (res.destroyed || record.streamed >= total) {
            clearInterval(timer);
            timers.delete(timer);
            if (!res.destroyed) res.end();
            return;
          }
          res.write(chunk);
          record.streamed += chunk.length;
        }, 2);
        timers.add(timer);
        res.on("close", () => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
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
      for (const timer of timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
