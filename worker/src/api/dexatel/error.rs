//! Errors of the Dexatel dialect, in Dexatel's shape:
//!
//! ```json
//! {"errors": [{"timestamp": "2027-01-15 08:00:00", "path": "/v1/verifications",
//!              "method": "POST", "status": 400, "message": "'phone' is missing", "code": 1621}]}
//! ```
//!
//! One error per reply. Codes are Dexatel's where it documents one (verifications
//! 1505-1632, templates 1251-1263, senders 1402-1441); the
//! rest are ours, from 1690 up, or the worker's shared codes (1601/1602
//! authentication, 1000/1002/1003 body, 1005/1006 and 3001-3007 service faults).
//! Guard refusals (1530 blocked, 1690 cooldown) answer 429 with `Retry-After`.

use otp_core::time::{format_utc, UnixSeconds};
use serde::Serialize;
use worker::Response;

use crate::error::{ApiError, Retry};

/// An error reply of the Dexatel dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DxError {
    status: u16,
    code: u16,
    message: &'static str,
    /// When a retry can succeed: `Retry-After`, and for a rate limit
    /// `X-Rate-Limit-*`, the same headers as in the SMS.CX dialect.
    retry: Option<Retry>,
}

/// What handlers of this dialect return.
pub(crate) type DxResult<T> = Result<T, DxError>;

#[derive(Serialize)]
struct Envelope<'a> {
    errors: [Item<'a>; 1],
}

#[derive(Serialize)]
struct Item<'a> {
    timestamp: String,
    path: &'a str,
    method: &'a str,
    status: u16,
    message: &'a str,
    code: u16,
}

