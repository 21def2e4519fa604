//! The Durable Object that keeps what must be exact: a fixed set of long-lived
//! objects per application ([`SHARDS`](otp_core::id::SHARDS), named
//! `{appId}:{shard}`), each holding the OTP records and the per-number guard
//! state of the numbers whose keyed hash falls in it. An otpId names its shard
//! (its first hex digit, `otp_core::id::new_uuid_v4_in_shard`), so a check by id
//! and Dexatel's check by number each reach the right object in one call, and
//! a record and its number's guard change together, in one object, one request
//! at a time.
//!
//! # What the object runs
//!
//! Every operation reads, decides with the core's rules and writes, using this
//! object's storage only (no other I/O inside), so the object's input gate keeps
//! concurrent requests from interleaving: attempts are counted before the PIN is
//! compared, a right PIN is consumed once, and a burst of wrong guesses against
//! a number counts exactly `maxFailedChecks`. A verification created through the
//! Dexatel dialect is linked to its number: its wrong guesses count toward the
//! number's guard whichever path they come through, and the failure that blocks
//! the number cancels it.
//!
//! # Storage
//!
//! - `o:{otpId}`: a record ([`Stored`], with its SMS's delivery); `n:{hash}`: a
//!   number's [`NumberState`] and when it may go; `m:{provider}:{messageId}`: the
//!   otpId of a message whose receipts do not name the OTP (Dexatel's).
//! - `d:{unix seconds, 12 digits}:{kind}:{id}`: what is due when: the EXPIRED
//!   callback of a record (`e`), the removal of a record once its retention ends
//!   (`r`), the removal of a number's state once it no longer matters (`n`), of
//!   a message's index entry (`m`). The alarm is set to the first due item and
//!   handles everything due.
//!
//! # The KV copy
//!
//! `GET /otp/{id}` reads a record's copy in KV (`otp:{appId}:{otpId}`). The
//! object writes it after its reply when the record may be read: after every
//! change that follows the record's creation (a check, a cancel, a code replaced
//! or sent again), and when a status read found no copy and asked the object.
//! Creating a record writes none: most OTPs are checked and never read, and a
//! KV write costs ten reads. A status read of an OTP that was neither checked
//! nor read yet so takes the object call, once. The copy is written one write
//! at a time per record and always of the newest state, retried once a second
//! while KV refuses it (one write per second per key). A status read that finds
//! no copy of a record whose copy landed is not followed by another write: KV
//! keeps a "not found" in each location's cache for up to a minute, and a
//! client polling there must not cost a write per read. The object stays the
//! truth: a status read that finds no copy asks the object.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use otp_core::guard::{CheckEffect, CheckOutcome, GuardError, GuardSettings, SendPlan};
use otp_core::number::{Entry, NumberState};
use otp_core::otp::{Command, OtpRecord, OtpStatus};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, ListOptions, Request, Response, Result, State, Storage,
};

use super::outcomes;
use super::recent_records::{self, RecentRecords};
use super::records;
use crate::apps::AppStore;
use crate::config::{Config, OTP_KV};
use crate::durable::{rpc_entry, Answer};
use crate::fraud::GuardRef;
use crate::gateway::delivery::{self, Delivery, DeliveryReport, ReportOutcome};
use crate::insights::outbox::{self, Outbox};
use crate::insights::OtpFacts;
use crate::json::{storage_delete, storage_get, storage_put, storage_put_value};

/// Binding name of the namespace in wrangler.toml.
pub(crate) const BINDING: &str = "OTP_SHARD";

/// Most due items one alarm handles before it comes back.
const DUE_PAGE: usize = 256;
/// Attempts of one KV copy (one a second, KV's write rate per key).
const COPY_ATTEMPTS: u32 = 5;
/// Records whose landed copy an instance remembers (ids only).
const COPIED_CAPACITY: usize = 4096;

/// A request from the worker: what every operation needs, and the operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShardRequest {
    pub(crate) app_id: String,
    pub(crate) now: UnixSeconds,
    /// Seconds a finished record stays readable.
    pub(crate) retention: u32,
    /// The application's Dexatel guard settings.
    pub(crate) guard: GuardSettings,
    pub(crate) op: ShardOp,
}

