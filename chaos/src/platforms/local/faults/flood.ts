// flood on the local runtime: a k6 process, shown by the fault agent as active while it runs.
import { floodEvidence } from '../../../drill/faults/flood.ts';
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation, Platform } from '../../../drill/platform.ts';
import type { SupervisorApi } from '../platform.ts';

export const flood = (api: SupervisorApi, startLoad: Platform['startLoad']): FaultImplementation<Planned<'flood'>> => ({
  async inject(planned, ctx) {
    const injectedAt = new Date().toISOString();
    const load = await startLoad(planned.load, { name: `flood-${planned.load.script.replace(/\.js$/, '')}`, run: ctx.run, drill: ctx.drill });
    const marker = await api.trackFault({ drill: ctx.drill, kind: 'flood', target: planned.load.script, durationMs: planned.durationMs + 5000 }).catch(() => undefined);
    return {
      target: `gateway via ${planned.load.script}`,
      injectedAt,
      ...(await floodEvidence(planned, load)),
      load,
      async remove() {
        await load.stop();
        return marker ? { marker: (await api.removeFault(marker.id)).id } : {};
      },
    };
  },
});
