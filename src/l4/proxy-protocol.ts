/**
 * PROXY protocol, versions 1 (text) and 2 (binary), as specified by HAProxy's
 * doc/proxy-protocol.txt ("The PROXY protocol, Versions 1 & 2"): §2.1 the human-readable header,
 * §2.2 the binary header and its TLVs (§2.2.3 CRC32C is verified when present), §2.2 "identifying
 * the protocol version".
 *
 * Pure: no socket, timer or file module. The listener feeds the bytes received so far and acts on
 * the verdict; a sender prepends `encodeProxyV1`/`encodeProxyV2` to its first write.
 * Hand-written because the format is small and sits on the accept path; the IPv6 text codec lives
 * here too so the module needs nothing from `node:net`.
 */

/** The two endpoints of a proxied connection. `unknown`: addresses '' and ports 0. */
export interface ProxyAddress {
  family: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unknown';
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
}

/** A parsed header. */
export interface ProxyInfo extends ProxyAddress {
  version: 1 | 2;
  /** v2 LOCAL command (health checks of the sender): no address, use the connection's own */
  local: boolean;
}

/** Verdict on the bytes received so far. */
export type ProxyParse =
  | { status: 'incomplete' } // a prefix of a valid header: need more bytes
  | { status: 'ok'; info: ProxyInfo; length: number } // header occupies buf[0, length)
  | { status: 'invalid'; reason: string }; // not a PROXY header, or malformed: close the connection

/** The longest v1 line the spec allows, CRLF included (§2.1: "worst case … 107 chars"). */
export const PROXY_V1_MAX_LENGTH = 107;
/** Largest v2 header Fulcrum accepts (16-byte fixed part + address block + TLVs). */
export const PROXY_V2_MAX_LENGTH = 4096;
/** The v2 signature (§2.2): \r\n\r\n\0\r\nQUIT\n. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const INCOMPLETE: ProxyParse = Object.freeze({ status: 'incomplete' }) as ProxyParse;

function invalid(reason: string): ProxyParse {
  return { status: 'invalid', reason };
}

function unknownInfo(version: 1 | 2, local: boolean): ProxyInfo {
  return { version, local, family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 };
}

/**
 * Parses the header at the start of `buf` (all bytes received so far on the connection).
 * v1 vs v2 is told by the first byte ('P' or '\r'); a byte that departs from either signature is
 * `invalid('no PROXY header')` at once. v1: the line must end in CRLF within 107 bytes; TCP4/TCP6
 * need strict addresses (IPv4 without leading zeros; IPv6 as inet_pton reads it) and ports
 * 0-65535 without leading zeros; UNKNOWN ignores the rest of its line. v2: version nibble 2,
 * command LOCAL/PROXY, family UNSPEC/INET/INET6/UNIX, protocol UNSPEC/STREAM/DGRAM; total length
 * above 4096 → invalid('oversized'); the TLV framing must fill the block exactly, and a CRC32C TLV
 * must match. UNIX or UNSPEC families give family 'unknown' with empty addresses. Never throws.
 */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === PROXY_V2_SIGNATURE[0]) return parseV2(buf);
  return invalid('no PROXY header');
}

// ---------------------------------------------------------------------------------------------
// Version 1

const V1_FAMILIES = ['TCP4', 'TCP6', 'UNKNOWN'];

