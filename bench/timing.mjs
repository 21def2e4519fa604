// Timing helpers shared by the Node benchmarks: a calibrated loop for synchronous
// functions (wasm.mjs) and percentiles for latencies (worker.mjs).

import { performance } from "node:perf_hooks";

/**
 * Times `fn` like criterion does, simply: warm up for `warmupMs`, pick a batch size
 * that takes about 5 ms, then time batches for `timeMs` and report the median batch
 * in nanoseconds per call (the median resists pauses from other processes).
 */
export function timeSync(fn, { warmupMs = 500, timeMs = 1500 } = {}) {
  let sink;
  let calls = 0;
  const warmEnd = performance.now() + warmupMs;
  const w0 = performance.now();
  while (performance.now() < warmEnd) {
    for (let i = 0; i < 100; i++) sink = fn();
    calls += 100;
  }
  const perCall = (performance.now() - w0) / calls; // ms
  const batch = Math.max(1, Math.round(5 / perCall));
  const samples = [];
  const end = performance.now() + timeMs;
  while (performance.now() < end || samples.length < 5) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = fn();
    samples.push(((performance.now() - t0) * 1e6) / batch);
  }
  if (sink === undefined) throw new Error("benchmark returned nothing");
  samples.sort((a, b) => a - b);
  return { ns: percentile(samples, 50), samples: samples.length, batch };
}

/** The `p`th percentile (0-100) of sorted `values` (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Milliseconds from an environment variable, or `fallback`. */
export function envMs(name, fallback) {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
