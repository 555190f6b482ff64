/**
 * Where each field of the nfnetlink_queue headers sits, as offsets (nfq-core names the same
 * offsets in its `netlink::nlmsghdr`, `nfgenmsg`, `nlattr`, `nlmsgerr` and
 * `packet::nfqnl_msg_packet_hdr` modules). A packet message:
 *
 * ```text
 *  0               4       6       8               12              16
 * +---------------+-------+-------+---------------+---------------+
 * | nlmsg_len     | type  | flags | nlmsg_seq     | nlmsg_pid     |  struct nlmsghdr (host order)
 * +-------+-------+---------------+---------------+---------------+
 * | family| ver   | res_id (BE)   |  struct nfgenmsg (16..20): res_id is the queue number
 * +-------+-------+---------------+----------------------------------------------+
 * | nla_len | nla_type | payload, padded to 4 ...  | next attribute ...          |  struct nlattr
 * +---------+----------+---------------------------+------------------------------+
 * ```
 *
 * @internal
 * @module
 */

/** `nlmsg_len` (u32): the message's length, this header included; from the message's start. */
export const NLMSG_LEN_AT = 0;
/** `nlmsg_type` (u16): `(subsystem << 8) | message`. */
export const NLMSG_TYPE_AT = 4;
/** `nlmsg_flags` (u16): NLM_F_*. */
export const NLMSG_FLAGS_AT = 6;
/** `nlmsg_seq` (u32). */
export const NLMSG_SEQ_AT = 8;
/** `nlmsg_pid` (u32): the sender's port id (0 for the kernel). */
export const NLMSG_PID_AT = 12;

/** `nfgen_family` (u8) of `struct nfgenmsg`, right after the netlink header. */
export const NFGEN_FAMILY_AT = 16;
/** `version` (u8): NFNETLINK_V0. */
export const NFGEN_VERSION_AT = 17;
/** `res_id` (big-endian u16): the queue number. */
export const NFGEN_RES_ID_AT = 18;

/** `nla_len` (u16) of `struct nlattr`, from the attribute's start. */
export const NLA_LEN_AT = 0;
/** `nla_type` (u16): the type, with NLA_F_NESTED and NLA_F_NET_BYTEORDER. */
export const NLA_TYPE_AT = 2;

/**
 * Fields of `struct nfqnl_msg_packet_hdr` (NFQA_PACKET_HDR), from the start of the attribute's
 * value, all big-endian:
 *
 * ```text
 *  0               4               6       7       8
 * +---------------+---------------+-------+-------+
 * | packet_id     | hw_protocol   | hook  | (pad) |
 * +---------------+---------------+-------+-------+
 * ```
 */
export const PACKET_HDR_ID_AT = 0;
/** `hw_protocol` (big-endian u16): the EtherType. */
export const PACKET_HDR_HW_PROTOCOL_AT = 4;
/** `hook` (u8): the netfilter hook number. */
export const PACKET_HDR_HOOK_AT = 6;

/**
 * Fields of `struct nfqnl_msg_verdict_hdr` (NFQA_VERDICT_HDR), from the start of the attribute's
 * value, big-endian: the verdict (u32), then the packet id (u32).
 */
export const VERDICT_HDR_VERDICT_AT = 0;
/** `id` (big-endian u32) of `struct nfqnl_msg_verdict_hdr`. */
export const VERDICT_HDR_ID_AT = 4;
