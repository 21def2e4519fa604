//! The fraud guard against SMS pumping (toll fraud), sans-IO: an attacker makes a
//! service send SMS to numbers in ranges that share revenue with them, and none of
//! those numbers ever verifies. The guard decides, **before anything is stored or
//! sent**, whether a send may go out, from counters of what earlier sends to the
//! same range and country became; every call takes `now` and nothing here reads a
//! clock, stores or sends.
//!
//! # State
//!
//! Two kinds of guarded keys, each with its own compact serde state that the caller
//! keeps where updates are serialised (one Durable Object per application):
//! - a **range** ([`RangeState`]): the destination number without its last
//!   [`FraudSettings::range_digits`] digits ([`range_of`]): with the default 4,
//!   `44740012` for `+447400123456`, a range of 10,000 numbers;
//! - a **country** ([`CountryState`]): the number's ISO country.
//!
//! A [`Destination`] names both keys for a phone number; the caller loads the two
//! states, calls the guard, and writes back what changed.
//!
//! # Call order
//!
//! 1. [`FraudSettings::admit`] before an SMS is sent: a [`Verdict`]. `Refused` means
//!    nothing is stored or sent (the [`Refusal`] gives the error and `Retry-After`);
//!    the others send. `Allowed` and `Shadowed` counted the send as **pending** and
//!    hand back a [`Ticket`].
//! 2. [`FraudSettings::undo`] with that ticket if the SMS could not be sent after all.
//! 3. [`FraudSettings::record_outcome`] once the OTP is decided ([`Outcome`]):
//!    verified, or unverified (failed, expired), or cancelled (counts as neither).
//!    Outcomes may arrive late and more than once: only the first report of an OTP
//!    that is still pending in its range counts; any other is ignored.
//! 4. [`RangeState::keep_until`] / [`CountryState::keep_until`] after each write:
//!    once that instant has passed (or it is `None`) the key may be deleted.
//!
//! # Rules (checked in this order)
//!
//! - **Exempt.** With the guard off, or for a number in [`FraudSettings::safe_prefixes`]
//!   or [`FraudSettings::safe_numbers`], every send is allowed and nothing is counted.
//! - **Manual blocks** of a range or a country ([`RangeState::block_manually`],
//!   [`CountryState::block_manually`]) refuse until they end or are lifted; they are
//!   enforced in shadow mode too (an operator's explicit decision).
//! - **Low conversion per range.** Conversion is verified OTPs ÷ decided OTPs
//!   (verified + reported unverified) sent within the last
//!   [`FraudSettings::window_hours`]; OTPs not yet reported count as neither, so a
//!   lost or late report can never count against a range. With at least
//!   [`FraudSettings::min_decided`] decided and a conversion below
//!   [`FraudSettings::min_conversion_percent`], the range is blocked
//!   (`range_low_conversion`). A range blocked within the last
//!   [`FraudSettings::repeat_days`] is judged on everything it kept over those days
//!   (not just the window), so a slow drip that was caught once stays caught. A
//!   range never blocked forgets its counters once they leave the window.
//! - **Burst per range.** More than [`FraudSettings::burst_numbers`] distinct
//!   numbers of one range sent to within [`FraudSettings::burst_minutes`] blocks it
//!   (`range_burst`). A number leaves the count when its OTP is verified, so
//!   verifications can only relax the rule (a corporate range whose staff all sign up
//!   at once is not a burst), and a lost report never makes it stricter than
//!   "distinct numbers sent to".
//! - **Blocks grow on repeat**: [`FraudSettings::block_seconds`] the first time,
//!   doubling for each new block that starts within [`FraudSettings::repeat_days`] of
//!   the end of the previous one, up to [`FraudSettings::max_block_seconds`]; after
//!   that many quiet days the next block is the first again.
//! - **Country anomaly.** A pumping attack spread over hundreds of ranges gives each
//!   range too few sends for the rules above, but it multiplies the country's volume
//!   long before any OTP expires. The country is *in anomaly* while its send attempts
//!   over the last [`FraudSettings::anomaly_minutes`] exceed both
//!   [`FraudSettings::anomaly_min_attempts`] and [`FraudSettings::anomaly_factor`] ×
//!   its usual count of *verified* OTPs per such period (over the last
//!   [`FraudSettings::baseline_days`]; verified, so an attack never raises its own
//!   baseline). Its [`AnomalyHealth`] is judged on the sends made within the anomaly
//!   period and at least [`FraudSettings::anomaly_health_delay_seconds`] ago: with
//!   fewer than [`FraudSettings::anomaly_health_min_sends`] of them it is
//!   `unknown`; with the minimum conversion verified it is `converting` (a marketing
//!   campaign: users verify within a minute or two) and nothing is limited;
//!   otherwise `not_converting`, and it stays so (while too few sends are left to
//!   judge it again) until it is seen converting or ends.
//!   - While an anomaly is not known to convert, a range of that country that has
//!     no verified OTP on record (an *unproven* range) takes at most
//!     [`FraudSettings::anomaly_numbers`] distinct numbers since the anomaly began;
//!     further new numbers are refused (`country_anomaly`), with no block. Proven
//!     ranges, numbers already sent to (resends) and new ranges' first numbers
//!     still go out, so real users are rarely refused even during an attack.
//!   - Once an anomaly is known **not** to convert, those first numbers of unproven
//!     ranges are also held to the country's threshold per anomaly period, so an
//!     attack spread over a whole operator's ranges costs at most the country's
//!     usual volume; real users of the country whose range is unproven then share
//!     that allowance with the attacker. A campaign never reaches this stage (it
//!     converts), nor do the first minutes of any anomaly (unknown).
//!
//! Only this rule weighs sends whose outcome has not arrived (an anomaly whose
//! recent sends are not verified is not converting), because it must act within
//! seconds, long before any OTP expires. It is bounded: it needs a volume anomaly,
//! it never starts a block, and it ends by itself when the volume drops or the
//! verifications arrive.
//!
//! **Shadow mode** ([`FraudSettings::shadow`]) takes every automatic decision and
//! records it (blocks included, so [`FraudSettings::snapshot`] shows what would be in
//! force), but sends anyway: [`Verdict::Shadowed`].
//!
//! # In the worker
//!
//! - The settings are the application's `fraudGuard` object. The states live in the
//!   application's own Durable Object, one storage key per range and one per
//!   country, so that a send reads and writes two small values; a key whose
//!   `keep_until` has passed is deleted (an alarm, or on the next write).
//! - A send: once the request is resolved and passes its other checks, in the same
//!   call as the caps, [`Destination::new`] under the service's hash key and
//!   [`FraudSettings::admit`] with [`OtpTag::of`] the OTP id. `Refused` answers
//!   [`Refusal::error`] (429, `Retry-After` from [`Refusal::retry_after`]) and gives
//!   back whatever the caps took; a gateway failure calls [`FraudSettings::undo`].
//! - An outcome: whoever holds the OTP record sends an [`OutcomeReport`] to the
//!   application's object when the record becomes final ([`Outcome::of_status`]):
//!   the check that verifies or fails it (after the reply, retried until
//!   acknowledged), a cancel, and the expiry (an alarm at `expiresAt`: an expired
//!   record is never rewritten). The record keeps its range and country for that.
//!   A report that never arrives leaves the OTP pending until the window ends and
//!   is counted as neither.
//! - The admin API: [`FraudSettings::snapshot`] over the stored states,
//!   `block_manually` and `unblock` on a state, [`SafeNumber::new`] to add a number
//!   given in clear to the safe list.

