//! Per-phone protection of a verification API: blocking after failed checks, a
//! cooldown between sends, and the resend policy. Sans-IO like the rest of the
//! core: every call takes `now`; the caller stores the [`PhoneGuard`] state (one
//! per application and phone number) and carries out what it decides.
//!
//! # Rules
//!
//! - **Blocking.** Every check of a wrong code against a pending verification
//!   counts one failure ([`PhoneGuard::record_check`]). The
//!   [`GuardSettings::max_failed_checks`]-th failure (default 3) blocks the phone
//!   for [`GuardSettings::block_seconds`] (default 900 s, 15 minutes): until then
//!   both checks ([`PhoneGuard::check_allowed`]) and new codes
//!   ([`PhoneGuard::plan_send`]) are refused with [`GuardError::Blocked`]. The
//!   block ends exactly at `blocked_until`, and the count starts again from 0.
//! - **The count is not reset by a new code**, only by a right code, by the end of
//!   a block, or by a quiet period: failures are forgotten `block_seconds` after
//!   the last one, so a count that would block for 15 minutes also forgives
//!   after 15 minutes without a failure.
//! - **Resends.** A send while no code is pending is always a new verification
//!   ([`SendPlan::New`]; an expired code is not pending). A send while a code is
//!   pending is refused with [`GuardError::Cooldown`] until
//!   [`GuardSettings::resend_cooldown_seconds`] (default 30 s) have passed since
//!   the last send; after that the [`ResendPolicy`] decides:
//!   [`SendPlan::ResendSame`] or [`SendPlan::Replace`].
//! - **A send that failed starts no cooldown.** A caller may record a send
//!   ([`PhoneGuard::record_sent`]) before handing the SMS over, so that parallel
//!   sends see it at once, and take it back with [`PhoneGuard::undo_sent`] when
//!   the gateway refused it.
//!
//! # Why `resend_same` sends a new code
//!
//! The store keeps a keyed digest of each code, never the code, so the code that
//! was sent cannot be sent again. `resend_same` therefore re-sends the **same
//! verification**: the same id, the same expiry and the same attempt count, with a
//! fresh code whose digest replaces the old one ([`crate::otp::OtpRecord::rekey`]); the old code
//! stops working. A resend can thus neither extend the life of a verification nor
//! give it more attempts. `replace` cancels the pending verification and starts a
//! new one (new id, new expiry, attempts from 0); the phone's failure count, kept
//! here and not in the verification, carries over either way.

use crate::time::UnixSeconds;
use core::fmt;
use serde::{Deserialize, Serialize};

/// Default of [`GuardSettings::max_failed_checks`].
pub const DEFAULT_MAX_FAILED_CHECKS: u8 = 3;
/// Default of [`GuardSettings::block_seconds`] (15 minutes).
pub const DEFAULT_BLOCK_SECONDS: u32 = 900;
/// Default of [`GuardSettings::resend_cooldown_seconds`].
pub const DEFAULT_RESEND_COOLDOWN_SECONDS: u32 = 30;
/// Allowed range of [`GuardSettings::max_failed_checks`].
pub const MAX_FAILED_CHECKS_RANGE: (u8, u8) = (1, 10);
/// Allowed range of [`GuardSettings::block_seconds`] (1 minute to 1 day).
pub const BLOCK_SECONDS_RANGE: (u32, u32) = (60, 86_400);
/// Allowed range of [`GuardSettings::resend_cooldown_seconds`] (up to 1 hour).
pub const RESEND_COOLDOWN_RANGE: (u32, u32) = (0, 3_600);

/// What a send to a phone with a pending code does, once the cooldown has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResendPolicy {
    /// Same verification (id, expiry, attempts) with a fresh code; see the module docs.
    #[default]
    ResendSame,
    /// Cancel the pending verification and start a new one.
    Replace,
}

impl ResendPolicy {
    /// The wire name (`resend_same`, `replace`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResendPolicy::ResendSame => "resend_same",
            ResendPolicy::Replace => "replace",
        }
    }
}

