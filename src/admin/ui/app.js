// Fulcrum dashboard: live pool picture from the admin API's event stream (GET /api/v1/stream, a
// snapshot per second plus events), hash view, event timeline, controls (drain, weight, algorithm;
// the bearer token is kept in sessionStorage, never in a cookie) and the demo's traffic generator.
// Reads use EventSource when they are open; with admin.auth.protectReads the stream is read with
// fetch() and a reader (an EventSource cannot send an Authorization header).
import { ALGORITHMS, HASHING, SSEParser, apiError, clock, color, count, eventLine, ms, pct, rate, stateOf } from './format.js';
import { drawRing, drawShares, drawTable } from './hashview.js';
import { initTraffic } from './traffic.js';

const TOKEN_KEY = 'fulcrum-admin-token';
const $ = (id) => document.getElementById(id);
const features = (document.querySelector('meta[name="fulcrum-features"]')?.content ?? '').split(/\s+/);

let token = sessionStorage.getItem(TOKEN_KEY);
let pools = [];
let generation = null;
let current = null;
let rowsKey = '';
const rows = new Map();
let hashKey = '';
const seenEvents = new Set();

function h(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && k !== 'list') e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function say(text) {
  $('announce').textContent = text;
}

function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = text === '';
}

async function api(method, path, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  return { ok: res.ok, status: res.status, body: json };
}

/** Runs a write; shows the API's error to the user or announces the result, then refreshes at once. */
async function write(what, method, path, body) {
  let r;
  try {
    r = await api(method, path, body);
  } catch (err) {
    showError(`${what}: the admin API did not answer (${err.message}).`);
    return null;
  }
  if (!r.ok) {
    showError(`${what}: ${apiError(r.status, r.body)}`);
    say(`${what} failed`);
    return null;
  }
  showError('');
  say(`${what}: ${r.body?.unchanged ? 'nothing to change' : 'done'}`);
  const fresh = await api('GET', '/api/v1/pools');
  if (fresh.ok) onSnapshot(fresh.body);
  return r;
}

// ---- token -------------------------------------------------------------------------------------

function tokenState(writesEnabled) {
  const s = $('token-state');
  if (writesEnabled === false) s.textContent = 'writes are off on this server (no admin token configured)';
  else s.textContent = token ? 'token set (kept in this tab only)' : 'no token: read-only';
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('token').value.trim();
  if (v === '') return;
  token = v;
  sessionStorage.setItem(TOKEN_KEY, v);
  $('token').value = '';
  showError('');
  tokenState();
  say('token set');
  if (streamNeedsToken) connect();
});
$('token-forget').addEventListener('click', () => {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  tokenState();
  say('token forgotten');
});

// ---- pool picture ------------------------------------------------------------------------------

for (const a of ALGORITHMS) $('algo-select').append(h('option', { value: a }, a));
function syncHashKeyField() {
  const show = HASHING.has($('algo-select').value);
  $('algo-hashkey').hidden = !show;
  $('algo-hashkey-label').hidden = !show;
}
$('algo-select').addEventListener('change', syncHashKeyField);
$('algo-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (current === null) return;
  const algorithm = $('algo-select').value;
  const body = { algorithm };
  if (HASHING.has(algorithm)) body.hashKey = $('algo-hashkey').value.trim();
  await write(`switch ${current} to ${algorithm}`, 'PUT', `/api/v1/pools/${encodeURIComponent(current)}/algorithm`, body);
});
$('pool-select').addEventListener('change', () => {
  current = $('pool-select').value;
  rowsKey = '';
  hashKey = '';
  render();
});

function buildRows(p) {
  const tbody = $('backends').tBodies[0];
  tbody.replaceChildren();
  rows.clear();
  p.endpoints.forEach((e, i) => {
    const weight = h('input', { type: 'number', min: '0', step: '1', value: String(e.weight), 'aria-label': `Weight of ${e.address}` });
    const setW = h('button', { type: 'submit', 'aria-label': `Set weight of ${e.address}` }, 'Set');
    const form = h('form', { class: 'weight', noValidate: true, onsubmit: (ev) => {
      ev.preventDefault();
      const n = Number(weight.value);
      write(`set weight of ${e.address}`, 'PUT', `/api/v1/pools/${encodeURIComponent(p.name)}/endpoints/${encodeURIComponent(e.address)}/weight`, { weight: weight.value === '' ? null : n });
    } }, weight, ' ', setW);
    const drain = h('button', { type: 'button', class: 'drain' });
    drain.addEventListener('click', () => {
      const on = drain.dataset.drain !== 'true';
      write(`${on ? 'drain' : 'undrain'} ${e.address}`, 'POST', `/api/v1/pools/${encodeURIComponent(p.name)}/endpoints/${encodeURIComponent(e.address)}/${on ? 'drain' : 'undrain'}`);
    });
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = color(i);
    const fill = h('span', { class: 'fill' });
    fill.style.background = color(i);
    const mark = h('span', { class: 'mark' });
    const cells = {
      state: h('td', { class: 'state' }), inFlight: h('td', { class: 'num inflight' }), requests: h('td', { class: 'num requests' }),
      rps: h('td', { class: 'num rps' }), latency: h('td', { class: 'num' }), shareText: h('span', { class: 'share-text' }),
      fill, mark, weight, drain,
    };
    const tr = h('tr', { 'data-address': e.address },
      h('td', { class: 'addr' }, swatch, e.address), cells.state, cells.inFlight, cells.requests, cells.rps, cells.latency,
      h('td', {}, h('div', { class: 'share' }, h('span', { class: 'bar', 'aria-hidden': 'true' }, fill, mark), cells.shareText)),
      h('td', {}, form), h('td', {}, drain));
    tbody.append(tr);
    rows.set(e.address, cells);
  });
}

