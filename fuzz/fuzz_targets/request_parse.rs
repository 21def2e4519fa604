//! A create request from untrusted bytes, through `resolve`, `plan_otp` and `verify`.
//!
//! Input: `JSON [\0 script]`. The JSON is parsed with
//! `serde_json::from_slice::<OtpRequest>` (JSON text never holds a raw NUL, so
//! the first NUL ends it). The optional script is one step per line:
//!
//! | line | step |
//! |---|---|
//! | `custom=XXXX` (first line only) | sets `OtpRequest::custom_pin` (not on the wire) |
//! | `=` | verify with the right PIN |
//! | `=l` | verify with the right PIN lowercased, with spaces around |
//! | `-` | verify with no PIN (`None`) |
//! | `@N` | advance the clock N seconds |
//! | `cancel` | cancel |
//! | anything else | verify with that text as the PIN |
//!
//! The request is resolved against two applications: the default settings and a
//! richer one (own template, language templates with prefixes, WebOTP domain,
//! prices, alphanumeric PINs, 3 attempts). Checks, for each:
//! - nothing panics; `plan_otp` (seeded `SeededRandom`, fixed keys) succeeds
//!   exactly when `resolve` does and returns the same resolution;
//! - the plan is consistent: TTL 60-1800, 1-10 attempts, `expiresAt = now + ttl`,
//!   the PIN (re-drawn from a clone of the generator, or the custom one) has the
//!   resolved length and alphabet and is in the SMS text, the text's parts are
//!   `count_parts` of it, the message goes to the E.164, the record shows the
//!   masked number;
//! - the serialized record has exactly the known keys, its digest is the PIN's
//!   HMAC, it holds neither the PIN nor the full number outside the random hex
//!   and client-supplied fields, and it reads back equal;
//! - every `verify` / `cancel` gives what a small model of the state machine
//!   says (attempt counted before the comparison, FAILED on the last wrong PIN,
//!   EXPIRED from the clock, final states never move), attempts never exceed
//!   `maxAttempts`, and an unchanged record is really unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::id::{is_uuid, new_uuid_v4};
use otp_core::otp::{plan_otp, OtpRecord, OtpStatus, PlannedOtp};
use otp_core::pin::{generate_pin, PinType};
use otp_core::rng::SeededRandom;
use otp_core::secret::SecretKeys;
use otp_core::settings::{resolve, OtpRequest, OtpSettings, PriceTable, MAX_TTL, MIN_TTL};
use otp_core::template::LanguageTemplate;
use otp_core::time::UnixSeconds;
use otp_core::Error;
use std::sync::OnceLock;

#[path = "common.rs"]
mod common;

const T0: UnixSeconds = 1_700_000_000;
const MAX_STEPS: usize = 64;

/// The keys of a serialized `OtpRecord`; a new field must be added here (and
/// checked for secrets) on purpose.
const RECORD_KEYS: &[&str] = &[
    "otpId",
    "trackId",
    "phoneMasked",
    "countryIso",
    "status",
    "cost",
    "parts",
    "maxAttempts",
    "attempts",
    "ttl",
    "otpCallbackUrl",
    "createdAt",
    "expiresAt",
    "updatedAt",
    "pinDigest",
];

fn keys() -> &'static SecretKeys {
    static KEYS: OnceLock<SecretKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        SecretKeys::new(vec![
            b"fuzz-key-fuzz-key-fuzz-key".to_vec(),
            b"older-fuzz-key-older".to_vec(),
        ])
        .expect("keys of 16+ bytes")
    })
}

fn apps() -> &'static [OtpSettings; 2] {
    static APPS: OnceLock<[OtpSettings; 2]> = OnceLock::new();
    APPS.get_or_init(|| {
        let rich = OtpSettings {
            template: Some("{{brand}} code {code}, valid {ttl} min".into()),
            language_templates: vec![
                LanguageTemplate {
                    language: "fr".into(),
                    prefixes: vec!["33".into(), "262".into()],
                    template: "Code {{pin}} ({{ttl}} min)".into(),
                },
                LanguageTemplate {
                    language: "de".into(),
                    prefixes: vec!["49".into(), "4930".into()],
                    template: "{{app}}: {pin} \u{1F600} {{ttl}}".into(),
                },
            ],
            originator: "Acme".into(),
            pin_type: PinType::Alphanumeric,
            pin_length: 8,
            ttl: 300,
            max_attempts: 3,
            callback_url: Some("https://example.com/otp".into()),
            prices: PriceTable {
                default: 0.05,
                countries: [("FR".to_string(), 0.07), ("US".to_string(), 0.0075)].into(),
            },
            brand: "Acme Ünïcode".into(),
            webotp_domain: Some("example.com".into()),
        };
        let apps = [OtpSettings::default(), rich];
        for app in &apps {
            app.validate().expect("fuzz app settings are valid");
        }
        apps
    })
}

