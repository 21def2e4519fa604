//! The verification state machine. An [`OtpRecord`] is what a store keeps; only
//! PENDING moves: to VERIFIED (right PIN), FAILED (the last wrong PIN) or
//! CANCELLED (cancel). EXPIRED is never stored: [`OtpRecord::status_at`] derives it
//! from `now`, so a stored record needs no rewrite to expire.
//!
//! **Every verification counts the attempt before it compares the PIN.** A store
//! that serialises calls per record (a Durable Object) makes the count exact.

use crate::error::{Error, Result};
use crate::id::{new_uuid_v4, new_uuid_v4_in_shard};
use crate::phone::PhoneNumber;
use crate::pin::generate_pin;
use crate::rng::RandomSource;
use crate::secret::SecretKeys;
use crate::settings::{resolve, OtpRequest, OtpSettings, ResolvedOtp};
use crate::sms::{count_parts, SmsEncoding};
use crate::template::{render, TemplateVars};
use crate::time::{format_utc, UnixSeconds};
use serde::{Deserialize, Serialize};

/// Where an OTP stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OtpStatus {
    /// Sent, waiting for the right PIN; the only status that moves.
    Pending,
    /// The right PIN arrived in time.
    Verified,
    /// Every attempt was used on wrong PINs.
    Failed,
    /// The TTL passed (derived from `now`, never stored).
    Expired,
    /// The client cancelled it.
    Cancelled,
}

impl OtpStatus {
    /// Whether the status can never change again.
    pub const fn is_final(self) -> bool {
        !matches!(self, OtpStatus::Pending)
    }

    /// The wire name (`PENDING`, `VERIFIED`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            OtpStatus::Pending => "PENDING",
            OtpStatus::Verified => "VERIFIED",
            OtpStatus::Failed => "FAILED",
            OtpStatus::Expired => "EXPIRED",
            OtpStatus::Cancelled => "CANCELLED",
        }
    }
}

/// The stored state of one OTP. Holds the PIN's HMAC digest, never the PIN, and
/// the phone number masked, never in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpRecord {
    /// UUID v4.
    pub otp_id: String,
    /// The client's own id, if it sent one.
    pub track_id: Option<String>,
    /// The destination, masked (`+3361242****`: the last four digits hidden).
    pub phone_masked: String,
    /// Country of the destination.
    pub country_iso: String,
    /// Stored status; never [`OtpStatus::Expired`].
    pub status: OtpStatus,
    /// What sending cost.
    pub cost: f64,
    /// SMS parts sent.
    pub parts: u32,
    /// Attempts allowed.
    pub max_attempts: u8,
    /// Verification attempts made so far, the right one included.
    pub attempts: u8,
    /// Life in seconds.
    pub ttl: u32,
    /// Where status changes are POSTed.
    pub otp_callback_url: Option<String>,
    /// When it was created.
    pub created_at: UnixSeconds,
    /// When it expires (`created_at + ttl`).
    pub expires_at: UnixSeconds,
    /// When the status last changed (for callbacks and ordering).
    pub updated_at: UnixSeconds,
    /// `HMAC-SHA256(server key, otpId || pin)`, lowercase hex.
    pub pin_digest: String,
}

/// The SMS that carries a new PIN, for the caller to hand to a gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsMessage {
    /// Destination in E.164.
    pub to: String,
    /// Sender id.
    pub from: String,
    /// The rendered text (holds the PIN: never log or store it).
    pub text: String,
    /// Language of the text.
    pub language: String,
    /// GSM-7 or UCS-2.
    pub encoding: SmsEncoding,
    /// Septets or UTF-16 units.
    pub units: u32,
    /// SMS parts.
    pub parts: u32,
}

/// What [`plan_otp`] decided: a record to store and a message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOtp {
    /// Store this (after the SMS was accepted by the gateway).
    pub record: OtpRecord,
    /// Send this.
    pub message: SmsMessage,
    /// The parsed destination, for the create reply and lookups.
    pub phone: PhoneNumber,
    /// The settings as resolved.
    pub resolved: ResolvedOtp,
}

