//! Queue configuration: options, flags, and the CONFIG messages that carry them.

use std::path::{Path, PathBuf};

use crate::consts::*;
use crate::error::{Error, Result};
use crate::facts;
use crate::netlink::MessageWriter;

/// Refuses [`CopyMode::None`], under which the kernel drops every packet it would queue.
pub(crate) fn check_copy_mode(mode: CopyMode) -> Result<()> {
    if mode == CopyMode::None {
        return Err(Error::invalid(
            "copy_mode",
            "copy mode none makes the kernel drop every matched packet (it queues nothing): use meta for metadata only, or packet",
        ));
    }
    Ok(())
}

/// How much of each packet the kernel copies to userspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CopyMode {
    /// Nothing: the kernel then refuses to queue (EINVAL) and drops every matched packet
    /// without a count anywhere. Refused by [`QueueOptions::validate`] and
    /// [`crate::Queue::set_copy_mode`]; use [`CopyMode::Meta`] for metadata only.
    None,
    /// Metadata only: no payload.
    Meta,
    /// Metadata and the packet, up to the copy range.
    #[default]
    Packet,
}

impl CopyMode {
    /// The kernel's `NFQNL_COPY_*` number.
    #[must_use]
    pub fn to_raw(self) -> u8 {
        match self {
            CopyMode::None => NFQNL_COPY_NONE,
            CopyMode::Meta => NFQNL_COPY_META,
            CopyMode::Packet => NFQNL_COPY_PACKET,
        }
    }
}

/// Queue flags (`NFQA_CFG_F_*`), combined with `|`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConfigFlags(pub u32);

impl ConfigFlags {
    /// No flag.
    pub const NONE: Self = Self(0);
    /// Accept packets instead of dropping them when the queue is full.
    pub const FAIL_OPEN: Self = Self(NFQA_CFG_F_FAIL_OPEN);
    /// Attach the conntrack entry; needs CONFIG_NETFILTER_NETLINK_GLUE_CT.
    pub const CONNTRACK: Self = Self(NFQA_CFG_F_CONNTRACK);
    /// Queue GSO packets whole (up to 64 KB) instead of segmenting them.
    pub const GSO: Self = Self(NFQA_CFG_F_GSO);
    /// Attach the local socket owner's uid and gid.
    pub const UID_GID: Self = Self(NFQA_CFG_F_UID_GID);
    /// Attach the security context.
    pub const SECCTX: Self = Self(NFQA_CFG_F_SECCTX);
    /// Every flag this crate knows.
    pub const ALL: Self = Self(0x1f);

    /// Whether every bit of `other` is set.
    #[must_use]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set bits, one flag each.
    pub fn iter(self) -> impl Iterator<Item = ConfigFlags> {
        (0..32).map(|bit| 1u32 << bit).filter(move |b| self.0 & b != 0).map(ConfigFlags)
    }

    /// Name of a single flag (`"NFQA_CFG_F_GSO"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self.0 {
            NFQA_CFG_F_FAIL_OPEN => "NFQA_CFG_F_FAIL_OPEN (fail-open)",
            NFQA_CFG_F_CONNTRACK => "NFQA_CFG_F_CONNTRACK (conntrack)",
            NFQA_CFG_F_GSO => "NFQA_CFG_F_GSO (gso)",
            NFQA_CFG_F_UID_GID => "NFQA_CFG_F_UID_GID (uid/gid)",
            NFQA_CFG_F_SECCTX => "NFQA_CFG_F_SECCTX (secctx)",
            _ => "an unknown queue flag",
        }
    }

    /// What provides a single flag when the kernel refuses it.
    #[must_use]
    pub fn kernel_requirement(self) -> &'static str {
        match self.0 {
            NFQA_CFG_F_CONNTRACK => {
                "the kernel needs CONFIG_NETFILTER_NETLINK_GLUE_CT (and the nf_conntrack module); \
                 open the queue without the conntrack flag, connmarks in verdicts will not apply"
            }
            NFQA_CFG_F_SECCTX => "the kernel needs CONFIG_NETWORK_SECMARK; open the queue without the secctx flag",
            _ => "this flag is newer than the running kernel; open the queue without it",
        }
    }
}

