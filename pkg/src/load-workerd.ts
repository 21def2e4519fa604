// #wasm for Cloudflare Workers (workerd): wrangler and workerd hand a `.wasm` import
// over as a compiled `WebAssembly.Module`, which is instantiated synchronously on
// first use (workerd forbids compiling wasm from bytes at run time).

import wasmModule from "../wasm/otp_core_bg.wasm";
import * as glue from "../wasm/otp_core.js";
import type { RawCore, WasmSource } from "./raw.js";

let ready = false;

/** The core's exports, instantiated on the first call. */
export function core(): RawCore {
  if (!ready) {
    if (!(wasmModule instanceof WebAssembly.Module)) {
      throw new TypeError(
        "otp-sms-verify: the .wasm import is not a WebAssembly.Module; bundle with wrangler " +
          "(or a CompiledWasm module rule) or use the package's browser entry with init()",
      );
    }
    glue.initSync({ module: wasmModule });
    ready = true;
  }
  return glue;
}

/** Nothing to do in workerd: the wasm is instantiated synchronously on first use. */
export function init(_source?: WasmSource): Promise<void> {
  return Promise.resolve();
}
