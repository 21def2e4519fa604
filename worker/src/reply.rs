//! JSON replies, built the same way everywhere (errors included): this module
//! depends on nothing else in the crate, so every module can use it.

use serde::Serialize;
use worker::{Response, Result};

/// A JSON reply with `status` (what `Response::from_json` makes, with only the
/// serialisation per type: the reply itself is built by [`json_text`], once).
pub(crate) fn json<T: Serialize>(value: &T, status: u16) -> Result<Response> {
    json_text(serde_json::to_string(value)?, status)
}

/// A reply with JSON text `body` and `status`.
pub(crate) fn json_text(body: String, status: u16) -> Result<Response> {
    let mut res = Response::from_bytes(body.into_bytes())?.with_status(status);
    res.headers_mut().set("Content-Type", "application/json")?;
    Ok(res)
}
