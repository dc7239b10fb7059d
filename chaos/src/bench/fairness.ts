// Fairness under overload: a well-behaved client at half its quota, first alone, then while another key offers 10×C,
// on a stack with the shop's own per-key quota and per-client admission share (not the raised limits of phases 1–4).
import { metricsText, readMetric } from '../core/prometheus.ts';
import { drainLag, runStep, sleep, type BenchTarget, type StepResult } from './step.ts';

export interface FairnessResult {
  quietRps: number;
  floodRps: number;
  alone: StepResult;
  flooded: StepResult;
  flood: StepResult;
  /** The quiet client's goodput during the flood over its goodput alone. */
  keptFraction: number;
  /** What the shop did while the quiet client was flooded, from its own counters: why anyone was refused. Absent when a counter could not be read. */
  refusals?: Refusals;
}

/** Counter increments over the flooded step. The gateway's per-client answers count only requests past admission. */
export interface Refusals {
  /** The quiet client's answers past admission control, by status code. */
  quietByStatus: Record<string, number>;
  /** The quiet client's requests its rate limit refused (its shared bucket, or the gateway's memory of it). */
  quietRateLimited: number;
  /** Admission control's refusals (every client): the flood past its share, overload, expired deadlines. */
  gatewayShed: Record<'client_share' | 'overload' | 'deadline', number>;
  /** Orders' refusals (every client): back pressure from kitchen's lag, expired deadlines. */
  ordersShed: Record<'kitchen_lag' | 'deadline', number>;
}

const statuses = ['201', '200', '429', '503', '504', '500'];
/**
 * The counters, each process's page read once. A gateway still busy with a flood's last requests may not answer at
 * once, so each is asked again for up to 15 s; undefined when one never answers (never read as zeros).
 */
async function readRefusals(gateway: string, orderUrls: string[]): Promise<Refusals | undefined> {
  const read = async (url: string) => {
    for (const until = Date.now() + 15_000; ; await sleep(500)) {
      const text = await metricsText(url, 3000);
      if (text !== undefined || Date.now() > until) return text;
    }
  };
  const [gatewayText, ...ordersTexts] = await Promise.all([gateway, ...orderUrls].map(read));
  if (gatewayText === undefined || ordersTexts.some((t) => t === undefined)) return undefined;
  const sum = (texts: string[], metric: string, labels: Record<string, string>) => texts.reduce((a, t) => a + (readMetric(t, metric, labels) ?? 0), 0);
  const shed = <K extends string>(texts: string[], reasons: K[]) => Object.fromEntries(reasons.map((reason) => [reason, sum(texts, 'requests_shed_total', { reason })])) as Record<K, number>;
  return {
    quietByStatus: Object.fromEntries(statuses.map((code) => [code, sum([gatewayText], 'client_requests_total', { client: 'local', status_code: code })])),
    quietRateLimited: sum([gatewayText], 'rate_limit_decisions_total', { client: 'local', decision: 'limited' }),
    gatewayShed: shed([gatewayText], ['client_share', 'overload', 'deadline']),
    ordersShed: shed(ordersTexts as string[], ['kitchen_lag', 'deadline']),
  };
}
export const listed = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
const minus = <T extends Record<string, number>>(after: T, before: T) => Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0)) as T;

export async function measureFairness(quiet: BenchTarget, flood: BenchTarget, urls: { gateway: string; orders: string[] }, opts: { quietRps: number; floodRps: number; stepS: number }, print: (l: string) => void): Promise<FairnessResult> {
  const orderUrls = urls.orders;
  await drainLag(orderUrls);
  const alone = await runStep(quiet, 'fairness-quiet-alone', opts.quietRps, opts.stepS);
  print(`  quiet client alone at ${opts.quietRps}/s: ${alone.good} good of ${alone.iterations + alone.dropped}, admitted p99 ${alone.admittedP99Ms ?? '-'} ms`);
  await drainLag(orderUrls);
  const before = await readRefusals(urls.gateway, orderUrls);
  // The flood starts first and ends last, so that the quiet client's whole step is under it.
  let floodStarted!: () => void;
  const started = new Promise<void>((resolve) => (floodStarted = resolve));
  const flooding = runStep(flood, 'fairness-flood', opts.floodRps, opts.stepS + 2, { started: floodStarted, wholeLoad: true });
  await Promise.race([started, flooding]); // k6 makes its VUs first, which takes a second or two for a flood's
  await sleep(1000);
  const flooded = await runStep(quiet, 'fairness-quiet-flooded', opts.quietRps, opts.stepS);
  const floodStep = await flooding;
  const after = await readRefusals(urls.gateway, orderUrls);
  const refusals: Refusals | undefined =
    before && after
      ? { quietByStatus: minus(after.quietByStatus, before.quietByStatus), quietRateLimited: after.quietRateLimited - before.quietRateLimited, gatewayShed: minus(after.gatewayShed, before.gatewayShed), ordersShed: minus(after.ordersShed, before.ordersShed) }
      : undefined;
  const keptFraction = alone.good > 0 ? Math.round((flooded.good / alone.good) * 1000) / 1000 : 0;
  print(`  quiet client under a ${opts.floodRps}/s flood from another key: ${flooded.good} good (${(keptFraction * 100).toFixed(1)}% of alone), 429 ${flooded.limited}, 503 ${flooded.shed}; the flood: ${floodStep.ok} served, 429 ${floodStep.limited}, 503 ${floodStep.shed}, k6 dropped ${floodStep.dropped}`);
  print(
    refusals
      ? `  during the flood: the quiet client's answers past admission: ${listed(refusals.quietByStatus)}, refused by its rate limit ${refusals.quietRateLimited}; admission refused ${listed(refusals.gatewayShed)}; orders refused ${listed(refusals.ordersShed)}`
      : "  during the flood: the shop's counters could not be read (a replica did not answer /metrics for 15 s)",
  );
  return { quietRps: opts.quietRps, floodRps: opts.floodRps, alone, flooded, flood: floodStep, keptFraction, ...(refusals ? { refusals } : {}) };
}
