//! The default reader: a libuv poll watcher on the queue's socket, so that the JavaScript thread
//! itself receives, as the batched C consumer does, with no reader thread and no hand-over
//! between threads. All of the binding's `unsafe` lives in this file.
//!
//! When the socket is readable, libuv calls [`on_readable`] on the JavaScript thread; it drains
//! the socket with non-blocking `recvmmsg` calls, each straight into a *bank*: memory that
//! JavaScript owns (an `ArrayBuffer`, made once) and reads in place, so a packet's bytes are
//! written once, by the kernel, and never copied. After each `recvmmsg` it calls
//! `onBatch(null, bank bytes, bank index, control)` through `napi_make_callback`, so that
//! microtasks and `process.nextTick` callbacks run after it as after any I/O callback; the
//! verdicts the handlers give are sent (`sendVerdicts`) before it returns. One wake-up of the
//! event loop costs one `epoll_wait` and, per `recvmmsg`, one call into JavaScript and one
//! `sendto`, as in the batched C consumer.
//!
//! Banks and the control array. A bank holds `batchSize` slots of [`DEFAULT_SLOT_SIZE`] bytes;
//! datagram `i` of a batch starts at byte `i * slotSize`. The control array (an `Int32Array`
//! shared with JavaScript, the same object on every call) carries, at [`CONTROL_SLOT_SIZE`] the
//! slot size, at [`CONTROL_COUNT`] the datagrams of this batch, at [`CONTROL_MAX_BANKS`] the
//! most banks, at [`CONTROL_OVERRUNS`] the socket overruns so far (so that JavaScript need not
//! ask after every batch), and from [`CONTROL_LENGTHS`] the bytes of whole messages in each
//! (0: skip it). JavaScript writes at [`CONTROL_NEXT_BANK`] the
//! bank to receive into next: one none of whose packets it still holds, or the number of banks
//! made so far to get a new one (up to [`MAX_BANKS`]). A bank is thus never written while a
//! packet in it waits for its verdict, and the bytes a handler was given stay valid until then.
//!
//! Compared with a reader thread this saves, per batch, a `poll`, a futex wake, an eventfd write
//! and read, and a context switch on each side (measured in `bench/`: see the README's performance
//! section). What it gives up: while a handler runs synchronously, nobody reads, so packets wait
//! in the socket buffer (size it with `receiveBufferSize`) instead of in the reader's memory.
//!
//! Lifetime. The watcher's state is shared (`Rc`) by the owner ([`EventLoopReader`], held by
//! `NativeQueue`), the libuv handle (released in its close callback, the last thing libuv does
//! with a handle) and the environment cleanup hook (released when the reader stops, or when the
//! environment, e.g. a worker thread, is torn down first). libuv and napi call back on the
//! JavaScript thread only, so `Rc` and `RefCell` suffice; no borrow is held across a call into
//! JavaScript, which may pause, resume or stop the reader re-entrantly.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{c_int, c_void};
use std::os::fd::AsRawFd as _;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;
use nfq_core::{Queue, RecvBuffers, RecvMemory, DEFAULT_SLOT_SIZE};

use crate::errors::{throw, BatchError};

/// Bytes of messages after which a reader thread stops merging into the batch JavaScript has not
/// taken yet, and after which `receivePending` stops reading.
pub const MERGE_LIMIT: usize = 1 << 20;

/// Most `recvmmsg` calls (each followed by its call into JavaScript) in one wake-up, so that a
/// flood does not keep timers and other I/O waiting.
const MAX_ROUNDS: usize = 16;

/// Most banks one queue makes: JavaScript stops reading (pauses) while every one holds a packet
/// without a verdict.
pub const MAX_BANKS: usize = 32;

/// Index in the control array of the bank to receive into next (JavaScript writes it).
pub const CONTROL_NEXT_BANK: usize = 0;
/// Index in the control array of the slot size in bytes.
pub const CONTROL_SLOT_SIZE: usize = 1;
/// Index in the control array of the number of datagrams of the batch being handed over.
pub const CONTROL_COUNT: usize = 2;
/// Index in the control array of [`MAX_BANKS`].
pub const CONTROL_MAX_BANKS: usize = 3;
/// Index in the control array of the socket overruns (ENOBUFS) so far, mod 2^32.
pub const CONTROL_OVERRUNS: usize = 4;
/// Index in the control array of the first datagram's length (bytes of whole messages).
pub const CONTROL_LENGTHS: usize = 5;

