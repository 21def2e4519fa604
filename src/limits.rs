//! Rate limits against SMS pumping and brute force: counters over fixed time
//! windows plus a cooldown, sans-IO. The caller keeps one [`LimitState`] per
//! bucket (a phone, an application, a client IP, a daily budget) where updates
//! are serialised (a Durable Object), and asks [`LimitState::take`] before each
//! send or check; a refusal says when to retry and feeds the `X-Rate-Limit-*`
//! headers.
//!
//! Windows are aligned to the clock (an hour window runs from :00 to :00), so a
//! count is exact within its window; a burst straddling two windows can reach
//! twice the cap over a sliding period of the same length, which the shorter
//! windows (e.g. per minute under per hour) bound.

use crate::settings::PriceTable;
use crate::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One cap: at most `max` units per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// Length of the window in seconds (60 = per minute, 86400 = per day).
    pub window_seconds: u32,
    /// Units allowed in one window.
    pub max: u64,
}

/// The caps of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// At least this many seconds between two takes (0: none).
    pub cooldown_seconds: u32,
    /// Caps per window; all must allow a take.
    pub windows: Vec<Window>,
}

/// Why a take was refused, and the figures for `Retry-After` and `X-Rate-Limit-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// Seconds until a take can succeed.
    pub retry_after: u32,
    /// The cap that refused (`max` of the window, 1 for the cooldown).
    pub limit: u64,
    /// When that window (or cooldown) ends, Unix seconds.
    pub reset: UnixSeconds,
}

/// What a successful take leaves, for the `X-Rate-Limit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allowance {
    /// The tightest cap.
    pub limit: u64,
    /// Units left under it.
    pub remaining: u64,
    /// When its window ends, Unix seconds.
    pub reset: UnixSeconds,
}

/// The counters of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LimitState {
    /// (window length, window start, units used), one per window seen.
    counts: Vec<(u32, UnixSeconds, u64)>,
    /// When the last take happened.
    last_at: Option<UnixSeconds>,
}

fn window_start(now: UnixSeconds, length: u32) -> UnixSeconds {
    now - now.rem_euclid(i64::from(length.max(1)))
}

impl LimitState {
    /// Units used in the window of `length` that contains `now`.
    pub fn used(&self, length: u32, now: UnixSeconds) -> u64 {
        let start = window_start(now, length);
        self.counts
            .iter()
            .find(|(l, s, _)| *l == length && *s == start)
            .map_or(0, |c| c.2)
    }

    /// Takes `units` if every cap and the cooldown allow it (and then counts
    /// them); otherwise changes nothing and says when to retry. Zero units only
    /// check.
    pub fn take(
        &mut self,
        limits: &Limits,
        units: u64,
        now: UnixSeconds,
    ) -> Result<Allowance, Refusal> {
        if let Some(last) = self.last_at {
            let ready = last + i64::from(limits.cooldown_seconds);
            if limits.cooldown_seconds > 0 && now < ready && units > 0 {
                return Err(Refusal {
                    retry_after: (ready - now) as u32,
                    limit: 1,
                    reset: ready,
                });
            }
        }
        let mut tightest: Option<Allowance> = None;
        for w in &limits.windows {
            let used = self.used(w.window_seconds, now);
            let reset = window_start(now, w.window_seconds) + i64::from(w.window_seconds.max(1));
            if used.saturating_add(units) > w.max {
                return Err(Refusal {
                    retry_after: (reset - now) as u32,
                    limit: w.max,
                    reset,
                });
            }
            let remaining = w.max - used - units;
            if tightest.is_none_or(|t| remaining < t.remaining) {
                tightest = Some(Allowance {
                    limit: w.max,
                    remaining,
                    reset,
                });
            }
        }
        if units > 0 {
            // Forget windows that have ended, then count.
            self.counts.retain(|(l, s, _)| *s == window_start(now, *l));
            for w in &limits.windows {
                let start = window_start(now, w.window_seconds);
                match self
                    .counts
                    .iter_mut()
                    .find(|(l, s, _)| *l == w.window_seconds && *s == start)
                {
                    Some(c) => c.2 += units,
                    None => self.counts.push((w.window_seconds, start, units)),
                }
            }
            self.last_at = Some(now);
        }
        Ok(tightest.unwrap_or(Allowance {
            limit: u64::MAX,
            remaining: u64::MAX,
            reset: now,
        }))
    }

