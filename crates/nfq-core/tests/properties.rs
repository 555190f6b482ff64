//! Property tests: hostile bytes never panic, errors point inside the input, and
//! what the builders write decodes back to what they were given.
//!
//! `npm test` runs a few hundred cases per property; for millions:
//! `PROPTEST_CASES=2000000 cargo test --release -p nfq-core --test properties`
//! (or `scripts/fuzz.sh`, which also runs the TypeScript codec's properties).

mod common;

use std::path::PathBuf;

use common::fixture_json::from_hex;
use nfq_core::wire::*;
use nfq_core::wire::{Attributes, MessageHeader, MessageWriter, Messages};
use nfq_core::testing::PacketBuilder;
use nfq_core::wire::put_verdict;
use nfq_core::{ErrorMessage, Message, PacketView, RecvBuffers, Verdict, VerdictOptions};
use proptest::prelude::*;

/// Decodes `bytes` every way there is; checks every error offset lies inside the input.
fn decode_everything(bytes: &[u8]) {
    for message in Messages::new(bytes) {
        match message {
            Ok(m) => {
                let at = m.as_ptr() as usize - bytes.as_ptr() as usize;
                match Message::parse(m) {
                    Ok(Message::Packet(p)) => touch(&p),
                    Ok(_) => {}
                    Err(e) => assert!(at + e.offset <= bytes.len(), "offset {} past {}", at + e.offset, bytes.len()),
                }
            }
            Err(e) => assert!(e.offset <= bytes.len()),
        }
    }
    match PacketView::parse(bytes) {
        Ok(p) => touch(&p),
        Err(e) => assert!(e.offset <= bytes.len(), "offset {} past {}", e.offset, bytes.len()),
    }
    if let Err(e) = ErrorMessage::parse(bytes) {
        assert!(e.offset <= bytes.len());
    }
    let mut buffers = RecvBuffers::new(2, 512);
    buffers.push_datagram(bytes, 0);
    let decoded = buffers.messages().count();
    let mut batch = Vec::new();
    buffers.copy_messages_into(&mut batch);
    assert!(decoded <= bytes.len() / 16 + 1);
    assert_in_place_matches_copy(&mut buffers, &batch);
}

/// What a binding reads in place (each slot after `prepare_in_place`; a datagram larger than its
/// slot is cut, as by `MSG_TRUNC`) is what `copy_messages_into` copied (`copied`).
fn assert_in_place_matches_copy(buffers: &mut RecvBuffers, copied: &[u8]) {
    let mut in_place = Vec::new();
    for i in 0..buffers.len() {
        let kept = buffers.prepare_in_place(i);
        in_place.extend_from_slice(&buffers.datagram(i).unwrap().bytes[..kept]);
        in_place.resize(in_place.len().div_ceil(4) * 4, 0);
    }
    assert_eq!(in_place, copied);
}

/// Calls every accessor of a view.
fn touch(p: &PacketView) {
    let _ = (p.id(), p.queue(), p.family(), p.hw_protocol(), p.hook(), p.hook_name(), p.mark(), p.timestamp());
    let _ = (p.indev(), p.outdev(), p.physindev(), p.physoutdev(), p.hw_addr(), p.payload(), p.cap_len());
    let _ = (p.is_cut_by_copy_range(), p.skb_info(), p.is_gso(), p.checksum_not_ready(), p.conntrack(), p.conntrack_info());
    let _ = (p.expectation(), p.uid(), p.gid(), p.secctx(), p.vlan(), p.l2_header(), p.priority());
    assert!(p.unknown_attributes().count() <= p.as_bytes().len() / 4);
}

/// The wire bytes of every fixture, read once.
fn fixture_bytes() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(read_fixture_bytes)
}

