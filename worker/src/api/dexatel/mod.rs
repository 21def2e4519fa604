//! The Dexatel-compatible Verify API, a second dialect on the same applications,
//! gateways, OTP records, callbacks and state machine as the SMS.CX one: apps
//! written for Dexatel work by changing the base URL and key.
//!
//! | Route | What |
//! |---|---|
//! | `POST /v1/verifications` | send a code ([`verifications::create`]) |
//! | `GET /v1/verifications?phone=&code=` | check a code; without `code`, list the number's verifications |
//! | `GET`/`POST /v1/templates`, `GET`/`PUT`/`DELETE /v1/templates/{id}` | [`templates`] |
//! | `GET`/`POST /v1/senders`, `GET /v1/senders/{id}` | [`senders`] |
//!
//! Requests authenticate with `X-Dexatel-Key: <the application's API key>`;
//! bodies wrap their payload in `{"data": {...}}`; lists page with `page_size`
//! and `page_token` ([`paging`]); errors have Dexatel's shape ([`error`]). Per
//! number, `otp_core::guard` blocks after failed checks and spaces resends; the
//! verification service ([`crate::service`]) takes those decisions in the
//! number's shard, one request at a time.

mod error;
mod paging;
mod senders;
mod templates;
mod verifications;

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use worker::kv::KvStore;
use worker::{Method, Request, Response};

use self::error::{DxError, DxResult};
use self::paging::Page;
use self::senders::SenderStore;
use self::templates::TemplateStore;
use crate::apps::{AppRecord, AppStore};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::recent::{now_ms, Recent};

/// Deletes an application's templates and senders (the application is being deleted).
pub(crate) async fn remove_app_items(kv: &KvStore, app_id: &str) -> ApiResult<()> {
    for prefix in [templates::PREFIX, senders::PREFIX] {
        AppItems::new(kv, prefix).remove(app_id).await?;
    }
    Ok(())
}

/// The authentication header of the dialect.
pub(crate) const KEY_HEADER: &str = "X-Dexatel-Key";

/// The routes under `/v1/`; `rest` are the path segments after `v1`. Every error
/// is answered here, in Dexatel's shape.
pub(crate) async fn routes(
    req: Request,
    rc: &RequestContext,
    rest: &[&str],
) -> ApiResult<Response> {
    let path = req.path();
    let method = req.method();
    match dispatch(req, rc, rest).await {
        Ok(res) => Ok(res),
        Err(err) => {
            if err.status() >= 500 {
                worker::console_error!("dexatel {method} {path}: {} {}", err.status(), err.code());
            }
            err.to_response(&path, method.as_ref(), rc.now)
                .map_err(|_| ApiError::internal())
        }
    }
}

async fn dispatch(mut req: Request, rc: &RequestContext, rest: &[&str]) -> DxResult<Response> {
    use Method::{Delete, Get, Post, Put};
    let method = req.method();
    let known = matches!(
        rest,
        ["verifications"] | ["templates"] | ["templates", _] | ["senders"] | ["senders", _]
    );
    if !known {
        return Err(DxError::not_found());
    }
    let allowed = matches!(
        (rest, &method),
        (["verifications"], Get | Post)
            | (["templates"], Get | Post)
            | (["templates", _], Get | Put | Delete)
            | (["senders"], Get | Post)
            | (["senders", _], Get)
    );
    if !allowed {
        return Err(DxError::method_not_allowed());
    }
    let kv = &rc.bindings.kv;
    let app = authenticate(&req, kv).await?;
    let now = rc.now;
    let templates = TemplateStore::new(kv);
    let senders = SenderStore::new(kv);
    match (rest, method) {
        (["verifications"], Post) => {
            let body = json_body(&mut req).await?;
            verifications::create(rc, &app, &body).await
        }
        (["verifications"], _) => verifications::query(rc, &app, &req).await,
        (["templates"], Post) => {
            templates::create(&templates, &app, &json_body(&mut req).await?, now).await
        }
        (["templates"], _) => templates::list(&templates, &app, page(&req)?).await,
        (["templates", id], Get) => templates::get(&templates, &app, id).await,
        (["templates", id], Put) => {
            templates::update(&templates, &app, id, &json_body(&mut req).await?, now).await
        }
        (["templates", id], _) => templates::delete(&templates, &app, id).await,
        (["senders"], Post) => {
            senders::create(&senders, &app, &json_body(&mut req).await?, now).await
        }
        (["senders"], _) => senders::list(&senders, &app, page(&req)?).await,
        (["senders", id], _) => senders::get(&senders, &app, id).await,
        _ => Err(DxError::not_found()),
    }
}

