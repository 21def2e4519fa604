//! Admission: the application's send policy for one SMS, decided before anything
//! is stored or sent: the destination country, then the caps per phone, per
//! application and per end-user address and the daily budget, taken together from the
//! application's rate-limit object (all or none). What a send took is given back
//! when its SMS is not sent, so a refused or failed send costs nothing.

use otp_core::limits::budget_units;
use otp_core::otp::PlannedOtp;

use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::ApiResult;
use crate::limiter::{self, RateLimits, Take};

/// An SMS the send policy let through; its budget is given back if it is not sent.
pub(crate) struct Admission {
    charged: u64,
}

/// Takes the SMS of `planned` from the application's buckets, or refuses it
/// (429 with the rate-limit headers, or 403 for a country).
pub(crate) async fn admit(
    rc: &RequestContext,
    app: &AppRecord,
    end_user_ip: Option<&str>,
    planned: &PlannedOtp,
) -> ApiResult<Admission> {
    let policy = &app.limits;
    policy.check_country(planned.phone.country_iso())?;
    let one = |bucket, limits| Take {
        bucket,
        limits,
        units: 1,
    };
    let mut takes = vec![
        one(
            limiter::phone_bucket(&rc.config.hash_key, planned.phone.e164()),
            policy.phone_limits(),
        ),
        one(limiter::app_bucket(), policy.app_limits()),
    ];
    if let Some(ip) = end_user_ip {
        takes.push(one(
            limiter::ip_send_bucket(&rc.config.hash_key, ip),
            policy.ip_send_limits(),
        ));
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
    limiter(rc).take(&app.app_id, takes, rc.now).await?;
    Ok(Admission { charged })
}

/// Counts one PIN check against the end user's address cap (both dialects); no
/// call when no per-IP cap applies (no end-user address known).
pub(crate) async fn admit_check(
    rc: &RequestContext,
    app: &AppRecord,
    end_user_ip: Option<&str>,
) -> ApiResult<()> {
    let Some(ip) = end_user_ip else {
        return Ok(());
    };
    let bucket = limiter::ip_check_bucket(&rc.config.hash_key, ip);
    limiter(rc)
        .take_check(&app.app_id, app.limits.ip_check_limits(), bucket, rc.now)
        .await
}

impl Admission {
    /// Gives back what an SMS that was not sent took: a failed send costs nothing.
    pub(crate) async fn refund(&self, rc: &RequestContext, app: &AppRecord) {
        if self.charged == 0 {
            return;
        }
        limiter(rc)
            .give_back(&app.app_id, limiter::budget_bucket(), self.charged, rc.now)
            .await;
    }
}

fn limiter(rc: &RequestContext) -> RateLimits<'_> {
    RateLimits::new(&rc.bindings.limiter)
}
