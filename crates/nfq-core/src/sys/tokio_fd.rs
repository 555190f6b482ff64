//! Registering a queue's socket with tokio's reactor (feature `tokio`).

use std::io;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::Queue;

/// `queue` registered for readability with the current runtime's reactor; `None` outside a
/// tokio runtime (where `AsyncFd` would panic).
pub fn register(queue: Queue) -> Option<io::Result<AsyncFd<Queue>>> {
    tokio::runtime::Handle::try_current().ok()?;
    // SAFETY: the descriptor is the queue's own netlink socket (an OwnedFd inside it), open for
    // as long as the Queue lives; `as_raw_fd` always returns that one descriptor (nothing in the
    // crate replaces it); the AsyncFd owns the Queue, so the socket cannot close before it is
    // deregistered (on drop or `into_inner`).
    Some(unsafe { AsyncFd::register_with_interest(queue, Interest::READABLE) }.map_err(|e| e.into_parts().1))
}