impl std::ops::BitOr for ConfigFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ConfigFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// Default datagrams per `recvmmsg` call.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Receive slot size: a 64 KB GSO packet plus its attributes fits whole.
pub const DEFAULT_SLOT_SIZE: usize = 65536 + 4096;

/// The accepted range of a numeric option and what its number counts. The ranges live in
/// [`facts`], shared with the TypeScript packages, which check the same ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionLimit {
    /// The option's name here (`copy_range`).
    pub name: &'static str,
    /// Its name in JavaScript (`copyRange`).
    pub js_name: &'static str,
    /// Smallest value accepted.
    pub min: i64,
    /// Largest value accepted.
    pub max: i64,
    /// What the number counts (`"a byte count"`), for the error message.
    pub what: &'static str,
}

impl OptionLimit {
    /// Whether `value` is in range.
    #[must_use]
    pub fn contains(&self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// Ok when `value` is in range, else an [`Error::InvalidArgument`] naming the option:
    /// `copy_range: must be a byte count from 0 to 65535, got 70000`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the option when `value` is out of range.
    pub fn check(&self, value: impl TryInto<i64> + std::fmt::Display + Copy) -> Result<()> {
        match value.try_into() {
            Ok(v) if self.contains(v) => Ok(()),
            _ => Err(self.refusal(value)),
        }
    }

    /// `value` as an integer in range, for a binding whose numbers come as floats (JavaScript's):
    /// a fraction, NaN or a number out of range is refused as [`OptionLimit::check`] refuses,
    /// never wrapped or rounded into range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the option for a fraction, NaN or a number out of range.
    pub fn check_number(&self, value: f64) -> Result<i64> {
        if value.fract() == 0.0 && value >= self.min as f64 && value <= self.max as f64 {
            Ok(value as i64)
        } else {
            Err(self.refusal(value))
        }
    }

    fn refusal(&self, value: impl std::fmt::Display) -> Error {
        Error::invalid(self.name, format!("{}: must be {} from {} to {}, got {value}", self.name, self.what, self.min, self.max))
    }
}

/// Everything needed to open a queue. Checked by [`QueueOptions::validate`] before any syscall.
///
/// Made by [`QueueOptions::new`], then changed field by field (new fields may come in a minor
/// release, so the struct cannot be written as a literal outside this crate):
///
/// ```
/// use nfq_core::{ConfigFlags, QueueOptions};
///
/// let mut options = QueueOptions::new(0);
/// options.copy_range = 128; // headers are enough
/// options.flags = ConfigFlags::FAIL_OPEN | ConfigFlags::GSO;
/// options.netns = Some("blue".into());
/// assert!(options.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueOptions {
    /// Queue number, as in `iptables -j NFQUEUE --queue-num N`.
    pub queue: u16,
    /// How much of each packet to copy.
    pub copy_mode: CopyMode,
    /// Copy at most this many bytes of each packet (0..=65535).
    pub copy_range: u32,
    /// Kernel queue length; packets beyond it are dropped (or accepted with fail-open).
    pub max_len: Option<u32>,
    /// Flags to switch on.
    pub flags: ConfigFlags,
    /// Socket receive buffer in bytes (SO_RCVBUFFORCE when permitted, else SO_RCVBUF).
    pub receive_buffer: Option<usize>,
    /// Set NETLINK_NO_ENOBUFS: no ENOBUFS error when the socket buffer overflows.
    pub no_enobufs: bool,
    /// Datagrams per `recvmmsg` call: the size of the buffers [`crate::Queue::receive_buffers`]
    /// makes (and of the binding's).
    pub batch_size: usize,
    /// Open the socket in this network namespace: a name from `ip netns add` or a path.
    pub netns: Option<PathBuf>,
}