function parseV1(buf: Buffer): ProxyParse {
  const n = Math.min(buf.length, V1_PREFIX.length);
  for (let i = 0; i < n; i++) if (buf[i] !== V1_PREFIX[i]) return invalid('no PROXY header');
  // Find the CRLF; a lone CR or LF is never a line end (§2.1). A line of at most 107 bytes has
  // its CR at index 105 or before, so 106 bytes without one are already too long.
  const lastCr = PROXY_V1_MAX_LENGTH - 2;
  const scan = Math.min(buf.length, lastCr + 1);
  let end = -1;
  for (let i = 0; i < scan; i++) {
    const c = buf[i];
    if (c === LF) return invalid('v1: LF without CR');
    if (c === CR) {
      if (i + 1 >= buf.length) return v1PrefixCheck(buf); // the LF may still come
      if (buf[i + 1] !== LF) return invalid('v1: CR without LF');
      end = i + 2;
      break;
    }
  }
  if (end < 0) {
    if (buf.length > lastCr) return invalid('v1: no CRLF within the first 107 bytes');
    return v1PrefixCheck(buf);
  }
  return parseV1Line(buf.toString('latin1', V1_PREFIX.length, end - 2), end);
}

/** Early rejection of a v1 line whose CRLF has not arrived: the family token so far must fit. */
function v1PrefixCheck(buf: Buffer): ProxyParse {
  if (buf.length <= V1_PREFIX.length) return INCOMPLETE;
  const rest = buf.toString('latin1', V1_PREFIX.length, buf.length);
  const sp = rest.indexOf(' ');
  const tok = sp < 0 ? rest.replace(/\r$/, '') : rest.slice(0, sp);
  if (sp < 0) {
    if (!V1_FAMILIES.some((f) => f.startsWith(tok))) return invalid(`v1: unknown protocol "${tok}"`);
    if (tok !== rest && tok !== 'UNKNOWN') return invalid(`v1: protocol "${tok}" needs addresses`);
    return INCOMPLETE;
  }
  if (!V1_FAMILIES.includes(tok)) return invalid(`v1: unknown protocol "${tok}"`);
  if (tok !== 'UNKNOWN' && !/^[0-9A-Fa-f.: ]*\r?$/.test(rest.slice(sp + 1))) {
    return invalid('v1: unexpected character in the address fields');
  }
  return INCOMPLETE;
}

/** `rest` is the line after "PROXY " without its CRLF; `length` counts the whole line. */
function parseV1Line(rest: string, length: number): ProxyParse {
  if (rest === 'UNKNOWN' || rest.startsWith('UNKNOWN ')) {
    return { status: 'ok', info: unknownInfo(1, false), length };
  }
  const parts = rest.split(' ');
  const fam = parts[0];
  if (fam !== 'TCP4' && fam !== 'TCP6') return invalid(`v1: unknown protocol "${fam}"`);
  if (parts.length !== 5) return invalid('v1: expected exactly 4 single-space-separated fields after the protocol');
  const [, src, dst, sp, dp] = parts;
  let srcAddr: string;
  let dstAddr: string;
  if (fam === 'TCP4') {
    if (!isStrictIPv4(src)) return invalid('v1: bad source IPv4 address');
    if (!isStrictIPv4(dst)) return invalid('v1: bad destination IPv4 address');
    srcAddr = src;
    dstAddr = dst;
  } else {
    const s = parseIPv6(src);
    const d = parseIPv6(dst);
    if (s === null) return invalid('v1: bad source IPv6 address');
    if (d === null) return invalid('v1: bad destination IPv6 address');
    srcAddr = formatIPv6(s, true);
    dstAddr = formatIPv6(d, true);
  }
  const srcPort = parsePort(sp);
  const dstPort = parsePort(dp);
  if (srcPort < 0) return invalid('v1: bad source port');
  if (dstPort < 0) return invalid('v1: bad destination port');
  const family = fam === 'TCP4' ? 'tcp4' : 'tcp6';
  return { status: 'ok', info: { version: 1, local: false, family, srcAddr, srcPort, dstAddr, dstPort }, length };
}

