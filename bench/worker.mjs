// The worker end to end: the BUILT worker (worker/build, scripts/build-worker.sh) in
// workerd via Miniflare on 127.0.0.1 (tests/support/api.mjs, development bindings),
// sending through its webhook gateway to the fake SMS provider
// (tests/support/fake-provider.mjs, a Node server on 127.0.0.1), driven over real
// HTTP by a Node client that keeps a fixed number of requests in flight. Phases, each
// bounded by time and count: GET /health, POST /otp (send), POST /otp/{id} (check,
// the right PIN, once per OTP sent), GET /otp/{id} (status), GET /health again. Then
// the storage floor (bench/floor-worker.mjs): a plain JS worker in the same runtime
// whose routes do one KV read, one KV write or one Durable Object call each, next
// to its own /health. Prints one JSON object.
//
//   node bench/worker.mjs [out.json]   (BENCH_CONCURRENCY, BENCH_HTTP_MS, BENCH_HTTP_MAX, BENCH_WARMUP_MS,
//                                       BENCH_WORKER: another build's entry module)
//
// Storage: Miniflare keeps KV and Durable Object data in SQLite files under the OS temp
// directory and syncs them on every write; on a shared VM disk that fsync latency, not
// the worker, sets the pace. So the run uses a tmpfs (/dev/shm) when there is one;
// BENCH_STORAGE=disk keeps the default temp directory.
//
// The app keeps the production rate limits on (their Durable Object buckets run on
// every send and check) with caps a load test never reaches, the fraud guard on with
// its default settings in shadow mode (it reads and writes its state with the caps on
// every send and takes every decision, but records its refusals instead of enforcing
// them: a load test's surge of sends that never convert is what pumping looks like),
// insights on (tests/worker/harness.mjs: OTP_INSIGHTS=off measures without them),
// and every send goes to a new number. A second send phase with every cap and the
// guard off shows what they cost.

