//! The fraud guard's simulation (BENCHMARKS.md, "Fraud guard"): one application's
//! guard (`otp_core::fraud`, default settings) driven by a virtual clock through a
//! simulated week of real traffic plus one attack per scenario, printing per scenario
//! the SMS that reached attackers and the real users refused.
//!
//! The traffic is generated in full from fixed seeds before the week runs, blind to
//! the guard: a refusal changes nothing in who sends when, only whether an OTP exists
//! to be verified or to expire. The guard is driven exactly as the worker drives it:
//! `Destination::new` per send, `FraudSettings::admit` before the send,
//! `FraudSettings::record_outcome` when an outcome report arrives (late, sometimes
//! twice), states deleted once `keep_until` has passed.
//!
//!     cargo run --release -p otp-bench --bin fraud_sim [-- --seed N]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Instant;

use otp_core::fraud::{
    AnomalyHealth, CountryState, Destination, FraudSettings, OtpTag, Outcome, RangeState, Reason,
    Verdict,
};
use otp_core::phone::{calling_code_for_country, parse_phone, NumberType, PhoneNumber};
use otp_core::rng::SeededRandom;
use otp_core::time::{format_utc, UnixSeconds};

const KEY: &[u8] = b"fraud-sim-hash-key-0123456789abcdef";
/// The week's start (00:00 UTC).
const T0: UnixSeconds = 1_800_576_000;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

// --- Parameters (BENCHMARKS.md) ------------------------------------------------------
const REAL_USERS: usize = 20_000;
/// Verifications per user over the week: uniform 1..=3.
const MAX_SESSIONS_PER_USER: u64 = 3;
/// Conversion per country: uniform over 70..=90%.
const CONVERSION_PERCENT: (u64, u64) = (70, 90);
const RESEND_PERCENT: u64 = 10;
/// A resend comes 30-90 s after the first SMS.
const RESEND_DELAY: (i64, i64) = (30, 90);
/// A converting user verifies 30-120 s after the (last) SMS.
const VERIFY_DELAY: (i64, i64) = (30, 120);
/// The OTPs' life (the default `ttl`).
const TTL: i64 = 600;
/// An outcome reaches the guard 1-5 s after a check (after-reply message), 0-60 s
/// after an expiry (the record's alarm).
const VERIFIED_REPORT_LAG: (i64, i64) = (1, 5);
const EXPIRED_REPORT_LAG: (i64, i64) = (0, 60);
/// Daily traffic swings ±60% around its mean, peaking at 15:00 local time.
const DIURNAL_SWING: f64 = 0.6;
const ATTACK_RATE_PER_SECOND: i64 = 5;
const ATTACK_HOURS: i64 = 6;
/// Attacks (a) and (b) start on day 4 at 12:00 UTC; the campaign (d) is day 4.
const ATTACK_START: i64 = T0 + 3 * DAY + 12 * HOUR;
const CAMPAIGN_DAY: i64 = T0 + 3 * DAY;
const CAMPAIGN_FACTOR: f64 = 10.0;
const DRIP_EVERY: i64 = 10 * MINUTE;
const B_RANGES: usize = 200;
/// Beyond the brief: a push campaign, 3,000 new US users within 10 minutes, on day 5
/// at 15:00 UTC (10:00 in New York).
const SPIKE_USERS: u32 = 3000;
const SPIKE_START: i64 = T0 + 4 * DAY + 15 * HOUR;
const SPIKE_MINUTES: i64 = 10;

