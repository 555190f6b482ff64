//! A zero-copy view of one queued packet (`NFQNL_MSG_PACKET`).
//!
//! ```text
//! nlmsghdr (16) | nfgenmsg (4): family, version, queue (BE) | attributes ...
//! NFQA_PACKET_HDR payload (7 bytes, packed): id (BE32) | hw_protocol (BE16) | hook (u8)
//! ```
//!
//! Field offsets: [`crate::netlink::nlmsghdr`], [`crate::netlink::nfgenmsg`],
//! [`crate::netlink::nlattr`], and [`nfqnl_msg_packet_hdr`] for the packet header.
//!
//! [`PacketView::parse`] walks the attributes once, checks the size of each
//! fixed-size one and records where it starts; accessors then read the bytes
//! on demand. An attribute the kernel did not send is `None`, never zero.
//! Attributes this crate does not know are kept and listed by
//! [`PacketView::unknown_attributes`].

use crate::consts::*;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::netlink::{nfgenmsg, nlattr, nlmsghdr, read_u16_be, read_u16_ne, read_u32_be, Attribute, Attributes, MessageHeader};

/// Field offsets of `struct nfqnl_msg_packet_hdr`, the payload of `NFQA_PACKET_HDR`, from the
/// start of that payload. The struct is packed: 7 bytes.
///
/// ```text
///  0               4               6       7
/// +---------------+---------------+-------+
/// | packet_id (BE)| hw_protocol BE| hook  |
/// +---------------+---------------+-------+
/// ```
pub mod nfqnl_msg_packet_hdr {
    /// `packet_id`, big-endian u32: the id a verdict names.
    pub const PACKET_ID: usize = 0;
    /// `hw_protocol`, big-endian u16: the ethertype.
    pub const HW_PROTOCOL: usize = 4;
    /// `hook`, u8: the netfilter hook.
    pub const HOOK: usize = 6;
    /// End of the struct: its size.
    pub const END: usize = 7;
}

use nfqnl_msg_packet_hdr as packet_hdr;

const NFQ_HEADER: usize = nfgenmsg::END;
const SLOTS: usize = NFQA_MAX_KNOWN as usize + 1;

/// Packet timestamp as the kernel sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: u64,
    /// Microseconds.
    pub usec: u64,
}

/// VLAN tag of a bridged packet (`NFQA_VLAN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vlan {
    /// Tag protocol (0x8100 for 802.1Q), when sent.
    pub proto: Option<u16>,
    /// Tag control information (priority, DEI, VLAN id), when sent.
    pub tci: Option<u16>,
}

/// Connection state of the packet (`enum ip_conntrack_info`, `NFQA_CT_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConntrackInfo {
    /// Part of an established connection, original direction.
    Established,
    /// Related to an existing connection (e.g. ICMP error, FTP data).
    Related,
    /// Starts a new connection.
    New,
    /// Part of an established connection, reply direction.
    EstablishedReply,
    /// Related, reply direction.
    RelatedReply,
    /// A value this crate does not know.
    Other(u32),
}

impl ConntrackInfo {
    /// The kernel's number.
    #[must_use]
    pub fn to_raw(self) -> u32 {
        match self {
            Self::Established => 0,
            Self::Related => 1,
            Self::New => 2,
            Self::EstablishedReply => 3,
            Self::RelatedReply => 4,
            Self::Other(v) => v,
        }
    }
}

impl From<u32> for ConntrackInfo {
    fn from(v: u32) -> Self {
        match v {
            0 => Self::Established,
            1 => Self::Related,
            2 => Self::New,
            3 => Self::EstablishedReply,
            4 => Self::RelatedReply,
            other => Self::Other(other),
        }
    }
}

/// Name of hook `hook` of protocol family `family` (an NFPROTO_* value), as iptables (arptables
/// for arp) calls its chain: `hook_name(2, 3) == Some("OUTPUT")`.
#[must_use]
pub fn hook_name(family: u8, hook: u8) -> Option<&'static str> {
    crate::facts::hook_names(family).get(usize::from(hook)).copied()
}

/// A queued packet, read in place from the message bytes.
#[derive(Clone)]
pub struct PacketView<'a> {
    message: &'a [u8],
    family: u8,
    queue: u16,
    id: u32,
    hw_protocol: u16,
    hook: u8,
    /// Offset of each known attribute's header in `message`; 0 = absent.
    at: [u32; SLOTS],
    unknown: u16,
}

