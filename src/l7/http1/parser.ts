/**
 * Strict, allocation-light HTTP/1.x message-head parser for the proxy engine.
 *
 * Implements RFC 9112 §2.2 (message parsing robustness: CRLF only, leading empty lines),
 * §3 (request line), §4 (status line), §5 (field syntax, no obs-fold, no whitespace before ":"),
 * §6.1–§6.3 (Transfer-Encoding / Content-Length framing and smuggling defences), §9.3 (persistence)
 * and RFC 9110 §5.6 (tokens, lists), §7.2 (Host), §7.6.1 (Connection), §10.1.1 (Expect).
 *
 * Hand-written instead of node:http / llhttp because the engine runs on raw sockets and needs the
 * raw field list, limits enforced before the head is complete, and ~1 µs per head: bytes are
 * classified with Uint8Array lookup tables, strings are sliced once per field, and the framing
 * fields are recognised by comparing bytes in place.
 */
import {
  CR, LF, SP, HTAB, COLON, TCHAR, FIELD, TARGET, latin1, fail, fieldId, fieldValueEnd, fieldSemantics, F, FID_HOST,
  TE_FINAL_CHUNKED, TE_TWICE, TE_OTHER, CONN_CLOSE, CONN_KEEPALIVE, CONN_UPGRADE,
} from './tokens.ts';

export { HttpParseError, HOP_BY_HOP } from './tokens.ts';
export { ChunkedScanner } from './chunked.ts';

/** Size limits of a message head. Defaults: requestLine 8192, headerBytes 32768, headerCount 100. */
export interface HeadLimits {
  /** Longest request line / status line, CRLF excluded (default 8192); over it → 414 (502 upstream). */
  requestLine: number;
  /** Longest header section: all field lines plus the final empty line (default 32768); over it → 431. */
  headerBytes: number;
  /** Most field lines (default 100); over it → 431. */
  headerCount: number;
}

/** requestLine 8192, headerBytes 32768, headerCount 100. */
export const DEFAULT_LIMITS: HeadLimits = Object.freeze({ requestLine: 8192, headerBytes: 32768, headerCount: 100 });

/** A parsed request head. All strings are latin1 views of the received bytes. */
export interface RequestHead {
  method: string;
  target: string;
  /** HTTP/1.<minor>; only 0 and 1 are accepted. */
  minor: number;
  /** Field names as received (case kept). */
  names: string[];
  /** Field values with leading/trailing OWS trimmed, same index as `names`. */
  values: string[];
  /** Absolute offset in buf just past the CRLF CRLF that ends the head. */
  headEnd: number;
  /** Content-Length, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding ends with chunked (the only accepted request coding). */
  chunked: boolean;
  /** HTTP/1.1: true unless Connection: close; HTTP/1.0: only with Connection: keep-alive. */
  keepAlive: boolean;
  /** Lowercased tokens of all Connection fields, or null when there is none. */
  connectionTokens: string[] | null;
  /** Connection contains "upgrade" and an Upgrade field is present. */
  upgrade: boolean;
  /** HTTP/1.1 request with Expect: 100-continue. */
  expectContinue: boolean;
  /** The Host field value, or null when absent (HTTP/1.0 only). */
  host: string | null;
  /**
   * The buffer the head was parsed from, and where the target and each field value start in it
   * (a value's bytes are raw[valueAt[i], valueAt[i] + values[i].length): latin1 strings map one
   * code unit per byte). Lets a hash key be hashed from the bytes (balancing/key-hash.ts) — valid
   * only until the head's handler returns: the buffer may be reused afterwards.
   */
  raw: Buffer;
  targetAt: number;
  valueAt: number[];
}

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  reason: string;
  minor: number;
  names: string[];
  values: string[];
  headEnd: number;
  /** Content-Length, or -1 when absent (kept even when `noBody`, e.g. for HEAD / 304). */
  contentLength: number;
  chunked: boolean;
  /** False when the body is delimited by close, on Connection: close, or HTTP/1.0 without keep-alive. */
  keepAlive: boolean;
  connectionTokens: string[] | null;
  /** Response to HEAD, 1xx, 204, 304, or 2xx to CONNECT → no body regardless of framing fields. */
  noBody: boolean;
  /** No Content-Length nor chunked, body allowed → body ends when the upstream closes. */
  untilClose: boolean;
}

/** Leading empty lines (CRLF) skipped before a request line (RFC 9112 §2.2 asks for at least one). */
const MAX_LEADING_EMPTY_LINES = 4;
const HTTP_1_ = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."

