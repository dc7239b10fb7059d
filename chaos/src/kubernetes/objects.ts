// Pure builders: what the Kubernetes driver creates or deletes for each fault. Nothing here talks to a cluster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ConfigMap, V1Job, V1LabelSelectorRequirement, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { loadScriptsDir, scenarioOf } from '../drill/k6.ts';
import { chooseReplicas, localEdges, type Inventory, type PlannedFault } from '../drill/plan.ts';
import type { Fault } from '../drill/schema.ts';
import { UsageError } from '../local/runtime.ts';
import { pins } from '../local/toolchain.ts';
import { expiryOf, faultMetadata, labelKeys, labelValue, shopPodLabels, type FaultIdentity } from './labels.ts';

const nameLabel = 'app.kubernetes.io/name';

/** Same pin as the local runtime's k6 binary. */
export const defaultK6Image = `grafana/k6:${pins.k6.version.replace(/^v/, '')}`;

export const defaultGatewayUrl = (release: string, namespace: string) => `http://${release}-gateway.${namespace}.svc:8080`;

/** Running, not being deleted, and passing its readiness probe: a replica that serves, so one worth killing (or sparing). */
export function isReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && Boolean(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** Ready pods per component, and the shop's edges: its wiring is the same on both runtimes. */
export function inventoryFromPods(pods: V1Pod[]): Inventory {
  const replicas: Record<string, string[]> = {};
  for (const pod of pods.filter(isReady)) {
    const service = pod.metadata?.labels?.[nameLabel];
    if (service && pod.metadata?.name) (replicas[service] ??= []).push(pod.metadata.name);
  }
  for (const names of Object.values(replicas)) names.sort();
  return { replicas, edges: localEdges };
}

/** Chaos Mesh's modes over the service's ready pods; chooseReplicas refuses to take them all unless mode is all. */
export function podsToKill(fault: Extract<Fault, { kind: 'pod-kill' }>, pods: V1Pod[], random?: () => number): string[] {
  return chooseReplicas(fault, inventoryFromPods(pods).replicas[fault.selector.service] ?? [], random);
}

/** How long a pod kill shows as active: about as long as a ReplicaSet takes to bring a replica back (the local runner's figure). */
export const podKillMarkerMs = 60_000;

/** What a planned fault hits and until when it may live. Latency has no Kubernetes form (see guardrails.ts). */
export function faultIdentity(planned: PlannedFault, drill: string, id: string, now: number): FaultIdentity {
  switch (planned.kind) {
    case 'pod-kill':
      return { id, drill, kind: 'pod-kill', target: planned.replicas.join(','), expiresAt: now + podKillMarkerMs };
    case 'network-partition':
      return { id, drill, kind: 'network-partition', target: planned.edge, expiresAt: now + planned.durationMs };
    case 'flood':
      return { id, drill, kind: 'flood', target: planned.fault.script, expiresAt: now + floodDeadlineSeconds(planned.fault) * 1000 };
    case 'latency':
      throw new UsageError(`latency ${planned.edge}: the Kubernetes runtime cannot add latency; plan with planKubernetesFault, which refuses it`);
  }
}

/** Deleted at once, as a crash would: no SIGTERM, no drain. */
export const podKillOptions = { gracePeriodSeconds: 0 } as const;

/**
 * A pod kill leaves nothing to remove (the ReplicaSet replaces the pod), so a marker ConfigMap carries the fault
 * until its deadline, as the local agent's tracked faults do: it is what the controller exports as active.
 */
export function markerConfigMap(fault: FaultIdentity, namespace: string): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...faultMetadata(`faultline-${fault.id}-marker`, fault), namespace }, data: { target: fault.target } };
}

export interface PartitionSpec {
  selector: string;
  target: string;
  direction: 'to' | 'from' | 'both';
  namespace: string;
  release: string;
  fault: FaultIdentity;
}