impl QueueOptions {
    /// Options for `queue` with the defaults: copy whole packets, batches of 64.
    #[must_use]
    pub fn new(queue: u16) -> Self {
        Self {
            queue,
            copy_mode: CopyMode::Packet,
            copy_range: MAX_COPY_RANGE,
            max_len: None,
            flags: ConfigFlags::NONE,
            receive_buffer: None,
            no_enobufs: false,
            batch_size: DEFAULT_BATCH_SIZE,
            netns: None,
        }
    }

    /// Checks every value; the error says which one and what is allowed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the first option out of range.
    pub fn validate(&self) -> Result<()> {
        check_copy_mode(self.copy_mode)?;
        facts::COPY_RANGE.check(self.copy_range)?;
        facts::BATCH_SIZE.check(self.batch_size)?;
        if let Some(length) = self.max_len {
            facts::MAX_LEN.check(length)?;
        }
        if let Some(size) = self.receive_buffer {
            facts::RECEIVE_BUFFER.check(size)?;
        }
        if self.flags.0 & !ConfigFlags::ALL.0 != 0 {
            return Err(Error::invalid("flags", format!("unknown queue flags {:#x}", self.flags.0 & !ConfigFlags::ALL.0)));
        }
        Ok(())
    }

    /// The namespace path: a bare name means `/var/run/netns/NAME` (iproute2's).
    pub fn netns_path(&self) -> Option<PathBuf> {
        self.netns.as_deref().map(netns_path)
    }
}

/// The path of network namespace `netns`: a bare name means `/var/run/netns/NAME` (iproute2's),
/// anything else is a path already.
pub fn netns_path(netns: &Path) -> PathBuf {
    if netns.components().count() == 1 && !netns.is_absolute() {
        PathBuf::from("/var/run/netns").join(netns)
    } else {
        netns.to_owned()
    }
}

/// A config command (`NFQNL_CFG_CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigCommand {
    /// Bind this socket to the queue.
    Bind,
    /// Unbind it.
    Unbind,
    /// Legacy: bind to a protocol family (a no-op since Linux 3.8).
    PfBind(u8),
    /// Legacy: unbind from a protocol family (a no-op since Linux 3.8).
    PfUnbind(u8),
}

/// Appends a CONFIG message with a command (`nfq_nlmsg_cfg_put_cmd`).
pub fn put_config_command(writer: &mut MessageWriter, seq: u32, queue: u16, command: ConfigCommand) {
    let (cmd, pf) = match command {
        ConfigCommand::Bind => (NFQNL_CFG_CMD_BIND, AF_UNSPEC),
        ConfigCommand::Unbind => (NFQNL_CFG_CMD_UNBIND, AF_UNSPEC),
        ConfigCommand::PfBind(pf) => (NFQNL_CFG_CMD_PF_BIND, pf),
        ConfigCommand::PfUnbind(pf) => (NFQNL_CFG_CMD_PF_UNBIND, pf),
    };
    begin_config(writer, seq, queue);
    let pf = (pf as u16).to_be_bytes();
    writer.put(NFQA_CFG_CMD, &[cmd, 0, pf[0], pf[1]]);
    writer.finish();
}

/// Appends a CONFIG message setting copy mode and range (`nfq_nlmsg_cfg_put_params`).
pub fn put_config_params(writer: &mut MessageWriter, seq: u32, queue: u16, mode: CopyMode, range: u32) {
    begin_config(writer, seq, queue);
    let r = range.to_be_bytes();
    writer.put(NFQA_CFG_PARAMS, &[r[0], r[1], r[2], r[3], mode.to_raw()]);
    writer.finish();
}

/// Appends a CONFIG message setting the queue length (`nfq_nlmsg_cfg_put_qmaxlen`).
pub fn put_config_max_len(writer: &mut MessageWriter, seq: u32, queue: u16, max_len: u32) {
    begin_config(writer, seq, queue);
    writer.put_be_u32(NFQA_CFG_QUEUE_MAXLEN, max_len);
    writer.finish();
}

