import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { drillsDir } from '../core/paths.ts';
import type { RuntimeOptions } from '../platforms/local/layout.ts';
import { up } from '../platforms/local/runtime.ts';
import { runAndReport } from './drill.ts';

export const showcaseDrills = ['catalog-outage', 'traffic-flood', 'kitchen-worker-kill', 'kitchen-kafka-partition'] as const;

/** Brings the shop up, runs the showcase drills with live progress, and prints their verdicts and reports. */
export async function runDemo(opts: RuntimeOptions, flags: { drills?: string }): Promise<number> {
  const chosen = flags.drills ? flags.drills.split(',') : [...showcaseDrills];
  const unknown = chosen.filter((d) => !(showcaseDrills as readonly string[]).includes(d));
  if (unknown.length) throw new UsageError(`--drills: unknown drill ${unknown.join(', ')} (known: ${showcaseDrills.join(', ')})`);
  console.log('▶ bringing the shop up');
  const status = await up(opts);
  console.log(`  watch every drill live: ${status.urls.dashboard}`);
  const reportDir = join(opts.stateDir, 'reports');
  const results: Array<{ name: string; verdict: string; summary: string; report: string }> = [];
  for (const [i, name] of chosen.entries()) {
    console.log(`\n▶ drill ${i + 1}/${chosen.length}: ${name}`);
    const { journal, dir } = await runAndReport(join(drillsDir, `${name}.yaml`), opts, { platform: 'local' }, reportDir);
    const l = journal.ledger;
    results.push({ name, verdict: journal.verdict, summary: l ? `${l.accepted} orders acknowledged, ${l.lost} lost, ${l.duplicated} duplicated` : '', report: join(dir, 'report.html') });
  }
  console.log('\n▶ verdicts');
  for (const r of results) console.log(`  ${r.verdict === 'pass' ? '✔ PASS' : '✘ FAIL'}  ${r.name.padEnd(24)} ${r.summary}\n           ${r.report}`);
  console.log('\n▶ where to look');
  console.log(`  dashboards   ${status.urls.dashboard}`);
  console.log(`  Prometheus   ${status.urls.prometheus}/graph?g0.expr=${encodeURIComponent('max by (service, dependency) (circuit_breaker_state)')}`);
  console.log(`  traces       ${status.urls.tracesUi}/search?service=gateway`);
  console.log(`  gateway      ${status.urls.gateway}/api/openapi.json  (X-API-Key: ${status.apiKey})`);
  console.log('  the shop keeps running: `npx faultline status`, and `npx faultline down` to stop it');
  return results.every((r) => r.verdict === 'pass') ? 0 : 1;
}
