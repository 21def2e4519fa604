//! What the operator console needs beyond the application CRUD: the paged list
//! of applications with a search, and a test OTP sent through an application.

use otp_core::settings::OtpRequest;
use serde::Serialize;
use worker::{Request, Response};

use crate::apps::{AppRecord, AppView};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::service::Service;

/// Applications per page when `pageSize` is absent.
const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest `pageSize`.
const MAX_PAGE_SIZE: u64 = 100;
/// Longest `search`, in characters.
const MAX_SEARCH_CHARS: usize = 64;
/// KV prefix of the application records (`crate::apps`).
const APP_PREFIX: &str = "app:";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppList<'a> {
    data: Vec<AppView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Whether `app` matches `search` (lowercase): its name contains it, or its id
/// starts with it.
fn matches(app: &AppRecord, search: &str) -> bool {
    search.is_empty() || app.name.to_lowercase().contains(search) || app.app_id.starts_with(search)
}

/// `GET /admin/apps?search=&pageSize=&pageToken=`: applications in the store's
/// order (by id). A page reads the next `pageSize` applications and keeps those
/// that match `search` (a part of the name, any case, or the start of the id),
/// so a searched page may hold fewer than `pageSize`, even none:
/// `nextPageToken` is present while there are more to read.
pub(crate) async fn list_apps(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let search = http::query_param(req, "search")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(ApiError::apps_query_invalid());
    }
    let page = app_keys(req, rc, DEFAULT_PAGE_SIZE).await?;
    let kv = &rc.bindings.kv;
    let reads = page
        .keys
        .iter()
        .map(|key| async move { crate::json::kv_get::<AppRecord>(kv, &key.name).await });
    let mut apps = Vec::with_capacity(page.keys.len());
    for app in futures_util::future::join_all(reads).await {
        // An app deleted since the listing is skipped.
        if let Some(app) = app? {
            apps.push(app);
        }
    }
    let data = apps
        .iter()
        .filter(|app| matches(app, &search))
        .map(AppRecord::view)
        .collect();
    let next_page_token = next_token(&page);
    crate::reply::json(
        &AppList {
            data,
            next_page_token,
        },
        200,
    )
    .map_err(|_| ApiError::internal())
}

/// The next page of application keys (`app:{id}`, in id order) after the
/// `pageToken` of `req`, at most its `pageSize` (1-100, else `default_size`).
/// Bad parameters, and a cursor KV does not know, are 400 1062.
pub(super) async fn app_keys(
    req: &Request,
    rc: &RequestContext,
    default_size: u64,
) -> ApiResult<worker::kv::ListResponse> {
    let size = match http::query_param(req, "pageSize").filter(|s| !s.trim().is_empty()) {
        None => default_size,
        Some(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(ApiError::apps_query_invalid)?,
    };
    let token = http::query_param(req, "pageToken").filter(|s| !s.trim().is_empty());
    if token.as_ref().is_some_and(|t| {
        t.len() > 1024
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=+/.".contains(&b))
    }) {
        return Err(ApiError::apps_query_invalid());
    }
    let mut list = rc.bindings.kv.list().prefix(APP_PREFIX.into()).limit(size);
    if let Some(token) = token {
        list = list.cursor(token);
    }
    crate::ops::count(|o| o.kv_reads += 1);
    list.execute().await.map_err(|e| {
        // A cursor KV does not know is the caller's error.
        worker::console_log!("apps list: {e}");
        ApiError::apps_query_invalid()
    })
}

/// The `nextPageToken` of a listing: its cursor while there are more keys.
pub(super) fn next_token(page: &worker::kv::ListResponse) -> Option<String> {
    if page.list_complete {
        None
    } else {
        page.cursor.clone().filter(|c| !c.is_empty())
    }
}

/// The application id of an application key (`app:{id}`).
pub(super) fn app_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(APP_PREFIX)
}

/// `POST /admin/apps/{id}/test-otp`: an OTP sent through the application, with
/// the body of SMS.CX's `POST /otp` (at least `phoneNumber`) and its reply (201,
/// the OTP object), under every rule of the application (limits, fraud guard,
/// gateway): the operator's check that the application sends.
pub(crate) async fn test_otp(
    rc: &RequestContext,
    app: &AppRecord,
    request: OtpRequest,
) -> ApiResult<Response> {
    let service = Service::new(rc, app, None);
    let planned = service.send(&request).await?;
    crate::reply::json(
        &planned.record.view(rc.now, Some(planned.phone.e164())),
        201,
    )
    .map_err(|_| ApiError::internal())
}
