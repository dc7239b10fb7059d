// flood on Kubernetes: k6 in a Job of its own (k6-job.ts), labelled as the fault, sending its traffic to the gateway's
// Service from inside the cluster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScriptsDir } from '../../../core/paths.ts';
import { floodEvidence } from '../../../drill/faults/flood.ts';
import type { Planned } from '../../../drill/faults/index.ts';
import type { FaultImplementation } from '../../../drill/platform.ts';
import { k6DeadlineSeconds, k6ObjectNames, k6ObjectProblems, k6Objects } from '../k6-job.ts';
import type { FaultIdentity } from '../labels.ts';
import type { FaultBody, FaultContext, KubernetesFaultDeps } from './types.ts';

type Flood = Planned<'flood'>;

export const floodIdentity = (planned: Flood, drill: string, id: string, now: number): FaultIdentity => ({ id, drill, kind: 'flood', target: planned.load.script, expiresAt: now + k6DeadlineSeconds(planned.load) * 1000 });

export function floodObjects(planned: Pick<Flood, 'load'>, owner: FaultIdentity, ctx: FaultContext): FaultBody[] {
  const scriptText = readFileSync(join(loadScriptsDir, planned.load.script), 'utf8');
  const { configMap, job } = k6Objects({ owner, load: planned.load, scriptText, namespace: ctx.namespace, image: ctx.k6Image, gatewayUrl: ctx.gatewayUrl, apiKeySecret: ctx.apiKeySecret });
  return [
    { kind: 'ConfigMap', body: configMap },
    { kind: 'Job', body: job },
  ];
}

export const flood = ({ driver, traffic, k6Run }: KubernetesFaultDeps): FaultImplementation<Flood> => ({
  async inject(planned, ctx) {
    const injectedAt = new Date().toISOString();
    const injected = await driver.injectFault(planned, ctx.drill);
    const bodies = await driver.faultBodies(injected.id);
    const problems = k6ObjectProblems(bodies, planned.load.script);
    const job = k6ObjectNames(injected.id).job;
    const objects = { id: injected.id, job: bodies.jobs.map((j) => j.metadata?.name), configMaps: bodies.configMaps.map((c) => c.metadata?.name), problems };
    if (!traffic || problems.length) {
      // No traffic reaches this cluster (its pods do not really run): the evidence is the Job the API server holds.
      return { target: `gateway via ${planned.load.script}`, injectedAt, evidence: objects, effective: problems.length === 0, summary: problems.length ? problems.join('; ') : `Job ${job} created`, remove: () => driver.removeAndCheck(injected.id) };
    }
    const load = k6Run(injected.id, planned.durationMs);
    const shown = await floodEvidence(planned, load);
    return {
      target: `gateway via ${planned.load.script}`,
      injectedAt,
      evidence: { ...objects, ...shown.evidence },
      effective: shown.effective,
      summary: shown.summary,
      load,
      async remove() {
        await load.stop();
        await load.done().catch(() => undefined); // its figures and acknowledgements are read before the Job goes
        return driver.removeAndCheck(injected.id);
      },
    };
  },
});
