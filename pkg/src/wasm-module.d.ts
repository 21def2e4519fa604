// How wrangler/workerd (CompiledWasm module rule) hand over a `.wasm` import.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
