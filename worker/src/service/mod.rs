//! The verification service: one dialect-neutral implementation of everything
//! with I/O that the API dialects share. The wire adapters (`crate::api`) parse
//! a request into values (a create request, a `PhoneNumber`, a PIN), call the
//! service, and write their dialect's reply and errors; the service alone owns
//! admission ([`admission`]: limits, budget, country policy, refunds), the
//! records and the per-number guard (the shard objects, [`shard`]), the gateway
//! call and the status callbacks. The rules themselves are the core's.
//!
//! One order for every new code: admitted, stored, sent, and removed again when
//! the gateway refused the SMS, so no PENDING record is left that no user can
//! satisfy and a refused send costs nothing.

pub(crate) mod admission;
pub(crate) mod records;
pub(crate) mod shard;

use otp_core::number::{number_hash, shard_of_hash};
use otp_core::otp::{plan_sharded_otp, Command, OtpRecord, PlannedOtp};
use otp_core::phone::PhoneNumber;
use otp_core::recipient::recipient_type;
use otp_core::rng::OsRandom;
use otp_core::settings::{resolve, OtpRequest};

use self::shard::{ShardOp, ShardReply, ShardRequest};
use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::{send_sms, OutgoingSms};
use crate::insights::{self, Dialect};

/// What a command on a record did.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The record after the command.
    pub(crate) record: OtpRecord,
    /// `Ok` when the command succeeded, else the core's error.
    pub(crate) result: Result<(), otp_core::Error>,
}

/// A code sent to a number through the Dexatel dialect.
#[derive(Debug)]
pub(crate) struct SentToNumber {
    /// The verification (new, or the pending one re-sent with a fresh code).
    pub(crate) record: OtpRecord,
    /// The provider's id of the SMS, or a fresh one when it gave none.
    pub(crate) message_id: String,
}

/// The service for one request of one application.
pub(crate) struct Service<'a> {
    rc: &'a RequestContext,
    app: &'a AppRecord,
    /// The end user's address key, when known (`crate::context::EndUser`).
    end_user_ip: Option<&'a str>,
}

impl<'a> Service<'a> {
    pub(crate) fn new(
        rc: &'a RequestContext,
        app: &'a AppRecord,
        end_user_ip: Option<&'a str>,
    ) -> Self {
        Service {
            rc,
            app,
            end_user_ip,
        }
    }

    /// The keyed hash that names `phone` in this application's storage.
    fn number(&self, phone: &PhoneNumber) -> String {
        number_hash(&self.rc.config.hash_key, &self.app.app_id, phone)
    }

    /// Plans a new OTP whose id names its number's shard. The core refuses a number
    /// its plan does not have or of a type the application does not send to; the
    /// refusal of a type names it (the core's message cannot).
    fn plan(&self, request: &OtpRequest) -> ApiResult<PlannedOtp> {
        let key = &self.rc.config.hash_key;
        let app_id = &self.app.app_id;
        let shard_of = |phone: &PhoneNumber| shard_of_hash(&number_hash(key, app_id, phone));
        plan_sharded_otp(
            &self.app.otp,
            request,
            self.rc.now,
            &mut OsRandom,
            &self.rc.config.pin_keys,
            &shard_of,
        )
        .map_err(|e| match e {
            otp_core::Error::PhoneNumberTypeNotAllowed => {
                let kind = resolve(&self.app.otp, request)
                    .map(|r| recipient_type(&r.phone))
                    .unwrap_or("");
                ApiError::from(e).with_message(type_refused(kind))
            }
            e => ApiError::from(e),
        })
    }

    /// Runs `op` in shard `shard`; the guard's refusals become 429 errors.
    async fn call(&self, shard: u8, op: ShardOp) -> ApiResult<ShardReply> {
        let request = ShardRequest {
            app_id: self.app.app_id.clone(),
            now: self.rc.now,
            retention: self.rc.config.retention,
            guard: self.app.dexatel,
            op,
        };
        let name = format!("{}:{shard:x}", self.app.app_id);
        let reply =
            crate::durable::call(&self.rc.bindings.shards, &name, "otp shard", &request).await?;
        match reply {
            ShardReply::Blocked { until } => Err(ApiError::number_blocked(until, self.rc.now)),
            ShardReply::Cooldown { until } => Err(ApiError::number_cooldown(until, self.rc.now)),
            reply => Ok(reply),
        }
    }

    /// Runs `op` in the shard of `otp_id`; `None` for an id that names no shard.
    async fn call_for_id(&self, otp_id: &str, op: ShardOp) -> ApiResult<Option<ShardReply>> {
        match otp_core::id::shard_of(otp_id) {
            Some(shard) => self.call(shard, op).await.map(Some),
            None => Ok(None),
        }
    }

