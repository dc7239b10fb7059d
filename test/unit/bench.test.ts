import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchGoals, checkBenchFlags, k6LimitedSteps, type BenchResult } from '../../chaos/src/bench/command.ts';
import { cpuPerOrderMs, medianOf, summarizeRuns } from '../../chaos/src/bench/figures.ts';
import { packageOf, summarizeProfile, type CpuProfile } from '../../chaos/src/bench/profile.ts';
import type { OverloadStep } from '../../chaos/src/bench/overload.ts';
import { atLeast, atMost, capacityOf, distribution, errorRate, goodputFraction, k6Bottleneck, median, nextRate, p95, quantile, refusedCostRatio, servingAgainMs, withinObjective, type StepCounts } from '../../chaos/src/bench/stats.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { readMetric } from '../../chaos/src/core/prometheus.ts';
import { tempDir } from '../support/temp.ts';

const step = (over: Partial<StepCounts> = {}): StepCounts => ({ offeredRps: 100, durationS: 10, iterations: 1000, dropped: 0, ok: 1000, good: 1000, limited: 0, shed: 0, serverErrors: 0, clientErrors: 0, noResponse: 0, admittedP99Ms: 200, ...over });

describe('bench statistics', () => {
  it('computes median and p95 by interpolation, and nothing from no samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(p95(Array.from({ length: 101 }, (_, i) => i))).toBe(95);
    expect(quantile([], 0.5)).toBeUndefined();
    expect(distribution([100.4, 300, 200])).toEqual({ n: 3, medianMs: 200, p95Ms: 290, samplesMs: [100, 300, 200] });
  });

  it('times serving again after a failover from the last refused or slow request sent, not the first success', () => {
    const a = (sentAt: number, ms: number, ok: boolean) => ({ sentAt, at: sentAt + ms, ok });
    const kill = 1000;
    const answers = [
      a(900, 50, true), // before the kill: ignored
      a(1100, 40, true), // another partition's order still gets through
      a(1200, 4000, true), // held for 4 s, then acknowledged: slow
      a(2000, 3000, false), // refused after 3 s: the last bad one sent
      a(2500, 60, true),
      a(3000, 50, true),
    ];
    expect(servingAgainMs(answers, kill, 1000)).toBe(2560 - kill);
    expect(servingAgainMs([a(1100, 30, true)], kill, 1000)).toBe(130);
    expect(servingAgainMs([a(1100, 30, false)], kill, 1000)).toBeUndefined();
  });

  it('counts goodput as 2xx within the objective, as a fraction of C', () => {
    expect(goodputFraction(step({ good: 900 }), 100)).toBeCloseTo(0.9);
    expect(goodputFraction(step(), 0)).toBe(0);
  });

  it('counts dropped arrivals and non-2xx as errors, and judges the objective on p99 and errors', () => {
    expect(errorRate(step({ ok: 990, dropped: 10 }))).toBeCloseTo(20 / 1010);
    expect(withinObjective(step(), 1500)).toBe(true);
    expect(withinObjective(step({ ok: 985 }), 1500)).toBe(false);
    expect(withinObjective(step({ admittedP99Ms: 1600 }), 1500)).toBe(false);
  });

  it('flags k6 as the bottleneck on dropped arrivals or CPU', () => {
    expect(k6Bottleneck({ offeredRps: 100, iterations: 1000, dropped: 0 }, 0.3)).toEqual([]);
    expect(k6Bottleneck({ offeredRps: 100, iterations: 900, dropped: 100 }, 0.3)).toHaveLength(1);
    expect(k6Bottleneck({ offeredRps: 100, iterations: 1000, dropped: 0 }, 1.2)).toEqual(['k6 used 1.20 cores']);
    // Drops with every VU waiting on an answer are the shop's slowness, not k6's: they count against goodput instead.
    // 100/s with answers up to 5 s may hold 500 VUs: with 300, its drops may be the shop's
    expect(k6Bottleneck({ offeredRps: 100, iterations: 900, dropped: 100, slowestIterationMs: 5000, maxVUs: 300 }, 0.3)).toEqual([]);
    // with answers up to 2 s at most 200 are busy: with 300, a drop is k6's own
    expect(k6Bottleneck({ offeredRps: 100, iterations: 900, dropped: 100, slowestIterationMs: 2000, maxVUs: 300 }, 0.3)).toEqual(['k6 dropped 100 of 1000 arrivals']);
    // a load that must be offered whole (the fairness flood) is k6-bound by its drops, whoever held its VUs
    expect(k6Bottleneck({ offeredRps: 100, iterations: 900, dropped: 100, slowestIterationMs: 5000, maxVUs: 300 }, 0.3, { wholeLoad: true })).toEqual(['k6 dropped 100 of 1000 arrivals']);
  });

  it('searches capacity by doubling, then bisecting', () => {
    const o = { start: 25, maxSteps: 6, resolution: 5, maxRate: 5000 };
    expect(nextRate([], o)).toBe(25);
    expect(nextRate([{ rate: 25, pass: true }], o)).toBe(50);
    expect(nextRate([{ rate: 25, pass: true }, { rate: 50, pass: true }, { rate: 100, pass: false }], o)).toBe(75);
    expect(nextRate([{ rate: 25, pass: true }, { rate: 50, pass: true }, { rate: 100, pass: false }, { rate: 75, pass: false }], o)).toBe(63);
    expect(nextRate([{ rate: 50, pass: true }, { rate: 54, pass: false }], o)).toBeUndefined();
    expect(nextRate([{ rate: 25, pass: false }], o)).toBe(13);
    expect(capacityOf([{ rate: 25, pass: true }, { rate: 75, pass: false }, { rate: 50, pass: true }])).toBe(50);
    expect(capacityOf([{ rate: 25, pass: false }])).toBe(0);
  });

  it('prices a refused request against a served one', () => {
    // 1×: 10 CPU-s for 1000 served (10 ms each); 10×: 1000 served and 9000 refused for 19 CPU-s → 1 ms per refusal.
    expect(refusedCostRatio({ cpuS: 10, served: 1000 }, { cpuS: 19, served: 1000, refused: 9000 })).toBeCloseTo(0.1);
    expect(refusedCostRatio({ cpuS: 10, served: 0 }, { cpuS: 19, served: 1000, refused: 9000 })).toBeUndefined();
  });

  it('reports goals with their gaps', () => {
    expect(atLeast('g', 0.8, 0.9)).toMatchObject({ met: false, gap: '0.10·C short (11% below the goal)' });
    expect(atLeast('g', 0.95, 0.9)).toMatchObject({ met: true });
    expect(atMost('t', 1300, 1000, ' ms')).toMatchObject({ met: false, gap: '300 ms over (30% above the goal)' });
    expect(atMost('t', undefined, 1000, ' ms')).toMatchObject({ met: 'n/a' });
    const goals = benchGoals([]);
    expect(goals).toHaveLength(10);
    expect(goals.every((g) => g.met === 'n/a')).toBe(true);
  });
});

