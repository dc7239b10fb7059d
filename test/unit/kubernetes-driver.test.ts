// The Kubernetes fault driver's pure logic: object shapes, metadata and expiry, guardrails, settings, metrics.
// No API server here: what the objects do in a cluster is for the Kubernetes suite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { ConfigError } from '@faultline/common';
import { loadDrillFile, parseDrill } from '../../chaos/src/drill/file.ts';
import { fault as faultSchema, type Fault } from '../../chaos/src/drill/schema.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { describeApiError, isNotFound } from '../../chaos/src/platforms/kubernetes/client.ts';
import { kubernetesScope } from '../../chaos/src/platforms/kubernetes/command.ts';
import { controllerConfig } from '../../chaos/src/platforms/kubernetes/config.ts';
import { controllerMetrics, exportFaults, reconciler, type Sweepable } from '../../chaos/src/platforms/kubernetes/controller.ts';
import { authorization, endAnnotation, grafanaAnnotations, startAnnotation } from '../../chaos/src/platforms/kubernetes/grafana.ts';
import { assertNamespaceAllowed } from '../../chaos/src/platforms/kubernetes/guardrails.ts';
import { faultIdentity, faultObjects, unsupportedOnKubernetes, type Buildable } from '../../chaos/src/platforms/kubernetes/faults/index.ts';
import { excludedPeers, partitionExclusions, partitionPolicies, withExcludedPeers } from '../../chaos/src/platforms/kubernetes/faults/network-partition.ts';
import { markerConfigMap, podKillOptions } from '../../chaos/src/platforms/kubernetes/faults/pod-kill.ts';
import { inventoryFromPods } from '../../chaos/src/platforms/kubernetes/inventory.ts';
import { defaultGatewayUrl, defaultK6Image, k6Objects } from '../../chaos/src/platforms/kubernetes/k6-job.ts';
import { expiryOf, faultMetadata, faultSelector, groupFaults, kindSelector, labelValue, managedSelector, maxFaultLifetimeMs, releasePodSelector, shopPodSelector, type FaultIdentity, type LiveFault } from '../../chaos/src/platforms/kubernetes/labels.ts';
import { chooseReplicas, planFault, type FaultOf } from '../../chaos/src/drill/faults/index.ts';
import { assertSupported, preflight } from '../../chaos/src/drill/plan.ts';
import { edgeNames } from '../../chaos/src/core/topology.ts';
import { chaosRoleRules, sortRules } from '../../chaos/src/platforms/kubernetes/rbac.ts';
import { cli, repoRoot } from '../support/shop.ts';

const t0 = Date.parse('2030-01-01T00:00:00.000Z');
const identity = (over: Partial<FaultIdentity> = {}): FaultIdentity => ({ id: 'flt-0a1b2c3d', drill: 'catalog-outage', kind: 'network-partition', target: 'gateway-catalog', expiresAt: t0 + 10_000, ...over });
const labelPattern = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Chaos Mesh's modes over the ready pods of the fault's service, as the pod-kill kind plans them on Kubernetes. */
const podsToKill = (fault: FaultOf<'pod-kill'>, pods: V1Pod[]) => chooseReplicas(fault, inventoryFromPods(pods).replicas[fault.selector.service] ?? []);
/** Plans a fault as the runner would on Kubernetes: unsupported kinds refused first. */
const planKubernetesFault = (fault: Fault, inventory: { replicas: Record<string, string[]>; edges: string[] }) => {
  assertSupported({ method: [{ fault }], rollbacks: [] } as never, 'kubernetes', unsupportedOnKubernetes);
  return planFault(fault, inventory);
};
const preflightKubernetes = (drill: Parameters<typeof preflight>[0], inventory: Parameters<typeof preflight>[1]) => {
  assertSupported(drill, 'kubernetes', unsupportedOnKubernetes);
  preflight(drill, inventory);
};

const pod = (name: string, service: string, state: { ready?: boolean; phase?: string; deleting?: boolean } = {}): V1Pod => ({
  metadata: { name, labels: { 'app.kubernetes.io/name': service, 'app.kubernetes.io/instance': 'faultline' }, ...(state.deleting ? { deletionTimestamp: new Date(t0) } : {}) },
  status: { phase: state.phase ?? 'Running', conditions: [{ type: 'Ready', status: state.ready === false ? 'False' : 'True' }] },
});

describe('fault metadata', () => {
  it('labels and annotates every object with its drill, fault, kind and expiry', () => {
    const meta = faultMetadata('faultline-flt-0a1b2c3d-gateway', identity({ grafanaAnnotationId: 42 }));
    expect(meta).toEqual({
      name: 'faultline-flt-0a1b2c3d-gateway',
      labels: { 'app.kubernetes.io/managed-by': 'faultline-chaos', 'faultline.dev/drill': 'catalog-outage', 'faultline.dev/fault': 'flt-0a1b2c3d', 'faultline.dev/kind': 'network-partition' },
      annotations: { 'faultline.dev/expires-at': '2030-01-01T00:00:10.000Z', 'faultline.dev/target': 'gateway-catalog', 'faultline.dev/grafana-annotation-id': '42' },
    });
  });

  it.each([
    ['catalog-outage', 'catalog-outage'],
    ['My Drill: take 2!', 'My-Drill-take-2'],
    ['-.-leading and trailing-._', 'leading-and-trailing'],
    ['ünïcødé', 'n-c-d'],
    ['!!!', 'unnamed'],
    ['', 'unnamed'],
  ])('makes %j the label value %j', (text, value) => {
    expect(labelValue(text)).toBe(value);
  });

  it('keeps a label value within 63 characters, ending on a letter or digit', () => {
    const long = labelValue(`${'a'.repeat(62)}-b${'c'.repeat(20)}`);
    expect(long).toBe('a'.repeat(62));
    for (const text of ['x'.repeat(100), `${'y'.repeat(62)}_z`, 'a b'.repeat(40), 'é'.repeat(70) + 'q']) {
      const v = labelValue(text);
      expect(v.length).toBeLessThanOrEqual(63);
      expect(v).toMatch(labelPattern);
    }
  });

  it('builds the selectors the chart and the driver agree on', () => {
    expect(shopPodSelector('faultline', 'catalog')).toBe('app.kubernetes.io/name=catalog,app.kubernetes.io/instance=faultline');
    expect(releasePodSelector('faultline')).toBe('app.kubernetes.io/instance=faultline,app.kubernetes.io/part-of=faultline');
    expect(managedSelector).toBe('app.kubernetes.io/managed-by=faultline-chaos');
    expect(faultSelector('flt-0a1b2c3d')).toBe('app.kubernetes.io/managed-by=faultline-chaos,faultline.dev/fault=flt-0a1b2c3d');
    expect(kindSelector('network-partition')).toBe('app.kubernetes.io/managed-by=faultline-chaos,faultline.dev/kind=network-partition');
  });
});

