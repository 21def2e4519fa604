#!/usr/bin/env node
// Fails when a wasm module imports from `env`: that means an unresolved native
// symbol (e.g. a C library, or a std function with no wasm32 implementation) slipped
// into the build, and the module would fail to instantiate in workerd or a browser.
// Reads the import section itself, so wasm features Node 20 lacks do not matter.
import { readFileSync } from "node:fs";

/** Module names and fields of the imports of a wasm binary. */
function wasmImports(bytes) {
  let pos = 8; // magic + version
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return result;
    }
  };
  const name = () => {
    const len = leb();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + len));
    pos += len;
    return s;
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = leb();
    const end = pos + size;
    if (id === 2) {
      const imports = [];
      for (let n = leb(); n > 0; n--) {
        imports.push({ module: name(), name: name() });
        const kind = bytes[pos++];
        if (kind === 0) leb(); // function: type index
        else if (kind === 1) { pos++; const flags = leb(); leb(); if (flags & 1) leb(); } // table
        else if (kind === 2) { const flags = leb(); leb(); if (flags & 1) leb(); } // memory
        else if (kind === 3) pos += 2; // global: value type + mutability
        else if (kind === 4) { pos++; leb(); } // tag
        else throw new Error(`unknown import kind ${kind}`);
      }
      return imports;
    }
    pos = end;
  }
  return [];
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const imports = wasmImports(readFileSync(file));
  const fromEnv = imports.filter((i) => i.module === "env");
  const modules = [...new Set(imports.map((i) => i.module))].join(", ") || "none";
  if (fromEnv.length) {
    failed = true;
    console.error(`${file}: imports from env: ${fromEnv.map((i) => i.name).join(", ")}`);
  } else {
    console.log(`${file}: ${imports.length} imports, from ${modules}; none from env`);
  }
}
process.exit(failed ? 1 : 0);
