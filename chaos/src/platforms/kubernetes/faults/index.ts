// Every fault kind on Kubernetes: its objects (for the driver and for dry-run) and its implementation.
import type { PlannedFault } from '../../../drill/faults/index.ts';
import type { FaultImplementations } from '../../../drill/platform.ts';
import type { FaultIdentity } from '../labels.ts';
import { flood, floodIdentity, floodObjects } from './flood.ts';
import { latencyUnsupported } from './latency.ts';
import { networkPartition, partitionIdentity, partitionObjects } from './network-partition.ts';
import { pauseUnsupported } from './pause.ts';
import { podKill, podKillIdentity, podKillObjects } from './pod-kill.ts';
import type { FaultBody, FaultContext, KubernetesFaultDeps } from './types.ts';

export type Buildable = Exclude<PlannedFault, { kind: 'latency' | 'pause' }>;
type Kind = Buildable['kind'];

/** Each buildable kind's objects: what it hits and until when, and what the driver creates for it. */
const builders: { [K in Kind]: { identity(p: Extract<Buildable, { kind: K }>, drill: string, id: string, now: number): FaultIdentity; objects(p: Extract<Buildable, { kind: K }>, f: FaultIdentity, ctx: FaultContext): FaultBody[] } } = {
  'pod-kill': { identity: podKillIdentity, objects: podKillObjects },
  'network-partition': { identity: partitionIdentity, objects: partitionObjects },
  flood: { identity: floodIdentity, objects: floodObjects },
};
type Builder = { identity(p: Buildable, drill: string, id: string, now: number): FaultIdentity; objects(p: Buildable, f: FaultIdentity, ctx: FaultContext): FaultBody[] };

/** What a planned fault hits and until when it may live. */
export const faultIdentity = (planned: Buildable, drill: string, id: string, now: number): FaultIdentity => (builders[planned.kind] as Builder).identity(planned, drill, id, now);

/** Every object one planned fault creates: a pod kill's marker, a partition's policies, or a flood's script and Job. */
export const faultObjects = (planned: Buildable, fault: FaultIdentity, ctx: FaultContext): FaultBody[] => (builders[planned.kind] as Builder).objects(planned, fault, ctx);

/** What the Kubernetes runtime refuses, for plans made without a cluster. */
export const unsupportedOnKubernetes = { latency: latencyUnsupported.unsupported, pause: pauseUnsupported.unsupported };

export const kubernetesFaults = (deps: KubernetesFaultDeps): FaultImplementations => ({
  'pod-kill': podKill(deps),
  'network-partition': networkPartition(deps),
  latency: latencyUnsupported,
  flood: flood(deps),
  pause: pauseUnsupported,
});

export type { FaultBody, FaultContext, KubernetesFaultDeps };
