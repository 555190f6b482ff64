//! What one `recvmmsg` brought: datagrams, and the messages inside them.

use crate::consts::*;
use crate::error::DecodeError;
use crate::netlink::{align, nfgenmsg, nlmsghdr, read_u16_ne, write_u16_ne, write_u32_ne, Attributes, ErrorMessage, MessageHeader, Messages};
use crate::packet::{packet_id_of_cut_message, PacketView};
pub use crate::sys::RecvBuffers;

/// Set by [`RecvBuffers::copy_messages_into`] in the flags of a packet message it
/// had to cut because the datagram did not fit its receive slot (`MSG_TRUNC`): the message
/// was cut by the receiver. Only whole attributes are kept; the packet still needs its verdict.
/// Not a kernel flag: nfq-core's own, in a bit the kernel never sets on a packet message.
pub const NLM_F_NFQ_CUT_BY_RECEIVER: u16 = 0x8000;

/// Memory that [`RecvBuffers`] receive into: their own `Vec` by default
/// ([`RecvBuffers::new`]), or memory a binding shares with another language, which then reads
/// the datagrams where the kernel wrote them ([`RecvBuffers::with_memory`]).
pub trait RecvMemory: Send {
    /// The whole memory.
    fn bytes(&self) -> &[u8];
    /// The whole memory, to receive into.
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl RecvMemory for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// One received datagram.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The bytes received (cut to the slot size when `cut_by_receiver`).
    pub bytes: &'a [u8],
    /// The datagram was larger than its receive slot (`MSG_TRUNC`): its end is lost.
    pub cut_by_receiver: bool,
    /// Sender's port id: 0 for the kernel.
    pub sender_port: u32,
}

/// One message of a received batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Message<'a> {
    /// A queued packet.
    Packet(PacketView<'a>),
    /// A packet whose message did not fit its receive slot (cut by the receiver, `MSG_TRUNC`):
    /// only its id is known. Give it a verdict.
    PacketCutByReceiver {
        /// Queue number.
        queue: u16,
        /// Packet id.
        id: u32,
    },
    /// An `NLMSG_ERROR`: an acknowledgement (errno 0) or a refused request,
    /// for example a verdict for an unknown packet id (ENOENT).
    Error(ErrorMessage<'a>),
    /// `NLMSG_DONE`: the end of a multipart answer.
    Done,
    /// Any other message, passed through.
    Other {
        /// Message type.
        kind: u16,
        /// Whole message.
        bytes: &'a [u8],
    },
}

impl<'a> Message<'a> {
    /// Decodes one whole message.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] (with the offset) for a truncated or malformed message.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let header = MessageHeader::parse(bytes)?;
        if header.kind == nfqueue_msg_type(NFQNL_MSG_PACKET) {
            if header.flags & NLM_F_NFQ_CUT_BY_RECEIVER != 0 {
                if let Some((queue, id)) = packet_id_of_cut_message(bytes) {
                    return Ok(Message::PacketCutByReceiver { queue, id });
                }
            }
            return PacketView::parse(bytes).map(Message::Packet);
        }
        match header.kind {
            NLMSG_ERROR => return ErrorMessage::parse(bytes).map(Message::Error),
            NLMSG_DONE => return Ok(Message::Done),
            _ => {}
        }
        Ok(Message::Other { kind: header.kind, bytes })
    }
}

impl RecvBuffers {
    /// Datagrams per `recvmmsg`.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Datagrams held since the last receive.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Nothing held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The datagram in slot `i`.
    #[must_use]
    pub fn datagram(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.count {
            return None;
        }
        let start = i * self.slot_size;
        let len = (self.lens[i] as usize).min(self.slot_size);
        Some(Datagram {
            bytes: &self.memory.bytes()[start..start + len],
            cut_by_receiver: self.flags[i] & libc::MSG_TRUNC as u32 != 0,
            sender_port: self.sender_ports[i],
        })
    }

