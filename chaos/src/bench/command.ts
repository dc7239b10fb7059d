// `faultline bench overload`: capacity, goodput under overload (resilience on and off), detection and recovery
// timings, middleware overhead, and failover of Redis and Kafka on the HA topology, on the local runtime with k6's open-model executors. Goals are reported with
// their gaps, never asserted: the exit code is 0 for a valid run, 1 when k6 (not the shop) limited the capacity
// search or the run broke, 2 on bad input.
import { writeFileSync } from 'node:fs';
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
import { warmUp, type BenchTarget } from './step.ts';
import { kitchenSessionTimeoutMs, measureTimings, type TimingsResult } from './timings.ts';
import { measureFailover, type FailoverResult } from './failover.ts';

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
  timings?: TimingsResult;
  overhead?: OverheadResult;
  failover?: FailoverResult;
  goals: Goal[];
  notes: string[];
}

export const benchFlags = z.strictObject({
  json: z.boolean().optional(),
  quick: z.boolean().optional(),
  reportDir: z.string().min(1).optional(),
  objectiveMs: z.coerce.number().int().min(50).max(10_000).optional(),
});
export type BenchFlags = z.infer<typeof benchFlags>;

/** Flags checked before anything starts: a bad value or an unwritable report directory is a UsageError (exit 2). */
export function checkBenchFlags(flags: Record<string, unknown>, stateDir: string) {
  const parsed = benchFlags.safeParse(flags);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('\n'));
  const reportDir = writableReportDir(parsed.data.reportDir ?? join(stateDir, 'reports', 'bench'));
  return { ...parsed.data, reportDir, objectiveMs: parsed.data.objectiveMs ?? 1500 };
}

/** The goals from the issue, each met or missed by how much. */
export function benchGoals(r: Pick<BenchResult, 'overload' | 'timings' | 'overhead' | 'failover'>): Goal[] {
  const at = (mode: 'on' | 'off', m: number) => r.overload[mode]?.steps.find((s) => s.multiple === m)?.goodputFraction;
  return [
    atLeast('resilience on: goodput at 3×C', at('on', 3), 0.9),
    atLeast('resilience on: goodput at 10×C', at('on', 10), 0.75),
    atMost('resilience off: goodput at 10×C falls well below (at most half of C)', at('off', 10), 0.5, '·C', 2),
    atMost('catalog breaker opens after a cut, p95', r.timings?.breakerOpenMs.p95Ms, 1000, ' ms'),
    atMost(`frozen kitchen worker evicted from its group, p95 (1.5× its ${kitchenSessionTimeoutMs / 1000} s session)`, r.timings?.pauseEvictMs.p95Ms, 1.5 * kitchenSessionTimeoutMs, ' ms'),
    atMost('Redis primary killed → the shop serving again, p95 (HA topology)', r.failover?.redisServingMs.p95Ms, 10_000, ' ms'),
    atMost('Kafka leader killed → the shop serving again, p95 (HA topology)', r.failover?.kafkaServingMs.p95Ms, 5000, ' ms'),
    atMost('middleware cost, share of gateway throughput per core', r.overhead?.overheadFraction === undefined ? undefined : r.overhead.overheadFraction * 100, 20, '%', 1),
  ];
}