/** Interns the most common methods so no string is allocated for them. */
function methodString(buf: Buffer, a: number, b: number): string {
  const n = b - a;
  const c0 = buf[a];
  if (n === 3) {
    if (c0 === 0x47 && buf[a + 1] === 0x45 && buf[a + 2] === 0x54) return 'GET';
    if (c0 === 0x50 && buf[a + 1] === 0x55 && buf[a + 2] === 0x54) return 'PUT';
  } else if (n === 4) {
    if (c0 === 0x50 && buf[a + 1] === 0x4f && buf[a + 2] === 0x53 && buf[a + 3] === 0x54) return 'POST';
    if (c0 === 0x48 && buf[a + 1] === 0x45 && buf[a + 2] === 0x41 && buf[a + 3] === 0x44) return 'HEAD';
  }
  return latin1(buf, a, b);
}

/**
 * Offset just past the CRLF CRLF ending a head that starts at `start` (leading empty lines
 * skipped), or -1 when it is not inside [start, end). A cheap hint; it validates nothing.
 */
export function headComplete(buf: Buffer, start: number, end: number): number {
  let p = start;
  while (p + 1 < end && buf[p] === CR && buf[p + 1] === LF) p += 2;
  const i = buf.indexOf('\r\n\r\n', p, 'latin1');
  return i >= 0 && i + 4 <= end ? i + 4 : -1;
}

// Outputs of parseFields (module scratch; parsing is synchronous, so one set suffices). Field
// offsets are kept as numbers and turned into strings only once the head is complete: one latin1
// decode of the whole head plus substring() per field costs a fraction of one decode per field.
let offs = new Int32Array(4 * 128); // nameStart, nameEnd, valueStart, valueEnd per field line
let outCount = 0;
let outHeadEnd = 0;

/**
 * Scans field lines from `pos` up to and including the empty line. Returns false when more bytes
 * are needed; throws on bad syntax or exceeded limits. Framing facts are left in F.
 */
function parseFields(buf: Buffer, pos: number, end: number, limits: HeadLimits, resp: boolean): boolean {
  const bound = pos + limits.headerBytes;
  const lim = end < bound ? end : bound;
  const maxCount = limits.headerCount;
  if (offs.length < 4 * maxCount) offs = new Int32Array(4 * maxCount);
  const o = offs;
  F.reset();
  let count = 0;
  for (;;) {
    if (pos >= lim) break;
    let c = buf[pos];
    if (c === CR) {
      if (pos + 1 >= lim) break;
      if (buf[pos + 1] !== LF) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'lone CR in header section');
      outCount = count;
      outHeadEnd = pos + 2;
      return true;
    }
    const nameStart = pos;
    while (pos < lim && TCHAR[buf[pos]] === 1) pos++;
    if (pos >= lim) break;
    c = buf[pos];
    if (c !== COLON) {
      if (pos === nameStart) {
        if (c === SP || c === HTAB) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'obs-fold or whitespace at the start of a field line');
        if (c === LF) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'bare LF in header section');
      }
      if (c === SP || c === HTAB) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'whitespace between field name and colon');
      if (c === LF || c === CR) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'field line without a colon');
      fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid character in field name');
    }
    if (pos === nameStart) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'empty field name');
    const nameEnd = pos++;
    // Leading OWS, then field-vchar / SP / HTAB (one table test per byte), then trailing OWS.
    while (pos < lim && FIELD[buf[pos]] === 2) pos++;
    const valueStart = pos;
    pos = fieldValueEnd(buf, pos, lim);
    if (pos >= lim) break;
    let valueEnd = pos;
    while (valueEnd > valueStart && FIELD[buf[valueEnd - 1]] === 2) valueEnd--;
    if (buf[pos] !== CR) {
      if (buf[pos] === LF) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'bare LF in header section');
      fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid character in field value');
    }
    if (pos + 1 >= lim) break;
    if (buf[pos + 1] !== LF) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'lone CR in field value');
    pos += 2;
    if (count >= maxCount) fail(resp, 'FULCRUM_E_HEADERS_TOO_LARGE', `more than ${maxCount} header fields`);
    const k = count << 2;
    o[k] = nameStart;
    o[k + 1] = nameEnd;
    o[k + 2] = valueStart;
    o[k + 3] = valueEnd;
    const id = fieldId(buf, nameStart, nameEnd - nameStart);
    if (id !== 0) {
      if (id === FID_HOST) {
        F.hostCount++;
        F.hostIdx = count;
      } else {
        fieldSemantics(id, buf, valueStart, valueEnd, resp);
      }
    }
    count++;
  }
  // Ran out of bytes: over the limit if the section could not end within headerBytes.
  if (lim === bound) fail(resp, 'FULCRUM_E_HEADERS_TOO_LARGE', `header section larger than ${limits.headerBytes} bytes`);
  return false;
}

/**
 * Fills names / values from the offsets of the last parseFields; `head` decodes buf from `base`.
 * `valueAt` (requests) receives each value's start offset in buf.
 */
