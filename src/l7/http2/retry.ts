/**
 * What one HTTP/2 request keeps for its retries, with the same rules as the HTTP/1.1 path
 * (http1/client.ts; docs/health.md "Retries"): attempts made, endpoints already tried (excluded
 * from the next pick), and the request body kept for a replay while it fits in `bufferBody`.
 */
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';

export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export class RetryState {
  /** Attempts started (1 = the first). */
  attempt = 0;
  /** Body chunks kept for a replay; null when not kept (retries off, or the body outgrew the limit). */
  replay: Buffer[] | null = null;
  replayBytes = 0;
  /** Some body byte has been received (and passed on or kept). */
  bodyTouched = false;
  /** The one retry on the same endpoint (reused connection closed, stream refused) was made. */
  retriedSame = false;
  private tried: Uint8Array | null = null;

  /** Notes a body chunk; keeps it for a replay while the body stays within `limit` bytes. */
  keep(chunk: Buffer, limit: number): void {
    this.bodyTouched = true;
    const r = this.replay;
    if (r === null) return;
    this.replayBytes += chunk.length;
    if (this.replayBytes > limit) this.replay = null;
    else r.push(chunk);
  }

  /**
   * The endpoint for a retry after attempt on `ep` failed with `kind` (`connect-failure`, `reset`,
   * `timeout` or a status), or null when none may be made: no attempt left, `kind` not in
   * `retries.on`, a non-idempotent request already `sent`, a body not kept, no other endpoint, or
   * the retry budget spent. A retry made is counted in the pool's figures.
   */
  next(pool: PoolRuntime, ep: Endpoint, kind: string | number, sent: boolean, method: string, key: string | undefined): Endpoint | null {
    const r = pool.config.retries;
    if (this.attempt >= r.attempts || !r.on.includes(kind as never)) return null;
    if (sent && !IDEMPOTENT.has(method)) return null;
    if (this.bodyTouched && this.replay === null) return null;
    const tried = (this.tried ??= new Uint8Array(pool.endpoints.length));
    tried[ep.index] = 1;
    const next = pool.pick(key, tried);
    if (next === null) return null;
    if (!pool.health.budget.tryRetry(Date.now())) {
      pool.health.retriesRefused++;
      return null;
    }
    pool.health.retries++;
    return next;
  }
}
