//! The Rust counterpart of libnetfilter_queue's `examples/nf-queue.c`.
//!
//! ```text
//! nf-queue [--count N] [--quiet] [--netns NAME] [--user NAME] [QUEUE]
//! ```
//!
//! Binds QUEUE (default 0) with copy mode packet and the GSO flag, prints one
//! line per packet in nf-queue.c's format and accepts it. Unlike nf-queue.c it
//! reads up to 64 packets per `recvmmsg` and accepts them all with one VERDICT_BATCH.

use std::io::Write;
use std::process::ExitCode;

use nfq_core::{ConfigFlags, Message, Queue, QueueOptions, Verdict, VerdictBuffer};

struct Args {
    queue: u16,
    count: Option<u64>,
    quiet: bool,
    netns: Option<String>,
    user: Option<String>,
}

const USAGE: &str = "usage: nf-queue [--count N] [--quiet] [--netns NAME] [--user NAME] [QUEUE]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args { queue: 0, count: None, quiet: false, netns: None, user: None };
    let mut it = std::env::args().skip(1);
    let mut queue = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--count" => {
                let v = it.next().ok_or("--count needs a number")?;
                args.count = Some(v.parse().map_err(|_| format!("--count: '{v}' is not a whole number"))?);
            }
            "--quiet" | "-q" => args.quiet = true,
            "--netns" => args.netns = Some(it.next().ok_or("--netns needs a namespace name")?),
            "--user" => args.user = Some(it.next().ok_or("--user needs a user name")?),
            "--help" | "-h" => return Err(USAGE.into()),
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'\n{USAGE}")),
            s if queue.is_none() => {
                queue = Some(s.parse::<u16>().map_err(|_| format!("queue '{s}' must be a number from 0 to 65535"))?);
            }
            s => return Err(format!("unexpected argument '{s}'\n{USAGE}")),
        }
    }
    args.queue = queue.unwrap_or(0);
    Ok(args)
}

fn run(args: Args) -> nfq_core::Result<()> {
    let mut options = QueueOptions::new(args.queue);
    options.flags = ConfigFlags::GSO;
    options.no_enobufs = true;
    options.netns = args.netns.map(Into::into);
    let queue = Queue::open(&options)?;
    if let Some(user) = &args.user {
        // Bound: root is no longer needed, CAP_NET_ADMIN still is (checked on every verdict).
        nfq_core::drop_privileges(user)?;
    }
    let mut buffers = queue.receive_buffers();
    let mut verdicts = VerdictBuffer::new();
    let stdout = std::io::stdout();
    let mut seen = 0u64;
    while args.count.is_none_or(|n| seen < n) {
        queue.receive(&mut buffers)?;
        let mut out = stdout.lock();
        // Every packet is accepted as soon as it is read, so one VERDICT_BATCH up to the highest
        // id of the batch covers them all: the kernel parses one message instead of one per packet.
        let mut highest: Option<(u16, u32)> = None;
        for message in buffers.messages() {
            let (queue_num, id) = match message {
                Ok(Message::Packet(p)) => {
                    if !args.quiet {
                        let _ = writeln!(out, "{p}"); // nf-queue.c's line
                    }
                    (p.queue(), p.id())
                }
                Ok(Message::PacketCutByReceiver { queue, id }) => (queue, id),
                Ok(Message::Error(e)) if e.errno != 0 => {
                    eprintln!("nf-queue: the kernel refused a verdict: errno {}", e.errno);
                    continue;
                }
                Ok(_) => continue,
                Err(e) => {
                    eprintln!("nf-queue: skipping a malformed message: {e}");
                    continue;
                }
            };
            highest = Some(match highest {
                Some((q, top)) if (id.wrapping_sub(top) as i32) < 0 => (q, top),
                _ => (queue_num, id),
            });
            seen += 1;
        }
        let _ = out.flush();
        drop(out);
        if let Some((queue_num, id)) = highest {
            verdicts.push_batch(queue_num, id, Verdict::Accept, None);
            queue.send_verdicts(&mut verdicts)?;
        }
    }
    queue.close()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("nf-queue: {message}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nf-queue: {e}");
            ExitCode::FAILURE
        }
    }
}
