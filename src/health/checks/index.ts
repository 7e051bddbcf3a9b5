/**
 * Imports every health-check kind so each registers itself (DESIGN.md rule 2), and re-exports the
 * registry and the plug-in interface. Import this module, not a kind's file.
 */
import './tcp.ts';
import './http.ts';
import './command.ts';

export { getCheck, checkNames, registerCheck } from './registry.ts';
export type { CheckKind, CheckResult, CheckTarget } from './types.ts';
export { formatMs, timeoutDetail } from './types.ts';