/// An operation (externally tagged, like every enum between the worker and its
/// objects: serde reads an internally tagged enum through a second deserializer).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ShardOp {
    /// Keep a new record (`facts`: what the insights need of it, when they are on).
    Create {
        record: OtpRecord,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<OtpFacts>,
        /// Where the fraud guard counted its send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counted: Option<GuardRef>,
    },
    /// Run a command on a record (by id: the SMS.CX dialect).
    Apply { otp_id: String, command: Command },
    /// The record as it is now.
    Read { otp_id: String },
    /// Forget a record whose SMS could not be sent.
    Discard { otp_id: String },
    /// Check `code` against the number's current verification (Dexatel).
    CheckNumber { number: String, code: String },
    /// Decide a send to a number and record it as in flight: a new record
    /// (`record`, linked to the number), or with `resend_same` the pending record
    /// re-keyed to `pin`.
    BeginSend {
        number: String,
        record: OtpRecord,
        pin: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facts: Option<OtpFacts>,
    },
    /// The send of `id` recorded at `at` went out as message `message_id`
    /// (`delivery`: what is known of its delivery).
    Confirm {
        number: String,
        id: String,
        at: UnixSeconds,
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<Delivery>,
        /// Where the fraud guard counted the send (admitted after it began).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counted: Option<GuardRef>,
    },
    /// The send of `id` recorded at `at` could not be sent: take it back.
    Release {
        number: String,
        id: String,
        at: UnixSeconds,
    },
    /// The number's verifications, newest first, with their records.
    ListNumber { number: String },
    /// Keep this outbox entry: insights items decided outside the shard
    /// (refusals), rendered by the worker (`crate::insights::refused`).
    Insights { entry: String },
    /// Send the insights outbox to D1 now (development: tests and the dev sweep).
    FlushInsights,
    /// Delete everything this shard holds (the application was deleted): records,
    /// number states, due items and the alarm, after sending its insights outbox
    /// to D1 (the application's insights are kept).
    Purge,
    /// The SMS of `otp_id` was handed to a gateway: what is known of its
    /// delivery (written after the reply).
    Sent { otp_id: String, delivery: Delivery },
    /// A delivery receipt from `provider` for the SMS of `otp_id`.
    Receipt {
        otp_id: String,
        provider: String,
        report: DeliveryReport,
    },
    /// Keep `otp_id` as the OTP of message `key` until `until`
    /// ([`delivery::index_key`]).
    IndexMessage {
        key: String,
        otp_id: String,
        until: UnixSeconds,
    },
    /// The OTP of message `key`, if indexed.
    FindMessage { key: String },
}

/// A record and what links it to its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stored {
    pub(crate) record: OtpRecord,
    /// The number's hash when the record was created through the Dexatel
    /// dialect: its guesses count toward that number's guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) number: Option<String>,
    /// Where its SMS is (never part of the OTP object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delivery: Option<Delivery>,
    /// Where the fraud guard counted its send: its outcome is reported there
    /// ([`super::outcomes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) counted: Option<GuardRef>,
}

/// A number's state and when it may go.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredNumber {
    state: NumberState,
    /// The due time of its removal (`d:` item), if one is set.
    #[serde(default)]
    due: Option<UnixSeconds>,
}

/// The object's answer (externally tagged).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ShardReply {
    /// Done.
    Done,
    /// No such record.
    NotFound,
    /// The record.
    Record { record: OtpRecord },
    /// A command ran: the record after it, its outcome, and whether the status
    /// changed (a callback is due).
    Applied {
        record: OtpRecord,
        result: core::result::Result<(), otp_core::Error>,
        status_changed: bool,
    },
    /// A check by number ran: the matched record, if any, with its message id,
    /// and every record whose status changed.
    Checked {
        matched: Option<(OtpRecord, String)>,
        changed: Vec<OtpRecord>,
    },
    /// A send was decided: send the code of `record` (new, or the re-keyed
    /// pending one), then confirm or release `record.otp_id` with `at`.
    Sending {
        plan: SendPlan,
        at: UnixSeconds,
        record: OtpRecord,
    },
    /// The number is blocked until `until` (Dexatel).
    Blocked { until: UnixSeconds },
    /// A send to the number must wait until `until` (Dexatel).
    Cooldown { until: UnixSeconds },
    /// The number's verifications, newest first: each record with the id of
    /// the SMS that carried its code.
    Listed { items: Vec<(OtpRecord, String)> },
    /// A receipt was applied: what it did, and the delivery after it.
    Receipt {
        outcome: ReportOutcome,
        delivery: Option<Delivery>,
    },
    /// The OTP of an indexed message, if any.
    Found { otp_id: Option<String> },
}

impl ShardReply {
    fn refused(e: GuardError) -> Result<Self> {
        match e {
            GuardError::Blocked { until } => Ok(ShardReply::Blocked { until }),
            GuardError::Cooldown { until } => Ok(ShardReply::Cooldown { until }),
            other => Err(worker::Error::RustError(other.to_string())),
        }
    }
}

/// What a verification's outcome is for the guard: a right or a wrong guess, or
/// no guess at all (no PIN, or nothing pending to compare with).
fn guess(result: core::result::Result<(), otp_core::Error>) -> Option<CheckOutcome> {
    match result {
        Ok(()) => Some(CheckOutcome::Matched),
        Err(otp_core::Error::InvalidPin | otp_core::Error::OtpFailedLastAttempt) => {
            Some(CheckOutcome::Mismatched)
        }
        Err(_) => None,
    }
}

fn record_key(otp_id: &str) -> String {
    format!("o:{otp_id}")
}

fn number_key(hash: &str) -> String {
    format!("n:{hash}")
}

fn message_key(key: &str) -> String {
    format!("m:{key}")
}

/// The storage key of an item due at `at`.
fn due_key(at: UnixSeconds, kind: char, id: &str) -> String {
    format!("d:{:012}:{kind}:{id}", at.max(0))
}

