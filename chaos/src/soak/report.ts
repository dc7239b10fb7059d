// The soak's report: one self-contained HTML file with memory and disk over the whole run, the drills shaded where
// they ran, and the verdicts.
import { esc, lineChartSvg, reportStyle, type Series } from '../drill/report.ts';
import type { SoakResult } from './command.ts';

const isReplica = (name: string) => /^(gateway|catalog|orders|kitchen)-\d+$/.test(name);

function seriesOf(r: SoakResult, chart: string, pick: (name: string) => boolean, read: (s: SoakResult['samples'][number], name: string) => number | undefined): Series[] {
  const names = [...new Set(r.samples.flatMap((s) => [...Object.keys(s.rss), ...Object.keys(s.diskMb)]))].filter(pick).sort();
  return names
    .map((name) => ({ chart, label: name, unit: 'MB', points: r.samples.flatMap((s) => (read(s, name) === undefined ? [] : [[s.t * 1000, read(s, name)!] as [number, number]])) }))
    .filter((s) => s.points.length > 0);
}

export function renderSoakReport(r: SoakResult): string {
  const start = Date.parse(r.startedAt);
  const frame = {
    xMax: (r.samples.at(-1)?.t ?? 0) * 1000,
    xTick: (t: number) => `${(t / 60_000).toFixed(1)} min`,
    shades: r.drills.map((d) => ({ from: Date.parse(d.startedAt) - start, to: Date.parse(d.endedAt) - start, title: `${d.name}: ${d.verdict}` })),
  };
  const rss = (s: SoakResult['samples'][number], name: string) => s.rss[name]?.mb;
  const charts = [
    lineChartSvg('Shop replicas: resident memory (MB)', seriesOf(r, 'shop', isReplica, rss), frame),
    lineChartSvg("Shop replicas: JavaScript memory, V8's used heap and Buffers (MB)", seriesOf(r, 'js', isReplica, (s, name) => s.heap?.[name]?.mb), frame),
    lineChartSvg('Stores, observability, proxies and the supervisor: resident memory (MB)', seriesOf(r, 'infra', (n) => !isReplica(n), rss), frame),
    lineChartSvg("Stores' data on disk (MB)", seriesOf(r, 'disk', () => true, (s, name) => s.diskMb[name]), frame),
  ];
  const drillRows = r.drills.map(
    (d) =>
      `<tr class="${d.verdict === 'pass' ? 'ok' : 'bad'}"><td>${d.verdict === 'pass' ? '✔' : '✘'}</td><td>${esc(d.name)}</td><td>${esc(d.startedAt)}</td><td>${d.ledger ? `${d.ledger.accepted} acknowledged, ${d.ledger.lost} lost, ${d.ledger.duplicated} duplicated` : ''}</td><td>${esc(d.failed.join('; '))}</td></tr>`,
  );
  const growthRows = r.growth.map((g) => {
    const bound = g.growthBound ? `≤ ${g.growthBound.percent}% or ${g.growthBound.floorMb} MB` : 'by its ceiling';
    const judged = g.restarted ? 'restarted by a drill: not judged' : bound;
    return `<tr class="${g.ok ? 'ok' : 'bad'}"><td>${g.ok ? '✔' : '✘'}</td><td>${esc(g.name)}</td><td>${g.measure === 'heap' ? 'JavaScript, lowest' : 'resident, median'}</td><td>${g.baselineMb.toFixed(0)}</td><td>${g.endMb.toFixed(0)}</td><td>${g.growthPercent.toFixed(1)}%</td><td>${judged}</td><td>${g.peakRssMb.toFixed(0)}</td><td>${g.ceilingMb ?? ''}</td></tr>`;
  });
  const l = r.ledger;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline soak: ${r.passed ? 'pass' : 'fail'}</title>
${reportStyle(r.passed)}</head><body>
<h1>Soak, ${r.minutes} min <span class="verdict">${r.passed ? 'PASS' : 'FAIL'}</span></h1>
<p>Started ${esc(r.startedAt)} on the ${r.topology} topology: ${r.steadyRate} orders/s of steady traffic throughout, and a drill every ${r.every} s picked at random (seed ${r.seed}); shaded bands are the drills. Memory is judged from the first minute after ${(r.warmupS / 60).toFixed(1)} min of warm-up against the last minute.</p>
<h2>Drills</h2>
<table><tr><th></th><th>drill</th><th>started</th><th>ledger</th><th>failed verifications</th></tr>${drillRows.join('')}</table>
<h2>The whole run's ledger</h2>
<p>Every order a client saw acknowledged, from the steady traffic and every drill, reconciled with the shop's ledger at the end.</p>
<table><tr><th>acknowledged</th><th>completed</th><th>lost</th><th>duplicated</th><th>recovered</th><th>redelivered</th></tr><tr class="${l.lost === 0 && l.duplicated === 0 ? 'ok' : 'bad'}"><td>${l.accepted}</td><td>${l.completed}</td><td>${l.lost}</td><td>${l.duplicated}</td><td>${l.recovered}</td><td>${l.redelivered}</td></tr></table>
<h2>Memory, once warm</h2>
<p>Growth is judged on a shop replica's JavaScript memory at its lowest in each window, what is left after collections (a leak raises it; garbage, and a heap V8 has grown and not yet given back, do not), and on resident memory for the rest. Resident memory after warm-up must stay under a ceiling where there is one: a replica's pod limit in the chart, or the cap a store fills up to by design.</p>
<table><tr><th></th><th>process</th><th>judged on</th><th>after warm-up (MB)</th><th>at the end (MB)</th><th>growth</th><th>bound</th><th>resident at most (MB)</th><th>ceiling (MB)</th></tr>${growthRows.join('')}</table>
<h2>Over time</h2>
${charts.join('\n')}
</body></html>
`;
}
