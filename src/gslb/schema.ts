/**
 * The `gslb` section of the configuration (DESIGN.md rule 4): an authoritative DNS server (RFC 1034/
 * 1035, EDNS0 RFC 6891, Client Subnet RFC 7871) whose GSLB names are answered by policies filtered by
 * health. Built by a factory that src/config/schema.ts calls with its shared value schemas (Duration,
 * the health-check schema, listen addresses), so this file does not import schema.ts (no cycle) and
 * edits to schema.ts do not collide with this section.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { isIpOrCidr } from '../config/values.ts';
import './policies/index.ts'; // side effect: every policy registers itself
import { policyNames } from './policies/registry.ts';

const show = (v: unknown): string => JSON.stringify(v);

/** Shared value schemas handed over by src/config/schema.ts. */
export interface GslbSchemaParts<D extends z.ZodType<number, string | number>, A extends z.ZodType<string, string>, H extends z.ZodType> {
  Duration: D;
  ListenAddress: A;
  ServerAddress: A;
  HealthCheck: H;
}

/** A domain name: labels of letters, digits, `-`, `_` (1-63 bytes each, 253 in all); a trailing dot is dropped; output lowercased. */
export const DomainName = z.string().superRefine((s, ctx) => {
  if (!isDomainName(s)) ctx.addIssue({ code: 'custom', message: `expected a domain name (labels of letters, digits, "-" or "_", at most 63 bytes each), got ${show(s)}` });
}).transform(normalizeName);

export function normalizeName(s: string): string {
  const t = s.toLowerCase();
  return t.endsWith('.') && t.length > 1 ? t.slice(0, -1) : t;
}

