//! An application's webhooks in the admin API, for the console's Webhooks tab:
//!
//! - `POST /admin/apps/{appId}/webhooks/test` `{}` or `{"url": "…"}` → 200, the
//!   delivery's entry: a test event (`{"event": "test", "data": [<OTP object>]}`)
//!   signed with the application's webhook secret exactly like a status callback,
//!   sent to `url` or else the application's callback URL under the same URL
//!   policy (a refused URL is the core's 400 2019 with its reason, and nothing is
//!   sent), in one attempt; recorded in the delivery log.
//! - `GET /admin/apps/{appId}/webhooks/deliveries` → `{"data": [entry, …]}`: the
//!   last deliveries, newest first: status callbacks, EXPIRED callbacks and test
//!   events ([`crate::webhook_log`]: the last 50, of the last 7 days).

use otp_core::settings::check_callback_url;
use serde::Serialize;
use serde_json::Value;
use worker::Response;

use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::limiter::RateLimits;
use crate::webhook_log::EntryView;

/// The URL of a test event: the body's `url`, else the app's callback URL.
fn test_url(app: &AppRecord, body: &Value) -> ApiResult<String> {
    let object = body
        .as_object()
        .ok_or_else(ApiError::webhook_test_invalid)?;
    if object.keys().any(|k| k != "url") {
        return Err(ApiError::webhook_test_invalid());
    }
    match object.get("url") {
        None | Some(Value::Null) => app
            .otp
            .callback_url
            .clone()
            .ok_or_else(ApiError::webhook_url_missing),
        Some(Value::String(url)) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        Some(_) => Err(ApiError::webhook_test_invalid()),
    }
}

/// `POST /admin/apps/{appId}/webhooks/test`.
pub(super) async fn test(rc: &RequestContext, app: &AppRecord, body: Value) -> ApiResult<Response> {
    let url = test_url(app, &body)?;
    check_callback_url(&url, rc.config.private_hosts)?;
    let entry =
        crate::callback::send_test(&rc.env, &app.app_id, url, app.webhook_secret.clone()).await;
    crate::reply::json(&entry.view(), 200).map_err(|_| ApiError::internal())
}

#[derive(Serialize)]
struct Deliveries<'a> {
    data: Vec<EntryView<'a>>,
}

/// `GET /admin/apps/{appId}/webhooks/deliveries`.
pub(super) async fn deliveries(rc: &RequestContext, app: &AppRecord) -> ApiResult<Response> {
    let entries = RateLimits::new(&rc.bindings.limiter)
        .webhooks(&app.app_id, rc.now)
        .await?;
    let data = entries.iter().map(|e| e.view()).collect();
    crate::reply::json(&Deliveries { data }, 200).map_err(|_| ApiError::internal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_test_url_is_the_bodys_or_the_apps_and_nothing_else_is_accepted() {
        let app_with = |url: Option<&str>| {
            let otp = otp_core::settings::OtpSettings::default();
            let mut app: AppRecord = serde_json::from_value(json!({
                "appId": "a", "name": "A", "secretHash": "", "apiKeyHash": "",
                "secretVersion": 1, "webhookSecret": "", "gateway": {"type": "outbox"},
                "otp": otp, "createdAt": 0, "updatedAt": 0
            }))
            .unwrap();
            app.otp.callback_url = url.map(str::to_owned);
            app
        };
        let configured = app_with(Some("https://hooks.example.com/otp"));
        let bare = app_with(None);
        assert_eq!(
            test_url(&configured, &json!({})).unwrap(),
            "https://hooks.example.com/otp"
        );
        assert_eq!(
            test_url(&bare, &json!({"url": " https://other.example.com/x "})).unwrap(),
            "https://other.example.com/x"
        );
        assert_eq!(
            test_url(&bare, &json!({})).unwrap_err(),
            ApiError::webhook_url_missing()
        );
        for body in [
            json!({"url": 5}),
            json!({"url": ""}),
            json!({"other": 1}),
            json!([]),
        ] {
            assert_eq!(
                test_url(&configured, &body).unwrap_err(),
                ApiError::webhook_test_invalid(),
                "{body}"
            );
        }
    }
}
