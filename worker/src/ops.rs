//! Storage operations counted per request, for the benchmark: KV reads and writes
//! and Durable Object calls on the request path, and what the request leaves for
//! after its reply (the shard's KV copies, a Dexatel send's confirmation). In
//! development every reply carries them in `X-Storage-Ops`.
//!
//! The counter belongs to the isolate: it is exact for a request that runs alone
//! (the bench samples each request kind alone); concurrent requests in one
//! isolate would mix their counts.

use std::cell::Cell;

/// The header that carries the counts in development.
pub(crate) const HEADER: &str = "X-Storage-Ops";

/// One request's storage operations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ops {
    pub(crate) kv_reads: u32,
    pub(crate) kv_writes: u32,
    pub(crate) object_calls: u32,
    /// KV writes left for after the reply.
    pub(crate) after_kv_writes: u32,
    /// Object calls left for after the reply.
    pub(crate) after_object_calls: u32,
}

impl Ops {
    /// The header value: `kv-reads=1; kv-writes=0; object-calls=1; after-kv-writes=1; after-object-calls=0`.
    pub(crate) fn header_value(&self) -> String {
        format!(
            "kv-reads={}; kv-writes={}; object-calls={}; after-kv-writes={}; after-object-calls={}",
            self.kv_reads,
            self.kv_writes,
            self.object_calls,
            self.after_kv_writes,
            self.after_object_calls
        )
    }
}

thread_local! {
    static OPS: Cell<Ops> = Cell::new(Ops::default());
}

/// Counts an operation.
pub(crate) fn count(f: impl FnOnce(&mut Ops)) {
    OPS.with(|cell| {
        let mut ops = cell.get();
        f(&mut ops);
        cell.set(ops);
    });
}

/// The counts so far, starting again from zero.
pub(crate) fn take() -> Ops {
    OPS.with(|cell| cell.replace(Ops::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_until_taken() {
        take();
        count(|o| o.kv_reads += 1);
        count(|o| o.object_calls += 1);
        count(|o| o.after_kv_writes += 2);
        let ops = take();
        assert_eq!(
            ops.header_value(),
            "kv-reads=1; kv-writes=0; object-calls=1; after-kv-writes=2; after-object-calls=0"
        );
        assert_eq!(take(), Ops::default());
    }
}
