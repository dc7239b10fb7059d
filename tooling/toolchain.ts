import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, cpSync, chmodSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FaultlineError, UsageError } from '../chaos/src/core/errors.ts';
import { k6Version } from '../chaos/src/core/versions.ts';
import { kafkaVersion, toolPaths, toolsDir } from '../chaos/src/platforms/local/tools.ts';
import { crdSchemas, kubernetesSchemas, objectMetaSchema, strictSchemaFolder, type JsonSchema } from './k8s-schemas.ts';

import { projectRoot } from '../chaos/src/core/paths.ts';
export { projectRoot } from '../chaos/src/core/paths.ts';
export { toolPaths, toolsDir };

/** Every real part the local runtime runs, pinned. */
export const pins = {
  redis: { apt: 'redis-server', versionPrefix: '7.0.' },
  prometheus: { apt: 'prometheus', versionPrefix: '2.42.' },
  // Headless, to check that drill reports render; Debian's security updates move it by major version.
  chromium: { apt: 'chromium', versionPrefix: '156.' },
  k6: { module: 'go.k6.io/k6', version: k6Version },
  toxiproxy: { module: 'github.com/Shopify/toxiproxy/v2', version: 'v2.12.0' },
  // Jaeger v2.13.0 is published to the Go proxy under its twin tag v1.76.0; its go.mod has a replace, so it is built from the module.
  jaeger: { module: 'github.com/jaegertracing/jaeger', version: 'v1.76.0', release: 'v2.13.0' },
  kafka: kafkaVersion,
  // Chart tooling. Built with Helm's own release ldflags, so it reports its version and assumes Kubernetes 1.36 without --kube-version.
  helm: { module: 'helm.sh/helm/v3', version: 'v3.21.4', kubeVersion: '1.36' },
  kubeconform: { module: 'github.com/yannh/kubeconform', version: 'v0.7.0' },
  // Checks the chart's prometheus.yml: Debian's promtool has no Kubernetes service discovery. The chart runs Prometheus
  // v2.53.5, which the Go proxy does not serve; v2.53.3 is the newest 2.53 it has, and patch releases keep the config format.
  promtool: { module: 'github.com/prometheus/prometheus', version: 'v0.53.3', release: 'v2.53.3' },
  // Only for tooling/kind/up.sh (`setup --with-kind`); its default node image is Kubernetes 1.37.0.
  kind: { module: 'sigs.k8s.io/kind', version: 'v0.33.0' },
  // The schemas kubeconform checks against: generated from the OpenAPI spec of this Kubernetes release (the same module a control plane builds from).
  kubernetesSchemas: { module: 'k8s.io/kubernetes', version: 'v1.36.3' },
  // The two prometheus-operator CRDs the chart renders when kube-prometheus-stack is installed.
  prometheusOperator: {
    module: 'github.com/prometheus-operator/prometheus-operator',
    version: 'v0.94.1',
    crds: ['example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml', 'example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml'],
  },
  // The real node's control plane and node binaries (`setup --with-node`) build from pins.kubernetesSchemas; etcd is
  // the version that release requires itself (and kubeadm ships).
  etcd: { module: 'go.etcd.io/etcd/server/v3', version: 'v3.6.8' },
  // A real node (`setup --with-node`): its runtime from Debian's apt, its DNS, NetworkPolicy enforcer and image tool from the Go proxy.
  nodeApt: [
    { apt: 'containerd', versionPrefix: '1.6.' },
    { apt: 'runc', versionPrefix: '1.1.' },
    { apt: 'containernetworking-plugins', versionPrefix: '1.1.' },
    { apt: 'iptables', versionPrefix: '1.8.' },
    { apt: 'ipset', versionPrefix: '7.' },
    { apt: 'conntrack', versionPrefix: '1.4.' },
    { apt: 'nftables', versionPrefix: '1.0.' },
    { apt: 'openssl', versionPrefix: '3.0.' },
    // Images without Docker (tooling/images): the project's Dockerfile built with buildah on a base from mmdebstrap.
    { apt: 'buildah', versionPrefix: '1.28.' },
    { apt: 'mmdebstrap', versionPrefix: '1.3.' },
  ],
  coredns: { module: 'github.com/coredns/coredns', version: 'v1.14.7' },
  // The only v2 release the Go proxy serves; its listing flags security issues, acceptable for a loopback test enforcer.
  kubeRouter: { module: 'github.com/cloudnativelabs/kube-router/v2', version: 'v2.1.0' },
  crane: { module: 'github.com/google/go-containerregistry', version: 'v0.22.1' },
} as const;

/** What `npm run charts:check` uses; the local runtime does not need these to start. */
export const chartToolPaths = {
  helm: join(toolsDir, 'bin', 'helm'),
  kubeconform: join(toolsDir, 'bin', 'kubeconform'),
  /** kubeconform's `-schema-location`; the strict schemas sit in its `v<version>-standalone-strict/` layout below. */
  kubeSchemas: join(toolsDir, 'k8s-schemas'),
  promtool: join(toolsDir, 'bin', 'promtool'),
};

