//! Calls into a running node from other threads.
//!
//! A real program has inputs the event loop does not own: a stdin reader, a signal, a test
//! thread. [`External`] queues a closure for the node on a channel and wakes the loop with a
//! [`mio::Waker`]; the loop runs it as one more event, with the node and a context, and
//! carries out its effects like any handler's.

use crate::ctx::Ctx;
use crate::node::Node;
use mio::Waker;
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// A call to run on the node inside its event loop.
pub type ExternalCall<N> = Box<dyn FnOnce(&mut N, &mut Ctx<'_, <N as Node>::Event>) + Send>;

/// A `Send + Clone` handle that runs calls on a [`Runtime`](super::Runtime)'s node.
pub struct External<N: Node> {
    pub(crate) calls: Sender<ExternalCall<N>>,
    pub(crate) waker: Arc<Waker>,
}

impl<N: Node> Clone for External<N> {
    fn clone(&self) -> Self {
        External {
            calls: self.calls.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<N: Node> External<N> {
    /// Run `call` on the node as the loop's next event. Calls run in the order they were
    /// made (per handle). If the runtime is gone the call is dropped.
    pub fn call(&self, call: ExternalCall<N>) {
        if self.calls.send(call).is_ok() {
            // A failed wake leaves the call queued; the loop runs it on its next event.
            let _ = self.waker.wake();
        }
    }

    /// [`External::call`] without the box.
    pub fn run(&self, call: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) + Send + 'static) {
        self.call(Box::new(call));
    }
}
