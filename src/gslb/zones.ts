/**
 * Authoritative zone data (RFC 1034 §4.3.2, RFC 2308, RFC 8482), compiled once from the config into
 * lookup maps: the RRsets of every owner name, the names that exist (empty non-terminals included,
 * so NODATA and NXDOMAIN are told apart), and which names are GSLB names. Pure: resolution of GSLB
 * names is delegated to a callback (the steering layer). No wildcards, no delegations below the apex.
 */
import type { Answer } from 'dns-packet';
import type { ZoneConfig } from './schema.ts';
import { normalizeName } from './schema.ts';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

/** Result of a GSLB name's decision for one query. */
export interface SteerAnswer {
  /** Answer records (A or AAAA), possibly none (NODATA). */
  readonly answers: Answer[];
  /** ECS scope prefix length. */
  readonly scope: number;
  /** SERVFAIL when no site is up and the name says so. */
  readonly servfail: boolean;
  /** The same query from the same client gets the same answer until a site changes state (no randomness, rotation, RTT or clock in it). */
  readonly stable: boolean;
}

/** Steers a GSLB name: `qtype` is 'A' or 'AAAA'. */
export type Steer = (name: string, qtype: 'A' | 'AAAA') => SteerAnswer;

export interface Resolution {
  rcode: number;
  /** AA flag (false only for REFUSED). */
  aa: boolean;
  answers: Answer[];
  authority: Answer[];
  /** ECS scope of the answer (0 when it does not depend on the client). */
  scope: number;
}

interface Node {
  rrsets: Map<string, Answer[]>;
}

export class Zone {
  readonly apex: string;
  readonly soa: Answer;
  /** SOA as sent in the authority section of negative answers (TTL = min(ttl, minimum)). */
  readonly negativeSoa: Answer;
  readonly nodes = new Map<string, Node>();
  /** Every name that exists: owners, GSLB names and the empty non-terminals above them. */
  readonly exists = new Set<string>();
  readonly gslb = new Set<string>();

  constructor(z: ZoneConfig, gslbNames: readonly string[]) {
    this.apex = z.name;
    const mname = z.soa.mname ?? `ns1.${z.name}`;
    const soaData = {
      mname, rname: z.soa.rname ?? `hostmaster.${z.name}`, serial: z.soa.serial,
      refresh: z.soa.refresh, retry: z.soa.retry, expire: z.soa.expire, minimum: z.soa.minimum,
    };
    this.soa = { name: z.name, type: 'SOA', class: 'IN', ttl: z.ttl, data: soaData };
    this.negativeSoa = { ...this.soa, ttl: Math.min(z.ttl, z.soa.minimum) };
    this.add(this.soa);
    for (const ns of z.ns.length > 0 ? z.ns : [mname]) this.add({ name: z.name, type: 'NS', class: 'IN', ttl: z.ttl, data: ns });
    z.records.forEach((r, i) => {
      const owner = ownerName(r.name, z.name);
      const values = typeof r.value === 'string' ? [r.value] : r.value;
      for (const v of values) this.add({ name: owner, type: r.type, class: 'IN', ttl: r.ttl ?? z.ttl, data: rdata(r.type, v, `records[${i}]`) } as Answer);
    });
    for (const n of gslbNames) {
      this.gslb.add(n);
      this.markExists(n);
    }
  }

  private add(rr: Answer): void {
    let node = this.nodes.get(rr.name);
    if (node === undefined) {
      node = { rrsets: new Map() };
      this.nodes.set(rr.name, node);
    }
    const set = node.rrsets.get(rr.type);
    if (set === undefined) node.rrsets.set(rr.type, [rr]);
    else set.push(rr);
    this.markExists(rr.name);
  }

  private markExists(name: string): void {
    for (let n = name; ; n = n.slice(n.indexOf('.') + 1)) {
      this.exists.add(n);
      if (n === this.apex || !n.includes('.')) break;
    }
  }
}

/** `www` → `www.example.com`, `@` → apex, `x.other.org.` → `x.other.org`. */
export function ownerName(name: string, apex: string): string {
  if (name === '@') return apex;
  if (name.endsWith('.')) return normalizeName(name);
  return `${name.toLowerCase()}.${apex}`;
}

