// One k6 step of the benchmark: a constant arrival rate for a few seconds, with the CPU that k6 and the shop used.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStat } from '../core/host.ts';
import { metricsText, readMetric } from '../core/prometheus.ts';
import { startK6 } from '../platforms/local/k6.ts';
import { fetchStatus } from '../platforms/local/runtime.ts';
import type { StackAddress } from '../platforms/local/layout.ts';
import { k6Bottleneck, type StepCounts } from './stats.ts';

const ticksPerSecond = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const fields = procStat(pid);
  return fields && (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime and stime are fields 14 and 15
}

export interface BenchTarget {
  portBase: number;
  stateDir: string;
  gateway: string;
  /** The secret key k6 sends, and the name of its client (`load` unless said otherwise). */
  apiKey: string;
  client?: 'load' | 'local';
  dir: string;
  run: string;
  objectiveMs: number;
}

/** The shop's processes (replicas, Redis, Kafka, Toxiproxy), by name: not Prometheus or Jaeger, which watch it. */
export async function shopPids(stack: StackAddress): Promise<Record<string, number>> {
  const s = await fetchStatus(stack);
  if (!s) throw new Error(`the stack on port base ${stack.portBase} does not answer`);
  return Object.fromEntries(s.components.filter((c) => c.pid && !['prometheus', 'jaeger'].includes(c.name)).map((c) => [c.name, c.pid!]));
}

export const sumCpu = (pids: Record<string, number>) => Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, cpuSeconds(p) ?? 0]));

