// `faultline bench overload`: capacity, goodput under overload (resilience on and off), fairness between clients,
// detection and recovery timings, middleware overhead, and failover of Redis and Kafka on the HA topology, on the
// local runtime with k6's open-model executors; `--repeat N` runs it N times and reports each figure's median and
// min–max. Goals are judged on the medians and reported with their gaps, never asserted: the exit code is 0 for a
// valid run, 1 when k6 (not the shop) limited a step or a run broke, 2 on bad input.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release, totalmem, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { RuntimeOptions } from '../platforms/local/layout.ts';
import { down, status as stackStatus, up } from '../platforms/local/runtime.ts';
import { UsageError } from '../core/errors.ts';
import { findCapacity, type CapacityResult } from './capacity.ts';
import { overload, type OverloadResult } from './overload.ts';
import { measureOverhead, type OverheadResult } from './overhead.ts';
import { renderBenchReport } from './report.ts';
import { writableReportDir } from '../core/report-dir.ts';
import { atLeast, atMost, type Goal } from './stats.ts';
import { k6Priority, warmUp, type BenchTarget, type StepResult } from './step.ts';
import { kitchenSessionTimeoutMs, measureTimings, type TimingsResult } from './timings.ts';
import { measureFailover, type FailoverResult } from './failover.ts';
import { measureFairness, type FairnessResult } from './fairness.ts';
import { medianOf, summarizeRuns, type Figure } from './figures.ts';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from './profile.ts';
import { stopOnInterrupt } from '../core/interrupt.ts';

export interface BenchResult {
  benchmark: 'overload';
  startedAt: string;
  durationS: number;
  machine: { cores: number; memGiB: number; kernel: string; node: string };
  mode: 'quick' | 'full';
  objectiveMs: number;
  multiples: number[];
  valid: boolean;
  invalidReasons: string[];
  capacity: CapacityResult;
  overload: { on?: OverloadResult; off?: OverloadResult };
  fairness?: FairnessResult;
  timings?: TimingsResult;
  overhead?: OverheadResult;
  failover?: FailoverResult;
  /** The gateway's CPU profile over the fairness phase's flood (`--profile`, first run only). */
  gatewayProfile?: ProfileSummary & { file: string; step: string };
  notes: string[];
}

/** What bench.json holds: every run, each figure's median and min–max over them, and the goals judged on the medians. */
export interface BenchReport {
  benchmark: 'overload';
  startedAt: string;
  durationS: number;
  machine: BenchResult['machine'];
  mode: BenchResult['mode'];
  objectiveMs: number;
  repeat: number;
  valid: boolean;
  invalidReasons: string[];
  figures: Figure[];
  goals: Goal[];
  runs: BenchResult[];
}

export const benchFlags = z.strictObject({
  json: z.boolean().optional(),
  quick: z.boolean().optional(),
  reportDir: z.string().min(1).optional(),
  objectiveMs: z.coerce.number().int().min(50).max(10_000).optional(),
  repeat: z.coerce.number().int().min(1).max(10).optional(),
  profile: z.boolean().optional(),
});
export type BenchFlags = z.infer<typeof benchFlags>;

/** Flags checked before anything starts: a bad value or an unwritable report directory is a UsageError (exit 2). */
export function checkBenchFlags(flags: Record<string, unknown>, stateDir: string) {
  const parsed = benchFlags.safeParse(flags);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('\n'));
  const reportDir = writableReportDir(parsed.data.reportDir ?? join(stateDir, 'reports', 'bench'));
  return { ...parsed.data, reportDir, objectiveMs: parsed.data.objectiveMs ?? 1500, repeat: parsed.data.repeat ?? 1 };
}

const p99Ratio = 'resilience on: admitted p99 at 10×C over p99 at 0.5×C';
const fairnessKept = 'quiet client at half its quota: goodput kept under a 10×C flood';

