//! Every error reply, in the SMS.CX shape:
//! `{"error":{"type":"invalid_param","message":"…","uri":"/otp","code":2008}}`.
//!
//! Core rule violations keep the core's codes (2001-2115); the worker's own
//! failures have codes of their own (below). Messages are fixed, client-facing
//! strings: internal error text is logged, never sent.

use otp_core::time::UnixSeconds;
use serde::Serialize;
use worker::{Response, Result};

/// An error reply: HTTP status, stable code, machine type and a fixed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: u16,
    code: u16,
    kind: &'static str,
    message: &'static str,
    /// The core's precise cause, when the core refused (sent as `reason`; each
    /// dialect maps it to its own code).
    cause: Option<otp_core::Error>,
    /// When a retry can succeed (429 only).
    retry: Option<Retry>,
}

/// When a refused request can be retried, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A rate limit refused it: `Retry-After` and `X-Rate-Limit-*`.
    RateLimit(otp_core::limits::Refusal),
    /// A guard refused it for this many seconds: `Retry-After`.
    After(u64),
}

impl Retry {
    /// Writes `Retry-After`, and for a rate limit `X-Rate-Limit-*`: the same
    /// headers in every dialect.
    pub(crate) fn write(self, headers: &mut worker::Headers) -> Result<()> {
        match self {
            Retry::RateLimit(r) => {
                headers.set("Retry-After", &r.retry_after.max(1).to_string())?;
                headers.set("X-Rate-Limit-Limit", &r.limit.to_string())?;
                headers.set("X-Rate-Limit-Remaining", "0")?;
                headers.set("X-Rate-Limit-Reset", &r.reset.to_string())?;
            }
            Retry::After(seconds) => headers.set("Retry-After", &seconds.max(1).to_string())?,
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
    uri: &'a str,
    code: u16,
    /// The precise cause of a core refusal, e.g. `phone_number_too_short` (2020).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// Worker error codes: stable, documented in the README and the OpenAPI spec.
macro_rules! worker_errors {
    ($( $(#[doc = $doc:literal])* $fn:ident = ($status:literal, $code:literal, $kind:literal, $message:literal), )*) => {
        impl ApiError {
            $(
                $(#[doc = $doc])*
                pub(crate) const fn $fn() -> Self {
                    ApiError::new($status, $code, $kind, $message)
                }
            )*
        }
    };
}

worker_errors! {
    /// No route matches the path.
    not_found = (404, 404, "not_found", "The requested resource was not found."),
    /// The route exists but not for this HTTP method.
    method_not_allowed = (405, 405, "method_not_allowed", "The HTTP method is not allowed for this resource."),
    /// Something failed inside the worker; details go to the log only.
    internal = (500, 500, "internal_error", "An internal error occurred."),
    /// The body is not valid JSON (or not a JSON object).
    invalid_json = (400, 1000, "invalid_request", "The request body must be a JSON object."),
    /// The body is larger than the endpoint accepts.
    body_too_large = (413, 1002, "payload_too_large", "The request body is too large."),
    /// The body has a content type this endpoint does not take.
    unsupported_media_type = (415, 1003, "unsupported_media_type", "Content-Type must be application/json."),
    /// KV (or another store) failed; nothing was changed.
    storage_unavailable = (503, 1005, "service_unavailable", "Storage is temporarily unavailable; nothing was changed. Retry later."),
    /// A secret or binding the worker needs is missing.
    misconfigured = (500, 1006, "internal_error", "The service is not configured: a required secret or binding is missing."),
    /// No application with this id.
    app_not_found = (404, 1010, "not_found", "Application not found."),
    /// An application's name is empty, too long, or holds a control or invisible character.
    app_name_invalid = (400, 1011, "invalid_param", "name must be 1-64 characters, with no control, invisible or direction-changing character."),
    /// The admin API needs `Authorization: Bearer <ADMIN_TOKEN>`.
    admin_unauthorized = (401, 1012, "unauthorized", "Admin token missing or invalid."),
    /// Too many wrong admin tokens came from this client address: every admin
    /// request from it is refused until the window ends (429 with `Retry-After`).
    admin_throttled = (429, 1050, "rate_limited", "Too many wrong admin tokens from this address: retry after the time in Retry-After."),
    /// A console request signed in by the session cookie that changes state
    /// without an `Origin` equal to the request's own origin.
    admin_origin_forbidden = (403, 1060, "forbidden", "A request signed in by the console's session cookie must carry the console's own Origin."),
    /// `POST /admin/session`: the body is not `{"token": "<ADMIN_TOKEN>"}`.
    admin_session_invalid = (400, 1061, "invalid_param", "The body must be {\"token\": \"<ADMIN_TOKEN>\"}."),
    /// `GET /admin/apps`: `search`, `pageSize` or `pageToken` is invalid.
    apps_query_invalid = (400, 1062, "invalid_param", "search must be at most 64 characters, pageSize a whole number from 1 to 100, pageToken the nextPageToken of a previous page."),
    /// `POST /admin/apps/{id}/webhooks/test`: the body is not `{}` or `{"url": "…"}`.
    webhook_test_invalid = (400, 1063, "invalid_param", "The body must be {} or {\"url\": \"https://…\"}: the URL to send the test event to, by default the application's callback URL."),
    /// `POST /admin/apps/{id}/webhooks/test` with no URL given and none configured.
    webhook_url_missing = (400, 1064, "invalid_param", "The application has no callback URL (otp.callbackUrl): set one, or give {\"url\": …} in the body."),
    /// `POST /admin/apps/{id}/test-sms`: a body with other fields, or a bad `text`.
    test_sms_invalid = (400, 1065, "invalid_param", "The body must be {\"phoneNumber\": …} with optional countryIso, from and text (1-1000 characters, with no invisible or direction-changing character its script does not need)."),
    /// This endpoint exists only when ENVIRONMENT is development.
    dev_only = (404, 1013, "not_found", "This endpoint is only available in development."),
    /// A query parameter is missing or invalid.
    invalid_query = (400, 1014, "invalid_param", "A query parameter is missing or invalid."),
    /// An application's OTP settings hold an unknown field or a value of the wrong type.
    settings_invalid = (400, 1015, "invalid_param", "otp settings hold an unknown field or a value of the wrong type."),
    /// An application's Dexatel settings hold an unknown field, a value of the wrong type or out of range.
    dexatel_settings_invalid = (400, 1017, "invalid_param", "dexatel settings: maxFailedChecks 1-10, blockSeconds 60-86400, resendCooldownSeconds 0-3600, resendPolicy resend_same or replace."),
    /// An application's send policy (`limits`) holds an unknown field or a value of the wrong type.
    limits_invalid = (400, 1018, "invalid_param", "limits hold an unknown field or a value of the wrong type."),
    /// The gateway configuration is not an object with a known `type`.
    gateway_invalid = (400, 1016, "invalid_param", "gateway must be an object with type outbox, webhook, twilio, vonage, smscx, dexatel, plivo, sinch or infobip."),
    /// Insights: `from` or `to` is not a UTC date `YYYY-MM-DD`, `from` is after `to`, or they span more than 366 days.
    insights_dates_invalid = (400, 1019, "invalid_param", "from and to must be UTC dates YYYY-MM-DD, from not after to, at most 366 days apart."),
    /// Insights: `groupBy` is not one of the groupings.
    insights_group_by_invalid = (400, 1020, "invalid_param", "groupBy must be day, country, range or gateway (or app, across applications)."),
    /// Insights: `pageToken` is not a token of a previous page.
    insights_page_token_invalid = (400, 1021, "invalid_param", "pageToken must be the nextPageToken of a previous page."),
    /// Insights: `status` is not an OTP status.
    insights_status_invalid = (400, 1022, "invalid_param", "status must be PENDING, VERIFIED, FAILED, EXPIRED, CANCELLED, REFUSED or UNSENT."),
    /// Insights: `kind` is not an event kind.
    insights_kind_invalid = (400, 1023, "invalid_param", "kind must be send, unsent, check, refused or delivery."),
    /// Insights are off: no D1 database is bound as `INSIGHTS_DB`.
    insights_off = (503, 1024, "service_unavailable", "Insights are not configured: bind a D1 database as INSIGHTS_DB."),
    /// Insights: `pageSize` is not a whole number from 1 to 500.
    insights_page_size_invalid = (400, 1025, "invalid_param", "pageSize must be a whole number from 1 to 500."),
    /// Insights: `includeTest` is not `true` or `false`.
    insights_include_test_invalid = (400, 1026, "invalid_param", "includeTest must be true or false."),
    /// An application's routes are not a list of routes, or a route is invalid
    /// (the message says which rule).
    routes_invalid = (400, 1040, "invalid_param", "routes must be a list of at most 50 routes, each with countries or prefixes (none: the default route, last) and 1-5 gateways."),
    /// A delivery receipt without a valid provider signature or receipt token.
    receipt_unauthorized = (401, 1041, "unauthorized", "The delivery receipt is not authenticated: bad or missing signature or token."),
    /// A delivery receipt for a message this application did not send (or no longer keeps).
    receipt_unknown = (404, 1042, "not_found", "No message of this application matches the delivery receipt."),
    /// A delivery receipt that could not be read.
    receipt_invalid = (400, 1043, "invalid_request", "The delivery receipt could not be read."),
    /// An application's fraud-guard settings hold an unknown field or a value of the wrong type.
    fraud_settings_invalid = (400, 1031, "invalid_param", "fraudGuard holds an unknown field or a value of the wrong type."),
    /// An application's policy (lockdown, test numbers) holds an unknown field or a value of the wrong type.
    policy_invalid = (400, 1032, "invalid_param", "policy holds an unknown field or a value of the wrong type."),
    /// The app's Turnstile settings lack a secret or a usable siteverify URL.
    turnstile_settings_invalid = (400, 1036, "invalid_param", "turnstile needs a secret and an https siteverifyUrl."),
    /// The app requires Turnstile and `X-Turnstile-Token` is missing or malformed.
    turnstile_token_invalid = (400, 1033, "invalid_request", "X-Turnstile-Token is missing or malformed."),
    /// Turnstile's siteverify refused the token.
    turnstile_failed = (403, 1034, "forbidden", "The Turnstile token was not accepted."),
    /// Turnstile's siteverify could not be reached or answered nonsense; nothing was sent.
    turnstile_unavailable = (503, 1035, "service_unavailable", "Turnstile verification is unavailable; nothing was sent. Retry later."),
    /// `X-End-User-Ip` is not an IPv4 or IPv6 address.
    end_user_ip_invalid = (400, 1030, "invalid_request", "X-End-User-Ip must be the end user's IPv4 or IPv6 address."),
    /// No credentials: neither `X-API-KEY` nor `Authorization: Bearer`.
    unauthenticated = (401, 1601, "unauthorized", "Authentication required: send X-API-KEY or Authorization: Bearer <token>."),
    /// The API key or bearer token is not valid (unknown, tampered, revoked).
    invalid_credentials = (401, 1602, "unauthorized", "Invalid API key or access token."),
    /// The bearer token has expired.
    token_expired = (401, 1603, "unauthorized", "The access token has expired."),
    /// The token lacks the scope this operation needs.
    insufficient_scope = (403, 1604, "forbidden", "The access token lacks the scope this operation needs."),
    /// `POST /oauth/token`: malformed request (RFC 6749 `invalid_request`).
    oauth_invalid_request = (400, 1600, "invalid_request", "The token request is malformed: send grant_type=client_credentials as application/x-www-form-urlencoded."),
    /// `POST /oauth/token`: unknown scope.
    oauth_invalid_scope = (400, 1600, "invalid_scope", "The requested scope is invalid."),
    /// `POST /oauth/token`: grant other than client_credentials.
    oauth_unsupported_grant_type = (400, 1600, "unsupported_grant_type", "Only grant_type=client_credentials is supported."),
    /// `POST /oauth/token`: bad application id or secret.
    oauth_invalid_client = (401, 1600, "invalid_client", "Client authentication failed."),
}

impl ApiError {
    pub(crate) const fn new(
        status: u16,
        code: u16,
        kind: &'static str,
        message: &'static str,
    ) -> Self {
        ApiError {
            status,
            code,
            kind,
            message,
            cause: None,
            retry: None,
        }
    }

    /// The reply for an error with its own code, status and message.
    pub(crate) const fn custom(
        status: u16,
        code: u16,
        kind: &'static str,
        message: &'static str,
    ) -> Self {
        ApiError::new(status, code, kind, message)
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The stable numeric code.
    pub(crate) fn code(&self) -> u16 {
        self.code
    }

    /// The fixed client-facing message (for replies in another dialect's shape).
    pub(crate) fn message(&self) -> &'static str {
        self.message
    }

    /// The same error with a more precise fixed message.
    pub(crate) fn with_message(self, message: &'static str) -> Self {
        ApiError { message, ..self }
    }

    /// The same error, with `Retry-After: seconds` (at least 1).
    pub(crate) fn retry_after(self, seconds: u64) -> Self {
        ApiError {
            retry: Some(Retry::After(seconds)),
            ..self
        }
    }

    /// The same error, retryable as `retry` says (429 only).
    pub(crate) fn with_retry(self, retry: Retry) -> Self {
        ApiError {
            retry: Some(retry),
            ..self
        }
    }

    /// The core's precise cause, if the core refused.
    pub(crate) fn cause(&self) -> Option<otp_core::Error> {
        self.cause
    }

    /// When a retry can succeed, if it can.
    pub(crate) fn retry(&self) -> Option<Retry> {
        self.retry
    }

    fn envelope<'a>(&'a self, uri: &'a str) -> Envelope<'a> {
        Envelope {
            error: Body {
                kind: self.kind,
                message: self.message,
                uri,
                code: self.code,
                reason: self.cause.map(otp_core::Error::name),
            },
        }
    }

    /// The HTTP reply for this error, `uri` being the request path.
    pub(crate) fn to_response(&self, uri: &str) -> Result<Response> {
        let mut res = crate::reply::json(&self.envelope(uri), self.status)?;
        if let Some(retry) = self.retry {
            retry.write(res.headers_mut())?;
        }
        Ok(res)
    }

    /// A rate limit refused the request (429, with `Retry-After` and `X-Rate-Limit-*`).
    pub(crate) fn rate_limited(refusal: otp_core::limits::Refusal) -> Self {
        ApiError {
            retry: Some(Retry::RateLimit(refusal)),
            ..ApiError::new(
                429,
                1007,
                "rate_limited",
                "Too many requests: retry after the time in Retry-After.",
            )
        }
    }

    /// The number is blocked after too many failed checks (Dexatel's guard:
    /// 429, its code 1530, with `Retry-After`).
    pub(crate) fn number_blocked(until: UnixSeconds, now: UnixSeconds) -> Self {
        ApiError {
            retry: Some(Retry::After(until.saturating_sub(now).max(1) as u64)),
            ..ApiError::new(
                429,
                1530,
                "blocked",
                "Blocked number: too many failed checks; retry after the block ends",
            )
        }
    }

    /// A send to the number must wait (Dexatel's guard: 429, code 1690, with
    /// `Retry-After`).
    pub(crate) fn number_cooldown(until: UnixSeconds, now: UnixSeconds) -> Self {
        ApiError {
            retry: Some(Retry::After(until.saturating_sub(now).max(1) as u64)),
            ..ApiError::new(
                429,
                1690,
                "cooldown",
                "A code was sent to this number too recently; retry after the cooldown",
            )
        }
    }
}

impl From<otp_core::Error> for ApiError {
    fn from(e: otp_core::Error) -> Self {
        ApiError {
            cause: Some(e),
            ..ApiError::new(e.http_status(), e.code(), e.error_type(), e.message())
        }
    }
}

impl From<worker::kv::KvError> for ApiError {
    fn from(e: worker::kv::KvError) -> Self {
        worker::console_error!("kv error: {e}");
        ApiError::storage_unavailable()
    }
}

/// What handlers return.
pub(crate) type ApiResult<T> = core::result::Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json(err: &ApiError, uri: &str) -> serde_json::Value {
        serde_json::to_value(err.envelope(uri)).expect("error envelopes serialize")
    }

    #[test]
    fn not_found_has_the_sms_cx_shape() {
        assert_eq!(
            to_json(&ApiError::not_found(), "/nope"),
            serde_json::json!({"error": {
                "type": "not_found",
                "message": "The requested resource was not found.",
                "uri": "/nope",
                "code": 404,
            }})
        );
    }

    #[test]
    fn core_errors_keep_their_codes_and_statuses() {
        let e = ApiError::from(otp_core::Error::TtlTooLow);
        assert_eq!((e.status(), e.code()), (400, 2008));
        assert_eq!(to_json(&e, "/otp")["error"]["type"], "invalid_param");
        let e = ApiError::from(otp_core::Error::OtpNotFound);
        assert_eq!((e.status(), e.code()), (404, 2021));
    }

    #[test]
    fn token_errors_carry_code_1600() {
        for e in [
            ApiError::oauth_invalid_request(),
            ApiError::oauth_invalid_scope(),
            ApiError::oauth_unsupported_grant_type(),
            ApiError::oauth_invalid_client(),
        ] {
            assert_eq!(e.code(), 1600);
        }
        assert_eq!(ApiError::oauth_invalid_client().status(), 401);
    }
}
