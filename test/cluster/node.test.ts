// The chart on a real node: pods that really run from the images built here, probes answered, Services that route,
// an order through Kafka into the ledger, Prometheus scraping every pod, and each fault kind's real effect: a pod kill
// replaced, a partition enforced (connections fail, the breaker opens, traffic flows again), a flood from a k6 Job,
// and the in-cluster controller removing an expired fault. Also the memory the release really uses, and its Roles.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { AuthorizationV1Api, type V1Pod, type V1ResourceAttributes } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { readMetric } from '../../chaos/src/core/prometheus.ts';
import { drillsDir } from '../../chaos/src/core/paths.ts';
import { edgeNames } from '../../chaos/src/core/topology.ts';
import { planFault, type Fault, type PlannedFault } from '../../chaos/src/drill/faults/index.ts';
import type { Endpoints, FaultImplementation } from '../../chaos/src/drill/platform.ts';
import { fault as faultSchema } from '../../chaos/src/drill/schema.ts';
import { loadKubeConfig } from '../../chaos/src/platforms/kubernetes/client.ts';
import { isReady } from '../../chaos/src/platforms/kubernetes/inventory.ts';
import { kubernetesPlatform } from '../../chaos/src/platforms/kubernetes/platform.ts';
import { chaosRoleRules, drillRunnerRules } from '../../chaos/src/platforms/kubernetes/rbac.ts';
import { join } from 'node:path';
import { traceServices } from '../support/shop.ts';
import { cliPath, clients, cluster, faultline, helm, kubectl, waitFor } from './support.ts';

const { namespace, release } = cluster();
const { core, kc } = clients();
const platform = kubernetesPlatform({ kc: loadKubeConfig({ kubeconfig: cluster().kubeconfig }), namespace, release, allowedNamespaces: [namespace], traffic: true, k6Image: 'localhost:5000/faultline/k6:1.8.1' });
let endpoints: Endpoints;
const pods = async (component?: string) => (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${release}${component ? `,app.kubernetes.io/name=${component}` : ''}` })).items;
const metricsOf = async (pod: string, port = 8080) => (await fetch(`${apiBase()}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy/metrics`)).text();
const gatewayBreaker = async (dependency: string) => Math.max(...(await Promise.all((await pods('gateway')).filter(isReady).map(async (p) => readMetric(await metricsOf(p.metadata!.name!), 'circuit_breaker_state', { dependency }) ?? 0))));
const plan = (fault: unknown) => planFault(faultSchema.parse(fault) as Fault, { replicas: {}, edges: edgeNames });
/** A fault kind's Kubernetes implementation, called as the runner would. */
const inject = (planned: PlannedFault) => (platform.faults[planned.kind] as FaultImplementation<PlannedFault>).inject(planned, { drill: 'node-test', run: 'node-test' });
/** The API server's root through the drill's loopback proxy (what the platform's endpoints are below). */
const apiBase = () => endpoints.prometheus.replace(/\/api\/v1\/namespaces\/.*$/, '');

beforeAll(async () => {
  endpoints = (await platform.connect())!;
});

describe('the release on a real node', () => {
  it('runs every pod, Ready, from the images built here, with its probes answered', async () => {
    // After an upgrade (the drills' resilience-off run), the old ReplicaSets' pods may still be terminating.
    const all = await waitFor('no pod of the release terminating', async () => {
      const list = (await pods()).filter((p) => !p.metadata?.labels?.['job-name']);
      return list.every((p) => !p.metadata?.deletionTimestamp) && list;
    });
    const shop = all.filter((p) => ['gateway', 'catalog', 'orders', 'kitchen'].includes(p.metadata!.labels!['app.kubernetes.io/name']!));
    expect(shop).toHaveLength(8);
    for (const pod of all) {
      expect(isReady(pod), `${pod.metadata!.name} Ready`).toBe(true);
      for (const c of pod.spec!.containers) expect(c.image, pod.metadata!.name).toMatch(/^localhost:5000\/faultline\//);
      for (const s of pod.status!.containerStatuses ?? []) expect(s.imageID, `${pod.metadata!.name} pulled through the node's registry`).toMatch(/^localhost:5000\/faultline\/.*@sha256:/);
    }
    // The kubelet really calls the services' probes: each shop container has all three, and is Ready only through them.
    for (const pod of shop) {
      const c = pod.spec!.containers[0]!;
      expect([c.readinessProbe?.httpGet?.path, c.livenessProbe?.httpGet?.path, c.startupProbe?.httpGet?.path]).toEqual(['/readyz', '/healthz', '/healthz']);
    }
    console.info(`node Ready ${cluster().nodeReadyS.toFixed(1)} s after kubelet started; an empty cluster to every pod of the release Ready: ${cluster().releaseReadyS.toFixed(0)} s`);
  });

  it('passes helm test', () => {
    const r = helm(['test', release, '--namespace', namespace]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/TEST SUITE: +faultline-test-connections[\s\S]*Phase: +Succeeded/);
  });

  it('completes an order placed through the gateway Service, through Kafka, into the ledger in Redis, as one trace in Jaeger', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await fetch(`${endpoints.gateway}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': endpoints.apiKeys.local, 'idempotency-key': `node-test-${Date.now()}`, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      body: JSON.stringify({ items: [{ sku: 'margherita', qty: 2 }] }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const completed = await waitFor('kitchen to complete the order', async () => {
      const order = (await (await fetch(`${endpoints.gateway}/api/orders/${id}`, { headers: { 'x-api-key': endpoints.apiKeys.local } })).json()) as { status: string };
      return order.status === 'completed' && order;
    });
    expect(completed).toMatchObject({ status: 'completed' });
    const ledger = await platform.ledger();
    try {
      expect([...(await ledger.completed([id]))]).toEqual([id]);
      expect(await ledger.acceptedSince(Date.now() - 60_000, ['local'])).toContain(id);
    } finally {
      await ledger.close();
    }
    const services = await traceServices(`${apiBase()}/api/v1/namespaces/${namespace}/services/${release}-jaeger:ui/proxy`, traceId, 60_000);
    expect(services).toEqual(['catalog', 'gateway', 'kitchen', 'orders']);
  });

  it("is scraped by the chart's Prometheus: every shop pod a target, every target up", async () => {
    const targets = await waitFor('every target up', async () => {
      const body = (await (await fetch(`${endpoints.prometheus}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Array<{ health: string; labels: Record<string, string>; discoveredLabels: Record<string, string> }> } };
      const active = body.data.activeTargets;
      return active.length > 0 && active.every((t) => t.health === 'up') && active;
    });
    const scraped = new Set(targets.map((t) => t.discoveredLabels.__meta_kubernetes_pod_name));
    for (const pod of await pods()) if (pod.metadata!.annotations?.['prometheus.io/scrape'] === 'true') expect(scraped, pod.metadata!.name).toContain(pod.metadata!.name);
    expect(new Set(targets.filter((t) => t.labels.job === 'faultline').map((t) => t.labels.service))).toEqual(new Set(['catalog', 'chaos-controller', 'gateway', 'kitchen', 'orders']));
  });
});