    /// Returns `units` taken at `taken_at` (e.g. the cost of an SMS that could not
    /// be sent) to the windows that still hold them. The cooldown stays.
    pub fn give_back(&mut self, units: u64, taken_at: UnixSeconds) {
        for (length, start, used) in &mut self.counts {
            if *start == window_start(taken_at, *length) {
                *used = used.saturating_sub(units);
            }
        }
    }

    /// How long a store must keep this state: until its longest window or the
    /// cooldown ends (seconds from `now`, at least 60 for Workers KV).
    pub fn keep_for(&self, limits: &Limits, now: UnixSeconds) -> u32 {
        let windows = limits
            .windows
            .iter()
            .map(|w| window_start(now, w.window_seconds) + i64::from(w.window_seconds) - now);
        let cooldown = self
            .last_at
            .map(|l| l + i64::from(limits.cooldown_seconds) - now);
        windows
            .chain(cooldown)
            .max()
            .unwrap_or(0)
            .clamp(60, i64::from(u32::MAX)) as u32
    }
}

/// An application's protection against SMS pumping and brute force. Every cap is
/// per application; 0 turns a cap off.
///
/// Caps on spending count **SMS parts** (a 15-part SMS counts 15): `appPerMinute`,
/// `dailyBudget` (through the parts' price) and `countryPartsPerDay`; caps per phone
/// number and per client IP count messages. [`SendPolicy::units`] gives each
/// bucket's units for one SMS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SendPolicy {
    /// Seconds between two SMS to one phone number.
    pub phone_cooldown_seconds: u32,
    /// SMS to one phone number per hour.
    pub phone_per_hour: u64,
    /// SMS to one phone number per day.
    pub phone_per_day: u64,
    /// SMS parts of the whole application per minute.
    pub app_per_minute: u64,
    /// SMS requested from one client IP per hour.
    pub ip_sends_per_hour: u64,
    /// PIN checks from one client IP per hour.
    pub ip_checks_per_hour: u64,
    /// Destination countries allowed (ISO codes); empty allows all but the denied.
    pub allowed_countries: Vec<String>,
    /// Destination countries refused (ISO codes).
    pub denied_countries: Vec<String>,
    /// Most the application may spend on SMS per UTC day, in its price units; 0 = no
    /// budget. Only accepted when the prices cover every country the application
    /// sends to ([`SendPolicy::validate_with_prices`]).
    pub daily_budget: f64,
    /// Most SMS parts one message may have, 0-255 (default 3; 0 = no limit): a
    /// longer rendering is refused before anything is stored or sent
    /// ([`SendPolicy::check_parts`]).
    pub max_parts: u32,
    /// SMS parts per UTC day to each destination country (default 10,000 per
    /// country); works without prices.
    pub country_parts_per_day: CountryCaps,
}

/// A cap per destination country: `countries` by ISO code, `default` for the rest;
/// 0 turns a cap off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CountryCaps {
    /// The cap of a country without an entry of its own.
    pub default: u64,
    /// Caps by ISO 3166-1 alpha-2 code (uppercase).
    pub countries: BTreeMap<String, u64>,
}

/// Default of [`CountryCaps::default`] in [`SendPolicy::country_parts_per_day`].
pub const DEFAULT_COUNTRY_PARTS_PER_DAY: u64 = 10_000;
/// Default of [`SendPolicy::max_parts`].
pub const DEFAULT_MAX_PARTS: u32 = 3;

impl Default for CountryCaps {
    fn default() -> Self {
        CountryCaps {
            default: DEFAULT_COUNTRY_PARTS_PER_DAY,
            countries: BTreeMap::new(),
        }
    }
}

impl CountryCaps {
    /// The cap of `country_iso`.
    pub fn get(&self, country_iso: &str) -> u64 {
        self.countries
            .get(country_iso)
            .copied()
            .unwrap_or(self.default)
    }
}