/// Turns an application's settings and a create request into a new record and the
/// SMS to send. Draws the id and the PIN from `rng`; digests the PIN with `keys`.
pub fn plan_otp(
    app: &OtpSettings,
    request: &OtpRequest,
    now: UnixSeconds,
    rng: &mut dyn RandomSource,
    keys: &SecretKeys,
) -> Result<PlannedOtp> {
    plan(app, request, now, rng, keys, None)
}

/// [`plan_otp`] for a store sharded by phone number: the new id names the shard
/// that `shard_of` gives for the destination (`crate::id::new_uuid_v4_in_shard`),
/// so the record can be found from its id alone.
pub fn plan_sharded_otp(
    app: &OtpSettings,
    request: &OtpRequest,
    now: UnixSeconds,
    rng: &mut dyn RandomSource,
    keys: &SecretKeys,
    shard_of: &dyn Fn(&PhoneNumber) -> u8,
) -> Result<PlannedOtp> {
    plan(app, request, now, rng, keys, Some(shard_of))
}

fn plan(
    app: &OtpSettings,
    request: &OtpRequest,
    now: UnixSeconds,
    rng: &mut dyn RandomSource,
    keys: &SecretKeys,
    shard_of: Option<&dyn Fn(&PhoneNumber) -> u8>,
) -> Result<PlannedOtp> {
    let (resolved, drawn) = plan_parts(app, request, now, rng, keys, shard_of)?;
    let record = OtpRecord {
        pin_digest: drawn.pin_digest,
        otp_id: drawn.otp_id,
        track_id: resolved.track_id.clone(),
        phone_masked: resolved.phone.masked(),
        country_iso: resolved.phone.country_iso().to_owned(),
        status: OtpStatus::Pending,
        cost: drawn.cost,
        parts: drawn.sms.parts,
        max_attempts: resolved.max_attempts,
        attempts: 0,
        ttl: resolved.ttl,
        otp_callback_url: resolved.callback_url.clone(),
        created_at: now,
        expires_at: drawn.expires_at,
        updated_at: now,
    };
    let message = SmsMessage {
        to: resolved.phone.e164().to_owned(),
        from: resolved.originator.clone(),
        text: drawn.text,
        language: resolved.language.clone(),
        encoding: drawn.sms.encoding,
        units: drawn.sms.units,
        parts: drawn.sms.parts,
    };
    Ok(PlannedOtp {
        record,
        message,
        phone: resolved.phone.clone(),
        resolved,
    })
}

/// What [`plan_otp`] draws and computes once the settings are resolved. The npm
/// bindings write a planned OTP from this and the [`ResolvedOtp`] directly, without
/// the copies a [`PlannedOtp`] holds.
pub(crate) struct DrawnOtp {
    /// The new OTP's id.
    pub(crate) otp_id: String,
    /// The rendered SMS text (holds the PIN).
    pub(crate) text: String,
    /// Encoding, units and parts of `text`.
    pub(crate) sms: crate::sms::SmsParts,
    /// The PIN's digest under the current key.
    pub(crate) pin_digest: String,
    /// What sending costs.
    pub(crate) cost: f64,
    /// `now + ttl`.
    pub(crate) expires_at: UnixSeconds,
}

