#!/usr/bin/env node
// A port firewall: TCP and UDP packets to an allowed destination port are accepted, everything
// else is dropped (and printed). Queue the traffic to guard first: new connections from outside,
// never SSH (a wrong --allow cannot lock you out), passed on while this program is not running
// (--queue-bypass; leave it out to fail closed), e.g.
//   iptables -A INPUT ! -i lo -p tcp ! --dport 22 -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -A INPUT ! -i lo -p udp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass
//   node examples/port-firewall.mjs --allow 80,443
import { TcpHeader, UdpHeader, openQueue, parseIp } from '@nfq/nfqueue';
import { closeOnSignal, exampleArgs } from './common.mjs';

const args = exampleArgs('port-firewall.mjs --allow PORT[,PORT...] [--queue N] [--netns NAME]', { allow: { type: 'string', default: '' } });
const allowed = new Set(args.allow.split(',').filter(Boolean).map(Number));
if ([...allowed].some((port) => !Number.isInteger(port) || port < 1 || port > 65535)) {
  console.error(`--allow takes port numbers 1..65535, got '${args.allow}'`);
  process.exit(2);
}

const queue = await openQueue({ queue: args.queue, netns: args.netns, copyRange: 128 }); // headers are enough
queue.on('packet', (packet) => {
  let port;
  let what = 'not TCP or UDP';
  try {
    const { ip, l4 } = parseIp(packet.payload);
    if (l4 instanceof TcpHeader || l4 instanceof UdpHeader) {
      port = l4.destinationPort;
      what = `${l4.kind} ${ip.source} -> ${ip.destination}:${port}`;
    }
  } catch (error) {
    what = `unreadable (${error.message})`;
  }
  if (port !== undefined && allowed.has(port)) {
    packet.accept();
  } else {
    packet.drop();
    console.log(`dropped ${what}`);
  }
});
closeOnSignal(queue);
console.error(`port-firewall: queue ${args.queue}, allowing ports ${[...allowed].join(', ') || '(none)'}`);
