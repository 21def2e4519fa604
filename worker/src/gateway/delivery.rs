//! Whether an SMS reached its phone: what is kept with its OTP ([`Delivery`]),
//! what a provider's delivery receipt says ([`DeliveryReport`]), and the one rule
//! that merges the two ([`Delivery::apply`]). Pure, tested natively; the record
//! shards keep a [`Delivery`] beside each OTP record, never in the OTP object
//! (SMS.CX's object has no such field and must not get one).

use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};

/// Where an SMS is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeliveryStatus {
    /// The provider took the message; no final receipt yet.
    Pending,
    /// The provider may or may not have taken it (no reply before the deadline, a
    /// 500/502/504, a connection lost, an unreadable reply): it is never sent
    /// again, and a later receipt settles it.
    Unknown,
    /// It reached the handset.
    Delivered,
    /// The provider sent it on, but it did not reach the handset (expired,
    /// refused by the carrier or the phone).
    Undelivered,
    /// The provider did not send it on (rejected, invalid or blocked number).
    Failed,
}

impl DeliveryStatus {
    /// Whether a receipt with this status ends the SMS's story.
    pub(crate) fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Delivered | DeliveryStatus::Undelivered | DeliveryStatus::Failed
        )
    }

    /// The stored and logged name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Unknown => "unknown",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Undelivered => "undelivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// The delivery of an OTP's SMS, kept beside its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delivery {
    /// The gateway type that took the message (`twilio`, `plivo`, …).
    pub(crate) provider: String,
    /// The named credentials it was sent with (`TWILIO_AUTH_TOKEN_<NAME>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credentials: Option<String>,
    /// The provider's id of the message (Twilio's SID, Vonage's message-id, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message_id: Option<String>,
    pub(crate) status: DeliveryStatus,
    /// The provider's error code of a failed or undelivered message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<String>,
    /// When the status was last set.
    pub(crate) at: UnixSeconds,
}

/// What one delivery receipt says of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryReport {
    /// The provider's message id (always given by providers; optional in the
    /// `webhook` gateway's receipts, which name the otpId and are signed).
    pub(crate) message_id: Option<String>,
    /// The final status, or `None` for an intermediate one (queued, sent,
    /// accepted, buffered, …), which settles nothing.
    pub(crate) status: Option<DeliveryStatus>,
    /// The provider's error code, when it gave one other than "no error".
    pub(crate) error_code: Option<String>,
    /// The otpId the provider echoed back (a client reference), if any.
    pub(crate) otp_id: Option<String>,
}

/// What a receipt did to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ReportOutcome {
    /// A new final status was stored.
    Recorded,
    /// Nothing changed: a replay, an intermediate status, or a status that does
    /// not override the stored one.
    Unchanged,
    /// The receipt is for another message or provider than the OTP's.
    Mismatch,
}

impl Delivery {
    /// The delivery of a message just handed to `provider`.
    pub(crate) fn sent(
        provider: &str,
        credentials: Option<String>,
        message_id: Option<String>,
        status: DeliveryStatus,
        at: UnixSeconds,
    ) -> Delivery {
        Delivery {
            provider: provider.to_owned(),
            credentials,
            message_id,
            status,
            error_code: None,
            at,
        }
    }

    /// Merges a receipt from `provider`. The rule: a receipt must name this
    /// delivery's provider and, once known, its message id (else [`ReportOutcome::Mismatch`],
    /// and nothing changes); an intermediate status settles nothing; `delivered`
    /// is final for good; a first `undelivered` or `failed` is kept against later
    /// failures and gives way only to `delivered` (a carrier's retry that
    /// succeeded). So a replayed receipt never changes anything.
    pub(crate) fn apply(
        &mut self,
        provider: &str,
        report: &DeliveryReport,
        now: UnixSeconds,
    ) -> ReportOutcome {
        if self.provider != provider {
            return ReportOutcome::Mismatch;
        }
        match (&self.message_id, &report.message_id) {
            (Some(id), Some(reported)) if id != reported => return ReportOutcome::Mismatch,
            // A timeout or an unreadable reply left the id unknown: the receipt,
            // authenticated and for this OTP, tells it.
            (None, Some(reported)) => self.message_id = Some(reported.clone()),
            _ => {}
        }
        let Some(status) = report.status.filter(|s| s.is_final()) else {
            return ReportOutcome::Unchanged;
        };
        let overrides = match self.status {
            DeliveryStatus::Pending | DeliveryStatus::Unknown => true,
            DeliveryStatus::Delivered => false,
            DeliveryStatus::Undelivered | DeliveryStatus::Failed => {
                status == DeliveryStatus::Delivered
            }
        };
        if !overrides {
            return ReportOutcome::Unchanged;
        }
        self.status = status;
        self.error_code = if status == DeliveryStatus::Delivered {
            None
        } else {
            report.error_code.clone()
        };
        self.at = now;
        ReportOutcome::Recorded
    }