impl<'a> PacketView<'a> {
    /// Checks `message` (one whole netlink message) and indexes its attributes.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] (with the offset) for a truncated message, a malformed attribute or a
    /// missing packet header.
    pub fn parse(message: &'a [u8]) -> Result<Self, DecodeError> {
        let header = MessageHeader::parse(message)?;
        let len = header.len as usize;
        if len < NLMSG_HDRLEN {
            return Err(DecodeError::new(DecodeErrorKind::BadMessageLength(header.len), 0));
        }
        if len > message.len() {
            return Err(DecodeError::new(DecodeErrorKind::MessageOverrun(header.len), 0));
        }
        if header.kind != nfqueue_msg_type(NFQNL_MSG_PACKET) {
            return Err(DecodeError::new(DecodeErrorKind::UnexpectedMessageType(header.kind), nlmsghdr::TYPE));
        }
        if len < NFQ_HEADER {
            return Err(DecodeError::new(DecodeErrorKind::TruncatedNfgenmsg, nlmsghdr::END));
        }
        let message = &message[..len];
        let mut view = Self {
            message,
            family: message[nfgenmsg::FAMILY],
            queue: read_u16_be(message, nfgenmsg::RES_ID),
            id: 0,
            hw_protocol: 0,
            hook: 0,
            at: [0; SLOTS],
            unknown: 0,
        };
        for attr in Attributes::new(&message[NFQ_HEADER..], NFQ_HEADER) {
            let attr = attr?;
            match attr.kind {
                NFQA_PACKET_HDR => {
                    attr.expect_min_len(packet_hdr::END)?;
                    view.id = read_u32_be(attr.payload, packet_hdr::PACKET_ID);
                    view.hw_protocol = read_u16_be(attr.payload, packet_hdr::HW_PROTOCOL);
                    view.hook = attr.payload[packet_hdr::HOOK];
                }
                NFQA_MARK | NFQA_IFINDEX_INDEV | NFQA_IFINDEX_OUTDEV | NFQA_IFINDEX_PHYSINDEV
                | NFQA_IFINDEX_PHYSOUTDEV | NFQA_CT_INFO | NFQA_CAP_LEN | NFQA_SKB_INFO | NFQA_UID | NFQA_GID
                | NFQA_PRIORITY => {
                    attr.be_u32()?;
                }
                NFQA_TIMESTAMP => attr.expect_len(16)?,
                NFQA_HWADDR => attr.expect_len(12)?,
                NFQA_VLAN => {
                    for inner in Attributes::new(attr.payload, attr.offset + nlattr::PAYLOAD) {
                        let inner = inner?;
                        if matches!(inner.kind, NFQA_VLAN_PROTO | NFQA_VLAN_TCI) {
                            inner.be_u16()?;
                        }
                    }
                }
                NFQA_PAYLOAD | NFQA_CT | NFQA_EXP | NFQA_SECCTX | NFQA_L2HDR => {}
                _ => {
                    view.unknown += 1;
                    continue;
                }
            }
            view.at[attr.kind as usize] = attr.offset as u32;
        }
        if view.at[NFQA_PACKET_HDR as usize] == 0 {
            return Err(DecodeError::new(DecodeErrorKind::MissingAttribute(NFQA_PACKET_HDR), NFQ_HEADER));
        }
        Ok(view)
    }