describe('faults with their real effect', () => {
  it('pod-kill: the pod is deleted, and a new container serves within the readiness budget', async () => {
    const catalog = await platform.inventory();
    const injected = await inject({ kind: 'pod-kill', service: 'catalog', mode: 'one', replicas: [catalog.replicas.catalog![0]!] });
    const killedAt = Date.now();
    expect(injected.effective).toBe(true);
    const replaced = (await waitFor('a replacement Ready', () => injected.recovered!(), 60_000, 100)) as { replacedBy: string[] };
    const readyAfterS = (Date.now() - killedAt) / 1000;
    await injected.remove();
    // The chart's startup probe gives a container 30 × 2 s; readiness then needs one answer.
    expect(readyAfterS).toBeLessThan(60);
    expect(replaced.replacedBy).toHaveLength(1);
    console.info(`pod-kill: a replacement catalog pod Ready ${readyAfterS.toFixed(1)} s after the kill`);
  });

  it('network-partition gateway → catalog: connections from gateway pods fail, the breaker opens, and traffic flows again after rollback', async () => {
    const gateway = (await pods('gateway')).filter(isReady)[0]!.metadata!.name!;
    // From inside a gateway pod, with its own Node: a fresh connection to the catalog Service.
    const probe = () => kubectl(['-n', namespace, 'exec', gateway, '--', 'node', '-e', `fetch('http://${release}-catalog:8080/menu',{signal:AbortSignal.timeout(1500)}).then(r=>console.log('status',r.status),e=>{console.log('failed',e.cause?.code??e.name);process.exit(3)})`]);
    expect(probe().stdout).toContain('status 200');
    const partition = plan({ kind: 'network-partition', selector: { service: 'gateway' }, target: { service: 'catalog' }, direction: 'to', duration: '40s' });
    const injected = await inject(partition);
    expect(injected.effective).toBe(true);
    const cut = await waitFor('the enforcer to refuse new connections', async () => probe().code === 3 || undefined, 20_000, 500);
    expect(cut).toBe(true);
    // Menus keep coming: the gateway's keep-alive connections end within their maximum age, new ones fail, the breaker opens.
    await waitFor('the gateway’s catalog breaker to open', async () => {
      await fetch(`${endpoints.gateway}/api/menu`).catch(() => undefined);
      return (await gatewayBreaker('catalog')) === 2 || undefined;
    }, 30_000, 200);
    await injected.remove();
    await waitFor('connections to succeed again', async () => probe().stdout.includes('status 200') || undefined, 20_000, 500);
    await waitFor('the breaker to close', async () => {
      await fetch(`${endpoints.gateway}/api/menu`).catch(() => undefined);
      return (await gatewayBreaker('catalog')) === 0 || undefined;
    }, 30_000, 500);
  });

  it('flood: a k6 Job in the cluster sends its load to the gateway Service, and its objects go at the end', async () => {
    const flood = plan({ kind: 'flood', script: 'flood.js', rate: 20, duration: '6s', maxVUs: 20 });
    const before = await Promise.all((await pods('gateway')).map(async (p) => readMetric(await metricsOf(p.metadata!.name!), 'http_server_requests_total', { route: '/api/orders' }) ?? 0));
    const injected = await inject(flood);
    expect(injected.effective, injected.summary).toBe(true);
    const summary = await injected.load!.done();
    expect(summary.iterations).toBeGreaterThan(80);
    const after = await Promise.all((await pods('gateway')).map(async (p) => readMetric(await metricsOf(p.metadata!.name!), 'http_server_requests_total', { route: '/api/orders' }) ?? 0));
    expect(after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(summary.iterations * 0.9);
    expect((await injected.load!.acks()).length).toBeGreaterThan(0);
    expect(await injected.remove()).toMatchObject({ leftAfterRemoval: [] });
  });

  it('the in-cluster controller, from its own image and ServiceAccount, removes a dead drill’s partition at its expiry', async () => {
    const controller = (await pods('chaos-controller'))[0]!;
    expect(controller.spec!.serviceAccountName).toBe(`${release}-chaos-controller`);
    const child = spawn(process.execPath, [cliPath, 'drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().runnerKubeconfig, '--faults-only', '--report-dir', join(cluster().caFile, '..', '..', 'killed'), join(drillsDir, 'kitchen-kafka-partition.yaml')], {
      env: { ...process.env, FAULTLINE_NAMESPACE: namespace, FAULTLINE_ALLOWED_NAMESPACES: namespace },
      stdio: 'ignore',
    });
    const policies = () => clients().networking.listNamespacedNetworkPolicy({ namespace, labelSelector: 'app.kubernetes.io/managed-by=faultline-chaos' }).then((l) => l.items.filter((p) => !p.metadata?.deletionTimestamp));
    await waitFor('the partition’s policies', async () => (await policies()).length >= 2 || undefined);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const name = controller.metadata!.name!;
    const controllerPort = controller.spec!.containers[0]!.ports![0]!.containerPort;
    await waitFor('the controller to export the fault', async () => (await metricsOf(name, controllerPort)).includes('faultline_fault_active{drill="kitchen-kafka-partition"') || undefined, 30_000, 1000);
    await waitFor('the controller to remove it at its expiry', async () => (await policies()).length === 0 || undefined, 60_000, 1000);
    expect(await metricsOf(name, controllerPort)).toMatch(/faultline_controller_faults_removed_total\{kind="network-partition"[^}]*\} [1-9]/);
    // The drill's kitchen restarts are over too: the shop is whole for what comes next.
    await waitFor('kitchen ready again', async () => (await platform.inventory()).replicas.kitchen?.length === 2 || undefined, 120_000, 1000);
  });
});

