// Every figure of a bench run by name, and across repeated runs their median and min–max. The goals are judged on
// the medians, so that one lucky or unlucky run on a shared machine decides nothing.
import type { BenchResult } from './command.ts';
import { median } from './stats.ts';

export interface Figure {
  name: string;
  unit: string;
  /** One value per run that measured it, in run order. */
  values: number[];
  median: number;
  min: number;
  max: number;
}

type Figures = Map<string, { value: number; unit: string }>;

/** The service a process belongs to: `orders-1` → orders; the stores and Toxiproxy by their own names. */
export const serviceOfProcess = (name: string) => name.replace(/-\d+$/, '');

/** CPU milliseconds per order served, by service, over one step. */
export function cpuPerOrderMs(processCpuS: Record<string, number>, served: number): Record<string, number> {
  const bySvc: Record<string, number> = {};
  for (const [name, s] of Object.entries(processCpuS)) bySvc[serviceOfProcess(name)] = (bySvc[serviceOfProcess(name)] ?? 0) + s;
  return Object.fromEntries(Object.entries(bySvc).map(([svc, s]) => [svc, served > 0 ? Math.round((s * 1000 * 100) / served) / 100 : 0]));
}

export function figuresOf(r: BenchResult): Figures {
  const f: Figures = new Map();
  const put = (name: string, value: number | undefined, unit: string) => {
    if (value !== undefined && Number.isFinite(value)) f.set(name, { value, unit });
  };
  put('capacity C', r.capacity.capacityRps, '/s');
  for (const mode of ['on', 'off'] as const) {
    for (const s of r.overload[mode]?.steps ?? []) {
      put(`resilience ${mode}: goodput at ${s.multiple}×C`, s.goodputFraction, '·C');
      put(`resilience ${mode}: admitted p99 at ${s.multiple}×C`, s.admittedP99Ms, 'ms');
      put(`resilience ${mode}: k6 dropped at ${s.multiple}×C`, s.iterations + s.dropped > 0 ? Math.round((s.dropped / (s.iterations + s.dropped)) * 1000) / 10 : 0, '%');
    }
  }
  const on = r.overload.on?.steps ?? [];
  const half = on.find((s) => s.multiple === 0.5)?.admittedP99Ms;
  const ten = on.find((s) => s.multiple === 10)?.admittedP99Ms;
  if (half && ten !== undefined) put('resilience on: admitted p99 at 10×C over p99 at 0.5×C', Math.round((ten / half) * 100) / 100, '×');
  put('resilience on: CPU of a refused request / a served one', r.overload.on?.refusedCpuRatio, '×');
  for (const [svc, ms] of Object.entries(r.overload.on?.cpuPerOrderMs ?? {})) put(`CPU per order at 1×C: ${svc}`, ms, 'ms');
  put('quiet client at half its quota: goodput kept under a 10×C flood', r.fairness?.keptFraction, '×');
  const timings: Array<[string, { medianMs?: number; p95Ms?: number } | undefined]> = [
    ['catalog cut → breaker open', r.timings?.breakerOpenMs],
    ['fast-fail latency while open', r.timings?.fastFailMs],
    ['heal → breaker closed', r.timings?.breakerCloseMs],
    ['kitchen kill → lag drained', r.timings?.lagDrainMs],
    ['Kafka edge healed → orders accepted', r.timings?.kafkaRecoveryMs],
    ['kitchen worker frozen → evicted', r.timings?.pauseEvictMs],
    ['frozen worker thawed → listed again', r.timings?.thawRejoinMs],
    ['Redis primary killed → another primary', r.failover?.redisPromotedMs],
    ['Redis primary killed → serving again', r.failover?.redisServingMs],
    ['Kafka leader killed → another leader', r.failover?.kafkaElectedMs],
    ['Kafka leader killed → serving again', r.failover?.kafkaServingMs],
  ];
  for (const [name, d] of timings) {
    put(`${name}, median`, d?.medianMs, 'ms');
    put(`${name}, p95`, d?.p95Ms, 'ms');
  }
  put('middleware cost, share of gateway throughput per core', r.overhead?.overheadFraction === undefined ? undefined : Math.round(r.overhead.overheadFraction * 1000) / 10, '%');
  return f;
}

/** The median and min–max of each figure over the runs, in the order the first run that has it lists it. */
export function summarizeRuns(runs: BenchResult[]): Figure[] {
  const all = runs.map(figuresOf);
  const names = [...new Set(all.flatMap((f) => [...f.keys()]))];
  return names.map((name) => {
    const values = all.flatMap((f) => (f.has(name) ? [f.get(name)!.value] : []));
    const unit = all.find((f) => f.has(name))!.get(name)!.unit;
    return { name, unit, values, median: Math.round(median(values)! * 1000) / 1000, min: Math.min(...values), max: Math.max(...values) };
  });
}

/** A figure's median by name, for the goals. */
export const medianOf = (figures: Figure[], name: string) => figures.find((f) => f.name === name)?.median;
