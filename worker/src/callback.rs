//! Status callbacks: on every status change of an OTP, POST
//! `{"event": "otp_update", "data": [<OTP object>]}` to its callback URL, signed
//! with Standard Webhooks headers (see [`crate::signing`]) and the application's
//! webhook secret.
//!
//! Delivery runs after the response (`ctx.wait_until`), so a slow or failing
//! receiver never delays or fails the API. It follows the core's rule
//! ([`otp_core::webhook`], which the npm package's `CallbackSender` follows too): at
//! most 4 attempts of at most 5 s each, with pauses of 1 s, 2 s and 4 s; a network
//! error, a timeout, 408, 429 and 5xx are retried, a 2xx delivers, anything else ends
//! it. The worst case, 27 s, stays inside the 30 s that Workers grant `waitUntil`
//! work after the response. The vars `CALLBACK_TIMEOUT_MS` (per attempt) and
//! `CALLBACK_RETRY_BASE_MS` (first pause) can only shorten it (tests do). Every
//! attempt of one event carries the same `webhook-id` and is signed afresh with the
//! time of the attempt.
//!
//! Nothing is sent to a URL the core's check refuses now
//! ([`otp_core::settings::check_callback_url`]): private, loopback, link-local and
//! numeric hosts are refused, except private and loopback hosts (http too) while
//! `ENVIRONMENT` is `development`. Nothing is sent with a webhook secret the core
//! refuses either. A redirect is not followed (it ends the delivery), and the reply's
//! body is never read: the status is the whole answer, and the request is aborted
//! as soon as it is in, so a receiver cannot stream anything at the worker.
//!
//! Logs hold the otpId, the attempt and the outcome only: never the URL (it may
//! carry a token), the phone number or the PIN.

use std::time::Duration;

use otp_core::otp::OtpView;
use otp_core::settings::{check_callback_url, PrivateHosts};
use otp_core::webhook::{self, CallbackPolicy};
use serde::Serialize;
use worker::{AbortController, Context, Delay, Env, Fetch};

use crate::gateway::fetch::{build, first_of, FetchError, PostRequest};
use crate::signing;

/// The `event` of a status callback.
pub(crate) const EVENT: &str = "otp_update";
/// Var: pause before the first retry, in milliseconds (at most the core's 1000);
/// each next pause doubles.
pub(crate) const RETRY_BASE_VAR: &str = "CALLBACK_RETRY_BASE_MS";
/// Var: deadline of one attempt, in milliseconds (at most the core's 5000).
pub(crate) const TIMEOUT_VAR: &str = "CALLBACK_TIMEOUT_MS";

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

