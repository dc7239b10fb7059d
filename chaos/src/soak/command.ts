// `faultline soak`: rolling chaos on one stack for a set time. Steady order traffic runs throughout; every `--every`
// seconds a drill from the catalogue starts, picked at random from a seed, with its own fault and verifications; the
// resident memory of every process and the stores' disk use are sampled from start to end. It passes when every drill
// passed, no acknowledged order of the whole run was lost or duplicated, and memory stayed bounded once warm.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../core/errors.ts';
import { drillsDir } from '../core/paths.ts';
import { writableReportDir } from '../core/report-dir.ts';
import { sleep } from '../core/time.ts';
import { parseAcks, type Ack } from '../drill/k6.ts';
import { checkLedger, type LedgerCheck } from '../drill/ledger.ts';
import { runAndReport } from '../commands/drill.ts';
import { jaegerBudgetMb, replicaLimitMb } from '../platforms/local/configs.ts';
import { paths, serviceNames, type RuntimeOptions, type Topology } from '../platforms/local/layout.ts';
import { localPlatform } from '../platforms/local/platform.ts';
import { down, fetchStatus, status as stackStatus, up } from '../platforms/local/runtime.ts';
import { diskMb, heapMb, judgeGrowth, rssMb, type Growth, type Sample } from './memory.ts';
import { renderSoakReport } from './report.ts';
import { stopOnInterrupt } from '../core/interrupt.ts';

const leanDrills = ['catalog-outage', 'traffic-flood', 'kitchen-worker-kill', 'kitchen-worker-pause', 'kitchen-kafka-partition'];
/** The whole catalogue a topology can run: the failover drills need the HA topology's Sentinels and Kafka quorum. */
export const soakCatalogue = (topology: Topology) => (topology === 'ha' ? [...leanDrills, 'redis-primary-failover', 'kafka-leader-failover'] : leanDrills);

const soakFlags = z.strictObject({
  minutes: z.coerce.number().min(2, 'at least 2 minutes: a drill and a minute of warm-up').max(24 * 60, 'at most 24 hours').default(30),
  every: z.coerce.number().int().min(60, 'at least 60 s: a drill takes about a minute').max(3600).default(120),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
  growthPercent: z.coerce.number().positive().max(1000).default(10),
  reportDir: z.string().min(1).optional(),
});
export type SoakFlags = z.infer<typeof soakFlags> & { seed: number; reportDir: string };

/** Flags checked before anything starts: a bad one is exit 2, naming the flag. */
export function checkSoakFlags(flags: Record<string, unknown>, stateDir: string): SoakFlags {
  const parsed = soakFlags.safeParse(Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('\n'));
  const reportDir = writableReportDir(parsed.data.reportDir ?? join(stateDir, 'reports', 'soak'));
  return { ...parsed.data, seed: parsed.data.seed ?? Math.floor(Math.random() * 2 ** 31), reportDir };
}

/** Hand-written: a seeded pick is four lines (mulberry32), so that a soak's order of drills can be replayed. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Every acknowledgement k6 logged under a folder: the steady load's and each drill's (`<drill>/k6/*.console.log`). */
function acksUnder(dir: string): Ack[] {
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.console.log'));
  return files.flatMap((f) => parseAcks(readFileSync(join(dir, f), 'utf8')));
}

/**
 * Processes that grow by design up to a cap are judged against a ceiling, not growth: Jaeger keeps traces up to its
 * cap (its budget is the chart's limit), and Kafka's heap grows from -Xms256m to -Xmx512m (its ceiling adds the
 * ~110 MB of non-heap memory it starts with, and some margin).
 */
export const memoryCeilingsMb = { jaeger: jaegerBudgetMb, kafka: 700 };
/** A shop replica's resident memory stays within its pod's limit in the chart, besides not growing. */
export const replicaLimitsMb = Object.fromEntries(serviceNames.map((svc) => [svc, replicaLimitMb]));

export interface SoakDrill {
  name: string;
  startedAt: string;
  endedAt: string;
  verdict: string;
  failed: string[];
  ledger?: { accepted: number; lost: number; duplicated: number };
  report: string;
}

export interface SoakResult {
  startedAt: string;
  minutes: number;
  every: number;
  seed: number;
  topology: Topology;
  drills: SoakDrill[];
  /** Every acknowledged order of the run, the steady traffic's and the drills', reconciled at the end. */
  ledger: LedgerCheck;
  steadyRate: number;
  samples: Sample[];
  warmupS: number;
  growth: Growth[];
  passed: boolean;
}

const mm = (s: number) => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
const steadyRate = 5;
/** Growth a process may show whatever its size: a few MB of a 15 MB Redis are allocator noise, not a leak. */
const growthFloorMb = 16;

