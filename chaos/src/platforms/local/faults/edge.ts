// network-partition and latency on the local runtime: Toxiproxy toxics on the edge's proxy, put in and taken out by
// the supervisor's fault agent, which also removes them by their deadline if the drill dies.
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import type { SupervisorApi } from '../platform.ts';

type EdgeKind = Planned<'network-partition'> | Planned<'latency'>;

export const edgeFault = <P extends EdgeKind>(api: SupervisorApi): FaultImplementation<P> => ({
  async inject(planned, ctx) {
    const latencyMs = planned.kind === 'latency' ? planned.latencyMs : undefined;
    const injected = await api.injectEdgeFault({
      drill: ctx.drill,
      kind: planned.kind,
      edge: planned.edge,
      direction: planned.direction,
      durationMs: planned.durationMs,
      jitterMs: planned.kind === 'latency' ? planned.jitterMs : 0,
      ...(planned.nodes ? { nodes: planned.nodes } : {}),
      ...(latencyMs ? { latencyMs } : {}),
    });
    const probe = injected.evidence.injected;
    // A request through the proxy: a partition leaves it unanswered, latency delays its answer.
    const effective = planned.kind === 'network-partition' ? probe?.answered === false : probe?.answered === true && probe.ms >= 0.8 * (latencyMs ?? 0);
    return {
      target: planned.nodes ? `${planned.edge} (${planned.nodes.join(', ')})` : planned.edge,
      injectedAt: injected.injectedAt,
      evidence: { id: injected.id, direction: planned.direction, toxics: injected.toxics, expiresAt: injected.expiresAt, probe },
      effective,
      summary: `${planned.direction} until ${injected.expiresAt.slice(11, 23)}: a request through it ${probe?.answered ? `answered in ${probe.ms} ms` : `got no answer (${probe?.failure})`}`,
      async remove() {
        const removed = await api.removeFault(injected.id);
        return { recovered: removed.evidence.recovered, removedBy: removed.removedBy };
      },
    };
  },
});
