// latency: an edge delays what it carries (a Toxiproxy toxic locally; no Kubernetes form without a privileged agent).
import { z } from 'zod';
import { duration, formatDuration } from '../fields.ts';
import { describeEdge, edgeFields, planEdge, type PlannedEdge } from './edge.ts';
import type { FaultKind } from './kind.ts';

const schema = z.strictObject({
  kind: z.literal('latency'),
  ...edgeFields,
  latency: duration('delay added to each chunk of data', 60_000),
  jitter: duration('random variation of the delay', 60_000).default(0),
});
export type Latency = z.infer<typeof schema>;
export type PlannedLatency = PlannedEdge & { kind: 'latency'; latencyMs: number; jitterMs: number };

export const latency: FaultKind<typeof schema, PlannedLatency> = {
  schema,
  lasts: 'duration',
  plan: (fault, inventory) => ({ kind: 'latency', ...planEdge('latency', fault, inventory), latencyMs: fault.latency, jitterMs: fault.jitter }),
  describe: (f) => describeEdge('latency', f, `, ${formatDuration(f.latency)} ± ${formatDuration(f.jitter)}`),
};
