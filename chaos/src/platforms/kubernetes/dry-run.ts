// `faultline drill run --platform kubernetes --dry-run`: what each fault would do to the cluster, as the objects the
// driver would create, printed as YAML. It needs no cluster, so it also checks a drill for Kubernetes in CI.
import { stringify } from 'yaml';
import { edgeNames } from '../../core/topology.ts';
import { forPlatform } from '../../drill/adjust.ts';
import { planFault, type Fault } from '../../drill/faults/index.ts';
import { assertSupported, faultsOf } from '../../drill/plan.ts';
import type { Drill } from '../../drill/schema.ts';
import { faultIdentity, faultObjects, unsupportedOnKubernetes, type Buildable, type FaultBody } from './faults/index.ts';
import { partitionExclusions } from './faults/network-partition.ts';
import { markerConfigMap, podKillMarkerMs, podKillOptions } from './faults/pod-kill.ts';
import { assertNamespaceAllowed } from './guardrails.ts';
import { defaultGatewayUrl, defaultK6Image } from './k6-job.ts';
import { shopPodSelector, type FaultIdentity } from './labels.ts';

export interface KubernetesPlanOptions {
  namespace: string;
  release: string;
  allowedNamespaces: string[];
}

/** Refuses (exit 2) what the Kubernetes runtime would refuse, then lists each fault's objects. */
export function describeKubernetesPlan(file: Drill, opts: KubernetesPlanOptions, now = Date.now()): string[] {
  assertNamespaceAllowed(opts.namespace, opts.allowedNamespaces);
  const { drill } = forPlatform(file, 'kubernetes');
  assertSupported(drill, 'kubernetes', unsupportedOnKubernetes);
  const faults = faultsOf([...drill.method, ...drill.rollbacks]);
  const ctx = { ...opts, k6Image: defaultK6Image, gatewayUrl: defaultGatewayUrl(opts.release, opts.namespace), apiKeySecret: `${opts.release}-api-keys` };
  const lines = [`kubernetes: namespace ${opts.namespace}, release ${opts.release}; ${faults.length} fault(s), each object labelled with its drill and fault and annotated with its expiry`];
  let n = 0;
  // Faults of one step (a parallel block) are live together, so their partitions are shown as the cluster would hold them.
  for (const step of [...drill.method, ...drill.rollbacks]) {
    const planned = faultsOf([step]).map((fault) => ({ fault, id: `dry-run-${++n}` }));
    const bodies = planned.map(({ fault, id }) => (fault.kind === 'pod-kill' ? [] : objectsOf(fault, id)));
    const together = partitionExclusions([], { now, adding: bodies.flat().flatMap((b) => (b.kind === 'NetworkPolicy' ? [b.body] : [])) }).create;
    const settled = (b: FaultBody): FaultBody => (b.kind === 'NetworkPolicy' ? { kind: 'NetworkPolicy', body: together.find((p) => p.metadata?.name === b.body.metadata?.name) ?? b.body } : b);
    planned.forEach(({ fault, id }, i) => {
      if (fault.kind === 'pod-kill') {
        if (fault.selector.service === 'redis') planFault(fault, { replicas: {}, edges: edgeNames }); // refused: a store is killed by role, which Kubernetes does not read
        // Which pods depends on the cluster at run time; the selector and mode do not.
        const identity: FaultIdentity = { id, drill: drill.name, kind: 'pod-kill', target: fault.selector.service, expiresAt: now + podKillMarkerMs };
        lines.push(`# ${id}: pod-kill, mode ${fault.mode}${fault.value ? ` ${fault.value}` : ''}: delete ready pods matching ${shopPodSelector(opts.release, fault.selector.service)} with gracePeriodSeconds ${podKillOptions.gracePeriodSeconds}; their ReplicaSet replaces them`);
        lines.push(...asYaml([{ kind: 'ConfigMap', body: markerConfigMap(identity, opts.namespace) }]));
        return;
      }
      if (fault.kind === 'pause') return; // refused by assertSupported above
      lines.push(`# ${id}: ${fault.kind} ${fault.kind === 'flood' ? fault.script : `${fault.selector.service} -> ${fault.target.service} (${fault.direction})`}`);
      lines.push(...asYaml(bodies[i]!.map(settled)));
    });
  }
  return lines;

  function objectsOf(fault: Fault, id: string) {
    const planned = planFault(fault, { replicas: {}, edges: edgeNames }) as Buildable;
    return faultObjects(planned, faultIdentity(planned, drill.name, id, now), ctx);
  }
}

/** Objects as a YAML stream; a k6 script is summarised, since it is chaos/load's file verbatim. */
function asYaml(objects: FaultBody[]): string[] {
  return objects.map((o) => {
    const body = structuredClone(o.body);
    if (o.kind === 'ConfigMap') {
      const data = (body as typeof o.body).data ?? {};
      for (const [key, text] of Object.entries(data)) if (key.endsWith('.js')) data[key] = `<chaos/load/${key}, ${text.length} characters>`;
    }
    return `---\n${stringify(body, { aliasDuplicateObjects: false }).trimEnd()}`;
  });
}
