// Every fault kind a drill can ask for. Adding one: a file here, and one in each platform's faults/ folder.
import { z } from 'zod';
import type { Inventory } from '../platform.ts';
import { flood, type PlannedFlood } from './flood.ts';
import { latency, type PlannedLatency } from './latency.ts';
import { networkPartition, type PlannedPartition } from './network-partition.ts';
import { pause, type PlannedPause } from './pause.ts';
import { podKill, type PlannedPodKill } from './pod-kill.ts';

export const faultKinds = {
  'pod-kill': podKill,
  'network-partition': networkPartition,
  latency,
  flood,
  pause,
} as const;
export type FaultKindName = keyof typeof faultKinds;
export const faultKindNames = Object.keys(faultKinds) as FaultKindName[];

export const fault = z.discriminatedUnion('kind', [podKill.schema, networkPartition.schema, latency.schema, flood.schema, pause.schema]);
export type Fault = z.infer<typeof fault>;
export type FaultOf<K extends FaultKindName> = Extract<Fault, { kind: K }>;

export type PlannedFault = PlannedPodKill | PlannedPartition | PlannedLatency | PlannedFlood | PlannedPause;
export type Planned<K extends FaultKindName> = Extract<PlannedFault, { kind: K }>;

/** Resolves a fault's targets against a platform's inventory, or refuses it with a UsageError (exit 2). */
export function planFault(fault: Fault, inventory: Inventory, random?: () => number): PlannedFault {
  const kind = faultKinds[fault.kind] as { plan(f: Fault, i: Inventory, r?: () => number): PlannedFault };
  return kind.plan(fault, inventory, random);
}

export const describeFault = (fault: Fault) => (faultKinds[fault.kind] as { describe(f: Fault): string }).describe(fault);

export const lastsOf = (kind: FaultKindName) => faultKinds[kind].lasts;

export { chooseReplicas } from './pod-kill.ts';
export { requireScript } from './flood.ts';
export type { PlannedFlood, PlannedLatency, PlannedPartition, PlannedPause, PlannedPodKill };