/// The admin API's view of an application's templates and senders
/// (`/admin/apps/{appId}/templates[/{id}]`, `/admin/apps/{appId}/senders[/{id}]`):
/// the same handlers, bodies, paging and error shapes as `/v1/templates` and
/// `/v1/senders`, for `app` (found by the admin API) instead of the app of an
/// `X-Dexatel-Key`, which the server keeps only hashed. `kind` is `templates` or
/// `senders`; `rest` the segments after it.
pub(crate) async fn admin_items(
    mut req: Request,
    rc: &RequestContext,
    app: &AppRecord,
    kind: &str,
    rest: &[&str],
) -> ApiResult<Response> {
    use Method::{Delete, Get, Post, Put};
    let path = req.path();
    let method = req.method();
    let kv = &rc.bindings.kv;
    let (templates, senders, now) = (TemplateStore::new(kv), SenderStore::new(kv), rc.now);
    let result = match (kind, rest, method.clone()) {
        ("templates", [], Post) => match json_body(&mut req).await {
            Ok(body) => templates::create(&templates, app, &body, now).await,
            Err(e) => Err(e),
        },
        ("templates", [], Get) => match page(&req) {
            Ok(page) => templates::list(&templates, app, page).await,
            Err(e) => Err(e),
        },
        ("templates", [id], Get) => templates::get(&templates, app, id).await,
        ("templates", [id], Put) => match json_body(&mut req).await {
            Ok(body) => templates::update(&templates, app, id, &body, now).await,
            Err(e) => Err(e),
        },
        ("templates", [id], Delete) => templates::delete(&templates, app, id).await,
        ("senders", [], Post) => match json_body(&mut req).await {
            Ok(body) => senders::create(&senders, app, &body, now).await,
            Err(e) => Err(e),
        },
        ("senders", [], Get) => match page(&req) {
            Ok(page) => senders::list(&senders, app, page).await,
            Err(e) => Err(e),
        },
        ("senders", [id], Get) => senders::get(&senders, app, id).await,
        (_, [] | [_], _) => Err(DxError::method_not_allowed()),
        _ => Err(DxError::not_found()),
    };
    result.or_else(|err| {
        err.to_response(&path, method.as_ref(), rc.now)
            .map_err(|_| ApiError::internal())
    })
}

/// The page a list request asks for.
fn page(req: &Request) -> DxResult<Page> {
    Page::parse(
        http::query_param(req, "page_size").as_deref(),
        http::query_param(req, "page_token").as_deref(),
    )
}

/// The application whose API key is in `X-Dexatel-Key`.
async fn authenticate(req: &Request, kv: &KvStore) -> DxResult<AppRecord> {
    let key = req
        .headers()
        .get(KEY_HEADER)
        .ok()
        .flatten()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(DxError::unauthenticated)?;
    AppStore::new(kv.clone())
        .by_api_key(key.trim())
        .await?
        .ok_or_else(DxError::invalid_key)
}

/// A JSON object body (the worker's limits on size and content type apply).
async fn json_body(req: &mut Request) -> DxResult<Value> {
    Ok(http::json_body::<Value>(req).await?)
}

/// The `data` object of a body, if it has one.
fn data_object(body: &Value) -> Option<&Map<String, Value>> {
    body.get("data")?.as_object()
}

/// Field `name` of `data`; `null` counts as absent.
fn field<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    data.get(name).filter(|v| !v.is_null())
}

/// A JSON reply.
fn reply<T: Serialize>(value: &T, status: u16) -> DxResult<Response> {
    crate::reply::json(value, status).map_err(|_| DxError::from(ApiError::internal()))
}

/// `{"data": T}`.
struct Data<T>(T);

impl<T: Serialize> Serialize for Data<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Data", 1)?;
        s.serialize_field("data", &self.0)?;
        s.end()
    }
}

