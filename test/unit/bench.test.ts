import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchGoals, checkBenchFlags } from '../../chaos/src/bench/command.ts';
import { atLeast, atMost, capacityOf, distribution, errorRate, goodputFraction, k6Bottleneck, median, nextRate, p95, quantile, refusedCostRatio, servingAgainMs, withinObjective, type StepCounts } from '../../chaos/src/bench/stats.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
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
    expect(k6Bottleneck({ iterations: 1000, dropped: 0 }, 0.3)).toEqual([]);
    expect(k6Bottleneck({ iterations: 900, dropped: 100 }, 0.3)).toHaveLength(1);
    expect(k6Bottleneck({ iterations: 1000, dropped: 0 }, 1.2)).toEqual(['k6 used 1.20 cores']);
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
    const goals = benchGoals({ overload: {}, timings: undefined, overhead: undefined });
    expect(goals).toHaveLength(8);
    expect(goals.every((g) => g.met === 'n/a')).toBe(true);
  });
});

describe('bench flags', () => {
  it('refuses bad values and an unwritable report directory with a UsageError', () => {
    const dir = tempDir('bench-');
    expect(checkBenchFlags({ json: true }, dir)).toMatchObject({ json: true, objectiveMs: 1500, reportDir: join(dir, 'reports', 'bench') });
    expect(() => checkBenchFlags({ objectiveMs: 'fast' }, dir)).toThrow(UsageError);
    expect(() => checkBenchFlags({ objectiveMs: '5' }, dir)).toThrow(/--objective-ms/);
    expect(() => checkBenchFlags({ bogus: true }, dir)).toThrow(UsageError);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      spawnSync('mkdir', [locked]);
      chmodSync(locked, 0o500);
      expect(() => checkBenchFlags({ reportDir: join(locked, 'sub') }, dir)).toThrow(/--report-dir/);
    }
    expect(() => checkBenchFlags({ reportDir: '/dev/null/reports' }, dir)).toThrow(/--report-dir/);
  });

  it.each([[['overload', '--frobnicate']], [['latency']], [['overload', '--objective-ms', 'x']], [['overload', '--report-dir', '/dev/null/reports']]])(
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
