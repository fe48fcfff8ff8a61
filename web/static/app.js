// Vitalwire browser UI: one page that routes on the URL fragment. It talks
// to the server's JSON API with the session cookie, and listens to
// /ws/v1/live for readings, NEWS2 changes and alert changes. Patient data
// is only ever put in the page as text (never as HTML).
'use strict';

// The vitals catalog (GET /api/v1/vitals): label, unit symbol, digits,
// staleness, and which vitals a tile shows, in display order. The server
// owns it; loadCatalog fetches it once before any page renders.
const catalog = { list: [], byType: new Map() };
// Sparklines and the visit page's trends show these two, where the catalog
// has them.
const SPARK_TYPES = ['heart_rate', 'spo2'];
const SEVERITY_SHAPE = { critical: '▲', high: '◆', medium: '●', low: '○' };
// SEVERITY_RANK orders the alerts panel (most severe first).
const SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };
// RESOLVE_OUTCOMES: why an alert is resolved by hand (alerts.Outcomes).
const RESOLVE_OUTCOMES = [['acted_on', 'Acted on (clinically relevant)'], ['not_clinically_relevant', 'Not clinically relevant'],
  ['artifact', 'Artifact (probe off, movement, cuff)'], ['duplicate', 'Duplicate of another alert'], ['other', 'Other (say why)']];
const BAND_SHAPE = { high: '▲', medium: '◆', 'low-medium': '●', low: '○' };

// Measurements the tests and the performance report read.
window.vitalwire = { lags: [], longTasks: [], rendered: 0, charts: {} };
if ('PerformanceObserver' in window) {
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries()) window.vitalwire.longTasks.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) { /* long tasks not supported */ }
}

// ---- small helpers -------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// vital returns a type's catalog entry; a type the catalog does not know
// (a newer server) is shown by its name, with one decimal.
function vital(type) {
  return catalog.byType.get(type) || { type, label: String(type).replace(/_/g, ' '), symbol: '', digits: 1, stale_after_seconds: 0, tile: false, panel: false };
}

function tileTypes() { return catalog.list.filter(v => v.tile).map(v => v.type); }

function sparkTypes() { return SPARK_TYPES.filter(t => catalog.byType.has(t)); }

function fmt(type, v) {
  return Number(v).toFixed(vital(type).digits);
}

// readingText formats a Reading (of the API or the live socket): a panel
// (blood pressure) as systolic/diastolic.
function readingText(r) {
  if (vital(r.type).panel) return `${fmt(r.type, r.value)}/${fmt(r.type, r.diastolic ?? 0)}`;
  return fmt(r.type, r.value);
}

// isStale tells whether a reading taken at t (ms) is older than its vital's
// cadence allows.
function isStale(type, t) {
  const after = vital(type).stale_after_seconds;
  return after > 0 && Date.now() - t > after * 1000;
}

let catalogLoad = null;
// loadCatalog fetches the vitals catalog once; a failed load is tried again
// on the next page.
function loadCatalog() {
  if (!catalogLoad) {
    catalogLoad = (async () => {
      let res;
      try { res = await fetch('/api/v1/vitals', { credentials: 'same-origin' }); } catch (e) { throw new Error('the server could not be reached'); }
      if (!res.ok) throw new Error(`the server answered ${res.status} ${res.statusText}`.trim());
      const list = await res.json().catch(() => null);
      if (!Array.isArray(list) || !list.length) throw new Error('the server sent no vitals');
      catalog.list = list;
      catalog.byType = new Map(list.map(v => [v.type, v]));
    })().catch(e => { catalogLoad = null; throw e; });
  }
  return catalogLoad;
}

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// timeText is a time in the clinic's zone, with the zone's name.
function timeText(t) { return new Date(t).toLocaleString([], { dateStyle: 'short', timeStyle: 'long', timeZone: chartZone() }); }

function ruleText(rule) { return rule.replace(/_/g, ' '); }

function notice(text) { document.getElementById('notice').textContent = text || ''; }

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body, background) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (background) headers['X-Vitalwire-Background'] = '1';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && !path.startsWith('/api/v1/session')) {
    signedOut('Your session has ended. Please sign in again.');
    throw new APIError(401, 'signed out');
  }
  const text = await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (e) { data = text; } }
  if (res.status === 403 && data && data.code === 'password_change_required') {
    // A credential an administrator issued: the person's own password first.
    if (me) me.must_set_password = true;
    if (location.hash !== '#/set-password') location.hash = '#/set-password';
  }
  if (!res.ok) throw new APIError(res.status, (data && data.error) || res.statusText);
  return data;
}

// ---- session ---------------------------------------------------------------

let me = null;
let lastActivity = Date.now();
let lastPing = Date.now();

function activity() { lastActivity = Date.now(); }
for (const ev of ['keydown', 'mousedown', 'pointermove', 'wheel', 'touchstart']) window.addEventListener(ev, activity, { passive: true });

// Automatic log-off: the server ends an idle session; the page follows it
// and keeps the session alive while someone works on it. Before signing out
// an idle page asks the server, which counts an open video visit (in this
// tab or another) as activity.
setInterval(async () => {
  if (!me) return;
  const idle = me.idle_seconds * 1000;
  if (Date.now() - lastActivity >= idle) {
    const span = idle >= 60000 ? Math.round(idle / 60000) + ' minutes' : Math.round(idle / 1000) + ' seconds';
    const message = 'You were signed out after ' + span + ' without activity.';
    let session;
    try { session = await api('GET', '/api/v1/session', undefined, true); } catch (e) {
      if (e.status === 401) await signOut(message);
      return; // offline: ask again at the next tick
    }
    const left = Date.parse(session.expires) - Date.now();
    if (left > 3000) { lastActivity = Date.now() + left - idle; return; }
    await signOut(message);
    return;
  }
  if (lastActivity > lastPing && Date.now() - lastPing > Math.min(60000, idle / 3)) {
    lastPing = Date.now();
    try { await api('POST', '/api/v1/session/activity'); } catch (e) { /* 401 handled */ }
  }
}, 2000);

function signedOut(message) {
  me = null;
  live.close();
  renderChrome();
  notice(message);
  if (!location.hash.startsWith('#/signin')) location.hash = '#/signin';
  else route();
}

async function signOut(message) {
  try {
    const r = await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin' });
    // A single sign-on session also ends at the identity provider.
    if (r.status === 200 && !message) {
      const out = await r.json();
      if (out.logout_url) { location.assign(out.logout_url); return; }
    }
  } catch (e) { /* offline */ }
  signedOut(message || 'You are signed out.');
}

function renderChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  nav.replaceChildren();
  who.replaceChildren();
  if (!me) return;
  const links = [];
  if (me.must_set_password) { /* nothing but the set-password page until then */ }
  else if (me.role === 'clinician') links.push(['#/', 'Dashboard']);
  if (me.role === 'patient') links.push([`#/patients/${encodeURIComponent(me.subject)}`, 'My vitals']);
  if (me.role === 'admin') links.push(['#/admin/devices', 'Devices'], ['#/admin/people', 'People and care teams'], ['#/admin/audit', 'Audit log']);
  if (!me.must_set_password && (me.role === 'clinician' || me.role === 'admin')) links.push(['#/measures', 'Program measures']);
  if (!me.must_set_password && (me.role === 'admin' || me.role === 'clinician')) links.push(['#/reports/rpm', 'Monitoring report']);
  for (const [href, text] of links) {
    nav.append(h('a', { href, 'aria-current': location.hash === href || (href === '#/' && location.hash === '') ? 'page' : null }, text));
  }
  who.append(h('span', {}, `Signed in as ${me.subject} (${me.role})`),
    h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'));
}

// ---- live socket -------------------------------------------------------------