export interface StepResult extends StepCounts {
  label: string;
  /** k6's CPU over the step, in cores. */
  k6Cores: number;
  /** Shop CPU seconds over the step, all processes, and the gateway's alone. */
  shopCpuS: number;
  gatewayCpuS: number;
  /** CPU seconds over the step by process (gateway-0, orders-1, redis, kafka, toxiproxy, …). */
  processCpuS: Record<string, number>;
  /** Why k6 may have been the bottleneck; empty when it was not. */
  k6Limits: string[];
  /** The step's span on the monotonic clock in µs, which V8's CPU profiles also use. */
  monotonicUs: [number, number];
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * k6 stands in for clients on other machines, whom the shop's load does not slow down: it runs ahead of the shop for
 * CPU (nice −5), so that it offers the load it was asked for. It is started at that niceness, since Linux keeps one per
 * thread and a niceness raised after k6 starts reaches only its main thread, not the Go runtime's other threads.
 * Raising a priority needs CAP_SYS_NICE; without it nice starts k6 as it is, and its drops say when that was too
 * little. Each step reads the niceness its k6 has (/proc), counted here for the report's notes.
 */
export const k6Priority = { niceness: -5, raised: 0, refused: 0 };
/** k6's niceness as it runs: /proc/<pid>/stat's 19th field. */
const nicenessOf = (pid: number | undefined) => Number(procStat(pid!)?.[16]);

export async function runStep(t: BenchTarget, label: string, rate: number, durationS: number, opts: { gatewayUrl?: string; gatewayPid?: number; started?: () => void; wholeLoad?: boolean } = {}): Promise<StepResult> {
  const pids = await shopPids(t);
  const gatewayPid = opts.gatewayPid ?? pids['gateway-0']!;
  const before = sumCpu(pids);
  const gwBefore = cpuSeconds(gatewayPid) ?? 0;
  process.env.FAULTLINE_OBJECTIVE_MS = String(t.objectiveMs); // read by chaos/load/bench.js (startK6 passes the environment on)
  const maxVUs = vusFor(rate);
  const started = Date.now();
  const startedUs = monotonicUs();
  const k6 = await startK6(
    { script: 'bench.js', executor: 'constant-arrival-rate', rate, duration: durationS * 1000, maxVUs, preAllocatedVUs: maxVUs, apiKey: t.client ?? 'load' },
    { name: label, gateway: opts.gatewayUrl ?? t.gateway, apiKey: t.apiKey, run: t.run, dir: t.dir, niceness: k6Priority.niceness },
  );
  let k6Cpu = 0;
  let k6Niceness = NaN;
  // k6's CPU counts from when its load starts, not while it makes its VUs (about 0.4 ms of CPU each).
  let offering: { since: number; cpuS: number } | undefined;
  let asking = false;
  const sampler = setInterval(() => {
    k6Cpu = cpuSeconds(k6.pid!) ?? k6Cpu;
    const niceness = nicenessOf(k6.pid); // the last reading while it runs: nice sets it just before k6 starts
    if (!Number.isNaN(niceness)) k6Niceness = niceness;
    if (offering || asking) return;
    asking = true;
    void k6.started().then((yes) => {
      if (yes && !offering) {
        offering = { since: Date.now(), cpuS: cpuSeconds(k6.pid!) ?? k6Cpu };
        opts.started?.();
      }
      asking = false;
    });
  }, 250);
  await k6.done().catch((err: Error) => {
    clearInterval(sampler);
    throw err;
  });
  clearInterval(sampler);
  if (k6Niceness === k6Priority.niceness) k6Priority.raised++;
  else k6Priority.refused++;
  const wallS = (Date.now() - started) / 1000;
  const offeringS = (Date.now() - (offering?.since ?? started)) / 1000;
  const endedUs = monotonicUs();
  const after = sumCpu(pids);
  const processCpuS = Object.fromEntries(Object.keys(pids).map((n) => [n, Math.round(Math.max(0, after[n]! - before[n]!) * 100) / 100]));
  const shopCpuS = Object.values(processCpuS).reduce((sum, v) => sum + v, 0);
  const gatewayCpuS = Math.max(0, (cpuSeconds(gatewayPid) ?? gwBefore) - gwBefore);
  const file = join(t.dir, `${label}.summary.json`);
  if (!existsSync(file)) throw new Error(`k6 left no summary for ${label}`);
  const m = (JSON.parse(readFileSync(file, 'utf8')) as { metrics: Record<string, Record<string, number> | undefined> }).metrics;
  const count = (name: string) => m[name]?.count ?? 0;
  const counts: StepCounts = {
    offeredRps: rate,
    durationS,
    iterations: count('iterations'),
    dropped: count('dropped_iterations'),
    ok: count('bench_2xx'),
    good: count('bench_good'),
    limited: count('bench_429'),
    shed: count('bench_503'),
    serverErrors: count('bench_5xx_other'),
    clientErrors: count('bench_4xx_other'),
    noResponse: count('bench_no_response'),
    ...(m.bench_admitted_ms?.['p(99)'] !== undefined ? { admittedP99Ms: Math.round(m.bench_admitted_ms['p(99)']) } : {}),
    ...(m.iteration_duration?.max !== undefined ? { slowestIterationMs: Math.round(m.iteration_duration.max) } : {}),
    maxVUs,
  };
  const k6Cores = (k6Cpu - (offering?.cpuS ?? 0)) / Math.max(offeringS, 1);
  return { label, ...counts, k6Cores: Math.round(k6Cores * 100) / 100, shopCpuS: Math.round(shopCpuS * 100) / 100, gatewayCpuS: Math.round(gatewayCpuS * 100) / 100, processCpuS, k6Limits: k6Bottleneck(counts, k6Cores, { wholeLoad: opts.wholeLoad }), monotonicUs: [startedUs, endedUs] };
}

/**
 * Every VU is made before the load starts: k6 makes missing ones one at a time and drops every arrival meanwhile,
 * which measured k6, not the shop. A second of arrivals: k6 hands arrivals to its free VUs in turn and each VU keeps
 * its own connection, so twice as many made a flood open twice the connections, and k6 dropped a quarter of it
 * (measured: 2807 of 12,001 at 1500/s). At least 100, so that a slow client's few arrivals have VUs to wait in.
 */
export const vusFor = (rate: number) => Math.min(3000, Math.max(100, Math.ceil(rate)));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sums a metric over replicas' /metrics (optionally matching label pairs), read directly without waiting for a scrape. */
export async function scrape(url: string, metric: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await metricsText(url);
  return text === undefined ? undefined : readMetric(text, metric, labels);
}


/** Waits (bounded) until kitchen's lag is back under a few orders, so that one step's backlog does not refuse the next. */
export async function drainLag(orderUrls: string[], maxMs = 20_000) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const lags = await Promise.all(orderUrls.map((u) => scrape(u, 'kafka_consumergroup_lag')));
    if (lags.every((l) => (l ?? 0) <= 5)) return;
    await sleep(500);
  }
}

/** A few seconds of light load before measuring, so that a cold stack (JIT, connection pools, Kafka metadata) does not fail a step that a warm one passes. */
export async function warmUp(t: BenchTarget, orderUrls: string[], print: (l: string) => void, rate = 20, durationS = 5) {
  print(`  warm-up: ${rate}/s for ${durationS} s (not measured)`);
  await runStep(t, `warmup-${Date.now().toString(36)}`, rate, durationS);
  await drainLag(orderUrls);
}
