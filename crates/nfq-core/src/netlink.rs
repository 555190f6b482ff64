//! Netlink framing: message headers, attributes, errors, and a writer.
//!
//! ```text
//!  0               4       6       8              12             16
//! +---------------+-------+-------+---------------+---------------+
//! | nlmsg_len     | type  | flags | seq           | pid           |  struct nlmsghdr (host order)
//! +---------------+-------+-------+---------------+---------------+
//! | family| ver   | res_id (BE)   |  struct nfgenmsg: res_id is the queue number
//! +-------+-------+---------------+-------------------------------+
//! | nla_len | nla_type | payload ... padded to 4 | next attribute ...
//! ```
//!
//! The offset of each field is a constant, in a module named after its struct: [`nlmsghdr`],
//! [`nfgenmsg`], [`nlattr`], [`nlmsgerr`] (and `packet::nfqnl_msg_packet_hdr`).
//!
//! Every read is bounds-checked: malformed input gives a [`DecodeError`] with the
//! offset of the fault, never a panic.

use crate::consts::*;
use crate::error::{DecodeError, DecodeErrorKind};

/// Field offsets of `struct nlmsghdr`, from the start of the message; host byte order.
///
/// ```text
///  0               4       6       8              12             16
/// +---------------+-------+-------+---------------+---------------+
/// | nlmsg_len     | type  | flags | seq           | pid           |
/// +---------------+-------+-------+---------------+---------------+
/// ```
pub mod nlmsghdr {
    /// `nlmsg_len`, u32: length of the whole message, this header included.
    pub const LEN: usize = 0;
    /// `nlmsg_type`, u16.
    pub const TYPE: usize = 4;
    /// `nlmsg_flags`, u16: `NLM_F_*`.
    pub const FLAGS: usize = 6;
    /// `nlmsg_seq`, u32.
    pub const SEQ: usize = 8;
    /// `nlmsg_pid`, u32: the sender's port id.
    pub const PID: usize = 12;
    /// End of the header: `NLMSG_HDRLEN`.
    pub const END: usize = crate::consts::NLMSG_HDRLEN;
}

/// Field offsets of `struct nfgenmsg`, which follows the `nlmsghdr` of every nfnetlink
/// message, from the start of the message.
///
/// ```text
///  16      17      18             20
/// +-------+-------+---------------+---------------
/// | family| ver   | res_id (BE)   | attributes ...
/// +-------+-------+---------------+---------------
/// ```
pub mod nfgenmsg {
    use crate::consts::{NFGENMSG_LEN, NLMSG_HDRLEN};

    /// `nfgen_family`, u8: the protocol family.
    pub const FAMILY: usize = NLMSG_HDRLEN;
    /// `version`, u8: `NFNETLINK_V0`.
    pub const VERSION: usize = NLMSG_HDRLEN + 1;
    /// `res_id`, big-endian u16: the queue number.
    pub const RES_ID: usize = NLMSG_HDRLEN + 2;
    /// End of the header, where the attributes start.
    pub const END: usize = NLMSG_HDRLEN + NFGENMSG_LEN;
}

/// Field offsets of `struct nlattr`, from the start of the attribute; host byte order.
///
/// ```text
///  0       2       4
/// +-------+-------+------------------------------+
/// |nla_len|nla_type| payload ... padded to 4     |
/// +-------+-------+------------------------------+
/// ```
pub mod nlattr {
    /// `nla_len`, u16: length of the attribute, this header included, padding excluded.
    pub const LEN: usize = 0;
    /// `nla_type`, u16: the type and the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` flags.
    pub const TYPE: usize = 2;
    /// Start of the payload: `NLA_HDRLEN`.
    pub const PAYLOAD: usize = crate::consts::NLA_HDRLEN;
}

