// The drill report: one self-contained HTML file, its charts drawn as inline SVG, so it opens anywhere,
// offline, and in a CI artifact viewer. Hand-written SVG: a charting library would need a script or a network.
import { promql } from '../core/promql.ts';
import { rangeQuery } from '../core/prometheus.ts';
import type { Journal } from './journal.ts';

export interface Series {
  chart: string;
  label: string;
  unit: string;
  /** [ms since the drill started, value] */
  points: Array<[number, number]>;
}

/** The key series, read back from Prometheus over the drill's time range. */
export const reportQueries: Array<{ chart: string; label: string; unit: string; promql: string }> = [
  { chart: 'Breaker state (0 closed, 1 half-open, 2 open)', label: 'gateway → catalog', unit: '', promql: 'max(circuit_breaker_state{service="gateway",dependency="catalog"})' },
  { chart: 'Breaker state (0 closed, 1 half-open, 2 open)', label: 'gateway → orders', unit: '', promql: 'max(circuit_breaker_state{service="gateway",dependency="orders"})' },
  { chart: 'Breaker state (0 closed, 1 half-open, 2 open)', label: 'orders → kafka', unit: '', promql: 'max(circuit_breaker_state{service="orders",dependency="kafka"})' },
  { chart: 'Goodput at the gateway (2xx per second)', label: '2xx/s', unit: '/s', promql: 'sum(rate(http_server_requests_total{service="gateway",status_code=~"2.."}[6s]))' },
  { chart: 'Error rate at the gateway', label: '5xx share', unit: '', promql: promql.gatewayErrorRatio },
  { chart: 'Error rate at the gateway', label: '429 share', unit: '', promql: 'sum(rate(http_server_requests_total{service="gateway",status_code="429"}[6s])) / clamp_min(sum(rate(http_server_requests_total{service="gateway"}[6s])), 0.001)' },
  { chart: 'Gateway latency (seconds)', label: 'p50', unit: 's', promql: 'histogram_quantile(0.5, sum by (le) (rate(http_server_request_duration_seconds_bucket{service="gateway"}[6s])))' },
  { chart: 'Gateway latency (seconds)', label: 'p99', unit: 's', promql: 'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{service="gateway"}[6s])))' },
  { chart: 'Kitchen consumer lag (orders)', label: 'lag', unit: '', promql: promql.kitchenLag },
];

/** Reads each report series from Prometheus for the drill's time range, one point per second. */
export async function fetchSeries(prometheus: string, journal: Journal): Promise<Series[]> {
  const start = Date.parse(journal.startedAt) / 1000;
  const end = Date.parse(journal.endedAt) / 1000;
  return Promise.all(
    reportQueries.map(async (q) => {
      const points = await rangeQuery(prometheus, q.promql, { start, end, step: 1 });
      return { chart: q.chart, label: q.label, unit: q.unit, points: points.map(([t, v]) => [Math.round(t * 1000 - start * 1000), v] as [number, number]) };
    }),
  );
}

export const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const colours = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

/** The frame of a line chart: the x range and its tick labels, and shaded bands (a fault's window). */
export interface ChartFrame {
  xMax: number;
  xTick: (x: number) => string;
  shades?: Array<{ from: number; to: number; title: string }>;
}

/** One inline-SVG line chart; the drill report and `faultline bench`'s report both draw with it. */
export function lineChartSvg(title: string, series: Series[], frame: ChartFrame): string {
  const W = 860;
  const H = 220;
  const pad = { l: 56, r: 16, t: 28, b: 30 };
  const tMax = Math.max(frame.xMax, 1);
  const all = series.flatMap((s) => s.points.map(([, v]) => v));
  const yMax = (Math.max(0, ...all) || 1) * 1.1;
  const x = (t: number) => pad.l + (t / tMax) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / yMax) * (H - pad.t - pad.b);
  const shades = (frame.shades ?? []).map(
    (f) => `<rect class="fault" x="${x(f.from).toFixed(1)}" y="${pad.t}" width="${Math.max(2, x(f.to) - x(f.from)).toFixed(1)}" height="${H - pad.t - pad.b}"><title>${esc(f.title)}</title></rect>`,
  );
  const lines = series.map((s, i) =>
    s.points.length
      ? `<polyline class="series" fill="none" stroke="${colours[i % colours.length]}" stroke-width="2" points="${s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`
      : '',
  );
  const ticks = [0, 0.5, 1].map((f) => `<text x="${pad.l - 6}" y="${y(yMax * f / 1.1) + 4}" text-anchor="end">${+(yMax * f / 1.1).toPrecision(3)}</text>`);
  const xticks = Array.from({ length: 6 }, (_, i) => (tMax * i) / 5).map((t) => `<text x="${x(t)}" y="${H - 10}" text-anchor="middle">${frame.xTick(t)}</text>`);
  const legend = series.map((s, i) => `<tspan fill="${colours[i % colours.length]}">■ ${esc(s.label)}${s.points.length ? '' : ' (no data)'}</tspan>`).join('  ');
  return `<figure><svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<text x="${pad.l}" y="18" class="title">${esc(title)}</text><text x="${W - pad.r}" y="18" text-anchor="end" class="legend">${legend}</text>
${shades.join('')}
<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" class="axis"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" class="axis"/>
${ticks.join('')}${xticks.join('')}
${lines.join('\n')}
</svg></figure>`;
}

