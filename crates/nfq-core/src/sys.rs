//! The only `unsafe` in the crate: the netlink socket and its system calls.
//!
//! Each block says why it is sound. Everything above this module is safe code
//! over these few functions: `socket`, `bind`, `getsockname`, `setsockopt`,
//! `getsockopt`, `fcntl`, `sendto`, `recvmmsg`, `poll`, `eventfd`, `setns`, `if_nameindex`,
//! `getpwnam_r`, `setresuid`/`setresgid`/`setgroups`, `prctl`, `capset`, `sched_setaffinity`,
//! `setpriority`.

use std::fs::File;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::consts::NETLINK_NETFILTER;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn kernel_address() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value (port 0 = the kernel).
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}

/// A `NETLINK_NETFILTER` socket, bound with a port id the kernel chose.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
    port_id: u32,
}

impl NetlinkSocket {
    /// Opens and binds a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        // SAFETY: socket(2) takes no pointers; a non-negative return is a new descriptor we own.
        let raw = check(unsafe {
            libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, NETLINK_NETFILTER)
        })?;
        // SAFETY: `raw` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let addr = kernel_address(); // nl_pid 0 on bind: the kernel picks a unique port id
        // SAFETY: `addr` is a valid sockaddr_nl for the duration of the call and its size is passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        let mut bound = kernel_address();
        let mut len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `bound` and `len` are valid for writes; `len` holds the buffer size.
        check(unsafe {
            libc::getsockname(fd.as_raw_fd(), &mut bound as *mut libc::sockaddr_nl as *mut libc::sockaddr, &mut len)
        })?;
        Ok(Self { fd, port_id: bound.nl_pid })
    }

    /// Opens the socket inside the network namespace at `netns` (e.g.
    /// `/var/run/netns/NAME` or `/proc/PID/ns/net`), without moving the caller:
    /// a short-lived thread enters the namespace, opens the socket and exits.
    /// The socket stays in that namespace for its whole life.
    pub fn open_in_netns(netns: &Path) -> io::Result<Self> {
        let netns = netns.to_owned();
        run_in_netns(&netns, Self::open)?
    }

    /// The port id the kernel assigned.
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    /// Sets an integer socket option.
    pub fn set_int_option(&self, level: i32, name: i32, value: i32) -> io::Result<()> {
        // SAFETY: `value` is a valid c_int for the duration of the call and its size is passed.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                &value as *const i32 as *const libc::c_void,
                mem::size_of::<i32>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// Reads an integer socket option.
    pub fn int_option(&self, level: i32, name: i32) -> io::Result<i32> {
        let mut value: i32 = 0;
        let mut len = mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid for writes; `len` holds the size of `value`.
        check(unsafe {
            libc::getsockopt(self.fd.as_raw_fd(), level, name, &mut value as *mut i32 as *mut libc::c_void, &mut len)
        })?;
        Ok(value)
    }

    /// Switches `O_NONBLOCK` on or off.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        // SAFETY: fcntl(F_GETFL) on a descriptor we own takes no pointers.
        let flags = check(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GETFL) })?;
        let flags = if nonblocking { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
        // SAFETY: fcntl(F_SETFL) with an integer argument takes no pointers.
        check(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
    }

    /// Sends one datagram (one or more netlink messages) to the kernel.
    pub fn send(&self, datagram: &[u8]) -> io::Result<usize> {
        let addr = kernel_address();
        loop {
            // SAFETY: `datagram` is valid for reads of its length; `addr` is a valid sockaddr_nl.
            let sent = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    datagram.as_ptr() as *const libc::c_void,
                    datagram.len(),
                    0,
                    &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return Ok(sent as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Receives up to `batch.capacity()` datagrams in one `recvmmsg`.
    ///
    /// With `wait`, blocks until at least one arrives (`MSG_WAITFORONE`), then
    /// takes what else is ready; without, returns `WouldBlock` when none is.
    pub fn receive(&self, batch: &mut RecvBuffers, wait: bool) -> io::Result<usize> {
        batch.count = 0;
        let slots = batch.lens.len();
        let slot_size = batch.slot_size;
        let base = batch.memory.bytes_mut().as_mut_ptr();
        for i in 0..slots {
            batch.iovecs[i] = libc::iovec {
                // SAFETY: the memory holds at least `slots * slot_size` bytes (checked when the
                // buffers were made), so slot `i` lies inside it.
                iov_base: unsafe { base.add(i * slot_size) } as *mut libc::c_void,
                iov_len: slot_size,
            };
            // SAFETY: mmsghdr is plain old data; all-zero is valid before the fields are set.
            let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
            header.msg_hdr.msg_iov = &mut batch.iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_name = &mut batch.senders[i] as *mut libc::sockaddr_nl as *mut libc::c_void;
            header.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            batch.headers[i] = header;
        }
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        let received = loop {
            // SAFETY: `headers` holds `slots` entries, each pointing at an iovec of `slot_size`
            // bytes inside `memory` and at a sockaddr_nl in `senders`; all live in `batch`,
            // which is borrowed mutably for the call, so nothing else touches them.
            let n = unsafe {
                libc::recvmmsg(self.fd.as_raw_fd(), batch.headers.as_mut_ptr(), slots as libc::c_uint, flags, std::ptr::null_mut())
            };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        };
        for i in 0..received {
            batch.lens[i] = batch.headers[i].msg_len;
            batch.flags[i] = batch.headers[i].msg_hdr.msg_flags as u32;
            batch.sender_ports[i] = batch.senders[i].nl_pid;
        }
        batch.count = received;
        Ok(received)
    }

    /// Waits until the socket is readable or `interrupt` is triggered, at most `timeout_ms`
    /// (-1: no limit). Returns what became ready.
    pub fn wait(&self, interrupt: Option<&Interrupt>, timeout_ms: i32) -> io::Result<Readiness> {
        let mut fds = [
            libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: interrupt.map_or(-1, |i| i.fd.as_raw_fd()), events: libc::POLLIN, revents: 0 },
        ];
        loop {
            // SAFETY: `fds` is a valid array of 2 pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
            if n >= 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(Readiness {
            readable: fds[0].revents != 0,
            interrupted: fds[1].revents != 0,
        })
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// What [`NetlinkSocket::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Data (or an error) is waiting on the socket.
    pub readable: bool,
    /// The interrupt was triggered.
    pub interrupted: bool,
}

/// Wakes a thread blocked in [`NetlinkSocket::wait`] from another thread (an eventfd).
#[derive(Debug)]
pub struct Interrupt {
    fd: OwnedFd,
}

impl Interrupt {
    /// A new, untriggered interrupt.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd(2) takes no pointers; a non-negative return is a descriptor we own.
        let raw = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `raw` was just returned by eventfd(2) and is owned by nobody else.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Triggers it: every current and future wait returns `interrupted` until [`Interrupt::clear`].
    pub fn trigger(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64, as eventfd requires.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
        if n == 8 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Resets it.
    pub fn clear(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN (not triggered) leaves it untouched.
        unsafe { libc::read(self.fd.as_raw_fd(), &mut value as *mut u64 as *mut libc::c_void, 8) };
    }
}

/// Runs `f` on a new thread that has entered the network namespace at `netns`.
///
/// Only that thread moves; the caller's namespace never changes. Sockets opened
/// by `f` stay in the namespace.
pub fn run_in_netns<T: Send + 'static>(
    netns: &Path,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<io::Result<T>> {
    let file = File::open(netns)?;
    std::thread::Builder::new()
        .name("nfq-netns".into())
        .spawn(move || {
            // SAFETY: setns(2) with a descriptor we hold open; it changes only this thread,
            // which exits when `f` returns.
            check(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })?;
            Ok(f())
        })?
        .join()
        .map_err(|_| io::Error::other("network namespace thread panicked"))?
}

/// The network interfaces of the calling thread's namespace: `(index, name)` pairs
/// (`if_nameindex(3)`), to name the interface indexes packets carry.
pub fn interfaces() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: if_nameindex takes no arguments; it returns a heap array (or null on error)
    // that we own until if_freenameindex.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut entry = list;
    loop {
        // SAFETY: `entry` points into the array returned above, which ends with an entry whose
        // index is 0 and name null; we stop there and never step past it.
        let item = unsafe { &*entry };
        if item.if_index == 0 || item.if_name.is_null() {
            break;
        }
        // SAFETY: if_name is a valid NUL-terminated string while the array lives.
        let name = unsafe { std::ffi::CStr::from_ptr(item.if_name) }.to_string_lossy().into_owned();
        found.push((item.if_index, name));
        // SAFETY: the terminating entry has not been reached, so the next entry is in the array.
        entry = unsafe { entry.add(1) };
    }
    // SAFETY: `list` came from if_nameindex and is freed once, after its last use.
    unsafe { libc::if_freenameindex(list) };
    Ok(found)
}

/// Reusable receive buffers for `recvmmsg`: `capacity` slots of `slot_size` bytes.
///
/// Allocated once; receiving into them allocates nothing.
pub struct RecvBuffers {
    pub(crate) memory: Box<dyn crate::batch::RecvMemory>,
    pub(crate) slot_size: usize,
    pub(crate) count: usize,
    pub(crate) lens: Vec<u32>,
    pub(crate) flags: Vec<u32>,
    pub(crate) sender_ports: Vec<u32>,
    headers: Vec<libc::mmsghdr>,
    iovecs: Vec<libc::iovec>,
    senders: Vec<libc::sockaddr_nl>,
}

// SAFETY: the raw pointers inside `headers` and `iovecs` only ever point into this same
// struct's `memory`, `iovecs` and `senders`; they are rewritten before every use and never
// dereferenced outside `NetlinkSocket::receive`, which borrows the whole struct mutably.
unsafe impl Send for RecvBuffers {}

impl RecvBuffers {
    /// `capacity` slots (datagrams per `recvmmsg`) of `slot_size` bytes each.
    pub fn new(capacity: usize, slot_size: usize) -> Self {
        let capacity = capacity.max(1);
        Self::with_memory(capacity, slot_size, Box::new(vec![0u8; capacity * slot_size]))
    }

    /// `capacity` slots of `slot_size` bytes in `memory`, which a binding may share with another
    /// language that reads the datagrams in place (slot `i` starts at byte `i * slot_size`).
    ///
    /// # Panics
    ///
    /// When `memory` holds fewer than `capacity * slot_size` bytes (`capacity` is at least 1).
    pub fn with_memory(capacity: usize, slot_size: usize, memory: Box<dyn crate::batch::RecvMemory>) -> Self {
        let capacity = capacity.max(1);
        assert!(
            memory.bytes().len() >= capacity * slot_size,
            "receive memory of {} bytes is too small for {capacity} slots of {slot_size} bytes",
            memory.bytes().len()
        );
        Self {
            memory,
            slot_size,
            count: 0,
            lens: vec![0; capacity],
            flags: vec![0; capacity],
            sender_ports: vec![0; capacity],
            // SAFETY: mmsghdr and iovec are plain old data; zeroed values are valid placeholders,
            // overwritten before every recvmmsg.
            headers: (0..capacity).map(|_| unsafe { mem::zeroed() }).collect(),
            // SAFETY: as above.
            iovecs: (0..capacity).map(|_| unsafe { mem::zeroed() }).collect(),
            senders: (0..capacity).map(|_| kernel_address()).collect(),
        }
    }
}

impl std::fmt::Debug for RecvBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuffers")
            .field("capacity", &self.lens.len())
            .field("slot_size", &self.slot_size)
            .field("count", &self.count)
            .finish()
    }
}

/// A user account, as `getpwnam(3)` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks `name` up in the user database (`getpwnam_r`); `None` when there is no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<UserIds>> {
    let name = std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; zeroed is a valid value for getpwnam_r to overwrite.
    let mut entry: libc::passwd = unsafe { mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `name` is NUL-terminated, `entry` and `found`
    // are writable, and `buffer` holds `buffer.len()` bytes for the strings getpwnam_r copies.
    let ret = unsafe { libc::getpwnam_r(name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok((!found.is_null()).then_some(UserIds { uid: entry.pw_uid, gid: entry.pw_gid }))
}

const PR_SET_KEEPCAPS: libc::c_int = 8;
const PR_CAPBSET_DROP: libc::c_int = 24;
const PR_CAP_AMBIENT: libc::c_int = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// CAP_NET_ADMIN, the capability nfnetlink checks on every message.
pub const CAP_NET_ADMIN: u32 = 12;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: these prctl options take integer arguments only, no pointers.
    check(unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) }).map(drop)
}

