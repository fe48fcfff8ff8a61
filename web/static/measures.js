// The program's quality measures page (#/measures, clinicians and
// admins): GET /api/v1/reports/measures by week or month, as charts
// (charts.js) and as a table, with the CSV of the same report. The report
// holds counts and times, never a vital value.
'use strict';

const MEASURE_SEVERITIES = ['critical', 'high', 'medium', 'low'];

function pct(v) { return v == null ? '—' : `${Math.round(v * 1000) / 10} %`; }
function num(v, d = 1) { return v == null ? '—' : String(Math.round(v * 10 ** d) / 10 ** d); }
function minutes(s) { return s == null ? null : s / 60; }

async function measuresPage(main, params) {
  const today = new Date();
  const iso = d => d.toLocaleDateString('en-CA', { timeZone: chartZone() }); // YYYY-MM-DD in the clinic's zone
  const period = params.get('period') === 'week' ? 'week' : 'month';
  const to = params.get('to') || iso(new Date(today.getTime() + 86400e3));
  const from = params.get('from') || iso(new Date(today.getTime() - (period === 'week' ? 12 * 7 : 182) * 86400e3));
  const team = params.get('care_team') || '';
  const q = new URLSearchParams({ from, to, period });
  if (team) q.set('care_team', team);
  const rep = await api('GET', '/api/v1/reports/measures?' + q);

  const periodSel = h('select', { id: 'm-period', name: 'period' }, h('option', { value: 'week', selected: period === 'week' }, 'Week'), h('option', { value: 'month', selected: period === 'month' }, 'Month'));
  const fromIn = h('input', { id: 'm-from', name: 'from', type: 'date', value: from, required: true });
  const toIn = h('input', { id: 'm-to', name: 'to', type: 'date', value: to, required: true });
  const teamSel = h('select', { id: 'm-team', name: 'care_team' }, h('option', { value: '' }, me.role === 'admin' ? 'All care teams' : 'All my care teams'),
    ...(rep.care_teams || []).map(t => h('option', { value: t.id, selected: t.id === team }, t.name || t.id)));
  const form = h('form', {
    class: 'toolbar', 'aria-label': 'Report period', onsubmit: ev => {
      ev.preventDefault();
      const nq = new URLSearchParams({ period: periodSel.value, from: fromIn.value, to: toIn.value });
      if (teamSel.value) nq.set('care_team', teamSel.value);
      location.hash = '#/measures?' + nq;
    },
  }, h('label', { for: 'm-period' }, 'By', periodSel), h('label', { for: 'm-from' }, 'From', fromIn), h('label', { for: 'm-to' }, 'To (not included)', toIn),
  h('label', { for: 'm-team' }, 'Care team', teamSel), h('button', { type: 'submit', class: 'primary' }, 'Show'));
  const csvQ = new URLSearchParams(q); csvQ.set('format', 'csv');
  const csv = h('a', { class: 'button', id: 'measures-csv', href: '/api/v1/reports/measures?' + csvQ, download: '' }, 'Download as CSV');

  const rows = rep.periods || [];
  const xs = rows.map(r => Date.parse(r.start));
  const label = r => new Date(Date.parse(r.start)).toLocaleDateString([], { timeZone: chartZone(), ...(period === 'month' ? { year: 'numeric', month: 'short' } : { dateStyle: 'medium' }) });
  const padMs = period === 'month' ? 10 * 86400e3 : 2 * 86400e3;
  const specs = [
    { key: 'measures:adherence', title: 'Adherence: patients with readings on 16 or more of the last 30 days', unit: '%', format: v => `${Math.round(v)} %`,
      series: [{ label: 'Adherent patients (%)', values: rows.map(r => (r.adherence.share == null ? null : r.adherence.share * 100)) }] },
    { key: 'measures:days-since', title: 'Days since the last reading, at the end of each period', unit: 'days', format: v => num(v, 1),
      series: [{ label: 'Median', values: rows.map(r => r.adherence.days_since_last_reading_median) }, { label: 'Longest', values: rows.map(r => r.adherence.days_since_last_reading_max) }] },
    { key: 'measures:ack-p50', title: 'Time to acknowledge, median, by severity', unit: 'min', format: v => num(v, 1),
      series: MEASURE_SEVERITIES.map(s => ({ label: `${SEVERITY_SHAPE[s]} ${s}`, values: rows.map(r => minutes((r.alert_response.by_severity[s] || {}).ack_seconds_p50)) })) },
    { key: 'measures:ack-p90', title: 'Time to acknowledge, 90th percentile, by severity', unit: 'min', format: v => num(v, 1),
      series: MEASURE_SEVERITIES.map(s => ({ label: `${SEVERITY_SHAPE[s]} ${s}`, values: rows.map(r => minutes((r.alert_response.by_severity[s] || {}).ack_seconds_p90)) })) },
    { key: 'measures:escalations', title: 'Alerts fired and escalated (not acknowledged in time)', unit: 'alerts', format: v => num(v, 0), integer: true,
      series: [{ label: 'Fired', values: rows.map(r => r.alert_response.fired) }, { label: 'Escalated', values: rows.map(r => r.alert_response.escalated) }] },
    { key: 'measures:burden', title: 'Alert burden: alerts per patient-day monitored', unit: 'per day', format: v => num(v, 2),
      series: [{ label: 'Alerts per patient-day', values: rows.map(r => r.alert_burden.alerts_per_patient_day) }] },
    { key: 'measures:not-relevant', title: 'Alerts resolved as not clinically relevant (of those resolved with a reason)', unit: '%', format: v => `${Math.round(v)} %`,
      series: [{ label: 'Not clinically relevant (%)', values: rows.map(r => (r.alert_burden.not_clinically_relevant_share == null ? null : r.alert_burden.not_clinically_relevant_share * 100)) }] },
    { key: 'measures:visits', title: 'Video visits and care-management minutes per monitored patient', unit: 'per patient', format: v => num(v, 2),
      series: [{ label: 'Visits per patient', values: rows.map(r => r.visits.visits_per_patient) }, { label: 'Minutes per patient', values: rows.map(r => r.visits.minutes_per_patient) },
        { label: 'Interactive minutes per patient', values: rows.map(r => r.visits.interactive_minutes_per_patient) }] },
  ];
  const figs = specs.map(sp => {
    const box = h('div', { class: 'plot', role: 'img', 'aria-label': `${sp.title}, by ${period}; the figures are in the table below.` });
    const empty = sp.series.every(x => x.values.every(v => v == null));
    const note = empty ? h('p', { class: 'hint' }, 'No data in this range (nothing to measure yet).') : null;
    return { sp, box, fig: h('figure', { class: 'trend measure', 'data-measure': sp.key }, h('figcaption', {}, h('h3', {}, sp.title), note), box) };
  });
  const cell = v => (v == null ? '—' : String(v));
  const head = ['Period', 'Patients monitored', 'Adherent', 'Days since last reading (median / longest)', 'No readings in 30 days',
    'Alerts fired', 'Acknowledged', 'Escalated', ...MEASURE_SEVERITIES.map(s => `${s}: acknowledged in (median / p90)`),
    'Patient-days', 'Alerts per patient-day', 'Resolved by hand', 'Not clinically relevant', 'Visits', 'Visit minutes (interactive)', 'Recorded minutes: interactive / other', 'Per patient: visits / minutes / interactive minutes'];
  const body = rows.map(r => [label(r), cell(r.adherence.patients), `${r.adherence.adherent} (${pct(r.adherence.share)})`,
    `${num(r.adherence.days_since_last_reading_median)} / ${cell(r.adherence.days_since_last_reading_max)}`, cell(r.adherence.patients_without_readings),
    cell(r.alert_response.fired), cell(r.alert_response.acknowledged), cell(r.alert_response.escalated),
    ...MEASURE_SEVERITIES.map(s => { const x = r.alert_response.by_severity[s]; return x && x.ack_seconds_p50 != null ? `${num(x.ack_seconds_p50 / 60)} / ${num(x.ack_seconds_p90 / 60)} min (${x.acknowledged} of ${x.fired})` : (x ? `— (0 of ${x.fired})` : '—'); }),
    cell(r.alert_burden.patient_days), num(r.alert_burden.alerts_per_patient_day, 3), cell(r.alert_burden.resolved_by_hand),
    `${r.alert_burden.not_clinically_relevant} of ${r.alert_burden.with_outcome} (${pct(r.alert_burden.not_clinically_relevant_share)})`,
    cell(r.visits.visits), num(r.visits.interactive_minutes), `${num(r.visits.time_entry_interactive_minutes)} / ${num(r.visits.time_entry_non_interactive_minutes)}`,
    `${num(r.visits.visits_per_patient, 2)} / ${num(r.visits.minutes_per_patient, 1)} / ${num(r.visits.interactive_minutes_per_patient, 1)}`]);
  main.replaceChildren(h('h1', {}, 'Program measures'),
    h('p', {}, `${rep.patients} patients in ${team ? `care team ${teamSel.selectedOptions[0].textContent}` : (me.role === 'admin' ? 'every care team' : 'your care teams')}, by ${period}, in ${zoneText()}. Patients monitored: enrolled in a monitoring episode in the period (or the 30 days of adherence). Minutes are visits' interactive minutes and the care-management time recorded. The report counts readings, alerts, visits and time; it shows no vital values.`),
    form, h('p', {}, csv),
    h('h2', {}, `Charts by ${period}`),
    rows.length ? h('div', { class: 'measures' }, ...figs.map(f => f.fig)) : h('p', {}, 'No periods in this range.'),
    h('h2', { id: 'measures-table-h' }, 'The figures'),
    // Scrolled sideways on a narrow screen: focusable, so that the
    // keyboard can scroll it.
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'measures-table-h' }, table(`Program measures by ${period}`, head, body)));
  if (!rows.length) return;
  const plots = figs.map(f => seriesPlot(f.box, { key: f.sp.key, x: xs, series: f.sp.series, unit: f.sp.unit, format: f.sp.format, integer: f.sp.integer, pad: padMs, height: 210 }));
  onPageLeave(() => plots.forEach(destroyChart));
}