export async function runBenchCommand(base: RuntimeOptions, rawFlags: Record<string, unknown>): Promise<number> {
  const flags = checkBenchFlags(rawFlags, base.stateDir);
  if (await stackStatus(base)) throw new UsageError(`a stack is already running in ${base.stateDir}: the bench starts its own (with the per-key rate limit raised); stop it with \`faultline down\` or choose another --state-dir and --port-base`);
  const log = (line: string) => (flags.json ? process.stderr.write(`${line}\n`) : console.log(line));
  const quick = Boolean(flags.quick);
  const stepS = quick ? 6 : 8;
  const trials = quick ? 3 : 5;
  const multiples = [1, 3, 10];
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const notes: string[] = [
    'Resilience is a start-up setting of every service, so the resilience-off phase runs on the same layout and ports, restarted with FAULTLINE_RESILIENCE=off, in the same run.',
    "The per-key rate limit is raised (RATE_LIMIT_RPS=100000) so that capacity measures the shop, not one client's quota.",
  ];
  // Not the bench's concern: a stack whose rate limit or per-client share would throttle the load key, the one client
  // it offers the whole load from (its figures are the shop's, not one client's).
  const settings = { ...base.settings, gateway: { ...base.settings.gateway, RATE_LIMIT_RPS: '100000', RATE_LIMIT_BURST: '100000', ADMISSION_CLIENT_SHARE_PERCENT: '100' } };
  const quiet = (l: string) => log(`  ${l.trim()}`);
  const result: BenchResult = {
    benchmark: 'overload',
    startedAt,
    durationS: 0,
    machine: { cores: availableParallelism(), memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version },
    mode: quick ? 'quick' : 'full',
    objectiveMs: flags.objectiveMs,
    multiples,
    valid: false,
    invalidReasons: [],
    capacity: { capacityRps: 0, objectiveMs: flags.objectiveMs, steps: [], valid: false, invalidReasons: [] },
    overload: {},
    goals: [],
    notes,
  };
  const bring = async (resilience: 'on' | 'off') => {
    log(`starting the stack with resilience ${resilience} (port base ${base.portBase}, state ${base.stateDir})`);
    const s = await up({ ...base, resilience, settings }, quiet);
    const target: BenchTarget = { portBase: base.portBase, gateway: s.urls.gateway, apiKey: s.apiKeys.load!, dir: join(flags.reportDir, 'k6'), run: `bench-${Date.now().toString(36)}`, objectiveMs: flags.objectiveMs };
    const orderUrls = s.components.filter((c) => c.service === 'orders').map((c) => c.url!);
    const gatewayReplica = s.components.find((c) => c.name === 'gateway-0')!.url!;
    return { s, target, orderUrls, gatewayReplica };
  };
  try {
    const on = await bring('on');
    log(`phase 1/5: capacity (p99 of admitted orders ≤ ${flags.objectiveMs} ms, errors < 1%)`);
    await warmUp(on.target, on.orderUrls, log);
    result.capacity = await findCapacity(on.target, on.orderUrls, { start: 25, maxSteps: quick ? 5 : 7, stepS }, log);
    const C = result.capacity.capacityRps;
    log(`  capacity C = ${C}/s${result.capacity.valid ? '' : ` (INVALID: ${result.capacity.invalidReasons.join('; ')})`}`);
    if (C > 0) {
      log(`phase 2/5: goodput under overload, resilience on (${multiples.join('×, ')}× C)`);
      result.overload.on = await overload(on.target, on.orderUrls, 'on', C, multiples, stepS, log);
      log(`phase 3/5: detection and recovery, ${trials} trials`);
      result.timings = await measureTimings(base.portBase, { kafka: on.s.urls.kafka, gateway: on.s.urls.gateway, gatewayReplica: on.gatewayReplica, orderReplicas: on.orderUrls, apiKey: on.target.apiKey }, trials, Math.max(5, Math.min(40, Math.round(C / 2))), log);
      log(`phase 4/5: middleware overhead, full gateway against a bare pass-through, at ${Math.max(5, Math.round(C * 0.7))}/s`);
      result.overhead = await measureOverhead(on.target, Math.max(5, Math.round(C * 0.7)), stepS, log);
      await down(base, quiet);
      const off = await bring('off');
      log(`phase 2/5 (continued): goodput under overload, resilience off`);
      await warmUp(off.target, off.orderUrls, log);
      result.overload.off = await overload(off.target, off.orderUrls, 'off', C, multiples, stepS, log);
      await down(base, quiet);
      log(`starting the HA topology (port base ${base.portBase})`);
      const ha = await up({ ...base, topology: 'ha', resilience: 'on', settings }, quiet);
      log(`phase 5/5: failover on the HA topology, ${trials} trials each: kill the Redis primary, then the Kafka leader, under 20 orders/s`);
      result.failover = await measureFailover(base.portBase, { gateway: ha.urls.gateway, apiKey: ha.apiKeys.load! }, trials, 20, log);
    }
  } catch (err) {
    result.invalidReasons.push(`the run broke: ${(err as Error).message}`);
    log(`faultline bench: ${(err as Error).message}`);
  } finally {
    await down(base, quiet);
  }
  result.invalidReasons.push(...result.capacity.invalidReasons);
  result.valid = result.invalidReasons.length === 0;
  result.goals = benchGoals(result);
  result.durationS = Math.round((Date.now() - t0) / 1000);
  if (result.timings) result.notes.push(...result.timings.notes);
  if (result.failover) result.notes.push(...result.failover.notes);
  for (const mode of ['on', 'off'] as const)
    for (const s of result.overload[mode]?.steps ?? []) if (s.k6Limits.length) result.notes.push(`resilience ${mode} ${s.multiple}×C: ${s.k6Limits.join('; ')} (goodput there is a lower bound)`);

  writeFileSync(join(flags.reportDir, 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(flags.reportDir, 'report.html'), renderBenchReport(result));
  log('');
  log(`capacity C = ${result.capacity.capacityRps}/s · ${result.durationS} s in all · ${result.valid ? 'valid' : `INVALID: ${result.invalidReasons.join('; ')}`}`);
  for (const g of result.goals) log(`  ${g.met === true ? '✔' : g.met === false ? '✘' : '–'} ${g.name}: ${g.observed} (goal ${g.target})${g.gap ? `, ${g.gap}` : ''}`);
  log(`report: ${join(flags.reportDir, 'report.html')}  figures: ${join(flags.reportDir, 'bench.json')}`);
  if (flags.json) console.log(JSON.stringify(result));
  return result.valid ? 0 : 1;
}
