import { Partitioners } from 'kafkajs';
import {
  ApiError,
  apiError,
  callUpstream,
  baseConfig,
  createApp,
  createKafka,
  createLogger,
  createRedis,
  createRegistry,
  env,
  finishApp,
  handle,
  serviceConfig,
  parseIdempotencyKey,
  parseOrderRequest,
  requireJson,
  serve,
  Counter,
  type OrderRequest,
} from '@faultline/common';
import { createOrderService, type Quote } from './orders.ts';

const config = serviceConfig('orders', 
  baseConfig.extend({
    REDIS_URL: env.redisUrl(),
    KAFKA_BROKERS: env.brokers(),
    CATALOG_URL: env.url(),
    CATALOG_TIMEOUT_MS: env.positiveInt(1000),
  }),
);
const logger = createLogger('orders', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('orders', config.REPLICA);
const redis = createRedis(config.REDIS_URL, logger);
const kafka = createKafka(`orders-${config.REPLICA}`, config.KAFKA_BROKERS, logger);
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
let producerConnected = false;
producer.on(producer.events.CONNECT, () => (producerConnected = true));
producer.on(producer.events.DISCONNECT, () => (producerConnected = false));
const connectProducer = () => producer.connect().catch((err: Error) => logger.warn({ err: err.message }, 'kafka producer connect failed; retrying'));
void connectProducer();
setInterval(() => void (!producerConnected && connectProducer()), 2000).unref();

const ordersTotal = new Counter({
  name: 'orders_total',
  help: 'Order requests by outcome: accepted, replayed or refused (with the error code).',
  labelNames: ['outcome', 'code'] as const,
  registers: [registry],
});

const quote = async (request: OrderRequest) =>
  (await callUpstream<Quote>('catalog', `${config.CATALOG_URL}/quote`, { method: 'POST', body: request, timeoutMs: config.CATALOG_TIMEOUT_MS })).body;

const orders = createOrderService({ redis, producer, quote, logger });

const app = createApp({ registry, logger, readiness: {
    redis: () => redis.ping(),
    kafka: async () => {
      if (!producerConnected) throw new Error('producer not connected');
    },
  } });
app.post(
  '/orders',
  requireJson(),
  handle(async (req, res) => {
    try {
      const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
      const request = parseOrderRequest(req.body);
      const { replayed, order } = await orders.place(req.get('x-client-id') ?? 'direct', idempotencyKey, request);
      ordersTotal.inc({ outcome: replayed ? 'replayed' : 'accepted', code: '' });
      res.status(replayed ? 200 : 201).json({ id: order.id, status: order.status, totalCents: order.totalCents });
    } catch (err) {
      ordersTotal.inc({ outcome: 'refused', code: err instanceof ApiError ? err.code : 'internal_error' });
      throw err;
    }
  }),
);
app.get(
  '/orders/:id',
  handle(async (req, res) => {
    const order = await orders.get(String(req.params.id));
    if (!order) throw apiError('order_not_found', `no order has the id ${JSON.stringify(req.params.id)}`);
    res.json(order);
  }),
);
finishApp(app, logger);

await serve(app, {
  port: config.PORT,
  host: config.HOST,
  logger,
  closers: [() => producer.disconnect(), () => redis.quit()],
});
