/**
 * Numeric constants of the netlink, nfnetlink and nfnetlink_queue wire formats, as in
 * `linux/netlink.h`, `linux/netfilter/nfnetlink.h`, `linux/netfilter/nfnetlink_queue.h`,
 * `linux/netfilter.h` and `linux/netfilter/nfnetlink_conntrack.h`.
 *
 * Names keep the kernel's spelling so that they can be looked up in the kernel headers.
 */
import { NetlinkRangeError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// netlink (linux/netlink.h)
// ---------------------------------------------------------------------------------------------

/** Netlink protocol number of nfnetlink (`socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)`). */
export const NETLINK_NETFILTER = 12;
/** Length of `struct nlmsghdr`: u32 len, u16 type, u16 flags, u32 seq, u32 pid (host byte order). */
export const NLMSG_HDRLEN = 16;
/** Netlink messages and attributes are padded to a multiple of this many bytes. */
export const NLMSG_ALIGNTO = 4;
/** Length of `struct nlattr`: u16 len, u16 type (host byte order). */
export const NLA_HDRLEN = 4;

/** Message type: nothing, to be ignored. */
export const NLMSG_NOOP = 1;
/** Message type: error report or acknowledgement (`struct nlmsgerr`). */
export const NLMSG_ERROR = 2;
/** Message type: end of a multipart message. */
export const NLMSG_DONE = 3;
/** Message type: data lost. */
export const NLMSG_OVERRUN = 4;

/** Flag: the message is a request. */
export const NLM_F_REQUEST = 0x1;
/** Flag: the message is part of a multipart message ended by NLMSG_DONE. */
export const NLM_F_MULTI = 0x2;
/** Flag: ask the kernel to answer with an acknowledgement (an NLMSG_ERROR with errno 0). */
export const NLM_F_ACK = 0x4;
/** Flag: echo this request back. */
export const NLM_F_ECHO = 0x8;
/** Flag on NLMSG_ERROR: the echoed request was cut to its header (payload omitted). */
export const NLM_F_CAPPED = 0x100;
/** Flag on NLMSG_ERROR: extended-ack attributes (NLMSGERR_ATTR_*) follow the echoed request. */
export const NLM_F_ACK_TLVS = 0x200;

/**
 * Flag on an NFQNL_MSG_PACKET message (not a kernel flag): set by nfq-core on a message it had to
 * cut because its datagram did not fit the receive buffer (the message was cut by the receiver).
 * Only whole attributes are kept; the packet still needs a verdict. No netlink flag uses this
 * bit, and the kernel never sets it.
 */
export const NLM_F_NFQ_CUT_BY_RECEIVER = 0x8000;

/** @deprecated Renamed {@link NLM_F_NFQ_CUT_BY_RECEIVER}. */
export const NLM_F_NFQ_TRUNCATED = NLM_F_NFQ_CUT_BY_RECEIVER;

/** Extended-ack attribute: a NUL-terminated error message for a person. */
export const NLMSGERR_ATTR_MSG = 1;
/** Extended-ack attribute: u32 byte offset, in the request, of the attribute that caused the error. */
export const NLMSGERR_ATTR_OFFS = 2;
/** Extended-ack attribute: an opaque cookie. */
export const NLMSGERR_ATTR_COOKIE = 3;

/** Attribute type flag: the attribute holds nested attributes. */
export const NLA_F_NESTED = 0x8000;
/** Attribute type flag: the attribute's payload is in network byte order. */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Mask that removes NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type. */
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

// ---------------------------------------------------------------------------------------------
// nfnetlink (linux/netfilter/nfnetlink.h)
// ---------------------------------------------------------------------------------------------

/** nfnetlink subsystem of nfnetlink_queue; the high byte of every NFQUEUE message type. */
export const NFNL_SUBSYS_QUEUE = 3;
/** nfgenmsg version in use. */
export const NFNETLINK_V0 = 0;
/** Length of `struct nfgenmsg`: u8 family, u8 version, be16 res_id (the queue number for NFQUEUE). */
export const NFGENMSG_LEN = 4;

/** Address family "unspecified", used in verdict and most config messages. */
export const AF_UNSPEC = 0;
/** Address family IPv4 (also NFPROTO_IPV4). */
export const AF_INET = 2;
/** Address family IPv6 (also NFPROTO_IPV6). */
export const AF_INET6 = 10;

/** Netfilter protocol family: unspecified. */
export const NFPROTO_UNSPEC = 0;
/** Netfilter protocol family: inet (IPv4 and IPv6 together). */
export const NFPROTO_INET = 1;
/** Netfilter protocol family: IPv4. */
export const NFPROTO_IPV4 = 2;
/** Netfilter protocol family: ARP. */
export const NFPROTO_ARP = 3;
/** Netfilter protocol family: netdev (ingress/egress of a device). */
export const NFPROTO_NETDEV = 5;
/** Netfilter protocol family: bridge. */
export const NFPROTO_BRIDGE = 7;
/** Netfilter protocol family: IPv6. */
export const NFPROTO_IPV6 = 10;

// ---------------------------------------------------------------------------------------------
// nfnetlink_queue message types (linux/netfilter/nfnetlink_queue.h)
// ---------------------------------------------------------------------------------------------

/** Queue message: a packet, kernel to user space. */
export const NFQNL_MSG_PACKET = 0;
/** Queue message: a verdict on one packet, user space to kernel. */
export const NFQNL_MSG_VERDICT = 1;
/** Queue message: configuration (bind, copy mode, flags, ...). */
export const NFQNL_MSG_CONFIG = 2;
/** Queue message: one verdict for every pending packet up to and including an id. */
export const NFQNL_MSG_VERDICT_BATCH = 3;

/** The full `nlmsg_type` of an nfnetlink_queue message: `(NFNL_SUBSYS_QUEUE << 8) | message`. */
export function nfqMessageType(message: number): number {
  return (NFNL_SUBSYS_QUEUE << 8) | message;
}

// ---------------------------------------------------------------------------------------------
// NFQA_* packet and verdict attributes
// ---------------------------------------------------------------------------------------------

/** Attribute: `struct nfqnl_msg_packet_hdr` {be32 packet_id; be16 hw_protocol; u8 hook} (7 bytes, packed). */
export const NFQA_PACKET_HDR = 1;
/** Attribute: `struct nfqnl_msg_verdict_hdr` {be32 verdict; be32 id}. */
export const NFQA_VERDICT_HDR = 2;
/** Attribute: be32 packet mark (skb->mark). */
export const NFQA_MARK = 3;
/** Attribute: `struct nfqnl_msg_packet_timestamp` {be64 sec; be64 usec}. */
export const NFQA_TIMESTAMP = 4;
/** Attribute: be32 interface index of the input device. */
export const NFQA_IFINDEX_INDEV = 5;
/** Attribute: be32 interface index of the output device. */
export const NFQA_IFINDEX_OUTDEV = 6;
/** Attribute: be32 interface index of the physical input device (bridge port). */
export const NFQA_IFINDEX_PHYSINDEV = 7;
/** Attribute: be32 interface index of the physical output device (bridge port). */
export const NFQA_IFINDEX_PHYSOUTDEV = 8;
/** Attribute: `struct nfqnl_msg_packet_hw` {be16 hw_addrlen; u16 pad; u8 hw_addr[8]}. */
export const NFQA_HWADDR = 9;
/** Attribute: the packet bytes from the network header on (in a verdict: the replacement packet). */
export const NFQA_PAYLOAD = 10;
/** Attribute (nested): conntrack attributes (CTA_*) of the packet's connection. */
export const NFQA_CT = 11;
/** Attribute: be32 conntrack info (NFQA_CT_INFO_* / IP_CT_*). */
export const NFQA_CT_INFO = 12;
/** Attribute: be32 original length of the packet when the payload was cut to the copy range. */
export const NFQA_CAP_LEN = 13;
/** Attribute: be32 bit set of NFQA_SKB_* facts about the socket buffer. */
export const NFQA_SKB_INFO = 14;
/** Attribute (nested): conntrack expectation to create (verdict direction). */
export const NFQA_EXP = 15;
/** Attribute: be32 user id of the local socket owning the packet. */
export const NFQA_UID = 16;
/** Attribute: be32 group id of the local socket owning the packet. */
export const NFQA_GID = 17;
/** Attribute: security context string (NUL-terminated). */
export const NFQA_SECCTX = 18;
/** Attribute (nested): VLAN tag (NFQA_VLAN_PROTO, NFQA_VLAN_TCI). */
export const NFQA_VLAN = 19;
/** Attribute: the link-layer header bytes. */
export const NFQA_L2HDR = 20;
/** Attribute: be32 skb->priority. */
export const NFQA_PRIORITY = 21;
/** Highest NFQA_* attribute type this package knows. */
export const NFQA_MAX = 21;

/** Nested in NFQA_VLAN: be16 VLAN protocol (e.g. 0x8100). */
export const NFQA_VLAN_PROTO = 1;
/** Nested in NFQA_VLAN: be16 VLAN tag control information. */
export const NFQA_VLAN_TCI = 2;

/** NFQA_SKB_INFO bit: the packet's checksum is not yet computed (offloaded): treat it as correct. */
export const NFQA_SKB_CSUMNOTREADY = 1 << 0;
/** NFQA_SKB_INFO bit: the packet is a GSO super-packet (larger than the MTU). */
export const NFQA_SKB_GSO = 1 << 1;
/** NFQA_SKB_INFO bit: the packet's checksum has not been verified. */
export const NFQA_SKB_CSUM_NOTVERIFIED = 1 << 2;

// ---------------------------------------------------------------------------------------------
// Configuration (NFQNL_MSG_CONFIG)
// ---------------------------------------------------------------------------------------------

/** Config attribute: `struct nfqnl_msg_config_cmd` {u8 command; u8 pad; be16 pf}. */
export const NFQA_CFG_CMD = 1;
/** Config attribute: `struct nfqnl_msg_config_params` {be32 copy_range; u8 copy_mode} (5 bytes, packed). */
export const NFQA_CFG_PARAMS = 2;
/** Config attribute: be32 maximum number of packets waiting in the queue. */
export const NFQA_CFG_QUEUE_MAXLEN = 3;
/** Config attribute: be32 mask of the NFQA_CFG_F_* flags to change. */
export const NFQA_CFG_MASK = 4;
/** Config attribute: be32 new values of the NFQA_CFG_F_* flags selected by NFQA_CFG_MASK. */
export const NFQA_CFG_FLAGS = 5;

/** Config command: none. */
export const NFQNL_CFG_CMD_NONE = 0;
/** Config command: bind this socket to the queue in res_id. */
export const NFQNL_CFG_CMD_BIND = 1;
/** Config command: unbind this socket from the queue in res_id. */
export const NFQNL_CFG_CMD_UNBIND = 2;
/** Config command: obsolete (a no-op since Linux 3.8): bind a protocol family. */
export const NFQNL_CFG_CMD_PF_BIND = 3;
/** Config command: obsolete (a no-op since Linux 3.8): unbind a protocol family. */
export const NFQNL_CFG_CMD_PF_UNBIND = 4;

/** Copy mode: copy nothing. */
export const NFQNL_COPY_NONE = 0;
/** Copy mode: copy metadata only, no payload. */
export const NFQNL_COPY_META = 1;
/** Copy mode: copy metadata and up to copy_range bytes of payload. */
export const NFQNL_COPY_PACKET = 2;

/** Config flag: accept packets instead of dropping them when the queue is full. */
export const NFQA_CFG_F_FAIL_OPEN = 1 << 0;
/** Config flag: send conntrack information (NFQA_CT, NFQA_CT_INFO) with each packet. */
export const NFQA_CFG_F_CONNTRACK = 1 << 1;
/** Config flag: deliver GSO packets whole instead of segmenting them. */
export const NFQA_CFG_F_GSO = 1 << 2;
/** Config flag: send the owning socket's uid and gid (NFQA_UID, NFQA_GID). */
export const NFQA_CFG_F_UID_GID = 1 << 3;
/** Config flag: send the security context (NFQA_SECCTX). */
export const NFQA_CFG_F_SECCTX = 1 << 4;

// ---------------------------------------------------------------------------------------------
// Verdicts (linux/netfilter.h)
// ---------------------------------------------------------------------------------------------

/** Verdict: drop the packet. */
export const NF_DROP = 0;
/** Verdict: let the packet continue. */
export const NF_ACCEPT = 1;
/** Verdict: the packet was taken over (do not use from user space). */
export const NF_STOLEN = 2;
/** Verdict: queue the packet again, to the queue number in the high 16 bits. */
export const NF_QUEUE = 3;
/** Verdict: run the packet through the current hook again. */
export const NF_REPEAT = 4;
/** Verdict: accept and stop running the current hook's remaining rules (deprecated in the kernel). */
export const NF_STOP = 5;
/** Mask of the verdict code within a verdict value. */
export const NF_VERDICT_MASK = 0xff;
/** Verdict flag: with NF_QUEUE, accept the packet when the target queue has no listener. */
export const NF_VERDICT_FLAG_QUEUE_BYPASS = 0x8000;
/** Shift of the target queue number in an NF_QUEUE verdict. */
export const NF_VERDICT_QBITS = 16;

/**
 * The verdict value that queues a packet to queue `queueNum`, optionally with bypass.
 *
 * @throws {NetlinkRangeError} when `queueNum` is not an integer from 0 to 65535 or `bypass` not a boolean.
 */
export function queueVerdict(queueNum: number, bypass = false): number {
  if (typeof queueNum !== 'number' || !Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
    throw new NetlinkRangeError('queue', `queue number must be an integer from 0 to 65535, got ${String(queueNum)}`);
  }
  if (typeof bypass !== 'boolean') throw new NetlinkRangeError('bypass', `bypass must be true or false, got ${String(bypass)}`);
  return (NF_QUEUE | (queueNum << NF_VERDICT_QBITS) | (bypass ? NF_VERDICT_FLAG_QUEUE_BYPASS : 0)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------

/** inet hook: before routing, right after the packet came in. */
export const NF_INET_PRE_ROUTING = 0;
/** inet hook: the packet is for this host. */
export const NF_INET_LOCAL_IN = 1;
/** inet hook: the packet is routed through this host. */
export const NF_INET_FORWARD = 2;
/** inet hook: the packet was sent by a local process. */
export const NF_INET_LOCAL_OUT = 3;
/** inet hook: after routing, right before the packet goes out. */
export const NF_INET_POST_ROUTING = 4;

/** arp hook: an incoming ARP packet. */
export const NF_ARP_IN = 0;
/** arp hook: an outgoing ARP packet. */
export const NF_ARP_OUT = 1;
/** arp hook: an ARP packet forwarded by a bridge. */
export const NF_ARP_FORWARD = 2;

/** netdev hook: ingress of a device. */
export const NF_NETDEV_INGRESS = 0;
/** netdev hook: egress of a device. */
export const NF_NETDEV_EGRESS = 1;

/** bridge hook: brouting decision (ebtables broute table). */
export const NF_BR_BROUTING = 5;

// ---------------------------------------------------------------------------------------------
// Conntrack
// ---------------------------------------------------------------------------------------------

/** Conntrack info: part of an established connection, original direction. */
export const IP_CT_ESTABLISHED = 0;
/** Conntrack info: related to an established connection (e.g. ICMP error, FTP data). */
export const IP_CT_RELATED = 1;
/** Conntrack info: starts a new connection. */
export const IP_CT_NEW = 2;
/** Conntrack info: part of an established connection, reply direction. */
export const IP_CT_ESTABLISHED_REPLY = 3;
/** Conntrack info: related to an established connection, reply direction. */
export const IP_CT_RELATED_REPLY = 4;

/** Conntrack attribute (inside NFQA_CT): be32 connection mark. */
export const CTA_MARK = 8;
/** Conntrack attribute (inside NFQA_CT): 128-bit connection labels. */
export const CTA_LABELS = 22;
/** Conntrack attribute (inside NFQA_CT): mask for CTA_LABELS. */
export const CTA_LABELS_MASK = 23;
