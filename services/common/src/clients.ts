import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSettings } from './config.ts';
import { apiError } from './contracts.ts';

/**
 * ioredis ends a Sentinel client for good when a failover notice (+switch-master, seen by failoverDetector) lands while
 * the client is reconnecting: its connector throws "Connection is closed." and nothing retries. On Kubernetes, after
 * the primary's pod was deleted, kitchen's client stayed ended and every completion failed. This client connects
 * again after any end it was not asked for.
 */
export class SentinelClient extends Redis {
  private closing = false;
  constructor(options: RedisOptions) {
    super(options);
    this.on('end', () => {
      if (this.closing) return;
      setTimeout(() => {
        if (this.status === 'end' && !this.closing) this.connect().catch(() => undefined);
      }, 250).unref();
    });
  }
  override disconnect(reconnect = false) {
    if (!reconnect) this.closing = true;
    super.disconnect(reconnect);
  }
  override quit(callback?: Parameters<Redis['quit']>[0]) {
    this.closing = true;
    return super.quit(callback);
  }
}

/**
 * A Redis client that fails fast while disconnected instead of queueing commands without bound. With Sentinels, it
 * asks them for the primary on every (re)connect, so after a failover it follows the promoted replica.
 */
export function createRedis(settings: Pick<RedisSettings, 'REDIS_URL' | 'REDIS_PASSWORD' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_MASTER' | 'REDIS_NAT_MAP' | 'REDIS_WAIT_TIMEOUT_MS'>, logger: Logger): Redis {
  const common: RedisOptions = {
    ...(settings.REDIS_PASSWORD ? { password: settings.REDIS_PASSWORD } : {}),
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A command in flight when the connection drops fails rather than being sent again after the reconnect: WAIT is
    // about the writes of its own connection, so a WAIT resent to a new primary answers at once for writes the old one
    // took with it (a completion acknowledged and lost in a failover drill). Bounded, since ioredis then drops such
    // commands unanswered when the reconnect is quick.
    autoResendUnfulfilledCommands: false,
    commandTimeout: settings.REDIS_WAIT_TIMEOUT_MS + 2000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
  };
  const redis = settings.REDIS_SENTINELS
    ? new SentinelClient({
        ...common,
        sentinels: settings.REDIS_SENTINELS,
        ...(settings.REDIS_PASSWORD ? { sentinelPassword: settings.REDIS_PASSWORD } : {}),
        name: settings.REDIS_SENTINEL_MASTER,
        role: 'master',
        ...(settings.REDIS_NAT_MAP ? { natMap: settings.REDIS_NAT_MAP } : {}),
        sentinelRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 1000),
        // Told of a failover by the Sentinels (+switch-master), it reconnects at once, not at its next error.
        failoverDetector: true,
        // A primary that answers as a replica (just demoted) is dropped, and the Sentinels asked again.
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
      })
    : new Redis(settings.REDIS_URL!, common);
  let down = false;
  redis.on('error', (err) => {
    if (!down) logger.warn({ err: err.message }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis available again');
    down = false;
  });
  return redis;
}

/**
 * Durable acknowledgement: resolves once REDIS_WAIT_REPLICAS replicas have every write this connection made (WAIT),
 * or throws 503 not_replicated after REDIS_WAIT_TIMEOUT_MS. Redis replicates asynchronously, so without it a primary
 * that dies right after answering takes the write with it. With 0 replicas asked for, it resolves at once.
 */
export function replicationWait(redis: Redis, settings: Pick<RedisSettings, 'REDIS_WAIT_REPLICAS' | 'REDIS_WAIT_TIMEOUT_MS'>): () => Promise<void> {
  const wanted = settings.REDIS_WAIT_REPLICAS;
  if (wanted === 0) return async () => undefined;
  return async () => {
    const copies = await redis.wait(wanted, settings.REDIS_WAIT_TIMEOUT_MS);
    if (copies < wanted) throw apiError('not_replicated', `${copies} of ${wanted} replicas confirmed the write within ${settings.REDIS_WAIT_TIMEOUT_MS} ms; retry with the same Idempotency-Key`, { retryAfterSeconds: 1 });
  };
}

const kafkaLevels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(clientId: string, brokers: string[], logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: { message, ...extra } }: LogEntry) =>
        log[kafkaLevels[level] ?? 'info']({ ...extra, timestamp: undefined }, message),
  });
}
