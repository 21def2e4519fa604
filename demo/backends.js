// Where the flow runs. Both backends have the same methods, so the page does not
// care which one it drives:
//   connect()                  → { kind, label } once ready ({ needsKey: true } when an API key is wanted)
//   send(request)              → the new OTP (SMS.CX's OTP object, full phone number)
//   verify(otpId, pin)         → { status: "VERIFIED" } or throws FlowError
//   status(otpId)              → the OTP now
//   cancel(otpId)              → resolves once cancelled
//   message(otp)               → the SMS as delivered to the phone, or null if it cannot be seen
// Failures are FlowError: the API's (or the package's) error code and message.

/** A refusal from the API or the package: `code` is the stable error code (e.g. 2029). */
export class FlowError extends Error {
  constructor({ code, message, status, type, retryAfter }) {
    super(message);
    this.name = "FlowError";
    this.code = code;
    this.status = status;
    this.type = type;
    /** Seconds to wait before a retry can succeed (a 429's Retry-After). */
    this.retryAfter = retryAfter;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The SMS.CX API of this worker, over HTTP. In development, `POST /demo/session`
 * gives a short-lived token for the demo app, and `GET /demo/outbox` shows its SMS.
 * Elsewhere the visitor pastes an API key and SMS go out for real.
 */
export class LiveBackend {
  kind = "live";
  #log;
  #devClock;
  #token = null;
  #apiKey = null;

  /**
   * @param {import("./log.js").Log} log
   * @param {{ devClock?: boolean }} options devClock: send the page's clock as X-Dev-Now
   *   (development only; lets a test move time for the page and the worker together)
   */
  constructor(log, { devClock = false } = {}) {
    this.#log = log;
    this.#devClock = devClock;
  }

  get hasOutbox() {
    return this.#token !== null;
  }

  async connect() {
    const res = await this.#request("POST", "/demo/session", { auth: false, tag: "demo only" });
    if (res.ok) {
      this.#token = res.body.access_token;
      return { kind: "session", appId: res.body.app_id, expiresIn: res.body.expires_in };
    }
    if (res.status === 404) {
      const saved = sessionStorage.getItem("otp-demo-api-key");
      if (saved) {
        this.#apiKey = saved;
        return { kind: "key" };
      }
      return { needsKey: true };
    }
    throw new FlowError(errorOf(res));
  }

  /** Uses `key` (X-API-KEY) from now on; kept in this tab's sessionStorage only. */
  useApiKey(key) {
    this.#apiKey = key.trim();
    sessionStorage.setItem("otp-demo-api-key", this.#apiKey);
  }

  async send(request) {
    return this.#api("POST", "/otp", request);
  }

  async verify(otpId, pin) {
    return this.#api("POST", `/otp/${encodeURIComponent(otpId)}`, { pin });
  }

  async status(otpId) {
    return this.#api("GET", `/otp/${encodeURIComponent(otpId)}`);
  }

  async cancel(otpId) {
    await this.#api("DELETE", `/otp/${encodeURIComponent(otpId)}`);
  }

  /** The SMS of `otp` from the dev outbox (retried briefly), or null without one. */
  async message(otp) {
    if (!this.hasOutbox) return null;
    const query = new URLSearchParams({ phoneNumber: otp.phoneNumber, otpId: otp.otpId });
    for (const delay of [0, 250, 500, 1000, 2000]) {
      if (delay) await sleep(delay);
      const body = await this.#api("GET", `/demo/outbox?${query}`, undefined, "demo only");
      if (body.data.length > 0) return body.data[0];
    }
    return null;
  }

  async #api(method, path, body, tag) {
    let res = await this.#request(method, path, { body, tag });
    // A session token lives an hour: get a new one once, and retry.
    if (res.status === 401 && this.#token) {
      const session = await this.#request("POST", "/demo/session", { auth: false, tag: "demo only" });
      if (session.ok) {
        this.#token = session.body.access_token;
        res = await this.#request(method, path, { body, tag });
      }
    }
    if (!res.ok) throw new FlowError(errorOf(res));
    return res.body;
  }

  async #request(method, path, { body, auth = true, tag } = {}) {
    const headers = {};
    if (auth && this.#token) headers.Authorization = `Bearer ${this.#token}`;
    else if (auth && this.#apiKey) headers["X-API-KEY"] = this.#apiKey;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.#devClock) headers["X-Dev-Now"] = String(Math.floor(Date.now() / 1000));
    const entry = this.#log.http({ method, url: path, headers, body, tag });
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      entry.fail(error);
      throw new FlowError({ code: 0, message: `The worker could not be reached (${error.message}).` });
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    entry.done({ status: res.status, headers: res.headers, body: json });
    return { ok: res.ok, status: res.status, body: json, retryAfter: Number(res.headers.get("retry-after")) || undefined };
  }
}

function errorOf(res) {
  const e = res.body?.error;
  return {
    code: e?.code ?? res.status,
    message: e?.message ?? `HTTP ${res.status}`,
    status: res.status,
    type: e?.type,
    retryAfter: res.retryAfter,
  };
}

/** 24 random bytes as hex: the PIN key of this tab's in-memory service. */
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The same flow without a server: the npm package's ESM build (`init()` loads its
 * wasm), `OtpService` over a `MemoryStore`, and a sender that hands the SMS to the
 * drawn phone. Everything lives in this tab and is gone on reload.
 */
export class OfflineBackend {
  kind = "offline";
  #log;
  #pkg = null;
  #service = null;
  #sent = new Map(); // otpId → SMS
  #lastSms = null;

  constructor(log) {
    this.#log = log;
  }

  get hasOutbox() {
    return true;
  }

  async connect() {
    const pkg = await import("otp-sms-verify");
    this.#pkg = pkg;
    await this.#call("init", [], () => pkg.init());
    const keys = [randomKey()];
    const sender = {
      send: async (sms) => {
        const entry = this.#log.call({ name: "sender.send", args: [sms], tag: "your SMS gateway" });
        this.#lastSms = { ...sms, sentAt: new Date().toISOString() };
        entry.done(undefined);
      },
    };
    const settings = { brand: "Demo" };
    this.#service = await this.#call(
      "new OtpService",
      [{ store: "new MemoryStore()", sender: "{ send }", keys: ["<random 24-byte key>"], settings }],
      () => new pkg.OtpService({ store: new pkg.MemoryStore(), sender, keys, settings }),
      () => "OtpService",
    );
    return { kind: "offline" };
  }

  async send(request) {
    this.#lastSms = null;
    const view = await this.#call("otp.send", [request], () => this.#service.send(request));
    if (this.#lastSms) this.#sent.set(view.otpId, this.#lastSms);
    return view;
  }

  async verify(otpId, pin) {
    const view = await this.#call("otp.verify", [otpId, pin], () => this.#service.verify(otpId, pin));
    return { status: view.status };
  }

  async status(otpId) {
    return this.#call("otp.status", [otpId], () => this.#service.status(otpId));
  }

  async cancel(otpId) {
    await this.#call("otp.cancel", [otpId], () => this.#service.cancel(otpId));
  }

  async message(otp) {
    return this.#sent.get(otp.otpId) ?? null;
  }

  /** Runs `work`, listing it in the panel; OtpError becomes FlowError. */
  async #call(name, args, work, show = (v) => v) {
    const entry = this.#log.call({ name, args });
    try {
      const value = await work();
      entry.done(show(value));
      return value;
    } catch (error) {
      entry.fail(error);
      if (this.#pkg && error instanceof this.#pkg.OtpError) {
        throw new FlowError({ code: error.code, message: error.message, status: error.httpStatus, type: error.type });
      }
      throw new FlowError({ code: 0, message: error?.message ?? String(error) });
    }
  }
}