/// The 30 countries in order of traffic (Zipf, s = 1), each with libphonenumber's
/// example mobile number (its length is the length drawn) and a UTC offset in hours.
const COUNTRIES: [(&str, &str, i64); 30] = [
    ("US", "+12015550123", -5),
    ("IN", "+918123456789", 5),
    ("BR", "+5511961234567", -3),
    ("ID", "+62812345678", 7),
    ("GB", "+447400123456", 0),
    ("DE", "+4915123456789", 1),
    ("FR", "+33612345678", 1),
    ("MX", "+522221234567", -6),
    ("NG", "+2348021234567", 1),
    ("PH", "+639051234567", 8),
    ("TR", "+905012345678", 3),
    ("IT", "+393123456789", 1),
    ("ES", "+34612345678", 1),
    ("VN", "+84912345678", 7),
    ("PK", "+923012345678", 5),
    ("EG", "+201001234567", 2),
    ("JP", "+819012345678", 9),
    ("KR", "+821020000000", 9),
    ("TH", "+66812345678", 7),
    ("PL", "+48512345678", 1),
    ("AR", "+5491123456789", -3),
    ("ZA", "+27711234567", 2),
    ("CA", "+15062345678", -5),
    ("CO", "+573211234567", -5),
    ("KE", "+254712123456", 3),
    ("SA", "+966512345678", 3),
    ("NL", "+31612345678", 1),
    ("UA", "+380501234567", 2),
    ("MY", "+60123456789", 8),
    ("AU", "+61412345678", 10),
];
/// (a): one range of PH (rank 10).
const A_COUNTRY: usize = 9;
/// (b): MX, rank 8: 3.1% of the real traffic.
const B_COUNTRY: usize = 7;
/// (c): one range of GB (rank 5).
const C_COUNTRY: usize = 4;
/// (e), beyond the brief: (b)'s rate over every mobile range of MX.
const E_COUNTRY: usize = B_COUNTRY;

// --- Randomness ----------------------------------------------------------------------

struct Rng(SeededRandom);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SeededRandom::new(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n
    }
    fn between(&mut self, (lo, hi): (i64, i64)) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A number drawn uniformly from the country's valid mobile numbers of its example's
/// length: uniform digits, kept when the numbering plan says mobile (or
/// fixedLineOrMobile) in that country.
fn random_mobile(rng: &mut Rng, country: usize) -> PhoneNumber {
    let (iso, example, _) = COUNTRIES[country];
    let len = parse_phone(example, None).unwrap().national_number().len();
    let code = calling_code_for_country(iso).unwrap();
    loop {
        let mut e164 = format!("+{code}");
        for _ in 0..len {
            e164.push(char::from(b'0' + rng.below(10) as u8));
        }
        if let Ok(p) = parse_phone(&e164, None) {
            if p.country_iso() == iso
                && matches!(
                    p.number_type(),
                    NumberType::Mobile | NumberType::FixedLineOrMobile
                )
            {
                return p;
            }
        }
    }
}

/// A number of the range `range` (E.164 digits without the last 4).
fn in_range(rng: &mut Rng, range: &str) -> PhoneNumber {
    parse_phone(&format!("+{range}{:04}", rng.below(10_000)), None).unwrap()
}

/// Relative traffic of `country` at `t` (mean 1).
fn diurnal(country: usize, t: i64) -> f64 {
    let local_hour = ((t + COUNTRIES[country].2 * HOUR).rem_euclid(DAY)) as f64 / HOUR as f64;
    1.0 + DIURNAL_SWING * ((local_hour - 9.0) / 24.0 * std::f64::consts::TAU).sin()
}

/// A time in `[from, from + span)` drawn from the country's daily profile.
fn diurnal_time(rng: &mut Rng, country: usize, from: i64, span: i64) -> i64 {
    loop {
        let t = from + rng.below(span as u64) as i64;
        if rng.unit() * (1.0 + DIURNAL_SWING) < diurnal(country, t) {
            return t;
        }
    }
}

fn zipf_shares() -> Vec<f64> {
    let h: f64 = (1..=COUNTRIES.len()).map(|k| 1.0 / k as f64).sum();
    (1..=COUNTRIES.len()).map(|k| 1.0 / k as f64 / h).collect()
}

// --- The traffic ---------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Attack {
    A,
    B,
    C,
    E,
}

#[derive(Clone, Copy)]
enum Who {
    /// A real user's verification (session index), first SMS or resend.
    Real {
        session: u32,
        last: bool,
    },
    Attacker(Attack),
}

struct Attempt {
    at: i64,
    who: Who,
    dest: u32,
    otp: OtpTag,
}

struct Session {
    user: u32,
    converts: bool,
    verify_delay: i64,
    created_at: Option<i64>,
    last_allowed: Option<i64>,
}

/// One week's traffic, generated before the run.
struct Traffic {
    dests: Vec<Destination>,
    attempts: Vec<Attempt>,
    sessions: Vec<Session>,
    users: u32,
    campaign_users: HashSet<u32>,
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    attacks: &'static [Attack],
    campaign: Option<usize>,
    /// The push campaign (beyond the brief).
    spike: bool,
    lost_percent: u64,
    duplicated_percent: u64,
}

