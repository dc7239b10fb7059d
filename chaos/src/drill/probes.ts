import { promql } from './promql.ts';
import type { Probe } from './schema.ts';
import type { StackStatus } from './platform-local.ts';

/** Sums the samples of `name` in a Prometheus text exposition whose labels include `labels`; undefined when none match. */
export function readMetric(text: string, name: string, labels: Record<string, string>): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

const aggregate = { sum: (xs: number[]) => xs.reduce((a, b) => a + b, 0), max: (xs: number[]) => Math.max(...xs), min: (xs: number[]) => Math.min(...xs) };

/** Fetches a replica's /metrics text, or undefined if it does not answer. */
export type Scrape = (url: string) => Promise<string | undefined>;

export const scrapeOnce: Scrape = async (url) => {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  return res?.ok ? res.text() : undefined;
};

/** One scrape per replica per sample, however many metric probes read it. */
export function sharedScrape(): Scrape {
  const texts = new Map<string, Promise<string | undefined>>();
  return (url) => {
    if (!texts.has(url)) texts.set(url, scrapeOnce(url));
    return texts.get(url)!;
  };
}

/** Reads one probe now. A probe that cannot be read gives undefined, which no tolerance accepts. */
export async function readProbe(probe: Probe, stack: StackStatus, scrape: Scrape = scrapeOnce): Promise<number | undefined> {
  try {
    if (probe.promql) {
      const res = await fetch(`${stack.urls.prometheus}/api/v1/query?query=${encodeURIComponent(probe.promql)}`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { status: string; data?: { resultType: string; result: Array<{ value: [number, string] }> | [number, string] } };
      if (body.status !== 'success' || !body.data) return undefined;
      if (body.data.resultType === 'scalar') return Number((body.data.result as [number, string])[1]);
      const series = body.data.result as Array<{ value: [number, string] }>;
      return series.length ? series.reduce((sum, s) => sum + Number(s.value[1]), 0) : undefined;
    }
    if (probe.metric) {
      const m = probe.metric;
      const replicas = stack.components.filter((c) => c.service === m.service);
      const readings = await Promise.all(
        replicas.map(async (c) => {
          const text = await scrape(c.url);
          return text === undefined ? undefined : readMetric(text, m.name, m.labels);
        }),
      );
      const values = readings.filter((v): v is number => v !== undefined);
      return values.length ? aggregate[m.aggregate](values) : undefined;
    }
    const h = probe.http!;
    const res = await fetch(`${stack.urls.gateway}${h.path}`, {
      method: h.method,
      headers: { ...(h.apiKey ? { 'x-api-key': stack.apiKey } : {}), ...(h.body === undefined ? {} : { 'content-type': 'application/json' }) },
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
  const query = async (q: string) => {
    const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    const body = (await res?.json().catch(() => undefined)) as { data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } } | undefined;
    return body?.data?.result ?? [];
  };
  const [errors, breakers, lag] = await Promise.all([query(promql.gatewayErrorRatio), query(promql.breakersNotClosed), query(promql.kitchenLag)]);
  const errorRate = errors[0] ? `${(Number(errors[0].value[1]) * 100).toFixed(1)}%` : '?';
  const notClosed = breakers.map((b) => `${b.metric.service}→${b.metric.dependency} ${stateNames[Number(b.value[1])] ?? b.value[1]}`);
  return `5xx ${errorRate} · breakers ${notClosed.length ? notClosed.join(', ') : 'all closed'} · lag ${lag[0]?.value[1] ?? '?'}`;
}
