//! A bound queue: configuration with checked acknowledgements, batched receive,
//! coalesced verdicts.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{self, ConfigCommand, ConfigFlags, CopyMode, QueueOptions, DEFAULT_SLOT_SIZE};
use crate::consts::*;
use crate::error::{Error, Result};
use crate::netlink::{ErrorMessage, MessageHeader, MessageWriter, Messages};
use crate::sys::{Interrupt, Readiness, RecvBuffers};
use crate::batch::Message;
use crate::proc_net::{find_queue_owner, parse_queue_table, QueueTableRow, QUEUE_TABLE};
use crate::transport::{Host, KernelTransport, Transport};
use crate::verdict::{Verdict, VerdictBuffer, VerdictOptions};

/// What [`Queue::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Packets read from the socket and given the drain's verdict.
    pub drained: u64,
    /// Packets still waiting when the deadline passed (held by code that never gave their
    /// verdict), given the drain's verdict with one VERDICT_BATCH.
    pub swept: u64,
    /// Packets the kernel still shows waiting for this socket at the end: 0 when the drain
    /// succeeded, `None` when `/proc/net/netfilter/nfnetlink_queue` of the queue's namespace
    /// could not be read (e.g. without CAP_SYS_ADMIN to enter it).
    pub waiting: Option<u32>,
}

/// Counters of a queue's life. Read with [`Queue::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// `recvmmsg` calls that returned datagrams.
    pub batches: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Times the socket buffer overflowed (ENOBUFS): the kernel dropped messages.
    pub overruns: u64,
    /// Datagrams cut by the receiver: they did not fit a receive slot (`MSG_TRUNC`).
    pub cut_by_receiver: u64,
    /// Datagrams from another port than the kernel's (a message the kernel would never send):
    /// counted and skipped by `RecvBuffers::copy_messages_into`.
    pub foreign: u64,
    /// Verdict messages sent.
    pub verdicts_sent: u64,
    /// `sendto` calls made for verdicts.
    pub verdict_sends: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    datagrams: AtomicU64,
    overruns: AtomicU64,
    cut_by_receiver: AtomicU64,
    foreign: AtomicU64,
    verdicts_sent: AtomicU64,
    verdict_sends: AtomicU64,
}

/// A queue bound to one socket: the counterpart of libnetfilter_queue's
/// `nfq_handle` + `nfq_q_handle`, over any [`Transport`].
///
/// Receiving and sending verdicts take `&self` and may run on different threads
/// at once. Configuration calls read their acknowledgement from the socket, so
/// they must not run while another thread is receiving; whatever they read
/// besides their acknowledgement is kept and returned by the next receive.
#[derive(Debug)]
pub struct Queue<T: Transport + Host = KernelTransport> {
    transport: T,
    queue: u16,
    seq: AtomicU32,
    backlog: Mutex<Vec<Vec<u8>>>,
    has_backlog: AtomicBool,
    bound: AtomicBool,
    /// The verdict [`Queue::stop_queueing`] chose, which `close` gives to what still waits
    /// (0 accept, 1 drop, 2 not chosen: accept).
    shutdown_verdict: AtomicU32,
    counters: Counters,
    batch_size: usize,
}

