//! What is kept per application and phone number for Dexatel's guard, as pure
//! state: the guard ([`crate::guard::PhoneGuard`]: failed checks, block, last
//! send), the index of the number's verifications, newest first, that lets a
//! check by number find the current one, and the send in flight.
//!
//! # Sends in flight
//!
//! A send is decided and recorded ([`NumberState::begin_send`]) before its SMS is
//! handed to the gateway, so that a parallel send sees it at once; the caller
//! then reports the outcome: [`NumberState::confirm`] or [`NumberState::release`]
//! (the send is taken back: no cooldown, no index entry). While a send is in
//! flight every other send for the number is refused with the cooldown error
//! ([`NumberState::in_flight`]). A send whose outcome never arrives (the caller
//! died) is forgotten [`SEND_RESERVATION_SECONDS`] after it began, as if it had
//! been confirmed: the verification's own record then says whether a code is
//! pending.

use serde::{Deserialize, Serialize};

use crate::guard::{GuardError, GuardSettings, PhoneGuard, SendPlan};
use crate::id::SHARDS;
use crate::phone::PhoneNumber;
use crate::secret::{hmac_sha256, to_hex};
use crate::time::UnixSeconds;

/// The name of `phone` in application `app_id` wherever a store keys or shards by
/// number: `HMAC-SHA256(key, "number." appId "." e164)` in lowercase hex. The key
/// is a server secret of its own (never a PIN key, which rotates), so the name
/// neither reveals the number nor moves when PIN keys rotate.
pub fn number_hash(key: &[u8], app_id: &str, phone: &PhoneNumber) -> String {
    let mac = hmac_sha256(
        key,
        &[b"number.", app_id.as_bytes(), b".", phone.e164().as_bytes()],
    );
    to_hex(&mac)
}

/// The shard of a number by its [`number_hash`]: its first hex digit, like the
/// ids of its records (`crate::id::new_uuid_v4_in_shard`).
pub fn shard_of_hash(hash: &str) -> u8 {
    hash.chars()
        .next()
        .and_then(|c| c.to_digit(16))
        .map_or(0, |d| d as u8 % SHARDS)
}

/// Most verifications kept in one number's index.
pub const MAX_ENTRIES: usize = 50;

/// How long a send may stay in flight before it is forgotten (seconds). Well
/// above the whole send on the caller's side (a gateway timeout of 10 s by default) and the
/// rate-limit calls before it.
pub const SEND_RESERVATION_SECONDS: i64 = 60;

/// One verification in a number's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The OTP record's id.
    pub id: String,
    /// The id of the last SMS that carried its code (empty while its first SMS
    /// is in flight).
    pub message_id: String,
    /// When the verification expires (as its record says).
    pub expires_at: UnixSeconds,
    /// The block cancelled it: checks through the number never use it again,
    /// even if its record could not be cancelled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub closed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Entry {
    /// An open entry.
    pub fn new(id: String, message_id: String, expires_at: UnixSeconds) -> Self {
        Entry {
            id,
            message_id,
            expires_at,
            closed: false,
        }
    }
}

/// A send decided and recorded, whose SMS is in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sending {
    /// The verification whose code is being sent (for `resend_same`, the pending one).
    pub id: String,
    /// When the send was recorded (the guard's last send).
    pub at: UnixSeconds,
    /// The last send before it, for [`NumberState::release`].
    pub previous_sent_at: Option<UnixSeconds>,
    /// Whether [`NumberState::begin_send`] put a new entry in the index.
    pub new_entry: bool,
    /// For `resend_same`: the pending record's digest before its re-key, to put
    /// back if the SMS could not be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_pin_digest: Option<String>,
}

/// The guard state and index of one number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NumberState {
    /// Failed checks, block and last send ([`crate::guard`]'s rules).
    pub guard: PhoneGuard,
    /// Newest first.
    pub verifications: Vec<Entry>,
    /// The send in flight, if any.
    pub sending: Option<Sending>,
}