    /// Merges what the send recorded (`sent`, written after the API's reply) into
    /// a delivery a receipt may already have made known: the receipt's status
    /// stays, the send fills in what the receipt could not know.
    pub(crate) fn merge_sent(existing: Option<Delivery>, sent: Delivery) -> Delivery {
        match existing {
            Some(mut known) if known.provider == sent.provider => {
                known.credentials = known.credentials.or(sent.credentials);
                known.message_id = known.message_id.or(sent.message_id);
                if !known.status.is_final() {
                    known.status = sent.status;
                }
                known
            }
            _ => sent,
        }
    }
}

/// Applies a receipt from `provider` to the delivery kept with an OTP, which a
/// receipt may reach before the send's own record of it (written after the API's
/// reply): then the receipt starts it.
pub(crate) fn receive(
    kept: &mut Option<Delivery>,
    provider: &str,
    report: &DeliveryReport,
    now: UnixSeconds,
) -> ReportOutcome {
    match kept {
        Some(delivery) => delivery.apply(provider, report, now),
        None => {
            let mut delivery = Delivery::sent(provider, None, None, DeliveryStatus::Pending, now);
            let outcome = delivery.apply(provider, report, now);
            *kept = Some(delivery);
            outcome
        }
    }
}

/// The key under which the OTP of a message is found when its receipts do not
/// name the OTP (Dexatel's): `{provider}:{message_id}`.
pub(crate) fn index_key(provider: &str, message_id: &str) -> String {
    format!("{provider}:{message_id}")
}

/// The shard (of the application's record shards) that keeps the index entry of
/// `key`: the first hex digit of its SHA-256, like a number's.
pub(crate) fn index_shard(key: &str) -> u8 {
    use sha2::{Digest, Sha256};
    let hash = otp_core::secret::to_hex(&Sha256::digest(key.as_bytes()));
    otp_core::number::shard_of_hash(&hash)
}

/// A provider's message id as we keep it: short and printable, else `None` (it
/// goes into logs and storage keys).
pub(crate) fn clean_id(id: &str) -> Option<String> {
    let id = id.trim();
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    ok.then(|| id.to_owned())
}

