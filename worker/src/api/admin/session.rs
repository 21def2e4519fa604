//! Console sessions: the admin token exchanged for a short-lived cookie, so that
//! the operator console (`/console`) never keeps the token in the browser.
//!
//! - `POST /admin/session` with `{"token": "<ADMIN_TOKEN>"}` (wrong tokens are
//!   throttled per client address like wrong bearer tokens) answers 201 with
//!   `Set-Cookie: otp_console=<id>; HttpOnly; SameSite=Strict; Path=/;
//!   Max-Age=1800` (and `Secure`, except on `localhost` and `127.0.0.1`).
//! - `GET /admin/session`: the session's expiry, or 401 (1012).
//! - `DELETE /admin/session`: signs out at once (the session is deleted from its
//!   object; later requests with the cookie are refused) and clears the cookie.
//!
//! Each session lives in a Durable Object of its own ([`AdminSessions`], binding
//! `ADMIN_SESSIONS`) named by the SHA-256 of its 256-bit random id: the id is
//! never stored, a check is one object call, and an alarm deletes the session
//! when it expires. A request signed in by the cookie that changes state (any
//! method but GET and HEAD) must carry an `Origin` equal to the request's own
//! origin (403, 1060): SameSite=Strict already keeps other sites' requests from
//! carrying the cookie; the Origin check is the second lock.

use otp_core::secret::constant_time_eq;
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

use crate::apps::{hash_credential, random_token};
use crate::context::RequestContext;
use crate::durable::{rpc_entry, Answer};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, RequestUrl};
use crate::json::{storage_get, storage_put};

/// Binding of the session objects (`[[durable_objects.bindings]]`).
pub(crate) const BINDING: &str = "ADMIN_SESSIONS";
/// Name of the session cookie.
pub(crate) const COOKIE: &str = "otp_console";
/// Life of a session, in seconds (the cookie's `Max-Age`).
pub(crate) const SESSION_SECONDS: UnixSeconds = 1800;
/// Length of a session id: 32 random bytes, base64url without padding.
const ID_CHARS: usize = 43;
/// Storage key of the session's expiry in its object.
const EXPIRES_AT: &str = "expiresAt";

/// What the worker asks of a session object.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum SessionRequest {
    /// Opens the session until `expires_at`.
    Open { expires_at: UnixSeconds },
    /// The session's expiry if it is open at `now`.
    Check { now: UnixSeconds },
    /// Closes the session.
    Close,
}

/// One console session; its only state is its expiry.
#[durable_object(alarm)]
pub struct AdminSessions {
    state: State,
}

impl DurableObject for AdminSessions {
    fn new(state: State, _env: Env) -> Self {
        AdminSessions { state }
    }

    async fn fetch(&self, _req: Request) -> worker::Result<Response> {
        crate::durable::not_fetched()
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("expired")
    }
}

rpc_entry!(AdminSessions);

impl AdminSessions {
    /// One request of [`crate::durable::call`].
    async fn call(&self, request: String) -> worker::Result<Answer> {
        let request: SessionRequest = crate::durable::read_request(&request)?;
        let storage = self.state.storage();
        let reply: Option<UnixSeconds> = match request {
            SessionRequest::Open { expires_at } => {
                storage_put(&storage, EXPIRES_AT, &expires_at)?;
                // An offset: workers-rs reads an `i64` as milliseconds from now.
                storage.set_alarm(SESSION_SECONDS * 1000 + 60_000).await?;
                Some(expires_at)
            }
            SessionRequest::Check { now } => storage_get::<UnixSeconds>(&storage, EXPIRES_AT)?
                .filter(|expires_at| *expires_at > now),
            SessionRequest::Close => {
                storage.delete_alarm().await?;
                storage.delete_all().await?;
                None
            }
        };
        Answer::json(&reply)
    }
}

