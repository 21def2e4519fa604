// The operator console: a client of the admin API and nothing more. Plain ES
// modules; views are routed by the URL's hash (#/, #/apps, #/apps/{id}/{tab}).

import { countSmsParts, init, renderTemplate } from "otp-sms-verify/core";
import uPlot from "uplot";
import { api, ApiFailure } from "./api.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const announcer = document.getElementById("announce");

/** HTML-escapes a value for a template string. */
const esc = (v) =>
  String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const announce = (text) => {
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 30);
};

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const pct = (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(1)} %`);
const money = (v) => (Number(v) || 0).toFixed(4);

let wasmReady = null;
const wasm = () => (wasmReady ??= init());

// --- Sign-in ------------------------------------------------------------------------

function showSignIn(message = "") {
  nav.hidden = true;
  document.title = "Sign in · otp-sms-verify console";
  main.innerHTML = `
    <h1>Sign in</h1>
    <form class="card" id="sign-in" novalidate>
      <p class="help">Paste the deployment's admin token (the <code>ADMIN_TOKEN</code> secret). It is exchanged for a session cookie that lasts 30 minutes; the page keeps neither.</p>
      <div class="field-row">
        <label class="field field-grow">
          <span class="label">Admin token</span>
          <input id="token" name="token" type="password" autocomplete="current-password" spellcheck="false" required aria-describedby="sign-in-error">
        </label>
        <button class="btn btn-primary" type="submit">Sign in</button>
      </div>
      <p class="field-error" id="sign-in-error" role="alert">${esc(message)}</p>
    </form>`;
  const form = document.getElementById("sign-in");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    try {
      await api("POST", "/admin/session", { token: input.value });
      input.value = "";
      location.hash = location.hash && location.hash !== "#/signin" ? location.hash : "#/";
      await route();
      announce("Signed in");
    } catch (err) {
      input.setAttribute("aria-invalid", "true");
      document.getElementById("sign-in-error").textContent = `${err.code}: ${err.message}`;
      input.focus();
    }
  });
  document.getElementById("token").focus();
}

window.addEventListener("signed-out", () => {
  signedIn = false;
});
let signedIn = false;

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/admin/session");
  } finally {
    signedIn = false;
    showSignIn("Signed out.");
    announce("Signed out");
  }
});

// --- Routing ------------------------------------------------------------------------

async function route() {
  if (!signedIn) {
    try {
      await api("GET", "/admin/session");
      signedIn = true;
    } catch {
      return showSignIn();
    }
  }
  nav.hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  try {
    if (parts[0] === "apps" && parts[1]) await appPage(decodeURIComponent(parts[1]), parts[2] ?? "otp");
    else if (parts[0] === "apps") await appsPage();
    else await overviewPage();
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) return showSignIn("Your session has ended: sign in again.");
    main.innerHTML = `<h1>Something went wrong</h1><p class="notice" role="alert">${esc(err.code ?? "")} ${esc(err.message)}</p>`;
  }
  for (const a of nav.querySelectorAll("a")) {
    const current = a.getAttribute("href") === `#/${parts[0] ?? ""}`.replace(/\/$/, "/") || (a.getAttribute("href") === "#/apps" && parts[0] === "apps");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

window.addEventListener("hashchange", () => {
  route().then(() => main.focus({ preventScroll: false }));
});

// --- Overview -----------------------------------------------------------------------

function kpis(items) {
  return `<div class="grid-stats">${items
    .map(([label, value]) => `<div class="kpi"><div class="kpi-label">${esc(label)}</div><div class="kpi-value">${esc(value)}</div></div>`)
    .join("")}</div>`;
}

const when = (unix) => new Date(unix * 1000).toISOString().slice(0, 16).replace("T", " ");

async function overviewPage() {
  document.title = "Overview · otp-sms-verify console";
  // One call for the figures across every application (the insights) and the
  // blocks of the first page of applications; the next pages of blocks, if any,
  // from GET /admin/blocks.
  const o = await api("GET", "/admin/overview");
  const blocks = [...o.blocks];
  let applications = o.applications;
  let token = o.nextPageToken ?? null;
  let error = null;
  try {
    while (token) {
      const page = await api("GET", `/admin/blocks?${new URLSearchParams({ pageToken: token })}`);
      blocks.push(...page.data);
      applications += page.applications;
      token = page.nextPageToken ?? null;
    }
  } catch (err) {
    if (err.status === 401) throw err;
    error = err;
  }
  const t = (s) => s ?? {};
  const noInsights = o.today === null ? `<p class="notice">Insights are off (no INSIGHTS_DB database): no figures.</p>` : "";
  main.innerHTML = `
    <h1>Overview</h1>
    <p class="lede">Across ${applications} application${applications === 1 ? "" : "s"}${token ? " read so far" : ""}; figures of ${esc(o.date)} (UTC).</p>
    ${noInsights}
    <section aria-labelledby="today-h"><h2 id="today-h" class="card-title">Today</h2>
      ${kpis([["Sent", t(o.today).sent ?? 0], ["Verified", t(o.today).verified ?? 0], ["Conversion", pct(t(o.today).conversionRate)], ["Cost", money(t(o.today).cost)]])}
    </section>
    <section aria-labelledby="month-h"><h2 id="month-h" class="card-title">This month</h2>
      ${kpis([["Sent", t(o.month).sent ?? 0], ["Verified", t(o.month).verified ?? 0], ["Conversion", pct(t(o.month).conversionRate)], ["Cost", money(t(o.month).cost)]])}
    </section>
    <section class="card" aria-labelledby="countries-h"><h2 id="countries-h" class="card-title">Top countries this month</h2>
      ${statsTable(o.topCountries ?? [], "Country")}
    </section>
    <section class="card" aria-labelledby="blocks-h"><h2 id="blocks-h" class="card-title">Active blocks (${blocks.length})</h2>
      ${error ? `<p class="field-error" role="alert">${esc(error.code)}: ${esc(error.message)}</p>` : ""}
      ${
        blocks.length
          ? `<div class="table-wrap"><table class="data" id="overview-blocks"><thead><tr><th scope="col">Application</th><th scope="col">Scope</th><th scope="col">Key</th><th scope="col">Reason</th><th scope="col">Until (UTC)</th><th scope="col">Enforced</th></tr></thead><tbody>${blocks
              .map((b) => `<tr><td><a href="#/apps/${esc(b.appId)}/limits">${esc(b.name)}</a></td><td>${esc(b.scope)}</td><td class="mono">${esc(b.key)}</td><td>${esc(b.reason)}</td><td>${esc(when(b.until))}</td><td>${b.enforced ? "yes" : "shadow"}</td></tr>`)
              .join("")}</tbody></table></div>`
          : error
          ? ""
          : `<p class="help">No block in force.</p>`
      }
    </section>`;
}

