/**
 * Peeks a TLS ClientHello without terminating TLS, for routing passthrough connections by SNI.
 * Implements the wire formats of RFC 8446 §5.1 (record layer: TLSPlaintext, handshake messages
 * fragmented over several records, no interleaving with other record types), §4.1.2 (the
 * ClientHello), §4.2 (extensions, at most one of each type) and RFC 6066 §3 (server_name:
 * ServerNameList, at most one name per name_type, HostName as ASCII without a trailing dot).
 * The same layout serves TLS 1.0-1.2 hellos (RFC 5246 §7.4.1.2), which may omit extensions.
 *
 * Pure: no socket, timer or file module. Hand-written because only a few fields are needed and it
 * runs once per accepted connection; every length is checked against its container so that a
 * hello that Fulcrum and the backend could read differently is refused rather than routed.
 */

/** Verdict on the bytes received so far. */
export type HelloParse =
  | { status: 'incomplete' }
  | {
      status: 'ok';
      /** lowercased host_name of the server_name extension; null when absent */
      sni: string | null;
      /** bytes of the records holding the ClientHello */
      length: number;
    }
  | { status: 'invalid'; reason: string };

/** Default bound on the records holding a ClientHello: 64 KiB. */
export const CLIENT_HELLO_MAX_BYTES = 65536;
/** Largest record length accepted: 2^14 plus the 256 bytes of slack RFC 8446 §5.2 allows a record. */
export const TLS_MAX_RECORD_LENGTH = 16384 + 256;

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
const RECORD_HEADER = 5;
const INCOMPLETE: HelloParse = Object.freeze({ status: 'incomplete' }) as HelloParse;

function invalid(reason: string): HelloParse {
  return { status: 'invalid', reason };
}

/**
 * Parses the ClientHello at the start of `buf` (bytes received so far, after any PROXY header).
 * Records must be handshake records (type 22) with version 0x0301-0x0304, non-empty and at most
 * 16640 bytes; the ClientHello may be split over several of them and must end its last record.
 * Everything the records hold beyond `maxBytes` (default 65536) → invalid('ClientHello larger
 * than N bytes'), decided as soon as the handshake length is known. An SSLv2-style hello or a
 * first record of another type → invalid('not a TLS ClientHello'). Returns the lowercased
 * host_name, or null without a server_name extension; a host_name that is not a DNS name
 * (characters outside A-Z a-z 0-9 . - _, an empty label, a label over 63 or a name over 255
 * bytes) is invalid. An IP literal, which RFC 6066 forbids but some clients send, passes as it
 * is: refusing it would break clients that other proxies serve. Never throws.
 */
