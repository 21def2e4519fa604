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
//!
//! Each delivery ends in one entry of the application's delivery log
//! ([`crate::webhook_log`]: host, event, last status or error, attempts, latency),
//! recorded after the delivery, off the request path; a URL or secret refused by
//! the policy is recorded too, as not sent. A test event ([`send_test`]) is signed
//! and sent exactly like a status callback, to the same policy, in one attempt
//! whose result the admin API answers.

use std::time::Duration;

use otp_core::otp::OtpView;
use otp_core::settings::{check_callback_url, PrivateHosts};
use otp_core::webhook::{self, CallbackPolicy};
use serde::Serialize;
use worker::{Context, Delay, Env};

use crate::gateway::fetch::{exchange, FetchError, PostRequest};
use crate::limiter::RateLimits;
use crate::signing;
use crate::webhook_log::{self, Entry, Kind, Outcome};

/// The `event` of a status callback.
pub(crate) const EVENT: &str = "otp_update";
/// Var: pause before the first retry, in milliseconds (at most the core's 1000);
/// each next pause doubles.
pub(crate) const RETRY_BASE_VAR: &str = "CALLBACK_RETRY_BASE_MS";
/// Var: deadline of one attempt, in milliseconds (at most the core's 5000).
pub(crate) const TIMEOUT_VAR: &str = "CALLBACK_TIMEOUT_MS";

/// The `event` of a test event ([`send_test`]).
pub(crate) const TEST_EVENT: &str = "test";

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

