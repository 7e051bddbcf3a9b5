// Fulcrum dashboard: the hash view's SVG drawings — a consistent-hash ring (Karger et al. 1997) cut
// into arcs by owner, a Maglev lookup table (Eisenbud et al., NSDI 2016) or ip-hash table drawn as
// a grid of entries, and for rendezvous (no positions) each backend's share of keys as contiguous arcs.
// Input comes from GET /api/v1/pools/{pool}/keyspace and the pool view's algorithmView.shares.
import { arcPath, color, runs } from './format.js';

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) {
    const t = document.createElementNS(NS, 'title');
    t.textContent = text;
    e.append(t);
  }
  return e;
}

/** Ring of `owners` (one owner index per equal segment; -1 = none) in a 240×240 viewBox. */
export function drawRing(svg, owners, addresses) {
  svg.replaceChildren();
  for (const r of runs(owners)) {
    const who = r.owner >= 0 ? addresses[r.owner] : 'no owner';
    svg.append(el('path', {
      d: arcPath(120, 120, 70, 110, r.start, r.end), fill: r.owner >= 0 ? color(r.owner) : '#c9ced4',
      stroke: '#fff', 'stroke-width': 0.5, class: 'segment', 'data-owner': r.owner,
    }, `${who}: ${((r.end - r.start) * 100).toFixed(1)}% of the ring from ${(r.start * 100).toFixed(1)}%`));
  }
  svg.append(el('text', { x: 120, y: 124, 'text-anchor': 'middle', 'font-size': 12, fill: '#1b1f24' }));
  svg.lastChild.textContent = `${owners.length} arcs`;
}

/** Table of `owners` as a grid (row-major) in a 240×240 viewBox. */
export function drawTable(svg, owners, addresses) {
  svg.replaceChildren();
  const cols = Math.ceil(Math.sqrt(owners.length));
  const rows = Math.ceil(owners.length / cols);
  const w = 240 / cols;
  const h = 240 / rows;
  owners.forEach((o, i) => {
    svg.append(el('rect', {
      x: (i % cols) * w, y: Math.floor(i / cols) * h, width: w, height: h,
      fill: o >= 0 ? color(o) : '#c9ced4', stroke: '#fff', 'stroke-width': 0.3, class: 'segment', 'data-owner': o,
    }, `entry run ${i + 1} of ${owners.length}: ${o >= 0 ? addresses[o] : 'no owner'}`));
  });
}

/** Shares (0..1 per endpoint, in order) as contiguous arcs: the picture for rendezvous hashing. */
export function drawShares(svg, shares, addresses) {
  svg.replaceChildren();
  let at = 0;
  shares.forEach((s, i) => {
    if (s <= 0) return;
    const end = Math.min(1, at + s);
    svg.append(el('path', { d: arcPath(120, 120, 70, 110, at, end), fill: color(i), stroke: '#fff', 'stroke-width': 0.5, class: 'segment', 'data-owner': i },
      `${addresses[i]}: ${(s * 100).toFixed(1)}% of keys`));
    at = end;
  });
}
