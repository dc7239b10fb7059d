// What a soak watches between drills: every process's resident memory and the stores' disk use, sampled on a timer,
// and whether memory stayed bounded once warm.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Sample {
  /** Seconds since the soak started. */
  t: number;
  /** Resident memory by process name, in MB, with the pid it was read from (a restarted process has a new one). */
  rss: Record<string, { mb: number; pid: number }>;
  /** Disk use of each store's data directory, in MB. */
  diskMb: Record<string, number>;
}

/** VmRSS of a pid in MB, or undefined when it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Bytes under a directory, in MB; files that vanish while it is walked (Kafka rolls segments) are skipped. */
export function diskMb(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else {
        try {
          bytes += statSync(path).size;
        } catch {
          // gone meanwhile
        }
      }
    }
  };
  walk(dir);
  return bytes / 1024 / 1024;
}

export interface Growth {
  name: string;
  /** Median RSS over the minute after warm-up, and over the last minute, in MB. */
  baselineMb: number;
  endMb: number;
  growthPercent: number;
  /** The bound it is judged against: growth within a share of its size (or a few MB, for a small process), or an absolute ceiling for a store that fills up to a cap. */
  bound: { percent: number; floorMb: number } | { mb: number };
  ok: boolean;
  /** Set when the process was restarted between the two windows (a drill killed it): its growth is not judged. */
  restarted?: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Judges each process's memory: the median over [warm-up, warm-up + window] against the median over the last window.
 * Growth within `percent` of its size, or within `floorMb` for a process so small that a few MB are a large share (Redis
 * and Toxiproxy idle near 15 MB), passes; a process with a ceiling (`ceilings`, e.g. Jaeger's store, which fills up to its
 * trace cap by design) passes while it stays under it.
 */
export function judgeGrowth(samples: Sample[], opts: { warmupS: number; windowS: number; percent: number; floorMb: number; ceilings?: Record<string, number> }): Growth[] {
  const end = samples.at(-1)?.t ?? 0;
  const early = samples.filter((s) => s.t >= opts.warmupS && s.t <= opts.warmupS + opts.windowS);
  const late = samples.filter((s) => s.t >= end - opts.windowS);
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.rss)))].sort();
  return names.flatMap((name): Growth[] => {
    const before = early.map((s) => s.rss[name]).filter((r) => r !== undefined);
    const after = late.map((s) => s.rss[name]).filter((r) => r !== undefined);
    if (before.length === 0 || after.length === 0) return [];
    const baselineMb = median(before.map((r) => r.mb));
    const endMb = median(after.map((r) => r.mb));
    const growthPercent = ((endMb - baselineMb) / baselineMb) * 100;
    // By name, or by its part for the HA topology's nodes (kafka-1 is judged as kafka).
    const ceiling = opts.ceilings?.[name] ?? opts.ceilings?.[name.replace(/-\d+$/, '')];
    const restarted = new Set([...before, ...after].map((r) => r.pid)).size > 1;
    const bound = ceiling !== undefined ? { mb: ceiling } : { percent: opts.percent, floorMb: opts.floorMb };
    const allowedMb = Math.max((baselineMb * opts.percent) / 100, opts.floorMb);
    const ok = restarted || (ceiling !== undefined ? Math.max(...after.map((r) => r.mb)) <= ceiling : endMb - baselineMb <= allowedMb);
    return [{ name, baselineMb, endMb, growthPercent, bound, ok, ...(restarted ? { restarted } : {}) }];
  });
}
