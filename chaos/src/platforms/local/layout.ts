import { join } from 'node:path';
import { projectRoot } from '../../core/paths.ts';
import { edges, shopServices, storeEdges, type EdgeName } from '../../core/topology.ts';

export const serviceNames = shopServices;
export type ServiceName = (typeof serviceNames)[number];

/** lean: one Redis, one Kafka broker. ha: Redis as a primary, two replicas and three Sentinels; Kafka as three KRaft nodes. */
export const topologies = ['lean', 'ha'] as const;
export type Topology = (typeof topologies)[number];

export interface RuntimeOptions {
  portBase: number;
  stateDir: string;
  topology: Topology;
  replicas: Record<ServiceName, number>;
  resilience: 'on' | 'off';
  partitions: number;
  /** Extra environment per service, e.g. { gateway: { RATE_LIMIT_RPS: '20' } }; each service validates its own. */
  settings: Partial<Record<ServiceName, Record<string, string>>>;
}

export const maxReplicas = 5;

export const defaultOptions = (): RuntimeOptions => ({
  portBase: 17400,
  stateDir: join(projectRoot, '.faultline'),
  topology: 'lean',
  replicas: { gateway: 1, catalog: 2, orders: 2, kitchen: 2 },
  resilience: 'on',
  partitions: 6,
  settings: {},
});

/**
 * Each edge is a Toxiproxy proxy named after it, so that drills can cut or slow it. Kafka has a listener per client
 * edge, so that cutting one client's edge cuts that client only.
 */
export const proxyUpstream = (edge: (typeof edges)[number]) => (edge.server === 'kafka' ? (`kafka-${edge.client}` as const) : edge.server);
export type Upstream = ReturnType<typeof proxyUpstream>;
export { edges, type EdgeName };

/** The client edges to Redis: in the HA topology each has one more proxy per further Redis node. */
export const redisEdges = edges.filter((e) => e.server === 'redis');
/** The client edges to Kafka: in the HA topology each has one more proxy per further broker. */
export const kafkaEdges = edges.filter((e) => e.server === 'kafka');

/** Fixed offsets from one base port, so one setting moves the whole stack. */
export function portsFor(base: number) {
  const proxies = Object.fromEntries(edges.map((e, i) => [e.name, base + 30 + i])) as Record<(typeof edges)[number]['name'], number>;
  const replicaPort = (service: ServiceName, replica: number) => base + 50 + serviceNames.indexOf(service) * 10 + replica;
  // Each Kafka node's listeners; the lean topology's one broker is kafka-0.
  const kafkaNodes = [0, 1, 2].map((i) =>
    i === 0 ? { direct: base + 3, controller: base + 4, orders: base + 5, kitchen: base + 6 } : { direct: base + 88 + i, controller: base + 90 + i, orders: base + 92 + i, kitchen: base + 94 + i },
  );
  return {
    control: base,
    toxiproxy: base + 1,
    redis: base + 2,
    kafka: kafkaNodes[0]!.direct,
    kafkaController: kafkaNodes[0]!.controller,
    kafkaOrders: kafkaNodes[0]!.orders,
    kafkaKitchen: kafkaNodes[0]!.kitchen,
    prometheus: base + 7,
    jaegerQuery: base + 8,
    otlpHttp: base + 9,
    otlpGrpc: base + 10,
    jaegerHealth: base + 11,
    jaegerQueryGrpc: base + 12,
    dashboard: base + 13,
    // The HA topology's Redis: redis-0 is `redis` above.
    redisNodes: [base + 2, base + 14, base + 23],
    sentinels: [base + 15, base + 16, base + 17],
    /** What Sentinel and the replicas know each Redis node by: proxies, so that the links between nodes can be cut. */
    redisNodeProxies: [base + 18, base + 19, base + 24],
    /** Each client's proxy to each Redis node after redis-0 (whose proxy is the edge's own). */
    redisNodeClientProxies: (edge: string, node: number) => base + 40 + (node - 1) * redisEdges.length + redisEdges.findIndex((e) => e.name === edge),
    /** The HA topology's Kafka nodes (kafka-0's ports are those above): each has a listener per client edge. */
    kafkaNodes,
    /** What the brokers know each other by (their inter-broker listener, advertised): proxies, so that replication can be cut. */
    kafkaNodeProxies: [base + 25, base + 26, base + 27],
    /** Each client's proxy to each Kafka node after kafka-0 (whose proxy is the edge's own). */
    kafkaNodeClientProxies: (edge: string, node: number) => base + 85 + (node - 1) * kafkaEdges.length + kafkaEdges.findIndex((e) => e.name === edge),
    services: { gateway: base + 20, catalog: base + 21, orders: base + 22 } as Partial<Record<ServiceName, number>>,
    proxies,
    replicaPort,
  };
}
export type Ports = ReturnType<typeof portsFor>;

