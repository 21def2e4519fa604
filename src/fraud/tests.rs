#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use crate::phone::parse_phone;

const KEY: &[u8] = b"fraud-test-hash-key-0123456789";
/// A Monday 00:00 UTC.
const T0: UnixSeconds = 1_800_576_000;

/// `+44 7400 rr nnnn`: range `447400rr`, number `nnnn` in it.
fn phone(range: u32, n: u32) -> PhoneNumber {
    parse_phone(&format!("+447400{range:02}{n:04}"), None).unwrap()
}

/// One application's guard: its settings and the states of its keys.
struct Guard {
    s: FraudSettings,
    ranges: std::collections::BTreeMap<String, RangeState>,
    countries: std::collections::BTreeMap<String, CountryState>,
    next_otp: u32,
}

impl Guard {
    fn new(s: FraudSettings) -> Guard {
        s.validate().unwrap();
        Guard {
            s,
            ranges: Default::default(),
            countries: Default::default(),
            next_otp: 0,
        }
    }

    /// A send of a new OTP.
    fn send(&mut self, p: &PhoneNumber, now: i64) -> (OtpTag, Verdict) {
        self.next_otp += 1;
        let otp = OtpTag(self.next_otp);
        (otp, self.resend(p, otp, now))
    }

    /// A send of `otp` (new or pending).
    fn resend(&mut self, p: &PhoneNumber, otp: OtpTag, now: i64) -> Verdict {
        let d = Destination::new(&self.s, KEY, p);
        let c = self.countries.entry(d.country.clone()).or_default();
        let r = self.ranges.entry(d.range.clone()).or_default();
        self.s.admit(&d, otp, c, r, now)
    }

    fn report(&mut self, p: &PhoneNumber, otp: OtpTag, outcome: Outcome, now: i64) -> bool {
        let d = Destination::new(&self.s, KEY, p);
        let c = self.countries.entry(d.country.clone()).or_default();
        let r = self.ranges.entry(d.range.clone()).or_default();
        self.s.record_outcome(otp, outcome, c, r, now)
    }

    fn range(&mut self, p: &PhoneNumber) -> &mut RangeState {
        self.ranges
            .entry(range_of(p, self.s.range_digits))
            .or_default()
    }

    fn range_view(&mut self, p: &PhoneNumber, now: i64) -> RangeView {
        let s = self.s.clone();
        self.range(p).view(&s, now)
    }

    fn anomaly(&mut self, iso: &str, now: i64) -> Option<AnomalyView> {
        let s = self.s.clone();
        self.country(iso).anomaly(&s, now)
    }

    fn country(&mut self, iso: &str) -> &mut CountryState {
        self.countries.entry(iso.to_owned()).or_default()
    }

    /// `n` OTPs to distinct numbers of `range` from `start` (one a minute), of which
    /// the first `verified` are verified and the rest reported unverified at expiry.
    fn history(&mut self, range: u32, n: u32, verified: u32, start: i64) {
        for i in 0..n {
            let p = phone(range, i);
            let at = start + 60 * i64::from(i);
            let (otp, v) = self.send(&p, at);
            assert!(v.ticket().is_some(), "send {i}: {v:?}");
            let (outcome, when) = if i < verified {
                (Outcome::Verified, at + 40)
            } else {
                (Outcome::Unverified, at + 600)
            };
            assert!(self.report(&p, otp, outcome, when));
        }
    }
}

/// The guard's rules one at a time: the burst and country rules off unless a test
/// turns them on.
fn only_conversion() -> FraudSettings {
    FraudSettings {
        burst_numbers: 0,
        anomaly_numbers: 0,
        ..Default::default()
    }
}