describe('fault expiry', () => {
  const at = (text?: string, created?: number) => ({ annotations: (text === undefined ? {} : { 'faultline.dev/expires-at': text }) as Record<string, string>, ...(created === undefined ? {} : { creationTimestamp: new Date(created) }) });

  it('reads the RFC 3339 annotation', () => {
    expect(expiryOf(at('2030-01-01T00:00:10.000Z', t0))).toEqual({ expiresAt: t0 + 10_000 });
    expect(expiryOf(at('2030-01-01T01:00:10+01:00'))).toEqual({ expiresAt: t0 + 10_000 });
  });

  it.each([
    ['missing', undefined, /no faultline.dev\/expires-at annotation/],
    ['not a time', 'tomorrow', /not an RFC 3339 time: "tomorrow"/],
    ['a bare number', '1893456010000', /not an RFC 3339 time/],
    ['a date without a time', '2030-01-01', /not an RFC 3339 time/],
    ['an impossible date', '2030-13-45T00:00:00Z', /not an RFC 3339 time/],
  ])('treats a %s expiry as expired already, so that the next pass removes it', (_what, text, problem) => {
    const e = expiryOf(at(text, t0));
    expect(e.expiresAt).toBe(0);
    expect(e.problem).toMatch(problem);
  });

  it('caps an expiry past the longest drill at creation + an hour', () => {
    const e = expiryOf(at('2999-01-01T00:00:00Z', t0));
    expect(e.expiresAt).toBe(t0 + maxFaultLifetimeMs);
    expect(e.problem).toMatch(/capped/);
  });

  it('groups objects into faults: earliest expiry, finished floods, Grafana ids, deletions skipped', () => {
    const partition = identity();
    const flood = identity({ id: 'flt-ffff0000', kind: 'flood', target: 'flood.js', expiresAt: t0 + 75_000, grafanaAnnotationId: 7 });
    const faults = groupFaults('faultline', [
      { kind: 'NetworkPolicy', metadata: faultMetadata('faultline-flt-0a1b2c3d-gateway', partition) },
      { kind: 'NetworkPolicy', metadata: faultMetadata('faultline-flt-0a1b2c3d-catalog', { ...partition, expiresAt: t0 + 5000 }) },
      { kind: 'NetworkPolicy', metadata: { ...faultMetadata('faultline-flt-99999999-x', identity({ id: 'flt-99999999' })), deletionTimestamp: new Date(t0) } },
      { kind: 'ConfigMap', metadata: faultMetadata('faultline-flt-ffff0000-script', flood) },
      { kind: 'Job', metadata: faultMetadata('faultline-flt-ffff0000-k6', flood), finished: true },
      { kind: 'ConfigMap', metadata: { name: 'garbled', labels: { 'faultline.dev/fault': 'flt-garbled0', 'faultline.dev/kind': 'pod-kill' } } },
    ]);
    expect(faults.map((f) => [f.id, f.kind, f.expiresAt, f.finished, f.objects.length])).toEqual([
      ['flt-garbled0', 'pod-kill', 0, false, 1],
      ['flt-0a1b2c3d', 'network-partition', t0 + 5000, false, 2],
      ['flt-ffff0000', 'flood', t0 + 75_000, true, 2],
    ]);
    expect(faults[0]!.problems[0]).toMatch(/ConfigMap\/garbled: no faultline.dev\/expires-at/);
    expect(faults[2]).toMatchObject({ namespace: 'faultline', drill: 'catalog-outage', target: 'flood.js', grafanaAnnotationId: 7 });
  });
});

describe('pod-kill', () => {
  const kill = (mode: 'one' | 'all' | 'fixed', value?: number) => faultSchema.parse({ kind: 'pod-kill', selector: { service: 'kitchen' }, mode, ...(value ? { value } : {}) }) as Extract<Fault, { kind: 'pod-kill' }>;
  const pods = [pod('kitchen-a', 'kitchen'), pod('kitchen-b', 'kitchen'), pod('kitchen-c', 'kitchen', { ready: false }), pod('kitchen-d', 'kitchen', { deleting: true }), pod('kitchen-e', 'kitchen', { phase: 'Pending' }), pod('catalog-a', 'catalog')];

  it('counts only ready, running pods that are not being deleted', () => {
    expect(inventoryFromPods(pods).replicas).toEqual({ kitchen: ['kitchen-a', 'kitchen-b'], catalog: ['catalog-a'] });
    expect(inventoryFromPods(pods).edges).toContain('kitchen-kafka');
  });

  it('chooses among the ready pods with the Chaos Mesh modes', () => {
    expect(['kitchen-a', 'kitchen-b']).toContain(podsToKill(kill('one'), pods)[0]);
    expect(podsToKill(kill('all'), pods)).toEqual(['kitchen-a', 'kitchen-b']);
  });

  it('refuses to take every replica unless the drill says mode: all', () => {
    expect(() => podsToKill(kill('one'), [pod('kitchen-a', 'kitchen'), pod('kitchen-b', 'kitchen', { ready: false })])).toThrow(UsageError);
    expect(() => podsToKill(kill('one'), [pod('kitchen-a', 'kitchen')])).toThrow(/would take every replica of kitchen \(1\); say mode: all/);
    expect(() => podsToKill(kill('fixed', 2), pods)).toThrow(/say mode: all/);
    expect(() => podsToKill(kill('one'), [pod('catalog-a', 'catalog')])).toThrow(/kitchen has no ready replicas/);
  });

  it('deletes with no grace period, and leaves a marker ConfigMap for its deadline', () => {
    expect(podKillOptions).toEqual({ gracePeriodSeconds: 0 });
    const marker = markerConfigMap(identity({ kind: 'pod-kill', target: 'kitchen-a' }), 'faultline');
    expect(marker).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'faultline-flt-0a1b2c3d-marker', namespace: 'faultline', labels: { 'faultline.dev/kind': 'pod-kill' } }, data: { target: 'kitchen-a' } });
  });
});

