//! The options of `NativeQueue.open`, converted to nfq-core's. The ranges are checked by
//! nfq-core's shared limits (`nfq_core::facts`), the ones the TypeScript side checks first.

use napi_derive::napi;
use nfq_core::{ConfigFlags, CopyMode, QueueOptions};

/// Options of `NativeQueue.open`; see `QueueOptions` in nfq-core. Numbers come as JavaScript
/// numbers (f64) and are checked whole and in range before any conversion, so that no value wraps.
#[napi(object)]
pub struct BindingQueueOptions {
    /// Queue number, 0..=65535.
    pub queue: f64,
    /// 'none' | 'meta' | 'packet' (default).
    pub copy_mode: Option<String>,
    /// Copy at most this many bytes of each packet (default 65535).
    pub copy_range: Option<f64>,
    /// Kernel queue length.
    pub max_len: Option<f64>,
    /// Accept packets instead of dropping them when the queue is full.
    pub fail_open: Option<bool>,
    /// Attach conntrack information.
    pub conntrack: Option<bool>,
    /// Queue GSO packets whole.
    pub gso: Option<bool>,
    /// Attach socket owner uid and gid.
    pub uid_gid: Option<bool>,
    /// Attach the security context.
    pub secctx: Option<bool>,
    /// Socket receive buffer size in bytes.
    pub receive_buffer_size: Option<f64>,
    /// Set NETLINK_NO_ENOBUFS.
    pub no_enobufs: Option<bool>,
    /// Datagrams per recvmmsg (1..=1024, default 64).
    pub batch_size: Option<f64>,
    /// Network namespace: a name from `ip netns add`, or a path.
    pub netns: Option<String>,
    /// Receive on a thread of its own instead of the JavaScript thread (default false).
    pub reader_thread: Option<bool>,
    /// CPUs the receiving thread may run on (`sched_setaffinity`).
    pub reader_cpus: Option<Vec<f64>>,
    /// Nice value of the receiving thread (-20..=19; below 0 needs CAP_SYS_NICE).
    pub reader_nice: Option<f64>,
}

/// Who receives and how its thread is tuned (the binding's part of the options).
pub struct ReaderSettings {
    /// Receive on a thread of its own.
    pub thread: bool,
    /// CPUs the receiving thread may run on (none: any).
    pub cpus: Vec<usize>,
    /// Nice value of the receiving thread.
    pub nice: Option<i32>,
}

impl BindingQueueOptions {
    /// nfq-core's options and the reader's settings; the first bad value is refused, named.
    pub fn convert(self) -> Result<(QueueOptions, ReaderSettings), nfq_core::Error> {
        use nfq_core::facts::{BATCH_SIZE, COPY_RANGE, MAX_LEN, QUEUE, READER_CPUS, READER_NICE, RECEIVE_BUFFER};
        let o = self;
        let mut options = QueueOptions::new(QUEUE.check_number(o.queue)? as u16);
        options.copy_mode = match o.copy_mode.as_deref() {
            None | Some("packet") => CopyMode::Packet,
            Some("meta") => CopyMode::Meta,
            Some("none") => CopyMode::None,
            Some(other) => return Err(nfq_core::Error::invalid("copy_mode", format!("copy mode '{other}' is not one of 'meta', 'packet'"))),
        };
        if let Some(range) = o.copy_range {
            options.copy_range = COPY_RANGE.check_number(range)? as u32;
        }
        options.max_len = o.max_len.map(|length| MAX_LEN.check_number(length)).transpose()?.map(|length| length as u32);
        for (on, flag) in [
            (o.fail_open, ConfigFlags::FAIL_OPEN),
            (o.conntrack, ConfigFlags::CONNTRACK),
            (o.gso, ConfigFlags::GSO),
            (o.uid_gid, ConfigFlags::UID_GID),
            (o.secctx, ConfigFlags::SECCTX),
        ] {
            if on == Some(true) {
                options.flags |= flag;
            }
        }
        options.receive_buffer = o.receive_buffer_size.map(|size| RECEIVE_BUFFER.check_number(size)).transpose()?.map(|size| size as usize);
        options.no_enobufs = o.no_enobufs.unwrap_or(false);
        if let Some(size) = o.batch_size {
            options.batch_size = BATCH_SIZE.check_number(size)? as usize;
        }
        options.netns = o.netns.map(Into::into);
        let reader = ReaderSettings {
            thread: o.reader_thread.unwrap_or(false),
            cpus: o.reader_cpus.iter().flatten().map(|&cpu| READER_CPUS.check_number(cpu).map(|cpu| cpu as usize)).collect::<Result<_, _>>()?,
            nice: o.reader_nice.map(|nice| READER_NICE.check_number(nice)).transpose()?.map(|nice| nice as i32),
        };
        Ok((options, reader))
    }
}
