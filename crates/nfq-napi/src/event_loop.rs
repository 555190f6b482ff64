//! The default reader: a libuv poll watcher on the queue's socket, so that the JavaScript thread
//! itself receives, as the batched C consumer does, with no reader thread and no hand-over
//! between threads. All of the binding's `unsafe` lives in this file.
//!
//! When the socket is readable, libuv calls [`on_readable`] on the JavaScript thread; it drains
//! the socket with non-blocking `recvmmsg` calls (up to [`MERGE_LIMIT`] bytes), copies the
//! messages into one `Vec` and calls `onBatch(null, batch)` through `napi_make_callback`, so that
//! microtasks and `process.nextTick` callbacks run after it as after any I/O callback. The
//! verdicts the handlers give are sent (`sendVerdicts`) before it returns, so one wake-up of the
//! event loop costs one `epoll_wait`, the `recvmmsg` calls and one `sendto`.
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

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::os::fd::AsRawFd as _;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;
use nfq_core::config::DEFAULT_SLOT_SIZE;
use nfq_core::{Queue, RecvBuffers};

use crate::{error_object, throw};

/// Bytes of messages after which one wake-up stops draining the socket and hands the batch over.
pub const MERGE_LIMIT: usize = 1 << 20;

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

struct Watcher {
    env: sys::napi_env,
    /// Memory of the `uv_poll_t`; its first field (`void *data`) points at this watcher.
    handle: Box<[u64]>,
    running: RefCell<Option<Running>>,
    buffers: RefCell<RecvBuffers>,
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
    /// Watches `queue`'s socket on `env`'s event loop and calls `on_batch(err, batch)` with what
    /// it receives. The socket is switched to non-blocking mode.
    pub fn start(env: &Env, queue: Arc<Queue>, on_batch: Function<'_, Option<Buffer>, ()>, batch_size: usize) -> Result<Self> {
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
        let watcher = Rc::new(Watcher {
            env: raw_env,
            handle: vec![0u64; size.div_ceil(8)].into_boxed_slice(),
            running: RefCell::new(Some(Running { queue: queue.clone(), callback, context })),
            buffers: RefCell::new(RecvBuffers::new(batch_size, DEFAULT_SLOT_SIZE)),
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
        let status = unsafe { uv_poll_init(event_loop, handle, queue.transport().socket().as_raw_fd()) };
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
        self.handle.as_ptr() as *mut c_void
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
    }

    fn delete_callback(&self, callback: sys::napi_ref, context: sys::napi_async_context) {
        // SAFETY: the reference and the context were made on this env in `start`, and each pair
        // is deleted once (taken out of `running`, or out of `retired`). Failures leak a little.
        unsafe {
            sys::napi_delete_reference(self.env, callback);
            sys::napi_async_destroy(self.env, context);
        }
    }

    /// Drains the socket into one batch and hands it to JavaScript.
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
        let mut batch = Vec::new();
        let mut failure = None;
        {
            let mut buffers = self.buffers.borrow_mut();
            loop {
                match queue.receive(&mut buffers, false) {
                    Ok(0) => break,
                    Ok(received) => {
                        buffers.copy_messages_into(&mut batch);
                        if received < buffers.capacity() || batch.len() >= MERGE_LIMIT {
                            break;
                        }
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        let overran = queue.stats().overruns != overruns_before;
        if status < 0 && failure.is_none() && batch.is_empty() && !overran {
            // POLLERR that no receive explains: polling again would only spin.
            failure = Some(nfq_core::Error::Io {
                operation: format!("the queue's socket reports an error that receiving does not clear (libuv status {status})"),
                source: std::io::Error::from_raw_os_error(libc_eio()),
            });
        }
        drop(queue);
        if failure.is_none() && !self.polling.get() && self.wanted.get() && self.running.borrow().is_some() {
            self.set_polling(true); // after POLLERR
        }
        if !batch.is_empty() || overran {
            self.call(None, Some(batch)); // an empty batch still lets JavaScript report the overrun now
        }
        if let Some(error) = failure {
            // Receiving cannot go on (the socket failed): stop polling, say why; close() cleans up.
            self.wanted.set(false);
            self.set_polling(false);
            self.call(Some(error), None);
        }
    }

    /// Calls `onBatch(error, batch)` as an I/O callback (`napi_make_callback`).
    fn call(&self, error: Option<nfq_core::Error>, batch: Option<Vec<u8>>) {
        let env = self.env;
        let Some((callback, context)) = self.running.borrow().as_ref().map(|r| (r.callback, r.context)) else { return };
        let mut scope = ptr::null_mut();
        // SAFETY: called from a libuv callback on this env's thread, outside any handle scope:
        // opening one is required before making values, and it is closed below.
        if check(unsafe { sys::napi_open_handle_scope(env, &mut scope) }).is_err() {
            return;
        }
        self.calling.set(true);
        // SAFETY: every value is made in the scope opened above, on the env's own thread; the
        // function comes from the live reference in `running` (kept until the call returns, see
        // `retired`); the Buffer takes the Vec's memory; a pending exception is taken (cleared)
        // before it is handed to napi_fatal_exception.
        let made = unsafe {
            (|| -> Result<()> {
                let mut function = ptr::null_mut();
                check(sys::napi_get_reference_value(env, callback, &mut function))?;
                let mut receiver = ptr::null_mut();
                check(sys::napi_get_global(env, &mut receiver))?;
                let first = ToNapiValue::to_napi_value(env, BatchError(error))?;
                let second = match batch {
                    Some(bytes) => ToNapiValue::to_napi_value(env, Buffer::from(bytes))?,
                    None => ToNapiValue::to_napi_value(env, Null)?,
                };
                let argv = [first, second];
                let mut result = ptr::null_mut();
                let status = sys::napi_make_callback(env, context, receiver, function, 2, argv.as_ptr(), &mut result);
                if status == sys::Status::napi_pending_exception {
                    // Thrown by onBatch: as from any I/O callback, it becomes an uncaught exception.
                    let mut thrown = ptr::null_mut();
                    if check(sys::napi_get_and_clear_last_exception(env, &mut thrown)).is_ok() {
                        sys::napi_fatal_exception(env, thrown);
                    }
                }
                Ok(())
            })()
        };
        drop(made);
        self.calling.set(false);
        if let Some((callback, context)) = self.retired.take() {
            self.delete_callback(callback, context);
        }
        // SAFETY: closes the scope opened above.
        unsafe { sys::napi_close_handle_scope(env, scope) };
    }
}

/// The first argument of `onBatch`: null, or the error (made by [`error_object`]); the reader thread passes it too.
pub struct BatchError(pub Option<nfq_core::Error>);

impl ToNapiValue for BatchError {
    unsafe fn to_napi_value(env: napi::sys::napi_env, value: Self) -> Result<napi::sys::napi_value> {
        match value.0 {
            // SAFETY: `env` is the live env napi called this conversion with, on its own thread.
            None => unsafe { ToNapiValue::to_napi_value(env, Null) },
            Some(error) => {
                let env = Env::from_raw(env);
                Ok(error_object(&env, &error)?.raw())
            }
        }
    }
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

