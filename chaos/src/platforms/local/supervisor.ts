import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import express from 'express';
import { Kafka, logLevel } from 'kafkajs';
import { Counter, Gauge, Registry } from 'prom-client';
import { ServiceBalancer } from './balancer.ts';
import { jaegerConfig, kafkaClientProxy, kafkaLog4j, kafkaProperties, prometheusConfig, scrapeIntervalSeconds } from './configs.ts';
import { kafkaNodeRestartDelayMs, kafkaViewReader, ordersTopic } from './kafka-ha.ts';
import { edges, paths, portsFor, proxiesFor, serviceNames, type ProxySpec, type RuntimeOptions, type ServiceName } from './layout.ts';
import { natMapFor, probeClient, redisAuthConfig, redisNodeArgs, redisNodeRestartDelayMs, sentinelConfig, sentinelMaster, tuneSentinel, redisViewReader } from './redis-ha.ts';
import { ManagedProcess, type ProcessSpec } from './process.ts';
import { projectRoot } from '../../core/paths.ts';
import { toolPaths } from './tools.ts';
import { UsageError } from '../../core/errors.ts';
import { notFound, onError } from './control-fallbacks.ts';
import { readSecret, requireToken, secretFile, type StackSecret } from './stack-secrets.ts';
import { createToxiproxy } from './toxiproxy.ts';
import { FaultAgent, edgeFaultRequest, pauseFaultRequest, trackedFaultRequest } from './agent.ts';
import { z } from 'zod';
import { loopbackOnly } from '../../core/loopback-guard.ts';
import { startDashboardServer, type DashboardServer } from '../../dashboard/server.ts';

const httpOk = (url: string, timeoutMs = 800) =>
  fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    .then(async (r) => {
      await r.arrayBuffer();
      return r.ok;
    })
    .catch(() => false);

export type Phase = 'starting' | 'ready' | 'stopping';

/** A service exited 2 at start-up: a setting (e.g. from `up --set`) is malformed. */
export class SettingsRefused extends UsageError {
  override name = 'SettingsRefused';
}

export interface Component {
  name: string;
  kind: 'infra' | 'replica';
  service?: ServiceName;
  replica?: number;
  port: number;
  url: string;
  process: ManagedProcess;
}

/** Runs the whole shop on loopback and keeps it running, as a ReplicaSet and kubelet would. */
export class Supervisor {
  readonly opts: RuntimeOptions;
  readonly ports;
  readonly files;
  readonly apiKeys: Record<string, string>;
  phase: Phase = 'starting';
  readonly components: Component[] = [];
  private readonly balancers = new Map<ServiceName, ServiceBalancer>();
  private probeTimer?: NodeJS.Timeout;
  private storesTimer?: NodeJS.Timeout;
  private redisView?: ReturnType<typeof redisViewReader>;
  private readonly registry = new Registry();
  private readonly proxies: ProxySpec[];
  /** In the HA topology, the Redis node the Sentinels name primary, read every 500 ms. */
  private redisPrimary?: string;
  private readonly primaryMetric = new Gauge({ name: 'faultline_redis_primary', help: 'HA topology: 1 for the Redis node the Sentinels name primary, 0 for the others.', labelNames: ['node'] as const, registers: [this.registry] });
  /** In the HA topology, the broker leading orders.placed's partition 0, read every 500 ms. */
  private kafkaLeader?: string;
  private kafkaView?: ReturnType<typeof kafkaViewReader>;
  private readonly leaderMetric = new Gauge({ name: 'faultline_kafka_leader', help: 'HA topology: 1 for the Kafka node leading orders.placed partition 0, 0 for the others.', labelNames: ['node'] as const, registers: [this.registry] });
  private readonly leaderChangesMetric = new Counter({ name: 'faultline_kafka_leader_changes_total', help: 'HA topology: times another Kafka node took the lead of orders.placed partition 0.', registers: [this.registry] });
  private leaderlessSince?: number;
  private readonly leadership: Array<{ store: 'redis' | 'kafka'; node: string; at: string }> = [];
  private readonly leaderlessMetric = new Gauge({ name: 'faultline_kafka_leaderless_partitions', help: 'HA topology: partitions of orders.placed whose leader is a broker that is down (or none).', registers: [this.registry] });
  private readonly leaderlessSecondsMetric = new Gauge({ name: 'faultline_kafka_leaderless_seconds', help: 'HA topology: how long some partition of orders.placed has been led by a broker that is down; 0 when none is.', registers: [this.registry] });
  private readonly underReplicatedMetric = new Gauge({ name: 'faultline_kafka_under_replicated_partitions', help: 'HA topology: partitions of orders.placed with fewer in-sync replicas than replicas.', registers: [this.registry] });
  private readonly agreeingMetric = new Gauge({ name: 'faultline_redis_sentinels_agreeing', help: 'HA topology: Sentinels that name the primary most of them name (3 when all agree).', registers: [this.registry] });
  private readonly replicationLagMetric = new Gauge({ name: 'faultline_redis_replication_lag_bytes', help: "HA topology: how far each connected replica's copy is behind the primary's replication stream, in bytes.", labelNames: ['node'] as const, registers: [this.registry] });
  private readonly failoversMetric = new Counter({ name: 'faultline_redis_failovers_total', help: 'HA topology: times the Sentinels named another Redis node primary.', registers: [this.registry] });
  private readonly restartsMetric = new Counter({ name: 'faultline_replica_restarts_total', help: 'Processes restarted by the supervisor.', labelNames: ['component'] as const, registers: [this.registry] });
  private readonly upMetric = new Gauge({ name: 'faultline_component_ready', help: '1 when a component passes its readiness probe.', labelNames: ['component'] as const, registers: [this.registry] });
  private controlServer?: import('node:http').Server;
  private dashboard?: DashboardServer;
  readonly toxiproxy;
  readonly faults: FaultAgent;
  private readonly log: (line: string) => void;
  private readonly controlToken: string;
  private readonly redisPassword: string;

