//! Work that an object does a moment after its replies, one run at a time: the
//! record shards' insights flush and their fraud guard outcome reports. A run
//! waits (to gather what the next requests bring), then works; a request for
//! work while a run is on makes it run once more after, unless it came before
//! the run's wait ended (then the run took it). The object lives on after its
//! reply while a run goes on; a failed run is left to the object's alarm.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

/// One object's runs of one kind of work.
#[derive(Default)]
pub(crate) struct Soon {
    busy: Rc<Cell<bool>>,
    again: Rc<Cell<bool>>,
}

impl Soon {
    /// Runs `wait` then `work` after the reply, unless a run is on (then it
    /// runs again after it, if needed). `work` failing ends the runs.
    pub(crate) fn run<W, WF, J, JF>(&self, wait: W, work: J)
    where
        W: Fn() -> WF + 'static,
        WF: Future<Output = ()>,
        J: Fn() -> JF + 'static,
        JF: Future<Output = worker::Result<()>>,
    {
        if self.busy.replace(true) {
            self.again.set(true);
            return;
        }
        let (busy, again) = (Rc::clone(&self.busy), Rc::clone(&self.again));
        worker::wasm_bindgen_futures::spawn_local(async move {
            loop {
                wait().await;
                again.set(false);
                if work().await.is_err() || !again.get() {
                    break;
                }
            }
            busy.set(false);
        });
    }
}
