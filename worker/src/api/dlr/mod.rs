//! Delivery receipts: `POST /dlr/{provider}/{appId}` (Vonage may also `GET`), in
//! each provider's own callback format. The receipt is authenticated (the
//! provider's signature, or the application's receipt token in the URL: see
//! `crate::gateway::receipts`), read, and handed to the service, which stores
//! the delivery with the OTP and records a `delivery` event; the OTP object does
//! not change.
//!
//! Replies: 200 `{"recorded", "unchanged"}` (a replayed receipt is unchanged);
//! 401 (1041) for a missing or bad signature or token, or an unknown application,
//! with nothing stored; 404 (1042) when no message of the application matches;
//! 400 (1043) for an authenticated body that cannot be read; 404 for a gateway
//! type that takes no receipts.

use serde::Serialize;
use worker::{Method, Request, Response};

use crate::apps::{receipt_token, AppStore};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::delivery::ReportOutcome;
use crate::gateway::receipts::{self, Inbound, Keys, ReceiptError};
use crate::gateway::{PUBLIC_BASE_URL_VAR, RECEIPT_PROVIDERS};
use crate::http::{parse_urlencoded, RequestUrl};
use crate::service::Service;

/// Headers a receipt's authentication may need (lower case).
const HEADERS: &[&str] = &[
    "content-type",
    "x-twilio-signature",
    "x-plivo-signature-v3",
    "x-plivo-signature-v3-nonce",
    "x-dexatel-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// What the receipts of one request did.
#[derive(Serialize)]
struct Outcome {
    recorded: usize,
    unchanged: usize,
}

/// The routes under `/dlr/`; `rest` are the segments after `dlr`.
pub(crate) async fn routes(
    mut req: Request,
    rc: &RequestContext,
    rest: &[&str],
) -> ApiResult<Response> {
    let [provider, app_id] = rest else {
        return Err(ApiError::not_found());
    };
    let provider = *provider;
    if !RECEIPT_PROVIDERS.contains(&provider) {
        return Err(ApiError::not_found());
    }
    let is_get = match req.method() {
        Method::Post => false,
        Method::Get if provider == "vonage" => true,
        _ => return Err(ApiError::method_not_allowed()),
    };
    let app = AppStore::new(rc.bindings.kv.clone())
        .get_recent(app_id)
        .await?
        .ok_or_else(ApiError::receipt_unauthorized)?;
    let inbound = inbound(&mut req, rc, is_get).await?;
    let token = receipt_token(&rc.config.hash_key, &app);
    let keys = Keys {
        settings: &rc.env,
        token: &token,
        webhook_secret: &app.webhook_secret,
        now: rc.now,
    };
    let reports = receipts::read(provider, &inbound, &keys).map_err(|e| match e {
        ReceiptError::Unauthorized => {
            worker::console_warn!("receipt {provider}: app {app_id}: not authenticated");
            ApiError::receipt_unauthorized()
        }
        ReceiptError::Unreadable => ApiError::receipt_invalid(),
        ReceiptError::Unsupported => ApiError::not_found(),
    })?;
    // The URL's otp only where the URL is authenticated too (see `trusts_url`).
    let url_otp = inbound
        .query_param("otp")
        .filter(|_| receipts::trusts_url(provider, &inbound, &keys));
    let service = Service::new(rc, &app, None);
    let mut outcome = Outcome {
        recorded: 0,
        unchanged: 0,
    };
    for report in &reports {
        match service.record_receipt(provider, url_otp, report).await? {
            Some(ReportOutcome::Recorded) => outcome.recorded += 1,
            Some(_) => outcome.unchanged += 1,
            None => {}
        }
    }
    if outcome.recorded + outcome.unchanged == 0 {
        return Err(ApiError::receipt_unknown());
    }
    crate::reply::json(&outcome, 200).map_err(|_| ApiError::internal())
}

/// The receipt as it came in: the URL the provider was given (on
/// `PUBLIC_BASE_URL` when set, which is what URL signatures cover), its query,
/// the headers authentication needs and the body (at most 16 KiB).
async fn inbound(req: &mut Request, rc: &RequestContext, is_get: bool) -> ApiResult<Inbound> {
    let url = RequestUrl::of(req);
    let base = crate::config::secret_or_var(&rc.env, PUBLIC_BASE_URL_VAR)
        .map(|b| b.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| url.origin().to_owned());
    let mut full = format!("{base}{}", url.path());
    if let Some(query) = url.query() {
        full.push('?');
        full.push_str(query);
    }
    let query = url.query().map(parse_urlencoded).unwrap_or_default();
    let headers = HEADERS
        .iter()
        .filter_map(|name| {
            let value = req.headers().get(name).ok().flatten()?;
            Some(((*name).to_owned(), value))
        })
        .collect();
    let body = if is_get {
        String::new()
    } else {
        String::from_utf8(crate::http::read_body(req).await?)
            .map_err(|_| ApiError::receipt_invalid())?
    };
    Ok(Inbound {
        url: full,
        query,
        headers,
        body,
        is_get,
    })
}