export function parseClientHello(buf: Buffer, maxBytes: number = CLIENT_HELLO_MAX_BYTES): HelloParse {
  const tooLarge = (): HelloParse => invalid(`ClientHello larger than ${maxBytes} bytes`);
  const frags: Buffer[] = [];
  let have = 0; // handshake bytes gathered so far
  let need = -1; // 4 + handshake length, once known
  let off = 0;
  for (;;) {
    const avail = buf.length - off;
    if (avail < 1) return INCOMPLETE;
    const first = off === 0;
    if (buf[off] !== CONTENT_HANDSHAKE) {
      return first ? invalid('not a TLS ClientHello') : invalid(`record of type ${buf[off]} inside the ClientHello`);
    }
    if (avail >= 2 && buf[off + 1] !== 3) {
      return first ? invalid('not a TLS ClientHello') : invalid(`record version major ${buf[off + 1]}`);
    }
    if (avail >= 3 && (buf[off + 2] < 1 || buf[off + 2] > 4)) {
      return invalid(`record version 0x03${hex2(buf[off + 2])} outside 0x0301-0x0304`);
    }
    if (avail < RECORD_HEADER) return INCOMPLETE;
    const len = buf.readUInt16BE(off + 3);
    if (len === 0) return invalid('empty handshake record');
    if (len > TLS_MAX_RECORD_LENGTH) return invalid(`record length ${len} exceeds ${TLS_MAX_RECORD_LENGTH}`);
    const recEnd = off + RECORD_HEADER + len;
    if (recEnd > maxBytes) return tooLarge();
    const frag = buf.subarray(off + RECORD_HEADER, Math.min(buf.length, recEnd));
    frags.push(frag);
    have += frag.length;
    if (need < 0 && have >= 4) {
      const h = frags.length === 1 ? frags[0] : Buffer.concat(frags, 4);
      if (h[0] !== HANDSHAKE_CLIENT_HELLO) {
        return first ? invalid('not a TLS ClientHello') : invalid(`handshake type ${h[0]} is not ClientHello`);
      }
      need = 4 + ((h[1] << 16) | (h[2] << 8) | h[3]);
      if (RECORD_HEADER + need > maxBytes) return tooLarge();
    }
    if (recEnd > buf.length) return INCOMPLETE;
    off = recEnd;
    if (need >= 0 && have >= need) {
      if (have > need) return invalid('data after the ClientHello in its record');
      const msg = frags.length === 1 ? frags[0] : Buffer.concat(frags, have);
      const sni = parseBody(msg.subarray(4));
      if (typeof sni === 'object' && sni !== null) return sni;
      return { status: 'ok', sni, length: off };
    }
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** The ClientHello body (after the 4-byte handshake header) → SNI, null, or an invalid verdict. */
function parseBody(b: Buffer): string | null | HelloParse {
  const n = b.length;
  if (n < 2 + 32 + 1) return invalid('ClientHello shorter than legacy_version, random and session_id');
  if (b[0] !== 3) return invalid(`legacy_version 0x${hex2(b[0])}${hex2(b[1])}`);
  let p = 34;
  const sid = b[p];
  if (sid > 32) return invalid(`session_id of ${sid} bytes exceeds 32`);
  p += 1 + sid;
  if (p + 2 > n) return invalid('session_id overruns the ClientHello');
  const cs = b.readUInt16BE(p);
  if (cs < 2 || cs % 2 !== 0) return invalid(`cipher_suites length ${cs} is not a positive even number`);
  p += 2 + cs;
  if (p + 1 > n) return invalid('cipher_suites overrun the ClientHello');
  const cm = b[p];
  if (cm < 1) return invalid('compression_methods is empty');
  p += 1 + cm;
  if (p > n) return invalid('compression_methods overrun the ClientHello');
  if (p === n) return null; // no extensions (allowed before TLS 1.3)
  if (p + 2 > n) return invalid('truncated extensions length');
  const extLen = b.readUInt16BE(p);
  p += 2;
  if (p + extLen !== n) return invalid(`extensions length ${extLen} does not match the ${n - p} bytes left in the ClientHello`);
  const seen = new Set<number>();
  let sni: string | null = null;
  while (p < n) {
    if (p + 4 > n) return invalid('truncated extension header');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > n) return invalid(`extension ${type} overruns the extensions block`);
    if (seen.has(type)) return invalid(`duplicate extension ${type}`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const r = parseServerName(b.subarray(p, p + len));
      if (r !== null && typeof r === 'object') return r;
      sni = r;
    }
    p += len;
  }
  return sni;
}

/** server_name extension data (RFC 6066 §3) → lowercased host_name, null, or an invalid verdict. */
function parseServerName(d: Buffer): string | null | HelloParse {
  if (d.length < 2) return invalid('server_name extension shorter than its list length');
  const listLen = d.readUInt16BE(0);
  if (listLen + 2 !== d.length) return invalid(`server_name list length ${listLen} does not match the extension (${d.length - 2} bytes)`);
  if (listLen === 0) return invalid('server_name list is empty');
  const seen = new Set<number>();
  let host: string | null = null;
  let p = 2;
  while (p < d.length) {
    if (p + 3 > d.length) return invalid('truncated server_name entry');
    const nameType = d[p];
    const len = d.readUInt16BE(p + 1);
    p += 3;
    if (p + len > d.length) return invalid('server_name entry overruns its list');
    if (seen.has(nameType)) return invalid(`more than one server_name of name_type ${nameType}`);
    seen.add(nameType);
    if (nameType === NAME_TYPE_HOST_NAME) {
      const err = hostNameError(d, p, p + len);
      if (err !== null) return invalid(err);
      host = d.toString('latin1', p, p + len).toLowerCase();
    }
    p += len;
  }
  return host;
}

/** Why d[from, to) is not a DNS host name, or null when it is. */
function hostNameError(d: Buffer, from: number, to: number): string | null {
  const len = to - from;
  if (len === 0) return 'empty host_name';
  if (len > 255) return `host_name of ${len} bytes exceeds 255`;
  let label = 0;
  for (let i = from; i < to; i++) {
    const c = d[i];
    if (c === 0x2e) {
      if (label === 0) return 'host_name has an empty label';
      label = 0;
      continue;
    }
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!ok) return `host_name has byte 0x${hex2(c)}`;
    if (++label > 63) return 'host_name has a label over 63 bytes';
  }
  if (label === 0) return 'host_name has an empty label';
  return null;
}
