// The charts as CI sees them: helm lint and template per values scenario, strict offline validation of every rendered
// object against the Kubernetes 1.36 and prometheus-operator schemas, promtool on the alert rules and the rendered
// Prometheus configuration; and proof that the validators reject what they must, so a green run cannot come from a validator that passes everything.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCharts, helmLint, helmTemplate, promtoolCheckRenderedConfigs, promtoolCheckRules, promtoolTestRules, ruleFiles, scenarios, validateManifests } from '../../tooling/charts/check.ts';
import { splitManifests } from '../../tooling/charts/manifests.ts';
import { sumRequests, workloadRequests } from '../../tooling/charts/resources.ts';
import { projectRoot, chartToolPaths } from '../../tooling/toolchain.ts';

const chartsRoot = join(projectRoot, 'charts');
const charts = findCharts(chartsRoot);
const ruleDirs = existsSync(chartsRoot) ? readdirSync(chartsRoot).map((d) => join(chartsRoot, d)) : [];

beforeAll(() => {
  for (const tool of [chartToolPaths.helm, chartToolPaths.kubeconform, chartToolPaths.promtool, chartToolPaths.kubeSchemas]) {
    expect(existsSync(tool), `${tool} is missing: run \`npm run setup\``).toBe(true);
  }
});

it('there is a chart to check', () => {
  expect(charts.map((c) => c.slice(chartsRoot.length + 1))).toContain('faultline');
});

describe.each(charts.map((c) => [c.slice(projectRoot.length + 1), c]))('%s', (_, chart) => {
  describe.each(scenarios(chart).map((s) => [s.name, s]))('values: %s', (_, scenario) => {
    it('passes helm lint --strict', () => {
      const lint = helmLint(chart, scenario);
      expect(lint.ok, lint.output).toBe(true);
    });

    it('renders objects that are all valid against the strict schemas, and requests CPU and memory', () => {
      const render = helmTemplate(chart, scenario);
      expect(render.ok, render.output).toBe(true);
      const manifests = splitManifests(render.output);
      expect(manifests.length).toBeGreaterThan(0);
      const report = validateManifests(render.output, manifests);
      expect(report.failures).toEqual([]);
      expect(report.valid).toBe(manifests.length);
      const steady = sumRequests(workloadRequests(manifests), 'steady');
      expect(steady.memory).toBeGreaterThan(0);
      expect(steady.cpu).toBeGreaterThan(0);
    });

    it('renders a Prometheus configuration that promtool accepts, with its rules, when the chart runs Prometheus', () => {
      const manifests = splitManifests(helmTemplate(chart, scenario).output);
      const check = promtoolCheckRenderedConfigs(manifests);
      expect(check.ok, check.output).toBe(true);
      const runsPrometheus = manifests.some((m) => m.kind === 'Deployment' && m.name.endsWith('-prometheus'));
      expect(check.configMaps.length > 0).toBe(runsPrometheus);
      if (runsPrometheus) expect(check.output).toMatch(/SUCCESS: \d+ rules found/);
    });
  });
});

describe.each(ruleDirs.filter((d) => ruleFiles(d).rules.length > 0).map((d) => [d.slice(projectRoot.length + 1), d]))('alert rules of %s', (_, dir) => {
  it('pass promtool check rules', () => {
    const r = promtoolCheckRules(ruleFiles(dir).rules);
    expect(r.ok, r.output).toBe(true);
  });
  it('have promtool unit tests, and they pass', () => {
    const { tests } = ruleFiles(dir);
    expect(tests.length).toBeGreaterThan(0);
    for (const t of tests) {
      const r = promtoolTestRules(t);
      expect(r.ok, r.output).toBe(true);
    }
  });
});

describe('the validator', () => {
  const deployment = (spec: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: probe
spec:
  selector:
    matchLabels: {app: probe}
  template:
    metadata:
      labels: {app: probe}
    spec:
      containers:
        - name: app
          image: probe:1
          resources:
            requests: {cpu: 100m, memory: 64Mi}
${spec}
`;
  const problems = (yaml: string) => validateManifests(yaml).failures.flatMap((f) => f.problems);

  it('accepts a valid Deployment', () => {
    expect(validateManifests(deployment('  replicas: 2'))).toEqual({ valid: 1, failures: [] });
  });
  it('rejects a misspelled field (spec.replicass)', () => {
    expect(problems(deployment('  replicass: 2'))).toEqual([expect.stringMatching(/^\/spec: additional properties 'replicass' not allowed/)]);
  });
  it('rejects a wrong type (replicas: "two", containerPort: "http")', () => {
    expect(problems(deployment('  replicas: two'))).toEqual([expect.stringMatching(/^\/spec\/replicas: got string, want (null or )?integer/)]);
    const port = deployment('').replace('          image: probe:1', '          image: probe:1\n          ports: [{containerPort: http}]');
    expect(problems(port)).toEqual([expect.stringMatching(/containerPort: got string, want integer/)]);
  });
  it('rejects an unknown kind instead of skipping it', () => {
    expect(problems('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n')).toEqual([expect.stringMatching(/could not find schema for Widget/)]);
  });
  it('rejects a misspelled field in a ServiceMonitor, and in a PrometheusRule', () => {
    const sm = 'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {app: x}}\n  endpoints: [{port: http, intervall: 15s}]\n';
    expect(problems(sm)).toEqual([expect.stringMatching(/^\/spec\/endpoints\/0: additional properties 'intervall' not allowed/)]);
    const rule = 'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\nspec:\n  groups: [{name: g, rules: [{alert: A, expr: up == 0, for: 5m, label: {severity: page}}]}]\n';
    expect(problems(rule)).toEqual([expect.stringMatching(/additional properties 'label' not allowed/)]);
  });
  it('rejects a misspelled metadata field and a duplicate key', () => {
    expect(problems('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, lables: {a: b}}\n')).toEqual([expect.stringMatching(/^\/metadata: additional properties 'lables' not allowed/)]);
    expect(() => splitManifests('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: "1", a: "2"}\n')).toThrow(/unique/);
  });
});

describe('the Prometheus configuration check', () => {
  const configMap = (prometheusYml: string) =>
    splitManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  prometheus.yml: |\n${prometheusYml.replace(/^/gm, '    ')}\n`);
  const job = (sd: string) => `scrape_configs:\n  - job_name: shop\n    kubernetes_sd_configs:\n      - ${sd}\n`;
  it('accepts Kubernetes pod discovery in the own namespace', () => {
    const check = promtoolCheckRenderedConfigs(configMap(job('{role: pod, namespaces: {own_namespace: true}}')));
    expect(check, check.output).toMatchObject({ ok: true, configMaps: ['p'] });
  });
  it('rejects an unknown discovery role and a misspelled field', () => {
    expect(promtoolCheckRenderedConfigs(configMap(job('{role: pods}'))).output).toMatch(/unknown Kubernetes SD role "pods"/);
    expect(promtoolCheckRenderedConfigs(configMap(job('{role: pod, namespace: {own_namespace: true}}'))).output).toMatch(/field namespace not found/);
  });
});

describe('npm run charts:check', () => {
  const script = join(projectRoot, 'tooling/charts-check.ts');
  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['/nonexistent-charts'], 'no such folder /nonexistent-charts'],
  ])('exits 2 on %j before checking anything', (args, message) => {
    const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});