/** Record data as dns-packet encodes it; throws an Error naming `where` on a malformed value. */
export function rdata(type: string, v: string, where: string): unknown {
  const parts = v.trim().split(/\s+/);
  const bad = (what: string): never => { throw new Error(`${where}.value: expected ${what}, got ${JSON.stringify(v)}`); };
  switch (type) {
    case 'A': case 'AAAA': case 'CNAME': case 'NS':
      return type === 'CNAME' || type === 'NS' ? normalizeName(v) : v;
    case 'TXT': {
      const chunks: string[] = [];
      const buf = Buffer.from(v);
      for (let i = 0; i < buf.length || i === 0; i += 255) chunks.push(buf.subarray(i, i + 255).toString());
      return chunks;
    }
    case 'MX':
      if (parts.length !== 2 || !/^\d+$/.test(parts[0])) bad('"PREFERENCE HOST"');
      return { preference: Number(parts[0]), exchange: normalizeName(parts[1]) };
    case 'SRV':
      if (parts.length !== 4 || !parts.slice(0, 3).every((p) => /^\d+$/.test(p))) bad('"PRIORITY WEIGHT PORT TARGET"');
      return { priority: Number(parts[0]), weight: Number(parts[1]), port: Number(parts[2]), target: normalizeName(parts[3]) };
    default:
      return bad(`a record type among A, AAAA, CNAME, NS, TXT, MX, SRV`);
  }
}

/** Every zone served, and resolution of one question against them. */
export class ZoneSet {
  /** Longest apex first, so the most specific zone wins. */
  readonly zones: Zone[];

  constructor(zones: Zone[]) {
    this.zones = [...zones].sort((a, b) => b.apex.length - a.apex.length);
  }

  /** The zone `name` (lowercased, no trailing dot) falls in, or null. */
  find(name: string): Zone | null {
    for (const z of this.zones) {
      if (name === z.apex || (name.endsWith(z.apex) && name.charCodeAt(name.length - z.apex.length - 1) === 46)) return z;
    }
    return null;
  }

  /**
   * Answers `qtype` for `qname` (lowercased). CNAMEs are followed inside our zones (at most 8);
   * ANY gets one RRset (RFC 8482). `steer` decides GSLB names.
   */
  resolve(qname: string, qtype: string, steer: Steer): Resolution {
    const zone = this.find(qname);
    if (zone === null) return { rcode: RCODE.REFUSED, aa: false, answers: [], authority: [], scope: 0 };
    const answers: Answer[] = [];
    let scope = 0;
    let name = qname;
    let z: Zone = zone;
    for (let hop = 0; hop < 9; hop++) {
      // A GSLB name answers A and AAAA (and ANY, minimally) itself; other types fall to its static data (none, or the apex's SOA/NS).
      const family = qtype === 'AAAA' ? 'AAAA' : qtype === 'A' || qtype === 'ANY' ? 'A' : null;
      if (family !== null && z.gslb.has(name)) {
        const s = steer(name, family);
        scope = Math.max(scope, s.scope);
        if (s.servfail) return { rcode: RCODE.SERVFAIL, aa: true, answers: [], authority: [], scope };
        answers.push(...s.answers);
        return answers.length > 0 ? ok(answers, scope) : negative(RCODE.NOERROR, answers, z, scope);
      }
      const node = z.nodes.get(name);
      if (node === undefined) {
        return negative(z.exists.has(name) ? RCODE.NOERROR : RCODE.NXDOMAIN, answers, z, scope);
      }
      const cname = node.rrsets.get('CNAME');
      if (qtype === 'ANY') {
        const first = node.rrsets.get('A') ?? node.rrsets.get('AAAA') ?? cname ?? node.rrsets.values().next().value!;
        answers.push(...first);
        return ok(answers, scope);
      }
      const set = node.rrsets.get(qtype);
      if (set !== undefined) {
        answers.push(...set);
        return ok(answers, scope);
      }
      if (cname === undefined || qtype === 'CNAME') return negative(RCODE.NOERROR, answers, z, scope);
      answers.push(cname[0]);
      const target = (cname[0] as { data: unknown }).data as string;
      const next = this.find(target);
      if (next === null) return ok(answers, scope); // out of our zones: the resolver follows it
      name = target;
      z = next;
    }
    return { rcode: RCODE.SERVFAIL, aa: true, answers: [], authority: [], scope }; // CNAME loop
  }
}

function ok(answers: Answer[], scope: number): Resolution {
  return { rcode: RCODE.NOERROR, aa: true, answers, authority: [], scope };
}

function negative(rcode: number, answers: Answer[], z: Zone, scope: number): Resolution {
  // After a CNAME chain, NXDOMAIN/NODATA refer to the last name (RFC 6604); the SOA is the target zone's.
  return { rcode, aa: true, answers, authority: [z.negativeSoa], scope };
}
