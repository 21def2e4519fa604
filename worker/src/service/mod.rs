//! The verification service: one dialect-neutral implementation of everything
//! with I/O that the API dialects share. The wire adapters (`crate::api`) parse
//! a request into values (a create request, a `PhoneNumber`, a PIN), call the
//! service, and write their dialect's reply and errors; the service alone owns
//! admission ([`admission`]: limits, budget, country policy, refunds), the
//! records and the per-number guard (the shard objects, [`shard`]), the gateway
//! call and the status callbacks. The rules themselves are the core's.
//!
//! One order for every new code: admitted, stored, sent, and removed again when
//! no gateway took the SMS, so no PENDING record is left that no user can
//! satisfy and a refused send costs nothing. When a gateway may have taken it (a
//! timeout, a 500/502/504), the record stays, the send is charged, and its
//! delivery is marked unknown until a receipt settles it ([`Service::record_receipt`]).

pub(crate) mod admission;
pub(crate) mod outcomes;
pub(crate) mod recent_records;
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
use crate::gateway::delivery::{self, Delivery, DeliveryReport, ReportOutcome};
use crate::gateway::{send_sms, OutgoingSms, Receipt, SendPlan, Tried};
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

/// What a test SMS did ([`Service::send_test`]).
pub(crate) struct TestSent {
    /// The SMS as planned (its number, sender, text, parts and cost).
    pub(crate) planned: PlannedOtp,
    /// Each gateway tried, in order.
    pub(crate) tried: Vec<Tried>,
    /// What the gateways answered; `None` for a test number (nothing sent).
    pub(crate) result: Option<ApiResult<Receipt>>,
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
        // A callback URL may name a private host only where the deployment allows it.
        let request = &OtpRequest {
            private_hosts: self.rc.config.private_hosts,
            ..request.clone()
        };
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
        .and_then(|planned| {
            // Lockdown: the senders and templates a request may choose.
            let policy = &self.app.policy;
            policy.check_request(&self.app.otp, &planned.resolved)?;
            Ok(planned)
        })
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

    /// `op` with what every shard operation carries: the app, the request's `now`,
    /// the retention and the Dexatel guard settings.
    fn request(&self, op: ShardOp) -> ShardRequest {
        ShardRequest {
            app_id: self.app.app_id.clone(),
            now: self.rc.now,
            retention: self.rc.config.retention,
            guard: self.app.dexatel,
            op,
        }
    }

