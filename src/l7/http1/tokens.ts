/**
 * Character tables and field-value list scanners shared by the HTTP/1.1 parser and chunked scanner.
 *
 * Implements the character classes of RFC 9110 §5.6.2 (tchar / token), §5.5 (field-value:
 * VCHAR, obs-text, SP, HTAB), RFC 3986 §2 (visible ASCII in the request-target), the hop-by-hop
 * field list of RFC 9110 §7.6.1, and the framing fields read in place from the received bytes:
 * Content-Length (RFC 9110 §8.6, RFC 9112 §6.3), Transfer-Encoding (RFC 9112 §6.1), Connection
 * (RFC 9110 §7.6.1, lists per §5.6.1) and Expect (RFC 9110 §10.1.1). Lookup tables
 * (Uint8Array(256)) are used instead of regular expressions because they are indexed per byte on
 * the hot path.
 */
import { FulcrumError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/errors.ts';

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const SEMI = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

/** 1 for tchar (RFC 9110 §5.6.2): "!#$%&'*+-.^_`|~", DIGIT, ALPHA. */
export const TCHAR = new Uint8Array(256);
/** 1 for field-vchar (VCHAR 0x21-0x7E, obs-text 0x80-0xFF), 2 for SP / HTAB, 0 otherwise (CTL, DEL). */
export const FIELD = new Uint8Array(256);
/** 1 for bytes allowed in a request-target: visible ASCII 0x21-0x7E (no CTL, SP, DEL, non-ASCII). */
export const TARGET = new Uint8Array(256);
/** Hex digit value + 1 (0 = not a HEXDIG), for chunk sizes (RFC 9112 §7.1). */
export const HEXVAL = new Uint8Array(256);
/** 1 for qdtext and quoted-pair payload in a quoted-string (HTAB, SP, VCHAR, obs-text) except DQUOTE and "\". */
export const QDTEXT = new Uint8Array(256);

{
  const sym = "!#$%&'*+-.^_`|~";
  for (let c = 0; c < 256; c++) {
    const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const digit = c >= 0x30 && c <= 0x39;
    if (alpha || digit || sym.includes(String.fromCharCode(c))) TCHAR[c] = 1;
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) FIELD[c] = 1;
    if (c === SP || c === HTAB) FIELD[c] = 2;
    if (c >= 0x21 && c <= 0x7e) TARGET[c] = 1;
    if (digit) HEXVAL[c] = c - 0x30 + 1;
    if (c >= 0x41 && c <= 0x46) HEXVAL[c] = c - 0x41 + 11;
    if (c >= 0x61 && c <= 0x66) HEXVAL[c] = c - 0x61 + 11;
    if ((FIELD[c] !== 0) && c !== DQUOTE && c !== BACKSLASH) QDTEXT[c] = 1;
  }
}

/**
 * Hop-by-hop fields a proxy must not forward (RFC 9110 §7.6.1), lowercased. The fields named by
 * the Connection field are hop-by-hop as well; the parser reports them in `connectionTokens`.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/**
 * A malformed or over-limit HTTP/1.x message. `status` is one of 400, 414, 431, 501 (requests)
 * or 502 (responses from an upstream), and always equals the status of `code`.
 */
export class HttpParseError extends FulcrumError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'HttpParseError';
  }
}

/** Buffer's undocumented but stable latin1 slicer; it skips toString()'s encoding dispatch. */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** Decodes buf[a, b) as latin1 (one byte = one char, so obs-text round-trips exactly). */
export function latin1(buf: Buffer, a: number, b: number): string {
  return (buf as unknown as Latin1Slicer).latin1Slice(a, b);
}

/** Throws HttpParseError with `code`, or 502 FULCRUM_E_UPSTREAM_BAD_RESPONSE when parsing a response. */
export function fail(resp: boolean, code: ErrorCode, msg: string): never {
  throw new HttpParseError(resp ? 'FULCRUM_E_UPSTREAM_BAD_RESPONSE' : code, msg);
}

// ---- Field names the parser acts on, recognised in place (length, then lowercased bytes). ----

export const FID_HOST = 1;
export const FID_CONTENT_LENGTH = 2;
export const FID_TRANSFER_ENCODING = 3;
export const FID_CONNECTION = 4;
export const FID_UPGRADE = 5;
export const FID_EXPECT = 6;