/// What one SMS takes from each bucket of the send policy ([`SendPolicy::units`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendUnits {
    /// The phone number's bucket: 1 message.
    pub phone: u64,
    /// The client IP's bucket: 1 message.
    pub ip: u64,
    /// The application's per-minute bucket: the parts.
    pub app: u64,
    /// The destination country's daily parts bucket: the parts.
    pub country_parts: u64,
    /// The daily budget: the cost in budget units (0 without a budget).
    pub budget: u64,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            phone_cooldown_seconds: 30,
            phone_per_hour: 5,
            phone_per_day: 10,
            app_per_minute: 600,
            ip_sends_per_hour: 30,
            ip_checks_per_hour: 120,
            allowed_countries: Vec::new(),
            denied_countries: Vec::new(),
            daily_budget: 0.0,
            max_parts: DEFAULT_MAX_PARTS,
            country_parts_per_day: CountryCaps::default(),
        }
    }
}

/// Budgets are counted in millionths of the price unit, as whole numbers.
pub const BUDGET_UNITS_PER_PRICE_UNIT: f64 = 1e6;

/// Caps of `max` per `window_seconds`, none when `max` is 0.
fn cap(window_seconds: u32, max: u64) -> Option<Window> {
    (max > 0).then_some(Window {
        window_seconds,
        max,
    })
}

impl SendPolicy {
    /// Checks every field: counts within sane bounds, countries known.
    pub fn validate(&self) -> crate::Result<()> {
        let known = |list: &[String]| {
            list.iter().all(|c| {
                crate::phone::is_known_country(c) && !c.bytes().any(|b| b.is_ascii_lowercase())
            })
        };
        let ok = self.phone_cooldown_seconds <= 86_400
            && [
                self.phone_per_hour,
                self.phone_per_day,
                self.app_per_minute,
                self.ip_sends_per_hour,
                self.ip_checks_per_hour,
            ]
            .iter()
            .all(|&n| n <= 1_000_000)
            && known(&self.allowed_countries)
            && known(&self.denied_countries)
            && self.daily_budget.is_finite()
            && self.daily_budget >= 0.0;
        if !ok {
            return Err(crate::Error::RateLimitSettingInvalid);
        }
        let caps = &self.country_parts_per_day;
        let parts_ok = self.max_parts <= 255
            && caps.default <= 100_000_000
            && caps.countries.iter().all(|(c, &n)| {
                n <= 100_000_000
                    && crate::phone::is_known_country(c)
                    && !c.bytes().any(|b| b.is_ascii_lowercase())
            });
        if parts_ok {
            Ok(())
        } else {
            Err(crate::Error::PartsSettingInvalid)
        }
    }

    /// [`SendPolicy::validate`], and a daily budget only with prices that cover
    /// every country the application sends to: a price above 0 for each allowed
    /// country, or, when all are allowed, a default price above 0 and no country
    /// priced 0 that is not denied ([`crate::Error::BudgetNeedsPrices`]). A country
    /// priced 0 would send for free as far as the budget knows.
    pub fn validate_with_prices(&self, prices: &PriceTable) -> crate::Result<()> {
        self.validate()?;
        if self.daily_budget <= 0.0 {
            return Ok(());
        }
        let priced = |c: &str| prices.price_per_part(c) > 0.0;
        let covered = if self.allowed_countries.is_empty() {
            prices.default > 0.0
                && prices
                    .countries
                    .iter()
                    .all(|(c, &p)| p > 0.0 || self.denied_countries.contains(c))
        } else {
            self.allowed_countries
                .iter()
                .filter(|c| !self.denied_countries.contains(c))
                .all(|c| priced(c))
        };
        if covered {
            Ok(())
        } else {
            Err(crate::Error::BudgetNeedsPrices)
        }
    }

    /// Refuses a message of more than `maxParts` parts ([`crate::Error::SmsTooManyParts`]).
    pub fn check_parts(&self, parts: u32) -> crate::Result<()> {
        if self.max_parts > 0 && parts > self.max_parts {
            Err(crate::Error::SmsTooManyParts)
        } else {
            Ok(())
        }
    }

    /// What one SMS of `parts` parts costing `cost` takes from each bucket.
    pub fn units(&self, parts: u32, cost: f64) -> SendUnits {
        SendUnits {
            phone: 1,
            ip: 1,
            app: u64::from(parts),
            country_parts: u64::from(parts),
            budget: if self.daily_budget > 0.0 {
                budget_units(cost)
            } else {
                0
            },
        }
    }

    /// The caps of one destination country's daily parts bucket.
    pub fn country_parts_limits(&self, country_iso: &str) -> Limits {
        Limits {
            cooldown_seconds: 0,
            windows: cap(86_400, self.country_parts_per_day.get(country_iso))
                .into_iter()
                .collect(),
        }
    }

