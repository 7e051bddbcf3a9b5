/**
 * The L7 router's data shapes. `RouteSpec` is the output shape of the config schema's route entry
 * (kept structurally identical); `RequestView` is what the HTTP engine exposes of a parsed request
 * head, lazily; `Router` is the compiled, immutable matcher swapped in with each snapshot.
 */

/** A condition on one header, query parameter or cookie. */
export interface ValueMatch {
  /** Header names are lowercased by the schema (the router lowercases them again); query and cookie names are case-sensitive. */
  name: string;
  /** The value equals this string exactly (raw bytes as received; no decoding). */
  exact?: string;
  /** The value matches this unanchored JavaScript RegExp (anchor with ^ and $). */
  regex?: string;
  /** true: the value exists; false: it does not. With none of exact/regex/present, `present: true` is meant. */
  present?: boolean;
}

/** Path conditions; every one given must hold. */
export interface PathMatch {
  /** Plain string prefix of the raw path (`/api` also matches `/apix`; write `/api/` for a segment). */
  prefix?: string;
  /** The raw path equals this string. */
  exact?: string;
  /** Unanchored JavaScript RegExp tested against the raw path (anchor with ^ and $). */
  regex?: string;
}

/** A route's conditions; a missing condition matches anything, all given ones must hold. */
export interface RouteMatch {
  /** Host names, case-insensitive; `*.example.com` matches a name with at least one label before `.example.com`. */
  host?: string[];
  path?: PathMatch;
  /** Methods, case-sensitive (the schema uppercases them). */
  method?: string[];
  headers?: ValueMatch[];
  query?: ValueMatch[];
  cookies?: ValueMatch[];
}

/** One destination of a route; several make a weighted split (integer weights ≥ 0, 0 = never). */
export interface RouteTarget {
  pool: string;
  weight: number;
}

export interface RouteSpec {
  name: string;
  match: RouteMatch;
  targets: RouteTarget[];
  /** Answer with a redirect to `scheme` instead of proxying (no targets then); docs/tls.md. */
  redirect?: { scheme: string; code: number; port?: number };
  /** Strict-Transport-Security value added to responses sent over https (RFC 6797); docs/tls.md. */
  hsts?: string;
}

/** The request as the router sees it. The engine implements it over its parsed head, lazily. */
export interface RequestView {
  /** As received, e.g. 'GET'. */
  readonly method: string;
  /** Host header lowercased, port stripped ('' if none); an IPv6 literal '[::1]' keeps its brackets. */
  readonly host: string;
  /** The request target before '?' (raw, not decoded). */
  readonly path: string;
  /** Raw text after '?' ('' if none), without any '#' fragment. */
  readonly query: string;
  /** Value of the `nth` (default 0: first) occurrence of that header, or undefined. */
  header(lowerName: string, nth?: number): string | undefined;
  /** Value of the `nth` (default 0) occurrence of that cookie in the Cookie header(s), or undefined (see `findCookie`). */
  cookie(name: string, nth?: number): string | undefined;
}

export interface CompiledRoute {
  readonly name: string;
  /** Position of the route in the listener's list. */
  readonly index: number;
  readonly spec: RouteSpec;
  /** The pool for this request: smooth weighted round robin over the targets (90/10 is exact over every 100 picks). */
  pickPool(): string;
}

export interface Router {
  /** The first route whose every condition holds, or null (→ FULCRUM_E_NO_ROUTE). Allocation-free except for regexes on query values. */
  match(req: RequestView): CompiledRoute | null;
  readonly routes: readonly CompiledRoute[];
  /** The matching route, and for every route tried before it, why it did not match (diagnostics; allocates). */
  explain(req: RequestView): { route: CompiledRoute | null; rejected: { name: string; reason: string }[] };
}