const stepResult = (label: string, multiple: number, over: Partial<OverloadStep> = {}): OverloadStep => ({
  ...step(),
  label,
  multiple,
  goodputRps: 100,
  goodputFraction: 1,
  errorRate: 0,
  k6Cores: 0.2,
  shopCpuS: 1,
  gatewayCpuS: 0.5,
  processCpuS: {},
  k6Limits: [],
  monotonicUs: [0, 1] as [number, number],
  ...over,
});

/** A run with the given goodput at 10×C, p99s at 0.5× and 10×, and fairness. */
function run(goodput10: number, p99half: number, p99ten: number, kept: number, over: Partial<BenchResult> = {}): BenchResult {
  return {
    benchmark: 'overload',
    startedAt: '',
    durationS: 1,
    machine: { cores: 2, memGiB: 24, kernel: '', node: '' },
    mode: 'full',
    objectiveMs: 1500,
    multiples: [0.5, 1, 3, 10],
    valid: true,
    invalidReasons: [],
    capacity: { capacityRps: 100, objectiveMs: 1500, steps: [], valid: true, invalidReasons: [] },
    overload: { on: { resilience: 'on', steps: [stepResult('h', 0.5, { admittedP99Ms: p99half }), stepResult('t', 10, { goodputFraction: goodput10, admittedP99Ms: p99ten })] } },
    fairness: { quietRps: 25, floodRps: 1000, keptFraction: kept, alone: stepResult('a', 0), flooded: stepResult('f', 0), flood: stepResult('x', 0), refusals: { quietByStatus: { '201': 10 }, quietRateLimited: 0, gatewayShed: { client_share: 5, overload: 0, deadline: 0 }, ordersShed: { kitchen_lag: 0, deadline: 0 } } },
    notes: [],
    ...over,
  };
}