    fn attr(&self, kind: u16) -> Option<&'a [u8]> {
        let at = self.at[kind as usize] as usize;
        if at == 0 {
            return None;
        }
        // Checked in `parse`: the header and payload lie inside the message.
        let len = read_u16_ne(self.message, at + nlattr::LEN) as usize;
        Some(&self.message[at + nlattr::PAYLOAD..at + len])
    }

    fn be_u32(&self, kind: u16) -> Option<u32> {
        self.attr(kind).map(|p| read_u32_be(p, 0))
    }

    /// The whole message the view reads.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.message
    }

    /// Packet id: the number a verdict names.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Queue number (`nfgenmsg.res_id`).
    #[must_use]
    pub fn queue(&self) -> u16 {
        self.queue
    }
    /// Protocol family (`AF_INET`, `AF_INET6`, `AF_BRIDGE`...).
    #[must_use]
    pub fn family(&self) -> u8 {
        self.family
    }
    /// Link-layer protocol (ethertype: 0x0800 IPv4, 0x86dd IPv6).
    #[must_use]
    pub fn hw_protocol(&self) -> u16 {
        self.hw_protocol
    }
    /// Netfilter hook number (3 = OUTPUT for inet).
    #[must_use]
    pub fn hook(&self) -> u8 {
        self.hook
    }
    /// The hook's chain name (`"OUTPUT"`).
    #[must_use]
    pub fn hook_name(&self) -> Option<&'static str> {
        hook_name(self.family, self.hook)
    }
    /// Packet mark.
    #[must_use]
    pub fn mark(&self) -> Option<u32> {
        self.be_u32(NFQA_MARK)
    }
    /// Time the packet was received, when the kernel stamped it.
    #[must_use]
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.attr(NFQA_TIMESTAMP).map(|p| Timestamp {
            sec: u64::from_be_bytes(p[0..8].try_into().expect("checked in parse")),
            usec: u64::from_be_bytes(p[8..16].try_into().expect("checked in parse")),
        })
    }
    /// Input interface index.
    #[must_use]
    pub fn indev(&self) -> Option<u32> {
        self.be_u32(NFQA_IFINDEX_INDEV)
    }
    /// Output interface index.
    #[must_use]
    pub fn outdev(&self) -> Option<u32> {
        self.be_u32(NFQA_IFINDEX_OUTDEV)
    }
    /// Physical input interface index (bridge port).
    #[must_use]
    pub fn physindev(&self) -> Option<u32> {
        self.be_u32(NFQA_IFINDEX_PHYSINDEV)
    }
    /// Physical output interface index (bridge port).
    #[must_use]
    pub fn physoutdev(&self) -> Option<u32> {
        self.be_u32(NFQA_IFINDEX_PHYSOUTDEV)
    }
    /// Source hardware address, `hw_addrlen` bytes (at most 8).
    #[must_use]
    pub fn hw_addr(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_HWADDR).map(|p| {
            let len = (read_u16_be(p, 0) as usize).min(8);
            &p[4..4 + len]
        })
    }
    /// The packet from its network header, up to the copy range.
    #[must_use]
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_PAYLOAD)
    }
    /// Original packet length, sent when the payload was cut to the copy range.
    #[must_use]
    pub fn cap_len(&self) -> Option<u32> {
        self.be_u32(NFQA_CAP_LEN)
    }
    /// The payload is only the first part of the packet: the kernel cut it to the queue's copy
    /// range and sent the whole length in `NFQA_CAP_LEN` ([`PacketView::cap_len`]). The message
    /// itself is whole; a message cut by the receiver is [`crate::Message::PacketCutByReceiver`].
    #[must_use]
    pub fn is_cut_by_copy_range(&self) -> bool {
        match (self.cap_len(), self.payload()) {
            (Some(cap), Some(payload)) => cap as usize != payload.len(),
            (Some(_), None) => true,
            _ => false,
        }
    }
    /// Former name of [`PacketView::is_cut_by_copy_range`].
    #[deprecated(note = "renamed is_cut_by_copy_range")]
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.is_cut_by_copy_range()
    }
    /// `NFQA_SKB_*` bits.
    #[must_use]
    pub fn skb_info(&self) -> Option<u32> {
        self.be_u32(NFQA_SKB_INFO)
    }
    /// A GSO packet, larger than the MTU, queued whole (with [`crate::ConfigFlags::GSO`];
    /// without it the kernel segments GSO packets and queues each segment). Like any packet it
    /// may be cut by the copy range ([`PacketView::is_cut_by_copy_range`]).
    #[must_use]
    pub fn is_gso(&self) -> bool {
        self.skb_info().is_some_and(|b| b & NFQA_SKB_GSO != 0)
    }
    /// Checksums not computed yet; treat them as correct.
    #[must_use]
    pub fn checksum_not_ready(&self) -> bool {
        self.skb_info().is_some_and(|b| b & NFQA_SKB_CSUMNOTREADY != 0)
    }
    /// Conntrack entry: raw nested ctnetlink attributes.
    #[must_use]
    pub fn conntrack(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_CT)
    }
    /// Conntrack state.
    pub fn conntrack_info(&self) -> Option<ConntrackInfo> {
        self.be_u32(NFQA_CT_INFO).map(ConntrackInfo::from)
    }
    /// Conntrack expectation: raw nested attributes.
    #[must_use]
    pub fn expectation(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_EXP)
    }
    /// Owner uid of the local socket (with the UID_GID flag).
    #[must_use]
    pub fn uid(&self) -> Option<u32> {
        self.be_u32(NFQA_UID)
    }
    /// Owner gid of the local socket (with the UID_GID flag).
    #[must_use]
    pub fn gid(&self) -> Option<u32> {
        self.be_u32(NFQA_GID)
    }
    /// Security context, without its trailing NUL (with the SECCTX flag).
    #[must_use]
    pub fn secctx(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_SECCTX).map(|p| p.strip_suffix(&[0]).unwrap_or(p))
    }
    /// VLAN tag.
    #[must_use]
    pub fn vlan(&self) -> Option<Vlan> {
        let nest = self.attr(NFQA_VLAN)?;
        let mut vlan = Vlan { proto: None, tci: None };
        for attr in Attributes::new(nest, 0).flatten() {
            match attr.kind {
                NFQA_VLAN_PROTO => vlan.proto = attr.be_u16().ok(),
                NFQA_VLAN_TCI => vlan.tci = attr.be_u16().ok(),
                _ => {}
            }
        }
        Some(vlan)
    }
    /// Link-layer header (bridge family).
    #[must_use]
    pub fn l2_header(&self) -> Option<&'a [u8]> {
        self.attr(NFQA_L2HDR)
    }
    /// Packet priority.
    #[must_use]
    pub fn priority(&self) -> Option<u32> {
        self.be_u32(NFQA_PRIORITY)
    }
    /// Attributes this crate does not know, passed through untouched.
    pub fn unknown_attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        let skip = self.unknown == 0;
        Attributes::new(&self.message[NFQ_HEADER..], NFQ_HEADER)
            .take_while(move |_| !skip)
            .flatten()
            .filter(|a| a.kind > NFQA_MAX_KNOWN || a.kind == NFQA_VERDICT_HDR || a.kind == 0)
    }
}

