/**
 * The two phases of a route's middlewares and its pool's session affinity, protocol-neutral, as
 * every L7 engine runs them (HTTP/1.1: http1/client.ts; HTTP/2 streams: http2/stream.ts). Order
 * (docs/middlewares.md): request hooks (rate limit → path rewrite → header rules), then affinity's
 * pin, then balancing; on the response, the response hooks then affinity (its Set-Cookie, learning).
 * An engine calls these only when the route has hooks or the pool has affinity: its plain path stays
 * a null check.
 */
import type { Affinity } from '../affinity/index.ts';
import type { Exchange } from './exchange.ts';
import type { Answer, RouteHooks } from './types.ts';

/** Runs the route's request-phase hooks in order; the first Answer stops the chain and is returned. */
export function requestPhase(hooks: RouteHooks | null | undefined, x: Exchange, now: number): Answer | null {
  const mws = hooks == null ? null : hooks.request;
  if (mws === null) return null;
  for (let i = 0; i < mws.length; i++) {
    const answer = mws[i].onRequest!(x, now);
    if (answer !== null) return answer;
  }
  return null;
}

/**
 * Response phase: `x` gets the response fields as received (`names`/`values`), the route's response
 * hooks edit them, then the pool's affinity (`aff`, null when none) sees that endpoint `slot`
 * answered (-1: no endpoint) with `pinned`/`honored` as the request phase left them. The fields to
 * send are then `x.respNames` / `x.respValues`.
 */
export function responsePhase(
  x: Exchange, names: readonly string[], values: readonly string[], hooks: RouteHooks | null | undefined,
  aff: Affinity | null, slot: number, pinned: number, honored: boolean, now: number,
): void {
  x.startResponse(names, values);
  const mws = hooks == null ? null : hooks.response;
  if (mws !== null) for (let i = 0; i < mws.length; i++) mws[i].onResponse!(x);
  if (aff !== null && slot >= 0) aff.onResponse(x, slot, pinned, honored, now);
}
