// The panel of calls: each HTTP request and its response (live mode), or each call
// into the npm package and its result (offline mode), shown as it happens.

const STATUS_TEXT = {
  200: "OK",
  201: "Created",
  302: "Found",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Response headers worth showing. */
const SHOWN_HEADERS = [
  "content-type",
  "x-request-id",
  "x-response-time",
  "retry-after",
  "x-rate-limit-limit",
  "x-rate-limit-remaining",
  "x-rate-limit-reset",
];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** JSON with keys, strings, numbers and literals in their own spans (no innerHTML). */
export function highlightJson(value) {
  const frag = document.createDocumentFragment();
  const text = JSON.stringify(value, null, 2) ?? String(value);
  const token = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(?:true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  let last = 0;
  for (const m of text.matchAll(token)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    let cls = "j-num";
    if (m[1]) cls = m[2] ? "j-key" : "j-str";
    else if (/^(true|false|null)$/.test(m[0])) cls = "j-lit";
    frag.append(el("span", cls, m[1] ?? m[0]));
    if (m[2]) frag.append(m[2]);
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

/** A long credential shortened for display: the start and the end. */
export function shorten(secret) {
  return secret.length > 24 ? `${secret.slice(0, 14)}…${secret.slice(-6)}` : secret;
}

function shellQuote(s) {
  return `'${String(s).replaceAll("'", `'\\''`)}'`;
}

function formatMs(ms) {
  return ms < 1 ? "<1 ms" : `${Math.round(ms)} ms`;
}

export class Log {
  #list;

  constructor(list) {
    this.#list = list;
  }

  clear() {
    this.#list.replaceChildren();
  }

  /** A line of context between calls (mode switches, sessions). */
  note(text) {
    const li = el("li", "log-note", text);
    this.#append(li);
  }

  /**
   * A request about to be sent; returns `{ done(response), fail(error) }`.
   * `headers` are the real ones (credentials are shortened on screen, kept for curl).
   */
  http({ method, url, headers = {}, body, tag }) {
    const started = performance.now();
    const path = new URL(url, location.href);
    const entry = this.#entry({
      verb: method,
      title: path.pathname + path.search,
      tag,
    });
    const lines = [`${method} ${path.pathname}${path.search}`];
    for (const [name, value] of Object.entries(headers)) {
      const shown = /^(authorization|x-api-key)$/i.test(name) ? value.replace(/(\S+)$/, (s) => shorten(s)) : value;
      lines.push(`${name}: ${shown}`);
    }
    entry.part("Request", lines, body);
    entry.curl(() => {
      const parts = [`curl -X ${method} ${shellQuote(path.href)}`];
      for (const [name, value] of Object.entries(headers)) parts.push(`-H ${shellQuote(`${name}: ${value}`)}`);
      if (body !== undefined) parts.push(`-d ${shellQuote(JSON.stringify(body))}`);
      return parts.join(" \\\n  ");
    });
    return {
      done: ({ status, headers: resHeaders, body: resBody }) => {
        const ms = performance.now() - started;
        const lines = [`${status} ${STATUS_TEXT[status] ?? ""}`.trim()];
        for (const name of SHOWN_HEADERS) {
          const value = resHeaders.get(name);
          if (value) lines.push(`${name.replace(/(^|-)\w/g, (s) => s.toUpperCase())}: ${value}`);
        }
        entry.part("Response", lines, resBody);
        entry.finish(status < 400 ? "ok" : "error", String(status), formatMs(ms));
      },
      fail: (error) => {
        const ms = performance.now() - started;
        entry.part("Response", [`network error: ${error.message}`]);
        entry.finish("error", "failed", formatMs(ms));
      },
    };
  }

  /** A call into the npm package; returns `{ done(value), fail(error) }`. */
  call({ name, args = [], tag }) {
    const started = performance.now();
    const entry = this.#entry({ verb: "CALL", title: `${name}(…)`, tag });
    entry.part("Call", [`${name}(${args.map((a) => (typeof a === "string" ? JSON.stringify(a) : a === undefined ? "" : "…")).join(", ")})`], args.find((a) => typeof a === "object"));
    return {
      done: (value) => {
        const ms = performance.now() - started;
        entry.part("Returns", [], value === undefined ? undefined : value);
        entry.finish("ok", "ok", formatMs(ms));
      },
      fail: (error) => {
        const ms = performance.now() - started;
        const info = typeof error?.toJSON === "function" ? error.toJSON() : { message: String(error?.message ?? error) };
        entry.part("Throws", [`${error?.name ?? "Error"}${info.code ? ` ${info.code}` : ""}`], info);
        entry.finish("error", info.code ? String(info.code) : "error", formatMs(ms));
      },
    };
  }

  #entry({ verb, title, tag }) {
    // Older entries fold away unless the reader opened or closed them by hand.
    for (const d of this.#list.querySelectorAll("details[data-auto]")) d.open = false;
    const li = el("li", "entry");
    li.dataset.state = "pending";
    const details = el("details");
    details.open = true;
    details.dataset.auto = "";
    const summary = el("summary");
    summary.addEventListener("click", () => delete details.dataset.auto);
    const verbEl = el("span", `verb verb-${verb.toLowerCase()}`, verb);
    const titleEl = el("code", "entry-title", title);
    summary.append(verbEl, titleEl);
    if (tag) summary.append(el("span", "entry-tag", tag));
    const code = el("span", "entry-code", "…");
    const ms = el("span", "entry-ms", "");
    summary.append(code, ms);
    const body = el("div", "entry-body");
    details.append(summary, body);
    li.append(details);
    this.#append(li);
    return {
      part: (label, lines, json) => {
        const part = el("div", "part");
        part.append(el("p", "part-title", label));
        const pre = el("pre", "part-pre");
        if (lines.length) pre.append(lines.join("\n"));
        if (json !== undefined) {
          if (lines.length) pre.append("\n\n");
          pre.append(highlightJson(json));
        }
        part.append(pre);
        const curl = body.querySelector(".copy-curl");
        body.insertBefore(part, curl);
      },
      curl: (build) => {
        const btn = el("button", "btn-link copy-curl", "Copy as curl");
        btn.type = "button";
        btn.addEventListener("click", async () => {
          try {
            await navigator.clipboard.writeText(build());
            btn.textContent = "Copied";
          } catch {
            btn.textContent = "Copy failed";
          }
          setTimeout(() => (btn.textContent = "Copy as curl"), 1500);
        });
        body.append(btn);
      },
      finish: (state, codeText, msText) => {
        li.dataset.state = state;
        code.textContent = codeText;
        ms.textContent = msText;
        this.#scroll();
      },
    };
  }

  #append(li) {
    this.#list.append(li);
    this.#scroll();
  }

  /** Keeps the newest entry in view inside the panel (never scrolls the page). */
  #scroll() {
    this.#list.scrollTop = this.#list.scrollHeight;
  }
}
