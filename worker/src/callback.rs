//! Status callbacks: on every status change of an OTP, POST
//! `{"event": "otp_update", "data": [<OTP object>]}` to its callback URL, signed
//! with Standard Webhooks headers (see [`crate::signing`]) and the application's
//! webhook secret.
//!
//! Delivery runs after the response (`ctx.wait_until`), so a slow or failing
//! receiver never delays or fails the API. It makes at most 4 attempts: a
//! network error, a timeout (`CALLBACK_TIMEOUT_MS`, default and maximum 5000),
//! a 5xx or a 429 is retried after `CALLBACK_RETRY_BASE_MS` × 2ⁿ (default and
//! maximum base 1000: pauses of 1 s, 2 s, 4 s); any other status ends it. Every attempt of one event carries the same
//! `webhook-id` and is signed afresh with the time of the attempt. With the
//! defaults the worst case (4 timeouts and 7 s of pauses) stays under the 30 s
//! that Workers grant `waitUntil` work after the response.
//!
//! Logs hold the otpId, the attempt and the outcome only: never the URL (it may
//! carry a token), the phone number or the PIN.

use std::time::Duration;

use otp_core::otp::OtpView;
use serde::Serialize;
use worker::{Context, Delay, Env};

use crate::gateway::fetch::{self, FetchError, PostRequest};
use crate::signing;

/// The `event` of a status callback.
pub(crate) const EVENT: &str = "otp_update";
/// Attempts per event, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// Var: pause before the first retry, in milliseconds; each next pause doubles.
pub(crate) const RETRY_BASE_VAR: &str = "CALLBACK_RETRY_BASE_MS";
/// Var: deadline of one attempt, in milliseconds.
pub(crate) const TIMEOUT_VAR: &str = "CALLBACK_TIMEOUT_MS";
const DEFAULT_RETRY_BASE_MS: u64 = 1_000;
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Upper bounds for the two vars: the defaults, so that the vars can only shorten
/// a delivery and the worst case stays inside the 30 s of `waitUntil`.
const MAX_RETRY_BASE_MS: u64 = DEFAULT_RETRY_BASE_MS;
const MAX_TIMEOUT_MS: u64 = DEFAULT_TIMEOUT_MS;

/// The callback body.
#[derive(Serialize)]
struct Event<'a> {
    event: &'static str,
    data: [&'a OtpView; 1],
}

/// The JSON body of the callback for `view`.
fn event_body(view: &OtpView) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Event {
        event: EVENT,
        data: [view],
    })
}

/// Timing of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RetryPolicy {
    base: Duration,
    timeout: Duration,
}

impl RetryPolicy {
    fn from_env(env: &Env) -> Self {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        RetryPolicy {
            base: fetch::millis_setting(
                var(RETRY_BASE_VAR),
                DEFAULT_RETRY_BASE_MS,
                MAX_RETRY_BASE_MS,
            ),
            timeout: fetch::millis_setting(var(TIMEOUT_VAR), DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS),
        }
    }

    /// The pause after failed attempt `attempt` (1-based): base × 2^(attempt-1).
    fn backoff(&self, attempt: u32) -> Duration {
        self.base * 2u32.pow(attempt.saturating_sub(1).min(10))
    }
}

/// What to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The receiver took it.
    Done,
    /// Try again after a pause (if attempts remain).
    Retry,
    /// The receiver refused it for good.
    GiveUp,
}

/// The decision for an attempt that ended with `outcome`.
fn next_step(outcome: Result<u16, FetchError>) -> Next {
    match outcome {
        Ok(200..=299) => Next::Done,
        Ok(429 | 500..=599) => Next::Retry,
        Ok(_) => Next::GiveUp,
        Err(FetchError::Timeout | FetchError::Unreachable) => Next::Retry,
        Err(FetchError::Invalid) => Next::GiveUp,
    }
}

