/**
 * What one request keeps for its retries, and the retry policy both engines apply (HTTP/1.1:
 * http1/client.ts, HTTP/2: http2/stream.ts; docs/health.md "Retries"): attempts made, endpoints
 * already tried (excluded from the next pick), the request body kept for a replay while it fits in
 * `bufferBody`, and whether a retry may be made. One class for both, so the rules cannot drift.
 */
import type { Endpoint, PoolRuntime } from '../runtime/pool.ts';
import { backoffDelay } from '../health/retry-budget.ts';

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

  /** Back to a fresh request (HTTP/1.1 reuses one per connection). */
  reset(): void {
    this.attempt = 0;
    this.replay = null;
    this.replayBytes = 0;
    this.bodyTouched = false;
    this.retriedSame = false;
    this.tried = null;
  }

  /**
   * Notes a body chunk; keeps it for a replay while the body stays within `limit` bytes. Chunks are
   * kept by reference: Node does not reuse the buffers it hands to 'data' listeners.
   */
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

  /** Delay before the retry next() chose (full-jitter backoff after `attempt` attempts), in ms. */
  backoffMs(pool: PoolRuntime): number {
    const b = pool.config.retries.backoff;
    return backoffDelay(this.attempt, b.base, b.max, Math.random);
  }
}
