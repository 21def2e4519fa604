//! Whether an OTP SMS may go to a phone number: the numbering plan says what the
//! number is ([`PhoneNumber::is_valid`], [`PhoneNumber::number_type`]), the
//! application's settings say which types it sends to
//! ([`OtpSettings::allowed_number_types`]). An API calls [`check_recipient`] after
//! parsing the number and before storing or sending anything.

use crate::error::{Error, Result};
use crate::phone::{NumberType, PhoneNumber};
use crate::settings::OtpSettings;

/// The name of what a number is, for the message of
/// [`Error::PhoneNumberTypeNotAllowed`] (whose const message cannot say it):
/// `internationalNetwork` for the non-geographic calling codes (+800, +881, …),
/// else [`NumberType::as_str`] of its type (`fixedLine`, `premiumRate`, …).
/// An API answers e.g. `"the application does not send to this type of phone
/// number: premiumRate"`.
pub fn recipient_type(phone: &PhoneNumber) -> &'static str {
    if phone.is_international_network() {
        "internationalNetwork"
    } else {
        phone.number_type().as_str()
    }
}

/// Whether an OTP SMS may go to `phone` under the application's `settings`:
///
/// - a number its numbering plan does not have is [`Error::PhoneNumberNotInPlan`]
///   (SMS.CX's 2020, like every unusable number);
/// - a number of an international network (the non-geographic calling codes:
///   +800, +808, +870, +878, +881, +882, +883, +888, +979) is
///   [`Error::PhoneNumberTypeNotAllowed`], whatever the settings: satellite and
///   global services, expensive and seldom reachable by SMS;
/// - a number whose type is not in `allowedNumberTypes` is
///   [`Error::PhoneNumberTypeNotAllowed`] (by default: fixed lines, toll-free,
///   premium rate, shared cost, pagers, UAN and voicemail). Where the plan cannot
///   tell a landline from a mobile (the North American plan), the number is
///   `fixedLineOrMobile`, allowed by default.
///
/// Name the refused type with [`recipient_type`].
pub fn check_recipient(phone: &PhoneNumber, settings: &OtpSettings) -> Result<()> {
    if !phone.is_valid() {
        return Err(Error::PhoneNumberNotInPlan);
    }
    if phone.is_international_network() || !allows(settings, phone.number_type()) {
        return Err(Error::PhoneNumberTypeNotAllowed);
    }
    Ok(())
}

fn allows(settings: &OtpSettings, kind: NumberType) -> bool {
    settings
        .allowed_number_types
        .iter()
        .any(|name| name == kind.as_str())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::phone::parse_phone;

    fn check(number: &str, settings: &OtpSettings) -> Result<()> {
        check_recipient(&parse_phone(number, None).unwrap(), settings)
    }

    #[test]
    fn mobiles_and_numbers_the_plan_cannot_split_are_sent_to_by_default() {
        let app = OtpSettings::default();
        for number in [
            "+33612424111",   // FR mobile
            "+447400123456",  // GB mobile
            "+12015550123",   // US: fixed line or mobile
            "+14165550123",   // CA: fixed line or mobile
            "+447012345678",  // GB personal number
            "+445612345678",  // GB VoIP
            "+4915123456789", // DE mobile
        ] {
            assert_eq!(check(number, &app), Ok(()), "{number}");
        }
    }

    #[test]
    fn invalid_numbers_are_not_in_plan_with_code_2020() {
        let app = OtpSettings::default();
        // libphonenumber's own invalid examples, and Ofcom's drama range.
        for number in ["+9712234567", "+37671234", "+447700900123", "+3312345"] {
            assert_eq!(
                check(number, &app),
                Err(Error::PhoneNumberNotInPlan),
                "{number}"
            );
        }
        assert_eq!(Error::PhoneNumberNotInPlan.code(), 2020);
        assert_eq!(Error::PhoneNumberNotInPlan.http_status(), 400);
    }

    #[test]
    fn landlines_and_costly_numbers_are_refused_with_code_2118_and_their_type() {
        let app = OtpSettings::default();
        for (number, kind) in [
            ("+33123456789", "fixedLine"),
            ("+442079460958", "fixedLine"),
            ("+448001234567", "tollFree"),
            ("+449012345678", "premiumRate"),
            ("+33810123456", "sharedCost"),
            ("+447640123456", "pager"),
            ("+445512345678", "uan"),
            ("+18002345678", "tollFree"),
            ("+19002345678", "premiumRate"),
        ] {
            let phone = parse_phone(number, None).unwrap();
            assert_eq!(
                check_recipient(&phone, &app),
                Err(Error::PhoneNumberTypeNotAllowed),
                "{number}"
            );
            assert_eq!(recipient_type(&phone), kind, "{number}");
        }
        assert_eq!(Error::PhoneNumberTypeNotAllowed.code(), 2118);
        assert_eq!(Error::PhoneNumberTypeNotAllowed.http_status(), 400);
        assert_eq!(
            Error::PhoneNumberTypeNotAllowed.name(),
            "phone_number_type_not_allowed"
        );
    }

    #[test]
    fn international_networks_are_refused_whatever_the_settings() {
        let app = OtpSettings {
            allowed_number_types: NumberType::ALL
                .iter()
                .skip(1)
                .map(|t| t.as_str().to_owned())
                .collect(),
            ..OtpSettings::default()
        };
        app.validate().unwrap();
        for (number, kind) in [
            ("+80012345678", "tollFree"),
            ("+881612345678", "mobile"),
            ("+882390123456789", "voip"),
            ("+883510012345", "voip"),
            ("+979123456789", "premiumRate"),
        ] {
            let phone = parse_phone(number, None).unwrap();
            assert_eq!(phone.country_iso(), "001", "{number}");
            assert!(phone.is_valid(), "{number}");
            assert_eq!(phone.number_type().as_str(), kind, "{number}");
            assert_eq!(recipient_type(&phone), "internationalNetwork");
            assert_eq!(
                check_recipient(&phone, &app),
                Err(Error::PhoneNumberTypeNotAllowed),
                "{number}"
            );
        }
    }

    #[test]
    fn an_application_may_allow_landlines_or_only_mobiles() {
        let landlines = OtpSettings {
            allowed_number_types: vec!["mobile".into(), "fixedLine".into()],
            ..OtpSettings::default()
        };
        landlines.validate().unwrap();
        assert_eq!(check("+33123456789", &landlines), Ok(()));
        assert_eq!(check("+33612424111", &landlines), Ok(()));
        assert_eq!(
            check("+12015550123", &landlines),
            Err(Error::PhoneNumberTypeNotAllowed)
        );
        let mobiles = OtpSettings {
            allowed_number_types: vec!["mobile".into()],
            ..OtpSettings::default()
        };
        assert_eq!(
            check("+445612345678", &mobiles),
            Err(Error::PhoneNumberTypeNotAllowed)
        );
    }
}
