//! Error replies in the SMS.CX shape:
//! `{"error":{"type":"not_found","message":"…","uri":"/path","code":404}}`.
//!
//! Messages are fixed, client-facing strings; internal error text is logged,
//! never sent.

use serde::Serialize;
use worker::{Response, Result};

/// An error reply: HTTP status, machine-readable type and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    code: u16,
    kind: &'static str,
    message: &'static str,
    uri: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
    uri: &'a str,
    code: u16,
}

impl ApiError {
    /// No route matches `uri`.
    pub(crate) fn not_found(uri: &str) -> Self {
        Self::new(
            404,
            "not_found",
            "The requested resource was not found.",
            uri,
        )
    }

    /// The route exists but not for this HTTP method.
    pub(crate) fn method_not_allowed(uri: &str) -> Self {
        Self::new(
            405,
            "method_not_allowed",
            "The HTTP method is not allowed for this resource.",
            uri,
        )
    }

    /// Something failed inside the worker; details go to the log only.
    pub(crate) fn internal(uri: &str) -> Self {
        Self::new(500, "internal_error", "An internal error occurred.", uri)
    }

    fn new(code: u16, kind: &'static str, message: &'static str, uri: &str) -> Self {
        Self {
            code,
            kind,
            message,
            uri: uri.to_owned(),
        }
    }

    /// The serializable JSON body of this error.
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            error: Body {
                kind: self.kind,
                message: self.message,
                uri: &self.uri,
                code: self.code,
            },
        }
    }

    /// The HTTP reply for this error.
    pub(crate) fn into_response(self) -> Result<Response> {
        Ok(Response::from_json(&self.envelope())?.with_status(self.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_json(err: &ApiError) -> serde_json::Value {
        serde_json::to_value(err.envelope()).expect("error envelopes serialize")
    }

    #[test]
    fn not_found_has_the_sms_cx_shape() {
        let body = to_json(&ApiError::not_found("/nope"));
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "type": "not_found",
                "message": "The requested resource was not found.",
                "uri": "/nope",
                "code": 404,
            }})
        );
    }

    #[test]
    fn status_code_matches_the_code_field() {
        for err in [
            ApiError::not_found("/a"),
            ApiError::method_not_allowed("/a"),
            ApiError::internal("/a"),
        ] {
            assert_eq!(to_json(&err)["error"]["code"], err.code);
        }
    }
}