/// `UV_POLL` of libuv's `uv_handle_type`.
const UV_POLL: c_int = 8;
/// `UV_READABLE` of libuv's `uv_poll_event`.
const UV_READABLE: c_int = 1;

type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

// libuv, as exported by the node executable that loads this addon (every Node.js release
// exports its libuv for addons: `nm -D $(which node) | grep uv_poll`).
extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, callback: PollCallback) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, callback: Option<CloseCallback>);
}

/// What the watcher needs while it runs; dropped (taken) when it stops.
struct Running {
    queue: Arc<Queue>,
    callback: sys::napi_ref,
    context: sys::napi_async_context,
}

/// Memory of an `ArrayBuffer` that JavaScript reads, received into in place.
struct SharedMemory {
    data: NonNull<u8>,
    len: usize,
}

// SAFETY: the memory is only touched on the JavaScript thread that made it (the watcher and
// its banks never leave that thread); `Send` is required by `RecvMemory` for other users.
unsafe impl Send for SharedMemory {}

impl RecvMemory for SharedMemory {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `data` points at `len` bytes of an ArrayBuffer's backing store, which stays
        // allocated while the bank's reference to its Uint8Array lives (deleted only after the
        // bank's RecvBuffers is dropped, in `Watcher::release`); JavaScript runs on this same
        // thread and never while this borrow is in use (no call into JavaScript happens then).
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow on the Rust side.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

/// One bank: receive buffers over memory JavaScript reads, and the reference to its Uint8Array.
struct Bank {
    buffers: RecvBuffers,
    bytes: sys::napi_ref,
}

/// The control array shared with JavaScript (see the module documentation).
struct Control {
    array: sys::napi_ref,
    data: NonNull<i32>,
    len: usize,
}

impl Control {
    fn get(&self, index: usize) -> i32 {
        assert!(index < self.len);
        // SAFETY: in bounds (checked); the Int32Array's backing store lives while `array` does
        // (deleted in `Watcher::release`, after the last use); same thread as JavaScript.
        unsafe { self.data.as_ptr().add(index).read() }
    }