export function isDomainName(s: string): boolean {
  const t = s.endsWith('.') ? s.slice(0, -1) : s;
  if (t.length === 0 || t.length > 253) return false;
  return t.split('.').every((l) => /^[A-Za-z0-9_*]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

const Ip = z.string().superRefine((s, ctx) => {
  if (isIP(s) === 0) ctx.addIssue({ code: 'custom', message: `expected an IPv4 or IPv6 address, got ${show(s)}` });
});

const Cidr = z.string().superRefine((s, ctx) => {
  if (!isIpOrCidr(s)) ctx.addIssue({ code: 'custom', message: `expected an IPv4/IPv6 address or CIDR block (203.0.113.0/24, 2001:db8::/32), got ${show(s)}` });
});

const Ttl = z.number().int().min(0).max(2_147_483_647);

/** Builds the `gslb` section's schema from the shared value schemas. */
export function gslbSchema<D extends z.ZodType<number, string | number>, A extends z.ZodType<string, string>, H extends z.ZodType>(p: GslbSchemaParts<D, A, H>) {
  const PolicyName = z.string().superRefine((s, ctx) => {
    const known = policyNames();
    if (!known.includes(s)) ctx.addIssue({ code: 'custom', message: `unknown GSLB policy ${show(s)}; expected one of ${known.join(', ')}` });
  });

  const Record = z.strictObject({
    name: z.string().min(1).describe('Owner name: relative to the zone (`www`), `@` for the apex, or absolute with a trailing dot (`www.example.com.`).'),
    type: z.enum(['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'NS']).describe('Record type.'),
    ttl: Ttl.optional().describe('TTL in seconds. Default: the zone\'s `ttl`.'),
    value: z.union([z.string(), z.array(z.string()).min(1)]).describe('A, AAAA: an address (or a list: one record each). CNAME, NS: a domain name. TXT: the text (strings longer than 255 bytes are split). MX: `PREFERENCE HOST` (`10 mail.example.com`). SRV: `PRIORITY WEIGHT PORT TARGET`.'),
  }).describe('A static record of the zone.');

  const Soa = z.strictObject({
    mname: DomainName.optional().describe('Primary name server. Default: `ns1.<zone>`.'),
    rname: DomainName.optional().describe('Mailbox of the person responsible, as a name (`hostmaster.example.com`). Default: `hostmaster.<zone>`.'),
    serial: z.number().int().min(0).max(4294967295).default(1).describe('Zone serial.'),
    refresh: Ttl.default(3600), retry: Ttl.default(600), expire: Ttl.default(604800),
    minimum: Ttl.default(30).describe('Negative-caching TTL (RFC 2308): NXDOMAIN and NODATA answers carry the SOA with TTL min(zone ttl, minimum).'),
  }).describe('The zone\'s SOA record.');

  const Zone = z.strictObject({
    name: DomainName.describe('The zone apex (`example.com`). Queries for names outside every zone get REFUSED.'),
    ttl: Ttl.default(300).describe('Default TTL of the zone\'s static records (seconds).'),
    soa: Soa.prefault({}),
    ns: z.array(DomainName).default([]).describe('Name servers of the zone (NS records at the apex). Default: `[<soa.mname>]`.'),
    records: z.array(Record).default([]).describe('Static records.'),
  }).describe('An authoritative zone.');

  const SiteSchema = z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a name of letters, digits, "_", "." or "-"').describe('Unique site (region) name, referenced by names and geo maps.'),
    addresses: z.array(Ip).min(1).describe('Addresses answered for this site: IPv4 ones in A answers, IPv6 ones in AAAA answers.'),
    healthCheck: p.HealthCheck.optional().describe('Active health checks of the site, exactly as for pool servers (prefer `http`: a frozen process still accepts TCP connections). Without it the site is always up.'),
    endpoints: z.array(p.ServerAddress).optional().describe('`host:port` targets the health check probes; the site is up while at least one is up. Default: each of `addresses` on `healthCheck.port`.'),
    drain: z.boolean().default(false).describe('Take the site out of every answer (as if down) while another site is up.'),
  }).describe('A site (region, data centre): the addresses answered for it and how its health is checked.');

  const Target = z.strictObject({
    site: z.string().describe('Name of a site defined under `gslb.sites`.'),
    weight: z.number().int().min(0).default(1).describe('`weighted`: relative share of answers (0 = only when nothing else is up).'),
    priority: z.number().int().min(0).default(0).describe('`failover`: group number; the lowest group with a healthy site answers.'),
  }).describe('A site a GSLB name may answer with.');

  const GeoOptions = z.strictObject({
    map: z.array(z.strictObject({
      cidr: Cidr.describe('Client network (ECS subnet or resolver address).'),
      region: z.string().describe('Site name clients of this network belong to.'),
    })).default([]).describe('Client networks → region (longest prefix wins).'),
    mmdb: z.strictObject({
      path: z.string().min(1).describe('A MaxMind GeoIP2/GeoLite2 Country or City database (.mmdb) you supply; read at start and on reload.'),
      regions: z.record(z.string(), z.string()).describe('Country ISO code (`DE`) or continent code (`EU`) → region (a site name); the country wins over the continent.'),
    }).optional().describe('Locate clients no `map` block matches with a MaxMind database (the `map` wins: it is the override, like gdnsd\'s `nets`).'),
    default: z.string().optional().describe('Region of clients no network matches. Default: the first target.'),
    preference: z.record(z.string(), z.array(z.string()).min(1)).default({}).describe('Per region, the sites to try in order (`eu: [eu, us, ap]`). Default: the region itself, then the other targets in their order.'),
  }).describe('`geo`: the nearest healthy region for the client\'s network.');

  const LatencyOptions = z.strictObject({
    hysteresis: z.number().min(0).max(10).default(0.2).describe('Stay with the current site until another is faster by more than this fraction (0.2 = 20%) of the current RTT, so answers do not flap.'),
    table: z.array(z.strictObject({
      cidr: Cidr,
      rtt: z.record(z.string(), z.number().min(0)).describe('Measured RTT in ms from this network to each site.'),
    })).default([]).describe('Optional RTTs per client network (longest prefix wins); sites or networks without an entry use the RTT the health checks measure to the site.'),
  }).describe('`latency`: the site with the lowest RTT for the client, with hysteresis.');

  const NameSchema = z.strictObject({
    name: DomainName.describe('Fully qualified name inside one of the zones (`app.example.com`).'),
    policy: PolicyName.default('failover').describe('How the answer is chosen: `geo`, `weighted`, `failover`, `latency`, `all-healthy`.'),
    targets: z.array(Target).min(1).describe('Sites this name answers with.'),
    ttl: Ttl.default(30).describe('TTL of the answers (seconds).'),
    unstableTtl: Ttl.optional().describe('Health-driven TTL: while an answered site changed state in the last `unstableWindow`, or its checks are failing or recovering, the TTL is at most this. Default: off.'),
    unstableWindow: p.Duration.prefault('60s' as z.input<D>).describe('See `unstableTtl`.'),
    whenAllDown: z.enum(['fail-open', 'servfail']).default('fail-open').describe('When no target site is up: answer as if all were up (`fail-open`) or SERVFAIL.'),
    maxAnswers: z.number().int().min(1).max(64).default(8).describe('`all-healthy`: at most this many addresses, rotated per query.'),
    consistent: z.boolean().default(false).describe('`weighted`: pick by a hash of the client subnet (ECS, else the resolver\'s /24 or /56) instead of at random, so one client sees a stable answer.'),
    geo: GeoOptions.optional(),
    latency: LatencyOptions.optional(),
  }).describe('A GSLB name: its answers are steered by a policy among healthy sites.');

  const RateLimit = z.strictObject({
    responsesPerSecond: z.number().min(0).default(0).describe('Responses per second allowed to one client network over UDP; 0 = no limit.'),
    burst: z.number().int().min(1).default(20).describe('Responses allowed at once above the rate.'),
    slip: z.number().int().min(0).default(2).describe('Every slip-th limited response is sent truncated (TC, empty) so a real client retries over TCP; the others are dropped. 0 = drop all.'),
    ipv4PrefixLength: z.number().int().min(8).max(32).default(24),
    ipv6PrefixLength: z.number().int().min(16).max(128).default(56),
  }).describe('Response rate limiting (RRL) per client network.');

  return z.strictObject({
    listen: p.ListenAddress.default(() => '127.0.0.1:5353' as z.util.NoUndefined<z.output<A>>).describe('Address of the DNS server, UDP and TCP on the same port (`0.0.0.0:53` in production; port 0 = any free port).'),
    ednsUdpSize: z.number().int().min(512).max(4096).default(1232).describe('EDNS0 UDP payload size advertised and honoured (RFC 6891; 1232 avoids fragmentation).'),
    zones: z.array(Zone).min(1).describe('Zones served authoritatively.'),
    sites: z.array(SiteSchema).default([]).describe('Sites GSLB names steer between.'),
    names: z.array(NameSchema).default([]).describe('GSLB names.'),
    rateLimit: RateLimit.prefault({}),
    tcp: z.strictObject({
      maxConnections: z.number().int().min(1).default(256).describe('TCP connections open at most; beyond it new ones are closed at once.'),
      idleTimeout: p.Duration.prefault('10s' as z.input<D>).describe('A TCP connection with no complete query for this long is closed (RFC 7766).'),
    }).prefault({}).describe('DNS over TCP (RFC 7766): connection cap and idle timeout.'),
  }).describe('GSLB: an authoritative DNS server whose answers are steered among healthy sites.');
}

export type GslbConfig = NonNullable<import('../config/schema.ts').Config['gslb']>;
export type ZoneConfig = GslbConfig['zones'][number];
export type SiteConfig = GslbConfig['sites'][number];
export type GslbNameConfig = GslbConfig['names'][number];
