/**
 * The middleware interface of Fulcrum's L7 data path (DESIGN.md: "middlewares, one file each",
 * hooks resolved per route ahead of time, null when empty — the fastify/undici hook-list model).
 *
 * A middleware is built once per route from its config section and has up to two hooks:
 * - request phase (`onRequest`): after the route matched, before a server is picked. It may answer
 *   the request itself (return an `Answer`: 429 for a rate limit) or edit the request: its fields
 *   and its target (path rewrite).
 * - response phase (`onResponse`): when a server's response head arrives, before it is sent on. It
 *   may edit the response fields (add `Set-Cookie`, remove `Server`, …).
 *
 * Hooks see an `Exchange`, which is protocol-neutral (field names and values as two arrays, the
 * request view the router uses): the HTTP/1.1 engine fills it now, HTTP/2 can fill it the same way.
 */
import type { RequestView } from '../router/types.ts';
import type { KeySource } from '../../balancing/keys.ts';
import type { ErrorCode } from '../../core/errors.ts';
import type { Metrics } from '../../admin/metrics.ts';
import type { Exchange } from './exchange.ts';

/** A response a request-phase hook gives instead of forwarding the request. */
export interface Answer {
  status: number;
  code: ErrorCode;
  /** Extra fields of the generated response (protocol-neutral: the engine writes them its way). */
  names: readonly string[];
  values: readonly string[];
}

/** What the engine exposes of one request and its response to hooks. */
export interface ExchangeView {
  /** The request as the router sees it (method, host, path, query, header(), cookie(), sourceIp…). */
  readonly view: RequestView & KeySource;
  readonly clientIp: string;
  readonly routeName: string;
}

export interface Middleware {
  /** Request phase: return an Answer to respond at once (the request goes no further), else null. */
  onRequest?(x: Exchange, now: number): Answer | null;
  /** Response phase: edit the response fields (x.respNames / x.respValues through x's methods). */
  onResponse?(x: Exchange): void;
}

/** Where a middleware is built (labels for metrics, logs). */
export interface MiddlewareContext {
  readonly listener: string;
  readonly route: string;
  /** The process's metrics (null in unit tests). */
  readonly metrics: Metrics | null;
}

/**
 * A kind of middleware: the route config section it reads (`configKey`), its place in the chain
 * (`order`: lower runs first in the request phase and last in the response phase) and its factory.
 */
export interface MiddlewareKind {
  readonly configKey: string;
  readonly order: number;
  create(config: never, ctx: MiddlewareContext): Middleware;
}

/** A route's hooks, resolved when the snapshot is built. A list is null when no middleware has that hook. */
export interface RouteHooks {
  readonly request: readonly Middleware[] | null;
  readonly response: readonly Middleware[] | null;
}
