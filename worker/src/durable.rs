//! Calling a Durable Object: one JSON request in, one JSON reply out. Shared by
//! the OTP objects, the rate-limit buckets and the Dexatel phone guards, so a
//! failed call is handled (logged, then 503 "storage unavailable") one way.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Method, ObjectNamespace, Request, RequestInit};

use crate::error::{ApiError, ApiResult};

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
    let unavailable = |e: worker::Error| {
        worker::console_error!("{what}: durable object call failed: {e}");
        ApiError::storage_unavailable()
    };
    let stub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(unavailable)?;
    let body = serde_json::to_string(request).map_err(|_| ApiError::internal())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    // The host is never resolved: a request to a stub goes to the object.
    let req = Request::new_with_init("https://durable-object/", &init).map_err(unavailable)?;
    let mut res = stub.fetch_with_request(req).await.map_err(unavailable)?;
    if res.status_code() != 200 {
        worker::console_error!("{what}: durable object answered {}", res.status_code());
        return Err(ApiError::storage_unavailable());
    }
    res.json().await.map_err(unavailable)
}
