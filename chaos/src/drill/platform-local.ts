import { jsonApi } from '../local/json-api.ts';
import { fetchStatus } from '../local/runtime.ts';
import type { AgentFault, EdgeFaultRequest, TrackedFaultRequest } from '../local/faults.ts';
import { localEdges, type Inventory } from './plan.ts';

export type StackStatus = NonNullable<Awaited<ReturnType<typeof fetchStatus>>>;

/** The drill's view of the local runtime: only its supervisor's control API (status, faults, kills), never its code. */
export function localPlatform(portBase: number) {
  const call = jsonApi(`http://127.0.0.1:${portBase}`, 'supervisor', 15_000);
  return {
    name: 'local' as const,
    async status(): Promise<StackStatus> {
      const s = await fetchStatus({ portBase });
      if (!s || s.phase !== 'ready') throw new Error(`the local stack on port base ${portBase} is not ready: run \`faultline up\` first`);
      return s;
    },
    async inventory(): Promise<Inventory> {
      const s = await this.status();
      const replicas: Record<string, string[]> = {};
      for (const c of s.components) if (c.kind === 'replica' && c.service) (replicas[c.service] ??= []).push(c.name);
      return { replicas, edges: localEdges };
    },
    injectEdgeFault: (request: EdgeFaultRequest) => call<AgentFault>('POST', '/faults', request),
    trackFault: (request: TrackedFaultRequest) => call<AgentFault>('POST', '/faults', request),
    removeFault: (id: string) => call<AgentFault>('DELETE', `/faults/${id}`),
    faults: () => call<AgentFault[]>('GET', '/faults'),
    kill: (replicas: string[]) => call<Array<{ name: string; pid: number | null; killedAt: string; exited: boolean; signal?: string | null }>>('POST', '/kill', { replicas }),
  };
}
export type LocalPlatform = ReturnType<typeof localPlatform>;