/** The goals, each judged on the median of its figure over the runs: met, or missed by how much. */
export function benchGoals(figures: Figure[]): Goal[] {
  const m = (name: string) => medianOf(figures, name);
  return [
    atLeast('resilience on: goodput at 3×C', m('resilience on: goodput at 3×C'), 0.9),
    atLeast('resilience on: goodput at 10×C', m('resilience on: goodput at 10×C'), 0.75),
    atMost('resilience on: admitted p99 at 10×C, as a multiple of the p99 at 0.5×C', m(p99Ratio), 2, '×', 2),
    atLeast('a client at half its quota keeps its goodput while another key offers 10×C', m(fairnessKept), 0.95, '×'),
    atMost('resilience off: goodput at 10×C falls well below (at most half of C)', m('resilience off: goodput at 10×C'), 0.5, '·C', 2),
    atMost('catalog breaker opens after a cut, p95', m('catalog cut → breaker open, p95'), 1000, ' ms'),
    atMost(`frozen kitchen worker evicted from its group, p95 (1.5× its ${kitchenSessionTimeoutMs / 1000} s session)`, m('kitchen worker frozen → evicted, p95'), 1.5 * kitchenSessionTimeoutMs, ' ms'),
    atMost('Redis primary killed → the shop serving again, p95 (HA topology)', m('Redis primary killed → serving again, p95'), 10_000, ' ms'),
    atMost('Kafka leader killed → the shop serving again, p95 (HA topology)', m('Kafka leader killed → serving again, p95'), 5000, ' ms'),
    atMost('middleware cost, share of gateway throughput per core', m('middleware cost, share of gateway throughput per core'), 20, '%', 1),
  ];
}

/** Steps where k6 dropped over 1% of its arrivals with VUs to spare (the fairness flood: at all), or ran out of CPU: figures there measure k6, so the run is invalid. */
export function k6LimitedSteps(r: BenchResult): string[] {
  const steps: StepResult[] = [...r.capacity.steps, ...(r.overload.on?.steps ?? []), ...(r.fairness ? [r.fairness.alone, r.fairness.flooded, r.fairness.flood] : [])];
  const limited = steps.filter((s) => s.k6Limits.length > 0).map((s) => `${s.label}: ${s.k6Limits.join('; ')}`);
  for (const side of r.overhead ? [r.overhead.full, r.overhead.bare] : []) if (side.k6Limits.length) limited.push(`${side.label}: ${side.k6Limits.join('; ')}`);
  return limited;
}

type Flags = ReturnType<typeof checkBenchFlags>;
type Log = (line: string) => void;

