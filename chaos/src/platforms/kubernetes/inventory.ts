// The shop as the cluster shows it: the release's ready pods per component, and the shop's edges.
import type { V1Pod } from '@kubernetes/client-node';
import { edgeNames } from '../../core/topology.ts';
import type { Inventory } from '../../drill/platform.ts';

export const nameLabel = 'app.kubernetes.io/name';

/** Running, not being deleted, and passing its readiness probe: a replica that serves, so one worth killing (or sparing). */
export function isReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && Boolean(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** Ready pods per component, and the shop's edges: its wiring is the same on every platform. */
export function inventoryFromPods(pods: V1Pod[]): Inventory {
  const replicas: Record<string, string[]> = {};
  for (const pod of pods.filter(isReady)) {
    const component = pod.metadata?.labels?.[nameLabel];
    if (component && pod.metadata?.name) (replicas[component] ??= []).push(pod.metadata.name);
  }
  for (const names of Object.values(replicas)) names.sort();
  return { replicas, edges: edgeNames };
}
