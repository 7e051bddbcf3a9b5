/**
 * One DNS query in, one response out (RFC 1035 §4.1, EDNS0 RFC 6891, Client Subnet RFC 7871,
 * minimal ANY RFC 8482, truncation RFC 1035 §4.2.1 / RFC 7766). Wire format by dns-packet
 * (DESIGN.md rule 8); everything that can be wrong in a packet is caught here and becomes FORMERR
 * (or a drop when not even a header can be trusted), never an exception out of this module:
 * - shorter than a header, or QR set (a response): dropped;
 * - opcode other than QUERY: NOTIMP; QDCOUNT ≠ 1, undecodable names (compression loops, forward
 *   pointers, oversize names, counts beyond the packet), several OPT records, a bad ECS option: FORMERR;
 * - EDNS version > 0: BADVERS; class other than IN, AXFR/IXFR, names outside our zones: REFUSED.
 */
import * as dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import type { Addr } from '../cidr.ts';
import type { ClientView } from '../policies/types.ts';
import { RCODE, type ZoneSet, type Steer, type Resolution } from '../zones.ts';
import { readFastQuery, type FastQuery } from './fast-query.ts';

/** Extended RCODE BADVERS (RFC 6891 §6.1.3): upper 8 bits 1, header bits 0. */
export const BADVERS = 16;
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const OPCODE_MASK = 0x7800;
/** Classic DNS UDP payload limit without EDNS. */
export const UDP_MIN = 512;

/** Decides a GSLB name for a client (bound per query by the engine). */
export type SteerFor = (name: string, family: 'A' | 'AAAA', client: ClientView) => ReturnType<Steer>;

export interface WireContext {
  readonly zones: ZoneSet;
  readonly steer: SteerFor;
  /** Our EDNS UDP payload size (advertised; also our cap on UDP responses). */
  readonly ednsUdpSize: number;
  /** Encoded responses by query shape and answer (see fastAnswer); rebuilt with the context on reload. */
  readonly cache?: ResponseCache;
  /**
   * UDP responses by the resolver's address and the query's exact bytes after the ID: a hit is a
   * copy and an ID patch. Only answers that cannot change until a site changes state go here; the
   * runtime clears it on every site state change.
   */
  readonly exact?: ResponseCache;
}

/** Encoded responses kept at most (the map starts afresh when full). */
export const CACHE_MAX = 20_000;

/** Cached response bytes and what they carry. */
export interface Cached {
  readonly bytes: Buffer;
  readonly rcode: number;
  readonly truncated: boolean;
}

export type ResponseCache = Map<string, Cached>;

export interface WireResult {
  /** Response bytes, or null: drop. */
  readonly bytes: Buffer | null;
  /** RCODE sent (with BADVERS = 16), −1 when dropped. */
  readonly rcode: number;
  readonly truncated: boolean;
}

const DROP: WireResult = { bytes: null, rcode: -1, truncated: false };

/** A response carrying only a header: `id`, the query's opcode and RD, `rcode`; no sections. */
function headerOnly(query: Buffer, rcode: number): WireResult {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(query.readUInt16BE(0), 0);
  b.writeUInt16BE(QR | (query.readUInt16BE(2) & (OPCODE_MASK | RD)) | (rcode & 0xf), 2);
  return { bytes: b, rcode, truncated: false };
}

interface Ecs {
  family: number;
  source: number;
  addr: Addr;
}

/** Parses an ECS option's data (RFC 7871 §6); null when malformed (→ FORMERR). */
export function parseEcs(data: Buffer): Ecs | null {
  if (data.length < 4) return null;
  const family = data.readUInt16BE(0);
  const source = data[2];
  const scope = data[3];
  const width = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (width === 0 || source > width * 8 || scope !== 0) return null;
  const n = Math.ceil(source / 8);
  if (data.length !== 4 + n) return null;
  const addr = new Uint8Array(width);
  for (let i = 0; i < n; i++) addr[i] = data[4 + i];
  // Bits past the source prefix must be zero.
  if (n > 0 && source % 8 !== 0 && (addr[n - 1] & (0xff >> (source % 8))) !== 0) return null;
  return { family, source, addr };
}

