// pod-kill on the local runtime: the supervisor SIGKILLs the replicas and restarts them, as a ReplicaSet would. The
// fault agent shows the kill as active until the replacements are ready and, for a store's node, another node has led.
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { storeRoles } from '../../../drill/fields.ts';
import { inventoryOf, type SupervisorApi } from '../platform.ts';

export const podKill = (api: SupervisorApi): FaultImplementation<Planned<'pod-kill'>> => ({
  async inject(planned, ctx) {
    const target = planned.replicas.join(',');
    // The role that leads a store: a Redis primary, a Kafka leader.
    const leading = (storeRoles as Record<string, readonly string[]>)[planned.service]?.[0];
    const killed = await api.kill(planned.replicas);
    const marker = await api.trackFault({ drill: ctx.drill, kind: 'pod-kill', target, durationMs: 60_000 }).catch(() => undefined);
    return {
      target,
      injectedAt: killed[0]?.killedAt ?? new Date().toISOString(),
      evidence: { killed },
      effective: killed.every((k) => k.exited && k.signal === 'SIGKILL'),
      summary: killed.map((k) => `${k.name} pid ${k.pid} ${k.exited ? `gone (${k.signal})` : 'still running'}`).join(', '),
      // Recovered when every killed replica runs again under a new pid and is ready; for a store's node, once another
      // node has also led since the kill (the new leader's identity, from the supervisor's record of leadership: Kafka
      // may hand the lead back to the killed broker when it returns).
      async recovered() {
        const status = await api.status();
        const ready = new Set(inventoryOf(status).replicas[planned.service] ?? []);
        const back = status.components.filter((c) => planned.replicas.includes(c.name) && ready.has(c.name) && typeof c.pid === 'number' && !killed.some((k) => k.pid === c.pid));
        if (back.length < planned.replicas.length) return undefined;
        const restarted = back.map((c) => ({ name: c.name, pid: c.pid }));
        if (!leading) return { restarted };
        const since = Date.parse(killed[0]!.killedAt);
        const tookOver = status.leadership?.find((e) => e.store === planned.service && Date.parse(e.at) >= since && !planned.replicas.includes(e.node))?.node;
        if (!tookOver) return undefined;
        return { restarted, tookOver, [leading]: status.components.find((c) => 'role' in c && c.role === leading)?.name };
      },
      async remove() {
        return marker ? { marker: (await api.removeFault(marker.id)).id } : {};
      },
    };
  },
});
