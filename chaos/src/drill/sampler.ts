// The sampler: every probe read every `sampleEvery` from the steady state on, so that verifications can be judged over
// any window afterwards; during the method, two bad readings in a row of an abort condition stop the drill.
import { pause } from '../core/time.ts';
import type { Phase } from './journal.ts';
import type { Endpoints, Platform } from './platform.ts';
import { probeTolerance, readProbe, sampleContext } from './probes.ts';
import type { Probe } from './schema.ts';
import { within, type Sample } from './verify.ts';

export interface Sampler {
  readonly samples: Sample[];
  /** Reads these probes once now, with the sample's shared scrape. */
  read(probes: Probe[]): Promise<Record<string, number | undefined>>;
  /** Stops after the sample under way. */
  stop(): Promise<void>;
}

export function startSampler(opts: {
  platform: Pick<Platform, 'replicaMetrics' | 'inventory'>;
  endpoints: Endpoints;
  probes: Probe[];
  abortConditions: Probe[];
  everyMs: number;
  /** ms since the run started */
  at: () => number;
  phase: () => Phase;
  onSample: (sample: Sample) => void;
  abort: (reason: string) => void;
}): Sampler {
  const samples: Sample[] = [];
  const misses = new Map<string, number>();
  let sampling = true;
  const read = async (probes: Probe[]) => {
    const ctx = sampleContext(opts.platform, opts.endpoints);
    const values: Record<string, number | undefined> = {};
    await Promise.all(probes.map(async (p) => (values[p.name] = await readProbe(p, ctx))));
    return values;
  };
  const loop = (async () => {
    while (sampling) {
      const started = Date.now();
      // Stamped when the reading began: a reading that began before a fault was removed may still show it.
      const t = opts.at();
      const values = await read(opts.probes);
      const sample = { t, values };
      samples.push(sample);
      if (opts.phase() === 'method') {
        for (const p of opts.abortConditions) {
          const bad = !within(values[p.name], probeTolerance(p));
          misses.set(p.name, bad ? (misses.get(p.name) ?? 0) + 1 : 0);
          if ((misses.get(p.name) ?? 0) >= 2) opts.abort(`abort condition ${p.name} out of tolerance (${values[p.name] ?? 'no reading'})`);
        }
      }
      opts.onSample(sample);
      await pause(Math.max(0, opts.everyMs - (Date.now() - started)));
    }
  })();
  return {
    samples,
    read,
    async stop() {
      sampling = false;
      await loop;
    },
  };
}