/** The Kubernetes version to hand kubeconform (`-kubernetes-version`), matching the schema folder. */
export const kubeSchemaVersion = pins.kubernetesSchemas.version.slice(1);

/** Helm keeps its config, cache and data under `.tools/`, never in the user's home. */
export function helmEnv(): NodeJS.ProcessEnv {
  const home = join(toolsDir, 'helm-home');
  return { HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') };
}

/** Not needed to run the stack: only to check that drill reports render. */
export const chromiumPath = '/usr/bin/chromium';

/** A part that could not be installed (a registry that did not answer, a build that failed): worth running setup again. */
export class SetupError extends FaultlineError {
  override name = 'SetupError';
  constructor(message: string) {
    super(message, { retriable: true });
  }
}

type Log = (line: string) => void;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`, stdout: r.stdout ?? '' };
}

/** As run, without blocking the event loop, so that builds run side by side and each still prints that it is alive. */
function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Promise<ReturnType<typeof run>> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr = (stderr + text).slice(-64_000);
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) opts.onLine?.(line);
    });
    child.on('error', (err) => resolve({ ok: false, out: `${stdout}${stderr}${String(err)}`, stdout }));
    child.on('close', (code) => resolve({ ok: code === 0, out: `${stdout}${stderr}`, stdout }));
  });
}

/**
 * A `go build` or `go install` with -v, printing every 20 s how many modules it downloaded and packages it compiled,
 * so that a build of minutes shows it is alive.
 */
async function goBuild(log: Log, label: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const started = Date.now();
  let downloaded = 0;
  let compiled = 0;
  const count = (line: string) => (line.startsWith('go: downloading ') ? downloaded++ : /^[\w.-]+(\/[\w.~+-]+)*$/.test(line) && compiled++);
  const beat = setInterval(() => log(`  … ${label}: ${downloaded} modules downloaded, ${compiled} packages compiled, ${seconds(started)}`), 20_000);
  try {
    return await runAsync('go', [args[0]!, '-v', ...args.slice(1)], { ...opts, onLine: count });
  } finally {
    clearInterval(beat);
  }
}

function tail(text: string, lines = 12) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function stampOf(dir: string) {
  const file = join(dir, '.installed');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** Installs into a temporary folder and renames it into place, so a failure leaves nothing half-installed. */
async function installAtomically(finalDir: string, stamp: string, build: (tmp: string) => void | Promise<void>) {
  mkdirSync(toolsDir, { recursive: true });
  const tmp = mkdtempSync(join(toolsDir, '.tmp-'));
  try {
    await build(tmp);
    writeFileSync(join(tmp, '.installed'), `${stamp}\n`);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(tmp, finalDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function linkBin(target: string, name: string) {
  const bin = join(toolsDir, 'bin');
  mkdirSync(bin, { recursive: true });
  rmSync(join(bin, name), { force: true });
  symlinkSync(target, join(bin, name));
}

function aptVersion(pkg: string) {
  const r = run('dpkg-query', ['-W', '-f=${Status}|${Version}', pkg]);
  if (!r.ok || !r.out.startsWith('install ok installed')) return undefined;
  return r.out.split('|')[1]!.replace(/^\d+:/, '');
}

function ensureApt(log: Log, packages: { apt: string; versionPrefix: string }[]) {
  const missing = packages.filter((p) => !aptVersion(p.apt)?.startsWith(p.versionPrefix));
  for (const p of packages.filter((x) => !missing.includes(x))) log(`✓ ${p.apt} ${aptVersion(p.apt)} (apt)`);
  if (missing.length === 0) return;
  const names = missing.map((p) => p.apt);
  if (process.getuid?.() !== 0) {
    throw new UsageError(`apt packages missing: ${names.join(', ')}. Run as root, or: sudo apt-get install -y ${names.join(' ')}`);
  }
  log(`… installing ${names.join(', ')} from Debian's apt`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  let r = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...names], { env });
  if (!r.ok) {
    run('apt-get', ['update', '-q'], { env });
    r = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...names], { env });
  }
  if (!r.ok) throw new SetupError(`Debian's apt did not install ${names.join(', ')}:\n${tail(r.out)}`);
  for (const p of missing) {
    const v = aptVersion(p.apt);
    if (!v?.startsWith(p.versionPrefix)) throw new SetupError(`${p.apt} ${v} from apt is not the pinned ${p.versionPrefix}x`);
    log(`✓ ${p.apt} ${v} (apt, installed)`);
  }
}

