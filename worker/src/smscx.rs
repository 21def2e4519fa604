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
use crate::gateway::{send_sms, OutgoingSms};
use crate::store::{Applied, Command, OtpStore};
use crate::{callback, http, RequestContext};

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
    let app = &who.app;
    let planned = plan_otp(
        &app.otp,
        &request,
        rc.now,
        &mut OsRandom,
        &rc.config.pin_keys,
    )?;
    let record = &planned.record;
    // Store first: if KV fails, nothing was sent and nothing is lost.
    store.put(&app.app_id, record, rc.now).await?;
    let sms = OutgoingSms {
        app_id: &app.app_id,
        otp_id: &record.otp_id,
        message: &planned.message,
    };
    if let Err(e) = send_sms(&rc.env, &app.gateway, &app.webhook_secret, &sms).await {
        // The gateway logged why; remove the record so no unsatisfiable PENDING stays.
        if store.delete(&app.app_id, &record.otp_id).await.is_err() {
            worker::console_error!("otp {}: could not remove the unsent record", record.otp_id);
        }
        return Err(e.into());
    }
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

/// Runs a command through the store and fires the status callback when the status moved.
async fn apply(
    rc: &RequestContext,
    who: &Principal,
    store: &OtpStore,
    otp_id: &str,
    command: Command,
) -> ApiResult<Applied> {
    let applied = store
        .apply(
            &who.app.app_id,
            otp_id,
            &command,
            &rc.config.pin_keys,
            rc.now,
        )
        .await?
        .ok_or(otp_core::Error::OtpNotFound)?;
    if applied.status_changed {
        // The record's URL already defaults to the app's when the OTP was created.
        if let Some(url) = applied.record.otp_callback_url.clone() {
            callback::schedule_status_callback(
                &rc.ctx,
                &rc.env,
                url,
                who.app.webhook_secret.clone(),
                &applied.record.view(rc.now, None),
            );
        }
    }
    Ok(applied)
}
