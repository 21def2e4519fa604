//! JSON out of Workers KV and Durable Object storage, read and written with
//! `serde_json` only.
//!
//! workers-rs reads KV's `.json()` and `Storage::get`/`put` through JS values and
//! `serde_wasm_bindgen`, which compiles a second (de)serializer for every stored
//! type next to the `serde_json` one that the rest of the worker needs anyway.
//! These helpers keep one. The stored data stay exactly as before: KV holds JSON
//! text; Durable Object storage holds plain JS objects (made by `JSON.parse`, read
//! back through `JSON.stringify`; the stored types hold no maps, bytes or
//! numbers beyond 2^53, so both ways give the same objects as `serde_wasm_bindgen`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::js_sys::JSON;
use worker::kv::{KvError, KvStore};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Error, Result, Storage};

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

/// The value at `key` in a Durable Object's storage, if any.
pub(crate) async fn storage_get<T: DeserializeOwned>(
    storage: &Storage,
    key: &str,
) -> Result<Option<T>> {
    let text = storage_text(storage, key).await?;
    Ok(parse(text.as_deref())?)
}

/// The stored JS value at `key` as JSON text (`JSON.stringify`).
async fn storage_text(storage: &Storage, key: &str) -> Result<Option<String>> {
    let value = JsFuture::from(storage.as_raw().get(key)?).await?;
    if value.is_undefined() {
        return Ok(None);
    }
    let text = JSON::stringify(&value)?
        .as_string()
        .ok_or_else(|| Error::RustError(format!("storage: {key} is not JSON")))?;
    Ok(Some(text))
}

fn parse<T: DeserializeOwned>(text: Option<&str>) -> serde_json::Result<Option<T>> {
    text.map(serde_json::from_str).transpose()
}

/// Stores `value` at `key` in a Durable Object's storage.
pub(crate) async fn storage_put<T: Serialize>(
    storage: &Storage,
    key: &str,
    value: &T,
) -> Result<()> {
    let json = JSON::parse(&serde_json::to_string(value)?)?;
    storage.put_raw(key, json).await
}
