// The part of workerd's `cloudflare:workers` module that load-workerd.ts re-exports.
declare module "cloudflare:workers" {
  export abstract class DurableObject {
    protected readonly ctx: unknown;
    protected readonly env: unknown;
    constructor(ctx: unknown, env: unknown);
  }
}
