import { z } from 'zod';
import { baseConfig, createApp, createKafka, createLogger, createRedis, createRegistry, env, serviceConfig, serve, topics, Counter, Histogram, type OrderPlaced } from '@faultline/common';
import { createKitchen } from './kitchen.ts';

const config = serviceConfig('kitchen', 
  baseConfig.extend({
    REDIS_URL: env.redisUrl(),
    KAFKA_BROKERS: env.brokers(),
    KITCHEN_GROUP: z.string().regex(/^[\w.-]{1,100}$/, 'expected a consumer group id').default('kitchen'),
    KITCHEN_PREP_MS: z.coerce.number().int().min(0).max(10_000).default(5),
  }),
);
const worker = `kitchen-${config.REPLICA}`;
const logger = createLogger('kitchen', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('kitchen', config.REPLICA);
const redis = createRedis(config.REDIS_URL, logger);
const kitchen = createKitchen(redis, worker);
const kafka = createKafka(worker, config.KAFKA_BROKERS, logger);
const consumer = kafka.consumer({ groupId: config.KITCHEN_GROUP, sessionTimeout: 6000, heartbeatInterval: 1000, rebalanceTimeout: 10_000 });

const completions = new Counter({
  name: 'kitchen_orders_total',
  help: 'Deliveries of orders.placed by result: completed (first effect) or redelivery (no second effect).',
  labelNames: ['result'] as const,
  registers: [registry],
});
const prepSeconds = new Histogram({
  name: 'kitchen_order_processing_seconds',
  help: 'Time from delivery to a recorded completion.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});

let joined = false;
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  joined = true;
  logger.info({ memberId: payload.memberId, assignment: payload.memberAssignment }, 'joined group');
});
consumer.on(consumer.events.CRASH, ({ payload }) => {
  joined = false;
  logger.error({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
});

async function start() {
  await consumer.connect();
  await consumer.subscribe({ topic: topics.ordersPlaced, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const end = prepSeconds.startTimer();
      const order = JSON.parse(message.value?.toString() ?? '{}') as OrderPlaced;
      if (config.KITCHEN_PREP_MS > 0) await new Promise((r) => setTimeout(r, config.KITCHEN_PREP_MS));
      const result = await kitchen.complete(order);
      completions.inc({ result });
      end();
    },
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
await serve(app, {
  port: config.PORT,
  host: config.HOST,
  logger,
  closers: [() => consumer.disconnect(), () => redis.quit()],
});
