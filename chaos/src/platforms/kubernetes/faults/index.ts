// Every fault kind on Kubernetes: its objects (for the driver and for dry-run) and its implementation.
import type { PlannedFault } from '../../../drill/faults/index.ts';
import type { FaultImplementations } from '../../../drill/platform.ts';
import type { FaultIdentity } from '../labels.ts';
import { flood, floodIdentity, floodObjects } from './flood.ts';
import { latencyUnsupported } from './latency.ts';
import { networkPartition, partitionIdentity, partitionObjects } from './network-partition.ts';
import { podKill, podKillIdentity, podKillObjects } from './pod-kill.ts';
import type { FaultBody, FaultContext, KubernetesFaultDeps } from './types.ts';

export type Buildable = Exclude<PlannedFault, { kind: 'latency' }>;

/** What a planned fault hits and until when it may live. */
export function faultIdentity(planned: Buildable, drill: string, id: string, now: number): FaultIdentity {
  switch (planned.kind) {
    case 'pod-kill':
      return podKillIdentity(planned, drill, id, now);
    case 'network-partition':
      return partitionIdentity(planned, drill, id, now);
    case 'flood':
      return floodIdentity(planned, drill, id, now);
  }
}

/** Every object one planned fault creates: a pod kill's marker, a partition's policies, or a flood's script and Job. */
export function faultObjects(planned: Buildable, fault: FaultIdentity, ctx: FaultContext): FaultBody[] {
  switch (planned.kind) {
    case 'pod-kill':
      return podKillObjects(planned, fault, ctx);
    case 'network-partition':
      return partitionObjects(planned, fault, ctx);
    case 'flood':
      return floodObjects(planned, fault, ctx);
  }
}

/** What the Kubernetes runtime refuses, for plans made without a cluster. */
export const unsupportedOnKubernetes = { latency: latencyUnsupported.unsupported };

export const kubernetesFaults = (deps: KubernetesFaultDeps): FaultImplementations => ({
  'pod-kill': podKill(deps),
  'network-partition': networkPartition(deps),
  latency: latencyUnsupported,
  flood: flood(deps),
});

export type { FaultBody, FaultContext, KubernetesFaultDeps };