/// Field offsets of an `NLMSG_ERROR` message (`struct nlmsgerr` after the `nlmsghdr`), from the
/// start of the message; host byte order.
///
/// ```text
///  0              16      20                 36
/// +---------------+-------+------------------+--------------------------+--------------+
/// | nlmsghdr      | error | request nlmsghdr | rest of the request      | TLVs         |
/// |               | (i32) | (echoed)         | (unless capped, or ACK)  | (ACK_TLVS)   |
/// +---------------+-------+------------------+--------------------------+--------------+
/// ```
pub mod nlmsgerr {
    use crate::consts::NLMSG_HDRLEN;

    /// `error`, i32: 0 for an acknowledgement, else a negative errno.
    pub const ERROR: usize = NLMSG_HDRLEN;
    /// `msg`: the header of the request this answers, echoed.
    pub const REQUEST: usize = NLMSG_HDRLEN + 4;
    /// End of the echoed request header: the shortest error message.
    pub const END: usize = REQUEST + NLMSG_HDRLEN;
}

/// Rounds `len` up to the netlink alignment (4).
#[must_use]
pub const fn align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

#[inline]
pub(crate) fn write_u16_ne(b: &mut [u8], at: usize, value: u16) {
    b[at..at + 2].copy_from_slice(&value.to_ne_bytes());
}
#[inline]
pub(crate) fn write_u32_ne(b: &mut [u8], at: usize, value: u32) {
    b[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}
#[inline]
pub(crate) fn read_u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}
#[inline]
pub(crate) fn read_u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
#[inline]
pub(crate) fn read_u16_be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline]
pub(crate) fn read_u32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The fixed header of one netlink message (`struct nlmsghdr`), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Length of the whole message, header included.
    pub len: u32,
    /// Message type: a control type (`NLMSG_*`) or `(subsystem << 8) | msg`.
    pub kind: u16,
    /// `NLM_F_*` flags.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Sender port id (0 for the kernel).
    pub port_id: u32,
}

impl MessageHeader {
    /// Reads the header at the start of `bytes`.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when `bytes` is shorter than a header or its length field is out of
    /// bounds.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < NLMSG_HDRLEN {
            return Err(DecodeError::new(DecodeErrorKind::TruncatedHeader, 0));
        }
        Ok(Self {
            len: read_u32_ne(bytes, nlmsghdr::LEN),
            kind: read_u16_ne(bytes, nlmsghdr::TYPE),
            flags: read_u16_ne(bytes, nlmsghdr::FLAGS),
            seq: read_u32_ne(bytes, nlmsghdr::SEQ),
            port_id: read_u32_ne(bytes, nlmsghdr::PID),
        })
    }
}