fn generate(settings: &FraudSettings, scenario: &Scenario, seed: u64) -> Traffic {
    let mut t = Traffic {
        dests: Vec::new(),
        attempts: Vec::new(),
        sessions: Vec::new(),
        users: 0,
        campaign_users: HashSet::new(),
    };
    let shares = zipf_shares();
    let mut rng = Rng::new(seed);
    let conversion: Vec<f64> = COUNTRIES
        .iter()
        .map(|_| {
            rng.between((CONVERSION_PERCENT.0 as i64, CONVERSION_PERCENT.1 as i64)) as f64 / 100.0
        })
        .collect();
    let mut otp = 0u32;
    let mut session =
        |t: &mut Traffic, rng: &mut Rng, user: u32, dest: u32, country: usize, at: i64| {
            let s = t.sessions.len() as u32;
            t.sessions.push(Session {
                user,
                converts: rng.chance(conversion[country]),
                verify_delay: rng.between(VERIFY_DELAY),
                created_at: None,
                last_allowed: None,
            });
            otp += 1;
            let resend = rng.below(100) < RESEND_PERCENT;
            t.attempts.push(Attempt {
                at,
                who: Who::Real {
                    session: s,
                    last: !resend,
                },
                dest,
                otp: OtpTag(otp),
            });
            if resend {
                t.attempts.push(Attempt {
                    at: at + rng.between(RESEND_DELAY),
                    who: Who::Real {
                        session: s,
                        last: true,
                    },
                    dest,
                    otp: OtpTag(otp),
                });
            }
        };
    // Real users: countries by Zipf share, numbers uniform over valid mobiles.
    let mut per_country = vec![0usize; COUNTRIES.len()];
    for user in 0..REAL_USERS {
        let u = rng.unit();
        let mut acc = 0.0;
        let country = shares
            .iter()
            .position(|s| {
                acc += s;
                u < acc
            })
            .unwrap_or(COUNTRIES.len() - 1);
        per_country[country] += 1;
        let phone = random_mobile(&mut rng, country);
        t.dests.push(Destination::new(settings, KEY, &phone));
        let dest = (t.dests.len() - 1) as u32;
        for _ in 0..1 + rng.below(MAX_SESSIONS_PER_USER) {
            let at = diurnal_time(&mut rng, country, T0, WEEK);
            session(&mut t, &mut rng, user as u32, dest, country, at);
        }
    }
    t.users = REAL_USERS as u32;
    // (d): a campaign day of new users, 10× the country's usual traffic in all.
    if let Some(country) = scenario.campaign {
        let mut rng = Rng::new(seed ^ 0xD);
        let mean_sessions = (1 + MAX_SESSIONS_PER_USER) as f64 / 2.0;
        let usual_per_day = per_country[country] as f64 * mean_sessions / 7.0;
        let extra = ((CAMPAIGN_FACTOR - 1.0) * usual_per_day).round() as u32;
        for _ in 0..extra {
            let user = t.users;
            t.users += 1;
            t.campaign_users.insert(user);
            let phone = random_mobile(&mut rng, country);
            t.dests.push(Destination::new(settings, KEY, &phone));
            let dest = (t.dests.len() - 1) as u32;
            let at = diurnal_time(&mut rng, country, CAMPAIGN_DAY, DAY);
            session(&mut t, &mut rng, user, dest, country, at);
        }
    }
    if scenario.spike {
        let mut rng = Rng::new(seed ^ 0x5B1CE);
        for _ in 0..SPIKE_USERS {
            let user = t.users;
            t.users += 1;
            t.campaign_users.insert(user);
            let phone = random_mobile(&mut rng, 0);
            t.dests.push(Destination::new(settings, KEY, &phone));
            let dest = (t.dests.len() - 1) as u32;
            let at = SPIKE_START + rng.below((SPIKE_MINUTES * MINUTE) as u64) as i64;
            session(&mut t, &mut rng, user, dest, 0, at);
        }
    }
    // Attacks: a new OTP each time, to a number drawn in the attacked ranges.
    let mut attack = |t: &mut Traffic, kind: Attack, at: i64, phone: PhoneNumber| {
        t.dests.push(Destination::new(settings, KEY, &phone));
        otp += 1;
        t.attempts.push(Attempt {
            at,
            who: Who::Attacker(kind),
            dest: (t.dests.len() - 1) as u32,
            otp: OtpTag(otp),
        });
    };
    let range_of = |rng: &mut Rng, country: usize| {
        let p = random_mobile(rng, country);
        let d = p.digits();
        d[..d.len() - 4].to_owned()
    };
    for &kind in scenario.attacks {
        let mut rng = Rng::new(seed ^ (0xA0 + kind as u64));
        match kind {
            Attack::A => {
                let range = range_of(&mut rng, A_COUNTRY);
                for i in 0..ATTACK_HOURS * HOUR * ATTACK_RATE_PER_SECOND {
                    attack(
                        &mut t,
                        kind,
                        ATTACK_START + i / ATTACK_RATE_PER_SECOND,
                        in_range(&mut rng, &range),
                    );
                }
            }
            Attack::B => {
                let mut ranges: Vec<String> = Vec::new();
                while ranges.len() < B_RANGES {
                    let r = range_of(&mut rng, B_COUNTRY);
                    if !ranges.contains(&r) {
                        ranges.push(r);
                    }
                }
                for i in 0..ATTACK_HOURS * HOUR * ATTACK_RATE_PER_SECOND {
                    let r = rng.below(B_RANGES as u64) as usize;
                    attack(
                        &mut t,
                        kind,
                        ATTACK_START + i / ATTACK_RATE_PER_SECOND,
                        in_range(&mut rng, &ranges[r]),
                    );
                }
            }
            Attack::C => {
                let range = range_of(&mut rng, C_COUNTRY);
                let mut at = T0;
                while at < T0 + WEEK {
                    attack(&mut t, kind, at, in_range(&mut rng, &range));
                    at += DRIP_EVERY;
                }
            }
            Attack::E => {
                // Every number drawn uniformly over the country's valid mobiles.
                for i in 0..ATTACK_HOURS * HOUR * ATTACK_RATE_PER_SECOND {
                    let phone = random_mobile(&mut rng, E_COUNTRY);
                    attack(
                        &mut t,
                        kind,
                        ATTACK_START + i / ATTACK_RATE_PER_SECOND,
                        phone,
                    );
                }
            }
        }
    }
    t
}