use crate::error::{Error, Result};
use crate::phone::PhoneNumber;
use crate::secret::{hmac_sha256, to_hex};
use crate::time::UnixSeconds;
use serde::{Deserialize, Serialize};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// Most entries of [`FraudSettings::safe_prefixes`].
pub const MAX_SAFE_PREFIXES: usize = 200;
/// Most entries of [`FraudSettings::safe_numbers`].
pub const MAX_SAFE_NUMBERS: usize = 1000;
/// Most OTPs a range keeps pending (awaiting their outcome); beyond it the oldest is
/// forgotten and its outcome, when it comes, is ignored (a lost count).
pub const MAX_PENDING: usize = 64;
/// Most distinct recent numbers a range remembers, unless the burst rule needs more.
const MAX_NUMBERS: usize = 64;
/// Longest manual block (a year and a day).
pub const MAX_MANUAL_BLOCK_SECONDS: i64 = 366 * DAY;

/// An application's fraud guard settings (JSON `fraudGuard`, camelCase). Missing
/// fields take the defaults, which are on and safe for an application that never
/// reads them; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FraudSettings {
    /// The guard decides at all (default true).
    pub enabled: bool,
    /// Decide and record, but send anyway (default false).
    pub shadow: bool,
    /// Digits dropped from the end of a number to name its range, 1-6 (default 4:
    /// ranges of 10,000 numbers).
    pub range_digits: u8,
    /// Sliding window of a range's conversion, in hours, 1-168 (default 24).
    pub window_hours: u32,
    /// Decided OTPs a range needs before its conversion is judged, 1-100000 (default 20).
    pub min_decided: u32,
    /// Conversion below which a range is blocked, in percent, 0-99 (default 25; 0
    /// turns the conversion rule off). Also the conversion that explains an anomaly.
    pub min_conversion_percent: u32,
    /// The first block, in seconds, 60-86400 (default 3600).
    pub block_seconds: u32,
    /// The longest block, in seconds, `blockSeconds`-2592000 (default 86400).
    pub max_block_seconds: u32,
    /// Blocks double while they start within this many days of the previous one's
    /// end; a range blocked in that time is judged on all it kept over it, 1-30
    /// (default 7).
    pub repeat_days: u32,
    /// Distinct unverified numbers of one range allowed within `burstMinutes`,
    /// 0-1000 (default 10; 0 turns the burst rule off).
    pub burst_numbers: u32,
    /// The burst rule's period, in minutes, 1-1440 (default 60).
    pub burst_minutes: u32,
    /// The period over which a country's volume is watched, in minutes, 5-120
    /// (default 15).
    pub anomaly_minutes: u32,
    /// Send attempts to a country in one period below which there is never an
    /// anomaly, 1-1000000 (default 30).
    pub anomaly_min_attempts: u32,
    /// An anomaly is more attempts than this many times the country's usual verified
    /// OTPs per period, 2-1000 (default 5).
    pub anomaly_factor: u32,
    /// Days of a country's history that give its usual volume, 1-30 (default 7).
    pub baseline_days: u32,
    /// Distinct numbers an unproven range may take during an unexplained anomaly,
    /// 0-1000 (default 1; 0 turns the country rule off).
    pub anomaly_numbers: u32,
    /// Sends younger than this do not yet tell whether an anomaly converts, in
    /// seconds, 10-1800 and under `anomalyMinutes` (default 180).
    pub anomaly_health_delay_seconds: u32,
    /// Sends old enough to judge that an anomaly converts, 1-100000 (default 10).
    pub anomaly_health_min_sends: u32,
    /// Number prefixes (E.164 digits, no `+`, 1-15 digits, in clear) never guarded.
    pub safe_prefixes: Vec<String>,
    /// Numbers never guarded, as keyed hashes ([`SafeNumber::new`]).
    pub safe_numbers: Vec<SafeNumber>,
}

impl Default for FraudSettings {
    fn default() -> Self {
        FraudSettings {
            enabled: true,
            shadow: false,
            range_digits: 4,
            window_hours: 24,
            min_decided: 20,
            min_conversion_percent: 25,
            block_seconds: 3600,
            max_block_seconds: 86_400,
            repeat_days: 7,
            burst_numbers: 10,
            burst_minutes: 60,
            anomaly_minutes: 15,
            anomaly_min_attempts: 30,
            anomaly_factor: 5,
            baseline_days: 7,
            anomaly_numbers: 1,
            anomaly_health_delay_seconds: 180,
            anomaly_health_min_sends: 10,
            safe_prefixes: Vec::new(),
            safe_numbers: Vec::new(),
        }
    }
}

/// A number on the safe list: the keyed hash that is compared, and the masked
/// number that is shown (`+4474001****`). Never the number itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SafeNumber {
    /// [`NumberHash::to_hex`]: 64 lowercase hex digits.
    pub hash: String,
    /// [`PhoneNumber::masked`].
    pub masked: String,
}

impl SafeNumber {
    /// The safe-list entry of `phone` under the service's hash key.
    pub fn new(key: &[u8], phone: &PhoneNumber) -> SafeNumber {
        SafeNumber {
            hash: NumberHash::of(key, phone).to_hex(),
            masked: phone.masked(),
        }
    }

    fn is_well_formed(&self) -> bool {
        let hex = self.hash.len() == 64
            && self
                .hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let m = self.masked.as_bytes();
        let masked = (4..=16).contains(&m.len())
            && m.first() == Some(&b'+')
            && m.iter().skip(1).all(|&b| b.is_ascii_digit() || b == b'*');
        hex && masked
    }
}

