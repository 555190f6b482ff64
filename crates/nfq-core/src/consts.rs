//! Numbers of the netlink, nfnetlink and nfnetlink_queue wire protocols.
//!
//! Values are those of `linux/netlink.h`, `linux/netfilter/nfnetlink.h`,
//! `linux/netfilter/nfnetlink_queue.h` and `linux/netfilter.h`. Grouped by
//! the header they come from so that a reader can check them against it.

/// Netlink protocol family of netfilter sockets (`NETLINK_NETFILTER`).
pub const NETLINK_NETFILTER: i32 = 12;

/// Netlink message header length (`struct nlmsghdr`).
pub const NLMSG_HDRLEN: usize = 16;
/// Netlink attribute header length (`struct nlattr`).
pub const NLA_HDRLEN: usize = 4;
/// Netlink alignment of messages and attributes.
pub const NLMSG_ALIGNTO: usize = 4;

/// Control message: nothing, ignore it.
pub const NLMSG_NOOP: u16 = 1;
/// Control message: an error or an acknowledgement (`struct nlmsgerr`).
pub const NLMSG_ERROR: u16 = 2;
/// Control message: end of a multipart dump.
pub const NLMSG_DONE: u16 = 3;
/// Control message: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// Header flag: this is a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// Header flag: part of a multipart message.
pub const NLM_F_MULTI: u16 = 0x2;
/// Header flag: reply with an acknowledgement, success or error.
pub const NLM_F_ACK: u16 = 0x4;
/// Error flag: the echoed request was cut to its header (`NETLINK_CAP_ACK`).
pub const NLM_F_CAPPED: u16 = 0x100;
/// Error flag: extended ACK attributes follow (`NETLINK_EXT_ACK`).
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ACK attribute: the kernel's message text (NUL-terminated).
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Extended ACK attribute: offset of the offending attribute in the request.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;

/// Attribute type flag: the attribute holds nested attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// Attribute type flag: the payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask of the attribute type without its flags.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `SOL_NETLINK` socket option level.
pub const SOL_NETLINK: i32 = 270;
/// Socket option: do not report `ENOBUFS` on overrun.
pub const NETLINK_NO_ENOBUFS: i32 = 5;
/// Socket option: echo only the header of a failed request in its error.
pub const NETLINK_CAP_ACK: i32 = 10;
/// Socket option: extended ACK (the kernel explains its errors).
pub const NETLINK_EXT_ACK: i32 = 11;

/// `struct nfgenmsg` length: family, version, resource id (the queue number).
pub const NFGENMSG_LEN: usize = 4;
/// nfnetlink protocol version.
pub const NFNETLINK_V0: u8 = 0;
/// nfnetlink subsystem of nfnetlink_queue.
pub const NFNL_SUBSYS_QUEUE: u8 = 3;

/// nfqueue message: a queued packet (kernel to user).
pub const NFQNL_MSG_PACKET: u8 = 0;
/// nfqueue message: a verdict for one packet.
pub const NFQNL_MSG_VERDICT: u8 = 1;
/// nfqueue message: queue configuration.
pub const NFQNL_MSG_CONFIG: u8 = 2;
/// nfqueue message: one verdict for every pending packet up to an id.
pub const NFQNL_MSG_VERDICT_BATCH: u8 = 3;

/// Netlink message type of an nfqueue message: `(NFNL_SUBSYS_QUEUE << 8) | msg`.
#[must_use]
pub const fn nfqueue_msg_type(msg: u8) -> u16 {
    ((NFNL_SUBSYS_QUEUE as u16) << 8) | msg as u16
}

/// Packet attribute: `struct nfqnl_msg_packet_hdr` (id, hardware protocol, hook).
pub const NFQA_PACKET_HDR: u16 = 1;
/// Verdict attribute: `struct nfqnl_msg_verdict_hdr` (verdict, id).
pub const NFQA_VERDICT_HDR: u16 = 2;
/// Packet mark (`skb->mark`), u32.
pub const NFQA_MARK: u16 = 3;
/// Packet timestamp: seconds and microseconds, two u64.
pub const NFQA_TIMESTAMP: u16 = 4;
/// Input interface index.
pub const NFQA_IFINDEX_INDEV: u16 = 5;
/// Output interface index.
pub const NFQA_IFINDEX_OUTDEV: u16 = 6;
/// Physical input interface index (bridge port).
pub const NFQA_IFINDEX_PHYSINDEV: u16 = 7;
/// Physical output interface index (bridge port).
pub const NFQA_IFINDEX_PHYSOUTDEV: u16 = 8;
/// Hardware (link-layer) source address: `struct nfqnl_msg_packet_hw`.
pub const NFQA_HWADDR: u16 = 9;
/// The packet, from its network header on.
pub const NFQA_PAYLOAD: u16 = 10;
/// Conntrack entry, nested ctnetlink attributes.
pub const NFQA_CT: u16 = 11;
/// Conntrack state (`enum ip_conntrack_info`), u32.
pub const NFQA_CT_INFO: u16 = 12;
/// Length of the whole packet when the payload was cut to the copy range.
pub const NFQA_CAP_LEN: u16 = 13;
/// `NFQA_SKB_*` bits.
pub const NFQA_SKB_INFO: u16 = 14;
/// Conntrack expectation, nested.
pub const NFQA_EXP: u16 = 15;
/// Owner uid of the local socket.
pub const NFQA_UID: u16 = 16;
/// Owner gid of the local socket.
pub const NFQA_GID: u16 = 17;
/// Security context string.
pub const NFQA_SECCTX: u16 = 18;
/// VLAN, nested: `NFQA_VLAN_PROTO`, `NFQA_VLAN_TCI`.
pub const NFQA_VLAN: u16 = 19;
/// Link-layer header (bridge family).
pub const NFQA_L2HDR: u16 = 20;
/// Packet priority (`skb->priority`).
pub const NFQA_PRIORITY: u16 = 21;
/// Highest attribute number this crate knows.
pub const NFQA_MAX_KNOWN: u16 = 21;