// --- The run -------------------------------------------------------------------------

enum Event {
    Attempt(u32),
    Report {
        dest: u32,
        otp: OtpTag,
        outcome: Outcome,
    },
}

#[derive(Default)]
struct AttackFigures {
    attempts: u64,
    leaked: u64,
    /// (c): after its first 24 h.
    attempts_after_day: u64,
    leaked_after_day: u64,
}

#[derive(Default)]
struct Figures {
    attacks: HashMap<&'static str, AttackFigures>,
    users: u32,
    refused_users: HashSet<u32>,
    refused_campaign_users: HashSet<u32>,
    campaign_users: u32,
    real_attempts: u64,
    real_refused: u64,
    refused_by_reason: HashMap<Reason, u64>,
    reports: u64,
    reports_ignored: u64,
    peak_ranges: usize,
    peak_bytes: usize,
    largest_state: usize,
    /// Anomaly episodes: (country, start, end, worst health seen).
    anomalies: Vec<(String, i64, Option<i64>, AnomalyHealth)>,
}

fn attack_name(a: Attack) -> &'static str {
    match a {
        Attack::A => "a",
        Attack::B => "b",
        Attack::C => "c",
        Attack::E => "e",
    }
}

fn run(settings: &FraudSettings, scenario: &Scenario, seed: u64) -> Figures {
    let mut traffic = generate(settings, scenario, seed);
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut f = Figures {
        users: traffic.users,
        campaign_users: traffic.campaign_users.len() as u32,
        ..Figures::default()
    };
    let mut ranges: HashMap<String, RangeState> = HashMap::new();
    let mut countries: HashMap<String, CountryState> = HashMap::new();
    let mut queue: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut events: Vec<Event> = Vec::new();
    let mut seq = 0u64;
    let mut push = |queue: &mut BinaryHeap<_>, events: &mut Vec<Event>, at: i64, e: Event| {
        seq += 1;
        events.push(e);
        queue.push(Reverse((at, seq, events.len() - 1)));
    };
    for (i, a) in traffic.attempts.iter().enumerate() {
        push(&mut queue, &mut events, a.at, Event::Attempt(i as u32));
    }
    let mut next_prune = T0 + HOUR;
    let mut next_census = T0 + DAY;
    while let Some(Reverse((now, _, idx))) = queue.pop() {
        if now >= next_prune {
            ranges.retain(|_, s| s.keep_until(settings).is_some_and(|u| u > now));
            countries.retain(|_, s| s.keep_until(settings).is_some_and(|u| u > now));
            next_prune += HOUR;
        }
        if now >= next_census {
            census(&ranges, &countries, &mut f);
            next_census += DAY;
        }
        // Reports to schedule, after the states are released.
        let mut reports: Vec<(i64, u32, OtpTag, Outcome)> = Vec::new();
        match &events[idx] {
            Event::Attempt(i) => {
                let a = &traffic.attempts[*i as usize];
                let d = &traffic.dests[a.dest as usize];
                let c = countries.entry(d.country.clone()).or_default();
                let r = ranges.entry(d.range.clone()).or_default();
                let before = c.anomaly_since();
                let verdict = settings.admit(d, a.otp, c, r, now);
                let sent = verdict.allows_send();
                track_anomaly(&mut f, &d.country, before, c, settings, now);
                match a.who {
                    Who::Attacker(kind) => {
                        let fig = f.attacks.entry(attack_name(kind)).or_default();
                        fig.attempts += 1;
                        fig.leaked += u64::from(sent);
                        if now >= T0 + DAY {
                            fig.attempts_after_day += 1;
                            fig.leaked_after_day += u64::from(sent);
                        }
                        if sent {
                            let lag = rng.between(EXPIRED_REPORT_LAG);
                            reports.push((now + TTL + lag, a.dest, a.otp, Outcome::Unverified));
                        }
                    }
                    Who::Real { session, last } => {
                        f.real_attempts += 1;
                        let s = &mut traffic.sessions[session as usize];
                        if let Verdict::Refused(r) = verdict {
                            f.real_refused += 1;
                            *f.refused_by_reason.entry(r.reason).or_default() += 1;
                            f.refused_users.insert(s.user);
                            if traffic.campaign_users.contains(&s.user) {
                                f.refused_campaign_users.insert(s.user);
                            }
                        } else {
                            s.created_at.get_or_insert(now);
                            s.last_allowed = Some(now);
                        }
                        if let (true, Some(created)) = (last, s.created_at) {
                            if s.converts {
                                let at = s.last_allowed.unwrap_or(created)
                                    + s.verify_delay
                                    + rng.between(VERIFIED_REPORT_LAG);
                                reports.push((at, a.dest, a.otp, Outcome::Verified));
                            } else {
                                let at = created + TTL + rng.between(EXPIRED_REPORT_LAG);
                                reports.push((at, a.dest, a.otp, Outcome::Unverified));
                            }
                        }
                    }
                }
            }
            Event::Report { dest, otp, outcome } => {
                let d = &traffic.dests[*dest as usize];
                let c = countries.entry(d.country.clone()).or_default();
                let r = ranges.entry(d.range.clone()).or_default();
                f.reports += 1;
                if !settings.record_outcome(*otp, *outcome, c, r, now) {
                    f.reports_ignored += 1;
                }
            }
        }
        // At-least-once delivery: some reports are lost, some arrive twice.
        for (at, dest, otp, outcome) in reports {
            if rng.below(100) < scenario.lost_percent {
                continue;
            }
            push(
                &mut queue,
                &mut events,
                at,
                Event::Report { dest, otp, outcome },
            );
            if rng.below(100) < scenario.duplicated_percent {
                let again = at + rng.between((MINUTE, HOUR));
                push(
                    &mut queue,
                    &mut events,
                    again,
                    Event::Report { dest, otp, outcome },
                );
            }
        }
    }
    census(&ranges, &countries, &mut f);
    f
}

