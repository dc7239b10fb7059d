// What a rendered chart requests: Kubernetes quantities, the effective pod request (init containers, sidecars,
// overhead), replicas per workload kind, and the table charts:check prints.
import { describe, expect, it } from 'vitest';
import { splitManifests } from '../../tooling/charts/manifests.ts';
import { formatCpu, formatMemory, parseQuantity, podRequests, requestsTable, sumRequests, workloadRequests } from '../../tooling/charts/resources.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;

describe('parseQuantity', () => {
  it.each([
    ['128Mi', 128 * Mi],
    ['1Gi', Gi],
    ['1.5Gi', 1.5 * Gi],
    ['500M', 500e6],
    ['1k', 1000],
    ['64Ki', 65536],
    ['134217728', 134217728],
    ['1e3', 1000],
    ['2E6', 2e6],
    ['250m', 0.25],
    ['0.5', 0.5],
    ['.5', 0.5],
    ['1', 1],
    ['100u', 1e-4],
    [0.5, 0.5],
    [2, 2],
  ])('%j is %d', (q, expected) => {
    expect(parseQuantity(q)).toBeCloseTo(expected, 9);
  });
  it.each([['128MB'], ['1 Gi'], ['Mi'], ['-1Gi'], [''], ['1.2.3'], ['1e'], [null], [true], [-1]])('%j is not a valid request', (q) => {
    expect(() => parseQuantity(q)).toThrow(/quantity/);
  });
});

const c = (name: string, cpu?: string, memory?: string, extra: object = {}) => ({ name, resources: { requests: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } }, ...extra });

describe('podRequests', () => {
  it('sums the app containers', () => {
    expect(podRequests({ containers: [c('a', '250m', '128Mi'), c('b', '0.5', '64Mi')] })).toEqual({ cpu: 0.75, memory: 192 * Mi, unset: [] });
  });
  it('takes the largest init container when it is larger than the app containers (Kubernetes effective request)', () => {
    const spec = { initContainers: [c('migrate', '1', '512Mi'), c('wait', '100m', '16Mi')], containers: [c('a', '250m', '128Mi'), c('b', '250m', '128Mi')] };
    expect(podRequests(spec)).toEqual({ cpu: 1, memory: 512 * Mi, unset: [] });
  });
  it('takes the app containers when they are larger than any init container', () => {
    const spec = { initContainers: [c('wait', '100m', '300Mi')], containers: [c('a', '250m', '200Mi'), c('b', '250m', '200Mi')] };
    expect(podRequests(spec)).toEqual({ cpu: 0.5, memory: 400 * Mi, unset: [] });
  });
  it('runs sidecars (restartPolicy Always) beside the app containers and beside later init containers', () => {
    const spec = {
      initContainers: [c('proxy', '100m', '64Mi', { restartPolicy: 'Always' }), c('migrate', '1', '256Mi')],
      containers: [c('app', '200m', '128Mi')],
    };
    // init phase: migrate + proxy = 1.1 cores, 320Mi; run phase: app + proxy = 0.3 cores, 192Mi.
    const r = podRequests(spec);
    expect(r.cpu).toBeCloseTo(1.1);
    expect(r.memory).toBe(320 * Mi);
  });
  it('uses a limit as the request when only the limit is set, and names containers with neither', () => {
    const spec = { containers: [{ name: 'lim', resources: { limits: { cpu: '500m', memory: '1Gi' } } }, { name: 'bare' }] };
    expect(podRequests(spec)).toEqual({ cpu: 0.5, memory: Gi, unset: ['bare (cpu, memory)'] });
  });
  it('adds the pod overhead, and pod-level requests replace the container sum', () => {
    expect(podRequests({ containers: [c('a', '100m', '100Mi')], overhead: { cpu: '10m', memory: '16Mi' } })).toEqual({ cpu: 0.11, memory: 116 * Mi, unset: [] });
    expect(podRequests({ containers: [c('a', '100m', '100Mi')], resources: { requests: { memory: '1Gi' } } })).toMatchObject({ cpu: 0.1, memory: Gi });
  });
});