    fn set(&self, index: usize, value: i32) {
        assert!(index < self.len);
        // SAFETY: as in `get`.
        unsafe { self.data.as_ptr().add(index).write(value) }
    }
}

struct Watcher {
    env: sys::napi_env,
    /// Memory of the `uv_poll_t`, which libuv writes while the watcher is shared: interior
    /// mutability, so that writing through a pointer made from `&self` is allowed. Its first
    /// field (`void *data`) points at this watcher.
    handle: Box<[UnsafeCell<u64>]>,
    running: RefCell<Option<Running>>,
    banks: RefCell<Vec<Bank>>,
    batch_size: usize,
    control: Control,
    /// Whether `uv_poll_start` is in effect.
    polling: Cell<bool>,
    /// Whether JavaScript wants packets (false between `pause` and `resume`).
    wanted: Cell<bool>,
    /// Whether the cleanup hook is registered (it holds one reference to this watcher).
    hooked: Cell<bool>,
    /// Whether a call into JavaScript is under way (its async context must outlive it).
    calling: Cell<bool>,
    /// The callback reference and async context of a reader stopped during a call, deleted
    /// when the call returns.
    retired: Cell<Option<(sys::napi_ref, sys::napi_async_context)>>,
}

/// Receives on the JavaScript thread; see the module documentation. Stops when dropped.
pub struct EventLoopReader {
    watcher: Rc<Watcher>,
}

impl EventLoopReader {
    /// Watches `queue`'s socket on `env`'s event loop and calls `on_batch(err, bytes, bank,
    /// control)` with what it receives (see the module documentation). The socket is switched to
    /// non-blocking mode.
    pub fn start<Args: JsValuesTupleIntoVec, Return: FromNapiValue>(
        env: &Env,
        queue: Arc<Queue>,
        on_batch: Function<'_, Args, Return>,
        batch_size: usize,
    ) -> Result<Self> {
        queue.set_nonblocking(true).map_err(|e| throw(env, e))?;
        let raw_env = env.raw();
        let event_loop = env.get_uv_event_loop()?;
        // SAFETY: uv_handle_size only reads a table of sizes.
        let size = unsafe { uv_handle_size(UV_POLL) };
        let mut callback = ptr::null_mut();
        // SAFETY: `on_batch.raw()` is a live function value of this env, inside the current call's
        // handle scope; the reference keeps it alive until `release` deletes it.
        check(unsafe { sys::napi_create_reference(raw_env, on_batch.raw(), 1, &mut callback) })?;
        let mut name = ptr::null_mut();
        // SAFETY: the pointer and length describe a valid UTF-8 string literal.
        check(unsafe { sys::napi_create_string_utf8(raw_env, c"nfqueue:batch".as_ptr(), 13, &mut name) })?;
        let mut context = ptr::null_mut();
        // SAFETY: `name` is a string value of this env; the context is destroyed in `release`.
        check(unsafe { sys::napi_async_init(raw_env, ptr::null_mut(), name, &mut context) })?;
        let batch_size = batch_size.max(1);
        let (array, data) = shared_array(raw_env, sys::TypedarrayType::int32_array, CONTROL_LENGTHS + batch_size)?;
        let control = Control { array, data: data.cast(), len: CONTROL_LENGTHS + batch_size };
        control.set(CONTROL_NEXT_BANK, 0);
        control.set(CONTROL_SLOT_SIZE, DEFAULT_SLOT_SIZE as i32);
        control.set(CONTROL_MAX_BANKS, MAX_BANKS as i32);
        let watcher = Rc::new(Watcher {
            env: raw_env,
            handle: (0..size.div_ceil(8)).map(|_| UnsafeCell::new(0)).collect(),
            running: RefCell::new(Some(Running { queue: queue.clone(), callback, context })),
            banks: RefCell::new(Vec::new()),
            batch_size,
            control,
            polling: Cell::new(false),
            wanted: Cell::new(true),
            hooked: Cell::new(false),
            calling: Cell::new(false),
            retired: Cell::new(None),
        });
        let handle = watcher.handle_ptr();
        // SAFETY: `handle` points at `size` zeroed, 8-aligned bytes that live as long as the
        // watcher, which the handle's own reference (taken below) keeps until the close callback;
        // the loop is this env's, and the fd stays open while `queue` is alive (held in `running`).
        let status = unsafe { uv_poll_init(event_loop, handle, queue.as_raw_fd()) };
        if status != 0 {
            watcher.release();
            let source = std::io::Error::from_raw_os_error(-status);
            return Err(throw(env, nfq_core::Error::Io { operation: "watch the queue's socket (uv_poll_init)".into(), source }));
        }
        // SAFETY: `data` is the first field of every libuv handle; it now holds the handle's
        // reference to the watcher, given back in `on_closed`.
        unsafe { *(handle as *mut *const Watcher) = Rc::into_raw(watcher.clone()) };
        let hook_ref = Rc::into_raw(watcher.clone()) as *mut c_void;
        // SAFETY: the hook and its argument stay valid until removed in `release` or run once.
        if check(unsafe { sys::napi_add_env_cleanup_hook(raw_env, Some(on_env_teardown), hook_ref) }).is_ok() {
            watcher.hooked.set(true);
        } else {
            // SAFETY: the hook was not registered, so this reference is still ours to give back.
            drop(unsafe { Rc::from_raw(hook_ref as *const Watcher) });
        }
        let reader = Self { watcher };
        reader.resume();
        Ok(reader)
    }

    /// Stops reading until [`resume`](Self::resume): packets wait in the socket buffer.
    pub fn pause(&self) {
        self.watcher.wanted.set(false);
        self.watcher.set_polling(false);
    }

    /// Reads again after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.watcher.wanted.set(true);
        if self.watcher.running.borrow().is_some() {
            self.watcher.set_polling(true);
        }
    }

    /// Stops for good: no `onBatch` call after this returns. The socket is left to its owner.
    pub fn stop(&self) {
        self.watcher.release();
    }
}

impl Drop for EventLoopReader {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Watcher {
    fn handle_ptr(&self) -> *mut c_void {
        // Every byte of the handle is inside an UnsafeCell, and the slice's pointer covers all of
        // them: libuv (and `start`) may write through it although `self` is shared.
        UnsafeCell::raw_get(self.handle.as_ptr()).cast::<c_void>()
    }

    fn set_polling(&self, on: bool) {
        if self.polling.get() == on {
            return;
        }
        let handle = self.handle_ptr();
        // SAFETY: the handle was initialised in `start` and is not closed while `running` is
        // Some (callers check) or while `polling` is true (release stops it before closing).
        let status = unsafe { if on { uv_poll_start(handle, UV_READABLE, on_readable) } else { uv_poll_stop(handle) } };
        if status == 0 {
            self.polling.set(on);
        }
    }

