/**
 * Which HTTP/1.1 Upgrade requests Fulcrum passes on (RFC 9110 §7.8, RFC 6455 §4), and whether a
 * backend's `101 Switching Protocols` answers one of them. Pure.
 *
 * Decisions (docs/websocket.md): `websocket` is passed by default (`webSocket.enabled`); other
 * protocol names only when listed in `webSocket.otherUpgrades` (nginx passes whatever its config
 * tells it to; HAProxy passes any). An Upgrade is ignored — the request goes on as plain HTTP without
 * the Upgrade field, as before — when it comes in HTTP/1.0 (§7.8: a server MUST ignore it), when
 * the request has a body (Fulcrum switches only between a complete body-less request and the 101),
 * or when none of its protocols is allowed.
 */
import type { RequestHead, ResponseHead } from '../http1/parser.ts';

/** The part of a listener's config read here. */
export interface UpgradePolicy {
  readonly enabled: boolean;
  readonly otherUpgrades: readonly string[];
}

/** Lowercased protocol name of one Upgrade list element (`websocket`, `h2c`; `/version` dropped). */
function protocolName(element: string): string {
  const e = element.trim();
  const slash = e.indexOf('/');
  return (slash < 0 ? e : e.slice(0, slash)).trim().toLowerCase();
}

function allowed(name: string, p: UpgradePolicy): boolean {
  return name === 'websocket' ? p.enabled : name !== '' && p.otherUpgrades.includes(name);
}

/**
 * The Upgrade value to send to the backend (the allowed elements of the client's Upgrade fields,
 * in order, joined by ", "), or null when the request is not passed on as an upgrade. Called only
 * for heads the parser flagged `upgrade` (Connection: upgrade and an Upgrade field).
 */
export function upgradeToForward(head: RequestHead, p: UpgradePolicy): string | null {
  if (head.minor < 1 || head.chunked || head.contentLength > 0) return null;
  let out: string | null = null;
  const names = head.names;
  for (let i = 0; i < names.length; i++) {
    if (names[i].length !== 7 || names[i].toLowerCase() !== 'upgrade') continue;
    for (const element of head.values[i].split(',')) {
      const name = protocolName(element);
      if (!allowed(name, p)) continue;
      const e = element.trim();
      out = out === null ? e : out + ', ' + e;
    }
  }
  return out;
}

/**
 * The protocol a 101 switches to (lowercased name), when it is one the request offered; null
 * otherwise (RFC 9110 §15.2.2: the server must name the protocol it switches to, one the client
 * offered; the connection is then refused with 502).
 */
export function acceptedUpgrade(resp: ResponseHead, offered: string): string | null {
  let chosen: string | null = null;
  for (let i = 0; i < resp.names.length; i++) {
    if (resp.names[i].toLowerCase() !== 'upgrade') continue;
    const elements = resp.values[i].split(',');
    if (elements.length !== 1 || chosen !== null) return null; // exactly one protocol
    chosen = protocolName(elements[0]);
  }
  if (chosen === null || chosen === '') return null;
  for (const element of offered.split(',')) if (protocolName(element) === chosen) return chosen;
  return null;
}

/** The Upgrade field value of the 101 as sent by the backend (the first Upgrade field). */
export function upgradeValue(resp: ResponseHead): string {
  for (let i = 0; i < resp.names.length; i++) if (resp.names[i].toLowerCase() === 'upgrade') return resp.values[i];
  return '';
}