/// Appends a CONFIG message setting the flags under `mask` to `flags`.
pub fn put_config_flags(writer: &mut MessageWriter, seq: u32, queue: u16, flags: ConfigFlags, mask: ConfigFlags) {
    begin_config(writer, seq, queue);
    writer.put_be_u32(NFQA_CFG_FLAGS, flags.0);
    writer.put_be_u32(NFQA_CFG_MASK, mask.0);
    writer.finish();
}

fn begin_config(writer: &mut MessageWriter, seq: u32, queue: u16) {
    writer.begin_nfnetlink(nfqueue_msg_type(NFQNL_MSG_CONFIG), NLM_F_REQUEST | NLM_F_ACK, seq, AF_UNSPEC, queue);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limited_option_is_refused_one_past_its_range_with_its_name_and_range() {
        let limits = [facts::COPY_RANGE, facts::BATCH_SIZE, facts::MAX_LEN, facts::RECEIVE_BUFFER];
        for limit in limits {
            for (value, ok) in [(limit.min, true), (limit.max, true), (limit.min - 1, false), (limit.max + 1, false)] {
                let mut o = QueueOptions::new(1);
                match limit.name {
                    "copy_range" => o.copy_range = value as u32,
                    "batch_size" => o.batch_size = value as usize,
                    "max_len" => o.max_len = Some(value as u32),
                    _ => o.receive_buffer = Some(value as usize),
                }
                // A value that wraps in the field's type (max_len past u32) is not tested here.
                if value < 0 || (limit.name == "max_len" && value > u32::MAX as i64) {
                    continue;
                }
                let result = o.validate();
                assert_eq!(result.is_ok(), ok, "{} = {value}", limit.name);
                if let Err(e) = result {
                    assert_eq!(e.option(), Some(limit.name));
                    let expected = format!("{}: must be {} from {} to {}, got {value}", limit.name, limit.what, limit.min, limit.max);
                    assert_eq!(e.to_string(), expected);
                }
            }
        }
        assert!(QueueOptions::new(65535).validate().is_ok());
        for limit in facts::OPTION_LIMITS {
            assert_eq!(limit.check_number(limit.max as f64).unwrap(), limit.max);
            for bad in [limit.min as f64 - 1.0, limit.max as f64 + 1.0, limit.min as f64 + 0.5, f64::NAN, f64::INFINITY, 2f64.powi(32) + 5.0] {
                if bad.fract() == 0.0 && limit.contains(bad as i64) {
                    continue; // a whole number this option accepts
                }
                assert_eq!(limit.check_number(bad).unwrap_err().option(), Some(limit.name), "{} = {bad}", limit.name);
            }
        }
        let mut o = QueueOptions::new(1);
        o.flags = ConfigFlags(1 << 9);
        assert_eq!(o.validate().unwrap_err().option(), Some("flags"));
    }

    #[test]
    fn bare_netns_names_resolve_under_var_run_netns() {
        let mut o = QueueOptions::new(0);
        o.netns = Some("blue".into());
        assert_eq!(o.netns_path().unwrap(), PathBuf::from("/var/run/netns/blue"));
        o.netns = Some("/proc/1/ns/net".into());
        assert_eq!(o.netns_path().unwrap(), PathBuf::from("/proc/1/ns/net"));
    }

    #[test]
    fn params_message_is_packed_as_the_kernel_reads_it() {
        let mut w = MessageWriter::new();
        put_config_params(&mut w, 9, 0, CopyMode::Packet, 0xffff);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[32u8, 0, 0, 0][..], &[0x02, 0x03], &[0x05, 0x00], // len 32, CONFIG, REQUEST|ACK
            &[9, 0, 0, 0], &[0, 0, 0, 0],                       // seq 9, pid 0
            &[0, 0, 0, 0],                                      // AF_UNSPEC, v0, queue 0
            &[9, 0, 2, 0], &[0, 0, 0xff, 0xff, 2, 0, 0, 0],     // PARAMS: range BE, mode, pad
        ].concat();
        assert_eq!(w.bytes(), &expected[..]);
    }
}