describe('network-partition as NetworkPolicies', () => {
  const policies = (direction: 'to' | 'from' | 'both') => partitionPolicies({ selector: 'gateway', target: 'catalog', direction, namespace: 'shop', release: 'faultline', fault: identity() });
  const blocked = (initiator: string, peer: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `faultline-flt-0a1b2c3d-${initiator}`, namespace: 'shop', labels: { 'faultline.dev/initiator': initiator, 'faultline.dev/peer': peer } },
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': initiator, 'app.kubernetes.io/instance': 'faultline' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            { podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: [peer] }] } },
            { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['shop'] }] } },
          ],
        },
      ],
    },
  });

  it('to: the selector may reach everything but the target', () => {
    expect(policies('to')).toMatchObject([blocked('gateway', 'catalog')]);
  });
  it('from: the target may reach everything but the selector', () => {
    expect(policies('from')).toMatchObject([blocked('catalog', 'gateway')]);
  });
  it('both: the two policies', () => {
    expect(policies('both')).toMatchObject([blocked('gateway', 'catalog'), blocked('catalog', 'gateway')]);
  });
  it('never allows by ipBlock (it would match pod IPs and let the peer back in), and carries the fault metadata', () => {
    for (const p of policies('both')) {
      expect(JSON.stringify(p)).not.toContain('ipBlock');
      expect(p.spec!.ingress).toBeUndefined();
      expect(p.metadata!.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'faultline-chaos', 'faultline.dev/fault': 'flt-0a1b2c3d' });
      expect(p.metadata!.annotations!['faultline.dev/expires-at']).toBe('2030-01-01T00:00:10.000Z');
    }
  });
  it('reads and rewrites the excluded peers without touching the rest', () => {
    const [p] = policies('to');
    expect(excludedPeers(p!)).toEqual(['catalog']);
    const rewritten = withExcludedPeers(p!, ['catalog', 'orders']);
    expect(excludedPeers(rewritten)).toEqual(['catalog', 'orders']);
    expect(excludedPeers(p!)).toEqual(['catalog']);
    expect(rewritten).toEqual({ ...p, spec: { ...p!.spec, egress: [{ to: [{ podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['catalog', 'orders'] }] } }, p!.spec!.egress![0]!.to![1]] }] } });
    expect(excludedPeers({ spec: { podSelector: {}, egress: [{ to: [{ namespaceSelector: {} }] }] } })).toBeUndefined();
  });
});

