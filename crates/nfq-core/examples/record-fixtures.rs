//! Records wire fixtures from the real kernel (source "kernel" in `fixtures/`).
//!
//! ```text
//! sudo cargo run -p nfq-core --example record-fixtures [OUT_DIR]   # default: fixtures/
//! ```
//!
//! Each scenario makes its own network namespace, its own ip(6)tables rules, sends real
//! traffic, keeps the raw bytes the kernel sent, accepts every packet and removes the
//! namespace. The expected decode written beside the bytes comes from nfq-core at recording
//! time: review it before committing a new recording.

#[path = "../tests/common/fixture_json.rs"]
#[allow(dead_code)]
mod fixture_json;

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nfq_core::wire::put_config_flags;
use nfq_core::DEFAULT_SLOT_SIZE;
use nfq_core::wire::MessageWriter;
use nfq_core::{
    ConfigFlags, CopyMode, Message, Queue, QueueOptions, RecvBuffers, Verdict, VerdictBuffer, VerdictOptions,
};
use serde_json::json;

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Self {
        let name = format!("nfq-rec-{}-{tag}", std::process::id());
        sh("ip", &["netns", "add", &name]);
        sh("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Self(name)
    }
    fn exec(&self, program: &str, args: &str) {
        let mut full = vec!["netns", "exec", &self.0, program, "-w"];
        full.extend(args.split_whitespace());
        sh("ip", &full);
    }
    fn path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.0)
    }
    fn options(&self, queue: u16) -> QueueOptions {
        let mut o = QueueOptions::new(queue);
        o.netns = Some(self.0.clone().into());
        o
    }
    fn in_ns<T: Send + 'static>(&self, f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> T {
        nfq_core::testing::run_in_netns(&self.path(), f).unwrap().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Receives until `keep` picked `count` datagrams (or 5 s), accepting every packet; returns the kept bytes.
fn capture(queue: &Queue, count: usize, keep: impl Fn(&Message) -> bool) -> Vec<Vec<u8>> {
    let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
    let mut verdicts = VerdictBuffer::new();
    let mut kept = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while kept.len() < count && Instant::now() < deadline {
        if !queue.wait(None, Some(Duration::from_millis(100))).unwrap().readable {
            continue;
        }
        queue.receive(&mut buffers).unwrap();
        for datagram in buffers.datagrams() {
            for message in nfq_core::wire::Messages::new(datagram.bytes).flatten() {
                let parsed = Message::parse(message).unwrap();
                if let Message::Packet(p) = &parsed {
                    verdicts.push(p.queue(), p.id(), Verdict::Accept, &VerdictOptions::default()).unwrap();
                }
                if kept.len() < count && keep(&parsed) {
                    kept.push(datagram.bytes.to_vec());
                }
            }
        }
        queue.send_verdicts(&mut verdicts).unwrap();
    }
    assert_eq!(kept.len(), count, "captured");
    kept
}

fn write(out: &Path, name: &str, description: &str, bytes: &[u8]) {
    let expect = fixture_json::decode_json(bytes, false);
    assert!(expect.get("error").is_none(), "{name}: the kernel's bytes failed to decode: {expect}");
    let fixture = json!({
        "description": description,
        "source": "kernel",
        "decode": { "hex": fixture_json::to_hex(bytes), "expect": expect },
    });
    let path = out.join(format!("{name}.json"));
    let mut file = std::fs::File::create(&path).unwrap();
    serde_json::to_writer_pretty(&mut file, &fixture).unwrap();
    writeln!(file).unwrap();
    println!("wrote {}", path.display());
}

fn udp_pair(ns: &Netns, v6: bool, port: u16) -> (UdpSocket, UdpSocket) {
    let host = if v6 { "::1" } else { "127.0.0.1" };
    let receiver = ns.in_ns(move || UdpSocket::bind((host, port)));
    let sender = ns.in_ns(move || UdpSocket::bind((host, 0)));
    sender.connect((host, port)).unwrap();
    (sender, receiver)
}

fn is_packet(m: &Message) -> bool {
    matches!(m, Message::Packet(_))
}

