// network-partition on Kubernetes: NetworkPolicies, egress-only, on the side that opens connections. Its evidence is
// the policies as the API server holds them, selecting the right pods and excluding the peer; whether packets stop
// is up to the cluster's enforcer (the real node's kube-router in this project's tests).
import type { V1LabelSelectorRequirement, V1NetworkPolicy } from '@kubernetes/client-node';
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { nameLabel } from '../inventory.ts';
import { expiryOf, faultMetadata, labelKeys, shopPodLabels, type FaultIdentity } from '../labels.ts';
import type { FaultBody, FaultContext, KubernetesFaultDeps } from './types.ts';

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


type Partition = Planned<'network-partition'>;

export const partitionIdentity = (planned: Partition, drill: string, id: string, now: number): FaultIdentity => ({ id, drill, kind: 'network-partition', target: planned.edge, expiresAt: now + planned.durationMs });

export const partitionObjects = (planned: Partition, fault: FaultIdentity, ctx: FaultContext): FaultBody[] =>
  partitionPolicies({ selector: planned.client, target: planned.server, direction: planned.direction, namespace: ctx.namespace, release: ctx.release, fault }).map((body) => ({ kind: 'NetworkPolicy', body }));

/** The problems with a partition's policies: each initiating side must select its pods and exclude its peer. */
export function partitionProblems(policies: V1NetworkPolicy[], planned: Pick<Partition, 'client' | 'server' | 'direction'>, release: string): string[] {
  const [a, b] = [planned.client, planned.server];
  const sides = { to: [[a, b]], from: [[b, a]], both: [[a, b], [b, a]] }[planned.direction];
  const problems = sides.flatMap(([initiator, peer]) => {
    const policy = policies.find((p) => p.spec?.podSelector?.matchLabels?.[nameLabel] === initiator);
    if (!policy) return [`no NetworkPolicy selects ${initiator}`];
    const out: string[] = [];
    if (policy.spec?.podSelector?.matchLabels?.['app.kubernetes.io/instance'] !== release) out.push(`${policy.metadata?.name} selects another release`);
    if (!policy.spec?.policyTypes?.includes('Egress')) out.push(`${policy.metadata?.name} is not an Egress policy`);
    if (!excludedPeers(policy)?.includes(peer!)) out.push(`${policy.metadata?.name} does not exclude ${peer}`);
    return out;
  });
  if (policies.length !== sides.length) problems.push(`${policies.length} NetworkPolicies for ${sides.length} side(s)`);
  return problems;
}

export const networkPartition = ({ driver }: KubernetesFaultDeps): FaultImplementation<Partition> => ({
  async inject(planned, ctx) {
    const injected = await driver.injectFault(planned, ctx.drill);
    const { policies } = await driver.faultBodies(injected.id);
    const problems = partitionProblems(policies, planned, driver.release);
    return {
      target: planned.edge,
      injectedAt: new Date().toISOString(),
      evidence: { id: injected.id, direction: planned.direction, policies: policies.map((p) => ({ name: p.metadata?.name, selects: p.spec?.podSelector?.matchLabels, excludes: excludedPeers(p) })), problems },
      effective: problems.length === 0,
      summary: problems.length ? problems.join('; ') : policies.map((p) => `${p.metadata?.name} keeps ${p.spec?.podSelector?.matchLabels?.[nameLabel]} from ${excludedPeers(p)?.join('+')}`).join('; '),
      remove: () => driver.removeAndCheck(injected.id),
    };
  },
});
