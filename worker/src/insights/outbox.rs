//! The shard's side of the insights: what an operation records ([`derive`]), the
//! outbox that keeps it durably with the change ([`Outbox::write`]), and its
//! flush to D1 after the reply and from the alarm ([`Outbox::flush`]).
//!
//! # Storage (in the shard's own storage)
//!
//! - `x:{sequence, 12 digits}`: the items of one operation, rendered as the rows
//!   of the flush's statements ([`sql::render`]: five lines of JSON objects), or
//!   an entry the worker rendered ([`Outbox::write_rendered`]: refusals);
//! - `x#`: the first sequence number no instance has taken, as JSON text. An
//!   instance reserves [`RESERVED`] numbers at a time (written with the entry that
//!   takes the first of them), so a number is never used twice, even by an
//!   instance that was evicted: it names events in D1.
//!
//! The flush reads the application's id from the shard's `app` key.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use otp_core::otp::{Command, OtpRecord, OtpStatus};
use worker::wasm_bindgen::JsValue;
use worker::{Env, ListOptions, Result, State, Storage};

use super::sql;
use super::{database, Item, OtpRow};
use crate::gateway::delivery::{DeliveryStatus, ReportOutcome};
use crate::json::{storage_get, storage_put, storage_put_value};
use crate::service::shard::{ShardOp, ShardReply, ShardRequest};
use crate::soon::Soon;

const PREFIX: &str = "x:";
const SEQUENCE: &str = "x#";
/// Operations' entries sent to D1 in one batch; a shard with this many waiting
/// flushes at once.
const BATCH_ENTRIES: usize = 128;
/// How long the flush after a reply waits, so that the writes of a busy shard go
/// to D1 together (one batch per shard every few seconds at most): D1 calls, not
/// rows, are what a flush costs most.
const FLUSH_DELAY: Duration = Duration::from_millis(5_000);
/// Sequence numbers reserved per write of `x#`.
const RESERVED: u64 = 1_024;
/// How often a waiting flush looks whether a batch is full.
const FLUSH_STEP: Duration = Duration::from_millis(500);
/// The alarm comes back this many seconds after a write (or a failed flush): what
/// an interrupted flush left is sent then.
pub(crate) const RETRY_SECONDS: i64 = 60;

