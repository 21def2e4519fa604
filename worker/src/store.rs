//! OTP records in Workers KV, keyed `otp:{appId}:{otpId}` so that one
//! application can never read another's records.
//!
//! The store boundary is [`OtpStore::apply`]: one read-modify-write per command.
//! Over KV it is *not* atomic (KV is eventually consistent, last write wins, and
//! allows one write per second per key), so parallel guesses on one OTP can be
//! under-counted; a Durable Object implementing the same `apply` serialises the
//! commands per OTP and makes attempt counting exact.

use otp_core::otp::{OtpRecord, Verification};
use otp_core::secret::SecretKeys;
use otp_core::time::UnixSeconds;
use worker::kv::KvStore;

use crate::error::{ApiError, ApiResult};

/// A change to one stored OTP.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// Check a PIN (counting the attempt first).
    Verify { pin: Option<String> },
    /// Cancel a pending OTP.
    Cancel,
}

/// What a command did.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The record after the command.
    pub(crate) record: OtpRecord,
    /// `Ok` when the command succeeded, else the core's error.
    pub(crate) result: Result<(), otp_core::Error>,
    /// The status changed: a callback is due.
    pub(crate) status_changed: bool,
}

/// Runs `command` on `record` at `now`; returns what happened and whether the
/// record must be written back.
pub(crate) fn run_command(
    record: &mut OtpRecord,
    command: &Command,
    keys: &SecretKeys,
    now: UnixSeconds,
) -> (Result<(), otp_core::Error>, bool, bool) {
    match command {
        Command::Verify { pin } => {
            let Verification {
                result,
                record_changed,
                status_changed,
            } = record.verify(pin.as_deref(), keys, now);
            (result, record_changed, status_changed)
        }
        Command::Cancel => {
            let result = record.cancel(now);
            let changed = result.is_ok();
            (result, changed, changed)
        }
    }
}

/// OTP records over a KV namespace.
pub(crate) struct OtpStore {
    kv: KvStore,
    retention: u32,
}

fn key(app_id: &str, otp_id: &str) -> String {
    format!("otp:{app_id}:{otp_id}")
}

impl OtpStore {
    /// The store; finished records stay readable for `retention` seconds.
    pub(crate) fn new(kv: KvStore, retention: u32) -> Self {
        OtpStore { kv, retention }
    }

    /// The record, if it exists for this application. Malformed ids are never looked up.
    pub(crate) async fn get(&self, app_id: &str, otp_id: &str) -> ApiResult<Option<OtpRecord>> {
        if !otp_core::id::is_uuid(otp_id) {
            return Ok(None);
        }
        Ok(self
            .kv
            .get(&key(app_id, otp_id))
            .json::<OtpRecord>()
            .await?)
    }

    /// Writes the record with a KV expiry of its remaining life plus the retention.
    pub(crate) async fn put(
        &self,
        app_id: &str,
        record: &OtpRecord,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        let json = serde_json::to_string(record).map_err(|_| ApiError::internal())?;
        self.kv
            .put(&key(app_id, &record.otp_id), json)?
            .expiration_ttl(u64::from(record.storage_ttl(now, self.retention)))
            .execute()
            .await?;
        Ok(())
    }

    /// Deletes a record (used when the SMS could not be sent).
    pub(crate) async fn delete(&self, app_id: &str, otp_id: &str) -> ApiResult<()> {
        self.kv.delete(&key(app_id, otp_id)).await?;
        Ok(())
    }

    /// Reads, changes and writes back one record; `None` when there is no such record.
    pub(crate) async fn apply(
        &self,
        app_id: &str,
        otp_id: &str,
        command: &Command,
        keys: &SecretKeys,
        now: UnixSeconds,
    ) -> ApiResult<Option<Applied>> {
        let Some(mut record) = self.get(app_id, otp_id).await? else {
            return Ok(None);
        };
        let (result, record_changed, status_changed) = run_command(&mut record, command, keys, now);
        if record_changed {
            self.put(app_id, &record, now).await?;
        }
        Ok(Some(Applied {
            record,
            result,
            status_changed,
        }))
    }
}
