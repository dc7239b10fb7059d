import { adoptDeadline, baseConfig, createApp, createLogger, createRedis, createRegistry, env, finishApp, handle, serviceConfig, parseOrderRequest, requireJson, resilienceMetrics, serve, redisSettings, withRedis } from '@faultline/common';
import { createMenuStore, seed } from './menu.ts';

const config = serviceConfig('catalog', withRedis(baseConfig.extend({ ...redisSettings, MENU_CACHE_TTL_MS: env.positiveInt(2000) })));
const logger = createLogger('catalog', config.LOG_LEVEL, config.REPLICA);
const registry = createRegistry('catalog', config.REPLICA);
const redis = createRedis(config, logger);
const store = createMenuStore(redis, config.MENU_CACHE_TTL_MS, registry);
redis.once('ready', () => void seed(redis).catch((err) => logger.warn({ err }, 'menu seed failed')));

const app = createApp({
  registry,
  logger,
  guards: config.FAULTLINE_RESILIENCE ? [adoptDeadline(() => resilienceMetrics(registry).shed.inc({ reason: 'deadline' }))] : [],
  readiness: { redis: () => redis.ping() },
});
app.get(
  '/menu',
  handle(async (_req, res) => {
    res.json({ items: await store.list() });
  }),
);
app.post(
  '/quote',
  requireJson(),
  handle(async (req, res) => {
    res.json(await store.quote(parseOrderRequest(req.body)));
  }),
);
finishApp(app, logger, { redis, name: 'the menu store' });

await serve(app, {
  port: config.PORT,
  connectionMaxAgeMs: config.CONNECTION_MAX_AGE_MS,
  host: config.HOST,
  logger,
  closers: [() => redis.quit()],
});