/** Decimal 0-65535 without leading zeros (§2.1); -1 when not. */
function parsePort(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

/** Four decimal octets 0-255, no leading zeros, one dot between each (§2.1). */
export function isStrictIPv4(s: string): boolean {
  const m = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/.exec(s);
  if (m === null) return false;
  for (let i = 1; i <= 4; i++) if (Number(m[i]) > 255) return false;
  return true;
}

/**
 * IPv6 text → 16 bytes, or null. Groups of 1-4 hex digits, at most one "::", a trailing dotted
 * IPv4 allowed in the last 32 bits (what inet_pton accepts); no zone id.
 */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45) return null;
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  const tailWords: number[] = [];
  if (!groups(h, words, dbl < 0 && t.length === 0)) return null;
  if (!groups(t, tailWords, true)) return null;
  if (dbl >= 0 && h.length > 0 && h[h.length - 1].includes('.')) return null;
  const total = words.length + tailWords.length;
  if (dbl < 0 ? total !== 8 : total > 7) return null;
  for (let i = 0; i < words.length; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  const off = 8 - tailWords.length;
  for (let i = 0; i < tailWords.length; i++) {
    out[2 * (off + i)] = tailWords[i] >> 8;
    out[2 * (off + i) + 1] = tailWords[i] & 0xff;
  }
  return out;
}

/** Pushes the 16-bit words of `parts`; a dotted IPv4 is allowed only as the last part when `last`. */
function groups(parts: string[], words: number[], last: boolean): boolean {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (last && i === parts.length - 1 && p.includes('.')) {
      if (!isStrictIPv4(p)) return false;
      const o = p.split('.').map(Number);
      words.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    } else {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return false;
      words.push(parseInt(p, 16));
    }
  }
  return true;
}

/**
 * 16 bytes → RFC 5952 text: lowercase, no leading zeros, the longest run (first on a tie) of two
 * or more zero groups as "::". `dottedMapped`: write ::ffff:0:0/96 as ::ffff:a.b.c.d, as Node's
 * socket addresses do.
 */
export function formatIPv6(b: Uint8Array, dottedMapped: boolean): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i] << 8) | b[2 * i + 1]);
  if (dottedMapped && w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

// ---------------------------------------------------------------------------------------------
// Version 2

const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const AF_UNIX = 0x3;
const PROTO_UNSPEC = 0x0;
const PROTO_STREAM = 0x1;
const PROTO_DGRAM = 0x2;
/** PP2_TYPE_CRC32C (§2.2.3). */
const PP2_TYPE_CRC32C = 0x03;

function parseV2(buf: Buffer): ProxyParse {
  const n = Math.min(buf.length, 12);
  for (let i = 0; i < n; i++) if (buf[i] !== PROXY_V2_SIGNATURE[i]) return invalid('no PROXY header');
  if (buf.length < 13) return INCOMPLETE;
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return invalid(`v2: unsupported version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  if (cmd !== CMD_LOCAL && cmd !== CMD_PROXY) return invalid(`v2: unknown command ${cmd}`);
  if (buf.length < 14) return INCOMPLETE;
  const af = buf[13] >> 4;
  const proto = buf[13] & 0x0f;
  if (af > AF_UNIX) return invalid(`v2: unknown address family ${af}`);
  if (proto > PROTO_DGRAM) return invalid(`v2: unknown transport protocol ${proto}`);
  if (buf.length < 16) return INCOMPLETE;
  const length = 16 + buf.readUInt16BE(14);
  if (length > PROXY_V2_MAX_LENGTH) return invalid(`v2: oversized header (${length} > ${PROXY_V2_MAX_LENGTH} bytes)`);
  if (buf.length < length) return INCOMPLETE;

  // LOCAL: the block, family included, is ignored (§2.2). UNSPEC: the receiver "should ignore
  // address information", so its layout is unknown and so is where TLVs would start.
  if (cmd === CMD_LOCAL) return { status: 'ok', info: unknownInfo(2, true), length };
  if (af === AF_UNSPEC || proto === PROTO_UNSPEC) return { status: 'ok', info: unknownInfo(2, false), length };
  const addrLen = af === AF_INET ? 12 : af === AF_INET6 ? 36 : 216;
  if (16 + addrLen > length) return invalid(`v2: address block shorter than ${addrLen} bytes`);
  const tlvError = checkTlvs(buf, 16 + addrLen, length);
  if (tlvError !== null) return invalid(tlvError);
  if (af === AF_UNIX) return { status: 'ok', info: unknownInfo(2, false), length };
  const udp = proto === PROTO_DGRAM;
  let info: ProxyInfo;
  if (af === AF_INET) {
    info = {
      version: 2, local: false, family: udp ? 'udp4' : 'tcp4',
      srcAddr: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`,
      dstAddr: `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`,
      srcPort: buf.readUInt16BE(24), dstPort: buf.readUInt16BE(26),
    };
  } else {
    info = {
      version: 2, local: false, family: udp ? 'udp6' : 'tcp6',
      srcAddr: formatIPv6(buf.subarray(16, 32), true),
      dstAddr: formatIPv6(buf.subarray(32, 48), true),
      srcPort: buf.readUInt16BE(48), dstPort: buf.readUInt16BE(50),
    };
  }
  return { status: 'ok', info, length };
}

