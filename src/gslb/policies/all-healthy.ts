/**
 * `all-healthy` (multivalue, as Route 53's multivalue answers): every up site's addresses, up to
 * `maxAnswers` addresses, rotated by one per query so clients that take the first spread out. The
 * server applies `maxAnswers` and the rotation to the address list; this policy chooses the sites.
 */
import { registerPolicy } from './registry.ts';
import { upIndices, type PickInput, type PickResult } from './types.ts';

registerPolicy({
  name: 'all-healthy',
  compile() {
    return {
      pick({ targets }: PickInput): PickResult {
        const up = upIndices(targets);
        return { chosen: up, scope: 0, why: up.length === 0 ? 'no site up' : `every up site: ${up.map((i) => targets[i].site).join(', ')}` };
      },
    };
  },
});
