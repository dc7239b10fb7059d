// The drill file: Chaos Toolkit's experiment shape (steady state, method, rollbacks) with Chaos Mesh's selectors,
// plus what both lack: verifications over phase windows, abort conditions and a deadline on every fault.
import { z } from 'zod';

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const unitMs = { ms: 1, s: 1000, m: 60_000 } as const;

/** "500ms", "10s", "1.5m" → milliseconds. */
export function parseDuration(text: string): number {
  const m = durationPattern.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Math.round(Number(m[1]) * unitMs[m[2] as keyof typeof unitMs]);
}

const duration = (description: string, maxMs = 3_600_000) =>
  z
    .string()
    .regex(durationPattern, 'expected a duration such as 500ms, 10s or 2m')
    .refine((s) => !durationPattern.test(s) || parseDuration(s) <= maxMs, `at most ${maxMs / 1000} s`)
    .transform(parseDuration)
    .meta({ description });

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes, starting with a letter or digit');
const service = z.enum(['gateway', 'catalog', 'orders', 'kitchen', 'redis', 'kafka']).meta({ description: 'a part of the shop' });
const shopService = z.enum(['gateway', 'catalog', 'orders', 'kitchen']).meta({ description: 'a service of the shop' });

export const tolerance = z
  .strictObject({
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((t) => t.min !== undefined || t.max !== undefined, 'give min, max or both')
  .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, 'min must not exceed max')
  .meta({ description: 'the value passes when min <= value <= max' });

const httpCheck = z.strictObject({
  path: z.string().regex(/^\/[\x21-\x7e]*$/, 'expected a path on the gateway, such as /api/menu'),
  method: z.enum(['GET', 'POST']).default('GET'),
  body: z.unknown().optional(),
  /** The local key is sent as X-API-Key unless false. */
  apiKey: z.boolean().default(true),
  status: z.array(z.number().int().min(100).max(599)).min(1).default([200]).meta({ description: 'statuses that pass' }),
  timeout: duration('how long the request may take', 60_000).default(2000),
});

const metricCheck = z.strictObject({
  service: shopService,
  name: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a Prometheus metric name'),
  labels: z.record(z.string().regex(/^[a-zA-Z_]\w*$/), z.string()).default({}),
  aggregate: z.enum(['sum', 'max', 'min']).default('max').meta({ description: 'how the replicas’ samples combine' }),
});

/** A measurement: PromQL against Prometheus, a metric read straight from every replica (for sub-second timing), or an HTTP call to the gateway. */
export const probe = z
  .strictObject({
    name,
    promql: z.string().min(1).optional().meta({ description: 'an instant query; its single value (or the sum of its series) is the reading' }),
    metric: metricCheck.optional().meta({ description: "read from each replica's /metrics every sample, without waiting for a scrape" }),
    http: httpCheck.optional().meta({ description: 'a request to the gateway; the reading is 1 when its status is allowed, else 0' }),
    tolerance: tolerance.optional(),
  })
  .refine((p) => [p.promql, p.metric, p.http].filter((x) => x !== undefined).length === 1, 'a probe has exactly one of promql, metric or http')
  .refine((p) => p.http !== undefined || p.tolerance !== undefined, 'a promql or metric probe needs a tolerance');
export type Probe = z.infer<typeof probe>;

const selector = z.strictObject({
  service: shopService,
});

const mode = z.enum(['one', 'all', 'fixed', 'fixed-percent']).meta({ description: "Chaos Mesh's modes: one replica, all of them, a fixed number, or a fixed percentage" });

const selection = {
  selector,
  mode: mode.default('one'),
  value: z.number().int().min(1).optional().meta({ description: 'the number (fixed) or percentage (fixed-percent) of replicas' }),
};

const faultDuration = duration('how long the fault lasts; it is removed by this deadline even if the controller dies', 600_000);

const valueWithMode = (f: { mode: string; value?: number }) => (f.mode === 'fixed' || f.mode === 'fixed-percent') === (f.value !== undefined);
const valueMessage = { message: 'value is required with mode fixed or fixed-percent, and only then', path: ['value'] };

const podKill = z
  .strictObject({
    kind: z.literal('pod-kill'),
    ...selection,
  })
  .refine(valueWithMode, valueMessage);

const network = {
  selector,
  target: z.strictObject({ service }).meta({ description: 'the other end of the edge' }),
  direction: z.enum(['to', 'from', 'both']).default('both').meta({ description: 'to: traffic from selector to target is dropped; from: the answers; both' }),
  duration: faultDuration,
};

const partition = z.strictObject({ kind: z.literal('network-partition'), ...network });

const latency = z.strictObject({
  kind: z.literal('latency'),
  ...network,
  latency: duration('delay added to each chunk of data', 60_000),
  jitter: duration('random variation of the delay', 60_000).default(0),
});

const stage = z.strictObject({ target: z.number().int().min(0).max(100_000), duration: duration('how long this stage ramps', 600_000) });

/** k6 with an open-model executor: arrivals do not wait for answers, as real traffic does not. */
const k6Load = {
  script: z.string().regex(/^[\w-]+\.js$/, 'expected a script file name in chaos/load/, such as orders.js'),
  executor: z.enum(['constant-arrival-rate', 'ramping-arrival-rate']).default('constant-arrival-rate'),
  rate: z.number().int().min(1).max(100_000).optional().meta({ description: 'iterations per second, for constant-arrival-rate' }),
  stages: z.array(stage).min(1).optional().meta({ description: 'for ramping-arrival-rate' }),
  duration: duration('how long load runs (constant-arrival-rate)', 600_000).optional(),
  maxVUs: z.number().int().min(1).max(5000).default(200),
  apiKey: z.enum(['local', 'load']).default('load').meta({ description: 'which client the traffic comes from' }),
};

const executorFields = (l: { executor: string; rate?: number; duration?: number; stages?: unknown[] }) =>
  l.executor === 'constant-arrival-rate' ? l.rate !== undefined && l.duration !== undefined && l.stages === undefined : l.stages !== undefined && l.rate === undefined && l.duration === undefined;
const executorMessage = { message: 'constant-arrival-rate takes rate and duration; ramping-arrival-rate takes stages', path: ['executor'] };

const floodFields = z.strictObject({ kind: z.literal('flood'), ...k6Load }).refine(executorFields, executorMessage);

export const fault = z.discriminatedUnion('kind', [podKill, partition, latency, floodFields]);
export type Fault = z.infer<typeof fault>;

const loadStep = z
  .strictObject({
    ...k6Load,
    background: z.boolean().default(true).meta({ description: 'run alongside the steps after it, until its duration ends' }),
  })
  .refine(executorFields, executorMessage);
export type Load = z.infer<typeof loadStep>;

export type Step = { fault?: Fault; load?: Load; wait?: number; parallel?: Step[] };
type StepInput = { fault?: z.input<typeof fault>; load?: z.input<typeof loadStep>; wait?: string; parallel?: StepInput[] };

/** One of fault, load, wait or parallel. (One object with optional keys rather than a union, so errors point at the field.) */
export const step: z.ZodType<Step, StepInput> = z.lazy(() =>
  z
    .strictObject({
      fault: fault.optional(),
      load: loadStep.optional(),
      wait: duration('a pause', 600_000).optional(),
      parallel: z.array(step).min(1).optional(),
    })
    .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, 'a step has exactly one of fault, load, wait or parallel'),
);

