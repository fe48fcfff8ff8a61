// Vitalwire charts: the patient trends, the dashboard sparklines and the
// program's measures, drawn with uPlot (web/static/vendor/uplot, MIT,
// served from this server under its Content-Security-Policy).
//
// What every chart keeps: a gap in the data is a gap (no line across
// missing time), every point is drawn (a single reading shows), blood
// pressure is two series (systolic and diastolic), times are in the
// clinic's time zone and the axis says which, and the data plotted is
// kept in window.vitalwire.charts for the tests (by chart key: the series'
// labels and the data arrays as uPlot holds them).
'use strict';

// chartZone is the clinic's IANA time zone (the session's time_zone); the
// browser's own until the session is known.
function chartZone() {
  return (typeof me !== 'undefined' && me && me.time_zone) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const chartColors = { line: '#0b5cad', line2: '#7a3e9d', band: 'rgba(11, 92, 173, 0.16)', minmax: 'rgba(11, 92, 173, 0.45)', level: '#a4161a', baseline: '#1d6b35', grid: '#e3e6ea', axis: '#4d5560' };

// withGaps turns points [[t ms, y1, y2...], ...] (sorted by time) into
// uPlot's columns (time in seconds), with a null row between two points
// more than gapMs apart: uPlot leaves a gap there instead of a line.
function withGaps(points, gapMs, nseries) {
  const cols = Array.from({ length: nseries + 1 }, () => []);
  let prev = null;
  for (const p of points) {
    if (prev !== null && p[0] - prev > gapMs) {
      cols[0].push((prev + p[0]) / 2 / 1000);
      for (let i = 1; i <= nseries; i++) cols[i].push(null);
    }
    cols[0].push(p[0] / 1000);
    for (let i = 1; i <= nseries; i++) cols[i].push(p[i] ?? null);
    prev = p[0];
  }
  return cols;
}

// record keeps what a chart plots, for the tests.
function recordChart(key, u, points) {
  if (!window.vitalwire) return;
  window.vitalwire.charts = window.vitalwire.charts || {};
  window.vitalwire.charts[key] = {
    labels: u.series.slice(1).map(s => s.label),
    data: u.data.map(col => Array.from(col)),
    points: points || u.series.slice(1).map(s => !!(s.points && s.points.show === true)),
    span: u.series.slice(1).map(s => !!s.spanGaps),
    zone: chartZone(),
  };
}

function tzDate(ts) { return uPlot.tzDate(new Date(ts * 1e3), chartZone()); }

function zoneText() {
  const z = chartZone();
  const parts = new Intl.DateTimeFormat('en', { timeZone: z, timeZoneName: 'short' }).formatToParts(new Date());
  const short = (parts.find(p => p.type === 'timeZoneName') || {}).value || '';
  return short && short !== z ? `${z}, ${short}` : z;
}

function tipTime(ts) {
  return new Date(ts * 1e3).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short', timeZone: chartZone() });
}

// tooltipPlugin shows the time and every series' value under the cursor.
function tooltipPlugin(format) {
  let tip;
  return {
    hooks: {
      init: u => { tip = document.createElement('div'); tip.className = 'chart-tip'; tip.hidden = true; u.over.append(tip); },
      setCursor: u => {
        const i = u.cursor.idx;
        if (i == null || u.data[0][i] == null) { tip.hidden = true; return; }
        const rows = [tipTime(u.data[0][i])];
        u.series.forEach((s, k) => {
          if (k === 0 || !s.show || s.tip === false) return;
          const v = u.data[k][i];
          if (v != null) rows.push(`${s.label}: ${format(v, k)}`);
        });
        if (rows.length < 2) { tip.hidden = true; return; }
        tip.textContent = rows.join('\n');
        tip.hidden = false;
        const left = u.cursor.left; const top = u.cursor.top;
        const flip = left > u.over.clientWidth / 2;
        tip.style.left = flip ? '' : `${left + 12}px`;
        tip.style.right = flip ? `${u.over.clientWidth - left + 12}px` : '';
        tip.style.top = `${Math.max(0, top - 10)}px`;
      },
    },
  };
}

// levelsPlugin draws horizontal dashed lines at levels [{value, label,
// short (the label on the line when the caption has the long one)}]
// and triangles at the top for markers [{t ms, label}].
function levelsPlugin(levels, markers) {
  return {
    hooks: {
      draw: u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = chartColors.level;
        ctx.fillStyle = chartColors.level;
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        ctx.textAlign = 'right';
        const { left, top, width, height } = u.bbox;
        for (const l of levels) {
          const y = u.valToPos(l.value, 'y', true);
          if (y < top || y > top + height) continue;
          // A patient's own baseline (a baseline rule's alert) is green,
          // apart from the rule levels.
          ctx.strokeStyle = ctx.fillStyle = l.baseline ? chartColors.baseline : chartColors.level;
          ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
          ctx.fillText(l.short || l.label, left + width - 4, y - 3 * devicePixelRatio);
        }
        ctx.setLineDash([]);
        ctx.fillStyle = chartColors.level;
        for (const m of markers) {
          const x = u.valToPos(m.t / 1000, 'x', true);
          if (x < left || x > left + width) continue;
          const s = 6 * devicePixelRatio;
          ctx.beginPath(); ctx.moveTo(x - s, top); ctx.lineTo(x + s, top); ctx.lineTo(x, top + 1.6 * s); ctx.closePath(); ctx.fill();
        }
        ctx.restore();
      },
    },
  };
}

