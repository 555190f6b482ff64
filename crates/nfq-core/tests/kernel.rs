//! Tests on the real kernel. Each makes its own network namespace with a unique
//! name, installs its own iptables rules there, passes real UDP packets through
//! a queue and asserts on what arrives. The namespace is removed on drop, even
//! when the test fails. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::{arrived, run, send, send_many, wait_until, Netns, AS_NOBODY};

use nfq_core::DEFAULT_SLOT_SIZE;
use nfq_core::{
    ConfigFlags, CopyMode, ErrorKind, Message, Queue, QueueOptions, RecvBuffers, Verdict, VerdictBuffer, VerdictOptions,
};

/// What a test keeps of a queued packet.
#[derive(Debug, Clone)]
struct Seen {
    queue: u16,
    id: u32,
    payload: Option<Vec<u8>>,
    cap_len: Option<u32>,
    uid: Option<u32>,
    mark: Option<u32>,
}

/// Reads packets until `count` arrived or 5 s passed.
fn receive(queue: &Queue, count: usize) -> Vec<Seen> {
    let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.len() < count && Instant::now() < deadline {
        if !queue.wait(None, Some(Duration::from_millis(100))).unwrap().readable {
            continue;
        }
        queue.receive(&mut buffers).unwrap();
        for m in buffers.messages() {
            match m.unwrap() {
                Message::Packet(p) => seen.push(Seen {
                    queue: p.queue(),
                    id: p.id(),
                    payload: p.payload().map(<[u8]>::to_vec),
                    cap_len: p.cap_len(),
                    uid: p.uid(),
                    mark: p.mark(),
                }),
                Message::Error(e) => panic!("kernel refused a message: errno {}", e.errno),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }
    assert_eq!(seen.len(), count, "packets queued");
    seen
}

fn udp_payload(ip_packet: &[u8]) -> &[u8] {
    let ihl = (ip_packet[0] & 0x0f) as usize * 4;
    &ip_packet[ihl + 8..]
}

fn accept_all(queue: &Queue, packets: &[Seen], options: &VerdictOptions) {
    let mut verdicts = VerdictBuffer::new();
    for p in packets {
        verdicts.push(p.queue, p.id, Verdict::Accept, options).unwrap();
    }
    queue.send_verdicts(&mut verdicts).unwrap();
}

#[test]
fn the_queue_descriptor_polls_readable_and_its_buffers_take_batch_size_datagrams() {
    use std::os::fd::{AsFd, AsRawFd};
    let ns = Netns::new();
    ns.queue_udp(7020, 20);
    let mut options = ns.options(20);
    options.batch_size = 3;
    let queue = Queue::open(&options).unwrap();
    let receiver = ns.udp_socket(7020);
    assert_eq!(queue.as_fd().as_raw_fd(), queue.as_raw_fd());
    send(&ns, 7020, &[&[1u8; 8], &[2u8; 8], &[3u8; 8], &[4u8; 8], &[5u8; 8]]);
    // What an event loop does: wait on the descriptor, then receive without blocking.
    let mut pollfd = libc::pollfd { fd: queue.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    assert_eq!(unsafe { libc::poll(&mut pollfd, 1, 5_000) }, 1, "readable");
    let mut buffers = queue.receive_buffers();
    assert_eq!((queue.batch_size(), buffers.capacity()), (3, 3));
    wait_until(Duration::from_secs(5), || queue.kernel_stats().is_some_and(|r| r.waiting == 5), || format!("{:?}", queue.kernel_stats()));
    assert_eq!(queue.try_receive(&mut buffers).unwrap(), 3, "one recvmmsg takes batch_size datagrams");
    let mut seen = Vec::new();
    for message in buffers.messages() {
        if let Ok(Message::Packet(p)) = message {
            seen.push((p.queue(), p.id()));
        }
    }
    seen.extend(receive(&queue, 2).iter().map(|p| (p.queue, p.id)));
    let mut verdicts = VerdictBuffer::new();
    for (queue_num, id) in &seen {
        verdicts.push(*queue_num, *id, Verdict::Accept, &VerdictOptions::default()).unwrap();
    }
    queue.send_verdicts(&mut verdicts).unwrap();
    assert_eq!(arrived(&receiver).len(), 5);
    queue.close().unwrap();
}

#[test]
fn accepted_packets_arrive_whole() {
    let ns = Netns::new();
    ns.queue_udp(7001, 1);
    let queue = Queue::open(&ns.options(1)).unwrap();
    let receiver = ns.udp_socket(7001);
    let payloads: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 32]).collect();
    send(&ns, 7001, &payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let seen = receive(&queue, 20);
    assert!(seen.iter().all(|p| p.queue == 1));
    assert_eq!(udp_payload(seen[3].payload.as_ref().unwrap()), &payloads[3][..]);
    accept_all(&queue, &seen, &VerdictOptions::default());
    assert_eq!(arrived(&receiver), payloads);
    let stats = queue.stats();
    assert_eq!(stats.datagrams, 20);
    assert_eq!(stats.verdicts_sent, 20);
    assert!(stats.batches < 20, "many packets per recvmmsg: {stats:?}");
    assert!(stats.verdict_sends <= stats.batches, "verdicts coalesced: {stats:?}");
    queue.close().unwrap();
}

#[test]
fn dropped_packets_do_not_arrive() {
    let ns = Netns::new();
    ns.queue_udp(7002, 2);
    let queue = Queue::open(&ns.options(2)).unwrap();
    let receiver = ns.udp_socket(7002);
    send(&ns, 7002, &[b"drop me", b"drop me too", b"keep me"]);
    let seen = receive(&queue, 3);
    for p in &seen[..2] {
        queue.verdict(p.id, Verdict::Drop, &VerdictOptions::default()).unwrap();
    }
    queue.verdict(seen[2].id, Verdict::Accept, &VerdictOptions::default()).unwrap();
    assert_eq!(arrived(&receiver), vec![b"keep me".to_vec()]);
}

#[test]
fn a_rewritten_packet_arrives_rewritten() {
    let ns = Netns::new();
    ns.queue_udp(7003, 3);
    let queue = Queue::open(&ns.options(3)).unwrap();
    let receiver = ns.udp_socket(7003);
    send(&ns, 7003, &[b"hello"]);
    let seen = receive(&queue, 1);
    let mut packet = seen[0].payload.clone().unwrap();
    let ihl = (packet[0] & 0x0f) as usize * 4;
    packet[ihl + 6..ihl + 8].copy_from_slice(&[0, 0]); // UDP checksum 0: none (IPv4)
    let len = packet.len();
    packet[len - 5..].copy_from_slice(b"HELLO");
    let options = VerdictOptions::NONE.with_payload(&packet);
    queue.verdict(seen[0].id, Verdict::Accept, &options).unwrap();
    assert_eq!(arrived(&receiver), vec![b"HELLO".to_vec()]);
}

#[test]
fn a_mark_set_by_the_verdict_is_seen_by_iptables() {
    let ns = Netns::new();
    ns.queue_udp(7004, 4);
    ns.iptables("-t mangle -A POSTROUTING -p udp --dport 7004 -m mark --mark 42");
    let queue = Queue::open(&ns.options(4)).unwrap();
    let receiver = ns.udp_socket(7004);
    send(&ns, 7004, &[b"a", b"b", b"c"]);
    let seen = receive(&queue, 3);
    assert!(seen.iter().all(|p| p.mark.is_none()), "no mark before the verdict (absent, not zero)");
    accept_all(&queue, &seen[..2], &VerdictOptions::NONE.with_mark(42));
    accept_all(&queue, &seen[2..], &VerdictOptions::default());
    assert_eq!(arrived(&receiver).len(), 3);
    let listing = ns.iptables("-t mangle -L POSTROUTING -v -x -n");
    let counter: u64 = listing
        .lines()
        .find(|l| l.contains("mark match 0x2a"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no mark rule in:\n{listing}"));
    assert_eq!(counter, 2, "packets marked 42");
}

#[test]
fn a_packet_sent_to_another_queue_reaches_it() {
    let ns = Netns::new();
    ns.queue_udp(7005, 5);
    let first = Queue::open(&ns.options(5)).unwrap();
    let second = Queue::open(&ns.options(6)).unwrap();
    let receiver = ns.udp_socket(7005);
    send(&ns, 7005, &[b"hop"]);
    let seen = receive(&first, 1);
    first.verdict(seen[0].id, Verdict::Queue { queue: 6, bypass: false }, &VerdictOptions::default()).unwrap();
    let hopped = receive(&second, 1);
    assert_eq!(hopped[0].queue, 6);
    assert_eq!(hopped[0].payload, seen[0].payload);
    assert!(arrived(&receiver).is_empty(), "held by the second queue until its verdict");
    second.verdict(hopped[0].id, Verdict::Accept, &VerdictOptions::default()).unwrap();
    assert_eq!(arrived(&receiver), vec![b"hop".to_vec()]);
}

#[test]
fn queue_bypass_accepts_when_the_target_queue_has_no_listener() {
    let ns = Netns::new();
    ns.queue_udp(7006, 7);
    let queue = Queue::open(&ns.options(7)).unwrap();
    let receiver = ns.udp_socket(7006);
    send(&ns, 7006, &[b"bypassed", b"lost"]);
    let seen = receive(&queue, 2);
    queue.verdict(seen[0].id, Verdict::Queue { queue: 999, bypass: true }, &VerdictOptions::default()).unwrap();
    queue.verdict(seen[1].id, Verdict::Queue { queue: 999, bypass: false }, &VerdictOptions::default()).unwrap();
    assert_eq!(arrived(&receiver), vec![b"bypassed".to_vec()]);
}

#[test]
fn verdict_batch_releases_every_id_up_to_one() {
    let ns = Netns::new();
    ns.queue_udp(7007, 8);
    let queue = Queue::open(&ns.options(8)).unwrap();
    let receiver = ns.udp_socket(7007);
    let payloads: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i]).collect();
    send(&ns, 7007, &payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let seen = receive(&queue, 6);
    let mut verdicts = VerdictBuffer::new();
    verdicts.push_batch(8, seen[3].id, Verdict::Accept, None);
    queue.send_verdicts(&mut verdicts).unwrap();
    assert_eq!(arrived(&receiver), payloads[..4].to_vec(), "ids up to the fourth");
    verdicts.push_batch(8, seen[5].id, Verdict::Drop, None);
    queue.send_verdicts(&mut verdicts).unwrap();
    assert!(arrived(&receiver).is_empty(), "the rest dropped");
}

#[test]
fn repeat_runs_the_hook_again_and_stop_accepts() {
    let ns = Netns::new();
    // Only unmarked packets are queued: a repeated packet marked 1 passes the second time.
    ns.iptables("-A OUTPUT -p udp --dport 7013 -m mark ! --mark 1 -j NFQUEUE --queue-num 16");
    let queue = Queue::open(&ns.options(16)).unwrap();
    let receiver = ns.udp_socket(7013);
    send(&ns, 7013, &[b"again", b"stop"]);
    let seen = receive(&queue, 2);
    queue.verdict(seen[0].id, Verdict::Repeat, &VerdictOptions::NONE.with_mark(1)).unwrap();
    queue.verdict(seen[1].id, Verdict::Stop, &VerdictOptions::default()).unwrap();
    let mut got = arrived(&receiver);
    got.sort();
    assert_eq!(got, vec![b"again".to_vec(), b"stop".to_vec()]);
    let listing = ns.iptables("-L OUTPUT -v -x -n");
    let queued: u64 = listing.lines().find(|l| l.contains("NFQUEUE")).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(queued, 2, "the repeated packet ran the rule again but no longer matched:\n{listing}");
}

#[test]
fn a_held_packet_verdicted_later_arrives() {
    let ns = Netns::new();
    ns.queue_udp(7008, 9);
    let queue = Queue::open(&ns.options(9)).unwrap();
    let receiver = ns.udp_socket(7008);
    send(&ns, 7008, &[b"held", b"quick"]);
    let seen = receive(&queue, 2);
    queue.verdict(seen[1].id, Verdict::Accept, &VerdictOptions::default()).unwrap();
    assert_eq!(arrived(&receiver), vec![b"quick".to_vec()]);
    std::thread::sleep(Duration::from_millis(200));
    queue.verdict(seen[0].id, Verdict::Accept, &VerdictOptions::default()).unwrap();
    assert_eq!(arrived(&receiver), vec![b"held".to_vec()]);
}

#[test]
fn a_queue_bound_by_another_socket_is_already_bound() {
    let ns = Netns::new();
    let first = Queue::open(&ns.options(10)).unwrap();
    let err = Queue::open(&ns.options(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyBound, "{err}");
    assert_eq!(err.code(), "EPERM");
    assert!(
        matches!(&err, nfq_core::Error::AlreadyBound { queue: 10, owner_port_id: Some(p), owner_process: Some((pid, _)) }
            if *p == first.port_id() && *pid == std::process::id()),
        "{err:?} (first socket's port id {})",
        first.port_id()
    );
    assert!(err.to_string().contains(&format!("queue 10 is already bound by this process (pid {}", std::process::id())), "{err}");
    assert!(!err.to_string().contains("another process"), "{err}");
    // After the holder closes, the queue binds at once.
    first.close().unwrap();
    Queue::open(&ns.options(10)).unwrap();
}

/// Datagrams to `port` counted by the INPUT rule of `ns` (added by the test): those that passed the queue.
fn input_count(ns: &Netns, port: u16) -> u64 {
    ns.rule_counter("filter", "INPUT", &format!("udp dpt:{port}"))
}

/// A queue in a namespace of its own, with `count` datagrams to `port` queued to it and none read
/// yet (room for all: max length 10,000, a 64 MB receive buffer); INPUT counts what arrives.
fn backlogged(port: u16, queue_num: u16, count: u32) -> (Netns, Queue) {
    let ns = Netns::new();
    ns.iptables(&format!("-A INPUT -p udp --dport {port}"));
    ns.queue_udp(port, queue_num);
    let mut options = ns.options(queue_num);
    options.max_len = Some(10_000);
    options.receive_buffer = Some(1 << 26);
    let queue = Queue::open(&options).unwrap();
    send_many(&ns, port, count as usize);
    wait_until(Duration::from_secs(10), || queue.kernel_stats().map(|r| r.waiting) == Some(count), || format!("queued: {:?}", queue.kernel_stats()));
    (ns, queue)
}

#[test]
fn shutdown_verdicts_the_whole_backlog_and_lets_late_traffic_pass() {
    let (ns, queue) = backlogged(7020, 20, 2_000);
    // One batch of 64 read and held by the program, the rest still in the socket.
    let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
    let held = queue.try_receive(&mut buffers).unwrap();
    assert_eq!(held, 64);
    queue.stop_queueing(Verdict::Accept).unwrap();
    send_many(&ns, 7020, 50); // arrives during the shutdown: passes without being queued
    assert_eq!(queue.kernel_stats().unwrap().waiting, 2_000, "the late ones were not queued");
    let report = queue.drain(Verdict::Accept, Duration::from_millis(200)).unwrap();
    assert_eq!(report.drained, 2_000 - 64, "{report:?}");
    assert_eq!(report.swept, 64, "held packets get the verdict at the deadline: {report:?}");
    assert_eq!(report.waiting, Some(0), "{report:?}");
    queue.unbind().unwrap();
    assert_eq!(input_count(&ns, 7020), 2_050);
}

#[test]
fn close_drops_the_backlog_when_stop_queueing_chose_drop() {
    let (ns, queue) = backlogged(7021, 21, 1_000);
    queue.stop_queueing(Verdict::Drop).unwrap();
    send_many(&ns, 7021, 20); // dropped by the kernel: the queue is full at length 0
    let row = queue.kernel_stats().unwrap();
    assert_eq!((row.waiting, row.queue_dropped), (1_000, 20));
    let stats = queue.stats();
    queue.close().unwrap();
    assert_eq!(input_count(&ns, 7021), 0);
    assert_eq!(stats.verdicts_sent, 0, "nothing verdicted before close");
    let bound = ns.bound_queues();
    assert!(!bound.contains(&21), "unbound: {bound:?}");
}

#[test]
fn copy_range_cuts_the_payload_and_reports_the_whole_length() {
    let ns = Netns::new();
    ns.queue_udp(7009, 11);
    let mut options = ns.options(11);
    options.copy_range = 20;
    let queue = Queue::open(&options).unwrap();
    let receiver = ns.udp_socket(7009);
    send(&ns, 7009, &[&[7u8; 100]]);
    let seen = receive(&queue, 1);
    assert_eq!(seen[0].payload.as_ref().unwrap().len(), 20);
    assert_eq!(seen[0].cap_len, Some(128), "20 IP + 8 UDP + 100");
    queue.set_copy_mode(CopyMode::Meta, 0).unwrap();
    send(&ns, 7009, &[b"meta"]);
    let meta = receive(&queue, 1);
    assert_eq!(meta[0].payload, None, "meta mode: no payload at all");
    accept_all(&queue, &[seen[0].clone(), meta[0].clone()], &VerdictOptions::default());
    assert_eq!(arrived(&receiver).len(), 2);
}

#[test]
fn flags_the_kernel_has_are_set_and_missing_ones_are_named() {
    let ns = Netns::new();
    ns.queue_udp(7010, 12);
    let mut options = ns.options(12);
    options.flags = ConfigFlags::FAIL_OPEN | ConfigFlags::GSO | ConfigFlags::UID_GID | ConfigFlags::SECCTX;
    options.max_len = Some(2048);
    let queue = Queue::open(&options).unwrap();
    let receiver = ns.udp_socket(7010);
    send(&ns, 7010, &[b"uid"]);
    let seen = receive(&queue, 1);
    assert_eq!(seen[0].uid, Some(0), "UID_GID: the sender runs as root");
    accept_all(&queue, &seen, &VerdictOptions::default());
    assert_eq!(arrived(&receiver).len(), 1);
    queue.pf_bind(nfq_core::wire::AF_INET).unwrap();
    queue.pf_unbind(nfq_core::wire::AF_INET).unwrap();
    match queue.set_flags(ConfigFlags::CONNTRACK, ConfigFlags::CONNTRACK) {
        Ok(()) => {} // a kernel with CONFIG_NETFILTER_NETLINK_GLUE_CT
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert_eq!(e.code(), "EOPNOTSUPP");
            let text = e.to_string();
            assert!(text.contains("NFQA_CFG_F_CONNTRACK") && text.contains("CONFIG_NETFILTER_NETLINK_GLUE_CT"), "{text}");
        }
    }
    let err = queue.set_flags(ConfigFlags(1 << 5), ConfigFlags(1 << 5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("unknown queue flag"), "{err}");
}

#[test]
fn socket_overruns_are_counted_and_the_queue_keeps_working() {
    let ns = Netns::new();
    ns.queue_udp(7011, 13);
    let mut options = ns.options(13);
    options.receive_buffer = Some(4096);
    let queue = Queue::open(&options).unwrap();
    let receiver = ns.udp_socket(7011);
    let flood: Vec<&[u8]> = std::iter::repeat_n(&b"flood"[..], 500).collect();
    send(&ns, 7011, &flood);
    let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
    let got = queue.try_receive(&mut buffers).unwrap();
    assert!(got > 0 && got < 500, "some fit the tiny buffer: {got}");
    assert!(queue.stats().overruns >= 1, "ENOBUFS counted: {:?}", queue.stats());
    let mut verdicts = VerdictBuffer::new();
    loop {
        for m in buffers.messages() {
            if let Ok(Message::Packet(p)) = m {
                verdicts.push(p.queue(), p.id(), Verdict::Accept, &VerdictOptions::default()).unwrap();
            }
        }
        queue.send_verdicts(&mut verdicts).unwrap();
        match queue.try_receive(&mut buffers) {
            Err(e) if e.is_would_block() => break,
            other => assert!(other.unwrap() > 0),
        }
    }
    let before = arrived(&receiver).len();
    assert!(before > 0 && before < 500, "what was read was accepted: {before}");
    send(&ns, 7011, &[b"after"]);
    let seen = receive(&queue, 1);
    accept_all(&queue, &seen, &VerdictOptions::default());
    assert_eq!(arrived(&receiver), vec![b"after".to_vec()]);
}

#[test]
fn a_namespace_that_does_not_exist_is_named_in_the_error() {
    let mut options = QueueOptions::new(0);
    options.netns = Some("nfqt-rs-no-such-namespace".into());
    let err = Queue::open(&options).unwrap_err();
    assert_eq!(err.code(), "ENOENT");
    assert_eq!(err.kind(), ErrorKind::NamespaceNotFound);
    assert!(err.to_string().contains("network namespace nfqt-rs-no-such-namespace does not exist"), "{err}");
    assert!(err.to_string().contains("ip netns list"), "{err}");
}

#[test]
fn without_cap_net_admin_the_example_says_what_it_needs() {
    let ns = Netns::new();
    let binary = example_binary();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .args(AS_NOBODY)
        .args(["--inh-caps=-all", "--bounding-set=-all"])
        .arg(&binary)
        .args(["--count", "1", "14"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("CAP_NET_ADMIN") && stderr.contains("EPERM"), "{stderr}");
}

#[test]
fn without_cap_sys_admin_entering_a_namespace_is_named_as_the_problem() {
    let ns = Netns::new();
    // Root with CAP_NET_ADMIN but without CAP_SYS_ADMIN, which setns needs.
    let out = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-sys_admin"])
        .arg(example_binary())
        .args(["--netns", &ns.name, "--count", "1", "22"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("entering network namespace {} needs CAP_SYS_ADMIN", ns.name)), "{stderr}");
    assert!(!stderr.contains("Operation not permitted"), "{stderr}");
}

#[test]
fn the_extreme_queue_numbers_bind_and_socket_modes_switch() {
    let ns = Netns::new();
    let low = Queue::open(&ns.options(0)).unwrap();
    let high = Queue::open(&ns.options(65535)).unwrap();
    assert_eq!((low.queue_num(), high.queue_num()), (0, 65535));
    high.set_nonblocking(true).unwrap();
    let mut buffers = RecvBuffers::new(4, DEFAULT_SLOT_SIZE);
    let nothing = high.receive(&mut buffers).unwrap_err();
    assert!(nothing.is_would_block(), "non-blocking: nothing, at once: {nothing}");
    assert_eq!(std::io::Error::from(nothing).kind(), std::io::ErrorKind::WouldBlock, "as event loops expect");
    high.set_no_enobufs(true).unwrap();
    high.set_no_enobufs(false).unwrap();
    let size = high.set_receive_buffer(1 << 20).unwrap();
    assert!(size >= 1 << 20, "root may pass rmem_max with SO_RCVBUFFORCE: {size}");
    let interfaces = high.interfaces().unwrap();
    assert_eq!(interfaces, vec![(1, "lo".to_string())], "the namespace's interfaces, not the caller's");
    let refused = high.set_copy_mode(CopyMode::None, 0).unwrap_err();
    assert!(refused.to_string().contains("drop every matched packet"), "{refused}");
    high.set_copy_mode(CopyMode::Meta, 0).unwrap();
    high.set_copy_mode(CopyMode::Packet, 65535).unwrap();
    high.unbind().unwrap();
    high.bind().unwrap();
    low.close().unwrap();
    high.close().unwrap();
}

#[test]
fn the_example_accepts_every_packet_and_exits_after_its_count() {
    for binary in example_binaries() {
        example_accepts_200_of_200(&binary);
    }
}

#[test]
fn after_dropping_to_nobody_with_only_cap_net_admin_the_example_still_verdicts() {
    let ns = Netns::new();
    ns.queue_udp(7014, 17);
    let receiver = ns.udp_socket(7014);
    let child = Command::new(example_binary())
        .args(["--netns", &ns.name, "--user", "nobody", "--quiet", "--count", "3", "17"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    // Wait for the drop: Uid 65534 while the process still runs.
    let read_status = || std::fs::read_to_string(&status_path).unwrap_or_default();
    let switched = |status: &str| status.lines().any(|l| l.starts_with("Uid:") && l.contains("65534"));
    wait_until(Duration::from_secs(5), || switched(&read_status()), || format!("the example never switched to nobody:\n{}", read_status()));
    let status = read_status();
    let cap_eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    assert_eq!(u64::from_str_radix(cap_eff, 16).unwrap(), 1 << 12, "only CAP_NET_ADMIN is left");
    send(&ns, 7014, &[b"one", b"two", b"three"]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(arrived(&receiver).len(), 3, "verdicts given after the drop took effect");
}

#[test]
fn an_unknown_user_is_refused_by_name() {
    let err = nfq_core::drop_privileges("nfq-no-such-user").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UserNotFound);
    assert_eq!(err.code(), "ENOENT");
    assert!(err.to_string().contains("there is no user named 'nfq-no-such-user'"), "{err}");
}

fn example_accepts_200_of_200(binary: &std::path::Path) {
    let ns = Netns::new();
    ns.queue_udp(7012, 15);
    let receiver = ns.udp_socket(7012);
    let child = Command::new(binary)
        .args(["--netns", &ns.name, "--count", "200", "15"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the queue is bound before sending.
    wait_until(Duration::from_secs(5), || ns.bound_queues().contains(&15), || "the example never bound its queue".into());
    let payloads: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_be_bytes().to_vec()).collect();
    send(&ns, 7012, &payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 200);
    assert!(lines[0].starts_with("packet received (id=1 hw=0x0800 hook=3, payload len 32"), "{}", lines[0]);
    assert_eq!(arrived(&receiver).len(), 200, "200 of 200 accepted packets arrive ({})", binary.display());
}

/// The example as `cargo test` built it, and the release build (`npm test` builds it first).
fn example_binaries() -> Vec<PathBuf> {
    let release = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/examples/nf-queue");
    let mut binaries = vec![example_binary()];
    if release.exists() && !binaries.contains(&release) {
        binaries.push(release);
    }
    binaries
}

/// The example binary of this profile, built (or brought up to date) once per test run:
/// `cargo test` compiles examples but does not always refresh `target/<profile>/examples/nf-queue`.
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let mut args = vec!["build", "-q", "-p", "nfq-core", "--example", "nf-queue"];
            if release {
                args.push("--release");
            }
            run(env!("CARGO"), &args);
            let binary = profile_dir.join("examples/nf-queue");
            assert!(binary.exists(), "{} is missing after cargo build", binary.display());
            binary
        })
        .clone()
}
