//! The netlink socket: open, bind, configure, send, receive (`recvmmsg`), wait.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use super::{check, kernel_address, run_in_netns, Interrupt, RecvBuffers};
use crate::consts::NETLINK_NETFILTER;

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

    /// Waits until the socket is readable or `interrupt` is triggered, at most `timeout` (`None`:
    /// no limit; rounded up to whole milliseconds). Returns what became ready.
    pub fn wait(&self, interrupt: Option<&Interrupt>, timeout: Option<std::time::Duration>) -> io::Result<Readiness> {
        let timeout_ms = match timeout {
            None => -1,
            Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
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

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// What [`Queue::wait`](crate::Queue::wait) saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Data (or an error) is waiting on the socket.
    pub readable: bool,
    /// The interrupt was triggered.
    pub interrupted: bool,
}
