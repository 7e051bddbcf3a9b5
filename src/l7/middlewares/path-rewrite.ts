/**
 * Path rewrite middleware (route `rewrite`): `stripPrefix` (Traefik's StripPrefix: a literal
 * prefix of the path is removed; an empty result becomes `/`) or `replacePrefix` (`from` → `to`,
 * nginx's `proxy_pass http://b/new/` under `location /old/`). Only the path changes: the query
 * string and fragment are kept byte for byte. Targets that are not origin-form (`*`, absolute
 * URIs) are left alone. Route matching, hash keys and rate-limit keys use the path as received.
 */
import type { RewriteConfig } from '../../config/schema.ts';
import type { Exchange } from './exchange.ts';
import { registerMiddleware } from './registry.ts';
import type { Answer, Middleware } from './types.ts';

export class PathRewrite implements Middleware {
  private readonly from: string;
  private readonly to: string;

  constructor(config: RewriteConfig) {
    if (config.replacePrefix !== undefined) {
      this.from = config.replacePrefix.from;
      this.to = config.replacePrefix.to;
    } else {
      this.from = config.stripPrefix ?? '/';
      this.to = '';
    }
  }

  onRequest(x: Exchange): Answer | null {
    x.target = rewritePrefix(x.target, this.from, this.to);
    return null;
  }
}

/** `target` with the path prefix `from` replaced by `to` (a path left empty becomes `/`); unchanged without the prefix. */
export function rewritePrefix(target: string, from: string, to: string): string {
  if (!target.startsWith(from)) return target;
  let rest = target.slice(from.length);
  if (rest === '' || rest[0] === '?' || rest[0] === '#') {
    // The whole path was the prefix.
    return (to === '' ? '/' : to) + rest;
  }
  if (to === '' && rest[0] !== '/') rest = '/' + rest;
  else if (to.endsWith('/') && rest[0] === '/') rest = rest.slice(1);
  return to + rest;
}

registerMiddleware({
  configKey: 'rewrite',
  order: 20,
  create: (config: RewriteConfig) => new PathRewrite(config),
});
