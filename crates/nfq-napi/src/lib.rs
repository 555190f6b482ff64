//! Node.js binding of nfq-core: converts types, pumps received batches to
//! JavaScript, and maps errors. Nothing else lives here.
//!
//! # The hot path, and why it has this shape
//!
//! Per packet, a crossing between JavaScript and Rust costs about as much as the
//! syscall the C library pays per packet, so every crossing here is per batch.
//!
//! By default the JavaScript thread receives itself ([`event_loop`]): a libuv poll watcher on
//! the socket drains it with `recvmmsg` when it is readable, straight into memory JavaScript
//! reads in place (no copy, no object made per batch), and calls JavaScript once per
//! `recvmmsg`, whose verdicts leave in one `sendto` before the callback returns. That is the
//! batched C consumer's loop, with no second thread to wake.
//!
//! With `readerThread: true` the older design runs, which keeps reading while JavaScript is busy:
//!
//! - A reader thread per queue waits on the socket (and an eventfd for stop), takes
//!   up to `batchSize` datagrams with one `recvmmsg`, copies their messages into one
//!   contiguous `Vec` and queues it. The event loop never blocks.
//! - A threadsafe function tells JavaScript; its callback hands the oldest queued
//!   batch over as one `Buffer` (the `Vec` becomes the Buffer's memory: no copy),
//!   which `@nfq/netlink` reads in place, packet by packet, without objects made here.
//! - While JavaScript has not taken the newest batch, newly received messages join it (up to
//!   1 MB): under load, batches grow by themselves and the per-batch costs (the call into
//!   JavaScript, the verdict flush and its `sendto`) are shared by more packets.
//! - At most [`MAX_PENDING_BATCHES`] batches wait for JavaScript; past that the reader
//!   stops reading and the kernel queue (and its fail-open flag) takes over.
//! - Verdicts come back as one buffer of encoded netlink messages per flush
//!   (`sendVerdicts`), checked and sent in as few `sendto` calls as the socket
//!   allows (usually one).
//! - `stopReceiving` stops and joins the reader and returns the batches not yet
//!   handed over, so that the caller can verdict every packet it was sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use nfq_core::config::DEFAULT_SLOT_SIZE;
use nfq_core::{ConfigFlags, CopyMode, Interrupt, Queue, QueueOptions, RecvBuffers, Verdict};

mod event_loop;
use event_loop::{BatchError, EventLoopReader, MERGE_LIMIT};

/// Batches that may wait for JavaScript before the reader stops reading.
pub const MAX_PENDING_BATCHES: usize = 16;

/// Options of `NativeQueue.open`; see `QueueOptions` in nfq-core.
#[napi(object)]
pub struct BindingQueueOptions {
    /// Queue number, 0..=65535.
    pub queue: u32,
    /// 'none' | 'meta' | 'packet' (default).
    pub copy_mode: Option<String>,
    /// Copy at most this many bytes of each packet (default 65535).
    pub copy_range: Option<u32>,
    /// Kernel queue length.
    pub max_len: Option<u32>,
    /// Accept packets instead of dropping them when the queue is full.
    pub fail_open: Option<bool>,
    /// Attach conntrack information.
    pub conntrack: Option<bool>,
    /// Queue GSO packets whole.
    pub gso: Option<bool>,
    /// Attach socket owner uid and gid.
    pub uid_gid: Option<bool>,
    /// Attach the security context.
    pub secctx: Option<bool>,
    /// Socket receive buffer size in bytes.
    pub receive_buffer_size: Option<u32>,
    /// Set NETLINK_NO_ENOBUFS.
    pub no_enobufs: Option<bool>,
    /// Datagrams per recvmmsg (1..=1024, default 64).
    pub batch_size: Option<u32>,
    /// Network namespace: a name from `ip netns add`, or a path.
    pub netns: Option<String>,
    /// Receive on a thread of its own instead of the JavaScript thread (default false).
    pub reader_thread: Option<bool>,
    /// CPUs the receiving thread may run on (`sched_setaffinity`).
    pub reader_cpus: Option<Vec<u32>>,
    /// Nice value of the receiving thread (-20..=19; below 0 needs CAP_SYS_NICE).
    pub reader_nice: Option<i32>,
}