/// The core's policy, shortened by the two vars' text where it holds a number.
fn policy_from(timeout: Option<String>, retry_base: Option<String>) -> CallbackPolicy {
    let millis = |v: Option<String>| v.and_then(|v| v.trim().parse::<u32>().ok());
    CallbackPolicy::shortened(None, millis(timeout), millis(retry_base))
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

/// The decision for an attempt that ended with `outcome`: the core's rule, where a
/// timeout and an unreachable receiver are "no status"; a request that could not
/// even be built is not worth another attempt.
fn next_step(outcome: Result<u16, FetchError>) -> Next {
    let status = match outcome {
        Ok(status) => Some(status),
        Err(FetchError::Timeout | FetchError::Unreachable) => None,
        Err(FetchError::Invalid) => return Next::GiveUp,
    };
    match status {
        Some(status) if webhook::is_delivered(status) => Next::Done,
        status if webhook::should_retry(status) => Next::Retry,
        _ => Next::GiveUp,
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

/// Why nothing may be sent to `url` with `secret` (for the log), if so.
fn refusal(url: &str, secret: &str, development: bool) -> Option<&'static str> {
    let private_hosts = if development {
        PrivateHosts::Allow
    } else {
        PrivateHosts::Refuse
    };
    if let Err(e) = check_callback_url(url, private_hosts) {
        return Some(e.name());
    }
    signing::check_secret(secret).err().map(|e| e.message())
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
    policy: CallbackPolicy,
}

impl Delivery {
    /// The delivery of `view`'s event; `None` (logged) if the URL or the secret is
    /// refused or the event cannot be encoded.
    fn new(env: &Env, url: String, secret: String, view: &OtpView) -> Option<Delivery> {
        if let Some(why) = refusal(&url, &secret, crate::config::is_development(env)) {
            worker::console_warn!("callback otp={}: not sent: {why}", view.otp_id);
            return None;
        }
        let body = match event_body(view) {
            Ok(body) => body,
            Err(err) => {
                worker::console_error!("callback otp={}: not encoded: {err}", view.otp_id);
                return None;
            }
        };
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        Some(Delivery {
            url,
            secret,
            msg_id: signing::new_message_id(),
            otp_id: view.otp_id.clone(),
            body,
            policy: policy_from(var(TIMEOUT_VAR), var(RETRY_BASE_VAR)),
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
        let max = self.policy.max_attempts();
        let timeout = Duration::from_millis(u64::from(self.policy.timeout_ms()));
        let mut attempt = 1;
        while let Some(pause) = self.policy.delay_before(attempt) {
            if pause > 0 {
                Delay::from(Duration::from_millis(u64::from(pause))).await;
            }
            let now = (worker::Date::now().as_millis() / 1000) as i64;
            let outcome = post_for_status(&self.request(now), timeout).await;
            worker::console_log!(
                "callback otp={} attempt={attempt}/{max} status={}",
                self.otp_id,
                outcome_label(outcome)
            );
            match next_step(outcome) {
                Next::Done | Next::GiveUp => return,
                Next::Retry => attempt += 1,
            }
        }
        worker::console_warn!("callback otp={}: gave up after {max} attempts", self.otp_id);
    }
}

/// POSTs `request` and returns the reply's status, giving up after `timeout`.
/// Redirects are not followed (a 3xx is the answer). The body is never read: the
/// request is aborted once the status is in, which also ends a body still coming.
async fn post_for_status(request: &PostRequest, timeout: Duration) -> Result<u16, FetchError> {
    let js_request = build(request)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        Fetch::Request(js_request)
            .send_with_signal(&signal)
            .await
            .map(|response| response.status_code())
            .map_err(|_| FetchError::Unreachable)
    };
    let outcome = first_of(exchange, Delay::from(timeout)).await;
    // Ends a request still waiting (timeout) or a reply body nobody reads.
    controller.abort();
    outcome.unwrap_or(Err(FetchError::Timeout))
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

    /// The vectors the core and the npm package check too.
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/webhook-vectors.json")).unwrap()
    }

    #[test]
    fn statuses_follow_the_shared_vectors_timeouts_and_unreachable_are_retried() {
        let v = vectors();
        let statuses = |key: &str| -> Vec<Option<u16>> {
            v["statuses"][key]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().map(|s| s as u16))
                .collect()
        };
        for status in statuses("delivered") {
            assert_eq!(next_step(Ok(status.unwrap())), Next::Done, "{status:?}");
        }
        for status in statuses("retried") {
            match status {
                Some(status) => assert_eq!(next_step(Ok(status)), Next::Retry, "{status}"),
                None => {
                    assert_eq!(next_step(Err(FetchError::Timeout)), Next::Retry);
                    assert_eq!(next_step(Err(FetchError::Unreachable)), Next::Retry);
                }
            }
        }
        for status in statuses("final") {
            assert_eq!(next_step(Ok(status.unwrap())), Next::GiveUp, "{status:?}");
        }
        assert_eq!(next_step(Err(FetchError::Invalid)), Next::GiveUp);
    }

    #[test]
    fn the_vars_can_shorten_the_core_policy_never_lengthen_it() {
        let standard = policy_from(None, None);
        assert_eq!(standard, CallbackPolicy::STANDARD);
        let pauses =
            |p: &CallbackPolicy| (1..).map_while(|a| p.delay_before(a)).collect::<Vec<_>>();
        assert_eq!(pauses(&standard), [0, 1_000, 2_000, 4_000]);
        let short = policy_from(Some("300".into()), Some(" 50 ".into()));
        assert_eq!((short.max_attempts(), short.timeout_ms()), (4, 300));
        assert_eq!(pauses(&short), [0, 50, 100, 200]);
        assert_eq!(
            policy_from(Some("60000".into()), Some("5000".into())),
            standard
        );
        assert_eq!(policy_from(Some("soon".into()), Some("".into())), standard);
    }

    #[test]
    fn nothing_goes_to_private_hosts_outside_development_nor_with_a_bad_secret() {
        let secret = signing::new_webhook_secret();
        for url in [
            "http://127.0.0.1:8787/cb",
            "https://10.0.0.1/cb",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            assert_eq!(
                refusal(url, &secret, false),
                Some("callback_url_private_host"),
                "{url}"
            );
        }
        assert_eq!(refusal("http://127.0.0.1:8787/cb", &secret, true), None);
        assert_eq!(refusal("https://10.0.0.1/cb", &secret, true), None);
        for development in [false, true] {
            assert_eq!(
                refusal("https://2130706433/", &secret, development),
                Some("callback_url_numeric_host")
            );
            assert_eq!(
                refusal("https://hooks.example.com/otp", &secret, development),
                None
            );
            assert_eq!(
                refusal("https://hooks.example.com/otp", "raw-secret", development),
                Some("webhook secret must start with whsec_")
            );
        }
    }

    #[test]
    fn every_attempt_is_signed_with_the_same_id_and_its_own_timestamp() {
        let delivery = Delivery {
            url: "https://hooks.example.com/otp".into(),
            secret: signing::new_webhook_secret(),
            msg_id: "msg_same".into(),
            otp_id: "otp".into(),
            body: event_body(&view()).unwrap(),
            policy: CallbackPolicy::STANDARD,
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