/// Notes when a country's anomaly begins and ends, and the worst health it showed.
fn track_anomaly(
    f: &mut Figures,
    country: &str,
    before: Option<i64>,
    c: &CountryState,
    settings: &FraudSettings,
    now: i64,
) {
    let rank = |h: AnomalyHealth| match h {
        AnomalyHealth::Converting => 0,
        AnomalyHealth::Unknown => 1,
        AnomalyHealth::NotConverting => 2,
    };
    match (before, c.anomaly_since()) {
        (None, Some(since)) => {
            let start = (country.to_owned(), since, None, AnomalyHealth::Converting);
            f.anomalies.push(start);
        }
        (Some(_), None) => {
            if let Some(e) = f.anomalies.iter_mut().rev().find(|e| e.0 == country) {
                e.2 = Some(now);
            }
        }
        _ => {}
    }
    if c.anomaly_since().is_some() {
        let view = c.anomaly(settings, now);
        let episode = f.anomalies.iter_mut().rev().find(|e| e.0 == country);
        if let (Some(view), Some(e)) = (view, episode) {
            if rank(view.health) > rank(e.3) {
                e.3 = view.health;
            }
        }
    }
}

/// The size of the guard's stored state (JSON, as a Durable Object keeps it).
fn census(
    ranges: &HashMap<String, RangeState>,
    countries: &HashMap<String, CountryState>,
    f: &mut Figures,
) {
    let mut bytes = 0;
    for (k, s) in ranges {
        let n = k.len() + serde_json::to_string(s).map_or(0, |j| j.len());
        f.largest_state = f.largest_state.max(n);
        bytes += n;
    }
    for (k, s) in countries {
        let n = k.len() + serde_json::to_string(s).map_or(0, |j| j.len());
        f.largest_state = f.largest_state.max(n);
        bytes += n;
    }
    f.peak_ranges = f.peak_ranges.max(ranges.len());
    f.peak_bytes = f.peak_bytes.max(bytes);
}

