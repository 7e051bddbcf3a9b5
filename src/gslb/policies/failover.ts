/**
 * `failover`: priority groups (targets' `priority`, lowest first); every up site of the first group
 * with an up site answers. The client does not matter (ECS scope 0). Like a DNS-level
 * active/passive pair (gdnsd's `multifo`/failover chains).
 */
import { registerPolicy } from './registry.ts';
import type { PickInput, PickResult } from './types.ts';

registerPolicy({
  name: 'failover',
  compile(config) {
    const priorities = [...new Set(config.targets.map((t) => t.priority))].sort((a, b) => a - b);
    const groups = priorities.map((p) => config.targets.flatMap((t, i) => (t.priority === p ? [i] : [])));
    return {
      pick({ targets }: PickInput): PickResult {
        for (let g = 0; g < groups.length; g++) {
          const up = groups[g].filter((i) => targets[i].up);
          if (up.length > 0) return { chosen: up, scope: 0, why: `priority ${priorities[g]}: ${up.map((i) => targets[i].site).join(', ')}` };
        }
        return { chosen: [], scope: 0, why: 'no site up' };
      },
    };
  },
});