function goEnv() {
  // The Go proxy here serves modules but not every @latest listing; without "direct" a failed lookup fails fast instead of hanging.
  return { GOPROXY: process.env.GOPROXY?.includes('proxy') ? process.env.GOPROXY.replace(/,direct$/, '') : 'https://proxy.golang.org', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
}

interface GoInstallOptions {
  /** Checks the freshly built binary before it is moved into place; throws SetupError if it is not what was pinned. */
  verify?: (bin: string) => void;
  /** Added to the stamp when the build depends on more than the module version (ldflags that change behaviour). */
  stampSuffix?: string;
}

async function ensureGoInstall(log: Log, name: string, pkg: string, version: string, binName: string, ldflags = '', opts: GoInstallOptions = {}) {
  const dir = join(toolsDir, name);
  const stamp = `${pkg}@${version}${opts.stampSuffix ?? ''}`;
  if (stampOf(dir) === stamp && existsSync(join(dir, binName))) {
    log(`✓ ${name} ${version} (go)`);
  } else {
    log(`… building ${name} ${version} with go install (a minute or two the first time)`);
    const started = Date.now();
    await installAtomically(dir, stamp, async (tmp) => {
      const args = ['install', '-trimpath', ...(ldflags ? ['-ldflags', ldflags] : []), `${pkg}@${version}`];
      const r = await goBuild(log, name, args, { env: { ...goEnv(), GOBIN: tmp } });
      if (!r.ok) throw new SetupError(`go install ${pkg}@${version} failed (Go module proxy):\n${tail(r.out)}`);
      opts.verify?.(join(tmp, binName));
    });
    log(`✓ ${name} ${version} (go, built in ${seconds(started)})`);
  }
  linkBin(join(dir, binName), name === 'toxiproxy' ? 'toxiproxy-server' : name);
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

function ensureHelm(log: Log) {
  const { module, version, kubeVersion } = pins.helm;
  const [major, minor] = kubeVersion.split('.');
  const ldflags = `-X ${module}/internal/version.version=${version} -X ${module}/pkg/chartutil.k8sVersionMajor=${major} -X ${module}/pkg/chartutil.k8sVersionMinor=${minor}`;
  return ensureGoInstall(log, 'helm', `${module}/cmd/helm`, version, 'helm', ldflags, { stampSuffix: ` kube ${kubeVersion}`, verify: (bin) => verifyHelm(bin, version, kubeVersion) });
}

/** The ldflags are strings Helm could silently ignore if a package moved: check that the binary reports both. */
function verifyHelm(bin: string, version: string, kubeVersion: string) {
  const v = run(bin, ['version', '--template', '{{.Version}}'], { env: helmEnv() });
  if (!v.ok || v.stdout.trim() !== version) throw new SetupError(`the helm just built reports ${JSON.stringify(v.out.trim())}, not ${version}`);
  const chart = mkdtempSync(join(toolsDir, '.tmp-helm-probe-'));
  try {
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: probe\nversion: 0.1.0\n');
    mkdirSync(join(chart, 'templates'));
    writeFileSync(join(chart, 'templates', 'kube.yaml'), '# kube {{ .Capabilities.KubeVersion.Version }}\n');
    const r = run(bin, ['template', 'probe', chart], { env: helmEnv() });
    const seen = /# kube (v\S+)/.exec(r.stdout)?.[1];
    if (!r.ok || !seen?.startsWith(`v${kubeVersion}.`)) throw new SetupError(`helm template assumes Kubernetes ${seen ?? '?'}, not ${kubeVersion}:\n${tail(r.out)}`);
  } finally {
    rmSync(chart, { recursive: true, force: true });
  }
}

/** `go mod download` of one pinned module: its source folder in the module cache (read-only) and zip size. */
async function goModDownload(module: string, version: string) {
  const started = Date.now();
  const r = await runAsync('go', ['mod', 'download', '-json', `${module}@${version}`], { env: goEnv(), cwd: toolsDir });
  if (!r.ok) throw new SetupError(`go mod download ${module}@${version} failed (Go module proxy):\n${tail(r.out)}`);
  const info = JSON.parse(r.stdout) as { Dir: string; Zip: string; Info: string };
  const time = (JSON.parse(readFileSync(info.Info, 'utf8')) as { Time: string }).Time;
  return { dir: info.Dir, zipBytes: statSync(info.Zip).size, took: seconds(started), time };
}

/**
 * Strict JSON schemas for every Kubernetes 1.36 kind and the prometheus-operator CRDs, generated from the pinned modules
 * into kubeconform's layout. The stamp includes a hash of the generator, so a change to it regenerates them.
 */
async function ensureKubeSchemas(log: Log) {
  const k8s = pins.kubernetesSchemas;
  const po = pins.prometheusOperator;
  const dir = chartToolPaths.kubeSchemas;
  const folder = strictSchemaFolder(kubeSchemaVersion);
  const generator = createHash('sha256').update(readFileSync(join(import.meta.dirname, 'k8s-schemas.ts'))).digest('hex').slice(0, 12);
  const stamp = `${k8s.module}@${k8s.version} ${po.module}@${po.version} generator ${generator}`;
  const label = `kubernetes ${kubeSchemaVersion} + prometheus-operator ${po.version} schemas`;
  if (stampOf(dir) === stamp && existsSync(join(dir, folder, 'deployment-apps-v1.json'))) {
    log(`✓ ${label} (generated)`);
    return;
  }
  log(`… generating ${label} from the Go modules`);
  const started = Date.now();
  await installAtomically(dir, stamp, async (tmp) => {
    const kube = await goModDownload(k8s.module, k8s.version);
    log(`  ${k8s.module}@${k8s.version}: ${(kube.zipBytes / 2 ** 20).toFixed(1)} MiB zip, ${kube.took}`);
    const swagger = JSON.parse(readFileSync(join(kube.dir, 'api', 'openapi-spec', 'swagger.json'), 'utf8')) as { definitions?: Record<string, unknown> };
    const files = kubernetesSchemas(swagger);
    const operator = await goModDownload(po.module, po.version);
    log(`  ${po.module}@${po.version}: ${(operator.zipBytes / 2 ** 20).toFixed(1)} MiB zip, ${operator.took}`);
    const meta = objectMetaSchema(swagger);
    for (const crd of po.crds) {
      for (const doc of parseAllDocuments(readFileSync(join(operator.dir, crd), 'utf8'))) {
        for (const [name, schema] of crdSchemas(doc.toJS(), meta)) files.set(name, schema);
      }
    }
    mkdirSync(join(tmp, folder));
    for (const [name, schema] of files) writeFileSync(join(tmp, folder, name), JSON.stringify(schema));
    writeFileSync(join(tmp, 'sources.json'), JSON.stringify({ kubernetes: `${k8s.module}@${k8s.version}`, crds: po.crds.map((c) => `${po.module}@${po.version}/${c}`), kinds: [...files.keys()].sort() }, null, 2));
    verifySchemas(tmp);
  });
  log(`✓ ${label} (generated in ${seconds(started)})`);
}

/** The schemas must reject, not just accept: a misspelled field and a wrong type each fail, a good Deployment passes. */
function verifySchemas(root: string) {
  const deployment = (spec: JsonSchema) => JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'probe' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, ...spec } });
  const check = (doc: string) => spawnSync(chartToolPaths.kubeconform, ['-strict', '-kubernetes-version', kubeSchemaVersion, '-schema-location', root, '-'], { input: doc, encoding: 'utf8' });
  const good = check(deployment({ replicas: 2 }));
  if (good.status !== 0) throw new SetupError(`the generated schemas reject a valid Deployment:\n${tail(`${good.stdout}${good.stderr}`)}`);
  for (const bad of [deployment({ replicass: 2 }), deployment({ replicas: 'two' })]) {
    if (check(bad).status === 0) throw new SetupError(`the generated schemas accept an invalid Deployment: ${bad}`);
  }
}

