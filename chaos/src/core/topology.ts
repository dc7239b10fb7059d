// The shop's shape, the same on every platform: its services, the stores they use, and every network edge between
// them (named `<client>-<server>`, which is how a drill's network faults name their target).

/** The four services, in the order they start: each after what it calls. */
export const shopServices = ['catalog', 'orders', 'kitchen', 'gateway'] as const;
export type ShopService = (typeof shopServices)[number];

/** Every part a drill can select: the services and the stores under them. */
export const components = [...shopServices, 'redis', 'kafka'] as const;
export type Component = (typeof components)[number];

export const edges = [
  { name: 'gateway-catalog', client: 'gateway', server: 'catalog' },
  { name: 'gateway-orders', client: 'gateway', server: 'orders' },
  { name: 'gateway-redis', client: 'gateway', server: 'redis' },
  { name: 'orders-catalog', client: 'orders', server: 'catalog' },
  { name: 'orders-redis', client: 'orders', server: 'redis' },
  { name: 'orders-kafka', client: 'orders', server: 'kafka' },
  { name: 'catalog-redis', client: 'catalog', server: 'redis' },
  { name: 'kitchen-kafka', client: 'kitchen', server: 'kafka' },
  { name: 'kitchen-redis', client: 'kitchen', server: 'redis' },
] as const satisfies ReadonlyArray<{ name: string; client: ShopService; server: Component }>;
/**
 * Edges inside a store with more than one node (the local runtime's HA topology): Redis's replication stream and
 * Sentinel's checks between its nodes, and Kafka's replication between brokers. Only a platform that runs such a store
 * lists them in its inventory.
 */
export const storeEdges = [
  { name: 'redis-redis', client: 'redis', server: 'redis' },
  { name: 'kafka-kafka', client: 'kafka', server: 'kafka' },
] as const;

export type Edge = (typeof edges)[number] | (typeof storeEdges)[number];
export type EdgeName = Edge['name'];

/** The edges of the shop itself, on every platform. */
export const edgeNames = edges.map((e) => e.name) as Array<(typeof edges)[number]['name']>;

const allEdges: readonly Edge[] = [...edges, ...storeEdges];
export const edgeBetween = (client: string, server: string): Edge | undefined => allEdges.find((e) => e.client === client && e.server === server);
export const edgeNamed = (name: EdgeName): Edge => allEdges.find((e) => e.name === name)!;

/** What speaks on an edge, for probes that check whether it answers. */
export const protocolOf = (edge: Edge): 'http' | 'redis' | 'kafka' => (edge.server === 'redis' ? 'redis' : edge.server === 'kafka' ? 'kafka' : 'http');