    /// Whether SMS may go to `country_iso`.
    pub fn check_country(&self, country_iso: &str) -> crate::Result<()> {
        let allowed = self.allowed_countries.is_empty()
            || self.allowed_countries.iter().any(|c| c == country_iso);
        if allowed && !self.denied_countries.iter().any(|c| c == country_iso) {
            Ok(())
        } else {
            Err(crate::Error::CountryNotAllowed)
        }
    }

    /// The caps of one phone number's bucket.
    pub fn phone_limits(&self) -> Limits {
        Limits {
            cooldown_seconds: self.phone_cooldown_seconds,
            windows: [
                cap(3600, self.phone_per_hour),
                cap(86_400, self.phone_per_day),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    /// The caps of the application's bucket, in SMS parts.
    pub fn app_limits(&self) -> Limits {
        Limits {
            cooldown_seconds: 0,
            windows: cap(60, self.app_per_minute).into_iter().collect(),
        }
    }

    /// The caps of one client IP's sends.
    pub fn ip_send_limits(&self) -> Limits {
        Limits {
            cooldown_seconds: 0,
            windows: cap(3600, self.ip_sends_per_hour).into_iter().collect(),
        }
    }

    /// The caps of one client IP's checks.
    pub fn ip_check_limits(&self) -> Limits {
        Limits {
            cooldown_seconds: 0,
            windows: cap(3600, self.ip_checks_per_hour).into_iter().collect(),
        }
    }

    /// The daily budget's cap, in budget units (see [`BUDGET_UNITS_PER_PRICE_UNIT`]).
    pub fn budget_limits(&self) -> Limits {
        Limits {
            cooldown_seconds: 0,
            windows: cap(86_400, budget_units(self.daily_budget))
                .into_iter()
                .collect(),
        }
    }
}

/// A cost in budget units.
pub fn budget_units(cost: f64) -> u64 {
    (cost * BUDGET_UNITS_PER_PRICE_UNIT).round().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const HOUR: u32 = 3600;
    const T: UnixSeconds = 1_800_000_000; // a multiple of 3600: the start of an hour

    fn limits(cooldown: u32, windows: &[(u32, u64)]) -> Limits {
        Limits {
            cooldown_seconds: cooldown,
            windows: windows
                .iter()
                .map(|&(w, m)| Window {
                    window_seconds: w,
                    max: m,
                })
                .collect(),
        }
    }

    #[test]
    fn a_window_allows_exactly_max_then_refuses_until_it_ends() {
        let l = limits(0, &[(HOUR, 3)]);
        let mut s = LimitState::default();
        for i in 0..3 {
            let a = s.take(&l, 1, T + i).unwrap();
            assert_eq!(a.remaining, 2 - i as u64);
        }
        let r = s.take(&l, 1, T + 10).unwrap_err();
        assert_eq!(
            (r.retry_after, r.limit, r.reset),
            (HOUR - 10, 3, T + i64::from(HOUR))
        );
        assert!(s.take(&l, 1, T + i64::from(HOUR)).is_ok(), "a new window");
    }

    #[test]
    fn a_refusal_changes_nothing() {
        let l = limits(0, &[(60, 1)]);
        let mut s = LimitState::default();
        s.take(&l, 1, T).unwrap();
        let before = s.clone();
        assert!(s.take(&l, 1, T + 1).is_err());
        assert_eq!(s, before);
    }

    #[test]
    fn the_cooldown_spaces_takes() {
        let l = limits(30, &[]);
        let mut s = LimitState::default();
        s.take(&l, 1, T).unwrap();
        assert_eq!(s.take(&l, 1, T + 10).unwrap_err().retry_after, 20);
        assert!(s.take(&l, 1, T + 30).is_ok());
    }

    #[test]
    fn every_window_must_allow_and_the_tightest_is_reported() {
        let l = limits(0, &[(60, 2), (HOUR, 5), (86_400, 100)]);
        let mut s = LimitState::default();
        assert_eq!(s.take(&l, 1, T).unwrap().limit, 2);
        s.take(&l, 1, T + 1).unwrap();
        assert_eq!(s.take(&l, 1, T + 2).unwrap_err().limit, 2, "per minute");
        for m in 1..4 {
            s.take(&l, 1, T + 60 * m).unwrap();
        }
        assert_eq!(s.take(&l, 1, T + 300).unwrap_err().limit, 5, "per hour");
        assert_eq!(s.used(86_400, T + 300), 5);
    }

    #[test]
    fn units_count_amounts_such_as_a_budget() {
        let l = limits(0, &[(86_400, 1_000)]);
        let mut s = LimitState::default();
        s.take(&l, 600, T).unwrap();
        assert!(s.take(&l, 500, T + 1).is_err());
        assert_eq!(s.take(&l, 400, T + 2).unwrap().remaining, 0);
        assert!(s.take(&l, 0, T + 3).is_ok(), "zero units only check");
    }

    #[test]
    fn old_windows_are_forgotten_so_state_stays_small() {
        let l = limits(0, &[(60, 10)]);
        let mut s = LimitState::default();
        for m in 0..100 {
            s.take(&l, 1, T + 60 * m).unwrap();
        }
        assert_eq!(s.counts.len(), 1);
        assert_eq!(s.keep_for(&l, T + 6000), 60);
    }

    #[test]
    fn given_back_units_can_be_taken_again() {
        let l = limits(0, &[(86_400, 100)]);
        let mut s = LimitState::default();
        s.take(&l, 100, T).unwrap();
        s.give_back(40, T);
        assert_eq!(s.take(&l, 40, T + 1).unwrap().remaining, 0);
    }

    #[test]
    fn countries_are_allowed_denied_or_open() {
        let open = SendPolicy::default();
        assert_eq!(open.check_country("FR"), Ok(()));
        let only = SendPolicy {
            allowed_countries: vec!["FR".into(), "BE".into()],
            ..Default::default()
        };
        assert_eq!(only.check_country("BE"), Ok(()));
        assert_eq!(
            only.check_country("DE"),
            Err(crate::Error::CountryNotAllowed)
        );
        let deny = SendPolicy {
            denied_countries: vec!["NG".into()],
            ..Default::default()
        };
        assert_eq!(
            deny.check_country("NG"),
            Err(crate::Error::CountryNotAllowed)
        );
        assert_eq!(deny.check_country("FR"), Ok(()));
    }

    #[test]
    fn policy_settings_are_checked_and_zero_turns_a_cap_off() {
        SendPolicy::default().validate().unwrap();
        let bad = SendPolicy {
            allowed_countries: vec!["ZZ".into()],
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(crate::Error::RateLimitSettingInvalid));
        let bad = SendPolicy {
            daily_budget: -1.0,
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(crate::Error::RateLimitSettingInvalid));
        let off = SendPolicy {
            phone_per_hour: 0,
            phone_per_day: 0,
            phone_cooldown_seconds: 0,
            ..Default::default()
        };
        assert!(off.phone_limits().windows.is_empty());
        assert_eq!(
            SendPolicy {
                daily_budget: 2.5,
                ..Default::default()
            }
            .budget_limits()
            .windows[0]
                .max,
            2_500_000
        );
    }

    #[test]
    fn settings_saved_before_parts_caps_still_parse_with_the_new_defaults() {
        let old = r#"{"phoneCooldownSeconds":30,"phonePerHour":5,"phonePerDay":10,
            "appPerMinute":600,"ipSendsPerHour":30,"ipChecksPerHour":120,
            "allowedCountries":[],"deniedCountries":[],"dailyBudget":0}"#;
        let p: SendPolicy = serde_json::from_str(old).unwrap();
        assert_eq!(p, SendPolicy::default());
        assert_eq!(p.max_parts, 3);
        assert_eq!(p.country_parts_per_day.get("FR"), 10_000);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["maxParts"], 3);
        assert_eq!(json["countryPartsPerDay"]["default"], 10_000);
    }

    #[test]
    fn a_message_longer_than_max_parts_is_refused() {
        let p = SendPolicy::default();
        assert_eq!(p.check_parts(3), Ok(()));
        assert_eq!(p.check_parts(4), Err(crate::Error::SmsTooManyParts));
        let off = SendPolicy {
            max_parts: 0,
            ..Default::default()
        };
        assert_eq!(off.check_parts(15), Ok(()));
    }

    #[test]
    fn spend_caps_count_parts_and_per_number_caps_count_messages() {
        let p = SendPolicy {
            daily_budget: 10.0,
            ..Default::default()
        };
        let u = p.units(15, 0.75);
        assert_eq!((u.phone, u.ip, u.app, u.country_parts), (1, 1, 15, 15));
        assert_eq!(u.budget, 750_000);
        assert_eq!(SendPolicy::default().units(2, 0.1).budget, 0, "no budget");
        // A 15-part SMS takes 15 of the 600 parts per minute.
        let mut s = LimitState::default();
        let app = p.app_limits();
        assert_eq!(s.take(&app, u.app, T).unwrap().remaining, 585);
    }

    #[test]
    fn the_country_parts_cap_applies_per_country_with_a_default() {
        let p: SendPolicy =
            serde_json::from_str(r#"{"countryPartsPerDay":{"default":100,"countries":{"NG":20}}}"#)
                .unwrap();
        p.validate().unwrap();
        let ng = p.country_parts_limits("NG");
        let mut s = LimitState::default();
        assert!(s.take(&ng, 15, T).is_ok());
        let r = s.take(&ng, 6, T + 1).unwrap_err();
        assert_eq!(r.limit, 20);
        assert_eq!(p.country_parts_limits("FR").windows[0].max, 100);
        let off: SendPolicy =
            serde_json::from_str(r#"{"countryPartsPerDay":{"default":0}}"#).unwrap();
        assert!(off.country_parts_limits("FR").windows.is_empty());
        for bad in [
            r#"{"maxParts":256}"#,
            r#"{"countryPartsPerDay":{"countries":{"ZZ":1}}}"#,
            r#"{"countryPartsPerDay":{"countries":{"fr":1}}}"#,
            r#"{"countryPartsPerDay":{"default":100000001}}"#,
        ] {
            let p: SendPolicy = serde_json::from_str(bad).unwrap();
            assert_eq!(
                p.validate(),
                Err(crate::Error::PartsSettingInvalid),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<SendPolicy>(r#"{"countryPartsPerDay":{"cap":1}}"#).is_err());
    }

    #[test]
    fn a_daily_budget_needs_prices_for_every_country_sent_to() {
        let priced = |default: f64, countries: &[(&str, f64)]| PriceTable {
            default,
            countries: countries.iter().map(|&(c, p)| (c.to_owned(), p)).collect(),
        };
        let budget = |allowed: &[&str], denied: &[&str]| SendPolicy {
            daily_budget: 5.0,
            allowed_countries: allowed.iter().map(|c| (*c).to_owned()).collect(),
            denied_countries: denied.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        };
        let no_prices = PriceTable::default();
        assert_eq!(
            budget(&[], &[]).validate_with_prices(&no_prices),
            Err(crate::Error::BudgetNeedsPrices)
        );
        assert_eq!(
            budget(&[], &[]).validate_with_prices(&priced(0.05, &[])),
            Ok(())
        );
        assert_eq!(
            budget(&[], &[]).validate_with_prices(&priced(0.05, &[("NG", 0.0)])),
            Err(crate::Error::BudgetNeedsPrices),
            "a free country the app may send to"
        );
        assert_eq!(
            budget(&[], &["NG"]).validate_with_prices(&priced(0.05, &[("NG", 0.0)])),
            Ok(())
        );
        let fr_de = priced(0.0, &[("FR", 0.07), ("DE", 0.08)]);
        assert_eq!(
            budget(&["FR", "DE"], &[]).validate_with_prices(&fr_de),
            Ok(())
        );
        assert_eq!(
            budget(&["FR", "GB"], &[]).validate_with_prices(&fr_de),
            Err(crate::Error::BudgetNeedsPrices)
        );
        // Without a budget, and for the parts cap, prices do not matter.
        assert_eq!(
            SendPolicy::default().validate_with_prices(&no_prices),
            Ok(())
        );
    }

    /// Property: over any sequence of takes, no window ever holds more than its max.
    #[test]
    fn no_sequence_of_takes_exceeds_a_cap() {
        let l = limits(2, &[(60, 4), (600, 9)]);
        let mut rng = crate::rng::SeededRandom::new(11);
        let mut s = LimitState::default();
        let mut now = T;
        for _ in 0..20_000 {
            now += (rng.next_u64() % 20) as i64;
            let _ = s.take(&l, 1 + rng.next_u64() % 2, now);
            assert!(s.used(60, now) <= 4 && s.used(600, now) <= 9);
        }
    }
}
