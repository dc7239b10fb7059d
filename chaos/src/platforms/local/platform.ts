// The local runtime as a drill platform: the shop as processes on loopback, reached through its supervisor's control
// API (status, the fault agent, kills), never through its code.
import { join } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { redisLedger } from '../../drill/ledger.ts';
import type { Endpoints, Inventory, LoadRun, Platform } from '../../drill/platform.ts';
import type { AgentFault, EdgeFaultRequest, PauseFaultRequest, TrackedFaultRequest } from './agent.ts';
import { edgeFault } from './faults/edge.ts';
import { flood } from './faults/flood.ts';
import { pause } from './faults/pause.ts';
import { podKill } from './faults/pod-kill.ts';
import { bearer, readControlToken, readSecret } from './stack-secrets.ts';
import { jsonApi } from './json-api.ts';
import { edgesOf, type RuntimeOptions } from './layout.ts';
import { startK6 } from './k6.ts';
import { fetchStatus } from './runtime.ts';

export type StackStatus = NonNullable<Awaited<ReturnType<typeof fetchStatus>>>;
export interface KilledReplica {
  name: string;
  pid: number | null;
  killedAt: string;
  exited: boolean;
  signal?: string | null;
}

/** The supervisor's control API, typed. */
export function supervisorApi(stack: Pick<RuntimeOptions, 'portBase' | 'stateDir'>) {
  const call = jsonApi(`http://127.0.0.1:${stack.portBase}`, 'supervisor', 15_000, () => bearer(readControlToken(stack.stateDir)));
  return {
    async status(): Promise<StackStatus> {
      const s = await fetchStatus(stack);
      if (!s || s.phase !== 'ready') throw new UsageError(`the local stack on port base ${stack.portBase} is not ready: run \`faultline up\` first (its state directory: ${stack.stateDir})`);
      return s;
    },
    injectEdgeFault: (request: EdgeFaultRequest) => call<AgentFault>('POST', '/faults', request),
    trackFault: (request: TrackedFaultRequest) => call<AgentFault>('POST', '/faults', request),
    pause: (request: Omit<PauseFaultRequest, 'kind'>) => call<AgentFault>('POST', '/faults', { kind: 'pause', ...request }),
    removeFault: (id: string) => call<AgentFault>('DELETE', `/faults/${id}`),
    faults: () => call<AgentFault[]>('GET', '/faults'),
    kill: (replicas: string[]) => call<KilledReplica[]>('POST', '/kill', { replicas }),
  };
}
export type SupervisorApi = ReturnType<typeof supervisorApi>;

/** Ready replicas of every part, with the Redis and Kafka nodes' roles in the HA topology, from the supervisor's status. */
export function inventoryOf(status: StackStatus): Inventory {
  const replicas: Record<string, string[]> = {};
  const roles: Record<string, string> = {};
  for (const c of status.components) {
    const part = c.service ?? /^(redis|kafka)(?=$|-\d$)/.exec(c.name)?.[1];
    if (part && c.health === 'ready') (replicas[part] ??= []).push(c.name);
    if ('role' in c && c.role) roles[c.name] = c.role;
  }
  return { replicas, edges: edgesOf(status.topology), ...(Object.keys(roles).length ? { roles } : {}) };
}

export interface LocalPlatformOptions {
  portBase: number;
  /** The stack's state directory, where its control token is. */
  stateDir: string;
  /** Where k6 writes its output for this drill. */
  workDir: string;
}

export function localPlatform(opts: LocalPlatformOptions): Platform & { api: SupervisorApi } {
  const api = supervisorApi(opts);
  let endpoints: Endpoints | undefined;
  const startLoad = async (load: Parameters<Platform['startLoad']>[0], ctx: Parameters<Platform['startLoad']>[1]): Promise<LoadRun> => {
    const { gateway, apiKeys } = endpoints ?? (await platform.connect())!;
    return startK6(load, { name: ctx.name, gateway, apiKey: apiKeys[load.apiKey], run: ctx.run, dir: join(opts.workDir, 'k6') });
  };
  const platform: Platform & { api: SupervisorApi } = {
    name: 'local',
    where: `the local stack on port base ${opts.portBase}`,
    traffic: true,
    api,
    faults: {
      'pod-kill': podKill(api),
      'network-partition': edgeFault(api),
      latency: edgeFault(api),
      flood: flood(api, startLoad),
      pause: pause(api),
    },
    async connect() {
      if (endpoints) return endpoints;
      const s = await api.status();
      endpoints = { gateway: s.urls.gateway, prometheus: s.urls.prometheus, dashboard: s.urls.dashboard, apiKeys: { local: s.apiKeys.local!, load: s.apiKeys.load! } };
      return endpoints;
    },
    inventory: async () => inventoryOf(await api.status()),
    async replicaMetrics(service) {
      const s = await api.status();
      const urls = s.components.filter((c) => c.service === service && c.health === 'ready').map((c) => c.url);
      const texts = await Promise.all(urls.map((url) => fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1000) }).then((r) => (r.ok ? r.text() : undefined), () => undefined)));
      return texts.filter((t): t is string => t !== undefined);
    },
    startLoad,
    async ledger() {
      const { urls } = await api.status();
      return redisLedger(urls.sentinels ? { sentinels: urls.sentinels, password: readSecret(opts.stateDir, 'redis-password') } : { url: urls.redis });
    },
    close: async () => undefined,
  };
  return platform;
}
