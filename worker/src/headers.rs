//! Tracing headers stamped on every response.
//!
//! - `X-Request-Id`: the caller's own `X-Request-Id` when it looks sane, else the
//!   Cloudflare `cf-ray` id, else a fresh UUID v4 from the platform CSPRNG.
//! - `X-Response-Time`: whole milliseconds between receiving the request and
//!   stamping the reply, e.g. `3ms`. Workers only advance the clock across I/O,
//!   so a request that does no I/O reports `0ms`.

use worker::{Date, Request, Response, Result};

/// Header carrying the request id, read from requests and written on responses.
pub(crate) const REQUEST_ID: &str = "X-Request-Id";
/// Header carrying the handling time of the request.
pub(crate) const RESPONSE_TIME: &str = "X-Response-Time";
/// Cloudflare's per-request id, used when the caller sent no usable id.
const CF_RAY: &str = "cf-ray";
/// Longest incoming id that is echoed back.
const MAX_ID_LEN: usize = 128;

/// What is known about a request before it is routed.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta {
    id: String,
    started_ms: u64,
}

impl RequestMeta {
    /// Picks the request id and starts the clock.
    pub(crate) fn from_request(req: &Request) -> Self {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let id = [header(REQUEST_ID), header(CF_RAY)]
            .into_iter()
            .flatten()
            .find(|id| is_sane_id(id))
            .unwrap_or_else(|| otp_core::id::new_uuid_v4(&mut otp_core::rng::OsRandom));
        Self {
            id,
            started_ms: Date::now().as_millis(),
        }
    }

    /// The id of this request.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Sets `X-Request-Id` and `X-Response-Time` on `response`.
    pub(crate) fn stamp(&self, response: &mut Response) -> Result<()> {
        let elapsed = Date::now().as_millis().saturating_sub(self.started_ms);
        let headers = response.headers_mut();
        headers.set(REQUEST_ID, &self.id)?;
        headers.set(RESPONSE_TIME, &format!("{elapsed}ms"))?;
        Ok(())
    }
}

/// Whether an incoming id may be echoed back: short, non-empty, and only
/// characters that are safe in headers and logs.
fn is_sane_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept() {
        assert!(is_sane_id("8c1b2f3e4d5a6b7c-AMS"));
        assert!(is_sane_id("a0b1c2d3-e4f5-4a6b-8c7d-8e9f0a1b2c3d"));
        assert!(is_sane_id("trace:abc_1.2"));
    }

    #[test]
    fn unsafe_or_oversized_ids_are_replaced() {
        assert!(!is_sane_id(""));
        assert!(!is_sane_id("has space"));
        assert!(!is_sane_id("new\nline"));
        assert!(!is_sane_id("<script>"));
        assert!(!is_sane_id(&"a".repeat(MAX_ID_LEN + 1)));
        assert!(is_sane_id(&"a".repeat(MAX_ID_LEN)));
    }
}