function statsTable(rows, keyLabel) {
  if (!rows.length) return `<p class="help">Nothing in this span.</p>`;
  return `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">${esc(keyLabel)}</th><th scope="col">Sent</th><th scope="col">Verified</th><th scope="col">Conversion</th><th scope="col">Refused</th><th scope="col">Parts</th><th scope="col">Cost</th></tr></thead><tbody>${rows
    .map((r) => `<tr><td>${esc(r.key)}</td><td>${esc(r.sent)}</td><td>${esc(r.verified)}</td><td>${pct(r.conversionRate)}</td><td>${esc(r.refused)}</td><td>${esc(r.parts)}</td><td>${money(r.cost)}</td></tr>`)
    .join("")}</tbody></table></div>`;
}

// --- Applications -------------------------------------------------------------------

async function appsPage() {
  document.title = "Applications · otp-sms-verify console";
  main.innerHTML = `
    <h1>Applications</h1>
    <form class="card" id="create-app" novalidate>
      <h2 class="card-title">New application</h2>
      <div class="field-row">
        <label class="field field-grow"><span class="label">Name</span>
          <input id="new-name" name="name" maxlength="64" required aria-describedby="new-name-error"></label>
        <button class="btn btn-primary" type="submit">Create</button>
      </div>
      <p class="field-error" id="new-name-error" role="alert"></p>
    </form>
    <div id="credentials"></div>
    <section class="card" aria-labelledby="list-h">
      <h2 class="card-title" id="list-h">All applications</h2>
      <form class="field-row" id="search-form" role="search">
        <label class="field field-grow"><span class="label">Search by name or id</span><input id="search" type="search" maxlength="64"></label>
        <button class="btn" type="submit">Search</button>
      </form>
      <div id="app-list" aria-live="polite"></div>
      <div class="row-actions"><button class="btn" type="button" id="more" hidden>More</button></div>
    </section>
    <dialog id="confirm" aria-labelledby="confirm-title">
      <form method="dialog">
        <h2 id="confirm-title" class="card-title">Delete application?</h2>
        <p id="confirm-text"></p>
        <div class="row-actions"><button class="btn" value="cancel">Cancel</button><button class="btn btn-danger" value="ok" id="confirm-ok">Delete</button></div>
      </form>
    </dialog>`;
  let token = null;
  const rows = [];
  const list = document.getElementById("app-list");
  const more = document.getElementById("more");
  const render = () => {
    list.innerHTML = rows.length
      ? `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Gateway</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${rows
          .map(
            (a) => `<tr><td><a href="#/apps/${esc(a.appId)}/otp">${esc(a.name)}</a></td><td class="mono">${esc(a.appId)}</td><td>${esc(a.gateway?.type)}</td><td>${esc(a.dateCreated)}</td>
              <td><button class="btn btn-small btn-danger" type="button" data-delete="${esc(a.appId)}" data-name="${esc(a.name)}">Delete<span class="visually-hidden"> ${esc(a.name)}</span></button></td></tr>`,
          )
          .join("")}</tbody></table></div>`
      : `<p class="help">No application matches.</p>`;
  };
  const load = async (reset) => {
    if (reset) {
      rows.length = 0;
      token = null;
    }
    const q = new URLSearchParams({ pageSize: "50", search: document.getElementById("search").value });
    if (token) q.set("pageToken", token);
    const page = await api("GET", `/admin/apps?${q}`);
    rows.push(...page.data);
    token = page.nextPageToken ?? null;
    more.hidden = !token;
    render();
  };
  document.getElementById("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  document.getElementById("create-app").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("new-name");
    const error = document.getElementById("new-name-error");
    try {
      const app = await api("POST", "/admin/apps", { name: input.value });
      input.value = "";
      input.removeAttribute("aria-invalid");
      error.textContent = "";
      showCredentials(document.getElementById("credentials"), app, "Application created");
      await load(true);
    } catch (err) {
      input.setAttribute("aria-invalid", "true");
      error.textContent = `${err.code}: ${err.message}`;
    }
  });
  list.addEventListener("click", async (e) => {
    const button = e.target.closest("[data-delete]");
    if (!button) return;
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = `“${button.dataset.name}” and all it keeps (templates, senders, OTP records, limits) are deleted for good.`;
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener(
      "close",
      async () => {
        if (dialog.returnValue !== "ok") return;
        await api("DELETE", `/admin/apps/${button.dataset.delete}`);
        announce(`Deleted ${button.dataset.name}`);
        await load(true);
      },
      { once: true },
    );
  });
  await load(true);
}

/** Credentials shown once, with copy buttons. */
function showCredentials(container, values, title) {
  const items = [
    ["App id", values.appId],
    ["App secret", values.appSecret],
    ["API key", values.apiKey],
    ["Webhook secret", values.webhookSecret],
    ["Receipt token", values.receiptToken],
  ].filter(([, v]) => v);
  container.innerHTML = `<section class="card" aria-labelledby="cred-h" tabindex="-1" id="cred-card">
    <h2 class="card-title" id="cred-h">${esc(title)}</h2>
    <p class="help">Copy them now: they are shown this once (the server keeps the app secret and API key only as hashes).</p>
    <dl>${items
      .map(
        ([label, v], i) => `<dt>${esc(label)}</dt><dd class="row-actions"><span class="secret" id="cred-${i}">${esc(v)}</span>
        <button class="btn btn-small" type="button" data-copy="cred-${i}">Copy<span class="visually-hidden"> ${esc(label)}</span></button></dd>`,
      )
      .join("")}</dl></section>`;
  container.querySelectorAll("[data-copy]").forEach((b) =>
    b.addEventListener("click", async () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        announce("Copied");
      } catch {
        announce("Copy failed: select the text instead");
      }
    }),
  );
  document.getElementById("cred-card").focus();
  announce(title);
}

