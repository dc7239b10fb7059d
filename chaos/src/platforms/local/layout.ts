import { join } from 'node:path';
import { projectRoot } from '../../core/paths.ts';
import { edges, shopServices, type Edge, type EdgeName } from '../../core/topology.ts';

export const serviceNames = shopServices;
export type ServiceName = (typeof serviceNames)[number];

export interface RuntimeOptions {
  portBase: number;
  stateDir: string;
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
  replicas: { gateway: 1, catalog: 2, orders: 2, kitchen: 2 },
  resilience: 'on',
  partitions: 6,
  settings: {},
});

/**
 * Each edge is a Toxiproxy proxy named after it, so that drills can cut or slow it. Kafka has a listener per client
 * edge, so that cutting one client's edge cuts that client only.
 */
export const proxyUpstream = (edge: Edge) => (edge.server === 'kafka' ? (`kafka-${edge.client}` as const) : edge.server);
export type Upstream = ReturnType<typeof proxyUpstream>;
export { edges, type EdgeName };

/** Fixed offsets from one base port, so one setting moves the whole stack. */
export function portsFor(base: number) {
  const proxies = Object.fromEntries(edges.map((e, i) => [e.name, base + 30 + i])) as Record<EdgeName, number>;
  const replicaPort = (service: ServiceName, replica: number) => base + 50 + serviceNames.indexOf(service) * 10 + replica;
  return {
    control: base,
    toxiproxy: base + 1,
    redis: base + 2,
    kafka: base + 3,
    kafkaController: base + 4,
    kafkaOrders: base + 5,
    kafkaKitchen: base + 6,
    prometheus: base + 7,
    jaegerQuery: base + 8,
    otlpHttp: base + 9,
    otlpGrpc: base + 10,
    jaegerHealth: base + 11,
    jaegerQueryGrpc: base + 12,
    dashboard: base + 13,
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
  for (const [svc, port] of Object.entries(p.services)) list.push([`${svc} service`, port]);
  for (const [edge, port] of Object.entries(p.proxies)) list.push([`proxy ${edge}`, port]);
  for (const svc of serviceNames) for (let i = 0; i < opts.replicas[svc]; i++) list.push([`${svc}-${i}`, p.replicaPort(svc, i)]);
  return list;
}

export const paths = (stateDir: string) => ({
  state: join(stateDir, 'state.json'),
  processes: join(stateDir, 'processes.json'),
  logs: join(stateDir, 'logs'),
  data: join(stateDir, 'data'),
  config: join(stateDir, 'config'),
  faults: join(stateDir, 'faults.json'),
});
