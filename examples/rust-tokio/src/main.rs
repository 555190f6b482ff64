//! `nfq-tokio-filter`: verdicts the packets of one NFQUEUE queue by what they contain, on tokio.
//!
//! ```text
//! nfq-tokio-filter --queue 0 [--netns NAME] [--drop TEXT]... [--mark TEXT=MARK]... [--hold TEXT=MS]...
//! ```
//!
//! A packet containing a `--drop` text is dropped; one containing a `--mark` text is accepted
//! with that mark; one containing a `--hold` text is held for that many milliseconds by a task of
//! its own, then accepted; the rest are accepted. One line per decision goes to stdout. SIGINT or
//! SIGTERM stops it without losing a packet: the kernel stops queueing, held packets get their
//! verdicts, what is still queued is accepted, then the queue unbinds.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nfq_core::tokio::AsyncQueue;
use nfq_core::{Message, QueueOptions, Verdict, VerdictBuffer, VerdictOptions};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

/// What to do with a packet whose bytes contain `text`.
#[derive(Debug, Clone)]
struct Rule {
    text: Vec<u8>,
    action: Action,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Drop,
    Mark(u32),
    Hold(Duration),
}

struct Settings {
    queue: u16,
    netns: Option<String>,
    rules: Vec<Rule>,
}

const USAGE: &str = "usage: nfq-tokio-filter --queue N [--netns NAME] [--drop TEXT]... [--mark TEXT=MARK]... [--hold TEXT=MS]...";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
    let mut queue = None;
    let mut netns = None;
    let mut rules = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--queue" => {
                let text = value()?;
                queue = Some(text.parse::<u16>().map_err(|_| format!("--queue takes a queue number from 0 to 65535, not {text:?}"))?);
            }
            "--netns" => netns = Some(value()?),
            "--drop" => rules.push(Rule { text: value()?.into_bytes(), action: Action::Drop }),
            "--mark" | "--hold" => {
                let text = value()?;
                let (pattern, number) = text.rsplit_once('=').ok_or_else(|| format!("{flag} takes TEXT=NUMBER, not {text:?}"))?;
                let number: u32 = number.parse().map_err(|_| format!("{flag} takes TEXT=NUMBER, and {number:?} is not a number"))?;
                let action = if flag == "--mark" { Action::Mark(number) } else { Action::Hold(Duration::from_millis(number.into())) };
                rules.push(Rule { text: pattern.as_bytes().to_vec(), action });
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    let queue = queue.ok_or_else(|| format!("--queue is required\n{USAGE}"))?;
    Ok(Settings { queue, netns, rules })
}

fn action_for(rules: &[Rule], packet: &[u8]) -> Option<Action> {
    rules.iter().find(|rule| packet.windows(rule.text.len()).any(|w| w == rule.text)).map(|rule| rule.action)
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match parse_args(std::env::args().skip(1)) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // nfq-core's errors say what failed and what to do (permission, a queue already bound).
            eprintln!("nfq-tokio-filter: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> nfq_core::Result<()> {
    let mut options = QueueOptions::new(settings.queue);
    options.netns = settings.netns.map(Into::into);
    let queue = Arc::new(AsyncQueue::open(&options)?);
    eprintln!("bound queue {}", settings.queue);

    let mut stop = (signal(SignalKind::interrupt()).expect("SIGINT handler"), signal(SignalKind::terminate()).expect("SIGTERM handler"));
    let mut buffers = queue.receive_buffers();
    let mut verdicts = VerdictBuffer::new();
    let mut held = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.0.recv() => break,
            _ = stop.1.recv() => break,
            received = queue.receive(&mut buffers) => { received?; }
        }
        for message in buffers.messages() {
            let (id, action) = match message {
                Ok(Message::Packet(packet)) => (packet.id(), packet.payload().and_then(|bytes| action_for(&settings.rules, bytes))),
                // Larger than a receive slot: its bytes are unknown, and it still needs a verdict.
                Ok(Message::PacketCutByReceiver { id, .. }) => (id, None),
                Ok(_) => continue,
                Err(error) => {
                    eprintln!("skipped a malformed message: {error}");
                    continue;
                }
            };
            match action {
                Some(Action::Drop) => {
                    verdicts.push(settings.queue, id, Verdict::Drop, &VerdictOptions::NONE)?;
                    println!("drop {id}");
                }
                Some(Action::Mark(mark)) => {
                    verdicts.push(settings.queue, id, Verdict::Accept, &VerdictOptions::NONE.with_mark(mark))?;
                    println!("mark {id} {mark}");
                }
                Some(Action::Hold(time)) => {
                    println!("hold {id} {}", time.as_millis());
                    let queue = Arc::clone(&queue);
                    held.spawn(async move {
                        tokio::time::sleep(time).await;
                        let sent = queue.verdict(id, Verdict::Accept, &VerdictOptions::NONE);
                        if sent.is_ok() {
                            println!("release {id}");
                        }
                        sent
                    });
                }
                None => {
                    verdicts.push(settings.queue, id, Verdict::Accept, &VerdictOptions::NONE)?;
                    println!("accept {id}");
                }
            }
        }
        queue.send_verdicts(&mut verdicts)?;
        // Reap the held packets already released, so the set does not grow with the traffic.
        while let Some(done) = held.try_join_next() {
            done.expect("a held packet's task")?;
        }
    }

    // Stop: nothing new is queued (it passes), held packets get their verdicts, the rest is accepted.
    queue.stop_queueing(Verdict::Accept)?;
    while let Some(done) = held.join_next().await {
        done.expect("a held packet's task")?;
    }
    let report = queue.shutdown(Verdict::Accept, Duration::from_secs(1))?;
    eprintln!("stopped: {} accepted at shutdown", report.drained + report.swept);
    Ok(())
}
