// What `DurableObjectBase` is outside workerd (Node, browsers): a stand-in for
// `DurableObject` of `cloudflare:workers`, which load-workerd.ts exports instead. It
// keeps `ctx` and `env` as that class does, so `OtpStoreObject` can also be built over
// a fake state object in tests.

/** The base class of `OtpStoreObject` outside workerd. */
export class DurableObjectBase {
  protected readonly ctx: unknown;
  protected readonly env: unknown;

  constructor(ctx: unknown, env: unknown) {
    this.ctx = ctx;
    this.env = env;
  }
}