/** TLVs in buf[from, to) must tile the range exactly; a CRC32C TLV must match (§2.2.3). */
function checkTlvs(buf: Buffer, from: number, to: number): string | null {
  let off = from;
  while (off < to) {
    if (off + 3 > to) return 'v2: truncated TLV header';
    const type = buf[off];
    const len = buf.readUInt16BE(off + 1);
    if (off + 3 + len > to) return `v2: TLV 0x${type.toString(16)} overruns the header`;
    if (type === PP2_TYPE_CRC32C) {
      if (len !== 4) return 'v2: CRC32C TLV must be 4 bytes';
      const want = buf.readUInt32BE(off + 3);
      const copy = Buffer.from(buf.subarray(0, to));
      copy.writeUInt32BE(0, off + 3);
      if (crc32c(copy) !== want) return 'v2: CRC32C mismatch';
    }
    off += 3 + len;
  }
  return null;
}

let crcTable: Uint32Array | null = null;

/** CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 appendix B; check value of "123456789" is 0xE3069283. */
export function crc32c(data: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The address pair as 4- or 16-byte arrays for the family, or null when it cannot be expressed. */
function addressBytes(a: ProxyAddress): { v6: boolean; src: Uint8Array; dst: Uint8Array } | null {
  if (a.family === 'unknown') return null;
  if (!validPort(a.srcPort) || !validPort(a.dstPort)) return null;
  const v6 = a.family === 'tcp6' || a.family === 'udp6';
  const src = v6 ? ipv6Bytes(a.srcAddr) : ipv4Bytes(a.srcAddr);
  const dst = v6 ? ipv6Bytes(a.dstAddr) : ipv4Bytes(a.dstAddr);
  if (src === null || dst === null) return null;
  return { v6, src, dst };
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** IPv4 text (or IPv4-mapped IPv6 text) → 4 bytes. */
function ipv4Bytes(s: string): Uint8Array | null {
  const v4 = asIPv4(s);
  return v4 === null ? null : Uint8Array.from(v4.split('.').map(Number));
}

/** IPv6 text (or IPv4 text, mapped to ::ffff:a.b.c.d) → 16 bytes. */
function ipv6Bytes(s: string): Uint8Array | null {
  if (isStrictIPv4(s)) return parseIPv6(`::ffff:${s}`);
  return parseIPv6(s);
}

/**
 * The v1 line for `a`: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (TCP6 likewise, addresses in
 * RFC 5952 hex form without a dotted tail). v1 cannot carry UDP, so udp4/udp6 — like 'unknown',
 * and like an address or port that does not fit the family — give `PROXY UNKNOWN\r\n` (§2.1:
 * "unsupported, or unknown protocols must be reported with the name UNKNOWN").
 */
export function encodeProxyV1(a: ProxyAddress): Buffer {
  const ab = a.family === 'tcp4' || a.family === 'tcp6' ? addressBytes(a) : null;
  if (ab === null) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const fmt = (b: Uint8Array): string => (ab.v6 ? formatIPv6(b, false) : Array.from(b).join('.'));
  const line = `PROXY ${ab.v6 ? 'TCP6' : 'TCP4'} ${fmt(ab.src)} ${fmt(ab.dst)} ${a.srcPort} ${a.dstPort}\r\n`;
  return Buffer.from(line, 'latin1');
}

/**
 * The v2 header for `a`: PROXY command (0x21), STREAM for tcp* or DGRAM for udp*, AF_INET
 * (length 12) or AF_INET6 (length 36), no TLVs. 'unknown' — or an address or port that does not
 * fit the family — gives LOCAL with AF_UNSPEC and length 0 (16 bytes).
 */
export function encodeProxyV2(a: ProxyAddress): Buffer {
  const ab = addressBytes(a);
  if (ab === null) {
    const out = Buffer.alloc(16);
    PROXY_V2_SIGNATURE.copy(out, 0);
    out[12] = 0x20 | CMD_LOCAL;
    out[13] = (AF_UNSPEC << 4) | PROTO_UNSPEC;
    return out;
  }
  const addrLen = ab.v6 ? 36 : 12;
  const out = Buffer.alloc(16 + addrLen);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = 0x20 | CMD_PROXY;
  const udp = a.family === 'udp4' || a.family === 'udp6';
  out[13] = ((ab.v6 ? AF_INET6 : AF_INET) << 4) | (udp ? PROTO_DGRAM : PROTO_STREAM);
  out.writeUInt16BE(addrLen, 14);
  out.set(ab.src, 16);
  out.set(ab.dst, 16 + ab.src.length);
  out.writeUInt16BE(a.srcPort, 16 + 2 * ab.src.length);
  out.writeUInt16BE(a.dstPort, 18 + 2 * ab.src.length);
  return out;
}

/** Strips an IPv6 zone id ("fe80::1%eth0"): neither header format can carry one. */
function stripZone(s: string): string {
  const i = s.indexOf('%');
  return i < 0 ? s : s.slice(0, i);
}

/**
 * The address pair of a node socket (remoteAddress/remotePort → src, localAddress/localPort →
 * dst), tcp* by default or udp* when `udp`. IPv4-mapped IPv6 (::ffff:1.2.3.4) counts as IPv4, so
 * two such addresses give tcp4; when one side is real IPv6 both are written as IPv6. A missing
 * field (a socket already closed) gives 'unknown'.
 */
export function proxyAddressOf(
  s: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number },
  udp?: boolean,
): ProxyAddress {
  const none: ProxyAddress = { family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 };
  if (s.remoteAddress === undefined || s.localAddress === undefined) return none;
  if (s.remotePort === undefined || s.localPort === undefined) return none;
  const src = stripZone(s.remoteAddress);
  const dst = stripZone(s.localAddress);
  const src4 = asIPv4(src);
  const dst4 = asIPv4(dst);
  if (src4 !== null && dst4 !== null) {
    return { family: udp ? 'udp4' : 'tcp4', srcAddr: src4, srcPort: s.remotePort, dstAddr: dst4, dstPort: s.localPort };
  }
  const s6 = ipv6Bytes(src);
  const d6 = ipv6Bytes(dst);
  if (s6 === null || d6 === null) return none;
  return {
    family: udp ? 'udp6' : 'tcp6',
    srcAddr: formatIPv6(s6, true), srcPort: s.remotePort,
    dstAddr: formatIPv6(d6, true), dstPort: s.localPort,
  };
}

/** Dotted IPv4 for an IPv4 or IPv4-mapped IPv6 address, else null. */
function asIPv4(s: string): string | null {
  if (isStrictIPv4(s)) return s;
  if (!/^::ffff:/i.test(s)) return null;
  const b = parseIPv6(s);
  if (b === null) return null;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return null;
  if (b[10] !== 0xff || b[11] !== 0xff) return null;
  return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
}
