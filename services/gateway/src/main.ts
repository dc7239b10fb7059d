import {
  baseConfig,
  callUpstream,
  createApp,
  createLogger,
  createRegistry,
  env,
  finishApp,
  handle,
  limits,
  serviceConfig,
  parseIdempotencyKey,
  parseOrderRequest,
  requireJson,
  serve,
} from '@faultline/common';
import { apiKeysSetting, authenticate } from './auth.ts';
import { openapi } from './openapi.ts';

const config = serviceConfig('gateway', 
  baseConfig.extend({
    CATALOG_URL: env.url(),
    ORDERS_URL: env.url(),
    API_KEYS: apiKeysSetting,
    UPSTREAM_TIMEOUT_MS: env.positiveInt(2000),
  }),
);
const logger = createLogger('gateway', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('gateway', config.REPLICA);
const timeoutMs = config.UPSTREAM_TIMEOUT_MS;

const app = createApp({ registry, logger, bodyLimit: `${limits.bodyBytes}b` });
app.get('/api/openapi.json', (_req, res) => {
  res.json(openapi);
});
app.get(
  '/api/menu',
  handle(async (_req, res) => {
    res.json((await callUpstream('catalog', `${config.CATALOG_URL}/menu`, { timeoutMs })).body);
  }),
);
const auth = authenticate(config.API_KEYS);
app.post(
  '/api/orders',
  auth,
  requireJson(),
  handle(async (req, res) => {
    // Validated at the edge too, so that bad input costs nothing downstream.
    const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
    const order = parseOrderRequest(req.body);
    const upstream = await callUpstream('orders', `${config.ORDERS_URL}/orders`, {
      method: 'POST',
      headers: { 'idempotency-key': idempotencyKey, 'x-client-id': String(res.locals.client) },
      body: order,
      timeoutMs,
    });
    res.status(upstream.status).json(upstream.body);
  }),
);
app.get(
  '/api/orders/:id',
  auth,
  handle(async (req, res) => {
    res.json((await callUpstream('orders', `${config.ORDERS_URL}/orders/${encodeURIComponent(String(req.params.id))}`, { timeoutMs })).body);
  }),
);
finishApp(app, logger);

await serve(app, { port: config.PORT, host: config.HOST, logger });