/// Nested in `NFQA_VLAN`: VLAN protocol (ETH_P_8021Q...), be16.
pub const NFQA_VLAN_PROTO: u16 = 1;
/// Nested in `NFQA_VLAN`: VLAN tag control information, be16.
pub const NFQA_VLAN_TCI: u16 = 2;

/// Config attribute: `struct nfqnl_msg_config_cmd`.
pub const NFQA_CFG_CMD: u16 = 1;
/// Config attribute: `struct nfqnl_msg_config_params` (copy range, copy mode).
pub const NFQA_CFG_PARAMS: u16 = 2;
/// Config attribute: maximum queue length, u32.
pub const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
/// Config attribute: which flags `NFQA_CFG_FLAGS` changes, u32.
pub const NFQA_CFG_MASK: u16 = 4;
/// Config attribute: flag values, u32.
pub const NFQA_CFG_FLAGS: u16 = 5;

/// Config command: bind this socket to the queue.
pub const NFQNL_CFG_CMD_BIND: u8 = 1;
/// Config command: unbind this socket from the queue.
pub const NFQNL_CFG_CMD_UNBIND: u8 = 2;
/// Config command: bind to a protocol family (a no-op since Linux 3.8).
pub const NFQNL_CFG_CMD_PF_BIND: u8 = 3;
/// Config command: unbind from a protocol family (a no-op since Linux 3.8).
pub const NFQNL_CFG_CMD_PF_UNBIND: u8 = 4;

/// Copy mode: no packet data.
pub const NFQNL_COPY_NONE: u8 = 0;
/// Copy mode: metadata only.
pub const NFQNL_COPY_META: u8 = 1;
/// Copy mode: metadata and the packet up to the copy range.
pub const NFQNL_COPY_PACKET: u8 = 2;

/// Config flag: accept packets instead of dropping them when the queue is full.
pub const NFQA_CFG_F_FAIL_OPEN: u32 = 0x01;
/// Config flag: attach the conntrack entry (`NFQA_CT`, `NFQA_CT_INFO`).
pub const NFQA_CFG_F_CONNTRACK: u32 = 0x02;
/// Config flag: queue GSO packets whole, unsegmented.
pub const NFQA_CFG_F_GSO: u32 = 0x04;
/// Config flag: attach the socket owner's uid and gid.
pub const NFQA_CFG_F_UID_GID: u32 = 0x08;
/// Config flag: attach the security context.
pub const NFQA_CFG_F_SECCTX: u32 = 0x10;

/// SKB_INFO bit: the checksum is not computed yet (offloaded); treat it as correct.
pub const NFQA_SKB_CSUMNOTREADY: u32 = 1 << 0;
/// SKB_INFO bit: the packet is a GSO packet, larger than the MTU.
pub const NFQA_SKB_GSO: u32 = 1 << 1;
/// SKB_INFO bit: the checksum was not verified.
pub const NFQA_SKB_CSUM_NOTVERIFIED: u32 = 1 << 2;

/// Verdict: drop the packet.
pub const NF_DROP: u32 = 0;
/// Verdict: let the packet continue.
pub const NF_ACCEPT: u32 = 1;
/// Verdict: the packet was taken over (not valid from userspace in practice).
pub const NF_STOLEN: u32 = 2;
/// Verdict: queue the packet to the queue in the upper 16 bits.
pub const NF_QUEUE: u32 = 3;
/// Verdict: run the hook again.
pub const NF_REPEAT: u32 = 4;
/// Verdict: accept, skipping the rest of this hook (deprecated in the kernel, still honoured).
pub const NF_STOP: u32 = 5;
/// With `NF_QUEUE`: accept instead of dropping when the target queue has no listener.
pub const NF_VERDICT_FLAG_QUEUE_BYPASS: u32 = 0x0000_8000;

/// ctnetlink attribute: connection mark, u32.
pub const CTA_MARK: u16 = 8;
/// ctnetlink attribute: connection labels, 16 bytes.
pub const CTA_LABELS: u16 = 22;
/// ctnetlink attribute: mask of the labels to change, 16 bytes.
pub const CTA_LABELS_MASK: u16 = 23;

/// Address family: any (used in config requests).
pub const AF_UNSPEC: u8 = 0;
/// Address family: IPv4.
pub const AF_INET: u8 = 2;
/// Address family: bridge.
pub const AF_BRIDGE: u8 = 7;
/// Address family: IPv6.
pub const AF_INET6: u8 = 10;

/// Largest copy range: the largest payload the kernel copies into a message.
pub const MAX_COPY_RANGE: u32 = crate::facts::COPY_RANGE.max as u32;