/// What `request` recorded, from its reply and the records it changed (each with
/// its state after the operation, `None` when it was removed).
pub(crate) fn derive(
    request: &ShardRequest,
    reply: &ShardReply,
    records: &[(String, Option<OtpRecord>)],
) -> Vec<Item> {
    let now = request.now;
    let mut items = Vec::new();
    // The SMS this operation is about to send, and what the shard cannot know of it.
    let (sent, facts) = match (&request.op, reply) {
        (ShardOp::Create { record, facts, .. }, ShardReply::Done) => (Some(record), facts.as_ref()),
        (ShardOp::BeginSend { facts, .. }, ShardReply::Sending { record, .. }) => {
            (Some(record), facts.as_ref())
        }
        _ => (None, None),
    };
    for (id, record) in records {
        items.push(match record {
            Some(r) => {
                let facts = sent.filter(|s| &s.otp_id == id).and(facts.cloned());
                Item::Otp(OtpRow::of(r, now, facts))
            }
            None => Item::Gone {
                otp_id: id.clone(),
                at: now,
            },
        });
    }
    if let Some(r) = sent {
        // A create, or a send to a number that made a new record (not a resend).
        let first = match &request.op {
            ShardOp::BeginSend { record, .. } => record.otp_id == r.otp_id,
            _ => true,
        };
        items.push(Item::Send {
            otp_id: r.otp_id.clone(),
            at: now,
            parts: r.parts,
            cost: r.cost,
            gateway: facts.map(|f| f.gateway.clone()),
            first,
        });
    }
    let changed = |otp_id: &str| records.iter().any(|(id, _)| id == otp_id);
    match (&request.op, reply) {
        (ShardOp::Discard { otp_id }, _) | (ShardOp::Release { id: otp_id, .. }, _)
            if changed(otp_id) =>
        {
            items.push(Item::Unsent {
                otp_id: otp_id.clone(),
                at: now,
            });
        }
        (
            ShardOp::Apply {
                otp_id,
                command: Command::Verify { .. },
            },
            ShardReply::Applied { result, .. },
        ) => items.push(Item::Check {
            otp_id: Some(otp_id.clone()),
            at: now,
            result: match result {
                Ok(()) => "verified".to_owned(),
                Err(e) => e.name().to_owned(),
            },
            number: None,
        }),
        (ShardOp::CheckNumber { number, .. }, ShardReply::Checked { matched, .. }) => {
            items.push(match records.first() {
                Some((id, record)) => Item::Check {
                    otp_id: Some(id.clone()),
                    at: now,
                    result: if matched.is_some() {
                        "verified"
                    } else if record.as_ref().map(|r| r.status) == Some(OtpStatus::Failed) {
                        otp_core::Error::OtpFailedLastAttempt.name()
                    } else {
                        otp_core::Error::InvalidPin.name()
                    }
                    .to_owned(),
                    number: Some(number.clone()),
                },
                None => Item::Check {
                    otp_id: None,
                    at: now,
                    result: otp_core::Error::OtpNotFound.name().to_owned(),
                    number: Some(number.clone()),
                },
            });
        }
        // Delivery: a receipt's new final status, or a send that may have gone out.
        (
            ShardOp::Receipt {
                otp_id, provider, ..
            },
            ShardReply::Receipt {
                outcome: ReportOutcome::Recorded,
                delivery: Some(d),
            },
        ) => items.push(Item::Delivery {
            otp_id: otp_id.clone(),
            at: now,
            provider: provider.clone(),
            status: d.status.as_str().to_owned(),
            error_code: d.error_code.clone(),
        }),
        (ShardOp::Sent { otp_id, delivery }, _)
        | (
            ShardOp::Confirm {
                id: otp_id,
                delivery: Some(delivery),
                ..
            },
            _,
        ) if delivery.status == DeliveryStatus::Unknown => items.push(Item::Delivery {
            otp_id: otp_id.clone(),
            at: now,
            provider: delivery.provider.clone(),
            status: delivery.status.as_str().to_owned(),
            error_code: None,
        }),
        _ => {}
    }
    items
}

/// A shard's outbox of insights items.
pub(crate) struct Outbox {
    /// Whether insights are on (the D1 binding exists).
    on: bool,
    /// Names this shard's events: the start of the object's id.
    tag: Rc<str>,
    /// The next sequence number and the end of this instance's reservation, once read.
    next: Cell<Option<(u64, u64)>>,
    /// The flushes after replies.
    flushing: Soon,
    /// Entries written since the last flush started (about: for an early flush).
    waiting: Rc<Cell<usize>>,
}

impl Outbox {
    pub(crate) fn new(state: &State, env: &Env) -> Outbox {
        let id = state.id().to_string();
        Outbox {
            on: database(env).is_some(),
            tag: id.get(..16).unwrap_or(&id).into(),
            next: Cell::new(None),
            flushing: Soon::default(),
            waiting: Rc::default(),
        }
    }

    /// Whether insights are on.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Stores the items of one operation (before the operation's reply, so they
    /// are as durable as its change).
    pub(crate) fn write(&self, storage: &Storage, items: &[Item]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.append(storage, |seq| {
            sql::render(&format!("{}-{seq:012}", self.tag), items)
        })
    }

    /// Stores an entry the worker rendered ([`sql::render`], with event ids of
    /// its own).
    pub(crate) fn write_rendered(&self, storage: &Storage, entry: &str) -> Result<()> {
        self.append(storage, |_| Ok(entry.to_owned()))
    }

    /// Stores the entry that `render` makes for the next sequence number.
    fn append(&self, storage: &Storage, render: impl FnOnce(u64) -> Result<String>) -> Result<()> {
        let (seq, reserved) = match self.next.get() {
            Some(next) => next,
            None => {
                let free = storage_get::<u64>(storage, SEQUENCE)?.unwrap_or(0);
                (free, free)
            }
        };
        storage_put_value(storage, &entry_key(seq), &JsValue::from_str(&render(seq)?))?;
        let reserved = if seq < reserved {
            reserved
        } else {
            let end = seq + RESERVED;
            storage_put(storage, SEQUENCE, &end)?;
            end
        };
        self.next.set(Some((seq + 1, reserved)));
        self.waiting.set(self.waiting.get() + 1);
        Ok(())
    }

