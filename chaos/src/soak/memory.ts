// What a soak watches between drills: every process's resident memory, the shop replicas' live JavaScript memory, and
// the stores' disk use, sampled on a timer; and whether memory stayed bounded once warm.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { metricsText, readMetric } from '../core/prometheus.ts';

export interface Sample {
  /** Seconds since the soak started. */
  t: number;
  /** Resident memory by process name, in MB, with the pid it was read from (a restarted process has a new one). */
  rss: Record<string, { mb: number; pid: number }>;
  /** A shop replica's JavaScript memory (V8's used heap and external buffers, from its /metrics), in MB. */
  heap?: Record<string, { mb: number; pid: number }>;
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

/**
 * A Node process's used heap plus external memory (Buffers) in MB, from the prom-client default metrics at its
 * /metrics, or undefined when it does not answer in time.
 */
export async function heapMb(url: string): Promise<number | undefined> {
  const text = await metricsText(url, 2000);
  if (text === undefined) return undefined;
  const bytes = (name: string) => readMetric(text, name, {}) ?? NaN;
  const mb = (bytes('nodejs_heap_size_used_bytes') + bytes('nodejs_external_memory_bytes')) / 1024 / 1024;
  return Number.isFinite(mb) ? mb : undefined;
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
  /**
   * What its growth is judged on: a shop replica's JavaScript memory at its lowest in each window (what is left after
   * collections: a leak raises it, garbage and a heap V8 has not yet shrunk do not), or else resident memory's median.
   */
  measure: 'heap' | 'rss';
  /** The measure over the window after warm-up and over the last window, in MB. */
  baselineMb: number;
  endMb: number;
  growthPercent: number;
  /** Growth within a share of its size, or a few MB for a small process; absent for a store judged by its ceiling alone. */
  growthBound?: { percent: number; floorMb: number };
  /** Resident memory at its highest after warm-up, in MB, and the ceiling it must stay under, where it has one. */
  peakRssMb: number;
  ceilingMb?: number;
  ok: boolean;
  /** Set when the process was restarted between the two windows (a drill killed it): it is not judged. */
  restarted?: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Judges each process's memory once warm, the window after `warmupS` against the last window:
 * - growth, on the lowest JavaScript memory in each window where the process reports it (the shop replicas), or else on
 *   the median resident memory, within `percent` of its size or `floorMb` for a process so small that a few MB are a
 *   large share (Redis and Toxiproxy idle near 15 MB);
 * - resident memory after warm-up at most its `limits` entry (a replica's pod limit), where it has one;
 * - a store that fills up to a cap by design (Jaeger's traces, Kafka's heap) by its `ceilings` entry alone.
 * Each is looked up by name, or by its part (gateway-1 as gateway, the HA topology's kafka-1 as kafka).
 */
export function judgeGrowth(
  samples: Sample[],
  opts: { warmupS: number; windowS: number; percent: number; floorMb: number; limits?: Record<string, number>; ceilings?: Record<string, number> },
): Growth[] {
  const end = samples.at(-1)?.t ?? 0;
  const early = samples.filter((s) => s.t >= opts.warmupS && s.t <= opts.warmupS + opts.windowS);
  const late = samples.filter((s) => s.t >= end - opts.windowS);
  const warm = samples.filter((s) => s.t >= opts.warmupS);
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.rss)))].sort();
  return names.flatMap((name): Growth[] => {
    const rssIn = (window: Sample[]) => window.flatMap((s) => s.rss[name] ?? []);
    const heapIn = (window: Sample[]) => window.flatMap((s) => s.heap?.[name] ?? []);
    const [rssBefore, rssAfter] = [rssIn(early), rssIn(late)];
    if (rssBefore.length === 0 || rssAfter.length === 0) return [];
    const [heapBefore, heapAfter] = [heapIn(early), heapIn(late)];
    const measure = heapBefore.length > 0 && heapAfter.length > 0 ? 'heap' : 'rss';
    const [baselineMb, endMb] =
      measure === 'heap' ? [Math.min(...heapBefore.map((h) => h.mb)), Math.min(...heapAfter.map((h) => h.mb))] : [median(rssBefore.map((r) => r.mb)), median(rssAfter.map((r) => r.mb))];
    const growthPercent = ((endMb - baselineMb) / baselineMb) * 100;
    const peakRssMb = Math.max(...rssIn(warm).map((r) => r.mb));
    const lookUp = (table?: Record<string, number>) => table?.[name] ?? table?.[name.replace(/-\d+$/, '')];
    const fillsToCap = lookUp(opts.ceilings);
    const ceilingMb = fillsToCap ?? lookUp(opts.limits);
    const restarted = new Set([...rssBefore, ...rssAfter].map((r) => r.pid)).size > 1;
    const growthBound = fillsToCap === undefined ? { percent: opts.percent, floorMb: opts.floorMb } : undefined;
    const grewOk = !growthBound || endMb - baselineMb <= Math.max((baselineMb * growthBound.percent) / 100, growthBound.floorMb);
    const ok = restarted || (grewOk && (ceilingMb === undefined || peakRssMb <= ceilingMb));
    return [{ name, measure, baselineMb, endMb, growthPercent, ...(growthBound ? { growthBound } : {}), peakRssMb, ...(ceilingMb !== undefined ? { ceilingMb } : {}), ok, ...(restarted ? { restarted } : {}) }];
  });
}
