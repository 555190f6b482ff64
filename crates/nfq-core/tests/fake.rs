//! The queue against a fake kernel: no privileges needed.

use nfq_core::wire::NLM_F_NFQ_CUT_BY_RECEIVER;
use nfq_core::wire::*;
use nfq_core::wire::{Attributes, MessageHeader};
use nfq_core::testing::{FakeKernel, PacketBuilder};
use nfq_core::{
    ConfigFlags, ConntrackInfo, DecodeErrorKind, ErrorKind, Message, PacketView, Queue, QueueOptions, RecvBuffers,
    Verdict, VerdictBuffer, VerdictOptions, Vlan,
};

fn config_attrs(message: &[u8]) -> Vec<(u16, Vec<u8>)> {
    Attributes::new(&message[20..], 20).map(|a| a.unwrap()).map(|a| (a.kind, a.payload.to_vec())).collect()
}

#[test]
fn open_binds_then_configures_each_request_acknowledged() {
    let kernel = FakeKernel::new();
    let mut options = QueueOptions::new(300);
    options.max_len = Some(4096);
    options.flags = ConfigFlags::FAIL_OPEN | ConfigFlags::GSO;
    let queue = Queue::with_transport(kernel.clone(), &options).unwrap();
    let sent = kernel.sent_messages();
    assert_eq!(sent.len(), 4);
    for m in &sent {
        let h = MessageHeader::parse(m).unwrap();
        assert_eq!(h.kind, nfqueue_msg_type(NFQNL_MSG_CONFIG));
        assert_eq!(h.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u16::from_be_bytes([m[18], m[19]]), 300, "queue number in res_id");
    }
    assert_eq!(config_attrs(&sent[0]), vec![(NFQA_CFG_CMD, vec![NFQNL_CFG_CMD_BIND, 0, 0, 0])]);
    assert_eq!(config_attrs(&sent[1]), vec![(NFQA_CFG_PARAMS, vec![0, 0, 0xff, 0xff, NFQNL_COPY_PACKET])]);
    assert_eq!(config_attrs(&sent[2]), vec![(NFQA_CFG_QUEUE_MAXLEN, 4096u32.to_be_bytes().to_vec())]);
    assert_eq!(
        config_attrs(&sent[3]),
        vec![(NFQA_CFG_FLAGS, 5u32.to_be_bytes().to_vec()), (NFQA_CFG_MASK, 5u32.to_be_bytes().to_vec())]
    );
    let seqs: Vec<u32> = sent.iter().map(|m| MessageHeader::parse(m).unwrap().seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "distinct sequence numbers: {seqs:?}");
    assert!(queue.is_bound());
    queue.close().unwrap();
    let last = kernel.sent_messages().pop().unwrap();
    assert_eq!(config_attrs(&last), vec![(NFQA_CFG_CMD, vec![NFQNL_CFG_CMD_UNBIND, 0, 0, 0])]);
}

fn refuse_bind(errno: i32) -> impl Fn(&[u8]) -> i32 + Send + Sync {
    move |m: &[u8]| if m.len() > 24 && m[24] == NFQNL_CFG_CMD_BIND { errno } else { 0 }
}