describe('partitions sharing an initiator exclude the union of their peers', () => {
  // A live policy as the API lists it: no apiVersion or kind on the items, a creation time and a resourceVersion.
  const listed = (p: V1NetworkPolicy, resourceVersion = '1'): V1NetworkPolicy => {
    const { apiVersion: _a, kind: _k, ...rest } = structuredClone(p);
    return { ...rest, metadata: { ...rest.metadata, creationTimestamp: new Date(t0 - 1000), resourceVersion } };
  };
  const partition = (id: string, selector: string, target: string, direction: 'to' | 'from' | 'both' = 'to', over: Partial<FaultIdentity> = {}, release = 'faultline') =>
    partitionPolicies({ selector, target, direction, namespace: 'faultline', release, fault: identity({ id, target: `${selector}-${target}`, ...over }) });
  const notIn = (policies: V1NetworkPolicy[]) => Object.fromEntries(policies.map((p) => [p.metadata!.name!, excludedPeers(p)]));
  /** Applies a plan to a list, as the driver would: creates, then replaces (bumping resourceVersion). */
  const apply = (cluster: V1NetworkPolicy[], plan: { create?: V1NetworkPolicy[]; replace: V1NetworkPolicy[] }) => {
    const byName = new Map(cluster.map((p) => [p.metadata!.name!, p]));
    for (const p of plan.create ?? []) byName.set(p.metadata!.name!, listed(p));
    for (const p of plan.replace) byName.set(p.metadata!.name!, listed(p, String(Number(p.metadata!.resourceVersion) + 1)));
    return [...byName.values()];
  };
  const reconcile = (cluster: V1NetworkPolicy[], now = t0) => apply(cluster, partitionExclusions(cluster, { now }));

  it('two partitions on one initiator: the new one and the live one both exclude both peers', () => {
    const catalog = partition('flt-a', 'gateway', 'catalog').map((p) => listed(p));
    const plan = partitionExclusions(catalog, { now: t0, adding: partition('flt-b', 'gateway', 'orders') });
    expect(notIn(plan.create)).toEqual({ 'faultline-flt-b-gateway': ['catalog', 'orders'] });
    expect(notIn(plan.replace)).toEqual({ 'faultline-flt-a-gateway': ['catalog', 'orders'] });
    expect(plan.exclusions).toEqual([{ release: 'faultline', initiator: 'gateway', peers: ['catalog', 'orders'] }]);
    // A replace carries what it was read with, so that a concurrent change makes it fail (409) rather than be lost.
    expect(plan.replace[0]).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { resourceVersion: '1', labels: { 'faultline.dev/peer': 'catalog' } } });
    expect(excludedPeers(catalog[0]!)).toEqual(['catalog']);
  });

  it('removing one: the one left excludes only its own peer again', () => {
    const both = apply([], partitionExclusions([], { now: t0, adding: [...partition('flt-a', 'gateway', 'catalog'), ...partition('flt-b', 'gateway', 'orders')] }) as never);
    expect(Object.values(notIn(both))).toEqual([['catalog', 'orders'], ['catalog', 'orders']]);
    const left = both.filter((p) => !p.metadata!.name!.startsWith('faultline-flt-a-'));
    const plan = partitionExclusions(left, { now: t0 });
    expect(notIn(plan.replace)).toEqual({ 'faultline-flt-b-gateway': ['orders'] });
    expect(plan.create).toEqual([]);
  });

  it('both on two edges into one service (catalog-outage): catalog excludes gateway and orders, the clients only catalog', () => {
    const drill = loadDrillFile(join(repoRoot, 'chaos/drills/catalog-outage.yaml'));
    const parallel = drill.method.find((s) => s.parallel)!.parallel!.map((s) => s.fault!);
    const ctx = { namespace: 'faultline', release: 'faultline', k6Image: defaultK6Image, gatewayUrl: 'http://g', apiKeySecret: 's' };
    let cluster: V1NetworkPolicy[] = [];
    parallel.forEach((fault, i) => {
      const planned = planFault(fault, { replicas: {}, edges: edgeNames }) as Buildable;
      const adding = faultObjects(planned, faultIdentity(planned, drill.name, `flt-${i}`, t0), ctx).map((o) => o.body as V1NetworkPolicy);
      const plan = partitionExclusions(cluster, { now: t0, adding });
      cluster = apply(cluster, plan);
    });
    expect(notIn(cluster)).toEqual({
      'faultline-flt-0-gateway': ['catalog'],
      'faultline-flt-0-catalog': ['gateway', 'orders'],
      'faultline-flt-1-orders': ['catalog'],
      'faultline-flt-1-catalog': ['gateway', 'orders'],
    });
    expect(partitionExclusions(cluster, { now: t0 }).exclusions).toEqual([
      { release: 'faultline', initiator: 'catalog', peers: ['gateway', 'orders'] },
      { release: 'faultline', initiator: 'gateway', peers: ['catalog'] },
      { release: 'faultline', initiator: 'orders', peers: ['catalog'] },
    ]);
    // The second fault's injection rewrote only the first fault's catalog policy.
    expect(cluster.find((p) => p.metadata!.name === 'faultline-flt-0-catalog')!.metadata!.resourceVersion).toBe('2');
    expect(cluster.find((p) => p.metadata!.name === 'faultline-flt-0-gateway')!.metadata!.resourceVersion).toBe('1');
  });

  it('leaves other initiators, other releases, other kinds and unlabelled policies alone', () => {
    const kitchen = partition('flt-k', 'kitchen', 'redis').map((p) => listed(p));
    const otherRelease = partition('flt-r', 'gateway', 'orders', 'to', {}, 'canary').map((p) => listed(p));
    const older = partition('flt-o', 'gateway', 'kitchen').map((p) => listed(p));
    for (const p of older) for (const k of ['faultline.dev/initiator', 'faultline.dev/peer']) delete p.metadata!.labels![k];
    const flood = listed({ metadata: faultMetadata('faultline-flt-f-x', identity({ id: 'flt-f', kind: 'flood' }), { 'faultline.dev/initiator': 'gateway', 'faultline.dev/peer': 'redis' }), spec: partition('x', 'gateway', 'redis')[0]!.spec! });
    const plan = partitionExclusions([...kitchen, ...otherRelease, ...older, flood], { now: t0, adding: partition('flt-b', 'gateway', 'catalog') });
    expect(plan.replace).toEqual([]);
    expect(notIn(plan.create)).toEqual({ 'faultline-flt-b-gateway': ['catalog'] });
    expect(plan.exclusions).toEqual([
      { release: 'canary', initiator: 'gateway', peers: ['orders'] },
      { release: 'faultline', initiator: 'gateway', peers: ['catalog'] },
      { release: 'faultline', initiator: 'kitchen', peers: ['redis'] },
    ]);
  });

  it('is idempotent: once applied there is nothing to rewrite, and a set in another order is already right', () => {
    let cluster = apply([], partitionExclusions([], { now: t0, adding: partition('flt-a', 'gateway', 'catalog', 'both') }) as never);
    cluster = apply(cluster, partitionExclusions(cluster, { now: t0, adding: partition('flt-b', 'gateway', 'orders') }));
    cluster = apply(cluster, partitionExclusions(cluster, { now: t0, adding: partition('flt-c', 'orders', 'catalog', 'both') }));
    expect(partitionExclusions(cluster, { now: t0 }).replace).toEqual([]);
    expect(reconcile(cluster)).toEqual(cluster);
    const shuffled = cluster.map((p) => (excludedPeers(p)!.length > 1 ? withExcludedPeers(p, [...excludedPeers(p)!].reverse()) : p));
    expect(partitionExclusions(shuffled, { now: t0 }).replace).toEqual([]);
  });

  it('returns sorted values whatever the order of the list', () => {
    const adding = [...partition('flt-c', 'gateway', 'orders'), ...partition('flt-a', 'gateway', 'kitchen'), ...partition('flt-b', 'gateway', 'catalog')];
    const forwards = partitionExclusions(adding.map((p) => listed(p)), { now: t0 });
    const backwards = partitionExclusions([...adding].reverse().map((p) => listed(p)), { now: t0 });
    expect(forwards).toEqual(backwards);
    expect(forwards.replace.map((p) => [p.metadata!.name, excludedPeers(p)])).toEqual([
      ['faultline-flt-a-gateway', ['catalog', 'kitchen', 'orders']],
      ['faultline-flt-b-gateway', ['catalog', 'kitchen', 'orders']],
      ['faultline-flt-c-gateway', ['catalog', 'kitchen', 'orders']],
    ]);
  });

  it('an expired policy no longer keeps its peer excluded, and is rewritten like the others until cleanup deletes it', () => {
    const expired = partition('flt-a', 'gateway', 'catalog', 'to', { expiresAt: t0 - 1 });
    const live = partition('flt-b', 'gateway', 'orders');
    const cluster = apply([], partitionExclusions([], { now: t0 - 10_000, adding: [...expired, ...live] }) as never);
    expect(Object.values(notIn(cluster))).toEqual([['catalog', 'orders'], ['catalog', 'orders']]);
    const plan = partitionExclusions(cluster, { now: t0 });
    expect(notIn(plan.replace)).toEqual({ 'faultline-flt-a-gateway': ['orders'], 'faultline-flt-b-gateway': ['orders'] });
    expect(plan.exclusions).toEqual([{ release: 'faultline', initiator: 'gateway', peers: ['orders'] }]);
    // With no live partition left on the initiator there is nothing to exclude (a NotIn needs a value): cleanup's.
    expect(partitionExclusions(cluster.filter((p) => p.metadata!.name!.includes('flt-a')), { now: t0 })).toEqual({ exclusions: [], create: [], replace: [] });
    // A garbled expiry counts as expired (expiryOf).
    const garbled = listed(live[0]!);
    garbled.metadata!.annotations!['faultline.dev/expires-at'] = 'soon';
    expect(partitionExclusions([garbled], { now: t0 }).exclusions).toEqual([]);
  });

  it('ignores a policy being deleted', () => {
    const going = partition('flt-a', 'gateway', 'catalog').map((p) => listed(p));
    going[0]!.metadata!.deletionTimestamp = new Date(t0);
    const plan = partitionExclusions(going, { now: t0, adding: partition('flt-b', 'gateway', 'orders') });
    expect(notIn(plan.create)).toEqual({ 'faultline-flt-b-gateway': ['orders'] });
    expect(plan.replace).toEqual([]);
  });

  it('converges when two injections each list before the other creates, once both have reconciled', () => {
    const a = partition('flt-a', 'gateway', 'catalog');
    const b = partition('flt-b', 'gateway', 'orders');
    const planA = partitionExclusions([], { now: t0, adding: a });
    const planB = partitionExclusions([], { now: t0, adding: b });
    let cluster = apply(apply([], { create: planA.create, replace: [] }), { create: planB.create, replace: [] });
    expect(Object.values(notIn(cluster))).toEqual([['catalog'], ['orders']]); // what the driver's first list alone would leave
    cluster = reconcile(reconcile(cluster));
    expect(Object.values(notIn(cluster))).toEqual([['catalog', 'orders'], ['catalog', 'orders']]);
  });

  it('does not change its inputs', () => {
    const existing = partition('flt-a', 'gateway', 'catalog').map((p) => listed(p));
    const adding = partition('flt-b', 'gateway', 'orders');
    const before = structuredClone([existing, adding]);
    partitionExclusions(existing, { now: t0, adding });
    expect([existing, adding]).toEqual(before);
  });
});