// fitWidth keeps a chart as wide as its box.
function fitWidth(u, box, height) {
  if (!('ResizeObserver' in window)) return;
  let last = 0;
  const ro = new ResizeObserver(() => {
    const w = Math.floor(box.clientWidth);
    if (w > 50 && Math.abs(w - last) > 2) { last = w; u.setSize({ width: w, height }); }
  });
  ro.observe(box);
  u.vwObserver = ro;
}

function destroyChart(u) {
  if (!u) return;
  if (u.vwObserver) u.vwObserver.disconnect();
  u.destroy();
}

function timeAxis() {
  return { stroke: chartColors.axis, grid: { stroke: chartColors.grid }, ticks: { stroke: chartColors.grid }, label: `Time (${zoneText()})`, labelSize: 20, font: '12px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif' };
}

function valueAxis(label, format) {
  return { stroke: chartColors.axis, grid: { stroke: chartColors.grid }, ticks: { stroke: chartColors.grid }, label, labelSize: 20, size: 56, font: '12px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif',
    values: format ? (u, vals) => vals.map(v => v == null ? '' : format(v)) : undefined };
}

// trendPlot draws one vital of a patient: for a panel (blood pressure)
// systolic and diastolic from its readings; otherwise the mean per window
// with its min-max band. spec: {key, type, label, symbol, digits, from,
// to (ms), gapMs, windows: [{start, every, min, max, mean}] or readings:
// [{t, value, diastolic}], levels, markers, onZoom(from, to), height}.
function trendPlot(box, spec) {
  const fmtV = v => Number(v).toFixed(spec.digits);
  let series; let data; let bands;
  if (spec.readings) {
    const pts = spec.readings.map(r => [r.t, r.value, r.diastolic]);
    data = withGaps(pts, spec.gapMs, 2);
    series = [{}, { label: 'Systolic', stroke: chartColors.line, width: 2, points: { show: true, size: 7, fill: chartColors.line }, spanGaps: false },
      { label: 'Diastolic', stroke: chartColors.line2, width: 2, dash: [6, 3], points: { show: true, size: 7, fill: '#fff' }, spanGaps: false }];
  } else {
    const pts = spec.windows.map(w => [w.t, w.max, w.min, w.mean]);
    data = withGaps(pts, spec.gapMs, 3);
    series = [{}, { label: 'Highest', stroke: chartColors.minmax, width: 1, points: { show: false }, spanGaps: false, tip: true },
      { label: 'Lowest', stroke: chartColors.minmax, width: 1, points: { show: false }, spanGaps: false },
      { label: 'Mean', stroke: chartColors.line, width: 2, points: { show: true, size: 6, fill: chartColors.line }, spanGaps: false }];
    bands = [{ series: [1, 2], fill: chartColors.band }];
  }
  const ys = data.slice(1).flat().filter(v => v != null).concat(spec.levels.map(l => l.value));
  let lo = Math.min(...ys); let hi = Math.max(...ys);
  if (!(hi - lo >= 1)) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.1;
  const height = spec.height || 220;
  const shown = series.slice(1).map(s => s.points.show === true);
  const opts = {
    width: Math.max(300, Math.floor(box.clientWidth) || spec.width || 800), height,
    tzDate, series, bands,
    scales: { x: { time: true, range: () => [spec.from / 1000, spec.to / 1000] }, y: { range: () => [lo - pad, hi + pad] } },
    axes: [timeAxis(), valueAxis(spec.symbol, fmtV)],
    legend: { show: true, live: false },
    cursor: { drag: { x: true, y: false, setScale: !spec.onZoom }, points: { size: 8 } },
    plugins: [tooltipPlugin(v => `${fmtV(v)} ${spec.symbol}`), levelsPlugin(spec.levels, spec.markers)],
    hooks: {
      setSelect: [u => {
        if (!spec.onZoom || u.select.width < 4) return;
        const a = u.posToVal(u.select.left, 'x') * 1000; const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        spec.onZoom(Math.max(a, spec.from), Math.min(b, spec.to));
      }],
    },
  };
  const u = new uPlot(opts, data, box);
  fitWidth(u, box, height);
  recordChart(spec.key, u, shown);
  u.vwPoints = shown;
  return u;
}

