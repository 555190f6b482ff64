//! A fake kernel for tests without privileges, and a builder of packet messages.
//!
//! ```
//! use nfq_core::testing::{FakeKernel, PacketBuilder};
//! use nfq_core::{Message, Queue, QueueOptions, RecvBuffers};
//!
//! let kernel = FakeKernel::new();
//! let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(3)).unwrap();
//! kernel.deliver(PacketBuilder::new(3, 1).payload(b"\x45...").build());
//! let mut buffers = RecvBuffers::new(8, 4096);
//! assert_eq!(queue.try_receive(&mut buffers).unwrap(), 1);
//! let Some(Ok(Message::Packet(p))) = buffers.messages().next() else { panic!() };
//! assert_eq!(p.id(), 1);
//! ```

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use crate::consts::*;
use crate::netlink::{nlmsgerr, nlmsghdr, MessageHeader, MessageWriter, Messages};
use crate::packet::nfqnl_msg_packet_hdr;
use crate::sys::{Interrupt, Readiness, RecvBuffers};
use crate::proc_net::QUEUE_TABLE;
use crate::transport::{Host, Transport};

// For tests that set up traffic in a namespace of their own (documented where it is defined).
pub use crate::sys::run_in_netns;

type AnswerRule = dyn Fn(&[u8]) -> i32 + Send + Sync;

struct State {
    sent: Vec<Vec<u8>>,
    incoming: VecDeque<(Vec<u8>, u32)>,
    answer: Arc<AnswerRule>,
    cap_net_admin: bool,
    queue_table: Option<String>,
    max_datagram: usize,
}

/// An in-memory kernel: records what is sent, acknowledges requests that ask
/// for it (errno chosen by a rule, 0 by default), and delivers datagrams that
/// the test queues. Clones share state.
#[derive(Clone)]
pub struct FakeKernel {
    state: Arc<Mutex<State>>,
}

impl Default for FakeKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for FakeKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKernel").finish_non_exhaustive()
    }
}

impl FakeKernel {
    /// A kernel with nfnetlink_queue that acknowledges every request, with CAP_NET_ADMIN held.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                sent: Vec::new(),
                incoming: VecDeque::new(),
                answer: Arc::new(|_| 0),
                cap_net_admin: true,
                queue_table: Some(String::new()),
                max_datagram: 212_992 - 64,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers each acknowledged request with the errno `rule` returns for it (0 = success).
    #[must_use]
    pub fn answer_with(self, rule: impl Fn(&[u8]) -> i32 + Send + Sync + 'static) -> Self {
        self.lock().answer = Arc::new(rule);
        self
    }

    /// Pretends the process lacks CAP_NET_ADMIN.
    #[must_use]
    pub fn without_cap_net_admin(self) -> Self {
        self.lock().cap_net_admin = false;
        self
    }

    /// The text `/proc/net/netfilter/nfnetlink_queue` shows.
    #[must_use]
    pub fn with_queue_table(self, text: &str) -> Self {
        self.lock().queue_table = Some(text.to_owned());
        self
    }

    /// Pretends the kernel has no nfnetlink_queue (no `/proc/net/netfilter/nfnetlink_queue`).
    #[must_use]
    pub fn without_nfnetlink_queue(self) -> Self {
        self.lock().queue_table = None;
        self
    }

    /// Limits datagram size, to test splitting of large verdict sends.
    #[must_use]
    pub fn with_max_datagram(self, bytes: usize) -> Self {
        self.lock().max_datagram = bytes;
        self
    }

    /// Queues a datagram from the kernel for the next receive.
    pub fn deliver(&self, datagram: Vec<u8>) {
        self.lock().incoming.push_back((datagram, 0));
    }

    /// Queues a datagram from another port (a message the kernel would never send).
    pub fn deliver_from(&self, datagram: Vec<u8>, port: u32) {
        self.lock().incoming.push_back((datagram, port));
    }

    /// Every datagram sent so far.
    #[must_use]
    pub fn sent_datagrams(&self) -> Vec<Vec<u8>> {
        self.lock().sent.clone()
    }

    /// Every message sent so far, in order.
    #[must_use]
    pub fn sent_messages(&self) -> Vec<Vec<u8>> {
        self.lock().sent.iter().flat_map(|d| Messages::new(d).flatten().map(<[u8]>::to_vec).collect::<Vec<_>>()).collect()
    }
}