interface SourceBuild {
  /** The folder under `.tools/` and the name linked into `.tools/bin/`. */
  name: string;
  module: string;
  version: string;
  /** The version the tool reports, when its Go module is tagged differently. */
  release: string;
  /** The main package, relative to the module root. */
  pkg: string;
  ldflags?: string;
  verify?: (bin: string) => void;
}

// -buildvcs=false: the build folder sits inside this repository, whose commit Go would otherwise stamp into the binary.
const sourceBuildFlags = ['-trimpath', '-buildvcs=false'];

/** Builds a command inside its own module's source, for modules whose go.mod has replace directives (`go install` refuses those). */
async function ensureBuiltFromSource(log: Log, { name, module, version, release, pkg, ldflags, verify }: SourceBuild) {
  const dir = join(toolsDir, name);
  const stamp = `${module}@${version}/${pkg} ${sourceBuildFlags.join(' ')}${ldflags ? ` ldflags ${ldflags}` : ''}`;
  if (stampOf(dir) === stamp && existsSync(join(dir, name))) {
    log(`✓ ${name} ${release} (go)`);
  } else {
    log(`… building ${name} ${release} from ${module}@${version} (several minutes the first time)`);
    const started = Date.now();
    await installAtomically(dir, stamp, async (tmp) => {
      const src = join(tmp, 'src');
      cpSync((await goModDownload(module, version)).dir, src, { recursive: true });
      chmodSync(src, 0o755);
      run('chmod', ['-R', 'u+w', src]);
      const r = await goBuild(log, name, ['build', ...sourceBuildFlags, ...(ldflags ? ['-ldflags', ldflags] : []), '-o', join(tmp, name), pkg], { cwd: src, env: goEnv() });
      rmSync(src, { recursive: true, force: true });
      if (!r.ok) throw new SetupError(`building ${name} ${release} failed:\n${tail(r.out)}`);
      verify?.(join(tmp, name));
    });
    log(`✓ ${name} ${release} (go, built in ${seconds(started)})`);
  }
  linkBin(join(dir, name), name);
}

