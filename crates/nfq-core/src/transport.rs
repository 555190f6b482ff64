//! The kernel behind a small interface, so that most of the crate can be
//! tested against a fake (`testing::FakeKernel`, feature `testing`) without privileges.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::consts::*;
use crate::sys::{self, Interrupt, NetlinkSocket, Readiness, RecvBuffers};

/// What a [`crate::Queue`] needs from the kernel.
pub trait Transport: Send + Sync {
    /// Sends one datagram of netlink messages.
    ///
    /// # Errors
    ///
    /// The OS error of `sendto`.
    fn send(&self, datagram: &[u8]) -> io::Result<usize>;
    /// Receives datagrams into `buffers`; `wait` blocks until at least one arrives.
    ///
    /// # Errors
    ///
    /// The OS error of `recvmmsg`; `WouldBlock` when `wait` is false and nothing is ready.
    fn receive(&self, buffers: &mut RecvBuffers, wait: bool) -> io::Result<usize>;
    /// Waits until data is ready or `interrupt` fires, at most `timeout` (`None`: no limit).
    ///
    /// # Errors
    ///
    /// The OS error of `poll`.
    fn wait(&self, interrupt: Option<&Interrupt>, timeout: Option<Duration>) -> io::Result<Readiness>;
    /// This end's netlink port id.
    fn port_id(&self) -> u32;
    /// Largest datagram the kernel takes in one send.
    fn max_datagram(&self) -> usize;
}

/// What a [`crate::Queue`] reads about its system besides the socket, to explain what the kernel
/// refused and to show the kernel's counters: kept apart from [`Transport`] so that a fake can
/// stand in for both.
pub trait Host: Send + Sync {
    /// Whether the calling thread holds CAP_NET_ADMIN (tells the two meanings of EPERM apart).
    fn has_cap_net_admin(&self) -> bool {
        crate::privileges::effective_cap_net_admin()
    }
    /// The text of `/proc/net/<file>` as seen from the socket's network namespace; `file` is
    /// `netfilter/nfnetlink_queue` (the queue table) or `netlink` (the sockets, to find a
    /// queue's owner).
    fn proc_net(&self, file: &str) -> Option<String>;
}

/// The real kernel: a `NETLINK_NETFILTER` socket, maybe in another network namespace.
/// [`Queue::open`](crate::Queue::open) makes one; its socket is reached through the queue.
#[derive(Debug)]
pub struct KernelTransport {
    socket: NetlinkSocket,
    netns: Option<PathBuf>,
    max_datagram: usize,
}

impl KernelTransport {
    /// Opens a socket in this namespace, or in the one at `netns`.
    pub(crate) fn open(netns: Option<&Path>) -> io::Result<Self> {
        let socket = match netns {
            Some(path) => NetlinkSocket::open_in_netns(path)?,
            None => NetlinkSocket::open()?,
        };
        let sndbuf = socket.int_option(libc::SOL_SOCKET, libc::SO_SNDBUF).unwrap_or(212_992) as usize;
        // netlink_sendmsg refuses a datagram longer than sk_sndbuf - 32.
        let max_datagram = sndbuf.saturating_sub(64).max(65_536 + 4_096);
        Ok(Self { socket, netns: netns.map(Path::to_owned), max_datagram })
    }

    /// The socket, for options this crate does not wrap.
    pub(crate) fn socket(&self) -> &NetlinkSocket {
        &self.socket
    }

    /// Sets the receive buffer: SO_RCVBUFFORCE (past `rmem_max`, needs CAP_NET_ADMIN),
    /// falling back to SO_RCVBUF. Returns the size the kernel reports (it doubles the request).
    pub(crate) fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        let bytes = bytes.min(i32::MAX as usize) as i32;
        if self.socket.set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes).is_err() {
            self.socket.set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUF, bytes)?;
        }
        self.receive_buffer()
    }

    /// The receive buffer size the kernel reports.
    pub(crate) fn receive_buffer(&self) -> io::Result<usize> {
        Ok(self.socket.int_option(libc::SOL_SOCKET, libc::SO_RCVBUF)? as usize)
    }

    /// NETLINK_NO_ENOBUFS: when on, an overflowing socket buffer drops silently.
    pub(crate) fn set_no_enobufs(&self, on: bool) -> io::Result<()> {
        self.socket.set_int_option(SOL_NETLINK, NETLINK_NO_ENOBUFS, on as i32)
    }

    /// Extended ACK: the kernel explains refused requests in words.
    pub(crate) fn set_extended_ack(&self, on: bool) -> io::Result<()> {
        self.socket.set_int_option(SOL_NETLINK, NETLINK_EXT_ACK, on as i32)
    }

    /// The network interfaces of the socket's namespace, `(index, name)`.
    pub(crate) fn interfaces(&self) -> io::Result<Vec<(u32, String)>> {
        match &self.netns {
            None => sys::interfaces(),
            Some(ns) => sys::run_in_netns(ns, sys::interfaces)?,
        }
    }
}

impl Transport for KernelTransport {
    fn send(&self, datagram: &[u8]) -> io::Result<usize> {
        self.socket.send(datagram)
    }
    fn receive(&self, buffers: &mut RecvBuffers, wait: bool) -> io::Result<usize> {
        self.socket.receive(buffers, wait)
    }
    fn wait(&self, interrupt: Option<&Interrupt>, timeout: Option<Duration>) -> io::Result<Readiness> {
        self.socket.wait(interrupt, timeout)
    }
    fn port_id(&self) -> u32 {
        self.socket.port_id()
    }
    fn max_datagram(&self) -> usize {
        self.max_datagram
    }
}

impl Host for KernelTransport {
    fn proc_net(&self, file: &str) -> Option<String> {
        crate::proc_net::read_in_netns(file, self.netns.as_deref()).ok()?.ok()
    }
}
