//! `tokio::AsyncQueue` on the real kernel: its own network namespace and iptables rules, real
//! UDP packets, assertions on what arrives. Needs root, as `tests/kernel.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::netns::{arrived, send, Netns};
use nfq_core::tokio::AsyncQueue;
use nfq_core::{Message, Queue, Verdict, VerdictBuffer, VerdictOptions};

/// The UDP payload of an IPv4 packet as the queue copies it (20-byte IP header, 8-byte UDP header).
fn udp_payload(packet: &[u8]) -> &[u8] {
    &packet[28..]
}

#[tokio::test]
async fn an_async_queue_drops_marks_and_verdicts_a_held_packet_from_another_task() {
    let ns = Netns::new();
    ns.queue_udp(7030, 30);
    ns.iptables("-t mangle -A POSTROUTING -p udp --dport 7030 -m mark --mark 42");
    let receiver = ns.udp_socket(7030);
    let queue = Arc::new(AsyncQueue::open(&ns.options(30)).unwrap());
    let mut buffers = queue.receive_buffers();
    let mut verdicts = VerdictBuffer::new();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let mut release = Some(release);
    let mut held = None;
    let mut released = Some(released);

    // The first receive starts before anything is queued, so it waits on the reactor.
    let (first, ()) = tokio::join!(queue.receive(&mut buffers), async {
        tokio::task::yield_now().await;
        send(&ns, 7030, &[b"drop", b"mark", b"hold", b"pass"]);
    });
    let mut count = first.unwrap();
    let mut seen = Vec::new();
    loop {
        assert!(count > 0, "a receive returns at least one datagram");
        for message in buffers.messages() {
            let Ok(Message::Packet(packet)) = message else { panic!("a packet expected, got {message:?}") };
            let text = udp_payload(packet.payload().unwrap()).to_vec();
            let id = packet.id();
            match &text[..] {
                b"drop" => verdicts.push(30, id, Verdict::Drop, &VerdictOptions::NONE).unwrap(),
                b"mark" => verdicts.push(30, id, Verdict::Accept, &VerdictOptions::NONE.with_mark(42)).unwrap(),
                b"pass" => verdicts.push(30, id, Verdict::Accept, &VerdictOptions::NONE).unwrap(),
                b"hold" => {
                    let (queue, released) = (Arc::clone(&queue), released.take().unwrap());
                    held = Some(tokio::spawn(async move {
                        released.await.unwrap();
                        queue.verdict(id, Verdict::Accept, &VerdictOptions::NONE)
                    }));
                }
                other => panic!("unexpected payload {other:?}"),
            }
            seen.push(text);
        }
        queue.send_verdicts(&mut verdicts).unwrap();
        if seen.len() == 4 {
            break;
        }
        count = tokio::time::timeout(Duration::from_secs(5), queue.receive(&mut buffers))
            .await
            .unwrap_or_else(|_| panic!("only {seen:?} arrived within 5 s"))
            .unwrap();
    }

    let mut passed = arrived(&receiver);
    passed.sort();
    assert_eq!(passed, vec![b"mark".to_vec(), b"pass".to_vec()], "dropped and held packets do not arrive");
    assert_eq!(queue.kernel_stats().unwrap().waiting, 1, "the held packet waits in the kernel");

    release.take().unwrap().send(()).unwrap();
    held.unwrap().await.unwrap().unwrap();
    assert_eq!(arrived(&receiver), vec![b"hold".to_vec()], "the held packet passes once the other task verdicts it");
    assert_eq!(ns.rule_counter("mangle", "POSTROUTING", "mark match 0x2a"), 1, "only the marked packet carries mark 42");
    assert_eq!(queue.kernel_stats().unwrap().waiting, 0);
    let stats = queue.stats();
    assert_eq!((stats.datagrams, stats.verdicts_sent), (4, 4), "{stats:?}");
}

#[test]
fn an_async_queue_outside_a_runtime_is_an_error_not_a_panic() {
    let ns = Netns::new();
    let queue = Queue::open(&ns.options(31)).unwrap();
    let error = AsyncQueue::new(queue).unwrap_err();
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}
