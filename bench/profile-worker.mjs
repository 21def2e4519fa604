// A CPU profile of the worker under load (BENCHMARKS.md, "Where a check's CPU
// goes"): the worker in workerd via Miniflare on 127.0.0.1, as bench/worker.mjs runs
// it (development bindings, insights on, the guard on in shadow mode, the fake SMS
// provider), with the V8 inspector on; one kind of request is sent with 8 in flight
// while the sampling profiler runs in the worker's isolate (its Durable Objects run
// in the same isolate locally), then the functions are printed by self and by
// inclusive share of the samples.
//
//   scripts/profile-worker.sh [check|send|status|health]
//   node bench/profile-worker.mjs <kind> <worker/build/entry.mjs of a build with wasm names>
//
// Function names come from the wasm's name section: scripts/profile-worker.sh builds
// a worker that keeps it. (The shares are of the isolate's whole time, idle
// included, and of every request the phase caused, after-reply work included.)

import http from "node:http";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { extractPin, startApi } from "../tests/support/api.mjs";
import { request as httpRequest } from "./http-client.mjs";
import { benchApp, benchPhone } from "./traffic.mjs";
import { startFakeProvider } from "../tests/support/fake-provider.mjs";

const [kind = "check", script] = process.argv.slice(2);
const N = Math.max(100, Number(process.env.PROFILE_REQUESTS) || 1500);
const TOP = 60;

const inspector = await freePort();
const provider = await startFakeProvider();
const drain = (stdout, stderr) => {
  stdout.resume();
  stderr.resume();
};
const worker = await startApi({
  miniflare: { ...(script ? { scriptPath: script } : {}), inspectorPort: inspector, assets: undefined, handleRuntimeStdio: drain },
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

const request = (spec) => httpRequest(agent, worker.url, spec);

/** Sends `specs` with 8 in flight; requests per second. */
async function run(specs) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < specs.length) {
        const res = await request(specs[next++]);
        if (res.status >= 300) throw new Error(`${res.status} ${res.body}`);
      }
    }),
  );
  return specs.length / ((performance.now() - start) / 1000);
}

/** A Chrome DevTools Protocol session with the worker's isolate. */
async function devtools() {
  const targets = await (await fetch(`http://127.0.0.1:${inspector}/json/list`, { headers: { connection: "close" } })).json();
  const target = targets.find((t) => /core:user/.test(t.title));
  if (!target) throw new Error(`no worker isolate among ${targets.map((t) => t.title)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    pending.get(msg.id)?.(msg.result);
    pending.delete(msg.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Top functions of a V8 CPU profile, by self and by inclusive samples. */
function summarize({ nodes, samples }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => n.callFrame.functionName || `(${n.callFrame.url || "anonymous"})`;
  const self = new Map();
  const inclusive = new Map();
  for (const sample of samples) {
    const leaf = name(byId.get(sample));
    self.set(leaf, (self.get(leaf) ?? 0) + 1);
    const seen = new Set();
    for (let at = sample; at !== undefined; at = parent.get(at)) {
      const n = name(byId.get(at));
      if (!seen.has(n)) inclusive.set(n, (inclusive.get(n) ?? 0) + 1);
      seen.add(n);
    }
  }
  const top = (counts) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([n, c]) => `${((100 * c) / samples.length).toFixed(1).padStart(5)}%  ${n.slice(0, 160)}`)
      .join("\n");
  return `${samples.length} samples\n\nBy self time:\n${top(self)}\n\nInclusive:\n${top(inclusive)}`;
}

try {
  const gateway = { type: "webhook", url: `${provider.url}/sms` };
  const app = await worker.api.createApp(benchApp("Profile", gateway));
  const key = { "x-api-key": app.apiKey };
  let sent = 0;
  const phone = () => benchPhone(sent++);
  const sends = (n) => Array.from({ length: n }, () => ({ method: "POST", path: "/otp", headers: key, body: { phoneNumber: phone() } }));
  await run(sends(200)); // warm-up

  let specs;
  if (kind === "send") specs = sends(N);
  else if (kind === "health") specs = Array.from({ length: 4 * N }, () => ({ path: "/health" }));
  else if (kind === "check" || kind === "status") {
    provider.requests.length = 0;
    const ids = [];
    for (const spec of sends(N)) {
      const body = JSON.parse((await request(spec)).body);
      ids.push(body.data?.otpId ?? body.otpId);
    }
    const pins = new Map(
      provider.requests.map(({ body }) => {
        const { data } = JSON.parse(body);
        return [data.otpId, extractPin(data.text)];
      }),
    );
    specs =
      kind === "check"
        ? ids.map((id) => ({ method: "POST", path: `/otp/${id}`, headers: key, body: { pin: pins.get(id) } }))
        : ids.flatMap((id) => [0, 1, 2].map(() => ({ path: `/otp/${id}`, headers: key })));
  } else throw new Error(`unknown kind ${kind}: check, send, status or health`);

  const cdp = await devtools();
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
  await cdp.send("Profiler.start");
  const rps = await run(specs);
  await new Promise((resolve) => setTimeout(resolve, 500)); // work after the replies
  const { profile } = await cdp.send("Profiler.stop");
  cdp.close();
  console.log(`${kind}: ${specs.length} requests, ${rps.toFixed(0)} req/s while profiled\n`);
  console.log(summarize(profile));
} finally {
  agent.destroy();
  await worker.dispose();
  await provider.close();
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
