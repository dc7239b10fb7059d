import { join } from 'node:path';
import type { Ports, RuntimeOptions, Topology } from './layout.ts';
import { serviceNames } from './layout.ts';
import { projectRoot } from '../../core/paths.ts';
import { controlTokenFile } from './stack-secrets.ts';

/** The alert and recording rules the Helm chart ships, loaded by the local Prometheus too (a glob: no match is no error). */
export const ruleFilesGlob = join(projectRoot, 'charts', 'faultline', 'rules', '*.rules.yaml');

/** Where a client edge reaches Kafka node i: through its own Toxiproxy proxy, so that a cut edge really cuts. */
export const kafkaClientProxy = (p: Ports, edge: 'orders-kafka' | 'kitchen-kafka', node: number) => (node === 0 ? p.proxies[edge] : p.kafkaNodeClientProxies(edge, node));

/**
 * One KRaft node, both broker and controller. Each client edge has its own listener, advertised through that client's
 * proxy. lean: node 0 alone. ha: three nodes in one controller quorum, replicating (inter-broker listener, advertised
 * through the node proxies) every topic three times, and acknowledging acks=all writes once two replicas have them.
 */
export function kafkaProperties(p: Ports, node: number, topology: Topology, logDir: string) {
  const ha = topology === 'ha';
  const k = p.kafkaNodes[node]!;
  const nodes = ha ? p.kafkaNodes : [k];
  const copies = nodes.length;
  return `process.roles=broker,controller
node.id=${node + 1}
controller.quorum.voters=${nodes.map((n, i) => `${ha ? i + 1 : node + 1}@127.0.0.1:${n.controller}`).join(',')}
listeners=DIRECT://127.0.0.1:${k.direct},ORDERS://127.0.0.1:${k.orders},KITCHEN://127.0.0.1:${k.kitchen},CONTROLLER://127.0.0.1:${k.controller}
advertised.listeners=DIRECT://127.0.0.1:${ha ? p.kafkaNodeProxies[node] : k.direct},ORDERS://127.0.0.1:${kafkaClientProxy(p, 'orders-kafka', node)},KITCHEN://127.0.0.1:${kafkaClientProxy(p, 'kitchen-kafka', node)}
inter.broker.listener.name=DIRECT
controller.listener.names=CONTROLLER
listener.security.protocol.map=DIRECT:PLAINTEXT,ORDERS:PLAINTEXT,KITCHEN:PLAINTEXT,CONTROLLER:PLAINTEXT
num.partitions=1
auto.create.topics.enable=false
default.replication.factor=${copies}
min.insync.replicas=${Math.min(2, copies)}
offsets.topic.replication.factor=${copies}
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=${copies}
transaction.state.log.min.isr=${Math.min(2, copies)}
group.initial.rebalance.delay.ms=0
# kitchen fails over in seconds, so its sessions are shorter than the broker's 6 s floor
group.min.session.timeout.ms=1000
${ha ? `# A killed broker is fenced, and its partitions get new leaders, after 3 s without a heartbeat (default 9 s)
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=750
` : ''}log.dirs=${logDir}
`;
}

export const kafkaLog4j = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
`;

/** Every 2 s: drills read windows of a few seconds. */
export const scrapeIntervalSeconds = 2;

/** Scrapes every replica of every service, and the supervisor with its control token. */
export function prometheusConfig(p: Ports, opts: RuntimeOptions) {
  const jobs = serviceNames.map((svc) => {
    const targets = Array.from({ length: opts.replicas[svc] }, (_, i) => `      - targets: ['127.0.0.1:${p.replicaPort(svc, i)}']\n        labels: { service: ${svc}, replica: '${i}', instance_name: ${svc}-${i} }`);
    return `  - job_name: ${svc}\n    static_configs:\n${targets.join('\n')}`;
  });
  return `global:
  scrape_interval: ${scrapeIntervalSeconds}s
  scrape_timeout: 1s
  evaluation_interval: ${scrapeIntervalSeconds}s
rule_files:
  - '${ruleFilesGlob}'
scrape_configs:
${jobs.join('\n')}
  - job_name: faultline
    authorization:
      credentials_file: '${controlTokenFile(opts.stateDir)}'
    static_configs:
      - targets: ['127.0.0.1:${p.control}']
`;
}

/**
 * Traces Jaeger keeps in memory. 50,000 took 1.4 GB in a 14-minute rolling-chaos run; with 10,000 it held 442 MB at
 * the cap in a 30-minute soak: within its budget (the chart's memory limit), which `faultline soak` checks.
 */
export const jaegerMaxTraces = 10_000;
export const jaegerBudgetMb = 512;
/** A shop replica's memory limit in the chart (`services.*.resources.limits.memory`), which `faultline soak` holds local replicas to. */
export const replicaLimitMb = 512;

/** Jaeger v2 all-in-one in memory, every port on loopback. */
export function jaegerConfig(p: Ports) {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${p.jaegerHealth}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${p.jaegerQuery}
    grpc:
      endpoint: 127.0.0.1:${p.jaegerQueryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: ${jaegerMaxTraces}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${p.otlpGrpc}
      http:
        endpoint: 127.0.0.1:${p.otlpHttp}
processors:
  batch:
    timeout: 500ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}
