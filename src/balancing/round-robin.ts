/**
 * Round robin (`round-robin`): the endpoints in turn, as nginx's and HAProxy's `roundrobin` with
 * all weights equal. Weights are ignored except that weight 0 is never chosen; excluded endpoints
 * are skipped without losing the rotation's place.
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, EndpointInfo, PickContext } from './types.ts';

/** Cycles through the choosable endpoints in list order. Starts at the first endpoint. */
export class RoundRobin implements Balancer {
  private readonly slots: Int32Array;
  private readonly usable: Uint8Array;
  /** Position in the endpoint list where the next scan starts. */
  private next = 0;

  constructor(endpoints: readonly EndpointInfo[]) {
    const n = endpoints.length;
    this.slots = new Int32Array(n);
    this.usable = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      this.slots[k] = endpoints[k].index;
      this.usable[k] = endpoints[k].weight > 0 ? 1 : 0;
    }
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    const ex = ctx.excluded;
    let k = this.next;
    for (let step = 0; step < n; step++) {
      if (k >= n) k = 0;
      const slot = this.slots[k];
      if (this.usable[k] === 1 && (ex === null || ex[slot] === 0)) {
        this.next = k + 1;
        return slot;
      }
      k++;
    }
    return -1;
  }
}

registerAlgorithm({
  name: 'round-robin',
  summary: 'Each choosable endpoint in turn; weights ignored except that weight 0 is never chosen.',
  explainNote: 'the next endpoint in rotation (the rotation itself is not advanced by explain)',
  create: (endpoints) => new RoundRobin(endpoints),
});
