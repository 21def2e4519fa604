// The contract between the public API and the per-environment wasm loaders that
// package.json `imports["#wasm"]` chooses (load-node, load-workerd, load-browser).

import type * as Glue from "../wasm/otp_core.cjs";

/** The wasm-bindgen exports of the core (same in the web and nodejs glues). */
export type RawCore = Omit<typeof Glue, "default">;

/** What `init()` accepts in a browser: where to fetch the `.wasm` from, or its bytes or module. */
export type WasmSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;
