// Reading Prometheus: its HTTP query API (through whatever URL the platform gives), and the text format a replica's
// /metrics serves. Hand-written over fetch: two GET endpoints and a line format do not need a client library.

export interface PromSeries {
  metric: Record<string, string>;
  value: number;
}

type QueryBody = { status: string; error?: string; data?: { resultType: string; result: unknown } };

/** An instant query: every series with its value; throws with Prometheus's own message on an error. */
export async function instantQuery(prometheus: string, query: string, timeoutMs = 2000): Promise<PromSeries[]> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as QueryBody;
  if (body.status !== 'success' || !body.data) throw new Error(`Prometheus refused ${query}: ${body.error ?? res.status}`);
  if (body.data.resultType === 'scalar') return [{ metric: {}, value: Number((body.data.result as [number, string])[1]) }];
  return (body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

/** An instant query read as one number: the sum of its series; undefined when it has none or cannot be read. */
export async function queryValue(prometheus: string, query: string, timeoutMs = 2000): Promise<number | undefined> {
  const series = await instantQuery(prometheus, query, timeoutMs).catch(() => undefined);
  return series?.length ? series.reduce((sum, s) => sum + s.value, 0) : undefined;
}

/** A range query's first series, as [epoch seconds, value] points; empty when it has none or cannot be read. */
export async function rangeQuery(prometheus: string, query: string, range: { start: number; end: number; step: number }, timeoutMs = 5000): Promise<Array<[number, number]>> {
  const url = `${prometheus}/api/v1/query_range?query=${encodeURIComponent(query)}&start=${range.start}&end=${range.end}&step=${range.step}`;
  const body = (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    .then((r) => r.json())
    .catch(() => undefined)) as { data?: { result: Array<{ values: Array<[number, string]> }> } } | undefined;
  return (body?.data?.result[0]?.values ?? []).map(([t, v]) => [t, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v));
}

/** A process's /metrics page, or undefined when it does not answer within `timeoutMs`. */
export const metricsText = (url: string, timeoutMs = 1000): Promise<string | undefined> =>
  fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
    .then((r) => (r.ok ? r.text() : undefined))
    .catch(() => undefined);

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
