//! The last webhook deliveries of an application, with their results: what the
//! console's Webhooks tab shows (`GET /admin/apps/{appId}/webhooks/deliveries`).
//!
//! Every status callback (VERIFIED, FAILED, CANCELLED from the service, EXPIRED
//! from the record shards' alarms) and every test event ends in one [`Entry`]:
//! when it started, the receiver's host (never the path or query, which may carry
//! a token; never the secret), what was sent, the last attempt's HTTP status or
//! error, the attempts made and the last attempt's latency.
//!
//! # Where they are kept, and why there
//!
//! A small ring in the application's own Durable Object, the rate limiter
//! (`limits:{appId}`, [`crate::limiter`]): one storage value holding at most
//! [`MAX_ENTRIES`] entries, none older than [`RETENTION_SECONDS`] (7 days), pruned
//! at each write ([`push`]) and filtered at each read ([`recent`]).
//!
//! - Nothing is added to the send or check path: a delivery runs after the reply
//!   (`waitUntil`, or a shard's alarm) and records its result when done, one
//!   object call per delivery, not per attempt.
//! - Reads are exact at once: a test event is in the list the moment its reply is.
//!   KV's listing can lag a minute behind its writes, and D1 (the insights) is
//!   optional, one database for every application, and keeps rows for 90 days.
//! - Deleting the application empties its object, and with it this log.

use otp_core::time::{format_utc, UnixSeconds};
use serde::{Deserialize, Serialize};
use worker::Storage;

use crate::json::{storage_get, storage_put};

/// Storage key of the ring in the application's object.
pub(crate) const STORAGE_KEY: &str = "webhooks";
/// Deliveries kept per application, newest first.
pub(crate) const MAX_ENTRIES: usize = 50;
/// How long a delivery is kept: 7 days.
pub(crate) const RETENTION_SECONDS: UnixSeconds = 7 * 86_400;
/// Longest host kept.
const MAX_HOST: usize = 255;

/// What a delivery carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// A status change answered to a request (VERIFIED, FAILED, CANCELLED).
    Status,
    /// An OTP's expiry, sent by its shard's alarm.
    Expired,
    /// A test event sent from the admin API.
    Test,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or the receiver refused it for good.
    Failed,
    /// Nothing was sent: the URL or the secret is refused by the policy.
    NotSent,
}

/// One delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    /// The `webhook-id` of the event (the same on every attempt).
    pub(crate) webhook_id: String,
    /// When the first attempt started (Unix seconds).
    pub(crate) at: UnixSeconds,
    /// The `event` of the body: `otp_update` or `test`.
    pub(crate) event: String,
    /// What triggered it.
    pub(crate) kind: Kind,
    /// The OTP it reports, if any (not a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) otp_id: Option<String>,
    /// The status it reports (`VERIFIED`, `EXPIRED`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) otp_status: Option<String>,
    /// The receiver's host (and port), never the rest of the URL.
    pub(crate) host: String,
    pub(crate) outcome: Outcome,
    /// The last attempt's HTTP status, if it got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) http_status: Option<u16>,
    /// Why the last attempt got no status (`timeout`, `unreachable`,
    /// `invalid-url`), or why nothing was sent (the policy's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Attempts made (0 when nothing was sent).
    pub(crate) attempts: u32,
    /// Milliseconds the last attempt took, to its status or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) latency_ms: Option<u32>,
}

/// An entry as the admin API shows it: with `date`, UTC `YYYY-MM-DD HH:MM:SS`.
#[derive(Serialize)]
pub(crate) struct EntryView<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    date: String,
}

impl Entry {
    /// The entry with its date.
    pub(crate) fn view(&self) -> EntryView<'_> {
        EntryView {
            entry: self,
            date: format_utc(self.at),
        }
    }
}

/// The host (and port) of `url`: what is between `scheme://` and the path, without
/// user info; the URL's other parts may hold a token and are never kept.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    host.chars()
        .take(MAX_HOST)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `ring` with `entry` added: newest first, none older than the retention at
