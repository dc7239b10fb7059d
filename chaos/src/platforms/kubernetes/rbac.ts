// The namespaced Roles faultline needs, as data: the chart renders its Roles from these lists, and tests compare the
// two and prove them by SubjectAccessReview. Least privilege, in the release's namespace only, nothing cluster-wide.

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

// The in-cluster controller and the fault driver: exactly what driver.ts calls. Pods: list for the inventory, delete
// for kills. The rest: create what a fault is, list to find it, delete to end it; and update NetworkPolicies, since
// a partition's policies on an initiator are rewritten to exclude the union of its live partitions' peers whenever
// one comes or goes (faults/network-partition.ts, partitionExclusions).
const faultRules: PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'list', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'list', 'update', 'delete'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'list', 'delete'] },
];

/**
 * Whoever runs whole drills from outside the cluster (a person, a CI ServiceAccount): the fault rules, plus what the
 * drill's probes, loads and ledger reach through the API server (platform.ts, access.ts, load.ts): the gateway's and
 * Prometheus's Services and their proxies (GET probes and queries, POST probes), each pod's proxy (a replica's
 * /metrics, k6's API: PATCH stops it), k6's log (the acknowledgements), a port-forward to Redis (the ledger), and the
 * release's API-key Secret and its drill settings (the k6 image), each by name only.
 */
export function drillRunnerRules(release: string): PolicyRule[] {
  return sortRules([
    ...faultRules,
    { apiGroups: [''], resources: ['services'], verbs: ['get'] },
    { apiGroups: [''], resources: ['services/proxy'], verbs: ['get', 'create'] },
    { apiGroups: [''], resources: ['pods/proxy'], verbs: ['get', 'patch'] },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    // A port-forward is a WebSocket upgrade (an HTTP GET), which the API server authorizes as both get and create.
    { apiGroups: [''], resources: ['pods/portforward'], verbs: ['create', 'get'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: [`${release}-api-keys`] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: [`${release}-drill-settings`] },
  ]);
}

/** Sorted by API group, resource, then resource names, each list sorted, so that a rendered Role compares equal whatever the order written. */
export function sortRules(list: PolicyRule[]): PolicyRule[] {
  const key = (r: PolicyRule) => `${r.apiGroups.join(',')}/${r.resources.join(',')}/${(r.resourceNames ?? []).join(',')}`;
  return list
    .map((r) => ({ apiGroups: [...r.apiGroups].sort(), resources: [...r.resources].sort(), verbs: [...r.verbs].sort(), ...(r.resourceNames ? { resourceNames: [...r.resourceNames].sort() } : {}) }))
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export const chaosRoleRules: readonly PolicyRule[] = Object.freeze(sortRules(faultRules));
