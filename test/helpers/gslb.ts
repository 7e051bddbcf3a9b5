/**
 * Helpers for the GSLB tests: a validated `gslb` config from a partial one, a raw UDP/TCP DNS
 * client (dns-packet), and `dig` run as a child process with its output parsed. Every wait is
 * bounded; nothing binds a fixed port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { validateConfig } from '../../src/config/index.ts';
import type { GslbConfig } from '../../src/gslb/schema.ts';

export const HAVE_DIG = spawnSync('dig', ['-v']).status === 0;
/** `skip` value for tests that need dig (bind9-dnsutils); fails under FULCRUM_TEST_STRICT=1. */
export const SKIP_DIG = !HAVE_DIG && process.env.FULCRUM_TEST_STRICT !== '1' ? 'dig not found (Debian package bind9-dnsutils)' : false;

/** A whole config around `gslb` (one dummy listener and pool, admin on port 0). */
export function configWith(gslb: object): Record<string, unknown> {
  return {
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:9' }] }],
    gslb: { listen: '127.0.0.1:0', ...gslb },
  };
}

/** The parsed `gslb` section of `configWith(gslb)`; throws with every problem when invalid. */
export function gslbConfig(gslb: object): GslbConfig {
  const r = validateConfig(configWith(gslb));
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.config.gslb!;
}

export interface DigResult {
  status: string;
  flags: string[];
  answers: { name: string; ttl: number; type: string; data: string }[];
  authority: string[];
  /** `CLIENT-SUBNET: a/source/scope` as [source, scope], or null. */
  ecs: [number, number] | null;
  raw: string;
}

/** Runs `dig @127.0.0.1 -p PORT ...args` (no recursion, 3 s timeout, one try) and parses it. */
export async function dig(port: number, args: string[]): Promise<DigResult> {
  const p = spawn('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+time=3', '+tries=1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d: string) => { out += d; });
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await once(p, 'close');
  clearTimeout(timer);
  return parseDig(out);
}

export function parseDig(out: string): DigResult {
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([^;]*);/.exec(out)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const section = (name: string): string[] => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
    return m === null ? [] : m[1].split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
  };
  const answers = section('ANSWER').map((l) => {
    const [name, ttl, , type, ...rest] = l.split(/\s+/);
    return { name, ttl: Number(ttl), type, data: rest.join(' ') };
  });
  const e = /CLIENT-SUBNET: [^/\s]+\/(\d+)\/(\d+)/.exec(out);
  return { status, flags, answers, authority: section('AUTHORITY'), ecs: e ? [Number(e[1]), Number(e[2])] : null, raw: out };
}

/** Sends one raw datagram and waits up to `timeoutMs` for a reply (null on timeout). */
export async function udpExchange(port: number, packet: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  const s = createSocket('udp4');
  s.on('error', () => {});
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  try {
    return await new Promise<Buffer | null>((resolve) => {
      const t = setTimeout(() => resolve(null), timeoutMs);
      s.once('message', (m) => { clearTimeout(t); resolve(m); });
      s.send(packet, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

/** A query packet (dns-packet); `opts.ecs` adds an EDNS Client Subnet option. */
export function query(name: string, type: string, opts: { id?: number; edns?: boolean; ecs?: { ip: string; source: number } } = {}): Buffer {
  const additionals = opts.edns || opts.ecs ? [{
    type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0,
    options: opts.ecs ? [{ code: 'CLIENT_SUBNET', ip: opts.ecs.ip, sourcePrefixLength: opts.ecs.source, scopePrefixLength: 0 }] : [],
  }] : [];
  return dnsPacket.encode({ type: 'query', id: opts.id ?? 1, flags: 0, questions: [{ type: type as 'A', class: 'IN', name }], additionals: additionals as unknown as dnsPacket.Answer[] });
}

/** One query over TCP (2-byte length framing); resolves with the response or null after `timeoutMs`. */
export function tcpExchange(port: number, packet: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const done = (v: Buffer | null): void => { clearTimeout(t); sock.destroy(); resolve(v); };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on('error', () => done(null));
    sock.on('close', () => done(null));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    const frame = Buffer.alloc(2 + packet.length);
    frame.writeUInt16BE(packet.length, 0);
    packet.copy(frame, 2);
    sock.write(frame);
  });
}

/** RCODE of a response (low 4 bits of the header). */
export function rcodeOf(b: Buffer): number {
  return b.readUInt16BE(2) & 0xf;
}
