// The objects the Kubernetes fault driver creates are valid Kubernetes 1.36, strictly: every fault kind and every
// partition direction, checked offline by kubeconform against the same schemas as the chart.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { showcaseDrills } from '../../chaos/src/commands/demo.ts';
import { validateManifests } from '../../tooling/charts/check.ts';
import { loadDrillFile, parseDrill } from '../../chaos/src/drill/file.ts';
import { describeKubernetesPlan } from '../../chaos/src/platforms/kubernetes/dry-run.ts';
import { projectRoot } from '../../tooling/toolchain.ts';

const scope = { namespace: 'faultline', release: 'faultline', allowedNamespaces: ['faultline'] };
const yamlOf = (lines: string[]) => lines.filter((l) => l.startsWith('---')).join('\n');

const partitions = parseDrill(`
name: every-direction
steadyState: { probes: [{ name: menu, http: { path: /api/menu, apiKey: false } }] }
method:
  - fault: { kind: network-partition, selector: { service: gateway }, target: { service: catalog }, direction: to, duration: 5s }
  - fault: { kind: network-partition, selector: { service: orders }, target: { service: kafka }, direction: from, duration: 5s }
  - fault: { kind: network-partition, selector: { service: kitchen }, target: { service: redis }, direction: both, duration: 5s }
  - fault: { kind: pod-kill, selector: { service: orders }, mode: fixed-percent, value: 50 }
  - fault: { kind: flood, script: orders.js, executor: ramping-arrival-rate, stages: [{ target: 50, duration: 5s }, { target: 0, duration: 5s }], apiKey: load }
`);

describe('the fault driver\'s objects', () => {
  it.each([...showcaseDrills])('%s: every object validates strictly', (name) => {
    const yaml = yamlOf(describeKubernetesPlan(loadDrillFile(join(projectRoot, 'chaos/drills', `${name}.yaml`)), scope));
    const report = validateManifests(yaml);
    expect(report.failures).toEqual([]);
    expect(report.valid).toBeGreaterThan(0);
  });

  it('every partition direction, a percentage pod-kill and a ramping flood validate strictly', () => {
    const report = validateManifests(yamlOf(describeKubernetesPlan(partitions, scope)));
    expect(report.failures).toEqual([]);
    expect(report.valid).toBe(1 + 1 + 2 + 1 + 2);
  });

  it('the check can fail: a misspelled field in a driver object is caught', () => {
    const yaml = yamlOf(describeKubernetesPlan(partitions, scope)).replace('policyTypes:', 'policyType:');
    expect(validateManifests(yaml).failures.length).toBeGreaterThan(0);
  });
});
