//! One outgoing POST with a deadline: the only network I/O of the gateways and of
//! the status callbacks. The deadline covers the whole exchange (connection,
//! headers and body); when it passes, the request is aborted. Redirects are not
//! followed: a provider or a customer endpoint that answers 3xx gets no second
//! request to wherever it points. A reply body is read no further than
//! [`MAX_REPLY_BYTES`] (`http::read_limited`): a provider (or whoever answers at
//! its URL) cannot stream more than that at the worker within the deadline.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use worker::js_sys::Promise;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, RequestInit, RequestRedirect};
use worker::Delay;

/// `User-Agent` of every outgoing request.
pub(crate) const USER_AGENT: &str = concat!("otp-sms-verify/", env!("CARGO_PKG_VERSION"));

/// Longest reply body read, in bytes: reading stops there and the rest is never
/// fetched (the body is only parsed for an id or an error code).
pub(crate) const MAX_REPLY_BYTES: usize = 64 * 1024;

/// A POST to send: URL, headers and body, built by pure code and testable natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PostRequest {
    /// Absolute URL.
    pub(crate) url: String,
    /// Header names and values (credentials included: never log them).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The body (may hold the SMS text: never log it).
    pub(crate) body: String,
}

#[cfg(test)]
impl PostRequest {
    /// The value of header `name` (case-insensitive), for tests and checks.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    /// HTTP status.
    pub(crate) status: u16,
    /// The body as text (lossy UTF-8): its first 64 KiB at most.
    pub(crate) body: String,
}

/// Why no reply came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// The deadline passed first; the request was aborted.
    Timeout,
    /// The request failed without a reply: connection refused, reset or lost,
    /// DNS failure (workerd reports all of these with one error).
    Unreachable,
    /// The request could not be built (bad URL or header value); retrying is pointless.
    Invalid,
}

/// POSTs `request` and reads the reply, giving up after `timeout`.
pub(crate) async fn post(
    request: &PostRequest,
    timeout: Duration,
) -> Result<HttpReply, FetchError> {
    exchange(request, timeout, |response| async move {
        let declared = crate::http::declared_length(&response);
        let bytes = crate::http::read_limited(&response, declared, MAX_REPLY_BYTES)
            .await
            // A body that breaks off gives what came before: the status is
            // already in, and the body is only parsed.
            .map_or_else(|partial| partial, |(bytes, _)| bytes);
        HttpReply {
            status: response.status(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    })
    .await
}

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// The global `fetch(url, init)`: no `Request` object is built (and none
    /// converted to workers-rs's and back).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Promise;
}

/// Sends `request` and gives its reply to `read`, the whole exchange within
/// `timeout`: the one copy of the deadline and of what is sent (its headers and
/// the `User-Agent`, no redirects) for the gateways and the status callbacks.
pub(crate) async fn exchange<T, F: Future<Output = T>>(
    request: &PostRequest,
    timeout: Duration,
    read: impl FnOnce(web_sys::Response) -> F,
) -> Result<T, FetchError> {
    let headers = web_sys::Headers::new().map_err(|_| FetchError::Invalid)?;
    headers
        .set("User-Agent", USER_AGENT)
        .map_err(|_| FetchError::Invalid)?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| FetchError::Invalid)?;
    }
    let controller = web_sys::AbortController::new().map_err(|_| FetchError::Invalid)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(&request.body));
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
    let exchange = async {
        let response = JsFuture::from(global_fetch(&request.url, &init))
            .await
            .map_err(|_| FetchError::Unreachable)?;
        Ok(read(response.unchecked_into()).await)
    };
    match first_of(exchange, Delay::from(timeout)).await {
        Some(outcome) => outcome,
        None => {
            // Ends the request still waiting. (A finished one is not aborted: an
            // abort builds an AbortError with its stack, 3% of a send's CPU; the
            // unread rest of a long body was cancelled by its reader.)
            controller.abort();
            Err(FetchError::Timeout)
        }
    }
}

/// Runs `work` until it finishes or `deadline` fires: `Some(output)` or `None`.
pub(crate) async fn first_of<T>(
    work: impl Future<Output = T>,
    deadline: impl Future<Output = ()>,
) -> Option<T> {
    let mut work = pin!(work);
    let mut deadline = pin!(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A duration in milliseconds from var text: `default_ms` when unset or not a
/// number, clamped to `1..=max_ms`.
pub(crate) fn millis_setting(value: Option<String>, default_ms: u64, max_ms: u64) -> Duration {
    let ms = value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default_ms)
        .clamp(1, max_ms);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Waker};

    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        let mut f = pin!(f);
        f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn first_of_returns_the_work_when_it_is_ready() {
        let got = poll_once(first_of(async { 7 }, std::future::pending()));
        assert_eq!(got, Poll::Ready(Some(7)));
    }

    #[test]
    fn first_of_returns_none_when_the_deadline_fires_first() {
        let got = poll_once(first_of(std::future::pending::<u8>(), async {}));
        assert_eq!(got, Poll::Ready(None));
    }

    #[test]
    fn first_of_waits_while_neither_is_ready() {
        let got = poll_once(first_of(
            std::future::pending::<u8>(),
            std::future::pending(),
        ));
        assert_eq!(got, Poll::Pending);
    }

    #[test]
    fn millis_setting_defaults_and_clamps() {
        assert_eq!(millis_setting(None, 10_000, 60_000).as_millis(), 10_000);
        assert_eq!(
            millis_setting(Some(" 250 ".into()), 10_000, 60_000).as_millis(),
            250
        );
        assert_eq!(
            millis_setting(Some("soon".into()), 10_000, 60_000).as_millis(),
            10_000
        );
        assert_eq!(
            millis_setting(Some("0".into()), 10_000, 60_000).as_millis(),
            1
        );
        assert_eq!(
            millis_setting(Some("999999".into()), 10_000, 60_000).as_millis(),
            60_000
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        let req = PostRequest {
            url: "https://x.test/".into(),
            headers: vec![("Content-Type", "application/json".into())],
            body: String::new(),
        };
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("Authorization"), None);
    }
}
