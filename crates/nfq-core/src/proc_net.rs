//! What the kernel shows about queues in `/proc`: the queue table of
//! `/proc/net/netfilter/nfnetlink_queue` (one line per bound queue), and which process holds
//! each queue's socket (its port id in `/proc/net/netlink`, then the process with that socket
//! open). One reader of these files serves the queue's own lookups, the binding and `nf-queue
//! stats`.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

use crate::config::netns_path;
use crate::error::{Error, Result};
use crate::sys;
use crate::transport::Host;

/// The queue table, relative to `/proc/net`.
pub const QUEUE_TABLE: &str = "netfilter/nfnetlink_queue";
/// The netlink socket table, relative to `/proc/net`.
pub const NETLINK_TABLE: &str = "netlink";

/// One row of `/proc/net/netfilter/nfnetlink_queue`: a bound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTableRow {
    /// Queue number.
    pub queue: u16,
    /// Netlink port id of the socket the queue is bound to.
    pub port_id: u32,
    /// Packets waiting for a verdict.
    pub waiting: u32,
    /// Copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u8,
    /// Copy range in bytes.
    pub copy_range: u32,
    /// Packets dropped because the queue was full.
    pub queue_dropped: u32,
    /// Packets dropped because the socket could not take them.
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

/// The socket inode of each NETLINK_NETFILTER (protocol 12) socket, by port id, from the text of
/// `/proc/net/netlink` (columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode).
pub fn netfilter_socket_inodes(netlink_table: &str) -> HashMap<u32, u64> {
    netlink_table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 10 && f[1] == "12").then(|| Some((f[2].parse().ok()?, f[9].parse().ok()?))).flatten()
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

/// Finds, by walking `/proc/PID/fd`, a process that has each socket inode open: `(pid, command)`
/// by inode. Processes this one may not look into are passed over.
pub fn socket_holders(inodes: &HashSet<u64>) -> HashMap<u64, (u32, Option<String>)> {
    socket_holders_in(Path::new("/proc"), inodes)
}

fn socket_holders_in(proc_root: &Path, inodes: &HashSet<u64>) -> HashMap<u64, (u32, Option<String>)> {
    let mut holders = HashMap::new();
    if inodes.is_empty() {
        return holders;
    }
    let wanted: HashMap<String, u64> = inodes.iter().map(|&inode| (format!("socket:[{inode}]"), inode)).collect();
    let Ok(processes) = std::fs::read_dir(proc_root) else { return holders };
    for entry in processes.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let Some(&inode) = target.to_str().and_then(|t| wanted.get(t)) else { continue };
            holders.entry(inode).or_insert_with(|| {
                let command = std::fs::read_to_string(entry.path().join("comm")).ok().map(|c| c.trim().to_owned());
                (pid, command)
            });
        }
        if holders.len() == wanted.len() {
            break;
        }
    }
    holders
}

/// Who holds each of `port_ids` (netlink sockets of the namespace whose `/proc/net/netlink` is
/// `netlink_table`); an owner without pid where the process was not found.
pub fn socket_owners(netlink_table: &str, port_ids: impl IntoIterator<Item = u32>) -> HashMap<u32, SocketOwner> {
    let inodes = netfilter_socket_inodes(netlink_table);
    let ports: Vec<u32> = port_ids.into_iter().collect();
    let holders = socket_holders(&ports.iter().filter_map(|port| inodes.get(port).copied()).collect());
    ports
        .into_iter()
        .map(|port_id| {
            let holder = inodes.get(&port_id).and_then(|inode| holders.get(inode));
            let owner = SocketOwner { port_id, pid: holder.map(|h| h.0), command: holder.and_then(|h| h.1.clone()) };
            (port_id, owner)
        })
        .collect()
}

/// Finds who holds `queue` in the namespace `host` looks into: the queue's port id, the socket's
/// inode, then the process with that socket open.
pub(crate) fn find_queue_owner(host: &impl Host, queue: u16) -> Option<SocketOwner> {
    let port_id = parse_queue_table(&host.proc_net(QUEUE_TABLE)?).into_iter().find(|r| r.queue == queue)?.port_id;
    let netlink_table = host.proc_net(NETLINK_TABLE).unwrap_or_default();
    socket_owners(&netlink_table, [port_id]).remove(&port_id)
}

