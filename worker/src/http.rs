//! Reading requests: JSON and form bodies with size and type limits, query
//! parameters, and small reply helpers. Bad input is a 4xx [`ApiError`], never a panic.

use serde::de::DeserializeOwned;

use worker::js_sys::{Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStreamDefaultReader, RequestInit, RequestRedirect};
use worker::{Headers, Method, Request, Result};

use crate::error::{ApiError, ApiResult};

/// Largest body any endpoint accepts (bytes).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

/// Reads the body, refusing anything over [`MAX_BODY_BYTES`]: by `Content-Length`
/// first, so a huge body is not read at all (and a body of a known length within
/// the limit is read in one piece), then chunk by chunk, so that a body
/// without a length (chunked) is never held whole either (reading it all first
/// would take twice its size in memory, and a large one would exceed the
/// isolate's memory limit, failing every request in it).
pub(crate) async fn read_body(req: &mut Request) -> ApiResult<Vec<u8>> {
    let declared = declared_length(req.inner());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::body_too_large());
    }
    let (bytes, complete) = read_limited(req.inner(), declared, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::invalid_json())?;
    if complete {
        Ok(bytes)
    } else {
        Err(ApiError::body_too_large())
    }
}

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// A `Request` or a `Response`: a message with headers and a body.
    type Message;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &Message) -> web_sys::Headers;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Message) -> Option<web_sys::ReadableStream>;
    #[wasm_bindgen(method, catch, js_name = arrayBuffer)]
    fn array_buffer(this: &Message) -> core::result::Result<Promise, JsValue>;
}

/// The first `limit` bytes of the body of `message` (a `Request` or a
/// `Response`), and whether that was all of it: in one piece when its
/// `Content-Length` (`declared`, from [`declared_length`]) is within the limit,
/// else with [`read_stream`]. `Err(bytes)`: the body broke off after `bytes`.
pub(crate) async fn read_limited(
    message: &JsValue,
    declared: Option<usize>,
    limit: usize,
) -> core::result::Result<(Vec<u8>, bool), Vec<u8>> {
    let message: &Message = message.unchecked_ref();
    if declared.is_some_and(|n| n <= limit) {
        let buffer = message.array_buffer().map_err(|_| Vec::new())?;
        let buffer = JsFuture::from(buffer).await.map_err(|_| Vec::new())?;
        return Ok((Uint8Array::new(&buffer).to_vec(), true));
    }
    match message.body() {
        Some(stream) => read_stream(&stream, limit).await,
        None => Ok((Vec::new(), true)),
    }
}

/// The `Content-Length` of `message` (a `Request` or a `Response`), if it has one.
pub(crate) fn declared_length(message: &JsValue) -> Option<usize> {
    message
        .unchecked_ref::<Message>()
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

/// The first `limit` bytes of `stream`, read chunk by chunk with a JS reader (not
/// workers-rs's `ByteStream`, which polls each chunk from Rust: a few % of a
/// request's CPU), and whether that was all of it. Reading stops at the limit
/// and cancels the rest, so an endless or huge body is never held whole.
/// `Err(bytes)`: the stream broke off after `bytes`.
pub(crate) async fn read_stream(
    stream: &web_sys::ReadableStream,
    limit: usize,
) -> core::result::Result<(Vec<u8>, bool), Vec<u8>> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return Err(bytes);
        };
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            return Ok((bytes, true));
        }
        let Some(value) = Reflect::get(&chunk, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok())
        else {
            return Err(bytes);
        };
        let start = bytes.len();
        let end = start + value.length() as usize;
        if end > limit {
            bytes.resize(limit, 0);
            value
                .subarray(0, (limit - start) as u32)
                .copy_to(&mut bytes[start..]);
            // Stop reading; the rest is discarded.
            let _ = reader.cancel();
            return Ok((bytes, false));
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
    let object = json_object(req).await?;
    from_value(&object).map_err(|_| ApiError::invalid_json())
}

/// The body of [`json_body`] as a JSON object value (not generic: one copy).
async fn json_object(req: &mut Request) -> ApiResult<serde_json::Value> {
    if let Some(ct) = content_type(req) {
        let mime = ct.split(';').next().unwrap_or("").trim().to_owned();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::unsupported_media_type());
        }
    }
    let bytes = read_body(req).await?;
    let text = core::str::from_utf8(&bytes).map_err(|_| ApiError::invalid_json())?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| ApiError::invalid_json())?;
    if !value.is_object() {
        return Err(ApiError::invalid_json());
    }
    Ok(value)
}