/// An `NLMSG_ERROR` answering `request` with `errno` (0 = acknowledgement), header echoed only.
#[must_use]
pub fn error_message(request: &[u8], errno: i32) -> Vec<u8> {
    let mut m = Vec::with_capacity(nlmsgerr::END);
    m.extend_from_slice(&(nlmsgerr::END as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    m.extend_from_slice(&NLM_F_CAPPED.to_ne_bytes());
    m.extend_from_slice(&request[nlmsghdr::SEQ..nlmsghdr::SEQ + 4]); // seq of the request
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&(-errno).to_ne_bytes());
    m.extend_from_slice(&request[..nlmsghdr::END]);
    debug_assert_eq!(m.len(), nlmsgerr::END);
    m
}

impl Transport for FakeKernel {
    fn send(&self, datagram: &[u8]) -> io::Result<usize> {
        let mut state = self.lock();
        if datagram.len() > state.max_datagram {
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        state.sent.push(datagram.to_vec());
        let answer = state.answer.clone();
        for message in Messages::new(datagram) {
            let message = message.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let header = MessageHeader::parse(message).expect("whole message");
            if header.flags & NLM_F_ACK != 0 {
                let errno = answer(message);
                state.incoming.push_back((error_message(message, errno), 0));
            }
        }
        Ok(datagram.len())
    }

    fn receive(&self, buffers: &mut RecvBuffers, _wait: bool) -> io::Result<usize> {
        buffers.clear();
        let mut state = self.lock();
        while let Some((datagram, port)) = state.incoming.front() {
            if !buffers.push_datagram(datagram, *port) {
                break;
            }
            state.incoming.pop_front();
        }
        if buffers.is_empty() {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        Ok(buffers.len())
    }

    fn wait(&self, interrupt: Option<&Interrupt>, _timeout: Option<std::time::Duration>) -> io::Result<Readiness> {
        let _ = interrupt;
        Ok(Readiness { readable: !self.lock().incoming.is_empty(), interrupted: false })
    }

    fn port_id(&self) -> u32 {
        4242
    }

    fn max_datagram(&self) -> usize {
        self.lock().max_datagram
    }

}

impl Host for FakeKernel {
    fn has_cap_net_admin(&self) -> bool {
        self.lock().cap_net_admin
    }

    fn proc_net(&self, file: &str) -> Option<String> {
        (file == QUEUE_TABLE).then(|| self.lock().queue_table.clone()).flatten()
    }
}

/// Builds an `NFQNL_MSG_PACKET` message as the kernel would send it.
#[derive(Debug, Clone)]
pub struct PacketBuilder {
    queue: u16,
    family: u8,
    id: u32,
    hw_protocol: u16,
    hook: u8,
    attributes: Vec<(u16, Vec<u8>)>,
}

impl PacketBuilder {
    /// Packet `id` of `queue`: IPv4, hook OUTPUT, no other attribute yet.
    #[must_use]
    pub fn new(queue: u16, id: u32) -> Self {
        Self { queue, family: AF_INET, id, hw_protocol: 0x0800, hook: 3, attributes: Vec::new() }
    }
    /// Sets the protocol family.
    #[must_use]
    pub fn family(mut self, family: u8) -> Self {
        self.family = family;
        self
    }
    /// Sets the hardware protocol.
    #[must_use]
    pub fn hw_protocol(mut self, hw_protocol: u16) -> Self {
        self.hw_protocol = hw_protocol;
        self
    }
    /// Sets the hook.
    #[must_use]
    pub fn hook(mut self, hook: u8) -> Self {
        self.hook = hook;
        self
    }
    /// Adds any attribute.
    #[must_use]
    pub fn attribute(mut self, kind: u16, payload: &[u8]) -> Self {
        self.attributes.push((kind, payload.to_vec()));
        self
    }
    /// Adds a big-endian u32 attribute.
    #[must_use]
    pub fn be_u32(self, kind: u16, value: u32) -> Self {
        self.attribute(kind, &value.to_be_bytes())
    }
    /// Adds `NFQA_MARK`.
    #[must_use]
    pub fn mark(self, mark: u32) -> Self {
        self.be_u32(NFQA_MARK, mark)
    }
    /// Adds `NFQA_PAYLOAD`.
    #[must_use]
    pub fn payload(self, payload: &[u8]) -> Self {
        self.attribute(NFQA_PAYLOAD, payload)
    }
    /// The message bytes.
    #[must_use]
    pub fn build(&self) -> Vec<u8> {
        let mut w = MessageWriter::new();
        w.begin_nfnetlink(nfqueue_msg_type(NFQNL_MSG_PACKET), 0, 0, self.family, self.queue);
        use nfqnl_msg_packet_hdr::{END, HOOK, HW_PROTOCOL, PACKET_ID};
        let mut header = [0u8; END];
        header[PACKET_ID..PACKET_ID + 4].copy_from_slice(&self.id.to_be_bytes());
        header[HW_PROTOCOL..HW_PROTOCOL + 2].copy_from_slice(&self.hw_protocol.to_be_bytes());
        header[HOOK] = self.hook;
        w.put(NFQA_PACKET_HDR, &header);
        for (kind, payload) in &self.attributes {
            w.put(*kind, payload);
        }
        w.bytes().to_vec()
    }
}