describe('flood as a k6 Job', () => {
  const load = faultSchema.parse({ kind: 'flood', script: 'flood.js', rate: 200, duration: '15s', maxVUs: 200, apiKey: 'load' }) as Extract<Fault, { kind: 'flood' }>;
  const scriptText = readFileSync(join(repoRoot, 'chaos/load/flood.js'), 'utf8');
  const fault = identity({ kind: 'flood', target: 'flood.js', drill: 'traffic-flood' });
  const { configMap, job } = k6Objects({ owner: fault, load, scriptText, namespace: 'faultline', image: defaultK6Image, gatewayUrl: defaultGatewayUrl('faultline', 'faultline'), apiKeySecret: 'faultline-api-keys' });
  const pod = job.spec!.template.spec!;
  const k6 = pod.containers[0]!;

  it('holds the script in a ConfigMap mounted where k6 runs it', () => {
    expect(configMap).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'faultline-flt-0a1b2c3d-script', namespace: 'faultline' }, data: { 'flood.js': scriptText } });
    expect(pod.volumes).toContainEqual({ name: 'script', configMap: { name: 'faultline-flt-0a1b2c3d-script' } });
    expect(k6.volumeMounts).toContainEqual({ name: 'script', mountPath: '/scripts', readOnly: true });
  });

  it('runs k6 once, bounded by a deadline, with the pinned image', () => {
    expect(defaultK6Image).toBe('grafana/k6:1.8.1');
    expect(job).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'faultline-flt-0a1b2c3d-k6', namespace: 'faultline' } });
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 15 + 90, ttlSecondsAfterFinished: 600 });
    expect(pod.restartPolicy).toBe('Never');
    expect(k6.image).toBe('grafana/k6:1.8.1');
    // Its REST API on the pod, and lingering after the test, so that the drill reads its figures before the Job goes.
    expect(k6.args).toEqual(['run', '--quiet', '--no-color', '--no-usage-report', '--address', '0.0.0.0:6565', '--linger', '/scripts/flood.js']);
    const stages = faultSchema.parse({ kind: 'flood', script: 'flood.js', executor: 'ramping-arrival-rate', stages: [{ target: 10, duration: '30s' }, { target: 0, duration: '1.5s' }] }) as Extract<Fault, { kind: 'flood' }>;
    expect(k6Objects({ owner: fault, load: stages, scriptText, namespace: 'faultline', image: 'k6', gatewayUrl: 'http://g', apiKeySecret: 's' }).job.spec!.activeDeadlineSeconds).toBe(32 + 90);
  });

  it('passes the environment the local runtime gives k6, with the API key from the Secret', () => {
    expect(k6.env).toEqual([
      { name: 'FAULTLINE_GATEWAY', value: 'http://faultline-gateway.faultline.svc:8080' },
      { name: 'FAULTLINE_API_KEY', valueFrom: { secretKeyRef: { name: 'faultline-api-keys', key: 'client.load' } } },
      { name: 'FAULTLINE_RUN', value: 'traffic-flood-flt-0a1b2c3d' },
      { name: 'FAULTLINE_SCENARIO', value: JSON.stringify({ executor: 'constant-arrival-rate', preAllocatedVUs: 200, maxVUs: 200, timeUnit: '1s', rate: 200, duration: '15000ms' }) },
      { name: 'K6_NO_USAGE_REPORT', value: 'true' },
    ]);
  });

  it('runs as a non-root user with nothing to escalate, within resource limits', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 12345, seccompProfile: { type: 'RuntimeDefault' } });
    expect(k6.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(k6.resources?.requests).toBeDefined();
    expect(k6.resources?.limits).toBeDefined();
  });

  it('labels the Job and its pods with the fault, never as a shop component', () => {
    for (const labels of [job.metadata!.labels!, job.spec!.template.metadata!.labels!, configMap.metadata!.labels!]) {
      expect(labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'faultline-chaos', 'faultline.dev/drill': 'traffic-flood', 'faultline.dev/fault': 'flt-0a1b2c3d', 'faultline.dev/kind': 'flood' });
    }
    expect(job.spec!.template.metadata!.labels!['app.kubernetes.io/name']).toBe('k6');
  });
});

