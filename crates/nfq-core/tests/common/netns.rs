//! The kernel-test kit: a network namespace per test with a unique name, removed on drop (also
//! when the test fails), iptables rules and UDP sockets inside it, and polling for conditions.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nfq_core::QueueOptions;

/// `setpriv` and the options that run what follows as nobody (uid and gid 65534, no groups).
pub const AS_NOBODY: [&str; 4] = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/// A network namespace `nfqt-rs-<pid>-<n>` with its loopback up, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(
            root,
            "the kernel tests make network namespaces and iptables rules, which needs root: run them as root \
             (sudo -E cargo test -p nfq-core); the other tests run without it (cargo test -p nfq-core --lib --test fake \
             --test fixtures --test properties --test facts)"
        );
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("nfqt-rs-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        run("ip", &["netns", "add", &name]);
        let ns = Self { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's file, for `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.name)
    }

    /// Runs `program args` inside the namespace; its stdout (panics when it fails).
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend(args);
        run("ip", &full)
    }

    /// Runs `iptables -w ARGS` (split at white space) inside the namespace.
    pub fn iptables(&self, args: &str) -> String {
        let mut full = vec!["-w"];
        full.extend(args.split_whitespace());
        self.exec("iptables", &full)
    }

    /// Queues UDP to `port` on OUTPUT to `queue`.
    pub fn queue_udp(&self, port: u16, queue: u16) {
        self.iptables(&format!("-A OUTPUT -p udp --dport {port} -j NFQUEUE --queue-num {queue}"));
    }

    /// The packet counter of the first rule of `table`/`chain` whose listing contains `rule_text`.
    pub fn rule_counter(&self, table: &str, chain: &str, rule_text: &str) -> u64 {
        let listing = self.iptables(&format!("-t {table} -L {chain} -v -x -n"));
        let line = listing.lines().find(|l| l.contains(rule_text)).unwrap_or_else(|| panic!("no rule with {rule_text:?}:\n{listing}"));
        line.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// The queue numbers bound in the namespace (the first column of its nfnetlink_queue table).
    pub fn bound_queues(&self) -> Vec<u16> {
        let table = self.exec("cat", &["/proc/net/netfilter/nfnetlink_queue"]);
        table.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect()
    }

    /// A UDP socket bound to 127.0.0.1:`port` inside the namespace (0: any port), reads time out after 300 ms.
    pub fn udp_socket(&self, port: u16) -> UdpSocket {
        let socket = nfq_core::testing::run_in_netns(&self.path(), move || UdpSocket::bind(("127.0.0.1", port)))
            .expect("enter namespace")
            .expect("bind UDP socket");
        socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        socket
    }

    /// Options for queue `queue` in this namespace.
    pub fn options(&self, queue: u16) -> QueueOptions {
        let mut o = QueueOptions::new(queue);
        o.netns = Some(self.name.clone().into());
        o
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Runs `program args`; its stdout (panics with its stderr when it fails).
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything `socket` receives until it has been quiet for 300 ms.
pub fn arrived(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

/// Sends each payload as one datagram to 127.0.0.1:`port` inside `ns`.
pub fn send(ns: &Netns, port: u16, payloads: &[&[u8]]) {
    let sender = ns.udp_socket(0);
    for p in payloads {
        sender.send_to(p, ("127.0.0.1", port)).unwrap();
    }
}

/// Sends `count` datagrams to `port` from sockets of 100 datagrams each: a queued packet stays
/// charged to its sender's send buffer until its verdict, so one socket holds only a few hundred.
pub fn send_many(ns: &Netns, port: u16, count: usize) {
    let mut sockets = Vec::new();
    for first in (0..count).step_by(100) {
        let socket = ns.udp_socket(0);
        for _ in first..count.min(first + 100) {
            socket.send_to(b"backlog", ("127.0.0.1", port)).unwrap();
        }
        sockets.push(socket);
    }
}

/// Polls `condition` every 10 ms until it holds; panics with `what()` after `timeout`.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?}: {}", what());
        std::thread::sleep(Duration::from_millis(10));
    }
}
