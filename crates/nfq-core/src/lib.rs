//! # nfq-core
//!
//! Linux `nfnetlink_queue` (iptables `-j NFQUEUE`) from Rust, built for throughput:
//! packets arrive in batches (`recvmmsg` into reusable buffers), are read in place
//! through [`PacketView`], and verdicts are coalesced into one `sendto`.
//! No Node.js, no C library: only `libc`.
//!
//! ```no_run
//! use nfq_core::{Message, Queue, QueueOptions, RecvBuffers, Verdict, VerdictBuffer, VerdictOptions};
//!
//! let queue = Queue::open(&QueueOptions::new(0))?;
//! let mut buffers = RecvBuffers::new(64, nfq_core::config::DEFAULT_SLOT_SIZE);
//! let mut verdicts = VerdictBuffer::new();
//! loop {
//!     queue.receive(&mut buffers, true)?;
//!     for message in buffers.messages() {
//!         if let Ok(Message::Packet(packet)) = message {
//!             verdicts.push(packet.queue(), packet.id(), Verdict::Accept, &VerdictOptions::default())?;
//!         }
//!     }
//!     queue.send_verdicts(&mut verdicts)?;
//! }
//! # Ok::<(), nfq_core::Error>(())
//! ```
//!
//! Layout: [`sys`] holds every `unsafe` block; [`netlink`] frames messages;
//! [`packet`] reads them; [`verdict`] and [`config`] write them; [`Queue`] ties
//! them to a [`Transport`], the real kernel or [`testing::FakeKernel`].

pub mod batch;
pub mod config;
pub mod consts;
pub mod error;
pub mod netlink;
pub mod packet;
pub mod queue;
pub mod sys;
pub mod testing;
pub mod transport;
pub mod verdict;

pub use batch::{Datagram, Message, RecvBuffers};
pub use config::{ConfigFlags, CopyMode, QueueOptions};
pub use error::{DecodeError, DecodeErrorKind, Error, ErrorKind, Result};
pub use netlink::ErrorMessage;
pub use packet::{ConntrackInfo, PacketView, Timestamp, Vlan};
pub use queue::{Queue, QueueStats};
pub use sys::{Interrupt, Readiness};
pub use transport::{KernelTransport, Transport};
pub use verdict::{ConntrackUpdate, Verdict, VerdictBuffer, VerdictOptions};