/// The time, kind and id of a due key.
fn parse_due(key: &str) -> Option<(UnixSeconds, char, &str)> {
    let mut parts = key.strip_prefix("d:")?.splitn(3, ':');
    let at = parts.next()?.parse().ok()?;
    let kind = parts.next()?.chars().next()?;
    Some((at, kind, parts.next()?))
}

/// One shard of one application's records and numbers.
#[durable_object(alarm)]
pub struct OtpShard {
    state: State,
    env: Env,
    /// The alarm time this instance knows of (ms), `None` until read.
    alarm_at: Cell<Option<Option<i64>>>,
    /// The application of this shard (stored on first use, for the alarm).
    app_id: RefCell<Option<String>>,
    /// The configuration (see [`OtpShard::config`]).
    config: OnceCell<Rc<Config>>,
    /// Records whose KV copy is being written, and those changed meanwhile.
    copying: Rc<RefCell<HashSet<String>>>,
    dirty: Rc<RefCell<HashSet<String>>>,
    /// Records whose copy in KV holds their newest state, as far as this instance
    /// knows: a status read that finds no copy of one of them met a stale "not
    /// found" in KV's cache, and writing again would change nothing.
    copied: Rc<RefCell<RecentRecords<()>>>,
    /// The insights items waiting for D1 ([`crate::insights::outbox`]).
    insights: Outbox,
    /// The guard's outcome reports waiting to be sent ([`outcomes`]).
    outcomes: outcomes::Sender,
    /// The records this instance wrote last, as written: a check soon after its
    /// send, and its outcome report, read them without a storage call. Every
    /// write and removal of a record goes through [`OtpShard::save`] or
    /// [`OtpShard::delete_record`].
    recent: RefCell<RecentRecords<Stored>>,
}

rpc_entry!(OtpShard);

impl DurableObject for OtpShard {
    fn new(state: State, env: Env) -> Self {
        OtpShard {
            insights: Outbox::new(&state, &env),
            state,
            env,
            alarm_at: Cell::new(None),
            app_id: RefCell::new(None),
            config: OnceCell::new(),
            copying: Rc::default(),
            dirty: Rc::default(),
            copied: Rc::new(RefCell::new(RecentRecords::new(COPIED_CAPACITY))),
            outcomes: outcomes::Sender::default(),
            recent: RefCell::new(RecentRecords::new(recent_records::CAPACITY)),
        }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        crate::durable::not_fetched()
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
        if let Err(e) = self.insights.flush(&storage, &self.env).await {
            worker::console_warn!("insights: flush failed, retried in a minute: {e}");
        }
        let end = due_key(now + 1, '0', "");
        let page = storage
            .list_with_options(ListOptions::new().start("d:").end(&end).limit(DUE_PAGE))
            .await?;
        let mut done = Vec::new();
        let mut expired = Vec::new();
        for key in page.keys() {
            let Some(key) = key?.as_string() else {
                continue;
            };
            match parse_due(&key) {
                Some((_, 'e', id)) => {
                    if let Some(s) = storage_get::<Stored>(&storage, &record_key(id))? {
                        if s.record.status_at(now) == OtpStatus::Expired {
                            outcomes::keep(&storage, &self.config()?.hash_key, &s, now)?;
                            if s.record.otp_callback_url.is_some() {
                                expired.push(s.record);
                            }
                        }
                    }
                }
                Some((_, 'r', id)) => {
                    self.delete_record(id)?;
                }
                Some((at, 'n', hash)) => {
                    let key = number_key(hash);
                    let stored = storage_get::<StoredNumber>(&storage, &key)?;
                    if stored.is_some_and(|n| n.due == Some(at)) {
                        storage_delete(&storage, &key)?;
                    }
                }
                Some((_, 'm', key)) => {
                    storage_delete(&storage, &message_key(key))?;
                }
                _ => {}
            }
            done.push(key);
        }
        let more = done.len() == DUE_PAGE;
        if !done.is_empty() {
            storage.delete_multiple(done).await?;
        }
        self.alarm_at.set(Some(None));
        if more {
            self.schedule(now).await?;
        } else if let Some(next) = self.first_due().await? {
            self.schedule(next).await?;
        }
        if self.insights.pending(&storage).await? {
            self.schedule(now + outbox::RETRY_SECONDS).await?;
        }
        if let Err(e) = outcomes::send(&storage, &self.env, now).await {
            worker::console_warn!("fraud guard: outcome reports not sent, retried: {e}");
        }
        if outcomes::pending(&storage).await? {
            self.schedule(now + outcomes::RETRY_SECONDS).await?;
        }
        self.expired_callbacks(expired, now).await;
        Response::ok("done")
    }
}

impl OtpShard {
    /// One request of [`crate::durable::call`].
    async fn call(&self, request: String) -> Result<Answer> {
        let request: ShardRequest = crate::durable::read_request(&request)?;
        self.remember_app(&request.app_id)?;
        let mut changed = Vec::new();
        let reply = self.handle(&request, &mut changed).await?;
        let known = known_records(&request, &reply);
        self.record_insights(&request, &reply, &known, &changed)
            .await?;
        self.keep_outcomes(&changed, request.now).await?;
        let copies = self.kv_copies(&request, &reply, changed);
        let count = copies.len();
        for otp_id in copies {
            let record = known
                .iter()
                .find(|r| r.otp_id == otp_id)
                .map(|r| (*r).clone());
            self.copy_to_kv(&request.app_id, otp_id, record, request.retention);
        }
        Ok(Answer::json(&reply)?.with_after_kv_writes(count))
    }

