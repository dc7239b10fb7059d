// A bare pass-through gateway, for `faultline bench`'s overhead phase only: the same order route as main.ts, with
// the same input validation and the same call to orders, but none of the middleware stack (no API-key auth, no rate
// limit, no admission control, deadline, breaker or retry, no metrics, and run without the telemetry --import, so
// no tracing). The supervisor never starts it; the normal gateway is main.ts.
import express from 'express';
import { baseConfig, callUpstream, env, listenBacklog, parseIdempotencyKey, parseOrderRequest, serviceConfig } from '@faultline/common';

const config = serviceConfig('gateway-bare', baseConfig.extend({ ORDERS_URL: env.url(), ORDERS_TIMEOUT_MS: env.positiveInt(2500) }));

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/api/orders', express.json({ limit: '16kb' }), async (req, res) => {
  try {
    const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
    const order = parseOrderRequest(req.body);
    const upstream = await callUpstream('orders', `${config.ORDERS_URL}/orders`, {
      method: 'POST',
      headers: { 'idempotency-key': idempotencyKey, 'x-client-id': 'load' },
      body: order,
      signal: AbortSignal.timeout(config.ORDERS_TIMEOUT_MS),
    });
    res.status(upstream.status).json(upstream.body);
  } catch (err) {
    const e = err as { status?: number; code?: string; message: string };
    res.status(typeof e.status === 'number' ? e.status : 502).json({ error: { code: e.code ?? 'upstream_failed', message: e.message } });
  }
});

const server = app.listen({ port: config.PORT, host: config.HOST, backlog: listenBacklog });
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => process.exit(0)));
