/**
 * What an HTTP/2 stream (stream.ts) adds around balancing, kept apart so the stream's own file stays
 * about the exchange:
 * - the glue to the protocol-neutral middleware and affinity phases (middlewares/phases.ts): the
 *   stream's `Exchange` built field by field from the header block as received (HTTP/2 may split
 *   `cookie`, RFC 9113 §8.2.3), and the response headers passed through the response phase;
 * - the upstream circuit-breaker gate (`circuitBreakers.maxPending` / `maxConnections`, as on the
 *   HTTP/1.1 path): checked only when a stream cannot go at once on a connected session or an idle
 *   agent socket.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import { Exchange } from '../middlewares/exchange.ts';
import { responsePhase } from '../middlewares/phases.ts';
import type { RouteHooks } from '../middlewares/types.ts';
import { fieldLists, responseFields, type H2RequestView } from './headers.ts';
import { h1Idle } from './upstream-h1.ts';
import { h2SessionState } from './upstream-h2.ts';

/** The stream's Exchange: fields as received (`raw`: node:http2's rawHeaders, name, value, …), target `:path`. */
export function streamExchange(view: H2RequestView, raw: readonly string[] | undefined, clientIp: string, routeName: string): Exchange {
  const names: string[] = [];
  const values: string[] = [];
  if (raw !== undefined) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i].charCodeAt(0) === 58) continue; // pseudo-header fields are not fields
      names.push(raw[i]);
      values.push(raw[i + 1]);
    }
  } else fieldLists(view.headers, names, values);
  const x = new Exchange(view);
  x.reset(view.uri, names, values, clientIp, routeName);
  return x;
}

/**
 * The response headers for the client after the route's response hooks and the pool's affinity
 * (`slot` answered; `pinned`/`honored` from the request phase).
 */
export function hookedResponse(
  x: Exchange, status: number, headers: OutgoingHttpHeaders, hooks: RouteHooks | null | undefined,
  pool: PoolRuntime, slot: number, pinned: number, honored: boolean,
): OutgoingHttpHeaders {
  const names: string[] = [];
  const values: string[] = [];
  fieldLists(headers, names, values);
  responsePhase(x, names, values, hooks, pool.affinity, slot, pinned, honored, Date.now());
  return responseFields(status, x.respNames, x.respValues);
}

/** The stream goes at once (connected session, idle agent socket): not pending. */
export const GATE_READY = 0;
/** The stream waits for a connection or session: counted in `pool.pending` until connected. */
export const GATE_WAIT = 1;
/** Refused by a breaker (answered 503 FULCRUM_E_CIRCUIT_OPEN, counted by breaker). */
export const GATE_OPEN = 2;

/** Whether an attempt on `ep` may start; a refusal is counted in the pool's breaker figures. */
export function connectionGate(pool: PoolRuntime, ep: Endpoint): number {
  const state = pool.config.upstreamProtocol === 'http2' ? h2SessionState(ep) : h1Idle(ep) ? 2 : 0;
  if (state === 2) return GATE_READY;
  const cb = pool.config.circuitBreakers;
  // maxPending: streams waiting for a connection or session; maxConnections: when one would be opened.
  const breaker = pool.pending >= cb.maxPending ? 'pending' : state === 0 && pool.openConnections() >= cb.maxConnections ? 'connections' : '';
  if (breaker === '') return GATE_WAIT;
  pool.health.breakerRejected(breaker);
  return GATE_OPEN;
}