    /// The records of `changed` whose KV copy the operation writes (see "The KV
    /// copy" above): none that it created or that it removed before their id was
    /// ever given out, none whose OTP object a confirmation left as it was (it
    /// adds the SMS's delivery); and the record that a status read asked for.
    fn kv_copies(
        &self,
        request: &ShardRequest,
        reply: &ShardReply,
        changed: Vec<String>,
    ) -> Vec<String> {
        match (&request.op, reply) {
            (ShardOp::Read { otp_id }, ShardReply::Record { .. }) => {
                let landed_or_under_way = self.copied.borrow().get(otp_id).is_some()
                    || self.copying.borrow().contains(otp_id);
                if landed_or_under_way {
                    Vec::new()
                } else {
                    vec![otp_id.clone()]
                }
            }
            (ShardOp::Create { .. } | ShardOp::Discard { .. } | ShardOp::Confirm { .. }, _) => {
                Vec::new()
            }
            // The new record is not copied; a replaced or re-keyed pending one is.
            (ShardOp::BeginSend { record, .. }, _) => changed
                .into_iter()
                .filter(|id| *id != record.otp_id)
                .collect(),
            // A new record taken back is gone before its id was given out; a
            // pending one gets its code back.
            (ShardOp::Release { .. }, _) => changed
                .into_iter()
                .filter(|id| matches!(self.load(id), Ok(Some(_))))
                .collect(),
            _ => changed,
        }
    }

    /// Runs one operation; `changed` collects the records it changed or removed.
    async fn handle(
        &self,
        request: &ShardRequest,
        changed: &mut Vec<String>,
    ) -> Result<ShardReply> {
        let now = request.now;
        match &request.op {
            ShardOp::Create {
                record, counted, ..
            } => {
                let stored = Stored {
                    record: record.clone(),
                    number: None,
                    delivery: None,
                    counted: counted.clone(),
                };
                self.create(&stored, request.retention).await?;
                changed.push(record.otp_id.clone());
                Ok(ShardReply::Done)
            }
            ShardOp::Read { otp_id } => Ok(match self.load(otp_id)? {
                Some(s) => ShardReply::Record { record: s.record },
                None => ShardReply::NotFound,
            }),
            ShardOp::Discard { otp_id } => {
                self.delete_record(otp_id)?;
                changed.push(otp_id.clone());
                Ok(ShardReply::Done)
            }
            ShardOp::Apply { otp_id, command } => {
                let Some(mut stored) = self.load(otp_id)? else {
                    return Ok(ShardReply::NotFound);
                };
                let before = stored.record.status;
                let v = stored.record.apply(command, self.keys()?, now);
                if let (Some(hash), Command::Verify { .. }) = (stored.number.clone(), command) {
                    if let Some(outcome) = guess(v.result) {
                        self.count_check(request, &hash, &mut stored, outcome)
                            .await?;
                    }
                }
                let status_changed = stored.record.status != before;
                if v.record_changed || status_changed {
                    self.save(&stored)?;
                    changed.push(otp_id.clone());
                }
                Ok(ShardReply::Applied {
                    record: stored.record,
                    result: v.result,
                    status_changed,
                })
            }
            ShardOp::CheckNumber { number, code } => {
                self.check_number(request, number, code, changed).await
            }
            ShardOp::BeginSend {
                number,
                record,
                pin,
                ..
            } => self.begin_send(request, number, record, pin, changed).await,
            ShardOp::Confirm {
                number,
                id,
                at,
                message_id,
                delivery: sent,
                counted,
            } => {
                let mut n = self.load_number(number)?;
                let expires_at = match self.load(id)? {
                    Some(mut s) => {
                        if let Some(sent) = sent {
                            s.delivery =
                                Some(Delivery::merge_sent(s.delivery.take(), sent.clone()));
                        }
                        if counted.is_some() {
                            s.counted = counted.clone();
                            if s.record.otp_callback_url.is_none() {
                                // Its expiry now matters to the guard's report.
                                self.set_due(s.record.expires_at, 'e', id).await?;
                            }
                        }
                        if sent.is_some() || counted.is_some() {
                            self.save(&s)?;
                            // Ended before its confirmation came: report it now.
                            changed.push(id.clone());
                        }
                        s.record.expires_at
                    }
                    None => return Ok(ShardReply::Done),
                };
                let entry = Entry::new(id.clone(), message_id.clone(), expires_at);
                n.state.confirm(id, *at, entry, now, request.retention);
                self.save_number(request, number, &mut n).await?;
                Ok(ShardReply::Done)
            }
            ShardOp::Release { number, id, at } => {
                let mut n = self.load_number(number)?;
                if let Some(sending) = n.state.release(id, *at) {
                    changed.push(id.clone());
                    if sending.new_entry {
                        self.delete_record(id)?;
                    } else if let (Some(digest), Some(mut s)) =
                        (sending.previous_pin_digest, self.load(id)?)
                    {
                        // Put back the code of the pending record: the new one never went out.
                        if s.record.rekey(digest, now).is_ok() {
                            self.save(&s)?;
                        }
                    }
                    self.save_number(request, number, &mut n).await?;
                }
                Ok(ShardReply::Done)
            }
            ShardOp::ListNumber { number } => {
                let n = self.load_number(number)?;
                let mut items = Vec::with_capacity(n.state.verifications.len());
                for entry in n.state.verifications {
                    if let Some(s) = self.load(&entry.id)? {
                        items.push((s.record, entry.message_id));
                    }
                }
                Ok(ShardReply::Listed { items })
            }
            // Recorded by `record_insights`, after this.
            ShardOp::Insights { .. } | ShardOp::FlushInsights => Ok(ShardReply::Done),
            ShardOp::Purge => {
                let storage = self.state.storage();
                // The application's insights stay in D1: what its shards still
                // hold for it goes first (deleting it must not wait on D1).
                if self.insights.is_on() {
                    if let Err(e) = self.insights.flush(&storage, &self.env).await {
                        worker::console_warn!("insights: not flushed before a purge: {e}");
                    }
                }
                storage.delete_alarm().await?;
                storage.delete_all().await?;
                self.recent.borrow_mut().clear();
                self.alarm_at.set(Some(None));
                *self.app_id.borrow_mut() = None;
                Ok(ShardReply::Done)
            }
            ShardOp::Sent { otp_id, delivery } => {
                if let Some(mut s) = self.load(otp_id)? {
                    s.delivery = Some(Delivery::merge_sent(s.delivery.take(), delivery.clone()));
                    self.save(&s)?;
                }
                Ok(ShardReply::Done)
            }
            ShardOp::Receipt {
                otp_id,
                provider,
                report,
            } => {
                let Some(mut s) = self.load(otp_id)? else {
                    return Ok(ShardReply::NotFound);
                };
                let before = s.delivery.clone();
                let outcome = delivery::receive(&mut s.delivery, provider, report, now);
                if s.delivery != before {
                    self.save(&s)?;
                }
                Ok(ShardReply::Receipt {
                    outcome,
                    delivery: s.delivery,
                })
            }
            ShardOp::IndexMessage { key, otp_id, until } => {
                let storage = self.state.storage();
                storage_put(&storage, &message_key(key), otp_id)?;
                self.set_due(*until, 'm', key).await?;
                Ok(ShardReply::Done)
            }
            ShardOp::FindMessage { key } => Ok(ShardReply::Found {
                otp_id: storage_get(&self.state.storage(), &message_key(key))?,
            }),
        }
    }

