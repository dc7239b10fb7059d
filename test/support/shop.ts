import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { fetchStatus } from '../../chaos/src/platforms/local/runtime.ts';
import { readMetric } from '../../chaos/src/core/prometheus.ts';
import { bearer, readControlToken } from '../../chaos/src/platforms/local/stack-secrets.ts';

export type StackStatus = NonNullable<Awaited<ReturnType<typeof fetchStatus>>>;

/** fetch on a stack's control API with its token, read from the stack's state directory. */
export const controlFetch =
  (stack: StackStatus, stateDir: string) =>
  (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stack.supervisor.url}${path}`, { ...init, headers: { ...bearer(readControlToken(stateDir)), ...(init.headers as Record<string, string> | undefined) } });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a value, or fails with the last value seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last !== undefined && last !== false) return last as T;
    } catch (err) {
      last = `threw: ${(err as Error).message}`; // e.g. a request that failed: keep polling
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export function shopClient(stack: StackStatus) {
  const base = stack.urls.gateway;
  const request = async (method: string, path: string, opts: { headers?: Record<string, string>; body?: string | object } = {}) => {
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, headers: res.headers, body: json };
  };
  return {
    request,
    /** With a key, the menu counts as that client's request (admission control's per-client share); without, the anonymous client's. */
    menu: (apiKey?: string) => request('GET', '/api/menu', apiKey ? { headers: { 'x-api-key': apiKey } } : {}),
    order: (items: unknown, key: string = randomUUID(), extra: Record<string, string> = {}) =>
      request('POST', '/api/orders', { headers: { 'x-api-key': stack.apiKey, 'idempotency-key': key, ...extra }, body: { items } }),
    get: (id: string) => request('GET', `/api/orders/${id}`, { headers: { 'x-api-key': stack.apiKey } }),
  };
}

export async function promQuery(stack: StackStatus, query: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${stack.urls.prometheus}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

export const repoRoot = join(import.meta.dirname, '../..');

/** Runs the faultline CLI as a user would, on the project's pinned Node. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'chaos/bin/faultline.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export { isAlive as pidAlive } from '../../chaos/src/core/host.ts';

/** Sums the samples of one metric on a replica's /metrics whose labels include `labels`; 0 when there are none. */
export async function scrape(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  return readMetric(text, name, labels) ?? 0;
}

export interface Outcome {
  at: number;
  status: number;
  ms: number;
  headers?: Headers;
  code?: string;
  message?: string;
}

/** A steady stream of requests from `workers` loops until stopped: bounded by `maxMs` whatever happens. */
export function steadyLoad(send: () => Promise<{ status: number; headers?: Headers; body?: any }>, { workers = 2, pauseMs = 20, maxMs = 60_000 } = {}) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const until = Date.now() + maxMs;
  const loop = async () => {
    while (!stopped && Date.now() < until) {
      const start = Date.now();
      const r = await send().catch(() => ({ status: 0, headers: undefined, body: undefined }));
      outcomes.push({ at: start, status: r.status, ms: Date.now() - start, headers: r.headers, code: r.body?.error?.code, message: r.body?.error?.message });
      await sleep(pauseMs);
    }
  };
  const running = Promise.all(Array.from({ length: workers }, loop));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
      return outcomes;
    },
  };
}

/** The services in one trace, from Jaeger's query API at `jaeger`, once all four shop services have reported into it. */
export const traceServices = (jaeger: string, traceId: string, timeoutMs?: number) =>
  waitFor(
    'a complete trace in Jaeger',
    async () => {
      const r = await fetch(`${jaeger}/api/traces/${traceId}`);
      if (!r.ok) return undefined;
      const body = (await r.json()) as { data: Array<{ processes: Record<string, { serviceName: string }> }> };
      const names = new Set(Object.values(body.data[0]?.processes ?? {}).map((p) => p.serviceName));
      return names.size === 4 && [...names].sort();
    },
    timeoutMs,
  );
