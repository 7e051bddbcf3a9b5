/**
 * Header rules middleware (route `headers`): `remove`, then `set`, then `add` on the request fields
 * sent to the server and on the response fields sent to the client (the order of Envoy's
 * request_headers_to_remove / _to_add and of HAProxy's http-request del-header / set-header /
 * add-header). Values are literal except a few variables, `%{client_ip}`, `%{host}`, `%{path}`,
 * `%{method}`, `%{route}` — `%{…}` rather than `${…}` because the config loader interpolates
 * `${VAR}` from the environment. Field names the schema refuses (framing, hop-by-hop, Host) never
 * reach here.
 */
import type { HeaderEditsConfig, HeaderRulesConfig } from '../../config/schema.ts';
import type { Exchange } from './exchange.ts';
import { registerMiddleware } from './registry.ts';
import type { Answer, Middleware } from './types.ts';

type Part = string | ((x: Exchange) => string);

const VARS: Record<string, (x: Exchange) => string> = {
  client_ip: (x) => x.clientIp,
  host: (x) => x.view.host,
  path: (x) => x.view.path,
  method: (x) => x.view.method,
  route: (x) => x.routeName,
};

/** A value: a literal string, or parts joined per request. */
type Value = string | Part[];

function compileValue(v: string): Value {
  if (!v.includes('%{')) return v;
  const parts: Part[] = [];
  let last = 0;
  for (const m of v.matchAll(/%\{([^}]*)\}/g)) {
    const f = Object.hasOwn(VARS, m[1]) ? VARS[m[1]] : undefined;
    if (f === undefined) continue; // the schema refuses unknown variables
    if (m.index > last) parts.push(v.slice(last, m.index));
    parts.push(f);
    last = m.index + m[0].length;
  }
  if (last < v.length) parts.push(v.slice(last));
  return parts;
}

function render(v: Value, x: Exchange): string {
  if (typeof v === 'string') return v;
  let s = '';
  for (const p of v) s += typeof p === 'string' ? p : p(x);
  return s;
}

/** One direction's edits, compiled. */
class Edits {
  /** Lowercased names removed: `remove` and the names of `set`. */
  readonly remove: string[];
  readonly addNames: string[];
  readonly addValues: Value[];

  constructor(c: HeaderEditsConfig) {
    const remove = (c.remove ?? []).map((n) => n.toLowerCase());
    this.addNames = [];
    this.addValues = [];
    for (const [n, v] of Object.entries(c.set ?? {})) {
      remove.push(n.toLowerCase());
      this.addNames.push(n);
      this.addValues.push(compileValue(v));
    }
    for (const [n, v] of Object.entries(c.add ?? {})) {
      this.addNames.push(n);
      this.addValues.push(compileValue(v));
    }
    this.remove = [...new Set(remove)];
  }
}

export class HeaderRules implements Middleware {
  private readonly req: Edits | null;
  private readonly resp: Edits | null;

  constructor(config: HeaderRulesConfig) {
    this.req = config.request === undefined ? null : new Edits(config.request);
    this.resp = config.response === undefined ? null : new Edits(config.response);
    if (this.req === null) this.onRequest = undefined;
    if (this.resp === null) this.onResponse = undefined;
  }

  onRequest?(x: Exchange): Answer | null {
    const e = this.req as Edits;
    for (const n of e.remove) x.removeRequest(n);
    for (let i = 0; i < e.addNames.length; i++) x.addRequest(e.addNames[i], render(e.addValues[i], x));
    return null;
  }

  onResponse?(x: Exchange): void {
    const e = this.resp as Edits;
    for (const n of e.remove) x.removeResponse(n);
    for (let i = 0; i < e.addNames.length; i++) x.addResponse(e.addNames[i], render(e.addValues[i], x));
  }
}

registerMiddleware({
  configKey: 'headers',
  order: 30,
  create: (config: HeaderRulesConfig) => new HeaderRules(config),
});