    /// Stores what the operation recorded for the insights with its change (before
    /// the reply) and flushes it to D1 after the reply; see [`crate::insights`].
    async fn record_insights(
        &self,
        request: &ShardRequest,
        reply: &ShardReply,
        known: &[&OtpRecord],
        changed: &[String],
    ) -> Result<()> {
        if !self.insights.is_on() {
            return Ok(());
        }
        let storage = self.state.storage();
        match &request.op {
            ShardOp::FlushInsights => return self.insights.flush(&storage, &self.env).await,
            // Rendered by the worker: stored as it is.
            ShardOp::Insights { entry } => self.insights.write_rendered(&storage, entry)?,
            _ => {
                let mut records: Vec<(String, Option<OtpRecord>)> =
                    Vec::with_capacity(changed.len());
                for id in changed {
                    if records.iter().any(|(seen, _)| seen == id) {
                        continue;
                    }
                    let record = match known.iter().find(|r| &r.otp_id == id) {
                        Some(r) => Some((*r).clone()),
                        None => self.load(id)?.map(|s| s.record),
                    };
                    records.push((id.clone(), record));
                }
                let items = outbox::derive(request, reply, &records);
                if items.is_empty() {
                    return Ok(());
                }
                self.insights.write(&storage, &items)?;
            }
        }
        let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
        self.schedule(now + outbox::RETRY_SECONDS).await?;
        self.insights.flush_soon(storage, self.env.clone());
        Ok(())
    }

    /// Counts one check of a linked record toward its number's guard; the
    /// failure that blocks the number cancels the record.
    async fn count_check(
        &self,
        request: &ShardRequest,
        hash: &str,
        stored: &mut Stored,
        outcome: CheckOutcome,
    ) -> Result<()> {
        let mut n = self.load_number(hash)?;
        let effect = n
            .state
            .guard
            .record_check(&request.guard, outcome, request.now);
        if matches!(effect, CheckEffect::Blocked { .. }) {
            n.state.close(&stored.record.otp_id);
            // A blocked number's code must not work after the block either.
            let _ = stored.record.cancel(request.now);
        }
        self.save_number(request, hash, &mut n).await
    }