/// The session id in the request's cookie, if it has the form of one.
pub(crate) fn cookie(req: &Request) -> Option<String> {
    let header = req.headers().get("Cookie").ok().flatten()?;
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|id| {
            id.len() == ID_CHARS
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

async fn call(rc: &RequestContext, id: &str, request: &SessionRequest) -> ApiResult<Option<i64>> {
    let ns = rc.env.durable_object(BINDING).map_err(|_| {
        worker::console_error!("configuration: binding {BINDING} is missing");
        ApiError::misconfigured()
    })?;
    crate::durable::call(&ns, &hash_credential(id), "admin session", request).await
}

/// The expiry of the session `id` if it is open now.
pub(crate) async fn check(rc: &RequestContext, id: &str) -> ApiResult<Option<UnixSeconds>> {
    call(rc, id, &SessionRequest::Check { now: rc.now }).await
}

/// The request's own origin (`scheme://host[:port]`).
fn own_origin(req: &Request) -> Option<String> {
    Some(RequestUrl::of(req).origin().to_owned())
}

/// A state-changing request signed in by the cookie must name its own origin.
pub(crate) fn require_same_origin(req: &Request) -> ApiResult<()> {
    if matches!(req.method(), Method::Get | Method::Head) {
        return Ok(());
    }
    let origin = req.headers().get("Origin").ok().flatten();
    match (origin, own_origin(req)) {
        (Some(given), Some(own)) if given == own => Ok(()),
        _ => Err(ApiError::admin_origin_forbidden()),
    }
}

/// The cookie's attributes: `Secure` except on a local host (plain HTTP there).
fn set_cookie(req: &Request, value: &str, max_age: UnixSeconds) -> String {
    let local = matches!(
        RequestUrl::of(req).host(),
        "localhost" | "127.0.0.1" | "[::1]"
    );
    let secure = if local { "" } else { "; Secure" };
    format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    expires_at: String,
}

fn internal<E>(_: E) -> ApiError {
    ApiError::internal()
}

fn with_cookie(mut res: Response, cookie: &str) -> ApiResult<Response> {
    let headers = res.headers_mut();
    headers.set("Set-Cookie", cookie).map_err(internal)?;
    headers.set("Cache-Control", "no-store").map_err(internal)?;
    Ok(res)
}

/// `/admin/session`: sign-in, the current session, sign-out.
pub(crate) async fn route(mut req: Request, rc: &RequestContext) -> ApiResult<Response> {
    match req.method() {
        Method::Post => {
            // A browser names the page's origin; a terminal sends none.
            if req.headers().get("Origin").ok().flatten().is_some() {
                require_same_origin(&req)?;
            }
            let expected = rc
                .config
                .admin_token
                .clone()
                .ok_or_else(ApiError::admin_unauthorized)?;
            let throttle = super::AdminThrottle::check(rc).await?;
            let body: serde_json::Value = http::json_body(&mut req).await?;
            let sign_in: SignIn =
                http::from_value(&body).map_err(|_| ApiError::admin_session_invalid())?;
            let token = sign_in.token.trim();
            if token.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
                throttle.count_failure(rc).await;
                return Err(ApiError::admin_unauthorized());
            }
            let id = random_token(32);
            let expires_at = rc.now + SESSION_SECONDS;
            call(rc, &id, &SessionRequest::Open { expires_at }).await?;
            let view = SessionView {
                expires_at: otp_core::time::format_utc(expires_at),
            };
            let res = crate::reply::json(&view, 201).map_err(internal)?;
            with_cookie(res, &set_cookie(&req, &id, SESSION_SECONDS))
        }
        Method::Get => {
            let id = cookie(&req).ok_or_else(ApiError::admin_unauthorized)?;
            let expires_at = check(rc, &id)
                .await?
                .ok_or_else(ApiError::admin_unauthorized)?;
            let view = SessionView {
                expires_at: otp_core::time::format_utc(expires_at),
            };
            let res = crate::reply::json(&view, 200).map_err(internal)?;
            let mut res = res;
            res.headers_mut()
                .set("Cache-Control", "no-store")
                .map_err(internal)?;
            Ok(res)
        }
        Method::Delete => {
            if let Some(id) = cookie(&req) {
                require_same_origin(&req)?;
                call(rc, &id, &SessionRequest::Close).await?;
            }
            let res = Response::empty().map_err(internal)?.with_status(204);
            with_cookie(res, &set_cookie(&req, "", 0))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_requests_are_tagged_json() {
        let open = serde_json::to_string(&SessionRequest::Open { expires_at: 5 }).unwrap();
        assert_eq!(open, r#"{"op":"open","expires_at":5}"#);
        assert_eq!(
            serde_json::to_string(&SessionRequest::Close).unwrap(),
            r#"{"op":"close"}"#
        );
    }

    #[test]
    fn session_ids_have_the_length_of_32_random_bytes() {
        assert_eq!(random_token(32).len(), ID_CHARS);
    }
}
