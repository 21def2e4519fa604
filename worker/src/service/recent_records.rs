//! The records a shard wrote last, kept in the object's memory so that a check
//! soon after its send (the usual case) reads its record without a storage call.
//!
//! A copy here is exact because the object is the only writer of its storage and
//! every write or removal of a record goes through [`RecentRecords::saved`] or
//! [`RecentRecords::removed`] (see `OtpShard::save` and `OtpShard::delete_record`).
//! Bounded: the oldest write leaves first. An instance that is evicted starts
//! empty, and a miss reads storage.

use std::collections::{HashMap, VecDeque};

/// At most this many records: a record is under 1 KiB, so at most a few hundred
/// KiB per object, far below an isolate's 128 MiB.
pub(crate) const CAPACITY: usize = 256;

/// Values by key, the oldest written evicted first.
#[derive(Debug)]
pub(crate) struct RecentRecords<V> {
    values: HashMap<String, V>,
    /// Keys in the order they were first written.
    order: VecDeque<String>,
    capacity: usize,
}

impl<V: Clone> RecentRecords<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        RecentRecords {
            values: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The value last saved under `key`, if it is still held.
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        self.values.get(key).cloned()
    }

    /// `value` was written under `key`.
    pub(crate) fn saved(&mut self, key: &str, value: V) {
        if self.values.insert(key.to_owned(), value).is_none() {
            self.order.push_back(key.to_owned());
            if self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.values.remove(&oldest);
                }
            }
        }
    }

    /// `key` was removed, or its write failed: nothing is known of it.
    pub(crate) fn removed(&mut self, key: &str) {
        if self.values.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    /// Everything was removed.
    pub(crate) fn clear(&mut self) {
        self.values.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_last_writes_and_evicts_the_oldest() {
        let mut recent = RecentRecords::new(2);
        recent.saved("a", 1);
        recent.saved("b", 2);
        recent.saved("a", 3); // rewritten: still the oldest first write
        assert_eq!(recent.get("a"), Some(3));
        recent.saved("c", 4);
        assert_eq!(recent.get("a"), None);
        assert_eq!((recent.get("b"), recent.get("c")), (Some(2), Some(4)));
    }

    #[test]
    fn forgets_removed_keys_and_everything_on_clear() {
        let mut recent = RecentRecords::new(2);
        recent.saved("a", 1);
        recent.saved("b", 2);
        recent.removed("a");
        recent.saved("c", 3);
        assert_eq!((recent.get("b"), recent.get("c")), (Some(2), Some(3)));
        recent.saved("a", 4); // three held: b, the oldest, goes
        assert_eq!(recent.get("b"), None);
        recent.removed("a");
        recent.saved("d", 5);
        assert_eq!((recent.get("c"), recent.get("d")), (Some(3), Some(5)));
        recent.clear();
        assert_eq!(recent.get("c"), None);
    }
}