const lower = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const N_HOST = lower('host');
const N_EXPECT = lower('expect');
const N_UPGRADE = lower('upgrade');
const N_CONNECTION = lower('connection');
const N_CONTENT_LENGTH = lower('content-length');
const N_TRANSFER_ENCODING = lower('transfer-encoding');
const V_CHUNKED = lower('chunked');
const V_CLOSE = lower('close');
const V_KEEP_ALIVE = lower('keep-alive');
const V_100_CONTINUE = lower('100-continue');

/** Case-insensitive compare of buf[a, a+ref.length) with lowercase ASCII `ref` (letters, digits, "-"). */
function eqLower(buf: Buffer, a: number, ref: Uint8Array): boolean {
  for (let i = 0; i < ref.length; i++) if ((buf[a + i] | 0x20) !== ref[i]) return false;
  return true;
}

/** Identifies a field name already validated as a token; 0 for fields the parser ignores. */
export function fieldId(buf: Buffer, a: number, len: number): number {
  switch (len) {
    case 4: return eqLower(buf, a, N_HOST) ? FID_HOST : 0;
    case 6: return eqLower(buf, a, N_EXPECT) ? FID_EXPECT : 0;
    case 7: return eqLower(buf, a, N_UPGRADE) ? FID_UPGRADE : 0;
    case 10: return eqLower(buf, a, N_CONNECTION) ? FID_CONNECTION : 0;
    case 14: return eqLower(buf, a, N_CONTENT_LENGTH) ? FID_CONTENT_LENGTH : 0;
    case 17: return eqLower(buf, a, N_TRANSFER_ENCODING) ? FID_TRANSFER_ENCODING : 0;
    default: return 0;
  }
}

export const TE_SEEN = 1;
export const TE_FINAL_CHUNKED = 2;
export const TE_TWICE = 4;
export const TE_OTHER = 8;
const TE_CHUNKED_SEEN = 16;
export const CONN_CLOSE = 1;
export const CONN_KEEPALIVE = 2;
export const CONN_UPGRADE = 4;

/** Framing facts gathered while scanning one head (one instance, reset per head). */
class FieldFacts {
  cl = -1;
  te = 0;
  hostCount = 0;
  /** Index of the (last) Host field line. */
  hostIdx = -1;
  conn: string[] | null = null;
  connFlags = 0;
  upgradeField = false;
  expectContinue = false;
  reset(): void {
    this.cl = -1;
    this.te = 0;
    this.hostCount = 0;
    this.hostIdx = -1;
    this.conn = null;
    this.connFlags = 0;
    this.upgradeField = false;
    this.expectContinue = false;
  }
}
export const F = new FieldFacts();

const isWs = (c: number): boolean => c === SP || c === HTAB;

/** Content-Length: 1*DIGIT, or a list of identical values ("5, 5"); all fields must agree. */
function contentLength(buf: Buffer, a: number, b: number, resp: boolean): void {
  if (a === b) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'empty Content-Length');
  let p = a;
  let v = -1;
  for (;;) {
    const s = p;
    let n = 0;
    while (p < b) {
      const d = buf[p] - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
      p++;
    }
    if (p === s) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'Content-Length is not a string of digits');
    if (n > Number.MAX_SAFE_INTEGER) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'Content-Length too large');
    if (v !== -1 && n !== v) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'differing Content-Length values');
    v = n;
    if (p === b) break;
    while (p < b && isWs(buf[p])) p++;
    if (p === b || buf[p] !== COMMA) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'Content-Length is not a string of digits');
    p++;
    while (p < b && isWs(buf[p])) p++;
  }
  if (F.cl !== -1 && F.cl !== v) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'differing Content-Length values');
  F.cl = v;
}

