"""Contender (h): Python's NetfilterQueue verdicting COUNT packets of QUEUE.

    python netfilterqueue_contender.py QUEUE COUNT [--drop]

Binds QUEUE (copy mode packet, the library's default), gives every packet the verdict from its
callback (accept, or drop with --drop) and exits once COUNT packets have theirs.
"""
import os
import sys

from netfilterqueue import NetfilterQueue


def main() -> None:
    if len(sys.argv) < 3:
        print("usage: netfilterqueue_contender.py QUEUE COUNT [--drop]", file=sys.stderr)
        sys.exit(2)
    queue, count = int(sys.argv[1]), int(sys.argv[2])
    drop = len(sys.argv) > 3 and sys.argv[3] == "--drop"
    seen = 0

    def on_packet(packet) -> None:
        nonlocal seen
        if drop:
            packet.drop()
        else:
            packet.accept()
        seen += 1
        if seen >= count:
            # Every packet has its verdict (sent synchronously above); closing the socket unbinds.
            sys.stdout.flush()
            os._exit(0)

    nfq = NetfilterQueue()
    nfq.bind(queue, on_packet, max_len=1024)
    try:
        nfq.run()
    finally:
        nfq.unbind()


if __name__ == "__main__":
    main()
