// Vitalwire remote monitoring: the care-time timer and entries on the
// patient page, and the program's monthly report page. It uses app.js's
// helpers (h, api, table, me) and, like it, puts patient data in the page
// only as text.
'use strict';

const RPM_KINDS = [['phone_call', 'Phone call with the patient (interactive)'], ['data_review', 'Reviewing data'], ['plan_adjustment', 'Adjusting the care plan']];
const RPM_KIND_TEXT = Object.fromEntries(RPM_KINDS.map(([k, t]) => [k, t.replace(/ \(.*\)$/, '')]));

function rpmClock(seconds) { return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`; }
function rpmMonth(d) { return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`; }

// rpmPanel is the patient page's remote monitoring section: the episode,
// the month's care-management time with its history, and a timer that
// records an entry.
function rpmPanel(id) {
  const enc = encodeURIComponent(id);
  const section = h('section', { 'aria-labelledby': 'rpm-h', class: 'panel rpm' }, h('h2', { id: 'rpm-h' }, 'Remote monitoring'));
  const episode = h('p', {}, 'Loading…');
  const total = h('p', { id: 'rpm-total' });
  const entries = h('div', {});
  const err = h('p', { class: 'error', role: 'alert' });
  const done = h('p', { role: 'status', id: 'rpm-status' });
  const clock = h('span', { class: 'rpm-clock', id: 'rpm-clock', role: 'timer', 'aria-live': 'off' }, '0:00');
  const kind = h('select', { id: 'rpm-kind', name: 'kind' }, ...RPM_KINDS.map(([k, t]) => h('option', { value: k }, t)));
  const note = h('textarea', { id: 'rpm-note', name: 'note', maxlength: '2000', rows: '2' });
  let started = null;
  let tick = null;
  const startBtn = h('button', { type: 'button', class: 'primary', id: 'rpm-start' }, 'Start timer');
  const stopBtn = h('button', { type: 'button', id: 'rpm-stop', disabled: true }, 'Stop and record');
  const discardBtn = h('button', { type: 'button', id: 'rpm-discard', disabled: true }, 'Discard');
  const elapsed = () => Math.floor((Date.now() - started) / 1000);
  const stopTimer = () => { clearInterval(tick); tick = null; started = null; clock.textContent = '0:00'; startBtn.disabled = false; stopBtn.disabled = true; discardBtn.disabled = true; };
  startBtn.onclick = () => {
    started = Date.now(); err.textContent = ''; done.textContent = '';
    startBtn.disabled = true; stopBtn.disabled = false; discardBtn.disabled = false;
    tick = setInterval(() => { clock.textContent = rpmClock(elapsed()); }, 1000);
    done.textContent = 'Timer started.';
  };
  discardBtn.onclick = () => { stopTimer(); done.textContent = 'Timer discarded; nothing recorded.'; };
  stopBtn.onclick = async () => {
    const seconds = Math.max(1, elapsed());
    const body = { start: new Date(started).toISOString(), seconds, kind: kind.value, note: note.value };
    try {
      await api('POST', `/api/v1/patients/${enc}/time-entries`, body);
      stopTimer(); note.value = '';
      done.textContent = `Recorded ${rpmClock(seconds)} of ${RPM_KIND_TEXT[body.kind].toLowerCase()}.`;
      await load();
    } catch (e) { err.textContent = e.message; }
  };
  if (typeof onPageLeave === 'function') onPageLeave(() => clearInterval(tick));

  async function load() {
    const month = rpmMonth(new Date());
    const [eps, list] = await Promise.all([api('GET', `/api/v1/patients/${enc}/monitoring`), api('GET', `/api/v1/patients/${enc}/time-entries?month=${month}`)]);
    const ep = eps.find(e => !e.end) || eps[0];
    episode.textContent = ep
      ? `Enrolled from ${ep.start}${ep.end ? ` to ${ep.end}` : ''} by ${ep.ordering_clinician}; diagnoses ${ep.diagnoses.join(', ')}; device set-up ${ep.setup_date || 'not recorded'}; bills ${ep.management}.`
      : 'Not enrolled in remote monitoring.';
    const inMonth = list.filter(e => !e.superseded_by && !e.void && rpmMonth(new Date(e.start)) === month);
    const secs = inMonth.reduce((a, e) => a + e.seconds, 0);
    const calls = inMonth.filter(e => e.interactive).length;
    total.textContent = `Recorded this month (${month}): ${rpmClock(secs)}, ${calls} interactive call${calls === 1 ? '' : 's'}. Video visits add their interactive time in the report.`;
    entries.replaceChildren(list.length ? table('Care-management time entries, with corrections',
      ['Started', 'Time', 'Kind', 'By', 'Note', 'Status'],
      list.map(e => [timeText(e.start), rpmClock(e.seconds), RPM_KIND_TEXT[e.kind] || e.kind, e.clinician, e.note || '—',
        e.superseded_by ? `corrected by entry ${e.superseded_by}` : e.void ? `withdraws entry ${e.supersedes}` : e.supersedes ? `corrects entry ${e.supersedes}` : 'counts'])) : h('p', {}, 'No time recorded this month.'));
  }
  const timer = h('div', { class: 'rpm-timer', role: 'group', 'aria-labelledby': 'rpm-timer-h' },
    h('h3', { id: 'rpm-timer-h' }, 'Care-management timer'),
    h('p', {}, 'Elapsed ', clock),
    h('label', { for: 'rpm-kind' }, 'What the time is for', kind),
    h('label', { for: 'rpm-note', class: 'wide' }, 'Note (optional, up to 2000 characters)', note),
    h('div', { class: 'toolbar' }, startBtn, stopBtn, discardBtn), err, done);
  section.append(episode, me && me.role === 'clinician' ? timer : '', total, entries);
  load().catch(e => { episode.textContent = `Remote monitoring could not be loaded: ${e.message}`; });
  return section;
}

