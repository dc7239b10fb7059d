// The drill file: Chaos Toolkit's experiment shape (steady state, method, rollbacks) with Chaos Mesh's selectors,
// plus what both lack: verifications over phase windows, abort conditions, a deadline on every fault, and settings
// that differ by platform, each with its reason.
import { z } from 'zod';
import { component, duration, executorFields, executorMessage, k6Load, name, shopService, tolerance, type LoadSpec } from './fields.ts';
import { fault, type Fault } from './faults/index.ts';

export { parseDuration } from './fields.ts';
export { fault, type Fault } from './faults/index.ts';

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

const replicasCheck = z.strictObject({
  services: z.array(component).min(1).meta({ description: 'the parts whose ready replicas are counted together' }),
});

const probeSources = ['promql', 'metric', 'http', 'replicas'] as const;
const probeFields = {
  promql: z.string().min(1).optional().meta({ description: 'an instant query; its single value (or the sum of its series) is the reading' }),
  metric: metricCheck.optional().meta({ description: "read from each replica's /metrics every sample, without waiting for a scrape" }),
  http: httpCheck.optional().meta({ description: 'a request to the gateway; the reading is 1 when its status is allowed, else 0' }),
  replicas: replicasCheck.optional().meta({ description: 'how many replicas of these parts are ready now, as the platform sees them' }),
  tolerance: tolerance.optional(),
};
const oneSource = (p: Partial<Record<(typeof probeSources)[number], unknown>>) => probeSources.filter((s) => p[s] !== undefined).length === 1;

/** A measurement: PromQL against Prometheus, a metric read straight from every replica (for sub-second timing), an HTTP call to the gateway, or a count of ready replicas. */
export const probe = z
  .strictObject({ name, ...probeFields })
  .refine(oneSource, 'a probe has exactly one of promql, metric, http or replicas')
  .refine((p) => p.http !== undefined || p.tolerance !== undefined, 'a promql, metric or replicas probe needs a tolerance');
export type Probe = z.infer<typeof probe>;

const loadStep = z
  .strictObject({
    ...k6Load,
    background: z.boolean().default(true).meta({ description: 'run alongside the steps after it, until its duration ends' }),
  })
  .refine(executorFields, executorMessage);
export type Load = z.infer<typeof loadStep>;

export type Step = { fault?: Fault; load?: Load; wait?: number; parallel?: Step[]; sequence?: Step[] };
type StepInput = { fault?: z.input<typeof fault>; load?: z.input<typeof loadStep>; wait?: string; parallel?: StepInput[]; sequence?: StepInput[] };

/** One of fault, load, wait, parallel or sequence. (One object with optional keys rather than a union, so errors point at the field.) */
export const step: z.ZodType<Step, StepInput> = z.lazy(() =>
  z
    .strictObject({
      fault: fault.optional(),
      load: loadStep.optional(),
      wait: duration('a pause', 600_000).optional(),
      parallel: z.array(step).min(1).optional().meta({ description: 'steps that start together; the step ends when all have' }),
      sequence: z.array(step).min(1).optional().meta({ description: 'steps one after another, as one step (a branch of a parallel block)' }),
    })
    .refine((s) => Object.values(s).filter((v) => v !== undefined).length === 1, 'a step has exactly one of fault, load, wait, parallel or sequence'),
);

export const phase = z.enum(['baseline', 'fault', 'recovery', 'whole']);

const expectation = z
  .strictObject({
    always: tolerance.optional().meta({ description: 'every reading in the window is within tolerance' }),
    reaches: tolerance.optional().meta({ description: 'some reading in the window is within tolerance' }),
    change: tolerance.optional().meta({ description: 'the last reading in the window minus the first is within tolerance (for counters)' }),
    within: duration('with reaches: the first such reading comes this soon after the window starts', 600_000).optional(),
  })
  .refine((e) => [e.always, e.reaches, e.change].filter(Boolean).length === 1, 'expect has exactly one of always, reaches or change')
  .refine((e) => e.within === undefined || e.reaches !== undefined, 'within goes with reaches');

export const verification = z.strictObject({
  name: z.string().min(1).max(200),
  probe: name.meta({ description: 'a probe from steadyState.probes or probes' }),
  during: phase.default('whole').meta({ description: 'baseline: before the first fault; fault: from the first injection to the last recovery; recovery: after it, read until its verifications can be judged (two readings each, a reaches met or its within passed)' }),
  expect: expectation,
});
export type Verification = z.infer<typeof verification>;

/** What one platform does differently, always with the reason: a verification's expectation, or a probe's definition. */
const adjustment = z
  .strictObject({
    reason: z.string().min(10).max(1000).meta({ description: 'why this platform needs it: shown in the plan, the journal and the report' }),
    verification: z.string().min(1).max(200).optional().meta({ description: 'the name of the verification to adjust' }),
    during: phase.optional(),
    expect: expectation.optional(),
    probe: name.optional().meta({ description: 'the name of the probe to adjust' }),
    ...probeFields,
  })
  .refine((a) => (a.verification === undefined) !== (a.probe === undefined), 'an adjustment names one verification or one probe')
  .refine((a) => a.verification === undefined || probeSources.every((s) => a[s] === undefined) && a.tolerance === undefined, { message: 'a verification takes during and expect', path: ['verification'] })
  .refine((a) => a.probe === undefined || (a.during === undefined && a.expect === undefined), { message: 'a probe takes a source (promql, metric, http or replicas) and a tolerance', path: ['probe'] })
  .refine((a) => a.probe === undefined || probeSources.filter((s) => a[s] !== undefined).length <= 1, { message: 'at most one of promql, metric, http or replicas', path: ['probe'] });
export type Adjustment = z.infer<typeof adjustment>;

export const platformNames = ['local', 'kubernetes'] as const;
export type PlatformName = (typeof platformNames)[number];

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
    platforms: z
      .strictObject(Object.fromEntries(platformNames.map((p) => [p, z.array(adjustment).optional()])) as Record<PlatformName, z.ZodOptional<z.ZodArray<typeof adjustment>>>)
      .default({})
      .meta({ description: 'per platform, the verifications and probes that differ there, each with its reason (the drill stays one file)' }),
  })
  .superRefine((d, ctx) => {
    const probes = new Set(allProbes(d).map((p) => p.name));
    d.verifications.forEach((v, i) => {
      if (!probes.has(v.probe)) ctx.addIssue({ code: 'custom', path: ['verifications', i, 'probe'], message: `no probe is named "${v.probe}"` });
    });
    for (const p of platformNames) {
      d.platforms[p]?.forEach((a, i) => {
        if (a.verification !== undefined && !d.verifications.some((v) => v.name === a.verification)) ctx.addIssue({ code: 'custom', path: ['platforms', p, i, 'verification'], message: `no verification is named "${a.verification}"` });
        if (a.probe !== undefined && !probes.has(a.probe)) ctx.addIssue({ code: 'custom', path: ['platforms', p, i, 'probe'], message: `no probe is named "${a.probe}"` });
      });
    }
  });
export type Drill = z.infer<typeof drill>;

export const allProbes = (d: Pick<Drill, 'steadyState' | 'probes' | 'abortConditions'>) => [...d.steadyState.probes, ...d.probes, ...d.abortConditions];

export type { LoadSpec };
