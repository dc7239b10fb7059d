import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../core/errors.ts';
import { defaultOptions, maxReplicas, serviceNames, topologies, type RuntimeOptions, type ServiceName } from './layout.ts';

const replicas = z.coerce.number().int().min(1).max(maxReplicas);

const raw = z.strictObject({
  portBase: z.coerce.number().int().min(1024).max(65_000).optional(),
  stateDir: z.string().min(1).optional(),
  resilience: z.enum(['on', 'off']).optional(),
  topology: z.enum(topologies).optional(),
  replicas: z
    .string()
    .regex(/^(\w+=\d+)(,\w+=\d+)*$/, 'expected service=count[,service=count], e.g. catalog=3,kitchen=2')
    .optional(),
  set: z.array(z.string()).optional(),
});

/** Settings the supervisor owns: wiring and identity, which a --set must not break. */
const managedSettings = /^(PORT|HOST|REPLICA|REDIS_URL|REDIS_PASSWORD|REDIS_SENTINELS|REDIS_SENTINEL_MASTER|REDIS_NAT_MAP|KAFKA_BROKERS|CATALOG_URL|ORDERS_URL|API_KEYS|FAULTLINE_RESILIENCE|OTEL_\w+)$/;

/** CLI flags over environment over defaults; anything malformed is a UsageError (exit 2) that names the setting. */
export function runtimeOptions(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const merged = {
    portBase: flags.portBase ?? env.FAULTLINE_PORT_BASE,
    stateDir: flags.stateDir ?? env.FAULTLINE_STATE_DIR,
    resilience: flags.resilience ?? env.FAULTLINE_RESILIENCE,
    topology: flags.topology ?? env.FAULTLINE_TOPOLOGY,
    replicas: flags.replicas,
    set: flags.set,
  };
  const parsed = raw.safeParse(Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)));
  if (!parsed.success) {
    const names: Record<string, string> = { portBase: '--port-base / FAULTLINE_PORT_BASE', stateDir: '--state-dir / FAULTLINE_STATE_DIR', resilience: '--resilience / FAULTLINE_RESILIENCE', topology: '--topology / FAULTLINE_TOPOLOGY', replicas: '--replicas' };
    throw new UsageError(parsed.error.issues.map((i) => `${names[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('\n'));
  }
  const defaults = defaultOptions();
  const opts: RuntimeOptions = {
    ...defaults,
    ...(parsed.data.portBase ? { portBase: parsed.data.portBase } : {}),
    ...(parsed.data.stateDir ? { stateDir: isAbsolute(parsed.data.stateDir) ? parsed.data.stateDir : resolve(parsed.data.stateDir) } : {}),
    ...(parsed.data.resilience ? { resilience: parsed.data.resilience } : {}),
    ...(parsed.data.topology ? { topology: parsed.data.topology } : {}),
  };
  for (const assignment of parsed.data.set ?? []) {
    const m = /^(\w+)\.([A-Z][A-Z0-9_]*)=(.*)$/s.exec(assignment);
    if (!m) throw new UsageError(`--set: expected service.SETTING=value, e.g. gateway.RATE_LIMIT_RPS=20; got "${assignment}"`);
    const [, svc, name, value] = m as unknown as [string, string, string, string];
    if (!(serviceNames as readonly string[]).includes(svc)) throw new UsageError(`--set: unknown service "${svc}" (known: ${serviceNames.join(', ')})`);
    if (managedSettings.test(name)) throw new UsageError(`--set: ${name} is wired by the runtime and cannot be set`);
    opts.settings = { ...opts.settings, [svc]: { ...opts.settings[svc as ServiceName], [name]: value } };
  }
  for (const pair of parsed.data.replicas?.split(',') ?? []) {
    const [svc, count] = pair.split('=') as [string, string];
    if (!(serviceNames as readonly string[]).includes(svc)) throw new UsageError(`--replicas: unknown service "${svc}" (known: ${serviceNames.join(', ')})`);
    const n = replicas.safeParse(count);
    if (!n.success) throw new UsageError(`--replicas: ${svc}=${count} must be a whole number from 1 to ${maxReplicas}`);
    opts.replicas = { ...opts.replicas, [svc]: n.data };
  }
  return opts;
}
