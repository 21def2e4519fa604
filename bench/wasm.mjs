// The core's operations through the npm package (pkg/, its Node entry and wasm), in
// Node: the same operations and inputs (fixtures.json) as the native criterion
// benchmark (benches/core.rs), timed with a calibrated loop. Prints one JSON object
// {id: ns per call}. Each call crosses the JS/wasm boundary the way a user's does:
// JS objects in, JS objects out (JSON text in between), errors mapped to OtpError.
// The free functions (`planOtp`, `verifyOtp`) check the settings and prepare the keys
// on every call; the `engine/*` rows use one `OtpEngine`, prepared once, as
// `OtpService` does.
//
//   node bench/wasm.mjs [out.json] [id-regex]   (BENCH_WARMUP_MS, BENCH_TIME_MS per operation)
//
// With BENCH_CORE_WASM=<file>, also times `otp/create_verify_seeded`: the bench crate
// built for wasm32 (see bench/src/lib.rs), whose `pairs(n)` export runs the core's
// create+verify loop inside wasm with a seeded source, as the worker runs the core:
// no JS between the calls, so the figure shows the engine, not the bindings.

import { readFileSync, writeFileSync } from "node:fs";
import {
  OtpEngine,
  countSmsParts,
  generatePin,
  parsePhone,
  planOtp,
  renderTemplate,
  verifyOtp,
} from "otp-sms-verify";
import { envMs, timeSync } from "./timing.mjs";

const f = JSON.parse(readFileSync(new URL("./fixtures.json", import.meta.url), "utf8"));
const opts = { warmupMs: envMs("BENCH_WARMUP_MS", 500), timeMs: envMs("BENCH_TIME_MS", 1500) };

/** The PIN of a planned SMS: the text ends with the WebOTP line `@domain #PIN`. */
const pinOf = (text) => text.slice(text.lastIndexOf("#") + 1);

const plan = () => planOtp(f.settings, f.request, f.now, f.keys);
const pending = plan();
const pendingPin = pinOf(pending.message.text);
if (!verifyOtp(pending.record, pendingPin, f.keys, f.now + 1).verified) throw new Error("fixture PIN does not verify");

const engine = new OtpEngine(f.settings, f.keys);
const enginePending = engine.plan(f.request, f.now);
const enginePin = pinOf(enginePending.message.text);

/** Calls an operation makes per timed call, where more than one (the core loop). */
const perCall = {};

const cases = {
  "pin/numbers": () => generatePin({ type: "numbers", length: f.pinLength }),
  "pin/letters": () => generatePin({ type: "letters", length: f.pinLength }),
  "pin/alphanumeric": () => generatePin({ type: "alphanumeric", length: f.pinLength }),
  "template/render": () => renderTemplate(f.template, f.templateVars),
  "sms/gsm7": () => countSmsParts(f.smsGsm7),
  "sms/ucs2": () => countSmsParts(f.smsUcs2),
  "phone/e164": () => parsePhone(f.phoneE164),
  "phone/national": () => parsePhone(f.phoneNational.input, f.phoneNational.countryIso),
  "otp/create": plan,
  "otp/verify": () => verifyOtp(pending.record, pendingPin, f.keys, f.now + 1),
  "otp/create_verify": () => {
    const planned = plan();
    const v = verifyOtp(planned.record, pinOf(planned.message.text), f.keys, f.now + 1);
    if (!v.verified) throw new Error("create_verify: not verified");
    return v;
  },
  "engine/create": () => engine.plan(f.request, f.now),
  "engine/verify": () => engine.verify(enginePending.record, enginePin, f.now + 1),
  "engine/create_verify": () => {
    const planned = engine.plan(f.request, f.now);
    const v = engine.verify(planned.record, pinOf(planned.message.text), f.now + 1);
    if (!v.verified) throw new Error("engine/create_verify: not verified");
    return v;
  },
};

if (process.env.BENCH_CORE_WASM) {
  const module = new WebAssembly.Module(readFileSync(process.env.BENCH_CORE_WASM));
  // The raw module still declares wasm-bindgen's placeholder imports; `pairs` calls none.
  const imports = {};
  for (const { module: m, name } of WebAssembly.Module.imports(module)) {
    (imports[m] ??= {})[name] = () => {
      throw new Error(`core loop called the import ${m}.${name}`);
    };
  }
  const { pairs } = new WebAssembly.Instance(module, imports).exports;
  if (pairs(10) !== 10) throw new Error("core loop: a pair did not verify");
  const BATCH = 20;
  cases["otp/create_verify_seeded"] = () => {
    if (pairs(BATCH) !== BATCH) throw new Error("core loop: a pair did not verify");
    return BATCH;
  };
  perCall["otp/create_verify_seeded"] = BATCH;
}

const [out, filter] = process.argv.slice(2);
const only = filter ? new RegExp(filter) : null;
const results = {};
for (const [id, fn] of Object.entries(cases)) {
  if (only && !only.test(id)) continue;
  results[id] = timeSync(fn, opts).ns / (perCall[id] ?? 1);
  process.stderr.write(`[bench wasm] ${id.padEnd(20)} ${results[id].toFixed(0)} ns\n`);
}
if (out) writeFileSync(out, JSON.stringify(results));
else console.log(JSON.stringify(results));
