import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the environment once into a typed, frozen object; a bad setting fails start-up naming the variable. */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): Readonly<z.infer<S>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}=${JSON.stringify(env[String(i.path[0])] ?? null)}: ${i.message}`);
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