    /// Hands the planned SMS to the application's gateway, under its admission;
    /// on a refusal the admission is given back.
    async fn dispatch(
        &self,
        otp_id: &str,
        planned: &PlannedOtp,
        admission: &admission::Admission,
    ) -> ApiResult<Option<String>> {
        let sms = OutgoingSms {
            app_id: &self.app.app_id,
            otp_id,
            message: &planned.message,
        };
        match send_sms(
            &self.rc.env,
            &self.app.gateway,
            &self.app.webhook_secret,
            &sms,
        )
        .await
        {
            Ok(receipt) => Ok(receipt.message_id),
            Err(e) => {
                admission.refund(self.rc, self.app).await;
                Err(e.into())
            }
        }
    }

    /// A new OTP (SMS.CX's `POST /otp`): planned, admitted, stored, sent, and
    /// removed again when the SMS could not be sent.
    pub(crate) async fn send(&self, request: &OtpRequest) -> ApiResult<PlannedOtp> {
        let planned = self.plan(request)?;
        let admission = admission::admit(self.rc, self.app, self.end_user_ip, &planned)
            .await
            .map_err(|e| self.refused(e, Dialect::Smscx, &planned))?;
        let record = &planned.record;
        let stored = self
            .call_for_id(
                &record.otp_id,
                ShardOp::Create {
                    record: record.clone(),
                    facts: insights::facts(self.rc, self.app, Dialect::Smscx, &planned.phone),
                },
            )
            .await;
        if let Err(e) = stored {
            admission.refund(self.rc, self.app).await;
            return Err(e);
        }
        if let Err(e) = self.dispatch(&record.otp_id, &planned, &admission).await {
            let discard = ShardOp::Discard {
                otp_id: record.otp_id.clone(),
            };
            if self.call_for_id(&record.otp_id, discard).await.is_err() {
                worker::console_error!("otp {}: could not remove the unsent record", record.otp_id);
            }
            return Err(e);
        }
        Ok(planned)
    }

    /// The record: its KV copy, or when KV has none yet, the shard's.
    pub(crate) async fn status(&self, otp_id: &str) -> ApiResult<OtpRecord> {
        if otp_core::id::shard_of(otp_id).is_none() {
            return Err(otp_core::Error::OtpNotFound.into());
        }
        let kv = &self.rc.bindings.kv;
        if let Some(record) = records::get_copy(kv, &self.app.app_id, otp_id).await? {
            return Ok(record);
        }
        let op = ShardOp::Read {
            otp_id: otp_id.to_owned(),
        };
        match self.call_for_id(otp_id, op).await? {
            Some(ShardReply::Record { record }) => Ok(record),
            _ => Err(otp_core::Error::OtpNotFound.into()),
        }
    }

    /// Runs a command on a record by id (SMS.CX's verify and cancel); PIN checks
    /// count against the end user's address cap first. An unknown id is 2021.
    pub(crate) async fn apply(&self, otp_id: &str, command: Command) -> ApiResult<Applied> {
        if let Command::Verify { .. } = &command {
            admission::admit_check(self.rc, self.app, self.end_user_ip)
                .await
                .inspect_err(|e| {
                    let what = insights::Refused {
                        dialect: Dialect::Smscx,
                        op: insights::Op::Check,
                        phone: None,
                        otp: None,
                        otp_id: Some(otp_id),
                    };
                    insights::refused(self.rc, self.app, what, e);
                })?;
        }
        let op = ShardOp::Apply {
            otp_id: otp_id.to_owned(),
            command,
        };
        match self.call_for_id(otp_id, op).await? {
            Some(ShardReply::Applied {
                record,
                result,
                status_changed,
            }) => {
                if status_changed {
                    self.status_callback(&record);
                }
                Ok(Applied { record, result })
            }
            Some(ShardReply::NotFound) | None => Err(otp_core::Error::OtpNotFound.into()),
            Some(_) => Err(ApiError::internal()),
        }
    }

    /// Checks `code` against the number's current verification (Dexatel's check):
    /// the matched record, if any. A blocked number is refused (1530).
    pub(crate) async fn check_number(
        &self,
        phone: &PhoneNumber,
        code: String,
    ) -> ApiResult<Option<(OtpRecord, String)>> {
        let check_refused = |e: ApiError| {
            let what = insights::Refused {
                dialect: Dialect::Dexatel,
                op: insights::Op::Check,
                phone: Some(phone),
                otp: None,
                otp_id: None,
            };
            insights::refused(self.rc, self.app, what, &e);
            e
        };
        admission::admit_check(self.rc, self.app, self.end_user_ip)
            .await
            .map_err(check_refused)?;
        let number = self.number(phone);
        let shard = shard_of_hash(&number);
        match self
            .call(shard, ShardOp::CheckNumber { number, code })
            .await
            .map_err(check_refused)?
        {
            ShardReply::Checked { matched, changed } => {
                for record in &changed {
                    self.status_callback(record);
                }
                Ok(matched)
            }
            _ => Err(ApiError::internal()),
        }
    }

    /// The number's verifications, newest first, with the id of the SMS that
    /// carried each one's code.
    pub(crate) async fn list_number(
        &self,
        phone: &PhoneNumber,
    ) -> ApiResult<Vec<(OtpRecord, String)>> {
        let number = self.number(phone);
        let shard = shard_of_hash(&number);
        match self.call(shard, ShardOp::ListNumber { number }).await? {
            ShardReply::Listed { items } => Ok(items),
            _ => Err(ApiError::internal()),
        }
    }