impl Queue<KernelTransport> {
    /// Opens a socket (in `options.netns` if given), sets its options, binds the
    /// queue and configures it. Every request is acknowledged or the error says why.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an option out of range; [`Error::PermissionDenied`] without
    /// CAP_NET_ADMIN; [`Error::AlreadyBound`] when another socket holds the queue (it names the
    /// process); [`Error::Unsupported`] for a flag this kernel lacks; [`Error::Namespace`] when
    /// `netns` cannot be entered; [`Error::Io`] when the socket cannot be made.
    pub fn open(options: &QueueOptions) -> Result<Self> {
        options.validate()?;
        let netns = options.netns_path();
        let transport = KernelTransport::open(netns.as_deref()).map_err(|e| match &netns {
            // Opening the namespace file (ENOENT, EACCES) or setns (EPERM without CAP_SYS_ADMIN,
            // EINVAL when the file is not a network namespace): socket(2) itself fails with none.
            Some(path) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EPERM | libc::EACCES | libc::EINVAL)) => {
                Error::Namespace { operation: "open netlink socket".into(), path: path.clone(), source: e }
            }
            _ if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => Error::Unsupported {
                operation: "open netlink socket".into(),
                feature: Some("nfnetlink (NETLINK_NETFILTER sockets)"),
                hint: Some("use a kernel built with CONFIG_NETFILTER_NETLINK and CONFIG_NETFILTER_NETLINK_QUEUE"),
            },
            _ => Error::io("open netlink socket", e),
        })?;
        transport.set_extended_ack(true).map_err(|e| Error::io("enable extended ACK", e))?;
        if options.no_enobufs {
            transport.set_no_enobufs(true).map_err(|e| Error::io("set NETLINK_NO_ENOBUFS", e))?;
        }
        if let Some(size) = options.receive_buffer {
            transport.set_receive_buffer(size).map_err(|e| Error::io("set receive buffer size", e))?;
        }
        Self::with_transport(transport, options)
    }
}

/// The socket's descriptor, for an event loop (epoll, mio, tokio's `AsyncFd`) to wait on.
impl std::os::fd::AsFd for Queue<KernelTransport> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.transport.socket().as_fd()
    }
}

/// The socket's descriptor (see the [`AsFd`](std::os::fd::AsFd) implementation).
impl std::os::fd::AsRawFd for Queue<KernelTransport> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.transport.socket().as_raw_fd()
    }
}

impl Queue<KernelTransport> {
    /// Non-blocking mode: [`Queue::receive`] returns what [`Queue::try_receive`] returns when
    /// nothing is ready instead of waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `fcntl` fails.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.transport.socket().set_nonblocking(nonblocking).map_err(|e| Error::io("set O_NONBLOCK", e))
    }

    /// NETLINK_NO_ENOBUFS on or off: when on, an overflowing socket buffer drops
    /// messages silently instead of reporting ENOBUFS (then counted as overruns).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the kernel refuses the socket option.
    pub fn set_no_enobufs(&self, on: bool) -> Result<()> {
        self.transport.set_no_enobufs(on).map_err(|e| Error::io("set NETLINK_NO_ENOBUFS", e))
    }

    /// Sets the socket receive buffer: SO_RCVBUFFORCE (past `rmem_max`, needs CAP_NET_ADMIN),
    /// falling back to SO_RCVBUF. Returns the size the kernel reports (it doubles the request).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the kernel refuses both options.
    pub fn set_receive_buffer(&self, bytes: usize) -> Result<usize> {
        self.transport.set_receive_buffer(bytes).map_err(|e| Error::io("set receive buffer size", e))
    }

    /// The network interfaces of the queue's network namespace, `(index, name)`: to name a
    /// packet's [`PacketView::indev`](crate::PacketView::indev) and the other interface indexes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the interfaces cannot be listed (or the namespace entered).
    pub fn interfaces(&self) -> Result<Vec<(u32, String)>> {
        self.transport.interfaces().map_err(|e| Error::io("list network interfaces", e))
    }
}

impl<T: Transport + Host> Queue<T> {
    /// Binds and configures the queue over `transport` (a fake, in tests).
    ///
    /// # Errors
    ///
    /// As [`Queue::open`], from the transport's answers.
    pub fn with_transport(transport: T, options: &QueueOptions) -> Result<Self> {
        options.validate()?;
        let queue = Self {
            transport,
            queue: options.queue,
            seq: AtomicU32::new(1),
            backlog: Mutex::new(Vec::new()),
            has_backlog: AtomicBool::new(false),
            bound: AtomicBool::new(false),
            shutdown_verdict: AtomicU32::new(2),
            counters: Counters::default(),
            batch_size: options.batch_size,
        };
        queue.bind()?;
        queue.set_copy_mode(options.copy_mode, options.copy_range)?;
        if let Some(max_len) = options.max_len {
            queue.set_max_len(max_len)?;
        }
        if options.flags != ConfigFlags::NONE {
            queue.set_flags(options.flags, options.flags)?;
        }
        Ok(queue)
    }