const live = {
  ws: null, wanted: new Set(), handlers: new Set(), retry: 500, timer: null,
  open() {
    if (this.ws || !me) return;
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/v1/live');
    this.ws = ws;
    ws.onopen = () => { this.retry = 500; if (this.wanted.size) ws.send(JSON.stringify({ type: 'subscribe', patients: [...this.wanted] })); };
    ws.onmessage = ev => { const m = JSON.parse(ev.data); for (const f of this.handlers) f(m); };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (me) this.timer = setTimeout(() => this.open(), this.retry = Math.min(this.retry * 2, 10000));
    };
  },
  subscribe(ids) {
    const fresh = ids.filter(id => !this.wanted.has(id));
    for (const id of fresh) this.wanted.add(id);
    if (this.ws && this.ws.readyState === WebSocket.OPEN && fresh.length) this.ws.send(JSON.stringify({ type: 'subscribe', patients: fresh }));
    this.open();
  },
  close() {
    clearTimeout(this.timer);
    this.wanted.clear();
    this.handlers.clear();
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  },
};

// ---- router ----------------------------------------------------------------

let pageTimers = [];
function onPageLeave(f) { pageTimers.push(f); }

async function route() {
  for (const f of pageTimers) f();
  pageTimers = [];
  live.handlers.clear();
  const main = document.getElementById('main');
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  // Every page shows vitals through the catalog: none renders without it.
  try { await loadCatalog(); } catch (e) {
    main.replaceChildren(h('h1', {}, 'Vitalwire could not start'),
      h('p', { class: 'error', role: 'alert' }, `The list of vital signs could not be loaded from the server (${e.message}), so no vitals can be shown. Check the connection and try again.`),
      h('div', {}, h('button', { type: 'button', class: 'primary', onclick: () => route() }, 'Try again')));
    return;
  }
  if (path === '/signin') return signInPage(main, params);
  if (path === '/join') return joinPage(main, params).catch(e => main.replaceChildren(h('h1', {}, 'Your visit'), h('p', { class: 'error', role: 'alert' }, e.message)));
  if (!me) {
    try { me = await api('GET', '/api/v1/session'); } catch (e) { me = null; }
    if (!me) { location.hash = '#/signin'; return; }
  }
  if (me.must_set_password && path !== '/set-password') { location.hash = '#/set-password'; return; }
  renderChrome();
  let m;
  try {
    if (path === '/set-password') return setPasswordPage(main);
    if (path === '/' && me.role === 'patient') { location.hash = `#/patients/${encodeURIComponent(me.subject)}`; return; }
    if (path === '/' && me.role === 'admin') { location.hash = '#/admin/devices'; return; }
    if (path === '/') await dashboardPage(main);
    else if ((m = path.match(/^\/patients\/([^/]+)$/))) await patientPage(main, decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/visits\/([^/]+)$/))) await visitPage(main, decodeURIComponent(m[1]));
    else if (path === '/admin/devices') await adminDevicesPage(main);
    else if (path === '/admin/people') await adminPeoplePage(main);
    else if (path === '/admin/audit') await adminAuditPage(main);
    else if (path === '/measures' && me.role !== 'patient') await measuresPage(main, params);
    else if (path === '/reports/rpm') await rpmReportPage(main, params);
    else main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page.'));
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(h('h1', {}, e.status === 403 ? 'Not allowed' : 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, e.status === 403 ? 'You do not have access to this page.' : e.message));
  }
}
window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);

// ---- sign-in -----------------------------------------------------------------

async function signInPage(main, params) {
  renderChrome();
  const code = params.get('code');
  if (code) {
    history.replaceState(null, '', location.pathname + '#/signin'); // the code is used once; keep it out of history
    main.replaceChildren(h('p', {}, 'Signing in…'));
    try {
      me = await api('POST', '/api/v1/session', { code });
      notice('');
      location.hash = me.must_set_password ? '#/set-password' : '#/';
    } catch (e) {
      renderSignInForm(main, e.message);
    }
    return;
  }
  const ssoErrors = {
    'not-allowed': 'Your account at the identity provider is not allowed to use Vitalwire. Ask your administrator.',
    provider: 'The identity provider did not complete the sign-in. Try again.',
    failed: 'The single sign-on could not be completed. Try again.',
  };
  const ssoError = params.get('sso_error');
  if (ssoError) history.replaceState(null, '', location.pathname + '#/signin');
  renderSignInForm(main, ssoErrors[ssoError] || (ssoError ? ssoErrors.failed : ''));
}

// ssoButton adds "Sign in with <provider>" above the form when single
// sign-on is configured.
async function ssoButton(main) {
  let sso;
  try {
    const r = await fetch('/api/v1/sso', { credentials: 'same-origin' });
    if (r.status !== 200) return; // 204: no single sign-on here
    sso = await r.json();
  } catch (e) { return; }
  const form = main.querySelector('form');
  if (!form || main.querySelector('#sso')) return;
  form.before(h('div', { class: 'panel', id: 'sso' },
    h('a', { class: 'button primary', href: sso.login_url }, 'Sign in with ' + sso.name),
    h('p', {}, 'Or sign in with a Vitalwire username and password:')));
}

function renderSignInForm(main, error) {
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', role: 'alert' }, error);
  const form = h('form', {
    class: 'panel', onsubmit: async ev => {
      ev.preventDefault();
      try {
        me = await api('POST', '/api/v1/session', { username: user.value, password: pass.value });
        notice('');
        location.hash = me.must_set_password ? '#/set-password' : '#/';
      } catch (e) { err.textContent = e.message; pass.value = ''; pass.focus(); }
    },
  },
  h('label', { for: 'username' }, 'Username', user),
  h('label', { for: 'password' }, 'Password', pass),
  h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Sign in')), err,
  h('p', {}, 'Or open the one-time sign-in link your administrator gave you.'));
  main.replaceChildren(h('h1', {}, 'Sign in to Vitalwire'), form);
  ssoButton(main);
}

