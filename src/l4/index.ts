/** Registers the L4 listener kinds (`tcp`, `tls-passthrough`, `udp`) with the runtime's registry. */
import './udp.ts';
import './tcp.ts';
