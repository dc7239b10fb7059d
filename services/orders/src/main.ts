import { z } from 'zod';
import {
  ApiError,
  DependencyFailure,
  adoptDeadline,
  apiError,
  baseConfig,
  callUpstream,
  createApp,
  createDependency,
  createKafka,
  createLogger,
  createRedis,
  createRegistry,
  deadlineOf,
  drillBreaker,
  env,
  finishApp,
  handle,
  parseIdempotencyKey,
  parseOrderRequest,
  requireJson,
  resilienceMetrics,
  serve,
  serviceConfig,
  topics,
  Counter,
  Gauge,
  type OrderRequest,
  redisSettings,
  withRedis,
  replicationWait,
} from '@faultline/common';
import { watchKitchenBacklog } from './backlog.ts';
import { groupCommit, orderLogProducer } from './group-commit.ts';
import { createOrderService, type Quote } from './orders.ts';

const config = serviceConfig(
  'orders',
  withRedis(baseConfig.extend({
    ...redisSettings,
    KAFKA_BROKERS: env.brokers(),
    CATALOG_URL: env.url(),
    CATALOG_TIMEOUT_MS: env.positiveInt(800),
    KAFKA_TIMEOUT_MS: env.positiveInt(1500),
    KITCHEN_GROUP: z.string().regex(/^[\w.-]{1,100}$/, 'expected a consumer group id').default('kitchen'),
    MAX_KITCHEN_LAG: env.positiveInt(200),
    LAG_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  })),
);
const enabled = config.FAULTLINE_RESILIENCE;
const logger = createLogger('orders', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('orders', config.REPLICA);
const redis = createRedis(config, logger);
const kafka = createKafka(`orders-${config.REPLICA}`, config.KAFKA_BROKERS, logger);
const producer = kafka.producer(orderLogProducer);
let producerConnected = false;
producer.on(producer.events.CONNECT, () => (producerConnected = true));
producer.on(producer.events.DISCONNECT, () => (producerConnected = false));
const publishOrder = groupCommit(producer, topics.ordersPlaced, {
  partitions: async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics: [placed] } = await admin.fetchTopicMetadata({ topics: [topics.ordersPlaced] });
      return placed!.partitions.length;
    } finally {
      await admin.disconnect();
    }
  },
  // The first failure, then every 20th (every 5 s), so that a long outage does not flood the log.
  onRetry: (partition, attempt, err) => (attempt === 1 || attempt % 20 === 0) && logger.warn({ partition, attempt, err: err.message }, 'order log request failed; sending it again'),
});
const connectProducer = () => producer.connect().catch((err: Error) => logger.warn({ err: err.message }, 'kafka producer connect failed; retrying'));
void connectProducer();
setInterval(() => void (!producerConnected && connectProducer()), 2000).unref();

const ordersTotal = new Counter({
  name: 'orders_total',
  help: 'Order requests by outcome: accepted, replayed or refused (with the error code).',
  labelNames: ['outcome', 'code'] as const,
  registers: [registry],
});

// time() minus this is how long the shop has acknowledged no order: a failover's gap, as a drill reads it.
const lastAcknowledged = new Gauge({ name: 'orders_last_acknowledged_timestamp_seconds', help: 'When this replica last acknowledged an order (201, or 200 for a replay).', registers: [registry] });

// No retries at this layer: the gateway is the one layer that retries, and it does not retry order placement.
const catalog = createDependency({ name: 'catalog', registry, enabled, timeoutMs: config.CATALOG_TIMEOUT_MS, breaker: drillBreaker });
// Kafka moves a dead broker's partitions within its 3 s session, so the breaker tries a send again after 1 s, not 3:
// measured, the 3 s hold put serving again after a leader's kill at 5.2 s p95, past the 5 s goal. A probe is one send.
const orderLog = createDependency({ name: 'kafka', registry, enabled, timeoutMs: config.KAFKA_TIMEOUT_MS, breaker: { ...drillBreaker, halfOpenAfterMs: 1000 } });
const backlog = watchKitchenBacklog({ kafka, group: config.KITCHEN_GROUP, topic: topics.ordersPlaced, limit: config.MAX_KITCHEN_LAG, pollMs: config.LAG_POLL_MS, registry, logger, enabled });

const orders = createOrderService({
  redis,
  admit: backlog.admit,
  durable: replicationWait(redis, config),
  quote: async (request: OrderRequest, deadline?: number) =>
    (await catalog.call((signal) => callUpstream<Quote>('catalog', `${config.CATALOG_URL}/quote`, { method: 'POST', body: request, signal, deadline }), { deadline })).body,
  publish: async (message, deadline) => {
    await orderLog.call(
      (signal) =>
        publishOrder({ key: message.id, value: JSON.stringify(message) }, signal).catch((err: Error) => {
          throw new DependencyFailure('the order log (Kafka)', `refused the order: ${err.message}`, err);
        }),
      { deadline },
    );
  },
});

const app = createApp({
  registry,
  logger,
  guards: enabled ? [adoptDeadline(() => resilienceMetrics(registry).shed.inc({ reason: 'deadline' }))] : [],
  readiness: {
    redis: () => redis.ping(),
    kafka: async () => {
      if (!producerConnected) throw new Error('producer not connected');
    },
  },
});
app.post(
  '/orders',
  requireJson(),
  handle(async (req, res) => {
    try {
      const idempotencyKey = parseIdempotencyKey(req.get('idempotency-key'));
      const request = parseOrderRequest(req.body);
      const { replayed, order } = await orders.place(req.get('x-client-id') ?? 'direct', idempotencyKey, request, deadlineOf(res));
      ordersTotal.inc({ outcome: replayed ? 'replayed' : 'accepted', code: '' });
      lastAcknowledged.setToCurrentTime();
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
finishApp(app, logger, { redis, name: 'the order store' });

await serve(app, {
  port: config.PORT,
  connectionMaxAgeMs: config.CONNECTION_MAX_AGE_MS,
  host: config.HOST,
  logger,
  closers: [() => backlog.close(), () => producer.disconnect(), () => redis.quit()],
});
