// The Kubernetes path against a real API server (etcd, kube-apiserver with RBAC, controller-manager, scheduler, KWOK):
// `helm install` of the chart, the chaos controller's Role checked by SubjectAccessReview, every showcase drill's faults
// run as that ServiceAccount with their API effects checked, the guardrails, and faults outliving a killed drill
// removed at their expiry by `faultline cleanup` and by the controller's reconcile loop.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, AuthorizationV1Api, NetworkingV1Api, type V1ResourceAttributes } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../tooling/cluster/credentials.ts';
import { showcaseDrills } from '../../chaos/src/commands/demo.ts';
import { chaosRoleRules } from '../../chaos/src/platforms/kubernetes/rbac.ts';
import { freePort } from '../../chaos/src/core/host.ts';
import { chartToolPaths, helmEnv, projectRoot } from '../../tooling/toolchain.ts';
import { clients, useControlPlane, waitFor } from './support.ts';

const namespace = 'faultline';
const release = 'faultline';
const serviceAccount = `${release}-chaos-controller`;
const cliPath = join(projectRoot, 'chaos/bin/faultline.js');
const work = mkdtempSync(join(tmpdir(), 'faultline-k8s-'));
const plane = useControlPlane({ nodes: 3 });
let saKubeconfig = '';

/** The CLI as the controller's ServiceAccount, with the chaos scope pinned to the release namespace. */
function faultline(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, FAULTLINE_NAMESPACE: namespace, FAULTLINE_ALLOWED_NAMESPACES: namespace, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function helm(args: string[]) {
  const r = spawnSync(chartToolPaths.helm, [...args, '--kubeconfig', plane().kubeconfig], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, ...helmEnv() } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const drillFile = (name: string) => join(projectRoot, 'chaos/drills', `${name}.yaml`);

async function managedObjects() {
  const { core, kc } = clients(plane().kubeconfig);
  const labelSelector = 'app.kubernetes.io/managed-by=faultline-chaos';
  const networking = kc.makeApiClient(NetworkingV1Api);
  const [policies, configMaps] = await Promise.all([networking.listNamespacedNetworkPolicy({ namespace, labelSelector }), core.listNamespacedConfigMap({ namespace, labelSelector })]);
  return [...policies.items, ...configMaps.items].filter((o) => !o.metadata?.deletionTimestamp).map((o) => o.metadata!.name!);
}

describe('the chart on a real API server', () => {
  beforeAll(() => {
    // Without a storage provisioner a PersistentVolumeClaim never binds; the data stores use emptyDir here.
    const r = helm(['install', release, join(projectRoot, 'charts/faultline'), '--namespace', namespace, '--create-namespace', '--set', 'redis.persistence.enabled=false', '--set', 'kafka.persistence.enabled=false', '--wait', '--timeout', '5m']);
    if (r.code !== 0) throw new Error(`helm install failed:\n${r.out}`);
  }, 600_000);

  it('installs, and every Deployment and StatefulSet becomes ready with pods that KWOK runs', async () => {
    const apps = clients(plane().kubeconfig).kc.makeApiClient(AppsV1Api);
    const [deployments, statefulSets] = await Promise.all([apps.listNamespacedDeployment({ namespace }), apps.listNamespacedStatefulSet({ namespace })]);
    const names = deployments.items.map((d) => d.metadata!.name!).sort();
    expect(names).toEqual(['chaos-controller', 'catalog', 'gateway', 'grafana', 'jaeger', 'kitchen', 'orders', 'otel-collector', 'prometheus'].map((n) => `${release}-${n}`).sort());
    for (const d of deployments.items) expect(d.status?.readyReplicas, d.metadata!.name).toBe(d.spec!.replicas);
    expect(statefulSets.items.map((s) => [s.metadata!.name, s.status?.readyReplicas])).toEqual([
      [`${release}-kafka`, 1],
      [`${release}-redis`, 1],
    ]);
    const pods = await clients(plane().kubeconfig).core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/part-of=faultline` });
    expect(new Set(pods.items.map((p) => p.spec?.nodeName)).size).toBeGreaterThan(1); // spread over the fake nodes
  });

  it("gives the controller's ServiceAccount exactly the driver's rules in its namespace, and nothing elsewhere", async () => {
    const authz = clients(plane().kubeconfig).kc.makeApiClient(AuthorizationV1Api);
    const can = async (attributes: V1ResourceAttributes) =>
      (await authz.createSubjectAccessReview({ body: { spec: { user: `system:serviceaccount:${namespace}:${serviceAccount}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`], resourceAttributes: attributes } } })).status?.allowed ?? false;
    const granted = chaosRoleRules.flatMap((r) => r.resources.flatMap((resource) => r.verbs.map((verb) => ({ group: r.apiGroups[0]!, resource, verb }))));
    for (const g of granted) {
      expect(await can({ ...g, namespace }), `${g.verb} ${g.resource} in ${namespace}`).toBe(true);
      expect(await can({ ...g, namespace: 'default' }), `${g.verb} ${g.resource} in default`).toBe(false);
      expect(await can({ ...g }), `${g.verb} ${g.resource} cluster-wide`).toBe(false);
    }
    const notGranted = [
      { group: '', resource: 'secrets', verb: 'get' },
      { group: '', resource: 'pods', verb: 'create' },
      { group: '', resource: 'pods', verb: 'get' },
      { group: 'apps', resource: 'deployments', verb: 'delete' },
      { group: 'networking.k8s.io', resource: 'networkpolicies', verb: 'patch' },
      { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'create' },
      { group: '', resource: 'nodes', verb: 'list' },
    ];
    for (const g of notGranted) expect(await can({ ...g, namespace }), `${g.verb} ${g.resource}`).toBe(false);
  });

  describe('acting as the ServiceAccount', () => {
    beforeAll(async () => {
      const { core } = clients(plane().kubeconfig);
      const token = await core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace, body: { spec: { expirationSeconds: 3600 } } });
      saKubeconfig = writeKubeconfig(join(work, 'chaos-controller.kubeconfig'), plane().server, plane().caFile, serviceAccount, token.status!.token!);
    });

    it.each([...showcaseDrills])('%s: the faults take effect through the API and are gone after rollback', (name) => {
      const r = faultline(['drill', 'run', '--platform', 'kubernetes', '--api-effects', '--kubeconfig', saKubeconfig, '--report-dir', join(work, 'reports'), drillFile(name)]);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      const journal = JSON.parse(readFileSync(join(work, 'reports', name, 'journal.json'), 'utf8'));
      expect(journal.verdict).toBe('pass');
      expect(journal.faults.length).toBeGreaterThan(0);
      for (const f of journal.faults) {
        expect(f.problems).toEqual([]);
        expect(f.evidence.leftAfterRemoval).toEqual([]);
      }
      const kinds = journal.faults.map((f: { kind: string }) => f.kind);
      if (kinds.includes('pod-kill')) {
        const kill = journal.faults.find((f: { kind: string }) => f.kind === 'pod-kill');
        expect(kill.evidence.killed.length).toBe(1);
        expect(kill.evidence.replacedBy.length).toBeGreaterThan(0);
        expect(kill.evidence.replacedBy).not.toContain(kill.evidence.killed[0].name);
      }
      if (kinds.includes('network-partition')) {
        for (const f of journal.faults) expect(f.evidence.policies.length).toBeGreaterThan(0);
      }
      if (kinds.includes('flood')) expect(journal.faults[0].evidence.job).toHaveLength(1);
    }, 240_000);

    it('refuses to take every replica without mode: all, and a namespace outside the allowlist, before any fault', async () => {
      const greedy = join(work, 'greedy.yaml');
      const text = readFileSync(drillFile('kitchen-worker-kill'), 'utf8').replace('mode: one', 'mode: fixed-percent, value: 100');
      writeFileSync(greedy, text);
      const r = faultline(['drill', 'run', '--platform', 'kubernetes', '--api-effects', '--kubeconfig', saKubeconfig, greedy]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('would take every replica of kitchen');
      const elsewhere = faultline(['drill', 'run', '--platform', 'kubernetes', '--api-effects', '--kubeconfig', saKubeconfig, '--namespace', 'kube-system', drillFile('kitchen-worker-kill')]);
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toContain('namespace kube-system is not allowed');
      expect(await managedObjects()).toEqual([]);
    });

    /** Starts kitchen-kafka-partition (a 15 s partition) and SIGKILLs the drill as soon as its policies exist. */
    async function killDrillMidPartition() {
      const child = spawn(process.execPath, [cliPath, 'drill', 'run', '--platform', 'kubernetes', '--api-effects', '--kubeconfig', saKubeconfig, '--report-dir', join(work, 'killed'), drillFile('kitchen-kafka-partition')], {
        env: { ...process.env, FAULTLINE_NAMESPACE: namespace, FAULTLINE_ALLOWED_NAMESPACES: namespace },
        stdio: 'ignore',
      });
      const left = await waitFor('the partition policies', async () => {
        const names = await managedObjects();
        return names.length >= 2 && names;
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      return left;
    }

    it('a killed drill leaves its partition, which `faultline cleanup` keeps until its expiry and then removes', async () => {
      const left = await killDrillMidPartition();
      const early = faultline(['cleanup', '--platform', 'kubernetes', '--kubeconfig', saKubeconfig]);
      expect(early.code).toBe(0);
      expect(early.stdout).toContain('still within their deadline');
      expect(await managedObjects()).toEqual(left);
      await waitFor(
        'cleanup after the expiry',
        async () => {
          const r = faultline(['cleanup', '--platform', 'kubernetes', '--kubeconfig', saKubeconfig]);
          return r.code === 0 && r.stdout.includes('removed from namespace faultline') && r.stdout;
        },
        40_000,
      );
      expect(await managedObjects()).toEqual([]);
    }, 90_000);

    it("a killed drill's partition is removed at its expiry by the controller's reconcile loop", async () => {
      const port = await freePort();
      const controller = spawn(process.execPath, [cliPath, 'controller', '--kubeconfig', saKubeconfig], {
        env: { ...process.env, FAULTLINE_NAMESPACE: namespace, FAULTLINE_RELEASE: release, FAULTLINE_RECONCILE_INTERVAL: '1s', PORT: String(port), LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      try {
        await waitFor('the controller ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
        await killDrillMidPartition();
        await waitFor('faultline_fault_active exported', async () => (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes('faultline_fault_active{drill="kitchen-kafka-partition"'));
        await waitFor('the controller removing the expired partition', async () => (await managedObjects()).length === 0, 40_000);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/faultline_controller_faults_removed_total\{kind="network-partition"\} [1-9]/);
        expect(metrics).not.toContain('faultline_fault_active{');
      } finally {
        controller.kill('SIGTERM');
        await new Promise((r) => controller.once('exit', r));
      }
    }, 90_000);
  });
});
