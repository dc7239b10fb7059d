import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// A bad secret is named and measured, never echoed: start-up errors go to logs that others may read.
const secretSetting = /PASSWORD|SECRET|TOKEN/;
const shown = (name: string, value: string | undefined) => (value === undefined ? 'null' : secretSetting.test(name) ? `(hidden, ${value.length} characters)` : JSON.stringify(value));

/** Reads the environment once into a typed, frozen object; a bad setting fails start-up naming the variable. */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): Readonly<z.infer<S>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}=${shown(String(i.path[0]), env[String(i.path[0])])}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}

/** For a service's main: a bad setting prints what is wrong and exits 2 before anything starts. */
export function serviceConfig<S extends z.ZodObject>(service: string, schema: S): Readonly<z.infer<S>> {
  try {
    return loadConfig(schema);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}

/** Building blocks for service settings. */
export const env = {
  port: () => z.coerce.number().int().min(1).max(65535),
  host: () => z.string().regex(/^127\.\d+\.\d+\.\d+$|^localhost$|^0\.0\.0\.0$|^::1?$/, 'expected a bind address such as 127.0.0.1').default('127.0.0.1'),
  url: () => z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  redisUrl: () => z.url({ protocol: /^rediss?$/, error: 'expected a redis:// URL' }),
  brokers: () =>
    z
      .string()
      .regex(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/, 'expected host:port[,host:port...]')
      .transform((s) => s.split(',')),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  replica: () => z.string().regex(/^[\w-]+$/).default('0'),
  resilience: () => z.enum(['on', 'off'], { error: 'expected on or off' }).default('on').transform((v) => v === 'on'),
};

const hostPort = /^[\w.-]+:\d{1,5}$/;

/**
 * How a service reaches Redis: REDIS_URL, or, where Redis runs with Sentinel, the Sentinels to ask for the current
 * primary (REDIS_URL is then not used). REDIS_NAT_MAP rewrites
 * the node addresses Sentinel announces into the ones this service can reach (its own proxies, in the local runtime).
 * REDIS_WAIT_REPLICAS > 0 makes a write count only once that many replicas have it (WAIT), within REDIS_WAIT_TIMEOUT_MS.
 * REDIS_PASSWORD, where Redis requires one (the local runtime's, made per stack), is sent to the nodes and Sentinels.
 */
export const redisSettings = {
  REDIS_URL: env.redisUrl().optional(),
  REDIS_PASSWORD: z.string().regex(/^[\x21-\x7e]{1,512}$/, 'expected 1 to 512 printable characters without spaces').optional(),
  REDIS_SENTINELS: z
    .string()
    .regex(/^[\w.-]+:\d{1,5}(,[\w.-]+:\d{1,5})*$/, 'expected host:port[,host:port...]')
    .transform((s) => s.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })))
    .optional(),
  REDIS_SENTINEL_MASTER: z.string().regex(/^[\w.-]{1,64}$/, 'expected a Sentinel master name').default('faultline'),
  REDIS_NAT_MAP: z
    .string()
    .refine((s) => s.split(',').every((pair) => pair.split('=').length === 2 && pair.split('=').every((hp) => hostPort.test(hp))), 'expected announced-host:port=reachable-host:port[,...]')
    .transform((s) => Object.fromEntries(s.split(',').map((pair) => pair.split('=') as [string, string]).map(([from, to]) => [from, { host: to.split(':')[0]!, port: Number(to.split(':')[1]) }])))
    .optional(),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(5).default(0),
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
};
export type RedisSettings = z.infer<z.ZodObject<typeof redisSettings>>;

/** A service's settings with redisSettings: one of REDIS_URL and REDIS_SENTINELS must say where Redis is. */
export function withRedis<S extends z.ZodObject>(schema: S): S {
  return schema.refine((c: Record<string, unknown>) => c.REDIS_URL !== undefined || c.REDIS_SENTINELS !== undefined, { message: 'expected a redis:// URL, or REDIS_SENTINELS where Redis runs with Sentinel', path: ['REDIS_URL'] });
}

export const baseConfig = z.object({
  PORT: env.port(),
  HOST: env.host(),
  LOG_LEVEL: env.logLevel(),
  REPLICA: env.replica(),
  /** off turns every resilience policy into a pass-through, for the control run. */
  FAULTLINE_RESILIENCE: env.resilience(),
  /** Keep-alive connections to this service end after this long (0: never); see serve(). */
  CONNECTION_MAX_AGE_MS: z.coerce.number().int().min(0).max(3_600_000).default(5000),
});
