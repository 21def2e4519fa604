//! The Durable Object that makes the per-number guard exact: one object per
//! application and phone number (named `dx:{appId}:{hash}`, see
//! [`PhoneRef`]; no number in any name, key or value) holds the number's
//! [`PhoneState`] and runs every read and change of it, and every decision taken
//! from it, one request at a time (`block_concurrency_while`), like
//! [`crate::otp_guard`] does for one OTP. After each change it copies the state
//! to KV, where the listing reads it (eventually consistent), and sets an alarm
//! that deletes its storage once the state no longer matters.
//!
//! # Checks
//!
//! `GET /v1/verifications?phone=…&code=…` runs whole inside the object: refused
//! while the number is blocked (1530); otherwise the code goes to the current
//! verification's own object (`OTP_GUARD`, [`OtpStore::apply`]), the outcome is
//! counted with `otp_core::guard`'s rules and the state is stored, before the
//! next check of the number starts. So a burst of parallel wrong codes counts
//! exactly `maxFailedChecks` failures, the one that reaches it blocks the number
//! and cancels the pending code, and every later check is refused as blocked;
//! parallel right codes match once (the OTP's object consumes a code once).
//!
//! # Sends
//!
//! `POST /v1/verifications` is decided here and carried out by the worker, so
//! that no SMS is sent while the object is held:
//!
//! 1. [`PhoneOp::Send`]: refused while blocked (1530), while another send is
//!    in flight or within the cooldown of a pending code (1690); otherwise the
//!    plan (new, `resend_same`, `replace`) is recorded as a send in flight
//!    ([`PhoneState::begin_send`]): the cooldown starts now and a new
//!    verification is in the index at once. Whether a code is pending is asked
//!    of the current verification's own object, which is exact (see
//!    [`read_record`]).
//! 2. The worker stores and sends the code (`delivery::send_new`, or a re-key
//!    and `delivery::send_message`), then reports [`PhoneOp::Confirm`] with
//!    the message id, or [`PhoneOp::Release`] when the SMS could not be
//!    sent: the send is taken back (no cooldown, no index entry).
//!
//! So parallel sends to one number give one new code; the others are refused
//! with the cooldown error.
//!
//! # Failure paths
//!
//! - **The object cannot be reached** (check or send): 503, nothing was counted
//!   or sent.
//! - **An OTP's object cannot be reached from here**: the request answers 503
//!   and the state is left as it was. The OTP's object may still have counted
//!   the attempt (its `maxAttempts` holds exactly either way); the number's
//!   failure count then misses that one.
//! - **The block's cancel fails**: the block is stored first and the
//!   verification is closed in the index, so no check through the number uses
//!   it again; the record itself stays PENDING (logged) and could still be
//!   checked by id through the SMS.CX API until it expires.
//! - **The SMS fails**: the worker discards the new record (or restores the old
//!   code's digest) and releases the send. If the release cannot be delivered,
//!   the send in flight is forgotten after [`SEND_RESERVATION_SECONDS`](super::phones::SEND_RESERVATION_SECONDS): until
//!   then other sends are refused with 1690; after it, the record's own state
//!   decides (a discarded record is not pending, so the next send is a new
//!   verification at once).
//! - **The SMS went out but the confirmation is lost**: the answer is still 201
//!   (the user has the code). The new verification is already in the index
//!   (checks work; its message id is empty), and the send in flight is
//!   forgotten after [`SEND_RESERVATION_SECONDS`](super::phones::SEND_RESERVATION_SECONDS), by which time the cooldown
//!   has mostly run anyway. A `resend_same` that fell back to a new
//!   verification (the pending one was used meanwhile) is missing from the
//!   index in that case, so it cannot be checked through the number (logged).
//! - **The worker dies mid-send**: as a lost release or confirmation.
//! - **A gateway slower than [`SEND_RESERVATION_SECONDS`](super::phones::SEND_RESERVATION_SECONDS)** would let a second
//!   send start while the first is in flight; keep `GATEWAY_TIMEOUT_MS` well
//!   below it.
//! - **The KV copy fails** (e.g. KV's one write per second per key): logged;
//!   the object's storage is the truth, only the listing may be stale.

