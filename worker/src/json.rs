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
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
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

// Durable Object storage is read and written through the synchronous KV API
// (`ctx.storage.kv`) of SQLite-backed objects (all of ours, wrangler.toml's
// migrations): a value is read or written in the call, with no promise to await
// (each await of a storage promise cost a JS future, a microtask and a re-entry
// into wasm). Writes are as durable as with the asynchronous API: the object's
// output gate holds its reply until they are stored.

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// `ctx.storage`, seen for its `kv` property.
    type StorageWithKv;
    #[wasm_bindgen(method, getter)]
    fn kv(this: &StorageWithKv) -> SyncKv;

    /// `ctx.storage.kv`: SQLite-backed storage's synchronous key-value API.
    type SyncKv;
    #[wasm_bindgen(method, catch)]
    fn get(this: &SyncKv, key: &str) -> core::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn put(this: &SyncKv, key: &str, value: &JsValue) -> core::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn delete(this: &SyncKv, key: &str) -> core::result::Result<bool, JsValue>;
}

fn sync_kv(storage: &Storage) -> SyncKv {
    storage.as_raw().unchecked_ref::<StorageWithKv>().kv()
}

/// The value at `key` in a Durable Object's storage, stored as JSON text by
/// [`storage_put`]: no round trip through a JS object (`JSON.parse`, then
/// `JSON.stringify`) on the hot path of the record shards.
pub(crate) fn storage_get<T: DeserializeOwned>(storage: &Storage, key: &str) -> Result<Option<T>> {
    let value = sync_kv(storage).get(key)?;
    Ok(parse(value.as_string().as_deref())?)
}

/// Stores `value` at `key` in a Durable Object's storage as JSON text.
pub(crate) fn storage_put<T: Serialize>(storage: &Storage, key: &str, value: &T) -> Result<()> {
    let json = serde_json::to_string(value)?;
    storage_put_value(storage, key, &JsValue::from_str(&json))
}

/// Stores a JS value (a marker, text already rendered) at `key`.
pub(crate) fn storage_put_value(storage: &Storage, key: &str, value: &JsValue) -> Result<()> {
    Ok(sync_kv(storage).put(key, value)?)
}

/// Deletes `key` from a Durable Object's storage.
pub(crate) fn storage_delete(storage: &Storage, key: &str) -> Result<()> {
    sync_kv(storage).delete(key)?;
    Ok(())
}
