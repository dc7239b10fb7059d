// `faultline drill run|validate|schema` and `faultline cleanup`: the drill file, the platform it runs on, the one
// runner, and the journal and reports it leaves.
import { join } from 'node:path';
import { writableReportDir } from '../core/report-dir.ts';
import { UsageError } from '../core/errors.ts';
import { loadDrillFile } from '../drill/file.ts';
import type { Journal } from '../drill/journal.ts';
import { writeOutputs } from '../drill/outputs.ts';
import { describePlan, preflight } from '../drill/plan.ts';
import type { Platform } from '../drill/platform.ts';
import { consoleHooks } from '../drill/progress.ts';
import { fetchSeries } from '../drill/report.ts';
import { runDrill } from '../drill/runner.ts';
import type { Drill, PlatformName } from '../drill/schema.ts';
import { cleanupRecordedFaults } from '../platforms/local/agent.ts';
import { paths, portsFor, type RuntimeOptions } from '../platforms/local/layout.ts';
import { localPlatform, supervisorApi } from '../platforms/local/platform.ts';
import { createToxiproxy } from '../platforms/local/toxiproxy.ts';
import type { KubernetesFlags } from '../platforms/kubernetes/command.ts';

export interface DrillRunFlags extends KubernetesFlags {
  platform: PlatformName;
  reportDir?: string;
  dryRun?: boolean;
  faultsOnly?: boolean;
}

const kubernetesOnly = ['namespace', 'release', 'kubeconfig', 'faultsOnly'] as const;
const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The platform a drill runs on, from the flags. The Kubernetes client is loaded only when asked for: it is heavy. */
export async function platformFor(flags: DrillRunFlags, local: RuntimeOptions, workDir: string): Promise<Platform> {
  if (flags.platform === 'local') {
    const misplaced = kubernetesOnly.filter((k) => flags[k] !== undefined);
    if (misplaced.length) throw new UsageError(`${misplaced.map(flagName).join(', ')} go with --platform kubernetes`);
    return localPlatform({ portBase: local.portBase, stateDir: local.stateDir, workDir });
  }
  const { kubernetesPlatformFor } = await import('../platforms/kubernetes/command.ts');
  return kubernetesPlatformFor(flags);
}

/** `faultline drill run`: returns the exit code, 0 pass or 1 fail; bad input throws a UsageError (exit 2). */
export async function runDrillCommand(file: string, local: RuntimeOptions, flags: DrillRunFlags): Promise<number> {
  const drill = loadDrillFile(file);
  if (flags.dryRun) return dryRun(drill, local, flags);
  const { journal } = await runAndReport(file, local, flags, flags.reportDir ?? join(local.stateDir, 'reports'));
  return journal.verdict === 'pass' ? 0 : 1;
}

async function dryRun(drill: Drill, local: RuntimeOptions, flags: DrillRunFlags): Promise<number> {
  for (const line of describePlan(drill, flags.platform)) console.log(line);
  if (flags.platform === 'kubernetes') {
    const { kubernetesDryRun } = await import('../platforms/kubernetes/command.ts');
    for (const line of kubernetesDryRun(drill, flags)) console.log(line);
    console.log('nothing was touched (dry run)');
    return 0;
  }
  const platform = await platformFor(flags, local, local.stateDir);
  const inventory = await platform.inventory().catch(() => undefined);
  if (inventory) preflight(drill, inventory);
  console.log(inventory ? 'preflight: every target exists on the local stack; nothing was touched (dry run)' : 'preflight skipped: the local stack is not up; nothing was touched (dry run)');
  return 0;
}

/**
 * Runs a drill file and writes its journal and reports to `reportDir/<drill>/`, printing progress and the verdict.
 * Ctrl-C (SIGINT) or SIGTERM interrupt it: its faults are rolled back and the journal says interrupted.
 */
export async function runAndReport(file: string, local: RuntimeOptions, flags: DrillRunFlags, reportDir: string): Promise<{ journal: Journal; dir: string }> {
  const drill = loadDrillFile(file);
  const dir = writableReportDir(join(reportDir, drill.name));
  const platform = await platformFor(flags, local, dir);
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(`${signal} received`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const journal = await runDrill(drill, platform, { file, hooks: consoleHooks(), signal: interrupt.signal });
    const endpoints = await platform.connect().catch(() => undefined);
    const series = endpoints ? await fetchSeries(endpoints.prometheus, journal) : [];
    writeOutputs(dir, journal, series);
    printVerdict(journal, dir);
    return { journal, dir };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await platform.close();
  }
}

function printVerdict(journal: Journal, dir: string) {
  console.log(`\n${journal.verdict === 'pass' ? 'PASS' : 'FAIL'}: drill ${journal.drill} ${journal.status} on ${journal.platform}${journal.reason ? ` (${journal.reason})` : ''}`);
  for (const v of journal.verifications) console.log(`  ${v.ok ? '✔' : '✘'} ${v.name}${v.ok ? '' : `: expected ${v.expected}; observed ${v.observed}`}`);
  for (const a of journal.adjustments) console.log(`  on ${a.platform}, ${a.target}: ${a.change} (${a.reason})`);
  for (const what of journal.skipped) console.log(`  skipped: ${what}`);
  const l = journal.ledger;
  if (l) console.log(`  ledger: ${l.accepted} acknowledged, ${l.completed} completed, ${l.lost} lost${l.unrecorded ? ` (${l.unrecorded} with no record left)` : ''}, ${l.duplicated} duplicated, ${l.unexpected} unexpected, ${l.recovered} recovered, ${l.redelivered} redelivered`);
  console.log(`  report: ${join(dir, 'report.html')}  (journal.json, junit.xml, summary.md beside it)`);
}

/** `faultline cleanup` on the local runtime: through the supervisor if it lives, else straight from Toxiproxy with the recorded faults. */
export async function localCleanupCommand(opts: RuntimeOptions, all: boolean) {
  const api = supervisorApi(opts);
  const live = await api.faults().catch(() => undefined);
  if (live) {
    const stale = live.filter((f) => !f.recoveredAt && (all || Date.parse(f.expiresAt) <= Date.now()));
    for (const f of stale) await api.removeFault(f.id);
    console.log(stale.length ? `removed ${stale.map((f) => `${f.kind} ${f.edge} (${f.id})`).join(', ')}` : 'no fault to remove; the supervisor removes each by its deadline');
    return;
  }
  const toxiproxy = createToxiproxy(`http://127.0.0.1:${portsFor(opts.portBase).toxiproxy}`);
  const removed = await cleanupRecordedFaults(paths(opts.stateDir).faults, toxiproxy, all).catch((err: Error) => {
    throw new UsageError(`cannot clean up: ${err.message}`);
  });
  console.log(removed.length ? `the supervisor is gone; removed ${removed.map((f) => `${f.kind} ${f.edge} (${f.id})`).join(', ')} from Toxiproxy` : 'nothing to clean up');
}
