//! Exact rate limits: one Durable Object per application (named `limits:{appId}`)
//! holds the counters of every bucket of that application (each phone number,
//! the application itself, each client IP, the daily budget) and answers one
//! request at a time, so concurrent requests can never pass a cap. A request
//! takes from several buckets at once, all or nothing: a refused send uses up no
//! bucket, and a send costs one call, not one per bucket. An alarm sweeps out
//! the buckets whose windows have all ended.
//!
//! The rules are the core's ([`otp_core::limits`]); this module stores their state
//! and turns a refusal into a 429 with `Retry-After` and `X-Rate-Limit-*`.
//!
//! The admin API's failed sign-ins are counted the same way, in one object of
//! their own (`limits:admin`; application ids are UUIDs), a bucket per client
//! address ([`admin_bucket`]): a read-only [`RateLimits::check`] before the token is
//! compared, a take after each wrong one. Deleting an application empties its
//! object ([`RateLimits::purge`]).

use std::cell::Cell;

use otp_core::limits::{LimitState, Limits, Refusal};
use otp_core::secret::{hmac_sha256, to_hex};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, ListOptions, ObjectNamespace, Request, Response, Result,
    State,
};

use crate::config::Config;
use crate::durable::{rpc_entry, Answer};
use crate::error::{ApiError, ApiResult, Retry};
use crate::fraud::{self, Admitted, GuardCheck, GuardRef, Scope};
use crate::json::{storage_get, storage_put};
use otp_core::fraud::{OutcomeReport, Ticket};

/// Binding name of the namespace in wrangler.toml.
pub(crate) const BINDING: &str = "RATE_LIMITER";

/// Storage keys of buckets start with this.
const BUCKET_PREFIX: &str = "b:";

/// How often the sweep runs while the object holds buckets (milliseconds).
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// A bucket's storage key. Phone numbers and end-user addresses are personal
/// data, so keys hold their HMAC under the server's `HASH_KEY` (a plain hash could
/// be reversed by enumerating numbers), never the value itself.
fn bucket_key(kind: &str, keyed: Option<(&[u8], &str)>) -> String {
    match keyed {
        None => format!("{BUCKET_PREFIX}{kind}"),
        Some((key, v)) => {
            let mac = hmac_sha256(key, &[kind.as_bytes(), b".", v.as_bytes()]);
            format!("{BUCKET_PREFIX}{kind}:{}", to_hex(&mac))
        }
    }
}

/// The bucket of SMS to one phone number (E.164).
pub(crate) fn phone_bucket(key: &[u8], e164: &str) -> String {
    bucket_key("phone", Some((key, e164)))
}

/// The bucket of the application's SMS.
pub(crate) fn app_bucket() -> String {
    bucket_key("app", None)
}

/// The bucket of the SMS one end-user address asked for.
pub(crate) fn ip_send_bucket(key: &[u8], ip: &str) -> String {
    bucket_key("ip-send", Some((key, ip)))
}

/// The bucket of the PIN checks from one end-user address.
pub(crate) fn ip_check_bucket(key: &[u8], ip: &str) -> String {
    bucket_key("ip-check", Some((key, ip)))
}

/// The bucket of the SMS parts sent to one destination country in a UTC day.
pub(crate) fn country_parts_bucket(country_iso: &str) -> String {
    format!("{BUCKET_PREFIX}country-parts:{country_iso}")
}

/// The bucket of the application's daily SMS spending.
pub(crate) fn budget_bucket() -> String {
    bucket_key("budget", None)
}

/// The name of the admin API's object (`limits:admin`).
pub(crate) const ADMIN_LIMITER: &str = "admin";

/// Wrong admin tokens one client address may send in a window of
/// [`ADMIN_WINDOW_SECONDS`] (aligned to the clock); after that, every admin
/// request from it is refused until the window ends.
pub(crate) const ADMIN_FAILURES_PER_WINDOW: u64 = 10;

/// The window of [`ADMIN_FAILURES_PER_WINDOW`]: 15 minutes.
pub(crate) const ADMIN_WINDOW_SECONDS: u32 = 900;

/// The bucket of the wrong admin tokens sent from one client address.
pub(crate) fn admin_bucket(key: &[u8], ip: &str) -> String {
    bucket_key("admin", Some((key, ip)))
}

