//! The core's one error type: every rule the core enforces fails with a variant
//! that carries a stable numeric code, a machine name, the SMS.CX error `type`
//! and the HTTP status an API maps it to.
//!
//! Each variant is a precise cause with a stable machine name (its `reason`). The
//! numeric `code` is what a client of SMS.CX expects for that violation: SMS.CX's
//! own 2001-2031 wherever SMS.CX documents one (every unusable number is 2020, every
//! unusable `from` 2005, …), so several reasons can share one code. Violations
//! SMS.CX has no code for get codes from 2100 up, so they never collide with a
//! future SMS.CX code.

use core::fmt;

macro_rules! errors {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = ($code:literal, $name:literal, $kind:literal, $status:literal, $message:literal),
    )*) => {
        /// A rule of OTP verification was broken. See the module docs for the code ranges.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Error {
            /// Every error, in code order (for documentation and exhaustive tests).
            pub const ALL: &'static [Error] = &[$(Error::$variant),*];

            /// The stable numeric code, as sent in an API error body.
            pub const fn code(self) -> u16 {
                match self { $(Error::$variant => $code,)* }
            }

            /// The stable machine name, unique per error (snake_case): the precise
            /// cause, sent as `reason` beside the (possibly shared) code.
            pub const fn name(self) -> &'static str {
                match self { $(Error::$variant => $name,)* }
            }

            /// The SMS.CX error `type` (e.g. `invalid_param`); several errors share one.
            pub const fn error_type(self) -> &'static str {
                match self { $(Error::$variant => $kind,)* }
            }

            /// The HTTP status an API answers this error with.
            pub const fn http_status(self) -> u16 {
                match self { $(Error::$variant => $status,)* }
            }

            /// A short human-readable message.
            pub const fn message(self) -> &'static str {
                match self { $(Error::$variant => $message,)* }
            }

            /// The error with this machine name, if any.
            pub fn from_name(name: &str) -> Option<Error> {
                Error::ALL.iter().copied().find(|e| e.name() == name)
            }
        }
    };
}

