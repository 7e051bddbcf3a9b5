/** Imports every GSLB policy so each registers itself (DESIGN.md rule 2). Import this module, not a policy's file. */
import './failover.ts';
import './weighted.ts';
import './geo.ts';
import './latency.ts';
import './all-healthy.ts';

export { getPolicy, policyNames, registerPolicy } from './registry.ts';
export type { PolicyFactory, Picker, PickInput, PickResult, TargetView, ClientView, PolicyState } from './types.ts';