  constructor(opts: RuntimeOptions, apiKeys: Record<string, string>, log: (line: string) => void) {
    this.opts = opts;
    this.ports = portsFor(opts.portBase);
    this.files = paths(opts.stateDir);
    this.apiKeys = apiKeys;
    const secret = (name: StackSecret) => {
      const value = readSecret(opts.stateDir, name);
      if (!value) throw new Error(`no ${name} in ${secretFile(opts.stateDir, name)}: the stack is started by \`faultline up\`, which makes one`);
      return value;
    };
    this.controlToken = secret('control-token');
    this.redisPassword = secret('redis-password');
    this.log = log;
    this.toxiproxy = createToxiproxy(`http://127.0.0.1:${this.ports.toxiproxy}`);
    this.proxies = proxiesFor(opts);
    this.faults = new FaultAgent(this.toxiproxy, (edge) => this.proxies.filter((p) => p.edge === edge), this.files.faults, this.registry);
  }

  private add(c: Omit<Component, 'process'> & { spec: Omit<ProcessSpec, 'name' | 'logFile'> }) {
    const process = new ManagedProcess({ ...c.spec, name: c.name, logFile: join(this.files.logs, `${c.name}.log`) });
    process.on('log', (line: string) => this.log(line));
    process.on('spawn', () => this.recordPids());
    process.on('exit', () => {
      if (this.phase !== 'stopping') this.restartsMetric.inc({ component: c.name });
      this.recordPids();
    });
    const component = { ...c, process };
    this.components.push(component);
    return component;
  }

  /** Pids on disk, so that `faultline down` can stop by pid even if this supervisor was killed. */
  private recordPids() {
    const records = this.components.flatMap((c) => (c.process.pid ? [{ name: c.name, pid: c.process.pid, command: c.process.spec.command }] : []));
    writeFileSync(this.files.processes, JSON.stringify({ supervisor: process.pid, processes: records }, null, 2));
  }

  private prepareDirs() {
    rmSync(this.files.data, { recursive: true, force: true });
    for (const dir of [this.files.logs, this.files.data, this.files.config]) mkdirSync(dir, { recursive: true });
    chmodSync(this.files.config, 0o700); // Redis's password is in its files, and Sentinel rewrites its own with its own mode
  }