/**
 * A partition as NetworkPolicies. A NetworkPolicy can only allow, and it is stateful: once a pod is selected by an
 * Egress policy, only what some policy allows may leave it, and answers to an allowed connection always come back.
 * So a partition is an egress policy on the side that initiates, allowing everything except the peer:
 * - `to`: selector pods may open connections to anything but target pods;
 * - `from`: target pods may open connections to anything but selector pods;
 * - `both`: the two policies.
 * Peers are pods of this namespace whose component is not the peer, plus every pod of every other namespace (so DNS in
 * kube-system keeps working). There is deliberately no ipBlock 0.0.0.0/0: with most CNIs an ipBlock also matches pod
 * IPs and would let the peer back in. The price: addresses outside the pod network (the API server, the internet)
 * are cut too while the partition lasts; the shop needs none.
 *
 * Policies add up: a pod may send what any policy selecting it allows. Two live partitions on one initiator
 * (gateway -> catalog with gateway -> orders, or `both` on gateway-catalog and orders-catalog, which gives catalog two)
 * would each allow the other's peer, and neither would cut anything. So every partition policy on an initiator
 * excludes the union of the peers of all its live partitions, and the driver rewrites the others whenever a partition
 * comes or goes (partitionExclusions). There is still one policy per fault and initiator, so that a fault's objects
 * are found and removed by its labels; each is labelled with its initiator and its own peer, so that the union is
 * recomputed from the cluster alone.
 *
 * How this differs from the local runtime, where each edge is a Toxiproxy proxy and a partition is a `timeout` toxic:
 * - `from` there drops the target's answers on the selector's own connections (the downstream stream), so requests
 *   arrive and answers never do. A stateful policy cannot drop answers while letting their requests through, so
 *   here `from` only stops connections the target opens; on the shop's one-way edges (gateway -> catalog, ...) it
 *   is nearly a no-op, and `to` or `both` is the Kubernetes way to cut an edge.
 * - The toxic stalls connections that are already open; a policy only refuses new ones with most CNIs (kindnet,
 *   Calico and Cilium keep tracked connections alive), so long-lived clients (ioredis, kafkajs, keep-alive agents)
 *   notice the partition when they reconnect.
 * - If the chart or an operator allows the peer in another Egress policy selecting the same pods, that allow wins
 *   and the partition does nothing.
 */
export function partitionPolicies(spec: PartitionSpec): V1NetworkPolicy[] {
  const sides = { to: [[spec.selector, spec.target]], from: [[spec.target, spec.selector]], both: [[spec.selector, spec.target], [spec.target, spec.selector]] }[spec.direction];
  return sides.map(([initiator, peer]) => egressExcept(initiator!, peer!, spec));
}

function egressExcept(initiator: string, peer: string, spec: PartitionSpec): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { ...faultMetadata(`faultline-${spec.fault.id}-${initiator}`, spec.fault, { [labelKeys.initiator]: initiator, [labelKeys.peer]: peer }), namespace: spec.namespace },
    spec: {
      podSelector: { matchLabels: shopPodLabels(spec.release, initiator) },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            { podSelector: { matchExpressions: [{ key: nameLabel, operator: 'NotIn', values: [peer] }] } },
            { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [spec.namespace] }] } },
          ],
        },
      ],
    },
  };
}

const isPeerExclusion = (e: V1LabelSelectorRequirement) => e.key === nameLabel && e.operator === 'NotIn';

/** The components a partition policy keeps its initiator from reaching (its NotIn); undefined if it has none. */
export function excludedPeers(policy: V1NetworkPolicy): string[] | undefined {
  for (const rule of policy.spec?.egress ?? []) {
    for (const to of rule.to ?? []) {
      const exclusion = to.podSelector?.matchExpressions?.find(isPeerExclusion);
      if (exclusion) return [...(exclusion.values ?? [])];
    }
  }
  return undefined;
}