    /// Dexatel's check: see the module docs of `api::dexatel::verifications`.
    async fn check_number(
        &self,
        request: &ShardRequest,
        number: &str,
        code: &str,
        changed: &mut Vec<String>,
    ) -> Result<ShardReply> {
        let now = request.now;
        let n = self.load_number(number)?;
        if let Err(e) = n.state.guard.check_allowed(now) {
            return ShardReply::refused(e);
        }
        let none = ShardReply::Checked {
            matched: None,
            changed: Vec::new(),
        };
        let Some(entry) = n.state.current(now).cloned() else {
            return Ok(none);
        };
        let Some(mut stored) = self.load(&entry.id)? else {
            return Ok(none);
        };
        let before = stored.record.status;
        let v = stored.record.apply(
            &Command::Verify {
                pin: Some(code.to_owned()),
            },
            self.keys()?,
            now,
        );
        // Not a guess when nothing pending was compared.
        let Some(outcome) = guess(v.result) else {
            return Ok(none);
        };
        self.count_check(request, number, &mut stored, outcome)
            .await?;
        self.save(&stored)?;
        let status_changed = stored.record.status != before;
        changed.push(stored.record.otp_id.clone());
        let matched =
            (outcome == CheckOutcome::Matched).then(|| (stored.record.clone(), entry.message_id));
        Ok(ShardReply::Checked {
            matched,
            changed: if status_changed {
                vec![stored.record]
            } else {
                Vec::new()
            },
        })
    }

    /// Dexatel's send decision: see [`ShardOp::BeginSend`].
    async fn begin_send(
        &self,
        request: &ShardRequest,
        number: &str,
        planned: &OtpRecord,
        pin: &str,
        changed: &mut Vec<String>,
    ) -> Result<ShardReply> {
        let now = request.now;
        let mut n = self.load_number(number)?;
        if let Err(e) = n
            .state
            .guard
            .check_allowed(now)
            .and_then(|()| n.state.in_flight(&request.guard, now))
        {
            return ShardReply::refused(e);
        }
        let mut pending = match n.state.current(now) {
            Some(entry) => self
                .load(&entry.id)?
                .filter(|s| s.record.status_at(now) == OtpStatus::Pending),
            None => None,
        };
        let plan = match n
            .state
            .guard
            .plan_send(&request.guard, pending.is_some(), now)
        {
            Ok(plan) => plan,
            Err(e) => return ShardReply::refused(e),
        };
        let entry = Entry::new(planned.otp_id.clone(), String::new(), planned.expires_at);
        let pending_id = pending.as_ref().map(|s| s.record.otp_id.clone());
        let id = n.state.begin_send(
            &request.guard,
            plan,
            pending_id.as_deref(),
            entry,
            now,
            request.retention,
        );
        let sent = match (plan, pending.as_mut()) {
            (SendPlan::ResendSame, Some(s)) => {
                let old = s.record.pin_digest.clone();
                let digest = self.keys()?.pin_digest(&s.record.otp_id, pin);
                if s.record.rekey(digest, now).is_err() {
                    return Err(worker::Error::RustError(
                        "pending record not re-keyable".into(),
                    ));
                }
                if let Some(sending) = n.state.sending.as_mut() {
                    sending.previous_pin_digest = Some(old);
                }
                self.save(s)?;
                s.clone()
            }
            (plan, pending) => {
                let stored = Stored {
                    record: planned.clone(),
                    number: Some(number.to_owned()),
                    delivery: None,
                    counted: None,
                };
                self.create(&stored, request.retention).await?;
                if let (SendPlan::Replace, Some(old)) = (plan, pending) {
                    // The new code replaces the old one, which must not work any more.
                    if old.record.cancel(now).is_ok() {
                        self.save(old)?;
                        changed.push(old.record.otp_id.clone());
                    }
                }
                stored
            }
        };
        debug_assert_eq!(sent.record.otp_id, id);
        self.save_number(request, number, &mut n).await?;
        changed.push(sent.record.otp_id.clone());
        Ok(ShardReply::Sending {
            plan,
            at: now,
            record: sent.record,
        })
    }

    fn remember_app(&self, app_id: &str) -> Result<()> {
        if self.app_id.borrow().as_deref() == Some(app_id) {
            return Ok(());
        }
        let storage = self.state.storage();
        if storage_get::<String>(&storage, "app")?.as_deref() != Some(app_id) {
            storage_put(&storage, "app", &app_id)?;
        }
        *self.app_id.borrow_mut() = Some(app_id.to_owned());
        Ok(())
    }

