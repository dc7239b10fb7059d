// A Helm release of the shop on any cluster, as a drill platform, from a kubeconfig alone: faults through the fault
// driver (API objects), probes and the ledger through the API server (service and pod proxies, a port-forward to
// Redis), loads as k6 Jobs in the cluster. Where a drill may act on the API alone (the chaos controller's Role, with
// no proxies and no Secret), `traffic: false` makes it a faults-only platform.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { UsageError } from '../../core/errors.ts';
import { loadDurationMs } from '../../drill/fields.ts';
import { redisLedger } from '../../drill/ledger.ts';
import type { Endpoints, Inventory, Platform } from '../../drill/platform.ts';
import { apiProxy, podTunnel, type LoopbackServer } from './access.ts';
import { describeApiError, isNotFound } from './client.ts';
import { faultDriver, type FaultDriverOptions } from './driver.ts';
import { kubernetesFaults } from './faults/index.ts';
import { k6JobRun } from './load.ts';

export interface KubernetesPlatformOptions extends FaultDriverOptions {
  /** False to run faults only, through the API alone; the journal says what was skipped. */
  traffic: boolean;
}

/** The chart's names: every object is `<release>-<part>`, the shop's Services serve port `http`. */
export const chartNames = (release: string) => ({
  gateway: `${release}-gateway`,
  prometheus: `${release}-prometheus`,
  redis: `${release}-redis`,
  apiKeys: `${release}-api-keys`,
});

const appPort = 8080;

/** A Service of the release; a missing one is a wrong --release or --namespace, not a failed run. */
export async function requireService(core: CoreV1Api, service: string, namespace: string, release: string) {
  await core.readNamespacedService({ name: service, namespace }).catch((err: unknown) => {
    if (isNotFound(err)) throw new UsageError(`no Service ${service} in namespace ${namespace}: is release ${release} installed there, with Prometheus enabled? (--release, --namespace)`);
    throw new UsageError(describeApiError(`read Service ${service} in namespace ${namespace}`, err));
  });
}

/** The pod a Redis replica follows (its primary announces itself by its pod's DNS name), or undefined for a primary. */
async function primaryOf(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const host = /^master_host:(\S+)/m.exec(await redis.info('replication'))?.[1];
    return host?.split('.')[0];
  } finally {
    redis.disconnect();
  }
}

export function kubernetesPlatform(opts: KubernetesPlatformOptions): Platform & { driver: ReturnType<typeof faultDriver> } {
  const { kc, namespace, release } = opts;
  const driver = faultDriver(opts);
  const core = kc.makeApiClient(CoreV1Api);
  // A release may keep its API keys in a Secret of its own (the chart's existingApiKeysSecret).
  const names = { ...chartNames(release), ...(opts.apiKeySecret ? { apiKeys: opts.apiKeySecret } : {}) };
  const opened: LoopbackServer[] = [];
  let endpoints: Promise<Endpoints> | undefined;
  let proxyBase: string | undefined;
  const tunnels = new Map<string, Promise<LoopbackServer>>();
  const tunnelTo = (pod: string) => {
    if (!tunnels.has(pod)) tunnels.set(pod, podTunnel(kc, namespace, pod, 6379).then((t) => (opened.push(t), t)));
    return tunnels.get(pod)!;
  };

  // One pod list serves every probe of a sample (and the runner polls often): cached for half a second.
  let cached: { at: number; inventory: Promise<Inventory> } | undefined;
  const inventory = () => {
    if (!cached || Date.now() - cached.at > 500) cached = { at: Date.now(), inventory: driver.inventory() };
    return cached.inventory;
  };

  const connect = async (): Promise<Endpoints> => {
    for (const service of [names.gateway, names.prometheus]) await requireService(core, service, namespace, release);
    const secret = await core.readNamespacedSecret({ name: names.apiKeys, namespace }).catch((err: unknown) => {
      throw new UsageError(describeApiError(`read Secret ${names.apiKeys} (the release's API keys) in namespace ${namespace}`, err));
    });
    const key = (client: string) => Buffer.from(secret.data?.[`client.${client}`] ?? '', 'base64').toString('utf8');
    if (!(await inventory()).replicas.redis?.length) throw new UsageError(`no ready Redis pod of release ${release} in namespace ${namespace}: the ledger cannot be read`);
    const proxy = await apiProxy(kc);
    opened.push(proxy);
    proxyBase = proxy.address;
    const service = (name: string, port: string | number) => `${proxy.address}/api/v1/namespaces/${namespace}/services/http:${name}:${port}/proxy`;
    return { gateway: service(names.gateway, 'http'), prometheus: service(names.prometheus, 'http'), apiKeys: { local: key('local'), load: key('load') } };
  };

  const k6Run = (id: string, durationMs: number, owned: boolean) =>
    k6JobRun({ core, namespace, apiBase: proxyBase!, ...(owned ? { removeObjects: () => driver.removeFault(id) } : {}) }, id, { durationMs });

  return {
    name: 'kubernetes',
    where: `release ${release} in namespace ${namespace} (${kc.getCurrentCluster()?.server})`,
    traffic: opts.traffic,
    driver,
    faults: kubernetesFaults({ driver, traffic: opts.traffic, k6Run: (id, durationMs) => k6Run(id, durationMs, false) }),
    async connect() {
      if (!opts.traffic) return undefined;
      endpoints ??= connect();
      return endpoints;
    },
    inventory,
    async replicaMetrics(service) {
      const pods = (await inventory()).replicas[service] ?? [];
      const texts = await Promise.all(
        pods.map((pod) =>
          fetch(`${proxyBase}/api/v1/namespaces/${namespace}/pods/${pod}:${appPort}/proxy/metrics`, { signal: AbortSignal.timeout(1000) }).then(
            (r) => (r.ok ? r.text() : undefined),
            () => undefined,
          ),
        ),
      );
      return texts.filter((t): t is string => t !== undefined);
    },
    async startLoad(load, ctx) {
      const owner = await driver.createLoad(load, ctx.drill);
      const run = k6Run(owner.id, loadDurationMs(load), true);
      await run.started(); // once k6 answers, so that the drill's clock matches its load
      return run;
    },
    async ledger() {
      await this.connect();
      const [first] = (await driver.inventory()).replicas.redis ?? [];
      if (!first) throw new Error(`no ready Redis pod of release ${release} in namespace ${namespace}: the ledger cannot be read`);
      // With topology ha any node may be the primary by now, and a replica may lag: read where writes go.
      const primary = await primaryOf(`redis://${(await tunnelTo(first)).address}`);
      return redisLedger({ url: `redis://${(await tunnelTo(primary ?? first)).address}` });
    },
    async close() {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    },
  };
}

export type { KubeConfig };