    /// Sends a code to a number under its guard (Dexatel's create): the number's
    /// shard decides (blocked, cooldown, new code, `resend_same` or `replace`) and
    /// records the send, admission takes it from the application's caps, the
    /// gateway sends it, and the shard is told the outcome (after the reply when it
    /// went out; at once when it did not, which takes the send back).
    pub(crate) async fn send_to_number(
        &self,
        request: &OtpRequest,
        pin: &str,
    ) -> ApiResult<SentToNumber> {
        let planned = self.plan(request)?;
        let number = self.number(&planned.phone);
        let shard = shard_of_hash(&number);
        let begin = ShardOp::BeginSend {
            number: number.clone(),
            record: planned.record.clone(),
            pin: pin.to_owned(),
            facts: insights::facts(self.rc, self.app, Dialect::Dexatel, &planned.phone),
        };
        let refused = |e| self.refused(e, Dialect::Dexatel, &planned);
        let (at, record) = match self.call(shard, begin).await.map_err(refused)? {
            ShardReply::Sending { at, record, .. } => (at, record),
            _ => return Err(ApiError::internal()),
        };
        let release = || ShardOp::Release {
            number: number.clone(),
            id: record.otp_id.clone(),
            at,
        };
        let sent = match admission::admit(self.rc, self.app, self.end_user_ip, &planned).await {
            Ok(admission) => self.dispatch(&record.otp_id, &planned, &admission).await,
            Err(e) => Err(refused(e)),
        };
        let message_id = match sent {
            Ok(id) => id.unwrap_or_else(|| otp_core::id::new_uuid_v4(&mut OsRandom)),
            Err(e) => {
                if self.call(shard, release()).await.is_err() {
                    worker::console_error!(
                        "otp {}: an unsent code could not be released",
                        record.otp_id
                    );
                }
                return Err(e);
            }
        };
        let confirm = ShardRequest {
            app_id: self.app.app_id.clone(),
            now: self.rc.now,
            retention: self.rc.config.retention,
            guard: self.app.dexatel,
            op: ShardOp::Confirm {
                number,
                id: record.otp_id.clone(),
                at,
                message_id: message_id.clone(),
            },
        };
        // The code is out: the confirmation does not hold up the reply (if it is
        // lost, the send in flight is forgotten after its reservation).
        crate::ops::count(|o| o.after_object_calls += 1);
        let shards = self.rc.env.durable_object(shard::BINDING);
        let name = format!("{}:{shard:x}", self.app.app_id);
        self.rc.ctx.wait_until(async move {
            let confirmed = match shards {
                Ok(ns) => crate::durable::call_after_reply(&ns, &name, "otp shard", &confirm)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !confirmed {
                worker::console_error!("otp shard {name}: a send could not be confirmed");
            }
        });
        Ok(SentToNumber { record, message_id })
    }

    /// Records in the insights that `e` refused the send of `planned`, if it is a
    /// refusal (`insights::is_refusal`); returns `e`.
    fn refused(&self, e: ApiError, dialect: Dialect, planned: &PlannedOtp) -> ApiError {
        let what = insights::Refused {
            dialect,
            op: insights::Op::Send,
            phone: Some(&planned.phone),
            otp: Some(&planned.record),
            otp_id: None,
        };
        insights::refused(self.rc, self.app, what, &e);
        e
    }

    /// Fires the status callback of a record whose status changed, after the reply.
    fn status_callback(&self, record: &OtpRecord) {
        // The record's URL already defaults to the app's when the OTP was created.
        if let Some(url) = record.otp_callback_url.clone() {
            crate::callback::schedule_status_callback(
                &self.rc.ctx,
                &self.rc.env,
                url,
                self.app.webhook_secret.clone(),
                &record.view(self.rc.now, None),
            );
        }
    }
}

/// The message of a refused number type, naming the type (the core's const
/// message cannot).
fn type_refused(kind: &str) -> &'static str {
    match kind {
        "fixedLine" => "the application does not send to this type of phone number: fixedLine",
        "tollFree" => "the application does not send to this type of phone number: tollFree",
        "premiumRate" => "the application does not send to this type of phone number: premiumRate",
        "sharedCost" => "the application does not send to this type of phone number: sharedCost",
        "voip" => "the application does not send to this type of phone number: voip",
        "personalNumber" => {
            "the application does not send to this type of phone number: personalNumber"
        }
        "pager" => "the application does not send to this type of phone number: pager",
        "uan" => "the application does not send to this type of phone number: uan",
        "voicemail" => "the application does not send to this type of phone number: voicemail",
        "mobile" => "the application does not send to this type of phone number: mobile",
        "fixedLineOrMobile" => {
            "the application does not send to this type of phone number: fixedLineOrMobile"
        }
        "internationalNetwork" => {
            "the application does not send to this type of phone number: internationalNetwork"
        }
        _ => "the application does not send to this type of phone number",
    }
}
