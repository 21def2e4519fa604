// The storage floor: a plain JS worker whose routes each do one storage operation
// and nothing else, run by bench/worker.mjs in the same workerd/Miniflare setup as
// the real worker. Its rates, next to its own `/health`, show what one KV read, one
// KV write or one Durable Object call costs in this runtime, whatever code runs
// around it.

export class Probe {
  constructor(state) {
    this.state = state;
  }
  async fetch(request) {
    if (new URL(request.url).pathname === "/write") {
      await this.state.storage.put(`k${Math.random()}`, "x".repeat(300));
    }
    return new Response("ok");
  }
}

const probe = (env, name, path) => env.PROBE.get(env.PROBE.idFromName(name)).fetch(`https://probe${path}`);

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const value = "x".repeat(300);
    switch (pathname) {
      case "/health":
        return Response.json({ status: "ok" });
      case "/kv-get":
        return Response.json({ found: (await env.KV.get("fixed")) !== null });
      case "/kv-put":
        await env.KV.put(`k:${crypto.randomUUID()}`, value, { expirationTtl: 3600 });
        return Response.json({ ok: true });
      case "/do-call":
        // One of 16 existing objects, one storage write.
        await (await probe(env, `fixed-${Math.floor(Math.random() * 16)}`, "/write")).text();
        return Response.json({ ok: true });
      case "/do-new":
        // A new object every time (as a per-OTP object is), one storage write.
        await (await probe(env, crypto.randomUUID(), "/write")).text();
        return Response.json({ ok: true });
    }
    return new Response("not found", { status: 404 });
  },
};