errors! {
    // --- Create request and settings (SMS.CX 2001-2020) ---
    /// `phoneNumber` is missing or empty.
    PhoneNumberEmpty = (2001, "phone_number_empty", "invalid_param", 400, "phoneNumber is empty"),
    /// A national-format number came without `countryIso`.
    CountryIsoEmpty = (2002, "country_iso_empty", "invalid_param", 400, "countryIso is empty"),
    /// `countryIso` is not a known ISO 3166-1 alpha-2 code.
    CountryIsoInvalid = (2003, "country_iso_invalid", "invalid_param", 400, "countryIso is invalid"),
    /// The originator (`from`) is empty.
    FromEmpty = (2004, "from_empty", "invalid_param", 400, "from is empty"),
    /// The originator holds characters a sender id cannot have.
    FromInvalid = (2005, "from_invalid", "invalid_param", 400, "from contains invalid characters"),
    /// The template is empty or lacks the PIN placeholder (`{{pin}}` or `{code}`).
    TemplateInvalid = (2006, "template_invalid", "invalid_param", 400, "template is empty or has no {{pin}} placeholder"),
    /// `ttl` is not a whole number.
    TtlNotNumber = (2007, "ttl_not_number", "invalid_param", 400, "ttl is not a number"),
    /// `ttl` is below 60 seconds.
    TtlTooLow = (2008, "ttl_too_low", "invalid_param", 400, "ttl is lower than 60 seconds"),
    /// `ttl` is above 1800 seconds.
    TtlTooHigh = (2009, "ttl_too_high", "invalid_param", 400, "ttl is higher than 1800 seconds"),
    /// `maxAttempts` is not a whole number.
    MaxAttemptsNotNumber = (2010, "max_attempts_not_number", "invalid_param", 400, "maxAttempts is not a number"),
    /// `maxAttempts` is below 1.
    MaxAttemptsTooLow = (2011, "max_attempts_too_low", "invalid_param", 400, "maxAttempts is lower than 1"),
    /// `maxAttempts` is above 10.
    MaxAttemptsTooHigh = (2012, "max_attempts_too_high", "invalid_param", 400, "maxAttempts is higher than 10"),
    /// `pinType` is empty.
    PinTypeEmpty = (2013, "pin_type_empty", "invalid_param", 400, "pinType is empty"),
    /// `pinType` is not `numbers`, `letters` or `alphanumeric`.
    PinTypeInvalid = (2014, "pin_type_invalid", "invalid_param", 400, "pinType must be numbers, letters or alphanumeric"),
    /// `pinLength` is not a whole number.
    PinLengthNotNumber = (2015, "pin_length_not_number", "invalid_param", 400, "pinLength is not a number"),
    /// `pinLength` is below 4.
    PinLengthTooShort = (2016, "pin_length_too_short", "invalid_param", 400, "pinLength is lower than 4"),
    /// `pinLength` is above 10.
    PinLengthTooLong = (2017, "pin_length_too_long", "invalid_param", 400, "pinLength is higher than 10"),
    /// `trackId` is not a lowercase UUID (36 characters).
    TrackIdInvalid = (2018, "track_id_invalid", "invalid_param", 400, "trackId is not a valid UUID"),
    /// `otpCallbackUrl` is not a URL.
    CallbackUrlInvalid = (2019, "callback_url_invalid", "invalid_param", 400, "otpCallbackUrl is not a valid URL"),
    /// The phone number holds letters or other characters no phone number has.
    PhoneNumberInvalid = (2020, "phone_number_invalid", "invalid_param", 400, "phoneNumber is invalid"),

    // --- Verification and cancellation (SMS.CX 2021-2031) ---
    /// No OTP with this id (for this application).
    OtpNotFound = (2021, "otp_not_found", "not_found", 404, "OTP not found"),
    /// The verification request has no `pin`.
    PinMissing = (2022, "pin_missing", "invalid_param", 400, "pin is missing"),
    /// The OTP was already verified.
    OtpAlreadyVerified = (2023, "otp_already_verified", "otp_verified", 400, "OTP was already verified"),
    /// The OTP was cancelled.
    OtpCancelled = (2024, "otp_cancelled", "otp_cancelled", 400, "OTP was cancelled"),
    /// The OTP expired before a right PIN arrived.
    OtpExpired = (2025, "otp_expired", "otp_expired", 400, "OTP has expired"),
    /// The OTP failed earlier: every attempt was already used.
    OtpFailed = (2026, "otp_failed", "otp_failed", 400, "OTP failed: maximum attempts reached"),
    /// This wrong PIN used up the last attempt; the OTP is now FAILED.
    OtpFailedLastAttempt = (2027, "otp_failed_last_attempt", "otp_failed", 400, "invalid PIN: maximum attempts reached, OTP failed"),
    /// The PIN is wrong; attempts remain.
    InvalidPin = (2029, "invalid_pin", "invalid_pin", 400, "invalid PIN"),
    /// Cancelling an OTP that is already cancelled.
    OtpAlreadyCancelled = (2030, "otp_already_cancelled", "otp_cancelled", 403, "OTP is already cancelled"),
    /// Cancelling an OTP that is no longer pending.
    OtpNotPending = (2031, "otp_not_pending", "otp_not_pending", 403, "OTP is not pending"),

    // --- Precise causes of violations SMS.CX documents under one code ---
    /// The phone number has fewer than 7 digits in all.
    PhoneNumberTooShort = (2020, "phone_number_too_short", "invalid_param", 400, "phoneNumber has fewer than 7 digits"),
    /// The phone number has more than 15 digits in all.
    PhoneNumberTooLong = (2020, "phone_number_too_long", "invalid_param", 400, "phoneNumber has more than 15 digits"),
    /// The number starts with no assigned ITU country calling code.
    PhoneCountryCodeUnknown = (2020, "phone_country_code_unknown", "invalid_param", 400, "phoneNumber has an unknown country calling code"),
    /// The originator is shorter than 3 characters.
    FromTooShort = (2005, "from_too_short", "invalid_param", 400, "from is shorter than 3 characters"),
    /// The originator is longer than 15 characters.
    FromTooLong = (2005, "from_too_long", "invalid_param", 400, "from is longer than 15 characters"),
    /// An alphanumeric originator is longer than 11 characters.
    FromAlphanumericTooLong = (2005, "from_alphanumeric_too_long", "invalid_param", 400, "an alphanumeric from is longer than 11 characters"),
    // --- Our own (2100+): violations SMS.CX does not enumerate ---
    /// The template is longer than the core accepts (see `template::MAX_TEMPLATE_CHARS`).
    TemplateTooLong = (2107, "template_too_long", "invalid_param", 400, "template is too long"),
    /// A language is not a 2-letter ISO 639-1 code.
    LanguageInvalid = (2108, "language_invalid", "invalid_param", 400, "language must be a 2-letter code"),
    /// A language template's phone prefix is not 1-6 digits.
    LanguagePrefixInvalid = (2109, "language_prefix_invalid", "invalid_param", 400, "language template prefix must be 1-6 digits"),
    /// A price is negative, not finite, or keyed by an unknown country.
    PriceInvalid = (2110, "price_invalid", "invalid_param", 400, "price must be a finite number >= 0 for a known country"),
    /// `otpCallbackUrl` uses plain http for a host other than localhost.
    CallbackUrlNotHttps = (2019, "callback_url_not_https", "invalid_param", 400, "otpCallbackUrl must use https (http only for localhost)"),
    /// The WebOTP domain is not a plain host name.
    WebOtpDomainInvalid = (2112, "webotp_domain_invalid", "invalid_param", 400, "webOtpDomain is not a valid host name"),
    /// The brand (application) name is empty or longer than 32 characters.
    BrandInvalid = (2113, "brand_invalid", "invalid_param", 400, "brand must be 1-32 characters"),
    /// A field that must be text (or a number) has another JSON type.
    FieldTypeInvalid = (2114, "field_type_invalid", "invalid_param", 400, "a field has the wrong type"),
    /// A custom PIN does not match the PIN type and length rules.
    CustomPinInvalid = (2115, "custom_pin_invalid", "invalid_param", 400, "custom PIN does not match pinType and pinLength"),
    /// The application does not send to this destination country.
    CountryNotAllowed = (2116, "country_not_allowed", "country_not_allowed", 403, "the application does not send to this country"),
    /// A rate-limit setting is out of range or names an unknown country.
    RateLimitSettingInvalid = (2117, "rate_limit_setting_invalid", "invalid_param", 400, "a rate-limit setting is out of range or names an unknown country"),
    /// `otpCallbackUrl` names a private, loopback or link-local host (SMS.CX's 2019).
    CallbackUrlPrivateHost = (2019, "callback_url_private_host", "invalid_param", 400, "otpCallbackUrl must not point to a private, loopback or link-local host"),
    /// `otpCallbackUrl`'s host is a number in another form than dotted decimal (SMS.CX's 2019).
    CallbackUrlNumericHost = (2019, "callback_url_numeric_host", "invalid_param", 400, "otpCallbackUrl host is a number that is not a dotted IPv4 address"),
    /// The number parses, but its country's numbering plan does not have it: a wrong
    /// length for its range, or an unassigned range (SMS.CX's 2020).
    PhoneNumberNotInPlan = (2020, "phone_number_not_in_plan", "invalid_param", 400, "phoneNumber is not a valid number of its country's numbering plan"),
    /// The number's type (`PhoneNumber::number_type`) is not one the application sends
    /// to (`allowedNumberTypes`), or the number is on an international network (+881, …).
    /// The message cannot name the type: an API appends `recipient::recipient_type`.
    PhoneNumberTypeNotAllowed = (2118, "phone_number_type_not_allowed", "invalid_param", 400, "the application does not send to this type of phone number"),
    /// `allowedNumberTypes` is empty or names an unknown type.
    AllowedNumberTypesInvalid = (2119, "allowed_number_types_invalid", "invalid_param", 400, "allowedNumberTypes must list one or more known number types"),
    // --- Fraud guard, spend caps, lockdown and test numbers (2120+) ---
    /// A `fraudGuard` setting is out of its range (`fraud::FraudSettings::first_invalid` names it).
    FraudSettingInvalid = (2120, "fraud_setting_invalid", "invalid_param", 400, "a fraudGuard setting is out of its range"),
    /// A safe prefix is not 1-15 digits of an E.164 number, or there are too many.
    SafePrefixInvalid = (2121, "safe_prefix_invalid", "invalid_param", 400, "safePrefixes must hold 1-15 digit E.164 prefixes (at most 200)"),
    /// A safe number is not a 64-digit hex hash with a masked number, or there are too many.
    SafeNumberInvalid = (2122, "safe_number_invalid", "invalid_param", 400, "safeNumbers must hold keyed hashes with masked numbers (at most 1000)"),
    /// A manual block does not end in the future, within a year.
    ManualBlockInvalid = (2123, "manual_block_invalid", "invalid_param", 400, "a manual block must end in the future, within 366 days"),
    /// The fraud guard refused a send: the destination range converts too little.
    FraudRangeLowConversion = (2124, "range_low_conversion", "fraud_guard", 429, "sends to this number range are blocked: too few codes are verified"),
    /// The fraud guard refused a send: too many numbers of one range in a short time.
    FraudRangeBurst = (2125, "range_burst", "fraud_guard", 429, "sends to this number range are blocked: too many numbers in a short time"),
    /// The fraud guard refused a send: an unproven range during an unexplained surge of its country.
    FraudCountryAnomaly = (2126, "country_anomaly", "fraud_guard", 429, "sends to new number ranges of this country are limited during an unusual surge"),
    /// An operator blocked the destination range or country.
    FraudManualBlock = (2127, "manual_block", "fraud_guard", 429, "sends to this destination are blocked by the operator"),
    /// The rendered SMS has more parts than the application's `maxParts`.
    SmsTooManyParts = (2128, "sms_too_many_parts", "invalid_param", 400, "the rendered SMS has more parts than maxParts allows"),
    /// `maxParts` or `countryPartsPerDay` is out of range or names an unknown country.
    PartsSettingInvalid = (2129, "parts_setting_invalid", "invalid_param", 400, "maxParts or countryPartsPerDay is out of range or names an unknown country"),
    /// `dailyBudget` is set but the price table does not price every allowed country.
    BudgetNeedsPrices = (2130, "budget_needs_prices", "invalid_param", 400, "dailyBudget needs a price above 0 for every country the application sends to"),
    /// The daily parts cap of the destination country is reached.
    CountryPartsCapReached = (2131, "country_parts_cap_reached", "rate_limited", 429, "the daily SMS parts cap of this country is reached"),
    /// `lockdown` holds an invalid or too many sender ids.
    LockdownSettingInvalid = (2132, "lockdown_setting_invalid", "invalid_param", 400, "lockdown.allowedSenders must hold 1-50 valid sender ids"),
    /// Lockdown: the request's `from` is not one the application allows.
    SenderNotAllowed = (2133, "sender_not_allowed", "forbidden", 403, "the application does not allow this from"),
    /// Lockdown: the application forbids per-request templates.
    TemplateOverrideForbidden = (2134, "template_override_forbidden", "forbidden", 403, "the application does not allow a template in the request"),
    /// A test number is not a phone number in E.164 form, is listed twice, or there are too many.
    TestNumberInvalid = (2135, "test_number_invalid", "invalid_param", 400, "testNumbers must hold distinct E.164 numbers (at most 50)"),
    /// A test number's code does not match the PIN rules (the application's pinType, 4-10 symbols).
    TestCodeInvalid = (2136, "test_code_invalid", "invalid_param", 400, "a test number's code does not match pinType and the PIN length rules"),
    // --- Invisible characters (2140+; a template's keeps SMS.CX's 2006) ---
    /// The template holds an invisible or direction-changing character that its
    /// script does not need (`template::hidden_char`; SMS.CX's 2006).
    TemplateInvisibleCharacter = (2006, "template_invisible_character", "invalid_param", 400, "template holds an invisible or direction-changing character its script does not need"),
    /// The brand holds an invisible or direction-changing character (`template::hidden_char`).
    BrandInvisibleCharacter = (2140, "brand_invisible_character", "invalid_param", 400, "brand must not hold invisible or direction-changing characters"),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

impl std::error::Error for Error {}

/// An error crosses a process boundary (a Durable Object's reply) as its name.
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::string::String as serde::Deserialize>::deserialize(deserializer)?;
        Error::from_name(&name).ok_or_else(|| serde::de::Error::custom("unknown error name"))
    }
}