/** Transfer-Encoding: records whether chunked is final, applied twice, or follows other codings. */
function transferEncoding(buf: Buffer, a: number, b: number, resp: boolean): void {
  let te = F.te | TE_SEEN;
  let p = a;
  while (p < b) {
    const c = buf[p];
    if (c === COMMA || isWs(c)) { p++; continue; } // empty list elements are ignored (RFC 9110 §5.6.1.2)
    const s = p;
    while (p < b && TCHAR[buf[p]] === 1) p++;
    if (p === s) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid transfer coding');
    const e = p;
    while (p < b && isWs(buf[p])) p++;
    let params = false;
    if (p < b && buf[p] === SEMI) {
      params = true;
      while (p < b && buf[p] !== COMMA) p++;
    } else if (p < b && buf[p] !== COMMA) {
      fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid Transfer-Encoding list');
    }
    if (e - s === 7 && eqLower(buf, s, V_CHUNKED)) {
      if (params) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'chunked takes no parameters');
      if ((te & TE_CHUNKED_SEEN) !== 0) te |= TE_TWICE;
      te |= TE_CHUNKED_SEEN | TE_FINAL_CHUNKED;
    } else {
      te = (te | TE_OTHER) & ~TE_FINAL_CHUNKED;
    }
  }
  F.te = te;
}

/** Connection: comma-separated tokens, lowercased into F.conn; close / keep-alive / upgrade flagged. */
function connection(buf: Buffer, a: number, b: number, resp: boolean): void {
  let list = F.conn;
  if (list === null) list = F.conn = [];
  let flags = F.connFlags;
  let p = a;
  while (p < b) {
    const c = buf[p];
    if (c === COMMA || isWs(c)) { p++; continue; }
    const s = p;
    while (p < b && TCHAR[buf[p]] === 1) p++;
    if (p === s) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid Connection option');
    const e = p;
    while (p < b && isWs(buf[p])) p++;
    if (p < b && buf[p] !== COMMA) fail(resp, 'FULCRUM_E_BAD_REQUEST', 'invalid Connection list');
    const len = e - s;
    if (len === 5 && eqLower(buf, s, V_CLOSE)) {
      flags |= CONN_CLOSE;
      list.push('close');
    } else if (len === 10 && eqLower(buf, s, V_KEEP_ALIVE)) {
      flags |= CONN_KEEPALIVE;
      list.push('keep-alive');
    } else if (len === 7 && eqLower(buf, s, N_UPGRADE)) {
      flags |= CONN_UPGRADE;
      list.push('upgrade');
    } else {
      list.push(latin1(buf, s, e).toLowerCase());
    }
  }
  F.connFlags = flags;
}

/** Applies a recognised field (other than Host) whose trimmed value is buf[a, b). */
export function fieldSemantics(id: number, buf: Buffer, a: number, b: number, resp: boolean): void {
  switch (id) {
    case FID_CONTENT_LENGTH: contentLength(buf, a, b, resp); break;
    case FID_TRANSFER_ENCODING: transferEncoding(buf, a, b, resp); break;
    case FID_CONNECTION: connection(buf, a, b, resp); break;
    case FID_UPGRADE: F.upgradeField = true; break;
    case FID_EXPECT: if (b - a === 12 && eqLower(buf, a, V_100_CONTINUE)) F.expectContinue = true; break;
    default: break;
  }
}

// ---- Word-at-a-time scan of field values ----
// A field value is usually the bulk of a head (User-Agent, Accept, Cookie). Testing four bytes per
// step with the "has a byte less than n" bit trick (any byte < 0x20, or == 0x7F) is ~1.5× faster
// than one table lookup per byte; a flagged word (CR, HTAB, CTL, DEL) falls back to the table.
let wordsOf: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * First offset in [pos, lim) whose byte is not field-vchar / SP / HTAB (FIELD[c] === 0), or lim.
 */
export function fieldValueEnd(buf: Buffer, pos: number, lim: number): number {
  if (lim - pos >= 32) {
    const ab = buf.buffer;
    if (ab !== wordsOf) {
      wordsOf = ab;
      words = new Int32Array(ab, 0, ab.byteLength >>> 2);
    }
    const base = buf.byteOffset;
    while (((base + pos) & 3) !== 0) {
      if (FIELD[buf[pos]] === 0) return pos;
      pos++;
    }
    const w32 = words;
    let w = (base + pos) >>> 2;
    const we = (base + lim) >>> 2;
    while (w < we) {
      const x = w32[w];
      const y = x ^ 0x7f7f7f7f;
      if (((((x - 0x20202020) | 0) & ~x) | (((y - 0x01010101) | 0) & ~y)) & 0x80808080) break;
      w++;
    }
    pos = (w << 2) - base;
  }
  while (pos < lim && FIELD[buf[pos]] !== 0) pos++;
  return pos;
}
