/**
 * Power of two choices (`p2c`): draw two distinct choosable endpoints at random and take the one
 * with fewer requests in flight (Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001; Envoy's least_request with choice_count 2). On a tie the first drawn wins. One
 * choosable endpoint → it; none → -1. Weights are not used except that weight 0 is never chosen.
 *
 * Draws: see two-choices.ts (two random numbers when nothing is excluded).
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';
import { TwoChoices, TWO_CHOICE_REDRAWS } from './two-choices.ts';

/** Random positions tried per draw when some endpoints are not choosable, before the exact scan. */
export const P2C_REDRAWS = TWO_CHOICE_REDRAWS;

export class PowerOfTwoChoices implements Balancer {
  private readonly two: TwoChoices;
  private readonly env: BalancerEnv;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.two = new TwoChoices(endpoints, env.random);
    this.env = env;
  }

  pick(ctx: PickContext): number {
    const two = this.two;
    if (!two.draw(ctx.excluded)) return -1;
    const slots = two.slots;
    if (two.b === -1) return slots[two.a];
    const a = two.a;
    const b = two.b;
    const inFlight = this.env.load.inFlight;
    return inFlight[slots[b]] < inFlight[slots[a]] ? slots[b] : slots[a];
  }
}

registerAlgorithm({
  name: 'p2c',
  summary: 'Two random choices, the one with fewer requests in flight wins.',
  explainNote: 'one random draw of two candidates, the fewer in flight wins: another draw may differ',
  create: (endpoints, env) => new PowerOfTwoChoices(endpoints, env),
});