// --- Report --------------------------------------------------------------------------

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn main() {
    let mut seed = 14u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).expect("--seed N"),
            _ => {
                eprintln!("usage: fraud_sim [--seed N]");
                std::process::exit(2);
            }
        }
    }
    let settings = FraudSettings::default();
    settings.validate().expect("default settings");
    let us = 0;
    let base = Scenario {
        name: "",
        attacks: &[],
        campaign: None,
        spike: false,
        lost_percent: 0,
        duplicated_percent: 2,
    };
    let all: &[Attack] = &[Attack::A, Attack::B, Attack::C];
    let scenarios = [
        Scenario {
            name: "none (real traffic only)",
            ..base
        },
        Scenario {
            name: "a: 5/s into one range of PH, 6 h",
            attacks: &[Attack::A],
            ..base
        },
        Scenario {
            name: "b: 5/s over 200 ranges of MX, 6 h",
            attacks: &[Attack::B],
            ..base
        },
        Scenario {
            name: "c: 1 per 10 min into one range of GB, all week",
            attacks: &[Attack::C],
            ..base
        },
        Scenario {
            name: "d: campaign, 10x US for a day",
            campaign: Some(us),
            ..base
        },
        Scenario {
            name: "d: campaign, 10x MX for a day",
            campaign: Some(B_COUNTRY),
            ..base
        },
        Scenario {
            name: "a, b, c and d (US) in one week",
            attacks: all,
            campaign: Some(us),
            ..base
        },
        Scenario {
            name: "a, b, c and d (US), 5% of reports lost, 5% twice",
            attacks: all,
            campaign: Some(us),
            lost_percent: 5,
            duplicated_percent: 5,
            ..base
        },
        Scenario {
            name: "beyond: e: 5/s over all of MX's mobiles, 6 h",
            attacks: &[Attack::E],
            ..base
        },
        Scenario {
            name: "beyond: push spike, 3,000 new US users in 10 min",
            spike: true,
            ..base
        },
    ];
    let started = Instant::now();
    println!(
        "Fraud guard simulation: seed {seed}, week from {} UTC, default FraudSettings\n",
        format_utc(T0)
    );
    println!("| scenario | attack sends | SMS leaked | goal | real users | refused | % | goal | refusals by reason |");
    println!("|---|---:|---:|---|---:|---:|---:|---|---|");
    let mut all_met = true;
    let mut state_lines = Vec::new();
    for sc in &scenarios {
        let f = run(&settings, sc, seed);
        let mut leaks = Vec::new();
        let mut goals = Vec::new();
        let mut sends = Vec::new();
        for &kind in sc.attacks {
            let name = attack_name(kind);
            let a = f.attacks.get(name).map_or((0, 0, 0, 0), |a| {
                (
                    a.attempts,
                    a.leaked,
                    a.attempts_after_day,
                    a.leaked_after_day,
                )
            });
            sends.push(format!("{name}: {}", a.0));
            match kind {
                Attack::A => {
                    leaks.push(format!("a: {}", a.1));
                    goals.push(format!("a ≤ 30 {}", mark(a.1 <= 30, &mut all_met)));
                }
                Attack::B => {
                    leaks.push(format!("b: {}", a.1));
                    goals.push(format!("b ≤ 300 {}", mark(a.1 <= 300, &mut all_met)));
                }
                Attack::E => {
                    leaks.push(format!("e: {}", a.1));
                    goals.push("none".into());
                }
                Attack::C => {
                    let share = pct(a.3, a.2);
                    leaks.push(format!(
                        "c: {} ({} of {} after 24 h, {share:.1}%)",
                        a.1, a.3, a.2
                    ));
                    goals.push(format!(
                        "c ≤ 2% after 24 h {}",
                        mark(share <= 2.0, &mut all_met)
                    ));
                }
            }
        }
        let refused = f.refused_users.len() as u64;
        let users_pct = pct(refused, u64::from(f.users));
        let mut user_goal = if sc.name.starts_with("beyond") {
            "none".to_owned()
        } else {
            format!("≤ 0.1% {}", mark(users_pct <= 0.1, &mut all_met))
        };
        if sc.spike {
            let rc = f.refused_campaign_users.len();
            user_goal.push_str(&format!("; spike: {rc} of {SPIKE_USERS} refused"));
        }
        if sc.campaign.is_some() {
            let rc = f.refused_campaign_users.len();
            user_goal.push_str(&format!(
                "; campaign: {rc} of {} {}",
                f.campaign_users,
                mark(rc == 0, &mut all_met)
            ));
        }
        let mut reasons: Vec<_> = f.refused_by_reason.iter().collect();
        reasons.sort_by_key(|(r, _)| format!("{r:?}"));
        let reasons = reasons
            .iter()
            .map(|(r, n)| format!("{}: {n}", r.error().name()))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.3} | {} | {} |",
            sc.name,
            if sends.is_empty() {
                "0".into()
            } else {
                sends.join("; ")
            },
            if leaks.is_empty() {
                "-".into()
            } else {
                leaks.join("; ")
            },
            if goals.is_empty() {
                "-".into()
            } else {
                goals.join("; ")
            },
            f.users,
            refused,
            users_pct,
            user_goal,
            if reasons.is_empty() {
                "-".into()
            } else {
                reasons
            },
        );
        let anomalies = f
            .anomalies
            .iter()
            .map(|(c, start, end, health)| {
                let end = end.map_or("end".to_owned(), clock);
                format!("{c} {}–{end} ({health:?})", clock(*start))
            })
            .collect::<Vec<_>>();
        state_lines.push(format!(
            "- {}: {} real sends ({} refused); {} outcome reports ({} ignored: repeats, \
             undone or forgotten OTPs); at most {} range states, {:.0} KiB of state, \
             largest {} B; anomalies: {}",
            sc.name,
            f.real_attempts,
            f.real_refused,
            f.reports,
            f.reports_ignored,
            f.peak_ranges,
            f.peak_bytes as f64 / 1024.0,
            f.largest_state,
            if anomalies.is_empty() {
                "none".into()
            } else {
                anomalies.join(", ")
            }
        ));
    }
    println!(
        "\nPer scenario (state as stored JSON, measured once a simulated day; \
         times as day of the week and UTC):\n"
    );
    for l in state_lines {
        println!("{l}");
    }
    println!(
        "\n{} in {:.1} s of wall time.",
        if all_met {
            "Every goal met"
        } else {
            "SOME GOALS MISSED"
        },
        started.elapsed().as_secs_f64()
    );
}

/// `d4 12:00` for an instant of the week (day 1 is the first).
fn clock(t: i64) -> String {
    let s = t - T0;
    format!(
        "d{} {:02}:{:02}",
        s / DAY + 1,
        s % DAY / HOUR,
        s % HOUR / MINUTE
    )
}

fn mark(ok: bool, all: &mut bool) -> &'static str {
    *all &= ok;
    if ok {
        "✓"
    } else {
        "✗"
    }
}
