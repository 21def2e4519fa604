// #wasm for Node (ESM and CommonJS): the nodejs glue reads and compiles the wasm
// synchronously when it is first loaded, so there is nothing to initialise.

import * as glue from "../wasm/otp_core.cjs";
import type { RawCore, WasmSource } from "./raw.js";

/** The core's exports, ready to call. */
export function core(): RawCore {
  return glue;
}

/** Nothing to do in Node: the wasm is loaded synchronously. */
export function init(_source?: WasmSource): Promise<void> {
  return Promise.resolve();
}
