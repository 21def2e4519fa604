//! The fraud guard's outcome reports, from the record shards to the application's
//! guard (`crate::fraud`, in its rate-limit object): when a counted OTP ends
//! (verified, failed, cancelled, expired), its shard keeps a report in its own
//! storage with the change (`q:{otpId}`), sends the reports a moment after its
//! reply, and deletes them once the guard acknowledged them; the alarm retries what
//! is left. One send at a time per shard, after a short wait ([`Sender`]): the
//! reports of the checks that end meanwhile go in the same call, so a busy shard
//! calls the guard's object about once a second, not once per check.
//! Reports are idempotent, so a retry after a lost acknowledgement is harmless; a
//! report that never arrives counts as neither, so it never makes a block more
//! likely.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use otp_core::fraud::{OtpTag, Outcome, OutcomeReport};
use otp_core::time::UnixSeconds;
use worker::{Env, ListOptions, Result, Storage};

use super::shard::Stored;
use crate::json::{storage_get, storage_put};
use crate::limiter::{self, RateLimits};
use crate::soon::Soon;

const PREFIX: &str = "q:";
/// Reports sent in one call.
const BATCH: usize = 64;
/// The alarm comes back this many seconds after a report is kept or a send failed.
pub(crate) const RETRY_SECONDS: i64 = 60;
/// How long a send waits for more reports. The guard decides on ranges over hours
/// of outcomes; a second's delay changes no decision.
const GATHER: Duration = Duration::from_millis(1_000);

/// Sends a shard's kept reports a moment after they are kept, one send at a time
/// (what is kept meanwhile goes with it or with the next one). A failure is left
/// to the alarm.
#[derive(Default)]
pub(crate) struct Sender {
    sending: Soon,
    /// The latest `now` of the requests that kept reports (the guard counts
    /// outcomes at their request's time, which tests may set).
    now: Rc<Cell<UnixSeconds>>,
}

impl Sender {
    /// Sends the kept reports soon; `now` is the time of the request that kept one.
    pub(crate) fn soon(&self, storage: Storage, env: Env, now: UnixSeconds) {
        self.now.set(self.now.get().max(now));
        let latest = Rc::clone(&self.now);
        let bindings = Rc::new((storage, env));
        let work = move || {
            let (bindings, now) = (Rc::clone(&bindings), latest.get());
            async move {
                let sent = send(&bindings.0, &bindings.1, now).await;
                if let Err(e) = &sent {
                    worker::console_warn!("fraud guard: outcome reports not sent, retried: {e}");
                }
                sent
            }
        };
        self.sending.run(|| worker::Delay::from(GATHER), work);
    }
}

/// Keeps the report of `stored` if its OTP was counted by the guard and has ended
/// at `now`; whether it did.
pub(crate) fn keep(
    storage: &Storage,
    hash_key: &[u8],
    stored: &Stored,
    now: UnixSeconds,
) -> Result<bool> {
    let (Some(counted), Some(outcome)) = (
        &stored.counted,
        Outcome::of_status(stored.record.status_at(now)),
    ) else {
        return Ok(false);
    };
    let report = OutcomeReport {
        country: counted.country.clone(),
        range: counted.range.clone(),
        otp: OtpTag::of(hash_key, &stored.record.otp_id),
        outcome,
    };
    storage_put(
        storage,
        &format!("{PREFIX}{}", stored.record.otp_id),
        &report,
    )?;
    Ok(true)
}

/// Whether reports wait to be sent.
pub(crate) async fn pending(storage: &Storage) -> Result<bool> {
    let page = storage
        .list_with_options(ListOptions::new().prefix(PREFIX).limit(1))
        .await?;
    Ok(page.size() > 0)
}

/// Sends the kept reports to the application's guard, a batch at a time, deleting
/// what it acknowledged.
pub(crate) async fn send(storage: &Storage, env: &Env, now: UnixSeconds) -> Result<()> {
    let Some(app_id) = storage_get::<String>(storage, "app")? else {
        return Ok(());
    };
    let ns = env.durable_object(limiter::BINDING)?;
    loop {
        let page = storage
            .list_with_options(ListOptions::new().prefix(PREFIX).limit(BATCH))
            .await?;
        let mut keys = Vec::new();
        let mut reports = Vec::new();
        page.for_each(&mut |value, key| {
            if let Some(key) = key.as_string() {
                if let Some(report) = value
                    .as_string()
                    .and_then(|t| serde_json::from_str::<OutcomeReport>(&t).ok())
                {
                    reports.push(report);
                }
                keys.push(key);
            }
        });
        if keys.is_empty() {
            return Ok(());
        }
        RateLimits::new(&ns)
            .report_outcomes(&app_id, reports, now)
            .await
            .map_err(|e| worker::Error::RustError(format!("guard: {}", e.code())))?;
        let full = keys.len() == BATCH;
        storage.delete_multiple(keys).await?;
        if !full {
            return Ok(());
        }
    }
}
