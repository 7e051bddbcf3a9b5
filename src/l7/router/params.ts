/**
 * Raw query-parameter and cookie lookup without decoding, shared by the router and hash-key
 * extraction. Query: split on '&', name '=' value (`from` finds later occurrences), a parameter without '='
 * has value '' — the raw bytes as received, like nginx's $arg_NAME (but names are case-sensitive).
 * Cookie: RFC 6265 §5.4 / §4.2.1 `cookie-string`, parsed leniently as servers do: split on ';',
 * trim spaces and tabs, name up to the first '=' (`nth` picks a later occurrence).
 * Hand-written: the hot path needs lookups that allocate nothing but the returned value.
 */

/**
 * Offset in `query` where the value of parameter `name` starts, or -1 when absent. The value runs to
 * the next '&' (see `queryValueEnd`). `name` must not be empty.
 */
export function queryValueStart(query: string, name: string, from = 0, limit = query.length): number {
  const n = limit;
  const len = name.length;
  let pos = from;
  while (pos <= n) {
    let end = query.indexOf('&', pos);
    if (end === -1 || end > n) end = n;
    if (end - pos >= len && query.startsWith(name, pos)) {
      const after = pos + len;
      if (after === end) return after;
      if (query.charCodeAt(after) === 61 /* = */) return after + 1;
    }
    pos = end + 1;
  }
  return -1;
}

/** End (exclusive) of the query value starting at `start` (the query ends at `limit`). */
export function queryValueEnd(query: string, start: number, limit = query.length): number {
  const end = query.indexOf('&', start);
  return end === -1 || end > limit ? limit : end;
}

/** The raw value of query parameter `name` ('' when written without '='), or undefined. */
export function queryParam(query: string, name: string): string | undefined {
  const start = queryValueStart(query, name);
  return start === -1 ? undefined : query.slice(start, queryValueEnd(query, start));
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * The value of cookie `name` in a Cookie header value (several Cookie fields joined with '; '), or
 * undefined. A pair without '=' is a cookie of that name with value ''. Quotes are kept as sent.
 */
export function findCookie(header: string, name: string, nth = 0): string | undefined {
  return cookieSpan(header, name, nth, SPAN) ? header.slice(SPAN.start, SPAN.end) : undefined;
}

const SPAN = { start: 0, end: 0 };

/**
 * Where the value of cookie `name` lies in a Cookie header value: fills `out` with [start, end)
 * (quotes kept, surrounding spaces and tabs trimmed; start === end for a pair without '=') and
 * returns true, or returns false when there is no such cookie. Allocates nothing.
 */
export function cookieSpan(header: string, name: string, nth: number, out: { start: number; end: number }): boolean {
  const n = header.length;
  let pos = 0;
  while (pos < n) {
    let end = header.indexOf(';', pos);
    if (end === -1) end = n;
    let s = pos;
    while (s < end && isOws(header.charCodeAt(s))) s++;
    let eq = header.indexOf('=', s);
    if (eq === -1 || eq > end) eq = end;
    let ne = eq;
    while (ne > s && isOws(header.charCodeAt(ne - 1))) ne--;
    if (ne - s === name.length && header.startsWith(name, s) && nth-- === 0) {
      if (eq === end) {
        out.start = out.end = end;
        return true;
      }
      let vs = eq + 1;
      let ve = end;
      while (vs < ve && isOws(header.charCodeAt(vs))) vs++;
      while (ve > vs && isOws(header.charCodeAt(ve - 1))) ve--;
      out.start = vs;
      out.end = ve;
      return true;
    }
    pos = end + 1;
  }
  return false;
}
