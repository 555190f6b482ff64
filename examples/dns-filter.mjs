#!/usr/bin/env node
// A DNS query logger and blocker: prints the question of every DNS query, and drops the queries
// for blocked names (and their subdomains). Queue outgoing DNS first, e.g.
//   iptables -A OUTPUT -p udp --dport 53 -j NFQUEUE --queue-num 0 --queue-bypass
//   node examples/dns-filter.mjs --block ads.example,tracker.test
import { UdpHeader, openQueue, parseIp } from '@nfq/nfqueue';
import { closeOnSignal, exampleArgs } from './common.mjs';

const args = exampleArgs('dns-filter.mjs [--block NAME[,NAME...]] [--queue N] [--netns NAME]', { block: { type: 'string', default: '' } });
const blocked = new Set(args.block.split(',').filter(Boolean).map((name) => name.toLowerCase().replace(/\.$/, '')));
const TYPES = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 65: 'HTTPS' };

/** The first question of a DNS message: `{ name, type }`, or undefined when it is not one. */
function dnsQuestion(message) {
  if (message.length < 12 || (message[2] & 0x80) !== 0) return undefined; // too short, or a response
  if (((message[4] << 8) | message[5]) === 0) return undefined; // no question
  const labels = [];
  let offset = 12;
  for (;;) {
    if (offset >= message.length) return undefined;
    const length = message[offset];
    if (length === 0) break;
    if (length > 63 || offset + 1 + length > message.length) return undefined; // pointers have no place in a question name
    labels.push(Buffer.from(message.subarray(offset + 1, offset + 1 + length)).toString('latin1'));
    offset += 1 + length;
  }
  if (offset + 5 > message.length) return undefined;
  const type = (message[offset + 1] << 8) | message[offset + 2];
  return { name: labels.join('.').toLowerCase(), type: TYPES[type] ?? `TYPE${type}` };
}

/** True when `name` or one of its parent domains is blocked. */
function isBlocked(name) {
  for (let suffix = name; ; ) {
    if (blocked.has(suffix)) return true;
    const dot = suffix.indexOf('.');
    if (dot === -1) return false;
    suffix = suffix.slice(dot + 1);
  }
}

const queue = await openQueue({ queue: args.queue, netns: args.netns });
queue.on('packet', (packet) => {
  let question;
  try {
    const { ip, l4 } = parseIp(packet.payload);
    const asked = l4 instanceof UdpHeader ? dnsQuestion(l4.payload) : undefined;
    if (asked) question = { ...asked, from: ip.source };
  } catch {
    // not a packet we can read: let it pass
  }
  if (question && isBlocked(question.name)) {
    packet.drop();
    console.log(`blocked ${question.name} ${question.type} from ${question.from}`);
  } else {
    packet.accept();
    if (question) console.log(`query ${question.name} ${question.type} from ${question.from}`);
  }
});
closeOnSignal(queue);
console.error(`dns-filter: queue ${args.queue}, blocking ${[...blocked].join(', ') || '(nothing)'}`);
