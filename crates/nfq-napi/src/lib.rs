//! Node.js binding of nfq-core: converts types, pumps received batches to
//! JavaScript, and maps errors. This file is the queue's napi surface; [`options`] converts
//! its options, [`errors`] makes every error JavaScript sees, [`event_loop`] and
//! [`thread_reader`] are the two readers, and [`system`] holds the functions about the system
//! rather than one queue (privileges, the bound queues).
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
//! - At most [`thread_reader::MAX_PENDING_BATCHES`] batches wait for JavaScript; past that the reader
//!   stops reading and the kernel queue (and its fail-open flag) takes over.
//! - Verdicts come back as one buffer of encoded netlink messages per flush
//!   (`sendVerdicts`), checked and sent in as few `sendto` calls as the socket
//!   allows (usually one).
//! - `stopReceiving` stops and joins the reader and returns the batches not yet
//!   handed over, so that the caller can verdict every packet it was sent.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use nfq_core::{Queue, Verdict};

mod errors;
mod event_loop;
mod options;
pub mod system;
mod thread_reader;

use errors::throw;
use event_loop::{EventLoopReader, MERGE_LIMIT};
use options::{BindingQueueOptions, ReaderSettings};
use thread_reader::{tune_current_thread, Pending, ThreadReader};

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
    /// Who receives and how its thread is tuned, from the options.
    tuning: ReaderSettings,
}

#[napi]
impl NativeQueue {
    /// Opens a socket, binds the queue and configures it. Throws an Error with
    /// `code` (errno name) and `kind` ('PermissionDenied', 'AlreadyBound', ...).
    #[napi(factory)]
    pub fn open(env: Env, options: BindingQueueOptions) -> Result<Self> {
        let (options, reader) = options.convert().map_err(|e| throw(&env, e))?;
        if !reader.thread {
            // This thread will receive: tune it now, and refuse before binding if that fails.
            tune_current_thread(&reader.cpus, reader.nice).map_err(|e| throw(&env, e))?;
        }
        let queue = Queue::open(&options).map_err(|e| throw(&env, e))?;
        Ok(Self {
            queue_num: queue.queue_num() as u32,
            port_id: queue.port_id(),
            queue: Some(Arc::new(queue)),
            reader: None,
            pending: Arc::new(Pending::new()),
            tuning: reader,
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
        let batch_size = queue.batch_size();
        if self.reader.is_some() {
            return Err(throw(&env, nfq_core::Error::invalid("start", "the queue is already receiving")));
        }
        if !self.tuning.thread {
            let reader = EventLoopReader::start(&env, queue, on_batch, batch_size)?;
            self.reader = Some(Reader::EventLoop(reader));
            return Ok(());
        }
        let reader = ThreadReader::start(&env, queue, on_batch, &self.pending, batch_size, &self.tuning)?;
        self.reader = Some(Reader::Thread(reader));
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
        self.pending.set_paused(true);
    }

    /// Reads again after `pause`.
    #[napi]
    pub fn resume(&self) {
        if let Some(Reader::EventLoop(reader)) = &self.reader {
            reader.resume();
        }
        self.pending.set_paused(false);
    }

    /// The network interfaces of the queue's namespace, to name packets' interface indexes.
    #[napi]
    pub fn interfaces(&self, env: Env) -> Result<Vec<BindingInterface>> {
        let list = self.queue(&env)?.interfaces().map_err(|e| throw(&env, e))?;
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
        let mut buffers = queue.receive_buffers();
        let mut batch = Vec::new();
        while batch.len() < MERGE_LIMIT && queue.receive_ready(&mut buffers).map_err(|e| throw(&env, e))? > 0 {
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
        self.pending.take_all().into_iter().map(Buffer::from).collect()
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
    /// Stops the reader (a reader thread is joined).
    fn stop_reader(&mut self) {
        match self.reader.take() {
            Some(Reader::EventLoop(reader)) => reader.stop(),
            Some(Reader::Thread(reader)) => reader.stop(&self.pending),
            None => {}
        }
    }
}
