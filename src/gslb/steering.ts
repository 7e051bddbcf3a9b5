/**
 * Steering of GSLB names: for one query, the targets' health (SiteHealth) becomes the policy's view,
 * the policy picks (./policies/), and the pick becomes A/AAAA records with a TTL — shortened while a
 * chosen site is unstable (health-driven TTL, as gdnsd lowers TTLs near a state change) — and an ECS
 * scope. When no target is up: fail open (answer as if all were up) or SERVFAIL, per name.
 */
import type { Answer } from 'dns-packet';
import './policies/index.ts';
import { getPolicy } from './policies/registry.ts';
import type { ClientView, Picker, PolicyEnv, PolicyState, TargetView } from './policies/types.ts';
import type { GslbNameConfig } from './schema.ts';
import type { SiteHealth } from './sites.ts';
import type { SteerAnswer } from './zones.ts';

export interface Decision extends SteerAnswer {
  /** Sites answered. */
  readonly sites: string[];
  readonly ttl: number;
  readonly failOpen: boolean;
  readonly why: string;
}

const NONE: string[] = [];

export class SteeredName {
  readonly config: GslbNameConfig;
  readonly sites: readonly SiteHealth[];
  private readonly picker: Picker;
  readonly state: PolicyState = {};
  private rotation = 0;
  /** Decisions depend only on health and the client (see SteerAnswer.stable). */
  private readonly stable: boolean;

  /** Throws when the policy refuses the config (the message names the problem). */
  constructor(config: GslbNameConfig, sites: ReadonlyMap<string, SiteHealth>, env: PolicyEnv = {}) {
    this.config = config;
    this.sites = config.targets.map((t) => {
      const s = sites.get(t.site);
      if (s === undefined) throw new Error(`unknown site ${JSON.stringify(t.site)}`);
      return s;
    });
    const factory = getPolicy(config.policy);
    if (factory === undefined) throw new Error(`unknown GSLB policy ${JSON.stringify(config.policy)}`);
    this.picker = factory.compile(config, env);
    this.stable = config.unstableTtl === undefined && (config.policy === 'geo' || config.policy === 'failover' || (config.policy === 'weighted' && config.consistent));
  }

  /** The answer for `family` and `client` now. */
  decide(family: 'A' | 'AAAA', client: ClientView, now: number, random: () => number): Decision {
    const c = this.config;
    const sites = this.sites;
    const v6 = family === 'AAAA';
    let any = false;
    let anyUp = false;
    for (const s of sites) {
      if ((v6 ? s.v6 : s.v4).length === 0) continue;
      any = true;
      if (s.up) anyUp = true;
    }
    const stable = this.stable;
    if (!any) return { answers: [], scope: 0, servfail: false, stable, sites: NONE, ttl: c.ttl, failOpen: false, why: `no target has ${family} addresses` };
    if (!anyUp && c.whenAllDown === 'servfail') return { answers: [], scope: 0, servfail: true, stable, sites: NONE, ttl: 0, failOpen: false, why: 'no site up: SERVFAIL' };
    const failOpen = !anyUp;
    const targets: TargetView[] = sites.map((s) => ({ site: s.name, up: (v6 ? s.v6 : s.v4).length > 0 && (failOpen || s.up), rttMs: s.rttMs }));
    const r = this.picker.pick({ targets, client, random, state: this.state });
    let ttl = c.ttl;
    const unstableTtl = c.unstableTtl;
    let addrs: string[] = [];
    const chosen: string[] = [];
    for (const i of r.chosen) {
      const s = sites[i];
      chosen.push(s.name);
      const list = v6 ? s.v6 : s.v4;
      addrs = addrs.length === 0 ? list as string[] : addrs.concat(list);
      if (unstableTtl !== undefined && (failOpen || s.unstable(now, c.unstableWindow))) ttl = Math.min(ttl, unstableTtl);
    }
    if (c.policy === 'all-healthy' && addrs.length > 1) {
      const k = this.rotation++ % addrs.length;
      addrs = addrs.slice(k).concat(addrs.slice(0, k)).slice(0, c.maxAnswers);
    }
    const answers: Answer[] = addrs.map((data) => ({ name: c.name, type: family, class: 'IN', ttl, data }));
    return { answers, scope: r.scope, servfail: false, stable, sites: chosen, ttl, failOpen, why: failOpen ? `no site up: failing open; ${r.why}` : r.why };
  }
}