// setPasswordPage: a session opened with a link or a password an
// administrator issued can do nothing else until the person sets their own
// password; after that it is an ordinary session. Anyone signed in may use
// it to change their password.
function setPasswordPage(main) {
  const first = !!me.must_set_password;
  const user = h('input', { id: 'new-username', name: 'username', autocomplete: 'username', 'aria-describedby': 'new-username-hint' });
  const pass = h('input', { id: 'new-password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 });
  const again = h('input', { id: 'new-password-again', name: 'password-again', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 });
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', {
    id: 'set-password-form', class: 'panel', onsubmit: async ev => {
      ev.preventDefault();
      err.textContent = '';
      if (pass.value !== again.value) { err.textContent = 'The two passwords differ.'; again.focus(); return; }
      try {
        await api('POST', '/api/v1/session/password', { username: user.value.trim(), password: pass.value });
        me = await api('GET', '/api/v1/session');
        notice('Your password is set.');
        location.hash = '#/';
      } catch (e) { err.textContent = e.message; pass.value = ''; again.value = ''; pass.focus(); }
    },
  },
  h('label', { for: 'new-username' }, 'Username', user),
  h('p', { id: 'new-username-hint', class: 'hint' }, 'Choose one if you have none yet; leave it empty to keep your username.'),
  h('label', { for: 'new-password' }, 'New password (12 or more characters)', pass),
  h('label', { for: 'new-password-again' }, 'New password again', again),
  h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Set my password')), err);
  main.replaceChildren(h('h1', {}, first ? 'Choose your own password' : 'Change your password'),
    first ? h('p', {}, 'An administrator issued the link or password you signed in with. Choose a password only you know before you continue: until then nothing else is available.') : '',
    form);
  pass.focus();
}

// ---- dashboard ---------------------------------------------------------------

function severityBadge(sev) {
  return h('span', { class: `badge sev-${sev}` }, `${SEVERITY_SHAPE[sev] || '●'} ${sev}`);
}

const NEWS2_PARAMS = { respiratory_rate: 'respiratory rate', spo2: 'SpO2', systolic: 'systolic', pulse: 'pulse', temperature: 'temperature' };

// partialText says what a partial NEWS2 lacks: consciousness is recorded
// by a clinician, the others are measured.
function partialText(missing) {
  const m = missing || [];
  const parts = [];
  if (m.includes('consciousness')) parts.push('consciousness not recorded');
  const measured = m.filter(x => x !== 'consciousness').map(x => NEWS2_PARAMS[x] || x);
  if (measured.length) parts.push(`${measured.join(', ')} not measured`);
  return parts.length ? `partial: ${parts.join('; ')}` : 'partial';
}

function news2Badge(score) {
  if (!score) return h('span', { class: 'badge' }, 'NEWS2 —');
  const partial = score.partial ? partialText(score.missing) : '';
  return h('span', { class: `badge band-${score.band}`, title: partial ? `computed with parameters missing (${partial})` : '' },
    `${BAND_SHAPE[score.band] || ''} NEWS2 ${score.total} · ${score.band}${partial ? ` · ${partial}` : ''}`);
}

class TileView {
  constructor(tile, page) {
    this.page = page;
    this.id = tile.patient.id;
    this.patient = tile.patient;
    this.latest = {};
    for (const r of tile.latest) this.latest[r.type] = r;
    this.spark = {}; // vital -> Map(minuteStart ms -> {sum, n})
    for (const [type, ws] of Object.entries(tile.spark || {})) {
      const m = new Map();
      for (const w of ws) m.set(Date.parse(w.start), { sum: w.mean * w.count, n: w.count });
      this.spark[type] = m;
    }
    this.news2 = tile.news2 || null;
    // The server's urgency orders the tiles (alerts.Urgency); live alert,
    // NEWS2 and escalation messages bring it up to date.
    this.urgency = tile.urgency || 0;
    this.devices = tile.devices;
    this.el = h('li', { class: 'tile', 'data-patient': this.id, 'aria-labelledby': `tile-${this.id}` });
    this.render();
  }

  render() {
    const alerts = this.page.alertsOf(this.id);
    const name = this.patient.name || this.id;
    this.el.classList.toggle('urgent', alerts.some(a => a.state === 'firing' && (a.severity === 'critical' || a.severity === 'high')));
    this.values = {};
    const dl = h('dl', {});
    for (const type of tileTypes()) {
      const v = vital(type);
      const value = h('span', { class: 'value' });
      const age = h('span', { class: 'age' });
      const unit = h('span', { class: 'unit' }, v.symbol);
      const dd = h('dd', { 'data-vital': type }, value, ' ', unit, ' ', age);
      this.values[type] = { dd, value, unit, age };
      dl.append(h('dt', {}, v.label), dd);
      this.fill(type);
    }
    for (const sp of Object.values(this.sparks || {})) destroyChart(sp.u);
    this.sparks = {};
    const sparks = h('div', {});
    for (const type of sparkTypes()) {
      const box = h('div', { class: 'spark', role: 'img', 'aria-label': `${vital(type).label}, last hour` });
      // The visible caption says what the line is; the image's own
      // label says the same to a screen reader.
      const label = h('div', { class: 'spark-label', 'aria-hidden': 'true' }, `${vital(type).label}, last hour`);
      this.sparks[type] = { box, label, u: null };
      sparks.append(label, box);
    }
    this.drawSparks();
    const devs = h('ul', { class: 'devices', 'aria-label': 'Devices' });
    for (const d of this.devices) {
      const battery = d.battery != null ? ` · battery ${Math.round(d.battery * (d.battery <= 1 ? 100 : 1))}%` : '';
      devs.append(h('li', { class: d.online ? '' : 'offline' }, `${d.kind || 'device'}: ${d.online ? 'online' : '✕ offline'}${battery}`));
    }
    this.news2El = h('span', {}, news2Badge(this.news2));
    // One line per problem: its most severe alert, with how many related
    // alerts it holds (a septic patient's NEWS2 and vitals are one).
    const probs = problemsOf(alerts);
    const alertText = probs.length
      ? h('p', { class: 'tile-alerts' }, `${probs.length} open problem${probs.length > 1 ? 's' : ''}: `,
        ...probs.map(({ lead: a, others }) => h('span', {}, severityBadge(a.severity), ' ', ruleText(a.rule),
          others.length ? ` (+${others.length} related)` : '', a.state === 'acknowledged' ? ' (acknowledged) ' : ' ')))
      : h('p', { class: 'tile-alerts' }, 'No open alerts');
    this.el.replaceChildren(
      h('header', {}, h('h2', { id: `tile-${this.id}` }, h('a', { href: `#/patients/${encodeURIComponent(this.id)}` }, name)), this.news2El),
      dl, sparks, alertText, devs);
  }

  fill(type) {
    const r = this.latest[type];
    const cell = this.values[type];
    if (!cell) return;
    cell.unit.hidden = !r; // "—", not "— mmHg"
    if (!r) { cell.value.textContent = '—'; cell.age.textContent = ''; cell.dd.classList.remove('stale'); return; }
    cell.value.textContent = readingText(r);
    this.age(type);
  }

  age(type) {
    const r = this.latest[type];
    const cell = this.values[type];
    if (!r || !cell) return;
    const t = Date.parse(r.time);
    const stale = isStale(type, t);
    cell.dd.classList.toggle('stale', stale);
    cell.age.textContent = stale ? `stale: ${ago(t)}` : ago(t);
  }

  // reading applies a Reading of the live socket (the REST API's shape).
  reading(r) {
    const t = Date.parse(r.time);
    const old = this.latest[r.type];
    if (!old || Date.parse(old.time) <= t) {
      this.latest[r.type] = r;
      this.fill(r.type);
    }
    if (this.sparks && this.sparks[r.type]) {
      const map = this.spark[r.type] || (this.spark[r.type] = new Map());
      const minute = Math.floor(t / 60000) * 60000;
      const b = map.get(minute) || { sum: 0, n: 0 };
      b.sum += r.value; b.n++;
      map.set(minute, b);
      this.page.dirty.add(this);
    }
  }

  // drawSparks draws the last hour of each sparkline vital, a point a
  // minute (the mean of its readings); a gap longer than the vital's
  // staleness is left a gap.
  drawSparks() {
    const now = Date.now();
    const cut = now - 3600000;
    for (const [type, sp] of Object.entries(this.sparks || {})) {
      const map = this.spark[type] || new Map();
      for (const k of map.keys()) if (k < cut - 60000) map.delete(k);
      const pts = [...map.entries()].sort((a, b) => a[0] - b[0]).map(([t, b]) => [t + 30000, b.sum / b.n]);
      const gap = Math.max(90000, (vital(type).stale_after_seconds || 0) * 1000);
      const key = `spark:${this.id}:${type}`;
      if (!sp.u) sp.u = sparkPlot(sp.box, key, pts, cut, now, gap, 240, 34);
      else setSparkData(sp.u, key, pts, cut, now, gap);
      if (pts.length) {
        const ys = pts.map(p => p[1]);
        const text = `${vital(type).label}, last hour: ${fmt(type, Math.min(...ys))} to ${fmt(type, Math.max(...ys))} ${vital(type).symbol}`;
        sp.box.setAttribute('aria-label', text);
        sp.label.textContent = text;
      }
    }
  }
}

async function dashboardPage(main) {
  const data = await api('GET', '/api/v1/dashboard');
  const page = {
    tiles: new Map(), alerts: new Map(), dirty: new Set(), paged: new Set(),
    alertsOf(id) { return [...this.alerts.values()].filter(a => a.patient === id); },
  };
  for (const t of data.tiles) for (const a of t.alerts) page.alerts.set(a.id, a);
  const list = h('ul', { class: 'tiles', 'aria-label': 'Patients' });
  data.tiles.forEach((t, i) => {
    const v = new TileView(t, page);
    v.rank = i; // the server's order breaks ties, as its stable sort does
    page.tiles.set(v.id, v);
  });
  // Tiles in the server's urgency order, most urgent first; moved only when
  // the order changes.
  const resort = () => {
    const views = [...page.tiles.values()].sort((a, b) => (b.urgency - a.urgency) || (a.rank - b.rank));
    const now = [...list.children];
    if (views.length === now.length && views.every((v, i) => v.el === now[i])) return;
    list.replaceChildren(...views.map(v => v.el));
  };
  resort();
  const panel = h('ul', { class: 'alerts', id: 'alert-list' });
  const count = h('span', {});
  const renderPanel = () => {
    const open = problemsOf([...page.alerts.values()]).sort((a, b) => (SEVERITY_RANK[b.lead.severity] - SEVERITY_RANK[a.lead.severity]) || (Date.parse(b.lead.fired_at) - Date.parse(a.lead.fired_at)));
    count.textContent = ` (${open.length})`;
    panel.replaceChildren(...(open.length ? open.map(p => alertItem(p.lead, page, p.others)) : [h('li', {}, 'No open alerts.')]));
  };
  renderPanel();
  main.replaceChildren(
    h('h1', {}, `Patients of ${data.subject}`),
    h('div', { class: 'layout' },
      h('section', { 'aria-label': 'Patients' }, data.tiles.length ? list : h('p', {}, 'No patients in your care teams.')),
      h('section', { class: 'panel', 'aria-labelledby': 'alerts-h' }, h('h2', { id: 'alerts-h' }, 'Open alerts', count), panel)));

  // Readings are applied once a frame, in one pass: a burst of messages
  // costs one style and layout, not one each. Sparklines, a point a
  // minute, are redrawn at most every few seconds.
  let queue = [];
  let lastSpark = 0;
  let sparkQueue = [];
  const draw = () => {
    if (queue.length) {
      const batch = queue;
      queue = [];
      for (const m of batch) {
        const v = page.tiles.get(m.patient);
        if (v) v.reading(m.reading);
      }
      const now = Date.now();
      for (const m of batch) window.vitalwire.lags.push(now - Date.parse(m.reading.time));
      window.vitalwire.rendered += batch.length;
    }
    if (page.dirty.size && !sparkQueue.length && Date.now() - lastSpark > 5000) {
      sparkQueue = [...page.dirty];
      page.dirty.clear();
      lastSpark = Date.now();
    }
    // A few tiles' sparklines a frame: each is a chart to redraw, and
    // two hundred at once would hold the main thread.
    for (const v of sparkQueue.splice(0, 16)) v.drawSparks();
    raf = requestAnimationFrame(draw);
  };
  let raf = requestAnimationFrame(draw);
  const ages = setInterval(() => { for (const v of page.tiles.values()) for (const type of tileTypes()) v.age(type); }, 5000);
  onPageLeave(() => {
    cancelAnimationFrame(raf); clearInterval(ages);
    for (const v of page.tiles.values()) for (const sp of Object.values(v.sparks || {})) destroyChart(sp.u);
  });

  live.handlers.add(m => {
    const v = page.tiles.get(m.patient);
    if (!v) return;
    if (m.urgency != null) v.urgency = m.urgency;
    if (m.type === 'reading') {
      if (m.reading) queue.push(m);
    } else if (m.type === 'news2') {
      v.news2 = m.news2;
      v.news2El.replaceChildren(news2Badge(m.news2));
      resort();
    } else if (m.type === 'escalation') {
      const a = m.escalation.alert;
      page.alerts.set(a.id, a);
      if ((m.escalation.contacts || []).includes(me.subject)) {
        page.paged.add(a.id);
        notice(`Escalated to you: ${ruleText(a.rule)} for ${v.patient.name || a.patient} has not been acknowledged.`);
      }
      v.render();
      renderPanel();
      resort();
    } else if (m.type === 'alert') {
      const a = m.alert;
      if (a.state === 'resolved') page.alerts.delete(a.id); else page.alerts.set(a.id, a);
      v.render();
      renderPanel();
      resort();
    }
  });
  page.refreshPanel = renderPanel;
  live.subscribe([...page.tiles.keys()]);
}

// problemsOf groups open alerts into problems (alerts.Problem: the
// server links a patient's related alerts by their group): each led by
// its most severe, earliest alert, the others inside it.
function problemsOf(alerts) {
  const byGroup = new Map();
  for (const a of alerts) {
    const g = a.group || a.id;
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push(a);
  }
  return [...byGroup.values()].map(list => {
    list.sort((a, b) => (SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]) || (Date.parse(a.fired_at) - Date.parse(b.fired_at)) || (a.id - b.id));
    return { lead: list[0], others: list.slice(1) };
  });
}

