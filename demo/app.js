// The demo page: step 1 sends a code, step 2 shows the SMS on the phone and the
// OTP's status, step 3 checks the PIN. The flow runs against this worker's API
// (live) or inside the tab with the npm package (offline); see backends.js.
//
// URL parameters: ?mode=offline opens the offline mode; ?devClock sends the page's
// clock as X-Dev-Now (development only), so a test can move time for both sides.

import { FlowError, LiveBackend, OfflineBackend } from "./backends.js";
import { Log } from "./log.js";
import { PinInput } from "./pin-input.js";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** [ISO, name, calling code] */
const COUNTRIES = [
  ["AU", "Australia", 61], ["AT", "Austria", 43], ["BE", "Belgium", 32], ["BR", "Brazil", 55],
  ["BG", "Bulgaria", 359], ["CA", "Canada", 1], ["CN", "China", 86], ["CZ", "Czechia", 420],
  ["DK", "Denmark", 45], ["FI", "Finland", 358], ["FR", "France", 33], ["DE", "Germany", 49],
  ["GR", "Greece", 30], ["HU", "Hungary", 36], ["IN", "India", 91], ["IE", "Ireland", 353],
  ["IT", "Italy", 39], ["JP", "Japan", 81], ["MX", "Mexico", 52], ["NL", "Netherlands", 31],
  ["NG", "Nigeria", 234], ["NO", "Norway", 47], ["PL", "Poland", 48], ["PT", "Portugal", 351],
  ["RO", "Romania", 40], ["SG", "Singapore", 65], ["ZA", "South Africa", 27], ["ES", "Spain", 34],
  ["SE", "Sweden", 46], ["CH", "Switzerland", 41], ["TR", "Türkiye", 90], ["UA", "Ukraine", 380],
  ["AE", "United Arab Emirates", 971], ["GB", "United Kingdom", 44], ["US", "United States", 1],
];

/** The core's built-in SMS languages. */
const LANGUAGES = [
  ["bg", "Български"], ["cs", "Čeština"], ["da", "Dansk"], ["de", "Deutsch"], ["el", "Ελληνικά"],
  ["en", "English"], ["es", "Español"], ["fi", "Suomi"], ["fr", "Français"], ["hu", "Magyar"],
  ["it", "Italiano"], ["nb", "Norsk"], ["nl", "Nederlands"], ["pl", "Polski"], ["pt", "Português"],
  ["ro", "Română"], ["ru", "Русский"], ["sv", "Svenska"], ["tr", "Türkçe"], ["uk", "Українська"],
  ["zh", "中文"],
];

/** What a final status means, shown in step 3. */
const RESULTS = {
  VERIFIED: { icon: "i-check", title: "Verified", text: "The code matched. The OTP is VERIFIED and cannot be used again." },
  FAILED: { icon: "i-x", title: "Failed", text: "Too many wrong codes: the OTP is FAILED and no code will match it now. Send a new code to try again." },
  EXPIRED: { icon: "i-clock", title: "Expired", text: "Time ran out before the code was verified: the OTP is EXPIRED. Send a new code." },
  CANCELLED: { icon: "i-ban", title: "Cancelled", text: "The OTP was cancelled: its code no longer works. Send a new code to start again." },
};

/** The status a verification error reveals. */
const STATUS_OF_ERROR = { 2023: "VERIFIED", 2024: "CANCELLED", 2025: "EXPIRED", 2026: "FAILED", 2027: "FAILED" };

const params = new URLSearchParams(location.search);
const devClock = params.has("devClock");
const log = new Log($("log"));
const pin = new PinInput($("pin"), {
  onComplete: (value) => verify(value),
  onChange: () => updateButtons(),
});

const state = {
  mode: "live",
  backend: null, // set once connected
  gen: 0, // bumped by every mode switch; async work of an older one stops
  request: null, // the last create request
  otp: null, // the current OTP (SMS.CX's object; phoneNumber kept in full)
  final: null, // VERIFIED, FAILED, EXPIRED or CANCELLED once over
  expiresAt: 0, // page clock, ms
  ttlMs: 0,
  expiryChecked: null, // otpId whose expiry was (being) confirmed with the API
  resendAt: 0, // page clock, ms: a rate limit refused a resend until then
  busy: false,
};

// --- Form -------------------------------------------------------------------------

function option(value, text, selected = false) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

