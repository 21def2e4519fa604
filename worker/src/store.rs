//! OTP records: the store boundary of the API.
//!
//! Every change to a record (create, verify, cancel, discard) goes to the record's
//! Durable Object ([`crate::otp_guard`]), which runs them one at a time: attempt
//! counting is exact and a right PIN is consumed once. The object copies each
//! new state to Workers KV under `otp:{appId}:{otpId}` (so one application can
//! never read another's records), with an expiry of the OTP's remaining life plus
//! the retention window; reads ([`OtpStore::get`]) come from KV and are eventually
//! consistent.

use otp_core::otp::{OtpRecord, Verification};
use otp_core::secret::SecretKeys;
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::kv::{KvError, KvStore};
use worker::{Env, ObjectNamespace};

use crate::config::OTP_KV;
use crate::error::{ApiError, ApiResult};
use crate::otp_guard::{GuardReply, GuardRequest, BINDING};

/// A change to one stored OTP (sent to its object: externally tagged, like
/// [`GuardRequest`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Command {
    /// Check a PIN (counting the attempt first).
    Verify { pin: Option<String> },
    /// Cancel a pending OTP.
    Cancel,
    /// Give a pending OTP a fresh code (Dexatel's `resend_same`): replaces its PIN
    /// digest, keeping its id, expiry, attempts and status
    /// (`otp_core::guard::resend_same`).
    Rekey { pin_digest: String },
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

/// Runs `command` on `record` at `now` with the core's state machine.
pub(crate) fn run_command(
    record: &mut OtpRecord,
    command: &Command,
    keys: &SecretKeys,
    now: UnixSeconds,
) -> Verification {
    match command {
        Command::Verify { pin } => record.verify(pin.as_deref(), keys, now),
        Command::Cancel => {
            let result = record.cancel(now);
            let changed = result.is_ok();
            Verification {
                result,
                record_changed: changed,
                status_changed: changed,
            }
        }
        Command::Rekey { pin_digest } => {
            let result = otp_core::guard::resend_same(record, pin_digest.clone(), now);
            Verification {
                result,
                record_changed: result.is_ok(),
                status_changed: false,
            }
        }
    }
}

/// The KV key of a record.
pub(crate) fn record_key(app_id: &str, otp_id: &str) -> String {
    format!("otp:{app_id}:{otp_id}")
}

/// Writes `record` to KV with an expiry of its remaining life plus `retention`.
pub(crate) async fn put_record(
    kv: &KvStore,
    app_id: &str,
    record: &OtpRecord,
    now: UnixSeconds,
    retention: u32,
) -> Result<(), KvError> {
    let json = serde_json::to_string(record).map_err(KvError::from)?;
    kv.put(&record_key(app_id, &record.otp_id), json)?
        .expiration_ttl(u64::from(record.storage_ttl(now, retention)))
        .execute()
        .await
}

/// OTP records: reads from KV, changes through each record's Durable Object.
pub(crate) struct OtpStore {
    kv: KvStore,
    guards: ObjectNamespace,
    retention: u32,
}

impl OtpStore {
    /// The store over the `OTP_KV` and `OTP_GUARD` bindings; finished records stay
    /// readable for `retention` seconds.
    pub(crate) fn new(env: &Env, retention: u32) -> ApiResult<Self> {
        let missing = |what: &str| {
            worker::console_error!("configuration: binding {what} is missing");
            ApiError::misconfigured()
        };
        Ok(OtpStore {
            kv: env.kv(OTP_KV).map_err(|_| missing(OTP_KV))?,
            guards: env.durable_object(BINDING).map_err(|_| missing(BINDING))?,
            retention,
        })
    }

    /// The record, if it exists for this application. Malformed ids are never looked up.
    pub(crate) async fn get(&self, app_id: &str, otp_id: &str) -> ApiResult<Option<OtpRecord>> {
        if !otp_core::id::is_uuid(otp_id) {
            return Ok(None);
        }
        Ok(crate::json::kv_get(&self.kv, &record_key(app_id, otp_id)).await?)
    }

    /// Stores a new record.
    pub(crate) async fn create(
        &self,
        app_id: &str,
        record: &OtpRecord,
        now: UnixSeconds,
    ) -> ApiResult<()> {
        let request = GuardRequest::Create {
            app_id: app_id.to_owned(),
            record: record.clone(),
            retention: self.retention,
            now,
        };
        match self.call(app_id, &record.otp_id, &request).await? {
            GuardReply::Ok => Ok(()),
            _ => Err(ApiError::storage_unavailable()),
        }
    }

    /// Removes a record whose SMS could not be sent.
    pub(crate) async fn discard(&self, app_id: &str, otp_id: &str) -> ApiResult<()> {
        self.call(app_id, otp_id, &GuardRequest::Discard)
            .await
            .map(|_| ())
    }

    /// Runs `command` on one record, serialised with every other change to it;
    /// `None` when there is no such record.
    pub(crate) async fn apply(
        &self,
        app_id: &str,
        otp_id: &str,
        command: Command,
        now: UnixSeconds,
    ) -> ApiResult<Option<Applied>> {
        if !otp_core::id::is_uuid(otp_id) {
            return Ok(None);
        }
        match self
            .call(app_id, otp_id, &GuardRequest::Apply { command, now })
            .await?
        {
            GuardReply::Applied {
                record,
                error,
                status_changed,
            } => {
                let result = match error {
                    None => Ok(()),
                    Some(code) => {
                        Err(otp_core::Error::from_code(code).ok_or_else(ApiError::internal)?)
                    }
                };
                Ok(Some(Applied {
                    record,
                    result,
                    status_changed,
                }))
            }
            GuardReply::NotFound => Ok(None),
            GuardReply::Ok => Err(ApiError::internal()),
        }
    }

    async fn call(
        &self,
        app_id: &str,
        otp_id: &str,
        request: &GuardRequest,
    ) -> ApiResult<GuardReply> {
        crate::durable::call(
            &self.guards,
            &format!("{app_id}:{otp_id}"),
            &format!("otp {otp_id}"),
            request,
        )
        .await
    }
}
