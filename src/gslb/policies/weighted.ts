/**
 * `weighted`: one site at random in proportion to the targets' weights, among up sites (weight-0
 * sites only when no weighted site is up). With `consistent: true` the pick is weighted rendezvous
 * hashing (Schindelhauer & Schomaker 2005: score = −w / ln(h)) of the client's subnet — the ECS
 * subnet or the resolver's /24 (/56 for IPv6) — so one client network sees a stable answer, and
 * only the clients of a site that goes down move.
 */
import { murmur3 } from '../../core/hash.ts';
import { maskAddr } from '../cidr.ts';
import { registerPolicy } from './registry.ts';
import { upIndices, type PickInput, type PickResult } from './types.ts';

registerPolicy({
  name: 'weighted',
  compile(config) {
    const weights = config.targets.map((t) => t.weight);
    const consistent = config.consistent;
    return {
      pick({ targets, client, random }: PickInput): PickResult {
        let cands = upIndices(targets).filter((i) => weights[i] > 0);
        const zeroOnly = cands.length === 0;
        if (zeroOnly) cands = upIndices(targets);
        if (cands.length === 0) return { chosen: [], scope: 0, why: 'no site up' };
        const w = (i: number): number => (zeroOnly ? 1 : weights[i]);
        if (consistent) {
          const bits = Math.min(client.prefix, client.addr.length === 4 ? 24 : 56);
          const key = maskAddr(client.addr, bits).join('.') + '/' + bits;
          let best = cands[0];
          let bestScore = -Infinity;
          for (const i of cands) {
            const h = (murmur3(key, i * 0x9e3779b1) + 0.5) / 4294967296; // (0, 1)
            const score = -w(i) / Math.log(h);
            if (score > bestScore) { bestScore = score; best = i; }
          }
          return { chosen: [best], scope: bits, why: `consistent pick for ${key}` };
        }
        let total = 0;
        for (const i of cands) total += w(i);
        let r = random() * total;
        for (const i of cands) {
          r -= w(i);
          if (r < 0) return { chosen: [i], scope: 0, why: `weighted random among ${cands.length} up site(s)` };
        }
        return { chosen: [cands[cands.length - 1]], scope: 0, why: `weighted random among ${cands.length} up site(s)` };
      },
    };
  },
});
