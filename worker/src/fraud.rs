//! The fraud guard's state (`otp_core::fraud`: conversion and burst per number
//! range, anomalies per country), kept in the application's rate-limit object
//! ([`crate::limiter`]) so that a send's guard decision and its caps are taken in
//! one call, all or nothing, before anything is stored or sent.
//!
//! # Storage (in the rate-limit object)
//!
//! - `g:r:{HMAC(HASH_KEY, range)}`: a range's state, with the range itself (the
//!   admin view shows it; it is the number without its last digits);
//! - `g:c:{country}`: a country's state;
//! - `g:settings`: the application's guard settings as last seen by a send, which
//!   outcome reports and the sweep use.
//!
//! Outcomes arrive from the record shards after their replies, retried until
//! acknowledged (`crate::service::shard`); a lost one counts as neither, so it
//! never makes a block more likely.

use otp_core::fraud::{
    CountryState, Destination, FraudSettings, FraudSnapshot, OtpTag, OutcomeReport, RangeState,
    Refusal, Ticket,
};
use otp_core::secret::{hmac_sha256, to_hex};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{ListOptions, Result, Storage};

use crate::json::{storage_get, storage_put};

const SETTINGS: &str = "g:settings";
const RANGE_PREFIX: &str = "g:r:";
const COUNTRY_PREFIX: &str = "g:c:";

/// A send to check, from the worker: the destination (in memory only, never
/// stored) and the OTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GuardCheck {
    pub(crate) settings: FraudSettings,
    pub(crate) e164: String,
    pub(crate) otp_id: String,
}

/// Where an admitted send was counted: what its outcome report and an undo need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GuardRef {
    pub(crate) country: String,
    pub(crate) range: String,
}

/// The guard's answer to an admitted send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Admitted {
    /// What was counted (none when the guard is off or the number safe-listed).
    pub(crate) ticket: Option<Ticket>,
    /// What shadow mode would have refused.
    pub(crate) shadowed: Option<Refusal>,
    pub(crate) counted: Option<GuardRef>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredRange {
    range: String,
    state: RangeState,
}

fn range_key(hash_key: &[u8], range: &str) -> String {
    let mac = hmac_sha256(hash_key, &[b"range.", range.as_bytes()]);
    format!("{RANGE_PREFIX}{}", to_hex(&mac))
}

fn country_key(country: &str) -> String {
    format!("{COUNTRY_PREFIX}{country}")
}

/// The guard's states of one send, loaded together and stored together.
struct States {
    range_key: String,
    range: StoredRange,
    country_key: String,
    country: CountryState,
}

impl States {
    fn load(storage: &Storage, hash_key: &[u8], country: &str, range: &str) -> Result<Self> {
        let (range_key, country_key) = (range_key(hash_key, range), country_key(country));
        let mut stored: StoredRange = storage_get(storage, &range_key)?.unwrap_or_default();
        stored.range = range.to_owned();
        Ok(States {
            country: storage_get(storage, &country_key)?.unwrap_or_default(),
            range: stored,
            range_key,
            country_key,
        })
    }

    fn store(&self, storage: &Storage) -> Result<()> {
        storage_put(storage, &self.range_key, &self.range)?;
        storage_put(storage, &self.country_key, &self.country)
    }
}

/// Decides a send (see `otp_core::fraud::FraudSettings::admit`) and stores what it
/// counted: `Err` with the refusal when the guard refuses it.
pub(crate) fn admit(
    storage: &Storage,
    hash_key: &[u8],
    check: &GuardCheck,
    now: UnixSeconds,
) -> Result<core::result::Result<Admitted, Refusal>> {
    let settings = &check.settings;
    let Ok(phone) = otp_core::phone::parse_phone(&check.e164, None) else {
        return Err(worker::Error::RustError("guard: unreadable number".into()));
    };
    if storage_get::<FraudSettings>(storage, SETTINGS)?.as_ref() != Some(settings) {
        storage_put(storage, SETTINGS, settings)?;
    }
    let dest = Destination::new(settings, hash_key, &phone);
    let mut states = States::load(storage, hash_key, &dest.country, &dest.range)?;
    let otp = OtpTag::of(hash_key, &check.otp_id);
    let verdict = settings.admit(
        &dest,
        otp,
        &mut states.country,
        &mut states.range.state,
        now,
    );
    if verdict.ticket().is_some() || verdict.refusal().is_some() {
        states.store(storage)?;
    }
    if let otp_core::fraud::Verdict::Refused(refusal) = verdict {
        return Ok(Err(refusal));
    }
    let ticket = verdict.ticket();
    Ok(Ok(Admitted {
        ticket,
        shadowed: verdict.refusal(),
        counted: ticket.map(|_| GuardRef {
            country: dest.country.clone(),
            range: dest.range.clone(),
        }),
    }))
}

/// Takes back a counted send whose SMS was not sent.
pub(crate) fn undo(
    storage: &Storage,
    hash_key: &[u8],
    counted: &GuardRef,
    ticket: &Ticket,
    now: UnixSeconds,
) -> Result<()> {
    let Some(settings) = storage_get::<FraudSettings>(storage, SETTINGS)? else {
        return Ok(());
    };
    let mut states = States::load(storage, hash_key, &counted.country, &counted.range)?;
    settings.undo(ticket, &mut states.country, &mut states.range.state, now);
    states.store(storage)
}

