//! The SMS.CX-compatible OTP API: `POST /oauth/token`, `POST /otp`,
//! `GET /otp/{id}`, `POST /otp/{id}` (verify) and `DELETE /otp/{id}` (cancel).
//! A thin adapter: it reads the request, calls the verification service and
//! writes SMS.CX's reply; errors keep SMS.CX's shape (`crate::error`).

use otp_core::otp::Command;
use otp_core::settings::OtpRequest;
use serde::{Deserialize, Serialize};
use worker::{Method, Request, Response};

use super::common::auth::{self, Principal};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::service::{Applied, Service};

/// The routes `/oauth/token`, `/otp` and `/otp/{id}` (`segments` is the whole path).
pub(crate) async fn routes(
    mut req: Request,
    rc: &RequestContext,
    segments: &[&str],
) -> ApiResult<Response> {
    let method = req.method();
    match (segments, &method) {
        (["oauth", "token"], Method::Post) => return auth::token(req, rc).await,
        (["otp"], Method::Post) | (["otp", _], Method::Get | Method::Post | Method::Delete) => {}
        _ => return Err(ApiError::method_not_allowed()),
    }
    let who = auth::authenticate(&req, rc).await?;
    let service = Service::new(rc, &who.app, who.end_user_ip.as_deref());
    match (segments, method) {
        (["otp"], _) => create(rc, &who, &service, http::json_body(&mut req).await?).await,
        (["otp", id], Method::Get) => status(rc, &who, &service, id).await,
        (["otp", id], Method::Post) => {
            verify(rc, &who, &service, id, http::json_body(&mut req).await?).await
        }
        (["otp", id], _) => cancel(&who, &service, id).await,
        _ => Err(ApiError::not_found()),
    }
}

fn reply<T: Serialize>(value: &T, status: u16) -> ApiResult<Response> {
    crate::reply::json(value, status).map_err(|_| ApiError::internal())
}

/// `POST /otp`: the OTP object of the new OTP, with the full number.
async fn create(
    rc: &RequestContext,
    who: &Principal,
    service: &Service<'_>,
    request: OtpRequest,
) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let planned = service.send(&request).await?;
    reply(
        &planned.record.view(rc.now, Some(planned.phone.e164())),
        201,
    )
}

/// `GET /otp/{id}`.
async fn status(
    rc: &RequestContext,
    who: &Principal,
    service: &Service<'_>,
    otp_id: &str,
) -> ApiResult<Response> {
    who.scopes.require(false)?;
    let record = service.status(otp_id).await?;
    reply(&record.view(rc.now, None), 200)
}

/// Body of `POST /otp/{id}`. The PIN may come as a string or a number.
#[derive(Deserialize)]
pub(crate) struct VerifyBody {
    #[serde(default)]
    pin: Option<serde_json::Value>,
}

impl VerifyBody {
    fn pin(&self) -> Option<String> {
        match &self.pin {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct StatusReply {
    status: &'static str,
}

/// `POST /otp/{id}`: check a PIN.
async fn verify(
    rc: &RequestContext,
    who: &Principal,
    service: &Service<'_>,
    otp_id: &str,
    body: VerifyBody,
) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let Applied { record, result } = service
        .apply(otp_id, Command::Verify { pin: body.pin() })
        .await?;
    result?;
    reply(
        &StatusReply {
            status: record.status_at(rc.now).as_str(),
        },
        200,
    )
}

#[derive(Serialize)]
struct CancelReply<'a> {
    info: CancelInfo<'a>,
}

#[derive(Serialize)]
struct CancelInfo<'a> {
    id: &'a str,
}

/// `DELETE /otp/{id}`: cancel a pending OTP.
async fn cancel(who: &Principal, service: &Service<'_>, otp_id: &str) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let Applied { record, result } = service.apply(otp_id, Command::Cancel).await?;
    result?;
    reply(
        &CancelReply {
            info: CancelInfo { id: &record.otp_id },
        },
        200,
    )
}
