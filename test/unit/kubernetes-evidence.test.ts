// The evidence a Kubernetes fault's objects give (what the API server must show of a partition and of k6 in a Job): the
// checks must pass on what the driver builds and fail on what it must not.
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { edgeNames as localEdges } from '../../chaos/src/core/topology.ts';
import { planFault, type Planned } from '../../chaos/src/drill/faults/index.ts';
import { fault as faultSchema, type Fault } from '../../chaos/src/drill/schema.ts';
import { faultIdentity, faultObjects, type Buildable } from '../../chaos/src/platforms/kubernetes/faults/index.ts';
import { partitionProblems as problemsOf } from '../../chaos/src/platforms/kubernetes/faults/network-partition.ts';
import { k6ObjectProblems } from '../../chaos/src/platforms/kubernetes/k6-job.ts';

const partitionProblems = (policies: V1NetworkPolicy[], fault: Fault, release: string) => problemsOf(policies, planFault(fault, { replicas: {}, edges: localEdges }) as Planned<'network-partition'>, release);
const floodProblems = (bodies: Parameters<typeof k6ObjectProblems>[0], fault: Extract<Fault, { kind: 'flood' }>) => k6ObjectProblems(bodies, fault.script);

const ctx = { namespace: 'faultline', release: 'faultline', k6Image: 'grafana/k6:1.8.1', gatewayUrl: 'http://g', apiKeySecret: 'faultline-api-keys' };
const build = (fault: Fault) => {
  const planned = planFault(fault, { replicas: {}, edges: localEdges }) as Buildable;
  return faultObjects(planned, faultIdentity(planned, 'd', 'flt-1', Date.now()), ctx);
};
const policiesOf = (fault: Fault) => build(fault).flatMap((o) => (o.kind === 'NetworkPolicy' ? [o.body] : []));

describe('partitionProblems', () => {
  it.each(['to', 'from', 'both'] as const)('accepts what the driver builds for direction %s', (direction) => {
    const fault = faultSchema.parse({ kind: 'network-partition', selector: { service: 'orders' }, target: { service: 'kafka' }, direction, duration: '5s' }) as Extract<Fault, { kind: 'network-partition' }>;
    expect(partitionProblems(policiesOf(fault), fault, 'faultline')).toEqual([]);
  });

  it('names a missing side, a peer not excluded, another release and an extra policy', () => {
    const fault = faultSchema.parse({ kind: 'network-partition', selector: { service: 'gateway' }, target: { service: 'catalog' }, direction: 'both', duration: '5s' }) as Extract<Fault, { kind: 'network-partition' }>;
    const [gatewaySide, catalogSide] = policiesOf(fault) as [V1NetworkPolicy, V1NetworkPolicy];
    expect(partitionProblems([gatewaySide], fault, 'faultline')).toEqual(['no NetworkPolicy selects catalog', '1 NetworkPolicies for 2 side(s)']);
    const leaky = structuredClone(catalogSide);
    leaky.spec!.egress![0]!.to![0]!.podSelector!.matchExpressions![0]!.values = ['orders'];
    expect(partitionProblems([gatewaySide, leaky], fault, 'faultline')).toEqual([`${leaky.metadata!.name} does not exclude gateway`]);
    expect(partitionProblems([gatewaySide, catalogSide], fault, 'other')).toHaveLength(2);
    expect(partitionProblems([gatewaySide, catalogSide, gatewaySide], fault, 'faultline')).toEqual(['3 NetworkPolicies for 2 side(s)']);
  });
});

describe('floodProblems', () => {
  const fault = faultSchema.parse({ kind: 'flood', script: 'flood.js', rate: 50, duration: '5s', apiKey: 'load' }) as Extract<Fault, { kind: 'flood' }>;
  const bodies = () => {
    const objects = build(fault);
    return { jobs: objects.flatMap((o) => (o.kind === 'Job' ? [o.body] : [])), configMaps: objects.flatMap((o) => (o.kind === 'ConfigMap' ? [o.body] : [])) };
  };

  it('accepts what the driver builds', () => expect(floodProblems(bodies(), fault)).toEqual([]));

  it('names a missing Job, a missing script and a Job running another script', () => {
    expect(floodProblems({ ...bodies(), jobs: [] }, fault)).toEqual(['no k6 Job']);
    expect(floodProblems({ ...bodies(), configMaps: [] }, fault)).toEqual(['no ConfigMap holds flood.js']);
    const other = bodies();
    other.jobs[0]!.spec!.template.spec!.containers[0]!.args = ['run', '/scripts/orders.js'];
    expect(floodProblems(other, fault)[0]).toMatch(/does not run flood.js/);
  });
});
