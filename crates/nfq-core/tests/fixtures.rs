//! Every fixture in `fixtures/` (see its README), decoded and built by nfq-core.
//! vitest in packages/netlink reads the same files: the two codecs must agree.

mod common;

use std::path::PathBuf;

use common::fixture_json::{decode_json, from_hex, to_hex};
use nfq_core::wire::{put_config_command, put_config_flags, put_config_max_len, put_config_params, ConfigCommand};
use nfq_core::wire::MessageWriter;
use nfq_core::wire::{put_verdict, put_verdict_batch};
use nfq_core::{ConfigFlags, ConntrackUpdate, CopyMode, Verdict, VerdictOptions};
use serde_json::Value;

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut all: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap())
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The conntrack changes of a verdict fixture (`connmark`, `connlabels`, `connlabelsMask`).
fn conntrack_update(input: &Value) -> Option<ConntrackUpdate> {
    let labels = |key: &str| input.get(key).map(|h| <[u8; 16]>::try_from(from_hex(h.as_str().unwrap())).expect("16 bytes of labels"));
    let mut update = ConntrackUpdate::default();
    if let Some(mark) = num(input, "connmark") {
        update = update.with_mark(mark as u32);
    }
    if let Some(labels_value) = labels("connlabels") {
        update = update.with_labels(labels_value, labels("connlabelsMask"));
    }
    (update != ConntrackUpdate::default()).then_some(update)
}

fn num(v: &Value, key: &str) -> Option<u64> {
    v.get(key).map(|n| n.as_u64().unwrap_or_else(|| panic!("{key} is not a number")))
}

fn build(spec: &Value) -> Vec<u8> {
    let input = &spec["input"];
    let queue = num(input, "queue").unwrap() as u16;
    let mut w = MessageWriter::new();
    match spec["message"].as_str().unwrap() {
        "verdict" => {
            let raw = num(input, "verdict").unwrap() as u32;
            let verdict = Verdict::from_raw(raw).unwrap();
            assert_eq!(verdict.to_raw(), raw);
            let payload = input.get("payload").map(|h| from_hex(h.as_str().unwrap()));
            let mut options = VerdictOptions::NONE;
            if let Some(mark) = num(input, "mark") {
                options = options.with_mark(mark as u32);
            }
            if let Some(payload) = payload.as_deref() {
                options = options.with_payload(payload);
            }
            if let Some(conntrack) = conntrack_update(input) {
                options = options.with_conntrack(conntrack);
            }
            put_verdict(&mut w, queue, num(input, "id").unwrap() as u32, verdict, &options).unwrap();
        }
        "verdictBatch" => {
            let verdict = Verdict::from_raw(num(input, "verdict").unwrap() as u32).unwrap();
            put_verdict_batch(&mut w, queue, num(input, "id").unwrap() as u32, verdict, num(input, "mark").map(|m| m as u32));
        }
        "config" => {
            let seq = num(input, "seq").unwrap() as u32;
            if let Some(command) = input.get("command") {
                let pf = num(input, "pf").unwrap_or(0) as u8;
                let command = match command.as_str().unwrap() {
                    "bind" => ConfigCommand::Bind,
                    "unbind" => ConfigCommand::Unbind,
                    "pfBind" => ConfigCommand::PfBind(pf),
                    "pfUnbind" => ConfigCommand::PfUnbind(pf),
                    other => panic!("unknown command {other}"),
                };
                put_config_command(&mut w, seq, queue, command);
            } else if let Some(mode) = input.get("copyMode") {
                let mode = match mode.as_str().unwrap() {
                    "none" => CopyMode::None,
                    "meta" => CopyMode::Meta,
                    "packet" => CopyMode::Packet,
                    other => panic!("unknown copy mode {other}"),
                };
                put_config_params(&mut w, seq, queue, mode, num(input, "copyRange").unwrap_or(0) as u32);
            } else if let Some(max_len) = num(input, "maxLen") {
                put_config_max_len(&mut w, seq, queue, max_len as u32);
            } else {
                let flags = ConfigFlags(num(input, "flags").unwrap() as u32);
                put_config_flags(&mut w, seq, queue, flags, ConfigFlags(num(input, "mask").unwrap() as u32));
            }
        }
        other => panic!("unknown message {other}"),
    }
    w.bytes().to_vec()
}

#[test]
fn every_fixture_decodes_and_builds_as_recorded() {
    let all = fixtures();
    assert!(all.len() >= 12, "only {} fixtures", all.len());
    let mut failures = Vec::new();
    for (name, fixture) in &all {
        if let Some(decode) = fixture.get("decode") {
            let bytes = from_hex(decode["hex"].as_str().unwrap());
            let as_packet = decode.get("as").and_then(Value::as_str) == Some("packet");
            let got = decode_json(&bytes, as_packet);
            if got != decode["expect"] {
                failures.push(format!("{name}:\n  expected {}\n  decoded  {}", decode["expect"], got));
            }
        } else if let Some(spec) = fixture.get("build") {
            let got = to_hex(&build(spec));
            if got != spec["hex"].as_str().unwrap() {
                failures.push(format!("{name}:\n  expected {}\n  built    {got}", spec["hex"]));
            }
        } else {
            failures.push(format!("{name}: neither decode nor build"));
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures disagree:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn the_fixture_set_covers_every_kind_and_both_sources() {
    let all = fixtures();
    let has = |f: &dyn Fn(&Value) -> bool| all.iter().any(|(_, v)| f(v));
    assert!(has(&|v| v["source"] == "kernel"), "no fixture recorded from the kernel");
    assert!(has(&|v| v["source"] == "hand"));
    assert!(has(&|v| v.pointer("/decode/expect/error").is_some()), "no malformed fixture");
    for message in ["verdict", "verdictBatch", "config"] {
        assert!(has(&|v| v.pointer("/build/message").and_then(Value::as_str) == Some(message)), "no {message} build");
    }
}

/// Each packet of fixtures/lines/nf-queue.json displays as nf-queue.c's line (the line
/// `Packet.toString()` of @nfq/nfqueue is held to as well).
#[test]
fn packets_display_as_the_nf_queue_line() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let read = |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap() };
    let lines = read("lines/nf-queue");
    let lines = lines["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    for entry in lines {
        let fixture = entry["fixture"].as_str().unwrap();
        let bytes = from_hex(read(fixture)["decode"]["hex"].as_str().unwrap());
        let index = entry["message"].as_u64().unwrap() as usize;
        let message = nfq_core::wire::Messages::new(&bytes).nth(index).unwrap().unwrap();
        let packet = nfq_core::PacketView::parse(message).unwrap();
        assert_eq!(packet.to_string(), entry["line"].as_str().unwrap(), "{fixture} #{index}");
    }
}