/// Dexatel's channels. Only SMS is ever sent; templates and senders of the
/// other channels are kept so that clients managing them keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Channel {
    /// SMS.
    #[serde(rename = "SMS")]
    Sms,
    /// Viber.
    #[serde(rename = "VIBER")]
    Viber,
    /// WhatsApp.
    #[serde(rename = "WHATSAPP")]
    Whatsapp,
}

impl Channel {
    /// The channel named `s` (any case).
    fn parse(s: &str) -> Option<Channel> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SMS" => Some(Channel::Sms),
            "VIBER" => Some(Channel::Viber),
            "WHATSAPP" => Some(Channel::Whatsapp),
            _ => None,
        }
    }
}

thread_local! {
    /// Template and sender lists recently read, by KV key (`None`: no list yet).
    static RECENT_ITEMS: RefCell<Recent<Option<String>>> = RefCell::new(Recent::new());
}

/// A list kept per application in one KV value, `{prefix}:{appId}`. Writes
/// read, change and rewrite the whole list (last write wins), which is fine for
/// configuration that changes rarely.
struct AppItems<'a> {
    kv: &'a KvStore,
    prefix: &'static str,
}

impl<'a> AppItems<'a> {
    fn new(kv: &'a KvStore, prefix: &'static str) -> Self {
        AppItems { kv, prefix }
    }

    fn key(&self, app_id: &str) -> String {
        format!("{}:{app_id}", self.prefix)
    }

    /// The list, from what this isolate read in the last few seconds when it can
    /// (`crate::recent`): a send reads the templates and senders, and they change
    /// rarely; a change made through this isolate is seen at once.
    async fn load<T: DeserializeOwned>(&self, app_id: &str) -> DxResult<Vec<T>> {
        let text = self.text(&self.key(app_id)).await?;
        Ok(match text {
            Some(text) => serde_json::from_str(&text).map_err(|_| ApiError::internal())?,
            None => Vec::new(),
        })
    }

    /// The stored JSON text of a list (not generic: one copy of its state machine).
    async fn text(&self, key: &str) -> DxResult<Option<String>> {
        let now = now_ms();
        if let Some(text) = RECENT_ITEMS.with(|r| r.borrow().get(key, now)) {
            return Ok(text);
        }
        crate::ops::count(|o| o.kv_reads += 1);
        let text = self.kv.get(key).text().await?;
        RECENT_ITEMS.with(|r| r.borrow_mut().put(key, text.clone(), now));
        Ok(text)
    }

    async fn save<T: Serialize>(&self, app_id: &str, items: &[T]) -> DxResult<()> {
        let json = serde_json::to_string(items).map_err(|_| ApiError::internal())?;
        self.put(app_id, json).await
    }

    /// Deletes the application's list.
    async fn remove(&self, app_id: &str) -> ApiResult<()> {
        let key = self.key(app_id);
        let deleted = self.kv.delete(&key).await;
        RECENT_ITEMS.with(|r| r.borrow_mut().forget(&key));
        Ok(deleted?)
    }

    /// The write of [`AppItems::save`], not generic: one copy of its state machine.
    async fn put(&self, app_id: &str, json: String) -> DxResult<()> {
        let key = self.key(app_id);
        crate::ops::count(|o| o.kv_writes += 1);
        let written = self.kv.put(&key, json)?.execute().await;
        // After the write, so a read racing with it cannot keep the old list.
        RECENT_ITEMS.with(|r| r.borrow_mut().forget(&key));
        Ok(written?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_wraps_and_null_fields_are_absent() {
        assert_eq!(
            serde_json::to_value(Data(json!({"id": 1}))).unwrap(),
            json!({"data": {"id": 1}})
        );
        let body = json!({"data": {"a": null, "b": 1}});
        let data = data_object(&body).unwrap();
        assert_eq!(field(data, "a"), None);
        assert_eq!(field(data, "b"), Some(&json!(1)));
        assert_eq!(data_object(&json!({"data": [1]})), None);
        assert_eq!(data_object(&json!({})), None);
    }

    #[test]
    fn channels_parse_in_any_case_and_serialize_uppercase() {
        assert_eq!(Channel::parse(" sms "), Some(Channel::Sms));
        assert_eq!(Channel::parse("WhatsApp"), Some(Channel::Whatsapp));
        assert_eq!(Channel::parse("VOICE"), None);
        assert_eq!(
            serde_json::to_value(Channel::Viber).unwrap(),
            json!("VIBER")
        );
    }
}
