// The bench's HTML page: the goals on the medians, every figure's median and min–max over the runs, goodput against
// offered load (each run's curve, resilience on and off) and the timing distributions, drawn with the drill report's
// inline-SVG chart helper, so the page is self-contained like the drill report.
import { esc, lineChartSvg, type Series } from '../drill/report.ts';
import type { BenchReport, BenchResult } from './command.ts';
import { listed } from './fairness.ts';

const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);

export function renderBenchReport(report: BenchReport): string {
  const r: BenchResult = report.runs[0]!;
  const runs = report.runs;
  const runLabel = (i: number) => (runs.length > 1 ? `, run ${i + 1}` : '');
  const C = r.capacity.capacityRps;
  const curves = (mode: 'on' | 'off'): Series[] =>
    runs.map((run, i) => ({
      chart: 'goodput',
      label: `resilience ${mode}${runLabel(i)}`,
      unit: '·C',
      points: [[0, 0], ...(run.overload[mode]?.steps ?? []).map((s) => [s.multiple, s.goodputFraction] as [number, number])],
    }));
  const ideal: Series = { chart: 'goodput', label: 'ideal (min(offered, C))', unit: '·C', points: [[0, 0], [1, 1], [Math.max(10, ...r.multiples), 1]] };
  const xMax = Math.max(...r.multiples, 1);
  const goodput = lineChartSvg(`Goodput (2xx within ${r.objectiveMs} ms, as a fraction of each run's C) against offered load (× C)`, [...curves('on'), ...curves('off'), ideal], { xMax, xTick: (x) => `${x.toFixed(1)}×` });
  const p99 = (mode: 'on' | 'off'): Series[] => runs.map((run, i) => ({ chart: 'p99', label: `resilience ${mode}${runLabel(i)}`, unit: 'ms', points: (run.overload[mode]?.steps ?? []).map((s) => [s.multiple, s.admittedP99Ms ?? 0] as [number, number]) }));
  const latency = lineChartSvg('Admitted (2xx) p99 latency, ms, against offered load (× C)', [...p99('on'), ...p99('off')], { xMax, xTick: (x) => `${x.toFixed(1)}×` });
  const figureRows = report.figures.map((f) => `<tr><td>${esc(f.name)}</td><td>${f.median}${esc(f.unit)}</td><td>${f.min}–${f.max}${esc(f.unit)}</td><td>${f.values.join(', ')}</td></tr>`);
  const fair = r.fairness;
  const prof = r.gatewayProfile;
  const shareRows = (rows: { name: string; selfMs: number; share: number }[]) => rows.map((x) => `<tr><td>${esc(x.name)}</td><td>${x.selfMs}</td><td>${pct(x.share)}</td></tr>`).join('');
  const t = r.timings;
  const sorted = (label: string, d: { samplesMs: number[] } | undefined): Series => ({ chart: 't', label, unit: 'ms', points: [...(d?.samplesMs ?? [])].sort((a, b) => a - b).map((v, i, all) => [all.length > 1 ? i / (all.length - 1) : 0, v] as [number, number]) });
  const timingCharts = t
    ? [
        lineChartSvg('Catalog cut → breaker open, and heal → breaker closed (ms; trials sorted, x = quantile)', [sorted('cut → open', t.breakerOpenMs), sorted('heal → closed', t.breakerCloseMs)], { xMax: 1, xTick: (x) => `p${Math.round(x * 100)}` }),
        lineChartSvg('Kitchen kill → lag drained, and Kafka edge healed → orders accepted (ms; trials sorted)', [sorted('kill → lag drained', t.lagDrainMs), sorted('Kafka heal → accepted', t.kafkaRecoveryMs)], { xMax: 1, xTick: (x) => `p${Math.round(x * 100)}` }),
        lineChartSvg('Kitchen worker frozen → evicted from its group, and thawed → listed in it again (ms; trials sorted)', [sorted('frozen → evicted', t.pauseEvictMs), sorted('thawed → listed again', t.thawRejoinMs)], { xMax: 1, xTick: (x) => `p${Math.round(x * 100)}` }),
      ]
    : [];
  const f = r.failover;
  const failoverChart = f
    ? lineChartSvg('Store node killed → a new leader, and → the shop serving again (ms; trials sorted, x = quantile)', [sorted('Redis: promoted', f.redisPromotedMs), sorted('Redis: serving', f.redisServingMs), sorted('Kafka: new leader', f.kafkaElectedMs), sorted('Kafka: serving', f.kafkaServingMs)], { xMax: 1, xTick: (x) => `p${Math.round(x * 100)}` })
    : '<p>not measured</p>';
  const stepRows = (['on', 'off'] as const).flatMap((mode) =>
    (r.overload[mode]?.steps ?? []).map(
      (s) => `<tr><td>${mode}</td><td>${s.multiple}× (${s.offeredRps}/s)</td><td>${s.goodputRps}/s</td><td>${s.goodputFraction.toFixed(2)}</td><td>${s.admittedP99Ms ?? '—'}</td><td>${s.ok}</td><td>${s.shed}</td><td>${s.serverErrors}</td><td>${s.noResponse}</td><td>${s.dropped}</td><td>${s.k6Cores}</td></tr>`,
    ),
  );
  const dist = (name: string, d: { n: number; medianMs?: number; p95Ms?: number } | undefined) => `<tr><td>${esc(name)}</td><td>${d?.n ?? 0}</td><td>${d?.medianMs ?? '—'}</td><td>${d?.p95Ms ?? '—'}</td></tr>`;
  const goals = report.goals.map((g) => `<tr class="${g.met === true ? 'ok' : g.met === false ? 'bad' : ''}"><td>${g.met === true ? '✔' : g.met === false ? '✘' : '–'}</td><td>${esc(g.name)}</td><td>${esc(g.target)}</td><td>${esc(g.observed)}</td><td>${esc(g.gap ?? '')}</td></tr>`);
  const o = r.overhead;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline bench overload</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:920px;color:#111}
table{border-collapse:collapse;width:100%;margin:12px 0}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
tr.bad td{background:#fef2f2}tr.ok td:first-child{color:#16a34a}tr.bad td:first-child{color:#dc2626}
figure{margin:8px 0}svg.chart{width:100%;height:auto;background:#fafafa;border:1px solid #eee}
svg text{font-size:11px;fill:#444}svg .title{font-size:13px;font-weight:600;fill:#111}svg .legend{font-size:12px}svg .axis{stroke:#999}
</style></head><body>
<h1>faultline bench overload ${report.valid ? '' : '<span style="color:#dc2626">(INVALID)</span>'}</h1>
<p>${esc(report.startedAt)} · ${report.durationS} s · ${report.repeat} run${report.repeat > 1 ? 's' : ''} · ${r.machine.cores} cores, ${r.machine.memGiB} GiB, Linux ${esc(r.machine.kernel)}, Node ${esc(r.machine.node)} · objective p99 ≤ ${r.objectiveMs} ms, errors &lt; 1% · capacity C = <b>${runs.map((x) => x.capacity.capacityRps).join(', ')}/s</b>${report.invalidReasons.length ? ` · invalid: ${esc(report.invalidReasons.join('; '))}` : ''}</p>
<h2>Goals (on the median of each figure)</h2>
<table><tr><th></th><th>goal</th><th>target</th><th>observed</th><th>gap</th></tr>${goals.join('')}</table>
<h2>Every figure: median and min–max over ${report.repeat} run${report.repeat > 1 ? 's' : ''}</h2>
<table><tr><th>figure</th><th>median</th><th>min–max</th><th>runs</th></tr>${figureRows.join('')}</table>
<p>The charts and tables below are the first run's, but for the curves, which show every run.</p>
<h2>Goodput under overload</h2>
${goodput}
${latency}
<table><tr><th>resilience</th><th>offered</th><th>goodput</th><th>·C</th><th>admitted p99 ms</th><th>2xx</th><th>503</th><th>other 5xx</th><th>no answer</th><th>k6 dropped</th><th>k6 cores</th></tr>${stepRows.join('')}</table>
<p>CPU of a refused (503) request relative to a served one, resilience on: ${r.overload.on?.refusedCpuRatio ?? '—'}. With resilience off nothing is refused: requests time out instead, so there is no such ratio.</p>
<h2>Fairness</h2>
${fair ? `<p>The <code>local</code> client at ${fair.quietRps}/s (half its quota), alone and then while <code>load</code> offered ${fair.floodRps}/s: it kept <b>${pct(fair.keptFraction)}</b> of its goodput (${fair.flooded.good} of ${fair.alone.good} good orders; 429 ${fair.flooded.limited}, 503 ${fair.flooded.shed}). The flood: ${fair.flood.ok} served, 429 ${fair.flood.limited}, 503 ${fair.flood.shed}. ${fair.refusals ? `During the flood, from the shop's counters: the quiet client's answers past admission control ${esc(listed(fair.refusals.quietByStatus))}, and ${fair.refusals.quietRateLimited} refused by its rate limit; admission control refused ${esc(listed(fair.refusals.gatewayShed))} (every client); orders refused ${esc(listed(fair.refusals.ordersShed))}.` : "The shop's counters could not be read after the flood."}</p>` : '<p>not measured</p>'}
<h2>CPU per order at 1×C, by service (ms)</h2>
<table><tr>${Object.keys(r.overload.on?.cpuPerOrderMs ?? {}).map((k) => `<th>${esc(k)}</th>`).join('')}</tr><tr>${Object.values(r.overload.on?.cpuPerOrderMs ?? {}).map((v) => `<td>${v}</td>`).join('')}</tr></table>
${prof ? `<h2>Where the gateway's CPU went while one key flooded at 10×C (${esc(prof.step)}, ${prof.sampledMs} ms sampled)</h2><table><tr><th>package</th><th>self ms</th><th>share</th></tr>${shareRows(prof.byPackage)}</table><table><tr><th>function</th><th>self ms</th><th>share</th></tr>${shareRows(prof.topFunctions)}</table>` : ''}
<h2>Detection and recovery</h2>
<table><tr><th>timing</th><th>trials</th><th>median ms</th><th>p95 ms</th></tr>${t ? [dist('catalog cut → breaker open', t.breakerOpenMs), dist('fast-fail latency while open (menu requests)', t.fastFailMs), dist('heal → breaker closed', t.breakerCloseMs), dist('kitchen kill → lag drained', t.lagDrainMs), dist('Kafka edge healed → orders accepted', t.kafkaRecoveryMs), dist('kitchen worker frozen → evicted from its group', t.pauseEvictMs), dist('frozen worker thawed → listed in its group again', t.thawRejoinMs)].join('') : ''}</table>
${timingCharts.join('\n')}
<h2>Failover (HA topology)</h2>
<table><tr><th>timing</th><th>trials</th><th>median ms</th><th>p95 ms</th></tr>${f ? [dist('Redis primary killed → Sentinels name another primary', f.redisPromotedMs), dist('Redis primary killed → orders acknowledged again', f.redisServingMs), dist('Kafka leader killed → partition 0 has another leader', f.kafkaElectedMs), dist('Kafka leader killed → orders acknowledged again', f.kafkaServingMs)].join('') : ''}</table>
${failoverChart}
<h2>Overhead</h2>
${o ? `<table><tr><th>gateway</th><th>offered</th><th>served/s</th><th>gateway CPU-s</th><th>orders per gateway core-second</th><th>p99 ms</th></tr><tr><td>full</td><td>${o.full.offeredRps}</td><td>${o.full.servedRps}</td><td>${o.full.gatewayCpuS}</td><td>${o.full.perCoreRps}</td><td>${o.full.admittedP99Ms ?? '—'}</td></tr><tr><td>bare</td><td>${o.bare.offeredRps}</td><td>${o.bare.servedRps}</td><td>${o.bare.gatewayCpuS}</td><td>${o.bare.perCoreRps}</td><td>${o.bare.admittedP99Ms ?? '—'}</td></tr></table><p>Middleware cost: ${pct(o.overheadFraction)} of per-core throughput.</p>` : '<p>not measured</p>'}
<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
</body></html>
`;
}
