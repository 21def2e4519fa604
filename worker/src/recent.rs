//! What an isolate recently read from KV, reused for a few seconds: applications
//! and API-key ids for authentication (`crate::apps`), and the Dexatel templates
//! and senders of an application (`crate::api::dexatel`), which every request
//! would otherwise read again.

use std::collections::HashMap;

/// How long authentication reuses what it read from KV, in milliseconds of the
/// real clock. Every request authenticates, and two KV reads per request cost more
/// than the rest of a send; a change made through this isolate is seen at once
/// (the entries are dropped), one made through another isolate within this long,
/// on top of KV's own propagation delay of up to 60 s.
pub(crate) const RECENT_MS: f64 = 10_000.0;

/// Entries kept per table before it starts over.
const RECENT_MAX: usize = 1024;

/// Values recently read from KV, by key, with when they were read.
pub(crate) struct Recent<T> {
    entries: HashMap<String, (f64, T)>,
}

impl<T: Clone> Recent<T> {
    pub(crate) fn new() -> Self {
        Recent {
            entries: HashMap::new(),
        }
    }

    pub(crate) fn get(&self, key: &str, now_ms: f64) -> Option<T> {
        self.entries
            .get(key)
            .filter(|(read_at, _)| (0.0..RECENT_MS).contains(&(now_ms - read_at)))
            .map(|(_, value)| value.clone())
    }

    pub(crate) fn put(&mut self, key: &str, value: T, now_ms: f64) {
        if self.entries.len() >= RECENT_MAX {
            self.entries.clear();
        }
        self.entries.insert(key.to_owned(), (now_ms, value));
    }

    pub(crate) fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// The real clock in milliseconds, for the reuse window.
pub(crate) fn now_ms() -> f64 {
    worker::Date::now().as_millis() as f64
}