describe('guardrails', () => {
  const inventory = { replicas: { gateway: ['g-0'], catalog: ['c-0', 'c-1'], orders: ['o-0', 'o-1'], kitchen: ['k-0', 'k-1'] }, edges: inventoryFromPods([]).edges };

  it('refuses a namespace outside the allowlist', () => {
    expect(() => assertNamespaceAllowed('kube-system', ['faultline'])).toThrow(UsageError);
    expect(() => assertNamespaceAllowed('kube-system', ['faultline'])).toThrow(/namespace kube-system is not allowed for chaos; the allowed namespaces are faultline/);
    expect(() => assertNamespaceAllowed('faultline', ['faultline', 'shop'])).not.toThrow();
  });

  it('refuses latency at plan time, naming the alternatives', () => {
    const latency = faultSchema.parse({ kind: 'latency', selector: { service: 'orders' }, target: { service: 'redis' }, duration: '10s', latency: '200ms' });
    expect(() => planKubernetesFault(latency, inventory)).toThrow(UsageError);
    expect(() => planKubernetesFault(latency, inventory)).toThrow(/cannot do latency: a NetworkPolicy can only allow or refuse traffic.*local runtime.*Chaos Mesh \(NetworkChaos, action: delay\)/);
  });

  it('refuses a drill with latency anywhere before its first fault, and passes the shipped drills', () => {
    const text = readFileSync(join(repoRoot, 'chaos/drills/catalog-outage.yaml'), 'utf8');
    const shipped = parseDrill(text);
    expect(() => preflightKubernetes(shipped, inventory)).not.toThrow();
    const withLatency = { ...shipped, rollbacks: [{ parallel: [{ wait: 1000 }, { fault: faultSchema.parse({ kind: 'latency', selector: { service: 'gateway' }, target: { service: 'catalog' }, duration: '5s', latency: '1s' }) }] }] };
    expect(() => preflightKubernetes(withLatency, inventory)).toThrow(/cannot do latency/);
    for (const name of ['kitchen-kafka-partition', 'kitchen-worker-kill', 'traffic-flood']) {
      expect(() => preflightKubernetes(parseDrill(readFileSync(join(repoRoot, `chaos/drills/${name}.yaml`), 'utf8')), inventory)).not.toThrow();
    }
  });

  it('plans a partition on a known edge and refuses an unknown one', () => {
    const partition = (selector: string, target: string) => faultSchema.parse({ kind: 'network-partition', selector: { service: selector }, target: { service: target }, duration: '10s' });
    expect(planKubernetesFault(partition('gateway', 'catalog'), inventory)).toMatchObject({ kind: 'network-partition', edge: 'gateway-catalog', direction: 'both', durationMs: 10_000 });
    expect(() => planKubernetesFault(partition('catalog', 'gateway'), inventory)).toThrow(/catalog does not talk to gateway/);
  });
});

describe('fault identity', () => {
  it('names what each planned fault hits and gives it a deadline', () => {
    const flood = faultSchema.parse({ kind: 'flood', script: 'flood.js', rate: 10, duration: '20s' }) as Extract<Fault, { kind: 'flood' }>;
    expect(faultIdentity({ kind: 'pod-kill', service: 'kitchen', mode: 'fixed', replicas: ['kitchen-a', 'kitchen-b'] }, 'd', 'flt-1', t0)).toEqual({ id: 'flt-1', drill: 'd', kind: 'pod-kill', target: 'kitchen-a,kitchen-b', expiresAt: t0 + 60_000 });
    expect(faultIdentity({ kind: 'network-partition', edge: 'orders-kafka', client: 'orders', server: 'kafka', direction: 'to', durationMs: 15_000 }, 'd', 'flt-1', t0)).toMatchObject({ kind: 'network-partition', target: 'orders-kafka', expiresAt: t0 + 15_000 });
    const { kind: _kind, ...load } = flood;
    expect(faultIdentity({ kind: 'flood', load, durationMs: 20_000 }, 'd', 'flt-1', t0)).toMatchObject({ kind: 'flood', target: 'flood.js', expiresAt: t0 + (20 + 90) * 1000 });
  });
});