/// Switches the process to `ids` (groups reduced to its primary group) and keeps, on the calling
/// thread, CAP_NET_ADMIN and nothing else: the capability nfnetlink checks on every verdict.
///
/// The uid and gid change for every thread (glibc applies them process-wide); the capability
/// survives only on the calling thread, so call this on the thread that sends the verdicts.
/// Other capabilities leave the bounding set too, so nothing can win them back.
pub fn drop_privileges_keeping_net_admin(ids: &UserIds) -> io::Result<()> {
    prepare_thread_to_keep_net_admin()?;
    switch_user(ids)?;
    keep_only_net_admin()
}

/// First step of a switch of user in a process whose other threads must keep CAP_NET_ADMIN too:
/// on the calling thread, drops every capability but CAP_NET_ADMIN from the bounding set, clears
/// the ambient set and sets PR_SET_KEEPCAPS (all per-thread), so that its permitted set survives
/// [`switch_user`]. Every thread that will give verdicts calls it, then one thread switches, then
/// each calls [`keep_only_net_admin`].
pub fn prepare_thread_to_keep_net_admin() -> io::Result<()> {
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in (0..=last_cap).filter(|&c| c != CAP_NET_ADMIN) {
        match prctl(PR_CAPBSET_DROP, cap as libc::c_ulong) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {} // unknown to this kernel
            other => other?,
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)?;
    prctl(PR_SET_KEEPCAPS, 1)
}