fn read_fixture_bytes() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
            v.pointer("/decode/hex").or(v.pointer("/build/hex")).and_then(|h| h.as_str()).map(from_hex)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, value: u8 },
    Truncate { len: usize },
    SetLength { at: usize, value: u16 },
    Splice { at: usize, other: usize, from: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Flip { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), prop_oneof![Just(0u16), Just(3), Just(4), Just(0xffff), any::<u16>()])
            .prop_map(|(at, value)| Mutation::SetLength { at, value }),
        (any::<usize>(), any::<usize>(), any::<usize>(), 0usize..64)
            .prop_map(|(at, other, from, len)| Mutation::Splice { at, other, from, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, corpus: &[Vec<u8>]) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Flip { at, value } => {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        Mutation::Truncate { len } => bytes.truncate(len % (bytes.len() + 1)),
        Mutation::SetLength { at, value } => {
            // Lengths sit at 4-byte boundaries (nlmsg_len, nla_len).
            let i = (at % bytes.len()) & !3;
            if i + 2 <= bytes.len() {
                bytes[i..i + 2].copy_from_slice(&value.to_ne_bytes());
            }
        }
        Mutation::Splice { at, other, from, len } => {
            let donor = &corpus[other % corpus.len()];
            if donor.is_empty() {
                return;
            }
            let from = from % donor.len();
            let piece = &donor[from..(from + len).min(donor.len())];
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, piece.iter().copied());
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        attrs in proptest::collection::vec(any::<u8>(), 0..200),
        kind in prop_oneof![Just(0x0300u16), Just(NLMSG_ERROR), Just(NLMSG_DONE), any::<u16>()],
        flags in any::<u16>(),
    ) {
        let mut m = Vec::new();
        m.extend_from_slice(&((20 + attrs.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[2, 0, 0, 1]);
        m.extend_from_slice(&attrs);
        decode_everything(&m);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let corpus = fixture_bytes();
        let mut bytes = corpus[pick % corpus.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m, corpus);
        }
        decode_everything(&bytes);
    }

    #[test]
    fn built_packets_decode_to_what_was_built(
        queue in any::<u16>(), id in any::<u32>(), hw in any::<u16>(), hook in 0u8..5,
        mark in proptest::option::of(any::<u32>()),
        uid in proptest::option::of(any::<u32>()),
        payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..1500)),
    ) {
        let mut builder = PacketBuilder::new(queue, id).hw_protocol(hw).hook(hook);
        if let Some(mark) = mark { builder = builder.mark(mark); }
        if let Some(uid) = uid { builder = builder.be_u32(NFQA_UID, uid); }
        if let Some(payload) = &payload { builder = builder.payload(payload); }
        let bytes = builder.build();
        let p = PacketView::parse(&bytes).unwrap();
        prop_assert_eq!((p.queue(), p.id(), p.hw_protocol(), p.hook()), (queue, id, hw, hook));
        prop_assert_eq!(p.mark(), mark);
        prop_assert_eq!(p.uid(), uid);
        prop_assert_eq!(p.payload(), payload.as_deref());
        prop_assert_eq!(p.gid(), None);
    }

    #[test]
    fn built_verdicts_carry_what_was_given(
        queue in any::<u16>(), id in any::<u32>(),
        verdict in prop_oneof![Just(Verdict::Accept), Just(Verdict::Drop), Just(Verdict::Repeat),
            (any::<u16>(), any::<bool>()).prop_map(|(queue, bypass)| Verdict::Queue { queue, bypass })],
        mark in proptest::option::of(any::<u32>()),
        payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..2000)),
    ) {
        let mut w = MessageWriter::new();
        let mut options = VerdictOptions::NONE;
        if let Some(mark) = mark {
            options = options.with_mark(mark);
        }
        if let Some(payload) = payload.as_deref() {
            options = options.with_payload(payload);
        }
        put_verdict(&mut w, queue, id, verdict, &options).unwrap();
        let bytes = w.bytes();
        let header = MessageHeader::parse(bytes).unwrap();
        prop_assert_eq!(header.len as usize, bytes.len());
        prop_assert_eq!(header.kind, nfqueue_msg_type(NFQNL_MSG_VERDICT));
        prop_assert_eq!(u16::from_be_bytes([bytes[18], bytes[19]]), queue);
        let attrs: Vec<_> = Attributes::new(&bytes[20..], 20).map(|a| a.unwrap()).collect();
        prop_assert_eq!(attrs[0].kind, NFQA_VERDICT_HDR);
        prop_assert_eq!(&attrs[0].payload[..4], &verdict.to_raw().to_be_bytes()[..]);
        prop_assert_eq!(&attrs[0].payload[4..], &id.to_be_bytes()[..]);
        let got_mark = attrs.iter().find(|a| a.kind == NFQA_MARK).map(|a| a.be_u32().unwrap());
        prop_assert_eq!(got_mark, mark);
        let got_payload = attrs.iter().find(|a| a.kind == NFQA_PAYLOAD).map(|a| a.payload);
        prop_assert_eq!(got_payload, payload.as_deref());
    }
}
