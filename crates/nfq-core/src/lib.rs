#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::must_use_candidate, clippy::missing_errors_doc, clippy::return_self_not_must_use)]
//!
//! ## Layout
//!
//! The crate root is the API to build on: [`Queue`] and its [`QueueOptions`], the batches it
//! receives ([`RecvBuffers`], [`Message`], [`PacketView`]), the verdicts it sends ([`Verdict`],
//! [`VerdictOptions`], [`VerdictBuffer`]), its [`Error`]s and counters ([`QueueStats`],
//! [`QueueTableRow`]). Beside it: [`facts`] (the checked ranges of the options, shared with
//! the TypeScript packages), [`thread`] (tuning a reader thread), and behind features `tokio`
//! (an async queue), `wire` (the message codec, for tools that build or check messages
//! themselves) and `testing` (a kernel in memory). Every `unsafe` block lives in one private
//! module beside the socket code.

mod batch;
mod config;
// The codec's full vocabulary is public through `wire`; without it some of it is unused.
#[cfg_attr(not(feature = "wire"), allow(dead_code))]
mod consts;
mod error;
pub mod facts;
#[cfg_attr(not(feature = "wire"), allow(dead_code))]
mod netlink;
mod packet;
mod privileges;
mod proc_net;
mod queue;
mod sys;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
mod transport;
mod verdict;

pub use batch::{Datagram, Message, RecvBuffers, RecvMemory};
pub use config::{ConfigFlags, CopyMode, OptionLimit, QueueOptions, DEFAULT_BATCH_SIZE, DEFAULT_SLOT_SIZE};
pub use error::{errno_name, DecodeError, DecodeErrorKind, Error, ErrorKind, Result};
pub use netlink::ErrorMessage;
pub use packet::{hook_name, ConntrackInfo, PacketView, Timestamp, Vlan};
pub use privileges::{drop_privileges, drop_privileges_by_thread};
pub use proc_net::{bound_queues, BoundQueue, QueueTableRow, SocketOwner};
pub use queue::{DrainReport, Queue, QueueStats};
pub use sys::{Interrupt, Readiness, UserIds};
pub use transport::{Host, KernelTransport, Transport};
pub use verdict::{ConntrackUpdate, Verdict, VerdictBuffer, VerdictOptions, MAX_VERDICT_PAYLOAD};

/// Tuning the thread that receives: pin it to CPUs, give it a nice value.
pub mod thread {
    use crate::{Error, Result};

    /// Pins the calling thread to `cpus` (`sched_setaffinity`), e.g. away from the cores that
    /// handle the NIC's interrupts.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (EINVAL) for a CPU number at or above `CPU_SETSIZE` or a set with no CPU
    /// this process may use.
    pub fn pin_current_thread(cpus: &[usize]) -> Result<()> {
        crate::sys::pin_current_thread(cpus).map_err(|e| Error::io(format!("pin this thread to CPUs {cpus:?}"), e))
    }

    /// Sets the calling thread's nice value (-20 = most favoured).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (EACCES) for a value below the current one without CAP_SYS_NICE.
    pub fn set_current_thread_nice(nice: i32) -> Result<()> {
        crate::sys::set_current_thread_nice(nice).map_err(|e| Error::io(format!("set this thread's nice value to {nice}"), e))
    }
}

/// The nfnetlink_queue wire format, for tools that build or check messages themselves (a
/// fuzzer, a recorder of fixtures, another binding's encoder): the netlink framing, the
/// configuration and verdict message builders and the protocol's constants. A queue needs
/// none of it.
#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
pub mod wire {
    pub use crate::batch::NLM_F_NFQ_CUT_BY_RECEIVER;
    pub use crate::config::{put_config_command, put_config_flags, put_config_max_len, put_config_params, ConfigCommand};
    pub use crate::consts::*;
    pub use crate::netlink::{align, nfgenmsg, nlattr, nlmsgerr, nlmsghdr, Attribute, Attributes, MessageHeader, MessageWriter, Messages};
    pub use crate::packet::nfqnl_msg_packet_hdr;
    pub use crate::verdict::{put_verdict, put_verdict_batch};
}