/// One wrong admin token from the address of `bucket` ([`admin_bucket`]).
pub(crate) fn admin_failure(bucket: String) -> Take {
    Take {
        bucket,
        limits: Limits {
            cooldown_seconds: 0,
            windows: vec![otp_core::limits::Window {
                window_seconds: ADMIN_WINDOW_SECONDS,
                max: ADMIN_FAILURES_PER_WINDOW,
            }],
        },
        units: 1,
    }
}

/// `units` from one bucket under its caps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Take {
    /// The bucket's storage key (see the `*_bucket` functions).
    pub(crate) bucket: String,
    /// Its caps.
    pub(crate) limits: Limits,
    /// How many units.
    pub(crate) units: u64,
}

/// A request to an application's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum LimiterRequest {
    /// Take every `takes` if all their caps allow, else none.
    Take { takes: Vec<Take>, now: UnixSeconds },
    /// Return `units` taken from `bucket` at `taken_at`.
    GiveBack {
        bucket: String,
        units: u64,
        taken_at: UnixSeconds,
    },
    /// Whether `take` would be allowed now; changes nothing.
    Check { take: Take, now: UnixSeconds },
    /// Delete every bucket and the sweep (the application was deleted).
    Purge,
    /// [`LimiterRequest::Take`] and the fraud guard's decision, together: all or
    /// nothing (`crate::fraud`).
    Admit {
        takes: Vec<Take>,
        guard: GuardCheck,
        now: UnixSeconds,
    },
    /// Take back what the guard counted for a send that was not sent.
    Undo {
        counted: GuardRef,
        ticket: Ticket,
        now: UnixSeconds,
    },
    /// Outcomes of OTPs the guard counted (from the record shards).
    Outcomes {
        reports: Vec<OutcomeReport>,
        now: UnixSeconds,
    },
    /// The guard's blocks, refusals and countries.
    GuardSnapshot { now: UnixSeconds },
    /// An operator's block (`until`) or unblock (none) of a range or country.
    GuardBlock {
        scope: Scope,
        key: String,
        until: Option<UnixSeconds>,
        now: UnixSeconds,
    },
    /// Keep the result of a webhook delivery ([`crate::webhook_log`]).
    WebhookRecord {
        entry: crate::webhook_log::Entry,
        now: UnixSeconds,
    },
    /// The last webhook deliveries, newest first.
    WebhookList { now: UnixSeconds },
}

/// The answer to [`LimiterRequest::Admit`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum AdmitReply {
    /// Taken and admitted.
    Admitted(Admitted),
    /// A cap refused it (nothing taken).
    Limited(Refusal),
    /// The guard refused it (nothing taken).
    Guarded(otp_core::fraud::Refusal),
}

/// One bucket as stored: its counters, and until when they matter.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredBucket {
    state: LimitState,
    /// After this instant every window and the cooldown have ended: the sweep may
    /// delete the bucket.
    keep_until: UnixSeconds,
}

impl StoredBucket {
    /// Takes `take.units` under its caps and keeps the bucket as long as they matter.
    fn take(&mut self, take: &Take, now: UnixSeconds) -> std::result::Result<(), Refusal> {
        self.state.take(&take.limits, take.units, now)?;
        let keep_for = self.state.keep_for(&take.limits, now);
        self.keep_until = self.keep_until.max(now + i64::from(keep_for));
        Ok(())
    }

    /// Whether a stored bucket (its JSON text) may go at `now`: every window and
    /// the cooldown have ended, or it cannot be read (it would fail every take).
    fn ended(stored: Option<&str>, now: UnixSeconds) -> bool {
        stored
            .and_then(|json| serde_json::from_str::<StoredBucket>(json).ok())
            .is_none_or(|b| b.keep_until <= now)
    }
}

/// The buckets of one application.
#[durable_object(alarm)]
pub struct RateLimiter {
    state: State,
    env: Env,
    /// A sweep is scheduled (known in this instance's lifetime).
    sweep_scheduled: Cell<bool>,
}