/** A copy of the policy excluding these components instead; metadata (resourceVersion included) is kept. */
export function withExcludedPeers(policy: V1NetworkPolicy, peers: string[]): V1NetworkPolicy {
  const egress = (policy.spec?.egress ?? []).map((rule) => ({
    ...rule,
    ...(rule.to
      ? { to: rule.to.map((to) => (to.podSelector?.matchExpressions ? { ...to, podSelector: { ...to.podSelector, matchExpressions: to.podSelector.matchExpressions.map((e) => (isPeerExclusion(e) ? { ...e, values: [...peers] } : e)) } } : to)) }
      : {}),
  }));
  return { ...policy, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', spec: { ...policy.spec!, egress } };
}

export interface PartitionExclusions {
  /** Each initiator (a release's component) with a live partition, and the sorted peers all its partition policies exclude. */
  exclusions: Array<{ release: string; initiator: string; peers: string[] }>;
  /** The `adding` policies, each excluding its initiator's union, in the order given. */
  create: V1NetworkPolicy[];
  /** The existing policies whose exclusions differ from their initiator's union, rewritten; sorted by name. */
  replace: V1NetworkPolicy[];
}

const sameSet = (a: string[], b: string[]) => {
  const [x, y] = [[...new Set(a)].sort(), [...new Set(b)].sort()];
  return x.length === y.length && x.every((v, i) => v === y[i]);
};
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What every partition policy in a namespace must exclude, from the policies alone (pure: no cluster, no state).
 * `existing` are the policies as listed; `adding` the ones about to be created (partitionPolicies). A partition
 * policy is one with the network-partition kind, initiator and peer labels and a NotIn on the component label, not
 * being deleted; anything else (another fault's object, a policy of an older driver) is neither counted nor rewritten.
 * Policies are grouped by the pods they select (the initiator in the release of their podSelector). In a group, the
 * union is the sorted peers of the policies not yet expired at `now`: an expired policy's peer is reachable again at
 * once, and the policy itself, while cleanup has not deleted it yet, is rewritten to the union like the others, since
 * it selects the same pods and would otherwise let the union's peers through. A group whose policies have all
 * expired is left as it is (a NotIn needs a value); cleanup deletes them. Idempotent: once the replacements are
 * applied, nothing is left to replace.
 */
export function partitionExclusions(existing: V1NetworkPolicy[], { now, adding = [] }: { now: number; adding?: V1NetworkPolicy[] }): PartitionExclusions {
  type Member = { policy: V1NetworkPolicy; current: string[]; peer: string; live: boolean; isNew: boolean };
  const groups = new Map<string, { release: string; initiator: string; members: Member[] }>();
  const memberOf = (policy: V1NetworkPolicy, isNew: boolean): Member | undefined => {
    const labels = policy.metadata?.labels ?? {};
    const [initiator, peer, current] = [labels[labelKeys.initiator], labels[labelKeys.peer], excludedPeers(policy)];
    if (labels[labelKeys.kind] !== 'network-partition' || !initiator || !peer || !current || policy.metadata?.deletionTimestamp) return undefined;
    const release = policy.spec?.podSelector?.matchLabels?.['app.kubernetes.io/instance'] ?? '';
    const key = JSON.stringify([release, initiator]);
    const group = groups.get(key) ?? { release, initiator, members: [] };
    groups.set(key, group);
    const member = { policy, current, peer, live: expiryOf(policy.metadata ?? {}).expiresAt > now, isNew };
    group.members.push(member);
    return member;
  };
  existing.forEach((p) => memberOf(p, false));
  const added = adding.map((p) => ({ policy: p, member: memberOf(p, true) }));

  const unionOf = new Map<Member, string[]>();
  const exclusions: PartitionExclusions['exclusions'] = [];
  for (const { release, initiator, members } of groups.values()) {
    const peers = [...new Set(members.filter((m) => m.live).map((m) => m.peer))].sort();
    if (peers.length === 0) continue;
    exclusions.push({ release, initiator, peers });
    for (const m of members) unionOf.set(m, peers);
  }
  exclusions.sort((a, b) => byText(a.release, b.release) || byText(a.initiator, b.initiator));

  const create = added.map(({ policy, member }) => {
    const peers = member && unionOf.get(member);
    return peers ? withExcludedPeers(policy, peers) : policy;
  });
  const replace = [...groups.values()]
    .flatMap((g) => g.members)
    .filter((m) => !m.isNew && unionOf.has(m) && !sameSet(m.current, unionOf.get(m)!))
    .map((m) => withExcludedPeers(m.policy, unionOf.get(m)!))
    .sort((a, b) => byText(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  return { exclusions, create, replace };
}

type Flood = Extract<Fault, { kind: 'flood' }>;

/** How long k6 offers load: the duration, or the sum of the stages. */
export const loadDurationMs = (load: Pick<Flood, 'duration' | 'stages'>) => load.duration ?? (load.stages ?? []).reduce((sum, s) => sum + s.duration, 0);

/** Beyond the load itself: pulling the image, starting k6, and k6's 30 s graceful stop of in-flight iterations. */
export const floodMarginSeconds = 60;

/** The Job's hard deadline; the fault expires with it, so cleanup never deletes a flood that can still be running. */
export const floodDeadlineSeconds = (load: Pick<Flood, 'duration' | 'stages'>) => Math.ceil(loadDurationMs(load) / 1000) + floodMarginSeconds;

/** k6 runs as this user in grafana/k6. */
const k6User = 12345;

export interface FloodSpec {
  fault: FaultIdentity;
  load: Flood;
  /** The text of chaos/load/<load.script>. */
  scriptText: string;
  namespace: string;
  image: string;
  gatewayUrl: string;
  /** A Secret holding one API key per client under `client.<name>` (the chart's <release>-api-keys). */
  apiKeySecret: string;
}

/**
 * A flood as a ConfigMap with the k6 script and a Job running it, with the environment the local runtime gives k6
 * (see startK6). The Job ends by itself: k6 stops at its duration, and activeDeadlineSeconds stops it regardless.
 */
export function floodObjects(spec: FloodSpec): { configMap: V1ConfigMap; job: V1Job } {
  const { fault, load } = spec;
  const scriptName = `faultline-${fault.id}-script`;
  const podLabels = { [nameLabel]: 'k6' };
  const jobMeta = faultMetadata(`faultline-${fault.id}-k6`, fault, podLabels);
  const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...faultMetadata(scriptName, fault), namespace: spec.namespace }, data: { [load.script]: spec.scriptText } };
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...jobMeta, namespace: spec.namespace },
    spec: {
      backoffLimit: 0, // a second run would double the flood and its orders
      activeDeadlineSeconds: floodDeadlineSeconds(load),
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: jobMeta.labels!, annotations: jobMeta.annotations! },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: k6User, runAsGroup: k6User, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'k6',
              image: spec.image,
              args: ['run', '--quiet', '--no-color', '--no-usage-report', `/scripts/${load.script}`],
              env: [
                { name: 'FAULTLINE_GATEWAY', value: spec.gatewayUrl },
                { name: 'FAULTLINE_API_KEY', valueFrom: { secretKeyRef: { name: spec.apiKeySecret, key: `client.${load.apiKey}` } } },
                { name: 'FAULTLINE_RUN', value: `${labelValue(fault.drill)}-${fault.id}` },
                { name: 'FAULTLINE_SCENARIO', value: JSON.stringify(scenarioOf(load)) },
                { name: 'K6_NO_USAGE_REPORT', value: 'true' },
              ],
              // Small requests so that it schedules on a laptop's kind cluster; the limits bound what a runaway flood takes from the node.
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'script', mountPath: '/scripts', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'script', configMap: { name: scriptName } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
  return { configMap, job };
}

/** Whether a Job has run to its end, successfully or not. */
export const jobFinished = (job: V1Job) => Boolean(job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'));

export type FaultBody = { kind: 'NetworkPolicy'; body: V1NetworkPolicy } | { kind: 'Job'; body: V1Job } | { kind: 'ConfigMap'; body: V1ConfigMap };

export interface FaultContext {
  namespace: string;
  release: string;
  k6Image: string;
  gatewayUrl: string;
  apiKeySecret: string;
}

/** Every object one planned fault creates: a pod kill's marker, a partition's policies, or a flood's script and Job. */
export function faultObjects(planned: PlannedFault, fault: FaultIdentity, ctx: FaultContext): FaultBody[] {
  switch (planned.kind) {
    case 'pod-kill':
      return [{ kind: 'ConfigMap', body: markerConfigMap(fault, ctx.namespace) }];
    case 'flood': {
      const scriptText = readFileSync(join(loadScriptsDir, planned.fault.script), 'utf8');
      const { configMap, job } = floodObjects({ fault, load: planned.fault, scriptText, namespace: ctx.namespace, image: ctx.k6Image, gatewayUrl: ctx.gatewayUrl, apiKeySecret: ctx.apiKeySecret });
      return [
        { kind: 'ConfigMap', body: configMap },
        { kind: 'Job', body: job },
      ];
    }
    default: {
      // A partition (faultIdentity has refused latency). Edges are <client>-<server>, and no component's name has a dash.
      const [selector, target] = planned.edge.split('-') as [string, string];
      return partitionPolicies({ selector, target, direction: planned.direction, namespace: ctx.namespace, release: ctx.release, fault }).map((body) => ({ kind: 'NetworkPolicy', body }));
    }
  }
}