function updateRows(p) {
  for (const e of p.endpoints) {
    const c = rows.get(e.address);
    if (c === undefined) continue;
    const st = stateOf(e);
    c.state.textContent = st.label;
    c.state.className = `state ${st.cls}`;
    c.state.title = e.lastEvent ? `${e.lastEvent.kind} → ${e.lastEvent.to}: ${e.lastEvent.reason}` : (e.healthReason ?? '');
    c.inFlight.textContent = count(e.inFlight);
    c.requests.textContent = count(e.requests);
    c.rps.textContent = rate(e.reqPerSec);
    c.latency.textContent = `${ms(e.latencyEwmaMs)} / ${ms(e.latencyP99Ms)}`;
    const obs = e.observedShare ?? 0;
    c.fill.style.width = `${Math.min(100, obs * 100)}%`;
    c.mark.style.left = `${Math.min(99, e.expectedShare * 100)}%`;
    c.shareText.textContent = `${pct(e.observedShare)} / ${pct(e.expectedShare)}${e.effectiveWeight !== e.weight ? ` (weight now ${e.effectiveWeight})` : ''}`;
    if (document.activeElement !== c.weight) c.weight.value = String(e.weight);
    c.drain.dataset.drain = String(e.drain);
    c.drain.textContent = e.drain ? 'Undrain' : 'Drain';
    c.drain.setAttribute('aria-label', `${e.drain ? 'Undrain' : 'Drain'} ${e.address}`);
  }
}

function render() {
  const sel = $('pool-select');
  const names = pools.map((p) => p.name);
  if ([...sel.options].map((o) => o.value).join('\n') !== names.join('\n')) {
    sel.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  }
  if (current === null || !names.includes(current)) current = names[0] ?? null;
  sel.value = current ?? '';
  const p = pools.find((x) => x.name === current);
  const gen = generation === null ? '' : `config generation ${generation}`;
  if (p === undefined) {
    // A GSLB-only config has no pools: say so rather than show an empty picture.
    if (names.length === 0) $('generation').textContent = `${gen ? `${gen} · ` : ''}no pools in this config (GSLB only: DNS sites and names at /api/v1/gslb)`;
    return;
  }
  $('generation').textContent = gen;
  const av = p.algorithmView;
  if ($('algo-now').textContent !== p.algorithm) {
    $('algo-now').textContent = p.algorithm;
    if (document.activeElement !== $('algo-select')) {
      $('algo-select').value = p.algorithm;
      if (av.hashKey) $('algo-hashkey').value = av.hashKey;
      syncHashKeyField();
    }
  }
  $('algo-key').textContent = av.hashKey ? `key ${av.hashKey}${av.boundedLoad ? `, bounded load ×${av.boundedLoad.factor ?? ''}` : ''}` : '';
  $('total-rate').textContent = rate(p.endpoints.reduce((a, e) => a + e.reqPerSec, 0));
  $('total-requests').textContent = count(p.endpoints.reduce((a, e) => a + e.requests, 0));
  const key = `${p.name}\n${p.endpoints.map((e) => e.address).join('\n')}`;
  if (key !== rowsKey) {
    buildRows(p);
    rowsKey = key;
  }
  updateRows(p);
  renderHash(p);
}

// ---- hash view ---------------------------------------------------------------------------------