/// `now`, at most [`MAX_ENTRIES`].
pub(crate) fn push(mut ring: Vec<Entry>, entry: Entry, now: UnixSeconds) -> Vec<Entry> {
    // Newest first; the sort is stable, so of one second the latest comes first.
    ring.insert(0, entry);
    ring.sort_by_key(|e| std::cmp::Reverse(e.at));
    ring.retain(|e| e.at > now - RETENTION_SECONDS);
    ring.truncate(MAX_ENTRIES);
    ring
}

/// The entries of `ring` still within the retention at `now`, newest first.
pub(crate) fn within(ring: Vec<Entry>, now: UnixSeconds) -> Vec<Entry> {
    ring.into_iter()
        .filter(|e| e.at > now - RETENTION_SECONDS)
        .collect()
}

/// Adds `entry` to the ring kept in `storage` (the application's object).
pub(crate) fn record(storage: &Storage, entry: Entry, now: UnixSeconds) -> worker::Result<()> {
    let ring: Vec<Entry> = storage_get(storage, STORAGE_KEY)?.unwrap_or_default();
    storage_put(storage, STORAGE_KEY, &push(ring, entry, now))
}

/// The deliveries kept in `storage`, newest first.
pub(crate) fn recent(storage: &Storage, now: UnixSeconds) -> worker::Result<Vec<Entry>> {
    let ring: Vec<Entry> = storage_get(storage, STORAGE_KEY)?.unwrap_or_default();
    Ok(within(ring, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: UnixSeconds, id: &str) -> Entry {
        Entry {
            webhook_id: id.into(),
            at,
            event: "otp_update".into(),
            kind: Kind::Status,
            otp_id: None,
            otp_status: Some("VERIFIED".into()),
            host: "hooks.example.com".into(),
            outcome: Outcome::Delivered,
            http_status: Some(200),
            error: None,
            attempts: 1,
            latency_ms: Some(12),
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_fifty_of_the_last_seven_days() {
        let now = 1_800_000_000;
        let mut ring = Vec::new();
        for i in 0..60 {
            ring = push(ring, entry(now - 60 + i, &format!("msg_{i}")), now);
        }
        assert_eq!(ring.len(), MAX_ENTRIES);
        assert_eq!(ring[0].webhook_id, "msg_59");
        assert_eq!(ring[49].webhook_id, "msg_10");
        // Older than 7 days: dropped at the next write, hidden from reads before.
        let old = vec![
            entry(now - RETENTION_SECONDS, "old"),
            entry(now - 10, "new"),
        ];
        assert_eq!(within(old.clone(), now).len(), 1);
        let ring = push(old, entry(now, "newest"), now);
        let ids: Vec<_> = ring.iter().map(|e| e.webhook_id.as_str()).collect();
        assert_eq!(ids, ["newest", "new"]);
    }

    #[test]
    fn entries_of_one_second_list_the_latest_first() {
        let ring = push(vec![entry(5, "a")], entry(5, "b"), 10);
        assert_eq!(ring[0].webhook_id, "b");
        let ring = push(ring, entry(5, "c"), 10);
        let ids: Vec<_> = ring.iter().map(|e| e.webhook_id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
    }

    #[test]
    fn only_the_host_of_a_url_is_kept() {
        assert_eq!(
            host_of("https://Hooks.Example.com/otp?token=s3cret"),
            "hooks.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8787/cb/1#frag"), "127.0.0.1:8787");
        assert_eq!(
            host_of("https://user:pw@hooks.example.com/x"),
            "hooks.example.com"
        );
        assert_eq!(host_of("https://[::1]:443/x"), "[::1]:443");
        assert_eq!(host_of("hooks.example.com/path"), "hooks.example.com");
    }

    #[test]
    fn the_view_dates_an_entry_and_leaves_out_what_it_lacks() {
        let mut e = entry(1_700_000_000, "msg_1");
        e.otp_status = None;
        e.latency_ms = None;
        let json = serde_json::to_value(e.view()).unwrap();
        assert_eq!(json["date"], "2023-11-14 22:13:20");
        assert_eq!(json["outcome"], "delivered");
        assert_eq!(json["kind"], "status");
        assert!(json.get("otpStatus").is_none() && json.get("latencyMs").is_none());
    }
}