/// Iterates over the netlink messages in a datagram or a received batch.
///
/// Yields each message's bytes (header included, padding excluded). After the
/// first error it yields nothing more: the framing cannot be trusted past it.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Messages<'a> {
    /// Starts at the beginning of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, at: 0, failed: false }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<&'a [u8], DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.at..];
        let fail = |kind| DecodeError::new(kind, self.at);
        let result = match MessageHeader::parse(rest) {
            Err(_) => Err(fail(DecodeErrorKind::TruncatedHeader)),
            Ok(h) if (h.len as usize) < NLMSG_HDRLEN => Err(fail(DecodeErrorKind::BadMessageLength(h.len))),
            Ok(h) if h.len as usize > rest.len() => Err(fail(DecodeErrorKind::MessageOverrun(h.len))),
            Ok(h) => Ok(&rest[..h.len as usize]),
        };
        match result {
            Ok(msg) => {
                self.at += align(msg.len()).min(rest.len());
                Some(Ok(msg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// One attribute: its type (flags removed), whether it is nested, and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub kind: u16,
    /// `NLA_F_NESTED` was set.
    pub nested: bool,
    /// Payload, padding excluded.
    pub payload: &'a [u8],
    /// Offset of the attribute header from the start of the message it came from.
    pub offset: usize,
}

impl<'a> Attribute<'a> {
    /// The payload as a big-endian u32, if it is exactly 4 bytes.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the payload is not 4 bytes.
    pub fn be_u32(&self) -> Result<u32, DecodeError> {
        self.expect_len(4)?;
        Ok(read_u32_be(self.payload, 0))
    }

    /// The payload as a big-endian u16, if it is exactly 2 bytes.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the payload is not 2 bytes.
    pub fn be_u16(&self) -> Result<u16, DecodeError> {
        self.expect_len(2)?;
        Ok(read_u16_be(self.payload, 0))
    }

    /// Fails unless the payload is at least `min` bytes long.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the payload is shorter than `min`.
    pub fn expect_min_len(&self, min: usize) -> Result<(), DecodeError> {
        if self.payload.len() < min {
            return Err(self.bad_len(min));
        }
        Ok(())
    }

    /// Fails unless the payload is exactly `len` bytes long.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the payload is not `len` bytes.
    pub fn expect_len(&self, len: usize) -> Result<(), DecodeError> {
        if self.payload.len() != len {
            return Err(self.bad_len(len));
        }
        Ok(())
    }

    fn bad_len(&self, expected: usize) -> DecodeError {
        DecodeError::new(
            DecodeErrorKind::BadAttributeLength { attribute: self.kind, expected, actual: self.payload.len() },
            self.offset,
        )
    }
}

/// Iterates over the attributes in `buf`, which starts `base` bytes into its message.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    buf: &'a [u8],
    at: usize,
    base: usize,
    failed: bool,
}

impl<'a> Attributes<'a> {
    /// Attributes packed in `buf`; offsets in errors are reported as `base + offset`.
    #[must_use]
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, at: 0, base, failed: false }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.at..];
        let offset = self.base + self.at;
        let fail = |kind| Some(Err(DecodeError::new(kind, offset)));
        if rest.len() < NLA_HDRLEN {
            self.failed = true;
            return fail(DecodeErrorKind::TruncatedAttribute);
        }
        let len = read_u16_ne(rest, nlattr::LEN) as usize;
        let raw_kind = read_u16_ne(rest, nlattr::TYPE);
        if len < NLA_HDRLEN {
            self.failed = true;
            return fail(DecodeErrorKind::BadAttributeHeader(len as u16));
        }
        if len > rest.len() {
            self.failed = true;
            return fail(DecodeErrorKind::AttributeOverrun { attribute: raw_kind & NLA_TYPE_MASK, len: len as u16 });
        }
        self.at += align(len).min(rest.len());
        Some(Ok(Attribute {
            kind: raw_kind & NLA_TYPE_MASK,
            nested: raw_kind & NLA_F_NESTED != 0,
            payload: &rest[nlattr::PAYLOAD..len],
            offset,
        }))
    }
}

/// A decoded `NLMSG_ERROR`: an acknowledgement (errno 0) or the kernel's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage<'a> {
    /// 0 for an acknowledgement, else a positive errno: the negated error field (the one value
    /// that cannot be negated, INT32_MIN, reads as `i32::MAX`), as [`crate::Error::errno`].
    pub errno: i32,
    /// Header of the request this answers.
    pub request: MessageHeader,
    /// The kernel's explanation (extended ACK), when it gave one.
    pub ext_ack_message: Option<&'a str>,
    /// Offset of the offending attribute in the request (extended ACK).
    pub ext_ack_offset: Option<u32>,
}

