//! The decoded shape of `fixtures/README.md`, shared by the fixture tests and the recorder.

use nfq_core::wire::Messages;
use nfq_core::{DecodeError, ErrorMessage, Message, PacketView};
use serde_json::{json, Map, Value};

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string.
pub fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// A packet view as the fixtures spell it.
pub fn packet_json(p: &PacketView) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("packet"));
    m.insert("queue".into(), json!(p.queue()));
    m.insert("family".into(), json!(p.family()));
    m.insert("id".into(), json!(p.id()));
    m.insert("hwProtocol".into(), json!(p.hw_protocol()));
    m.insert("hook".into(), json!(p.hook()));
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            m.insert(key.into(), value);
        }
    };
    put("mark", p.mark().map(|v| json!(v)));
    put("timestamp", p.timestamp().map(|t| json!({ "sec": t.sec, "usec": t.usec })));
    put("indev", p.indev().map(|v| json!(v)));
    put("outdev", p.outdev().map(|v| json!(v)));
    put("physindev", p.physindev().map(|v| json!(v)));
    put("physoutdev", p.physoutdev().map(|v| json!(v)));
    put("hwAddr", p.hw_addr().map(|v| json!(to_hex(v))));
    put("payload", p.payload().map(|v| json!(to_hex(v))));
    put("ct", p.conntrack().map(|v| json!(to_hex(v))));
    put("ctInfo", p.conntrack_info().map(|c| json!(c.to_raw())));
    put("capLen", p.cap_len().map(|v| json!(v)));
    put("skbInfo", p.skb_info().map(|v| json!(v)));
    put("exp", p.expectation().map(|v| json!(to_hex(v))));
    put("uid", p.uid().map(|v| json!(v)));
    put("gid", p.gid().map(|v| json!(v)));
    put("secctx", p.secctx().map(|v| json!(to_hex(v))));
    put(
        "vlan",
        p.vlan().map(|v| {
            let mut vlan = Map::new();
            if let Some(proto) = v.proto {
                vlan.insert("proto".into(), json!(proto));
            }
            if let Some(tci) = v.tci {
                vlan.insert("tci".into(), json!(tci));
            }
            Value::Object(vlan)
        }),
    );
    put("l2Header", p.l2_header().map(|v| json!(to_hex(v))));
    put("priority", p.priority().map(|v| json!(v)));
    let unknown: Vec<Value> = p.unknown_attributes().map(|a| json!({ "type": a.kind, "hex": to_hex(a.payload) })).collect();
    if !unknown.is_empty() {
        m.insert("unknown".into(), Value::Array(unknown));
    }
    Value::Object(m)
}

fn error_json(e: &ErrorMessage) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("error"));
    m.insert("errno".into(), json!(e.errno));
    let r = e.request;
    m.insert(
        "request".into(),
        json!({ "length": r.len, "type": r.kind, "flags": r.flags, "seq": r.seq, "portId": r.port_id }),
    );
    if let Some(text) = e.ext_ack_message {
        m.insert("extAckMessage".into(), json!(text));
    }
    if let Some(offset) = e.ext_ack_offset {
        m.insert("extAckOffset".into(), json!(offset));
    }
    Value::Object(m)
}

/// One decoded message as the fixtures spell it.
pub fn message_json(message: &Message) -> Value {
    match message {
        Message::Packet(p) => packet_json(p),
        Message::PacketCutByReceiver { queue, id } => json!({ "type": "packetCutByReceiver", "queue": queue, "id": id }),
        Message::Error(e) => error_json(e),
        Message::Done => json!({ "type": "done" }),
        Message::Other { kind, bytes } => json!({ "type": "other", "messageType": kind, "length": bytes.len() }),
        other => panic!("no fixture shape for {other:?}"),
    }
}

/// Decodes `bytes` as the fixtures say (`as`: "batch" or "packet") into `{ messages, error? }`.
pub fn decode_json(bytes: &[u8], as_packet: bool) -> Value {
    let mut messages = Vec::new();
    let mut error: Option<DecodeError> = None;
    if as_packet {
        match PacketView::parse(bytes) {
            Ok(p) => messages.push(packet_json(&p)),
            Err(e) => error = Some(e),
        }
    } else {
        for message in Messages::new(bytes) {
            let decoded = message.and_then(|m| {
                let at = m.as_ptr() as usize - bytes.as_ptr() as usize;
                Message::parse(m).map_err(|e| e.shifted(at))
            });
            match decoded {
                Ok(m) => messages.push(message_json(&m)),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if let Some(e) = error {
        out.insert("error".into(), json!({ "code": e.kind.code(), "offset": e.offset }));
    }
    Value::Object(out)
}