/// How an attempt ended, for the log.
fn outcome_label(outcome: Result<u16, FetchError>) -> String {
    match outcome {
        Ok(status) => status.to_string(),
        Err(FetchError::Timeout) => "timeout".into(),
        Err(FetchError::Unreachable) => "unreachable".into(),
        Err(FetchError::Invalid) => "invalid-url".into(),
    }
}

/// Sends the status callback of `view` to `url` after the response, with
/// retries. Never fails and never waits: problems are logged.
pub(crate) fn schedule_status_callback(
    ctx: &Context,
    env: &Env,
    url: String,
    webhook_secret: String,
    view: &OtpView,
) {
    if let Some(delivery) = Delivery::new(env, url, webhook_secret, view) {
        ctx.wait_until(delivery.run());
    }
}

/// Sends the status callback of `view` now, with retries, and returns when done
/// (for callers with no response to wait for, such as a Durable Object alarm).
pub(crate) async fn deliver_status_callback(
    env: &Env,
    url: String,
    webhook_secret: String,
    view: &OtpView,
) {
    if let Some(delivery) = Delivery::new(env, url, webhook_secret, view) {
        delivery.run().await;
    }
}

/// One event on its way to one receiver.
struct Delivery {
    url: String,
    secret: String,
    msg_id: String,
    otp_id: String,
    body: String,
    policy: RetryPolicy,
}

impl Delivery {
    /// The delivery of `view`'s event; `None` (logged) if it cannot be encoded.
    fn new(env: &Env, url: String, secret: String, view: &OtpView) -> Option<Delivery> {
        let body = match event_body(view) {
            Ok(body) => body,
            Err(err) => {
                worker::console_error!("callback otp={}: not encoded: {err}", view.otp_id);
                return None;
            }
        };
        Some(Delivery {
            url,
            secret,
            msg_id: signing::new_message_id(),
            otp_id: view.otp_id.clone(),
            body,
            policy: RetryPolicy::from_env(env),
        })
    }

    /// The signed request of an attempt made at `timestamp`.
    fn request(&self, timestamp: i64) -> PostRequest {
        let mut headers = vec![("Content-Type", "application/json".to_owned())];
        headers.extend(signing::signed_headers(
            &self.secret,
            &self.msg_id,
            timestamp,
            &self.body,
        ));
        PostRequest {
            url: self.url.clone(),
            headers,
            body: self.body.clone(),
        }
    }

    async fn run(self) {
        for attempt in 1..=MAX_ATTEMPTS {
            let now = (worker::Date::now().as_millis() / 1000) as i64;
            let outcome = fetch::post(&self.request(now), self.policy.timeout)
                .await
                .map(|reply| reply.status);
            let next = next_step(outcome);
            worker::console_log!(
                "callback otp={} attempt={attempt}/{MAX_ATTEMPTS} status={}",
                self.otp_id,
                outcome_label(outcome)
            );
            match next {
                Next::Done | Next::GiveUp => return,
                Next::Retry if attempt < MAX_ATTEMPTS => {
                    Delay::from(self.policy.backoff(attempt)).await;
                }
                Next::Retry => {}
            }
        }
        worker::console_warn!(
            "callback otp={}: gave up after {MAX_ATTEMPTS} attempts",
            self.otp_id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp_core::otp::OtpStatus;
    use serde_json::json;

    fn view() -> OtpView {
        OtpView {
            otp_id: "123e4567-e89b-42d3-a456-426614174000".into(),
            track_id: None,
            phone_number: "+33612424111".into(),
            country_iso: "FR".into(),
            status: OtpStatus::Verified,
            cost: 0.05,
            parts: 1,
            max_attempts: 5,
            attempts: 1,
            ttl: 300,
            otp_callback_url: Some("https://hooks.example.com/otp".into()),
            date_created: "2023-11-14 22:13:20".into(),
            date_expires: "2023-11-14 22:18:20".into(),
        }
    }

    #[test]
    fn body_is_an_otp_update_event_with_one_sms_cx_otp_object() {
        let body: serde_json::Value = serde_json::from_str(&event_body(&view()).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"event": "otp_update", "data": [{
                "otpId": "123e4567-e89b-42d3-a456-426614174000",
                "trackId": null,
                "phoneNumber": "+33612424111",
                "countryIso": "FR",
                "status": "VERIFIED",
                "cost": 0.05,
                "parts": 1,
                "maxAttempts": 5,
                "attempts": 1,
                "ttl": 300,
                "otpCallbackUrl": "https://hooks.example.com/otp",
                "dateCreated": "2023-11-14 22:13:20",
                "dateExpires": "2023-11-14 22:18:20",
            }]})
        );
    }