impl RateLimiter {
    /// One request of [`crate::durable::call`].
    async fn call(&self, request: String) -> Result<Answer> {
        let request: LimiterRequest = crate::durable::read_request(&request)?;
        if let Some(answer) = self.guard_request(&request).await? {
            return Ok(answer);
        }
        // Reads, decisions and writes are storage operations only: the object's
        // input and output gates keep concurrent requests from interleaving.
        let reply = match request {
            LimiterRequest::Take { takes, now } => self.take(takes, now).await?,
            LimiterRequest::GiveBack {
                bucket: key,
                units,
                taken_at,
            } => {
                let mut bucket = self.load(&key)?;
                bucket.state.give_back(units, taken_at);
                self.store(&key, &bucket)?;
                Ok(())
            }
            // On the loaded copy only: nothing is stored.
            LimiterRequest::Check { take, now } => self.load(&take.bucket)?.take(&take, now),
            // Answered by `guard_request`.
            LimiterRequest::Admit { .. }
            | LimiterRequest::Undo { .. }
            | LimiterRequest::Outcomes { .. }
            | LimiterRequest::GuardSnapshot { .. }
            | LimiterRequest::GuardBlock { .. } => Ok(()),
            LimiterRequest::WebhookRecord { entry, now } => {
                crate::webhook_log::record(&self.state.storage(), entry, now)?;
                Ok(())
            }
            LimiterRequest::WebhookList { now } => {
                let entries = crate::webhook_log::recent(&self.state.storage(), now)?;
                return Answer::json(&entries);
            }
            LimiterRequest::Purge => {
                let storage = self.state.storage();
                storage.delete_alarm().await?;
                storage.delete_all().await?;
                self.sweep_scheduled.set(false);
                Ok(())
            }
        };
        Answer::json(&reply)
    }

    fn load(&self, key: &str) -> Result<StoredBucket> {
        // Stored as JSON text: the sweep reads them back from a `list()` map.
        Ok(storage_get(&self.state.storage(), key)?.unwrap_or_default())
    }

    fn store(&self, key: &str, bucket: &StoredBucket) -> Result<()> {
        storage_put(&self.state.storage(), key, bucket)
    }

    /// All or nothing: each bucket is checked on a copy, and written only when
    /// every one of them allowed the take.
    async fn take(
        &self,
        takes: Vec<Take>,
        now: UnixSeconds,
    ) -> Result<std::result::Result<(), Refusal>> {
        let mut updated = Vec::with_capacity(takes.len());
        for take in &takes {
            let mut bucket = self.load(&take.bucket)?;
            if let Err(refusal) = bucket.take(take, now) {
                return Ok(Err(refusal));
            }
            updated.push(bucket);
        }
        for (take, bucket) in takes.iter().zip(&updated) {
            if take.units > 0 {
                self.store(&take.bucket, bucket)?;
            }
        }
        self.schedule_sweep().await?;
        Ok(Ok(()))
    }

    /// The fraud guard's requests (`crate::fraud`); `None` for the others.
    async fn guard_request(&self, request: &LimiterRequest) -> Result<Option<Answer>> {
        let storage = self.state.storage();
        let hash_key = || {
            Config::from_env(&self.env)
                .map(|c| c.hash_key.clone())
                .map_err(|_| worker::Error::RustError("HASH_KEY missing".into()))
        };
        let reply = match request {
            LimiterRequest::Admit { takes, guard, now } => {
                let mut updated = Vec::with_capacity(takes.len());
                for take in takes {
                    let mut bucket = self.load(&take.bucket)?;
                    if let Err(refusal) = bucket.take(take, *now) {
                        return Answer::json(&AdmitReply::Limited(refusal)).map(Some);
                    }
                    updated.push(bucket);
                }
                let admitted = match fraud::admit(&storage, &hash_key()?, guard, *now)? {
                    Ok(admitted) => admitted,
                    Err(refusal) => return Answer::json(&AdmitReply::Guarded(refusal)).map(Some),
                };
                for (take, bucket) in takes.iter().zip(&updated) {
                    if take.units > 0 {
                        self.store(&take.bucket, bucket)?;
                    }
                }
                self.schedule_sweep().await?;
                return Answer::json(&AdmitReply::Admitted(admitted)).map(Some);
            }
            LimiterRequest::Undo {
                counted,
                ticket,
                now,
            } => Ok::<_, otp_core::Error>(fraud::undo(
                &storage,
                &hash_key()?,
                counted,
                ticket,
                *now,
            )?),
            LimiterRequest::Outcomes { reports, now } => {
                fraud::record_outcomes(&storage, &hash_key()?, reports, *now)?;
                self.schedule_sweep().await?;
                Ok(())
            }
            LimiterRequest::GuardSnapshot { now } => {
                let snapshot = fraud::snapshot(&storage, *now).await?;
                return Answer::json(&snapshot).map(Some);
            }
            LimiterRequest::GuardBlock {
                scope,
                key,
                until,
                now,
            } => fraud::set_block(&storage, &hash_key()?, *scope, key, *until, *now)?,
            _ => return Ok(None),
        };
        Answer::json(&reply).map(Some)
    }