  private defineInfra() {
    const p = this.ports;
    const cfg = (name: string, text: string) => {
      const file = join(this.files.config, name);
      writeFileSync(file, text);
      return file;
    };
    this.add({
      name: 'toxiproxy',
      kind: 'infra',
      port: p.toxiproxy,
      url: `http://127.0.0.1:${p.toxiproxy}`,
      spec: { command: toolPaths.toxiproxy, args: ['-host', '127.0.0.1', '-port', String(p.toxiproxy)], ready: () => httpOk(`http://127.0.0.1:${p.toxiproxy}/version`) },
    });
    this.defineRedis();
    this.defineKafka(cfg);
    const promConfig = cfg('prometheus.yml', prometheusConfig(p, this.opts));
    this.add({
      name: 'prometheus',
      kind: 'infra',
      port: p.prometheus,
      url: `http://127.0.0.1:${p.prometheus}`,
      spec: {
        command: toolPaths.prometheus,
        args: [
          `--config.file=${promConfig}`,
          `--storage.tsdb.path=${join(this.files.data, 'prometheus')}`,
          `--web.listen-address=127.0.0.1:${p.prometheus}`,
          // No lifecycle API and no remote-write receiver: nothing here uses them, and a web page could POST to both
          // (stop Prometheus, or write false series a drill would judge by).
          '--storage.tsdb.retention.time=1d',
        ],
        ready: () => httpOk(`http://127.0.0.1:${p.prometheus}/-/ready`),
      },
    });
    const jaeger = cfg('jaeger.yaml', jaegerConfig(p));
    this.add({
      name: 'jaeger',
      kind: 'infra',
      port: p.jaegerQuery,
      url: `http://127.0.0.1:${p.jaegerQuery}`,
      spec: { command: toolPaths.jaeger, args: ['--config', jaeger], ready: () => httpOk(`http://127.0.0.1:${p.jaegerQuery}/api/services`) },
    });
  }

