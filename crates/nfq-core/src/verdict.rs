//! Verdicts and their messages: one at a time, or many coalesced into one send.

use crate::consts::*;
use crate::error::{Error, Result};
use crate::netlink::MessageWriter;

/// Largest payload one netlink attribute can carry (`nla_len` is 16 bits).
pub const MAX_VERDICT_PAYLOAD: usize = u16::MAX as usize - NLA_HDRLEN;

/// What happens to a queued packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Let it continue through the hook.
    Accept,
    /// Drop it.
    Drop,
    /// Run the hook again from its start (mark the packet, or you loop forever).
    Repeat,
    /// Accept, skipping the rest of this hook's tables (deprecated by the kernel, still honoured).
    Stop,
    /// Send it to another queue.
    Queue {
        /// Target queue number.
        queue: u16,
        /// Accept instead of dropping when no program listens on the target queue.
        bypass: bool,
    },
}

impl Verdict {
    /// The kernel's number: `NF_*`, with the queue number and bypass flag for `Queue`.
    #[must_use]
    pub fn to_raw(self) -> u32 {
        match self {
            Verdict::Accept => NF_ACCEPT,
            Verdict::Drop => NF_DROP,
            Verdict::Repeat => NF_REPEAT,
            Verdict::Stop => NF_STOP,
            Verdict::Queue { queue, bypass } => {
                NF_QUEUE | ((queue as u32) << 16) | if bypass { NF_VERDICT_FLAG_QUEUE_BYPASS } else { 0 }
            }
        }
    }

    /// Decodes a kernel verdict number; `None` for values userspace cannot send.
    #[must_use]
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw & 0xff {
            NF_ACCEPT => Verdict::Accept,
            NF_DROP => Verdict::Drop,
            NF_REPEAT => Verdict::Repeat,
            NF_STOP => Verdict::Stop,
            NF_QUEUE => Verdict::Queue { queue: (raw >> 16) as u16, bypass: raw & NF_VERDICT_FLAG_QUEUE_BYPASS != 0 },
            _ => return None,
        })
    }
}

/// Conntrack changes carried with a verdict (`NFQA_CT`). Needs the kernel's
/// conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT); without it the kernel ignores them.
///
/// ```
/// use nfq_core::ConntrackUpdate;
/// let update = ConntrackUpdate::default().with_mark(7);
/// assert_eq!(update.mark, Some(7));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConntrackUpdate {
    /// New connection mark.
    pub mark: Option<u32>,
    /// New connection labels (128 bits).
    pub labels: Option<[u8; 16]>,
    /// Which label bits to change; all when absent. Only with `labels`: a mask alone is refused.
    pub labels_mask: Option<[u8; 16]>,
}

impl ConntrackUpdate {
    /// This update, also setting the connection mark.
    #[must_use]
    pub fn with_mark(self, mark: u32) -> Self {
        Self { mark: Some(mark), ..self }
    }

    /// This update, also setting the connection labels: the bits set in `mask` (all when `None`).
    #[must_use]
    pub fn with_labels(self, labels: [u8; 16], mask: Option<[u8; 16]>) -> Self {
        Self { labels: Some(labels), labels_mask: mask, ..self }
    }
}

/// What a verdict may carry besides the verdict itself: nothing by default.
///
/// ```
/// use nfq_core::VerdictOptions;
/// let rewritten = [0x45u8; 20];
/// let options = VerdictOptions::default().with_mark(1).with_payload(&rewritten);
/// assert_eq!(options.mark, Some(1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerdictOptions<'a> {
    /// Set the packet mark.
    pub mark: Option<u32>,
    /// Replace the packet (from its network header) with these bytes.
    pub payload: Option<&'a [u8]>,
    /// Change the connection's mark or labels.
    pub conntrack: Option<ConntrackUpdate>,
}

impl<'a> VerdictOptions<'a> {
    /// No mark, no new packet, no conntrack change: the verdict alone.
    pub const NONE: VerdictOptions<'static> = VerdictOptions { mark: None, payload: None, conntrack: None };