    async fn schedule_sweep(&self) -> Result<()> {
        if self.sweep_scheduled.get() {
            return Ok(());
        }
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            // An offset: workers-rs reads an `i64` as milliseconds from now.
            storage.set_alarm(SWEEP_EVERY_MS).await?;
        }
        self.sweep_scheduled.set(true);
        Ok(())
    }
}

rpc_entry!(RateLimiter);

impl DurableObject for RateLimiter {
    fn new(state: State, env: Env) -> Self {
        RateLimiter {
            state,
            env,
            sweep_scheduled: Cell::new(false),
        }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        crate::durable::not_fetched()
    }

    /// Deletes the buckets whose windows have all ended, a page at a time, and
    /// comes back while any are left.
    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
        fraud::sweep(&storage, now).await?;
        let mut after: Option<String> = None;
        let mut kept = 0usize;
        loop {
            let start = after.as_ref().map(|k| format!("{k}\0"));
            let mut options = ListOptions::new().prefix(BUCKET_PREFIX).limit(256);
            if let Some(start) = &start {
                options = options.start(start);
            }
            let page = storage.list_with_options(options).await?;
            let mut ended = Vec::new();
            let mut count = 0usize;
            for entry in page.entries() {
                let pair = worker::js_sys::Array::from(&entry?);
                let Some(key) = pair.get(0).as_string() else {
                    continue;
                };
                count += 1;
                if StoredBucket::ended(pair.get(1).as_string().as_deref(), now) {
                    ended.push(key.clone());
                } else {
                    kept += 1;
                }
                after = Some(key);
            }
            if !ended.is_empty() {
                storage.delete_multiple(ended).await?;
            }
            if count < 256 {
                break;
            }
        }
        self.sweep_scheduled.set(false);
        if kept > 0 {
            self.schedule_sweep().await?;
        }
        Response::ok("swept")
    }
}

/// The applications' rate-limit objects.
pub(crate) struct RateLimits<'a> {
    ns: &'a ObjectNamespace,
}

impl<'a> RateLimits<'a> {
    /// Over the `RATE_LIMITER` binding.
    pub(crate) fn new(ns: &'a ObjectNamespace) -> Self {
        RateLimits { ns }
    }

    async fn call<R: serde::de::DeserializeOwned>(
        &self,
        app_id: &str,
        request: &LimiterRequest,
    ) -> ApiResult<R> {
        crate::durable::call(
            self.ns,
            &format!("limits:{app_id}"),
            "rate limiter",
            request,
        )
        .await
    }

    /// Takes every one of `takes` from `app_id`'s buckets, or none of them; a
    /// refusal is a 429 [`ApiError`]. Buckets whose caps are all off are left
    /// out, and when that is all of them there is no call at all.
    pub(crate) async fn take(
        &self,
        app_id: &str,
        mut takes: Vec<Take>,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        takes.retain(|t| !(t.limits.windows.is_empty() && t.limits.cooldown_seconds == 0));
        if takes.is_empty() {
            return Ok(());
        }
        self.call::<std::result::Result<(), Refusal>>(app_id, &LimiterRequest::Take { takes, now })
            .await?
            .map_err(ApiError::rate_limited)
    }

