// A policy for `nf-queue --handler`: drops UDP to one port and accepts everything else with a
// mark (for later rules: `-m mark --mark 1`). nf-queue loads it with import(), calls setup() once
// per queue before binding (and again after each SIGHUP, which reloads this file), then the
// default export for every packet; what it returns is the verdict. The port and the mark come from
// the environment, e.g.
//   iptables -A OUTPUT -p udp -j NFQUEUE --queue-num 0 --queue-bypass
//   DROP_PORT=5353 MARK=1 nf-queue --handler examples/policy-drop-port.mjs --quiet 0
import { UdpHeader, parseIp } from '@nfq/nfqueue';

let dropPort = 5353;
let acceptMarked = { accept: { mark: 1 } }; // made once: the same verdict object for every packet

export function setup(context) {
  dropPort = Number(process.env.DROP_PORT ?? dropPort);
  acceptMarked = { accept: { mark: Number(process.env.MARK ?? 1) } };
  console.error(`policy-drop-port: queue ${context.queue}: dropping UDP to port ${dropPort}, marking the rest ${acceptMarked.accept.mark}`);
}

export default function dropOnePort(packet) {
  const { l4 } = parseIp(packet.payload);
  if (l4 instanceof UdpHeader && l4.destinationPort === dropPort) return 'drop';
  return acceptMarked;
}
