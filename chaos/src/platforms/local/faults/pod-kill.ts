// pod-kill on the local runtime: the supervisor SIGKILLs the replicas and restarts them, as a ReplicaSet would. The
// fault agent shows the kill as active until the replacements are ready.
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { inventoryOf, type SupervisorApi } from '../platform.ts';

export const podKill = (api: SupervisorApi): FaultImplementation<Planned<'pod-kill'>> => ({
  async inject(planned, ctx) {
    const target = planned.replicas.join(',');
    const leading = ({ redis: 'primary', kafka: 'leader' } as Record<string, string>)[planned.service];
    let tookOver: string | undefined;
    const killed = await api.kill(planned.replicas);
    const marker = await api.trackFault({ drill: ctx.drill, kind: 'pod-kill', target, durationMs: 60_000 }).catch(() => undefined);
    return {
      target,
      injectedAt: killed[0]?.killedAt ?? new Date().toISOString(),
      evidence: { killed },
      effective: killed.every((k) => k.exited && k.signal === 'SIGKILL'),
      summary: killed.map((k) => `${k.name} pid ${k.pid} ${k.exited ? `gone (${k.signal})` : 'still running'}`).join(', '),
      // Recovered when every killed replica runs again under a new pid and is ready. Polled from the kill on, so for a
      // store's node it also sees the new leader's identity: the first other node named leading (Kafka may hand the
      // lead back to the killed broker once it returns).
      async recovered() {
        const status = await api.status();
        const holder = leading && status.components.find((c) => 'role' in c && c.role === leading)?.name;
        if (holder && !planned.replicas.includes(holder)) tookOver ??= holder;
        const ready = new Set(inventoryOf(status).replicas[planned.service] ?? []);
        const back = status.components.filter((c) => planned.replicas.includes(c.name) && ready.has(c.name) && c.pid !== undefined && !killed.some((k) => k.pid === c.pid));
        if (back.length < planned.replicas.length) return undefined;
        return { restarted: back.map((c) => ({ name: c.name, pid: c.pid })), ...(leading ? { tookOver, [leading]: holder } : {}) };
      },
      async remove() {
        return marker ? { marker: (await api.removeFault(marker.id)).id } : {};
      },
    };
  },
});