/** Every port the stack will bind, with what binds it, for the pre-flight check. */
export function allPorts(opts: RuntimeOptions): Array<[string, number]> {
  const p = portsFor(opts.portBase);
  const list: Array<[string, number]> = [
    ['supervisor', p.control],
    ['toxiproxy', p.toxiproxy],
    ['redis', p.redis],
    ['kafka', p.kafka],
    ['kafka controller', p.kafkaController],
    ['kafka (orders listener)', p.kafkaOrders],
    ['kafka (kitchen listener)', p.kafkaKitchen],
    ['prometheus', p.prometheus],
    ['jaeger query', p.jaegerQuery],
    ['jaeger otlp/http', p.otlpHttp],
    ['jaeger otlp/grpc', p.otlpGrpc],
    ['jaeger health', p.jaegerHealth],
    ['jaeger query grpc', p.jaegerQueryGrpc],
    ['live dashboards', p.dashboard],
  ];
  if (opts.topology === 'ha') {
    p.redisNodes.slice(1).forEach((port, i) => list.push([`redis-${i + 1}`, port]));
    p.sentinels.forEach((port, i) => list.push([`sentinel-${i}`, port]));
    p.kafkaNodes.slice(1).forEach((k, i) => {
      for (const [listener, port] of Object.entries(k)) list.push([`kafka-${i + 1} (${listener} listener)`, port]);
    });
  }
  for (const [svc, port] of Object.entries(p.services)) list.push([`${svc} service`, port]);
  for (const proxy of proxiesFor(opts)) list.push([`proxy ${proxy.name}`, proxy.listen]);
  for (const svc of serviceNames) for (let i = 0; i < opts.replicas[svc]; i++) list.push([`${svc}-${i}`, p.replicaPort(svc, i)]);
  return list;
}

/**
 * The stack's ports the kernel may also hand out as the local end of outgoing connections (its ephemeral range,
 * /proc/sys/net/ipv4/ip_local_port_range): one may already be taken by a connection when the stack comes to listen on it.
 */
export function ephemeralOverlap(ports: number[], [low, high]: [number, number]): number[] {
  return ports.filter((port) => port >= low && port <= high);
}

/** What names one stack to its clients: its ports, and the state directory that holds its control token. */
export type StackAddress = Pick<RuntimeOptions, 'portBase' | 'stateDir'>;

export const paths = (stateDir: string) => ({
  state: join(stateDir, 'state.json'),
  processes: join(stateDir, 'processes.json'),
  logs: join(stateDir, 'logs'),
  data: join(stateDir, 'data'),
  config: join(stateDir, 'config'),
  faults: join(stateDir, 'faults.json'),
});

/** One Toxiproxy proxy: the edge whose faults it carries, where it listens, and what it forwards to. */
export interface ProxySpec {
  name: string;
  edge: EdgeName;
  listen: number;
  upstream: number;
}

function upstreamPort(p: Ports, upstream: Upstream) {
  if (upstream === 'redis') return p.redis;
  if (upstream === 'kafka-orders') return p.kafkaOrders;
  if (upstream === 'kafka-kitchen') return p.kafkaKitchen;
  return p.services[upstream as ServiceName]!;
}

/**
 * Every proxy of the stack. An edge has one, named after it; in the HA topology a client's Redis edge has one more per
 * further node (`<edge>@redis-1`, `<edge>@redis-2`), and the store edge redis-redis is the node proxies that
 * replication and Sentinel use.
 */
export function proxiesFor(opts: Pick<RuntimeOptions, 'portBase' | 'topology'>): ProxySpec[] {
  const p = portsFor(opts.portBase);
  const list: ProxySpec[] = edges.map((e) => ({ name: e.name, edge: e.name, listen: p.proxies[e.name], upstream: upstreamPort(p, proxyUpstream(e)) }));
  if (opts.topology !== 'ha') return list;
  for (let node = 1; node < p.redisNodes.length; node++) {
    for (const e of redisEdges) list.push({ name: `${e.name}@redis-${node}`, edge: e.name, listen: p.redisNodeClientProxies(e.name, node), upstream: p.redisNodes[node]! });
  }
  for (let node = 1; node < p.kafkaNodes.length; node++) {
    for (const e of kafkaEdges) list.push({ name: `${e.name}@kafka-${node}`, edge: e.name, listen: p.kafkaNodeClientProxies(e.name, node), upstream: p.kafkaNodes[node]![e.client as 'orders' | 'kitchen'] });
  }
  p.redisNodes.forEach((upstream, i) => list.push({ name: `redis-${i}`, edge: 'redis-redis', listen: p.redisNodeProxies[i]!, upstream }));
  p.kafkaNodes.forEach((k, i) => list.push({ name: `kafka-${i}`, edge: 'kafka-kafka', listen: p.kafkaNodeProxies[i]!, upstream: k.direct }));
  return list;
}

/** The edges a drill can name on a stack of this topology. */
export const edgesOf = (topology: Topology): EdgeName[] => [...edges.map((e) => e.name), ...(topology === 'ha' ? storeEdges.map((e) => e.name) : [])];