#[test]
fn eperm_without_cap_net_admin_says_what_is_needed() {
    let kernel = FakeKernel::new().answer_with(refuse_bind(libc::EPERM)).without_cap_net_admin();
    let err = Queue::with_transport(kernel, &QueueOptions::new(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(err.code(), "EPERM");
    assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
}

#[test]
fn eperm_with_cap_net_admin_means_another_socket_holds_the_queue() {
    let kernel = FakeKernel::new()
        .answer_with(refuse_bind(libc::EPERM))
        .with_queue_table("    0   111 0 2 65535 0 0 0 1\n    5  4321 0 2 65535 0 0 9 1\n");
    let err = Queue::with_transport(kernel, &QueueOptions::new(5)).unwrap_err();
    assert!(matches!(err, nfq_core::Error::AlreadyBound { queue: 5, owner_port_id: Some(4321), .. }), "{err:?}");
    assert!(err.to_string().contains("port id 4321"), "{err}");
}

#[test]
fn a_kernel_without_nfnetlink_queue_is_named() {
    let kernel = FakeKernel::new().answer_with(refuse_bind(libc::EOPNOTSUPP)).without_nfnetlink_queue();
    let err = Queue::with_transport(kernel, &QueueOptions::new(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let text = err.to_string();
    assert!(text.contains("nfnetlink_queue") && text.contains("modprobe nfnetlink_queue"), "{text}");
}

#[test]
fn an_unsupported_flag_is_named_with_the_kernel_option_it_needs() {
    let kernel = FakeKernel::new().answer_with(|m| {
        let flags = Attributes::new(&m[20..], 20)
            .flatten()
            .find(|a| a.kind == NFQA_CFG_FLAGS)
            .map(|a| a.be_u32().unwrap())
            .unwrap_or(0);
        if flags & NFQA_CFG_F_CONNTRACK != 0 { libc::EOPNOTSUPP } else { 0 }
    });
    let mut options = QueueOptions::new(1);
    options.flags = ConfigFlags::GSO | ConfigFlags::CONNTRACK;
    let err = Queue::with_transport(kernel, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.code(), "EOPNOTSUPP");
    let text = err.to_string();
    assert!(text.contains("NFQA_CFG_F_CONNTRACK"), "{text}");
    assert!(text.contains("CONFIG_NETFILTER_NETLINK_GLUE_CT"), "{text}");
}

#[test]
fn other_kernel_errors_keep_their_errno_and_text() {
    let kernel = FakeKernel::new().answer_with(|m| if m.len() > 24 && m[24] == NFQNL_CFG_CMD_UNBIND { libc::ENODEV } else { 0 });
    let queue = Queue::with_transport(kernel, &QueueOptions::new(2)).unwrap();
    let err = queue.unbind().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Kernel);
    assert_eq!(err.code(), "ENODEV");
    assert!(err.to_string().starts_with("unbind queue 2"), "{err}");
}

#[test]
fn options_are_checked_before_anything_is_sent() {
    let kernel = FakeKernel::new();
    let mut options = QueueOptions::new(1);
    options.copy_range = 70_000;
    let err = Queue::with_transport(kernel.clone(), &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(kernel.sent_datagrams().is_empty());
}

#[test]
fn packets_read_while_waiting_for_an_ack_are_kept_for_the_next_receive() {
    let kernel = FakeKernel::new();
    let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(3)).unwrap();
    kernel.deliver(PacketBuilder::new(3, 1).payload(b"early").build());
    queue.set_max_len(10).unwrap();
    let mut buffers = RecvBuffers::new(8, 4096);
    assert_eq!(queue.try_receive(&mut buffers).unwrap(), 1);
    let Some(Ok(Message::Packet(p))) = buffers.messages().next() else { panic!("packet expected") };
    assert_eq!((p.id(), p.payload()), (1, Some(&b"early"[..])));
    assert!(queue.try_receive(&mut buffers).unwrap_err().is_would_block(), "nothing else");
}

#[test]
fn verdicts_are_coalesced_and_split_only_at_message_boundaries() {
    let kernel = FakeKernel::new().with_max_datagram(1000);
    let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(4)).unwrap();
    let before = kernel.sent_datagrams().len();
    let mut verdicts = VerdictBuffer::new();
    for id in 1..=30 {
        verdicts.push(4, id, Verdict::Accept, &VerdictOptions::NONE.with_mark(id)).unwrap();
    }
    queue.send_verdicts(&mut verdicts).unwrap();
    assert!(verdicts.is_empty());
    let datagrams = &kernel.sent_datagrams()[before..];
    assert_eq!(datagrams.len(), 2, "30 x 40 bytes in datagrams of at most 1000");
    assert!(datagrams.iter().all(|d| d.len() <= 1000));
    let messages = kernel.sent_messages();
    let ids: Vec<u32> = messages[messages.len() - 30..]
        .iter()
        .map(|m| u32::from_be_bytes([m[28], m[29], m[30], m[31]]))
        .collect();
    assert_eq!(ids, (1..=30).collect::<Vec<_>>());
    let stats = queue.stats();
    assert_eq!((stats.verdicts_sent, stats.verdict_sends), (30, 2));
}

#[test]
fn send_messages_refuses_bytes_that_are_not_whole_messages() {
    let kernel = FakeKernel::new();
    let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(4)).unwrap();
    let err = queue.send_messages(&[40, 0, 0, 0, 1, 3]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
}

fn every_attribute() -> Vec<u8> {
    let mut hw = vec![0, 6, 0, 0];
    hw.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0]);
    let mut ts = Vec::new();
    ts.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    ts.extend_from_slice(&123_456u64.to_be_bytes());
    // VLAN nest: PROTO 0x8100, TCI 0x0064
    let vlan = [6, 0, 1, 0, 0x81, 0x00, 0, 0, 6, 0, 2, 0, 0x00, 0x64, 0, 0];
    PacketBuilder::new(9, 77)
        .hook(1)
        .hw_protocol(0x86dd)
        .family(AF_INET6)
        .mark(0xdead)
        .attribute(NFQA_TIMESTAMP, &ts)
        .be_u32(NFQA_IFINDEX_INDEV, 2)
        .be_u32(NFQA_IFINDEX_OUTDEV, 3)
        .be_u32(NFQA_IFINDEX_PHYSINDEV, 4)
        .be_u32(NFQA_IFINDEX_PHYSOUTDEV, 5)
        .attribute(NFQA_HWADDR, &hw)
        .payload(&[0x60, 0, 0, 0])
        .attribute(NFQA_CT, &[8, 0, 8, 0, 0, 0, 0, 1])
        .be_u32(NFQA_CT_INFO, 2)
        .be_u32(NFQA_CAP_LEN, 1500)
        .be_u32(NFQA_SKB_INFO, NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY)
        .attribute(NFQA_EXP, &[4, 0, 1, 0])
        .be_u32(NFQA_UID, 1000)
        .be_u32(NFQA_GID, 100)
        .attribute(NFQA_SECCTX, b"system_u:object_r:x\0")
        .attribute(NFQA_VLAN | NLA_F_NESTED, &vlan)
        .attribute(NFQA_L2HDR, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0])
        .be_u32(NFQA_PRIORITY, 6)
        .attribute(99, b"future")
        .build()
}

