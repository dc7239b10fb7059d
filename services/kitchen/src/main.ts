import { z } from 'zod';
import { baseConfig, inMessageTrace, createApp, createKafka, createLogger, createRedis, createRegistry, env, serviceConfig, serve, topics, Counter, Gauge, Histogram, type OrderPlaced, redisSettings, withRedis, replicationWait } from '@faultline/common';
import { createKitchen } from './kitchen.ts';
import { createStations } from './stations.ts';

const config = serviceConfig(
  'kitchen',
  withRedis(baseConfig.extend({
    ...redisSettings,
    KAFKA_BROKERS: env.brokers(),
    KITCHEN_GROUP: z.string().regex(/^[\w.-]{1,100}$/, 'expected a consumer group id').default('kitchen'),
    KITCHEN_PREP_MS: z.coerce.number().int().min(0).max(10_000).default(5),
    KITCHEN_STATIONS: z.coerce.number().int().min(1).max(256).default(4),
    KITCHEN_RETRY_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
    KITCHEN_SESSION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(3000),
  })),
);
const enabled = config.FAULTLINE_RESILIENCE;
const worker = `kitchen-${config.REPLICA}`;
const logger = createLogger('kitchen', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('kitchen', config.REPLICA);
const redis = createRedis(config, logger);
const kitchen = createKitchen(redis, worker, replicationWait(redis, config));
const kafka = createKafka(worker, config.KAFKA_BROKERS, logger);
// Failover in seconds: a dead worker's session ends after KITCHEN_SESSION_TIMEOUT_MS and its partitions move.
// kafkajs heartbeats between fetches, so a fetch must not wait longer than a heartbeat interval.
// With resilience off, kafkajs's defaults (30 s session, 3 s heartbeat, 5 s fetch wait) are the control.
const heartbeatInterval = Math.max(100, Math.floor(config.KITCHEN_SESSION_TIMEOUT_MS / 6));
const consumer = kafka.consumer(
  enabled
    ? { groupId: config.KITCHEN_GROUP, sessionTimeout: config.KITCHEN_SESSION_TIMEOUT_MS, heartbeatInterval, maxWaitTimeInMs: heartbeatInterval, rebalanceTimeout: 10_000 }
    : { groupId: config.KITCHEN_GROUP },
);
const stations = createStations({ stations: config.KITCHEN_STATIONS, retryAfterMs: config.KITCHEN_RETRY_MS, registry, logger, enabled });

const completions = new Counter({
  name: 'kitchen_orders_total',
  help: 'Deliveries of orders.placed by result: completed (first effect) or redelivery (a duplicate delivery, with no second effect).',
  labelNames: ['result'] as const,
  registers: [registry],
});
const prepSeconds = new Histogram({
  name: 'kitchen_order_processing_seconds',
  help: 'Time from delivery to a recorded completion.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});
const joins = new Counter({ name: 'kitchen_group_joins_total', help: 'Times this worker joined the consumer group: each rebalance counts one.', registers: [registry] });
const assignedGauge = new Gauge({ name: 'kitchen_assigned_partitions', help: 'Partitions of orders.placed assigned to this worker.', registers: [registry] });

let joined = false;
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  joined = true;
  const assigned = payload.memberAssignment[topics.ordersPlaced] ?? [];
  joins.inc();
  assignedGauge.set(assigned.length);
  stations.forget(assigned);
  logger.info({ memberId: payload.memberId, assigned }, 'joined group');
});
consumer.on(consumer.events.CRASH, ({ payload }) => {
  joined = false;
  logger.error({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
});

async function prepare(value: Buffer | null) {
  const end = prepSeconds.startTimer();
  const order = JSON.parse(value?.toString() ?? '{}') as OrderPlaced;
  if (config.KITCHEN_PREP_MS > 0) await new Promise((r) => setTimeout(r, config.KITCHEN_PREP_MS));
  const result = await kitchen.complete(order);
  completions.inc({ result });
  end();
}

async function start() {
  await consumer.connect();
  await consumer.subscribe({ topic: topics.ordersPlaced, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 64, // every assigned partition at once: the stations, not this, bound the work
    eachBatch: (payload) =>
      stations.eachBatch(payload, (message) =>
        inMessageTrace(`${topics.ordersPlaced} process`, message.headers, { 'messaging.destination.partition.id': String(payload.batch.partition), 'messaging.kafka.offset': message.offset }, () => prepare(message.value)),
      ),
  });
}
start().catch((err: Error) => {
  logger.fatal({ err: err.message }, 'kafka consumer failed to start');
  process.exit(1);
});

const app = createApp({
  registry,
  logger,
  readiness: {
    redis: () => redis.ping(),
    kafka: async () => {
      if (!joined) throw new Error('not in the consumer group');
    },
  },
});
// Graceful: disconnect finishes the batch in hand, commits its offsets and leaves the group, so no session has to expire.
await serve(app, {
  port: config.PORT,
  connectionMaxAgeMs: config.CONNECTION_MAX_AGE_MS,
  host: config.HOST,
  logger,
  closers: [() => consumer.disconnect(), () => redis.quit()],
});