function chartSvg(title: string, series: Series[], journal: Journal): string {
  const offset = Date.parse(journal.startedAt);
  const shades = journal.faults.map((f) => ({
    from: Date.parse(f.injectedAt) - offset,
    to: (f.recoveredAt ? Date.parse(f.recoveredAt) : Date.parse(journal.endedAt)) - offset,
    title: `${f.kind} ${f.target}`,
  }));
  return lineChartSvg(title, series, { xMax: journal.timings.durationMs, xTick: (t) => `${(t / 1000).toFixed(0)} s`, shades });
}

/** The stylesheet every faultline HTML report shares (drills, soaks), its verdict badge green or red. */
export const reportStyle = (passed: boolean) => `<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:920px;color:#111}
h1{font-size:22px}.verdict{padding:2px 10px;border-radius:4px;color:#fff;background:${passed ? '#16a34a' : '#dc2626'}}
table{border-collapse:collapse;width:100%;margin:12px 0}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
tr.bad td{background:#fef2f2}tr.ok td:first-child{color:#16a34a}tr.bad td:first-child{color:#dc2626}
figure{margin:8px 0}svg.chart{width:100%;height:auto;background:#fafafa;border:1px solid #eee}
svg text{font-size:11px;fill:#444}svg .title{font-size:13px;font-weight:600;fill:#111}svg .legend{font-size:12px}
svg .axis{stroke:#999}svg rect.fault{fill:#f59e0b;opacity:.22}
</style>`;

export function renderReport(journal: Journal, series: Series[]): string {
  const probeSeries: Series[] = journal.probes.map((name) => ({
    chart: `Probe ${name}`,
    label: name,
    unit: '',
    points: journal.samples.flatMap((s) => (s.values[name] === undefined ? [] : [[s.t, s.values[name]!] as [number, number]])),
  }));
  const byChart = new Map<string, Series[]>();
  for (const s of [...series, ...probeSeries]) byChart.set(s.chart, [...(byChart.get(s.chart) ?? []), s]);
  const charts = [...byChart].map(([title, s]) => chartSvg(title, s, journal));
  const rows = journal.verifications.map((v) => `<tr class="${v.ok ? 'ok' : 'bad'}"><td>${v.ok ? '✔' : '✘'}</td><td>${esc(v.name)}</td><td>${esc(v.expected)}</td><td>${esc(v.observed)}</td></tr>`);
  const l = journal.ledger;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline drill ${esc(journal.drill)}: ${journal.verdict}</title>
${reportStyle(journal.verdict === 'pass')}</head><body>
<h1>Drill <code>${esc(journal.drill)}</code> <span class="verdict">${journal.verdict.toUpperCase()}</span></h1>
<p>${esc(journal.status)}${journal.reason ? `: ${esc(journal.reason)}` : ''} · ${(journal.timings.durationMs / 1000).toFixed(1)} s on the ${journal.platform} platform (${esc(journal.where)}) · started ${esc(journal.startedAt)}${journal.timings.timeToRecoverMs !== undefined ? ` · steady state back ${(journal.timings.timeToRecoverMs / 1000).toFixed(1)} s after the last fault` : ''}. Shaded bands are the faults' windows.</p>
<h2>Verifications</h2>
<table><tr><th></th><th>verification</th><th>expected</th><th>observed</th></tr>${rows.join('')}</table>
${l ? `<h2>Ledger</h2><table><tr><th>accepted</th><th>completed</th><th>lost</th><th>duplicated</th><th>unexpected</th><th>recovered</th><th>redelivered</th></tr><tr><td>${l.accepted}</td><td>${l.completed}</td><td>${l.lost}</td><td>${l.duplicated}</td><td>${l.unexpected}</td><td>${l.recovered}</td><td>${l.redelivered}</td></tr></table>` : ''}
${journal.adjustments.length ? `<h2>Settings for the ${esc(journal.platform)} platform</h2><table><tr><th>what</th><th>setting</th><th>why</th></tr>${journal.adjustments.map((a) => `<tr><td>${esc(a.target)}</td><td><code>${esc(a.change)}</code></td><td>${esc(a.reason)}</td></tr>`).join('')}</table>` : ''}
${journal.skipped.length ? `<h2>Skipped</h2><ul>${journal.skipped.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>` : ''}
<h2>Faults</h2>
<table><tr><th>fault</th><th>target</th><th>injected</th><th>recovered</th><th>took effect</th><th>evidence</th></tr>${journal.faults.map((f) => `<tr><td>${esc(f.kind)}</td><td>${esc(f.target)}</td><td>${esc(f.injectedAt)}</td><td>${esc(f.recoveredAt ?? '—')}</td><td>${f.effective ? '✔' : '✘'}</td><td>${esc(f.summary)}</td></tr>`).join('')}</table>
<h2>Over time</h2>
${charts.join('\n')}
</body></html>
`;
}