const rendered = `
# Source: shop/templates/gateway.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway}
spec:
  replicas: 3
  template:
    spec:
      containers: [{name: gateway, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kafka}
spec:
  template:
    spec:
      initContainers: [{name: format, resources: {requests: {cpu: "2", memory: 256Mi}}}]
      containers: [{name: kafka, resources: {requests: {cpu: 500m, memory: 1Gi}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: agent, resources: {requests: {cpu: 50m, memory: 32Mi}}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: flood}
spec:
  parallelism: 2
  template:
    spec:
      containers: [{name: k6, resources: {requests: {cpu: "1", memory: 512Mi}}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: faultline-test
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: curl, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: orders}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}
  minReplicas: 2
  maxReplicas: 6
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  template:
    spec:
      containers: [{name: orders, resources: {requests: {cpu: 200m, memory: 256Mi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: gateway}
`;

describe('workloadRequests', () => {
  const rows = workloadRequests(splitManifests(rendered));
  it('multiplies by replicas (default 1, an autoscaler floor above it), and sorts pods into steady, per node, jobs and hooks', () => {
    expect(rows.map((r) => [r.kind, r.name, r.category, r.pods])).toEqual([
      ['Deployment', 'gateway', 'steady', 3],
      ['StatefulSet', 'kafka', 'steady', 1],
      ['DaemonSet', 'agent', 'per-node', 1],
      ['Job', 'flood', 'job', 2],
      ['Pod', 'faultline-test', 'hook', 1],
      ['Deployment', 'orders', 'steady', 2],
    ]);
    expect(rows.find((r) => r.name === 'orders')!.notes).toEqual(['autoscaled 2–6']);
  });
  it('totals the steady state without the jobs, hooks and DaemonSets', () => {
    const steady = sumRequests(rows, 'steady');
    // gateway 3 × (100m, 128Mi) + kafka max(init 2 cores/256Mi, app 500m/1Gi) + orders 2 × (200m, 256Mi)
    expect(steady.cpu).toBeCloseTo(0.3 + 2 + 0.4);
    expect(steady.memory).toBe(384 * Mi + Gi + 512 * Mi);
    expect(sumRequests(rows, 'job')).toEqual({ cpu: 2, memory: Gi });
    expect(sumRequests(rows, 'hook')).toEqual({ cpu: 0.01, memory: 16 * Mi });
  });
  it('prints a table with a row per workload and the totals in MiB/GiB', () => {
    const table = requestsTable(rows);
    expect(table).toMatch(/Deployment\/gateway\s+steady\s+3\s+100m\s+128 MiB\s+300m\s+384 MiB/);
    expect(table).toMatch(/DaemonSet\/agent\s+per-node\s+1\/node/);
    expect(table).toMatch(/TOTAL steady state \(excludes jobs and hooks\)\s+2\.7 cores\s+1\.88 GiB/);
    expect(table).toMatch(/TOTAL hooks \(not in steady state\)\s+10m\s+16 MiB/);
  });
});

describe('formatting', () => {
  it('shows memory in MiB below a GiB and in GiB above, CPU in millicores below a core', () => {
    expect([formatMemory(500e6), formatMemory(1.5 * Gi), formatCpu(0.25), formatCpu(1.5)]).toEqual(['477 MiB', '1.50 GiB', '250m', '1.5 cores']);
  });
});

describe('splitManifests', () => {
  it("splits helm's output, keeps each object's template, and drops empty documents", () => {
    const out = splitManifests('---\n# Source: shop/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: faultline}\n---\n# Source: shop/templates/empty.yaml\n---\n# Source: shop/templates/b.yaml\n\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n');
    expect(out.map((m) => [m.kind, m.name, m.namespace, m.source])).toEqual([
      ['ConfigMap', 'a', 'faultline', 'shop/templates/a.yaml'],
      ['Secret', 'b', undefined, 'shop/templates/b.yaml'],
    ]);
  });
  it('refuses invalid YAML, duplicate keys and non-objects', () => {
    expect(() => splitManifests('a: [1\n')).toThrow(/not valid YAML/);
    expect(() => splitManifests('a: 1\na: 2\n')).toThrow(/unique/);
    expect(() => splitManifests('- 1\n')).toThrow(/is not a Kubernetes object/);
  });
});