/// FNV-1a, to seed the generator from the input (deterministic per input).
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The serialized record, checked for its shape and for secrets.
fn check_record(record: &OtpRecord, pin: &str, full_digits: &str) {
    let json = serde_json::to_value(record).expect("a record serializes");
    let obj = json.as_object().expect("a record is an object");
    let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = RECORD_KEYS.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "record keys");

    assert!(is_uuid(&record.otp_id), "otpId {:?}", record.otp_id);
    assert_eq!(record.pin_digest, keys().pin_digest(&record.otp_id, pin));
    assert_eq!(record.pin_digest.len(), 64);
    assert!(record
        .pin_digest
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    assert!(record.attempts <= record.max_attempts, "{record:?}");
    assert_ne!(record.status, OtpStatus::Expired, "EXPIRED is never stored");

    // The random hex (otpId, pinDigest), the client's own strings (trackId,
    // otpCallbackUrl) and numbers may hold any digits by chance; everything else
    // is text the core wrote and must hold neither the PIN nor the full number.
    let mut rest = obj.clone();
    for key in ["otpId", "pinDigest", "trackId", "otpCallbackUrl"] {
        rest.remove(key);
    }
    rest.retain(|_, v| !v.is_number());
    let text = serde_json::Value::Object(rest).to_string();
    assert!(!text.contains(pin), "record holds the PIN {pin}: {text}");
    assert!(
        !text.contains(full_digits),
        "record holds {full_digits}: {text}"
    );

    let text = serde_json::to_string(record).expect("a record serializes");
    let mut back: OtpRecord = serde_json::from_str(&text).expect("a record reads back");
    assert!(
        (back.cost - record.cost).abs() <= 1e-9,
        "{} vs {}",
        back.cost,
        record.cost
    );
    back.cost = record.cost;
    assert_eq!(&back, record, "record round trip");
}

/// The plan against what was resolved; returns the PIN.
fn check_plan(
    plan: &PlannedOtp,
    request: &OtpRequest,
    mut twin: SeededRandom,
    now: UnixSeconds,
) -> String {
    let resolved = &plan.resolved;
    let record = &plan.record;
    let message = &plan.message;
    assert!((MIN_TTL..=MAX_TTL).contains(&resolved.ttl));
    assert!((1..=10).contains(&resolved.max_attempts));
    assert_eq!(record.ttl, resolved.ttl);
    assert_eq!(record.max_attempts, resolved.max_attempts);
    assert_eq!(record.attempts, 0);
    assert_eq!(record.status, OtpStatus::Pending);
    assert_eq!(record.created_at, now);
    assert_eq!(record.expires_at, now + i64::from(resolved.ttl));
    assert_eq!(record.track_id, resolved.track_id);
    assert_eq!(record.otp_callback_url, resolved.callback_url);
    assert_eq!(record.phone_masked, plan.phone.masked());
    assert_eq!(record.country_iso, plan.phone.country_iso());
    assert_eq!(plan.phone, resolved.phone);
    assert!(record.cost.is_finite() && record.cost >= 0.0);

    // plan_otp draws the id, then (unless a custom PIN is given) the PIN.
    let id = new_uuid_v4(&mut twin);
    assert_eq!(record.otp_id, id, "plan_otp no longer draws the id first");
    let pin = match &request.custom_pin {
        Some(custom) => {
            assert_eq!(resolved.custom_pin.as_ref(), Some(custom));
            custom.clone()
        }
        None => generate_pin(&mut twin, resolved.pin_type, resolved.pin_length)
            .expect("a resolved length is valid"),
    };
    assert_eq!(pin.len(), usize::from(resolved.pin_length));
    assert!((4..=10).contains(&pin.len()), "{pin:?}");
    assert!(resolved.pin_type.accepts(&pin), "{pin:?}");
    assert!(
        message.text.contains(&pin),
        "{:?} lacks the PIN",
        message.text
    );

    let parts = common::check_parts(&message.text);
    assert_eq!(message.encoding, parts.encoding);
    assert_eq!(message.units, parts.units);
    assert_eq!(message.parts, parts.parts);
    assert_eq!(record.parts, parts.parts);
    assert_eq!(message.to, plan.phone.e164());
    assert_eq!(message.from, resolved.originator);
    pin
}

/// What the state machine must do, written from its documentation.
struct Model {
    status: OtpStatus,
    attempts: u8,
    max_attempts: u8,
    expires_at: UnixSeconds,
}

impl Model {
    fn status_at(&self, now: UnixSeconds) -> OtpStatus {
        if self.status == OtpStatus::Pending && now >= self.expires_at {
            OtpStatus::Expired
        } else {
            self.status
        }
    }