// --- One application ----------------------------------------------------------------

const TABS = [
  ["otp", "OTP"],
  ["languages", "Languages"],
  ["templates", "Templates"],
  ["senders", "Sender IDs"],
  ["gateway", "Gateway and routes"],
  ["limits", "Limits and fraud guard"],
  ["webhooks", "Webhooks"],
  ["insights", "Insights"],
];

async function appPage(id, tab) {
  const app = await api("GET", `/admin/apps/${encodeURIComponent(id)}`);
  const label = TABS.find(([k]) => k === tab)?.[1] ?? "OTP";
  document.title = `${app.name} · ${label} · otp-sms-verify console`;
  main.innerHTML = `
    <p><a href="#/apps">← Applications</a></p>
    <h1>${esc(app.name)}</h1>
    <p class="help mono">${esc(app.appId)}</p>
    <div class="row-actions" aria-label="Credentials">
      <button class="btn btn-small" type="button" data-rotate="rotate-secret">Rotate secret</button>
      <button class="btn btn-small" type="button" data-rotate="rotate-api-key">Rotate API key</button>
      <button class="btn btn-small" type="button" data-rotate="rotate-webhook-secret">Rotate webhook secret</button>
    </div>
    <div id="credentials"></div>
    <nav class="tabs" aria-label="Application sections">${TABS.map(
      ([k, l]) => `<a href="#/apps/${esc(app.appId)}/${k}"${k === tab ? ' aria-current="page"' : ""}>${esc(l)}</a>`,
    ).join("")}</nav>
    <div id="tab"></div>`;
  main.querySelectorAll("[data-rotate]").forEach((b) =>
    b.addEventListener("click", async () => {
      const fresh = await api("POST", `/admin/apps/${app.appId}/${b.dataset.rotate}`);
      showCredentials(document.getElementById("credentials"), { ...fresh, appId: undefined }, `${b.textContent}: new value`);
    }),
  );
  const el = document.getElementById("tab");
  const views = { otp: otpTab, languages: languagesTab, templates: itemsTab("templates"), senders: itemsTab("senders"), gateway: gatewayTab, limits: limitsTab, webhooks: webhooksTab, insights: insightsTab };
  await (views[tab] ?? otpTab)(el, app);
}

/** The API's error codes for the OTP settings, by field. */
const OTP_FIELD_OF_CODE = {
  2004: "originator", 2005: "originator", 2006: "template", 2107: "template", 2007: "ttl", 2008: "ttl", 2009: "ttl",
  2010: "maxAttempts", 2011: "maxAttempts", 2012: "maxAttempts", 2013: "pinType", 2014: "pinType", 2015: "pinLength",
  2016: "pinLength", 2017: "pinLength", 2019: "callbackUrl", 2112: "webotpDomain", 2113: "brand", 2119: "allowedNumberTypes",
  2110: "prices", 2108: "languageTemplates", 2109: "languageTemplates",
};

const OTP_FIELDS = [
  { name: "template", label: "Template", kind: "textarea", help: "Must hold {{pin}} (or {code}); {{ttl}} and {{brand}} are filled in." },
  { name: "originator", label: "Sender (from)", kind: "text", help: "Up to 11 letters or 15 digits." },
  { name: "brand", label: "Brand", kind: "text", help: "1-32 characters, for {{brand}}." },
  { name: "pinType", label: "PIN type", kind: "select", options: ["numbers", "letters", "alphanumeric"] },
  { name: "pinLength", label: "PIN length", kind: "number", min: 4, max: 10, help: "4-10" },
  { name: "ttl", label: "Life (seconds)", kind: "number", min: 60, max: 1800, help: "60-1800" },
  { name: "maxAttempts", label: "Attempts", kind: "number", min: 1, max: 10, help: "1-10" },
  { name: "callbackUrl", label: "Callback URL", kind: "text", help: "HTTPS; status changes are posted there, signed with the webhook secret." },
  { name: "webotpDomain", label: "WebOTP domain", kind: "text", help: "Adds the line @domain #PIN for autofill." },
  { name: "allowedNumberTypes", label: "Allowed number types", kind: "text", help: "Comma-separated, e.g. mobile, fixedLineOrMobile." },
];

function fieldHtml(f, value) {
  const id = `f-${f.name}`;
  const describe = `aria-describedby="${id}-help ${id}-error"`;
  let control;
  if (f.kind === "textarea") control = `<textarea id="${id}" name="${f.name}" rows="3" ${describe}>${esc(value)}</textarea>`;
  else if (f.kind === "select")
    control = `<select id="${id}" name="${f.name}" ${describe}>${f.options.map((o) => `<option${o === value ? " selected" : ""}>${esc(o)}</option>`).join("")}</select>`;
  else
    control = `<input id="${id}" name="${f.name}" type="${f.kind === "number" ? "number" : "text"}"${f.min !== undefined ? ` min="${f.min}" max="${f.max}"` : ""} value="${esc(value)}" ${describe}>`;
  return `<div class="field"><label class="label" for="${id}">${esc(f.label)}</label>${control}
    <span class="help small" id="${id}-help">${esc(f.help ?? "")}</span><span class="field-error" id="${id}-error"></span></div>`;
}

function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

