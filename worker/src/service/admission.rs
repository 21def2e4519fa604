//! Admission: the application's send policy for one SMS, decided before anything
//! is stored or sent: the destination country and the message's parts, then the
//! caps per phone, per application, per end-user address and per destination
//! country and the daily budget, and the fraud guard (`crate::fraud`), taken
//! together from the application's rate-limit object (all or none). Spend caps
//! count SMS parts (a 15-part message counts 15); per-number caps count messages.
//! When its SMS is not sent, a send's spend (the daily budget) and the guard's
//! count are given back, so a failed send costs nothing; the caps on messages (per
//! phone, per application, per country's parts) keep it, as an attempt.

use otp_core::fraud::Ticket;
use otp_core::otp::PlannedOtp;

use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::ApiResult;
use crate::fraud::{GuardCheck, GuardRef};
use crate::limiter::{self, RateLimits, Take};

/// An SMS the send policy let through; its spend is given back if it is not sent.
pub(crate) struct Admission {
    charged: u64,
    /// Where the guard counted it, and what to undo (what shadow mode would have
    /// refused is recorded by the guard itself, for its admin view).
    guard: Option<(GuardRef, Ticket)>,
}

/// Takes the SMS of `planned` from the application's buckets and has the fraud
/// guard decide it, or refuses it (429 with `Retry-After`, and the rate-limit
/// headers for a cap; 403 for a country; 400 for too many parts).
/// `otp_id` is the OTP whose code goes out (for a Dexatel resend, the pending one).
pub(crate) async fn admit(
    rc: &RequestContext,
    app: &AppRecord,
    end_user_ip: Option<&str>,
    planned: &PlannedOtp,
    otp_id: &str,
) -> ApiResult<Admission> {
    let policy = &app.limits;
    let country = planned.phone.country_iso();
    policy.check_country(country)?;
    policy.check_parts(planned.message.parts)?;
    let units = policy.units(planned.message.parts, planned.record.cost);
    let take = |bucket, limits, units| Take {
        bucket,
        limits,
        units,
    };
    let key = &rc.config.hash_key;
    let mut takes = vec![
        take(
            limiter::phone_bucket(key, planned.phone.e164()),
            policy.phone_limits(),
            units.phone,
        ),
        take(limiter::app_bucket(), policy.app_limits(), units.app),
        take(
            limiter::country_parts_bucket(country),
            policy.country_parts_limits(country),
            units.country_parts,
        ),
        take(
            limiter::budget_bucket(),
            policy.budget_limits(),
            units.budget,
        ),
    ];
    if let Some(ip) = end_user_ip {
        takes.push(take(
            limiter::ip_send_bucket(key, ip),
            policy.ip_send_limits(),
            units.ip,
        ));
    }
    let guard = GuardCheck {
        settings: app.fraud_guard.clone(),
        e164: planned.phone.e164().to_owned(),
        otp_id: otp_id.to_owned(),
    };
    let admitted = limiter(rc).admit(&app.app_id, takes, guard, rc.now).await?;
    Ok(Admission {
        charged: units.budget,
        guard: admitted.counted.zip(admitted.ticket),
    })
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
    /// Gives back the budget an SMS that was not sent took, and undoes its count in
    /// the guard: a failed send costs nothing and does not count for the guard.
    pub(crate) async fn refund(&self, rc: &RequestContext, app: &AppRecord) {
        if self.charged > 0 {
            limiter(rc)
                .give_back(&app.app_id, limiter::budget_bucket(), self.charged, rc.now)
                .await;
        }
        if let Some((counted, ticket)) = &self.guard {
            limiter(rc)
                .undo(&app.app_id, counted.clone(), *ticket, rc.now)
                .await;
        }
    }

    /// Where the guard counted the send: its outcome must be reported there.
    pub(crate) fn counted(&self) -> Option<&GuardRef> {
        self.guard.as_ref().map(|(counted, _)| counted)
    }
}

fn limiter(rc: &RequestContext) -> RateLimits<'_> {
    RateLimits::new(&rc.bindings.limiter)
}
