import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ApiError, isApiError } from './errors.ts';
import { httpMetrics } from './metrics.ts';
import type { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { apiError } from './contracts.ts';

export interface AppOptions {
  registry: Registry;
  logger: Logger;
  /** Readiness checks by name, for /readyz: each must resolve within the probe timeout. */
  readiness?: Record<string, Check>;
  /** Largest JSON body accepted; larger ones get 413 body_too_large. */
  bodyLimit?: string;
  /** Run before the body is parsed or any route works: admission control, deadlines. */
  guards?: RequestHandler[];
}

const probeTimeoutMs = 1000;

/** An express app with RED metrics, a bounded JSON body parser, /metrics, /healthz (liveness) and /readyz (readiness). */
export function createApp({ registry, readiness = {}, bodyLimit = '16kb', guards = [] }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.locals.draining = false;
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (app.locals.draining) return void res.status(503).json({ status: 'draining' });
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), probeTimeoutMs);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    const ok = results.every(([, r]) => r === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });
  app.use(httpMetrics(registry));
  for (const guard of guards) app.use(guard);
  app.use(express.json({ limit: bodyLimit, strict: true }));
  return app;
}

export type Check = () => Promise<unknown>;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}

/** Wraps an async handler so that its rejection reaches the error handler. */
export const handle =
  (fn: (...args: Parameters<RequestHandler>) => Promise<unknown>): RequestHandler =>
  (req, res, next) => {
    fn(req, res, next).catch(next);
  };

export function requireJson(): RequestHandler {
  return (req, _res, next) => {
    if (!req.is('application/json')) {
      next(new ApiError(415, 'unsupported_media_type', 'the body must be JSON, sent with Content-Type: application/json'));
    } else next();
  };
}

/** The service's own Redis, named for clients: a command that failed while it was unreachable is a 503, not a bug. */
export interface Store {
  redis: Pick<Redis, 'status'>;
  name: string;
}

/**
 * Body-parser failures become specific 4xx codes; an ApiError is sent as it is; a failure while the store is
 * unreachable is 503 dependency_unavailable; anything else is a 500, which means a bug.
 */
export function finishApp(app: Express, logger: Logger, store?: Store) {
  app.use((req, _res, next) => next(new ApiError(404, 'route_not_found', `no route for ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const apiError = toApiError(err, store);
    if (apiError.status >= 500 && apiError.status !== 503) logger.error({ err, path: req.path }, 'request failed');
    if (apiError.retryAfterSeconds !== undefined) res.set('Retry-After', String(apiError.retryAfterSeconds));
    res.status(apiError.status).json(apiError.toJSON());
  };
  app.use(onError);
}

function toApiError(err: unknown, store?: Store): ApiError {
  if (isApiError(err)) return err;
  if (store && store.redis.status !== 'ready') return apiError('dependency_unavailable', `${store.name} (Redis) is unavailable`, { retryAfterSeconds: 1 });
  const type = (err as { type?: string }).type;
  if (type === 'entity.parse.failed') return new ApiError(400, 'malformed_json', 'the body is not valid JSON');
  if (type === 'entity.too.large') return new ApiError(413, 'body_too_large', `the body is larger than the ${(err as { limit?: number }).limit} bytes allowed`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ApiError(415, 'unsupported_media_type', (err as Error).message);
  return new ApiError(500, 'internal_error', 'an internal error occurred');
}