/// Switches the whole process to `ids`: the only group, gid and uid (glibc applies them to every
/// thread). Threads that did not call [`prepare_thread_to_keep_net_admin`] lose every capability.
pub fn switch_user(ids: &UserIds) -> io::Result<()> {
    let gid = ids.gid;
    // SAFETY: setgroups reads one gid_t from a valid pointer.
    check(unsafe { libc::setgroups(1, &gid) })?;
    // SAFETY: setresgid and setresuid take integers only.
    check(unsafe { libc::setresgid(ids.gid, ids.gid, ids.gid) })?;
    // SAFETY: as above.
    check(unsafe { libc::setresuid(ids.uid, ids.uid, ids.uid) })?;
    Ok(())
}

/// Last step: on the calling thread, clears PR_SET_KEEPCAPS and makes CAP_NET_ADMIN its only
/// capability, effective and permitted.
pub fn keep_only_net_admin() -> io::Result<()> {
    prctl(PR_SET_KEEPCAPS, 0)?;
    let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let only_net_admin = CapData { effective: 1 << CAP_NET_ADMIN, permitted: 1 << CAP_NET_ADMIN, inheritable: 0 };
    let data = [only_net_admin, CapData { effective: 0, permitted: 0, inheritable: 0 }];
    // SAFETY: capset reads a version-3 header and two data structs, both valid for the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pins the calling thread to `cpus` (`sched_setaffinity`), e.g. away from the cores that
/// handle the NIC's interrupts.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` was checked to be below CPU_SETSIZE, the number of bits in `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t for the call; pid 0 is the calling thread.
    check(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) }).map(drop)
}

/// Sets the calling thread's nice value (-20 = most favoured; below 0 needs CAP_SYS_NICE).
pub fn set_current_thread_nice(nice: i32) -> io::Result<()> {
    // SAFETY: gettid takes no arguments.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    // SAFETY: setpriority takes integers only; on Linux PRIO_PROCESS with a thread id sets that thread.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) }).map(drop)
}