fn main() {
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    });

    {
        let ns = Netns::new("udp4");
        ns.exec("iptables", "-A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0");
        let mut options = ns.options(0);
        options.flags = ConfigFlags::UID_GID | ConfigFlags::GSO;
        let queue = Queue::open(&options).unwrap();
        let (sender, _receiver) = udp_pair(&ns, false, 9999);
        sender.send(b"hello from the kernel fixture recorder").unwrap();
        let kept = capture(&queue, 1, is_packet);
        write(&out, "kernel-udp4-output", "Local UDP over IPv4 on OUTPUT (queue 0, copy mode packet, UID_GID and GSO flags): outdev lo, uid and gid 0, checksum not ready", &kept[0]);

        // A verdict for an id the kernel never handed out: refused with ENOENT, request echoed whole.
        queue.verdict(4_000_000, Verdict::Accept, &VerdictOptions::default()).unwrap();
        let refused = capture(&queue, 1, |m| matches!(m, Message::Error(e) if e.errno != 0));
        write(&out, "kernel-verdict-refused", "The kernel's answer to a verdict for packet id 4000000, which it never queued: ENOENT, the request echoed", &refused[0]);
    }
    {
        let ns = Netns::new("in4");
        ns.exec("iptables", "-A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 1");
        let queue = Queue::open(&ns.options(1)).unwrap();
        let (sender, _receiver) = udp_pair(&ns, false, 9999);
        for text in [&b"one"[..], b"two", b"three"] {
            sender.send(text).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
        queue.receive(&mut buffers).unwrap();
        assert_eq!(buffers.len(), 3, "three datagrams in one recvmmsg");
        let mut batch = Vec::new();
        buffers.copy_messages_into(&mut batch);
        let mut verdicts = VerdictBuffer::new();
        for m in buffers.messages() {
            if let Ok(Message::Packet(p)) = m {
                verdicts.push(p.queue(), p.id(), Verdict::Accept, &VerdictOptions::default()).unwrap();
            }
        }
        queue.send_verdicts(&mut verdicts).unwrap();
        write(&out, "kernel-udp4-input-batch", "Three UDP packets on INPUT from one recvmmsg, as nfq-core hands a batch to JavaScript: indev lo, the loopback hardware address (zeros)", &batch);
    }
    {
        let ns = Netns::new("udp6");
        ns.exec("ip6tables", "-t mangle -A OUTPUT -p udp --dport 9999 -j MARK --set-mark 7");
        ns.exec("ip6tables", "-t mangle -A OUTPUT -p udp --dport 9999 -j CLASSIFY --set-class 1:2");
        ns.exec("ip6tables", "-A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 2");
        let queue = Queue::open(&ns.options(2)).unwrap();
        let (sender, _receiver) = udp_pair(&ns, true, 9999);
        sender.send(b"v6").unwrap();
        let kept = capture(&queue, 1, is_packet);
        write(&out, "kernel-udp6-mark-priority", "Local UDP over IPv6 marked 7 and classified 1:2 by mangle rules before NFQUEUE: family 10, hw 0x86dd, mark and priority present", &kept[0]);
    }
    {
        let ns = Netns::new("range");
        ns.exec("iptables", "-A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 3");
        let mut options = ns.options(3);
        options.copy_range = 32;
        let queue = Queue::open(&options).unwrap();
        let (sender, _receiver) = udp_pair(&ns, false, 9999);
        sender.send(&[0x5a; 200]).unwrap();
        let kept = capture(&queue, 1, is_packet);
        write(&out, "kernel-copy-range-32", "A 228-byte UDP packet with copy range 32: the payload is cut and NFQA_CAP_LEN gives the whole length", &kept[0]);
        queue.set_copy_mode(CopyMode::Meta, 0).unwrap();
        sender.send(b"metadata only").unwrap();
        let kept = capture(&queue, 1, is_packet);
        write(&out, "kernel-copy-meta", "Copy mode meta: metadata and no NFQA_PAYLOAD at all", &kept[0]);
    }
    {
        let ns = Netns::new("gso");
        // Loopback's 64 KB MTU needs no segmentation; at 1500 TCP hands over GSO super-packets.
        sh("ip", &["-n", &ns.0, "link", "set", "lo", "mtu", "1500"]);
        ns.exec("iptables", "-A OUTPUT -p tcp -j NFQUEUE --queue-num 4");
        let mut options = ns.options(4);
        options.flags = ConfigFlags::GSO;
        options.copy_range = 80;
        let queue = Queue::open(&options).unwrap();
        let listener = ns.in_ns(|| TcpListener::bind("127.0.0.1:9998"));
        let writer = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            peer.write_all(&[0x42; 60_000]).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        let path = ns.path();
        // Connect on another thread: the handshake itself is queued and needs our verdicts.
        let client = std::thread::spawn(move || {
            let stream = nfq_core::testing::run_in_netns(&path, || TcpStream::connect("127.0.0.1:9998")).unwrap().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            drop(stream);
        });
        let gso = capture(&queue, 1, |m| matches!(m, Message::Packet(p) if p.is_gso()));
        // Keep accepting until both ends are done.
        capture_for(&queue, Duration::from_millis(800));
        client.join().unwrap();
        writer.join().unwrap();
        write(&out, "kernel-tcp-gso", "A TCP GSO packet on loopback (GSO flag, copy range 80): SKB_INFO has the GSO bit and CAP_LEN the whole super-packet length", &gso[0]);
    }
    {
        let ns = Netns::new("flags");
        let queue = Queue::open(&ns.options(5)).unwrap();
        let mut w = MessageWriter::new();
        put_config_flags(&mut w, 77, 5, ConfigFlags(1 << 5), ConfigFlags(1 << 5));
        queue.send_messages(w.bytes()).unwrap();
        let mut buffers = RecvBuffers::new(4, DEFAULT_SLOT_SIZE);
        queue.receive(&mut buffers).unwrap();
        let reply = buffers.datagram(0).unwrap().bytes.to_vec();
        write(&out, "kernel-config-unknown-flag", "The kernel refusing an unknown queue flag (1 << 5) with EOPNOTSUPP, extended ACK on", &reply);
    }
}

/// Accepts whatever arrives for `time`.
fn capture_for(queue: &Queue, time: Duration) {
    let mut buffers = RecvBuffers::new(64, DEFAULT_SLOT_SIZE);
    let mut verdicts = VerdictBuffer::new();
    let until = Instant::now() + time;
    while Instant::now() < until {
        if !queue.wait(None, Some(Duration::from_millis(50))).unwrap().readable {
            continue;
        }
        queue.receive(&mut buffers).unwrap();
        for m in buffers.messages().flatten() {
            if let Message::Packet(p) = m {
                verdicts.push(p.queue(), p.id(), Verdict::Accept, &VerdictOptions::default()).unwrap();
            }
        }
        queue.send_verdicts(&mut verdicts).unwrap();
    }
}