fn refused(v: Verdict) -> Refusal {
    match v {
        Verdict::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn defaults_are_on_validate_and_read_from_an_empty_object() {
    let s = FraudSettings::default();
    assert_eq!(s.validate(), Ok(()));
    assert!(s.enabled && !s.shadow);
    assert_eq!((s.range_digits, s.window_hours, s.min_decided), (4, 24, 20));
    assert_eq!((s.min_conversion_percent, s.block_seconds), (25, 3600));
    assert_eq!((s.max_block_seconds, s.repeat_days), (86_400, 7));
    assert_eq!((s.burst_numbers, s.burst_minutes), (10, 60));
    let json: FraudSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(json, s);
    let round: FraudSettings = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(round, s);
    assert!(serde_json::from_str::<FraudSettings>(r#"{"rangeDigit":4}"#).is_err());
}

#[test]
fn each_setting_out_of_range_is_named_with_a_stable_error() {
    let cases: [(&str, FraudSettings); 12] = [
        (
            "rangeDigits",
            FraudSettings {
                range_digits: 0,
                ..Default::default()
            },
        ),
        (
            "rangeDigits",
            FraudSettings {
                range_digits: 7,
                ..Default::default()
            },
        ),
        (
            "windowHours",
            FraudSettings {
                window_hours: 0,
                ..Default::default()
            },
        ),
        (
            "minDecided",
            FraudSettings {
                min_decided: 0,
                ..Default::default()
            },
        ),
        (
            "minConversionPercent",
            FraudSettings {
                min_conversion_percent: 100,
                ..Default::default()
            },
        ),
        (
            "blockSeconds",
            FraudSettings {
                block_seconds: 59,
                ..Default::default()
            },
        ),
        (
            "maxBlockSeconds",
            FraudSettings {
                max_block_seconds: 3599,
                ..Default::default()
            },
        ),
        (
            "repeatDays",
            FraudSettings {
                repeat_days: 31,
                ..Default::default()
            },
        ),
        (
            "burstNumbers",
            FraudSettings {
                burst_numbers: 1001,
                ..Default::default()
            },
        ),
        (
            "anomalyFactor",
            FraudSettings {
                anomaly_factor: 1,
                ..Default::default()
            },
        ),
        (
            "anomalyHealthDelaySeconds",
            FraudSettings {
                anomaly_minutes: 5,
                anomaly_health_delay_seconds: 300,
                ..Default::default()
            },
        ),
        (
            "anomalyMinutes",
            FraudSettings {
                anomaly_minutes: 121,
                ..Default::default()
            },
        ),
    ];
    for (name, s) in cases {
        assert_eq!(s.first_invalid(), Some(name));
        assert_eq!(s.validate(), Err(Error::FraudSettingInvalid), "{name}");
    }
    for prefix in ["", "0044", "44a", "1234567890123456"] {
        let s = FraudSettings {
            safe_prefixes: vec![prefix.into()],
            ..Default::default()
        };
        assert_eq!(s.validate(), Err(Error::SafePrefixInvalid), "{prefix:?}");
    }
    let bad_hash = SafeNumber {
        hash: "ab".into(),
        masked: "+44*******456".into(),
    };
    let bad_mask = SafeNumber {
        masked: "447400123456".into(),
        ..SafeNumber::new(KEY, &phone(12, 3456))
    };
    for n in [bad_hash, bad_mask] {
        let s = FraudSettings {
            safe_numbers: vec![n],
            ..Default::default()
        };
        assert_eq!(s.validate(), Err(Error::SafeNumberInvalid));
    }
    let ok = FraudSettings {
        safe_prefixes: vec!["4474".into()],
        safe_numbers: vec![SafeNumber::new(KEY, &phone(12, 3456))],
        burst_numbers: 0,
        min_conversion_percent: 0,
        anomaly_numbers: 0,
        ..Default::default()
    };
    assert_eq!(ok.validate(), Ok(()));
}

#[test]
fn a_range_is_the_number_without_its_last_digits() {
    let p = parse_phone("+447400123456", None).unwrap();
    assert_eq!(range_of(&p, 4), "44740012");
    assert_eq!(range_of(&p, 6), "447400");
    let short = parse_phone("+29012345", None).unwrap(); // Saint Helena: 5 digits
    assert_eq!(
        range_of(&short, 6),
        "2901",
        "never shorter than the calling code and a digit"
    );
    let d = Destination::new(&FraudSettings::default(), KEY, &p);
    assert_eq!((d.country.as_str(), d.range.as_str()), ("GB", "44740012"));
    assert!(!format!("{d:?}").contains("447400123456"), "{d:?}");
}

#[test]
fn the_safe_list_and_a_guard_turned_off_exempt_a_send_and_count_nothing() {
    let safe = SafeNumber::new(KEY, &phone(12, 1));
    assert_eq!(safe.masked, phone(12, 1).masked());
    assert_eq!(safe.hash.len(), 64);
    let mut g = Guard::new(FraudSettings {
        safe_prefixes: vec!["44740099".into()],
        safe_numbers: vec![safe],
        ..Default::default()
    });
    g.range(&phone(12, 0))
        .block_manually(T0 + 3600, T0)
        .unwrap();
    assert_eq!(g.send(&phone(12, 1), T0).1, Verdict::Exempt, "safe number");
    assert_eq!(
        refused(g.send(&phone(12, 2), T0).1).reason,
        Reason::ManualBlock
    );
    for i in 0..100 {
        assert_eq!(
            g.send(&phone(99, i), T0 + 1).1,
            Verdict::Exempt,
            "safe prefix"
        );
    }
    assert_eq!(g.range(&phone(99, 0)), &RangeState::default());
    let mut off = Guard::new(FraudSettings {
        enabled: false,
        ..Default::default()
    });
    assert_eq!(off.send(&phone(12, 1), T0).1, Verdict::Exempt);
}

#[test]
fn a_range_that_converts_below_the_threshold_is_blocked_for_an_hour() {
    let mut g = Guard::new(only_conversion());
    g.history(12, 19, 0, T0);
    let now = T0 + 2 * 3600;
    assert!(
        g.send(&phone(12, 100), now).1.allows_send(),
        "19 decided are too few"
    );
    let (otp, _) = g.send(&phone(12, 101), now);
    g.report(&phone(12, 101), otp, Outcome::Unverified, now + 600);
    let r = refused(g.send(&phone(12, 102), now + 601).1);
    assert_eq!(
        r,
        Refusal {
            reason: Reason::RangeLowConversion,
            until: now + 601 + 3600
        }
    );
    assert_eq!(r.error(), Error::FraudRangeLowConversion);
    assert_eq!((r.error().code(), r.error().http_status()), (2124, 429));
    assert_eq!(r.retry_after(now + 601), 3600);
    // Every number of the range, even one sent to before, waits for the end.
    assert_eq!(refused(g.send(&phone(12, 0), now + 3000).1), r);
    assert!(
        g.send(&phone(13, 0), now + 3000).1.allows_send(),
        "other ranges are free"
    );
}

#[test]
fn conversion_at_the_threshold_is_not_below_it() {
    let mut g = Guard::new(only_conversion());
    g.history(12, 20, 5, T0); // 25%
    assert!(g.send(&phone(12, 100), T0 + 3 * 3600).1.allows_send());
    let mut g = Guard::new(only_conversion());
    g.history(12, 20, 4, T0); // 20%
    assert!(!g.send(&phone(12, 100), T0 + 3 * 3600).1.allows_send());
}

#[test]
fn a_range_is_never_blocked_on_outcomes_that_were_not_reported() {
    let mut g = Guard::new(only_conversion());
    // 500 sends whose outcomes never arrive (lost, or still within their TTL).
    for i in 0..500 {
        let v = g.send(&phone(12, i), T0 + i64::from(i) * 30).1;
        assert!(matches!(v, Verdict::Allowed(_)), "send {i}: {v:?}");
    }
    let view = g.range_view(&phone(12, 0), T0 + 5 * 3600);
    assert_eq!((view.sent, view.verified, view.unverified), (500, 0, 0));
    assert_eq!(view.conversion_percent, None);
    assert_eq!(view.pending, MAX_PENDING as u32, "bounded");
}

#[test]
fn outcomes_count_once_and_only_for_otps_the_range_counted() {
    let mut g = Guard::new(only_conversion());
    let p = phone(12, 1);
    let (otp, _) = g.send(&p, T0);
    assert!(g.report(&p, otp, Outcome::Unverified, T0 + 600));
    assert!(
        !g.report(&p, otp, Outcome::Unverified, T0 + 700),
        "a redelivery"
    );
    assert!(
        !g.report(&p, otp, Outcome::Verified, T0 + 800),
        "a late contradiction"
    );
    assert!(
        !g.report(&p, OtpTag(999), Outcome::Unverified, T0 + 800),
        "never sent"
    );
    let view = g.range_view(&p, T0 + 900);
    assert_eq!((view.verified, view.unverified, view.pending), (0, 1, 0));
    // A resend of a pending OTP is one more SMS but not one more OTP.
    let (otp, _) = g.send(&p, T0 + 1000);
    assert!(matches!(g.resend(&p, otp, T0 + 1060), Verdict::Allowed(t) if !t.new_otp && !t.fresh));
    assert!(g.report(&p, otp, Outcome::Verified, T0 + 1100));
    let view = g.range_view(&p, T0 + 1200);
    assert_eq!((view.sent, view.verified, view.unverified), (3, 1, 1));
}

#[test]
fn cancelled_otps_count_as_neither() {
    let mut g = Guard::new(only_conversion());
    for i in 0..50 {
        let p = phone(12, i);
        let (otp, _) = g.send(&p, T0 + i64::from(i));
        assert!(g.report(&p, otp, Outcome::Cancelled, T0 + 100));
    }
    assert!(g.send(&phone(12, 99), T0 + 200).1.allows_send());
    let view = g.range_view(&phone(12, 0), T0 + 200);
    assert_eq!((view.verified, view.unverified, view.pending), (0, 0, 1));
    assert_eq!(
        Outcome::of_status(crate::otp::OtpStatus::Cancelled),
        Some(Outcome::Cancelled)
    );
    assert_eq!(
        Outcome::of_status(crate::otp::OtpStatus::Expired),
        Some(Outcome::Unverified)
    );
    assert_eq!(
        Outcome::of_status(crate::otp::OtpStatus::Failed),
        Some(Outcome::Unverified)
    );
    assert_eq!(
        Outcome::of_status(crate::otp::OtpStatus::Verified),
        Some(Outcome::Verified)
    );
    assert_eq!(Outcome::of_status(crate::otp::OtpStatus::Pending), None);
}

#[test]
fn blocks_double_on_repeat_up_to_a_day_and_start_again_after_seven_quiet_days() {
    let mut g = Guard::new(only_conversion());
    g.history(12, 20, 0, T0);
    let mut now = T0 + 2 * 3600;
    let mut lengths = Vec::new();
    for _ in 0..7 {
        let r = refused(g.send(&phone(12, 500), now).1);
        lengths.push(r.until - now);
        assert!(!g.send(&phone(12, 501), r.until - 1).1.allows_send());
        now = r.until; // the first send after the block: the evidence is still there
    }
    assert_eq!(
        lengths,
        [3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400]
    );
    assert_eq!(g.range_view(&phone(12, 0), now - 1).block.unwrap().level, 7);
    // Seven quiet days after the last block's end: the evidence and the level are gone.
    now += 7 * 86_400;
    assert!(g.send(&phone(12, 600), now).1.allows_send());
    g.history(12, 20, 0, now + 60);
    let r = refused(g.send(&phone(12, 700), now + 3 * 3600).1);
    assert_eq!(r.until - (now + 3 * 3600), 3600, "a first block again");
}

#[test]
fn a_range_blocked_before_is_judged_on_its_memory_not_just_the_window() {
    // A drip: one send every 10 minutes, never verified.
    let mut g = Guard::new(only_conversion());
    let mut leaked_after_first_day = 0;
    for i in 0..(3 * 144) {
        let now = T0 + i64::from(i) * 600;
        let p = phone(12, i % 10_000);
        let (otp, v) = g.send(&p, now);
        if v.allows_send() {
            g.report(&p, otp, Outcome::Unverified, now + 600);
            if now >= T0 + 86_400 {
                leaked_after_first_day += 1;
            }
        }
    }
    assert_eq!(leaked_after_first_day, 0);
}

#[test]
fn more_than_k_distinct_numbers_in_a_range_within_m_minutes_is_a_burst() {
    let mut g = Guard::new(FraudSettings {
        anomaly_numbers: 0,
        ..Default::default()
    });
    let mut otps = Vec::new();
    for i in 0..10 {
        let (otp, v) = g.send(&phone(12, i), T0 + i64::from(i));
        assert!(v.allows_send());
        otps.push(otp);
    }
    // A resend to a number already counted is not a new number.
    assert!(g.send(&phone(12, 3), T0 + 30).1.allows_send());
    let r = refused(g.send(&phone(12, 10), T0 + 40).1);
    assert_eq!(
        r,
        Refusal {
            reason: Reason::RangeBurst,
            until: T0 + 40 + 3600
        }
    );
    assert_eq!(
        refused(g.send(&phone(12, 3), T0 + 50).1),
        r,
        "the block holds for all"
    );
    // After the block, the burst period has passed too.
    for i in 20..30 {
        assert!(g
            .send(&phone(12, i), T0 + 3641 + i64::from(i))
            .1
            .allows_send());
    }
}

#[test]
fn verified_numbers_leave_the_burst_count() {
    let mut g = Guard::new(FraudSettings {
        anomaly_numbers: 0,
        ..Default::default()
    });
    // A company's staff, all in one range, sign up within the hour and verify.
    for i in 0..60 {
        let p = phone(12, i);
        let now = T0 + 50 * i64::from(i);
        let (otp, v) = g.send(&p, now);
        assert!(v.allows_send(), "employee {i}");
        if i % 10 != 9 {
            g.report(&p, otp, Outcome::Verified, now + 40);
        }
    }
}

#[test]
fn the_burst_rule_forgets_numbers_after_its_period() {
    let mut g = Guard::new(FraudSettings {
        anomaly_numbers: 0,
        ..Default::default()
    });
    for i in 0..40 {
        // Ten numbers an hour, never verified: never more than ten in one hour.
        let v = g.send(&phone(12, i), T0 + 361 * i64::from(i)).1;
        assert!(v.allows_send(), "{i}");
    }
}

/// Thirty attempts within a minute to thirty ranges of GB: a new application's
/// country in anomaly from the next attempt on.
fn country_surge(g: &mut Guard, now: i64) {
    for r in 0..30 {
        assert!(g.send(&phone(r, 0), now).1.allows_send());
    }
    assert_eq!(g.anomaly("GB", now), None);
}

#[test]
fn during_an_unexplained_anomaly_an_unproven_range_takes_one_number() {
    let mut g = Guard::new(FraudSettings::default());
    country_surge(&mut g, T0);
    // Attempt 31: the anomaly starts; range 0 already has its one number.
    let r = refused(g.send(&phone(0, 1), T0 + 1).1);
    assert_eq!(
        r,
        Refusal {
            reason: Reason::CountryAnomaly,
            until: T0 + 1 + 900
        }
    );
    assert_eq!(r.error().name(), "country_anomaly");
    let refusals = g.countries["GB"].view(&g.s, T0 + 1).refusals.unwrap();
    assert_eq!(
        (refusals.reason, refusals.count),
        (Reason::CountryAnomaly, 1)
    );
    let a = g.anomaly("GB", T0 + 1).unwrap();
    assert_eq!((a.since, a.attempts, a.threshold), (T0 + 1, 31, 30));
    assert_eq!((a.health, a.probes), (AnomalyHealth::Unknown, 0));
    // A new range's first number still goes, and so does a resend to a number sent to.
    assert!(g.send(&phone(40, 7), T0 + 2).1.allows_send());
    assert!(!g.send(&phone(40, 8), T0 + 3).1.allows_send());
    assert!(g.send(&phone(40, 7), T0 + 4).1.allows_send(), "a resend");
    // A proven range (a verified OTP on record) is not limited.
    let p = phone(50, 1);
    let (otp, _) = g.send(&p, T0 + 5);
    assert!(g.report(&p, otp, Outcome::Verified, T0 + 40));
    for i in 2..6 {
        assert!(g.send(&phone(50, i), T0 + 50).1.allows_send());
    }
    // Other countries are not concerned.
    let fr = parse_phone("+33612345678", None).unwrap();
    assert!(g.send(&fr, T0 + 60).1.allows_send());
    let fr2 = parse_phone("+33612345679", None).unwrap();
    assert!(g.send(&fr2, T0 + 60).1.allows_send());
}

#[test]
fn an_anomaly_whose_sends_convert_is_a_campaign_and_limits_nothing() {
    let mut g = Guard::new(FraudSettings::default());
    // A campaign: 60 sends a minute to new numbers, 80% verified within a minute.
    let mut refused_sends = 0;
    for i in 0..600u32 {
        let now = T0 + i64::from(i);
        let p = phone(i % 100, i / 100);
        let (otp, v) = g.send(&p, now);
        if !v.allows_send() {
            refused_sends += 1;
            continue;
        }
        if i % 5 != 0 {
            g.report(&p, otp, Outcome::Verified, now + 45);
        }
    }
    let a = g.anomaly("GB", T0 + 600).unwrap();
    assert_eq!(a.health, AnomalyHealth::Converting, "{a:?}");
    // Until it was explained, only numbers beyond the first of a range that was
    // still unproven could wait: none past the first minutes.
    assert!(refused_sends <= 100, "{refused_sends}");
    let later: Vec<_> = (0..100)
        .map(|r| g.send(&phone(r, 77), T0 + 601).1)
        .collect();
    assert!(later.iter().all(Verdict::allows_send));
}

#[test]
fn once_an_anomaly_is_known_not_to_convert_new_ranges_share_the_usual_volume() {
    let mut g = Guard::new(FraudSettings::default());
    country_surge(&mut g, T0);
    // Unknown yet: every new range still takes its first number.
    for r in 30..40 {
        assert!(g.send(&phone(r, 0), T0 + 1).1.allows_send());
    }
    assert_eq!(g.anomaly("GB", T0 + 1).unwrap().probes, 10);
    // Three minutes after the first minute, its 40 sends have no verification.
    let now = T0 + 240;
    assert_eq!(
        g.anomaly("GB", now).unwrap().health,
        AnomalyHealth::NotConverting
    );
    for r in 40..60 {
        assert!(g.send(&phone(r, 0), now).1.allows_send(), "probe {r}");
    }
    let r = refused(g.send(&phone(60, 0), now).1);
    assert_eq!(r.reason, Reason::CountryAnomaly);
    let settings = g.s.clone();
    assert_eq!(
        g.range(&phone(60, 0)).keep_until(&settings),
        None,
        "nothing to store for a refused range"
    );
    // It stays not converting once the sends that told so have left the period,
    // even though too few sends are left to judge it again.
    assert_eq!(
        g.anomaly("GB", T0 + 14 * 60).unwrap().health,
        AnomalyHealth::NotConverting
    );
    // Proven ranges and resends are not concerned.
    assert!(g.send(&phone(40, 0), now + 1).1.allows_send(), "a resend");
    let p = phone(70, 1);
    let ranges = &mut g.ranges;
    let range = ranges.entry(range_of(&p, 4)).or_default();
    range.hours.push(Tally {
        start: floor(T0, HOUR),
        verified: 1,
        ..Tally::default()
    });
    assert!(g.send(&p, now + 2).1.allows_send(), "a proven range");
    // Once the probes leave the period, new ranges get their share again.
    assert!(g.send(&phone(61, 0), T0 + 16 * 60).1.allows_send());
}

#[test]
fn an_anomaly_ends_when_the_volume_drops() {
    let mut g = Guard::new(FraudSettings::default());
    country_surge(&mut g, T0);
    assert!(!g.send(&phone(0, 1), T0 + 1).1.allows_send());
    // 16 minutes later the surge has left the period.
    assert!(g.send(&phone(0, 2), T0 + 16 * 60).1.allows_send());
    assert_eq!(g.anomaly("GB", T0 + 16 * 60), None);
}

#[test]
fn a_country_with_history_needs_factor_times_its_usual_volume() {
    let mut g = Guard::new(FraudSettings {
        burst_numbers: 0,
        ..Default::default()
    });
    // Two days of 600 verified OTPs a day: 6.25 per 15 minutes.
    for i in 0..1200u32 {
        let now = T0 + i64::from(i) * 144;
        let p = phone(i % 90, i / 90);
        let (otp, _) = g.send(&p, now);
        g.report(&p, otp, Outcome::Verified, now + 60);
    }
    let now = T0 + 2 * 86_400;
    let c = g.country("GB").clone();
    let threshold = c.threshold(&g.s, now);
    assert_eq!(threshold, 31, "5 × 6.25, above the floor of 30");
}

#[test]
fn shadow_mode_decides_and_records_but_sends() {
    let mut g = Guard::new(FraudSettings {
        shadow: true,
        anomaly_numbers: 0,
        ..Default::default()
    });
    for i in 0..10 {
        assert!(matches!(g.send(&phone(12, i), T0).1, Verdict::Allowed(_)));
    }
    let v = g.send(&phone(12, 10), T0 + 1).1;
    let Verdict::Shadowed(ticket, r) = v else {
        panic!("{v:?}")
    };
    assert_eq!(r.reason, Reason::RangeBurst);
    assert!(v.allows_send() && ticket.new_otp);
    assert!(matches!(
        g.send(&phone(12, 11), T0 + 2).1,
        Verdict::Shadowed(_, _)
    ));
    // Manual blocks are enforced even in shadow mode.
    g.range(&phone(13, 0)).block_manually(T0 + 600, T0).unwrap();
    assert_eq!(
        refused(g.send(&phone(13, 0), T0 + 3).1).reason,
        Reason::ManualBlock
    );

    let snap = g.s.snapshot(
        g.ranges.iter().map(|(k, v)| (k.as_str(), v)),
        g.countries.iter().map(|(k, v)| (k.as_str(), v)),
        T0 + 4,
    );
    assert!(snap.shadow);
    let burst = snap.blocks.iter().find(|b| b.key == "44740012").unwrap();
    assert_eq!(
        (burst.block.reason, burst.block.enforced),
        (Reason::RangeBurst, false)
    );
    let manual = snap.blocks.iter().find(|b| b.key == "44740013").unwrap();
    assert!(manual.block.enforced);
    let shadowed = snap.refusals.iter().find(|r| r.key == "44740012").unwrap();
    assert_eq!(
        (shadowed.refusals.count, shadowed.refusals.shadow),
        (2, true)
    );
    assert_eq!(snap.countries[0].country, "GB");
    assert_eq!(snap.countries[0].view.sent, 12);
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["blocks"][0]["scope"], "range");
    assert!(json["blocks"][0]["until"].is_i64());
}

#[test]
fn manual_blocks_refuse_until_they_end_or_are_lifted() {
    let mut g = Guard::new(only_conversion());
    let p = phone(12, 1);
    assert_eq!(
        g.range(&p).block_manually(T0, T0),
        Err(Error::ManualBlockInvalid)
    );
    assert_eq!(
        g.range(&p).block_manually(T0 + 367 * 86_400, T0),
        Err(Error::ManualBlockInvalid)
    );
    g.range(&p).block_manually(T0 + 600, T0).unwrap();
    let r = refused(g.send(&p, T0 + 1).1);
    assert_eq!(
        (r.reason, r.until, r.error().code()),
        (Reason::ManualBlock, T0 + 600, 2127)
    );
    assert!(g.send(&p, T0 + 600).1.allows_send(), "it ended");

    g.country("GB").block_manually(T0 + 7200, T0 + 700).unwrap();
    assert!(!g.send(&phone(40, 1), T0 + 701).1.allows_send());
    g.country("GB").unblock();
    assert!(g.send(&phone(40, 1), T0 + 702).1.allows_send());

    // Unblocking a range forgets the evidence, so it is not blocked again at once.
    g.history(20, 20, 0, T0 + 800);
    let q = phone(20, 99);
    assert_eq!(
        refused(g.send(&q, T0 + 3 * 3600).1).reason,
        Reason::RangeLowConversion
    );
    g.range(&q).unblock();
    assert!(g.send(&q, T0 + 3 * 3600 + 1).1.allows_send());
}

#[test]
fn an_undone_send_is_as_if_it_never_happened() {
    let mut g = Guard::new(FraudSettings::default());
    let p = phone(12, 1);
    let (otp, v) = g.send(&p, T0);
    let ticket = v.ticket().unwrap();
    let d = Destination::new(&g.s, KEY, &p);
    let c = g.countries.get_mut("GB").unwrap();
    let r = g.ranges.get_mut(&d.range).unwrap();
    g.s.undo(&ticket, c, r, T0 + 1);
    let view = r.view(&g.s, T0 + 1);
    assert_eq!((view.sent, view.pending, view.recent_numbers), (0, 0, 0));
    assert_eq!(c.view(&g.s, T0 + 1).sent, 0);
    assert!(!g.report(&p, otp, Outcome::Unverified, T0 + 600));
}

#[test]
fn idle_states_can_be_deleted_once_they_no_longer_matter() {
    let s = FraudSettings::default();
    assert_eq!(RangeState::default().keep_until(&s), None);
    assert_eq!(CountryState::default().keep_until(&s), None);
    let mut g = Guard::new(only_conversion());
    g.history(12, 20, 0, T0);
    assert!(!g.send(&phone(12, 99), T0 + 3 * 3600).1.allows_send());
    let range = g.range(&phone(12, 0)).clone();
    let until = range.keep_until(&g.s).unwrap();
    assert!(
        until > T0 + 7 * 86_400,
        "the blocked range is remembered for the repeat period"
    );
    let mut later = range.clone();
    later.settle(&g.s, until);
    assert_eq!(later, RangeState::default());
    let mut before = range;
    before.settle(&g.s, until - 1);
    assert_ne!(before, RangeState::default());

    let country = g.country("GB").clone();
    let until = country.keep_until(&g.s).unwrap();
    let mut later = country;
    later.settle(&g.s, until);
    later.first_seen = None;
    assert_eq!(later, CountryState::default());
}

#[test]
fn states_are_compact() {
    assert_eq!(serde_json::to_string(&RangeState::default()).unwrap(), "{}");
    assert_eq!(
        serde_json::to_string(&CountryState::default()).unwrap(),
        "{}"
    );
    // An attacked range: a burst, a block, pending OTPs.
    let mut g = Guard::new(FraudSettings::default());
    for i in 0..200 {
        g.send(&phone(12, i), T0 + i64::from(i));
    }
    let json = serde_json::to_string(g.range(&phone(12, 0))).unwrap();
    assert!(json.len() < 800, "{} bytes: {json}", json.len());
    let back: RangeState = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, g.range(&phone(12, 0)));
    // One real user's range.
    let mut g = Guard::new(FraudSettings::default());
    let (otp, _) = g.send(&phone(12, 1), T0);
    g.report(&phone(12, 1), otp, Outcome::Verified, T0 + 40);
    let json = serde_json::to_string(g.range(&phone(12, 1))).unwrap();
    assert!(json.len() < 40, "{json}");
}

#[test]
fn refusal_reasons_are_the_errors_names_and_answer_429() {
    for reason in [
        Reason::RangeLowConversion,
        Reason::RangeBurst,
        Reason::CountryAnomaly,
        Reason::ManualBlock,
    ] {
        let e = reason.error();
        assert_eq!(serde_json::to_value(reason).unwrap(), e.name());
        assert_eq!(e.http_status(), 429);
    }
    let report = OutcomeReport {
        country: "GB".into(),
        range: "44740012".into(),
        otp: OtpTag::of(KEY, "6f1c2b1e-0d7a-4b55-9a43-2c1d9a3b7e10"),
        outcome: Outcome::Verified,
    };
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "verified");
    assert!(json["otp"].is_u64());
    assert_eq!(
        serde_json::from_value::<OutcomeReport>(json).unwrap(),
        report
    );
}