impl FraudSettings {
    /// The JSON name of the first setting out of its range, if any (for an error
    /// message naming the field).
    pub fn first_invalid(&self) -> Option<&'static str> {
        let within = |v: u32, lo: u32, hi: u32| (lo..=hi).contains(&v);
        let checks: [(&'static str, bool); 17] = [
            ("rangeDigits", (1..=6).contains(&self.range_digits)),
            ("windowHours", within(self.window_hours, 1, 168)),
            ("minDecided", within(self.min_decided, 1, 100_000)),
            ("minConversionPercent", self.min_conversion_percent <= 99),
            ("blockSeconds", within(self.block_seconds, 60, 86_400)),
            (
                "maxBlockSeconds",
                within(self.max_block_seconds, self.block_seconds, 30 * 86_400),
            ),
            ("repeatDays", within(self.repeat_days, 1, 30)),
            ("burstNumbers", self.burst_numbers <= 1000),
            ("burstMinutes", within(self.burst_minutes, 1, 1440)),
            ("anomalyMinutes", within(self.anomaly_minutes, 5, 120)),
            (
                "anomalyMinAttempts",
                within(self.anomaly_min_attempts, 1, 1_000_000),
            ),
            ("anomalyFactor", within(self.anomaly_factor, 2, 1000)),
            ("baselineDays", within(self.baseline_days, 1, 30)),
            ("anomalyNumbers", self.anomaly_numbers <= 1000),
            (
                "anomalyHealthDelaySeconds",
                within(self.anomaly_health_delay_seconds, 10, 1800)
                    && self.anomaly_health_delay_seconds < self.anomaly_minutes.saturating_mul(60),
            ),
            (
                "anomalyHealthMinSends",
                within(self.anomaly_health_min_sends, 1, 100_000),
            ),
            ("safePrefixes", self.safe_prefixes_ok()),
        ];
        if let Some((name, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Some(*name);
        }
        (!self.safe_numbers_ok()).then_some("safeNumbers")
    }

    fn safe_prefixes_ok(&self) -> bool {
        self.safe_prefixes.len() <= MAX_SAFE_PREFIXES
            && self.safe_prefixes.iter().all(|p| {
                (1..=15).contains(&p.len())
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && !p.starts_with('0')
            })
    }

    fn safe_numbers_ok(&self) -> bool {
        self.safe_numbers.len() <= MAX_SAFE_NUMBERS
            && self.safe_numbers.iter().all(SafeNumber::is_well_formed)
    }

    /// Checks every setting: [`Error::SafePrefixInvalid`], [`Error::SafeNumberInvalid`],
    /// or [`Error::FraudSettingInvalid`] for a number out of its range
    /// ([`FraudSettings::first_invalid`] names it).
    pub fn validate(&self) -> Result<()> {
        match self.first_invalid() {
            None => Ok(()),
            Some("safePrefixes") => Err(Error::SafePrefixInvalid),
            Some("safeNumbers") => Err(Error::SafeNumberInvalid),
            Some(_) => Err(Error::FraudSettingInvalid),
        }
    }

    fn window_seconds(&self) -> i64 {
        i64::from(self.window_hours) * HOUR
    }

    fn repeat_seconds(&self) -> i64 {
        i64::from(self.repeat_days) * DAY
    }

    fn burst_seconds(&self) -> i64 {
        i64::from(self.burst_minutes) * MINUTE
    }

    fn anomaly_seconds(&self) -> i64 {
        i64::from(self.anomaly_minutes) * MINUTE
    }

    /// Whether `dest` is on the safe list (by prefix or by number).
    pub fn is_safe(&self, dest: &Destination) -> bool {
        self.safe_prefixes
            .iter()
            .any(|p| dest.digits.starts_with(p.as_str()))
            || (!self.safe_numbers.is_empty() && {
                let hex = dest.number.to_hex();
                self.safe_numbers.iter().any(|s| s.hash == hex)
            })
    }

    fn block_length(&self, level: u8) -> i64 {
        let doubled = i64::from(self.block_seconds)
            .checked_shl(u32::from(level.saturating_sub(1)).min(40))
            .unwrap_or(i64::MAX);
        doubled.min(i64::from(self.max_block_seconds))
    }
}

// ---------------------------------------------------------------------------
// Keys and hashes
// ---------------------------------------------------------------------------

/// The range of a number: its E.164 digits (no `+`) without the last `digits`
/// digits, never shorter than the calling code and one more digit.
/// `range_of(+447400123456, 4)` is `44740012`.
pub fn range_of(phone: &PhoneNumber, digits: u8) -> String {
    let all = phone.digits();
    let code = all.len() - phone.national_number().len();
    let keep = all
        .len()
        .saturating_sub(usize::from(digits))
        .max(code + 1)
        .min(all.len());
    all.get(..keep).unwrap_or(all).to_owned()
}

/// A keyed hash of a phone number (HMAC-SHA256 under the service's hash key, with
/// its own label), so that no state holds a number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumberHash([u8; 32]);

impl core::fmt::Debug for NumberHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "NumberHash({:08x}…)", self.tag())
    }
}

impl NumberHash {
    /// The hash of `phone`'s E.164 form under `key`.
    pub fn of(key: &[u8], phone: &PhoneNumber) -> NumberHash {
        NumberHash(hmac_sha256(
            key,
            &[b"otp-fraud-number\0", phone.e164().as_bytes()],
        ))
    }

    /// The 64 lowercase hex digits (as in [`SafeNumber::hash`]).
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// The short form kept in a range's state: the first 4 bytes. Only numbers of
    /// one range are ever compared, so collisions do not matter.
    pub fn tag(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
}

/// A short keyed tag of an OTP id, kept while the OTP is pending in its range and
/// carried by its outcome report: outcomes are counted once per tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OtpTag(pub u32);

impl OtpTag {
    /// The tag of `otp_id` under the service's hash key.
    pub fn of(key: &[u8], otp_id: &str) -> OtpTag {
        let h = hmac_sha256(key, &[b"otp-fraud-otp\0", otp_id.as_bytes()]);
        OtpTag(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
    }
}

/// Where a send goes, as the guard sees it: the keys of its two states and what
/// the safe list compares. Built per request, never stored (it holds the digits);
/// `Debug` shows the keys only.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    /// The country's ISO code: the key of its [`CountryState`].
    pub country: String,
    /// [`range_of`] the number: the key of its [`RangeState`].
    pub range: String,
    digits: String,
    number: NumberHash,
}

impl core::fmt::Debug for Destination {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Destination")
            .field("country", &self.country)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// The destination `phone` under `settings` (its range digits) and the hash key.
    pub fn new(settings: &FraudSettings, key: &[u8], phone: &PhoneNumber) -> Destination {
        Destination {
            country: phone.country_iso().to_owned(),
            range: range_of(phone, settings.range_digits),
            digits: phone.digits().to_owned(),
            number: NumberHash::of(key, phone),
        }
    }

    /// The number's keyed hash.
    pub fn number(&self) -> NumberHash {
        self.number
    }
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

/// Why the guard refused (or, in shadow mode, would have refused) a send. The
/// wire names are the core errors' names ([`Reason::error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The range converts below the minimum.
    RangeLowConversion,
    /// Too many distinct numbers of the range in a short time.
    RangeBurst,
    /// An unproven range during an unexplained volume anomaly of its country.
    CountryAnomaly,
    /// An operator blocked the range or the country.
    ManualBlock,
}

impl Reason {
    /// The core error a refusal for this reason answers with (429).
    pub const fn error(self) -> Error {
        match self {
            Reason::RangeLowConversion => Error::FraudRangeLowConversion,
            Reason::RangeBurst => Error::FraudRangeBurst,
            Reason::CountryAnomaly => Error::FraudCountryAnomaly,
            Reason::ManualBlock => Error::FraudManualBlock,
        }
    }
}

/// A refusal: why, and when a send can succeed again (for `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// When the block (or the anomaly period) ends, Unix seconds.
    pub until: UnixSeconds,
}

impl Refusal {
    /// The core error to answer with.
    pub const fn error(&self) -> Error {
        self.reason.error()
    }

    /// Seconds until a retry can succeed, at least 1.
    pub fn retry_after(&self, now: UnixSeconds) -> u32 {
        (self.until - now).clamp(1, i64::from(u32::MAX)) as u32
    }
}

/// What an allowed send added to the counters, to take it back with
/// [`FraudSettings::undo`] if the SMS was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// The OTP.
    pub otp: OtpTag,
    /// When it was counted.
    pub at: UnixSeconds,
    /// A number the range had not seen recently.
    pub fresh: bool,
    /// A new OTP (not a resend of a pending one).
    pub new_otp: bool,
    number: u32,
}

/// The guard's decision on one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send; counted as pending: report its outcome.
    Allowed(Ticket),
    /// Shadow mode: send and report as for `Allowed`, but the guard would have
    /// refused it (recorded for the snapshot).
    Shadowed(Ticket, Refusal),
    /// Send; nothing counted (safe-listed, or the guard is off).
    Exempt,
    /// Do not send, store nothing.
    Refused(Refusal),
}

impl Verdict {
    /// Whether the SMS may be sent.
    pub fn allows_send(&self) -> bool {
        !matches!(self, Verdict::Refused(_))
    }

    /// The refusal, or what shadow mode would have refused.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Verdict::Refused(r) | Verdict::Shadowed(_, r) => Some(*r),
            _ => None,
        }
    }

    /// The ticket of a counted send.
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Verdict::Allowed(t) | Verdict::Shadowed(t, _) => Some(*t),
            _ => None,
        }
    }
}

