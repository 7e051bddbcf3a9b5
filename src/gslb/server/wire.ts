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
import { RCODE, type ZoneSet, type Steer } from '../zones.ts';

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
}

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

/** Answers one query. `resolver` is the packet's source address (4 or 16 bytes); `udp` enables truncation. */
export function answer(query: Buffer, resolver: Addr, udp: boolean, ctx: WireContext): WireResult {
  if (query.length < 12) return DROP;
  const flags = query.readUInt16BE(2);
  if ((flags & QR) !== 0) return DROP;
  if ((flags & OPCODE_MASK) !== 0) return headerOnly(query, RCODE.NOTIMP);
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
  const respond = (rcode: number, aa: boolean, answers: Answer[], authority: Answer[], scope: number): WireResult => {
    const additionals: Answer[] = [];
    if (opt !== null) {
      additionals.push({
        type: 'OPT', name: '.', udpPayloadSize: ctx.ednsUdpSize, extendedRcode: rcode >> 4, ednsVersion: 0, flags: 0,
        options: ecs === null ? [] : [ecsOption(ecs, scope)],
      } as unknown as Answer);
    }
    const hdr = (flags & RD) | (aa ? AA : 0) | (rcode & 0xf);
    const packet = { type: 'response' as const, id: q.id, flags: hdr, questions: [question], answers, authorities: authority, additionals };
    let bytes = dnsPacket.encode(packet);
    let truncated = false;
    if (udp) {
      const limit = opt === null ? UDP_MIN : Math.max(UDP_MIN, Math.min(opt.udpPayloadSize ?? UDP_MIN, ctx.ednsUdpSize));
      if (bytes.length > limit) {
        truncated = true;
        bytes = dnsPacket.encode({ ...packet, flags: hdr | TC, answers: [], authorities: [] });
      }
    }
    return { bytes, rcode, truncated };
  };
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
