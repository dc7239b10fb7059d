import { promql } from '../core/promql.ts';
import { instantQuery, queryValue, readMetric } from '../core/prometheus.ts';
import type { Endpoints, Inventory, Platform } from './platform.ts';
import type { Probe } from './schema.ts';

/** What reading probes needs, shared by every probe of one sample: one scrape per service and one inventory per sample. */
export interface ProbeContext {
  endpoints: Endpoints;
  scrape(service: string): Promise<string[]>;
  inventory(): Promise<Inventory>;
}

export function sampleContext(platform: Pick<Platform, 'replicaMetrics' | 'inventory'>, endpoints: Endpoints): ProbeContext {
  const scrapes = new Map<string, Promise<string[]>>();
  let inventory: Promise<Inventory> | undefined;
  return {
    endpoints,
    scrape: (service) => {
      if (!scrapes.has(service)) scrapes.set(service, platform.replicaMetrics(service).catch(() => []));
      return scrapes.get(service)!;
    },
    inventory: () => (inventory ??= platform.inventory()),
  };
}

const aggregate = { sum: (xs: number[]) => xs.reduce((a, b) => a + b, 0), max: (xs: number[]) => Math.max(...xs), min: (xs: number[]) => Math.min(...xs) };

/** Reads one probe now. A probe that cannot be read gives undefined, which no tolerance accepts. */
export async function readProbe(probe: Probe, ctx: ProbeContext): Promise<number | undefined> {
  try {
    if (probe.promql) return await queryValue(ctx.endpoints.prometheus, probe.promql);
    if (probe.metric) {
      const m = probe.metric;
      const values = (await ctx.scrape(m.service)).map((text) => readMetric(text, m.name, m.labels)).filter((v): v is number => v !== undefined);
      return values.length ? aggregate[m.aggregate](values) : undefined;
    }
    if (probe.replicas) {
      const { replicas } = await ctx.inventory();
      return probe.replicas.services.reduce((sum, s) => sum + (replicas[s]?.length ?? 0), 0);
    }
    const h = probe.http!;
    const res = await fetch(`${ctx.endpoints.gateway}${h.path}`, {
      method: h.method,
      headers: { ...(h.apiKey ? { 'x-api-key': ctx.endpoints.apiKeys.local } : {}), ...(h.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: h.body === undefined ? undefined : JSON.stringify(h.body),
      signal: AbortSignal.timeout(h.timeout),
    });
    await res.arrayBuffer();
    return h.status.includes(res.status) ? 1 : 0;
  } catch {
    return undefined;
  }
}

/** An http probe passes at 1; the others by their tolerance. */
export const probeTolerance = (probe: Probe) => probe.tolerance ?? { min: 1 };

const stateNames = ['closed', 'half-open', 'open'];

/** The vital signs every progress line shows, whatever the drill's own probes: error rate, breakers not closed, lag. */
export async function vitalSigns(prometheus: string): Promise<string> {
  const query = (q: string) => instantQuery(prometheus, q, 1000).catch(() => []);
  const [errors, breakers, lag] = await Promise.all([query(promql.gatewayErrorRatio), query(promql.breakersNotClosed), query(promql.kitchenLag)]);
  const errorRate = errors[0] ? `${(errors[0].value * 100).toFixed(1)}%` : '?';
  const notClosed = breakers.map((b) => `${b.metric.service}→${b.metric.dependency} ${stateNames[b.value] ?? b.value}`);
  return `5xx ${errorRate} · breakers ${notClosed.length ? notClosed.join(', ') : 'all closed'} · lag ${lag[0]?.value ?? '?'}`;
}