    /// Flushes the outbox a moment after the reply (one flush at a time; what
    /// comes meanwhile goes with it or with the next one). A failure is left to
    /// the alarm.
    pub(crate) fn flush_soon(&self, storage: Storage, env: Env) {
        let waiting = Rc::clone(&self.waiting);
        let wait = move || {
            let waiting = Rc::clone(&waiting);
            async move {
                // Wait for more, unless a batch is already there.
                let mut waited = Duration::ZERO;
                while waited < FLUSH_DELAY && waiting.get() < BATCH_ENTRIES {
                    worker::Delay::from(FLUSH_STEP).await;
                    waited += FLUSH_STEP;
                }
                waiting.set(0);
            }
        };
        let bindings = Rc::new((storage, env));
        let work = move || {
            let bindings = Rc::clone(&bindings);
            async move {
                let flushed = flush(&bindings.0, &bindings.1).await;
                if let Err(e) = &flushed {
                    worker::console_warn!("insights: flush failed, the alarm retries: {e}");
                }
                flushed
            }
        };
        self.flushing.run(wait, work);
    }

    /// Sends everything in the outbox to D1 now; `Ok` once it is empty.
    pub(crate) async fn flush(&self, storage: &Storage, env: &Env) -> Result<()> {
        if !self.on {
            return Ok(());
        }
        self.waiting.set(0);
        flush(storage, env).await
    }

    /// Whether the outbox holds anything.
    pub(crate) async fn pending(&self, storage: &Storage) -> Result<bool> {
        if !self.on {
            return Ok(false);
        }
        let page = storage
            .list_with_options(ListOptions::new().prefix(PREFIX).limit(1))
            .await?;
        Ok(page.size() > 0)
    }
}

fn entry_key(seq: u64) -> String {
    format!("{PREFIX}{seq:012}")
}

