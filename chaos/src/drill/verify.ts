import type { Drill } from './schema.ts';

export interface Sample {
  /** ms since the drill started */
  t: number;
  values: Record<string, number | undefined>;
}

export interface Windows {
  baseline: [number, number];
  fault: [number, number];
  recovery: [number, number];
  whole: [number, number];
}

export interface VerificationResult {
  name: string;
  ok: boolean;
  expected: string;
  observed: string;
}

type Tolerance = { min?: number; max?: number };
export const within = (v: number | undefined, t: Tolerance) => v !== undefined && Number.isFinite(v) && (t.min === undefined || v >= t.min) && (t.max === undefined || v <= t.max);
const show = (t: Tolerance) => (t.min !== undefined && t.max !== undefined ? `${t.min} ≤ x ≤ ${t.max}` : t.min !== undefined ? `x ≥ ${t.min}` : `x ≤ ${t.max}`);
const fmt = (v: number | undefined) => (v === undefined ? 'no reading' : String(Math.round(v * 1000) / 1000));

/** Judges each verification on the probe readings inside its phase window. */
export function verify(drill: Drill, samples: Sample[], windows: Windows): VerificationResult[] {
  return drill.verifications.map((v) => {
    const [from, to] = windows[v.during];
    const readings = samples.filter((s) => s.t >= from && s.t <= to).map((s) => ({ t: s.t, v: s.values[v.probe] }));
    const seen = readings.filter((r) => r.v !== undefined);
    const where = `${v.probe} during ${v.during} (${seen.length} readings over ${Math.round((to - from) / 100) / 10} s)`;
    if (seen.length === 0) return { name: v.name, ok: false, expected: `readings of ${v.probe} during ${v.during}`, observed: `no readings of ${v.probe} during ${v.during}` };
    const e = v.expect;
    if (e.always) {
      const bad = seen.find((r) => !within(r.v, e.always!));
      return { name: v.name, ok: !bad, expected: `${where}: always ${show(e.always)}`, observed: bad ? `${fmt(bad.v)} at +${((bad.t - from) / 1000).toFixed(2)} s` : `all within; range ${fmt(Math.min(...seen.map((r) => r.v!)))}..${fmt(Math.max(...seen.map((r) => r.v!)))}` };
    }
    if (e.reaches) {
      const hit = seen.find((r) => within(r.v, e.reaches!));
      const after = hit ? hit.t - from : undefined;
      const inTime = hit !== undefined && (e.within === undefined || after! <= e.within);
      const expected = `${where}: reaches ${show(e.reaches)}${e.within !== undefined ? ` within ${e.within / 1000} s` : ''}`;
      const observed = hit ? `reached ${fmt(hit.v)} after ${(after! / 1000).toFixed(2)} s` : `never; last ${fmt(seen.at(-1)!.v)}, range ${fmt(Math.min(...seen.map((r) => r.v!)))}..${fmt(Math.max(...seen.map((r) => r.v!)))}`;
      return { name: v.name, ok: inTime, expected, observed };
    }
    const change = seen.at(-1)!.v! - seen[0]!.v!;
    return { name: v.name, ok: within(change, e.change!), expected: `${where}: change ${show(e.change!)}`, observed: `changed by ${fmt(change)} (${fmt(seen[0]!.v)} → ${fmt(seen.at(-1)!.v)})` };
  });
}

/**
 * Whether the recovery window holds enough to judge its verifications: every one has two readings at least, and each
 * `reaches` has been met or has run out of its `within`. A kill replaced after the method's last step would otherwise
 * leave a window of a few milliseconds, read by no sample.
 */
export function recoveryJudgeable(drill: Drill, samples: Sample[], from: number, now: number): boolean {
  return drill.verifications
    .filter((v) => v.during === 'recovery')
    .every((v) => {
      const seen = samples.filter((s) => s.t >= from && s.values[v.probe] !== undefined);
      if (seen.length < 2) return false;
      const e = v.expect;
      if (!e.reaches) return true;
      return seen.some((s) => within(s.values[v.probe], e.reaches!)) || (e.within !== undefined && now - from > e.within);
    });
}