    /// Stops polling, lets go of the queue and the JavaScript callback, removes the cleanup hook
    /// and closes the libuv handle. Idempotent.
    fn release(self: &Rc<Self>) {
        let Some(running) = self.running.borrow_mut().take() else { return };
        self.set_polling(false);
        if self.calling.get() {
            self.retired.set(Some((running.callback, running.context))); // deleted after the call
        } else {
            self.delete_callback(running.callback, running.context);
        }
        if self.hooked.replace(false) {
            let hook_ref = Rc::as_ptr(self) as *mut c_void;
            // SAFETY: removes the hook registered in `start` with the same function and argument.
            if check(unsafe { sys::napi_remove_env_cleanup_hook(self.env, Some(on_env_teardown), hook_ref) }).is_ok() {
                // SAFETY: the hook will not run: its reference is ours to give back.
                drop(unsafe { Rc::from_raw(hook_ref as *const Watcher) });
            }
        }
        let handle = self.handle_ptr();
        // SAFETY: an initialised handle (start returns early, before init, only when init failed,
        // and then `data` is null and nothing is closed) is closed once; libuv calls `on_closed`
        // later, which gives back the handle's reference to this watcher.
        unsafe {
            if !(*(handle as *mut *const Watcher)).is_null() {
                uv_close(handle, Some(on_closed));
            }
        }
        drop(running);
        let banks = std::mem::take(&mut *self.banks.borrow_mut());
        for bank in banks {
            let Bank { buffers, bytes } = bank;
            drop(buffers); // before its memory may go: see SharedMemory
            // SAFETY: made on this env in `bank`, deleted once (the banks were taken out).
            unsafe { sys::napi_delete_reference(self.env, bytes) };
        }
        // SAFETY: made on this env in `start`; `running` was Some until now, so this runs once,
        // and nothing reads the control array once `running` is None (`on_readable` checks).
        unsafe { sys::napi_delete_reference(self.env, self.control.array) };
    }

    fn delete_callback(&self, callback: sys::napi_ref, context: sys::napi_async_context) {
        // SAFETY: the reference and the context were made on this env in `start`, and each pair
        // is deleted once (taken out of `running`, or out of `retired`). Failures leak a little.
        unsafe {
            sys::napi_delete_reference(self.env, callback);
            sys::napi_async_destroy(self.env, context);
        }
    }