function ensureJaeger(log: Log) {
  return ensureBuiltFromSource(log, { name: 'jaeger', ...pins.jaeger, pkg: './cmd/jaeger' });
}

/** promtool and prometheus, at the chart's Prometheus minor, from one module (replace directives, so built from its source). */
function prometheusCommand(name: 'promtool' | 'prometheus'): SourceBuild {
  const { module, version, release } = pins.promtool;
  return {
    name,
    module,
    version,
    release,
    pkg: `./cmd/${name}`,
    ldflags: `-X github.com/prometheus/common/version.Version=${release.slice(1)}`,
    verify: (bin) => {
      const v = run(bin, ['--version']);
      if (!v.ok || !v.stdout.startsWith(`${name}, version ${release.slice(1)} `)) throw new SetupError(`the ${name} just built reports ${JSON.stringify(v.out.trim())}, not ${release}`);
    },
  };
}

/** promtool with Kubernetes service discovery, to check the chart's prometheus.yml. */
const ensurePromtool = (log: Log) => ensureBuiltFromSource(log, prometheusCommand('promtool'));

/** The server, for the chart's Prometheus image on a node here (its web UI's assets are not built: the API is what drills read). */
const ensurePrometheus = (log: Log) => ensureBuiltFromSource(log, prometheusCommand('prometheus'));

async function ensureKafka(log: Log) {
  const { version, scala } = pins.kafka;
  const dir = join(toolsDir, `kafka-${version}`);
  const stamp = `org.apache.kafka:kafka_${scala}:${version}`;
  if (stampOf(dir) === stamp && existsSync(join(dir, 'lib', `kafka_${scala}-${version}.jar`))) {
    log(`✓ kafka ${version} (maven)`);
    return;
  }
  log(`… fetching Apache Kafka ${version} broker jars from Maven Central`);
  await installAtomically(dir, stamp, async (tmp) => {
    writeFileSync(join(tmp, 'pom.xml'), kafkaPom(version, scala));
    const r = await runAsync('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', '-DoutputDirectory=lib'], { cwd: tmp });
    if (!r.ok) throw new SetupError(`Maven did not fetch kafka_${scala}:${version} (Maven Central):\n${tail(r.out)}`);
  });
  log(`✓ kafka ${version} (maven, fetched)`);
}