    /// Every datagram held.
    pub fn datagrams(&self) -> impl Iterator<Item = Datagram<'_>> {
        (0..self.count).filter_map(|i| self.datagram(i))
    }

    /// Every message of every datagram, decoded. A cut datagram yields
    /// [`Message::PacketCutByReceiver`] when its packet id can be read.
    pub fn messages(&self) -> impl Iterator<Item = Result<Message<'_>, DecodeError>> {
        self.datagrams().flat_map(|d| {
            let cut = d.cut_by_receiver.then(|| packet_id_of_cut_message(d.bytes)).flatten();
            let whole = if cut.is_some() { &d.bytes[..0] } else { d.bytes };
            cut.map(|(queue, id)| Ok(Message::PacketCutByReceiver { queue, id }))
                .into_iter()
                .chain(Messages::new(whole).map(|m| m.and_then(Message::parse)))
        })
    }

    /// Puts a datagram into the next free slot, as if received; false when full.
    /// For fakes and for messages read while waiting for an acknowledgement.
    pub fn push_datagram(&mut self, bytes: &[u8], sender_port: u32) -> bool {
        let i = self.count;
        if i >= self.capacity() {
            return false;
        }
        let len = bytes.len().min(self.slot_size);
        let start = i * self.slot_size;
        self.memory.bytes_mut()[start..start + len].copy_from_slice(&bytes[..len]);
        self.lens[i] = len as u32;
        self.flags[i] = if len < bytes.len() { libc::MSG_TRUNC as u32 } else { 0 };
        self.sender_ports[i] = sender_port;
        self.count += 1;
        true
    }

    /// Forgets what is held.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Total bytes of the datagrams held.
    #[must_use]
    pub fn total_bytes(&self) -> usize {
        self.datagrams().map(|d| align(d.bytes.len())).sum()
    }

    /// Appends every message held to `out`, back to back, as one contiguous batch
    /// (what a binding hands to another language in one piece). Datagrams not from
    /// the kernel are skipped; a cut packet message keeps its whole attributes
    /// and is flagged [`NLM_F_NFQ_CUT_BY_RECEIVER`]. Returns the number of datagrams skipped.
    pub fn copy_messages_into(&self, out: &mut Vec<u8>) -> usize {
        let mut skipped = 0;
        out.reserve(self.total_bytes());
        for d in self.datagrams() {
            let Some(kept) = kept_length(&d) else {
                skipped += 1;
                continue;
            };
            let start = out.len();
            out.extend_from_slice(&d.bytes[..kept]);
            if d.cut_by_receiver {
                mark_cut(&mut out[start..]);
            }
            out.resize(align(out.len()), 0);
        }
        skipped
    }

    /// The size of each slot, in bytes: the longest datagram a slot holds whole.
    #[must_use]
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Makes datagram `i` readable where it lies (slot `i`, from byte `i * slot_size` of the
    /// memory) as [`copy_messages_into`](Self::copy_messages_into) makes it in its copy, and
    /// returns how many of its bytes hold whole kernel messages: 0 when it is to be skipped (not
    /// from the kernel, or cut before its packet id). A cut packet message is shortened in place
    /// to its whole attributes and flagged [`NLM_F_NFQ_CUT_BY_RECEIVER`].
    pub fn prepare_in_place(&mut self, i: usize) -> usize {
        let Some(d) = self.datagram(i) else { return 0 };
        let (cut, kept) = (d.cut_by_receiver, kept_length(&d));
        let Some(kept) = kept else { return 0 };
        if cut {
            let start = i * self.slot_size;
            mark_cut(&mut self.memory.bytes_mut()[start..start + kept]);
        }
        kept
    }
}

/// How many bytes of `d` to pass on: all of them, the header and whole attributes of a cut
/// packet message, or `None` to skip it (not from the kernel, or cut before its packet id).
fn kept_length(d: &Datagram<'_>) -> Option<usize> {
    if d.sender_port != 0 {
        return None;
    }
    if !d.cut_by_receiver {
        return Some(d.bytes.len());
    }
    let header_len = nfgenmsg::END;
    if d.bytes.len() < header_len || packet_id_of_cut_message(d.bytes).is_none() {
        return None;
    }
    let attributes: usize = Attributes::new(&d.bytes[header_len..], header_len)
        .map_while(Result::ok)
        .map(|a| align(NLA_HDRLEN + a.payload.len()))
        .sum();
    Some(header_len + attributes.min(d.bytes.len() - header_len))
}

/// Sets the length of the cut packet message at the start of `message` to `message.len()` and
/// flags it [`NLM_F_NFQ_CUT_BY_RECEIVER`].
fn mark_cut(message: &mut [u8]) {
    let len = message.len() as u32;
    write_u32_ne(message, nlmsghdr::LEN, len);
    let flags = read_u16_ne(message, nlmsghdr::FLAGS) | NLM_F_NFQ_CUT_BY_RECEIVER;
    write_u16_ne(message, nlmsghdr::FLAGS, flags);
}
