import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { helmEnv, kubeSchemaVersion, projectRoot, chartToolPaths } from '../toolchain.ts';
import { manifestId, splitManifests, type Manifest } from './manifests.ts';

/**
 * The steps of `npm run charts:check`, one function each so the script and the vitest `charts` project run
 * the same checks: helm lint and template per values scenario, strict offline schema validation with
 * kubeconform, promtool on the alert rules and on each rendered Prometheus configuration.
 */

export const releaseName = 'faultline';
export const releaseNamespace = 'faultline';

export interface Scenario {
  /** "default", or the ci values file's name without `-values.yaml`. */
  name: string;
  valuesFile?: string;
}

export interface StepResult {
  ok: boolean;
  /** What the tool said, trimmed; the failure message when !ok. */
  output: string;
}

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`${cmd} could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): run \`npm run setup\` first`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every chart under a charts folder (a folder with Chart.yaml), or the folder itself if it is one. Sorted. */
export function findCharts(root = join(projectRoot, 'charts')): string[] {
  if (existsSync(join(root, 'Chart.yaml'))) return [root];
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => statSync(d).isDirectory() && existsSync(join(d, 'Chart.yaml')))
    .sort();
}

/** The default values, then each `ci/*-values.yaml` (the chart-testing convention). */
export function scenarios(chart: string): Scenario[] {
  const ci = join(chart, 'ci');
  const files = existsSync(ci) ? readdirSync(ci).filter((f) => f.endsWith('-values.yaml')).sort() : [];
  return [{ name: 'default' }, ...files.map((f) => ({ name: f.replace(/-values\.yaml$/, ''), valuesFile: join(ci, f) }))];
}

const valuesArgs = (s: Scenario) => (s.valuesFile ? ['--values', s.valuesFile] : []);

export function helmLint(chart: string, s: Scenario): StepResult {
  const r = run(chartToolPaths.helm, ['lint', chart, '--strict', '--namespace', releaseNamespace, ...valuesArgs(s)], { env: helmEnv() });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** helm template with hooks and test hooks (`templates/tests`) and CRDs, as an install would apply them. */
export function helmTemplate(chart: string, s: Scenario): StepResult {
  const r = run(chartToolPaths.helm, ['template', releaseName, chart, '--namespace', releaseNamespace, '--include-crds', ...valuesArgs(s)], { env: helmEnv() });
  return { ok: r.status === 0, output: r.status === 0 ? r.stdout : `${r.stderr}${r.stdout}`.trim() };
}

export interface ValidationFailure {
  /** `apiVersion Kind name`, as kubeconform read it. */
  resource: string;
  /** The template that rendered it. */
  source?: string;
  problems: string[];
}

export interface ValidationReport {
  valid: number;
  failures: ValidationFailure[];
}

interface KubeconformResource {
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg: string;
  validationErrors?: { path: string; msg: string }[];
}

/**
 * Validates every object in a YAML stream strictly and offline against the Kubernetes 1.36 and
 * prometheus-operator schemas: unknown fields, wrong types and unknown kinds all fail; nothing is skipped.
 */
export function validateManifests(yaml: string, manifests: Manifest[] = splitManifests(yaml)): ValidationReport {
  const args = ['-strict', '-output', 'json', '-verbose', '-kubernetes-version', kubeSchemaVersion, '-schema-location', chartToolPaths.kubeSchemas, '-'];
  const r = run(chartToolPaths.kubeconform, args, { input: yaml });
  let resources: KubeconformResource[];
  try {
    resources = (JSON.parse(r.stdout) as { resources: KubeconformResource[] | null }).resources ?? [];
  } catch {
    throw new Error(`kubeconform gave no report (exit ${r.status}): ${`${r.stderr}${r.stdout}`.trim().slice(0, 2000)}`);
  }
  const sources = new Map(manifests.map((m) => [manifestId(m), m.source]));
  const failures: ValidationFailure[] = [];
  for (const res of resources) {
    if (res.status === 'statusValid' || res.status === 'statusEmpty') continue;
    const resource = `${res.version} ${res.kind} ${res.name}`;
    const problems = res.validationErrors?.length ? res.validationErrors.map((e) => `${e.path || '/'}: ${e.msg}`) : [res.status === 'statusSkipped' ? 'skipped: no schema was applied' : res.msg];
    failures.push({ resource, source: sources.get(resource), problems });
  }
  const valid = resources.filter((res) => res.status === 'statusValid').length;
  // Guard against a document kubeconform never looked at: everything split out must be accounted for.
  if (valid + failures.length !== manifests.length) {
    failures.push({ resource: '(stream)', problems: [`kubeconform reported ${valid + failures.length} objects, the render has ${manifests.length}`] });
  }
  failures.sort((a, b) => a.resource.localeCompare(b.resource));
  return { valid, failures };
}

/** Alert rule files a chart ships (`rules/*.yaml`) and their promtool unit tests (`rules/tests/*.yaml`). */
export function ruleFiles(chart: string) {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f)) : []);
  return { rules: list(join(chart, 'rules')), tests: list(join(chart, 'rules', 'tests')) };
}

/** `promtool check rules`: syntax, PromQL, templates of every rule file. */
export function promtoolCheckRules(files: string[]): StepResult {
  const r = run(chartToolPaths.promtool, ['check', 'rules', ...files]);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** `promtool test rules`, from the test file's folder: promtool resolves `rule_files` relative to it. */
export function promtoolTestRules(testFile: string): StepResult {
  const r = run(chartToolPaths.promtool, ['test', 'rules', basename(testFile)], { cwd: dirname(testFile) });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** A path relative to the working folder when it is inside it, else absolute. */
export function shortPath(p: string) {
  const rel = relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}

export interface PrometheusConfigCheck extends StepResult {
  /** The ConfigMaps checked: those carrying a prometheus.yml. */
  configMaps: string[];
}

/**
 * `promtool check config` on the prometheus.yml of every rendered ConfigMap that has one, and `promtool check rules` on the
 * rule files beside it: what the pod would load. --syntax-only, because rule_files and credentials point into the pod.
 */
export function promtoolCheckRenderedConfigs(manifests: Manifest[]): PrometheusConfigCheck {
  const configMaps = manifests.filter((m) => m.kind === 'ConfigMap' && typeof (m.object.data as Record<string, unknown> | undefined)?.['prometheus.yml'] === 'string');
  const names = configMaps.map((c) => c.name);
  const outputs: string[] = [];
  for (const cm of configMaps) {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-prometheus-'));
    try {
      const data = cm.object.data as Record<string, string>;
      for (const [file, text] of Object.entries(data)) writeFileSync(join(dir, file), text);
      const rules = Object.keys(data).filter((f) => f !== 'prometheus.yml' && /\.ya?ml$/.test(f));
      for (const args of [['check', 'config', '--syntax-only', 'prometheus.yml'], ...(rules.length ? [['check', 'rules', ...rules]] : [])]) {
        const r = run(chartToolPaths.promtool, args, { cwd: dir });
        outputs.push(`${cm.name}: promtool ${args.join(' ')}\n${`${r.stdout}${r.stderr}`.trim()}`);
        if (r.status !== 0) return { ok: false, output: outputs.join('\n'), configMaps: names };
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { ok: true, output: outputs.join('\n'), configMaps: names };
}
