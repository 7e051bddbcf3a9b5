/**
 * Cookie-insert stickiness (HAProxy `cookie SERVERID insert indirect nocache`-like): the first
 * response from a server gets `Set-Cookie: NAME=<value>`; a later request carrying the value goes to
 * that server while it is available (not down, ejected or drained), otherwise it is balanced again
 * and the response re-pins it with a new cookie. The cookie is removed from the request before it
 * reaches the server (HAProxy's `indirect`): other cookies pass byte for byte.
 *
 * The value never shows the server's address: it is HMAC-SHA256(secret, pool name "\n" address)
 * (RFC 2104), base64url, truncated to 16 characters (96 bits). Without knowing the secret a client
 * cannot make a value that names a server of its choice; a value that is not one of the pool's is
 * ignored. The secret comes from the config (`secret`, e.g. `${FULCRUM_STICKY_SECRET}`) or is made
 * at process start — then pins do not survive a restart (they do survive reloads).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { StickyConfig } from '../../config/schema.ts';
import type { Exchange } from '../middlewares/exchange.ts';
import { indexOf } from '../middlewares/exchange.ts';
import type { Affinity, AffinityPool } from './index.ts';
import { stripCookie } from './cookies.ts';

/** Key used when the config gives no secret: one per process, so reloads keep pins. */
const PROCESS_SECRET = randomBytes(32);

/** Characters of the base64url HMAC kept in the cookie value. */
export const VALUE_LENGTH = 16;

/** The cookie value naming `address` of pool `pool` under `secret`. */
export function stickyValue(secret: string | Buffer, pool: string, address: string): string {
  return createHmac('sha256', secret).update(pool + '\n' + address).digest('base64url').slice(0, VALUE_LENGTH);
}

export class InsertAffinity implements Affinity {
  readonly sessions = -1;
  private readonly name: string;
  /** Cookie value → slot. */
  private readonly bySlot: Map<string, number>;
  /** `Set-Cookie` value per slot (value and attributes), built once. */
  private readonly setCookie: string[];

  constructor(config: StickyConfig, pool: AffinityPool) {
    this.name = config.cookie as string;
    const secret = config.secret ?? PROCESS_SECRET;
    let attrs = '; Path=' + config.path;
    if (config.maxAge !== undefined) attrs += '; Max-Age=' + Math.floor(config.maxAge / 1000);
    if (config.httpOnly) attrs += '; HttpOnly';
    if (config.secure || config.sameSite === 'None') attrs += '; Secure'; // SameSite=None requires Secure
    attrs += '; SameSite=' + config.sameSite;
    this.bySlot = new Map();
    this.setCookie = pool.addresses.map((address, slot) => {
      const v = stickyValue(secret, pool.name, address);
      this.bySlot.set(v, slot);
      return this.name + '=' + v + attrs;
    });
  }

  pin(x: Exchange): number {
    const v = x.view.cookie(this.name);
    if (v === undefined) return -1;
    // Remove the cookie from every Cookie field sent on.
    const names = x.names;
    for (let i = indexOf(names, 'cookie', 0); i >= 0; i = indexOf(x.names, 'cookie', i + 1)) {
      const stripped = stripCookie(x.values[i], this.name);
      if (stripped === undefined) continue;
      x.replaceRequestAt(i, stripped);
      if (stripped === null) i--;
    }
    return this.bySlot.get(v) ?? -1;
  }

  onResponse(x: Exchange, slot: number, pinned: number, honored: boolean): void {
    if (honored && slot === pinned) return;
    x.addResponse('Set-Cookie', this.setCookie[slot]);
    // Keep shared caches from storing one client's pin for others (HAProxy `nocache`).
    if (indexOf(x.respNames, 'cache-control', 0) < 0) x.addResponse('Cache-Control', 'no-cache="set-cookie"');
  }
}