#[test]
fn every_attribute_the_kernel_sends_is_read() {
    let bytes = every_attribute();
    let p = PacketView::parse(&bytes).unwrap();
    assert_eq!((p.id(), p.queue(), p.family(), p.hook(), p.hw_protocol()), (77, 9, AF_INET6, 1, 0x86dd));
    assert_eq!(p.hook_name(), Some("INPUT"));
    assert_eq!(p.mark(), Some(0xdead));
    let ts = p.timestamp().unwrap();
    assert_eq!((ts.sec, ts.usec), (1_700_000_000, 123_456));
    assert_eq!((p.indev(), p.outdev(), p.physindev(), p.physoutdev()), (Some(2), Some(3), Some(4), Some(5)));
    assert_eq!(p.hw_addr(), Some(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff][..]));
    assert_eq!(p.payload(), Some(&[0x60, 0, 0, 0][..]));
    assert_eq!(p.conntrack(), Some(&[8, 0, 8, 0, 0, 0, 0, 1][..]));
    assert_eq!(p.conntrack_info(), Some(ConntrackInfo::New));
    assert_eq!(p.cap_len(), Some(1500));
    assert!(p.is_cut_by_copy_range());
    assert!(p.is_gso() && p.checksum_not_ready());
    assert_eq!(p.expectation(), Some(&[4, 0, 1, 0][..]));
    assert_eq!((p.uid(), p.gid()), (Some(1000), Some(100)));
    assert_eq!(p.secctx(), Some(&b"system_u:object_r:x"[..]));
    assert_eq!(p.vlan(), Some(Vlan { proto: Some(0x8100), tci: Some(0x64) }));
    assert_eq!(p.l2_header().map(<[u8]>::len), Some(14));
    assert_eq!(p.priority(), Some(6));
    let unknown: Vec<_> = p.unknown_attributes().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!((unknown[0].kind, unknown[0].payload), (99, &b"future"[..]));
}

#[test]
fn absent_attributes_are_absent_not_zero() {
    let bytes = PacketBuilder::new(0, 1).build();
    let p = PacketView::parse(&bytes).unwrap();
    assert_eq!(p.mark(), None);
    assert_eq!(p.payload(), None);
    assert_eq!(p.uid(), None);
    assert_eq!(p.timestamp(), None);
    assert_eq!(p.vlan(), None);
    assert!(!p.is_cut_by_copy_range() && !p.is_gso());
    assert_eq!(p.unknown_attributes().count(), 0);
}

