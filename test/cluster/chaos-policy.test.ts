// The chaos controller held to chaos by the chart's ValidatingAdmissionPolicies, on the real API server: requests made
// as its ServiceAccount (impersonated) that its Role allows but chaos does not need are denied; what it does need, and
// the same requests from anyone else, go through. Every request is a server-side dry run: admission runs, nothing is kept.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp.ts';
import { cluster, kubectl } from './support.ts';

const { namespace, release } = cluster();
const controller = `system:serviceaccount:${namespace}:${release}-chaos-controller`;
const k6Image = 'localhost:5000/faultline/k6:1.8.1';
const dir = tempDir('chaos-policy-');

/** A Job as the driver makes one (k6-job.ts), with `change` applied to its pod spec. */
function job(name: string, change: (spec: Record<string, any>) => void = () => undefined) {
  const spec: Record<string, any> = {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    containers: [{ name: 'k6', image: k6Image, args: ['run', '/scripts/orders.js'], env: [{ name: 'FAULTLINE_API_KEY', valueFrom: { secretKeyRef: { name: `${release}-api-keys`, key: 'client.load' } } }], volumeMounts: [{ name: 'script', mountPath: '/scripts' }] }],
    volumes: [{ name: 'script', configMap: { name: 'some-script' } }, { name: 'tmp', emptyDir: {} }],
  };
  change(spec);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace }, spec: { template: { spec } } }));
  return file;
}

const asController = (args: string[]) => kubectl([...args, '--namespace', namespace, '--as', controller, '--dry-run=server']);

describe("the chaos controller's admission policies", () => {
  it('let it create a k6 Job as the driver makes one', () => {
    const r = asController(['create', '-f', job('k6-as-driver')]);
    expect(r.code, r.stderr).toBe(0);
  });

  it.each([
    ['another image', (s: Record<string, any>) => (s.containers[0].image = 'busybox:1.36'), /only run Jobs of k6/],
    ['a second container', (s: Record<string, any>) => s.containers.push({ name: 'shell', image: k6Image }), /in one container/],
    ['a command of its own', (s: Record<string, any>) => (s.containers[0].command = ['/bin/sh', '-c', 'id']), /its own entrypoint/],
    ['the host network', (s: Record<string, any>) => (s.hostNetwork = true), /share no host namespace/],
    ['a ServiceAccount token', (s: Record<string, any>) => (s.automountServiceAccountToken = true), /no ServiceAccount token/],
    ['another ServiceAccount', (s: Record<string, any>) => (s.serviceAccountName = `${release}-prometheus`), /default ServiceAccount/],
    ['a privileged container', (s: Record<string, any>) => (s.containers[0].securityContext = { privileged: true }), /unprivileged/],
    ['the Grafana Secret mounted', (s: Record<string, any>) => s.volumes.push({ name: 'g', secret: { secretName: `${release}-grafana` } }), /only their script's ConfigMap/],
    ['the Grafana Secret in its environment', (s: Record<string, any>) => s.containers[0].env.push({ name: 'P', valueFrom: { secretKeyRef: { name: `${release}-grafana`, key: 'admin-password' } } }), /no Secret but/],
  ])('deny it a Job with %s', (what, change, message) => {
    const r = asController(['create', '-f', job(`k6-${what.replace(/\W+/g, '-').toLowerCase()}`, change)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ValidatingAdmissionPolicy/);
    expect(r.stderr).toMatch(message);
  });

  it("deny it deleting or changing an object it did not make, such as Prometheus's config", () => {
    const r = asController(['delete', 'configmap', `${release}-prometheus`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/may change only the objects it made/);
    const label = asController(['label', 'configmap', `${release}-prometheus`, 'touched=yes']);
    expect(label.code).not.toBe(0);
  });

  it("let it delete one of the shop's pods (a pod-kill)", () => {
    const pod = kubectl(['get', 'pods', '--namespace', namespace, '-l', 'app.kubernetes.io/component=shop', '-o', 'jsonpath={.items[0].metadata.name}']).stdout;
    expect(pod).not.toBe('');
    const r = asController(['delete', 'pod', pod]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('sit beside Pod Security restricted: labelling the namespace warns of no pod of the release (server-side dry run)', () => {
    const r = kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted', '--overwrite', '--dry-run=server']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/violate/i);
  });

  it('leave everyone else alone: the same busybox Job from the administrator goes through', () => {
    const r = kubectl(['create', '-f', job('busybox-as-admin', (s) => (s.containers[0].image = 'busybox:1.36')), '--namespace', namespace, '--dry-run=server']);
    expect(r.code, r.stderr).toBe(0);
  });
});
