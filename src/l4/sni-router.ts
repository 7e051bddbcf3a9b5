/**
 * SNI routing for `tls-passthrough` listeners (pure: no socket, timer or file module).
 *
 * Anchors: RFC 6066 §3 (server_name: a DNS host name, no trailing dot, compared case-insensitively),
 * the idea of Envoy's tls_inspector + filter-chain `server_names` and HAProxy's `req.ssl_sni` ACLs.
 *
 * Semantics (docs/l4.md): `sniRoutes` are tried in config order and the first route naming the
 * server name wins. A name is an exact host (`a.example.com`) or `*.example.com`, which matches any
 * sub-domain at any depth (`x.example.com`, `a.b.example.com`) but not the apex `example.com`.
 * Compiled once per config into two maps (exact name → first route index, wildcard suffix → first
 * route index); a lookup costs one exact probe plus one probe per dot of the name, and returns
 * the lowest route index among the hits — the same answer as walking the routes in order.
 */

export interface SniRouteConfig {
  readonly serverNames: readonly string[];
  readonly pool: string;
}

export class SniRouter {
  /** Pool of each route, by route index. */
  private readonly pools: readonly string[];
  /** Exact server name → index of the first route that names it. */
  private readonly exact = new Map<string, number>();
  /** `.example.com` (from `*.example.com`) → index of the first route that names it. */
  private readonly wild = new Map<string, number>();

  constructor(routes: readonly SniRouteConfig[]) {
    this.pools = routes.map((r) => r.pool);
    routes.forEach((r, i) => {
      for (const raw of r.serverNames) {
        const name = raw.toLowerCase();
        if (name.startsWith('*.')) {
          const suffix = name.slice(1);
          if (!this.wild.has(suffix)) this.wild.set(suffix, i);
        } else if (!this.exact.has(name)) this.exact.set(name, i);
      }
    });
  }

  get size(): number {
    return this.pools.length;
  }

  /**
   * The pool of the first route matching `serverName`, or null when none does (the caller falls back
   * to the listener's default pool). The name is lowercased and a trailing dot dropped first.
   */
  route(serverName: string): string | null {
    let name = serverName.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name === '') return null;
    let best = this.exact.get(name) ?? -1;
    if (this.wild.size > 0) {
      // Every proper suffix starting at a dot: `a.b.example.com` → `.b.example.com`, `.example.com`, `.com`.
      for (let dot = name.indexOf('.'); dot > 0 && dot < name.length - 1; dot = name.indexOf('.', dot + 1)) {
        const w = this.wild.get(name.slice(dot));
        if (w !== undefined && (best < 0 || w < best)) best = w;
      }
    }
    return best < 0 ? null : this.pools[best];
  }
}