    /// Takes every one of `takes` and has the fraud guard decide the send, all or
    /// nothing: a cap's refusal is 1007, the guard's its own code (429 with
    /// `Retry-After`).
    pub(crate) async fn admit(
        &self,
        app_id: &str,
        mut takes: Vec<Take>,
        guard: GuardCheck,
        now: UnixSeconds,
    ) -> ApiResult<Admitted> {
        takes.retain(|t| !(t.limits.windows.is_empty() && t.limits.cooldown_seconds == 0));
        match self
            .call(app_id, &LimiterRequest::Admit { takes, guard, now })
            .await?
        {
            AdmitReply::Admitted(admitted) => Ok(admitted),
            AdmitReply::Limited(refusal) => Err(ApiError::rate_limited(refusal)),
            AdmitReply::Guarded(refusal) => Err(ApiError::from(refusal.error())
                .with_retry(Retry::After(u64::from(refusal.retry_after(now))))),
        }
    }

    /// Takes back what the guard counted for a send that was not sent (best
    /// effort: logged on failure; a count left behind only makes the range look
    /// busier until the OTP's outcome, "neither", ages out).
    pub(crate) async fn undo(
        &self,
        app_id: &str,
        counted: GuardRef,
        ticket: Ticket,
        now: UnixSeconds,
    ) {
        let request = LimiterRequest::Undo {
            counted,
            ticket,
            now,
        };
        if self
            .call::<serde_json::Value>(app_id, &request)
            .await
            .is_err()
        {
            worker::console_warn!("fraud guard: could not take back an unsent send");
        }
    }

    /// Counts outcome reports of OTPs the guard counted.
    pub(crate) async fn report_outcomes(
        &self,
        app_id: &str,
        reports: Vec<OutcomeReport>,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        self.call::<std::result::Result<(), Refusal>>(
            app_id,
            &LimiterRequest::Outcomes { reports, now },
        )
        .await
        .map(|_| ())
    }

    /// The guard's blocks, refusals and countries.
    pub(crate) async fn guard_snapshot(
        &self,
        app_id: &str,
        now: UnixSeconds,
    ) -> ApiResult<otp_core::fraud::FraudSnapshot> {
        self.call(app_id, &LimiterRequest::GuardSnapshot { now })
            .await
    }

    /// An operator's block (`until`) or unblock of a range or country.
    pub(crate) async fn guard_block(
        &self,
        app_id: &str,
        scope: Scope,
        key: String,
        until: Option<UnixSeconds>,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        let request = LimiterRequest::GuardBlock {
            scope,
            key,
            until,
            now,
        };
        self.call::<std::result::Result<(), otp_core::Error>>(app_id, &request)
            .await?
            .map_err(ApiError::from)
    }

    /// Counts one PIN check against an end-user address's cap (both API dialects).
    pub(crate) async fn take_check(
        &self,
        app_id: &str,
        limits: Limits,
        bucket: String,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        let take = Take {
            bucket,
            limits,
            units: 1,
        };
        self.take(app_id, vec![take], now).await
    }

    /// Whether `take` from `app_id`'s buckets would be allowed now (read-only): the
    /// refusal it would get, if any. Buckets whose caps are all off always allow.
    pub(crate) async fn check(
        &self,
        app_id: &str,
        take: Take,
        now: UnixSeconds,
    ) -> ApiResult<std::result::Result<(), Refusal>> {
        if take.limits.windows.is_empty() && take.limits.cooldown_seconds == 0 {
            return Ok(Ok(()));
        }
        self.call(app_id, &LimiterRequest::Check { take, now })
            .await
    }

    /// Deletes every bucket of `app_id` (its object is empty afterwards).
    pub(crate) async fn purge(&self, app_id: &str) -> ApiResult<()> {
        self.call::<std::result::Result<(), Refusal>>(app_id, &LimiterRequest::Purge)
            .await?
            .map_err(|_| ApiError::internal())
    }

    /// Keeps the result of a webhook delivery (after a reply: not counted as an
    /// operation of the request being served).
    pub(crate) async fn record_webhook(
        &self,
        app_id: &str,
        entry: crate::webhook_log::Entry,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        let request = LimiterRequest::WebhookRecord { entry, now };
        crate::durable::call_after_reply(
            self.ns,
            &format!("limits:{app_id}"),
            "rate limiter",
            &request,
        )
        .await
    }