import { existsSync, writeFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { extractPin, NO_LIMITS, startApi } from "../tests/support/api.mjs";
import { startFakeProvider } from "../tests/support/fake-provider.mjs";
import { COMPATIBILITY_DATE } from "../tests/worker/harness.mjs";
import { request as httpRequest } from "./http-client.mjs";
import { envMs, percentile } from "./timing.mjs";
import { benchApp, benchPhone } from "./traffic.mjs";

const CONCURRENCY = Math.max(1, Number(process.env.BENCH_CONCURRENCY) || 8);
const PHASE_MS = envMs("BENCH_HTTP_MS", 4000);
const MAX_REQUESTS = Math.max(1, Number(process.env.BENCH_HTTP_MAX) || 20_000);
const WARMUP_MS = envMs("BENCH_WARMUP_MS", 500);
const log = (msg) => process.stderr.write(`[bench worker] ${msg}\n`);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** One request on a kept-alive connection of the benchmark's agent. */
const request = (base, spec) => httpRequest(agent, base, spec);

/**
 * Runs `next(i)` (a request description, or null when there is no more work) with
 * CONCURRENCY requests in flight until `ms` pass or `max` requests were made.
 * Returns throughput, latency percentiles and the responses when `keep` is set.
 */
async function load(base, next, { ms = PHASE_MS, max = MAX_REQUESTS, keep = false } = {}) {
  const latencies = [];
  // The worker's own time per request (its `X-Response-Time`): against the
  // latency seen here, what a request waited for outside the worker's code.
  const inWorker = [];
  const kept = [];
  let issued = 0;
  let unexpected = 0;
  const statuses = {};
  const start = performance.now();
  const deadline = start + ms;
  async function lane() {
    while (performance.now() < deadline && issued < max) {
      const spec = next(issued++);
      if (!spec) return;
      const t0 = performance.now();
      const res = await request(base, spec);
      latencies.push(performance.now() - t0);
      const own = Number.parseFloat(res.headers["x-response-time"]);
      if (Number.isFinite(own)) inWorker.push(own);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status !== spec.expect) unexpected++;
      if (keep) kept.push({ spec, res });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  inWorker.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ...(inWorker.length ? { workerP99: percentile(inWorker, 99) } : {}),
    unexpected,
    statuses,
    kept,
  };
}

const summary = ({ kept, ...r }) => r;

const storage = process.env.BENCH_STORAGE !== "disk" && existsSync("/dev/shm") ? "tmpfs" : "disk";
if (storage === "tmpfs") process.env.TMPDIR = "/dev/shm";

// workerd's own output is drained, not printed.
const drain = (stdout, stderr) => {
  stdout.resume();
  stderr.resume();
};
const provider = await startFakeProvider();
// No static assets: Miniflare serves them through a router worker in front of every
// request, a hop that production's edge does for free; without it the ceiling below
// is the worker's own.
// BENCH_WORKER: the entry module of another build to measure (an experiment's), in
// place of worker/build/entry.mjs.
const scriptPath = process.env.BENCH_WORKER;
const worker = await startApi({ miniflare: { handleRuntimeStdio: drain, assets: undefined, ...(scriptPath ? { scriptPath } : {}) } });
try {
  const base = worker.url;
  const gateway = { type: "webhook", url: `${provider.url}/sms` };
  // Production limits with caps a load test never reaches, and the guard's defaults
  // in shadow mode (see the top of the file).
  const app = await worker.api.createApp(benchApp("Bench", gateway));
  const unlimited = await worker.api.createApp({ name: "Bench unlimited", gateway, limits: NO_LIMITS });
  const key = { "x-api-key": app.apiKey };
  const health = () => ({ method: "GET", path: "/health", expect: 200 });
  let sends = 0;
  const nextPhone = () => benchPhone(sends++);
  const sendWith = (headers) => () => ({
    method: "POST",
    path: "/otp",
    headers,
    body: { phoneNumber: nextPhone() },
    expect: 201,
  });
  const send = sendWith(key);

  // Warm-up: compile paths, open connections, create the KV and Durable Object storage.
  await load(base, health, { ms: WARMUP_MS });
  await load(base, send, { ms: WARMUP_MS });

  const results = {};
  results.health = summary(await load(base, health));
  log(`GET /health ${results.health.rps.toFixed(0)} req/s`);

  const sent = await load(base, send, { keep: true });
  results.send = summary(sent);
  log(`POST /otp ${results.send.rps.toFixed(0)} req/s`);
  results.sendNoLimits = summary(await load(base, sendWith({ "x-api-key": unlimited.apiKey })));
  log(`POST /otp, limits off ${results.sendNoLimits.rps.toFixed(0)} req/s`);

  const otps = sent.kept
    .filter(({ res }) => res.status === 201)
    .map(({ spec, res }) => {
      const body = JSON.parse(res.body);
      return { id: body.data?.otpId ?? body.otpId, phone: spec.body.phoneNumber };
    });

  // The PINs, from what the fake provider received (not timed).
  const pins = new Map();
  for (const { body } of provider.requests) {
    const { data } = JSON.parse(body);
    pins.set(data.otpId, extractPin(data.text));
  }
  for (const otp of otps) otp.pin = pins.get(otp.id);
  const checkable = otps.filter((o) => o.id && o.pin);
  if (checkable.length === 0) throw new Error("no OTP was sent: see the statuses of POST /otp");

  // Each OTP is checked once: the first ones warm the check's path up (its wasm
  // functions are compiled by the baseline tier until they run hot), untimed.
  const warm = checkable.splice(0, Math.min(200, Math.floor(checkable.length / 5)));
  const checkOf = (otps) => (i) => {
    const otp = otps[i];
    return otp && { method: "POST", path: `/otp/${otp.id}`, headers: key, body: { pin: otp.pin }, expect: 200 };
  };
  await load(base, checkOf(warm), { ms: WARMUP_MS });
  results.check = summary(await load(base, checkOf(checkable)));
  log(`POST /otp/{id} ${results.check.rps.toFixed(0)} req/s (${checkable.length} OTPs to check)`);

  const status = (i) => ({ method: "GET", path: `/otp/${checkable[i % checkable.length].id}`, headers: key, expect: 200 });
  await load(base, status, { ms: WARMUP_MS });
  results.status = summary(await load(base, status));
  log(`GET /otp/{id} ${results.status.rps.toFixed(0)} req/s`);

  results.storageOps = await storageOps(base, key, provider, nextPhone);

  results.healthAfter = summary(await load(base, health));
  log(`GET /health ${results.healthAfter.rps.toFixed(0)} req/s (again)`);

  results.floor = await storageFloor();

  const json = JSON.stringify({ concurrency: CONCURRENCY, phaseMs: PHASE_MS, storage, results });
  if (process.argv[2]) writeFileSync(process.argv[2], json);
  else console.log(json);
} finally {
  agent.destroy();
  await worker.dispose();
  await provider.close();
}

/**
 * The storage operations of each request kind, from the worker's `X-Storage-Ops`
 * header (development only), each request sent alone so that its counts are its own:
 * KV reads, KV writes and object calls on the request path, and what it leaves for
 * after its reply.
 */
async function storageOps(base, key, provider, nextPhone) {
  const parse = (res) =>
    Object.fromEntries(
      String(res.headers["x-storage-ops"] ?? "")
        .split(";")
        .filter(Boolean)
        .map((kv) => kv.trim().split("="))
        .map(([k, v]) => [k, Number(v)]),
    );
  const pinOf = (otpId) => {
    for (const { body } of provider.requests.toReversed()) {
      const { data } = JSON.parse(body);
      if (data.otpId === otpId) return extractPin(data.text);
    }
    throw new Error(`no SMS for ${otpId}`);
  };
  const ops = {};
  const one = async (name, spec) => {
    const res = await request(base, spec);
    if (res.status !== spec.expect) throw new Error(`${name}: ${res.status} ${res.body}`);
    ops[name] = parse(res);
    return JSON.parse(res.body);
  };
  const phone = nextPhone();
  const otp = await one("send", { method: "POST", path: "/otp", headers: key, body: { phoneNumber: phone }, expect: 201 });
  const status = { method: "GET", path: `/otp/${otp.otpId}`, headers: key, expect: 200 };
  // A send writes no KV copy: the first status read asks the shard, which writes one.
  await one("statusFirstRead", status);
  await one("check", { method: "POST", path: `/otp/${otp.otpId}`, headers: key, body: { pin: pinOf(otp.otpId) }, expect: 200 });
  // Once the check's copy is in KV (written after its reply).
  for (let i = 0; i < 50 && (await one("status", status)).status !== "VERIFIED"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const dx = { "x-dexatel-key": key["x-api-key"] };
  const create = (phone) => ({
    method: "POST",
    path: "/v1/verifications",
    headers: dx,
    body: { data: { sender: "Verify", phone } },
    expect: 201,
  });
  // The first reads the application's senders from KV; the isolate keeps them 10 s.
  await one("dexatelCreateColdCache", create(nextPhone().slice(1)));
  const digits = nextPhone().slice(1);
  const v = await one("dexatelCreate", create(digits));
  await one("dexatelCheck", {
    method: "GET",
    path: `/v1/verifications?phone=${digits}&code=${pinOf(v.data.id)}`,
    headers: dx,
    expect: 200,
  });
  for (const [name, o] of Object.entries(ops)) log(`storage ops ${name}: ${JSON.stringify(o)}`);
  return ops;
}

/** The floor worker's phases: its /health, then one storage operation per request. */
async function storageFloor() {
  const mf = new Miniflare({
    scriptPath: fileURLToPath(new URL("./floor-worker.mjs", import.meta.url)),
    modules: true,
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["KV"],
    durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
    host: "127.0.0.1",
    port: 0,
    cf: false,
  });
  try {
    const base = await mf.ready;
    const floor = {};
    for (const route of ["/health", "/kv-get", "/kv-put", "/do-call", "/do-new"]) {
      const get = () => ({ method: "GET", path: route, expect: 200 });
      await load(base, get, { ms: WARMUP_MS });
      floor[route] = summary(await load(base, get));
      log(`floor ${route} ${floor[route].rps.toFixed(0)} req/s`);
    }
    return floor;
  } finally {
    await mf.dispose();
  }
}
