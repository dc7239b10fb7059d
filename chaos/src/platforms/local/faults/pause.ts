// pause on the local runtime: the supervisor's fault agent SIGSTOPs the replicas and SIGCONTs them on removal or at
// the deadline, whichever comes first, even if the drill that asked has died.
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { allStopped, noneStopped, type ProcessState } from '../freeze.ts';
import type { SupervisorApi } from '../platform.ts';

const describeStates = (states: ProcessState[] = []) => states.map((s) => `${s.name} pid ${s.pid} ${s.state === 'T' ? 'stopped' : s.state === 'gone' ? 'gone' : `state ${s.state}`}`).join(', ');

export const pause = (api: SupervisorApi): FaultImplementation<Planned<'pause'>> => ({
  async inject(planned, ctx) {
    const fault = await api.pause({ drill: ctx.drill, replicas: planned.replicas, durationMs: planned.durationMs });
    const stopped = fault.evidence.stopped ?? [];
    return {
      target: planned.replicas.join(','),
      injectedAt: fault.injectedAt,
      evidence: { id: fault.id, expiresAt: fault.expiresAt, stopped },
      effective: allStopped(stopped),
      summary: `until ${fault.expiresAt.slice(11, 23)}: ${describeStates(stopped)}`,
      async remove() {
        const removed = await api.removeFault(fault.id);
        const resumed = removed.evidence.resumed ?? [];
        return { removedBy: removed.removedBy, resumed, running: noneStopped(resumed), summary: describeStates(resumed) };
      },
    };
  },
});