    /// The last webhook deliveries of `app_id`, newest first.
    pub(crate) async fn webhooks(
        &self,
        app_id: &str,
        now: UnixSeconds,
    ) -> ApiResult<Vec<crate::webhook_log::Entry>> {
        self.call(app_id, &LimiterRequest::WebhookList { now })
            .await
    }

    /// Returns units taken from `bucket` at `taken_at` (best effort: logged on failure).
    pub(crate) async fn give_back(
        &self,
        app_id: &str,
        bucket: String,
        units: u64,
        taken_at: UnixSeconds,
    ) {
        let request = LimiterRequest::GiveBack {
            bucket,
            units,
            taken_at,
        };
        if self
            .call::<serde_json::Value>(app_id, &request)
            .await
            .is_err()
        {
            worker::console_warn!("rate limiter: could not give back {units} units");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp_core::limits::SendPolicy;

    const T: UnixSeconds = 20_834 * 86_400; // a UTC day boundary

    const KEY: &[u8] = b"test-hash-key-0123456789abcdef";

    fn phone_take() -> Take {
        Take {
            bucket: phone_bucket(KEY, "+33612424111"),
            limits: SendPolicy::default().phone_limits(),
            units: 1,
        }
    }

    #[test]
    fn bucket_keys_hold_no_personal_data() {
        for key in [
            phone_bucket(KEY, "+33612424111"),
            ip_send_bucket(KEY, "203.0.113.7"),
        ] {
            assert!(key.starts_with(BUCKET_PREFIX));
            assert!(!key.contains("612424111") && !key.contains("203.0.113"));
        }
        assert_ne!(
            ip_send_bucket(KEY, "203.0.113.7"),
            ip_check_bucket(KEY, "203.0.113.7")
        );
        assert_ne!(
            phone_bucket(KEY, "+33612424111"),
            phone_bucket(b"another-hash-key-0123456789", "+33612424111"),
            "keyed: without the server's key a number cannot be found by enumeration"
        );
    }

    #[test]
    fn a_bucket_is_kept_until_its_longest_window_ends() {
        let mut bucket = StoredBucket::default();
        bucket.take(&phone_take(), T + 10).unwrap();
        // The per-day window of the default phone limits ends at the next day.
        assert_eq!(bucket.keep_until, T + 86_400);
        let json = serde_json::to_string(&bucket).unwrap();
        assert!(!StoredBucket::ended(Some(&json), T + 86_399));
        assert!(StoredBucket::ended(Some(&json), T + 86_400));
    }

    #[test]
    fn a_refused_take_changes_nothing() {
        let mut bucket = StoredBucket::default();
        bucket.take(&phone_take(), T).unwrap();
        let before = serde_json::to_string(&bucket).unwrap();
        // Within the 30 s cooldown.
        assert!(bucket.take(&phone_take(), T + 5).is_err());
        assert_eq!(serde_json::to_string(&bucket).unwrap(), before);
    }

    #[test]
    fn an_admin_address_is_refused_once_its_failures_are_spent_until_the_window_ends() {
        let take = admin_failure(admin_bucket(KEY, "203.0.113.7"));
        let mut bucket = StoredBucket::default();
        for _ in 0..ADMIN_FAILURES_PER_WINDOW {
            assert!(bucket.take(&take, T + 5).is_ok());
        }
        // The check is a take on a copy that is never stored.
        let stored = serde_json::to_string(&bucket).unwrap();
        let mut copy: StoredBucket = serde_json::from_str(&stored).unwrap();
        let refusal = copy.take(&take, T + 100).unwrap_err();
        assert_eq!(refusal.retry_after, ADMIN_WINDOW_SECONDS - 100);
        let mut later: StoredBucket = serde_json::from_str(&stored).unwrap();
        assert!(later
            .take(&take, T + i64::from(ADMIN_WINDOW_SECONDS))
            .is_ok());
        assert_ne!(
            take.bucket,
            ip_check_bucket(KEY, "203.0.113.7"),
            "its own bucket"
        );
        assert!(!take.bucket.contains("203.0.113"));
    }

    #[test]
    fn unreadable_or_missing_buckets_may_go() {
        assert!(StoredBucket::ended(None, T));
        assert!(StoredBucket::ended(Some("not json"), T));
    }
}
