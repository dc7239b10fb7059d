// Pure arithmetic for `faultline bench`: order statistics, goodput, goals and the capacity search. No I/O here,
// so every figure the bench prints can be checked by a unit test.

/** The q-quantile (0..1) by linear interpolation between closest ranks; undefined for no samples. */
export function quantile(samples: readonly number[], q: number): number | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
export const median = (samples: readonly number[]) => quantile(samples, 0.5);
export const p95 = (samples: readonly number[]) => quantile(samples, 0.95);

export interface Distribution {
  n: number;
  medianMs?: number;
  p95Ms?: number;
  samplesMs: number[];
}
export function distribution(samplesMs: readonly number[]): Distribution {
  const round = (v: number | undefined) => (v === undefined ? undefined : Math.round(v));
  return { n: samplesMs.length, medianMs: round(median(samplesMs)), p95Ms: round(p95(samplesMs)), samplesMs: samplesMs.map(Math.round) };
}

/** What one k6 step measured, from its summary. */
export interface StepCounts {
  offeredRps: number;
  durationS: number;
  iterations: number;
  dropped: number;
  ok: number;
  good: number;
  limited: number;
  shed: number;
  serverErrors: number;
  clientErrors: number;
  noResponse: number;
  admittedP99Ms?: number;
  /** The longest iteration (request and answer), and the VUs k6 had, all made before the load started. */
  slowestIterationMs?: number;
  maxVUs?: number;
}

export const errorsOf = (c: StepCounts) => c.iterations + c.dropped - c.ok;
/** The share of offered requests that were not served (dropped arrivals count: the client could not even send them). */
export const errorRate = (c: StepCounts) => (c.iterations + c.dropped === 0 ? 0 : errorsOf(c) / (c.iterations + c.dropped));
export const goodputRps = (c: StepCounts) => c.good / c.durationS;
export const goodputFraction = (c: StepCounts, capacityRps: number) => (capacityRps > 0 ? goodputRps(c) / capacityRps : 0);

/** A step is within the objective when admitted p99 is under it and under 1% of requests failed. */
export function withinObjective(c: StepCounts, objectiveMs: number, maxErrorRate = 0.01) {
  return c.ok > 0 && (c.admittedP99Ms ?? Infinity) <= objectiveMs && errorRate(c) < maxErrorRate;
}

/** k6 was the bottleneck when it dropped arrivals (over 1% of them) or used nearly a whole core. */
export function k6Bottleneck(c: Pick<StepCounts, 'offeredRps' | 'iterations' | 'dropped' | 'slowestIterationMs' | 'maxVUs'>, k6Cores: number, opts: { maxCores?: number; wholeLoad?: boolean } = {}) {
  const reasons: string[] = [];
  const planned = c.iterations + c.dropped;
  // k6 drops an arrival only when no VU is free. At most rate × the slowest iteration's time are busy at once, so if
  // that is under the VUs it had, it always had VUs to spare and its drops are its own: it could not start
  // iterations on time. Otherwise the shop may have held every VU waiting on answers (as in the collapse): those
  // drops are the shop's, and count against goodput. A load that must be offered whole (a flood loading the shop
  // for another client) is k6-bound by any drop: unoffered, it would make the other client's figure too kind.
  const vusToSpare = opts.wholeLoad || c.slowestIterationMs === undefined || c.maxVUs === undefined || (c.offeredRps * c.slowestIterationMs) / 1000 < c.maxVUs;
  if (planned > 0 && c.dropped / planned > 0.01 && vusToSpare) reasons.push(`k6 dropped ${c.dropped} of ${planned} arrivals`);
  if (k6Cores > (opts.maxCores ?? 0.9)) reasons.push(`k6 used ${k6Cores.toFixed(2)} cores`);
  return reasons;
}

/**
 * The capacity search: double from the start rate while steps pass, then bisect between the highest pass and the
 * lowest failure. Returns the next rate to try, or undefined when done (steps used up, or the bracket is tight).
 */
