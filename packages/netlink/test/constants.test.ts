import { describe, expect, it } from 'vitest';
import {
  NFPROTO_ARP,
  NFPROTO_BRIDGE,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  NFPROTO_NETDEV,
  NFQNL_MSG_VERDICT_BATCH,
  NF_ACCEPT,
  NF_INET_LOCAL_OUT,
  NF_QUEUE,
  NLA_TYPE_MASK,
  hookName,
  nfqMessageType,
  queueVerdict,
} from '../src/index.js';

describe('hookName', () => {
  it('names the inet hooks as iptables chains', () => {
    expect([0, 1, 2, 3, 4].map((hook) => hookName(NFPROTO_IPV4, hook))).toEqual([
      'PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING',
    ]);
    expect(hookName(NFPROTO_IPV6, NF_INET_LOCAL_OUT)).toBe('OUTPUT');
  });

  it('names the arp, netdev and bridge hooks', () => {
    expect([0, 1, 2].map((hook) => hookName(NFPROTO_ARP, hook))).toEqual(['IN', 'OUT', 'FORWARD']);
    expect([0, 1].map((hook) => hookName(NFPROTO_NETDEV, hook))).toEqual(['INGRESS', 'EGRESS']);
    expect(hookName(NFPROTO_BRIDGE, 5)).toBe('BROUTING');
  });

  it('answers undefined for an unknown hook', () => {
    expect(hookName(NFPROTO_IPV4, 7)).toBeUndefined();
    expect(hookName(NFPROTO_NETDEV, 2)).toBeUndefined();
  });
});

describe('verdict and type encodings', () => {
  it('puts the target queue in the high 16 bits', () => {
    expect(queueVerdict(0)).toBe(NF_QUEUE);
    expect(queueVerdict(65535)).toBe(0xffff_0003);
    expect(queueVerdict(1, true)).toBe(0x0001_8003);
    expect(queueVerdict(1) & 0xff).not.toBe(NF_ACCEPT);
  });

  it('builds nfnetlink message types and masks attribute flags', () => {
    expect(nfqMessageType(NFQNL_MSG_VERDICT_BATCH)).toBe(0x0303);
    expect(0x800b & NLA_TYPE_MASK).toBe(11);
  });
});
