// The HA topology's Redis: redis-0, redis-1 and redis-2 (a primary and two replicas, in any order after a failover)
// and three Sentinels that agree (quorum 2) on which is primary. Two replicas, because acknowledgements wait for one
// (WAIT 1): with a single replica, no order could be acknowledged while either node is down. Sentinels and replicas know each node only by its node proxy,
// so that the links between nodes go through Toxiproxy as every other edge does.
import { Redis } from 'ioredis';
import type { Ports } from './layout.ts';

/** The name Sentinel monitors the primary under, which clients ask for. */
export const sentinelMaster = 'faultline';

/**
 * Sentinel's timings for a stack that fails over in seconds (the defaults, 30 s and 3 min, are for networks less sure
 * than loopback): a primary is down after 2 s without an answer (1 s, tried first, saw a newly promoted primary called
 * down again while a loaded 2-core machine stalled it, and a second failover), and a failover that stalls is retried
 * after twice the failover timeout, 5 s here.
 *
 * Sentinel promotes the replica whose last INFO showed the highest replication offset, and by default reads a replica's
 * INFO only every 10 s until the primary is down. Offsets read before the cut are stale: it could promote the replica
 * without the newest writes, and the other's copy of them, acknowledged through WAIT 1, is thrown away as it resyncs
 * (3 and 6 acknowledged orders lost in two CI runs). Read every 250 ms, well inside the time it takes to call the
 * primary down, every offset the choice sees was read after the cut. Sentinel keeps this period only in memory
 * (`SENTINEL DEBUG`), so it is set again whenever a Sentinel (re)starts.
 */
export const sentinelTimings = { downAfterMs: 2000, failoverTimeoutMs: 2500, infoPeriodMs: 250 };

/** A killed node stays down this long, as a pod rescheduled off a lost node would: past a failover's retry. */
export const redisNodeRestartDelayMs = 10_000;

/** Every node and Sentinel takes the stack's password, Sentinels from each other too (sentinel-pass). */
export function sentinelConfig(port: number, p: Ports, dir: string, password: string) {
  return `port ${port}
bind 127.0.0.1
daemonize no
dir ${dir}
requirepass ${password}
sentinel sentinel-pass ${password}
sentinel resolve-hostnames no
sentinel monitor ${sentinelMaster} 127.0.0.1 ${p.redisNodeProxies[0]} 2
sentinel auth-pass ${sentinelMaster} ${password}
sentinel down-after-milliseconds ${sentinelMaster} ${sentinelTimings.downAfterMs}
sentinel failover-timeout ${sentinelMaster} ${sentinelTimings.failoverTimeoutMs}
sentinel parallel-syncs ${sentinelMaster} 1
`;
}

/**
 * A node's password, in a file rather than on its command line, which every local user can read (/proc/<pid>/cmdline).
 * masterauth: a replica authenticates to its primary with the same password.
 */
export const redisAuthConfig = (password: string) => `requirepass ${password}\nmasterauth ${password}\n`;

/** redis-server arguments for node i: it announces itself by its node proxy; the others start as redis-0's replicas. */
export function redisNodeArgs(i: number, p: Ports, dir: string, authConfig: string): string[] {
  return [
    authConfig,
    '--port', String(p.redisNodes[i]),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--daemonize', 'no',
    '--replica-announce-ip', '127.0.0.1',
    '--replica-announce-port', String(p.redisNodeProxies[i]),
    ...(i === 0 ? [] : ['--replicaof', '127.0.0.1', String(p.redisNodeProxies[0])]),
  ];
}

/** Each client's view of the nodes: the address Sentinel announces, rewritten to this client's own proxy to that node. */
export function natMapFor(p: Ports, edge: string): string {
  const own = (node: number) => (node === 0 ? p.proxies[edge as keyof Ports['proxies']] : p.redisNodeClientProxies(edge, node));
  return p.redisNodeProxies.map((announced, i) => `127.0.0.1:${announced}=127.0.0.1:${own(i)}`).join(',');
}

/** A client for readiness and status reads: connects on first use, fails fast, and keeps trying to reconnect. */
export function probeClient(port: number, password: string): () => Promise<Redis> {
  let client: Redis | undefined;
  return async () => {
    client ??= new Redis(port, '127.0.0.1', { password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 500 }).on('error', () => undefined);
    if (client.status === 'wait') await client.connect().catch(() => undefined);
    return client;
  };
}

/** Sets the INFO period on a running Sentinel (see sentinelTimings); idempotent. */
export async function tuneSentinel(sentinel: Redis): Promise<void> {
  await sentinel.call('SENTINEL', 'DEBUG', 'info-period', String(sentinelTimings.infoPeriodMs));
}

export interface RedisView {
  /** The node most Sentinels name primary. */
  primary?: string;
  /** How many Sentinels name it. */
  agreeing: number;
  /** Each replica's replication lag behind the primary, in bytes of its replication stream. */
  lagBytes: Record<string, number>;
}

/** Reads the Sentinels' view (all of them) and the primary's replication, over one client per Sentinel and per node. */
export function redisViewReader(p: Ports, password: string): () => Promise<RedisView> {
  const sentinels = p.sentinels.map((port) => probeClient(port, password));
  const nodes = p.redisNodes.map((port) => probeClient(port, password));
  const named = async (sentinel: () => Promise<Redis>) => {
    const addr = (await (await sentinel()).call('SENTINEL', 'get-master-addr-by-name', sentinelMaster).catch(() => null)) as [string, string] | null;
    const node = addr ? p.redisNodeProxies.indexOf(Number(addr[1])) : -1;
    return node >= 0 ? `redis-${node}` : undefined;
  };
  return async () => {
    const names = (await Promise.all(sentinels.map(named))).filter((n): n is string => n !== undefined);
    const votes = Map.groupBy(names, (n) => n);
    const [primary, agreeing] = [...votes].map(([n, v]) => [n, v.length] as const).sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    const lagBytes: Record<string, number> = {};
    if (primary) {
      const info = (await (await nodes[Number(primary.slice('redis-'.length))]!()).info('replication').catch(() => '')) as string;
      const head = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
      // slaveN:ip=127.0.0.1,port=<node proxy>,state=online,offset=<n>,lag=<s>
      for (const [, port, offset] of info.matchAll(/slave\d+:ip=[^,]+,port=(\d+),state=\w+,offset=(\d+)/g)) {
        const node = p.redisNodeProxies.indexOf(Number(port));
        if (node >= 0 && Number.isFinite(head)) lagBytes[`redis-${node}`] = Math.max(0, head - Number(offset));
      }
    }
    return { primary, agreeing, lagBytes };
  };
}