    /// The configuration (PIN keys, hash key), read once per object instance.
    fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let config = Config::from_env(&self.env)
            .map_err(|_| worker::Error::RustError("secrets missing".into()))?;
        Ok(self.config.get_or_init(|| config))
    }

    /// The PIN keys.
    fn keys(&self) -> Result<&otp_core::secret::SecretKeys> {
        Ok(&self.config()?.pin_keys)
    }

    /// Keeps the guard's outcome reports of the records that `changed` ended, and
    /// sends them soon after the reply ([`super::outcomes`]).
    async fn keep_outcomes(&self, changed: &[String], now: UnixSeconds) -> Result<()> {
        let storage = self.state.storage();
        let mut kept = false;
        for id in changed {
            if let Some(stored) = self.load(id)? {
                kept |= outcomes::keep(&storage, &self.config()?.hash_key, &stored, now)?;
            }
        }
        if kept {
            self.schedule(now + outcomes::RETRY_SECONDS).await?;
            self.outcomes.soon(storage, self.env.clone(), now);
        }
        Ok(())
    }

    fn load(&self, otp_id: &str) -> Result<Option<Stored>> {
        if let Some(stored) = self.recent.borrow().get(otp_id) {
            return Ok(Some(stored));
        }
        storage_get(&self.state.storage(), &record_key(otp_id))
    }

    fn save(&self, stored: &Stored) -> Result<()> {
        let otp_id = &stored.record.otp_id;
        let written = storage_put(&self.state.storage(), &record_key(otp_id), stored);
        let mut recent = self.recent.borrow_mut();
        match written {
            Ok(()) => recent.saved(otp_id, stored.clone()),
            // What storage holds now is unknown here: it decides.
            Err(_) => recent.removed(otp_id),
        }
        written
    }

    fn delete_record(&self, otp_id: &str) -> Result<()> {
        self.recent.borrow_mut().removed(otp_id);
        storage_delete(&self.state.storage(), &record_key(otp_id))?;
        Ok(())
    }

    /// Stores a new record with its due items: the EXPIRED callback (if it has a
    /// callback URL) and its removal when retention ends.
    async fn create(&self, stored: &Stored, retention: u32) -> Result<()> {
        let record = &stored.record;
        self.save(stored)?;
        // Its expiry matters to a callback and to the guard's outcome report.
        if record.otp_callback_url.is_some() || stored.counted.is_some() {
            self.set_due(record.expires_at, 'e', &record.otp_id).await?;
        }
        let gone = record.expires_at.saturating_add(i64::from(retention));
        self.set_due(gone, 'r', &record.otp_id).await
    }

    /// Keeps item `id` of `kind` due at `at` (a `d:` key) and makes sure the alarm
    /// rings by then.
    async fn set_due(&self, at: UnixSeconds, kind: char, id: &str) -> Result<()> {
        storage_put_value(&self.state.storage(), &due_key(at, kind, id), &0.into())?;
        self.schedule(at).await
    }

    fn load_number(&self, hash: &str) -> Result<StoredNumber> {
        Ok(storage_get(&self.state.storage(), &number_key(hash))?.unwrap_or_default())
    }

    /// Stores a number's state and moves its removal to when it stops mattering.
    async fn save_number(
        &self,
        request: &ShardRequest,
        hash: &str,
        n: &mut StoredNumber,
    ) -> Result<()> {
        let storage = self.state.storage();
        let ttl = n
            .state
            .storage_ttl(&request.guard, request.now, request.retention);
        let due = request.now.saturating_add(ttl as i64);
        if n.due != Some(due) {
            if let Some(old) = n.due {
                storage_delete(&storage, &due_key(old, 'n', hash))?;
            }
            self.set_due(due, 'n', hash).await?;
            n.due = Some(due);
        }
        storage_put(&storage, &number_key(hash), n)
    }

    /// The time of the first due item, if any.
    async fn first_due(&self) -> Result<Option<UnixSeconds>> {
        let page = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix("d:").limit(1))
            .await?;
        Ok(page
            .keys()
            .into_iter()
            .filter_map(|k| k.ok()?.as_string())
            .find_map(|k| parse_due(&k).map(|(at, _, _)| at)))
    }

    /// Makes sure the alarm rings by `at` (Unix seconds).
    async fn schedule(&self, at: UnixSeconds) -> Result<()> {
        let storage = self.state.storage();
        let current = match self.alarm_at.get() {
            Some(known) => known,
            None => storage.get_alarm().await?,
        };
        let ms = at.saturating_mul(1000);
        if current.is_some_and(|c| c <= ms) {
            self.alarm_at.set(Some(current));
            return Ok(());
        }
        // A date, not an `i64`: workers-rs reads an `i64` as an offset from now.
        let date = worker::js_sys::Date::new(&(ms as f64).into());
        storage.set_alarm(worker::ScheduledTime::new(date)).await?;
        self.alarm_at.set(Some(Some(ms)));
        Ok(())
    }

    /// Copies record `otp_id` to KV after the reply: one write at a time per
    /// record, always of its newest stored state (see the module docs). `known`:
    /// that state, when the operation's request or reply holds it.
    fn copy_to_kv(&self, app_id: &str, otp_id: String, known: Option<OtpRecord>, retention: u32) {
        self.copied.borrow_mut().removed(&otp_id);
        if !self.copying.borrow_mut().insert(otp_id.clone()) {
            self.dirty.borrow_mut().insert(otp_id);
            return;
        }
        let (storage, env) = (self.state.storage(), self.env.clone());
        let (copying, dirty) = (Rc::clone(&self.copying), Rc::clone(&self.dirty));
        let copied = Rc::clone(&self.copied);
        let app_id = app_id.to_owned();
        // The object lives on after its reply while this runs.
        worker::wasm_bindgen_futures::spawn_local(async move {
            let mut known = known;
            loop {
                dirty.borrow_mut().remove(&otp_id);
                let landed =
                    copy_once(&storage, &env, &app_id, &otp_id, known.take(), retention).await;
                if !dirty.borrow().contains(&otp_id) {
                    if landed {
                        copied.borrow_mut().saved(&otp_id, ());
                    }
                    break;
                }
            }
            copying.borrow_mut().remove(&otp_id);
        });
    }

    /// Sends the EXPIRED callbacks of `records` with the app's current webhook secret.
    async fn expired_callbacks(&self, records: Vec<OtpRecord>, now: UnixSeconds) {
        if records.is_empty() {
            return;
        }
        let app_id = match storage_get::<String>(&self.state.storage(), "app") {
            Ok(Some(id)) => id,
            _ => return,
        };
        let Ok(kv) = self.env.kv(OTP_KV) else {
            return;
        };
        let Ok(Some(app)) = AppStore::new(kv).get(&app_id).await else {
            return;
        };
        for record in records {
            if let Some(url) = record.otp_callback_url.clone() {
                let source = crate::callback::Source {
                    app_id: &app_id,
                    kind: crate::webhook_log::Kind::Expired,
                };
                crate::callback::deliver_status_callback(
                    &self.env,
                    source,
                    url,
                    app.webhook_secret.clone(),
                    &record.view(now, None),
                )
                .await;
            }
        }
    }
}