use std::time::Duration;

use otp_core::guard::{CheckEffect, CheckOutcome, GuardError, GuardSettings, SendPlan};
use otp_core::otp::{OtpRecord, OtpStatus};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State, Storage,
};

use super::error::{DxError, DxResult};
use super::phones::{Entry, PhoneRef, PhoneState, PhoneStore};
use crate::config::OTP_KV;
use crate::error::ApiError;
use crate::json::{storage_get, storage_put};
use crate::store::{Command, OtpStore};

/// Binding name of the namespace in wrangler.toml.
pub(crate) const BINDING: &str = "PHONE_GUARD";

/// A request from the worker to a number's object: what every operation needs,
/// and the operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PhoneRequest {
    phone: PhoneRef,
    settings: GuardSettings,
    retention: u32,
    now: UnixSeconds,
    op: PhoneOp,
}

/// An operation on a number's state (externally tagged, like
/// [`crate::otp_guard::GuardRequest`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum PhoneOp {
    /// Check `code` against the number's current verification.
    Check { code: String },
    /// Decide a send and record it as in flight; `planned` is the entry of the
    /// new verification the worker has planned (used unless `resend_same`).
    Send { planned: Entry },
    /// The send of `id` recorded at `at` went out as `entry`.
    Confirm {
        id: String,
        at: UnixSeconds,
        entry: Entry,
    },
    /// The send of `id` recorded at `at` could not be sent: take it back.
    Release { id: String, at: UnixSeconds },
}

/// A verification that matched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Matched {
    /// The record, now VERIFIED.
    pub(crate) record: OtpRecord,
    /// The id of the last SMS that carried its code.
    pub(crate) message_id: String,
}

/// The object's answer (externally tagged).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum PhoneReply {
    /// The number is blocked until `until`.
    Blocked { until: UnixSeconds },
    /// A send must wait until `until`.
    Cooldown { until: UnixSeconds },
    /// A check ran: the match, if any, and every record whose status it changed
    /// (for their callbacks).
    Checked {
        matched: Option<Matched>,
        changed: Vec<OtpRecord>,
    },
    /// A send was decided and is in flight: send the code of verification `id`
    /// (for `resend_same`, the pending record), then confirm or release it with
    /// `id` and `at`.
    Sending {
        plan: SendPlan,
        id: String,
        at: UnixSeconds,
        pending: Option<OtpRecord>,
    },
    /// Done.
    Done,
    /// An OTP's object could not be reached; nothing changed here.
    Unavailable,
}

impl PhoneReply {
    fn refused(e: GuardError) -> Self {
        match e {
            GuardError::Blocked { until } => PhoneReply::Blocked { until },
            GuardError::Cooldown { until } => PhoneReply::Cooldown { until },
            // Settings are validated when the application is saved.
            _ => PhoneReply::Unavailable,
        }
    }
}

const STATE: &str = "state";

/// One number's serialising object.
#[durable_object]
pub struct PhoneGuard {
    state: State,
    env: Env,
}

