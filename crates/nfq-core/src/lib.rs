#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
//!
//! ## Layout
//!
//! [`sys`] holds every `unsafe` block; [`netlink`] frames messages; [`packet`]
//! reads them; [`verdict`] and [`config`] write them; [`Queue`] ties them to a
//! [`Transport`], the real kernel ([`KernelTransport`]) or `testing::FakeKernel` (feature
//! `testing`).

pub mod batch;
pub mod config;
pub mod consts;
pub mod error;
pub mod facts;
pub mod netlink;
pub mod packet;
pub mod privileges;
pub mod proc_net;
pub mod queue;
pub mod sys;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod transport;
pub mod verdict;

pub use batch::{Datagram, Message, RecvBuffers, RecvMemory};
pub use config::{ConfigFlags, CopyMode, OptionLimit, QueueOptions};
pub use error::{DecodeError, DecodeErrorKind, Error, ErrorKind, Result};
pub use netlink::ErrorMessage;
pub use packet::{ConntrackInfo, PacketView, Timestamp, Vlan};
pub use queue::{DrainReport, Queue, QueueStats};
pub use sys::{Interrupt, Readiness};
pub use privileges::{drop_privileges, drop_privileges_by_thread};
pub use proc_net::{BoundQueue, QueueTableRow, SocketOwner};
pub use transport::{Host, KernelTransport, Transport};
pub use verdict::{ConntrackUpdate, Verdict, VerdictBuffer, VerdictOptions};
