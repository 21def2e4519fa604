// #wasm for browsers and any other ESM runtime: the wasm is fetched and instantiated
// by `init()`, once; every other call needs it done.

import initGlue, * as glue from "../wasm/otp_core.js";
import type { RawCore, WasmSource } from "./raw.js";

let loading: Promise<void> | undefined;
let ready = false;

/** The core's exports; throws until `init()` has resolved. */
export function core(): RawCore {
  if (!ready) {
    throw new Error("otp-sms-verify: call `await init()` once before using the package here");
  }
  return glue;
}

/**
 * Fetches and instantiates the wasm (default: `otp_core_bg.wasm` next to the glue,
 * resolved with `import.meta.url`). Idempotent: every call returns the same promise;
 * a failed attempt is forgotten so that a later call can retry.
 */
export function init(source?: WasmSource): Promise<void> {
  loading ??= initGlue(source === undefined ? undefined : { module_or_path: source }).then(
    () => {
      ready = true;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