impl DurableObject for PhoneGuard {
    fn new(state: State, env: Env) -> Self {
        PhoneGuard { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let request: PhoneRequest = crate::durable::read_request(&mut req).await?;
        let storage = self.state.storage();
        let env = self.env.clone();
        // Read, decide, call the OTP's object and write with no other event of this
        // number interleaved: that is what makes the guard exact.
        let reply = self
            .state
            .block_concurrency_while(async move { handle(&storage, &env, request).await })
            .await?;
        crate::http::json(&reply, 200)
    }

    async fn alarm(&self) -> Result<Response> {
        // Set after every change to when the state stops mattering: no change since.
        self.state.storage().delete_all().await?;
        Response::ok("forgotten")
    }
}

/// Runs one request on the stored state.
async fn handle(storage: &Storage, env: &Env, request: PhoneRequest) -> Result<PhoneReply> {
    let mut state: PhoneState = storage_get(storage, STATE).await?.unwrap_or_default();
    let ctx = Ctx {
        storage,
        env,
        phone: &request.phone,
        settings: &request.settings,
        retention: request.retention,
        now: request.now,
    };
    let reply = match request.op {
        PhoneOp::Check { code } => check(&ctx, &mut state, code).await?,
        PhoneOp::Send { planned } => send(&ctx, &mut state, planned).await?,
        PhoneOp::Confirm { id, at, entry } => {
            state.confirm(&id, at, entry, ctx.now, ctx.retention);
            ctx.save(&state).await?;
            PhoneReply::Done
        }
        PhoneOp::Release { id, at } => {
            state.release(&id, at);
            ctx.save(&state).await?;
            PhoneReply::Done
        }
    };
    Ok(reply)
}

/// What every operation needs.
struct Ctx<'a> {
    storage: &'a Storage,
    env: &'a Env,
    phone: &'a PhoneRef,
    settings: &'a GuardSettings,
    retention: u32,
    now: UnixSeconds,
}

impl Ctx<'_> {
    /// Stores the state, sets the alarm that forgets it, and copies it to KV.
    async fn save(&self, state: &PhoneState) -> Result<()> {
        storage_put(self.storage, STATE, state).await?;
        let ttl = state.storage_ttl(self.settings, self.now, self.retention);
        self.storage.set_alarm(Duration::from_secs(ttl)).await?;
        // KV is a copy for the listing; the object's storage is the truth, so a failed
        // copy (e.g. KV's one-write-per-second limit) is only logged.
        let copied = match self.env.kv(OTP_KV) {
            Ok(kv) => PhoneStore::new(&kv)
                .put(self.phone, state, ttl)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = copied {
            worker::console_warn!("dexatel phone state: KV copy not updated: {e}");
        }
        Ok(())
    }

    fn otps(&self) -> Option<OtpStore> {
        OtpStore::new(self.env, self.retention).ok()
    }
}

/// A check: see the module docs.
async fn check(ctx: &Ctx<'_>, state: &mut PhoneState, code: String) -> Result<PhoneReply> {
    let now = ctx.now;
    if let Err(e) = state.guard.check_allowed(now) {
        return Ok(PhoneReply::refused(e));
    }
    let Some(entry) = state.current(now).cloned() else {
        return Ok(PhoneReply::Checked {
            matched: None,
            changed: Vec::new(),
        });
    };
    let Some(otps) = ctx.otps() else {
        return Ok(PhoneReply::Unavailable);
    };
    let app_id = &ctx.phone.app_id;
    let command = Command::Verify { pin: Some(code) };
    let Ok(applied) = otps.apply(app_id, &entry.id, command, now).await else {
        return Ok(PhoneReply::Unavailable);
    };
    let outcome = match applied.as_ref().map(|a| a.result) {
        Some(Ok(())) => Some(CheckOutcome::Matched),
        Some(Err(otp_core::Error::InvalidPin | otp_core::Error::OtpFailedLastAttempt)) => {
            Some(CheckOutcome::Mismatched)
        }
        // Missing code, or no pending verification to compare with: not a guess.
        _ => None,
    };
    let mut changed: Vec<OtpRecord> = applied
        .iter()
        .filter(|a| a.status_changed)
        .map(|a| a.record.clone())
        .collect();
    let Some(outcome) = outcome else {
        return Ok(PhoneReply::Checked {
            matched: None,
            changed,
        });
    };
    let effect = state.guard.record_check(ctx.settings, outcome, now);
    let blocked = matches!(effect, CheckEffect::Blocked { .. });
    if blocked {
        state.close(&entry.id);
    }
    // Stored before the cancel: the block holds whatever happens next.
    ctx.save(state).await?;
    if blocked {
        // A blocked number's code must not work after the block either.
        match otps.apply(app_id, &entry.id, Command::Cancel, now).await {
            Ok(Some(a)) if a.status_changed => changed.push(a.record),
            Ok(_) => {}
            Err(_) => worker::console_error!(
                "otp {}: the block could not cancel it (closed for checks by number)",
                entry.id
            ),
        }
    }
    let matched = match (outcome, applied) {
        (CheckOutcome::Matched, Some(a)) => Some(Matched {
            record: a.record,
            message_id: entry.message_id,
        }),
        _ => None,
    };
    Ok(PhoneReply::Checked { matched, changed })
}

