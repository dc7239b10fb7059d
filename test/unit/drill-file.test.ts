// The drill file validator: each broken file gets a message naming the file, the line and the field.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forPlatform } from '../../chaos/src/drill/adjust.ts';
import { drillJsonSchemaText } from '../../chaos/src/drill/json-schema.ts';
import { DrillFileError, loadDrillFile, parseDrill } from '../../chaos/src/drill/file.ts';
import { parseDuration } from '../../chaos/src/drill/schema.ts';
import { cli, repoRoot } from '../support/shop.ts';

const drillsDir = join(repoRoot, 'chaos/drills');
const minimal = `name: probe-only
steadyState:
  probes:
    - name: menu
      http: { path: /api/menu, apiKey: false }
method:
  - wait: 1s
`;
const errorsOf = (text: string) => {
  try {
    parseDrill(text, 'd.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(DrillFileError);
    return (err as Error).message.split('\n');
  }
  throw new Error('expected the drill to be refused');
};

describe('drill files', () => {
  it.each(readdirSync(drillsDir).filter((f) => f.endsWith('.yaml')))('ships a valid %s', (file) => {
    expect(loadDrillFile(join(drillsDir, file)).name).toBe(file.replace(/\.yaml$/, ''));
  });

  it('fills defaults: mode one, direction both, 250 ms sampling, 30 s drain', () => {
    const d = parseDrill(`${minimal}  - fault: { kind: pod-kill, selector: { service: kitchen } }\n  - fault: { kind: network-partition, selector: { service: gateway }, target: { service: redis }, duration: 5s }\n`);
    expect(d.method[1]!.fault).toEqual({ kind: 'pod-kill', selector: { service: 'kitchen' }, mode: 'one' });
    expect(d.method[2]!.fault).toMatchObject({ direction: 'both', duration: 5000 });
    expect(d).toMatchObject({ sampleEvery: 250, ledger: { drainTimeout: 30_000 }, timeout: 600_000 });
  });

  it('reads durations', () => {
    expect([parseDuration('250ms'), parseDuration('10s'), parseDuration('1.5m')]).toEqual([250, 10_000, 90_000]);
  });

  it.each([
    ['a YAML syntax error', 'name: a\n  b: [', /^d\.yaml:1: /],
    ['a bad name', minimal.replace('probe-only', 'Probe Only'), /^d\.yaml:1: name: expected lower-case letters/],
    ['a missing method', minimal.replace(/method:[\s\S]*/, ''), /^d\.yaml:1: method: method is required$/],
    ['an unknown top-level field', `${minimal}colour: red\n`, /^d\.yaml:8: \(top level\): unknown field "colour"$/],
    ['a typo in a probe field', minimal.replace('apiKey: false', 'apikey: false'), /^d\.yaml:5: steadyState\.probes\.0\.http: unknown field "apikey"$/],
    ['an unknown fault kind', `${minimal}  - fault: { kind: pod-kil, selector: { service: catalog } }\n`, /^d\.yaml:8: method\.1\.fault\.kind: kind must be one of pod-kill, network-partition, latency, flood, pause$/],
    ['an unknown service', `${minimal}  - fault: { kind: pod-kill, selector: { service: cashier } }\n`, /^d\.yaml:8: method\.1\.fault\.selector\.service: Invalid option/],
    ['mode fixed without value', `${minimal}  - fault: { kind: pod-kill, selector: { service: catalog }, mode: fixed }\n`, /method\.1\.fault\.value: value is required with mode fixed/],
    ['a role for a service', `${minimal}  - fault: { kind: pod-kill, selector: { service: orders, role: primary } }\n`, /method\.1\.fault\.selector\.role: role goes with its store: primary or replica with service: redis, leader or follower with service: kafka/],
    ['an unknown role', `${minimal}  - fault: { kind: pod-kill, selector: { service: redis, role: boss } }\n`, /method\.1\.fault\.selector\.role: Invalid option/],
    ['a Kafka role for redis', `${minimal}  - fault: { kind: pod-kill, selector: { service: redis, role: leader } }\n`, /method\.1\.fault\.selector\.role: role goes with its store/],
    ['a topic for redis', `${minimal}  - fault: { kind: pod-kill, selector: { service: redis, topic: orders.placed } }\n`, /method\.1\.fault\.selector\.topic: topic goes with service: kafka/],
    ['an unknown topic', `${minimal}  - fault: { kind: pod-kill, selector: { service: kafka, role: leader, topic: orders } }\n`, /method\.1\.fault\.selector\.topic: Invalid input: expected "orders\.placed"/],
    ['a pod-kill of a gateway by role', `${minimal}  - fault: { kind: pod-kill, selector: { service: gateway, role: leader } }\n`, /method\.1\.fault\.selector\.role: role goes with its store/],
    ['a pause without a deadline', `${minimal}  - fault: { kind: pause, selector: { service: kitchen } }\n`, /method\.1\.fault\.duration: duration is required/],
    ['a pause longer than ten minutes', `${minimal}  - fault: { kind: pause, selector: { service: kitchen }, duration: 11m }\n`, /method\.1\.fault\.duration: at most 600 s/],
    ['a pause of a store', `${minimal}  - fault: { kind: pause, selector: { service: redis }, duration: 5s }\n`, /method\.1\.fault\.selector\.service: Invalid option/],
    ['a fault without a deadline', `${minimal}  - fault: { kind: latency, selector: { service: gateway }, target: { service: catalog }, latency: 1s }\n`, /method\.1\.fault\.duration: duration is required/],
    ['a bad duration', minimal.replace('wait: 1s', 'wait: 5 minutes'), /^d\.yaml:7: method\.0\.wait: expected a duration such as 500ms, 10s or 2m$/],
    ['two actions in one step', `${minimal}    load: { script: orders.js, rate: 5, duration: 5s }\n`, /^d\.yaml:7: method\.0: a step has exactly one of fault, load, wait, parallel or sequence$/],
    ['a constant load without duration', `${minimal}  - load: { script: orders.js, rate: 5 }\n`, /method\.1\.load\.executor: constant-arrival-rate takes rate and duration/],
    ['a load script outside chaos/load', `${minimal}  - load: { script: ../x.js, rate: 5, duration: 5s }\n`, /method\.1\.load\.script: expected a script file name/],
    ['a promql probe without tolerance', minimal.replace('http: { path: /api/menu, apiKey: false }', 'promql: up'), /steadyState\.probes\.0: a promql, metric or replicas probe needs a tolerance/],
    ['a probe with two sources', minimal.replace('apiKey: false }', 'apiKey: false }\n      promql: up'), /a probe has exactly one of promql, metric, http or replicas/],
    ['a tolerance with min over max', minimal.replace('http: { path: /api/menu, apiKey: false }', 'promql: up\n      tolerance: { min: 2, max: 1 }'), /min must not exceed max/],
    ['a verification of an unknown probe', `${minimal}verifications:\n  - { name: v, probe: nope, expect: { always: { max: 1 } } }\n`, /^d\.yaml:9: verifications\.0\.probe: no probe is named "nope"$/],
    ['a verification with within but no reaches', `${minimal}verifications:\n  - { name: v, probe: menu, expect: { always: { min: 1 }, within: 1s } }\n`, /within goes with reaches/],
    ['an empty sequence', `${minimal}  - sequence: []\n`, /method\.1\.sequence: Too small/],
    ['a platform that does not exist', `${minimal}platforms:\n  moon: []\n`, /^d\.yaml:9: platforms: unknown field "moon"$/],
    ['an adjustment of an unknown verification', `${minimal}platforms:\n  kubernetes:\n    - { verification: nope, expect: { always: { max: 1 } }, reason: because it differs there }\n`, /^d\.yaml:10: platforms\.kubernetes\.0\.verification: no verification is named "nope"$/],
    ['an adjustment without a reason', `${minimal}verifications:\n  - { name: v, probe: menu, expect: { always: { min: 1 } } }\nplatforms:\n  kubernetes:\n    - { verification: v, expect: { always: { min: 0 } } }\n`, /platforms\.kubernetes\.0\.reason: reason is required/],
    ['an adjustment naming both a verification and a probe', `${minimal}verifications:\n  - { name: v, probe: menu, expect: { always: { min: 1 } } }\nplatforms:\n  local:\n    - { verification: v, probe: menu, reason: it differs here too }\n`, /an adjustment names one verification or one probe/],
  ])('refuses %s', (_what, text, message) => {
    expect(errorsOf(text).some((line) => message.test(line))).toBe(true);
  });

  it('applies a platform’s adjustments, and only that platform’s, with their reasons', () => {
    const d = parseDrill(`${minimal}probes:\n  - { name: p, promql: up, tolerance: { min: 1 } }\nverifications:\n  - { name: v, probe: p, during: fault, expect: { reaches: { min: 1 }, within: 2s } }\nplatforms:\n  kubernetes:\n    - { verification: v, expect: { reaches: { min: 1 }, within: 8s }, reason: a policy takes time to be enforced }\n    - { probe: p, replicas: { services: [kafka] }, reason: the metric has another name there }\n`);
    const local = forPlatform(d, 'local');
    expect(local.adjustments).toEqual([]);
    expect(local.drill.verifications[0]!.expect.within).toBe(2000);
    const k8s = forPlatform(d, 'kubernetes');
    expect(k8s.drill.verifications[0]!.expect.within).toBe(8000);
    expect(k8s.drill.probes[0]).toEqual({ name: 'p', replicas: { services: ['kafka'] }, tolerance: { min: 1 } });
    expect(k8s.adjustments.map((a) => [a.target, a.reason])).toEqual([
      ['verification "v"', 'a policy takes time to be enforced'],
      ['probe "p"', 'the metric has another name there'],
    ]);
    expect(d.verifications[0]!.expect.within).toBe(2000); // the file's own drill is left as it was
  });

  it('publishes an up-to-date JSON Schema for editors', () => {
    expect(readFileSync(join(drillsDir, 'drill.schema.json'), 'utf8')).toBe(drillJsonSchemaText());
  });

  it('`faultline drill validate` exits 0 on a good file and 2 on a bad one', () => {
    const good = cli(['drill', 'validate', join(drillsDir, 'catalog-outage.yaml')]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('valid drill "catalog-outage"');
    const missing = cli(['drill', 'validate', '/nonexistent/drill.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/drill.yaml: cannot read it (ENOENT)');
  });
});
