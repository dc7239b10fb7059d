// `drill run --platform kubernetes --dry-run`: the objects each showcase drill's faults would create, and the refusals
// (exit 2) that come before any of them.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { showcaseDrills } from '../../chaos/src/commands/demo.ts';
import { loadDrillFile, parseDrill } from '../../chaos/src/drill/file.ts';
import { describeKubernetesPlan } from '../../chaos/src/platforms/kubernetes/dry-run.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { cli, repoRoot } from '../support/shop.ts';

const scope = { namespace: 'faultline', release: 'faultline', allowedNamespaces: ['faultline'] };
const drillFile = (name: string) => join(repoRoot, 'chaos/drills', `${name}.yaml`);
const objectsOf = (lines: string[]) => parseAllDocuments(lines.filter((l) => l.startsWith('---')).join('\n')).map((d) => d.toJSON());

const minimal = (fault: string) => `
name: k8s-plan
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - fault: ${fault}
`;

describe('the Kubernetes plan of a drill', () => {
  it('turns catalog-outage into NetworkPolicies on both sides of both edges, all labelled with the drill', () => {
    const objects = objectsOf(describeKubernetesPlan(loadDrillFile(drillFile('catalog-outage')), scope));
    expect(objects.map((o) => o.kind)).toEqual(['NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy']);
    for (const o of objects) {
      expect(o.metadata.labels['faultline.dev/drill']).toBe('catalog-outage');
      expect(o.metadata.labels['app.kubernetes.io/managed-by']).toBe('faultline-chaos');
      expect(Date.parse(o.metadata.annotations['faultline.dev/expires-at'])).toBeGreaterThan(Date.now());
      expect(o.spec.policyTypes).toEqual(['Egress']);
    }
    expect(objects.map((o) => o.spec.podSelector.matchLabels['app.kubernetes.io/name']).sort()).toEqual(['catalog', 'catalog', 'gateway', 'orders']);
    // Live together, so catalog's two policies each exclude both peers (policies add up; one alone would let the other peer back in).
    const excluded = (o: any) => o.spec.egress[0].to[0].podSelector.matchExpressions[0].values;
    for (const o of objects.filter((o) => o.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'catalog')) expect(excluded(o)).toEqual(['gateway', 'orders']);
  });

  it('turns traffic-flood into a k6 Job and the ConfigMap holding its script', () => {
    const objects = objectsOf(describeKubernetesPlan(loadDrillFile(drillFile('traffic-flood')), scope));
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Job']);
    const job = objects[1];
    expect(job.spec.template.spec.containers[0].image).toBe('grafana/k6:1.8.1');
    expect(job.spec.template.spec.volumes[0].configMap.name).toBe(objects[0].metadata.name);
  });

  it('describes a pod-kill by its selector and mode, with the marker that carries it while it is active', () => {
    const lines = describeKubernetesPlan(loadDrillFile(drillFile('kitchen-worker-kill')), scope);
    expect(lines.join('\n')).toContain('mode one: delete ready pods matching app.kubernetes.io/name=kitchen,app.kubernetes.io/instance=faultline with gracePeriodSeconds 0');
    expect(objectsOf(lines).map((o) => o.kind)).toEqual(['ConfigMap']);
  });

  it('plans every showcase drill', () => {
    for (const name of showcaseDrills) expect(objectsOf(describeKubernetesPlan(loadDrillFile(drillFile(name)), scope)).length).toBeGreaterThan(0);
  });

  it('refuses latency and pause, and a namespace outside the allowlist, before planning anything', () => {
    const latency = parseDrill(minimal('{ kind: latency, selector: { service: gateway }, target: { service: catalog }, latency: 200ms, duration: 5s }'));
    expect(() => describeKubernetesPlan(latency, scope)).toThrow(UsageError);
    expect(() => describeKubernetesPlan(latency, scope)).toThrow(/the kubernetes runtime cannot do latency: a NetworkPolicy can only allow or refuse traffic/);
    const pause = parseDrill(minimal('{ kind: pause, selector: { service: kitchen }, duration: 5s }'));
    expect(() => describeKubernetesPlan(pause, scope)).toThrow(/the kubernetes runtime cannot do pause: freezing a process needs a privileged agent on the node/);
    const partition = parseDrill(minimal('{ kind: network-partition, selector: { service: gateway }, target: { service: catalog }, direction: to, duration: 5s }'));
    expect(() => describeKubernetesPlan(partition, { ...scope, namespace: 'kube-system' })).toThrow(/namespace kube-system is not allowed/);
  });
});

describe('faultline drill run --platform kubernetes', () => {
  it('prints the plan and the objects with --dry-run, touching nothing', () => {
    const r = cli(['drill', 'run', '--platform', 'kubernetes', '--dry-run', drillFile('kitchen-kafka-partition')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kind: NetworkPolicy');
    expect(r.stdout).toContain('nothing was touched (dry run)');
  });

  it.each([
    [['drill', 'run', '--platform', 'kubernetes', drillFile('catalog-outage')], /no Kubernetes cluster configured: pass --kubeconfig, or set KUBECONFIG/],
    [['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig', drillFile('catalog-outage')], /no kubeconfig at \/nonexistent\/kubeconfig/],
    [['drill', 'run', '--platform', 'kubernetes', '--release', 'Bad_Name', drillFile('catalog-outage')], /--release "Bad_Name"/],
    [['drill', 'run', '--platform', 'kubernetes', '--namespace', 'kube-system', drillFile('catalog-outage')], /namespace kube-system is not allowed/],
    [['drill', 'run', '--namespace', 'shop', drillFile('catalog-outage')], /--namespace go with --platform kubernetes/],
    [['drill', 'run', '--faults-only', '--release', 'r', drillFile('catalog-outage')], /--release, --faults-only go with --platform kubernetes/],
    [['drill', 'run', '--platform', 'kubernetes', '--dry-run', '--release', 'Bad_Name', drillFile('catalog-outage')], /--release "Bad_Name"/],
    [['drill', 'run', '--platform', 'kubernetes', '--dry-run', '--namespace', 'other', drillFile('catalog-outage')], /namespace other is not allowed/],
  ])('exits 2 for %j', (args, message) => {
    const r = cli(args, { FAULTLINE_STATE_DIR: '/nonexistent-faultline-state', FAULTLINE_ALLOWED_NAMESPACES: 'faultline' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
