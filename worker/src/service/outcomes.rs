//! The fraud guard's outcome reports, from the record shards to the application's
//! guard (`crate::fraud`, in its rate-limit object): when a counted OTP ends
//! (verified, failed, cancelled, expired), its shard keeps a report in its own
//! storage with the change (`q:{otpId}`), sends the reports after its reply, and
//! deletes them once the guard acknowledged them; the alarm retries what is left.
//! Reports are idempotent, so a retry after a lost acknowledgement is harmless; a
//! report that never arrives counts as neither, so it never makes a block more
//! likely.

use otp_core::fraud::{OtpTag, Outcome, OutcomeReport};
use otp_core::time::UnixSeconds;
use worker::{Env, ListOptions, Result, Storage};

use super::shard::Stored;
use crate::json::{storage_get, storage_put};
use crate::limiter::{self, RateLimits};

const PREFIX: &str = "q:";
/// Reports sent in one call.
const BATCH: usize = 64;
/// The alarm comes back this many seconds after a report is kept or a send failed.
pub(crate) const RETRY_SECONDS: i64 = 60;

/// Keeps the report of `stored` if its OTP was counted by the guard and has ended
/// at `now`; whether it did.
pub(crate) async fn keep(
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
    )
    .await?;
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
    let Some(app_id) = storage_get::<String>(storage, "app").await? else {
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
