// Prints the table of one benchmark run (markdown) from the JSON files that
// scripts/bench.sh collected in one directory: criterion/ (native), wasm.json,
// worker.json and sizes.json. Figures that were not measured are left out.
//
//   node bench/report.mjs <results-dir>

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node bench/report.mjs <results-dir>");
const read = (file) => (existsSync(path.join(dir, file)) ? JSON.parse(readFileSync(path.join(dir, file), "utf8")) : null);

/** Criterion's median in ns for `group/name`, if that benchmark ran. */
function native(id) {
  const file = path.join(dir, "criterion", ...id.split("/"), "new", "estimates.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).median.point_estimate : undefined;
}

const lines = [];
const m0 = read("machine-start.json");
const m1 = read("machine-end.json");
if (m0) {
  lines.push(
    `Machine: ${m0.cpus} × ${m0.cpu}, ${m0.os} (Linux ${m0.kernel}), Node ${m0.node}, ${m0.rustc}.`,
    `Load average (1 min) ${m0.loadavg[0].toFixed(2)} at the start${m1 ? `, ${m1.loadavg[0].toFixed(2)} at the end` : ""}.`,
    "",
  );
}

const ns = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(0)} ns`);
const perSec = (v) => `${Math.round(v).toLocaleString("en-US")}/s`;
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
const x = (v) => `${v.toFixed(1)}×`;
const pct = (v) => `${(100 * v).toFixed(0)}%`;
const mark = (ok) => (ok ? "met" : "**missed**");
const table = (head, rows) => {
  lines.push(`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`);
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  lines.push("");
};

// [wasm id, label, native id when it differs]: the engine/* rows are OtpEngine, the
// prepared object, timed against the same native operations as the free functions.
const OPS = [
  ["pin/numbers", "PIN, 6 digits (OS CSPRNG)"],
  ["pin/letters", "PIN, 6 letters"],
  ["pin/alphanumeric", "PIN, 6 alphanumeric"],
  ["template/render", "Template rendering (+ WebOTP line)"],
  ["sms/gsm7", "SMS parts, GSM-7 text"],
  ["sms/ucs2", "SMS parts, UCS-2 text"],
  ["phone/e164", "Phone parsing, E.164"],
  ["phone/national", "Phone parsing, national + country"],
  ["phone/recipient", "Phone parsing + numbering-plan type + recipient check (+1)"],
  ["otp/create", "Create: `plan_otp` / `planOtp`"],
  ["otp/verify", "Verify: `OtpRecord::verify` / `verifyOtp`"],
  ["otp/create_verify", "Create + verify pair"],
  ["engine/create", "Create: `plan_otp` / `OtpEngine.plan` (prepared)", "otp/create"],
  ["engine/verify", "Verify: `OtpRecord::verify` / `OtpEngine.verify`", "otp/verify"],
  ["engine/create_verify", "Create + verify pair, `OtpEngine`", "otp/create_verify"],
  ["otp/create_verify_seeded", "Create + verify pair, seeded; wasm: the core loop alone"],
];

const wasm = read("wasm.json");
const coreRows = OPS.filter(([id, , nid]) => native(nid ?? id) !== undefined || wasm?.[id] !== undefined).map(([id, label, nid]) => {
  const n = native(nid ?? id);
  const w = wasm?.[id];
  return [label, n === undefined ? "–" : ns(n), w === undefined ? "–" : ns(w), n && w ? x(w / n) : "–"];
});
if (coreRows.length) {
  lines.push("### Core: native (criterion) and wasm in Node (through the npm package)", "");
  table(["Operation", "Native", "Wasm in Node", "Wasm / native time"], coreRows);
  const n = native("otp/create_verify");
  const rows = [];
  if (n) rows.push(["Native, one core", perSec(1e9 / n), "≥ 200,000/s", mark(1e9 / n >= 200_000)]);
  const half = n ? `≥ ${perSec(5e8 / n)} (half of native)` : "half of native";
  for (const [id, label] of [
    ["otp/create_verify", "Wasm in Node, free functions (`planOtp` + `verifyOtp`), one core"],
    ["engine/create_verify", "Wasm in Node, prepared `OtpEngine`, one core"],
  ]) {
    const w = wasm?.[id];
    if (w) rows.push([label, perSec(1e9 / w), half, n ? mark(w <= 2 * n) : "–"]);
  }
  const ns0 = native("otp/create_verify_seeded");
  const ws0 = wasm?.["otp/create_verify_seeded"];
  if (ns0 && ws0) {
    rows.push(["Wasm core alone (no JS boundary, seeded) vs native seeded", perSec(1e9 / ws0), `≥ ${perSec(5e8 / ns0)} (half of ${perSec(1e9 / ns0)})`, mark(ws0 <= 2 * ns0)]);
  }
  if (rows.length) table(["Create + verify pairs", "Rate", "Target", ""], rows);
}

const worker = read("worker.json");
if (worker) {
  const r = worker.results;
  const ceiling = Math.max(r.health.rps, r.healthAfter.rps);
  lines.push(
    `### Worker end to end (workerd via Miniflare, 127.0.0.1, ${worker.concurrency} requests in flight, ${worker.phaseMs / 1000} s per phase, storage on ${worker.storage ?? "disk"})`,
    "",
  );
  // Issue 16's targets: a share of /health's rate, and for the check a p99 at most
  // 3× /health's (the first /health phase's, taken before the storage fills).
  const row = (label, s, share) => [
    label,
    perSec(s.rps).replace("/s", " req/s"),
    `${s.p50.toFixed(1)} ms`,
    `${s.p99.toFixed(1)} ms`,
    s.workerP99 === undefined ? "–" : `${s.workerP99.toFixed(0)} ms`,
    pct(s.rps / ceiling),
    share ? `≥ ${Math.round(share * 100)}%: ${mark(s.rps / ceiling >= share)}` : "",
    `${s.requests}${s.unexpected ? ` (${s.unexpected} unexpected: ${JSON.stringify(s.statuses)})` : ""}`,
  ];
  const checkRow = row("`POST /otp/{id}` check", r.check, 0.25);
  checkRow[6] += `; p99 ≤ 3× /health's: ${mark(r.check.p99 <= 3 * r.health.p99)}`;
  table(
    ["Request", "Throughput", "p50", "p99", "p99 in the worker", "vs /health", "Target", "Requests"],
    [
      row("`GET /health` (before)", r.health),
      row("`POST /otp` send", r.send, 0.15),
      ...(r.sendNoLimits ? [row("`POST /otp` send, caps and guard off", r.sendNoLimits)] : []),
      checkRow,
      row("`GET /otp/{id}` status", r.status, 0.4),
      row("`GET /health` (after)", r.healthAfter),
    ],
  );
  lines.push(
    `"vs /health" divides by the faster of the two /health phases (${perSec(ceiling).replace("/s", " req/s")}), this machine's ceiling in this run. "p99 in the worker" is of the worker's own time (its \`X-Response-Time\`, whole milliseconds): the rest of a request's latency was spent waiting outside its code.`,
    "",
  );
  const floor = r.floor;
  if (floor) {
    const base = floor["/health"].rps;
    const floorRow = (label, s) => [label, perSec(s.rps).replace("/s", " req/s"), `${s.p50.toFixed(1)} ms`, `${s.p99.toFixed(1)} ms`, pct(s.rps / base)];
    lines.push("The storage floor, same run: a plain JS worker (`bench/floor-worker.mjs`) in the same runtime, each request doing one storage operation and nothing else.", "");
    table(
      ["Request of the floor worker", "Throughput", "p50", "p99", "vs its /health"],
      [
        floorRow("`GET /health` (a JSON reply)", floor["/health"]),
        floorRow("one KV read", floor["/kv-get"]),
        floorRow("one KV write", floor["/kv-put"]),
        floorRow("one Durable Object call (existing object, one storage write)", floor["/do-call"]),
        floorRow("one Durable Object call (new object, one storage write)", floor["/do-new"]),
      ],
    );
  }
}

const sizes = read("sizes.json");
if (sizes) {
  lines.push("### Sizes", "");
  const rows = [];
  const w = sizes.worker;
  if (w) {
    if (w.js) rows.push(["Worker JS bundle (wrangler)", kib(w.js.raw), kib(w.js.gzip), "", ""]);
    if (w.wasm) rows.push(["Worker wasm", kib(w.wasm.raw), kib(w.wasm.gzip), "", ""]);
    const total = w.wrangler ?? w;
    rows.push(["Worker upload, total (wrangler's figure)", kib(total.raw), kib(total.gzip), "≤ 350 KiB gzipped", mark(total.gzip <= 350 * 1024)]);
  }
  if (sizes.pkgWasm) {
    rows.push(["npm package wasm", kib(sizes.pkgWasm.raw), kib(sizes.pkgWasm.gzip), "≤ 90 KiB gzipped", mark(sizes.pkgWasm.gzip <= 90 * 1024)]);
  }
  table(["Artifact", "Raw", "Gzip -9", "Target", ""], rows);
}

console.log(lines.join("\n"));
