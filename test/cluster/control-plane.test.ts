// The harness itself: a real etcd, kube-apiserver, controller-manager and scheduler, with KWOK's fake nodes, behave as a
// cluster does: the version helm and kubectl discover, RBAC, Ready nodes, Deployments that get and replace pods, and a
// stop() that leaves nothing running.
import { AuthorizationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, VersionApi, type V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { fakeNodeAnnotation, type ControlPlane } from '../../tooling/cluster/harness.ts';
import { isAlive } from '../../chaos/src/core/host.ts';
import { clients, useControlPlane, waitFor } from './support.ts';

const plane = useControlPlane({ nodes: 2 });
const namespace = 'default';

/** A client that authenticates with a bearer token alone, and checks the server against the harness's CA. */
function asToken(cp: ControlPlane, user: string, token: string) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'faultline', server: cp.server, caFile: cp.caFile }],
    users: [{ name: user, token }],
    contexts: [{ name: 'faultline', cluster: 'faultline', user }],
    currentContext: 'faultline',
  });
  return kc.makeApiClient(CoreV1Api);
}

const deployment: V1Deployment = {
  metadata: { name: 'web', namespace },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    // Never pulled: KWOK plays the kubelet, so the image only has to be valid.
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] } },
  },
};

describe('a control plane on loopback', () => {
  it('serves Kubernetes v1.36.3, as helm and kubectl discover it', async () => {
    const { kc } = clients(plane().kubeconfig);
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version).toMatchObject({ gitVersion: 'v1.36.3', major: '1', minor: '36' });
  });

  it('authorizes with RBAC: a service account without a role may not list pods, and may once a Role is bound', async () => {
    const { kc, core } = clients(plane().kubeconfig);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'nobody' } } });
    const review = await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user: 'system:serviceaccount:default:nobody',
          groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
          resourceAttributes: { namespace, verb: 'list', resource: 'pods' },
        },
      },
    });
    expect(review.status?.allowed).toBe(false);

    // Acting as it, with a token the API server signs with the harness's service-account key.
    const request = await core.createNamespacedServiceAccountToken({ name: 'nobody', namespace, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const nobody = asToken(plane(), 'nobody', request.status!.token!);
    await expect(nobody.listNamespacedPod({ namespace })).rejects.toMatchObject({ code: 403 });

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'nobody-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace }],
      },
    });
    // The RBAC authorizer reads bindings from an informer: allowed within moments, not at once.
    await waitFor('nobody may list pods', async () => Array.isArray((await nobody.listNamespacedPod({ namespace })).items));
  });

  it('has KWOK fake nodes, Ready', async () => {
    const { core } = clients(plane().kubeconfig);
    const nodes = (await core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(plane().nodes);
    for (const node of nodes) {
      expect(node.metadata?.annotations?.[fakeNodeAnnotation.key]).toBe(fakeNodeAnnotation.value);
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
  });

  it('makes a Deployment of 2 replicas available, its pods Running on the fake nodes', async () => {
    const { core, apps } = clients(plane().kubeconfig);
    await apps.createNamespacedDeployment({ namespace, body: deployment });
    await waitFor('2 available replicas', async () => (await apps.readNamespacedDeployment({ name: 'web', namespace })).status?.availableReplicas === 2);
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.status?.phase).toBe('Running');
      expect(plane().nodes).toContain(pod.spec?.nodeName);
      expect(pod.status?.podIP).toMatch(/^10\.244\./);
    }
  });

  it('replaces a deleted pod (the controller-manager at work) and KWOK finishes the deletion', async () => {
    const { core, apps } = clients(plane().kubeconfig);
    const before = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
    const victim = before[0]!.metadata!.name!;
    await core.deleteNamespacedPod({ name: victim, namespace });
    const after = await waitFor('a replacement pod, Running, and the deleted one gone', async () => {
      const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items;
      const names = pods.map((p) => p.metadata!.name!);
      return pods.length === 2 && !names.includes(victim) && pods.every((p) => p.status?.phase === 'Running') && names;
    });
    expect(after.filter((n) => !before.some((p) => p.metadata?.name === n))).toHaveLength(1);
    await waitFor('2 available replicas again', async () => (await apps.readNamespacedDeployment({ name: 'web', namespace })).status?.availableReplicas === 2);
  });

  it('stops every process it started, by pid', async () => {
    const cp = plane();
    expect(cp.processes.map((p) => p.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
    expect(cp.processes.every((p) => isAlive(p.pid))).toBe(true);
    await cp.stop();
    expect(cp.processes.filter((p) => isAlive(p.pid))).toEqual([]);
    await expect(fetch(`${cp.server.replace('https', 'http')}/readyz`)).rejects.toThrow();
  });
});
