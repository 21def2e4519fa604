//! Calling a Durable Object: one JSON request in, one JSON reply out. Shared by
//! the OTP objects, the rate-limit buckets and the console sessions, so a failed
//! call is handled (logged, then 503 "storage unavailable") one way.
//!
//! A call is a JS RPC call of the object's `call` method with the request's JSON
//! text, answered by [`Answer`]: no `Request` or `Response` is built on either
//! side (headers, body streams and their conversions were about a fifth of a
//! check's CPU). workerd offers RPC only on classes that extend `DurableObject`,
//! which worker-build's classes do not: `worker/js/entry.mjs` declares them so.
//! Each object exports its `call` with [`rpc_entry!`].
//!
//! Both ends read the JSON with `serde_json`, not through a JS object and
//! `serde_wasm_bindgen`: a second deserializer for every request type.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::js_sys::{Array, Promise};
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::ObjectNamespace;

use crate::error::{ApiError, ApiResult};

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// A stub of one of our objects, as seen through RPC.
    type ObjectStub;
    #[wasm_bindgen(method, catch, js_name = call)]
    fn call(this: &ObjectStub, request: &str) -> Result<Promise, JsValue>;
}

/// Sends `request` to the object named `name` in `ns` and reads its reply. Any
/// failure (unreachable object, an error thrown in the object, unreadable reply) is
/// logged with `what` and becomes [`ApiError::storage_unavailable`]: nothing was
/// changed by this request, and the client may retry.
pub(crate) async fn call<Q: Serialize, R: DeserializeOwned>(
    ns: &ObjectNamespace,
    name: &str,
    what: &str,
    request: &Q,
) -> ApiResult<R> {
    let body = serde_json::to_string(request).map_err(|_| ApiError::internal())?;
    let reply = call_text(ns, name, what, &body, true).await?;
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
    call_text(ns, name, what, &body, false).await.map(|_| ())
}

/// [`call`] with the JSON texts: the one copy of the exchange, whatever the types.
async fn call_text(
    ns: &ObjectNamespace,
    name: &str,
    what: &str,
    body: &str,
    counted: bool,
) -> ApiResult<String> {
    let unavailable = |e: worker::Error| {
        worker::console_error!("{what}: durable object call failed: {e}");
        ApiError::storage_unavailable()
    };
    let stub: ObjectStub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(unavailable)?
        .into_rpc();
    let promise = stub.call(body).map_err(|e| unavailable(e.into()))?;
    let answer = JsFuture::from(promise)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let answer = Array::from(&answer);
    if counted {
        crate::ops::count(|o| o.object_calls += 1);
        // What the object left for after its reply (the shard's KV copies).
        let after = answer.get(1).as_f64().unwrap_or(0.0) as u32;
        crate::ops::count(|o| o.after_kv_writes += after);
    }
    answer
        .get(0)
        .as_string()
        .ok_or_else(|| unavailable(worker::Error::from("a durable object reply is not text")))
}

/// An object's answer to a [`call`]: its JSON reply, and how many KV writes it left
/// for after it (counted for the bench, `crate::ops`).
pub(crate) struct Answer {
    json: String,
    after_kv_writes: usize,
}

impl Answer {
    /// `reply` as JSON, with nothing left for after it.
    pub(crate) fn json<R: Serialize>(reply: &R) -> worker::Result<Answer> {
        Ok(Answer {
            json: serde_json::to_string(reply)?,
            after_kv_writes: 0,
        })
    }

    /// The answer, saying that `n` KV writes were left for after it.
    pub(crate) fn with_after_kv_writes(self, n: usize) -> Answer {
        Answer {
            after_kv_writes: n,
            ..self
        }
    }

    /// What the object's `call` method returns: `[json, afterKvWrites]`, or the
    /// error it throws.
    pub(crate) fn into_js(answer: worker::Result<Answer>) -> Result<JsValue, JsValue> {
        let answer = answer.map_err(JsValue::from)?;
        Ok(Array::of2(
            &JsValue::from_str(&answer.json),
            &JsValue::from_f64(answer.after_kv_writes as f64),
        )
        .into())
    }
}

/// The request of a [`call`], in the object.
pub(crate) fn read_request<Q: DeserializeOwned>(text: &str) -> worker::Result<Q> {
    Ok(serde_json::from_str(text)?)
}

/// Exports the `call` method of a Durable Object type, which answers [`call`] with
/// its `async fn call(&self, request: String) -> worker::Result<Answer>`.
// Not formatted: rustfmt indents the attribute further on every run.
#[rustfmt::skip]
macro_rules! rpc_entry {
    ($object:ty) => {
        #[worker::wasm_bindgen::prelude::wasm_bindgen(
            wasm_bindgen = worker::wasm_bindgen,
            wasm_bindgen_futures = worker::wasm_bindgen_futures,
            js_sys = worker::js_sys
        )]
        impl $object {
            /// The entry of [`crate::durable::call`].
            #[wasm_bindgen(js_name = call)]
            pub async fn rpc_call(
                &self,
                request: String,
            ) -> Result<worker::wasm_bindgen::JsValue, worker::wasm_bindgen::JsValue> {
                crate::durable::Answer::into_js(self.call(request).await)
            }
        }
    };
}
pub(crate) use rpc_entry;

/// The `fetch` of an object that is called only through [`call`].
pub(crate) fn not_fetched() -> worker::Result<worker::Response> {
    worker::Response::error("this object answers calls through RPC only", 404)
}
