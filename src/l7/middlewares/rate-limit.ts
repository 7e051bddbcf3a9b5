/**
 * Rate-limit middleware (route `rateLimit`): a token bucket per request key (token-bucket.ts) —
 * `source-ip`, `header:NAME`, `cookie:NAME`, … read by the hash-key extractors of balancing/keys.ts.
 * Over the limit the request is answered 429 FULCRUM_E_RATE_LIMITED with `Retry-After` (RFC 9110
 * §10.2.3, whole seconds) and the `RateLimit-Policy` / `RateLimit` fields of
 * draft-ietf-httpapi-ratelimit-headers (-10/-11, structured-field form):
 *   RateLimit-Policy: "default";q=600;w=60     quota q requests per window w seconds
 *   RateLimit: "default";r=0;t=2               r left, t seconds until the quota is available again
 * and counted in `fulcrum_rate_limited_total{listener,route}`. Buckets survive a reload that keeps the
 * route's name and limit.
 */
import { compileKey, type KeyExtractor } from '../../balancing/keys.ts';
import type { RateLimitConfig } from '../../config/schema.ts';
import type { Exchange } from './exchange.ts';
import { registerMiddleware } from './registry.ts';
import { TokenBuckets } from './token-bucket.ts';
import type { Answer, Middleware, MiddlewareContext } from './types.ts';

/**
 * Buckets by listener, route and rate-limit config, so a reload that leaves a route's limit as it
 * was keeps its buckets (a reload is not a way to get a fresh burst). Weak: the buckets go with the
 * last snapshot that uses them.
 */
const live = new Map<string, WeakRef<TokenBuckets>>();
const gone = new FinalizationRegistry<string>((key) => {
  const ref = live.get(key);
  if (ref !== undefined && ref.deref() === undefined) live.delete(key);
});

function bucketsFor(config: RateLimitConfig, ctx: MiddlewareContext, burst: number): TokenBuckets {
  const key = ctx.listener + '\0' + ctx.route + '\0' + JSON.stringify(config);
  const kept = live.get(key)?.deref();
  if (kept !== undefined) return kept;
  const b = new TokenBuckets(config.rate.count / config.rate.windowMs, burst, config.maxKeys);
  live.set(key, new WeakRef(b));
  gone.register(b, key);
  return b;
}

export class RateLimit implements Middleware {
  readonly buckets: TokenBuckets;
  private readonly key: KeyExtractor;
  private readonly policyName: string;
  private readonly counter: { inc(): void } | null;
  /** The 429 answer, reused: Retry-After, RateLimit-Policy (fixed per route) and RateLimit values. */
  private readonly answerValues: string[] = ['', '', ''];
  private readonly answer: Answer = {
    status: 429, code: 'FULCRUM_E_RATE_LIMITED', names: ['Retry-After', 'RateLimit-Policy', 'RateLimit'], values: this.answerValues,
  };

  constructor(config: RateLimitConfig, ctx: MiddlewareContext) {
    const burst = config.burst ?? Math.max(1, Math.round(config.rate.count));
    this.buckets = bucketsFor(config, ctx, burst);
    this.key = compileKey(config.key);
    this.policyName = config.policy;
    const w = Math.max(1, Math.round(config.rate.windowMs / 1000));
    this.answerValues[1] = `"${config.policy}";q=${Math.round(config.rate.count)};w=${w}`;
    this.counter = ctx.metrics === null ? null : ctx.metrics.rateLimited.labels(ctx.listener, ctx.route);
  }

  onRequest(x: Exchange, now: number): Answer | null {
    const k = this.key.extract(x.view);
    if (k === undefined || k === '') return null; // no key: not limited (nginx limit_req)
    const r = this.buckets.take(k, now);
    if (r.allowed) return null;
    const t = Math.max(1, Math.ceil(r.waitMs / 1000));
    this.counter?.inc();
    const v = this.answerValues;
    v[0] = String(t);
    v[2] = '"' + this.policyName + '";r=0;t=' + t;
    return this.answer;
  }
}

registerMiddleware({
  configKey: 'rateLimit',
  order: 10,
  create: (config: RateLimitConfig, ctx: MiddlewareContext) => new RateLimit(config, ctx),
});
