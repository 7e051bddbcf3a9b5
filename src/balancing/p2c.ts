/**
 * Power of two choices (`p2c`): draw two distinct choosable endpoints at random and take the one
 * with fewer requests in flight (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001; Envoy's least_request with choice_count 2). On a tie the first drawn wins. One
 * choosable endpoint → it; none → -1. Weights are not used except that weight 0 is never chosen.
 *
 * Draws (env.random, uniform in [0, 1)): with nothing excluded and every weight > 0 the first is
 * floor(r1 × n) and the second floor(r2 × (n − 1)), shifted up by one when ≥ the first — two
 * distinct endpoints from exactly two random numbers. Otherwise each draw tries up to REDRAWS
 * random positions, then takes the floor(r × c)-th of the c endpoints still choosable (O(N)).
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/** Random positions tried per draw when some endpoints are not choosable, before the exact scan. */
export const P2C_REDRAWS = 8;

export class PowerOfTwoChoices implements Balancer {
  private readonly slots: Int32Array;
  private readonly usable: Uint8Array;
  private readonly allUsable: boolean;
  private readonly env: BalancerEnv;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.usable = Uint8Array.from(endpoints, (e) => (e.weight > 0 ? 1 : 0));
    this.allUsable = this.usable.every((u) => u === 1);
    this.env = env;
  }

  /** A random choosable position other than `avoid`, or -1. */
  private draw(ex: Uint8Array | null, avoid: number): number {
    const slots = this.slots;
    const usable = this.usable;
    const n = slots.length;
    for (let t = 0; t < P2C_REDRAWS; t++) {
      let k = Math.floor(this.env.random() * n);
      if (k >= n) k = n - 1;
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) return k;
    }
    let c = 0;
    for (let k = 0; k < n; k++) if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) c++;
    if (c === 0) return -1;
    let r = Math.floor(this.env.random() * c);
    if (r >= c) r = c - 1;
    for (let k = 0; k < n; k++) {
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0) && r-- === 0) return k;
    }
    return -1;
  }

  pick(ctx: PickContext): number {
    const slots = this.slots;
    const n = slots.length;
    const ex = ctx.excluded;
    let a: number;
    let b: number;
    if (ex === null && this.allUsable) {
      if (n <= 1) return n === 1 ? slots[0] : -1;
      a = Math.floor(this.env.random() * n);
      if (a >= n) a = n - 1;
      b = Math.floor(this.env.random() * (n - 1));
      if (b >= n - 1) b = n - 2;
      if (b >= a) b++;
    } else {
      a = this.draw(ex, -1);
      if (a === -1) return -1;
      b = this.draw(ex, a);
      if (b === -1) return slots[a];
    }
    const inFlight = this.env.load.inFlight;
    return inFlight[slots[b]] < inFlight[slots[a]] ? slots[b] : slots[a];
  }
}

registerAlgorithm({
  name: 'p2c',
  summary: 'Two random choices, the one with fewer requests in flight wins.',
  create: (endpoints, env) => new PowerOfTwoChoices(endpoints, env),
});