/// How an OTP ended, as the guard counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The right PIN came: counts for the range.
    Verified,
    /// Failed (attempts used up) or expired: counts against the range.
    Unverified,
    /// Cancelled by the application: counts as neither. Cancelling is the
    /// application's own act (a user who changed number, a `replace` resend), not
    /// the number's owner's, so it says nothing about the range either way; it only
    /// ends the OTP's pending state.
    Cancelled,
}

impl Outcome {
    /// The outcome of an OTP in this status; `None` while it is pending.
    pub fn of_status(status: crate::otp::OtpStatus) -> Option<Outcome> {
        use crate::otp::OtpStatus;
        match status {
            OtpStatus::Pending => None,
            OtpStatus::Verified => Some(Outcome::Verified),
            OtpStatus::Failed | OtpStatus::Expired => Some(Outcome::Unverified),
            OtpStatus::Cancelled => Some(Outcome::Cancelled),
        }
    }
}

/// The message that carries an outcome to the application's guard (after the
/// reply, retried until acknowledged): the two keys, the OTP's tag, the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutcomeReport {
    /// [`Destination::country`].
    pub country: String,
    /// [`Destination::range`].
    pub range: String,
    /// [`OtpTag::of`] the OTP id.
    pub otp: OtpTag,
    /// How it ended.
    pub outcome: Outcome,
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// Counters of one period (an hour or a day), serialised as
/// `[start, sent, fresh, verified, unverified]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "(i64, u32, u32, u32, u32)", into = "(i64, u32, u32, u32, u32)")]
struct Tally {
    start: i64,
    /// SMS sent (resends included).
    sent: u32,
    /// Sends to a number not sent to recently.
    fresh: u32,
    verified: u32,
    unverified: u32,
}

impl From<(i64, u32, u32, u32, u32)> for Tally {
    fn from((start, sent, fresh, verified, unverified): (i64, u32, u32, u32, u32)) -> Self {
        Tally {
            start,
            sent,
            fresh,
            verified,
            unverified,
        }
    }
}

impl From<Tally> for (i64, u32, u32, u32, u32) {
    fn from(t: Tally) -> Self {
        (t.start, t.sent, t.fresh, t.verified, t.unverified)
    }
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.sent = self.sent.saturating_add(o.sent);
        self.fresh = self.fresh.saturating_add(o.fresh);
        self.verified = self.verified.saturating_add(o.verified);
        self.unverified = self.unverified.saturating_add(o.unverified);
    }

    fn decided(&self) -> u32 {
        self.verified.saturating_add(self.unverified)
    }

    fn is_zero(&self) -> bool {
        self.sent == 0 && self.fresh == 0 && self.verified == 0 && self.unverified == 0
    }

    fn conversion_percent(&self) -> Option<u8> {
        let d = u64::from(self.decided());
        (d > 0).then(|| (u64::from(self.verified) * 100 / d) as u8)
    }

    /// Below `percent` with at least `min` decided.
    fn converts_below(&self, min: u32, percent: u32) -> bool {
        let d = u64::from(self.decided());
        d >= u64::from(min) && u64::from(self.verified) * 100 < u64::from(percent) * d
    }
}

/// The tally of the period starting at `start` (kept sorted by start), created if
/// missing.
fn tally_at(list: &mut Vec<Tally>, start: i64) -> &mut Tally {
    let i = match list.binary_search_by_key(&start, |t| t.start) {
        Ok(i) => i,
        Err(i) => {
            list.insert(
                i,
                Tally {
                    start,
                    ..Tally::default()
                },
            );
            i
        }
    };
    &mut list[i]
}

fn sum<'a>(list: impl IntoIterator<Item = &'a Tally>) -> Tally {
    let mut total = Tally::default();
    for t in list {
        total.add(t);
    }
    total
}

fn floor(t: i64, unit: i64) -> i64 {
    t - t.rem_euclid(unit)
}

/// A block of a key in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Block {
    #[serde(rename = "r")]
    reason: Reason,
    #[serde(rename = "s")]
    since: i64,
    #[serde(rename = "u")]
    until: i64,
}

/// A manual block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Manual {
    #[serde(rename = "s")]
    since: i64,
    #[serde(rename = "u")]
    until: i64,
}

/// The refusals (or shadow refusals) of a key within the window: the latest reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Note {
    #[serde(rename = "r")]
    reason: Reason,
    #[serde(rename = "n")]
    count: u32,
    #[serde(rename = "f")]
    first: i64,
    #[serde(rename = "l")]
    last: i64,
    #[serde(rename = "s", default, skip_serializing_if = "is_false")]
    shadow: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

fn note(slot: &mut Option<Note>, r: Refusal, shadow: bool, now: i64) {
    match slot {
        Some(n) if n.shadow == shadow => {
            n.reason = r.reason;
            n.count = n.count.saturating_add(1);
            n.last = now;
        }
        _ => {
            *slot = Some(Note {
                reason: r.reason,
                count: 1,
                first: now,
                last: now,
                shadow,
            })
        }
    }
}

fn check_manual_until(until: i64, now: i64) -> Result<()> {
    if until > now && until - now <= MAX_MANUAL_BLOCK_SECONDS {
        Ok(())
    } else {
        Err(Error::ManualBlockInvalid)
    }
}

// ---------------------------------------------------------------------------
// Range state
// ---------------------------------------------------------------------------

/// The guard's state of one range of one application. Holds counters, short tags
/// and times only: no number, no OTP id. Start from `RangeState::default()`.
/// Serialised compactly (one-letter fields, counters as arrays): an idle range is
/// `{}`, a busy one a few hundred bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RangeState {
    /// Hourly counters by send time, within the window.
    #[serde(rename = "h", skip_serializing_if = "Vec::is_empty")]
    hours: Vec<Tally>,
    /// Daily counters of older sends, kept for `repeatDays` by a range blocked
    /// within them (its memory).
    #[serde(rename = "d", skip_serializing_if = "Vec::is_empty")]
    days: Vec<Tally>,
    /// Distinct unverified numbers sent to within `burstMinutes`: (number tag, first send).
    #[serde(rename = "n", skip_serializing_if = "Vec::is_empty")]
    numbers: Vec<(u32, i64)>,
    /// OTPs awaiting their outcome: (OTP tag, number tag, sent at).
    #[serde(rename = "p", skip_serializing_if = "Vec::is_empty")]
    pending: Vec<(u32, u32, i64)>,
    /// The automatic block in force.
    #[serde(rename = "b", skip_serializing_if = "Option::is_none")]
    block: Option<Block>,
    /// The level of the last automatic block (1 = first), while blocks repeat.
    #[serde(rename = "l", skip_serializing_if = "is_zero")]
    level: u8,
    /// When the last automatic block ended (or ends), within `repeatDays`.
    #[serde(rename = "e", skip_serializing_if = "Option::is_none")]
    last_block_end: Option<i64>,
    /// A manual block.
    #[serde(rename = "m", skip_serializing_if = "Option::is_none")]
    manual: Option<Manual>,
    /// Recent refusals.
    #[serde(rename = "r", skip_serializing_if = "Option::is_none")]
    refusals: Option<Note>,
}