function alertItem(a, page, others = []) {
  const tile = page.tiles.get(a.patient);
  const name = tile ? (tile.patient.name || a.patient) : a.patient;
  const err = h('p', { class: 'error', role: 'alert' });
  const actions = h('div', { class: 'actions' });
  const act = async (f) => {
    try { await f(); } catch (e) { err.textContent = e.message; }
  };
  const showForm = (kind) => {
    const reason = h('input', { id: `reason-${kind}-${a.id}`, required: kind !== 'resolve', minlength: 3, maxlength: 1000 });
    const fields = [];
    let outcome;
    if (kind === 'resolve') {
      // Why, from the fixed list the program's measures count; the note
      // is needed only for "Other".
      outcome = h('select', { id: `outcome-${a.id}`, required: true },
        h('option', { value: '' }, 'Choose…'), ...RESOLVE_OUTCOMES.map(([v, t]) => h('option', { value: v }, t)));
      outcome.addEventListener('change', () => { reason.required = outcome.value === 'other'; });
      fields.push(h('label', { for: outcome.id }, 'Outcome', outcome));
    }
    fields.push(h('label', { for: reason.id }, kind === 'resolve' ? 'Note' : 'Reason', reason));
    let until;
    if (kind === 'snooze') {
      until = h('select', { id: `until-${a.id}` }, ...[['15', '15 minutes'], ['30', '30 minutes'], ['60', '1 hour'], ['240', '4 hours']].map(([v, t]) => h('option', { value: v }, t)));
      fields.push(h('label', { for: until.id }, 'For', until));
    }
    const form = h('form', {
      'aria-label': `${kind === 'snooze' ? 'Snooze' : 'Resolve'} ${ruleText(a.rule)} for ${name}`,
      onsubmit: ev => {
        ev.preventDefault();
        act(async () => {
          if (kind === 'resolve') {
            const done = await api('POST', `/api/v1/alerts/${a.id}/resolve`, { outcome: outcome.value, reason: reason.value });
            page.alerts.delete(done.id);
          } else {
            const end = new Date(Date.now() + Number(until.value) * 60000).toISOString();
            await api('POST', `/api/v1/patients/${encodeURIComponent(a.patient)}/snooze`, { rule: a.rule, until: end, reason: reason.value });
            if (a.state === 'firing') page.alerts.set(a.id, await api('POST', `/api/v1/alerts/${a.id}/ack`));
            notice(`${ruleText(a.rule)} snoozed for ${name}.`);
          }
          page.refreshPanel();
          if (tile) tile.render();
        });
      },
    }, ...fields, h('button', { type: 'submit', class: 'primary' }, kind === 'snooze' ? 'Snooze' : 'Resolve'),
    h('button', { type: 'button', onclick: () => { page.refreshPanel(); } }, 'Cancel'));
    actions.replaceChildren(form);
    (outcome || reason).focus();
  };
  if (a.state === 'firing') {
    actions.append(h('button', {
      type: 'button', class: 'primary', 'aria-label': `Acknowledge ${ruleText(a.rule)} for ${name}`,
      onclick: () => act(async () => {
        page.alerts.set(a.id, await api('POST', `/api/v1/alerts/${a.id}/ack`));
        page.refreshPanel();
        if (tile) tile.render();
      }),
    }, 'Acknowledge'));
  }
  actions.append(
    h('button', { type: 'button', 'aria-label': `Resolve ${ruleText(a.rule)} for ${name}`, onclick: () => showForm('resolve') }, 'Resolve…'),
    h('button', { type: 'button', 'aria-label': `Snooze ${ruleText(a.rule)} for ${name}`, onclick: () => showForm('snooze') }, 'Snooze…'));
  return h('li', { 'data-alert': a.id, 'data-state': a.state },
    h('div', {}, severityBadge(a.severity), ' ', h('strong', {}, ruleText(a.rule)), ' · ', h('a', { href: `#/patients/${encodeURIComponent(a.patient)}` }, name)),
    h('div', { class: 'meta' }, `value ${a.value}${a.partial ? ' (partial)' : ''} · fired ${timeText(a.fired_at)} · `,
      a.state === 'acknowledged' ? `acknowledged by ${a.acked_by}` : 'not acknowledged', a.escalated_at ? ' · escalated' : '',
      page.paged.has(a.id) ? ' · escalated to you' : ''),
    others.length ? h('div', { class: 'meta related' }, 'Also in this problem: ',
      ...others.map((o, i) => h('span', { 'data-alert': o.id }, i ? ', ' : '', severityBadge(o.severity), ' ', ruleText(o.rule),
        o.state === 'acknowledged' ? ' (acknowledged)' : ''))) : null,
    actions, err);
}

