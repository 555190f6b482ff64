//! The options of `NativeQueue.open`, converted to nfq-core's. The ranges are checked by
//! nfq-core's shared limits (`nfq_core::facts`), the ones the TypeScript side checks first.

use napi_derive::napi;
use nfq_core::{ConfigFlags, CopyMode, QueueOptions};

/// Options of `NativeQueue.open`; see `QueueOptions` in nfq-core.
#[napi(object)]
pub struct BindingQueueOptions {
    /// Queue number, 0..=65535.
    pub queue: u32,
    /// 'none' | 'meta' | 'packet' (default).
    pub copy_mode: Option<String>,
    /// Copy at most this many bytes of each packet (default 65535).
    pub copy_range: Option<u32>,
    /// Kernel queue length.
    pub max_len: Option<u32>,
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
    pub receive_buffer_size: Option<u32>,
    /// Set NETLINK_NO_ENOBUFS.
    pub no_enobufs: Option<bool>,
    /// Datagrams per recvmmsg (1..=1024, default 64).
    pub batch_size: Option<u32>,
    /// Network namespace: a name from `ip netns add`, or a path.
    pub netns: Option<String>,
    /// Receive on a thread of its own instead of the JavaScript thread (default false).
    pub reader_thread: Option<bool>,
    /// CPUs the receiving thread may run on (`sched_setaffinity`).
    pub reader_cpus: Option<Vec<u32>>,
    /// Nice value of the receiving thread (-20..=19; below 0 needs CAP_SYS_NICE).
    pub reader_nice: Option<i32>,
}

impl TryFrom<BindingQueueOptions> for QueueOptions {
    type Error = nfq_core::Error;

    fn try_from(o: BindingQueueOptions) -> std::result::Result<Self, Self::Error> {
        let invalid = nfq_core::Error::invalid;
        nfq_core::facts::QUEUE.check(o.queue)?;
        let queue = o.queue as u16;
        let mut options = QueueOptions::new(queue);
        options.copy_mode = match o.copy_mode.as_deref() {
            None | Some("packet") => CopyMode::Packet,
            Some("meta") => CopyMode::Meta,
            Some("none") => CopyMode::None,
            Some(other) => return Err(invalid("copy_mode", format!("copy mode '{other}' is not one of 'meta', 'packet'"))),
        };
        if let Some(range) = o.copy_range {
            options.copy_range = range;
        }
        options.max_len = o.max_len;
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
        options.receive_buffer = o.receive_buffer_size.map(|s| s as usize);
        options.no_enobufs = o.no_enobufs.unwrap_or(false);
        if let Some(size) = o.batch_size {
            options.batch_size = size as usize;
        }
        options.netns = o.netns.map(Into::into);
        if let Some(nice) = o.reader_nice {
            nfq_core::facts::READER_NICE.check(nice)?;
        }
        for &cpu in o.reader_cpus.iter().flatten() {
            nfq_core::facts::READER_CPUS.check(cpu)?;
        }
        Ok(options)
    }
}