macro_rules! dexatel_errors {
    ($( $(#[doc = $doc:literal])* $fn:ident = ($status:literal, $code:literal, $message:literal), )*) => {
        impl DxError {
            $(
                $(#[doc = $doc])*
                pub(crate) const fn $fn() -> Self {
                    DxError::new($status, $code, $message)
                }
            )*

            /// Every error of the table, for documentation and tests.
            #[cfg(test)]
            pub(crate) const ALL: &'static [DxError] = &[$(DxError::new($status, $code, $message)),*];
        }
    };
}

dexatel_errors! {
    // --- Requests ---
    /// The body is not valid JSON, or not a JSON object (the worker's shared
    /// code: Dexatel's 1005 would collide with the shared 1005 storage fault).
    invalid_json = (400, 1000, "Invalid JSON body: the body must be a JSON object"),
    /// No `X-Dexatel-Key` header.
    unauthenticated = (401, 1601, "Authentication required: send X-Dexatel-Key"),
    /// The key is not an application's API key.
    invalid_key = (401, 1602, "Invalid X-Dexatel-Key"),
    /// No route matches the path.
    not_found = (404, 404, "The requested resource was not found"),
    /// The route exists but not for this method.
    method_not_allowed = (405, 405, "The HTTP method is not allowed for this resource"),

    // --- Verifications (Dexatel's codes) ---
    /// The sender is not a sender of this application.
    sender_not_found = (400, 1505, "Message sender is not found"),
    /// `template` is not a template id.
    template_id_invalid = (400, 1512, "Invalid template id"),
    /// No template with this id in the application.
    template_unknown = (400, 1513, "Template is not found"),
    /// `channel` is not SMS (the only channel this service sends).
    channel_invalid = (400, 1515, "Invalid channel: only SMS is supported"),
    /// `phone` is not a valid number (digits with country code).
    recipient_invalid = (400, 1523, "Invalid recipient number(s)"),
    /// The phone is blocked after too many failed checks.
    blocked = (429, 1530, "Blocked number: too many failed checks; retry after the block ends"),
    /// `sender` is missing.
    sender_missing = (400, 1620, "'sender' is missing"),
    /// `phone` is missing.
    phone_missing = (400, 1621, "'phone' is missing"),
    /// `template` is an empty string.
    template_missing = (400, 1622, "'template' is missing"),
    /// `code_length` is not a whole number from 4 to 8.
    code_length_invalid = (400, 1623, "Invalid code length: minimum 4, maximum 8"),
    /// A template text lacks the `{code}` keyword.
    template_no_code = (400, 1624, "Template does not contain keyword {code}"),
    /// The template is for another channel than the verification's.
    template_incompatible = (400, 1628, "Incompatible template was provided: the channel should be the same for template and verification"),
    /// Both `code` and `code_length` were given.
    code_and_length = (400, 1629, "Provide either 'data.code' or 'data.code_length' but not both"),
    /// A custom `code` is not 4 to 8 characters long.
    code_length_custom = (400, 1631, "'data.code' must be valid and 4 to 8 characters long"),
    /// A custom `code` is not numeric.
    code_not_numeric = (400, 1632, "'data.code' should be numeric if provided"),

    // --- Templates (Dexatel's codes) ---
    /// No template with this id in the application.
    template_not_found = (404, 1251, "Template not found"),
    /// No `data` object.
    template_data_missing = (400, 1253, "'data' is required"),
    /// `text` is missing or blank.
    template_text_missing = (400, 1254, "'data.text' is required"),
    /// `text` is not a string.
    template_text_invalid = (400, 1255, "'data.text' is invalid"),
    /// `channel` is missing.
    template_channel_missing = (400, 1256, "'data.channel' is required"),
    /// `channel` is not SMS, VIBER or WHATSAPP.
    template_channel_invalid = (400, 1257, "'data.channel' value should be: [SMS, VIBER, WHATSAPP]"),
    /// Another template of the application has this name.
    template_name_taken = (400, 1258, "'data.name' should be unique"),
    /// `name` is not a non-blank string without control characters.
    template_name_invalid = (400, 1259, "'data.name' is invalid"),
    /// `text` is longer than 1000 characters.
    template_text_too_long = (400, 1260, "'data.text' is too long: at most 1000 characters"),
    /// `name` is longer than 45 characters.
    template_name_too_long = (400, 1263, "'data.name' is too long: at most 45 characters"),

    // --- Senders (Dexatel's codes) ---
    /// No sender with this id in the application.
    sender_unknown = (404, 1402, "Sender not found"),
    /// No `data` object.
    sender_data_missing = (400, 1403, "'data' is required"),
    /// `name` is missing or blank.
    sender_name_missing = (400, 1404, "'data.name' is required"),
    /// `name` is not a string without control characters.
    sender_name_invalid = (400, 1405, "'data.name' is invalid"),
    /// `name` is longer than 45 characters.
    sender_name_too_long = (400, 1406, "'data.name' is too long: at most 45 characters"),
    /// `code` does not fit its type (letters, digits, space and . - _ & + ' for alphanumeric, 3-15 digits for a long code, 5-6 digits for a short code).
    sender_code_invalid = (400, 1407, "'data.code' is invalid"),
    /// `code` is too long for its type (alphanumeric 11, long code 15, short code 6).
    sender_code_too_long = (400, 1408, "'data.code' is too long"),
    /// `channel` is not SMS, VIBER or WHATSAPP.
    sender_channel_invalid = (400, 1414, "'data.channel' value should be: [SMS, VIBER, WHATSAPP]"),
    /// Another sender of the application has this name on this channel.
    sender_name_taken = (400, 1441, "'data.name' exists on this channel"),

    // --- Ours (1690+) ---
    /// A code is pending and the last one was sent less than the cooldown ago.
    cooldown = (429, 1690, "A code was sent to this number too recently; retry after the cooldown"),
    /// The application already has the most templates allowed.
    too_many_templates = (400, 1691, "At most 100 templates per application"),
    /// The application already has the most senders allowed.
    too_many_senders = (400, 1692, "At most 100 senders per application"),
    /// `page_size` is not a whole number from 1 to 100.
    page_size_invalid = (400, 1693, "'page_size' must be a whole number from 1 to 100"),
    /// `page_token` is not a token this service issued.
    page_token_invalid = (400, 1694, "'page_token' is invalid"),
    /// `POST /v1/verifications` without a `data` object (Dexatel's own code for
    /// this, 1620 in its older docs, is now `sender` missing).
    data_missing = (400, 1696, "'data' is missing"),
    /// A sender `type` other than alphanumeric, long_code (or did) and short_code.
    sender_type_invalid = (400, 1695, "'data.type' value should be: [alphanumeric, long_code, short_code]"),
}

impl DxError {
    const fn new(status: u16, code: u16, message: &'static str) -> Self {
        DxError {
            status,
            code,
            message,
            retry: None,
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The error code.
    pub(crate) fn code(&self) -> u16 {
        self.code
    }

    fn item<'a>(&'a self, path: &'a str, method: &'a str, now: UnixSeconds) -> Envelope<'a> {
        Envelope {
            errors: [Item {
                timestamp: format_utc(now),
                path,
                method,
                status: self.status,
                message: self.message,
                code: self.code,
            }],
        }
    }

    /// The reply for `method path` at `now`, with `Retry-After` when a retry can succeed.
    pub(crate) fn to_response(
        self,
        path: &str,
        method: &str,
        now: UnixSeconds,
    ) -> worker::Result<Response> {
        let mut res = crate::reply::json(&self.item(path, method, now), self.status)?;
        if let Some(retry) = self.retry {
            retry.write(res.headers_mut())?;
        }
        Ok(res)
    }
}

impl From<ApiError> for DxError {
    /// A core refusal maps by its cause (below); the worker's shared errors
    /// (authentication, body limits, storage, gateway, rate limits, the guard's
    /// refusals) keep their status, code, message and retry headers.
    fn from(e: ApiError) -> Self {
        if let Some(cause) = e.cause() {
            // The fraud guard's refusals keep their Retry-After.
            return DxError {
                retry: e.retry(),
                ..DxError::from(cause)
            };
        }
        if e == ApiError::invalid_json() {
            return DxError::invalid_json();
        }
        let base = match e.code() {
            1530 => DxError::blocked(),
            1690 => DxError::cooldown(),
            _ => DxError::new(e.status(), e.code(), e.message()),
        };
        DxError {
            retry: e.retry(),
            ..base
        }
    }
}

impl From<worker::kv::KvError> for DxError {
    fn from(e: worker::kv::KvError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::gateway::GatewayError> for DxError {
    fn from(e: crate::gateway::GatewayError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<otp_core::Error> for DxError {
    /// Core rule violations that this dialect checks itself map to its codes;
    /// any other keeps the core's code, status and message.
    fn from(e: otp_core::Error) -> Self {
        use otp_core::Error as E;
        match e {
            E::PhoneNumberEmpty => DxError::phone_missing(),
            E::PhoneNumberInvalid
            | E::PhoneNumberTooShort
            | E::PhoneNumberTooLong
            | E::PhoneCountryCodeUnknown
            | E::PhoneNumberNotInPlan
            | E::CountryIsoEmpty
            | E::CountryIsoInvalid => DxError::recipient_invalid(),
            E::TemplateInvalid => DxError::template_no_code(),
            E::TemplateTooLong => DxError::template_text_too_long(),
            E::CustomPinInvalid => DxError::code_length_custom(),
            E::PinLengthTooShort | E::PinLengthTooLong | E::PinLengthNotNumber => {
                DxError::code_length_invalid()
            }
            other => DxError::new(other.http_status(), other.code(), other.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_statuses_are_client_errors() {
        let codes: HashSet<u16> = DxError::ALL.iter().map(|e| e.code).collect();
        assert_eq!(codes.len(), DxError::ALL.len());
        for e in DxError::ALL {
            assert!((400..500).contains(&e.status), "{e:?}");
        }
    }

    #[test]
    fn replies_have_dexatel_s_errors_shape() {
        let json = serde_json::to_value(DxError::phone_missing().item(
            "/v1/verifications",
            "POST",
            1_800_000_000,
        ))
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"errors": [{
                "timestamp": "2027-01-15 08:00:00",
                "path": "/v1/verifications",
                "method": "POST",
                "status": 400,
                "message": "'phone' is missing",
                "code": 1621,
            }]})
        );
    }

    #[test]
    fn shared_and_core_errors_are_mapped() {
        assert_eq!(
            DxError::from(ApiError::invalid_json()),
            DxError::invalid_json()
        );
        let e = DxError::from(ApiError::storage_unavailable());
        assert_eq!((e.status, e.code), (503, 1005));
        assert_eq!(
            DxError::from(otp_core::Error::PhoneNumberTooShort),
            DxError::recipient_invalid()
        );
        let e = DxError::from(otp_core::Error::FromInvalid);
        assert_eq!((e.status, e.code), (400, 2005));
        let e = DxError::from(ApiError::number_blocked(10, 4));
        assert_eq!(
            (e.status, e.code, e.retry),
            (429, 1530, Some(Retry::After(6)))
        );
        assert_eq!(e.message, DxError::blocked().message);
        let e = DxError::from(ApiError::number_cooldown(7, 4));
        assert_eq!(
            (e.status, e.code, e.retry),
            (429, 1690, Some(Retry::After(3)))
        );
        assert_eq!(e.message, DxError::cooldown().message);
        let refusal = otp_core::limits::Refusal {
            retry_after: 5,
            limit: 3,
            reset: 100,
        };
        let e = DxError::from(ApiError::rate_limited(refusal));
        assert_eq!(
            (e.status, e.code, e.retry),
            (429, 1007, Some(Retry::RateLimit(refusal)))
        );
        assert_eq!(
            DxError::from(ApiError::from(otp_core::Error::PhoneNumberTooShort)),
            DxError::recipient_invalid(),
            "a core refusal maps by its cause"
        );
    }
}