function kafkaPom(version: string, scala: string) {
  const dep = (g: string, a: string, v: string) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>dev.faultline</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
<dependencies>${dep('org.apache.kafka', `kafka_${scala}`, version)}${dep('ch.qos.reload4j', 'reload4j', '1.2.25')}${dep('org.slf4j', 'slf4j-reload4j', '1.7.36')}</dependencies></project>\n`;
}

function requireCommand(cmd: string, args: string[], hint: string) {
  if (!run(cmd, args).ok) throw new SetupError(`${cmd} is needed: ${hint}`);
}

/** Waits for every install to settle before it throws, so that no build is left running behind a failed one. */
async function allInstalled(installs: Promise<unknown>[]) {
  const failed = (await Promise.allSettled(installs)).filter((r) => r.status === 'rejected');
  if (failed.length > 0) throw failed[0]!.reason;
}

/**
 * Installs every part the local runtime needs (what `npm run demo` runs), and nothing else. The Go builds and the
 * Maven fetch run side by side: downloads overlap with compiling. Idempotent: a second run only checks stamps.
 */
export async function installToolchain(log: Log = console.log) {
  requireCommand('go', ['version'], 'install Go 1.22 or newer');
  requireCommand('java', ['-version'], 'install a Java 17 runtime');
  requireCommand('mvn', ['-v'], 'install Maven 3');
  ensureApt(log, [pins.redis, pins.prometheus]);
  await allInstalled([
    ensureJaeger(log),
    ensureGoInstall(log, 'k6', pins.k6.module, pins.k6.version, 'k6'),
    ensureGoInstall(log, 'toxiproxy', `${pins.toxiproxy.module}/cmd/server`, pins.toxiproxy.version, 'server', `-X ${pins.toxiproxy.module}.Version=${pins.toxiproxy.version.slice(1)}`),
    ensureKafka(log),
  ]);
}

/** What the test suites need beyond the runtime: the chart tooling, Chromium to check that reports and dashboards render, and Schemathesis. */
export async function installTestTooling(log: Log = console.log) {
  ensureApt(log, [pins.chromium]);
  await allInstalled([installChartTooling(log), ensureSchemathesis(log)]);
}

const schemathesisRequirements = join(projectRoot, 'tooling', 'schemathesis', 'requirements.txt');
/** Schemathesis's command, in its own virtual environment under `.tools/`. */
export const schemathesisPath = join(toolsDir, 'schemathesis', 'bin', 'st');

/** Schemathesis from PyPI into a venv, every package at the version its requirements file pins. */
async function ensureSchemathesis(log: Log) {
  requireCommand('python3', ['-m', 'venv', '--help'], 'install Python 3 with venv (apt: python3-venv)');
  const dir = join(toolsDir, 'schemathesis');
  const stamp = `sha256:${createHash('sha256').update(readFileSync(schemathesisRequirements)).digest('hex')}`;
  if (stampOf(dir) === stamp && existsSync(schemathesisPath)) {
    log(`✓ schemathesis (pypi)`);
    return;
  }
  log('… installing Schemathesis and its pinned requirements from PyPI');
  const started = Date.now();
  // Built in place: a venv's scripts name its own path, so it cannot be renamed into place.
  rmSync(dir, { recursive: true, force: true });
  const venv = await runAsync('python3', ['-m', 'venv', dir]);
  if (!venv.ok) throw new SetupError(`python3 -m venv ${dir} failed:\n${tail(venv.out)}`);
  const pip = await runAsync(join(dir, 'bin', 'pip'), ['install', '--quiet', '--no-input', '--disable-pip-version-check', '--no-deps', '-r', schemathesisRequirements]);
  if (!pip.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new SetupError(`pip did not install Schemathesis (PyPI):\n${tail(pip.out)}`);
  }
  writeFileSync(join(dir, '.installed'), `${stamp}\n`);
  log(`✓ schemathesis (pypi, installed in ${seconds(started)})`);
}

/** kind, for users with Docker who run the Kubernetes runtime: not needed by the tests, so only on request. */
export function installKind(log: Log = console.log) {
  requireCommand('go', ['version'], 'install Go 1.22 or newer');
  return ensureGoInstall(log, 'kind', pins.kind.module, pins.kind.version, 'kind');
}

/** What `npm run charts:check` needs: helm, kubeconform, the strict schemas and promtool (Go only; no apt, Java or Maven). */
export async function installChartTooling(log: Log = console.log) {
  requireCommand('go', ['version'], 'install Go 1.22 or newer');
  await allInstalled([
    ensurePromtool(log),
    ensureHelm(log),
    ensureGoInstall(log, 'kubeconform', `${pins.kubeconform.module}/cmd/kubeconform`, pins.kubeconform.version, 'kubeconform', `-X main.version=${pins.kubeconform.version}`),
  ]);
  // After kubeconform: the generated schemas are checked with it.
  await ensureKubeSchemas(log);
}

/** The control plane a node runs (tooling/cluster/node.ts); `npm run setup -- --with-node` installs it. */
export const controlPlanePaths = {
  etcd: join(toolsDir, 'control-plane', 'etcd'),
  kubeApiserver: join(toolsDir, 'control-plane', 'kube-apiserver'),
  kubeControllerManager: join(toolsDir, 'control-plane', 'kube-controller-manager'),
  kubeScheduler: join(toolsDir, 'control-plane', 'kube-scheduler'),
};

/** What a real node runs besides the control plane (tooling/cluster/node.ts); `npm run setup -- --with-node` installs them. */
export const nodePaths = {
  kubelet: join(toolsDir, 'control-plane', 'kubelet'),
  kubeProxy: join(toolsDir, 'control-plane', 'kube-proxy'),
  kubectl: join(toolsDir, 'control-plane', 'kubectl'),
  coredns: join(toolsDir, 'coredns', 'coredns'),
  /** The Prometheus server of the chart's image on a node here, from the same module as promtool. */
  prometheus: join(toolsDir, 'prometheus', 'prometheus'),
  kubeRouter: join(toolsDir, 'kube-router', 'kube-router'),
  crane: join(toolsDir, 'crane', 'crane'),
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  runc: '/usr/sbin/runc',
  /** Debian's containernetworking-plugins put them here, not in /opt/cni/bin. */
  cniBin: '/usr/lib/cni',
  /** The images tooling/images built: `[{ ref, archive }]`, pushed into the node's registry at start. */
  imageIndex: join(toolsDir, 'images', 'index.json'),
};

// The node's kubelet, kube-proxy and kubectl come from the same build: most of their packages are the control plane's.
const kubeCommands = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl'] as const;
/** How each binary reports its version: kubectl has no --version. */
const versionArgs = (bin: string) => (bin === 'kubectl' ? ['version', '--client'] : ['--version']);

// etcd's own main package is in go.etcd.io/etcd/v3, whose go.mod has replace directives, so Go will not build it as a
// dependency; its server library builds fine. This is all etcd's main.go does.
const etcdMain = `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`;

// No paths of this machine in the binaries; goEnv() makes them static (CGO_ENABLED=0).
const controlPlaneBuildFlags = ['-trimpath'];

/** The version stamps Kubernetes' own build sets (hack/lib/version.sh): without them the binaries report v0.0.0-master. */
function kubeVersionLdflags(version: string, buildDate: string) {
  const [major, minor] = version.slice(1).split('.');
  // "archive": built from the published source archive of the tag, not from a git tree.
  const vars = { gitVersion: version, gitMajor: major, gitMinor: minor, gitTreeState: 'archive', buildDate };
  const packages = ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version'];
  // -s -w as Kubernetes' release builds: no symbol tables, about a third smaller.
  return ['-s', '-w', ...packages.flatMap((pkg) => Object.entries(vars).map(([k, v]) => `-X ${pkg}.${k}=${v}`))].join(' ');
}

// One module for all four binaries, so one `go build` compiles their shared packages once.
const controlPlaneGoModTemplate = `// Generated by tooling/toolchain.ts: the control plane for \`npm run test:cluster\`.
module faultline.local/control-plane

{go}

require (
\t{kubernetes}
\t{etcd}
)

// k8s.io/kubernetes points these at its ./staging tree, which its module zip leaves out: the copies published for the tag.
replace (
{staging}
)
`;

/**
 * The control plane's go.mod. The staging modules (k8s.io/api, client-go, …; v1.36.3 publishes them as v0.36.3) are
 * read from the tag's own go.mod, so the list follows a version bump, as does its `go` line.
 */
function controlPlaneGoMod(kubeGoMod: string) {
  const kube = pins.kubernetesSchemas;
  const staging = [...kubeGoMod.matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\//gm)].map((m) => m[1]!);
  const goLine = /^go \S+$/m.exec(kubeGoMod)?.[0];
  if (staging.length < 20 || !goLine) throw new SetupError(`${kube.module}@${kube.version}'s go.mod has no staging replace block to follow`);
  const published = `v0.${kube.version.split('.').slice(1).join('.')}`;
  return controlPlaneGoModTemplate
    .replace('{go}', goLine)
    .replace('{kubernetes}', `${kube.module} ${kube.version}`)
    .replace('{etcd}', `${pins.etcd.module} ${pins.etcd.version}`)
    .replace('{staging}', staging.map((m) => `\t${m} => ${m} ${published}`).join('\n'));
}

/** etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl, each checked by its version before they are moved into place. */
async function ensureControlPlaneBinaries(log: Log) {
  const kube = pins.kubernetesSchemas;
  const etcd = pins.etcd;
  const dir = dirname(controlPlanePaths.etcd);
  const want: Record<string, string> = Object.fromEntries([...kubeCommands.map((c) => [c, c === 'kubectl' ? `Client Version: ${kube.version}` : `Kubernetes ${kube.version}`]), ['etcd', `etcd Version: ${etcd.version.slice(1)}`]]);
  // The recipe is what is built and how; a change to any of it rebuilds.
  const recipe = createHash('sha256').update([etcdMain, ...controlPlaneBuildFlags, kubeVersionLdflags(kube.version, ''), controlPlaneGoModTemplate, ...kubeCommands].join('\n')).digest('hex').slice(0, 12);
  const stamp = `${kube.module}@${kube.version} ${etcd.module}@${etcd.version} recipe ${recipe} (${Object.entries(want).map(([bin, v]) => `${bin}: ${v}`).join(', ')})`;
  const label = `control plane ${kube.version} + etcd ${etcd.version}`;
  if (stampOf(dir) === stamp && Object.keys(want).every((bin) => existsSync(join(dir, bin)))) {
    log(`✓ ${label} (go)`);
    return;
  }
  log(`… building ${label} from the Go module proxy (5–10 minutes the first time on 2 cores)`);
  const started = Date.now();
  await installAtomically(dir, stamp, async (tmp) => {
    const source = await goModDownload(kube.module, kube.version);
    // The module (with the go.sum the build resolved) stays next to the binaries: the exact versions they were built from.
    const mod = join(tmp, 'module');
    mkdirSync(join(mod, 'etcd'), { recursive: true });
    writeFileSync(join(mod, 'go.mod'), controlPlaneGoMod(readFileSync(join(source.dir, 'go.mod'), 'utf8')));
    writeFileSync(join(mod, 'etcd', 'main.go'), etcdMain);
    // buildDate is the tag's time from the proxy, so two builds of the pin report the same.
    const args = ['build', ...controlPlaneBuildFlags, '-ldflags', kubeVersionLdflags(kube.version, source.time), '-o', `${tmp}/`, './etcd', ...kubeCommands.map((c) => `${kube.module}/cmd/${c}`)];
    const r = await goBuild(log, 'control plane', args, { cwd: mod, env: goEnv() });
    if (!r.ok) throw new SetupError(`building the control plane from ${kube.module}@${kube.version} failed (Go module proxy):\n${tail(r.out)}`);
    const versions = Object.entries(want).map(([bin, expected]) => {
      const v = run(join(tmp, bin), versionArgs(bin));
      if (!v.ok || v.stdout.trim().split('\n')[0] !== expected) throw new SetupError(`the ${bin} just built reports ${JSON.stringify(v.out.trim())}, not ${expected}`);
      return `${bin}: ${v.stdout.trim().split('\n').join('; ')}`;
    });
    writeFileSync(join(tmp, 'versions.txt'), `${versions.join('\n')}\n`);
  });
  const bytes = Object.keys(want).reduce((sum, bin) => sum + statSync(join(dir, bin)).size, 0);
  log(`✓ ${label} (go, built in ${seconds(started)}, ${(bytes / 2 ** 20).toFixed(0)} MiB)`);
}