  /** lean: one Redis. ha: redis-0, redis-1, redis-2 and three Sentinels (see redis-ha.ts). */
  private defineRedis() {
    const p = this.ports;
    const ping = (port: number) => {
      const client = probeClient(port, this.redisPassword);
      return async () => (await (await client()).ping().catch(() => '')) === 'PONG';
    };
    const dataDir = (name: string) => {
      const dir = join(this.files.data, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const authConfig = join(this.files.config, 'redis-auth.conf');
    writeFileSync(authConfig, redisAuthConfig(this.redisPassword), { mode: 0o600 });
    if (this.opts.topology !== 'ha') {
      this.add({
        name: 'redis',
        kind: 'infra',
        port: p.redis,
        url: `redis://127.0.0.1:${p.redis}`,
        spec: {
          command: toolPaths.redisServer,
          args: [authConfig, '--port', String(p.redis), '--bind', '127.0.0.1', '--dir', dataDir('redis'), '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no'],
          ready: ping(p.redis),
        },
      });
      return;
    }
    p.redisNodes.forEach((port, i) =>
      this.add({
        name: `redis-${i}`,
        kind: 'infra',
        port,
        url: `redis://127.0.0.1:${port}`,
        // Back at once, a killed primary would simply be the primary again: the Sentinels must see it gone.
        spec: { command: toolPaths.redisServer, args: redisNodeArgs(i, p, dataDir(`redis-${i}`), authConfig), ready: ping(port), restartDelayMs: redisNodeRestartDelayMs },
      }),
    );
    p.sentinels.forEach((port, i) => {
      const name = `sentinel-${i}`;
      const file = join(this.files.config, `${name}.conf`); // Sentinel rewrites its own file as it learns
      writeFileSync(file, sentinelConfig(port, p, dataDir(name), this.redisPassword), { mode: 0o600 });
      const client = probeClient(port, this.redisPassword);
      this.add({
        name,
        kind: 'infra',
        port,
        url: `redis://127.0.0.1:${port}`,
        spec: {
          command: toolPaths.redisServer,
          args: [file, '--sentinel'],
          // Ready once tuned and it knows the primary, both replicas and both other Sentinels: a quorum can act from then on.
          ready: async () => {
            const sentinel = await client();
            await tuneSentinel(sentinel); // every probe: a restarted Sentinel forgets it
            const [replicas, sentinels] = await Promise.all([sentinel.call('SENTINEL', 'replicas', sentinelMaster), sentinel.call('SENTINEL', 'sentinels', sentinelMaster)]).catch(() => [[], []]);
            return (replicas as unknown[]).length >= p.redisNodes.length - 1 && (sentinels as unknown[]).length >= p.sentinels.length - 1;
          },
        },
      });
    });
  }

  /** lean: one Kafka broker. ha: kafka-0, kafka-1, kafka-2 in one KRaft quorum (see configs.ts and kafka-ha.ts). */
  private defineKafka(cfg: (name: string, text: string) => string) {
    const p = this.ports;
    const ha = this.opts.topology === 'ha';
    const log4j = cfg('kafka-log4j.properties', kafkaLog4j);
    const classpath = `${toolPaths.kafkaLib}/*`;
    const nodes = ha ? p.kafkaNodes : p.kafkaNodes.slice(0, 1);
    nodes.forEach((k, i) => {
      const name = ha ? `kafka-${i}` : 'kafka';
      const props = cfg(`${name}.properties`, kafkaProperties(p, i, this.opts.topology, join(this.files.data, name)));
      const format = spawnSync(toolPaths.java, ['-cp', classpath, `-Dlog4j.configuration=file:${log4j}`, 'kafka.tools.StorageTool', 'format', '-t', 'faultline-local-0000000', '-c', props, '--ignore-formatted'], { encoding: 'utf8' });
      if (format.status !== 0) throw new Error(`kafka storage format failed for ${name}:\n${format.stderr || format.stdout}`);
      const admin = new Kafka({ clientId: 'faultline-supervisor', brokers: [`127.0.0.1:${k.direct}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      this.add({
        name,
        kind: 'infra',
        port: k.direct,
        url: `127.0.0.1:${k.direct}`,
        spec: {
          command: toolPaths.java,
          args: ['-Xms256m', '-Xmx512m', '-XX:+UseSerialGC', `-Dlog4j.configuration=file:${log4j}`, '-cp', classpath, 'kafka.Kafka', props],
          ...(ha ? { restartDelayMs: kafkaNodeRestartDelayMs } : {}),
          // Ready once the quorum lists this broker (registered, and not fenced).
          ready: async () => {
            await admin.connect();
            const { brokers } = await admin.describeCluster();
            return brokers.some((b) => b.nodeId === i + 1);
          },
          stopTimeoutMs: 15_000,
        },
      });
    });
  }

  private serviceEnv(svc: ServiceName): NodeJS.ProcessEnv {
    const p = this.ports;
    const via = (edge: (typeof edges)[number]['name']) => `127.0.0.1:${p.proxies[edge]}`;
    const common = { HOST: '127.0.0.1', FAULTLINE_RESILIENCE: this.opts.resilience, LOG_LEVEL: 'info' };
    // In the HA topology a client bootstraps from every broker, each through its own proxy.
    const kafka = (edge: 'orders-kafka' | 'kitchen-kafka') => ({
      KAFKA_BROKERS: this.opts.topology === 'ha' ? p.kafkaNodes.map((_, i) => `127.0.0.1:${kafkaClientProxy(p, edge, i)}`).join(',') : via(edge),
    });
    // In the HA topology a client asks the Sentinels for the primary, and reaches whichever node it is through its own proxy.
    const redis = (edge: (typeof edges)[number]['name']) => ({
      REDIS_URL: `redis://${via(edge)}`,
      REDIS_PASSWORD: this.redisPassword,
      ...(this.opts.topology === 'ha' ? { REDIS_SENTINELS: p.sentinels.map((port) => `127.0.0.1:${port}`).join(','), REDIS_SENTINEL_MASTER: sentinelMaster, REDIS_NAT_MAP: natMapFor(p, edge) } : {}),
    });
    switch (svc) {
      case 'catalog':
        return { ...common, ...redis('catalog-redis') };
      case 'orders':
        return { ...common, ...redis('orders-redis'), ...kafka('orders-kafka'), CATALOG_URL: `http://${via('orders-catalog')}` };
      case 'kitchen':
        return { ...common, ...redis('kitchen-redis'), ...kafka('kitchen-kafka') };
      case 'gateway': {
        const API_KEYS = Object.entries(this.apiKeys).map(([client, key]) => `${client}:${key}`).join(',');
        return { ...common, CATALOG_URL: `http://${via('gateway-catalog')}`, ORDERS_URL: `http://${via('gateway-orders')}`, ...redis('gateway-redis'), API_KEYS };
      }
    }
  }

  private defineReplicas() {
    const telemetry = join(projectRoot, 'services/common/src/telemetry.ts');
    for (const svc of serviceNames) {
      for (let i = 0; i < this.opts.replicas[svc]; i++) {
        const port = this.ports.replicaPort(svc, i);
        const base = `http://127.0.0.1:${port}`;
        this.add({
          name: `${svc}-${i}`,
          kind: 'replica',
          service: svc,
          replica: i,
          port,
          url: base,
          spec: {
            command: process.execPath,
            args: ['--import', telemetry, join(projectRoot, 'services', svc, 'src/main.ts')],
            env: {
              // Connection ageing is for NetworkPolicies, which spare open connections; Toxiproxy stalls them itself.
              // Measured here: with it on, a 200/s flood made the gateway miss its liveness probes (traffic-flood 0 of 3).
              CONNECTION_MAX_AGE_MS: '0',
              // With a replica to wait for, orders and kitchen acknowledge only replicated writes (a --set can turn it off).
              ...(this.opts.topology === 'ha' && (svc === 'orders' || svc === 'kitchen') ? { REDIS_WAIT_REPLICAS: '1' } : {}),
              ...this.opts.settings[svc],
              ...this.serviceEnv(svc),
              PORT: String(port),
              REPLICA: String(i),
              OTEL_SERVICE_NAME: svc,
              OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${svc}-${i}`,
              OTEL_TRACES_EXPORTER: 'otlp',
              OTEL_METRICS_EXPORTER: 'none',
              OTEL_LOGS_EXPORTER: 'none',
              OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
              OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${this.ports.otlpHttp}`,
              OTEL_BSP_SCHEDULE_DELAY: '500',
            },
            ready: () => httpOk(`${base}/readyz`),
            live: () => httpOk(`${base}/healthz`),
          },
        });
      }
    }
  }

  private async waitReady(components: Component[], what: string, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await Promise.all(components.map((c) => c.process.probe()));
      const failed = components.filter((c) => c.process.health === 'failed');
      if (failed.length > 0) throw new SettingsRefused(`${failed.map((c) => c.name).join(', ')} refused its settings:\n${failed.map((c) => this.tail(c)).join('\n')}`);
      const waiting = components.filter((c) => c.process.health !== 'ready');
      if (waiting.length === 0) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    const waiting = components.filter((c) => c.process.health !== 'ready').map((c) => `${c.name} (see ${join(this.files.logs, `${c.name}.log`)})`);
    throw new Error(`${what} not ready after ${timeoutMs / 1000} s: ${waiting.join(', ')}`);
  }

  private tail(c: Component, lines = 8) {
    try {
      return readFileSync(join(this.files.logs, `${c.name}.log`), 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private async createTopic() {
    const admin = new Kafka({ clientId: 'faultline-supervisor', brokers: [`127.0.0.1:${this.ports.kafka}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // The HA topology's copies and in-sync minimum come from the brokers' defaults (three, two).
      await admin.createTopics({ waitForLeaders: false, topics: [{ topic: ordersTopic, numPartitions: this.opts.partitions }] });
      // Every partition led and fully in sync before services start: brokers learn of a new topic a moment apart.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const metadata = await admin.fetchTopicMetadata({ topics: [ordersTopic] }).catch(() => undefined);
        const partitions = metadata?.topics[0]?.partitions ?? [];
        if (partitions.length === this.opts.partitions && partitions.every((q) => q.leader >= 0 && q.isr.length === q.replicas.length)) break;
        if (Date.now() > deadline) throw new Error(`${ordersTopic} has no leader or lacks in-sync replicas after 30 s: ${JSON.stringify(partitions)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await admin.disconnect();
    }
  }

  private updateEndpoints() {
    for (const [svc, lb] of this.balancers) {
      lb.setEndpoints(this.components.filter((c) => c.service === svc && c.process.health === 'ready').map((c) => c.port));
    }
    for (const c of this.components) this.upMetric.set({ component: c.name }, c.process.health === 'ready' ? 1 : 0);
  }

  async start() {
    this.prepareDirs();
    await this.startControl();
    // Served from the start: the page says plainly that Prometheus is not up yet, then fills in.
    this.dashboard = await startDashboardServer({ prometheus: `http://127.0.0.1:${this.ports.prometheus}`, datasourceName: `local Prometheus (127.0.0.1:${this.ports.prometheus})`, port: this.ports.dashboard, defaultScrapeSeconds: scrapeIntervalSeconds });
    this.defineInfra();
    const infra = [...this.components];
    this.log(`starting ${infra.map((c) => c.name).join(', ')}`);
    for (const c of infra) c.process.start();
    this.recordPids();
    // Redis and Kafka nodes reach each other, and Sentinels reach them, through proxies: those are made before anything waits on them.
    await this.waitReady(infra.filter((c) => c.name === 'toxiproxy'), 'toxiproxy', 30_000);
    await this.toxiproxy.populate(this.proxies.map((proxy) => ({ name: proxy.name, listen: `127.0.0.1:${proxy.listen}`, upstream: `127.0.0.1:${proxy.upstream}`, enabled: true })));
    await this.waitReady(infra, 'infrastructure', 120_000);
    await this.createTopic();
    this.log(`proxies ${edges.map((e) => e.name).join(', ')}; topic orders.placed with ${this.opts.partitions} partitions`);
    for (const [svc, port] of Object.entries(this.ports.services) as [ServiceName, number][]) {
      const lb = new ServiceBalancer(svc);
      await lb.listen(port);
      this.balancers.set(svc, lb);
    }
    this.defineReplicas();
    const replicas = this.components.filter((c) => c.kind === 'replica');
    this.log(`starting ${replicas.map((c) => c.name).join(', ')}`);
    for (const c of replicas) c.process.start();
    this.recordPids();
    this.probeTimer = setInterval(() => this.probeAll(), 1000);
    if (this.opts.topology === 'ha') {
      this.redisView = redisViewReader(this.ports, this.redisPassword);
      this.kafkaView = kafkaViewReader(this.ports);
      await Promise.all([this.readRedis(), this.readKafka()]);
      this.storesTimer = setInterval(() => void this.readRedis().then(() => this.readKafka()), 500);
    }
    this.faults.start();
    await this.waitReady(replicas, 'services', 120_000);
    this.updateEndpoints();
    this.phase = 'ready';
    this.log('ready');
  }

  /** Sentinel's view of which node is primary, for status, the metrics and pod-kill's choice by role; and each replica's lag. */
  private async readRedis() {
    const view = await this.redisView?.();
    if (!view) return;
    this.agreeingMetric.set(view.agreeing);
    this.ports.redisNodes.forEach((_, i) => {
      const lag = view.lagBytes[`redis-${i}`];
      if (lag === undefined) this.replicationLagMetric.remove({ node: `redis-${i}` });
      else this.replicationLagMetric.set({ node: `redis-${i}` }, lag);
    });
    const primary = view.primary;
    if (!primary) return;
    if (this.redisPrimary && primary !== this.redisPrimary) {
      this.failoversMetric.inc();
      this.recordLeader('redis', primary);
      this.log(`Sentinel names ${primary} primary (was ${this.redisPrimary})`);
    }
    this.redisPrimary = primary;
    this.ports.redisNodes.forEach((_, i) => this.primaryMetric.set({ node: `redis-${i}` }, `redis-${i}` === primary ? 1 : 0));
  }

  /** Each change of leader, oldest first (the last 50): what pod-kill reads for the node that took over. */
  private recordLeader(store: 'redis' | 'kafka', node: string) {
    this.leadership.push({ store, node, at: new Date().toISOString() });
    this.leadership.splice(0, this.leadership.length - 50);
  }

  /** Which broker leads orders.placed (partition 0), which partitions are led by a broker that is down, and which lack a replica. */
  private async readKafka() {
    const view = await this.kafkaView?.read();
    if (!view) return;
    const up = (node?: string) => this.components.some((c) => c.name === node && c.process.health === 'ready');
    const leaderless = view.leaders.filter((node) => !up(node)).length;
    this.leaderlessSince = leaderless === 0 ? undefined : (this.leaderlessSince ?? Date.now());
    this.leaderlessMetric.set(leaderless);
    this.leaderlessSecondsMetric.set(this.leaderlessSince === undefined ? 0 : (Date.now() - this.leaderlessSince) / 1000);
    if (view.leader && this.kafkaLeader && view.leader !== this.kafkaLeader) {
      this.leaderChangesMetric.inc();
      this.recordLeader('kafka', view.leader);
      this.log(`${view.leader} leads ${ordersTopic} (was ${this.kafkaLeader})`);
    }
    if (view.leader) this.kafkaLeader = view.leader;
    this.ports.kafkaNodes.forEach((_, i) => this.leaderMetric.set({ node: `kafka-${i}` }, `kafka-${i}` === view.leader ? 1 : 0));
    this.underReplicatedMetric.set(view.underReplicated);
  }

  /** Each process's result updates the endpoints as it comes: a frozen replica's slow probes hold back no other. */
  private probeAll() {
    for (const c of this.components) void c.process.probe().then(() => this.updateEndpoints());
  }

  async status() {
    const proxies = await this.toxiproxy.list().catch(() => []);
    return {
      phase: this.phase,
      supervisor: { pid: process.pid, url: `http://127.0.0.1:${this.ports.control}` },
      portBase: this.opts.portBase,
      topology: this.opts.topology,
      resilience: this.opts.resilience,
      apiKey: this.apiKeys.local!,
      apiKeys: this.apiKeys,
      urls: {
        gateway: `http://127.0.0.1:${this.ports.services.gateway}`,
        prometheus: `http://127.0.0.1:${this.ports.prometheus}`,
        traces: `http://127.0.0.1:${this.ports.jaegerQuery}/api/traces`,
        tracesUi: `http://127.0.0.1:${this.ports.jaegerQuery}`,
        toxiproxy: `http://127.0.0.1:${this.ports.toxiproxy}`,
        kafka: `127.0.0.1:${this.ports.kafka}`,
        // With the password, as redis-cli -u and ioredis take it: whoever reads this status holds the control token.
        redis: `redis://:${this.redisPassword}@127.0.0.1:${this.ports.redis}`,
        ...(this.opts.topology === 'ha' ? { sentinels: this.ports.sentinels.map((port) => `127.0.0.1:${port}`).join(',') } : {}),
        otlp: `http://127.0.0.1:${this.ports.otlpHttp}`,
        dashboard: `http://127.0.0.1:${this.ports.dashboard}/`,
      },
      components: this.components.map((c) => ({
        name: c.name,
        kind: c.kind,
        ...(c.service ? { service: c.service, replica: c.replica } : {}),
        ...(this.redisPrimary && /^redis-\d$/.test(c.name) ? { role: c.name === this.redisPrimary ? 'primary' : 'replica' } : {}),
        ...(this.kafkaLeader && /^kafka-\d$/.test(c.name) ? { role: c.name === this.kafkaLeader ? 'leader' : 'follower' } : {}),
        health: c.process.health,
        pid: c.process.pid ?? null,
        restarts: c.process.restarts,
        url: c.url,
      })),
      proxies,
      ...(this.opts.topology === 'ha' ? { leadership: this.leadership } : {}),
    };
  }

  private async startControl() {
    const app = express();
    app.disable('x-powered-by');
    // A foreign Host or Origin first (403), so that a browser page learns nothing; then the token (401).
    app.use(loopbackOnly, requireToken(this.controlToken));
    app.get('/status', async (_req, res) => {
      res.json(await this.status());
    });
    app.get('/metrics', async (_req, res) => {
      res.type(this.registry.contentType).send(await this.registry.metrics());
    });
    app.use(express.json({ limit: '16kb' }));
    // The fault agent: edge faults with deadlines, and replica kills, for drills on this platform.
    app.get('/faults', (_req, res) => {
      res.json(this.faults.list());
    });
    app.post('/faults', async (req, res) => {
      // Parsed by kind, so that a bad request gets messages about its own fields.
      const kind = (req.body as { kind?: unknown } | undefined)?.kind;
      const parsed = (kind === 'flood' || kind === 'pod-kill' ? trackedFaultRequest : kind === 'pause' ? pauseFaultRequest : edgeFaultRequest).safeParse(req.body);
      if (!parsed.success) return void res.status(400).json({ error: { code: 'invalid_fault', message: z.prettifyError(parsed.error) } });
      if (this.phase !== 'ready') return void res.status(409).json({ error: { code: 'not_ready', message: `the stack is ${this.phase}` } });
      const f = parsed.data;
      if (f.kind === 'pause') {
        const unknown = f.replicas.filter((name) => !this.replica(name));
        if (unknown.length > 0) return void res.status(404).json({ error: { code: 'replica_not_found', message: `no replica ${unknown.join(', ')}` } });
        const targets = f.replicas.map((name) => ({ name, pid: this.replica(name)!.process.pid }));
        const down = targets.filter((t) => t.pid === undefined).map((t) => t.name);
        if (down.length > 0) return void res.status(409).json({ error: { code: 'replica_not_running', message: `not running now: ${down.join(', ')}` } });
        return void res.status(201).json(await this.faults.pause(f, targets as Array<{ name: string; pid: number }>));
      }
      if (!('target' in f) && !this.proxies.some((proxy) => proxy.edge === f.edge && (!f.nodes || f.nodes.includes(proxy.name)))) {
        const message =
          this.opts.topology === 'ha'
            ? `no Redis node ${f.nodes?.join(', ')}; the nodes are ${this.ports.redisNodes.map((_, i) => `redis-${i}`).join(', ')}`
            : `${f.edge} exists only in the HA topology (faultline up --topology ha); this stack is lean`;
        return void res.status(404).json({ error: { code: 'edge_not_found', message } });
      }
      res.status(201).json('target' in f ? this.faults.track(f) : await this.faults.inject(f));
    });
    app.delete('/faults/:id', async (req, res) => {
      const fault = await this.faults.remove(req.params.id);
      if (!fault) return void res.status(404).json({ error: { code: 'fault_not_found', message: `no fault ${req.params.id}` } });
      res.json(fault);
    });
    app.post('/kill', async (req, res) => {
      const parsed = z.strictObject({ replicas: z.array(z.string()).min(1) }).safeParse(req.body);
      if (!parsed.success) return void res.status(400).json({ error: { code: 'invalid_kill', message: z.prettifyError(parsed.error) } });
      const unknown = parsed.data.replicas.filter((name) => !this.replica(name) && !this.storeNode(name));
      if (unknown.length > 0) return void res.status(404).json({ error: { code: 'replica_not_found', message: `no replica ${unknown.join(', ')}` } });
      res.json(await Promise.all(parsed.data.replicas.map((name) => this.kill(name))));
    });
    app.post('/shutdown', (_req, res) => {
      res.status(202).json({ phase: 'stopping' });
      void this.stop().then(() => process.exit(0));
    });
    app.use(notFound(app));
    app.use(onError);
    await new Promise<void>((resolve, reject) => {
      this.controlServer = app.listen(this.ports.control, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve()));
    });
    // Clients (drills, tests) poll this API: idle connections must outlive theirs, or a reused socket can be closed under them.
    this.controlServer!.keepAliveTimeout = 65_000;
  }

  private replica(name: string) {
    return this.components.find((c) => c.kind === 'replica' && c.name === name);
  }

  /** A node of the HA topology's Redis or Kafka, which a pod-kill may take too (another node takes over). */
  private storeNode(name: string) {
    return this.opts.topology === 'ha' ? this.components.find((c) => c.kind === 'infra' && /^(redis|kafka)-\d$/.test(c.name) && c.name === name) : undefined;
  }

  /** SIGKILLs a replica, as a pod-kill would, and reports that its pid is gone; the restart loop brings it back. */
  private async kill(name: string) {
    const c = this.components.find((x) => x.name === name)!;
    const child = c.process.child;
    const pid = c.process.pid;
    if (!child || pid === undefined) return { name, pid: null, killedAt: new Date().toISOString(), exited: false, note: 'not running' };
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const killedAt = new Date().toISOString();
    child.kill('SIGKILL');
    const signal = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    return { name, pid, killedAt, exited: signal !== null, signal };
  }

  /** Services first, so that they drain against live infrastructure; then infrastructure. */
  async stop() {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    clearInterval(this.probeTimer);
    clearInterval(this.storesTimer);
    await this.kafkaView?.close();
    this.faults.stop();
    await this.faults.thawAll();
    this.log('stopping');
    await Promise.all(this.components.filter((c) => c.kind === 'replica').map((c) => c.process.stop()));
    await Promise.all([...this.balancers.values()].map((lb) => lb.close()));
    await Promise.all(this.components.filter((c) => c.kind === 'infra').map((c) => c.process.stop()));
    this.recordPids();
    await this.dashboard?.close();
    this.controlServer?.closeAllConnections();
    this.controlServer?.close();
    this.log('stopped');
  }
}