export const phase = z.enum(['baseline', 'fault', 'recovery', 'whole']);

export const verification = z
  .strictObject({
    name: z.string().min(1).max(200),
    probe: name.meta({ description: 'a probe from steadyState.probes or probes' }),
    during: phase.default('whole').meta({ description: 'baseline: before the first fault; fault: from the first injection to the last recovery; recovery: after it' }),
    expect: z
      .strictObject({
        always: tolerance.optional().meta({ description: 'every reading in the window is within tolerance' }),
        reaches: tolerance.optional().meta({ description: 'some reading in the window is within tolerance' }),
        change: tolerance.optional().meta({ description: 'the last reading in the window minus the first is within tolerance (for counters)' }),
        within: duration('with reaches: the first such reading comes this soon after the window starts', 600_000).optional(),
      })
      .refine((e) => [e.always, e.reaches, e.change].filter(Boolean).length === 1, 'expect has exactly one of always, reaches or change')
      .refine((e) => e.within === undefined || e.reaches !== undefined, 'within goes with reaches'),
  });

export const drill = z
  .strictObject({
    name,
    description: z.string().max(2000).default(''),
    timeout: duration('the whole drill; past it, the drill stops, rolls back and is marked interrupted', 3_600_000).default(600_000),
    sampleEvery: duration('how often probes are read during the method', 10_000).default(250),
    steadyState: z.strictObject({
      probes: z.array(probe).min(1),
      recoveryTimeout: duration('how long the steady state may take to return after the method', 600_000).default(60_000),
    }),
    probes: z.array(probe).default([]).meta({ description: 'more probes, read all along, for verifications' }),
    method: z.array(step).min(1),
    verifications: z.array(verification).default([]),
    abortConditions: z.array(probe).default([]).meta({ description: 'read all along; one out of tolerance stops the drill, rolls back, and marks it aborted' }),
    rollbacks: z.array(step).default([]).meta({ description: 'extra steps after every fault is removed; they run on pass, fail, abort and interruption' }),
    ledger: z
      .strictObject({ drainTimeout: duration('how long acknowledged orders may take to complete before they count as lost', 600_000).default(30_000) })
      .default({ drainTimeout: 30_000 }),
  })
  .superRefine((d, ctx) => {
    const probes = new Set([...d.steadyState.probes, ...d.probes, ...d.abortConditions].map((p) => p.name));
    d.verifications.forEach((v, i) => {
      if (!probes.has(v.probe)) ctx.addIssue({ code: 'custom', path: ['verifications', i, 'probe'], message: `no probe is named "${v.probe}"` });
    });
  });
export type Drill = z.infer<typeof drill>;
