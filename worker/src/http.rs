//! Reading requests: JSON and form bodies with size and type limits, query
//! parameters, and small reply helpers. Bad input is a 4xx [`ApiError`], never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::ReadableStreamDefaultReader;
use worker::{Request, Response, Result};

use crate::error::{ApiError, ApiResult};

/// Largest body any endpoint accepts (bytes).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Reads the body, refusing anything over [`MAX_BODY_BYTES`]: by `Content-Length`
/// first, so a huge body is not read at all, then chunk by chunk, so that a body
/// without a length (chunked) is never held whole either (reading it all first
/// would take twice its size in memory, and a large one would exceed the
/// isolate's memory limit, failing every request in it).
async fn read_body(req: &mut Request) -> ApiResult<Vec<u8>> {
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::body_too_large());
    }
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|_| ApiError::invalid_json())?;
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            return Ok(bytes);
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or_else(ApiError::invalid_json)?;
        let start = bytes.len();
        let end = start + value.length() as usize;
        if end > MAX_BODY_BYTES {
            // Stop reading; the rest of the body is discarded.
            let _ = reader.cancel();
            return Err(ApiError::body_too_large());
        }
        bytes.resize(end, 0);
        value.copy_to(&mut bytes[start..]);
    }
}

fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get("Content-Type")
        .ok()
        .flatten()
        .map(|v| v.to_ascii_lowercase())
}

/// Parses a JSON object body into `T`. A missing content type is taken as JSON;
/// another content type is 415; malformed JSON, or JSON that is not an object, is 400.
pub(crate) async fn json_body<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    if let Some(ct) = content_type(req) {
        let mime = ct.split(';').next().unwrap_or("").trim().to_owned();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::unsupported_media_type());
        }
    }
    let bytes = read_body(req).await?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_json())?;
    if !value.is_object() {
        return Err(ApiError::invalid_json());
    }
    serde_json::from_value(value).map_err(|_| ApiError::invalid_json())
}

/// Parses an `application/x-www-form-urlencoded` body into name/value pairs.
pub(crate) async fn form_body(req: &mut Request) -> ApiResult<Vec<(String, String)>> {
    let is_form =
        content_type(req).is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::oauth_invalid_request());
    }
    let bytes = read_body(req).await?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::oauth_invalid_request())?;
    Ok(parse_urlencoded(&text))
}

/// The value of query parameter `name`, decoded.
pub(crate) fn query_param(req: &Request, name: &str) -> Option<String> {
    let url = req.url().ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Decodes `a=1&b=x+y%21` into pairs (`+` is a space; bad escapes are kept as typed).
pub(crate) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A JSON reply with `status`.
pub(crate) fn json<T: Serialize>(value: &T, status: u16) -> Result<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_bodies_decode_plus_and_percent_escapes() {
        assert_eq!(
            parse_urlencoded("grant_type=client_credentials&scope=otp%3Aread+otp%3Awrite&x"),
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "otp:read otp:write".into()),
                ("x".into(), String::new()),
            ]
        );
        assert_eq!(
            parse_urlencoded("a=%zz%4"),
            vec![("a".into(), "%zz%4".into())]
        );
        assert_eq!(parse_urlencoded("a=%C3%A9"), vec![("a".into(), "é".into())]);
    }
}