// sparkPlot is a small line without axes: points [[t ms, y]], drawn over
// [from, to]; a gap longer than gapMs is a gap.
function sparkPlot(box, key, points, from, to, gapMs, width, height) {
  const data = withGaps(points, gapMs, 1);
  const ys = points.map(p => p[1]);
  let lo = ys.length ? Math.min(...ys) : 0; let hi = ys.length ? Math.max(...ys) : 1;
  if (hi - lo < 2) { lo -= 1; hi += 1; }
  const u = new uPlot({
    width, height, tzDate,
    series: [{}, { label: 'value', stroke: chartColors.line, width: 1.5, points: { show: true, size: 4, fill: chartColors.line }, spanGaps: false }],
    scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, y: { range: () => [lo - (hi - lo) * 0.1, hi + (hi - lo) * 0.1] } },
    axes: [{ show: false }, { show: false }],
    legend: { show: false },
    cursor: { show: false },
  }, data, box);
  recordChart(key, u, [true]);
  return u;
}

function setSparkData(u, key, points, from, to, gapMs) {
  u.setScale('x', { min: from / 1000, max: to / 1000 });
  u.setData(withGaps(points, gapMs, 1));
  recordChart(key, u, [true]);
}

// seriesPlot draws measures over periods: x the periods' starts, one
// series per {label, values, format}; a period without a value (no
// denominator) is a gap.
function seriesPlot(box, spec) {
  const data = [spec.x.map(t => t / 1000), ...spec.series.map(s => s.values)];
  const palette = [chartColors.line, chartColors.line2, '#b34700', '#1e6b33'];
  const dashes = [undefined, [6, 3], [2, 3], [10, 4]];
  const height = spec.height || 200;
  const u = new uPlot({
    width: Math.max(280, Math.floor(box.clientWidth) || 500), height, tzDate,
    series: [{}, ...spec.series.map((s, i) => ({ label: s.label, stroke: palette[i % 4], width: 2, dash: dashes[i % 4], points: { show: true, size: 7, fill: palette[i % 4] }, spanGaps: false }))],
    scales: { x: { time: true, range: (u, a, b) => [a - spec.pad / 1000, b + spec.pad / 1000] }, y: { range: (u, a, b) => [Math.min(0, a ?? 0), (b ?? 1) > 0 ? b * 1.15 : 1] } },
    axes: [timeAxis(), Object.assign(valueAxis(spec.unit, spec.format), spec.integer ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {})],
    legend: { show: true, live: false },
    cursor: { drag: { x: true, y: false }, points: { size: 8 } },
    plugins: [tooltipPlugin(v => spec.format(v))],
  }, data, box);
  fitWidth(u, box, height);
  recordChart(spec.key, u, spec.series.map(() => true));
  return u;
}