describe('what the release costs', () => {
  it('uses less memory than its limits, as the kubelet measures it (reported against its requests)', async () => {
    const summary = (await (await fetch(`${apiBase()}/api/v1/nodes/faultline-node/proxy/stats/summary`)).json()) as { pods: Array<{ podRef: { name: string; namespace: string }; memory?: { workingSetBytes?: number } }> };
    const mine = summary.pods.filter((p) => p.podRef.namespace === namespace);
    const specs = new Map((await pods()).map((p: V1Pod) => [p.metadata!.name!, p.spec!]));
    const mib = (n: number) => n / 2 ** 20;
    const quantity = (q?: string) => (q === undefined ? Infinity : q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : q.endsWith('Mi') ? Number(q.slice(0, -2)) : Number(q) / 2 ** 20);
    let used = 0;
    let requested = 0;
    for (const p of mine) {
      const spec = specs.get(p.podRef.name);
      if (!spec) continue;
      const ws = mib(p.memory?.workingSetBytes ?? 0);
      const limit = spec.containers.reduce((sum, c) => sum + quantity(c.resources?.limits?.memory), 0);
      requested += spec.containers.reduce((sum, c) => sum + quantity(c.resources?.requests?.memory), 0);
      used += ws;
      expect(ws, `${p.podRef.name} working set (MiB) under its limit`).toBeLessThan(limit);
    }
    console.info(`release memory: ${used.toFixed(0)} MiB in use (working set, kubelet) against ${requested.toFixed(0)} MiB requested, ${mine.length} pods`);
  });
});