function fieldStrings(head: string, base: number, names: string[], values: string[], valueAt: number[] | null): void {
  const o = offs;
  for (let i = 0, k = 0; i < outCount; i++, k += 4) {
    names.push(head.substring(o[k] - base, o[k + 1] - base));
    values.push(head.substring(o[k + 2] - base, o[k + 3] - base));
    if (valueAt !== null) valueAt.push(o[k + 2]);
  }
}

function lineTooLong(resp: boolean, limit: number): never {
  fail(resp, 'FULCRUM_E_URI_TOO_LONG', `${resp ? 'status' : 'request'} line longer than ${limit} bytes`);
}

/**
 * Parses a request head in buf[start, end). Returns null while the head is incomplete (call again
 * from the same `start` with more bytes); throws HttpParseError (400/414/431/501) as soon as the
 * bytes seen are invalid or a limit is already exceeded.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: HeadLimits): RequestHead | null {
  let pos = start;
  let empty = 0;
  while (pos < end && buf[pos] === CR) {
    if (pos + 1 >= end) return null;
    if (buf[pos + 1] !== LF) fail(false, 'FULCRUM_E_BAD_REQUEST', 'lone CR before request line');
    pos += 2;
    if (++empty > MAX_LEADING_EMPTY_LINES) fail(false, 'FULCRUM_E_BAD_REQUEST', 'too many empty lines before request line');
  }
  const lineStart = pos;
  const bound = lineStart + limits.requestLine + 1; // the CR must sit before this offset
  const lim = end < bound ? end : bound;
  // method
  while (pos < lim && TCHAR[buf[pos]] === 1) pos++;
  if (pos >= lim) return lim === bound ? lineTooLong(false, limits.requestLine) : null;
  if (buf[pos] !== SP || pos === lineStart) {
    if (buf[pos] === LF) fail(false, 'FULCRUM_E_BAD_REQUEST', 'bare LF before request line');
    fail(false, 'FULCRUM_E_BAD_REQUEST', pos === lineStart ? 'request line does not start with a method' : 'invalid character in method');
  }
  const methodEnd = pos++;
  // request-target
  const targetStart = pos;
  while (pos < lim && TARGET[buf[pos]] === 1) pos++;
  if (pos >= lim) return lim === bound ? lineTooLong(false, limits.requestLine) : null;
  if (pos === targetStart) fail(false, 'FULCRUM_E_BAD_REQUEST', 'empty request-target or extra space in request line');
  if (buf[pos] !== SP) fail(false, 'FULCRUM_E_BAD_REQUEST', 'invalid character in request-target or missing HTTP version');
  const targetEnd = pos++;
  // HTTP-version CRLF
  for (let i = 0; i < 7; i++, pos++) {
    if (pos >= lim) return lim === bound ? lineTooLong(false, limits.requestLine) : null;
    if (buf[pos] !== HTTP_1_[i]) fail(false, 'FULCRUM_E_BAD_REQUEST', 'malformed or unsupported HTTP version');
  }
  if (pos >= lim) return lim === bound ? lineTooLong(false, limits.requestLine) : null;
  const minor = buf[pos++] - 0x30;
  if (minor !== 0 && minor !== 1) fail(false, 'FULCRUM_E_BAD_REQUEST', 'unsupported HTTP version');
  if (pos >= lim) return lim === bound ? lineTooLong(false, limits.requestLine) : null;
  if (buf[pos] !== CR) fail(false, 'FULCRUM_E_BAD_REQUEST', 'request line does not end after the HTTP version with CRLF');
  if (++pos >= end) return null;
  if (buf[pos++] !== LF) fail(false, 'FULCRUM_E_BAD_REQUEST', 'lone CR in request line');

  if (!parseFields(buf, pos, end, limits, false)) return null;

  const te = F.te;
  let chunked = false;
  if (te !== 0) {
    if (minor === 0) fail(false, 'FULCRUM_E_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request');
    if (F.cl !== -1) fail(false, 'FULCRUM_E_BAD_REQUEST', 'both Content-Length and Transfer-Encoding');
    if ((te & TE_TWICE) !== 0) fail(false, 'FULCRUM_E_BAD_REQUEST', 'chunked applied more than once');
    if ((te & TE_FINAL_CHUNKED) === 0) fail(false, 'FULCRUM_E_BAD_REQUEST', 'final transfer coding is not chunked');
    if ((te & TE_OTHER) !== 0) fail(false, 'FULCRUM_E_NOT_IMPLEMENTED', 'transfer coding other than chunked');
    chunked = true;
  }
  if (F.hostCount > 1) fail(false, 'FULCRUM_E_BAD_REQUEST', 'more than one Host field');
  if (minor === 1 && F.hostCount === 0) fail(false, 'FULCRUM_E_BAD_REQUEST', 'missing Host field in HTTP/1.1 request');
  const conn = F.connFlags;
  const head = latin1(buf, lineStart, outHeadEnd);
  const names: string[] = [];
  const values: string[] = [];
  const valueAt: number[] = [];
  fieldStrings(head, lineStart, names, values, valueAt);
  return {
    method: methodString(buf, lineStart, methodEnd),
    target: head.substring(targetStart - lineStart, targetEnd - lineStart),
    minor,
    names,
    values,
    headEnd: outHeadEnd,
    contentLength: F.cl,
    chunked,
    keepAlive: (conn & CONN_CLOSE) === 0 && (minor === 1 || (conn & CONN_KEEPALIVE) !== 0),
    connectionTokens: F.conn,
    upgrade: (conn & CONN_UPGRADE) !== 0 && F.upgradeField,
    expectContinue: minor === 1 && F.expectContinue,
    host: F.hostIdx === -1 ? null : values[F.hostIdx],
    raw: buf,
    targetAt: targetStart,
    valueAt,
  };
}

/**
 * Parses a response head in buf[start, end) answering a request with `requestMethod`. Returns
 * null while incomplete; every error is 502 FULCRUM_E_UPSTREAM_BAD_RESPONSE. A status line
 * without reason phrase and its SP ("HTTP/1.1 200\r\n") is tolerated.
 */
