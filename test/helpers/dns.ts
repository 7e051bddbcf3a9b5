/**
 * Small DNS responders and a DNS client socket for the UDP tests, on 127.0.0.1 with port 0, built
 * on dns-packet (RFC 1035 wire format). A responder answers every A query with its own address, so
 * a test sees which responder answered; it records the source port of every query it got.
 * Every wait is bounded in time; close() stops what was started.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { isIPv6 } from 'node:net';
import * as dnsPacket from 'dns-packet';

export interface DnsResponder {
  port: number;
  /** The address this responder puts in its A answers. */
  answer: string;
  /** Queries received so far. */
  queries: number;
  /** Source ports queries came from (Fulcrum's upstream sockets), with their counts. */
  sources: Map<number, number>;
  close(): Promise<void>;
}

export interface ResponderOptions {
  /** Delay before each answer (ms, default 0). */
  delayMs?: number;
  /** Loopback address to bind (default 127.0.0.1; `::1` for IPv6). */
  host?: string;
}

/** Starts a responder answering A queries with `answer` (TTL 0). */
export async function startDnsResponder(answer: string, opts: ResponderOptions = {}): Promise<DnsResponder> {
  const host = opts.host ?? '127.0.0.1';
  const delayMs = opts.delayMs ?? 0;
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  const r: DnsResponder = {
    port: 0,
    answer,
    queries: 0,
    sources: new Map(),
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
  sock.on('error', () => {});
  sock.on('message', (msg, rinfo) => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return; // not DNS: ignored
    }
    r.queries++;
    r.sources.set(rinfo.port, (r.sources.get(rinfo.port) ?? 0) + 1);
    const question = q.questions?.[0];
    const reply = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
      questions: q.questions,
      answers: question !== undefined && question.type === 'A'
        ? [{ type: 'A', class: 'IN', name: question.name, ttl: 0, data: answer }]
        : [],
    });
    const send = () => sock.send(reply, rinfo.port, rinfo.address);
    if (delayMs > 0) setTimeout(send, delayMs); else send();
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  r.port = sock.address().port;
  return r;
}

/** An A query for `name` with transaction `id`. */
export function aQuery(name: string, id: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', class: 'IN', name }],
  });
}

export interface DnsAnswer {
  id: number;
  /** Question name as echoed by the responder. */
  name: string;
  /** First A answer's address ('' when none). */
  address: string;
}

/** Decodes a response; null when it is not DNS. */
export function decodeAnswer(buf: Buffer): DnsAnswer | null {
  try {
    const p = dnsPacket.decode(buf);
    const a = p.answers?.find((x): x is dnsPacket.StringAnswer => x.type === 'A');
    return { id: p.id ?? -1, name: p.questions?.[0]?.name ?? '', address: a !== undefined ? a.data : '' };
  } catch {
    return null;
  }
}

/** A client socket on a loopback address (its own source port: one flow) that collects the answers it gets. */
export interface DnsClient {
  port: number;
  answers: DnsAnswer[];
  send(query: Buffer, toPort: number): void;
  /** Resolves once `n` answers have arrived in total, or false after `timeoutMs`. */
  waitAnswers(n: number, timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** A client bound to `host` (default 127.0.0.1; `::1` for IPv6), sending to the same address. */
export async function dnsClient(host = '127.0.0.1'): Promise<DnsClient> {
  const sock: Socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  const answers: DnsAnswer[] = [];
  let waiter: (() => void) | null = null;
  sock.on('error', () => {});
  sock.on('message', (msg) => {
    const a = decodeAnswer(msg);
    if (a !== null) answers.push(a);
    waiter?.();
  });
  sock.bind(0, host);
  await once(sock, 'listening');
  let closed = false;
  return {
    port: sock.address().port,
    answers,
    send: (query, toPort) => sock.send(query, toPort, host),
    waitAnswers: (n, timeoutMs) => new Promise<boolean>((resolve) => {
      if (answers.length >= n) return resolve(true);
      const timer = setTimeout(() => { waiter = null; resolve(false); }, timeoutMs);
      waiter = () => {
        if (answers.length < n) return;
        clearTimeout(timer);
        waiter = null;
        resolve(true);
      };
    }),
    close: () => {
      if (closed) return;
      closed = true;
      sock.close();
    },
  };
}
