// The chart's promises, checked on real `helm template` output: least-privilege RBAC equal to what the driver needs,
// non-root pods with requests and limits, probes and disruption budgets, a values schema that refuses bad input, and
// Dockerfiles and kind-config.yaml that agree with the chart.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { chaosRoleRules, drillRunnerRules, sortRules, type PolicyRule } from '../../chaos/src/platforms/kubernetes/rbac.ts';
import { helmEnv, projectRoot, chartToolPaths } from '../../tooling/toolchain.ts';
import { jaegerBudgetMb, replicaLimitMb } from '../../chaos/src/platforms/local/configs.ts';

const chart = join(projectRoot, 'charts/faultline');
const scenarios = ['default', ...readdirSync(join(chart, 'ci')).filter((f) => f.endsWith('-values.yaml'))];

type Manifest = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

function helmTemplate(args: string[]) {
  const r = spawnSync(chartToolPaths.helm, ['template', 'faultline', chart, '--namespace', 'faultline', ...args], { encoding: 'utf8', env: { ...process.env, ...helmEnv() } });
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

function render(scenario: string): Manifest[] {
  const r = helmTemplate(scenario === 'default' ? [] : ['-f', join(chart, 'ci', scenario)]);
  if (!r.ok) throw new Error(`helm template (${scenario}) failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
}

/** The ConfigMaps and Secrets a pod reads, as Kind/name: volumes (projected too), env and envFrom. */
function configReferences(spec: any): Set<string> {
  const refs = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (v.configMap) refs.add(`ConfigMap/${v.configMap.name}`);
    if (v.secret) refs.add(`Secret/${v.secret.secretName}`);
    for (const src of v.projected?.sources ?? []) {
      if (src.configMap) refs.add(`ConfigMap/${src.configMap.name}`);
      if (src.secret) refs.add(`Secret/${src.secret.name}`);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) refs.add(`Secret/${e.valueFrom.secretKeyRef.name}`);
      if (e.valueFrom?.configMapKeyRef) refs.add(`ConfigMap/${e.valueFrom.configMapKeyRef.name}`);
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef) refs.add(`Secret/${e.secretRef.name}`);
      if (e.configMapRef) refs.add(`ConfigMap/${e.configMapRef.name}`);
    }
  }
  return refs;
}

const podSpecOf = (m: Manifest) => (m.kind === 'Pod' ? m.spec : m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template.spec : m.spec?.template?.spec);
const workloads = (ms: Manifest[]) => ms.filter((m) => podSpecOf(m));

describe.each(scenarios)('chart scenario %s', (scenario) => {
  const manifests = render(scenario);

  it('grants nothing cluster-wide, and the chaos Role holds exactly the rules the driver needs', () => {
    expect(manifests.filter((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toEqual([]);
    const chaosRoles = manifests.filter((m) => m.kind === 'Role' && m.metadata.name.endsWith('-chaos-controller'));
    expect(chaosRoles.length).toBeGreaterThan(0);
    for (const role of chaosRoles) expect(sortRules(role.rules as PolicyRule[])).toEqual(chaosRoleRules);
    const bindings = manifests.filter((m) => m.kind === 'RoleBinding' && m.metadata.name.endsWith('-chaos-controller'));
    expect(bindings.map((b) => b.metadata.namespace ?? 'faultline').sort()).toEqual(chaosRoles.map((r) => r.metadata.namespace ?? 'faultline').sort());
  });

  it('ships the drill runner’s Role with exactly the rules a drill from outside the cluster needs', () => {
    const roles = manifests.filter((m) => m.kind === 'Role' && m.metadata.name.endsWith('-drill-runner'));
    expect(roles).toHaveLength(1);
    expect(sortRules(roles[0]!.rules as PolicyRule[])).toEqual(drillRunnerRules('faultline'));
  });

  it('runs every pod as non-root with memory requests and limits on every container', () => {
    for (const w of workloads(manifests)) {
      const spec = podSpecOf(w);
      expect(spec.securityContext?.runAsNonRoot, `${w.kind}/${w.metadata.name}`).toBe(true);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const where = `${w.kind}/${w.metadata.name} container ${c.name}`;
        expect(c.resources?.requests?.memory, where).toBeTruthy();
        expect(c.resources?.limits?.memory, where).toBeTruthy();
        expect(c.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(c.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
      }
    }
  });

  it("keeps Kafka's log directory in a folder of its volume, not at its root, where a fresh ext4 volume has lost+found", () => {
    const kafka = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata.name.endsWith('-kafka'))!;
    const container = podSpecOf(kafka).containers.find((c: { name: string }) => c.name === 'kafka');
    const mount = container.volumeMounts.find((v: { name: string }) => v.name === 'data').mountPath;
    const logDirs = container.env.find((e: { name: string }) => e.name === 'KAFKA_LOG_DIRS').value;
    expect(logDirs).toBe(`${mount}/logs`);
  });

  it('rolls each pod when a ConfigMap or Secret it reads changes: a checksum/<name> annotation for each one the chart renders', () => {
    const rendered = new Set(manifests.filter((m) => m.kind === 'ConfigMap' || m.kind === 'Secret').map((m) => `${m.kind}/${m.metadata.name}`));
    // Generated once and kept across upgrades (by lookup), with no value that changes them: nothing to roll for.
    const values = scenario === 'default' ? {} : parse(readFileSync(join(chart, 'ci', scenario), 'utf8'));
    const generated = new Set(['Secret/faultline-grafana', ...(values.apiKeys ? [] : ['Secret/faultline-api-keys'])]);
    for (const w of workloads(manifests).filter((m) => m.kind !== 'Pod')) {
      const annotations = (w.kind === 'CronJob' ? w.spec.jobTemplate.spec.template : w.spec.template).metadata?.annotations ?? {};
      for (const ref of configReferences(podSpecOf(w))) {
        if (!rendered.has(ref) || generated.has(ref)) continue;
        expect(annotations[`checksum/${ref.split('/')[1]!.replace(/^faultline-/, '')}`], `${w.kind}/${w.metadata.name} reads ${ref}`).toMatch(/^[0-9a-f]{16}$/);
      }
    }
  });

  it('opens no node port unless the scenario asks for one (the kind values)', () => {
    const nodePorts = manifests.filter((m) => m.kind === 'Service' && m.spec.type === 'NodePort').map((m) => m.metadata.name);
    expect(nodePorts.sort()).toEqual(scenario === 'kind-values.yaml' ? ['faultline-gateway', 'faultline-grafana', 'faultline-jaeger', 'faultline-prometheus'] : []);
  });

  it('gives each shop service probes, a preStop delay and, with more than one replica, a disruption budget', () => {
    const shop = manifests.filter((m) => m.kind === 'Deployment' && m.metadata.labels?.['app.kubernetes.io/component'] === 'shop');
    expect(shop.map((d) => d.metadata.labels!['app.kubernetes.io/name']).sort()).toEqual(['catalog', 'gateway', 'kitchen', 'orders']);
    const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
    for (const d of shop) {
      const c = d.spec.template.spec.containers[0];
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.lifecycle.preStop.sleep.seconds).toBeGreaterThan(0);
      const budget = budgets.find((b) => b.metadata.name === d.metadata.name);
      if (d.spec.replicas > 1) expect(budget?.spec.selector.matchLabels, d.metadata.name).toEqual(d.spec.selector.matchLabels);
    }
  });

  it('labels every object with the app.kubernetes.io set, and every pod so that the chaos driver can select it', () => {
    for (const m of manifests) {
      for (const key of ['name', 'instance', 'part-of', 'managed-by', 'component']) expect(m.metadata.labels?.[`app.kubernetes.io/${key}`], `${m.kind}/${m.metadata.name} ${key}`).toBeTruthy();
    }
    for (const w of workloads(manifests).filter((m) => m.kind !== 'Pod')) {
      const labels = w.spec.template.metadata.labels;
      expect(labels['app.kubernetes.io/name'], w.metadata.name).toBeTruthy();
      expect(labels['app.kubernetes.io/instance']).toBe('faultline');
    }
  });
});

describe('the ha profile (ci/ha-values.yaml)', () => {
  const manifests = render('ha-values.yaml');
  const named = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === `faultline-${name}`)!;
  const envOf = (m: Manifest) => Object.fromEntries((podSpecOf(m).containers[0].env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));

  it('runs three Redis nodes, three Sentinels and three Kafka nodes, started together, each with a disruption budget of one', () => {
    for (const part of ['redis', 'redis-sentinel', 'kafka']) {
      expect(named('StatefulSet', part).spec).toMatchObject({ replicas: 3, podManagementPolicy: 'Parallel' });
      expect(named('PodDisruptionBudget', part).spec.maxUnavailable).toBe(1);
    }
    expect(manifests.find((m) => m.kind === 'Service' && m.metadata.name === 'faultline-redis')).toBeUndefined(); // no Service balancing over replicas
  });

  it('points every service at the Sentinels, and makes orders and kitchen wait for a replica', () => {
    for (const service of ['gateway', 'catalog', 'orders', 'kitchen']) {
      const env = envOf(named('Deployment', service));
      expect(env).toMatchObject({ REDIS_SENTINELS: 'faultline-redis-sentinel:26379', REDIS_SENTINEL_MASTER: 'faultline' });
      expect(env.REDIS_URL).toBeUndefined();
      expect(env.REDIS_WAIT_REPLICAS).toBe(service === 'orders' || service === 'kitchen' ? '1' : undefined);
    }
  });

  it('forms one KRaft quorum of three, replicating orders.placed three times with min.insync.replicas 2', () => {
    const env = envOf(named('StatefulSet', 'kafka'));
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS!.split(',')).toEqual([0, 1, 2].map((i) => `${i}@faultline-kafka-${i}.faultline-kafka-headless.faultline.svc:9093`));
    expect(env).toMatchObject({ KAFKA_DEFAULT_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2', KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '3', KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '2' });
    expect(podSpecOf(named('Job', 'kafka-topics')).containers[0].command).toEqual(expect.arrayContaining(['--replication-factor=3', '--config=min.insync.replicas=2']));
  });

  it("ships start scripts that the shell parses", () => {
    const scripts = named('ConfigMap', 'redis-ha').data as Record<string, string>;
    expect(Object.keys(scripts).sort()).toEqual(['lib.sh', 'redis.sh', 'sentinel.sh']);
    for (const [name, text] of Object.entries(scripts)) {
      const r = spawnSync('sh', ['-n'], { input: text, encoding: 'utf8' });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('a platform team\'s placement (ci/placement-values.yaml)', () => {
  const manifests = render('placement-values.yaml');
  const templateOf = (w: Manifest) => (w.kind === 'Pod' ? w : w.kind === 'CronJob' ? w.spec.jobTemplate.spec.template : w.spec.template);

  it('pulls every image from the mirror, with the pull secrets', () => {
    for (const w of workloads(manifests)) {
      const spec = podSpecOf(w);
      expect(spec.imagePullSecrets, `${w.kind}/${w.metadata.name}`).toEqual([{ name: 'mirror-pull' }, { name: 'second-pull' }]);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) expect(c.image, `${w.kind}/${w.metadata.name}`).toMatch(/^mirror\.example\.com:5000\/faultline-mirror\/[a-z]/);
    }
    const controller = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'faultline-chaos-controller')!;
    expect(podSpecOf(controller).containers[0].env).toContainEqual({ name: 'FAULTLINE_K6_IMAGE', value: 'mirror.example.com:5000/faultline-mirror/grafana/k6:1.8.1' });
  });

  it('schedules every part\'s pods where the team said, with its priority, labels and annotations', () => {
    for (const w of workloads(manifests).filter((m) => m.kind !== 'Pod')) {
      const where = `${w.kind}/${w.metadata.name}`;
      const spec = podSpecOf(w);
      expect(spec.nodeSelector, where).toEqual({ pool: 'chaos-lab' });
      expect(spec.tolerations, where).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'chaos-lab', effect: 'NoSchedule' }]);
      expect(spec.affinity?.nodeAffinity, where).toBeDefined();
      expect(spec.priorityClassName, where).toBe('chaos-lab');
      expect(templateOf(w).metadata.labels, where).toMatchObject({ 'cost-center': 'lab', 'app.kubernetes.io/part-of': 'faultline' });
      expect(templateOf(w).metadata.annotations, where).toMatchObject({ team: 'platform' });
    }
  });

  it('pins the digests, leaves the ids to OpenShift, names the ServiceAccounts and sets the probe timings it asks for', () => {
    const deployment = (name: string) => manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === name)!;
    expect(podSpecOf(deployment('faultline-gateway')).containers[0].image).toMatch(/\/faultline\/gateway:0\.1\.0@sha256:1{64}$/);
    expect(podSpecOf(deployment('faultline-chaos-controller')).containers[0].image).toMatch(/@sha256:5{64}$/);
    for (const w of workloads(manifests)) expect(Object.keys(podSpecOf(w).securityContext), `${w.kind}/${w.metadata.name}`).not.toContain('runAsUser');
    expect(podSpecOf(deployment('faultline-chaos-controller')).serviceAccountName).toBe('team-chaos');
    expect(podSpecOf(deployment('faultline-prometheus')).serviceAccountName).toBe('team-prometheus');
    expect(podSpecOf(deployment('faultline-gateway')).containers[0].readinessProbe.periodSeconds).toBe(1);
    expect(podSpecOf(deployment('faultline-gateway')).containers[0].livenessProbe.failureThreshold).toBe(6);
  });

  it('keeps the default spread over nodes, counted per ReplicaSet, unless a part sets its own', () => {
    const gateway = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'faultline-gateway')!;
    expect(podSpecOf(gateway).topologySpreadConstraints[0].matchLabelKeys).toEqual(['pod-template-hash']);
    const r = helmTemplate(['--set-json', 'services.gateway.topologySpreadConstraints=[{"maxSkew":2,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"x"}}}]']);
    const custom = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Manifest).find((m) => m?.kind === 'Deployment' && m.metadata.name === 'faultline-gateway')!;
    expect(podSpecOf(custom).topologySpreadConstraints).toEqual([{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'x' } } }]);
  });

  it('takes `global` from a parent chart, with keys of the parent\'s own', () => {
    expect(helmTemplate(['--set', 'global.storageClass=fast', '--set', 'global.imageRegistry=registry.local']).ok).toBe(true);
    const bad = helmTemplate(['--set', 'global.imageRegistry=Not A Registry']);
    expect(bad.ok).toBe(false);
    expect(bad.stderr).toMatch(/imageRegistry/);
  });
});

describe('knobs for other clusters', () => {
  const renderWith = (...args: string[]) => {
    const r = helmTemplate(args);
    if (!r.ok) throw new Error(r.stderr);
    return parseAllDocuments(r.stdout).map((d) => d.toJSON() as Manifest).filter(Boolean);
  };
  const gatewayOf = (ms: Manifest[]) => podSpecOf(ms.find((m) => m.kind === 'Deployment' && m.metadata.name === 'faultline-gateway')!);

  it('global.openshift leaves every pod without fixed ids, still non-root', () => {
    for (const w of workloads(renderWith('--set', 'global.openshift=true'))) {
      const sc = podSpecOf(w).securityContext;
      expect(sc, `${w.kind}/${w.metadata.name}`).toMatchObject({ runAsNonRoot: true });
      expect(Object.keys(sc).filter((k) => ['runAsUser', 'runAsGroup', 'fsGroup'].includes(k)), `${w.kind}/${w.metadata.name}`).toEqual([]);
    }
  });

  it('image.digests pins a part\'s image', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(gatewayOf(renderWith('--set', `image.digests.gateway=${digest}`)).containers[0].image).toBe(`faultline/gateway:0.1.0@${digest}`);
    expect(helmTemplate(['--set', 'image.digests.gateway=latest']).stderr).toMatch(/digests/);
  });

  it('names the ServiceAccounts as asked, with annotations, everywhere they are used', () => {
    const ms = renderWith('--set', 'chaos.serviceAccount.name=chaos-sa', '--set', 'chaos.serviceAccount.annotations.iam\\.example/role=chaos', '--set', 'prometheus.serviceAccount.name=prom-sa');
    expect(ms.filter((m) => m.kind === 'ServiceAccount').map((m) => m.metadata.name).sort()).toEqual(['chaos-sa', 'prom-sa']);
    expect(ms.find((m) => m.metadata.name === 'chaos-sa')!.metadata.annotations).toEqual({ 'iam.example/role': 'chaos' });
    const accountOf = (name: string) => podSpecOf(ms.find((m) => m.kind === 'Deployment' && m.metadata.name === name)!).serviceAccountName;
    expect([accountOf('faultline-chaos-controller'), accountOf('faultline-prometheus')]).toEqual(['chaos-sa', 'prom-sa']);
    for (const b of ms.filter((m) => m.kind === 'RoleBinding' && /chaos-controller|prometheus/.test(m.metadata.name))) expect(['chaos-sa', 'prom-sa']).toContain(b.subjects[0].name);
    for (const p of ms.filter((m) => m.kind === 'ValidatingAdmissionPolicy')) expect(p.spec.matchConditions[0].expression).toContain('system:serviceaccount:faultline:chaos-sa');
  });

  it('probe timings override the defaults, one field at a time', () => {
    const c = gatewayOf(renderWith('--set', 'services.gateway.probes.readiness.periodSeconds=1', '--set', 'services.gateway.probes.liveness.failureThreshold=5')).containers[0];
    expect(c.readinessProbe).toMatchObject({ periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 2, httpGet: { path: '/readyz' } });
    expect(c.livenessProbe).toMatchObject({ periodSeconds: 10, failureThreshold: 5 });
    expect(helmTemplate(['--set', 'services.gateway.probes.liveness.successThreshold=2']).ok).toBe(false);
  });
});

describe('secrets the platform team manages (existingApiKeysSecret, grafana.existingSecret)', () => {
  const args = ['--set', 'existingApiKeysSecret=team-keys', '--set', 'grafana.existingSecret=team-grafana'];
  const rendered = () => {
    const r = helmTemplate(args);
    if (!r.ok) throw new Error(r.stderr);
    return r.stdout;
  };
  const manifests = parseAllDocuments(rendered()).map((d) => d.toJSON() as Manifest).filter(Boolean);
  const secretRefs = (name: string) => JSON.stringify(podSpecOf(workloads(manifests).find((m) => m.metadata.name === name)!)).match(/"secretKeyRef":\{"name":"[^"]+"/g) ?? [];

  it('renders no Secret of its own, and the same output every time (no random keys or password)', () => {
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    expect(rendered()).toBe(rendered());
  });

  it('points every reader at them: the gateway, the helm test, the drill runner, the controller, Grafana and the k6 Jobs', () => {
    expect(secretRefs('faultline-gateway')).toEqual(['"secretKeyRef":{"name":"team-keys"']);
    expect(secretRefs('faultline-test-connections')).toEqual(['"secretKeyRef":{"name":"team-keys"']);
    expect(secretRefs('faultline-grafana')).toEqual(['"secretKeyRef":{"name":"team-grafana"']);
    expect(secretRefs('faultline-chaos-controller')).toEqual(['"secretKeyRef":{"name":"team-grafana"']);
    const runner = manifests.find((m) => m.kind === 'Role' && m.metadata.name.endsWith('-drill-runner'))!;
    expect(runner.rules.find((r: PolicyRule) => r.resources.includes('secrets')).resourceNames).toEqual(['team-keys']);
    expect(manifests.find((m) => m.metadata.name === 'faultline-drill-settings')!.data.apiKeySecret).toBe('team-keys');
    const policy = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicy' && m.metadata.name.endsWith('chaos-jobs'))!;
    expect(JSON.stringify(policy.spec.validations)).toContain("secretKeyRef.name == 'team-keys'");
  });
});

describe("the bundled Prometheus's scrape configuration", () => {
  const configMap = render('default').find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'faultline-prometheus')!;
  const job = (parse(configMap.data['prometheus.yml']) as { scrape_configs: Array<Record<string, any>> }).scrape_configs.find((j) => j.job_name === 'faultline')!;

  it("keeps the services' and the controller's own labels (honor_labels), so none becomes exported_*", () => {
    expect(job.honor_labels).toBe(true);
  });

  it.each([
    ['10.244.0.17', '10.244.0.17:8080'],
    ['fd00:10:244::17', '[fd00:10:244::17]:8080'],
    ['2001:db8:0:1:2:3:4:5', '[2001:db8:0:1:2:3:4:5]:8080'],
  ])('scrapes a pod at %s on %s', (ip, address) => {
    // Prometheus's replace action: the joined source labels against the anchored regex, the replacement expanded.
    let target: string | undefined;
    for (const rule of job.relabel_configs.filter((r: { target_label?: string }) => r.target_label === '__address__')) {
      const m = new RegExp(`^(?:${rule.regex})$`).exec(['8080', ip].join(';'));
      if (m) target = (rule.replacement as string).replace(/\$(\d+)/g, (_, i: string) => m[Number(i)] ?? '');
    }
    expect(target).toBe(address);
  });
});

describe('checksum annotations', () => {
  const annotationsOf = (args: string[], deployment: string) => {
    const r = helmTemplate(args);
    if (!r.ok) throw new Error(r.stderr);
    const d = parseAllDocuments(r.stdout).map((doc) => doc.toJSON() as Manifest).find((m) => m?.kind === 'Deployment' && m.metadata.name === deployment);
    return d!.spec.template.metadata.annotations as Record<string, string>;
  };
  it.each([
    ["Jaeger's trace cap", ['--set', 'jaeger.maxTraces=5000'], 'faultline-jaeger', 'checksum/jaeger'],
    ["Prometheus's scrape interval, in Grafana's datasource", ['--set', 'prometheus.scrapeInterval=5s'], 'faultline-grafana', 'checksum/grafana-provisioning'],
    ['the API keys', ['--set', 'apiKeys.local=abcdefghijklmnop2'], 'faultline-gateway', 'checksum/api-keys'],
  ])('a change to %s rolls the pods that read it', (_what, args, deployment, annotation) => {
    const base = deployment === 'faultline-gateway' ? ['--set', 'apiKeys.local=abcdefghijklmnop1'] : [];
    const before = annotationsOf(base, deployment)[annotation];
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    expect(annotationsOf(args, deployment)[annotation]).not.toBe(before);
  });
});

describe('the values schema', () => {
  it.each([
    [['--set', 'replicaCount=3'], 'replicaCount'],
    [['--set', 'services.gateway.replicas=0'], 'replicas'],
    [['--set', 'resilience=maybe'], 'resilience'],
    [['--set', 'services.orders.settings.lower_case=1'], 'lower_case'],
    [['--set', 'kafka.heap=lots'], 'heap'],
    [['--set', 'services.gateway.service.nodePort=80'], 'nodePort'],
    [['--set', 'topology=cluster'], 'topology'],
    [['--set', 'redis.sentinel.downAfterMilliseconds=10'], 'downAfterMilliseconds'],
  ])('refuses %j, naming %s', (args, named) => {
    const r = helmTemplate(args);
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('values don\'t meet the specifications of the schema');
    expect(r.stderr).toContain(named);
  });
});

describe('images and the kind cluster agree with the chart', () => {
  const pinnedNode = readFileSync(join(projectRoot, '.nvmrc'), 'utf8').trim();

  it('the Dockerfile builds every image multi-stage, on the pinned Node, running as a non-root user', () => {
    const text = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
    expect(text).toContain(`ARG NODE_VERSION=${pinnedNode}`);
    expect(JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).dependencies.node).toBe(pinnedNode);
    const stages = text.split('\nFROM ').slice(1).map((stage) => ({ from: stage.split('\n')[0]!, body: stage }));
    for (const { from } of stages) expect(from).toMatch(/^(node:\$\{NODE_VERSION\}-\S+|manifests|runtime) AS [\w-]+$/);
    for (const target of ['service', 'controller']) {
      const stage = stages.find((s) => s.from.endsWith(` AS ${target}`));
      expect(stage?.body, target).toMatch(/\nCOPY --from=\w[\w-]*-deps /);
      expect(stage?.body, target).toMatch(/\nUSER node\n/);
    }
  });

  it('kind-config.yaml has one control plane and two workers, mapping the node ports of the kind values to loopback', () => {
    const kind = parse(readFileSync(join(projectRoot, 'kind-config.yaml'), 'utf8'));
    expect(kind.nodes.map((n: { role: string }) => n.role)).toEqual(['control-plane', 'worker', 'worker']);
    const values = parse(readFileSync(join(chart, 'ci', 'kind-values.yaml'), 'utf8'));
    expect(readFileSync(join(projectRoot, 'tooling/kind/up.sh'), 'utf8')).toContain('-f charts/faultline/ci/kind-values.yaml');
    const nodePorts = [values.services.gateway.service.nodePort, values.grafana.service.nodePort, values.prometheus.service.nodePort, values.jaeger.service.nodePort];
    const mappings = kind.nodes[0].extraPortMappings as Array<{ containerPort: number; listenAddress: string }>;
    expect(mappings.map((m) => m.containerPort).sort()).toEqual([...nodePorts].sort());
    for (const m of mappings) expect(m.listenAddress).toBe('127.0.0.1');
  });
});

describe('the soak holds the local runtime to the chart', () => {
  it("judges a local replica's and Jaeger's memory by the limits the chart gives their pods", () => {
    const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8'));
    const mb = (quantity: string) => Number(/^(\d+)Mi$/.exec(quantity)?.[1]);
    for (const svc of ['gateway', 'catalog', 'orders', 'kitchen']) expect(mb(values.services[svc].resources.limits.memory), svc).toBe(replicaLimitMb);
    expect(mb(values.jaeger.resources.limits.memory)).toBe(jaegerBudgetMb);
  });
});
