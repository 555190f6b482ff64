//! The kernel behind a small interface, so that most of the crate can be
//! tested against a fake (`testing::FakeKernel`, feature `testing`) without privileges.

use std::io;
use std::path::{Path, PathBuf};

use crate::consts::*;
use crate::sys::{self, Interrupt, NetlinkSocket, Readiness, RecvBuffers};

/// What a [`crate::Queue`] needs from the kernel.
pub trait Transport: Send + Sync {
    /// Sends one datagram of netlink messages.
    fn send(&self, datagram: &[u8]) -> io::Result<usize>;
    /// Receives datagrams into `buffers`; `wait` blocks until at least one arrives.
    fn receive(&self, buffers: &mut RecvBuffers, wait: bool) -> io::Result<usize>;
    /// Waits until data is ready or `interrupt` fires (see [`NetlinkSocket::wait`]).
    fn wait(&self, interrupt: Option<&Interrupt>, timeout_ms: i32) -> io::Result<Readiness>;
    /// This end's netlink port id.
    fn port_id(&self) -> u32;
    /// Largest datagram the kernel takes in one send.
    fn max_datagram(&self) -> usize;
    /// Whether this process holds CAP_NET_ADMIN (tells the two meanings of EPERM apart).
    fn has_cap_net_admin(&self) -> bool {
        effective_cap_net_admin()
    }
    /// The text of `/proc/net/<file>` as seen from the socket's network namespace
    /// (`netfilter/nfnetlink_queue`, `netlink`).
    fn proc_net(&self, file: &str) -> Option<String>;
}

/// The real kernel: a `NETLINK_NETFILTER` socket, maybe in another network namespace.
#[derive(Debug)]
pub struct KernelTransport {
    socket: NetlinkSocket,
    netns: Option<PathBuf>,
    max_datagram: usize,
}

impl KernelTransport {
    /// Opens a socket in this namespace, or in the one at `netns`.
    pub fn open(netns: Option<&Path>) -> io::Result<Self> {
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
    pub fn socket(&self) -> &NetlinkSocket {
        &self.socket
    }

    /// Sets the receive buffer: SO_RCVBUFFORCE (past `rmem_max`, needs CAP_NET_ADMIN),
    /// falling back to SO_RCVBUF. Returns the size the kernel reports (it doubles the request).
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        let bytes = bytes.min(i32::MAX as usize) as i32;
        if self.socket.set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes).is_err() {
            self.socket.set_int_option(libc::SOL_SOCKET, libc::SO_RCVBUF, bytes)?;
        }
        self.receive_buffer()
    }

    /// The receive buffer size the kernel reports.
    pub fn receive_buffer(&self) -> io::Result<usize> {
        Ok(self.socket.int_option(libc::SOL_SOCKET, libc::SO_RCVBUF)? as usize)
    }

    /// NETLINK_NO_ENOBUFS: when on, an overflowing socket buffer drops silently.
    pub fn set_no_enobufs(&self, on: bool) -> io::Result<()> {
        self.socket.set_int_option(SOL_NETLINK, NETLINK_NO_ENOBUFS, on as i32)
    }

    /// Extended ACK: the kernel explains refused requests in words.
    pub fn set_extended_ack(&self, on: bool) -> io::Result<()> {
        self.socket.set_int_option(SOL_NETLINK, NETLINK_EXT_ACK, on as i32)
    }

    /// The network interfaces of the socket's namespace, `(index, name)`.
    pub fn interfaces(&self) -> io::Result<Vec<(u32, String)>> {
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
    fn wait(&self, interrupt: Option<&Interrupt>, timeout_ms: i32) -> io::Result<Readiness> {
        self.socket.wait(interrupt, timeout_ms)
    }
    fn port_id(&self) -> u32 {
        self.socket.port_id()
    }
    fn max_datagram(&self) -> usize {
        self.max_datagram
    }
    fn proc_net(&self, file: &str) -> Option<String> {
        let path = PathBuf::from("/proc/thread-self/net").join(file);
        let read = move || std::fs::read_to_string(path);
        match &self.netns {
            None => read().ok(),
            Some(ns) => sys::run_in_netns(ns, read).ok()?.ok(),
        }
    }
}

/// Whether CAP_NET_ADMIN (bit 12) is in the calling thread's effective set (`CapEff` in
/// /proc/thread-self/status: capabilities are per thread, and a thread may have dropped what the
/// process's first thread still has).
pub fn effective_cap_net_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else { return false };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// One row of `/proc/net/netfilter/nfnetlink_queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTableRow {
    /// Queue number.
    pub queue: u16,
    /// Port id of the socket bound to it.
    pub port_id: u32,
    /// Packets waiting for a verdict.
    pub waiting: u32,
    /// Copy mode.
    pub copy_mode: u8,
    /// Copy range.
    pub copy_range: u32,
    /// Packets dropped because the queue was full.
    pub queue_dropped: u32,
    /// Packets dropped because the message could not be sent to the socket.
    pub user_dropped: u32,
    /// Last packet id handed out.
    pub id_sequence: u32,
}

