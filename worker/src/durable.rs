//! Calling a Durable Object: one JSON request in, one JSON reply out. Shared by
//! the OTP objects, the rate-limit buckets and the Dexatel phone guards, so a
//! failed call is handled (logged, then 503 "storage unavailable") one way.
//!
//! Both ends read the JSON with `serde_json` ([`call`]; in the object,
//! [`read_request`]), not with `Request::json`, which goes through a JS object and
//! `serde_wasm_bindgen`: a second deserializer for every request type.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Headers, Method, ObjectNamespace, Request};

use crate::error::{ApiError, ApiResult};
use crate::http;

/// Sends `request` to the object named `name` in `ns` and reads its reply. Any
/// failure (unreachable object, non-200 answer, unreadable reply) is logged with
/// `what` and becomes [`ApiError::storage_unavailable`]: nothing was changed by
/// this request, and the client may retry.
pub(crate) async fn call<Q: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    what: &str,
    request: &Q,
) -> ApiResult<R> {
    let body = serde_json::to_string(request).map_err(|_| ApiError::internal())?;
    let reply = call_text(ns, name, what, body, true).await?;
    serde_json::from_str(&reply).map_err(|e| {
        worker::console_error!("{what}: unreadable durable object reply: {e}");
        ApiError::storage_unavailable()
    })
}

/// [`call`] for work after a reply, whose reply is not needed: not counted as an
/// operation of the request being served meanwhile (`crate::ops`).
pub(crate) async fn call_after_reply<Q: Serialize>(
    ns: &ObjectNamespace,
    name: &str,
    what: &str,
    request: &Q,
) -> ApiResult<()> {
    let body = serde_json::to_string(request).map_err(|_| ApiError::internal())?;
    call_text(ns, name, what, body, false).await.map(|_| ())
}

/// [`call`] with the JSON texts: the one copy of the exchange, whatever the types.
async fn call_text(
    ns: &ObjectNamespace,
    name: &str,
    what: &str,
    body: String,
    counted: bool,
) -> ApiResult<String> {
    let unavailable = |e: worker::Error| {
        worker::console_error!("{what}: durable object call failed: {e}");
        ApiError::storage_unavailable()
    };
    let stub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(unavailable)?;
    // The host is never resolved: a request to a stub goes to the object.
    let req = http::new_request(
        Method::Post,
        "https://durable-object/",
        &Headers::new(),
        Some(&body),
        None,
    )
    .map_err(unavailable)?;
    let res = stub.fetch_with_request(req).await.map_err(unavailable)?;
    if counted {
        crate::ops::count(|o| o.object_calls += 1);
        // What the object left for after its reply (the shard's KV copies).
        if let Ok(Some(n)) = res.headers().get(crate::ops::AFTER_KV_WRITES) {
            let n: u32 = n.parse().unwrap_or(0);
            crate::ops::count(|o| o.after_kv_writes += n);
        }
    }
    if res.status_code() != 200 {
        worker::console_error!("{what}: durable object answered {}", res.status_code());
        return Err(ApiError::storage_unavailable());
    }
    // The body read by JS in one piece: workers-rs's `Response::text` polls the
    // stream chunk by chunk from Rust, which was about a tenth of a check's CPU.
    let res: worker::web_sys::Response = res.into();
    let text = res.text().map_err(|e| unavailable(e.into()))?;
    let text = JsFuture::from(text)
        .await
        .map_err(|e| unavailable(e.into()))?;
    text.as_string()
        .ok_or_else(|| unavailable(worker::Error::from("a durable object reply is not text")))
}

/// The request of a [`call`], in the object: its JSON body.
pub(crate) async fn read_request<Q: DeserializeOwned>(req: &mut Request) -> worker::Result<Q> {
    let text = req.text().await?;
    Ok(serde_json::from_str(&text)?)
}
