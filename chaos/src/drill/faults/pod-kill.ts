// pod-kill: replicas of a service die at once, as a crash would (SIGKILL locally, a pod deleted with no grace period on
// Kubernetes); their supervisor or ReplicaSet replaces them.
import { z } from 'zod';
import { UsageError } from '../../core/errors.ts';
import { mode, podSelector } from '../fields.ts';
import type { Inventory } from '../platform.ts';
import type { FaultKind } from './kind.ts';

/** How many replicas a kill or a pause takes: Chaos Mesh's mode, with a value where the mode needs one (see valueRule). */
export const modeFields = {
  mode: mode.default('one'),
  value: z.number().int().min(1).optional().meta({ description: 'the number (fixed) or percentage (fixed-percent) of replicas' }),
};
export const valueRule: [(f: { mode: string; value?: number }) => boolean, { message: string; path: string[] }] = [
  (f) => (f.mode === 'fixed' || f.mode === 'fixed-percent') === (f.value !== undefined),
  { message: 'value is required with mode fixed or fixed-percent, and only then', path: ['value'] },
];

const schema = z.strictObject({ kind: z.literal('pod-kill'), selector: podSelector, ...modeFields }).refine(...valueRule);
export type PodKill = z.infer<typeof schema>;

export interface PlannedPodKill {
  kind: 'pod-kill';
  service: string;
  mode: PodKill['mode'];
  /** The replicas (process names or pod names) chosen to die. */
  replicas: string[];
}

/**
 * Chaos Mesh's modes over the candidates (every ready replica, or those with the selector's role). Refuses, as a
 * guardrail, to take every replica of the service unless the drill says mode: all.
 */
export function chooseReplicas(fault: Pick<PodKill, 'mode' | 'value'> & { selector: { service: string }; kind?: string }, replicas: string[], random: () => number = Math.random, total = replicas.length): string[] {
  const service = fault.selector.service;
  const kind = fault.kind ?? 'pod-kill';
  if (replicas.length === 0) throw new UsageError(`${kind}: service ${service} has no ready replicas${total > 0 ? ' with that role' : ''}`);
  const count = { one: 1, all: replicas.length, fixed: fault.value!, 'fixed-percent': Math.max(1, Math.floor((replicas.length * fault.value!) / 100)) }[fault.mode];
  if (count > replicas.length) throw new UsageError(`${kind}: mode ${fault.mode} value ${fault.value} asks for ${count} of ${service}'s ${replicas.length} replicas`);
  if (count === total && fault.mode !== 'all') {
    throw new UsageError(`${kind}: mode ${fault.mode} would take every replica of ${service} (${total}); say mode: all if that is meant`);
  }
  const shuffled = [...replicas].sort(() => random() - 0.5);
  return shuffled.slice(0, count).sort();
}

export const podKill: FaultKind<typeof schema, PlannedPodKill> = {
  schema,
  lasts: 'recovery',
  plan: (fault, inventory, random) => ({ kind: 'pod-kill', service: fault.selector.service, mode: fault.mode, replicas: chooseReplicas(fault, candidates(fault, inventory), random, (inventory.replicas[fault.selector.service] ?? []).length) }),
  describe: (f) => `pod-kill ${f.selector.service}${f.selector.role ? ` ${f.selector.role}` : ''} (mode ${f.mode}${f.value ? ` ${f.value}` : ''})`,
};

const takesOver = { redis: 'Sentinel promotes a replica', kafka: "the controller moves a dead broker's partitions to their in-sync followers" };

/** The replicas a kill may choose from. A store is killed only where another node can take over, and by role. */
function candidates(fault: PodKill, inventory: Inventory): string[] {
  const { service, role } = fault.selector;
  const ready = inventory.replicas[service] ?? [];
  if (service !== 'redis' && service !== 'kafka') return ready;
  if (!ready.some((name) => inventory.roles?.[name])) {
    if (ready.length > 1) {
      throw new UsageError(`pod-kill: this platform does not read the roles of ${service}'s ${ready.length} nodes (Kubernetes does not yet), so it cannot tell which one a kill would take; run the drill on the local runtime's HA topology (faultline up --topology ha), where ${takesOver[service]}`);
    }
    throw new UsageError(`pod-kill: ${service} runs as one instance here, so killing it is an outage, not a failover; on the local runtime, start the HA topology (faultline up --topology ha), where ${takesOver[service]}`);
  }
  return role ? ready.filter((name) => inventory.roles![name] === role) : ready;
}