/// `T` from a JSON value, read back from its text: the same result as
/// `serde_json::from_value`, through the one deserializer of `T` that the worker
/// has anyway (from text, `serde_json::from_str`) instead of a second one per type.
/// (The value first, not the text directly: a repeated key is the last one, as
/// in a JSON object value, not an error.)
pub(crate) fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> serde_json::Result<T> {
    serde_json::from_str(&serde_json::to_string(value)?)
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

/// A request's URL as workerd serialises it (WHATWG: absolute, lower-case scheme
/// and host, host in punycode, default port left out), split by hand: parsing it
/// again (`Request::url`) links the `url` crate, about 13 KiB of the gzipped wasm.
pub(crate) struct RequestUrl(String);

impl RequestUrl {
    /// The URL of `req`.
    pub(crate) fn of(req: &Request) -> Self {
        Self(req.inner().url())
    }

    /// `scheme://authority`, then the rest (path, query, fragment).
    fn split(&self) -> (&str, &str) {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        let end = self.0[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(self.0.len(), |i| after_scheme + i);
        self.0.split_at(end)
    }

    /// `scheme://host[:port]`, as the `Origin` header names it.
    pub(crate) fn origin(&self) -> &str {
        self.split().0
    }

    /// The host without its port (an IPv6 address keeps its brackets).
    pub(crate) fn host(&self) -> &str {
        let origin = self.origin();
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => &authority[..i],
            _ => authority,
        }
    }

    /// The path (`/` at least).
    pub(crate) fn path(&self) -> &str {
        let rest = self.split().1;
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        if end == 0 {
            "/"
        } else {
            &rest[..end]
        }
    }

    /// The query, without its `?`.
    pub(crate) fn query(&self) -> Option<&str> {
        let rest = self.split().1.split('#').next()?;
        rest.split_once('?').map(|(_, q)| q)
    }

    /// The value of query parameter `name`, decoded like
    /// `application/x-www-form-urlencoded` (the first one, if repeated).
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        parse_urlencoded(self.query()?)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// The value of query parameter `name`, decoded (the first one, if repeated).
pub(crate) fn query_param(req: &Request, name: &str) -> Option<String> {
    RequestUrl::of(req).param(name)
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

/// A new request (to an SMS gateway, a Durable Object, the assets), built on
/// `web_sys` directly: `worker::RequestInit` converts every option it has (`cf`
/// included) on each use, about 7 KiB of wasm for the three we set.
pub(crate) fn new_request(
    method: Method,
    url: &str,
    headers: &Headers,
    body: Option<&str>,
    redirect: Option<RequestRedirect>,
) -> Result<Request> {
    let init = RequestInit::new();
    init.set_method(method.as_ref());
    init.set_headers(headers.as_ref());
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    if let Some(redirect) = redirect {
        init.set_redirect(redirect);
    }
    let req = web_sys::Request::new_with_str_and_init(url, &init)?;
    Ok(Request::from(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_split_like_the_url_crate() {
        let url = |s: &str| RequestUrl(s.to_owned());
        let u = url("https://otp.example.com/dlr/twilio/a1?token=x%20y&b=2#frag");
        assert_eq!(u.origin(), "https://otp.example.com");
        assert_eq!(u.host(), "otp.example.com");
        assert_eq!(u.path(), "/dlr/twilio/a1");
        assert_eq!(u.query(), Some("token=x%20y&b=2"));
        let u = url("http://127.0.0.1:8787/admin/session");
        assert_eq!(
            (u.origin(), u.host(), u.query()),
            ("http://127.0.0.1:8787", "127.0.0.1", None)
        );
        let u = url("http://[::1]:8787?a=1");
        assert_eq!(
            (u.origin(), u.host(), u.path()),
            ("http://[::1]:8787", "[::1]", "/")
        );
        assert_eq!(u.query(), Some("a=1"));
        let u = url("http://[::1]/x#y?z");
        assert_eq!((u.host(), u.path(), u.query()), ("[::1]", "/x", None));
    }

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

    #[test]
    fn query_params_are_read_from_the_url_text() {
        let param = |url: &str, name: &str| RequestUrl(url.to_owned()).param(name);
        let url = "https://x.test/demo/outbox?phoneNumber=%2B33612424111&otpId=a+b&otpId=c";
        assert_eq!(param(url, "phoneNumber").as_deref(), Some("+33612424111"));
        assert_eq!(param(url, "otpId").as_deref(), Some("a b"));
        assert_eq!(param(url, "countryIso"), None);
        assert_eq!(param("https://x.test/p", "a"), None);
        assert_eq!(param("https://x.test/p?a=1#b=2", "b"), None);
        assert_eq!(param("https://x.test/p?a#x", "a").as_deref(), Some(""));
        assert_eq!(
            param("https://x.test/p?&&a=%zz", "a").as_deref(),
            Some("%zz")
        );
    }
}