describe('bench figures over repeated runs', () => {
  it('reports the median and min–max of every figure, and judges the goals on the medians', () => {
    const figures = summarizeRuns([run(0.5, 40, 100, 0.99), run(0.8, 50, 90, 0.9), run(0.9, 45, 200, 0.97)]);
    expect(figures.find((f) => f.name === 'resilience on: goodput at 10×C')).toMatchObject({ values: [0.5, 0.8, 0.9], median: 0.8, min: 0.5, max: 0.9 });
    expect(medianOf(figures, 'resilience on: admitted p99 at 10×C over p99 at 0.5×C')).toBe(2.5); // 2.5, 1.8 and 4.44
    const goals = Object.fromEntries(benchGoals(figures).map((g) => [g.name, g]));
    expect(goals['resilience on: goodput at 10×C']).toMatchObject({ met: true, observed: '0.80·C' });
    expect(goals['resilience on: admitted p99 at 10×C, as a multiple of the p99 at 0.5×C']).toMatchObject({ met: false, gap: '0.50× over (25% above the goal)' });
    expect(goals['a client at half its quota keeps its goodput while another key offers 10×C']).toMatchObject({ met: true, observed: '0.97×' });
  });

  it('prices CPU per order by service, summing its replicas', () => {
    expect(cpuPerOrderMs({ 'gateway-0': 1, 'orders-0': 0.5, 'orders-1': 0.5, redis: 0.2 }, 500)).toEqual({ gateway: 2, orders: 2, redis: 0.4 });
    expect(cpuPerOrderMs({ 'gateway-0': 1 }, 0)).toEqual({ gateway: 0 });
  });

  it('makes a run invalid when k6 limited any resilience-on step, not only the capacity search', () => {
    expect(k6LimitedSteps(run(0.5, 40, 100, 0.99))).toEqual([]);
    const limited = run(0.5, 40, 100, 0.99);
    limited.overload.on!.steps[1]!.k6Limits = ['k6 dropped 110 of 1000 arrivals'];
    limited.fairness!.flood.k6Limits = ['k6 used 0.95 cores'];
    expect(k6LimitedSteps(limited)).toEqual(['t: k6 dropped 110 of 1000 arrivals', 'x: k6 used 0.95 cores']);
    // With resilience off, drops are the collapse being shown: reported, not disqualifying.
    const off = run(0.5, 40, 100, 0.99, { overload: { off: { resilience: 'off', steps: [stepResult('o', 10, { k6Limits: ['k6 dropped 6000 of 10000 arrivals'] })] } } });
    expect(k6LimitedSteps(off)).toEqual([]);
  });
});

