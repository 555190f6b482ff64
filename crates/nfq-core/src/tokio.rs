//! An async queue for tokio (feature `tokio`): [`AsyncQueue`] waits for packets with tokio's
//! [`AsyncFd`](https://docs.rs/tokio/1/tokio/io/unix/struct.AsyncFd.html) instead of a blocked thread; verdicts are sent as on [`Queue`], from any task.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nfq_core::tokio::AsyncQueue;
//! use nfq_core::{Message, QueueOptions, Verdict, VerdictBuffer, VerdictOptions};
//!
//! # async fn run() -> nfq_core::Result<()> {
//! let queue = Arc::new(AsyncQueue::open(&QueueOptions::new(0))?); // inside a tokio runtime
//! let mut buffers = queue.receive_buffers();
//! let mut verdicts = VerdictBuffer::new();
//! loop {
//!     queue.receive(&mut buffers).await?;
//!     for message in buffers.messages() {
//!         match message {
//!             Ok(Message::Packet(packet)) if packet.payload().is_some_and(|p| p.len() > 1000) => {
//!                 // Decide later, in another task: the verdict goes by id.
//!                 let (queue, id) = (Arc::clone(&queue), packet.id());
//!                 tokio::spawn(async move {
//!                     tokio::time::sleep(Duration::from_millis(10)).await;
//!                     queue.verdict(id, Verdict::Drop, &VerdictOptions::NONE)
//!                 });
//!             }
//!             Ok(Message::Packet(packet)) => verdicts.push(packet.queue(), packet.id(), Verdict::Accept, &VerdictOptions::NONE)?,
//!             // Cut by the receiver (larger than a slot): only the id is known; it still needs a verdict.
//!             Ok(Message::PacketCutByReceiver { queue, id }) => verdicts.push(queue, id, Verdict::Accept, &VerdictOptions::NONE)?,
//!             _ => {}
//!         }
//!     }
//!     queue.send_verdicts(&mut verdicts)?;
//! }
//! # }
//! ```

use std::ops::Deref;

use ::tokio::io::unix::AsyncFd;

use crate::error::{Error, Result};
use crate::{Queue, QueueOptions, RecvBuffers};

/// A [`Queue`] whose [`receive`](AsyncQueue::receive) awaits packets on the tokio runtime.
///
/// It dereferences to the [`Queue`]: verdicts ([`Queue::verdict`], [`Queue::send_verdicts`]),
/// counters and [`Queue::kernel_stats`] work as there, from any task or thread (share it in an
/// [`Arc`](std::sync::Arc)); a verdict is one `sendto`, which does not wait. Receive from one
/// task at a time, with [`AsyncQueue::receive`]: [`Queue::wait`], [`Queue::receive`] and
/// `set_nonblocking(false)` would block the runtime's thread. Configuration calls,
/// [`Queue::stop_queueing`], [`Queue::drain`], [`Queue::shutdown`] and [`AsyncQueue::close`]
/// read the kernel's answers synchronously (a drain for as long as packets are still held): call
/// them while no task receives, from a task that may block briefly (or in
/// `tokio::task::spawn_blocking`).
#[derive(Debug)]
pub struct AsyncQueue {
    inner: AsyncFd<Queue>,
}

impl AsyncQueue {
    /// Opens a queue ([`Queue::open`]) and registers it with the current tokio runtime.
    ///
    /// # Errors
    ///
    /// What [`Queue::open`] returns; [`Error::InvalidArgument`] outside a tokio runtime;
    /// [`Error::Io`] when registering fails (a runtime without IO enabled).
    pub fn open(options: &QueueOptions) -> Result<Self> {
        Self::new(Queue::open(options)?)
    }

    /// Registers an open queue with the current tokio runtime, its socket set non-blocking.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] outside a tokio runtime; [`Error::Io`] when registering fails (a
    /// runtime without IO enabled).
    pub fn new(queue: Queue) -> Result<Self> {
        queue.set_nonblocking(true)?;
        let inner = crate::sys::tokio_fd::register(queue)
            .ok_or_else(|| Error::InvalidArgument {
                option: "runtime",
                message: "an AsyncQueue needs a tokio runtime with IO enabled: open it inside one \
                          (#[tokio::main], or a Runtime built with enable_io)"
                    .into(),
            })?
            .map_err(|e| Error::io("register the queue with tokio", e))?;
        Ok(Self { inner })
    }

    /// Receives a batch of datagrams into `buffers` (one `recvmmsg`), waiting without blocking
    /// the thread until at least one is there. Returns how many arrived (at least 1).
    ///
    /// Cancel-safe: dropped before it returns (a `tokio::select!` branch that lost), it has read
    /// nothing, and the next call gets what is there.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `recvmmsg` or the runtime's wait fails.
    pub async fn receive(&self, buffers: &mut RecvBuffers) -> Result<usize> {
        // Messages read while a configuration call waited for its answer are there already.
        if self.inner.get_ref().has_backlog() {
            return self.inner.get_ref().try_receive(buffers);
        }
        loop {
            let mut guard = self.inner.readable().await.map_err(|e| Error::io("wait for packets", e))?;
            match guard.get_inner().try_receive(buffers) {
                Err(e) if e.is_would_block() => guard.clear_ready(),
                result => return result,
            }
        }
    }

    /// The queue, deregistered from the runtime (its socket stays non-blocking).
    pub fn into_inner(self) -> Queue {
        self.inner.into_inner()
    }

    /// Closes it as [`Queue::close`] does: what still waits gets its verdict, then the queue unbinds.
    ///
    /// # Errors
    ///
    /// What [`Queue::close`] returns.
    pub fn close(self) -> Result<()> {
        self.into_inner().close()
    }
}

impl Deref for AsyncQueue {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        self.inner.get_ref()
    }
}