/// Counts outcome reports (idempotent: a report counted before, or of an OTP the
/// guard never counted, changes nothing).
pub(crate) fn record_outcomes(
    storage: &Storage,
    hash_key: &[u8],
    reports: &[OutcomeReport],
    now: UnixSeconds,
) -> Result<()> {
    let Some(settings) = storage_get::<FraudSettings>(storage, SETTINGS)? else {
        return Ok(());
    };
    for report in reports {
        let mut states = States::load(storage, hash_key, &report.country, &report.range)?;
        let counted = settings.record_outcome(
            report.otp,
            report.outcome,
            &mut states.country,
            &mut states.range.state,
            now,
        );
        if counted {
            states.store(storage)?;
        }
    }
    Ok(())
}

/// The guard's current blocks, refusals and countries, for the admin API.
pub(crate) async fn snapshot(storage: &Storage, now: UnixSeconds) -> Result<FraudSnapshot> {
    let settings: FraudSettings = storage_get(storage, SETTINGS)?.unwrap_or_default();
    let ranges: Vec<StoredRange> = list(storage, RANGE_PREFIX).await?;
    let countries: Vec<(String, CountryState)> = list_keyed(storage, COUNTRY_PREFIX).await?;
    Ok(settings.snapshot(
        ranges.iter().map(|r| (r.range.as_str(), &r.state)),
        countries.iter().map(|(k, s)| (k.as_str(), s)),
        now,
    ))
}

/// Where an operator blocks or unblocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    Range,
    Country,
}

/// Blocks `key` (a range's digits or a country) until `until`, or unblocks it
/// (`until` none).
pub(crate) fn set_block(
    storage: &Storage,
    hash_key: &[u8],
    scope: Scope,
    key: &str,
    until: Option<UnixSeconds>,
    now: UnixSeconds,
) -> Result<core::result::Result<(), otp_core::Error>> {
    match scope {
        Scope::Range => {
            let k = range_key(hash_key, key);
            let mut stored: StoredRange = storage_get(storage, &k)?.unwrap_or_default();
            stored.range = key.to_owned();
            match until {
                Some(until) => {
                    if let Err(e) = stored.state.block_manually(until, now) {
                        return Ok(Err(e));
                    }
                }
                None => stored.state.unblock(),
            }
            storage_put(storage, &k, &stored)?;
        }
        Scope::Country => {
            let k = country_key(key);
            let mut state: CountryState = storage_get(storage, &k)?.unwrap_or_default();
            match until {
                Some(until) => {
                    if let Err(e) = state.block_manually(until, now) {
                        return Ok(Err(e));
                    }
                }
                None => state.unblock(),
            }
            storage_put(storage, &k, &state)?;
        }
    }
    Ok(Ok(()))
}

/// Deletes the states that no longer matter (`keep_until` passed).
pub(crate) async fn sweep(storage: &Storage, now: UnixSeconds) -> Result<()> {
    let Some(settings) = storage_get::<FraudSettings>(storage, SETTINGS)? else {
        return Ok(());
    };
    let mut gone = Vec::new();
    let page = storage
        .list_with_options(ListOptions::new().prefix(RANGE_PREFIX).limit(1000))
        .await?;
    page.for_each(&mut |value, key| {
        let parsed = value
            .as_string()
            .and_then(|t| serde_json::from_str::<StoredRange>(&t).ok());
        if parsed.is_none_or(|r| r.state.keep_until(&settings).is_none_or(|t| t <= now)) {
            if let Some(k) = key.as_string() {
                gone.push(k);
            }
        }
    });
    let page = storage
        .list_with_options(ListOptions::new().prefix(COUNTRY_PREFIX).limit(1000))
        .await?;
    page.for_each(&mut |value, key| {
        let parsed = value
            .as_string()
            .and_then(|t| serde_json::from_str::<CountryState>(&t).ok());
        if parsed.is_none_or(|c| c.keep_until(&settings).is_none_or(|t| t <= now)) {
            if let Some(k) = key.as_string() {
                gone.push(k);
            }
        }
    });
    if !gone.is_empty() {
        storage.delete_multiple(gone).await?;
    }
    Ok(())
}

async fn list<T: serde::de::DeserializeOwned>(storage: &Storage, prefix: &str) -> Result<Vec<T>> {
    Ok(list_keyed(storage, prefix)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

async fn list_keyed<T: serde::de::DeserializeOwned>(
    storage: &Storage,
    prefix: &str,
) -> Result<Vec<(String, T)>> {
    let page = storage
        .list_with_options(ListOptions::new().prefix(prefix).limit(1000))
        .await?;
    let mut out = Vec::new();
    page.for_each(&mut |value, key| {
        if let (Some(k), Some(t)) = (key.as_string(), value.as_string()) {
            if let Ok(v) = serde_json::from_str(&t) {
                out.push((k.strip_prefix(prefix).unwrap_or(&k).to_owned(), v));
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_keys_are_keyed_hashes() {
        let a = range_key(b"hash-key-0123456789abcdef", "3361242");
        assert!(a.starts_with(RANGE_PREFIX) && !a.contains("3361242"));
        assert_ne!(a, range_key(b"another-key-0123456789abc", "3361242"));
        assert_eq!(country_key("FR"), "g:c:FR");
    }
}