/// The decision of a send: see the module docs.
async fn send(ctx: &Ctx<'_>, state: &mut PhoneState, planned: Entry) -> Result<PhoneReply> {
    let now = ctx.now;
    if let Err(e) = state
        .guard
        .check_allowed(now)
        .and_then(|()| state.in_flight(ctx.settings, now))
    {
        return Ok(PhoneReply::refused(e));
    }
    let pending = match state.current(now).cloned() {
        None => None,
        Some(entry) => match read_record(ctx, &entry.id).await {
            Some(record) => record.filter(|r| r.status_at(now) == OtpStatus::Pending),
            None => return Ok(PhoneReply::Unavailable),
        },
    };
    let plan = match state.guard.plan_send(ctx.settings, pending.is_some(), now) {
        Ok(plan) => plan,
        Err(e) => return Ok(PhoneReply::refused(e)),
    };
    let pending_id = pending.as_ref().map(|r| r.otp_id.as_str());
    let id = state.begin_send(ctx.settings, plan, pending_id, planned, now, ctx.retention);
    ctx.save(state).await?;
    Ok(PhoneReply::Sending {
        plan,
        id,
        at: now,
        pending,
    })
}

/// The authoritative record of verification `id`, from its own object (KV's copy
/// may lag): `Some(None)` when it is gone, `None` when the object could not be
/// reached. A `Verify` without a code is refused by the core before anything is
/// counted or written (`PinMissing`), so it reads the record in the object's
/// order of changes without changing it.
async fn read_record(ctx: &Ctx<'_>, id: &str) -> Option<Option<OtpRecord>> {
    let otps = ctx.otps()?;
    let read = Command::Verify { pin: None };
    let applied = otps
        .apply(&ctx.phone.app_id, id, read, ctx.now)
        .await
        .ok()?;
    Some(applied.map(|a| a.record))
}

/// Stores the state, sets the alarm that forgets it, and copies it to KV.
/// The numbers' objects, from the worker.
pub(crate) struct PhoneGuards {
    ns: ObjectNamespace,
}

/// A send decided by a number's object, to carry out.
#[derive(Debug)]
pub(crate) struct Reserved {
    pub(crate) plan: SendPlan,
    /// The verification whose code is sent (for `resend_same`, the pending one).
    pub(crate) id: String,
    /// When the send was recorded.
    pub(crate) at: UnixSeconds,
    /// The pending record (`resend_same` and `replace`).
    pub(crate) pending: Option<OtpRecord>,
}

/// What a check found.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) matched: Option<Matched>,
    /// Records whose status the check changed (their callbacks are due).
    pub(crate) changed: Vec<OtpRecord>,
}

impl PhoneGuards {
    /// Over the `PHONE_GUARD` binding.
    pub(crate) fn new(env: &worker::Env) -> DxResult<Self> {
        let ns = env.durable_object(BINDING).map_err(|_| {
            worker::console_error!("configuration: binding {BINDING} is missing");
            DxError::from(ApiError::misconfigured())
        })?;
        Ok(PhoneGuards { ns })
    }