function ecsOption(e: Ecs, scope: number): { code: number; data: Buffer } {
  const n = Math.ceil(e.source / 8);
  const data = Buffer.alloc(4 + n);
  data.writeUInt16BE(e.family, 0);
  data[2] = e.source;
  data[3] = e.source === 0 ? 0 : Math.min(scope, e.family === 1 ? 32 : 128);
  for (let i = 0; i < n; i++) data[4 + i] = e.addr[i];
  return { code: 8, data };
}

/**
 * Encodes a response: the question as given, the resolution's sections, an OPT record when the
 * query had one (`udpSize` > 0) with the ECS option echoed and its scope; over UDP, a response
 * larger than min(client's size, ours) — 512 without EDNS — is sent empty with TC set.
 */
function encodeResponse(
  id: number, queryFlags: number, question: dnsPacket.Question, udpSize: number, ecs: Ecs | null,
  res: Pick<Resolution, 'rcode' | 'aa' | 'answers' | 'authority' | 'scope'>, udp: boolean, ctx: WireContext,
): WireResult {
  const { rcode } = res;
  const additionals: Answer[] = [];
  if (udpSize > 0) {
    additionals.push({
      type: 'OPT', name: '.', udpPayloadSize: ctx.ednsUdpSize, extendedRcode: rcode >> 4, ednsVersion: 0, flags: 0,
      options: ecs === null ? [] : [ecsOption(ecs, res.scope)],
    } as unknown as Answer);
  }
  const hdr = (queryFlags & RD) | (res.aa ? AA : 0) | (rcode & 0xf);
  const packet = { type: 'response' as const, id, flags: hdr, questions: [question], answers: res.answers, authorities: res.authority, additionals };
  let bytes = dnsPacket.encode(packet);
  let truncated = false;
  if (udp) {
    const limit = udpSize === 0 ? UDP_MIN : Math.min(udpSize, ctx.ednsUdpSize);
    if (bytes.length > limit) {
      truncated = true;
      bytes = dnsPacket.encode({ ...packet, flags: hdr | TC, answers: [], authorities: [] });
    }
  }
  return { bytes, rcode, truncated };
}

/**
 * The fast path (plain queries, see ./fast-query.ts): resolve, then answer from the cache of
 * encoded responses keyed by the query's shape (transport, EDNS, ECS bytes, type, name) and, for
 * GSLB names, by the decision (addresses, TTL, scope): a hit costs a copy and three patches (ID, RD,
 * the question name's letter case).
 */
/** The client of the query being answered: read by `steerCurrent` (all synchronous, one query at a time). */
const current: { ctx: WireContext; client: ClientView; dynamic: boolean; stable: boolean } = { ctx: null as unknown as WireContext, client: { addr: new Uint8Array(4), prefix: 0 }, dynamic: false, stable: true };
const steerCurrent: Steer = (name, family) => {
  current.dynamic = true;
  const a = current.ctx.steer(name, family, current.client);
  if (!a.stable) current.stable = false;
  return a;
};

function fastAnswer(query: Buffer, fq: FastQuery, ecs: Ecs | null, resolver: Addr, udp: boolean, ctx: WireContext, exactKey: string | null): WireResult {
  const client: ClientView = ecs !== null && ecs.source > 0 ? { addr: ecs.addr, prefix: ecs.source } : { addr: resolver, prefix: resolver.length * 8 };
  current.ctx = ctx;
  current.client = client;
  current.dynamic = false;
  current.stable = true;
  const res = ctx.zones.resolve(fq.name, fq.qtype, steerCurrent);
  const dynamic = current.dynamic;
  let key = `${udp ? 'u' : 't'}${fq.udpSize}|${fq.ecs === null ? '' : fq.ecs.toString('latin1')}|${fq.qtype}|${fq.name}`;
  if (dynamic) {
    key += `#${res.rcode},${res.scope}`;
    for (const a of res.answers) key += `,${(a as { data: string }).data}/${(a as { ttl: number }).ttl}`;
  }
  const cache = ctx.cache;
  let c = cache?.get(key);
  if (c === undefined) {
    c = encodeResponse(0, 0, { name: fq.name, type: fq.qtype as 'A', class: 'IN' }, fq.udpSize, ecs, res, udp, ctx) as Cached;
    if (cache !== undefined) {
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(key, c);
    }
  }
  const out = Buffer.allocUnsafe(c.bytes.length);
  c.bytes.copy(out);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = (out[2] & 0xfe) | (query[2] & 0x01);
  query.copy(out, 12, 12, fq.nameEnd);
  const exact = ctx.exact;
  if (exactKey !== null && exact !== undefined && !fq.otherOptions && current.stable) {
    if (exact.size >= CACHE_MAX) exact.clear();
    exact.set(exactKey, { bytes: Buffer.from(out), rcode: c.rcode, truncated: c.truncated });
  }
  return { bytes: out, rcode: c.rcode, truncated: c.truncated };
}