describe('least privilege, by SubjectAccessReview on the real API server', () => {
  const can = async (user: string, attributes: V1ResourceAttributes) =>
    (await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({ body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`], resourceAttributes: attributes } } })).status?.allowed ?? false;
  const expand = (rules: ReturnType<typeof drillRunnerRules>) => rules.flatMap((r) => r.resources.flatMap((resource) => r.verbs.flatMap((verb) => (r.resourceNames ?? [undefined]).map((name) => ({ group: r.apiGroups[0]!, resource: resource.split('/')[0]!, subresource: resource.split('/')[1], verb, name })))));
  const notGranted = [
    { group: '', resource: 'secrets', verb: 'list' },
    { group: '', resource: 'pods', verb: 'create' },
    { group: '', resource: 'pods', subresource: 'exec', verb: 'create' },
    { group: 'apps', resource: 'deployments', verb: 'delete' },
    { group: 'networking.k8s.io', resource: 'networkpolicies', verb: 'patch' },
    { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'create' },
    { group: '', resource: 'nodes', verb: 'list' },
  ];

  it.each([
    ['the chaos controller', `${release}-chaos-controller`, [...chaosRoleRules]],
    ['the drill runner', 'drill-runner', drillRunnerRules(release)],
  ] as const)('%s may do exactly its Role, in its namespace only', async (_what, account, rules) => {
    const user = `system:serviceaccount:${namespace}:${account}`;
    for (const g of expand(rules as never)) {
      const attributes = { ...g, ...(g.subresource ? {} : { subresource: undefined }), ...(g.name ? {} : { name: undefined }) };
      expect(await can(user, { ...attributes, namespace }), `${g.verb} ${g.resource}${g.subresource ? `/${g.subresource}` : ''} ${g.name ?? ''}`).toBe(true);
      expect(await can(user, { ...attributes, namespace: 'default' }), `${g.verb} ${g.resource} in default`).toBe(false);
    }
    for (const g of notGranted) expect(await can(user, { ...g, namespace }), `${g.verb} ${g.resource}`).toBe(false);
    // By name only: another Secret, or every Secret, stays out of reach.
    expect(await can(user, { group: '', resource: 'secrets', verb: 'get', name: 'other', namespace })).toBe(false);
  });
});

describe('faults only, and what is refused before any fault', () => {
  it('runs a drill’s faults through the API server and lists what it skipped', () => {
    const r = faultline(['drill', 'run', '--platform', 'kubernetes', '--faults-only', '--kubeconfig', cluster().runnerKubeconfig, '--report-dir', join(cluster().caFile, '..', '..', 'faults-only'), join(drillsDir, 'kitchen-worker-kill.yaml')]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('skipped: load orders.js: a faults-only run on');
    expect(r.stdout).toMatch(/✔ pod-kill faultline-kitchen-\S+ took effect/);
  });

  it('refuses a greedy pod-kill and a namespace outside the allowlist with exit 2, before any fault', async () => {
    const file = join(cluster().caFile, '..', '..', 'greedy.yaml');
    writeFileSync(file, readFileSync(join(drillsDir, 'kitchen-worker-kill.yaml'), 'utf8').replace('mode: one', 'mode: fixed-percent, value: 100'));
    const before = (await pods('kitchen')).map((p) => p.metadata!.name).sort();
    const greedy = faultline(['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().runnerKubeconfig, file]);
    expect(greedy.code).toBe(2);
    expect(greedy.stderr).toContain('would take every replica of kitchen');
    expect((await pods('kitchen')).map((p) => p.metadata!.name).sort()).toEqual(before);
    const elsewhere = faultline(['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().runnerKubeconfig, '--namespace', 'kube-system', join(drillsDir, 'kitchen-worker-kill.yaml')]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain('namespace kube-system is not allowed');
  });

  it('refuses a release that is not installed with exit 2, naming what is missing', () => {
    const r = faultline(['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().runnerKubeconfig, '--release', 'absent', join(drillsDir, 'kitchen-worker-kill.yaml')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('is release absent installed there?');
    const admin = faultline(['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().kubeconfig, '--release', 'absent', join(drillsDir, 'kitchen-worker-kill.yaml')]);
    expect(admin.code, admin.stderr).toBe(2);
    expect(admin.stderr).toContain(`no Service absent-gateway in namespace ${namespace}: is release absent installed there`);
  });
});