impl NumberState {
    /// The newest verification, if it has not expired at `now` and was not
    /// closed by a block: the only one that can be pending (a new one replaces or
    /// re-keys it).
    pub fn current(&self, now: UnixSeconds) -> Option<&Entry> {
        self.verifications
            .first()
            .filter(|entry| now < entry.expires_at && !entry.closed)
    }

    /// Puts `entry` first (replacing an entry with the same id) and drops entries
    /// whose records are gone from KV (`retention` after expiry) or past the cap.
    pub fn push(&mut self, entry: Entry, now: UnixSeconds, retention: u32) {
        self.verifications.retain(|e| e.id != entry.id);
        self.verifications.insert(0, entry);
        self.verifications
            .retain(|e| e.expires_at.saturating_add(i64::from(retention)) > now);
        self.verifications.truncate(MAX_ENTRIES);
    }

    /// Marks verification `id` closed (the block cancelled it).
    pub fn close(&mut self, id: &str) {
        for entry in self.verifications.iter_mut().filter(|e| e.id == id) {
            entry.closed = true;
        }
    }

    /// The send in flight at `now`, dropping one older than
    /// [`SEND_RESERVATION_SECONDS`] (its outcome never came).
    fn live_sending(&mut self, now: UnixSeconds) -> Option<&Sending> {
        if self
            .sending
            .as_ref()
            .is_some_and(|s| now >= s.at.saturating_add(SEND_RESERVATION_SECONDS))
        {
            self.sending = None;
        }
        self.sending.as_ref()
    }

    /// The refusal of a send at `now` while another is in flight: the cooldown
    /// error, retry when the cooldown of the send in flight ends (at least a
    /// second from now).
    pub fn in_flight(
        &mut self,
        settings: &GuardSettings,
        now: UnixSeconds,
    ) -> Result<(), GuardError> {
        match self.live_sending(now) {
            None => Ok(()),
            Some(sending) => {
                let cooldown = i64::from(settings.resend_cooldown_seconds);
                Err(GuardError::Cooldown {
                    until: sending
                        .at
                        .saturating_add(cooldown)
                        .max(now.saturating_add(1)),
                })
            }
        }
    }

    /// Records the send that `plan` decided at `now`: the guard's last send, the
    /// send in flight, and for a new verification (`planned`) its entry, first in
    /// the index. `pending` is the pending verification's id (for `resend_same`).
    /// Returns the id whose code is being sent.
    pub fn begin_send(
        &mut self,
        settings: &GuardSettings,
        plan: SendPlan,
        pending: Option<&str>,
        planned: Entry,
        now: UnixSeconds,
        retention: u32,
    ) -> String {
        let previous_sent_at = self.guard.last_sent_at();
        self.guard.record_sent(settings, now);
        let (id, new_entry) = match (plan, pending) {
            (SendPlan::ResendSame, Some(id)) => (id.to_owned(), false),
            _ => {
                let id = planned.id.clone();
                self.push(planned, now, retention);
                (id, true)
            }
        };
        self.sending = Some(Sending {
            id: id.clone(),
            at: now,
            previous_sent_at,
            new_entry,
            previous_pin_digest: None,
        });
        id
    }

    /// The send of `id` recorded at `at` went out as `entry` (the same
    /// verification, or a new one when the pending one could no longer be
    /// re-sent): the entry gets its message id, in place, or is put first.
    pub fn confirm(
        &mut self,
        id: &str,
        at: UnixSeconds,
        entry: Entry,
        now: UnixSeconds,
        retention: u32,
    ) {
        if self
            .sending
            .as_ref()
            .is_some_and(|s| s.id == id && s.at == at)
        {
            self.sending = None;
        }
        match self.verifications.iter_mut().find(|e| e.id == entry.id) {
            Some(existing) => {
                existing.message_id = entry.message_id;
                existing.expires_at = entry.expires_at;
            }
            None => self.push(entry, now, retention),
        }
    }

