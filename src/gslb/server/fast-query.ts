/**
 * A hand-written reader for the one query shape that is nearly all real traffic — a header, one
 * question with an uncompressed name of plain LDH/underscore labels, class IN, a common type, and at
 * most one OPT record (EDNS0, RFC 6891) whose options are ECS (RFC 7871) or ignored ones such as
 * COOKIE — so those queries skip dns-packet's general decoder and can be answered from the response
 * cache. Anything else returns null and goes through dns-packet (./wire.ts), which also produces
 * the FORMERR / NOTIMP / BADVERS answers. Hand-written because the bench showed the general decode
 * + encode per query at about half of Fulcrum's gap to gdnsd (DESIGN.md rule 8 allows it then).
 */

/** Query types the fast path knows, by number. */
export const QTYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 255: 'ANY' };

export interface FastQuery {
  /** Lowercased name without the trailing dot (`www.example.com`; `` for the root). */
  name: string;
  /** End offset of the question's name in the packet (the name is bytes 12 … nameEnd). */
  nameEnd: number;
  qtype: string;
  /** OPT present: the client's UDP payload size, else 0. */
  udpSize: number;
  /** The ECS option's data (RFC 7871 §6), or null. */
  ecs: Buffer | null;
  /** EDNS options other than ECS were present (COOKIE …): the exact bytes will not repeat. */
  otherOptions: boolean;
}

/** Reads `b` as a plain query; null when it is anything else (the general path decides). */
export function readFastQuery(b: Buffer): FastQuery | null {
  const len = b.length;
  if (len < 17) return null;
  // QR 0, opcode 0; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT ≤ 1.
  if ((b[2] & 0xf8) !== 0 || b[4] !== 0 || b[5] !== 1 || b[6] !== 0 || b[7] !== 0 || b[8] !== 0 || b[9] !== 0 || b[10] !== 0 || b[11] > 1) return null;
  let o = 12;
  let name = '';
  let upper = false;
  for (;;) {
    if (o >= len) return null;
    const l = b[o++];
    if (l === 0) break;
    if (l > 63 || o + l > len || o - 12 + l > 254) return null;
    for (let i = o; i < o + l; i++) {
      const c = b[i];
      if (c >= 97 && c <= 122) continue;
      if (c >= 65 && c <= 90) upper = true;
      else if (!((c >= 48 && c <= 57) || c === 45 || c === 95)) return null;
    }
    const label = b.toString('latin1', o, o + l);
    name = name.length === 0 ? label : `${name}.${label}`;
    o += l;
  }
  if (upper) name = name.toLowerCase();
  const nameEnd = o;
  if (o + 4 > len) return null;
  const qtype = QTYPES[(b[o] << 8) | b[o + 1]];
  if (qtype === undefined || b[o + 2] !== 0 || b[o + 3] !== 1) return null;
  o += 4;
  let udpSize = 0;
  let ecs: Buffer | null = null;
  let otherOptions = false;
  if (b[11] === 1) {
    // OPT: root name, type 41, class = UDP size, TTL = ext-rcode, version 0, flags; rdlen; options.
    if (o + 11 > len || b[o] !== 0 || b[o + 1] !== 0 || b[o + 2] !== 41 || b[o + 6] !== 0) return null;
    udpSize = (b[o + 3] << 8) | b[o + 4];
    if (b[o + 5] !== 0) return null; // extended RCODE bits in a query: let the general path judge
    const rdlen = (b[o + 9] << 8) | b[o + 10];
    o += 11;
    const end = o + rdlen;
    if (end !== len) return null;
    while (o < end) {
      if (o + 4 > end) return null;
      const code = (b[o] << 8) | b[o + 1];
      const olen = (b[o + 2] << 8) | b[o + 3];
      o += 4;
      if (o + olen > end) return null;
      if (code === 8) {
        if (ecs !== null) return null;
        ecs = b.subarray(o, o + olen);
      } else otherOptions = true;
      o += olen;
    }
    if (udpSize < 512) udpSize = 512;
  } else if (o !== len) return null;
  return { name, nameEnd, qtype, udpSize, ecs, otherOptions };
}