function buildForm() {
  $("country").append(...COUNTRIES.map(([iso, name, code]) => option(iso, `${name} (+${code})`, iso === "GB")));
  for (let n = 4; n <= 10; n++) $("pin-length").append(option(n, `${n} characters`, n === 6));
  for (let n = 1; n <= 10; n++) $("max-attempts").append(option(n, n === 1 ? "1 attempt" : `${n} attempts`, n === 3));
  $("language").append(option("", "Auto (country)", true), ...LANGUAGES.map(([code, name]) => option(code, `${name} (${code})`)));
  $("phone").addEventListener("input", syncDialCode);
  $("country").addEventListener("change", syncDialCode);
  syncDialCode();
}

/** The calling code in front of the number; none (and no country) for an international number. */
function syncDialCode() {
  const international = /^\s*(\+|00)/.test($("phone").value);
  const country = COUNTRIES.find(([iso]) => iso === $("country").value);
  $("country").disabled = international;
  $("dial-code").hidden = international;
  $("dial-code").textContent = country ? `+${country[2]}` : "";
}

/** The create request from step 1, or null (with the reason shown) when incomplete. */
function readForm() {
  const phone = $("phone").value.trim();
  if (!phone) {
    showSendError("Enter a phone number.");
    $("phone").focus();
    return null;
  }
  const request = { phoneNumber: phone };
  if (!/^(\+|00)/.test(phone)) request.countryIso = $("country").value;
  request.pinType = document.querySelector('input[name="pinType"]:checked').value;
  request.pinLength = Number($("pin-length").value);
  request.ttl = Number($("ttl").value);
  request.maxAttempts = Number($("max-attempts").value);
  if ($("language").value) request.language = $("language").value;
  return request;
}

function showSendError(message) {
  const box = $("send-error");
  box.textContent = message;
  box.hidden = false;
}

function errorText(e) {
  return e instanceof FlowError && e.code ? `${capitalize(e.message)} (code ${e.code}).` : capitalize(e.message ?? String(e));
}