/// Sends the outbox to D1, a batch of entries at a time, deleting what D1 took.
async fn flush(storage: &Storage, env: &Env) -> Result<()> {
    let Some(db) = database(env) else {
        return Ok(());
    };
    let Some(app_id) = storage_get::<String>(storage, "app")? else {
        return Ok(());
    };
    loop {
        let page = storage
            .list_with_options(ListOptions::new().prefix(PREFIX).limit(BATCH_ENTRIES))
            .await?;
        let mut keys = Vec::new();
        let mut batch = sql::Batch::default();
        page.for_each(&mut |value, key| {
            let (Some(key), Some(text)) = (key.as_string(), value.as_string()) else {
                return;
            };
            batch.add(&text);
            keys.push(key);
        });
        if keys.is_empty() {
            return Ok(());
        }
        let statements = batch.statements(&db, &app_id)?;
        if !statements.is_empty() {
            db.batch(statements).await?;
        }
        let full = keys.len() == BATCH_ENTRIES;
        storage.delete_multiple(keys).await?;
        if !full {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::{Dialect, OtpFacts};
    use otp_core::guard::GuardSettings;

    fn record(id: &str, status: OtpStatus) -> OtpRecord {
        OtpRecord {
            otp_id: id.into(),
            track_id: None,
            phone_masked: "+3361242****".into(),
            country_iso: "FR".into(),
            status,
            cost: 0.05,
            parts: 1,
            max_attempts: 3,
            attempts: 0,
            ttl: 300,
            otp_callback_url: None,
            created_at: 100,
            expires_at: 400,
            updated_at: 100,
            pin_digest: "00".repeat(32),
        }
    }

    fn request(op: ShardOp) -> ShardRequest {
        ShardRequest {
            app_id: "app".into(),
            now: 150,
            retention: 60,
            guard: GuardSettings::default(),
            op,
        }
    }

    fn facts() -> OtpFacts {
        OtpFacts {
            dialect: Dialect::Smscx,
            range: "+3361242".into(),
            number: "ab".into(),
            gateway: "outbox".into(),
            test: false,
        }
    }

    #[test]
    fn a_recorded_receipt_and_an_unknown_send_are_delivery_events() {
        use crate::gateway::delivery::{Delivery, DeliveryReport};
        let mut delivered = Delivery::sent(
            "twilio",
            None,
            Some("SM1".into()),
            DeliveryStatus::Delivered,
            5,
        );
        let receipt = |outcome, delivery| {
            derive(
                &request(ShardOp::Receipt {
                    otp_id: "a".into(),
                    provider: "twilio".into(),
                    report: DeliveryReport {
                        message_id: Some("SM1".into()),
                        status: Some(DeliveryStatus::Delivered),
                        error_code: None,
                        otp_id: None,
                    },
                }),
                &ShardReply::Receipt { outcome, delivery },
                &[],
            )
        };
        assert_eq!(
            receipt(ReportOutcome::Recorded, Some(delivered.clone())),
            vec![Item::Delivery {
                otp_id: "a".into(),
                at: 150,
                provider: "twilio".into(),
                status: "delivered".into(),
                error_code: None,
            }]
        );
        assert_eq!(
            receipt(ReportOutcome::Unchanged, Some(delivered.clone())),
            vec![]
        );
        delivered.status = DeliveryStatus::Unknown;
        let sent = |delivery: Delivery| {
            derive(
                &request(ShardOp::Sent {
                    otp_id: "a".into(),
                    delivery,
                }),
                &ShardReply::Done,
                &[],
            )
        };
        assert!(
            matches!(&sent(delivered.clone())[..], [Item::Delivery { status, .. }] if status == "unknown")
        );
        delivered.status = DeliveryStatus::Pending;
        assert_eq!(sent(delivered), vec![]);
    }

    #[test]
    fn a_create_records_the_otp_with_its_facts_and_one_send() {
        let r = record("a", OtpStatus::Pending);
        let items = derive(
            &request(ShardOp::Create {
                record: r.clone(),
                facts: Some(facts()),
                counted: None,
            }),
            &ShardReply::Done,
            &[("a".into(), Some(r))],
        );
        assert_eq!(items.len(), 2);
        let Item::Otp(row) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(
            (row.status.as_str(), row.facts.as_ref()),
            ("PENDING", Some(&facts()))
        );
        assert!(matches!(
            &items[1],
            Item::Send {
                parts: 1,
                at: 150,
                ..
            }
        ));
    }

    #[test]
    fn a_discarded_record_is_gone_and_its_send_taken_back() {
        let items = derive(
            &request(ShardOp::Discard { otp_id: "a".into() }),
            &ShardReply::Done,
            &[("a".into(), None)],
        );
        assert_eq!(
            items,
            vec![
                Item::Gone {
                    otp_id: "a".into(),
                    at: 150
                },
                Item::Unsent {
                    otp_id: "a".into(),
                    at: 150
                }
            ]
        );
    }

    #[test]
    fn checks_by_id_record_the_core_reason() {
        let mut r = record("a", OtpStatus::Pending);
        r.attempts = 1;
        let items = derive(
            &request(ShardOp::Apply {
                otp_id: "a".into(),
                command: Command::Verify {
                    pin: Some("1".into()),
                },
            }),
            &ShardReply::Applied {
                record: r.clone(),
                result: Err(otp_core::Error::InvalidPin),
                status_changed: false,
            },
            &[("a".into(), Some(r))],
        );
        assert!(matches!(&items[1], Item::Check { result, .. } if result == "invalid_pin"));
    }

    #[test]
    fn a_check_of_a_number_with_nothing_pending_is_recorded_without_an_otp() {
        let items = derive(
            &request(ShardOp::CheckNumber {
                number: "ab".into(),
                code: "1234".into(),
            }),
            &ShardReply::Checked {
                matched: None,
                changed: Vec::new(),
            },
            &[],
        );
        assert_eq!(
            items,
            vec![Item::Check {
                otp_id: None,
                at: 150,
                result: "otp_not_found".into(),
                number: Some("ab".into())
            }]
        );
    }

    #[test]
    fn reads_record_nothing() {
        let items = derive(
            &request(ShardOp::Read { otp_id: "a".into() }),
            &ShardReply::NotFound,
            &[],
        );
        assert!(items.is_empty());
    }
}
