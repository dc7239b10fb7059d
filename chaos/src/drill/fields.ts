// The drill file's building blocks, shared by the drill's own schema and every fault kind's.
import { z } from 'zod';
import { components, shopServices } from '../core/topology.ts';

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const unitMs = { ms: 1, s: 1000, m: 60_000 } as const;

/** "500ms", "10s", "1.5m" → milliseconds. */
export function parseDuration(text: string): number {
  const m = durationPattern.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Math.round(Number(m[1]) * unitMs[m[2] as keyof typeof unitMs]);
}

/** "1500" → "1.5s": the other way, for plans and messages. */
export const formatDuration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

export const duration = (description: string, maxMs = 3_600_000) =>
  z
    .string()
    .regex(durationPattern, 'expected a duration such as 500ms, 10s or 2m')
    .refine((s) => !durationPattern.test(s) || parseDuration(s) <= maxMs, `at most ${maxMs / 1000} s`)
    .transform(parseDuration)
    .meta({ description });

export const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, starting with a letter or digit');
export const component = z.enum(components).meta({ description: 'a part of the shop' });
export const shopService = z.enum(shopServices).meta({ description: 'a service of the shop' });

export const tolerance = z
  .strictObject({
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((t) => t.min !== undefined || t.max !== undefined, 'give min, max or both')
  .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, 'min must not exceed max')
  .meta({ description: 'the value passes when min <= value <= max' });
export type Tolerance = z.infer<typeof tolerance>;

/** Chaos Mesh's selector shape, narrowed to the shop: which service's replicas. */
export const selector = z.strictObject({ service: shopService });

/** The roles a store's nodes have where it runs with several: Redis's as Sentinel names them, Kafka's for a topic. The first leads. */
export const storeRoles = { redis: ['primary', 'replica'], kafka: ['leader', 'follower'] } as const;

export const storeRole = z.enum([...storeRoles.redis, ...storeRoles.kafka]);
/** A selector's role must be one its store has. */
export const roleFitsStore: [(s: { service: string; role?: string }) => boolean, { message: string; path: string[] }] = [
  (s) => s.role === undefined || (storeRoles[s.service as keyof typeof storeRoles] as readonly string[] | undefined)?.includes(s.role) === true,
  { message: 'role goes with its store: primary or replica with service: redis, leader or follower with service: kafka', path: ['role'] },
];

/** What a pod-kill may take: a service's replicas, or a Redis or Kafka node by its role (where the store has several). */
export const podSelector = z
  .strictObject({
    service: z.enum([...shopServices, 'redis', 'kafka']).meta({ description: 'a service of the shop, or a store: redis or kafka' }),
    role: storeRole.optional().meta({ description: "a store's node by its role now: redis primary or replica (as Sentinel names them), kafka leader or follower (of topic's partition 0)" }),
    topic: z.literal('orders.placed').optional().meta({ description: 'kafka only: the topic whose leader role refers to (the shop has one)' }),
  })
  .refine(...roleFitsStore)
  .refine((s) => s.topic === undefined || s.service === 'kafka', { message: 'topic goes with service: kafka', path: ['topic'] });

export const mode = z.enum(['one', 'all', 'fixed', 'fixed-percent']).meta({ description: "Chaos Mesh's modes: one replica, all of them, a fixed number, or a fixed percentage" });

/** How long a fault lasts; every fault has one, and the platform ends it by then even if the drill's controller dies. */
export const faultDuration = duration('how long the fault lasts; it is removed by this deadline even if the controller dies', 600_000);

const stage = z.strictObject({ target: z.number().int().min(0).max(100_000), duration: duration('how long this stage ramps', 600_000) });

/** k6 with an open-model executor: arrivals do not wait for answers, as real traffic does not. */
export const k6Load = {
  script: z.string().regex(/^[\w-]+\.js$/, 'expected a script file name in chaos/load/, such as orders.js'),
  executor: z.enum(['constant-arrival-rate', 'ramping-arrival-rate']).default('constant-arrival-rate'),
  rate: z.number().int().min(1).max(100_000).optional().meta({ description: 'iterations per second, for constant-arrival-rate' }),
  stages: z.array(stage).min(1).optional().meta({ description: 'for ramping-arrival-rate' }),
  duration: duration('how long load runs (constant-arrival-rate)', 600_000).optional(),
  maxVUs: z.number().int().min(1).max(5000).default(200),
  apiKey: z.enum(['local', 'load']).default('load').meta({ description: 'which client the traffic comes from' }),
};

export const executorFields = (l: { executor: string; rate?: number; duration?: number; stages?: unknown[] }) =>
  l.executor === 'constant-arrival-rate' ? l.rate !== undefined && l.duration !== undefined && l.stages === undefined : l.stages !== undefined && l.rate === undefined && l.duration === undefined;
export const executorMessage = { message: 'constant-arrival-rate takes rate and duration; ramping-arrival-rate takes stages', path: ['executor'] };

/** What k6 is asked to do, whether as a load step or a flood. */
export interface LoadSpec {
  script: string;
  executor: 'constant-arrival-rate' | 'ramping-arrival-rate';
  rate?: number;
  stages?: Array<{ target: number; duration: number }>;
  duration?: number;
  maxVUs: number;
  /** VUs made before the load starts (default half of maxVUs, at least one second of the peak rate); k6 makes the rest one at a time, dropping arrivals meanwhile. */
  preAllocatedVUs?: number;
  apiKey: 'local' | 'load';
}

/** How long k6 offers load: the duration, or the sum of the stages. */
export const loadDurationMs = (load: Pick<LoadSpec, 'duration' | 'stages'>) => load.duration ?? (load.stages ?? []).reduce((sum, s) => sum + s.duration, 0);

export const describeLoad = (l: LoadSpec) =>
  `${l.script} ${l.executor === 'constant-arrival-rate' ? `${l.rate}/s for ${formatDuration(l.duration!)}` : `ramping ${l.stages!.map((s) => `${s.target}/s over ${formatDuration(s.duration)}`).join(', ')}`} as ${l.apiKey}`;