    /// Runs `op` in `phone`'s object; refusals and an unreachable OTP object are errors.
    async fn call(
        &self,
        phone: &PhoneRef,
        settings: GuardSettings,
        retention: u32,
        now: UnixSeconds,
        op: PhoneOp,
    ) -> DxResult<PhoneReply> {
        let request = PhoneRequest {
            phone: phone.clone(),
            settings,
            retention,
            now,
            op,
        };
        let reply: PhoneReply = crate::durable::call(
            &self.ns,
            &phone.object_name(),
            "dexatel phone object",
            &request,
        )
        .await?;
        match reply {
            PhoneReply::Blocked { until } => Err(GuardError::Blocked { until }.into()),
            PhoneReply::Cooldown { until } => Err(GuardError::Cooldown { until }.into()),
            PhoneReply::Unavailable => Err(ApiError::storage_unavailable().into()),
            reply => Ok(reply),
        }
    }

    /// Checks `code` against the number's current verification; a blocked number
    /// is a 1530 error.
    pub(crate) async fn check(
        &self,
        phone: &PhoneRef,
        code: String,
        settings: GuardSettings,
        retention: u32,
        now: UnixSeconds,
    ) -> DxResult<Checked> {
        let op = PhoneOp::Check { code };
        match self.call(phone, settings, retention, now, op).await? {
            PhoneReply::Checked { matched, changed } => Ok(Checked { matched, changed }),
            _ => Err(ApiError::internal().into()),
        }
    }

    /// Decides a send and records it as in flight; a refusal is a 1530 or 1690
    /// error. `planned` is the entry of the planned new verification.
    pub(crate) async fn begin_send(
        &self,
        phone: &PhoneRef,
        planned: Entry,
        settings: GuardSettings,
        retention: u32,
        now: UnixSeconds,
    ) -> DxResult<Reserved> {
        let op = PhoneOp::Send { planned };
        match self.call(phone, settings, retention, now, op).await? {
            PhoneReply::Sending {
                plan,
                id,
                at,
                pending,
            } => Ok(Reserved {
                plan,
                id,
                at,
                pending,
            }),
            _ => Err(ApiError::internal().into()),
        }
    }

    /// Reports that the reserved send went out as `entry`.
    pub(crate) async fn confirm(
        &self,
        phone: &PhoneRef,
        reserved: &Reserved,
        entry: Entry,
        settings: GuardSettings,
        retention: u32,
        now: UnixSeconds,
    ) -> DxResult<()> {
        let op = PhoneOp::Confirm {
            id: reserved.id.clone(),
            at: reserved.at,
            entry,
        };
        self.call(phone, settings, retention, now, op)
            .await
            .map(|_| ())
    }

    /// Takes back the reserved send (its SMS could not be sent).
    pub(crate) async fn release(
        &self,
        phone: &PhoneRef,
        reserved: &Reserved,
        settings: GuardSettings,
        retention: u32,
        now: UnixSeconds,
    ) -> DxResult<()> {
        let op = PhoneOp::Release {
            id: reserved.id.clone(),
            at: reserved.at,
        };
        self.call(phone, settings, retention, now, op)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_as_externally_tagged_json() {
        let phone = PhoneRef {
            app_id: "app".into(),
            hash: "ab".repeat(32),
        };
        let request = PhoneRequest {
            phone,
            settings: GuardSettings::default(),
            retention: 60,
            now: 6,
            op: PhoneOp::Release {
                id: "id".into(),
                at: 5,
            },
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["op"]["release"]["at"], 5);
        assert_eq!(json["now"], 6);
        let back: PhoneRequest = serde_json::from_value(json).unwrap();
        assert!(matches!(back.op, PhoneOp::Release { at: 5, .. }));
        let reply = serde_json::to_value(PhoneReply::Cooldown { until: 9 }).unwrap();
        assert_eq!(reply, serde_json::json!({"cooldown": {"until": 9}}));
        let sending: PhoneReply = serde_json::from_value(serde_json::json!({
            "sending": {"plan": "replace", "id": "x", "at": 3, "pending": null}
        }))
        .unwrap();
        assert!(matches!(
            sending,
            PhoneReply::Sending {
                plan: SendPlan::Replace,
                ..
            }
        ));
    }
}