impl<'a> ErrorMessage<'a> {
    /// Decodes an `NLMSG_ERROR` message (header included).
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when `msg` is not a whole `NLMSG_ERROR` message.
    pub fn parse(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let header = MessageHeader::parse(msg)?;
        if header.kind != NLMSG_ERROR {
            return Err(DecodeError::new(DecodeErrorKind::UnexpectedMessageType(header.kind), nlmsghdr::TYPE));
        }
        if msg.len() < nlmsgerr::END {
            return Err(DecodeError::new(DecodeErrorKind::TruncatedError, nlmsgerr::ERROR));
        }
        let errno = (read_u32_ne(msg, nlmsgerr::ERROR) as i32).saturating_neg();
        let request = MessageHeader::parse(&msg[nlmsgerr::REQUEST..])?;
        let mut this = Self { errno, request, ext_ack_message: None, ext_ack_offset: None };
        if header.flags & NLM_F_ACK_TLVS == 0 {
            return Ok(this);
        }
        // The request is echoed whole unless capped (NETLINK_CAP_ACK) or an ACK (errno 0).
        let echoed = if header.flags & NLM_F_CAPPED != 0 || errno == 0 {
            NLMSG_HDRLEN
        } else {
            align(request.len as usize)
        };
        let tlv_start = nlmsgerr::REQUEST + echoed;
        if tlv_start > msg.len() {
            return Err(DecodeError::new(DecodeErrorKind::TruncatedError, nlmsgerr::ERROR));
        }
        for attr in Attributes::new(&msg[tlv_start..], tlv_start) {
            let attr = attr?;
            match attr.kind {
                NLMSGERR_ATTR_MSG => {
                    let text = attr.payload.split(|&b| b == 0).next().unwrap_or_default();
                    this.ext_ack_message = std::str::from_utf8(text).ok();
                }
                NLMSGERR_ATTR_OFFS if attr.payload.len() == 4 => {
                    this.ext_ack_offset = Some(read_u32_ne(attr.payload, 0));
                }
                _ => {}
            }
        }
        Ok(this)
    }
}

/// Builds netlink messages into a growable buffer, several back to back.
///
/// The counterpart of libmnl's `mnl_nlmsg_put_header` / `mnl_attr_put*` /
/// `mnl_attr_nest_start`: start a message, put attributes, finish it.
#[derive(Debug, Default, Clone)]
pub struct MessageWriter {
    buf: Vec<u8>,
    current: Option<usize>,
}