/// A provider's error code as we keep it: "no error" codes (empty, `0`, `000`)
/// are none; anything not short and printable is left out.
pub(crate) fn clean_error_code(code: &str) -> Option<String> {
    let code = code.trim();
    if code.is_empty() || code.bytes().all(|b| b == b'0') {
        return None;
    }
    clean_id(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, status: Option<DeliveryStatus>, code: Option<&str>) -> DeliveryReport {
        DeliveryReport {
            message_id: Some(id.into()),
            status,
            error_code: code.map(str::to_owned),
            otp_id: None,
        }
    }

    fn pending(id: Option<&str>) -> Delivery {
        Delivery::sent(
            "twilio",
            None,
            id.map(str::to_owned),
            DeliveryStatus::Pending,
            10,
        )
    }

    #[test]
    fn a_final_receipt_is_recorded_once_and_its_replay_changes_nothing() {
        let mut d = pending(Some("SM1"));
        let failed = report("SM1", Some(DeliveryStatus::Failed), Some("30003"));
        assert_eq!(d.apply("twilio", &failed, 20), ReportOutcome::Recorded);
        let after = d.clone();
        assert_eq!(d.status, DeliveryStatus::Failed);
        assert_eq!(d.error_code.as_deref(), Some("30003"));
        assert_eq!(d.apply("twilio", &failed, 30), ReportOutcome::Unchanged);
        assert_eq!(d, after, "a replay changes nothing, not even the time");
    }

    #[test]
    fn delivered_is_final_and_a_failure_gives_way_only_to_delivered() {
        let mut d = pending(Some("SM1"));
        let undelivered = report("SM1", Some(DeliveryStatus::Undelivered), Some("30005"));
        let failed = report("SM1", Some(DeliveryStatus::Failed), Some("30008"));
        let delivered = report("SM1", Some(DeliveryStatus::Delivered), None);
        assert_eq!(d.apply("twilio", &undelivered, 1), ReportOutcome::Recorded);
        assert_eq!(d.apply("twilio", &failed, 2), ReportOutcome::Unchanged);
        assert_eq!(d.error_code.as_deref(), Some("30005"));
        assert_eq!(d.apply("twilio", &delivered, 3), ReportOutcome::Recorded);
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert_eq!(d.error_code, None);
        assert_eq!(d.apply("twilio", &failed, 4), ReportOutcome::Unchanged);
        assert_eq!(d.status, DeliveryStatus::Delivered);
    }

    #[test]
    fn intermediate_statuses_settle_nothing() {
        let mut d = pending(Some("SM1"));
        assert_eq!(
            d.apply("twilio", &report("SM1", None, None), 5),
            ReportOutcome::Unchanged
        );
        assert_eq!(d.status, DeliveryStatus::Pending);
    }

    #[test]
    fn another_message_or_provider_is_a_mismatch_and_changes_nothing() {
        let mut d = pending(Some("SM1"));
        let before = d.clone();
        let other = report("SM2", Some(DeliveryStatus::Delivered), None);
        assert_eq!(d.apply("twilio", &other, 5), ReportOutcome::Mismatch);
        let right_id = report("SM1", Some(DeliveryStatus::Delivered), None);
        assert_eq!(d.apply("plivo", &right_id, 5), ReportOutcome::Mismatch);
        assert_eq!(d, before);
    }

    #[test]
    fn a_receipt_settles_an_unknown_delivery_and_tells_its_id() {
        let mut d = Delivery::sent("vonage", None, None, DeliveryStatus::Unknown, 1);
        let delivered = report("0A00", Some(DeliveryStatus::Delivered), None);
        assert_eq!(d.apply("vonage", &delivered, 9), ReportOutcome::Recorded);
        assert_eq!(d.message_id.as_deref(), Some("0A00"));
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert_eq!(d.at, 9);
    }

    #[test]
    fn the_send_record_fills_in_a_delivery_a_receipt_made_known_first() {
        let mut early = None;
        receive(
            &mut early,
            "plivo",
            &report("u-1", Some(DeliveryStatus::Delivered), None),
            5,
        );
        let sent = Delivery::sent(
            "plivo",
            Some("EU".into()),
            Some("u-1".into()),
            DeliveryStatus::Pending,
            4,
        );
        let merged = Delivery::merge_sent(early, sent.clone());
        assert_eq!(merged.status, DeliveryStatus::Delivered);
        assert_eq!(merged.credentials.as_deref(), Some("EU"));
        assert_eq!(Delivery::merge_sent(None, sent.clone()), sent);
    }

    #[test]
    fn stored_json_is_camel_case_with_lowercase_statuses() {
        let d = Delivery::sent(
            "twilio",
            Some("EU".into()),
            Some("SM1".into()),
            DeliveryStatus::Unknown,
            7,
        );
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"provider": "twilio", "credentials": "EU", "messageId": "SM1", "status": "unknown", "at": 7})
        );
    }

    #[test]
    fn a_receipt_before_the_send_record_starts_the_delivery() {
        let mut kept = None;
        let failed = report("m1", Some(DeliveryStatus::Failed), Some("9"));
        assert_eq!(
            receive(&mut kept, "plivo", &failed, 3),
            ReportOutcome::Recorded
        );
        assert_eq!(
            kept.as_ref().map(|d| d.status),
            Some(DeliveryStatus::Failed)
        );
        assert_eq!(
            receive(&mut kept, "plivo", &failed, 4),
            ReportOutcome::Unchanged
        );
        let mut empty = None;
        assert_eq!(
            receive(&mut empty, "plivo", &report("m1", None, None), 3),
            ReportOutcome::Unchanged
        );
        assert_eq!(empty.map(|d| d.message_id), Some(Some("m1".into())));
    }

    #[test]
    fn index_keys_spread_over_the_shards() {
        assert_eq!(index_key("dexatel", "m-1"), "dexatel:m-1");
        let shards: std::collections::HashSet<u8> = (0..200)
            .map(|i| index_shard(&index_key("dexatel", &format!("m-{i}"))))
            .collect();
        assert_eq!(shards.len(), usize::from(otp_core::id::SHARDS));
    }

    #[test]
    fn ids_and_codes_are_kept_only_when_short_and_printable() {
        assert_eq!(clean_id(" SM01ab "), Some("SM01ab".into()));
        assert_eq!(clean_id("a b"), None);
        assert_eq!(clean_id(&"x".repeat(65)), None);
        assert_eq!(clean_error_code("000"), None);
        assert_eq!(clean_error_code("0"), None);
        assert_eq!(clean_error_code(""), None);
        assert_eq!(clean_error_code("30003"), Some("30003".into()));
    }
}
