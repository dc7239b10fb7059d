import { join } from 'node:path';
import { cleanupRecordedFaults } from '../local/faults.ts';
import { paths, portsFor, type RuntimeOptions } from '../local/layout.ts';
import { createToxiproxy } from '../local/toxiproxy.ts';
import { loadDrillFile } from './load.ts';
import { writeOutputs } from './outputs.ts';
import { describePlan, preflight } from './plan.ts';
import { localPlatform } from './platform-local.ts';
import { fetchSeries } from './report.ts';
import { runDrill } from './runner.ts';
import { UsageError } from '../local/runtime.ts';
import { writableReportDir } from '../report-dir.ts';

/** `faultline drill run`: returns the exit code, 0 pass or 1 fail; bad input throws a UsageError (exit 2). */
export async function runDrillCommand(file: string, opts: RuntimeOptions, flags: { reportDir?: string; dryRun?: boolean }): Promise<number> {
  const drill = loadDrillFile(file);
  if (flags.dryRun) {
    const platform = localPlatform(opts.portBase);
    const inventory = await platform.inventory().catch(() => undefined);
    if (inventory) preflight(drill, inventory);
    for (const line of describePlan(drill)) console.log(line);
    console.log(inventory ? 'preflight: every target exists on the local stack; nothing was touched (dry run)' : 'preflight skipped: the local stack is not up; nothing was touched (dry run)');
    return 0;
  }
  const { journal } = await runAndReport(file, opts, flags.reportDir ?? join(opts.stateDir, 'reports'));
  return journal.verdict === 'pass' ? 0 : 1;
}

/** Runs a drill file and writes its journal and reports to `reportDir/<drill>/`, printing the verdict. */
export async function runAndReport(file: string, opts: RuntimeOptions, reportDir: string) {
  const drill = loadDrillFile(file);
  const dir = writableReportDir(join(reportDir, drill.name));
  const journal = await runDrill(drill, file, { portBase: opts.portBase, reportDir: dir, print: (line) => console.log(line) });
  const status = await localPlatform(opts.portBase).status().catch(() => undefined);
  const series = status ? await fetchSeries(status.urls.prometheus, journal) : [];
  writeOutputs(dir, journal, series);
  console.log(`\n${journal.verdict === 'pass' ? 'PASS' : 'FAIL'}: drill ${drill.name} ${journal.status}${journal.reason ? ` (${journal.reason})` : ''}`);
  for (const v of journal.verifications) console.log(`  ${v.ok ? '✔' : '✘'} ${v.name}${v.ok ? '' : `: expected ${v.expected}; observed ${v.observed}`}`);
  if (journal.ledger) console.log(`  ledger: ${journal.ledger.accepted} acknowledged, ${journal.ledger.completed} completed, ${journal.ledger.lost} lost, ${journal.ledger.duplicated} duplicated, ${journal.ledger.unexpected} unexpected, ${journal.ledger.recovered} recovered`);
  console.log(`  report: ${join(dir, 'report.html')}  (journal.json, junit.xml, summary.md beside it)`);
  return { journal, dir };
}

/** `faultline cleanup`: through the supervisor if it lives, else straight from Toxiproxy with the recorded faults. */
export async function cleanupCommand(opts: RuntimeOptions, all: boolean) {
  const platform = localPlatform(opts.portBase);
  const live = await platform.faults().catch(() => undefined);
  if (live) {
    const stale = live.filter((f) => !f.recoveredAt && (all || Date.parse(f.expiresAt) <= Date.now()));
    for (const f of stale) await platform.removeFault(f.id);
    console.log(stale.length ? `removed ${stale.map((f) => `${f.kind} ${f.edge} (${f.id})`).join(', ')}` : 'no fault to remove; the supervisor removes each by its deadline');
    return;
  }
  const toxiproxy = createToxiproxy(`http://127.0.0.1:${portsFor(opts.portBase).toxiproxy}`);
  const removed = await cleanupRecordedFaults(paths(opts.stateDir).faults, toxiproxy, all).catch((err: Error) => {
    throw new UsageError(`cannot clean up: ${err.message}`);
  });
  console.log(removed.length ? `the supervisor is gone; removed ${removed.map((f) => `${f.kind} ${f.edge} (${f.id})`).join(', ')} from Toxiproxy` : 'nothing to clean up');
}
