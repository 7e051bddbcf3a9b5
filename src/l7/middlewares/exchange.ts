/**
 * One exchange as middlewares and affinity see it (types.ts): the request view, the request fields
 * and target that will be sent to the server, and the response fields that will be sent to the
 * client. One object per client connection, reset per request; field arrays are copied only on the
 * first edit (copy on write), so a route whose hooks edit nothing costs no copy.
 */
import type { RequestView } from '../router/types.ts';
import type { KeySource } from '../../balancing/keys.ts';
import type { ExchangeView } from './types.ts';

const NONE: readonly string[] = Object.freeze([]);

export class Exchange implements ExchangeView {
  view: RequestView & KeySource;
  clientIp = '';
  routeName = '';
  /** Request target sent to the server (a rewrite changes it). */
  target = '';
  /** Request fields sent to the server (names as received). */
  names: readonly string[] = [];
  values: readonly string[] = [];
  /** Response fields sent to the client (set by the engine before the response phase). */
  respNames: readonly string[] = [];
  respValues: readonly string[] = [];
  private ownReq = false;
  private ownResp = false;

  constructor(view: RequestView & KeySource) {
    this.view = view;
  }

  /** Starts a request: fields and target as received. */
  reset(target: string, names: readonly string[], values: readonly string[], clientIp: string, routeName: string): void {
    this.target = target;
    this.names = names;
    this.values = values;
    this.ownReq = false;
    this.clientIp = clientIp;
    this.routeName = routeName;
    this.respNames = NONE;
    this.respValues = NONE;
    this.ownResp = false;
  }

  /** Starts the response phase with the response fields as received. */
  startResponse(names: readonly string[], values: readonly string[]): void {
    this.respNames = names;
    this.respValues = values;
    this.ownResp = false;
  }

  private reqArrays(): [string[], string[]] {
    if (!this.ownReq) {
      this.names = this.names.slice();
      this.values = this.values.slice();
      this.ownReq = true;
    }
    return [this.names as string[], this.values as string[]];
  }

  private respArrays(): [string[], string[]] {
    if (!this.ownResp) {
      this.respNames = this.respNames.slice();
      this.respValues = this.respValues.slice();
      this.ownResp = true;
    }
    return [this.respNames as string[], this.respValues as string[]];
  }

  /** Removes every request field named `lower` (lowercase). */
  removeRequest(lower: string): void {
    if (indexOf(this.names, lower, 0) < 0) return;
    const [n, v] = this.reqArrays();
    removeAll(n, v, lower);
  }

  addRequest(name: string, value: string): void {
    const [n, v] = this.reqArrays();
    n.push(name);
    v.push(value);
  }

  /** Replaces the value of the request field at `i` (null removes it). */
  replaceRequestAt(i: number, value: string | null): void {
    const [n, v] = this.reqArrays();
    if (value === null) {
      n.splice(i, 1);
      v.splice(i, 1);
    } else v[i] = value;
  }

  removeResponse(lower: string): void {
    if (indexOf(this.respNames, lower, 0) < 0) return;
    const [n, v] = this.respArrays();
    removeAll(n, v, lower);
  }

  addResponse(name: string, value: string): void {
    const [n, v] = this.respArrays();
    n.push(name);
    v.push(value);
  }
}

/** Index of the first field named `lower` (case-insensitive) at or after `from`, or -1. */
export function indexOf(names: readonly string[], lower: string, from: number): number {
  for (let i = from; i < names.length; i++) {
    const n = names[i];
    if (n.length === lower.length && n.toLowerCase() === lower) return i;
  }
  return -1;
}

function removeAll(names: string[], values: string[], lower: string): void {
  let w = 0;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (n.length === lower.length && n.toLowerCase() === lower) continue;
    names[w] = n;
    values[w] = values[i];
    w++;
  }
  names.length = w;
  values.length = w;
}
