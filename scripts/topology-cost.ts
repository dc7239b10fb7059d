// What the HA topology costs against the lean default, side by side in one run: each brought up on the same ports in
// turn, left idle to settle, then the resident memory and CPU of every process it runs (and the supervisor) over the
// same window. Usage: npm run bench:topology [-- --report-dir DIR]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds } from '../chaos/src/bench/step.ts';
import { projectRoot } from '../chaos/src/core/paths.ts';
import { sleep } from '../chaos/src/core/time.ts';
import { defaultOptions, type Topology } from '../chaos/src/platforms/local/layout.ts';
import { down, up } from '../chaos/src/platforms/local/runtime.ts';

const values = (() => {
  try {
    return parseArgs({ options: { 'report-dir': { type: 'string', default: join(projectRoot, '.faultline/reports/topology-cost') } } }).values;
  } catch (err) {
    console.error(`bench:topology: ${(err as Error).message}`);
    process.exit(2);
  }
})();
const reportDir = values['report-dir']!;
mkdirSync(reportDir, { recursive: true });
const settleMs = 20_000;
const windowMs = 30_000;

const residentMiB = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
/** Redis nodes and Sentinels, Kafka, the four services' replicas, and the rest (Prometheus, Jaeger, Toxiproxy, the supervisor). */
const groupOf = (name: string) => (/^(redis|sentinel)/.test(name) ? 'redis and sentinels' : /^kafka(-\d)?$/.test(name) ? 'kafka' : /-\d+$/.test(name) ? 'shop replicas' : 'observability, toxiproxy, supervisor');

interface Cost {
  topology: Topology;
  processes: number;
  residentMiB: Record<string, number>;
  cores: Record<string, number>;
}

async function measure(topology: Topology): Promise<Cost> {
  // Below Linux's ephemeral ports (32768 and up), so no outgoing connection can hold a port the stack listens on.
  const opts = { ...defaultOptions(), topology, portBase: 25400, stateDir: join(reportDir, `stack-${topology}`) };
  console.log(`▶ ${topology}: bringing the stack up on port base ${opts.portBase}`);
  const stack = await up(opts, () => undefined);
  try {
    const pids = [...stack.components.map((c) => ({ name: c.name, pid: c.pid! })), { name: 'supervisor', pid: stack.supervisor.pid }];
    console.log(`  ${pids.length} processes; idle ${settleMs / 1000} s to settle, then ${windowMs / 1000} s measured`);
    await sleep(settleMs);
    const before = pids.map((p) => cpuSeconds(p.pid) ?? 0);
    await sleep(windowMs);
    const cost: Cost = { topology, processes: pids.length, residentMiB: {}, cores: {} };
    pids.forEach((p, i) => {
      const group = groupOf(p.name);
      cost.residentMiB[group] = (cost.residentMiB[group] ?? 0) + residentMiB(p.pid);
      cost.cores[group] = (cost.cores[group] ?? 0) + ((cpuSeconds(p.pid) ?? 0) - before[i]!) / (windowMs / 1000);
    });
    return cost;
  } finally {
    await down(opts, () => undefined);
  }
}

const costs = [await measure('lean'), await measure('ha')];
const groups = [...new Set(costs.flatMap((c) => Object.keys(c.residentMiB)))];
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const row = (label: string, pick: (c: Cost) => number, digits: number) => `| ${label} | ${costs.map((c) => pick(c).toFixed(digits)).join(' | ')} |`;
const lines = [
  `| idle, ${windowMs / 1000} s | ${costs.map((c) => c.topology).join(' | ')} |`,
  `|---|${costs.map(() => '---').join('|')}|`,
  row('processes', (c) => c.processes, 0),
  ...groups.map((g) => row(`resident MiB: ${g}`, (c) => c.residentMiB[g] ?? 0, 0)),
  row('**resident MiB, all**', (c) => total(c.residentMiB), 0),
  ...groups.map((g) => row(`cores: ${g}`, (c) => c.cores[g] ?? 0, 3)),
  row('**cores, all**', (c) => total(c.cores), 3),
];
console.log(lines.join('\n'));
writeFileSync(join(reportDir, 'topology-cost.json'), JSON.stringify({ measuredAt: new Date().toISOString(), settleMs, windowMs, costs }, null, 2));
console.log(`figures: ${join(reportDir, 'topology-cost.json')}`);
