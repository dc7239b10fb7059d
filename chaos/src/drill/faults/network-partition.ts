// network-partition: an edge stops carrying traffic for a while (a Toxiproxy toxic locally, NetworkPolicies on
// Kubernetes).
import { z } from 'zod';
import { describeEdge, edgeFields, planEdge, type PlannedEdge } from './edge.ts';
import type { FaultKind } from './kind.ts';

const schema = z.strictObject({ kind: z.literal('network-partition'), ...edgeFields });
export type NetworkPartition = z.infer<typeof schema>;
export type PlannedPartition = PlannedEdge & { kind: 'network-partition' };

export const networkPartition: FaultKind<typeof schema, PlannedPartition> = {
  schema,
  lasts: 'duration',
  plan: (fault, inventory) => ({ kind: 'network-partition', ...planEdge('network-partition', fault, inventory) }),
  describe: (f) => describeEdge('network-partition', f),
};