/// An application's settings for the guard. Missing fields take the defaults;
/// unknown fields are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GuardSettings {
    /// Failed checks that block the phone, 1-10 (default 3).
    pub max_failed_checks: u8,
    /// How long a block lasts, and how long failures are remembered, in seconds:
    /// 60-86400 (default 900).
    pub block_seconds: u32,
    /// Shortest time between two sends while a code is pending, in seconds: 0-3600
    /// (default 30).
    pub resend_cooldown_seconds: u32,
    /// What a send does while a code is pending (default `resend_same`).
    pub resend_policy: ResendPolicy,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            max_failed_checks: DEFAULT_MAX_FAILED_CHECKS,
            block_seconds: DEFAULT_BLOCK_SECONDS,
            resend_cooldown_seconds: DEFAULT_RESEND_COOLDOWN_SECONDS,
            resend_policy: ResendPolicy::default(),
        }
    }
}

impl GuardSettings {
    /// Checks every setting against its range; the error names the first one outside.
    pub fn validate(&self) -> Result<(), GuardError> {
        let within = |v: u32, (lo, hi): (u32, u32)| (lo..=hi).contains(&v);
        let (lo, hi) = MAX_FAILED_CHECKS_RANGE;
        if !(lo..=hi).contains(&self.max_failed_checks) {
            return Err(GuardError::SettingOutOfRange("maxFailedChecks"));
        }
        if !within(self.block_seconds, BLOCK_SECONDS_RANGE) {
            return Err(GuardError::SettingOutOfRange("blockSeconds"));
        }
        if !within(self.resend_cooldown_seconds, RESEND_COOLDOWN_RANGE) {
            return Err(GuardError::SettingOutOfRange("resendCooldownSeconds"));
        }
        Ok(())
    }
}

/// Why the guard refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuardError {
    /// Too many failed checks: checks and new codes are refused before `until`.
    Blocked {
        /// When the block ends.
        until: UnixSeconds,
    },
    /// A code is pending and the last one was sent too recently: retry at `until`.
    Cooldown {
        /// When the next send is allowed.
        until: UnixSeconds,
    },
    /// A setting is outside its range (its camelCase name).
    SettingOutOfRange(&'static str),
}

impl GuardError {
    /// When retrying can succeed, for a `Retry-After` header.
    pub const fn retry_at(self) -> Option<UnixSeconds> {
        match self {
            GuardError::Blocked { until } | GuardError::Cooldown { until } => Some(until),
            GuardError::SettingOutOfRange(_) => None,
        }
    }

    /// A short lowercase message.
    pub const fn message(self) -> &'static str {
        match self {
            GuardError::Blocked { .. } => {
                "the phone number is temporarily blocked after too many failed checks"
            }
            GuardError::Cooldown { .. } => "a code was sent to this phone number too recently",
            GuardError::SettingOutOfRange(_) => "a guard setting is outside its range",
        }
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Blocked { until } => write!(f, "{} (until {until})", self.message()),
            GuardError::Cooldown { until } => write!(f, "{} (retry at {until})", self.message()),
            GuardError::SettingOutOfRange(name) => write!(f, "{name} is outside its range"),
        }
    }
}

impl std::error::Error for GuardError {}

/// What a send should do ([`PhoneGuard::plan_send`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendPlan {
    /// No code is pending: start a new verification.
    New,
    /// Re-send the pending verification with a fresh code ([`crate::otp::OtpRecord::rekey`]).
    ResendSame,
    /// Cancel the pending verification and start a new one.
    Replace,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckOutcome {
    /// The code matched a pending verification.
    Matched,
    /// A pending verification was there and the code did not match it.
    Mismatched,
}

/// What [`PhoneGuard::record_check`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckEffect {
    /// A right code: the failure count is back to 0.
    Cleared,
    /// A failure was counted; `remaining` more block the phone.
    Counted {
        /// Failures still allowed before the block.
        remaining: u8,
    },
    /// This failure blocked the phone until `until`: cancel its pending code.
    Blocked {
        /// When the block ends.
        until: UnixSeconds,
    },
    /// The phone was already blocked: nothing was counted.
    AlreadyBlocked {
        /// When the block ends.
        until: UnixSeconds,
    },
}

/// The guard state of one phone number of one application. Holds times and a
/// count only: no number, no code. Start from `PhoneGuard::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PhoneGuard {
    /// Failures counted towards a block.
    failed_checks: u8,
    /// When the last counted failure happened.
    last_failure_at: Option<UnixSeconds>,
    /// Checks and sends are refused before this instant.
    blocked_until: Option<UnixSeconds>,
    /// When a code was last sent.
    last_sent_at: Option<UnixSeconds>,
}