export async function runBenchCommand(base: RuntimeOptions, rawFlags: Record<string, unknown>): Promise<number> {
  const flags = checkBenchFlags(rawFlags, base.stateDir);
  if (await stackStatus(base)) throw new UsageError(`a stack is already running in ${base.stateDir}: the bench starts its own (with the per-key rate limit raised); stop it with \`faultline down\` or choose another --state-dir and --port-base`);
  const log: Log = (line) => (flags.json ? process.stderr.write(`${line}\n`) : console.log(line));
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const runs: BenchResult[] = [];
  const release = stopOnInterrupt(() => down(base, (l) => log(`  ${l.trim()}`)), log);
  try {
    for (let i = 1; i <= flags.repeat; i++) {
      if (flags.repeat > 1) log(`━━ run ${i} of ${flags.repeat} ━━`);
      runs.push(await runOnce(base, flags, log, { profile: Boolean(flags.profile) && i === 1, dir: flags.repeat > 1 ? join(flags.reportDir, `run-${i}`) : flags.reportDir }));
    }
  } finally {
    release();
  }
  const figures = summarizeRuns(runs);
  const invalidReasons = runs.flatMap((r, i) => r.invalidReasons.map((reason) => (flags.repeat > 1 ? `run ${i + 1}: ${reason}` : reason)));
  const report: BenchReport = {
    benchmark: 'overload',
    startedAt,
    durationS: Math.round((Date.now() - t0) / 1000),
    machine: runs[0]!.machine,
    mode: runs[0]!.mode,
    objectiveMs: flags.objectiveMs,
    repeat: flags.repeat,
    valid: invalidReasons.length === 0,
    invalidReasons,
    figures,
    goals: benchGoals(figures),
    runs,
  };
  writeFileSync(join(flags.reportDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(flags.reportDir, 'report.html'), renderBenchReport(report));
  log('');
  log(`capacity C = ${runs.map((r) => r.capacity.capacityRps).join(', ')}/s · ${report.durationS} s in all · ${report.valid ? 'valid' : `INVALID: ${invalidReasons.join('; ')}`}`);
  for (const g of report.goals) log(`  ${g.met === true ? '✔' : g.met === false ? '✘' : '–'} ${g.name}: ${g.observed} (goal ${g.target})${g.gap ? `, ${g.gap}` : ''}`);
  log(`report: ${join(flags.reportDir, 'report.html')}  figures: ${join(flags.reportDir, 'bench.json')}`);
  if (flags.json) console.log(JSON.stringify(report));
  return report.valid ? 0 : 1;
}

/** One run of every phase, on stacks it starts and stops itself. */
async function runOnce(base: RuntimeOptions, flags: Flags, log: Log, opts: { profile: boolean; dir: string }): Promise<BenchResult> {
  const quick = Boolean(flags.quick);
  const stepS = quick ? 6 : 8;
  const trials = quick ? 3 : 5;
  const t0 = Date.now();
  const notes: string[] = [
    'Resilience is a start-up setting of every service, so the resilience-off phase runs on the same layout and ports, restarted with FAULTLINE_RESILIENCE=off, in the same run.',
    "The per-key rate limit is raised (RATE_LIMIT_RPS=100000) and the per-client admission share turned off in phases 1 to 4, so that capacity measures the shop, not one client's quota; the fairness phase runs with the shop's own settings.",
    "k6 dropping over 1% of its arrivals while it had VUs to spare, or using over 0.9 core, at any step with resilience on makes the run invalid. Every VU is made before the load starts; it had VUs to spare when rate × the step's slowest answer is under its VUs. Otherwise the shop may have held every VU waiting on answers: those drops count against goodput. With resilience off, drops are reported, not disqualifying: they are the collapse being shown.",
  ];
  const raised = { ...base.settings, gateway: { ...base.settings.gateway, RATE_LIMIT_RPS: '100000', RATE_LIMIT_BURST: '100000', ADMISSION_CLIENT_SHARE_PERCENT: '100' } };
  const profileDir = join(opts.dir, 'profiles');
  const quiet = (l: string) => log(`  ${l.trim()}`);
  const result: BenchResult = {
    benchmark: 'overload',
    startedAt: new Date().toISOString(),
    durationS: 0,
    machine: { cores: availableParallelism(), memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version },
    mode: quick ? 'quick' : 'full',
    objectiveMs: flags.objectiveMs,
    multiples: [0.5, 1, 3, 10],
    valid: false,
    invalidReasons: [],
    capacity: { capacityRps: 0, objectiveMs: flags.objectiveMs, steps: [], valid: false, invalidReasons: [] },
    overload: {},
    notes,
  };
  const bring = async (resilience: 'on' | 'off', settings: RuntimeOptions['settings']) => {
    log(`starting the stack with resilience ${resilience} (port base ${base.portBase}, state ${base.stateDir})`);
    const s = await up({ ...base, resilience, settings }, quiet);
    const target: BenchTarget = { portBase: base.portBase, stateDir: base.stateDir, gateway: s.urls.gateway, apiKey: s.apiKeys.load!, dir: join(opts.dir, 'k6'), run: `bench-${Date.now().toString(36)}`, objectiveMs: flags.objectiveMs };
    const orderUrls = s.components.filter((c) => c.service === 'orders').map((c) => c.url!);
    const gatewayReplica = s.components.find((c) => c.name === 'gateway-0')!.url!;
    return { s, target, orderUrls, gatewayReplica };
  };
  try {
    const on = await bring('on', raised);
    log(`phase 1/6: capacity (p99 of admitted orders ≤ ${flags.objectiveMs} ms, errors < 1%)`);
    await warmUp(on.target, on.orderUrls, log);
    result.capacity = await findCapacity(on.target, on.orderUrls, { start: 25, maxSteps: quick ? 5 : 7, stepS }, log);
    const C = result.capacity.capacityRps;
    log(`  capacity C = ${C}/s${result.capacity.valid ? '' : ` (INVALID: ${result.capacity.invalidReasons.join('; ')})`}`);
    if (C > 0) {
      log(`phase 2/6: goodput under overload, resilience on (${result.multiples.join('×, ')}× C)`);
      result.overload.on = await overload(on.target, on.orderUrls, 'on', C, result.multiples, stepS, log);
      log(`phase 3/6: detection and recovery, ${trials} trials`);
      result.timings = await measureTimings(base, { kafka: on.s.urls.kafka, gateway: on.s.urls.gateway, gatewayReplica: on.gatewayReplica, orderReplicas: on.orderUrls, apiKey: on.target.apiKey }, trials, Math.max(5, Math.min(40, Math.round(C / 2))), log);
      log(`phase 4/6: middleware overhead, full gateway against a bare pass-through, at ${Math.max(5, Math.round(C * 0.7))}/s`);
      result.overhead = await measureOverhead(on.target, Math.max(5, Math.round(C * 0.7)), stepS, log);
      await down(base, quiet);
      // Profiled here, not in phases 1 to 4, whose figures (the middleware cost above all) the profiler would skew.
      // --cpu-prof writes the profile when the gateway exits, at the stack's `down`.
      if (opts.profile) mkdirSync(profileDir, { recursive: true });
      const shopSettings = opts.profile ? { ...base.settings, gateway: { ...base.settings.gateway, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } } : base.settings;
      const shop = await bring('on', shopSettings);
      log(`phase 5/6: fairness, with the shop's own per-key quota and per-client share: the \`local\` client at half its quota, alone, then while \`load\` offers 10×C${opts.profile ? ' (the gateway CPU-profiled)' : ''}`);
      await warmUp(shop.target, shop.orderUrls, log);
      const quota = Number(base.settings.gateway?.RATE_LIMIT_RPS ?? 50);
      result.fairness = await measureFairness({ ...shop.target, apiKey: shop.s.apiKeys.local!, client: 'local' }, shop.target, { gateway: shop.gatewayReplica, orders: shop.orderUrls }, { quietRps: Math.max(1, Math.round(quota / 2)), floodRps: C * 10, stepS }, log);
      await down(base, quiet);
      if (opts.profile) result.gatewayProfile = gatewayProfileOf(profileDir, result.fairness.flood);
      const off = await bring('off', raised);
      log(`phase 2/6 (continued): goodput under overload, resilience off`);
      await warmUp(off.target, off.orderUrls, log);
      result.overload.off = await overload(off.target, off.orderUrls, 'off', C, [1, 3, 10], stepS, log);
      await down(base, quiet);
      log(`starting the HA topology (port base ${base.portBase})`);
      const ha = await up({ ...base, topology: 'ha', resilience: 'on', settings: raised }, quiet);
      log(`phase 6/6: failover on the HA topology, ${trials} trials each: kill the Redis primary, then the Kafka leader, under 20 orders/s`);
      result.failover = await measureFailover(base, { gateway: ha.urls.gateway, apiKey: ha.apiKeys.load! }, trials, 20, log);
    }
  } catch (err) {
    result.invalidReasons.push(`the run broke: ${(err as Error).message}`);
    log(`faultline bench: ${(err as Error).message}`);
  } finally {
    await down(base, quiet);
  }
  result.invalidReasons.push(...result.capacity.invalidReasons, ...k6LimitedSteps(result).filter((l) => !result.capacity.invalidReasons.some((c) => l.includes(c))));
  result.valid = result.invalidReasons.length === 0;
  result.durationS = Math.round((Date.now() - t0) / 1000);
  if (result.timings) result.notes.push(...result.timings.notes);
  if (result.failover) result.notes.push(...result.failover.notes);
  result.notes.push(
    k6Priority.refused === 0
      ? `k6 ran ahead of the shop for CPU (nice ${k6Priority.niceness}), as clients on other machines would: its figures are the shop's on what k6 leaves of the cores.`
      : `k6's priority could not be raised (${k6Priority.refused} of ${k6Priority.raised + k6Priority.refused} steps; it needs CAP_SYS_NICE): it shared the cores with the shop as an equal.`,
  );
  for (const s of result.overload.off?.steps ?? []) if (s.k6Limits.length) result.notes.push(`resilience off ${s.multiple}×C: ${s.k6Limits.join('; ')} (goodput there is a lower bound)`);
  return result;
}

/** The newest profile of a gateway's main thread in the folder, summarized over the given step. */
function gatewayProfileOf(dir: string, step: StepResult | undefined): BenchResult['gatewayProfile'] {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main one (the others are the module loader's).
  const files = readdirSync(dir).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort();
  if (!step || files.length === 0) return undefined;
  const file = join(dir, files.at(-1)!);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return { file, step: step.label, ...summarizeProfile(profile, ...step.monotonicUs) };
}
