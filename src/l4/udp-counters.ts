/**
 * Batched metrics of one `udp` listener (DESIGN.md rule 6: counters in typed arrays on the hot path).
 * The datagram path adds to plain numbers; one lazily armed timer pushes them into
 * `fulcrum_l4_events_total` and `fulcrum_l4_bytes_total` at most FLUSH_MS later — prom-client
 * hashes and validates the label set on every inc(), which per datagram would cost more than
 * relaying the datagram. /metrics therefore lags by at most FLUSH_MS.
 */
import type { Metrics } from '../admin/metrics.ts';

/** Longest delay between a datagram and its counts appearing in /metrics (ms). */
export const FLUSH_MS = 250;

/** `event` label values of fulcrum_l4_events_total counted by udp listeners. */
export const UDP_EVENTS = [
  /** A new flow got a session (and an upstream socket). */
  'udp_session_opened',
  /** A session saw no datagram either way for sessionTimeout and was forgotten. */
  'udp_session_expired',
  /** A new flow's datagram was dropped: maxSessions sessions exist. */
  'udp_session_refused',
  /** A new flow's datagram was dropped: no endpoint may take it (all down/ejected/drained, or hash key refused). */
  'no_upstream',
  /** The endpoint answered with ICMP port unreachable (ECONNREFUSED): recorded as a gateway failure, session closed. */
  'udp_port_unreachable',
  /** Another error on the upstream socket (host unreachable, …): recorded as a gateway failure, session closed. */
  'udp_upstream_error',
  /** The upstream socket could not connect (name resolution failed, …): recorded, session closed. */
  'connect_failed',
  /** A session's endpoint went down, was ejected or left the pool: the next datagram opened a new session. */
  'udp_session_rerouted',
  /** A session closed because its listener shut down (or was removed by a reload). */
  'udp_session_closed',
  /** A datagram dropped because a queue was full (upstream socket still connecting, or listener held by a reload). */
  'udp_datagram_dropped',
  /** An error on the listener's own socket (a reply that could not be sent to a client, …). */
  'udp_socket_error',
] as const;

export type UdpEvent = (typeof UDP_EVENTS)[number];

export const E_OPENED = 0;
export const E_EXPIRED = 1;
export const E_REFUSED = 2;
export const E_NO_UPSTREAM = 3;
export const E_UNREACHABLE = 4;
export const E_UPSTREAM_ERROR = 5;
export const E_CONNECT_FAILED = 6;
export const E_REROUTED = 7;
export const E_CLOSED = 8;
export const E_DROPPED = 9;
export const E_SOCKET_ERROR = 10;

export class UdpCounters {
  /** Unflushed event counts, indexed by the E_* constants (UDP_EVENTS order). */
  readonly events = new Float64Array(UDP_EVENTS.length);
  /** Unflushed bytes client → endpoint and endpoint → client. */
  upBytes = 0;
  downBytes = 0;
  listener: string;
  private readonly metrics: Metrics;
  private timer: NodeJS.Timeout | null = null;

  constructor(metrics: Metrics, listener: string) {
    this.metrics = metrics;
    this.listener = listener;
  }

  event(e: number): void {
    this.events[e]++;
    if (this.timer === null) this.arm();
  }

  up(n: number): void {
    this.upBytes += n;
    if (this.timer === null) this.arm();
  }

  down(n: number): void {
    this.downBytes += n;
    if (this.timer === null) this.arm();
  }

  /** Pushes every unflushed count into the metrics now (also before a rename and at shutdown). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const listener = this.listener;
    const ev = this.events;
    for (let i = 0; i < ev.length; i++) {
      if (ev[i] === 0) continue;
      this.metrics.l4Events.inc({ listener, event: UDP_EVENTS[i] }, ev[i]);
      ev[i] = 0;
    }
    if (this.upBytes > 0) this.metrics.l4Bytes.inc({ listener, direction: 'upstream' }, this.upBytes);
    if (this.downBytes > 0) this.metrics.l4Bytes.inc({ listener, direction: 'downstream' }, this.downBytes);
    this.upBytes = 0;
    this.downBytes = 0;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }
}