function showFieldError(form, field, err) {
  const control = field && form.querySelector(`#f-${field}`);
  const target = (control && form.querySelector(`#f-${field}-error`)) ?? form.querySelector(".form-level-error");
  target.textContent = `${err.code}: ${err.message}`;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

async function otpTab(el, app) {
  const o = app.otp;
  const value = (name) => (name === "allowedNumberTypes" ? (o[name] ?? []).join(", ") : name === "callbackUrl" ? (o.callbackUrl ?? "") : (o[name] ?? ""));
  el.innerHTML = `
    <form class="card" id="otp-form" novalidate>
      <h2 class="card-title">OTP settings</h2>
      <div class="form-grid">${OTP_FIELDS.map((f) => fieldHtml(f, value(f.name))).join("")}</div>
      <p class="field-error form-level-error" role="alert"></p>
      <div class="row-actions"><button class="btn btn-primary" type="submit">Save</button></div>
    </form>
    <section class="card preview" aria-labelledby="preview-h">
      <h2 class="card-title" id="preview-h">SMS preview</h2>
      <pre id="preview-text" aria-live="polite"></pre>
      <p class="help" id="preview-meta"></p>
    </section>
    <form class="card" id="test-form" novalidate>
      <h2 class="card-title">Send a test OTP</h2>
      <div class="field-row">
        <div class="field field-grow"><label class="label" for="f-phoneNumber">Phone number</label>
          <input id="f-phoneNumber" type="tel" autocomplete="off" placeholder="+33 6 12 34 56 78" aria-describedby="f-phoneNumber-error"><span class="field-error" id="f-phoneNumber-error"></span></div>
        <button class="btn btn-primary" type="submit">Send test OTP</button>
      </div>
      <p class="field-error form-level-error" role="alert"></p>
      <p class="help" id="test-result" role="status"></p>
    </form>`;
  const form = document.getElementById("otp-form");
  const preview = async () => {
    await wasm();
    const get = (n) => form.querySelector(`#f-${n}`).value;
    const pinLength = Math.min(Math.max(Number(get("pinLength")) || 6, 4), 10);
    const pin = { numbers: "0123456789", letters: "ABCDEFGHKM", alphanumeric: "A1B2C3D4E5" }[get("pinType")].slice(0, pinLength);
    const out = document.getElementById("preview-text");
    const meta = document.getElementById("preview-meta");
    try {
      const text = renderTemplate(get("template") || "{{pin}}", {
        pin,
        ttlSeconds: Number(get("ttl")) || 600,
        brand: get("brand"),
        webotpDomain: get("webotpDomain").trim() || undefined,
      });
      const parts = countSmsParts(text);
      out.textContent = text;
      const webotp = get("webotpDomain").trim() ? `WebOTP line: ${text.split("\n").pop()}` : "No WebOTP line";
      meta.textContent = `${parts.encoding}, ${parts.units} units, ${parts.parts} part${parts.parts === 1 ? "" : "s"}. ${webotp}.`;
    } catch (err) {
      out.textContent = "";
      meta.textContent = `${err.code ?? ""} ${err.message}`;
    }
  };
  form.addEventListener("input", preview);
  preview();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const otp = {};
    for (const f of OTP_FIELDS) {
      const raw = form.querySelector(`#f-${f.name}`).value;
      if (f.kind === "number") otp[f.name] = raw === "" ? null : Number(raw);
      else if (f.name === "allowedNumberTypes") otp[f.name] = raw.split(",").map((s) => s.trim()).filter(Boolean);
      else if (["callbackUrl", "webotpDomain", "template"].includes(f.name)) otp[f.name] = raw.trim() === "" ? null : raw;
      else otp[f.name] = raw;
    }
    try {
      await api("PATCH", `/admin/apps/${app.appId}`, { otp });
      announce("OTP settings saved");
      document.getElementById("test-result").textContent = "";
      form.querySelector(".form-level-error").textContent = "Saved.";
    } catch (err) {
      showFieldError(form, OTP_FIELD_OF_CODE[err.code], err);
    }
  });
  const test = document.getElementById("test-form");
  test.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(test);
    try {
      const otp = await api("POST", `/admin/apps/${app.appId}/test-otp`, { phoneNumber: document.getElementById("f-phoneNumber").value });
      document.getElementById("test-result").textContent = `Sent: ${otp.otpId}, ${otp.status}, ${otp.parts} part(s), cost ${otp.cost}.`;
    } catch (err) {
      showFieldError(test, [2001, 2020, 2116, 2118].includes(err.code) ? "phoneNumber" : null, err);
    }
  });
}

/** A JSON editor for one part of the application (a merge patch of it on save). */
function jsonEditor(container, app, key, title, help, part = {}) {
  const read = part.read ?? ((a) => a[key]);
  const toPatch = part.toPatch ?? ((v) => ({ [key]: v }));
  const id = `json-${key}`;
  const section = document.createElement("form");
  section.className = "card";
  section.noValidate = true;
  section.innerHTML = `<h2 class="card-title">${esc(title)}</h2>
    <p class="help" id="${id}-help">${esc(help)}</p>
    <label class="label" for="${id}">${esc(key)} (JSON)</label>
    <textarea class="json" id="${id}" spellcheck="false" aria-describedby="${id}-help ${id}-error">${esc(JSON.stringify(read(app), null, 2))}</textarea>
    <p class="field-error" id="${id}-error" role="alert"></p>
    <div class="row-actions"><button class="btn btn-primary" type="submit">Save ${esc(title.toLowerCase())}</button></div>`;
  section.addEventListener("submit", async (e) => {
    e.preventDefault();
    const area = section.querySelector("textarea");
    const error = section.querySelector(".field-error");
    area.removeAttribute("aria-invalid");
    error.textContent = "";
    let value;
    try {
      value = JSON.parse(area.value);
    } catch {
      area.setAttribute("aria-invalid", "true");
      error.textContent = "Not valid JSON.";
      return;
    }
    try {
      const saved = await api("PATCH", `/admin/apps/${app.appId}`, toPatch(value));
      Object.assign(app, saved);
      area.value = JSON.stringify(read(saved), null, 2);
      error.textContent = "Saved.";
      announce(`${title} saved`);
      await part.onSaved?.(saved);
    } catch (err) {
      area.setAttribute("aria-invalid", "true");
      error.textContent = `${err.code}: ${err.message}`;
    }
  });
  container.append(section);
}