describe('gateway CPU profile', () => {
  // Three frames: root → handler (service code) → json (a package); samples 1 ms apart from t=1000 µs.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'handler', url: 'file:///repo/services/gateway/src/main.ts', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: 'parse', url: 'file:///repo/node_modules/body-parser/lib/json.js', lineNumber: 0 } },
      { id: 4, callFrame: { functionName: 'emit', url: 'node:events', lineNumber: 4 } },
    ],
    startTime: 1000,
    samples: [2, 3, 3, 4, 3, 2],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
  };

  it('names the package of a frame', () => {
    expect(packageOf('file:///a/node_modules/@opentelemetry/sdk-trace-base/build/x.js', 'f')).toBe('@opentelemetry/sdk-trace-base');
    expect(packageOf('node:internal/streams/readable', 'f')).toBe('node:streams');
    expect(packageOf('file:///repo/services/common/src/http.ts', 'f')).toBe('services/common');
    expect(packageOf('', '(garbage collector)')).toBe('(garbage collector)');
  });

  it('counts self time by package and function inside the step only', () => {
    // Samples at 1000..6000 µs; the span 2000..4500 holds those at 2000, 3000 and 4000 (parse, parse, emit).
    const s = summarizeProfile(profile, 2000, 4500);
    expect(s.sampledMs).toBe(3);
    expect(s.byPackage).toEqual([
      { name: 'body-parser', selfMs: 2, share: 0.667 },
      { name: 'node:events', selfMs: 1, share: 0.333 },
    ]);
    expect(s.topFunctions[0]).toMatchObject({ name: 'parse body-parser/lib/json.js:1', selfMs: 2 });
  });
});

describe('reading counters from a /metrics page', () => {
  const page = ['# HELP requests_shed_total x', 'requests_shed_total{service="gateway",reason="overload"} 3', 'requests_shed_total{service="gateway",reason="client_share"} 40', 'requests_shed_total_created 1', 'up 1'].join('\n');
  it('sums the series whose labels match exactly, and says when there is none (not zero)', () => {
    expect(readMetric(page, 'requests_shed_total', {})).toBe(43);
    expect(readMetric(page, 'requests_shed_total', { reason: 'client_share' })).toBe(40);
    expect(readMetric(page, 'requests_shed_total', { reason: 'client' })).toBeUndefined();
    expect(readMetric(page, 'requests_shed_total', { reason: 'deadline' })).toBeUndefined();
    expect(readMetric(page, 'up', {})).toBe(1);
  });
});

describe('bench flags', () => {
  it('refuses bad values and an unwritable report directory with a UsageError', () => {
    const dir = tempDir('bench-');
    expect(checkBenchFlags({ json: true }, dir)).toMatchObject({ json: true, objectiveMs: 1500, reportDir: join(dir, 'reports', 'bench') });
    expect(() => checkBenchFlags({ objectiveMs: 'fast' }, dir)).toThrow(UsageError);
    expect(() => checkBenchFlags({ objectiveMs: '5' }, dir)).toThrow(/--objective-ms/);
    expect(() => checkBenchFlags({ bogus: true }, dir)).toThrow(UsageError);
    expect(checkBenchFlags({ repeat: '3' }, dir)).toMatchObject({ repeat: 3 });
    expect(() => checkBenchFlags({ repeat: '11' }, dir)).toThrow(/--repeat/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      spawnSync('mkdir', [locked]);
      chmodSync(locked, 0o500);
      expect(() => checkBenchFlags({ reportDir: join(locked, 'sub') }, dir)).toThrow(/--report-dir/);
    }
    expect(() => checkBenchFlags({ reportDir: '/dev/null/reports' }, dir)).toThrow(/--report-dir/);
  });

  it.each([[['overload', '--frobnicate']], [['latency']], [['overload', '--objective-ms', 'x']], [['overload', '--report-dir', '/dev/null/reports']], [['overload', '--repeat', '0']], [['overload', '--repeat', 'three']]])(
    'faultline bench %j exits 2 before starting anything',
    (args) => {
      const cli = join(import.meta.dirname, '../../chaos/src/cli.ts');
      const node = join(import.meta.dirname, '../../node_modules/.bin/node');
      const stateDir = tempDir('bench-cli-');
      const r = spawnSync(node, [cli, '--port-base', '31990', '--state-dir', stateDir, 'bench', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(2);
    },
  );
});
