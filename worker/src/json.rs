//! JSON out of Workers KV and Durable Object storage, read and written with
//! `serde_json` only.
//!
//! workers-rs reads KV's `.json()` and `Storage::get`/`put` through JS values and
//! `serde_wasm_bindgen`, which compiles a second (de)serializer for every stored
//! type next to the `serde_json` one that the rest of the worker needs anyway.
//! These helpers keep one. KV and Durable Object storage both hold JSON text.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::kv::{KvError, KvStore};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Result, Storage};

// Each reader is a non-generic async function that fetches the text, and a
// generic one that parses it: the async state machine is compiled once, not once
// per stored type.

/// The JSON value at `key` in `kv`, if any.
pub(crate) async fn kv_get<T: DeserializeOwned>(
    kv: &KvStore,
    key: &str,
) -> core::result::Result<Option<T>, KvError> {
    crate::ops::count(|o| o.kv_reads += 1);
    let text = kv.get(key).text().await?;
    Ok(parse(text.as_deref())?)
}

fn parse<T: DeserializeOwned>(text: Option<&str>) -> serde_json::Result<Option<T>> {
    text.map(serde_json::from_str).transpose()
}

/// The value at `key` in a Durable Object's storage, stored as JSON text by
/// [`storage_put`]: no round trip through a JS object (`JSON.parse`, then
/// `JSON.stringify`) on the hot path of the record shards.
pub(crate) async fn storage_get<T: DeserializeOwned>(
    storage: &Storage,
    key: &str,
) -> Result<Option<T>> {
    let value = JsFuture::from(storage.as_raw().get(key)?).await?;
    Ok(parse(value.as_string().as_deref())?)
}

/// Stores `value` at `key` in a Durable Object's storage as JSON text.
pub(crate) async fn storage_put<T: Serialize>(
    storage: &Storage,
    key: &str,
    value: &T,
) -> Result<()> {
    let json = serde_json::to_string(value)?;
    storage
        .put_raw(key, worker::wasm_bindgen::JsValue::from_str(&json))
        .await
}