    /// The send of `id` recorded at `at` could not be sent: it is taken back (no
    /// cooldown from it, no entry for it) and returned, so the caller can undo the
    /// rest (discard the new record, or put back the previous digest). Nothing
    /// changes, and `None` is returned, if that send is no longer the one in flight.
    pub fn release(&mut self, id: &str, at: UnixSeconds) -> Option<Sending> {
        let sending = self.sending.take_if(|s| s.id == id && s.at == at)?;
        self.guard.undo_sent(at, sending.previous_sent_at);
        if sending.new_entry {
            self.verifications.retain(|e| e.id != id);
        }
        Some(sending)
    }

    /// Seconds this state should be kept from `now`: while the guard state
    /// matters, while the newest record can still be read and while a send is in
    /// flight; at least 60 (KV's minimum).
    pub fn storage_ttl(&self, settings: &GuardSettings, now: UnixSeconds, retention: u32) -> u64 {
        let index = self
            .verifications
            .iter()
            .map(|e| e.expires_at.saturating_add(i64::from(retention)))
            .max();
        let sending = self
            .sending
            .as_ref()
            .map(|s| s.at.saturating_add(SEND_RESERVATION_SECONDS));
        let until = [self.guard.keep_until(settings), index, sending]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        (until - now).clamp(60, i64::from(u32::MAX)) as u64
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::guard::CheckOutcome;

    const T0: UnixSeconds = 1_700_000_000;

    fn entry(id: &str, expires_at: UnixSeconds) -> Entry {
        Entry::new(id.into(), format!("m-{id}"), expires_at)
    }

    #[test]
    fn number_hashes_hide_the_number_differ_per_app_and_name_a_shard() {
        let phone = crate::phone::parse_phone("+33612345678", None).unwrap();
        let a = number_hash(b"hash-key-0123456789abcdef", "app-a", &phone);
        let b = number_hash(b"hash-key-0123456789abcdef", "app-b", &phone);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(!a.contains("612345678"));
        assert_ne!(
            number_hash(b"another-key-0123456789abc", "app-a", &phone),
            a
        );
        assert_eq!(
            u32::from(shard_of_hash(&a)),
            a[..1].chars().next().unwrap().to_digit(16).unwrap()
        );
    }

    fn ids(s: &NumberState) -> Vec<&str> {
        s.verifications.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn the_index_is_newest_first_without_duplicates_or_dead_entries() {
        let mut s = NumberState::default();
        s.push(entry("a", T0 + 100), T0, 1000);
        s.push(entry("b", T0 + 200), T0 + 10, 1000);
        s.push(entry("a", T0 + 100), T0 + 20, 1000);
        assert_eq!(ids(&s), ["a", "b"]);
        assert_eq!(s.current(T0 + 99).map(|e| e.id.as_str()), Some("a"));
        assert_eq!(s.current(T0 + 100), None, "expired: nothing is current");
        s.push(entry("c", T0 + 5000), T0 + 1150, 1000);
        assert_eq!(ids(&s), ["c", "b"], "a's record is gone from KV");
        s.close("c");
        assert_eq!(s.current(T0 + 1150), None, "closed by a block");
        for i in 0..60 {
            s.push(entry(&i.to_string(), T0 + 5000), T0 + 1150, 1000);
        }
        assert_eq!(s.verifications.len(), MAX_ENTRIES);
    }

    #[test]
    fn storage_ttl_covers_the_guard_the_newest_record_and_a_send_in_flight() {
        let settings = GuardSettings::default();
        let mut s = NumberState::default();
        assert_eq!(s.storage_ttl(&settings, T0, 86_400), 60);
        s.push(entry("a", T0 + 600), T0, 86_400);
        assert_eq!(s.storage_ttl(&settings, T0, 86_400), 600 + 86_400);
        let mut blocked = NumberState::default();
        for _ in 0..3 {
            blocked
                .guard
                .record_check(&settings, CheckOutcome::Mismatched, T0);
        }
        assert_eq!(blocked.storage_ttl(&settings, T0, 0), 900);
        let mut sending = NumberState::default();
        sending.begin_send(&settings, SendPlan::New, None, entry("n", T0), T0, 0);
        assert_eq!(sending.storage_ttl(&settings, T0, 0), 60);
    }

    #[test]
    fn a_send_in_flight_refuses_others_until_confirmed_released_or_forgotten() {
        let settings = GuardSettings::default();
        let mut s = NumberState::default();
        assert_eq!(s.in_flight(&settings, T0), Ok(()));
        let id = s.begin_send(&settings, SendPlan::New, None, entry("a", T0 + 600), T0, 0);
        assert_eq!(id, "a");
        assert_eq!(ids(&s), ["a"], "checks find the new code at once");
        assert_eq!(s.guard.last_sent_at(), Some(T0));
        assert_eq!(
            s.in_flight(&settings, T0 + 5),
            Err(GuardError::Cooldown { until: T0 + 30 })
        );
        let quick = GuardSettings {
            resend_cooldown_seconds: 0,
            ..settings
        };
        assert_eq!(
            s.in_flight(&quick, T0 + 5),
            Err(GuardError::Cooldown { until: T0 + 6 }),
            "no cooldown: retry in a second"
        );
        let mut confirmed = s.clone();
        confirmed.confirm("a", T0, entry("a", T0 + 600), T0 + 1, 0);
        assert_eq!(confirmed.sending, None);
        assert_eq!(confirmed.verifications, vec![entry("a", T0 + 600)]);
        assert_eq!(
            confirmed.guard.last_sent_at(),
            Some(T0),
            "the cooldown runs"
        );

        let mut released = s.clone();
        released.release("a", T0 + 1);
        assert_eq!(released, s, "another send's release changes nothing");
        released.release("a", T0);
        assert_eq!(released, NumberState::default(), "taken back entirely");

        let mut forgotten = s.clone();
        assert_eq!(
            forgotten.in_flight(&settings, T0 + SEND_RESERVATION_SECONDS),
            Ok(())
        );
        assert_eq!(forgotten.sending, None);
        assert_eq!(ids(&forgotten), ["a"], "kept as if confirmed");
    }

    #[test]
    fn resend_same_keeps_the_entry_and_a_failed_one_keeps_the_earlier_cooldown() {
        let settings = GuardSettings::default();
        let mut s = NumberState::default();
        s.begin_send(&settings, SendPlan::New, None, entry("a", T0 + 600), T0, 0);
        s.confirm("a", T0, entry("a", T0 + 600), T0, 0);
        let before = s.clone();
        let id = s.begin_send(
            &settings,
            SendPlan::ResendSame,
            Some("a"),
            entry("unused", T0 + 640),
            T0 + 40,
            0,
        );
        assert_eq!(id, "a");
        assert_eq!(ids(&s), ["a"]);
        let mut resent = s.clone();
        resent.confirm(
            "a",
            T0 + 40,
            Entry::new("a".into(), "m2".into(), T0 + 600),
            T0 + 41,
            0,
        );
        assert_eq!(resent.verifications[0].message_id, "m2");
        assert_eq!(resent.sending, None);
        // The pending one could not be re-keyed any more: a new one went out instead.
        let mut fallback = s.clone();
        fallback.confirm("a", T0 + 40, entry("b", T0 + 640), T0 + 41, 0);
        assert_eq!(ids(&fallback), ["b", "a"]);
        assert_eq!(fallback.sending, None);
        s.release("a", T0 + 40);
        assert_eq!(s, before, "the first send's cooldown is back");
    }

    #[test]
    fn replace_puts_the_new_entry_first_and_a_failed_one_removes_it_only() {
        let settings = GuardSettings::default();
        let mut s = NumberState::default();
        s.begin_send(&settings, SendPlan::New, None, entry("a", T0 + 600), T0, 0);
        s.confirm("a", T0, entry("a", T0 + 600), T0, 0);
        let before = s.clone();
        s.begin_send(
            &settings,
            SendPlan::Replace,
            Some("a"),
            entry("b", T0 + 640),
            T0 + 40,
            0,
        );
        assert_eq!(ids(&s), ["b", "a"]);
        s.release("b", T0 + 40);
        assert_eq!(s, before);
    }
}