impl RangeState {
    /// Drops what has aged out at `now`: hours leave the window for the daily
    /// memory, days and blocks end, pending OTPs older than the window are forgotten.
    fn settle(&mut self, s: &FraudSettings, now: i64) {
        let window_start = floor(now, HOUR) - (i64::from(s.window_hours) - 1) * HOUR;
        let remembers = self.recently_blocked();
        while let Some(first) = self.hours.first().copied() {
            if first.start >= window_start {
                break;
            }
            self.hours.remove(0);
            if remembers {
                tally_at(&mut self.days, floor(first.start, DAY)).add(&first);
            }
        }
        let memory_start = floor(now, DAY) - s.repeat_seconds();
        self.days
            .retain(|t| t.start >= memory_start && !t.is_zero());
        self.hours.retain(|t| !t.is_zero());
        let window = s.window_seconds();
        self.pending.retain(|p| p.2 > now - window);
        let burst = s.burst_seconds();
        self.numbers.retain(|n| n.1 > now - burst);
        if self.block.is_some_and(|b| b.until <= now) {
            self.block = None;
        }
        if self
            .last_block_end
            .is_some_and(|end| end.saturating_add(s.repeat_seconds()) <= now)
        {
            self.last_block_end = None;
            self.level = 0;
        }
        if self.manual.is_some_and(|m| m.until <= now) {
            self.manual = None;
        }
        if self.refusals.is_some_and(|n| n.last + window <= now) {
            self.refusals = None;
        }
    }

    fn window(&self) -> Tally {
        sum(&self.hours)
    }

    fn memory(&self) -> Tally {
        sum(self.hours.iter().chain(&self.days))
    }

    /// A block started or was in force within the repeat period.
    fn recently_blocked(&self) -> bool {
        self.block.is_some() || self.last_block_end.is_some()
    }

    /// Fresh numbers sent to since `since` (by the hour).
    fn fresh_since(&self, since: i64) -> u32 {
        let from = floor(since, HOUR);
        let hours = self.hours.iter().filter(|t| t.start >= from);
        let days = self.days.iter().filter(|t| t.start + DAY > from);
        sum(hours.chain(days)).fresh
    }

    fn knows(&self, otp: OtpTag, number: u32) -> bool {
        self.pending.iter().any(|p| p.0 == otp.0) || self.numbers.iter().any(|n| n.0 == number)
    }

    fn start_block(&mut self, s: &FraudSettings, reason: Reason, now: i64) -> Refusal {
        let level = if self.last_block_end.is_some() {
            self.level.saturating_add(1)
        } else {
            1
        };
        let until = now.saturating_add(s.block_length(level));
        self.level = level;
        self.block = Some(Block {
            reason,
            since: now,
            until,
        });
        self.last_block_end = Some(until);
        Refusal { reason, until }
    }

    /// Counts a send; `max_numbers` bounds the recent numbers kept (only shadow
    /// mode, or the burst rule off, reaches it).
    fn count_send(&mut self, otp: OtpTag, number: u32, max_numbers: usize, now: i64) -> Ticket {
        let new_otp = !self.pending.iter().any(|p| p.0 == otp.0);
        let fresh = !self.numbers.iter().any(|n| n.0 == number);
        let t = tally_at(&mut self.hours, floor(now, HOUR));
        t.sent = t.sent.saturating_add(1);
        if fresh {
            t.fresh = t.fresh.saturating_add(1);
            if self.numbers.len() >= max_numbers {
                self.numbers.remove(0);
            }
            self.numbers.push((number, now));
        }
        if new_otp {
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push((otp.0, number, now));
        }
        Ticket {
            otp,
            at: now,
            fresh,
            new_otp,
            number,
        }
    }

    /// The counters of the sends made in the hour (or day) of `at`, if still kept.
    fn tally_of(&mut self, s: &FraudSettings, at: i64, now: i64) -> Option<&mut Tally> {
        let window_start = floor(now, HOUR) - (i64::from(s.window_hours) - 1) * HOUR;
        if at >= window_start {
            Some(tally_at(&mut self.hours, floor(at, HOUR)))
        } else if floor(at, DAY) >= floor(now, DAY) - s.repeat_seconds() {
            Some(tally_at(&mut self.days, floor(at, DAY)))
        } else {
            None
        }
    }

    /// Blocks the range by hand until `until` ([`Error::ManualBlockInvalid`] unless
    /// it is in the future, at most [`MAX_MANUAL_BLOCK_SECONDS`] away). Enforced in
    /// shadow mode too.
    pub fn block_manually(&mut self, until: UnixSeconds, now: UnixSeconds) -> Result<()> {
        check_manual_until(until, now)?;
        self.manual = Some(Manual { since: now, until });
        Ok(())
    }

    /// Lifts every block of the range and forgets the evidence behind them (counters,
    /// recent numbers, the repeat level), so it starts again as a new range; OTPs
    /// still pending stay so that their outcomes are counted once.
    pub fn unblock(&mut self) {
        let pending = core::mem::take(&mut self.pending);
        *self = RangeState {
            pending,
            ..RangeState::default()
        };
    }

    /// Until when this state matters: from that instant on it is as good as a new
    /// one, so the store may delete it; `None` when it already is.
    pub fn keep_until(&self, s: &FraudSettings) -> Option<UnixSeconds> {
        let memory = s.repeat_seconds() + DAY;
        let window = s.window_seconds();
        [
            self.hours
                .iter()
                .map(|t| match self.recently_blocked() {
                    true => (t.start + window).max(floor(t.start, DAY) + memory),
                    false => t.start + window,
                })
                .max(),
            self.days.last().map(|t| t.start + memory),
            self.pending.iter().map(|p| p.2 + window).max(),
            self.numbers.iter().map(|n| n.1 + s.burst_seconds()).max(),
            self.block.map(|b| b.until),
            self.last_block_end
                .map(|e| e.saturating_add(s.repeat_seconds())),
            self.manual.map(|m| m.until),
            self.refusals.map(|n| n.last + window),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// What the admin API shows of this range at `now`.
    pub fn view(&self, s: &FraudSettings, now: UnixSeconds) -> RangeView {
        let mut r = self.clone();
        r.settle(s, now);
        let w = r.window();
        RangeView {
            block: r.block_view(s),
            sent: w.sent,
            verified: w.verified,
            unverified: w.unverified,
            pending: r.pending.len() as u32,
            conversion_percent: w.conversion_percent(),
            recent_numbers: r.numbers.len() as u32,
            refusals: r.refusals.map(NoteView::from),
        }
    }

    fn block_view(&self, s: &FraudSettings) -> Option<BlockView> {
        if let Some(m) = self.manual {
            return Some(BlockView {
                reason: Reason::ManualBlock,
                since: m.since,
                until: m.until,
                level: 0,
                enforced: true,
            });
        }
        self.block.map(|b| BlockView {
            reason: b.reason,
            since: b.since,
            until: b.until,
            level: self.level,
            enforced: !s.shadow,
        })
    }
}

// ---------------------------------------------------------------------------
// Country state
// ---------------------------------------------------------------------------

/// Counters of one minute, serialised as `[start, attempts, sent, verified, probes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "(i64, u32, u32, u32, u32)", into = "(i64, u32, u32, u32, u32)")]
struct MinuteTally {
    start: i64,
    /// Send attempts, refused ones included.
    attempts: u32,
    sent: u32,
    /// Verified OTPs among the sends of this minute.
    verified: u32,
    /// Sends to new numbers of unproven ranges during an anomaly not known to convert.
    probes: u32,
}

impl From<(i64, u32, u32, u32, u32)> for MinuteTally {
    fn from((start, attempts, sent, verified, probes): (i64, u32, u32, u32, u32)) -> Self {
        MinuteTally {
            start,
            attempts,
            sent,
            verified,
            probes,
        }
    }
}

impl From<MinuteTally> for (i64, u32, u32, u32, u32) {
    fn from(t: MinuteTally) -> Self {
        (t.start, t.attempts, t.sent, t.verified, t.probes)
    }
}

/// Whether a country's anomaly is a campaign or an attack, judged on its sends
/// old enough to have been verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyHealth {
    /// Too few sends old enough to tell.
    Unknown,
    /// They convert at least at the minimum: nothing is limited.
    Converting,
    /// They do not.
    NotConverting,
}

/// The guard's state of one destination country of one application: its volume
/// by the minute over the anomaly period, its conversion by the hour over the
/// window, and its verified OTPs by the day over the baseline. Start from
/// `CountryState::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CountryState {
    #[serde(rename = "m", skip_serializing_if = "Vec::is_empty")]
    minutes: Vec<MinuteTally>,
    /// Hourly counters by send time, within the window (for the admin view).
    #[serde(rename = "h", skip_serializing_if = "Vec::is_empty")]
    hours: Vec<Tally>,
    /// Verified OTPs by the day they were verified, over the baseline.
    #[serde(rename = "d", skip_serializing_if = "Vec::is_empty")]
    days: Vec<Tally>,
    /// When the country was first sent to (how much history the baseline has).
    #[serde(rename = "f", skip_serializing_if = "Option::is_none")]
    first_seen: Option<i64>,
    /// When the anomaly in course began.
    #[serde(rename = "a", skip_serializing_if = "Option::is_none")]
    anomaly_since: Option<i64>,
    /// The anomaly in course was seen not converting, and not converting since:
    /// it stays so while too few sends are left to judge it again.
    #[serde(rename = "z", skip_serializing_if = "is_false")]
    anomaly_failing: bool,
    #[serde(rename = "x", skip_serializing_if = "Option::is_none")]
    manual: Option<Manual>,
    #[serde(rename = "r", skip_serializing_if = "Option::is_none")]
    refusals: Option<Note>,
}