export async function runSoak(opts: RuntimeOptions, rawFlags: Record<string, unknown>): Promise<number> {
  const flags = checkSoakFlags(rawFlags, opts.stateDir);
  const ours = !(await stackStatus(opts));
  console.log(`▶ soak: ${flags.minutes} min, a drill every ${flags.every} s (seed ${flags.seed}); reports in ${flags.reportDir}`);
  // A stack the soak started is stopped however the soak ends (a failed drill, Ctrl-C); a running one is left up.
  const release = stopOnInterrupt(async () => ours && (await down(opts)));
  try {
    const status = await up(opts);
    return await soak(opts, flags, status.topology);
  } finally {
    release();
    if (ours) await down(opts);
  }
}

async function soak(opts: RuntimeOptions, flags: SoakFlags, topology: Topology): Promise<number> {
  const catalogue = soakCatalogue(topology);
  const random = seededRandom(flags.seed);
  const started = Date.now();
  const deadline = started + flags.minutes * 60_000;
  // Replicas' heaps grow for their first few minutes under drills, then stay flat: judged only after that.
  const warmupS = Math.min(180, (flags.minutes * 60) / 2);
  const windowS = Math.min(60, (flags.minutes * 60) / 5);
  const files = paths(opts.stateDir);

  const samples: Sample[] = [];
  const takeSample = async () => {
    const s = await fetchStatus(opts);
    if (!s) return;
    const procs = [...s.components.filter((c) => c.pid).map((c) => ({ name: c.name, pid: c.pid! })), { name: 'supervisor', pid: s.supervisor.pid }];
    const t = (Date.now() - started) / 1000;
    const rss: Sample['rss'] = {};
    for (const p of procs) {
      const mb = rssMb(p.pid);
      if (mb !== undefined) rss[p.name] = { mb, pid: p.pid };
    }
    const heap: NonNullable<Sample['heap']> = {};
    const replicas = s.components.filter((c) => c.kind === 'replica' && c.pid && c.health === 'ready');
    await Promise.all(
      replicas.map(async (c) => {
        const mb = await heapMb(c.url);
        if (mb !== undefined) heap[c.name] = { mb, pid: c.pid! };
      }),
    );
    const stores = s.components.filter((c) => /^(redis|kafka)(-\d)?$/.test(c.name)).map((c) => c.name);
    samples.push({ t, rss, heap, diskMb: Object.fromEntries(stores.map((name) => [name, diskMb(join(files.data, name))])) });
  };
  const progress = () => {
    const last = samples.at(-1);
    if (!last) return;
    const shop = Object.entries(last.rss).filter(([n]) => /^(gateway|catalog|orders|kitchen)-\d+$/.test(n)).map(([, r]) => r.mb);
    const js = Object.values(last.heap ?? {}).map((h) => h.mb);
    const jsRange = js.length ? ` (JavaScript ${Math.min(...js).toFixed(0)}–${Math.max(...js).toFixed(0)})` : '';
    const others = Object.entries(last.rss).filter(([n]) => !/^(gateway|catalog|orders|kitchen)-\d+$/.test(n)).map(([n, r]) => `${n} ${r.mb.toFixed(0)}`);
    const disk = Object.entries(last.diskMb).map(([n, mb]) => `${n} ${mb.toFixed(1)}`);
    console.log(`  [${mm(last.t)}] memory MB: shop replicas ${Math.min(...shop).toFixed(0)}–${Math.max(...shop).toFixed(0)}${jsRange}, ${others.join(', ')} | disk MB: ${disk.join(', ')}`);
  };
  await takeSample();
  const sampler = setInterval(() => void takeSample(), 5000);
  const printer = setInterval(progress, 30_000);

  const platform = localPlatform({ portBase: opts.portBase, stateDir: opts.stateDir, workDir: join(flags.reportDir, 'steady') });
  const steady = await platform.startLoad(
    { script: 'orders.js', executor: 'constant-arrival-rate', rate: steadyRate, duration: flags.minutes * 60_000, maxVUs: 20, apiKey: 'load' },
    { name: 'steady', run: `soak-${started.toString(36)}`, drill: 'soak' },
  );
  console.log(`  steady traffic: ${steadyRate} orders/s from the \`load\` client for the whole soak (${steady.label})`);

  const drills: SoakDrill[] = [];
  try {
    // A drill takes about a minute and a half with its recovery: none starts that could not end before the deadline.
    while (Date.now() + 100_000 < deadline) {
      const slotEnd = Date.now() + flags.every * 1000;
      const name = catalogue[Math.floor(random() * catalogue.length)]!;
      console.log(`\n▶ [${mm((Date.now() - started) / 1000)}] drill ${drills.length + 1}: ${name}`);
      const { journal, dir } = await runAndReport(join(drillsDir, `${name}.yaml`), opts, { platform: 'local' }, join(flags.reportDir, 'drills', String(drills.length + 1).padStart(2, '0')));
      const l = journal.ledger;
      drills.push({
        name,
        startedAt: journal.startedAt,
        endedAt: journal.endedAt,
        verdict: journal.verdict,
        failed: journal.verifications.filter((v) => !v.ok).map((v) => `${v.name}: expected ${v.expected}; observed ${v.observed}`),
        ...(l ? { ledger: { accepted: l.accepted, lost: l.lost, duplicated: l.duplicated } } : {}),
        report: join(dir, 'report.html'),
      });
      while (Date.now() < Math.min(slotEnd, deadline)) await sleep(Math.min(1000, Math.max(0, Math.min(slotEnd, deadline) - Date.now())));
    }
    while (Date.now() < deadline) await sleep(Math.min(1000, deadline - Date.now()));
  } finally {
    clearInterval(sampler);
    clearInterval(printer);
    await steady.stop();
    await steady.done().catch(() => undefined);
  }
  await takeSample();
  progress();

  // One ledger over the whole run: every order a client saw acknowledged, the steady traffic's and every drill's.
  const acks = acksUnder(flags.reportDir);
  console.log(`\n▶ reconciling all ${acks.length} acknowledgements of the run with the ledger`);
  const reader = await platform.ledger();
  let ledger: LedgerCheck;
  try {
    ledger = await checkLedger(reader, acks, { clients: ['local', 'load'], since: started, drainMs: 60_000 });
  } finally {
    await reader.close();
  }
  const growth = judgeGrowth(samples, { warmupS, windowS, percent: flags.growthPercent, floorMb: growthFloorMb, limits: replicaLimitsMb, ceilings: memoryCeilingsMb });
  const passed = drills.length > 0 && drills.every((d) => d.verdict === 'pass') && ledger.lost === 0 && ledger.duplicated === 0 && growth.every((g) => g.ok);
  const result: SoakResult = { startedAt: new Date(started).toISOString(), minutes: flags.minutes, every: flags.every, seed: flags.seed, topology, drills, ledger, steadyRate, samples, warmupS, growth, passed };
  writeFileSync(join(flags.reportDir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(flags.reportDir, 'report.html'), renderSoakReport(result));
  printSummary(result, flags.reportDir);
  return passed ? 0 : 1;
}

/** One process's memory verdict in words: its growth and its bound, and its peak against its ceiling. */
export function describeGrowth(g: Growth): string {
  const grew = `${g.measure === 'heap' ? 'JavaScript' : 'resident'} ${g.baselineMb.toFixed(0).padStart(4)} → ${g.endMb.toFixed(0).padStart(4)} MB (${g.growthPercent >= 0 ? '+' : ''}${g.growthPercent.toFixed(1)}%${g.growthBound ? `; ≤ ${g.growthBound.percent}% or ${g.growthBound.floorMb} MB` : ''})`;
  const peak = g.ceilingMb !== undefined ? `, resident at most ${g.peakRssMb.toFixed(0)} MB (≤ ${g.ceilingMb} MB)` : '';
  return `${grew}${peak}${g.restarted ? ': restarted by a drill, not judged' : ''}`;
}

function printSummary(r: SoakResult, dir: string) {
  console.log(`\n▶ ${r.passed ? 'PASS' : 'FAIL'}: soak of ${r.minutes} min, ${r.drills.length} drills (seed ${r.seed})`);
  for (const d of r.drills) console.log(`  ${d.verdict === 'pass' ? '✔' : '✘'} ${d.name}${d.ledger ? `  ${d.ledger.accepted} acknowledged, ${d.ledger.lost} lost, ${d.ledger.duplicated} duplicated` : ''}${d.failed.length ? `\n      ${d.failed.join('\n      ')}` : ''}`);
  const l = r.ledger;
  console.log(`  ${l.lost === 0 && l.duplicated === 0 ? '✔' : '✘'} the whole run's ledger: ${l.accepted} acknowledged, ${l.completed} completed, ${l.lost} lost, ${l.duplicated} duplicated`);
  console.log(`  memory after ${mm(r.warmupS)} of warm-up (the first minute after it against the last; JavaScript memory at its lowest, resident memory's median):`);
  for (const g of r.growth) console.log(`  ${g.ok ? '✔' : '✘'} ${g.name.padEnd(12)} ${describeGrowth(g)}`);
  console.log(`  report: ${join(dir, 'report.html')} (soak.json beside it)`);
}
