//! The KV copies of OTP records, where `GET /otp/{id}` reads them: written by the
//! records' shard objects once a record may be read ([`super::shard`], "The KV
//! copy"), under `otp:{appId}:{otpId}` (one application can never read another's),
//! kept for the OTP's remaining life plus the retention window. Eventually
//! consistent: the shard's storage is the truth.

use otp_core::otp::OtpRecord;
use otp_core::time::UnixSeconds;
use worker::kv::{KvError, KvStore};

/// The KV key of a record's copy.
pub(crate) fn copy_key(app_id: &str, otp_id: &str) -> String {
    format!("otp:{app_id}:{otp_id}")
}

/// Writes the copy of `record` with an expiry of its remaining life plus `retention`.
pub(crate) async fn put_copy(
    kv: &KvStore,
    app_id: &str,
    record: &OtpRecord,
    now: UnixSeconds,
    retention: u32,
) -> Result<(), KvError> {
    let json = serde_json::to_string(record).map_err(KvError::from)?;
    kv.put(&copy_key(app_id, &record.otp_id), json)?
        .expiration_ttl(u64::from(record.storage_ttl(now, retention)))
        .execute()
        .await
}

/// The copy of a record, if KV has one.
pub(crate) async fn get_copy(
    kv: &KvStore,
    app_id: &str,
    otp_id: &str,
) -> Result<Option<OtpRecord>, KvError> {
    crate::json::kv_get(kv, &copy_key(app_id, otp_id)).await
}
