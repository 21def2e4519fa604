//! An application's own restrictions on create requests: **lockdown** (which
//! per-request overrides a client may send) and **test numbers** (the operator's
//! own numbers, answered with a fixed code and never sent an SMS).
//!
//! Both are settings of the application ([`AppPolicy`], JSON `lockdown` and
//! `testNumbers`), checked when saved ([`AppPolicy::validate`]) and applied to each
//! request: [`AppPolicy::check_request`] after [`crate::settings::resolve`], and
//! [`AppPolicy::test_code`] to recognise a test number.
//!
//! By default nothing is locked down: a request may override `from` and the
//! template, as SMS.CX allows. Lockdown is for an application whose API key could
//! leak to a client: it then cannot send arbitrary texts from arbitrary senders.
//!
//! A test number (an app-store reviewer's login, a monitoring probe) gets the fixed
//! `code` instead of a generated PIN; the caller sends no SMS, charges nothing,
//! counts it against no cap and no fraud rule, and flags the OTP as a test on its
//! record and in every statistic. Test numbers are stored in clear: they are the
//! operator's own, and the operator must be able to read them back.

use crate::error::{Error, Result};
use crate::phone::{parse_phone, PhoneNumber};
use crate::pin::{validate_custom_pin, PinType};
use crate::settings::{validate_originator, OtpSettings, ResolvedOtp};
use crate::template::TemplateSource;
use serde::{Deserialize, Serialize};

/// Most sender ids in [`Lockdown::allowed_senders`].
pub const MAX_ALLOWED_SENDERS: usize = 50;
/// Most entries of [`AppPolicy::test_numbers`].
pub const MAX_TEST_NUMBERS: usize = 50;

/// Which per-request overrides an application accepts. The default accepts all.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Lockdown {
    /// Sender ids a request's `from` may name besides the application's own
    /// originator; empty allows any valid `from`.
    pub allowed_senders: Vec<String>,
    /// Refuse a request that carries its own template.
    pub forbid_templates: bool,
}

/// A test number and the code that verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestNumber {
    /// The number in E.164 form (`+447400123456`), exactly as [`parse_phone`] writes it.
    pub number: String,
    /// The fixed code: the application's `pinType`, 4-10 symbols.
    pub code: String,
}

/// An application's lockdown and test numbers. Missing fields take the defaults
/// (nothing locked, no test numbers); unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AppPolicy {
    /// Restrictions on per-request overrides.
    pub lockdown: Lockdown,
    /// The operator's test numbers.
    pub test_numbers: Vec<TestNumber>,
}

impl AppPolicy {
    /// Checks the settings against the application's `pin_type`:
    /// [`Error::LockdownSettingInvalid`] for a sender id that is not one (or more
    /// than [`MAX_ALLOWED_SENDERS`]), [`Error::TestNumberInvalid`] for a number that
    /// does not parse, is not written in E.164, is listed twice (or more than
    /// [`MAX_TEST_NUMBERS`]), [`Error::TestCodeInvalid`] for a code that does not
    /// match the PIN rules.
    pub fn validate(&self, pin_type: PinType) -> Result<()> {
        let senders = &self.lockdown.allowed_senders;
        if senders.len() > MAX_ALLOWED_SENDERS
            || senders
                .iter()
                .any(|s| s.trim() != s || validate_originator(s).is_err())
        {
            return Err(Error::LockdownSettingInvalid);
        }
        if self.test_numbers.len() > MAX_TEST_NUMBERS {
            return Err(Error::TestNumberInvalid);
        }
        for (i, t) in self.test_numbers.iter().enumerate() {
            let canonical = parse_phone(&t.number, None)
                .map(|p| p.e164() == t.number)
                .unwrap_or(false);
            let repeated = self.test_numbers[..i].iter().any(|o| o.number == t.number);
            if !canonical || repeated {
                return Err(Error::TestNumberInvalid);
            }
            validate_custom_pin(&t.code, pin_type).map_err(|_| Error::TestCodeInvalid)?;
        }
        Ok(())
    }

    /// Checks a resolved create request against the lockdown:
    /// [`Error::SenderNotAllowed`] for a `from` that is neither the application's
    /// originator nor in [`Lockdown::allowed_senders`] (when that list is set),
    /// [`Error::TemplateOverrideForbidden`] for a request template when
    /// [`Lockdown::forbid_templates`] is set. Nothing is stored or sent before.
    pub fn check_request(&self, app: &OtpSettings, resolved: &ResolvedOtp) -> Result<()> {
        let l = &self.lockdown;
        if !l.allowed_senders.is_empty()
            && resolved.originator != app.originator
            && !l.allowed_senders.contains(&resolved.originator)
        {
            return Err(Error::SenderNotAllowed);
        }
        if l.forbid_templates && resolved.template_source == TemplateSource::Request {
            return Err(Error::TemplateOverrideForbidden);
        }
        Ok(())
    }