    fn verify(&mut self, guess: Option<&str>, pin: &str, now: UnixSeconds) -> Result<(), Error> {
        let guess = match guess.map(|g| g.trim().to_ascii_uppercase()) {
            Some(g) if !g.is_empty() => g,
            _ => return Err(Error::PinMissing),
        };
        match self.status_at(now) {
            OtpStatus::Verified => return Err(Error::OtpAlreadyVerified),
            OtpStatus::Cancelled => return Err(Error::OtpCancelled),
            OtpStatus::Failed => return Err(Error::OtpFailed),
            OtpStatus::Expired => return Err(Error::OtpExpired),
            OtpStatus::Pending => {}
        }
        self.attempts += 1;
        if guess == pin {
            self.status = OtpStatus::Verified;
            Ok(())
        } else if self.attempts >= self.max_attempts {
            self.status = OtpStatus::Failed;
            Err(Error::OtpFailedLastAttempt)
        } else {
            Err(Error::InvalidPin)
        }
    }

    fn cancel(&mut self, now: UnixSeconds) -> Result<(), Error> {
        match self.status_at(now) {
            OtpStatus::Pending => {
                self.status = OtpStatus::Cancelled;
                Ok(())
            }
            OtpStatus::Cancelled => Err(Error::OtpAlreadyCancelled),
            _ => Err(Error::OtpNotPending),
        }
    }
}

fn run_script(plan: &PlannedOtp, pin: &str, script: &[&str]) {
    let mut record = plan.record.clone();
    let full_digits = plan.phone.digits();
    let mut model = Model {
        status: record.status,
        attempts: record.attempts,
        max_attempts: record.max_attempts,
        expires_at: record.expires_at,
    };
    let mut now = record.created_at;
    check_record(&record, pin, full_digits);
    for &step in script.iter().take(MAX_STEPS) {
        if let Some(n) = step.strip_prefix('@') {
            if let Ok(n) = n.trim().parse::<u32>() {
                now += i64::from(n);
            }
            continue;
        }
        let before = record.clone();
        let status_before = record.status;
        let (result, changed, status_changed) = if step == "cancel" {
            let r = record.cancel(now);
            assert_eq!(r, model.cancel(now), "cancel at {now}");
            (r, r.is_ok(), r.is_ok())
        } else {
            let lower;
            let guess = match step {
                "-" => None,
                "=" => Some(pin),
                "=l" => {
                    lower = format!(" {} ", pin.to_ascii_lowercase());
                    Some(lower.as_str())
                }
                other => Some(other),
            };
            let v = record.verify(guess, keys(), now);
            let want = model.verify(guess, pin, now);
            assert_eq!(v.result, want, "verify({guess:?}) at {now}");
            (v.result, v.record_changed, v.status_changed)
        };
        let _ = result;
        assert_eq!(record.status, model.status);
        assert_eq!(record.attempts, model.attempts);
        assert!(record.attempts <= record.max_attempts, "{record:?}");
        assert_eq!(status_changed, record.status != status_before);
        if changed {
            assert!(record != before);
        } else {
            assert_eq!(record, before, "an unchanged record changed");
        }
        if record.status != status_before {
            assert_eq!(record.updated_at, now);
        }
        check_record(&record, pin, full_digits);
        let view = record.view(now, None);
        assert_eq!(view.status, model.status_at(now));
        assert!(view.attempts <= view.max_attempts);
        assert_eq!(view.phone_number, record.phone_masked);
        assert!(record.attempts_left(now) <= record.max_attempts);
    }
}

fuzz_target!(|data: &[u8]| {
    let (json, script) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(mut request) = serde_json::from_slice::<OtpRequest>(json) else {
        return;
    };
    let script = script.map(String::from_utf8_lossy).unwrap_or_default();
    let mut steps: Vec<&str> = script.split('\n').filter(|s| !s.is_empty()).collect();
    if let Some(custom) = steps.first().and_then(|s| s.strip_prefix("custom=")) {
        request.custom_pin = Some(custom.to_owned());
        steps.remove(0);
    }

    let seed = fnv(data);
    for app in apps() {
        let resolved = resolve(app, &request);
        let rng = SeededRandom::new(seed);
        let mut used = rng.clone();
        let planned = plan_otp(app, &request, T0, &mut used, keys());
        match (&resolved, &planned) {
            (Err(a), Err(b)) => assert_eq!(a, b, "resolve and plan_otp disagree"),
            (Ok(r), Ok(plan)) => {
                assert_eq!(r, &plan.resolved);
                let pin = check_plan(plan, &request, rng, T0);
                run_script(plan, &pin, &steps);
            }
            _ => panic!(
                "resolve {resolved:?} but plan_otp {:?}",
                planned.as_ref().err()
            ),
        }
    }
});