// rpmReportPage is the program's report for a month: one row per patient
// and code, with the reason a code is or is not met.
async function rpmReportPage(main, params) {
  const last = new Date(); last.setDate(1); last.setMonth(last.getMonth() - 1);
  const month = params.get('month') || rpmMonth(last);
  const team = params.get('care_team') || '';
  const monthIn = h('input', { id: 'rpm-month', name: 'month', type: 'month', value: month, required: true });
  const teamIn = h('input', { id: 'rpm-team', name: 'care_team', type: 'text', value: team, placeholder: 'all my patients' });
  const q = new URLSearchParams({ month });
  if (team) q.set('care_team', team);
  const form = h('form', {
    class: 'toolbar', 'aria-label': 'Report month', onsubmit: ev => {
      ev.preventDefault();
      const p = new URLSearchParams({ month: monthIn.value });
      if (teamIn.value.trim()) p.set('care_team', teamIn.value.trim());
      location.hash = `#/reports/rpm?${p}`;
    },
  }, h('label', { for: 'rpm-month' }, 'Month', monthIn), h('label', { for: 'rpm-team' }, 'Care team (optional)', teamIn),
  h('button', { type: 'submit', class: 'primary' }, 'Show'),
  h('a', { class: 'button', href: `/api/v1/reports/rpm?${q}&format=csv`, download: `rpm-${month}.csv` }, 'Download CSV'));
  main.replaceChildren(h('h1', {}, `Remote monitoring report, ${month}`),
    h('p', { class: 'hint' }, 'Days with data and care-management minutes per patient, with each billing code’s rule applied. No vital values are shown.'), form,
    h('p', {}, 'Loading…'));
  const rep = await api('GET', `/api/v1/reports/rpm?${q}`);
  const met = rep.patients.reduce((a, p) => a + p.lines.filter(l => l.met).length, 0);
  const rows = [];
  for (const p of rep.patients) {
    for (const l of p.lines) {
      rows.push([p.patient, p.mrn, p.diagnoses.join(' '), l.code, l.met ? `✓ met${l.units > 1 ? ` ×${l.units}` : ''}` : '✕ not met',
        l.period ? l.period.replace('/', ' to ') : '—', l.period ? String(l.days_with_data) : '—', l.period ? '—' : rpmClock(l.seconds), l.explanation]);
    }
  }
  main.lastChild.replaceWith(rows.length
    ? h('div', {}, h('p', { role: 'status' }, `${rep.patients.length} patient${rep.patients.length === 1 ? '' : 's'}, ${met} code${met === 1 ? '' : 's'} met.`),
      h('div', { class: 'rpm-report' }, table(`Billing codes for ${month}`, ['Patient', 'MRN', 'Diagnoses', 'Code', 'Met', 'Period', 'Days with data', 'Minutes', 'Reason'], rows)))
    : h('p', { role: 'status' }, 'No patient was enrolled in remote monitoring in this month.'));
}