    #[test]
    fn success_ends_server_errors_and_network_failures_retry_client_errors_give_up() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(next_step(Ok(status)), Next::Done, "{status}");
        }
        for status in [429, 500, 502, 503, 504, 599] {
            assert_eq!(next_step(Ok(status)), Next::Retry, "{status}");
        }
        for status in [301, 302, 400, 401, 403, 404, 410, 422] {
            assert_eq!(next_step(Ok(status)), Next::GiveUp, "{status}");
        }
        assert_eq!(next_step(Err(FetchError::Timeout)), Next::Retry);
        assert_eq!(next_step(Err(FetchError::Unreachable)), Next::Retry);
        assert_eq!(next_step(Err(FetchError::Invalid)), Next::GiveUp);
    }

    #[test]
    fn backoff_doubles_from_the_base() {
        let policy = RetryPolicy {
            base: Duration::from_millis(1_000),
            timeout: Duration::from_millis(5_000),
        };
        let pauses: Vec<u128> = (1..MAX_ATTEMPTS)
            .map(|a| policy.backoff(a).as_millis())
            .collect();
        assert_eq!(pauses, [1_000, 2_000, 4_000]);
    }

    #[test]
    fn the_default_worst_case_fits_in_the_wait_until_budget() {
        let worst = |base: u64, timeout: u64| {
            let policy = RetryPolicy {
                base: Duration::from_millis(base),
                timeout: Duration::from_millis(timeout),
            };
            let pauses: Duration = (1..MAX_ATTEMPTS).map(|a| policy.backoff(a)).sum();
            pauses + policy.timeout * MAX_ATTEMPTS
        };
        assert!(worst(DEFAULT_RETRY_BASE_MS, DEFAULT_TIMEOUT_MS) < Duration::from_secs(30));
        assert!(worst(MAX_RETRY_BASE_MS, MAX_TIMEOUT_MS) < Duration::from_secs(30));
    }

    #[test]
    fn every_attempt_is_signed_with_the_same_id_and_its_own_timestamp() {
        let delivery = Delivery {
            url: "https://hooks.example.com/otp".into(),
            secret: signing::new_webhook_secret(),
            msg_id: "msg_same".into(),
            otp_id: "otp".into(),
            body: event_body(&view()).unwrap(),
            policy: RetryPolicy {
                base: Duration::from_millis(1),
                timeout: Duration::from_millis(1),
            },
        };
        let first = delivery.request(1_700_000_000);
        let retry = delivery.request(1_700_000_002);
        assert_eq!(first.header("webhook-id"), Some("msg_same"));
        assert_eq!(retry.header("webhook-id"), Some("msg_same"));
        assert_eq!(first.header("webhook-timestamp"), Some("1700000000"));
        assert_eq!(retry.header("webhook-timestamp"), Some("1700000002"));
        assert_eq!(first.header("content-type"), Some("application/json"));
        for (req, ts) in [(&first, 1_700_000_000), (&retry, 1_700_000_002)] {
            assert!(signing::verify(
                &delivery.secret,
                "msg_same",
                ts,
                &req.body,
                req.header("webhook-signature").unwrap()
            ));
        }
    }
}