async function languagesTab(el, app) {
  el.innerHTML = "";
  jsonEditor(
    el,
    app,
    "languageTemplates",
    "Language templates",
    'A template per language, chosen by the request\'s language: [{"language": "fr", "prefixes": ["33"], "template": "Votre code : {{pin}}"}] (prefixes: the numbers it is for). Part of the OTP settings.',
    { read: (a) => a.otp.languageTemplates ?? [], toPatch: (v) => ({ otp: { languageTemplates: v } }) },
  );
}

function itemsTab(kind) {
  return async (el, app) => {
    const page = await api("GET", `/admin/apps/${app.appId}/${kind}?page_size=100`);
    const rows = page.data ?? [];
    const templates = kind === "templates";
    el.innerHTML = `<section class="card"><h2 class="card-title">${templates ? "Dexatel templates" : "Sender IDs"}</h2>
      ${
        rows.length
          ? `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Name</th><th scope="col">${templates ? "Text" : "Code"}</th><th scope="col">Channel</th></tr></thead><tbody>${rows
              .map((r) => `<tr><td>${esc(r.name)}</td><td>${esc(templates ? r.text : r.code ?? r.name)}</td><td>${esc(r.channel)}</td></tr>`)
              .join("")}</tbody></table></div>`
          : `<p class="help">None yet.</p>`
      }</section>
      <form class="card" id="item-form" novalidate><h2 class="card-title">Add</h2>
        <div class="form-grid">
          <div class="field"><label class="label" for="item-name">Name</label><input id="item-name" maxlength="45"></div>
          ${templates ? `<div class="field"><label class="label" for="item-text">Text (with {code})</label><input id="item-text"></div>` : ""}
        </div>
        <p class="field-error" role="alert" id="item-error"></p>
        <div class="row-actions"><button class="btn btn-primary" type="submit">Add</button></div></form>`;
    document.getElementById("item-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = { name: document.getElementById("item-name").value, channel: "SMS" };
      if (templates) data.text = document.getElementById("item-text").value;
      try {
        await api("POST", `/admin/apps/${app.appId}/${kind}`, { data });
        await itemsTab(kind)(el, app);
        announce("Added");
      } catch (err) {
        document.getElementById("item-error").textContent = `${err.code}: ${err.message}`;
      }
    });
  };
}

/** A gateway's non-secret settings, in words (the configuration holds no secret). */
function gatewaySettings(g) {
  const items = [];
  if (g.credentials) items.push(["Credentials", g.credentials]);
  if (g.url) items.push(["URL", g.url]);
  if (g.messagingServiceSid) items.push(["Messaging Service", g.messagingServiceSid]);
  if (g.from) items.push(["Sender", g.from]);
  return items;
}

/** One gateway: provider, settings, readiness, and each secret or var as set or missing. */
function gatewayItem(g, label) {
  const settings = gatewaySettings(g);
  const needs = g.settings.length
    ? `<ul class="secret-list">${g.settings
        .map(
          (s) => `<li><code>${esc(s.name)}</code> <span class="${s.configured ? "ok" : s.required ? "bad" : "muted"}">${s.configured ? "set" : "not set"}</span>
            <span class="help small">(${s.secret ? "secret" : "var"}${s.required ? ", required" : s.receipts ? ", for delivery receipts" : ", optional"})</span></li>`,
        )
        .join("")}</ul>`
    : `<p class="help small">${g.type === "webhook" ? "Signs with the application's webhook secret; reads no server secret." : "Reads no server secret."}</p>`;
  return `<li class="gateway-item">
    <h4 class="gateway-name">${esc(label)}: <span class="mono">${esc(g.type)}</span>
      <span class="${g.ready ? "ok" : "bad"}">${g.ready ? "ready" : "not ready"}</span></h4>
    ${g.problem ? `<p class="field-error">${esc(g.problem)}</p>` : ""}
    ${settings.length ? `<dl class="gateway-settings">${settings.map(([k, v]) => `<dt>${esc(k)}</dt><dd class="mono">${esc(v)}</dd>`).join("")}</dl>` : ""}
    ${needs}
  </li>`;
}

/** The gateways of the app: its own, then each route's in failover order. */
function gatewaysHtml(status) {
  const routes = status.routes
    .map((r, i) => {
      const where = [...(r.countries ?? []), ...(r.prefixes ?? [])].join(", ") || "every other destination (default route)";
      return `<section class="route" aria-labelledby="route-${i}-h"><h3 class="route-title" id="route-${i}-h">Route ${i + 1}: ${esc(where)}</h3>
        <ol class="gateway-list">${r.gateways.map((g, j) => gatewayItem(g, j === 0 ? "First" : `Failover ${j}`)).join("")}</ol></section>`;
    })
    .join("");
  return `<section class="route" aria-labelledby="route-app-h"><h3 class="route-title" id="route-app-h">${status.routes.length ? "When no route matches" : "Every destination"}</h3>
      <ul class="gateway-list">${gatewayItem(status.gateway, "Gateway")}</ul></section>${routes}`;
}

/** The error codes of a test SMS, by field. */
const SMS_FIELD_OF_CODE = { 2001: "smsPhone", 2002: "smsPhone", 2003: "smsPhone", 2020: "smsPhone", 2116: "smsPhone", 2118: "smsPhone", 1065: "smsText", 2128: "smsText" };

/** What a test SMS did, in words. */
function testSmsSummary(r) {
  const size = `${r.parts} part${r.parts === 1 ? "" : "s"} (${r.encoding}, ${r.units} units), cost ${money(r.cost)}`;
  if (r.outcome === "test_number") return `Not sent: ${r.phoneNumber} is one of the application's test numbers, which never get an SMS.`;
  if (r.outcome === "not_sent") return `Not sent: ${r.error.code}: ${r.error.message}. ${size}.`;
  const id = r.messageId ? `, message id ${r.messageId}` : "";
  const via = `${r.gateway}${r.credentials ? ` (${r.credentials})` : ""}`;
  if (r.outcome === "unknown") return `Maybe sent by ${via}: no clear answer (not sent again). ${size}.`;
  return `Accepted by ${via}${id}, to ${r.phoneNumber} (${r.countryIso}, ${r.numberType}). ${size}.`;
}