    /// These options, also setting the packet mark.
    #[must_use]
    pub fn with_mark(self, mark: u32) -> Self {
        Self { mark: Some(mark), ..self }
    }

    /// These options, also replacing the packet (from its network header) with `payload`.
    #[must_use]
    pub fn with_payload(self, payload: &'a [u8]) -> Self {
        Self { payload: Some(payload), ..self }
    }

    /// These options, also changing the connection's mark or labels.
    #[must_use]
    pub fn with_conntrack(self, conntrack: ConntrackUpdate) -> Self {
        Self { conntrack: Some(conntrack), ..self }
    }
}

/// Appends an `NFQNL_MSG_VERDICT` message for one packet to `writer`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a replacement payload larger than [`MAX_VERDICT_PAYLOAD`], or a
/// label mask without labels.
pub fn put_verdict(writer: &mut MessageWriter, queue: u16, id: u32, verdict: Verdict, options: &VerdictOptions) -> Result<()> {
    if let Some(payload) = options.payload {
        if payload.len() > MAX_VERDICT_PAYLOAD {
            return Err(Error::invalid("payload", format!(
                "replacement payload of {} bytes for packet {id} is too large: at most {MAX_VERDICT_PAYLOAD} bytes fit in a verdict",
                payload.len()
            )));
        }
    }
    if options.conntrack.is_some_and(|ct| ct.labels_mask.is_some() && ct.labels.is_none()) {
        return Err(Error::invalid("labels_mask", format!("the label mask of packet {id}'s verdict goes with labels: it says which of their bits change")));
    }
    writer.begin_nfnetlink(nfqueue_msg_type(NFQNL_MSG_VERDICT), NLM_F_REQUEST, 0, AF_UNSPEC, queue);
    put_verdict_header(writer, verdict, id);
    if let Some(mark) = options.mark {
        writer.put_be_u32(NFQA_MARK, mark);
    }
    if let Some(payload) = options.payload {
        writer.put(NFQA_PAYLOAD, payload);
    }
    if let Some(ct) = options.conntrack {
        let nest = writer.nest_start(NFQA_CT);
        if let Some(mark) = ct.mark {
            writer.put_be_u32(CTA_MARK, mark);
        }
        if let Some(labels) = ct.labels {
            writer.put(CTA_LABELS, &labels);
            writer.put(CTA_LABELS_MASK, &ct.labels_mask.unwrap_or([0xff; 16]));
        }
        writer.nest_end(nest);
    }
    writer.finish();
    Ok(())
}

/// Appends an `NFQNL_MSG_VERDICT_BATCH` message: `verdict` (and `mark`) for every
/// packet of `queue` still pending with an id up to and including `id`.
pub fn put_verdict_batch(writer: &mut MessageWriter, queue: u16, id: u32, verdict: Verdict, mark: Option<u32>) {
    writer.begin_nfnetlink(nfqueue_msg_type(NFQNL_MSG_VERDICT_BATCH), NLM_F_REQUEST, 0, AF_UNSPEC, queue);
    put_verdict_header(writer, verdict, id);
    if let Some(mark) = mark {
        writer.put_be_u32(NFQA_MARK, mark);
    }
    writer.finish();
}

fn put_verdict_header(writer: &mut MessageWriter, verdict: Verdict, id: u32) {
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&verdict.to_raw().to_be_bytes());
    header[4..].copy_from_slice(&id.to_be_bytes());
    writer.put(NFQA_VERDICT_HDR, &header);
}

/// Verdicts collected to be sent together: [`crate::Queue::send_verdicts`]
/// sends them in as few `sendto` calls as the socket allows (usually one).
#[derive(Debug, Default, Clone)]
pub struct VerdictBuffer {
    writer: MessageWriter,
    count: usize,
}

