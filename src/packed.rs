//! A planned OTP as one string, for the npm bindings' hot path (`OtpEngine` in
//! [`crate::wasm`]): in JS, taking a string apart is several times cheaper than
//! `JSON.parse` of the same fields. The package's TypeScript layer (`unpackPlanned` in
//! `pkg/src/core.ts`) reads this format; the test below checks it against
//! [`crate::otp::plan_otp`].

use crate::decimal;
use crate::otp::{DrawnOtp, OtpStatus};
use crate::settings::ResolvedOtp;
use crate::sms::SmsEncoding;
use crate::time::UnixSeconds;

/// Separates the fields. Only the SMS text, written last, can hold it: every other
/// field is checked free of control characters or written by the core.
pub(crate) const SEP: char = '\0';

/// One field.
enum Field<'a> {
    Text(&'a str),
    Float(f64),
    Int(i64),
}

/// The fields of the `PlannedOtp` that `plan_otp` assembles from `resolved` and
/// `drawn`, separated by [`SEP`], in this order: record `otpId`, `trackId` (empty for
/// none), `phoneMasked`, `countryIso`, `status`, `otpCallbackUrl` (empty for none),
/// `pinDigest`, `cost`, `parts`, `maxAttempts`, `attempts`, `ttl`, `createdAt`,
/// `expiresAt`, `updatedAt`; message `to`, `from`, `language`, `encoding`, `units`;
/// phone `digits`, `callingCode`; then the message `text`. The rest repeat these:
/// phone `e164` is `to`, its `countryIso` and `masked` the record's, message `parts`
/// the record's. Numbers are written so that JS reads back the same value.
pub(crate) fn planned(resolved: &ResolvedOtp, drawn: &DrawnOtp, now: UnixSeconds) -> String {
    let phone = &resolved.phone;
    let encoding = match drawn.sms.encoding {
        SmsEncoding::Gsm7 => "GSM-7",
        SmsEncoding::Ucs2 => "UCS-2",
    };
    let mut out = String::with_capacity(240 + drawn.text.len());
    for field in [
        Field::Text(&drawn.otp_id),
        Field::Text(resolved.track_id.as_deref().unwrap_or_default()),
        Field::Text(&phone.masked()),
        Field::Text(phone.country_iso()),
        Field::Text(OtpStatus::Pending.as_str()),
        Field::Text(resolved.callback_url.as_deref().unwrap_or_default()),
        Field::Text(&drawn.pin_digest),
        Field::Float(drawn.cost),
        Field::Int(i64::from(drawn.sms.parts)),
        Field::Int(i64::from(resolved.max_attempts)),
        Field::Int(0), // attempts
        Field::Int(i64::from(resolved.ttl)),
        Field::Int(now),
        Field::Int(drawn.expires_at),
        Field::Int(now),
        Field::Text(phone.e164()),
        Field::Text(&resolved.originator),
        Field::Text(&resolved.language),
        Field::Text(encoding),
        Field::Int(i64::from(drawn.sms.units)),
        Field::Text(phone.digits()),
        Field::Int(i64::from(phone.calling_code())),
    ] {
        match field {
            Field::Text(s) => out.push_str(s),
            Field::Float(v) => decimal::write_f64(v, &mut out),
            Field::Int(n) => {
                if n < 0 {
                    out.push('-');
                }
                decimal::write_u64(n.unsigned_abs(), &mut out);
            }
        }
        out.push(SEP);
    }
    out.push_str(&drawn.text);
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::otp::{plan_otp, plan_parts};
    use crate::rng::SeededRandom;
    use crate::secret::SecretKeys;
    use crate::settings::{OtpRequest, OtpSettings};
    use serde_json::{json, Value};

    /// Every number as an f64, as JS has them.
    fn as_js(v: Value) -> Value {
        match v {
            Value::Number(n) => json!(n.as_f64().unwrap()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, as_js(v))).collect()),
            other => other,
        }
    }

    /// What the TypeScript layer makes of a packed string, as JSON.
    fn unpack(packed: &str) -> Value {
        let f: Vec<&str> = packed.splitn(23, SEP).collect();
        let num = |i: usize| -> Value { serde_json::from_str(f[i]).unwrap() };
        let or_null = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
        json!({
            "record": {
                "otpId": f[0], "trackId": or_null(f[1]), "phoneMasked": f[2], "countryIso": f[3],
                "status": f[4], "cost": num(7), "parts": num(8), "maxAttempts": num(9), "attempts": num(10),
                "ttl": num(11), "otpCallbackUrl": or_null(f[5]), "createdAt": num(12), "expiresAt": num(13),
                "updatedAt": num(14), "pinDigest": f[6],
            },
            "message": {
                "to": f[15], "from": f[16], "text": f[22], "language": f[17], "encoding": f[18],
                "units": num(19), "parts": num(8),
            },
            "phone": { "e164": f[15], "digits": f[20], "callingCode": num(21), "countryIso": f[3], "masked": f[2] },
        })
    }

    #[test]
    fn a_packed_plan_holds_what_plan_otp_returns() {
        let keys = SecretKeys::new(vec![b"packed-test-key-0123456789".to_vec()]).unwrap();
        let settings = [
            json!({}),
            json!({"template": "{{pin}}\u{0}é\u{1F600}", "prices": {"default": 0.05, "countries": {"FR": 0.30000000000000004}}}),
            json!({"brand": "Zoé", "webotpDomain": "example.com", "callbackUrl": "https://example.com/cb", "prices": {"default": 1e-7}}),
        ];
        let requests = [
            json!({"phoneNumber": "+33612424111"}),
            json!({"phoneNumber": "06 12 42 41 11", "countryIso": "FR", "ttl": "120", "pinType": "letters"}),
            json!({"phoneNumber": "+4915112345678", "trackId": "123e4567-e89b-42d3-a456-426614174000", "language": "ru"}),
        ];
        for (i, s) in settings.iter().enumerate() {
            let app: OtpSettings = serde_json::from_value(s.clone()).unwrap();
            for (j, r) in requests.iter().enumerate() {
                let request: OtpRequest = serde_json::from_value(r.clone()).unwrap();
                for (seed, now) in [(1, 1_700_000_000), (2, -5), (3, 999_999_999_999_999)] {
                    let p =
                        plan_otp(&app, &request, now, &mut SeededRandom::new(seed), &keys).unwrap();
                    let (resolved, drawn) = plan_parts(
                        &app,
                        &request,
                        now,
                        &mut SeededRandom::new(seed),
                        &keys,
                        None,
                    )
                    .unwrap();
                    let expected = json!({
                        "record": p.record,
                        "message": p.message,
                        "phone": {
                            "e164": p.phone.e164(), "digits": p.phone.digits(), "callingCode": p.phone.calling_code(),
                            "countryIso": p.phone.country_iso(), "masked": p.phone.masked(),
                        },
                    });
                    let packed = planned(&resolved, &drawn, now);
                    assert_eq!(
                        as_js(unpack(&packed)),
                        as_js(expected),
                        "settings {i}, request {j}, seed {seed}"
                    );
                }
            }
        }
    }
}
