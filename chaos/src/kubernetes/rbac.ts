// The namespaced Role the driver and the controller need, as data: the chart renders its Role from the same list, and a
// test compares the two. Least privilege: only what driver.ts calls, in the release's namespace, nothing cluster-wide.
// (Pods: list for the inventory, delete for kills. The rest: create what a fault is, list to find it, delete to end it;
// and update NetworkPolicies, since a partition's policies on an initiator are rewritten to exclude the union of its
// live partitions' peers whenever one comes or goes: see partitionExclusions in objects.ts.)

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const rules: PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'list', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'list', 'update', 'delete'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'list', 'delete'] },
];

/** Sorted by API group then resource, each list sorted, so that a rendered Role compares equal whatever the order written. */
export function sortRules(list: PolicyRule[]): PolicyRule[] {
  const key = (r: PolicyRule) => `${r.apiGroups.join(',')}/${r.resources.join(',')}`;
  return list
    .map((r) => ({ apiGroups: [...r.apiGroups].sort(), resources: [...r.resources].sort(), verbs: [...r.verbs].sort() }))
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export const chaosRoleRules: readonly PolicyRule[] = Object.freeze(sortRules(rules));
