// The traffic of the worker benchmarks (worker.mjs, profile-worker.mjs), so that the
// profiler samples the load the benchmark measures: the application it runs against
// and the numbers it sends to.

/**
 * The benchmark's application: production limits with caps a load test never
 * reaches, and the fraud guard's defaults in shadow mode (it reads and writes its
 * state on every send and takes every decision, but records its refusals instead
 * of enforcing them: a load test's surge of sends that never convert is what
 * pumping looks like).
 */
export const benchApp = (name, gateway) => ({
  name,
  gateway,
  limits: { appPerMinute: 1_000_000, ipSendsPerHour: 1_000_000, ipChecksPerHour: 1_000_000, countryPartsPerDay: { default: 1_000_000 } },
  fraudGuard: { enabled: true, shadow: true },
});

/**
 * The `i`th number to send to: valid French mobiles spread over the 1,000 ranges of
 * +33 61 (the number without its last 4 digits), so that consecutive sends land in
 * different ranges, as real traffic does, and no per-range rule sees a burst.
 */
export const benchPhone = (i) => `+3361${String((i * 7919) % 10_000_000).padStart(7, "0")}`;
