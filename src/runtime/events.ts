/**
 * The process-wide event feed of the admin API: every health flip, ejection, soft-drain step, panic
 * and drain change of every pool (PoolHealth emits them), plus reloads and admin actions, each with
 * a human-readable reason and a sequence number (`id`, 1, 2, 3 … never reused while the process
 * lives). A bounded ring (the last FEED_SIZE events): readers page with `since(id)`, the way a
 * Kubernetes watch resumes from a resourceVersion; a reader that fell further behind than the ring
 * is told so (`truncated`).
 */

/** Events kept by the feed. */
export const FEED_SIZE = 1000;

export type FeedKind = 'health' | 'ejection' | 'gray' | 'panic' | 'drain' | 'reload' | 'admin';

export interface FeedEvent {
  readonly id: number;
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
  readonly kind: FeedKind;
  /** Pool concerned, or null (reloads, config replacements). */
  readonly pool: string | null;
  /** Endpoint address, or null for pool-wide and process-wide events. */
  readonly server: string | null;
  /** What it turned into (`down`, `ejected`, `weight 50%`, `generation 4`, `refused`, …). */
  readonly to: string;
  readonly reason: string;
  /** Admin actions: who did it (token fingerprint, never the token) and from where. */
  readonly actor?: string;
}

export type FeedInput = Omit<FeedEvent, 'id' | 'at'> & { at?: number };

export class EventFeed {
  private readonly ring: FeedEvent[] = [];
  private nextId = 1;
  private readonly size: number;
  private readonly listeners = new Set<(ev: FeedEvent) => void>();

  constructor(size = FEED_SIZE) {
    this.size = size;
  }

  /** Appends one event (and tells the subscribers). Returns it with its id. */
  push(input: FeedInput): FeedEvent {
    const ev: FeedEvent = { id: this.nextId++, at: input.at ?? Date.now(), ...stripAt(input) };
    this.ring.push(ev);
    if (this.ring.length > this.size) this.ring.splice(0, this.ring.length - this.size);
    for (const l of this.listeners) l(ev);
    return ev;
  }

  /** The id the next event will get (a reader that has seen everything passes `lastId()` as since). */
  lastId(): number {
    return this.nextId - 1;
  }

  /**
   * Events with id > `since`, oldest first, at most `limit`. `truncated` is true when events after
   * `since` were already dropped from the ring (the reader missed some).
   */
  since(since: number, limit = this.size): { events: FeedEvent[]; truncated: boolean; last: number } {
    // Events since+1 … first−1 were dropped from the ring: the reader missed them.
    const truncated = this.ring.length > 0 && since < this.ring[0].id - 1;
    const out: FeedEvent[] = [];
    for (const ev of this.ring) {
      if (ev.id > since) out.push(ev);
      if (out.length >= limit) break;
    }
    return { events: out, truncated, last: this.lastId() };
  }

  subscribe(fn: (ev: FeedEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

function stripAt(input: FeedInput): Omit<FeedEvent, 'id' | 'at'> {
  const { at: _at, ...rest } = input;
  return rest;
}