    /// Datagrams per `recvmmsg`: [`QueueOptions::batch_size`].
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Receive buffers for this queue: [`Queue::batch_size`] slots of
    /// [`DEFAULT_SLOT_SIZE`] bytes (a 64 KB GSO packet and its
    /// attributes fit whole).
    pub fn receive_buffers(&self) -> RecvBuffers {
        RecvBuffers::new(self.batch_size, DEFAULT_SLOT_SIZE)
    }

    /// Queue number.
    pub fn queue_num(&self) -> u16 {
        self.queue
    }

    /// Netlink port id of the socket.
    pub fn port_id(&self) -> u32 {
        self.transport.port_id()
    }

    /// Binds the socket to the queue (done by `open`).
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] without CAP_NET_ADMIN; [`Error::AlreadyBound`] when another
    /// socket holds the queue; [`Error::Io`] when the request cannot be sent or answered.
    pub fn bind(&self) -> Result<()> {
        self.command(ConfigCommand::Bind)?;
        self.bound.store(true, Ordering::Release);
        Ok(())
    }

    /// Unbinds the queue; packets still queued are dropped by the kernel unless
    /// verdicted before. Closing the socket unbinds too.
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] when the kernel refuses (the queue is not bound to this socket);
    /// [`Error::Io`] when the request cannot be sent or answered.
    pub fn unbind(&self) -> Result<()> {
        self.command(ConfigCommand::Unbind)?;
        self.bound.store(false, Ordering::Release);
        Ok(())
    }

    /// Legacy protocol-family bind (`nfq_bind_pf`); a no-op since Linux 3.8, kept for old kernels.
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] or [`Error::Io`] when the kernel refuses or cannot be reached.
    pub fn pf_bind(&self, family: u8) -> Result<()> {
        self.command(ConfigCommand::PfBind(family))
    }

    /// Legacy protocol-family unbind (`nfq_unbind_pf`).
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] or [`Error::Io`] when the kernel refuses or cannot be reached.
    pub fn pf_unbind(&self, family: u8) -> Result<()> {
        self.command(ConfigCommand::PfUnbind(family))
    }

    fn command(&self, command: ConfigCommand) -> Result<()> {
        let op = match command {
            ConfigCommand::Bind => format!("bind queue {}", self.queue),
            ConfigCommand::Unbind => format!("unbind queue {}", self.queue),
            ConfigCommand::PfBind(pf) => format!("bind protocol family {pf}"),
            ConfigCommand::PfUnbind(pf) => format!("unbind protocol family {pf}"),
        };
        self.request(&op, |w, seq| config::put_config_command(w, seq, self.queue, command))
    }

    /// Sets the copy mode and range (`nfq_set_mode`); [`CopyMode::None`] is refused (see there).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for [`CopyMode::None`] or a range above 65535; [`Error::Kernel`]
    /// or [`Error::Io`] when the kernel refuses or cannot be reached.
    pub fn set_copy_mode(&self, mode: CopyMode, range: u32) -> Result<()> {
        config::check_copy_mode(mode)?;
        crate::facts::COPY_RANGE.check(range)?;
        let op = format!("set copy mode of queue {}", self.queue);
        self.request(&op, |w, seq| config::put_config_params(w, seq, self.queue, mode, range))
    }

    /// Sets the kernel queue length (`nfq_set_queue_maxlen`).
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] or [`Error::Io`] when the kernel refuses or cannot be reached.
    pub fn set_max_len(&self, max_len: u32) -> Result<()> {
        let op = format!("set max length of queue {}", self.queue);
        self.request(&op, |w, seq| config::put_config_max_len(w, seq, self.queue, max_len))
    }

    /// Sets the flags selected by `mask` to their values in `flags` (`nfq_set_queue_flags`).
    /// When the kernel refuses, each flag is tried alone so the error names the missing one.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] naming the first flag this kernel lacks and what provides it;
    /// [`Error::Kernel`] or [`Error::Io`] otherwise.
    pub fn set_flags(&self, flags: ConfigFlags, mask: ConfigFlags) -> Result<()> {
        let op = format!("set flags of queue {}", self.queue);
        let result = self.request(&op, |w, seq| config::put_config_flags(w, seq, self.queue, flags, mask));
        let Err(Error::Unsupported { .. }) = result else { return result };
        let wanted = ConfigFlags(flags.0 & mask.0);
        for flag in wanted.iter() {
            if let Err(Error::Unsupported { operation, .. }) =
                self.request(&op, |w, seq| config::put_config_flags(w, seq, self.queue, flag, flag))
            {
                return Err(Error::Unsupported {
                    operation,
                    feature: Some(flag.name()),
                    hint: Some(flag.kernel_requirement()),
                });
            }
        }
        result
    }

    /// Sends one request with NLM_F_ACK and waits for its answer.
    fn request(&self, op: &str, build: impl FnOnce(&mut MessageWriter, u32)) -> Result<()> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut writer = MessageWriter::with_capacity(64);
        build(&mut writer, seq);
        self.transport.send(writer.bytes()).map_err(|e| Error::io(op, e))?;
        self.await_ack(op, seq)
    }

    /// Reads until the answer to `seq`. The kernel answers inside the `sendto` that
    /// carried the request, so the answer is already queued: read without blocking.
    fn await_ack(&self, op: &str, seq: u32) -> Result<()> {
        let mut buffers = RecvBuffers::new(8, DEFAULT_SLOT_SIZE);
        let mut lost = false;
        loop {
            match self.transport.receive(&mut buffers, false) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.counters.overruns.fetch_add(1, Ordering::Relaxed);
                    lost = true;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let why = if lost { "the socket buffer overflowed and dropped it" } else { "none arrived" };
                    return Err(Error::io(format!("{op}: no answer from the kernel ({why})"), e));
                }
                Err(e) => return Err(Error::io(op, e)),
            }
            let mut answer = None;
            for d in buffers.datagrams() {
                let is_answer = Messages::new(d.bytes).flatten().any(|m| {
                    let Ok(h) = MessageHeader::parse(m) else { return false };
                    if h.kind == NLMSG_ERROR {
                        if let Ok(e) = ErrorMessage::parse(m) {
                            if e.request.seq == seq && d.sender_port == 0 {
                                answer = Some((e.errno, e.ext_ack_message.map(str::to_owned)));
                                return true;
                            }
                        }
                    }
                    false
                });
                if !is_answer {
                    self.backlog.lock().unwrap_or_else(|p| p.into_inner()).push(d.bytes.to_vec());
                    self.has_backlog.store(true, Ordering::Release);
                }
            }
            if let Some((errno, message)) = answer {
                return match errno {
                    0 => Ok(()),
                    errno => Err(self.explain(op, errno, message)),
                };
            }
        }
    }

    /// Turns a refused request into the error a person can act on.
    fn explain(&self, op: &str, errno: i32, message: Option<String>) -> Error {
        match errno {
            libc::EPERM if !self.transport.has_cap_net_admin() => Error::PermissionDenied { operation: op.to_owned() },
            libc::EPERM => {
                let owner = find_queue_owner(&self.transport, self.queue);
                Error::AlreadyBound {
                    queue: self.queue,
                    owner_port_id: owner.as_ref().map(|o| o.port_id),
                    owner_process: owner.and_then(|o| Some((o.pid?, o.command.unwrap_or_default()))),
                }
            }
            libc::EOPNOTSUPP if self.transport.proc_net(QUEUE_TABLE).is_none() => Error::Unsupported {
                operation: op.to_owned(),
                feature: Some("nfnetlink_queue"),
                hint: Some("load it with `modprobe nfnetlink_queue`, or use a kernel built with CONFIG_NETFILTER_NETLINK_QUEUE"),
            },
            libc::EOPNOTSUPP => Error::Unsupported { operation: op.to_owned(), feature: None, hint: None },
            errno => Error::Kernel { operation: op.to_owned(), errno, message },
        }
    }

    /// Receives a batch of datagrams into `buffers` with one `recvmmsg`, waiting until at least
    /// one arrives, then taking what else is ready (up to [`Queue::batch_size`]). Returns how
    /// many arrived. ENOBUFS (the socket buffer overflowed: the kernel dropped messages) is
    /// counted in [`QueueStats::overruns`] and reading goes on.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `recvmmsg` fails; in non-blocking mode ([`Queue::set_nonblocking`])
    /// one with [`Error::is_would_block`] when nothing is ready.
    pub fn receive(&self, buffers: &mut RecvBuffers) -> Result<usize> {
        self.receive_batch(buffers, true)
    }

    /// Receives what is ready without waiting, as [`Queue::receive`] does: for event loops
    /// (epoll, mio, tokio's `AsyncFd`; see the `tokio` feature), which wait for the descriptor
    /// ([`AsFd`](std::os::fd::AsFd)) and then read until nothing is left.
    ///
    /// # Errors
    ///
    /// When nothing is ready, an error whose [`Error::is_would_block`] is true and which
    /// converts into an [`io::Error`] of kind [`io::ErrorKind::WouldBlock`], as event loops
    /// expect; [`Error::Io`] when `recvmmsg` fails.
    pub fn try_receive(&self, buffers: &mut RecvBuffers) -> Result<usize> {
        self.receive_batch(buffers, false)
    }

    /// Whether messages read while a configuration call waited for its answer wait to be received.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn has_backlog(&self) -> bool {
        self.has_backlog.load(Ordering::Acquire)
    }

    /// [`Queue::try_receive`] with "nothing ready" as `Ok(0)`: for loops that empty the socket
    /// (`while queue.receive_ready(&mut buffers)? > 0 { ... }`) before waiting for it again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `recvmmsg` fails.
    pub fn receive_ready(&self, buffers: &mut RecvBuffers) -> Result<usize> {
        match self.try_receive(buffers) {
            Err(e) if e.is_would_block() => Ok(0),
            other => other,
        }
    }

    fn receive_batch(&self, buffers: &mut RecvBuffers, wait: bool) -> Result<usize> {
        buffers.clear();
        if self.has_backlog.load(Ordering::Acquire) {
            let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            let mut taken = 0;
            for d in backlog.iter() {
                if !buffers.push_datagram(d, 0) {
                    break;
                }
                taken += 1;
            }
            backlog.drain(..taken);
            self.has_backlog.store(!backlog.is_empty(), Ordering::Release);
            if taken > 0 {
                return Ok(self.count_batch(buffers));
            }
        }
        loop {
            match self.transport.receive(buffers, wait) {
                Ok(_) => return Ok(self.count_batch(buffers)),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.counters.overruns.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => return Err(Error::io(format!("receive from queue {}", self.queue), e)),
            }
        }
    }

    fn count_batch(&self, buffers: &RecvBuffers) -> usize {
        let n = buffers.len();
        if n > 0 {
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters.datagrams.fetch_add(n as u64, Ordering::Relaxed);
            let cut = buffers.datagrams().filter(|d| d.cut_by_receiver).count();
            if cut > 0 {
                self.counters.cut_by_receiver.fetch_add(cut as u64, Ordering::Relaxed);
            }
            let foreign = buffers.datagrams().filter(|d| d.sender_port != 0).count();
            if foreign > 0 {
                self.counters.foreign.fetch_add(foreign as u64, Ordering::Relaxed);
            }
        }
        n
    }

    /// Waits until a receive would find data, or `interrupt` fires (from another thread), at
    /// most `timeout` (`None`: no limit). A reader thread that must stop on request waits here,
    /// then calls [`Queue::try_receive`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `poll` fails.
    pub fn wait(&self, interrupt: Option<&Interrupt>, timeout: Option<Duration>) -> Result<Readiness> {
        if self.has_backlog.load(Ordering::Acquire) {
            return Ok(Readiness { readable: true, interrupted: false });
        }
        self.transport.wait(interrupt, timeout).map_err(|e| Error::io("wait for packets", e))
    }

    /// Sends one verdict now (`nfq_set_verdict2`). Prefer [`Queue::send_verdicts`] for many.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a replacement payload too large for a verdict; [`Error::Io`]
    /// when `sendto` fails. A verdict the kernel refuses (an unknown id) arrives later as a
    /// [`Message::Error`](crate::Message::Error).
    pub fn verdict(&self, id: u32, verdict: Verdict, options: &VerdictOptions) -> Result<()> {
        let mut buffer = VerdictBuffer::new();
        buffer.push(self.queue, id, verdict, options)?;
        self.send_verdicts(&mut buffer)
    }

    /// Sends every verdict in `verdicts` in as few `sendto` calls as the socket
    /// allows, then empties the buffer. Refusals arrive later, as
    /// [`crate::Message::Error`] in the received batches.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `sendto` fails (the buffer is cleared either way).
    pub fn send_verdicts(&self, verdicts: &mut VerdictBuffer) -> Result<()> {
        let result = self.send_messages(verdicts.as_bytes());
        verdicts.clear();
        result
    }

    /// Sends already-encoded netlink messages (from another encoder, e.g. a
    /// binding's), split into datagrams at message boundaries. The bytes are
    /// checked to be whole messages first.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when `messages` are not whole netlink messages; [`Error::Io`] when
    /// `sendto` fails.
    pub fn send_messages(&self, messages: &[u8]) -> Result<()> {
        let limit = self.transport.max_datagram();
        let mut start = 0;
        let mut end = 0;
        let mut count = 0;
        for message in Messages::new(messages) {
            let message = message?;
            count += 1;
            let at = message.as_ptr() as usize - messages.as_ptr() as usize;
            let next = (at + crate::netlink::align(message.len())).min(messages.len());
            if next - start > limit && end > start {
                self.send_datagram(&messages[start..end])?;
                start = end;
            }
            end = next;
        }
        if end > start {
            self.send_datagram(&messages[start..end])?;
        }
        self.counters.verdicts_sent.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }

    fn send_datagram(&self, datagram: &[u8]) -> Result<()> {
        self.transport.send(datagram).map_err(|e| Error::io(format!("send verdicts to queue {}", self.queue), e))?;
        self.counters.verdict_sends.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> QueueStats {
        let c = &self.counters;
        QueueStats {
            batches: c.batches.load(Ordering::Relaxed),
            datagrams: c.datagrams.load(Ordering::Relaxed),
            overruns: c.overruns.load(Ordering::Relaxed),
            cut_by_receiver: c.cut_by_receiver.load(Ordering::Relaxed),
            foreign: c.foreign.load(Ordering::Relaxed),
            verdicts_sent: c.verdicts_sent.load(Ordering::Relaxed),
            verdict_sends: c.verdict_sends.load(Ordering::Relaxed),
        }
    }

    /// Whether the queue is bound.
    pub fn is_bound(&self) -> bool {
        self.bound.load(Ordering::Acquire)
    }

    /// Stops the kernel from queueing packets to this socket, the first step of a shutdown that
    /// loses nothing: the queue's max length becomes 0, with FAIL_OPEN set when `verdict` is
    /// [`Verdict::Accept`] (new packets then pass without being queued) and cleared otherwise
    /// (the kernel drops them, counted in `queue_dropped`). Packets already queued still wait for
    /// their verdicts: give them, or let [`Queue::drain`] give `verdict`, before unbinding.
    ///
    /// A configuration call: it must not run while another thread receives (see [`Queue`]).
    ///
    /// # Errors
    ///
    /// [`Error::Kernel`] or [`Error::Io`] when the kernel refuses or cannot be reached.
    pub fn stop_queueing(&self, verdict: Verdict) -> Result<()> {
        let accept = verdict == Verdict::Accept;
        let flags = if accept { ConfigFlags::FAIL_OPEN } else { ConfigFlags::NONE };
        // Flags first: between the two requests the queue still queues, it never drops early.
        // An answer lost to a full socket buffer (the socket was emptied into the backlog while
        // looking for it) is asked for again: both requests are idempotent.
        for attempt in 0..2 {
            let result = self.set_flags(flags, ConfigFlags::FAIL_OPEN).and_then(|()| self.set_max_len(0));
            match result {
                Err(Error::Io { ref source, .. }) if attempt == 0 && source.kind() == io::ErrorKind::WouldBlock => continue,
                other => other?,
            }
            break;
        }
        self.shutdown_verdict.store(if accept { 0 } else { 1 }, Ordering::Release);
        Ok(())
    }

    /// This socket's line of `/proc/net/netfilter/nfnetlink_queue`, read in the queue's network
    /// namespace: the packets waiting for a verdict, the kernel's drop counters, the last id.
    /// `None` when the file cannot be read or the queue is not bound to this socket.
    pub fn kernel_stats(&self) -> Option<QueueTableRow> {
        let table = self.transport.proc_net(QUEUE_TABLE)?;
        let port_id = self.port_id();
        parse_queue_table(&table).into_iter().find(|r| r.queue == self.queue && r.port_id == port_id)
    }

    /// Gives `verdict` to every packet still queued to this socket: reads the socket until it is
    /// empty (overruns are counted and reading goes on), giving `verdict` to each packet read,
    /// until the kernel shows none waiting. Packets held elsewhere (read by another thread that
    /// has not verdicted them yet) are waited for until `timeout` has passed, then all get
    /// `verdict` at once. Call it after [`Queue::stop_queueing`] (otherwise new packets keep
    /// coming) and once no other thread receives; then unbind. Messages other than packets
    /// (refused verdicts, acknowledgements) are read and skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when receiving or sending fails.
    pub fn drain(&self, verdict: Verdict, timeout: Duration) -> Result<DrainReport> {
        let deadline = Instant::now() + timeout;
        let mut buffers = self.receive_buffers();
        let mut verdicts = VerdictBuffer::new();
        let mut report = DrainReport::default();
        let none = VerdictOptions::default();
        loop {
            while self.receive_ready(&mut buffers)? > 0 {
                for message in buffers.messages() {
                    let id = match message {
                        Ok(Message::Packet(p)) => p.id(),
                        Ok(Message::PacketCutByReceiver { id, .. }) => id,
                        _ => continue,
                    };
                    verdicts.push(self.queue, id, verdict, &none)?;
                    report.drained += 1;
                }
                self.send_verdicts(&mut verdicts)?;
            }
            let Some(row) = self.kernel_stats() else {
                report.waiting = None;
                return Ok(report);
            };
            report.waiting = Some(row.waiting);
            if row.waiting == 0 {
                return Ok(report);
            }
            if Instant::now() >= deadline {
                // Only ids up to the last one handed out wait: one VERDICT_BATCH covers them all.
                verdicts.push_batch(self.queue, row.id_sequence, verdict, None);
                self.send_verdicts(&mut verdicts)?;
                report.swept += u64::from(row.waiting);
                // Swept once: what the kernel shows after it is the result.
                while self.receive_ready(&mut buffers)? > 0 {}
                report.waiting = self.kernel_stats().map(|r| r.waiting);
                return Ok(report);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Shuts the queue down losing nothing: [`Queue::stop_queueing`], [`Queue::drain`] with
    /// `verdict` and `timeout`, then unbinds. What arrives meanwhile passes (accept) or is
    /// dropped by the kernel (any other verdict).
    ///
    /// # Errors
    ///
    /// What [`Queue::stop_queueing`], [`Queue::drain`] and [`Queue::unbind`] return.
    pub fn shutdown(&self, verdict: Verdict, timeout: Duration) -> Result<DrainReport> {
        self.stop_queueing(verdict)?;
        let report = self.drain(verdict, timeout)?;
        self.unbind()?;
        Ok(report)
    }

    /// Closes without losing a packet: unless already unbound, stops the kernel queueing to this
    /// socket and gives every packet still waiting the verdict chosen by
    /// [`Queue::stop_queueing`] (accept when it was not called) at once, then unbinds. Use
    /// [`Queue::shutdown`] to give held packets time for their own verdicts. Dropping the queue
    /// instead closes the socket, which unbinds, and the kernel drops what was still waiting.
    ///
    /// # Errors
    ///
    /// What [`Queue::shutdown`] returns; the socket closes (and the queue unbinds) either way.
    pub fn close(self) -> Result<()> {
        if self.is_bound() {
            let verdict = match self.shutdown_verdict.load(Ordering::Acquire) {
                1 => Verdict::Drop,
                _ => Verdict::Accept,
            };
            if let Err(error) = self.shutdown(verdict, Duration::ZERO) {
                if self.is_bound() {
                    let _ = self.unbind(); // the socket closes now anyway; the first error says why
                }
                return Err(error);
            }
        }
        Ok(())
    }
}
