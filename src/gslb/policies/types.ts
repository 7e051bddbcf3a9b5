/**
 * The plug-in interface of GSLB policies (DESIGN.md rules 1 and 2): a policy is one pure file that
 * registers a factory by name. The factory compiles a name's config once (CIDR maps, weights) into
 * a Picker; the DNS server calls pick() per query with the health of every target, the client's
 * network, and randomness — no socket, timer or file here, so tests drive exactly the serving code.
 */
import type { Addr } from '../cidr.ts';
import type { GslbNameConfig } from '../schema.ts';

/** What a policy knows of one target site at query time. */
export interface TargetView {
  /** Site name. */
  readonly site: string;
  /** Up (healthy and not drained). The caller passes all true when failing open. */
  readonly up: boolean;
  /** Round-trip time to the site measured by its health checks (ms; NaN when unknown). */
  readonly rttMs: number;
}

/** The client a decision is made for: ECS subnet when present, else the resolver's address. */
export interface ClientView {
  /** Address bytes (4 or 16), bits past `prefix` cleared. */
  readonly addr: Addr;
  /** Significant leading bits: the ECS source prefix length, or 32 / 128 for a resolver address. */
  readonly prefix: number;
}

/** Mutable per-name memory a policy may keep across queries (rotation counters, the latency choice). */
export type PolicyState = Record<string, unknown>;

export interface PickInput {
  readonly targets: readonly TargetView[];
  readonly client: ClientView;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly state: PolicyState;
}

export interface PickResult {
  /** Target indices answered, in order (their addresses go in the answer). Empty = no answer. */
  readonly chosen: readonly number[];
  /** ECS scope prefix length: leading bits of the client address the choice depends on. */
  readonly scope: number;
  /** Short explanation for the admin API (`region eu from 203.0.113.0/24`). */
  readonly why: string;
}

export interface Picker {
  pick(input: PickInput): PickResult;
}

/** A geo database lookup (the edge opens the file): the record's country and continent codes and the prefix length of its block. */
export type GeoLookup = (addr: Addr) => { country: string | null; continent: string | null; prefix: number };

/** What the edge hands a policy at compile time (data it loaded from files). */
export interface PolicyEnv {
  /** The name's `geo.mmdb` database, opened. */
  readonly mmdb?: GeoLookup;
}

export interface PolicyFactory {
  readonly name: string;
  /** Compiles a name's config; throws an Error naming the problem for a config it cannot use. */
  compile(config: GslbNameConfig, env?: PolicyEnv): Picker;
}

/** Indices of the targets that are up, in target order. */
export function upIndices(targets: readonly TargetView[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < targets.length; i++) if (targets[i].up) out.push(i);
  return out;
}