/// The records an operation's request or reply already holds as stored after it
/// (the others it changed are read back from storage).
fn known_records<'a>(request: &'a ShardRequest, reply: &'a ShardReply) -> Vec<&'a OtpRecord> {
    match (&request.op, reply) {
        (ShardOp::Create { record, .. }, ShardReply::Done) => vec![record],
        (_, ShardReply::Applied { record, .. })
        | (_, ShardReply::Sending { record, .. })
        | (_, ShardReply::Record { record }) => vec![record],
        (_, ShardReply::Checked { matched, changed }) => matched
            .iter()
            .map(|(record, _)| record)
            .chain(changed)
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes the newest stored state of a record to KV (`known`, or read from
/// storage), retrying once a second; whether a record's copy landed.
async fn copy_once(
    storage: &Storage,
    env: &Env,
    app_id: &str,
    otp_id: &str,
    mut known: Option<OtpRecord>,
    retention: u32,
) -> bool {
    for attempt in 1..=COPY_ATTEMPTS {
        let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
        let result = async {
            let kv = env.kv(OTP_KV)?;
            let record = match known.take() {
                Some(record) => Some(record),
                None => storage_get::<Stored>(storage, &record_key(otp_id))?.map(|s| s.record),
            };
            let written = match record {
                Some(record) => records::put_copy(&kv, app_id, &record, now, retention)
                    .await
                    .map(|()| true),
                None => kv
                    .delete(&records::copy_key(app_id, otp_id))
                    .await
                    .map(|()| false),
            };
            written.map_err(|e| worker::Error::RustError(e.to_string()))
        }
        .await;
        match result {
            Ok(written) => return written,
            Err(e) if attempt == COPY_ATTEMPTS => {
                worker::console_warn!("otp {otp_id}: KV copy not updated: {e}");
            }
            Err(_) => worker::Delay::from(Duration::from_millis(1_000)).await,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_and_parse_back() {
        let a = due_key(1_700_000_000, 'e', "abc");
        let b = due_key(1_700_000_100, 'r', "abc");
        assert!(a < b);
        assert_eq!(a, "d:001700000000:e:abc");
        assert_eq!(parse_due(&b), Some((1_700_000_100, 'r', "abc")));
        assert!(due_key(99, 'n', "h") < due_key(100, '0', ""));
        assert_eq!(parse_due("o:x"), None);
    }

    #[test]
    fn requests_round_trip_as_externally_tagged_json() {
        let request = ShardRequest {
            app_id: "app".into(),
            now: 6,
            retention: 60,
            guard: GuardSettings::default(),
            op: ShardOp::Release {
                number: "ab".into(),
                id: "id".into(),
                at: 5,
            },
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["op"]["release"]["at"], 5);
        let back: ShardRequest = serde_json::from_value(json).unwrap();
        assert!(matches!(back.op, ShardOp::Release { at: 5, .. }));
        let reply = serde_json::to_value(ShardReply::Cooldown { until: 9 }).unwrap();
        assert_eq!(reply, serde_json::json!({"cooldown": {"until": 9}}));
        let applied: ShardReply = serde_json::from_str(
            &serde_json::to_string(&ShardReply::Applied {
                record: sample(),
                result: Err(otp_core::Error::InvalidPin),
                status_changed: false,
            })
            .unwrap(),
        )
        .unwrap();
        assert!(matches!(
            applied,
            ShardReply::Applied {
                result: Err(otp_core::Error::InvalidPin),
                ..
            }
        ));
    }

    fn sample() -> OtpRecord {
        OtpRecord {
            otp_id: "123e4567-e89b-42d3-a456-426614174000".into(),
            track_id: None,
            phone_masked: "+33******4111".into(),
            country_iso: "FR".into(),
            status: OtpStatus::Pending,
            cost: 0.0,
            parts: 1,
            max_attempts: 3,
            attempts: 0,
            ttl: 300,
            otp_callback_url: None,
            created_at: 0,
            expires_at: 300,
            updated_at: 0,
            pin_digest: "00".repeat(32),
        }
    }
}