/// A country's anomaly as judged at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyView {
    /// When it began.
    pub since: UnixSeconds,
    /// Send attempts over the last anomaly period.
    pub attempts: u32,
    /// The attempts above which the period is an anomaly.
    pub threshold: u32,
    /// Whether recent sends convert.
    pub health: AnomalyHealth,
    /// Sends to new numbers of unproven ranges within the period, held to the
    /// threshold once the anomaly is not converting.
    pub probes: u32,
}

impl CountryState {
    fn settle(&mut self, s: &FraudSettings, now: i64) {
        let period = s.anomaly_seconds();
        self.minutes.retain(|m| m.start + MINUTE > now - period);
        if self.minutes.is_empty() {
            self.anomaly_since = None;
            self.anomaly_failing = false;
        }
        let window_start = floor(now, HOUR) - (i64::from(s.window_hours) - 1) * HOUR;
        self.hours.retain(|t| t.start >= window_start);
        let baseline_start = floor(now, DAY) - i64::from(s.baseline_days) * DAY;
        self.days.retain(|t| t.start >= baseline_start);
        if self.manual.is_some_and(|m| m.until <= now) {
            self.manual = None;
        }
        if self
            .refusals
            .is_some_and(|n| n.last + s.window_seconds() <= now)
        {
            self.refusals = None;
        }
    }

    fn minute(&mut self, at: i64) -> &mut MinuteTally {
        let start = floor(at, MINUTE);
        let i = match self.minutes.binary_search_by_key(&start, |m| m.start) {
            Ok(i) => i,
            Err(i) => {
                self.minutes.insert(
                    i,
                    MinuteTally {
                        start,
                        ..MinuteTally::default()
                    },
                );
                i
            }
        };
        &mut self.minutes[i]
    }

    fn attempts(&self) -> u32 {
        self.minutes
            .iter()
            .fold(0u32, |a, m| a.saturating_add(m.attempts))
    }

    /// The attempts per anomaly period above which there is an anomaly.
    fn threshold(&self, s: &FraudSettings, now: i64) -> u32 {
        // factor × verified OTPs per period over the baseline days (or the history
        // there is, once it spans an hour).
        let baseline = match self.first_seen {
            Some(first) => {
                let covered = now - first.max(now - i64::from(s.baseline_days) * DAY);
                if covered < HOUR {
                    0
                } else {
                    let verified: u64 = self.days.iter().map(|t| u64::from(t.verified)).sum();
                    verified.saturating_mul(u64::from(s.anomaly_factor))
                        * s.anomaly_seconds() as u64
                        / covered as u64
                }
            }
            None => 0,
        };
        baseline
            .max(u64::from(s.anomaly_min_attempts))
            .min(u64::from(u32::MAX)) as u32
    }

    /// Whether the sends old enough to tell convert; an anomaly seen not converting
    /// stays so until it is seen converting (or ends).
    fn health(&self, s: &FraudSettings, now: i64) -> AnomalyHealth {
        match self.measured_health(s, now) {
            AnomalyHealth::Unknown if self.anomaly_failing => AnomalyHealth::NotConverting,
            health => health,
        }
    }

    fn measured_health(&self, s: &FraudSettings, now: i64) -> AnomalyHealth {
        let cutoff = now - i64::from(s.anomaly_health_delay_seconds);
        let (sent, verified) = self
            .minutes
            .iter()
            .filter(|m| m.start + MINUTE <= cutoff)
            .fold((0u64, 0u64), |(a, b), m| {
                (a + u64::from(m.sent), b + u64::from(m.verified))
            });
        if sent < u64::from(s.anomaly_health_min_sends) {
            AnomalyHealth::Unknown
        } else if verified * 100 >= u64::from(s.min_conversion_percent) * sent {
            AnomalyHealth::Converting
        } else {
            AnomalyHealth::NotConverting
        }
    }

    fn probes(&self) -> u32 {
        self.minutes
            .iter()
            .fold(0u32, |a, m| a.saturating_add(m.probes))
    }

    /// Starts or ends the anomaly by the attempts so far (with hysteresis: it ends
    /// once the attempts are down to half the threshold).
    fn update_anomaly(&mut self, s: &FraudSettings, now: i64) {
        let attempts = u64::from(self.attempts());
        let threshold = u64::from(self.threshold(s, now));
        if attempts > threshold {
            self.anomaly_since.get_or_insert(now);
        } else if attempts * 2 <= threshold {
            self.anomaly_since = None;
        }
        self.anomaly_failing = self.anomaly_since.is_some()
            && match self.measured_health(s, now) {
                AnomalyHealth::Unknown => self.anomaly_failing,
                AnomalyHealth::Converting => false,
                AnomalyHealth::NotConverting => true,
            };
    }

    /// The anomaly in course that limits unproven ranges: its start and health.
    fn restricting(&self, s: &FraudSettings, now: i64) -> Option<(i64, AnomalyHealth)> {
        let since = self.anomaly_since?;
        match self.health(s, now) {
            AnomalyHealth::Converting => None,
            health => Some((since, health)),
        }
    }

    /// When the anomaly in course began, as last judged (no settling: see
    /// [`CountryState::anomaly`] for the full view).
    pub fn anomaly_since(&self) -> Option<UnixSeconds> {
        self.anomaly_since
    }

    /// The anomaly as it stands (`None` when there is none).
    pub fn anomaly(&self, s: &FraudSettings, now: UnixSeconds) -> Option<AnomalyView> {
        let mut c = self.clone();
        c.settle(s, now);
        c.anomaly_since.map(|since| AnomalyView {
            since,
            attempts: c.attempts(),
            threshold: c.threshold(s, now),
            health: c.health(s, now),
            probes: c.probes(),
        })
    }

