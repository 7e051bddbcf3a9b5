/**
 * The L7 middlewares: importing this module registers every kind (one file each) and gives the
 * hook compiler. `attachRouteHooks` resolves each route's hooks once per snapshot and stores them on
 * the compiled route (`HookedRoute.hooks`, null when the route has none).
 */
import './rate-limit.ts';
import './path-rewrite.ts';
import './header-rules.ts';
import type { CompiledRoute, Router } from '../router/types.ts';
import type { Metrics } from '../../admin/metrics.ts';
import { compileRouteHooks } from './registry.ts';
import type { RouteHooks } from './types.ts';

export type { RouteHooks, Middleware, Answer, MiddlewareContext } from './types.ts';
export { Exchange } from './exchange.ts';
export { compileRouteHooks, middlewareKeys } from './registry.ts';

/** A compiled route with its resolved hooks (undefined before attachRouteHooks ran, null when none). */
export type HookedRoute = CompiledRoute & { hooks?: RouteHooks | null };

/** Resolves and stores the hooks of every route of `router` (listener `listener`). */
export function attachRouteHooks(router: Router, listener: string, metrics: Metrics | null): void {
  for (const route of router.routes) {
    const r = route as HookedRoute;
    if (r.hooks !== undefined) continue; // already resolved for this snapshot
    r.hooks = compileRouteHooks(route.spec as unknown as Record<string, unknown>, { listener, route: route.name, metrics });
  }
}
