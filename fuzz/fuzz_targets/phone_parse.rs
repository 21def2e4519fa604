//! `phone::parse_phone` on any input, with or without a country.
//!
//! Input (lossy UTF-8): `number`, or `countryIso \0 number` (only the first NUL
//! splits, so the number may hold more NULs; an empty country is `Some("")`).
//!
//! Checks: never panics; an error is one of the phone/country errors; every `Ok` is
//! `+` then 7-15 ASCII digits starting with its calling code, of a known country
//! with that code (or of region `001`, a non-geographic code); it is valid exactly
//! when its type is not `Unknown`; `masked()` is `+`, the calling code, a `*` per
//! national digit but the last three, and those three; `Debug` never shows the full
//! number; `Display` is the E.164; a given non-blank country was a known one;
//! parsing the E.164 again (without a country, and with `00` instead of `+`) gives
//! the very same `PhoneNumber` (country and type included: the digits decide them),
//! and so does parsing it with the number's own country.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::phone::{
    calling_code_for_country, is_known_country, parse_phone, NumberType, PhoneNumber, MAX_DIGITS,
    MIN_DIGITS,
};
use otp_core::Error;

fn check_ok(p: &PhoneNumber, iso: Option<&str>, input: &str) {
    let e = p.e164();
    let digits = p.digits();
    assert!(e.starts_with('+'), "{input:?} -> {e}");
    assert_eq!(&e[1..], digits);
    assert!(
        (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()),
        "{input:?} -> {e}"
    );
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "{input:?} -> {e}"
    );

    let code = p.calling_code().to_string();
    assert!(digits.starts_with(&code), "{e} does not start with {code}");
    let national = p.national_number();
    assert_eq!(format!("{code}{national}"), digits);
    assert!(national.len() >= 3, "{e}");
    if p.is_international_network() {
        assert_eq!(p.country_iso(), "001");
    } else {
        assert!(
            is_known_country(p.country_iso()),
            "{input:?} -> {}",
            p.country_iso()
        );
        assert_eq!(
            calling_code_for_country(p.country_iso()),
            Some(p.calling_code())
        );
    }
    assert_eq!(p.is_valid(), p.number_type() != NumberType::Unknown);
    if let Some(iso) = iso.map(str::trim).filter(|s| !s.is_empty()) {
        assert!(is_known_country(iso), "unknown country {iso:?} accepted");
    }

    let masked = p.masked();
    let hidden = national.len() - 3;
    let want = format!("+{code}{}{}", "*".repeat(hidden), &national[hidden..]);
    assert_eq!(masked, want, "masked({e})");
    let debug = format!("{p:?}");
    assert!(!debug.contains(digits), "Debug shows {e}: {debug}");
    assert!(!debug.contains(national), "Debug shows {national}: {debug}");
    assert_eq!(p.to_string(), e);

    let again = parse_phone(e, None).unwrap_or_else(|err| panic!("{e} -> {err:?}"));
    assert_eq!(&again, p, "{input:?}");
    let zeros = parse_phone(&format!("00{digits}"), None)
        .unwrap_or_else(|err| panic!("00{digits} -> {err:?}"));
    assert_eq!(zeros, again, "00{digits}");
    if !p.is_international_network() {
        let same = parse_phone(e, Some(p.country_iso()))
            .unwrap_or_else(|err| panic!("{e} {} -> {err:?}", p.country_iso()));
        assert_eq!(&same, p, "{e} with {}", p.country_iso());
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (iso, input) = match text.split_once('\0') {
        Some((iso, number)) => (Some(iso), number),
        None => (None, &*text),
    };
    match parse_phone(input, iso) {
        Ok(p) => check_ok(&p, iso, input),
        Err(e) => assert!(
            matches!(
                e,
                Error::PhoneNumberEmpty
                    | Error::PhoneNumberInvalid
                    | Error::PhoneNumberTooShort
                    | Error::PhoneNumberTooLong
                    | Error::PhoneCountryCodeUnknown
                    | Error::CountryIsoEmpty
                    | Error::CountryIsoInvalid
            ),
            "{input:?} {iso:?} -> unexpected {e:?}"
        ),
    }
});