/** A real Kubernetes v1.36 from the Go module proxy: etcd, the control plane, kubelet, kube-proxy and kubectl, in one build. */
export async function installControlPlane(log: Log = console.log) {
  requireCommand('go', ['version'], 'install Go 1.26 or newer (Kubernetes 1.36 requires it)');
  await ensureControlPlaneBinaries(log);
}

// CoreDNS with only the plugins a cluster DNS needs (its own main, as CoreDNS documents for custom builds): its
// default build compiles every cloud provider's SDK, about three times the work. The order is core/dnsserver's.
const corednsDirectives = ['reload', 'ready', 'health', 'errors', 'log', 'loadbalance', 'cache', 'kubernetes', 'loop'];
const corednsMain = `package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
${corednsDirectives.map((d) => `\t_ "github.com/coredns/coredns/plugin/${d}"`).join('\n')}
)

func init() { dnsserver.Directives = []string{${corednsDirectives.map((d) => `"${d}"`).join(', ')}} }

func main() { coremain.Run() }
`;

async function ensureCoredns(log: Log) {
  const { module, version } = pins.coredns;
  const dir = dirname(nodePaths.coredns);
  const stamp = `${module}@${version} plugins ${corednsDirectives.join(',')}`;
  if (stampOf(dir) === stamp && existsSync(nodePaths.coredns)) {
    log(`✓ coredns ${version} (go)`);
    return;
  }
  log(`… building coredns ${version} with ${corednsDirectives.length} plugins (a few minutes the first time)`);
  const started = Date.now();
  await installAtomically(dir, stamp, async (tmp) => {
    const mod = join(tmp, 'module');
    mkdirSync(mod);
    writeFileSync(join(mod, 'go.mod'), `module faultline.local/coredns\n\ngo 1.26\n\nrequire ${module} ${version}\n`);
    writeFileSync(join(mod, 'main.go'), corednsMain);
    const r = await goBuild(log, 'coredns', ['build', '-trimpath', '-buildvcs=false', '-ldflags', '-s -w', '-o', join(tmp, 'coredns'), '.'], { cwd: mod, env: goEnv() });
    if (!r.ok) throw new SetupError(`building coredns ${version} failed (Go module proxy):\n${tail(r.out)}`);
    const v = run(join(tmp, 'coredns'), ['-version']);
    if (!v.ok || !v.out.includes(`CoreDNS-${version.slice(1)}`)) throw new SetupError(`the coredns just built reports ${JSON.stringify(v.out.trim())}, not ${version}`);
    const plugins = run(join(tmp, 'coredns'), ['-plugins']).out.split('\n').map((l) => l.trim().replace(/^dns\./, ''));
    for (const d of corednsDirectives) if (!plugins.includes(d)) throw new SetupError(`the coredns just built has no ${d} plugin:\n${plugins}`);
  });
  log(`✓ coredns ${version} (go, built in ${seconds(started)})`);
}

/** A real node for `npm run test:cluster` and `npm run cluster:up`: containerd, runc and the CNI plugins from apt; kubelet, kube-proxy and kubectl with the control plane; CoreDNS, kube-router and crane from the Go proxy. */
export async function installNode(log: Log = console.log) {
  requireCommand('gcc', ['--version'], 'install gcc (it builds the pause image, statically)');
  ensureApt(log, [...pins.nodeApt]);
  await installControlPlane(log);
  await ensureCoredns(log);
  const router = pins.kubeRouter;
  await ensureGoInstall(log, 'kube-router', `${router.module}/cmd/kube-router`, router.version, 'kube-router', `-s -w -X ${router.module}/pkg/version.Version=${router.version}`, {
    verify: (bin) => {
      const v = run(bin, ['--version']);
      if (!v.out.includes(router.version)) throw new SetupError(`the kube-router just built reports ${JSON.stringify(v.out.trim())}, not ${router.version}`);
    },
  });
  await ensureGoInstall(log, 'crane', `${pins.crane.module}/cmd/crane`, pins.crane.version, 'crane', '-s -w');
  await ensurePrometheus(log);
}