function capitalize(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

// --- Buttons and status -----------------------------------------------------------

function setBusy(busy) {
  state.busy = busy;
  document.body.toggleAttribute("data-busy", busy);
  updateButtons();
}

function updateButtons() {
  const ready = state.backend !== null;
  const open = state.otp !== null && state.final === null;
  $("send-btn").disabled = !ready || state.busy;
  $("verify-btn").disabled = !open || state.busy || !pin.complete;
  $("cancel-btn").disabled = !open || state.busy;
  // Once the OTP is over, only "Send a new code" is left to do.
  $("verify-btn").hidden = state.final !== null;
  $("cancel-btn").hidden = state.final !== null;
  const wait = state.resendAt - Date.now();
  $("resend-btn").disabled = !ready || state.otp === null || state.busy || wait > 0;
  $("resend-btn").textContent =
    wait > 0 ? `Resend in ${formatLeft(wait)}` : state.final ? "Send a new code" : "Resend code";
  pin.disabled = !open;
}

function renderStatus() {
  const otp = state.otp;
  $("status-empty").hidden = otp !== null;
  $("status-grid").hidden = otp === null;
  if (!otp) return;
  const status = state.final ?? otp.status;
  const badge = $("status-badge");
  badge.textContent = status;
  badge.dataset.status = status;
  $("step-status").dataset.status = status;
  // As the core counts them: a final OTP (VERIFIED, EXPIRED, …) has none left.
  const left = status === "PENDING" ? Math.max(0, otp.maxAttempts - otp.attempts) : 0;
  $("attempts-text").textContent = `${left} of ${otp.maxAttempts}`;
  const pips = $("attempts-pips");
  pips.replaceChildren();
  for (let i = 0; i < otp.maxAttempts; i++) {
    const pip = document.createElement("span");
    pip.className = i < left ? "pip" : "pip used";
    pips.append(pip);
  }
  $("otp-id").textContent = otp.otpId;
  $("otp-to").textContent = otp.phoneNumber;
  tick();
}

function formatLeft(ms) {
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Every 250 ms: the phone's clock and the countdown; at zero, asks the API. */
function tick() {
  const now = new Date();
  $("phone-clock").textContent = `${now.getHours()}:${String(now.getMinutes()).padStart(2, "0")}`;
  if (state.resendAt) {
    if (state.resendAt <= Date.now()) state.resendAt = 0;
    updateButtons();
  }
  const otp = state.otp;
  if (!otp) return;
  const left = Math.max(0, state.expiresAt - Date.now());
  const countdown = $("countdown");
  const bar = $("countdown-bar");
  if (state.final && state.final !== "EXPIRED") {
    countdown.textContent = "Stopped";
    countdown.dataset.state = "off";
    bar.style.setProperty("--fill", "0");
  } else {
    countdown.textContent = left > 0 ? formatLeft(left) : "0:00";
    countdown.dataset.state = left === 0 ? "over" : left <= 30_000 ? "soon" : "on";
    bar.style.setProperty("--fill", String(state.ttlMs ? left / state.ttlMs : 0));
  }
  if (left === 0 && !state.final && state.expiryChecked !== otp.otpId) checkExpiry(otp.otpId);
}

/** The countdown reached zero: the API says what happened (EXPIRED, normally). */
async function checkExpiry(otpId) {
  state.expiryChecked = otpId;
  const gen = state.gen;
  for (let i = 0; i < 5; i++) {
    let otp;
    try {
      otp = await state.backend.status(otpId);
    } catch (e) {
      if (gen === state.gen) showResult("error", "Could not check the OTP", errorText(e));
      return;
    }
    if (gen !== state.gen || state.otp?.otpId !== otpId) return;
    applyOtp(otp);
    if (otp.status !== "PENDING") return refocus();
    await sleep(1000); // the clocks of page and worker may differ by a moment
  }
}

/** Takes a fresh view of the current OTP from the API; a final status ends the flow. */
function applyOtp(otp) {
  state.otp = { ...state.otp, ...otp, phoneNumber: state.otp.phoneNumber };
  if (otp.status !== "PENDING") finish(otp.status);
  renderStatus();
  updateButtons();
}

function finish(status, text) {
  if (state.final) return;
  state.final = status;
  const r = RESULTS[status];
  showResult(status.toLowerCase(), r.title, text ?? r.text, r.icon);
  $("suggest").hidden = true;
  document.body.dataset.final = status;
  updateButtons();
}

/** Once the flow is over, a focus left on a control that is now disabled goes to "Send a new code". */
function refocus() {
  const active = document.activeElement;
  if (state.final && !state.busy && (!active || active === document.body || active.disabled)) {
    $("resend-btn").focus();
  }
}

function showResult(kind, title, text, icon = "i-alert") {
  const box = $("result");
  box.dataset.kind = kind;
  $("step-verify").dataset.result = kind;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `#${icon}`);
  svg.append(use);
  $("result-icon").replaceChildren(svg);
  $("result-title").textContent = title;
  $("result-text").textContent = text;
  box.hidden = false;
}

function hideResult() {
  $("result").hidden = true;
  delete $("step-verify").dataset.result;
}

// --- The phone --------------------------------------------------------------------

/** The PIN in an SMS text: the last run of exactly the PIN's length in its alphabet. */
function pinIn(text, { pinType, pinLength }) {
  const cls = { numbers: "0-9", letters: "A-Z", alphanumeric: "A-Z0-9" }[pinType] ?? "0-9";
  const matches = [...text.matchAll(new RegExp(`(?<![${cls}])[${cls}]{${pinLength}}(?![${cls}])`, "g"))];
  return matches.at(-1)?.[0] ?? null;
}

function clearPhone() {
  $("thread").replaceChildren();
  $("phone-empty").hidden = false;
  $("phone-sender").textContent = "Messages";
  $("phone-number").textContent = "No conversation";
  $("phone-avatar").textContent = "?";
  $("suggest").hidden = true;
}

function showTyping(on) {
  $("thread").querySelector(".typing")?.remove();
  if (!on) return;
  const li = document.createElement("li");
  li.className = "msg typing";
  li.setAttribute("aria-label", "A message is arriving");
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.append(...[0, 1, 2].map(() => Object.assign(document.createElement("span"), { className: "dot" })));
  li.append(bubble);
  $("thread").append(li);
  $("phone-empty").hidden = true;
  scrollThread();
}

function scrollThread() {
  const thread = $("thread");
  thread.scrollTop = thread.scrollHeight;
}

function chip(text) {
  const span = document.createElement("span");
  span.className = "chip";
  span.textContent = text;
  return span;
}

/** Puts the SMS of `otp` on the phone (or says why it cannot be seen). */
function showSms(sms, otp) {
  showTyping(false);
  const thread = $("thread");
  for (const old of thread.querySelectorAll(".msg:not(.old)")) old.classList.add("old");
  $("phone-empty").hidden = true;
  const li = document.createElement("li");
  li.dataset.otpId = otp.otpId;
  const time = document.createElement("p");
  time.className = "msg-time";
  const now = new Date();
  time.textContent = `Today ${now.getHours()}:${String(now.getMinutes()).padStart(2, "0")}`;
  li.append(time);
  if (!sms) {
    li.className = "msg system";
    const note = document.createElement("p");
    note.className = "system-note";
    note.textContent = state.backend.hasOutbox
      ? "The SMS did not show up in the outbox."
      : `Sent through your application's SMS gateway to ${otp.phoneNumber}. This page cannot read real SMS: type the code you received.`;
    li.append(note);
    thread.append(li);
    scrollThread();
    return;
  }
  li.className = "msg";
  $("phone-sender").textContent = sms.from;
  $("phone-number").textContent = `SMS to ${sms.to}`;
  $("phone-avatar").textContent = sms.from.slice(0, 1).toUpperCase();
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = sms.text;
  const meta = document.createElement("p");
  meta.className = "msg-meta";
  const parts = sms.parts === 1 ? "1 part" : `${sms.parts} parts`;
  meta.append(chip(sms.encoding), chip(parts), chip(`${[...sms.text].length} chars`));
  meta.setAttribute("aria-label", `Encoding ${sms.encoding}, ${parts}`);
  li.append(bubble, meta);
  thread.append(li);
  scrollThread();
  const code = pinIn(sms.text, state.request);
  $("suggest").hidden = code === null;
  $("suggest-code").textContent = code ?? "";
}

// --- The flow ---------------------------------------------------------------------

async function sendCode(request, { fromStep } = {}) {
  if (!request || !state.backend || state.busy) return;
  const gen = state.gen;
  const backend = state.backend;
  const previous = state.otp && !state.final ? state.otp : null;
  $("send-error").hidden = true;
  setBusy(true);
  showTyping(true);
  try {
    const otp = await backend.send(request);
    if (gen !== state.gen) return;
    // Only the newest code should work: cancel the one it replaces.
    if (previous) await backend.cancel(previous.otpId).catch(() => {});
    if (gen !== state.gen) return;
    startOtp(otp, request);
    const sms = await backend.message(otp);
    if (gen !== state.gen) return;
    showSms(sms, otp);
    pin.focus();
  } catch (e) {
    if (gen !== state.gen) return;
    showTyping(false);
    if (!$("thread").children.length) $("phone-empty").hidden = false;
    let text = errorText(e);
    if (e instanceof FlowError && e.status === 429) {
      const wait = e.retryAfter ?? 30;
      text = `Too many codes for this number or app: try again in ${wait} s. (The limits protect against SMS pumping; see the 429 reply's Retry-After.)`;
      state.resendAt = Date.now() + wait * 1000;
    }
    if (fromStep === 3) showResult("error", "The code was not sent", text);
    else showSendError(`Not sent. ${text}`);
  } finally {
    if (gen === state.gen) setBusy(false);
  }
}

function startOtp(otp, request) {
  state.request = request;
  state.resendAt = 0;
  state.otp = otp;
  state.final = null;
  state.ttlMs = otp.ttl * 1000;
  state.expiresAt = Date.now() + state.ttlMs;
  delete document.body.dataset.final;
  pin.configure({ length: request.pinLength, type: request.pinType });
  $("pin-help").textContent = `Type or paste the ${request.pinLength}-${request.pinType === "numbers" ? "digit" : "character"} code from the SMS. It is checked as soon as every box is filled.`;
  hideResult();
  renderStatus();
  updateButtons();
}

async function verify(value) {
  if (!state.otp || state.final || state.busy) return;
  if (value.length !== state.request.pinLength) {
    showResult("hint", "Incomplete code", `Enter all ${state.request.pinLength} characters.`);
    pin.focus();
    return;
  }
  const gen = state.gen;
  const otpId = state.otp.otpId;
  setBusy(true);
  try {
    await state.backend.verify(otpId, value);
    const otp = await state.backend.status(otpId).catch(() => ({ ...state.otp, status: "VERIFIED" }));
    if (gen !== state.gen) return;
    applyOtp(otp);
  } catch (e) {
    if (gen !== state.gen || !(e instanceof FlowError)) throw e;
    const otp = await state.backend.status(otpId).catch(() => null);
    if (gen !== state.gen) return;
    const status = otp?.status !== "PENDING" ? (otp?.status ?? STATUS_OF_ERROR[e.code]) : null;
    if (status && RESULTS[status]) {
      finish(status, e.code === 2027 ? "Wrong code, and that was the last attempt: the OTP is FAILED. Send a new code to try again." : undefined);
    }
    if (otp) applyOtp(otp);
    if (!state.final) {
      if (e.code === 2029) {
        const left = Math.max(0, state.otp.maxAttempts - state.otp.attempts);
        showResult("wrong", "Wrong code", `${left} ${left === 1 ? "attempt" : "attempts"} left.`, "i-x");
        pin.clear();
        pin.markInvalid();
        pin.focus();
      } else {
        showResult("error", "Not verified", errorText(e));
      }
    }
  } finally {
    if (gen === state.gen) {
      setBusy(false);
      refocus();
    }
  }
}

async function cancel() {
  if (!state.otp || state.final || state.busy) return;
  const gen = state.gen;
  const otpId = state.otp.otpId;
  setBusy(true);
  try {
    await state.backend.cancel(otpId);
  } catch (e) {
    if (gen === state.gen) showResult("error", "Not cancelled", errorText(e));
  }
  try {
    const otp = await state.backend.status(otpId);
    if (gen === state.gen) applyOtp(otp);
  } catch {
    // the status stays as it was shown
  } finally {
    if (gen === state.gen) {
      setBusy(false);
      refocus();
    }
  }
}

// --- Modes ------------------------------------------------------------------------

function resetFlow() {
  Object.assign(state, { backend: null, request: null, otp: null, final: null, expiryChecked: null, resendAt: 0, busy: false });
  delete document.body.dataset.final;
  delete document.body.dataset.ready;
  pin.configure({ length: Number($("pin-length").value) || 6, type: "numbers" });
  hideResult();
  renderStatus();
  clearPhone();
  $("send-error").hidden = true;
  $("key-form").hidden = true;
  updateButtons();
}

function setNote(text, kind = "info") {
  const note = $("mode-note");
  note.textContent = text;
  note.dataset.kind = kind;
}

const NOTES = {
  session: () =>
    `Live API on ${location.host}, in development: the page got a one-hour token for a demo application (POST /demo/session), whose SMS go to the dev outbox and never to a real phone.`,
  key: () => `Live API on ${location.host} with your API key: codes go out as real SMS through your application's gateway.`,
  offline: () =>
    "Offline: the npm package runs in this tab. init() loaded its wasm core, and OtpService keeps the OTPs in a MemoryStore. Nothing goes over the network.",
};

function ready(backend, info) {
  state.backend = backend;
  setNote(NOTES[info.kind]() + (devClock && backend.kind === "live" ? " X-Dev-Now follows this page's clock." : ""));
  document.body.dataset.ready = state.mode;
  updateButtons();
}

async function setMode(mode) {
  state.mode = mode === "offline" ? "offline" : "live";
  const gen = ++state.gen;
  resetFlow();
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.checked = radio.value === state.mode;
  const url = new URL(location.href);
  if (state.mode === "offline") url.searchParams.set("mode", "offline");
  else url.searchParams.delete("mode");
  history.replaceState(null, "", url);
  setNote(state.mode === "offline" ? "Loading the npm package and its wasm core…" : "Connecting to the worker…");
  log.note(state.mode === "offline" ? "Offline mode: calls into the npm package, in this tab" : "Live mode: HTTP calls to this worker");
  const backend = state.mode === "offline" ? new OfflineBackend(log) : new LiveBackend(log, { devClock });
  try {
    const info = await backend.connect();
    if (gen !== state.gen) return;
    if (info.needsKey) {
      setNote("This deployment has no demo session: paste an API key to use the live API, or switch to Offline.", "warn");
      $("key-form").hidden = false;
      $("key-form").onsubmit = (e) => {
        e.preventDefault();
        const key = $("api-key").value.trim();
        if (!key) return;
        backend.useApiKey(key);
        $("key-form").hidden = true;
        ready(backend, { kind: "key" });
      };
      return;
    }
    ready(backend, info);
  } catch (e) {
    if (gen === state.gen) setNote(`Could not start: ${errorText(e)}`, "error");
  }
}

// --- Wiring -----------------------------------------------------------------------

buildForm();
$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sendCode(readForm());
});
$("verify-form").addEventListener("submit", (e) => {
  e.preventDefault();
  verify(pin.value);
});
$("resend-btn").addEventListener("click", () => sendCode(state.request, { fromStep: 3 }));
$("cancel-btn").addEventListener("click", cancel);
$("suggest-btn").addEventListener("click", () => pin.fill($("suggest-code").textContent));
$("log-clear").addEventListener("click", () => log.clear());
for (const radio of document.querySelectorAll('input[name="mode"]')) {
  radio.addEventListener("change", () => radio.checked && setMode(radio.value));
}
setInterval(tick, 250);
setMode(params.get("mode"));