    /// The fixed code of `phone` if it is a test number.
    pub fn test_code(&self, phone: &PhoneNumber) -> Option<&str> {
        self.test_numbers
            .iter()
            .find(|t| t.number == phone.e164())
            .map(|t| t.code.as_str())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::settings::{resolve, OtpRequest};

    fn request(from: Option<&str>, template: Option<&str>) -> OtpRequest {
        OtpRequest {
            phone_number: "+447400123456".into(),
            from: from.map_or(Default::default(), Into::into),
            template: template.map_or(Default::default(), Into::into),
            ..Default::default()
        }
    }

    fn check(policy: &AppPolicy, from: Option<&str>, template: Option<&str>) -> Result<()> {
        let app = OtpSettings::default();
        let resolved = resolve(&app, &request(from, template)).unwrap();
        policy.check_request(&app, &resolved)
    }

    #[test]
    fn by_default_every_override_is_allowed() {
        let p = AppPolicy::default();
        assert_eq!(p.validate(PinType::Numbers), Ok(()));
        assert_eq!(check(&p, Some("Other"), Some("Code {{pin}}")), Ok(()));
        let json: AppPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(json, p);
    }

    #[test]
    fn lockdown_restricts_from_to_the_originator_and_the_allow_list() {
        let p = AppPolicy {
            lockdown: Lockdown {
                allowed_senders: vec!["Acme".into()],
                forbid_templates: false,
            },
            ..Default::default()
        };
        assert_eq!(check(&p, None, None), Ok(()), "the app's own originator");
        assert_eq!(check(&p, Some("Verify"), None), Ok(()));
        assert_eq!(check(&p, Some("Acme"), None), Ok(()));
        assert_eq!(check(&p, Some("Bank"), None), Err(Error::SenderNotAllowed));
    }

    #[test]
    fn lockdown_forbids_request_templates_only() {
        let p: AppPolicy =
            serde_json::from_str(r#"{"lockdown":{"forbidTemplates":true}}"#).unwrap();
        assert_eq!(check(&p, Some("Other"), None), Ok(()), "from stays free");
        assert_eq!(
            check(&p, None, Some("Your code {{pin}}")),
            Err(Error::TemplateOverrideForbidden)
        );
    }

    #[test]
    fn lockdown_settings_are_checked() {
        for senders in [
            vec![" Acme".to_owned()],
            vec!["A".into()],
            vec!["x".repeat(16)],
        ] {
            let p = AppPolicy {
                lockdown: Lockdown {
                    allowed_senders: senders,
                    forbid_templates: false,
                },
                ..Default::default()
            };
            assert_eq!(
                p.validate(PinType::Numbers),
                Err(Error::LockdownSettingInvalid)
            );
        }
        assert!(serde_json::from_str::<AppPolicy>(r#"{"lockdown":{"senders":[]}}"#).is_err());
    }

    #[test]
    fn test_numbers_are_e164_distinct_with_codes_of_the_pin_type() {
        let t = |number: &str, code: &str| TestNumber {
            number: number.into(),
            code: code.into(),
        };
        let ok = AppPolicy {
            test_numbers: vec![t("+447400123456", "042424"), t("+33612345678", "1234")],
            ..Default::default()
        };
        assert_eq!(ok.validate(PinType::Numbers), Ok(()));
        assert_eq!(ok.validate(PinType::Letters), Err(Error::TestCodeInvalid));
        for (numbers, err) in [
            (vec![t("07400 123456", "042424")], Error::TestNumberInvalid),
            (
                vec![t("+44 7400 123456", "042424")],
                Error::TestNumberInvalid,
            ),
            (vec![t("+44abc", "042424")], Error::TestNumberInvalid),
            (
                vec![t("+447400123456", "1234"), t("+447400123456", "5678")],
                Error::TestNumberInvalid,
            ),
            (vec![t("+447400123456", "123")], Error::TestCodeInvalid),
            (
                vec![t("+447400123456", "12345678901")],
                Error::TestCodeInvalid,
            ),
        ] {
            let p = AppPolicy {
                test_numbers: numbers,
                ..Default::default()
            };
            assert_eq!(p.validate(PinType::Numbers), Err(err));
        }
        let many = AppPolicy {
            test_numbers: (0..=MAX_TEST_NUMBERS)
                .map(|i| t(&format!("+4474001{i:05}"), "1234"))
                .collect(),
            ..Default::default()
        };
        assert_eq!(
            many.validate(PinType::Numbers),
            Err(Error::TestNumberInvalid)
        );
    }

    #[test]
    fn a_test_number_is_found_however_it_was_typed() {
        let p = AppPolicy {
            test_numbers: vec![TestNumber {
                number: "+447400123456".into(),
                code: "042424".into(),
            }],
            ..Default::default()
        };
        let typed = parse_phone("07400 123 456", Some("GB")).unwrap();
        assert_eq!(p.test_code(&typed), Some("042424"));
        let other = parse_phone("+447400123457", None).unwrap();
        assert_eq!(p.test_code(&other), None);
    }
}
