// The live dashboard page: the chart's generated Grafana dashboards drawn by a static page (dashboards/web, with uPlot),
// and a small JSON API in front of one Prometheus, the local stack's or a cluster's through the API server.
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loopbackRefusal } from '../core/loopback-guard.ts';
import { projectRoot } from '../core/paths.ts';

/** The JSON `npm run dashboards:build` writes for Grafana: the page reads these files, never a copy of its own. */
export const dashboardsDir = join(projectRoot, 'charts/faultline/dashboards');
const webDir = join(projectRoot, 'dashboards/web');
const uplotDir = join(projectRoot, 'node_modules/uplot/dist');

export interface DashboardSource {
  uid: string;
  title: string;
  json: Record<string, unknown>;
}

export function loadDashboards(dir = dashboardsDir): DashboardSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const json = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { uid: string; title: string };
      return { uid: json.uid, title: json.title, json };
    });
}

export interface DashboardServerOptions {
  /** Prometheus's base URL (its API is below it at /api/v1). */
  prometheus: string;
  /** What the page names as its datasource, e.g. "local Prometheus (127.0.0.1:17407)". */
  datasourceName: string;
  /** 0 for any free port. */
  port: number;
  /** Used when Prometheus cannot tell its own scrape interval (it is down). */
  defaultScrapeSeconds?: number;
}

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

const apiError = (res: Response, status: number, code: string, message: string) => void res.status(status).json({ error: { code, message } });

const seconds = z.coerce.number().finite();
export const rangeQuery = z
  .strictObject({
    query: z.string().trim().min(1, 'query is empty').max(10_000, 'query is longer than 10,000 characters'),
    start: seconds,
    end: seconds,
    step: seconds.positive('step must be above 0'),
  })
  .refine((q) => q.end > q.start, { message: 'end must be after start', path: ['end'] })
  .refine((q) => q.end - q.start <= 7 * 86_400, { message: 'a range is at most 7 days', path: ['start'] })
  // Prometheus's own limit, refused here with the field named.
  .refine((q) => (q.end - q.start) / q.step <= 11_000, { message: 'at most 11,000 points per series: raise step', path: ['step'] });

export const labelValuesQuery = z.strictObject({
  label: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label must be a Prometheus label name'),
  metric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'metric must be a Prometheus metric name'),
});

/** Loopback names only: a page on another site that rebinds its DNS name to 127.0.0.1 is refused. */

export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const prometheus = opts.prometheus.replace(/\/$/, '');
  let scrapeSeconds: number | undefined;

  /** A Prometheus API call; its answer, or the reason it could not be had, as the page's API answers it. */
  const ask = async (res: Response, path: string) => {
    let upstream: globalThis.Response;
    try {
      upstream = await fetch(`${prometheus}${path}`, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      return apiError(res, 503, 'prometheus_unavailable', `Prometheus (${opts.datasourceName}) is not reachable: ${cause}`);
    }
    const body = (await upstream.json().catch(() => undefined)) as { status?: string; error?: string; data?: unknown } | undefined;
    if (body?.status === 'success') return void res.json(body.data);
    // 400 and 422 are the query's fault (a parse error, too many points); anything else is Prometheus's own trouble.
    if (upstream.status === 400 || upstream.status === 422) return apiError(res, 400, 'bad_query', body?.error ?? `Prometheus answered ${upstream.status}`);
    return apiError(res, 503, 'prometheus_unavailable', `Prometheus (${opts.datasourceName}) answered ${upstream.status}${body?.error ? `: ${body.error}` : ''}`);
  };

  /** Grafana reads the scrape interval from the datasource; here it is Prometheus's own global setting. */
  const scrapeInterval = async () => {
    if (scrapeSeconds !== undefined) return scrapeSeconds;
    const config = await fetch(`${prometheus}/api/v1/status/config`, { signal: AbortSignal.timeout(3000) })
      .then((r) => r.json() as Promise<{ data?: { yaml?: string } }>)
      .catch(() => undefined);
    const text = (parseYaml(config?.data?.yaml ?? '') as { global?: { scrape_interval?: string } } | null)?.global?.scrape_interval;
    const match = /^(\d+)(ms|s|m)$/.exec(text ?? '');
    if (!match) return opts.defaultScrapeSeconds ?? 15;
    scrapeSeconds = Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm'];
    return scrapeSeconds;
  };

  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    const refusal = loopbackRefusal(req.headers);
    if (refusal) return apiError(res, 403, refusal.code, refusal.message);
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.status(405).set('allow', 'GET, HEAD').json({ error: { code: 'method_not_allowed', message: 'the dashboard page is read-only' } });
    next();
  });
  app.get('/', (_req, res) => res.sendFile(join(webDir, 'index.html')));
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use('/web', express.static(webDir, { fallthrough: false, index: false }));
  app.use('/vendor/uplot', express.static(uplotDir, { fallthrough: false, index: false }));

  // Read at each request: a `npm run dashboards:build` shows at the next reload, with no restart of the stack.
  app.get('/api/dashboards', async (_req, res) => {
    const dashboards = loadDashboards();
    res.json({ datasource: { name: opts.datasourceName, scrapeIntervalSeconds: await scrapeInterval() }, dashboards: dashboards.map(({ uid, title }) => ({ uid, title })) });
  });
  app.get('/api/dashboards/:uid', (req, res) => {
    const dashboards = loadDashboards();
    const found = dashboards.find((d) => d.uid === req.params.uid);
    if (!found) return apiError(res, 404, 'dashboard_not_found', `no dashboard ${JSON.stringify(req.params.uid)} (known: ${dashboards.map((d) => d.uid).join(', ')})`);
    res.json(found.json);
  });
  app.get('/api/query_range', async (req, res) => {
    const parsed = rangeQuery.safeParse(req.query);
    if (!parsed.success) return apiError(res, 400, 'invalid_query', z.prettifyError(parsed.error));
    const { query, start, end, step } = parsed.data;
    await ask(res, `/api/v1/query_range?${new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) })}`);
  });
  app.get('/api/label_values', async (req, res) => {
    const parsed = labelValuesQuery.safeParse(req.query);
    if (!parsed.success) return apiError(res, 400, 'invalid_query', z.prettifyError(parsed.error));
    await ask(res, `/api/v1/label/${parsed.data.label}/values?${new URLSearchParams({ 'match[]': parsed.data.metric })}`);
  });
  app.use('/api', (req, res) => apiError(res, 404, 'not_found', `no API ${req.path}`));

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