describe('Grafana annotations', () => {
  const fault = { ...identity(), startedAt: t0 };

  it('posts a region from injection to deadline, tagged faultline, drill and kind', () => {
    expect(startAnnotation(fault)).toEqual({ time: t0, timeEnd: t0 + 10_000, tags: ['faultline', 'catalog-outage', 'network-partition'], text: 'network-partition gateway-catalog (drill catalog-outage, fault flt-0a1b2c3d)' });
    expect(endAnnotation(t0 + 4000)).toEqual({ timeEnd: t0 + 4000 });
  });

  it('authenticates with a token or basic auth', () => {
    expect(authorization({ url: 'http://g', token: 'glsa_x' })).toBe('Bearer glsa_x');
    expect(authorization({ url: 'http://g', user: 'admin', password: 'pw' })).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
    expect(authorization({ url: 'http://g' })).toBeUndefined();
  });

  it('is a no-op without Grafana, and only warns when Grafana does not answer', async () => {
    expect(await grafanaAnnotations(undefined).start(fault)).toBeUndefined();
    const warnings: string[] = [];
    const grafana = grafanaAnnotations({ url: 'http://127.0.0.1:1' }, (m) => warnings.push(m));
    expect(await grafana.start(fault)).toBeUndefined();
    await grafana.end(3, t0);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^grafana: no annotation for network-partition gateway-catalog/);
  });
});

describe('RBAC', () => {
  it('is exactly the namespaced rules the driver and controller use, sorted', () => {
    expect(chaosRoleRules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'delete', 'list'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['delete', 'list'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'delete', 'list'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'delete', 'list', 'update'] },
    ]);
    expect(sortRules([...chaosRoleRules].reverse())).toEqual(chaosRoleRules);
    expect(JSON.stringify(chaosRoleRules)).not.toMatch(/\*|namespaces|nodes|clusterroles|escalate|bind|impersonate/);
  });
});

describe('Kubernetes API errors', () => {
  it('treats 404 as gone and explains the others in one line', () => {
    expect(isNotFound({ code: 404 })).toBe(true);
    expect(isNotFound({ code: 403 })).toBe(false);
    expect(isNotFound(new Error('boom'))).toBe(false);
    const forbidden = { code: 403, body: JSON.stringify({ kind: 'Status', message: 'networkpolicies is forbidden: User "x" cannot create' }) };
    expect(describeApiError('create NetworkPolicy p', forbidden)).toBe('create NetworkPolicy p: HTTP 403 networkpolicies is forbidden: User "x" cannot create (the Role does not allow it; see chaos/src/platforms/kubernetes/rbac.ts)');
    expect(describeApiError('list pods', { code: 500, body: 'not json' })).toBe('list pods: HTTP 500');
    expect(describeApiError('list pods', new Error('ECONNREFUSED'))).toBe('list pods: ECONNREFUSED');
  });
});