    /// Runs `op` in shard `shard`; the guard's refusals become 429 errors.
    async fn call(&self, shard: u8, op: ShardOp) -> ApiResult<ShardReply> {
        let request = self.request(op);
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

    /// Hands the planned SMS to the gateways of its route, under its admission;
    /// when none took it the admission is given back (a send whose delivery is
    /// unknown is charged: it may have gone out).
    /// With `trace` (a test SMS: no receipts asked for), each gateway tried is
    /// appended there.
    async fn dispatch(
        &self,
        otp_id: &str,
        planned: &PlannedOtp,
        admission: &admission::Admission,
        trace: Option<&mut Vec<Tried>>,
    ) -> ApiResult<Receipt> {
        let sms = OutgoingSms {
            app_id: &self.app.app_id,
            otp_id,
            message: &planned.message,
            report_url: None,
        };
        let token = crate::apps::receipt_token(&self.rc.config.hash_key, self.app);
        let plan = SendPlan {
            gateway: &self.app.gateway,
            routes: &self.app.routes,
            webhook_secret: &self.app.webhook_secret,
            country: planned.phone.country_iso(),
            receipt_token: &token,
            receipts: trace.is_none(),
        };
        match send_sms(&self.rc.env, &plan, &sms, trace).await {
            Ok(receipt) => Ok(receipt),
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
        self.verify_turnstile().await?;
        if let Some(code) = self.app.policy.test_code(&planned.phone) {
            return self.send_to_test_number(request, code).await;
        }
        let record = &planned.record;
        let admission = admission::admit(
            self.rc,
            self.app,
            self.end_user_ip,
            &planned,
            &record.otp_id,
        )
        .await
        .map_err(|e| self.refused(e, Dialect::Smscx, &planned))?;
        let stored = self
            .call_for_id(
                &record.otp_id,
                ShardOp::Create {
                    record: record.clone(),
                    facts: insights::facts(self.rc, self.app, Dialect::Smscx, &planned.phone),
                    counted: admission.counted().cloned(),
                },
            )
            .await;
        if let Err(e) = stored {
            admission.refund(self.rc, self.app).await;
            return Err(e);
        }
        let receipt = match self
            .dispatch(&record.otp_id, &planned, &admission, None)
            .await
        {
            Ok(receipt) => receipt,
            Err(e) => {
                let discard = ShardOp::Discard {
                    otp_id: record.otp_id.clone(),
                };
                if self.call_for_id(&record.otp_id, discard).await.is_err() {
                    worker::console_error!(
                        "otp {}: could not remove the unsent record",
                        record.otp_id
                    );
                }
                return Err(e);
            }
        };
        // What receipts need (the message id, an unknown delivery), after the reply.
        if receipt.message_id.is_some() || receipt.delivery == delivery::DeliveryStatus::Unknown {
            let sent = ShardOp::Sent {
                otp_id: record.otp_id.clone(),
                delivery: self.delivery_of(&receipt),
            };
            if let Some(shard) = otp_core::id::shard_of(&record.otp_id) {
                self.after_reply(shard, sent, "a delivery update was lost");
            }
        }
        self.index_message(&record.otp_id, &receipt, record.expires_at);
        Ok(planned)
    }

    /// An OTP to one of the application's test numbers (`policy.testNumbers`): its
    /// fixed code, no SMS, no cost, no cap and no guard; flagged in the insights.
    async fn send_to_test_number(&self, request: &OtpRequest, code: &str) -> ApiResult<PlannedOtp> {
        let request = OtpRequest {
            custom_pin: Some(code.to_owned()),
            ..request.clone()
        };
        let mut planned = self.plan(&request)?;
        planned.record.cost = 0.0;
        let record = &planned.record;
        let create = ShardOp::Create {
            record: record.clone(),
            facts: insights::facts(self.rc, self.app, Dialect::Smscx, &planned.phone),
            counted: None,
        };
        self.call_for_id(&record.otp_id, create).await?;
        Ok(planned)
    }

    /// One SMS of `text` through the application's gateway and routes, exactly as
    /// an OTP's SMS goes (the admin API's test SMS): the same checks of the number
    /// (numbering plan, allowed types, country), sender and lockdown, the same
    /// parts rule (`maxParts`), the same gateway choice and failover. Refusals
    /// before the gateway are the send's errors; what the gateways did is the
    /// answer ([`TestSent`]).
    ///
    /// It goes through the send's whole admission ([`admission::admit`]): the
    /// per-number, per-application and per-country-parts caps, the daily budget
    /// and the fraud guard, with no end-user address (an operator is not one). So
    /// an admin session cannot send past the limits an attacker would meet, and
    /// test SMS show up in the caps and the guard's volume like any other SMS they
    /// cost. The guard counts it as sent to its range (burst, country volume);
    /// with no PIN to verify, no outcome is ever reported for it, which the guard
    /// counts as neither verified nor unverified, so it never lowers a range's
    /// conversion. When no gateway took it, what it took is given back, as for a
    /// send. No record is stored and no insights row written (it is not an OTP);
    /// the log names its id, never the number or the text. A test number
    /// (`policy.testNumbers`) never gets an SMS, this one included.
    pub(crate) async fn send_test(&self, request: &OtpRequest, text: &str) -> ApiResult<TestSent> {
        let mut planned = self.plan(request)?;
        let sms = otp_core::sms::count_parts(text);
        planned.message.text = text.to_owned();
        planned.message.encoding = sms.encoding;
        planned.message.units = sms.units;
        planned.message.parts = sms.parts;
        planned.record.parts = sms.parts;
        planned.record.cost = self
            .app
            .otp
            .prices
            .cost(planned.phone.country_iso(), sms.parts);
        let mut tried = Vec::new();
        let result = if self.app.policy.test_code(&planned.phone).is_some() {
            None
        } else {
            // A fresh id of no record: the guard's tag, the log's and the outbox's.
            let id = &planned.record.otp_id;
            let admission = admission::admit(self.rc, self.app, None, &planned, id).await?;
            Some(
                self.dispatch(id, &planned, &admission, Some(&mut tried))
                    .await,
            )
        };
        Ok(TestSent {
            planned,
            tried,
            result,
        })
    }

    /// The app's Turnstile check of this request, when the app requires one:
    /// before anything is stored or sent.
    async fn verify_turnstile(&self) -> ApiResult<()> {
        match &self.app.turnstile {
            Some(settings) => crate::turnstile::verify(self.rc, settings, self.end_user_ip).await,
            None => Ok(()),
        }
    }

    /// The delivery a gateway's receipt starts.
    fn delivery_of(&self, receipt: &Receipt) -> Delivery {
        Delivery::sent(
            receipt.provider,
            receipt.credentials.clone(),
            receipt.message_id.clone(),
            receipt.delivery,
            self.rc.now,
        )
    }

    /// Indexes the message of `otp_id` for receipts that name only the message
    /// (`crate::gateway::indexed`), after the reply, for as long as the record lives.
    fn index_message(&self, otp_id: &str, receipt: &Receipt, expires_at: i64) {
        let Some(message_id) = receipt.message_id.as_deref() else {
            return;
        };
        if !crate::gateway::indexed(receipt.provider) {
            return;
        }
        let key = delivery::index_key(receipt.provider, message_id);
        let shard = delivery::index_shard(&key);
        let op = ShardOp::IndexMessage {
            key,
            otp_id: otp_id.to_owned(),
            until: expires_at.saturating_add(i64::from(self.rc.config.retention)),
        };
        self.after_reply(shard, op, "a message index entry was lost");
    }

    /// Runs `op` in shard `shard` after the reply (logged when it fails).
    fn after_reply(&self, shard: u8, op: ShardOp, lost: &'static str) {
        let request = self.request(op);
        crate::ops::count(|o| o.after_object_calls += 1);
        let shards = self.rc.env.durable_object(shard::BINDING);
        let name = format!("{}:{shard:x}", self.app.app_id);
        self.rc.ctx.wait_until(async move {
            let done = match shards {
                Ok(ns) => crate::durable::call_after_reply(&ns, &name, "otp shard", &request)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !done {
                worker::console_error!("otp shard {name}: {lost}");
            }
        });
    }

    /// Records a delivery receipt from `provider`: for the OTP the receipt names,
    /// else `otp_id` (from its URL), else the OTP its message was indexed under.
    /// An unknown OTP, or a receipt for another message or provider than the
    /// OTP's, is `Ok(None)`; a replay is [`ReportOutcome::Unchanged`]. A new final
    /// status is a `delivery` event of the insights (derived by the shard).
    pub(crate) async fn record_receipt(
        &self,
        provider: &str,
        otp_id: Option<&str>,
        report: &DeliveryReport,
    ) -> ApiResult<Option<ReportOutcome>> {
        let named = report.otp_id.as_deref().or(otp_id).map(str::to_owned);
        let otp_id = match (named, &report.message_id) {
            (Some(id), _) => id,
            (None, Some(message_id)) => {
                let key = delivery::index_key(provider, message_id);
                let shard = delivery::index_shard(&key);
                match self.call(shard, ShardOp::FindMessage { key }).await? {
                    ShardReply::Found { otp_id: Some(id) } => id,
                    _ => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        let op = ShardOp::Receipt {
            otp_id: otp_id.clone(),
            provider: provider.to_owned(),
            report: report.clone(),
        };
        match self.call_for_id(&otp_id, op).await? {
            Some(ShardReply::Receipt { outcome, delivery }) => {
                if outcome == ReportOutcome::Mismatch {
                    return Ok(None);
                }
                if outcome == ReportOutcome::Recorded {
                    let status = delivery.map_or("?", |d| d.status.as_str());
                    worker::console_log!("receipt {provider}: otp {otp_id} {status}");
                }
                Ok(Some(outcome))
            }
            _ => Ok(None),
        }
    }

    /// The record: its KV copy, or when KV has none yet, the shard's (which then
    /// writes the copy).
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
        self.verify_turnstile().await?;
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
        let test_number = self.app.policy.test_code(&planned.phone).is_some();
        let sent = if test_number {
            // A test number's code was planned with the request (see the dialect).
            Ok(None)
        } else {
            match admission::admit(
                self.rc,
                self.app,
                self.end_user_ip,
                &planned,
                &record.otp_id,
            )
            .await
            {
                Ok(admission) => self
                    .dispatch(&record.otp_id, &planned, &admission, None)
                    .await
                    .map(|receipt| Some((receipt, admission.counted().cloned()))),
                Err(e) => Err(refused(e)),
            }
        };
        let (message_id, sent, counted) = match sent {
            Ok(None) => (otp_core::id::new_uuid_v4(&mut OsRandom), None, None),
            Ok(Some((receipt, counted))) => {
                self.index_message(&record.otp_id, &receipt, record.expires_at);
                let id = receipt
                    .message_id
                    .clone()
                    .unwrap_or_else(|| otp_core::id::new_uuid_v4(&mut OsRandom));
                (id, Some(self.delivery_of(&receipt)), counted)
            }
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
        let confirm = ShardOp::Confirm {
            number,
            id: record.otp_id.clone(),
            at,
            message_id: message_id.clone(),
            delivery: sent,
            counted,
        };
        // The code is out: the confirmation does not hold up the reply (if it is
        // lost, the send in flight is forgotten after its reservation).
        self.after_reply(shard, confirm, "a send could not be confirmed");
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
            let source = crate::callback::Source {
                app_id: &self.app.app_id,
                kind: crate::webhook_log::Kind::Status,
            };
            crate::callback::schedule_status_callback(
                &self.rc.ctx,
                &self.rc.env,
                source,
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
