import {
  admissionControl,
  baseConfig,
  callUpstream,
  createApp,
  createDependency,
  createLogger,
  createRedis,
  createRegistry,
  deadlineOf,
  drillBreaker,
  drillRetry,
  env,
  finishApp,
  handle,
  limits,
  serviceConfig,
  parseIdempotencyKey,
  parseOrderRequest,
  requireJson,
  serve,
  stampDeadline,
  redisSettings,
  withRedis,
} from '@faultline/common';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { apiKeysSetting, authenticate, clientOfKey } from './auth.ts';
import { countClientRequests } from './client-requests.ts';
import { lastGoodMenu } from './menu-fallback.ts';
import { openapi } from './openapi.ts';
import { methodNotAllowed } from './methods.ts';
import { rateLimit } from './rate-limit.ts';

const config = serviceConfig(
  'gateway',
  withRedis(baseConfig.extend({
    CATALOG_URL: env.url(),
    ORDERS_URL: env.url(),
    ...redisSettings,
    API_KEYS: apiKeysSetting,
    CATALOG_TIMEOUT_MS: env.positiveInt(500),
    ORDERS_TIMEOUT_MS: env.positiveInt(2500),
    REDIS_TIMEOUT_MS: env.positiveInt(250),
    REQUEST_DEADLINE_MS: env.positiveInt(3000),
    RATE_LIMIT_RPS: env.positiveInt(50),
    RATE_LIMIT_BURST: env.positiveInt(100),
    // adaptive: the limit follows latency between ADMISSION_MIN_CONCURRENCY and ADMISSION_CONCURRENCY. Fixed by
    // default: on the 2-core bench the adaptive limit did not lower the p99 at 10×C and cost goodput (docs/benchmark.md).
    ADMISSION_LIMIT: z.enum(['adaptive', 'fixed']).default('fixed'),
    ADMISSION_CONCURRENCY: env.positiveInt(16),
    ADMISSION_MIN_CONCURRENCY: env.positiveInt(2),
    ADMISSION_QUEUE: env.positiveInt(8),
    // Percent of the concurrency + queue places one client may hold; 100 turns the per-client share off.
    ADMISSION_CLIENT_SHARE_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  })),
);
const enabled = config.FAULTLINE_RESILIENCE;
const logger = createLogger('gateway', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('gateway', config.REPLICA);
const redis = createRedis(config, logger);
const dependency = (name: string, timeoutMs: number, retries: boolean, breaker = drillBreaker) =>
  createDependency({ name, registry, enabled, timeoutMs, breaker, ...(retries ? { retry: drillRetry } : {}) });
// Menu reads come with every page view, so half a second of them is enough to judge by; the timeout stays, since a
// slow catalog is what the breaker must see. Measured: cut → open 1065 ms p95 with the 1 s window, over the 1 s goal.
const catalog = dependency('catalog', config.CATALOG_TIMEOUT_MS, true, { ...drillBreaker, windowMs: 500 });
const orders = dependency('orders', config.ORDERS_TIMEOUT_MS, true);
const redisDependency = dependency('redis', config.REDIS_TIMEOUT_MS, false);
const menu = lastGoodMenu(registry, enabled);

// Read before any work, from the key alone: a request without a known key counts as the anonymous client.
const clientOf = clientOfKey(config.API_KEYS);
// Asked up to five times a request (two refusal probes, the early limiter, admission control, authentication):
// compared once per request.
const clientByRequest = new WeakMap<IncomingHttpHeaders, string | undefined>();
const clientOfHeaders = (headers: IncomingHttpHeaders) => {
  if (clientByRequest.has(headers)) return clientByRequest.get(headers);
  const key = headers['x-api-key'];
  const client = clientOf(Array.isArray(key) ? key[0] : key);
  clientByRequest.set(headers, client);
  return client;
};
const limiter = rateLimit({ redis, dependency: redisDependency, registry, enabled, rps: config.RATE_LIMIT_RPS, burst: config.RATE_LIMIT_BURST, clientOf: clientOfHeaders });
// Held to its share of admission's places: a key sending more requests a second than its rate limit, and the anonymous
// client, which has no quota of its own. A key within its quota may use what they cannot, as the SRE book's chapter on
// overload asks (errors go to the misbehaving client); measured on the bench's fairness phase (docs/benchmark.md).
const clientShare =
  config.ADMISSION_CLIENT_SHARE_PERCENT < 100
    ? { of: (headers: IncomingHttpHeaders) => clientOfHeaders(headers) ?? 'anonymous', share: config.ADMISSION_CLIENT_SHARE_PERCENT / 100, capped: (client: string) => client === 'anonymous' || limiter.overLimit(client) }
    : undefined;
const app = createApp({
  registry,
  logger,
  bodyLimit: `${limits.bodyBytes}b`,
  guards: [
    ...(enabled ? [stampDeadline(config.REQUEST_DEADLINE_MS)] : []),
    // A key whose shared bucket is known to be empty is refused before it can take an admission place.
    limiter.early,
    admissionControl({
      registry,
      enabled,
      limit: config.ADMISSION_LIMIT,
      concurrency: config.ADMISSION_CONCURRENCY,
      minConcurrency: config.ADMISSION_MIN_CONCURRENCY,
      queue: config.ADMISSION_QUEUE,
      perClient: clientShare,
    }),
  ],
});
app.get('/api/openapi.json', (_req, res) => {
  res.json(openapi);
});
app.get(
  '/api/menu',
  handle(async (_req, res) => {
    const deadline = deadlineOf(res);
    await menu.serve(res, () => catalog.call((signal) => callUpstream('catalog', `${config.CATALOG_URL}/menu`, { signal, deadline }), { idempotent: true, deadline }));
  }),
);
const guarded = [authenticate(clientOfHeaders), countClientRequests(registry), limiter.perKey];
app.post(
  '/api/orders',
  ...guarded,
  requireJson(),
  handle(async (req, res) => {
    // Validated at the edge too, so that bad input costs nothing downstream.
    const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
    const order = parseOrderRequest(req.body);
    const deadline = deadlineOf(res);
    // Not retried here: the client holds the Idempotency-Key and retries safely after Retry-After.
    const upstream = await orders.call(
      (signal) =>
        callUpstream('orders', `${config.ORDERS_URL}/orders`, {
          method: 'POST',
          headers: { 'idempotency-key': idempotencyKey, 'x-client-id': String(res.locals.client) },
          body: order,
          signal,
          deadline,
        }),
      { deadline },
    );
    res.status(upstream.status).json(upstream.body);
  }),
);
app.get(
  '/api/orders/:id',
  ...guarded,
  handle(async (req, res) => {
    const deadline = deadlineOf(res);
    const url = `${config.ORDERS_URL}/orders/${encodeURIComponent(String(req.params.id))}`;
    res.json((await orders.call((signal) => callUpstream('orders', url, { signal, deadline }), { idempotent: true, deadline })).body);
  }),
);
app.use(methodNotAllowed(openapi.paths));
finishApp(app, logger);

await serve(app, { port: config.PORT, host: config.HOST, logger, connectionMaxAgeMs: config.CONNECTION_MAX_AGE_MS, closers: [() => redis.quit()] });
