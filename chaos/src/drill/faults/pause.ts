// pause: replicas of a service freeze for a while and then go on, as a long GC pause or a stalled VM would (SIGSTOP,
// then SIGCONT). The gray failure heartbeats exist for: the process holds its connections and answers nothing.
import { z } from 'zod';
import { faultDuration, formatDuration, selector } from '../fields.ts';
import type { FaultKind } from './kind.ts';
import { chooseReplicas, modeFields, valueRule } from './pod-kill.ts';

const schema = z.strictObject({ kind: z.literal('pause'), selector, ...modeFields, duration: faultDuration }).refine(...valueRule);
export type Pause = z.infer<typeof schema>;

export interface PlannedPause {
  kind: 'pause';
  service: string;
  mode: Pause['mode'];
  /** The replicas chosen to freeze. */
  replicas: string[];
  durationMs: number;
}

export const pause: FaultKind<typeof schema, PlannedPause> = {
  schema,
  lasts: 'duration',
  plan: (fault, inventory, random) => ({
    kind: 'pause',
    service: fault.selector.service,
    mode: fault.mode,
    replicas: chooseReplicas(fault, inventory.replicas[fault.selector.service] ?? [], random),
    durationMs: fault.duration,
  }),
  describe: (f) => `pause ${f.selector.service} (mode ${f.mode}${f.value ? ` ${f.value}` : ''}) for ${formatDuration(f.duration)}`,
};