    /// Blocks every send to the country until `until` (see [`RangeState::block_manually`]).
    pub fn block_manually(&mut self, until: UnixSeconds, now: UnixSeconds) -> Result<()> {
        check_manual_until(until, now)?;
        self.manual = Some(Manual { since: now, until });
        Ok(())
    }

    /// Lifts the manual block and ends the anomaly in course (it starts again if the
    /// volume stays high).
    pub fn unblock(&mut self) {
        self.manual = None;
        self.anomaly_since = None;
        self.anomaly_failing = false;
        for m in &mut self.minutes {
            m.attempts = 0;
        }
    }

    /// Until when this state matters (see [`RangeState::keep_until`]): the
    /// country's baseline is kept while it has verified OTPs on record.
    pub fn keep_until(&self, s: &FraudSettings) -> Option<UnixSeconds> {
        [
            self.minutes
                .last()
                .map(|m| m.start + MINUTE + s.anomaly_seconds()),
            self.hours.last().map(|t| t.start + s.window_seconds()),
            self.days
                .last()
                .map(|t| t.start + (i64::from(s.baseline_days) + 1) * DAY),
            self.manual.map(|m| m.until),
            self.refusals.map(|n| n.last + s.window_seconds()),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// What the admin API shows of this country at `now`.
    pub fn view(&self, s: &FraudSettings, now: UnixSeconds) -> CountryView {
        let mut c = self.clone();
        c.settle(s, now);
        let w = sum(&c.hours);
        CountryView {
            sent: w.sent,
            verified: w.verified,
            unverified: w.unverified,
            conversion_percent: w.conversion_percent(),
            anomaly: c.anomaly(s, now),
            block: c.manual.map(|m| BlockView {
                reason: Reason::ManualBlock,
                since: m.since,
                until: m.until,
                level: 0,
                enforced: true,
            }),
            refusals: c.refusals.map(NoteView::from),
        }
    }
}

// ---------------------------------------------------------------------------
// The guard's operations
// ---------------------------------------------------------------------------

impl FraudSettings {
    /// Decides a send to `dest` of the OTP `otp` at `now`, before anything is stored
    /// or sent, and counts it as pending unless refused (see the module docs for the
    /// rules and their order). `country` and `range` are the states of
    /// `dest.country` and `dest.range`; write them back unless the verdict is
    /// [`Verdict::Exempt`] (which changes nothing). A send of an OTP already pending
    /// (a resend) counts as an SMS but not as a new OTP.
    pub fn admit(
        &self,
        dest: &Destination,
        otp: OtpTag,
        country: &mut CountryState,
        range: &mut RangeState,
        now: UnixSeconds,
    ) -> Verdict {
        if !self.enabled || self.is_safe(dest) {
            return Verdict::Exempt;
        }
        country.settle(self, now);
        range.settle(self, now);
        country.first_seen.get_or_insert(now);
        let m = country.minute(now);
        m.attempts = m.attempts.saturating_add(1);
        country.update_anomaly(self, now);

        if let Some(m) = country.manual {
            let r = Refusal {
                reason: Reason::ManualBlock,
                until: m.until,
            };
            note(&mut country.refusals, r, false, now);
            return Verdict::Refused(r);
        }
        if let Some(m) = range.manual {
            let r = Refusal {
                reason: Reason::ManualBlock,
                until: m.until,
            };
            note(&mut range.refusals, r, false, now);
            return Verdict::Refused(r);
        }
        let number = dest.number.tag();
        let (refusal, probe) = self.automatic_refusal(otp, number, country, range, now);
        let Some(r) = refusal else {
            return Verdict::Allowed(self.count(otp, number, probe, country, range, now));
        };
        // The country rule's refusals are noted on the country: an attack spread over
        // a whole operator must not leave a state behind for each range it tried.
        let notes = match r.reason {
            Reason::CountryAnomaly => &mut country.refusals,
            _ => &mut range.refusals,
        };
        note(notes, r, self.shadow, now);
        if self.shadow {
            Verdict::Shadowed(self.count(otp, number, probe, country, range, now), r)
        } else {
            Verdict::Refused(r)
        }
    }

    /// The automatic rules' refusal, if any, and whether an allowed send is a probe
    /// (a new number of an unproven range during an anomaly not known to convert).
    fn automatic_refusal(
        &self,
        otp: OtpTag,
        number: u32,
        country: &CountryState,
        range: &mut RangeState,
        now: i64,
    ) -> (Option<Refusal>, bool) {
        if let Some(b) = range.block {
            let r = Refusal {
                reason: b.reason,
                until: b.until,
            };
            return (Some(r), false);
        }
        let evidence = if range.recently_blocked() {
            range.memory()
        } else {
            range.window()
        };
        if evidence.converts_below(self.min_decided, self.min_conversion_percent) {
            let r = range.start_block(self, Reason::RangeLowConversion, now);
            return (Some(r), false);
        }
        let known = range.knows(otp, number);
        if self.burst_numbers > 0 && !known && range.numbers.len() >= self.burst_numbers as usize {
            return (
                Some(range.start_block(self, Reason::RangeBurst, now)),
                false,
            );
        }
        if self.anomaly_numbers == 0 || known || range.memory().verified > 0 {
            return (None, false);
        }
        let Some((since, health)) = country.restricting(self, now) else {
            return (None, false);
        };
        let refuse = range.fresh_since(since) >= self.anomaly_numbers
            || (health == AnomalyHealth::NotConverting
                && country.probes() >= country.threshold(self, now));
        let refusal = refuse.then(|| Refusal {
            reason: Reason::CountryAnomaly,
            until: now + self.anomaly_seconds(),
        });
        (refusal, true)
    }

    fn count(
        &self,
        otp: OtpTag,
        number: u32,
        probe: bool,
        country: &mut CountryState,
        range: &mut RangeState,
        now: i64,
    ) -> Ticket {
        let max_numbers = (self.burst_numbers as usize).max(MAX_NUMBERS);
        let ticket = range.count_send(otp, number, max_numbers, now);
        let m = country.minute(now);
        m.sent = m.sent.saturating_add(1);
        if probe {
            m.probes = m.probes.saturating_add(1);
        }
        let h = tally_at(&mut country.hours, floor(now, HOUR));
        h.sent = h.sent.saturating_add(1);
        ticket
    }

    /// Takes back a send counted by [`FraudSettings::admit`] whose SMS was not sent
    /// (the gateway refused it): the OTP is no longer pending, the send and the new
    /// number are uncounted. The attempt stays counted for the country's volume.
    pub fn undo(
        &self,
        ticket: &Ticket,
        country: &mut CountryState,
        range: &mut RangeState,
        now: UnixSeconds,
    ) {
        range.settle(self, now);
        country.settle(self, now);
        if ticket.new_otp {
            range.pending.retain(|p| p.0 != ticket.otp.0);
        }
        if ticket.fresh {
            range.numbers.retain(|n| n.0 != ticket.number);
        }
        if let Ok(i) = range
            .hours
            .binary_search_by_key(&floor(ticket.at, HOUR), |t| t.start)
        {
            let t = &mut range.hours[i];
            t.sent = t.sent.saturating_sub(1);
            if ticket.fresh {
                t.fresh = t.fresh.saturating_sub(1);
            }
        }
        if let Ok(i) = country
            .minutes
            .binary_search_by_key(&floor(ticket.at, MINUTE), |m| m.start)
        {
            country.minutes[i].sent = country.minutes[i].sent.saturating_sub(1);
        }
        if let Ok(i) = country
            .hours
            .binary_search_by_key(&floor(ticket.at, HOUR), |t| t.start)
        {
            country.hours[i].sent = country.hours[i].sent.saturating_sub(1);
        }
        range.settle(self, now);
    }

    /// Counts the outcome of the OTP `otp`, reported at `now`, in its range's and
    /// its country's states. Idempotent: only an OTP still pending in the range is
    /// counted (it then stops being pending); a second report, a report of an OTP
    /// the range never counted (exempt, undone, forgotten) or one that arrives after
    /// the window is ignored. Returns whether it was counted. A verified OTP's number
    /// leaves the burst count.
    pub fn record_outcome(
        &self,
        otp: OtpTag,
        outcome: Outcome,
        country: &mut CountryState,
        range: &mut RangeState,
        now: UnixSeconds,
    ) -> bool {
        range.settle(self, now);
        country.settle(self, now);
        let Some(i) = range.pending.iter().position(|p| p.0 == otp.0) else {
            return false;
        };
        let (_, number, sent_at) = range.pending.remove(i);
        match outcome {
            Outcome::Cancelled => {}
            Outcome::Verified => {
                if let Some(t) = range.tally_of(self, sent_at, now) {
                    t.verified = t.verified.saturating_add(1);
                }
                range.numbers.retain(|n| n.0 != number);
                if let Ok(i) = country
                    .minutes
                    .binary_search_by_key(&floor(sent_at, MINUTE), |m| m.start)
                {
                    let m = &mut country.minutes[i];
                    m.verified = m.verified.saturating_add(1);
                }
                if let Ok(i) = country
                    .hours
                    .binary_search_by_key(&floor(sent_at, HOUR), |t| t.start)
                {
                    let h = &mut country.hours[i];
                    h.verified = h.verified.saturating_add(1);
                }
                let d = tally_at(&mut country.days, floor(now, DAY));
                d.verified = d.verified.saturating_add(1);
            }
            Outcome::Unverified => {
                if let Some(t) = range.tally_of(self, sent_at, now) {
                    t.unverified = t.unverified.saturating_add(1);
                }
                if let Ok(i) = country
                    .hours
                    .binary_search_by_key(&floor(sent_at, HOUR), |t| t.start)
                {
                    let h = &mut country.hours[i];
                    h.unverified = h.unverified.saturating_add(1);
                }
            }
        }
        true
    }

    /// What the admin API shows: the blocks in force (automatic ones marked not
    /// enforced in shadow mode), the keys with refusals (or shadow refusals) within
    /// the window, and each country's conversion and anomaly, from every stored
    /// state (key, state).
    pub fn snapshot<'a>(
        &self,
        ranges: impl IntoIterator<Item = (&'a str, &'a RangeState)>,
        countries: impl IntoIterator<Item = (&'a str, &'a CountryState)>,
        now: UnixSeconds,
    ) -> FraudSnapshot {
        let mut snap = FraudSnapshot {
            shadow: self.shadow,
            blocks: Vec::new(),
            refusals: Vec::new(),
            countries: Vec::new(),
        };
        for (key, state) in ranges {
            let view = state.view(self, now);
            snap.push(Scope::Range, key, view.block, view.refusals);
        }
        for (key, state) in countries {
            let view = state.view(self, now);
            snap.push(Scope::Country, key, view.block, view.refusals);
            snap.countries.push(CountryEntry {
                country: key.to_owned(),
                view,
            });
        }
        snap.blocks
            .sort_by_key(|b| core::cmp::Reverse(b.block.until));
        snap.refusals
            .sort_by_key(|r| core::cmp::Reverse(r.refusals.last_at));
        snap.countries.sort_by(|a, b| {
            b.view
                .sent
                .cmp(&a.view.sent)
                .then(a.country.cmp(&b.country))
        });
        snap
    }
}

// ---------------------------------------------------------------------------
// Views for the admin API
// ---------------------------------------------------------------------------

/// A block as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// Why.
    pub reason: Reason,
    /// When it began.
    pub since: UnixSeconds,
    /// When it ends.
    pub until: UnixSeconds,
    /// 1 for a first block, 2 for a repeat (twice as long), …; 0 for a manual one.
    pub level: u8,
    /// Sends are refused (false: shadow mode only records it).
    pub enforced: bool,
}

