/**
 * Imports every balancing algorithm so each registers itself (DESIGN.md rule 2). Adding an
 * algorithm = one new file that calls `registerAlgorithm` + one import line here.
 */
import './round-robin.ts';
import './weighted-round-robin.ts';
import './least-connections.ts';
import './ip-hash.ts';
import './rendezvous.ts';
import './least-time.ts';
import './peak-ewma.ts';
import './consistent-hash.ts';
import './maglev.ts';
import './random.ts';
import './p2c.ts';

export { getAlgorithm, algorithmNames, registerAlgorithm } from './registry.ts';
export type { AlgorithmFactory, Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';
export { LoadCounters } from './load.ts';
