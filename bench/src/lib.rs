//! Fixtures of the otp-core benchmarks (`benches/core.rs`): the inputs in
//! `bench/fixtures.json`, which the wasm benchmark in Node (`bench/wasm.mjs`) reads
//! too, so that both time the same work. Run everything with `scripts/bench.sh`.
//!
//! Built for `wasm32-unknown-unknown`, this crate also exports `pairs(n)`: the core's
//! create+verify loop with no JS in between (no bindings, no imports), which is how
//! the worker runs the core; `bench/wasm.mjs` times it next to the npm package.

use otp_core::otp::{plan_otp, OtpRecord};
use otp_core::rng::{RandomSource, SeededRandom};
use otp_core::secret::SecretKeys;
use otp_core::settings::{OtpRequest, OtpSettings};
use otp_core::time::UnixSeconds;
use serde_json::Value;

/// The parsed `bench/fixtures.json`.
pub struct Fixtures {
    /// The clock of every call.
    pub now: UnixSeconds,
    /// Server PIN keys.
    pub keys: SecretKeys,
    /// The application's settings.
    pub settings: OtpSettings,
    /// The create request.
    pub request: OtpRequest,
    /// Length of generated PINs.
    pub pin_length: u8,
    /// A template to render.
    pub template: String,
    /// PIN for rendering.
    pub pin: String,
    /// TTL in seconds for rendering.
    pub ttl_seconds: u32,
    /// Brand for rendering.
    pub brand: String,
    /// WebOTP domain for rendering.
    pub webotp_domain: String,
    /// A GSM-7 SMS text.
    pub sms_gsm7: String,
    /// A UCS-2 SMS text.
    pub sms_ucs2: String,
    /// A phone number in E.164.
    pub phone_e164: String,
    /// A national phone number and its country.
    pub phone_national: (String, String),
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixtures.json: {key}"))
        .to_owned()
}

/// Loads the fixtures (compiled in).
pub fn fixtures() -> Fixtures {
    let v: Value = serde_json::from_str(include_str!("../fixtures.json")).expect("fixtures.json");
    let keys = v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("key").as_bytes().to_vec())
        .collect();
    let vars = &v["templateVars"];
    Fixtures {
        now: v["now"].as_i64().expect("now"),
        keys: SecretKeys::new(keys).expect("keys of 16+ bytes"),
        settings: serde_json::from_value(v["settings"].clone()).expect("settings"),
        request: serde_json::from_value(v["request"].clone()).expect("request"),
        pin_length: v["pinLength"].as_u64().expect("pinLength") as u8,
        template: text(&v, "template"),
        pin: text(vars, "pin"),
        ttl_seconds: vars["ttlSeconds"].as_u64().expect("ttlSeconds") as u32,
        brand: text(vars, "brand"),
        webotp_domain: text(vars, "webotpDomain"),
        sms_gsm7: text(&v, "smsGsm7"),
        sms_ucs2: text(&v, "smsUcs2"),
        phone_e164: text(&v, "phoneE164"),
        phone_national: (
            text(&v["phoneNational"], "input"),
            text(&v["phoneNational"], "countryIso"),
        ),
    }
}

/// The PIN of a planned SMS: the text ends with the WebOTP line `@domain #PIN`.
pub fn pin_of(sms_text: &str) -> &str {
    sms_text.rsplit_once('#').map_or("", |(_, pin)| pin)
}

/// A fresh PENDING record and its PIN, planned from the fixtures.
pub fn pending_record(f: &Fixtures) -> (OtpRecord, String) {
    let planned = plan_otp(
        &f.settings,
        &f.request,
        f.now,
        &mut otp_core::rng::OsRandom,
        &f.keys,
    )
    .expect("plan_otp");
    let pin = pin_of(&planned.message.text).to_owned();
    (planned.record, pin)
}

/// One create+verify pair drawing from `rng`; `true` when the PIN verified.
pub fn pair(f: &Fixtures, rng: &mut dyn RandomSource) -> bool {
    let planned = plan_otp(&f.settings, &f.request, f.now, rng, &f.keys).expect("plan_otp");
    let mut record = planned.record;
    let pin = pin_of(&planned.message.text);
    record.verify(Some(pin), &f.keys, f.now + 1).result.is_ok()
}

/// `n` pairs from a seeded source (no I/O at all: the core's work alone); how many verified.
pub fn seeded_pairs(f: &Fixtures, seed: u64, n: u32) -> u32 {
    let mut rng = SeededRandom::new(seed);
    (0..n).map(|_| u32::from(pair(f, &mut rng))).sum()
}

/// The export of the wasm build (see the crate docs).
#[cfg(target_arch = "wasm32")]
mod wasm_exports {
    use std::sync::OnceLock;

    static FIXTURES: OnceLock<super::Fixtures> = OnceLock::new();

    /// Runs `n` seeded create+verify pairs; returns how many verified (all of them).
    #[allow(unreachable_pub)] // exported from the wasm module by `no_mangle`
    #[no_mangle]
    pub extern "C" fn pairs(n: u32) -> u32 {
        super::seeded_pairs(FIXTURES.get_or_init(super::fixtures), 7, n)
    }
}