impl TryFrom<BindingQueueOptions> for QueueOptions {
    type Error = nfq_core::Error;

    fn try_from(o: BindingQueueOptions) -> std::result::Result<Self, Self::Error> {
        let invalid = nfq_core::Error::invalid;
        let queue = u16::try_from(o.queue).map_err(|_| invalid("queue", format!("queue {} is out of range: it must be 0..=65535", o.queue)))?;
        let mut options = QueueOptions::new(queue);
        options.copy_mode = match o.copy_mode.as_deref() {
            None | Some("packet") => CopyMode::Packet,
            Some("meta") => CopyMode::Meta,
            Some("none") => CopyMode::None,
            Some(other) => return Err(invalid("copy_mode", format!("copy mode '{other}' is not one of 'meta', 'packet'"))),
        };
        if let Some(range) = o.copy_range {
            options.copy_range = range;
        }
        options.max_len = o.max_len;
        for (on, flag) in [
            (o.fail_open, ConfigFlags::FAIL_OPEN),
            (o.conntrack, ConfigFlags::CONNTRACK),
            (o.gso, ConfigFlags::GSO),
            (o.uid_gid, ConfigFlags::UID_GID),
            (o.secctx, ConfigFlags::SECCTX),
        ] {
            if on == Some(true) {
                options.flags |= flag;
            }
        }
        options.receive_buffer = o.receive_buffer_size.map(|s| s as usize);
        options.no_enobufs = o.no_enobufs.unwrap_or(false);
        if let Some(size) = o.batch_size {
            options.batch_size = size as usize;
        }
        options.netns = o.netns.map(Into::into);
        if let Some(nice) = o.reader_nice {
            if !(-20..=19).contains(&nice) {
                return Err(invalid("reader_nice", format!("reader nice value {nice} is out of range: it must be -20..=19")));
            }
        }
        Ok(options)
    }
}

/// Counters of a queue.
#[napi(object)]
pub struct BindingQueueStats {
    /// Times the socket buffer overflowed (ENOBUFS).
    pub overruns: f64,
    /// Batches received.
    pub batches: f64,
    /// Datagrams (messages) received.
    pub messages: f64,
    /// Datagrams cut by the receiver: larger than their receive slot (MSG_TRUNC).
    pub cut_by_receiver: f64,
    /// Datagrams from another sender than the kernel, skipped.
    pub foreign: f64,
    /// Verdict messages sent.
    pub verdicts_sent: f64,
    /// sendto calls for verdicts.
    pub verdict_sends: f64,
}

/// A network interface of the queue's namespace.
#[napi(object)]
pub struct BindingInterface {
    /// Interface index, as in a packet's indev / outdev.
    pub index: u32,
    /// Interface name (`lo`, `eth0`).
    pub name: String,
}

