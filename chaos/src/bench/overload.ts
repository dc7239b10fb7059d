// Phase 2: goodput under overload, offering multiples of C.
import { cpuPerOrderMs } from './figures.ts';
import { errorRate, goodputFraction, goodputRps, refusedCostRatio } from './stats.ts';
import { drainLag, runStep, type BenchTarget, type StepResult } from './step.ts';

export interface OverloadStep extends StepResult {
  multiple: number;
  goodputRps: number;
  goodputFraction: number;
  errorRate: number;
}
export interface OverloadResult {
  resilience: 'on' | 'off';
  steps: OverloadStep[];
  /** CPU of a refused request over that of a served one, from the first step and the 10× step. */
  refusedCpuRatio?: number;
  /** CPU milliseconds per order served at 1×C, by service (gateway, orders, catalog, kitchen, redis, kafka, toxiproxy). */
  cpuPerOrderMs?: Record<string, number>;
}

export async function overload(t: BenchTarget, orderUrls: string[], resilience: 'on' | 'off', capacityRps: number, multiples: number[], stepS: number, print: (l: string) => void): Promise<OverloadResult> {
  const steps: OverloadStep[] = [];
  for (const multiple of multiples) {
    await drainLag(orderUrls);
    const rate = Math.max(1, Math.round(capacityRps * multiple));
    const s = await runStep(t, `overload-${resilience}-${multiple}x`, rate, stepS);
    const step = { ...s, multiple, goodputRps: Math.round(goodputRps(s) * 10) / 10, goodputFraction: Math.round(goodputFraction(s, capacityRps) * 1000) / 1000, errorRate: Math.round(errorRate(s) * 1000) / 1000 };
    steps.push(step);
    print(`  resilience ${resilience} ${String(multiple).padStart(2)}×C (${rate}/s): goodput ${step.goodputRps}/s = ${step.goodputFraction.toFixed(2)}·C, admitted p99 ${s.admittedP99Ms ?? '-'} ms, 503 ${s.shed}, other 5xx ${s.serverErrors}, no answer ${s.noResponse}, dropped ${s.dropped}, k6 ${s.k6Cores} cores`);
  }
  const base = steps[0];
  const top = steps.at(-1);
  const ratio =
    base && top && top !== base
      ? refusedCostRatio({ cpuS: base.shopCpuS, served: base.ok }, { cpuS: top.shopCpuS, served: top.ok, refused: top.iterations - top.ok })
      : undefined;
  const atC = steps.find((s) => s.multiple === 1);
  return { resilience, steps, ...(ratio !== undefined ? { refusedCpuRatio: Math.round(ratio * 100) / 100 } : {}), ...(atC ? { cpuPerOrderMs: cpuPerOrderMs(atC.processCpuS, atC.ok) } : {}) };
}
