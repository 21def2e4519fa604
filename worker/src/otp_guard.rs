//! The Durable Object that makes verification exact: one object per OTP (named
//! `{appId}:{otpId}`) holds the authoritative record and runs every change to it
//! (create, verify, cancel, discard) one at a time, so the attempt is counted
//! before the comparison and a right PIN is consumed exactly once, whatever the
//! number of parallel requests. After each change it copies the record to KV,
//! where `GET /otp/{id}` reads it (eventually consistent). An alarm at the
//! expiry time fires the EXPIRED status callback.

use otp_core::otp::{OtpRecord, OtpStatus};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, ScheduledTime, State};

use crate::apps::AppStore;
use crate::config::{Config, OTP_KV};
use crate::json::{storage_get, storage_put};
use crate::store::{put_record, run_command, Command};

/// Binding name of the namespace in wrangler.toml.
pub(crate) const BINDING: &str = "OTP_GUARD";

/// A request from the worker to an OTP's object, as JSON (see [`crate::durable`]):
/// externally tagged, `{"create": {...}}`, like every enum between the worker and
/// its objects, because serde reads an internally tagged enum (`#[serde(tag)]`)
/// through a buffer, with a second deserializer for everything inside it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum GuardRequest {
    /// Keep a new record (and copy it to KV).
    Create {
        app_id: String,
        record: OtpRecord,
        retention: u32,
        now: UnixSeconds,
    },
    /// Run a command on the record.
    Apply { command: Command, now: UnixSeconds },
    /// Forget the record (its SMS could not be sent).
    Discard,
}

/// The object's answer (externally tagged, like [`GuardRequest`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum GuardReply {
    /// Done.
    Ok,
    /// No record here.
    NotFound,
    /// A command ran: the record after it, the core error code if it was refused,
    /// and whether the status changed.
    Applied {
        record: OtpRecord,
        error: Option<u16>,
        status_changed: bool,
    },
}

/// What the object keeps besides the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    app_id: String,
    retention: u32,
}

/// The alarm time for Unix seconds `t` (an `i64` would be taken as an offset).
fn at(t: UnixSeconds) -> ScheduledTime {
    ScheduledTime::new(worker::js_sys::Date::new(&(t as f64 * 1000.0).into()))
}

const RECORD: &str = "record";
const META: &str = "meta";

/// One OTP's serialising object.
#[durable_object]
pub struct OtpGuard {
    state: State,
    env: Env,
}

impl DurableObject for OtpGuard {
    fn new(state: State, env: Env) -> Self {
        OtpGuard { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let request: GuardRequest = crate::durable::read_request(&mut req).await?;
        let storage = self.state.storage();
        let env = self.env.clone();
        // The whole read-modify-write, KV copy included, runs with no other event
        // interleaved: that is what makes the count exact.
        let reply = self
            .state
            .block_concurrency_while(async move {
                match request {
                    GuardRequest::Create {
                        app_id,
                        record,
                        retention,
                        now,
                    } => {
                        storage_put(&storage, RECORD, &record).await?;
                        let meta = Meta {
                            app_id: app_id.clone(),
                            retention,
                        };
                        storage_put(&storage, META, &meta).await?;
                        if record.otp_callback_url.is_some() {
                            storage.set_alarm(at(record.expires_at)).await?;
                        }
                        put_record(&env.kv(OTP_KV)?, &app_id, &record, now, retention).await?;
                        Ok(GuardReply::Ok)
                    }
                    GuardRequest::Apply { command, now } => {
                        let (Some(mut record), Some(meta)) = (
                            storage_get::<OtpRecord>(&storage, RECORD).await?,
                            storage_get::<Meta>(&storage, META).await?,
                        ) else {
                            return Ok(GuardReply::NotFound);
                        };
                        let keys = Config::from_env(&env)
                            .map_err(|_| worker::Error::RustError("PIN_KEYS missing".into()))?
                            .pin_keys;
                        let v = run_command(&mut record, &command, &keys, now);
                        if v.record_changed {
                            storage_put(&storage, RECORD, &record).await?;
                            // KV is a copy for reads; the object's storage is the truth, so a
                            // failed copy (e.g. KV's one-write-per-second limit) is only logged.
                            if let Err(e) = put_record(
                                &env.kv(OTP_KV)?,
                                &meta.app_id,
                                &record,
                                now,
                                meta.retention,
                            )
                            .await
                            {
                                worker::console_warn!(
                                    "otp {}: KV copy not updated: {e:?}",
                                    record.otp_id
                                );
                            }
                        }
                        Ok(GuardReply::Applied {
                            record,
                            error: v.result.err().map(|e| e.code()),
                            status_changed: v.status_changed,
                        })
                    }
                    GuardRequest::Discard => {
                        let meta = storage_get::<Meta>(&storage, META).await?;
                        let record = storage_get::<OtpRecord>(&storage, RECORD).await?;
                        storage.delete_all().await?;
                        storage.delete_alarm().await?;
                        if let (Some(meta), Some(record)) = (meta, record) {
                            env.kv(OTP_KV)?
                                .delete(&crate::store::record_key(&meta.app_id, &record.otp_id))
                                .await?;
                        }
                        Ok(GuardReply::Ok)
                    }
                }
            })
            .await?;
        crate::http::json(&reply, 200)
    }

    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let (Some(record), Some(meta)) = (
            storage_get::<OtpRecord>(&storage, RECORD).await?,
            storage_get::<Meta>(&storage, META).await?,
        ) else {
            return Response::ok("nothing to do");
        };
        let now = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
        match record.status_at(now) {
            OtpStatus::Expired => {}
            OtpStatus::Pending => {
                // Woken early (clock skew): try again at the expiry.
                storage.set_alarm(at(record.expires_at)).await?;
                return Response::ok("not yet");
            }
            _ => return Response::ok("already final"),
        }
        let (Some(url), Ok(kv)) = (record.otp_callback_url.clone(), self.env.kv(OTP_KV)) else {
            return Response::ok("no callback");
        };
        // The app's current webhook secret (it may have rotated since the OTP was sent).
        let Ok(Some(app)) = AppStore::new(kv).get(&meta.app_id).await else {
            return Response::ok("app gone");
        };
        crate::callback::deliver_status_callback(
            &self.env,
            url,
            app.webhook_secret,
            &record.view(now, None),
        )
        .await;
        Response::ok("expired callback sent")
    }
}
