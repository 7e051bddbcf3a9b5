/**
 * Hash-key extraction (pure). A pool's `hashKey` (normalized by the config: `source-ip`,
 * `header:name` lowercased, `cookie:NAME`, `query:NAME`, `path`, `uri`; for L4: `source-ip`,
 * `five-tuple` — the config accepts `five-tuple` once L4 listeners exist)
 * compiles once into an extractor; the data path calls it per request over a KeySource.
 * Values are the raw bytes as received — no percent-decoding, as nginx's `$arg_NAME`; a repeated
 * header, cookie or parameter contributes its first occurrence. undefined = the key is missing.
 *
 * The HTTP/1.1 data path asks for the key's bytes instead (`span`): where the key lies in the
 * buffer the request head was parsed from, handed to the balancer as PickContext.keyBytes — the
 * same bytes as the string, without cutting the string out (hashing a sliced string's characters
 * costs about twice reading the bytes). Sources without a buffer (HTTP/2, L4, the admin API) and
 * keys not in the head (source-ip, five-tuple) answer `false` there and go through `extract`.
 */

/** Where a key's bytes are: keyBytes[keyStart, keyEnd) (PickContext has these fields). */
export interface KeySpan {
  keyBytes?: Uint8Array | null;
  keyStart?: number;
  keyEnd?: number;
}

/** What a key can be read from (the L7 engine implements it over the parsed request). */
export interface KeySource {
  /** Client address (the peer, or the trusted X-Forwarded-For origin when configured later). */
  readonly sourceIp: string;
  /** Request target before '?'. */
  readonly path: string;
  /** The whole request target (path and query), as received. */
  readonly uri: string;
  header(lowerName: string): string | undefined;
  cookie(name: string): string | undefined;
  queryParam(name: string): string | undefined;
  /**
   * L4 only: `protocol src-ip src-port dst-ip dst-port` of the connection or flow (undefined on L7,
   * where the client port changes with every connection and would defeat affinity).
   */
  readonly fiveTuple?: string;
  /**
   * HTTP/1.1 only: fill `out` with where the key lies in the request buffer (an empty range when
   * it is missing) and return true; absent when the source has no buffer.
   */
  headerSpan?(lowerName: string, out: KeySpan): boolean;
  cookieSpan?(name: string, out: KeySpan): boolean;
  querySpan?(name: string, out: KeySpan): boolean;
  pathSpan?(out: KeySpan): boolean;
  uriSpan?(out: KeySpan): boolean;
}

/** An extractor: one class per key kind, chosen once at compile time (no per-request switch). */
export interface KeyExtractor {
  readonly spec: string;
  extract(src: KeySource): string | undefined;
  /**
   * Fills `out` with the key's bytes in the source's buffer and returns true (an empty range = the
   * key is missing), or returns false when the source cannot say (use `extract`).
   */
  span(src: KeySource, out: KeySpan): boolean;
}

function noSpan(): boolean {
  return false;
}

class SourceIp implements KeyExtractor {
  readonly spec = 'source-ip';
  extract(src: KeySource): string | undefined {
    return src.sourceIp === '' ? undefined : src.sourceIp;
  }
  span = noSpan;
}

class PathKey implements KeyExtractor {
  readonly spec = 'path';
  extract(src: KeySource): string | undefined {
    return src.path;
  }
  span(src: KeySource, out: KeySpan): boolean {
    return src.pathSpan !== undefined && src.pathSpan(out);
  }
}

class UriKey implements KeyExtractor {
  readonly spec = 'uri';
  extract(src: KeySource): string | undefined {
    return src.uri;
  }
  span(src: KeySource, out: KeySpan): boolean {
    return src.uriSpan !== undefined && src.uriSpan(out);
  }
}

class HeaderKey implements KeyExtractor {
  readonly spec: string;
  private readonly name: string;
  constructor(name: string) {
    this.name = name.toLowerCase();
    this.spec = `header:${this.name}`;
  }
  extract(src: KeySource): string | undefined {
    return src.header(this.name);
  }
  span(src: KeySource, out: KeySpan): boolean {
    return src.headerSpan !== undefined && src.headerSpan(this.name, out);
  }
}

class CookieKey implements KeyExtractor {
  readonly spec: string;
  private readonly name: string;
  constructor(name: string) {
    this.name = name;
    this.spec = `cookie:${name}`;
  }
  extract(src: KeySource): string | undefined {
    return src.cookie(this.name);
  }
  span(src: KeySource, out: KeySpan): boolean {
    return src.cookieSpan !== undefined && src.cookieSpan(this.name, out);
  }
}

class QueryKey implements KeyExtractor {
  readonly spec: string;
  private readonly name: string;
  constructor(name: string) {
    this.name = name;
    this.spec = `query:${name}`;
  }
  extract(src: KeySource): string | undefined {
    return src.queryParam(this.name);
  }
  span(src: KeySource, out: KeySpan): boolean {
    return src.querySpan !== undefined && src.querySpan(this.name, out);
  }
}

class FiveTupleKey implements KeyExtractor {
  readonly spec = 'five-tuple';
  extract(src: KeySource): string | undefined {
    return src.fiveTuple;
  }
  span = noSpan;
}

const FIXED: Record<string, () => KeyExtractor> = {
  'source-ip': () => new SourceIp(),
  'five-tuple': () => new FiveTupleKey(),
  path: () => new PathKey(),
  uri: () => new UriKey(),
};

const PREFIXED: Record<string, (name: string) => KeyExtractor> = {
  header: (n) => new HeaderKey(n),
  cookie: (n) => new CookieKey(n),
  query: (n) => new QueryKey(n),
};

/** Compiles a normalized hash-key spec; throws on an unknown spec (the config validator refuses those first). */
export function compileKey(spec: string): KeyExtractor {
  const fixed = Object.hasOwn(FIXED, spec) ? FIXED[spec] : undefined;
  if (fixed) return fixed();
  const colon = spec.indexOf(':');
  const kind = colon > 0 ? spec.slice(0, colon) : '';
  const make = Object.hasOwn(PREFIXED, kind) ? PREFIXED[kind] : undefined;
  if (make && colon < spec.length - 1) return make(spec.slice(colon + 1));
  throw new Error(`unknown hash key "${spec}"`);
}