async function renderHash(p) {
  const av = p.algorithmView;
  const section = $('hash');
  section.hidden = !av.hashing;
  if (!av.hashing) {
    hashKey = '';
    return;
  }
  const addresses = p.endpoints.map((e) => e.address);
  const legend = $('hash-legend');
  legend.replaceChildren(...av.shares.map((s, i) => {
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    sw.style.background = color(i);
    return h('li', {}, sw, `${s.address}: ${pct(s.share)} of keys`);
  }));
  const key = `${p.name}\n${generation}\n${p.algorithm}\n${addresses.join(',')}\n${av.shares.map((s) => s.share).join(',')}`;
  if (key === hashKey) return;
  hashKey = key;
  const wsel = $('whatif-select');
  const keep = wsel.value;
  wsel.replaceChildren(...addresses.map((a) => h('option', { value: a }, a)));
  if (addresses.includes(keep)) wsel.value = keep;
  $('whatif-result').textContent = '';
  const svg = $('ring');
  if (av.view === 'ring' || av.view === 'table') {
    const r = await api('GET', `/api/v1/pools/${encodeURIComponent(p.name)}/keyspace?segments=${av.view === 'ring' ? 360 : 400}`);
    if (!r.ok || hashKey !== key) return;
    (av.view === 'ring' ? drawRing : drawTable)(svg, r.body.owners, r.body.endpoints);
    $('ring-desc').textContent = av.view === 'ring'
      ? `${p.algorithm} ring: ${r.body.segments} equal arcs, coloured by the backend owning each`
      : `${p.algorithm} lookup table: ${r.body.segments} equal runs of entries, coloured by owner`;
  } else {
    drawShares(svg, av.shares.map((s) => s.share), addresses);
    $('ring-desc').textContent = `${p.algorithm}: no ring positions (highest score wins); each backend's share of keys`;
  }
}

$('whatif-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const addr = $('whatif-select').value;
  if (current === null || addr === '') return;
  const r = await api('GET', `/api/v1/pools/${encodeURIComponent(current)}/whatif?remove=${encodeURIComponent(addr)}`);
  const out = $('whatif-result');
  if (!r.ok) {
    out.textContent = apiError(r.status, r.body);
    return;
  }
  const b = r.body;
  out.textContent = b.hashing
    ? `Removing ${addr} would move ${pct(b.movedShare)} of keys: its own ${pct(b.ownShare)}, plus ${pct(b.movedFromOthers)} from other backends (sample of ${count(b.keys)} keys).`
    : `${current} does not hash keys: removing ${addr} only spreads its requests over the others.`;
  out.dataset.moved = String(b.movedShare ?? '');
  say(out.textContent);
});

// ---- timeline ----------------------------------------------------------------------------------

function onEvents(data) {
  const list = $('timeline');
  for (const ev of data.events) {
    if (seenEvents.has(ev.id)) continue;
    seenEvents.add(ev.id);
    const li = h('li', { 'data-kind': ev.kind }, h('time', { dateTime: ev.at }, clock(ev.at)), h('span', { class: `kind kind-${ev.kind}` }, ev.kind), ' ', eventLine(ev).slice(ev.kind.length + 1));
    list.prepend(li);
  }
  while (list.children.length > 300) list.lastElementChild.remove();
}

function onSnapshot(data) {
  pools = data.pools;
  generation = data.generation;
  render();
}

// ---- stream ------------------------------------------------------------------------------------

let streamNeedsToken = false;
let source = null;
let reader = null;
let lastEventId = null;

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

function connect() {
  source?.close();
  reader?.cancel().catch(() => {});
  if (!streamNeedsToken) {
    source = new EventSource('/api/v1/stream');
    source.addEventListener('open', () => setConn('live', 'live'));
    source.addEventListener('snapshot', (m) => onSnapshot(JSON.parse(m.data)));
    source.addEventListener('events', (m) => onEvents(JSON.parse(m.data)));
    source.addEventListener('shutdown', () => { setConn('error', 'server shutting down'); source.close(); });
    source.addEventListener('error', () => setConn('error', 'reconnecting…'));
    return;
  }
  if (!token) {
    setConn('error', 'reads need the token');
    return;
  }
  readStream();
}

/** The stream through fetch() with the Authorization header (protectReads); reconnects after 2 s. */
async function readStream() {
  const q = lastEventId === null ? '' : `?since=${encodeURIComponent(lastEventId)}`;
  try {
    const res = await fetch(`/api/v1/stream${q}`, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
    if (!res.ok) {
      setConn('error', res.status === 401 ? 'token refused' : `stream error ${res.status}`);
      if (res.status === 401) return;
      throw new Error(String(res.status));
    }
    setConn('live', 'live');
    const parser = new SSEParser();
    reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const m of parser.feed(value)) {
        if (m.id !== null) lastEventId = m.id;
        if (m.event === 'snapshot') onSnapshot(JSON.parse(m.data));
        else if (m.event === 'events') onEvents(JSON.parse(m.data));
      }
    }
  } catch {
    // fall through to the retry
  }
  setConn('error', 'reconnecting…');
  setTimeout(readStream, 2000);
}

// ---- demo traffic (only when the server announces it) -----------------------------------------

if (features.includes('demo-traffic')) initTraffic({ api, write, h });

// ---- start -------------------------------------------------------------------------------------

async function start() {
  tokenState();
  syncHashKeyField();
  const st = await api('GET', '/api/v1/status').catch(() => null);
  if (st === null) {
    setConn('error', 'admin API unreachable');
    return;
  }
  if (st.status === 401) {
    streamNeedsToken = true;
    showError('Reads are protected on this server (admin.auth.protectReads): enter the admin token above.');
  } else if (st.ok) {
    streamNeedsToken = st.body.auth.protectReads;
    tokenState(st.body.auth.writesEnabled);
  }
  connect();
}

start();