/// Parses the text of `/proc/net/netfilter/nfnetlink_queue`; malformed lines are skipped.
pub fn parse_queue_table(text: &str) -> Vec<QueueTableRow> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<u64> = line.split_whitespace().map_while(|w| w.parse().ok()).collect();
            (f.len() >= 8).then(|| QueueTableRow {
                queue: f[0] as u16,
                port_id: f[1] as u32,
                waiting: f[2] as u32,
                copy_mode: f[3] as u8,
                copy_range: f[4] as u32,
                queue_dropped: f[5] as u32,
                user_dropped: f[6] as u32,
                id_sequence: f[7] as u32,
            })
        })
        .collect()
}

/// The process holding a netlink socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOwner {
    /// Netlink port id of the socket.
    pub port_id: u32,
    /// Process id, when found.
    pub pid: Option<u32>,
    /// Process name (`/proc/PID/comm`), when found.
    pub command: Option<String>,
}

/// Finds who holds `queue`: its port id from `nfnetlink_queue`, the socket's inode
/// from `/proc/net/netlink`, then the process with that socket open.
pub fn find_queue_owner(transport: &impl Transport, queue: u16) -> Option<SocketOwner> {
    let table = transport.proc_net("netfilter/nfnetlink_queue")?;
    let port_id = parse_queue_table(&table).into_iter().find(|r| r.queue == queue)?.port_id;
    let mut owner = SocketOwner { port_id, pid: None, command: None };
    let inode = transport.proc_net("netlink").and_then(|text| {
        text.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 10 && f[1] == "12" && f[2].parse() == Ok(port_id)).then(|| f[9].to_owned())
        })
    });
    if let Some(inode) = inode {
        let wanted = format!("socket:[{inode}]");
        owner.pid = std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
            fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str())).then_some(pid)
        });
        owner.command = owner
            .pid
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .map(|c| c.trim().to_owned());
    }
    Some(owner)
}

/// Drops root after the queue is bound: switches to `user` and keeps only CAP_NET_ADMIN on the
/// calling thread, which nfnetlink checks on every verdict (a process that drops it too can no
/// longer give verdicts: its packets stay queued). Call it on the thread that sends verdicts.
pub fn drop_privileges(user: &str) -> crate::Result<sys::UserIds> {
    let ids = user_ids(user)?;
    sys::drop_privileges_keeping_net_admin(&ids).map_err(|e| crate::Error::io(format!("switch to user '{user}'"), e))?;
    Ok(ids)
}

/// [`drop_privileges`] for a process with several threads that give verdicts (one queue per
/// thread): call `prepare_thread` on each of them, then `switch` once (on any thread), then
/// `finish_thread` on each. Between the steps, the threads must not start others.
pub mod drop_privileges_by_thread {
    use super::{sys, user_ids};

    /// On the calling thread: keep CAP_NET_ADMIN through the coming switch (see [`switch`]).
    pub fn prepare_thread() -> crate::Result<()> {
        sys::prepare_thread_to_keep_net_admin().map_err(|e| crate::Error::io("prepare this thread to keep CAP_NET_ADMIN", e))
    }

    /// Switches the process to `user`; threads not prepared lose every capability.
    pub fn switch(user: &str) -> crate::Result<sys::UserIds> {
        let ids = user_ids(user)?;
        sys::switch_user(&ids).map_err(|e| crate::Error::io(format!("switch to user '{user}'"), e))?;
        Ok(ids)
    }

    /// On the calling thread, after [`switch`]: CAP_NET_ADMIN only, effective and permitted.
    pub fn finish_thread() -> crate::Result<()> {
        sys::keep_only_net_admin().map_err(|e| crate::Error::io("keep only CAP_NET_ADMIN on this thread", e))
    }
}

fn user_ids(user: &str) -> crate::Result<sys::UserIds> {
    sys::lookup_user(user)
        .map_err(|e| crate::Error::io(format!("look up user '{user}'"), e))?
        .ok_or_else(|| crate::Error::UserNotFound { user: user.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_table_rows_are_read_field_by_field() {
        let rows = parse_queue_table("    0  12345     2 2 65535     0     0       17  1\n    7 99 0 1 128 3 4 5 1\njunk\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].port_id, 12345);
        assert_eq!(rows[0].id_sequence, 17);
        assert_eq!(rows[1], QueueTableRow { queue: 7, port_id: 99, waiting: 0, copy_mode: 1, copy_range: 128, queue_dropped: 3, user_dropped: 4, id_sequence: 5 });
    }
}