/// Reads `/proc/net/<file>` as seen from the network namespace at `netns` (this thread's when
/// None). `Err` of the outer result: the namespace could not be entered.
pub fn read_in_netns(file: &str, netns: Option<&Path>) -> io::Result<io::Result<String>> {
    let path = Path::new("/proc/thread-self/net").join(file);
    let read = move || std::fs::read_to_string(path);
    match netns {
        None => Ok(read()),
        Some(ns) => sys::run_in_netns(ns, read),
    }
}

/// A bound queue, and the process holding its socket when asked for and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundQueue {
    /// The queue's row of the queue table.
    pub row: QueueTableRow,
    /// The process holding its socket (when owners were asked for).
    pub owner: Option<SocketOwner>,
}

/// The queues bound in network namespace `netns` (a name from `ip netns add` or a path; this
/// one when None), sorted by queue number, with the processes holding them when `owners` (a
/// courtesy: without `/proc/net/netlink` the queues come without owners). Errors say what to do:
/// the namespace does not exist or cannot be entered, or nfnetlink_queue is not loaded (ENOENT).
///
/// # Errors
///
/// [`Error::Namespace`] when the namespace does not exist or cannot be entered; [`Error::Io`] when
/// the queue table cannot be read (ENOENT: nfnetlink_queue is not loaded).
pub fn bound_queues(netns: Option<&Path>, owners: bool) -> Result<Vec<BoundQueue>> {
    let netns = netns.map(netns_path);
    let read = |file: &str| {
        let operation = format!("read /proc/net/{file}");
        match read_in_netns(file, netns.as_deref()) {
            Ok(read) => read.map_err(|source| Error::Io { operation, source }),
            // The namespace does not exist, or entering it needs CAP_SYS_ADMIN.
            Err(source) => Err(Error::Namespace { operation, path: netns.clone().unwrap_or_default(), source }),
        }
    };
    let mut rows = parse_queue_table(&read(QUEUE_TABLE)?);
    rows.sort_by_key(|r| r.queue);
    let netlink_table = if owners { read(NETLINK_TABLE).ok() } else { None };
    let mut owners_by_port = netlink_table.map_or_else(HashMap::new, |table| socket_owners(&table, rows.iter().map(|r| r.port_id)));
    Ok(rows.into_iter().map(|row| BoundQueue { owner: owners_by_port.remove(&row.port_id), row }).collect())
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

    #[test]
    fn only_netfilter_sockets_are_mapped_to_inodes() {
        let table = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
                     ffff8a0d0ba1c800 0   1234       00000000 0        0        0     2        0        55501\n\
                     ffff8a0d0ba1d000 12  4242       00000000 0        0        0     2        0        55502\n\
                     ffff8a0d0ba1d800 12  77\n";
        assert_eq!(netfilter_socket_inodes(table), HashMap::from([(4242, 55502)]));
    }

    #[test]
    fn holders_are_found_through_pid_fd_links_and_named_by_comm() {
        let root = std::env::temp_dir().join(format!("nfq-proc-{}", std::process::id()));
        for (pid, comm, links) in [("17", "sshd\n", &["socket:[1]", "/dev/null"][..]), ("4242", "suricata\n", &["socket:[5551]"]), ("self", "x\n", &["socket:[5552]"])] {
            let fd = root.join(pid).join("fd");
            std::fs::create_dir_all(&fd).unwrap();
            std::fs::write(root.join(pid).join("comm"), comm).unwrap();
            for (i, target) in links.iter().enumerate() {
                std::os::unix::fs::symlink(target, fd.join(i.to_string())).unwrap();
            }
        }
        let found = socket_holders_in(&root, &HashSet::from([5551, 5552]));
        std::fs::remove_dir_all(&root).unwrap();
        // "self" is not a process id: passed over.
        assert_eq!(found, HashMap::from([(5551, (4242, Some("suricata".to_owned())))]));
        assert!(socket_holders_in(Path::new("/nonexistent"), &HashSet::from([1])).is_empty());
    }

    #[test]
    fn this_process_is_found_holding_a_netfilter_socket_it_opened() {
        let socket = sys::NetlinkSocket::open().unwrap();
        let table = read_in_netns(NETLINK_TABLE, None).unwrap().unwrap();
        let owners = socket_owners(&table, [socket.port_id()]);
        let owner = &owners[&socket.port_id()];
        assert_eq!(owner.pid, Some(std::process::id()));
        assert!(owner.command.is_some());
    }
}
