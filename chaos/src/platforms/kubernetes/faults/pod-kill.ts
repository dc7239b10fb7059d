// pod-kill on Kubernetes: the chosen ready pods are deleted with no grace period, as a crash would; their ReplicaSet
// (or StatefulSet) replaces them. A marker ConfigMap carries the fault until its deadline, so the controller shows it.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { faultMetadata, type FaultIdentity } from '../labels.ts';
import type { FaultBody, FaultContext, KubernetesFaultDeps } from './types.ts';

type PodKill = Planned<'pod-kill'>;

/** Deleted at once, as a crash would: no SIGTERM, no drain. */
export const podKillOptions = { gracePeriodSeconds: 0 } as const;

/** How long a pod kill shows as active: about as long as a ReplicaSet takes to bring a replica back. */
export const podKillMarkerMs = 60_000;

export function markerConfigMap(fault: FaultIdentity, namespace: string): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...faultMetadata(`faultline-${fault.id}-marker`, fault), namespace }, data: { target: fault.target } };
}

export const podKillIdentity = (planned: PodKill, drill: string, id: string, now: number): FaultIdentity => ({ id, drill, kind: 'pod-kill', target: planned.replicas.join(','), expiresAt: now + podKillMarkerMs });

export const podKillObjects = (_planned: PodKill, fault: FaultIdentity, ctx: FaultContext): FaultBody[] => [{ kind: 'ConfigMap', body: markerConfigMap(fault, ctx.namespace) }];

export const podKill = ({ driver }: KubernetesFaultDeps): FaultImplementation<PodKill> => ({
  async inject(planned, ctx) {
    const before = (await driver.inventory()).replicas[planned.service] ?? [];
    const injected = await driver.injectFault(planned, ctx.drill);
    const killed = injected.killed ?? [];
    const names = killed.map((k) => k.name);
    return {
      target: names.join(','),
      injectedAt: killed[0]?.killedAt ?? new Date().toISOString(),
      evidence: { id: injected.id, killed },
      effective: killed.length > 0 && killed.every((k) => k.found),
      summary: killed.map((k) => `${k.name} ${k.found ? 'deleted (grace period 0)' : 'already gone'}`).join(', '),
      // Replaced when the service has as many ready pods as before, none of them a killed one.
      async recovered() {
        const ready = (await driver.inventory()).replicas[planned.service] ?? [];
        return ready.length >= before.length && !ready.some((n) => names.includes(n)) ? { replacedBy: ready.filter((n) => !before.includes(n)) } : undefined;
      },
      remove: () => driver.removeAndCheck(injected.id),
    };
  },
});
