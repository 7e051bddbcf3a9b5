/**
 * Response rate limiting per client network (the idea of BIND's and Knot's RRL, simplified to one
 * token bucket per /24 — /56 for IPv6 — whatever the answer): a network may get `responsesPerSecond`
 * responses with bursts of `burst`; beyond it responses are dropped, except every `slip`-th, which
 * goes out truncated (TC, no answer) so a real client behind a spoofed flood retries over TCP.
 * Pure: the clock is passed in. The table is bounded: past MAX_BUCKETS networks, it starts afresh.
 */
import type { Addr } from '../cidr.ts';

export const MAX_BUCKETS = 65536;

export interface RrlConfig {
  readonly responsesPerSecond: number;
  readonly burst: number;
  readonly slip: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
}

export type RrlVerdict = 'pass' | 'drop' | 'slip';

interface Bucket {
  tokens: number;
  last: number;
  limited: number;
}

export class RateLimiter {
  private readonly c: RrlConfig;
  private buckets = new Map<string, Bucket>();

  constructor(config: RrlConfig) {
    this.c = config;
  }

  get enabled(): boolean {
    return this.c.responsesPerSecond > 0;
  }

  /** Key of the client network of `addr`. */
  key(addr: Addr): string {
    const bits = addr.length === 4 ? this.c.ipv4PrefixLength : this.c.ipv6PrefixLength;
    let k = '';
    const full = bits >> 3;
    for (let i = 0; i < full; i++) k += addr[i] + '.';
    if ((bits & 7) !== 0) k += (addr[full] & (0xff << (8 - (bits & 7)))) + '.';
    return k + bits;
  }

  /** Whether one more response may go to `addr`'s network at `now` (ms). */
  check(addr: Addr, now: number): RrlVerdict {
    const k = this.key(addr);
    let b = this.buckets.get(k);
    if (b === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets = new Map();
      b = { tokens: this.c.burst, last: now, limited: 0 };
      this.buckets.set(k, b);
    } else {
      b.tokens = Math.min(this.c.burst, b.tokens + ((now - b.last) * this.c.responsesPerSecond) / 1000);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 'pass';
    }
    b.limited++;
    return this.c.slip > 0 && b.limited % this.c.slip === 0 ? 'slip' : 'drop';
  }
}