impl PhoneGuard {
    /// The state as it stands at `now`: an ended block and failures past their
    /// quiet period are dropped. Every decision starts from this.
    fn settled(mut self, settings: &GuardSettings, now: UnixSeconds) -> Self {
        if self.blocked_until.is_some_and(|until| now >= until) {
            self.blocked_until = None;
            self.failed_checks = 0;
            self.last_failure_at = None;
        }
        let quiet = i64::from(settings.block_seconds);
        if self.blocked_until.is_none()
            && self
                .last_failure_at
                .is_some_and(|at| now >= at.saturating_add(quiet))
        {
            self.failed_checks = 0;
            self.last_failure_at = None;
        }
        self
    }

    /// Failures counted towards a block at `now`.
    pub fn failed_checks(&self, settings: &GuardSettings, now: UnixSeconds) -> u8 {
        self.settled(settings, now).failed_checks
    }

    /// When the block in force at `now` ends, if the phone is blocked.
    pub fn blocked_until(&self, now: UnixSeconds) -> Option<UnixSeconds> {
        self.blocked_until.filter(|&until| now < until)
    }

    /// When a code was last sent, if one was.
    pub fn last_sent_at(&self) -> Option<UnixSeconds> {
        self.last_sent_at
    }

    /// Whether a check may be made at `now`: [`GuardError::Blocked`] while blocked.
    pub fn check_allowed(&self, now: UnixSeconds) -> Result<(), GuardError> {
        match self.blocked_until(now) {
            Some(until) => Err(GuardError::Blocked { until }),
            None => Ok(()),
        }
    }

    /// Decides a send at `now`; `code_pending` tells whether the phone has a
    /// pending (sent, unexpired, unused) code. Refused while blocked, and during
    /// the cooldown when a code is pending.
    pub fn plan_send(
        &self,
        settings: &GuardSettings,
        code_pending: bool,
        now: UnixSeconds,
    ) -> Result<SendPlan, GuardError> {
        self.check_allowed(now)?;
        if !code_pending {
            return Ok(SendPlan::New);
        }
        if let Some(sent) = self.last_sent_at {
            let until = sent.saturating_add(i64::from(settings.resend_cooldown_seconds));
            if now < until {
                return Err(GuardError::Cooldown { until });
            }
        }
        Ok(match settings.resend_policy {
            ResendPolicy::ResendSame => SendPlan::ResendSame,
            ResendPolicy::Replace => SendPlan::Replace,
        })
    }

    /// Notes that a code was sent at `now` (after the gateway took it, or before
    /// it is handed over, to reserve the send: see [`PhoneGuard::undo_sent`]).
    pub fn record_sent(&mut self, settings: &GuardSettings, now: UnixSeconds) {
        *self = self.settled(settings, now);
        self.last_sent_at = Some(now);
    }

    /// Takes back the send recorded at `sent_at` whose SMS could not be sent: a
    /// send that never reached the phone starts no cooldown, so the cooldown runs
    /// again from `previous`, the last send before it (what
    /// [`PhoneGuard::last_sent_at`] said before that [`PhoneGuard::record_sent`]).
    /// Nothing changes if another send was recorded since. Failures and blocks
    /// counted in between are kept.
    pub fn undo_sent(&mut self, sent_at: UnixSeconds, previous: Option<UnixSeconds>) {
        if self.last_sent_at == Some(sent_at) {
            self.last_sent_at = previous;
        }
    }

    /// Counts a check made at `now`: a right code clears the count; a wrong one
    /// adds a failure, and the failure that reaches the limit starts a block.
    /// Nothing is counted while blocked.
    pub fn record_check(
        &mut self,
        settings: &GuardSettings,
        outcome: CheckOutcome,
        now: UnixSeconds,
    ) -> CheckEffect {
        *self = self.settled(settings, now);
        if let Some(until) = self.blocked_until(now) {
            return CheckEffect::AlreadyBlocked { until };
        }
        match outcome {
            CheckOutcome::Matched => {
                self.failed_checks = 0;
                self.last_failure_at = None;
                CheckEffect::Cleared
            }
            CheckOutcome::Mismatched => {
                self.failed_checks = self.failed_checks.saturating_add(1);
                self.last_failure_at = Some(now);
                if self.failed_checks >= settings.max_failed_checks {
                    let until = now.saturating_add(i64::from(settings.block_seconds));
                    self.blocked_until = Some(until);
                    CheckEffect::Blocked { until }
                } else {
                    CheckEffect::Counted {
                        remaining: settings.max_failed_checks - self.failed_checks,
                    }
                }
            }
        }
    }

