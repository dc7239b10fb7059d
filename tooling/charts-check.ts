// npm run charts:check [-- <charts folder or chart>...]: lints, renders and strictly validates every chart offline,
// runs promtool on its alert rules and rendered Prometheus configuration, and prints what each values scenario requests. Exits 1 on any failure.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findCharts, helmLint, helmTemplate, promtoolCheckRenderedConfigs, promtoolCheckRules, promtoolTestRules, ruleFiles, scenarios, shortPath, validateManifests } from './charts/check.ts';
import { splitManifests } from './charts/manifests.ts';
import { requestsTable, workloadRequests } from './charts/resources.ts';
import { kubeSchemaVersion, pins, projectRoot, chartToolPaths } from './toolchain.ts';

const started = Date.now();
const failures: string[] = [];
const fail = (what: string, detail: string) => {
  failures.push(what);
  console.log(`  ✗ ${what}\n${indent(detail, 6)}`);
};
const indent = (text: string, n: number) => text.trim().split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');

for (const tool of [chartToolPaths.helm, chartToolPaths.kubeconform, chartToolPaths.promtool, chartToolPaths.kubeSchemas]) {
  if (!existsSync(tool)) {
    console.error(`charts:check: ${tool} is missing; run \`npm run setup -- --for-tests\` first`);
    process.exit(1);
  }
}

// Bad arguments are the caller's mistake, not a failed check: exit 2 before anything runs.
const args = process.argv.slice(2);
const badArgs = args.filter((a) => a.startsWith('-') || !existsSync(a));
if (badArgs.length > 0) {
  console.error(`charts:check: ${badArgs.map((a) => (a.startsWith('-') ? `unknown option ${a}` : `no such folder ${a}`)).join('; ')} (usage: npm run charts:check [-- <charts folder or chart>...])`);
  process.exit(2);
}
const roots = args.map((p) => resolve(p));
if (roots.length === 0) roots.push(join(projectRoot, 'charts'));
const charts = roots.flatMap((r) => findCharts(r));
// Rule tests run for every folder under the roots that has them, chart or not (the rules may land before the chart).
const subfolders = (r: string) => (existsSync(join(r, 'Chart.yaml')) ? [r] : existsSync(r) ? readdirSync(r).map((d) => join(r, d)) : []);
const ruleDirs = [...new Set(roots.flatMap(subfolders))].filter((d) => statSync(d).isDirectory()).sort();
if (charts.length === 0) fail(`no chart (a folder with Chart.yaml) under ${roots.map(shortPath).join(', ')}`, 'nothing to check');

for (const chart of charts) {
  console.log(`\n▶ chart ${shortPath(chart)}`);
  for (const s of scenarios(chart)) {
    const label = `${shortPath(chart)} [${s.name}${s.valuesFile ? `: ${shortPath(s.valuesFile)}` : ''}]`;
    console.log(`\n  ● scenario ${s.name}${s.valuesFile ? ` (${shortPath(s.valuesFile)})` : ' (default values)'}`);
    const lint = helmLint(chart, s);
    if (lint.ok) console.log('  ✓ helm lint --strict');
    else fail(`helm lint --strict ${label}`, lint.output);
    const render = helmTemplate(chart, s);
    if (!render.ok) {
      fail(`helm template ${label}`, render.output);
      continue;
    }
    let manifests;
    try {
      manifests = splitManifests(render.output);
    } catch (err) {
      fail(`rendered YAML ${label}`, (err as Error).message);
      continue;
    }
    const kinds = [...new Set(manifests.map((m) => m.kind))].sort();
    console.log(`  ✓ helm template: ${manifests.length} objects (${kinds.join(', ')})`);
    const report = validateManifests(render.output, manifests);
    if (report.failures.length === 0) console.log(`  ✓ strict schema validation (Kubernetes ${kubeSchemaVersion} + prometheus-operator CRDs): ${report.valid} valid`);
    for (const f of report.failures) fail(`schema ${label}: ${f.resource}${f.source ? ` (${f.source})` : ''}`, f.problems.join('\n'));
    const prometheus = promtoolCheckRenderedConfigs(manifests);
    if (!prometheus.ok) fail(`promtool check config ${label}`, prometheus.output);
    else if (prometheus.configMaps.length) console.log(`  ✓ promtool check config + rules (${pins.promtool.release}, with Kubernetes discovery): ConfigMap ${prometheus.configMaps.join(', ')}`);
    else console.log('  · no prometheus.yml rendered (the chart\'s Prometheus is off in this scenario)');
    try {
      console.log(`\n  requests, scenario ${s.name}:\n${indent(requestsTable(workloadRequests(manifests)), 4)}\n`);
    } catch (err) {
      fail(`resource requests ${label}`, (err as Error).message);
    }
  }
}

for (const dir of ruleDirs) {
  const { rules, tests } = ruleFiles(dir);
  if (rules.length === 0 && tests.length === 0) continue;
  console.log(`\n▶ alert rules ${shortPath(join(dir, 'rules'))}`);
  if (rules.length) {
    const check = promtoolCheckRules(rules);
    if (check.ok) console.log(`  ✓ promtool check rules: ${rules.map(shortPath).join(', ')}`);
    else fail(`promtool check rules ${shortPath(join(dir, 'rules'))}`, check.output);
  }
  if (tests.length === 0) fail(`no promtool tests in ${shortPath(join(dir, 'rules', 'tests'))}`, 'every rule file needs rules/tests/*.yaml');
  for (const t of tests) {
    const r = promtoolTestRules(t);
    if (r.ok) console.log(`  ✓ promtool test rules ${shortPath(t)}`);
    else fail(`promtool test rules ${shortPath(t)}`, r.output);
  }
}

const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
if (failures.length) {
  console.log(`\ncharts:check FAILED (${failures.length}) in ${took}:\n${failures.map((f) => `  ✗ ${f}`).join('\n')}`);
  process.exit(1);
}
console.log(`\ncharts:check passed in ${took}`);