/**
 * Answers one query. `resolver` is the packet's source address (4 or 16 bytes); `udp` enables
 * truncation; `resolverKey` (the source address as text, UDP only) enables the exact-bytes cache.
 */
export function answer(query: Buffer, resolver: Addr, udp: boolean, ctx: WireContext, resolverKey?: string): WireResult {
  if (query.length < 12) return DROP;
  let exactKey: string | null = null;
  const exact = ctx.exact;
  if (udp && resolverKey !== undefined && exact !== undefined && query.length <= 512) {
    exactKey = resolverKey + query.toString('latin1', 2);
    const hit = exact.get(exactKey);
    if (hit !== undefined) {
      const out = Buffer.allocUnsafe(hit.bytes.length);
      hit.bytes.copy(out);
      out[0] = query[0];
      out[1] = query[1];
      return { bytes: out, rcode: hit.rcode, truncated: hit.truncated };
    }
  }
  const flags = query.readUInt16BE(2);
  if ((flags & QR) !== 0) return DROP;
  if ((flags & OPCODE_MASK) !== 0) return headerOnly(query, RCODE.NOTIMP);
  const fq = readFastQuery(query);
  if (fq !== null) {
    const ecs = fq.ecs === null ? null : parseEcs(fq.ecs);
    if (fq.ecs === null || ecs !== null) return fastAnswer(query, fq, ecs, resolver, udp, ctx, exactKey);
  }
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(query);
  } catch {
    return headerOnly(query, RCODE.FORMERR);
  }
  const questions = q.questions ?? [];
  if (questions.length !== 1) return headerOnly(query, RCODE.FORMERR);
  const question = questions[0];
  let opt: dnsPacket.OptAnswer | null = null;
  for (const a of q.additionals ?? []) {
    if (a.type !== 'OPT') continue;
    if (opt !== null || a.name !== '.') return headerOnly(query, RCODE.FORMERR);
    opt = a as dnsPacket.OptAnswer;
  }
  let ecs: Ecs | null = null;
  if (opt !== null) {
    for (const o of opt.options ?? []) {
      if ((o as { code: number }).code !== 8) continue;
      const e: Ecs | null = ecs === null ? parseEcs((o as { data: Buffer }).data) : null;
      if (e === null) return headerOnly(query, RCODE.FORMERR);
      ecs = e;
    }
  }
  const udpSize = opt === null ? 0 : Math.max(UDP_MIN, opt.udpPayloadSize ?? UDP_MIN);
  const respond = (rcode: number, aa: boolean, answers: Answer[], authority: Answer[], scope: number): WireResult =>
    encodeResponse(q.id ?? 0, flags, question, udpSize, ecs, { rcode, aa, answers, authority, scope }, udp, ctx);
  if (opt !== null && (opt.ednsVersion ?? 0) !== 0) return respond(BADVERS, false, [], [], 0);
  if (question.class !== 'IN') return respond(RCODE.REFUSED, false, [], [], 0);
  const qtype = question.type as string;
  if (qtype === 'AXFR' || qtype === 'IXFR') return respond(RCODE.REFUSED, false, [], [], 0);
  // The client a decision is made for: the ECS subnet, or the resolver when none (or source /0).
  const client: ClientView = ecs !== null && ecs.source > 0
    ? { addr: ecs.addr, prefix: ecs.source }
    : { addr: resolver, prefix: resolver.length * 8 };
  const qname = question.name.toLowerCase().replace(/\.$/, '');
  const res = ctx.zones.resolve(qname, qtype, (name, family) => ctx.steer(name, family, client));
  return respond(res.rcode, res.aa, res.answers, res.authority, res.scope);
}
