//! Carrying out what the core decided, the same way for both API dialects:
//! sending a PIN under the application's send policy (countries, rate limits,
//! daily budget), storing the record first and removing it again when the SMS
//! could not be sent, and running commands on records with their status callback.

use otp_core::limits::budget_units;
use otp_core::otp::PlannedOtp;

use crate::apps::AppRecord;
use crate::error::ApiResult;
use crate::gateway::{send_sms, OutgoingSms, Receipt};
use crate::limiter::{self, RateLimits, Take};
use crate::store::{Applied, Command, OtpStore};
use crate::{callback, RequestContext};

/// An SMS the send policy let through; its budget is given back if it is not sent.
struct Admission {
    limits: RateLimits,
    app_id: String,
    charged: u64,
}

impl Admission {
    /// Returns the budget taken for an SMS that was not sent: a failed send costs nothing.
    async fn refund(&self, rc: &RequestContext) {
        if self.charged > 0 {
            self.limits
                .give_back(&self.app_id, limiter::budget_bucket(), self.charged, rc.now)
                .await;
        }
    }
}

/// The application's send policy for one SMS: the destination country, then the
/// caps per phone, per application and per client IP and the daily budget, taken
/// together (all or none). Checked before anything is stored, so refused requests
/// write no record.
async fn admit(rc: &RequestContext, app: &AppRecord, planned: &PlannedOtp) -> ApiResult<Admission> {
    let policy = &app.limits;
    policy.check_country(planned.phone.country_iso())?;
    let limits = RateLimits::new(&rc.env)?;
    let one = |bucket, limits| Take {
        bucket,
        limits,
        units: 1,
    };
    let mut takes = vec![
        one(
            limiter::phone_bucket(planned.phone.e164()),
            policy.phone_limits(),
        ),
        one(limiter::app_bucket(), policy.app_limits()),
    ];
    if let Some(ip) = &rc.client_ip {
        takes.push(one(limiter::ip_send_bucket(ip), policy.ip_send_limits()));
    }
    let budget = policy.budget_limits();
    let charged = if budget.windows.is_empty() {
        0
    } else {
        budget_units(planned.record.cost)
    };
    takes.push(Take {
        bucket: limiter::budget_bucket(),
        limits: budget,
        units: charged,
    });
    limits.take(&app.app_id, takes, rc.now).await?;
    Ok(Admission {
        limits,
        app_id: app.app_id.clone(),
        charged,
    })
}

/// Hands the SMS of `otp_id` to the app's gateway; refunds the budget if it failed.
async fn dispatch(
    rc: &RequestContext,
    app: &AppRecord,
    otp_id: &str,
    planned: &PlannedOtp,
    admission: &Admission,
) -> ApiResult<Receipt> {
    let sms = OutgoingSms {
        app_id: &app.app_id,
        otp_id,
        message: &planned.message,
    };
    match send_sms(&rc.env, &app.gateway, &app.webhook_secret, &sms).await {
        Ok(receipt) => Ok(receipt),
        Err(e) => {
            admission.refund(rc).await;
            Err(e.into())
        }
    }
}

/// Sends the SMS of an existing (re-keyed) record under the app's send policy.
pub(crate) async fn send_message(
    rc: &RequestContext,
    app: &AppRecord,
    otp_id: &str,
    planned: &PlannedOtp,
) -> ApiResult<Receipt> {
    let admission = admit(rc, app, planned).await?;
    dispatch(rc, app, otp_id, planned, &admission).await
}

/// A new OTP: admitted by the send policy, stored, sent, and removed again when
/// the SMS could not be sent, so that no PENDING record is left that no user can
/// satisfy.
pub(crate) async fn send_new(
    rc: &RequestContext,
    app: &AppRecord,
    store: &OtpStore,
    planned: &PlannedOtp,
) -> ApiResult<Receipt> {
    let admission = admit(rc, app, planned).await?;
    let record = &planned.record;
    // Store before sending: if storage fails, nothing was sent and nothing is lost.
    if let Err(e) = store.create(&app.app_id, record, rc.now).await {
        admission.refund(rc).await;
        return Err(e);
    }
    match dispatch(rc, app, &record.otp_id, planned, &admission).await {
        Ok(receipt) => Ok(receipt),
        Err(e) => {
            if store.discard(&app.app_id, &record.otp_id).await.is_err() {
                worker::console_error!("otp {}: could not remove the unsent record", record.otp_id);
            }
            Err(e)
        }
    }
}

/// Runs `command` on a record (PIN checks count against the client IP's cap
/// first) and fires the status callback when the status moved.
pub(crate) async fn apply(
    rc: &RequestContext,
    app: &AppRecord,
    store: &OtpStore,
    otp_id: &str,
    command: Command,
) -> ApiResult<Option<Applied>> {
    if let Command::Verify { .. } = &command {
        RateLimits::new(&rc.env)?
            .take_check(
                &app.app_id,
                app.limits.ip_check_limits(),
                rc.client_ip.as_deref(),
                rc.now,
            )
            .await?;
    }
    let applied = store.apply(&app.app_id, otp_id, command, rc.now).await?;
    if let Some(applied) = applied.as_ref().filter(|a| a.status_changed) {
        // The record's URL already defaults to the app's when the OTP was created.
        if let Some(url) = applied.record.otp_callback_url.clone() {
            callback::schedule_status_callback(
                &rc.ctx,
                &rc.env,
                url,
                app.webhook_secret.clone(),
                &applied.record.view(rc.now, None),
            );
        }
    }
    Ok(applied)
}