    /// The last instant at which this state still matters (end of the block, of
    /// the failures' quiet period, of the cooldown); `None` when it never will
    /// again. A store may drop the state after it.
    pub fn keep_until(&self, settings: &GuardSettings) -> Option<UnixSeconds> {
        let quiet = i64::from(settings.block_seconds);
        let cooldown = i64::from(settings.resend_cooldown_seconds);
        [
            self.blocked_until,
            self.last_failure_at.map(|at| at.saturating_add(quiet)),
            self.last_sent_at.map(|at| at.saturating_add(cooldown)),
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::error::Error;
    use crate::otp::{OtpRecord, OtpStatus};
    use crate::rng::SeededRandom;
    use crate::secret::SecretKeys;

    const T0: UnixSeconds = 1_700_000_000;

    fn settings() -> GuardSettings {
        GuardSettings::default()
    }

    fn fail(g: &mut PhoneGuard, s: &GuardSettings, now: UnixSeconds) -> CheckEffect {
        g.record_check(s, CheckOutcome::Mismatched, now)
    }

    #[test]
    fn defaults_are_three_failures_fifteen_minutes_thirty_seconds_resend_same() {
        let s = GuardSettings::default();
        assert_eq!(s.max_failed_checks, 3);
        assert_eq!(s.block_seconds, 900);
        assert_eq!(s.resend_cooldown_seconds, 30);
        assert_eq!(s.resend_policy, ResendPolicy::ResendSame);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn the_third_failure_blocks_checks_and_sends_until_the_block_ends() {
        let s = settings();
        let mut g = PhoneGuard::default();
        assert_eq!(fail(&mut g, &s, T0), CheckEffect::Counted { remaining: 2 });
        assert_eq!(
            fail(&mut g, &s, T0 + 1),
            CheckEffect::Counted { remaining: 1 }
        );
        assert_eq!(g.check_allowed(T0 + 2), Ok(()));
        let until = T0 + 2 + 900;
        assert_eq!(fail(&mut g, &s, T0 + 2), CheckEffect::Blocked { until });
        for now in [T0 + 2, T0 + 500, until - 1] {
            assert_eq!(g.check_allowed(now), Err(GuardError::Blocked { until }));
            assert_eq!(
                g.plan_send(&s, false, now),
                Err(GuardError::Blocked { until })
            );
            assert_eq!(
                g.plan_send(&s, true, now),
                Err(GuardError::Blocked { until })
            );
            assert_eq!(g.blocked_until(now), Some(until));
        }
        // Exactly at `until` the block is over, and the count starts again.
        assert_eq!(g.check_allowed(until), Ok(()));
        assert_eq!(g.blocked_until(until), None);
        assert_eq!(g.plan_send(&s, false, until), Ok(SendPlan::New));
        assert_eq!(g.failed_checks(&s, until), 0);
        assert_eq!(
            fail(&mut g, &s, until),
            CheckEffect::Counted { remaining: 2 }
        );
    }

    #[test]
    fn failures_during_a_block_are_not_counted_and_do_not_extend_it() {
        let s = settings();
        let mut g = PhoneGuard::default();
        for t in 0..3 {
            fail(&mut g, &s, T0 + t);
        }
        let until = T0 + 2 + 900;
        let before = g;
        assert_eq!(
            fail(&mut g, &s, T0 + 100),
            CheckEffect::AlreadyBlocked { until }
        );
        assert_eq!(
            g.record_check(&s, CheckOutcome::Matched, T0 + 100),
            CheckEffect::AlreadyBlocked { until }
        );
        assert_eq!(g, before);
    }

    #[test]
    fn a_new_code_does_not_reset_the_count_but_a_right_code_does() {
        let s = settings();
        let mut g = PhoneGuard::default();
        fail(&mut g, &s, T0);
        fail(&mut g, &s, T0 + 1);
        g.record_sent(&s, T0 + 2);
        assert_eq!(g.failed_checks(&s, T0 + 2), 2, "a send keeps the count");
        assert_eq!(
            fail(&mut g, &s, T0 + 3),
            CheckEffect::Blocked { until: T0 + 903 }
        );

        let mut g = PhoneGuard::default();
        fail(&mut g, &s, T0);
        fail(&mut g, &s, T0 + 1);
        assert_eq!(
            g.record_check(&s, CheckOutcome::Matched, T0 + 2),
            CheckEffect::Cleared
        );
        assert_eq!(g.failed_checks(&s, T0 + 2), 0);
        assert_eq!(
            fail(&mut g, &s, T0 + 3),
            CheckEffect::Counted { remaining: 2 }
        );
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_block_period() {
        let s = settings();
        let mut g = PhoneGuard::default();
        fail(&mut g, &s, T0);
        fail(&mut g, &s, T0 + 10);
        // The quiet period runs from the last failure.
        assert_eq!(g.failed_checks(&s, T0 + 10 + 899), 2);
        assert_eq!(g.failed_checks(&s, T0 + 10 + 900), 0);
        assert_eq!(
            fail(&mut g, &s, T0 + 10 + 900),
            CheckEffect::Counted { remaining: 2 }
        );
    }

    #[test]
    fn a_code_pending_within_the_cooldown_is_refused_then_the_policy_decides() {
        let mut s = settings();
        let mut g = PhoneGuard::default();
        assert_eq!(g.plan_send(&s, false, T0), Ok(SendPlan::New));
        assert_eq!(
            g.plan_send(&s, true, T0),
            Ok(SendPlan::ResendSame),
            "no send recorded yet: nothing to cool down from"
        );
        g.record_sent(&s, T0);
        assert_eq!(
            g.plan_send(&s, true, T0 + 29),
            Err(GuardError::Cooldown { until: T0 + 30 })
        );
        assert_eq!(g.plan_send(&s, true, T0 + 30), Ok(SendPlan::ResendSame));
        s.resend_policy = ResendPolicy::Replace;
        assert_eq!(g.plan_send(&s, true, T0 + 30), Ok(SendPlan::Replace));
        // Without a pending code (verified, expired, failed) there is no cooldown.
        assert_eq!(g.plan_send(&s, false, T0 + 1), Ok(SendPlan::New));
        s.resend_cooldown_seconds = 0;
        assert_eq!(g.plan_send(&s, true, T0), Ok(SendPlan::Replace));
    }

    #[test]
    fn an_undone_send_starts_no_cooldown_and_keeps_what_happened_meanwhile() {
        let s = settings();
        let mut g = PhoneGuard::default();
        g.record_sent(&s, T0);
        let previous = g.last_sent_at();
        g.record_sent(&s, T0 + 40);
        fail(&mut g, &s, T0 + 41);
        assert_eq!(
            g.plan_send(&s, true, T0 + 42),
            Err(GuardError::Cooldown { until: T0 + 70 })
        );
        g.undo_sent(T0 + 40, previous);
        assert_eq!(g.last_sent_at(), Some(T0));
        assert_eq!(g.plan_send(&s, true, T0 + 42), Ok(SendPlan::ResendSame));
        assert_eq!(g.failed_checks(&s, T0 + 42), 1, "the failure is kept");
        // A later send is not taken back by an old undo.
        g.record_sent(&s, T0 + 50);
        g.undo_sent(T0 + 40, previous);
        assert_eq!(g.last_sent_at(), Some(T0 + 50));
        let mut first = PhoneGuard::default();
        first.record_sent(&s, T0);
        first.undo_sent(T0, None);
        assert_eq!(first, PhoneGuard::default());
        assert_eq!(
            serde_json::to_string(&SendPlan::ResendSame).unwrap(),
            r#""resend_same""#
        );
    }

    #[test]
    fn keep_until_covers_the_block_the_quiet_period_and_the_cooldown() {
        let s = settings();
        let mut g = PhoneGuard::default();
        assert_eq!(g.keep_until(&s), None);
        g.record_sent(&s, T0);
        assert_eq!(g.keep_until(&s), Some(T0 + 30));
        fail(&mut g, &s, T0 + 5);
        assert_eq!(g.keep_until(&s), Some(T0 + 905));
        fail(&mut g, &s, T0 + 6);
        fail(&mut g, &s, T0 + 7);
        assert_eq!(g.keep_until(&s), Some(T0 + 907));
    }

    #[test]
    fn settings_outside_their_ranges_are_named() {
        let bad = |f: &dyn Fn(&mut GuardSettings)| {
            let mut s = GuardSettings::default();
            f(&mut s);
            s.validate()
        };
        assert_eq!(
            bad(&|s| s.max_failed_checks = 0),
            Err(GuardError::SettingOutOfRange("maxFailedChecks"))
        );
        assert_eq!(
            bad(&|s| s.max_failed_checks = 11),
            Err(GuardError::SettingOutOfRange("maxFailedChecks"))
        );
        assert_eq!(
            bad(&|s| s.block_seconds = 59),
            Err(GuardError::SettingOutOfRange("blockSeconds"))
        );
        assert_eq!(
            bad(&|s| s.block_seconds = 86_401),
            Err(GuardError::SettingOutOfRange("blockSeconds"))
        );
        assert_eq!(
            bad(&|s| s.resend_cooldown_seconds = 3_601),
            Err(GuardError::SettingOutOfRange("resendCooldownSeconds"))
        );
        assert_eq!(bad(&|s| s.resend_cooldown_seconds = 0), Ok(()));
        assert_eq!(bad(&|s| s.max_failed_checks = 10), Ok(()));
    }

    #[test]
    fn settings_and_state_round_trip_through_json_with_defaults() {
        let s: GuardSettings =
            serde_json::from_str(r#"{"maxFailedChecks": 5, "resendPolicy": "replace"}"#).unwrap();
        assert_eq!(s.max_failed_checks, 5);
        assert_eq!(s.block_seconds, 900, "missing fields take defaults");
        assert_eq!(s.resend_policy, ResendPolicy::Replace);
        assert!(serde_json::from_str::<GuardSettings>(r#"{"blockSecs": 5}"#).is_err());
        assert!(serde_json::from_str::<GuardSettings>(r#"{"resendPolicy": "same"}"#).is_err());
        let back: GuardSettings =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);

        let mut g = PhoneGuard::default();
        fail(&mut g, &settings(), T0);
        g.record_sent(&settings(), T0);
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(
            json,
            r#"{"failedChecks":1,"lastFailureAt":1700000000,"blockedUntil":null,"lastSentAt":1700000000}"#
        );
        assert_eq!(serde_json::from_str::<PhoneGuard>(&json).unwrap(), g);
        assert_eq!(
            serde_json::from_str::<PhoneGuard>("{}").unwrap(),
            PhoneGuard::default()
        );
        assert_eq!(ResendPolicy::Replace.as_str(), "replace");
    }

    #[test]
    fn errors_say_when_to_retry() {
        assert_eq!(GuardError::Blocked { until: 5 }.retry_at(), Some(5));
        assert_eq!(GuardError::Cooldown { until: 7 }.retry_at(), Some(7));
        assert_eq!(GuardError::SettingOutOfRange("x").retry_at(), None);
        assert!(GuardError::Blocked { until: 5 }
            .to_string()
            .contains("blocked"));
    }

    fn keys() -> SecretKeys {
        SecretKeys::new(vec![b"test-key-test-key-test-key".to_vec()]).unwrap()
    }

    fn record(status: OtpStatus) -> OtpRecord {
        let keys = keys();
        let id = "123e4567-e89b-42d3-a456-426614174000";
        OtpRecord {
            otp_id: id.into(),
            track_id: None,
            phone_masked: "+33*******111".into(),
            country_iso: "FR".into(),
            status,
            cost: 0.0,
            parts: 1,
            max_attempts: 5,
            attempts: 2,
            ttl: 300,
            otp_callback_url: None,
            created_at: T0,
            expires_at: T0 + 300,
            updated_at: T0,
            pin_digest: keys.pin_digest(id, "1234"),
        }
    }

    #[test]
    fn rekey_swaps_the_code_and_keeps_id_expiry_and_attempts() {
        let keys = keys();
        let mut r = record(OtpStatus::Pending);
        let before = r.clone();
        let digest = keys.pin_digest(&r.otp_id, "5678");
        assert_eq!(r.rekey(digest, T0 + 100), Ok(()));
        assert_eq!(
            (&r.otp_id, r.expires_at, r.attempts, r.status, r.updated_at),
            (
                &before.otp_id,
                before.expires_at,
                before.attempts,
                before.status,
                before.updated_at
            )
        );
        let mut old = r.clone();
        assert_eq!(
            old.verify(Some("1234"), &keys, T0 + 101).result,
            Err(Error::InvalidPin),
            "the old code stops working"
        );
        assert_eq!(r.verify(Some("5678"), &keys, T0 + 101).result, Ok(()));
    }

    #[test]
    fn rekey_leaves_a_final_or_expired_record_untouched() {
        for (status, now, error) in [
            (OtpStatus::Pending, T0 + 300, Error::OtpExpired),
            (OtpStatus::Verified, T0, Error::OtpAlreadyVerified),
            (OtpStatus::Cancelled, T0, Error::OtpCancelled),
            (OtpStatus::Failed, T0, Error::OtpFailed),
        ] {
            let mut r = record(status);
            let before = r.clone();
            assert_eq!(r.rekey("00".repeat(32), now), Err(error));
            assert_eq!(r, before, "{status:?}");
        }
    }

    /// Property: whatever the sequence of checks, sends and clock moves, the phone
    /// is never blocked without `max` failures inside the window, never more than
    /// `max` failures are counted, no check is counted while blocked, and a block
    /// never lasts longer than `block_seconds`.
    #[test]
    fn no_sequence_of_calls_breaks_the_blocking_invariants() {
        let mut rng = SeededRandom::new(77);
        for _ in 0..2_000 {
            let s = GuardSettings {
                max_failed_checks: 1 + (rng.next_u64() % 5) as u8,
                block_seconds: 60 + (rng.next_u64() % 600) as u32,
                resend_cooldown_seconds: (rng.next_u64() % 60) as u32,
                resend_policy: if rng.next_u64() % 2 == 0 {
                    ResendPolicy::ResendSame
                } else {
                    ResendPolicy::Replace
                },
            };
            let mut g = PhoneGuard::default();
            let mut now = T0;
            for _ in 0..40 {
                now += (rng.next_u64() % 200) as i64;
                let blocked_before = g.blocked_until(now);
                match rng.next_u64() % 4 {
                    0 => {
                        let plan = g.plan_send(&s, rng.next_u64() % 2 == 0, now);
                        if blocked_before.is_some() {
                            assert!(matches!(plan, Err(GuardError::Blocked { .. })));
                        } else if plan.is_ok() {
                            g.record_sent(&s, now);
                        }
                    }
                    1 => {
                        let effect = g.record_check(&s, CheckOutcome::Matched, now);
                        if blocked_before.is_none() {
                            assert_eq!(effect, CheckEffect::Cleared);
                            assert_eq!(g.failed_checks(&s, now), 0);
                        }
                    }
                    _ => {
                        let before = g;
                        let effect = g.record_check(&s, CheckOutcome::Mismatched, now);
                        match effect {
                            CheckEffect::AlreadyBlocked { until } => {
                                assert_eq!(Some(until), blocked_before);
                                assert_eq!(g, before.settled(&s, now));
                            }
                            CheckEffect::Blocked { until } => {
                                assert!(blocked_before.is_none());
                                assert_eq!(until, now + i64::from(s.block_seconds));
                                assert_eq!(g.failed_checks(&s, now), s.max_failed_checks);
                            }
                            CheckEffect::Counted { remaining } => {
                                assert!(remaining >= 1);
                                assert_eq!(
                                    g.failed_checks(&s, now) + remaining,
                                    s.max_failed_checks
                                );
                            }
                            CheckEffect::Cleared => panic!("a failure cleared the count"),
                        }
                    }
                }
                assert!(g.failed_checks(&s, now) <= s.max_failed_checks);
                if let Some(until) = g.blocked_until(now) {
                    assert!(until - now <= i64::from(s.block_seconds));
                    assert!(g.check_allowed(now).is_err());
                }
            }
        }
    }
}
