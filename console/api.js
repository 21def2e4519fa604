// The console's one way to the server: the admin API, signed in by the session
// cookie (HttpOnly: this page never sees it, nor keeps the admin token).

/** An admin API error: HTTP status and the API's own `error` object. */
export class ApiFailure extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? status;
    this.reason = error?.reason;
  }
}

/**
 * Calls the admin API; resolves with the JSON reply (or `undefined` for 204),
 * rejects with `ApiFailure`. A browser sends `Origin` with every request that
 * changes state, which the server checks for cookie sessions.
 */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const failure = new ApiFailure(res.status, json?.error ?? json?.errors?.[0] ?? json);
    if (res.status === 401) window.dispatchEvent(new CustomEvent("signed-out"));
    throw failure;
  }
  return json;
}
