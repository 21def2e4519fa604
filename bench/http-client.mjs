// The HTTP client of the worker benchmarks (worker.mjs, profile-worker.mjs): one
// request on one of `agent`'s kept-alive connections, JSON bodies.

import http from "node:http";

/** Sends `{method, path, headers, body}` (body as JSON) to `base`; resolves `{status, headers, body}`. */
export function request(agent, base, { method = "GET", path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent,
        headers: payload === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