describe('controller settings', () => {
  const base = { FAULTLINE_NAMESPACE: 'faultline', FAULTLINE_RELEASE: 'faultline' };

  it('reads the chart’s environment with defaults', () => {
    const c = controllerConfig({ ...base, GRAFANA_URL: '', FAULTLINE_RECONCILE_INTERVAL: '15s' });
    expect(c).toEqual({ namespace: 'faultline', release: 'faultline', allowedNamespaces: ['faultline'], reconcileIntervalMs: 15_000, k6Image: 'grafana/k6:1.8.1', gatewayUrl: 'http://faultline-gateway.faultline.svc:8080', port: 8080, logLevel: 'info' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(controllerConfig({ ...base, FAULTLINE_ALLOWED_NAMESPACES: 'faultline, shop', GRAFANA_URL: 'http://grafana:3000', GRAFANA_TOKEN: 't' })).toMatchObject({ allowedNamespaces: ['faultline', 'shop'], grafana: { url: 'http://grafana:3000', token: 't' } });
    expect(controllerConfig({ ...base, GRAFANA_URL: 'http://grafana:3000', GRAFANA_USER: 'admin', GRAFANA_PASSWORD: 'pw' }).grafana).toEqual({ url: 'http://grafana:3000', user: 'admin', password: 'pw' });
  });

  it.each([
    [{ FAULTLINE_NAMESPACE: undefined }, /FAULTLINE_NAMESPACE=null: required/],
    [{ FAULTLINE_NAMESPACE: 'Faultline' }, /FAULTLINE_NAMESPACE="Faultline": expected a DNS label/],
    [{ FAULTLINE_RELEASE: 'a'.repeat(54) }, /FAULTLINE_RELEASE=.*at most 53/],
    [{ FAULTLINE_ALLOWED_NAMESPACES: 'faultline,,shop' }, /FAULTLINE_ALLOWED_NAMESPACES="faultline,,shop": expected a comma-separated list/],
    [{ FAULTLINE_RECONCILE_INTERVAL: 'fast' }, /FAULTLINE_RECONCILE_INTERVAL="fast": expected a duration from 1s to 10m/],
    [{ FAULTLINE_RECONCILE_INTERVAL: '100ms' }, /FAULTLINE_RECONCILE_INTERVAL="100ms"/],
    [{ FAULTLINE_RECONCILE_INTERVAL: '2h' }, /FAULTLINE_RECONCILE_INTERVAL="2h"/],
    [{ FAULTLINE_K6_IMAGE: 'grafana/k6 latest' }, /FAULTLINE_K6_IMAGE="grafana\/k6 latest": expected a container image/],
    [{ GRAFANA_URL: 'grafana:3000' }, /GRAFANA_URL="grafana:3000": expected an http\(s\) URL/],
    [{ GRAFANA_TOKEN: 't' }, /GRAFANA_URL=null: Grafana credentials were given without GRAFANA_URL/],
    [{ GRAFANA_URL: 'http://g', GRAFANA_USER: 'admin' }, /GRAFANA_PASSWORD=null: GRAFANA_USER and GRAFANA_PASSWORD go together/],
    [{ GRAFANA_URL: 'http://g', GRAFANA_TOKEN: 't', GRAFANA_USER: 'a', GRAFANA_PASSWORD: 'p' }, /GRAFANA_USER="a": give GRAFANA_TOKEN or/],
    [{ PORT: '0' }, /PORT="0"/],
  ])('refuses %j', (bad, message) => {
    const environment = Object.fromEntries(Object.entries({ ...base, ...bad }).filter(([, v]) => v !== undefined));
    expect(() => controllerConfig(environment)).toThrow(ConfigError);
    expect(() => controllerConfig(environment)).toThrow(message);
  });

  it('takes the namespace from the flag, then the environment, then the chart default', () => {
    expect(kubernetesScope({}, {})).toEqual({ namespace: 'faultline', allowedNamespaces: ['faultline'] });
    expect(kubernetesScope({ namespace: 'shop' }, { FAULTLINE_NAMESPACE: 'other', FAULTLINE_ALLOWED_NAMESPACES: 'shop,other' })).toEqual({ namespace: 'shop', allowedNamespaces: ['shop', 'other'] });
    expect(kubernetesScope({}, { FAULTLINE_NAMESPACE: 'other' })).toEqual({ namespace: 'other', allowedNamespaces: ['other'] });
    expect(() => kubernetesScope({ namespace: 'Shop!' }, {})).toThrow(UsageError);
    expect(() => kubernetesScope({}, { FAULTLINE_ALLOWED_NAMESPACES: 'a,B' })).toThrow(/FAULTLINE_ALLOWED_NAMESPACES="a,B"/);
  });
});

describe('the controller', () => {
  const live = (over: Partial<LiveFault>): LiveFault => ({ ...identity(), namespace: 'faultline', objects: [], finished: false, problems: [], ...over });
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

  it('exports the faults it sees as active, with their expiry, and drops the ones gone', async () => {
    const registry = new Registry();
    const metrics = controllerMetrics(registry);
    exportFaults(metrics, [live({}), live({ id: 'flt-2', kind: 'flood', target: 'flood.js', finished: true })]);
    let text = await registry.metrics();
    expect(text).toContain('faultline_fault_active{drill="catalog-outage",kind="network-partition",target="gateway-catalog"} 1');
    expect(text).toContain(`faultline_fault_expiry_timestamp_seconds{drill="catalog-outage",kind="network-partition",target="gateway-catalog"} ${(t0 + 10_000) / 1000}`);
    expect(text).not.toContain('kind="flood"');
    exportFaults(metrics, []);
    text = await registry.metrics();
    expect(text).not.toContain('faultline_fault_active{');
  });

  it('removes expired faults every pass, counts errors, and keeps the last faults seen in a namespace that failed', async () => {
    const registry = new Registry();
    const metrics = controllerMetrics(registry);
    let failing = false;
    const platform: Sweepable = {
      namespace: 'faultline',
      cleanup: async ({ now }) => {
        if (failing) throw new Error('HTTP 503');
        expect(now).toBe(t0);
        return { removed: [live({ id: 'flt-old', kind: 'pod-kill' })], kept: [live({})] };
      },
    };
    const loop = reconciler({ platforms: [platform], metrics, logger: silent, intervalMs: 10_000, now: () => t0 });
    expect(loop.ready()).toBe(false);
    await loop.reconcileOnce();
    expect(loop.ready()).toBe(true);
    failing = true;
    await loop.reconcileOnce();
    const text = await registry.metrics();
    expect(text).toContain('faultline_controller_reconciles_total 2');
    expect(text).toContain('faultline_controller_reconcile_errors_total{namespace="faultline"} 1');
    expect(text).toContain('faultline_controller_faults_removed_total{kind="pod-kill"} 1');
    expect(text).toContain('faultline_fault_active{drill="catalog-outage",kind="network-partition",target="gateway-catalog"} 1');
  });
});

describe('the CLI refuses bad Kubernetes flags with exit 2', () => {
  const noCluster = { KUBECONFIG: '', HOME: '/nonexistent-home', KUBERNETES_SERVICE_HOST: '', FAULTLINE_NAMESPACE: '', FAULTLINE_ALLOWED_NAMESPACES: '' };
  it.each([
    [['cleanup', '--platform', 'moon'], /argument 'moon' is invalid. Allowed choices are local, kubernetes/],
    [['cleanup', '--namespace', 'faultline'], /--namespace and --kubeconfig go with --platform kubernetes/],
    [['cleanup', '--platform', 'kubernetes', '--namespace', 'Bad_NS'], /--namespace "Bad_NS": expected a DNS label/],
    [['cleanup', '--platform', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig'], /no kubeconfig at \/nonexistent\/kubeconfig/],
    [['cleanup', '--platform', 'kubernetes'], /no Kubernetes cluster configured: pass --kubeconfig, or set KUBECONFIG/],
    [['controller', '--kubeconfig', '/nonexistent/kubeconfig'], /FAULTLINE_NAMESPACE=null: required/],
  ])('faultline %j', (args, message) => {
    const r = cli(args, noCluster);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it.each([
    [{ FAULTLINE_RECONCILE_INTERVAL: 'fast' }, [], /FAULTLINE_RECONCILE_INTERVAL="fast"/],
    [{}, [], /not running in a Kubernetes pod \(KUBERNETES_SERVICE_HOST is unset\): pass --kubeconfig/],
    [{}, ['--kubeconfig', '/nonexistent/kubeconfig'], /no kubeconfig at \/nonexistent\/kubeconfig/],
  ])('faultline controller with %j %j', (environment, args, message) => {
    const r = cli(['controller', ...args], { ...noCluster, FAULTLINE_NAMESPACE: 'faultline', FAULTLINE_RELEASE: 'faultline', ...environment });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
