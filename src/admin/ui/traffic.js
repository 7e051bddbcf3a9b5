// Fulcrum dashboard: the embedded demo's traffic generator panel (POST /api/v1/demo/traffic, token;
// GET for its status, polled once a second): settings, start/stop, and per source address
// (127.0.0.2 …) how many requests it sent and which demo backend answered them.
import { clock, count } from './format.js';

const $ = (id) => document.getElementById(id);

let trafficFormSynced = false;

function renderTraffic(s, h) {
  // After a reload, show the settings of the generator that runs (once; the user's edits win after).
  if (!trafficFormSynced && s.running && s.settings !== null) {
    trafficFormSynced = true;
    $('traffic-rate').value = String(s.settings.rate);
    $('traffic-clients').value = String(s.settings.clients);
    $('traffic-duration').value = String(s.settings.durationS);
  }
  const by = s.clients.map((c) => h('tr', {}, h('td', { class: 'addr' }, c.source), h('td', { class: 'num' }, count(c.sent)), h('td', { class: 'num' }, count(c.errors)),
    h('td', {}, Object.entries(c.backends).map(([b, n]) => `${b} ${count(n)}`).join(', '))));
  $('traffic-clients-table').tBodies[0].replaceChildren(...by);
  $('traffic-state').textContent = s.running
    ? `running: ${s.settings.rate}/s from ${s.settings.clients} clients until ${clock(s.endsAt)} — sent ${count(s.sent)}, in flight ${count(s.inFlight)}`
    : s.settings === null ? 'idle' : `${s.stoppedReason === 'stopped' || !s.stoppedReason ? 'stopped' : `stopped (${s.stoppedReason})`} — sent ${count(s.sent)}`;
}

export function initTraffic({ api, write, h }) {
  $('traffic').hidden = false;
  for (const id of ['traffic-rate', 'traffic-clients', 'traffic-duration']) $(id).addEventListener('input', () => { trafficFormSynced = true; });
  $('traffic-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { rate: Number($('traffic-rate').value), clients: Number($('traffic-clients').value), durationS: Number($('traffic-duration').value) };
    const r = await write('start demo traffic', 'POST', '/api/v1/demo/traffic', body);
    if (r) renderTraffic(r.body, h);
  });
  $('traffic-stop').addEventListener('click', async () => {
    const r = await write('stop demo traffic', 'POST', '/api/v1/demo/traffic/stop');
    if (r) renderTraffic(r.body, h);
  });
  setInterval(async () => {
    const r = await api('GET', '/api/v1/demo/traffic').catch(() => null);
    if (r?.ok) renderTraffic(r.body, h);
  }, 1000);
}