/// The core's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::Error;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_our_codes_too() {
        let names: HashSet<_> = Error::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), Error::ALL.len());
        // Only SMS.CX's documented codes are shared between causes.
        let ours: Vec<_> = Error::ALL.iter().filter(|e| e.code() > 2100).collect();
        let codes: HashSet<_> = ours.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), ours.len());
    }

    #[test]
    fn documented_violations_carry_smscx_codes() {
        for (e, code) in [
            (Error::PhoneNumberTooShort, 2020),
            (Error::PhoneNumberTooLong, 2020),
            (Error::PhoneCountryCodeUnknown, 2020),
            (Error::FromTooShort, 2005),
            (Error::FromTooLong, 2005),
            (Error::FromAlphanumericTooLong, 2005),
            (Error::CallbackUrlNotHttps, 2019),
        ] {
            assert_eq!(e.code(), code, "{e:?}");
        }
    }

    #[test]
    fn errors_cross_a_boundary_by_name() {
        for e in Error::ALL {
            let json = serde_json::to_string(e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name()));
            assert_eq!(serde_json::from_str::<Error>(&json).unwrap(), *e);
        }
        assert!(serde_json::from_str::<Error>("\"no_such_error\"").is_err());
    }

    #[test]
    fn every_error_maps_to_a_client_error_status() {
        for e in Error::ALL {
            assert!((400..500).contains(&e.http_status()), "{e:?}");
            assert_eq!(Error::from_name(e.name()), Some(*e));
        }
    }

    #[test]
    fn smscx_codes_keep_their_numbers() {
        assert_eq!(Error::PhoneNumberEmpty.code(), 2001);
        assert_eq!(Error::PhoneNumberInvalid.code(), 2020);
        assert_eq!(Error::OtpNotFound.http_status(), 404);
        assert_eq!(Error::OtpFailedLastAttempt.code(), 2027);
        assert_eq!(Error::InvalidPin.error_type(), "invalid_pin");
        assert_eq!(Error::OtpAlreadyCancelled.http_status(), 403);
        assert_eq!(Error::OtpNotPending.code(), 2031);
    }
}