async function gatewayTab(el, app) {
  el.innerHTML = `
    <section class="card" aria-labelledby="gateways-h">
      <h2 class="card-title" id="gateways-h">Gateways</h2>
      <p class="help">Where this application's SMS go, in the order they are tried. Provider credentials are server secrets: this page shows whether each is set, never its value (set them with <code>wrangler secret put NAME</code>).</p>
      <div id="gateways" aria-live="polite"><p class="help">Loading…</p></div>
      <div class="row-actions"><button class="btn btn-small" type="button" id="gateways-refresh">Refresh</button></div>
    </section>
    <form class="card" id="sms-test-form" novalidate>
      <h2 class="card-title">Send a test SMS</h2>
      <p class="help" id="sms-test-help">One SMS through the routes above, exactly as an OTP's goes (the same number checks, caps, fraud guard and failover); it counts against the caps like any SMS.</p>
      <div class="form-grid">
        <div class="field"><label class="label" for="f-smsPhone">Phone number</label>
          <input id="f-smsPhone" type="tel" autocomplete="off" spellcheck="false" placeholder="+33 6 12 34 56 78" aria-describedby="f-smsPhone-help f-smsPhone-error">
          <span class="help small" id="f-smsPhone-help">E.164, with its + and country code.</span><span class="field-error" id="f-smsPhone-error"></span></div>
        <div class="field"><label class="label" for="f-smsText">Text (optional)</label>
          <textarea id="f-smsText" rows="2" maxlength="1000" placeholder="Test message from ${esc(app.name)}" aria-describedby="f-smsText-help f-smsText-error"></textarea>
          <span class="help small" id="f-smsText-help">Up to 1000 characters; empty sends “Test message from ${esc(app.name)}”.</span><span class="field-error" id="f-smsText-error"></span></div>
      </div>
      <p class="field-error form-level-error" role="alert"></p>
      <div class="row-actions"><button class="btn btn-primary" type="submit">Send test SMS</button></div>
      <div id="sms-test-result" role="status" aria-live="polite"></div>
    </form>`;
  const list = document.getElementById("gateways");
  const load = async () => {
    try {
      list.innerHTML = gatewaysHtml(await api("GET", `/admin/apps/${app.appId}/gateway`));
    } catch (err) {
      list.innerHTML = `<p class="field-error" role="alert">${esc(err.code)}: ${esc(err.message)}</p>`;
    }
  };
  document.getElementById("gateways-refresh").addEventListener("click", load);
  const form = document.getElementById("sms-test-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const result = document.getElementById("sms-test-result");
    result.textContent = "Sending…";
    const body = { phoneNumber: document.getElementById("f-smsPhone").value.trim() };
    const text = document.getElementById("f-smsText").value;
    if (text.trim()) body.text = text;
    try {
      const r = await api("POST", `/admin/apps/${app.appId}/test-sms`, body);
      const rows = r.attempts
        .map(
          (a, i) => `<tr><td>${i + 1}</td><td class="mono">${esc(a.gateway)}${a.credentials ? ` (${esc(a.credentials)})` : ""}</td><td>${esc(a.from ?? "–")}</td>
            <td class="${a.outcome === "accepted" ? "ok" : a.outcome === "unknown" ? "" : "bad"}">${esc(a.outcome.replace("_", " "))}${a.code ? ` (${esc(a.code)})` : ""}</td><td class="mono">${esc(a.detail ?? "")}</td></tr>`,
        )
        .join("");
      result.innerHTML = `<p class="test-sms-summary ${r.accepted ? "ok" : "bad"}">${esc(testSmsSummary(r))}</p>${
        rows
          ? `<div class="table-wrap"><table class="data" id="sms-attempts"><caption class="visually-hidden">Gateways tried, in order</caption><thead><tr><th scope="col">#</th><th scope="col">Gateway</th><th scope="col">Sender</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead><tbody>${rows}</tbody></table></div>`
          : ""
      }`;
      announce(r.accepted ? "Test SMS accepted" : "Test SMS not sent");
    } catch (err) {
      result.textContent = "";
      showFieldError(form, SMS_FIELD_OF_CODE[err.code], err);
    }
  });
  await load();
  // A saved change shows in the list above at once.
  jsonEditor(el, app, "gateway", "Gateway", "The gateway when no route matches: outbox (development), webhook, twilio, vonage, smscx, dexatel, plivo, sinch or infobip; \"credentials\": \"NAME\" reads the provider's secrets with the suffix _NAME. Secrets are never part of it.", { onSaved: load });
  jsonEditor(el, app, "routes", "Routes", "Routes by country or prefix, each with 1-5 gateways tried in order (each may set its \"from\"); the route with neither is the default, last.", { onSaved: load });
}

async function limitsTab(el, app) {
  const snap = await api("GET", `/admin/apps/${app.appId}/fraud`).catch(() => ({ blocks: [], refusals: [], countries: [] }));
  el.innerHTML = `<section class="card" aria-labelledby="blocks-h"><h2 class="card-title" id="blocks-h">Current blocks</h2>${
    snap.blocks?.length
      ? `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Scope</th><th scope="col">Key</th><th scope="col">Details</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>${snap.blocks
          .map((b) => `<tr><td>${esc(b.scope)}</td><td class="mono">${esc(b.key)}</td><td class="mono">${esc(JSON.stringify({ ...b, scope: undefined, key: undefined }))}</td><td><button class="btn btn-small" type="button" data-unblock="${esc(b.scope)}" data-key="${esc(b.key)}">Unblock<span class="visually-hidden"> ${esc(b.key)}</span></button></td></tr>`)
          .join("")}</tbody></table></div>`
      : `<p class="help">No block in force.</p>`
  }</section>
  <section class="card" aria-labelledby="refusals-h"><h2 class="card-title" id="refusals-h">${snap.shadow ? "What shadow mode would have refused" : "Recent refusals"}</h2>${
    snap.refusals?.length
      ? `<ul>${snap.refusals.map((r) => `<li class="mono">${esc(JSON.stringify(r))}</li>`).join("")}</ul>`
      : `<p class="help">None in the window.</p>`
  }</section>`;
  el.querySelectorAll("[data-unblock]").forEach((b) =>
    b.addEventListener("click", async () => {
      await api("DELETE", `/admin/apps/${app.appId}/fraud/blocks?scope=${encodeURIComponent(b.dataset.unblock)}&key=${encodeURIComponent(b.dataset.key)}`);
      announce(`Unblocked ${b.dataset.key}`);
      await limitsTab(el, app);
    }),
  );
  jsonEditor(el, app, "limits", "Limits", "Per-number cooldown and caps, per-app and per-IP caps, daily parts per country and budget. 0 turns a cap off.");
  jsonEditor(el, app, "fraudGuard", "Fraud guard", "enabled, shadow (record, don't refuse), the ranges' thresholds and safe numbers or prefixes.");
  jsonEditor(el, app, "policy", "Policy and test numbers", "Lockdown of per-request overrides, and test numbers with their fixed codes (no SMS sent).");
}

/** One delivery's result, in words. */
function deliveryResult(d) {
  if (d.outcome === "delivered") return `Delivered: HTTP ${d.httpStatus}`;
  if (d.outcome === "not_sent") return `Not sent: ${d.error}`;
  return `Failed: ${d.httpStatus ? `HTTP ${d.httpStatus}` : d.error}`;
}

async function webhooksTab(el, app) {
  el.innerHTML = `
    <form class="card" id="hook-url-form" novalidate>
      <h2 class="card-title">Callback URL</h2>
      <p class="help" id="f-hookUrl-help">Every status change of an OTP (VERIFIED, FAILED, CANCELLED, EXPIRED) is posted here as {"event": "otp_update", "data": [OTP]}, unless a send gives its own otpCallbackUrl. HTTPS, a public host; up to 4 attempts.</p>
      <div class="field-row">
        <div class="field field-grow"><label class="label" for="f-hookUrl">Callback URL</label>
          <input id="f-hookUrl" type="url" inputmode="url" spellcheck="false" value="${esc(app.otp.callbackUrl ?? "")}" placeholder="https://example.com/otp-events" aria-describedby="f-hookUrl-help f-hookUrl-error">
          <span class="field-error" id="f-hookUrl-error"></span></div>
        <button class="btn btn-primary" type="submit">Save URL</button>
      </div>
      <p class="help" id="hook-url-saved" role="status"></p>
    </form>
    <section class="card" aria-labelledby="hook-secret-h">
      <h2 class="card-title" id="hook-secret-h">Signing secret</h2>
      <p class="help">Each event carries webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks: HMAC-SHA256 with the webhook secret). The secret is shown once, when the application is created or the secret rotated; rotating signs every next event with the new one at once.</p>
      <div class="row-actions"><button class="btn" type="button" id="hook-rotate">Rotate webhook secret</button></div>
      <div id="hook-secret"></div>
    </section>
    <form class="card" id="hook-test-form" novalidate>
      <h2 class="card-title">Send a test event</h2>
      <p class="help" id="f-hookTestUrl-help">Posts {"event": "test", "data": [an example OTP]} signed like a status callback, in one attempt, to this URL or else the callback URL.</p>
      <div class="field-row">
        <div class="field field-grow"><label class="label" for="f-hookTestUrl">URL (optional)</label>
          <input id="f-hookTestUrl" type="url" inputmode="url" spellcheck="false" placeholder="${esc(app.otp.callbackUrl ?? "https://example.com/otp-events")}" aria-describedby="f-hookTestUrl-help f-hookTestUrl-error">
          <span class="field-error" id="f-hookTestUrl-error"></span></div>
        <button class="btn btn-primary" type="submit">Send test event</button>
      </div>
      <p class="field-error form-level-error" role="alert"></p>
      <p class="help" id="hook-test-result" role="status"></p>
    </form>
    <section class="card" aria-labelledby="deliveries-h">
      <h2 class="card-title" id="deliveries-h">Last deliveries</h2>
      <p class="help">Status callbacks, EXPIRED callbacks and test events: the last 50 of the last 7 days, newest first. Only the receiver's host is kept.</p>
      <div class="row-actions"><button class="btn btn-small" type="button" id="deliveries-refresh">Refresh</button></div>
      <div id="deliveries" aria-live="polite"></div>
    </section>`;
  const list = document.getElementById("deliveries");
  const loadDeliveries = async () => {
    try {
      const { data } = await api("GET", `/admin/apps/${app.appId}/webhooks/deliveries`);
      list.innerHTML = data.length
        ? `<div class="table-wrap"><table class="data" id="deliveries-table"><caption class="visually-hidden">Last webhook deliveries, newest first</caption><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Event</th><th scope="col">OTP</th><th scope="col">Host</th><th scope="col">Result</th><th scope="col">Attempts</th><th scope="col">Latency</th></tr></thead><tbody>${data
            .map(
              (d) => `<tr><td>${esc(d.date)}</td><td>${esc(d.kind === "test" ? "test" : `${d.event} ${d.otpStatus ?? ""}`)}</td><td class="mono">${esc(d.otpId ?? "–")}</td><td class="mono">${esc(d.host)}</td>
                <td class="${d.outcome === "delivered" ? "ok" : "bad"}">${esc(deliveryResult(d))}</td><td>${esc(d.attempts)}</td><td>${d.latencyMs === undefined ? "–" : `${esc(d.latencyMs)} ms`}</td></tr>`,
            )
            .join("")}</tbody></table></div>`
        : `<p class="help">No delivery yet.</p>`;
    } catch (err) {
      list.innerHTML = `<p class="field-error" role="alert">${esc(err.code)}: ${esc(err.message)}</p>`;
    }
  };
  document.getElementById("deliveries-refresh").addEventListener("click", loadDeliveries);

  const urlForm = document.getElementById("hook-url-form");
  urlForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(urlForm);
    const raw = document.getElementById("f-hookUrl").value.trim();
    const saved = document.getElementById("hook-url-saved");
    saved.textContent = "";
    try {
      const updated = await api("PATCH", `/admin/apps/${app.appId}`, { otp: { callbackUrl: raw === "" ? null : raw } });
      Object.assign(app, updated);
      document.getElementById("f-hookTestUrl").placeholder = app.otp.callbackUrl ?? "https://example.com/otp-events";
      saved.textContent = raw === "" ? "Callback URL removed." : "Callback URL saved.";
    } catch (err) {
      showFieldError(urlForm, err.code === 2019 ? "hookUrl" : null, err);
    }
  });

  document.getElementById("hook-rotate").addEventListener("click", async () => {
    const fresh = await api("POST", `/admin/apps/${app.appId}/rotate-webhook-secret`);
    showCredentials(document.getElementById("hook-secret"), { webhookSecret: fresh.webhookSecret }, "New webhook secret");
  });

  const testForm = document.getElementById("hook-test-form");
  testForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(testForm);
    const result = document.getElementById("hook-test-result");
    result.textContent = "Sending…";
    const url = document.getElementById("f-hookTestUrl").value.trim();
    try {
      const d = await api("POST", `/admin/apps/${app.appId}/webhooks/test`, url ? { url } : {});
      const latency = d.latencyMs === undefined ? "" : ` in ${d.latencyMs} ms`;
      result.textContent = `${deliveryResult(d)}${latency} (${d.host}, ${d.webhookId}).`;
      announce(d.outcome === "delivered" ? "Test event delivered" : "Test event failed");
    } catch (err) {
      result.textContent = "";
      showFieldError(testForm, [1063, 1064, 2019].includes(err.code) ? "hookTestUrl" : null, err);
    }
    await loadDeliveries();
  });
  await loadDeliveries();
}

async function insightsTab(el, app) {
  const from = daysAgo(29);
  const to = today();
  const [days, countries, ranges] = await Promise.all(
    ["day", "country", "range"].map((g) => api("GET", `/admin/apps/${app.appId}/stats?from=${from}&to=${to}&groupBy=${g}`).catch(() => ({ data: [], totals: {} }))),
  );
  const t = days.totals ?? {};
  el.innerHTML = `
    ${kpis([["Sent (30 days)", t.sent ?? 0], ["Verified", t.verified ?? 0], ["Conversion", pct(t.conversionRate)], ["Cost", money(t.cost)]])}
    <section class="card" aria-labelledby="chart-h"><h2 class="card-title" id="chart-h">Sends and conversion per day</h2>
      <div class="chart" id="chart" role="img" aria-label="Sends and verified OTPs per day over the last 30 days; the table below has the numbers"></div></section>
    <section class="card" aria-labelledby="by-country-h"><h2 class="card-title" id="by-country-h">By country</h2>${statsTable(countries.data ?? [], "Country")}</section>
    <section class="card" aria-labelledby="by-range-h"><h2 class="card-title" id="by-range-h">By number range</h2>${statsTable(ranges.data ?? [], "Range")}</section>
    <section class="card" aria-labelledby="log-h"><h2 class="card-title" id="log-h">Verification log</h2>
      <form class="form-grid" id="log-filter">
        <div class="field"><label class="label" for="log-status">Status</label><select id="log-status"><option value="">Any</option>${["PENDING", "VERIFIED", "FAILED", "EXPIRED", "CANCELLED", "REFUSED", "UNSENT"].map((s) => `<option>${s}</option>`).join("")}</select></div>
        <div class="field"><label class="label" for="log-phone">Phone number</label><input id="log-phone" type="tel"></div>
        <div class="row-actions"><button class="btn" type="submit">Filter</button><a class="btn" id="csv" href="#" download="verifications.csv">Export CSV</a></div>
      </form>
      <div id="log" aria-live="polite"></div>
    </section>`;
  const chartEl = document.getElementById("chart");
  const data = days.data ?? [];
  const xs = data.map((d) => Date.parse(`${d.key}T00:00:00Z`) / 1000);
  // The chart follows its container's width (a phone's 390 px too): uPlot draws
  // at a fixed size, so a ResizeObserver gives it the new one.
  const chartWidth = () => Math.max(200, Math.min(chartEl.clientWidth - 16, 1100));
  const plot = new uPlot(
    {
      width: chartWidth(),
      height: 240,
      series: [{}, { label: "Sent", stroke: "#2450d4", width: 2 }, { label: "Verified", stroke: "#107a3c", width: 2 }],
      axes: [{}, {}],
    },
    [xs, data.map((d) => d.sent), data.map((d) => d.verified)],
    chartEl,
  );
  const resize = new ResizeObserver(() => {
    if (!chartEl.isConnected) {
      resize.disconnect();
      plot.destroy();
      return;
    }
    if (plot.width !== chartWidth()) plot.setSize({ width: chartWidth(), height: 240 });
  });
  resize.observe(chartEl);
  const filter = document.getElementById("log-filter");
  const loadLog = async () => {
    const q = new URLSearchParams({ from, to, pageSize: "50" });
    const status = document.getElementById("log-status").value;
    const phone = document.getElementById("log-phone").value.trim();
    if (status) q.set("status", status);
    if (phone) q.set("phoneNumber", phone);
    document.getElementById("csv").href = `/admin/apps/${app.appId}/verifications.csv?${q}`;
    const log = document.getElementById("log");
    try {
      const page = await api("GET", `/admin/apps/${app.appId}/verifications?${q}`);
      log.innerHTML = page.data.length
        ? `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Created</th><th scope="col">OTP</th><th scope="col">Number</th><th scope="col">Country</th><th scope="col">Status</th><th scope="col">Parts</th><th scope="col">Cost</th></tr></thead><tbody>${page.data
            .map((v) => `<tr><td>${esc(v.dateCreated)}</td><td class="mono">${esc(v.otpId)}</td><td class="mono">${esc(v.phoneNumber ?? v.numberMask ?? "")}</td><td>${esc(v.countryIso)}</td><td>${esc(v.status)}</td><td>${esc(v.parts)}</td><td>${money(v.cost)}</td></tr>`)
            .join("")}</tbody></table></div>`
        : `<p class="help">No verification matches.</p>`;
    } catch (err) {
      log.innerHTML = `<p class="field-error" role="alert">${esc(err.code)}: ${esc(err.message)}</p>`;
    }
  };
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    loadLog();
  });
  await loadLog();
}

route();
