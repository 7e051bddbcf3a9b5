/**
 * Accepting the PROXY protocol on a listener (HAProxy `bind … accept-proxy`, NGINX `listen …
 * proxy_protocol`; the format is HAProxy's doc/proxy-protocol.txt, parsed by ./proxy-protocol.ts).
 * The rules every listener kind shares — `tcp` and `tls-passthrough` (./tcp-conn.ts) and `http`
 * and `https` (../l7/proxy-stage.ts):
 * - `proxyProtocol.from` lists the sources allowed to connect; any other source is closed at accept
 *   (`refused_untrusted_proxy`);
 * - a trusted source MUST start with a v1 or v2 header (version detected); a malformed one, or more
 *   than `maxBytes` without a verdict, closes the connection (`bad_proxy_header`);
 * - the header must be complete within `timeouts.clientHello` (`client_hello_timeout`), and a FIN
 *   before it is `client_aborted`;
 * - a v2 LOCAL header (the sender's own health check) or an UNKNOWN / UNSPEC / UNIX one carries no
 *   usable address: the connection's own addresses are used.
 * The event names are those of `fulcrum_l4_events_total{listener, event}` (docs/l4.md).
 */
import type { BlockList } from 'node:net';
import type { ListenerConfig } from '../config/schema.ts';
import { isTrusted, normalizeIp, trustMatcher } from '../l7/http1/forwarded.ts';
import { parseProxyHeader, type ProxyAddress } from './proxy-protocol.ts';

/** Source not in `proxyProtocol.from`: closed at accept. */
export const EV_UNTRUSTED_PROXY = 'refused_untrusted_proxy';
/** Malformed PROXY header (or too many bytes without one) from a trusted source. */
export const EV_BAD_PROXY_HEADER = 'bad_proxy_header';
/** The header (or, on tls-passthrough, the ClientHello) was not complete within `timeouts.clientHello`. */
export const EV_HEADER_TIMEOUT = 'client_hello_timeout';
/** The client sent its FIN before the header was complete. */
export const EV_CLIENT_ABORTED = 'client_aborted';

/** The matcher of a listener's `proxyProtocol.from`; null when the listener does not accept the PROXY protocol. */
export function proxyTrustOf(config: ListenerConfig): BlockList | null {
  return trustMatcher(config.proxyProtocol?.from ?? []);
}

/** True when a connection from `remoteAddress` must be refused by a listener accepting PROXY from `trust`. */
export function untrustedSource(trust: BlockList, remoteAddress: string | undefined): boolean {
  return !isTrusted(trust, normalizeIp(remoteAddress));
}

/** Verdict on the first bytes of a connection from a trusted source. */
export type ProxyHeaderVerdict =
  | { status: 'incomplete' }
  | { status: 'invalid' }
  /** `addr`: the carried addresses, null when the connection's own are to be used (LOCAL, UNKNOWN); `length`: header bytes. */
  | { status: 'ok'; addr: ProxyAddress | null; length: number };

const INCOMPLETE: ProxyHeaderVerdict = Object.freeze({ status: 'incomplete' });
const INVALID: ProxyHeaderVerdict = Object.freeze({ status: 'invalid' });

/**
 * The PROXY header at the start of `buf` (every byte received so far): `incomplete` while it may
 * still come (at most `maxBytes` kept), `invalid` when it is malformed or missing.
 */
export function takeProxyHeader(buf: Buffer, maxBytes: number): ProxyHeaderVerdict {
  const r = parseProxyHeader(buf);
  if (r.status === 'incomplete') return buf.length > maxBytes ? INVALID : INCOMPLETE;
  if (r.status === 'invalid') return INVALID;
  const info = r.info;
  return { status: 'ok', addr: info.local || info.family === 'unknown' ? null : info, length: r.length };
}