export function parseResponseHead(buf: Buffer, start: number, end: number, limits: HeadLimits, requestMethod: string): ResponseHead | null {
  let pos = start;
  const bound = start + limits.requestLine + 1;
  const lim = end < bound ? end : bound;
  for (let i = 0; i < 7; i++, pos++) {
    if (pos >= lim) return lim === bound ? lineTooLong(true, limits.requestLine) : null;
    if (buf[pos] !== HTTP_1_[i]) fail(true, 'FULCRUM_E_BAD_REQUEST', 'malformed or unsupported HTTP version in status line');
  }
  let status = 0;
  let minor = 0;
  for (let i = 0; i < 5; i++, pos++) {
    if (pos >= lim) return lim === bound ? lineTooLong(true, limits.requestLine) : null;
    const c = buf[pos];
    if (i === 0) {
      minor = c - 0x30;
      if (minor !== 0 && minor !== 1) fail(true, 'FULCRUM_E_BAD_REQUEST', 'unsupported HTTP version in status line');
    } else if (i === 1) {
      if (c !== SP) fail(true, 'FULCRUM_E_BAD_REQUEST', 'status line: expected one SP after the version');
    } else {
      const d = c - 0x30;
      if (d < 0 || d > 9 || (i === 2 && (d < 1 || d > 5))) fail(true, 'FULCRUM_E_BAD_REQUEST', 'status code is not 3 digits 100-599');
      status = status * 10 + d;
    }
  }
  if (pos >= lim) return lim === bound ? lineTooLong(true, limits.requestLine) : null;
  let reasonStart = pos;
  if (buf[pos] === SP) {
    reasonStart = ++pos;
    while (pos < lim && FIELD[buf[pos]] !== 0) pos++;
    if (pos >= lim) return lim === bound ? lineTooLong(true, limits.requestLine) : null;
  }
  if (buf[pos] !== CR) fail(true, 'FULCRUM_E_BAD_REQUEST', 'invalid character in status line');
  const reasonEnd = pos;
  if (++pos >= end) return null;
  if (buf[pos++] !== LF) fail(true, 'FULCRUM_E_BAD_REQUEST', 'lone CR in status line');

  if (!parseFields(buf, pos, end, limits, true)) return null;

  const te = F.te;
  let chunked = false;
  if (te !== 0) {
    if (minor === 0) fail(true, 'FULCRUM_E_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 response');
    if (F.cl !== -1) fail(true, 'FULCRUM_E_BAD_REQUEST', 'both Content-Length and Transfer-Encoding in a response');
    if ((te & TE_TWICE) !== 0) fail(true, 'FULCRUM_E_BAD_REQUEST', 'chunked applied more than once');
    chunked = (te & TE_FINAL_CHUNKED) !== 0; // final coding not chunked → read until close (RFC 9112 §6.3)
  }
  const noBody = status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD' ||
    (requestMethod === 'CONNECT' && status < 300);
  const untilClose = !noBody && !chunked && F.cl === -1;
  const conn = F.connFlags;
  const head = latin1(buf, start, outHeadEnd);
  const names: string[] = [];
  const values: string[] = [];
  fieldStrings(head, start, names, values, null);
  return {
    status,
    reason: head.substring(reasonStart - start, reasonEnd - start),
    minor,
    names,
    values,
    headEnd: outHeadEnd,
    contentLength: F.cl,
    chunked,
    keepAlive: !untilClose && (conn & CONN_CLOSE) === 0 && (minor === 1 || (conn & CONN_KEEPALIVE) !== 0),
    connectionTokens: F.conn,
    noBody,
    untilClose,
  };
}