/// The JavaScript name of an option nfq-core names (`copy_range` is `copyRange`).
fn js_option_name(option: &'static str) -> &'static str {
    match option {
        "copy_range" => "copyRange",
        "copy_mode" => "copyMode",
        "batch_size" => "batchSize",
        "max_len" => "maxLen",
        "receive_buffer" => "receiveBufferSize",
        "reader_nice" => "readerNice",
        other => other,
    }
}

/// `error` as a JavaScript Error with `code` (the errno name), `kind` and `errno`, plus what
/// the error knows: `option`, `queue`, `ownerPortId`, `ownerPid`, `ownerCommand`, `feature`,
/// `user`. Every error the binding raises, thrown or passed to a callback, is made here.
pub(crate) fn error_object<'env>(env: &'env Env, error: &nfq_core::Error) -> Result<Object<'env>> {
    let mut object = env.create_error(Error::new(Status::GenericFailure, error.to_string()))?;
    object.set_named_property("code", error.code())?;
    object.set_named_property("kind", error.kind().name())?;
    if let Some(errno) = error.errno() {
        object.set_named_property("errno", errno)?;
    }
    match error {
        nfq_core::Error::InvalidArgument { option, .. } => {
            object.set_named_property("option", js_option_name(option))?;
        }
        nfq_core::Error::AlreadyBound { queue, owner_port_id, owner_process } => {
            object.set_named_property("queue", *queue as u32)?;
            if let Some(port) = owner_port_id {
                object.set_named_property("ownerPortId", *port)?;
            }
            if let Some((pid, command)) = owner_process {
                object.set_named_property("ownerPid", *pid)?;
                object.set_named_property("ownerCommand", command.as_str())?;
            }
        }
        nfq_core::Error::Unsupported { feature: Some(feature), .. } => {
            object.set_named_property("feature", *feature)?;
        }
        nfq_core::Error::UserNotFound { user } => {
            object.set_named_property("user", user.as_str())?;
        }
        _ => {}
    }
    Ok(object)
}