/// [`plan_otp`]'s work before it assembles the record and the message.
pub(crate) fn plan_parts(
    app: &OtpSettings,
    request: &OtpRequest,
    now: UnixSeconds,
    rng: &mut dyn RandomSource,
    keys: &SecretKeys,
    shard_of: Option<&dyn Fn(&PhoneNumber) -> u8>,
) -> Result<(ResolvedOtp, DrawnOtp)> {
    let resolved = resolve(app, request)?;
    // Nothing is planned for a number the plan does not have or the app does not send to.
    crate::recipient::check_recipient(&resolved.phone, app)?;
    let otp_id = match shard_of {
        Some(shard_of) => new_uuid_v4_in_shard(rng, shard_of(&resolved.phone)),
        None => new_uuid_v4(rng),
    };
    let generated;
    let pin = match &resolved.custom_pin {
        Some(pin) => pin,
        None => {
            generated = generate_pin(rng, resolved.pin_type, resolved.pin_length)?;
            &generated
        }
    };
    let text = render(
        &resolved.template,
        &TemplateVars {
            pin,
            ttl_seconds: resolved.ttl,
            brand: &resolved.brand,
            webotp_domain: resolved.webotp_domain.as_deref(),
        },
    );
    let sms = count_parts(&text);
    let drawn = DrawnOtp {
        pin_digest: keys.pin_digest(&otp_id, pin),
        otp_id,
        cost: app.prices.cost(resolved.phone.country_iso(), sms.parts),
        expires_at: now + i64::from(resolved.ttl),
        text,
        sms,
    };
    Ok((resolved, drawn))
}

/// What one verification did, for the caller to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// `Ok` when the PIN was right; otherwise the SMS.CX error (2022-2029).
    pub result: Result<()>,
    /// The record changed and must be stored.
    pub record_changed: bool,
    /// The status changed: fire the status callback.
    pub status_changed: bool,
}

/// A change to one stored OTP: what a store runs, one at a time per record, with
/// [`OtpRecord::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Command {
    /// Check a PIN (the attempt is counted first).
    Verify {
        /// What the user typed; `None` when the request had no PIN.
        pin: Option<String>,
    },
    /// Cancel a pending OTP.
    Cancel,
    /// Give a pending OTP a fresh code (Dexatel's `resend_same`): replaces its PIN
    /// digest, keeping its id, expiry, attempts and status.
    Rekey {
        /// `HMAC(server key, otpId || new PIN)` for the record's own id.
        pin_digest: String,
    },
}

/// Normalises what a user typed: surrounding spaces dropped, letters uppercased
/// (PIN alphabets are uppercase, and users type lowercase on phones).
pub fn normalize_pin(pin: &str) -> String {
    pin.trim().to_ascii_uppercase()
}

impl OtpRecord {
    /// The status at `now`: a PENDING record at or after `expires_at` is EXPIRED.
    pub fn status_at(&self, now: UnixSeconds) -> OtpStatus {
        if self.status == OtpStatus::Pending && now >= self.expires_at {
            OtpStatus::Expired
        } else {
            self.status
        }
    }

    /// Wrong PINs so far (SMS.CX's `attempts`).
    pub fn failed_attempts(&self) -> u8 {
        self.attempts - u8::from(self.status == OtpStatus::Verified)
    }

    /// Attempts still allowed at `now` (0 once the OTP is final).
    pub fn attempts_left(&self, now: UnixSeconds) -> u8 {
        if self.status_at(now).is_final() {
            0
        } else {
            self.max_attempts.saturating_sub(self.attempts)
        }
    }

    /// When the status became final, if it is (expiry included).
    pub fn ended_at(&self, now: UnixSeconds) -> Option<UnixSeconds> {
        match self.status_at(now) {
            OtpStatus::Pending => None,
            OtpStatus::Expired => Some(self.expires_at),
            _ => Some(self.updated_at),
        }
    }