/// The body of a test event: `{"event": "test", "data": [<OTP object>]}`, an OTP
/// object of the same shape as a status callback's, made up (a fresh otpId, a
/// masked example number), so that a receiver can try its whole handling.
fn test_body(now: i64) -> Result<String, serde_json::Error> {
    let created = otp_core::time::format_utc(now);
    let view = OtpView {
        otp_id: otp_core::id::new_uuid_v4(&mut otp_core::rng::OsRandom),
        track_id: None,
        phone_number: "+3361242****".into(),
        country_iso: "FR".into(),
        status: otp_core::otp::OtpStatus::Verified,
        cost: 0.0,
        parts: 1,
        max_attempts: 5,
        attempts: 1,
        ttl: 600,
        otp_callback_url: None,
        date_created: created.clone(),
        date_expires: otp_core::time::format_utc(now + 600),
    };
    serde_json::to_string(&Event {
        event: TEST_EVENT,
        data: [&view],
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

/// Whose callback it is and why: the application (whose log records it) and
/// what triggered it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) app_id: &'a str,
    pub(crate) kind: Kind,
}

/// Sends the status callback of `view` to `url` after the response, with
/// retries, and records the result. Never fails and never waits: problems are
/// logged.
pub(crate) fn schedule_status_callback(
    ctx: &Context,
    env: &Env,
    source: Source<'_>,
    url: String,
    webhook_secret: String,
    view: &OtpView,
) {
    let app_id = source.app_id.to_owned();
    let env = env.clone();
    match Delivery::prepare(&env, source, url, webhook_secret, view) {
        Prepared::Send(delivery) => ctx.wait_until(async move {
            let entry = delivery.run().await;
            record(&env, &app_id, entry).await;
        }),
        Prepared::Refused(entry) => {
            ctx.wait_until(async move { record(&env, &app_id, entry).await })
        }
        Prepared::Nothing => {}
    }
}

/// Sends the status callback of `view` now, with retries, records the result
/// and returns when done (for callers with no response to wait for, such as a
/// Durable Object alarm).
pub(crate) async fn deliver_status_callback(
    env: &Env,
    source: Source<'_>,
    url: String,
    webhook_secret: String,
    view: &OtpView,
) {
    let entry = match Delivery::prepare(env, source, url, webhook_secret, view) {
        Prepared::Send(delivery) => delivery.run().await,
        Prepared::Refused(entry) => entry,
        Prepared::Nothing => return,
    };
    record(env, source.app_id, entry).await;
}

/// Sends a test event to `url` now, signed with `webhook_secret` like a status
/// callback, in one attempt (no retries: the operator waits for it), records it
/// in `app_id`'s log and returns its entry. The caller checks the URL first; a
/// URL or secret the policy refuses is not sent (the entry says why).
pub(crate) async fn send_test(
    env: &Env,
    app_id: &str,
    url: String,
    webhook_secret: String,
) -> Entry {
    let now = now_seconds();
    let entry = match refusal(&url, &webhook_secret, crate::config::is_development(env)) {
        Some(why) => not_sent(Kind::Test, TEST_EVENT, None, None, &url, why, now),
        None => match test_body(now) {
            Ok(body) => {
                let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
                let base = policy_from(var(TIMEOUT_VAR), var(RETRY_BASE_VAR));
                let delivery = Delivery {
                    url,
                    secret: webhook_secret,
                    msg_id: signing::new_message_id(),
                    otp_id: None,
                    otp_status: None,
                    kind: Kind::Test,
                    event: TEST_EVENT,
                    body,
                    policy: CallbackPolicy::shortened(Some(1), Some(base.timeout_ms()), Some(0)),
                };
                delivery.run().await
            }
            Err(_) => not_sent(Kind::Test, TEST_EVENT, None, None, &url, "not encoded", now),
        },
    };
    record(env, app_id, entry.clone()).await;
    entry
}

/// Keeps `entry` in `app_id`'s delivery log; a failure is logged (the delivery
/// itself is over).
async fn record(env: &Env, app_id: &str, entry: Entry) {
    let now = entry.at;
    let result = match env.durable_object(crate::limiter::BINDING) {
        Ok(ns) => {
            RateLimits::new(&ns)
                .record_webhook(app_id, entry, now)
                .await
        }
        Err(_) => Err(crate::error::ApiError::storage_unavailable()),
    };
    if result.is_err() {
        worker::console_warn!("callback app={app_id}: delivery not recorded");
    }
}

fn now_seconds() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// The entry of a delivery the policy refused (nothing sent).
fn not_sent(
    kind: Kind,
    event: &str,
    otp_id: Option<String>,
    otp_status: Option<String>,
    url: &str,
    why: &str,
    now: i64,
) -> Entry {
    Entry {
        webhook_id: signing::new_message_id(),
        at: now,
        event: event.to_owned(),
        kind,
        otp_id,
        otp_status,
        host: webhook_log::host_of(url),
        outcome: Outcome::NotSent,
        http_status: None,
        error: Some(why.to_owned()),
        attempts: 0,
        latency_ms: None,
    }
}

/// The status name of `view` (`VERIFIED`, …).
fn status_name(view: &OtpView) -> Option<String> {
    serde_json::to_value(view.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// What becomes of a status callback.
enum Prepared {
    /// It is sent.
    Send(Delivery),
    /// The policy refuses its URL or secret: only this entry is recorded.
    Refused(Entry),
    /// It could not be encoded (logged).
    Nothing,
}

/// One event on its way to one receiver.
struct Delivery {
    url: String,
    secret: String,
    msg_id: String,
    otp_id: Option<String>,
    otp_status: Option<String>,
    kind: Kind,
    event: &'static str,
    body: String,
    policy: CallbackPolicy,
}

impl Delivery {
    /// The delivery of `view`'s event, or the entry saying why the policy refuses
    /// its URL or secret (logged).
    fn prepare(
        env: &Env,
        source: Source<'_>,
        url: String,
        secret: String,
        view: &OtpView,
    ) -> Prepared {
        let otp_status = status_name(view);
        if let Some(why) = refusal(&url, &secret, crate::config::is_development(env)) {
            worker::console_warn!("callback otp={}: not sent: {why}", view.otp_id);
            let id = Some(view.otp_id.clone());
            let now = now_seconds();
            let entry = not_sent(source.kind, EVENT, id, otp_status, &url, why, now);
            return Prepared::Refused(entry);
        }
        let body = match event_body(view) {
            Ok(body) => body,
            Err(err) => {
                worker::console_error!("callback otp={}: not encoded: {err}", view.otp_id);
                return Prepared::Nothing;
            }
        };
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        Prepared::Send(Delivery {
            url,
            secret,
            msg_id: signing::new_message_id(),
            otp_id: Some(view.otp_id.clone()),
            otp_status,
            kind: source.kind,
            event: EVENT,
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

    /// Makes the attempts and returns the entry of the delivery.
    async fn run(self) -> Entry {
        let max = self.policy.max_attempts();
        let timeout = Duration::from_millis(u64::from(self.policy.timeout_ms()));
        let started = now_seconds();
        let otp = self.otp_id.as_deref().unwrap_or(TEST_EVENT);
        let mut attempt = 1;
        let mut last = (Err(FetchError::Invalid), 0u32, 0u32);
        let mut delivered = false;
        while let Some(pause) = self.policy.delay_before(attempt) {
            if pause > 0 {
                Delay::from(Duration::from_millis(u64::from(pause))).await;
            }
            let began = worker::Date::now().as_millis();
            let outcome = post_for_status(&self.request(now_seconds()), timeout).await;
            let latency = worker::Date::now().as_millis().saturating_sub(began);
            last = (outcome, attempt, u32::try_from(latency).unwrap_or(u32::MAX));
            worker::console_log!(
                "callback otp={otp} attempt={attempt}/{max} status={}",
                outcome_label(outcome)
            );
            match next_step(outcome) {
                Next::Done => {
                    delivered = true;
                    break;
                }
                Next::GiveUp => break,
                Next::Retry if attempt == max => {
                    worker::console_warn!("callback otp={otp}: gave up after {max} attempts");
                    break;
                }
                Next::Retry => attempt += 1,
            }
        }
        let (outcome, attempts, latency) = last;
        Entry {
            webhook_id: self.msg_id,
            at: started,
            event: self.event.to_owned(),
            kind: self.kind,
            otp_id: self.otp_id,
            otp_status: self.otp_status,
            host: webhook_log::host_of(&self.url),
            outcome: if delivered {
                Outcome::Delivered
            } else {
                Outcome::Failed
            },
            http_status: outcome.ok(),
            error: outcome.err().map(|_| outcome_label(outcome)),
            attempts,
            latency_ms: (attempts > 0).then_some(latency),
        }
    }
}

/// POSTs `request` and returns the reply's status, giving up after `timeout`.
/// Redirects are not followed (a 3xx is the answer). The body is never read: it
/// is cancelled once the status is in, which also ends a body still coming.
async fn post_for_status(request: &PostRequest, timeout: Duration) -> Result<u16, FetchError> {
    exchange(request, timeout, |response| async move {
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
        response.status()
    })
    .await
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
    fn a_test_event_carries_one_made_up_otp_object_of_the_same_shape() {
        let body: serde_json::Value =
            serde_json::from_str(&test_body(1_700_000_000).unwrap()).unwrap();
        let real: serde_json::Value = serde_json::from_str(&event_body(&view()).unwrap()).unwrap();
        assert_eq!(body["event"], "test");
        let (fake, real) = (&body["data"][0], &real["data"][0]);
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(fake), keys(real));
        assert_eq!(
            fake["phoneNumber"], "+3361242****",
            "a masked example, no real number"
        );
        assert_eq!(fake["dateCreated"], "2023-11-14 22:13:20");
        assert_eq!(fake["dateExpires"], "2023-11-14 22:23:20");
        assert_ne!(
            test_body(1).unwrap(),
            test_body(1).unwrap(),
            "a fresh otpId each time"
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
            otp_id: Some("otp".into()),
            otp_status: Some("VERIFIED".into()),
            kind: Kind::Status,
            event: EVENT,
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
