// The worker's entry module: worker-build's module (./index.js, next to this file
// in the build's output), with its Durable Object classes declared as subclasses of
// DurableObject, which workerd requires of a class whose methods are called by RPC.
// The worker calls each object's `call` method (worker/src/durable.rs), not its
// fetch: no Request or Response is built on either side of the call.
import { DurableObject } from "cloudflare:workers";
import worker, * as built from "./index.js";

/** A DurableObject subclass that delegates to an instance of worker-build's `Wasm` class. */
function rpcObject(Wasm) {
  return class extends DurableObject {
    constructor(ctx, env) {
      super(ctx, env);
      this.wasm = new Wasm(ctx, env);
    }
    fetch(request) {
      return this.wasm.fetch(request);
    }
    alarm() {
      return this.wasm.alarm();
    }
    call(request) {
      return this.wasm.call(request);
    }
  };
}

export const OtpShard = rpcObject(built.OtpShard);
export const RateLimiter = rpcObject(built.RateLimiter);
export const AdminSessions = rpcObject(built.AdminSessions);
export default worker;