    /// Checks `pin` at `now`. The attempt is counted before the comparison; the
    /// comparison is constant-time over every key in `keys`. A missing PIN is bad
    /// input and changes nothing.
    pub fn verify(
        &mut self,
        pin: Option<&str>,
        keys: &SecretKeys,
        now: UnixSeconds,
    ) -> Verification {
        let unchanged = |e| Verification {
            result: Err(e),
            record_changed: false,
            status_changed: false,
        };
        let pin = match pin.map(normalize_pin) {
            Some(p) if !p.is_empty() => p,
            _ => return unchanged(Error::PinMissing),
        };
        match self.status_at(now) {
            OtpStatus::Verified => return unchanged(Error::OtpAlreadyVerified),
            OtpStatus::Cancelled => return unchanged(Error::OtpCancelled),
            OtpStatus::Failed => return unchanged(Error::OtpFailed),
            OtpStatus::Expired => return unchanged(Error::OtpExpired),
            OtpStatus::Pending => {}
        }
        // A PENDING record always has an attempt left (the last wrong one fails
        // it), so this never goes past max_attempts.
        self.attempts += 1;
        if keys.pin_matches(&self.otp_id, &pin, &self.pin_digest) {
            self.move_to(OtpStatus::Verified, now);
            return Verification {
                result: Ok(()),
                record_changed: true,
                status_changed: true,
            };
        }
        if self.attempts >= self.max_attempts {
            self.move_to(OtpStatus::Failed, now);
            return Verification {
                result: Err(Error::OtpFailedLastAttempt),
                record_changed: true,
                status_changed: true,
            };
        }
        Verification {
            result: Err(Error::InvalidPin),
            record_changed: true,
            status_changed: false,
        }
    }

    /// Runs `command` at `now`: the one entry point of every change to a stored record.
    pub fn apply(
        &mut self,
        command: &Command,
        keys: &SecretKeys,
        now: UnixSeconds,
    ) -> Verification {
        let done = |result: Result<()>, status_changed: bool| Verification {
            result,
            record_changed: result.is_ok(),
            status_changed: result.is_ok() && status_changed,
        };
        match command {
            Command::Verify { pin } => self.verify(pin.as_deref(), keys, now),
            Command::Cancel => done(self.cancel(now), true),
            Command::Rekey { pin_digest } => done(self.rekey(pin_digest.clone(), now), false),
        }
    }

    /// Re-sends a pending verification with a fresh code (`resend_same`): replaces
    /// the PIN digest with `pin_digest` (made for the record's own id) and keeps the
    /// id, expiry, attempts and status. Only a record pending at `now` can be
    /// re-sent; otherwise nothing changes and the error is the one a verification
    /// would get (expired, verified, cancelled, failed).
    pub fn rekey(&mut self, pin_digest: String, now: UnixSeconds) -> Result<()> {
        match self.status_at(now) {
            OtpStatus::Pending => {
                self.pin_digest = pin_digest;
                Ok(())
            }
            OtpStatus::Expired => Err(Error::OtpExpired),
            OtpStatus::Verified => Err(Error::OtpAlreadyVerified),
            OtpStatus::Cancelled => Err(Error::OtpCancelled),
            OtpStatus::Failed => Err(Error::OtpFailed),
        }
    }

    /// Cancels a pending OTP (SMS.CX `DELETE /otp/{id}`).
    pub fn cancel(&mut self, now: UnixSeconds) -> Result<()> {
        match self.status_at(now) {
            OtpStatus::Pending => {
                self.move_to(OtpStatus::Cancelled, now);
                Ok(())
            }
            OtpStatus::Cancelled => Err(Error::OtpAlreadyCancelled),
            _ => Err(Error::OtpNotPending),
        }
    }

    fn move_to(&mut self, status: OtpStatus, now: UnixSeconds) {
        self.status = status;
        self.updated_at = now;
    }

    /// How long a store should keep the record: its remaining life plus
    /// `retention` seconds (so finished OTPs can still be read), at least 60 s
    /// (Workers KV's minimum `expirationTtl`).
    pub fn storage_ttl(&self, now: UnixSeconds, retention: u32) -> u32 {
        let remaining = (self.expires_at - now).max(0);
        let total = remaining.saturating_add(i64::from(retention));
        total.clamp(60, i64::from(u32::MAX)) as u32
    }

