/**
 * The middleware registry (DESIGN.md rule 2: one interface per kind of plug-in, one registry, no
 * switch on a name elsewhere). Each middleware file registers its kind; `compileRouteHooks` builds a
 * route's hooks from the sections of its config, ahead of time, once per snapshot.
 */
import type { Middleware, MiddlewareContext, MiddlewareKind, RouteHooks } from './types.ts';

const kinds: MiddlewareKind[] = [];

export function registerMiddleware(kind: MiddlewareKind): void {
  if (kinds.some((k) => k.configKey === kind.configKey)) throw new Error(`middleware for "${kind.configKey}" registered twice`);
  kinds.push(kind);
  kinds.sort((a, b) => a.order - b.order);
}

/** Route config sections that are middlewares (for docs and tests). */
export function middlewareKeys(): string[] {
  return kinds.map((k) => k.configKey);
}

/**
 * The hooks of a route whose config is `route` (sections read by configKey), or null when the route
 * has no middleware — the engine's plain path then costs one null check.
 */
export function compileRouteHooks(route: Record<string, unknown>, ctx: MiddlewareContext): RouteHooks | null {
  const request: Middleware[] = [];
  const response: Middleware[] = [];
  for (const k of kinds) {
    const section = route[k.configKey];
    if (section === undefined || section === null) continue;
    const mw = k.create(section as never, ctx);
    if (mw.onRequest !== undefined) request.push(mw);
    if (mw.onResponse !== undefined) response.unshift(mw); // response phase runs in reverse order
  }
  if (request.length === 0 && response.length === 0) return null;
  return { request: request.length > 0 ? request : null, response: response.length > 0 ? response : null };
}