// ---- patient page ---------------------------------------------------------------

const RANGES = [['1h', 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3], ['30d', 30 * 86400e3]];
const STEPS = [60e3, 300e3, 900e3, 1800e3, 3600e3, 2 * 3600e3, 6 * 3600e3, 86400e3];

function stepFor(span) {
  for (const st of STEPS) if (span / st <= 300) return st;
  return STEPS[STEPS.length - 1];
}

function durationParam(ms) { return `${Math.round(ms / 1000)}s`; }

async function patientPage(main, id) {
  const enc = encodeURIComponent(id);
  const patient = await api('GET', `/api/v1/patients/${enc}`);
  const [devices, rules, alerts, visits] = await Promise.all([
    api('GET', `/api/v1/patients/${enc}/devices`),
    api('GET', '/api/v1/rules'),
    api('GET', `/api/v1/alerts?patient=${enc}&all=1`),
    api('GET', `/api/v1/patients/${enc}/visits`),
  ]);
  let span = 86400e3;
  let end = Date.now();
  const charts = h('div', {});
  const rangeButtons = RANGES.map(([label, ms]) => h('button', {
    type: 'button', 'aria-pressed': String(ms === span),
    onclick: () => { span = ms; end = Date.now(); rangeButtons.forEach(b => b.setAttribute('aria-pressed', String(b.textContent === label))); draw(); },
  }, label));
  const zoom = (f) => { const mid = end - span / 2; span = Math.max(10 * 60e3, Math.min(90 * 86400e3, span * f)); end = Math.min(Date.now(), mid + span / 2); draw(); };
  const shift = (f) => { end = Math.min(Date.now(), end + span * f); draw(); };
  const status = h('p', { role: 'status', class: 'age' });
  const csvLink = h('a', { class: 'button', id: 'readings-csv', download: '' }, 'Download these readings (CSV)');
  let fitted = false;
  async function draw() {
    const from = end - span;
    const every = stepFor(span);
    const q = `from=${new Date(from).toISOString()}&to=${new Date(end).toISOString()}`;
    csvLink.href = `/api/v1/patients/${enc}/readings.csv?${q}`;
    status.textContent = `Showing ${timeText(from)} to ${timeText(end)}, one point per ${every >= 3600e3 ? every / 3600e3 + ' h' : every / 60000 + ' min'}. Times in ${zoneText()}.`;
    const types = catalog.list.map(v => v.type);
    const aggregates = t => api('GET', `/api/v1/patients/${enc}/aggregates?type=${t}&${q}&every=${durationParam(every)}`, undefined, true)
      .then(r => ({ windows: r.windows || [] })).catch(() => ({ windows: [] }));
    // A panel (blood pressure) is drawn from its readings, systolic and
    // diastolic, while they are few enough to draw each (a cuff: a few a
    // day); past that, from the aggregates (systolic).
    const panel = t => api('GET', `/api/v1/patients/${enc}/readings?type=${t}&${q}&limit=2000`, undefined, true)
      .then(r => (r.next ? aggregates(t) : { windows: [], readings: r.readings || [] })).catch(() => aggregates(t));
    const results = await Promise.all(types.map(t => (vital(t).panel ? panel(t) : aggregates(t))));
    // The first view fits the data: five minutes of readings are not
    // squeezed into a day.
    if (!fitted) {
      fitted = true;
      const ts = results.flatMap(r => (r.readings ? r.readings.map(x => Date.parse(x.time)) : r.windows.map(w => Date.parse(w.start))));
      if (ts.length) {
        const lo = Math.min(...ts); const hi = Math.max(...ts);
        if (hi - lo < span / 16) {
          span = Math.max(10 * 60e3, (hi - lo) * 1.5);
          end = Math.min(Date.now(), hi + span / 4);
          rangeButtons.forEach(b => b.setAttribute('aria-pressed', 'false'));
          return draw();
        }
      }
    }
    const cards = [];
    types.forEach((t, i) => {
      const r = results[i];
      if (!r.windows.length && !(r.readings && r.readings.length)) return;
      cards.push(trendChart(t, r.windows, from, end, every, rules.filter(x => x.vital === t && x.level != null && (!x.spo2_scale || x.spo2_scale === patient.spo2_scale)), alerts,
        (a, b) => { end = b; span = Math.max(10 * 60e3, b - a); rangeButtons.forEach(x => x.setAttribute('aria-pressed', 'false')); draw(); }, 800, r.readings || null));
    });
    dropCharts(charts);
    charts.replaceChildren(...(cards.length ? cards : [h('p', {}, 'No readings in this period.')]));
  }
  onPageLeave(() => dropCharts(charts));
  const devTable = h('table', {}, h('caption', { class: 'sr-only' }, 'Devices'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Battery'), h('th', { scope: 'col' }, 'Last seen'))),
    h('tbody', {}, ...devices.map(d => h('tr', {}, h('td', {}, d.id), h('td', {}, d.kind), h('td', {}, d.online ? 'online' : '✕ offline'),
      h('td', {}, d.battery != null ? `${Math.round(d.battery * (d.battery <= 1 ? 100 : 1))}%` : '—'), h('td', {}, d.last_seen ? timeText(d.last_seen) : '—')))));
  const alertTable = h('table', {}, h('caption', { class: 'sr-only' }, 'Alerts'),
    h('thead', {}, h('tr', {}, ...['Rule', 'Severity', 'State', 'Fired', 'Value'].map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...alerts.slice(0, 50).map(a => h('tr', {}, h('td', {}, ruleText(a.rule)), h('td', {}, severityBadge(a.severity)), h('td', {}, a.state),
      h('td', {}, timeText(a.fired_at)), h('td', {}, String(a.value))))));
  const visitsSection = visitsOf(id, visits);
  main.replaceChildren(
    h('h1', {}, patient.name || id),
    h('p', {}, `MRN ${patient.mrn || '—'} · born ${patient.birth_date || '—'} · NEWS2 SpO2 scale ${patient.spo2_scale}${patient.on_oxygen ? ' · on oxygen' : ''}`),
    h('section', { 'aria-labelledby': 'trends-h' }, h('h2', { id: 'trends-h' }, 'Trends'),
      h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Period' }, ...rangeButtons,
        h('button', { type: 'button', onclick: () => zoom(0.5) }, 'Zoom in'), h('button', { type: 'button', onclick: () => zoom(2) }, 'Zoom out'),
        h('button', { type: 'button', onclick: () => shift(-0.5) }, '← Earlier'), h('button', { type: 'button', onclick: () => shift(0.5) }, 'Later →'), csvLink),
      status, charts),
    h('div', { class: 'cards' },
      h('section', { 'aria-labelledby': 'dev-h' }, h('h2', { id: 'dev-h' }, 'Devices'), devices.length ? devTable : h('p', {}, 'No devices bound.')),
      h('section', { 'aria-labelledby': 'al-h' }, h('h2', { id: 'al-h' }, 'Alerts'), alerts.length ? alertTable : h('p', {}, 'No alerts.'))),
    visitsSection);
  if (me.role !== 'admin') main.append(rpmPanel(id)); // rpm.js
  await draw();
  const refresh = setInterval(() => { if (Date.now() - end < span / 100 + 120e3) { end = Date.now(); draw(); } }, 60000);
  onPageLeave(() => clearInterval(refresh));
}

// visitsOf lists a patient's visits (upcoming and past) and the chart
// entries they left, and lets a clinician start one.
function visitsOf(id, data) {
  const encs = new Map(data.encounters.map(e => [e.id, e]));
  const out = h('div', { role: 'status' });
  const err = h('p', { class: 'error', role: 'alert' });
  const rows = data.visits.map(v => {
    const e = encs.get(v.id);
    const summary = e ? e.summaries.map(s => `${vital(s.type).label} ${fmt(s.type, s.min)}–${fmt(s.type, s.max)} (last ${fmt(s.type, s.last)}${s.last_diastolic != null ? '/' + fmt(s.type, s.last_diastolic) : ''}, ${s.count} readings)`).join('; ') : '';
    return [timeText(v.scheduled_at), v.state.replace('_', ' '),
      v.state === 'ended' ? `${Math.round(v.interactive_seconds / 60)} min` : '',
      e ? h('div', {}, e.note ? h('p', {}, `Note: ${e.note}`) : null, h('p', {}, summary || 'No readings in the window.'), e.alerts.length ? h('p', {}, `${e.alerts.length} alert(s): ${e.alerts.map(a => ruleText(a.rule)).join(', ')}`) : null) : '',
      v.state === 'ended' ? '' : me.role === 'clinician' ? h('a', { href: `#/visits/${encodeURIComponent(v.id)}` }, 'Open visit')
        : me.role === 'patient' ? h('a', { href: `#/join?visit=${encodeURIComponent(v.id)}` }, 'Join visit') : ''];
  });
  const start = me.role === 'clinician' ? h('button', {
    type: 'button', class: 'primary', id: 'start-visit', onclick: async () => {
      err.textContent = '';
      try {
        const r = await api('POST', `/api/v1/patients/${encodeURIComponent(id)}/visits`, {});
        out.replaceChildren(h('p', {}, `Visit created. Send the patient this link (valid until ${timeText(r.patient_link.expires)}):`),
          h('p', { class: 'secret', id: 'patient-join-link' }, r.patient_link.url),
          h('p', {}, h('a', { href: `#/visits/${encodeURIComponent(r.visit.id)}`, id: 'open-visit' }, 'Open the visit')));
      } catch (e) { err.textContent = e.message; }
    },
  }, 'Start a video visit') : null;
  return h('section', { 'aria-labelledby': 'visits-h' }, h('h2', { id: 'visits-h' }, 'Visits and chart entries'), start, err, out,
    rows.length ? table('Visits', ['When', 'State', 'Interactive', 'Chart entry', ''], rows) : h('p', {}, 'No visits.'));
}

// trendChart draws a vital over [from, to] (charts.js, uPlot): the mean
// per window with its min-max band, or for a panel (blood pressure) its
// readings, systolic and diastolic; the rule levels as dashed lines and
// the alerts as markers, named in the caption too. Dragging across it
// zooms (onZoom). width is the first drawing's width; the chart follows
// its box's width once on the page.
function trendChart(type, windows, from, to, every, rules, alerts, onZoom, width = 800, readings = null) {
  const v = vital(type);
  const levels = rules.map(r => ({ value: r.level, label: `${ruleText(r.id)} ${r.direction} ${r.level}` }));
  // Baseline alerts of this vital show the patient's own baseline
  // (alerts.Explanation) as a level, with the days judged in its label.
  for (const a of alerts) {
    const b = a.baseline;
    if (!b || b.vital !== type || Date.parse(b.to) <= from || Date.parse(b.from) >= to) continue;
    // A baseline a clinician set (a dry weight) is named as theirs, and
    // the patient's own levels of the rule as the patient's.
    const name = b.set ? 'baseline set by a clinician' : 'own baseline';
    const asked = b.own_levels ? `; the patient's own level: ${b.level > 0 ? '+' : ''}${fmt(type, b.level)} on ${b.days} days` : '';
    levels.push({ value: b.baseline, baseline: true, short: `${name} ${fmt(type, b.baseline)} ${v.symbol}`,
      label: `${name} ${fmt(type, b.baseline)} ${v.symbol}; ${b.deviation > 0 ? '+' : ''}${fmt(type, b.deviation)} over ${b.days} days (${timeText(Date.parse(b.from))} to ${timeText(Date.parse(b.to))}), ${ruleText(a.rule)}${asked}` });
  }
  const markers = [];
  for (const a of alerts) {
    const t = Date.parse(a.fired_at);
    if (t < from || t > to) continue;
    const rule = rules.find(r => r.id === a.rule);
    if (!rule && !a.rule.startsWith(type) && !(a.baseline && a.baseline.vital === type)) continue;
    markers.push({ t, label: `${ruleText(a.rule)} at ${timeText(t)}` });
  }
  const gapMs = Math.max(1.5 * every, (v.stale_after_seconds || 0) * 1000);
  let summary; let n;
  const spec = { key: `trend:${type}`, type, symbol: v.symbol, digits: v.digits, from, to, gapMs, levels, markers, onZoom, width, height: width < 500 ? 160 : 220 };
  if (readings) {
    spec.readings = readings.map(r => ({ t: Date.parse(r.time), value: r.value, diastolic: r.diastolic }));
    n = readings.length;
    const sys = readings.map(r => r.value); const dia = readings.map(r => r.diastolic);
    summary = `${v.label} from ${timeText(from)} to ${timeText(to)}: systolic ${fmt(type, Math.min(...sys))} to ${fmt(type, Math.max(...sys))}, diastolic ${fmt(type, Math.min(...dia))} to ${fmt(type, Math.max(...dia))} ${v.symbol}, ${n} readings`;
  } else {
    spec.windows = windows.map(w => ({ t: Date.parse(w.start) + every / 2, min: w.min, max: w.max, mean: w.mean }));
    n = windows.length;
    summary = `${v.label} from ${timeText(from)} to ${timeText(to)}: ${fmt(type, Math.min(...windows.map(w => w.min)))} to ${fmt(type, Math.max(...windows.map(w => w.max)))} ${v.symbol}, ${windows.reduce((k, w) => k + w.count, 0)} readings`;
  }
  const box = h('div', { class: 'plot', role: 'img', 'aria-label': summary });
  const caption = h('figcaption', {}, h('h3', {}, `${v.label} (${v.symbol})${readings ? ': systolic and diastolic' : ''}`));
  const ruleLevels = levels.filter(l => !l.baseline), own = levels.filter(l => l.baseline);
  if (ruleLevels.length) caption.append(h('p', { class: 'levels' }, `Rule levels (dashed): ${ruleLevels.map(l => l.label).join('; ')}`));
  if (own.length) caption.append(h('p', { class: 'levels baseline' }, `The patient's own baseline (green, dashed): ${own.map(l => l.label).join('; ')}`));
  if (markers.length) caption.append(h('p', { class: 'levels' }, `Alerts (▼): ${markers.map(m => m.label).join('; ')}`));
  if (v.panel && !readings) caption.append(h('p', { class: 'hint' }, 'Systolic only: too many readings in this period to draw each. Zoom in to see systolic and diastolic.'));
  const fig = h('figure', { class: 'trend', 'data-vital': type, 'data-points': String(n), 'data-alerts': String(markers.length) }, caption, box);
  fig.vwPlot = trendPlot(box, spec);
  return fig;
}

// dropCharts destroys the charts in el (before it is replaced).
function dropCharts(el) {
  for (const f of el.querySelectorAll('figure.trend')) destroyChart(f.vwPlot);
}

// ---- admin pages ---------------------------------------------------------------

function table(caption, cols, rows) {
  return h('table', {}, h('caption', { class: 'sr-only' }, caption), h('thead', {}, h('tr', {}, ...cols.map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...rows.map(r => h('tr', {}, ...r.map(c => h('td', {}, c))))));
}

function formOf(label, fields, submit, onsubmit) {
  const err = h('p', { class: 'error', role: 'alert' });
  const out = h('div', { role: 'status' });
  const inputs = {};
  const els = fields.map(([name, text, type, options]) => {
    const id = `f-${label.replace(/\W+/g, '-')}-${name}`;
    const el = type === 'select' ? h('select', { id, name }, ...options.map(o => h('option', { value: o }, o)))
      : type === 'checkbox' ? h('input', { id, name, type: 'checkbox' })
        : h('input', { id, name, type: type || 'text', required: type !== 'optional' ? true : null });
    if (type === 'optional') el.type = 'text';
    inputs[name] = el;
    return h('label', { for: id }, text, el);
  });
  const form = h('form', {
    class: 'panel', 'aria-label': label, onsubmit: async ev => {
      ev.preventDefault(); err.textContent = ''; out.replaceChildren();
      try { const r = await onsubmit(inputs); if (r) out.replaceChildren(r); } catch (e) { err.textContent = e.message; }
    },
  }, h('h2', {}, label), ...els, h('div', {}, h('button', { type: 'submit', class: 'primary' }, submit)), err, out);
  return form;
}

// The device list is searched and paged by the server (a fleet is tens of
// thousands of devices); the page keeps the search and the cursors of the
// pages seen, for "Previous".
const devicesView = { q: '', cursors: [''], limit: 50 };

function batteryText(d) {
  if (d.status.battery == null) return '—';
  return `${Math.round(d.status.battery * 100)} %`;
}

function deviceRow(d, now, refresh) {
  const b = (d.bindings || []).find(b => Date.parse(b.from) <= now && (!b.to || Date.parse(b.to) > now));
  const state = d.revoked_at ? 'revoked' : (d.status.online ? 'online' : (d.status.last_seen ? 'offline' : 'never seen'));
  return [d.id, d.kind || '—', [d.manufacturer, d.model].filter(Boolean).join(' ') || '—', d.serial || '—', b ? b.patient : '—', state, batteryText(d), d.status.firmware || '—',
    d.status.last_seen ? h('time', { datetime: d.status.last_seen, title: timeText(d.status.last_seen) }, ago(Date.parse(d.status.last_seen))) : '—',
    d.revoked_at ? '' : h('button', {
      type: 'button', 'aria-label': `Revoke ${d.id}`, onclick: async () => {
        if (!confirm(`Revoke ${d.id}? It will be disconnected and refused from now on.`)) return;
        await api('POST', `/api/v1/devices/${encodeURIComponent(d.id)}/revoke`); refresh();
      },
    }, 'Revoke')];
}

// enrolForm uploads a CSV of devices; the answer's secrets are shown once,
// the refusal's bad rows in a table.
function enrolForm(refresh) {
  const err = h('p', { class: 'error', role: 'alert' });
  const out = h('div', { role: 'status' });
  const file = h('input', { id: 'f-enrol-file', name: 'file', type: 'file', accept: '.csv,text/csv', required: true });
  return h('form', {
    class: 'panel', 'aria-label': 'Enrol a fleet', onsubmit: async ev => {
      ev.preventDefault(); err.textContent = ''; out.replaceChildren();
      const f = file.files[0];
      if (!f) return;
      const res = await fetch('/api/v1/devices/bulk', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'text/csv', Accept: 'text/csv' }, body: await f.text() });
      const text = await res.text();
      if (res.ok) {
        const n = Math.max(0, text.trim().split('\n').length - 1);
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
        const shown = h('textarea', { id: 'enrol-secrets', readonly: true, rows: '6', class: 'secret' });
        shown.value = text;
        out.replaceChildren(h('p', {}, `Enrolled ${n} devices. Their secrets are shown this once: save them and configure the devices now.`),
          h('p', {}, h('a', { href: url, download: 'device-secrets.csv', class: 'button' }, 'Save the secrets (CSV)')),
          h('details', {}, h('summary', {}, 'Show the secrets'), h('label', { for: 'enrol-secrets' }, 'Device secrets (id,secret)'), shown));
        refresh();
        return;
      }
      let data = null;
      try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
      err.textContent = (data && data.error) || `enrolment failed (${res.status})`;
      if (data && data.rows) {
        out.replaceChildren(table('Bad rows', ['Line', 'Device', 'Reason'], data.rows.map(r => [String(r.line), r.id || '—', r.reason])));
      }
    },
  }, h('h2', {}, 'Enrol a fleet'),
  h('p', { class: 'hint', id: 'enrol-hint' }, 'A CSV file: a first line naming the columns id, kind, patient, serial, model, manufacturer; then one device a line. All or nothing: one bad row and nothing is enrolled.'),
  h('label', { for: 'f-enrol-file' }, 'Shipping list (CSV)', file),
  h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Enrol')), err, out);
}

async function adminDevicesPage(main) {
  const kinds = await api('GET', '/api/v1/device-kinds');
  const list = h('div', { id: 'device-list' });
  const refresh = () => deviceList(list, refresh);
  main.replaceChildren(h('h1', {}, 'Devices'),
    h('div', { class: 'cards' },
      formOf('Add a device', [['id', 'Device id'], ['kind', 'Kind', 'select', kinds.map(k => k.name)], ['patient', 'Bind to patient (optional)', 'optional'], ['manufacturer', 'Manufacturer (optional)', 'optional']], 'Add', async f => {
        const r = await api('POST', '/api/v1/devices', { id: f.id.value, kind: f.kind.value, patient: f.patient.value || undefined, manufacturer: f.manufacturer.value.trim() || undefined });
        refresh();
        return h('div', {}, h('p', {}, `Device ${r.id} added. Its secret is shown this once; configure the device with it now:`), h('p', { class: 'secret' }, r.secret));
      }),
      enrolForm(refresh),
      formOf('Bind a device', [['id', 'Device id'], ['patient', 'Patient id']], 'Bind', async f => {
        await api('POST', `/api/v1/devices/${encodeURIComponent(f.id.value)}/bind`, { patient: f.patient.value });
        refresh();
        return h('p', {}, `Bound ${f.id.value} to ${f.patient.value}.`);
      })),
    h('h2', { id: 'registered' }, 'Registered devices'), list);
  await refresh();
}

// deviceList shows a page of the device list in box, with its search and
// pager.
async function deviceList(box, refresh) {
  const v = devicesView;
  const q = new URLSearchParams({ limit: String(v.limit) });
  if (v.q) q.set('q', v.q);
  const after = v.cursors[v.cursors.length - 1];
  if (after) q.set('after', after);
  const page = await api('GET', '/api/v1/devices?' + q);
  const now = Date.now();
  const first = (v.cursors.length - 1) * v.limit + 1;
  const shown = page.devices.length ? `Devices ${first}–${first + page.devices.length - 1} of ${page.total}` : `No devices${v.q ? ` match “${v.q}”` : ''}`;
  const search = h('input', { id: 'device-search', type: 'search', name: 'q', value: v.q, maxlength: '64' });
  const nextAfter = page.next ? new URLSearchParams(page.next.split('?')[1]).get('after') : '';
  box.replaceChildren(
    h('form', {
      class: 'toolbar', role: 'search', 'aria-label': 'Find devices', onsubmit: ev => {
        ev.preventDefault(); v.q = search.value.trim(); v.cursors = ['']; refresh();
      },
    }, h('label', { for: 'device-search' }, 'Find (id, kind, manufacturer, model, serial, firmware, patient) ', search), h('button', { type: 'submit' }, 'Find'),
    v.q ? h('button', { type: 'button', onclick: () => { v.q = ''; v.cursors = ['']; refresh(); } }, 'Show all') : null),
    h('p', { id: 'device-count', role: 'status' }, shown),
    table('Registered devices', ['Device', 'Kind', 'Make and model', 'Serial', 'Patient', 'Status', 'Battery', 'Firmware', 'Last seen', 'Action'], page.devices.map(d => deviceRow(d, now, refresh))),
    h('nav', { class: 'toolbar pager', 'aria-label': 'Device list pages' },
      h('button', { type: 'button', id: 'devices-prev', disabled: v.cursors.length < 2, onclick: () => { v.cursors.pop(); refresh(); } }, 'Previous page'),
      h('button', { type: 'button', id: 'devices-next', disabled: !page.next, onclick: () => { v.cursors.push(nextAfter); refresh(); } }, 'Next page')));
}

async function adminPeoplePage(main) {
  const [users, teams, patients] = await Promise.all([api('GET', '/api/v1/users'), api('GET', '/api/v1/care-teams'), api('GET', '/api/v1/patients')]);
  main.replaceChildren(h('h1', {}, 'People and care teams'),
    h('div', { class: 'cards' },
      formOf('Set a password', [['username', 'Username'], ['subject', 'Person id'], ['role', 'Role', 'select', ['clinician', 'patient', 'admin']], ['password', 'Password (12 or more characters)', 'password']], 'Save', async f => {
        await api('POST', '/api/v1/users', { username: f.username.value, subject: f.subject.value, role: f.role.value, password: f.password.value });
        f.password.value = '';
        return h('p', {}, `Saved ${f.username.value}.`);
      }),
      formOf('One-time sign-in link', [['subject', 'Person id'], ['role', 'Role', 'select', ['clinician', 'patient', 'admin']]], 'Create link', async f => {
        const r = await api('POST', '/api/v1/signin-links', { subject: f.subject.value, role: f.role.value });
        return h('div', {}, h('p', {}, `Valid once, until ${timeText(r.expires)}:`), h('p', { class: 'secret' }, r.url));
      }),
      formOf('Add a care team', [['id', 'Team id'], ['name', 'Name']], 'Add team', async f => {
        await api('POST', '/api/v1/care-teams', { id: f.id.value, name: f.name.value }); route();
      }),
      formOf('Add a team member', [['team', 'Team id'], ['kind', 'Member kind', 'select', ['clinician', 'patient', 'escalation']], ['member', 'Member id']], 'Add member', async f => {
        await api('POST', `/api/v1/care-teams/${encodeURIComponent(f.team.value)}/members`, { kind: f.kind.value, member: f.member.value }); route();
      }),
      formOf('Add a patient', [['id', 'Patient id'], ['mrn', 'MRN'], ['name', 'Name'], ['birth_date', 'Birth date', 'date'], ['scale', 'NEWS2 SpO2 scale', 'select', ['1', '2']],
        ['gender', 'Gender', 'select', ['not recorded', 'female', 'male', 'other', 'unknown']], ['family', 'Family name (optional)', 'optional'], ['given', 'Given names, in order (optional)', 'optional']], 'Add patient', async f => {
        const given = f.given.value.split(/\s+/).filter(Boolean);
        await api('POST', '/api/v1/patients', { id: f.id.value, mrn: f.mrn.value, name: f.name.value, birth_date: f.birth_date.value, spo2_scale: Number(f.scale.value),
          gender: f.gender.value === 'not recorded' ? undefined : f.gender.value, family: f.family.value.trim() || undefined, given: given.length ? given : undefined }); route();
      })),
    h('h2', {}, 'Users'), table('Users', ['Username', 'Person id', 'Role', 'Updated', 'Status'], users.map(u => [u.username, u.subject, u.role, timeText(u.updated_at), u.disabled ? 'disabled' : 'active'])),
    h('h2', {}, 'Care teams'), table('Care teams', ['Team', 'Name', 'Clinicians', 'Escalation contacts', 'Patients'], (teams || []).map(t => [t.id, t.name, (t.clinicians || []).join(', '), (t.escalation || []).join(', ') || '—', String((t.patients || []).length)])),
    h('h2', {}, 'Patients'), table('Patients', ['Patient id', 'MRN', 'Name', 'Gender', 'Scale'], (patients || []).map(p => [p.id, p.mrn, p.name, p.gender || '—', String(p.spo2_scale)])));
}

async function adminAuditPage(main) {
  const results = h('div', {});
  const run = async (f) => {
    const q = new URLSearchParams();
    if (f.patient.value) q.set('patient', f.patient.value);
    if (f.from.value) q.set('from', new Date(f.from.value).toISOString().replace(/\.\d+Z$/, 'Z'));
    if (f.to.value) q.set('to', new Date(f.to.value).toISOString().replace(/\.\d+Z$/, 'Z'));
    const res = await fetch('/api/v1/audit?' + q, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`audit export failed (${res.status})`);
    let events = (await res.text()).split('\n').filter(Boolean).map(l => JSON.parse(l));
    const actor = f.actor.value.trim();
    if (actor) events = events.filter(e => e.actor === actor);
    if (f.outcome.value !== 'any') events = events.filter(e => e.outcome === f.outcome.value);
    if (f.glass.checked) events = events.filter(e => e.break_glass);
    const shown = events.slice(-500).reverse();
    results.replaceChildren(h('p', { role: 'status' }, `${events.length} events${events.length > 500 ? ', newest 500 shown' : ''}.`),
      table('Audit events', ['#', 'Time', 'Actor', 'Role', 'Action', 'Patient', 'Outcome', 'Break-glass', 'Credential issued by', 'Source'],
        shown.map(e => [String(e.seq), timeText(e.time), e.actor, e.role, e.action, e.patient, e.outcome, e.break_glass ? 'yes' : '', e.issued_by || '', e.source])));
  };
  const form = formOf('Filter', [['patient', 'Patient id', 'optional'], ['actor', 'Actor', 'optional'], ['outcome', 'Outcome', 'select', ['any', 'allowed', 'refused']],
    ['from', 'From', 'datetime-local'], ['to', 'To', 'datetime-local'], ['glass', 'Break-glass only', 'checkbox']], 'Show', async f => { await run(f); });
  for (const el of form.querySelectorAll('input[type="datetime-local"]')) el.removeAttribute('required');
  main.replaceChildren(h('h1', {}, 'Audit log'), form, results);
  form.requestSubmit();
}