/// The line libnetfilter_queue's `examples/nf-queue.c` prints for a packet:
/// `packet received (id=1 hw=0x0800 hook=3, payload len 84)`, with its `truncated ` (cut by the
/// copy range) and `GSO ` prefixes and its `, hwaddr ...` and `, checksum not ready` parts when
/// they apply. `Packet.toString()` of `@nfq/nfqueue` gives the same line.
impl std::fmt::Display for PacketView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_cut_by_copy_range() {
            f.write_str("truncated ")?;
        }
        if self.is_gso() {
            f.write_str("GSO ")?;
        }
        let payload_len = self.payload().map_or(0, <[u8]>::len);
        write!(f, "packet received (id={} hw={:#06x} hook={}, payload len {payload_len}", self.id, self.hw_protocol, self.hook)?;
        if let Some(addr) = self.hw_addr() {
            f.write_str(", hwaddr ")?;
            for (i, byte) in addr.iter().enumerate() {
                write!(f, "{}{byte:02x}", if i == 0 { "" } else { ":" })?;
            }
            write!(f, " len {}", addr.len())?;
        }
        if self.checksum_not_ready() {
            f.write_str(", checksum not ready")?;
        }
        f.write_str(")")
    }
}

impl std::fmt::Debug for PacketView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketView")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .field("family", &self.family)
            .field("hw_protocol", &format_args!("{:#06x}", self.hw_protocol))
            .field("hook", &self.hook)
            .field("mark", &self.mark())
            .field("payload_len", &self.payload().map(<[u8]>::len))
            .finish_non_exhaustive()
    }
}

/// Reads the queue and packet id of a packet message cut by the receiver (`MSG_TRUNC`: it did not
/// fit its receive slot), so that the packet can still get a verdict.
///
/// The kernel puts `NFQA_PACKET_HDR` first, so the id survives almost any cut.
pub fn packet_id_of_cut_message(message: &[u8]) -> Option<(u16, u32)> {
    let header = MessageHeader::parse(message).ok()?;
    if header.kind != nfqueue_msg_type(NFQNL_MSG_PACKET) || message.len() < NFQ_HEADER {
        return None;
    }
    let queue = read_u16_be(message, nfgenmsg::RES_ID);
    Attributes::new(&message[NFQ_HEADER..], NFQ_HEADER)
        .map_while(Result::ok)
        .find(|a| a.kind == NFQA_PACKET_HDR && a.payload.len() >= packet_hdr::PACKET_ID + 4)
        .map(|a| (queue, read_u32_be(a.payload, packet_hdr::PACKET_ID)))
}

