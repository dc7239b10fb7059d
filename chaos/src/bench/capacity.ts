// Phase 1: capacity C, the highest arrival rate of orders through the full path that stays within the objective.
import { capacityOf, errorRate, nextRate, withinObjective } from './stats.ts';
import { drainLag, runStep, type BenchTarget, type StepResult } from './step.ts';

export interface CapacityResult {
  capacityRps: number;
  objectiveMs: number;
  steps: Array<StepResult & { pass: boolean }>;
  /** False when k6, not the shop, limited a step that decided C. */
  valid: boolean;
  invalidReasons: string[];
}

export async function findCapacity(t: BenchTarget, orderUrls: string[], opts: { start: number; maxSteps: number; stepS: number }, print: (l: string) => void): Promise<CapacityResult> {
  const steps: CapacityResult['steps'] = [];
  for (let rate = nextRate([], { ...opts, resolution: 5, maxRate: 5000 }); rate !== undefined; rate = nextRate(steps.map((s) => ({ rate: s.offeredRps, pass: s.pass })), { ...opts, resolution: 5, maxRate: 5000 })) {
    await drainLag(orderUrls);
    const s = await runStep(t, `capacity-${rate}`, rate, opts.stepS);
    const pass = withinObjective(s, t.objectiveMs) && s.k6Limits.length === 0;
    steps.push({ ...s, pass });
    print(`  ${String(rate).padStart(5)}/s: ${s.ok} served, errors ${(errorRate(s) * 100).toFixed(1)}%, admitted p99 ${s.admittedP99Ms ?? '-'} ms, k6 ${s.k6Cores} cores → ${pass ? 'within' : 'over'} the objective${s.k6Limits.length ? ` (${s.k6Limits.join('; ')})` : ''}`);
  }
  const capacityRps = capacityOf(steps.map((s) => ({ rate: s.offeredRps, pass: s.pass })));
  // The run is invalid when k6 limited a step at or below the first failure: then C may be k6's limit, not the shop's.
  const firstFail = Math.min(...steps.filter((s) => !s.pass).map((s) => s.offeredRps), Infinity);
  const invalidReasons = steps.filter((s) => s.k6Limits.length > 0 && s.offeredRps <= firstFail).flatMap((s) => s.k6Limits.map((r) => `at ${s.offeredRps}/s ${r}`));
  if (capacityRps === 0) invalidReasons.push('no step was within the objective');
  return { capacityRps, objectiveMs: t.objectiveMs, steps, valid: invalidReasons.length === 0, invalidReasons };
}