    /// Drains the socket, one `recvmmsg` into the bank JavaScript chose at a time, and hands each
    /// batch to JavaScript, up to [`MAX_ROUNDS`] times.
    ///
    /// A negative `status` is libuv's report of POLLERR, after which libuv has stopped the
    /// watcher. On a netlink socket that is a pending socket error, almost always ENOBUFS (the
    /// socket buffer overran): the next receive returns it, nfq-core counts it as an overrun,
    /// and reading goes on, so the watcher is started again. Any other receive error is reported.
    fn on_readable(&self, status: c_int) {
        let Some(queue) = self.running.borrow().as_ref().map(|r| r.queue.clone()) else { return };
        let overruns_before = queue.stats().overruns;
        if status < 0 {
            self.polling.set(false);
        }
        let env = self.env;
        let mut scope = ptr::null_mut();
        // SAFETY: called from a libuv callback on this env's thread, outside any handle scope:
        // opening one is required before making values, and it is closed below.
        if check(unsafe { sys::napi_open_handle_scope(env, &mut scope) }).is_err() {
            return;
        }
        let mut failure = None;
        let mut delivered = false;
        for _ in 0..MAX_ROUNDS {
            // JavaScript may have paused or stopped the reader in the last call.
            if self.running.borrow().is_none() || !self.wanted.get() {
                break;
            }
            let bank = match self.bank(self.control.get(CONTROL_NEXT_BANK)) {
                Ok(Some(bank)) => bank,
                Ok(None) => {
                    // No bank is free: read again once JavaScript resumes.
                    self.wanted.set(false);
                    self.set_polling(false);
                    break;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let received = {
                let mut banks = self.banks.borrow_mut();
                let buffers = &mut banks[bank].buffers;
                match queue.receive_ready(buffers) {
                    Ok(received) => {
                        for i in 0..received {
                            self.control.set(CONTROL_LENGTHS + i, buffers.prepare_in_place(i) as i32);
                        }
                        self.control.set(CONTROL_COUNT, received as i32);
                        received
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            };
            if received == 0 {
                break;
            }
            delivered = true;
            self.call_with_bank(bank);
            if received < self.batch_size {
                break; // the socket is (almost surely) empty
            }
        }
        let overran = queue.stats().overruns != overruns_before;
        drop(queue);
        if status < 0 && failure.is_none() && !delivered && !overran {
            // POLLERR that no receive explains: polling again would only spin.
            failure = Some(nfq_core::Error::Io {
                operation: format!("the queue's socket reports an error that receiving does not clear (libuv status {status})"),
                source: std::io::Error::from_raw_os_error(libc_eio()),
            });
        }
        if failure.is_none() && !self.polling.get() && self.wanted.get() && self.running.borrow().is_some() {
            self.set_polling(true); // after POLLERR
        }
        if overran && !delivered {
            // SAFETY: a value of this env, in the scope opened above; the reference is live
            // (`running` is Some while `overran` can be true: it was checked at the top).
            let argv = unsafe {
                (|| -> Result<[sys::napi_value; 4]> {
                    let null = ToNapiValue::to_napi_value(env, Null)?;
                    let undefined = ToNapiValue::to_napi_value(env, ())?;
                    let mut control = ptr::null_mut();
                    check(sys::napi_get_reference_value(env, self.control.array, &mut control))?;
                    Ok([null, null, undefined, control])
                })()
            };
            if let Ok(argv) = argv {
                self.call(&argv); // lets JavaScript report the overrun now
            }
        }
        if let Some(error) = failure {
            // Receiving cannot go on (the socket failed): stop polling, say why; close() cleans up.
            self.wanted.set(false);
            self.set_polling(false);
            // SAFETY: as above; the error object is made by error_object.
            if let (Ok(error), Ok(null)) = unsafe { (ToNapiValue::to_napi_value(env, BatchError(Some(error))), ToNapiValue::to_napi_value(env, Null)) } {
                self.call(&[error, null]);
            }
        }
        // SAFETY: closes the scope opened above.
        unsafe { sys::napi_close_handle_scope(env, scope) };
    }

    /// The bank JavaScript asked for (`next`): one already made, or a new one when `next` is the
    /// number made so far (below [`MAX_BANKS`]); None when it asked for none (-1, or out of
    /// range). An error when the memory of a new one cannot be had. Called inside a handle scope.
    fn bank(&self, next: i32) -> std::result::Result<Option<usize>, nfq_core::Error> {
        let Ok(next) = usize::try_from(next) else { return Ok(None) };
        let mut banks = self.banks.borrow_mut();
        if next < banks.len() {
            return Ok(Some(next));
        }
        if next > banks.len() || next >= MAX_BANKS {
            return Ok(None);
        }
        let len = self.batch_size * DEFAULT_SLOT_SIZE;
        let Ok((bytes, data)) = shared_array(self.env, sys::TypedarrayType::uint8_array, len) else {
            let mut thrown = ptr::null_mut();
            // SAFETY: on the env's thread; clears what the failed allocation may have thrown, so
            // that the error is reported once, below, and not as an uncaught exception.
            unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut thrown) };
            return Err(nfq_core::Error::Io {
                operation: format!("allocate {len} bytes of receive memory (bank {next})"),
                source: std::io::Error::from(std::io::ErrorKind::OutOfMemory),
            });
        };
        let memory = SharedMemory { data, len };
        banks.push(Bank { buffers: RecvBuffers::with_memory(self.batch_size, DEFAULT_SLOT_SIZE, Box::new(memory)), bytes });
        Ok(Some(next))
    }

    /// Calls `onBatch(null, bank bytes, bank, control)`; inside a handle scope.
    fn call_with_bank(&self, bank: usize) {
        let env = self.env;
        let Some(bytes) = self.banks.borrow().get(bank).map(|b| b.bytes) else { return };
        // SAFETY: the references are live (the bank and `running` are, checked by the caller),
        // made on this env; values are made in the caller's handle scope.
        let argv = unsafe {
            (|| -> Result<[sys::napi_value; 4]> {
                let null = ToNapiValue::to_napi_value(env, Null)?;
                let mut array = ptr::null_mut();
                check(sys::napi_get_reference_value(env, bytes, &mut array))?;
                let index = ToNapiValue::to_napi_value(env, bank as u32)?;
                let mut control = ptr::null_mut();
                check(sys::napi_get_reference_value(env, self.control.array, &mut control))?;
                Ok([null, array, index, control])
            })()
        };
        if let Ok(argv) = argv {
            self.call(&argv);
        }
    }

    /// Calls `onBatch(...argv)` as an I/O callback (`napi_make_callback`), inside a handle scope.
    fn call(&self, argv: &[sys::napi_value]) {
        let env = self.env;
        let Some((callback, context, overruns)) =
            self.running.borrow().as_ref().map(|r| (r.callback, r.context, r.queue.stats().overruns))
        else {
            return;
        };
        self.control.set(CONTROL_OVERRUNS, overruns as u32 as i32);
        self.calling.set(true);
        // SAFETY: on the env's own thread, in the caller's handle scope; the function comes from
        // the live reference in `running` (kept until the call returns, see `retired`); a pending
        // exception is taken (cleared) before it is handed to napi_fatal_exception.
        unsafe {
            let mut function = ptr::null_mut();
            let mut receiver = ptr::null_mut();
            if check(sys::napi_get_reference_value(env, callback, &mut function)).is_ok()
                && check(sys::napi_get_global(env, &mut receiver)).is_ok()
            {
                let mut result = ptr::null_mut();
                let status = sys::napi_make_callback(env, context, receiver, function, argv.len(), argv.as_ptr(), &mut result);
                if status == sys::Status::napi_pending_exception {
                    // Thrown by onBatch: as from any I/O callback, it becomes an uncaught exception.
                    let mut thrown = ptr::null_mut();
                    if check(sys::napi_get_and_clear_last_exception(env, &mut thrown)).is_ok() {
                        sys::napi_fatal_exception(env, thrown);
                    }
                }
            }
        }
        self.calling.set(false);
        if let Some((callback, context)) = self.retired.take() {
            self.delete_callback(callback, context);
        }
    }
}

/// A new typed array of `kind` and `len` elements over a new ArrayBuffer, held by a strong
/// reference (the caller deletes it), and the address of its memory, which stays put while the
/// reference lives (a backing store never moves once made by `napi_create_arraybuffer`).
fn shared_array(env: sys::napi_env, kind: sys::napi_typedarray_type, len: usize) -> Result<(sys::napi_ref, NonNull<u8>)> {
    let element = if kind == sys::TypedarrayType::int32_array { 4 } else { 1 };
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut array = ptr::null_mut();
    let mut reference = ptr::null_mut();
    // SAFETY: on the env's thread inside a handle scope (a napi call or one opened by the
    // caller); every out-pointer is valid; the ArrayBuffer is zero-filled by V8.
    unsafe {
        check(sys::napi_create_arraybuffer(env, len * element, &mut data, &mut buffer))?;
        check(sys::napi_create_typedarray(env, kind, len, buffer, 0, &mut array))?;
        check(sys::napi_create_reference(env, array, 1, &mut reference))?;
    }
    let data = NonNull::new(data.cast::<u8>()).ok_or_else(|| Error::new(Status::GenericFailure, "napi_create_arraybuffer gave no memory"))?;
    Ok((reference, data))
}

/// EIO, for a socket failure with no errno of its own.
const fn libc_eio() -> i32 {
    5
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(Status::from(status), "a napi call failed".to_owned()))
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, status: c_int, _events: c_int) {
    // SAFETY: `data` holds the handle's reference to the watcher (set in `start`), alive until
    // `on_closed`, and libuv calls this only on a started, unclosed handle.
    let watcher = unsafe { &*(*(handle as *mut *const Watcher)) };
    watcher.on_readable(status);
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: libuv's last call for this handle: give back the handle's reference (from
    // `Rc::into_raw` in `start`). The memory may be freed now; libuv no longer touches it.
    drop(unsafe { Rc::from_raw(*(handle as *mut *const Watcher)) });
}

unsafe extern "C" fn on_env_teardown(argument: *mut c_void) {
    // SAFETY: `argument` is the hook's reference from `Rc::into_raw` in `start`; the hook runs at
    // most once and was not removed (release clears `hooked` before removing it).
    let watcher = unsafe { Rc::from_raw(argument as *const Watcher) };
    watcher.hooked.set(false);
    watcher.release();
}

