// A drill's per-platform adjustments, applied once the platform is known: the drill file stays one file, and every
// difference is recorded with its reason in the plan, the journal and the report.
import { probe as probeSchema, type Adjustment, type Drill, type PlatformName, type Probe } from './schema.ts';

export interface AppliedAdjustment {
  platform: PlatformName;
  /** "verification <name>" or "probe <name>" */
  target: string;
  change: string;
  reason: string;
}

const sources = ['promql', 'metric', 'http', 'replicas'] as const;

function adjustProbe(p: Probe, a: Adjustment): Probe {
  const source = sources.find((s) => a[s] !== undefined);
  const base: Probe = source ? ({ name: p.name, ...(p.tolerance ? { tolerance: p.tolerance } : {}), [source]: a[source] } as Probe) : p;
  return probeSchema.parse({ ...base, ...(a.tolerance ? { tolerance: a.tolerance } : {}) });
}

export function forPlatform(drill: Drill, platform: PlatformName): { drill: Drill; adjustments: AppliedAdjustment[] } {
  const list = drill.platforms[platform] ?? [];
  const adjusted = structuredClone(drill);
  const adjustments: AppliedAdjustment[] = [];
  for (const a of list) {
    if (a.verification !== undefined) {
      const v = adjusted.verifications.find((x) => x.name === a.verification)!;
      if (a.during) v.during = a.during;
      if (a.expect) v.expect = a.expect;
      adjustments.push({ platform, target: `verification "${v.name}"`, change: JSON.stringify({ ...(a.during ? { during: a.during } : {}), ...(a.expect ? { expect: a.expect } : {}) }), reason: a.reason });
    } else {
      const name = a.probe!;
      for (const list of [adjusted.steadyState.probes, adjusted.probes, adjusted.abortConditions]) {
        list.forEach((p, i) => p.name === name && (list[i] = adjustProbe(p, a)));
      }
      const { reason: _r, probe: _p, ...change } = a;
      adjustments.push({ platform, target: `probe "${name}"`, change: JSON.stringify(change), reason: a.reason });
    }
  }
  return { drill: adjusted, adjustments };
}
