// The handler each worker of multi-core.mjs runs for every packet of its queue: accept it. Put the
// real decision here; it runs on the worker's own thread (and core), with no state shared.
export default function handle(packet) {
  packet.accept();
}