#[test]
fn malformed_packets_give_typed_errors_with_offsets() {
    let no_header = {
        let mut b = PacketBuilder::new(0, 1).build();
        b.truncate(20);
        b[0..4].copy_from_slice(&20u32.to_ne_bytes());
        b
    };
    assert_eq!(PacketView::parse(&no_header).unwrap_err().kind, DecodeErrorKind::MissingAttribute(NFQA_PACKET_HDR));

    let bad_mark = PacketBuilder::new(0, 1).attribute(NFQA_MARK, &[1, 2]).build();
    let err = PacketView::parse(&bad_mark).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::BadAttributeLength { attribute: NFQA_MARK, expected: 4, actual: 2 });
    assert_eq!(err.offset, 32, "after nlmsghdr, nfgenmsg and the 12-byte packet header");

    let mut cut = PacketBuilder::new(0, 1).payload(&[0; 40]).build();
    cut.truncate(50);
    assert_eq!(PacketView::parse(&cut).unwrap_err().kind, DecodeErrorKind::MessageOverrun(76));

    let wrong_type = nfq_core::testing::error_message(&PacketBuilder::new(0, 1).build(), 0);
    assert!(matches!(PacketView::parse(&wrong_type).unwrap_err().kind, DecodeErrorKind::UnexpectedMessageType(2)));
}

#[test]
fn no_prefix_or_single_byte_change_of_a_message_panics() {
    let bytes = every_attribute();
    for len in 0..bytes.len() {
        let _ = PacketView::parse(&bytes[..len]);
        let _ = Message::parse(&bytes[..len]);
    }
    for at in 0..bytes.len() {
        for value in [0u8, 1, 3, 4, 0x7f, 0x80, 0xff] {
            let mut mutated = bytes.clone();
            mutated[at] = value;
            if let Ok(p) = PacketView::parse(&mutated) {
                // Every accessor stays inside the message.
                let _ = (p.mark(), p.timestamp(), p.hw_addr(), p.payload(), p.vlan(), p.secctx(), p.is_cut_by_copy_range());
                let _ = p.unknown_attributes().count();
            }
            let mut buffers = RecvBuffers::new(2, 4096);
            buffers.push_datagram(&mutated, 0);
            let _ = buffers.messages().count();
            let mut out = Vec::new();
            buffers.copy_messages_into(&mut out);
        }
    }
}

#[test]
fn a_cut_datagram_still_yields_its_packet_id() {
    let kernel = FakeKernel::new();
    let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(6)).unwrap();
    kernel.deliver(PacketBuilder::new(6, 41).payload(&[0x45; 3000]).build());
    kernel.deliver(PacketBuilder::new(6, 42).payload(b"fits").build());
    kernel.deliver_from(PacketBuilder::new(6, 43).build(), 999);
    let mut buffers = RecvBuffers::new(8, 1024);
    assert_eq!(queue.try_receive(&mut buffers).unwrap(), 3);
    assert_eq!(queue.stats().cut_by_receiver, 1);
    assert_eq!(queue.stats().foreign, 1, "the datagram from port 999 is counted");
    let messages: Vec<_> = buffers.messages().map(Result::unwrap).collect();
    assert!(matches!(messages[0], Message::PacketCutByReceiver { queue: 6, id: 41 }), "{:?}", messages[0]);
    assert!(matches!(&messages[1], Message::Packet(p) if p.id() == 42));

    let mut batch = Vec::new();
    assert_eq!(buffers.copy_messages_into(&mut batch), 1, "the datagram from port 999 is skipped");
    let copied: Vec<_> = nfq_core::wire::Messages::new(&batch).map(|m| Message::parse(m.unwrap()).unwrap()).collect();
    assert_eq!(copied.len(), 2);
    assert!(matches!(copied[0], Message::PacketCutByReceiver { queue: 6, id: 41 }));
    let first = MessageHeader::parse(&batch).unwrap();
    assert!(first.flags & NLM_F_NFQ_CUT_BY_RECEIVER != 0);
    assert!(matches!(&copied[1], Message::Packet(p) if p.payload() == Some(&b"fits"[..])));
}

#[test]
fn kernel_refusals_of_verdicts_arrive_as_error_messages() {
    let kernel = FakeKernel::new();
    let queue = Queue::with_transport(kernel.clone(), &QueueOptions::new(7)).unwrap();
    let request = PacketBuilder::new(7, 5).build();
    kernel.deliver(nfq_core::testing::error_message(&request, libc::ENOENT));
    let mut buffers = RecvBuffers::new(4, 4096);
    queue.try_receive(&mut buffers).unwrap();
    let Some(Ok(Message::Error(e))) = buffers.messages().next() else { panic!("error message expected") };
    assert_eq!(e.errno, libc::ENOENT);
}
