// flood: far more traffic than the shop can serve, from one client, with k6's open model (a k6 process locally, a k6
// Job in the cluster). It lasts as long as its load.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../core/errors.ts';
import { loadScriptsDir } from '../../core/paths.ts';
import { describeLoad, executorFields, executorMessage, k6Load, loadDurationMs, type LoadSpec } from '../fields.ts';
import type { LoadRun } from '../platform.ts';
import type { FaultKind } from './kind.ts';

const schema = z.strictObject({ kind: z.literal('flood'), ...k6Load }).refine(executorFields, executorMessage);
export type Flood = z.infer<typeof schema>;
export interface PlannedFlood {
  kind: 'flood';
  load: LoadSpec;
  durationMs: number;
}

/** Load scripts are files of chaos/load: refused before anything runs when missing. */
export function requireScript(script: string) {
  if (!existsSync(join(loadScriptsDir, script))) throw new UsageError(`no load script ${script} in chaos/load`);
}

export const flood: FaultKind<typeof schema, PlannedFlood> = {
  schema,
  lasts: 'load',
  plan: (fault) => {
    requireScript(fault.script);
    const { kind: _kind, ...load } = fault;
    return { kind: 'flood', load, durationMs: loadDurationMs(load) };
  },
  describe: (f) => `flood ${describeLoad(f)}`,
};

/** The evidence a flood took effect, on any platform: k6 started iterations at about the asked rate. */
export async function floodEvidence(planned: PlannedFlood, load: LoadRun) {
  const observed = await load.observedRate();
  const asked = planned.load.executor === 'constant-arrival-rate' ? planned.load.rate : undefined;
  return {
    evidence: { k6: load.label, askedRate: asked ?? 'ramping', observedRate: observed },
    effective: observed !== undefined && (asked === undefined ? observed > 0 : observed >= 0.8 * asked),
    summary: `k6 ${load.label} running at ${observed ?? '?'} iterations/s${asked ? ` (asked ${asked}/s)` : ''}`,
  };
}

