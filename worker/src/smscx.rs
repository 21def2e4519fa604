//! The SMS.CX-compatible OTP API: `POST /otp`, `GET /otp/{id}`,
//! `POST /otp/{id}` (verify) and `DELETE /otp/{id}` (cancel). Handlers are thin:
//! the core decides, the store keeps, the gateway sends, callbacks report.

use otp_core::otp::plan_otp;
use otp_core::rng::OsRandom;
use otp_core::settings::OtpRequest;
use serde::{Deserialize, Serialize};
use worker::Response;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::store::{Applied, Command, OtpStore};
use crate::{delivery, http, RequestContext};

fn reply<T: Serialize>(value: &T, status: u16) -> ApiResult<Response> {
    http::json(value, status).map_err(|_| ApiError::internal())
}

/// `POST /otp`: plan the OTP, store it, send the SMS; on a gateway failure remove
/// the record again so no PENDING record is left that no user can satisfy.
pub(crate) async fn create(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    request: OtpRequest,
) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let planned = plan_otp(
        &who.app.otp,
        &request,
        rc.now,
        &mut OsRandom,
        &rc.config.pin_keys,
    )?;
    delivery::send_new(rc, &who.app, store, &planned).await?;
    let record = &planned.record;
    reply(&record.view(rc.now, Some(planned.phone.e164())), 201)
}

/// `GET /otp/{id}`.
pub(crate) async fn status(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    otp_id: &str,
) -> ApiResult<Response> {
    who.scopes.require(false)?;
    let record = store
        .get(&who.app.app_id, otp_id)
        .await?
        .ok_or(otp_core::Error::OtpNotFound)?;
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
pub(crate) async fn verify(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    otp_id: &str,
    body: VerifyBody,
) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let applied = apply(rc, who, store, otp_id, Command::Verify { pin: body.pin() }).await?;
    applied.result?;
    reply(
        &StatusReply {
            status: applied.record.status_at(rc.now).as_str(),
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
pub(crate) async fn cancel(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    otp_id: &str,
) -> ApiResult<Response> {
    who.scopes.require(true)?;
    let applied = apply(rc, who, store, otp_id, Command::Cancel).await?;
    applied.result?;
    reply(
        &CancelReply {
            info: CancelInfo {
                id: &applied.record.otp_id,
            },
        },
        200,
    )
}

/// Runs a command through the store; a missing record is 2021.
async fn apply(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    otp_id: &str,
    command: Command,
) -> ApiResult<Applied> {
    Ok(delivery::apply(rc, &who.app, store, otp_id, command)
        .await?
        .ok_or(otp_core::Error::OtpNotFound)?)
}
