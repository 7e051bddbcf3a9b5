/**
 * Hash-key extraction (pure). A pool's `hashKey` (normalized by the config: `source-ip`,
 * `header:name` lowercased, `cookie:NAME`, `query:NAME`, `path`, `uri`; for L4: `source-ip`,
 * `five-tuple` — the config accepts `five-tuple` once L4 listeners exist)
 * compiles once into an extractor; the data path calls it per request over a KeySource.
 * Values are the raw bytes as received — no percent-decoding, as nginx's `$arg_NAME`; a repeated
 * header, cookie or parameter contributes its first occurrence. undefined = the key is missing.
 */

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
}

/** An extractor: one class per key kind, chosen once at compile time (no per-request switch). */
export interface KeyExtractor {
  readonly spec: string;
  extract(src: KeySource): string | undefined;
}

class SourceIp implements KeyExtractor {
  readonly spec = 'source-ip';
  extract(src: KeySource): string | undefined {
    return src.sourceIp === '' ? undefined : src.sourceIp;
  }
}

class PathKey implements KeyExtractor {
  readonly spec = 'path';
  extract(src: KeySource): string | undefined {
    return src.path;
  }
}

class UriKey implements KeyExtractor {
  readonly spec = 'uri';
  extract(src: KeySource): string | undefined {
    return src.uri;
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
}

class FiveTupleKey implements KeyExtractor {
  readonly spec = 'five-tuple';
  extract(src: KeySource): string | undefined {
    return src.fiveTuple;
  }
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