    /// The SMS.CX OTP object (`DataOtp`) at `now`, showing `phone_number`
    /// (the full number where the caller has it, else [`OtpRecord::phone_masked`]).
    pub fn view(&self, now: UnixSeconds, phone_number: Option<&str>) -> OtpView {
        OtpView {
            otp_id: self.otp_id.clone(),
            track_id: self.track_id.clone(),
            phone_number: phone_number.unwrap_or(&self.phone_masked).to_owned(),
            country_iso: self.country_iso.clone(),
            status: self.status_at(now),
            cost: self.cost,
            parts: self.parts,
            max_attempts: self.max_attempts,
            attempts: self.failed_attempts(),
            ttl: self.ttl,
            otp_callback_url: self.otp_callback_url.clone(),
            date_created: format_utc(self.created_at),
            date_expires: format_utc(self.expires_at),
        }
    }
}

/// SMS.CX's OTP object as sent to clients and callbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpView {
    /// UUID of the OTP.
    pub otp_id: String,
    /// The client's own id.
    pub track_id: Option<String>,
    /// Destination.
    pub phone_number: String,
    /// Destination country.
    pub country_iso: String,
    /// Status at the time of the view.
    pub status: OtpStatus,
    /// Cost of sending.
    pub cost: f64,
    /// SMS parts.
    pub parts: u32,
    /// Attempts allowed.
    pub max_attempts: u8,
    /// Wrong PINs so far.
    pub attempts: u8,
    /// Life in seconds.
    pub ttl: u32,
    /// Callback URL.
    pub otp_callback_url: Option<String>,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    pub date_created: String,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    pub date_expires: String,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;

    const T0: UnixSeconds = 1_700_000_000;
    const ID: &str = "123e4567-e89b-42d3-a456-426614174000";
    const PIN: &str = "012345";

    fn keys() -> SecretKeys {
        SecretKeys::new(vec![b"test-key-test-key-test-key".to_vec()]).unwrap()
    }

    fn record(status: OtpStatus, attempts: u8, max_attempts: u8) -> OtpRecord {
        OtpRecord {
            otp_id: ID.into(),
            track_id: None,
            phone_masked: "+33*******111".into(),
            country_iso: "FR".into(),
            status,
            cost: 0.05,
            parts: 1,
            max_attempts,
            attempts,
            ttl: 300,
            otp_callback_url: None,
            created_at: T0,
            expires_at: T0 + 300,
            updated_at: T0,
            pin_digest: keys().pin_digest(ID, PIN),
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Input {
        NoPin,
        RightPin,
        WrongPin,
        Cancel,
    }

    /// Every (stored status, expired?, attempts used, input) → (reply, new status,
    /// attempts after). The whole table, written out by hand.
    #[test]
    fn every_status_and_input_pair_has_the_specified_outcome() {
        use Input::*;
        use OtpStatus::*;
        // (status, expired, attempts before, input, expected result, status after, attempts after)
        type Case = (OtpStatus, bool, u8, Input, Result<()>, OtpStatus, u8);
        let table: &[Case] = &[
            (Pending, false, 0, NoPin, Err(Error::PinMissing), Pending, 0),
            (Pending, false, 0, RightPin, Ok(()), Verified, 1),
            (
                Pending,
                false,
                0,
                WrongPin,
                Err(Error::InvalidPin),
                Pending,
                1,
            ),
            (
                Pending,
                false,
                1,
                WrongPin,
                Err(Error::InvalidPin),
                Pending,
                2,
            ),
            (
                Pending,
                false,
                2,
                WrongPin,
                Err(Error::OtpFailedLastAttempt),
                Failed,
                3,
            ),
            (Pending, false, 2, RightPin, Ok(()), Verified, 3),
            (Pending, false, 1, Cancel, Ok(()), Cancelled, 1),
            (Pending, true, 0, NoPin, Err(Error::PinMissing), Expired, 0),
            (
                Pending,
                true,
                0,
                RightPin,
                Err(Error::OtpExpired),
                Expired,
                0,
            ),
            (
                Pending,
                true,
                1,
                WrongPin,
                Err(Error::OtpExpired),
                Expired,
                1,
            ),
            (
                Pending,
                true,
                0,
                Cancel,
                Err(Error::OtpNotPending),
                Expired,
                0,
            ),
            (
                Verified,
                false,
                1,
                NoPin,
                Err(Error::PinMissing),
                Verified,
                1,
            ),
            (
                Verified,
                false,
                1,
                RightPin,
                Err(Error::OtpAlreadyVerified),
                Verified,
                1,
            ),
            (
                Verified,
                false,
                1,
                WrongPin,
                Err(Error::OtpAlreadyVerified),
                Verified,
                1,
            ),
            (
                Verified,
                false,
                1,
                Cancel,
                Err(Error::OtpNotPending),
                Verified,
                1,
            ),
            (
                Verified,
                true,
                1,
                RightPin,
                Err(Error::OtpAlreadyVerified),
                Verified,
                1,
            ),
            (
                Verified,
                true,
                1,
                Cancel,
                Err(Error::OtpNotPending),
                Verified,
                1,
            ),
            (Failed, false, 3, NoPin, Err(Error::PinMissing), Failed, 3),
            (Failed, false, 3, RightPin, Err(Error::OtpFailed), Failed, 3),
            (Failed, false, 3, WrongPin, Err(Error::OtpFailed), Failed, 3),
            (
                Failed,
                false,
                3,
                Cancel,
                Err(Error::OtpNotPending),
                Failed,
                3,
            ),
            (Failed, true, 3, RightPin, Err(Error::OtpFailed), Failed, 3),
            (
                Cancelled,
                false,
                0,
                NoPin,
                Err(Error::PinMissing),
                Cancelled,
                0,
            ),
            (
                Cancelled,
                false,
                0,
                RightPin,
                Err(Error::OtpCancelled),
                Cancelled,
                0,
            ),
            (
                Cancelled,
                false,
                0,
                WrongPin,
                Err(Error::OtpCancelled),
                Cancelled,
                0,
            ),
            (
                Cancelled,
                false,
                0,
                Cancel,
                Err(Error::OtpAlreadyCancelled),
                Cancelled,
                0,
            ),
            (
                Cancelled,
                true,
                0,
                RightPin,
                Err(Error::OtpCancelled),
                Cancelled,
                0,
            ),
            (
                Cancelled,
                true,
                0,
                Cancel,
                Err(Error::OtpAlreadyCancelled),
                Cancelled,
                0,
            ),
        ];
        let keys = keys();
        for &(status, expired, before, input, ref expected, after, attempts_after) in table {
            let mut r = record(status, before, 3);
            let now = if expired { T0 + 300 } else { T0 + 299 };
            let original = r.clone();
            let result = match input {
                NoPin => r.verify(None, &keys, now).result,
                RightPin => r.verify(Some(PIN), &keys, now).result,
                WrongPin => r.verify(Some("999999"), &keys, now).result,
                Cancel => r.cancel(now),
            };
            let case = format!("{status:?} expired={expired} attempts={before} {input:?}");
            assert_eq!(&result, expected, "{case}");
            assert_eq!(r.status_at(now), after, "{case}");
            assert_eq!(r.attempts, attempts_after, "{case}");
            if result.is_err()
                && !matches!(
                    (input, expected),
                    (
                        WrongPin,
                        Err(Error::InvalidPin | Error::OtpFailedLastAttempt)
                    )
                )
            {
                assert_eq!(r, original, "a refused call changed the record: {case}");
            }
        }
    }

    #[test]
    fn expiry_is_derived_from_now_at_exactly_expires_at() {
        let r = record(OtpStatus::Pending, 0, 3);
        assert_eq!(r.status_at(T0 + 299), OtpStatus::Pending);
        assert_eq!(r.status_at(T0 + 300), OtpStatus::Expired);
        assert_eq!(
            r.status,
            OtpStatus::Pending,
            "expiry never rewrites the record"
        );
        assert_eq!(r.ended_at(T0 + 1000), Some(T0 + 300));
    }

    #[test]
    fn verification_reports_what_to_store_and_when_to_call_back() {
        let keys = keys();
        let mut r = record(OtpStatus::Pending, 0, 2);
        let v = r.verify(Some("000000"), &keys, T0);
        assert_eq!((v.record_changed, v.status_changed), (true, false));
        let v = r.verify(Some(""), &keys, T0);
        assert_eq!(
            (v.result, v.record_changed),
            (Err(Error::PinMissing), false)
        );
        let v = r.verify(Some(" 012345 "), &keys, T0 + 10);
        assert_eq!(
            (v.result, v.record_changed, v.status_changed),
            (Ok(()), true, true)
        );
        assert_eq!(r.updated_at, T0 + 10);
        assert_eq!(
            r.failed_attempts(),
            1,
            "the right PIN is not a failed attempt"
        );
    }

    #[test]
    fn letter_pins_are_compared_case_insensitively() {
        let keys = keys();
        let mut r = record(OtpStatus::Pending, 0, 3);
        r.pin_digest = keys.pin_digest(ID, "GRNXQ");
        assert_eq!(r.verify(Some("grnxq"), &keys, T0).result, Ok(()));
    }

    #[test]
    fn storage_ttl_is_remaining_life_plus_retention_and_never_below_sixty() {
        let r = record(OtpStatus::Pending, 0, 3);
        assert_eq!(r.storage_ttl(T0, 86_400), 300 + 86_400);
        assert_eq!(r.storage_ttl(T0 + 1000, 86_400), 86_400);
        assert_eq!(r.storage_ttl(T0 + 1000, 0), 60);
    }

    #[test]
    fn view_renders_smscx_dates_and_failed_attempts() {
        let mut r = record(OtpStatus::Pending, 0, 3);
        r.verify(Some("1"), &keys(), T0);
        let v = r.view(T0 + 5, None);
        assert_eq!(v.date_created, "2023-11-14 22:13:20");
        assert_eq!(v.date_expires, "2023-11-14 22:18:20");
        assert_eq!(v.attempts, 1);
        assert_eq!(v.phone_number, "+33*******111");
        assert_eq!(
            r.view(T0, Some("+33612424111")).phone_number,
            "+33612424111"
        );
        assert_eq!(r.view(T0 + 300, None).status, OtpStatus::Expired);
    }

    fn plan(json: &str, app: &OtpSettings) -> Result<PlannedOtp> {
        let mut request: OtpRequest = serde_json::from_str(json).unwrap();
        request.custom_pin = Some(PIN.into());
        plan_otp(app, &request, T0, &mut SeededRandom::new(5), &keys())
    }

    #[test]
    fn planned_otp_holds_a_digest_and_masked_phone_and_verifies_with_its_pin() {
        let mut app = OtpSettings::default();
        app.prices.default = 0.05;
        let planned = plan(r#"{"phoneNumber": "+33612424111", "ttl": 120}"#, &app).unwrap();
        let stored = serde_json::to_string(&planned.record).unwrap();
        assert!(
            !stored.contains(PIN),
            "the PIN reached the record: {stored}"
        );
        assert!(
            !stored.contains("612424111"),
            "the full phone reached the record: {stored}"
        );
        assert!(planned.message.text.contains(PIN));
        assert_eq!(planned.message.to, "+33612424111");
        assert_eq!(planned.record.expires_at, T0 + 120);
        assert_eq!(planned.record.country_iso, "FR");
        assert_eq!(planned.record.cost, 0.05 * f64::from(planned.record.parts));
        assert!(crate::id::is_uuid(&planned.record.otp_id));
        let mut record = planned.record;
        assert_eq!(record.verify(Some(PIN), &keys(), T0 + 1).result, Ok(()));
    }

    #[test]
    fn generated_pins_follow_the_resolved_type_and_length() {
        let request: OtpRequest = serde_json::from_str(r#"{"phoneNumber": "+4915112345678", "pinType": "letters", "pinLength": 7, "template": "{{pin}}"}"#).unwrap();
        let planned = plan_otp(
            &OtpSettings::default(),
            &request,
            T0,
            &mut SeededRandom::new(1),
            &keys(),
        )
        .unwrap();
        assert_eq!(planned.message.text.len(), 7);
        assert!(planned.message.text.bytes().all(|b| b.is_ascii_uppercase()));
        let mut record = planned.record;
        let pin = planned.message.text.clone();
        assert_eq!(record.verify(Some(&pin), &keys(), T0).result, Ok(()));
    }

    #[test]
    fn cost_and_parts_come_from_the_rendered_text_and_the_price_table() {
        let mut app = OtpSettings::default();
        app.prices.default = 0.01;
        app.prices.countries.insert("DE".into(), 0.1);
        // 70+ UCS-2 units: two parts.
        let long = format!("{{{{pin}}}} {}", "ж".repeat(80));
        let json = format!(r#"{{"phoneNumber": "+4915112345678", "template": "{long}"}}"#);
        let planned = plan(&json, &app).unwrap();
        assert_eq!(planned.message.encoding, SmsEncoding::Ucs2);
        assert_eq!(planned.message.parts, 2);
        assert_eq!(planned.record.cost, 0.2);
    }

    #[test]
    fn the_language_template_is_chosen_by_phone_prefix() {
        let app: OtpSettings = serde_json::from_str(
            r#"{"brand": "Acme", "languageTemplates": [{"language": "fr", "prefixes": ["33"], "template": "Votre code {{pin}}"}]}"#,
        )
        .unwrap();
        let fr = plan(r#"{"phoneNumber": "+33612424111"}"#, &app).unwrap();
        assert_eq!(fr.message.text, "Votre code 012345");
        assert_eq!(fr.message.language, "fr");
        let de = plan(r#"{"phoneNumber": "+4915112345678"}"#, &app).unwrap();
        assert_eq!(de.message.language, "de");
        assert!(de.message.text.contains("Acme") && de.message.text.contains(PIN));
    }

    #[test]
    fn webotp_line_ends_the_message_when_a_domain_is_set() {
        let app = OtpSettings {
            webotp_domain: Some("example.com".into()),
            ..OtpSettings::default()
        };
        let planned = plan(r#"{"phoneNumber": "+33612424111"}"#, &app).unwrap();
        assert!(
            planned.message.text.ends_with("\n\n@example.com #012345"),
            "{}",
            planned.message.text
        );
    }

    /// Property: under any sequence of verifications, cancels and clock moves,
    /// a final status never changes, attempts never exceed maxAttempts, a refused
    /// call on a final record changes nothing, and VERIFIED needs the right PIN.
    #[test]
    fn no_sequence_of_calls_leaves_a_final_status_or_exceeds_max_attempts() {
        let keys = keys();
        let mut rng = SeededRandom::new(2024);
        for _ in 0..5_000 {
            let max = 1 + (rng.next_u64() % 10) as u8;
            let mut r = record(OtpStatus::Pending, 0, max);
            let mut now = T0;
            let mut final_status: Option<OtpStatus> = None;
            for _ in 0..(rng.next_u64() % 25) {
                now += (rng.next_u64() % 40) as i64;
                let before = r.clone();
                let right = rng.next_u64() % 6 == 0;
                match rng.next_u64() % 10 {
                    0 => {
                        let _ = r.cancel(now);
                    }
                    1 => {
                        let _ = r.verify(None, &keys, now);
                    }
                    _ => {
                        let v = r.verify(Some(if right { PIN } else { "99999" }), &keys, now);
                        if v.result.is_ok() {
                            assert!(right);
                        }
                        assert_eq!(v.record_changed, r != before);
                    }
                }
                assert!(r.attempts <= r.max_attempts, "{r:?}");
                let status = r.status_at(now);
                if let Some(f) = final_status {
                    assert_eq!(status, f, "a final status moved");
                    assert_eq!(r, before, "a final record changed");
                }
                if status.is_final() {
                    final_status = Some(status);
                }
            }
        }
    }
}