impl VerdictBuffer {
    /// An empty buffer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a verdict for packet `id` of `queue`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a replacement payload larger than [`MAX_VERDICT_PAYLOAD`],
    /// or a label mask without labels; nothing is added then.
    pub fn push(&mut self, queue: u16, id: u32, verdict: Verdict, options: &VerdictOptions) -> Result<()> {
        put_verdict(&mut self.writer, queue, id, verdict, options)?;
        self.count += 1;
        Ok(())
    }

    /// Adds a VERDICT_BATCH: `verdict` for every pending packet up to `id`.
    pub fn push_batch(&mut self, queue: u16, id: u32, verdict: Verdict, mark: Option<u32>) {
        put_verdict_batch(&mut self.writer, queue, id, verdict, mark);
        self.count += 1;
    }

    /// Messages collected.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Nothing collected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The messages, back to back.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        // Every message is finished as it is pushed.
        self.writer.finished_bytes().unwrap_or_default()
    }

    /// Empties the buffer, keeping its memory.
    pub fn clear(&mut self) {
        self.writer.clear();
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_verdicts_round_trip() {
        for v in [
            Verdict::Accept,
            Verdict::Drop,
            Verdict::Repeat,
            Verdict::Stop,
            Verdict::Queue { queue: 65535, bypass: true },
            Verdict::Queue { queue: 2, bypass: false },
        ] {
            assert_eq!(Verdict::from_raw(v.to_raw()), Some(v));
        }
        assert_eq!(Verdict::Queue { queue: 2, bypass: true }.to_raw(), 0x0002_8003);
        assert_eq!(Verdict::from_raw(NF_STOLEN), None);
    }

    #[test]
    fn verdict_with_mark_payload_and_connmark_is_laid_out_as_the_kernel_expects() {
        let mut w = MessageWriter::new();
        let options = VerdictOptions {
            mark: Some(0x2a),
            payload: Some(&[0x45, 0, 0]),
            conntrack: Some(ConntrackUpdate { mark: Some(7), ..Default::default() }),
        };
        put_verdict(&mut w, 5, 0x01020304, Verdict::Accept, &options).unwrap();
        let b = w.bytes();
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[60u8, 0, 0, 0][..],       // nlmsg_len 60
            &[0x01, 0x03],              // type: subsystem 3, NFQNL_MSG_VERDICT
            &[0x01, 0x00],              // flags: NLM_F_REQUEST
            &[0, 0, 0, 0], &[0, 0, 0, 0], // seq, pid
            &[0, 0, 0, 5],              // AF_UNSPEC, v0, queue 5 (BE)
            &[12, 0, 2, 0], &[0, 0, 0, 1], &[1, 2, 3, 4], // VERDICT_HDR: NF_ACCEPT, id
            &[8, 0, 3, 0], &[0, 0, 0, 0x2a],            // MARK 42
            &[7, 0, 10, 0], &[0x45, 0, 0, 0],           // PAYLOAD (3 bytes + pad)
            &[12, 0, 11, 0x80], &[8, 0, 8, 0], &[0, 0, 0, 7], // CT nest { CTA_MARK 7 }
        ].concat();
        assert_eq!(b, &expected[..]);
    }

    #[test]
    fn oversized_payload_is_refused_before_anything_is_written() {
        let mut buffer = VerdictBuffer::new();
        let big = vec![0u8; MAX_VERDICT_PAYLOAD + 1];
        let err = buffer
            .push(0, 1, Verdict::Accept, &VerdictOptions { payload: Some(&big), ..Default::default() })
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(buffer.is_empty());
        assert!(buffer.as_bytes().is_empty());
    }

    #[test]
    fn a_label_mask_without_labels_is_refused_before_anything_is_written() {
        let mut buffer = VerdictBuffer::new();
        let conntrack = Some(ConntrackUpdate { labels_mask: Some([1; 16]), ..Default::default() });
        let err = buffer.push(0, 1, Verdict::Accept, &VerdictOptions { conntrack, ..Default::default() }).unwrap_err();
        assert_eq!(err.option(), Some("labels_mask"));
        assert!(buffer.is_empty());
    }
}
