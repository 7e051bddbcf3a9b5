// Fulcrum dashboard: pure helpers (no DOM, no network) — number formats, endpoint state words,
// ring/table geometry for the hash view (SVG path data), an incremental Server-Sent Events parser
// (WHATWG HTML §9.2.6, for reading the stream with fetch() when reads need the token) and the wording
// of admin API errors. Unit-tested by format.test.ts with node --test.

/** Algorithm names the switch offers (kebab-case, as in the config). */
export const ALGORITHMS = ['round-robin', 'weighted-round-robin', 'random', 'least-connections', 'least-time',
  'p2c', 'peak-ewma', 'ip-hash', 'consistent-hash', 'maglev', 'rendezvous'];

/** Algorithms that need a hash key. */
export const HASHING = new Set(['ip-hash', 'consistent-hash', 'maglev', 'rendezvous']);

/** Backend colours (WCAG AA ≥ 4.5:1 against white for text; distinct for the common colour-vision deficiencies). */
export const PALETTE = ['#1f5fa8', '#b34700', '#1d7a3a', '#8a2d8f', '#a3231d', '#006b75', '#6b5a00', '#4b4b9a'];

export function color(i) {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** 0.3333 → "33.3%"; null/undefined/NaN → "–". */
export function pct(x, digits = 1) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '–';
}

/** 12345 → "12,345". */
export function count(n) {
  return typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** Requests per second: 0.456 → "0.46/s", 12.3 → "12.3/s", 1234 → "1,234/s". */
export function rate(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  if (n < 10) return `${n.toFixed(2)}/s`;
  if (n < 100) return `${n.toFixed(1)}/s`;
  return `${count(n)}/s`;
}

/** Milliseconds: 0.892 → "0.89 ms", 150.2 → "150 ms", 2300 → "2.3 s"; null → "–". */
export function ms(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  if (x < 10) return `${x.toFixed(2)} ms`;
  if (x < 1000) return `${Math.round(x)} ms`;
  return `${(x / 1000).toFixed(1)} s`;
}

/**
 * The state word of an endpoint view and a CSS class: `draining` > `ejected` > `down` >
 * `soft-drained` > `up`, with the health check's word when it matters.
 */
export function stateOf(e) {
  const s = e.state;
  if (s === 'soft-drained') return { label: `soft-drained (${pct(e.weightFactor, 0)} share)`, cls: 'warn' };
  if (s === 'draining') return { label: 'draining', cls: 'muted' };
  if (s === 'ejected') return { label: 'ejected', cls: 'bad' };
  if (s === 'down') return { label: 'down', cls: 'bad' };
  if (e.health === 'unknown') return { label: 'up (checking)', cls: 'ok' };
  return { label: e.health === 'healthy' ? 'up (healthy)' : 'up', cls: 'ok' };
}

/** Owner per equal segment → runs of one owner: [{owner, start, end}] with start/end as fractions of the key space. */
export function runs(owners) {
  const n = owners.length;
  const out = [];
  for (let i = 0; i < n; i++) {
    const last = out[out.length - 1];
    if (last !== undefined && last.owner === owners[i]) last.end = (i + 1) / n;
    else out.push({ owner: owners[i], start: i / n, end: (i + 1) / n });
  }
  return out;
}

/** Share of segments per owner index 0..endpoints-1 (segments owned by -1, none, are left out). */
export function ownerShares(owners, endpoints) {
  const out = new Array(endpoints).fill(0);
  if (owners.length === 0) return out;
  for (const o of owners) if (o >= 0 && o < endpoints) out[o]++;
  return out.map((c) => c / owners.length);
}

const r4 = (x) => Math.round(x * 1e4) / 1e4;

/** Point at fraction `f` of a turn (0 = top, clockwise) on a circle of radius r around (cx, cy). */
export function polar(cx, cy, r, f) {
  const a = 2 * Math.PI * f - Math.PI / 2;
  return [r4(cx + r * Math.cos(a)), r4(cy + r * Math.sin(a))];
}

/** SVG path data of an annular sector from fraction f0 to f1 between radii r0 < r1 (a full turn is split in two arcs). */
export function arcPath(cx, cy, r0, r1, f0, f1) {
  if (f1 - f0 >= 1 - 1e-9) {
    return `${arcPath(cx, cy, r0, r1, f0, f0 + 0.5)} ${arcPath(cx, cy, r0, r1, f0 + 0.5, f1)}`;
  }
  const large = f1 - f0 > 0.5 ? 1 : 0;
  const [x0, y0] = polar(cx, cy, r1, f0);
  const [x1, y1] = polar(cx, cy, r1, f1);
  const [x2, y2] = polar(cx, cy, r0, f1);
  const [x3, y3] = polar(cx, cy, r0, f0);
  return `M${x0} ${y0} A${r1} ${r1} 0 ${large} 1 ${x1} ${y1} L${x2} ${y2} A${r0} ${r0} 0 ${large} 0 ${x3} ${y3} Z`;
}

/**
 * Incremental Server-Sent Events parser: feed() text chunks as they arrive, get back the complete
 * events ({event, data, id}); comment lines and `retry:` are ignored, a partial line is kept.
 */
export class SSEParser {
  constructor() {
    this.buf = '';
    this.event = '';
    this.data = [];
    this.id = null;
  }

  feed(chunk) {
    this.buf += chunk;
    const out = [];
    let nl;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

/** A human sentence for an admin API error answer (status and parsed JSON body, or null). */
export function apiError(status, body) {
  const b = body !== null && typeof body === 'object' ? body : {};
  const problems = Array.isArray(b.problems) ? b.problems.map((p) => `${p.path}: ${p.message}`).join('; ') : '';
  switch (status) {
    case 401: return `Not authorised (401): ${b.error ?? 'token missing or wrong'}. Enter the admin token above.`;
    case 403: return `Writes are off (403): ${b.error ?? 'no admin token is configured'}.`;
    case 404: return `Not found (404): ${b.error ?? 'unknown pool or endpoint'}.`;
    case 409: return `Conflict (409): ${problems || b.error || 'the change cannot be applied'}.`;
    case 422: return `Refused (422): ${problems || b.error || 'invalid change'}.`;
    case 503: return `Unavailable (503): ${b.error ?? 'shutting down'}.`;
    default: return `Error ${status}: ${b.error ?? 'request failed'}${problems ? ` — ${problems}` : ''}.`;
  }
}

/** Timeline line of a feed event (GET /api/v1/events, the stream's `events` frames). */
export function eventLine(ev) {
  const where = [ev.pool, ev.server].filter((x) => x !== null && x !== undefined).join(' / ');
  const who = ev.actor ? ` (by ${ev.actor})` : '';
  return `${ev.kind}${where ? ` ${where}` : ''} → ${ev.to}: ${ev.reason}${who}`;
}

/** "12:03:04" (local time) of an ISO timestamp. */
export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toTimeString().slice(0, 8);
}