/// Throws `error` (made by [`error_object`]) and returns what the napi function returns.
pub(crate) fn throw(env: &Env, error: nfq_core::Error) -> Error {
    let thrown = error_object(env, &error).and_then(|object| env.throw(object));
    match thrown {
        Ok(()) => Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// The reader thread's call into JavaScript: an error to report, or (None) a batch to hand over.
type Notify = ThreadsafeFunction<Option<nfq_core::Error>, (), FnArgs<(BatchError, Option<Buffer>)>, Status, false>;

/// Batches received and not yet handed to JavaScript, and the reader's brake.
struct Pending {
    batches: Mutex<VecDeque<Vec<u8>>>,
    /// Signalled when a batch is taken, on resume, and on stop.
    space: Condvar,
    /// JavaScript asked the reader to stop reading for now.
    paused: AtomicBool,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct ThreadReader {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    interrupt: Arc<Interrupt>,
}

/// Who receives: the JavaScript thread's event loop (default), or a thread of its own.
enum Reader {
    EventLoop(EventLoopReader),
    Thread(ThreadReader),
}

/// A bound queue. Created by `NativeQueue.open`.
#[napi]
pub struct NativeQueue {
    queue: Option<Arc<Queue>>,
    reader: Option<Reader>,
    pending: Arc<Pending>,
    queue_num: u32,
    port_id: u32,
    batch_size: usize,
    reader_thread: bool,
    reader_cpus: Vec<usize>,
    reader_nice: Option<i32>,
}

#[napi]
impl NativeQueue {
    /// Opens a socket, binds the queue and configures it. Throws an Error with
    /// `code` (errno name) and `kind` ('PermissionDenied', 'AlreadyBound', ...).
    #[napi(factory)]
    pub fn open(env: Env, options: BindingQueueOptions) -> Result<Self> {
        let reader_cpus: Vec<usize> = options.reader_cpus.iter().flatten().map(|&c| c as usize).collect();
        let reader_nice = options.reader_nice;
        let reader_thread = options.reader_thread.unwrap_or(false);
        let options = QueueOptions::try_from(options).map_err(|e| throw(&env, e))?;
        if !reader_thread {
            // This thread will receive: tune it now, and refuse before binding if that fails.
            tune_current_thread(&reader_cpus, reader_nice).map_err(|e| throw(&env, e))?;
        }
        let queue = Queue::open(&options).map_err(|e| throw(&env, e))?;
        Ok(Self {
            queue_num: queue.queue_num() as u32,
            port_id: queue.port_id(),
            queue: Some(Arc::new(queue)),
            reader: None,
            pending: Arc::new(Pending {
                batches: Mutex::new(VecDeque::new()),
                space: Condvar::new(),
                paused: AtomicBool::new(false),
            }),
            batch_size: options.batch_size,
            reader_thread,
            reader_cpus,
            reader_nice,
        })
    }

    /// Queue number.
    #[napi(getter)]
    pub fn queue_num(&self) -> u32 {
        self.queue_num
    }

    /// Netlink port id of the socket.
    #[napi(getter)]
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    fn queue(&self, env: &Env) -> Result<&Arc<Queue>> {
        self.queue.as_ref().ok_or_else(|| throw(env, nfq_core::Error::Closed))
    }

    /// Starts receiving. `onBatch` is called on the JavaScript thread once per received batch:
    /// with a reader thread, `onBatch(null, batch)` with one Buffer of netlink messages back to
    /// back (`batch` is null when it was already returned by `stopReceiving`: ignore those
    /// calls); on the event loop, `onBatch(null, bytes, bank, control)` with the bank's memory
    /// and the control array (see the `event_loop` module); on a failure, `onBatch(error)`.
    #[napi(ts_args_type = "onBatch: (err: Error | null, batch?: Uint8Array | null, bank?: number, control?: Int32Array) => void")]
    pub fn start(&mut self, env: Env, on_batch: Function<'_, Option<Buffer>, ()>) -> Result<()> {
        let queue = self.queue(&env)?.clone();
        if self.reader.is_some() {
            return Err(throw(&env, nfq_core::Error::invalid("start", "the queue is already receiving")));
        }
        if !self.reader_thread {
            let reader = EventLoopReader::start(&env, queue, on_batch, self.batch_size)?;
            self.reader = Some(Reader::EventLoop(reader));
            return Ok(());
        }
        let pending = self.pending.clone();
        let handed = self.pending.clone();
        let notify: Notify = on_batch
            .build_threadsafe_function::<Option<nfq_core::Error>>()
            .callee_handled::<false>()
            .build_callback(move |ctx: ThreadsafeCallContext<Option<nfq_core::Error>>| {
                if let Some(error) = ctx.value {
                    return Ok(FnArgs::from((BatchError(Some(error)), None)));
                }
                let batch = handed.lock().pop_front();
                handed.space.notify_one();
                Ok(FnArgs::from((BatchError(None), batch.map(Buffer::from))))
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let interrupt = Arc::new(Interrupt::new().map_err(|e| throw(&env, nfq_core::Error::Io { operation: "create eventfd".into(), source: e }))?);
        let (thread_stop, thread_interrupt) = (stop.clone(), interrupt.clone());
        let batch_size = self.batch_size;
        let (cpus, nice) = (self.reader_cpus.clone(), self.reader_nice);
        let thread = std::thread::Builder::new()
            .name(format!("nfq-reader-{}", self.queue_num))
            .spawn(move || {
                // Tuning failures are reported and reading goes on: they change speed, not behaviour.
                if let Err(error) = tune_current_thread(&cpus, nice) {
                    notify.call(Some(error), ThreadsafeFunctionCallMode::NonBlocking);
                }
                read_loop(&queue, batch_size, &pending, &thread_stop, &thread_interrupt, &notify)
            })
            .map_err(|e| throw(&env, nfq_core::Error::Io { operation: "start reader thread".into(), source: e }))?;
        self.reader = Some(Reader::Thread(ThreadReader { thread, stop, interrupt }));
        Ok(())
    }

    /// Sends encoded VERDICT / VERDICT_BATCH messages, back to back (the first `length` bytes of
    /// `messages`, all of them without it), in as few `sendto` calls as possible (usually one).
    #[napi]
    pub fn send_verdicts(&self, env: Env, messages: &[u8], length: Option<u32>) -> Result<()> {
        let length = length.map_or(messages.len(), |l| l as usize);
        let Some(messages) = messages.get(..length) else {
            return Err(throw(&env, nfq_core::Error::invalid("length", format!("length {length} is past the {} bytes given", messages.len()))));
        };
        self.queue(&env)?.send_messages(messages).map_err(|e| throw(&env, e))
    }

    /// Stops reading from the socket (backpressure): packets wait in the kernel queue,
    /// which drops them past its max length, or accepts them with fail-open.
    #[napi]
    pub fn pause(&self) {
        if let Some(Reader::EventLoop(reader)) = &self.reader {
            reader.pause();
        }
        self.pending.paused.store(true, Ordering::Release);
    }

    /// Reads again after `pause`.
    #[napi]
    pub fn resume(&self) {
        if let Some(Reader::EventLoop(reader)) = &self.reader {
            reader.resume();
        }
        self.pending.paused.store(false, Ordering::Release);
        self.pending.space.notify_all();
    }

    /// The network interfaces of the queue's namespace, to name packets' interface indexes.
    #[napi]
    pub fn interfaces(&self, env: Env) -> Result<Vec<BindingInterface>> {
        let list = self.queue(&env)?.transport().interfaces().map_err(|e| {
            throw(&env, nfq_core::Error::Io { operation: "list network interfaces".into(), source: e })
        })?;
        Ok(list.into_iter().map(|(index, name)| BindingInterface { index, name }).collect())
    }

    /// Socket overruns (ENOBUFS) so far: what `stats().overruns` says, without making an object
    /// (JavaScript reads it after every batch).
    #[napi(getter)]
    pub fn overrun_count(&self) -> f64 {
        self.queue.as_ref().map_or(0.0, |q| q.stats().overruns as f64)
    }

    /// Counters so far.
    #[napi]
    pub fn stats(&self) -> BindingQueueStats {
        let s = self.queue.as_ref().map(|q| q.stats()).unwrap_or_default();
        BindingQueueStats {
            overruns: s.overruns as f64,
            batches: s.batches as f64,
            messages: s.datagrams as f64,
            cut_by_receiver: s.cut_by_receiver as f64,
            foreign: s.foreign as f64,
            verdicts_sent: s.verdicts_sent as f64,
            verdict_sends: s.verdict_sends as f64,
        }
    }

    /// After `stopReceiving`: reads, without waiting, what the socket still holds, as one batch
    /// of up to 1 MB (null when nothing is left), so that those packets get verdicts before the
    /// queue unbinds. Overruns (ENOBUFS) are counted and reading goes on. Refused while a reader
    /// thread runs.
    #[napi]
    pub fn receive_pending(&self, env: Env) -> Result<Option<Buffer>> {
        let queue = self.queue(&env)?;
        if matches!(self.reader, Some(Reader::Thread(_))) {
            return Err(throw(&env, nfq_core::Error::invalid("receivePending", "stop receiving first: the reader thread owns the socket")));
        }
        let mut buffers = RecvBuffers::new(self.batch_size, DEFAULT_SLOT_SIZE);
        let mut batch = Vec::new();
        while batch.len() < MERGE_LIMIT && queue.receive(&mut buffers, false).map_err(|e| throw(&env, e))? > 0 {
            buffers.copy_messages_into(&mut batch);
        }
        Ok((!batch.is_empty()).then(|| Buffer::from(batch)))
    }

    /// Stops the kernel from queueing packets to this socket, first step of a close that loses
    /// nothing (`Queue::stop_queueing` of nfq-core): new packets pass (`accept` true: fail-open
    /// with max length 0) or are dropped by the kernel (false). A reader thread is stopped first
    /// (the request's answer is read from the socket); its batches wait for `stopReceiving`.
    #[napi]
    pub fn stop_queueing(&mut self, env: Env, accept: bool) -> Result<()> {
        let queue = self.queue(&env)?.clone();
        if matches!(self.reader, Some(Reader::Thread(_))) {
            self.stop_reader();
        }
        queue.stop_queueing(if accept { Verdict::Accept } else { Verdict::Drop }).map_err(|e| throw(&env, e))
    }

    /// Packets the kernel shows waiting for a verdict from this socket (its line of
    /// `/proc/net/netfilter/nfnetlink_queue`, read in the queue's namespace); null when that
    /// cannot be read.
    #[napi]
    pub fn kernel_waiting(&self, env: Env) -> Result<Option<u32>> {
        Ok(self.queue(&env)?.kernel_stats().map(|row| row.waiting))
    }

    /// Stops and joins the reader thread. Returns the batches received but not
    /// yet handed to `onBatch`: their packets still need verdicts.
    #[napi]
    pub fn stop_receiving(&mut self) -> Vec<Buffer> {
        self.stop_reader();
        self.pending.lock().drain(..).map(Buffer::from).collect()
    }

    /// Stops receiving, gives what still waits in the kernel for this socket the verdict chosen
    /// by `stopQueueing` (accept if it was not called; see `Queue::close` of nfq-core), unbinds
    /// the queue and closes the socket. Idempotent. Returns the batches not yet handed over, as
    /// `stopReceiving` does: call it only once those were verdicted (or ignore them knowingly).
    #[napi]
    pub fn close(&mut self, env: Env) -> Result<Vec<Buffer>> {
        let left = self.stop_receiving();
        if let Some(queue) = self.queue.take() {
            if let Ok(queue) = Arc::try_unwrap(queue) {
                queue.close().map_err(|e| throw(&env, e))?;
            }
        }
        Ok(left)
    }
}

/// A user's ids, as `dropPrivileges` switched to them.
#[napi(object)]
pub struct BindingUserIds {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Switches the process to `user` and keeps only CAP_NET_ADMIN, on the calling (JavaScript)
/// thread: the capability nfnetlink checks on every verdict. Call it after binding.
#[napi]
pub fn drop_privileges(env: Env, user: String) -> Result<BindingUserIds> {
    let ids = nfq_core::drop_privileges(&user).map_err(|e| throw(&env, e))?;
    Ok(BindingUserIds { uid: ids.uid, gid: ids.gid })
}

/// Step 1 of `dropPrivileges` over several threads: on the calling thread, keep CAP_NET_ADMIN
/// through the coming switch of user. Every thread that gives verdicts calls it.
#[napi]
pub fn drop_privileges_prepare_thread(env: Env) -> Result<()> {
    nfq_core::drop_privileges_by_thread::prepare_thread().map_err(|e| throw(&env, e))
}

/// Step 2: switches the whole process to `user` (once, after every thread prepared).
#[napi]
pub fn drop_privileges_switch_user(env: Env, user: String) -> Result<BindingUserIds> {
    let ids = nfq_core::drop_privileges_by_thread::switch(&user).map_err(|e| throw(&env, e))?;
    Ok(BindingUserIds { uid: ids.uid, gid: ids.gid })
}

/// Step 3: on the calling thread, CAP_NET_ADMIN becomes its only capability again.
#[napi]
pub fn drop_privileges_finish_thread(env: Env) -> Result<()> {
    nfq_core::drop_privileges_by_thread::finish_thread().map_err(|e| throw(&env, e))
}

/// Reads `/proc/net/<file>` as seen from network namespace `netns` (this one when absent):
/// `netfilter/nfnetlink_queue` (the queues and their counters) or `netlink` (the sockets).
#[napi]
pub fn read_proc_net(env: Env, file: String, netns: Option<String>) -> Result<String> {
    if !matches!(file.as_str(), "netfilter/nfnetlink_queue" | "netlink") {
        return Err(throw(&env, nfq_core::Error::invalid("file", format!("'{file}' is not a /proc/net file this reads"))));
    }
    let path = std::path::PathBuf::from("/proc/thread-self/net").join(&file);
    let read = move || std::fs::read_to_string(path);
    let operation = format!("read /proc/net/{file}");
    let result = match netns {
        None => read(),
        Some(name) => {
            let mut options = QueueOptions::new(0);
            options.netns = Some(name.into());
            let netns_path = options.netns_path().expect("set above");
            match nfq_core::sys::run_in_netns(&netns_path, read) {
                Ok(read) => read,
                // Entering the namespace failed (it does not exist, or CAP_SYS_ADMIN is missing).
                Err(source) => return Err(throw(&env, nfq_core::Error::Namespace { operation, path: netns_path, source })),
            }
        }
    };
    // ENOENT here: the file is missing (nfnetlink_queue not loaded); EACCES: it is not readable.
    result.map_err(|e| throw(&env, nfq_core::Error::Io { operation, source: e }))
}

impl Drop for NativeQueue {
    /// A queue dropped without `close()` (garbage collected, or its worker thread ended) must not
    /// leave its reader thread running: that thread holds the socket, so the queue would stay
    /// bound until the process exits. Stop it; dropping the queue then closes the socket, which
    /// unbinds (packets still waiting are dropped by the kernel).
    fn drop(&mut self) {
        self.stop_reader();
    }
}

impl NativeQueue {
    /// Stops the reader thread and waits for it. It never waits on JavaScript (its calls into
    /// JavaScript do not block), so joining from the JavaScript thread cannot deadlock.
    fn stop_reader(&mut self) {
        match self.reader.take() {
            Some(Reader::EventLoop(reader)) => reader.stop(),
            Some(Reader::Thread(reader)) => {
                reader.stop.store(true, Ordering::Release);
                let _ = reader.interrupt.trigger();
                self.pending.space.notify_all();
                let _ = reader.thread.join();
            }
            None => {}
        }
    }
}

/// Pins the calling thread to `cpus` (when given) and sets its nice value (when given).
fn tune_current_thread(cpus: &[usize], nice: Option<i32>) -> std::result::Result<(), nfq_core::Error> {
    let failed = |what: &str, source| nfq_core::Error::Io { operation: format!("set the receiving thread's {what}"), source };
    if !cpus.is_empty() {
        nfq_core::sys::pin_current_thread(cpus).map_err(|e| failed("CPU affinity", e))?;
    }
    if let Some(nice) = nice {
        nfq_core::sys::set_current_thread_nice(nice).map_err(|e| failed("nice value", e))?;
    }
    Ok(())
}

fn read_loop(
    queue: &Queue,
    batch_size: usize,
    pending: &Pending,
    stop: &AtomicBool,
    interrupt: &Interrupt,
    notify: &Notify,
) {
    let mut buffers = RecvBuffers::new(batch_size, DEFAULT_SLOT_SIZE);
    let report = |e: nfq_core::Error| {
        notify.call(Some(e), ThreadsafeFunctionCallMode::NonBlocking);
    };
    while !stop.load(Ordering::Acquire) {
        {
            // Backpressure: read only while JavaScript keeps up and has not paused us.
            let mut batches = pending.lock();
            while (batches.len() >= MAX_PENDING_BATCHES || pending.paused.load(Ordering::Acquire))
                && !stop.load(Ordering::Acquire)
            {
                batches = pending.space.wait(batches).unwrap_or_else(|p| p.into_inner());
            }
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        match queue.wait(Some(interrupt), -1) {
            Ok(r) if r.interrupted => break,
            Ok(_) => {}
            Err(e) => return report(e),
        }
        match queue.receive(&mut buffers, false) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(e) => return report(e),
        }
        let mut batches = pending.lock();
        // Adaptive batching: while JavaScript has not yet taken the newest batch, what arrives
        // joins it, so a busy JavaScript thread gets fewer, larger batches (and sends fewer,
        // larger verdict flushes) instead of falling further behind one small batch at a time.
        if let Some(last) = batches.back_mut().filter(|last| last.len() < MERGE_LIMIT) {
            buffers.copy_messages_into(last);
            continue;
        }
        let mut batch = Vec::with_capacity(buffers.total_bytes());
        buffers.copy_messages_into(&mut batch);
        if batch.is_empty() {
            continue;
        }
        batches.push_back(batch);
        drop(batches);
        notify.call(None, ThreadsafeFunctionCallMode::NonBlocking);
    }
}