/// Refusals of one key within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteView {
    /// The latest reason.
    pub reason: Reason,
    /// How many.
    pub count: u32,
    /// The first.
    pub first_at: UnixSeconds,
    /// The latest.
    pub last_at: UnixSeconds,
    /// Shadow mode: these sends went out.
    pub shadow: bool,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        NoteView {
            reason: n.reason,
            count: n.count,
            first_at: n.first,
            last_at: n.last,
            shadow: n.shadow,
        }
    }
}

/// One range as the admin API shows it (counters over the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeView {
    /// The block in force, if any.
    pub block: Option<BlockView>,
    /// SMS sent.
    pub sent: u32,
    /// OTPs verified.
    pub verified: u32,
    /// OTPs failed or expired.
    pub unverified: u32,
    /// OTPs awaiting their outcome.
    pub pending: u32,
    /// Verified ÷ decided, in percent, once anything is decided.
    pub conversion_percent: Option<u8>,
    /// Distinct unverified numbers within the burst period.
    pub recent_numbers: u32,
    /// Refusals within the window.
    pub refusals: Option<NoteView>,
}

/// One country as the admin API shows it (counters over the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountryView {
    /// SMS sent.
    pub sent: u32,
    /// OTPs verified.
    pub verified: u32,
    /// OTPs failed or expired.
    pub unverified: u32,
    /// Verified ÷ decided, in percent.
    pub conversion_percent: Option<u8>,
    /// The anomaly in course.
    pub anomaly: Option<AnomalyView>,
    /// A manual block.
    pub block: Option<BlockView>,
    /// Refusals within the window: manual blocks of the country, and the country
    /// rule's refusals of its ranges.
    pub refusals: Option<NoteView>,
}

/// What a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A range ([`range_of`]).
    Range,
    /// A country (ISO code).
    Country,
}

/// A block of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockEntry {
    /// Range or country.
    pub scope: Scope,
    /// The range's digits or the country's code.
    pub key: String,
    /// The block.
    #[serde(flatten)]
    pub block: BlockView,
}

/// Refusals of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusalEntry {
    /// Range or country.
    pub scope: Scope,
    /// The range's digits or the country's code.
    pub key: String,
    /// The refusals.
    #[serde(flatten)]
    pub refusals: NoteView,
}

/// One country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountryEntry {
    /// ISO code.
    pub country: String,
    /// Its figures.
    #[serde(flatten)]
    pub view: CountryView,
}

/// The guard's state for the admin API ([`FraudSettings::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FraudSnapshot {
    /// Shadow mode is on: automatic blocks are recorded, not enforced.
    pub shadow: bool,
    /// Blocks in force, latest end first.
    pub blocks: Vec<BlockEntry>,
    /// Keys with refusals (or, in shadow mode, sends that would have been refused)
    /// within the window, latest first.
    pub refusals: Vec<RefusalEntry>,
    /// Countries, most sent first.
    pub countries: Vec<CountryEntry>,
}

impl FraudSnapshot {
    fn push(
        &mut self,
        scope: Scope,
        key: &str,
        block: Option<BlockView>,
        refusals: Option<NoteView>,
    ) {
        if let Some(block) = block {
            self.blocks.push(BlockEntry {
                scope,
                key: key.to_owned(),
                block,
            });
        }
        if let Some(refusals) = refusals {
            self.refusals.push(RefusalEntry {
                scope,
                key: key.to_owned(),
                refusals,
            });
        }
    }
}

#[cfg(test)]
mod tests;