export function nextRate(tried: ReadonlyArray<{ rate: number; pass: boolean }>, opts: { start: number; maxSteps: number; resolution: number; maxRate: number }): number | undefined {
  if (tried.length >= opts.maxSteps) return undefined;
  if (tried.length === 0) return opts.start;
  const passes = tried.filter((t) => t.pass).map((t) => t.rate);
  const fails = tried.filter((t) => !t.pass).map((t) => t.rate);
  const lo = passes.length ? Math.max(...passes) : 0;
  const hi = fails.length ? Math.min(...fails.filter((f) => f > lo), Infinity) : Infinity;
  if (hi === Infinity) return lo * 2 <= opts.maxRate && lo > 0 ? lo * 2 : undefined;
  const mid = Math.round((lo + hi) / 2);
  if (hi - lo <= Math.max(opts.resolution, 1) || mid === lo || mid === hi) return undefined;
  return mid;
}
/** The capacity found: the highest passing rate (0 if none passed). */
export const capacityOf = (tried: ReadonlyArray<{ rate: number; pass: boolean }>) => Math.max(0, ...tried.filter((t) => t.pass).map((t) => t.rate));

/**
 * CPU per refused request relative to a served one. Shop CPU over a step is modelled as served·a + refused·b;
 * a comes from the step where (nearly) everything was served, b from the overloaded step.
 */
export function refusedCostRatio(base: { cpuS: number; served: number }, overloaded: { cpuS: number; served: number; refused: number }): number | undefined {
  if (base.served <= 0 || overloaded.refused <= 0) return undefined;
  const perServed = base.cpuS / base.served;
  const perRefused = Math.max(0, overloaded.cpuS - overloaded.served * perServed) / overloaded.refused;
  return perServed > 0 ? perRefused / perServed : undefined;
}

export interface Goal {
  name: string;
  target: string;
  observed: string;
  met: boolean | 'n/a';
  /** How far off, in the goal's own terms, when missed. */
  gap?: string;
}

/** A "at least" goal on a ratio: met, or missed by so many points of C. */
export function atLeast(name: string, observed: number | undefined, target: number, unit = '·C'): Goal {
  if (observed === undefined || !Number.isFinite(observed)) return { name, target: `≥ ${target}${unit}`, observed: 'not measured', met: 'n/a' };
  const met = observed >= target;
  return { name, target: `≥ ${target}${unit}`, observed: `${observed.toFixed(2)}${unit}`, met, ...(met ? {} : { gap: `${(target - observed).toFixed(2)}${unit} short (${(((target - observed) / target) * 100).toFixed(0)}% below the goal)` }) };
}
export function atMost(name: string, observed: number | undefined, target: number, unit: string, digits = 0): Goal {
  if (observed === undefined || !Number.isFinite(observed)) return { name, target: `≤ ${target}${unit}`, observed: 'not measured', met: 'n/a' };
  const met = observed <= target;
  return { name, target: `≤ ${target}${unit}`, observed: `${observed.toFixed(digits)}${unit}`, met, ...(met ? {} : { gap: `${(observed - target).toFixed(digits)}${unit} over (${(((observed - target) / target) * 100).toFixed(0)}% above the goal)` }) };
}

/** One request of a paced stream: when it was sent, when it was answered, and whether it was acknowledged. */
export interface Answered {
  sentAt: number;
  at: number;
  ok: boolean;
}

/**
 * From a fault at faultAt to serving again: the first answer that was acknowledged within slowMs, sent after the last
 * request sent since the fault that was refused or slow. Undefined when nothing acknowledged came after that.
 */
export function servingAgainMs(answers: readonly Answered[], faultAt: number, slowMs: number): number | undefined {
  const since = answers.filter((a) => a.sentAt >= faultAt);
  const good = (a: Answered) => a.ok && a.at - a.sentAt <= slowMs;
  const lastBadSent = Math.max(faultAt, ...since.filter((a) => !good(a)).map((a) => a.sentAt));
  const back = since.filter((a) => good(a) && a.sentAt > lastBadSent).map((a) => a.at);
  return back.length ? Math.min(...back) - faultAt : undefined;
}