impl MessageWriter {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `capacity` bytes.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(capacity), current: None }
    }

    /// Starts an nfnetlink message: `nlmsghdr` then `nfgenmsg`.
    pub fn begin_nfnetlink(&mut self, kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) {
        self.finish();
        let start = self.buf.len();
        self.current = Some(start);
        // nlmsghdr: LEN (written by `finish`), TYPE, FLAGS, SEQ, PID (0: the kernel assigns it)
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: FAMILY, VERSION, RES_ID
        self.buf.extend_from_slice(&[family, NFNETLINK_V0]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        debug_assert_eq!(self.buf.len() - start, nfgenmsg::END);
    }

    /// Appends an attribute with `payload`, padded to 4 bytes.
    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = NLA_HDRLEN + payload.len();
        debug_assert!(len <= u16::MAX as usize, "attribute payload too large");
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    /// Appends a big-endian u32 attribute.
    pub fn put_be_u32(&mut self, kind: u16, value: u32) {
        self.put(kind, &value.to_be_bytes());
    }

    /// Opens a nested attribute; close it with [`MessageWriter::nest_end`].
    pub fn nest_start(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    /// Closes the nested attribute opened at `at`.
    pub fn nest_end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        write_u16_ne(&mut self.buf, at + nlattr::LEN, len);
    }

    /// Writes the length of the message being built. Called by the next `begin_*` and by `bytes`.
    pub fn finish(&mut self) {
        if let Some(start) = self.current.take() {
            let len = (self.buf.len() - start) as u32;
            write_u32_ne(&mut self.buf, start + nlmsghdr::LEN, len);
        }
    }

    /// All finished messages, back to back.
    pub fn bytes(&mut self) -> &[u8] {
        self.finish();
        &self.buf
    }

    /// The messages written, when the last one is finished (`None` while one is being built).
    #[must_use]
    pub fn finished_bytes(&self) -> Option<&[u8]> {
        self.current.is_none().then_some(&self.buf[..])
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Nothing written yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets every message, keeping the allocation.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.current = None;
    }

    fn pad(&mut self) {
        let padded = align(self.buf.len());
        self.buf.resize(padded, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_builds_a_message_the_iterators_read_back() {
        let mut w = MessageWriter::new();
        w.begin_nfnetlink(nfqueue_msg_type(NFQNL_MSG_CONFIG), NLM_F_REQUEST | NLM_F_ACK, 7, AF_UNSPEC, 300);
        w.put_be_u32(NFQA_CFG_QUEUE_MAXLEN, 1024);
        w.put(NFQA_CFG_PARAMS, &[0, 0, 0xff, 0xff, 2]); // 5 bytes: padded to 8
        let nest = w.nest_start(NFQA_CT);
        w.put_be_u32(CTA_MARK, 9);
        w.nest_end(nest);
        let bytes = w.bytes().to_vec();
        assert_eq!(bytes.len(), 16 + 4 + 8 + 12 + 12);
        let msgs: Vec<_> = Messages::new(&bytes).collect();
        assert_eq!(msgs.len(), 1);
        let msg = msgs[0].unwrap();
        let header = MessageHeader::parse(msg).unwrap();
        assert_eq!(header.kind, 0x0302);
        assert_eq!(header.seq, 7);
        assert_eq!(read_u16_be(msg, nfgenmsg::RES_ID), 300, "res_id is big-endian");
        let attrs: Vec<_> = Attributes::new(&msg[nfgenmsg::END..], nfgenmsg::END).map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs[0].be_u32().unwrap(), 1024);
        assert_eq!(attrs[1].payload, &[0, 0, 0xff, 0xff, 2]);
        assert!(attrs[2].nested);
        assert_eq!(attrs[2].kind, NFQA_CT);
        let inner: Vec<_> = Attributes::new(attrs[2].payload, 0).map(Result::unwrap).collect();
        assert_eq!(inner[0].be_u32().unwrap(), 9);
    }

    #[test]
    fn message_iterator_stops_at_a_length_past_the_end() {
        let mut bytes = vec![0u8; 20];
        bytes[0..4].copy_from_slice(&40u32.to_ne_bytes());
        let mut it = Messages::new(&bytes);
        let err = it.next().unwrap().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::MessageOverrun(40));
        assert!(it.next().is_none());
    }

    #[test]
    fn message_iterator_rejects_a_length_below_the_header() {
        let mut bytes = vec![0u8; 16];
        bytes[0..4].copy_from_slice(&3u32.to_ne_bytes());
        let err = Messages::new(&bytes).next().unwrap().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadMessageLength(3));
    }

    #[test]
    fn attribute_iterator_rejects_zero_length_and_overrun() {
        let zero = [0u8, 0, 1, 0];
        let err = Attributes::new(&zero, 20).next().unwrap().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadAttributeHeader(0));
        assert_eq!(err.offset, 20);
        let over = [12u8, 0, 3, 0, 1, 2, 3, 4];
        let err = Attributes::new(&over, 0).next().unwrap().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::AttributeOverrun { attribute: 3, len: 12 });
    }

    #[test]
    fn error_message_with_extended_ack_text() {
        // nlmsghdr: len, NLMSG_ERROR, flags CAPPED|ACK_TLVS, seq 5, pid 0
        let mut m = Vec::new();
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
        m.extend_from_slice(&5u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(-95i32).to_ne_bytes()); // error: -EOPNOTSUPP
        // echoed request header only (capped): len 40, type 0x0302
        m.extend_from_slice(&40u32.to_ne_bytes());
        m.extend_from_slice(&0x0302u16.to_ne_bytes());
        m.extend_from_slice(&5u16.to_ne_bytes());
        m.extend_from_slice(&5u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        // NLMSGERR_ATTR_MSG "no ct\0" (len 4+6=10, padded to 12)
        m.extend_from_slice(&10u16.to_ne_bytes());
        m.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        m.extend_from_slice(b"no ct\0\0\0");
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        let e = ErrorMessage::parse(&m).unwrap();
        assert_eq!(e.errno, 95);
        assert_eq!(e.request.seq, 5);
        assert_eq!(e.ext_ack_message, Some("no ct"));
    }
}
